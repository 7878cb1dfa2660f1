// Package netdns answers a guest's getaddrinfo (WasmEdge sock_getaddrinfo)
// the way a native process in the same container would be answered: from the
// container's /etc/hosts, /etc/services and /etc/resolv.conf, then from the
// nameservers that resolv.conf names, queried from the calling process (the
// runw init, already inside the container's network namespace).
//
// It owns parsing those three files, the DNS exchange (UDP, TCP on
// truncation, search list and ndots, CNAME chains) and turning the answer
// into getaddrinfo's (address, port, socket type) results and EAI_* errors.
//
// It must never read a host file (every file comes through the caller's
// Files, which reads the container's view), never ask the host's resolver
// (no net.Resolver, no cgo), never accept a reply that does not match the
// query it sent, and never run, allocate or recurse without a bound: message
// sizes, answers, CNAME hops, search domains and total time are all capped.
package netdns
