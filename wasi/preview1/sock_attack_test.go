package preview1

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi/netdns"
)

// The socket calls against a hostile guest: pointers and lengths that
// reach past memory, getaddrinfo chains that loop or overlap, and every
// way around a narrowed grant a guest could try. Real sockets here only
// ever bind or reach loopback; an address outside the grant is refused
// before any system call, so nothing leaves the machine.

// memSize is the attack guests' memory; guardSize bytes after it are a
// guard the host must never touch.
const (
	memSize   = 1 << 16
	guardSize = 4096
)

type sockGuest struct {
	t   *testing.T
	h   *Host
	mem memory
	raw []byte
}

// newSockGuest is a guest with the socket grant, narrowed by connect and
// listen (ParseRules; "" leaves a direction unnarrowed).
func newSockGuest(t *testing.T, connect, listen string) *sockGuest {
	t.Helper()
	g := newGuest(t, []Mount{{Guest: "/", Host: t.TempDir()}}, []string{"/"})
	g.h.net.Sockets = true
	var err error
	if connect != "" {
		if g.h.net.Connect, err = ParseRules(connect); err != nil {
			t.Fatal(err)
		}
	}
	if listen != "" {
		if g.h.net.Listen, err = ParseRules(listen); err != nil {
			t.Fatal(err)
		}
	}
	raw := make([]byte, memSize+guardSize)
	for i := memSize; i < len(raw); i++ {
		raw[i] = 0xa5
	}
	sg := &sockGuest{t: t, h: g.h, mem: memory(raw[:memSize:memSize]), raw: raw}
	t.Cleanup(sg.guardIntact)
	return sg
}

// guardIntact fails the test if a call wrote past the end of memory.
func (g *sockGuest) guardIntact() {
	for i := memSize; i < len(g.raw); i++ {
		if g.raw[i] != 0xa5 {
			g.t.Fatalf("the host wrote %d bytes past the end of memory", i-memSize+1)
		}
	}
}

// call runs the variant of name with params; a panic fails the test.
func (g *sockGuest) call(name, params string, args ...uint32) Errno {
	g.t.Helper()
	i := lookup(name, params)
	if i < 0 {
		g.t.Fatalf("no %s(%s)", name, params)
	}
	a := make([]arg, len(args))
	for j, v := range args {
		a[j] = arg{lo: uint64(v)}
	}
	defer func() {
		if r := recover(); r != nil {
			g.t.Fatalf("%s(%v) panicked: %v", name, args, r)
		}
	}()
	return functions[i].body(g.h, g.mem, a)
}

func (g *sockGuest) get32(p uint32) uint32 { return binary.LittleEndian.Uint32(g.mem[p:]) }
func (g *sockGuest) put32(p, v uint32)     { binary.LittleEndian.PutUint32(g.mem[p:], v) }

// addr writes a __wasi_address_t at p naming a buffer at p+8: the 4 or 16
// bytes of a, or with storage the 128-byte WasiAddrStorage.
func (g *sockGuest) addr(p uint32, a netip.Addr, storage bool) {
	buf := g.mem[p+8 : p+8+addrStorageSize]
	clear(buf)
	var n uint32
	switch {
	case storage && a.Is4():
		binary.LittleEndian.PutUint16(buf, afInet4)
		b := a.As4()
		copy(buf[2:], b[:])
		n = addrStorageSize
	case storage:
		binary.LittleEndian.PutUint16(buf, afInet6)
		b := a.As16()
		copy(buf[2:], b[:])
		n = addrStorageSize
	case a.Is4():
		b := a.As4()
		n = uint32(copy(buf, b[:]))
	default:
		b := a.As16()
		n = uint32(copy(buf, b[:]))
	}
	g.put32(p, p+8)
	g.put32(p+4, n)
}

// open is sock_open; the descriptor is written at 60.
func (g *sockGuest) open(af, typ uint32) int32 {
	g.t.Helper()
	if errno := g.call("sock_open", "iii", af, typ, 60); errno != 0 {
		g.t.Fatalf("sock_open(%d, %d): errno %d", af, typ, errno)
	}
	return int32(g.get32(60))
}

// listener is a guest TCP socket listening on 127.0.0.1, on a port the
// kernel chose.
func (g *sockGuest) listener() int32 {
	g.t.Helper()
	ln := g.open(afInet4, sockStream)
	g.addr(800, loop4, false)
	if errno := g.call("sock_bind", "iii", uint32(ln), 800, 0); errno != 0 {
		g.t.Fatalf("bind: errno %d", errno)
	}
	if errno := g.call("sock_listen", "ii", uint32(ln), 8); errno != 0 {
		g.t.Fatalf("listen: errno %d", errno)
	}
	return ln
}

// port is the local port of guest socket fd.
func (g *sockGuest) port(fd int32) int {
	g.t.Helper()
	e, _ := g.h.sock(fd)
	sa, err := unix.Getsockname(e.hostFd)
	if err != nil {
		g.t.Fatal(err)
	}
	ap, _ := addrPortOf(sa)
	return int(ap.Port())
}

var (
	loop4 = netip.MustParseAddr("127.0.0.1")
	loop6 = netip.IPv6Loopback()
)

// TestGetaddrinfoHostileChains hands sock_getaddrinfo result chains a
// hostile guest could build: each call ends, answers an errno, and writes
// nothing outside memory.
func TestGetaddrinfoHostileChains(t *testing.T) {
	g := newSockGuest(t, "", "")
	var results []netdns.Result
	for i := range 64 {
		a := netip.AddrFrom4([4]byte{127, 0, 0, byte(i)})
		if i%2 == 1 {
			a = loop6
		}
		results = append(results, netdns.Result{IP: a, Port: 80, SockType: sockStream, Canon: "a-long-canonical-name.example"})
	}
	g.h.resolve = func(context.Context, netdns.Files, netdns.Query) ([]netdns.Result, error) {
		return results, nil
	}
	const (
		node    = 100 // "host"
		hints   = 200
		resp    = 300 // -> first record
		lenp    = 304
		rec     = 1000
		sa      = 1100
		data    = 1200
		canon   = 1300
		end     = memSize
		maxLenU = ^uint32(0)
	)
	copy(g.mem[node:], "host\x00")
	// record writes one addrinfo at p with its sockaddr, sa_data and
	// canonname, and ai_next.
	record := func(p, sap, datap, datalen, canonp, canonlen, next uint32) {
		clear(g.mem[p : p+addrinfoSize])
		g.put32(p+12, sap)
		g.put32(p+16, canonp)
		g.put32(p+20, canonlen)
		g.put32(p+24, next)
		if sap+sockaddrSize <= end {
			g.put32(sap+4, datalen)
			g.put32(sap+8, datap)
		}
	}
	gai := func(first, maxLen uint32, flags uint16) (Errno, uint32) {
		clear(g.mem[hints : hints+addrinfoSize])
		binary.LittleEndian.PutUint16(g.mem[hints:], flags)
		g.put32(resp, first)
		g.put32(lenp, 0xdead)
		errno := g.call("sock_getaddrinfo", "iiiiiiii", node, 5, 0, 0, hints, resp, maxLen, lenp)
		return errno, g.get32(lenp)
	}

	// A record whose ai_next is itself, and a max_len of 2^32-1: the
	// walk is bounded by the results, not by the guest's chain.
	record(rec, sa, data, 26, canon, 64, rec)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if errno, n := gai(rec, maxLenU, aiCanonname); errno != 0 || n != uint32(len(results)) {
			t.Errorf("a looping chain: errno %d, %d results", errno, n)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a looping chain did not end")
	}

	// Two records that point at each other.
	record(rec, sa, data, 26, 0, 0, rec+400)
	record(rec+400, sa, data, 26, 0, 0, rec)
	if errno, n := gai(rec, 10, 0); errno != 0 || n != 10 {
		t.Errorf("a two-record loop with max_len 10: errno %d, %d results", errno, n)
	}

	// The record, its sockaddr and its sa_data all at one address: the
	// host's writes land on each other, inside memory.
	clear(g.mem[rec : rec+64])
	g.put32(rec+4, 26)   // sa_data_len, read through ai_addr
	g.put32(rec+8, rec)  // sa_data
	g.put32(rec+12, rec) // ai_addr
	gai(rec, 4, 0)

	// Pointers at and across the end of memory.
	for _, c := range []struct {
		name  string
		setup func() uint32
	}{
		{"record past the end", func() uint32 { return end - addrinfoSize + 1 }},
		{"record at 2^32-4", func() uint32 { return ^uint32(0) - 3 }},
		{"sockaddr past the end", func() uint32 { record(rec, end-4, data, 26, 0, 0, 0); return rec }},
		{"sa_data past the end", func() uint32 { record(rec, sa, end-10, 26, 0, 0, 0); return rec }},
		{"sa_data of 2^32-1 bytes", func() uint32 { record(rec, sa, data, ^uint32(0), 0, 0, 0); return rec }},
		{"sa_data wrapping around", func() uint32 { record(rec, sa, ^uint32(0)-8, 26, 0, 0, 0); return rec }},
		{"second record past the end", func() uint32 { record(rec, sa, data, 26, 0, 0, end-3); return rec }},
	} {
		errno, n := gai(c.setup(), 8, 0)
		if errno != ErrnoFault {
			t.Errorf("%s: errno %d, want EFAULT", c.name, errno)
		}
		if n != 0xdead {
			t.Errorf("%s: the count was written (%d) on failure", c.name, n)
		}
	}

	// An sa_data declared too small for the address gets the address
	// all the same, as under WasmEdge (the extension's sa_data holds 26
	// bytes), and its length written back; one whose bytes would run
	// past memory is EFAULT, whatever it declared.
	record(rec, sa, data, 4, 0, 0, 0)
	if errno, n := gai(rec, 1, 0); errno != 0 || n != 1 || g.get32(sa+4) != 14 {
		t.Errorf("a 4-byte sa_data: errno %d, %d results, sa_data_len %d; want 0, 1, 14", errno, n, g.get32(sa+4))
	}
	record(rec, sa, end-6, 4, 0, 0, 0)
	if errno, _ := gai(rec, 1, 0); errno != ErrnoFault {
		t.Errorf("a 4-byte sa_data 6 bytes from the end of memory: errno %d, want EFAULT", errno)
	}

	// A canonname buffer past memory, of 2^32-1 bytes, or one byte short
	// of the name and its NUL, is left alone and reported empty.
	for _, cn := range [][2]uint32{{end - 4, 64}, {canon, ^uint32(0)}, {canon, uint32(len(results[0].Canon))}} {
		record(rec, sa, data, 26, cn[0], cn[1], 0)
		g.mem[canon] = 'x'
		if errno, n := gai(rec, 1, aiCanonname); errno != 0 || n != 1 {
			t.Errorf("canonname %v: errno %d, %d results", cn, errno, n)
		}
		if g.get32(rec+20) != 0 || g.mem[canon] != 'x' {
			t.Errorf("canonname %v: written", cn)
		}
	}

	// The call's own pointers.
	for _, c := range []struct {
		name string
		args []uint32
	}{
		{"node past the end", []uint32{end - 2, 5, 0, 0, hints, resp, 1, lenp}},
		{"node of 2^32-1 bytes", []uint32{node, ^uint32(0), 0, 0, hints, resp, 1, lenp}},
		{"service past the end", []uint32{node, 5, end, 1, hints, resp, 1, lenp}},
		{"hints past the end", []uint32{node, 5, 0, 0, end - 27, resp, 1, lenp}},
		{"res past the end", []uint32{node, 5, 0, 0, hints, end - 3, 1, lenp}},
		{"res_len past the end", []uint32{node, 5, 0, 0, hints, resp, 1, end - 3}},
	} {
		if errno := g.call("sock_getaddrinfo", "iiiiiiii", c.args...); errno != ErrnoFault {
			t.Errorf("%s: errno %d, want EFAULT", c.name, errno)
		}
	}
	if errno, _ := gai(rec, 0, 0); errno != ErrnoAiMemory {
		t.Errorf("max_len 0: errno %d, want EAI_MEMORY", errno)
	}
}

