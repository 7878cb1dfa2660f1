package preview1

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/runw/runw/wasi/netdns"
)

// sock_getaddrinfo of WasmEdge's extension. The guest allocates the whole
// result chain itself (max_len addrinfo records linked by ai_next, each
// with a sockaddr, its sa_data and a canonname buffer) and the host fills
// the first records. Every pointer of that chain is the guest's, so each
// is bounds-checked, and the chain is followed at most max_len steps.

// addrinfo flags and the extension's protocol numbers.
const (
	aiPassive     = 1
	aiCanonname   = 2
	aiNumerichost = 4
	aiNumericserv = 8
	aiV4mapped    = 16
	aiAll         = 32
	aiAddrconfig  = 64

	protoIP  = 0
	protoTCP = 1
	protoUDP = 2

	// addrinfoSize and sockaddrSize are the guest structures' sizes.
	addrinfoSize = 28
	sockaddrSize = 12
)

// getaddrinfo errnos of the extension (beyond WASI's).
const (
	ErrnoAiAddrfamily Errno = 77
	ErrnoAiAgain      Errno = 78
	ErrnoAiBadflag    Errno = 79
	ErrnoAiFail       Errno = 80
	ErrnoAiFamily     Errno = 81
	ErrnoAiMemory     Errno = 82
	ErrnoAiNodata     Errno = 83
	ErrnoAiNoname     Errno = 84
	ErrnoAiService    Errno = 85
	ErrnoAiSocktype   Errno = 86
	ErrnoAiSystem     Errno = 87
)

// Resolver answers name lookups for the guest from the container's files
// (its /etc/hosts, /etc/resolv.conf, /etc/services), never the host's:
// files reads a file of the container's view. It returns when ctx ends (a
// stop). netdns.Lookup is the one runw uses; tests give their own answers.
type Resolver func(ctx context.Context, files netdns.Files, q netdns.Query) ([]netdns.Result, error)

// sockGetaddrinfo is sock_getaddrinfo(node, node_len, service,
// service_len, *hints, *res, max_len, *res_len).
func (h *Host) sockGetaddrinfo(m memory, a []arg) Errno {
	node, errno := m.cstr(u32(a[0]), u32(a[1]), maxNode, ErrnoAiNoname)
	if errno != 0 {
		return errno
	}
	service, errno := m.cstr(u32(a[2]), u32(a[3]), maxService, ErrnoAiService)
	if errno != 0 {
		return errno
	}
	hints, ok := m.slice(u32(a[4]), addrinfoSize)
	if !ok {
		return ErrnoFault
	}
	resp, maxLen, lenp := u32(a[5]), u32(a[6]), u32(a[7])
	first, ok := m.slice(resp, 4)
	if !ok {
		return ErrnoFault
	}
	if _, ok := m.slice(lenp, 4); !ok {
		return ErrnoFault
	}
	if node == "" && service == "" {
		return ErrnoAiNoname
	}
	if maxLen < 1 {
		return ErrnoAiMemory
	}
	// A node empty before its NUL is getaddrinfo's NULL node (the
	// loopback, or the wildcard with AI_PASSIVE), whether of length 0 or
	// given as "\x00": stealthrocket/net's getaddrinfo build sends
	// Listen(":8080")'s empty host so, with AI_PASSIVE, and listens on
	// the answer. WasmEdge passes "\x00" to glibc as the name "", which
	// glibc refuses (EAI_NONAME), so that build cannot listen there.
	flags := binary.LittleEndian.Uint16(hints)
	if flags&^(aiPassive|aiCanonname|aiNumerichost|aiNumericserv|aiV4mapped|aiAll|aiAddrconfig) != 0 ||
		(flags&aiCanonname != 0 && node == "") {
		return ErrnoAiBadflag
	}
	q := netdns.Query{
		Node: node, Service: service,
		Passive: flags&aiPassive != 0, NumericHost: flags&aiNumerichost != 0,
		NumericServ: flags&aiNumericserv != 0, CanonName: flags&aiCanonname != 0,
		V4Mapped: flags&aiV4mapped != 0, All: flags&aiAll != 0,
		// Without the socket grant only /etc/hosts and numeric names
		// answer: the resolver must not reach the network either.
		NoDNS: !h.net.Sockets,
		Max:   int(min(maxLen, netdns.MaxResults)),
	}
	if connect := h.net.Connect; connect != nil {
		// The resolver's queries are the guest's traffic too: under a
		// narrowed grant only name servers inside it are asked.
		q.Server = func(ap netip.AddrPort) bool { return allowedPeer(connect, ap) }
	}
	switch hints[2] {
	case afUnspec:
	case afInet4:
		q.Family = netdns.FamilyIPv4
	case afInet6:
		q.Family = netdns.FamilyIPv6
	default:
		return ErrnoAiFamily
	}
	switch hints[3] {
	case sockAny, sockDgram, sockStream:
		q.SockType = int(hints[3])
	default:
		return ErrnoAiSocktype
	}
	switch proto := binary.LittleEndian.Uint32(hints[4:]) & 0xff; proto {
	case protoIP:
	case protoTCP:
		if q.SockType == sockAny {
			q.SockType = sockStream
		}
	case protoUDP:
		if q.SockType == sockAny {
			q.SockType = sockDgram
		}
	default:
		return ErrnoAiSocktype
	}
	results, err := h.resolve(h.ctx, h.view.openResolverFile, q)
	if h.stopped.Load() {
		return errnoStop
	}
	if err != nil {
		// netdns's codes are the extension's EAI errnos.
		var de *netdns.Error
		if errors.As(err, &de) {
			return Errno(de.Code)
		}
		return ErrnoAiFail
	}
	if len(results) == 0 {
		return ErrnoAiNoname
	}
	n := uint32(0)
	p := binary.LittleEndian.Uint32(first)
	for _, r := range results {
		if n == maxLen {
			break
		}
		if errno := putAddrinfo(m, p, r, q.CanonName && n == 0); errno != 0 {
			return errno
		}
		n++
		rec, _ := m.slice(p, addrinfoSize)
		p = binary.LittleEndian.Uint32(rec[24:])
		if p == 0 {
			break
		}
	}
	m.putU32(lenp, n)
	return 0
}

