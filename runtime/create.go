package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/state"
	"github.com/runw/runw/wasi"
)

// CreateOptions are create's flags.
type CreateOptions struct {
	// Bundle is the bundle directory (--bundle; main makes "" ".").
	Bundle string
	// PidFile is where the init's pid is written (--pid-file).
	PidFile string
	// ConsoleSocket receives the pty's master when process.terminal is
	// set (--console-socket, sendConsole).
	ConsoleSocket string
	// PidfdSocket receives a pidfd of the init (--pidfd-socket).
	PidfdSocket string
	// PreserveFDs passes the caller's descriptors 3 to 3+PreserveFDs-1
	// to the guest (preserve.go), after its listeners. When systemd
	// activated runw itself (LISTEN_FDS), its sockets come first and the
	// preserved descriptors start at 3+LISTEN_FDS (preservedFDs).
	PreserveFDs int
	// NoPivot makes the rootfs the init's root by a move over "/" and
	// chroot rather than pivot_root (--no-pivot, Sandbox.NoPivot).
	NoPivot bool
	// NoNewKeyring is accepted for runc's --no-new-keyring; runw makes
	// no session keyring either way.
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
// reads as its steps: load and check the bundle, classify it (wasm here,
// or handed to the native runtime), make the state directory behind one
// cleanup guard (createUndo), prepare what the init needs on the host,
// spawn the init into its cgroup, run the create hooks, record it.
func (r *Runtime) create(id string, o CreateOptions, tty *os.File, command string) (*initProcess, error) {
	b, preserved, err := r.loadForCreate(id, &o)
	if err != nil {
		return nil, err
	}
	ep, handedOff, err := r.classify(id, b, command)
	if handedOff != nil || err != nil {
		return handedOff, err
	}
	defer ep.Close()
	// After classify: a native bundle's runtime warns in its own words.
	warnUnknownCapabilities(b.Spec.Process.Capabilities)
	if err := checkCreateLimits(b, o.ConsoleSocket, tty == nil); err != nil {
		return nil, err
	}

	spare := reserveFDs(spareFDs)
	defer spare.release()
	h, err := r.newStateDir(id)
	if err != nil {
		return nil, err
	}
	logDebugf("%s: bundle loaded, state directory made", id)
	undo := &createUndo{r: r, h: h, spare: &spare}
	defer undo.unlessDone()
	cgPath := cgroupPath(b.Spec, r.opts.Root, id, r.opts.SystemdCgroup)

	cfg, err := r.prepareInit(h, b, ep, o.NoPivot)
	if err != nil {
		return nil, err
	}
	undo.plan = cfg.Plan
	if cfg.artifact != nil {
		// Handed over at the spawn (handOver); the init holds its own.
		defer cfg.artifact.Close()
	}
	if err := cfg.preserve(preserved, b.Spec); err != nil {
		return nil, err
	}
	if err := checkCgroupEmpty(cgPath); err != nil {
		return nil, err
	}
	if o.ConsoleSocket != "" {
		slave, err := sendConsole(o.ConsoleSocket, b.Spec.Process.ConsoleSize)
		if err != nil {
			return nil, err
		}
		defer slave.Close()
		tty = slave
	}
	undo.ownCgroup, undo.newDirs = cgPath, newCgroupDirs(cgPath, r.opts.SystemdCgroup)
	init, err := r.spawnContainerInit(h, b, cfg, cgPath, tty)
	undo.init = init
	if err != nil {
		return nil, err
	}
	if cfg.Sandbox.Pivot {
		releaseTmpfs(cfg.Plan)
	}
	c, err := newContainer(b, id, init.Process.Pid, cgPath, recordedCache{Dir: r.opts.CacheDir, Max: r.opts.CacheMax})
	if err != nil {
		return nil, err
	}
	undo.hooked = c
	// "creating": the create operation is not over (as runc passes it).
	// state.json is written only once the create hooks have succeeded,
	// as runc writes its state: written before them, a create killed
	// while a hook ran left a container that `state` called created and
	// `start` ran, its hooks unfinished, where runc's is no container
	// (the init record then lets the next command of the id clean up,
	// cleanupAborted); and `state` from a hook said "created" where the
	// hook's own stdin said "creating".
	runtimeHooks, containerHooks := createHooks(b)
	if err := runHooks(r.hookDir, specState(c, state.Creating), runtimeHooks...); err != nil {
		return nil, err
	}
	if err := runHooks(b.Rootfs, specState(c, state.Creating), containerHooks); err != nil {
		return nil, err
	}
	if err := h.Save(c); err != nil {
		return nil, err
	}
	if err := announce(init.Process.Pid, o.PidfdSocket, o.PidFile); err != nil {
		return nil, err
	}
	undo.done = true
	h.Unlock()
	return &initProcess{cmd: init}, nil
}

// loadForCreate checks id and the caller's descriptors, makes o.PidFile
// absolute, and loads the bundle with what create and the records need
// resolved once: the mounts' destinations (the module's lookup and the
// grants use them, and they are recorded, so that exec grants the mounts
// where the container's process has them), whether its network is its
// own, the masked and read-only paths. Nothing is made yet.
func (r *Runtime) loadForCreate(id string, o *CreateOptions) (*spec.Bundle, []int, error) {
	if err := state.ValidateID(id); err != nil {
		return nil, nil, err
	}
	preserved, err := preservedFDs(activated(), o.PreserveFDs)
	if err != nil {
		return nil, nil, err
	}
	if o.PidFile != "" {
		abs, err := filepath.Abs(o.PidFile)
		if err != nil {
			return nil, nil, err
		}
		o.PidFile = abs
	}
	b, err := spec.Load(o.Bundle)
	if err != nil {
		return nil, nil, err
	}
	r.hookDir = b.Dir
	if err := checkOwnAnnotations(b.Spec.Annotations); err != nil {
		return nil, nil, err
	}
	if os.Geteuid() != 0 && !hasUserNamespace(b.Spec) {
		// runc's words and rule: without root a container needs a user
		// namespace in which it is (`runw spec --rootless` makes one).
		// Without it create failed half-way, at a chown of its /tmp.
		return nil, nil, errors.New("rootless container requires user namespaces")
	}
	b.Destinations = b.MountDestinations()
	own := wasi.OwnNetwork(b.Spec)
	b.OwnNetwork = &own
	if err := b.CheckKernelMounts(); err != nil {
		return nil, nil, err
	}
	masks, readOnly := b.MaskedPaths(), b.ReadOnlyPaths()
	b.Masks, b.ReadOnly = &masks, &readOnly
	return b, preserved, nil
}

// checkCreateLimits refuses, before anything is made, a terminal the
// caller cannot be given and limits the container could not live under.
func checkCreateLimits(b *spec.Bundle, consoleSocket string, detach bool) error {
	if err := checkTerminal(b.Spec.Process.Terminal, consoleSocket, detach); err != nil {
		return err
	}
	if err := checkNprocLimit(b.Spec.Process, b.Spec.Linux); err != nil {
		return err
	}
	if b.Spec.Linux == nil {
		return nil
	}
	if err := checkPidsLimit(b.Spec.Linux.Resources); err != nil {
		return err
	}
	return checkMemoryLimit(b.Spec.Linux.Resources)
}

// createUndo is what a failed create removes, filled in as create makes
// it: a failed create leaves nothing behind. The init is killed first, so
// that its cgroup is empty and can be removed, then the state goes.
type createUndo struct {
	r     *Runtime
	h     *state.Handle
	spare *fdReserve
	// init is the spawned init, if any.
	init *exec.Cmd
	// plan made the mount points and cwd in the rootfs (prepareInit),
	// which are removed once the init is gone.
	plan *wasi.Plan
	// ownCgroup and newDirs: the cgroup only once it is known to be
	// empty and the init is about to be put in it (a create refused
	// earlier, by its module or its cgroup, never touched it: a
	// cgroupsPath naming a populated cgroup had every empty cgroup below
	// it removed), and the parents only that were missing just before
	// the spawn made them, not the ones missing before a compile of
	// seconds, which another party may have made meanwhile.
	ownCgroup string
	newDirs   []string
	// hooked is the container once its create hooks have begun: a
	// failure from then on is runtime-spec's lifecycle step 3 to 5
	// failing, which continues at step 12 (destroy) and 13 (the poststop
	// hooks), as runc's destroy does, so that a hook pair's teardown
	// undoes its setup.
	hooked *state.Container
	// done: the create succeeded, and nothing is undone.
	done bool
}

// unlessDone undoes a create that did not succeed. The spare descriptors
// go first, so that the undoing has the few it needs (reserveFDs).
func (u *createUndo) unlessDone() {
	if u.done {
		return
	}
	u.spare.release()
	if u.init != nil && u.init.Process != nil {
		u.init.Process.Kill()
		u.init.Wait()
	}
	if u.plan != nil {
		u.plan.UndoMade()
	}
	destroyCgroup(u.ownCgroup)
	removeCgroupDirs(u.newDirs)
	u.h.Destroy()
	if u.hooked != nil {
		u.r.runPoststop(u.hooked)
	}
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
	if isSandbox(id, b) {
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
	if ep.Kind.IsWasm() {
		// WebAssembly all the same, under a *-smart handler that runs only
		// names ending in .wasm or .wat (as crun's does).
		return nil, nil, fmt.Errorf("%q is WebAssembly, but the wasm-smart handler (%s=wasm-smart or %s=compat-smart) runs only entrypoints ending in .wasm or .wat: rename it, or use %s=wasm", ep.GuestPath, spec.AnnotationHandler, spec.AnnotationVariant, spec.AnnotationHandler)
	}
	if ep.Kind != spec.KindNative {
		return nil, nil, fmt.Errorf("%q is not a WebAssembly module: %s", ep.GuestPath, ep.Content)
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
			b.EngineInit = args[0]
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
func (r *Runtime) prepareInit(h *state.Handle, b *spec.Bundle, ep *spec.Entrypoint, noPivot bool) (_ initConfig, err error) {
	plan, err := wasi.PlanFor(b, ep, h.Path(state.PrivateDir))
	if err != nil {
		return initConfig{}, err
	}
	for _, s := range plan.Skipped {
		logDebugf("not granted: %s", s)
	}
	readThrough(plan, ep)
	if err := plan.CheckMemoryMin(); err != nil {
		return initConfig{}, err
	}
	sandbox, err := sandboxFor(b.Spec)
	if err != nil {
		return initConfig{}, err
	}
	if err := r.checkCacheNotGranted(plan, sandbox, b.Spec.Process); err != nil {
		return initConfig{}, err
	}
	sandbox.BehindInit = b.EngineInit != ""
	// An init in its own user namespace cannot read runw's cache: it is
	// handed the artifact compiled here (handOver), where the cache can
	// hand one over; elsewhere a compile here would be wasted.
	cached := false
	var artifact *os.File
	if !sandbox.has(specs.UserNamespace) || r.canHandOver() {
		noChild := sandbox.joinsByPath(specs.MountNamespace)
		if cached, artifact, err = r.compileOutside(plan, noChild, noChild && sandbox.holdsHostRoot()); err != nil {
			return initConfig{}, err
		}
	}
	if artifact != nil {
		defer func() {
			if err != nil {
				artifact.Close()
			}
		}()
	}
	for _, d := range plan.PrivateDirs {
		if o, ok := plan.Overlays[d]; ok {
			if err := mountOverlay(d, plan.GuestPathOf(d), o); err != nil {
				return initConfig{}, err
			}
			continue
		}
		dest := plan.GuestPathOf(d)
		// A tmpfs's root belongs to the container's root, as under
		// runc, or to its uid= and gid=, container ids.
		root, err := tmpfsOwner(plan.TmpfsData[d])
		if err == nil {
			root, err = sandbox.mappedUser(root)
		}
		if err == nil {
			err = makePrivateDir(d, plan.TmpfsData[d], tmpfsRootMode(b.Rootfs, dest, plan.TmpfsData[d]), root)
		}
		if err != nil {
			// runc's words, naming the mount: of 300 tmpfs mounts, the
			// one whose options the kernel refused.
			return initConfig{}, mountError("tmpfs", dest, err)
		}
	}
	defer func() {
		if err != nil {
			plan.UndoMade()
		}
	}()
	if err := plan.MakeMountPoints(b); err != nil {
		return initConfig{}, err
	}
	if err := plan.MakeCwd(b.Spec.Process.Cwd); err != nil {
		return initConfig{}, err
	}
	if sandbox.Pivot, err = pivotPlan(plan, sandbox); err != nil {
		return initConfig{}, err
	}
	sandbox.NoPivot = noPivot
	if err := plan.CheckRestrictable(sandbox.Pivot); err != nil {
		return initConfig{}, err
	}
	fifo := h.Path(state.FifoFile)
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
	// As runc does, the fifo belongs to the container's root on the host
	// (its mode lets the init open it for writing as process.user).
	// Given to process.user's host ids, it failed create as an error about
	// the fifo wherever runw may not give files away: rootless, with
	// process.user unmapped or mapped through a subuid range.
	root := sandbox.hostUser(wasi.User{})
	if err := os.Chown(fifo, int(root.UID), int(root.GID)); err != nil {
		return initConfig{}, fmt.Errorf("chown exec fifo: %w", err)
	}
	cfg := r.newInitConfig(plan, sandbox, cached)
	cfg.Fifo = fifo
	cfg.artifact = artifact
	return cfg, nil
}

// checkCacheNotGranted refuses a plan that grants the guest write access
// to the compiled-module cache (wasi.Cache.WritableThrough: the attack),
// in one line naming the grant, where the guest would write there as the
// cache's owner, the host's root, or past its permissions (guestWritesAsRoot).
// Read-only grants of it are left alone, and so is a guest that could not
// write it anyway: rootless (the cache and the guest are the user's, who
// may bind $HOME), in a user namespace without the host's root, or a user
// without CAP_DAC_OVERRIDE or CAP_FOWNER (the cache is 0700, root's).
func (r *Runtime) checkCacheNotGranted(plan *wasi.Plan, sb *Sandbox, proc *specs.Process) error {
	cache := r.openedCache()
	if cache == nil || !guestWritesAsRoot(sb, proc) {
		return nil
	}
	var writable []wasi.Grant
	guest := map[string]string{}
	for _, g := range plan.Preopens {
		// A tmpfs is new and empty, and an overlay writes to its upper
		// and work directories (below): their backing directories,
		// which the init mounts later, are not checked.
		if !g.ReadOnly && !slices.Contains(plan.PrivateDirs, g.HostPath) {
			writable = append(writable, wasi.Grant{Path: g.HostPath, Recursive: !g.Shallow})
			guest[g.HostPath] = g.GuestPath
		}
	}
	for _, g := range plan.Files {
		if !g.ReadOnly {
			writable = append(writable, wasi.Grant{Path: g.HostPath})
			guest[g.HostPath] = g.GuestPath
		}
	}
	// An overlay's writes land in its upper and work directories, which
	// the init mounts after this check.
	for d, o := range plan.Overlays {
		for _, dir := range overlayWritable(o.Data) {
			writable = append(writable, wasi.Grant{Path: dir, Recursive: true})
			guest[dir] = plan.GuestPathOf(d)
		}
	}
	p, err := cache.WritableThrough(writable)
	if err != nil {
		return err
	}
	if p != "" {
		return fmt.Errorf("%q at %q would let the guest write to the compiled-module cache %s, whose code runw runs as root: grant it read-only, or run runw with another --cache-dir", p, guest[p], cache.Dir)
	}
	return nil
}

// guestWritesAsRoot says the guest of proc, in sb, writes files as the
// host's root or past their permissions.
func guestWritesAsRoot(sb *Sandbox, proc *specs.Process) bool {
	if !sb.holdsHostRoot() {
		return false
	}
	if proc == nil || sb.hostUser(wasi.User{UID: proc.User.UID}).UID == 0 {
		// The host's root: the container's, or whichever container
		// user a user namespace maps it to.
		return true
	}
	last, err := capability.LastCap()
	if err != nil {
		return true
	}
	held := afterExec(capSetsFor(proc.Capabilities, last), proc.User.UID, proc.NoNewPrivileges).effective
	return held&(1<<uint(capability.CAP_DAC_OVERRIDE)|1<<uint(capability.CAP_FOWNER)) != 0
}

// overlayWritable is every upperdir and workdir of an overlay's options
// (the kernel takes the last of each; all are checked), read as overlayfs
// reads them: a backslash keeps the character after it, a comma among
// them, and is itself dropped. Split at every comma, upperdir=/x/a\,b/..
// passed the check as /x/a, and /x/d\isk, which the kernel reads as
// /x/disk, could not be opened and was let through.
func overlayWritable(data string) []string {
	var dirs []string
	for _, opt := range splitMountOptions(data) {
		for _, key := range []string{"upperdir=", "workdir="} {
			if v, ok := strings.CutPrefix(opt, key); ok && v != "" {
				dirs = append(dirs, v)
			}
		}
	}
	return dirs
}

// splitMountOptions splits data at the commas no backslash escapes, and
// drops each escaping backslash, keeping the character after it.
func splitMountOptions(data string) []string {
	var opts []string
	var cur strings.Builder
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\\' && i+1 < len(data):
			cur.WriteByte(data[i+1])
			i++
		case data[i] == ',':
			opts = append(opts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(data[i])
		}
	}
	return append(opts, cur.String())
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
	extra = cfg.passPreserved(extra)
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

// newContainer is the record (state.json) of the container whose init is
// pid, which create saves once its hooks have run.
func newContainer(b *spec.Bundle, id string, pid int, cgPath string, cache recordedCache) (*state.Container, error) {
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
		Extra:         recordOf(b, cache),
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
	return state.WriteFileAtomic(h.Path(state.InitFile), []byte(fmt.Sprintf("%d %d %s", pid, start, cgPath)), 0o600)
}

// cleanupAborted kills the init of an aborted create (if it still lives)
// and removes its cgroup, from the record create left.
func cleanupAborted(h *state.Handle) {
	data, err := h.ReadFile(state.InitFile)
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

// checkTerminal applies runc's rules on terminal and console socket: a
// console socket only for a terminal of a process runw does not wait for
// (create, run -d, exec -d), where a terminal needs one.
func checkTerminal(terminal bool, consoleSocket string, detach bool) error {
	if detach && terminal && consoleSocket == "" {
		return errors.New("cannot allocate tty if runw will detach without setting console socket")
	}
	if (!detach || !terminal) && consoleSocket != "" {
		return errors.New("cannot use console socket if runw will not detach or allocate tty")
	}
	return nil
}

// hasUserNamespace says whether the spec puts the container in a user
// namespace, new or joined.
func hasUserNamespace(s *specs.Spec) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			return true
		}
	}
	return false
}

// spareFDs is how many descriptors a create holds in reserve for undoing
// itself: reading mountinfo, then removing the state directory, which
// holds a descriptor for each level it descends (the container's
// directory, private/, a tmpfs's copy below it).
const spareFDs = 4

// fdReserve is a set of descriptors held only to be given back.
type fdReserve []int

// reserveFDs holds n copies of one descriptor of /dev/null, as many as it
// can get. A create that fails for want of descriptors (a low
// RLIMIT_NOFILE: EMFILE at any of its opens) gives them back before it
// undoes itself, so that the undoing has the few it needs: without them
// its state directory stayed, half-made, listed as "creating" with no
// init, and its id was taken until the directory aged.
func reserveFDs(n int) fdReserve {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	r := fdReserve{fd}
	for len(r) < n {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			break
		}
		r = append(r, dup)
	}
	return r
}

// release closes the reserve; a second release does nothing.
func (r *fdReserve) release() {
	for _, fd := range *r {
		unix.Close(fd)
	}
	*r = nil
}
