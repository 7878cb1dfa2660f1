package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// wasiEdgeChoices are the lines of testdata/c/edges.c where runw answers
// otherwise than wasmtime's built-in WASI on purpose (README, "WASI"):
// each maps to runw's line and wasmtime's, and both are checked, so that
// neither side changes unnoticed.
var wasiEdgeChoices = map[string][2]string{
	// From the root of a mount, ".." climbs into the container's tree
	// (wasi-libc hands "/data/../x" to the /data preopen as "../x"),
	// where there is no /x: ENOENT. wasmtime: EPERM, out of the preopen.
	"dotdot above a directory": {"44", "63"},
	// A trailing slash names a directory, as on Linux: renaming a file
	// to "x/" is ENOTDIR (wasmtime renames it to x), removing "dir/"
	// removes dir (wasmtime: EINVAL; the WASI test suite takes both).
	"rename a file to a name with a slash": {"54", "0"},
	"rmdir with a slash":                   {"0", "28"},
	// O_DIRECTORY without following, on a symlink to a directory:
	// ENOTDIR, as on Linux (openat with O_NOFOLLOW|O_DIRECTORY); wasmtime
	// answers ELOOP. The WASI test suite (nofollow_errors) passes with it.
	"open a symlink to a directory as one, not followed": {"54", "32"},
	// A symlink whose body is "cc/", a directory, opens it, as on
	// Linux; wasmtime: ENOTDIR.
	"open through rd/to-dir-slash": {"0", "54"},
	// A directory is synced, as on Linux (a rename in it made durable:
	// Go's File.Sync, Python's os.fsync); wasmtime: EBADF. The WASI test
	// suite does not ask.
	"dir fd_datasync": {"0", "8"},
	"dir fd_sync":     {"0", "8"},
	// runw does these; wasmtime answers ENOTSUP.
	"fd_allocate":    {"0", "58"},
	"open with SYNC": {"0", "58"},
	// A name is bytes, as on Linux and in an image; wasmtime: EILSEQ.
	"a name that is not UTF-8": {"0", "25"},
	// The init's CPU time; wasmtime: EBADF.
	"clock_res_get process CPU time": {"0", "8"},
	// NONBLOCK on stdio is the guest's own, emulated; wasmtime: EBADF.
	"stdout NONBLOCK": {"0", "8"},
}

// TestWASIEdgesAsWasmtime runs testdata/c/edges.c, WASI calls at their
// edges (a directory descriptor used as a file, a file as a directory,
// readlink into small buffers, links and symlinks at odd names, paths that
// leave their directory, opens with conflicting flags, bad descriptors),
// under runw and under wasmtime's built-in WASI (testdata/wasmtimerun),
// each with an empty writable directory at /scratch (a bind mount under
// runw), and requires the same answer on every line but runw's choices
// (wasiEdgeChoices). Guests are written and tested against wasmtime: an
// answer that differs without a reason is a bug of runw's.
func TestWASIEdgesAsWasmtime(t *testing.T) {
	t.Parallel()
	module := netGuest(t, "edges")
	baseline := wasmtimeBaseline(t)

	scratch := t.TempDir()
	cmd := exec.Command(baseline, "-dir", scratch+"::/scratch", "-argv0", "edges", module, "/scratch")
	want, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("edges under wasmtime: %v: %s", err, want)
	}

	r := newRunw(t)
	b := netBundle(t, module, "/scratch")
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/scratch", Type: "bind", Source: t.TempDir(), Options: []string{"rbind", "rw"}})
	})
	res := r.run("run", "--bundle", b.dir, "edges")
	if res.code != 0 {
		t.Fatalf("edges under runw: %v", res)
	}

	compareLines(t, "edges", res.stdout, "wasmtime", string(want), 100, wasiEdgeChoices)
}

// compareLines holds a program's "name: value" lines under runw (got) to
// the same program's lines under a baseline (want, named base): the same
// names in the same order, at least min of them, the same values but on
// the lines choices names, where each side must give its own value
// (runw's first).
func compareLines(t *testing.T, program, got, base, want string, min int, choices map[string][2]string) {
	t.Helper()
	wantLines, gotLines := strings.Split(strings.TrimSpace(want), "\n"), strings.Split(strings.TrimSpace(got), "\n")
	if len(wantLines) != len(gotLines) || len(wantLines) < min {
		t.Fatalf("%s printed %d lines under runw, %d under %s (at least %d expected):\nrunw:\n%s\n%s:\n%s", program, len(gotLines), len(wantLines), base, min, got, base, want)
	}
	seen := map[string]bool{}
	for i, w := range wantLines {
		g := gotLines[i]
		name, wv, _ := strings.Cut(w, ": ")
		gname, gv, _ := strings.Cut(g, ": ")
		if name != gname {
			t.Fatalf("line %d: runw printed %q where %s printed %q", i+1, g, base, w)
		}
		if c, ok := choices[name]; ok {
			seen[name] = true
			if gv != c[0] || wv != c[1] {
				t.Errorf("%s: runw %s, %s %s; want runw %s, %s %s (a known difference)", name, gv, base, wv, c[0], base, c[1])
			}
			continue
		}
		if gv != wv {
			t.Errorf("%s: runw %s, %s %s", name, gv, base, wv)
		}
	}
	for name := range choices {
		if !seen[name] {
			t.Errorf("%s printed no line %q", program, name)
		}
	}
}

var wasmtimeBaselineBuild struct {
	once sync.Once
	path string
	err  error
}

// wasmtimeBaseline builds testdata/wasmtimerun (wasmtime-go's built-in
// WASI) once per test run, beside the runw binary.
func wasmtimeBaseline(t *testing.T) string {
	t.Helper()
	b := &wasmtimeBaselineBuild
	b.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(filepath.Dir(runwBin), "wasmtimerun")
		b.err = goBuild(root, nil, b.path, "./integration/testdata/wasmtimerun")
	})
	if b.err != nil {
		t.Fatalf("build the wasmtime baseline: %v", b.err)
	}
	if _, err := os.Stat(b.path); err != nil {
		t.Fatal(err)
	}
	return b.path
}
