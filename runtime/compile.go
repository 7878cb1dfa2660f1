package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// already cached. Each miss is compiled as create compiles one, in a
// confined child that hands the artifact back (fillCache): the module is
// as untrusted here, an image's, and runw as privileged. The child's
// memory is not bounded, as create's is: a user asked for this compile.
func Compile(cacheDir string, cacheMax int64, paths []string, report func(path, key string, hit bool)) error {
	if len(paths) == 1 && paths[0] == compileChildArg && os.Getenv(compileChildEnv) == "1" {
		return compileChild()
	}
	cache, err := wasi.OpenCache(cacheDir, cacheMax)
	if err != nil {
		return err
	}
	for _, p := range paths {
		kind, head, err := spec.SniffFile(p)
		if err != nil {
			return err
		}
		if !kind.IsWasm() {
			return notWasm(p, head)
		}
		key, err := cache.KeyFor(p, kind.IsText())
		if err != nil {
			return err
		}
		hit := cache.Holds(key)
		if !hit {
			if key, hit, err = fillCache(cache, p, p, kind, false, nil); err != nil {
				var notKept *notKeptError
				if errors.As(err, &notKept) && notKept.artifact != nil {
					notKept.artifact.Close()
				}
				return err
			}
		}
		report(p, key, hit)
	}
	return nil
}

// compileChildEnv marks fillCache's child in its environment, beside its
// argv ("compile /proc/self/fd/0"), so that a user's own `runw compile
// /proc/self/fd/0 < m.wasm` precompiles as any other path does.
const compileChildEnv = "_RUNW_COMPILE_CHILD"

// compileChild is the child of fillCache: it confines itself
// (confineCompile), reads the module from its standard input (a sealed
// copy, fillCache), compiles it, text assembled first, and writes the
// artifact to its standard output for runw to store. It never reaches
// the cache.
func compileChild() error {
	engine := wasi.NewEngine()
	if err := confineCompile(); err != nil {
		return err
	}
	src, err := io.ReadAll(io.LimitReader(os.Stdin, wasi.MaxModuleSize+1))
	if err != nil {
		return fmt.Errorf("read the module: %w", err)
	}
	if int64(len(src)) > wasi.MaxModuleSize {
		return fmt.Errorf("read the module: %w: more than %d bytes", wasi.ErrModuleTooLarge, wasi.MaxModuleSize)
	}
	kind := spec.Sniff(src[:min(len(src), 4096)])
	if !kind.IsWasm() {
		return notWasm(compileChildArg, src[:min(len(src), 4096)])
	}
	artifact, err := wasi.CompileArtifact(engine, src, kind, compileChildArg)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(artifact)
	return err
}

