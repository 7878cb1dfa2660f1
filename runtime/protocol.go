package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/state"
	"github.com/runw/runw/wasi"
)

// The protocol between the parent (create, exec) and `runw init`, in one
// place. The init is started with:
//
//	fd 0-2        the guest's stdio
//	fd 3          the init pipe: the parent writes one initConfig as JSON,
//	              then closes it (never argv: other users read /proc)
//	fd 4          the sync pipe: the init writes "ready" once the guest is
//	              instantiated and the sandbox applied, or "error: <why>",
//	              then closes it; EOF without a word means it died
//	fd 5...       spawnOptions.ExtraFiles, in order (extraFD): the
//	              descriptors handed over for paths, then those the
//	              caller preserved for the guest (passPreserved)
//	after them    the tasks files of the cgroup v1 hierarchies the
//	              constructor enters (cgroups.go), then the orders pipe
//	              of the C constructor in runtime/nsenter, named by
//	              _RUNW_NSEXEC=<fd> in the environment; written once the
//	              init is started (and placed, where it cannot enter its
//	              cgroups itself)
//
// and then, for a container's init, the exec fifo: the init opens it for
// writing (blocking) after "ready" and writes one byte once `runw start`
// opened it for reading.
const (
	initPipeFD = 3
	// syncPipeFD is also written by the C constructor (RUNW_SYNC_FD in
	// runtime/nsenter): change both together.
	syncPipeFD = 4
	// firstExtraFD is where spawnOptions.ExtraFiles start.
	firstExtraFD = 5
)

// nsexecEnv names the constructor's orders pipe (runtime/nsenter reads it
// under the same name).
const nsexecEnv = "_RUNW_NSEXEC"

// oomEnv gives the constructor process.oomScoreAdj to set before it
// joins a user namespace (runtime/nsenter's RUNW_OOM_ENV; spawnInit says
// why).
const oomEnv = "_RUNW_OOM_SCORE_ADJ"

// maxOrders is the size of the constructor's orders buffer
// (RUNW_MAX_ORDERS in runtime/nsenter): it takes orders of at most
// maxOrders-2 bytes (one for the final NUL, and a full buffer means more
// was coming). Change both together.
const maxOrders = 16384

// The init's two reports on the sync pipe.
const (
	readyReport = "ready"
	errorPrefix = "error: "
)

// extraFD is the descriptor number ExtraFiles[i] has in the init.
func extraFD(i int) int { return firstExtraFD + i }

// passFile appends f to the files cmd's child inherits and returns the
// number it has there (os/exec gives ExtraFiles[i] the number 3+i).
func passFile(cmd *exec.Cmd, f *os.File) int {
	cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	return 3 + len(cmd.ExtraFiles) - 1
}

// initConfig is what the parent sends the init over the init pipe.
type initConfig struct {
	Plan     *wasi.Plan `json:"plan"`
	Fifo     string     `json:"fifo"`
	CacheDir string     `json:"cache_dir,omitempty"`
	// cache is the command's opened cache (Runtime.openedCache), from
	// which handOver and passAll hand the init its view or its artifact.
	cache *wasi.Cache
	// artifact is the module's artifact create compiled into memory for
	// a cache that could not keep it (compileOutside), which handOver
	// hands the init; nil otherwise.
	artifact *os.File
	// preserved are the caller's descriptors for the guest (preserve),
	// which passPreserved hands over after the others.
	preserved []int
	// CacheView is a read-only view of the cache directory (handed over
	// as /proc/self/fd/N), through which the init opens the artifacts it
	// maps (wasi.Cache.ReadOnlyView says why): in its own mount
	// namespace it cannot make one.
	CacheView string `json:"cache_view,omitempty"`
	CacheMax  int64  `json:"cache_max,omitempty"`
	LogPath   string `json:"log_path,omitempty"`
	LogFormat string `json:"log_format,omitempty"`
	Debug     bool   `json:"debug,omitempty"`
	// Sandbox is what the init applies to itself before it reports
	// ready (sandbox.go); create and exec always send one.
	Sandbox *Sandbox `json:"sandbox"`
	// Cached says create or exec found or put the module in the cache:
	// the init loads it without checking again.
	Cached bool `json:"cached,omitempty"`
	// Passed is how many descriptors from firstExtraFD on were handed
	// over for paths (handOver, passAll): the init closes them once it
	// holds what it needs, so that none outlives its use.
	Passed int `json:"passed,omitempty"`
}

