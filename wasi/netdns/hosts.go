package netdns

import (
	"net/netip"
	"slices"
	"strings"
)

// lookupHosts returns the addresses of family (0 any, 4, 6) that a hosts
// file gives name, in file order without repeats, and the canonical name:
// the first name of the first line that matched. Like glibc and musl it
// gathers every matching line, not just the first; names compare without
// case and without a trailing dot.
func lookupHosts(data []byte, name string, family int) (addrs []netip.Addr, canon string) {
	name = strings.TrimSuffix(name, ".")
	for fields := range records(data, "#") {
		ip, err := netip.ParseAddr(fields[0])
		// An IPv4-mapped line answers an IPv4 lookup with its IPv4
		// address, as glibc's files lookup does.
		if err == nil && family == FamilyIPv4 && ip.Is4In6() {
			ip = ip.Unmap()
		}
		// A zoned address can't be handed to the guest (the WASI address
		// has no scope id), so such a line is skipped, not mangled.
		if err != nil || ip.Zone() != "" || !familyHas(family, ip) {
			continue
		}
		if !hasName(fields[1:], name) || slices.Contains(addrs, ip) {
			continue
		}
		if canon == "" {
			canon = strings.TrimSuffix(fields[1], ".")
		}
		if addrs = append(addrs, ip); len(addrs) == maxAddrs {
			break
		}
	}
	return addrs, canon
}

func hasName(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(strings.TrimSuffix(n, "."), name) {
			return true
		}
	}
	return false
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
