package netdns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a nameserver the test runs on 127.0.0.1 (never any other
// address), on one random port for UDP and TCP.
type dnsServer struct {
	port   uint16
	handle func(req dnsmessage.Message, tcp bool) []dnsmessage.Message
	mu     sync.Mutex
	asked  []string // "udp A web.test." per query received
	wg     sync.WaitGroup
}

// startServer serves handle's replies (sent in order; none means silence).
func startServer(t *testing.T, handle func(req dnsmessage.Message, tcp bool) []dnsmessage.Message) *dnsServer {
	t.Helper()
	s := &dnsServer{handle: handle}
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil { // the TCP port is taken: pick another pair
			pc.Close()
			if try < 10 {
				continue
			}
			t.Fatal(err)
		}
		s.port = uint16(port)
		s.wg.Go(func() { s.serveUDP(pc) })
		s.wg.Go(func() { s.serveTCP(ln) })
		t.Cleanup(func() { pc.Close(); ln.Close(); s.wg.Wait() })
		return s
	}
}

func (s *dnsServer) serveUDP(pc net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		for _, reply := range s.replies(buf[:n], false) {
			pc.WriteTo(reply, from)
		}
	}
}

func (s *dnsServer) serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.wg.Go(func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			var size [2]byte
			if _, err := io.ReadFull(c, size[:]); err != nil {
				return
			}
			msg := make([]byte, binary.BigEndian.Uint16(size[:]))
			if _, err := io.ReadFull(c, msg); err != nil {
				return
			}
			for _, reply := range s.replies(msg, true) {
				c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(reply))), reply...))
			}
		})
	}
}

// replies logs the query in msg and packs the handler's replies to it.
func (s *dnsServer) replies(msg []byte, tcp bool) [][]byte {
	var req dnsmessage.Message
	if req.Unpack(msg) != nil || len(req.Questions) != 1 {
		return nil
	}
	q := req.Questions[0]
	s.mu.Lock()
	s.asked = append(s.asked, fmt.Sprintf("%s %s %s", map[bool]string{false: "udp", true: "tcp"}[tcp], strings.TrimPrefix(q.Type.String(), "Type"), q.Name))
	s.mu.Unlock()
	var out [][]byte
	for _, m := range s.handle(req, tcp) {
		if b, err := m.Pack(); err == nil {
			out = append(out, b)
		}
	}
	return out
}

func (s *dnsServer) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

// resolver reaches the test server, with resolv.conf lines conf.
func (s *dnsServer) resolver(conf string, more map[string]string) resolver {
	m := map[string]string{resolvConfPath: "nameserver 127.0.0.1\n" + conf}
	for k, v := range more {
		m[k] = v
	}
	return resolver{files: files(m), port: s.port}
}

// zone answers as a recursive server would from these records, by owner
// name: NXDOMAIN for a name it lacks, otherwise the CNAME chain from the
// name asked and the records of the type asked for owned by a name in it
// (NODATA when there are none).
func zone(records ...dnsmessage.Resource) func(dnsmessage.Message, bool) []dnsmessage.Message {
	return func(req dnsmessage.Message, _ bool) []dnsmessage.Message {
		q := req.Questions[0]
		owns := func(rr dnsmessage.Resource, name string) bool {
			return strings.EqualFold(rr.Header.Name.String(), name)
		}
		if !slices.ContainsFunc(records, func(rr dnsmessage.Resource) bool { return owns(rr, q.Name.String()) }) {
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeNameError)}
		}
		var answers []dnsmessage.Resource
		chain := []string{q.Name.String()}
		for i := 0; i < len(chain) && i <= len(records); i++ {
			for _, rr := range records {
				if !owns(rr, chain[i]) {
					continue
				}
				switch rr.Header.Type {
				case dnsmessage.TypeCNAME:
					answers = append(answers, rr)
					chain = append(chain, rr.Body.(*dnsmessage.CNAMEResource).CNAME.String())
				case q.Type:
					answers = append(answers, rr)
				}
			}
		}
		return []dnsmessage.Message{reply(req, dnsmessage.RCodeSuccess, answers...)}
	}
}

func reply(req dnsmessage.Message, rcode dnsmessage.RCode, answers ...dnsmessage.Resource) dnsmessage.Message {
	return dnsmessage.Message{
		Header:    dnsmessage.Header{ID: req.ID, Response: true, RecursionDesired: true, RecursionAvailable: true, RCode: rcode},
		Questions: req.Questions,
		Answers:   answers,
	}
}

func rr(name string, t dnsmessage.Type, body dnsmessage.ResourceBody) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: t, Class: dnsmessage.ClassINET, TTL: 60},
		Body:   body,
	}
}

func a(name, ip string) dnsmessage.Resource {
	return rr(name, dnsmessage.TypeA, &dnsmessage.AResource{A: netip.MustParseAddr(ip).As4()})
}