// newInitConfig is what create and exec send an init for plan, sandboxed by
// sb; cached says the plan's module is in the cache.
func (r *Runtime) newInitConfig(plan *wasi.Plan, sb *Sandbox, cached bool) initConfig {
	return initConfig{
		Plan: plan, Sandbox: sb, Cached: cached,
		CacheDir: r.opts.CacheDir, CacheMax: r.opts.CacheMax, cache: r.openedCache(),
		LogPath: r.opts.LogPath, LogFormat: r.opts.LogFormat, Debug: r.opts.Debug,
	}
}

// announce tells create's or exec's caller of the process it started,
// where asked: a pidfd of pid over pidfdSocket (runc's --pidfd-socket),
// pid in pidFile.
func announce(pid int, pidfdSocket, pidFile string) error {
	if pidfdSocket != "" {
		if err := sendPidfd(pidfdSocket, pid); err != nil {
			return fmt.Errorf("send pidfd to %q: %w", pidfdSocket, spec.ErrnoOf(err))
		}
	}
	if pidFile != "" {
		if err := state.WritePidFile(pidFile, pid); err != nil {
			return fmt.Errorf("write pid file %q: %w", pidFile, spec.ErrnoOf(err))
		}
	}
	return nil
}

// initPipes are the init's ends of the protocol, as the init sees them.
type initPipes struct {
	init, sync *os.File
}

// openInitPipes names the descriptors the init was started with.
func openInitPipes() initPipes {
	return initPipes{init: os.NewFile(initPipeFD, "init"), sync: os.NewFile(syncPipeFD, "sync")}
}

// readConfig reads the parent's initConfig and closes the init pipe.
func (p initPipes) readConfig() (initConfig, error) {
	defer p.init.Close()
	var cfg initConfig
	if err := json.NewDecoder(p.init).Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("read init config: %w", err)
	}
	return cfg, nil
}

// fail reports err on the sync pipe and ends the init.
func (p initPipes) fail(err error) {
	fmt.Fprintf(p.sync, "%s%v", errorPrefix, err)
	os.Exit(1)
}

// ready reports the guest ready and closes the sync pipe. An error means
// the parent is gone (create killed mid-way).
func (p initPipes) ready() error {
	_, err := io.WriteString(p.sync, readyReport)
	p.sync.Close()
	return err
}

// readReport reads the init's report to EOF: nil for "ready", the init's
// own error for "error: ...", and errNoReport when the pipe closed
// without a word (the init died).
func readReport(r io.Reader) error {
	msg, _ := io.ReadAll(r)
	reply := strings.TrimSpace(string(msg))
	switch {
	case reply == readyReport:
		return nil
	case reply == "":
		return errNoReport
	}
	why := strings.TrimPrefix(reply, errorPrefix)
	if strings.HasPrefix(why, joinReport) {
		return &joinError{why}
	}
	return errors.New(why)
}

// joinReport begins the C constructor's reports of a namespace it could
// not join (runtime/nsenter: "join mount namespace <path>: <why>").
const joinReport = "join "

// joinError is the init's constructor failing to join a namespace it was
// ordered into, or runw failing to open or join one before the spawn, or
// the constructor gone before it read its orders: for an exec, the sign
// that the init whose namespaces it joins may be gone.
type joinError struct{ msg string }

func (e *joinError) Error() string { return e.msg }

// errNoReport is a sync pipe closed without a report.
var errNoReport = errors.New("no report")

// diedError is an init's death before its report; killed says it died of
// SIGKILL, which an exec'd process meets when the pid namespace it
// joined loses its init.
type diedError struct {
	msg    string
	killed bool
}

func (e *diedError) Error() string { return e.msg }

// waitForStart opens the exec fifo for writing, which blocks until `runw
// start` opens it for reading, then writes one byte to say the guest runs.
func waitForStart(fifo string) error {
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer f.Close()
	_, err = f.Write([]byte("0"))
	return err
}