// TestSocketCallsHostilePointers gives every address, option and result
// pointer of the extension's calls a value past memory or a length no
// buffer has: each answers an errno (EFAULT or EINVAL), never a panic or
// a write outside memory.
func TestSocketCallsHostilePointers(t *testing.T) {
	g := newSockGuest(t, "127.0.0.0/8", "127.0.0.0/8")
	const end = memSize
	udp := g.open(afInet4, sockDgram)
	g.addr(400, loop4, false)
	if errno := g.call("sock_bind", "iii", uint32(udp), 400, 0); errno != 0 {
		t.Fatalf("bind: errno %d", errno)
	}
	// A datagram waits, so that a call that got past its checks would
	// receive.
	peer, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(g.port(udp)))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peer.Write([]byte("hello"))
	time.Sleep(10 * time.Millisecond)
	fd := uint32(udp)

	// iovec at 500 -> 16 bytes at 600; result words at 700..720.
	g.put32(500, 600)
	g.put32(504, 16)
	hugeAddr := func() uint32 { g.put32(800, 900); g.put32(804, ^uint32(0)); return 800 }
	endAddr := func() uint32 { g.put32(800, end-8); g.put32(804, 16); return 800 }
	oddAddr := func() uint32 { g.put32(800, 900); g.put32(804, 7); return 800 }
	cases := []struct {
		name, fn, params string
		args             func() []uint32
		want             Errno
	}{
		{"bind, address record past the end", "sock_bind", "iii", func() []uint32 { return []uint32{fd, end - 4, 80} }, ErrnoFault},
		{"bind, buffer of 2^32-1 bytes", "sock_bind", "iii", func() []uint32 { return []uint32{fd, hugeAddr(), 80} }, ErrnoFault},
		{"connect, buffer across the end", "sock_connect", "iii", func() []uint32 { return []uint32{fd, endAddr(), 80} }, ErrnoFault},
		{"connect, 7-byte address", "sock_connect", "iii", func() []uint32 { return []uint32{fd, oddAddr(), 80} }, ErrnoInval},
		{"recv_from v1, address of 2^32-1 bytes", "sock_recv_from", "iiiiiii", func() []uint32 { return []uint32{fd, 500, 1, hugeAddr(), 0, 700, 704} }, ErrnoFault},
		{"recv_from v1, 7-byte address", "sock_recv_from", "iiiiiii", func() []uint32 { return []uint32{fd, 500, 1, oddAddr(), 0, 700, 704} }, ErrnoInval},
		{"recv_from v1, nread past the end", "sock_recv_from", "iiiiiii", func() []uint32 { g.addr(800, loop4, false); return []uint32{fd, 500, 1, 800, 0, end - 2, 704} }, ErrnoFault},
		{"recv_from v1, roflags past the end", "sock_recv_from", "iiiiiii", func() []uint32 { g.addr(800, loop4, false); return []uint32{fd, 500, 1, 800, 0, 700, end - 1} }, ErrnoFault},
		{"recv_from v2, port past the end", "sock_recv_from", "iiiiiiii", func() []uint32 { g.addr(800, loop4, true); return []uint32{fd, 500, 1, 800, 0, end - 1, 700, 704} }, ErrnoFault},
		{"recv_from v2, iovecs past the end", "sock_recv_from", "iiiiiiii", func() []uint32 { g.addr(800, loop4, true); return []uint32{fd, end - 4, 1, 800, 0, 708, 700, 704} }, ErrnoFault},
		{"recv_from v2, 2^29 iovecs", "sock_recv_from", "iiiiiiii", func() []uint32 { g.addr(800, loop4, true); return []uint32{fd, 500, 1 << 29, 800, 0, 708, 700, 704} }, ErrnoFault},
		{"recv, iovec buffer past the end", "sock_recv", "iiiiii", func() []uint32 { g.put32(510, end-4); g.put32(514, 16); return []uint32{fd, 510, 1, 0, 700, 704} }, ErrnoFault},
		{"send_to, address of 2^32-1 bytes", "sock_send_to", "iiiiiii", func() []uint32 { return []uint32{fd, 500, 1, hugeAddr(), 80, 0, 700} }, ErrnoFault},
		{"send_to, nsent past the end", "sock_send_to", "iiiiiii", func() []uint32 { g.addr(800, loop4, false); return []uint32{fd, 500, 1, 800, 80, 0, end - 3} }, ErrnoFault},
		{"getsockopt, value past the end", "sock_getsockopt", "iiiii", func() []uint32 { g.put32(720, 4); return []uint32{fd, 0, 5, end - 2, 720} }, ErrnoFault},
		{"getsockopt, length pointer past the end", "sock_getsockopt", "iiiii", func() []uint32 { return []uint32{fd, 0, 5, 600, end - 2} }, ErrnoFault},
		{"getsockopt, length of 2^32-1", "sock_getsockopt", "iiiii", func() []uint32 { g.put32(720, ^uint32(0)); return []uint32{fd, 0, 5, 600, 720} }, ErrnoFault},
		{"getsockopt, buffer too small", "sock_getsockopt", "iiiii", func() []uint32 { g.put32(720, 2); return []uint32{fd, 0, 5, 600, 720} }, ErrnoInval},
		{"getsockopt, timeout into 4 bytes", "sock_getsockopt", "iiiii", func() []uint32 { return []uint32{fd, 0, optRcvtimeo, 600, 4} }, ErrnoInval},
		{"getsockopt, level 1", "sock_getsockopt", "iiiii", func() []uint32 { return []uint32{fd, 1, 5, 600, 4} }, ErrnoNoprotoopt},
		{"getsockopt, name 2^32-1", "sock_getsockopt", "iiiii", func() []uint32 { return []uint32{fd, 0, ^uint32(0), 600, 4} }, ErrnoNoprotoopt},
		{"setsockopt, value of 2^32-1 bytes", "sock_setsockopt", "iiiii", func() []uint32 { return []uint32{fd, 0, 5, 600, ^uint32(0)} }, ErrnoFault},
		{"setsockopt, value across the end", "sock_setsockopt", "iiiii", func() []uint32 { return []uint32{fd, 0, 5, end - 2, 4} }, ErrnoFault},
		{"setsockopt, 2-byte int", "sock_setsockopt", "iiiii", func() []uint32 { return []uint32{fd, 0, 5, 600, 2} }, ErrnoInval},
		{"setsockopt, 8-byte timeout", "sock_setsockopt", "iiiii", func() []uint32 { return []uint32{fd, 0, optRcvtimeo, 600, 8} }, ErrnoInval},
		{"setsockopt, 4-byte linger", "sock_setsockopt", "iiiii", func() []uint32 { return []uint32{fd, 0, optLinger, 600, 4} }, ErrnoInval},
		{"setsockopt, BINDTODEVICE to no such device", "sock_setsockopt", "iiiii", func() []uint32 { g.put32(600, 'z'|'z'<<8|'9'<<16); return []uint32{fd, 0, optBindToDevice, 600, 4} }, ErrnoNodev},
		{"getsockopt, BINDTODEVICE into 4 bytes", "sock_getsockopt", "iiiii", func() []uint32 { bindToLo(g, int32(fd)); return []uint32{fd, 0, optBindToDevice, 600, 4} }, ErrnoInval},
		{"getlocaladdr v1, address of 2^32-1 bytes", "sock_getlocaladdr", "iiii", func() []uint32 { return []uint32{fd, hugeAddr(), 700, 704} }, ErrnoFault},
		{"getlocaladdr v1, 128-byte address", "sock_getlocaladdr", "iiii", func() []uint32 { g.addr(800, loop4, true); return []uint32{fd, 800, 700, 704} }, ErrnoInval},
		{"getlocaladdr v1, type past the end", "sock_getlocaladdr", "iiii", func() []uint32 { g.addr(800, loop4, false); return []uint32{fd, 800, end - 3, 704} }, ErrnoFault},
		{"getlocaladdr v1, port past the end", "sock_getlocaladdr", "iiii", func() []uint32 { g.addr(800, loop4, false); return []uint32{fd, 800, 700, end} }, ErrnoFault},
		{"getpeeraddr v2, 16-byte address", "sock_getpeeraddr", "iii", func() []uint32 { g.addr(800, loop6, false); return []uint32{fd, 800, 700} }, ErrnoInval},
		{"getlocaladdr v2, port past the end", "sock_getlocaladdr", "iii", func() []uint32 { g.addr(800, loop4, true); return []uint32{fd, 800, end - 1} }, ErrnoFault},
		{"getlocaladdr v2, record past the end", "sock_getlocaladdr", "iii", func() []uint32 { return []uint32{fd, end - 7, 700} }, ErrnoFault},
		{"accept, result past the end", "sock_accept", "iii", func() []uint32 { return []uint32{fd, 0, end - 3} }, ErrnoFault},
		{"accept v1, result past the end", "sock_accept", "ii", func() []uint32 { return []uint32{fd, end} }, ErrnoFault},
		{"open, result past the end", "sock_open", "iii", func() []uint32 { return []uint32{afInet4, sockStream, end - 1} }, ErrnoFault},
		{"open, family 2^32-1", "sock_open", "iii", func() []uint32 { return []uint32{^uint32(0), sockStream, 60} }, ErrnoInval},
		{"shutdown, how 2^32-1", "sock_shutdown", "ii", func() []uint32 { return []uint32{fd, ^uint32(0)} }, ErrnoInval},
		{"recv, unknown riflags", "sock_recv", "iiiiii", func() []uint32 { return []uint32{fd, 500, 1, 1 << 8, 700, 704} }, ErrnoInval},
	}
	for _, c := range cases {
		g.put32(700, 0xdead)
		if errno := g.call(c.fn, c.params, c.args()...); errno != c.want {
			t.Errorf("%s: errno %d, want %d", c.name, errno, c.want)
		}
		if g.get32(700) != 0xdead {
			t.Errorf("%s: a result was written on failure", c.name)
		}
	}
	// The datagram is still there: no failed call consumed it.
	g.addr(800, loop4, true)
	if errno := g.call("sock_recv_from", "iiiiiiii", fd, 500, 1, 800, 0, 708, 700, 704); errno != 0 || g.get32(700) != 5 {
		t.Fatalf("recv_from after the attacks: errno %d, %d bytes", errno, g.get32(700))
	}
	if got := string(g.mem[600:605]); got != "hello" {
		t.Errorf("recv_from read %q", got)
	}
}

// TestGrantBypasses tries each way a guest could reach past a narrowed
// grant: every attempt is EACCES, decided before any system call (the
// addresses outside the grant are never sent to).
func TestGrantBypasses(t *testing.T) {
	// Loopback ports 1-1023 only, for both directions.
	g := newSockGuest(t, "127.0.0.1:1-1023", "127.0.0.1:1-1023")
	outside := []netip.Addr{
		netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("::ffff:10.0.0.1"), // IPv4-mapped
		netip.MustParseAddr("::ffff:127.0.0.2"),
		netip.MustParseAddr("fd00::1"),
	}
	tcp4, tcp6 := g.open(afInet4, sockStream), g.open(afInet6, sockStream)
	udp4, udp6 := g.open(afInet4, sockDgram), g.open(afInet6, sockDgram)
	g.put32(500, 600) // one iovec of 4 bytes
	g.put32(504, 4)
	for _, fd := range []int32{tcp4, tcp6, udp4, udp6} {
		for _, a := range outside {
			for _, storage := range []bool{false, true} {
				g.addr(800, a, storage)
				if errno := g.call("sock_connect", "iii", uint32(fd), 800, 80); errno != ErrnoAcces {
					t.Errorf("fd %d: connect %s (storage %v): errno %d, want EACCES", fd, a, storage, errno)
				}
				if errno := g.call("sock_bind", "iii", uint32(fd), 800, 80); errno != ErrnoAcces {
					t.Errorf("fd %d: bind %s (storage %v): errno %d, want EACCES", fd, a, storage, errno)
				}
				if errno := g.call("sock_send_to", "iiiiiii", uint32(fd), 500, 1, 800, 80, 0, 700); errno != ErrnoAcces {
					t.Errorf("fd %d: send_to %s (storage %v): errno %d, want EACCES", fd, a, storage, errno)
				}
			}
		}
		// Inside the address rule, outside the ports.
		g.addr(800, loop4, false)
		if errno := g.call("sock_connect", "iii", uint32(fd), 800, 8080); errno != ErrnoAcces {
			t.Errorf("fd %d: connect 127.0.0.1:8080: errno %d, want EACCES", fd, errno)
		}
	}

	// The unspecified address means "this host" to connect and sendto
	// (the kernel sends to loopback): it is checked as loopback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lport := ln.Addr().(*net.TCPAddr).Port
	g2 := newSockGuest(t, "0.0.0.0/8, [::]", "")
	for _, c := range []struct {
		af uint32
		a  netip.Addr
	}{{afInet4, netip.IPv4Unspecified()}, {afInet6, netip.MustParseAddr("::ffff:0.0.0.0")}, {afInet6, netip.IPv6Unspecified()}} {
		fd := g2.open(c.af, sockStream)
		g2.addr(800, c.a, false)
		if errno := g2.call("sock_connect", "iii", uint32(fd), 800, uint32(lport)); errno != ErrnoAcces {
			t.Errorf("connect %s:%d, which reaches 127.0.0.1 outside the grant: errno %d, want EACCES", c.a, lport, errno)
		}
		udp := g2.open(c.af, sockDgram)
		if errno := g2.call("sock_send_to", "iiiiiii", uint32(udp), 500, 1, 800, uint32(lport), 0, 700); errno != ErrnoAcces {
			t.Errorf("send_to %s:%d: errno %d, want EACCES", c.a, lport, errno)
		}
	}

	// listen on an unbound socket would take an ephemeral port no rule
	// names; so would listen after bind to port 0.
	fresh := g.open(afInet4, sockStream)
	if errno := g.call("sock_listen", "ii", uint32(fresh), 16); errno != ErrnoAcces {
		t.Errorf("listen unbound: errno %d, want EACCES", errno)
	}

	// A socket renumbered over another descriptor keeps its grant.
	moved := g.open(afInet4, sockDgram)
	if errno := g.call("fd_renumber", "ii", uint32(moved), 1); errno != 0 {
		t.Fatalf("fd_renumber: errno %d", errno)
	}
	g.addr(800, netip.MustParseAddr("10.0.0.1"), false)
	if errno := g.call("sock_connect", "iii", 1, 800, 80); errno != ErrnoAcces {
		t.Errorf("connect on a renumbered socket: errno %d, want EACCES", errno)
	}
	if errno := g.call("sock_send_to", "iiiiiii", 1, 500, 1, 800, 80, 0, 700); errno != ErrnoAcces {
		t.Errorf("send_to on a renumbered socket: errno %d, want EACCES", errno)
	}

	// A UDP socket connected inside the grant still may not send_to
	// outside it.
	srv, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	g3 := newSockGuest(t, "127.0.0.1:"+strconv.Itoa(srv.LocalAddr().(*net.UDPAddr).Port), "")
	u := g3.open(afInet4, sockDgram)
	g3.addr(800, loop4, false)
	if errno := g3.call("sock_connect", "iii", uint32(u), 800, uint32(srv.LocalAddr().(*net.UDPAddr).Port)); errno != 0 {
		t.Fatalf("connect inside the grant: errno %d", errno)
	}
	g3.put32(500, 600)
	g3.put32(504, 4)
	g3.addr(800, netip.MustParseAddr("10.0.0.1"), false)
	if errno := g3.call("sock_send_to", "iiiiiii", uint32(u), 500, 1, 800, 53, 0, 700); errno != ErrnoAcces {
		t.Errorf("send_to outside the grant on a connected UDP socket: errno %d, want EACCES", errno)
	}

	// Without the socket grant, no socket at all; getaddrinfo does not
	// ask a name server.
	g4 := newSockGuest(t, "", "")
	g4.h.net.Sockets = false
	for _, af := range []uint32{afInet4, afInet6} {
		for _, typ := range []uint32{sockAny, sockDgram, sockStream} {
			if errno := g4.call("sock_open", "iii", af, typ, 60); errno != ErrnoAcces {
				t.Errorf("sock_open(%d, %d) without the grant: errno %d, want EACCES", af, typ, errno)
			}
		}
	}
	var asked netdns.Query
	g4.h.resolve = func(_ context.Context, _ netdns.Files, q netdns.Query) ([]netdns.Result, error) {
		asked = q
		return nil, &netdns.Error{Code: netdns.CodeNoName}
	}
	copy(g4.mem[100:], "example")
	g4.call("sock_getaddrinfo", "iiiiiiii", 100, 7, 0, 0, 200, 300, 1, 304)
	if !asked.NoDNS {
		t.Error("getaddrinfo without the socket grant may ask DNS")
	}
}

