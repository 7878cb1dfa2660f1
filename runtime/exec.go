package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/state"
	"github.com/runw/runw/wasi"
)

// ExecOptions are exec's flags.
type ExecOptions struct {
	// ProcessFile is a specs.Process JSON file (--process); when set it
	// replaces Args, Env, Cwd and Tty.
	ProcessFile   string
	Args          []string
	Env           []string
	Cwd           string
	Tty           bool
	Detach        bool
	PidFile       string
	ConsoleSocket string
	// PidfdSocket receives a pidfd of the exec'd process, as create's
	// does of the init.
	PidfdSocket  string
	IgnorePaused bool
	// User is --user, "<uid>[:<gid>]"; Gids are --additional-gids. The
	// guest's process takes them as a native one would: they decide what
	// the kernel lets it open through its grants.
	User string
	Gids []int64
	// Apparmor and ProcessLabel are --apparmor and --process-label: the
	// process's profile and label, judged as process.json's are (a host
	// without the module refuses them, as runc does).
	Apparmor, ProcessLabel string
	// Caps are --cap: capabilities added to the bounding, effective and
	// permitted sets (and the ambient one where the process has an
	// inheritable set, as runc 1.2 adds them; runc 1.1 adds them to the
	// ambient set always, which the kernel refuses without inheritable,
	// to the same end); --process ignores them, as runc's does.
	Caps []string
	// PreserveFDs passes the caller's descriptors 3 to 3+PreserveFDs-1
	// to the process, as create does (preserve.go); preserved are their
	// numbers, checked before anything else is opened.
	PreserveFDs int
	preserved   []int
	// compiled is the artifact a first attempt compiled into memory
	// (compileForExec), for the second.
	compiled *compiledInMemory
	// childFailed says the first attempt's compile child failed other
	// than as wasmtime's refusal (errExecChildFailed): the second
	// attempt's init may compile in-process.
	childFailed bool
	// sigs are runw's signals, caught from the start of a foreground
	// exec (catchSignals) for the process.
	sigs chan os.Signal
}

// Exec runs another wasm module inside a container: a new instance, in a
// new init process placed in the container's cgroup, with the container's
// grants (rootfs, mounts, the same private tmpfs directories) and the
// process's own argv, env and cwd. In the foreground it returns the
// module's exit status.
func (r *Runtime) Exec(id string, o ExecOptions) (int, error) {
	preserved, err := preservedFDs(0, o.PreserveFDs)
	if err != nil {
		return 0, err
	}
	o.preserved = preserved
	if !o.Detach {
		o.sigs = catchSignals()
		defer signal.Stop(o.sigs)
	}
	status, err := r.exec(id, o, true)
	if errors.Is(err, errCompiledForExec) {
		// The container and the module as they are now, and no compile
		// outside the init again: a module changed since is the init's.
		if errors.As(err, &o.compiled) {
			defer o.compiled.artifact.Close()
		}
		o.childFailed = errors.Is(err, errExecChildFailed)
		return r.exec(id, o, false)
	}
	return status, err
}