// fillCache compiles module into the cache in a short-lived `runw compile`
// child, so that Cranelift's working memory (hundreds of MB for a large
// module) is spent in a process that exits at once. create runs it before
// the init exists, outside the container's cgroup: a compile charged to a
// small memory limit would be OOM-killed before the guest ever ran.
//
// runw copies the module once into a memfd, hashing it as it goes, seals
// the copy against every change, and hands it to the child as its
// standard input; the child writes the artifact to a pipe, and runw
// stores it under the key of the bytes it hashed itself, with the cache's
// compile lock held (wasi.Cache.StoreFrom). The attack this stops: the
// child runs a compiler over an untrusted module, and code that escaped
// it held, until then, the cache's directory for writing, where it could
// replace the artifacts of other images' modules, native code the
// containers of other tenants would then run. Now the child has no access
// to the cache at all (confineCompile): what it can write is the artifact
// of its own module's key, which only containers of the same bytes load,
// the image that attacked. The copy is sealed and hashed by runw, so the
// child compiles exactly the bytes the key names: compiling the file
// itself, the image (a writable rootfs, its guest) could rewrite it
// between runw's hash and the child's read, and have another module's
// artifact stored under its key. The artifact is read with a bound (the
// child's own memory bound: it built it in memory), so a child cannot
// fill the disk.
//
// The module is opened here, usually through a /proc/self/fd link to the
// lookup's handle (readThrough), and no path is resolved again.
//
// The module is untrusted, and a few megabytes of it can keep Cranelift
// busy for minutes and gigabytes (a million empty functions: 154 s and
// 5 GB here), outside every limit of the container. So the child is
// bounded in CPU time, and more loosely in wall-clock time
// (compileBoundFor), and dies with its parent
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
//
// It returns the module's key, and whether the cache held it (compiled by
// another process meanwhile) after all.
func fillCache(cache *wasi.Cache, module, name string, kind spec.Kind, outside bool, cg *cgroupEntry) (key string, hit bool, err error) {
	if cache == nil {
		return "", false, errors.New("no usable cache to compile into")
	}
	copied, info, key, unwritten, err := openSealed(module, name, kind, copyBound(cg))
	if err != nil {
		return "", false, err
	}
	defer copied.Close()
	// Remembered as the file was when opened, if it is still so and
	// nobody could write it unseen (wasi.Lease).
	if unwritten {
		cache.Remember(module, info, key)
	}
	release, held := cache.LockCompile(key)
	defer release()
	if cache.Holds(key) {
		return key, true, nil
	}
	ctx := context.Background()
	if !held {
		// The holder may still store the artifact while this process
		// compiles unlocked: its compile then stops.
		var stop func()
		ctx, stop = cache.Landed(key, time.Second)
		defer stop()
	}
	// The artifact is read into a sealed memfd first and stored from
	// there, so that a cache that cannot keep it (a full or read-only
	// disk) does not lose the compile: the memfd goes back to the caller
	// with the *notKeptError (fillOrMemory), to hand to the init as one
	// compiled into memory. Storing straight from the pipe, a failed store
	// cost the whole compile again (13.9 s against 6.8 s for a cold run).
	var inMemory *os.File
	err = compileInto(ctx, copied, info.Size(), name, outside, cg, artifactKeeper{
		where: fmt.Sprintf("the cache %q", cache.Dir),
		keep: func(r io.Reader, limit int64, done func() error) error {
			var n int64
			f, err := sealedMemfd("runw-artifact", func(f *os.File) (err error) {
				n, err = wasi.ReadArtifact(f, r, limit, done)
				return err
			})
			if err != nil {
				return err
			}
			if err := cache.StoreFrom(key, io.NewSectionReader(f, 0, n), limit, nil); err != nil {
				inMemory = f
				return err
			}
			return f.Close()
		},
	})
	if err != nil && errors.Is(context.Cause(ctx), wasi.ErrLanded) {
		if inMemory != nil {
			inMemory.Close()
		}
		return key, true, nil
	}
	var notKept *notKeptError
	if errors.As(err, &notKept) {
		notKept.artifact = inMemory
	} else if inMemory != nil {
		inMemory.Close()
	}
	return key, false, err
}

// fillOrMemory is fillCache for create, exec and the init, which hand
// their init an artifact in memory when the cache cannot keep it: then it
// returns that artifact (a sealed memfd, the caller's to close) and no
// error. The module is compiled once either way; only where the memfd
// itself could not be made (no memory for it) is it compiled again,
// straight into memory (compileToMemory).
func fillOrMemory(cache *wasi.Cache, module, name string, kind spec.Kind, outside bool, cg *cgroupEntry) (key string, artifact *os.File, err error) {
	if cache == nil {
		// No cache (`--cache-dir ""`, or one runw refused): into memory,
		// for exec as for create.
		artifact, key, err = compileToMemory(module, name, kind, outside, cg)
		return key, artifact, err
	}
	key, _, err = fillCache(cache, module, name, kind, outside, cg)
	var notKept *notKeptError
	if !errors.As(err, &notKept) {
		return key, nil, err
	}
	if notKept.artifact != nil {
		logDebugf("%v; the artifact is handed over from memory", err)
		return key, notKept.artifact, nil
	}
	logDebugf("%v; compiling into memory", err)
	artifact, key, err = compileToMemory(module, name, kind, outside, cg)
	return key, artifact, err
}

