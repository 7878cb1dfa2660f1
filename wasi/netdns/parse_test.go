package netdns

import (
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

const testHosts = `# The container's hosts file
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
10.0.0.5	db.internal db   # the database
10.0.0.6	DB.internal
fd00::5	db.internal
fe80::1%eth0	linklocal
not-an-ip	broken
10.0.0.7	web.internal. web
10.0.0.5	db
`

func TestLookupHosts(t *testing.T) {
	for _, tc := range []struct {
		name, host string
		family     int
		want       []string
		canon      string
	}{
		{"alias, and a repeat on a later line", "db", FamilyAny, []string{"10.0.0.5"}, "db.internal"},
		{"every matching line, no case, no repeats", "db.internal", FamilyAny, []string{"10.0.0.5", "10.0.0.6", "fd00::5"}, "db.internal"},
		{"only IPv4", "db.internal", FamilyIPv4, []string{"10.0.0.5", "10.0.0.6"}, "db.internal"},
		{"only IPv6", "db.internal", FamilyIPv6, []string{"fd00::5"}, "db.internal"},
		{"canon is the first name of the line", "ip6-loopback", FamilyAny, []string{"::1"}, "localhost"},
		{"trailing dots ignored", "web.internal.", FamilyAny, []string{"10.0.0.7"}, "web.internal"},
		{"comment is not a name", "the", FamilyAny, nil, ""},
		{"zoned address skipped", "linklocal", FamilyAny, nil, ""},
		{"bad address skipped", "broken", FamilyAny, nil, ""},
		{"unknown", "nothere", FamilyAny, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addrs, canon := lookupHosts(strings.NewReader(testHosts), tc.host, tc.family)
			if got := strs(addrs); !slices.Equal(got, tc.want) || canon != tc.canon {
				t.Errorf("got %v %q, want %v %q", got, canon, tc.want, tc.canon)
			}
		})
	}
}

