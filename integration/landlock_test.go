package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// probeBin is runw built with the runw_sandboxprobe tag: after the
// sandbox is applied its init makes the native system calls a guest that
// escaped wasmtime would make (runtime/sandbox_probe.go). Built once, on
// first use, never by the Makefile.
var probeBin = sync.OnceValues(func() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(root, "build", "runw-probe")
	cmd := exec.Command("go", "build", "-tags", "runw_sandboxprobe", "-o", out, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", &exec.ExitError{Stderr: b}
	}
	return out, nil
})

// landlockABI is `runw features`' Landlock entry ("abi N", or why not).
func landlockABI(t *testing.T) string {
	t.Helper()
	res := newRunw(t).mustRun("features")
	var f features.Features
	if err := json.Unmarshal([]byte(res.stdout), &f); err != nil {
		t.Fatal(err)
	}
	return f.Annotations["io.github.runw.landlock"]
}

// requireLandlock skips the test unless the kernel has Landlock, and
// returns runw's "abi N" entry for it.
func requireLandlock(t *testing.T) string {
	t.Helper()
	abi := landlockABI(t)
	if !strings.HasPrefix(abi, "abi ") {
		t.Skipf("no Landlock here: %s", abi)
	}
	return abi
}

// requireLandlockABI skips unless the kernel's Landlock is at least ABI
// min, which brought feature.
func requireLandlockABI(t *testing.T, min int, feature string) {
	t.Helper()
	abi := requireLandlock(t)
	if n, _ := strconv.Atoi(strings.Fields(strings.TrimPrefix(abi, "abi "))[0]); n < min {
		t.Skipf("Landlock %s has no %s (ABI %d)", abi, feature, min)
	}
}

// mustProbeBin is probeBin, failing the test when it cannot be built.
func mustProbeBin(t *testing.T) string {
	t.Helper()
	bin, err := probeBin()
	if err != nil {
		t.Fatalf("build the probe runw: %v", err)
	}
	return bin
}

// sandboxScene is a container with one grant of each kind and a host
// directory outside all of them, and the probes an escaped guest makes.
type sandboxScene struct {
	b                       *bundle
	outside, ro, rw, roFile string
	// forbidden and allowed are "OP PATH" probes.
	forbidden, allowed []string
}

func newSandboxScene(t *testing.T) *sandboxScene {
	s := &sandboxScene{outside: t.TempDir(), ro: t.TempDir(), rw: t.TempDir()}
	write := func(p, content string) {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(s.outside, "secret"), "host-secret")
	write(filepath.Join(s.ro, "r"), "ro-data")
	s.roFile = filepath.Join(t.TempDir(), "hosts")
	write(s.roFile, "127.0.0.1 localhost\n")

	// The guest itself works through its grants as usual.
	s.b = newBundle(t, "probe", "cat", "/ro/r", "write", "/rw/by-guest", "x", "cat", "/etc/hosts")
	s.forbidden = []string{
		"read " + filepath.Join(s.outside, "secret"), // a host file outside every grant
		"list " + s.outside,
		"read /etc/passwd",
		"write " + filepath.Join(s.ro, "r"), // a write into a read-only grant
		"create " + filepath.Join(s.ro, "new"),
		"mkdir " + filepath.Join(s.ro, "dir"),
		"write " + s.roFile, // a read-only file grant
	}
	s.allowed = []string{
		"read " + filepath.Join(s.ro, "r"), // a read in a read-only grant
		"list " + s.ro,
		"create " + filepath.Join(s.rw, "new"), // a create in a read-write grant
		"mkdir " + filepath.Join(s.rw, "dir"),
		"read " + s.roFile,
		"create " + filepath.Join(s.b.rootfs, "made"), // the rootfs is read-write
		"write /dev/null",                             // a default device
	}
	var probes []string
	for _, p := range append(append([]string(nil), s.forbidden...), s.allowed...) {
		op, path, _ := strings.Cut(p, " ")
		probes = append(probes, op+":"+path)
	}
	s.b.edit(func(sp *specs.Spec) {
		sp.Process.Env = []string{"RUNW_SANDBOX_PROBE=" + strings.Join(probes, ";")}
		sp.Mounts = append(sp.Mounts,
			bindMount("/ro", s.ro, "rbind", "ro"),
			bindMount("/rw", s.rw, "rbind", "rw"),
			bindMount("/etc/hosts", s.roFile, "rbind", "ro"))
	})
	return s
}

// probeResults reads the init's "sandbox-probe OP PATH: RESULT" lines.
func probeResults(stderr string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(stderr, "\n") {
		rest, ok := strings.CutPrefix(line, "sandbox-probe ")
		if !ok {
			continue
		}
		if i := strings.LastIndex(rest, ": "); i > 0 {
			out[rest[:i]] = rest[i+2:]
		}
	}
	return out
}