func aaaa(name, ip string) dnsmessage.Resource {
	return rr(name, dnsmessage.TypeAAAA, &dnsmessage.AAAAResource{AAAA: netip.MustParseAddr(ip).As16()})
}

func cname(name, target string) dnsmessage.Resource {
	return rr(name, dnsmessage.TypeCNAME, &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(target)})
}

func show(res []Result) []string {
	var out []string
	for _, r := range res {
		s := fmt.Sprintf("%s %d %d", r.IP, r.Port, r.SockType)
		if r.Canon != "" {
			s += " " + r.Canon
		}
		out = append(out, s)
	}
	return out
}

func TestDNS(t *testing.T) {
	answer := zone(
		a("web.test.", "192.0.2.1"), a("web.test.", "192.0.2.2"), a("web.test.", "192.0.2.1"), aaaa("web.test.", "2001:db8::1"),
		a("v4only.test.", "192.0.2.9"),
		cname("www.test.", "edge.cdn.test."), cname("edge.cdn.test.", "Host.CDN.test."),
		a("host.cdn.test.", "192.0.2.7"),
	)
	// The CNAME chain's reply also holds a record for an unrelated name,
	// which the answer must not take.
	s := startServer(t, func(req dnsmessage.Message, tcp bool) []dnsmessage.Message {
		m := answer(req, tcp)
		if strings.EqualFold(req.Questions[0].Name.String(), "www.test.") {
			m[0].Answers = append(m[0].Answers, a("evil.test.", "198.51.100.66"))
		}
		return m
	})
	r := s.resolver("options timeout:1 attempts:1\n", map[string]string{hostsPath: "192.0.2.200 pinned.test\n"})
	for _, tc := range []struct {
		name string
		q    Query
		want []string
		code Code
	}{
		{"A and AAAA, IPv4 first, repeats dropped", Query{Node: "web.test", Service: "80"},
			[]string{"192.0.2.1 80 2", "192.0.2.1 80 1", "192.0.2.2 80 2", "192.0.2.2 80 1", "2001:db8::1 80 2", "2001:db8::1 80 1"}, 0},
		{"A only", Query{Node: "web.test", Family: FamilyIPv4, SockType: SockStream},
			[]string{"192.0.2.1 0 2", "192.0.2.2 0 2"}, 0},
		{"AAAA only", Query{Node: "web.test", Family: FamilyIPv6, SockType: SockStream},
			[]string{"2001:db8::1 0 2"}, 0},
		{"CNAME chain, canon is its end", Query{Node: "WWW.test", SockType: SockStream, CanonName: true},
			[]string{"192.0.2.7 0 2 Host.CDN.test"}, 0},
		{"NXDOMAIN", Query{Node: "nosuch.test"}, nil, CodeNoName},
		{"no AAAA", Query{Node: "v4only.test", Family: FamilyIPv6}, nil, CodeNoData},
		{"any family with only A", Query{Node: "v4only.test", SockType: SockDgram}, []string{"192.0.2.9 0 1"}, 0},
		{"hosts before DNS", Query{Node: "pinned.test", SockType: SockStream}, []string{"192.0.2.200 0 2"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := r.lookup(context.Background(), tc.q)
			if got := show(res); codeOf(err) != tc.code || !slices.Equal(got, tc.want) {
				t.Errorf("got %q %v, want %q code %d", got, err, tc.want, tc.code)
			}
		})
	}
	for _, q := range s.log() {
		if strings.Contains(q, "pinned") {
			t.Errorf("a name in /etc/hosts was sent to DNS: %s", q)
		}
	}
}

func TestServerFailureIsAgain(t *testing.T) {
	s := startServer(t, func(req dnsmessage.Message, _ bool) []dnsmessage.Message {
		return []dnsmessage.Message{reply(req, dnsmessage.RCodeServerFailure)}
	})
	_, err := s.resolver("options attempts:2\n", nil).lookup(context.Background(), Query{Node: "web.test", Family: FamilyIPv4})
	if codeOf(err) != CodeAgain {
		t.Fatalf("got %v, want code %d", err, CodeAgain)
	}
	if got := len(s.log()); got != 2 {
		t.Errorf("asked %d times, want once per attempt: %q", got, s.log())
	}
}

