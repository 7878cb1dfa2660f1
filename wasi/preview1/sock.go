package preview1

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Sockets. Every host socket is non-blocking; the guest's NONBLOCK flag is
// emulated (NETWORKING.md a5): a guest that did not ask for it waits in
// poll(2) beside the stop descriptor, so a stop signal ends a server
// blocked in accept or read at once.

// rightsSocket is what a socket descriptor reports in fd_fdstat_get.
const rightsSocket = rightFdRead | rightFdWrite | rightFdFdstatSetFlags | rightFdFilestatGet |
	rightPollFdReadwrite | rightSockShutdown | rightSockAccept

// sockEntry describes host socket fd (non-blocking, close-on-exec) of the
// given family and type as a guest descriptor with guest flags flags.
func sockEntry(fd, family, typ int, flags uint16) *fdEntry {
	ft := uint8(filetypeSocketStream)
	if typ == unix.SOCK_DGRAM {
		ft = filetypeSocketDgram
	}
	return &fdEntry{
		kind: kindSocket, hostFd: fd, filetype: ft, flags: flags & fdflagNonblock,
		rightsBase: rightsSocket, rightsInheriting: rightsSocket,
		read: true, write: true, pollable: true, hostNonblock: true, ownsHost: true,
		family: family,
	}
}