// releaseInit opens the exec fifo, which unblocks the init's open for
// writing, and waits for its byte. Opening read-write never blocks, so an
// init that died meanwhile is noticed by polling its pid instead of
// hanging forever. opened says the fifo was opened: from then on the
// init may be released even when an error follows.
func releaseInit(fifo string, c *state.Container) (opened bool, err error) {
	fd, err := unix.Open(fifo, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	// Bounded: an init that is alive but does not answer (not waiting on
	// the fifo any more) must not hang start forever.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if err != nil && err != unix.EINTR {
			return true, err
		}
		var b [1]byte
		if n > 0 {
			if _, err := unix.Read(fd, b[:]); err == nil {
				return true, nil
			}
		}
		if !state.Alive(c.InitPid, c.InitStartTime) {
			// Its byte may have come since the poll: an init released
			// then, whose guest ran and ended before this check (start
			// descheduled for a moment on a loaded machine), was started.
			// It said "cannot start a container that has stopped" once
			// in a full test run (TestTwentyContainersInParallel).
			if _, err := unix.Read(fd, b[:]); err == nil {
				return true, nil
			}
			return true, requireStatus("start", c.ID, state.Stopped)
		}
	}
	return true, errors.New("container init did not answer on the exec fifo")
}

// readThrough points the plan's module at the handle the lookup opened in
// the guest's view (spec.Entrypoint.File), as /proc/self/fd/N: from here
// on, the cache, the compile and the init read that file, never its host
// path again, which a guest or a neighbour sharing a volume could have
// rerouted through a link since (the attack spec.Entrypoint describes).
// The init gets its own descriptor for it (handOver, passAll).
func readThrough(plan *wasi.Plan, ep *spec.Entrypoint) {
	plan.Module = fdPath(ep.File)
}

// handOver hands the init the module (readThrough); in a mount namespace
// joined by path, whose tree need not be the host's, what of runw's it
// would open by path (passToJoinedMount: the tmpfs directories, the exec
// fifo, the cache, the debug log); and, for an init that lives in its
// own user namespace, what it cannot reach by path: as root of that
// namespace it is nobody on the host and cannot walk runw's 0700 state
// root, so the exec fifo, the tmpfs directories and the debug log are
// handed to it as descriptors (reached as /proc/self/fd/N, which checks
// only the object itself), and so is its module's artifact from runw's
// cache, which it cannot read (passArtifact). They are the first of
// spawnOptions.ExtraFiles (extraFD).
func (cfg *initConfig) handOver() ([]*os.File, error) {
	var h handedOver
	var err error
	if err := cfg.passArtifacts(&h); err != nil {
		return h.fail(err)
	}
	if cfg.Plan.Module, err = h.pass(cfg.Plan.Module, unix.O_PATH); err != nil {
		return h.fail(err)
	}
	if err := cfg.passWithin(&h); err != nil {
		return h.fail(err)
	}
	if !cfg.Sandbox.has(specs.UserNamespace) {
		if cfg.Sandbox.joinsByPath(specs.MountNamespace) {
			if err := cfg.passToJoinedMount(&h); err != nil {
				return h.fail(err)
			}
		} else {
			cfg.passCacheView(&h)
		}
		cfg.Passed = len(h.files)
		return h.files, nil
	}
	if err := cfg.passFifo(&h); err != nil {
		return h.fail(err)
	}
	if err := cfg.passPrivateDirs(&h); err != nil {
		return h.fail(err)
	}
	if err := cfg.passLog(&h); err != nil {
		return h.fail(err)
	}
	// The bundle's bind mount sources too, as runc opens them as host
	// root before its init enters the user namespace: a source below a
	// directory only root may search (podman's 0700 volumes/<name>, a
	// host directory under /root) is still the container's, whatever
	// the mapped root may do with what it finds there. runw's default
	// devices and masked files are the host's own nodes, reachable by all.
	// The rootfs is the engine's, made for that root to reach.
	dirs := cfg.Plan.Preopens
	if len(dirs) > 0 && dirs[0].GuestPath == "/" {
		dirs = dirs[1:]
	}
	for _, grants := range [][]wasi.Preopen{dirs, cfg.Plan.Files} {
		for i := range grants {
			g := &grants[i]
			if strings.HasPrefix(g.HostPath, "/proc/self/fd/") || wasi.IsDefaultDevice(*g) || wasi.IsMaskedFile(*g) {
				continue // a private directory, handed over above; a host node
			}
			p, err := h.pass(g.HostPath, unix.O_PATH)
			if err != nil {
				return h.fail(fmt.Errorf("grant the container's files: %w", err))
			}
			if tree := cfg.passTree(&h, g.HostPath, p, g.Shallow); g.Shallow {
				// The guest's view too: a copy the init makes of
				// the handed descriptor, a mount of runw's
				// namespace, has its submounts (open_tree clones
				// only the caller's own mounts), the detached one
				// has none.
				g.Tree = tree
			}
			g.HostPath = p
		}
	}
	cfg.CacheDir = ""
	cfg.Passed = len(h.files)
	return h.files, nil
}

