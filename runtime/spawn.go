package runtime

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
)

// spawnOptions is what spawnInit needs to start one init.
type spawnOptions struct {
	// Config is sent on the init pipe.
	Config initConfig
	// NS says which namespaces the init joins or makes (namespaces.go).
	NS *spawnNS
	// Stdio are the guest's fds 0-2; Tty makes fd 0 the controlling
	// terminal of the init's session.
	Stdio [3]*os.File
	Tty   bool
	// ExtraFiles are passed to the init from fd firstExtraFD on, in
	// order (extraFD(i)); the caller keeps and closes them.
	ExtraFiles []*os.File
	// CgroupPath is the container's cgroup, read only to say what killed
	// an init that died without reporting.
	CgroupPath string
	// Exec says the init runs a process exec'd into a running container,
	// for what the errors call it.
	Exec bool
	// Cgroup says how the init enters its cgroup at birth (startInCgroup);
	// nil places it after the spawn.
	Cgroup *cgroupEntry
	// Place runs once the init is started, before the constructor gets
	// its orders and before the init reads its configuration: it puts the
	// init in its cgroup unless it entered at birth (born).
	Place func(pid int, born bool) error
	// Ordered, when set, runs once the constructor has its orders: from
	// then on the init enters its cgroups itself, and nothing the caller
	// holds is needed for that.
	Ordered func()
}

// initEnv is the environment of every init, never the guest's (that is
// the plan's process.env). GOMAXPROCS=2: a guest runs on one thread (the
// one calling into wasm), and the init's own goroutines (signals, the stop
// descriptor, stdio) need little parallelism; with one P per CPU the Go
// runtime starts threads to run goroutines in parallel while the init
// sets up, and keeps them, each counted against the container's pids.max
// (minPids), so an init on a large node would hold more than the 11 it
// holds on 2 CPUs. One P held it to 7 to 9 but made a warm `runw run` of
// a Go hello 5-7% slower (4 alternating rounds of 20): the init's setup
// uses a second. TOKIO_WORKER_THREADS=1: wasmtime builds the
// tokio runtime of its WASI 0.2 (components) on first use with tokio's
// default of one worker thread per CPU, though a component runs on the
// calling thread and the workers only drive its stdio streams' tasks; on
// a 96-core node every idle component container held 96 threads, and a
// small pids.limit could fail the runtime's build and abort the init.
// Set here, before the init starts a thread, not by setenv in a running
// init, where C's getenv on another thread could race it. runw's own
// override of the compile's CPU bound (compileCPUEnv) is passed on too
// (initEnviron). GLIBC_TUNABLES=glibc.pthread.rseq=0: the init is a glibc
// program whose main thread registered rseq as it started, and glibc's
// start of every later thread (the guest's, Go's and wasmtime's, made
// after the container's seccomp filter is loaded) aborts the process
// when its own registration fails while the main thread's succeeded. A
// profile refusing rseq with an errno (runtime-tools', Docker's and
// containerd's before 2022) ended every container so at start, where
// under runc the filter precedes execve and glibc quietly goes without.
// With the tunable no init thread registers, as under such a profile
// natively; the cost is glibc's rseq-based sched_getcpu, which the
// init does not use.
var initEnv = []string{"GOMAXPROCS=2", "TOKIO_WORKER_THREADS=1", "GLIBC_TUNABLES=glibc.pthread.rseq=0"}

// initEnviron is initEnv, with compileCPUEnv when runw has it.
func initEnviron() []string {
	env := slices.Clip(initEnv)
	if v, ok := os.LookupEnv(compileCPUEnv); ok {
		env = append(env, compileCPUEnv+"="+v)
	}
	return env
}

