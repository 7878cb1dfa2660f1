package preview1

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dupFd is a duplicate of f's descriptor that the host may own.
func dupFd(t *testing.T, f interface {
	SyscallConn() (syscall.RawConn, error)
}) int {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	rc.Control(func(s uintptr) { fd, err = unix.Dup(int(s)) })
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// inheritHost is a host with / preopened and the descriptors fds
// inherited, under network grant n.
func inheritHost(t *testing.T, n Network, env []string, fds ...int) (*Host, error) {
	return New(Config{Args: []string{"t"}, Env: env, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"}, Stdio: [3]int{0, 1, 2}, Net: n, Inherited: fds, Go: true})
}

// envOf is the guest's environment as strings.
func envOf(h *Host) []string {
	var env []string
	for _, e := range h.env {
		env = append(env, string(e[:len(e)-1]))
	}
	return env
}

// TestInheritedDescriptors: descriptors the caller preserved come after the
// preopened directory and the listeners, in the caller's order, named in
// RUNW_PRESERVED_FDS (stale values the image carried replaced); a TCP
// listener among them is named in RUNW_LISTEN_FDS too, non-blocking for the
// guest, and accepts; a pipe's write end is written and never read; a
// connected socket is a socket but no listener.
func TestInheritedDescriptors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	lfd, wfd, cfd, ufd := dupFd(t, ln.(*net.TCPListener)), dupFd(t, w), dupFd(t, client.(*net.TCPConn)), dupFd(t, udp)
	// As a blocking socket comes from a caller (Go's are non-blocking):
	// the guest sees it blocking, and the host waits for it in poll(2).
	if err := unix.SetNonblock(cfd, false); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(ufd, false); err != nil {
		t.Fatal(err)
	}
	h, err := inheritHost(t, Network{Sockets: true, Listeners: []Listener{{Addr: netip.MustParseAddrPort("127.0.0.1:0")}}},
		[]string{"A=1", "RUNW_PRESERVED_FDS=3", "RUNW_LISTEN_FDS=3"}, lfd, wfd, cfd, ufd)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// 0-2 stdio, 3 "/", 4 runw's own listener, then 5 to 8; the UDP
	// socket bound to no peer (8) is a listener too.
	want := []string{"A=1", "RUNW_LISTEN_FDS=4,5,8", "RUNW_PRESERVED_FDS=5,6,7,8"}
	if got := envOf(h); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("environment %q, want %q", got, want)
	}
	e, errno := h.fds.get(5)
	if errno != 0 || e.kind != kindSocket || e.flags&fdflagNonblock == 0 {
		t.Fatalf("fd 5: %+v errno %d, want a non-blocking socket", e, errno)
	}
	m := make(memory, 1024)
	if errno := functions[lookup("sock_accept", "iii")].body(h, m, []arg{{lo: 5}, {lo: 0}, {lo: 100}}); errno != 0 {
		t.Fatalf("sock_accept on the inherited listener: errno %d", errno)
	}
	// The connection has TCP_NODELAY, as every guest's TCP socket; the
	// listener, the caller's too, keeps its options: it was set there,
	// and stayed so after the container for the caller's own accepts.
	if ae, errno := h.fds.get(int32(binary.LittleEndian.Uint32(m[100:]))); errno != 0 {
		t.Errorf("the accepted connection: errno %d", errno)
	} else if v, err := unix.GetsockoptInt(ae.hostFd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v != 1 {
		t.Errorf("the connection the preserved listener gave: TCP_NODELAY %d (%v), want 1", v, err)
	}
	if v, err := unix.GetsockoptInt(lfd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v != 0 {
		t.Errorf("the caller's preserved listener: TCP_NODELAY %d (%v), want 0 (left as it was)", v, err)
	}
	e, _ = h.fds.get(6)
	if e == nil || e.read || !e.write || e.rightsBase&rightFdRead != 0 {
		t.Errorf("fd 6 (a pipe's write end): %+v, want write only", e)
	}
	m[200] = 'x'
	binary.LittleEndian.PutUint32(m[300:], 200) // one iovec: 1 byte at 200
	binary.LittleEndian.PutUint32(m[304:], 1)
	if errno := functions[lookup("fd_write", "iiii")].body(h, m, []arg{{lo: 6}, {lo: 300}, {lo: 1}, {lo: 400}}); errno != 0 {
		t.Fatalf("fd_write to the inherited pipe: errno %d", errno)
	}
	var b [1]byte
	if n, _ := r.Read(b[:]); n != 1 || b[0] != 'x' {
		t.Errorf("the pipe's read end got %q, want x", b[:n])
	}
	if errno := functions[lookup("fd_read", "iiii")].body(h, m, []arg{{lo: 6}, {lo: 300}, {lo: 1}, {lo: 400}}); errno == 0 {
		t.Error("fd_read of a write-only descriptor succeeded")
	}
	e, _ = h.fds.get(7)
	if e == nil || e.kind != kindSocket || e.flags&fdflagNonblock != 0 {
		t.Errorf("fd 7 (a connected socket, blocking): %+v, want a blocking socket", e)
	}
	// Inherited descriptors are the guest's alone: none reaches a child
	// the init may start.
	// A bound UDP socket with no peer is a listener: non-blocking for
	// the guest, as a RUNW_LISTEN=udp:// one, blocking as it came.
	if e, _ := h.fds.get(8); e == nil || e.filetype != filetypeSocketDgram || e.flags&fdflagNonblock == 0 {
		t.Errorf("fd 8 (a bound UDP socket, blocking): %+v, want a non-blocking datagram socket", e)
	}
	for _, fd := range []int{lfd, wfd, cfd, ufd} {
		if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
			t.Errorf("host descriptor %d is not close-on-exec", fd)
		}
	}
}

// TestInheritedDescriptorsRefused: what the guest may not be given. A
// directory would reach files outside every mount grant (the attack: a
// caller's open descriptor on the host's / handed on by mistake); a Unix
// listener cannot be accepted on in preview1; a listener or a peer outside
// the narrowed grant is refused as runw's own listener would be.
func TestInheritedDescriptorsRefused(t *testing.T) {
	dir, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	unixLn, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer unixLn.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	other, err := ParseRules("127.0.0.1:1-2")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fd   int
		n    Network
		want string
	}{
		{"directory", dir, Network{}, "descriptor 3: a directory"},
		{"unix listener", dupFd(t, unixLn.(*net.UnixListener)), Network{}, "descriptor 3: a listening socket of family 1"},
		{"listener outside the listen grant", dupFd(t, ln.(*net.TCPListener)), Network{Listen: other}, "127.0.0.1:" + strconv.Itoa(port) + ", outside the listen grant"},
		{"peer outside the connect grant", dupFd(t, client.(*net.TCPConn)), Network{Connect: other}, "connected to 127.0.0.1:" + strconv.Itoa(port) + ", outside the connect grant"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := inheritHost(t, c.n, nil, c.fd)
			if err == nil {
				h.Close()
				t.Fatal("New succeeded")
			}
			var ie *InheritError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q (%T), want an InheritError with %q", err, err, c.want)
			}
		})
	}
}

