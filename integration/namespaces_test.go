package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsOf reads /proc/<pid>/ns/<name>.
func nsOf(t *testing.T, pid int, name string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
	if err != nil {
		t.Fatalf("namespace %s of %d: %v", name, pid, err)
	}
	return l
}

// testNetns makes a network namespace with `ip netns add` and returns its
// path; it is removed with the test.
func testNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	name := fmt.Sprintf("runw-test-%d", time.Now().UnixNano()%1e9)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return "/var/run/netns/" + name
}

// testNetnsLoUp is testNetns with its loopback up, for guests that talk
// to themselves on 127.0.0.1.
func testNetnsLoUp(t *testing.T) string {
	t.Helper()
	netns := testNetns(t)
	if out, err := exec.Command("ip", "-n", filepath.Base(netns), "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	return netns
}

func podLikeNamespaces(netns string) []specs.LinuxNamespace {
	return []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
		{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
		{Type: specs.NetworkNamespace, Path: netns},
	}
}

// checkNamespaces asserts what the spec asked of the process: a new
// namespace for each entry without a path, the named one for each with a
// path, the host's for every type not listed.
func checkNamespaces(t *testing.T, who string, pid int, want []specs.LinuxNamespace) {
	t.Helper()
	names := map[specs.LinuxNamespaceType]string{
		specs.PIDNamespace: "pid", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.MountNamespace: "mnt",
		specs.CgroupNamespace: "cgroup", specs.NetworkNamespace: "net", specs.UserNamespace: "user",
	}
	listed := map[string]specs.LinuxNamespace{}
	for _, n := range want {
		listed[names[n.Type]] = n
	}
	for _, name := range names {
		got, host := nsOf(t, pid, name), nsOf(t, os.Getpid(), name)
		n, ok := listed[name]
		switch {
		case !ok && got != host:
			t.Errorf("%s: %s namespace %s, want the host's %s", who, name, got, host)
		case ok && n.Path == "" && got == host:
			t.Errorf("%s: %s namespace is the host's, want a new one", who, name)
		case ok && n.Path != "":
			var st1, st2 os.FileInfo
			st1, _ = os.Stat(n.Path)
			st2, _ = os.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
			if st1 == nil || st2 == nil || !os.SameFile(st1, st2) {
				t.Errorf("%s: %s namespace %s, want the one at %s", who, name, got, n.Path)
			}
		}
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "NSpid:" && listed["pid"].Type != "" && f[len(f)-1] != "1" {
			t.Errorf("%s: %s, want pid 1 in its pid namespace", who, l)
		}
	}
}

// The init enters exactly the namespaces config.json names, as runc's
// container process does for the same namespaces, and `runw exec` enters
// the same ones.
func TestNamespacesAsTheSpecSays(t *testing.T) {
	netns := testNetns(t)
	want := podLikeNamespaces(netns)
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "30s")
	b.edit(func(s *specs.Spec) {
		s.Hostname = "wasmbox"
		s.Linux = &specs.Linux{Namespaces: want, Sysctl: map[string]string{"net.ipv4.ip_forward": "1"}}
	})
	bg, pid := runInBackground(t, r, b, "ns")
	checkNamespaces(t, "runw", pid, want)
	// Restricting every thread (no_new_privs, Landlock) must reach every
	// thread in a pid namespace too, not only the one that asked.
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if !strings.Contains(string(st), "NoNewPrivs:\t1") {
			t.Errorf("thread %s of the init has no no_new_privs: every thread must be restricted", task.Name())
		}
	}
	if out, err := exec.Command("nsenter", "-t", fmt.Sprint(pid), "-u", "hostname").Output(); err != nil || strings.TrimSpace(string(out)) != "wasmbox" {
		t.Errorf("hostname in the container's uts namespace: %q (%v), want wasmbox", out, err)
	}
	if out, err := exec.Command("ip", "netns", "exec", filepath.Base(netns), "cat", "/proc/sys/net/ipv4/ip_forward").Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Errorf("net.ipv4.ip_forward in the container's netns: %q (%v), want 1", out, err)
	}

	// exec: the new process is in every namespace of the init.
	ex := r.start("exec", "ns", "/probe.wasm", "sleep", "30s")
	defer ex.cmd.Process.Kill()
	var execPid int
	for deadline := time.Now().Add(20 * time.Second); execPid == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var procs []int
		if json.Unmarshal([]byte(r.run("ps", "--format", "json", "ns").stdout), &procs) == nil {
			for _, p := range procs {
				if p != pid {
					execPid = p
				}
			}
		}
	}
	if execPid == 0 {
		t.Fatal("the exec'd process never appeared in ps")
	}
	for _, name := range []string{"pid", "ipc", "uts", "mnt", "cgroup", "net", "user"} {
		if a, b := nsOf(t, pid, name), nsOf(t, execPid, name); a != b {
			t.Errorf("exec'd process %s namespace %s, the init's %s", name, b, a)
		}
	}
	r.killRun(t, bg, "ns", 20*time.Second)
	r.mustRun("delete", "--force", "ns")

	// runc, for the same namespaces, gives its container process the same.
	runcNamespaces(t, want)
}

