package runtime

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

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
