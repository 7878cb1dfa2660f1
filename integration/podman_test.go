package integration

// End-to-end tests through real podman (4.3 on Debian 12) and conmon: the
// user runs podman, podman runs conmon, conmon runs runw. Every check is
// what the podman user sees: output, exit codes, host files, errors.
//
// podman runs in a private store (--root/--runroot, its own tmp_dir, file
// locks and containers.conf) so the machine's containers and images are
// never touched. runw itself runs with its defaults (--root /run/runw,
// the default module cache), as it would for any podman user: podman's
// --runtime-flag does not reach the cleanup process conmon starts, so a
// private runw --root could not be kept consistent.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	engProbeImage   = "localhost/runw-probe:test"
	engMixedImage   = "localhost/runw-mixed:test"
	engBadImage     = "localhost/runw-badimport:test"
	engBusyboxImage = "localhost/runw-busybox:test"
	engWasiImage    = "localhost/runw-probe:wasi"
	// engRunwDefaultRoot is runw's --root when podman does not pass one.
	engRunwDefaultRoot = "/run/runw"
)

// engPodman is a private podman store whose containers.conf names the
// built runw as runtime "runw".
type engPodman struct {
	t    *testing.T
	dir  string
	out  string
	conf string
	env  []string
	// busybox is the static busybox in the busybox and mixed images, or ""
	// when the machine has none (the native tests then skip).
	busybox string
}

// engPodmanConf is the containers.conf of the private store. extra is
// appended to [engine] (before the tables that follow it).
func engPodmanConf(dir, extraEngine, extraTables string) string {
	return fmt.Sprintf(`[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
tmp_dir = %[1]q
lock_type = "file"
num_locks = 512
events_logger = "file"
runtime_supports_json = ["runw"]
%[3]s
[engine.runtimes]
runw = [%[2]q]
%[4]s`, filepath.Join(dir, "tmp"), runwBin, extraEngine, extraTables)
}

