package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A user walks one container through its whole life and looks at it with
// `runw state` at every step.
func TestLifecycleStateAtEveryStep(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "2s")
	b.edit(func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.example.team": "wasm", "empty": ""}
	})
	pidFile := filepath.Join(t.TempDir(), "pid")
	before := time.Now()
	r.mustRun("create", "--bundle", b.dir, "--pid-file", pidFile, "life")
	after := time.Now()

	// created
	res := r.mustRun("state", "life")
	var raw map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &raw); err != nil {
		t.Fatalf("state is not JSON: %v\n%s", err, res.stdout)
	}
	for _, k := range []string{"ociVersion", "id", "status", "pid", "bundle", "rootfs", "created", "owner", "annotations"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("state JSON has no %q: %s", k, res.stdout)
		}
	}
	st, _, _ := r.state("life")
	if st.Status != "created" || st.ID != "life" || st.OCIVersion != "1.0.2" {
		t.Errorf("after create: status %q id %q ociVersion %q", st.Status, st.ID, st.OCIVersion)
	}
	if st.Bundle != b.dir || st.Rootfs != b.rootfs {
		t.Errorf("bundle %q rootfs %q, want %q and %q", st.Bundle, st.Rootfs, b.dir, b.rootfs)
	}
	if len(st.Annotations) != 2 || st.Annotations["org.example.team"] != "wasm" {
		t.Errorf("annotations %v, want the spec's", st.Annotations)
	}
	created, err := time.Parse(time.RFC3339, st.Created)
	if err != nil {
		t.Errorf("created %q is not RFC3339: %v", st.Created, err)
	} else if created.Before(before.Add(-time.Second)) || created.After(after.Add(time.Second)) {
		t.Errorf("created %v is not between %v and %v", created, before, after)
	}
	if st.Pid <= 0 {
		t.Fatalf("created container has pid %d", st.Pid)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(st.Pid)); err != nil {
		t.Errorf("init pid %d is not a live process: %v", st.Pid, err)
	}
	pf, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(pf) != strconv.Itoa(st.Pid) {
		t.Errorf("pid file holds %q, want exactly %q", pf, strconv.Itoa(st.Pid))
	}

	// running
	r.mustRun("start", "life")
	if st, _, _ := r.state("life"); st.Status != "running" || st.Pid != mustAtoi(t, string(pf)) {
		t.Errorf("after start: status %q pid %d, want running with the same pid", st.Status, st.Pid)
	}

	// stopped
	st = r.waitStatus("life", "stopped", 10*time.Second)
	if st.Pid != 0 {
		t.Errorf("stopped container reports pid %d, want 0", st.Pid)
	}

	// deleted
	r.mustRun("delete", "life")
	_, res, ok := r.state("life")
	if ok || res.code != 1 || !strings.Contains(res.stderr, "container does not exist") {
		t.Errorf("state after delete: %v, want exit 1 and \"container does not exist\"", res)
	}
	r.assertRootEmpty()
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// `runw create` must leave the guest waiting: none of its code runs until
// `runw start`, whatever it would do first.
func TestCreateRunsNoGuestCode(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	data := t.TempDir()
	b := newBundle(t, "probe", "write", "/data/started", "yes")
	b.edit(func(s *specs.Spec) {
		s.Mounts = []specs.Mount{bindMount("/data", data, "rbind", "rw")}
	})
	marker := filepath.Join(data, "started")

	r.mustRun("create", "-b", b.dir, "idle")
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the guest wrote its file during create")
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the guest wrote its file after create, before start")
	}
	if st, _, _ := r.state("idle"); st.Status != "created" {
		t.Fatalf("status %q before start, want created", st.Status)
	}

	r.mustRun("start", "idle")
	r.waitStatus("idle", "stopped", 10*time.Second)
	got, err := os.ReadFile(marker)
	if err != nil || string(got) != "yes" {
		t.Errorf("after start: file %q, %v; want \"yes\"", got, err)
	}
	r.mustRun("delete", "idle")
}