// artifactKeeper is where compileInto puts the artifact the compile child
// hands back: keep reads it from r (at most limit bytes, calling done once
// it has read it all, before it keeps it: wasi.ReadArtifact); where names
// it in errors.
type artifactKeeper struct {
	where string
	keep  func(r io.Reader, limit int64, done func() error) error
}

// compileToMemory is fillCache for an init with no cache to fill (`runw
// --cache-dir ""`, or one it cannot open): the same confined `runw
// compile` child compiles the module, in the container's cgroup, and
// hands its artifact back into a memfd, sealed against any change, which
// the init maps (wasi.Plan.Artifact) as it maps one from the cache.
//
// fillOrMemory calls it too, for a cache that cannot keep the artifact
// where fillCache could not hold it in memory either.
//
// It stops what the init's own compile allowed: Cranelift compiling the
// image's module in the init, before its sandbox, with the privileges it
// holds until then, where a compiler bug that the module exploits would
// run the attacker's code. A compromised child can hand back an artifact
// whose code runs only once the guest runs, under the sandbox (a module's
// start function included: wasi.DeferredStart), as with one it stored in
// the cache; wasmtime reads the artifact's layout as the init loads it,
// before the sandbox, and trusts it (a second bug, in that loader, would
// be needed to run code there).
//
// With cg, the child is in that cgroup (startCompile); it returns the key
// of the bytes compiled too.
func compileToMemory(module, name string, kind spec.Kind, outside bool, cg *cgroupEntry) (*os.File, string, error) {
	copied, info, key, _, err := openSealed(module, name, kind, copyBound(cg))
	if err != nil {
		return nil, "", err
	}
	defer copied.Close()
	f, err := sealedMemfd("runw-artifact", func(artifact *os.File) error {
		return compileInto(context.Background(), copied, info.Size(), name, outside, cg, artifactKeeper{
			where: "memory",
			keep: func(r io.Reader, limit int64, done func() error) error {
				_, err := wasi.ReadArtifact(artifact, r, limit, done)
				return err
			},
		})
	})
	return f, key, err
}

// compileInto is fillCache's (and compileToMemory's) compile of the sealed
// copy of a module of size bytes, named name; keep takes the artifact.
// The child is killed when parent ends, and the error is its cause.
func compileInto(parent context.Context, copied *os.File, size int64, name string, outside bool, cg *cgroupEntry, keep artifactKeeper) error {
	bound := compileBoundFor(size)
	ctx, cancel := context.WithTimeout(parent, bound.wall)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/exe", "compile", compileChildArg)
	cmd.Stdin = copied
	artifact, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer artifact.Close()
	cmd.Stdout = w
	stderr := &tailBuffer{max: 16 << 10}
	cmd.Stderr = stderr
	cmd.Env = []string{compileChildEnv + "=1"}
	// A process group of its own: a terminal's ^C during a foreground
	// `runw exec` (or `runw run`), which runw takes and passes on to the
	// guest once it runs, as runc's exec does, killed the compile child
	// too, and the exec failed "compile ...: signal: interrupt" (255
	// where runc gives 130).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	// Weighed before the child starts: it compiles unbounded in memory
	// until boundMemory, and a module of many sections takes a while to
	// walk.
	memory := compileMemoryBound(compileWeight(copied, size))
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	err = startCompile(cmd, cg)
	w.Close()
	if err != nil {
		return err
	}
	logDebugf("compile child %d: %s", cmd.Process.Pid, name)
	cpu, err := boundCPU(cmd.Process.Pid, bound.cpu)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("bound the compile's CPU time: %w", err)
	}
	if outside {
		if err := boundMemory(cmd.Process.Pid, memory); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("bound the compile's memory: %w", err)
		}
	}
	// Waited for beside the read: once the child has exited, the read
	// ends within a second even if something else held the pipe open.
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		artifact.SetReadDeadline(time.Now().Add(time.Second))
		exited <- err
	}()
	waited := false
	wait := func() error {
		waited = true
		err := <-exited
		if err == nil {
			return nil
		}
		if parent.Err() != nil {
			return context.Cause(parent)
		}
		if ctx.Err() != nil {
			return &compileTimeError{name: name, limit: bound.wall}
		}
		if cpuBoundHit(cmd.ProcessState, cpu) {
			return &compileTimeError{name: name, limit: cpu, cpu: true}
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == ExitRejected {
			return rejected(stderr.String(), name)
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg[strings.LastIndex(msg, "\n")+1:])
		}
		if outside {
			return fmt.Errorf("%w (its memory was bounded to %d MiB for a module of %d KiB)", err, memory>>20, size>>10)
		}
		return err
	}
	var childErr error
	err = keep.keep(artifact, int64(memory), func() error {
		childErr = wait()
		return childErr
	})
	if !waited {
		_ = cmd.Process.Kill()
		<-exited
	}
	if err != nil && childErr == nil && !errors.Is(err, wasi.ErrArtifactTooLarge) {
		// The child compiled, or was never waited for: keeping the
		// artifact failed (a full or read-only disk, no memory).
		return &notKeptError{err: fmt.Errorf("compile %q: %s could not keep the artifact: %w", name, keep.where, spec.ErrnoOf(err))}
	}
	return err
}

