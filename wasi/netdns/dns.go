package netdns

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Bounds on what one reply may cost.
const (
	// ednsSize is the UDP payload size offered (EDNS0): the 2020
	// DNS flag day's size, which avoids IP fragmentation. Larger answers
	// come over TCP, whose length prefix caps them at 64 KiB.
	ednsSize = 1232
	// maxAnswers is how many answer records of a reply are read; the rest
	// are ignored. It also bounds the CNAME hops followed within one reply
	// (no more than the reply's CNAMEs), so a loop in a reply ends.
	maxAnswers = 128
)

// status is what asking for one name came to, worst last: when answers
// disagree (one search name after another, or A and AAAA that both
// failed) the worst decides the error; merge ranks the replies a server
// gave (replyRank).
type status int

const (
	found       status = iota
	noSuchName         // NXDOMAIN
	noData             // the name exists, without this record type
	aliasOnly          // answers, none an address of the name (a bare CNAME chain)
	failed             // an rcode or reply retrying won't fix
	serverFail         // SERVFAIL: the server could not answer now
	refused            // REFUSED or NOTIMP: no server would answer
	unreachable        // no reply in time, or a socket error
	canceled           // the lookup's context ended
)

// code is the getaddrinfo error a lookup that ended at s returns.
func (s status) code() Code {
	switch s {
	case noSuchName:
		return CodeNoName
	case noData:
		return CodeNoData
	case aliasOnly, failed:
		// glibc's getaddrinfo says EAI_NONAME for NO_RECOVERY (a
		// FORMERR answer), as for NXDOMAIN, and for a reply whose
		// records hold no address of the name (getanswer_r's
		// HOST_NOT_FOUND).
		return CodeNoName
	}
	return CodeAgain
}

// answer is the outcome of one question (or of A and AAAA together).
type answer struct {
	status status
	addrs  []netip.Addr
	canon  string // the last CNAME target that is a host name, or the name asked
	err    error  // the cause behind unreachable, canceled or failed
}

// dns resolves node through the nameservers of the container's
// resolv.conf, name by name down the search list, as glibc's res_nsearch:
// NXDOMAIN, NODATA and SERVFAIL move on to the next name; any other error
// (REFUSED, FORMERR) ends the search list, though the name as it is is
// still asked when it comes last. A reply with records but no address of
// the name (only a CNAME chain) ends the lookup with EAI_NONAME: it has
// answers, so res_nsearch takes it as the name's, and glibc finds no
// address in it. Silence or cancellation stops at once,
// so a dead server costs one round of timeouts, not one per name (glibc
// would ask the name as it is once more). The error is res_nsearch's
// too: the first name's when it was the name as it is, else NODATA if
// any name had it, else SERVFAIL's "try again" if any name had that,
// else the last name's.
func (r resolver) dns(ctx context.Context, node string, family int, allow func(netip.AddrPort) bool) ([]netip.Addr, string, error) {
	conf := r.resolvConf()
	if allow != nil {
		kept := conf.servers[:0]
		for _, s := range conf.servers {
			if allow(netip.AddrPortFrom(s, 53)) {
				kept = append(kept, s)
			}
		}
		conf.servers = kept
		if len(kept) == 0 {
			return nil, "", fail(CodeFail, node)
		}
	}
	names, asIsFirst := conf.names(node)
	var first, last, noDataAt, servFailAt answer
	for i := 0; i < len(names); i++ {
		a := r.queryName(ctx, conf, names[i], family)
		switch a.status {
		case found:
			return a.addrs, a.canon, nil
		case aliasOnly:
			return nil, "", &Error{Code: a.status.code(), Name: node}
		}
		if i == 0 {
			first = a
		}
		last = a
		switch a.status {
		case noSuchName:
		case noData:
			if noDataAt.status == found {
				noDataAt = a
			}
		case serverFail:
			if servFailAt.status == found {
				servFailAt = a
			}
		case unreachable, canceled:
			i = len(names)
		default: // REFUSED, FORMERR: the search list ends
			switch {
			case asIsFirst && i == 0: // the search list follows whatever its error
			case asIsFirst:
				i = len(names)
			default:
				i = max(i, len(names)-2) // on to the name as it is, last
			}
		}
	}
	picked := last
	switch {
	case asIsFirst:
		picked = first
	case noDataAt.status != found:
		picked = noDataAt
	case servFailAt.status != found:
		picked = servFailAt
	}
	return nil, "", &Error{Code: picked.status.code(), Name: node, Err: picked.err}
}

