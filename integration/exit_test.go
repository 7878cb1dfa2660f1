package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// `runw run` exits with the guest's status, as a shell reports a native
// process's: proc_exit(n) gives n, a return 0, a trap 134, a Go panic 2.
func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		guest  string
		args   []string
		code   int
		stderr []string // one of these must appear on stderr
	}{
		{"return0", "wat/return0.wat", nil, 0, nil},
		{"_start with a result", "wat/startresult.wat", nil, 0, nil},
		{"proc_exit 7", "wat/exit7.wat", nil, 7, nil},
		{"text without the module wrapper", "wat/bare9.wat", nil, 9, nil},
		{"probe exit 7", "probe", []string{"exit", "7"}, 7, nil},
		{"proc_exit 125", "wat/exit125.wat", nil, 125, nil},
		{"unreachable", "wat/trap.wat", nil, 134, []string{"unreachable", "trap"}},
		{"divide by zero", "wat/divzero.wat", nil, 134, []string{"divide by zero"}},
		{"go panic", "probe", []string{"panic"}, 2, []string{"probe panic"}},
		{"table.grow past the cap", "wat/tablegrow.wat", nil, 3, nil},
		{"64-bit memory: preview 1 reaches 4 GiB", "wat/memory64.wat", nil, 21, nil},
		{"exception handling: a thrown tag is caught", "wat/exceptions.wat", nil, 7, nil},
		{"exception handling: an uncaught throw", "wat/uncaught.wat", nil, 134, []string{"exception"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			b := newBundle(t, c.guest, c.args...)
			res := r.run("run", "-b", b.dir, "exit")
			if res.code != c.code {
				t.Errorf("runw run: %v, want exit %d", res, c.code)
			}
			if len(c.stderr) > 0 && !containsAny(res.stderr, c.stderr) {
				t.Errorf("stderr %q mentions none of %q", res.stderr, c.stderr)
			}
			r.assertRootEmpty()
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// `runw kill` ends a running guest and `runw run` reports 128+signal.
// The signals whose default action dumps core (ABRT, SEGV, SYS, TRAP),
// sent by kill, used to crash the init in Go's handler: 235 lines of
// goroutines in the container's output and exit 2; XCPU, XFSZ and VTALRM
// were ignored, and so was PIPE (the init ignored SIGPIPE so that a guest
// writing to a closed pipe gets EPIPE: TestStdoutClosedPipe).
func TestKillGivesSignalExitStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		signal string
		code   int
	}{
		{"TERM", 143}, {"SIGTERM", 143}, {"term", 143}, {"15", 143},
		{"KILL", 137}, {"INT", 130}, {"USR1", 138},
		{"ABRT", 134}, {"SEGV", 139}, {"SYS", 159}, {"TRAP", 133}, {"XCPU", 152}, {"XFSZ", 153}, {"VTALRM", 154},
		{"PIPE", 141}, {"13", 141},
		// No pid namespace of its own here: the real-time signals end a
		// native process too (runc: 128+signal); Go's handler dropped
		// them.
		{"35", 163}, {"44", 172}, {"64", 192},
	}
	for _, c := range cases {
		t.Run(c.signal, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			b := newBundle(t, "wat/loop.wat")
			bg, _ := runInBackground(t, r, b, "victim")
			if res := r.run("kill", "victim", c.signal); res.code != 0 {
				t.Fatalf("kill %s: %v", c.signal, res)
			}
			if res := bg.wait(t, 10*time.Second); res.code != c.code || strings.Contains(res.stderr, "goroutine") {
				first, _, _ := strings.Cut(res.stderr, "\n")
				t.Errorf("runw run after kill %s: exit %d, stderr %q (%d bytes); want exit %d and no crash of the init", c.signal, res.code, first, len(res.stderr), c.code)
			}
			r.assertRootEmpty()
		})
	}
}

// TestRunKeepsASignalSentDuringCreate: a foreground `runw run` catches
// its signals from the start and relays them once the guest runs, as
// runc's run makes its signal handler before it creates the container. A
// SIGTERM sent while the container was being made (here, while a
// createRuntime hook runs) ended runw there, and left the half-made
// container behind; now the guest gets it and ends with 143, and runw
// deletes the container.
func TestRunKeepsASignalSentDuringCreate(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "wat/loop.wat")
	marks := t.TempDir()
	inHook, release := filepath.Join(marks, "in-hook"), filepath.Join(marks, "release")
	b.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
			"cat >/dev/null; : > " + inHook + "; while [ ! -e " + release + " ]; do sleep 0.02; done"}}}}
	})
	bg := r.start("run", "-b", b.dir, "termincreate")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(inHook); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the createRuntime hook never ran")
		}
	}
	if err := bg.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := bg.wait(t, 30*time.Second); res.code != 143 {
		t.Errorf("runw run sent SIGTERM during its create: %v, want the guest to get it once it runs (143)", res)
	}
	r.assertRootEmpty()
}

