package integration

// Guests that serve and dial inside the container's network namespace
// (issue 10): real servers and clients built here (Go for GOOS=wasip1, Go
// with github.com/stealthrocket/net, C with wasi-libc, WAT), run by runw in
// a network namespace the test makes, joined to the host by a veth pair
// with addresses from 10.213.0.0/16 (a test-only range: only hosts the test
// itself makes ever get one). The host side talks to them with Go's own
// client and curl, and answers them with servers the test runs: HTTP, TCP
// echo and a tiny DNS resolver.
//
// The names guests see are those of docs and notes/net-contract.md:
// RUNW_LISTEN (process env) asks runw for preopened listeners, runw tells
// the guest their descriptors in RUNW_LISTEN_FDS; annotations
// io.github.runw.net, .net.listen, .net.connect grant and narrow sockets.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/dns/dnsmessage"
)

// WASI errnos the tests expect (notes/net-contract.md, NETWORKING.md a2).
const (
	errnoAcces    = 2
	errnoAgain    = 6
	errnoBadf     = 8
	errnoInval    = 28
	errnoNotsock  = 57
	errnoPipe     = 64
	statusSIGTERM = 143
)

// ---- guests ----

var (
	netGuestsMu sync.Mutex
	netGuests   = map[string]*netGuestBuild{}
)

type netGuestBuild struct {
	once sync.Once
	path string
	skip string // why the guest cannot be built on this machine
	err  error
}

// netGuest returns the network guest named name, built once per test run
// next to the runw binary, its compiled form put in the shared cache:
//
//	hello         testdata/net/hello, GOOS=wasip1: HTTP on the preopened listener
//	hello-native  the same program for linux/amd64, static (the benchmark's baseline)
//	sserver       testdata/net/stealth/server: HTTP on wasip1.Listen (WasmEdge sockets)
//	sclient       testdata/net/stealth/client: HTTP GET, names resolved in the guest
//	sclient-gai   the same client with -tags getaddrinfo: names resolved by runw
//	echo          testdata/net/c/echo.c: wasi-libc accept/recv/send echo server
//	netc          testdata/net/c/netc.c: sock_open/bind/connect through declared imports
//	isatty        testdata/c/isatty.c: wasi-libc's isatty of the standard streams
//	edges         testdata/c/edges.c: WASI calls at their edges (TestWASIEdgesAsWasmtime)
//	append        testdata/c/append.c: O_APPEND set on stdout with fcntl
//	access        testdata/c/access.c: access(W_OK), then open(O_WRONLY) and a write
//	bigwrite      testdata/c/bigwrite.c: 64 raw 1 MiB writes to stdout, short ones counted
//	emfile        testdata/c/emfile.c: stat and open of a nested path at RLIMIT_NOFILE
//	devread       testdata/c/devread.c: raw 4 MiB reads of /dev/urandom and /dev/zero, short ones counted
//	ssockets      testdata/net/stealth/sockets: Go's net API at its edges (TestNetGoSocketsAsNative)
//	ssockets-native the same program for linux/amd64
//	sockets       testdata/net/c/sockets.c: TCP and UDP at their edges (TestNetSocketsAsNative)
//	sockets-native the same program for Linux, built with gcc
//	v1, v2, open  testdata/net/wat/NAME.wat, as they are (runw reads WAT)
//
// A C guest skips the test when clang cannot target wasm32-wasi (Debian:
// clang lld wasi-libc libclang-rt-14-dev-wasm32, installed by deps.sh).
func netGuest(t testing.TB, name string) string {
	t.Helper()
	netGuestsMu.Lock()
	b := netGuests[name]
	if b == nil {
		b = &netGuestBuild{}
		netGuests[name] = b
	}
	netGuestsMu.Unlock()
	b.once.Do(func() { b.path, b.skip, b.err = buildNetGuest(name) })
	if b.skip != "" {
		t.Skip(b.skip)
	}
	if b.err != nil {
		t.Fatalf("build the %s guest: %v", name, b.err)
	}
	return b.path
}

func buildNetGuest(name string) (path, skip string, err error) {
	root, err := repoRoot()
	if err != nil {
		return "", "", err
	}
	src := filepath.Join(root, "integration", "testdata", "net")
	dir := filepath.Join(filepath.Dir(runwBin), "net")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	wasip1 := []string{"GOOS=wasip1", "GOARCH=wasm"}
	out := filepath.Join(dir, name+".wasm")
	switch name {
	case "hello":
		err = goBuild(filepath.Join(src, "hello"), wasip1, out, ".")
	case "hello-native":
		out = filepath.Join(dir, name)
		err = goBuild(filepath.Join(src, "hello"), []string{"CGO_ENABLED=0", "GOOS=linux"}, out, ".")
		return out, "", err
	case "sserver":
		err = goBuild(filepath.Join(src, "stealth"), wasip1, out, "./server")
	case "ssockets":
		err = goBuild(filepath.Join(src, "stealth"), wasip1, out, "./sockets")
	case "ssockets-native":
		out = filepath.Join(dir, name)
		err = goBuild(filepath.Join(src, "stealth"), []string{"CGO_ENABLED=0", "GOOS=linux"}, out, "./sockets")
		return out, "", err
	case "sclient":
		err = goBuild(filepath.Join(src, "stealth"), wasip1, out, "./client")
	case "sclient-gai":
		err = goBuild(filepath.Join(src, "stealth"), append(wasip1, "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -tags=getaddrinfo")), out, "./client")
	case "sockets-native":
		out = filepath.Join(dir, name)
		cmd := exec.Command("gcc", "-O2", "-Wall", "-o", out, filepath.Join(src, "c", "sockets.c"))
		if b, err := cmd.CombinedOutput(); err != nil {
			if !compilerWorks("gcc") {
				return "", fmt.Sprintf("cannot build the native sockets program with gcc: %v: %s", err, lastLines(string(b), 3)), nil
			}
			return "", "", fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, lastLines(string(b), 5))
		}
		return out, "", nil
	case "echo", "netc", "isatty", "edges", "sockets", "append", "access", "bigwrite", "emfile", "devread":
		file := filepath.Join(src, "c", name+".c")
		if name != "echo" && name != "netc" && name != "sockets" { // not a network guest
			file = filepath.Join(root, "integration", "testdata", "c", name+".c")
		}
		cmd := exec.Command("clang", "--target=wasm32-wasi", "-O2", "-Wall", "-o", out, file)
		if b, err := cmd.CombinedOutput(); err != nil {
			if !compilerWorks("clang", "--target=wasm32-wasi") {
				return "", fmt.Sprintf("cannot build the C guest %s with clang --target=wasm32-wasi (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32; integration/deps.sh installs them): %v: %s", name, err, lastLines(string(b), 3)), nil
			}
			return "", "", fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, lastLines(string(b), 5))
		}
	case "rust":
		rustc, target := rustWasi()
		if rustc == "" {
			return "", "cannot build the Rust guest: no rustc here has a wasm32-wasip1 (or wasm32-wasi) standard library (Debian: rustc libstd-rust-dev-wasm32; integration/deps.sh installs them)", nil
		}
		cmd := exec.Command(rustc, "--edition", "2021", "-O", "-C", "strip=debuginfo", "--target", target, "-o", out, filepath.Join(src, "rust", "server.rs"))
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, lastLines(string(b), 5))
		}
	case "v1", "v2", "open", "v2names", "hup":
		return filepath.Join(src, "wat", name+".wat"), "", nil
	default:
		return "", "", fmt.Errorf("no network guest %q", name)
	}
	if err != nil {
		return "", "", err
	}
	// Compile it into the shared cache now, once: a Go guest takes seconds
	// to compile, which would otherwise count against a test's timeouts.
	if b, err := exec.Command(runwBin, "--cache-dir", cacheDir, "compile", out).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("runw compile %s: %v: %s", out, err, b)
	}
	return out, "", nil
}