// runcNamespaces runs busybox sleep under runc with the namespaces and
// checks them the same way.
func runcNamespaces(t *testing.T, want []specs.LinuxNamespace) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Log("no runc on PATH: comparison skipped")
		return
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Log("no /bin/busybox: comparison skipped")
		return
	}
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755)
	if err := copyFile("/bin/busybox", filepath.Join(rootfs, "bin/busybox")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(rootfs, "bin/busybox"), 0o755)
	s := defaultSpec("/bin/busybox", "sleep", "30")
	s.Hostname = "wasmbox"
	s.Linux = &specs.Linux{Namespaces: want}
	s.Mounts = []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}}
	data, _ := json.Marshal(&s)
	os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
	root := t.TempDir()
	id := fmt.Sprintf("runw-ns-%d", time.Now().UnixNano()%1e9)
	// The container keeps runc create's stdio: a file, not a pipe that
	// would never reach EOF.
	logf, err := os.CreateTemp(t.TempDir(), "runc-out")
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(runc, "--root", root, "create", "--bundle", dir, id)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(logf.Name())
		t.Fatalf("runc create: %v: %s", err, out)
	}
	defer exec.Command(runc, "--root", root, "delete", "--force", id).Run()
	out, err := exec.Command(runc, "--root", root, "state", id).Output()
	if err != nil {
		t.Fatalf("runc state: %v", err)
	}
	var st struct{ Pid int }
	json.Unmarshal(out, &st)
	checkNamespaces(t, "runc", st.Pid, want)
}

// A container without namespace entries stays in the host's: nothing is
// made that the spec did not ask for.
func TestNoNamespacesStaysOnTheHost(t *testing.T) {
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "30s")
	bg, pid := runInBackground(t, r, b, "hostns")
	checkNamespaces(t, "runw", pid, nil)
	r.killRun(t, bg, "hostns", 20*time.Second)
}

// A new user namespace gets the spec's mappings; the guest runs as root of
// that namespace, which is nobody on the host.
func TestUserNamespaceMappings(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to map ids into a new user namespace")
	}
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "30s")
	b.edit(func(s *specs.Spec) {
		s.Linux = userNamespaceLinux()
		s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"}}
	})
	// The init is host uid 200000: the bundle must be reachable by it, as
	// an engine's bundle for a user-namespaced container is (t.TempDir
	// makes 0700 directories).
	traversable(t, b.dir)
	bg, pid := runInBackground(t, r, b, "userns")
	uidMap, _ := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if f := strings.Fields(string(uidMap)); len(f) != 3 || f[0] != "0" || f[1] != "200000" || f[2] != "65536" {
		t.Errorf("uid_map %q, want 0 200000 65536", uidMap)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if !strings.Contains(string(status), "Uid:\t200000\t200000\t200000\t200000") {
		t.Errorf("the init is not host uid 200000:\n%s", status)
	}
	// An exec'd process joins the same user and mount namespaces (its
	// constructor opens both before joining either: the container's /proc
	// shows no host pid).
	res := r.run("exec", "userns", "/probe.wasm", "echo", "exec in a user namespace")
	if res.code != 0 || !strings.Contains(res.stdout, "exec in a user namespace") {
		t.Errorf("exec into a container with its own user and mount namespaces: %v", res)
	}
	r.killRun(t, bg, "userns", 30*time.Second)

	// And a guest there reads its rootfs and writes its tmpfs.
	b2 := newBundle(t, "probe", "write", "/tmp/x", "in a user namespace", "cat", "/tmp/x")
	b2.edit(func(s *specs.Spec) { s.Linux, s.Mounts = b.spec.Linux, b.spec.Mounts })
	traversable(t, b2.dir)
	res = r.run("run", "-b", b2.dir, "userns2")
	if res.code != 0 || !strings.Contains(res.stdout, "in a user namespace") {
		t.Errorf("guest in a user namespace: %v", res)
	}
}

