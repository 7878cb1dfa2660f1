package netdns

import (
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Limits glibc puts on resolv.conf (resolv/resolv.h): MAXNS, RES_MAXNDOTS,
// RES_MAXRETRANS, RES_MAXRETRY. Values beyond them are clamped rather than
// refused, as glibc does. glibc has had no limit on search domains since
// 2.26 (its MAXDNSRCH of 6 is gone), nor has Go; maxSearch is Kubernetes'
// own limit on a pod's, which still bounds the queries one lookup makes.
const (
	maxServers  = 3
	maxSearch   = 32
	maxNdots    = 15
	maxTimeout  = 30 * time.Second
	maxAttempts = 5
)

// resolvConf is what a lookup takes from /etc/resolv.conf.
type resolvConf struct {
	servers  []netip.Addr
	search   []string // domains without a trailing dot
	ndots    int
	timeout  time.Duration // per query sent
	attempts int           // rounds over all servers
	tcp      bool          // options use-vc: every query over TCP
	noAAAA   bool          // options no-aaaa: no AAAA question is sent
}

// parseResolvConf reads resolv.conf as glibc does. With no nameserver line
// (or no file) the server is 127.0.0.1, glibc's and musl's default: a
// container without one is asking its own loopback, never the host's
// resolver. glibc would take a default search domain from the hostname;
// netdns does not (the WASI host has no hostname to hand, and a container's
// rarely has a domain). use-vc (Go's spellings usevc and tcp too) sends
// every query over TCP; no-aaaa (glibc 2.36) sends no AAAA question, an
// IPv6 lookup then finding no data; rotate, edns0 and other options are
// ignored.
func parseResolvConf(r io.Reader) resolvConf {
	c := resolvConf{ndots: 1, timeout: 5 * time.Second, attempts: 2}
	for fields := range records(r, "#;") {
		switch key, args := fields[0], fields[1:]; {
		case key == "nameserver" && len(args) > 0:
			if ip, err := netip.ParseAddr(args[0]); err == nil && len(c.servers) < maxServers {
				c.servers = append(c.servers, ip)
			}
		case key == "domain" && len(args) > 0:
			c.search = searchList(args[:1])
		case key == "search":
			c.search = searchList(args)
		case key == "options":
			c.options(args)
		}
	}
	if len(c.servers) == 0 {
		c.servers = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	}
	return c
}

// searchList keeps the valid domains, at most maxSearch, without a trailing
// dot; "." (the root) adds nothing to a name and is dropped.
func searchList(domains []string) []string {
	var out []string
	for _, d := range domains {
		d = strings.TrimSuffix(d, ".")
		if validName(d) && len(out) < maxSearch {
			out = append(out, d)
		}
	}
	return out
}

func (c *resolvConf) options(opts []string) {
	for _, o := range opts {
		switch o {
		case "use-vc", "usevc", "tcp":
			c.tcp = true
			continue
		case "no-aaaa":
			c.noAAAA = true
			continue
		}
		key, val, _ := strings.Cut(o, ":")
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			continue
		}
		switch key {
		case "ndots":
			c.ndots = min(n, maxNdots)
		case "timeout":
			c.timeout = min(max(time.Duration(n)*time.Second, time.Second), maxTimeout)
		case "attempts":
			c.attempts = min(max(n, 1), maxAttempts)
		}
	}
}

// names lists the fully qualified names to ask for node, in order, by the
// ndots rule (resolv.conf(5)): a name with at least ndots dots is tried as
// it is before the search domains, one with fewer after them; a name with a
// trailing dot is already absolute and is tried alone.
func (c resolvConf) names(node string) (names []string, asIsFirst bool) {
	if strings.HasSuffix(node, ".") {
		return []string{node}, true
	}
	enough := strings.Count(node, ".") >= c.ndots
	if enough {
		names = append(names, node+".")
	}
	for _, d := range c.search {
		if n := node + "." + d; len(n) <= maxNameLen {
			names = append(names, n+".")
		}
	}
	if !enough {
		names = append(names, node+".")
	}
	return names, enough
}

// maxNameLen is the longest name in presentation form without its trailing
// dot (RFC 1035's 255 octets on the wire).
const maxNameLen = 253

// validName reports whether s (with or without a trailing dot) is a host name
// netdns will send: labels of 1 to 63 letters, digits, '-' or '_', at most
// maxNameLen in all. Anything else (spaces, NULs, escapes a guest could put
// in node) is refused before it reaches a packet.
func validName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, ch := range []byte(label) {
			ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_'
			if !ok {
				return false
			}
		}
	}
	return true
}

// resolvConf is parseResolvConf of the container's resolv.conf, or of none.
func (r resolver) resolvConf() resolvConf {
	f, ok := r.open(resolvConfPath)
	if !ok {
		return parseResolvConf(nil)
	}
	defer f.Close()
	return parseResolvConf(f)
}