// TestSearchErrorsAsGlibc: the error, and the names asked, when no
// name of the search list has an address, as glibc 2.36's getaddrinfo
// gives them with AF_UNSPEC (each case was run against it): REFUSED from
// every server is "try again" (a server's ACL), not a lasting failure,
// and ends the search list, as FORMERR does; the name as it is, asked
// first, gives the error; else NODATA from any name, else SERVFAIL from
// any name. FORMERR is EAI_NONAME. runw said EAI_FAIL for REFUSED and
// FORMERR, and took the "worst" error of all names.
func TestSearchErrorsAsGlibc(t *testing.T) {
	s := startServer(t, func(req dnsmessage.Message, _ bool) []dnsmessage.Message {
		name := req.Questions[0].Name.String()
		switch {
		case strings.HasPrefix(name, "refused"):
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeRefused)}
		case strings.HasPrefix(name, "formerr"):
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeFormatError)}
		case name == "mixed.svc.test." || name == "mixed.svc.svc.test.":
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeSuccess)} // NODATA
		case name == "mixed.test.":
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeServerFailure)}
		case name == "sf.svc.test.":
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeServerFailure)}
		}
		return []dnsmessage.Message{reply(req, dnsmessage.RCodeNameError)}
	})
	r := s.resolver("search svc.test test\noptions ndots:1 timeout:1 attempts:1\n", nil)
	for _, tc := range []struct {
		node  string
		code  Code
		asked []string
	}{
		// As it is first: its REFUSED gives the error; the search list
		// is still tried, and its first REFUSED ends it.
		{"refused.x", CodeAgain, []string{"refused.x.", "refused.x.svc.test."}},
		// As it is last: a REFUSED in the list skips to it.
		{"refused", CodeAgain, []string{"refused.svc.test.", "refused."}},
		{"formerr", CodeNoName, []string{"formerr.svc.test.", "formerr."}},
		// NODATA, then SERVFAIL, then NXDOMAIN: NODATA wins.
		{"mixed", CodeNoData, []string{"mixed.svc.test.", "mixed.test.", "mixed."}},
		// NXDOMAIN as it is, first, wins over a later NODATA.
		{"mixed.svc", CodeNoName, []string{"mixed.svc.", "mixed.svc.svc.test.", "mixed.svc.test."}},
		// SERVFAIL, then NXDOMAIN: try again.
		{"sf", CodeAgain, []string{"sf.svc.test.", "sf.test.", "sf."}},
	} {
		before := len(s.log())
		_, err := r.lookup(context.Background(), Query{Node: tc.node})
		if codeOf(err) != tc.code {
			t.Errorf("%s: got %v, want code %d", tc.node, err, tc.code)
		}
		// A and AAAA go together for each name: the names, in order.
		var asked []string
		for _, l := range s.log()[before:] {
			name := l[strings.LastIndex(l, " ")+1:]
			if len(asked) == 0 || asked[len(asked)-1] != name {
				asked = append(asked, name)
			}
		}
		if !slices.Equal(asked, tc.asked) {
			t.Errorf("%s: asked %q, want %q", tc.node, asked, tc.asked)
		}
	}
}

func TestTruncatedRetriesOverTCP(t *testing.T) {
	full := zone(a("big.test.", "192.0.2.1"), a("big.test.", "192.0.2.2"))
	s := startServer(t, func(req dnsmessage.Message, tcp bool) []dnsmessage.Message {
		if tcp {
			return full(req, tcp)
		}
		m := reply(req, dnsmessage.RCodeSuccess)
		m.Truncated = true
		return []dnsmessage.Message{m}
	})
	res, err := s.resolver("options timeout:1 attempts:1\n", nil).lookup(context.Background(), Query{Node: "big.test", Family: FamilyIPv4, SockType: SockStream})
	if want := []string{"192.0.2.1 0 2", "192.0.2.2 0 2"}; err != nil || !slices.Equal(show(res), want) {
		t.Fatalf("got %q %v, want %q", show(res), err, want)
	}
	if want := []string{"udp A big.test.", "tcp A big.test."}; !slices.Equal(s.log(), want) {
		t.Errorf("asked %q, want %q", s.log(), want)
	}
}

func TestSearchList(t *testing.T) {
	s := startServer(t, zone(a("web.b.test.", "192.0.2.1"), a("x.y.z.", "192.0.2.2"), a("web.", "192.0.2.3")))
	r := s.resolver("search a.test b.test\noptions ndots:2 timeout:1 attempts:1\n", nil)
	for _, tc := range []struct {
		node  string
		want  string
		asked []string
	}{
		{"web", "192.0.2.1 0 2", []string{"udp A web.a.test.", "udp A web.b.test."}},
		{"x.y.z", "192.0.2.2 0 2", []string{"udp A x.y.z."}},
		{"web.", "192.0.2.3 0 2", []string{"udp A web."}},
	} {
		before := len(s.log())
		res, err := r.lookup(context.Background(), Query{Node: tc.node, Family: FamilyIPv4, SockType: SockStream})
		if err != nil || !slices.Equal(show(res), []string{tc.want}) {
			t.Errorf("%s: got %q %v, want %s", tc.node, show(res), err, tc.want)
		}
		if asked := s.log()[before:]; !slices.Equal(asked, tc.asked) {
			t.Errorf("%s: asked %q, want %q", tc.node, asked, tc.asked)
		}
	}
	_, err := r.lookup(context.Background(), Query{Node: "none", Family: FamilyIPv4})
	if codeOf(err) != CodeNoName {
		t.Errorf("none: got %v, want code %d", err, CodeNoName)
	}
}