// A container that joins another's user namespace by path (a pod with
// podman --uidmap or --userns keep-id, --userns container:X, a Kubernetes
// pod with hostUsers: false) and makes its own mount, pid, ipc and uts
// namespaces, each owned by that user namespace as runc's nsexec makes
// them: made by the clone before the join, they were owned by runw's (the
// host's), where the container's root has no privilege, and create failed
// on "make the container's mounts slaves: operation not permitted" (with a
// new network namespace: "bring up lo").
func TestUserNamespaceJoinedByPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to map ids into a new user namespace")
	}
	r := newRunw(t)
	owner := newBundle(t, "probe", "sleep", "60s")
	owner.edit(func(s *specs.Spec) {
		s.Linux = userNamespaceLinux()
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	})
	traversable(t, owner.dir)
	ownerBg, ownerPid := runInBackground(t, r, owner, "userns-owner")
	defer r.killRun(t, ownerBg, "userns-owner", 30*time.Second)

	joiner := func(network specs.LinuxNamespace, args ...string) *bundle {
		b := newBundle(t, "probe", args...)
		b.edit(func(s *specs.Spec) {
			s.Hostname = "joiner"
			s.Linux = userNamespaceLinux()
			s.Linux.Namespaces = []specs.LinuxNamespace{
				{Type: specs.UserNamespace, Path: fmt.Sprintf("/proc/%d/ns/user", ownerPid)},
				network,
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
				{Type: specs.CgroupNamespace},
			}
			s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"}}
			// Kubernetes sets one on every container: the init, in the
			// joined namespace, cannot write its own.
			adj := 500
			s.Process.OOMScoreAdj = &adj
		})
		traversable(t, b.dir)
		return b
	}
	// Its loopback up in a network namespace of its own, the guest's
	// tmpfs writable by its root.
	res := r.run("run", "-b", joiner(specs.LinuxNamespace{Type: specs.NetworkNamespace}, "write", "/tmp/x", "joined", "cat", "/tmp/x").dir, "userns-joiner1")
	if res.code != 0 || !strings.Contains(res.stdout, "joined") {
		t.Fatalf("a container joining a user namespace by path, with a new network namespace: %v", res)
	}

	b := joiner(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: fmt.Sprintf("/proc/%d/ns/net", ownerPid)}, "sleep", "60s")
	bg, pid := runInBackground(t, r, b, "userns-joiner")
	if got, want := nsOf(t, pid, "user"), nsOf(t, ownerPid, "user"); got != want {
		t.Errorf("user namespace %s, want the owner's %s", got, want)
	}
	if got, want := nsOf(t, pid, "net"), nsOf(t, ownerPid, "net"); got != want {
		t.Errorf("network namespace %s, want the owner's %s", got, want)
	}
	// The pid runw reports proxies for the init, pid 1 of the new pid
	// namespace (runtime/nsenter's enter_pid_namespace).
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	f := strings.Fields(string(kids))
	if len(f) != 1 {
		t.Fatalf("children of the container's pid %d: %q, want the init alone", pid, kids)
	}
	init, _ := strconv.Atoi(f[0])
	want := []specs.LinuxNamespace{
		{Type: specs.UserNamespace, Path: fmt.Sprintf("/proc/%d/ns/user", ownerPid)},
		{Type: specs.NetworkNamespace, Path: fmt.Sprintf("/proc/%d/ns/net", ownerPid)},
		{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
		{Type: specs.CgroupNamespace},
	}
	checkNamespaces(t, "init behind the proxy", init, want)
	if adj, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", init)); strings.TrimSpace(string(adj)) != "500" {
		t.Errorf("the init's oom_score_adj %q, want the spec's 500", adj)
	}
	for _, name := range []string{"mnt", "pid", "ipc", "uts", "net"} {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", init, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		ownerFd, err := unix.IoctlRetInt(fd, unix.NS_GET_USERNS)
		unix.Close(fd)
		if err != nil {
			t.Fatalf("owner of the %s namespace: %v", name, err)
		}
		var st, want unix.Stat_t
		unix.Fstat(ownerFd, &st)
		unix.Close(ownerFd)
		unix.Stat(fmt.Sprintf("/proc/%d/ns/user", ownerPid), &want)
		if st.Ino != want.Ino {
			t.Errorf("the %s namespace is owned by user namespace %d, want the joined one (%d)", name, st.Ino, want.Ino)
		}
	}
	if out, err := exec.Command("nsenter", "-t", fmt.Sprint(init), "-u", "hostname").Output(); err != nil || strings.TrimSpace(string(out)) != "joiner" {
		t.Errorf("hostname in the container's uts namespace: %q (%v), want joiner", out, err)
	}
	// exec enters the init's pid namespace, not the proxy's, and its
	// cgroup namespace (made before the proxy forks, so that it is the
	// proxy's too).
	res = r.run("exec", "userns-joiner", "/probe.wasm", "echo", "exec beside a joined user namespace")
	if res.code != 0 || !strings.Contains(res.stdout, "exec beside a joined user namespace") {
		t.Errorf("exec: %v", res)
	}
	execPid := r.execDetached("userns-joiner", "/probe.wasm", "sleep", "60s")
	for _, name := range []string{"pid", "cgroup", "mnt", "user"} {
		if got, want := nsOf(t, execPid, name), nsOf(t, init, name); got != want {
			t.Errorf("exec'd process: %s namespace %s, want the init's %s", name, got, want)
		}
	}
	// Another container named by the pid its engine was told (podman's
	// --pid container:X): the container's pid namespace, not the proxy's
	// (the host's).
	sharer := joiner(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: fmt.Sprintf("/proc/%d/ns/net", ownerPid)}, "sleep", "60s")
	sharer.edit(func(s *specs.Spec) {
		for i, n := range s.Linux.Namespaces {
			if n.Type == specs.PIDNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", pid)
			}
		}
	})
	sharerBg, sharerPid := runInBackground(t, r, sharer, "userns-pid-sharer")
	if got, want := nsOf(t, sharerPid, "pid"), nsOf(t, init, "pid"); got != want {
		t.Errorf("a container given the proxy's /proc/%d/ns/pid: pid namespace %s, want the container's %s", pid, got, want)
	}
	r.killRun(t, sharerBg, "userns-pid-sharer", 30*time.Second)
	// So is a native one, handed to runc (a debug sidecar): given the
	// proxy's path unchanged, runc put it in the host's pid namespace.
	if busybox := engStaticBusybox(); busybox != "" {
		if _, err := exec.LookPath("runc"); err == nil {
			dir, _ := busyboxBundle(t, busybox, func(s *specs.Spec) {
				s.Process.Args = []string{"/bin/busybox", "readlink", "/proc/self/ns/pid"}
				for i, n := range s.Linux.Namespaces {
					if n.Type == specs.PIDNamespace {
						s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", pid)
					}
				}
			})
			res := r.run("run", "-b", dir, "userns-native-sharer")
			if want := nsOf(t, init, "pid"); res.code != 0 || strings.TrimSpace(res.stdout) != want {
				t.Errorf("a native container given the proxy's /proc/%d/ns/pid: %v, want it in %s", pid, res, want)
			}
		}
	}
	// SIGSTOP, which the proxy cannot pass on, stops the init too.
	r.mustRun("kill", "userns-joiner", "STOP")
	stopped := false
	for deadline := time.Now().Add(5 * time.Second); !stopped && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", init))
		stopped = strings.Contains(string(st), "State:\tT")
	}
	if !stopped {
		t.Error("kill STOP: the init behind the proxy is not stopped")
	}
	r.mustRun("kill", "userns-joiner", "CONT")
	res = r.run("ps", "--format", "json", "userns-joiner")
	var pids []int
	if err := json.Unmarshal([]byte(res.stdout), &pids); err != nil || !slices.Contains(pids, pid) || !slices.Contains(pids, init) {
		t.Errorf("runw ps: %v (%v), want the proxy %d and the init %d", res, err, pid, init)
	}
	// kill --all TERM: an exec'd process gets the signal, not the
	// SIGKILL of the init's end. The init, the proxy's child, is in the
	// cgroup too, and is signalled through the proxy, after the others.
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	execBg := r.start("exec", "--pid-file", pidFile, "userns-joiner", "/probe.wasm", "sleep", "1h")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the exec did not start")
		}
	}
	r.mustRun("kill", "--all", "userns-joiner", "TERM")
	if res := execBg.wait(t, 30*time.Second); res.code != 143 {
		t.Errorf("kill --all TERM: the exec'd process ended with %v, want 143", res)
	}
	if res := bg.wait(t, 30*time.Second); res.code != 143 {
		t.Errorf("SIGTERM to the container: run exited %d, want 143: %v", res.code, res)
	}
}