// exec is Exec; mayCompile says whether a module the cache misses may be
// compiled for an init in a user namespace (compileForExec), which ends
// this attempt with errCompiledForExec.
func (r *Runtime) exec(id string, o ExecOptions, mayCompile bool) (int, error) {
	if sig, ok := pendingStop(o.sigs); ok {
		// Taken since the exec began (^C during its compile child's
		// compile): the process would get it as it starts, and nothing
		// is started.
		return 128 + int(sig), nil
	}
	h, c, err := r.lockLoad(id)
	if err != nil {
		return 0, err
	}
	r.execCache(c)
	// The lock is held until the new process is in the container's cgroup,
	// so a concurrent delete cannot remove the cgroup under it.
	unlock := sync.OnceFunc(h.Unlock)
	defer unlock()
	privateBase := h.Path(state.PrivateDir)
	allowed := []string{state.Created, state.Running}
	if o.IgnorePaused {
		allowed = append(allowed, state.Paused)
	}
	st := r.status(c)
	if err := requireStatus("exec", id, st, allowed...); err != nil {
		return 0, err
	}

	// The process joins the container's mount namespace, whose root is
	// the container's (pivot.go) unless the init kept the host's, or
	// joined a namespace by path (refused below where its root is not
	// the host's).
	root, err := containerRoot(c)
	if err != nil {
		return 0, err
	}
	if root != nil {
		defer root.Close()
	}
	b, plan, ep, err := execPlan(c, o, privateBase, root)
	if err != nil {
		return 0, err
	}
	defer ep.Close()
	proc := b.Spec.Process
	if err := checkNprocLimit(proc, b.Spec.Linux); err != nil {
		return 0, err
	}
	if mayCompile {
		// Once, on the first of exec's two tries.
		warnUnknownCapabilities(proc.Capabilities)
	}
	// An uncached module is compiled in the container's cgroup and under
	// its limits (by a confined child placed there: compileForExec; by
	// the exec'd init if that fails), never outside as create
	// compiles the image's entrypoint: the module may be the guest's own
	// file (a writable rootfs), rewritten with new bytes before each exec
	// (a health check, a probe), and each miss was a compile of up to
	// minutes on every CPU as root outside every limit (a 600 KB module
	// of 50,000 loop-carried locals: 10 s of CPU in a 40 s probe, for a
	// container allowed 4 s, charged 45 ms).
	sb, err := sandboxFor(b.Spec)
	if err != nil {
		return 0, err
	}
	if ns := sb.pathOf(specs.MountNamespace); root != nil && ns != "" {
		// An init that joins a mount namespace by path never pivots: it
		// resolves its rootfs and mount sources by their paths there, as
		// runc's does, and its root is that namespace's. Where that is
		// not the host's (another container's), containerRoot found a
		// root that is neither the host's nor the container's own, and
		// exec took it for the container's tree: an exec'd process was
		// granted the other container's whole root as its "/", and wrote
		// its files, where the container's own process sees its rootfs
		// (and runc's exec, whose init pivoted, too).
		return 0, fmt.Errorf("container %s joined the mount namespace %s, whose root is not the host's: runw cannot give an exec'd process the container's view of it", id, ns)
	}
	sb.Joined = true
	// Checked again for this process (exec --user 0, --cap, another
	// --cache-dir than create's), once: a second try after a compile
	// finds the same grants and cache.
	if mayCompile {
		if err := r.checkCacheNotGranted(plan, sb, proc); err != nil {
			return 0, err
		}
	}
	// The module is looked up here, by a hash if need be, so that a miss
	// is compiled by compileForExec's confined child rather than by the
	// exec'd init, which compiles as the container's init does before its
	// sandbox: with the container's capabilities (all of them, for a
	// container without a user namespace: host root), and in the
	// container's root, where it cannot spawn a compile child of its own
	// (compileInChild). In a user namespace the init cannot reach the
	// cache, and is handed the artifact found here (passArtifact); a cache
	// that cannot hand one over leaves the module to the init.
	hashUpTo := int64(execHashUpTo)
	if sb.has(specs.UserNamespace) && !r.canHandOver() {
		hashUpTo = 0
	}
	cached := r.cachedOutside(plan, hashUpTo)
	childCompiles := hashUpTo > 0 && st != state.Paused
	if !cached && childCompiles && mayCompile {
		// Its cgroup opened under the lock, so that a delete cannot
		// remove it first; a delete during the compile kills the child
		// with the container's processes.
		if cg := cgroupEntryFor(c.CgroupPath); cg != nil {
			unlock()
			err := r.compileForExec(plan, c.CgroupPath, cg, sb.holdsHostRoot())
			cg.Close()
			if err != nil && !errors.Is(err, errCompiledForExec) && endedDuringCompile(c, err) {
				// Killed or deleted meanwhile, its compile child with
				// it: say so, as the checks above would have, not
				// "compile ...: signal: killed".
				return 0, requireStatus("exec", id, state.Stopped)
			}
			return 0, err
		}
		childCompiles = false
	}
	// An exec'd init that holds the host's root (Sandbox.holdsHostRoot)
	// never compiles: a miss there is a module the guest rewrote since it
	// was looked up or compiled here, or one the child above could not
	// compile (a paused container, no cgroup to place it in, a failure
	// a guest can cause at will), and the exec fails
	// (wasi.ErrNotCompiled) rather than compile the guest's bytes with
	// the host root's capabilities before the sandbox. An init in a user
	// namespace that does not map the host's root compiles what it is
	// not handed, where the child could not.
	plan.NoCompile = sb.holdsHostRoot() || childCompiles && !o.childFailed && !sb.has(specs.UserNamespace)

	tty, master, err := execTerminal(proc, o.ConsoleSocket)
	if err != nil {
		return 0, err
	}
	if master != nil {
		defer master.Close()
	}
	if tty != nil {
		// Closed here on every path; once spawned, the process holds the
		// only copy (and the console's end sees its hang-up).
		defer tty.Close()
	}
	cfg, extra, err := r.execConfig(plan, sb, cached, o, b.Spec, root)
	if err != nil {
		unlock()
		return 0, err
	}
	defer closeAll(extra)
	// The exec'd process enters the container's namespaces, whatever its
	// spec says now: those of the running init.
	ns, err := namespacesOf(c.InitPid)
	if err != nil {
		unlock()
		if state.Ending(c.InitPid, c.InitStartTime) {
			// Ended since the status check, or ending (its namespaces
			// go before it is a zombie): the lock keeps out other
			// commands, not the init's own end.
			return 0, requireStatus("exec", id, state.Stopped)
		}
		return 0, err
	}
	if err := plan.CheckRestrictable(root != nil); err != nil {
		unlock()
		return 0, err
	}
	if root != nil && plan.Kind.IsComponent() {
		// A component's "/" is a copy of the container's root with the
		// file grants in it, as the init's component has (WASI 0.2
		// preopens only directories); without it an exec'd component
		// saw the image's empty mount points at /etc/hosts and
		// /etc/resolv.conf.
		cfg.Sandbox.RootCopy = true
		ns.privateMounts()
	}
	cg := cgroupEntryFor(c.CgroupPath)
	defer cg.Close()
	// The lock is released once the new process has its orders (placed
	// in the cgroup, or about to enter its v1 hierarchies itself), before
	// it compiles, instantiates and reports. A module the cache misses is
	// compiled there, in the container's cgroup, for up to minutes: kill,
	// delete and the rest must not wait behind it (they waited 1 min 57 s
	// behind the first exec of a 21 MB Go program; runc's exec holds no
	// lock). Into a paused container (--ignore-paused) the new process
	// freezes as it enters the freezer and reports only after a resume,
	// which takes the lock. A delete in between leaves it no cgroup to
	// enter, and it fails instead of running outside one; a delete after
	// kills it with the container's other processes.
	ordered := unlock
	cmd, err := r.spawnInit(spawnOptions{
		Config: cfg, NS: ns, Stdio: stdioOf(tty), Tty: tty != nil, ExtraFiles: extra,
		CgroupPath: c.CgroupPath, Exec: true, Cgroup: cg,
		Place: func(pid int, born bool) error {
			if born {
				return nil
			}
			return joinCgroup(c.CgroupPath, pid)
		},
		Ordered: ordered,
	})
	if tty != nil {
		tty.Close()
	}
	unlock()
	var joining *joinError
	var died *diedError
	if (errors.As(err, &joining) || (errors.As(err, &died) && died.killed)) && state.Ending(c.InitPid, c.InitStartTime) {
		// The init died while the process was joining its namespaces
		// (a kill or a delete racing the exec), or after it joined its
		// pid namespace, whose end SIGKILLs it before it reports: say
		// so, as the check above would have, not which namespace was
		// gone or which signal. Any other failure is the process's
		// own, and reported as it is.
		return 0, requireStatus("exec", id, state.Stopped)
	}
	if err != nil {
		return 0, err
	}
	if err := announce(cmd.Process.Pid, o.PidfdSocket, o.PidFile); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, err
	}
	if o.Detach {
		return 0, nil
	}
	return foreground(cmd, master, o.sigs), nil
}

