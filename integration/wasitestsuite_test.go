package integration

// The WebAssembly/wasi-testsuite conformance tests for WASI preview1, each
// run through `runw run` as an OCI bundle, as the suite's README
// (../shared/wasi-testsuite/README.md) describes: rootfs = a copy of the
// test's `root` (or an empty directory), process.args = [module, args...],
// process.env = env exactly, cwd "/".

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// wasiTestsuiteTotal is how many prebuilt tests the suite holds; a different
// count means the suite changed under the test, which must be noticed.
const wasiTestsuiteTotal = 72

// wasiTestsuiteKnown are the tests no container runtime can pass, by name,
// with the reason. Nothing else may fail.
var wasiTestsuiteKnown = map[string]string{
	// The test asserts that fd 3 is no open descriptor, but in a
	// container / is always preopened, and the first preopen is fd 3
	// (the suite's README says so too).
	"c/sock_shutdown-invalid_fd": "expects fd 3 to be closed; a container always preopens / there",
}

// wasiTestsuiteDir finds the suite beside the repository: the repository
// lives at X/<worktree> and the suite at X/shared/wasi-testsuite, so from
// integration/ it is ../../shared/wasi-testsuite. RUNW_WASI_TESTSUITE
// names another place.
func wasiTestsuiteDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("RUNW_WASI_TESTSUITE")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "wasi-testsuite")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Skipf("wasi-testsuite not found at %s (expected beside the repository, at ../shared/wasi-testsuite): %v", dir, err)
	}
	return dir
}

// wasiTest is one prebuilt test and its JSON description.
type wasiTest struct {
	name   string // "<lang>/<test>", e.g. "rust/path_link"
	module string // host path of the .wasm
	args   []string
	env    []string // KEY=VALUE, in the JSON's order
	root   string   // host directory to copy as the rootfs, or ""
	exit   int
	stdout *string // nil: not checked
}

// wasiTestJSON is the <test>.json beside a module.
type wasiTestJSON struct {
	Args     []string        `json:"args"`
	Env      json.RawMessage `json:"env"`
	Root     string          `json:"root"`
	ExitCode int             `json:"exit_code"`
	Stdout   *string         `json:"stdout"`
}

// loadWasiTests lists every module of the suite with its description.
func loadWasiTests(t *testing.T, suite string) []wasiTest {
	t.Helper()
	modules, err := filepath.Glob(filepath.Join(suite, "*", "testsuite", "wasm32-wasip1", "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(modules)
	var tests []wasiTest
	for _, m := range modules {
		rel, _ := filepath.Rel(suite, m)
		lang := strings.SplitN(rel, string(filepath.Separator), 2)[0]
		base := strings.TrimSuffix(filepath.Base(m), ".wasm")
		wt := wasiTest{name: lang + "/" + base, module: m}
		data, err := os.ReadFile(strings.TrimSuffix(m, ".wasm") + ".json")
		switch {
		case os.IsNotExist(err):
		case err != nil:
			t.Fatal(err)
		default:
			var j wasiTestJSON
			if err := json.Unmarshal(data, &j); err != nil {
				t.Fatalf("%s.json: %v", wt.name, err)
			}
			env, err := orderedEnv(j.Env)
			if err != nil {
				t.Fatalf("%s.json env: %v", wt.name, err)
			}
			wt.args, wt.env, wt.exit, wt.stdout = j.Args, env, j.ExitCode, j.Stdout
			if j.Root != "" {
				wt.root = filepath.Join(filepath.Dir(m), j.Root)
			}
		}
		tests = append(tests, wt)
	}
	return tests
}

// orderedEnv turns the JSON object into KEY=VALUE strings in the order the
// file gives them, as the suite's own runner passes them to wasmtime.
func orderedEnv(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object: %s", raw)
	}
	var env []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		env = append(env, tok.(string)+"="+v)
	}
	return env, nil
}

// copyTree copies a test's root directory into the rootfs. The suite's
// files are read-only where it is installed; the tests write into their
// root, so the copy is made writable (0644 files, 0755 directories), as a
// checkout of the suite would be.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		default:
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, in); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
	})
}