// notKeptError is compileInto's failure to keep an artifact the child
// compiled: a cache on a full or read-only disk, which a second try
// would meet again. fillCache sets artifact to the compiled artifact,
// sealed in memory, where it had it (fillOrMemory).
type notKeptError struct {
	err      error
	artifact *os.File
}

func (e *notKeptError) Error() string { return e.err.Error() }
func (e *notKeptError) Unwrap() error { return e.err }

// openSealed opens the module file at module and returns its sealed copy
// (sealedCopy) of at most limit bytes, the file as it was when opened,
// the key of its bytes, and whether nobody could write it unseen
// meanwhile (wasi.Lease).
// A file larger than limit is refused on its size, before any of it is
// copied: the copy is a memfd charged to this process's cgroup (the
// container's, for the init), and 512 MiB of it took an init under a
// small memory limit down with the OOM killer instead of this error.
func openSealed(module, name string, kind spec.Kind, limit int64) (copied *os.File, info os.FileInfo, key string, unwritten bool, err error) {
	f, err := os.Open(module)
	if err != nil {
		return nil, nil, "", false, err
	}
	defer f.Close()
	// Held across the stat whose identity it vouches for and the copy.
	lease := wasi.HoldLease(f)
	copied, info, key, err = statAndCopy(f, name, kind, limit)
	unwritten = lease.Release()
	return copied, info, key, unwritten, err
}

// statAndCopy is openSealed's work on the opened module f.
func statAndCopy(f *os.File, name string, kind spec.Kind, limit int64) (*os.File, os.FileInfo, string, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, nil, "", err
	}
	if info.Size() > limit {
		return nil, nil, "", tooLargeToCopy(name, fmt.Sprintf("%d bytes", info.Size()), limit)
	}
	copied, key, err := sealedCopy(f, name, kind, limit)
	if err != nil {
		return nil, nil, "", err
	}
	return copied, info, key, nil
}

// sealedCopy copies the module file f into a memfd, at most limit bytes,
// returns it sealed against any change (write, shrink, grow, and further
// seals) at offset 0, and the key of its bytes.
func sealedCopy(f *os.File, name string, kind spec.Kind, limit int64) (*os.File, string, error) {
	var key string
	copied, err := sealedMemfd("runw-module", func(copied *os.File) error {
		var err error
		key, err = wasi.CopyKeyed(copied, f, name, limit, kind.IsText())
		if errors.Is(err, wasi.ErrModuleTooLarge) && limit < wasi.MaxModuleSize {
			// Grown past exec's bound while copied.
			err = tooLargeToCopy(name, "grown while read", limit)
		}
		return err
	})
	if err == nil {
		if _, err = copied.Seek(0, io.SeekStart); err != nil {
			copied.Close()
		}
	}
	if errors.Is(err, errTooLargeForExec) {
		return nil, "", err
	}
	if err != nil {
		return nil, "", fmt.Errorf("copy the module: %w", err)
	}
	return copied, key, nil
}