// TestUnspecifiedPeerFromABoundSocket: to connect and sendto, 0.0.0.0
// is the socket's own source address (the one it is bound to, or its
// device's), the loopback only when it has none. Under a grant of
// 127.0.0.1 alone, a guest bound its socket to the namespace's other
// address (127.0.0.2 here, a node address under io.github.runw.net=allow)
// and reached a server there through 0.0.0.0. The host now gives the
// kernel the loopback it checked: the server outside the grant sees
// nothing, and one on the loopback still answers 0.0.0.0, as natively.
func TestUnspecifiedPeerFromABoundSocket(t *testing.T) {
	other := netip.MustParseAddr("127.0.0.2")
	outside, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	port := outside.Addr().(*net.TCPAddr).Port
	// The same port on the loopback, inside the grant.
	inside, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Skipf("port %d taken on 127.0.0.1: %v", port, err)
	}
	defer inside.Close()
	reached := func(ln net.Listener) string {
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- ""
				return
			}
			got <- c.RemoteAddr().String()
			c.Close()
		}()
		select {
		case from := <-got:
			return from
		case <-time.After(500 * time.Millisecond):
			ln.(*net.TCPListener).SetDeadline(time.Now())
			<-got
			return ""
		}
	}
	udpOutside, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udpOutside.Close()
	uport := udpOutside.LocalAddr().(*net.UDPAddr).Port

	for _, c := range []struct {
		name      string
		af        uint32
		bind, dst netip.Addr
	}{
		{"IPv4", afInet4, other, netip.IPv4Unspecified()},
		{"IPv4-mapped", afInet6, netip.AddrFrom16(other.As16()), netip.MustParseAddr("::ffff:0.0.0.0")},
	} {
		g := newSockGuest(t, "127.0.0.1", "")
		fd := g.open(c.af, sockStream)
		g.addr(800, c.bind, false)
		if errno := g.call("sock_bind", "iii", uint32(fd), 800, 0); errno != 0 {
			t.Fatalf("%s: bind %s: errno %d", c.name, c.bind, errno)
		}
		g.addr(800, c.dst, false)
		errno := g.call("sock_connect", "iii", uint32(fd), 800, uint32(port))
		if from := reached(outside); from != "" {
			t.Errorf("%s: connect %s:%d from a socket bound to %s reached %s:%d outside the grant (errno %d)", c.name, c.dst, port, c.bind, other, port, errno)
		}
		if errno != 0 {
			t.Errorf("%s: connect %s:%d: errno %d, want 0 (the loopback's server)", c.name, c.dst, port, errno)
		} else if from := reached(inside); from == "" {
			t.Errorf("%s: connect %s:%d answered 0 but the loopback's server saw nothing", c.name, c.dst, port)
		}

		udp := g.open(c.af, sockDgram)
		g.addr(800, c.bind, false)
		if errno := g.call("sock_bind", "iii", uint32(udp), 800, 0); errno != 0 {
			t.Fatalf("%s: bind udp: errno %d", c.name, errno)
		}
		copy(g.mem[600:], "PING")
		g.put32(500, 600)
		g.put32(504, 4)
		g.addr(800, c.dst, false)
		g.call("sock_send_to", "iiiiiii", uint32(udp), 500, 1, 800, uint32(uport), 0, 700)
		udpOutside.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, from, err := udpOutside.ReadFrom(make([]byte, 16)); err == nil {
			t.Errorf("%s: send_to %s:%d from a socket bound to %s delivered %d bytes to %s outside the grant (from %v)", c.name, c.dst, uport, c.bind, n, other, from)
		}
	}
}

// TestEmptyRuleListAllowsNothing: an annotation present with an empty
// list (io.github.runw.net.connect: "") narrows the grant to nothing; it
// must never read as no narrowing at all.
func TestEmptyRuleListAllowsNothing(t *testing.T) {
	for _, s := range []string{"", " ", ",", " , "} {
		rules, err := ParseRules(s)
		if err != nil {
			t.Fatalf("ParseRules(%q): %v", s, err)
		}
		for _, ap := range []string{"10.0.0.1:80", "127.0.0.1:53", "[::1]:8080", "0.0.0.0:1"} {
			if allowedPeer(rules, netip.MustParseAddrPort(ap)) {
				t.Errorf("rules %q allow %s, want nothing allowed", s, ap)
			}
		}
	}
}

// TestListenersInsideTheGrant: a preopened listener (which an image's ENV
// can declare) is bound only inside a narrowed listen grant.
func TestListenersInsideTheGrant(t *testing.T) {
	rules, _ := ParseRules("127.0.0.1:1-1023, 127.0.0.2")
	for _, c := range []struct {
		l  netip.AddrPort
		ok bool
	}{
		{netip.MustParseAddrPort("127.0.0.1:8080"), false},
		{netip.MustParseAddrPort("127.0.0.3:0"), false},
		{netip.MustParseAddrPort("0.0.0.0:0"), false},
		{netip.MustParseAddrPort("127.0.0.2:0"), true},
	} {
		h, err := New(Config{Args: []string{"t"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"}, Stdio: [3]int{0, 1, 2},
			Net: Network{Sockets: true, Listen: rules, Listeners: []Listener{{Addr: c.l}}}})
		if err == nil {
			h.Close()
		}
		if (err == nil) != c.ok {
			t.Errorf("listener %s under %v: err %v", c.l, rules, err)
		}
	}
}

// loopPair is a connected TCP pair over loopback: the guest's end as guest
// descriptor fd (flags as given), and the peer's net.Conn.
func loopPair(t *testing.T, g *sockGuest, flags uint16) (int32, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fd := g.open(afInet4, sockStream)
	g.addr(800, loop4, false)
	if errno := g.call("sock_connect", "iii", uint32(fd), 800, uint32(ln.Addr().(*net.TCPAddr).Port)); errno != 0 {
		t.Fatalf("connect: errno %d", errno)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	if errno := g.call("fd_fdstat_set_flags", "ii", uint32(fd), uint32(flags)); errno != 0 {
		t.Fatal(errno)
	}
	return fd, peer
}

// TestSocketBlocking: a blocking recv waits for data, a NONBLOCK one is
// EAGAIN at once, and SO_RCVTIMEO ends a blocking one with EAGAIN.
func TestSocketBlocking(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	g.put32(500, 600)
	g.put32(504, 16)

	fd, peer := loopPair(t, g, fdflagNonblock)
	start := time.Now()
	if errno := g.call("sock_recv", "iiiiii", uint32(fd), 500, 1, 0, 700, 704); errno != ErrnoAgain {
		t.Errorf("NONBLOCK recv with nothing to read: errno %d, want EAGAIN", errno)
	}
	if errno := g.call("fd_read", "iiii", uint32(fd), 500, 1, 700); errno != ErrnoAgain {
		t.Errorf("NONBLOCK fd_read with nothing to read: errno %d, want EAGAIN", errno)
	}
	if time.Since(start) > time.Second {
		t.Error("NONBLOCK recv waited")
	}

	g.call("fd_fdstat_set_flags", "ii", uint32(fd), 0)
	go func() { time.Sleep(100 * time.Millisecond); peer.Write([]byte("late")) }()
	if errno := g.call("sock_recv", "iiiiii", uint32(fd), 500, 1, 0, 700, 704); errno != 0 || string(g.mem[600:600+g.get32(700)]) != "late" {
		t.Errorf("blocking recv: errno %d, read %q", errno, g.mem[600:600+g.get32(700)])
	}

	// SO_RCVTIMEO of 150 ms: {sec, usec} as two 64-bit words.
	clear(g.mem[900:916])
	binary.LittleEndian.PutUint64(g.mem[908:], 150000)
	if errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, optRcvtimeo, 900, 16); errno != 0 {
		t.Fatalf("setsockopt SO_RCVTIMEO: errno %d", errno)
	}
	clear(g.mem[920:936])
	if errno := g.call("sock_getsockopt", "iiiii", uint32(fd), 0, optRcvtimeo, 920, 16); errno != 0 || !bytes.Equal(g.mem[900:916], g.mem[920:936]) {
		t.Errorf("getsockopt SO_RCVTIMEO: errno %d, %x", errno, g.mem[920:936])
	}
	start = time.Now()
	if errno := g.call("sock_recv", "iiiiii", uint32(fd), 500, 1, 0, 700, 704); errno != ErrnoAgain {
		t.Errorf("recv past SO_RCVTIMEO: errno %d, want EAGAIN", errno)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("recv past SO_RCVTIMEO returned after %v", d)
	}
	if errno := g.call("fd_read", "iiii", uint32(fd), 500, 1, 700); errno != ErrnoAgain {
		t.Errorf("fd_read past SO_RCVTIMEO: errno %d, want EAGAIN", errno)
	}
}

// TestBlockingSendWritesAll: a blocking send or write on a stream socket
// returns when all of it is queued, as on Linux, though runw's host socket
// is non-blocking and takes only what fits. Until December a C guest
// sending 8 MB to a slow reader in one call had a part of it sent and, if
// it did not loop, lost the rest. A NONBLOCK one still answers the part.
func TestBlockingSendWritesAll(t *testing.T) {
	const iovs, chunk = 512, 16 << 10 // 512 iovecs over one 16 KiB buffer: 8 MiB
	for _, call := range []string{"sock_send", "fd_write"} {
		t.Run(call, func(t *testing.T) {
			g := newSockGuest(t, "127.0.0.1", "")
			fd, peer := loopPair(t, g, 0)
			// A small send buffer, so that the kernel takes little at once.
			g.put32(900, 4096)
			if errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, 5, 900, 4); errno != 0 {
				t.Fatalf("setsockopt SO_SNDBUF: errno %d", errno)
			}
			for i := range chunk {
				g.mem[16<<10+i] = byte(i)
			}
			for i := range uint32(iovs) {
				g.put32(2000+8*i, 16<<10)
				g.put32(2004+8*i, chunk)
			}
			got := make(chan int)
			go func() {
				n, buf := 0, make([]byte, 32<<10)
				for {
					time.Sleep(time.Millisecond)
					m, err := peer.Read(buf)
					n += m
					if err != nil {
						got <- n
						return
					}
				}
			}()
			var errno Errno
			if call == "sock_send" {
				errno = g.call("sock_send", "iiiii", uint32(fd), 2000, iovs, 0, 700)
			} else {
				errno = g.call("fd_write", "iiii", uint32(fd), 2000, iovs, 700)
			}
			if errno != 0 || g.get32(700) != iovs*chunk {
				t.Errorf("blocking %s of %d bytes: errno %d, %d sent", call, iovs*chunk, errno, g.get32(700))
			}
			g.call("fd_close", "i", uint32(fd))
			if n := <-got; n != int(g.get32(700)) {
				t.Errorf("the peer read %d bytes, the guest was told %d", n, g.get32(700))
			}

			// NONBLOCK: what fits, at once.
			fd, _ = loopPair(t, g, fdflagNonblock)
			g.put32(900, 4096)
			g.call("sock_setsockopt", "iiiii", uint32(fd), 0, 5, 900, 4)
			if errno := g.call("sock_send", "iiiii", uint32(fd), 2000, iovs, 0, 700); errno != 0 || g.get32(700) == 0 || g.get32(700) >= iovs*chunk {
				t.Errorf("NONBLOCK send of %d bytes to a peer not reading: errno %d, %d sent; want a part", iovs*chunk, errno, g.get32(700))
			}
		})
	}
}

