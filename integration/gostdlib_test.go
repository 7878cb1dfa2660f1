package integration

// Go's own standard library tests, built for GOOS=wasip1 GOARCH=wasm, run
// both through `runw run` and through a baseline that is wasmtime-go's
// built-in WASI with the same argv, env and preopens
// (testdata/wasmtimerun). Every test that passes under the baseline must
// pass under runw.
//
// What Go's own runner (misc/wasm/go_wasip1_wasm_exec, i.e.
// $GOROOT/lib/wasm/go_wasip1_wasm_exec) gives wasmtime: `--dir=/` (the
// whole host), env PWD=$PWD (`go test` runs the binary in the package's
// source directory) and PATH=$PATH, and -W max-wasm-stack=8388608; no
// GOROOT and no TMPDIR, so os.TempDir() is /tmp. A container cannot be
// granted the host's /, so both runners get the same smaller world:
//
//	/                   an empty directory (the rootfs)
//	$GOROOT             read-only bind of the host's GOROOT, at the same
//	                    path: the package's source, testdata and what the
//	                    tests read from GOROOT (lib/time/zoneinfo.zip, ...)
//	/usr/share/zoneinfo read-only bind of the host's, when it has one
//	/tmp                a fresh, writable host directory (a rw bind, the
//	                    same kind of grant for both: os tests need TMPDIR)
//	/.runw-test/X.wasm  the test binary, a read-only file bind (no preopen)
//
// and the env PWD=$GOROOT/src/<pkg> (also process.cwd) and the host's PATH.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// goStdlibPackages are the standard library packages whose tests run;
// RUNW_GOSTDLIB (comma-separated) names others for a run by hand (74
// packages were compared so, 2026-12-01, with no test passing under the
// baseline and failing under runw).
var goStdlibPackages = func() []string {
	if v := os.Getenv("RUNW_GOSTDLIB"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"os", "io/fs", "path/filepath", "syscall", "time", "encoding/json"}
}()

// goStdlibRunTimeout bounds one package's run under one runner.
const goStdlibRunTimeout = 5 * time.Minute

func TestGoStdlibWasip1(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs six standard library test binaries twice")
	}
	began := time.Now()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	goroot := goEnv(t, "GOROOT")
	goversion := goEnv(t, "GOVERSION")
	// Test binaries are cached by Go version: they depend on nothing else
	// (the standard library of that version), and take over a minute to
	// build cold.
	binDir := filepath.Join(root, "build", "gostdlib", goversion)
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	baseline := wasmtimeBaseline(t)
	baselineCache := filepath.Join(binDir, "wasmtimerun-cache")
	zoneinfo := "/usr/share/zoneinfo"
	if fi, err := os.Stat(zoneinfo); err != nil || !fi.IsDir() {
		zoneinfo = ""
	}
	r := newRunw(t)
	// runw's own compile cache, kept beside the binaries so that a rerun
	// loads the compiled test binaries instead of compiling ~50 MB of wasm
	// again. runw keys it by module content, wasmtime version and engine
	// settings, so a changed runw never loads a stale artifact.
	r.cache = filepath.Join(binDir, "runw-cache")

	t.Run("pkg", func(t *testing.T) {
		for _, pkg := range goStdlibPackages {
			t.Run(pkg, func(t *testing.T) {
				t.Parallel()
				module := goStdlibTestBinary(t, binDir, pkg)
				w := goStdlibWorld{
					goroot:   goroot,
					zoneinfo: zoneinfo,
					guestMod: wasiModuleDir + "/" + filepath.Base(module),
					hostMod:  module,
					pwd:      goroot + "/src/" + pkg,
					path:     os.Getenv("PATH"),
					args:     []string{"-test.short", "-test.v"},
				}
				started := time.Now()
				runwOut := w.runRunw(t, r, "gostd-"+strings.ReplaceAll(pkg, "/", "-"))
				runwTook := time.Since(started)
				started = time.Now()
				baseOut := w.runBaseline(t, baseline, baselineCache)
				baseTook := time.Since(started)
				compareGoTests(t, pkg, runwOut, baseOut, runwTook, baseTook)
			})
		}
	})
	t.Logf("TestGoStdlibWasip1 took %v (test binaries cached under %s)", time.Since(began).Round(time.Second), binDir)
}

