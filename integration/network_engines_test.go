package integration

// Wasm servers behind the engines' own networking (issue 10): podman's
// `run -p` and `kube play` through its CNI bridge and port mapping, and a
// Kubernetes pod whose network comes from a CNI bridge, through
// containerd's CRI. The networks are the tests' own: conflists in test
// directories, bridges and subnets of their own (10.213.251.0/24 for
// podman run, 10.213.253.0/24 for podman kube play, 10.213.252.0/24 for
// the CRI pod), host-local IPAM state in test directories.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// netBridgeConflist is a CNI bridge network: bridge dev with gateway
// .1 of subnet (a /24), IPAM state under dataDir, port mappings.
func netBridgeConflist(name, dev, subnet, dataDir string) string {
	gw := strings.TrimSuffix(subnet, "0/24") + "1"
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": %q,
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %q,
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": %q, "gateway": %q}]]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, name, dev, dataDir, subnet, gw)
}

// deleteLink removes a network device the test's network left behind (a
// CNI bridge outlives its last container).
func deleteLink(t *testing.T, dev string) {
	t.Cleanup(func() { exec.Command("ip", "link", "del", dev).Run() })
}

// curlBody fetches url with curl (no proxy), retrying until it answers,
// timeout passes or gone says the server has ended (the first start
// compiles the Go guest). On failure it reports what gone described.
func curlBody(t *testing.T, url string, timeout time.Duration, gone func() string) string {
	t.Helper()
	var out []byte
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err = exec.Command("curl", "-sS", "--fail", "--noproxy", "*", "--max-time", "5", url).CombinedOutput()
		if err == nil {
			return string(out)
		}
		if why := gone(); why != "" {
			t.Fatalf("curl %s: %v: %s; the server is gone: %s", url, err, out, why)
		}
	}
	t.Fatalf("curl %s: no answer after %v: %v: %s", url, timeout, err, out)
	return ""
}