// Replies that are not the reply to our query (another ID, another
// question, a query rather than a response) arrive first; they must be
// dropped, and the real reply after them taken.
func TestSpoofedRepliesIgnored(t *testing.T) {
	s := startServer(t, func(req dnsmessage.Message, _ bool) []dnsmessage.Message {
		q := req.Questions[0]
		wrongID := reply(req, dnsmessage.RCodeSuccess, a(q.Name.String(), "198.51.100.1"))
		wrongID.ID++
		wrongName := reply(req, dnsmessage.RCodeSuccess, a("other.test.", "198.51.100.2"))
		wrongName.Questions = []dnsmessage.Question{{Name: dnsmessage.MustNewName("other.test."), Type: q.Type, Class: q.Class}}
		notResponse := reply(req, dnsmessage.RCodeSuccess, a(q.Name.String(), "198.51.100.3"))
		notResponse.Response = false
		real := reply(req, dnsmessage.RCodeSuccess, a(q.Name.String(), "192.0.2.1"))
		return []dnsmessage.Message{wrongID, wrongName, notResponse, real}
	})
	res, err := s.resolver("options timeout:1 attempts:1\n", nil).lookup(context.Background(), Query{Node: "web.test", Family: FamilyIPv4, SockType: SockStream})
	if want := []string{"192.0.2.1 0 2"}; err != nil || !slices.Equal(show(res), want) {
		t.Fatalf("got %q %v, want %q", show(res), err, want)
	}
}

// A silent server: the lookup gives up after one timeout, and does not
// go on down the search list.
func TestTimeoutIsAgain(t *testing.T) {
	s := startServer(t, func(dnsmessage.Message, bool) []dnsmessage.Message { return nil })
	r := s.resolver("search a.test b.test\noptions timeout:1 attempts:1\n", nil)
	start := time.Now()
	_, err := r.lookup(context.Background(), Query{Node: "web"})
	took := time.Since(start)
	if codeOf(err) != CodeAgain {
		t.Fatalf("got %v, want code %d", err, CodeAgain)
	}
	if took < 900*time.Millisecond || took > 1800*time.Millisecond {
		t.Errorf("took %v, want about the 1s timeout", took)
	}
	if want := []string{"A web.a.test.", "AAAA web.a.test."}; !sameQuestions(s.log(), want) {
		t.Errorf("asked %q, want %q", s.log(), want)
	}
}

func TestCanceledIsAgain(t *testing.T) {
	s := startServer(t, func(dnsmessage.Message, bool) []dnsmessage.Message { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.resolver("options timeout:5\n", nil).lookup(ctx, Query{Node: "web.test"})
	if codeOf(err) != CodeAgain || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want code %d wrapping context.Canceled", err, CodeAgain)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v after cancel, want at once", took)
	}
}

// sameQuestions compares the questions asked, ignoring transport and the
// order between the A and AAAA queries, which run at once.
func sameQuestions(log, want []string) bool {
	var got []string
	for _, l := range log {
		_, q, _ := strings.Cut(l, " ")
		got = append(got, q)
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	return slices.Equal(got, want)
}

// TestServerOutsideTheGrantNotAsked: a name server the caller's filter
// refuses (the guest's narrowed connect grant) is never sent a query,
// and with none left the lookup fails; one it allows answers.
func TestServerOutsideTheGrantNotAsked(t *testing.T) {
	s := startServer(t, zone(a("web.test.", "192.0.2.1")))
	r := s.resolver("options timeout:1 attempts:1\n", nil)
	deny := func(netip.AddrPort) bool { return false }
	_, err := r.lookup(context.Background(), Query{Node: "web.test", Family: FamilyIPv4, Server: deny})
	if codeOf(err) != CodeFail {
		t.Fatalf("all servers refused: got %v, want code %d", err, CodeFail)
	}
	if got := s.log(); len(got) != 0 {
		t.Fatalf("a refused server was asked: %q", got)
	}
	allow := func(ap netip.AddrPort) bool { return ap == netip.MustParseAddrPort("127.0.0.1:53") }
	res, err := r.lookup(context.Background(), Query{Node: "web.test", Family: FamilyIPv4, SockType: SockStream, Server: allow})
	if err != nil || len(res) != 1 {
		t.Fatalf("allowed server: %v %v", res, err)
	}
}

// twin is a second nameserver on 127.0.0.2, on s's port (the resolver
// asks every server on one port), serving handle.
func (s *dnsServer) twin(t *testing.T, handle func(req dnsmessage.Message, tcp bool) []dnsmessage.Message) *dnsServer {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.2:%d", s.port)
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Skipf("second nameserver on %s: %v", addr, err)
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		pc.Close()
		t.Skipf("second nameserver on %s: %v", addr, err)
	}
	o := &dnsServer{port: s.port, handle: handle}
	o.wg.Go(func() { o.serveUDP(pc) })
	o.wg.Go(func() { o.serveTCP(ln) })
	t.Cleanup(func() { pc.Close(); ln.Close(); o.wg.Wait() })
	return o
}

