package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"
)

// TestFeaturesDescribesWhatRunwDoes: CRI-O and containerd read `features`
// on stdout alone, and containerd dereferences its linux object.
func TestFeaturesDescribesWhatRunwDoes(t *testing.T) {
	t.Parallel()
	res := newRunw(t).mustRun("features")
	if res.stderr != "" {
		t.Fatalf("features wrote to stderr: %q", res.stderr)
	}
	var f features.Features
	if err := json.Unmarshal([]byte(res.stdout), &f); err != nil {
		t.Fatalf("features is not JSON: %v\n%s", err, res.stdout)
	}
	if f.OCIVersionMin == "" || f.OCIVersionMax == "" || f.Linux == nil || f.Linux.Cgroup == nil {
		t.Fatalf("features lacks versions or linux: %s", res.stdout)
	}
	if v := f.Annotations["io.github.seccomp.libseccomp.version"]; !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Errorf("features: libseccomp's version under runc's key is %q", v)
	}
	if f.Linux.MountExtensions == nil || f.Linux.MountExtensions.IDMap == nil || *f.Linux.MountExtensions.IDMap.Enabled {
		t.Errorf("idmap must be advertised as disabled: %s", res.stdout)
	}
	// CRI-O reads "rro" from here for its handler's RecursiveReadOnlyMounts
	// (TestRecursiveReadOnlyMountIsReadOnly holds runw to it).
	if !slices.Contains(f.MountOptions, "rro") {
		t.Errorf("rro must be advertised: %v", f.MountOptions)
	}
	if len(f.Hooks) != 6 || !strings.Contains(strings.Join(f.PotentiallyUnsafeConfigAnnotations, ","), "run.oci.handler") {
		t.Errorf("hooks or unsafe annotations wrong: %s", res.stdout)
	}
}

