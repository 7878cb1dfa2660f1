package wasi

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi/preview1"
)

// The network grant's annotations and environment variable
// (docs/networking.md).
const (
	// AnnotationNet is "allow" (sockets even in the host's network
	// namespace) or "deny" (no sockets at all). Unset, sockets are granted
	// exactly when the container has a network namespace of its own.
	AnnotationNet = "io.github.runw.net"
	// AnnotationNetListen narrows the addresses and ports the guest may
	// bind (preview1.ParseRules).
	AnnotationNetListen = "io.github.runw.net.listen"
	// AnnotationNetConnect narrows the peers the guest may connect and
	// send to.
	AnnotationNetConnect = "io.github.runw.net.connect"
	// AnnotationNetListeners declares preopened listeners
	// (preview1.ParseListeners), as EnvListen does.
	AnnotationNetListeners = "io.github.runw.net.listeners"
	// EnvListen declares preopened listeners in process.env, which image
	// ENV, podman run -e and a Kubernetes container's env all reach.
	EnvListen = "RUNW_LISTEN"
)

// OwnNetwork says whether s gives the container a network namespace of
// its own: one it creates, or one it joins that is not the namespace
// runw runs in (sameNetns).
func OwnNetwork(s *specs.Spec) bool {
	own := false
	if s.Linux != nil {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				own = ns.Path == "" || !sameNetns(ns.Path, selfNetns)
			}
		}
	}
	return own
}

// networkFor derives the network grant from the spec: the namespace is the
// boundary, as for a native container (ownNetns, OwnNetwork's answer at
// create), and the annotations narrow it. With bind false (an exec'd
// process, which never binds the container's listeners) the listeners
// are not read, nor checked.
func networkFor(s *specs.Spec, ownNetns bool, env []string, bind bool) (preview1.Network, error) {
	var n preview1.Network
	ann := s.Annotations
	switch v := ann[AnnotationNet]; v {
	case "":
		n.Sockets = ownNetns
	case "allow":
		n.Sockets = true
	case "deny":
	default:
		return n, fmt.Errorf("annotation %s=%q: want allow or deny", AnnotationNet, v)
	}
	var err error
	if v, ok := ann[AnnotationNetListen]; ok {
		if n.Listen, err = preview1.ParseRules(v); err != nil {
			return n, fmt.Errorf("annotation %s: %w", AnnotationNetListen, err)
		}
	}
	if v, ok := ann[AnnotationNetConnect]; ok {
		if n.Connect, err = preview1.ParseRules(v); err != nil {
			return n, fmt.Errorf("annotation %s: %w", AnnotationNetConnect, err)
		}
	}
	if !bind {
		return n, nil
	}
	// Each declaration with where it came from, for the error messages.
	type declaration struct{ from, list string }
	var decl []declaration
	if v := ann[AnnotationNetListeners]; v != "" {
		decl = append(decl, declaration{"annotation " + AnnotationNetListeners, v})
	}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, EnvListen+"="); ok && v != "" {
			decl = append(decl, declaration{EnvListen, v})
		}
	}
	seen := map[preview1.Listener]bool{}
	for _, d := range decl {
		ls, err := preview1.ParseListeners(d.list)
		if err != nil {
			return n, fmt.Errorf("%s: %w", d.from, err)
		}
		for _, l := range ls {
			if !seen[l] {
				seen[l] = true
				n.Listeners = append(n.Listeners, l)
			}
		}
	}
	// The init binds the listeners under runw's own RLIMIT_NOFILE, before
	// it applies the spec's, and then raises the spec's to what it holds
	// (runtime's nofileLimit): without this check an image's ENV
	// (RUNW_LISTEN=1,2,3,...) made the container hold as many sockets as
	// the engine's limit let it (20,000 here, 2^20 under containerd),
	// past `podman run --ulimit nofile=1024`. A native server could bind
	// no more sockets than its limit.
	if soft, ok := spec.SoftRlimit(s.Process, "RLIMIT_NOFILE"); ok && uint64(len(n.Listeners)) > soft {
		return n, fmt.Errorf("%d listeners declared (%s), more than the process's RLIMIT_NOFILE (%d) lets it hold", len(n.Listeners), decl[0].from, soft)
	}
	if len(n.Listeners) > 0 && !n.Sockets {
		from := decl[0].from
		if ann[AnnotationNet] == "deny" {
			return n, fmt.Errorf("%s declares listeners, but the annotation %s=deny grants no sockets: drop one or the other", from, AnnotationNet)
		}
		return n, fmt.Errorf("%s declares listeners, but the container has no network namespace of its own (none in linux.namespaces, or the host's, which runw runs in): give it one, or set the annotation %s=allow to serve on the host's network", from, AnnotationNet)
	}
	// runw binds the listeners as root, before the capabilities drop, so
	// that a server in its own network namespace can take port 80 there.
	// In the host's namespace (io.github.runw.net=allow) the ports are the
	// host's: without this check an image's ENV (RUNW_LISTEN=:22) would
	// take a privileged port of the host for a process that could never
	// bind it itself. There a listener below the host's first
	// unprivileged port needs CAP_NET_BIND_SERVICE in the process's own
	// effective set, as a native process would.
	if len(n.Listeners) > 0 && !ownNetns && !holdsCap(s.Process, "CAP_NET_BIND_SERVICE") {
		first := unprivilegedPortStart()
		for _, l := range n.Listeners {
			if p := l.Addr.Port(); p != 0 && int(p) < first {
				return n, fmt.Errorf("listener %s: port %d of the host's network namespace is privileged (below %d), and the process will not hold CAP_NET_BIND_SERVICE (process.capabilities.effective, or the ambient set for a user other than root)", l, p, first)
			}
		}
	}
	return n, nil
}

// holdsCap says whether the process holds capability name in its
// effective set once it runs, as runc's exec of the program leaves it
// (runtime's afterExec, capabilities(7)): a process whose uid is not 0
// keeps only its ambient set, and an ambient capability counts only when
// it is also permitted and inheritable (the kernel refuses it otherwise).
// Kubernetes' capabilities.add for a runAsUser other than 0 lands in the
// bounding, effective and permitted sets but not the ambient one, so
// under runc such a process cannot bind port 80 of the host: neither may
// runw bind it for the guest.
func holdsCap(p *specs.Process, name string) bool {
	if p == nil || p.Capabilities == nil {
		return false
	}
	c := p.Capabilities
	if p.User.UID != 0 {
		return slices.Contains(c.Ambient, name) && slices.Contains(c.Permitted, name) && slices.Contains(c.Inheritable, name)
	}
	return slices.Contains(c.Effective, name)
}

// unprivilegedPortStart is the host's net.ipv4.ip_unprivileged_port_start
// (which applies to IPv6 too): the first port any process may bind. 1024
// when it cannot be read. A variable for the tests.
var unprivilegedPortStart = func() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || v < 0 {
		return 1024
	}
	return v
}

// selfNetns names the network namespace runw runs in: the engine's, the
// host's.
const selfNetns = "/proc/self/ns/net"

// sameNetns says whether the namespace files a and b are one namespace. A
// network entry joining runw's own namespace is the host's network under
// another name: containerd gives every container of a hostNetwork pod the
// pause container's namespace by path, /proc/<pid>/ns/net, and the pause
// container runs in the host's. A path that cannot be read is left to the
// join, which fails on it.
func sameNetns(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
