package integration

// --preserve-fds (runc's flag, which podman's --preserve-fds and its
// socket activation of containers reach through conmon): the caller's
// descriptors 3, 4, ... become the guest's, after its preopened
// directories and listeners, named in RUNW_PRESERVED_FDS, a listener
// among them in RUNW_LISTEN_FDS too. The listeners here are bound by the
// test on the host side of a veth pair it made (10.213.0.0/16), as
// systemd binds an activated socket outside the container.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runFiles is r.run with extra descriptors.
func (r *runw) runFiles(files []*os.File, args ...string) result {
	r.t.Helper()
	bg := r.startFiles(files, args...)
	return bg.wait(r.t, 60*time.Second)
}

// hostListener is a TCP listener on the host side of a veth pair the test
// made, and its descriptor as a file to pass on.
func hostListener(t *testing.T) (net.Listener, *os.File, *vethNet) {
	t.Helper()
	v := newVethNet(t)
	ln, err := net.Listen("tcp", v.host+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return ln, f, v
}

// TestPreserveFdsListener: a Go HTTP server (net.FileListener on the first
// descriptor of RUNW_LISTEN_FDS) serves on a listener its caller bound and
// passed with --preserve-fds 1, and SIGTERM ends it with 143. In its own
// network namespace (as podman's --network none), and in the host's
// without io.github.runw.net: the descriptor is the caller's grant, as it
// is for a native process. Narrowed to its port and to no peer at all
// (Landlock's TCP rules too, where the kernel has them), it still serves:
// accept is neither a bind nor a connect.
func TestPreserveFdsListener(t *testing.T) {
	needsRoot(t, "network namespaces and veth pairs")
	mod := netGuest(t, "hello")
	for _, c := range []struct {
		name     string
		ownNetns bool
		narrow   bool
	}{{"own netns", true, false}, {"host netns", false, false}, {"narrowed", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			ln, f, v := hostListener(t)
			b := netBundle(t, mod)
			var ann map[string]string
			if c.narrow {
				port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
				ann = map[string]string{"io.github.runw.net.listen": port, "io.github.runw.net.connect": ""}
			}
			if c.ownNetns {
				b.inNetns(v.path, nil, ann)
			}
			r := newRunw(t)
			id := "preserve-listener"
			bg := r.startFiles([]*os.File{f}, "run", "--preserve-fds", "1", "-b", b.dir, id)
			url := "http://" + ln.Addr().String()
			// 0-2 stdio, 3 "/", then the preserved listener.
			if got := waitHTTP(t, bg, url+"/fds"); got != "4" {
				t.Errorf("RUNW_LISTEN_FDS=%q, want 4 (after stdio and /)", got)
			}
			resp, err := netClient.Get(url + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hello from wasm\n" {
				t.Errorf("GET /: %q", body)
			}
			r.mustRun("kill", id, "TERM")
			if res := bg.wait(t, 20*time.Second); res.code != statusSIGTERM {
				t.Errorf("run after SIGTERM: %v, want exit %d", res, statusSIGTERM)
			}
		})
	}
}

