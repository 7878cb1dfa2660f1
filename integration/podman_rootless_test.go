package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rootlessUser is the unprivileged user the rootless test makes and
// removes; its subordinate ids are added to /etc/subuid and /etc/subgid
// for the test only.
const rootlessUser = "runw-rootless-test"

// rootlessPodman is podman run by an unprivileged user, as a user would:
// podman makes its user namespace with newuidmap from /etc/subuid, and runs
// conmon and runw inside it as that namespace's root.
type rootlessPodman struct {
	dir      string
	uid, gid int
	env      []string
}

// newRootlessPodman skips with the reason when this machine cannot run
// rootless podman, and otherwise makes the user, its subordinate ids, its
// XDG_RUNTIME_DIR and a private store, all removed at the end of t.
func newRootlessPodman(t *testing.T) *rootlessPodman {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make the unprivileged test user")
	}
	engRequire(t, "rootless podman", "podman", "conmon", "newuidmap", "newgidmap", "useradd", "userdel")
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skipf("user namespaces are off here (user.max_user_namespaces %q, %v)", b, err)
	}
	if old, err := user.Lookup(rootlessUser); err == nil {
		// An earlier run's user (its home is in a directory this test
		// makes) outlives a run killed mid-way, or a userdel refused while
		// podman's pause process was still dying: removed, with its ids.
		// Any other user of that name is not this test's to remove.
		if !strings.HasPrefix(old.HomeDir, filepath.Join(os.TempDir(), "runw-rootless-")) {
			t.Fatalf("user %s already exists, with home %s: not this test's; remove it with userdel -r %s", rootlessUser, old.HomeDir, rootlessUser)
		}
		uid, _ := strconv.Atoi(old.Uid)
		removeRootlessUser(t, uid)
		os.RemoveAll(filepath.Dir(old.HomeDir))
		if _, err := user.Lookup(rootlessUser); err == nil {
			t.Fatalf("user %s, left by an earlier run, cannot be removed", rootlessUser)
		}
	}
	dir, err := os.MkdirTemp("", "runw-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	home := filepath.Join(dir, "home")
	if out, err := exec.Command("useradd", "-M", "-d", home, "-s", "/bin/sh", rootlessUser).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("useradd: %v: %s", err, out)
	}
	u, err := user.Lookup(rootlessUser)
	if err != nil {
		t.Fatal(err)
	}
	p := &rootlessPodman{dir: dir}
	p.uid, _ = strconv.Atoi(u.Uid)
	p.gid, _ = strconv.Atoi(u.Gid)
	xdg := fmt.Sprintf("/run/user/%d", p.uid)
	t.Cleanup(func() { p.teardown(t, xdg) })
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if err := addSubordinateIDs(f, rootlessUser); err != nil {
			t.Fatal(err)
		}
	}
	// /run/user as logind makes it: anyone may pass through it to their
	// own directory (made here 0700, as the parent of xdg, no runtime of
	// the user could reach its state).
	if err := os.MkdirAll(filepath.Dir(xdg), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{home, xdg} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, p.uid, p.gid)
	}
	// runwBin sits in a directory only root can enter.
	bin := filepath.Join(dir, "runw")
	if err := copyFile(runwBin, bin); err != nil {
		t.Fatal(err)
	}
	os.Chmod(bin, 0o755)
	conf := filepath.Join(dir, "containers.conf")
	data := engPodmanConf(filepath.Join(home, "podman"), "", "")
	data = strings.Replace(data, fmt.Sprintf("runw = [%q]", runwBin), fmt.Sprintf("runw = [%q]", bin), 1)
	if err := os.WriteFile(conf, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	p.env = []string{"HOME=" + home, "USER=" + rootlessUser, "LOGNAME=" + rootlessUser,
		"XDG_RUNTIME_DIR=" + xdg, "PATH=" + os.Getenv("PATH"), "CONTAINERS_CONF=" + conf}

	layer := filepath.Join(dir, "probe.tar")
	engWriteLayer(t, layer, map[string]string{"probe.wasm": guests["probe"]})
	os.Chmod(layer, 0o644)
	res := p.podman(t, "import", "--change", `ENTRYPOINT=["/probe.wasm"]`, layer, engProbeImage)
	if res.code != 0 && strings.Contains(res.stderr, "newuidmap") {
		t.Skipf("rootless podman cannot make its user namespace here: %v", res)
	}
	engWant(t, res, 0)
	return p
}

