package integration

// The Kubernetes path, end to end: a private containerd 1.6 with its CRI
// plugin and a "runw" runtime handler (io.containerd.runc.v2 with
// BinaryName = runw), driven over gRPC with the CRI runtime v1 API the way
// kubelet drives it. The pod sandbox (a static pause binary) goes through
// runw to runc; the app containers are the probe guest in an OCI image.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	criHandler    = "runw"
	criPauseImage = "localhost/runw-pause:test"
	criProbeImage = "localhost/runw-probe:test"
	// criWasiImage is the same probe image with the platform wasi/wasm
	// in its config, as wasm image builders label it.
	criWasiImage = "localhost/runw-probe-wasi:test"
)

// criPauseC is the pod sandbox's process: it blocks until SIGTERM or
// SIGINT and then exits 0, as the real pause does.
const criPauseC = `#include <signal.h>
#include <unistd.h>
static void done(int sig) { (void)sig; _exit(0); }
int main(void) {
	signal(SIGTERM, done);
	signal(SIGINT, done);
	for (;;)
		pause();
}
`

// criEnv is one private containerd and a CRI client on its socket.
type criEnv struct {
	t        *testing.T
	dir      string // everything the test makes: configs, state, logs
	sock     string // containerd's gRPC socket
	runwRoot string // the runw handler's Root
	cgParent string // the pods' cgroup parent, as kubelet's /kubepods
	logFile  string // containerd's own output
	rt       cri.RuntimeServiceClient
	img      cri.ImageServiceClient
}