// TestPreserveFdsStreams: a pipe's write end and a file opened read-only,
// preserved as 3 and 4, are the guest's in that order after its
// directories: it writes the pipe, reads the file, and cannot write it.
// runw exec passes them the same way.
func TestPreserveFdsStreams(t *testing.T) {
	needsRoot(t, "containers")
	pr, pw := pipe(t)
	file := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(file, []byte("file content"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	b := newBundle(t, "probe", "env", "fdwrite", "RUNW_PRESERVED_FDS", "0", "through the pipe",
		"fdread", "RUNW_PRESERVED_FDS", "1", "fdwrite", "RUNW_PRESERVED_FDS", "1", "into a read-only file")
	r := newRunw(t)
	res := r.runFiles([]*os.File{pw, in}, "run", "--preserve-fds", "2", "-b", b.dir, "preserve-streams")
	pw.Close()
	if res.code != 0 {
		t.Fatalf("run: %v", res)
	}
	got, _ := io.ReadAll(pr)
	if string(got) != "through the pipe" {
		t.Errorf("the pipe got %q", got)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], `"RUNW_PRESERVED_FDS=4,5"`) || lines[1] != "OK" || lines[2] != "file content" || !strings.HasPrefix(lines[3], "ERR ") {
		t.Errorf("guest said %q, want its env with RUNW_PRESERVED_FDS=4,5, OK, the file's content and an error writing it", lines)
	}

	// exec: the descriptors go to the exec'd process, not the init.
	b = newBundle(t, "probe", "sleep", "60s")
	bg, _ := runInBackground(t, r, b, "preserve-exec")
	pr2, pw2 := pipe(t)
	res = r.runFiles([]*os.File{pw2}, "exec", "--preserve-fds", "1", "preserve-exec", "/probe.wasm", "fdwrite", "RUNW_PRESERVED_FDS", "0", "from exec")
	pw2.Close()
	if res.code != 0 || strings.TrimSpace(res.stdout) != "OK" {
		t.Fatalf("exec: %v", res)
	}
	if got, _ := io.ReadAll(pr2); string(got) != "from exec" {
		t.Errorf("the exec's pipe got %q", got)
	}
	r.killRun(t, bg, "preserve-exec", 20*time.Second)
}

// TestPreserveFdsRefused: what runw will not pass, each with one line,
// exit status 1 and nothing left under --root. The attack of the first:
// with only descriptor 3 open, `--preserve-fds 2` would hand the guest
// whatever runw itself had opened as 4 by then (its state directory, the
// bundle), as host root; runw passes only what came through its exec.
func TestPreserveFdsRefused(t *testing.T) {
	needsRoot(t, "containers")
	_, pw := pipe(t)
	root, err := os.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	pathFd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	rootPath := os.NewFile(uintptr(pathFd), "/ (O_PATH)")
	defer rootPath.Close()
	_, listener, _ := hostListener(t)
	for _, c := range []struct {
		name  string
		files []*os.File
		n     string
		edit  func(b *bundle)
		want  string
	}{
		{"not open", []*os.File{pw}, "2", nil, "preserve-fds: descriptor 4 is not open"},
		{"negative", nil, "-1", nil, "preserve-fds: -1: want a count of descriptors"},
		// 3+n wrapped negative: nothing passed, without a word.
		{"more than a process can have", nil, strconv.Itoa(math.MaxInt), nil, "preserve-fds: 9223372036854775807: want a count of descriptors, 0 to 1048576"},
		{"directory", []*os.File{root}, "1", nil, "preserve-fds: descriptor 3: a directory"},
		{"directory by O_PATH", []*os.File{pw, rootPath}, "2", nil, "preserve-fds: descriptor 4: a directory"},
		{"socket under net=deny", []*os.File{listener}, "1", func(b *bundle) {
			b.inNetns("", nil, map[string]string{"io.github.runw.net": "deny"})
		}, "preserve-fds: descriptor 3 is a socket, but the annotation io.github.runw.net=deny"},
		{"listener outside the listen grant", []*os.File{listener}, "1", func(b *bundle) {
			b.inNetns("", nil, map[string]string{"io.github.runw.net.listen": "0.0.0.0/0:1-2"})
		}, "outside the listen grant"},
		{"component", []*os.File{pw}, "1", nil, "preserve-fds: a component cannot be given descriptors"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b *bundle
			if c.name == "component" {
				b = netBundle(t, componentOf(t, "exitcode"))
			} else {
				b = newBundle(t, "probe", "echo", "ran")
			}
			if c.edit != nil {
				c.edit(b)
			}
			r := newRunw(t)
			res := r.runFiles(c.files, "run", "--preserve-fds", c.n, "-b", b.dir, "refused")
			if res.code != 1 || res.stdout != "" {
				t.Fatalf("run: %v, want exit 1 and no output", res)
			}
			oneLine(t, "stderr", res.stderr)
			if !strings.Contains(res.stderr, c.want) {
				t.Errorf("stderr %q, want %q", res.stderr, c.want)
			}
			r.assertRootEmpty()
		})
	}
}