// execCache makes the cache create used (its directory, its bound) exec's
// own, unless exec was given them (Options.CacheDirSet, CacheMaxSet). An
// engine sets runw's cache for the commands its monitor runs (CRI-O's
// monitor_env, a containerd shim's environment), but a streaming exec
// (kubectl exec under CRI-O) runs runw from the engine's own process: it
// compiled the module again, for seconds, into the default cache, which
// the node's cache settings (its place, its bound) never named.
func (r *Runtime) execCache(c *state.Container) {
	rec := recordOfContainer(c).Cache
	if rec == nil {
		return
	}
	if !r.opts.CacheDirSet {
		r.opts.CacheDir = rec.Dir
	}
	if !r.opts.CacheMaxSet {
		r.opts.CacheMax = rec.Max
	}
}

// execTerminal is the exec'd process's terminal, if its spec asks for
// one: the console socket's, or a pty of exec's own whose master is
// returned to be copied in the foreground.
func execTerminal(proc *specs.Process, consoleSocket string) (tty, master *os.File, err error) {
	switch {
	case proc.Terminal && consoleSocket != "":
		tty, err = sendConsole(consoleSocket, proc.ConsoleSize)
		return tty, nil, err
	case proc.Terminal:
		master, tty, err = openPty(proc.ConsoleSize)
		return tty, master, err
	}
	return nil, nil, nil
}

