package integration

// End-to-end tests through a real containerd (1.6 on Debian 12) and ctr:
// ctr talks to containerd, containerd starts containerd-shim-runc-v2, the
// shim runs runw (via go-runc) where it would run runc.
//
// containerd runs as a child of the test with its own root, state and
// sockets, so the machine's containerd is never touched; each ctr run
// passes --runc-root so runw's state is the test's own as well.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	engCtdNamespace  = "runw-eng"
	engCtdProbe      = "localhost/runw-probe:test"
	engCtdBusybox    = "localhost/runw-busybox:test"
	engCtdProbeBase  = "localhost/runw-probe"
	engCtdBusyboxRef = "localhost/runw-busybox"
)

// engContainerd is a private containerd started for one test.
type engContainerd struct {
	t    *testing.T
	dir  string
	out  string
	sock string
	// runwRoot is passed as --runc-root: runw's --root is
	// <runwRoot>/<namespace>.
	runwRoot string
	logFile  string
	daemon   *engDaemon
	busybox  string
}

// engContainerdConfig is config.toml: private paths and sockets; the
// deprecated io.containerd.runtime.v1.linux runtime pointed at runw (a
// daemon-side way to choose the runtime binary that ctr can use); and the
// CRI runtime "runw" (runc.v2 with BinaryName) as default_runtime_name,
// the form kubelet-driven nodes use.
func (c *engContainerd) config() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  address = %[5]q

[metrics]
  address = ""

[plugins."io.containerd.runtime.v1.linux"]
  shim = "containerd-shim"
  runtime = %[6]q
  runtime_root = %[7]q

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runw"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runw]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runw.options]
      BinaryName = %[6]q
      Root = %[8]q