// copyBound is how much of a module fillCache and compileToMemory copy
// (openSealed): wasi.MaxModuleSize, but execHashUpTo for exec's compile
// (cg set: compileForExec). exec makes that copy itself, before its child
// enters the container's cgroup, so the memfd is charged to the engine's
// process that ran runw exec (conmon, a shim) and to no limit of the
// container's. The attack this stops: a guest grew a module in its
// writable rootfs to 512 MiB (one sparse truncate) and had every exec of
// it (a probe's) copy and hash 512 MiB on the host; changed by a byte
// before each exec, again at each.
func copyBound(cg *cgroupEntry) int64 {
	if cg != nil {
		return execHashUpTo
	}
	return wasi.MaxModuleSize
}

// errTooLargeForExec is openSealed's refusal of a module over
// execHashUpTo (copyBound), final as one over wasi.MaxModuleSize is
// (compileIsFinal): left to the exec'd init, any guest could have its
// module compiled there, before the init's sandbox, by growing it past
// the bound (one sparse truncate).
var errTooLargeForExec = fmt.Errorf("larger than the %d MiB runw exec compiles for a module other than the container's own", execHashUpTo>>20)

// tooLargeToCopy is openSealed's refusal of the module named name, of
// size (as said), past limit.
func tooLargeToCopy(name, size string, limit int64) error {
	if limit < wasi.MaxModuleSize {
		return fmt.Errorf("%s: %w (%s)", name, errTooLargeForExec, size)
	}
	return &os.PathError{Op: "read", Path: name, Err: fmt.Errorf("%w: %s, at most %d", wasi.ErrModuleTooLarge, size, limit)}
}

// ExitRejected is `runw compile`'s exit status when wasmtime refuses a
// module (wasi.RejectedError): 65, sysexits' EX_DATAERR.
const ExitRejected = 65

// compileChildArg is the module as the compile child names it.
const compileChildArg = "/proc/self/fd/0"

// rejected turns the compile child's report of a refused module ("compile
// \"/proc/self/fd/0\": MSG", or "parse WAT ...") into the error for the
// module named name.
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

