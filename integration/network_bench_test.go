package integration

// The Go hello HTTP server (testdata/net/hello) as a wasm guest under runw
// against the same program built for linux and run by runc, each in a
// network namespace of its own made here, loaded by Debian's wrk from the
// host's namespace with a bounded number of connections. A Go wasip1 guest
// runs its goroutines on one thread, so the native server is measured
// twice: limited to one thread (GOMAXPROCS=1) and unconstrained. All three
// are measured in the same run, in rounds that rotate which goes first.
// Speed is reported, never asserted.
//
// The same program is then measured with no network at all
// (HELLO_INPROC: in-process clients on net.Pipe, the real http.Server),
// wasm under runw against native GOMAXPROCS=1. No host call and no kernel
// is on that path, so its ratio is the speed of the guest's own compiled
// code: the ceiling any WASI host could reach with this guest.

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	benchHTTPDuration = flag.Duration("bench-http-duration", 5*time.Second, "bench: length of one wrk run against an HTTP server")
	benchHTTPRounds   = flag.Int("bench-http-rounds", 5, "bench: wrk runs per HTTP server (the servers take turns)")
	benchHTTPConns    = flag.Int("bench-http-conns", 32, "bench: wrk's open connections")
	benchHTTPThreads  = flag.Int("bench-http-threads", 2, "bench: wrk's threads")
	benchInprocReqs   = flag.Int("bench-inproc-requests", 30000, "bench: requests per in-process (no network) run of the HTTP server")
)

// httpServer is one server under load: its runtime, its address, its
// process and how to stop it.
type httpServer struct {
	name string
	url  string
	pid  int // the container's process (runw's init holding the guest)
	// state is the runtime's `state` command for the container, which
	// gives pid once it runs.
	state []string
	stop  func()
	rps   []float64
	p99   []float64 // milliseconds
	cpu   []float64 // microseconds of the server process's CPU a request
	sys   []float64 // the part of cpu spent in the kernel
	errs  []string
}