// TestFileSizeLimitEndsTheGuestAtItsWrite: podman --ulimit fsize=10000.
// A native process writing past RLIMIT_FSIZE is killed by the SIGXFSZ the
// kernel raises at that write (runc and busybox `head -c 100000 >
// /tmp/big`: 153, every time) and never sees EFBIG. The guest got EFBIG
// and went on, the signal reaching the init's stop goroutine only later:
// a guest that exited right after it ended 0, one that went on a while
// 153. It now ends at that write with 153, each time.
func TestFileSizeLimitEndsTheGuestAtItsWrite(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "writen", "/tmp/big", "100000", "echo", "after")
	if err := os.Mkdir(filepath.Join(b.rootfs, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	b.edit(func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FSIZE", Hard: 10000, Soft: 10000}}
	})
	for i := 0; i < 5; i++ {
		res := r.run("run", "-b", b.dir, fmt.Sprintf("fsize%d", i))
		if res.code != 153 || res.stdout != "" || strings.Contains(res.stderr, "goroutine") {
			t.Errorf("run %d: %v; want exit 153 (128+SIGXFSZ) at the write, no EFBIG, no \"after\"", i, res)
		}
	}
	// As pid 1 of its own pid namespace (podman's, a pod's container) a
	// native program is not killed: the kernel gives such an init no
	// signal whose action is the default, and its write returns EFBIG
	// (runc, a C program). runw ended the guest with 153 there too.
	b.edit(ownMountAndPID)
	res := r.run("run", "-b", b.dir, "fsizepid1")
	if got := lines(res.stdout); res.code != 0 || len(got) != 2 || !strings.Contains(strings.ToLower(got[0]), syscall.EFBIG.Error()) || got[1] != "after" {
		t.Errorf("as pid 1 of its pid namespace: %v; want EFBIG (%q) at the write, then \"after\", exit 0", res, syscall.EFBIG.Error())
	}
	// Behind an engine's init (podman run --init), which runw drops, the
	// guest stands where the native command behind catatonit would, pid
	// 2: SIGXFSZ ends it, and catatonit exits 153.
	b.edit(behindPodmanInit)
	if res := r.run("run", "-b", b.dir, "fsizeinit"); res.code != 153 || res.stdout != "" {
		t.Errorf("behind podman's init: %v; want exit 153 (128+SIGXFSZ) at the write, no \"after\"", res)
	}
	r.assertRootEmpty()
}

// TestCPULimitAsANativeProcessMeetsIt: podman --ulimit cpu=1:3. The
// kernel sends SIGXCPU at RLIMIT_CPU's soft limit and SIGKILL at the hard
// one. A native C program that spins is killed by the first (runc: 152
// after a second of CPU), but as pid 1 of its own pid namespace the
// kernel drops it, and the program runs on to the second (runc: 137
// after three). runw ended the guest with 152 at the soft limit there too.
func TestCPULimitAsANativeProcessMeetsIt(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "wat/loop.wat")
	b.edit(func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CPU", Soft: 1, Hard: 3}}
	})
	if res := r.run("run", "-b", b.dir, "cpu"); res.code != 152 {
		t.Errorf("without a pid namespace: %v; want 152 (128+SIGXCPU) at the soft limit", res)
	}
	b.edit(ownMountAndPID)
	if res := r.run("run", "-b", b.dir, "cpupid1"); res.code != 137 {
		t.Errorf("as pid 1 of its pid namespace: %v; want 137 (SIGKILL) at the hard limit, SIGXCPU dropped", res)
	}
	// Behind an engine's init (podman run --init), which runw drops, the
	// guest stands where the native command behind catatonit would.
	b.edit(behindPodmanInit)
	if res := r.run("run", "-b", b.dir, "cpuinit"); res.code != 152 {
		t.Errorf("behind podman's init: %v; want 152 (128+SIGXCPU) at the soft limit", res)
	}
	r.assertRootEmpty()
}