// notWasm refuses the module named name, whose first bytes are head: no
// WebAssembly (empty, compressed, of another binary version, text that
// is no WAT): a *wasi.RejectedError, as wasmtime's refusal is, so that
// `runw compile` exits ExitRejected for it and create reports it at its
// first compile (compileIsFinal) instead of trying the same bytes twice
// more, in the init's child and in the init.
func notWasm(name string, head []byte) error {
	return &wasi.RejectedError{What: "compile", Name: name, Msg: "not a WebAssembly module or component: " + spec.Describe(head)}
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

// compileTimeError is a compile that ran out of its CPU time or, with
// cpu false, of its wall-clock time (compileBoundFor). create reports it
// rather than compile the module again in the init, which would run as
// long under the container's own limits and then fail the same way (a
// hostile module held create for twice the bound).
type compileTimeError struct {
	name  string
	limit time.Duration
	cpu   bool
}

func (e *compileTimeError) Error() string {
	if e.cpu {
		return fmt.Sprintf("%s: compile used more than %v of CPU time", e.name, e.limit)
	}
	return fmt.Sprintf("%s: compile took more than %v of wall-clock time", e.name, e.limit)
}

// compileIsFinal reports whether a compile's failure is one another
// compile of the same module would only repeat, after as long: wasmtime's
// refusal of the module, or of its text, or of bytes that are no
// WebAssembly (*wasi.RejectedError), or a compile past its
// bound (*compileTimeError). The caller reports it rather than leave the
// compile to the init.
func compileIsFinal(err error) bool {
	var rejected *wasi.RejectedError
	var slow *compileTimeError
	// A module over wasi.MaxModuleSize is refused by every compile
	// alike: taken for a child's failure, it let a guest that grew its
	// module past the bound for exec's look, and shrank it after, have
	// its bytes compiled by the exec'd init.
	return errors.As(err, &rejected) || errors.As(err, &slow) || errors.Is(err, wasi.ErrModuleTooLarge) || errors.Is(err, errTooLargeForExec)
}

// preferOOMVictim makes pid the first process the OOM killer ends
// (oom_score_adj 1000): exec's compile child in the container's cgroup.
//
// The accident it stops: a compile of a module the cache lacks (podman
// exec of another module, a health check's own) in a container under a
// memory limit took the cgroup over its limit, and the OOM killer chose
// the cgroup's largest process: the container's own (podman showed the
// container exited 137), and a health check did so at every interval.
// Now the compile ends, the exec fails saying why (compileForExec), and
// the container is left alone, as a native exec'd process that outgrew
// the limit would be the one killed. Not where the container's own
// process is as killable (an oom_score_adj of 1000: Kubernetes'
// BestEffort pods; a Burstable one's near it may lose to its size), nor
// where the engine asks for the whole cgroup to go on an OOM
// (memory.oom.group, kubelet on cgroup v2): it goes, as with a native
// process. Set before the child is sent its cgroups. Best effort.
func preferOOMVictim(pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte("1000"), 0); err != nil {
		logDebugf("compile child %d: oom_score_adj: %v", pid, err)
	}
}

// compileBound is what one compile of a module may spend: CPU time,
// summed over its threads (cpu), which is what stops a hostile module,
// and wall-clock time (wall), a wider backstop for a compile that spends
// none (stopped, starved, waiting on another compile's lock of the
// module or on a slow disk).
type compileBound struct {
	cpu, wall time.Duration
}

// compileBoundFor bounds the compile of a module of size bytes, by create
// or exec in a `runw compile` child, or by the init.
//
// CPU: two minutes and 10 s a MiB, at most 10 minutes and a minute per
// CPU. Real modules need 1 to 1.7 s of CPU a MiB here (the 21 MB Go
// guest the tests build: 21 s on two threads, 24 s pinned to one CPU;
// StarlingMonkey's 13 MB: 15 s; Go's encoding/json tests, 16 MB: 14 s;
// YoWASP clang's 75 MB: 97 s), pandoc's 59 MB 3 s a MiB (175 s before
// wasmtime refused it), so the bound leaves them three times that and
// more. Cranelift compiles on a thread per CPU, and the CPU time of the
// threads is summed: the same work costs no more of it on two threads
// than on one here, but hyperthreads and memory shared by many threads
// make it cost more elsewhere, so the cap, which bounds a large hostile
// module (the module is the attacker's to grow), grows with the CPUs.
// One function of 600 KB (50,000 loop-carried locals) keeps one thread
// of Cranelift busy for hours: it is stopped after two minutes of CPU.
//
// Wall-clock: four times the CPU bound and the minute a compile may first
// wait for another's of the same module (wasi.CompileLockWait), at most
// an hour. It was the only bound (two minutes and 10 s a MiB, at most 15
// minutes), and a busy node failed legitimate compiles with it: clang's
// 75 MB took 14 minutes there for 2 minutes of CPU.
//
// RUNW_COMPILE_CPU (a Go duration) in runw's environment replaces the
// CPU bound, the wall-clock one following it; the tests set it short.
func compileBoundFor(size int64) compileBound {
	cpu := compileCPUOverride()
	if cpu <= 0 {
		cpu = min(2*time.Minute+time.Duration(max(size, 0)>>20)*10*time.Second,
			10*time.Minute+time.Duration(goruntime.NumCPU())*time.Minute)
	}
	return compileBound{cpu: cpu, wall: min(4*cpu+time.Minute, time.Hour)}
}