func BenchmarkHTTPServer(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces, veth pairs, runc")
	}
	for _, tool := range []string{"runc", "wrk", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("needs %s (integration/deps.sh installs it): %v", tool, err)
		}
	}
	b.ReportMetric(0, "ns/op")
	runw := runwBin
	if *benchRunwPath != "" {
		abs, err := filepath.Abs(*benchRunwPath)
		if err != nil {
			b.Fatal(err)
		}
		runw = abs
	}
	wasm, native := netGuest(b, "hello"), netGuest(b, "hello-native")
	work := b.TempDir()
	servers := []*httpServer{
		startRunwHTTP(b, runw, work, wasm),
		startRuncHTTP(b, work, native, "native-gomaxprocs1", "GOMAXPROCS=1"),
		startRuncHTTP(b, work, native, "native"),
	}
	for _, s := range servers {
		waitHTTPBench(b, s.url)
		s.pid = statePid(b, s.state)
	}
	// CPU a request: the server process's user and system time over a
	// wrk run, divided by the requests served. Unlike requests a second,
	// it does not depend on what wrk and the kernel's softirq work take
	// from the server's core.
	// The kernel's part (system time) is reported beside it: the wasm
	// and native servers make the same system calls a request, so the
	// gap between them is mostly user time, the guest's code.
	cpuTime := func(pid int) (all, sys float64) {
		f := procStat(pid)
		if len(f) < 13 {
			b.Fatalf("server process %d is gone", pid)
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		return (u + st) * 1e6 / 100, st * 1e6 / 100 // USER_HZ ticks to microseconds
	}
	fmt.Printf("bench: HTTP GET / (13-byte body), wrk -t%d -c%d -d%v --latency, %d rounds; machine %s; load %s\n",
		*benchHTTPThreads, *benchHTTPConns, *benchHTTPDuration, *benchHTTPRounds, machine(), loadAvg())
	for round := 0; round < *benchHTTPRounds; round++ {
		for i := range servers {
			s := servers[(i+round)%len(servers)]
			before, sysBefore := cpuTime(s.pid)
			rps, p99, requests, errs, err := runWrk(s.url)
			if err != nil {
				b.Fatalf("wrk against %s: %v", s.name, err)
			}
			after, sysAfter := cpuTime(s.pid)
			cpu, sys := (after-before)/requests, (sysAfter-sysBefore)/requests
			s.rps = append(s.rps, rps)
			s.p99 = append(s.p99, p99)
			s.cpu = append(s.cpu, cpu)
			s.sys = append(s.sys, sys)
			if errs != "" {
				s.errs = append(s.errs, errs)
			}
			fmt.Printf("bench: round %d %-26s %10.0f req/s  p99 %8.3f ms  CPU %6.1f µs/req (kernel %4.1f) %s\n", round+1, s.name, rps, p99, cpu, sys, errs)
		}
	}
	for _, s := range servers {
		s.stop()
	}
	// Medians, as every other benchmark here reports: on a 2-vCPU VM one
	// round in five can lose a third of its rate to where the scheduler
	// puts wrk's threads and the server (native GOMAXPROCS=1 measured
	// 38,000 to 66,000 req/s in rounds of one run), and a mean lets that
	// round move the ratio by 0.1 either way.
	med := func(xs []float64) float64 { return stats(xs).med }
	w, n1, n := servers[0], servers[1], servers[2]
	metrics := map[string]float64{
		"wasm-req/s":               med(w.rps),
		"native1-req/s":            med(n1.rps),
		"native-req/s":             med(n.rps),
		"wasm-cpu-us/req":          med(w.cpu),
		"native1-cpu-us/req":       med(n1.cpu),
		"native-cpu-us/req":        med(n.cpu),
		"wasm-sys-us/req":          med(w.sys),
		"native1-sys-us/req":       med(n1.sys),
		"cpu-ratio-native1/wasm":   med(n1.cpu) / med(w.cpu),
		"wasm-p99-ms":              med(w.p99),
		"native1-p99-ms":           med(n1.p99),
		"native-p99-ms":            med(n.p99),
		"ratio-vs-gomaxprocs1":     med(w.rps) / med(n1.rps),
		"ratio-vs-native":          med(w.rps) / med(n.rps),
		"p99-ratio-vs-gomaxprocs1": med(w.p99) / med(n1.p99),
	}
	for unit, v := range metrics {
		b.ReportMetric(v, unit)
	}
	fmt.Printf("\nmedians of %d rounds:\n| server | req/s | p99 | CPU a request (kernel) | req/s vs wasm |\n|---|---|---|---|---|\n", *benchHTTPRounds)
	for _, s := range servers {
		fmt.Printf("| %s | %.0f | %.3f ms | %.1f µs (%.1f) | %.2fx |\n", s.name, med(s.rps), med(s.p99), med(s.cpu), med(s.sys), med(s.rps)/med(w.rps))
	}
	fmt.Printf("\nwasm/native throughput: %.2f against GOMAXPROCS=1 (goal >= 0.5), %.2f against unconstrained; "+
		"CPU a request, native GOMAXPROCS=1 over wasm: %.2f\n\n",
		metrics["ratio-vs-gomaxprocs1"], metrics["ratio-vs-native"], metrics["cpu-ratio-native1/wasm"])
	for _, s := range servers {
		if len(s.errs) > 0 {
			fmt.Printf("bench: %s: wrk reported errors: %s\n", s.name, strings.Join(s.errs, "; "))
		}
	}

	wasmIn, nativeIn := inprocHTTP(b, runw, work, wasm, native)
	b.ReportMetric(wasmIn, "inproc-wasm-req/s")
	b.ReportMetric(nativeIn, "inproc-native1-req/s")
	b.ReportMetric(wasmIn/nativeIn, "inproc-ratio-vs-gomaxprocs1")
	fmt.Printf("in-process (no network, HELLO_INPROC=%d, %d rounds): wasm %.0f req/s, native GOMAXPROCS=1 %.0f req/s: "+
		"the guest's own code runs at %.2f of native\n\n", *benchInprocReqs, *benchHTTPRounds, wasmIn, nativeIn, wasmIn/nativeIn)
}