// compilerWorks says the C compiler (with its flags) builds a program of
// nothing, so that a test's own source that does not build fails the
// test: skipped as a missing toolchain, a compile error in sockets.c went
// unseen.
func compilerWorks(cc string, flags ...string) bool {
	dir, err := os.MkdirTemp("", "runw-cc-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "empty.c")
	if os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644) != nil {
		return false
	}
	return exec.Command(cc, append(flags, "-o", filepath.Join(dir, "empty"), src)...).Run() == nil
}

// rustWasi finds a rustc with the standard library for preview1 and that
// target's name: Debian's /usr/bin/rustc with libstd-rust-dev-wasm32
// calls it wasm32-wasi, newer toolchains wasm32-wasip1. A rustup rustc
// earlier in PATH often has no wasm target at all, so each is asked.
func rustWasi() (rustc, target string) {
	for _, bin := range []string{"rustc", "/usr/bin/rustc"} {
		for _, t := range []string{"wasm32-wasip1", "wasm32-wasi"} {
			dir, err := exec.Command(bin, "--print", "target-libdir", "--target", t).Output()
			if err != nil {
				continue
			}
			if libs, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(dir)), "libstd-*.rlib")); len(libs) > 0 {
				return bin, t
			}
		}
	}
	return "", ""
}

// netBundle lays out a bundle running module (a path) with args; the
// module sits at the rootfs root and args[0] is its guest path.
func netBundle(t *testing.T, module string, args ...string) *bundle {
	t.Helper()
	dir := t.TempDir()
	b := &bundle{t: t, dir: dir, rootfs: filepath.Join(dir, "rootfs")}
	if err := os.Mkdir(b.rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(module)
	if err := copyFile(module, filepath.Join(b.rootfs, name)); err != nil {
		t.Fatal(err)
	}
	b.spec = defaultSpec(append([]string{"/" + name}, args...)...)
	b.save()
	return b
}

// inNetns puts the bundle's process in the network namespace at path,
// with env added to process.env and annotations set.
func (b *bundle) inNetns(path string, env []string, annotations map[string]string) {
	b.edit(func(s *specs.Spec) {
		if path != "" {
			if s.Linux == nil {
				s.Linux = &specs.Linux{}
			}
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: path})
		}
		s.Process.Env = append(s.Process.Env, env...)
		if len(annotations) > 0 {
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			for k, v := range annotations {
				s.Annotations[k] = v
			}
		}
	})
}

// ---- network namespaces ----

// vethNet is a network namespace made by the test, joined to the host's
// by a veth pair on a /30 of 10.213.0.0/16: host is the host side's
// address, guest the namespace side's (its eth0). Loopback is up in it.
type vethNet struct {
	name, path  string
	host, guest string
	hostIf      string
}

var (
	vethMu   sync.Mutex
	vethNext = os.Getpid() % 250
)

// newVethNet makes the namespace and the pair; both are removed when t
// ends, whatever happened. It skips unless run as root with ip(8).
func newVethNet(t testing.TB) *vethNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace and a veth pair")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("needs ip(8) (Debian iproute2, installed by integration/deps.sh): %v", err)
	}
	vethMu.Lock()
	defer vethMu.Unlock()
	var n int
	for tries := 0; ; tries++ {
		if tries == 250 {
			t.Fatal("no free /30 left in 10.213.0.0/16 for a veth pair")
		}
		vethNext = vethNext%250 + 1
		n = vethNext
		if !hostHasAddrIn(fmt.Sprintf("10.213.%d.", n)) {
			break
		}
	}
	v := &vethNet{
		name:   fmt.Sprintf("runw-net-%d-%d", os.Getpid(), n),
		host:   fmt.Sprintf("10.213.%d.1", n),
		guest:  fmt.Sprintf("10.213.%d.2", n),
		hostIf: fmt.Sprintf("rw%dh%d", os.Getpid()%100000, n),
	}
	v.path = "/var/run/netns/" + v.name
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", v.name)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", v.hostIf).Run()
		if out, err := exec.Command("ip", "netns", "del", v.name).CombinedOutput(); err != nil {
			t.Logf("ip netns del %s: %v: %s", v.name, err, out)
		}
	})
	run("link", "add", v.hostIf, "type", "veth", "peer", "name", "eth0", "netns", v.name)
	run("addr", "add", v.host+"/30", "dev", v.hostIf)
	run("link", "set", v.hostIf, "up")
	run("-n", v.name, "addr", "add", v.guest+"/30", "dev", "eth0")
	run("-n", v.name, "link", "set", "eth0", "up")
	run("-n", v.name, "link", "set", "lo", "up")
	return v
}

// hostHasAddrIn reports whether an interface of the host's namespace has
// an IPv4 address starting with prefix (another test's veth).
func hostHasAddrIn(prefix string) bool {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), prefix) {
			return true
		}
	}
	return false
}

// ---- servers the test runs on the host side ----

