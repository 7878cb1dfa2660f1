package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Components are made here, from the tests' own guests: jco wraps a
// preview1 command (the Go probe and hello) in the preview1 adapter it
// ships, assembles component WAT, and componentize-js builds a JavaScript
// component. Both come from npm, installed into build/npm when missing.

// npmPackages are the tools the component tests install.
var npmPackages = []string{"@bytecodealliance/jco", "@bytecodealliance/componentize-js"}

var (
	npmOnce sync.Once
	npmBin  string // build/npm/node_modules/.bin, "" when unavailable
	npmWhy  string // why the tools are unavailable
)

// componentTools returns the directory holding jco and componentize-js,
// installing them into build/npm first if needed, or skips the test
// saying why (no npm, or npm cannot reach its registry).
func componentTools(t testing.TB) string {
	t.Helper()
	npmOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			npmWhy = err.Error()
			return
		}
		prefix := filepath.Join(root, "build", "npm")
		bin := filepath.Join(prefix, "node_modules", ".bin")
		have := func() bool {
			for _, tool := range []string{"jco", "componentize-js"} {
				if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
					return false
				}
			}
			return true
		}
		if !have() {
			if _, err := exec.LookPath("npm"); err != nil {
				npmWhy = "npm is not installed: cannot get jco and componentize-js"
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "npm", append([]string{"install", "--no-audit", "--no-fund", "--prefix", prefix}, npmPackages...)...)
			if out, err := cmd.CombinedOutput(); err != nil || !have() {
				npmWhy = fmt.Sprintf("npm install %s failed (is the npm registry reachable?): %v: %s", strings.Join(npmPackages, " "), err, lastLines(string(out), 3))
				return
			}
		}
		npmBin = bin
	})
	if npmBin == "" {
		t.Skip(npmWhy)
	}
	return npmBin
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

var (
	componentsMu sync.Mutex
	components   = map[string]*componentBuild{}
)

type componentBuild struct {
	once sync.Once
	path string
	err  error
}

// componentOf returns the component named name, built once per test run:
//
//	hello, probe   the Go guest wrapped by `jco new --wasi-command`
//	trap           testdata/wat/trap.wat assembled and wrapped the same way
//	exitcode       testdata/component/exitcode.wat (exit-with-code 42)
//	proxy          testdata/component/proxy.wat (a wasi:http proxy)
//	js             testdata/component/hello.js by componentize-js
func componentOf(t testing.TB, name string) string {
	t.Helper()
	bin := componentTools(t)
	componentsMu.Lock()
	b := components[name]
	if b == nil {
		b = &componentBuild{}
		components[name] = b
	}
	componentsMu.Unlock()
	b.once.Do(func() { b.path, b.err = buildComponent(bin, name) })
	if b.err != nil {
		t.Fatalf("build the %s component: %v", name, b.err)
	}
	return b.path
}

func buildComponent(bin, name string) (string, error) {
	dir := filepath.Join(filepath.Dir(runwBin), "components")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, name+".wasm")
	run := func(tool string, args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if b, err := exec.CommandContext(ctx, filepath.Join(bin, tool), args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %v: %s", tool, strings.Join(args, " "), err, lastLines(string(b), 5))
		}
		return nil
	}
	switch name {
	case "hello", "probe":
		return out, run("jco", "new", guests[name], "--wasi-command", "-o", out)
	case "trap":
		core := filepath.Join(dir, "trap-core.wasm")
		if err := run("jco", "parse", "testdata/wat/trap.wat", "-o", core); err != nil {
			return "", err
		}
		return out, run("jco", "new", core, "--wasi-command", "-o", out)
	case "exitcode", "proxy":
		return out, run("jco", "parse", filepath.Join("testdata", "component", name+".wat"), "-o", out)
	case "js":
		wit, err := jsWorld(bin, dir)
		if err != nil {
			return "", err
		}
		// No wasi:http: the component must be a plain wasi:cli command.
		return out, run("componentize-js", "testdata/component/hello.js", "--wit", wit, "-n", "hello",
			"-d", "http", "fetch-event", "-o", out)
	}
	return "", fmt.Errorf("no component %q", name)
}