// As pid 1 of its own pid namespace, a native process lives through a
// real-time signal it does not handle (the kernel drops it), and so does
// the guest; TERM still ends it.
func TestRealtimeSignalSparesPid1(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "wat/loop.wat")
	b.edit(ownMountAndPID)
	bg, _ := runInBackground(t, r, b, "rt")
	r.mustRun("kill", "rt", "35")
	time.Sleep(300 * time.Millisecond)
	if st, res, ok := r.state("rt"); !ok || st.Status != "running" {
		t.Fatalf("after kill 35, as pid 1 of its pid namespace: %v %v; want running", st, res)
	}
	r.mustRun("kill", "rt", "TERM")
	if res := bg.wait(t, 10*time.Second); res.code != 143 {
		t.Errorf("runw run after kill TERM: %v; want 143", res)
	}
	// Behind an engine's init (podman run --init), which passes it on to
	// the native command behind it, 35 ends that command, and catatonit
	// exits 163.
	b.edit(behindPodmanInit)
	bg, _ = runInBackground(t, r, b, "rtinit")
	r.mustRun("kill", "rtinit", "35")
	if res := bg.wait(t, 10*time.Second); res.code != 163 {
		t.Errorf("behind podman's init, runw run after kill 35: %v; want 163", res)
	}
	r.assertRootEmpty()
}

// podman stop sends TERM: a guest spinning without host calls must stop at
// once, and one blocked in a long sleep within a second. Not parallel: it
// measures time.
func TestKillTermStopsBusyLoop(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		limit time.Duration
	}{
		{"spin", []string{"spin"}, 100 * time.Millisecond},
		{"sleep 1h", []string{"sleep", "1h"}, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRunw(t)
			b := newBundle(t, "probe", c.args...)
			bg, pid := runInBackground(t, r, b, "busy")
			time.Sleep(50 * time.Millisecond) // let the guest get into its loop
			if procGone(pid) {
				t.Fatalf("guest exited before kill: %v", bg.wait(t, time.Second))
			}
			r.mustRun("kill", "busy", "TERM")
			took := waitGone(t, pid, 5*time.Second)
			t.Logf("guest %s gone %v after kill TERM returned", c.name, took)
			if took > c.limit {
				t.Errorf("guest %s took %v to stop after kill TERM returned, want < %v", c.name, took, c.limit)
			}
			if res := bg.wait(t, 5*time.Second); res.code != 143 {
				t.Errorf("runw run: %v, want exit 143", res)
			}
		})
	}
}

// Killing a created container (never started) ends its init too, and
// an empty signal is SIGTERM.
func TestKillCreatedContainer(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "echo", "never")
	r.mustRun("create", "-b", b.dir, "waiting")
	st, _, _ := r.state("waiting")
	res := r.run("kill", "waiting", "FOO")
	if res.code != 1 || !strings.Contains(res.stderr, "FOO") {
		t.Errorf("kill with an unknown signal: %v, want exit 1 naming it", res)
	}
	oneLine(t, "kill FOO", res.stderr)
	if now, _, _ := r.state("waiting"); now.Status != "created" {
		t.Fatalf("after a refused kill: status %q, want created", now.Status)
	}
	// An empty signal is SIGTERM, as runc reads it (runw refused it).
	r.mustRun("kill", "waiting", "")
	waitGone(t, st.Pid, 5*time.Second)
	r.waitStatus("waiting", "stopped", 5*time.Second)
	if res = r.run("kill", "waiting", "TERM"); res.code != 1 || !strings.Contains(res.stderr, "container not running") {
		t.Errorf("kill of a stopped container: %v, want exit 1 \"container not running\"", res)
	}
	if res := r.run("kill", "--all", "waiting", "TERM"); res.code != 0 {
		t.Errorf("kill --all of a stopped container: %v, want exit 0", res)
	}
	r.mustRun("delete", "waiting")
	if _, err := os.Stat(filepath.Join(r.root, "waiting")); err == nil {
		t.Error("delete left the state directory")
	}
}

// A guest that recurses without end traps with its first line and a
// bounded backtrace (the first and last 20 frames and a count of the rest),
// not one line per frame.
func TestUnboundedRecursionTrapIsBounded(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "wat/recurse.wat")
	res := r.run("run", "-b", b.dir, "recurse")
	if res.code != 134 {
		t.Fatalf("runw run: %v, want exit 134", res)
	}
	if !strings.Contains(res.stderr, "call stack exhausted") {
		t.Errorf("stderr does not name the trap: %.300q", res.stderr)
	}
	if !strings.Contains(res.stderr, "frames left out") {
		t.Errorf("stderr does not say frames were left out: %.300q", res.stderr)
	}
	if n := strings.Count(res.stderr, "\n"); n > 60 || len(res.stderr) > 8<<10 {
		t.Errorf("trap message has %d lines, %d bytes: want at most 60 lines", n, len(res.stderr))
	}
	r.assertRootEmpty()
}

