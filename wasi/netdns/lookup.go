package netdns

import (
	"context"
	"io"
	"net/netip"
	"strings"
	"time"
)

// Files opens one file of the container's view by its absolute guest path
// ("/etc/hosts"): the rootfs's, or a file mounted over it. A file it can't
// open counts as absent. netdns reads no more than MaxFileSize bytes of
// it, line by line, and closes it.
type Files func(path string) (io.ReadCloser, error)

// Query.Family values. They are not WasmEdge's address_family numbers
// (INET4 1, INET6 2); the caller maps them.
const (
	FamilyAny  = 0
	FamilyIPv4 = 4
	FamilyIPv6 = 6
)

// Query.SockType and Result.SockType values: WasmEdge's sock_type numbers.
const (
	SockAny    = 0
	SockDgram  = 1 // UDP
	SockStream = 2 // TCP
)

// MaxResults is the most results one Lookup returns, whatever Query.Max says.
const MaxResults = 64

// maxAddrs caps the addresses kept from a hosts file or a DNS answer, so a
// hostile file or reply can't make a lookup allocate without end.
const maxAddrs = MaxResults

// maxLookupTime bounds a whole Lookup even under a context without a
// deadline: a guest blocked in getaddrinfo can't hold its host thread
// longer. It is glibc's worst case for one name with default options
// (3 servers × 2 attempts × 5 s).
const maxLookupTime = 30 * time.Second

// Query is one getaddrinfo call: node, service and the hints.
type Query struct {
	// Node is a host name or a numeric IPv4/IPv6 address (without a zone).
	// Empty means the loopback address, or the wildcard with Passive.
	Node string
	// Service is a port number or a service name; empty means port 0.
	// Node and Service may not both be empty.
	Service string
	// Family is FamilyAny, FamilyIPv4 or FamilyIPv6.
	Family int
	// SockType is SockAny, SockDgram or SockStream. SockAny yields one
	// result per socket type the service has (getaddrinfo's behaviour).
	SockType int
	// Passive (AI_PASSIVE): an empty Node means the wildcard address, for
	// bind, rather than loopback.
	Passive bool
	// NumericHost (AI_NUMERICHOST): Node must be a numeric address.
	NumericHost bool
	// NumericServ (AI_NUMERICSERV): Service must be a port number.
	NumericServ bool
	// CanonName (AI_CANONNAME): fill the first Result's Canon.
	CanonName bool
	// V4Mapped (AI_V4MAPPED), with FamilyIPv6: when the node has no IPv6
	// address, its IPv4 addresses as IPv4-mapped IPv6 ones; with All
	// (AI_ALL), its IPv6 addresses and then the mapped IPv4 ones. Both are
	// ignored for other families, as glibc ignores them.
	V4Mapped, All bool
	// NoDNS stops after the hosts file: a guest without the socket grant
	// must not reach the network through the resolver either.
	NoDNS bool
	// Server, when set, says whether a name server (its address, port 53)
	// may be asked; the others from resolv.conf are skipped, and with none
	// left the lookup fails with CodeFail. The caller applies the
	// guest's connect grant here: the container's resolv.conf is writable
	// by the guest, so without it a guest could send queries, a channel
	// of its own choosing, to any address on port 53.
	Server func(netip.AddrPort) bool
	// Max is the most results wanted (sock_getaddrinfo's max_len); 0 or
	// more than MaxResults means MaxResults.
	Max int
}

// Result is one addrinfo: where to bind or connect, and how.
type Result struct {
	IP       netip.Addr
	Port     uint16
	SockType int
	// Canon is the canonical name (the last CNAME target, or the first name
	// of the hosts line), set on the first result only and only when
	// Query.CanonName asked for it, as getaddrinfo sets ai_canonname.
	Canon string
}

