package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/state"
	"github.com/runw/runw/wasi"
)

// CreateOptions are create's flags.
type CreateOptions struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string
	PidfdSocket   string
	// PreserveFDs is accepted for compatibility; a WASI p1 guest has no way
	// to use inherited descriptors, so none are passed to it.
	PreserveFDs  int
	NoPivot      bool
	NoNewKeyring bool
}

// initProcess is a spawned init that `run` can wait on, or, for a
// handed-off container, the native runtime's `run` still to be executed.
type initProcess struct {
	cmd    *exec.Cmd
	native bool
}

// Create makes the container: its init holds the compiled, instantiated
// module and waits on the exec fifo; no guest code runs until Start.
func (r *Runtime) Create(id string, o CreateOptions) error {
	_, err := r.create(id, o, nil, "create")
	return err
}

// create is Create with an optional tty for `run` in the foreground. It
// reads as its steps: classify the bundle (wasm here, or handed to the
// native runtime), make the state directory behind one cleanup guard,
// prepare what the init needs on the host, spawn the init into its
// cgroup, record it, run the create hooks.
func (r *Runtime) create(id string, o CreateOptions, tty *os.File, command string) (*initProcess, error) {
	if err := state.ValidateID(id); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		abs, err := filepath.Abs(o.PidFile)
		if err != nil {
			return nil, err
		}
		o.PidFile = abs
	}
	b, err := spec.Load(o.Bundle)
	if err != nil {
		return nil, err
	}
	// The mounts' destinations, resolved once, here: the module's lookup
	// and the grants use them, and they are recorded (saveContainer), so
	// that exec grants the mounts where the container's process has them.
	b.Destinations = b.MountDestinations()
	masks := b.MaskedPaths()
	b.Masks = &masks
	ep, handedOff, err := r.classify(id, b, command)
	if handedOff != nil || err != nil {
		return handedOff, err
	}
	defer ep.Close()
	if err := checkTerminal(b.Spec.Process.Terminal, o.ConsoleSocket, tty != nil); err != nil {
		return nil, err
	}
	if b.Spec.Linux != nil {
		if err := checkPidsLimit(b.Spec.Linux.Resources); err != nil {
			return nil, err
		}
		if err := checkMemoryLimit(b.Spec.Linux.Resources); err != nil {
			return nil, err
		}
	}

	h, err := r.newStateDir(id)
	if err != nil {
		return nil, err
	}
	logDebugf("%s: bundle loaded, state directory made", id)
	// A failed create leaves nothing behind: the init is killed first, so
	// that its cgroup is empty and can be removed, then the state goes.
	ok := false
	var init *exec.Cmd
	// hooked is the container once its create hooks have begun: a failure
	// from then on is runtime-spec's lifecycle step 3 to 5 failing, which
	// continues at step 12 (destroy) and 13 (the poststop hooks), as runc's
	// destroy does, so that a hook pair's teardown undoes its setup.
	var hooked *state.Container
	cgPath := cgroupPath(b.Spec, r.opts.Root, id, r.opts.SystemdCgroup)
	defer func() {
		if !ok {
			if init != nil && init.Process != nil {
				init.Process.Kill()
				init.Wait()
			}
			destroyCgroup(cgPath)
			h.Destroy()
			if hooked != nil {
				runPoststop(hooked)
			}
		}
	}()

	cfg, err := r.prepareInit(h, b, ep, o.NoPivot)
	if err != nil {
		return nil, err
	}
	if err := checkCgroupEmpty(cgPath); err != nil {
		cgPath = "" // not ours: never remove it on the way out
		return nil, err
	}
	if o.ConsoleSocket != "" {
		slave, err := sendConsole(o.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		defer slave.Close()
		tty = slave
	}
	if init, err = r.spawnContainerInit(h, b, cfg, cgPath, tty); err != nil {
		return nil, err
	}
	c, err := saveContainer(h, b, id, init.Process.Pid, cgPath)
	if err != nil {
		return nil, err
	}
	hooked = c
	// "creating": the create operation is not over (as runc passes it).
	runtimeHooks, containerHooks := createHooks(b)
	if err := runHooksIn(b.Dir, specState(c, state.Creating), runtimeHooks...); err != nil {
		return nil, err
	}
	if err := runHooksIn(b.Rootfs, specState(c, state.Creating), containerHooks); err != nil {
		return nil, err
	}
	if err := announce(init.Process.Pid, o.PidfdSocket, o.PidFile); err != nil {
		return nil, err
	}
	ok = true
	h.Unlock()
	return &initProcess{cmd: init}, nil
}

