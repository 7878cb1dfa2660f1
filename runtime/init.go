package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
)

// stopGrace is how long the init lets a stopped guest return before it
// exits 128+signal on the guest's behalf. A guest waiting in a host call
// is woken by the host's stop descriptor and returns within microseconds;
// a guest in its own code (a loop without host calls) or a component in
// one of wasmtime's WASI 0.2 calls is not interrupted: the init's exit ends
// it, as the kernel ends a native process that does not handle the signal.
// The engine has no epoch interruption, whose checks would cost every
// guest 15–40% of its speed (wasi/engine.go).
const stopGrace = 10 * time.Millisecond

// stopSignals end the guest, as they would end a native process that does
// not handle them. WASI preview1 has no signal delivery, so the guest
// cannot handle them itself; the init stops it and exits with 128+signal,
// the status a shell or conmon reports for a process killed by it. They
// end it as pid 1 of its own pid namespace too, where the kernel gives a
// native init only the signals it handles (busybox sleep under runc lives
// through SIGTERM, and podman stop waits its 10 s for SIGKILL): a guest
// that could handle SIGTERM (a Go server) would end on it, and one that
// cannot is better stopped at once.
//
// The second and third lines are the rest of the signals whose default
// action ends a process, with a core or not: sent with kill(2) (`podman
// kill -s ABRT`), the fault signals reached Go's own handler, which wrote
// every goroutine of the init into the container's log (235 lines) and
// exited 2, and XCPU (RLIMIT_CPU's too), XFSZ, PWR, VTALRM and IO were
// ignored. Go delivers SEGV, BUS, FPE, ILL, TRAP, SYS and STKFLT to
// Notify only when a process sent them; a real fault is still wasmtime's
// (a trap) or Go's (a crash), and the SIGSYS of a seccomp profile's
// SCMP_ACT_TRAP is runw_sigsys's (kernelsignals.go). One that lands on the thread running wasm
// code is wasmtime's first, which may take it for the guest's trap (134).
// ABRT from abort(3) in the init itself reaches Notify too; abort then
// ends the init by SIGABRT all the same. Left out: PROF (Go's profiler),
// the real-time signals (glibc's and runw's own; the rest end an init
// that is not pid 1: stopSignalsBesidePid1), and those a native
// process ignores or stops on. PIPE, XFSZ and XCPU reach the same
// channel through notifyKernelSignals, which handles the kernel's own
// (raised on a write of the init, or at RLIMIT_CPU's soft limit to an
// init that is pid 1) and passes on the rest.
var stopSignals = []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM,
	unix.SIGABRT, unix.SIGTRAP, unix.SIGSYS, unix.SIGSTKFLT, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL,
	unix.SIGXCPU, unix.SIGXFSZ, unix.SIGPWR, unix.SIGVTALRM, unix.SIGIO}

// stopSignalsBesidePid1 are the signals that end a native process that
// is not pid 1 of its own pid namespace and that stopSignals leaves out:
// the real-time signals from 35 (SIGRTMIN+1; 32 to 34 are left to their
// default action, which ends the init already) but threadSignal, which
// the init sends its own threads. Without a pid namespace of the
// container's own (Kubernetes' hostPID, an exec'd process), Go's handler
// took them and dropped them, and the container lived on where runc's
// ended with 128+signal. As pid 1 of its own namespace, a native process
// lives through them, and so does the guest (asPid1), unless an engine's
// init stood in front of it (Sandbox.BehindInit: catatonit passes them on
// to its child, which they end). PROF stays Go's runtime's, which never
// hands it to Notify.
func stopSignalsBesidePid1(asPid1 bool) []os.Signal {
	if asPid1 {
		return nil
	}
	var sigs []os.Signal
	for s := 35; s <= 64; s++ {
		if s != threadSignal {
			sigs = append(sigs, unix.Signal(s))
		}
	}
	return sigs
}