// TestInheritedSocketsUncheckableUnderNarrowing: under a narrowed grant a
// preserved socket comes in only if runw can check its addresses. A raw
// IP socket and a packet socket went to the guest as plain streams and
// sent what they liked (a raw IP datagram, an Ethernet frame), and a TCP
// socket still in its handshake had no peer to check and reached it
// afterwards. Without narrowing they come in, the namespace being the
// boundary; a Unix socket comes in either way.
func TestInheritedSocketsUncheckableUnderNarrowing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("raw and packet sockets need CAP_NET_RAW")
	}
	narrow, err := ParseRules("127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	raw := func(domain, typ, proto int) func(t *testing.T) int {
		return func(t *testing.T) int {
			fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
			if err != nil {
				t.Skipf("socket(%d, %d, %d): %v", domain, typ, proto, err)
			}
			return fd
		}
	}
	// A TCP socket in SYN_SENT: a listener whose accept queue is full
	// drops the next SYN, so a non-blocking connect stays in its handshake.
	synSent := func(t *testing.T) int {
		lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(lfd) })
		if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
		if err := unix.Listen(lfd, 0); err != nil {
			t.Fatal(err)
		}
		sa, _ := unix.Getsockname(lfd)
		for range 8 {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(fd) })
			unix.Connect(fd, sa)
			if info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil && info.State == unix.BPF_TCP_SYN_SENT {
				dup, err := unix.Dup(fd)
				if err != nil {
					t.Fatal(err)
				}
				return dup
			}
		}
		t.Skip("no connect stayed in SYN_SENT against a full accept queue")
		return -1
	}
	for _, c := range []struct {
		name string
		open func(t *testing.T) int
		want string // under narrowing; "" means taken
	}{
		{"raw IP", raw(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_UDP), "type 3, protocol 17: under a narrowed grant"},
		{"packet", raw(unix.AF_PACKET, unix.SOCK_RAW, 0), "family 17"},
		{"TCP in its handshake", synSent, "a TCP socket still connecting"},
		{"unix", func(t *testing.T) int {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(fds[1]) })
			return fds[0]
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, n := range []Network{{Sockets: true, Connect: narrow}, {Sockets: true, Listen: narrow}, {Sockets: true}} {
				narrowed := n.Connect != nil || n.Listen != nil
				h, err := inheritHost(t, n, nil, c.open(t))
				if c.want == "" || !narrowed {
					if err != nil {
						t.Errorf("narrowed %v: %v, want it taken", narrowed, err)
					} else {
						h.Close()
					}
					continue
				}
				if err == nil {
					h.Close()
					t.Errorf("taken under %+v, want refused with %q", n, c.want)
				} else if !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q, want %q", err, c.want)
				}
			}
		})
	}
}