// hostHTTP serves body on addr:0 and returns the port.
func hostHTTP(t testing.TB, addr, body string) int {
	t.Helper()
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// hostEcho is a TCP echo server on addr:0: each connection gets back what
// it sent, until it closes its side. accepted counts connections.
type hostEcho struct {
	port     int
	accepted atomic.Int32
}

func newHostEcho(t testing.TB, addr string) *hostEcho {
	t.Helper()
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e := &hostEcho{port: l.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return e
}

// hostDNS is a tiny DNS server on addr:53 (UDP and TCP) answering A
// queries for its names; every other name is NXDOMAIN, every other type
// an empty answer. asked records each question's name.
type hostDNS struct {
	mu    sync.Mutex
	a     map[string]net.IP
	asked []string
}

func newHostDNS(t testing.TB, addr string, a map[string]string) *hostDNS {
	t.Helper()
	d := &hostDNS{a: map[string]net.IP{}}
	for name, ip := range a {
		d.a[strings.ToLower(strings.TrimSuffix(name, "."))+"."] = net.ParseIP(ip).To4()
	}
	pc, err := net.ListenPacket("udp", addr+":53")
	if err != nil {
		t.Fatalf("DNS server on %s:53: %v", addr, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := d.answer(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	l, err := net.Listen("tcp", addr+":53")
	if err != nil {
		t.Fatalf("DNS server on %s:53/tcp: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var hdr [2]byte
				for {
					if _, err := io.ReadFull(c, hdr[:]); err != nil {
						return
					}
					msg := make([]byte, int(hdr[0])<<8|int(hdr[1]))
					if _, err := io.ReadFull(c, msg); err != nil {
						return
					}
					resp := d.answer(msg)
					if resp == nil {
						return
					}
					c.Write(append([]byte{byte(len(resp) >> 8), byte(len(resp))}, resp...))
				}
			}()
		}
	}()
	return d
}

func (d *hostDNS) answer(query []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(q.Name.String())
	d.mu.Lock()
	d.asked = append(d.asked, name)
	ip, known := d.a[name]
	d.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	if known && q.Type == dnsmessage.TypeA {
		var a dnsmessage.AResource
		copy(a.A[:], ip)
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5}, a)
	}
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	return msg
}

// wasAsked reports whether a question for name reached the server.
func (d *hostDNS) wasAsked(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range d.asked {
		if n == strings.ToLower(name)+"." {
			return true
		}
	}
	return false
}

// ---- talking to guests ----

// netClient is the host's HTTP client for guests: no proxy from the
// environment, short timeouts.
var netClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	Timeout:   10 * time.Second,
}

// waitHTTP polls url until it answers 200, the background runw command
// ends (the guest died) or 90 s pass (a Go guest may still be compiling
// when the cache is cold). It returns the body.
func waitHTTP(t *testing.T, bg *background, url string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		resp, err := netClient.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(body)
			}
			last = fmt.Errorf("status %d: %q", resp.StatusCode, body)
		} else {
			last = err
		}
		if bg != nil {
			select {
			case err := <-bg.done:
				bg.done <- err
				res := bg.wait(t, time.Second)
				t.Fatalf("the guest ended before %s answered: %v", url, res)
			default:
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: no answer after 90 s: %v", url, last)
	return ""
}

// waitOutput polls the background command's stdout file until re matches
// (the guest printed it) and returns the submatches.
func waitOutput(t *testing.T, bg *background, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(bg.stdout.Name())
		if m := re.FindStringSubmatch(string(b)); m != nil {
			return m
		}
		select {
		case err := <-bg.done:
			bg.done <- err
			t.Fatalf("the guest ended before printing %q: %v", re, bg.wait(t, time.Second))
		default:
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(bg.stdout.Name())
	t.Fatalf("the guest never printed %q; stdout so far %q", re, b)
	return nil
}

// echoOnce connects to addr, sends msg, closes the write side and returns
// everything read back.
func echoOnce(addr, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

// stopWith143 sends SIGTERM through `runw kill` and checks that the
// guest's run ends with status 143 (`runw run` then deletes the container). Only the status is asserted; the 30 s
// bound only keeps a hung guest from hanging the run.
func stopWith143(t *testing.T, r *runw, bg *background, id string) result {
	t.Helper()
	if k := r.run("kill", id, "TERM"); k.code != 0 {
		t.Fatalf("runw kill %s TERM: %v; the guest had already ended: %v", id, k, bg.wait(t, 5*time.Second))
	}
	res := bg.wait(t, 30*time.Second)
	if res.code != statusSIGTERM {
		t.Errorf("after SIGTERM: %v, want exit status %d", res, statusSIGTERM)
	}
	return res
}

// fdCount is the number of open descriptors of pid.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("descriptors of %d: %v", pid, err)
	}
	return len(entries)
}

// ---- tests ----

// The Go wasip1 HTTP server serves on the listener runw preopened in the
// container's network namespace: the host reaches it at the namespace's
// address with Go's client and with curl; it still sees a mounted
// directory (the listener comes after the preopened directories); and
// SIGTERM ends it, blocked in poll_oneoff, with 143.
func TestNetGoServerInNetns(t *testing.T) {
	v := newVethNet(t)
	mod := netGuest(t, "hello")
	data := dirWith(t, "greeting.txt", "from a mounted directory\n")
	r := newRunw(t)
	b := netBundle(t, mod)
	b.inNetns(v.path, []string{"RUNW_LISTEN=:8080"}, nil)
	b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount("/data", data, "rbind", "ro")) })
	bg := r.start("run", "-b", b.dir, "gohttp")
	base := "http://" + v.guest + ":8080"

	if got := waitHTTP(t, bg, base+"/"); got != "hello from wasm\n" {
		t.Errorf("GET /: %q, want %q", got, "hello from wasm\n")
	}
	resp, err := netClient.Post(base+"/echo", "text/plain", strings.NewReader("echo me, wasm"))
	if err != nil {
		t.Fatalf("POST /echo: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "echo me, wasm" {
		t.Errorf("POST /echo: %q, want the request body back", body)
	}
	if got := waitHTTP(t, bg, base+"/file?path=/data/greeting.txt"); got != "from a mounted directory\n" {
		t.Errorf("the guest reads /data/greeting.txt as %q", got)
	}
	fds := waitHTTP(t, bg, base+"/fds")
	if fd, err := strconv.Atoi(fds); err != nil || fd < 5 {
		t.Errorf("RUNW_LISTEN_FDS=%q: want one descriptor after stdio, / and /data (>= 5)", fds)
	}
	if _, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command("curl", "-sS", "--noproxy", "*", "--max-time", "10", base+"/").CombinedOutput()
		if err != nil || string(out) != "hello from wasm\n" {
			t.Errorf("curl %s/: %q, %v", base, out, err)
		}
	} else {
		t.Logf("curl not installed: only Go's client was used")
	}
	stopWith143(t, r, bg, "gohttp")
}