// TestEngineCommandsOnARunningContainer covers what containerd and CRI
// call besides the lifecycle: ps --format json, pause/resume, update from
// stdin, events --stats, and a clear refusal of checkpoint.
func TestEngineCommandsOnARunningContainer(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	// linux.resources.cpu's burst and idle, applied at create as runc
	// applies them (and changed by update below).
	b.edit(func(s *specs.Spec) {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		quota, period, burst, idle := int64(100000), uint64(100000), uint64(30000), int64(1)
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period, Burst: &burst, Idle: &idle}
	})
	r.mustRun("create", "--bundle", b.dir, "cmds")
	r.mustRun("start", "cmds")
	st := r.waitStatus("cmds", "running", 5*time.Second)
	for name, want := range map[string]string{"cpu.cfs_quota_us": "100000", "cpu.cfs_burst_us": "30000", "cpu.idle": "1"} {
		if v, err := os.ReadFile(filepath.Join(cgroupOf(t, "cpu", "cmds"), name)); err != nil || strings.TrimSpace(string(v)) != want {
			t.Errorf("%s of a spec with cpu quota 100000, burst 30000, idle 1: %q (%v), want %s", name, v, err, want)
		}
	}

	var pids []int
	if err := json.Unmarshal([]byte(r.mustRun("ps", "--format", "json", "cmds").stdout), &pids); err != nil || len(pids) != 1 || pids[0] != st.Pid {
		t.Fatalf("ps --format json: %v, want [%d]", pids, st.Pid)
	}
	// Every thread of the init is named runw-init (top -H, ps -L).
	if comms, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/comm", st.Pid)); len(comms) < 2 {
		t.Errorf("the init has %d threads", len(comms))
	} else {
		for _, c := range comms {
			if data, err := os.ReadFile(c); err == nil && strings.TrimSpace(string(data)) != "runw-init" {
				t.Errorf("%s: %q, want runw-init", c, data)
			}
		}
	}
	// ps shows the guest's command, as runc's shows a native one's.
	if res := r.mustRun("ps", "cmds"); !strings.Contains(res.stdout, "/probe.wasm sleep 1h") {
		t.Errorf("ps does not show the guest's command: %v", res)
	}
	// A format ps does not know is refused in runc's words; it printed
	// the table.
	if res := r.run("ps", "--format", "xml", "cmds"); res.code != 1 || res.stdout != "" || !strings.Contains(res.stderr, "invalid format option") {
		t.Errorf("ps --format xml: %v", res)
	}
	// An option ps refuses: ps's own word is passed on, in one line.
	if res := r.run("ps", "cmds", "--", "--bogus"); res.code != 1 || !strings.Contains(res.stderr, "ps: exit status 1: error: ") {
		t.Errorf("ps -- --bogus: %v, want ps's own word", res)
	} else {
		oneLine(t, "ps -- --bogus", res.stderr)
	}

	r.mustRun("pause", "cmds")
	if s, _, _ := r.state("cmds"); s.Status != "paused" {
		t.Errorf("after pause: %q", s.Status)
	}
	if res := r.run("pause", "cmds"); res.code != 1 {
		t.Errorf("pause of a paused container: %v", res)
	}
	if res := r.run("exec", "cmds", "/probe.wasm", "echo", "no"); res.code != 255 || !strings.Contains(res.stderr, "use --ignore-paused") {
		t.Errorf("exec into a paused container: %v", res)
	}
	// exec --ignore-paused waits, frozen, for the resume; it must not
	// keep resume (or state) from running meanwhile.
	execCmd, execOut, execErr := r.command(t.Context(), "exec", "--ignore-paused", "cmds", "/probe.wasm", "echo", "thawed")
	if err := execCmd.Start(); err != nil {
		t.Fatal(err)
	}
	execDone := make(chan error, 1)
	go func() { execDone <- execCmd.Wait() }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-execDone:
		t.Fatalf("exec --ignore-paused ran in a paused container: %v", finish(execCmd, err, execOut, execErr))
	default:
	}
	if s, _, _ := r.state("cmds"); s.Status != "paused" {
		t.Errorf("state during a pending exec: %q", s.Status)
	}
	r.mustRun("resume", "cmds")
	if s, _, _ := r.state("cmds"); s.Status != "running" {
		t.Errorf("after resume: %q", s.Status)
	}
	// exec -e: the last value of a name wins, as podman exec -e expects
	// over the container's own env; a malformed entry is runc's error.
	if res := r.mustRun("exec", "-e", "A=1", "-e", "A=2", "cmds", "/probe.wasm", "env"); strings.TrimSpace(res.stdout) != `["A=2"]` {
		t.Errorf("exec -e A=1 -e A=2: %v", res)
	}
	// A value with commas is one variable, as under runc.
	if res := r.mustRun("exec", "--env", "X=a,b=c,d", "cmds", "/probe.wasm", "env"); strings.TrimSpace(res.stdout) != `["X=a,b=c,d"]` {
		t.Errorf("exec --env X=a,b=c,d: %v", res)
	}
	// A cwd that is not in the container fails as runc's chdir does, with
	// chdir's errno: podman reads "no such file or directory" as a command
	// not found (127), and a file said so (runc: "not a directory", 255).
	for cwd, errno := range map[string]string{"/nonexistent": "no such file or directory", "/probe.wasm": "not a directory"} {
		if res := r.run("exec", "--cwd", cwd, "cmds", "/probe.wasm", "cwd"); res.code != 255 || !strings.Contains(res.stderr, fmt.Sprintf("chdir to cwd (%q) set in config.json failed: %s", cwd, errno)) {
			t.Errorf("exec --cwd %s: %v", cwd, res)
		}
	}
	if err := os.Mkdir(filepath.Join(b.dir, "rootfs", "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	if res := r.mustRun("exec", "--cwd", "/work", "cmds", "/probe.wasm", "cwd"); strings.TrimSpace(res.stdout) != "/work" {
		t.Errorf("exec --cwd /work: %v", res)
	}
	if res := r.run("exec", "-e", "NOEQ", "cmds", "/probe.wasm", "env"); res.code != 255 || !strings.Contains(res.stderr, `invalid environment variable: "NOEQ"`) {
		t.Errorf("exec -e NOEQ: %v", res)
	}
	// exec -u/-g: the process runs as that user, with what the kernel then
	// allows it (no write to root's 0755 rootfs), as under runc.
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r.mustRun("exec", "-d", "--pid-file", pidFile, "-u", "1000:1001", "-g", "55", "cmds", "/probe.wasm", "sleep", "20s")
	if data, err := os.ReadFile(pidFile); err == nil {
		status, _ := os.ReadFile("/proc/" + string(data) + "/status")
		for _, want := range []string{"Uid:\t1000\t1000\t1000\t1000\n", "Gid:\t1001\t1001\t1001\t1001\n", "Groups:\t55 \n", "CapEff:\t0000000000000000\n"} {
			if !strings.Contains(string(status), want) {
				t.Errorf("exec -u 1000:1001 -g 55: status lacks %q:\n%s", want, status)
			}
		}
	} else {
		t.Errorf("exec -d --pid-file: %v", err)
	}
	if res := r.run("exec", "-u", "1000", "cmds", "/probe.wasm", "write", "/as-1000", "x"); !strings.HasPrefix(res.stdout, "ERR") || !strings.Contains(res.stdout, "Permission denied") {
		t.Errorf("exec -u 1000 writing to root's rootfs: %v", res)
	}
	if res := r.run("exec", "-u", "a:b:c", "cmds", "/probe.wasm", "echo"); res.code != 255 || !strings.Contains(res.stderr, "invalid --user format") {
		t.Errorf("exec -u a:b:c: %v", res)
	}
	if res := r.run("exec", "--cwd", "relative", "cmds", "/probe.wasm", "echo"); res.code != 255 || !strings.Contains(res.stderr, "Cwd must be an absolute path") {
		t.Errorf("exec --cwd relative: %v", res)
	}
	// A container and no command: runc's failure of the exec, 255.
	if res := r.run("exec", "cmds"); res.code != 255 || strings.TrimSpace(res.stderr) != "exec failed: process args cannot be empty" {
		t.Errorf("exec with no command: %v, want 255 and runc's line", res)
	}
	select {
	case err := <-execDone:
		if res := finish(execCmd, err, execOut, execErr); res.code != 0 || res.stdout != "thawed\n" {
			t.Errorf("exec --ignore-paused after resume: %v", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("exec --ignore-paused did not finish after resume")
	}

	cmd, stdout, stderr := r.command(t.Context(), "update", "--resources", "-", "cmds")
	cmd.Stdin = strings.NewReader(`{"memory":{"limit":67108864},"pids":{"limit":50}}`)
	if res := finish(cmd, cmd.Run(), stdout, stderr); res.code != 0 {
		t.Fatalf("update: %v", res)
	}
	memDir := cgroupOf(t, "memory", "cmds")
	limit, err := os.ReadFile(filepath.Join(memDir, "memory.limit_in_bytes"))
	if err != nil || strings.TrimSpace(string(limit)) != "67108864" {
		t.Errorf("memory limit after update: %s", limit)
	}
	// runc's size suffixes, and the flags runc's update has.
	r.mustRun("update", "--memory", "100M", "--memory-swap", "-1", "--kernel-memory", "10M", "cmds")
	if limit, err := os.ReadFile(filepath.Join(memDir, "memory.limit_in_bytes")); err != nil || strings.TrimSpace(string(limit)) != "104857600" {
		t.Errorf("memory limit after update --memory 100M: %s", limit)
	}
	// A blkio weight needs CFQ (blkio.weight) or BFQ (blkio.bfq.weight).
	// On a machine with neither I/O scheduler, runc's update fails writing
	// blkio.bfq.weight, and so does runw's, in one line.
	blkioDir := cgroupOf(t, "blkio", "cmds")
	weightFile := ""
	for _, name := range []string{"blkio.weight", "blkio.bfq.weight"} {
		if _, err := os.Stat(filepath.Join(blkioDir, name)); err == nil {
			weightFile = name
			break
		}
	}
	if res := r.run("update", "--blkio-weight", "500", "cmds"); weightFile == "" {
		if res.code != 1 || !strings.Contains(res.stderr, "blkio.bfq.weight") {
			t.Errorf("update --blkio-weight 500 with no weight file: %v, want exit 1 naming blkio.bfq.weight, as runc", res)
		}
		oneLine(t, "update --blkio-weight", res.stderr)
	} else if res.code != 0 {
		t.Errorf("update --blkio-weight 500: %v", res)
	} else if w, err := os.ReadFile(filepath.Join(blkioDir, weightFile)); err != nil || strings.TrimSpace(string(w)) != "500" {
		t.Errorf("%s after update --blkio-weight 500: %q (%v)", weightFile, w, err)
	}
	r.mustRun("update", "--cpu-rt-period", "1000000", "--cpu-rt-runtime", "0", "cmds")
	// CFS burst (within a quota) and SCHED_IDLE, as runc's update sets them.
	r.mustRun("update", "--cpu-quota", "50000", "--cpu-burst", "20000", "--cpu-idle", "0", "cmds")
	cpuDir := cgroupOf(t, "cpu", "cmds")
	for name, want := range map[string]string{"cpu.cfs_quota_us": "50000", "cpu.cfs_burst_us": "20000", "cpu.idle": "0"} {
		if v, err := os.ReadFile(filepath.Join(cpuDir, name)); err != nil || strings.TrimSpace(string(v)) != want {
			t.Errorf("%s after update --cpu-quota 50000 --cpu-burst 20000 --cpu-idle 0: %q (%v), want %s", name, v, err, want)
		}
	}
	// Out of range: refused, nothing changed (a negative period must not
	// wrap to 2^64-1).
	for _, bad := range [][]string{{"--cpu-period", "-1"}, {"--cpu-share", "-2"}, {"--cpu-burst", "-1"}, {"--cpu-idle", "x"}, {"--blkio-weight", "5"}, {"--blkio-weight", "1001"}} {
		if res := r.run(append(append([]string{"update"}, bad...), "cmds")...); res.code != 1 || !strings.Contains(res.stderr, "invalid value for") {
			t.Errorf("update %s: %v", strings.Join(bad, " "), res)
		}
	}
	if res := r.run("update", "--l3-cache-schema", "L3:0=f", "cmds"); res.code != 1 || !strings.Contains(res.stderr, "Intel RDT") {
		t.Errorf("update --l3-cache-schema: %v", res)
	}
	r.mustRun("update", "--pids-limit", "40", "cmds")
	if max, err := os.ReadFile(filepath.Join(cgroupOf(t, "pids", "cmds"), "pids.max")); err != nil || strings.TrimSpace(string(max)) != "40" {
		t.Errorf("pids.max after update: %s", max)
	}

	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			Memory struct {
				Usage struct {
					Usage uint64 `json:"usage"`
				} `json:"usage"`
			} `json:"memory"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.mustRun("events", "--stats", "cmds").stdout), &ev); err != nil || ev.Type != "stats" || ev.ID != "cmds" || ev.Data.Memory.Usage.Usage == 0 {
		t.Errorf("events --stats: %+v %v", ev, err)
	}
	// An interval of 0 would spin: refused in runc's words.
	if res := r.run("events", "--interval", "0s", "cmds"); res.code != 1 || !strings.Contains(res.stderr, "duration interval must be greater than 0") {
		t.Errorf("events --interval 0s: %v", res)
	}

	// kill 0 only asks whether the init is alive, as under runc; --criu,
	// which runc 1.1 accepts, is accepted.
	if res := r.run("--criu", "/usr/sbin/criu", "kill", "cmds", "0"); res.code != 0 {
		t.Errorf("kill cmds 0: %v", res)
	}
	if s, _, _ := r.state("cmds"); s.Status != "running" {
		t.Errorf("after kill 0: %q", s.Status)
	}
	res := r.run("checkpoint", "--image-path", t.TempDir(), "cmds")
	if res.code != 1 || !strings.Contains(res.stderr, "not supported") {
		t.Errorf("checkpoint: %v", res)
	}
	// A checkpoint of no container says so, in runc's words.
	if res := r.run("checkpoint", "nosuch"); res.code != 1 || !strings.Contains(res.stderr, "container does not exist") {
		t.Errorf("checkpoint nosuch: %v", res)
	}
	// podman asks `checkpoint --help` first, and refused checkpoint for
	// every container, native ones too, when it did not exit 0.
	if res := r.run("checkpoint", "--help"); res.code != 0 || !strings.Contains(res.stdout, "Usage: runw checkpoint") {
		t.Errorf("checkpoint --help: %v", res)
	}
	// As runc takes it from scripts: the flag after the id.
	r.mustRun("delete", "cmds", "--force")
	if _, err := os.Stat(memDir); err == nil {
		t.Error("cgroup left after delete")
	}
}

// TestCompileAndCacheCommands: an operator precompiles a module, sees it in
// `cache ls`, and clears the cache; the next run compiles again.
func TestCompileAndCacheCommands(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	rc := func(args ...string) (string, error) {
		out, err := exec.Command(runwBin, append([]string{"--cache-dir", cache}, args...)...).CombinedOutput()
		return string(out), err
	}
	wat := filepath.Join("testdata", "wat", "hello.wat")
	out, err := rc("compile", wat)
	if err != nil || !strings.Contains(out, "compiled") {
		t.Fatalf("compile: %v %s", err, out)
	}
	key := strings.Fields(out)[0]
	if out, _ := rc("compile", wat); !strings.Contains(out, "cached") {
		t.Fatalf("second compile should hit the cache: %s", out)
	}
	if out, err := rc("cache", "ls"); err != nil || !strings.Contains(out, key) {
		t.Fatalf("cache ls: %v %s", err, out)
	}
	if out, err := rc("cache", "rm", key); err != nil {
		t.Fatalf("cache rm: %v %s", err, out)
	}
	if out, _ := rc("cache", "ls"); strings.Contains(out, key) {
		t.Fatalf("entry still listed after rm: %s", out)
	}
	rc("compile", wat)
	if out, err := rc("cache", "prune"); err != nil || !strings.Contains(out, "removed 1") {
		t.Fatalf("prune: %v %s", err, out)
	}
	if out, err := rc("compile", "/etc/hostname"); err == nil {
		t.Fatalf("compile of a text file succeeded: %s", out)
	}
}

// TestCacheSeesStoresThroughAMapping: a module changed by stores through
// a shared writable mapping runs as it now is. Only a page's first write
// fault changes a file's times, so a later store into a page still
// mapped changed the module without changing the identity runw's index
// knew it by, and runw ran the old module's cached code for ever, while
// the file said otherwise. The module is indexed only while nobody holds
// it for writing.
func TestCacheSeesStoresThroughAMapping(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "wat/exit7.wat")
	f, err := os.OpenFile(filepath.Join(b.rootfs, "exit7.wat"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	at := bytes.Index(m, []byte("(i32.const 7)")) + len("(i32.const ")
	for _, code := range []byte{'5', '3', '4'} {
		m[at] = code
		if res := r.run("run", "-b", b.dir, "mapped"); res.code != int(code-'0') {
			t.Errorf("the module now exits %c: run exited %d (%v)", code, res.code, res)
		}
	}
	// With no writer left, it is indexed, and a new mapping's first
	// store changes its times.
	unix.Munmap(m)
	if res := r.run("run", "-b", b.dir, "mapped"); res.code != 4 {
		t.Errorf("the module unmapped: run exited %d (%v), want 4", res.code, res)
	}
	m, err = unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	m[at] = '6'
	if res := r.run("run", "-b", b.dir, "mapped"); res.code != 6 {
		t.Errorf("the module mapped again and changed to exit 6: run exited %d (%v)", res.code, res)
	}
}

// TestCacheFromTheEnvironment: RUNW_CACHE_DIR and RUNW_CACHE_MAX set the
// cache where no flag can be given (containerd's shim and CRI-O call runw
// with flags of their own only); --cache-dir beats the variable, and an
// unparsable RUNW_CACHE_MAX is refused.
func TestCacheFromTheEnvironment(t *testing.T) {
	t.Parallel()
	fromEnv, fromFlag := t.TempDir(), t.TempDir()
	wat := filepath.Join("testdata", "wat", "hello.wat")
	compile := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(runwBin, append(args, "compile", wat)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := compile([]string{"RUNW_CACHE_DIR=" + fromEnv}); err != nil || !strings.Contains(out, "compiled") {
		t.Fatalf("compile with RUNW_CACHE_DIR: %v %s", err, out)
	}
	if entries, _ := os.ReadDir(fromEnv); len(entries) == 0 {
		t.Error("RUNW_CACHE_DIR's directory holds nothing after a compile")
	}
	if out, err := compile([]string{"RUNW_CACHE_DIR=" + fromEnv}, "--cache-dir", fromFlag); err != nil || !strings.Contains(out, "compiled") {
		t.Errorf("--cache-dir beside RUNW_CACHE_DIR: %v %s, want a compile into the flag's directory", err, out)
	}
	// Refused with one line and status 1, without the usage text a typed
	// flag gets: nobody typed the value, and an engine shows its caller
	// only the error line.
	out, err := compile([]string{"RUNW_CACHE_DIR=" + fromFlag, "RUNW_CACHE_MAX=lots"})
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, `RUNW_CACHE_MAX`) ||
		strings.Count(strings.TrimSuffix(out, "\n"), "\n") != 0 {
		t.Errorf("RUNW_CACHE_MAX=lots: %v %q, want it refused with one line and status 1", err, out)
	}
	// An empty --cache-dir turns the cache off: said so, where compile
	// and cache failed with "cache: mkdir : no such file or directory".
	for _, args := range [][]string{{"compile", wat}, {"cache", "ls"}, {"cache", "prune"}} {
		out, err := exec.Command(runwBin, append([]string{"--cache-dir", ""}, args...)...).CombinedOutput()
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || string(out) != "the compiled-module cache is disabled (an empty --cache-dir or RUNW_CACHE_DIR)\n" {
			t.Errorf("%v with an empty --cache-dir: %v %q", args, err, out)
		}
		cmd := exec.Command(runwBin, args...)
		cmd.Env = append(os.Environ(), "RUNW_CACHE_DIR=")
		out, err = cmd.CombinedOutput()
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || string(out) != "the compiled-module cache is disabled (an empty --cache-dir or RUNW_CACHE_DIR)\n" {
			t.Errorf("%v with an empty RUNW_CACHE_DIR: %v %q", args, err, out)
		}
	}
}

// TestCompileFailsWhenTheCacheCannotKeepIt covers a cache on a full or
// read-only disk: `runw compile` reported the module "compiled" (exit 0)
// while the cache held nothing. Here the artifact's name is taken by a
// directory, so that its rename fails, as a write on a full disk does.
// With room again, it compiles and keeps it. Its compile child hands the
// artifact back (runtime.fillCache): runw, not the child, writes the
// cache and reports the failure.
func TestCompileFailsWhenTheCacheCannotKeepIt(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	wat := filepath.Join("testdata", "wat", "hello.wat")
	out, err := exec.Command(runwBin, "--cache-dir", t.TempDir(), "compile", wat).CombinedOutput()
	if err != nil {
		t.Fatalf("compile: %v %s", err, out)
	}
	key := strings.Fields(string(out))[0]
	taken := filepath.Join(cache, key+".cwasm")
	if err := os.MkdirAll(filepath.Join(taken, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runwBin, "--cache-dir", cache, "compile", wat)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 || !strings.Contains(stderr.String(), "could not keep the artifact") {
		t.Fatalf("compile into a cache that cannot keep the artifact: exit %d, stdout %q, stderr %q; want 1 and one line saying so", code, stdout.String(), stderr.String())
	}
	oneLine(t, "compile", stderr.String())
	if err := os.RemoveAll(taken); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(runwBin, "--cache-dir", cache, "compile", wat).CombinedOutput(); err != nil || !strings.Contains(string(out), "\tcompiled\t") {
		t.Fatalf("compile with room: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(cache, key+".sum")); err != nil {
		t.Errorf("no entry for %s after the compile: %v", key, err)
	}
}

// TestForegroundExecWithTTY is CRI-O's exec: in the foreground, with a tty
// when asked, and the module's own exit status.
func TestForegroundExecWithTTY(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script (util-linux) not installed")
	}
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	r.mustRun("run", "--detach", "--bundle", b.dir, "fx")
	res := r.run("exec", "fx", "/probe.wasm", "isatty", "exit", "4")
	if res.code != 4 || strings.TrimSpace(res.stdout) != "notty" {
		t.Errorf("exec without tty: %v", res)
	}
	line := strings.Join([]string{runwBin, "--root", r.root, "--cache-dir", cacheDir, "exec", "-t", "fx", "/probe.wasm", "isatty", "exit", "6"}, " ")
	out, err := exec.Command("script", "-qec", line, "/dev/null").CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 6 || !strings.Contains(string(out), "tty") || strings.Contains(string(out), "notty") {
		t.Errorf("exec -t: exit %d, output %q", code, out)
	}
	if res := r.run("exec", "fx", "/nope.wasm"); res.code != 255 || !strings.Contains(res.stderr, "no such file") {
		t.Errorf("exec of a missing module: %v", res)
	}
}

// TestHooks: createRuntime and poststop hooks run with the state on
// stdin, and a failing hook fails create leaving nothing behind (no state
// directory, no cgroup, no init).
func TestHooks(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	out := t.TempDir()
	b := newBundle(t, "probe", "echo", "hi")
	b.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + out + "/created"}}},
			Poststop:      []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + out + "/stopped"}}},
		}
	})
	r.mustRun("run", "--bundle", b.dir, "hooked")
	for name, status := range map[string]string{"created": "creating", "stopped": "stopped"} {
		var st specs.State
		data, _ := os.ReadFile(filepath.Join(out, name))
		if err := json.Unmarshal(data, &st); err != nil || st.ID != "hooked" || string(st.Status) != status {
			t.Errorf("%s hook saw %q (%v)", name, data, err)
		}
	}

	b.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
	})
	res := r.run("create", "--bundle", b.dir, "badhook")
	if res.code != 1 || !strings.Contains(res.stderr, "hook") {
		t.Fatalf("create with a failing hook: %v", res)
	}
	r.assertRootEmpty()
	if left, _ := filepath.Glob("/sys/fs/cgroup/memory/runw/*badhook"); len(left) != 0 {
		t.Error("cgroup left behind by a failed create")
	}

	// A hook that leaves a child holding its stderr does not hold create
	// for the child's life; a hook that overruns its timeout is killed with
	// what it started.
	daemon, slow := filepath.Join(out, "daemon.pid"), filepath.Join(out, "slow.pid")
	t.Cleanup(func() {
		for _, f := range []string{daemon, slow} {
			if data, err := os.ReadFile(f); err == nil {
				// Only a sleep of the hook's: the pid may be another
				// test's process by now (pids wrap at 32,768 here).
				pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
				if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.HasPrefix(string(cmdline), "sleep\x00") {
					unix.Kill(pid, unix.SIGKILL)
				}
			}
		}
	})
	b.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "sleep 120 & echo $! > " + daemon}}}}
	})
	done := make(chan result, 1)
	go func() { done <- r.run("run", "--bundle", b.dir, "daemonhook") }()
	select {
	case res := <-done:
		if res.code != 0 || !strings.Contains(res.stdout, "hi") {
			t.Errorf("run with a hook that leaves a daemon: %v", res)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("run waited for the child a hook left holding its stderr")
	}
	b.edit(func(s *specs.Spec) {
		timeout := 1
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Timeout: &timeout,
			Args: []string{"sh", "-c", "sleep 120 & echo $! > " + slow + "; wait"}}}}
	})
	if res := r.run("create", "--bundle", b.dir, "slowhook"); res.code != 1 || !strings.Contains(res.stderr, "hook ran past specified timeout of 1.0s") {
		t.Errorf("create with a hook past its timeout: %v", res)
	}
	r.assertRootEmpty()
	if data, err := os.ReadFile(slow); err != nil {
		t.Errorf("the slow hook never ran: %v", err)
	} else if pid, _ := strconv.Atoi(strings.TrimSpace(string(data))); pid > 0 {
		waitGone(t, pid, 5*time.Second)
	}

	// A failing poststop hook is a warning: delete succeeds and the next
	// poststop hook still runs.
	b.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{
			{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 3"}},
			{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + out + "/second"}},
		}}
	})
	r.mustRun("create", "--bundle", b.dir, "badpoststop")
	r.mustRun("start", "badpoststop")
	r.waitStatus("badpoststop", "stopped", 10*time.Second)
	if res := r.run("delete", "badpoststop"); res.code != 0 || !strings.Contains(res.stderr, "poststop") {
		t.Errorf("delete with a failing poststop hook: %v", res)
	}
	if _, err := os.Stat(filepath.Join(out, "second")); err != nil {
		t.Errorf("the poststop hook after a failing one did not run: %v", err)
	}
	r.assertRootEmpty()

	// A failing poststart hook fails start and stops the container
	// (runtime-spec's lifecycle, step 9); delete then removes it.
	sleeper := newBundle(t, "probe", "sleep", "1h")
	sleeper.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo said; echo refused >&2; exit 7"}}}}
	})
	r.mustRun("create", "--bundle", sleeper.dir, "badpoststart")
	// runc's words, the hook's stderr quoted on the one line.
	if res := r.run("start", "badpoststart"); res.code != 1 || !strings.Contains(res.stderr, "poststart hook") || !strings.Contains(res.stderr, `error running hook: exit status 7, stderr: "refused"`) {
		t.Errorf("start with a failing poststart hook: %v", res)
	}
	r.waitStatus("badpoststart", "stopped", 5*time.Second)
	r.mustRun("delete", "badpoststart")
	r.assertRootEmpty()
}

// TestHookEnvironmentAsGiven: a hook whose spec gives an empty env runs
// with none, in every phase, as under runc; the record kept after create
// dropped the empty list (omitempty), and a startContainer, poststart or
// poststop hook ran with all of runw's environment.
func TestHookEnvironmentAsGiven(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	out := t.TempDir()
	b := newBundle(t, "probe", "echo", "hi")
	// Each kind's first hook is given an empty env, its second one
	// variable; each writes what it has to a file of its own.
	hook := func(kind string) []specs.Hook {
		return []specs.Hook{
			{Path: "/bin/sh", Args: []string{"sh", "-c", "/usr/bin/env > " + filepath.Join(out, "empty-"+kind)}, Env: []string{}},
			{Path: "/bin/sh", Args: []string{"sh", "-c", "/usr/bin/env > " + filepath.Join(out, kind)}, Env: []string{"ONLY=" + kind}},
		}
	}
	b.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			CreateRuntime:  hook("createRuntime"),
			StartContainer: hook("startContainer"),
			Poststart:      hook("poststart"),
			Poststop:       hook("poststop"),
		}
	})
	// specs.Hook drops an empty env when marshalled (omitempty): the
	// config.json an engine writes by hand says "env": [].
	config := filepath.Join(b.dir, "config.json")
	data, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, kind := range raw["hooks"].(map[string]any) {
		kind.([]any)[0].(map[string]any)["env"] = []string{}
	}
	if data, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r.mustRun("run", "--bundle", b.dir, "hookenv")
	for _, kind := range []string{"createRuntime", "startContainer", "poststart", "poststop"} {
		data, err := os.ReadFile(filepath.Join(out, kind))
		if err != nil || !strings.Contains(string(data), "ONLY="+kind+"\n") || strings.Contains(string(data), "PATH=/") {
			t.Errorf("%s hook given env [ONLY=%s]: saw %q (%v)", kind, kind, data, err)
		}
		data, err = os.ReadFile(filepath.Join(out, "empty-"+kind))
		if err != nil || strings.Contains(string(data), "PATH=") || strings.Contains(string(data), "HOME=") {
			t.Errorf("%s hook given an empty env: saw %q (%v), want no variable of runw's", kind, data, err)
		}
	}
}

// TestCreateKilledDuringHookLeavesNoContainer: create records the
// container only once its create hooks have run, as runc does. Recorded
// before them, a create killed while a hook ran left a container that
// `state` called created and `start` ran, its hooks unfinished; and
// `state` from a hook said "created" where the hook's stdin said
// "creating". Now the id is no container, start refuses it, and delete
// ends its init.
func TestCreateKilledDuringHookLeavesNoContainer(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	out := t.TempDir()
	stdin, seen, hookPid := filepath.Join(out, "stdin"), filepath.Join(out, "state"), filepath.Join(out, "hook.pid")
	b := newBundle(t, "probe", "echo", "ran")
	b.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
			fmt.Sprintf("cat > %s; %s --root %s state killedcreate > %s.tmp; mv %s.tmp %s; echo $$ > %s; exec sleep 60", stdin, runwBin, r.root, seen, seen, seen, hookPid)}}}}
	})
	bg := r.start("create", "--bundle", b.dir, "killedcreate")
	t.Cleanup(func() {
		if data, err := os.ReadFile(hookPid); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.HasPrefix(string(cmdline), "sleep\x00") {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for _, err := os.Stat(hookPid); err != nil; _, err = os.Stat(hookPid) {
		if time.Now().After(deadline) {
			t.Fatal("the createRuntime hook never ran")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var st containerState
	if data, _ := os.ReadFile(seen); json.Unmarshal(data, &st) != nil || st.Status != "creating" {
		t.Errorf("runw state from a createRuntime hook: %q, want status creating", data)
	}
	var hookState specs.State
	data, _ := os.ReadFile(stdin)
	if err := json.Unmarshal(data, &hookState); err != nil || hookState.Pid <= 0 {
		t.Fatalf("the hook's stdin: %q (%v)", data, err)
	}
	bg.cmd.Process.Kill()
	<-bg.done
	if res := r.run("state", "killedcreate"); res.code != 1 || !strings.Contains(res.stderr, "does not exist") {
		t.Errorf("state of a create killed during its hook: %v, want runc's container does not exist", res)
	}
	if res := r.run("start", "killedcreate"); res.code != 1 {
		t.Errorf("start of a create killed during its hook: %v, want it refused", res)
	}
	r.run("delete", "--force", "killedcreate")
	waitGone(t, hookState.Pid, 10*time.Second)
	r.assertRootEmpty()
}

// TestHookChildOutlivesItsOutput: a hook's child that writes to stdout
// after the hook has exited (a helper daemon that logs) goes on living:
// with the hook's stdout captured through a pipe that runw closed a
// second after the hook ended, the child died of SIGPIPE at its write.
func TestHookChildOutlivesItsOutput(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	marker := filepath.Join(t.TempDir(), "survived")
	b := newBundle(t, "probe", "echo", "hi")
	b.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
			"(sleep 2; echo still logging; touch " + marker + ") >&1 & exit 0"}}}}
	})
	r.mustRun("run", "-b", b.dir, "daemonout")
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(marker); err != nil; _, err = os.Stat(marker) {
		if time.Now().After(deadline) {
			t.Fatal("the hook's child died at its write to stdout after the hook ended")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPoststartHookCallsRunw: a poststart hook may call runw on its own
// container, as one may call runc: start held the container's lock while
// the hook ran, so the hook's `runw exec` waited for start, and start for
// the hook, for ever (runc holds no lock across commands).
func TestPoststartHookCallsRunw(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	out := filepath.Join(t.TempDir(), "exec.out")
	b := newBundle(t, "probe", "sleep", "1h")
	b.edit(func(s *specs.Spec) {
		timeout := 20
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/sh", Timeout: &timeout, Args: []string{"sh", "-c",
			fmt.Sprintf("%s --root %s exec selfhook /probe.wasm echo from-the-hook > %s", runwBin, r.root, out)}}}}
	})
	r.mustRun("create", "--bundle", b.dir, "selfhook")
	if res := r.run("start", "selfhook"); res.code != 0 {
		t.Errorf("start with a poststart hook that execs into the container: %v", res)
	}
	if data, _ := os.ReadFile(out); string(data) != "from-the-hook\n" {
		t.Errorf("the hook's exec printed %q, want from-the-hook", data)
	}
	r.mustRun("delete", "--force", "selfhook")
}

// TestFailedCreateHookRunsPoststop: a prestart, createRuntime or
// createContainer hook that fails ends create with an error and then runs
// the poststop hooks with the stopped state (runtime-spec lifecycle: steps
// 3 to 5 continue at 12 and 13), as runc's destroy does, so that a hook
// pair's teardown (a network, a device) undoes what the hooks before the
// failing one set up.
func TestFailedCreateHookRunsPoststop(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	out := t.TempDir()
	b := newBundle(t, "probe", "echo", "hi")
	// The second hook of its kind fails: the error names the kind and
	// its index, in runc's words ("error running createRuntime hook #1"),
	// which runc's own hook tests match.
	fail := []specs.Hook{{Path: "/bin/true"}, {Path: "/bin/sh", Args: []string{"sh", "-c", "exit 7"}}}
	for kind, set := range map[string]func(*specs.Hooks){
		//lint:ignore SA1019 prestart is deprecated but runc still runs it
		"prestart":        func(h *specs.Hooks) { h.Prestart = fail },
		"createRuntime":   func(h *specs.Hooks) { h.CreateRuntime = fail },
		"createContainer": func(h *specs.Hooks) { h.CreateContainer = fail },
	} {
		id := "undo-" + kind
		undone := filepath.Join(out, id)
		b.edit(func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + undone}}}}
			set(s.Hooks)
		})
		if res := r.run("create", "--bundle", b.dir, id); res.code != 1 || !strings.Contains(res.stderr, "exit status 7") || !strings.Contains(res.stderr, "error running "+kind+" hook #1:") {
			t.Errorf("create with a failing %s hook: %v", kind, res)
			continue
		}
		var st specs.State
		data, err := os.ReadFile(undone)
		if err != nil {
			t.Errorf("failing %s hook: no poststop hook ran (%v)", kind, err)
			continue
		}
		if err := json.Unmarshal(data, &st); err != nil || st.ID != id || st.Status != specs.StateStopped {
			t.Errorf("failing %s hook: the poststop hook saw %q (%v)", kind, data, err)
		}
	}
	r.assertRootEmpty()
}

// TestFailedStartContainerHookStops: a failing startContainer hook fails
// start and stops the container without running the guest (runtime-spec
// lifecycle, step 7), as under runc; a second start is refused.
func TestFailedStartContainerHookStops(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b := newBundle(t, "probe", "echo", "guest-ran")
	b.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo refused >&2; exit 7"}}}}
	})
	r.mustRun("create", "--bundle", b.dir, "badstart")
	if res := r.run("start", "badstart"); res.code != 1 || !strings.Contains(res.stderr, "startContainer hook") || !strings.Contains(res.stderr, "refused") {
		t.Errorf("start with a failing startContainer hook: %v", res)
	}
	r.waitStatus("badstart", "stopped", 5*time.Second)
	if res := r.run("start", "badstart"); res.code != 1 || !strings.Contains(res.stderr, "stopped") {
		t.Errorf("second start after a failing startContainer hook: %v", res)
	}
	r.mustRun("delete", "badstart")
	r.assertRootEmpty()
}

// TestCreateHooksRunWhereRuncs: runc's create works in the bundle
// directory, so its prestart and createRuntime hooks start there and its
// createContainer hooks in the root filesystem, whatever the caller's
// working directory; a hook may read config.json by its relative name.
// runc run stays there, so its poststart and poststop hooks do too.
func TestCreateHooksRunWhereRuncs(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	out := t.TempDir()
	b := newBundle(t, "probe", "echo", "hi")
	pwd := func(name string) []specs.Hook {
		return []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "pwd -P > " + filepath.Join(out, name)}}}
	}
	b.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: pwd("createRuntime"), CreateContainer: pwd("createContainer"),
			Poststart: pwd("poststart"), Poststop: pwd("poststop")}
		//lint:ignore SA1019 prestart is deprecated but runc still runs it
		s.Hooks.Prestart = pwd("prestart")
	})
	r.mustRun("run", "--bundle", b.dir, "hookdir")
	bundle, _ := filepath.EvalSymlinks(b.dir)
	for name, want := range map[string]string{"prestart": bundle, "createRuntime": bundle, "createContainer": filepath.Join(bundle, "rootfs"),
		"poststart": bundle, "poststop": bundle} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if got := strings.TrimSpace(string(data)); err != nil || got != want {
			t.Errorf("%s hook ran in %q (%v), want %q", name, got, err, want)
		}
	}
}

// TestSandboxAnnotationsAreHandedOff: a pod's sandbox container goes to
// the native runtime whatever its entrypoint, under containerd's and
// CRI-O's annotations alike, each naming the sandbox's id, which is the
// sandbox container's own. The native runtime named here does not exist,
// so the error proves which path create took. The attack: the type
// annotation alone, which podman copies from an image's own annotations
// into config.json, handed any image's native entrypoint to runc as a
// sandbox, past runw's refusal of a native container whose network the
// user narrowed.
func TestSandboxAnnotationsAreHandedOff(t *testing.T) {
	t.Parallel()
	for kind, idKey := range map[string]string{
		"io.kubernetes.cri.container-type":  "io.kubernetes.cri.sandbox-id",
		"io.kubernetes.cri-o.ContainerType": "io.kubernetes.cri-o.SandboxID",
	} {
		r := newRunw(t)
		b := newBundle(t, "probe", "echo", "hi")
		b.edit(func(s *specs.Spec) { s.Annotations = map[string]string{kind: "sandbox", idKey: "sb"} })
		res := r.run("--native-runtime", "/nonexistent/runc", "create", "--bundle", b.dir, "sb")
		if res.code != 1 || !strings.Contains(res.stderr, "no native OCI runtime") {
			t.Errorf("%s=sandbox, %s=sb, id sb: %v", kind, idKey, res)
		}
		r.assertRootEmpty()
		// Without the annotation, or with a sandbox id not its own (an
		// image's), the same bundle is wasm and runs here.
		for _, a := range []map[string]string{{kind: "container", idKey: "app"}, {kind: "sandbox"}, {kind: "sandbox", idKey: "other"}} {
			b.edit(func(s *specs.Spec) { s.Annotations = a })
			if res := r.run("--native-runtime", "/nonexistent/runc", "run", "--bundle", b.dir, "app"); res.code != 0 || !strings.Contains(res.stdout, "hi") {
				t.Errorf("%v, id app: %v", a, res)
			}
		}
	}
}

// TestDeleteEndsExecProcesses: this container has no pid namespace, so the
// init's death does not end exec'd processes; kill KILL and delete must,
// and the cgroup must go.
func TestDeleteEndsExecProcesses(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	r.mustRun("run", "--detach", "--bundle", b.dir, "ex")
	pid := r.execDetached("ex", "/probe.wasm", "sleep", "1h")
	pidsDir := cgroupOf(t, "pids", "ex")
	r.mustRun("kill", "ex", "KILL")
	waitGone(t, pid, 5*time.Second)
	// kill returns once the signal is sent, as runc's does: the init may
	// still be dying, and delete refuses a container that is not stopped.
	r.waitStatus("ex", "stopped", 10*time.Second)
	// "stopped" comes as soon as the init is a zombie; the kernel lists it
	// in the cgroup until it is reaped (by pid 1: the init was detached),
	// and runc's ps lists it then too.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if procs, err := os.ReadFile(filepath.Join(pidsDir, "cgroup.procs")); err != nil || len(procs) == 0 {
			break
		}
	}
	// A stopped container has no process: runc's ps -f json prints null
	// (its empty list of pids, encoded as Go encodes a nil slice).
	if res := r.mustRun("ps", "--format", "json", "ex"); res.stdout != "null\n" {
		t.Errorf("ps --format json of a stopped container: %q, want runc's null", res.stdout)
	}
	r.mustRun("delete", "ex")
	if _, err := os.Stat(pidsDir); err == nil {
		t.Error("cgroup left after delete")
	}
}

// TestKillAllReachesExecProcesses: kill --all (podman stop, CRI-O and
// containerd send it) signals every process in the container's cgroup, as
// runc's does: without a pid namespace an exec'd process outlives the init
// and would keep the container from being removed. It is still sent once
// the init is gone.
func TestKillAllReachesExecProcesses(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	r.mustRun("run", "--detach", "--bundle", b.dir, "ka")
	execd := func(id string) int { return r.execDetached(id, "/probe.wasm", "sleep", "1h") }
	first := execd("ka")
	r.mustRun("kill", "--all", "ka", "TERM")
	waitGone(t, first, 10*time.Second)
	r.waitStatus("ka", "stopped", 10*time.Second)

	// Stopped, with a straggler: kill --all still reaches it.
	r.mustRun("run", "--detach", "--bundle", b.dir, "kb")
	straggler := execd("kb")
	st, _, _ := r.state("kb")
	unix.Kill(st.Pid, unix.SIGKILL) // the init alone
	r.waitStatus("kb", "stopped", 10*time.Second)
	if err := unix.Kill(straggler, 0); err != nil {
		t.Fatalf("the exec'd process died with the init: %v", err)
	}
	r.mustRun("kill", "--all", "kb", "TERM")
	waitGone(t, straggler, 10*time.Second)
	r.mustRun("delete", "ka")
	r.mustRun("delete", "kb")

	// The exec'd processes get the signal itself, as under runc (which
	// freezes the cgroup and signals them all): signalled after the
	// init, which a wasm guest's SIGTERM ends at once, they were found
	// SIGKILLed by its pid namespace's end, 137 for containerd's exit
	// events where runc's give 143.
	b.edit(ownMountAndPID)
	r.mustRun("run", "--detach", "--bundle", b.dir, "kc")
	var execs []*background
	for i := 0; i < 2; i++ {
		// The pid file is written once the process has reported.
		pidFile := filepath.Join(t.TempDir(), "pid")
		execs = append(execs, r.start("exec", "--pid-file", pidFile, "kc", "/probe.wasm", "sleep", "1h"))
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(pidFile); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("exec %d did not start", i)
			}
		}
	}
	r.mustRun("kill", "--all", "kc", "TERM")
	for i, bg := range execs {
		if res := bg.wait(t, 10*time.Second); res.code != 143 {
			t.Errorf("exec %d after kill --all TERM: %v, want 143 (the signal, not the SIGKILL of the init's end)", i, res)
		}
	}
	r.waitStatus("kc", "stopped", 10*time.Second)
	r.mustRun("delete", "kc")
}

// TestKillAllWithFewDescriptors: kill --all under a low RLIMIT_NOFILE
// still signals every process and leaves the cgroup thawed. It keeps a
// pidfd for each process it waits for: past the limit, pidfd_open's
// EMFILE was taken for a process gone and the rest got no signal, and
// the thaw, short of a descriptor, failed, leaving the container paused.
func TestKillAllWithFewDescriptors(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	prlimit := toolOrSkip(t, "prlimit", "(util-linux) to start runw under a low RLIMIT_NOFILE")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	r.mustRun("run", "--detach", "--bundle", b.dir, "fewfds")
	var execs []int
	for i := 0; i < 12; i++ {
		execs = append(execs, r.execDetached("fewfds", "/probe.wasm", "sleep", "1h"))
	}
	cmd, stdout, stderr := r.command(t.Context(), "kill", "--all", "fewfds", "TERM")
	cmd.Args = append([]string{"prlimit", "--nofile=14:14", "--", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = prlimit
	if res := finish(cmd, cmd.Run(), stdout, stderr); res.code != 0 {
		t.Fatalf("kill --all with 14 descriptors: %v", res)
	}
	for _, pid := range execs {
		waitGone(t, pid, 10*time.Second)
	}
	r.waitStatus("fewfds", "stopped", 10*time.Second)
	r.mustRun("delete", "fewfds")
}

// TestExecMetByItsContainersEnd: an exec'd process in the container's pid
// namespace that the init's end kills before it reports says the
// container stopped, as an exec that found it stopped does, not
// "exec'd process exited without reporting: killed by signal SIGKILL".
// The exec is held frozen (--ignore-paused into a paused container) while
// the init is killed; the resume lets both go.
func TestExecMetByItsContainersEnd(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	b.edit(ownMountAndPID)
	r.mustRun("run", "--detach", "--bundle", b.dir, "metend")
	st, _, _ := r.state("metend")
	r.mustRun("pause", "metend")
	bg := r.start("exec", "--ignore-paused", "metend", "/probe.wasm", "echo", "late")
	// In the pid namespace and frozen, once it is in the cgroup.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res := r.run("ps", "--format", "json", "metend"); res.code == 0 && strings.Count(res.stdout, ",") >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the exec'd process never reached the container's cgroup")
		}
	}
	unix.Kill(st.Pid, unix.SIGKILL)
	r.mustRun("resume", "metend")
	res := bg.wait(t, 20*time.Second)
	if res.code != 255 || !strings.Contains(res.stderr, "cannot exec in a stopped container") {
		t.Errorf("exec whose container ended under it: %v, want 255 and \"cannot exec in a stopped container\"", res)
	}
	r.waitStatus("metend", "stopped", 10*time.Second)
	r.mustRun("delete", "metend")
}

// TestGuestExitStatusAbove125: proc_exit(200) is 200, as for a native
// process (wasmtime alone would trap on statuses of 126 and more).
func TestGuestExitStatusAbove125(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	for _, code := range []string{"126", "200", "255"} {
		b := newBundle(t, "probe", "exit", code)
		res := r.run("run", "--bundle", b.dir, "x"+code)
		if strconv.Itoa(res.code) != code || res.stderr != "" {
			t.Errorf("exit %s: %v", code, res)
		}
	}
}

// TestDeleteAfterAbortedCreate: a create killed mid-way (go-runc cancels
// its context) leaves an init behind; delete must end it and clean up.
func TestDeleteAfterAbortedCreate(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b := newBundle(t, "probe", "echo", "hi")
	// No cache: the init compiles for about a second, time to kill create.
	cmd := exec.Command(runwBin, "--root", r.root, "--cache-dir", "", "create", "--bundle", b.dir, "ab")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The record names the cgroup first (pid 0), then the init.
	rec := filepath.Join(r.root, "ab", "init.pid")
	pid := 0
	for deadline := time.Now().Add(5 * time.Second); pid == 0 && time.Now().Before(deadline); {
		if data, err := os.ReadFile(rec); err == nil && len(strings.Fields(string(data))) > 0 {
			pid, _ = strconv.Atoi(strings.Fields(string(data))[0])
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if pid == 0 {
		t.Fatalf("the init record never named the init")
	}
	r.mustRun("delete", "ab")
	waitGone(t, pid, 5*time.Second)
	r.assertRootEmpty()
}

// TestDeleteAfterCreateKilledBeforeInit: create makes the cgroup before
// the init exists, after recording it with pid 0; a create killed between
// the two leaves that record and an empty cgroup, which delete removes.
// The test plants what such a create leaves (killing a real one in that
// instant cannot be timed).
func TestDeleteAfterCreateKilledBeforeInit(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	cg := fmt.Sprintf("/runw-test-early-%d", time.Now().UnixNano())
	var made []string
	for _, h := range []string{"pids", "memory", "unified", ""} {
		// Only cgroup hierarchies: on a v1 host /sys/fs/cgroup is a tmpfs.
		var st unix.Statfs_t
		if unix.Statfs(filepath.Join("/sys/fs/cgroup", h), &st) != nil ||
			st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
			continue
		}
		dir := filepath.Join("/sys/fs/cgroup", h, cg)
		if err := os.Mkdir(dir, 0o755); err == nil {
			made = append(made, dir)
		}
	}
	t.Cleanup(func() {
		for _, dir := range made {
			os.Remove(dir)
		}
	})
	if len(made) == 0 {
		t.Skip("cannot make a cgroup under /sys/fs/cgroup")
	}
	// What create leaves when killed right after making the cgroup.
	dir := filepath.Join(r.root, "early")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "init.pid"), []byte("0 0 "+cg), 0o600); err != nil {
		t.Fatal(err)
	}
	r.mustRun("delete", "early")
	for _, d := range made {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup %s left after delete", d)
		}
	}
	r.assertRootEmpty()

	// The same record, but another container has taken the cgroup since
	// (create refuses only a cgroup with processes in it): delete must
	// neither kill its process nor remove its cgroup.
	pidsDir := filepath.Join("/sys/fs/cgroup/pids", cg)
	if err := os.Mkdir(pidsDir, 0o755); err != nil {
		t.Skipf("no v1 pids hierarchy for the second half: %v", err)
	}
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		other.Process.Kill()
		other.Wait()
		os.WriteFile("/sys/fs/cgroup/pids/cgroup.procs", []byte(strconv.Itoa(other.Process.Pid)), 0)
		os.Remove(pidsDir)
	})
	if err := os.WriteFile(filepath.Join(pidsDir, "cgroup.procs"), []byte(strconv.Itoa(other.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "init.pid"), []byte("0 0 "+cg), 0o600); err != nil {
		t.Fatal(err)
	}
	r.mustRun("delete", "early")
	// Still running, not a zombie waiting for this test to reap it.
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", other.Process.Pid)); err != nil ||
		strings.Contains(string(stat), ") Z ") {
		t.Errorf("delete of a create killed before its init killed another container's process: %q %v", stat, err)
	}
	if _, err := os.Stat(pidsDir); err != nil {
		t.Errorf("delete removed a cgroup another container holds: %v", err)
	}
	r.assertRootEmpty()
}

// cgroupOf finds the one cgroup runw made for id in a v1 controller
// (/runw/<id> under the default root, /runw/<hash>-<id> under others).
func cgroupOf(t *testing.T, controller, id string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", controller, "runw", "*-"+id))
	if len(dirs) != 1 {
		t.Fatalf("cgroup of %s in %s: found %v", id, controller, dirs)
	}
	return dirs[0]
}

// TestUsersCacheDefaultsToTheirOwn: a user (or rootless podman's root of
// a user namespace) cannot write /var/lib/runw/cache, and with it as the
// default the cache was disabled and every container compiled its
// module. The default is the user's: $XDG_CACHE_HOME/runw, ~/.cache/runw,
// and with no home at all $XDG_RUNTIME_DIR/runw-cache.
func TestUsersCacheDefaultsToTheirOwn(t *testing.T) {
	needsRoot(t, "runs runw as another user")
	dir := t.TempDir()
	traversable(t, dir)
	// The user's home exists, as a home does (one that does not is no
	// home: the last cases).
	for _, d := range []string{dir, filepath.Join(dir, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	bin := runwFor(t, dir)
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"XDG_CACHE_HOME=" + dir + "/xdg", "HOME=" + dir + "/home"}, dir + "/xdg/runw"},
		{[]string{"HOME=" + dir + "/home", "XDG_RUNTIME_DIR=" + dir}, dir + "/home/.cache/runw"},
		// nobody's home in /etc/passwd: no home at all (first to make
		// runw-cache, which the next case finds made).
		{[]string{"HOME=/nonexistent", "XDG_RUNTIME_DIR=" + dir}, dir + "/runw-cache"},
		{[]string{"XDG_RUNTIME_DIR=" + dir}, dir + "/runw-cache"},
	} {
		cmd := exec.Command(bin, "cache", "ls")
		cmd.Env = c.env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("runw cache ls as uid %d with %q: %v: %s", nobody, c.env, err, out)
			continue
		}
		if fi, err := os.Stat(c.want); err != nil || !fi.IsDir() || fi.Sys().(*syscall.Stat_t).Uid != nobody {
			t.Errorf("with %q the user's cache %s was not made (%v)", c.env, c.want, err)
		}
	}
}

// TestRootlessLimitsWithoutACgroupAreRefused: run by a user on a host
// that gives it no cgroup (cgroup v1 here delegates none), a rootless
// container that asks for a limit, or names its cgroup, fails as under
// runc; runw ran it with no limit and said nothing. Without either it
// runs, as rootless runc does.
func TestRootlessLimitsWithoutACgroupAreRefused(t *testing.T) {
	// A v2 host may delegate a cgroup to the user: nothing to refuse.
	dir, bin := nobodyOnCgroupV1(t, "a cgroup v2 host: a user may be given a cgroup")
	asNobody := nobodyRunw(t, dir, bin)
	bundle := rootlessBundle(t, dir, bin, func(*specs.Spec) {}, "echo", "hi")
	var s specs.Spec
	if data, err := os.ReadFile(filepath.Join(bundle, "config.json")); err != nil || json.Unmarshal(data, &s) != nil {
		t.Fatalf("read the rootless spec: %v", err)
	}
	limit := int64(100)
	for _, c := range []struct {
		name string
		edit func(*specs.Spec)
		want string
	}{
		{"no limit", func(*specs.Spec) {}, "hi\n"},
		{"a pids limit", func(s *specs.Spec) { s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}} },
			"cannot set pids limit: container could not join or create cgroup\n"},
		{"a cgroup path", func(s *specs.Spec) { s.Linux.CgroupsPath = "/runw-test-rootless" }, "permission denied\n"},
	} {
		cs := s
		linux := *s.Linux
		cs.Linux = &linux
		c.edit(&cs)
		data, err := json.Marshal(&cs)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := asNobody("run", "--bundle", bundle, "rl")
		if wantCode := map[bool]int{true: 0, false: 1}[c.want == "hi\n"]; code != wantCode || !strings.HasSuffix(out, c.want) {
			t.Errorf("%s: exit %d, %q; want exit %d and %q", c.name, code, out, wantCode, c.want)
		}
	}
	// Running without a cgroup, pause and update say so in runc's words,
	// not with the path of a freezer or memory file never made.
	s.Process.Args = []string{"/probe.wasm", "sleep", "1h"}
	data, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := asNobody("run", "-d", "--bundle", bundle, "rl2"); code != 0 {
		t.Fatalf("run -d: %s", out)
	}
	defer asNobody("delete", "--force", "rl2")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pause", "rl2"}, "cannot toggle freezer: cgroups not configured for container\n"},
		{[]string{"update", "--memory", "67108864", "rl2"}, "cannot set memory limit: container could not join or create cgroup\n"},
	} {
		if out, code := asNobody(c.args...); code != 1 || out != c.want {
			t.Errorf("%v without a cgroup: exit %d, %q; want exit 1 and %q", c.args, code, out, c.want)
		}
	}
}

// nobody is the uid and gid of the user the tests run runw as.
const nobody = 65534

// nobodyRunw runs runw (bin) as nobody, its state and cache in dir.
func nobodyRunw(t *testing.T, dir, bin string) func(args ...string) (string, int) {
	return func(args ...string) (string, int) {
		return runAsNobody(t, dir, append([]string{bin, "--root", filepath.Join(dir, "state"), "--cache-dir", filepath.Join(dir, "cache")}, args...)...)
	}
}

// runAsNobody runs argv as nobody, with XDG_RUNTIME_DIR and HOME dir, and
// returns its output (stdout and stderr) and exit status.
func runAsNobody(t *testing.T, dir string, argv ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"XDG_RUNTIME_DIR=" + dir, "HOME=" + dir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	// A file, not a pipe: a detached container's init holds it.
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// nobodyOnCgroupV1 is the start of a parallel test that runs runw as
// nobody on a host with cgroup v1 hierarchies: it needs root, skips a
// cgroup v2 host saying onV2, and returns runwForNobody's copy.
func nobodyOnCgroupV1(t *testing.T, onV2 string) (dir, bin string) {
	t.Helper()
	needsRoot(t, "runs runw as another user")
	t.Parallel()
	if unifiedRoot() == "/sys/fs/cgroup" {
		t.Skip(onV2)
	}
	return runwForNobody(t)
}

// runwForNobody makes a directory of nobody's and copies runw into it
// (runwFor).
func runwForNobody(t *testing.T) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	traversable(t, dir)
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	return dir, runwFor(t, dir)
}

// runwFor copies runw into dir for another user to run: runwBin sits in
// a directory only root can enter.
func runwFor(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "runw")
	if err := copyFile(runwBin, bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestRootlessNeedsAUserNamespace: runw run by a user other than root, of
// a spec with no user namespace (`runw spec` without --rootless), fails
// at once with runc's words and leaves nothing; it failed half-way, at a
// chown of the container's /tmp.
func TestRootlessNeedsAUserNamespace(t *testing.T) {
	needsRoot(t, "runs runw as another user")
	t.Parallel()
	dir, bin := runwForNobody(t)
	b := newBundle(t, "probe", "echo", "hi")
	traversable(t, b.dir)
	for _, p := range []string{b.dir, filepath.Join(b.dir, "config.json"), b.rootfs, filepath.Join(b.rootfs, "probe.wasm")} {
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, "state")
	cmd := exec.Command(bin, "--root", root, "--cache-dir", filepath.Join(dir, "cache"), "run", "-b", b.dir, "rootless")
	cmd.Env = []string{"XDG_RUNTIME_DIR=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || strings.TrimSpace(string(out)) != "rootless container requires user namespaces" {
		t.Errorf("runw run as uid %d without a user namespace: %v, %q; want exit 1 and runc's words", nobody, err, out)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "*")); len(left) > 0 {
		t.Errorf("left in the state root: %v", left)
	}
}

// TestPidfdSocketsAndPidFileMode: create and exec send a pidfd of the
// process they start over --pidfd-socket, as runc does (exec accepted the
// flag and sent nothing, so a caller waiting on its socket hung), and a
// --pid-file is made with mode 0666 less runw's umask, as runc's is (it
// was 0644 whatever the umask).
func TestPidfdSocketsAndPidFileMode(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "runw-umask-077")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\numask 077\nexec "+runwBin+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.bin = wrapper
	b := newBundle(t, "probe", "sleep", "30s")

	check := func(what string, pidfd <-chan int, pidFile string) {
		t.Helper()
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatalf("%s --pid-file: %v", what, err)
		}
		pid, _ := strconv.Atoi(string(data))
		if got := <-pidfd; got != pid || pid <= 0 {
			t.Errorf("%s --pidfd-socket: a pidfd of pid %d; the pid file says %q", what, got, data)
		}
		if fi, err := os.Stat(pidFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s --pid-file under umask 077: %v, %v; want mode 0600", what, fi.Mode(), err)
		}
	}
	pidfd := receivePidfd(t, filepath.Join(dir, "create.sock"))
	r.mustRun("create", "--pidfd-socket", filepath.Join(dir, "create.sock"), "--pid-file", filepath.Join(dir, "create.pid"), "-b", b.dir, "pidfds")
	check("create", pidfd, filepath.Join(dir, "create.pid"))
	r.mustRun("start", "pidfds")
	pidfd = receivePidfd(t, filepath.Join(dir, "exec.sock"))
	r.mustRun("exec", "-d", "--pidfd-socket", filepath.Join(dir, "exec.sock"), "--pid-file", filepath.Join(dir, "exec.pid"), "pidfds", "/probe.wasm", "sleep", "30s")
	check("exec", pidfd, filepath.Join(dir, "exec.pid"))
	r.mustRun("delete", "--force", "pidfds")
}

// receivePidfd listens on sock for one message carrying one descriptor,
// as an engine's --pidfd-socket does, and sends on the channel the pid
// that descriptor is a pidfd of (its fdinfo's Pid), -1 for anything else.
func receivePidfd(t *testing.T, sock string) <-chan int {
	t.Helper()
	ch := make(chan int, 1)
	fds := receiveFd(t, sock)
	go func() {
		pid := -1
		if fd := <-fds; fd >= 0 {
			defer unix.Close(fd)
			info, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
			for _, line := range strings.Split(string(info), "\n") {
				if v, ok := strings.CutPrefix(line, "Pid:"); ok {
					pid, _ = strconv.Atoi(strings.TrimSpace(v))
				}
			}
		}
		ch <- pid
	}()
	return ch
}

// receiveFd listens on sock for one message carrying one descriptor, as
// an engine's --pidfd-socket or --console-socket does, and sends the
// descriptor on the channel (the receiver closes it), -1 for anything
// else.
func receiveFd(t *testing.T, sock string) <-chan int {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan int, 1)
	go func() {
		defer l.Close()
		fd := -1
		defer func() { ch <- fd }()
		l.SetDeadline(time.Now().Add(30 * time.Second))
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 64), make([]byte, 64)
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			for _, f := range fds {
				unix.Close(f)
			}
			return
		}
		fd = fds[0]
	}()
	return ch
}

// TestConsoleSize: the pty runw sends over --console-socket, for create
// and for exec, has process.consoleSize, as runc's init sizes its console
// before sending it (podman fills consoleSize for -t; conmon reads the
// size from the master). runw sent it at 0x0.
func TestConsoleSize(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	dir := t.TempDir()
	b := newBundle(t, "probe", "sleep", "30s")
	b.edit(func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 111}
	})
	size := func(what string, fds <-chan int, want unix.Winsize) {
		t.Helper()
		fd := <-fds
		if fd < 0 {
			t.Fatalf("%s: no console received", what)
		}
		// Held to the end: the guest would see its terminal hang up.
		t.Cleanup(func() { unix.Close(fd) })
		ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		if err != nil || ws.Row != want.Row || ws.Col != want.Col {
			t.Errorf("%s: the console's size is %+v (%v), want %dx%d", what, ws, err, want.Row, want.Col)
		}
	}
	fds := receiveFd(t, filepath.Join(dir, "create.sock"))
	r.mustRun("create", "--console-socket", filepath.Join(dir, "create.sock"), "-b", b.dir, "sized")
	size("create", fds, unix.Winsize{Row: 33, Col: 111})
	r.mustRun("start", "sized")
	proc := b.spec.Process
	proc.Args = []string{"/probe.wasm", "echo", "x"}
	proc.ConsoleSize = &specs.Box{Height: 20, Width: 70}
	data, err := json.Marshal(proc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "process.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	fds = receiveFd(t, filepath.Join(dir, "exec.sock"))
	r.mustRun("exec", "-d", "--console-socket", filepath.Join(dir, "exec.sock"), "-p", filepath.Join(dir, "process.json"), "sized")
	size("exec", fds, unix.Winsize{Row: 20, Col: 70})
	r.mustRun("delete", "--force", "sized")
}

// TestRootSharedWithRunc: Docker gives runc and every runtime it is told
// of one state root (/run/docker/runtime-runc/moby). runw must not take
// a runc container there for its own: list leaves it out without a word,
// and every verb refuses it with one line; above all delete --force, which
// would remove runc's record and orphan its live init. runc keeps its
// container, and runw its own. A directory of crun's (a "status" file,
// no state.json) is no runw create under way or abandoned either.
func TestRootSharedWithRunc(t *testing.T) {
	needsRoot(t, "runs a runc container")
	busybox := engStaticBusybox()
	if _, err := exec.LookPath("runc"); err != nil || busybox == "" {
		t.Skip("needs runc and a static busybox (integration/deps.sh installs them)")
	}
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "60s")
	r.mustRun("create", "--bundle", b.dir, "w")
	id := fmt.Sprintf("runw-shared-%d", time.Now().UnixNano())
	pid := runcBusybox(t, busybox, r.root, id, func(*specs.Spec) {})
	defer exec.Command("runc", "--root", r.root, "delete", "--force", id).Run()

	res := r.mustRun("list", "--format", "json")
	var list []containerState
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
		t.Fatalf("list: %v: %q", err, res.stdout)
	}
	if len(list) != 1 || list[0].ID != "w" || res.stderr != "" {
		t.Errorf("list with runc's container beside: %+v, stderr %q", list, res.stderr)
	}
	for _, args := range [][]string{
		{"state", id}, {"start", id}, {"kill", id, "KILL"}, {"pause", id},
		{"delete", id}, {"delete", "--force", id}, {"exec", id, "/probe.wasm"},
	} {
		res := r.run(args...)
		want := 1
		if args[0] == "exec" {
			want = 255 // runc's status for a failed exec
		}
		if res.code != want || !strings.Contains(res.stderr, "another runtime") {
			t.Errorf("runw %s on runc's container: %v", strings.Join(args, " "), res)
		}
		oneLine(t, args[0], res.stderr)
	}

	if procGone(pid) {
		t.Fatal("runc's init was killed")
	}
	out, err := exec.Command("runc", "--root", r.root, "state", id).Output()
	var st containerState
	if err != nil || json.Unmarshal(out, &st) != nil || st.Status != "created" || st.Pid != pid {
		t.Fatalf("runc state after runw's verbs: %v %s", err, out)
	}
	if st, _, _ := r.state("w"); st.Status != "created" {
		t.Errorf("runw's own container: %+v", st)
	}
	if out, err := exec.Command("runc", "--root", r.root, "delete", "--force", id).CombinedOutput(); err != nil {
		t.Fatalf("runc delete: %v\n%s", err, out)
	}
	waitGone(t, pid, 10*time.Second)

	// crun's directory has no state.json at all, its record in "status":
	// no create of runw's under way either, nor one to clean up.
	crun := filepath.Join(r.root, "crun-made")
	if err := os.Mkdir(crun, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crun, "status"), []byte(`{"pid":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(crun)
	if res := r.mustRun("list", "-q"); res.stdout != "w\n" || res.stderr != "" {
		t.Errorf("list with crun's directory beside: %v", res)
	}
	for _, args := range [][]string{{"state", "crun-made"}, {"checkpoint", "crun-made"}, {"delete", "--force", "crun-made"}} {
		res := r.run(args...)
		if res.code != 1 || !strings.Contains(res.stderr, "another runtime") {
			t.Errorf("runw %s: %v", strings.Join(args, " "), res)
		}
	}
	if _, err := os.Stat(filepath.Join(crun, "status")); err != nil {
		t.Errorf("crun's directory after runw's verbs: %v", err)
	}
}

// waitsOnFifo says a thread of pid is blocked opening a fifo.
func waitsOnFifo(pid int) bool {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		if w, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/wchan", pid, task.Name())); string(w) == "wait_for_partner" {
			return true
		}
	}
	return false
}

// TestStartCutShortCanBeRetried: start records the guest released before
// it releases it (so that a record it cannot write starts nothing); a
// start killed between the two left a container that read as running,
// whose guest never ran and which no start could release. It reads as
// created while its init waits at the exec fifo, as runc (which goes by
// the fifo) reports it, and a second start releases it. The cut is made
// by hand: the record as the killed start left it.
func TestStartCutShortCanBeRetried(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	out := filepath.Join(t.TempDir(), "ran")
	b := newBundle(t, "probe", "write", "/out/ran", "yes", "sleep", "30s")
	b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount("/out", filepath.Dir(out))) })
	r.mustRun("create", "-b", b.dir, "cut")
	// A start is cut short long after create: the init waits on its fifo
	// by then (create returns once it reported, a moment before).
	st, _, _ := r.state("cut")
	for deadline := time.Now().Add(10 * time.Second); !waitsOnFifo(st.Pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the init never waited on its fifo")
		}
	}
	record := filepath.Join(r.root, "cut", "state.json")
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["started"] = true
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _, ok := r.state("cut"); !ok || st.Status != "created" {
		t.Errorf("a container whose start was cut short before the release: %+v, want created", st)
	}
	if res := r.run("start", "cut"); res.code != 0 {
		t.Errorf("start again: %v", res)
	}
	r.waitStatus("cut", "running", 5*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for got, _ := os.ReadFile(out); string(got) != "yes"; got, _ = os.ReadFile(out) {
		if time.Now().After(deadline) {
			t.Fatalf("the guest did not run after the second start: %q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.mustRun("delete", "--force", "cut")
}

// TestEventsReportsAnOOMKill: an OOM kill in the container's cgroup is an
// oom event on the stream, as runc's events gives one, before the stream
// ends with the container. The guest fills a tmpfs, whose pages its
// memory cgroup pays for and cannot reclaim. runw's stream had stats only.
func TestEventsReportsAnOOMKill(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups and a tmpfs")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1s", "writen", "/tmp/big", "200000000")
	b.edit(memoryLimit(32 << 20))
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	})
	r.mustRun("run", "-d", "-b", b.dir, "oomev")
	res := r.run("events", "--interval", "10s", "oomev")
	if res.code != 0 || !strings.Contains(res.stdout, `{"type":"oom","id":"oomev"}`) {
		t.Errorf("events of a container whose guest is OOM-killed: %v; want an oom event", res)
	}
	if st, _, ok := r.state("oomev"); !ok || st.Status != "stopped" {
		t.Errorf("the container after the OOM kill: %+v", st)
	}
}