// Lookup resolves q as getaddrinfo would inside the container: a numeric
// node as it is; then the container's /etc/hosts; then "localhost" (and
// names under it, RFC 6761) as loopback; then DNS through the container's
// /etc/resolv.conf. The files are read on every call, so edits inside the
// container take effect at once, as with glibc.
//
// Addresses come in the order the source gave them, IPv4 before IPv6 from
// DNS, and are not sorted by RFC 6724: containers often have no IPv6 route,
// and guests try addresses in order. Each address is repeated once per
// socket type (stream before dgram).
//
// Every error is an *Error whose Code maps to an EAI_* code. Lookup returns
// when ctx ends (CodeAgain), and after maxLookupTime at the latest.
func Lookup(ctx context.Context, files Files, q Query) ([]Result, error) {
	return resolver{files: files, port: 53}.lookup(ctx, q)
}

// resolver is one Lookup's reach: the container's files, and the port its
// nameservers listen on. That is always 53 (resolv.conf can't name another);
// only tests set a different one, to reach a server of their own.
type resolver struct {
	files Files
	port  uint16
}

func (r resolver) lookup(ctx context.Context, q Query) ([]Result, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	endpoints, err := r.service(q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, maxLookupTime)
	defer cancel()
	addrs, canon, err := r.host(ctx, q)
	if err != nil {
		return nil, err
	}
	return results(q, addrs, endpoints, canon), nil
}

// check refuses hints getaddrinfo refuses before any lookup.
func (q Query) check() error {
	switch {
	case q.Family != FamilyAny && q.Family != FamilyIPv4 && q.Family != FamilyIPv6:
		return fail(CodeFamily, q.Node)
	case q.SockType != SockAny && q.SockType != SockDgram && q.SockType != SockStream:
		return fail(CodeSockType, q.Node)
	case q.Node == "" && q.Service == "":
		return fail(CodeNoName, "")
	}
	return nil
}

// host resolves q.Node to addresses of q.Family and a canonical name.
func (r resolver) host(ctx context.Context, q Query) ([]netip.Addr, string, error) {
	if q.Family == FamilyIPv6 && q.V4Mapped {
		both := q
		both.Family, both.V4Mapped = FamilyAny, false
		addrs, canon, err := r.host(ctx, both)
		if err != nil {
			return nil, "", err
		}
		return v4Mapped(addrs, q.All), canon, nil
	}
	if q.Node == "" {
		return emptyNode(q), "", nil
	}
	if ip, err := netip.ParseAddr(q.Node); err == nil {
		return numericHost(q, ip)
	}
	if ip, ok := parseInetAton(q.Node); ok {
		return numericHost(q, ip)
	}
	if q.NumericHost || q.Family == FamilyIPv4 && !q.CanonName && digitsAndDots(q.Node) {
		// glibc's __nss_hostname_digits_dots: a name of digits and dots
		// that is no address (256.1.1.1, 1.2.3.4.5) is none, and is not
		// asked of DNS. glibc applies it on its IPv4-only path
		// (gethostbyname2_r, taken for AF_INET without AI_CANONNAME);
		// for other hints such a name is looked up as any other.
		return nil, "", fail(CodeNoName, q.Node)
	}
	// The hosts file takes any name (glibc's files lookup compares it as
	// it is); only a name sent to DNS must be one a packet can carry.
	if addrs, canon := r.lookupHosts(q.Node, q.Family); len(addrs) > 0 {
		return addrs, canon, nil
	}
	if !validName(q.Node) {
		return nil, "", fail(CodeNoName, q.Node)
	}
	if isLocalhost(q.Node) {
		return loopback(q.Family), "localhost", nil
	}
	if q.NoDNS {
		return nil, "", fail(CodeNoName, q.Node)
	}
	return r.dns(ctx, q.Node, q.Family, q.Server)
}

// emptyNode is getaddrinfo's answer for a NULL node: loopback to connect
// to, or with Passive the wildcard to bind.
func emptyNode(q Query) []netip.Addr {
	if !q.Passive {
		return loopback(q.Family)
	}
	return byFamily(q.Family, netip.IPv4Unspecified(), netip.IPv6Unspecified())
}

func loopback(family int) []netip.Addr {
	return byFamily(family, netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback())
}

// byFamily picks v4, v6 or both (IPv4 first, see Lookup).
func byFamily(family int, v4, v6 netip.Addr) []netip.Addr {
	switch family {
	case FamilyIPv4:
		return []netip.Addr{v4}
	case FamilyIPv6:
		return []netip.Addr{v6}
	}
	return []netip.Addr{v4, v6}
}