`, filepath.Join(c.dir, "root"), filepath.Join(c.dir, "state"), c.sock, c.sock+".ttrpc",
		filepath.Join(c.dir, "debug.sock"), runwBin, filepath.Join(c.dir, "v1-root"), c.runwRoot)
}

// engNewContainerd skips unless containerd can run, starts it, and imports
// the test images. It is stopped, with every shim it started, at the end
// of t.
func engNewContainerd(t *testing.T) *engContainerd {
	t.Helper()
	engRequire(t, "containerd", "containerd", "ctr", "containerd-shim-runc-v2", "runc")
	// A short path: the socket path must fit in sun_path.
	dir, err := os.MkdirTemp("", "runw-ctd-")
	if err != nil {
		t.Fatal(err)
	}
	c := &engContainerd{
		t: t, dir: dir, out: filepath.Join(dir, "out"),
		sock:     filepath.Join(dir, "ctd.sock"),
		runwRoot: filepath.Join(dir, "runw-root"),
		logFile:  filepath.Join(dir, "containerd.log"),
	}
	if err := os.Mkdir(c.out, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.teardown)
	c.start()

	probe := filepath.Join(dir, "probe.oci.tar")
	engOCIArchive(t, probe, "test", "linux", "amd64", []string{"/probe.wasm"}, map[string]string{"probe.wasm": guests["probe"]})
	engWant(t, c.ctr(t, "image", "import", "--base-name", engCtdProbeBase, probe), 0)
	if c.busybox = engStaticBusybox(); c.busybox != "" {
		bb := filepath.Join(dir, "busybox.oci.tar")
		engOCIArchive(t, bb, "test", "linux", "amd64", []string{"/busybox", "echo", "native-ok"}, map[string]string{"busybox": c.busybox})
		engWant(t, c.ctr(t, "image", "import", "--base-name", engCtdBusyboxRef, bb), 0)
	}
	res := c.ctr(t, "image", "ls", "-q")
	engWantContains(t, "ctr image ls", res.stdout, engCtdProbe)
	return c
}

// start runs containerd as a child process and waits until it answers.
func (c *engContainerd) start() {
	t := c.t
	t.Helper()
	conf := filepath.Join(c.dir, "config.toml")
	if err := os.WriteFile(conf, []byte(c.config()), 0o644); err != nil {
		t.Fatal(err)
	}
	c.daemon = engStartDaemon(t, "containerd", c.logFile, engWithTestCache(exec.Command("containerd", "--config", conf, "--log-level", "info")))
	c.daemon.waitReady(t, 30*time.Second, func() error {
		if res := engRun(t, c.out, nil, "ctr", "--address", c.sock, "version"); res.code != 0 {
			return fmt.Errorf("ctr version: exit %d: %s", res.code, strings.TrimSpace(res.stderr))
		}
		return nil
	})
}

// teardown checks that the tests left no task behind, cleans up whatever
// is left anyway, stops containerd, kills any shim still serving its
// socket and removes the directory.
func (c *engContainerd) teardown() {
	t := c.t
	if c.daemon != nil && !c.daemon.exited() {
		if tasks := strings.Fields(c.ctr(t, "task", "ls", "-q").stdout); len(tasks) > 0 {
			t.Errorf("tasks left behind by the tests: %v", tasks)
			for _, id := range tasks {
				c.ctr(t, "task", "kill", "-s", "SIGKILL", id)
				engPoll(5*time.Second, func() bool { return c.taskStatus(t, id) != "RUNNING" })
				c.ctr(t, "task", "delete", "--force", id)
			}
		}
		for _, id := range strings.Fields(c.ctr(t, "container", "ls", "-q").stdout) {
			c.ctr(t, "container", "delete", id)
		}
		if t.Failed() {
			c.daemon.dumpLog(t)
		}
		c.daemon.stop(10 * time.Second)
	}
	engKillShims(c.sock, t.Errorf)
	engUnmountUnder(c.dir)
	if err := os.RemoveAll(c.dir); err != nil {
		t.Logf("remove %s: %v", c.dir, err)
	}
}

// ctr runs ctr against the test's containerd, in the test namespace.
func (c *engContainerd) ctr(t *testing.T, args ...string) engResult {
	t.Helper()
	full := append([]string{"--address", c.sock, "--namespace", engCtdNamespace}, args...)
	return engRun(t, c.out, nil, "ctr", full...)
}

// run runs `ctr run --runc-binary runw --runc-root … <flags> image id
// [args…]`; flags come before the image.
func (c *engContainerd) run(t *testing.T, flags []string, image, id string, args ...string) engResult {
	t.Helper()
	full := append([]string{"run", "--runc-binary", runwBin, "--runc-root", c.runwRoot}, flags...)
	full = append(full, image, id)
	return c.ctr(t, append(full, args...)...)
}

// taskStatus is the task's STATUS column in `ctr task ls` ("" if absent).
func (c *engContainerd) taskStatus(t *testing.T, id string) string {
	t.Helper()
	for _, line := range strings.Split(c.ctr(t, "task", "ls").stdout, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == id {
			return f[2]
		}
	}
	return ""
}

// removeContainer deletes id's task (if any) and container, killing a
// running task first; used as a cleanup.
func (c *engContainerd) removeContainer(t *testing.T, id string) {
	t.Helper()
	if st := c.taskStatus(t, id); st != "" {
		if st != "STOPPED" {
			c.ctr(t, "task", "kill", "-s", "SIGKILL", id)
			engPoll(10*time.Second, func() bool { return c.taskStatus(t, id) == "STOPPED" })
		}
		c.ctr(t, "task", "delete", id)
	}
	c.ctr(t, "container", "delete", id)
}

// assertRunwRootClean fails the test if runw keeps state for any
// container in the test namespace.
func (c *engContainerd) assertRunwRootClean(t *testing.T) {
	t.Helper()
	if left := engRootLeftovers(filepath.Join(c.runwRoot, engCtdNamespace)); len(left) > 0 {
		t.Errorf("runw state left after the container was removed: %v", left)
	}
}

// engExitCodeRE matches ctr task delete's warning about the exit status.
var engExitCodeRE = regexp.MustCompile(`exit code (\d+)`)

