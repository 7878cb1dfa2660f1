package integration

// The Kubernetes path through CRI-O: a private CRI-O with runw's
// documented handler (the drop-in in docs/crio.md, paths swapped for the
// test's), conmon and pinns, driven with crictl as kubelet drives CRI-O.
// Nothing is built here: RUNW_CRIO, RUNW_PINNS and RUNW_CRICTL name the
// binaries (docs/crio.md says how to get them).

import (
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
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// crioBridge and crioSubnet are the CNI bridge network of the test's pods.
const (
	crioBridge = "runwcrio0"
	crioSubnet = "10.89.231.0/24"
)

// crioEnv is one private CRI-O and crictl configured for it.
type crioEnv struct {
	t        *testing.T
	dir      string // everything the test makes: configs, storage, state, logs
	sock     string // CRI-O's gRPC socket
	runwRoot string // the runw handler's runtime_root
	cgParent string // the pods' cgroup parent, as kubelet's /kubepods
	logFile  string // CRI-O's own output
	crictl   string // the crictl binary
	crictlCf string // crictl's config file
}

// TestCRIO runs wasm pods through CRI-O with the runw runtime handler.
func TestCRIO(t *testing.T) {
	e := newCRIOEnv(t)
	t.Logf("CRI-O: %s", strings.TrimSpace(e.mustCrictl("version")))

	// The drop-in was accepted: CRI-O drops a handler it finds invalid with
	// only a warning, and every pod using it would then fail.
	const ignored = `Runtime handler \"runw\" is being ignored`
	if b, _ := os.ReadFile(e.logFile); strings.Contains(string(b), ignored) {
		t.Fatalf("CRI-O ignored runw's handler:\n%s", grepLines(string(b), ignored))
	}

	// A pod as kubelet makes it for runtimeClassName: runw (handler runw),
	// on the node's network, without shareProcessNamespace: CRI-O then
	// runs no pause container (drop_infra_ctr) and pinns makes the pod's
	// namespaces.
	pod := e.runPod(crioPod{name: "wasm-pod", handler: "runw", hostNetwork: true})

	t.Run("ExitCodeAndLog", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "exit7", args: []string{"echo", "hi", "stderr", "oops", "exit", "7"}})
		c.start(t)
		st := c.waitExited(t, 60*time.Second)
		if st.ExitCode != 7 {
			t.Errorf("exit code %d, want 7 (status %+v)", st.ExitCode, st)
		}
		// The CRI log file, as kubelet reads it, and crictl logs.
		lines := c.logLines(t)
		want := []criLogLine{{stream: "stdout", tag: "F", msg: "hi"}, {stream: "stderr", tag: "F", msg: "oops"}}
		if !slices.Equal(lines, want) {
			t.Errorf("CRI log: got %+v, want %+v", lines, want)
		}
		if stdout, stderr, code := e.crictlRun("logs", c.id); stdout != "hi\n" || stderr != "oops\n" || code != 0 {
			t.Errorf("crictl logs: stdout %q, stderr %q, exit %d; want hi, oops, 0", stdout, stderr, code)
		}
		c.remove(t)
	})

	// The annotations of docs/crio.md's allowed_annotations reach runw.
	t.Run("AllowedAnnotations", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "annotated", args: []string{"sleep", "1h"},
			annotations: map[string]string{"run.oci.handler": "wasm", "module.wasm.image/variant": "compat"}})
		st := e.runwState(t, c.id)
		for k, v := range map[string]string{"run.oci.handler": "wasm", "module.wasm.image/variant": "compat"} {
			if st.Annotations[k] != v {
				t.Errorf("runw sees annotation %s=%q, want %q", k, st.Annotations[k], v)
			}
		}
		c.remove(t)
	})

	t.Run("WasiPlatformImage", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "wasi", image: criWasiImage, args: []string{"echo", "wasi-image", "exit", "9"}})
		c.start(t)
		if st := c.waitExited(t, 60*time.Second); st.ExitCode != 9 {
			t.Errorf("exit code %d, want 9 (status %+v)", st.ExitCode, st)
		}
		if !containsLine(c.logLines(t), "stdout", "wasi-image") {
			t.Errorf("CRI log lacks the guest's line: %+v", c.logLines(t))
		}
		c.remove(t)
	})

	t.Run("ArgsEnvDirectoryMounts", func(t *testing.T) {
		rw, ro := t.TempDir(), t.TempDir()
		if err := os.WriteFile(filepath.Join(ro, "in.txt"), []byte("from-host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c := pod.create(t, criContainer{
			name:    "app",
			command: []string{"/probe.wasm"},
			args: []string{"args", "env", "write", "/data/out.txt", "from-guest",
				"cat", "/ro/in.txt", "write", "/ro/nope.txt", "x"},
			envs: map[string]string{"GREETING": "hello wasm", "EMPTY": ""},
			mounts: []*cri.Mount{
				{ContainerPath: "/data", HostPath: rw},
				{ContainerPath: "/ro", HostPath: ro, Readonly: true},
			},
		})
		c.start(t)
		if st := c.waitExited(t, 60*time.Second); st.ExitCode != 0 {
			t.Errorf("exit code %d, want 0 (status %+v)", st.ExitCode, st)
		}
		stdout := c.stdout(t)
		if len(stdout) != 5 {
			t.Fatalf("want 5 stdout lines (args, env, OK, from-host, ERR), got %q", stdout)
		}
		var args, env []string
		json.Unmarshal([]byte(stdout[0]), &args)
		wantArgs := []string{"/probe.wasm", "args", "env", "write", "/data/out.txt", "from-guest",
			"cat", "/ro/in.txt", "write", "/ro/nope.txt", "x"}
		if !slices.Equal(args, wantArgs) {
			t.Errorf("guest args %q, want %q", args, wantArgs)
		}
		json.Unmarshal([]byte(stdout[1]), &env)
		for _, kv := range []string{"GREETING=hello wasm", "EMPTY="} {
			if !slices.Contains(env, kv) {
				t.Errorf("guest env lacks %q: %q", kv, env)
			}
		}
		if b, err := os.ReadFile(filepath.Join(rw, "out.txt")); stdout[2] != "OK" || err != nil || string(b) != "from-guest" {
			t.Errorf("write to the rw mount: %q; host sees %q (%v)", stdout[2], b, err)
		}
		if stdout[3] != "from-host" {
			t.Errorf("read from the ro mount: %q, want from-host", stdout[3])
		}
		if _, err := os.Stat(filepath.Join(ro, "nope.txt")); !strings.HasPrefix(stdout[4], "ERR") || err == nil {
			t.Errorf("write to the ro mount: %q, and the file exists: %v", stdout[4], err == nil)
		}
		c.remove(t)
	})

	// Single files bind-mounted into the container: a subPath ConfigMap or
	// Secret, and the /etc/hostname CRI-O mounts into every container.
	t.Run("FileMounts", func(t *testing.T) {
		if ok, why := fileMountsSupported(t); !ok {
			t.Skipf("file bind mounts need runw's own WASI host (%s)", why)
		}
		cfg := filepath.Join(t.TempDir(), "app.conf")
		if err := os.WriteFile(cfg, []byte("from-configmap\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c := pod.create(t, criContainer{name: "files", args: []string{"cat", "/config/app.conf", "cat", "/etc/hostname"},
			mounts: []*cri.Mount{{ContainerPath: "/config/app.conf", HostPath: cfg, Readonly: true}}})
		c.start(t)
		c.waitExited(t, 60*time.Second)
		want := []string{"from-configmap", pod.config.Hostname}
		if got := c.stdout(t); !slices.Equal(got, want) {
			t.Errorf("guest read %q, want %q", got, want)
		}
		c.remove(t)
	})

	t.Run("RunningGuest", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "spin", args: []string{"echo", "spinning", "spin"}})
		c.start(t)
		c.waitLog(t, "spinning", 60*time.Second)
		if st := c.inspect(t); st.State != "CONTAINER_RUNNING" {
			t.Fatalf("state %s, want CONTAINER_RUNNING", st.State)
		}
		if st := e.runwState(t, c.id); st.Status != "running" {
			t.Errorf("runw state: %q, want running", st.Status)
		}

		// kubelet's CPU and memory figures (kubectl top). On cgroup v1
		// CRI-O finds the container's processes in its devices cgroup.
		t.Run("Stats", func(t *testing.T) {
			s1 := c.stats(t)
			if s1.Memory.WorkingSetBytes.Value == 0 {
				t.Errorf("crictl stats: no memory working set for a running guest: %+v", s1)
			}
			time.Sleep(500 * time.Millisecond)
			s2 := c.stats(t)
			t.Logf("crictl stats: CPU %v, 500ms later %v; working set %d bytes",
				time.Duration(s1.CPU.UsageCoreNanoSeconds.Value), time.Duration(s2.CPU.UsageCoreNanoSeconds.Value), s2.Memory.WorkingSetBytes.Value)
			if s2.CPU.UsageCoreNanoSeconds.Value <= s1.CPU.UsageCoreNanoSeconds.Value {
				t.Errorf("crictl stats: CPU usage of a spinning guest did not grow (%d then %d ns)",
					s1.CPU.UsageCoreNanoSeconds.Value, s2.CPU.UsageCoreNanoSeconds.Value)
			}
		})

		// kubelet's exec probes (ExecSync) and kubectl exec (streaming).
		// crictl prints an ExecSync's stdout and stderr only when it exits
		// 0; otherwise it reports the exit code and stderr in its error.
		t.Run("ExecSync", func(t *testing.T) {
			stdout, stderr, code := e.crictlRun("exec", "--sync", "--timeout", "30", c.id,
				"/probe.wasm", "echo", "exec-ok", "stderr", "exec-err")
			if stdout != "exec-ok\n\nexec-err\n\n" || code != 0 {
				t.Errorf("crictl exec --sync: stdout %q, stderr %q, exit %d; want exec-ok and exec-err, 0", stdout, stderr, code)
			}
			_, stderr, code = e.crictlRun("exec", "--sync", "--timeout", "30", c.id,
				"/probe.wasm", "stderr", "exec-err", "exit", "5")
			if !strings.Contains(stderr, "exited with 5: exec-err") || code == 0 {
				t.Errorf("crictl exec --sync of exit 5: stderr %q, exit %d; want 'exited with 5: exec-err'", stderr, code)
			}
		})
		t.Run("Exec", func(t *testing.T) {
			stdout, stderr, code := e.crictlRun("exec", c.id, "/probe.wasm", "echo", "streamed", "stderr", "streamed-err", "exit", "3")
			if stdout != "streamed\n" || !strings.Contains(stderr, "streamed-err\n") || !strings.Contains(stderr, "exit code 3") || code == 0 {
				t.Errorf("crictl exec: stdout %q, stderr %q, exit %d; want streamed, streamed-err and exit code 3", stdout, stderr, code)
			}
		})

		// In-place resize: CRI-O hands it to `runw update`.
		t.Run("Update", func(t *testing.T) {
			const limit = 256 << 20
			e.mustCrictl("update", "--memory", strconv.Itoa(limit), "--cpu-quota", "50000", "--cpu-period", "100000", "--cpu-share", "512", c.id)
			assertUpdatedCgroup(t, pod.config.Linux.CgroupParent+"/crio-"+c.id, limit)
		})

		c.stopPromptly(t, 143)
		c.remove(t)
	})

	t.Run("StopSleepingGuest", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "sleeper", args: []string{"echo", "sleeping", "sleep", "1h"}})
		c.start(t)
		c.waitLog(t, "sleeping", 60*time.Second)
		c.stopPromptly(t, 143)
		c.remove(t)
	})

	t.Run("MemoryLimit", func(t *testing.T) {
		c := pod.create(t, criContainer{name: "oom", memory: 64 << 20, args: []string{"alloc", "32", "alloc", "32", "alloc", "32", "echo", "survived"}})
		c.start(t)
		st := c.waitExited(t, 60*time.Second)
		t.Logf("over its 64 MiB limit: exit code %d, reason %q", st.ExitCode, st.Reason)
		if st.ExitCode == 0 || containsLine(c.logLines(t), "stdout", "survived") {
			t.Errorf("a guest allocating 96 MiB under a 64 MiB limit survived (exit code %d)", st.ExitCode)
		}
		c.remove(t)
	})

	t.Run("TwoContainersInOnePod", func(t *testing.T) {
		a := pod.create(t, criContainer{name: "first", args: []string{"echo", "one", "sleep", "3s", "exit", "3"}})
		b := pod.create(t, criContainer{name: "second", args: []string{"echo", "two", "sleep", "3s", "exit", "4"}})
		a.start(t)
		b.start(t)
		a.waitLog(t, "one", 60*time.Second)
		b.waitLog(t, "two", 60*time.Second)
		running := e.mustCrictl("ps", "-q", "--pod", pod.id, "--state", "running")
		if !strings.Contains(running, a.id) || !strings.Contains(running, b.id) {
			t.Errorf("want both containers running at once, running: %q", running)
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

	// A running container when the pod goes: stopp and rmp end it.
	left := pod.create(t, criContainer{name: "left", args: []string{"sleep", "1h"}})
	left.start(t)
	pod.remove(t)

	// A pod on a CNI bridge network (Debian's CNI plugins), with no
	// runtime handler: runw is CRI-O's default runtime here, as
	// docs/crio.md offers.
	t.Run("CNIBridgePod", func(t *testing.T) {
		if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
			t.Skipf("needs the CNI plugins in /usr/lib/cni (containernetworking-plugins): %v", err)
		}
		pod := e.runPod(crioPod{name: "bridge-pod"})
		ip := pod.ip(t)
		_, subnet, _ := net.ParseCIDR(crioSubnet)
		if !subnet.Contains(net.ParseIP(ip)) {
			t.Errorf("pod IP %q not in the bridge's subnet %s", ip, crioSubnet)
		}
		c := pod.create(t, criContainer{name: "app", args: []string{"echo", "on-bridge", "exit", "4"}})
		c.start(t)
		if st := c.waitExited(t, 60*time.Second); st.ExitCode != 4 {
			t.Errorf("exit code %d, want 4", st.ExitCode)
		}
		if !containsLine(c.logLines(t), "stdout", "on-bridge") {
			t.Errorf("CRI log lacks the guest's line: %+v", c.logLines(t))
		}
		// CRI-O's default runtime is runw's handler: runw ran the guest.
		if st := e.runwState(t, c.id); st.Status != "stopped" {
			t.Errorf("runw state: %q, want stopped", st.Status)
		}
		c.remove(t)
		pod.remove(t)
	})

	// A pod whose containers share its PID namespace has a pause
	// container: runw hands it to runc, and a native sidecar too.
	t.Run("PauseContainerAndNativeSidecar", func(t *testing.T) {
		pod := e.runPod(crioPod{name: "shared-pid", handler: "runw", hostNetwork: true, sharedPID: true})
		native := e.runcList(t)
		if !strings.Contains(native, pod.id) {
			t.Errorf("pause container %s not among runc's containers in runw's .native root: %q", pod.id, native)
		}
		sidecar := pod.create(t, criContainer{name: "sidecar", image: criPauseImage})
		sidecar.start(t)
		sidecar.waitRunning(t)
		if native := e.runcList(t); !strings.Contains(native, sidecar.id) {
			t.Errorf("native sidecar %s not handed to runc: %q", sidecar.id, native)
		}
		c := pod.create(t, criContainer{name: "app", args: []string{"echo", "beside-pause", "exit", "6"}})
		c.start(t)
		if st := c.waitExited(t, 60*time.Second); st.ExitCode != 6 {
			t.Errorf("exit code %d, want 6", st.ExitCode)
		}
		sidecar.stopPromptly(t, 0)
		c.remove(t)
		sidecar.remove(t)
		pod.remove(t)
	})

	e.assertNothingLeft(t)
}

// fileMountsSupported asks runw whether a single-file bind mount reaches
// the guest: it runs the probe with one and reads it back.
func fileMountsSupported(t *testing.T) (bool, string) {
	t.Helper()
	r := newRunw(t)
	src := filepath.Join(t.TempDir(), "file.txt")
	if err := os.WriteFile(src, []byte("file-mount-ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe", "cat", "/mnt/file.txt")
	b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount("/mnt/file.txt", src, "ro")) })
	res := r.run("run", "--bundle", b.dir, "filemount")
	if strings.Contains(res.stdout, "file-mount-ok") {
		return true, ""
	}
	return false, fmt.Sprintf("runw run with a file bind mount: %s", strings.TrimSpace(res.stdout+res.stderr))
}