// execConfig is the exec'd init's configuration and the descriptors it
// is handed: the compiled module a compile child gave back, the
// caller's preserved descriptors, and, in the container's user
// namespace, where it is nobody on the host as the init is, or in a
// mount namespace joined by path, its tmpfs directories and runw's cache
// opened here (handOver; root is the container's root, nil where the
// init kept the host's, and then passAll hands over every grant).
// The caller closes the descriptors.
func (r *Runtime) execConfig(plan *wasi.Plan, sb *Sandbox, cached bool, o ExecOptions, s *specs.Spec, root *os.File) (initConfig, []*os.File, error) {
	cfg := r.newInitConfig(plan, sb, cached)
	if o.compiled != nil && !cached {
		// Hashed outside the container's cgroup, so bounded as exec's
		// other hashes are (execHashUpTo); without a cache, read whole.
		keyUpTo := wasi.KeyUpTo
		if c := r.openedCache(); c != nil {
			keyUpTo = c.KeyUpTo
		}
		key, err := keyUpTo(plan.Module, plan.Kind == spec.KindWAT, execHashUpTo)
		if err == nil && key == o.compiled.key {
			cfg.artifact = o.compiled.artifact
		}
	}
	if err := cfg.preserve(o.preserved, s); err != nil {
		return cfg, nil, err
	}
	passOver := cfg.handOver
	if root != nil {
		passOver = func() ([]*os.File, error) { return cfg.passAll(root) }
	}
	extra, err := passOver()
	if err != nil {
		return cfg, nil, err
	}
	return cfg, cfg.passPreserved(extra), nil
}