// compileCPUEnv names the override of the compile's CPU bound in runw's
// environment (compileBoundFor); spawnInit passes it on to the init.
const compileCPUEnv = "RUNW_COMPILE_CPU"

// compileCPUOverride is compileCPUEnv's duration, 0 if unset or unusable.
func compileCPUOverride() time.Duration {
	d, err := time.ParseDuration(os.Getenv(compileCPUEnv))
	if err != nil || d <= 0 {
		return 0
	}
	return d
}

// boundCPU sets pid's CPU time limit (RLIMIT_CPU, soft and hard: the
// kernel sends SIGKILL at the hard limit) to bound, rounded up to whole
// seconds, or lower if pid's hard limit is lower (it may not be raised,
// in a user namespace), and returns the limit set. pid is a compile
// child, just started: what it used before is Go's runtime start.
func boundCPU(pid int, bound time.Duration) (time.Duration, error) {
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_CPU, nil, &old); err != nil {
		return 0, err
	}
	secs := min(uint64((bound+time.Second-1)/time.Second), old.Max)
	if err := unix.Prlimit(pid, unix.RLIMIT_CPU, &unix.Rlimit{Cur: secs, Max: secs}, nil); err != nil {
		return 0, err
	}
	return time.Duration(secs) * time.Second, nil
}

// cpuBoundHit reports whether a compile child that failed was ended by
// its CPU limit (boundCPU): killed by SIGKILL (SIGXCPU for a soft limit
// a child does not ignore, Go ignores it) with its limit used.
func cpuBoundHit(ps *os.ProcessState, limit time.Duration) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL && ws.Signal() != syscall.SIGXCPU {
		return false
	}
	return ps.UserTime()+ps.SystemTime() >= limit-time.Second
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
// The bytes that count are compileWeight's, not the file's size: the
// compiler's memory grows with the code, and a module padded with a
// custom section (40 MB that cost the compiler nothing) had bought its
// compile 2.5 GB more of the host's memory outside every cgroup.
//
// A module that needs more is not refused: its compile in the outside
// child dies at the bound, and the init compiles it inside the
// container's cgroup, charged to the container and under its memory
// limit (compileInChild).
//
// The bound is set with prlimit(2) once the child has started: until
// then it runs Go's runtime start and has not read the module.
func compileMemoryBound(weight int64) uint64 {
	return 512<<20 + 32<<20*uint64(goruntime.NumCPU()) + min(64*uint64(max(weight, 0)), 4<<30)
}

// compileWeight is what a module of size bytes, read through r, weighs
// for compileMemoryBound, in bytes of code: its code sections (those of
// every core module in a component) in full, everything else (data,
// names, custom sections; what the compiler copies or skips) an eighth.
// The real modules measured here are about 62% code (Go), so their bound
// barely moves; padding moves it an eighth as much as before. A text
// module weighs a quarter of its size (a text instruction takes 4 to 8
// times its binary form), and so does anything that cannot be read as
// sections, which then fails to compile in the child at once.
func compileWeight(r io.ReaderAt, size int64) int64 {
	var magic [8]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:4]) != "\x00asm" {
		return size / 4
	}
	w := &weigher{r: r}
	// A component's preamble has layer 1 (bytes 6-7), a module's 0.
	code := w.sections(8, size, magic[6] == 1, 0)
	if w.bad {
		return size / 4
	}
	return code + (size-code)/8
}

// weigher walks a binary module's or component's section headers.
type weigher struct {
	r io.ReaderAt
	// seen counts the headers read: past maxWeighedSections, the rest
	// of a module weighs as non-code.
	seen int
	bad  bool
}

// maxWeighedSections bounds the headers compileWeight reads (each a
// pread): a module of a million empty custom sections is not walked.
const maxWeighedSections = 100_000