// TestEventsStreamEndsWithTheContainer: `events` streams stats until the
// container stops and then ends with success, as runc's does once the
// container's cgroup goes; it exited 1 ("container not running") at the
// stop. Asked of a container already stopped, it is runc's error.
func TestEventsStreamEndsWithTheContainer(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1500ms")
	r.mustRun("run", "-d", "-b", b.dir, "ev")
	res := r.run("events", "--interval", "200ms", "ev")
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if res.code != 0 || len(lines) < 2 || res.stderr != "" {
		t.Fatalf("events until the guest exits: exit %d, %d events, stderr %q", res.code, len(lines), res.stderr)
	}
	for _, l := range lines {
		var ev struct{ Type, ID string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Type != "stats" || ev.ID != "ev" {
			t.Errorf("event %q: %+v %v", l, ev, err)
		}
	}
	res = r.run("events", "ev")
	if res.code != 1 || !strings.Contains(res.stderr, "container with id ev is not running") {
		t.Errorf("events of a stopped container: %v", res)
	}
	oneLine(t, "events", res.stderr)
}

// TestUnknownCapabilityWarned: a capability name neither runw nor this
// kernel knows is left out with runc's warning, at create and at exec,
// and the container runs, as under runc 1.1; runw left it out without a
// word (below --debug).
func TestUnknownCapabilityWarned(t *testing.T) {
	t.Parallel()
	needsRoot(t, "sets the container's capabilities")
	const warning = "ignoring unknown or unavailable capabilities: [CAP_BOGUS CAP_NOT_A_CAP]"
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "60s")
	b.edit(func(s *specs.Spec) {
		ownMountAndPID(s)
		caps := []string{"CAP_KILL", "CAP_BOGUS"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: append(caps, "CAP_NOT_A_CAP")}
	})
	res := r.mustRun("run", "-d", "-b", b.dir, "unknowncap")
	defer r.run("delete", "--force", "unknowncap")
	if !strings.Contains(res.stderr, warning) {
		t.Errorf("run -d: stderr %q, want runc's warning %q", res.stderr, warning)
	}
	res = r.mustRun("exec", "--cap", "CAP_NOT_A_CAP", "--cap", "CAP_BOGUS", "unknowncap", "/probe.wasm", "echo", "ran")
	if !strings.Contains(res.stdout, "ran") || !strings.Contains(res.stderr, warning) {
		t.Errorf("exec --cap CAP_NOT_A_CAP: %v, want it run with runc's warning %q", res, warning)
	}
	// An exec of a module the cache lacks tries twice (a compile between):
	// one warning.
	hello, err := os.ReadFile("testdata/wat/hello.wat")
	if err != nil {
		t.Fatal(err)
	}
	b.writeFile("m.wat", ";; uncached\n"+string(hello))
	res = r.mustRun("exec", "unknowncap", "/m.wat")
	if n := strings.Count(res.stderr, "ignoring unknown"); n != 1 {
		t.Errorf("exec of an uncached module: %v, want runc's warning once", res)
	}
}

