package preview1

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/runw/runw/wasi/netdns"
)

func TestParseRules(t *testing.T) {
	ap := netip.MustParseAddrPort
	cases := []struct {
		rules string
		in    []string
		out   []string
	}{
		{"*", []string{"10.0.0.1:1", "[::1]:65535"}, nil},
		{"8080, 9000-9001", []string{"1.2.3.4:8080", "[fd00::1]:9001"}, []string{"1.2.3.4:8081", "1.2.3.4:8999"}},
		{"10.0.0.0/8", []string{"10.9.9.9:1", "[::ffff:10.1.1.1]:5"}, []string{"11.0.0.1:1", "[fd00::1]:1"}},
		{"10.1.2.3:5432", []string{"10.1.2.3:5432"}, []string{"10.1.2.3:5433", "10.1.2.4:5432"}},
		{"[fd00::/8]:443, *:53", []string{"[fd12::1]:443", "8.8.8.8:53"}, []string{"[fe80::1]:443", "[fd12::1]:80"}},
		{"", nil, []string{"127.0.0.1:80"}},
		{"[::ffff:10.213.0.0/120]:8080", []string{"10.213.0.1:8080", "[::ffff:10.213.0.9]:8080"}, []string{"10.213.1.1:8080", "10.213.0.1:80"}},
		{"[fd13::1]:8080, fd14::/16", []string{"[fd13::1]:8080", "[fd14::9]:1"}, []string{"[fd13::1]:9090", "[fd13::1:8080]:9090"}},
	}
	for _, c := range cases {
		rules, err := ParseRules(c.rules)
		if err != nil {
			t.Fatalf("%q: %v", c.rules, err)
		}
		for _, a := range c.in {
			if !allowed(rules, ap(a)) {
				t.Errorf("%q refuses %s", c.rules, a)
			}
		}
		for _, a := range c.out {
			if allowed(rules, ap(a)) {
				t.Errorf("%q allows %s", c.rules, a)
			}
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "80-70", "x:80", "[::1", "70000", "fd13::1:8080", "::1"} {
		if _, err := ParseRules(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	// One line a user can read: the rule and what is wrong with it, not
	// the Go function that parsed it.
	if _, err := ParseRules("999.1.1.1/40"); err == nil || err.Error() != `address rule "999.1.1.1/40": not an IP address or CIDR prefix: IPv4 field has value >255` {
		t.Errorf("a bad prefix: %v", err)
	}
	if allowed(nil, ap("1.1.1.1:1")) != true {
		t.Error("nil rules must allow everything")
	}
}

func TestParseListeners(t *testing.T) {
	ls, err := ParseListeners("8080, :81, tcp://127.0.0.1:82, udp://[::]:53, localhost:84")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tcp://0.0.0.0:8080", "tcp://0.0.0.0:81", "tcp://127.0.0.1:82", "udp://[::]:53", "tcp://127.0.0.1:84"}
	for i, w := range want {
		if ls[i].String() != w {
			t.Errorf("listener %d = %s, want %s", i, ls[i], w)
		}
	}
	for _, bad := range []string{"sctp://:1", "host:80", ":99999"} {
		if _, err := ParseListeners(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestSocketGrant tries what a guest without the socket grant, or outside
// a narrowed one, may attempt: each is refused with EACCES before any
// system call.
func TestSocketGrant(t *testing.T) {
	g := newGuest(t, []Mount{{Guest: "/", Host: t.TempDir()}}, []string{"/"})
	m := g.mem
	open := func() (int32, Errno) {
		errno := byName("sock_open").body(g.h, m, []arg{{lo: afInet4}, {lo: sockStream}, {lo: 100}})
		return int32(binary.LittleEndian.Uint32(m[100:])), errno
	}
	if _, errno := open(); errno != ErrnoAcces {
		t.Fatalf("sock_open without the grant: errno %d, want EACCES", errno)
	}
	loop, _ := ParseRules("127.0.0.1:1-1023")
	g.h.net = Network{Sockets: true, Listen: loop, Connect: loop}
	fd, errno := open()
	if errno != 0 {
		t.Fatalf("sock_open with the grant: errno %d", errno)
	}
	// The address record at 200 names 4 bytes at 300.
	binary.LittleEndian.PutUint32(m[200:], 300)
	binary.LittleEndian.PutUint32(m[204:], 4)
	copy(m[300:], []byte{127, 0, 0, 1})
	for _, c := range []struct {
		call string
		port uint64
	}{{"sock_bind", 8080}, {"sock_connect", 8080}} {
		f := lookup(c.call, "iii")
		if errno := functions[f].body(g.h, m, []arg{{lo: uint64(fd)}, {lo: 200}, {lo: c.port}}); errno != ErrnoAcces {
			t.Errorf("%s to 127.0.0.1:%d outside the grant: errno %d, want EACCES", c.call, c.port, errno)
		}
	}
	copy(m[300:], []byte{10, 0, 0, 1})
	if errno := functions[lookup("sock_connect", "iii")].body(g.h, m, []arg{{lo: uint64(fd)}, {lo: 200}, {lo: 80}}); errno != ErrnoAcces {
		t.Errorf("connect to 10.0.0.1:80 outside the grant: errno %d, want EACCES", errno)
	}
	// An address buffer of a length no family has.
	binary.LittleEndian.PutUint32(m[204:], 7)
	if errno := functions[lookup("sock_bind", "iii")].body(g.h, m, []arg{{lo: uint64(fd)}, {lo: 200}, {lo: 80}}); errno != ErrnoInval {
		t.Errorf("bind with a 7-byte address: errno %d, want EINVAL", errno)
	}
	// A buffer that runs past the end of memory.
	binary.LittleEndian.PutUint32(m[200:], uint32(len(m)-2))
	binary.LittleEndian.PutUint32(m[204:], 4)
	if errno := functions[lookup("sock_bind", "iii")].body(g.h, m, []arg{{lo: uint64(fd)}, {lo: 200}, {lo: 80}}); errno != ErrnoFault {
		t.Errorf("bind with an address past memory: errno %d, want EFAULT", errno)
	}
	// Socket calls on a descriptor that is not a socket.
	if errno := byName("sock_shutdown").body(g.h, m, []arg{{lo: 3}, {lo: 3}}); errno != ErrnoNotsock {
		t.Errorf("sock_shutdown on a directory: errno %d, want ENOTSOCK", errno)
	}
}

// TestWasmEdgeV2Names: every call WasmEdge exports a second time as
// <name>_v2 is linked under that name too, with the V2 signature.
func TestWasmEdgeV2Names(t *testing.T) {
	for _, c := range []struct{ name, params string }{
		{"sock_open", "iii"}, {"sock_bind", "iii"}, {"sock_connect", "iii"}, {"sock_listen", "ii"},
		{"sock_accept", "iii"}, {"sock_recv", "iiiiii"}, {"sock_recv_from", "iiiiiiii"},
		{"sock_send", "iiiii"}, {"sock_send_to", "iiiiiii"},
		{"sock_getlocaladdr", "iii"}, {"sock_getpeeraddr", "iii"},
	} {
		if lookup(c.name+"_v2", c.params) < 0 {
			t.Errorf("no %s_v2(%s)", c.name, c.params)
		}
		if lookup(c.name, c.params) < 0 {
			t.Errorf("no %s(%s)", c.name, c.params)
		}
	}
}

// TestGetaddrinfoRustRecords lays the result chain out as the Rust
// wasmedge_wasi_socket does (socket.rs, get_addrinfo): each sockaddr
// declares 14 bytes of sa_data for a 26-byte buffer. An IPv6 result is
// written whole all the same, as WasmEdge writes it (the extension's
// sa_data holds 26 bytes), and its length written back; nothing past the
// 26 bytes is touched. runw used to leave IPv6 results out, so that the
// crate's IPv6 lookups failed with EAI_MEMORY.
func TestGetaddrinfoRustRecords(t *testing.T) {
	g := newSockGuest(t, "", "")
	g.h.resolve = func(context.Context, netdns.Files, netdns.Query) ([]netdns.Result, error) {
		return []netdns.Result{
			{IP: netip.IPv6Loopback(), Port: 80, SockType: sockStream},
			{IP: netip.AddrFrom4([4]byte{127, 0, 0, 1}), Port: 80, SockType: sockStream},
		}, nil
	}
	// Records of 28 bytes at 1000 + 100i; sockaddr at +28 (sa_data_len
	// 14), its 26-byte buffer at +44, 0xee from +70 on.
	layout := func() {
		for i := uint32(0); i < 2; i++ {
			p := 1000 + 100*i
			clear(g.mem[p : p+100])
			g.put32(p+12, p+28)
			if i == 0 {
				g.put32(p+24, p+100)
			}
			g.put32(p+28+4, 14)
			g.put32(p+28+8, p+44)
			for j := p + 70; j < p+82; j++ {
				g.mem[j] = 0xee
			}
		}
	}
	layout()
	copy(g.mem[100:], "localhost\x00")
	g.put32(300, 1000)
	// hints at 200: all zero, family UNSPEC.
	if errno := g.call("sock_getaddrinfo", "iiiiiiii", 100, 10, 0, 0, 200, 300, 2, 304); errno != 0 || g.get32(304) != 2 {
		t.Fatalf("getaddrinfo: errno %d, %d results, want 0 and 2", errno, g.get32(304))
	}
	v6 := append([]byte{0, 80, 0, 0, 0, 0}, netip.IPv6Loopback().AsSlice()...)
	v6 = append(v6, 0, 0, 0, 0)
	if g.mem[1028] != afInet6 || g.get32(1032) != 26 || !bytes.Equal(g.mem[1044:1070], v6) {
		t.Errorf("record 0: family %d, sa_data_len %d, sa_data %v; want %d, 26, %v", g.mem[1028], g.get32(1032), g.mem[1044:1070], afInet6, v6)
	}
	if g.mem[1128] != afInet4 || g.get32(1132) != 14 || !bytes.Equal(g.mem[1144:1150], []byte{0, 80, 127, 0, 0, 1}) {
		t.Errorf("record 1: family %d, sa_data_len %d, sa_data %v", g.mem[1128], g.get32(1132), g.mem[1144:1150])
	}
	for _, p := range []uint32{1070, 1170} {
		if !bytes.Equal(g.mem[p:p+12], bytes.Repeat([]byte{0xee}, 12)) {
			t.Errorf("bytes past the 26-byte sa_data at %d written: %x", p, g.mem[p:p+12])
		}
	}
	// Only IPv6 results: the name resolves (it was EAI_MEMORY).
	g.h.resolve = func(context.Context, netdns.Files, netdns.Query) ([]netdns.Result, error) {
		return []netdns.Result{{IP: netip.IPv6Loopback(), Port: 80, SockType: sockStream}}, nil
	}
	layout()
	if errno := g.call("sock_getaddrinfo", "iiiiiiii", 100, 10, 0, 0, 200, 300, 2, 304); errno != 0 || g.get32(304) != 1 || g.mem[1028] != afInet6 {
		t.Errorf("getaddrinfo of an IPv6-only name: errno %d, %d results, family %d; want 0, 1, %d", errno, g.get32(304), g.mem[1028], afInet6)
	}
}
