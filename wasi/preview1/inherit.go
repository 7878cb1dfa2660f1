package preview1

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// PreservedFdsEnv names the variable that tells the guest the descriptor
// numbers of the descriptors its caller preserved for it (runc's
// --preserve-fds: the caller's 3, 4, ... in that order), comma-separated.
const PreservedFdsEnv = "RUNW_PRESERVED_FDS"

// InheritError is a preserved descriptor the guest cannot be given: the
// Index-th the caller preserved (its descriptor 3+Index).
type InheritError struct {
	Index int
	Err   error
}

func (e *InheritError) Error() string {
	return fmt.Sprintf("descriptor %d: %v", 3+e.Index, e.Err)
}

func (e *InheritError) Unwrap() error { return e.Err }

// inheritedEntry describes host descriptor fd, which runw's caller handed
// the container (Config.Inherited), as a guest descriptor. listener says
// it is a socket waiting for peers: a TCP listener, or a datagram socket
// bound to no peer, as systemd's socket units make them; its number is
// then announced in RUNW_LISTEN_FDS beside the listeners runw bound.
//
// The caller's grant is the descriptor itself, as it is for a native
// process: a socket comes in whether or not the guest may make sockets
// (io.github.runw.net=deny is refused before, by create). What the
// annotations narrow still holds: a listener's address must be one the
// listen grant allows, a connected socket's peer one the connect grant
// allows. A directory is refused: the guest's files are what the mounts
// grant, resolved inside them, and a directory descriptor from outside
// would be a way around every mount.
func inheritedEntry(fd int, n Network) (e *fdEntry, listener bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, false, fmt.Errorf("fstat: %w", err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return nil, false, fmt.Errorf("a directory: the guest is granted directories by mounts, not descriptors")
	case unix.S_IFSOCK:
		return inheritedSocket(fd, n)
	}
	return inheritedStream(fd), false, nil
}

// inheritedStream is a preserved descriptor that is not an IP socket (a
// pipe, a file, a terminal, a Unix socket connected to its peer): the
// guest reads and writes it as it does its standard streams, as far as
// the descriptor's own access mode allows, and the description it shares
// with the caller keeps its mode (NONBLOCK is emulated). Its guest number
// is its own: closing it closes the host descriptor.
func inheritedStream(fd int) *fdEntry {
	acc := unix.O_RDWR
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
		acc = fl & unix.O_ACCMODE
	}
	e := streamEntry(fd, acc != unix.O_WRONLY, acc != unix.O_RDONLY)
	e.ownsHost = true
	return e
}

// inheritedSocket is a preserved socket. An IPv4 or IPv6 one is the
// guest's as a socket it made itself; its host descriptor turns
// non-blocking (the host waits in poll(2) beside the stop descriptor, so
// that a stop ends a guest blocked in accept at once), and a listener is
// non-blocking for the guest too, as runw's own listeners are: Go's
// os.NewFile then parks Accept in its netpoller instead of stopping
// every goroutine of the single-threaded guest. Any other socket (a Unix
// socket) is a stream to read and write, and may not be listening:
// preview1 cannot accept on it.
func inheritedSocket(fd int, n Network) (*fdEntry, bool, error) {
	family, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return nil, false, fmt.Errorf("a socket whose family is not known: %w", err)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, false, fmt.Errorf("a socket whose type is not known: %w", err)
	}
	accepting, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	inet := family == unix.AF_INET || family == unix.AF_INET6
	if err := checkableUnderNarrowing(fd, n, family, typ, inet); err != nil {
		return nil, false, err
	}
	if !inet || (typ != unix.SOCK_STREAM && typ != unix.SOCK_DGRAM) {
		if accepting != 0 {
			return nil, false, fmt.Errorf("a listening socket of family %d: WASI preview1 accepts only on IPv4 and IPv6 sockets", family)
		}
		return inheritedStream(fd), false, nil
	}
	var local, peer netip.AddrPort
	if sa, err := unix.Getsockname(fd); err == nil {
		local, _ = addrPortOf(sa)
	}
	connected := false
	if sa, err := unix.Getpeername(fd); err == nil {
		peer, connected = addrPortOf(sa)
	}
	// A datagram socket with no address of its own (port 0) waits for
	// no peers: it is not announced as a listener.
	listener := accepting != 0 || (typ == unix.SOCK_DGRAM && !connected && local.Port() != 0)
	switch {
	case connected && !allowedPeer(n.Connect, peer):
		return nil, false, fmt.Errorf("a socket connected to %s, outside the connect grant (io.github.runw.net.connect)", peer)
	case listener && !allowed(n.Listen, local):
		return nil, false, fmt.Errorf("a socket listening on %s, outside the listen grant (io.github.runw.net.listen)", local)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, false, fmt.Errorf("fcntl: %w", err)
	}
	// A listener, a bound UDP socket with no peer included, is
	// non-blocking for the guest as runw's own (RUNW_LISTEN) are, so
	// that a server written for those serves on it unchanged.
	var flags uint16
	if fl&unix.O_NONBLOCK != 0 || listener {
		flags = fdflagNonblock
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_NONBLOCK); err != nil {
		return nil, false, fmt.Errorf("fcntl: %w", err)
	}
	e := sockEntry(fd, family, typ, flags)
	// The listener is the caller's too (a socket unit's, a supervisor's),
	// and keeps its options as runc leaves a preserved descriptor: the
	// connections it gives the guest get TCP_NODELAY instead (noDelay).
	e.noDelayAccepted = accepting != 0
	return e, listener, nil
}

// checkableUnderNarrowing refuses, under a narrowed grant (.listen or
// .connect), a preserved socket whose peer runw cannot check against it.
// Only a TCP or UDP socket has addresses the grant names, and only once a
// TCP one has settled: a raw IP, packet, netlink or ping socket went to
// the guest as a stream, unchecked, and sent what it liked where it
// liked; a TCP socket still in its handshake has no peer to read yet and
// talked to it once the handshake ended. A Unix socket reaches no network
// and stays the caller's grant. Without narrowing the namespace is the
// boundary, as for a native process, and every socket comes in.
func checkableUnderNarrowing(fd int, n Network, family, typ int, inet bool) error {
	if n.Listen == nil && n.Connect == nil || family == unix.AF_UNIX {
		return nil
	}
	proto, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	tcp := typ == unix.SOCK_STREAM && (proto == unix.IPPROTO_TCP || proto == unix.IPPROTO_MPTCP)
	udp := typ == unix.SOCK_DGRAM && proto == unix.IPPROTO_UDP
	if !inet || !tcp && !udp {
		return fmt.Errorf("a socket of family %d, type %d, protocol %d: under a narrowed grant (io.github.runw.net.listen or .connect) only TCP, UDP and Unix sockets are taken, whose peers can be checked", family, typ, proto)
	}
	if tcp {
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return fmt.Errorf("a TCP socket whose state is not known: %w", err)
		}
		if info.State == unix.BPF_TCP_SYN_SENT || info.State == unix.BPF_TCP_SYN_RECV {
			return fmt.Errorf("a TCP socket still connecting: its peer cannot be checked against the connect grant (io.github.runw.net.connect) before it is known")
		}
	}
	return nil
}
