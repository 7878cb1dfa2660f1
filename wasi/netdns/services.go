package netdns

import (
	"io"
	"slices"
	"strconv"
	"strings"
)

// builtinServices stands in for /etc/services when the image has none
// (scratch and distroless images): the common names, in that file's format
// and with the protocols Debian's file lists for them.
const builtinServices = `
ftp        21/tcp
ssh        22/tcp
telnet     23/tcp
smtp       25/tcp   mail
domain     53/tcp
domain     53/udp
http       80/tcp   www
pop3       110/tcp
ntp        123/udp
imap       143/tcp  imap2
ldap       389/tcp
https      443/tcp
https      443/udp
submission 587/tcp
ldaps      636/tcp
imaps      993/tcp
pop3s      995/tcp
mysql      3306/tcp
postgresql 5432/tcp
`

// endpoint is one (port, socket type) a service resolved to.
type endpoint struct {
	port     uint16
	sockType int
}

// service resolves q.Service to one endpoint per socket type asked for:
// stream then dgram when SockType is 0, as getaddrinfo orders them. A name
// known only for TCP yields only the stream endpoint.
func (r resolver) service(q Query) ([]endpoint, error) {
	types := []int{SockStream, SockDgram}
	if q.SockType != SockAny {
		types = []int{q.SockType}
	}
	port, numeric, err := parsePort(q.Service)
	if err != nil {
		return nil, err
	}
	if !numeric && q.NumericServ {
		return nil, fail(CodeNoName, q.Service)
	}
	var ports map[string]uint16
	if !numeric {
		ports = r.lookupService(q.Service)
	}
	var out []endpoint
	for _, t := range types {
		if !numeric {
			var ok bool
			if port, ok = ports[protoOf(t)]; !ok {
				continue
			}
		}
		out = append(out, endpoint{port: port, sockType: t})
	}
	if len(out) == 0 {
		return nil, fail(CodeService, q.Service)
	}
	return out, nil
}

// parsePort reads a numeric service; an empty one is port 0. numeric is
// false for a name. Digits beyond 65535 are an unknown service, where glibc
// would silently truncate them.
func parsePort(s string) (port uint16, numeric bool, err error) {
	if s == "" {
		return 0, true, nil
	}
	if strings.Trim(s, "0123456789") != "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, false, fail(CodeService, s)
	}
	return uint16(n), true, nil
}

func protoOf(sockType int) string {
	if sockType == SockDgram {
		return "udp"
	}
	return "tcp"
}

// lookupService finds name (or an alias) in a services file, "name
// port/proto [aliases...]", for each protocol it names, in one pass. The
// first match of a protocol wins, and names compare case-sensitively, as
// glibc's files backend does.
func lookupService(r io.Reader, name string) map[string]uint16 {
	ports := map[string]uint16{}
	for fields := range records(r, "#") {
		if len(fields) < 2 {
			continue
		}
		num, p, ok := strings.Cut(fields[1], "/")
		if _, seen := ports[p]; !ok || seen || (fields[0] != name && !slices.Contains(fields[2:], name)) {
			continue
		}
		if n, err := strconv.ParseUint(num, 10, 16); err == nil {
			ports[p] = uint16(n)
		}
	}
	return ports
}

// lookupService is lookupService of the container's services file, read
// once for every socket type asked, or of runw's built-in table where it
// has none.
func (r resolver) lookupService(name string) map[string]uint16 {
	f, ok := r.open(servicesPath)
	if !ok {
		return lookupService(strings.NewReader(builtinServices), name)
	}
	defer f.Close()
	return lookupService(f, name)
}
