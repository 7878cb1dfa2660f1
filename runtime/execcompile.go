package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fscommon"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/state"
	"github.com/runw/runw/wasi"
)

// Exec's compile.
//
// An exec'd init compiles in-process, before its sandbox: with the
// container's capabilities (all of them, in a container without a user
// namespace: host root), and already in the container's root, where a
// compile child of its own would be started with the image's ELF
// interpreter (compileInChild). So on a miss exec has a confined `runw
// compile` child compile the module in the container's cgroup first, and
// starts over; the init compiles only if that child failed.
//
// An init in a user namespace is nobody on the host and cannot write runw's cache, so a
// module that create never compiled (a health check's own module, any
// `podman exec ctr /other.wasm`) was compiled again by the init at every
// exec: about 10 s for a 21 MB Go program here, longer than podman's
// health check timeout. exec still never compiles outside the container
// (Exec says why: the module may be the guest's to rewrite before each
// exec). Instead, on a miss, a `runw compile` child of exec's, host root
// but born in the container's cgroup (startCompile), fills the cache, and
// the exec starts over and hands the init the artifact as it does on a
// hit (passArtifact). The child's CPU and memory are the container's, under
// its limits, as the init's own compile was; the container's lock is not
// held while it runs (TestExecCompileDoesNotHoldTheContainer).
//
// The child runs Cranelift on bytes the guest may have written, in the
// host's namespaces, as create's compile child does on an image's (a
// restart's create reads the same writable rootfs). The cgroup bounds its
// CPU and memory; confineCompile takes its capabilities and, with
// Landlock, every file, the cache's too, before the compiler sees the
// bytes, so a memory-safety bug in Cranelift that bytes can reach is no
// longer host root. It hands the artifact back, and runw stores it
// (fillCache).
//
// The module is the guest's to rewrite between runw's hash and the
// child's compile, or between the compile and the exec's second look:
// runw hashes a sealed copy, which is what the child compiles
// (fillCache), and the second look keys the module as it is then. A
// module changed since is a miss, which the init compiles, as before.

// errCompiledForExec tells Exec that exec's compile child ran (compiled,
// or failed in a way the init's own compile may still get past): the
// exec starts over, with a fresh look at the container and its module.
var errCompiledForExec = errors.New("compiled for exec")

// errExecChildFailed is errCompiledForExec from a compile child that
// failed otherwise than as the init's own compile would (its memory
// bound, a cache that could not take the artifact): the exec'd init may
// then compile in-process, as the documented last resort.
var errExecChildFailed = fmt.Errorf("%w: the compile child failed", errCompiledForExec)

// compileForExec fills the cache for plan's module in a compile child in
// the container's cgroup (cgPath, entered through cg, which the caller
// closes). It returns errCompiledForExec, or the failures the init's own
// compile would only repeat, in one line: wasmtime's refusal of the
// module, a compile that ran out of its time (the init would compile as
// long again, under the same bound), and one the OOM killer ended in the
// container's cgroup (the init, compiling there in-process, needs as
// much and more; it was killed after as long again).
//
// hostRoot says the exec'd init holds the host's root and compiles
// nothing itself: the child's failure, whatever it is, is the exec's.
func (r *Runtime) compileForExec(plan *wasi.Plan, cgPath string, cg *cgroupEntry, hostRoot bool) error {
	logDebugf("cache miss: compiling %s in the container's cgroup", plan.ModuleName)
	ooms := oomKills(cgPath)
	room := compileMemoryCgroup(cgPath, cg)
	// A cache that cannot keep it (full, read-only): the artifact in
	// memory, for the exec'd init, which compiled in-process, as host
	// root before its sandbox, with Cranelift's memory resident.
	key, f, err := fillOrMemory(r.openedCache(), plan.Module, plan.ModuleName, plan.Kind, false, cg)
	var mem *compiledInMemory
	if f != nil {
		mem = &compiledInMemory{artifact: f, key: key}
	}
	roomOOMs := room.close()
	if compileIsFinal(err) {
		return err
	}
	if err != nil && roomOOMs > 0 {
		return fmt.Errorf("compile %s: killed by the OOM killer: it needs more memory than cgroup %q leaves under its limit (%d MiB): raise the limit, or fill runw's cache beforehand (runw compile)", plan.ModuleName, cgPath, room.limit>>20)
	}
	if err != nil && oomKills(cgPath) > ooms {
		return fmt.Errorf("compile %s: killed by the OOM killer (cgroup %q is over its memory limit): raise the limit, or fill runw's cache beforehand (runw compile)", plan.ModuleName, cgPath)
	}
	if err != nil && hostRoot {
		return fmt.Errorf("compile %s: %w", plan.ModuleName, err)
	}
	if err != nil {
		logDebugf("compile in the container's cgroup failed (%v); the exec'd init will compile", err)
		return errExecChildFailed
	}
	if mem != nil {
		return mem
	}
	return errCompiledForExec
}