// jsWorld lays out the WIT for the JavaScript component: a world that
// exports wasi:cli/run, with the WASI 0.2 packages jco ships (all but
// wasi:http) as its dependencies.
func jsWorld(bin, dir string) (string, error) {
	builtin := filepath.Join(bin, "..", "@bytecodealliance", "jco", "lib", "wit", "builtin")
	versions, err := filepath.Glob(filepath.Join(builtin, "0.2.*"))
	if err != nil || len(versions) == 0 {
		return "", fmt.Errorf("no WASI 0.2 WIT in %s", builtin)
	}
	src := versions[len(versions)-1]
	version := filepath.Base(src)
	wit := filepath.Join(dir, "js-wit")
	os.RemoveAll(wit)
	pkgs, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(wit, "deps"), 0o755); err != nil {
		return "", err
	}
	for _, p := range pkgs {
		if p.Name() == "wasi-http" {
			continue
		}
		if b, err := exec.Command("cp", "-r", filepath.Join(src, p.Name()), filepath.Join(wit, "deps", p.Name())).CombinedOutput(); err != nil {
			return "", fmt.Errorf("copy WIT: %v: %s", err, b)
		}
	}
	world := fmt.Sprintf("package runw:hello;\n\nworld hello {\n  export wasi:cli/run@%s;\n}\n", version)
	return wit, os.WriteFile(filepath.Join(wit, "world.wit"), []byte(world), 0o644)
}

// newComponentBundle lays out a bundle whose rootfs holds the component
// name as /app.wasm, run with args.
func newComponentBundle(t *testing.T, name string, args ...string) *bundle {
	t.Helper()
	src := componentOf(t, name)
	dir := t.TempDir()
	b := &bundle{t: t, dir: dir, rootfs: filepath.Join(dir, "rootfs")}
	if err := os.Mkdir(b.rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(src, filepath.Join(b.rootfs, "app.wasm")); err != nil {
		t.Fatal(err)
	}
	b.spec = defaultSpec(append([]string{"/app.wasm"}, args...)...)
	b.save()
	return b
}

// A component gets exactly the spec's args and env, like a module.
//
// Each run drives the Go probe with a short argument list: a Go wasip1
// program under the preview1 adapter shares its linear memory with the
// adapter, whose pages (taken with memory.grow) the Go runtime's own
// allocator also hands out (it assumes it owns all memory above its data;
// docs/components.md); larger programs may trip the adapter's state check.
func TestComponentArgsAndEnv(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newComponentBundle(t, "probe", "args")
	want := []string{"/app.wasm", "args", "echo", "two words"}
	b.edit(func(s *specs.Spec) { s.Process.Args = want })
	res := r.mustRun("run", "-b", b.dir, "args")
	var args []string
	first, _, _ := strings.Cut(res.stdout, "\n")
	if err := json.Unmarshal([]byte(first), &args); err != nil || !reflect.DeepEqual(args, want) {
		t.Errorf("args: %v (%v), want %q", res, err, want)
	}

	b.edit(func(s *specs.Spec) {
		s.Process.Args = []string{"/app.wasm", "env"}
		s.Process.Env = []string{"A=1", "B=two words", "EMPTY="}
	})
	res = r.mustRun("run", "-b", b.dir, "env")
	var env []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(res.stdout)), &env); err != nil || !reflect.DeepEqual(env, []string{"A=1", "B=two words", "EMPTY="}) {
		t.Errorf("env: %v (%v), want exactly the spec's", res, err)
	}

	b.edit(func(s *specs.Spec) { s.Process.Env = nil })
	if res = r.mustRun("run", "-b", b.dir, "noenv"); strings.TrimSpace(res.stdout) != "[]" {
		t.Errorf("no env in the spec: %v, want an empty environment, never the host's", res)
	}
	r.assertRootEmpty()
}