func TestParseResolvConf(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       resolvConf
	}{
		{"missing: glibc defaults", "", resolvConf{
			servers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ndots: 1, timeout: 5 * time.Second, attempts: 2}},
		{"kubernetes", "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n", resolvConf{
			servers: []netip.Addr{netip.MustParseAddr("10.96.0.10")},
			search:  []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"},
			ndots:   5, timeout: 5 * time.Second, attempts: 2}},
		{"three servers at most, v4 and v6, comments", "# c\n; c\nnameserver 1.1.1.1\nnameserver 2606:4700::1111\nnameserver bogus\nnameserver 8.8.8.8 # google\nnameserver 9.9.9.9\n", resolvConf{
			servers: []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("2606:4700::1111"), netip.MustParseAddr("8.8.8.8")},
			ndots:   1, timeout: 5 * time.Second, attempts: 2}},
		{"last of domain and search wins, root and bad dropped", "search a.test . bad_label.x!y\ndomain example.com.\n", resolvConf{
			servers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, search: []string{"example.com"},
			ndots: 1, timeout: 5 * time.Second, attempts: 2}},
		{"options clamped, unknown ignored", "options rotate ndots:99 timeout:0 attempts:9 edns0 timeout:x\n", resolvConf{
			servers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ndots: 15, timeout: time.Second, attempts: 5}},
		{"options within range", "options timeout:2 attempts:3 ndots:0", resolvConf{
			servers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ndots: 0, timeout: 2 * time.Second, attempts: 3}},
		// glibc's old limit was 6 (MAXDNSRCH, gone since 2.26); a pod may
		// have 32.
		{"more than six search domains, 32 at most", "search " + strings.Repeat("a b c d e f g h ", 5), resolvConf{
			servers: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
			search:  strings.Fields(strings.Repeat("a b c d e f g h ", 4)),
			ndots:   1, timeout: 5 * time.Second, attempts: 2}},
		{"use-vc, and Go's spellings", "options usevc\noptions rotate use-vc\n", resolvConf{
			servers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ndots: 1, timeout: 5 * time.Second, attempts: 2, tcp: true}},
		{"tcp", "options tcp ndots:2", resolvConf{
			servers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, ndots: 2, timeout: 5 * time.Second, attempts: 2, tcp: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseResolvConf(strings.NewReader(tc.conf))
			if !slices.Equal(got.servers, tc.want.servers) || !slices.Equal(got.search, tc.want.search) ||
				got.ndots != tc.want.ndots || got.timeout != tc.want.timeout || got.attempts != tc.want.attempts || got.tcp != tc.want.tcp {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSearchNames(t *testing.T) {
	conf := resolvConf{search: []string{"ns.svc", "svc"}, ndots: 2}
	for _, tc := range []struct {
		node string
		want []string
	}{
		{"web", []string{"web.ns.svc.", "web.svc.", "web."}},
		{"web.ns", []string{"web.ns.ns.svc.", "web.ns.svc.", "web.ns."}},
		{"a.b.c", []string{"a.b.c.", "a.b.c.ns.svc.", "a.b.c.svc."}},
		{"web.", []string{"web."}},
	} {
		if got, _ := conf.names(tc.node); !slices.Equal(got, tc.want) {
			t.Errorf("names(%q) = %v, want %v", tc.node, got, tc.want)
		}
	}
}

func TestValidName(t *testing.T) {
	long := string(slices.Repeat([]byte("a"), 64))
	for name, want := range map[string]bool{
		"example.com": true, "example.com.": true, "_srv.x-y.Z9": true,
		"": false, ".": false, "a..b": false, long: false, "a b": false,
		"a\x00b": false, "a\\.b": false, "ünï.de": false,
	} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestService(t *testing.T) {
	services := "http\t80/tcp\twww\t# web\nhttp 80/udp\nsyslog 514/udp\nweird 99999/tcp\n"
	with := resolver{files: files(map[string]string{servicesPath: services})}
	without := resolver{files: files(nil)}
	for _, tc := range []struct {
		name string
		r    resolver
		q    Query
		want []endpoint
		code Code
	}{
		{"empty is port 0 for both types", without, Query{}, []endpoint{{0, SockStream}, {0, SockDgram}}, 0},
		{"number", without, Query{Service: "8080"}, []endpoint{{8080, SockStream}, {8080, SockDgram}}, 0},
		{"number for one type", without, Query{Service: "53", SockType: SockDgram}, []endpoint{{53, SockDgram}}, 0},
		{"number too big", without, Query{Service: "65536"}, nil, CodeService},
		{"file name, both protocols", with, Query{Service: "http"}, []endpoint{{80, SockStream}, {80, SockDgram}}, 0},
		{"file alias", with, Query{Service: "www", SockType: SockStream}, []endpoint{{80, SockStream}}, 0},
		{"udp-only name, any type", with, Query{Service: "syslog"}, []endpoint{{514, SockDgram}}, 0},
		{"udp-only name, stream", with, Query{Service: "syslog", SockType: SockStream}, nil, CodeService},
		{"the file is authoritative", with, Query{Service: "https"}, nil, CodeService},
		{"names are case-sensitive", with, Query{Service: "HTTP"}, nil, CodeService},
		{"bad port in the file", with, Query{Service: "weird"}, nil, CodeService},
		{"built-in table", without, Query{Service: "https"}, []endpoint{{443, SockStream}, {443, SockDgram}}, 0},
		{"built-in tcp only", without, Query{Service: "postgresql"}, []endpoint{{5432, SockStream}}, 0},
		{"built-in unknown", without, Query{Service: "gopher"}, nil, CodeService},
		{"numeric-serv refuses a name", with, Query{Service: "http", NumericServ: true}, nil, CodeNoName},
		{"numeric-serv takes a number", with, Query{Service: "80", NumericServ: true}, []endpoint{{80, SockStream}, {80, SockDgram}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.r.service(tc.q)
			if code := codeOf(err); code != tc.code || !slices.Equal(got, tc.want) {
				t.Errorf("got %v %v, want %v code %d", got, err, tc.want, tc.code)
			}
		})
	}
}

// files serves a container's files from a map; a missing key is a missing file.
func files(m map[string]string) Files {
	return func(path string) (io.ReadCloser, error) {
		if s, ok := m[path]; ok {
			return io.NopCloser(strings.NewReader(s)), nil
		}
		return nil, fs.ErrNotExist
	}
}

func strs[T interface{ String() string }](v []T) []string {
	var out []string
	for _, x := range v {
		out = append(out, x.String())
	}
	return out
}

// codeOf is the Code of a Lookup error, 0 for nil.
func codeOf(err error) Code {
	if err == nil {
		return 0
	}
	var e *Error
	if !errors.As(err, &e) {
		return 0xffff
	}
	return e.Code
}
