package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi"
)

// readBytes is what this process has read so far (rchar in /proc/self/io).
func readBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

// TestCachedOutsideHashesNoMoreThanItsBound: exec hashes the module
// outside the container's cgroup only up to execHashUpTo, checked on the
// file's size before it is opened. The attack: the module is the guest's
// own file, 128 MiB when exec looks at its size, and the guest extends it
// (a sparse truncate, instantly) while runw hashes it; runw then read on,
// outside every limit, up to wasi.MaxModuleSize (512 MiB, four times the
// bound: reproduced end to end with runw exec under strace, 511 MiB read
// by runw itself). /dev/zero stands for that file here: its size says 0,
// and it reads forever.
func TestCachedOutsideHashesNoMoreThanItsBound(t *testing.T) {
	r := &Runtime{opts: Options{CacheDir: t.TempDir()}}
	plan := &wasi.Plan{Module: "/dev/zero", ModuleName: "/grown.wasm", Kind: spec.KindModule}
	const bound = 1 << 20
	before := readBytes(t)
	if r.cachedOutside(plan, bound) {
		t.Fatal("a module larger than the bound was found cached")
	}
	if read := readBytes(t) - before; read > 16<<20 {
		t.Fatalf("cachedOutside with a bound of %d bytes read %d MiB of a module that grew past it", bound, read>>20)
	}
}

// TestFillCacheRefusesOversizedUnread: a module file larger than
// wasi.MaxModuleSize is refused on its size, before fillCache copies it.
// The copy is a memfd charged to the caller's cgroup: the init of a
// container with a 64 MiB memory limit and a 6 GiB (sparse) module was
// killed by the OOM killer while copying its first 512 MiB, and create
// said so instead of naming the file as too large (as it does with no
// cache, where the size is checked first).
func TestFillCacheRefusesOversizedUnread(t *testing.T) {
	defer func(old int64) { wasi.MaxModuleSize = old }(wasi.MaxModuleSize)
	wasi.MaxModuleSize = 8 << 20
	p := filepath.Join(t.TempDir(), "big.wasm")
	if err := os.WriteFile(p, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 64<<20); err != nil {
		t.Fatal(err)
	}
	cache, err := wasi.OpenCache(t.TempDir(), 1<<30)
	if err != nil {
		t.Skipf("no cache: %v", err)
	}
	before := readBytes(t)
	_, _, err = fillCache(cache, p, "/big.wasm", spec.KindModule, false, nil)
	if !errors.Is(err, wasi.ErrModuleTooLarge) {
		t.Fatalf("fillCache of a module over the bound: %v, want ErrModuleTooLarge", err)
	}
	if read := readBytes(t) - before; read > 1<<20 {
		t.Fatalf("fillCache read %d MiB of a module its size already refused", read>>20)
	}
}

// TestCompileWatch: the init's bound on its own compile counts the CPU
// time of all its threads (Cranelift compiles on a thread per CPU), and
// a compile that spends none (stopped, starved) is ended only by the
// wider wall-clock bound.
func TestCompileWatch(t *testing.T) {
	watch := func(bound compileBound, work func(stop <-chan struct{})) (*compileTimeError, time.Duration) {
		fired := make(chan error, 1)
		stop := make(chan struct{})
		start := time.Now()
		w := watchCompile(bound, "/m.wasm", func(err error) { fired <- err })
		for i := 0; i < 2; i++ {
			go work(stop)
		}
		defer close(stop)
		select {
		case err := <-fired:
			if w.Stop() {
				t.Error("Stop after the bound fired reported it stopped first")
			}
			var slow *compileTimeError
			if !errors.As(err, &slow) {
				t.Fatalf("fired %v, want a *compileTimeError", err)
			}
			return slow, time.Since(start)
		case <-time.After(20 * time.Second):
			w.Stop()
			t.Fatal("the bound did not fire in 20 s")
			return nil, 0
		}
	}
	spin := func(stop <-chan struct{}) {
		for n := 0; ; n++ {
			if n%1024 == 0 && closed(stop) {
				return
			}
		}
	}
	idle := func(stop <-chan struct{}) { <-stop }

	slow, took := watch(compileBound{cpu: 500 * time.Millisecond, wall: time.Minute}, spin)
	if !slow.cpu || slow.Error() != "/m.wasm: compile used more than 500ms of CPU time" {
		t.Errorf("two spinning threads: %q (cpu %v) after %v, want the CPU bound", slow, slow.cpu, took)
	}
	slow, took = watch(compileBound{cpu: 500 * time.Millisecond, wall: 2 * time.Second}, idle)
	if slow.cpu || took < 2*time.Second {
		t.Errorf("idle threads: %q after %v, want the wall-clock bound after 2 s", slow, took)
	}
}