// execPlan is the exec'd process's bundle (the container's, its process
// replaced by the one exec was given), its plan, and the module's
// entrypoint, whose handle the plan reads through (the caller closes it).
// root is the container's root (containerRoot), or nil.
func execPlan(c *state.Container, o ExecOptions, privateBase string, root *os.File) (_ *spec.Bundle, _ *wasi.Plan, _ *spec.Entrypoint, err error) {
	// The container's configuration as create read it, not the bundle's
	// file as it is now (spec.Bundle.Config): runc's exec reads its
	// state's copy too. Only a container of an older runw has none.
	rec := recordOfContainer(c)
	var b *spec.Bundle
	if rec.Config != nil {
		b, err = spec.LoadWith(c.Bundle, rec.Config)
	} else {
		b, err = spec.Load(c.Bundle)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	// The network grant of the container's process, decided at create:
	// exec's caller may be in any namespace (spec.Bundle.OwnNetwork).
	b.OwnNetwork = rec.OwnNetwork
	// The mounts where create put them: the guest may have planted links
	// on the way to their destinations since. A mount create did not
	// record (a container of an older runw) is taken as written, never
	// resolved again.
	b.Destinations = rec.destinationsFor(b)
	// The masks and read-only paths where create put them (a path the
	// guest made since is not one); none for a container whose create
	// recorded none.
	b.Masks, b.ReadOnly = rec.Masks, rec.ReadOnly
	if b.Masks == nil {
		b.Masks = &[]spec.Mask{}
	}
	if b.ReadOnly == nil {
		b.ReadOnly = &[]spec.Mask{}
	}
	if root != nil {
		// What each bind is, the container's tree says (passAll opens
		// them there): its source's host path may be gone or be
		// something else since create.
		b.StatSource = func(_, dest string) (os.FileInfo, error) {
			f, err := pathrs.OpenatInRoot(root, dest)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return f.Stat()
		}
	}
	proc, err := execProcess(b.Spec.Process, o)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := spec.ValidateProcess(proc); err != nil {
		return nil, nil, nil, err
	}
	b.Spec.Process = proc
	tree := lookupIn(b, root)
	ep, err := tree.Entrypoint()
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if err != nil {
			ep.Close()
		}
	}()
	if !spec.IsWasm(spec.HandlerFor(b.Spec.Annotations), ep) {
		// runc's words for what cannot be invoked, which podman's exec
		// reads as 126, as its run does create's refusal; without
		// them podman exited 255, its code for a runtime that failed.
		if ep.Kind == spec.KindNative {
			return nil, nil, nil, fmt.Errorf("exec: %q: permission denied: a native executable cannot run in a WebAssembly container; exec a .wasm module", ep.GuestPath)
		}
		return nil, nil, nil, fmt.Errorf("exec: %q: permission denied: not a WebAssembly module (%s); exec a .wasm module", ep.GuestPath, ep.Content)
	}
	if err := checkTerminal(proc.Terminal, o.ConsoleSocket, o.Detach); err != nil {
		return nil, nil, nil, err
	}
	// The exec'd process joins the running init's network namespace,
	// whatever path the bundle names (a pod's pause container may be gone
	// and its pid reused): its socket grant is decided on that one.
	if b.Spec.Linux != nil {
		for i, ns := range b.Spec.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				b.Spec.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/net", c.InitPid)
			}
		}
	}
	// The container's process holds its listeners; an exec'd process
	// (podman exec copies the container's environment, RUNW_LISTEN
	// included) neither binds nor checks them again.
	plan, err := wasi.ExecPlanFor(b, tree, ep, privateBase)
	if err != nil {
		return nil, nil, nil, err
	}
	// runc's init fails its chdir; a guest would run in a directory that
	// is not there. The init checks, in the guest's view (wasi.Prepare).
	plan.ExecCwd = proc.Cwd
	// The cap on linear memory follows the cgroup's limit as it is now,
	// not config.json's: `runw update --memory` (podman update, crictl
	// update) since create must hold for a new instance too.
	if lim, ok := currentMemoryLimit(c.CgroupPath); ok {
		plan.SetMemoryLimit(lim)
	}
	if root != nil {
		reopenInRootfs(ep, b.Rootfs)
	}
	readThrough(plan, ep)
	return b, plan, ep, nil
}

// reopenInRootfs reopens the module exec found in the container's own
// root (ep.File) through the bundle's rootfs on the host, where create
// found the container's own module, when it is the very file there (the
// same device and inode): its /proc/self/fd link then names the host path
// create's entry in the identity index is under (wasi's indexPath), and
// exec finds the module cached without reading it. Read in the container's
// root, its path there ("/app.wasm") has no entry: exec hashed the module
// at each first exec, and a module over execHashUpTo, which exec never
// copies, was refused. Resolved within the rootfs (securejoin), and kept
// only when it is the file exec found, so no other file is ever read.
func reopenInRootfs(ep *spec.Entrypoint, rootfs string) {
	f, err := pathrs.OpenInRoot(rootfs, ep.GuestPath)
	if err != nil {
		return
	}
	var onHost, found unix.Stat_t
	if unix.Fstat(int(f.Fd()), &onHost) != nil || unix.Fstat(int(ep.File.Fd()), &found) != nil ||
		onHost.Dev != found.Dev || onHost.Ino != found.Ino {
		f.Close()
		return
	}
	ep.File.Close()
	ep.File = f
}