// Directory mounts are WASI 0.2 preopens: read-only where the mount says
// ro, writable otherwise; the rootfs is "/".
func TestComponentMounts(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	ro, rw := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "f"), []byte("read-only data"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newComponentBundle(t, "probe")
	b.writeFile("etc/motd", "from the rootfs")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"cat", "/etc/motd"}, "from the rootfs"},
		{[]string{"cat", "/ro/f"}, "read-only data"},
		{[]string{"write", "/ro/x", "no"}, "ERR "},
		{[]string{"write", "/rw/y", "yes"}, "OK"},
	}
	for _, c := range cases {
		b.edit(func(s *specs.Spec) {
			s.Process.Args = append([]string{"/app.wasm"}, c.args...)
			s.Mounts = []specs.Mount{bindMount("/ro", ro, "rbind", "ro"), bindMount("/rw", rw, "rbind", "rw")}
		})
		res := r.mustRun("run", "-b", b.dir, "mounts")
		if !strings.HasPrefix(res.stdout, c.want) {
			t.Errorf("%v: %v, want stdout starting %q", c.args, res, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(ro, "x")); err == nil {
		t.Errorf("the component wrote into a read-only mount")
	}
	if got, err := os.ReadFile(filepath.Join(rw, "y")); err != nil || string(got) != "yes" {
		t.Errorf("rw mount holds %q (%v), want %q", got, err, "yes")
	}
	r.assertRootEmpty()
}

// File grants reach a component inside its "/" (WASI 0.2 preopens only
// directories): a file bind mount reads as the host's file, not as the
// empty mount point in the image (what a component read until December:
// podman's /etc/hosts and /etc/resolv.conf were empty to it), a read-only
// one refuses writes, and /dev/urandom gives random bytes. The copy of
// the root it gets has no /proc in it (the init binds the container's
// there for the engines afterwards).
func TestComponentFileGrants(t *testing.T) {
	needsRoot(t, "a mount namespace")
	t.Parallel()
	r := newRunw(t)
	cfg, ro := fileGrantSources(t, false)
	// A read-only volume whose source has a mount of its own beneath it,
	// reached from "/" through a link in the image: read-only all the
	// way down (a component's "/" is a recursive copy of the root).
	vol := t.TempDir()
	if err := os.Mkdir(filepath.Join(vol, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", filepath.Join(vol, "sub"), "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(filepath.Join(vol, "sub"), syscall.MNT_DETACH) })
	b := newComponentBundle(t, "probe")
	if err := os.Symlink("data/sub", filepath.Join(b.rootfs, "dlink")); err != nil {
		t.Fatal(err)
	}
	// One operation a run: the Go probe under jco's adapter trips the
	// adapter's state check on a second os.ReadFile (docs/components.md,
	// "Go guests under jco's preview1 adapter"), with or without mounts.
	cases := append(fileGrantCases(), []fileGrantCase{
		{[]string{"readn", "/dev/urandom", "64"}, "OK n=64 "},
		{[]string{"write", "/dlink/x", "no"}, "ERR "},
	}...)
	for _, c := range cases {
		b.edit(func(s *specs.Spec) {
			s.Process.Args = append([]string{"/app.wasm"}, c.args...)
			ownMountAndPID(s)
			s.Mounts = []specs.Mount{bindMount("/etc/cfg", cfg, "bind", "rw"), bindMount("/etc/ro", ro, "bind", "ro"), bindMount("/data", vol, "rbind", "ro")}
		})
		res := r.mustRun("run", "-b", b.dir, "cfiles")
		if !strings.HasPrefix(res.stdout, c.want) {
			t.Errorf("%v: stdout %q, want it to start %q", c.args, res.stdout, c.want)
			continue
		}
		var zeros int
		if c.args[0] == "readn" {
			if _, err := fmt.Sscanf(res.stdout, "OK n=64 zeros=%d", &zeros); err != nil || zeros > 8 {
				t.Errorf("/dev/urandom: %q, want 64 bytes, nearly none zero", res.stdout)
			}
		}
	}
	checkFileGrantSources(t, cfg, ro)
	if _, err := os.Stat(filepath.Join(vol, "sub", "x")); err == nil {
		t.Errorf("the component wrote under a read-only volume's submount")
	}
	r.assertRootEmpty()
}

// fileGrantSources writes the sources of the file-grant tests' two file
// bind mounts, /etc/cfg (read-write) and /etc/ro (read-only); with
// userns they belong to the container's root (userNamespaceLinux's host
// uid 200000), which can reach them.
func fileGrantSources(t *testing.T, userns bool) (cfg, ro string) {
	t.Helper()
	dir := t.TempDir()
	cfg, ro = filepath.Join(dir, "cfg"), filepath.Join(dir, "ro")
	for file, text := range map[string]string{cfg: "from the host\n", ro: "read-only\n"} {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if userns {
			if err := os.Chown(file, 200000, 200000); err != nil {
				t.Fatal(err)
			}
		}
	}
	if userns {
		traversable(t, dir)
	}
	return cfg, ro
}

// fileGrantCase is a probe command and how its output starts.
type fileGrantCase struct {
	args []string
	want string
}

// fileGrantCases read both file grants, write each (the read-only one
// refuses) and try the container's /proc, which a component's "/" lacks.
func fileGrantCases() []fileGrantCase {
	return []fileGrantCase{
		{[]string{"cat", "/etc/cfg"}, "from the host\n"},
		{[]string{"cat", "/etc/ro"}, "read-only\n"},
		{[]string{"write", "/etc/ro", "no"}, "ERR "},
		{[]string{"write", "/etc/cfg", "changed\n"}, "OK"},
		{[]string{"cat", "/proc/self/status"}, "ERR "},
	}
}

// checkFileGrantSources checks the host's files after fileGrantCases:
// the read-write one holds what the guest wrote, the read-only one is
// unchanged.
func checkFileGrantSources(t *testing.T, cfg, ro string) {
	t.Helper()
	if got, _ := os.ReadFile(cfg); string(got) != "changed\n" {
		t.Errorf("the host's file holds %q after the component wrote its bind mount, want %q", got, "changed\n")
	}
	if got, _ := os.ReadFile(ro); string(got) != "read-only\n" {
		t.Errorf("the read-only bind mount's file holds %q", got)
	}
}

// A component exec'd into a running container gets what the init's
// component gets: the container's root as "/", with the file grants bound
// in it (a file bind mount reads as the host's file, a read-only one
// refuses writes) and without the container's /proc, which the init binds
// there for the engines (wasmtime's WASI 0.2 crosses into whatever is
// mounted below a preopen). Until December an exec'd component read the
// image's empty mount point at every file bind. Taking /proc out of its
// copy leaves the container's own /proc where it is.
func TestComponentExecRoot(t *testing.T) {
	needsRoot(t, "a mount namespace")
	t.Parallel()
	for _, userns := range []bool{false, true} {
		name := map[bool]string{false: "own mount and pid namespaces", true: "user namespace"}[userns]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			componentExecRoot(t, userns)
		})
	}
}

