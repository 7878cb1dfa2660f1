package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestInitInEveryV1Hierarchy: on cgroup v1 the container's processes are
// in every hierarchy, the devices one included, as under runc. CRI-O
// finds a container's processes through devices/<cgroup>/cgroup.procs
// (ContainerStats, so kubelet's CPU and memory figures); the device rules
// there are what the spec allows, and update leaves them alone.
func TestInitInEveryV1Hierarchy(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	if _, err := os.Stat("/sys/fs/cgroup/devices/devices.list"); err != nil {
		t.Skip("no cgroup v1 devices hierarchy at /sys/fs/cgroup/devices")
	}
	// A long path (about 3 KB) as well: the init's constructor gets its
	// cgroups as descriptors, whatever the length of their paths.
	cg := fmt.Sprintf("/runw-test-%d", time.Now().UnixNano())
	for i := 0; i < 14; i++ {
		cg += "/" + strings.Repeat(string(rune('a'+i)), 200)
	}
	cg += "/devices"
	// Registered before newRunw, so it runs after the container is gone.
	t.Cleanup(func() {
		hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
		for _, h := range hierarchies {
			for dir := cg; dir != "/"; dir = filepath.Dir(dir) {
				os.Remove(filepath.Join(h, dir))
			}
		}
	})
	r := newRunw(t)
	fuse := int64(229)
	misc := int64(10)
	b := newBundle(t, "probe", "sleep", "1h")
	b.edit(func(s *specs.Spec) {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Linux.CgroupsPath = cg
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		// What podman and CRI-O send: deny all, then allow some.
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: &misc, Minor: &fuse, Access: "rwm"},
		}
	})
	logFile := filepath.Join(t.TempDir(), "runw.log")
	r.mustRun("--debug", "--log", logFile, "create", "--bundle", b.dir, "dev")
	// The init entered the v1 hierarchies itself, not through a fallback
	// to the attach after the spawn.
	if log, _ := os.ReadFile(logFile); !regexp.MustCompile(`init \d+ enters its \d+ cgroup v1 hierarchies itself`).Match(log) {
		t.Errorf("create's debug log does not say the init entered its cgroups itself:\n%s", log)
	}
	st, res, ok := r.state("dev")
	if !ok {
		t.Fatalf("runw state: %v", res)
	}
	for _, h := range []string{"devices", "memory", "pids", "cpu", "cpuacct", "freezer", "blkio"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", h)); err != nil {
			continue
		}
		if pids := procsOf(t, filepath.Join("/sys/fs/cgroup", h, cg)); !slices.Contains(pids, st.Pid) {
			t.Errorf("init %d not in %s%s/cgroup.procs: %v", st.Pid, h, cg, pids)
		}
	}
	// The init enters its v1 cgroups itself, one thread writing "0" to
	// each tasks file before the Go runtime starts another: every thread
	// it has now must be there, in every hierarchy, the hybrid layout's v2
	// tree included.
	allThreadsIn(t, "init", st.Pid, cg)
	// The constructor closed the tasks files it was handed.
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", st.Pid))
	for _, fd := range fds {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", st.Pid, fd.Name())); strings.HasSuffix(target, "/tasks") {
			t.Errorf("the init still holds %s as its fd %s", target, fd.Name())
		}
	}
	devDir := filepath.Join("/sys/fs/cgroup/devices", cg)
	wantRules := func(when string) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(devDir, "devices.list"))
		if err != nil {
			t.Fatal(err)
		}
		list := strings.Split(strings.TrimSpace(string(data)), "\n")
		for _, want := range []string{"c 10:229 rwm", "c 1:3 rwm", "c 136:* rwm"} {
			if !slices.Contains(list, want) {
				t.Errorf("%s: devices.list lacks %q: %q", when, want, list)
			}
		}
		if slices.Contains(list, "a *:* rwm") {
			t.Errorf("%s: devices.list allows every device, the spec denies all but a few: %q", when, list)
		}
	}
	wantRules("after create")

	r.mustRun("start", "dev")
	r.waitStatus("dev", "running", 10*time.Second)
	r.mustRun("update", "--memory", "268435456", "dev")
	wantRules("after update")

	// An exec'd process joins every hierarchy too.
	execPid := r.execDetached("dev", "/probe.wasm", "sleep", "1h")
	if pids := procsOf(t, devDir); !slices.Contains(pids, execPid) {
		t.Errorf("exec'd process %d not in devices%s/cgroup.procs: %v", execPid, cg, pids)
	}
	allThreadsIn(t, "exec'd process", execPid, cg)

	r.mustRun("kill", "dev", "KILL")
	r.waitStatus("dev", "stopped", 10*time.Second)
	r.mustRun("delete", "dev")
	if _, err := os.Stat(devDir); err == nil {
		t.Errorf("devices cgroup %s left after delete", devDir)
	}
}

