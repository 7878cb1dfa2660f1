package runtime

import (
	"os"
	"strconv"
	"strings"
	"testing"

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