// ---- CRI-O ----

// crioTools gives the crio, pinns and crictl binaries the test drives:
// those RUNW_CRIO, RUNW_PINNS and RUNW_CRICTL name, else those `make
// test` builds into build/crio/bin (integration/crio.sh). It skips the
// test when there are none.
func crioTools(t *testing.T) (crio, pinns, crictl string) {
	crio, pinns, crictl = os.Getenv("RUNW_CRIO"), os.Getenv("RUNW_PINNS"), os.Getenv("RUNW_CRICTL")
	if crio != "" && pinns != "" && crictl != "" {
		return crio, pinns, crictl
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "build", "crio", "bin")
	crio, pinns, crictl = filepath.Join(bin, "crio"), filepath.Join(bin, "pinns"), filepath.Join(bin, "crictl")
	for _, f := range []string{crio, pinns, crictl} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("CRI-O test: no %s (`make test` builds crio, pinns and crictl there as root with integration/crio.sh; or set RUNW_CRIO, RUNW_PINNS and RUNW_CRICTL: docs/crio.md)", f)
		}
	}
	return crio, pinns, crictl
}

// newCRIOEnv skips the test unless it can run, then builds the images in
// CRI-O's store and starts CRI-O. Everything is torn down at the end.
func newCRIOEnv(t *testing.T) *crioEnv {
	t.Helper()
	crio, pinns, crictl := crioTools(t)
	engRequire(t, "CRI-O", crio, pinns, crictl, "conmon", "runc", "podman", "gcc")
	// A short path: CRI-O's and conmon's socket paths must fit in sun_path.
	dir, err := os.MkdirTemp("", "runw-crio-")
	if err != nil {
		t.Fatal(err)
	}
	e := &crioEnv{
		t:        t,
		dir:      dir,
		sock:     filepath.Join(dir, "crio.sock"),
		runwRoot: filepath.Join(dir, "runw-root"),
		cgParent: "/" + filepath.Base(dir),
		logFile:  filepath.Join(dir, "crio.log"),
		crictl:   crictl,
		crictlCf: filepath.Join(dir, "crictl.yaml"),
	}
	t.Cleanup(e.removeAll)
	buildTestImages(t, dir, filepath.Join(dir, "storage"), filepath.Join(dir, "run"))
	e.startCRIO(crio, pinns)
	return e
}