// The C echo server (wasi-libc accept/recv/send) on its preopened
// listener, with two directory mounts: wasi-libc finds every preopened
// directory and opens files through them, and the listener's number comes
// right after the last directory's; it is a stream socket, handed over
// non-blocking, that the guest makes blocking (fcntl: fd_fdstat_set_flags).
// SIGTERM ends it, blocked in accept, with 143.
func TestNetCEchoServerAndFdLayout(t *testing.T) {
	v := newVethNet(t)
	mod := netGuest(t, "echo")
	one, two := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(one, "a.txt"), []byte("alpha"), 0o644)
	os.WriteFile(filepath.Join(two, "b.txt"), []byte("beta"), 0o644)
	r := newRunw(t)
	b := netBundle(t, mod, "/one/a.txt", "/two/b.txt")
	b.inNetns(v.path, []string{"RUNW_LISTEN=:7000"}, nil)
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/one", one, "rbind", "ro"), bindMount("/two", two, "rbind", "rw"))
	})
	bg := r.start("run", "-b", b.dir, "cecho")
	m := waitOutput(t, bg, regexp.MustCompile(`(?s)dirs (\d+) last (-?\d+)\n(.*)listener (\d+) (fdstat [^\n]*)\n`))
	dirs, _ := strconv.Atoi(m[1])
	last, _ := strconv.Atoi(m[2])
	listener, _ := strconv.Atoi(m[4])
	// A stream socket (6), non-blocking (NONBLOCK, 4) as wasmtime's
	// tcplisten made it; the guest makes it blocking with fcntl.
	if want := "fdstat 0 filetype 6 flags 4"; m[5] != want {
		t.Errorf("listener %s, want %s", m[5], want)
	}
	if dirs < 3 {
		t.Errorf("wasi-libc found %d preopened directories, want at least 3 (/, /one, /two)", dirs)
	}
	if listener != last+1 {
		t.Errorf("listener fd %d, want the one right after the last directory (%d)", listener, last)
	}
	if want := "file /one/a.txt: alpha\nfile /two/b.txt: beta\n"; m[3] != want {
		t.Errorf("files read through the preopened directories: %q, want %q", m[3], want)
	}
	addr := v.guest + ":7000"
	for _, msg := range []string{"ping\n", strings.Repeat("0123456789", 2000)} {
		got, err := echoOnce(addr, msg)
		if err != nil || got != msg {
			t.Errorf("echo of %d bytes through %s: %d bytes back, %v", len(msg), addr, len(got), err)
		}
	}
	stopWith143(t, r, bg, "cecho")
}

// A Rust std server (testdata/net/rust/server.rs) on the preopened
// listener, the way Rust's preview1 std allows: TcpListener::from_raw_fd,
// set_nonblocking(false), a blocking accept loop. It serves on port 80 as
// an unprivileged user, answers curl and echoes a body bigger than one
// socket read, and SIGTERM ends it blocked in accept with 143.
func TestNetRustStdServer(t *testing.T) {
	v, r, b := onPort80AsUser(t, "rust")
	bg := r.start("run", "-b", b.dir, "rust")
	url := "http://" + v.guest + "/"
	if got := waitHTTP(t, bg, url+"a/b"); got != "hello from rust /a/b\n" {
		t.Errorf("GET /a/b: %q, want %q", got, "hello from rust /a/b\n")
	}
	body := strings.Repeat("0123456789abcdef", 16<<10) // 256 KiB
	for i := 0; i < 3; i++ {
		resp, err := netClient.Post(url+"echo", "application/octet-stream", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST /echo: %v", err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(got) != body {
			t.Errorf("POST /echo of %d bytes: %d bytes back, %v", len(body), len(got), err)
		}
	}
	stopWith143(t, r, bg, "rust")
}

// The Go server built on github.com/stealthrocket/net opens its own
// listening socket through WasmEdge's extension (sock_open, sock_bind,
// sock_listen; V2 shapes) and serves the host.
func TestNetStealthrocketServer(t *testing.T) {
	v := newVethNet(t)
	mod := netGuest(t, "sserver")
	r := newRunw(t)
	b := netBundle(t, mod)
	b.inNetns(v.path, []string{"LISTEN_ADDR=:8081"}, nil)
	bg := r.start("run", "-b", b.dir, "sserver")
	if got := waitHTTP(t, bg, "http://"+v.guest+":8081/"); got != "hello from stealthrocket\n" {
		t.Errorf("GET /: %q, want %q", got, "hello from stealthrocket\n")
	}
	stopWith143(t, r, bg, "sserver")
}

// The stealthrocket HTTP client reaches a server the test runs on the
// host side of the veth, by name: through a DNS server named in the
// container's own /etc/resolv.conf, and through the container's own
// /etc/hosts. Both builds are run: names resolved by Go's resolver in the
// guest (UDP sockets to the resolver) and by runw (sock_getaddrinfo).
func TestNetClientResolvesByName(t *testing.T) {
	v := newVethNet(t)
	port := hostHTTP(t, v.host, "hello from the host\n")
	dns := newHostDNS(t, v.host, map[string]string{"web.runw.test": v.host})
	for _, guest := range []string{"sclient", "sclient-gai"} {
		t.Run(guest, func(t *testing.T) {
			mod := netGuest(t, guest)
			for _, c := range []struct{ name, host string }{
				{"resolv.conf", "web.runw.test"},
				{"hosts", "hostsonly.runw.test"},
			} {
				t.Run(c.name, func(t *testing.T) {
					r := newRunw(t)
					b := netBundle(t, mod, fmt.Sprintf("http://%s:%d/", c.host, port))
					b.writeFile("etc/resolv.conf", "nameserver "+v.host+"\n")
					b.writeFile("etc/hosts", "127.0.0.1 localhost\n"+v.host+" hostsonly.runw.test\n")
					b.inNetns(v.path, nil, nil)
					res := r.run("run", "-b", b.dir, "client")
					if res.code != 0 || res.stdout != "status 200\nhello from the host\n" {
						t.Errorf("%s fetching http://%s:%d/: %v", guest, c.host, port, res)
					}
					if c.name == "resolv.conf" && !dns.wasAsked(c.host) {
						t.Errorf("the DNS server named in the container's resolv.conf was never asked for %s", c.host)
					}
				})
			}
		})
	}
}

// The C client (sock_open and sock_connect declared as imports, wasi-libc
// send/recv/shutdown) reaches an echo server the test runs on the host.
func TestNetCClientConnects(t *testing.T) {
	v := newVethNet(t)
	mod := netGuest(t, "netc")
	echo := newHostEcho(t, v.host)
	r := newRunw(t)
	b := netBundle(t, mod, "connect", v.host, strconv.Itoa(echo.port), "hello host")
	b.inNetns(v.path, nil, nil)
	res := r.run("run", "-b", b.dir, "netc")
	if want := "open=0\nconnect=0\nreply=hello host\n"; res.code != 0 || res.stdout != want {
		t.Errorf("netc connect: %v, want stdout %q", res, want)
	}
}

// socketsChoices are the lines of sockets.c on which the wasm build may
// differ from the native one, with the answer of each (wasm, native):
// wasi-libc's poll() turns an FD_WRITE event with HANGUP into POLLHUP
// alone, where Linux's poll adds POLLOUT, and preview1 has no POLLERR
// but an event's error. runw reports POLLHUP as HANGUP and POLLERR as
// readiness without an error, as WasmEdge does: a reset once came as
// an event with an error ("err" here), which fails the whole poll of
// mio's WASI selector and so ended every tokio server at its first
// client's reset.
var socketsChoices = map[string][2]string{
	"poll closed peer":          {"in hup", "in out hup"},
	"poll closed peer OUT only": {"hup", "out hup"},
	"poll after a reset":        {"in hup", "in err hup"},
	"poll nb refused":           {"hup", "out err hup"},
}

