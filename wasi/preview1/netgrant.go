package preview1

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Network is what the guest may do with sockets.
type Network struct {
	// Sockets says the guest may create sockets (sock_open) and resolve
	// names through DNS. Without it only preopened listeners exist.
	Sockets bool `json:"sockets,omitempty"`
	// Listen narrows the local addresses and ports the guest may bind;
	// nil allows any, an empty list none.
	//
	// Neither Listen nor Connect may be omitempty: the grant reaches the
	// init as JSON (runtime/spawn.go), and an empty list dropped there
	// would decode as nil, turning an annotation that allows nothing
	// into one that allows everything.
	Listen []Rule `json:"listen"`
	// Connect narrows the peers the guest may connect or send to; nil
	// allows any, an empty list none.
	Connect []Rule `json:"connect"`
	// Listeners are bound by the host before the guest runs and handed
	// to it as descriptors after the preopened directories.
	Listeners []Listener `json:"listeners,omitempty"`
}

// Rule allows a set of addresses and a range of ports.
type Rule struct {
	// Prefix is the addresses; the zero Prefix means any address.
	Prefix netip.Prefix `json:"prefix,omitzero"`
	// Lo and Hi bound the ports, both included.
	Lo uint16 `json:"lo"`
	Hi uint16 `json:"hi"`
}

// Listener is one socket the host binds for the guest.
type Listener struct {
	// UDP makes a datagram socket; otherwise it is a TCP listener.
	UDP  bool           `json:"udp,omitempty"`
	Addr netip.AddrPort `json:"addr"`
}

func (l Listener) String() string {
	if l.UDP {
		return "udp://" + l.Addr.String()
	}
	return "tcp://" + l.Addr.String()
}

// AnyPort says the rule allows every port, which Landlock's port rules
// cannot narrow.
func (r Rule) AnyPort() bool { return r.Lo == 0 && r.Hi == 65535 }

// allows says whether ap is inside the rule. An IPv4-mapped IPv6 address
// is matched as the IPv4 address it carries, so a guest cannot step
// around an IPv4 rule by writing ::ffff:a.b.c.d.
func (r Rule) allows(ap netip.AddrPort) bool {
	if ap.Port() < r.Lo || ap.Port() > r.Hi {
		return false
	}
	if !r.Prefix.IsValid() {
		return true
	}
	return r.Prefix.Contains(ap.Addr().Unmap())
}

// allowed says whether rules let ap through; nil rules allow everything.
func allowed(rules []Rule, ap netip.AddrPort) bool {
	if rules == nil {
		return true
	}
	for _, r := range rules {
		if r.allows(ap) {
			return true
		}
	}
	return false
}

// allowedPeer says whether rules let the guest connect or send to ap
// (peerAddr's answer, for a peer that is not the guest's to send to).
func allowedPeer(rules []Rule, ap netip.AddrPort) bool {
	_, ok := peerAddr(rules, ap)
	return ok
}

// mayBind says whether the guest may give a socket the local address ap.
// Without the sockets grant (the host's network namespace and no
// io.github.runw.net annotation) it may give none: a socket its caller
// preserved is the guest's to use with the address it came with (accept
// on it, read, write, answer a datagram's sender), never to take another,
// as sock_open is refused there. Landlock refuses TCP bind and connect
// there too, but knows neither UDP nor the port that listen, connect and
// send_to bind an unbound socket to: a preserved unbound TCP socket
// listened on the host's 0.0.0.0 at a port of the kernel's choosing.
func (h *Host) mayBind(ap netip.AddrPort) bool {
	return h.net.Sockets && allowed(h.net.Listen, ap)
}

// addressed says whether e's socket has a local address (a port): what
// listen, connect and send_to need of a socket without the sockets grant,
// which may not take one (mayBind).
func addressed(e *fdEntry) bool {
	sa, err := unix.Getsockname(e.hostFd)
	if err != nil {
		return false
	}
	ap, ok := addrPortOf(sa)
	return ok && ap.Port() != 0
}

// peer is peerAddr under the guest's grant for a connect or send from e.
// Without the sockets grant only a socket that has an address may reach
// a peer (a UDP server the caller bound answers its clients), as natively
// its descriptor would; with it, the connect grant answers.
func (h *Host) peer(e *fdEntry, ap netip.AddrPort) (netip.AddrPort, bool) {
	if !h.net.Sockets && !addressed(e) {
		return ap, false
	}
	return peerAddr(h.net.Connect, ap)
}

// peerAddr says whether rules let the guest connect or send to ap, and
// gives the address the system call must use. The unspecified address
// (0.0.0.0, ::ffff:0.0.0.0, ::) is the kernel's "this host", and for
// IPv4 the kernel sends to the socket's own source address: the address
// it is bound to, or its SO_BINDTODEVICE device's, and the loopback only
// when it has neither. Checked as the loopback and passed on as it was,
// it let a guest under a grant of 127.0.0.1:P bind to the namespace's
// other address (or bind to its device) and reach every service there
// on port P; in the host's namespace (io.github.runw.net=allow) those
// are the node's own services. So under a narrowed grant the
// unspecified address is checked as the loopback and the kernel is
// given the loopback, the address that was checked. A grant that does
// not narrow (nil rules) passes every address on unchanged, as a native
// program's.
func peerAddr(rules []Rule, ap netip.AddrPort) (netip.AddrPort, bool) {
	if rules == nil {
		return ap, true
	}
	a := ap.Addr()
	if !a.Unmap().IsUnspecified() {
		return ap, allowed(rules, ap)
	}
	lo := netip.IPv6Loopback()
	switch {
	case a.Is4():
		lo = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case a.Is4In6():
		lo = netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1})
	}
	to := netip.AddrPortFrom(lo, ap.Port())
	return to, allowed(rules, to)
}