// Init is `runw init`, the container process. It is started by create or
// exec from a sealed copy of runw, speaking the protocol in protocol.go:
// it reads its configuration, prepares the guest, reports ready, blocks on
// the exec fifo until `runw start`, runs the guest and exits with its
// status. It never returns.
func Init() {
	// Its name, runw-init, was set by the C constructor (runtime/nsenter)
	// before Go started a thread, so that every thread has it.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, slices.Concat(stopSignals, stopSignalsBesidePid1(os.Getpid() == 1))...)
	pipes := openInitPipes()
	// A guest writing to a closed pipe or socket gets EPIPE, as a native
	// process that ignores SIGPIPE does, never a death by signal; one
	// writing past RLIMIT_FSIZE ends at that write with 153, and one
	// past RLIMIT_CPU's soft limit with 152 (as pid 1, neither: the
	// kernel spares a native init both); a SIGPIPE, SIGXFSZ or SIGXCPU
	// another process sends stops it as the others do.
	if err := notifyKernelSignals(sigs); err != nil {
		pipes.fail(err)
	}
	// The constructor (runtime/nsenter) unsets it once it has obeyed its
	// orders. Still set, it never ran (a C library that does not hand
	// constructors argv), and the init would run outside its cgroups and
	// namespaces.
	if v := os.Getenv(nsexecEnv); v != "" {
		pipes.fail(fmt.Errorf("the init's C constructor did not run (%s=%s is still set): runw needs glibc", nsexecEnv, v))
	}
	cfg, err := pipes.readConfig()
	if err != nil {
		pipes.fail(err)
	}
	if err := cfg.Sandbox.checkJoinedProc(); err != nil {
		pipes.fail(err)
	}
	if cfg.Debug {
		configureInitLog(cfg)
	}
	if cfg.Sandbox.BehindInit && os.Getpid() == 1 {
		behindEngineInit()
		signal.Notify(sigs, stopSignalsBesidePid1(false)...)
	}

	logDebugf("init: config read")
	cfg.Plan.Pid1 = os.Getpid() == 1 && !cfg.Sandbox.BehindInit
	guest, cache := prepareGuest(&cfg, pipes)
	fifo := enterContainer(&cfg, guest, cache, pipes)
	// If create is gone (killed mid-way), nobody will ever start or
	// delete this init by its fifo: exit instead of waiting forever.
	if err := pipes.ready(); err != nil {
		os.Exit(1)
	}

	runReleased(guest, fifo, sigs)
}

// prepareGuest compiles (within the compile bound) and instantiates the
// guest cfg plans, failing the init on any error.
func prepareGuest(cfg *initConfig, pipes initPipes) (wasi.Guest, *wasi.Cache) {
	// The module is the image's, and one function of 600 KB (50,000
	// loop-carried locals) keeps Cranelift busy for hours: after the
	// compile child's bound, the in-process compile below (Prepare) went
	// on without one, create never returned, and kill and delete --force
	// waited behind its lock. The compile in the init (child and
	// in-process together) gets the child's bound (watchCompile).
	compiling := watchCompile(compileBoundFor(moduleSize(cfg.Plan.Module)), cfg.Plan.ModuleName, pipes.fail)
	// fail reports err unless the bound has fired, whose report is then
	// on its way, and exits.
	fail := func(err error) {
		if compiling.Stop() {
			pipes.fail(err)
		}
		select {}
	}
	cache := openCache(cfg.CacheDir, cfg.CacheMax)
	if cache != nil && cfg.CacheView != "" {
		cache.UseView(cfg.CacheView)
	}
	artifact, failed, err := compileInChild(*cfg, cache, false)
	if err != nil {
		fail(err)
	}
	if err := cfg.Sandbox.loopbackUp(); err != nil {
		fail(err)
	}
	cfg.Sandbox.applyNetSysctls()
	if err := copyUpAll(cfg.Plan); err != nil {
		fail(err)
	}
	// closeArtifact closes what the child compiled into memory: not a
	// handed-over descriptor, which closeHanded must not close again.
	closeArtifact := func() {
		if artifact != nil {
			artifact.Close()
			artifact = nil
			cfg.Plan.Artifact = ""
		}
	}
	// The init compiles in-process, before its sandbox and with the
	// container's capabilities, only where it does not hold the host's
	// root (Sandbox.holdsHostRoot), and then only once a confined child
	// failed (or, joined, where runw exec left it to: Plan.NoCompile).
	// The attacks: an entry the cache said it held but wasmtime refused
	// (one a compromised compile child handed back) or one evicted
	// between create's look and the load made the init compile the
	// image's module itself, no child tried; a module that outgrew its
	// child's memory had the init compile it as host root; and a guest
	// that rewrote its module between runw exec's compile and its init's
	// load had its own bytes compiled there, at every exec.
	hostRoot := cfg.Sandbox.holdsHostRoot()
	noCompile := func(failed error) bool {
		if cfg.joined() {
			return cfg.Plan.NoCompile || hostRoot
		}
		return failed == nil || hostRoot
	}
	cfg.Plan.NoCompile = noCompile(failed)
	guest, err := wasi.Prepare(cfg.Plan, cache)
	if errors.Is(err, wasi.ErrNotCompiled) && !cfg.joined() && failed == nil {
		// Not served where create or the cache said it would be: a
		// miss, compiled in a child as any other.
		logDebugf("init: %v; compiling in a child", err)
		closeArtifact()
		if artifact, failed, err = compileInChild(*cfg, cache, true); err != nil {
			fail(err)
		}
		cfg.Plan.NoCompile = noCompile(failed)
		guest, err = wasi.Prepare(cfg.Plan, cache)
	}
	switch {
	case !errors.Is(err, wasi.ErrNotCompiled):
	case failed != nil:
		err = fmt.Errorf("%w (its compile child failed: %v)", err, failed)
	case cfg.Sandbox.Joined && !hostRoot:
		err = fmt.Errorf("%w (it changed, or its compiled code left the cache, since runw exec looked it up: run the exec again)", err)
	case cfg.Sandbox.Joined:
		err = fmt.Errorf("%w (it changed, or its compiled code left the cache, since runw exec looked it up, or runw exec could not compile it, into a paused container: run the exec again, or fill the cache beforehand with runw compile)", err)
	}
	closeArtifact()
	if !compiling.Stop() {
		// The bound fired: its report is on its way, and exits.
		select {}
	}
	if err != nil {
		pipes.fail(err)
	}
	return guest, cache
}