// TestCRIRunw runs wasm pods through containerd's CRI plugin with the
// runw runtime handler.
func TestCRIRunw(t *testing.T) {
	e := newCRIEnv(t)
	ctx := context.Background()

	ver, err := e.rt.Version(ctx, &cri.VersionRequest{})
	if err != nil {
		t.Fatalf("CRI Version: %v", err)
	}
	t.Logf("CRI runtime %s %s, API %s", ver.RuntimeName, ver.RuntimeVersion, ver.RuntimeApiVersion)
	for _, ref := range []string{criPauseImage, criProbeImage, criWasiImage} {
		st, err := e.img.ImageStatus(ctx, &cri.ImageStatusRequest{Image: &cri.ImageSpec{Image: ref}})
		if err != nil || st.Image == nil {
			t.Fatalf("CRI ImageStatus %s: %v (image %v)", ref, err, st.GetImage())
		}
	}

	pod := e.runPod("wasm-pod")

	// The sandbox went through runw (handler runw) and on to runc: runc's
	// state for it lives in runw's root, under .native.
	t.Run("SandboxIsNative", func(t *testing.T) {
		out, err := exec.Command("runc", "--root", filepath.Join(e.runwRoot, "k8s.io", ".native"), "list", "-q").CombinedOutput()
		if err != nil {
			t.Fatalf("runc list in runw's .native root: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), pod.id) {
			t.Errorf("sandbox %s not among runc's containers in runw's root: %q", pod.id, out)
		}
		st, err := e.rt.PodSandboxStatus(ctx, &cri.PodSandboxStatusRequest{PodSandboxId: pod.id})
		if err != nil {
			t.Fatal(err)
		}
		if st.Status.State != cri.PodSandboxState_SANDBOX_READY {
			t.Errorf("sandbox state %v, want SANDBOX_READY", st.Status.State)
		}
		if st.Status.RuntimeHandler != criHandler {
			t.Errorf("sandbox runtime handler %q, want %q", st.Status.RuntimeHandler, criHandler)
		}
	})

	t.Run("ExitCodeAndLog", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "exit7", args: []string{"echo", "hi", "exit", "7"}})
		c.start(t)
		st := c.waitExited(t, 60*time.Second)
		if st.ExitCode != 7 {
			t.Errorf("exit code %d, want 7 (status %+v)", st.ExitCode, st)
		}
		lines := c.logLines(t)
		want := []criLogLine{{stream: "stdout", tag: "F", msg: "hi"}}
		if !slices.Equal(lines, want) {
			t.Errorf("CRI log: got %+v, want %+v", lines, want)
		}
		c.remove(t)
	})

	// An image whose config says wasi/wasm, as wasm image builders make
	// them, runs the same.
	t.Run("WasiPlatformImage", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "wasi", image: criWasiImage, args: []string{"echo", "wasi-image", "exit", "9"}})
		c.start(t)
		if st := c.waitExited(t, 60*time.Second); st.ExitCode != 9 {
			t.Errorf("exit code %d, want 9 (status %+v)", st.ExitCode, st)
		}
		if lines := c.logLines(t); !containsLine(lines, "stdout", "wasi-image") {
			t.Errorf("CRI log lacks the guest's line: %+v", lines)
		}
		c.remove(t)
	})

	t.Run("ArgsEnvVolumes", func(t *testing.T) {
		rw, ro := t.TempDir(), t.TempDir()
		if err := os.WriteFile(filepath.Join(ro, "in.txt"), []byte("from-host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c := pod.create(t, criContainer{
			name:    "app",
			command: []string{"/probe.wasm"},
			args: []string{
				"args", "env",
				"write", "/data/out.txt", "from-guest",
				"cat", "/ro/in.txt",
				"write", "/ro/nope.txt", "x",
				"stderr", "to-stderr",
			},
			envs: map[string]string{"GREETING": "hello wasm", "EMPTY": ""},
			mounts: []*cri.Mount{
				{ContainerPath: "/data", HostPath: rw},
				{ContainerPath: "/ro", HostPath: ro, Readonly: true},
			},
		})
		c.start(t)
		st := c.waitExited(t, 60*time.Second)
		if st.ExitCode != 0 {
			t.Errorf("exit code %d, want 0 (status %+v)", st.ExitCode, st)
		}
		lines := c.logLines(t)
		var stdout []string
		for _, l := range lines {
			if l.stream == "stdout" {
				stdout = append(stdout, l.msg)
			}
		}
		if len(stdout) != 5 {
			t.Fatalf("want 5 stdout lines (args, env, OK, from-host, ERR), got %q", stdout)
		}
		var args, env []string
		if err := json.Unmarshal([]byte(stdout[0]), &args); err != nil {
			t.Errorf("args line %q: %v", stdout[0], err)
		}
		wantArgs := []string{"/probe.wasm", "args", "env", "write", "/data/out.txt", "from-guest",
			"cat", "/ro/in.txt", "write", "/ro/nope.txt", "x", "stderr", "to-stderr"}
		if !slices.Equal(args, wantArgs) {
			t.Errorf("guest args %q, want %q", args, wantArgs)
		}
		if err := json.Unmarshal([]byte(stdout[1]), &env); err != nil {
			t.Errorf("env line %q: %v", stdout[1], err)
		}
		for _, kv := range []string{"GREETING=hello wasm", "EMPTY="} {
			if !slices.Contains(env, kv) {
				t.Errorf("guest env lacks %q: %q", kv, env)
			}
		}
		if stdout[2] != "OK" {
			t.Errorf("write to the rw volume: %q, want OK", stdout[2])
		}
		if b, err := os.ReadFile(filepath.Join(rw, "out.txt")); err != nil || string(b) != "from-guest" {
			t.Errorf("host sees rw volume file %q (%v), want %q", b, err, "from-guest")
		}
		if stdout[3] != "from-host" {
			t.Errorf("read from the ro volume: %q, want from-host", stdout[3])
		}
		if !strings.HasPrefix(stdout[4], "ERR") {
			t.Errorf("write to the ro volume: %q, want ERR …", stdout[4])
		}
		if _, err := os.Stat(filepath.Join(ro, "nope.txt")); err == nil {
			t.Errorf("the guest wrote a file into the read-only volume")
		}
		if !containsLine(lines, "stderr", "to-stderr") {
			t.Errorf("CRI log lacks the stderr line: %+v", lines)
		}
		c.remove(t)
	})

	t.Run("StopSpinningGuest", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "spin", args: []string{"echo", "spinning", "spin"}})
		c.start(t)
		c.waitLog(t, "spinning", 60*time.Second)
		if st := c.status(t); st.State != cri.ContainerState_CONTAINER_RUNNING {
			t.Fatalf("state %v, want CONTAINER_RUNNING", st.State)
		}
		// The app container is runw's own (a wasm guest), not runc's.
		e.assertRunwRunning(t, c.id)
		e.reportStats(t, c.id)

		t.Run("ExecSync", func(t *testing.T) {
			resp, err := e.rt.ExecSync(ctx, &cri.ExecSyncRequest{
				ContainerId: c.id,
				Cmd:         []string{"/probe.wasm", "echo", "exec-ok", "stderr", "exec-err", "exit", "5"},
				Timeout:     30,
			})
			if err != nil {
				t.Fatalf("ExecSync: %v", err)
			}
			if got := string(resp.Stdout); got != "exec-ok\n" {
				t.Errorf("ExecSync stdout %q, want %q", got, "exec-ok\n")
			}
			if got := string(resp.Stderr); got != "exec-err\n" {
				t.Errorf("ExecSync stderr %q, want %q", got, "exec-err\n")
			}
			if resp.ExitCode != 5 {
				t.Errorf("ExecSync exit code %d, want 5", resp.ExitCode)
			}
		})

		// In-place resize: kubelet updates a running container's resources,
		// which the shim hands to `runw update`.
		t.Run("UpdateContainerResources", func(t *testing.T) {
			const limit = 256 << 20
			_, err := e.rt.UpdateContainerResources(ctx, &cri.UpdateContainerResourcesRequest{
				ContainerId: c.id,
				Linux: &cri.LinuxContainerResources{
					CpuShares: 512, CpuPeriod: 100000, CpuQuota: 50000, MemoryLimitInBytes: limit, OomScoreAdj: 1000,
				},
			})
			if err != nil {
				t.Fatalf("UpdateContainerResources: %v", err)
			}
			assertUpdatedCgroup(t, pod.config.Linux.CgroupParent+"/"+c.id, limit)
		})

		e.stopPromptly(t, c, 143)
		c.remove(t)
	})

	// A guest blocked in a host call (a sleep) stops as promptly.
	t.Run("StopSleepingGuest", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "sleeper", args: []string{"echo", "sleeping", "sleep", "1h"}})
		c.start(t)
		c.waitLog(t, "sleeping", 60*time.Second)
		e.stopPromptly(t, c, 143)
		c.remove(t)
	})

	// A guest that outgrows the container's memory limit is stopped by it.
	// runw caps the guest's linear memory at the limit, so memory.grow
	// fails before the kernel's OOM killer acts: the guest's own runtime
	// gives up (Go: "out of memory", exit 2) and kubelet sees reason
	// "Error", not "OOMKilled" with 137.
	t.Run("MemoryLimit", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "oom", memory: 64 << 20, args: []string{"alloc", "32", "alloc", "32", "alloc", "32", "echo", "survived"}})
		c.start(t)
		st := c.waitExited(t, 60*time.Second)
		t.Logf("over its 64 MiB limit: exit code %d, reason %q", st.ExitCode, st.Reason)
		lines := c.logLines(t)
		if st.ExitCode == 0 || containsLine(lines, "stdout", "survived") {
			t.Errorf("a guest allocating 96 MiB under a 64 MiB limit survived (exit code %d)", st.ExitCode)
		}
		if st.Reason != "OOMKilled" && !containsLine(lines, "stderr", "fatal error: out of memory") {
			t.Errorf("neither OOMKilled nor the guest's out-of-memory error: reason %q, log %+v", st.Reason, lines)
		}
		c.remove(t)
	})

	// A native container in a runw pod (a sidecar): runw hands it to runc,
	// and it lives and stops as under runc.
	t.Run("NativeSidecar", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "sidecar", image: criPauseImage})
		c.start(t)
		deadline := time.Now().Add(30 * time.Second)
		for c.status(t).State != cri.ContainerState_CONTAINER_RUNNING {
			if time.Now().After(deadline) {
				t.Fatalf("native sidecar not running after 30s: %+v", c.status(t))
			}
			time.Sleep(50 * time.Millisecond)
		}
		out, _ := exec.Command("runc", "--root", filepath.Join(e.runwRoot, "k8s.io", ".native"), "list", "-q").CombinedOutput()
		if !strings.Contains(string(out), c.id) {
			t.Errorf("native container %s not handed to runc (runc list: %q)", c.id, out)
		}
		// The pause program exits 0 on SIGTERM.
		e.stopPromptly(t, c, 0)
		c.remove(t)
	})

	t.Run("TwoContainersInOnePod", func(t *testing.T) {
		a := pod.create(t, criContainer{name: "first", args: []string{"echo", "one", "sleep", "3s", "exit", "3"}})
		b := pod.create(t, criContainer{name: "second", args: []string{"echo", "two", "sleep", "3s", "exit", "4"}})
		a.start(t)
		b.start(t)
		a.waitLog(t, "one", 60*time.Second)
		b.waitLog(t, "two", 60*time.Second)
		// Both print before sleeping, so both are running now.
		list, err := e.rt.ListContainers(ctx, &cri.ListContainersRequest{Filter: &cri.ContainerFilter{
			PodSandboxId: pod.id,
			State:        &cri.ContainerStateValue{State: cri.ContainerState_CONTAINER_RUNNING},
		}})
		if err != nil {
			t.Fatal(err)
		}
		running := map[string]bool{}
		for _, c := range list.Containers {
			running[c.Id] = true
		}
		if !running[a.id] || !running[b.id] {
			t.Errorf("want both containers running at once, running: %v", running)
		}
		if st := a.waitExited(t, 60*time.Second); st.ExitCode != 3 {
			t.Errorf("first: exit code %d, want 3", st.ExitCode)
		}
		if st := b.waitExited(t, 60*time.Second); st.ExitCode != 4 {
			t.Errorf("second: exit code %d, want 4", st.ExitCode)
		}
		a.remove(t)
		b.remove(t)
	})

	pod.remove(t)
	e.assertNothingLeft(t)
}