// passToJoinedMount hands an init that joins a mount namespace by path
// (linux.namespaces' mount path: another container's, or one an engine
// holds) what of runw's it would otherwise open by its host path: the
// tmpfs and overlay directories, the exec fifo, the cache directory and
// the debug log. The init's C constructor enters that namespace before
// Go starts, so every path it opens is resolved in that namespace's
// tree, which need not be the host's and may be another container's
// guest's to write. The attack this stops: a guest that planted a
// regular file where runw's state root holds the new container's fifo
// had that container's guest run during create, before its hooks and
// with no start (the init's write to the file returned at once, runc's
// start gate being its fifo, which runc hands its init as a
// descriptor); one that planted a cache directory (root's, 0755: what
// OpenCache accepts) had the init compile into it, and look there for
// compiled code to load. And the tmpfs mounts, made in the host's
// namespace, need not be in the joined one: opened by path, each was
// the bare directory beneath, on the state root's file system, with no
// size= and charged to no container. The rootfs and the spec's mount
// sources are resolved in the joined namespace, as runc resolves them.
func (cfg *initConfig) passToJoinedMount(h *handedOver) error {
	if err := cfg.passPrivateDirs(h); err != nil {
		return err
	}
	if err := cfg.passFifo(h); err != nil {
		return err
	}
	if err := cfg.passCache(h); err != nil {
		return err
	}
	return cfg.passLog(h)
}

// passFifo hands the init the exec fifo it waits on (create's; none for
// an exec'd process), as an O_PATH descriptor (handOver and
// passToJoinedMount say why).
func (cfg *initConfig) passFifo(h *handedOver) error {
	if cfg.Fifo == "" {
		return nil
	}
	var err error
	cfg.Fifo, err = h.pass(cfg.Fifo, unix.O_PATH)
	return err
}

// passLog hands the init the debug log it writes (--debug with --log),
// opened here (passToJoinedMount says why; an init in its own user
// namespace could not open runw's log by path).
func (cfg *initConfig) passLog(h *handedOver) error {
	if !cfg.Debug || cfg.LogPath == "" {
		return nil
	}
	var err error
	cfg.LogPath, err = h.pass(cfg.LogPath, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT)
	return err
}

// passCache hands the init the cache directory, and a read-only view of
// it, as descriptors (passToJoinedMount, passAll say why), or none where
// the init cannot use runw's cache (its own user namespace) or runw has
// none (one it could not open: a cache only ever costs speed, never a
// run; handed by name, a directory that could not be made failed the
// create or exec).
func (cfg *initConfig) passCache(h *handedOver) error {
	if cfg.CacheDir == "" || cfg.cache == nil || cfg.Sandbox.has(specs.UserNamespace) {
		cfg.CacheDir = ""
		return nil
	}
	cfg.passCacheView(h)
	// The directory OpenCache checked, through its descriptor: opened
	// again by its path, it was whatever the path led to by then.
	var err error
	cfg.CacheDir, err = h.pass(fmt.Sprintf("/proc/self/fd/%d", cfg.cache.Fd()), unix.O_PATH|unix.O_DIRECTORY)
	return err
}

// passPrivateDirs hands over the plan's tmpfs and overlay directories
// (PrivateDirs) as descriptors opened here, in runw's mount namespace,
// where create mounted them, and points their grants at those.
func (cfg *initConfig) passPrivateDirs(h *handedOver) error {
	for _, d := range cfg.Plan.PrivateDirs {
		p, err := h.pass(d, unix.O_PATH)
		if err != nil {
			return err
		}
		cfg.passTree(h, d, p, false)
		for i := range cfg.Plan.Preopens {
			if cfg.Plan.Preopens[i].HostPath == d {
				cfg.Plan.Preopens[i].HostPath = p
			}
		}
	}
	return nil
}