// procsOf reads a cgroup's cgroup.procs.
func procsOf(t *testing.T, dir string) []int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Errorf("%v", err)
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// managedHierarchies are the cgroup hierarchies runw's cgroup manager
// places processes in ("" is the v2 tree of a hybrid host).
var managedHierarchies = []string{"cpuset", "devices", "memory", "cpu", "cpuacct", "cpu,cpuacct",
	"pids", "blkio", "hugetlb", "net_cls", "net_prio", "net_cls,net_prio", "perf_event", "freezer",
	"name=systemd", "rdma", "misc", ""}

// allThreadsIn checks that every thread of pid is in cgroup cg in every
// hierarchy runw manages, as /proc/<pid>/task/<tid>/cgroup says.
func allThreadsIn(t *testing.T, what string, pid int, cg string) {
	t.Helper()
	tids, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatalf("%s %d: %v", what, pid, err)
	}
	if len(tids) < 2 {
		t.Errorf("%s %d has %d thread(s); a Go process has several by now", what, pid, len(tids))
	}
	for _, tid := range tids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/cgroup", pid, tid.Name()))
		if err != nil {
			t.Errorf("%s %d thread %s: %v", what, pid, tid.Name(), err)
			continue
		}
		checked := 0
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			// hierarchy-id:controllers:path
			f := strings.SplitN(line, ":", 3)
			if len(f) != 3 || !slices.Contains(managedHierarchies, f[1]) {
				continue
			}
			if f[1] == "" && !hybrid() {
				continue
			}
			checked++
			if f[2] != cg {
				t.Errorf("%s %d thread %s is in %q in hierarchy %q, want %q", what, pid, tid.Name(), f[2], f[1], cg)
			}
		}
		if checked == 0 {
			t.Errorf("%s %d thread %s: no managed hierarchy in %q", what, pid, tid.Name(), data)
		}
	}
}

// hybrid says the host mounts cgroup v1 controllers and a v2 tree at
// /sys/fs/cgroup/unified.
func hybrid() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// TestDeviceNodesAreRefused: a device node in the image (here /dev/kmsg's,
// 1:11, which no spec rule allows) is refused to the guest by the WASI
// host, and to any process in the container's cgroup by the kernel: the
// devices hierarchy on v1, the eBPF device filter on v2. The v2 half runs
// on a cgroup v2-only view of this host (a private mount namespace with
// cgroup2 at /sys/fs/cgroup), where runw must also create, run and
// delete as on any unified host.
func TestDeviceNodesAreRefused(t *testing.T) {
	t.Parallel()
	needsRoot(t, "mknod, cgroups")
	r := newRunw(t)
	b := newBundle(t, "probe", "readn", "/kmsg", "16", "readn", "/dev/null", "16")
	node := filepath.Join(b.rootfs, "kmsg")
	if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 11))); err != nil {
		t.Fatal(err)
	}
	res := r.mustRun("run", "-b", b.dir, "devnode")
	if res.stdout != "ERR open /kmsg: Operation not permitted\nOK n=0 zeros=0\n" {
		t.Errorf("guest opening a device node from its image: %v", res)
	}

	var st unix.Statfs_t
	if _, err := exec.LookPath("unshare"); err != nil || unix.Statfs("/sys/fs/cgroup", &st) != nil {
		t.Skip("no unshare(1) for the cgroup v2 half")
	}
	sleeper := newBundle(t, "probe", "sleep", "1h")
	id := fmt.Sprintf("v2dev-%d", os.Getpid())
	runw := fmt.Sprintf("%s --root %s --cache-dir %s", runwBin, r.root, cacheDir)
	script := fmt.Sprintf(`set -e
mount -t cgroup2 none /sys/fs/cgroup || { echo "SKIP: cannot mount cgroup2"; exit 0; }
%[1]s run -b %[2]s v2-run >/dev/null 2>&1 || echo "run failed"
%[1]s create -b %[3]s %[4]s
pid=$(%[1]s state %[4]s | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
cg=$(sed -n 's/^0:://p' /proc/$pid/cgroup)
sh -c "echo \$\$ > /sys/fs/cgroup$cg/cgroup.procs; exec head -c 16 %[5]s" 2>&1 | tr -d '\0' || true
%[1]s delete --force %[4]s
test ! -e /sys/fs/cgroup$cg && echo "cgroup removed"
`, runw, b.dir, sleeper.dir, id, node)
	out, err := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script).CombinedOutput()
	if strings.HasPrefix(string(out), "SKIP: ") {
		t.Skip(strings.TrimSpace(string(out)))
	}
	t.Logf("cgroup v2 only:\n%s", out)
	if err != nil || !strings.Contains(string(out), "Operation not permitted") || !strings.Contains(string(out), "cgroup removed") || strings.Contains(string(out), "run failed") {
		t.Errorf("cgroup v2 only: %v\n%s", err, out)
	}
}