// A server that does not recurse answers with no record and no flag
// (not authoritative, no recursion available, nothing more): a lame
// referral, not "no such record". glibc and Go ask the next server; runw
// gave up with NODATA there.
func TestLameReferralAsksTheNextServer(t *testing.T) {
	lame := startServer(t, func(req dnsmessage.Message, _ bool) []dnsmessage.Message {
		m := reply(req, dnsmessage.RCodeSuccess)
		m.RecursionAvailable = false
		return []dnsmessage.Message{m}
	})
	good := lame.twin(t, zone(a("web.test.", "192.0.2.1")))
	r := lame.resolver("nameserver 127.0.0.2\noptions timeout:1 attempts:1\n", nil)
	res, err := r.lookup(context.Background(), Query{Node: "web.test", Family: FamilyIPv4, SockType: SockStream})
	if want := []string{"192.0.2.1 0 2"}; err != nil || !slices.Equal(show(res), want) {
		t.Errorf("got %q %v, want %q from the second server", show(res), err, want)
	}
	if len(good.log()) != 1 {
		t.Errorf("the second server was asked %q, want once", good.log())
	}
	// An authoritative empty answer is NODATA, from the first server.
	auth := startServer(t, func(req dnsmessage.Message, _ bool) []dnsmessage.Message {
		m := reply(req, dnsmessage.RCodeSuccess)
		m.RecursionAvailable, m.Authoritative = false, true
		return []dnsmessage.Message{m}
	})
	other := auth.twin(t, zone(a("web.test.", "192.0.2.1")))
	_, err = auth.resolver("nameserver 127.0.0.2\noptions timeout:1 attempts:1\n", nil).lookup(context.Background(), Query{Node: "web.test", Family: FamilyIPv4})
	if codeOf(err) != CodeNoData || len(other.log()) != 0 {
		t.Errorf("an authoritative empty answer: %v, second server asked %q; want NODATA from the first", err, other.log())
	}
}

// options use-vc: every query over TCP, as glibc and Go send it.
func TestUseVCAsksOverTCP(t *testing.T) {
	full := zone(a("web.test.", "192.0.2.1"))
	s := startServer(t, func(req dnsmessage.Message, tcp bool) []dnsmessage.Message {
		if !tcp {
			return nil
		}
		return full(req, tcp)
	})
	res, err := s.resolver("options use-vc timeout:1 attempts:1\n", nil).lookup(context.Background(), Query{Node: "web.test", Family: FamilyIPv4, SockType: SockStream})
	if want := []string{"192.0.2.1 0 2"}; err != nil || !slices.Equal(show(res), want) {
		t.Fatalf("got %q %v, want %q", show(res), err, want)
	}
	if want := []string{"tcp A web.test."}; !slices.Equal(s.log(), want) {
		t.Errorf("asked %q, want %q", s.log(), want)
	}
}

// A CNAME chain longer than 8 hops in one reply still ends at its
// address (glibc and Go follow any length); a loop still ends.
func TestLongCNAMEChainAndLoop(t *testing.T) {
	var recs []dnsmessage.Resource
	for i := range 12 {
		recs = append(recs, cname(fmt.Sprintf("h%d.test.", i), fmt.Sprintf("h%d.test.", i+1)))
	}
	recs = append(recs, a("h12.test.", "192.0.2.12"))
	full := zone(recs...)
	loop := zone(cname("l0.test.", "l1.test."), cname("l1.test.", "l0.test."))
	s := startServer(t, func(req dnsmessage.Message, tcp bool) []dnsmessage.Message {
		// One reply with the whole chain, as a recursive server sends it.
		if strings.HasPrefix(req.Questions[0].Name.String(), "l") {
			m := loop(req, tcp)
			m[0].Answers = []dnsmessage.Resource{cname("l0.test.", "l1.test."), cname("l1.test.", "l0.test.")}
			return m
		}
		m := full(req, tcp)
		m[0].Answers = recs
		return m
	})
	r := s.resolver("options timeout:1 attempts:1\n", nil)
	res, err := r.lookup(context.Background(), Query{Node: "h0.test", Family: FamilyIPv4, SockType: SockStream, CanonName: true})
	if want := []string{"192.0.2.12 0 2 h12.test"}; err != nil || !slices.Equal(show(res), want) {
		t.Errorf("12 hops: got %q %v, want %q", show(res), err, want)
	}
	if _, err := r.lookup(context.Background(), Query{Node: "l0.test", Family: FamilyIPv4}); codeOf(err) != CodeNoName {
		t.Errorf("a CNAME loop: %v, want EAI_NONAME, as glibc says", err)
	}
}