// goEnv returns `go env NAME`.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// goStdlibTestBinary returns pkg's test binary for wasip1, building it into
// binDir unless it is there already.
func goStdlibTestBinary(t *testing.T, binDir, pkg string) string {
	t.Helper()
	out := filepath.Join(binDir, strings.ReplaceAll(pkg, "/", "_")+".test.wasm")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	tmp := out + ".tmp"
	cmd := exec.Command("go", "test", "-c", "-o", tmp, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test -c %s for wasip1: %v\n%s", pkg, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// goStdlibWorld is what both runners grant one test binary.
type goStdlibWorld struct {
	goroot, zoneinfo  string
	guestMod, hostMod string
	pwd, path         string
	args              []string
}

func (w goStdlibWorld) env() []string {
	return []string{"PWD=" + w.pwd, "PATH=" + w.path}
}

// goRun is the output of one run of a test binary.
type goRun struct {
	stdout, stderr string
	code           int
}

// runRunw runs the test binary through `runw run` on a bundle laid out as
// the file comment says.
func (w goStdlibWorld) runRunw(t *testing.T, r *runw, id string) goRun {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	hostTmp := t.TempDir()
	// Mountpoints, as runc would need them; the rootfs is otherwise empty.
	for _, d := range []string{w.goroot, "/tmp", w.zoneinfo} {
		if d != "" {
			if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := defaultSpec(append([]string{w.guestMod}, w.args...)...)
	s.Process.Env = w.env()
	s.Process.Cwd = w.pwd
	// The same preopens, in the same order, as runBaseline's; the module's
	// file bind comes last and is no preopen.
	s.Mounts = []specs.Mount{
		bindMount(w.goroot, w.goroot, "rbind", "ro"),
		bindMount("/tmp", hostTmp, "rbind", "rw"),
	}
	if w.zoneinfo != "" {
		s.Mounts = append(s.Mounts, bindMount(w.zoneinfo, w.zoneinfo, "rbind", "ro"))
	}
	s.Mounts = append(s.Mounts, bindMount(w.guestMod, w.hostMod, "bind", "ro"))
	b := &bundle{t: t, dir: dir, rootfs: rootfs, spec: s}
	b.save()

	ctx, cancel := context.WithTimeout(context.Background(), goStdlibRunTimeout)
	defer cancel()
	cmd, stdout, stderr := r.command(ctx, "run", "-b", dir, id)
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Errorf("runw run %s: timed out after %v", id, goStdlibRunTimeout)
	}
	res := finish(cmd, err, stdout, stderr)
	return goRun(res)
}

// runBaseline runs the test binary with wasmtime-go's built-in WASI and
// the same argv, env and preopens.
func (w goStdlibWorld) runBaseline(t *testing.T, baseline, cache string) goRun {
	t.Helper()
	rootfs, hostTmp := t.TempDir(), t.TempDir()
	args := []string{
		"-cache", cache,
		"-argv0", w.guestMod,
		"-dir", rootfs + "::/",
		"-rodir", w.goroot + "::" + w.goroot,
		"-dir", hostTmp + "::/tmp",
	}
	if w.zoneinfo != "" {
		args = append(args, "-rodir", w.zoneinfo+"::"+w.zoneinfo)
	}
	for _, kv := range w.env() {
		args = append(args, "-env", kv)
	}
	args = append(append(args, w.hostMod), w.args...)

	ctx, cancel := context.WithTimeout(context.Background(), goStdlibRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, baseline, args...)
	cmd.Env = []string{}
	// Files, not pipes, as for runw: nothing may hold them open after.
	out, errOut := filepath.Join(t.TempDir(), "stdout"), filepath.Join(t.TempDir(), "stderr")
	stdout, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(errOut)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Errorf("baseline %s: timed out after %v", w.hostMod, goStdlibRunTimeout)
	}
	res := finish(cmd, err, stdout, stderr)
	return goRun(res)
}

// goTestLine matches `go test -v` results, subtests (indented) included.
var goTestLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+) \(`)

// goTestResults maps each test name to PASS, FAIL or SKIP.
func goTestResults(out string) map[string]string {
	res := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := goTestLine.FindStringSubmatch(sc.Text()); m != nil {
			res[m[2]] = m[1]
		}
	}
	return res
}

func countResults(res map[string]string) (pass, fail int) {
	for _, v := range res {
		switch v {
		case "PASS":
			pass++
		case "FAIL":
			fail++
		}
	}
	return pass, fail
}

// compareGoTests reports the counts and fails for every test that passed
// under the baseline but did not pass under runw (failed, or never
// reported because the run died before it).
func compareGoTests(t *testing.T, pkg string, runwOut, baseOut goRun, runwTook, baseTook time.Duration) {
	t.Helper()
	rw, base := goTestResults(runwOut.stdout), goTestResults(baseOut.stdout)
	rp, rf := countResults(rw)
	bp, bf := countResults(base)
	t.Logf("%s: runw: %d passed %d failed; wasmtime built-in: %d passed %d failed (exit %d in %v; exit %d in %v)",
		pkg, rp, rf, bp, bf, runwOut.code, runwTook.Round(100*time.Millisecond), baseOut.code, baseTook.Round(100*time.Millisecond))
	if bp == 0 {
		t.Errorf("%s: no test passed under the baseline (exit %d); stderr:\n%s\nstdout tail:\n%s", pkg, baseOut.code, tail(baseOut.stderr, 2000), tail(baseOut.stdout, 2000))
	}
	var failed, missing []string
	for name, v := range base {
		if v != "PASS" {
			continue
		}
		switch rw[name] {
		case "PASS":
		case "":
			missing = append(missing, name)
		default:
			failed = append(failed, name+" ("+rw[name]+")")
		}
	}
	sort.Strings(failed)
	sort.Strings(missing)
	if len(failed) > 0 {
		t.Errorf("%s: %d tests pass under wasmtime's built-in WASI but not under runw:\n  %s", pkg, len(failed), strings.Join(failed, "\n  "))
	}
	if len(missing) > 0 {
		t.Errorf("%s: %d tests pass under wasmtime's built-in WASI but never finished under runw (exit %d, the run died in %s): %s\nrunw stderr:\n%s",
			pkg, len(missing), runwOut.code, lastStarted(runwOut.stdout), firstN(missing, 40), headTail(runwOut.stderr, 1500, 400))
	}
	if len(failed) > 0 {
		// The runw output of each failing test, for the reader.
		t.Logf("%s: runw stdout tail:\n%s", pkg, tail(runwOut.stdout, 4000))
	}
}

// lastStarted names the last test `go test -v` announced with "=== RUN".
func lastStarted(out string) string {
	i := strings.LastIndex(out, "=== RUN   ")
	if i < 0 {
		return "no test"
	}
	name, _, _ := strings.Cut(out[i+len("=== RUN   "):], "\n")
	return name
}

// headTail keeps the first head and last tail bytes of s: a trap's
// backtrace can run to thousands of frames.
func headTail(s string, head, tail int) string {
	if len(s) <= head+tail {
		return s
	}
	return s[:head] + "\n[...]\n" + s[len(s)-tail:]
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// firstN joins the first n names and says how many more there are.
func firstN(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s, ... and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