// TestMemoryLimitTooSmallIsRefused: runw's init is charged to the
// container's cgroup from its start; under a limit of a few MiB the OOM
// killer ended it before it could report, and the engine saw an OOM kill
// (ctr and CRI pass such a limit on; podman refuses under 6 MB itself).
// create refuses it now in one line, named or given as memory.max, and
// a small limit it accepts runs a small guest.
func TestMemoryLimitTooSmallIsRefused(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b := newBundle(t, "wat/hello.wat")
	for _, c := range []struct {
		named   int64
		unified string
		want    string
	}{
		{1 << 20, "", "memory limit 1048576 bytes: "},
		{0, "2097152", "memory limit 2097152 bytes: "},
	} {
		b.edit(func(s *specs.Spec) {
			named := c.named
			res := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &named}}
			if c.unified != "" {
				res = &specs.LinuxResources{Unified: map[string]string{"memory.max": c.unified}}
			}
			s.Linux = &specs.Linux{Resources: res}
		})
		res := r.run("run", "-b", b.dir, "fewmem")
		if res.code != 1 || !strings.Contains(res.stderr, c.want) || strings.Contains(res.stderr, "OOM") {
			t.Errorf("run with %+v: %v; want %q", c, res, c.want)
		}
		oneLine(t, "memory limit error", res.stderr)
		r.assertRootEmpty()
	}
	limit := int64(4 << 20)
	b.edit(memoryLimit(limit))
	if res := r.mustRun("run", "-b", b.dir, "enoughmem"); !strings.Contains(res.stdout, "hello") {
		t.Errorf("run with a 4 MiB limit: %v", res)
	}
	// update refuses it too, before it reaches the cgroup.
	sleeper := newBundle(t, "probe", "sleep", "30s")
	bg, _ := runInBackground(t, r, sleeper, "updmem")
	if res := r.run("update", "--memory", "1048576", "updmem"); res.code != 1 || !strings.Contains(res.stderr, "memory limit 1048576 bytes: ") {
		t.Errorf("update --memory 1048576: %v", res)
	}
	if st, _, _ := r.state("updmem"); st.Status != "running" {
		t.Errorf("after a refused update: %q", st.Status)
	}
	r.killRun(t, bg, "updmem", 20*time.Second)
}

// TestPidsLimitTooSmallIsRefused: every thread of runw's init counts
// against pids.max; a limit too small for it is refused by create and by
// update with one line that says so, before anything is made, instead of
// an init that crashes while it starts. A limit of 0 is no limit, as
// runc 1.1 reads it (podman before 5.5 writes 0 for --pids-limit -1):
// create makes pids.max "max" and update leaves the limit as it is. runw
// refused it.
func TestPidsLimitTooSmallIsRefused(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	setLimit := func(limit int64) {
		b.edit(func(s *specs.Spec) {
			s.Linux = &specs.Linux{Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}}
		})
	}
	pidsMax := func(id string) string {
		max, _ := os.ReadFile(filepath.Join(cgroupOf(t, "pids", id), "pids.max"))
		return strings.TrimSpace(string(max))
	}
	setLimit(3)
	res := r.run("run", "-b", b.dir, "fewpids")
	if res.code != 1 || !strings.Contains(res.stderr, "pids limit 3: ") {
		t.Errorf("run with pids limit 3: %v", res)
	}
	oneLine(t, "pids limit error", res.stderr)
	r.assertRootEmpty()

	setLimit(0)
	r.mustRun("run", "-d", "-b", b.dir, "nolimit")
	if got := pidsMax("nolimit"); got != "max" {
		t.Errorf("pids.max with a limit of 0: %q, want max", got)
	}
	r.mustRun("delete", "--force", "nolimit")

	setLimit(32)
	r.mustRun("run", "-d", "-b", b.dir, "enough")
	// At the minimum, a process exec'd into the container (podman exec,
	// a health check: another init) fits beside the container's own; it
	// did not at 16, the minimum before (21 threads at once).
	for i := 0; i < 2; i++ {
		if res := r.run("exec", "enough", "/probe.wasm", "echo", "at-the-minimum"); res.code != 0 || res.stdout != "at-the-minimum\n" {
			t.Errorf("exec %d at pids limit 32: %v", i, res)
		}
	}
	// An exec the limit refuses says so, and names the exec'd process,
	// not the init (which was fine).
	dir := cgroupOf(t, "pids", "enough")
	cur, _ := os.ReadFile(filepath.Join(dir, "pids.current"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(cur)))
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(strconv.Itoa(n+2)), 0o644); err != nil {
		t.Fatal(err)
	}
	res = r.run("exec", "enough", "/probe.wasm", "echo", "no-room")
	if res.code == 0 || !strings.Contains(res.stderr, "exec'd process exited without reporting") ||
		!strings.Contains(res.stderr, fmt.Sprintf("pids limit (%d) refused a thread of the exec'd process", n+2)) {
		t.Errorf("exec with room for 2 threads: %v", res)
	}
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte("32"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := r.run("update", "--pids-limit", "5", "enough"); res.code != 1 || !strings.Contains(res.stderr, "pids limit 5: ") {
		t.Errorf("update --pids-limit 5: %v", res)
	}
	if got := pidsMax("enough"); got != "32" {
		t.Errorf("pids.max after a refused update: %q", got)
	}
	r.mustRun("update", "--pids-limit", "0", "enough")
	if got := pidsMax("enough"); got != "32" {
		t.Errorf("pids.max after update --pids-limit 0: %q, want it unchanged (32)", got)
	}
	r.mustRun("delete", "--force", "enough")
}