// wasiModuleDir is where the module under test appears in the guest's
// namespace. It is a read-only *file* bind mount of the suite's .wasm,
// at a directory the rootfs does not have:
//   - copying the module into the rootfs would add an entry to / (which
//     tests that list or clean their root could see, or even delete);
//   - a directory bind mount would add a preopen: fd numbering after fd 3
//     (the rootfs) would change, and the guest could list and open it;
//   - a file bind mount adds no preopen (runw today does not grant file
//     mounts at all; a runtime that does shows at most the one mountpoint
//     directory, as runc would create it), and runw resolves args[0]
//     through the bundle's mounts, so it still finds the module.
const wasiModuleDir = "/.runw-test"

func TestWASITestsuite(t *testing.T) {
	suite := wasiTestsuiteDir(t)
	tests := loadWasiTests(t, suite)
	if len(tests) != wasiTestsuiteTotal {
		t.Errorf("the suite holds %d tests, want %d: update wasiTestsuiteTotal and the known exceptions", len(tests), wasiTestsuiteTotal)
	}
	r := newRunw(t)

	var mu sync.Mutex
	passed := map[string]bool{}
	t.Run("suite", func(t *testing.T) {
		for i, wt := range tests {
			t.Run(wt.name, func(t *testing.T) {
				t.Parallel()
				ok := false
				// Deferred: a skip (known exception) or a fatal
				// ends the subtest through runtime.Goexit.
				defer func() {
					mu.Lock()
					passed[wt.name] = ok
					mu.Unlock()
				}()
				ok = runWasiTest(t, r, wt, fmt.Sprintf("wasi-%d", i))
			})
		}
	})

	n := 0
	var failed []string
	for _, wt := range tests {
		ok, ran := passed[wt.name]
		switch {
		case ok:
			n++
		case ran:
			failed = append(failed, wt.name)
		}
	}
	if len(passed) < len(tests) {
		// A -run filter chose some tests: the count says nothing.
		t.Logf("wasi-testsuite: %d of the %d tests run passed (of %d in all); failed: %v", n, len(passed), len(tests), failed)
		return
	}
	t.Logf("wasi-testsuite: %d of %d passed", n, len(tests))
	if len(failed) > 0 {
		t.Logf("wasi-testsuite: failed: %s", strings.Join(failed, ", "))
	}
	if want := len(tests) - len(wasiTestsuiteKnown); n < want {
		t.Errorf("wasi-testsuite: %d of %d passed, want at least %d (all but the known exceptions %v)", n, len(tests), want, mapKeys(wasiTestsuiteKnown))
	}
}

// runWasiTest runs one test through `runw run` and reports whether it
// passed. A failure of a known exception skips the subtest with the
// reason; any other failure fails it.
func runWasiTest(t *testing.T, r *runw, wt wasiTest, id string) bool {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if wt.root != "" {
		if err := copyTree(wt.root, rootfs); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	guestModule := wasiModuleDir + "/" + filepath.Base(wt.module)
	s := defaultSpec(append([]string{guestModule}, wt.args...)...)
	s.Process.Env = wt.env
	s.Mounts = []specs.Mount{bindMount(guestModule, wt.module, "bind", "ro")}
	data, err := json.MarshalIndent(&s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	res := r.run("run", "-b", dir, id)
	var problems []string
	if res.code != wt.exit {
		problems = append(problems, fmt.Sprintf("exit status %d, want %d", res.code, wt.exit))
	}
	if wt.stdout != nil && res.stdout != *wt.stdout {
		problems = append(problems, fmt.Sprintf("stdout %q, want %q", res.stdout, *wt.stdout))
	}
	if len(problems) == 0 {
		return true
	}
	msg := fmt.Sprintf("%s: %s\nstdout: %s\nstderr: %s", wt.name, strings.Join(problems, "; "), res.stdout, res.stderr)
	if why, known := wasiTestsuiteKnown[wt.name]; known {
		// Reported as a skip, so the listing shows it is not a pass.
		t.Skipf("known exception (%s): %s", why, msg)
		return false
	}
	t.Error(msg)
	return false
}

func mapKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
