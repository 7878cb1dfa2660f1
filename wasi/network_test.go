package wasi

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runw/runw/wasi/preview1"
)

// TestNetworkGrant: sockets follow the network namespace, the annotations
// widen or narrow the grant, and listeners come from RUNW_LISTEN and the
// annotation together.
func TestNetworkGrant(t *testing.T) {
	own := &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/var/run/netns/x"}}}
	hostByPath := &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: fmt.Sprintf("/proc/%d/ns/net", os.Getpid())}}}
	cases := []struct {
		name    string
		linux   *specs.Linux
		ann     map[string]string
		env     []string
		sockets bool
		listen  int
		err     string
	}{
		{name: "host netns", sockets: false},
		{name: "own netns", linux: own, sockets: true},
		{name: "host netns, allowed", ann: map[string]string{AnnotationNet: "allow"}, sockets: true},
		{name: "own netns, denied", linux: own, ann: map[string]string{AnnotationNet: "deny"}, sockets: false},
		{name: "bad value", ann: map[string]string{AnnotationNet: "yes"}, err: "want allow or deny"},
		{name: "bad rule", linux: own, ann: map[string]string{AnnotationNetConnect: "10.0.0.0/40"}, err: AnnotationNetConnect},
		{name: "listeners", linux: own, env: []string{"RUNW_LISTEN=:8080,9090"}, ann: map[string]string{AnnotationNetListeners: "8080, udp://:53"}, sockets: true, listen: 3},
		{name: "listeners on the host", env: []string{"RUNW_LISTEN=:8080"}, err: "no network namespace of its own"},
		// containerd's hostNetwork pods: the pause container's namespace
		// by path, which is the host's, the one runw runs in.
		{name: "host netns by path", linux: hostByPath, sockets: false},
		{name: "host netns by path, allowed", linux: hostByPath, ann: map[string]string{AnnotationNet: "allow"}, sockets: true},
		{name: "listeners in the host netns by path", linux: hostByPath, env: []string{"RUNW_LISTEN=:8080"}, err: "no network namespace of its own"},
	}
	for _, c := range cases {
		s := &specs.Spec{Linux: c.linux, Annotations: c.ann}
		n, err := networkOf(s, c.env, true)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if n.Sockets != c.sockets || len(n.Listeners) != c.listen {
			t.Errorf("%s: sockets %v listeners %v, want %v and %d", c.name, n.Sockets, n.Listeners, c.sockets, c.listen)
		}
	}
}