// Twenty users create, start, wait for and delete containers at once.
func TestTwentyContainersInParallel(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "echo", "hi")
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			for _, args := range [][]string{{"create", "-b", b.dir, id}, {"start", id}} {
				if res := r.run(args...); res.code != 0 {
					errs <- strings.Join(args, " ") + ": " + res.String()
					return
				}
			}
			if _, err := r.pollStatus(id, "stopped", 30*time.Second); err != nil {
				errs <- err.Error()
				return
			}
			if res := r.run("delete", id); res.code != 0 {
				errs <- "delete " + id + ": " + res.String()
			}
		}("par-" + strconv.Itoa(i))
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	r.assertRootEmpty()
}

// `runw list` shows what `runw state` shows, for every container.
func TestListShowsCreatedContainers(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	if res := r.mustRun("list", "--format", "json"); strings.TrimSpace(res.stdout) != "null" {
		t.Errorf("list of no containers: %q, want null (as runc)", res.stdout)
	}
	b := newBundle(t, "probe")
	r.mustRun("create", "-b", b.dir, "one")
	r.mustRun("create", "-b", b.dir, "two")

	var list []containerState
	res := r.mustRun("list", "--format", "json")
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
		t.Fatalf("list --format json: %v\n%s", err, res.stdout)
	}
	if len(list) != 2 {
		t.Fatalf("listed %d containers, want 2: %s", len(list), res.stdout)
	}
	for i, id := range []string{"one", "two"} {
		c := list[i]
		if c.ID != id || c.Status != "created" || c.Pid <= 0 || c.Bundle != b.dir || c.Owner != "root" {
			t.Errorf("list entry %d: %+v, want id %s created with a pid, bundle %s, owner root", i, c, id, b.dir)
		}
	}

	res = r.mustRun("list")
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "ID PID STATUS BUNDLE CREATED OWNER" {
		t.Errorf("table header %q", lines[0])
	}
	if len(lines) != 3 || !regexp.MustCompile(`^one\s+\d+\s+created\s+`).MatchString(lines[1]) {
		t.Errorf("table:\n%s", res.stdout)
	}
	if res := r.mustRun("list", "-q"); res.stdout != "one\ntwo\n" {
		t.Errorf("list -q: %q", res.stdout)
	}
	r.mustRun("delete", "one")
	r.mustRun("delete", "two")
}