// TestNetSocketsAsNative runs testdata/net/c/sockets.c, TCP and UDP over
// IPv4 and IPv6 loopback at their edges (peek, waitall, half and full
// close, refused and non-blocking connects, a second connect, addresses in
// use, socket options, truncated datagrams), built for wasm under runw and
// built natively, both in the same network namespace made by the test,
// and requires the same line from both but socketsChoices. Until
// December a second connect after a blocking one answered 0 under runw,
// EISCONN natively.
func TestNetSocketsAsNative(t *testing.T) {
	compareWithNative(t, "sockets", 100, socketsChoices)
}

// compareWithNative runs the net guest name under runw and its native
// build (name-native) directly, both in one network namespace made for
// the test, and holds runw's lines to the native ones (compareLines).
func compareWithNative(t *testing.T, name string, min int, choices map[string][2]string) {
	t.Helper()
	v := newVethNet(t)
	native := netGuest(t, name+"-native")
	mod := netGuest(t, name)
	want, err := exec.Command("ip", "netns", "exec", v.name, native).CombinedOutput()
	if err != nil {
		t.Fatalf("%s natively: %v: %s", name, err, want)
	}
	r := newRunw(t)
	b := netBundle(t, mod)
	b.inNetns(v.path, nil, nil)
	res := r.run("run", "-b", b.dir, name)
	if res.code != 0 {
		t.Fatalf("%s under runw: %v", name, res)
	}
	compareLines(t, name, res.stdout, "native", string(want), min, choices)
}

// goSocketsChoices are the lines of testdata/net/stealth/sockets on which
// the wasip1 build differs from the native one (wasm, native), all of them
// stealthrocket/net's: its connections and listeners are made from files
// (net.FileConn, net.FileListener), which report their own close as "use
// of closed file" rather than net.ErrClosed, and its listener has no
// SetDeadline.
var goSocketsChoices = map[string][2]string{
	"write after own close": {"closed file", "closed"},
	"accept after close":    {"closed file", "closed"},
	"accept past deadline":  {"no SetDeadline", "deadline"},
}

// TestNetGoSocketsAsNative runs a Go program of net API edges (deadlines,
// a read blocked during close, the peer's close and CloseWrite, a port in
// use, a refused dial, 200 connections, a short UDP read) built for
// wasip1 on stealthrocket/net under runw, and built natively, in the same
// network namespace, and requires the same line from both but
// goSocketsChoices.
func TestNetGoSocketsAsNative(t *testing.T) {
	compareWithNative(t, "ssockets", 50, goSocketsChoices)
}

// WasmEdge's extension in both shapes, each chosen from the guest's own
// imports: a V1 module (sock_accept with 2 params, sock_getlocaladdr with
// 4) and a V2 module (sock_accept with 3, sock_getlocaladdr with 3 and a
// 128-byte address, sock_recv_from with 8) run TCP and UDP round trips on
// loopback and edge cases; every errno is checked.
func TestNetWasmEdgeV1AndV2Shapes(t *testing.T) {
	netns := testNetnsLoUp(t)
	want := map[string][]string{
		"v1": {
			"open=0", "bind=0", "listen=0", "getlocaladdr=0", "addr_type=4", "port_set=1", "addr0=127",
			"nonblock=0", fmt.Sprintf("accept_empty=%d", errnoAgain),
			"open2=0", fmt.Sprintf("bind_badlen=%d", errnoInval), fmt.Sprintf("connect_badlen=%d", errnoInval),
			"connect=0", "accept=0", "send=0", "recv=0", "recv_n=4",
			fmt.Sprintf("connect_badfd=%d", errnoBadf), fmt.Sprintf("accept_badfd=%d", errnoBadf),
			fmt.Sprintf("accept_notsock=%d", errnoNotsock), fmt.Sprintf("getlocaladdr_badfd=%d", errnoBadf),
			"udp_open=0", "udp_bind=0", "udp_getlocaladdr=0", "send_to=0", "recv_from=0", "recv_from_n=4",
			"done=0",
		},
		"v2": {
			"open=0", "bind_storage=0", "listen=0", "getlocaladdr=0", "family=1", "port_set=1", "addr0=127",
			"nonblock=0", fmt.Sprintf("accept_empty=%d", errnoAgain),
			"open2=0", fmt.Sprintf("connect_badlen=%d", errnoInval),
			"connect=0", "accept=0", "filetype=6", "accepted_nonblock=4", "send=0", "recv=0", "recv_n=4",
			fmt.Sprintf("connect_badfd=%d", errnoBadf), fmt.Sprintf("accept_badfd=%d", errnoBadf),
			fmt.Sprintf("accept_notsock=%d", errnoNotsock), fmt.Sprintf("getlocaladdr_badfd=%d", errnoBadf),
			"shutdown_wr=0", fmt.Sprintf("send_after_shutdown=%d", errnoPipe),
			"udp_open=0", "udp_bind=0", "udp_getlocaladdr=0", "send_to=0", "recv_from=0", "recv_from_n=4",
			"recv_from_port=1", "recv_from_family=1",
			"done=0",
		},
	}
	for _, name := range []string{"v1", "v2"} {
		t.Run(name, func(t *testing.T) {
			r := newRunw(t)
			b := netBundle(t, netGuest(t, name))
			b.inNetns(netns, nil, nil)
			res := r.run("run", "-b", b.dir, name)
			if res.stdout == "" {
				t.Fatalf("%s printed nothing: %v", name, res)
			}
			if res.code != 0 {
				t.Errorf("%s: %v", name, res)
			}
			wantLines(t, stepNames(name, len(want[name])), res, want[name])
		})
	}
}

// stepNames labels the lines of a WAT guest's output for wantLines
// (containerview_test.go): "name line N".
func stepNames(name string, n int) []string {
	what := make([]string, n)
	for i := range what {
		what[i] = fmt.Sprintf("%s line %d", name, i+1)
	}
	return what
}