var inprocRate = regexp.MustCompile(`(?m)^inproc: \d+ requests in \S+: ([0-9.]+) req/s$`)

// inprocHTTP runs the server's in-process mode in rounds, the wasm build
// under runw (no network namespace: it opens no socket) alternating with
// the native build limited to one thread, and returns their median rates.
func inprocHTTP(b *testing.B, runw, work, wasm, native string) (wasmRPS, nativeRPS float64) {
	env := fmt.Sprintf("HELLO_INPROC=%d", *benchInprocReqs)
	dir := helloBundle(b, filepath.Join(work, "inproc-bundle"), wasm, env, nil)
	rate := func(cmd *exec.Cmd) float64 {
		out, err := cmd.CombinedOutput()
		m := inprocRate.FindSubmatch(out)
		if err != nil || m == nil {
			b.Fatalf("%s: %v: %s", strings.Join(cmd.Args, " "), err, out)
		}
		r, _ := strconv.ParseFloat(string(m[1]), 64)
		return r
	}
	root := filepath.Join(work, "inproc-root")
	var ws, ns []float64
	for round := 0; round < *benchHTTPRounds; round++ {
		id := fmt.Sprintf("bench-inproc-%d-%d", os.Getpid(), round)
		w := rate(exec.Command(runw, "--root", root, "--cache-dir", cacheDir, "run", "-b", dir, id))
		n := exec.Command(native)
		n.Env = append(os.Environ(), env, "GOMAXPROCS=1")
		r := rate(n)
		fmt.Printf("bench: round %d in-process wasm (runw) %10.0f req/s, native-gomaxprocs1 %10.0f req/s\n", round+1, w, r)
		ws, ns = append(ws, w), append(ns, r)
	}
	return stats(ws).med, stats(ns).med
}

// startRunwHTTP runs the wasm server under runw in a namespace of its own,
// on a listener runw preopens (RUNW_LISTEN).
func startRunwHTTP(b *testing.B, runw, work, module string) *httpServer {
	v := newVethNet(b)
	dir := helloBundle(b, filepath.Join(work, "runw-bundle"), module, "RUNW_LISTEN=:8080",
		&specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: v.path}}})
	root := filepath.Join(work, "runw-root")
	id := fmt.Sprintf("bench-http-%d", os.Getpid())
	stop := startBackground(b, filepath.Join(work, "runw"), runw, "--root", root, "--cache-dir", cacheDir, "run", "-b", dir, id)
	return &httpServer{name: "wasm (runw)", url: "http://" + v.guest + ":8080/", state: []string{runw, "--root", root, "state", id}, stop: func() {
		exec.Command(runw, "--root", root, "kill", id, "TERM").Run()
		stop()
		exec.Command(runw, "--root", root, "delete", "--force", id).Run()
	}}
}

// startRuncHTTP runs the native server under runc, from the bundle `runc
// spec` writes, its network namespace the one made here, with env added.
func startRuncHTTP(b *testing.B, work, binary, name string, env ...string) *httpServer {
	v := newVethNet(b)
	dir := filepath.Join(work, name+"-bundle")
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := copyFile(binary, filepath.Join(dir, "rootfs", "hello")); err != nil {
		b.Fatal(err)
	}
	s := generatedSpec(b, "runc", dir)
	s.Process.Terminal = false
	s.Process.Args = []string{"/hello"}
	s.Process.Env = append(s.Process.Env, append([]string{"LISTEN_ADDR=:8080"}, env...)...)
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = v.path
		}
	}
	writeSpec(b, dir, s)
	root := filepath.Join(work, "runc-root")
	id := fmt.Sprintf("bench-http-%s-%d", name, os.Getpid())
	stop := startBackground(b, filepath.Join(work, name), "runc", "--root", root, "run", "-b", dir, id)
	return &httpServer{name: name + " (runc)", url: "http://" + v.guest + ":8080/", state: []string{"runc", "--root", root, "state", id}, stop: func() {
		exec.Command("runc", "--root", root, "kill", id, "TERM").Run()
		stop()
		exec.Command("runc", "--root", root, "delete", "--force", id).Run()
	}}
}

