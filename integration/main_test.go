// Package integration drives the real runw binary on real bundles: real Go
// and WAT guests, real processes, real files on the host.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Built once by TestMain and shared by every test.
var (
	// runwBin is the runw binary under test.
	runwBin string
	// cacheDir is the compiled-module cache shared by all tests, so each
	// guest is compiled once per test run.
	cacheDir string
	// guests maps a guest name ("probe", "hello") to its built module.
	guests = map[string]string{}
)

func TestMain(m *testing.M) {
	if key := os.Getenv(reopenPollEnv); key != "" {
		os.Exit(reopenPoll(key))
	}
	if v := os.Getenv(seccompErrnoEnv); v != "" {
		os.Exit(seccompExec(v))
	}
	os.Exit(setup(m))
}

func setup(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "runw-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "integration setup:", err)
		return 1
	}
	warmCache()
	return m.Run()
}

// testBinaryEnv names a runw binary for the tests to run instead of
// building one: `make test` passes bin/runw, so that the binary it builds
// and installs (linked statically, with its build tags) is the one tested.
const testBinaryEnv = "RUNW_TEST_BINARY"

// build compiles runw (or copies the one testBinaryEnv names) and the Go
// guests into dir.
func build(dir string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	runwBin = filepath.Join(dir, "runw")
	if bin := os.Getenv(testBinaryEnv); bin != "" {
		if err := copyFile(bin, runwBin); err != nil {
			return fmt.Errorf("%s: %v", testBinaryEnv, err)
		}
	} else if err := goBuild(root, nil, runwBin, "github.com/runw/runw"); err != nil {
		return err
	}
	for _, g := range []string{"probe", "hello"} {
		out := filepath.Join(dir, g+".wasm")
		src := filepath.Join(root, "integration", "testdata", g)
		if err := goBuild(src, []string{"GOOS=wasip1", "GOARCH=wasm"}, out, "."); err != nil {
			return err
		}
		guests[g] = out
	}
	cacheDir = filepath.Join(dir, "cache")
	return os.Mkdir(cacheDir, 0o700)
}

func goBuild(dir string, env []string, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %v\n%s", pkg, dir, err, b)
	}
	return nil
}

// repoRoot walks up from the working directory (integration/) to the
// directory holding runw's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(b), "module github.com/runw/runw\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod of github.com/runw/runw) not found")
		}
		dir = parent
	}
}

// warmCache runs the probe once so that parallel tests load its compiled
// form instead of all compiling it at the same time. A failure here is
// left to the tests to report.
func warmCache() {
	dir, err := os.MkdirTemp("", "runw-warm-")
	if err != nil {
		return
	}
	defer os.RemoveAll(dir)
	b := filepath.Join(dir, "bundle")
	os.MkdirAll(filepath.Join(b, "rootfs"), 0o755)
	copyFile(guests["probe"], filepath.Join(b, "rootfs", "probe.wasm"))
	data, _ := json.Marshal(defaultSpec("/probe.wasm"))
	os.WriteFile(filepath.Join(b, "config.json"), data, 0o644)
	exec.Command(runwBin, "--root", filepath.Join(dir, "state"), "--cache-dir", cacheDir,
		"run", "-b", b, "warm").Run()
}

// ---- bundles ----

// bundle is an OCI bundle in a test's temporary directory.
type bundle struct {
	t      *testing.T
	dir    string
	rootfs string
	spec   specs.Spec
}

// defaultSpec is the smallest spec runw accepts for a guest at args[0].
func defaultSpec(args ...string) specs.Spec {
	return specs.Spec{
		Version: "1.0.2",
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: args, Cwd: "/"},
	}
}