// TestPidsLimitOfAPodIsNamed: kubelet's pod pids limit is on the pod's
// cgroup, above containers whose own pids.max is "max", and a cgroup v1
// counts the refusal in the container's cgroup. An exec the pod's limit
// refused was reported as refused by "the container's pids limit (max)",
// sending the operator to the wrong limit; it names the pod's.
func TestPidsLimitOfAPodIsNamed(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	if _, err := os.Stat("/sys/fs/cgroup/pids/cgroup.procs"); err != nil || cgroups.IsCgroup2UnifiedMode() {
		t.Skip("needs a cgroup v1 pids hierarchy (cgroup v2 counts a refusal in the cgroup whose limit refused it)")
	}
	pod := fmt.Sprintf("/runw-test-pidspod-%d", time.Now().UnixNano())
	podDir := filepath.Join("/sys/fs/cgroup/pids", pod)
	// Registered before newRunw, so it runs after the container is gone.
	t.Cleanup(func() {
		hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
		for _, h := range hierarchies {
			os.Remove(filepath.Join(h, pod, "ctr"))
			os.Remove(filepath.Join(h, pod))
		}
	})
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	b.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{CgroupsPath: pod + "/ctr"} })
	r.mustRun("run", "-d", "-b", b.dir, "inpod")
	if max, err := os.ReadFile(filepath.Join(podDir, "ctr", "pids.max")); err != nil || strings.TrimSpace(string(max)) != "max" {
		t.Fatalf("the container's own pids.max: %q %v, want max", max, err)
	}
	cur, _ := os.ReadFile(filepath.Join(podDir, "pids.current"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(cur)))
	if err := os.WriteFile(filepath.Join(podDir, "pids.max"), []byte(strconv.Itoa(n+2)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The exec'd process's own Go runtime says on its stderr (the
	// exec's) that it could not make a thread, as runc's init does; runw's
	// line comes last, and exec's status for a process it could not start
	// is runc's, 255.
	res := r.run("exec", "inpod", "/probe.wasm", "echo", "no-room")
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	if want := fmt.Sprintf("the pids limit (%d) of cgroup %s, above the container's, refused a thread of the exec'd process", n+2, podDir); res.code != 255 || !strings.Contains(lines[len(lines)-1], want) {
		t.Errorf("exec with room for 2 threads in the pod: %v, want it to end saying %q", res, want)
	}
	os.WriteFile(filepath.Join(podDir, "pids.max"), []byte("max"), 0o644)
	r.mustRun("delete", "--force", "inpod")
}

// TestFailedCreateLeavesNoCgroupParents: a create that fails once its
// cgroup's parents are made removes them too, not only the leaf: a
// cgroupsPath the kernel refuses ("/new/bad\nname") left /new in the
// cpuset hierarchy, and an invalid cpuset every parent it made.
func TestFailedCreateLeavesNoCgroupParents(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	for _, c := range []struct {
		name string
		leaf string
		cpus string
	}{{"a name the kernel refuses", "bad\nname: with a colon", ""}, {"an invalid cpuset", "ctr", "999"}} {
		parent := fmt.Sprintf("/runw-test-parents-%d", time.Now().UnixNano())
		b := newBundle(t, "probe")
		b.edit(func(s *specs.Spec) {
			s.Linux = &specs.Linux{CgroupsPath: parent + "/a/" + c.leaf}
			if c.cpus != "" {
				s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: c.cpus}}
			}
		})
		res := r.run("create", "-b", b.dir, "noparents")
		failsCleanly(t, r, res, "noparents", "")
		if left, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent)); len(left) > 0 {
			t.Errorf("%s: a failed create left %v", c.name, left)
			for _, d := range left {
				os.Remove(filepath.Join(d, "a"))
				os.Remove(d)
			}
		}
	}
}