// TestListenersPrivilegedOnTheHost: listeners are bound as root before
// the capabilities drop. In the container's own network namespace that
// gives a server port 80 there; in the host's (io.github.runw.net=allow),
// an image's RUNW_LISTEN must not take a privileged port of the host
// unless the process could bind it itself (CAP_NET_BIND_SERVICE).
func TestListenersPrivilegedOnTheHost(t *testing.T) {
	defer func(f func() int) { unprivilegedPortStart = f }(unprivilegedPortStart)
	unprivilegedPortStart = func() int { return 1024 }
	own := &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/var/run/netns/x"}}}
	allow := map[string]string{AnnotationNet: "allow"}
	bind := &specs.Process{Capabilities: &specs.LinuxCapabilities{Effective: []string{"CAP_NET_BIND_SERVICE"}}}
	bounding := &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_NET_BIND_SERVICE"}}}
	// What containerd writes for a Kubernetes container with runAsUser:
	// 1000 and capabilities.add [NET_BIND_SERVICE]: the capability is
	// effective and permitted in the spec, but not ambient, so runc's
	// exec of the program leaves the process without it.
	nbs := []string{"CAP_NET_BIND_SERVICE"}
	nonRoot := &specs.Process{User: specs.User{UID: 1000}, Capabilities: &specs.LinuxCapabilities{
		Bounding: nbs, Effective: nbs, Permitted: nbs}}
	nonRootAmbient := &specs.Process{User: specs.User{UID: 1000}, Capabilities: &specs.LinuxCapabilities{
		Bounding: nbs, Effective: nbs, Permitted: nbs, Inheritable: nbs, Ambient: nbs}}
	for _, c := range []struct {
		name  string
		linux *specs.Linux
		proc  *specs.Process
		ann   map[string]string
		env   string
		ok    bool
	}{
		{"own netns, port 80", own, nil, nil, "RUNW_LISTEN=:80", true},
		{"host, port 22 from ENV", nil, nil, allow, "RUNW_LISTEN=:22", false},
		{"host, udp port 53", nil, nil, allow, "RUNW_LISTEN=udp://127.0.0.1:53", false},
		{"host, [::]:443", nil, nil, allow, "RUNW_LISTEN=[::]:443", false},
		{"host, port 80 by annotation", nil, nil, map[string]string{AnnotationNet: "allow", AnnotationNetListeners: "80"}, "", false},
		{"host, only in the bounding set", nil, bounding, allow, "RUNW_LISTEN=:80", false},
		{"host, with CAP_NET_BIND_SERVICE", nil, bind, allow, "RUNW_LISTEN=:80", true},
		{"host, uid 1000, effective but not ambient", nil, nonRoot, allow, "RUNW_LISTEN=:80", false},
		{"host, uid 1000, ambient", nil, nonRootAmbient, allow, "RUNW_LISTEN=:80", true},
		{"own netns, uid 1000, port 80", own, nonRoot, nil, "RUNW_LISTEN=:80", true},
		{"host, port 8080", nil, nil, allow, "RUNW_LISTEN=:8080,1024", true},
		{"host, port 0", nil, nil, allow, "RUNW_LISTEN=127.0.0.1:0", true},
	} {
		s := &specs.Spec{Linux: c.linux, Annotations: c.ann, Process: c.proc}
		var env []string
		if c.env != "" {
			env = []string{c.env}
		}
		_, err := networkOf(s, env, true)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok %v", c.name, err, c.ok)
		}
	}
	// An exec'd process binds nothing: the container's declarations are
	// neither read nor checked for it (podman exec passes RUNW_LISTEN
	// along, and may drop capabilities for another user).
	for _, env := range []string{"RUNW_LISTEN=:22", "RUNW_LISTEN=:99999"} {
		n, err := networkOf(&specs.Spec{Annotations: allow}, []string{env}, false)
		if err != nil || len(n.Listeners) != 0 || !n.Sockets {
			t.Errorf("exec with %s: listeners %v, sockets %v, err %v; want none, sockets, no error", env, n.Listeners, n.Sockets, err)
		}
	}
	// Where the host lets every process bind every port, so may runw.
	unprivilegedPortStart = func() int { return 0 }
	if _, err := networkOf(&specs.Spec{Annotations: allow}, []string{"RUNW_LISTEN=:22"}, true); err != nil {
		t.Errorf("ip_unprivileged_port_start=0: %v", err)
	}
}

// TestNetworkGrantErrorsNameTheirCause: the one line a user sees at create
// names what is wrong: a listener declared under net=deny is blamed on the
// deny (not on a missing namespace), a bad listener names where it was
// declared, and a listener that cannot be bound is not called a file
// grant.
func TestNetworkGrantErrorsNameTheirCause(t *testing.T) {
	own := &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}}
	cases := []struct {
		name string
		ann  map[string]string
		env  []string
		want string
	}{
		{"denied", map[string]string{AnnotationNet: "deny"}, []string{"RUNW_LISTEN=:8080"}, "RUNW_LISTEN declares listeners, but the annotation io.github.runw.net=deny grants no sockets"},
		{"bad env", nil, []string{"RUNW_LISTEN=:99999"}, "RUNW_LISTEN: listener"},
		{"bad annotation", map[string]string{AnnotationNetListeners: "x:y"}, nil, "annotation io.github.runw.net.listeners: listener"},
	}
	for _, c := range cases {
		_, err := networkOf(&specs.Spec{Linux: own, Annotations: c.ann}, c.env, true)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to start with %q", c.name, err, c.want)
		}
	}

	engine := NewEngine()
	wasm, err := wasmtime.Wat2Wasm(`(module (memory (export "memory") 1) (func (export "_start")))`)
	if err != nil {
		t.Fatal(err)
	}
	module, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		t.Fatal(err)
	}
	n, err := networkOf(&specs.Spec{Linux: own, Annotations: map[string]string{AnnotationNetListen: "9000"}}, []string{"RUNW_LISTEN=127.0.0.1:8080"}, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prepareModule(engine, module, &Plan{Argv: []string{"x"}, Preopens: []Preopen{{HostPath: t.TempDir(), GuestPath: "/"}}, Net: n})
	if err == nil || strings.Contains(err.Error(), "files") || !strings.HasPrefix(err.Error(), "bind the container's listeners: listen tcp://127.0.0.1:8080: outside the listen grant") {
		t.Errorf("listener outside the grant: err %v", err)
	}
}