// queryName asks for fqdn's A and/or AAAA records, both at once when family
// is 0 (as glibc sends them), and merges the answers IPv4 first.
func (r resolver) queryName(ctx context.Context, conf resolvConf, fqdn string, family int) answer {
	name, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return answer{status: noSuchName, err: err}
	}
	var types []dnsmessage.Type
	if family != FamilyIPv6 {
		types = append(types, dnsmessage.TypeA)
	}
	if family != FamilyIPv4 {
		types = append(types, dnsmessage.TypeAAAA)
	}
	answers := make([]answer, len(types))
	var wg sync.WaitGroup
	for i, t := range types {
		if t == dnsmessage.TypeAAAA && conf.noAAAA {
			answers[i] = answer{status: noData} // as glibc's, never asked
			continue
		}
		q := dnsmessage.Question{Name: name, Type: t, Class: dnsmessage.ClassINET}
		wg.Go(func() { answers[i] = r.query(ctx, conf, q) })
	}
	wg.Wait()
	return merge(answers)
}

// merge joins the answers for one name: any addresses make it found.
// Otherwise a reply the server gave (NXDOMAIN, NODATA, records without an
// address, FORMERR and the like) decides over the other question's
// SERVFAIL, REFUSED, silence or lookup deadline, as glibc keeps the one
// reply it got and drops the other's (send_dg); of two such replies, one
// with records decides, then an rcode other than NXDOMAIN, then NXDOMAIN,
// over NODATA (glibc's res_context_query). Only when neither question got
// such a reply does the worst failure stand.
func merge(answers []answer) answer {
	var addrs []netip.Addr
	var canon string
	definite, failure := answer{status: found}, answer{status: found}
	for _, a := range answers {
		switch {
		case a.status == found:
			addrs = append(addrs, a.addrs...)
			canon = cmp.Or(canon, a.canon)
		case replyRank[a.status] > replyRank[definite.status]:
			definite = a
		case replyRank[a.status] == 0 && a.status > failure.status:
			failure = a
		}
	}
	switch {
	case len(addrs) > 0:
		return answer{status: found, addrs: addrs, canon: canon}
	case definite.status != found:
		return definite
	case failure.status != found:
		return failure
	}
	return answer{status: noSuchName}
}

// replyRank orders the statuses a server's reply settles, for merge; 0
// for found and for the failures another reply overrides.
var replyRank = map[status]int{noData: 1, noSuchName: 2, failed: 3, aliasOnly: 4}

// query asks each nameserver in turn, conf.attempts rounds, until one
// gives a real answer (addresses, NODATA or NXDOMAIN). A server's error
// reply is remembered over another's silence.
func (r resolver) query(ctx context.Context, conf resolvConf, q dnsmessage.Question) answer {
	last := answer{status: unreachable}
	for range conf.attempts {
		for _, server := range conf.servers {
			a := r.exchange(ctx, netip.AddrPortFrom(server, r.port), q, conf)
			switch a.status {
			case found, noData, aliasOnly, noSuchName, canceled:
				return a
			}
			if a.status != unreachable || last.status == unreachable {
				last = a
			}
		}
	}
	return last
}