// ---- containerd ----

// newCRIEnv skips the test unless it can run, then builds the images and
// starts containerd. Everything is torn down at the end of the test.
func newCRIEnv(t *testing.T) *criEnv {
	t.Helper()
	return newCRIEnvCNI(t, nil)
}

// newCRIEnvCNI is newCRIEnv with a CNI network for pods that do not use
// the node's: conflist, given the test's directory, is the network's
// conflist, written into the CRI plugin's conf_dir (the test's own) before
// containerd starts. nil: no network configured.
func newCRIEnvCNI(t *testing.T, conflist func(dir string) string) *criEnv {
	t.Helper()
	engRequire(t, "CRI", "containerd", "ctr", "containerd-shim-runc-v2", "runc", "podman", "gcc")
	// A short path: containerd's socket path must fit in sun_path.
	dir, err := os.MkdirTemp("", "runw-cri-")
	if err != nil {
		t.Fatal(err)
	}
	e := &criEnv{
		t:        t,
		dir:      dir,
		sock:     filepath.Join(dir, "containerd.sock"),
		runwRoot: filepath.Join(dir, "runw-root"),
		cgParent: "/" + filepath.Base(dir),
		logFile:  filepath.Join(dir, "containerd.log"),
	}
	t.Cleanup(e.removeDir)
	e.buildImages()
	if conflist != nil {
		cniConf := filepath.Join(e.dir, "cni")
		if err := os.MkdirAll(cniConf, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cniConf, "10-runw-test.conflist"), []byte(conflist(e.dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.startContainerd()
	for _, name := range []string{"pause", "probe", "probe-wasi"} {
		e.ctr("image", "import", "--all-platforms", filepath.Join(e.dir, name+".oci.tar"))
	}
	return e
}

// removeDir unmounts whatever is still mounted under the test directory
// (after a failure containerd may leave rootfs mounts) and removes it, and
// removes the pods' cgroups.
func (e *criEnv) removeDir() {
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		var mounts []string
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && (f[4] == e.dir || strings.HasPrefix(f[4], e.dir+"/")) {
				mounts = append(mounts, f[4])
			}
		}
		for i := len(mounts) - 1; i >= 0; i-- {
			syscall.Unmount(mounts[i], syscall.MNT_DETACH)
		}
	}
	e.killPodProcesses()
	if err := os.RemoveAll(e.dir); err != nil {
		e.t.Logf("remove %s: %v", e.dir, err)
	}
	// The pods' cgroup parent is the test's, as /kubepods is kubelet's:
	// remove it from every hierarchy, deepest first.
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	hierarchies = append(hierarchies, "/sys/fs/cgroup")
	for _, h := range hierarchies {
		top := filepath.Join(h, e.cgParent)
		var dirs []string
		filepath.Walk(top, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
	}
}

// killPodProcesses kills whatever still runs in the pods' cgroups: after a
// failure, containers whose shim is gone (pause under runc, guests under
// runw) would otherwise outlive the test.
func (e *criEnv) killPodProcesses() {
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	hierarchies = append(hierarchies, "/sys/fs/cgroup")
	killed := map[int]bool{}
	for _, h := range hierarchies {
		filepath.Walk(filepath.Join(h, e.cgParent), func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || fi.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 && !killed[pid] {
					killed[pid] = true
					e.t.Logf("killing leftover container process %d (%s)", pid, filepath.Dir(p))
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
	if len(killed) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
}

// buildImages makes the pause image and the probe's wasm images as OCI
// archives, with podman in a private store.
func (e *criEnv) buildImages() {
	podman := buildTestImages(e.t, e.dir, filepath.Join(e.dir, "podman", "root"), filepath.Join(e.dir, "podman", "run"))
	for name, ref := range map[string]string{"pause": criPauseImage, "probe": criProbeImage, "probe-wasi": criWasiImage} {
		podman("save", "--format", "oci-archive", "-o", filepath.Join(e.dir, name+".oci.tar"), ref)
	}
}

// buildTestImages builds the pause image (criPauseImage) and the probe's
// wasm images (criProbeImage, criWasiImage) with podman into the vfs
// store at root and runroot, working in dir. It returns podman on that
// store. The containerd test saves the images as OCI archives; the CRI-O
// test builds them in CRI-O's own store.
func buildTestImages(t *testing.T, dir, root, runroot string) (podman func(args ...string)) {
	t.Helper()
	pauseDir := filepath.Join(dir, "pause-rootfs")
	probeDir := filepath.Join(dir, "probe-rootfs")
	for _, d := range []string{pauseDir, probeDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(dir, "pause.c")
	if err := os.WriteFile(src, []byte(criPauseC), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-static", "-O2", "-o", filepath.Join(pauseDir, "pause"), src).CombinedOutput(); err != nil {
		t.Skipf("cannot build a static pause binary (gcc -static needs libc6-dev): %v\n%s", err, out)
	}
	if err := copyFile(guests["probe"], filepath.Join(probeDir, "probe.wasm")); err != nil {
		t.Fatal(err)
	}

	conf := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	podman = func(args ...string) {
		t.Helper()
		full := append([]string{
			"--root", root,
			"--runroot", runroot,
			"--tmpdir", filepath.Join(dir, "podman", "tmp"),
			"--storage-driver", "vfs",
			"--cgroup-manager", "cgroupfs",
			"--events-backend", "none",
		}, args...)
		cmd := exec.Command("podman", full...)
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, img := range []struct {
		name, dir, entry, ref string
		platform              []string
	}{
		{"pause", pauseDir, "/pause", criPauseImage, nil},
		{"probe", probeDir, "/probe.wasm", criProbeImage, nil},
		{"probe-wasi", probeDir, "/probe.wasm", criWasiImage, []string{"--os", "wasi", "--arch", "wasm"}},
	} {
		tarball := filepath.Join(dir, img.name+".tar")
		if out, err := exec.Command("tar", "-C", img.dir, "-cf", tarball, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar %s: %v\n%s", img.dir, err, out)
		}
		args := append([]string{"import", "--change", fmt.Sprintf(`ENTRYPOINT=["%s"]`, img.entry)}, img.platform...)
		podman(append(args, tarball, img.ref)...)
	}
	return podman
}

// criConfig is containerd's config.toml for the test.
func (e *criEnv) criConfig() string {
	cniConf := filepath.Join(e.dir, "cni")
	os.MkdirAll(cniConf, 0o755)
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
oom_score = 0

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  address = %[5]q

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runw]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["io.github.runw.*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runw.options]
        BinaryName = %[7]q
        Root = %[8]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[9]q
`, filepath.Join(e.dir, "root"), filepath.Join(e.dir, "state"), e.sock, e.sock+".ttrpc",
		filepath.Join(e.dir, "debug.sock"), criPauseImage, runwBin, e.runwRoot, cniConf)
}

// startContainerd starts containerd as a child and waits for its CRI
// service. It is stopped at the end of the test, with any shim left
// serving its socket.
func (e *criEnv) startContainerd() {
	t := e.t
	t.Helper()
	conf := filepath.Join(e.dir, "config.toml")
	if err := os.WriteFile(conf, []byte(e.criConfig()), 0o644); err != nil {
		t.Fatal(err)
	}
	d := engStartDaemon(t, "containerd", e.logFile, engWithTestCache(exec.Command("containerd", "--config", conf, "--log-level", "info")))
	t.Cleanup(func() {
		if t.Failed() {
			d.dumpLog(t)
		}
		d.stop(10 * time.Second)
		engKillShims(e.sock, t.Logf)
	})

	conn, err := grpc.NewClient("unix://"+e.sock,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", e.sock)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.rt = cri.NewRuntimeServiceClient(conn)
	e.img = cri.NewImageServiceClient(conn)

	d.waitReady(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := e.rt.Version(ctx, &cri.VersionRequest{})
		return err
	})
}

// ctr runs ctr in the k8s.io namespace against the test's containerd.
func (e *criEnv) ctr(args ...string) string {
	e.t.Helper()
	full := append([]string{"--address", e.sock, "--namespace", "k8s.io"}, args...)
	out, err := exec.Command("ctr", full...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// reportStats asks for a running container's stats and reports them; it
// fails only if the call itself fails.
func (e *criEnv) reportStats(t *testing.T, id string) {
	t.Helper()
	resp, err := e.rt.ContainerStats(context.Background(), &cri.ContainerStatsRequest{ContainerId: id})
	if err != nil {
		t.Errorf("ContainerStats: %v", err)
		return
	}
	s := resp.GetStats()
	t.Logf("ContainerStats: cpu=%v memory=%v writable_layer=%v", s.GetCpu(), s.GetMemory(), s.GetWritableLayer())
	cpu := s.GetCpu().GetUsageCoreNanoSeconds().GetValue()
	mem := s.GetMemory().GetWorkingSetBytes().GetValue()
	if s.GetCpu() == nil && s.GetMemory() == nil {
		t.Logf("ContainerStats: containerd returned no CPU or memory usage for the runw container")
		return
	}
	if s.GetMemory() != nil && mem == 0 {
		t.Errorf("ContainerStats: memory working set reported as 0 for a running guest")
	}
	if s.GetCpu() == nil {
		return
	}
	// The guest spins: its CPU time must grow.
	time.Sleep(500 * time.Millisecond)
	resp, err = e.rt.ContainerStats(context.Background(), &cri.ContainerStatsRequest{ContainerId: id})
	if err != nil {
		t.Errorf("ContainerStats: %v", err)
		return
	}
	cpu2 := resp.GetStats().GetCpu().GetUsageCoreNanoSeconds().GetValue()
	t.Logf("ContainerStats: CPU usage %v, 500ms later %v", time.Duration(cpu), time.Duration(cpu2))
	if cpu2 <= cpu {
		t.Errorf("ContainerStats: CPU usage of a spinning guest did not grow (%d then %d ns)", cpu, cpu2)
	}
}

// stopPromptly stops a running container as kubelet does (SIGTERM, a
// 10 s grace period, then SIGKILL) and checks that SIGTERM ended it, long
// before the grace period ran out, with the status code want.
func (e *criEnv) stopPromptly(t *testing.T, c *criCtr, want int32) {
	t.Helper()
	begin := time.Now()
	_, err := e.rt.StopContainer(context.Background(), &cri.StopContainerRequest{ContainerId: c.id, Timeout: 10})
	took := time.Since(begin)
	if err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	t.Logf("StopContainer(timeout 10) returned after %v", took.Round(time.Millisecond))
	if took >= 5*time.Second {
		t.Errorf("StopContainer took %v: SIGTERM did not end the guest", took)
	}
	st := c.status(t)
	if st.State != cri.ContainerState_CONTAINER_EXITED || st.ExitCode != want {
		t.Errorf("after stop: state %v exit code %d, want CONTAINER_EXITED %d", st.State, st.ExitCode, want)
	}
}

// assertRunwRunning checks that runw itself (not the native runtime it
// hands sandboxes to) runs the container.
func (e *criEnv) assertRunwRunning(t *testing.T, id string) {
	t.Helper()
	out, err := exec.Command(runwBin, "--root", filepath.Join(e.runwRoot, "k8s.io"), "state", id).CombinedOutput()
	if err != nil {
		t.Fatalf("runw state %s: %v\n%s", id, err, out)
	}
	var st containerState
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("runw state %s: %v\n%s", id, err, out)
	}
	if st.Status != "running" {
		t.Errorf("runw state %s: status %q, want running", id, st.Status)
	}
	native, _ := exec.Command("runc", "--root", filepath.Join(e.runwRoot, "k8s.io", ".native"), "list", "-q").CombinedOutput()
	if strings.Contains(string(native), id) {
		t.Errorf("container %s was handed to runc, want it run by runw", id)
	}
}

// assertNothingLeft checks that no runw container is left in runw's root
// and no task in containerd.
func (e *criEnv) assertNothingLeft(t *testing.T) {
	t.Helper()
	// The shim gives runw --root <Root>/<namespace>.
	var left []string
	namespaces, _ := os.ReadDir(e.runwRoot)
	for _, ns := range namespaces {
		if strings.HasPrefix(ns.Name(), ".") {
			continue
		}
		if !ns.IsDir() {
			left = append(left, ns.Name())
			continue
		}
		entries, _ := os.ReadDir(filepath.Join(e.runwRoot, ns.Name()))
		for _, c := range entries {
			if !strings.HasPrefix(c.Name(), ".") {
				left = append(left, filepath.Join(ns.Name(), c.Name()))
			}
		}
	}
	if len(left) > 0 {
		t.Errorf("left in runw's root %s: %v", e.runwRoot, left)
	}
	out, err := exec.Command("runc", "--root", filepath.Join(e.runwRoot, "k8s.io", ".native"), "list", "-q").CombinedOutput()
	if err == nil && strings.TrimSpace(string(out)) != "" {
		t.Errorf("runc still knows containers in runw's .native root: %q", out)
	}
	tasks := strings.Split(strings.TrimSpace(e.ctr("task", "ls")), "\n")
	if len(tasks) > 1 { // the header line
		t.Errorf("ctr task ls is not empty:\n%s", strings.Join(tasks, "\n"))
	}
}

// ---- pods and containers ----

type criPod struct {
	e      *criEnv
	id     string
	config *cri.PodSandboxConfig
	logDir string
}

// runPod runs a pod sandbox the way kubelet does for a hostNetwork pod
// with runtimeClassName: runw.
func (e *criEnv) runPod(name string) *criPod {
	e.t.Helper()
	return e.runPodNet(name, cri.NamespaceMode_NODE)
}

// runPodNet runs a pod sandbox with network mode: NODE for a hostNetwork
// pod, POD for a pod with its own network namespace, set up by CNI.
func (e *criEnv) runPodNet(name string, network cri.NamespaceMode) *criPod {
	e.t.Helper()
	return e.runPodAnnotated(name, network, nil)
}

// runPodAnnotated runs a pod sandbox as runPodNet does, the pod carrying
// the annotations ann besides kubelet's own.
func (e *criEnv) runPodAnnotated(name string, network cri.NamespaceMode, ann map[string]string) *criPod {
	t := e.t
	t.Helper()
	nsOpts := &cri.NamespaceOption{Network: network, Pid: cri.NamespaceMode_CONTAINER, Ipc: cri.NamespaceMode_POD}
	config := podSandboxConfig(t, e.dir, e.cgParent, name, nsOpts)
	for k, v := range ann {
		config.Annotations[k] = v
	}
	logDir := config.LogDirectory
	resp, err := e.rt.RunPodSandbox(context.Background(), &cri.RunPodSandboxRequest{Config: config, RuntimeHandler: criHandler})
	if err != nil {
		t.Fatalf("RunPodSandbox (handler %s): %v", criHandler, err)
	}
	p := &criPod{e: e, id: resp.PodSandboxId, config: config, logDir: logDir}
	t.Cleanup(func() {
		// After a failure: remove whatever is left, quietly.
		ctx := context.Background()
		list, _ := e.rt.ListContainers(ctx, &cri.ListContainersRequest{Filter: &cri.ContainerFilter{PodSandboxId: p.id}})
		for _, c := range list.GetContainers() {
			e.rt.StopContainer(ctx, &cri.StopContainerRequest{ContainerId: c.Id, Timeout: 1})
			e.rt.RemoveContainer(ctx, &cri.RemoveContainerRequest{ContainerId: c.Id})
		}
		e.rt.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: p.id})
		e.rt.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: p.id})
	})
	return p
}

// podSandboxConfig is the sandbox config kubelet sends for a pod named
// name in the default namespace: a fresh uid, its log directory (made
// here, under dir/pods), its labels, a cgroup under cgParent and the
// namespaces ns, without seccomp. The DNS config is empty.
func podSandboxConfig(t *testing.T, dir, cgParent, name string, ns *cri.NamespaceOption) *cri.PodSandboxConfig {
	t.Helper()
	uid := fmt.Sprintf("%d", time.Now().UnixNano())
	logDir := filepath.Join(dir, "pods", "default_"+name+"_"+uid)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &cri.PodSandboxConfig{
		Metadata:     &cri.PodSandboxMetadata{Name: name, Uid: uid, Namespace: "default"},
		LogDirectory: logDir,
		DnsConfig:    &cri.DNSConfig{},
		Labels: map[string]string{
			"io.kubernetes.pod.name":      name,
			"io.kubernetes.pod.namespace": "default",
			"io.kubernetes.pod.uid":       uid,
		},
		Annotations: map[string]string{"kubernetes.io/config.source": "api"},
		Linux: &cri.LinuxPodSandboxConfig{
			CgroupParent: cgParent + "/pod" + uid,
			SecurityContext: &cri.LinuxSandboxSecurityContext{
				NamespaceOptions: ns,
				Seccomp:          &cri.SecurityProfile{ProfileType: cri.SecurityProfile_Unconfined},
			},
		},
	}
}

// remove stops and removes the pod, as kubelet does when it is deleted.
func (p *criPod) remove(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := p.e.rt.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: p.id}); err != nil {
		t.Errorf("StopPodSandbox: %v", err)
	}
	if _, err := p.e.rt.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: p.id}); err != nil {
		t.Errorf("RemovePodSandbox: %v", err)
	}
}

// criContainer is what a pod spec's container says.
type criContainer struct {
	name    string
	image   string   // criProbeImage if empty
	command []string // the image's entrypoint if empty
	args    []string
	envs    map[string]string
	mounts  []*cri.Mount
	memory  int64 // the memory limit; 128 MiB if 0
	// annotations reach the runtime only where CRI-O allows them
	// (TestCRIO); containerd passes none of a container's, only the pod's
	// that its handler's pod_annotations name (runPodAnnotated).
	annotations map[string]string
}

type criCtr struct {
	p       *criPod
	id      string
	logPath string // absolute
}

// create creates a container of the probe image in the pod, with what
// kubelet adds: the log path, a termination-log file, namespace options,
// masked and read-only paths.
func (p *criPod) create(t *testing.T, spec criContainer) *criCtr {
	t.Helper()
	termDir := filepath.Join(p.e.dir, "termination", spec.name)
	if err := os.MkdirAll(termDir, 0o755); err != nil {
		t.Fatal(err)
	}
	termLog := filepath.Join(termDir, "termination-log")
	if err := os.WriteFile(termLog, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	config := spec.config(p.config, termLog)
	resp, err := p.e.rt.CreateContainer(context.Background(), &cri.CreateContainerRequest{
		PodSandboxId: p.id, Config: config, SandboxConfig: p.config,
	})
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", spec.name, err)
	}
	return &criCtr{p: p, id: resp.ContainerId, logPath: filepath.Join(p.logDir, config.LogPath)}
}

// config is the container config kubelet sends for spec in the pod
// sandbox pod: the log path, the termination-log file termLog mounted,
// labels, a burstable pod's resources, namespace options, masked and
// read-only paths.
func (spec criContainer) config(pod *cri.PodSandboxConfig, termLog string) *cri.ContainerConfig {
	var envs []*cri.KeyValue
	for k, v := range spec.envs {
		envs = append(envs, &cri.KeyValue{Key: k, Value: []byte(v)})
	}
	image := spec.image
	if image == "" {
		image = criProbeImage
	}
	memory := spec.memory
	if memory == 0 {
		memory = 128 << 20
	}
	return &cri.ContainerConfig{
		Metadata:    &cri.ContainerMetadata{Name: spec.name},
		Image:       &cri.ImageSpec{Image: image},
		Command:     spec.command,
		Args:        spec.args,
		Envs:        envs,
		Mounts:      append(append([]*cri.Mount(nil), spec.mounts...), &cri.Mount{ContainerPath: "/dev/termination-log", HostPath: termLog}),
		LogPath:     filepath.Join(spec.name, "0.log"),
		Annotations: spec.annotations,
		Labels: map[string]string{
			"io.kubernetes.container.name": spec.name,
			"io.kubernetes.pod.name":       pod.Metadata.Name,
			"io.kubernetes.pod.namespace":  pod.Metadata.Namespace,
			"io.kubernetes.pod.uid":        pod.Metadata.Uid,
		},
		Linux: &cri.LinuxContainerConfig{
			// A burstable pod's container: requests and a memory limit.
			Resources: &cri.LinuxContainerResources{CpuShares: 102, CpuPeriod: 100000, CpuQuota: 100000, MemoryLimitInBytes: memory, OomScoreAdj: 999},
			SecurityContext: &cri.LinuxContainerSecurityContext{
				NamespaceOptions: pod.Linux.SecurityContext.NamespaceOptions,
				Seccomp:          &cri.SecurityProfile{ProfileType: cri.SecurityProfile_Unconfined},
				MaskedPaths: []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
					"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
					"/proc/scsi", "/sys/firmware"},
				ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			},
		},
	}
}

// assertUpdatedCgroup checks the files of the container's cgroup cg, in
// whichever cgroup version the host has, for the resources the in-place
// resize set: memory limit, a CPU quota of 50000 and 512 shares.
func assertUpdatedCgroup(t *testing.T, cg string, limit int) {
	t.Helper()
	checked := 0
	for _, f := range []struct{ file, want string }{
		{"/sys/fs/cgroup/memory" + cg + "/memory.limit_in_bytes", strconv.Itoa(limit)},
		{"/sys/fs/cgroup/cpu" + cg + "/cpu.cfs_quota_us", "50000"},
		{"/sys/fs/cgroup/cpu" + cg + "/cpu.shares", "512"},
		{"/sys/fs/cgroup" + cg + "/memory.max", strconv.Itoa(limit)}, // cgroup v2
	} {
		b, err := os.ReadFile(f.file)
		if err != nil {
			continue // the other cgroup version
		}
		checked++
		if got := strings.TrimSpace(string(b)); got != f.want {
			t.Errorf("%s = %s, want %s", f.file, got, f.want)
		}
	}
	if checked == 0 {
		t.Errorf("no cgroup file found for the container at %s", cg)
	}
}

func (c *criCtr) start(t *testing.T) {
	t.Helper()
	if _, err := c.p.e.rt.StartContainer(context.Background(), &cri.StartContainerRequest{ContainerId: c.id}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
}

func (c *criCtr) status(t *testing.T) *cri.ContainerStatus {
	t.Helper()
	resp, err := c.p.e.rt.ContainerStatus(context.Background(), &cri.ContainerStatusRequest{ContainerId: c.id})
	if err != nil {
		t.Fatalf("ContainerStatus: %v", err)
	}
	return resp.Status
}

// waitExited polls ContainerStatus, as kubelet's PLEG does, until the
// container has exited.
func (c *criCtr) waitExited(t *testing.T, timeout time.Duration) *cri.ContainerStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := c.status(t)
		if st.State == cri.ContainerState_CONTAINER_EXITED {
			c.settleLog()
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s still %v after %v; log: %+v", c.id, st.State, timeout, c.logLines(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settleLog waits (up to 5 s) until the log file stops growing: the shim
// may still be copying the guest's last output when its exit is reported.
func (c *criCtr) settleLog() {
	last := int64(-1)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		fi, err := os.Stat(c.logPath)
		if err == nil && fi.Size() == last {
			return
		}
		if err == nil {
			last = fi.Size()
		}
	}
}

// waitLog waits until the container's CRI log holds a stdout line msg.
func (c *criCtr) waitLog(t *testing.T, msg string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !containsLine(c.logLines(t), "stdout", msg) {
		if time.Now().After(deadline) {
			t.Fatalf("container %s: no stdout line %q in its log after %v (state %v); log: %+v",
				c.id, msg, timeout, c.status(t).State, c.logLines(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// remove removes an exited container, as kubelet's garbage collector does.
func (c *criCtr) remove(t *testing.T) {
	t.Helper()
	if _, err := c.p.e.rt.RemoveContainer(context.Background(), &cri.RemoveContainerRequest{ContainerId: c.id}); err != nil {
		t.Errorf("RemoveContainer: %v", err)
	}
}

// ---- CRI log format ----

// criLogLine is one line of a CRI log file:
// "<RFC3339Nano time> <stream> <P|F> <message>".
type criLogLine struct {
	stream, tag, msg string
}

var criLogRE = regexp.MustCompile(`^(\S+) (stdout|stderr) ([PF]) (.*)$`)

// logLines parses the container's CRI log; a malformed line fails the
// test. A missing file is no lines.
func (c *criCtr) logLines(t *testing.T) []criLogLine {
	t.Helper()
	f, err := os.Open(c.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []criLogLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := criLogRE.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Errorf("%s: not a CRI log line: %q", c.logPath, sc.Text())
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
			t.Errorf("%s: bad timestamp in %q: %v", c.logPath, sc.Text(), err)
		}
		out = append(out, criLogLine{stream: m[2], tag: m[3], msg: m[4]})
	}
	return out
}

func containsLine(lines []criLogLine, stream, msg string) bool {
	for _, l := range lines {
		if l.stream == stream && l.msg == msg {
			return true
		}
	}
	return false
}