// A Go guest whose stdout is a pipe nobody reads any more (`runw run ... |
// head -1` after head has exited) ends with 141, 128+SIGPIPE, as Go's
// runtime ends a native program; before, Go's wasip1 port went on after
// EPIPE and a guest printing in a loop never ended. Other guests get EPIPE
// and decide (the WAT guest ignores it and returns 0).
func TestStdoutClosedPipe(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	for _, c := range []struct {
		guest string
		args  []string
		code  int
		pid1  bool
	}{
		{"probe", []string{"echo", "lost", "echo", "lost", "stderr", "still running"}, 141, false},
		// As pid 1 of its own pid namespace, the kernel spares a native
		// Go program the SIGPIPE its runtime raises, and the runtime
		// exits 2 (dieFromSignal); runw's Go guest ended with 141.
		{"probe", []string{"echo", "lost", "echo", "lost", "stderr", "still running"}, 2, true},
		{"wat/hello.wat", nil, 0, false},
	} {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		pr.Close()
		b := newBundle(t, c.guest, c.args...)
		if c.pid1 {
			b.edit(ownMountAndPID)
		}
		cmd, _, stderr := r.command(context.Background(), "run", "-b", b.dir, "epipe")
		cmd.Stdout = pw
		err = cmd.Run()
		pw.Close()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		errOut, _ := os.ReadFile(stderr.Name())
		if code != c.code || (c.code != 0 && strings.Contains(string(errOut), "still running")) {
			t.Errorf("%s writing to a closed pipe: exit %d, stderr %q; want exit %d and nothing after the write", c.guest, code, errOut, c.code)
		}
	}
	r.assertRootEmpty()
}

// TestTerminalOutputToAClosedPipe: `runw run` of a container with a
// terminal whose output nobody reads any more (`| head`, a full disk)
// ends, as runc's does, and deletes the container: runw either died of
// SIGPIPE (141) at its own write, leaving the container and the caller's
// terminal raw, or blocked for ever with the guest writing to a pty
// nobody read.
func TestTerminalOutputToAClosedPipe(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "writen", "/dev/stdout", "50000000")
	b.edit(func(s *specs.Spec) { s.Process.Terminal = true })
	for _, c := range []struct {
		name, out string
		busyStdin bool
	}{{"closed pipe", "", false}, {"full disk", "/dev/full", false}, {"closed pipe, input always coming", "", true}} {
		var out *os.File
		if c.out == "" {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			pr.Close()
			out = pw
		} else {
			f, err := os.OpenFile(c.out, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			out = f
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd, _, stderr := r.command(ctx, "run", "-b", b.dir, "ttypipe")
		cmd.Stdout = out
		if c.busyStdin {
			// `yes | runw run ... | head`: runw's copy of its stdin
			// into the pty blocks once the guest reads none, and a
			// close of the pty's master waited for it.
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				line := []byte("y\n")
				for {
					if _, err := in.Write(line); err != nil {
						return
					}
				}
			}()
		}
		err := cmd.Run()
		out.Close()
		timedOut := ctx.Err() != nil
		cancel()
		errOut, _ := os.ReadFile(stderr.Name())
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
		// 129: the hang-up's SIGHUP; 0: the guest, which handles the
		// EIO its writes meet once the pty is hung up, ended first.
		if timedOut || code != 129 && code != 0 {
			t.Errorf("%s: run with a terminal: exit %d (timed out: %v), stderr %q; want the guest ended by the hang-up of its terminal (129, or 0 as it handles the EIO)", c.name, code, timedOut, errOut)
		}
		r.assertRootEmpty()
	}
}