// newBundle lays out a bundle that runs guest with args. guest is a built
// guest ("probe", "hello") or a file under testdata ("wat/exit7.wat"); it
// is copied to the rootfs root and args[0] is its guest path.
func newBundle(t *testing.T, guest string, args ...string) *bundle {
	t.Helper()
	src, ok := guests[guest]
	if !ok {
		src = filepath.Join("testdata", guest)
	}
	name := filepath.Base(src)
	dir := t.TempDir()
	b := &bundle{t: t, dir: dir, rootfs: filepath.Join(dir, "rootfs")}
	if err := os.Mkdir(b.rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(src, filepath.Join(b.rootfs, name)); err != nil {
		t.Fatal(err)
	}
	b.spec = defaultSpec(append([]string{"/" + name}, args...)...)
	b.save()
	return b
}

// memoryLimit is a bundle edit that gives the container a memory limit
// of n bytes (linux.resources.memory.limit), replacing s.Linux.
func memoryLimit(n int64) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Linux = &specs.Linux{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &n}}}
	}
}

// ownMountAndPID gives the container a mount and a pid namespace of its
// own: the init pivots into the rootfs, as under podman and CRI.
func ownMountAndPID(s *specs.Spec) {
	s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}}}
}

// edit changes the spec and rewrites config.json.
func (b *bundle) edit(f func(s *specs.Spec)) {
	f(&b.spec)
	b.save()
}

func (b *bundle) save() {
	b.t.Helper()
	data, err := json.MarshalIndent(&b.spec, "", "  ")
	if err != nil {
		b.t.Fatal(err)
	}
	b.writeFile("../config.json", string(data))
}

// writeFile writes a file at a path relative to the rootfs.
func (b *bundle) writeFile(rel, content string) {
	b.t.Helper()
	p := filepath.Join(b.rootfs, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// symlink makes rootfs/rel a symlink to target.
func (b *bundle) symlink(target, rel string) {
	b.t.Helper()
	if err := os.Symlink(target, filepath.Join(b.rootfs, rel)); err != nil {
		b.t.Fatal(err)
	}
}

// bindMount returns a bind mount of host dir src at dest with options.
func bindMount(dest, src string, options ...string) specs.Mount {
	return specs.Mount{Destination: dest, Type: "bind", Source: src, Options: options}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ---- running runw ----

// runw invokes the binary with a state root of its own test.
type runw struct {
	t    *testing.T
	root string
	// out holds the files commands write their stdout and stderr to.
	out string
	// env is runw's environment (nil: the test's own).
	env []string
	// cache is the --cache-dir to pass ("": the shared cacheDir).
	cache string
	// bin is the runw binary to run ("": runwBin).
	bin string
}

// result is how one runw command ended.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// toolOrSkip is the path of the program name on PATH, skipping the test
// with why where there is none.
func toolOrSkip(t *testing.T, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("needs %s %s: %v", name, why, err)
	}
	return p
}

// needsRoot skips t, saying why, unless the tests run as root.
func needsRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

// newRunw gives the test a fresh --root. At the end of the test every
// container still there is force-deleted, so that a failed test leaves no
// spinning guest behind to disturb the others.
func newRunw(t *testing.T) *runw {
	t.Helper()
	r := &runw{t: t, root: t.TempDir(), out: t.TempDir()}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(r.root)
		for _, e := range entries {
			exec.Command(runwBin, "--root", r.root, "delete", "--force", e.Name()).Run()
		}
	})
	return r
}

// command prepares runw with --root and --cache-dir and args. stdout and
// stderr go to files, never pipes: a created container inherits them and
// would otherwise keep the command's output open until the guest exits.
func (r *runw) command(ctx context.Context, args ...string) (cmd *exec.Cmd, stdout, stderr *os.File) {
	r.t.Helper()
	var err error
	if stdout, err = os.CreateTemp(r.out, "stdout-"); err != nil {
		r.t.Fatal(err)
	}
	if stderr, err = os.CreateTemp(r.out, "stderr-"); err != nil {
		r.t.Fatal(err)
	}
	cmd = exec.CommandContext(ctx, r.binary(), r.argv(args...)...)
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd, stdout, stderr
}