// statePid runs a runtime's state command and returns the container's pid.
func statePid(b *testing.B, state []string) int {
	out, err := exec.Command(state[0], state[1:]...).Output()
	if err != nil {
		b.Fatalf("%s: %v", strings.Join(state, " "), err)
	}
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Pid <= 0 {
		b.Fatalf("%s: no pid in %s (%v)", strings.Join(state, " "), out, err)
	}
	return st.Pid
}

// writeSpec writes s as dir's config.json.
func writeSpec(b testing.TB, dir string, s *specs.Spec) {
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
}

// startBackground starts a command with its output in files at prefix.out
// and prefix.err; stop waits up to 10 s for it to end, then kills it.
func startBackground(b *testing.B, prefix, name string, args ...string) (stop func()) {
	out, err := os.Create(prefix + ".out")
	if err != nil {
		b.Fatal(err)
	}
	errf, err := os.Create(prefix + ".err")
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, errf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); errf.Close(); close(done) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	b.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			<-done
		}
	})
	return stop
}

// waitHTTPBench polls url until it answers 200 (up to 90 s: a cold
// compile of the wasm server).
func waitHTTPBench(b *testing.B, url string) {
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := netClient.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s never answered: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	wrkRPS      = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkP99      = regexp.MustCompile(`(?m)^\s+99%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkProblem  = regexp.MustCompile(`(?m)^\s*(Socket errors:.*|Non-2xx or 3xx responses:.*)$`)
)

// runWrk loads url with wrk and returns requests per second, the 99th
// percentile latency in milliseconds, the requests completed, and wrk's
// error lines if any.
func runWrk(url string) (rps, p99ms, requests float64, problems string, err error) {
	args := []string{"-t", strconv.Itoa(*benchHTTPThreads), "-c", strconv.Itoa(*benchHTTPConns),
		"-d", fmt.Sprintf("%ds", int(benchHTTPDuration.Seconds())), "--latency", url}
	out, err := exec.Command("wrk", args...).CombinedOutput()
	if err != nil {
		return 0, 0, 0, "", fmt.Errorf("wrk %s: %v: %s", strings.Join(args, " "), err, out)
	}
	m := wrkRPS.FindSubmatch(out)
	l := wrkP99.FindSubmatch(out)
	n := wrkRequests.FindSubmatch(out)
	if m == nil || l == nil || n == nil {
		return 0, 0, 0, "", fmt.Errorf("cannot read wrk's output:\n%s", out)
	}
	rps, _ = strconv.ParseFloat(string(m[1]), 64)
	requests, _ = strconv.ParseFloat(string(n[1]), 64)
	p99ms, _ = strconv.ParseFloat(string(l[1]), 64)
	switch string(l[2]) {
	case "us":
		p99ms /= 1000
	case "s":
		p99ms *= 1000
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if p := wrkProblem.FindString(sc.Text()); p != "" {
			lines = append(lines, strings.TrimSpace(p))
		}
	}
	return rps, p99ms, requests, strings.Join(lines, "; "), nil
}

// helloBundle lays out dir as a bundle running module as /hello.wasm with
// env and linux, and returns dir.
func helloBundle(b *testing.B, dir, module, env string, linux *specs.Linux) string {
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := copyFile(module, filepath.Join(dir, "rootfs", "hello.wasm")); err != nil {
		b.Fatal(err)
	}
	s := defaultSpec("/hello.wasm")
	s.Process.Env = []string{env}
	s.Linux = linux
	writeSpec(b, dir, &s)
	return dir
}
