package netdns

import (
	"context"
	"slices"
	"testing"
)

// These cases never reach DNS: the files give no resolv.conf, and a lookup
// that fell through would ask 127.0.0.1:53 and fail the comparison.
func TestLookupWithoutDNS(t *testing.T) {
	hosts := files(map[string]string{hostsPath: "10.0.0.5 db.internal db\n::1 localhost\n"})
	ownLocalhost := files(map[string]string{hostsPath: "127.0.1.1 localhost\n"})
	none := files(nil)
	odd := files(map[string]string{hostsPath: "10.0.0.6 my+host\n10.0.0.7 café\n::ffff:10.0.0.8 mapped\n10.0.0.9 256.1.1.1\n"})
	for _, tc := range []struct {
		name  string
		files Files
		q     Query
		want  []string // "ip port socktype [canon]"
		code  Code
	}{
		{"numeric IPv4, both socket types", none, Query{Node: "192.0.2.1", Service: "80"},
			[]string{"192.0.2.1 80 2", "192.0.2.1 80 1"}, 0},
		{"numeric IPv6, canon is the node", none, Query{Node: "2001:db8::1", Service: "443", SockType: SockStream, CanonName: true},
			[]string{"2001:db8::1 443 2 2001:db8::1"}, 0},
		{"numeric of the other family", none, Query{Node: "::1", Family: FamilyIPv4}, nil, CodeAddrFamily},
		{"numeric with a zone", none, Query{Node: "fe80::1%eth0"}, nil, CodeNoName},
		{"empty node: loopback, IPv4 first", none, Query{Service: "8080", SockType: SockStream},
			[]string{"127.0.0.1 8080 2", "::1 8080 2"}, 0},
		{"empty node, passive: wildcard", none, Query{Service: "8080", SockType: SockStream, Passive: true},
			[]string{"0.0.0.0 8080 2", ":: 8080 2"}, 0},
		{"empty node, passive, IPv6", none, Query{Service: "53", SockType: SockDgram, Passive: true, Family: FamilyIPv6},
			[]string{":: 53 1"}, 0},
		{"localhost with no hosts file", none, Query{Node: "localhost", SockType: SockStream, CanonName: true},
			[]string{"127.0.0.1 0 2 localhost", "::1 0 2"}, 0},
		{"localhost: any case, trailing dot", none, Query{Node: "LocalHost.", Family: FamilyIPv4, SockType: SockStream},
			[]string{"127.0.0.1 0 2"}, 0},
		{"a name under localhost", none, Query{Node: "app.localhost", Family: FamilyIPv6, SockType: SockStream},
			[]string{"::1 0 2"}, 0},
		{"hosts gives localhost only for IPv6", hosts, Query{Node: "localhost", Family: FamilyIPv4, SockType: SockStream},
			[]string{"127.0.0.1 0 2"}, 0},
		{"hosts' own localhost wins", ownLocalhost, Query{Node: "localhost", SockType: SockStream},
			[]string{"127.0.1.1 0 2"}, 0},
		{"hosts alias, canon from the line", hosts, Query{Node: "DB", Service: "5432", CanonName: true},
			[]string{"10.0.0.5 5432 2 db.internal", "10.0.0.5 5432 1"}, 0},
		{"Max caps the results", none, Query{Node: "localhost", Max: 3},
			[]string{"127.0.0.1 0 2", "127.0.0.1 0 1", "::1 0 2"}, 0},
		{"numeric-host refuses a name", hosts, Query{Node: "db", NumericHost: true}, nil, CodeNoName},
		// inet_aton's forms, as glibc's getaddrinfo takes them: they went
		// to DNS, whose answer for "0x7f.1" could be any address.
		{"inet_aton: two parts", none, Query{Node: "127.1", SockType: SockStream}, []string{"127.0.0.1 0 2"}, 0},
		{"inet_aton: hex and the last part's bytes", none, Query{Node: "0x7f.1", SockType: SockStream}, []string{"127.0.0.1 0 2"}, 0},
		{"inet_aton: octal", none, Query{Node: "010.1.1.1", SockType: SockStream}, []string{"8.1.1.1 0 2"}, 0},
		{"inet_aton: one number", none, Query{Node: "2130706433", SockType: SockStream}, []string{"127.0.0.1 0 2"}, 0},
		{"inet_aton: three parts, 16 bits last", none, Query{Node: "10.1.258", SockType: SockStream, NumericHost: true}, []string{"10.1.1.2 0 2"}, 0},
		{"inet_aton: of the other family", none, Query{Node: "127.1", Family: FamilyIPv6}, nil, CodeAddrFamily},
		// Digits and dots that are no address are no name either for an
		// IPv4 lookup, and are not asked of DNS (glibc's digits-dots rule
		// on its AF_INET path).
		{"digits and dots, a part over 255", none, Query{Node: "256.1.1.1", Family: FamilyIPv4}, nil, CodeNoName},
		{"digits and dots, five parts", none, Query{Node: "1.2.3.4.5", Family: FamilyIPv4}, nil, CodeNoName},
		{"digits and dots, last part too big", none, Query{Node: "1.2.65536", Family: FamilyIPv4}, nil, CodeNoName},
		{"digits and dots, octal digit 8", none, Query{Node: "08.1.1.1", Family: FamilyIPv4}, nil, CodeNoName},
		// Otherwise they are looked up as names: here in the hosts file.
		{"digits and dots, any family: a name", odd, Query{Node: "256.1.1.1", SockType: SockStream}, []string{"10.0.0.9 0 2"}, 0},
		{"digits and dots, IPv4 with canon: a name", odd, Query{Node: "256.1.1.1", Family: FamilyIPv4, SockType: SockStream, CanonName: true}, []string{"10.0.0.9 0 2 256.1.1.1"}, 0},
		// The hosts file takes names DNS could not carry, as glibc's
		// files lookup does, and an IPv4-mapped line for an IPv4 lookup.
		{"hosts: a name with '+'", odd, Query{Node: "my+host", SockType: SockStream}, []string{"10.0.0.6 0 2"}, 0},
		{"hosts: a name in UTF-8", odd, Query{Node: "café", SockType: SockStream}, []string{"10.0.0.7 0 2"}, 0},
		{"hosts: IPv4-mapped, asked as IPv4", odd, Query{Node: "mapped", Family: FamilyIPv4, SockType: SockStream}, []string{"10.0.0.8 0 2"}, 0},
		{"hosts: IPv4-mapped, asked as any", odd, Query{Node: "mapped", SockType: SockStream}, []string{"::ffff:10.0.0.8 0 2"}, 0},
		{"not a valid name", none, Query{Node: "a b"}, nil, CodeNoName},
		{"neither node nor service", none, Query{}, nil, CodeNoName},
		{"bad family", none, Query{Node: "localhost", Family: 5}, nil, CodeFamily},
		{"bad socket type", none, Query{Node: "localhost", SockType: 3}, nil, CodeSockType},
		{"unknown service", none, Query{Node: "localhost", Service: "nosuch"}, nil, CodeService},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Lookup(context.Background(), tc.files, tc.q)
			if got := show(res); codeOf(err) != tc.code || !slices.Equal(got, tc.want) {
				t.Errorf("got %q %v, want %q code %d", got, err, tc.want, tc.code)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	_, err := Lookup(context.Background(), files(nil), Query{Node: "localhost", Service: "nosuch"})
	if want := `lookup "nosuch": servname not supported for ai_socktype`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