// TestBlockingSendCountFitsOneCall: a blocking send or write finishes
// what the kernel took only in part, but moves no more in one call than
// Linux's MAX_RW_COUNT (maxRW). 1024 iovecs naming one 4 MiB buffer are 4
// GiB: the host sent all of it and answered 0 bytes (the count wrapped in
// 32 bits), so a guest that writes until all is written sent it again.
func TestBlockingSendCountFitsOneCall(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: moves 2 GiB through the loopback twice")
	}
	for _, call := range []string{"sock_send", "fd_write"} {
		t.Run(call, func(t *testing.T) {
			g := newSockGuest(t, "127.0.0.1", "")
			fd, peer := loopPair(t, g, 0)
			big := make(memory, 5<<20)
			copy(big, g.mem)
			g.mem = big
			for i := uint32(0); i < 1024; i++ {
				g.put32(8192+8*i, 1<<20)
				g.put32(8196+8*i, 4<<20)
			}
			got := make(chan int64)
			go func() {
				n, _ := io.Copy(io.Discard, peer)
				got <- n
			}()
			var errno Errno
			if call == "sock_send" {
				errno = g.call("sock_send", "iiiii", uint32(fd), 8192, 1024, 0, 700)
			} else {
				errno = g.call("fd_write", "iiii", uint32(fd), 8192, 1024, 700)
			}
			reported := g.get32(700)
			g.call("fd_close", "i", uint32(fd))
			sent := <-got
			if errno != 0 || reported != maxRW || sent != maxRW {
				t.Errorf("%s of 4 GiB: errno %d, %d bytes reported, %d sent; want 0 and %d both (Linux's MAX_RW_COUNT)", call, errno, reported, sent, maxRW)
			}
		})
	}
}

// TestPeekWaitall: PEEK with WAITALL on a blocking stream waits for the
// whole buffer, as Linux's recv does (it answered the 2 bytes there at
// once), leaves the data queued, puts back the guest's SO_RCVLOWAT, and
// at the peer's end answers what is there.
func TestPeekWaitall(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	fd, peer := loopPair(t, g, 0)
	e, _ := g.h.fds.get(fd)
	peer.Write([]byte("ab"))
	time.AfterFunc(200*time.Millisecond, func() { peer.Write([]byte("cdef")) })
	g.put32(500, 600)
	g.put32(504, 6)
	start := time.Now()
	if errno := g.call("sock_recv", "iiiiii", uint32(fd), 500, 1, riflagPeek|riflagWaitall, 700, 704); errno != 0 || g.get32(700) != 6 || string(g.mem[600:606]) != "abcdef" {
		t.Errorf("PEEK|WAITALL: errno %d, %d bytes %q after %v; want all 6 once they came", errno, g.get32(700), g.mem[600:606], time.Since(start))
	}
	if low, err := unix.GetsockoptInt(e.hostFd, unix.SOL_SOCKET, unix.SO_RCVLOWAT); err != nil || low != 1 {
		t.Errorf("SO_RCVLOWAT after the peek: %d %v, want the guest's 1 back", low, err)
	}
	clear(g.mem[600:606])
	if errno := g.call("sock_recv", "iiiiii", uint32(fd), 500, 1, riflagWaitall, 700, 704); errno != 0 || g.get32(700) != 6 || string(g.mem[600:606]) != "abcdef" {
		t.Errorf("the peeked bytes were taken: WAITALL read errno %d, %q", errno, g.mem[600:606])
	}
	// The peer writes 2 bytes and ends: the peek answers those 2.
	peer.Write([]byte("gh"))
	time.AfterFunc(100*time.Millisecond, func() { peer.Close() })
	stop := time.AfterFunc(5*time.Second, g.h.Stop)
	defer stop.Stop()
	if errno := g.call("sock_recv", "iiiiii", uint32(fd), 500, 1, riflagPeek|riflagWaitall, 700, 704); errno != 0 || g.get32(700) != 2 {
		t.Errorf("PEEK|WAITALL at the peer's end: errno %d, %d bytes, want the 2 there", errno, g.get32(700))
	}
}

// TestConnectTwice: a blocking connect leaves the socket connected, so a
// second connect is EISCONN, and a refused one leaves it unconnected, so a
// second connect tries again, as for a native program. runw's host socket
// is non-blocking: Linux answered that second connect 0 after a success,
// and ECONNABORTED (sending nothing) after a refusal. A non-blocking
// connect answers EINPROGRESS, then 0 once the handshake is done, then
// EISCONN, as Linux's does.
func TestConnectTwice(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint32(ln.Addr().(*net.TCPAddr).Port)
	fd := g.open(afInet4, sockStream)
	g.addr(800, loop4, false)
	if errno := g.call("sock_connect", "iii", uint32(fd), 800, port); errno != 0 {
		t.Fatalf("blocking connect: errno %d", errno)
	}
	if errno := g.call("sock_connect", "iii", uint32(fd), 800, port); errno != ErrnoIsconn {
		t.Errorf("blocking connect, again: errno %d, want EISCONN (30)", errno)
	}

	nb := g.open(afInet4, sockStream)
	g.call("fd_fdstat_set_flags", "ii", uint32(nb), fdflagNonblock)
	var errs []Errno
	for range 50 {
		errno := g.call("sock_connect", "iii", uint32(nb), 800, port)
		if len(errs) == 0 || errs[len(errs)-1] != errno {
			errs = append(errs, errno)
		}
		if errno == ErrnoIsconn {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Loopback may finish the handshake within the first call.
	if got := fmt.Sprint(errs); got != fmt.Sprint([]Errno{ErrnoInprogress, 0, ErrnoIsconn}) && got != fmt.Sprint([]Errno{0, ErrnoIsconn}) {
		t.Errorf("non-blocking connect, repeated: errnos %v, want EINPROGRESS (26) or not, then 0, then EISCONN (30)", errs)
	}

	// Refused, then refused again (a second SYN, not ECONNABORTED from a
	// socket left "connecting"), then, once a server listens on the
	// port, connected: the same socket, as natively.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cport := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	retry := g.open(afInet4, sockStream)
	for i := range 2 {
		if errno := g.call("sock_connect", "iii", uint32(retry), 800, uint32(cport)); errno != ErrnoConnrefused {
			t.Errorf("blocking connect %d to a closed port: errno %d, want ECONNREFUSED (14)", i+1, errno)
		}
	}
	ln2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cport))
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	defer ln2.Close()
	if errno := g.call("sock_connect", "iii", uint32(retry), 800, uint32(cport)); errno != 0 {
		t.Errorf("blocking connect once a server listens, after two refusals: errno %d, want 0", errno)
	}
}

// TestConnectPastSendTimeout: a blocking connect whose handshake does not
// finish within SO_SNDTIMEO says EINPROGRESS, as Linux's does (the
// handshake goes on), not EAGAIN. The listener's accept queue (backlog 0)
// is full with one connection, so the kernel drops the next SYN.
func TestConnectPastSendTimeout(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	first, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	fd := g.open(afInet4, sockStream)
	clear(g.mem[900:916])
	binary.LittleEndian.PutUint64(g.mem[908:], 100000) // 100 ms
	if errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, optSndtimeo, 900, 16); errno != 0 {
		t.Fatalf("setsockopt SO_SNDTIMEO: errno %d", errno)
	}
	g.addr(800, loop4, false)
	start := time.Now()
	if errno := g.call("sock_connect", "iii", uint32(fd), 800, uint32(port)); errno != ErrnoInprogress {
		t.Errorf("connect past SO_SNDTIMEO: errno %d, want EINPROGRESS", errno)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 900*time.Millisecond {
		t.Errorf("connect returned after %v, want about 100 ms", d)
	}
	// Called again while the handshake goes on, a blocking connect waits
	// as the first did and answers EALREADY (Linux); it answered at once,
	// and a guest retrying on it spun a core.
	start = time.Now()
	if errno := g.call("sock_connect", "iii", uint32(fd), 800, uint32(port)); errno != ErrnoAlready {
		t.Errorf("connect again past SO_SNDTIMEO: errno %d, want EALREADY", errno)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 900*time.Millisecond {
		t.Errorf("the second connect returned after %v, want about 100 ms", d)
	}
}

// TestSocketTimeoutCountsTheWholeCall: SO_RCVTIMEO bounds a whole recv,
// as Linux counts one timeout down across its waits: a WAITALL recv from
// a peer that sends a byte every 50 ms answers what came by the timeout.
// Restarted at every byte, it returned only when the peer closed (3 s
// here; never, for a peer that kept trickling). A recv into no buffer at
// all answers 0 once the timeout passes, as Linux's does.
func TestSocketTimeoutCountsTheWholeCall(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	fd, peer := loopPair(t, g, 0)
	clear(g.mem[900:916])
	binary.LittleEndian.PutUint64(g.mem[908:], 300000) // 300 ms
	if errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, optRcvtimeo, 900, 16); errno != 0 {
		t.Fatalf("setsockopt SO_RCVTIMEO: errno %d", errno)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer peer.Close()
		for range 60 {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
				peer.Write([]byte("t"))
			}
		}
	}()
	g.put32(500, 600)
	g.put32(504, 100)
	start := time.Now()
	errno := g.call("sock_recv", "iiiiii", uint32(fd), 500, 1, riflagWaitall, 700, 704)
	d := time.Since(start)
	if got := g.get32(700); errno != 0 || got == 0 || got >= 100 {
		t.Errorf("WAITALL recv from a trickling peer: errno %d, %d bytes; want part of it", errno, got)
	}
	if d < 250*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("WAITALL recv from a trickling peer returned after %v, want about 300 ms", d)
	}

	a, b := loopPair(t, g, 0)
	defer b.Close()
	clear(g.mem[900:916]) // loopPair's address overwrote it
	binary.LittleEndian.PutUint64(g.mem[908:], 300000)
	if errno := g.call("sock_setsockopt", "iiiii", uint32(a), 0, optRcvtimeo, 900, 16); errno != 0 {
		t.Fatalf("setsockopt SO_RCVTIMEO: errno %d", errno)
	}
	g.put32(504, 0)
	g.put32(700, 99)
	start = time.Now()
	if errno := g.call("sock_recv", "iiiiii", uint32(a), 500, 1, 0, 700, 704); errno != 0 || g.get32(700) != 0 {
		t.Errorf("recv into no buffer past SO_RCVTIMEO: errno %d, %d bytes; want 0 bytes", errno, g.get32(700))
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("recv into no buffer returned after %v, want the timeout", d)
	}
}

// TestPeerClose: after the peer closes, poll_oneoff reports the socket
// readable (without HANGUP: only the peer's direction is shut, as
// WasmEdge and poll(2) say), a read returns 0, and writes end in EPIPE,
// never a SIGPIPE; then, both directions shut, poll reports HANGUP.
func TestPeerClose(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	fd, peer := loopPair(t, g, fdflagNonblock)
	peer.Write([]byte("bye"))
	peer.Close()
	time.Sleep(20 * time.Millisecond)

	// One FD_READ subscription at 1000, the event at 2000.
	clear(g.mem[1000 : 1000+subscriptionSize])
	binary.LittleEndian.PutUint64(g.mem[1000:], 42)
	g.mem[1008] = eventFdRead
	g.put32(1016, uint32(fd))
	if errno := g.call("poll_oneoff", "iiii", 1000, 2000, 1, 3000); errno != 0 || g.get32(3000) != 1 {
		t.Fatalf("poll_oneoff: errno %d, %d events", errno, g.get32(3000))
	}
	ev := g.mem[2000 : 2000+eventSize]
	if binary.LittleEndian.Uint64(ev) != 42 || ev[10] != eventFdRead || binary.LittleEndian.Uint16(ev[8:]) != 0 {
		t.Errorf("event %x", ev)
	}
	if n := binary.LittleEndian.Uint64(ev[16:]); n != 3 {
		t.Errorf("nbytes %d, want 3", n)
	}
	if binary.LittleEndian.Uint16(ev[24:])&eventHangup != 0 {
		t.Errorf("HANGUP after the peer's FIN alone: flags %d", binary.LittleEndian.Uint16(ev[24:]))
	}

	g.put32(500, 600)
	g.put32(504, 16)
	if errno := g.call("fd_read", "iiii", uint32(fd), 500, 1, 700); errno != 0 || g.get32(700) != 3 {
		t.Errorf("read: errno %d, %d bytes", errno, g.get32(700))
	}
	if errno := g.call("fd_read", "iiii", uint32(fd), 500, 1, 700); errno != 0 || g.get32(700) != 0 {
		t.Errorf("read at the end: errno %d, %d bytes", errno, g.get32(700))
	}
	// The first write draws the peer's reset; the ones after it are
	// EPIPE, through both write paths.
	var errs []Errno
	for range 4 {
		errs = append(errs, g.call("fd_write", "iiii", uint32(fd), 500, 1, 700))
		time.Sleep(10 * time.Millisecond)
	}
	errs = append(errs, g.call("sock_send", "iiiii", uint32(fd), 500, 1, 0, 700))
	if errs[len(errs)-1] != ErrnoPipe || errs[len(errs)-2] != ErrnoPipe {
		t.Errorf("writes after the peer closed: %v, want EPIPE (64) at the end", errs)
	}
	// The peer's reset shut both directions: now HANGUP.
	if errno := g.call("poll_oneoff", "iiii", 1000, 2000, 1, 3000); errno != 0 || g.get32(3000) != 1 {
		t.Fatalf("poll_oneoff after the reset: errno %d, %d events", errno, g.get32(3000))
	}
	if binary.LittleEndian.Uint16(ev[24:])&eventHangup == 0 {
		t.Errorf("no HANGUP after the peer's reset: flags %d", binary.LittleEndian.Uint16(ev[24:]))
	}
}