// A container with a user namespace of its own that joins the pid
// namespace of another user namespace's container (podman --userns=auto
// --pid container:X) cannot mount that namespace's /proc: the kernel
// wants CAP_SYS_ADMIN in its owner. runc refuses it; runw went on with
// the host's /proc, where the init's thread-wide changes listed host tids
// and missed its own threads (9 of 11 kept every capability, no
// no_new_privs), Landlock was left out, and the container's /proc showed
// the host's processes. Refused now, with nothing left behind.
func TestForeignPidNamespaceWithOwnUserNamespaceIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to map ids into a new user namespace")
	}
	r := newRunw(t)
	owner := newBundle(t, "probe", "sleep", "60s")
	owner.edit(func(s *specs.Spec) { s.Linux = userNamespaceLinux() })
	traversable(t, owner.dir)
	ownerBg, ownerPid := runInBackground(t, r, owner, "pidns-owner")
	defer r.killRun(t, ownerBg, "pidns-owner", 30*time.Second)

	b := newBundle(t, "probe", "echo", "in a foreign pid namespace")
	b.edit(func(s *specs.Spec) {
		s.Linux = userNamespaceLinux()
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
		s.Linux.GIDMappings = s.Linux.UIDMappings
		for i, n := range s.Linux.Namespaces {
			if n.Type == specs.PIDNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", ownerPid)
			}
		}
	})
	traversable(t, b.dir)
	res := r.run("run", "-b", b.dir, "pidns-foreign")
	if res.code != 1 || !strings.Contains(res.stderr, `error mounting "proc" to rootfs at "/proc"`) {
		t.Errorf("a user namespace of its own in another's pid namespace: %v; want exit 1 and runc's error", res)
	}
	oneLine(t, "error", res.stderr)
	if _, _, ok := r.state("pidns-foreign"); ok {
		t.Error("the refused create left a container")
	}
}

// A process.user the user namespace does not map is refused in runc's
// words, where the init's setresuid gave a bare "invalid argument", and
// the failed create leaves no container behind. A gid is checked as well.
// So is a user namespace whose mappings leave out the container's root
// (runw gives it the exec fifo and tmpfs mounts, as runc does): create
// failed late, on the /dev tmpfs's "uid=0: invalid argument", or for a
// rootless caller on "chown exec fifo".
func TestUserNamespaceUnmappedUserIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to map ids into a new user namespace")
	}
	r := newRunw(t)
	for _, c := range []struct {
		user specs.User
		want string
	}{
		{specs.User{UID: 70000, GID: 0}, "cannot set uid to unmapped user in user namespace"},
		{specs.User{UID: 5, GID: 70000}, "cannot set gid to unmapped user in user namespace"},
	} {
		b := newBundle(t, "probe", "echo", "mapped")
		b.edit(func(s *specs.Spec) {
			s.Linux = userNamespaceLinux()
			s.Process.User = c.user
		})
		traversable(t, b.dir)
		res := r.run("run", "-b", b.dir, "unmapped")
		if res.code != 1 || !strings.Contains(res.stderr, c.want) || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
			t.Errorf("run as %d:%d, unmapped: %v; want exit 1 and one line %q", c.user.UID, c.user.GID, res, c.want)
		}
		if _, _, ok := r.state("unmapped"); ok {
			t.Errorf("run as %d:%d, unmapped: the failed create left a container", c.user.UID, c.user.GID)
		}
	}
	noRoot := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 201000, Size: 1}}
	for _, c := range []struct {
		uids, gids []specs.LinuxIDMapping
		want       string
	}{
		{noRoot, userNamespaceLinux().GIDMappings, "User namespaces enabled, but no user mapping found."},
		{userNamespaceLinux().UIDMappings, noRoot, "User namespaces enabled, but no group mapping found."},
	} {
		b := newBundle(t, "probe", "echo", "mapped")
		b.edit(func(s *specs.Spec) {
			s.Linux = userNamespaceLinux()
			s.Linux.UIDMappings, s.Linux.GIDMappings = c.uids, c.gids
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			// As podman and containerd send it: the tmpfs failed first.
			s.Mounts = []specs.Mount{{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}}}
		})
		traversable(t, b.dir)
		res := r.run("run", "-b", b.dir, "unmapped-root")
		if res.code != 1 || strings.TrimSpace(res.stderr) != c.want {
			t.Errorf("run with root unmapped (uids %v, gids %v): %v; want exit 1 and the one line %q", c.uids, c.gids, res, c.want)
		}
		if _, _, ok := r.state("unmapped-root"); ok {
			t.Error("run with root unmapped: the failed create left a container")
		}
	}
	// A mapped user still runs.
	b := newBundle(t, "probe", "echo", "mapped")
	b.edit(func(s *specs.Spec) {
		s.Linux = userNamespaceLinux()
		s.Process.User = specs.User{UID: 5, GID: 5}
	})
	traversable(t, b.dir)
	if res := r.run("run", "-b", b.dir, "mapped"); res.code != 0 || !strings.Contains(res.stdout, "mapped") {
		t.Errorf("run as 5:5, mapped: %v", res)
	}
}