func componentExecRoot(t *testing.T, userns bool) {
	r := newRunw(t)
	cfg, ro := fileGrantSources(t, userns)
	b := newComponentBundle(t, "probe", "sleep", "30s")
	b.edit(func(s *specs.Spec) {
		if userns {
			s.Linux = userNamespaceLinux()
		} else {
			ownMountAndPID(s)
		}
		s.Mounts = []specs.Mount{bindMount("/etc/cfg", cfg, "bind", "rw"), bindMount("/etc/ro", ro, "bind", "ro")}
	})
	if userns {
		traversable(t, b.rootfs)
	}
	bg, pid := runInBackground(t, r, b, "cexec")
	defer r.killRun(t, bg, "cexec", 20*time.Second)
	for _, c := range fileGrantCases() {
		res := r.mustRun(append([]string{"exec", "cexec", "/app.wasm"}, c.args...)...)
		if !strings.HasPrefix(res.stdout, c.want) {
			t.Errorf("exec %v: stdout %q, want it to start %q", c.args, res.stdout, c.want)
		}
	}
	checkFileGrantSources(t, cfg, ro)
	// The container's mount namespace still has its /proc (the init's
	// pid namespace: its pid 1 is the init).
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/root/proc/1/status", pid)); err != nil {
		t.Errorf("the container's /proc after the execs: %v", err)
	}
}

// process.user is who the component is when it opens files, as for a
// module: a root-only file in a mount is refused, and what it writes
// (in a mount and in a private tmpfs) belongs to its uid.
func TestComponentProcessUser(t *testing.T) {
	t.Parallel()
	needsRoot(t, "changes uid")
	r := newRunw(t)
	vol := secretVolume(t)
	b := newComponentBundle(t, "probe", "cat", "/v/shadow", "write", "/v/new", "x")
	b.edit(func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Mounts = append(s.Mounts, bindMount("/v", vol, "rbind", "rw"))
	})
	res := r.mustRun("run", "--bundle", b.dir, "user")
	if strings.Contains(res.stdout, "topsecret") || !strings.HasPrefix(res.stdout, "ERR") {
		t.Fatalf("component as uid 1000 read a root-only file: %v", res)
	}
	fi, err := os.Stat(filepath.Join(vol, "new"))
	if err != nil {
		t.Fatalf("component could not write its own file: %v (%v)", err, res)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("file written as %d:%d, want 1000:1000", st.Uid, st.Gid)
	}
}