// sections returns the code bytes in the sections from off to end, the
// body of a module or a component (depth: how deep it is nested).
func (w *weigher) sections(off, end int64, component bool, depth int) int64 {
	var code int64
	whole := spec.WalkSections(w.r, off, end, 0, func(id byte, body int64, length uint32, _ []byte) bool {
		w.seen++
		switch {
		case !component && id == 10: // the code section
			code += int64(length)
		case component && (id == 1 || id == 4) && depth < 8 && length >= 8:
			// A core module, a nested component: each with its preamble.
			code += w.sections(body+8, body+int64(length), id == 4, depth+1)
		}
		return !w.bad && w.seen < maxWeighedSections
	})
	if !whole {
		w.bad = true
	}
	return code
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
// failure is left to the init, which compiles in a child of its own (and,
// not holding the host's root, in-process as a last resort), except wasmtime's refusal of the module
// (*wasi.RejectedError) and a compile past its bound (*compileTimeError),
// which it returns: compiling again in the container would only be
// refused again, or stopped again, after as long.
//
// A cache that cannot keep the artifact (a full or read-only disk) is
// passed by: the artifact fillCache compiled is handed to the init from
// memory (fillOrMemory, initConfig.artifact), as for an init without a
// cache. Left to the init, it compiled again, in-process, with
// Cranelift's working memory resident for the container's life (144 MB
// against 26 for a 5 MB Go guest, which a 100 MB memory limit then
// killed), after filling the same cache in vain.
//
// Without a cache, it compiles into memory only for an init that can
// spawn no compile child of its own (noChild: one that joins a mount
// namespace by path), which then compiled the image's module itself as
// host root; other inits compile in their own child, in the container's
// cgroup.
//
// final says no compile comes after this one (an init that can spawn no
// child and holds the host's root): its failure is create's.
func (r *Runtime) compileOutside(plan *wasi.Plan, noChild, final bool) (cached bool, artifact *os.File, err error) {
	if r.cachedOutside(plan, wasi.MaxModuleSize) {
		return true, nil, nil
	}
	logDebugf("cache miss: compiling %s outside the container's cgroup", plan.ModuleName)
	if cache := r.openedCache(); cache != nil {
		_, artifact, err = fillOrMemory(cache, plan.Module, plan.ModuleName, plan.Kind, true, nil)
	} else if noChild {
		artifact, _, err = compileToMemory(plan.Module, plan.ModuleName, plan.Kind, true, nil)
	} else {
		return false, nil, nil
	}
	if err != nil {
		if compileIsFinal(err) {
			return false, nil, err
		}
		if final {
			return false, nil, fmt.Errorf("compile %s: %w", plan.ModuleName, err)
		}
		logDebugf("compile outside the container failed (%v); the init will try", err)
		return false, nil, nil
	}
	return artifact == nil, artifact, nil
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
// reach the cache, compiled its module at every exec. Text is hashed as
// it is, never assembled here (wasi's keyOf): assembling it is bounded by
// nothing.
func (r *Runtime) cachedOutside(plan *wasi.Plan, hashUpTo int64) bool {
	cache := r.openedCache()
	if cache == nil {
		return false
	}
	if cache.HasIndexed(plan.Module) {
		return true
	}
	if moduleSize(plan.Module) > hashUpTo {
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
	if cache == nil {
		return false
	}
	if !cache.CanHandOver() {
		// Said, for a user who wonders why every run compiles: the
		// artifacts of a cache others may search stay 0600, unreadable
		// to the init's user namespace.
		logDebugf("cache %s is not private (mode 0700): a container in a user namespace compiles its module itself", r.opts.CacheDir)
		return false
	}
	return true
}

// execHashUpTo bounds the module an exec hashes outside the container
// (cachedOutside), to find a miss for compileForExec's confined child and,
// in a user namespace, to hand its init the artifact:
// the module may be the guest's own file, rewritten before each exec (a
// probe), and its hash is charged to no cgroup. 128 MiB is about 0.1 s
// of CPU here; a larger module is compiled by the exec'd init, in the
// container's cgroup, and never copied outside it (copyBound), or, by an
// init that holds the host's root, not at all.
const execHashUpTo = 128 << 20
