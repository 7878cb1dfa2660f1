package wasi

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestNetworkGrant: sockets follow the network namespace, the annotations
// widen or narrow the grant, and listeners come from RUNW_LISTEN and the
// annotation together.
func TestNetworkGrant(t *testing.T) {
	own := &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/var/run/netns/x"}}}
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
	}
	for _, c := range cases {
		s := &specs.Spec{Linux: c.linux, Annotations: c.ann}
		n, err := networkFor(s, c.env)
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