// endedDuringCompile says whether the container's init is ending after
// exec's compile failed with err, waiting up to a second for it when the
// compile child died of SIGKILL: runw kill signals the init and then the
// rest of its cgroup, the child with it, and an init not yet scheduled
// has not begun to exit when the child's end is seen (the exec then said
// "compile ...: signal: killed", once in a loaded test run).
func endedDuringCompile(c *state.Container, err error) bool {
	var ee *exec.ExitError
	killed := errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
	for deadline := time.Now().Add(time.Second); !state.Ending(c.InitPid, c.InitStartTime); time.Sleep(10 * time.Millisecond) {
		if !killed || time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// compiledInMemory is errCompiledForExec with the artifact compileForExec
// compiled into memory, and the key of the bytes it compiled: the exec
// hands it over only if the module still has that key (the guest may
// rewrite its module meanwhile). Exec closes it.
type compiledInMemory struct {
	artifact *os.File
	key      string
}

func (e *compiledInMemory) Error() string        { return errCompiledForExec.Error() }
func (e *compiledInMemory) Is(target error) bool { return target == errCompiledForExec }

// startCompile starts fillCache's compile child in the cgroup cg says,
// nil for where the caller is. The child is born in cg's cgroup v2
// directory (CLONE_INTO_CGROUP) and enters its cgroup v1 hierarchies
// through their tasks files, which the caller opened, in its C
// constructor (runtime/nsenter), before Go starts and before it reads
// the module: it waits for its orders, sent here once it is started, and
// obeys nothing but "tasks". So no instant exists in which it works
// outside the container's limits. A child that cannot be born in the
// cgroup is not started: the caller leaves the compile to the init.
//
// The tasks files are handed to the child only for its constructor,
// which closes each once written; the child holds no other descriptor of
// runw's but its standard input (the module) and error.
func startCompile(cmd *exec.Cmd, cg *cgroupEntry) error {
	if cg == nil {
		return cmd.Start()
	}
	ns := &spawnNS{}
	ordersR, ordersW, err := ns.prepare(cmd, cg)
	if err != nil {
		return err
	}
	if ordersR != nil {
		defer ordersR.Close()
	}
	if cg.Dir != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(cg.Dir.Fd())
	}
	if err := cmd.Start(); err != nil {
		if ordersW != nil {
			ordersW.Close()
		}
		return fmt.Errorf("start the compile in the container's cgroup: %w", err)
	}
	preferOOMVictim(cmd.Process.Pid)
	if err := ns.sendOrders(ordersW); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("send the compile its cgroups: %w", err)
	}
	return nil
}

// oomKills is how many processes the OOM killer has killed in the
// cgroup p so far, 0 when it cannot tell or there is none ("").
func oomKills(p string) uint64 {
	if p == "" {
		return 0
	}
	m, err := cgroupManager(p, nil)
	if err != nil {
		return 0
	}
	n, _ := m.OOMKillCount()
	return n
}

// compileRoom is the memory cgroup below the container's that exec's
// compile children run in (compileMemoryCgroup).
type compileRoom struct {
	dir   string
	limit uint64
	// kills is the cgroup's OOM kill count when the child joined it.
	kills uint64
	// parent is the container's memory cgroup directory, held with a
	// shared flock while the child uses the compile cgroup: the last
	// exec to leave it (the one that gets the lock exclusive) removes
	// it, never one whose neighbour has joined it and not yet placed
	// its child (whose tasks file would then be a removed cgroup's).
	parent *os.File
}

// compileCgroupName is the container's one compile cgroup: shared by the
// compiles of concurrent execs, so that their limit bounds them together.
const compileCgroupName = "runw-exec-compile"

