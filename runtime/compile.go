package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

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
// bounded in time (compileTime) and dies with its parent
// (Pdeathsig): an engine that gives up on create and kills it must not
// leave a root compiler running on the host. The spawning thread is
// locked for the child's life, as Pdeathsig follows the thread, not
// the process. A child outside the container's cgroup (outside) is
// bounded in memory too (compileMemoryBound).
//
// A module wasmtime refuses (the child exits ExitRejected) comes back as a
// *wasi.RejectedError naming the module name: the same bytes would be
// refused again, so the caller reports it instead of compiling once more.
//
// With cg, the child is in that cgroup before it reads the module
// (startCompile): exec's compile for an init in a user namespace.
func fillCache(cacheDir string, cacheMax int64, module, name string, outside bool, cg *cgroupEntry) error {
	f, err := os.Open(module)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	limit := compileTime(info.Size())
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/exe", "--cache-dir", cacheDir, "--cache-max", strconv.FormatInt(cacheMax, 10), "compile", compileChildArg)
	cmd.Stdin = f
	stderr := &tailBuffer{max: 16 << 10}
	cmd.Stderr = stderr
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	if err := startCompile(cmd, cg); err != nil {
		return err
	}
	var bound uint64
	if outside {
		bound = compileMemoryBound(info.Size())
		if err := boundMemory(cmd.Process.Pid, bound); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("bound the compile's memory: %w", err)
		}
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return &compileTimeError{name: name, limit: limit}
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == ExitRejected {
			return rejected(stderr.String(), name)
		}
		if outside {
			return fmt.Errorf("%w (its memory was bounded to %d MiB for a module of %d KiB)", err, bound>>20, info.Size()>>10)
		}
		return err
	}
	return nil
}

// ExitRejected is `runw compile`'s exit status when wasmtime refuses a
// module (wasi.RejectedError): 65, sysexits' EX_DATAERR.
const ExitRejected = 65

// compileChildArg is the module as the compile child names it.
const compileChildArg = "/proc/self/fd/0"