// The longest node and service names getaddrinfo looks up: glibc's
// NI_MAXHOST and NI_MAXSERV, NUL excluded. (A DNS name is at most 253.)
const (
	maxNode    = 1024
	maxService = 31
)

// cstr reads a C string of at most max bytes from guest memory: it ends at
// a NUL (Go's and Rust's guests count the NUL in the length) or at n. It
// is cut before it is copied: a guest naming a string of hundreds of MB
// must not make the host allocate as much again (the init would outgrow
// the container's memory limit). A longer string is tooLong.
func (m memory) cstr(ptr, n uint32, max int, tooLong Errno) (string, Errno) {
	b, ok := m.slice(ptr, n)
	if !ok {
		return "", ErrnoFault
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		return "", tooLong
	}
	return string(b), 0
}

// putAddrinfo fills the guest's addrinfo record at p (and the sockaddr and
// sa_data it points to) with r, as WasmEdge lays them out: sa_data holds
// what follows sa_family in the host's sockaddr_in or sockaddr_in6 (the
// port in network order, then the address; for IPv6 the flow label
// first).
func putAddrinfo(m memory, p uint32, r netdns.Result, canon bool) Errno {
	rec, ok := m.slice(p, addrinfoSize)
	if !ok {
		return ErrnoFault
	}
	sap := binary.LittleEndian.Uint32(rec[12:])
	sa, ok := m.slice(sap, sockaddrSize)
	if !ok {
		return ErrnoFault
	}
	var raw []byte
	family := uint8(afInet4)
	addr := r.IP
	if addr.Is4() {
		b := addr.As4()
		raw = binary.BigEndian.AppendUint16(nil, r.Port)
		raw = append(raw, b[:]...)
		raw = append(raw, make([]byte, 8)...) // sin_zero
	} else {
		family = afInet6
		b := addr.As16()
		raw = binary.BigEndian.AppendUint16(nil, r.Port)
		raw = append(raw, 0, 0, 0, 0) // flow label
		raw = append(raw, b[:]...)
		raw = append(raw, 0, 0, 0, 0) // scope id
	}
	// sa_data holds 26 bytes by the extension's contract (a port and
	// the largest address, an IPv6 one), whatever sa_data_len says on
	// the way in: the Rust wasmedge_wasi_socket, under every tokio,
	// hyper and reqwest fork of the ecosystem, declares 14 for buffers
	// of 26 (socket.rs, WasiSockaddr::default), and WasmEdge checks the
	// declared length and then writes the result's whole length
	// (inode-linux.cpp getAddrinfo). runw wrote only what was declared
	// and so left out every IPv6 answer those guests asked for (EAI_MEMORY
	// for an IPv6-only name). It now writes what the result needs, still
	// only inside the guest's memory: a guest that declared less than it
	// holds can only have its own bytes written.
	size := max(binary.LittleEndian.Uint32(sa[4:]), uint32(len(raw)))
	data, ok := m.slice(binary.LittleEndian.Uint32(sa[8:]), size)
	if !ok {
		return ErrnoFault
	}
	copy(data, raw)
	sa[0], sa[1], sa[2], sa[3] = family, 0, 0, 0
	binary.LittleEndian.PutUint32(sa[4:], uint32(len(raw)))

	proto := uint32(protoTCP)
	if r.SockType == sockDgram {
		proto = protoUDP
	}
	binary.LittleEndian.PutUint16(rec[0:], 0)
	rec[2], rec[3] = family, uint8(r.SockType)
	binary.LittleEndian.PutUint32(rec[4:], proto)
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(raw)+2))
	cn := uint32(0)
	if canon && r.Canon != "" {
		buf, ok := m.slice(binary.LittleEndian.Uint32(rec[16:]), binary.LittleEndian.Uint32(rec[20:]))
		if ok && len(buf) > len(r.Canon) {
			copy(buf, r.Canon)
			buf[len(r.Canon)] = 0
			cn = uint32(len(r.Canon))
		}
	}
	binary.LittleEndian.PutUint32(rec[20:], cn)
	return 0
}