// openWithin opens rel inside the directory within (securejoin: a link
// stays inside it). shallow: inside a copy of within's mount alone, so
// that nothing mounted below within on the host is crossed into. The
// attack this stops: a read-only path below a bind that is not an rbind
// was opened on the host path, through the host's tmpfs of secrets
// mounted there, which the bind itself keeps out of the guest's sight.
func openWithin(within, rel string, shallow bool) (*os.File, error) {
	if !shallow {
		return pathrs.OpenInRoot(within, rel)
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, within, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		// Where no copy can be made (no mount API, a runw that may not
		// mount), no grant's can (preview1's confine): the host path,
		// as every grant is then seen.
		logDebugf("%s: no copy of its mount (%v): opened on the host path", within, err)
		return pathrs.OpenInRoot(within, rel)
	}
	root := os.NewFile(uintptr(fd), within)
	defer root.Close() // the file opened in it keeps the copy
	return pathrs.OpenatInRoot(root, rel)
}

// passWithin hands the init the grants runw made of paths inside other
// grants (wasi.Preopen.Within: the read-only paths), each opened inside
// the directory that holds it, by descriptor.
//
// The attack this stops: that directory is the rootfs or a volume, which
// others may write (another container sharing the volume; the guest
// itself cannot rename a grant's mount point). One that swapped the
// path, once create had resolved it, for a link to /etc (rootfs/ro ->
// /etc on the host) had an exec'd process granted the host's /etc, the
// host path being opened as it is (TestReadOnlyPathsAreReadOnly).
// Inside its holder the link leads to the container's own /etc. What is
// found must be a directory or a regular file, as create found it: never
// a device node.
func (cfg *initConfig) passWithin(h *handedOver) error {
	for _, grants := range [][]wasi.Preopen{cfg.Plan.Preopens, cfg.Plan.Files} {
		for i := range grants {
			g := &grants[i]
			if g.Within == "" {
				continue
			}
			rel, err := filepath.Rel(g.Within, g.HostPath)
			if err != nil || !filepath.IsLocal(rel) {
				return fmt.Errorf("grant %q: %q is not inside %q", g.GuestPath, g.HostPath, g.Within)
			}
			f, err := openWithin(g.Within, rel, g.Shallow)
			if err != nil {
				return fmt.Errorf("grant %q: %w", g.GuestPath, spec.ErrnoOf(err))
			}
			if fi, err := f.Stat(); err != nil || !fi.IsDir() && !fi.Mode().IsRegular() {
				f.Close()
				return fmt.Errorf("grant %q: not a file or directory", g.GuestPath)
			}
			handed := h.add(f)
			cfg.passTree(h, fdPath(f), handed, false)
			g.HostPath = handed
		}
	}
	return nil
}

// passTree hands the init, for its pivot, a detached copy of the mount
// tree at path (open_tree with OPEN_TREE_CLONE), made here in the host's
// mount namespace, as Sandbox.Trees[handed]: what the init reaches only by
// a handed-over descriptor it cannot bind into its rootfs (pivot.go). On
// a kernel without open_tree (before 5.2) the grant is the guest's all
// the same, only missing from the engines' view of the container. A
// shallow grant's copy is its mount alone (a bind that is not an rbind).
// It returns the copy's path in the init ("" if none was handed over).
func (cfg *initConfig) passTree(h *handedOver, path, handed string, shallow bool) string {
	if !cfg.Sandbox.Pivot {
		return ""
	}
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_RECURSIVE)
	if shallow {
		flags &^= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, flags)
	if err != nil {
		logDebugf("%s not attached in the container's root: open_tree: %v", path, err)
		return ""
	}
	// The attack this stops: the copy is made in the host's mount
	// namespace and joins its source's peer group. Left shared, a mount
	// the init then makes beneath it (a nested grant: -v /a:/data -v
	// /b:/data/sub) propagated back to the host's /a/sub and to every
	// other container of that source, and stayed after the container was
	// gone. A slave receives the host's mounts and sends none, as every
	// other mount in the init's namespace (pivotIntoRootfs). Not attached
	// at all if that cannot be made so.
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Propagation: unix.MS_SLAVE}); err != nil {
		unix.Close(fd)
		logDebugf("%s not attached in the container's root: mount_setattr: %v", path, err)
		return ""
	}
	tree := h.add(os.NewFile(uintptr(fd), path))
	if cfg.Sandbox.Trees == nil {
		cfg.Sandbox.Trees = map[string]int{}
	}
	cfg.Sandbox.Trees[handed] = extraFD(len(h.files) - 1)
	return tree
}

// handedOver collects the descriptors handed to the init for paths, in
// the order of spawnOptions.ExtraFiles.
type handedOver struct{ files []*os.File }