// noDelay turns Nagle's algorithm off on a guest's TCP socket. A native
// program may turn it off, and most servers do (Go's net package for
// every TCP connection, nginx, Node's HTTP server); a guest cannot:
// preview1 has no socket options, WasmEdge's have no TCP level, and Go's
// wasip1 port has no call for it. With Nagle on, a response written in
// two pieces (a flushed or chunked body, a proxied request with its
// body, hyper's headers and body on WasmEdge's tokio fork, which cannot
// write them at once) waited for the peer's delayed ACK: about 40 ms a
// request on a kept-alive connection (a hyper server on the fork served
// 444 kept-alive requests a second against 7,552 on new connections).
// Set on runw's listeners and the new socket only: Linux copies it to
// each connection accept gives. A preserved listener is the caller's
// too and is left as it is; each connection it gives is set instead.
func noDelay(fd, typ int) {
	if typ == unix.SOCK_STREAM {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
}

// sock returns fd's entry if it is a socket.
func (h *Host) sock(fd int32) (*fdEntry, Errno) {
	e, errno := h.fds.get(fd)
	if errno != 0 {
		return nil, errno
	}
	if e.kind != kindSocket {
		return nil, ErrnoNotsock
	}
	return e, 0
}

// ListenError is New's error for a preopened listener it may not or could
// not bind (outside the listen grant, the address in use, ...), as opposed
// to one about the container's files.
type ListenError struct{ Err error }

func (e *ListenError) Error() string { return e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }

// bindListener makes one preopened listener: bound (and listening, for
// TCP) before the guest runs, so that the init can still bind a port below
// 1024 before it drops its capabilities.
func bindListener(l Listener) (fd, family, typ int, err error) {
	family, typ = unix.AF_INET, unix.SOCK_STREAM
	if l.Addr.Addr().Is6() {
		family = unix.AF_INET6
	}
	if l.UDP {
		typ = unix.SOCK_DGRAM
	}
	fd, err = unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, 0, fmt.Errorf("listen %s: %w", l, err)
	}
	// A restarted container must not wait for TIME_WAIT to end. TCP
	// only: on a UDP socket (no TIME_WAIT) the option would let any
	// socket of the namespace that sets it too, another container of
	// the pod, bind the same port and take the listener's datagrams.
	if !l.UDP {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if err = unix.Bind(fd, sockaddrOf(l.Addr, family)); err == nil && !l.UDP {
		err = unix.Listen(fd, maxBacklog)
	}
	if err != nil {
		unix.Close(fd)
		return -1, 0, 0, fmt.Errorf("listen %s: %w", l, err)
	}
	return fd, family, typ, nil
}

// maxBacklog is the backlog of preopened listeners: the most the kernel
// allows, since listen(2) caps it at the network namespace's
// net.core.somaxconn (4096 by default), which Go's net.Listen uses too. A
// fixed 1024 dropped the SYNs of connections past it while a single-
// threaded guest was busy, compiling or paused, where a native Go server
// queued 4096 (they waited for the client's retransmission, a second).
const maxBacklog = 1<<16 - 1

// sockaddrOf is ap as a socket address of family: an IPv4 address given to
// an IPv6 socket becomes IPv4-mapped, as the kernel expects.
func sockaddrOf(ap netip.AddrPort, family int) unix.Sockaddr {
	a := ap.Addr()
	if family == unix.AF_INET6 {
		return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if !a.Is4() {
		// An IPv6 address on an IPv4 socket: the kernel's answer.
		return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	}
	return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
}

// addrPortOf is the inverse of sockaddrOf; ok is false for other families.
func addrPortOf(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// waitSock waits until e is ready for events, or its timeout (SO_RCVTIMEO
// or SO_SNDTIMEO, emulated) passes: then EAGAIN, as the kernel answers.
// The timeout is the whole call's, counted from its first wait, as
// Linux counts one down across a call's waits (sk_wait_data,
// sk_stream_wait_memory): each wait of a call (beginSockCall) gets what
// is left. Restarted at every wait, a WAITALL recv from a peer sending a
// byte every 100 ms under a 300 ms SO_RCVTIMEO returned only when the
// peer closed, 3 s later; a peer that kept trickling held it for ever.
func (h *Host) waitSock(e *fdEntry, events int16) Errno {
	timeout := e.recvTimeout
	if events == unix.POLLOUT {
		timeout = e.sendTimeout
	}
	if timeout > 0 && timeout != immediateTimeout {
		if h.callDeadline.IsZero() {
			h.callDeadline = time.Now().Add(timeout)
		}
		if timeout = time.Until(h.callDeadline); timeout <= immediateTimeout {
			return ErrnoAgain
		}
	}
	return h.waitFor(e.hostFd, events, timeout)
}

// beginSockCall starts a call that may wait in waitSock with a fresh
// timeout.
func (h *Host) beginSockCall() { h.callDeadline = time.Time{} }

// retry runs op, a non-blocking socket call, until it succeeds or fails
// for another reason than EAGAIN; a guest that set NONBLOCK gets EAGAIN
// at once instead of a wait.
func (h *Host) retry(e *fdEntry, events int16, op func() error) Errno {
	for {
		err := op()
		switch err {
		case nil:
			return 0
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if e.flags&fdflagNonblock != 0 {
				return ErrnoAgain
			}
			if errno := h.waitSock(e, events); errno != 0 {
				return errno
			}
			continue
		}
		return toErrno(err)
	}
}

// accept is sock_accept: the new descriptor gets flags (only NONBLOCK
// means something) and the lowest free number.
func (h *Host) accept(m memory, fd int32, flags uint16, out uint32) Errno {
	e, errno := h.sock(fd)
	if errno != 0 {
		return errno
	}
	h.beginSockCall()
	if _, ok := m.slice(out, 4); !ok {
		return ErrnoFault
	}
	var nfd int
	errno = h.retry(e, unix.POLLIN, func() error {
		r, _, en := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(e.hostFd), 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		if en != 0 {
			return en
		}
		nfd = int(r)
		return nil
	})
	if errno != 0 {
		return errno
	}
	typ := unix.SOCK_STREAM
	if e.filetype == filetypeSocketDgram {
		typ = unix.SOCK_DGRAM
	}
	if e.noDelayAccepted {
		noDelay(nfd, typ)
	}
	ne := sockEntry(nfd, e.family, typ, flags)
	// Linux's accepted socket inherits the listener's SO_RCVTIMEO,
	// SO_SNDTIMEO and SO_LINGER; runw keeps them in the entry (the host
	// socket is non-blocking), so it copies them as the kernel would.
	ne.recvTimeout, ne.sendTimeout, ne.linger = e.recvTimeout, e.sendTimeout, e.linger
	id, errno := h.fds.add(ne)
	if errno != 0 {
		unix.Close(nfd)
		return errno
	}
	m.putU32(out, uint32(id))
	return 0
}

func (h *Host) sockAccept(m memory, a []arg) Errno {
	return h.accept(m, a[0].I32(), uint16(u32(a[1])), u32(a[2]))
}

// sockAcceptV1 is WasmEdge's first sock_accept, without flags.
func (h *Host) sockAcceptV1(m memory, a []arg) Errno {
	return h.accept(m, a[0].I32(), 0, u32(a[1]))
}

// riflags and roflags of sock_recv.
const (
	riflagPeek         = 1
	riflagWaitall      = 2
	roflagTruncated    = 1
	sdflagRd, sdflagWr = 1, 2
)

// recv reads into the buffers of the iovecs at iovs, with riflags,
// filling from (when not nil) with the sender's address. WAITALL on a
// blocking descriptor reads until the buffers are full or the peer ends.
func (h *Host) recv(m memory, e *fdEntry, iovs, n uint32, riflags uint32, from *netip.AddrPort) (int, uint16, Errno) {
	if riflags&^(riflagPeek|riflagWaitall) != 0 {
		return 0, 0, ErrnoInval
	}
	if errno := h.buffers(m, e, iovs, n, false, riflags&riflagWaitall != 0, ErrnoMsgsize); errno != 0 {
		return 0, 0, errno
	}
	h.beginSockCall()
	if riflags&riflagPeek == 0 {
		if errno := e.takePending(); errno != 0 {
			return 0, 0, errno
		}
	}
	flags := 0
	if riflags&riflagPeek != 0 {
		flags |= unix.MSG_PEEK
	}
	if riflags == riflagPeek|riflagWaitall && e.filetype == filetypeSocketStream && e.flags&fdflagNonblock == 0 {
		got, errno := h.peekAll(e)
		return got, 0, errno
	}
	waitall := riflags&riflagWaitall != 0 && riflags&riflagPeek == 0 && e.filetype == filetypeSocketStream
	roflags := uint16(0)
	total, errno := untilAll(h.iov, waitall, e.pendingFor(), func(bufs [][]byte) (int, Errno) {
		var got, rflags int
		var sa unix.Sockaddr
		errno := h.retry(e, unix.POLLIN, func() (err error) {
			got, _, rflags, sa, err = unix.RecvmsgBuffers(e.hostFd, bufs, nil, flags)
			return err
		})
		if errno != 0 {
			return 0, errno
		}
		if rflags&unix.MSG_TRUNC != 0 {
			roflags |= roflagTruncated
		}
		if from != nil && sa != nil {
			*from, _ = addrPortOf(sa)
		}
		return got, 0
	})
	if errno == ErrnoAgain && e.flags&fdflagNonblock == 0 && len(h.iov) == 0 {
		// Nothing to fill (h.buffers keeps no empty buffer), and
		// SO_RCVTIMEO passed: Linux's recv then answers 0, not EAGAIN.
		return 0, roflags, 0
	}
	if errno != 0 {
		return 0, 0, errno
	}
	return total, roflags, 0
}

// peekAll is a blocking recv with PEEK and WAITALL on a stream: Linux
// waits until the whole of h.iov could be filled, or the peer ends, or
// SO_RCVTIMEO passes, and answers what is there without taking it. The
// host socket is non-blocking, so runw waits in poll with SO_RCVLOWAT
// raised to the length wanted (TCP's poll reports readable only from
// there, or at the peer's end), and puts the guest's own SO_RCVLOWAT
// back after.
func (h *Host) peekAll(e *fdEntry) (int, Errno) {
	want := 0
	for _, b := range h.iov {
		want += len(b)
	}
	if old, err := unix.GetsockoptInt(e.hostFd, unix.SOL_SOCKET, unix.SO_RCVLOWAT); err == nil && old < want {
		if unix.SetsockoptInt(e.hostFd, unix.SOL_SOCKET, unix.SO_RCVLOWAT, want) == nil {
			defer unix.SetsockoptInt(e.hostFd, unix.SOL_SOCKET, unix.SO_RCVLOWAT, old)
		}
	}
	got := 0
	for {
		var n int
		errno := h.retry(e, unix.POLLIN, func() (err error) {
			n, _, _, _, err = unix.RecvmsgBuffers(e.hostFd, h.iov, nil, unix.MSG_PEEK)
			return err
		})
		if errno == 0 && n < want && n > got {
			// Part of it: wait for the rest (the low mark), then peek
			// again.
			got = n
			errno = h.waitSock(e, unix.POLLIN)
			if errno == 0 {
				continue
			}
		}
		switch {
		case errno == ErrnoAgain && got > 0:
			return got, 0 // SO_RCVTIMEO: what is there, as Linux answers
		case errno != 0:
			return 0, errno
		}
		// All of it, or the peer's end (0, or poll woke with no more to
		// read: the low mark is not what woke it).
		return n, 0
	}
}

// send writes the buffers of the iovecs at iovs, to the address to when
// it is valid. MSG_NOSIGNAL: a peer that closed gives EPIPE, never a
// SIGPIPE death of the init.
func (h *Host) send(m memory, e *fdEntry, iovs, n uint32, to netip.AddrPort) (int, Errno) {
	if errno := h.buffers(m, e, iovs, n, true, false, ErrnoMsgsize); errno != 0 {
		return 0, errno
	}
	if errno := e.takePending(); errno != 0 {
		return 0, errno
	}
	h.beginSockCall()
	var sa unix.Sockaddr
	if to.IsValid() {
		to, ok := h.peer(e, to)
		if !ok {
			return 0, ErrnoAcces
		}
		sa = sockaddrOf(to, e.family)
	}
	// A blocking send on a stream socket returns when all of it is
	// queued, as Linux's does; the host socket is non-blocking and takes
	// only what fits, so runw sends the rest itself. A C guest that sends
	// once and does not loop lost the rest (8 MB to a slow reader: 78 KB
	// to 3.9 MB sent). An error or SO_SNDTIMEO after some data went out
	// answers the count sent, as Linux does; the error comes next time.
	whole := e.flags&fdflagNonblock == 0 && e.filetype == filetypeSocketStream
	return untilAll(h.iov, whole, e.pendingFor(), func(bufs [][]byte) (sent int, errno Errno) {
		errno = h.retry(e, unix.POLLOUT, func() (err error) {
			sent, err = unix.SendmsgBuffers(e.hostFd, bufs, nil, sa, unix.MSG_NOSIGNAL)
			return err
		})
		return sent, errno
	})
}

// advance drops the first n bytes of bufs.
func advance(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 && n > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}

func (h *Host) sockRecv(m memory, a []arg) Errno {
	e, errno := h.sock(a[0].I32())
	if errno != 0 {
		return errno
	}
	if _, ok := m.slice(u32(a[4]), 4); !ok {
		return ErrnoFault
	}
	if _, ok := m.slice(u32(a[5]), 2); !ok {
		return ErrnoFault
	}
	n, roflags, errno := h.recv(m, e, u32(a[1]), u32(a[2]), u32(a[3]), nil)
	if errno != 0 {
		return errno
	}
	m.putU32(u32(a[4]), uint32(n))
	m.putU16(u32(a[5]), roflags)
	return 0
}

func (h *Host) sockSend(m memory, a []arg) Errno {
	e, errno := h.sock(a[0].I32())
	if errno != 0 {
		return errno
	}
	if _, ok := m.slice(u32(a[4]), 4); !ok {
		return ErrnoFault
	}
	n, errno := h.send(m, e, u32(a[1]), u32(a[2]), netip.AddrPort{})
	if errno != 0 {
		return errno
	}
	m.putU32(u32(a[4]), uint32(n))
	return 0
}

func (h *Host) sockShutdown(m memory, a []arg) Errno {
	e, errno := h.sock(a[0].I32())
	if errno != 0 {
		return errno
	}
	var how int
	switch u32(a[1]) {
	case sdflagRd:
		how = unix.SHUT_RD
	case sdflagWr:
		how = unix.SHUT_WR
	case sdflagRd | sdflagWr:
		how = unix.SHUT_RDWR
	default:
		return ErrnoInval
	}
	return toErrno(unix.Shutdown(e.hostFd, how))
}

// immediateTimeout is the timeout Linux gives a negative SO_RCVTIMEO or
// SO_SNDTIMEO: a wait of nothing.
const immediateTimeout = time.Nanosecond

// timeoutOf turns a socket timeout option value (struct timeval, 16 bytes
// on wasm32 as on the host) into a duration, 0 meaning none, as Linux's
// sock_set_timeout reads it: microseconds outside [0, 10^6) are EDOM (ok
// false); a negative time is a timeout of nothing, a blocking call gives
// EAGAIN at once (immediateTimeout, read back as {0, 0} as Linux does);
// one too long to represent (Rust's Duration::MAX, where a product would
// wrap to a short timeout) is none.
func timeoutOf(sec, usec int64) (d time.Duration, ok bool) {
	if usec < 0 || usec >= 1e6 {
		return 0, false
	}
	if sec < 0 {
		return immediateTimeout, true
	}
	if sec >= math.MaxInt64/int64(time.Second)-1 {
		return 0, true
	}
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, true
}
