package runtime

import (
	"slices"
	"testing"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"

	"github.com/runw/runw/wasi/preview1"
)

// TestLandlockNet: the network half of the ruleset follows the grant. No
// socket grant handles every network right with no rule; a narrowed
// direction allows exactly its ports (connect also 53, for the
// resolver's TCP fallback); a direction Landlock cannot express (any
// port, or too many) is left to the WASI layer.
func TestLandlockNet(t *testing.T) {
	rules := func(s string) []preview1.Rule {
		r, err := preview1.ParseRules(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	all := landlock.AccessNetSet(ll.AccessNetBindTCP | ll.AccessNetConnectTCP | ll.AccessNetBindUDP | ll.AccessNetConnectSendUDP)
	cases := []struct {
		name    string
		net     preview1.Network
		handled landlock.AccessNetSet
		rules   []landlock.Rule
	}{
		{"no socket grant", preview1.Network{}, all, nil},
		{"unnarrowed", preview1.Network{Sockets: true}, 0, nil},
		{"listen ports", preview1.Network{Sockets: true, Listen: rules("8080, 127.0.0.1:9000-9001")}, ll.AccessNetBindTCP,
			[]landlock.Rule{landlock.BindTCP(8080), landlock.BindTCP(9000), landlock.BindTCP(9001)}},
		{"listen nothing", preview1.Network{Sockets: true, Listen: rules("")}, ll.AccessNetBindTCP, nil},
		{"connect a port", preview1.Network{Sockets: true, Connect: rules("10.0.0.0/8:5432")}, ll.AccessNetConnectTCP,
			[]landlock.Rule{landlock.ConnectTCP(53), landlock.ConnectTCP(5432)}},
		{"connect any port", preview1.Network{Sockets: true, Connect: rules("10.0.0.0/8")}, 0, nil},
		{"too many ports", preview1.Network{Sockets: true, Listen: rules("1-2000")}, 0, nil},
	}
	for _, c := range cases {
		handled, got := landlockNet(c.net)
		if handled != c.handled || !slices.Equal(got, c.rules) {
			t.Errorf("%s: handled %v rules %v, want %v %v", c.name, handled, got, c.handled, c.rules)
		}
	}
}