// TestExecCapabilitiesAsRunc: an exec'd process whose process.json names
// no capabilities gets the container's, as runc's init gives them, and
// exec --cap adds one to the bounding, effective and permitted sets, as
// runc's does. runw gave the first no capability at all and ignored
// --cap (found by a review of this project's capability check).
func TestExecCapabilitiesAsRunc(t *testing.T) {
	t.Parallel()
	needsRoot(t, "reads the exec'd process's capabilities")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "60s")
	caps := []string{"CAP_KILL", "CAP_DAC_OVERRIDE"}
	b.edit(func(s *specs.Spec) {
		ownMountAndPID(s)
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	})
	r.mustRun("run", "-d", "-b", b.dir, "execcaps")
	defer r.run("delete", "--force", "execcaps")
	dir := t.TempDir()
	bounding := func(name string, args ...string) string {
		pidFile := filepath.Join(dir, name+".pid")
		r.mustRun(append([]string{"exec", "-d", "--pid-file", pidFile}, args...)...)
		pid, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		status, _ := os.ReadFile("/proc/" + string(pid) + "/status")
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "CapBnd:\t"); ok {
				return v
			}
		}
		return ""
	}
	process := filepath.Join(dir, "process.json")
	if err := os.WriteFile(process, []byte(`{"args": ["/probe.wasm", "sleep", "20s"], "cwd": "/", "user": {"uid": 0, "gid": 0}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// CAP_DAC_OVERRIDE is bit 1, CAP_KILL bit 5, CAP_NET_BIND_SERVICE bit 10.
	if got := bounding("process", "--process", process, "execcaps"); got != "0000000000000022" {
		t.Errorf("exec --process naming no capabilities: CapBnd %q, want the container's, 0000000000000022", got)
	}
	if got := bounding("cap", "--cap", "CAP_NET_BIND_SERVICE", "execcaps", "/probe.wasm", "sleep", "20s"); got != "0000000000000422" {
		t.Errorf("exec --cap CAP_NET_BIND_SERVICE: CapBnd %q, want the container's and it, 0000000000000422", got)
	}
}
