package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi"
)

// Compile precompiles modules and components into the cache ahead of time
// (image builds, node warm-up), so that the first container of a module
// starts as fast as the hundredth. It reports, per module, whether it was
// already cached.
func Compile(cacheDir string, cacheMax int64, paths []string, report func(path, key string, hit bool)) error {
	cache, err := wasi.OpenCache(cacheDir, cacheMax)
	if err != nil {
		return err
	}
	engine := wasi.NewEngine()
	for _, p := range paths {
		kind, err := spec.SniffFile(p)
		if err != nil {
			return err
		}
		if !kind.IsWasm() {
			return fmt.Errorf("%q: not a WebAssembly module or component (%s)", p, kind)
		}
		hit, key, err := wasi.Precompile(engine, p, kind, cache)
		if err != nil {
			return err
		}
		report(p, key, hit)
	}
	return nil
}

// fillCache compiles module into the cache in a short-lived `runw compile`
// child, so that Cranelift's working memory (hundreds of MB for a large
// module) is spent in a process that exits at once. create runs it before
// the init exists, outside the container's cgroup: a compile charged to a
// small memory limit would be OOM-killed before the guest ever ran.
//
// The module is opened here and is the child's standard input, which it
// compiles as /proc/self/fd/0: module is usually a /proc/self/fd link to
// the lookup's handle (readThrough), which means nothing in another
// process, and no path is resolved again.
//
// The module is untrusted, and a few megabytes of it can keep Cranelift
// busy for minutes and gigabytes (a million empty functions: 154 s and
// 5 GB here), outside every limit of the container. So the child is
// bounded in time (compileTimeout) and dies with its parent
// (Pdeathsig): an engine that gives up on create and kills it must not
// leave a root compiler running on the host. The spawning thread is
// locked for the child's life, as Pdeathsig follows the thread, not
// the process.
func fillCache(cacheDir string, cacheMax int64, module string) error {
	f, err := os.Open(module)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), compileTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/exe", "--cache-dir", cacheDir, "--cache-max", strconv.FormatInt(cacheMax, 10), "compile", "/proc/self/fd/0")
	cmd.Stdin = f
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("compile took more than %v: %w", compileTimeout, err)
		}
		return err
	}
	return nil
}

// compileTimeout bounds one `runw compile` child of create or exec.
var compileTimeout = 2 * time.Minute

// compileOutside fills the cache for plan's module from the calling
// command (create, exec), before the init is spawned and placed in the
// container's cgroup, when the cache misses. It reports whether the cache
// holds the module afterwards, so that the init need not ask again. A
// failure is left to the init, which compiles in-process as a fallback and
// reports the error.
func (r *Runtime) compileOutside(plan *wasi.Plan) bool {
	cache := openCache(r.opts.CacheDir, r.opts.CacheMax)
	if cache == nil {
		return false
	}
	defer cache.Close()
	if cache.Has(plan.Module, plan.Kind) {
		return true
	}
	logDebugf("cache miss: compiling %s outside the container's cgroup", plan.ModuleName)
	if err := fillCache(r.opts.CacheDir, r.opts.CacheMax, plan.Module); err != nil {
		logDebugf("compile outside the container failed (%v); the init will compile", err)
		return false
	}
	return true
}