// newStateDir makes id's state directory. One a create killed before it
// recorded the container left behind (a Ctrl-C during the compile) holds
// no container, as list and state say: it is cleaned up as delete would
// and the id taken.
func (r *Runtime) newStateDir(id string) (*state.Handle, error) {
	h, err := r.store.Create(id)
	if !errors.Is(err, state.ErrExist) {
		return h, err
	}
	if old, ok := r.store.LockAbandoned(id); ok {
		cleanupAborted(old)
		if old.Destroy() == nil {
			return r.store.Create(id)
		}
	}
	return nil, err
}

// classify decides who runs the bundle: runw, which gets the entrypoint
// back, or the native runtime (a pod's sandbox, a native executable),
// which create hands the bundle to, returning what it started.
func (r *Runtime) classify(id string, b *spec.Bundle, command string) (*spec.Entrypoint, *initProcess, error) {
	if isSandbox(b) {
		cmd, err := r.handOff(id, b, command)
		return nil, &initProcess{cmd: cmd, native: true}, err
	}
	if ep := wasmBehindEngineInit(b); ep != nil {
		return ep, nil, nil
	}
	ep, err := b.Entrypoint()
	if err != nil {
		return nil, nil, err
	}
	if spec.IsWasm(spec.HandlerFor(b.Spec.Annotations), ep) {
		return ep, nil, nil
	}
	ep.Close()
	if ep.Kind != spec.KindNative {
		return nil, nil, fmt.Errorf("%q is not a WebAssembly module (found %s content)", ep.GuestPath, ep.Kind)
	}
	if a := narrowedNetwork(b); a != "" {
		return nil, nil, fmt.Errorf("%q is a native executable, not WebAssembly: the native runtime would run it without the network grant %s narrows; remove the annotation to run it natively", ep.GuestPath, a)
	}
	cmd, err := r.handOff(id, b, command)
	if err != nil && !errors.As(err, new(*NativeExit)) && !errors.Is(err, state.ErrExist) {
		err = fmt.Errorf("%q is a native executable, not WebAssembly: %w", ep.GuestPath, err)
	}
	return nil, &initProcess{cmd: cmd, native: true}, err
}

// engineInits are the init programs engines put before the container's
// command when asked to (podman run --init, or init = true in
// containers.conf: catatonit, bind-mounted at /run/podman-init; docker run
// --init), as "INIT -- COMMAND...".
var engineInits = []string{"/run/podman-init", "/sbin/docker-init"}

// wasmBehindEngineInit returns the entrypoint of a wasm command an
// engine's init was put in front of, having dropped the init from
// process.args; nil (the args untouched) otherwise. The init is a native
// program whose work (reaping zombies, passing signals on) a wasm guest
// does not need: runw's init is already pid 1's signal handler, and a
// guest has no children. Handed to runc instead, the init could only fail
// to exec the module.
func wasmBehindEngineInit(b *spec.Bundle) *spec.Entrypoint {
	args := b.Spec.Process.Args
	if len(args) < 3 || args[1] != "--" || !slices.Contains(engineInits, args[0]) {
		return nil
	}
	b.Spec.Process.Args = args[2:]
	if ep, err := b.Entrypoint(); err == nil {
		if spec.IsWasm(spec.HandlerFor(b.Spec.Annotations), ep) {
			logDebugf("%s is the engine's init: running the wasm command after it", args[0])
			return ep
		}
		ep.Close()
	}
	b.Spec.Process.Args = args
	return nil
}