// TestAcceptAndAddresses: sock_accept gives the new descriptor the flags
// asked for (V1 none), and the local address reads back in the V1 (4 or
// 16 bytes and a type of 4 or 6) and V2 (128-byte storage) forms.
func TestAcceptAndAddresses(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1, [::1]", "127.0.0.1, [::1]")
	ln := g.listener()
	port := g.port(ln)
	g.call("fd_fdstat_set_flags", "ii", uint32(ln), fdflagNonblock)
	if errno := g.call("sock_accept", "iii", uint32(ln), 0, 60); errno != ErrnoAgain {
		t.Errorf("accept with nothing pending: errno %d, want EAGAIN", errno)
	}
	for _, c := range []struct {
		params string
		flags  uint32
		want   uint16
	}{{"iii", fdflagNonblock, fdflagNonblock}, {"iii", 0, 0}, {"ii", 0, 0}} {
		conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		time.Sleep(10 * time.Millisecond)
		args := []uint32{uint32(ln), c.flags, 60}
		if c.params == "ii" {
			args = []uint32{uint32(ln), 60}
		}
		if errno := g.call("sock_accept", c.params, args...); errno != 0 {
			t.Fatalf("accept(%s): errno %d", c.params, errno)
		}
		nfd := g.get32(60)
		if errno := g.call("fd_fdstat_get", "ii", nfd, 1000); errno != 0 {
			t.Fatal(errno)
		}
		if g.mem[1000] != filetypeSocketStream || binary.LittleEndian.Uint16(g.mem[1002:]) != c.want {
			t.Errorf("accept(%s, %d): filetype %d flags %d, want %d", c.params, c.flags, g.mem[1000], binary.LittleEndian.Uint16(g.mem[1002:]), c.want)
		}
	}

	// V1: a 16-byte buffer for an IPv4 socket still reads back 4 bytes
	// and the type 4; a 4-byte buffer for an IPv6 address is ENOMEM.
	for _, size := range []uint32{4, 16} {
		clear(g.mem[900:1000])
		g.put32(800, 900)
		g.put32(804, size)
		if errno := g.call("sock_getlocaladdr", "iiii", uint32(ln), 800, 700, 704); errno != 0 {
			t.Fatalf("getlocaladdr v1 (%d bytes): errno %d", size, errno)
		}
		if !bytes.Equal(g.mem[900:904], []byte{127, 0, 0, 1}) || g.get32(700) != 4 || g.get32(704) != uint32(port) {
			t.Errorf("getlocaladdr v1 (%d bytes): %v type %d port %d", size, g.mem[900:904], g.get32(700), g.get32(704))
		}
	}
	// V2: the storage names the family (WASI's 1, 2) and the port is a u32.
	g.addr(800, netip.IPv4Unspecified(), true)
	g.put32(700, 0xffffffff)
	if errno := g.call("sock_getlocaladdr", "iii", uint32(ln), 800, 700); errno != 0 {
		t.Fatalf("getlocaladdr v2: errno %d", errno)
	}
	if binary.LittleEndian.Uint16(g.mem[808:]) != afInet4 || !bytes.Equal(g.mem[810:814], []byte{127, 0, 0, 1}) || g.get32(700) != uint32(port) {
		t.Errorf("getlocaladdr v2: %v port %d", g.mem[808:814], g.get32(700))
	}
	// An IPv6 socket: V1 into 4 bytes is ENOMEM; V2 says INET6, and an
	// IPv4 address stays IPv4-mapped, as getsockname answers natively and
	// WasmEdge passes on (runw made it IPv4).
	for _, want := range []netip.Addr{loop6, netip.MustParseAddr("::ffff:127.0.0.1")} {
		fd := g.open(afInet6, sockStream)
		g.addr(800, want, false)
		if errno := g.call("sock_bind", "iii", uint32(fd), 800, 0); errno != 0 {
			t.Fatalf("bind [%s]: errno %d", want, errno)
		}
		if want == loop6 {
			g.put32(800, 900)
			g.put32(804, 4)
			if errno := g.call("sock_getlocaladdr", "iiii", uint32(fd), 800, 700, 704); errno != ErrnoNomem {
				t.Errorf("getlocaladdr v1 of [::1] into 4 bytes: errno %d, want ENOMEM", errno)
			}
		}
		g.addr(800, loop4, true)
		if errno := g.call("sock_getlocaladdr", "iii", uint32(fd), 800, 700); errno != 0 {
			t.Fatalf("getlocaladdr v2 [%s]: errno %d", want, errno)
		}
		if binary.LittleEndian.Uint16(g.mem[808:]) != afInet6 || netip.AddrFrom16([16]byte(g.mem[810:826])) != want {
			t.Errorf("getlocaladdr v2 [%s]: %v, want INET6 and the address", want, g.mem[808:826])
		}
	}
}

// TestGetaddrinfoLayout fills a chain laid out as Go's stealthrocket net
// lays it out, and checks each field where WasmEdge puts it: sa_family
// (the extension's 1 or 2), sa_data as sockaddr_in/_in6 from the port on
// (14 or 26 bytes), ai_addrlen the whole sockaddr's (16 or 28).
func TestGetaddrinfoLayout(t *testing.T) {
	g := newSockGuest(t, "", "")
	v6 := netip.MustParseAddr("2001:db8::7")
	g.h.resolve = func(_ context.Context, _ netdns.Files, q netdns.Query) ([]netdns.Result, error) {
		return []netdns.Result{
			{IP: netip.MustParseAddr("192.0.2.1"), Port: 443, SockType: sockStream, Canon: "www.example"},
			{IP: v6, Port: 443, SockType: sockDgram},
		}, nil
	}
	// Records of 28 bytes at 1000 + 100i; sockaddr (16 bytes) at +28,
	// sa_data (26) at +44, canonname (30) at +70.
	for i := uint32(0); i < 3; i++ {
		p := 1000 + 100*i
		g.put32(p+12, p+28)
		g.put32(p+16, p+70)
		g.put32(p+20, 30)
		if i < 2 {
			g.put32(p+24, p+100)
		}
		g.put32(p+28+4, 26)
		g.put32(p+28+8, p+44)
	}
	copy(g.mem[100:], "www\x00")
	binary.LittleEndian.PutUint16(g.mem[200:], aiCanonname)
	g.put32(300, 1000)
	if errno := g.call("sock_getaddrinfo", "iiiiiiii", 100, 4, 0, 0, 200, 300, 3, 304); errno != 0 || g.get32(304) != 2 {
		t.Fatalf("getaddrinfo: errno %d, %d results", errno, g.get32(304))
	}
	r0, r1 := g.mem[1000:], g.mem[1100:]
	if r0[2] != afInet4 || r0[3] != sockStream || r0[4] != protoTCP || g.get32(1008) != 16 {
		t.Errorf("record 0: %x", r0[:28])
	}
	if g.get32(1028) != afInet4 || g.get32(1032) != 14 {
		t.Errorf("sockaddr 0: family %d len %d", g.get32(1028), g.get32(1032))
	}
	if want := []byte{1, 187, 192, 0, 2, 1}; !bytes.Equal(g.mem[1044:1050], want) {
		t.Errorf("sa_data 0: %v, want %v", g.mem[1044:1050], want)
	}
	if g.get32(1020) != 11 || string(g.mem[1070:1082]) != "www.example\x00" {
		t.Errorf("canonname: %q (%d)", g.mem[1070:1082], g.get32(1020))
	}
	if r1[2] != afInet6 || r1[3] != sockDgram || r1[4] != protoUDP || g.get32(1108) != 28 {
		t.Errorf("record 1: %x", r1[:28])
	}
	if g.get32(1128) != afInet6 || g.get32(1132) != 26 {
		t.Errorf("sockaddr 1: family %d len %d", g.get32(1128), g.get32(1132))
	}
	b := v6.As16()
	if !bytes.Equal(g.mem[1144:1146], []byte{1, 187}) || !bytes.Equal(g.mem[1150:1166], b[:]) || g.get32(1120) != 0 {
		t.Errorf("sa_data 1: %v", g.mem[1144:1170])
	}
	// The third record, past the results, is untouched.
	if g.mem[1202] != 0 {
		t.Error("a record past the results was written")
	}
}

// TestLingerDoesNotHoldClose: a guest asking for a lingering close (which
// would block close(2) in the kernel, deaf to a stop) reads back what it
// set, while the host socket closes at once.
func TestLingerDoesNotHoldClose(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	fd, _ := loopPair(t, g, 0)
	g.put32(900, 1)
	g.put32(904, 30)
	if errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, optLinger, 900, 8); errno != 0 {
		t.Fatalf("setsockopt SO_LINGER: errno %d", errno)
	}
	clear(g.mem[920:928])
	if errno := g.call("sock_getsockopt", "iiiii", uint32(fd), 0, optLinger, 920, 8); errno != 0 || g.get32(920) != 1 || g.get32(924) != 30 {
		t.Errorf("getsockopt SO_LINGER: errno %d, {%d, %d}, want {1, 30}", errno, g.get32(920), g.get32(924))
	}
	e, _ := g.h.fds.get(fd)
	if l, err := unix.GetsockoptLinger(e.hostFd, unix.SOL_SOCKET, unix.SO_LINGER); err != nil || l.Onoff != 0 {
		t.Errorf("the host socket lingers: %+v %v", l, err)
	}
	// A negative time is an endless linger to the kernel: kept out too.
	g.put32(904, 0xffffffff)
	if errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, optLinger, 900, 8); errno != 0 {
		t.Fatalf("setsockopt SO_LINGER {1, -1}: errno %d", errno)
	}
	if l, err := unix.GetsockoptLinger(e.hostFd, unix.SOL_SOCKET, unix.SO_LINGER); err != nil || l.Onoff != 0 {
		t.Errorf("the host socket lingers after {1, -1}: %+v %v", l, err)
	}
	// {1, 0}, the abortive close, never blocks: it reaches the kernel.
	g.put32(904, 0)
	if errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, optLinger, 900, 8); errno != 0 {
		t.Fatalf("setsockopt SO_LINGER {1, 0}: errno %d", errno)
	}
	if l, err := unix.GetsockoptLinger(e.hostFd, unix.SOL_SOCKET, unix.SO_LINGER); err != nil || l.Onoff != 1 || l.Linger != 0 {
		t.Errorf("the abortive close did not reach the host socket: %+v %v", l, err)
	}
	// Read back as Linux reads it: on is 0 or 1 ({7, 5} reads {1, 5}),
	// and turning it off keeps the time ({0, 9} then reads {0, 5}).
	for _, c := range []struct{ on, secs, wantOn, wantSecs uint32 }{{7, 5, 1, 5}, {0, 9, 0, 5}} {
		g.put32(900, c.on)
		g.put32(904, c.secs)
		if errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, optLinger, 900, 8); errno != 0 {
			t.Fatalf("setsockopt SO_LINGER {%d, %d}: errno %d", c.on, c.secs, errno)
		}
		clear(g.mem[920:928])
		if errno := g.call("sock_getsockopt", "iiiii", uint32(fd), 0, optLinger, 920, 8); errno != 0 || g.get32(920) != c.wantOn || g.get32(924) != c.wantSecs {
			t.Errorf("after {%d, %d}: getsockopt SO_LINGER errno %d, {%d, %d}, want {%d, %d}", c.on, c.secs, errno, g.get32(920), g.get32(924), c.wantOn, c.wantSecs)
		}
	}
	if l, err := unix.GetsockoptLinger(e.hostFd, unix.SOL_SOCKET, unix.SO_LINGER); err != nil || l.Onoff != 0 {
		t.Errorf("the host socket lingers after {0, 9}: %+v %v", l, err)
	}
}

// TestBindToDevice: SO_BINDTODEVICE binds to a device of the namespace
// and reads back as the kernel answers (the name and its NUL; length 0
// when unbound), as wasmedge_wasi_socket's Socket::device and
// bind_device ask (its try_sock_opt example panicked on ENOPROTOOPT).
func TestBindToDevice(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	fd, _ := loopPair(t, g, 0)
	get := func() (Errno, string) {
		clear(g.mem[920:940])
		g.put32(940, 16)
		errno := g.call("sock_getsockopt", "iiiii", uint32(fd), 0, optBindToDevice, 920, 940)
		return errno, string(g.mem[920 : 920+g.get32(940)])
	}
	if errno, name := get(); errno != 0 || name != "" {
		t.Errorf("getsockopt SO_BINDTODEVICE, unbound: errno %d, %q; want 0 and nothing", errno, name)
	}
	bindToLo(g, fd)
	if errno, name := get(); errno != 0 || name != "lo\x00" {
		t.Errorf("getsockopt SO_BINDTODEVICE after binding to lo: errno %d, %q; want \"lo\\x00\"", errno, name)
	}
	e, _ := g.h.fds.get(fd)
	if name, err := unix.GetsockoptString(e.hostFd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE); err != nil || name != "lo" {
		t.Errorf("the host socket's device: %q %v, want lo", name, err)
	}
	if errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, optBindToDevice, 920, 0); errno != 0 {
		t.Errorf("setsockopt SO_BINDTODEVICE to nothing: errno %d, want 0", errno)
	}
	if errno, name := get(); errno != 0 || name != "" {
		t.Errorf("getsockopt SO_BINDTODEVICE after unbinding: errno %d, %q", errno, name)
	}
	// A name whose buffer runs to the end of memory binds as Linux reads
	// it (its first 15 bytes, here "lo" and a NUL), and the host copies
	// no more of it than that: it copied the whole buffer, twice.
	clear(g.mem[960:])
	g.put32(960, 'l'|'o'<<8)
	var least uint64 = math.MaxUint64
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, optBindToDevice, 960, memSize-960)
		runtime.ReadMemStats(&after)
		if errno != 0 {
			t.Fatalf("setsockopt SO_BINDTODEVICE of lo in a buffer to the end of memory: errno %d", errno)
		}
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	if least > 8<<10 {
		t.Errorf("setsockopt SO_BINDTODEVICE of a %d-byte buffer allocated %d bytes", memSize-960, least)
	}
	if errno, name := get(); errno != 0 || name != "lo\x00" {
		t.Errorf("getsockopt SO_BINDTODEVICE after binding to lo in a long buffer: errno %d, %q", errno, name)
	}
}