// Exit statuses: a return and exit(ok) give 0, exit(err) gives 1 (jco's
// adapter maps every nonzero proc_exit to it), exit-with-code gives its
// code, a trap 134 with the trap on stderr.
func TestComponentExitStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		component string
		args      []string
		code      int
		stdout    string
		stderr    string
	}{
		{"hello returns", "hello", nil, 0, "Hello from a WebAssembly container!\n", ""},
		{"exit 0", "probe", []string{"echo", "x", "exit", "0"}, 0, "x\n", ""},
		{"exit 7 is exit(err)", "probe", []string{"exit", "7"}, 1, "", ""},
		{"exit-with-code 42", "exitcode", nil, 42, "", ""},
		{"trap", "trap", nil, 134, "", "unreachable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			b := newComponentBundle(t, c.component, c.args...)
			res := r.run("run", "-b", b.dir, "exit")
			if res.code != c.code || (c.stdout != "" && res.stdout != c.stdout) || !strings.Contains(res.stderr, c.stderr) {
				t.Errorf("%v, want exit %d, stdout %q, stderr with %q", res, c.code, c.stdout, c.stderr)
			}
			r.assertRootEmpty()
		})
	}
}

// A component in the text format runs as given, as a text module does:
// runw assembles it (no jco needed), runs it under WASI 0.2 with its exit
// code, and caches the compiled component like a binary one.
func TestComponentText(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "component/exitcode.wat")
	for _, id := range []string{"cold", "warm"} {
		if res := r.run("run", "-b", b.dir, id); res.code != 42 {
			t.Errorf("runw run of a text component (%s cache): %v, want exit 42", id, res)
		}
	}
	res := r.run("compile", filepath.Join(b.rootfs, "exitcode.wat"))
	if res.code != 0 || !strings.Contains(res.stdout, "cached") {
		t.Errorf("runw compile of the text component after two runs: %v, want it cached", res)
	}
	r.assertRootEmpty()
}

// A memory minimum the container's memory limit itself allows, but not
// what the limit leaves the guest beside runw's init, is refused saying
// so, for a component (whose instantiation runs at start, so a trap) as
// for a module (refused at create). A component reported only wasmtime's
// "memory minimum size of 160 pages exceeds memory limits" under a 12 MiB
// limit, which read as wrong.
func TestMemoryMinimumBeyondTheCapSaysWhy(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	const want = "the memory limit of 12 MiB leaves the guest 6 MiB of linear memory (the rest is kept for runw's init)"
	for _, c := range []struct {
		guest string
		code  int
	}{{"component/bigmemory.wat", 134}, {"wat/bigmemory.wat", 1}} {
		b := newBundle(t, c.guest)
		b.edit(memoryLimit(12 << 20))
		res := r.run("run", "-b", b.dir, "bigmem")
		if res.code != c.code || !strings.Contains(res.stderr, want) {
			t.Errorf("%s under a 12 MiB limit: %v, want exit %d saying %q", c.guest, res, c.code, want)
		}
		r.run("delete", "-f", "bigmem")
	}
	// A binary module's minimum is read at create, and refused there in
	// the same words before any compile or init: a large module's
	// artifact loaded under a few MiB had its init killed by the OOM
	// killer before instantiation said why (clang's, 277 MB, under 6 MiB),
	// after a cold compile of a minute.
	wasm, err := wasmtime.Wat2Wasm(`(module (memory (export "memory") 160) (func (export "_start")))`)
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe")
	b.writeFile("probe.wasm", string(wasm))
	b.edit(memoryLimit(12 << 20))
	log := filepath.Join(t.TempDir(), "log")
	res := r.run("--debug", "--log", log, "run", "-b", b.dir, "bigbinary")
	if res.code != 1 || !strings.Contains(res.stderr, want+": memory minimum size of 160 pages exceeds memory limits") {
		t.Errorf("a binary module of 160 pages under a 12 MiB limit: %v, want exit 1 saying %q", res, want)
	}
	oneLine(t, "bigbinary", res.stderr)
	if l, _ := os.ReadFile(log); strings.Contains(string(l), "compile child") || strings.Contains(string(l), "spawning init") {
		t.Errorf("a module its memory limit cannot hold was compiled or given an init:\n%s", l)
	}
	// The same module cut short is refused for what it is, by its
	// compile, not blamed on the limit.
	b.writeFile("probe.wasm", string(wasm[:len(wasm)-1]))
	res = r.run("run", "-b", b.dir, "cutbinary")
	if res.code != 1 || strings.Contains(res.stderr, "memory limits") || !strings.Contains(res.stderr, "failed to parse") {
		t.Errorf("a truncated module under a 12 MiB limit: %v, want its parse error", res)
	}
	r.assertRootEmpty()
}