// enterContainer gives up what the init held to prepare the guest and
// applies the sandbox, failing the init on any error; it returns the
// exec fifo as the init reaches it from then on ("" for an exec'd
// process).
func enterContainer(cfg *initConfig, guest wasi.Guest, cache *wasi.Cache, pipes initPipes) string {
	// The fifo is reached through an O_PATH descriptor taken while still
	// root: the guest's user cannot traverse runw's 0700 state root.
	fifo := cfg.Fifo
	if fifo != "" {
		fd, err := unix.Open(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			pipes.fail(fmt.Errorf("open exec fifo: %w", err))
		}
		fifo = fmt.Sprintf("/proc/self/fd/%d", fd)
	}
	cache.Close()
	// runw's cache as handed over (its writable directory, its read-only
	// view, an artifact) is done with once the guest is prepared: closed
	// before applyPrivileges makes the init dumpable again, so that no
	// process of the container ever reopens it through /proc/<init>/fd
	// (nsenter.go says why the init is non-dumpable until then).
	closed := closeHanded(cfg.Passed, cfg.CacheDir, cfg.CacheView, cfg.Plan.Artifact)
	if rt, ok := guest.(wasi.RootTaker); ok {
		cfg.Sandbox.TakeRoot = rt.TakeRoot
	}
	// enterSandbox sets process.user.umask, as runc's init sets it
	// before exec: the files and directories the guest creates get the
	// modes it asked for.
	if err := enterSandbox(cfg.Sandbox, cfg.Plan, fifo); err != nil {
		pipes.fail(err)
	}
	// Everything reached through a handed-over descriptor is open now (the
	// grants by the WASI host and in the Landlock ruleset, the fifo above,
	// the log, the module): none of them stays open for the guest's life.
	for i := 0; i < cfg.Passed; i++ {
		if !closed[extraFD(i)] {
			unix.Close(extraFD(i))
		}
	}
	return fifo
}