// podman runs podman as the test user.
func (p *rootlessPodman) podman(t *testing.T, args ...string) engResult {
	t.Helper()
	return p.run(t, "podman", append([]string{"--runtime", "runw"}, args...)...)
}

// runw runs runw by hand as the test user, as runc's rootless users run
// runc.
// runDetached runs a container with podman run -d and args, removed when
// the test ends, and returns its id.
func (p *rootlessPodman) runDetached(t *testing.T, args ...string) string {
	t.Helper()
	res := p.podman(t, append([]string{"run", "-d"}, args...)...)
	engWant(t, res, 0)
	id := strings.TrimSpace(res.stdout)
	t.Cleanup(func() { p.podman(t, "rm", "-f", "-t", "0", id) })
	return id
}

// execEcho podman-execs the probe into container id to print text and
// exit with code, and checks both.
func (p *rootlessPodman) execEcho(t *testing.T, id, text string, code int) {
	t.Helper()
	res := p.podman(t, "exec", id, "/probe.wasm", "echo", text, "exit", strconv.Itoa(code))
	engWant(t, res, code)
	if res.stdout != text+"\n" {
		t.Errorf("exec stdout %q, want %q", res.stdout, text+"\n")
	}
}

func (p *rootlessPodman) runw(t *testing.T, args ...string) engResult {
	t.Helper()
	return p.run(t, filepath.Join(p.dir, "runw"), args...)
}

// run runs a command as the test user, in p.dir, with the user's
// environment.
func (p *rootlessPodman) run(t *testing.T, name string, args ...string) engResult {
	t.Helper()
	cmd := p.command(name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := engResult{args: cmd.Args, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if err != nil {
		res.code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			res.code = ee.ExitCode()
		}
	}
	return res
}

// removeRootlessUser ends every process of the test user (the pause
// process, anything else it still runs: each was started by this test or
// an earlier run of it), then removes the user and its subordinate ids.
func removeRootlessUser(t *testing.T, uid int) {
	t.Helper()
	for _, pid := range processesOf(uid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	engPoll(5*time.Second, func() bool { return len(processesOf(uid)) == 0 })
	if out, err := exec.Command("userdel", rootlessUser).CombinedOutput(); err != nil {
		t.Logf("userdel %s: %v: %s", rootlessUser, err, out)
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if err := removeSubordinateIDs(f, rootlessUser); err != nil {
			t.Logf("%s: %v", f, err)
		}
	}
}

// teardown removes the containers, ends podman's pause process (which
// holds its user namespace), and removes the user, its ids and its files.
func (p *rootlessPodman) teardown(t *testing.T, xdg string) {
	p.podman(t, "rm", "--all", "--force", "--time", "0")
	removeRootlessUser(t, p.uid)
	engUnmountUnder(p.dir)
	os.RemoveAll(xdg)
	if err := os.RemoveAll(p.dir); err != nil {
		t.Logf("remove %s: %v", p.dir, err)
	}
}

// command is a command to run as the test user, in p.dir, with the
// user's environment.
func (p *rootlessPodman) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.gid)}}
	return cmd
}

// processesOf lists the live (not zombie) processes running as uid.
func processesOf(uid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil || strings.Contains(string(status), "State:\tZ") {
			continue
		}
		for _, l := range strings.Split(string(status), "\n") {
			if f := strings.Fields(strings.TrimPrefix(l, "Uid:")); strings.HasPrefix(l, "Uid:") && len(f) > 0 && f[0] == strconv.Itoa(uid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// addSubordinateIDs gives name 65536 ids in file, after every range
// already there.
func addSubordinateIDs(file, name string) error {
	next := 100000
	if f, err := os.Open(file); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Split(s.Text(), ":")
			if len(fields) == 3 {
				start, err1 := strconv.Atoi(fields[1])
				n, err2 := strconv.Atoi(fields[2])
				if err1 == nil && err2 == nil && start+n > next {
					next = start + n
				}
			}
		}
		f.Close()
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s:%d:65536\n", name, next)
	return err
}

// removeSubordinateIDs drops name's lines from file.
func removeSubordinateIDs(file, name string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var keep []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, name+":") {
			keep = append(keep, l)
		}
	}
	out := strings.Join(keep, "\n")
	if out != "" {
		out += "\n"
	}
	return os.WriteFile(file, []byte(out), 0o644)
}