// crioConfig is CRI-O's configuration for the test: its own storage,
// sockets and state under e.dir, cgroupfs, a CNI bridge network, and
// runw's handler exactly as docs/crio.md gives it.
func (e *crioEnv) crioConfig(pinns, dropIn string) string {
	return fmt.Sprintf(`[crio]
root = %[1]q
runroot = %[2]q
storage_driver = "vfs"
log_dir = %[3]q
version_file = %[4]q
version_file_persist = %[5]q
clean_shutdown_file = %[6]q

[crio.api]
listen = %[7]q
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
# docs/crio.md's second route: runw as the runtime of pods that name no handler.
default_runtime = "runw"
cgroup_manager = "cgroupfs"
pinns_path = %[8]q
namespaces_dir = %[9]q
container_exits_dir = %[10]q
container_attach_socket_dir = %[11]q
hooks_dir = []
selinux = false

[crio.image]
pause_image = %[12]q
pause_command = "/pause"
signature_policy = %[13]q

[crio.network]
network_dir = %[14]q
plugin_dirs = ["/usr/lib/cni"]

[crio.nri]
enable_nri = false

%[15]s`, filepath.Join(e.dir, "storage"), filepath.Join(e.dir, "run"), filepath.Join(e.dir, "pods"),
		filepath.Join(e.dir, "version"), filepath.Join(e.dir, "version-persist"), filepath.Join(e.dir, "clean.shutdown"),
		e.sock, pinns, filepath.Join(e.dir, "ns"), filepath.Join(e.dir, "exits"), filepath.Join(e.dir, "attach"),
		criPauseImage, filepath.Join(e.dir, "policy.json"), filepath.Join(e.dir, "cni"), dropIn)
}