// newPodmanNet skips unless podman, conmon, curl, iptables and the CNI
// plugins are there, then gives a podman on a private store whose default
// network is a CNI bridge of the test's own: name, bridge device dev,
// subnet (a /24), IPAM state in the test's directory.
func newPodmanNet(t *testing.T, name, dev, subnet string) *engPodman {
	t.Helper()
	engRequire(t, "podman", "podman", "conmon", "curl", "iptables")
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skipf("needs the CNI plugins in /usr/lib/cni (Debian containernetworking-plugins): %v", err)
	}
	dir, err := os.MkdirTemp("", "runw-podman-net-")
	if err != nil {
		t.Fatal(err)
	}
	p := &engPodman{t: t, dir: dir, out: filepath.Join(dir, "out"), conf: filepath.Join(dir, "containers.conf")}
	netDir := filepath.Join(dir, "cni")
	for _, d := range []string{p.out, netDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(netDir, name+".conflist"),
		[]byte(netBridgeConflist(name, dev, subnet, filepath.Join(dir, "ipam"))), 0o644); err != nil {
		t.Fatal(err)
	}
	network := fmt.Sprintf(`
[network]
network_backend = "cni"
cni_plugin_dirs = ["/usr/lib/cni"]
network_config_dir = %q
default_network = %q
default_subnet = %q
`, netDir, name, subnet)
	if err := os.WriteFile(p.conf, []byte(engPodmanConf(dir, "", network)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	deleteLink(t, dev)
	t.Cleanup(p.teardown)
	return p
}

// engGone is curlBody's question for an engine's container, asked
// through the engine's inspect (a Go template, trimmed) and logs: "" while
// it runs, else its exit code and logs.
func engGone(inspect func(format string) string, logs func() engResult) func() string {
	return func() string {
		if inspect("{{.State.Running}}") == "true" {
			return ""
		}
		return fmt.Sprintf("exit code %s, logs %q", inspect("{{.State.ExitCode}}"), logs().String())
	}
}

// gone is engGone for a podman container.
func (p *engPodman) gone(t *testing.T, id string) func() string {
	return engGone(func(format string) string { return p.inspect(t, id, format) },
		func() engResult { return p.podman(t, "logs", id) })
}

// `podman run -d -p 18080:8080` of a wasm server image: curl on the
// host's localhost:18080 reaches the guest through podman's CNI port
// mapping; `podman stop` ends the guest, blocked in poll_oneoff, and
// podman reports exit status 143.
func TestNetPodmanPublishedPort(t *testing.T) {
	p := newPodmanNet(t, "runwtest", "rwpodnet0", "10.213.251.0/24")
	mod := netGuest(t, "hello")

	const ref = "localhost/runw-nethello:test"
	p.importImage(ref, map[string]string{"hello.wasm": mod}, "/hello.wasm")
	id := p.detach(t, "--network", "runwtest", "-p", "18080:8080", "-e", "RUNW_LISTEN=:8080", ref)
	gone := p.gone(t, id)
	if got := curlBody(t, "http://localhost:18080/", 90*time.Second, gone); got != "hello from wasm\n" {
		t.Errorf("curl localhost:18080: %q, want %q", got, "hello from wasm\n")
	}
	if ip := p.inspect(t, id, "{{.NetworkSettings.Networks.runwtest.IPAddress}}"); strings.HasPrefix(ip, "10.213.251.") {
		if got := curlBody(t, "http://"+ip+":8080/", 10*time.Second, gone); got != "hello from wasm\n" {
			t.Errorf("curl the container's address %s: %q", ip, got)
		}
	} else {
		t.Errorf("container address %q, want one in 10.213.251.0/24", ip)
	}
	res := p.podman(t, "stop", "--time", "10", id)
	engWant(t, res, 0)
	t.Logf("podman stop took %v", res.took.Round(time.Millisecond))
	if got := p.inspect(t, id, "{{.State.ExitCode}}"); got != "143" {
		t.Errorf("State.ExitCode %s after podman stop, want 143", got)
	}
}

// A pod from Kubernetes YAML through podman (`podman kube play`): podman
// makes the pod's network namespace on a CNI bridge with its infra
// container (a native pause, handed to runc), the wasm server joins it
// and answers curl through the pod's hostPort, a second wasm container
// run in the pod reaches it on localhost, and `podman pod stop` ends the
// server, blocked in poll_oneoff, with 143.
func TestNetPodmanKubePlay(t *testing.T) {
	p := newPodmanNet(t, "runwkube", "rwkubenet0", "10.213.253.0/24")
	refuseCgroupRootLeftovers(t)
	hello, netc := netGuest(t, "hello"), netGuest(t, "netc")
	const ref = "localhost/runw-kubehello:test"
	p.importImage(ref, map[string]string{"hello.wasm": hello, "netc.wasm": netc}, "/hello.wasm")
	yaml := filepath.Join(p.dir, "pod.yaml")
	if err := os.WriteFile(yaml, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: wasmpod
spec:
  restartPolicy: Never
  containers:
  - name: web
    image: `+ref+`
    env:
    - name: RUNW_LISTEN
      value: ":8080"
    ports:
    - containerPort: 8080
      hostPort: 18093
`), 0o644); err != nil {
		t.Fatal(err)
	}
	engWant(t, p.runw(t, "kube", "play", "--network", "runwkube", yaml), 0)
	t.Cleanup(func() { p.podman(t, "kube", "down", yaml) })
	const web = "wasmpod-web"
	gone := p.gone(t, web)
	if got := curlBody(t, "http://localhost:18093/", 90*time.Second, gone); got != "hello from wasm\n" {
		t.Errorf("curl the pod's hostPort: %q, want %q", got, "hello from wasm\n")
	}
	// The containers of a pod start in no set order (as in Kubernetes),
	// so the client joins the pod once the server answers.
	res := p.runw(t, "run", "--rm", "--pod", "wasmpod", "--entrypoint", "/netc.wasm", ref,
		"connect", "127.0.0.1", "8080", "GET / HTTP/1.0\r\n\r\n")
	engWant(t, res, 0)
	engWantContains(t, "the client's output", res.stdout, "hello from wasm")
	res = p.podman(t, "pod", "stop", "--time", "10", "wasmpod")
	engWant(t, res, 0)
	t.Logf("podman pod stop took %v", res.took.Round(time.Millisecond))
	if got := p.inspect(t, web, "{{.State.ExitCode}}"); got != "143" {
		t.Errorf("the server's exit code %s after podman pod stop, want 143 (SIGTERM; 137 is the SIGKILL after --time)", got)
	}
	engWant(t, p.podman(t, "kube", "down", yaml), 0)
}

// refuseCgroupRootLeftovers fails t, naming them, when /sys/fs/cgroup
// holds plain directories beside its mounted hierarchies: what a mkdir
// through a controller that is not mounted (hugetlb, net_cls) leaves in
// the tmpfs. Podman's cgroupfs manager on cgroup v1 takes every directory
// there for a hierarchy, writes a pod's cgroups into it as plain files,
// and then cannot remove them: `podman kube down` fails with "directory
// not empty", whatever the runtime. The machine is at fault, not runw,
// and the failure says so.
func refuseCgroupRootLeftovers(t *testing.T) {
	t.Helper()
	const root = "/sys/fs/cgroup"
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		return // cgroup v2 alone, or no cgroup root: nothing is mirrored
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var plain []string
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if !e.IsDir() || unix.Statfs(dir, &st) != nil || st.Type != unix.TMPFS_MAGIC {
			continue
		}
		plain = append(plain, dir)
	}
	if len(plain) > 0 {
		t.Fatalf("%s is left from an earlier program: a plain directory, no cgroup mount, where podman would write this pod's cgroups and then fail to remove them; remove it (rm -rf) and run again", strings.Join(plain, ", "))
	}
}

// The Kubernetes path with pod networking: the pod sandbox's network
// namespace is set up by CNI (Debian's bridge plugin, a conflist in the
// CRI plugin's conf_dir); the wasm server container joins it and answers
// curl at the pod IP; a second wasm container in the same pod reaches the
// first on localhost; StopContainer ends the server with 143.
func TestCRINetworkPod(t *testing.T) {
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skipf("needs the CNI plugins in /usr/lib/cni (Debian containernetworking-plugins): %v", err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skipf("needs curl: %v", err)
	}
	const dev = "rwcrinet0"
	e := newCRIEnvCNI(t, func(dir string) string {
		return netBridgeConflist("runw-cri-test", dev, "10.213.252.0/24", filepath.Join(dir, "ipam"))
	})
	deleteLink(t, dev)
	hello, netc := netGuest(t, "hello"), netGuest(t, "netc")
	const base = "localhost/runw-nethello"
	archive := filepath.Join(e.dir, "nethello.oci.tar")
	engOCIArchive(t, archive, "test", "linux", "amd64", []string{"/hello.wasm"},
		map[string]string{"hello.wasm": hello, "netc.wasm": netc})
	e.ctr("image", "import", "--base-name", base, archive)
	image := base + ":test"
	ctx := context.Background()

	pod := e.runPodNet("net-pod", cri.NamespaceMode_POD)
	st, err := e.rt.PodSandboxStatus(ctx, &cri.PodSandboxStatusRequest{PodSandboxId: pod.id})
	if err != nil {
		t.Fatal(err)
	}
	ip := st.GetStatus().GetNetwork().GetIp()
	if !strings.HasPrefix(ip, "10.213.252.") {
		t.Fatalf("pod IP %q, want one from the CNI bridge's 10.213.252.0/24", ip)
	}
	t.Logf("pod IP %s", ip)

	server := pod.create(t, criContainer{name: "web", image: image, envs: map[string]string{"RUNW_LISTEN": ":8080"}})
	server.start(t)
	gone := func() string {
		if st := server.status(t); st.State != cri.ContainerState_CONTAINER_RUNNING {
			server.settleLog()
			return fmt.Sprintf("state %v, exit code %d, log %+v", st.State, st.ExitCode, server.logLines(t))
		}
		return ""
	}
	if got := curlBody(t, "http://"+ip+":8080/", 90*time.Second, gone); got != "hello from wasm\n" {
		t.Errorf("curl the pod IP: %q, want %q", got, "hello from wasm\n")
	}
	e.assertRunwRunning(t, server.id)

	client := pod.create(t, criContainer{name: "client", image: image, command: []string{"/netc.wasm"},
		args: []string{"connect", "127.0.0.1", "8080", "GET / HTTP/1.0\r\n\r\n"}})
	client.start(t)
	cst := client.waitExited(t, 60*time.Second)
	lines := client.logLines(t)
	if cst.ExitCode != 0 || !containsLine(lines, "stdout", "hello from wasm") {
		t.Errorf("the second container fetching localhost:8080: exit code %d, log %+v", cst.ExitCode, lines)
	}
	client.remove(t)

	e.stopPromptly(t, server, statusSIGTERM)
	server.remove(t)
	pod.remove(t)
	e.assertNothingLeft(t)
}

// A hostNetwork pod has no network namespace of its own, so its wasm
// containers get no sockets, unless the pod carries the annotation
// io.github.runw.net: allow and containerd's runw handler passes it on
// (pod_annotations = ["io.github.runw.*"], as docs/networking.md and
// docs/kubernetes.md configure it).
func TestCRIHostNetworkPodAnnotation(t *testing.T) {
	e := newCRIEnv(t)
	open := netGuest(t, "open")
	const base = "localhost/runw-netopen"
	archive := filepath.Join(e.dir, "netopen.oci.tar")
	engOCIArchive(t, archive, "test", "linux", "amd64", []string{"/open.wasm"}, map[string]string{"open.wasm": open})
	e.ctr("image", "import", "--base-name", base, archive)
	for _, c := range []struct {
		name string
		ann  map[string]string
		want string
	}{
		{"no-grant", nil, fmt.Sprintf("open=%d", errnoAcces)},
		{"allowed", map[string]string{"io.github.runw.net": "allow"}, "open=0"},
		// Narrowed: the pod's native sandbox carries the annotation too,
		// and is still handed on as the pod's sandbox (its sandbox id is
		// its own), never refused as a native container the grant
		// cannot confine.
		{"denied", map[string]string{"io.github.runw.net": "deny"}, fmt.Sprintf("open=%d", errnoAcces)},
	} {
		pod := e.runPodAnnotated("hostnet-"+c.name, cri.NamespaceMode_NODE, c.ann)
		ctr := pod.create(t, criContainer{name: "open", image: base + ":test"})
		ctr.start(t)
		st := ctr.waitExited(t, 60*time.Second)
		if lines := ctr.logLines(t); st.ExitCode != 0 || !containsLine(lines, "stdout", c.want) {
			t.Errorf("%s: exit code %d, log %+v; want 0 and %q", c.name, st.ExitCode, lines, c.want)
		}
		ctr.remove(t)
		pod.remove(t)
	}
	e.assertNothingLeft(t)
}