// exchange sends q to server once over UDP, and again over TCP if the UDP
// reply was truncated, each within conf's timeout; under use-vc, over TCP
// alone. A server that knows no EDNS answers a query that offers it with
// FORMERR (RFC 6891, section 7): it is asked once more without, as glibc,
// which offers EDNS only under `options edns0`, would have asked it.
func (r resolver) exchange(ctx context.Context, server netip.AddrPort, q dnsmessage.Question, conf resolvConf) answer {
	p, h, a, ok := r.exchangeOnce(ctx, server, q, conf, true)
	if ok && h.RCode == dnsmessage.RCodeFormatError {
		p, h, a, ok = r.exchangeOnce(ctx, server, q, conf, false)
	}
	if !ok {
		return a
	}
	return readAnswer(p, h, q)
}

// exchangeOnce is one exchange of exchange, with or without EDNS: the
// reply's parser and header, or the failure's answer and false.
func (r resolver) exchangeOnce(ctx context.Context, server netip.AddrPort, q dnsmessage.Question, conf resolvConf, edns bool) (*dnsmessage.Parser, dnsmessage.Header, answer, bool) {
	id := uint16(rand.Uint32()) // math/rand/v2's global source: ChaCha8, seeded by the runtime from the OS
	msg, err := buildQuery(id, q, edns)
	if err != nil {
		return nil, dnsmessage.Header{}, answer{status: failed, err: err}, false
	}
	isReply := func(b []byte) bool {
		_, _, ok := openReply(b, id, q)
		return ok || edns && ednsRefused(b, id)
	}
	overTCP := func() ([]byte, error) {
		return roundTrip(ctx, "tcp", server, conf.timeout, func(c net.Conn) ([]byte, error) { return talkTCP(c, msg, isReply) })
	}
	var reply []byte
	if conf.tcp {
		reply, err = overTCP()
	} else {
		reply, err = roundTrip(ctx, "udp", server, conf.timeout, func(c net.Conn) ([]byte, error) { return talkUDP(c, msg, isReply) })
		if err == nil {
			if _, h, _ := openReply(reply, id, q); h.Truncated {
				reply, err = overTCP()
			}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, dnsmessage.Header{}, answer{status: canceled, err: ctx.Err()}, false
		}
		return nil, dnsmessage.Header{}, answer{status: unreachable, err: err}, false
	}
	if edns && ednsRefused(reply, id) {
		return nil, dnsmessage.Header{ID: id, Response: true, RCode: dnsmessage.RCodeFormatError}, answer{}, true
	}
	p, h, _ := openReply(reply, id, q)
	return p, h, answer{}, true
}

// ednsRefused says whether b is a FORMERR with our ID and no question: a
// server that knows no EDNS may refuse the query so, without echoing the
// question that openReply checks. glibc, under `options edns0`, takes it
// as the signal to ask again without EDNS, as exchange does; it is never
// taken for an answer.
func ednsRefused(b []byte, id uint16) bool {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil || !h.Response || h.ID != id || h.OpCode != 0 || h.RCode != dnsmessage.RCodeFormatError {
		return false
	}
	_, err = p.Question()
	return err == dnsmessage.ErrSectionDone
}

// buildQuery packs a recursive query for q, offering EDNS0 (when edns) as
// Go's own resolver does, so that answers up to ednsSize need no TCP.
func buildQuery(id uint16, q dnsmessage.Question, edns bool) ([]byte, error) {
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{q},
	}
	if edns {
		var opt dnsmessage.ResourceHeader
		if err := opt.SetEDNS0(ednsSize, dnsmessage.RCodeSuccess, false); err != nil {
			return nil, err
		}
		m.Additionals = []dnsmessage.Resource{{Header: opt, Body: &dnsmessage.OPTResource{}}}
	}
	return m.Pack()
}