// documentedDropIn reads runw's CRI-O drop-in from docs/crio.md and
// points it at the runw under test and the test's runtime root.
func documentedDropIn(t *testing.T, runw, root string) string {
	t.Helper()
	repo, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(repo, "docs", "crio.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```toml\n(\\[crio\\.runtime\\.runtimes\\.runw\\]\n.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/crio.md has no ```toml block starting with [crio.runtime.runtimes.runw]")
	}
	block := string(m[1])
	for old, repl := range map[string]string{`"/usr/local/bin/runw"`: strconv.Quote(runw), `"/run/runw"`: strconv.Quote(root)} {
		if !strings.Contains(block, old) {
			t.Fatalf("docs/crio.md's drop-in lacks %s:\n%s", old, block)
		}
		block = strings.ReplaceAll(block, old, repl)
	}
	return block
}

// crioRuncWrapper is the runc runw finds when it hands a pause or native
// container on: it caps a negative oomScoreAdj in the bundle at 0 and runs
// the real runc. CRI-O gives the pause container -998 and has no option to
// change that, and a test machine may lack the CAP_SYS_RESOURCE that
// lowering a process's oom_score_adj takes.
const crioRuncWrapper = `#!/bin/sh
prev=
for a in "$@"; do
	case "$prev" in --bundle|-b) bundle=$a ;; esac
	case "$a" in --bundle=*) bundle=${a#--bundle=} ;; esac
	prev=$a
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
	sed -i -E 's/"oomScoreAdj": ?-[0-9]+/"oomScoreAdj":0/' "$bundle/config.json"
fi
exec %s "$@"
`