// `runw kill` ends a component spinning in wasm code (the init exits
// around it), with 128+signal, through create/start/kill/delete.
func TestComponentKillLoop(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newComponentBundle(t, "probe", "spin")
	r.mustRun("create", "-b", b.dir, "spinner")
	r.mustRun("start", "spinner")
	st := r.waitStatus("spinner", "running", 20*time.Second)
	time.Sleep(200 * time.Millisecond)
	r.mustRun("kill", "spinner", "TERM")
	waitGone(t, st.Pid, 5*time.Second)
	r.waitStatus("spinner", "stopped", 5*time.Second)
	r.mustRun("delete", "spinner")

	bg, _ := runInBackground(t, r, b, "spinrun")
	r.mustRun("kill", "spinrun", "TERM")
	if res := bg.wait(t, 10*time.Second); res.code != 143 {
		t.Errorf("runw run of a killed component: %v, want exit 143", res)
	}

	// Blocked in one of wasmtime's WASI 0.2 calls, the component is not
	// woken either: the init ends it the same way, still 143.
	b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/app.wasm", "sleep", "60s"} })
	bg, _ = runInBackground(t, r, b, "sleeper")
	start := time.Now()
	r.mustRun("kill", "sleeper", "TERM")
	res := bg.wait(t, 10*time.Second)
	if res.code != 143 || time.Since(start) > 5*time.Second {
		t.Errorf("kill of a sleeping component: %v after %v, want exit 143 at once", res, time.Since(start))
	}
	t.Logf("a sleeping component ended %v after kill", time.Since(start))
	r.assertRootEmpty()
}

// A component's init holds one tokio worker thread (wasmtime's WASI 0.2
// runtime), not one per CPU: on a large node every idle component
// container held a thread per core, and a small pids.limit could make
// the runtime's build fail.
func TestComponentOneTokioWorker(t *testing.T) {
	t.Parallel()
	if goruntime.NumCPU() < 2 {
		t.Skip("one CPU: tokio's default is one worker here too")
	}
	r := newRunw(t)
	b := newComponentBundle(t, "probe", "echo", "up", "sleep", "60s")
	bg, _ := runInBackground(t, r, b, "tokio")
	st := r.waitStatus("tokio", "running", 20*time.Second)
	// A worker names itself once it runs: under load that can be after
	// the guest's output. So the count is read once a worker is seen,
	// and again a moment later, when a second would have named itself.
	workers := -1
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out, _ := os.ReadFile(bg.stdout.Name()); !strings.Contains(string(out), "up") {
			continue
		}
		if workers = threadsNamed(t, st.Pid, "tokio-runtime-w"); workers > 0 {
			time.Sleep(500 * time.Millisecond)
			workers = threadsNamed(t, st.Pid, "tokio-runtime-w")
			break
		}
	}
	if workers != 1 {
		t.Errorf("component init has %d tokio worker threads with %d CPUs, want 1 (-1: the guest never printed)", workers, goruntime.NumCPU())
	}
	r.mustRun("kill", "tokio", "KILL")
	bg.wait(t, 10*time.Second)
}

// threadsNamed counts the threads of pid whose comm is name.
func threadsNamed(t *testing.T, pid int, name string) int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/comm", pid, task.Name()))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			n++
		}
	}
	return n
}

// A component is compiled once: create fills the cache (its key marks a
// component), `runw cache ls` lists it, and the next run or `runw
// compile` finds it there.
func TestComponentCache(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	r.cache = t.TempDir()
	os.Chmod(r.cache, 0o700)
	b := newComponentBundle(t, "hello")
	r.mustRun("run", "-b", b.dir, "first")
	ls := r.mustRun("cache", "ls")
	if n := len(strings.Split(strings.TrimSpace(ls.stdout), "\n")); n != 2 {
		t.Fatalf("cache ls after one component run: %q, want one entry", ls.stdout)
	}
	start := time.Now()
	res := r.mustRun("run", "-b", b.dir, "second")
	t.Logf("second run (cache warm): %v", time.Since(start))
	if res.stdout != "Hello from a WebAssembly container!\n" {
		t.Errorf("second run: %v", res)
	}
	c := r.mustRun("compile", filepath.Join(b.rootfs, "app.wasm"))
	if !strings.Contains(c.stdout, "\tcached\t") {
		t.Errorf("runw compile after a run: %q, want cached", c.stdout)
	}
	if ls2 := r.mustRun("cache", "ls"); len(strings.Split(strings.TrimSpace(ls2.stdout), "\n")) != 2 {
		t.Errorf("cache ls after a warm run: %q, want still one entry", ls2.stdout)
	}
}