// AI_V4MAPPED with AF_INET6: IPv4 addresses as IPv4-mapped IPv6 ones
// when there is no IPv6 one, both with AI_ALL; a numeric IPv4-mapped
// address asked for as IPv4 is its IPv4 address (glibc's gaih_inet).
func TestV4Mapped(t *testing.T) {
	s := startServer(t, zone(a("v4.test.", "192.0.2.1"), a("both.test.", "192.0.2.2"), aaaa("both.test.", "2001:db8::2")))
	r := s.resolver("options timeout:1 attempts:1\n", map[string]string{hostsPath: "192.0.2.9 pinned.test\n"})
	for _, tc := range []struct {
		name string
		q    Query
		want []string
		code Code
	}{
		{"DNS, A only", Query{Node: "v4.test", Family: FamilyIPv6, V4Mapped: true}, []string{"::ffff:192.0.2.1"}, 0},
		{"DNS, both: IPv6 only", Query{Node: "both.test", Family: FamilyIPv6, V4Mapped: true}, []string{"2001:db8::2"}, 0},
		{"DNS, both, AI_ALL", Query{Node: "both.test", Family: FamilyIPv6, V4Mapped: true, All: true}, []string{"2001:db8::2", "::ffff:192.0.2.2"}, 0},
		{"numeric IPv4", Query{Node: "192.0.2.5", Family: FamilyIPv6, V4Mapped: true}, []string{"::ffff:192.0.2.5"}, 0},
		{"hosts", Query{Node: "pinned.test", Family: FamilyIPv6, V4Mapped: true}, []string{"::ffff:192.0.2.9"}, 0},
		{"without the flag", Query{Node: "v4.test", Family: FamilyIPv6}, nil, CodeNoData},
		{"ignored for IPv4", Query{Node: "both.test", Family: FamilyIPv4, V4Mapped: true}, []string{"192.0.2.2"}, 0},
		{"mapped numeric as IPv4", Query{Node: "::ffff:192.0.2.1", Family: FamilyIPv4}, []string{"192.0.2.1"}, 0},
		{"mapped numeric, any family", Query{Node: "::ffff:192.0.2.1"}, []string{"::ffff:192.0.2.1"}, 0},
	} {
		tc.q.SockType = SockStream
		res, err := r.lookup(context.Background(), tc.q)
		var got []string
		for _, x := range res {
			got = append(got, x.IP.String())
		}
		if codeOf(err) != tc.code || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q %v, want %q code %d", tc.name, got, err, tc.want, tc.code)
		}
	}
}