// bindToLo binds fd to the loopback device.
func bindToLo(g *sockGuest, fd int32) {
	g.put32(960, 'l'|'o'<<8)
	if errno := g.call("sock_setsockopt", "iiiii", uint32(fd), 0, optBindToDevice, 960, 3); errno != 0 {
		g.t.Fatalf("setsockopt SO_BINDTODEVICE lo: errno %d", errno)
	}
}

// TestSocketTimeoutsAsLinux: SO_RCVTIMEO and SO_SNDTIMEO read as Linux
// reads them; a time too long to represent is no timeout, never a wrapped
// short one.
func TestSocketTimeoutsAsLinux(t *testing.T) {
	for _, c := range []struct {
		sec, usec int64
		want      time.Duration
		ok        bool
	}{
		{1, 500000, 1500 * time.Millisecond, true},
		{0, 0, 0, true},
		{-5, 0, immediateTimeout, true}, // Linux: EAGAIN at once
		{math.MaxInt64, 0, 0, true},     // Rust's Duration::MAX
		{18446744074 / 2, 0, 0, true},   // wrapped to 0.29 s before
		{9223372000, 0, 9223372000 * time.Second, true},
		{1, 1000000, 0, false},
		{1, -1, 0, false},
	} {
		if got, ok := timeoutOf(c.sec, c.usec); got != c.want || ok != c.ok {
			t.Errorf("timeoutOf(%d, %d) = %v, %v; want %v, %v", c.sec, c.usec, got, ok, c.want, c.ok)
		}
	}
}