// A wasi:http proxy component is refused at create, in one line naming
// the world.
func TestComponentProxyRefused(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newComponentBundle(t, "proxy")
	res := r.run("create", "-b", b.dir, "proxy")
	if res.code == 0 || !strings.Contains(res.stderr, "wasi:http proxy world") {
		t.Fatalf("create of a proxy component: %v, want a refusal naming the wasi:http proxy world", res)
	}
	oneLine(t, "create error", res.stderr)
	r.assertRootEmpty()
}

// A component written in JavaScript (componentize-js, no wasi:http) runs
// and prints. Its first run compiles 12 MB of StarlingMonkey: 41 s on a
// quiet machine here, more than a minute beside the other tests.
func TestComponentJavaScript(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newComponentBundle(t, "js")
	res := r.start("run", "-b", b.dir, "js").wait(t, 5*time.Minute)
	if res.code != 0 || res.stdout != "hello from a JavaScript component\n" {
		t.Errorf("%v, want the JavaScript component's greeting", res)
	}
}

// `runw features` says components are supported.
func TestFeaturesSayComponents(t *testing.T) {
	res := newRunw(t).mustRun("features")
	var f struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &f); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.Annotations["io.github.runw.wasm.components"], "wasi:cli/run") {
		t.Errorf("features annotations %v: no io.github.runw.wasm.components naming wasi:cli/run", f.Annotations)
	}
}

// TestComponentHoldsOneRootCopy: a component under its own mount
// namespace is first granted a copy of the rootfs alone, then given the
// container's root in its place (TakeRoot). The first copy's descriptors
// stayed open, unused, for the container's life; now the init holds the
// copy it uses and nothing of the other.
func TestComponentHoldsOneRootCopy(t *testing.T) {
	needsRoot(t, "a mount namespace")
	t.Parallel()
	r := newRunw(t)
	b := newComponentBundle(t, "probe")
	b.edit(func(s *specs.Spec) {
		s.Process.Args = []string{"/app.wasm", "sleep", "30s"}
		ownMountAndPID(s)
	})
	bg, pid := runInBackground(t, r, b, "croot")
	defer func() {
		r.killRun(t, bg, "croot", 20*time.Second)
	}()
	var root syscall.Stat_t
	if err := syscall.Stat(b.rootfs, &root); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for _, e := range fds {
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()), &st) == nil && st.Dev == root.Dev && st.Ino == root.Ino {
			copies++
		}
	}
	// The copy's directory and its mount tree (runw's), and wasmtime's
	// own descriptor of the directory.
	if copies > 3 {
		t.Errorf("the component's init holds %d descriptors of the rootfs's root; want at most 3", copies)
	}
	if copies == 0 {
		t.Errorf("the component's init holds no descriptor of the rootfs's root")
	}
}

// A component given listeners (RUNW_LISTEN, or the annotation) is refused
// at create with one line, as --preserve-fds is: it has no network, and
// it ran with nothing bound and no word of it.
func TestComponentListenersRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for the network namespace")
	}
	netns := testNetns(t)
	for _, c := range []struct {
		name string
		env  []string
		ann  map[string]string
	}{
		{"RUNW_LISTEN", []string{"RUNW_LISTEN=:8080"}, nil},
		{"annotation", nil, map[string]string{"io.github.runw.net.listeners": "8080"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRunw(t)
			b := netBundle(t, componentOf(t, "exitcode"))
			b.inNetns(netns, c.env, c.ann)
			res := r.run("run", "-b", b.dir, "listeners")
			if res.code != 1 || !strings.Contains(res.stderr, "a WASI 0.2 component cannot be given them") {
				t.Errorf("run: %v, want exit 1 and the refusal", res)
			}
			oneLine(t, "stderr", res.stderr)
			r.assertRootEmpty()
		})
	}
	// Without listeners the same component runs (exit 42 is its own).
	r := newRunw(t)
	b := netBundle(t, componentOf(t, "exitcode"))
	b.inNetns(netns, nil, nil)
	if res := r.run("run", "-b", b.dir, "plain"); res.code != 42 {
		t.Errorf("run without listeners: %v, want exit 42", res)
	}
}