// TestFailedCreateRemovesOnlyItsOwnCgroups: a create that fails removes
// the cgroups it made and no other. A cgroupsPath naming a populated
// cgroup, with a module refused at create (its memory minimum beyond the
// limit), had every empty cgroup below it removed, after ten seconds of
// retries on the busy one; a parent that another party made while the
// create compiled was taken for one of create's own and removed.
func TestFailedCreateRemovesOnlyItsOwnCgroups(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	pidsRoot := "/sys/fs/cgroup/pids"
	if _, err := os.Stat(pidsRoot); err != nil {
		pidsRoot = unifiedRoot()
	}
	if pidsRoot == "" {
		t.Skip("no pids hierarchy and no cgroup v2 tree here")
	}
	r := newRunw(t)

	populated := fmt.Sprintf("/runw-test-populated-%d", time.Now().UnixNano())
	victimIn(t, pidsRoot+populated+"/busy")
	empty := pidsRoot + populated + "/a-empty" // before busy: RemovePath stops at the first busy one
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(empty) })
	wasm, err := wasmtime.Wat2Wasm(`(module (memory (export "memory") 1000) (func (export "_start")))`)
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe")
	b.writeFile("probe.wasm", string(wasm))
	b.edit(memoryLimit(12 << 20))
	b.edit(func(s *specs.Spec) { s.Linux.CgroupsPath = populated })
	res := r.run("create", "-b", b.dir, "populated")
	failsCleanly(t, r, res, "populated", "memory minimum size of 1000 pages exceeds memory limits")
	if _, err := os.Stat(empty); err != nil {
		t.Errorf("a create refused for its module removed %s, an empty cgroup below the populated one its cgroupsPath names", empty)
	}

	// Another party makes the parent while create compiles (a cache of
	// its own, so the compile is cold: seconds), and the create then
	// fails at the spawn, on an invalid cpuset.
	parent := fmt.Sprintf("/runw-test-theirs-%d", time.Now().UnixNano())
	theirs := []string{pidsRoot + parent}
	if hybrid() {
		theirs = append(theirs, "/sys/fs/cgroup/memory"+parent)
	}
	t.Cleanup(func() {
		for _, d := range theirs {
			os.Remove(filepath.Join(d, "ctr"))
			os.Remove(d)
		}
	})
	r.cache = t.TempDir()
	c := newBundle(t, "probe")
	c.edit(func(s *specs.Spec) {
		s.Linux = &specs.Linux{CgroupsPath: parent + "/ctr", Resources: &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "999"}}}
	})
	log := filepath.Join(t.TempDir(), "log")
	bg := r.start("--debug", "--log", log, "create", "-b", c.dir, "theirs")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if l, _ := os.ReadFile(log); strings.Contains(string(l), "compile child") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("create started no compile in a minute")
		}
	}
	for _, d := range theirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	res = bg.wait(t, 2*time.Minute)
	failsCleanly(t, r, res, "theirs", "")
	for _, d := range theirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("a failed create removed %s, which another party made while it compiled", d)
		}
		if _, err := os.Stat(filepath.Join(d, "ctr")); err == nil {
			t.Errorf("a failed create left its own cgroup %s/ctr", d)
		}
	}
}

// TestUpdateHoldsForExecAndFiles: what `runw update` (podman update,
// crictl update) changes holds as under runc. A process exec'd after a
// memory update is capped by the limit in force, not by config.json's
// (a guest allocating 48 MiB after an update from 32 to 128 MiB ran out
// of memory at about 16); with --resources the file alone counts and
// every other flag is ignored, as runc's help says; linux.resources.unified
// is applied, or refused in runc's words where the host has no cgroup v2
// (it was dropped without a word, at create and at update). events
// --stats carries runc's figures: per-CPU usage, cpuset, memory.stat.
func TestUpdateHoldsForExecAndFiles(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("reads cgroup v1 files (this test machine's hybrid layout); on cgroup v2 unified entries are written by the cgroup manager, untested here")
	}
	r := newRunw(t)
	limit := int64(32 << 20)
	b := newBundle(t, "probe", "sleep", "1h")
	b.edit(memoryLimit(limit))
	r.mustRun("run", "-d", "-b", b.dir, "upd")
	t.Cleanup(func() { r.run("delete", "--force", "upd") })
	if res := r.run("exec", "upd", "/probe.wasm", "alloc", "48"); res.code != 2 || !strings.Contains(res.stderr, "out of memory") {
		t.Errorf("exec allocating 48 MiB under a 32 MiB limit: want the guest's own out of memory (2), got %v", res)
	}
	r.mustRun("update", "--memory", "128M", "upd")
	if res := r.run("exec", "upd", "/probe.wasm", "alloc", "48"); res.code != 0 || !strings.Contains(res.stdout, "OK") {
		t.Errorf("exec allocating 48 MiB after update --memory 128M: %v", res)
	}

	memDir := cgroupOf(t, "memory", "upd")
	file := filepath.Join(t.TempDir(), "res.json")
	if err := os.WriteFile(file, []byte(`{"memory":{"limit":100663296}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r.mustRun("update", "-r", file, "--memory", "200M", "upd")
	if got, _ := os.ReadFile(filepath.Join(memDir, "memory.limit_in_bytes")); strings.TrimSpace(string(got)) != "100663296" {
		t.Errorf("update -r FILE --memory 200M: limit %s, want the file's 100663296 (the flag ignored, as by runc)", got)
	}

	unified := filepath.Join(t.TempDir(), "unified.json")
	if err := os.WriteFile(unified, []byte(`{"unified":{"memory.high":"90000000"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res := r.run("update", "-r", unified, "upd")
	if res.code != 1 || !strings.Contains(res.stderr, "cannot use unified on cgroup v1") {
		t.Errorf("update with unified on cgroup v1: want runc's refusal, got %v", res)
	}
	u := newBundle(t, "probe", "echo", "hi")
	u.edit(func(s *specs.Spec) {
		s.Linux = &specs.Linux{Resources: &specs.LinuxResources{Unified: map[string]string{"memory.high": "90000000"}}}
	})
	res = r.run("run", "-b", u.dir, "unified")
	if res.code != 1 || !strings.Contains(res.stderr, "cannot use unified on cgroup v1") || strings.Contains(res.stdout, "hi") {
		t.Errorf("run with unified on cgroup v1: want runc's refusal, got %v", res)
	}
	oneLine(t, "unified error", res.stderr)

	var ev struct {
		Data struct {
			CPU struct {
				Usage struct {
					Percpu []uint64 `json:"percpu"`
				} `json:"usage"`
			} `json:"cpu"`
			CPUSet struct {
				CPUs []uint16 `json:"cpus"`
			} `json:"cpuset"`
			Memory struct {
				Raw map[string]uint64 `json:"raw"`
			} `json:"memory"`
		} `json:"data"`
	}
	out := r.mustRun("events", "--stats", "upd").stdout
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("events --stats: %v: %s", err, out)
	}
	if len(ev.Data.CPU.Usage.Percpu) == 0 || len(ev.Data.CPUSet.CPUs) == 0 || len(ev.Data.Memory.Raw) == 0 {
		t.Errorf("events --stats lacks runc's per-CPU usage, cpuset or memory.stat: %s", out)
	}
}

// unifiedRoot is where the host mounts the cgroup v2 tree: at
// /sys/fs/cgroup/unified on a hybrid host, /sys/fs/cgroup on a unified
// one; "" without one.
func unifiedRoot() string {
	if hybrid() {
		return "/sys/fs/cgroup/unified"
	}
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "/sys/fs/cgroup"
	}
	return ""
}

// victimIn starts a sleep in the cgroup dir (made, with its parents, and
// removed at cleanup) and returns it: a process that is no container's.
func victimIn(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Skipf("cannot make the cgroup %s: %v", dir, err)
	}
	sleep := exec.Command("sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleep.Process.Kill()
		sleep.Wait()
		for d := dir; strings.Count(d, "/") > 4; d = filepath.Dir(d) {
			os.Remove(d)
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(sleep.Process.Pid)), 0); err != nil {
		t.Skipf("cannot move a process into %s: %v", dir, err)
	}
	return sleep
}