// TestSignalNotifyGuestDoesNotSpin: a Go guest that calls signal.Notify
// (a graceful-shutdown handler, in most Go services) waits for the signal
// in Go's wasip1 runtime by yielding in a loop, and preview1 delivers
// none: it kept a core busy for the container's life. runw's sched_yield
// pauses a guest that does nothing but yield, so it waits at a few
// percent of a core; its timers still fire, and SIGTERM still ends it
// with 143.
func TestSignalNotifyGuestDoesNotSpin(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "notify", "1s", "notify", "1h")
	bg, pid := runInBackground(t, r, b, "notify")
	cpu := func() time.Duration {
		f := procStat(pid)
		if len(f) < 13 {
			t.Fatalf("no /proc/%d/stat", pid)
		}
		utime, _ := strconv.Atoi(f[11])
		stime, _ := strconv.Atoi(f[12])
		return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ 100
	}
	// The first wait times out (a timer fires in the loop); the second
	// is the one measured.
	time.Sleep(1500 * time.Millisecond)
	before, start := cpu(), time.Now()
	time.Sleep(2 * time.Second)
	used, elapsed := cpu()-before, time.Since(start)
	if used > elapsed/4 {
		t.Errorf("a guest waiting in signal.Notify used %v of CPU in %v", used, elapsed)
	}
	r.mustRun("kill", "notify", "TERM")
	res := bg.wait(t, 5*time.Second)
	if res.code != 143 || !strings.Contains(res.stdout, "timeout") {
		t.Errorf("runw run: %v; want the first wait's timeout printed and exit 143", res)
	}
}

// A signal to a foreground `runw run` or `runw exec` of a native bundle
// (one runw hands to runc) reaches the container, as it does under runc
// run and exec, and as runw relays it to a wasm container: the guest's
// trap runs and its status is run's. runw died of the SIGTERM alone
// (143): runc ran on, the container kept running, and its id stayed
// taken after it ended.
func TestSignalToForegroundNativeRunReachesTheContainer(t *testing.T) {
	t.Parallel()
	needsRoot(t, "runc")
	busybox := engStaticBusybox()
	if _, err := exec.LookPath("runc"); err != nil || busybox == "" {
		t.Skip("needs runc and a static busybox (integration/deps.sh installs them)")
	}
	r := newRunw(t)
	trap := []string{"/bin/busybox", "sh", "-c", `trap "echo got TERM; exit 7" TERM; echo ready; while true; do /bin/busybox sleep 0.1; done`}
	dir, s := busyboxBundle(t, busybox, func(s *specs.Spec) { s.Process.Args = trap })
	terminate := func(bg *background) result {
		t.Helper()
		for i := 0; i < 200; i++ {
			if out, _ := os.ReadFile(bg.stdout.Name()); strings.Count(string(out), "ready") > 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		bg.cmd.Process.Signal(unix.SIGTERM)
		return bg.wait(t, 20*time.Second)
	}

	run := terminate(r.start("run", "-b", dir, "native-sig"))
	if run.code != 7 || !strings.Contains(run.stdout, "got TERM") {
		t.Errorf("runw run, SIGTERM: %v; want the container's trap and its exit 7", run)
	}
	if res := r.run("state", "native-sig"); res.code == 0 {
		t.Errorf("after runw run ended: the container is still there: %v", res)
	}

	r.mustRun("run", "-d", "-b", dir, "native-sig2")
	defer r.run("delete", "--force", "native-sig2")
	exe := terminate(r.start(append([]string{"exec", "native-sig2"}, trap...)...))
	if exe.code != 7 || !strings.Contains(exe.stdout, "got TERM") {
		t.Errorf("runw exec, SIGTERM: %v; want the process's trap and its exit 7", exe)
	}

	// In the foreground of a terminal that makes no signals (raw, as a
	// -t container leaves it), a SIGINT came from kill(2), not from the
	// terminal, and is relayed as any other.
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if _, err := term.MakeRaw(int(tty.Fd())); err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() { io.Copy(io.Discard, ptmx); close(copied) }()
	s.Process.Args = []string{"/bin/busybox", "sh", "-c", `trap "echo got INT; exit 8" INT; echo ready; while true; do /bin/busybox sleep 0.1; done`}
	writeSpec(t, dir, s)
	cmd, stdout, stderr := r.command(context.Background(), "run", "-b", dir, "native-sig3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if _, err := r.pollStatus("native-sig3", "running", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the trap set
	cmd.Process.Signal(unix.SIGINT)
	select {
	case err := <-done:
		if code := finish(cmd, err, stdout, stderr).code; code != 8 {
			t.Errorf("runw run on a raw terminal, SIGINT by kill: exit %d; want the container's trap and its exit 8", code)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		r.run("kill", "native-sig3", "KILL")
		t.Errorf("runw run on a raw terminal, SIGINT by kill: still running after 20 s (the signal was not relayed)")
	}
	tty.Close()
	ptmx.Close()
	<-copied
}

// behindPodmanInit puts podman's init (podman run --init: catatonit at
// /run/podman-init) in front of the spec's command, as podman does.
func behindPodmanInit(s *specs.Spec) {
	s.Process.Args = append([]string{"/run/podman-init", "--"}, s.Process.Args...)
}