// compileMemoryCgroup moves exec's compile child, in cg, from the
// container's cgroup v1 memory hierarchy to a cgroup below the
// container's, limited to what the container's limit leaves (less a
// margin); nil, changing nothing, on cgroup v2, without a memory limit,
// or when the cgroup cannot be made.
//
// The accident it stops: the compile of a module the cache lacks took the
// container's cgroup over its limit, and the OOM killer, choosing among
// the cgroup's processes, killed the container's own where its
// oom_score_adj was near the child's 1000 (preferOOMVictim; Kubernetes'
// Burstable pods are at 999): a kubectl exec or an exec probe killed the
// pod's container. And even when the child was the one killed, containerd
// and CRI-O, watching the container's memory.oom_control, labelled the
// container OOMKilled while it ran on. Below the container's cgroup the
// child reaches that cgroup's limit first: the OOM killer looks no
// further than that cgroup, and the kernel notifies only its watchers.
// The compiles of concurrent execs (a liveness and a readiness probe of
// modules the cache lacks) share the one cgroup: with one each, each
// limited to the whole room, two together took the container over its
// limit. The child is still charged to the container, and the
// container's init, if it grows during the compile, can still take the
// container's cgroup over its limit; then the kernel chooses as before.
// cgroup v2 allows no cgroup below one that holds processes (the init),
// so there the child stays in the container's.
func compileMemoryCgroup(cgPath string, cg *cgroupEntry) *compileRoom {
	if cgroups.IsCgroup2UnifiedMode() {
		return nil
	}
	m, err := cgroupManager(cgPath, nil)
	if err != nil {
		return nil
	}
	memDir := m.Path("memory")
	if memDir == "" {
		return nil
	}
	room := memoryRoom(m)
	if room == 0 {
		return nil // no limit to keep the container under
	}
	tasks := slices.IndexFunc(cg.Tasks, func(f *os.File) bool { return f.Name() == filepath.Join(memDir, "tasks") })
	if tasks < 0 {
		return nil
	}
	parent, err := os.Open(memDir)
	if err != nil {
		return nil
	}
	if err := unix.Flock(int(parent.Fd()), unix.LOCK_SH); err != nil {
		parent.Close()
		return nil
	}
	dir := filepath.Join(memDir, compileCgroupName)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		logDebugf("compile cgroup %s: %v", dir, err)
		parent.Close()
		return nil
	}
	// What the compiles already in it hold, and a margin for the
	// container's init, which may grow meanwhile; at least what a child
	// needs to start (it then fails at once).
	held, _ := fscommon.GetCgroupParamUint(dir, "memory.usage_in_bytes")
	c := &compileRoom{dir: dir, limit: held + max(room-min(room/8, 64<<20), 16<<20), parent: parent}
	// The OOM killer on, whatever the container's disableOOMKiller (a
	// new cgroup v1 takes its parent's): a compile at its limit would
	// otherwise wait, stopped, until its time bound, minutes.
	for file, value := range map[string]string{
		"memory.limit_in_bytes": strconv.FormatUint(c.limit, 10),
		"memory.oom_control":    "0",
	} {
		if err := cgroups.WriteFile(dir, file, value); err != nil {
			logDebugf("compile cgroup %s: %s: %v", dir, file, err)
			c.close()
			return nil
		}
	}
	c.kills = c.oomKills()
	f, err := os.OpenFile(filepath.Join(dir, "tasks"), os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		logDebugf("compile cgroup %s: %v", dir, err)
		c.close()
		return nil
	}
	cg.Tasks[tasks].Close()
	cg.Tasks[tasks] = f
	logDebugf("compile child in %s, limited to %d MiB (the container's limit leaves %d MiB)", dir, c.limit>>20, room>>20)
	return c
}

// oomKills is how many processes the OOM killer has killed in the
// compile cgroup so far.
func (c *compileRoom) oomKills() uint64 {
	n, _ := fscommon.GetValueByKey(c.dir, "memory.oom_control", "oom_kill")
	return n
}

// close removes the compile cgroup, unless another exec uses it still
// (the container's delete removes it with the container's cgroup, if
// a killed exec left it), and returns how many processes the OOM killer killed in
// it since the child joined; nil is fine.
func (c *compileRoom) close() uint64 {
	if c == nil {
		return 0
	}
	n := c.oomKills()
	kills := n - min(c.kills, n)
	if unix.Flock(int(c.parent.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		if err := unix.Rmdir(c.dir); err != nil {
			logDebugf("remove compile cgroup %s: %v", c.dir, err)
		}
	}
	c.parent.Close()
	return kills
}