// WasmEdge compatibility beyond the two shapes, each a difference a guest
// written for WasmEdge met under runw: v2names imports the extension by
// the "_v2" names WasmEdge also exports (wasimodule.cpp), and hup checks
// that poll_oneoff sets HANGUP as WasmEdge does, on a full hangup
// (POLLHUP) and never on a half-close (POLLRDHUP) alone.
func TestNetWasmEdgeCompat(t *testing.T) {
	netns := testNetnsLoUp(t)
	want := map[string][]string{
		"v2names": {
			"open=0", "bind=0", "listen=0", "getlocaladdr=0", "port_set=1", "connect=0", "accept=0",
			"send=0", "recv=0", "recv_n=4", "getpeeraddr=0", "peer_family=1", "peer_port_set=1",
			"udp_open=0", "udp_bind=0", "udp_getlocaladdr=0", "send_to=0", "recv_from=0", "recv_from_n=4",
			"recv_from_port=1", "recv_from_family=1", "done=0",
		},
		"hup": {
			"open=0", "bind=0", "listen=0", "getlocaladdr=0", "connect=0", "accept=0", "shutdown_peer_wr=0",
			"poll_fin=0", "nevents_fin=1", "type_fin=1", "error_fin=0", "hangup_fin=0",
			"recv=0", "recv_n=0", "shutdown_wr=0",
			"poll_both=0", "nevents_both=1", "type_both=1", "error_both=0", "hangup_both=1",
			"done=0",
		},
	}
	for _, name := range []string{"v2names", "hup"} {
		t.Run(name, func(t *testing.T) {
			r := newRunw(t)
			b := netBundle(t, netGuest(t, name))
			b.inNetns(netns, nil, nil)
			res := r.run("run", "-b", b.dir, name)
			if res.code != 0 {
				t.Errorf("%s: %v", name, res)
			}
			wantLines(t, stepNames(name, len(want[name])), res, want[name])
		})
	}
}

// The network grant: a guest in the host's network namespace (no network
// entry) cannot open a socket unless annotation io.github.runw.net=allow
// grants it; io.github.runw.net=deny refuses sockets even in the
// container's own namespace.
func TestNetGrantHostNetnsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for the network namespace case")
	}
	netns := testNetns(t)
	for _, c := range []struct {
		name        string
		netns       string
		annotations map[string]string
		want        string
	}{
		{"HostNetnsNoGrant", "", nil, fmt.Sprintf("open=%d\n", errnoAcces)},
		{"HostNetnsAllowed", "", map[string]string{"io.github.runw.net": "allow"}, "open=0\n"},
		{"OwnNetns", netns, nil, "open=0\n"},
		{"OwnNetnsDenied", netns, map[string]string{"io.github.runw.net": "deny"}, fmt.Sprintf("open=%d\n", errnoAcces)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRunw(t)
			b := netBundle(t, netGuest(t, "open"))
			b.inNetns(c.netns, nil, c.annotations)
			res := r.run("run", "-b", b.dir, "open")
			if res.code != 0 || res.stdout != c.want {
				t.Errorf("sock_open: %v, want stdout %q", res, c.want)
			}
		})
	}
	// The C client, the same: EACCES from sock_open, and it says so.
	t.Run("CClientHostNetns", func(t *testing.T) {
		r := newRunw(t)
		b := netBundle(t, netGuest(t, "netc"), "open")
		res := r.run("run", "-b", b.dir, "netc")
		if want := fmt.Sprintf("open=%d\n", errnoAcces); res.code != 1 || res.stdout != want {
			t.Errorf("netc open in the host netns: %v, want exit 1 and %q", res, want)
		}
	})
}

// A narrowed grant: io.github.runw.net.connect lets the guest reach one
// host port and refuses another with EACCES before any packet leaves (the
// refused server never sees a connection); io.github.runw.net.listen lets
// it bind one port and not another.
func TestNetGrantNarrowed(t *testing.T) {
	v := newVethNet(t)
	mod := netGuest(t, "netc")
	allowed, refused := newHostEcho(t, v.host), newHostEcho(t, v.host)
	run := netcUnder(v, mod, map[string]string{
		"io.github.runw.net.connect": fmt.Sprintf("%s/32:%d", v.host, allowed.port),
		"io.github.runw.net.listen":  "8080",
	})
	t.Run("ConnectInside", func(t *testing.T) {
		res := run(t, "connect", v.host, strconv.Itoa(allowed.port), "inside")
		if want := "open=0\nconnect=0\nreply=inside\n"; res.code != 0 || res.stdout != want {
			t.Errorf("connect inside the grant: %v, want %q", res, want)
		}
	})
	t.Run("ConnectOutside", func(t *testing.T) {
		res := run(t, "connect", v.host, strconv.Itoa(refused.port), "outside")
		if want := fmt.Sprintf("open=0\nconnect=%d\n", errnoAcces); res.code != 1 || res.stdout != want {
			t.Errorf("connect outside the grant: %v, want exit 1 and %q", res, want)
		}
		if n := refused.accepted.Load(); n != 0 {
			t.Errorf("the server outside the grant accepted %d connections", n)
		}
	})
	t.Run("BindInside", func(t *testing.T) {
		if res := run(t, "bind", "8080"); res.code != 0 || res.stdout != "open=0\nbind=0\n" {
			t.Errorf("bind 8080 with listen=8080: %v", res)
		}
	})
	t.Run("BindOutside", func(t *testing.T) {
		want := fmt.Sprintf("open=0\nbind=%d\n", errnoAcces)
		if res := run(t, "bind", "9090"); res.code != 1 || res.stdout != want {
			t.Errorf("bind 9090 with listen=8080: %v, want exit 1 and %q", res, want)
		}
	})
}

// netcUnder runs the C client mod with args in v's namespace under the
// annotations grant.
func netcUnder(v *vethNet, mod string, grant map[string]string) func(t *testing.T, args ...string) result {
	return func(t *testing.T, args ...string) result {
		r := newRunw(t)
		b := netBundle(t, mod, args...)
		b.inNetns(v.path, nil, grant)
		return r.run("run", "-b", b.dir, "netc")
	}
}

// An annotation present but empty narrows to nothing (docs/networking.md),
// through the real path: the grant crosses the init's pipe as JSON, where
// an empty list once vanished and came back as "no narrowing", so
// `io.github.runw.net.connect: ""` let a guest connect anywhere.
func TestNetGrantEmptyAllowsNone(t *testing.T) {
	v := newVethNet(t)
	mod := netGuest(t, "netc")
	srv := newHostEcho(t, v.host)
	run := netcUnder(v, mod, map[string]string{"io.github.runw.net.connect": "", "io.github.runw.net.listen": ""})
	t.Run("Connect", func(t *testing.T) {
		res := run(t, "connect", v.host, strconv.Itoa(srv.port), "anything")
		if want := fmt.Sprintf("open=0\nconnect=%d\n", errnoAcces); res.code != 1 || res.stdout != want {
			t.Errorf("connect under an empty connect grant: %v, want exit 1 and %q", res, want)
		}
		if n := srv.accepted.Load(); n != 0 {
			t.Errorf("the server accepted %d connections under an empty connect grant", n)
		}
	})
	t.Run("Bind", func(t *testing.T) {
		want := fmt.Sprintf("open=0\nbind=%d\n", errnoAcces)
		if res := run(t, "bind", "8080"); res.code != 1 || res.stdout != want {
			t.Errorf("bind 8080 under an empty listen grant: %v, want exit 1 and %q", res, want)
		}
	})
}