// In a new user namespace the init is nobody on the host, yet a bind
// mount's source below a directory only root may search (podman's 0700
// volumes/<name>, a host directory under /root) is the container's, as
// runc opens its sources before its init enters the namespace: create
// failed with "permission denied". The grants are also attached in the
// container's root (what podman cp and exec see), and exec works from
// another mount namespace than create's, as podman runs them for a
// container with a user namespace: it failed there on the private tmpfs.
func TestUserNamespaceGrantsBehindRootOnlyDirs(t *testing.T) {
	needsRoot(t, "maps ids into a new user namespace")
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	// Not under t.TempDir(), whose parent traversable opens up below.
	private, err := os.MkdirTemp("", "runw-private-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(private) })
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(private, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "f.txt"), []byte("behind a 0700 directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(private, "file.txt")
	if err := os.WriteFile(file, []byte("a file bind"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRunw(t)
	b := newBundle(t, "probe", "cat", "/data/f.txt", "cat", "/file.txt", "write", "/tmp/x", "in the tmpfs", "sleep", "60s")
	b.edit(func(s *specs.Spec) {
		s.Linux = userNamespaceLinux()
		s.Mounts = []specs.Mount{
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "ro"}},
			{Destination: "/file.txt", Type: "bind", Source: file, Options: []string{"bind"}},
		}
	})
	traversable(t, b.dir)
	// create (run) in a mount namespace of its own, as podman does it.
	wrapper := filepath.Join(t.TempDir(), "runw-unshared")
	script := fmt.Sprintf("#!/bin/sh\nexec unshare --mount --propagation private %s \"$@\"\n", runwBin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	unshared := &runw{t: t, root: r.root, out: r.out, bin: wrapper}
	bg := unshared.start("run", "-b", b.dir, "grants")
	st, err := r.pollStatus("grants", "running", 180*time.Second)
	if err != nil {
		t.Fatalf("%v: %v", err, bg.wait(t, 10*time.Second))
	}
	// The guest's output is there once it sleeps.
	var out []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out, _ = os.ReadFile(bg.stdout.Name()); strings.Contains(string(out), "OK") {
			break
		}
	}
	if want := "behind a 0700 directorya file bindOK\n"; string(out) != want {
		t.Errorf("guest output %q, want %q", out, want)
	}
	// The container's root, as engines see it, has the grants.
	got, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/data/f.txt", st.Pid))
	if err != nil || string(got) != "behind a 0700 directory" {
		t.Errorf("/data/f.txt in the container's root: %q, %v", got, err)
	}
	if got, err = os.ReadFile(fmt.Sprintf("/proc/%d/root/tmp/x", st.Pid)); err != nil || string(got) != "in the tmpfs" {
		t.Errorf("/tmp/x in the container's root: %q, %v", got, err)
	}
	// exec from the host's mount namespace, not create's.
	res := r.run("exec", "grants", "/probe.wasm", "cat", "/data/f.txt", "cat", "/tmp/x", "write", "/data/y", "no")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "behind a 0700 directoryin the tmpfs") || !strings.Contains(res.stdout, "ead-only file system") {
		t.Errorf("exec: %v", res)
	}
	r.killRun(t, bg, "grants", 30*time.Second)
}

// TestUserNamespaceGrantOfAnUnreadableDir: with a user namespace, a bind
// mount of a directory the container's root may not read (root's 0700
// directory on the host, podman -v under --userns=auto) is mounted and the
// container starts, as under runc; the guest meets EACCES when it reads
// the directory or a file in it. runw's create failed instead ("grant the
// container's files: open ... permission denied", podman exit 126): the
// init, nobody on the host, opened the grant for reading. exec too.
func TestUserNamespaceGrantOfAnUnreadableDir(t *testing.T) {
	needsRoot(t, "maps ids into a new user namespace")
	locked, err := os.MkdirTemp("", "runw-locked-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(locked) })
	if err := os.Chmod(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(locked, "f.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRunw(t)
	b := newBundle(t, "probe", "echo", "started", "cat", "/data/f.txt", "ls", "/data", "stat", "/data", "exit", "3")
	b.edit(func(s *specs.Spec) {
		s.Linux = userNamespaceLinux()
		s.Mounts = []specs.Mount{{Destination: "/data", Type: "bind", Source: locked, Options: []string{"rbind"}}}
	})
	traversable(t, b.dir)
	res := r.run("run", "-b", b.dir, "locked")
	want := "started\nERR open /data/f.txt: Permission denied\nERR open /data: Permission denied\nOK\n"
	if res.code != 3 || res.stdout != want {
		t.Fatalf("run: exit %d, stdout %q, stderr %q; want exit 3 and %q (the guest meets EACCES, as under runc)", res.code, res.stdout, res.stderr, want)
	}
	b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/probe.wasm", "sleep", "60s"} })
	bg := r.start("run", "-b", b.dir, "locked3")
	if _, err := r.pollStatus("locked3", "running", 180*time.Second); err != nil {
		t.Fatalf("%v: %v", err, bg.wait(t, 10*time.Second))
	}
	res = r.run("exec", "locked3", "/probe.wasm", "cat", "/data/f.txt", "exit", "4")
	if res.code != 4 || res.stdout != "ERR open /data/f.txt: Permission denied\n" {
		t.Errorf("exec: exit %d, stdout %q, stderr %q; want exit 4 and EACCES", res.code, res.stdout, res.stderr)
	}
	r.run("kill", "locked3", "KILL")
	bg.wait(t, 30*time.Second)
}

// A sysctl outside every namespace the container owns is refused at
// create, in one line: it would change the host.
func TestSysctlNeedsItsNamespace(t *testing.T) {
	r := newRunw(t)
	b := newBundle(t, "probe", "echo", "hi")
	b.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{Sysctl: map[string]string{"net.ipv4.ip_forward": "1"}} })
	res := r.run("run", "-b", b.dir, "sysctl")
	if res.code != 1 || !strings.Contains(res.stderr, "net.ipv4.ip_forward") {
		t.Errorf("net sysctl without a network namespace: %v, want a refusal naming it", res)
	}
	oneLine(t, "stderr", res.stderr)
	r.assertRootEmpty()
}

// traversable opens dir and its parents up to /tmp for others to search.
func traversable(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// userNamespaceLinux is the linux section of a container in user, pid and
// mount namespaces of its own, its root host uid and gid 200000.
func userNamespaceLinux() *specs.Linux {
	return &specs.Linux{
		Namespaces:  []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.PIDNamespace}, {Type: specs.MountNamespace}},
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}},
		GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}},
	}
}