// startCRIO writes the configuration and starts CRI-O as a child, then
// waits for its CRI service. It is stopped at the end of the test.
func (e *crioEnv) startCRIO(crio, pinns string) {
	t := e.t
	t.Helper()
	runc, _ := exec.LookPath("runc")
	files := map[string]string{
		"bin/runc":        fmt.Sprintf(crioRuncWrapper, runc),
		"policy.json":     `{"default": [{"type": "insecureAcceptAnything"}]}`,
		"registries.conf": "unqualified-search-registries = []\n",
		"conf.d/.keep":    "",
		"cni/10-runw-test.conflist": fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "runw-crio-test", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}}]}
`, crioBridge, crioSubnet, filepath.Join(e.dir, "cni-ipam")),
		"crictl.yaml": fmt.Sprintf("runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n", e.sock, e.sock),
	}
	// conmon, which runs runw's create and exec, gets the handler's
	// monitor_env, not CRI-O's environment: the tests' cache goes there,
	// as docs/crio.md says a node's would.
	dropIn := documentedDropIn(t, runwBin, e.runwRoot) + fmt.Sprintf("monitor_env = [%q, %q]\n",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "RUNW_CACHE_DIR="+cacheDir)
	files["crio.conf"] = e.crioConfig(pinns, dropIn)
	for name, content := range files {
		p := filepath.Join(e.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(crio, "--config", filepath.Join(e.dir, "crio.conf"), "--config-dir", filepath.Join(e.dir, "conf.d"))
	// runw finds runc on CRI-O's PATH (CRI-O gives conmon its own PATH
	// after monitor_env's, and the last one counts for runw): here first
	// the runc that caps the pause container's oom_score_adj.
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Join(e.dir, "bin")+":"+os.Getenv("PATH"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(e.dir, "registries.conf"))
	d := engStartDaemon(t, "CRI-O", e.logFile, engWithTestCache(cmd))
	t.Cleanup(func() {
		if t.Failed() {
			d.dumpLog(t)
		}
		d.stop(15 * time.Second)
	})
	d.waitReady(t, 60*time.Second, func() error {
		if _, stderr, code := e.crictlRun("--timeout", "2s", "version"); code != 0 {
			return fmt.Errorf("crictl version: exit %d: %s", code, strings.TrimSpace(stderr))
		}
		return nil
	})
}

// removeAll kills whatever is left in the pods' cgroups (conmon, guests),
// removes the CNI bridge, unmounts what CRI-O left mounted under the test
// directory and removes it, and the pods' cgroups.
func (e *crioEnv) removeAll() {
	ce := &criEnv{t: e.t, dir: e.dir, cgParent: e.cgParent}
	ce.killPodProcesses()
	exec.Command("ip", "link", "del", crioBridge).Run()
	ce.removeDir()
}

// crictlRun runs crictl against the test's CRI-O.
func (e *crioEnv) crictlRun(args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(e.crictl, append([]string{"--config", e.crictlCf}, args...)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code == 0 {
		code = -1
	}
	return out.String(), errb.String(), code
}

// crictlOut runs crictl; an exit status other than 0 is an error.
func (e *crioEnv) crictlOut(args ...string) (string, error) {
	stdout, stderr, code := e.crictlRun(args...)
	if code != 0 {
		return stdout, fmt.Errorf("crictl %s: exit %d: %s", strings.Join(args, " "), code, strings.TrimSpace(stderr))
	}
	return stdout, nil
}

// mustCrictl runs crictl and fails the test unless it exits 0.
func (e *crioEnv) mustCrictl(args ...string) string {
	e.t.Helper()
	out, err := e.crictlOut(args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// writeJSON writes v as JSON to a new file in the test directory.
func (e *crioEnv) writeJSON(name string, v any) string {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	p := filepath.Join(e.dir, "configs", name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// runwState is `runw state` of a container of the runw handler.
func (e *crioEnv) runwState(t *testing.T, id string) containerState {
	t.Helper()
	out, err := exec.Command(runwBin, "--root", e.runwRoot, "state", id).CombinedOutput()
	if err != nil {
		t.Fatalf("runw state %s: %v\n%s", id, err, out)
	}
	var st containerState
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("runw state %s: %v\n%s", id, err, out)
	}
	return st
}

// runcList lists runc's containers in runw's .native root: the pause and
// native containers runw handed over.
func (e *crioEnv) runcList(t *testing.T) string {
	t.Helper()
	out, _ := exec.Command("runc", "--root", filepath.Join(e.runwRoot, ".native"), "list", "-q").CombinedOutput()
	return string(out)
}

// assertNothingLeft checks that CRI-O knows no pod or container, and that
// neither runw nor runc (in runw's .native root) still holds one.
func (e *crioEnv) assertNothingLeft(t *testing.T) {
	t.Helper()
	if out := strings.TrimSpace(e.mustCrictl("ps", "-a", "-q")); out != "" {
		t.Errorf("crictl ps -a lists containers: %q", out)
	}
	if out := strings.TrimSpace(e.mustCrictl("pods", "-q")); out != "" {
		t.Errorf("crictl pods lists pods: %q", out)
	}
	entries, _ := os.ReadDir(e.runwRoot)
	var left []string
	for _, en := range entries {
		if !strings.HasPrefix(en.Name(), ".") {
			left = append(left, en.Name())
		}
	}
	if len(left) > 0 {
		t.Errorf("left in runw's root %s: %v", e.runwRoot, left)
	}
	if out := strings.TrimSpace(e.runcList(t)); out != "" {
		t.Errorf("runc still knows containers in runw's .native root: %q", out)
	}
}

// ---- pods and containers ----

// crioPod is what kubelet asks of CRI-O for a pod.
type crioPod struct {
	name        string
	handler     string // the RuntimeClass's handler; "" for CRI-O's default
	hostNetwork bool
	sharedPID   bool // shareProcessNamespace: CRI-O then runs a pause container
}

type crioPodRun struct {
	e       *crioEnv
	id      string
	config  *cri.PodSandboxConfig
	cfgFile string
	logDir  string
}

// runPod runs a pod sandbox with crictl runp, as kubelet's RunPodSandbox.
func (e *crioEnv) runPod(p crioPod) *crioPodRun {
	t := e.t
	t.Helper()
	ns := &cri.NamespaceOption{Network: cri.NamespaceMode_POD, Pid: cri.NamespaceMode_CONTAINER, Ipc: cri.NamespaceMode_POD}
	if p.hostNetwork {
		ns.Network = cri.NamespaceMode_NODE
	}
	if p.sharedPID {
		ns.Pid = cri.NamespaceMode_POD
	}
	config := podSandboxConfig(t, e.dir, e.cgParent, p.name, ns)
	config.Hostname = p.name
	config.DnsConfig = &cri.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"default.svc.cluster.local"}}
	logDir := config.LogDirectory
	cfgFile := e.writeJSON("pod-"+p.name+".json", config)
	args := []string{"runp"}
	if p.handler != "" {
		args = append(args, "--runtime", p.handler)
	}
	out, err := e.crictlOut(append(args, cfgFile)...)
	if err != nil {
		t.Fatalf("RunPodSandbox (handler %q): %v", p.handler, err)
	}
	pod := &crioPodRun{e: e, id: strings.TrimSpace(out), config: config, cfgFile: cfgFile, logDir: logDir}
	t.Cleanup(func() {
		// After a failure: remove whatever is left, quietly.
		e.crictlRun("stopp", pod.id)
		e.crictlRun("rmp", "--force", pod.id)
	})
	return pod
}

// podStatus is the part of `crictl inspectp` the test reads.
type podStatus struct {
	State          string `json:"state"`
	RuntimeHandler string `json:"runtimeHandler"`
	Network        struct {
		IP string `json:"ip"`
	} `json:"network"`
}

func (p *crioPodRun) inspect(t *testing.T) podStatus {
	t.Helper()
	var out struct {
		Status podStatus `json:"status"`
	}
	if err := json.Unmarshal([]byte(p.e.mustCrictl("inspectp", "-o", "json", p.id)), &out); err != nil {
		t.Fatal(err)
	}
	return out.Status
}

// ip is the pod's IP on the CNI network.
func (p *crioPodRun) ip(t *testing.T) string {
	t.Helper()
	st := p.inspect(t)
	if st.State != "SANDBOX_READY" {
		t.Errorf("pod state %s, want SANDBOX_READY", st.State)
	}
	return st.Network.IP
}

// remove stops and removes the pod, as kubelet does when it is deleted.
func (p *crioPodRun) remove(t *testing.T) {
	t.Helper()
	if _, err := p.e.crictlOut("stopp", p.id); err != nil {
		t.Errorf("StopPodSandbox: %v", err)
	}
	if _, err := p.e.crictlOut("rmp", p.id); err != nil {
		t.Errorf("RemovePodSandbox: %v", err)
	}
}

type crioCtr struct {
	p       *crioPodRun
	id      string
	logPath string
}

// create creates a container in the pod with crictl create, with what
// kubelet adds: the log path, a termination-log file, namespace options,
// masked and read-only paths, resources.
func (p *crioPodRun) create(t *testing.T, spec criContainer) *crioCtr {
	t.Helper()
	termLog := filepath.Join(p.e.dir, "termination", p.id[:12], spec.name, "termination-log")
	os.MkdirAll(filepath.Dir(termLog), 0o755)
	if err := os.WriteFile(termLog, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	// kubelet makes the container's log directory; CRI-O (conmon) does not.
	if err := os.MkdirAll(filepath.Join(p.logDir, spec.name), 0o755); err != nil {
		t.Fatal(err)
	}
	config := spec.config(p.config, termLog)
	cfgFile := p.e.writeJSON(fmt.Sprintf("ctr-%s-%s.json", p.id[:12], spec.name), config)
	out, err := p.e.crictlOut("create", p.id, cfgFile, p.cfgFile)
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", spec.name, err)
	}
	return &crioCtr{p: p, id: strings.TrimSpace(out), logPath: filepath.Join(p.logDir, config.LogPath)}
}

func (c *crioCtr) start(t *testing.T) {
	t.Helper()
	if _, err := c.p.e.crictlOut("start", c.id); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
}

// ctrStatus is the part of `crictl inspect` the test reads.
type ctrStatus struct {
	State    string `json:"state"`
	ExitCode int32  `json:"exitCode"`
	Reason   string `json:"reason"`
}

func (c *crioCtr) inspect(t *testing.T) ctrStatus {
	t.Helper()
	var out struct {
		Status ctrStatus `json:"status"`
	}
	if err := json.Unmarshal([]byte(c.p.e.mustCrictl("inspect", "-o", "json", c.id)), &out); err != nil {
		t.Fatal(err)
	}
	return out.Status
}

// waitExited polls the container's status, as kubelet's PLEG does, until
// it has exited.
func (c *crioCtr) waitExited(t *testing.T, timeout time.Duration) ctrStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := c.inspect(t)
		if st.State == "CONTAINER_EXITED" {
			(&criCtr{logPath: c.logPath}).settleLog()
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s still %s after %v; log: %+v", c.id, st.State, timeout, c.logLines(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *crioCtr) waitRunning(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.inspect(t).State != "CONTAINER_RUNNING" {
		if time.Now().After(deadline) {
			t.Fatalf("container %s not running after 30s: %+v", c.id, c.inspect(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logLines parses the container's CRI log file.
func (c *crioCtr) logLines(t *testing.T) []criLogLine {
	t.Helper()
	return (&criCtr{logPath: c.logPath}).logLines(t)
}

// stdout is the container's stdout lines.
func (c *crioCtr) stdout(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, l := range c.logLines(t) {
		if l.stream == "stdout" {
			out = append(out, l.msg)
		}
	}
	return out
}

// waitLog waits until the container's CRI log holds a stdout line msg.
func (c *crioCtr) waitLog(t *testing.T, msg string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !containsLine(c.logLines(t), "stdout", msg) {
		if time.Now().After(deadline) {
			t.Fatalf("container %s: no stdout line %q in its log after %v (state %s); log: %+v",
				c.id, msg, timeout, c.inspect(t).State, c.logLines(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// criUint64 is a CRI UInt64Value as crictl prints it (protobuf JSON
// writes 64-bit integers as strings).
type criUint64 struct {
	Value uint64 `json:"value,string"`
}

// ctrStats is the part of `crictl stats -o json` the test reads.
type ctrStats struct {
	CPU struct {
		UsageCoreNanoSeconds criUint64 `json:"usageCoreNanoSeconds"`
	} `json:"cpu"`
	Memory struct {
		WorkingSetBytes criUint64 `json:"workingSetBytes"`
	} `json:"memory"`
}

// stats is one `crictl stats` of the container (CRI ContainerStats).
func (c *crioCtr) stats(t *testing.T) ctrStats {
	t.Helper()
	out := c.p.e.mustCrictl("stats", "-o", "json", "--id", c.id)
	var resp struct {
		Stats []ctrStats `json:"stats"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("crictl stats: %v\n%s", err, out)
	}
	if len(resp.Stats) != 1 {
		t.Fatalf("crictl stats --id %s: want one container's stats, got %s", c.id, out)
	}
	return resp.Stats[0]
}

// stopPromptly stops a running container as kubelet does (SIGTERM, a
// 10 s grace period, then SIGKILL) and checks that SIGTERM ended it long
// before the grace period ran out, with the status code want.
func (c *crioCtr) stopPromptly(t *testing.T, want int32) {
	t.Helper()
	begin := time.Now()
	_, err := c.p.e.crictlOut("stop", "--timeout", "10", c.id)
	took := time.Since(begin)
	if err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	t.Logf("crictl stop --timeout 10 returned after %v", took.Round(time.Millisecond))
	if took >= 5*time.Second {
		t.Errorf("StopContainer took %v: SIGTERM did not end the container", took)
	}
	if st := c.inspect(t); st.State != "CONTAINER_EXITED" || st.ExitCode != want {
		t.Errorf("after stop: state %s exit code %d, want CONTAINER_EXITED %d", st.State, st.ExitCode, want)
	}
}

// remove removes the container, as kubelet's garbage collector does.
func (c *crioCtr) remove(t *testing.T) {
	t.Helper()
	if _, err := c.p.e.crictlOut("rm", c.id); err != nil {
		t.Errorf("RemoveContainer: %v", err)
	}
}