// 10,000 HTTP requests, 32 at a time, each on a new connection, against
// the wasm server: none fails, and afterwards the init holds as many
// descriptors as before (every accepted socket was closed).
func TestNetLoadNoErrorsNoLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 10,000 requests")
	}
	v := newVethNet(t)
	mod := netGuest(t, "hello")
	r := newRunw(t)
	b := netBundle(t, mod)
	b.inNetns(v.path, []string{"RUNW_LISTEN=:8080"}, nil)
	bg := r.start("run", "-b", b.dir, "load")
	url := "http://" + v.guest + ":8080/"
	waitHTTP(t, bg, url)
	st, _, ok := r.state("load")
	if !ok || st.Pid <= 0 {
		t.Fatalf("runw state load: %+v", st)
	}
	before := fdCount(t, st.Pid)

	const total, workers = 10000, 32
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	began := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= total {
				resp, err := netClient.Get(url)
				if err == nil {
					body, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					switch {
					case rerr != nil:
						err = rerr
					case resp.StatusCode != 200 || string(body) != "hello from wasm\n":
						err = fmt.Errorf("status %d, body %q", resp.StatusCode, body)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d requests, %d at a time, new connection each: %v", total, workers, time.Since(began).Round(time.Millisecond))
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed; first: %v", n, total, firstErr.Load())
	}
	// The server closes each connection after its response; give it a
	// moment to have closed the last ones.
	var after int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after = fdCount(t, st.Pid)
		if after <= before+3 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("descriptors of the init %d: %d before, %d after", st.Pid, before, after)
	if after > before+3 {
		t.Errorf("the init holds %d descriptors after the load, %d before: sockets leak", after, before)
	}
	stopWith143(t, r, bg, "load")
}

// A listener on port 80 for a guest that runs as an unprivileged user with
// no capability at all: runw binds it in the init before the credentials
// change, as root, so the guest serves on a port it could never bind.
func TestNetPrivilegedPortAsUser(t *testing.T) {
	v, r, b := onPort80AsUser(t, "hello")
	b.edit(func(s *specs.Spec) { s.Process.NoNewPrivileges = true })
	bg := r.start("run", "-b", b.dir, "port80")
	if got := waitHTTP(t, bg, "http://"+v.guest+":80/"); got != "hello from wasm\n" {
		t.Errorf("GET / on port 80: %q, want %q", got, "hello from wasm\n")
	}
	st := r.mustRun("state", "port80")
	var state struct{ Pid int }
	if err := json.Unmarshal([]byte(st.stdout), &state); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", state.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "Uid:\t1000\t1000\t1000\t1000"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("the init serving port 80: want %q in its status:\n%s", want, status)
		}
	}
	stopWith143(t, r, bg, "port80")
}

// runw exec enters the container's network namespace and its grant: a
// client module exec'd into a running server container reaches the
// server on 127.0.0.1, and does not try to bind the container's listener
// again (podman exec passes the container's RUNW_LISTEN along).
func TestNetExecReachesServerOnLoopback(t *testing.T) {
	v := newVethNet(t)
	mod := netGuest(t, "hello")
	r := newRunw(t)
	b := netBundle(t, mod)
	if err := copyFile(netGuest(t, "netc"), filepath.Join(b.rootfs, "netc")); err != nil {
		t.Fatal(err)
	}
	b.inNetns(v.path, []string{"RUNW_LISTEN=:8080"}, nil)
	bg := r.start("run", "-b", b.dir, "execnet")
	if got := waitHTTP(t, bg, "http://"+v.guest+":8080/"); got != "hello from wasm\n" {
		t.Fatalf("GET /: %q", got)
	}
	res := r.run("exec", "--env", "RUNW_LISTEN=:8080", "execnet", "/netc", "connect", "127.0.0.1", "8080", "GET / HTTP/1.0\r\n\r\n")
	if res.code != 0 || !strings.Contains(res.stdout, "connect=0") || !strings.Contains(res.stdout, "hello from wasm") {
		t.Errorf("exec'd client to 127.0.0.1:8080: %v", res)
	}
	stopWith143(t, r, bg, "execnet")
}

// An exec'd process has the container's network grant, the one create
// decided: not the bundle's config.json as edited since (by whoever can
// write the bundle, or by the guest itself where the rootfs holds it),
// and not a grant that depends on the network namespace exec's caller is
// in. runc's exec reads the configuration its create recorded.
func TestNetExecKeepsTheContainersGrant(t *testing.T) {
	v := newVethNet(t)
	netc := netGuest(t, "netc")
	refused := fmt.Sprintf("open=%d\n", errnoAcces)
	// inVeth is r's runw run from inside v's namespace, as a caller there
	// (a CNI plugin, a sidecar with the host's runw) would run it.
	inVeth := func(t *testing.T, r *runw) *runw {
		script := filepath.Join(t.TempDir(), "runw-in-netns")
		body := fmt.Sprintf("#!/bin/sh\nexec nsenter --net=%s %s \"$@\"\n", v.path, r.binary())
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		in := *r
		in.bin = script
		return &in
	}
	container := func(t *testing.T, r *runw, id, netns string) *bundle {
		b := newBundle(t, "probe", "sleep", "1h")
		if err := copyFile(netc, filepath.Join(b.rootfs, "netc")); err != nil {
			t.Fatal(err)
		}
		b.inNetns(netns, nil, nil)
		r.mustRun("run", "-d", "-b", b.dir, id)
		return b
	}
	t.Run("BundleEditedAfterCreate", func(t *testing.T) {
		r := newRunw(t)
		b := container(t, r, "edited", "")
		if res := r.run("exec", "edited", "/netc", "open"); res.code != 1 || res.stdout != refused {
			t.Fatalf("exec in the host's network, no grant: %v, want exit 1 and %q", res, refused)
		}
		b.edit(func(s *specs.Spec) {
			s.Annotations = map[string]string{"io.github.runw.net": "allow"}
		})
		if res := r.run("exec", "edited", "/netc", "open"); res.code != 1 || res.stdout != refused {
			t.Errorf("exec after config.json granted sockets: %v, want exit 1 and %q (the grant create decided)", res, refused)
		}
	})
	t.Run("HostNetworkExecFromAnotherNamespace", func(t *testing.T) {
		r := newRunw(t)
		// The host's namespace joined by path: no grant.
		container(t, r, "hostnet", fmt.Sprintf("/proc/%d/ns/net", os.Getpid()))
		if res := r.run("exec", "hostnet", "/netc", "open"); res.code != 1 || res.stdout != refused {
			t.Fatalf("exec from the host: %v, want exit 1 and %q", res, refused)
		}
		if res := inVeth(t, r).run("exec", "hostnet", "/netc", "open"); res.code != 1 || res.stdout != refused {
			t.Errorf("exec from another namespace: %v, want exit 1 and %q", res, refused)
		}
	})
	t.Run("OwnNetworkExecFromInside", func(t *testing.T) {
		r := newRunw(t)
		container(t, r, "ownnet", v.path)
		for _, by := range []*runw{r, inVeth(t, r)} {
			if res := by.run("exec", "ownnet", "/netc", "open"); res.code != 0 || res.stdout != "open=0\n" {
				t.Errorf("exec by %s: %v, want exit 0 and open=0", by.binary(), res)
			}
		}
	})
}