// v4Mapped is AI_V4MAPPED's answer from addrs of both families: the IPv6
// ones, and the IPv4 ones mapped into IPv6 when there is no IPv6 one or
// all is set (glibc's order: IPv6 first).
func v4Mapped(addrs []netip.Addr, all bool) []netip.Addr {
	var v6, v4 []netip.Addr
	for _, a := range addrs {
		if a.Is4() {
			v4 = append(v4, netip.AddrFrom16(a.As16()))
		} else {
			v6 = append(v6, a)
		}
	}
	if len(v6) == 0 || all {
		v6 = append(v6, v4...)
	}
	return v6
}

// numericHost takes a numeric node as it is. A zone is refused: the WASI
// address has no scope id, and dropping it would reach another interface.
// An IPv4-mapped IPv6 address asked for as IPv4 is its IPv4 address, as
// glibc answers.
func numericHost(q Query, ip netip.Addr) ([]netip.Addr, string, error) {
	if ip.Zone() != "" {
		return nil, "", fail(CodeNoName, q.Node)
	}
	if q.Family == FamilyIPv4 && ip.Is4In6() {
		ip = ip.Unmap()
	}
	if !familyHas(q.Family, ip) {
		return nil, "", fail(CodeAddrFamily, q.Node)
	}
	return []netip.Addr{ip}, q.Node, nil
}

// parseInetAton parses the IPv4 forms glibc's getaddrinfo takes beyond
// dotted decimal (inet_aton, whole string): one to four parts, each
// decimal, octal after a leading 0, or hexadecimal after 0x; the last part
// fills the bytes left (127.1 is 127.0.0.1, 2130706433 too). Taken for a
// host name, such a node went to DNS, and a server's answer for the name
// "0x7f.1" sent the guest elsewhere than the address it was given.
func parseInetAton(s string) (netip.Addr, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return netip.Addr{}, false // a name: not split for nothing
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, part := range parts {
		v, ok := atonPart(part)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if v > 0xff {
				return netip.Addr{}, false
			}
			b[i] = byte(v)
			continue
		}
		// The last part fills bytes i..3: at most 32-8i bits.
		if bits := 32 - 8*i; bits < 32 && v >= 1<<bits {
			return netip.Addr{}, false
		}
		for j := 3; j >= i; j-- {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return netip.AddrFrom4(b), true
}

// atonPart is one part of an inet_aton address, as C's strtoul with base 0
// reads it (without the sign and spaces, which inet_aton refuses): at most
// 0xffffffff.
func atonPart(p string) (uint64, bool) {
	base := uint64(10)
	switch {
	case p == "" || p[0] < '0' || p[0] > '9':
		return 0, false
	case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	var v uint64
	for _, c := range []byte(p) {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		if v = v*base + d; v > 0xffffffff {
			return 0, false
		}
	}
	return v, true
}

// digitsAndDots reports whether s starts with a digit and has nothing but
// digits and dots, without a trailing dot (glibc's test for a numeric
// node: "1.2.3.4." is a name).
func digitsAndDots(s string) bool {
	if s == "" || s[0] < '0' || s[0] > '9' || strings.HasSuffix(s, ".") {
		return false
	}
	return strings.Trim(s, "0123456789.") == ""
}

// isLocalhost: RFC 6761 reserves localhost and every name under it for
// loopback, and says resolvers should not send them to DNS.
func isLocalhost(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	return name == "localhost" || strings.HasSuffix(name, ".localhost")
}

// results pairs every address with every endpoint, address-major as
// getaddrinfo does, up to q.Max.
func results(q Query, addrs []netip.Addr, endpoints []endpoint, canon string) []Result {
	limit := q.Max
	if limit <= 0 || limit > MaxResults {
		limit = MaxResults
	}
	var out []Result
	for _, ip := range addrs {
		for _, e := range endpoints {
			if len(out) == limit {
				break
			}
			out = append(out, Result{IP: ip, Port: e.port, SockType: e.sockType})
		}
	}
	if q.CanonName && len(out) > 0 {
		out[0].Canon = canon
	}
	return out
}
