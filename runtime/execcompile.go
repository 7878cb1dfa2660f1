package runtime

import (
	"errors"
	"fmt"
	"os/exec"

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

// compileForExec fills the cache for plan's module in a compile child in
// the container's cgroup (cgPath, entered through cg, which the caller
// closes). It returns errCompiledForExec, or the failures the init's own
// compile would only repeat, in one line: wasmtime's refusal of the
// module, a compile that ran out of its time (the init would compile as
// long again, under the same bound), and one the OOM killer ended in the
// container's cgroup (the init, compiling there in-process, needs as
// much and more; it was killed after as long again).
func (r *Runtime) compileForExec(plan *wasi.Plan, cgPath string, cg *cgroupEntry) error {
	logDebugf("cache miss: compiling %s in the container's cgroup", plan.ModuleName)
	ooms := oomKills(cgPath)
	_, _, err := fillCache(r.openedCache(), plan.Module, plan.ModuleName, plan.Kind, false, cg)
	if compileIsFinal(err) {
		return err
	}
	if err != nil && oomKills(cgPath) > ooms {
		return fmt.Errorf("compile %s: killed by the OOM killer (cgroup %q is over its memory limit): raise the limit, or fill runw's cache beforehand (runw compile)", plan.ModuleName, cgPath)
	}
	if err != nil {
		logDebugf("compile in the container's cgroup failed (%v); the exec'd init will compile", err)
	}
	return errCompiledForExec
}

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
// cgroup p so far, 0 when it cannot tell.
func oomKills(p string) uint64 {
	m, err := cgroupManager(p, nil)
	if err != nil {
		return 0
	}
	n, _ := m.OOMKillCount()
	return n
}