// TestUserNamespaceGrantsDoNotPropagateToTheHost: with a user namespace,
// each grant is attached in the container's root from a copy of its
// mount made in the host's namespace (open_tree), which joins its
// source's peer group. The attack: a nested grant (/data from a, /data/sub
// from b), mounted beneath that copy, propagated back to the host's
// a/sub (and to every other container of a), and stayed there after the
// container was gone. The sources here lie on a shared tmpfs, as they do
// under systemd, where / is shared.
func TestUserNamespaceGrantsDoNotPropagateToTheHost(t *testing.T) {
	needsRoot(t, "maps ids into a new user namespace and mounts a shared tmpfs")
	shared, err := os.MkdirTemp("", "runw-shared-")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", shared, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		unix.Unmount(shared, unix.MNT_DETACH)
		os.RemoveAll(shared)
	})
	if err := unix.Mount("", shared, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	a, sub := filepath.Join(shared, "a"), filepath.Join(shared, "b")
	for _, d := range []string{filepath.Join(a, "sub"), sub} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sub, "f.txt"), []byte("nested"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRunw(t)
	b := newBundle(t, "probe", "cat", "/data/sub/f.txt", "sleep", "60s")
	b.edit(func(s *specs.Spec) {
		s.Linux = userNamespaceLinux()
		s.Mounts = []specs.Mount{
			{Destination: "/data", Type: "bind", Source: a, Options: []string{"rbind"}},
			{Destination: "/data/sub", Type: "bind", Source: sub, Options: []string{"rbind"}},
		}
	})
	traversable(t, b.dir)
	bg := r.start("run", "-b", b.dir, "nested")
	st, err := r.pollStatus("nested", "running", 180*time.Second)
	if err != nil {
		t.Fatalf("%v: %v", err, bg.wait(t, 10*time.Second))
	}
	// The nested grant is in the container's root, as engines see it.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out, _ := os.ReadFile(bg.stdout.Name()); strings.Contains(string(out), "nested") {
			break
		}
	}
	if got, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/data/sub/f.txt", st.Pid)); err != nil || string(got) != "nested" {
		t.Errorf("/data/sub/f.txt in the container's root: %q, %v", got, err)
	}
	// Nothing of it on the host.
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(info), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], a+"/") {
			t.Errorf("a mount of the container reached the host: %s", line)
		}
	}
	r.killRun(t, bg, "nested", 30*time.Second)
}

// TestUserNamespaceStartsFromTheCache: an init in a user namespace is
// nobody on the host and cannot read runw's cache, so every create and
// exec under one (podman --userns=auto, a Kubernetes pod with hostUsers:
// false) compiled its module again: seconds for a few MB of Go, minutes
// for a large module, at every start and every health check. create and
// exec now hand it the cached artifact, which it maps: the process's
// maps name the artifact's file. The attack the hand-over must not open:
// the artifact is made readable by all so that the init can reopen its
// descriptor, yet the container's user on the host still cannot reach
// it by path, let alone write it.
func TestUserNamespaceStartsFromTheCache(t *testing.T) {
	needsRoot(t, "maps ids into a new user namespace")
	r := newRunw(t)
	r.cache = t.TempDir()
	b := newBundle(t, "probe", "sleep", "60s")
	b.edit(func(s *specs.Spec) { s.Linux = userNamespaceLinux() })
	traversable(t, b.dir)
	// A cache directory others may search (t.TempDir's is 0755): its
	// artifacts stay 0600 and none is handed over; the init compiles.
	r.mustRun("create", "--bundle", b.dir, "searchable")
	if st, _, ok := r.state("searchable"); !ok || mappedArtifact(t, st.Pid, r.cache) != "" {
		t.Fatalf("an artifact was handed over from a cache directory others may search (state found: %v)", ok)
	}
	hidden := func(when string) {
		t.Helper()
		artifacts, _ := filepath.Glob(filepath.Join(r.cache, "*.cwasm"))
		for _, a := range artifacts {
			if fi, err := os.Stat(a); err != nil || fi.Mode().Perm()&0o077 != 0 {
				t.Fatalf("%s: artifact %s in a cache directory others may search has mode %v (%v)", when, a, fi.Mode(), err)
			}
		}
	}
	hidden("nothing handed over")
	r.mustRun("delete", "--force", "searchable")
	// The default: OpenCache makes the directory 0700.
	if err := os.Chmod(r.cache, 0o700); err != nil {
		t.Fatal(err)
	}
	r.mustRun("create", "--bundle", b.dir, "uncached")
	st, _, ok := r.state("uncached")
	if !ok {
		t.Fatal("no state for the created container")
	}
	artifact := mappedArtifact(t, st.Pid, r.cache)
	if artifact == "" {
		t.Fatalf("the init in a user namespace maps no artifact from the cache %s: it compiled its module", r.cache)
	}
	if pid := r.execDetached("uncached", "/probe.wasm", "sleep", "60s"); mappedArtifact(t, pid, r.cache) != artifact {
		t.Fatalf("the exec'd process in a user namespace does not map the cached artifact %s", artifact)
	}
	uid := userNamespaceLinux().UIDMappings[0].HostID
	asContainerUser := func(script string) error {
		cmd := exec.Command("sh", "-c", script)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		return cmd.Run()
	}
	if asContainerUser("cat "+artifact+" >/dev/null") == nil {
		t.Errorf("the container's user on the host (uid %d) read the artifact %s by its path", uid, artifact)
	}
	if asContainerUser("echo planted >> "+artifact) == nil {
		t.Errorf("the container's user on the host (uid %d) wrote the artifact %s", uid, artifact)
	}
	// The handed artifact is 0644, safe in a directory nobody else may
	// search. Opened up later, runw hides it again on its next use.
	if fi, err := os.Stat(artifact); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("handed artifact %s: mode %v (%v), want 0644", artifact, fi.Mode(), err)
	}
	if err := os.Chmod(r.cache, 0o755); err != nil {
		t.Fatal(err)
	}
	r.mustRun("cache", "ls")
	hidden("the directory opened up after a hand-over")
}