// binary is the runw this test runs.
func (r *runw) binary() string {
	if r.bin != "" {
		return r.bin
	}
	return runwBin
}

// argv is args after runw's global flags for this test: --root and
// --cache-dir.
func (r *runw) argv(args ...string) []string {
	cache := cacheDir
	if r.cache != "" {
		cache = r.cache
	}
	return append([]string{"--root", r.root, "--cache-dir", cache}, args...)
}

// execDetached runs args (a module and its arguments) in container id
// with exec --detach and returns the exec'd process's pid.
func (r *runw) execDetached(id string, args ...string) int {
	r.t.Helper()
	pidFile := filepath.Join(r.t.TempDir(), "exec.pid")
	r.mustRun(append([]string{"exec", "--detach", "--pid-file", pidFile, id}, args...)...)
	data, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		r.t.Fatalf("exec pid file %q: %v", data, err)
	}
	return pid
}

// run runs runw with args and returns how it ended.
func (r *runw) run(args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, stdout, stderr := r.command(ctx, args...)
	err := cmd.Run()
	if ctx.Err() != nil {
		r.t.Fatalf("runw %s: timed out", strings.Join(args, " "))
	}
	return finish(cmd, err, stdout, stderr)
}

// mustRun runs runw and fails the test unless it exits 0.
func (r *runw) mustRun(args ...string) result {
	r.t.Helper()
	res := r.run(args...)
	if res.code != 0 {
		r.t.Fatalf("runw %s: %v", strings.Join(args, " "), res)
	}
	return res
}

// runInBackground starts `runw run` for b and waits until the guest runs;
// it returns the command and the init's pid.
func runInBackground(t *testing.T, r *runw, b *bundle, id string) (*background, int) {
	t.Helper()
	bg := r.start("run", "-b", b.dir, id)
	st := r.waitStatus(id, "running", 20*time.Second)
	return bg, st.Pid
}

// killRun ends the container id that bg's `runw run` runs, with SIGKILL,
// and waits up to timeout for run to return.
func (r *runw) killRun(t *testing.T, bg *background, id string, timeout time.Duration) {
	t.Helper()
	r.run("kill", id, "KILL")
	bg.wait(t, timeout)
}

// background is a runw command running while the test goes on.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
	done           chan error
}

// start launches runw with args in the background; wait collects it. The
// command is killed at the end of the test if it is still running.
func (r *runw) start(args ...string) *background {
	r.t.Helper()
	return r.startFiles(nil, args...)
}

// startFiles is start with extra descriptors for runw, its 3, 4, ...
func (r *runw) startFiles(files []*os.File, args ...string) *background {
	r.t.Helper()
	cmd, stdout, stderr := r.command(context.Background(), args...)
	cmd.ExtraFiles = files
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	bg := &background{cmd: cmd, stdout: stdout, stderr: stderr, done: make(chan error, 1)}
	go func() { bg.done <- cmd.Wait() }()
	r.t.Cleanup(func() { cmd.Process.Kill() })
	return bg
}

// wait returns how the background command ended, failing the test if it
// takes longer than timeout.
func (bg *background) wait(t *testing.T, timeout time.Duration) result {
	t.Helper()
	select {
	case err := <-bg.done:
		return finish(bg.cmd, err, bg.stdout, bg.stderr)
	case <-time.After(timeout):
		t.Fatalf("runw %s: still running after %v", strings.Join(bg.cmd.Args[1:], " "), timeout)
		return result{}
	}
}

func finish(cmd *exec.Cmd, err error, stdout, stderr *os.File) result {
	res := result{code: 0}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		res.code = -1
		res.stderr = err.Error()
	}
	stdout.Close()
	stderr.Close()
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	res.stdout = string(out)
	res.stderr += string(errOut)
	return res
}