// runReleased waits for start (the fifo; an exec'd process has none and
// runs at once) or a stop signal, then runs the guest and exits with its
// status, passing on a stop signal. It never returns.
func runReleased(guest wasi.Guest, fifo string, sigs chan os.Signal) {
	// Created: wait for start, or die of a stop signal (kill of a created
	// container, delete of a created container sends SIGKILL). An exec'd
	// process has no fifo and runs at once.
	released := make(chan error, 1)
	if fifo == "" {
		released <- nil
	} else {
		go func() { released <- waitForStart(fifo) }()
	}
	// A stop signal already taken (while an exec'd process compiled or
	// instantiated its module) comes before a release ready as well: Go's
	// select picks at random among ready cases, and the guest of an exec
	// signalled seconds before ran half the time, where runc's process,
	// signalled before it runs, never runs.
	select {
	case sig := <-sigs:
		os.Exit(128 + int(sig.(unix.Signal)))
	default:
	}
	select {
	case err := <-released:
		if err != nil {
			fmt.Fprintf(os.Stderr, "runw init: %v\n", err)
			os.Exit(1)
		}
	case sig := <-sigs:
		os.Exit(128 + int(sig.(unix.Signal)))
	}

	// The stop goroutine takes the first stop signal while the guest
	// runs; once Run returns it says whether it took one (0: none).
	ran := make(chan struct{})
	took := make(chan int, 1)
	go func() {
		select {
		case s := <-sigs:
			sig := int(s.(unix.Signal))
			took <- sig
			guest.Stop(sig)
			time.Sleep(stopGrace)
			os.Exit(128 + sig)
		case <-ran:
			took <- 0
		}
	}()
	logDebugf("init: released, running the guest")
	guestRuns()
	exit := guest.Run()
	logDebugf("init: guest exited with %d", exit.Code)
	// A stop signal that came while the guest ran ends the container with
	// 128+signal, as it ends a native process, even when the guest
	// returned before the stop goroutine had stopped it: the exit status
	// then depended on which of the two came first.
	close(ran)
	sig := <-took
	if sig == 0 {
		select {
		case s := <-sigs:
			sig = int(s.(unix.Signal))
		default:
		}
	}
	if sig != 0 {
		os.Exit(128 + sig)
	}
	if exit.Trap != "" {
		fmt.Fprintf(os.Stderr, "Error: %s\n", exit.Trap)
	}
	os.Exit(exit.Code)
}

// compileWatch bounds the init's compile of its module (compileBoundFor),
// in a `runw compile` child (fillCache bounds that child too) and then
// in-process (wasi.Prepare): it checks every compileWatchTick the
// wall-clock time since it started and the CPU time the init has used
// since, its own (every thread's: Cranelift compiles on a thread per
// CPU) and its ended children's, and reports the bound passed with fail
// once either runs out. Not RLIMIT_CPU, as on the child: at its hard
// limit the init would die by SIGKILL without a word to create, at its
// soft limit it sends SIGXCPU, which ends the guest as a stop signal
// (dropped only for an init that is pid 1, as the kernel drops it for a
// native one), and a hard limit lowered for the
// compile cannot be raised again in a user namespace, where the spec's
// own RLIMIT_CPU, or none, must hold for the guest.
type compileWatch struct {
	mu             sync.Mutex
	stopped, fired bool
	done           chan struct{}
}

// compileWatchTick is how often a compileWatch looks at the clocks.
const compileWatchTick = time.Second

// watchCompile starts watching a compile of the module named name.
func watchCompile(bound compileBound, name string, fail func(error)) *compileWatch {
	w := &compileWatch{done: make(chan struct{})}
	start, spent := time.Now(), cpuSpent()
	go func() {
		tick := time.NewTicker(compileWatchTick)
		defer tick.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
			var err error
			switch {
			case time.Since(start) > bound.wall:
				err = &compileTimeError{name: name, limit: bound.wall}
			case cpuSpent()-spent > bound.cpu:
				err = &compileTimeError{name: name, limit: bound.cpu, cpu: true}
			default:
				continue
			}
			w.mu.Lock()
			if w.stopped {
				w.mu.Unlock()
				return
			}
			w.fired = true
			w.mu.Unlock()
			fail(err)
			return
		}
	}()
	return w
}

// Stop ends the watch and reports whether it ended before its bound
// fired.
func (w *compileWatch) Stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped && !w.fired {
		w.stopped = true
		close(w.done)
	}
	return !w.fired
}

// cpuSpent is the CPU time used so far by this process (all its threads)
// and by its children that have ended and been waited for.
func cpuSpent() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts)
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_CHILDREN, &ru)
	return time.Duration(ts.Nano()) + time.Duration(ru.Utime.Nano()+ru.Stime.Nano())
}