// passCacheView hands the init a read-only view of the cache directory
// (wasi.Cache.ReadOnlyView), through which it maps the artifacts it
// loads. Without one, the init tries to make its own, and failing that
// maps a sealed private copy of each (wasi.Cache.mapFile).
func (cfg *initConfig) passCacheView(h *handedOver) {
	if cfg.CacheDir == "" || cfg.cache == nil {
		return
	}
	view, err := cfg.cache.ReadOnlyView()
	if err != nil {
		logDebugf("no read-only view of the cache for the init: %v", err)
		return
	}
	if cfg.CacheView, err = h.pass(fmt.Sprintf("/proc/self/fd/%d", view.Fd()), unix.O_PATH|unix.O_DIRECTORY); err != nil {
		logDebugf("no read-only view of the cache for the init: %v", err)
		cfg.CacheView = ""
	}
}

// passArtifacts hands the init the artifact compiled into memory for it
// (cfg.artifact: a cache that could not keep it), with a descriptor of
// its own (the caller closes cfg.artifact), or, to an init in a user
// namespace, its cached one (passArtifact).
func (cfg *initConfig) passArtifacts(h *handedOver) error {
	switch {
	case cfg.artifact != nil:
		f, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", cfg.artifact.Fd()))
		if err != nil {
			return err
		}
		cfg.Plan.Artifact = h.add(f)
	case cfg.Sandbox.has(specs.UserNamespace):
		cfg.passArtifact(h)
	}
	return nil
}

// passArtifact hands an init in a user namespace, which cannot reach
// runw's cache, the cached artifact of its module (Cache.OpenArtifact
// says why that is safe), when create or exec found the module cached:
// without it, every create and exec under a user namespace compiled the
// module again. It must run while cfg.Plan.Module is still runw's path
// to the module, before the module is passed.
func (cfg *initConfig) passArtifact(h *handedOver) {
	if !cfg.Cached || cfg.cache == nil {
		return
	}
	if key, ok := cfg.cache.IndexedKey(cfg.Plan.Module); ok {
		if f := cfg.cache.OpenArtifact(key); f != nil {
			cfg.Plan.Artifact = h.add(f)
		}
	}
}

// pass opens path and returns how the init reaches it: /proc/self/fd/N,
// a magic link to that object and nothing else.
func (h *handedOver) pass(path string, flags int) (string, error) {
	f, err := os.OpenFile(path, flags|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return "", err
	}
	return h.add(f), nil
}

// passInRoot is pass for a grant of the bundle's: the object at guestPath
// in the container's tree (root), where the init bound it when it made
// the container's root (pivotIntoRootfs), and where only the container's
// own mounts and files are reachable; a device node found there is
// refused, as a bind of one is everywhere.
//
// guestPath is the destination create resolved and recorded, so no link
// is followed on the way (openat2's RESOLVE_NO_SYMLINKS; securejoin's
// walk inside root where openat2 is missing). The attack this stops: a
// link planted on the way since create (by whoever can write the
// rootfs, or by a guest of another container that shares a volume and
// renamed a directory that is a mount point only here: srv/data moved
// away, srv/data -> ../proc put in its place) led the walk to another
// mount of the container's, its /proc, and the exec'd process was granted
// the processes' memory. A /proc or /sys reached all the same is refused.
//
// What is there must be the root of a mount, "/" aside. The mistake this
// stops: a bind the init could not make at create is only logged there
// (the guest holds its grant by descriptor), and the path then reaches
// the rootfs's own directory, so an exec'd process was granted, in the
// volume's place, the image's files (for a masked directory, what the
// mask hid). Such an exec fails instead.
func (h *handedOver) passInRoot(root *os.File, guestPath string) (string, error) {
	f, err := openNoLinksInRoot(root, guestPath)
	if err != nil {
		return "", fmt.Errorf("not in the container's tree: %w", spec.ErrnoOf(err))
	}
	var reason string
	var st unix.Statfs_t
	switch fi, err := f.Stat(); {
	case unix.Fstatfs(int(f.Fd()), &st) == nil && (st.Type == unix.PROC_SUPER_MAGIC || st.Type == unix.SYSFS_MAGIC):
		reason = "reaches the kernel's /proc or /sys in the container's tree"
	case err != nil || fi.Mode()&os.ModeDevice != 0:
		reason = "not a file or directory in the container's tree"
	case path.Clean(guestPath) != "/" && !isMountRoot(f):
		reason = "not mounted there in the container's tree (its bind failed at create, or the guest moved it)"
	}
	if reason != "" {
		f.Close()
		return "", errors.New(reason)
	}
	return h.add(f), nil
}