// closed reports whether c is closed.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestSealedCopyCannotChange: the compile child compiles a sealed copy of
// the module, whose bytes runw hashed itself (fillCache). Neither the
// file's owner (the image, a guest rewriting its own module) nor code in
// the child that reopens the copy for writing through /proc can make the
// child compile other bytes than the key names.
func TestSealedCopyCannotChange(t *testing.T) {
	module := []byte("\x00asm\x01\x00\x00\x00")
	p := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(p, module, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	copied, key, err := sealedCopy(f, "m.wasm", spec.KindModule, wasi.MaxModuleSize)
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Close()
	if key != wasi.Key(module) {
		t.Errorf("key %s, want the module's %s", key, wasi.Key(module))
	}
	if err := os.WriteFile(p, []byte("\x00asm\x01\x00\x00\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", copied.Fd()), os.O_RDWR, 0)
	if err == nil {
		defer w.Close()
		if _, err := w.WriteAt([]byte("X"), 0); err == nil {
			t.Error("wrote the sealed copy through a reopened descriptor")
		}
		if err := w.Truncate(0); err == nil {
			t.Error("truncated the sealed copy")
		}
		if _, err := w.WriteAt([]byte("X"), 100); err == nil {
			t.Error("grew the sealed copy")
		}
	}
	if _, err := unix.FcntlInt(copied.Fd(), unix.F_ADD_SEALS, 0); err == nil {
		// F_SEAL_SEAL: no seal may be added (nor any removed, ever).
		t.Error("the copy's seals can still be changed")
	}
	got, err := io.ReadAll(copied)
	if err != nil || !bytes.Equal(got, module) {
		t.Errorf("the copy reads %q (%v), want the module as hashed %q", got, err, module)
	}
	// Text is keyed as text, apart from any binary.
	f.Seek(0, io.SeekStart)
	text, textKey, err := sealedCopy(f, "m.wasm", spec.KindWAT, wasi.MaxModuleSize)
	if err != nil {
		t.Fatal(err)
	}
	text.Close()
	if textKey == key || textKey == wasi.Key([]byte("\x00asm\x01\x00\x00\x00\x00\x00")) {
		t.Errorf("text keyed as a binary module: %s", textKey)
	}
}

// slowWAT is a module Cranelift takes minutes of CPU to compile: one
// function of n loop-carried i64 locals.
func slowWAT(n int) string {
	var b strings.Builder
	b.WriteString(`(module (func (export "_start") (local`)
	for range n {
		b.WriteString(" i64")
	}
	b.WriteString(") (loop")
	for i := range n - 2 {
		fmt.Fprintf(&b, " (local.set %d (i64.add (local.get %d) (local.get %d)))", i, i+1, i+2)
	}
	b.WriteString(" (br_if 0 (i32.wrap_i64 (local.get 0))))))")
	return b.String()
}

// TestFillCacheStopsWhenTheArtifactLands: a process that gave up waiting
// for another's compile of the same module (wasi.CompileLockWait)
// compiles it unlocked, and stops once the other stores the artifact,
// taking that one. It went on to the end of its own compile: clang's
// 75 MB module took 234 s for the second of two containers created at
// once, against 120 s for the first, and twice the CPU and memory.
func TestFillCacheStopsWhenTheArtifactLands(t *testing.T) {
	t.Setenv(compileCPUEnv, "60s") // the bound of the compile that goes on, before the fix
	defer func(was time.Duration) { wasi.CompileLockWait = was }(wasi.CompileLockWait)
	wasi.CompileLockWait = 200 * time.Millisecond
	p := filepath.Join(t.TempDir(), "slow.wat")
	if err := os.WriteFile(p, []byte(slowWAT(50000)), 0o644); err != nil {
		t.Fatal(err)
	}
	cache, err := wasi.OpenCache(t.TempDir(), 1<<30)
	if err != nil {
		t.Skipf("no cache: %v", err)
	}
	key, err := cache.KeyFor(p, true)
	if err != nil {
		t.Fatal(err)
	}
	release, held := cache.LockCompile(key) // the other process, compiling
	if !held {
		t.Fatal("LockCompile did not take the lock")
	}
	defer release()
	type outcome struct {
		hit bool
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		_, hit, err := fillCache(cache, p, "/slow.wat", spec.KindWAT, false, nil)
		done <- outcome{hit, err}
	}()
	time.Sleep(2 * time.Second) // past the lock's wait: compiling unlocked
	select {
	case o := <-done:
		t.Fatalf("fillCache returned before the artifact landed: %+v", o)
	default:
	}
	if err := cache.Store(key, []byte("the other process's artifact")); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-done:
		if !o.hit || o.err != nil {
			t.Errorf("fillCache after the artifact landed: hit %v, %v; want a hit", o.hit, o.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("fillCache still compiling 20 s after another process stored the artifact")
	}
}