// openReply parses b's header and question and reports whether b is the
// reply to our query: a response, with our random ID, and exactly our
// question. Together with the connected socket (the kernel drops datagrams
// from any other address and port) and the kernel's random source port,
// this is what stops an off-path attacker from planting an answer: a blind
// spoofer must guess 16 bits of ID and ~15 bits of port for the name being
// looked up, in the short window before the real reply. A non-matching
// datagram is dropped and the wait goes on, so a flood of wrong replies
// can't make the lookup fail either.
func openReply(b []byte, id uint16, q dnsmessage.Question) (*dnsmessage.Parser, dnsmessage.Header, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil || !h.Response || h.ID != id || h.OpCode != 0 {
		return nil, h, false
	}
	got, err := p.Question()
	if err != nil || got.Type != q.Type || got.Class != q.Class || !strings.EqualFold(got.Name.String(), q.Name.String()) {
		return nil, h, false
	}
	if _, err := p.Question(); err != dnsmessage.ErrSectionDone {
		return nil, h, false
	}
	return &p, h, true
}

// readAnswer turns a matching reply into an answer: the rcode, then the
// addresses of q's type owned by the end of the CNAME chain that starts at
// q's name (records for other names, which a server might add, are
// ignored).
func readAnswer(p *dnsmessage.Parser, h dnsmessage.Header, q dnsmessage.Question) answer {
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return answer{status: noSuchName}
	case dnsmessage.RCodeServerFailure:
		return answer{status: serverFail, err: errors.New("server failure")}
	case dnsmessage.RCodeRefused, dnsmessage.RCodeNotImplemented:
		// The next server is asked; when none answers otherwise, glibc
		// says "try again" (EAI_AGAIN), as a server's ACL may change.
		return answer{status: refused, err: fmt.Errorf("server replied %v", h.RCode)}
	default:
		return answer{status: failed, err: fmt.Errorf("server replied %v", h.RCode)}
	}
	cnames, records, n, err := readRecords(p, q.Type)
	if err != nil {
		return answer{status: failed, err: err}
	}
	if n == 0 && lameReferral(p, h) {
		// Not an answer: the next server is asked, as glibc and Go do.
		return answer{status: serverFail, err: errors.New("lame referral")}
	}
	// canon follows the chain to the owner of the addresses; named is
	// the name the guest is handed as ai_canonname: the last target on
	// the way that is a host name (validName), else the name asked. A
	// server's CNAME target is any bytes (terminal escapes, newlines, a
	// NUL that cuts a C string short), and a guest prints or compares
	// its canonical name (one that starts with '-' passes for an
	// option): glibc takes a target that is no host name (res_hnok) as
	// the address's owner but not as the canonical name, as here.
	canon := q.Name.String()
	named := canon
	for range len(cnames) {
		next, ok := cnames[strings.ToLower(canon)]
		if !ok {
			break
		}
		canon = next
		if validName(next) && !strings.HasPrefix(next, "-") {
			named = next
		}
	}
	var addrs []netip.Addr
	for _, rec := range records {
		if strings.EqualFold(rec.owner, canon) && !slices.Contains(addrs, rec.ip) && len(addrs) < maxAddrs {
			addrs = append(addrs, rec.ip)
		}
	}
	switch {
	case len(addrs) > 0:
	case n > 0:
		// Only a CNAME chain, or records of other names, classes or
		// lengths: glibc says the name is not found (EAI_NONAME), not
		// NODATA, which is for an empty answer section.
		return answer{status: aliasOnly}
	default:
		return answer{status: noData}
	}
	return answer{status: found, addrs: addrs, canon: strings.TrimSuffix(named, ".")}
}

// lameReferral says whether a reply with no answer of ours is a server
// declining to recurse rather than saying the name has no such record:
// success, not authoritative, no recursion available, and no authority or
// additional record (glibc's send_dg goes to the next server on it, Go's
// checkHeader calls it errLameReferral). p is past the answers.
func lameReferral(p *dnsmessage.Parser, h dnsmessage.Header) bool {
	if h.Authoritative || h.RecursionAvailable {
		return false
	}
	if err := p.SkipAllAnswers(); err != nil {
		return false
	}
	if _, err := p.AuthorityHeader(); err != dnsmessage.ErrSectionDone {
		return false
	}
	_, err := p.AdditionalHeader()
	return err == dnsmessage.ErrSectionDone
}

