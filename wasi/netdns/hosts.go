package netdns

import (
	"bytes"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// lookupHosts returns the addresses of family (0 any, 4, 6) that the
// hosts file r reads gives name, in file order without repeats, and the
// canonical name: the first name of the first line that matched. Like
// glibc and musl it gathers every matching line, not just the first;
// names compare without case and without a trailing dot. A line may hold
// any number of names (glibc's limit is its line's length): they are
// compared where they are, never gathered.
func lookupHosts(r io.Reader, name string, family int) (addrs []netip.Addr, canon string) {
	name = strings.TrimSuffix(name, ".")
	for line := range lines(r, "#") {
		// The names first: the address is parsed only on a line that
		// names name (a block list's hundred thousand lines cost no
		// allocation each).
		var addr, canonical []byte
		matched, i := false, 0
		for f := range bytes.FieldsSeq(line) {
			switch i {
			case 0:
				addr = f
			case 1:
				canonical = f
				matched = isName(f, name)
			default:
				matched = isName(f, name)
			}
			if matched {
				break
			}
			i++
		}
		if !matched {
			continue
		}
		ip, err := netip.ParseAddr(string(addr))
		// An IPv4-mapped line answers an IPv4 lookup with its IPv4
		// address, as glibc's files lookup does.
		if err == nil && family == FamilyIPv4 && ip.Is4In6() {
			ip = ip.Unmap()
		}
		// A zoned address can't be handed to the guest (the WASI address
		// has no scope id), so such a line is skipped, not mangled.
		if err != nil || ip.Zone() != "" || !familyHas(family, ip) || slices.Contains(addrs, ip) {
			continue
		}
		if canon == "" {
			canon = strings.TrimSuffix(string(canonical), ".")
		}
		if addrs = append(addrs, ip); len(addrs) == maxAddrs {
			break
		}
	}
	return addrs, canon
}

// lookupHosts is lookupHosts of the container's hosts file.
func (r resolver) lookupHosts(name string, family int) ([]netip.Addr, string) {
	f, ok := r.open(hostsPath)
	if !ok {
		return nil, ""
	}
	defer f.Close()
	return lookupHosts(f, name, family)
}

// isName says whether the hosts file's field n is name, without case and
// without a trailing dot.
func isName(n []byte, name string) bool {
	n = bytes.TrimSuffix(n, []byte("."))
	return len(n) > 0 && len(n) == len(name) && strings.EqualFold(string(n), name)
}

// familyHas reports whether ip belongs to family (0 any, 4, 6). An
// IPv4-mapped IPv6 address counts as IPv6: that is the socket it needs.
func familyHas(family int, ip netip.Addr) bool {
	switch family {
	case FamilyIPv4:
		return ip.Is4()
	case FamilyIPv6:
		return ip.Is6()
	}
	return true
}