// ParseRules reads a comma-separated list of address rules:
//
//   - any address, any port
//     8080, 8000-8099         any address, these ports
//     *:443                   the same, written with an address part
//     10.0.0.0/8, fd00::/8    these addresses, any port
//     10.1.2.3:5432           this address and port
//     192.168.0.0/16:80-89    these addresses and ports
//     [::1]:8080, [fd00::/8]:443
//
// An empty list allows nothing (a non-nil, empty slice).
func ParseRules(s string) ([]Rule, error) {
	return parseList(s, []Rule{}, "address rule", parseRule)
}

// parseList parses each non-empty item of a comma-separated list with
// parse, appending to out; what names an item in an error.
func parseList[T any](s string, out []T, what string, parse func(string) (T, error)) ([]T, error) {
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		v, err := parse(item)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", what, item, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseRule(item string) (Rule, error) {
	all := Rule{Lo: 0, Hi: 65535}
	if item == "*" {
		return all, nil
	}
	var addr, ports string
	switch {
	case strings.HasPrefix(item, "["):
		end := strings.Index(item, "]")
		if end < 0 {
			return Rule{}, fmt.Errorf("missing ]")
		}
		addr, ports = item[1:end], strings.TrimPrefix(item[end+1:], ":")
		if item[end+1:] != "" && !strings.HasPrefix(item[end+1:], ":") {
			return Rule{}, fmt.Errorf("expected :PORT after ]")
		}
	case strings.Count(item, ":") > 1:
		// A bare IPv6 prefix: any port. A bare address is refused:
		// "fd00::1:8080" is an address, and a reader meant a port.
		if !strings.Contains(item, "/") {
			return Rule{}, fmt.Errorf("IPv6 address %q: write it [ADDR] or [ADDR]:PORT", item)
		}
		addr = item
	case strings.Contains(item, ":"):
		i := strings.LastIndex(item, ":")
		addr, ports = item[:i], item[i+1:]
	case strings.ContainsAny(item, "./"):
		addr = item
	default:
		ports = item
	}
	r := all
	if addr != "" && addr != "*" {
		p, err := parsePrefix(addr)
		if err != nil {
			return Rule{}, err
		}
		r.Prefix = p
	}
	if ports != "" && ports != "*" {
		lo, hi, err := parsePorts(ports)
		if err != nil {
			return Rule{}, err
		}
		r.Lo, r.Hi = lo, hi
	}
	return r, nil
}

// notAddress is parsePrefix's error: netip's own names the Go function
// and repeats the input, which the caller's message already gives.
func notAddress(err error) error {
	why := err.Error()
	if i := strings.LastIndex(why, "): "); i >= 0 {
		why = why[i+3:]
	}
	return fmt.Errorf("not an IP address or CIDR prefix: %s", why)
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, notAddress(err)
		}
		// Peers are checked unmapped (allows): an IPv4-mapped prefix
		// ("::ffff:10.0.0.0/104") is its IPv4 prefix, or it would match
		// nothing.
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, notAddress(err)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func parsePorts(s string) (uint16, uint16, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("bad port %q", lo)
	}
	h := l
	if isRange {
		if h, err = strconv.ParseUint(hi, 10, 16); err != nil {
			return 0, 0, fmt.Errorf("bad port %q", hi)
		}
	}
	if h < l {
		return 0, 0, fmt.Errorf("port range %d-%d is empty", l, h)
	}
	return uint16(l), uint16(h), nil
}

// ParseListeners reads a comma-separated list of listener addresses:
// [tcp://|udp://]HOST:PORT, :PORT or PORT (all IPv4 addresses), or
// [::]:PORT.
func ParseListeners(s string) ([]Listener, error) {
	return parseList(s, nil, "listener", parseListener)
}

func parseListener(item string) (Listener, error) {
	var l Listener
	rest := item
	if scheme, after, ok := strings.Cut(item, "://"); ok {
		switch scheme {
		case "tcp":
		case "udp":
			l.UDP = true
		default:
			return l, fmt.Errorf("unknown scheme %q (tcp or udp)", scheme)
		}
		rest = after
	}
	if !strings.Contains(rest, ":") {
		rest = ":" + rest
	}
	if strings.HasPrefix(rest, ":") {
		rest = "0.0.0.0" + rest
	}
	if host, port, ok := strings.Cut(rest, ":"); ok && strings.EqualFold(host, "localhost") {
		// Go's net.Listen("tcp", "localhost:8080") listens on the
		// first address localhost resolves to; no other name is
		// resolved here (the container's /etc/hosts is the guest's).
		rest = "127.0.0.1:" + port
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil {
		return l, err
	}
	if ap.Addr().Zone() != "" {
		return l, fmt.Errorf("zones are not supported")
	}
	l.Addr = ap
	return l, nil
}