// TestListenersWithinNofile: the listeners an image's ENV declares are
// bound by the init before it applies process.rlimits, which it then
// raises to what it holds: more listeners than the spec's RLIMIT_NOFILE
// are refused at create, as a native server could not bind them. They
// are also deduplicated in linear time: 65,535 of them took runw create
// about 8 s of CPU in a quadratic search before.
func TestListenersWithinNofile(t *testing.T) {
	own := &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}}
	proc := &specs.Process{Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 16}}}
	ports := func(n int) string {
		var b strings.Builder
		b.WriteString("RUNW_LISTEN=")
		for p := 1; p <= n; p++ {
			fmt.Fprintf(&b, "%d,", p)
		}
		return b.String()
	}
	if _, err := networkOf(&specs.Spec{Linux: own, Process: proc}, []string{ports(17)}, true); err == nil || !strings.Contains(err.Error(), "RLIMIT_NOFILE") {
		t.Errorf("17 listeners under RLIMIT_NOFILE 16: err %v, want a refusal naming RLIMIT_NOFILE", err)
	}
	// Duplicates count once.
	if n, err := networkOf(&specs.Spec{Linux: own, Process: proc}, []string{ports(16) + ports(16)[len("RUNW_LISTEN="):]}, true); err != nil || len(n.Listeners) != 16 {
		t.Errorf("16 listeners declared twice under RLIMIT_NOFILE 16: %d listeners, err %v", len(n.Listeners), err)
	}
	start := time.Now()
	n, err := networkOf(&specs.Spec{Linux: own}, []string{ports(65535)}, true)
	if err != nil || len(n.Listeners) != 65535 {
		t.Fatalf("65535 listeners: %d, err %v", len(n.Listeners), err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("65535 listeners took %v to read", d)
	}
}

// TestEmptyGrantSurvivesThePipe: the plan reaches the init as JSON
// (runtime/spawn.go). An annotation present but empty narrows to nothing,
// and must still after the trip; when the lists were omitempty, the
// empty list was dropped, decoded as nil, and allowed everything.
func TestEmptyGrantSurvivesThePipe(t *testing.T) {
	own := &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/var/run/netns/x"}}}
	for _, c := range []struct {
		name string
		ann  map[string]string
	}{
		{"both empty", map[string]string{AnnotationNetConnect: "", AnnotationNetListen: ""}},
		{"empty after commas", map[string]string{AnnotationNetConnect: " , ", AnnotationNetListen: ","}},
	} {
		n, err := networkOf(&specs.Spec{Linux: own, Annotations: c.ann}, nil, true)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		data, err := json.Marshal(Plan{Net: n})
		if err != nil {
			t.Fatal(err)
		}
		var back Plan
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if back.Net.Connect == nil || len(back.Net.Connect) != 0 || back.Net.Listen == nil || len(back.Net.Listen) != 0 {
			t.Errorf("%s: the init reads connect %#v listen %#v, want empty lists (none allowed); on the pipe: %s",
				c.name, back.Net.Connect, back.Net.Listen, data)
		}
	}
	// No annotation: no narrowing, nil on both sides.
	n, err := networkOf(&specs.Spec{Linux: own}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(Plan{Net: n})
	var back Plan
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Net.Connect != nil || back.Net.Listen != nil {
		t.Errorf("no annotation: the init reads connect %#v listen %#v, want nil (no narrowing)", back.Net.Connect, back.Net.Listen)
	}
}

// networkOf is networkFor with the namespace judged as create judges it.
func networkOf(s *specs.Spec, env []string, bind bool) (preview1.Network, error) {
	return networkFor(s, OwnNetwork(s), env, bind)
}