// alive says whether the process is still alive half a second on (a
// SIGKILL queued to it takes effect when it next runs; a killed child
// not yet waited for is a zombie, which a signal 0 still reaches).
func alive(p *exec.Cmd) bool {
	for i := 0; i < 50; i++ {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Process.Pid))
		if err != nil {
			return false
		}
		if fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(fields) == 0 || fields[0] == "Z" {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestCgroupWithProcessesBelowIsRefused: a cgroupsPath naming a cgroup
// with processes in a child cgroup (a parent such as /system.slice) is
// refused at create, in runc's words, and nothing is left; runw looked at
// the cgroup's own processes alone, took the whole subtree as the
// container's (ps), and delete killed them.
func TestCgroupWithProcessesBelowIsRefused(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	cg := fmt.Sprintf("/runw-test-parent-%d", time.Now().UnixNano())
	pidsRoot := "/sys/fs/cgroup/pids"
	if _, err := os.Stat(pidsRoot); err != nil {
		pidsRoot = unifiedRoot()
	}
	if pidsRoot == "" {
		t.Skip("no pids hierarchy and no cgroup v2 tree here")
	}
	victim := victimIn(t, pidsRoot+cg+"/child")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	refusedAsBusy(t, r, b, cg, "parent", victim, "a cgroup whose child holds a process")
}

// refusedAsBusy requires create in cg, where victim is, to be refused in
// runc's words and one line, to leave no state, and to spare victim
// (through a kill KILL and a delete --force too, if it was not refused).
func refusedAsBusy(t *testing.T, r *runw, b *bundle, cg, id string, victim *exec.Cmd, what string) {
	t.Helper()
	b.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{CgroupsPath: cg} })
	res := r.run("create", "--bundle", b.dir, id)
	if res.code != 1 || !strings.Contains(res.stderr, "container's cgroup is not empty: 1 process(es) found") {
		t.Errorf("create in %s: %v; want exit 1, runc's \"container's cgroup is not empty\"", what, res)
	}
	oneLine(t, "create in "+what, res.stderr)
	if res := r.run("state", id); res.code == 0 {
		t.Errorf("the refused container has a state: %s", res.stdout)
		r.run("kill", id, "KILL")
	}
	r.run("delete", "--force", id)
	if !alive(victim) {
		t.Errorf("the process in %s was killed", what)
	}
}