// openNoLinksInRoot opens path below root (O_PATH) without following any
// symlink; where openat2 is missing (Linux before 5.6), inside root by
// securejoin.
func openNoLinksInRoot(root *os.File, path string) (*os.File, error) {
	fd, err := unix.Openat2(int(root.Fd()), path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		return pathrs.OpenatInRoot(root, path)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// isMountRoot reports whether f is the root of a mount (statx's
// STATX_ATTR_MOUNT_ROOT, Linux 5.8); true where the kernel cannot say.
func isMountRoot(f *os.File) bool {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, 0, &st); err != nil {
		return true
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return true
	}
	return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// add hands f over and returns how the init reaches it.
func (h *handedOver) add(f *os.File) string {
	h.files = append(h.files, f)
	return fmt.Sprintf("/proc/self/fd/%d", extraFD(len(h.files)-1))
}

// fail closes what was passed so far and returns err.
func (h *handedOver) fail(err error) ([]*os.File, error) {
	closeAll(h.files)
	return nil, err
}

// passAll prepares a process that joins a container's mount namespace
// whose root is the container's (runw exec; pivot.go). No host path
// means anything there, and every path there is the guest's to plant links
// in (a /etc swapped for a directory whose hosts is a link into
// /proc/self/fd would hand the process, as root, whatever that descriptor
// is). So every object the process opens by name, its grants, its module,
// the cache and the log, is opened here and handed over as a descriptor:
// reached as /proc/self/fd/N, a magic link to that object and nothing
// else. In its own user namespace the process cannot read runw's cache:
// it is handed its module's artifact (passArtifact).
//
// The grants the bundle names (the rootfs, the bind mounts) are opened at
// their guest paths in the container's tree (root), as the container's
// mount namespace holds them, never by their sources' host paths: a
// source swapped since create for a link elsewhere, by whoever can write
// its parent, would grant a host directory of that writer's choice, where
// runc exec, joining the container's mounts, sees what the container
// holds. Links there are followed inside root only. A grant the tree no
// longer has mounted at its place (a guest that moved a mount point's
// parent, a bind the init could not make) fails the exec. So are runw's
// private tmpfs and overlay directories; only the default devices and
// masked files, the host's own nodes, are opened by their host paths.
func (cfg *initConfig) passAll(root *os.File) ([]*os.File, error) {
	var h handedOver
	var err error
	if err := cfg.passArtifacts(&h); err != nil {
		return h.fail(err)
	}
	for _, grants := range [][]wasi.Preopen{cfg.Plan.Preopens, cfg.Plan.Files} {
		for i := range grants {
			g := &grants[i]
			// The private tmpfs and overlay directories too are taken
			// where the init bound them in the container's tree, and not
			// by their host paths, for two reasons. The attack this
			// stops: a descriptor on a mount of the host's namespace
			// cannot be moved to a detached copy from inside the
			// container's (preview1's confine fails there and keeps it),
			// and once the exec'd process is dumpable, any process of the
			// container with its uid walked /proc/<pid>/fd/N/../.. from
			// it to the host's "/" (TestExecGrantsStayInsideThemselves).
			// And a container with a user namespace had them mounted by
			// create in a mount namespace of its own, which need not be
			// this process's (podman runs exec outside it): here the host
			// path may be the bare 0700 directory beneath.
			private := slices.Contains(cfg.Plan.PrivateDirs, g.HostPath)
			if !private && (wasi.IsDefaultDevice(*g) || wasi.IsMaskedFile(*g)) {
				g.HostPath, err = h.pass(g.HostPath, unix.O_PATH)
			} else {
				g.HostPath, err = h.passInRoot(root, g.GuestPath)
			}
			if err != nil {
				return h.fail(fmt.Errorf("grant %q: %w", g.GuestPath, spec.ErrnoOf(err)))
			}
		}
	}
	if cfg.Plan.Module, err = h.pass(cfg.Plan.Module, unix.O_PATH); err != nil {
		return h.fail(err)
	}
	if err := cfg.passCache(&h); err != nil {
		return h.fail(err)
	}
	if err := cfg.passLog(&h); err != nil {
		return h.fail(err)
	}
	cfg.Passed = len(h.files)
	return h.files, nil
}

// closeAll closes every file in files, ignoring errors.
func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