// rejected turns the compile child's report of a refused module ("compile
// \"/proc/self/fd/0\": MSG") into the error for the module named name.
func rejected(report, name string) error {
	report = strings.TrimSpace(report)
	if i := strings.LastIndex(report, "\n"); i >= 0 {
		report = report[i+1:]
	}
	what, msg := "compile", report
	if before, after, ok := strings.Cut(report, " "+strconv.Quote(compileChildArg)+": "); ok {
		what, msg = before, after
	}
	return &wasi.RejectedError{What: what, Name: name, Msg: msg}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// compileTimeError is a compile child that ran out of its time
// (compileTime). create reports it rather than compile the module again
// in the init, which would run as long under the container's own limits
// and then fail the same way (a hostile module held create for twice
// the bound).
type compileTimeError struct {
	name  string
	limit time.Duration
}

func (e *compileTimeError) Error() string {
	return fmt.Sprintf("%s: compile took more than %v", e.name, e.limit)
}

// compileTime bounds one `runw compile` child of create or exec, for a
// module of size bytes: two minutes and 10 s a MiB, at most 15 minutes
// (the module is the attacker's to grow). Real modules compile here at
// 0.3 to 0.7 MB/s (StarlingMonkey's 12 MB in 41 s, Ruby's 54 MB in 81 s),
// three times slower on a loaded node; a flat two minutes killed their
// compile there, which the init then began again.
func compileTime(size int64) time.Duration {
	return min(2*time.Minute+time.Duration(max(size, 0)>>20)*10*time.Second, 15*time.Minute)
}

// compileMemoryBound is the data memory (RLIMIT_DATA: heap and private
// writable mappings, where all of Cranelift's and the Go runtime's
// working memory lives) allowed to a compile child that runs outside the
// container's cgroup, for a module of size bytes.
//
// The attack it stops: that child is charged to no container, so a small
// module built to be expensive to compile (300,000 empty functions in
// 1 MB: 1.5 GB; a million: 5 GB) took the host's memory past every limit
// the spec set. Real modules need far less, here 13 to 40 bytes a byte
// plus about 30 MB (CPython 26 MB: 334 MB; Ruby with its stdlib 54 MB:
// 798 MB; a 21 MB Go program: 550 MB; StarlingMonkey 12 MB: 428 MB), so
// 512 MiB and 64 bytes a byte leaves them twice that and more. Cranelift
// compiles on a thread per CPU, each with its stack and working memory
// in this limit, so a CPU adds 32 MiB. The part that grows with the
// module stops at 4 GiB: the module is the attacker's to grow, and 64
// bytes a byte of a 512 MiB one (wasi.MaxModuleSize) would be 32 GiB.
//
// A module that needs more is not refused: its compile in the outside
// child dies at the bound, and the init compiles it inside the
// container's cgroup, charged to the container and under its memory
// limit (compileInChild).
//
// The bound is set with prlimit(2) once the child has started: until
// then it runs Go's runtime start and has not read the module.
func compileMemoryBound(size int64) uint64 {
	return 512<<20 + 32<<20*uint64(goruntime.NumCPU()) + min(64*uint64(max(size, 0)), 4<<30)
}

// boundMemory sets pid's data limit to bound, and its core limit to
// zero: a compile that dies at the bound aborts (Rust's allocation
// failure), and must not then write hundreds of MB of core dump.
func boundMemory(pid int, bound uint64) error {
	if err := unix.Prlimit(pid, unix.RLIMIT_CORE, &unix.Rlimit{}, nil); err != nil {
		return err
	}
	return unix.Prlimit(pid, unix.RLIMIT_DATA, &unix.Rlimit{Cur: bound, Max: bound}, nil)
}

// compileOutside fills the cache for plan's module from create, before
// the init is spawned and placed in the container's cgroup, when the
// cache misses (exec never does: Exec; it compiles only in the
// container's cgroup, compileForExec). It reports whether the cache
// holds the module afterwards, so that the init need not ask again. A
// failure is left to the init, which compiles in-process as a fallback and
// reports the error, except wasmtime's refusal of the module
// (*wasi.RejectedError), which it returns: compiling again in the
// container would only be refused again, after as long.
func (r *Runtime) compileOutside(plan *wasi.Plan) (bool, error) {
	if r.cachedOutside(plan, wasi.MaxModuleSize) {
		return true, nil
	}
	logDebugf("cache miss: compiling %s outside the container's cgroup", plan.ModuleName)
	if err := fillCache(r.opts.CacheDir, r.opts.CacheMax, plan.Module, plan.ModuleName, true, nil); err != nil {
		var rejected *wasi.RejectedError
		var slow *compileTimeError
		if errors.As(err, &rejected) || errors.As(err, &slow) {
			return false, err
		}
		logDebugf("compile outside the container failed (%v); the init will compile", err)
		return false, nil
	}
	return true, nil
}

// cachedOutside reports whether the cache holds plan's module as it is
// now. It asks the cache's index first, which names the module without
// reading it. When that misses, as it does for each new container of an
// engine (each has its own rootfs path) and for an exec (the module is
// reached through the container's root, another path), it hashes a
// binary module or component of at most hashUpTo bytes, in pieces (one
// 128 KB buffer, about a second a gigabyte here), and looks the key up.
// Without that, create spawned a compile child only to hash the module
// and find it cached, and an init in a user namespace, which cannot
// reach the cache, compiled its module at every exec. Text is never
// read here: assembling it is bounded by nothing.
func (r *Runtime) cachedOutside(plan *wasi.Plan, hashUpTo int64) bool {
	cache := r.openedCache()
	if cache == nil {
		return false
	}
	if cache.HasIndexed(plan.Module) {
		return true
	}
	if plan.Kind.IsText() || moduleSize(plan.Module) > hashUpTo {
		return false
	}
	// The bound holds for the bytes read too, not only for the size just
	// seen: the guest may extend its module while it is hashed.
	return cache.HasUpTo(plan.Module, plan.Kind, hashUpTo)
}

// canHandOver reports whether the cache may hand an init in a user
// namespace its artifact (wasi.Cache.CanHandOver).
func (r *Runtime) canHandOver() bool {
	cache := r.openedCache()
	return cache != nil && cache.CanHandOver()
}

// execHashUpTo bounds the module an exec into a user namespace hashes
// outside the container (cachedOutside), to hand its init the artifact:
// the module may be the guest's own file, rewritten before each exec (a
// probe), and its hash is charged to no cgroup. 128 MiB is about 0.1 s
// of CPU here; a larger module is compiled by the exec'd init, in the
// container's cgroup. An exec without a user namespace hashes nothing
// outside: its init reaches the cache and keys the module itself.
const execHashUpTo = 128 << 20