// A network namespace runw creates (a network entry without a path) has
// its loopback up, as runc's has: a server listening on 127.0.0.1 answers
// a client in that namespace.
func TestNetNewNetnsHasLoopback(t *testing.T) {
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("nsenter not installed")
	}
	mod := netGuest(t, "hello")
	r := newRunw(t)
	b := netBundle(t, mod)
	b.edit(func(s *specs.Spec) {
		s.Process.Env = append(s.Process.Env, "RUNW_LISTEN=127.0.0.1:8080")
		s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}}
	})
	bg := r.start("run", "-b", b.dir, "newnetns")
	var pid int
	deadline := time.Now().Add(30 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		if res := r.run("state", "newnetns"); res.code == 0 && strings.Contains(res.stdout, `"running"`) {
			var st struct{ Pid int }
			_ = json.Unmarshal([]byte(res.stdout), &st)
			pid = st.Pid
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if pid == 0 {
		t.Fatalf("the container never ran: %v", bg.wait(t, 5*time.Second))
	}
	if self, _ := os.Readlink("/proc/self/ns/net"); true {
		if theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); theirs == self {
			t.Fatalf("the init is in the host's network namespace")
		}
	}
	var out []byte
	var err error
	for i := 0; i < 100; i++ {
		out, err = exec.Command("nsenter", "--net=/proc/"+strconv.Itoa(pid)+"/ns/net", "curl", "-sS", "--max-time", "5", "http://127.0.0.1:8080/").CombinedOutput()
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || string(out) != "hello from wasm\n" {
		t.Errorf("curl 127.0.0.1:8080 inside the new namespace: %q, %v", out, err)
	}
	stopWith143(t, r, bg, "newnetns")
}

// onPort80AsUser is a bundle of the guest in a veth network of its own,
// with a preopened listener on port 80 (RUNW_LISTEN=:80), running as uid
// 1000 without any capability.
func onPort80AsUser(t *testing.T, guest string) (*vethNet, *runw, *bundle) {
	v := newVethNet(t)
	mod := netGuest(t, guest)
	r := newRunw(t)
	b := netBundle(t, mod)
	b.inNetns(v.path, []string{"RUNW_LISTEN=:80"}, nil)
	b.edit(func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Capabilities = &specs.LinuxCapabilities{}
	})
	return v, r, b
}

// TestSpecTemplateBindsLowPorts: a guest in `runw spec`'s bundle binds
// port 80 in its network namespace itself (WasmEdge's sock_bind), as a
// native program in `runc spec`'s does: the template holds runc's
// capabilities, CAP_NET_BIND_SERVICE among them. It held none, and the
// bind was refused (EACCES).
func TestSpecTemplateBindsLowPorts(t *testing.T) {
	needsRoot(t, "a network namespace of the container's own")
	r := newRunw(t)
	dir := t.TempDir()
	r.mustRun("spec", "--bundle", dir)
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	// sock_open(INET4, STREAM), then exit with sock_bind(0.0.0.0:80)'s
	// errno; 99 if the socket cannot be made.
	const bind80 = `(module
  (import "wasi_snapshot_preview1" "sock_open" (func $open (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_bind" (func $bind (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\20\00\00\00\04\00\00\00")
  (func (export "_start")
    (if (call $open (i32.const 1) (i32.const 2) (i32.const 0)) (then (call $exit (i32.const 99))))
    (call $exit (call $bind (i32.load (i32.const 0)) (i32.const 16) (i32.const 80)))))`
	if err := os.WriteFile(filepath.Join(dir, "rootfs", "bind80.wat"), []byte(bind80), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &bundle{t: t, dir: dir, rootfs: filepath.Join(dir, "rootfs")}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &b.spec); err != nil {
		t.Fatal(err)
	}
	b.spec.Process.Args = []string{"/bind80.wat"}
	b.save()
	if res := r.run("run", "-b", dir, "template-bind80"); res.code != 0 {
		t.Errorf("bind of port 80 by a guest of runw spec's bundle: %v, want exit 0 (errno 0)", res)
	}
}

// TestListenersFollowTheContainersSysctls: the listeners runw binds for
// the guest (RUNW_LISTEN) follow the container's own linux.sysctl, as a
// native server's sockets do: under net.ipv6.bindv6only=1 "[::]:8080"
// is IPv6 only and "0.0.0.0:8080" binds beside it, and
// net.core.somaxconn caps their backlog. The sysctls were written after
// the listeners were bound: the pair was refused ("address already in
// use") and the backlog was 4096.
func TestListenersFollowTheContainersSysctls(t *testing.T) {
	needsRoot(t, "a network namespace of the container's own")
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skipf("needs ss(8) (Debian iproute2): %v", err)
	}
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "60s")
	b.edit(func(s *specs.Spec) {
		s.Process.Env = []string{"RUNW_LISTEN=[::]:8080,:8080"}
		s.Linux = &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}},
			Sysctl:     map[string]string{"net.ipv6.bindv6only": "1", "net.core.somaxconn": "256"},
		}
	})
	r.mustRun("create", "--bundle", b.dir, "sysctl-listen")
	st, res, ok := r.state("sysctl-listen")
	if !ok {
		t.Fatalf("state: %v", res)
	}
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(st.Pid), "-n", "ss", "-Hltn").CombinedOutput()
	if err != nil {
		t.Fatalf("ss in the container's network: %v %s", err, out)
	}
	for _, local := range []string{"[::]:8080", "0.0.0.0:8080"} {
		if !regexp.MustCompile(`(?m)^LISTEN\s+0\s+256\s+` + regexp.QuoteMeta(local) + `\s`).Match(out) {
			t.Errorf("no listener on %s with a backlog of 256 (somaxconn):\n%s", local, out)
		}
	}
	r.mustRun("delete", "--force", "sysctl-listen")

	// Where the caller's /proc/sys is read-only (runw nested in a
	// container), the sysctls are written as before, through the
	// container's own /proc, and the container runs: writing them early
	// through the caller's made its create fail. (Its listeners are then
	// bound before the sysctls, as before: one listener here.)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("needs unshare(1): %v", err)
	}
	b.edit(func(s *specs.Spec) {
		s.Process.Args = []string{"/probe.wasm", "echo", "ran"}
		s.Process.Env = []string{"RUNW_LISTEN=:8080"}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.MountNamespace}, specs.LinuxNamespace{Type: specs.PIDNamespace})
	})
	script := `mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$@"`
	cmd := exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", r.binary()}, r.argv("run", "-b", b.dir, "sysctl-roproc")...)...)
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "ran\n" {
		t.Errorf("run under a read-only /proc/sys: %v, %q; want \"ran\"", err, out)
	}
}