// prepareInit makes on the host what the init will need, before it
// exists: the plan, the compiled module (compiled here so that the work is
// not charged to the container's cgroup and limits), the tmpfs
// directories, mount points and cwd, the pivot and the exec fifo; and
// returns the init's configuration.
func (r *Runtime) prepareInit(h *state.Handle, b *spec.Bundle, ep *spec.Entrypoint, noPivot bool) (initConfig, error) {
	plan, err := wasi.PlanFor(b, ep, h.Path("private"))
	if err != nil {
		return initConfig{}, err
	}
	for _, s := range plan.Skipped {
		logDebugf("not granted: %s", s)
	}
	readThrough(plan, ep)
	sandbox, err := sandboxFor(b.Spec)
	if err != nil {
		return initConfig{}, err
	}
	// An init in its own user namespace cannot read runw's cache: it is
	// handed the artifact compiled here (handOver), where the cache can
	// hand one over; elsewhere a compile here would be wasted.
	cached := false
	if !sandbox.has(specs.UserNamespace) || r.canHandOver() {
		if cached, err = r.compileOutside(plan); err != nil {
			return initConfig{}, err
		}
	}
	owner := sandbox.hostUser(plan.User)
	// A tmpfs's root belongs to the container's root, as under runc.
	root := sandbox.hostUser(wasi.User{})
	for _, d := range plan.PrivateDirs {
		if overlay, ok := plan.OverlayData[d]; ok {
			if err := mountOverlay(d, overlay); err != nil {
				return initConfig{}, err
			}
			continue
		}
		dest := plan.GuestPathOf(d)
		if err := makePrivateDir(d, plan.TmpfsData[d], tmpfsRootMode(b.Rootfs, dest, plan.TmpfsData[d]), root); err != nil {
			return initConfig{}, err
		}
	}
	plan.MakeMountPoints()
	if err := plan.MakeCwd(b.Spec.Process.Cwd); err != nil {
		return initConfig{}, err
	}
	if !noPivot {
		if sandbox.Pivot, err = pivotPlan(plan, sandbox); err != nil {
			return initConfig{}, err
		}
	}
	fifo := h.Path(fifoName)
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return initConfig{}, fmt.Errorf("create exec fifo: %w", err)
	}
	// mkfifo takes the caller's umask: under umask 0200 (zstd's tests
	// run `umask 0666`) the owner lost the write bit that the init, with
	// no CAP_DAC_OVERRIDE by then, needs to open it. runc sets Umask(0)
	// around its mkfifo; the umask is the process's, so runw sets the
	// mode afterwards instead.
	if err := os.Chmod(fifo, 0o622); err != nil {
		return initConfig{}, fmt.Errorf("chmod exec fifo: %w", err)
	}
	// As runc does: the init opens it after taking process.user's uid.
	if err := os.Chown(fifo, int(owner.UID), int(owner.GID)); err != nil {
		return initConfig{}, fmt.Errorf("chown exec fifo: %w", err)
	}
	cfg := r.initConfig(plan, sandbox, cached)
	cfg.Fifo = fifo
	return cfg, nil
}

// spawnContainerInit makes the container's cgroup and spawns its init
// into it, on tty when there is one. The cgroup is made and its limits
// set before the init exists; the init enters it without the cost of an
// attach (cgroups.go). The init record comes first, so that a create
// killed from here on leaves delete a cgroup to remove.
func (r *Runtime) spawnContainerInit(h *state.Handle, b *spec.Bundle, cfg initConfig, cgPath string, tty *os.File) (*exec.Cmd, error) {
	extra, err := cfg.handOver()
	if err != nil {
		return nil, err
	}
	defer closeAll(extra)
	ns, err := namespacesForCreate(cfg.Sandbox)
	if err != nil {
		return nil, err
	}
	if err := recordInit(h, 0, cgPath); err != nil {
		return nil, err
	}
	cg, err := makeCgroup(cgPath, b.Spec)
	if err != nil {
		return nil, err
	}
	defer cg.Close()
	return r.spawnInit(spawnOptions{
		Config: cfg, NS: ns, Stdio: stdioOf(tty), Tty: tty != nil, ExtraFiles: extra,
		CgroupPath: cgPath, Cgroup: cg,
		Place: func(pid int, born bool) error {
			if err := recordInit(h, pid, cgPath); err != nil {
				return err
			}
			if born {
				return nil
			}
			_, err := applyCgroup(cgPath, b.Spec, pid)
			return err
		},
	})
}

// saveContainer writes state.json for the container whose init is pid.
func saveContainer(h *state.Handle, b *spec.Bundle, id string, pid int, cgPath string) (*state.Container, error) {
	start, err := state.ProcessStartTime(pid)
	if err != nil {
		return nil, fmt.Errorf("container init exited early: %w", err)
	}
	c := &state.Container{
		OCIVersion:    b.Spec.Version,
		ID:            id,
		Bundle:        b.Dir,
		Rootfs:        b.Rootfs,
		Created:       time.Now().UTC(),
		Annotations:   b.Spec.Annotations,
		InitPid:       pid,
		InitStartTime: start,
		CgroupPath:    cgPath,
		Extra:         recordOf(b),
	}
	if err := h.Save(c); err != nil {
		return nil, err
	}
	return c, nil
}