// TestKernelEnforcesGrants: the init confines itself with Landlock, so
// that a guest that escaped wasmtime into native code in the init still
// reaches only its grants: a host file outside them cannot be opened, a
// read-only grant cannot be written, while reads and a create where the
// grants allow them succeed. The control run, with the sandbox off in the
// test build, shows the same native calls succeed without it.
func TestKernelEnforcesGrants(t *testing.T) {
	t.Parallel()
	requireLandlock(t)
	bin := mustProbeBin(t)

	s := newSandboxScene(t)
	r := newRunw(t)
	r.bin = bin
	res := r.run("run", "--bundle", s.b.dir, "sandboxed")
	t.Logf("sandboxed: %v", res)
	if res.code != 0 || res.stdout != "ro-data"+"OK\n"+"127.0.0.1 localhost\n" {
		t.Fatalf("the guest's own access through its grants broke: %v", res)
	}
	got := probeResults(res.stderr)
	for _, p := range s.forbidden {
		if got[p] != "EACCES" && got[p] != "EPERM" {
			t.Errorf("native %s under the sandbox: %q, want EACCES or EPERM", p, got[p])
		}
	}
	for _, p := range s.allowed {
		if got[p] != "ok" {
			t.Errorf("native %s under the sandbox: %q, want ok", p, got[p])
		}
	}
	if b, _ := os.ReadFile(filepath.Join(s.ro, "r")); string(b) != "ro-data" {
		t.Errorf("read-only grant written: %q", b)
	}

	ctl := newSandboxScene(t)
	ctl.b.edit(func(sp *specs.Spec) { sp.Process.Env = append(sp.Process.Env, "RUNW_SANDBOX_OFF=1") })
	res = r.run("run", "--bundle", ctl.b.dir, "control")
	t.Logf("control: %v", res)
	if !strings.Contains(res.stderr, "sandbox-probe: sandbox off") {
		t.Fatalf("the control run did not turn the sandbox off: %v", res)
	}
	got = probeResults(res.stderr)
	for _, p := range append(append([]string(nil), ctl.forbidden...), ctl.allowed...) {
		if got[p] != "ok" {
			t.Errorf("native %s without the sandbox: %q, want ok (the probe itself is wrong)", p, got[p])
		}
	}
}

// TestShippedBuildHasNoSandboxProbe: the probes and the switch that turns
// the sandbox off exist only in the test build; the runw under test
// ignores them.
func TestShippedBuildHasNoSandboxProbe(t *testing.T) {
	t.Parallel()
	s := newSandboxScene(t)
	s.b.edit(func(sp *specs.Spec) { sp.Process.Env = append(sp.Process.Env, "RUNW_SANDBOX_OFF=1") })
	res := newRunw(t).run("run", "--bundle", s.b.dir, "shipped")
	if res.code != 0 || strings.Contains(res.stderr, "sandbox-probe") {
		t.Fatalf("want a plain run, got %v", res)
	}
	if _, err := os.Stat(filepath.Join(s.rw, "new")); err == nil {
		t.Fatal("the shipped runw ran a probe")
	}
}

// TestLandlockedInitTrapsAndGrows: after the init confined itself, neither
// wasmtime reporting a trap nor the guest growing its memory by a GiB
// needs any file the sandbox withholds.
func TestLandlockedInitTrapsAndGrows(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	res := r.run("run", "--bundle", newBundle(t, "wat/trap.wat").dir, "trap")
	if res.code != 134 || !strings.Contains(res.stderr, "unreachable") {
		t.Errorf("trap: %v", res)
	}
	res = r.run("run", "--bundle", newBundle(t, "probe", "alloc", "1024", "echo", "grown").dir, "grow")
	if res.code != 0 || res.stdout != "OK\ngrown\n" {
		t.Errorf("memory growth: %v", res)
	}
}