// record is one A or AAAA answer and the name that owns it.
type record struct {
	owner string
	ip    netip.Addr
}

// readRecords reads up to maxAnswers answer records: the CNAMEs (by
// lower-cased owner) and the addresses of type qtype; n counts every
// record read.
//
// An A record whose data is not 4 bytes, or an AAAA not 16, is skipped, as
// glibc skips it: dnsmessage reads an address's fixed size from the start
// of the data without checking the record's length, so a hostile or broken
// server's 16-byte A record became an IPv4 address cut from an IPv6 one,
// and a 4-byte AAAA took the next record's header bytes as the rest of
// its address.
func readRecords(p *dnsmessage.Parser, qtype dnsmessage.Type) (cnames map[string]string, records []record, n int, err error) {
	cnames = map[string]string{}
	for ; n < maxAnswers; n++ {
		var rh dnsmessage.ResourceHeader
		rh, err = p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return nil, nil, 0, err
		}
		owner := rh.Name.String()
		switch {
		case rh.Class != dnsmessage.ClassINET || (rh.Type != qtype && rh.Type != dnsmessage.TypeCNAME),
			rh.Type == dnsmessage.TypeA && rh.Length != 4,
			rh.Type == dnsmessage.TypeAAAA && rh.Length != 16:
			err = p.SkipAnswer() // which fails on a length past the message's end
		case rh.Type == dnsmessage.TypeCNAME:
			var c dnsmessage.CNAMEResource
			if c, err = p.CNAMEResource(); err == nil {
				cnames[strings.ToLower(owner)] = c.CNAME.String()
			}
		case rh.Type == dnsmessage.TypeA:
			var a dnsmessage.AResource
			if a, err = p.AResource(); err == nil {
				records = append(records, record{owner, netip.AddrFrom4(a.A)})
			}
		case rh.Type == dnsmessage.TypeAAAA:
			var a dnsmessage.AAAAResource
			if a, err = p.AAAAResource(); err == nil {
				records = append(records, record{owner, netip.AddrFrom16(a.AAAA)})
			}
		}
		if err != nil {
			return nil, nil, 0, err
		}
	}
	return cnames, records, n, nil
}

// roundTrip dials server over network and runs talk on the connection,
// all within timeout and ctx: the socket's deadline is the timeout, and
// canceling ctx (a guest stopped by SIGTERM) fails its reads at once.
func roundTrip(ctx context.Context, network string, server netip.AddrPort, timeout time.Duration, talk func(net.Conn) ([]byte, error)) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, server.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	defer context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })()
	return talk(c)
}

// talkUDP sends query on a connected UDP socket and waits for the datagram
// isReply accepts.
func talkUDP(c net.Conn, query []byte, isReply func([]byte) bool) ([]byte, error) {
	if _, err := c.Write(query); err != nil {
		return nil, err
	}
	// A server may send more than the ednsSize offered without setting
	// TC (a forwarder that ignores EDNS): the whole datagram is read, as
	// glibc reads up to 64 KiB, not cut to a reply that fails to parse
	// and reads as "no such name".
	buf := make([]byte, 1<<16)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		if isReply(buf[:n]) {
			return buf[:n], nil
		}
	}
}

// talkTCP sends query over TCP (RFC 1035 4.2.2: each message after a
// two-byte length) and reads one reply, which must be isReply's.
func talkTCP(c net.Conn, query []byte, isReply func([]byte) bool) ([]byte, error) {
	msg := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(query)), uint16(len(query)))
	if _, err := c.Write(append(msg, query...)); err != nil {
		return nil, err
	}
	var size [2]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, err
	}
	reply := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(c, reply); err != nil {
		return nil, err
	}
	if !isReply(reply) {
		return nil, errors.New("tcp reply does not match the query")
	}
	return reply, nil
}