// TestComponentSeesTheContainersMounts: a component's directory grants
// come from the copy of the container's root, where the spec's masked
// and read-only paths and file binds inside a volume lie over the volume
// as under runc. Its /rw preopen was opened from the volume's host source
// and showed a masked file's content and let a read-only file be written.
// With a read-only root, "/" leaves writes to the kernel's read-only
// mounts: a link from the image into a writable volume and a writable
// file bind reach their mounts (wasmtime's read-only "/" answered EPERM),
// while the rootfs itself still refuses every write.
func TestComponentSeesTheContainersMounts(t *testing.T) {
	needsRoot(t, "a mount namespace")
	t.Parallel()
	r := newRunw(t)
	vol, cfg := t.TempDir(), filepath.Join(t.TempDir(), "cfg")
	for f, text := range map[string]string{"secret": "masked content", "rofile": "read-only content"} {
		if err := os.WriteFile(filepath.Join(vol, f), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(cfg, []byte("cfg"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newComponentBundle(t, "probe")
	if err := os.Symlink("rw", filepath.Join(b.rootfs, "lnk")); err != nil {
		t.Fatal(err)
	}
	// One operation a run (the Go probe under jco's adapter:
	// TestComponentFileGrants says why).
	cases := []fileGrantCase{
		{[]string{"cat", "/rw/secret"}, ""},
		{[]string{"write", "/rw/rofile", "changed"}, "ERR "},
		{[]string{"write", "/lnk/through-link", "yes"}, "OK"},
		{[]string{"write", "/etc/cfg", "written"}, "OK"},
		{[]string{"write", "/in-rootfs", "no"}, "ERR "},
	}
	for _, c := range cases {
		b.edit(func(s *specs.Spec) {
			s.Process.Args = append([]string{"/app.wasm"}, c.args...)
			ownMountAndPID(s)
			s.Root.Readonly = true
			s.Linux.MaskedPaths = []string{"/rw/secret"}
			s.Linux.ReadonlyPaths = []string{"/rw/rofile"}
			s.Mounts = []specs.Mount{bindMount("/rw", vol, "rbind", "rw"), bindMount("/etc/cfg", cfg, "bind", "rw")}
		})
		res := r.mustRun("run", "-b", b.dir, "cmounts")
		if c.want == "" && res.stdout != "" || !strings.HasPrefix(res.stdout, c.want) {
			t.Errorf("%v: stdout %q, want it to start %q", c.args, res.stdout, c.want)
		}
	}
	for f, want := range map[string]string{filepath.Join(vol, "rofile"): "read-only content", filepath.Join(vol, "through-link"): "yes", cfg: "written"} {
		if got, _ := os.ReadFile(f); string(got) != want {
			t.Errorf("%s holds %q, want %q", f, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(b.rootfs, "in-rootfs")); err == nil {
		t.Error("the component wrote into the read-only rootfs")
	}
	r.assertRootEmpty()
}

// TestComponentMasksNeedAMountNamespace: without a mount namespace of
// its own a component cannot be held to masked or read-only paths (the
// kernel's masks live in one; its "/" preopen reached a masked file as
// "/./secret"), so create refuses it in runc's words, which runc gives
// every container so configured; a module, whose host holds them, runs.
func TestComponentMasksNeedAMountNamespace(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newComponentBundle(t, "probe", "echo", "hi")
	b.writeFile("secret", "masked content")
	b.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{MaskedPaths: []string{"/secret"}} })
	res := r.run("run", "-b", b.dir, "nomnt")
	if res.code != 1 || strings.TrimSpace(res.stderr) != "unable to restrict sys entries without a private MNT namespace" {
		t.Errorf("a component with a masked path and no mount namespace: %v; want exit 1 and runc's refusal", res)
	}
	r.assertRootEmpty()
	m := newBundle(t, "probe", "cat", "/secret")
	m.writeFile("secret", "masked content")
	m.edit(func(s *specs.Spec) { s.Linux = &specs.Linux{MaskedPaths: []string{"/secret"}} })
	if res := r.mustRun("run", "-b", m.dir, "nomnt-module"); res.stdout != "" {
		t.Errorf("the module read the masked file: %q", res.stdout)
	}
}