// TestKernelEnforcesGrantsOnExec: a process exec'd into the container is
// a new init with the same grants, and confines itself the same way.
func TestKernelEnforcesGrantsOnExec(t *testing.T) {
	t.Parallel()
	requireLandlock(t)
	bin := mustProbeBin(t)
	s := newSandboxScene(t)
	s.b.edit(func(sp *specs.Spec) { sp.Process.Args = []string{"/probe.wasm", "sleep", "1h"} })
	r := newRunw(t)
	r.bin = bin
	r.mustRun("run", "--detach", "--bundle", s.b.dir, "host")
	want := map[string]string{
		"read " + filepath.Join(s.outside, "secret"): "EACCES",
		"write " + filepath.Join(s.ro, "r"):          "EACCES",
		"create " + filepath.Join(s.rw, "by-exec"):   "ok",
	}
	var probes []string
	for p := range want {
		op, path, _ := strings.Cut(p, " ")
		probes = append(probes, op+":"+path)
	}
	res := r.run("exec", "--env", "RUNW_SANDBOX_PROBE="+strings.Join(probes, ";"), "host", "/probe.wasm", "echo", "exec'd")
	t.Logf("exec: %v", res)
	if res.code != 0 || res.stdout != "exec'd\n" {
		t.Fatalf("exec: %v", res)
	}
	got := probeResults(res.stderr)
	for p, w := range want {
		if got[p] != w && !(w == "EACCES" && got[p] == "EPERM") {
			t.Errorf("native %s in the exec'd process: %q, want %s", p, got[p], w)
		}
	}
	r.mustRun("delete", "--force", "host")
}

// TestDebugLogSaysLandlock: --debug tells whether the init runs confined
// by Landlock, and with which ABI, or why not.
func TestDebugLogSaysLandlock(t *testing.T) {
	t.Parallel()
	abi := landlockABI(t)
	log := filepath.Join(t.TempDir(), "runw.log")
	r := newRunw(t)
	r.mustRun("--debug", "--log", log, "run", "--bundle", newBundle(t, "probe", "echo", "hi").dir, "dbg")
	b, _ := os.ReadFile(log)
	want := "Landlock unavailable"
	if strings.HasPrefix(abi, "abi ") {
		// The default devices: null, zero, full, random, urandom, and
		// tty where the host has it.
		files := 5
		if fi, err := os.Stat("/dev/tty"); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			files++
		}
		want = fmt.Sprintf("Landlock ABI %s: restricted to 1 directory and %d file grants", strings.TrimPrefix(abi, "abi "), files)
	}
	if !strings.Contains(string(b), want) {
		t.Fatalf("debug log lacks %q:\n%s", want, b)
	}
}

// TestKernelEnforcesNetworkGrant: with the network grant narrowed by
// annotation, Landlock's TCP rules refuse a native connect or bind to a
// port outside it (EACCES), while a port inside it reaches the kernel's
// TCP code (ECONNREFUSED: nothing listens in the test's own network
// namespace). The control run without the sandbox reaches TCP for all.
func TestKernelEnforcesNetworkGrant(t *testing.T) {
	t.Parallel()
	requireLandlockABI(t, 4, "TCP rules")
	bin := mustProbeBin(t)
	netns := testNetnsLoUp(t)
	probes := map[string]string{
		"connect 127.0.0.1:7001": "ECONNREFUSED", // inside io.github.runw.net.connect
		"connect 127.0.0.1:7002": "EACCES",
		"bind 127.0.0.1:7101":    "ok", // inside io.github.runw.net.listen
		"bind 127.0.0.1:7102":    "EACCES",
	}
	scene := func(name string, off bool) *bundle {
		b := newBundle(t, "hello")
		var list []string
		for p := range probes {
			op, addr, _ := strings.Cut(p, " ")
			list = append(list, op+":"+addr)
		}
		b.edit(func(sp *specs.Spec) {
			sp.Process.Env = []string{"RUNW_SANDBOX_PROBE=" + strings.Join(list, ";")}
			if off {
				sp.Process.Env = append(sp.Process.Env, "RUNW_SANDBOX_OFF=1")
			}
			if sp.Linux == nil {
				sp.Linux = &specs.Linux{}
			}
			sp.Linux.Namespaces = podLikeNamespaces(netns)
			sp.Annotations = map[string]string{
				"io.github.runw.net.connect": "127.0.0.1:7001",
				"io.github.runw.net.listen":  "7101",
			}
		})
		return b
	}
	r := newRunw(t)
	r.bin = bin
	res := r.run("run", "--bundle", scene("net", false).dir, "net-sandboxed")
	t.Logf("sandboxed: %v", res)
	if res.code != 0 {
		t.Fatalf("the guest failed: %v", res)
	}
	got := probeResults(res.stderr)
	for p, want := range probes {
		if got[p] != want {
			t.Errorf("native %s under the sandbox: %q, want %s", p, got[p], want)
		}
	}
	res = r.run("run", "--bundle", scene("net-off", true).dir, "net-control")
	got = probeResults(res.stderr)
	for p, want := range probes {
		if want == "EACCES" {
			want = map[bool]string{true: "ECONNREFUSED", false: "ok"}[strings.HasPrefix(p, "connect")]
		}
		if got[p] != want {
			t.Errorf("native %s without the sandbox: %q, want %s (the probe itself is wrong)", p, got[p], want)
		}
	}
}