// compileInChild is the fallback for a cache that create could not fill
// (compileOutside): the init fills it from a short-lived `runw compile`,
// so that Cranelift's working memory dies with that child instead of
// staying resident in the init for the whole life of the container. That
// child is in the container's cgroup, under its limits. Without a cache
// (and no artifact handed over) the child hands its artifact back into
// memory instead (compileToMemory says what that stops), named as the
// plan's artifact and returned, for the caller to close once the guest is
// prepared. If the child fails, Prepare compiles in-process and reports
// the error itself.
//
// The child inherits the init's descriptors on purpose: the protocol's
// descriptors are not close-on-exec, and under `runw exec` into a pivoted
// container the cache is a /proc/self/fd/N path naming one (cfg.passAll);
// the module goes as its standard input (fillCache). The child is runw
// itself and exits before the init reports, so the sync pipe's extra
// writer changes nothing. wasmtime's refusal of the module is returned,
// for the init to report: compiling in-process would be refused again.
// So is a child that ran out of its time (*compileTimeError): the init's
// own compile would only spend the rest of the same bound (compileWatch)
// and fail as well.
//
// Not for an exec'd init (Sandbox.Joined): it has already entered the
// container's mount namespace and root, where the kernel would take the
// child's ELF interpreter and shared libraries from the container's
// rootfs, the image's or the guest's to write: the image's
// /lib64/ld-linux-x86-64.so.2 ran as host root with the init's
// capabilities before anything was confined. Without those files (a
// wasm image) the child only ever failed, and the init compiled
// in-process; runw exec now compiles in its own child instead, and the
// init compiles nothing where it holds the host's root. Nor for an init that joined a
// mount namespace by path (Sandbox.joinsByPath): its files are that
// namespace's, another container's (whose guest may write them) or
// whoever made it, and a /lib64/ld-linux-x86-64.so.2 planted there ran
// as host root with every capability, in the host's user namespace,
// when a dynamically linked runw compiled in its init (no cache, or one
// that failed); create hands such an init its module compiled
// (compileOutside).
//
// It returns the artifact the child compiled into memory (nil when it was
// stored in the cache, or none was compiled), and failed: the child's
// failure, other than one every compile would meet (compileIsFinal),
// after which an init that does not hold the host's root may compile
// in-process. force compiles in a child even where create handed an
// artifact over or the cache said it held the module: prepareGuest's
// second try, when neither served it. An init in the container's root
// (joined) spawns no child.
func compileInChild(cfg initConfig, cache *wasi.Cache, force bool) (artifact *os.File, failed, err error) {
	if cfg.joined() {
		return nil, nil, nil
	}
	switch {
	case cfg.Plan.Artifact != "" && !force:
		// Handed over by create (compileOutside) or exec.
		return nil, nil, nil
	case cache != nil:
		if !force && (cfg.Cached || cache.Has(cfg.Plan.Module, cfg.Plan.Kind)) {
			return nil, nil, nil
		}
		// A cache that cannot keep the artifact (full, read-only) is
		// no cache: from memory, not compiled in-process.
		_, artifact, err = fillOrMemory(cache, cfg.Plan.Module, cfg.Plan.ModuleName, cfg.Plan.Kind, false, nil)
	default:
		artifact, _, err = compileToMemory(cfg.Plan.Module, cfg.Plan.ModuleName, cfg.Plan.Kind, false, nil)
	}
	if err != nil {
		if compileIsFinal(err) {
			return nil, nil, err
		}
		logDebugf("init: compile in a child failed (%v)", err)
		return nil, err, nil
	}
	if artifact != nil {
		cfg.Plan.Artifact = fmt.Sprintf("/proc/self/fd/%d", artifact.Fd())
	}
	return artifact, nil, nil
}

// joined says the init joins a running container (runw exec) or a mount
// namespace by path: it is in the container's root, where it can spawn no
// compile child (compileInChild).
func (cfg initConfig) joined() bool {
	return cfg.Sandbox != nil && (cfg.Sandbox.Joined || cfg.Sandbox.joinsByPath(specs.MountNamespace))
}

// closeHanded closes the handed-over descriptors (of the passed ones)
// that paths name as /proc/self/fd/N, and returns their numbers, which
// the init's later close of every handed descriptor skips: by then the
// number may be another descriptor's.
func closeHanded(passed int, paths ...string) map[int]bool {
	closed := map[int]bool{}
	for _, p := range paths {
		n, err := strconv.Atoi(strings.TrimPrefix(p, "/proc/self/fd/"))
		if err != nil || !strings.HasPrefix(p, "/proc/self/fd/") || n < extraFD(0) || n >= extraFD(passed) || closed[n] {
			continue
		}
		unix.Close(n)
		closed[n] = true
	}
	return closed
}

// moduleSize is the size of the module file at path, 0 if it cannot be
// read (the compile then fails on its own).
func moduleSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