// lookupIn is the bundle the exec'd module is looked up in, and HOME read
// from: b, or, in a container with a root of its own, that root with
// nothing mounted on it, as the container's tree already holds every
// mount. Looked up through the bundle's host paths instead, a bind source
// swapped for a link since create (by whoever can write its parent) would
// make exec run a module from anywhere on the host
// (TestExecIgnoresASwappedBindSource); runc exec, joining the container's
// mounts, never sees such a swap.
func lookupIn(b *spec.Bundle, root *os.File) *spec.Bundle {
	if root == nil {
		return b
	}
	s := *b.Spec
	s.Mounts = nil
	return &spec.Bundle{Dir: b.Dir, Rootfs: fdPath(root), Spec: &s}
}

// fdPath is the /proc/self/fd link to f.
func fdPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// execProcess builds the exec'd process from --process or from the
// container's process with exec's flags applied.
func execProcess(base *specs.Process, o ExecOptions) (*specs.Process, error) {
	if o.ProcessFile != "" {
		data, err := os.ReadFile(o.ProcessFile)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("parse process %q: %w", o.ProcessFile, err)
		}
		if len(p.Args) == 0 {
			return nil, errors.New("args must not be empty")
		}
		if p.Capabilities == nil {
			// The container's, as runc's init takes them for a process
			// that names none: the process had none at all, and a root
			// exec'd process was refused what the container's own
			// could read (a 0700 module of another user).
			p.Capabilities = base.Capabilities
		}
		if p.OOMScoreAdj == nil {
			// The container's, as runc gives it: without it the process
			// kept runw's caller's (conmon's, the shim's), and a
			// container Kubernetes made the first the OOM killer takes
			// had exec'd processes it spared. A process's own value is
			// kept (runc 1.1 gives the container's even then; the
			// engines copy the container's into the process anyway).
			p.OOMScoreAdj = base.OOMScoreAdj
		}
		return &p, nil
	}
	if len(o.Args) == 0 {
		return nil, errors.New("process args cannot be empty") // runc's words
	}
	p := *base
	p.Args = o.Args
	if len(o.Caps) > 0 {
		c := specs.LinuxCapabilities{}
		if base.Capabilities != nil {
			c = *base.Capabilities
		}
		c.Bounding = append(slices.Clone(c.Bounding), o.Caps...)
		c.Effective = append(slices.Clone(c.Effective), o.Caps...)
		c.Permitted = append(slices.Clone(c.Permitted), o.Caps...)
		// Ambient needs inheritable, which --cap does not set: added
		// only where the process has an inheritable set, as by runc
		// 1.2 (ExecOptions.Caps).
		if c.Inheritable != nil {
			c.Ambient = append(slices.Clone(c.Ambient), o.Caps...)
		}
		p.Capabilities = &c
	}
	p.Env = append(append([]string(nil), base.Env...), o.Env...)
	if o.Cwd != "" {
		p.Cwd = o.Cwd
	}
	p.Terminal = o.Tty
	if o.Apparmor != "" {
		p.ApparmorProfile = o.Apparmor
	}
	if o.ProcessLabel != "" {
		p.SelinuxLabel = o.ProcessLabel
	}
	if o.User != "" {
		ids := strings.Split(o.User, ":")
		if len(ids) > 2 {
			return nil, fmt.Errorf("invalid --user format; valid format is 'UID[:GID]'")
		}
		uid, err := strconv.ParseUint(ids[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parsing %s as int for uid failed: %w", ids[0], err)
		}
		p.User.UID = uint32(uid)
		if len(ids) > 1 {
			gid, err := strconv.ParseUint(ids[1], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("parsing %s as int for gid failed: %w", ids[1], err)
			}
			p.User.GID = uint32(gid)
		}
	}
	if len(o.Gids) > 0 {
		// Added to the process's own, as runc's -g adds them.
		p.User.AdditionalGids = append([]uint32(nil), p.User.AdditionalGids...)
		for _, g := range o.Gids {
			if g < 0 || g > math.MaxUint32 {
				return nil, fmt.Errorf("invalid additional gid %d", g)
			}
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
		}
	}
	return &p, nil
}