// TestKillReachesOnlyTheContainersCgroup: runw's own cgroup.kill and
// cgroup.freeze paths name the cgroup the library made, whatever the
// cgroupsPath says. On a hybrid host "/unified/x" is /x of the v2 tree
// joined to /sys/fs/cgroup, and a systemd-shaped path with "..", left
// unclean, climbed out of the cgroup root: `runw kill KILL` wrote the
// cgroup.kill of another cgroup and killed the process in it.
func TestKillReachesOnlyTheContainersCgroup(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	root := unifiedRoot()
	if root == "" {
		t.Skip("no cgroup v2 tree here: no cgroup.kill")
	}
	name := fmt.Sprintf("runw-test-victim-%d", time.Now().UnixNano())
	paths := map[string]string{
		// Old: "/" + "../cgroup/<tree>/<name>-v.scope", joined to /sys/fs/cgroup.
		"systemd-shaped with ..": "-:../" + strings.TrimPrefix(root, "/sys/fs/") + "/" + name + ":v",
	}
	victims := map[string]string{"systemd-shaped with ..": root + "/" + name + "-v.scope"}
	if hybrid() {
		paths["/unified/x on a hybrid host"] = "/unified/" + name + "-u"
		victims["/unified/x on a hybrid host"] = root + "/" + name + "-u"
	}
	// The parents the library makes for the cleaned paths
	// (/cgroup/unified/..., /unified/...) in every hierarchy; registered
	// before newRunw, so they go after the containers.
	t.Cleanup(func() {
		for _, parent := range []string{"/cgroup/unified", "/cgroup", "/unified"} {
			dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
			dirs = append(dirs, "/sys/fs/cgroup"+parent)
			for _, d := range dirs {
				os.Remove(d)
			}
		}
	})
	r := newRunw(t)
	n := 0
	for what, cgPath := range paths {
		// In a child: runw's old check at create read the cgroup's own
		// processes at the same wrong path, and cgroup.kill kills a subtree.
		victim := victimIn(t, victims[what]+"/child")
		b := newBundle(t, "probe", "sleep", "1h")
		b.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{CgroupsPath: cgPath} })
		n++
		id := fmt.Sprintf("victim-%d", n)
		r.mustRun("create", "--bundle", b.dir, id)
		// Paused, the init outlives its SIGKILL until the cgroup is
		// killed and thawed: the cgroup's kill always runs.
		r.mustRun("pause", id)
		r.mustRun("kill", id, "KILL")
		r.run("delete", "--force", id)
		if !alive(victim) {
			t.Errorf("%s (%q): runw kill KILL killed a process in %s", what, cgPath, victims[what])
		}
	}
}

// TestBusyV2CgroupOfAHybridHost: on a hybrid host the init enters the v2
// tree at its cgroupsPath too, and kill KILL ends the container through
// that directory's cgroup.kill. A process already there, in no v1
// hierarchy, passed create's check (which read the pids hierarchy alone)
// and died at the container's kill KILL, where runc's kill lists and
// signals the v1 pids; it is now refused at create, in runc's words. One
// moved there after create is no process of the container's either (ps
// does not list it), and lives through kill KILL; one of the container's
// moved out of it dies with the rest.
func TestBusyV2CgroupOfAHybridHost(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	if !hybrid() {
		t.Skip("not a hybrid cgroup host: the v2 tree is the only one, and create's check reads it")
	}
	root := unifiedRoot()
	cg := fmt.Sprintf("/runw-test-v2busy-%d", time.Now().UnixNano())
	victim := victimIn(t, root+cg)
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	refusedAsBusy(t, r, b, cg, "busy", victim, "a cgroup busy in the v2 tree alone")

	late := cg + "-late"
	b.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{CgroupsPath: late} })
	r.mustRun("run", "--detach", "--bundle", b.dir, "late")
	lateVictim := victimIn(t, root+late)
	r.mustRun("kill", "late", "KILL")
	r.waitStatus("late", "stopped", 10*time.Second)
	if !alive(lateVictim) {
		t.Error("kill KILL killed a process moved into the container's v2 cgroup after create")
	}
	lateVictim.Process.Kill()
	lateVictim.Wait()
	r.mustRun("delete", "late")

	// One of the container's own, moved out of its v2 directory: kill
	// KILL went through cgroup.kill, which missed it, and delete left
	// it running in the v1 cgroups.
	out := cg + "-out"
	b.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{CgroupsPath: out} })
	r.mustRun("run", "--detach", "--bundle", b.dir, "out")
	execd := r.execDetached("out", "/probe.wasm", "sleep", "1h")
	t.Cleanup(func() { unix.Kill(execd, unix.SIGKILL) }) // if kill and delete missed it
	if err := os.WriteFile(root+"/cgroup.procs", []byte(strconv.Itoa(execd)), 0); err != nil {
		t.Fatalf("move the exec'd process to the v2 root: %v", err)
	}
	r.mustRun("kill", "out", "KILL")
	waitGone(t, execd, 10*time.Second)
	r.waitStatus("out", "stopped", 10*time.Second)
	r.mustRun("delete", "out")
}