// engNewPodman skips unless podman can run, then sets up the store and
// imports the test images. Everything is removed at the end of t.
func engNewPodman(t *testing.T) *engPodman {
	t.Helper()
	engRequire(t, "podman", "podman", "conmon", "runc")
	dir, err := os.MkdirTemp("", "runw-podman-")
	if err != nil {
		t.Fatal(err)
	}
	p := &engPodman{t: t, dir: dir, out: filepath.Join(dir, "out"), conf: filepath.Join(dir, "containers.conf")}
	if err := os.Mkdir(p.out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.conf, []byte(engPodmanConf(dir, "", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	p.env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	t.Cleanup(p.teardown)

	probe := guests["probe"]
	p.importImage(engProbeImage, map[string]string{"probe.wasm": probe}, "/probe.wasm")
	p.importImage(engBadImage, map[string]string{"badimport.wat": "testdata/wat/badimport.wat"}, "/badimport.wat")
	if p.busybox = engStaticBusybox(); p.busybox != "" {
		p.importImage(engBusyboxImage, map[string]string{"busybox": p.busybox}, "/busybox", "echo", "native-ok")
		p.importImage(engMixedImage, map[string]string{"probe.wasm": probe, "busybox": p.busybox}, "/probe.wasm")
	}
	return p
}

// teardown removes every container (the private store is the test's
// alone), unmounts what the store left mounted and removes it.
func (p *engPodman) teardown() {
	t := p.t
	res := engRun(t, p.out, p.env, "podman", p.args("ps", "-aq", "--no-trunc")...)
	if ids := strings.Fields(res.stdout); len(ids) > 0 {
		t.Logf("podman teardown: removing leftover containers %v", ids)
		engRun(t, p.out, p.env, "podman", p.args("rm", "--force", "--time", "0", "--all")...)
	}
	for _, id := range strings.Fields(res.stdout) {
		if engContains(engRunwIDs(t, p.out, engRunwDefaultRoot), id) {
			engRun(t, p.out, nil, runwBin, "delete", "--force", id)
		}
	}
	engUnmountUnder(p.dir)
	if err := os.RemoveAll(p.dir); err != nil {
		t.Logf("remove %s: %v", p.dir, err)
	}
}

// args prefixes podman's global flags for the private store.
func (p *engPodman) args(args ...string) []string {
	return append([]string{
		"--root", filepath.Join(p.dir, "storage"),
		"--runroot", filepath.Join(p.dir, "run"),
	}, args...)
}

// podman runs podman on the private store, with the runtime chosen by
// containers.conf (runc unless a test's conf says otherwise).
func (p *engPodman) podman(t *testing.T, args ...string) engResult {
	t.Helper()
	return engRun(t, p.out, p.env, "podman", p.args(args...)...)
}

// runw runs podman --runtime runw (the name from containers.conf).
func (p *engPodman) runw(t *testing.T, args ...string) engResult {
	t.Helper()
	return p.podman(t, append([]string{"--runtime", "runw"}, args...)...)
}

// importImage makes an image whose root holds files (name → host path)
// with entrypoint, by `podman import` of a tar.
func (p *engPodman) importImage(ref string, files map[string]string, entrypoint ...string) {
	t := p.t
	t.Helper()
	layer := filepath.Join(p.dir, strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	engWriteLayer(t, layer, files)
	ep, _ := json.Marshal(entrypoint)
	engWant(t, p.podman(t, "import", "--change", "ENTRYPOINT="+string(ep), layer, ref), 0)
}

// detach runs `podman --runtime runw run -d args…`, returns the full id
// and force-removes the container at the end of t.
func (p *engPodman) detach(t *testing.T, args ...string) string {
	t.Helper()
	res := p.runw(t, append([]string{"run", "-d"}, args...)...)
	engWant(t, res, 0)
	id := strings.TrimSpace(res.stdout)
	if len(id) != 64 {
		t.Fatalf("podman run -d did not print a container id: %v", res)
	}
	t.Cleanup(func() { p.podman(t, "rm", "--force", "--time", "0", id) })
	return id
}

// inspect returns `podman inspect --format format id`, trimmed.
func (p *engPodman) inspect(t *testing.T, id, format string) string {
	t.Helper()
	res := p.podman(t, "inspect", "--format", format, id)
	engWant(t, res, 0)
	return strings.TrimSpace(res.stdout)
}

// waitLogs polls `podman logs id` until it contains want.
func (p *engPodman) waitLogs(t *testing.T, id, want string) {
	t.Helper()
	var last engResult
	if !engPoll(20*time.Second, func() bool {
		last = p.podman(t, "logs", id)
		return strings.Contains(last.stdout, want)
	}) {
		t.Fatalf("podman logs never showed %q: %v", want, last)
	}
}

func TestPodman(t *testing.T) {
	p := engNewPodman(t)

	// 1. run --rm: the guest's output and its exit status reach the user.
	t.Run("RunRmOutputAndExitCode", func(t *testing.T) {
		res := p.runw(t, "run", "--rm", engProbeImage, "echo", "hello from wasm")
		engWant(t, res, 0)
		if res.stdout != "hello from wasm\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "hello from wasm\n")
		}
		res = p.runw(t, "run", "--rm", engProbeImage, "echo", "before exit", "stderr", "to stderr", "exit", "7")
		engWant(t, res, 7)
		if res.stdout != "before exit\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "before exit\n")
		}
		engWantContains(t, "podman stderr", res.stderr, "to stderr\n")
	})

	// run --init (or init = true in containers.conf): podman puts its
	// native init before the command; runw runs the wasm command behind
	// it, with its exit status.
	t.Run("InitFlag", func(t *testing.T) {
		if _, err := os.Stat("/usr/libexec/podman/catatonit"); err != nil {
			t.Skip("podman's init (Debian's catatonit) is not installed")
		}
		res := p.runw(t, "run", "--rm", "--init", engProbeImage, "echo", "behind the init", "exit", "3")
		engWant(t, res, 3)
		if res.stdout != "behind the init\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "behind the init\n")
		}
	})

	// 2. run -d: logs hold the output, wait prints the exit code, inspect
	// records it.
	t.Run("DetachedLogsWaitInspect", func(t *testing.T) {
		id := p.detach(t, engProbeImage, "echo", "detached output", "sleep", "300ms", "exit", "7")
		res := p.podman(t, "wait", id)
		engWant(t, res, 0)
		if got := strings.TrimSpace(res.stdout); got != "7" {
			t.Errorf("podman wait printed %q, want 7", got)
		}
		res = p.podman(t, "logs", id)
		engWant(t, res, 0)
		if res.stdout != "detached output\n" {
			t.Errorf("podman logs stdout %q, want %q", res.stdout, "detached output\n")
		}
		if got := p.inspect(t, id, "{{.State.ExitCode}}"); got != "7" {
			t.Errorf("State.ExitCode %s, want 7", got)
		}
		if got := p.inspect(t, id, "{{.State.Status}}"); got != "exited" {
			t.Errorf("State.Status %s, want exited", got)
		}
	})

	// 3. ps lists the running container.
	t.Run("PsShowsRunning", func(t *testing.T) {
		id := p.detach(t, engProbeImage, "spin")
		res := p.podman(t, "ps", "--no-trunc", "--format", "{{.ID}} {{.Status}}")
		engWant(t, res, 0)
		if !strings.Contains(res.stdout, id+" Up ") {
			t.Errorf("podman ps does not show %s running:\n%s", id, res.stdout)
		}
		if got := p.inspect(t, id, "{{.State.Running}}"); got != "true" {
			t.Errorf("State.Running %s, want true", got)
		}
	})

	// 3b. top shows the container's process as runc's container shows
	// it: no terminal is "?" (psgo reads the container's /dev/pts, which
	// runw makes as runc's devpts mount does; without it the column was
	// empty).
	t.Run("TopShowsTheProcess", func(t *testing.T) {
		id := p.detach(t, engProbeImage, "sleep", "1h")
		res := p.podman(t, "top", id, "pid", "tty", "args")
		engWant(t, res, 0)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		if len(lines) != 2 || !regexp.MustCompile(`^1\s+\?\s+runw init /probe.wasm sleep 1h`).MatchString(lines[1]) {
			t.Errorf("podman top: %q; want one process, pid 1, tty ?, running the module", res.stdout)
		}
	})

	// 4. stop ends a guest in an endless loop that makes no host call:
	// SIGTERM gives 143, long before the 10 s stop timeout.
	t.Run("StopEndlessLoop", func(t *testing.T) {
		id := p.detach(t, engProbeImage, "echo", "spinning", "spin")
		p.waitLogs(t, id, "spinning")
		res := p.podman(t, "stop", "--time", "10", id)
		engWant(t, res, 0)
		t.Logf("podman stop took %v", res.took)
		if res.took > 5*time.Second {
			t.Errorf("podman stop took %v: SIGTERM did not end the guest, podman fell back to SIGKILL after its timeout", res.took)
		}
		if got := p.inspect(t, id, "{{.State.ExitCode}}"); got != "143" {
			t.Errorf("State.ExitCode %s after stop, want 143", got)
		}
	})

	// 5. kill sends SIGKILL by default: 137.
	t.Run("KillDefaultSignal", func(t *testing.T) {
		id := p.detach(t, engProbeImage, "spin")
		engWant(t, p.podman(t, "kill", id), 0)
		res := p.podman(t, "wait", id)
		engWant(t, res, 0)
		if got := strings.TrimSpace(res.stdout); got != "137" {
			t.Errorf("podman wait printed %q after kill, want 137", got)
		}
	})

	// 6. rm -f of a running container removes it from runw too, and the
	// guest process is gone.
	t.Run("RmForceLeavesNothingInRunw", func(t *testing.T) {
		id := p.detach(t, engProbeImage, "spin")
		pid, err := strconv.Atoi(p.inspect(t, id, "{{.State.Pid}}"))
		if err != nil || pid <= 0 {
			t.Fatalf("State.Pid: %q %v", p.inspect(t, id, "{{.State.Pid}}"), err)
		}
		if ids := engRunwIDs(t, p.out, engRunwDefaultRoot); !engContains(ids, id) {
			t.Fatalf("runw list (root %s) does not show the running container %s: %v", engRunwDefaultRoot, id, ids)
		}
		res := p.podman(t, "rm", "-f", id)
		engWant(t, res, 0)
		t.Logf("podman rm -f took %v", res.took)
		if ids := engRunwIDs(t, p.out, engRunwDefaultRoot); engContains(ids, id) {
			t.Errorf("runw list still shows %s after podman rm -f", id)
		}
		if _, err := os.Stat(filepath.Join(engRunwDefaultRoot, id)); err == nil {
			t.Errorf("%s still exists after podman rm -f", filepath.Join(engRunwDefaultRoot, id))
		}
		if !engPoll(5*time.Second, func() bool { return procGone(pid) }) {
			t.Errorf("guest pid %d still alive after podman rm -f", pid)
		}
		if res := p.podman(t, "container", "exists", id); res.code == 0 {
			t.Errorf("podman still has container %s", id)
		}
	})

	// pause/unpause freeze and thaw the guest; restart runs it again in
	// the same container; start -a re-runs an exited one with its output
	// and exit status.
	t.Run("PauseUnpauseRestartStart", func(t *testing.T) {
		id := p.detach(t, engProbeImage, "echo", "tick", "spin")
		p.waitLogs(t, id, "tick")
		engWant(t, p.podman(t, "pause", id), 0)
		if got := p.inspect(t, id, "{{.State.Status}}"); got != "paused" {
			t.Errorf("State.Status %s after pause, want paused", got)
		}
		engWant(t, p.podman(t, "unpause", id), 0)
		if got := p.inspect(t, id, "{{.State.Status}}"); got != "running" {
			t.Errorf("State.Status %s after unpause, want running", got)
		}
		engWant(t, p.podman(t, "restart", "--time", "10", id), 0)
		if !engPoll(20*time.Second, func() bool {
			return strings.Count(p.podman(t, "logs", id).stdout, "tick") == 2
		}) {
			t.Errorf("the guest did not run again after restart: logs %q", p.podman(t, "logs", id).stdout)
		}

		once := p.detach(t, engProbeImage, "echo", "once", "exit", "2")
		res := p.podman(t, "wait", once)
		if strings.TrimSpace(res.stdout) != "2" {
			t.Fatalf("podman wait: %v", res)
		}
		res = p.podman(t, "start", "--attach", once)
		engWant(t, res, 2)
		if res.stdout != "once\n" {
			t.Errorf("start --attach stdout %q, want %q", res.stdout, "once\n")
		}
	})

	// 7. run -it under a real terminal: the guest's stdout is a tty and its
	// output and exit status reach the user.
	t.Run("InteractiveTTY", func(t *testing.T) {
		if _, err := exec.LookPath("script"); err != nil {
			t.Skipf("needs script(1) for a pty: %v", err)
		}
		line := "podman " + engShellQuote(p.args("--runtime", "runw", "run", "--rm", "-it", engProbeImage, "isatty", "echo", "typed output", "exit", "3"))
		res := engRunHeldStdin(t, p.out, p.env, "script", "-qec", line, "/dev/null")
		if res.code != 3 {
			t.Errorf("exit %d, want 3: %v", res.code, res)
		}
		out := strings.ReplaceAll(res.stdout, "\r", "")
		engWantContains(t, "terminal output", out, "tty\n", "typed output\n")
		if strings.Contains(out, "notty") {
			t.Errorf("guest stdout is not a tty under -it: %q", out)
		}
	})

	// 8. -v: the guest reads a host file and writes one the host sees; :ro
	// refuses the write and leaves the host directory as it was.
	t.Run("VolumeReadWriteAndReadOnly", func(t *testing.T) {
		host := dirWith(t, "in.txt", "from the host\n")
		res := p.runw(t, "run", "--rm", "-v", host+":/data", engProbeImage,
			"cat", "/data/in.txt", "write", "/data/out.txt", "from the guest")
		engWant(t, res, 0)
		if res.stdout != "from the host\nOK\n" {
			t.Errorf("stdout %q, want the host file then OK", res.stdout)
		}
		if b, err := os.ReadFile(filepath.Join(host, "out.txt")); err != nil || string(b) != "from the guest" {
			t.Errorf("host out.txt = %q, %v; want %q", b, err, "from the guest")
		}

		res = p.runw(t, "run", "--rm", "-v", host+":/data:ro", engProbeImage,
			"cat", "/data/in.txt", "write", "/data/ro.txt", "must not land", "write", "/data/in.txt", "overwritten")
		engWant(t, res, 0)
		lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
		if len(lines) != 3 || lines[0] != "from the host" ||
			!strings.HasPrefix(lines[1], "ERR ") || !strings.HasPrefix(lines[2], "ERR ") {
			t.Errorf("with :ro, stdout %q: want the host file, then two ERR lines", res.stdout)
		}
		if _, err := os.Stat(filepath.Join(host, "ro.txt")); err == nil {
			t.Errorf("a write through a :ro volume created ro.txt on the host")
		}
		if b, _ := os.ReadFile(filepath.Join(host, "in.txt")); string(b) != "from the host\n" {
			t.Errorf("a write through a :ro volume changed in.txt to %q", b)
		}

		// :O, an overlay over the host directory: the guest sees the
		// host's files, and its writes stay in podman's upper layer.
		res = p.runw(t, "run", "--rm", "-v", host+":/data:O", engProbeImage,
			"cat", "/data/in.txt", "write", "/data/overlay.txt", "stays in the overlay")
		engWant(t, res, 0)
		if res.stdout != "from the host\nOK\n" {
			t.Errorf("with :O, stdout %q, want the host file then OK", res.stdout)
		}
		if _, err := os.Stat(filepath.Join(host, "overlay.txt")); err == nil {
			t.Errorf("a write through a :O volume reached the host directory")
		}
	})

	// 9. -e reaches the guest; podman's own environment does not.
	t.Run("EnvFlag", func(t *testing.T) {
		env := append([]string(nil), p.env...)
		env = append(env, "RUNW_ENG_HOST_SECRET=host-only")
		args := p.args("--runtime", "runw", "run", "--rm", "-e", "FOO=bar", engProbeImage, "env")
		res := engRun(t, p.out, env, "podman", args...)
		engWant(t, res, 0)
		var got []string
		if err := json.Unmarshal([]byte(strings.TrimSpace(res.stdout)), &got); err != nil {
			t.Fatalf("guest env is not JSON: %v: %v", err, res)
		}
		if !engContains(got, "FOO=bar") {
			t.Errorf("FOO=bar missing from the guest env %v", got)
		}
		for _, kv := range got {
			if strings.HasPrefix(kv, "RUNW_ENG_HOST_SECRET=") {
				t.Errorf("host variable leaked into the guest: %s", kv)
			}
		}
	})

	// 10. --read-only: / refuses writes, /tmp (podman's tmpfs) takes them.
	t.Run("ReadOnlyRootfs", func(t *testing.T) {
		res := p.runw(t, "run", "--rm", "--read-only", engProbeImage,
			"write", "/x", "nope", "write", "/tmp/x", "fine", "cat", "/tmp/x")
		engWant(t, res, 0)
		lines := strings.Split(res.stdout, "\n")
		if len(lines) < 3 || !strings.HasPrefix(lines[0], "ERR ") || lines[1] != "OK" || lines[2] != "fine" {
			t.Errorf("stdout %q: want ERR for /x, OK for /tmp/x, then its content", res.stdout)
		}
	})

	// 11. runw's errors reach the podman user's stderr, exactly once.
	t.Run("ErrorsReachUser", func(t *testing.T) {
		res := p.runw(t, "run", "--rm", "--entrypoint", "/nope.wasm", engProbeImage)
		if res.code == 0 {
			t.Fatalf("a missing entrypoint ran: %v", res)
		}
		want := `"/nope.wasm": no such file or directory`
		engWantContains(t, "podman stderr", res.stderr, want)
		if n := strings.Count(res.stderr, want); n > 1 {
			t.Errorf("the error appears %d times on stderr:\n%s", n, res.stderr)
		}

		res = p.runw(t, "run", "--rm", engBadImage)
		if res.code == 0 {
			t.Fatalf("a module with an unknown import ran: %v", res)
		}
		engWantContains(t, "podman stderr", res.stderr, "unknown import", "does_not_exist")
		if n := strings.Count(res.stderr, "unknown import"); n > 1 {
			t.Errorf("the error appears %d times on stderr:\n%s", n, res.stderr)
		}
	})

	// 12. exec runs another module in the running container; a native
	// program cannot be exec'd into a wasm container.
	t.Run("Exec", func(t *testing.T) {
		image := engProbeImage
		if p.busybox != "" {
			image = engMixedImage
		}
		id := p.detach(t, image, "spin")
		res := p.podman(t, "exec", id, "/probe.wasm", "echo", "fromexec")
		engWant(t, res, 0)
		if res.stdout != "fromexec\n" {
			t.Errorf("exec stdout %q, want %q", res.stdout, "fromexec\n")
		}
		engWant(t, p.podman(t, "exec", id, "/probe.wasm", "exit", "5"), 5)

		res = p.podman(t, "exec", id, "/bin/sh")
		if res.code == 0 {
			t.Errorf("exec of a missing /bin/sh succeeded: %v", res)
		}
		engWantContains(t, "exec /bin/sh stderr", res.stderr, "/bin/sh", "no such file or directory")

		if _, err := exec.LookPath("script"); err == nil {
			line := "podman " + engShellQuote(p.args("exec", "-it", id, "/probe.wasm", "isatty", "exit", "4"))
			res = engRunHeldStdin(t, p.out, p.env, "script", "-qec", line, "/dev/null")
			if res.code != 4 || !strings.Contains(res.stdout, "tty") || strings.Contains(res.stdout, "notty") {
				t.Errorf("exec -it: want a tty and exit 4: %v", res)
			}
		}

		if p.busybox != "" {
			res = p.podman(t, "exec", id, "/busybox", "echo", "native")
			// Cannot be invoked: 126, as for podman run of it (podman
			// exited 255 before runw's line said "permission denied").
			if res.code != 126 || strings.Contains(res.stdout, "native") {
				t.Errorf("a native exec ran inside a wasm container, or exited other than 126: %v", res)
			}
			engWantContains(t, "exec /busybox stderr", res.stderr, "/busybox", "cannot run in a WebAssembly container")
		}
		// A directory cannot be invoked: 126, as podman answers for runc.
		if res = p.podman(t, "exec", id, "/"); res.code != 126 {
			t.Errorf("podman exec of a directory: %v, want exit 126", res)
		}
		if got := p.inspect(t, id, "{{.State.Running}}"); got != "true" {
			t.Errorf("the container is no longer running after the execs (State.Running %s)", got)
		}

		// podman cp of a running container works in the init's mount
		// namespace, whose root must be the container's, never the
		// host's: a copy in lands in the container, the guest reads it,
		// and a copy out of a host-only file finds nothing.
		src := filepath.Join(t.TempDir(), "copied-in")
		if err := os.WriteFile(src, []byte("through podman cp"), 0o644); err != nil {
			t.Fatal(err)
		}
		marker := fmt.Sprintf("/runw-podman-cp-%d", os.Getpid())
		engWant(t, p.podman(t, "cp", src, id+":"+marker), 0)
		if _, err := os.Stat(marker); err == nil {
			os.Remove(marker)
			t.Errorf("podman cp into a running runw container wrote the host's %s", marker)
		}
		if res := p.podman(t, "exec", id, "/probe.wasm", "cat", marker); res.stdout != "through podman cp" {
			t.Errorf("the guest does not see the file podman cp put in: %v", res)
		}
		if res := p.podman(t, "cp", id+":/etc/shadow", filepath.Join(t.TempDir(), "shadow")); res.code == 0 {
			t.Errorf("podman cp read /etc/shadow out of a container whose image has none: %v", res)
		}
	})

	// 13. A native entrypoint is handed to runc, through --runtime given as
	// a path; kill and rm of a detached native container go there too.
	t.Run("NativeHandOff", func(t *testing.T) {
		if p.busybox == "" {
			t.Skip("needs a static busybox (Debian: busybox-static)")
		}
		abs := func(args ...string) engResult {
			return p.podman(t, append([]string{"--runtime", runwBin}, args...)...)
		}
		res := abs("run", "--rm", engBusyboxImage)
		engWant(t, res, 0)
		if res.stdout != "native-ok\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "native-ok\n")
		}
		engWant(t, abs("run", "--rm", "--entrypoint", `["/busybox","sh","-c","exit 6"]`, engBusyboxImage), 6)

		res = abs("run", "-d", "--entrypoint", `["/busybox","sh","-c","echo native-up; exec /busybox sleep 600"]`, engBusyboxImage)
		engWant(t, res, 0)
		id := strings.TrimSpace(res.stdout)
		t.Cleanup(func() { p.podman(t, "rm", "--force", "--time", "0", id) })
		p.waitLogs(t, id, "native-up")
		if ids := engRunwIDs(t, p.out, engRunwDefaultRoot); !engContains(ids, id) {
			t.Errorf("runw list does not show the native container %s: %v", id, ids)
		}
		engWant(t, p.podman(t, "kill", id), 0)
		res = p.podman(t, "wait", id)
		engWant(t, res, 0)
		if got := strings.TrimSpace(res.stdout); got != "137" {
			t.Errorf("podman wait printed %q after kill of the native container, want 137", got)
		}
		engWant(t, p.podman(t, "rm", id), 0)
		if ids := engRunwIDs(t, p.out, engRunwDefaultRoot); engContains(ids, id) {
			t.Errorf("runw list still shows the native container %s after podman rm", id)
		}
		if _, err := os.Stat(filepath.Join(engRunwDefaultRoot, ".native", id)); err == nil {
			t.Errorf("runc state %s left after podman rm", filepath.Join(engRunwDefaultRoot, ".native", id))
		}
	})

	// 13b. A WASI 0.2 component image runs like a module image: output,
	// exit status (exit(err) is 1), a terminal (-t: the pty is its
	// stdio), and stop of a spinning component gives 143.
	t.Run("ComponentImage", func(t *testing.T) {
		comp := componentOf(t, "probe")
		const ref = "localhost/runw-component:test"
		layer := filepath.Join(t.TempDir(), "component.tar")
		engWriteLayer(t, layer, map[string]string{"app.wasm": comp})
		engWant(t, p.podman(t, "import", "--change", `ENTRYPOINT=["/app.wasm"]`, layer, ref), 0)
		res := p.runw(t, "run", "--rm", ref, "echo", "hello from a component")
		engWant(t, res, 0)
		if res.stdout != "hello from a component\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "hello from a component\n")
		}
		engWant(t, p.runw(t, "run", "--rm", ref, "exit", "7"), 1)
		res = p.runw(t, "run", "--rm", "-t", ref, "isatty")
		engWant(t, res, 0)
		if strings.TrimSpace(res.stdout) != "tty" {
			t.Errorf("with -t the component's stdout is %q, want a terminal", res.stdout)
		}
		id := p.detach(t, ref, "echo", "spinning", "spin")
		p.waitLogs(t, id, "spinning")
		res = p.podman(t, "stop", "--time", "10", id)
		engWant(t, res, 0)
		if got := p.inspect(t, id, "{{.State.ExitCode}}"); got != "143" || res.took > 5*time.Second {
			t.Errorf("stop of a spinning component: exit %s after %v, want 143 at once", got, res.took)
		}
	})

	// 14a. runw as podman's default runtime (containers.conf [engine]
	// runtime): wasm images run under wasmtime, native ones under runc,
	// with no --runtime flag at all.
	t.Run("DefaultRuntime", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "containers.conf")
		if err := os.WriteFile(conf, []byte(engPodmanConf(p.dir, `runtime = "runw"`, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		env := append(append([]string(nil), os.Environ()...), "CONTAINERS_CONF="+conf)
		res := engRun(t, p.out, env, "podman", p.args("run", "--rm", engProbeImage, "echo", "default-runtime")...)
		engWant(t, res, 0)
		if res.stdout != "default-runtime\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "default-runtime\n")
		}
		if p.busybox != "" {
			res = engRun(t, p.out, env, "podman", p.args("run", "--rm", engBusyboxImage)...)
			engWant(t, res, 0)
			if res.stdout != "native-ok\n" {
				t.Errorf("native image under the default runtime: stdout %q, want %q", res.stdout, "native-ok\n")
			}
		}
	})

	// A pod with its own user namespace (--uidmap: the infra container
	// makes it, each container joins it by path with new mount, pid, ipc
	// and uts namespaces, which must be that user namespace's own).
	t.Run("PodWithUserNamespace", func(t *testing.T) {
		const pod = "runw-userns-pod"
		engWant(t, p.runw(t, "pod", "create", "--uidmap", "0:300000:65536", "--gidmap", "0:300000:65536", "--network", "none", "--name", pod), 0)
		defer p.podman(t, "pod", "rm", "-f", "-t", "0", pod)
		res := p.runw(t, "run", "--rm", "--pod", pod, engProbeImage, "echo", "in a user-namespaced pod", "exit", "3")
		engWant(t, res, 3)
		if res.stdout != "in a user-namespaced pod\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "in a user-namespaced pod\n")
		}
	})

	// 14b. Platform → runtime mapping: newer containers.conf has
	// [engine.platform_to_oci_runtime] ("wasi/wasm*" = "crun-wasm" by
	// default) to pick the runtime from the image's platform. With runc as
	// the default runtime, a wasi/wasm image mapped to runw must run under
	// runw. podman 4.3 has no such table: it then runs the image with runc
	// and the test skips, saying so.
	t.Run("PlatformToRuntimeMapping", func(t *testing.T) {
		layer := filepath.Join(t.TempDir(), "probe.tar")
		engWriteLayer(t, layer, map[string]string{"probe.wasm": guests["probe"]})
		engWant(t, p.podman(t, "import", "--os", "wasi", "--arch", "wasm",
			"--change", `ENTRYPOINT=["/probe.wasm"]`, layer, engWasiImage), 0)
		if got := p.inspect(t, engWasiImage, "{{.Os}}/{{.Architecture}}"); got != "wasi/wasm" {
			t.Fatalf("imported image platform %s, want wasi/wasm", got)
		}
		// Named explicitly, runw runs a wasi/wasm image (podman only warns
		// that the platform is not the host's).
		res := p.runw(t, "run", "--rm", engWasiImage, "echo", "explicit")
		engWant(t, res, 0)
		if res.stdout != "explicit\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "explicit\n")
		}

		conf := filepath.Join(t.TempDir(), "containers.conf")
		body := engPodmanConf(p.dir, `runtime = "runc"`, "\n[engine.platform_to_oci_runtime]\n\"wasi/wasm*\" = \"runw\"\n")
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		env := append(append([]string(nil), os.Environ()...), "CONTAINERS_CONF="+conf)
		res = engRun(t, p.out, env, "podman", p.args("run", "--rm", engWasiImage, "echo", "mapped")...)
		if res.code == 0 && res.stdout == "mapped\n" {
			return
		}
		debug := engRun(t, p.out, env, "podman", p.args("--log-level", "debug", "info")...)
		undecoded := ""
		for _, l := range strings.Split(debug.stderr, "\n") {
			if strings.Contains(l, "Failed to decode the keys") {
				undecoded = l
			}
		}
		version := strings.TrimSpace(engRun(t, p.out, env, "podman", "--version").stdout)
		t.Skipf("%s does not map an image platform to a runtime: with [engine.platform_to_oci_runtime] "+
			"\"wasi/wasm*\" = \"runw\" the wasi/wasm image ran under the default runtime (runc) instead "+
			"(exit %d, stderr %q); podman's config loader: %s",
			version, res.code, strings.TrimSpace(res.stderr), undecoded)
	})
}