func TestContainerd(t *testing.T) {
	c := engNewContainerd(t)

	// 15. ctr run --rm with --runc-binary runw: output and exit status.
	t.Run("RunRmOutputAndExitCode", func(t *testing.T) {
		res := c.run(t, []string{"--rm"}, engCtdProbe, "run-rm", "/probe.wasm", "echo", "hi from ctr", "exit", "4")
		engWant(t, res, 4)
		if res.stdout != "hi from ctr\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "hi from ctr\n")
		}
		// The image's entrypoint when no args are given.
		res = c.run(t, []string{"--rm"}, engCtdProbe, "run-rm-entry")
		engWant(t, res, 0)
		if res.stdout != "" {
			t.Errorf("the probe without commands printed %q", res.stdout)
		}
		if res := c.ctr(t, "container", "ls", "-q"); strings.TrimSpace(res.stdout) != "" {
			t.Errorf("containers left after run --rm: %q", res.stdout)
		}
		c.assertRunwRootClean(t)
	})

	// 16. run -d, then task kill (SIGTERM) ends an endless loop: the task
	// is STOPPED with exit status 143, and the output reached the log.
	t.Run("DetachedKill", func(t *testing.T) {
		id := "detached-kill"
		logPath := filepath.Join(t.TempDir(), "task.log")
		t.Cleanup(func() { c.removeContainer(t, id) })
		res := c.run(t, []string{"-d", "--log-uri", "file://" + logPath}, engCtdProbe, id, "/probe.wasm", "echo", "spinning", "spin")
		engWant(t, res, 0)
		if !engPoll(20*time.Second, func() bool {
			b, _ := os.ReadFile(logPath)
			return strings.Contains(string(b), "spinning")
		}) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("the guest's output never reached the task log: %q", b)
		}
		if st := c.taskStatus(t, id); st != "RUNNING" {
			t.Fatalf("task status %q, want RUNNING", st)
		}
		start := time.Now()
		engWant(t, c.ctr(t, "task", "kill", id), 0)
		if !engPoll(10*time.Second, func() bool { return c.taskStatus(t, id) == "STOPPED" }) {
			t.Fatalf("task still %s 10s after SIGTERM", c.taskStatus(t, id))
		}
		t.Logf("SIGTERM to STOPPED took %v", time.Since(start))
		res = c.ctr(t, "task", "delete", id)
		engWant(t, res, 0)
		m := engExitCodeRE.FindStringSubmatch(res.stdout + res.stderr)
		if m == nil || m[1] != "143" {
			t.Errorf("ctr task delete does not report exit code 143: %v", res)
		}
		engWant(t, c.ctr(t, "container", "delete", id), 0)
		c.assertRunwRootClean(t)
	})

	// 17. task exec runs another wasm module in the running container; a
	// missing program fails with a clear message and leaves the container
	// running.
	t.Run("TaskExec", func(t *testing.T) {
		id := "task-exec"
		t.Cleanup(func() { c.removeContainer(t, id) })
		engWant(t, c.run(t, []string{"-d", "--null-io"}, engCtdProbe, id, "/probe.wasm", "spin"), 0)
		res := c.ctr(t, "task", "exec", "--exec-id", "e1", id, "/probe.wasm", "echo", "fromexec")
		engWant(t, res, 0)
		if res.stdout != "fromexec\n" {
			t.Errorf("exec stdout %q, want %q", res.stdout, "fromexec\n")
		}
		engWant(t, c.ctr(t, "task", "exec", "--exec-id", "e2", id, "/probe.wasm", "exit", "3"), 3)
		res = c.ctr(t, "task", "exec", "--exec-id", "e3", id, "/bin/sh")
		if res.code == 0 {
			t.Errorf("exec of a missing /bin/sh succeeded: %v", res)
		}
		engWantContains(t, "ctr task exec stderr", res.stderr, "/bin/sh", "no such file or directory")
		if st := c.taskStatus(t, id); st != "RUNNING" {
			t.Errorf("task status %q after the execs, want RUNNING", st)
		}
	})

	// 18a. The runtime binary chosen in containerd's config rather than on
	// ctr's command line: ctr 1.6 passes --runtime-config-path only to
	// runtimes other than runc.v2 and the runc shims do not read it, so the
	// daemon-side form ctr can use is the (deprecated) v1 linux runtime's
	// `runtime` key.
	t.Run("ConfigRuntimeBinaryV1Linux", func(t *testing.T) {
		if _, err := exec.LookPath("containerd-shim"); err != nil {
			t.Skipf("needs containerd's v1 shim: %v", err)
		}
		res := c.ctr(t, "run", "--rm", "--runtime", "io.containerd.runtime.v1.linux", engCtdProbe, "v1-linux",
			"/probe.wasm", "echo", "via config", "exit", "6")
		engWant(t, res, 6)
		if res.stdout != "via config\n" {
			t.Errorf("stdout %q, want %q (runc cannot run a .wasm: this output means runw ran it)", res.stdout, "via config\n")
		}
		if left := engRootLeftovers(filepath.Join(c.dir, "v1-root", engCtdNamespace)); len(left) > 0 {
			t.Errorf("runw state left after run --rm: %v", left)
		}
	})

	// 18b. The CRI form (runtimes.runw: runc.v2 with options.BinaryName) is
	// accepted: containerd loads the CRI plugin with it as the default
	// runtime. (The CRI path itself is driven by cri_test.go.)
	t.Run("ConfigCRIBinaryNameAccepted", func(t *testing.T) {
		res := c.ctr(t, "plugins", "ls")
		engWant(t, res, 0)
		var cri string
		for _, line := range strings.Split(res.stdout, "\n") {
			if f := strings.Fields(line); len(f) == 4 && f[0] == "io.containerd.grpc.v1" && f[1] == "cri" {
				cri = f[3]
			}
		}
		if cri != "ok" {
			c.daemon.dumpLog(t)
			t.Errorf("CRI plugin status %q with runtimes.runw BinaryName=%s, want ok:\n%s", cri, runwBin, res.stdout)
		}
		log, _ := os.ReadFile(c.logFile)
		engWantContains(t, "containerd log", string(log), "DefaultRuntimeName:runw", "BinaryName:"+runwBin)
	})

	// 19. A native sidecar image through ctr with --runc-binary runw: runw
	// hands it to runc; output and exit status come back, and neither runw
	// nor runc keeps state after --rm.
	t.Run("NativeSidecar", func(t *testing.T) {
		if c.busybox == "" {
			t.Skip("needs a static busybox (Debian: busybox-static)")
		}
		res := c.run(t, []string{"--rm"}, engCtdBusybox, "native-entry")
		engWant(t, res, 0)
		if res.stdout != "native-ok\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "native-ok\n")
		}
		res = c.run(t, []string{"--rm"}, engCtdBusybox, "native-sh", "/busybox", "sh", "-c", "echo sidecar; exit 9")
		engWant(t, res, 9)
		if res.stdout != "sidecar\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "sidecar\n")
		}
		c.assertRunwRootClean(t)

		// Detached: kill and delete are forwarded to runc too.
		id := "native-detached"
		t.Cleanup(func() { c.removeContainer(t, id) })
		engWant(t, c.run(t, []string{"-d", "--null-io"}, engCtdBusybox, id, "/busybox", "sleep", "600"), 0)
		if st := c.taskStatus(t, id); st != "RUNNING" {
			t.Fatalf("native task status %q, want RUNNING", st)
		}
		engWant(t, c.ctr(t, "task", "kill", "-s", "SIGKILL", id), 0)
		if !engPoll(10*time.Second, func() bool { return c.taskStatus(t, id) == "STOPPED" }) {
			t.Fatalf("native task still %s 10s after SIGKILL", c.taskStatus(t, id))
		}
		res = c.ctr(t, "task", "delete", id)
		engWant(t, res, 0)
		if m := engExitCodeRE.FindStringSubmatch(res.stdout + res.stderr); m == nil || m[1] != "137" {
			t.Errorf("ctr task delete does not report exit code 137: %v", res)
		}
		engWant(t, c.ctr(t, "container", "delete", id), 0)
		c.assertRunwRootClean(t)
	})
}