// stdioOf is a spawned process's standard streams: the terminal when
// there is one, else runw's own.
func stdioOf(tty *os.File) [3]*os.File {
	if tty != nil {
		return [3]*os.File{tty, tty, tty}
	}
	return [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
}

// initRecord names the init of a container still being created, so that
// if create is killed before state.json exists, delete can still find the
// init and its cgroup and remove them.
const initRecord = "init.pid"

// recordInit writes the init record: pid, start time, cgroup. Pid 0
// records the cgroup alone, before the init exists.
func recordInit(h *state.Handle, pid int, cgPath string) error {
	var start uint64
	if pid != 0 {
		var err error
		if start, err = state.ProcessStartTime(pid); err != nil {
			return err
		}
	}
	return state.WriteFileAtomic(h.Path(initRecord), []byte(fmt.Sprintf("%d %d %s", pid, start, cgPath)), 0o600)
}

// cleanupAborted kills the init of an aborted create (if it still lives)
// and removes its cgroup, from the record create left.
func cleanupAborted(h *state.Handle) {
	data, err := h.ReadFile(initRecord)
	if err != nil {
		return
	}
	// The cgroup path is the rest of the line, spaces and all: a %s scan
	// would stop at the first space and name some other cgroup to kill.
	var c state.Container
	f := strings.SplitN(string(data), " ", 3)
	if len(f) != 3 {
		return
	}
	var err1, err2 error
	c.InitPid, err1 = strconv.Atoi(f[0])
	c.InitStartTime, err2 = strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return
	}
	c.CgroupPath = f[2]
	if c.InitPid == 0 {
		// Killed before the init existed: the cgroup was made for it and
		// holds nothing of ours. Another container may have taken it
		// since (create only refuses a cgroup with processes in it), so
		// never kill what it holds; remove it only if it is empty.
		// (A pids hierarchy not made yet holds nothing either.)
		if pids, err := cgroupPids(c.CgroupPath); err == nil && len(pids) == 0 || errors.Is(err, os.ErrNotExist) {
			destroyCgroup(c.CgroupPath)
		}
		return
	}
	killAndWait(&c)
	killCgroup(c.CgroupPath)
	waitCgroupEmpty(c.CgroupPath)
	destroyCgroup(c.CgroupPath)
}

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
// (initEnviron).
var initEnv = []string{"GOMAXPROCS=2", "TOKIO_WORKER_THREADS=1"}

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
	exe, err := sealedSelf(filepath.Join(r.opts.Root, state.EmptyDir))
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
		return fail(fmt.Errorf("send namespace orders: %w", err))
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
		// The init is gone before reading it: its sync pipe says why.
		if rerr := readReport(syncR); rerr != nil && rerr != errNoReport {
			return fail(rerr)
		}
		return fail(fmt.Errorf("send init config: %w", err))
	}
	initW.Close()

	err = readReport(syncR)
	logDebugf("init %d reported: %v", cmd.Process.Pid, err)
	switch {
	case err == errNoReport:
		death := deathOf(cmd, o.CgroupPath)
		who := "container init"
		if o.Exec {
			who = "exec'd process"
		}
		if pidsRefusals(pids) > refusedBefore {
			return nil, fmt.Errorf("%s exited without reporting: %s: %s", who, death, pidsLimitHit(pids, o.Exec))
		}
		return nil, fmt.Errorf("%s exited without reporting: %s%s", who, death, o.Config.Sandbox.seccompHint())
	case err != nil:
		return fail(err)
	}
	return cmd, nil
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
// memory.events counts a kill), a signal, or an exit status.
func deathOf(cmd *exec.Cmd, cgPath string) string {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		// Alive with its pipe closed: not an init we know how to talk to.
		cmd.Process.Kill()
		<-done
		return "closed its sync pipe and was killed"
	}
	if cgPath != "" {
		if m, err := cgroupManager(cgPath, nil); err == nil {
			if n, err := m.OOMKillCount(); err == nil && n > 0 {
				return fmt.Sprintf("killed by the OOM killer (cgroup %q is over its memory limit)", cgPath)
			}
		}
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		return "killed by signal " + unix.SignalName(ws.Signal())
	case ok && ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
	return cmd.ProcessState.String()
}