// TestAcceptInheritsTimeouts: as on Linux, a socket accept gives keeps
// the listener's SO_RCVTIMEO and SO_SNDTIMEO (runw keeps both in the
// descriptor's entry, not the kernel's socket): a server that set a read
// timeout on its listener waited forever on a silent client.
func TestAcceptInheritsTimeouts(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "127.0.0.1")
	ln := g.listener()
	for opt, usec := range map[uint32]uint64{optRcvtimeo: 200000, optSndtimeo: 300000} {
		clear(g.mem[900:916])
		binary.LittleEndian.PutUint64(g.mem[908:], usec)
		if errno := g.call("sock_setsockopt", "iiiii", uint32(ln), 0, opt, 900, 16); errno != 0 {
			t.Fatalf("setsockopt %d: errno %d", opt, errno)
		}
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(g.port(ln)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if errno := g.call("sock_accept", "iii", uint32(ln), 0, 60); errno != 0 {
		t.Fatalf("accept: errno %d", errno)
	}
	nfd := g.get32(60)
	for opt, usec := range map[uint32]uint64{optRcvtimeo: 200000, optSndtimeo: 300000} {
		clear(g.mem[920:936])
		if errno := g.call("sock_getsockopt", "iiiii", nfd, 0, opt, 920, 16); errno != 0 {
			t.Fatalf("getsockopt %d: errno %d", opt, errno)
		}
		if got := binary.LittleEndian.Uint64(g.mem[928:]); got != usec || binary.LittleEndian.Uint64(g.mem[920:]) != 0 {
			t.Errorf("option %d of the accepted socket: %d µs, want the listener's %d", opt, got, usec)
		}
	}
	stop := time.AfterFunc(5*time.Second, g.h.Stop)
	defer stop.Stop()
	g.put32(500, 600)
	g.put32(504, 16)
	start := time.Now()
	if errno := g.call("sock_recv", "iiiiii", nfd, 500, 1, 0, 700, 704); errno != ErrnoAgain || time.Since(start) > 4*time.Second {
		t.Errorf("blocking recv from a silent client: errno %d after %v, want EAGAIN after the inherited 200 ms", errno, time.Since(start))
	}
}

// TestGetaddrinfoV4MappedFlags: AI_V4MAPPED and AI_ALL reach the
// resolver (they were accepted and dropped, so a guest asking for
// AF_INET6 with AI_V4MAPPED got nothing for an IPv4-only name).
func TestGetaddrinfoV4MappedFlags(t *testing.T) {
	g := newSockGuest(t, "", "")
	var asked netdns.Query
	g.h.resolve = func(_ context.Context, _ netdns.Files, q netdns.Query) ([]netdns.Result, error) {
		asked = q
		return nil, nil
	}
	const name, hints, resp, lenp = 1000, 200, 300, 304
	copy(g.mem[name:], "v4.test")
	for _, flags := range []uint16{aiV4mapped, aiV4mapped | aiAll, 0} {
		clear(g.mem[hints : hints+addrinfoSize])
		binary.LittleEndian.PutUint16(g.mem[hints:], flags)
		g.mem[hints+2] = afInet6
		g.call("sock_getaddrinfo", "iiiiiiii", name, 7, 0, 0, hints, resp, 1, lenp)
		if asked.V4Mapped != (flags&aiV4mapped != 0) || asked.All != (flags&aiAll != 0) || asked.Family != netdns.FamilyIPv6 {
			t.Errorf("flags %#x: the resolver got V4Mapped %v All %v family %d", flags, asked.V4Mapped, asked.All, asked.Family)
		}
	}
}

// TestGetaddrinfoNamesBounded: a node or service name longer than
// getaddrinfo takes is refused before the host copies it (a guest naming
// hundreds of MB of its memory made the init allocate as much again, and
// outgrow the container's memory limit); a name with its NUL counted in
// the length, and padding after it, still resolves.
func TestGetaddrinfoNamesBounded(t *testing.T) {
	g := newSockGuest(t, "", "")
	asked := ""
	g.h.resolve = func(_ context.Context, _ netdns.Files, q netdns.Query) ([]netdns.Result, error) {
		asked = q.Node + "|" + q.Service
		return nil, nil
	}
	const name, hints, resp, lenp = 1000, 200, 300, 304
	long := bytes.Repeat([]byte("a"), maxNode+1)
	copy(g.mem[name:], long)
	g.put32(resp, 0)
	gai := func(node, nodeLen, service, serviceLen uint32) Errno {
		clear(g.mem[hints : hints+addrinfoSize])
		return g.call("sock_getaddrinfo", "iiiiiiii", node, nodeLen, service, serviceLen, hints, resp, 1, lenp)
	}
	if errno := gai(name, maxNode+1, 0, 0); errno != ErrnoAiNoname || asked != "" {
		t.Errorf("a %d-byte node: errno %d, resolver asked %q", maxNode+1, errno, asked)
	}
	if errno := gai(0, 0, name, maxService+1); errno != ErrnoAiService || asked != "" {
		t.Errorf("a %d-byte service: errno %d, resolver asked %q", maxService+1, errno, asked)
	}
	copy(g.mem[name:], "host\x00garbage")
	if gai(name, 4000, 0, 0); asked != "host|" {
		t.Errorf("a NUL-terminated node in a long buffer: resolver asked %q", asked)
	}
	// A node empty before its NUL ("\x00", length 1) is the NULL node,
	// as one of length 0 is: stealthrocket/net's getaddrinfo build
	// listens on ":8080" so (AI_PASSIVE, the wildcard).
	const service = 2000
	copy(g.mem[service:], "80\x00")
	g.mem[name] = 0
	for _, nodeLen := range []uint32{1, 0} {
		asked = "none"
		clear(g.mem[hints : hints+addrinfoSize])
		binary.LittleEndian.PutUint16(g.mem[hints:], aiPassive)
		if g.call("sock_getaddrinfo", "iiiiiiii", name, nodeLen, service, 3, hints, resp, 1, lenp); asked != "|80" {
			t.Errorf("AI_PASSIVE, an empty node of length %d: the resolver asked %q; want the NULL node's lookup", nodeLen, asked)
		}
	}
}

// pingListener sends "ping" to the datagram listener e from a new peer on
// network at ip (skipping the test when there is none), and returns the
// peer and a guest memory holding a 16-byte iovec at 100 for 200.
func pingListener(t *testing.T, e *fdEntry, network string, ip net.IP) (memory, *net.UDPConn) {
	t.Helper()
	local, errno := sockName(e.hostFd, true)
	if errno != 0 {
		t.Fatal(errno)
	}
	peer, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	t.Cleanup(func() { peer.Close() })
	if _, err := peer.WriteToUDP([]byte("ping"), net.UDPAddrFromAddrPort(local)); err != nil {
		t.Fatal(err)
	}
	m := make(memory, 4096)
	binary.LittleEndian.PutUint32(m[100:], 200) // iovec: 16 bytes at 200
	binary.LittleEndian.PutUint32(m[104:], 16)
	return m, peer
}

// TestRecvFromV1ShortAddress: V1's sock_recv_from with a 4-byte address
// buffer and an IPv6 sender says ENOMEM rather than leave the buffer's old
// bytes to be read as the sender, and leaves the datagram queued: a call
// with room for the address then receives it.
func TestRecvFromV1ShortAddress(t *testing.T) {
	h, err := New(Config{Args: []string{"t"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"}, Stdio: [3]int{0, 1, 2},
		Net: Network{Sockets: true, Listeners: []Listener{{UDP: true, Addr: netip.MustParseAddrPort("[::1]:0")}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	e, _ := h.fds.get(4)
	m, _ := pingListener(t, e, "udp6", net.IPv6loopback)
	binary.LittleEndian.PutUint32(m[300:], 400) // address: 4 bytes at 400
	binary.LittleEndian.PutUint32(m[304:], 4)
	copy(m[400:], "\xde\xad\xbe\xef")
	f := functions[lookup("sock_recv_from", "iiiiiii")]
	if errno := f.body(h, m, []arg{{lo: 4}, {lo: 100}, {lo: 1}, {lo: 300}, {lo: 0}, {lo: 600}, {lo: 604}}); errno != ErrnoNomem {
		t.Errorf("sock_recv_from (V1) from an IPv6 sender into 4 bytes: errno %d, want ENOMEM", errno)
	}
	binary.LittleEndian.PutUint32(m[304:], 16)
	if errno := f.body(h, m, []arg{{lo: 4}, {lo: 100}, {lo: 1}, {lo: 300}, {lo: riflagPeek}, {lo: 600}, {lo: 604}}); errno != 0 {
		t.Fatalf("sock_recv_from (V1) with room for the address, after the refusal: errno %d: the datagram was lost", errno)
	}
	if got := binary.LittleEndian.Uint32(m[600:]); got == 0 || net.IP(m[400:416]).String() != "::1" {
		t.Errorf("after the refusal: %d bytes from %v, want the datagram from ::1", got, net.IP(m[400:416]))
	}
}

// TestNoListenersNoListenFds: without listeners, a RUNW_LISTEN_FDS the
// image (or podman exec's copied environment) carries is dropped: it would
// name descriptors that are not listeners (fd 3 is the preopened /).
func TestNoListenersNoListenFds(t *testing.T) {
	h, err := New(Config{Args: []string{"t"}, Env: []string{"A=1", "RUNW_LISTEN_FDS=3"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"}, Stdio: [3]int{0, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if len(h.env) != 1 || string(h.env[0]) != "A=1\x00" {
		t.Errorf("environment %q, want only A=1", h.env)
	}
}

// TestUDPListener: a udp:// listener is a datagram socket after the
// preopened directories, announced in RUNW_LISTEN_FDS, and sock_recv_from
// (V2) gets a datagram with its sender's address and port.
func TestUDPListener(t *testing.T) {
	h, err := New(Config{Args: []string{"t"}, Env: []string{"RUNW_LISTEN_FDS=99"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"}, Stdio: [3]int{0, 1, 2},
		Net: Network{Sockets: true, Listeners: []Listener{{UDP: true, Addr: netip.MustParseAddrPort("127.0.0.1:0")}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if env := envOf(h); len(env) != 1 || env[0] != "RUNW_LISTEN_FDS=4" {
		t.Fatalf("environment %q, want only RUNW_LISTEN_FDS=4 (the stale value replaced)", env)
	}
	e, errno := h.fds.get(4)
	if errno != 0 || e.kind != kindSocket || e.filetype != filetypeSocketDgram {
		t.Fatalf("fd 4: %+v errno %d, want a datagram socket", e, errno)
	}
	m, peer := pingListener(t, e, "udp4", net.IPv4(127, 0, 0, 1))
	binary.LittleEndian.PutUint32(m[300:], 400) // address: 128-byte storage at 400
	binary.LittleEndian.PutUint32(m[304:], addrStorageSize)
	f := functions[lookup("sock_recv_from", "iiiiiiii")]
	if errno := f.body(h, m, []arg{{lo: 4}, {lo: 100}, {lo: 1}, {lo: 300}, {lo: 0}, {lo: 600}, {lo: 604}, {lo: 608}}); errno != 0 {
		t.Fatalf("sock_recv_from: errno %d", errno)
	}
	sender := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	if n := binary.LittleEndian.Uint32(m[604:]); string(m[200:200+n]) != "ping" {
		t.Errorf("read %q, want ping", m[200:200+n])
	}
	if fam, port := binary.LittleEndian.Uint16(m[400:]), binary.LittleEndian.Uint16(m[600:]); fam != afInet4 || [4]byte(m[402:406]) != [4]byte{127, 0, 0, 1} || port != sender.Port() {
		t.Errorf("sender: family %d addr %v port %d, want 1 127.0.0.1 %d", fam, m[402:406], port, sender.Port())
	}
}

// TestIovecArraysBounded: a guest can pass an iovec array as large as its
// memory (8 bytes a record), most of it never touched. The host must not
// keep a buffer for each: that was a 24-byte slice header per 8 bytes of
// guest memory (12 GiB of the host's for a 4 GiB memory that costs the
// guest nothing), kept in the host's scratch for the rest of the run.
// Beyond IOV_MAX (1024) buffers a read or write is short, as any may be.
func TestIovecArraysBounded(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	fd, peer := loopPair(t, g, 0)
	const size = 16 << 20
	big := make(memory, size)
	copy(big, g.mem)
	g.mem = big
	const data = size / 2 // one byte buffers, here
	for i := uint32(0); i < 4096; i++ {
		big[data+i] = byte('a' + i%26)
	}
	for _, c := range []struct {
		name string
		len  uint32 // of each buffer
	}{{"empty", 0}, {"one byte", 1}} {
		// (size/2)/8 records from 0: the array fills the first half.
		n := uint32(data / iovecSize)
		for i := uint32(0); i < n; i++ {
			binary.LittleEndian.PutUint32(big[i*iovecSize:], data+i%4096)
			binary.LittleEndian.PutUint32(big[i*iovecSize+4:], c.len)
		}
		g.h.iov = nil
		errno := g.call("sock_send", "iiiii", uint32(fd), 0, n, 0, data-8)
		if errno != 0 {
			t.Fatalf("%s: sock_send of %d iovecs: errno %d", c.name, n, errno)
		}
		sent := g.get32(data - 8)
		if c.len == 1 && sent != iovMax {
			t.Errorf("%s: sock_send of %d one-byte iovecs sent %d, want %d (IOV_MAX)", c.name, n, sent, iovMax)
		}
		if cap(g.h.iov) > 2*iovMax {
			t.Errorf("%s: %d iovecs: the host kept %d buffers (%d bytes)", c.name, n, cap(g.h.iov), cap(g.h.iov)*24)
		}
		// The same through fd_write (rw) on the socket.
		g.h.iov = nil
		if errno := g.call("fd_write", "iiii", uint32(fd), 0, n, data-8); errno != 0 {
			t.Fatalf("%s: fd_write of %d iovecs: errno %d", c.name, n, errno)
		}
		if cap(g.h.iov) > 2*iovMax {
			t.Errorf("%s: fd_write of %d iovecs: the host kept %d buffers", c.name, n, cap(g.h.iov))
		}
	}
	// A receive that must fill every buffer cannot be capped: EMSGSIZE,
	// as recvmsg answers more than IOV_MAX, never a short count while
	// the peer is still there. Within IOV_MAX it fills them all.
	if _, err := peer.Write(make([]byte, 2*iovMax)); err != nil {
		t.Fatal(err)
	}
	n := uint32(iovMax + 1)
	for i := uint32(0); i < n; i++ {
		binary.LittleEndian.PutUint32(big[i*iovecSize:], data+i)
		binary.LittleEndian.PutUint32(big[i*iovecSize+4:], 1)
	}
	if errno := g.call("sock_recv", "iiiiii", uint32(fd), 0, n, riflagWaitall, data-8, data-4); errno != ErrnoMsgsize {
		t.Errorf("WAITALL sock_recv into %d one-byte buffers: errno %d, want MSGSIZE", n, errno)
	}
	if errno := g.call("sock_recv", "iiiiii", uint32(fd), 0, n-1, riflagWaitall, data-8, data-4); errno != 0 || g.get32(data-8) != iovMax {
		t.Errorf("WAITALL sock_recv into %d one-byte buffers: errno %d, %d bytes, want all", n-1, errno, g.get32(data-8))
	}
	peer.SetReadDeadline(time.Now().Add(time.Second))
	got, _ := io.ReadAll(io.LimitReader(peer, 2*iovMax))
	if len(got) != 2*iovMax || !bytes.Equal(got[:26], []byte("abcdefghijklmnopqrstuvwxyz")) {
		t.Errorf("the peer read %d bytes (%.30q), want %d", len(got), got, 2*iovMax)
	}

	// A datagram is one message: past IOV_MAX buffers it is refused
	// (EMSGSIZE, as sendmsg answers; EINVAL from fd_write, as writev
	// answers), never sent cut short; at IOV_MAX it goes whole.
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	ufd := g.open(afInet4, sockDgram)
	g.addr(800, loop4, false)
	if errno := g.call("sock_connect", "iii", uint32(ufd), 800, uint32(udp.LocalAddr().(*net.UDPAddr).Port)); errno != 0 {
		t.Fatalf("UDP connect: errno %d", errno)
	}
	for i := uint32(0); i <= iovMax; i++ {
		binary.LittleEndian.PutUint32(big[i*iovecSize:], data+i%4096)
		binary.LittleEndian.PutUint32(big[i*iovecSize+4:], 1)
	}
	if errno := g.call("sock_send", "iiiii", uint32(ufd), 0, iovMax+1, 0, data-8); errno != ErrnoMsgsize {
		t.Errorf("sock_send of a datagram in %d buffers: errno %d, want EMSGSIZE", iovMax+1, errno)
	}
	if errno := g.call("fd_write", "iiii", uint32(ufd), 0, iovMax+1, data-8); errno != ErrnoInval {
		t.Errorf("fd_write of a datagram in %d buffers: errno %d, want EINVAL", iovMax+1, errno)
	}
	if errno := g.call("sock_send", "iiiii", uint32(ufd), 0, iovMax, 0, data-8); errno != 0 || g.get32(data-8) != iovMax {
		t.Errorf("sock_send of a datagram in %d buffers: errno %d, sent %d", iovMax, errno, g.get32(data-8))
	}
	buf := make([]byte, 4*iovMax)
	udp.SetReadDeadline(time.Now().Add(time.Second))
	if n, _, err := udp.ReadFrom(buf); err != nil || n != iovMax {
		t.Errorf("the peer got a datagram of %d bytes (%v), want %d and nothing else", n, err, iovMax)
	}
	udp.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := udp.ReadFrom(buf); err == nil {
		t.Errorf("the peer got a second datagram of %d bytes: a refused one was sent", n)
	}
	// Received into more than IOV_MAX buffers a datagram is refused too,
	// as recvmsg refuses them, and stays queued: it was received into the
	// first IOV_MAX, its rest lost.
	ue, _ := g.h.fds.get(int32(ufd))
	sa, err := unix.Getsockname(ue.hostFd)
	if err != nil {
		t.Fatal(err)
	}
	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port}
	if _, err := udp.WriteTo(bytes.Repeat([]byte("d"), 1500), local); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	for i := uint32(0); i <= iovMax; i++ {
		binary.LittleEndian.PutUint32(big[i*iovecSize:], data+i%4096)
		binary.LittleEndian.PutUint32(big[i*iovecSize+4:], 1)
	}
	if errno := g.call("sock_recv", "iiiiii", uint32(ufd), 0, iovMax+1, 0, data-8, data-4); errno != ErrnoMsgsize {
		t.Errorf("sock_recv of a datagram into %d buffers: errno %d, %d bytes, want EMSGSIZE", iovMax+1, errno, g.get32(data-8))
	}
	binary.LittleEndian.PutUint32(big, data)
	binary.LittleEndian.PutUint32(big[4:], 4096)
	if errno := g.call("fd_fdstat_set_flags", "ii", uint32(ufd), fdflagNonblock); errno != 0 {
		t.Fatalf("fd_fdstat_set_flags NONBLOCK: errno %d", errno)
	}
	if errno := g.call("sock_recv", "iiiiii", uint32(ufd), 0, 1, 0, data-8, data-4); errno != 0 || g.get32(data-8) != 1500 {
		t.Errorf("sock_recv of the datagram into one buffer after: errno %d, %d bytes, want 1500", errno, g.get32(data-8))
	}
}

// TestSocketDescriptorConfusion: socket calls on descriptors that are not
// sockets, file and directory calls on sockets, descriptor numbers no
// table holds, families and types sock_open does not make, and addresses
// of other families: each is an errno, never a host call on the wrong
// kind of descriptor or a socket the grant does not describe.
func TestSocketDescriptorConfusion(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "127.0.0.1:1-1023")
	tcp := uint32(g.open(afInet4, sockStream))
	g.put32(500, 600)
	g.put32(504, 4)
	g.addr(800, loop4, false)
	// storage writes a 128-byte address of family at a place of its own.
	next := uint32(2000)
	storage := func(family uint16) uint32 {
		p := next
		next += 200
		g.addr(p, loop4, true)
		binary.LittleEndian.PutUint16(g.mem[p+8:], family)
		return p
	}
	copy(g.mem[900:], "etc")
	cases := []struct {
		name, fn, params string
		args             []uint32
		want             Errno
	}{
		// Socket calls on stdio and the preopened directory (3).
		{"accept on stdin", "sock_accept", "iii", []uint32{0, 0, 700}, ErrnoNotsock},
		{"accept on a directory", "sock_accept", "iii", []uint32{3, 0, 700}, ErrnoNotsock},
		{"connect on stdout", "sock_connect", "iii", []uint32{1, 800, 80}, ErrnoNotsock},
		{"bind on a directory", "sock_bind", "iii", []uint32{3, 800, 80}, ErrnoNotsock},
		{"listen on stderr", "sock_listen", "ii", []uint32{2, 1}, ErrnoNotsock},
		{"send_to on a directory", "sock_send_to", "iiiiiii", []uint32{3, 500, 1, 800, 80, 0, 700}, ErrnoNotsock},
		{"recv on stdin", "sock_recv", "iiiiii", []uint32{0, 500, 1, 0, 700, 704}, ErrnoNotsock},
		{"setsockopt on stdout", "sock_setsockopt", "iiiii", []uint32{1, 0, 0, 600, 4}, ErrnoNotsock},
		{"getpeeraddr on a directory", "sock_getpeeraddr", "iii", []uint32{3, storage(afInet4), 700}, ErrnoNotsock},
		// Numbers no table holds.
		{"accept on fd 2^31-1", "sock_accept", "iii", []uint32{0x7fffffff, 0, 700}, ErrnoBadf},
		{"accept on fd -1", "sock_accept", "iii", []uint32{^uint32(0), 0, 700}, ErrnoBadf},
		{"connect on fd 1<<20", "sock_connect", "iii", []uint32{1 << 20, 800, 80}, ErrnoBadf},
		// File and directory calls on a socket.
		{"path_open under a socket", "path_open", "iiiiiIIii", []uint32{tcp, 0, 900, 3, 0, 0, 0, 0, 700}, ErrnoBadf},
		{"readdir of a socket", "fd_readdir", "iiiIi", []uint32{tcp, 600, 64, 0, 700}, ErrnoBadf},
		{"seek on a socket", "fd_seek", "iIii", []uint32{tcp, 0, 0, 700}, ErrnoSpipe},
		{"pread on a socket", "fd_pread", "iiiIi", []uint32{tcp, 500, 1, 0, 700}, ErrnoSpipe},
		{"pwrite on a socket", "fd_pwrite", "iiiIi", []uint32{tcp, 500, 1, 0, 700}, ErrnoSpipe},
		{"advise on a socket", "fd_advise", "iIIi", []uint32{tcp, 0, 0, 0}, ErrnoSpipe},
		{"prestat of a socket", "fd_prestat_get", "ii", []uint32{tcp, 700}, ErrnoBadf},
		// Families and types sock_open does not make.
		{"open AF_UNIX", "sock_open", "iii", []uint32{afUnix, sockStream, 700}, ErrnoAfnosupport},
		{"open AF_UNSPEC", "sock_open", "iii", []uint32{afUnspec, sockStream, 700}, ErrnoInval},
		{"open family 16 (netlink's number)", "sock_open", "iii", []uint32{16, sockDgram, 700}, ErrnoInval},
		{"open family 17 (packet's number)", "sock_open", "iii", []uint32{17, sockDgram, 700}, ErrnoInval},
		{"open type 3 (SOCK_RAW's number)", "sock_open", "iii", []uint32{afInet4, 3, 700}, ErrnoInval},
		{"open type 5 (SOCK_SEQPACKET's)", "sock_open", "iii", []uint32{afInet6, 5, 700}, ErrnoInval},
		{"open type with SOCK_NONBLOCK's bit", "sock_open", "iii", []uint32{afInet4, sockStream | unix.SOCK_NONBLOCK, 700}, ErrnoInval},
		// Addresses of other families: AF_UNIX is refused, AF_UNSPEC
		// (which would dissolve a connected UDP socket's association, or
		// bind any address on an IPv4 socket) and unknown ones too.
		{"connect to an AF_UNIX address", "sock_connect", "iii", []uint32{tcp, storage(afUnix), 80}, ErrnoAfnosupport},
		{"connect to AF_UNSPEC", "sock_connect", "iii", []uint32{tcp, storage(afUnspec), 80}, ErrnoInval},
		{"bind to AF_UNSPEC", "sock_bind", "iii", []uint32{tcp, storage(afUnspec), 80}, ErrnoInval},
		{"send_to family 16", "sock_send_to", "iiiiiii", []uint32{tcp, 500, 1, storage(16), 80, 0, 700}, ErrnoInval},
	}
	for _, c := range cases {
		g.put32(700, 0xdead)
		if errno := g.call(c.fn, c.params, c.args...); errno != c.want {
			t.Errorf("%s: errno %d, want %d", c.name, errno, c.want)
		}
		if g.get32(700) != 0xdead {
			t.Errorf("%s: a result was written on failure", c.name)
		}
	}

	// A closed preopened listener's number, taken by a new socket, is a
	// socket like any other: listen on it without a bind is refused
	// under the narrowed listen grant, as the listener's port is not
	// inherited.
	h, err := New(Config{Args: []string{"t"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"}, Stdio: [3]int{0, 1, 2},
		Net: Network{Sockets: true, Listen: g.h.net.Listen, Listeners: []Listener{{Addr: netip.MustParseAddrPort("127.0.0.1:0")}}}})
	if err == nil {
		h.Close()
		t.Fatal("a listener on port 0 outside 1-1023 was bound")
	}
	rules, _ := ParseRules("127.0.0.1")
	h, err = New(Config{Args: []string{"t"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"}, Stdio: [3]int{0, 1, 2},
		Net: Network{Sockets: true, Listen: rules, Listeners: []Listener{{Addr: netip.MustParseAddrPort("127.0.0.1:0")}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	g.h = h
	g.h.net.Listen, _ = ParseRules("127.0.0.1:1-1023")
	if errno := g.call("fd_close", "i", 4); errno != 0 {
		t.Fatalf("close the listener: errno %d", errno)
	}
	if fd := g.open(afInet4, sockStream); fd != 4 {
		t.Fatalf("the new socket is %d, want 4", fd)
	}
	if errno := g.call("sock_listen", "ii", 4, 8); errno != ErrnoAcces {
		t.Errorf("listen on the socket that took the listener's number: errno %d, want EACCES", errno)
	}
	// Renumbering a socket over the preopened directory does not make it
	// a directory.
	if errno := g.call("fd_renumber", "ii", 4, 3); errno != 0 {
		t.Fatalf("fd_renumber: errno %d", errno)
	}
	if errno := g.call("path_open", "iiiiiIIii", 3, 0, 900, 3, 0, 0, 0, 0, 700); errno != ErrnoBadf {
		t.Errorf("path_open under a socket renumbered over the preopen: errno %d, want EBADF", errno)
	}
}

// TestPollTurn: a guest that has not polled for pollEvery gets one EAGAIN
// from an fd_read of a non-blocking socket with data waiting, or from an
// fd_write with room (its turn to poll, so that Go's runtime serves every
// ready connection), then the data; one such EAGAIN a socket between two
// polls; never right after a poll, never for what a poll reported ready,
// never on a blocking socket, never from sock_recv.
func TestPollTurn(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	g.put32(500, 600)
	g.put32(504, 16)
	read := func(name string, fd int32) (string, Errno) {
		t.Helper()
		var errno Errno
		if name == "fd_read" {
			errno = g.call("fd_read", "iiii", uint32(fd), 500, 1, 700)
		} else {
			errno = g.call("sock_recv", "iiiiii", uint32(fd), 500, 1, 0, 700, 704)
		}
		if errno != 0 {
			return "", errno
		}
		return string(g.mem[600 : 600+g.get32(700)]), 0
	}
	// send has the peer write s and waits until the guest's end can read.
	send := func(fd int32, peer net.Conn, s string) {
		t.Helper()
		if _, err := peer.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		e, _ := g.h.fds.get(fd)
		if !ready(e.hostFd, unix.POLLIN) {
			h := g.h
			if errno := h.wait(e.hostFd, unix.POLLIN); errno != 0 {
				t.Fatal(errno)
			}
		}
	}
	stale := func() { g.h.lastPoll = time.Now().Add(-time.Second) }
	// pollReady polls fd for tag (eventFdRead or eventFdWrite) and wants
	// it reported ready.
	pollReady := func(what string, tag byte, fd int32) {
		t.Helper()
		clear(g.mem[1000:1048])
		binary.LittleEndian.PutUint64(g.mem[1000:], 2)          // userdata
		g.mem[1008] = tag                                       // tag
		binary.LittleEndian.PutUint32(g.mem[1016:], uint32(fd)) // fd
		if errno := g.call("poll_oneoff", "iiii", 1000, 2000, 1, 2100); errno != 0 || g.get32(2100) != 1 {
			t.Fatalf("%s: poll_oneoff: errno %d, %d events", what, errno, g.get32(2100))
		}
	}

	fd, peer := loopPair(t, g, fdflagNonblock)
	send(fd, peer, "a")
	stale()
	if got, errno := read("fd_read", fd); errno != ErrnoAgain {
		t.Fatalf("fd_read after a second without a poll: %q, errno %d; want EAGAIN (a turn to poll)", got, errno)
	}
	if got, errno := read("fd_read", fd); errno != 0 || got != "a" {
		t.Fatalf("fd_read again: %q, errno %d; want the data", got, errno)
	}
	send(fd, peer, "b")
	if got, errno := read("fd_read", fd); errno != 0 || got != "b" {
		t.Errorf("a second read in the same round: %q, errno %d; want the data, one turn a round", got, errno)
	}

	// A poll starts a new round; a read right after it never yields.
	polls := g.h.polls
	binary.LittleEndian.PutUint64(g.mem[1000:], 1) // userdata
	g.mem[1008] = eventClock                       // tag
	binary.LittleEndian.PutUint32(g.mem[1016:], 1) // clock id: monotonic
	binary.LittleEndian.PutUint64(g.mem[1024:], 0) // timeout 0
	if errno := g.call("poll_oneoff", "iiii", 1000, 2000, 1, 2100); errno != 0 {
		t.Fatalf("poll_oneoff: errno %d", errno)
	}
	if g.h.polls != polls+1 || time.Since(g.h.lastPoll) > time.Minute {
		t.Fatalf("poll_oneoff did not start a new round: polls %d -> %d, last %v", polls, g.h.polls, g.h.lastPoll)
	}
	g.h.lastPoll = time.Now().Add(time.Hour) // "just polled", whatever the machine's load
	send(fd, peer, "c")
	if got, errno := read("fd_read", fd); errno != 0 || got != "c" {
		t.Errorf("fd_read right after a poll: %q, errno %d; want the data", got, errno)
	}
	// The new round gives the socket a new turn once the guest is late again.
	send(fd, peer, "d")
	stale()
	if _, errno := read("fd_read", fd); errno != ErrnoAgain {
		t.Errorf("fd_read late in a new round: errno %d, want EAGAIN", errno)
	}
	read("fd_read", fd)

	// An event loop that polls, works for longer than pollEvery, then
	// reads: the poll said readable, so the read is always served, round
	// after round (a livelock a review found in the first version).
	for round := 0; round < 4; round++ {
		send(fd, peer, "p")
		pollReady(fmt.Sprintf("round %d", round), eventFdRead, fd)
		stale() // the loop's work took a second
		if got, errno := read("fd_read", fd); errno != 0 || got == "" {
			t.Fatalf("round %d: fd_read of a socket poll reported readable, after long work: %q, errno %d; want the data", round, got, errno)
		}
	}

	// Writes take turns too (a download's writer kept other connections
	// waiting for seconds): one EAGAIN when late, nothing written, then
	// the write.
	write := func(fd int32, s string) Errno {
		t.Helper()
		copy(g.mem[900:], s)
		g.put32(800, 900)
		g.put32(804, uint32(len(s)))
		return g.call("fd_write", "iiii", uint32(fd), 800, 1, 710)
	}
	received := func(want string) {
		t.Helper()
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, len(want))
		if _, err := io.ReadFull(peer, b); err != nil || string(b) != want {
			t.Fatalf("peer read %q (%v), want %q", b, err, want)
		}
	}
	g.h.polls++
	stale()
	if errno := write(fd, "w1"); errno != ErrnoAgain {
		t.Fatalf("fd_write late: errno %d, want EAGAIN (a turn to poll)", errno)
	}
	if errno := write(fd, "w2"); errno != 0 || g.get32(710) != 2 {
		t.Fatalf("fd_write again: errno %d, %d bytes; want it written", errno, g.get32(710))
	}
	received("w2")

	// Reads and writes are owed apart: told readable, an event loop that
	// works long and writes before it reads may see its write yield, but
	// the read it was told about is served (with one flag for both, the
	// write took the read's due and the read yielded, round after round).
	for round := 0; round < 3; round++ {
		send(fd, peer, "r")
		pollReady(fmt.Sprintf("write-then-read round %d", round), eventFdRead, fd)
		stale()
		if errno := write(fd, "x"); errno == ErrnoAgain {
			write(fd, "x")
		}
		received("x")
		if got, errno := read("fd_read", fd); errno != 0 || got != "r" {
			t.Fatalf("round %d: fd_read told readable, after a write: %q, errno %d; want the data", round, got, errno)
		}
	}
	// Told writable, a late write is served.
	pollReady("for writing", eventFdWrite, fd)
	stale()
	if errno := write(fd, "w3"); errno != 0 {
		t.Fatalf("fd_write told writable, late: errno %d, want it written", errno)
	}
	received("w3")

	// sock_recv and blocking sockets never yield.
	send(fd, peer, "e")
	g.h.polls++
	stale()
	if got, errno := read("sock_recv", fd); errno != 0 || got != "e" {
		t.Errorf("sock_recv late: %q, errno %d; want the data", got, errno)
	}
	bfd, bpeer := loopPair(t, g, 0)
	send(bfd, bpeer, "f")
	stale()
	if got, errno := read("fd_read", bfd); errno != 0 || got != "f" {
		t.Errorf("blocking fd_read late: %q, errno %d; want the data", got, errno)
	}
}

// A guest's TCP sockets have Nagle's algorithm off, Go's or not: the
// connections its preopened listener accepts and the sockets it opens.
// Go's net package sets it on every TCP connection natively, and a C or
// Rust server may (hyper's, nginx's do); no guest can ask for it. Without
// it a response written in two pieces waited about 40 ms for the
// client's delayed ACK (a hyper server on WasmEdge's tokio fork served
// 444 kept-alive requests a second). It was set for Go guests only.
func TestGuestsTCPNoDelay(t *testing.T) {
	for _, goGuest := range []bool{true, false} {
		h, err := New(Config{Args: []string{"t"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"}, Stdio: [3]int{0, 1, 2},
			Go: goGuest, Net: Network{Sockets: true, Listeners: []Listener{{Addr: netip.MustParseAddrPort("127.0.0.1:0")}}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		g := newSockGuest(t, "", "")
		g.h = h
		const want = 1
		noDelay := func(what string, fd int32) {
			t.Helper()
			e, errno := g.h.sock(fd)
			if errno != 0 {
				t.Fatalf("%s: errno %d", what, errno)
			}
			if v, err := unix.GetsockoptInt(e.hostFd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v != want {
				t.Errorf("Go guest %v, %s: TCP_NODELAY %d (%v), want %d", goGuest, what, v, err, want)
			}
		}
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.port(4)))
		if err != nil {
			t.Fatal(err)
		}
		if errno := g.call("sock_accept", "iii", 4, 0, 60); errno != 0 {
			t.Fatalf("sock_accept: errno %d", errno)
		}
		noDelay("an accepted connection", int32(g.get32(60)))
		c.Close()
		noDelay("a socket it opened", g.open(afInet6, sockStream))
	}
}

// TestUDPListenerNotShared: a preopened UDP listener has no SO_REUSEADDR.
// For UDP that option does nothing for a restart (there is no TIME_WAIT)
// but lets any other socket of the network namespace that sets it too
// bind the same port, whatever its uid: another container of the pod (a
// guest sets it with sock_setsockopt) then took the datagrams sent to the
// listener. A native UDP server (Go's net.ListenPacket, a C server that
// does not ask for it) refuses that second bind with EADDRINUSE.
func TestUDPListenerNotShared(t *testing.T) {
	h, err := New(Config{Args: []string{"t"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"}, Stdio: [3]int{0, 1, 2},
		Net: Network{Sockets: true, Listeners: []Listener{{UDP: true, Addr: netip.MustParseAddrPort("127.0.0.1:0")}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	e, errno := h.fds.get(4)
	if errno != 0 || e.filetype != filetypeSocketDgram {
		t.Fatalf("fd 4: %+v errno %d, want a datagram socket", e, errno)
	}
	sa, err := unix.Getsockname(e.hostFd)
	if err != nil {
		t.Fatal(err)
	}
	thief, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(thief)
	if err := unix.SetsockoptInt(thief, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(thief, sa); err != unix.EADDRINUSE {
		t.Errorf("a second UDP socket with SO_REUSEADDR binding the listener's address: %v, want EADDRINUSE", err)
	}
}

// TestListenerQueuesAsManyAsTheKernelAllows: a preopened listener's accept
// queue is the network namespace's somaxconn, as Go's net.Listen makes
// it, not a fixed 1024: connections that arrive while a single-threaded
// guest is busy (compiling, paused) wait in it, where past 1024 their
// SYNs were dropped.
func TestListenerQueuesAsManyAsTheKernelAllows(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	somaxconn, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || somaxconn < 1500 {
		t.Skipf("net.core.somaxconn is %q (%v): too small to tell", b, err)
	}
	h, err := New(Config{Args: []string{"t"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"}, Stdio: [3]int{0, 1, 2},
		Net: Network{Sockets: true, Listeners: []Listener{{Addr: netip.MustParseAddrPort("127.0.0.1:0")}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	e, errno := h.fds.get(4)
	if errno != 0 || e.kind != kindSocket {
		t.Fatalf("fd 4: %+v errno %d, want the listener", e, errno)
	}
	sa, err := unix.Getsockname(e.hostFd)
	if err != nil {
		t.Fatal(err)
	}
	to := &unix.SockaddrInet4{Port: sa.(*unix.SockaddrInet4).Port, Addr: [4]byte{127, 0, 0, 1}}
	const n = 1500
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
		if err := unix.Connect(fd, to); err != nil && err != unix.EINPROGRESS {
			t.Fatal(err)
		}
	}
	// Nobody accepts: each connection is queued, or its SYN dropped.
	connected := 0
	for deadline := time.Now().Add(5 * time.Second); connected < n && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		connected = 0
		for _, fd := range fds {
			if _, err := unix.Getpeername(fd); err == nil {
				connected++
			}
		}
	}
	if connected < n {
		t.Errorf("%d of %d connections queued on a listener nobody accepts from, want all (somaxconn %d)", connected, n, somaxconn)
	}
}
