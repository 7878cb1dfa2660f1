package integration

// Docker drives runw as docs/engines.md registers it: a "runtimes" entry
// in daemon.json, then `docker run --runtime runw`. Debian 12's docker.io
// is dockerd 20.10 with a containerd of its own and containerd's runc v2
// shim, which calls runw as it calls runc. The daemon here is the test's
// own: its data, exec root and socket in a test directory, a bridge of
// the test's own (rwdock0, 10.213.254.0/24) for its containers, and no
// iptables rules (a published port goes through Docker's userland proxy).

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDocker(t *testing.T) {
	engRequire(t, "docker", "dockerd", "docker", "containerd", "containerd-shim-runc-v2", "ip", "curl")
	docker := "/usr/bin/docker" // docker.io's own client, of the daemon's version
	if _, err := os.Stat(docker); err != nil {
		docker = "docker"
	}
	dir, err := os.MkdirTemp("", "runw-docker-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := json.Marshal(map[string]any{"runtimes": map[string]any{"runw": map[string]string{"path": runwBin}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	const bridge = "rwdock0"
	deleteLink(t, bridge)
	for _, args := range [][]string{
		{"link", "add", bridge, "type", "bridge"},
		{"addr", "add", "10.213.254.1/24", "dev", bridge},
		{"link", "set", bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	sock, execRoot := filepath.Join(dir, "docker.sock"), filepath.Join(dir, "exec")
	dk := func(args ...string) engResult {
		t.Helper()
		return engRun(t, out, nil, docker, append([]string{"-H", "unix://" + sock}, args...)...)
	}
	d := engStartDaemon(t, "dockerd", filepath.Join(dir, "dockerd.log"), engWithTestCache(exec.Command("dockerd",
		"--data-root", filepath.Join(dir, "data"), "--exec-root", execRoot,
		"--pidfile", filepath.Join(dir, "docker.pid"), "-H", "unix://"+sock,
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--iptables=false", "--ip6tables=false", "--bridge="+bridge)))
	t.Cleanup(func() {
		if ids := strings.Fields(dk("ps", "-aq").stdout); len(ids) > 0 {
			dk(append([]string{"rm", "-f"}, ids...)...)
		}
		d.stop(30 * time.Second)
		engUnmountUnder(dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("remove %s: %v", dir, err)
		}
	})
	// inspect is `docker inspect -f format id`, trimmed.
	inspect := func(id, format string) string {
		t.Helper()
		return strings.TrimSpace(dk("inspect", "-f", format, id).stdout)
	}
	d.waitReady(t, 60*time.Second, func() error {
		if res := dk("version"); res.code != 0 {
			return errors.New(res.String())
		}
		return nil
	})
	// Docker 20.10 gives every runtime runc's state root (docs/engines.md).
	stateRoot := filepath.Join(execRoot, "runtime-runc", "moby")
	const image = "runw-probe:test"
	layer := filepath.Join(dir, "probe.tar")
	engWriteLayer(t, layer, map[string]string{"probe.wasm": guests["probe"]})
	engWant(t, dk("import", "--change", `ENTRYPOINT ["/probe.wasm"]`, layer, image), 0)

	t.Run("RunRmOutputAndExitCode", func(t *testing.T) {
		res := dk("run", "--runtime", "runw", "--rm", image, "echo", "hello from wasm")
		engWant(t, res, 0)
		if res.stdout != "hello from wasm\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "hello from wasm\n")
		}
		res = dk("run", "--runtime", "runw", "--rm", image, "echo", "before exit", "exit", "7")
		engWant(t, res, 7)
		if res.stdout != "before exit\n" {
			t.Errorf("stdout %q, want %q", res.stdout, "before exit\n")
		}
	})

	// run -d, exec of the image's module beside the running guest, logs,
	// stop (the guest asleep in poll_oneoff ends on SIGTERM with 143), rm.
	t.Run("DetachExecStopRm", func(t *testing.T) {
		res := dk("run", "--runtime", "runw", "-d", image, "echo", "started", "sleep", "1h")
		engWant(t, res, 0)
		id := strings.TrimSpace(res.stdout)
		if !engContains(engRunwIDs(t, out, stateRoot), id) {
			t.Fatalf("runw does not hold container %s under %s: it did not run under runw", id, stateRoot)
		}
		if got := inspect(id, "{{.HostConfig.Runtime}}"); got != "runw" {
			t.Errorf("HostConfig.Runtime %q, want runw", got)
		}
		res = dk("exec", id, "/probe.wasm", "echo", "from exec")
		engWant(t, res, 0)
		if res.stdout != "from exec\n" {
			t.Errorf("exec stdout %q, want %q", res.stdout, "from exec\n")
		}
		if !engPoll(10*time.Second, func() bool { return dk("logs", id).stdout == "started\n" }) {
			t.Errorf("docker logs: %v, want %q", dk("logs", id), "started\n")
		}
		res = dk("stop", "-t", "10", id)
		engWant(t, res, 0)
		t.Logf("docker stop took %v", res.took.Round(time.Millisecond))
		if got := inspect(id, "{{.State.ExitCode}}"); got != "143" {
			t.Errorf("exit code %s after docker stop, want 143 (SIGTERM; 137 is the SIGKILL after -t)", got)
		}
		engWant(t, dk("rm", id), 0)
		if engContains(engRunwIDs(t, out, stateRoot), id) {
			t.Errorf("runw still holds container %s after docker rm", id)
		}
	})

	// A wasm server behind `docker run -p`: runw binds the listener in the
	// container's network namespace on the test's bridge, and Docker's
	// proxy forwards the host's port to it.
	t.Run("PublishedPort", func(t *testing.T) {
		const server = "runw-nethello:test"
		serverLayer := filepath.Join(dir, "nethello.tar")
		engWriteLayer(t, serverLayer, map[string]string{"hello.wasm": netGuest(t, "hello")})
		engWant(t, dk("import", "--change", `ENTRYPOINT ["/hello.wasm"]`, serverLayer, server), 0)
		res := dk("run", "--runtime", "runw", "-d", "-p", "18094:8080", "-e", "RUNW_LISTEN=:8080", server)
		engWant(t, res, 0)
		id := strings.TrimSpace(res.stdout)
		gone := engGone(func(format string) string { return inspect(id, format) },
			func() engResult { return dk("logs", id) })
		if got := curlBody(t, "http://localhost:18094/", 90*time.Second, gone); got != "hello from wasm\n" {
			t.Errorf("curl localhost:18094: %q, want %q", got, "hello from wasm\n")
		}
		if ip := inspect(id, "{{.NetworkSettings.IPAddress}}"); strings.HasPrefix(ip, "10.213.254.") {
			if got := curlBody(t, "http://"+ip+":8080/", 10*time.Second, gone); got != "hello from wasm\n" {
				t.Errorf("curl the container's address %s: %q", ip, got)
			}
		} else {
			t.Errorf("container address %q, want one on the test's bridge, 10.213.254.0/24", ip)
		}
		engWant(t, dk("stop", "-t", "10", id), 0)
		if got := inspect(id, "{{.State.ExitCode}}"); got != "143" {
			t.Errorf("the server's exit code %s after docker stop, want 143", got)
		}
		engWant(t, dk("rm", id), 0)
	})
}
