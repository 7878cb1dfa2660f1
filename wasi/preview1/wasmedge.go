package preview1

import (
	"encoding/binary"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// WasmEdge's socket extension to wasi_snapshot_preview1 (NETWORKING.md
// section b), in both the shapes it has had: the linker defines, for each
// name, the variant whose signature the guest imports (link.go).
//
// Every guest pointer is bounds-checked through memory before use, and an
// address structure is read once into host values: a guest cannot make the
// host read or write outside its memory, nor change an address between
// the policy check and the system call.

// WASI address families and socket types of the extension.
const (
	afUnspec = 0
	afInet4  = 1
	afInet6  = 2
	afUnix   = 3

	sockAny    = 0
	sockDgram  = 1
	sockStream = 2
)

// addrStorageSize is WasmEdge's WasiAddrStorage: a u16 family, then the
// address bytes.
const addrStorageSize = 128

// readAddr reads a __wasi_address_t {buf, buf_len} at p and the address
// in its buffer: 4 bytes (IPv4), 16 (IPv6) or the 128-byte storage.
func readAddr(m memory, p uint32) (netip.Addr, Errno) {
	rec, ok := m.slice(p, 8)
	if !ok {
		return netip.Addr{}, ErrnoFault
	}
	buf, ok := m.slice(binary.LittleEndian.Uint32(rec), binary.LittleEndian.Uint32(rec[4:]))
	if !ok {
		return netip.Addr{}, ErrnoFault
	}
	switch len(buf) {
	case 4:
		return netip.AddrFrom4([4]byte(buf)), 0
	case 16:
		return netip.AddrFrom16([16]byte(buf)), 0
	case addrStorageSize:
		switch binary.LittleEndian.Uint16(buf) {
		case afInet4:
			return netip.AddrFrom4([4]byte(buf[2:6])), 0
		case afInet6:
			return netip.AddrFrom16([16]byte(buf[2:18])), 0
		case afUnix:
			return netip.Addr{}, ErrnoAfnosupport
		}
	}
	return netip.Addr{}, ErrnoInval
}

// addrBuf returns the buffer a __wasi_address_t at p names, for the host
// to write an address into.
func addrBuf(m memory, p uint32) ([]byte, Errno) {
	rec, ok := m.slice(p, 8)
	if !ok {
		return nil, ErrnoFault
	}
	buf, ok := m.slice(binary.LittleEndian.Uint32(rec), binary.LittleEndian.Uint32(rec[4:]))
	if !ok {
		return nil, ErrnoFault
	}
	return buf, 0
}

// putAddr writes a into buf: the raw 4 or 16 bytes, or the 128-byte
// storage with its family. A buffer too small for the address is ENOMEM,
// as WasmEdge answers.
func putAddr(buf []byte, a netip.Addr) Errno {
	if len(buf) == addrStorageSize {
		clear(buf)
		if a.Is4() {
			binary.LittleEndian.PutUint16(buf, afInet4)
			b := a.As4()
			copy(buf[2:], b[:])
		} else {
			binary.LittleEndian.PutUint16(buf, afInet6)
			b := a.As16()
			copy(buf[2:], b[:])
		}
		return 0
	}
	if a.Is4() && len(buf) >= 4 {
		b := a.As4()
		copy(buf, b[:])
		return 0
	}
	if len(buf) >= 16 {
		b := a.As16()
		copy(buf, b[:])
		return 0
	}
	return ErrnoNomem
}

// sockOpen is sock_open(af, type, *fd): a new socket, only where the
// network grant allows sockets.
func (h *Host) sockOpen(m memory, a []arg) Errno {
	if _, ok := m.slice(u32(a[2]), 4); !ok {
		return ErrnoFault
	}
	var family, typ int
	switch u32(a[0]) {
	case afInet4:
		family = unix.AF_INET
	case afInet6:
		family = unix.AF_INET6
	case afUnix:
		return ErrnoAfnosupport
	default:
		return ErrnoInval
	}
	switch u32(a[1]) {
	case sockAny, sockStream:
		typ = unix.SOCK_STREAM
	case sockDgram:
		typ = unix.SOCK_DGRAM
	default:
		return ErrnoInval
	}
	if !h.net.Sockets {
		return ErrnoAcces
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return toErrno(err)
	}
	noDelay(fd, typ)
	id, errno := h.fds.add(sockEntry(fd, family, typ, 0))
	if errno != 0 {
		unix.Close(fd)
		return errno
	}
	m.putU32(u32(a[2]), uint32(id))
	return 0
}

// sockAndAddr is the prologue of bind, connect and send_to: the socket
// fd, and the address at addrp with port, read once from guest memory.
func (h *Host) sockAndAddr(m memory, fd int32, addrp, port uint32) (*fdEntry, netip.AddrPort, Errno) {
	e, errno := h.sock(fd)
	if errno != 0 {
		return nil, netip.AddrPort{}, errno
	}
	addr, errno := readAddr(m, addrp)
	if errno != 0 {
		return nil, netip.AddrPort{}, errno
	}
	return e, netip.AddrPortFrom(addr, uint16(port)), 0
}

// sockBind is sock_bind(fd, *addr, port), inside the listen grant.
func (h *Host) sockBind(m memory, a []arg) Errno {
	e, ap, errno := h.sockAndAddr(m, a[0].I32(), u32(a[1]), u32(a[2]))
	if errno != 0 {
		return errno
	}
	if !h.mayBind(ap) {
		if addressed(e) {
			// A socket that has an address may not take another:
			// the kernel refuses one it could otherwise bind with
			// EINVAL (an address not of this host, or a port its
			// caller may not bind, it refuses first, as
			// EADDRNOTAVAIL or EACCES). runw answers EINVAL for any:
			// the grant has nothing left to guard, and telling which
			// would try the address for a guest the grant refuses.
			return ErrnoInval
		}
		return ErrnoAcces
	}
	return toErrno(unix.Bind(e.hostFd, sockaddrOf(ap, e.family)))
}

// sockListen is sock_listen(fd, backlog). Under a narrowed listen grant
// the socket must be bound first: listen on an unbound socket would take
// an ephemeral port no rule named.
func (h *Host) sockListen(m memory, a []arg) Errno {
	e, errno := h.sock(a[0].I32())
	if errno != 0 {
		return errno
	}
	if h.net.Listen != nil || !h.net.Sockets {
		// Bound first, and inside the grant: listen binds an unbound
		// socket to a port of the kernel's choosing. Without the
		// sockets grant a socket the caller bound may listen there.
		sa, err := unix.Getsockname(e.hostFd)
		if err != nil {
			return toErrno(err)
		}
		if ap, ok := addrPortOf(sa); !ok || ap.Port() == 0 || !allowed(h.net.Listen, ap) {
			return ErrnoAcces
		}
	}
	backlog := int(a[1].I32())
	if backlog <= 0 {
		// No backlog asked: the most there is, as for runw's own
		// listeners. A larger one the kernel caps at somaxconn.
		backlog = maxBacklog
	}
	return toErrno(unix.Listen(e.hostFd, backlog))
}

// sockConnect is sock_connect(fd, *addr, port), inside the connect grant.
// A blocking guest waits for the handshake (and a stop), up to its
// SO_SNDTIMEO, then EINPROGRESS, as Linux answers; a non-blocking one gets
// EINPROGRESS at once and learns the outcome from poll and SO_ERROR, as
// Go's and mio's connect do.
func (h *Host) sockConnect(m memory, a []arg) Errno {
	e, ap, errno := h.sockAndAddr(m, a[0].I32(), u32(a[1]), u32(a[2]))
	if errno != 0 {
		return errno
	}
	ap, ok := h.peer(e, ap)
	if !ok {
		return ErrnoAcces
	}
	sa := sockaddrOf(ap, e.family)
	err := unix.Connect(e.hostFd, sa)
	// EALREADY: a blocking connect called again while the handshake
	// goes on waits for it as the first one did (Linux's
	// inet_wait_for_connect), and answers EALREADY if SO_SNDTIMEO
	// passes; it answered at once, and a guest retrying on it spun a
	// core for the whole SYN retry period.
	if err != unix.EINPROGRESS && err != unix.EALREADY || e.flags&fdflagNonblock != 0 {
		return toErrno(err)
	}
	first := toErrno(err)
	h.beginSockCall()
	// The host socket is non-blocking: runw waits for the handshake, then
	// lets the kernel settle it with a second connect, as a blocking
	// connect settles itself. That connect answers 0 and marks the socket
	// connected (a guest's next connect is EISCONN, as natively; it
	// answered 0), or answers the handshake's error and marks the socket
	// unconnected (a guest may connect it again, as natively; when runw
	// read SO_ERROR instead, the socket stayed "connecting" and the
	// guest's retry answered ECONNABORTED and sent nothing).
	for {
		if errno := h.waitSock(e, unix.POLLOUT); errno != 0 {
			if errno == ErrnoAgain {
				// SO_SNDTIMEO passed: the handshake goes on, as the
				// kernel's connect says (EINPROGRESS, or EALREADY
				// for a connect made while it was under way).
				return first
			}
			return errno
		}
		switch err := unix.Connect(e.hostFd, sa); err {
		case unix.EALREADY, unix.EINTR:
			continue // still in progress: wait again
		case nil, unix.EISCONN:
			return 0
		default:
			return toErrno(err)
		}
	}
}

// sockRecvFromV1 is sock_recv_from(fd, iovs, n, *addr, riflags, *nread,
// *roflags): the sender's address, no port.
func (h *Host) sockRecvFromV1(m memory, a []arg) Errno {
	return h.recvFrom(m, a[0].I32(), u32(a[1]), u32(a[2]), u32(a[3]), u32(a[4]), 0, false, u32(a[5]), u32(a[6]))
}

// sockRecvFromV2 adds *port before *nread.
func (h *Host) sockRecvFromV2(m memory, a []arg) Errno {
	return h.recvFrom(m, a[0].I32(), u32(a[1]), u32(a[2]), u32(a[3]), u32(a[4]), u32(a[5]), true, u32(a[6]), u32(a[7]))
}

func (h *Host) recvFrom(m memory, fd int32, iovs, n, addrp, riflags, portp uint32, withPort bool, nreadp, roflagsp uint32) Errno {
	e, errno := h.sock(fd)
	if errno != 0 {
		return errno
	}
	buf, errno := addrBuf(m, addrp)
	if errno != 0 {
		return errno
	}
	if l := len(buf); l != 4 && l != 16 && l != addrStorageSize {
		return ErrnoInval
	}
	if _, ok := m.slice(nreadp, 4); !ok {
		return ErrnoFault
	}
	if _, ok := m.slice(roflagsp, 2); !ok {
		return ErrnoFault
	}
	if _, ok := m.slice(portp, 2); withPort && !ok {
		return ErrnoFault
	}
	var from netip.AddrPort
	if len(buf) == 4 && e.family == unix.AF_INET6 && riflags&riflagPeek == 0 {
		// A sender a 4-byte address cannot hold is refused before its
		// datagram (or its data) is taken: peeked first, it stays queued.
		if _, _, errno := h.recv(m, e, iovs, n, riflags|riflagPeek, &from); errno != 0 {
			return errno
		}
		if from.IsValid() && !from.Addr().Is4In6() && !from.Addr().Is4() {
			return ErrnoNomem
		}
	}
	got, roflags, errno := h.recv(m, e, iovs, n, riflags, &from)
	if errno != 0 {
		return errno
	}
	if from.IsValid() {
		addr := from.Addr()
		if addr.Is4In6() && len(buf) == 4 {
			addr = addr.Unmap()
		}
		if errno := putAddr(buf, addr); errno != 0 {
			// An IPv6 sender and a 4-byte buffer: the guest is told
			// rather than left reading a stale address as the sender's.
			return errno
		}
		if withPort {
			// A u16 in host order. WasmEdge writes the u16 in network
			// order (inode-linux.cpp, sockRecvFrom: *PortPtr =
			// sin_port), but its guests read a number: Rust's
			// wasmedge_wasi_socket (recv_from: sin_port as u16) and
			// Go's stealthrocket net (uint16(port)); host order is
			// what they need. A guest that gives a u32 zeroed it
			// first (both do).
			m.putU16(portp, from.Port())
		}
	}
	m.putU32(nreadp, uint32(got))
	m.putU16(roflagsp, roflags)
	return 0
}

// sockSendTo is sock_send_to(fd, iovs, n, *addr, port, siflags, *nsent),
// inside the connect grant.
func (h *Host) sockSendTo(m memory, a []arg) Errno {
	e, to, errno := h.sockAndAddr(m, a[0].I32(), u32(a[3]), u32(a[4]))
	if errno != 0 {
		return errno
	}
	if _, ok := m.slice(u32(a[6]), 4); !ok {
		return ErrnoFault
	}
	sent, errno := h.send(m, e, u32(a[1]), u32(a[2]), to)
	if errno != 0 {
		return errno
	}
	m.putU32(u32(a[6]), uint32(sent))
	return 0
}

// Socket options of the extension (level SOL_SOCKET = 0 only).
var sockOpts = [...]int{
	0: unix.SO_REUSEADDR, 1: unix.SO_TYPE, 2: unix.SO_ERROR, 3: unix.SO_DONTROUTE,
	4: unix.SO_BROADCAST, 5: unix.SO_SNDBUF, 6: unix.SO_RCVBUF, 7: unix.SO_KEEPALIVE,
	8: unix.SO_OOBINLINE, 9: unix.SO_LINGER, 10: unix.SO_RCVLOWAT, 11: unix.SO_RCVTIMEO,
	12: unix.SO_SNDTIMEO, 13: unix.SO_ACCEPTCONN, 14: unix.SO_BINDTODEVICE,
}

const (
	optType         = 1
	optError        = 2
	optLinger       = 9
	optRcvtimeo     = 11
	optSndtimeo     = 12
	optBindToDevice = 14
)

// sockOpt is the prologue of getsockopt and setsockopt (fd, level, name,
// ...): the socket and the host option. Only level SOL_SOCKET (0) exists.
// BINDTODEVICE (14) binds the socket to one of the devices its network
// namespace has, as Linux (since 5.7) lets any process bind a socket not
// yet bound; the kernel asks CAP_NET_RAW of a change, which the init has
// only if the spec gives it. It chooses the way out, never which
// addresses the grant allows (checked on every bind, connect and send
// all the same).
func (h *Host) sockOpt(a []arg) (*fdEntry, int, Errno) {
	e, errno := h.sock(a[0].I32())
	if errno != 0 {
		return nil, 0, errno
	}
	level, name := u32(a[1]), u32(a[2])
	if level != 0 || name >= uint32(len(sockOpts)) {
		return nil, 0, ErrnoNoprotoopt
	}
	return e, sockOpts[name], 0
}

// sockGetsockopt is sock_getsockopt(fd, level, name, *val, *val_len).
func (h *Host) sockGetsockopt(m memory, a []arg) Errno {
	e, opt, errno := h.sockOpt(a)
	if errno != 0 {
		return errno
	}
	// WasmEdge passes a pointer to the value's length; Go's stealthrocket
	// net (and its wasi-go host) pass the length itself. No toolchain
	// puts data in the first bytes of memory, so 4, 8 or 16 there is a
	// length, and anything else a pointer.
	lenp, size := u32(a[4]), uint32(0)
	switch lenp {
	case 4, 8, 16:
		size, lenp = lenp, 0
	default:
		lb, ok := m.slice(lenp, 4)
		if !ok {
			return ErrnoFault
		}
		size = binary.LittleEndian.Uint32(lb)
	}
	val, ok := m.slice(u32(a[3]), size)
	if !ok {
		return ErrnoFault
	}
	var out []byte
	switch u32(a[2]) {
	case optBindToDevice:
		// The device's name and its NUL, or nothing when unbound, as
		// the kernel answers (which wants room for any name).
		name, err := unix.GetsockoptString(e.hostFd, unix.SOL_SOCKET, opt)
		if err != nil {
			return toErrno(err)
		}
		if name != "" {
			if len(val) < unix.IFNAMSIZ {
				return ErrnoInval
			}
			out = append([]byte(name), 0)
		}
	case optRcvtimeo, optSndtimeo:
		d := e.recvTimeout
		if u32(a[2]) == optSndtimeo {
			d = e.sendTimeout
		}
		out = binary.LittleEndian.AppendUint64(nil, uint64(d/time.Second))
		out = binary.LittleEndian.AppendUint64(out, uint64(d%time.Second/time.Microsecond))
	case optLinger:
		l, err := unix.GetsockoptLinger(e.hostFd, unix.SOL_SOCKET, opt)
		if err != nil {
			return toErrno(err)
		}
		if e.linger != (unix.Linger{}) {
			l = &e.linger
		}
		out = binary.LittleEndian.AppendUint32(nil, uint32(l.Onoff))
		out = binary.LittleEndian.AppendUint32(out, uint32(l.Linger))
	default:
		v, err := unix.GetsockoptInt(e.hostFd, unix.SOL_SOCKET, opt)
		if err != nil {
			return toErrno(err)
		}
		switch u32(a[2]) {
		case optError:
			if v != 0 {
				v = int(toErrno(unix.Errno(v)))
			} else if pending := e.takePending(); pending != 0 {
				// The error a partial transfer kept (untilAll):
				// Linux's SO_ERROR reads it, and clears it, there.
				v = int(pending)
			}
		case optType:
			if v == unix.SOCK_DGRAM {
				v = sockDgram
			} else {
				v = sockStream
			}
		}
		out = binary.LittleEndian.AppendUint32(nil, uint32(v))
	}
	if len(val) < len(out) {
		return ErrnoInval
	}
	copy(val, out)
	if lenp != 0 {
		m.putU32(lenp, uint32(len(out)))
	}
	return 0
}

// sockSetsockopt is sock_setsockopt(fd, level, name, *val, val_len). The
// timeouts are kept by runw (the host socket never blocks).
func (h *Host) sockSetsockopt(m memory, a []arg) Errno {
	e, opt, errno := h.sockOpt(a)
	if errno != 0 {
		return errno
	}
	val, ok := m.slice(u32(a[3]), u32(a[4]))
	if !ok {
		return ErrnoFault
	}
	switch u32(a[2]) {
	case optBindToDevice:
		// Linux reads at most IFNAMSIZ-1 bytes of the name: the rest of
		// the guest's buffer, which may be all its memory, is never
		// copied (a 64 MiB value had the init OOM-killed under a 128 MiB
		// limit where the guest should have had ENODEV).
		val = val[:min(len(val), unix.IFNAMSIZ-1)]
		return toErrno(unix.SetsockoptString(e.hostFd, unix.SOL_SOCKET, opt, string(val)))
	case optType, optError, 13:
		return ErrnoNoprotoopt // read-only
	case optRcvtimeo, optSndtimeo:
		if len(val) < 16 {
			return ErrnoInval
		}
		d, ok := timeoutOf(int64(binary.LittleEndian.Uint64(val)), int64(binary.LittleEndian.Uint64(val[8:])))
		if !ok {
			return ErrnoDom
		}
		if u32(a[2]) == optRcvtimeo {
			e.recvTimeout = d
		} else {
			e.sendTimeout = d
		}
		return 0
	case optLinger:
		if len(val) < 8 {
			return ErrnoInval
		}
		on, secs := binary.LittleEndian.Uint32(val) != 0, int32(binary.LittleEndian.Uint32(val[4:]))
		// Reported as Linux reports it: on is 0 or 1, and turning it off
		// keeps the time last set with it on.
		var l unix.Linger
		if on {
			e.linger = unix.Linger{Onoff: 1, Linger: secs}
			// A lingering close(2) blocks in the kernel, deaf to the
			// stop descriptor: a guest could hold a stop for as long
			// as it asked (a negative time is an endless linger there:
			// the kernel reads it unsigned). Only {1, 0}, the abortive
			// close, reaches the kernel; the host socket closes at once
			// and the kernel still sends what is queued.
			if secs == 0 {
				l = e.linger
			}
		} else {
			e.linger.Onoff = 0
		}
		return toErrno(unix.SetsockoptLinger(e.hostFd, unix.SOL_SOCKET, opt, &l))
	}
	if len(val) < 4 {
		return ErrnoInval
	}
	return toErrno(unix.SetsockoptInt(e.hostFd, unix.SOL_SOCKET, opt, int(int32(binary.LittleEndian.Uint32(val)))))
}

// sockName is getsockname (local) or getpeername.
func sockName(fd int, local bool) (netip.AddrPort, Errno) {
	var sa unix.Sockaddr
	var err error
	if local {
		sa, err = unix.Getsockname(fd)
	} else {
		sa, err = unix.Getpeername(fd)
	}
	if err != nil {
		return netip.AddrPort{}, toErrno(err)
	}
	ap, ok := addrPortOf(sa)
	if !ok {
		return netip.AddrPort{}, ErrnoAfnosupport
	}
	return ap, 0
}

// sockAddrBuf is the prologue the address getters share: the socket at
// a[0] and the guest's address buffer named by the record at a[1].
func (h *Host) sockAddrBuf(m memory, a []arg) (*fdEntry, []byte, Errno) {
	e, errno := h.sock(a[0].I32())
	if errno != 0 {
		return nil, nil, errno
	}
	buf, errno := addrBuf(m, u32(a[1]))
	return e, buf, errno
}

// addrV1 is sock_getlocaladdr / sock_getpeeraddr(fd, *addr, *addr_type,
// *port) of the first extension: a 4- or 16-byte buffer, and the type
// written as 4 or 6 (not the family enum, as WasmEdge keeps for the
// programs built against it).
func (h *Host) addrV1(m memory, a []arg, local bool) Errno {
	e, buf, errno := h.sockAddrBuf(m, a)
	if errno != 0 {
		return errno
	}
	if len(buf) != 4 && len(buf) != 16 {
		return ErrnoInval
	}
	if _, ok := m.slice(u32(a[2]), 4); !ok {
		return ErrnoFault
	}
	if _, ok := m.slice(u32(a[3]), 4); !ok {
		return ErrnoFault
	}
	ap, errno := sockName(e.hostFd, local)
	if errno != 0 {
		return errno
	}
	addr, typ := ap.Addr(), uint32(6)
	if addr.Is4() || (addr.Is4In6() && len(buf) == 4) {
		addr, typ = addr.Unmap(), 4
	}
	if errno := putAddr(buf, addr); errno != 0 {
		return errno
	}
	m.putU32(u32(a[2]), typ)
	m.putU32(u32(a[3]), uint32(ap.Port()))
	return 0
}

// addrV2 is the second form, (fd, *addr, *port), with the 128-byte
// storage that carries the family.
func (h *Host) addrV2(m memory, a []arg, local bool) Errno {
	e, buf, errno := h.sockAddrBuf(m, a)
	if errno != 0 {
		return errno
	}
	if len(buf) != addrStorageSize {
		return ErrnoInval
	}
	if _, ok := m.slice(u32(a[2]), 4); !ok {
		return ErrnoFault
	}
	ap, errno := sockName(e.hostFd, local)
	if errno != 0 {
		return errno
	}
	// An IPv4 peer of an IPv6 socket stays IPv4-mapped (INET6,
	// ::ffff:a.b.c.d), as getpeername answers natively and WasmEdge
	// passes on.
	putAddr(buf, ap.Addr())
	m.putU32(u32(a[2]), uint32(ap.Port()))
	return 0
}

func (h *Host) sockGetlocaladdrV1(m memory, a []arg) Errno { return h.addrV1(m, a, true) }
func (h *Host) sockGetpeeraddrV1(m memory, a []arg) Errno  { return h.addrV1(m, a, false) }
func (h *Host) sockGetlocaladdrV2(m memory, a []arg) Errno { return h.addrV2(m, a, true) }
func (h *Host) sockGetpeeraddrV2(m memory, a []arg) Errno  { return h.addrV2(m, a, false) }