// TestPodmanPreserveFds: podman's two ways to hand a container a listener,
// both through conmon's --preserve-fds: `podman run --preserve-fds 1`, and
// systemd's socket activation of podman (LISTEN_FDS and LISTEN_PID in its
// environment, the socket as its descriptor 3; podman then puts
// LISTEN_FDS in the container's environment). The wasm server, with
// --network none, answers on the listener the test bound on the host's
// side of a veth pair, and `podman stop` ends it with 143.
func TestPodmanPreserveFds(t *testing.T) {
	p := engNewPodman(t)
	const ref = "localhost/runw-preserve-hello:test"
	p.importImage(ref, map[string]string{"hello.wasm": netGuest(t, "hello")}, "/hello.wasm")
	for _, activation := range []bool{false, true} {
		t.Run(fmt.Sprintf("activation=%v", activation), func(t *testing.T) {
			ln, f, _ := hostListener(t)
			args := p.args("--runtime", "runw", "run", "-d", "--network", "none")
			env := p.env
			name := "podman"
			if activation {
				// LISTEN_PID is podman's own pid: sh execs it.
				env = append(slices.Clone(env), "LISTEN_FDS=1")
				args = append([]string{"-c", `LISTEN_PID=$$ exec podman "$@"`, "sh"}, args...)
				name = "sh"
			} else {
				args = append(args, "--preserve-fds", "1")
			}
			res := engRunFiles(t, p.out, env, nil, []*os.File{f}, name, append(args, ref)...)
			engWant(t, res, 0)
			id := strings.TrimSpace(res.stdout)
			t.Cleanup(func() { p.podman(t, "rm", "--force", "--time", "0", id) })
			gone := p.gone(t, id)
			url := "http://" + ln.Addr().String()
			if got := curlBody(t, url+"/", 60*time.Second, gone); got != "hello from wasm\n" {
				t.Errorf("curl %s/: %q", url, got)
			}
			// After stdio, / and podman's other directories.
			if got := curlBody(t, url+"/fds", 10*time.Second, gone); !regexp.MustCompile(`^([4-9]|[1-9][0-9])$`).MatchString(got) {
				t.Errorf("RUNW_LISTEN_FDS %q, want one descriptor after the directories", got)
			}
			res = p.podman(t, "stop", "--time", "10", id)
			engWant(t, res, 0)
			if got := p.inspect(t, id, "{{.State.ExitCode}}"); got != "143" {
				t.Errorf("State.ExitCode %s after podman stop, want 143", got)
			}
		})
	}

	// podman exec --preserve-fds: conmon passes the pipe to runw exec.
	t.Run("exec", func(t *testing.T) {
		id := p.detach(t, engProbeImage, "sleep", "60s")
		pr, pw := pipe(t)
		res := engRunFiles(t, p.out, p.env, nil, []*os.File{pw}, "podman", p.args("exec", "--preserve-fds", "1", id, "/probe.wasm", "fdwrite", "RUNW_PRESERVED_FDS", "0", "via podman exec")...)
		pw.Close()
		engWant(t, res, 0)
		if got, _ := io.ReadAll(pr); string(got) != "via podman exec" {
			t.Errorf("the pipe got %q (podman exec said %v)", got, res)
		}
	})
}