// A paused container's SIGKILL ends it, as under runc, which thaws the
// freezer after the kill: podman kill of a paused container, and kill
// --all. On a hybrid host runw's kill through cgroup.kill left the v1
// freezer frozen: the init stayed in D, state said "paused", and podman
// kill timed out waiting for the exit.
func TestKillEndsAPausedContainer(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	for _, all := range []bool{false, true} {
		id := fmt.Sprintf("paused-kill-%v", all)
		b := newBundle(t, "probe", "sleep", "1h")
		b.edit(func(s *specs.Spec) {
			s.Linux = &specs.Linux{CgroupsPath: fmt.Sprintf("/runw-test-%s-%d", id, time.Now().UnixNano())}
		})
		r.mustRun("create", "--bundle", b.dir, id)
		r.mustRun("start", id)
		r.mustRun("pause", id)
		args := []string{"kill", id, "KILL"}
		if all {
			args = []string{"kill", "--all", id, "KILL"}
		}
		r.mustRun(args...)
		if _, err := r.pollStatus(id, "stopped", 10*time.Second); err != nil {
			t.Errorf("%s of a paused container: %v", strings.Join(args, " "), err)
		}
		r.run("delete", "--force", id)
	}
}

// TestBlockIOAndMemoryKnobsReachTheCgroup: linux.resources' block I/O
// throttles and weights, memory.swappiness and memory.disableOOMKiller
// are written to the container's cgroup, as runc writes them; runw
// dropped them without a word (a throttle on the disk under the guest's
// files does slow its reads: the init reads them). Each is read back from
// the cgroup v1 file it sets; one the kernel does not offer here (the
// blkio weights need BFQ) is skipped, saying so.
func TestBlockIOAndMemoryKnobsReachTheCgroup(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("reads cgroup v1 files (this test machine's hybrid layout)")
	}
	major, minor, ok := wholeDisk()
	if !ok {
		t.Skip("no block device with a size in /sys/block to throttle")
	}
	dev := fmt.Sprintf("%d:%d", major, minor)
	blkio := "/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device"
	if _, err := os.Stat(blkio); err != nil {
		t.Skip("no cgroup v1 blkio hierarchy with throttles at /sys/fs/cgroup/blkio")
	}
	_, weights := os.Stat("/sys/fs/cgroup/blkio/blkio.bfq.weight_device")
	if weights != nil {
		t.Log("no blkio.bfq.weight_device here (BFQ is not the scheduler): the weights are not checked")
	}
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	swappiness, noOOMKiller := uint64(10), true
	weight := uint16(300)
	b.edit(func(s *specs.Spec) {
		s.Linux = &specs.Linux{Resources: &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Swappiness: &swappiness, DisableOOMKiller: &noOOMKiller},
			BlockIO: &specs.LinuxBlockIO{
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: 1048576}},
				ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: 2097152}},
				ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: 300}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: 400}},
			},
		}}
		if weights == nil {
			s.Linux.Resources.BlockIO.WeightDevice = []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Weight: &weight}}
		}
	})
	r.mustRun("create", "--bundle", b.dir, "knobs")
	t.Cleanup(func() { r.run("delete", "--force", "knobs") })
	read := func(controller, file string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(cgroupOf(t, controller, "knobs"), file))
		if err != nil {
			t.Error(err)
		}
		return strings.TrimSpace(string(data))
	}
	for file, want := range map[string]string{
		"blkio.throttle.read_bps_device":   dev + " 1048576",
		"blkio.throttle.write_bps_device":  dev + " 2097152",
		"blkio.throttle.read_iops_device":  dev + " 300",
		"blkio.throttle.write_iops_device": dev + " 400",
	} {
		if got := read("blkio", file); got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
	if weights == nil {
		if got := read("blkio", "blkio.bfq.weight_device"); !strings.Contains(got, dev+" 300") {
			t.Errorf("blkio.bfq.weight_device: %q, want %s 300 in it", got, dev)
		}
	}
	if got := read("memory", "memory.swappiness"); got != "10" {
		t.Errorf("memory.swappiness: %s, want 10", got)
	}
	if got := read("memory", "memory.oom_control"); !strings.Contains(got, "oom_kill_disable 1") {
		t.Errorf("memory.oom_control: %q, want oom_kill_disable 1", got)
	}
}

// wholeDisk is the device number of a disk in /sys/block with a size (not
// a partition, which the throttles refuse, nor an empty zram or loop).
func wholeDisk() (major, minor int64, ok bool) {
	disks, _ := os.ReadDir("/sys/block")
	for _, d := range disks {
		size, _ := os.ReadFile(filepath.Join("/sys/block", d.Name(), "size"))
		if n, _ := strconv.ParseInt(strings.TrimSpace(string(size)), 10, 64); n == 0 {
			continue
		}
		num, _ := os.ReadFile(filepath.Join("/sys/block", d.Name(), "dev"))
		if _, err := fmt.Sscanf(string(num), "%d:%d", &major, &minor); err == nil {
			return major, minor, true
		}
	}
	return 0, 0, false
}
