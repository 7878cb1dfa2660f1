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
	if e, _ := h.fds.get(8); e == nil || e.filetype != filetypeSocketDgram {
		t.Errorf("fd 8 (a bound UDP socket): %+v, want a datagram socket", e)
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