// activatedRunw is `runw args…` as systemd's socket activation starts it:
// LISTEN_FDS=listen and LISTEN_PID its own pid (sh execs it), files as
// its 3, 4, ...
func (r *runw) activatedRunw(listen int, files []*os.File, args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, stdout, stderr := r.command(ctx, args...)
	cmd.Path = "/bin/sh"
	cmd.Args = append([]string{"sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, r.binary()}, r.argv(args...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("LISTEN_FDS=%d", listen))
	cmd.ExtraFiles = files
	return finish(cmd, cmd.Run(), stdout, stderr)
}

// TestSocketActivatedRunw: systemd starting `runw run` itself with a
// socket (LISTEN_FDS, LISTEN_PID), as runc supports: the socket reaches
// the wasm guest first, before the --preserve-fds descriptors, and a
// native bundle runw hands to runc gets it at 3 with LISTEN_FDS=1 and
// LISTEN_PID=1, as runc gives it. A LISTEN_PID that is not runw's (podman
// gives conmon and the runtime LISTEN_PID=1) is not runw's activation.
func TestSocketActivatedRunw(t *testing.T) {
	needsRoot(t, "network namespaces and veth pairs")
	_, listener, _ := hostListener(t)
	pr, pw := pipe(t)
	r := newRunw(t)
	b := newBundle(t, "probe", "env", "fdwrite", "RUNW_PRESERVED_FDS", "1", "after the socket")
	res := r.activatedRunw(1, []*os.File{listener, pw}, "run", "--preserve-fds", "1", "-b", b.dir, "activated")
	pw.Close()
	if res.code != 0 {
		t.Fatalf("run: %v", res)
	}
	if !strings.Contains(res.stdout, `"RUNW_LISTEN_FDS=4"`) || !strings.Contains(res.stdout, `"RUNW_PRESERVED_FDS=4,5"`) || !strings.HasSuffix(res.stdout, "OK\n") {
		t.Errorf("guest said %q, want the socket at 4 (a listener) and the pipe at 5", res.stdout)
	}
	if got, _ := io.ReadAll(pr); string(got) != "after the socket" {
		t.Errorf("the pipe got %q", got)
	}

	// A LISTEN_FDS no process can have: one line, not a panic (the sum
	// with --preserve-fds wrapped negative, and runw panicked in
	// makeslice).
	res = r.activatedRunw(math.MaxInt, []*os.File{listener}, "run", "-b", b.dir, "huge")
	if res.code != 1 || !strings.Contains(res.stderr, "LISTEN_FDS=9223372036854775807: more descriptors than a process may have") || strings.Contains(res.stderr, "panic") {
		t.Errorf("run with LISTEN_FDS=%d: %v, want exit 1 and one line", math.MaxInt, res)
	}
	oneLine(t, "stderr", res.stderr)
	r.assertRootEmpty()

	// LISTEN_PID=1 (podman's, for the container) is not runw's.
	b = newBundle(t, "probe", "env")
	cmd, stdout, stderr := r.command(context.Background(), "run", "-b", b.dir, "not-activated")
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_PID=1")
	cmd.ExtraFiles = []*os.File{listener}
	res = finish(cmd, cmd.Run(), stdout, stderr)
	if res.code != 0 || strings.Contains(res.stdout, "RUNW_PRESERVED_FDS") {
		t.Errorf("run with LISTEN_PID=1: %v, want no preserved descriptor", res)
	}

	t.Run("native", func(t *testing.T) {
		busybox := engStaticBusybox()
		if _, err := exec.LookPath("runc"); err != nil || busybox == "" {
			t.Skip("needs runc and a static busybox (integration/deps.sh installs them)")
		}
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(busybox, filepath.Join(dir, "rootfs", "busybox")); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("runc", "spec", "--bundle", dir).CombinedOutput(); err != nil {
			t.Fatalf("runc spec: %v\n%s", err, out)
		}
		nb := &bundle{t: t, dir: dir, rootfs: filepath.Join(dir, "rootfs")}
		data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		if err := json.Unmarshal(data, &nb.spec); err != nil {
			t.Fatal(err)
		}
		nb.edit(func(s *specs.Spec) {
			s.Process.Terminal = false
			s.Process.Args = []string{"/busybox", "sh", "-c", `echo "$LISTEN_FDS $LISTEN_PID"; /busybox readlink /proc/self/fd/3`}
		})
		res := r.activatedRunw(1, []*os.File{listener}, "run", "-b", dir, "activated-native")
		if res.code != 0 || !regexp.MustCompile(`^1 1\nsocket:\[[0-9]+\]\n$`).MatchString(res.stdout) {
			t.Errorf("native container: %v, want LISTEN_FDS=1 LISTEN_PID=1 and a socket at 3", res)
		}
	})
}

// pipe is a pipe for a test to preserve into a container: the test gives
// the write end and reads what the guest wrote from the read end. Both
// are closed when the test ends (a test closes the write end earlier, to
// read to EOF).
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}