// Replies from a broken or hostile server, checked against glibc 2.36's
// getaddrinfo on the same replies: an A or AAAA record whose data is not
// 4 or 16 bytes is skipped (dnsmessage would read it as an address made
// of whatever bytes follow); a UDP reply larger than the EDNS size offered,
// sent without TC, is read whole; a reply with records but no address of
// the name (only a CNAME) is EAI_NONAME and ends the search list.
func TestHostileRepliesAsGlibc(t *testing.T) {
	raw := func(name string, typ dnsmessage.Type, data []byte) dnsmessage.Resource {
		return rr(name, typ, &dnsmessage.UnknownResource{Type: typ, Data: data})
	}
	v6 := netip.MustParseAddr("fd00::1").As16()
	v4 := netip.MustParseAddr("10.9.0.1").As4()
	var many []dnsmessage.Resource
	for i := range 80 {
		many = append(many, a("many.test.", fmt.Sprintf("10.9.1.%d", i+1)))
	}
	s := startServer(t, func(req dnsmessage.Message, _ bool) []dnsmessage.Message {
		q := req.Questions[0]
		ok := func(rrs ...dnsmessage.Resource) []dnsmessage.Message {
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeSuccess, rrs...)}
		}
		switch name := q.Name.String(); {
		case name == "swap.test.":
			return ok(raw(name, dnsmessage.TypeA, v6[:]))
		case name == "swapmix.test.":
			return ok(raw(name, dnsmessage.TypeAAAA, v4[:]), aaaa(name, "fd00::2"))
		case name == "rdlenmix.test.":
			return ok(raw(name, dnsmessage.TypeA, append(v4[:], 7)), a(name, "10.9.0.2"))
		case name == "many.test.":
			return ok(many...)
		case strings.HasPrefix(name, "alias."):
			return ok(cname(name, "elsewhere.test."))
		case name == "mute6.test.":
			if q.Type == dnsmessage.TypeA {
				return ok(a(name, "10.9.0.7"))
			}
			return nil // never answered, past the lookup's deadline
		case name == "nodfe.test." && q.Type == dnsmessage.TypeAAAA, name == "fenod.test." && q.Type == dnsmessage.TypeA:
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeFormatError)}
		case name == "nxnod.test." && q.Type == dnsmessage.TypeA:
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeNameError)}
		case name == "nodfe.test.", name == "fenod.test.", name == "nxnod.test.":
			return ok()
		case q.Type == dnsmessage.TypeAAAA && strings.HasSuffix(name, "sf.test."):
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeServerFailure)}
		case q.Type == dnsmessage.TypeAAAA && strings.HasSuffix(name, "ref.test."):
			return []dnsmessage.Message{reply(req, dnsmessage.RCodeRefused)}
		case q.Type == dnsmessage.TypeAAAA && strings.HasSuffix(name, "to.test."):
			return nil // silence
		case strings.HasPrefix(name, "cn"):
			return ok(cname(name, "elsewhere.test."))
		case strings.HasPrefix(name, "nod"):
			return ok()
		}
		return []dnsmessage.Message{reply(req, dnsmessage.RCodeNameError)}
	})
	r := s.resolver("search svc.test\noptions timeout:1 attempts:1\n", nil)
	for _, tc := range []struct {
		node   string
		family int
		want   []string
		code   Code
	}{
		{"swap.test", FamilyIPv4, nil, CodeNoName},
		{"swapmix.test", FamilyIPv6, []string{"fd00::2 0 2"}, 0},
		{"rdlenmix.test", FamilyIPv4, []string{"10.9.0.2 0 2"}, 0},
		{"alias", FamilyIPv4, nil, CodeNoName},
		{"alias", FamilyIPv6, nil, CodeNoName},
		// A and AAAA together (getaddrinfo's default): one question's
		// definite answer decides over the other's failure or silence,
		// as glibc keeps the reply it got.
		{"cnsf.test.", 0, nil, CodeNoName},
		{"cnref.test.", 0, nil, CodeNoName},
		{"cnto.test", 0, nil, CodeNoName},
		{"nodsf.test", 0, nil, CodeNoData},
		{"nodto.test", 0, nil, CodeNoData},
		// A reply of FORMERR or NXDOMAIN to one question and NODATA to
		// the other: glibc takes the rcode, EAI_NONAME.
		{"nodfe.test.", 0, nil, CodeNoName},
		{"fenod.test.", 0, nil, CodeNoName},
		{"nxnod.test.", 0, nil, CodeNoName},
	} {
		res, err := r.lookup(context.Background(), Query{Node: tc.node, Family: tc.family, SockType: SockStream})
		if codeOf(err) != tc.code || !slices.Equal(show(res), tc.want) {
			t.Errorf("%s (family %d): got %q %v, want %q code %d", tc.node, tc.family, show(res), err, tc.want, tc.code)
		}
	}
	// The address of one question stands when the other is still
	// unanswered at the lookup's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if res, err := r.lookup(ctx, Query{Node: "mute6.test.", SockType: SockStream}); err != nil || !slices.Equal(show(res), []string{"10.9.0.7 0 2"}) {
		t.Errorf("A answered, AAAA silent past the deadline: got %q %v, want the A record", show(res), err)
	}
	// The CNAME-only reply for the first search name is the answer: the
	// name as it is is not asked after it.
	for _, l := range s.log() {
		if strings.HasSuffix(l, " alias.") {
			t.Errorf("asked %q after a CNAME-only reply for alias.svc.test.", l)
		}
	}
	res, err := r.lookup(context.Background(), Query{Node: "many.test", Family: FamilyIPv4, SockType: SockStream})
	if err != nil || len(res) != 64 {
		t.Errorf("80 A records over UDP without TC: got %d results, %v; want the first 64", len(res), err)
	}
	for _, l := range s.log() {
		if strings.HasPrefix(l, "tcp ") {
			t.Errorf("asked over TCP: %q", l)
		}
	}
}