// containerState is `runw state` output.
type containerState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     string            `json:"created"`
	Annotations map[string]string `json:"annotations"`
	Owner       string            `json:"owner"`
}

// state runs `runw state id`; ok is false if runw failed.
func (r *runw) state(id string) (st containerState, res result, ok bool) {
	r.t.Helper()
	res = r.run("state", id)
	if res.code != 0 {
		return st, res, false
	}
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		r.t.Fatalf("runw state %s: bad JSON: %v\n%s", id, err, res.stdout)
	}
	return st, res, true
}

// pollStatus polls `runw state` until the status is want or timeout passes.
// It never fails the test, so it is safe in goroutines.
func (r *runw) pollStatus(id, want string, timeout time.Duration) (containerState, error) {
	deadline := time.Now().Add(timeout)
	for {
		res := r.run("state", id)
		var st containerState
		if res.code == 0 {
			if err := json.Unmarshal([]byte(res.stdout), &st); err == nil && st.Status == want {
				return st, nil
			}
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("container %s: status not %q after %v: %v", id, want, timeout, res)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStatus is pollStatus that fails the test on timeout.
func (r *runw) waitStatus(id, want string, timeout time.Duration) containerState {
	r.t.Helper()
	st, err := r.pollStatus(id, want, timeout)
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

// leftovers lists what is under the --root directory.
func (r *runw) leftovers() []string {
	r.t.Helper()
	var out []string
	filepath.Walk(r.root, func(p string, _ os.FileInfo, err error) error {
		if p != r.root {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// exeCopyPath says whether rel, under a --root, is runw's directory of
// the binaries its inits run from (".exe") or one of them: runw's own,
// shared by every container of the root, not container state.
func exeCopyPath(rel string) bool {
	dir, name := filepath.Split(rel)
	return rel == ".exe" || dir == ".exe/" && strings.HasPrefix(name, "runw-")
}

// assertRootEmpty fails the test if anything is left under --root. Empty
// top-level directories whose names no container id can take (".empty",
// ".native") are runw's own shared helpers, not container state, and so
// are the copies of runw in ".exe".
func (r *runw) assertRootEmpty() {
	r.t.Helper()
	var left []string
	for _, p := range r.leftovers() {
		rel, _ := filepath.Rel(r.root, p)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() && strings.HasPrefix(rel, ".") && !strings.Contains(rel, "/") {
			if entries, _ := os.ReadDir(p); len(entries) == 0 {
				continue
			}
		}
		if exeCopyPath(rel) {
			continue
		}
		left = append(left, p)
	}
	if len(left) > 0 {
		r.t.Errorf("left under --root: %v", left)
	}
}

// dirWith makes a temporary directory holding one file, name, with
// content: the host side of a volume.
func dirWith(t *testing.T, name, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ---- processes ----

// procStat returns the fields of /proc/PID/stat after the command's
// closing parenthesis (state, ppid, ...), or nil if pid is gone.
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	return strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
}

// procGone reports whether pid has exited (gone, or a zombie not yet
// reaped).
func procGone(pid int) bool {
	f := procStat(pid)
	return len(f) == 0 || f[0] == "Z" || f[0] == "X"
}

// waitGone polls every millisecond until pid has exited and returns how
// long that took, or fails the test after timeout.
func waitGone(t *testing.T, pid int, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !procGone(pid) {
		if time.Since(start) > timeout {
			t.Fatalf("pid %d still alive after %v", pid, timeout)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// oneLine fails the test unless s (trimmed) is a single non-empty line.
func oneLine(t *testing.T, what, s string) {
	t.Helper()
	s = strings.TrimSpace(s)
	if s == "" || strings.Count(s, "\n") != 0 {
		t.Errorf("%s: want one line on stderr, got %q", what, s)
	}
	// Plain text: no control character (a terminal's escape sequences).
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r >= 0x7f && r <= 0x9f }) {
		t.Errorf("%s: a control character on stderr: %q", what, s)
	}
}
