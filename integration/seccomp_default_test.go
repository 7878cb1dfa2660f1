package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runwSeccomp opts a spec into runw's own seccomp filter.
func runwSeccomp(s *specs.Spec) {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations["io.github.runw.seccomp"] = "default"
}

// TestRunwSeccompGuestsStillRun: with runw's own filter (annotation
// io.github.runw.seccomp=default, the spec having no profile) the guests
// that use WASI the most still run to the end with their output: hello,
// the probe through files, directories, links, sleeps and memory growth,
// and wasiheavy's thousands of opens, a big readdir and 100,000 writes.
func TestRunwSeccompGuestsStillRun(t *testing.T) {
	t.Parallel()
	heavy, err := filepath.Abs(filepath.Join(t.TempDir(), "wasiheavy.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", heavy, ".")
	build.Dir = "testdata/wasiheavy"
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build wasiheavy: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name, guest string
		args        []string
		want        string
	}{
		{"hello", "hello", []string{"a", "b"}, "Hello from a WebAssembly container!"},
		{"probe", "probe", []string{"write", "/f", "data", "cat", "/f", "mkdir", "/d", "rename", "/d", "/e",
			"ls", "/", "sleep", "50ms", "alloc", "64", "rm", "/e", "isatty", "echo", "done"}, "done\n"},
		{"wasiheavy", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b *bundle
			if tc.guest == "" {
				b = newBundle(t, "hello")
				if err := copyFile(heavy, filepath.Join(b.rootfs, "wasiheavy.wasm")); err != nil {
					t.Fatal(err)
				}
				b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/wasiheavy.wasm", "/"} })
			} else {
				b = newBundle(t, tc.guest, tc.args...)
			}
			b.edit(runwSeccomp)
			res := newRunw(t).run("run", "--bundle", b.dir, "filtered")
			if res.code != 0 || !strings.Contains(res.stdout, tc.want) {
				t.Fatalf("under runw's filter: %v, want exit 0 and %q", res, tc.want)
			}
		})
	}
}

// TestRunwSeccompOutputThroughAPipe: under runw's filter a guest's output
// reaches a pipe, what conmon, CRI-O and containerd give a container. Go's
// wasip1 runtime makes stdout non-blocking, and the host writes it with
// pwritev2 (RWF_NOWAIT), which the filter left out: the output was lost
// with EPERM, while the tests' files, which take plain writes, got it all.
func TestRunwSeccompOutputThroughAPipe(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "hello", "a", "b")
	b.edit(runwSeccomp)
	cmd := exec.Command(r.binary(), r.argv("run", "--bundle", b.dir, "piped")...)
	cmd.Env = r.env
	out, err := cmd.Output() // stdout is a pipe
	if err != nil || !strings.Contains(string(out), "Hello from a WebAssembly container!") {
		t.Errorf("under runw's filter, stdout a pipe: %v, %q; want the greeting", err, out)
	}
}

// TestRunwSeccompRefusesTheRest: a native system call outside runw's
// filter, made in the init after the sandbox (the test build's probe, as a
// guest that escaped wasmtime would), fails with EPERM; without the
// annotation the same call succeeds, with the same capabilities. A value
// other than "default" is refused at create.
func TestRunwSeccompRefusesTheRest(t *testing.T) {
	t.Parallel()
	needsRoot(t, "the control's unshare needs CAP_SYS_ADMIN")
	bin := mustProbeBin(t)
	admin := []string{"CAP_SYS_ADMIN"}
	run := func(filtered bool) (result, string) {
		b := newBundle(t, "probe", "echo", "guest ran")
		inRootfs := filepath.Join(b.rootfs, "probe.wasm")
		b.edit(func(s *specs.Spec) {
			s.Process.Env = []string{"RUNW_SANDBOX_PROBE=unshare:uts;read:" + inRootfs}
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: admin, Effective: admin, Permitted: admin}
			if filtered {
				runwSeccomp(s)
			}
		})
		r := newRunw(t)
		r.bin = bin
		return r.run("run", "--bundle", b.dir, "probed"), "read " + inRootfs
	}
	for _, tc := range []struct {
		filtered bool
		unshare  string
	}{{true, "EPERM"}, {false, "ok"}} {
		res, read := run(tc.filtered)
		got := probeResults(res.stderr)
		if res.code != 0 || res.stdout != "guest ran\n" {
			t.Errorf("filtered %v: the guest did not run: %v", tc.filtered, res)
		}
		if got["unshare uts"] != tc.unshare {
			t.Errorf("filtered %v: native unshare %q, want %s (%v)", tc.filtered, got["unshare uts"], tc.unshare, res)
		}
		if got[read] != "ok" {
			t.Errorf("filtered %v: native %s %q, want ok", tc.filtered, read, got[read])
		}
	}

	b := newBundle(t, "probe", "echo", "must not run")
	b.edit(func(s *specs.Spec) { s.Annotations = map[string]string{"io.github.runw.seccomp": "strict"} })
	res := newRunw(t).run("run", "--bundle", b.dir, "badvalue")
	if res.code == 0 || !strings.Contains(res.stderr, `io.github.runw.seccomp="strict"`) || strings.Contains(res.stdout, "must not run") {
		t.Errorf("an unknown filter name: %v, want create to fail naming it", res)
	}
}