// spawnInit starts `runw init` from a sealed copy of runw, sends it its
// configuration and waits until it reports the guest instantiated (or
// why it could not be).
func (r *Runtime) spawnInit(o spawnOptions) (*exec.Cmd, error) {
	exe, err := sealedSelf(r.opts.Root)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	initR, initW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer initR.Close()
	defer initW.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer syncR.Close()
	defer syncW.Close()

	cmd := &exec.Cmd{
		Path:   fmt.Sprintf("/proc/self/fd/%d", exe.Fd()),
		Args:   initArgs(o.Config.Plan.Argv),
		Env:    initEnviron(),
		Stdin:  o.Stdio[0],
		Stdout: o.Stdio[1],
		Stderr: o.Stdio[2],
		// fd 3 (initPipeFD), fd 4 (syncPipeFD), then from firstExtraFD
		// the caller's files (protocol.go).
		ExtraFiles: append([]*os.File{initR, syncW}, o.ExtraFiles...),
		// Setsid: the container is its own session, as under runc, so a
		// terminal's job control never reaches runw's caller.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Setctty: o.Tty, Ctty: 0},
	}
	cg := o.Cgroup
	if cg != nil && len(cg.Tasks) > 0 && o.NS.cloneFlags&unix.CLONE_NEWUSER != 0 {
		// Born in a new user namespace, the constructor is no longer the
		// host's root, and a kernel before 5.16 checks its credentials,
		// not the opener's: placed after the spawn.
		cg = nil
	}
	if sb := o.Config.Sandbox; sb != nil && sb.OOMScoreAdj != nil && o.NS.joinsUser() {
		// Set by the constructor before it joins the user namespace
		// (set_oom says why); the init then finds it set.
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", oomEnv, *sb.OOMScoreAdj))
	}
	closeInheritedOnExec()
	ordersR, ordersW, err := o.NS.prepare(cmd, cg)
	if err != nil {
		return nil, err
	}
	defer ordersW.Close()
	logDebugf("spawning init")
	// The pids controller's count of refusals only grows: what it was
	// before this init says whether this init was refused. The entry
	// already knows the directory; resolving it anew (a whole cgroup
	// manager) cost about 0.4 ms of every create and exec.
	var pids string
	if o.Cgroup != nil {
		pids = o.Cgroup.Pids
	} else {
		pids = pidsDir(o.CgroupPath)
	}
	refusedBefore := pidsRefusals(pids)
	oomsBefore := oomKills(o.CgroupPath)
	cmd, born, err := startInCgroup(cmd, o.NS, cg)
	ordersR.Close()
	if err != nil {
		return nil, fmt.Errorf("start container init: %w", err)
	}
	initR.Close()
	syncW.Close()
	// Every failure from here ends the init: the caller gets a running
	// init or an error, never both.
	fail := func(err error) (*exec.Cmd, error) {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	if err := o.Place(cmd.Process.Pid, born); err != nil {
		return fail(err)
	}

	// Placed (at birth, or just now), or about to enter its v1 cgroups
	// itself: the constructor, blocked on its orders until here, enters
	// them first, then joins the namespaces only a single thread can
	// join, and makes its cgroup namespace, whose root is then the
	// container's cgroup.
	if err := o.NS.sendOrders(ordersW); err != nil {
		// The constructor is gone before reading them: for an exec, the
		// sign that the namespaces it was to join went with their init.
		return fail(&joinError{fmt.Sprintf("send namespace orders: %v", err)})
	}
	if o.Ordered != nil {
		o.Ordered()
	}

	switch {
	case !born:
		logDebugf("init %d placed in its cgroup after the spawn", cmd.Process.Pid)
	case len(cg.Tasks) > 0:
		logDebugf("init %d enters its %d cgroup v1 hierarchies itself", cmd.Process.Pid, len(cg.Tasks))
	default:
		logDebugf("init %d born in its cgroup", cmd.Process.Pid)
	}
	// The init reads its configuration only now, after the parent had the
	// chance to place it (cgroups), and creates no engine before that.
	if err := json.NewEncoder(initW).Encode(o.Config); err != nil {
		// The init is gone before reading it: its sync pipe says why,
		// or, with no report, its death does (the OOM killer, while it
		// read a configuration of many megabytes under a small limit).
		switch rerr := readReport(syncR); {
		case rerr == errNoReport:
			return nil, o.noReport(cmd, pids, refusedBefore, false)
		case rerr != nil:
			return fail(rerr)
		}
		return fail(fmt.Errorf("send init config: %w", err))
	}
	initW.Close()

	err = readReport(syncR)
	logDebugf("init %d reported: %v", cmd.Process.Pid, err)
	switch {
	case err == errNoReport:
		return nil, o.noReport(cmd, pids, refusedBefore, true)
	case err != nil && strings.Contains(err.Error(), wasi.ErrNotCompiled.Error()) && oomKills(o.CgroupPath) > oomsBefore:
		// The init's compile child met the container's memory limit:
		// said, as the init's own death by it is.
		return fail(fmt.Errorf("%w: killed by the OOM killer (cgroup %q is over its memory limit): raise the limit, or fill runw's cache beforehand (runw compile)", err, o.CgroupPath))
	case err != nil:
		return fail(err)
	}
	return cmd, nil
}

// noReport is the error of an init that closed its sync pipe without a
// report: what ended it (deathOf, which reaps it), and the pids limit it
// met where the cgroup refused a fork since refusedBefore. configRead
// says it had read its configuration, and so may have loaded a seccomp
// filter.
func (o *spawnOptions) noReport(cmd *exec.Cmd, pids string, refusedBefore int64, configRead bool) error {
	death, killed := deathOf(cmd, o.CgroupPath)
	who := "container init"
	if o.Exec {
		who = "exec'd process"
	}
	if pidsRefusals(pids) > refusedBefore {
		return fmt.Errorf("%s exited without reporting: %s: %s", who, death, pidsLimitHit(pids, o.Exec))
	}
	hint := ""
	if !killed && configRead {
		// A filter's denial ends the init by SIGSYS or with a status
		// (Go's fatal error): never by SIGKILL or the OOM killer,
		// where the hint sent people to the wrong place.
		hint = o.Config.Sandbox.seccompHint()
	}
	return &diedError{fmt.Sprintf("%s exited without reporting: %s%s", who, death, hint), killed}
}

// maxShownArgs bounds the guest's arguments put on the init's command line.
const maxShownArgs = 4096

// initArgs is the init's argv: "runw init", then the guest's process.args
// as far as they fit in maxShownArgs bytes. They are there to be seen, not
// read (the init takes its plan from the init pipe): ps, podman top and
// runw ps show a wasm container's command as they show a native one's,
// and not every container as "runw init". A long command line is cut, so
// that the exec never fails on the size of argv.
func initArgs(guest []string) []string {
	args := []string{"runw", "init"}
	n := 0
	for _, a := range guest {
		n += len(a) + 1
		if n > maxShownArgs || strings.IndexByte(a, 0) >= 0 {
			return append(args, "...")
		}
		args = append(args, a)
	}
	return args
}

// closeInheritedOnExec marks every descriptor from 3 up close-on-exec.
// runw's own are already; the others are what its caller left open (a
// shell's, an engine's), which would otherwise live in the init for the
// container's whole life (runc closes them too). What the init needs is
// passed to it explicitly (stdio, ExtraFiles).
func closeInheritedOnExec() {
	if unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	// Before Linux 5.11.
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= 3 {
			unix.CloseOnExec(fd)
		}
	}
}

// deathOf reaps an init whose sync pipe closed without a report and says
// what ended it: the OOM killer (the cgroup's memory.oom_control or
// memory.events counts a kill), a signal, or an exit status; killed says
// it was the OOM killer or SIGKILL.
func deathOf(cmd *exec.Cmd, cgPath string) (string, bool) {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		// Alive with its pipe closed: not an init we know how to talk to.
		cmd.Process.Kill()
		<-done
		return "closed its sync pipe and was killed", true
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	// The OOM killer's is a SIGKILL. Its count is the cgroup's since it
	// was made: an init that died any other way (a status, a filter's
	// SIGSYS) in a container where the OOM killer had struck once, an
	// exec'd process before it, was blamed on it.
	if ok && ws.Signaled() && ws.Signal() == unix.SIGKILL && oomKills(cgPath) > 0 {
		return fmt.Sprintf("killed by the OOM killer (cgroup %q is over its memory limit)", cgPath), true
	}
	switch {
	case ok && ws.Signaled():
		return "killed by signal " + unix.SignalName(ws.Signal()), ws.Signal() == unix.SIGKILL
	case ok && ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus()), false
	}
	return cmd.ProcessState.String(), false
}