// minPids is the smallest pids limit runw accepts. Every thread counts
// against pids.max, and runw's init is one process running about ten
// (Go's runtime and wasmtime's; initEnv bounds them), more under load,
// so a limit a native single-process container lives with would crash it
// while it starts, at random, with the Go runtime's dump on the
// container's stderr. It is refused instead, in one line, before anything
// is made. The minimum leaves room for an exec'd process (a second init,
// about as many threads again: 21 at once here) beside the first, with
// room to spare for a busy server's init and a health check's exec at
// once: podman exec and health checks work at it. At 16, the minimum
// before, every exec failed.
const minPids = 32

// checkPidsLimit refuses a pids limit below minPids (-1, 0 or none: no
// limit; podman up to 5.4 writes 0 for --pids-limit -1, and runc 1.1
// treats 0 as unset).
func checkPidsLimit(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	var named int64
	if r.Pids != nil && r.Pids.Limit != nil {
		named = *r.Pids.Limit
	}
	// pids.max given by name (linux.resources.unified, cgroup v2) is
	// the same limit.
	limit, low := limitBelow(named, r, "pids.max", minPids)
	if !low {
		return nil
	}
	return fmt.Errorf("pids limit %d: runw's init runs about 10 threads, each counted against it, and an exec'd process as many again; use at least %d, or -1 for no limit", limit, minPids)
}

// minMemory is the smallest memory limit runw accepts. runw's init
// starts in the container's cgroup and is charged for what it maps
// before any guest runs (its heap, stacks, wasmtime's engine): under 3
// MiB here the OOM killer ended it before it could say a word, and the
// engine reported an OOM kill (a Kubernetes OOM event) for what is a
// limit no runw container can run under (runc's create fails at 1 MiB
// too, in the kernel's refusal of the limit). It is refused instead, in
// one line, before anything is made; a limit above it that leaves the
// guest too little is refused at instantiation, naming the module's
// need.
const minMemory = 4 << 20

// checkMemoryLimit refuses a memory limit below minMemory (0, -1 or
// none: no limit); memory.max given by name (cgroup v2) is the same.
func checkMemoryLimit(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	var named int64
	if r.Memory != nil && r.Memory.Limit != nil {
		named = *r.Memory.Limit
	}
	limit, low := limitBelow(named, r, "memory.max", minMemory)
	if !low {
		return nil
	}
	return fmt.Errorf("memory limit %d bytes: runw's init needs about 3 MiB of its own in the container's cgroup before the guest runs; use at least %d MiB", limit, minMemory>>20)
}

// limitBelow is the limit r sets, by name (named) or as file in
// linux.resources.unified, whichever is lower, and whether it is set and
// below min.
func limitBelow(named int64, r *specs.LinuxResources, file string, min int64) (int64, bool) {
	limit := spec.UnifiedLimit(named, r, file)
	return limit, limit != 0 && limit < min
}

// pidsDir is the directory of the container's pids controller, "" when
// it has none.
func pidsDir(cgPath string) string {
	if cgPath == "" {
		return ""
	}
	m, err := cgroupManager(cgPath, nil)
	if err != nil {
		return ""
	}
	if dir := m.Path("pids"); dir != "" {
		return dir
	}
	return m.Path("")
}

// pidsRefusals is how many forks or threads the pids controller in dir
// (pidsDir) has refused so far (pids.events' max), 0 when it cannot tell.
func pidsRefusals(dir string) int64 {
	if dir == "" {
		return 0
	}
	events, err := os.ReadFile(filepath.Join(dir, "pids.events"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(events), "\n") {
		if n, ok := strings.CutPrefix(line, "max "); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
			return v
		}
	}
	return 0
}

// pidsLimitHit says, for an init the pids controller refused a thread
// (pidsRefusals grew while it started), what the limit is and why it
// was reached: runw's init is one process but runs about ten threads
// (Go's and wasmtime's), each of which counts against pids.max, so a
// limit a native single-process container lives with can stop it from
// starting; an exec'd process is a second such init.
func pidsLimitHit(dir string, exec bool) string {
	max, _ := os.ReadFile(filepath.Join(dir, "pids.max"))
	limit := strings.TrimSpace(string(max))
	if exec {
		return fmt.Sprintf("the container's pids limit (%s) refused a thread of the exec'd process, which runs about 10 (Go and wasmtime) beside the container's own: raise the limit", limit)
	}
	return fmt.Sprintf("the container's pids limit (%s) refused a thread of the init, which runs about 10 (Go and wasmtime)", limit)
}