// A CNAME target that is no host name (a terminal escape and a newline, a
// NUL, a leading '-') still leads to the addresses, but is never handed to
// the guest as its canonical name: as glibc, the last valid name of the
// chain (else the name asked) is. Found by a review that attacked the
// resolver.
func TestCanonNameIsAHostName(t *testing.T) {
	bad := []string{"ev il\x1b[31m\n.test.", "x\x00y.test.", "be\x07ll.test."}
	var recs []dnsmessage.Resource
	recs = append(recs,
		cname("escape.test.", bad[0]), a(bad[0], "192.0.2.5"),
		cname("nul.test.", bad[1]), a(bad[1], "192.0.2.6"),
		cname("mid.test.", bad[2]), cname(bad[2], "End.test."), a("end.test.", "192.0.2.7"),
		cname("mix.test.", "Good.test."), cname("good.test.", "mi\x1bx.test."), a("mi\x1bx.test.", "192.0.2.8"),
		cname("dash.test.", "-oProxyCommand.test."), a("-oProxyCommand.test.", "192.0.2.9"),
	)
	s := startServer(t, func(req dnsmessage.Message, tcp bool) []dnsmessage.Message {
		m := reply(req, dnsmessage.RCodeSuccess)
		if req.Questions[0].Type == dnsmessage.TypeA {
			m.Answers = recs
		}
		return []dnsmessage.Message{m}
	})
	r := s.resolver("options timeout:1 attempts:1\n", nil)
	for node, want := range map[string]string{
		"escape.test": "192.0.2.5 0 2 escape.test",
		"nul.test":    "192.0.2.6 0 2 nul.test",
		"mid.test":    "192.0.2.7 0 2 End.test",
		"mix.test":    "192.0.2.8 0 2 Good.test",
		"dash.test":   "192.0.2.9 0 2 dash.test",
	} {
		res, err := r.lookup(context.Background(), Query{Node: node, Family: FamilyIPv4, SockType: SockStream, CanonName: true})
		if got := show(res); err != nil || !slices.Equal(got, []string{want}) {
			t.Errorf("%s: got %q %v, want %q", node, got, err, want)
		}
	}
}

// A server that knows no EDNS answers a query offering it with FORMERR
// (RFC 6891, section 7), with or without the question: the name is asked
// again without, and resolves, as under glibc, which offers no EDNS by
// default (runw's resolver had given EAI_NONAME, or, for a FORMERR with no
// question, waited for its timeout). A FORMERR to the plain query too is
// the answer.
func TestNoEDNSServerAskedAgainWithout(t *testing.T) {
	answer := zone(a("old.test.", "192.0.2.40"), a("bare.test.", "192.0.2.41"))
	s := startServer(t, func(req dnsmessage.Message, tcp bool) []dnsmessage.Message {
		if len(req.Additionals) > 0 || req.Questions[0].Name.String() == "broken.test." {
			m := reply(req, dnsmessage.RCodeFormatError)
			if req.Questions[0].Name.String() == "bare.test." {
				m.Questions = nil // as many such servers answer: no question
			}
			return []dnsmessage.Message{m}
		}
		return answer(req, tcp)
	})
	r := s.resolver("options timeout:1 attempts:1\n", nil)
	res, err := r.lookup(context.Background(), Query{Node: "old.test", Family: FamilyIPv4, SockType: SockStream})
	if want := []string{"192.0.2.40 0 2"}; err != nil || !slices.Equal(show(res), want) {
		t.Errorf("got %q %v, want %q", show(res), err, want)
	}
	if want := []string{"udp A old.test.", "udp A old.test."}; !slices.Equal(s.log(), want) {
		t.Errorf("asked %q, want %q (with EDNS, then without)", s.log(), want)
	}
	res, err = r.lookup(context.Background(), Query{Node: "bare.test", Family: FamilyIPv4, SockType: SockStream})
	if want := []string{"192.0.2.41 0 2"}; err != nil || !slices.Equal(show(res), want) {
		t.Errorf("a FORMERR without the question: got %q %v, want %q", show(res), err, want)
	}
	if _, err := r.lookup(context.Background(), Query{Node: "broken.test", Family: FamilyIPv4}); codeOf(err) != CodeNoName {
		t.Errorf("a FORMERR to the query without EDNS too: %v, want EAI_NONAME, as glibc says", err)
	}
}

// options no-aaaa (glibc 2.36) sends no AAAA question: a lookup of any
// family gets the IPv4 addresses alone, and an IPv6 one finds no data,
// as under glibc; runw asked both (found by a review that compared the
// resolver with glibc).
func TestNoAAAAOption(t *testing.T) {
	s := startServer(t, zone(a("web.test.", "192.0.2.1"), aaaa("web.test.", "2001:db8::1")))
	r := s.resolver("options timeout:1 attempts:1 no-aaaa\n", nil)
	res, err := r.lookup(context.Background(), Query{Node: "web.test", SockType: SockStream})
	if want := []string{"192.0.2.1 0 2"}; err != nil || !slices.Equal(show(res), want) {
		t.Errorf("any family: got %q %v, want %q", show(res), err, want)
	}
	if _, err := r.lookup(context.Background(), Query{Node: "web.test", Family: FamilyIPv6}); codeOf(err) != CodeNoData {
		t.Errorf("IPv6: %v, want EAI_NODATA", err)
	}
	if want := []string{"udp A web.test."}; !slices.Equal(s.log(), want) {
		t.Errorf("asked %q, want %q", s.log(), want)
	}
}