// mappedArtifact returns the compiled artifact of cache that process pid
// maps, as its path in cache, "" when it maps none. The process maps it
// through a detached read-only view of the directory, where the kernel
// names it /<key>.cwasm.
func mappedArtifact(t *testing.T, pid int, cache string) string {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		if f := strings.Fields(line); len(f) >= 6 && strings.HasSuffix(f[5], ".cwasm") {
			p := filepath.Join(cache, filepath.Base(f[5]))
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

// artifactDescriptors are the descriptors process pid holds on compiled
// artifacts, as /proc/<pid>/fd/N.
func artifactDescriptors(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasSuffix(l, ".cwasm") {
			held = append(held, fd)
		}
	}
	return held
}

// TestArtifactCannotBeReopenedForWriting: the attack is a process that
// may reopen the descriptors of a container's init through
// /proc/<init>/fd (root in the container's pid namespace, a native
// sidecar, with no capability beyond the default): wasmtime keeps the
// mapped artifact's descriptor for the container's life, the reopen
// checks only the file's mode, and the artifact is runw's shared cache
// entry, so the attacker rewrote the compiled code every later container
// of that module runs as host root before its sandbox. The artifact is
// now opened through a read-only mount: the reopen for writing is EROFS
// even for the host's root, which is what this test is. The init of a
// container, one in a user namespace (handed its artifact), and an
// exec'd process, each is tried.
func TestArtifactCannotBeReopenedForWriting(t *testing.T) {
	needsRoot(t, "reads the init's descriptors; a user namespace")
	r := newRunw(t)
	r.cache = t.TempDir()
	if err := os.Chmod(r.cache, 0o700); err != nil {
		t.Fatal(err)
	}
	tryWrite := func(t *testing.T, who string, pid int) {
		t.Helper()
		held := artifactDescriptors(t, pid)
		if len(held) == 0 {
			t.Fatalf("%s (pid %d) holds no artifact: the attack has nothing to reopen", who, pid)
		}
		for _, fd := range held {
			f, err := os.OpenFile(fd, os.O_WRONLY, 0)
			if err == nil {
				f.Close()
				t.Errorf("%s: %s (%s) reopened for writing by root", who, fd, must(os.Readlink(fd)))
			} else if !errors.Is(err, syscall.EROFS) {
				t.Errorf("%s: reopen %s for writing: %v, want EROFS", who, fd, err)
			}
		}
	}
	for _, c := range []struct {
		name  string
		linux func() *specs.Linux
	}{
		{"own mount and pid namespaces", func() *specs.Linux {
			return &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}}}
		}},
		{"user namespace", userNamespaceLinux},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, "probe", "sleep", "60s")
			b.edit(func(s *specs.Spec) { s.Linux = c.linux() })
			traversable(t, b.dir)
			id := strings.ReplaceAll(c.name, " ", "-")
			r.mustRun("create", "--bundle", b.dir, id)
			defer r.run("delete", "--force", id)
			st, _, ok := r.state(id)
			if !ok {
				t.Fatal("no state for the created container")
			}
			tryWrite(t, "the init", st.Pid)
			r.mustRun("start", id)
			tryWrite(t, "an exec'd process", r.execDetached(id, "/probe.wasm", "sleep", "60s"))
		})
	}
}

func must[T any](v T, _ error) T { return v }