// `runw spec` gives a config.json that runs the module put at rootfs/app.wasm.
func TestSpecTemplateRuns(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	dir := t.TempDir()
	r.mustRun("spec", "--bundle", dir)
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(guests["hello"], filepath.Join(dir, "rootfs", "app.wasm")); err != nil {
		t.Fatal(err)
	}
	res := r.mustRun("run", "-b", dir, "from-template")
	if res.stdout != "Hello from a WebAssembly container!\n" {
		t.Errorf("stdout %q", res.stdout)
	}
	if res := r.run("spec", "--bundle", dir); res.code != 1 || !strings.Contains(res.stderr, "exists") {
		t.Errorf("spec over an existing config.json: %v, want exit 1 \"exists\"", res)
	}

	// As runc's template: the init holds RLIMIT_NOFILE 1024/1024 and runs
	// with no_new_privs, whatever the caller's own limit and flags.
	r.mustRun("create", "-b", dir, "template-limits")
	st, res, ok := r.state("template-limits")
	if !ok {
		t.Fatalf("state: %v", res)
	}
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Max open files\s+1024\s+1024\s+files`).Match(limits) {
		t.Errorf("init's limits, want open files 1024/1024:\n%s", limits)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "NoNewPrivs:\t1") {
		t.Errorf("init runs without no_new_privs:\n%s", status)
	}
	r.mustRun("delete", "--force", "template-limits")
	r.assertRootEmpty()
}

// The version, usage and unknown-command conventions callers rely on.
func TestVersionAndUsage(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	res := r.mustRun("--version")
	lines := strings.Split(res.stdout, "\n")
	if !strings.HasPrefix(lines[0], "runw version ") {
		t.Errorf("first line %q, want \"runw version ...\" (go-runc parses it)", lines[0])
	}
	if !strings.Contains(res.stdout, "\nspec: "+specs.Version+"\n") {
		t.Errorf("--version does not list spec %s:\n%s", specs.Version, res.stdout)
	}
	if !regexp.MustCompile(`(?m)^wasmtime: v\d+\.`).MatchString(res.stdout) {
		t.Errorf("--version does not list the wasmtime version:\n%s", res.stdout)
	}
	if !regexp.MustCompile(`(?m)^libseccomp: \d+\.\d+\.\d+$`).MatchString(res.stdout) {
		t.Errorf("--version does not list libseccomp's version, as runc's does:\n%s", res.stdout)
	}

	if res := r.run("frobnicate"); res.code != 3 {
		t.Errorf("unknown command: %v, want exit 3", res)
	}
	res = r.run("start")
	if res.code != 1 || !strings.Contains(res.stderr, "requires exactly 1 argument") {
		t.Errorf("start with no id: %v, want exit 1", res)
	}
	oneLine(t, "start with no id", res.stderr)
	// A command that takes several arguments says "a minimum of", and a
	// subcommand is named as typed, in the error and the usage.
	for args, want := range map[string]string{
		"ps":       `runw: "ps" requires a minimum of 1 argument(s)`,
		"exec":     `runw: "exec" requires a minimum of 1 argument(s)`,
		"cache rm": `runw: "cache rm" requires a minimum of 1 argument(s)`,
	} {
		res := r.run(strings.Fields(args)...)
		if res.code != 1 || strings.TrimSpace(res.stderr) != want || !strings.Contains(res.stdout, "Usage: runw "+args+" ") {
			t.Errorf("runw %s with no argument: %v, want exit 1, %q and the usage of %q", args, res, want, args)
		}
	}
}

// TestDeleteForceCopesWithUnreadableState: runw writes state.json without
// fsync (as runc), so a host crash on a disk-backed /run can leave it
// empty. delete refuses it with one line; delete --force still ends the
// init and removes the cgroup and the directory, from the init record.
// A record that parses but names no container ("{}", "null") is as
// unreadable: it read as a stopped container with no init and no cgroup,
// and delete (exit 0) left the live init and its cgroup behind.
func TestDeleteForceCopesWithUnreadableState(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{"empty": "", "no-container": "{}", "null": "null"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testDeleteForceCopesWith(t, content)
		})
	}
}

func testDeleteForceCopesWith(t *testing.T, content string) {
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	cg := ""
	if os.Geteuid() == 0 {
		cg = fmt.Sprintf("/runw-test-unreadable-%d", time.Now().UnixNano())
		b.edit(func(s *specs.Spec) {
			if s.Linux == nil {
				s.Linux = &specs.Linux{}
			}
			s.Linux.CgroupsPath = cg
		})
	}
	r.mustRun("create", "--bundle", b.dir, "torn")
	st, res, ok := r.state("torn")
	if !ok {
		t.Fatalf("runw state: %v", res)
	}
	if err := os.WriteFile(filepath.Join(r.root, "torn", "state.json"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	res = r.run("delete", "torn")
	if res.code != 1 || !strings.Contains(res.stderr, "delete --force") {
		t.Errorf("delete of an unreadable state: %v, want exit 1 and a word on delete --force", res)
	}
	oneLine(t, "error", res.stderr)
	// list does not hide it: it says what is wrong, as runc's does.
	if res := r.run("list"); res.code != 0 || !strings.Contains(res.stderr, "load container torn") {
		t.Errorf("list with an unreadable state: %v", res)
	}

	r.mustRun("delete", "--force", "torn")
	if _, err := os.Stat(filepath.Join(r.root, "torn")); err == nil {
		t.Errorf("delete --force left the container's directory: %v", r.leftovers())
	}
	if err := unix.Kill(st.Pid, 0); err == nil {
		if data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.Pid)); strings.Contains(string(data), "init") {
			t.Errorf("init %d still runs after delete --force", st.Pid)
		}
	}
	if cg != "" {
		hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
		for _, h := range append(hierarchies, "/sys/fs/cgroup") {
			if _, err := os.Stat(filepath.Join(h, cg)); err == nil {
				t.Errorf("cgroup %s left in %s after delete --force", cg, h)
			}
		}
	}
}

// TestRunUnderCallersUmask: runw run from a shell whose umask takes the
// owner's write bit (zstd's tests run `umask 0666`) works as under runc.
// The exec fifo took that umask, and the init, with no
// CAP_DAC_OVERRIDE by then, could not open it: "open exec fifo:
// permission denied".
func TestRunUnderCallersUmask(t *testing.T) {
	t.Parallel()
	for _, umask := range []string{"0200", "0666", "0777"} {
		r := newRunw(t)
		wrapper := filepath.Join(t.TempDir(), "runw-umask")
		script := "#!/bin/sh\numask " + umask + "\nexec " + runwBin + " \"$@\"\n"
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		r.bin = wrapper
		b := newBundle(t, "probe", "echo", "hi", "exit", "3")
		if res := r.run("run", "-b", b.dir, "umask"); res.code != 3 || res.stdout != "hi\n" {
			t.Errorf("runw run under umask %s: %v, want the guest's hi and exit 3", umask, res)
		}
	}
}

// TestExecCompileDoesNotHoldTheContainer: the first exec of a module the
// cache misses compiles it, for minutes when it is large. exec held the
// container's lock all that time, so a kill or delete --force of the
// container (an engine's stop, a pod's teardown while an exec probe
// starts) waited behind the compile: 1 min 57 s for a 21 MB Go program
// here. runc's exec holds no lock. The lock is now released for the
// compile, and the exec then finds the container stopped.
func TestExecCompileDoesNotHoldTheContainer(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	r.cache = t.TempDir()
	b := newBundle(t, "probe", "sleep", "1h")
	b.writeFile("slow.wat", slowWat())
	r.mustRun("create", "--bundle", b.dir, "held")
	r.mustRun("start", "held")

	ex := r.start("exec", "held", "/slow.wat")
	time.Sleep(time.Second)
	select {
	case err := <-ex.done:
		ex.done <- err
		t.Skip("the exec's compile was over before the kill: too fast a machine for this test")
	default:
	}
	began := time.Now()
	r.mustRun("kill", "held", "KILL")
	took := time.Since(began)
	if took > 3*time.Second {
		t.Errorf("kill waited %v behind the exec's compile", took)
	}
	res := ex.wait(t, 5*time.Minute)
	if res.code == 0 {
		t.Errorf("exec into a container killed during its compile: %v, want a failure", res)
	}
	r.mustRun("delete", "--force", "held")
}

// slowWat is a module of thousands of functions of long straight-line
// code: seconds of Cranelift, on a fresh cache.
func slowWat() string {
	var src strings.Builder
	src.WriteString("(module\n")
	body := strings.Repeat("local.get 0 i32.const 7 i32.mul i32.const 3 i32.xor local.set 0 ", 150)
	for i := 0; i < 4000; i++ {
		fmt.Fprintf(&src, "(func (param i32) (result i32) %s local.get 0)\n", body)
	}
	src.WriteString(`(func (export "_start")))`)
	return src.String()
}

// TestRunInterruptedDuringCompileFreesTheId: a `runw run` ended by Ctrl-C
// while create compiled left the id taken for 5 s ("container with given
// ID already exists" to the same command at once); the directory its
// create marked while it held the lock is now taken over at once.
func TestRunInterruptedDuringCompileFreesTheId(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	r.cache = t.TempDir()
	b := newBundle(t, "hello")
	b.writeFile("slow.wat", slowWat())
	b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/slow.wat"} })
	run := r.start("run", "--bundle", b.dir, "intr")
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(r.root, "intr")); err == nil {
			break
		}
		if i == 200 {
			t.Fatal("run made no state directory in 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-run.done:
		run.done <- err
		t.Skip("the compile was over before the interrupt: too fast a machine for this test")
	default:
	}
	run.cmd.Process.Signal(unix.SIGINT)
	run.wait(t, time.Minute)
	hello := newBundle(t, "hello")
	if res := r.run("run", "--bundle", hello.dir, "intr"); res.code != 0 || !strings.Contains(res.stdout, "Hello") {
		t.Errorf("run again at once with the interrupted run's id: %v, want the guest's output and 0", res)
	}
	r.assertRootEmpty()
}

// TestAbortedCreateIsNoContainer: a create killed before it recorded the
// container leaves a directory without state.json. While a create holds
// it, that is a container being created; once none does, runw state
// answers "container does not exist", as runc's does, list leaves it out,
// and delete removes it: an engine polling until the status leaves
// "creating" waited for ever.
func TestAbortedCreateIsNoContainer(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	r.mustRun("list") // makes the root
	dir := filepath.Join(r.root, "aborted")
	if err := os.Mkdir(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	// A create under way holds the directory's lock.
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if st, res, ok := r.state("aborted"); !ok || st.Status != "creating" {
		t.Errorf("state while a create holds the directory: %+v %v, want creating", st, res)
	}
	f.Close() // the create dies: its lock goes with it
	// A directory only just made is a create about to take its lock.
	if st, res, ok := r.state("aborted"); !ok || st.Status != "creating" {
		t.Errorf("state of a directory made this instant: %+v %v, want creating", st, res)
	}
	// A delete that takes the lock first leaves it to that create: it
	// removed it as an aborted one, and the create failed with "container
	// does not exist".
	for _, args := range [][]string{{"delete", "aborted"}, {"delete", "--force", "aborted"}} {
		res := r.run(args...)
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("%v removed a directory a create was about to lock: %v", args, res)
		}
		if force := len(args) == 3; force && res.code != 0 || !force && (res.code != 1 || !strings.Contains(res.stderr, "container does not exist")) {
			t.Errorf("%v of a create under way: %v", args, res)
		}
	}
	time.Sleep(5100 * time.Millisecond) // the directory's ctime, which no one can set back
	res := r.run("state", "aborted")
	if res.code != 1 || !strings.Contains(res.stderr, "container does not exist") {
		t.Errorf("state of an aborted create: %v, want exit 1, container does not exist", res)
	}
	oneLine(t, "error", res.stderr)
	if res := r.run("list", "-q"); res.code != 0 || strings.Contains(res.stdout, "aborted") {
		t.Errorf("list shows the aborted create: %v", res)
	}
	r.mustRun("delete", "aborted")
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("delete left the aborted create's directory")
	}
}

// TestAbortedCreateIdCanBeReused: a `runw run` ended during its compile
// (Ctrl-C, a killed engine) left its directory, and the same command
// again failed with "container with given ID already exists" for an id
// that state and list call unknown. create now cleans such a directory up
// and takes the id.
func TestAbortedCreateIdCanBeReused(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	r.mustRun("list") // makes the root
	if err := os.Mkdir(filepath.Join(r.root, "again"), 0o711); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5100 * time.Millisecond) // the directory's ctime, which no one can set back
	b := newBundle(t, "hello")
	res := r.run("run", "-b", b.dir, "again")
	if res.code != 0 || !strings.Contains(res.stdout, "Hello") {
		t.Errorf("run with the aborted create's id: %v, want the guest's output and 0", res)
	}
	if _, err := os.Stat(filepath.Join(r.root, "again")); err == nil {
		t.Errorf("run left the container's directory")
	}
}

// TestExecUsesTheCacheOfItsCreate: exec without --cache-dir or
// RUNW_CACHE_DIR finds modules in the cache its container was created
// with. CRI-O runs create with its monitor_env (RUNW_CACHE_DIR) but a
// streaming exec (kubectl exec) from its own process: that exec compiled
// the module again, for seconds, into the default cache. Given one, exec
// uses its own. A cache named by a relative path is the one create
// meant, wherever exec runs.
func TestExecUsesTheCacheOfItsCreate(t *testing.T) {
	needsRoot(t, "the default cache is root's")
	r := newRunw(t)
	r.cache = t.TempDir()
	b := newBundle(t, "probe", "sleep", "60s")
	// New bytes each run: in no cache but the ones this test fills.
	wat := fmt.Sprintf("(module (memory (export \"memory\") 1) (func (export \"_start\")) (data (i32.const 0) \"exec-cache-%d\"))", time.Now().UnixNano())
	b.writeFile("other.wat", wat)
	out, err := exec.Command(runwBin, "--cache-dir", r.cache, "compile", filepath.Join(b.rootfs, "other.wat")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "compiled") {
		t.Fatalf("compile: %v %s", err, out)
	}
	key := strings.Fields(string(out))[0]
	t.Cleanup(func() {
		// Where a runw with this fault compiled it.
		exec.Command(runwBin, "--cache-dir", "/var/lib/runw/cache", "cache", "rm", key).Run()
	})
	// Named relative to create's working directory. (Its output to a
	// file: the created init holds it open.)
	create := exec.Command(runwBin, "--root", r.root, "--cache-dir", filepath.Base(r.cache), "create", "--bundle", b.dir, "execcache")
	create.Dir = filepath.Dir(r.cache)
	createOut, err := os.CreateTemp(r.out, "create-")
	if err != nil {
		t.Fatal(err)
	}
	defer createOut.Close()
	create.Stdout, create.Stderr = createOut, createOut
	if err := create.Run(); err != nil {
		data, _ := os.ReadFile(createOut.Name())
		t.Fatalf("create with a relative --cache-dir: %v %s", err, data)
	}
	r.mustRun("start", "execcache")

	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "RUNW_CACHE_DIR=") {
			env = append(env, e)
		}
	}
	execIn := func(what string, env []string, global ...string) string {
		t.Helper()
		log := filepath.Join(t.TempDir(), "log")
		cmd := exec.Command(runwBin, append(append([]string{"--root", r.root, "--debug", "--log", log}, global...), "exec", "execcache", "/other.wat")...)
		cmd.Env, cmd.Dir = env, t.TempDir()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("exec %s: %v %s", what, err, out)
		}
		data, _ := os.ReadFile(log)
		return string(data)
	}
	if log := execIn("with neither --cache-dir nor RUNW_CACHE_DIR", env); strings.Contains(strings.ToLower(log), "compil") {
		t.Errorf("exec with no cache named compiled the module that create's cache holds:\n%s", log)
	}
	if out, _ := exec.Command(runwBin, "--cache-dir", "/var/lib/runw/cache", "cache", "ls").CombinedOutput(); strings.Contains(string(out), key) {
		t.Errorf("exec with no cache named stored the module in the default cache")
	}
	// Named, exec's own cache is used: the module is compiled into it.
	for _, c := range []struct {
		what   string
		env    func(dir string) []string
		global func(dir string) []string
	}{
		{"--cache-dir", func(string) []string { return env }, func(dir string) []string { return []string{"--cache-dir", dir} }},
		{"RUNW_CACHE_DIR", func(dir string) []string { return append(env, "RUNW_CACHE_DIR="+dir) }, func(string) []string { return nil }},
	} {
		dir := t.TempDir()
		if log := execIn("with "+c.what, c.env(dir), c.global(dir)...); !strings.Contains(log, "cache miss") {
			t.Errorf("exec with %s of an empty cache: no compile logged:\n%s", c.what, log)
		}
		if out, err := exec.Command(runwBin, "--cache-dir", dir, "cache", "ls").CombinedOutput(); err != nil || !strings.Contains(string(out), key) {
			t.Errorf("exec with %s: the cache it named holds %q (%v), want %s", c.what, out, err, key)
		}
	}
	r.mustRun("delete", "--force", "execcache")
}

// TestExecSecurityFlagsAreJudged: exec's --apparmor and --process-label
// are the process's profile and label, refused on a host without the
// module as the same values in --process's file are, in runc's words. They
// were accepted and dropped: the process ran unconfined without a word.
func TestExecSecurityFlagsAreJudged(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "60s")
	bg, _ := runInBackground(t, r, b, "execlsm")
	for _, c := range []struct{ flag, module, want string }{
		{"--apparmor", "/sys/module/apparmor/parameters/enabled", "apparmor failed to apply profile"},
		{"--process-label", "/sys/fs/selinux/enforce", "selinux label is specified in config, but selinux is disabled or not supported"},
	} {
		if _, err := os.Stat(c.module); err == nil {
			t.Logf("%s: the host has the module (%s); runw would run the process", c.flag, c.module)
			continue
		}
		res := r.run("exec", c.flag, "runw-test", "execlsm", "/probe.wasm", "echo", "ran")
		if res.code != 255 || !strings.Contains(res.stderr, c.want) || res.stdout != "" {
			t.Errorf("exec %s on a host without the module: %v, want exit 255 %q", c.flag, res, c.want)
		}
	}
	r.killRun(t, bg, "execlsm", 30*time.Second)
}