// TestInheritedSocketsWithoutTheSocketsGrant: in the host's network
// namespace without io.github.runw.net (no sockets grant), a socket the
// caller preserved is used with the address it came with, never given
// another. The attack: listen on a preserved unbound TCP socket bound it
// to a port of the host's 0.0.0.0 (Landlock knows no implicit bind), and
// an unbound UDP socket sent anywhere from a port of its own (Landlock
// knows no UDP). A UDP server the caller bound still answers its
// clients, and an unbound UDP socket is no listener.
func TestInheritedSocketsWithoutTheSocketsGrant(t *testing.T) {
	socket := func(typ int, bind bool) int {
		fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if bind {
			if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				t.Fatal(err)
			}
		}
		return fd
	}
	tcp, bound, udp, server := socket(unix.SOCK_STREAM, false), socket(unix.SOCK_STREAM, true), socket(unix.SOCK_DGRAM, false), socket(unix.SOCK_DGRAM, true)
	client, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	h, err := inheritHost(t, Network{}, nil, tcp, bound, udp, server)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// 0-2 stdio, 3 "/", then 4 to 7: the bound UDP socket (7) is a
	// listener, the unbound one (6) is not.
	want := []string{"RUNW_LISTEN_FDS=7", "RUNW_PRESERVED_FDS=4,5,6,7"}
	if got := envOf(h); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("environment %q, want %q", got, want)
	}
	m := make(memory, 1024)
	// The address record at 200 names 4 bytes at 300: 127.0.0.1; the
	// iovec at 400 names "hi" at 600.
	binary.LittleEndian.PutUint32(m[200:], 300)
	binary.LittleEndian.PutUint32(m[204:], 4)
	copy(m[300:], []byte{127, 0, 0, 1})
	binary.LittleEndian.PutUint32(m[400:], 600)
	binary.LittleEndian.PutUint32(m[404:], 2)
	copy(m[600:], "hi")
	call := func(name, sig string, args ...uint64) Errno {
		var a []arg
		for _, v := range args {
			a = append(a, arg{lo: v})
		}
		return functions[lookup(name, sig)].body(h, m, a)
	}
	clientPort := uint64(client.LocalAddr().(*net.UDPAddr).Port)
	for _, c := range []struct {
		what string
		got  Errno
		want Errno
	}{
		{"listen on the unbound TCP socket", call("sock_listen", "ii", 4, 8), ErrnoAcces},
		{"bind the unbound TCP socket", call("sock_bind", "iii", 4, 200, 0), ErrnoAcces},
		{"connect the unbound TCP socket", call("sock_connect", "iii", 4, 200, 9), ErrnoAcces},
		{"send_to from the unbound UDP socket", call("sock_send_to", "iiiiiii", 6, 400, 1, 200, clientPort, 0, 500), ErrnoAcces},
		{"bind the unbound UDP socket", call("sock_bind", "iii", 6, 200, 0), ErrnoAcces},
		{"listen on the TCP socket the caller bound", call("sock_listen", "ii", 5, 8), 0},
		{"send_to from the UDP socket the caller bound", call("sock_send_to", "iiiiiii", 7, 400, 1, 200, clientPort, 0, 500), 0},
		// Linux refuses to bind a bound socket again (EINVAL), whatever
		// the address.
		{"bind the TCP socket the caller bound", call("sock_bind", "iii", 5, 200, 0), ErrnoInval},
		{"bind the UDP socket the caller bound", call("sock_bind", "iii", 7, 200, 0), ErrnoInval},
	} {
		if c.got != c.want {
			t.Errorf("%s: errno %d, want %d", c.what, c.got, c.want)
		}
	}
	for _, fd := range []int{tcp, udp} {
		if sa, err := unix.Getsockname(fd); err != nil || sa.(*unix.SockaddrInet4).Port != 0 {
			t.Errorf("unbound socket %d has the address %v (%v), want none", fd, sa, err)
		}
	}
	client.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 16)
	if n, _, err := client.ReadFrom(buf); err != nil || string(buf[:n]) != "hi" {
		t.Errorf("the client got %q (%v) from the bound UDP socket, want hi", buf[:n], err)
	}
}