// checkTerminal applies runc's rules on terminal and console socket.
func checkTerminal(terminal bool, consoleSocket string, foregroundTTY bool) error {
	if terminal && consoleSocket == "" && !foregroundTTY {
		return errors.New("cannot allocate tty if runw will detach without setting console socket")
	}
	if !terminal && consoleSocket != "" {
		return errors.New("cannot use console socket if runw will not detach or allocate tty")
	}
	return nil
}

// makePrivateDir makes the directory behind one of the spec's tmpfs mounts.
// When runw may mount (root), it is a real tmpfs with the spec's options
// (nosuid, nodev, noexec), so the guest gets ENOSPC where runc's container
// would, and its pages are charged to the container's memory cgroup; it is
// unmounted with the container (state.Handle.Destroy). The attack this
// stops: a tmpfs without size= (podman's --tmpfs and --read-only mounts)
// used to be a plain directory under the state root, so a guest could fill
// the host's /run past its memory limit. Without root (rootless) it is a
// plain directory, and a size limit is not enforced. Either way its root
// is as runc leaves a tmpfs's: owned by owner, the container's root, with
// mode (tmpfsRootMode). Options the kernel refuses fail create, as under
// runc; only a mount runw has no right to make (EPERM) falls back to the
// plain directory.
func makePrivateDir(dir, data string, mode uint32, owner wasi.User) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		var keep []string
		for _, o := range strings.Split(data, ",") {
			if o != "" && !strings.HasPrefix(o, "mode=") {
				keep = append(keep, o)
			}
		}
		keep = append(keep, fmt.Sprintf("mode=%o,uid=%d,gid=%d", mode, owner.UID, owner.GID))
		opts := strings.Join(keep, ",")
		err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts)
		if err == nil {
			return nil
		}
		if err != unix.EPERM {
			// Options the kernel refuses (size=1k2m, nr_inodes=5%):
			// runc's create fails on them, and a plain directory
			// would drop the size= the spec asked for, leaving the
			// guest the whole state root's file system (/run).
			return fmt.Errorf("mount tmpfs with %q: %w", opts, err)
		}
		logDebugf("tmpfs %q with %q: %v; using a plain directory", dir, opts, err)
	}
	if err := unix.Chmod(dir, mode); err != nil {
		return &os.PathError{Op: "chmod", Path: dir, Err: err}
	}
	return os.Chown(dir, int(owner.UID), int(owner.GID))
}

// tmpfsRootMode is the mode of a tmpfs's root at dest, as runc leaves it:
// the spec's mode=; else, where the image has a directory at dest, that
// directory's mode (runc gives the mounted tmpfs its mount point's mode:
// an image's 0755 /run stays closed to a non-root guest); else 1777, a
// tmpfs's own, which every user may write (podman exec --user 1000).
func tmpfsRootMode(rootfs, dest, data string) uint32 {
	if mode, ok := tmpfsMode(data); ok {
		return mode
	}
	if f, err := pathrs.OpenInRoot(rootfs, dest); err == nil {
		defer f.Close()
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return st.Mode & 0o7777
		}
	}
	return 0o1777
}

// mountOverlay mounts the overlay behind a spec's overlay mount (podman's
// -v SRC:DST:O, --mount type=image) on dir, under the container's state
// directory, which delete unmounts. The guest is granted dir at the
// mount's destination; it writes into the upper layer the engine chose.
// Failing, it fails create: an empty directory in its place would hide
// the volume without a word.
func mountOverlay(dir, data string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := unix.Mount("overlay", dir, "overlay", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mount overlay (%s): %w", data, err)
	}
	return nil
}

// tmpfsMode reads mode= from tmpfs options: the permission, sticky,
// setgid and setuid bits, as chmod(2) takes them.
func tmpfsMode(data string) (uint32, bool) {
	for _, o := range strings.Split(data, ",") {
		if v, ok := strings.CutPrefix(o, "mode="); ok {
			if m, err := strconv.ParseUint(v, 8, 32); err == nil {
				return uint32(m) & 0o7777, true
			}
		}
	}
	return 0, false
}
