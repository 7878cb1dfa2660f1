package integration

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Attacks on the network grant from a guest that escaped wasmtime into
// native code in the init (the test build's probes, runtime/sandbox_probe.go):
// what the kernel still refuses it.

// probeSpec sets the probes (op:path) and, with off, the control run
// without the sandbox.
func probeSpec(s *specs.Spec, probes []string, off bool) {
	s.Process.Env = []string{"RUNW_SANDBOX_PROBE=" + strings.Join(probes, ";")}
	if off {
		s.Process.Env = append(s.Process.Env, "RUNW_SANDBOX_OFF=1")
	}
}

// TestKernelRefusesOtherSockets: under runw's own seccomp filter
// (io.github.runw.seccomp=default) an escaped guest can make the TCP and
// UDP sockets the WASI host makes, and no other: not netlink, packet, raw
// or AF_UNIX sockets, not AF_ALG, even with CAP_NET_RAW. The control run
// (no sandbox, the same capabilities) makes them all.
func TestKernelRefusesOtherSockets(t *testing.T) {
	t.Parallel()
	bin := mustProbeBin(t)
	netns := testNetns(t)
	all := []string{"tcp", "udp6", "unix", "netlink", "packet", "raw", "ping", "alg"}
	var probes []string
	for _, s := range all {
		probes = append(probes, "socket:"+s)
	}
	run := func(name string, off bool) map[string]string {
		b := newBundle(t, "hello")
		caps := []string{"CAP_NET_RAW", "CAP_NET_BIND_SERVICE"}
		b.edit(func(s *specs.Spec) {
			probeSpec(s, probes, off)
			s.Linux = &specs.Linux{Namespaces: podLikeNamespaces(netns)}
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
			runwSeccomp(s)
		})
		r := newRunw(t)
		r.bin = bin
		res := r.run("run", "--bundle", b.dir, name)
		if res.code != 0 {
			t.Fatalf("%s: the guest failed: %v", name, res)
		}
		return probeResults(res.stderr)
	}
	got := run("sockets", false)
	for _, s := range all {
		want := "EPERM"
		if s == "tcp" || s == "udp6" {
			want = "ok"
		}
		if got["socket "+s] != want {
			t.Errorf("native socket %s under runw's filter: %q, want %s", s, got["socket "+s], want)
		}
	}
	got = run("sockets-control", true)
	for _, s := range []string{"tcp", "udp6", "unix", "netlink", "packet", "raw"} {
		if got["socket "+s] != "ok" {
			t.Errorf("native socket %s without the sandbox: %q, want ok (the probe itself is wrong)", s, got["socket "+s])
		}
	}
}

// TestKernelRefusesHostAbstractSockets: a container that shares the
// host's network namespace (io.github.runw.net=allow) shares its abstract
// AF_UNIX sockets too, where daemons listen (containerd-shim's, in
// CVE-2020-15257). Landlock's scope (ABI 6) refuses an escaped guest's
// connect to one made outside its sandbox; the control run reaches it.
func TestKernelRefusesHostAbstractSockets(t *testing.T) {
	t.Parallel()
	requireLandlockABI(t, 6, "scopes")
	bin := mustProbeBin(t)
	name := fmt.Sprintf("runw-attack-%d", time.Now().UnixNano())
	ln, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	run := func(id string, off bool) string {
		b := newBundle(t, "hello")
		b.edit(func(s *specs.Spec) {
			probeSpec(s, []string{"abstract:" + name}, off)
			var ns []specs.LinuxNamespace
			for _, n := range podLikeNamespaces("") {
				if n.Type != specs.NetworkNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux = &specs.Linux{Namespaces: ns}
			s.Annotations = map[string]string{"io.github.runw.net": "allow"}
		})
		r := newRunw(t)
		r.bin = bin
		res := r.run("run", "--bundle", b.dir, id)
		if res.code != 0 {
			t.Fatalf("%s: the guest failed: %v", id, res)
		}
		return probeResults(res.stderr)["abstract "+name]
	}
	if got := run("abstract", false); got != "EPERM" {
		t.Errorf("native connect to the host's abstract socket @%s under the sandbox: %q, want EPERM", name, got)
	}
	if got := run("abstract-control", true); got != "ok" {
		t.Errorf("native connect to @%s without the sandbox: %q, want ok (the probe itself is wrong)", name, got)
	}
}

// TestNetUnderRunwSeccomp: runw's own filter, which allows only TCP and
// UDP sockets, still lets networking guests work: a server on a
// preopened listener, a client that resolves a name through the
// container's DNS server (runw's resolver: its UDP socket, Go's IPv6
// probe) and fetches from the host, and a C client's sock_open and
// sock_connect.
func TestNetUnderRunwSeccomp(t *testing.T) {
	v := newVethNet(t)
	port := hostHTTP(t, v.host, "hello from the host\n")
	dns := newHostDNS(t, v.host, map[string]string{"web.runw.test": v.host})
	t.Run("Resolve", func(t *testing.T) {
		b := netBundle(t, netGuest(t, "sclient-gai"), fmt.Sprintf("http://web.runw.test:%d/", port))
		b.writeFile("etc/resolv.conf", "nameserver "+v.host+"\n")
		b.inNetns(v.path, nil, nil)
		b.edit(runwSeccomp)
		res := newRunw(t).run("run", "-b", b.dir, "client")
		if res.code != 0 || res.stdout != "status 200\nhello from the host\n" {
			t.Errorf("sclient-gai under runw's filter: %v", res)
		}
		if !dns.wasAsked("web.runw.test") {
			t.Error("the DNS server was never asked")
		}
	})
	t.Run("CClient", func(t *testing.T) {
		echo := newHostEcho(t, v.host)
		b := netBundle(t, netGuest(t, "netc"), "connect", v.host, strconv.Itoa(echo.port), "filtered")
		b.inNetns(v.path, nil, nil)
		b.edit(runwSeccomp)
		res := newRunw(t).run("run", "-b", b.dir, "netc")
		if want := "open=0\nconnect=0\nreply=filtered\n"; res.code != 0 || res.stdout != want {
			t.Errorf("netc under runw's filter: %v, want %q", res, want)
		}
	})
	t.Run("Server", func(t *testing.T) {
		r := newRunw(t)
		b := netBundle(t, netGuest(t, "hello"))
		b.inNetns(v.path, []string{"RUNW_LISTEN=:8080"}, nil)
		b.edit(runwSeccomp)
		bg := r.start("run", "-b", b.dir, "fserver")
		if got := waitHTTP(t, bg, "http://"+v.guest+":8080/"); got != "hello from wasm\n" {
			t.Errorf("GET / under runw's filter: %q", got)
		}
		stopWith143(t, r, bg, "fserver")
	})
}