// tunUsableBy says why slirp4netns and pasta, rootless podman's networks,
// cannot work for uid here: they open /dev/net/tun as that user.
func tunUsableBy(uid int) (bool, string) {
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		if _, err := exec.LookPath("pasta"); err != nil {
			return false, "neither slirp4netns nor pasta is installed"
		}
	}
	fi, err := os.Stat("/dev/net/tun")
	if err != nil {
		return false, fmt.Sprintf("no /dev/net/tun: %v", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm()&0o006 != 0o006 && int(st.Uid) != uid {
		return false, fmt.Sprintf("/dev/net/tun is mode %o, owner %d: an unprivileged user cannot open it", fi.Mode().Perm(), st.Uid)
	}
	return true, ""
}

// TestRootlessPodman: an unprivileged user runs wasm containers with
// `podman run` and runw as its runtime. The guest's output and exit status
// reach the user; the init runs on the host as that user (not root), in
// the user namespace podman made. runw finds its state under
// $XDG_RUNTIME_DIR and, on this cgroup v1 host where nothing is delegated
// to the user, runs without a cgroup of its own, as rootless runc does.
func TestRootlessPodman(t *testing.T) {
	p := newRootlessPodman(t)

	t.Run("RunOutputAndExitCode", func(t *testing.T) {
		res := p.podman(t, "run", "--rm", "--network", "none", engProbeImage, "echo", "hello rootless", "exit", "3")
		engWant(t, res, 3)
		if res.stdout != "hello rootless\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "hello rootless\n")
		}
	})

	// runw, root of podman's user namespace, cannot write the system's
	// cache (/var/lib/runw/cache): it keeps the user's own, as its state
	// goes under XDG_RUNTIME_DIR. Without one, every container compiled
	// its module (seconds for a few MB of Go, minutes for a large one).
	t.Run("CompiledModulesAreCachedForTheUser", func(t *testing.T) {
		engWant(t, p.podman(t, "run", "--rm", "--network", "none", engProbeImage, "exit", "0"), 0)
		artifacts, _ := filepath.Glob(filepath.Join(p.dir, "home", ".cache", "runw", "*.cwasm"))
		if len(artifacts) == 0 {
			t.Fatalf("no compiled module in the user's cache %s after a run", filepath.Join(p.dir, "home", ".cache", "runw"))
		}
		var st syscall.Stat_t
		if err := syscall.Stat(artifacts[0], &st); err != nil || int(st.Uid) != p.uid {
			t.Errorf("%s: owner %d (%v), want the user %d", artifacts[0], st.Uid, err, p.uid)
		}
	})

	t.Run("InitIsTheUserInItsUserNamespace", func(t *testing.T) {
		res := p.podman(t, "run", "-d", "--network", "none", engProbeImage, "echo", "up", "sleep", "4s", "exit", "4")
		engWant(t, res, 0)
		id := strings.TrimSpace(res.stdout)
		if !engPoll(10*time.Second, func() bool { return p.podman(t, "logs", id).stdout == "up\n" }) {
			t.Fatalf("the guest never printed: %v", p.podman(t, "logs", id))
		}
		res = p.podman(t, "inspect", "--format", "{{.State.Pid}}", id)
		pid, err := strconv.Atoi(strings.TrimSpace(res.stdout))
		if err != nil || pid <= 0 {
			t.Fatalf("State.Pid: %v", res)
		}
		c := confinementOf(t, fmt.Sprintf("/proc/%d", pid))
		if want := fmt.Sprintf("%d %d %d %d", p.uid, p.uid, p.uid, p.uid); c["Uid"] != want {
			t.Errorf("the init's uids on the host %q, want the user's %q", c["Uid"], want)
		}
		theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
		ours, _ := os.Readlink("/proc/self/ns/user")
		if theirs == "" || theirs == ours {
			t.Errorf("the init's user namespace %q, want one of its own (the host's is %q)", theirs, ours)
		}
		res = p.podman(t, "wait", id)
		if got := strings.TrimSpace(res.stdout); got != "4" {
			t.Errorf("podman wait %q, want the guest's 4: %v", got, res)
		}
	})

	// podman exec by the unprivileged user: the exec'd init joins the
	// container's user namespace first and its pid namespace after, as
	// the first init did, and runs as root of that namespace.
	t.Run("Exec", func(t *testing.T) {
		id := p.runDetached(t, "--network", "none", engProbeImage, "sleep", "60s")
		p.execEcho(t, id, "from exec", 6)
	})

	// A pod whose containers share its user namespace (keep-id, the
	// usual rootless pod): each joins the infra container's by path and
	// makes its own mount and pid namespaces in it. Made before the
	// join, they belonged to the user's own namespace, and create failed
	// on "make the container's mounts slaves: operation not permitted".
	t.Run("PodWithKeepID", func(t *testing.T) {
		const pod = "runw-rootless-keepid"
		engWant(t, p.podman(t, "pod", "create", "--userns", "keep-id", "--network", "none", "--name", pod), 0)
		defer p.podman(t, "pod", "rm", "-f", "-t", "0", pod)
		res := p.podman(t, "run", "--rm", "--pod", pod, engProbeImage, "echo", "in the pod", "exit", "5")
		engWant(t, res, 5)
		if res.stdout != "in the pod\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "in the pod\n")
		}
		// podman exec into a container of the pod: the exec'd init
		// joins the user namespace and then the pid namespace the
		// container's init is pid 1 of.
		p.execEcho(t, p.runDetached(t, "--pod", pod, engProbeImage, "sleep", "60s"), "exec in the pod", 7)
		// And a container joining another's user namespace by name.
		owner := p.runDetached(t, "--network", "none", "--uidmap", "0:1:1000", engProbeImage, "sleep", "60s")
		res = p.podman(t, "run", "--rm", "--network", "none", "--userns", "container:"+owner, engProbeImage, "echo", "joined")
		engWant(t, res, 0)
		if res.stdout != "joined\n" {
			t.Errorf("--userns container: stdout %q, want %q", res.stdout, "joined\n")
		}
	})

	// runc's rootless case, by hand: a bundle from `runw spec --rootless`
	// run by the user. exec joins the container's namespaces only once in
	// their user namespace (the init's constructor; from runw's thread it
	// was EPERM), and enters its pid namespace: killing the init ends
	// it. ps and kill --all, with no cgroup, list the pid namespace.
	t.Run("ExecIntoSpecRootless", func(t *testing.T) {
		bundle := filepath.Join(p.dir, "bundle")
		if err := os.MkdirAll(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(guests["probe"], filepath.Join(bundle, "rootfs", "probe.wasm")); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{bundle, filepath.Join(bundle, "rootfs"), filepath.Join(bundle, "rootfs", "probe.wasm")} {
			os.Chown(d, p.uid, p.gid)
		}
		engWant(t, p.runw(t, "spec", "--rootless", "--bundle", bundle), 0)
		config := filepath.Join(bundle, "config.json")
		data, err := os.ReadFile(config)
		if err != nil {
			t.Fatal(err)
		}
		var s map[string]any
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		proc := s["process"].(map[string]any)
		proc["args"] = []string{"/probe.wasm", "write", "/tmp/from-init", "the container's /tmp", "sleep", "60s"}
		proc["terminal"] = false
		data, _ = json.Marshal(s)
		if err := os.WriteFile(config, data, 0o644); err != nil {
			t.Fatal(err)
		}
		const id = "rootless-by-hand"
		// Its errors to a file: the init keeps the streams it is given.
		errFile := filepath.Join(p.dir, "run.err")
		f, err := os.Create(errFile)
		if err != nil {
			t.Fatal(err)
		}
		run := p.command(filepath.Join(p.dir, "runw"), "run", "--detach", "--bundle", bundle, id)
		run.Stderr = f
		err = run.Run()
		f.Close()
		if err != nil {
			out, _ := os.ReadFile(errFile)
			t.Fatalf("runw run --detach: %v: %s", err, out)
		}
		defer p.runw(t, "delete", "--force", id)

		res := p.runw(t, "exec", id, "/probe.wasm", "echo", "from exec", "exit", "6")
		engWant(t, res, 6)
		if res.stdout != "from exec\n" {
			t.Errorf("exec stdout %q, want %q", res.stdout, "from exec\n")
		}
		// The exec'd process has the container's /tmp (the spec's tmpfs,
		// a directory of runw's here), where the init wrote: runw's
		// rootless init could not bind it into the container's root,
		// and exec was handed the rootfs's own /tmp instead.
		if !engPoll(10*time.Second, func() bool {
			res = p.runw(t, "exec", id, "/probe.wasm", "cat", "/tmp/from-init")
			return res.code != 0 || res.stdout == "the container's /tmp"
		}) || res.code != 0 {
			t.Errorf("exec cat /tmp/from-init: %v; want the init's file", res)
		}

		pidFile := filepath.Join(bundle, "exec.pid")
		bg := p.command(filepath.Join(p.dir, "runw"), "exec", "--pid-file", pidFile, id, "/probe.wasm", "sleep", "60s")
		if err := bg.Start(); err != nil {
			t.Fatal(err)
		}
		defer bg.Process.Kill()
		var execPid int
		if !engPoll(10*time.Second, func() bool {
			b, _ := os.ReadFile(pidFile)
			execPid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			return execPid > 0
		}) {
			t.Fatal("exec wrote no pid file")
		}
		res = p.runw(t, "state", id)
		var st struct{ Pid int }
		if err := json.Unmarshal([]byte(res.stdout), &st); err != nil || st.Pid <= 0 {
			t.Fatalf("state: %v", res)
		}
		var ps []int
		if !engPoll(10*time.Second, func() bool {
			res = p.runw(t, "ps", "--format", "json", id)
			ps = nil
			json.Unmarshal([]byte(res.stdout), &ps)
			return len(ps) == 2
		}) {
			t.Fatalf("ps lists %v, want the init and the exec'd process: %v", ps, res)
		}
		initNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid))
		for _, pid := range ps {
			if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); ns != initNS || initNS == "" {
				t.Errorf("process %d of ps in pid namespace %q, want the init's %q", pid, ns, initNS)
			}
		}

		// The pid file names the process runw started, which stays
		// outside the pid namespace to pass signals on and end as the
		// exec'd process ends. It holds no descriptor of runw's (the
		// sync pipe, the cache, a mount's) for the container to take:
		// only the pipe its child watches.
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", execPid))
		if err != nil || len(fds) != 1 {
			t.Errorf("the exec'd process's proxy holds %d descriptors (%v), want 1", len(fds), err)
		}
		for _, fd := range fds {
			if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", execPid, fd.Name())); !strings.HasPrefix(target, "pipe:") {
				t.Errorf("the proxy holds fd %s: %s", fd.Name(), target)
			}
		}
		pidFile2 := filepath.Join(bundle, "exec2.pid")
		term := p.command(filepath.Join(p.dir, "runw"), "exec", "--pid-file", pidFile2, id, "/probe.wasm", "sleep", "60s")
		if err := term.Start(); err != nil {
			t.Fatal(err)
		}
		defer term.Process.Kill()
		if !engPoll(10*time.Second, func() bool {
			b, _ := os.ReadFile(pidFile2)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return pid > 0 && syscall.Kill(pid, syscall.SIGTERM) == nil
		}) {
			t.Fatal("the second exec wrote no pid file")
		}
		term.Wait()
		if code := term.ProcessState.ExitCode(); code != 143 {
			t.Errorf("exec whose pid file's process was sent SIGTERM ended with %d, want 143", code)
		}

		// kill --all reaches the exec'd process too, with no cgroup to
		// list (the init alone stopped before): SIGSTOP, which neither
		// can handle, stops both, and SIGCONT resumes both.
		stopped := func(pid int) bool {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			return strings.Contains(string(b), "\nState:\tT")
		}
		for _, sig := range []struct {
			name    string
			stopped bool
		}{{"STOP", true}, {"CONT", false}} {
			engWant(t, p.runw(t, "kill", "--all", id, sig.name), 0)
			if !engPoll(10*time.Second, func() bool {
				for _, pid := range ps {
					if stopped(pid) != sig.stopped {
						return false
					}
				}
				return true
			}) {
				for _, pid := range ps {
					t.Errorf("after kill --all %s, process %d stopped: %v", sig.name, pid, stopped(pid))
				}
			}
		}

		// Killing the init ends the exec'd process: it is in the pid
		// namespace, which dies with its pid 1.
		engWant(t, p.runw(t, "kill", id, "KILL"), 0)
		done := make(chan error, 1)
		go func() { done <- bg.Wait() }()
		select {
		case err := <-done:
			if code := bg.ProcessState.ExitCode(); code != 137 {
				t.Errorf("exec ended with %d (%v) when the container was killed, want 137", code, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the exec'd process outlived the container's init: not in its pid namespace")
		}
	})

	t.Run("DefaultNetwork", func(t *testing.T) {
		openTun(t, p.uid)
		res := p.podman(t, "run", "--rm", engProbeImage, "echo", "networked")
		engWant(t, res, 0)
		if res.stdout != "networked\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "networked\n")
		}
	})

	// A wasm server in rootless podman's own network (slirp4netns):
	// `podman run -d -p` by the unprivileged user, curl on the host's
	// localhost reaches it through podman's port forwarder, and podman
	// stop ends it with 143.
	t.Run("ServesPublishedPort", func(t *testing.T) {
		openTun(t, p.uid)
		engRequire(t, "a published port", "curl")
		layer := filepath.Join(p.dir, "hello.tar")
		engWriteLayer(t, layer, map[string]string{"hello.wasm": netGuest(t, "hello")})
		os.Chmod(layer, 0o644)
		const ref = "localhost/runw-rootless-hello:test"
		engWant(t, p.podman(t, "import", "--change", `ENTRYPOINT=["/hello.wasm"]`, layer, ref), 0)
		res := p.podman(t, "run", "-d", "-p", "18086:8080", "-e", "RUNW_LISTEN=:8080", ref)
		engWant(t, res, 0)
		id := strings.TrimSpace(res.stdout)
		gone := func() string {
			if r := p.podman(t, "inspect", "--format", "{{.State.Running}}", id); strings.TrimSpace(r.stdout) == "true" {
				return ""
			}
			return fmt.Sprintf("exited: %v; logs %v", p.podman(t, "inspect", "--format", "{{.State.ExitCode}}", id), p.podman(t, "logs", id))
		}
		if got := curlBody(t, "http://127.0.0.1:18086/", 90*time.Second, gone); got != "hello from wasm\n" {
			t.Errorf("curl 127.0.0.1:18086: %q, want %q", got, "hello from wasm\n")
		}
		engWant(t, p.podman(t, "stop", "--time", "10", id), 0)
		if r := p.podman(t, "inspect", "--format", "{{.State.ExitCode}}", id); strings.TrimSpace(r.stdout) != "143" {
			t.Errorf("exit code after podman stop: %v, want 143", r)
		}
	})
}

// openTun lets the test user open /dev/net/tun, which rootless podman's
// network (slirp4netns) needs, for the length of the test. Distributions
// ship it mode 0666; this machine's is 0600, so the test widens it and
// puts the mode back at the end. It skips where it cannot.
func openTun(t *testing.T, uid int) {
	t.Helper()
	if ok, _ := tunUsableBy(uid); ok {
		return
	}
	fi, err := os.Stat("/dev/net/tun")
	if err != nil || os.Geteuid() != 0 {
		_, why := tunUsableBy(uid)
		t.Skipf("rootless networking cannot work here: %s (the other rootless tests use --network none)", why)
	}
	if err := os.Chmod("/dev/net/tun", 0o666); err != nil {
		t.Skipf("rootless networking needs /dev/net/tun open to the user: chmod: %v", err)
	}
	t.Logf("/dev/net/tun was mode %o: 0666 for this test, as distributions ship it", fi.Mode().Perm())
	t.Cleanup(func() { os.Chmod("/dev/net/tun", fi.Mode().Perm()) })
	if ok, why := tunUsableBy(uid); !ok {
		t.Skipf("rootless networking cannot work here: %s", why)
	}
}