// TestUserNamespaceExecFillsTheCache: an init in a user namespace is
// nobody on the host and cannot write runw's cache, and exec never
// compiles outside the container, so a module that create never compiled
// (a health check's own module, `podman exec ctr /other.wasm`) was
// compiled again by the exec'd init at every exec: about 10 s for a
// 21 MB Go program here, longer than podman's health check timeout. exec
// now fills the cache from a compile child in the container's cgroup and
// hands the init the artifact: the first exec already maps it, the
// second maps the same one. The compile is the container's: its CPU
// time is charged to the container's cgroups (the v1 cpuacct hierarchy
// that holds a hybrid host's CPU limits, and the v2 tree where there is
// one), and no descriptor of runw's cache reaches the exec'd process but
// its artifact.
func TestUserNamespaceExecFillsTheCache(t *testing.T) {
	needsRoot(t, "maps ids into a new user namespace; cgroups")
	r := newRunw(t)
	r.cache = t.TempDir()
	if err := os.Chmod(r.cache, 0o700); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe", "sleep", "60s")
	b.edit(func(s *specs.Spec) { s.Linux = userNamespaceLinux() })
	traversable(t, b.dir)
	// Another module, whose compile create never ran: the probe with a
	// custom section of its own, new bytes at each run.
	probe, err := os.ReadFile(filepath.Join(b.rootfs, "probe.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	name := []byte("runw-test")
	other := section(probe, 0, append(leb(nil, len(name)), append(name, fmt.Sprint(time.Now().UnixNano())...)...))
	b.writeFile("other.wasm", string(other))
	cost := compileCost(t, other)

	r.mustRun("create", "--bundle", b.dir, "execfill")
	r.mustRun("start", "execfill")
	st, _, ok := r.state("execfill")
	if !ok {
		t.Fatal("no state for the container")
	}
	own := mappedArtifact(t, st.Pid, r.cache)
	v1Before, v1File, v1 := cgroupV1CPU(t, st.Pid)
	v2Before, v2File := cgroupCPU(t, st.Pid)
	first := r.execDetached("execfill", "/other.wasm", "sleep", "60s")
	v1After, _, _ := cgroupV1CPU(t, st.Pid)
	v2After, _ := cgroupCPU(t, st.Pid)
	t.Logf("the container's cgroups were charged %v (%s) and %v (%s) during the first exec", v1After-v1Before, v1File, v2After-v2Before, v2File)
	artifact := mappedArtifact(t, first, r.cache)
	switch {
	case artifact == "":
		t.Fatalf("the first exec'd process maps no artifact from the cache %s: its init compiled the module", r.cache)
	case artifact == own:
		t.Fatalf("the exec'd process maps the container's own artifact %s, not its module's", own)
	}
	if v1 && v1After-v1Before < cost/2 || v2After-v2Before < cost/2 {
		t.Errorf("the container's cgroups were charged %v and %v for an exec whose compile costs %v: the compile ran outside them", v1After-v1Before, v2After-v2Before, cost)
	}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", first))
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, r.cache) {
			t.Errorf("the exec'd process holds %s: %s, in runw's cache", fd, l)
		}
	}
	began := time.Now()
	second := r.execDetached("execfill", "/other.wasm", "sleep", "60s")
	t.Logf("the second exec took %v", time.Since(began))
	if got := mappedArtifact(t, second, r.cache); got != artifact {
		t.Errorf("the second exec'd process maps %q, want the cached artifact %s", got, artifact)
	}

	// The container's memory limit binds the compile: under one too small
	// for it (the probe's compile peaks at about 130 MB here), the child
	// is killed in the container's cgroup and the exec fails at once, in
	// one line, with nothing stored; the container lives on.
	for _, pid := range []int{first, second} {
		unix.Kill(pid, unix.SIGKILL)
	}
	r.mustRun("update", "--memory", strconv.Itoa(64<<20), "execfill")
	b.writeFile("third.wasm", string(section(other, 0, append(leb(nil, len(name)), name...))))
	artifacts := func() []string {
		a, _ := filepath.Glob(filepath.Join(r.cache, "*.cwasm"))
		return a
	}
	stored := artifacts()
	res := r.run("exec", "execfill", "/third.wasm", "sleep", "60s")
	if res.code == 0 || !strings.Contains(res.stderr, "OOM") {
		t.Errorf("exec of a module whose compile exceeds the container's memory limit: %v, want a failure naming the OOM killer", res)
	}
	oneLine(t, "exec of a module too large to compile under the limit", res.stderr)
	if now := artifacts(); len(now) != len(stored) {
		t.Errorf("a compile under the container's 64 MiB limit stored an artifact (%v, before %v): it ran outside the limit", now, stored)
	}
	if st, _, ok := r.state("execfill"); !ok || st.Status != "running" {
		t.Errorf("the container after the exec's compile was killed: %+v", st)
	}
}

// cgroupV1CPU is the CPU time used so far by the cgroup v1 cpuacct
// hierarchy's cgroup of pid, from cpuacct.usage, and that file's path;
// false on a host without that hierarchy.
func cgroupV1CPU(t *testing.T, pid int) (time.Duration, string, bool) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || !slices.Contains(strings.Split(f[1], ","), "cpuacct") {
			continue
		}
		for _, mnt := range []string{"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"} {
			file := filepath.Join(mnt, f[2], "cpuacct.usage")
			if b, err := os.ReadFile(file); err == nil {
				ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
				return time.Duration(ns), file, true
			}
		}
	}
	return 0, "", false
}

// TestNamesWithoutAUTSNamespaceAreRefused: a hostname or a domainname
// without a UTS namespace of the container's own is refused in one line
// naming the field (runc 1.1's words for the hostname, 1.2's for the
// domainname); a domainname alone was refused as a hostname.
func TestNamesWithoutAUTSNamespaceAreRefused(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	for _, tc := range []struct{ hostname, domainname, want string }{
		{"box", "", "unable to set hostname without a private UTS namespace"},
		{"", "example.org", "unable to set domainname without a private UTS namespace"},
		{"box", "example.org", "unable to set hostname without a private UTS namespace"},
	} {
		b := newBundle(t, "probe", "echo", "ran")
		b.edit(func(s *specs.Spec) {
			s.Hostname, s.Domainname = tc.hostname, tc.domainname
			s.Linux = &specs.Linux{}
		})
		res := r.run("run", "-b", b.dir, "uts")
		if res.code != 1 || !strings.HasSuffix(strings.TrimSpace(res.stderr), tc.want) || strings.Contains(res.stdout, "ran") {
			t.Errorf("hostname %q, domainname %q, no UTS namespace: %v; want %q", tc.hostname, tc.domainname, res, tc.want)
		}
		oneLine(t, "the UTS refusal", res.stderr)
		r.assertRootEmpty()
	}
}
