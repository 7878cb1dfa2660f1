package integration

// runw against runc on the same machine, in the same run: start time (cache
// warm and cold), lifecycle throughput, idle memory and CPU-bound speed.
// `make bench` runs it and prints the table that docs/PERFORMANCE.md holds.
//
// Every figure is the wall time of the real binaries, exec'd from here,
// around the whole command (process start to exit). Each repetition runs
// runw and runc back to back, alternating which goes first, so that both
// share whatever else the machine is doing. State roots live on tmpfs for
// both runtimes; the compiled-module cache lives on disk.

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var (
	benchReps     = flag.Int("bench-reps", 20, "bench: repetitions of each short start-time measurement (hello warm and cold, big guest warm)")
	benchColdReps = flag.Int("bench-cold-reps", 7, "bench: repetitions of the big guest's cold start (10-20 s each)")
	benchCPUReps  = flag.Int("bench-cpu-reps", 10, "bench: repetitions of the CPU-bound program (about 1 s each)")
	benchRounds   = flag.Int("bench-rounds", 5, "bench: rounds of the lifecycle throughput measurement")
	benchN        = flag.Int("bench-n", 40, "bench: sequential containers per throughput round")
	benchIdle     = flag.Int("bench-idle", 50, "bench: idle containers at once for the density measurement")
	benchTable    = flag.Bool("bench-table", false, "bench: print the results as a markdown table once all ran")
	benchRunwPath = flag.String("bench-runw", "", "bench: runw binary to measure (default: the one the tests built)")
)

// Targets from the issue; each row of the table says whether it is met.
const (
	targetWarmRatio  = 0.5  // hello, cache warm: runw <= 0.5x runc
	targetColdWarm   = 50.0 // big guest: warm start >= 50x faster than cold
	targetThroughput = 2.0  // lifecycle: runw >= 2x runc containers/s
	targetCPURatio   = 1.5  // CPU-bound: wasm <= 1.5x native
	targetIdleMB     = 12.0 // idle: < 12 MB resident (PSS) per container
	minBigWasm       = 10 << 20
)

// BenchmarkRunwVsRunc runs the five comparisons in order and prints the
// table at the end (with -bench-table).
func BenchmarkRunwVsRunc(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: both runtimes create cgroups and runc creates namespaces")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		b.Skip("runc not on PATH (integration/deps.sh installs it)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		b.Skip("no /bin/busybox for the runc rootfs (Debian busybox-static; integration/deps.sh installs it)")
	}
	b.ReportMetric(0, "ns/op")
	e := newBenchEnv(b)
	bench := []struct {
		name string
		run  func(*benchEnv, *testing.B) map[string]float64
	}{
		{"1-hello-warm", (*benchEnv).helloWarm},
		{"2-cold-start", (*benchEnv).coldStart},
		{"3-lifecycle-throughput", (*benchEnv).throughput},
		{"4-idle-memory", (*benchEnv).idleMemory},
		{"5-cpu-bound", (*benchEnv).cpuBound},
	}
	for _, s := range bench {
		var metrics map[string]float64
		b.Run(s.name, func(b *testing.B) {
			// A benchmark function may be called more than once (b.N
			// grows without -benchtime 1x): measure once, report always.
			if metrics == nil {
				fmt.Printf("--- %s\n", s.name)
				parent := e.b
				e.b = b // failures belong to the sub-benchmark's goroutine
				metrics = s.run(e, b)
				e.b = parent
			}
			b.ReportMetric(0, "ns/op")
			for unit, v := range metrics {
				b.ReportMetric(v, unit)
			}
		})
	}
	if *benchTable {
		e.printTable(os.Stdout)
	}
}

// ---- environment ----

type benchEnv struct {
	b        *testing.B
	runw     string
	work     string // on disk: bundles, caches, command output
	stateDir string // on tmpfs: both runtimes' --root
	runwRoot string
	runcRoot string
	cache    string // warm compiled-module cache
	bundles  map[string]string
	sizes    map[string]int64 // module sizes, bytes
	seq      int
	lastID   string
	rows     []benchRow
	loadAvg  string
}

func newBenchEnv(b *testing.B) *benchEnv {
	e := &benchEnv{b: b, runw: runwBin, bundles: map[string]string{}, sizes: map[string]int64{}, loadAvg: loadAvg()}
	if *benchRunwPath != "" {
		abs, err := filepath.Abs(*benchRunwPath)
		if err != nil {
			b.Fatal(err)
		}
		e.runw = abs
	}
	var err error
	// Disk, not /tmp (which may be tmpfs): the cache is meant to live on disk.
	if e.work, err = os.MkdirTemp("/var/tmp", "runw-bench-"); err != nil {
		b.Fatal(err)
	}
	if e.stateDir, err = os.MkdirTemp(tmpfsDir(), "runw-bench-state-"); err != nil {
		b.Fatal(err)
	}
	e.runwRoot = filepath.Join(e.stateDir, "runw")
	e.runcRoot = filepath.Join(e.stateDir, "runc")
	e.cache = filepath.Join(e.work, "cache")
	for _, d := range []string{e.runwRoot, e.runcRoot, e.cache, filepath.Join(e.work, "out")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(e.cleanup)

	fmt.Printf("bench: runw %s, runc %s; state on %s, cache in %s\n", e.runw, firstLine("runc", "--version"), e.stateDir, e.cache)
	mods := e.buildGuests()
	e.makeBundles(mods)
	e.warmUp()
	return e
}

// tmpfsDir is /run when it is a tmpfs (as on most systems), else /dev/shm.
func tmpfsDir() string {
	var st unix.Statfs_t
	if unix.Statfs("/run", &st) == nil && st.Type == unix.TMPFS_MAGIC {
		return "/run"
	}
	return "/dev/shm"
}

// buildGuests builds the big Go guest and the C program (native and wasm);
// hello and probe come from TestMain.
func (e *benchEnv) buildGuests() map[string]string {
	b := e.b
	root, err := repoRoot()
	if err != nil {
		b.Fatal(err)
	}
	mods := map[string]string{"hello": guests["hello"], "probe": guests["probe"]}
	big := filepath.Join(e.work, "big.wasm")
	t0 := time.Now()
	if err := goBuild(filepath.Join(root, "integration", "testdata", "big"), []string{"GOOS=wasip1", "GOARCH=wasm"}, big, "."); err != nil {
		b.Fatal(err)
	}
	mods["big"] = big
	fmt.Printf("bench: built big.wasm in %v\n", time.Since(t0).Round(time.Millisecond))

	src := filepath.Join(root, "integration", "testdata", "cpu", "cpu.c")
	native := filepath.Join(e.work, "cpu")
	wasm := filepath.Join(e.work, "cpu.wasm")
	// Each build uses its target's baseline vector ISA: SSE2 for x86-64
	// (always on in gcc -O2), SIMD128 for wasm (on by default in wasmtime).
	for _, c := range [][]string{
		{"gcc", "-std=c99", "-O2", "-static", "-o", native, src},
		{"clang", "--target=wasm32-wasi", "-std=c99", "-O2", "-msimd128", "-o", wasm, src},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			// Only the CPU comparison needs them; it skips.
			fmt.Printf("bench: %s: %v\n%s", strings.Join(c, " "), err, out)
			native, wasm = "", ""
			break
		}
	}
	mods["cpu"], mods["cpu-native"] = wasm, native

	for name, p := range mods {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		e.sizes[name] = fi.Size()
	}
	if e.sizes["big"] < minBigWasm {
		b.Fatalf("big.wasm is %.1f MB, want at least %d MB", mb(e.sizes["big"]), minBigWasm>>20)
	}
	return mods
}

// makeBundles lays out one bundle per workload, each from its runtime's own
// `spec` command (runw's is a wasm bundle with a private /tmp; runc's is
// the standard one: pid, ipc, uts, mount and network namespaces, a
// read-only root, /proc, /dev, /sys, ...), with terminal off and args set.
func (e *benchEnv) makeBundles(mods map[string]string) {
	wasm := map[string][]string{
		"hello": {"/hello.wasm"},
		"big":   {"/big.wasm"},
		"probe": {"/probe.wasm", "sleep", "1h"},
		"cpu":   {"/cpu.wasm"},
	}
	for name, args := range wasm {
		if mods[name] == "" {
			continue
		}
		dir := e.bundle("w-"+name, e.runw, map[string]string{mods[name]: filepath.Base(args[0])}, args)
		e.bundles["w-"+name] = dir
	}
	native := map[string][]string{
		"echo":  {"/bin/busybox", "echo", "hello"},
		"sleep": {"/bin/busybox", "sleep", "3600"},
		"cpu":   {"/cpu"},
	}
	for name, args := range native {
		files := map[string]string{"/bin/busybox": "bin/busybox"}
		if name == "cpu" {
			if mods["cpu-native"] == "" {
				continue
			}
			files = map[string]string{mods["cpu-native"]: "cpu"}
		}
		e.bundles["c-"+name] = e.bundle("c-"+name, "runc", files, args)
	}
}

// bundle writes a bundle named name: rootfs holding files (host path ->
// rootfs path) and the config.json that `bin spec` writes, with args.
func (e *benchEnv) bundle(name, bin string, files map[string]string, args []string) string {
	b := e.b
	dir := filepath.Join(e.work, "bundles", name)
	for src, rel := range files {
		dst := filepath.Join(dir, "rootfs", rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := copyFile(src, dst); err != nil {
			b.Fatal(err)
		}
	}
	s := generatedSpec(b, bin, dir)
	s.Process.Terminal = false
	s.Process.Args = args
	writeSpec(b, dir, s)
	return dir
}

// generatedSpec is the config.json that `bin spec` (runc's or runw's)
// writes into dir.
func generatedSpec(b *testing.B, bin, dir string) *specs.Spec {
	if out, err := exec.Command(bin, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		b.Fatalf("%s spec: %v\n%s", bin, err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		b.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		b.Fatal(err)
	}
	return &s
}

// warmUp fills the warm cache and the page cache: every wasm module is
// compiled into e.cache and every bundle runs once under its runtime.
func (e *benchEnv) warmUp() {
	t0 := time.Now()
	for _, name := range []string{"hello", "big", "probe", "cpu"} {
		dir, ok := e.bundles["w-"+name]
		if !ok {
			continue
		}
		mod := filepath.Join(dir, "rootfs", name+".wasm")
		if out, err := exec.Command(e.runw, "--cache-dir", e.cache, "compile", mod).CombinedOutput(); err != nil {
			e.b.Fatalf("runw compile %s: %v\n%s", mod, err, out)
		}
	}
	for _, name := range []string{"w-hello", "w-big", "w-cpu", "c-echo", "c-cpu"} {
		if _, ok := e.bundles[name]; ok {
			e.mustRunOnce(name, e.cache)
		}
	}
	for _, name := range []string{"w-probe", "c-sleep"} {
		pid := e.mustStartDetached(name)
		e.mustRun(e.rt(name), "delete", "--force", e.lastID)
		waitExit(pid, 10*time.Second)
	}
	fmt.Printf("bench: warm-up done in %v\n", time.Since(t0).Round(time.Millisecond))
}

func (e *benchEnv) cleanup() {
	for _, root := range []struct{ bin, dir string }{{e.runw, e.runwRoot}, {"runc", e.runcRoot}} {
		entries, _ := os.ReadDir(root.dir)
		for _, en := range entries {
			if strings.HasPrefix(en.Name(), ".") {
				continue
			}
			exec.Command(root.bin, "--root", root.dir, "delete", "--force", en.Name()).Run()
		}
	}
	os.RemoveAll(e.stateDir)
	os.RemoveAll(e.work)
}

// ---- running the runtimes ----

// rt is the runtime binary for a bundle name ("w-…": runw, "c-…": runc).
func (e *benchEnv) rt(bundle string) string {
	if strings.HasPrefix(bundle, "w-") {
		return e.runw
	}
	return "runc"
}

// command prepares a runtime command with its --root (and for runw
// --cache-dir cache), stdout and stderr to files under work/out.
func (e *benchEnv) command(bin, cache string, args ...string) (*exec.Cmd, *os.File, *os.File) {
	var global []string
	if bin == e.runw {
		global = []string{"--root", e.runwRoot, "--cache-dir", cache}
	} else {
		global = []string{"--root", e.runcRoot}
	}
	cmd := exec.Command(bin, append(global, args...)...)
	out, err := os.Create(filepath.Join(e.work, "out", "stdout"))
	if err != nil {
		e.b.Fatal(err)
	}
	errf, err := os.Create(filepath.Join(e.work, "out", "stderr"))
	if err != nil {
		e.b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, errf
	return cmd, out, errf
}

// finished closes a command's output files and returns what it wrote,
// with err describing a failure.
func finished(cmd *exec.Cmd, err error, out, errf *os.File) (string, error) {
	out.Close()
	errf.Close()
	stdout, _ := os.ReadFile(out.Name())
	stderr, _ := os.ReadFile(errf.Name())
	if err != nil {
		return string(stdout), fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(stderr)))
	}
	return string(stdout), nil
}

func (e *benchEnv) mustRun(bin string, args ...string) string {
	return e.mustRunCache(bin, e.cache, args...)
}

// mustRunCache is mustRun with runw's --cache-dir cache.
func (e *benchEnv) mustRunCache(bin, cache string, args ...string) string {
	cmd, out, errf := e.command(bin, cache, args...)
	s, err := finished(cmd, cmd.Run(), out, errf)
	if err != nil {
		e.b.Fatal(err)
	}
	return s
}

func (e *benchEnv) nextID() string {
	e.seq++
	e.lastID = fmt.Sprintf("bench-%d-%d", os.Getpid(), e.seq)
	return e.lastID
}

// runOnce times `run` of a bundle (in the foreground: create, start, wait,
// delete) and returns its stdout.
func (e *benchEnv) runOnce(bundle, cache string) (time.Duration, string, error) {
	cmd, out, errf := e.command(e.rt(bundle), cache, "run", "--bundle", e.bundles[bundle], e.nextID())
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	s, err := finished(cmd, err, out, errf)
	return d, s, err
}

// mustRunOnce is runOnce that checks the output and fails the benchmark
// on any error.
func (e *benchEnv) mustRunOnce(bundle, cache string) time.Duration {
	d, out, err := e.runOnce(bundle, cache)
	if err != nil {
		e.b.Fatal(err)
	}
	if want := expectOut[bundle]; !strings.Contains(out, want) {
		e.b.Fatalf("%s: output %q, want %q", bundle, out, want)
	}
	return d
}

// expectOut is what each bundle that exits prints (a part of it).
var expectOut = map[string]string{
	"w-hello": "Hello from a WebAssembly container!",
	"w-big":   "Hello from a big WebAssembly container!",
	"w-cpu":   "rounds=",
	"c-echo":  "hello",
	"c-cpu":   "rounds=",
}

// phases are the parts of one container's life, in seconds: create,
// start, waiting for the container process to exit, delete.
type phases [4]float64

var phaseNames = [4]string{"create", "start", "exit", "delete"}

// lifecycle times one create, start, wait for the container process to
// exit, delete: what an engine does for a short-lived container.
func (e *benchEnv) lifecycle(bundle string) (time.Duration, phases, error) {
	var ph phases
	bin, id := e.rt(bundle), e.nextID()
	pidFile := filepath.Join(e.work, "out", "pid")
	t0 := time.Now()
	lap := func(i int) {
		now := time.Now()
		ph[i] = now.Sub(t0).Seconds()
		for j := 0; j < i; j++ {
			ph[i] -= ph[j]
		}
	}
	cmd, out, errf := e.command(bin, e.cache, "create", "--bundle", e.bundles[bundle], "--pid-file", pidFile, id)
	if _, err := finished(cmd, cmd.Run(), out, errf); err != nil {
		return 0, ph, err
	}
	pid, err := readPid(pidFile)
	if err != nil {
		return 0, ph, err
	}
	// Opened while the process waits for start, so it cannot be reused.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, ph, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	lap(0)
	cmd, out, errf = e.command(bin, e.cache, "start", id)
	if _, err := finished(cmd, cmd.Run(), out, errf); err != nil {
		return 0, ph, err
	}
	lap(1)
	if err := pollExit(pidfd, 30*time.Second); err != nil {
		return 0, ph, fmt.Errorf("%s %s: %w", bundle, id, err)
	}
	lap(2)
	cmd, out, errf = e.command(bin, e.cache, "delete", id)
	if _, err := finished(cmd, cmd.Run(), out, errf); err != nil {
		return 0, ph, err
	}
	lap(3)
	return time.Since(t0), ph, nil
}

// mustStartDetached creates and starts a container of a bundle that keeps
// running and returns its process id.
func (e *benchEnv) mustStartDetached(bundle string) int {
	return e.mustStartDetachedCache(bundle, e.cache)
}

// mustStartDetachedCache is mustStartDetached with runw's --cache-dir cache.
func (e *benchEnv) mustStartDetachedCache(bundle, cache string) int {
	bin, id := e.rt(bundle), e.nextID()
	pidFile := filepath.Join(e.work, "out", "pid")
	e.mustRunCache(bin, cache, "create", "--bundle", e.bundles[bundle], "--pid-file", pidFile, id)
	pid, err := readPid(pidFile)
	if err != nil {
		e.b.Fatal(err)
	}
	e.mustRun(bin, "start", id)
	return pid
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// pollExit waits until the process behind pidfd has exited.
func pollExit(pidfd int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return errors.New("container process still running")
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
	}
}

// waitExit waits for a process that is not our child to exit.
func waitExit(pid int, timeout time.Duration) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(fd)
	pollExit(fd, timeout)
}

// pair runs runw's and runc's part of repetition i, alternating which goes
// first.
func pair(i int, runw, runc func()) {
	if i%2 == 0 {
		runw()
		runc()
	} else {
		runc()
		runw()
	}
}

// ---- 1. hello, cache warm ----

func (e *benchEnv) helloWarm(b *testing.B) map[string]float64 {
	var w, c []float64
	for i := 0; i < *benchReps; i++ {
		pair(i,
			func() { w = append(w, e.mustRunOnce("w-hello", e.cache).Seconds()) },
			func() { c = append(c, e.mustRunOnce("c-echo", e.cache).Seconds()) })
	}
	sw, sc := stats(w), stats(c)
	ratio := sw.med / sc.med
	e.add(benchRow{
		id: "1", what: fmt.Sprintf("`run` hello, cache warm (runw: Go hello.wasm %.1f MB; runc: busybox `echo hello`)", mb(e.sizes["hello"])),
		runw: sw.dur(), runc: sc.dur(), ratio: fmt.Sprintf("%.2f×", ratio),
		target: fmt.Sprintf("≤ %.1f× runc", targetWarmRatio), met: yesNo(ratio <= targetWarmRatio),
	})
	return map[string]float64{"runw-ms": sw.med * 1e3, "runc-ms": sc.med * 1e3, "runw/runc": ratio}
}

// ---- 2. cold start ----

// coldCache returns a fresh, empty cache directory (0700, as runw wants).
func (e *benchEnv) coldCache() string {
	d, err := os.MkdirTemp(e.work, "cold-cache-")
	if err != nil {
		e.b.Fatal(err)
	}
	return d
}

func (e *benchEnv) coldStart(b *testing.B) map[string]float64 {
	runCold := func(bundle string) float64 {
		cache := e.coldCache()
		defer os.RemoveAll(cache)
		return e.mustRunOnce(bundle, cache).Seconds()
	}
	// Small guest: hello, a new cache every run.
	var hc, rc []float64
	for i := 0; i < *benchReps; i++ {
		pair(i,
			func() { hc = append(hc, runCold("w-hello")) },
			func() { rc = append(rc, e.mustRunOnce("c-echo", e.cache).Seconds()) })
	}
	// Large guest: cold, warm, and runc in every repetition.
	var bc, bw, rc2 []float64
	for i := 0; i < *benchColdReps; i++ {
		pair(i,
			func() { bc = append(bc, runCold("w-big")) },
			func() { rc2 = append(rc2, e.mustRunOnce("c-echo", e.cache).Seconds()) })
	}
	for i := 0; i < *benchReps; i++ {
		pair(i,
			func() { bw = append(bw, e.mustRunOnce("w-big", e.cache).Seconds()) },
			func() { rc2 = append(rc2, e.mustRunOnce("c-echo", e.cache).Seconds()) })
	}
	// Large guest, warm, each run from a bundle of its own, as an engine
	// runs each new container from a new rootfs path: the cache's
	// identity index misses and the module is hashed again.
	var bf []float64
	for i := 0; i < *benchReps; i++ {
		pair(i,
			func() { bf = append(bf, e.runFreshCopy("w-big").Seconds()) },
			func() { rc2 = append(rc2, e.mustRunOnce("c-echo", e.cache).Seconds()) })
	}
	shc, src, sbc, sbw, src2, sbf := stats(hc), stats(rc), stats(bc), stats(bw), stats(rc2), stats(bf)
	speedup := sbc.med / sbw.med
	e.add(benchRow{
		id: "2a", what: fmt.Sprintf("`run` hello, cache cold (new --cache-dir each run; %.1f MB module)", mb(e.sizes["hello"])),
		runw: shc.dur(), runc: src.dur(), ratio: fmt.Sprintf("%.1f×", shc.med/src.med),
	})
	e.add(benchRow{
		id: "2b", what: fmt.Sprintf("`run` big guest, cache cold (%.1f MB module)", mb(e.sizes["big"])),
		runw: sbc.dur(), runc: src2.dur(), ratio: fmt.Sprintf("%.0f×", sbc.med/src2.med),
	})
	e.add(benchRow{
		id: "2c", what: "`run` big guest, cache warm",
		runw: sbw.dur(), runc: src2.dur(), ratio: fmt.Sprintf("%.2f×", sbw.med/src2.med),
	})
	e.add(benchRow{
		id: "2d", what: "big guest: warm start speed-up over cold (cold ÷ warm medians)",
		runw:   fmt.Sprintf("%.0f× faster", speedup),
		target: fmt.Sprintf("≥ %.0f×", targetColdWarm), met: yesNo(speedup >= targetColdWarm),
	})
	e.add(benchRow{
		id: "2e", what: "`run` big guest, cache warm, a new bundle directory each run (an engine's new container: the module is hashed again)",
		runw: sbf.dur(), runc: src2.dur(), ratio: fmt.Sprintf("%.2f×", sbf.med/src2.med),
	})
	return map[string]float64{
		"hello-cold-ms": shc.med * 1e3, "big-cold-ms": sbc.med * 1e3, "big-warm-ms": sbw.med * 1e3,
		"runc-ms": src2.med * 1e3, "big-cold/warm": speedup, "big-warm-new-path-ms": sbf.med * 1e3,
	}
}

// runFreshCopy is mustRunOnce of a copy of bundle made for this run alone
// (config.json and rootfs, in a new directory), with the warm cache.
func (e *benchEnv) runFreshCopy(bundle string) time.Duration {
	src := e.bundles[bundle]
	dir, err := os.MkdirTemp(filepath.Dir(src), filepath.Base(src)+"-copy-")
	if err != nil {
		e.b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if out, err := exec.Command("cp", "-a", filepath.Join(src, "config.json"), filepath.Join(src, "rootfs"), dir).CombinedOutput(); err != nil {
		e.b.Fatalf("copy %s: %v: %s", src, err, out)
	}
	name := bundle + "-copy"
	e.bundles[name], expectOut[name] = dir, expectOut[bundle]
	defer delete(e.bundles, name)
	return e.mustRunOnce(name, e.cache)
}

// ---- 3. lifecycle throughput ----

func (e *benchEnv) throughput(b *testing.B) map[string]float64 {
	var w, c []float64
	var wph, cph [4][]float64
	for r := 0; r < *benchRounds; r++ {
		var tw, tc time.Duration
		for i := 0; i < *benchN; i++ {
			pair(i+r,
				func() { tw += e.mustLifecycle("w-hello", &wph) },
				func() { tc += e.mustLifecycle("c-echo", &cph) })
		}
		w = append(w, float64(*benchN)/tw.Seconds())
		c = append(c, float64(*benchN)/tc.Seconds())
	}
	sw, sc := stats(w), stats(c)
	ratio := sw.med / sc.med
	e.add(benchRow{
		id: "3a", what: fmt.Sprintf("lifecycle throughput: %d × sequential create, start, wait for exit, delete (containers/s; %d rounds)", *benchN, *benchRounds),
		runw: sw.rate(), runc: sc.rate(), ratio: fmt.Sprintf("%.2f×", ratio),
		target: fmt.Sprintf("≥ %.0f× runc", targetThroughput), met: yesNo(ratio >= targetThroughput),
	})
	split := func(ph [4][]float64) string {
		var parts []string
		for i := range ph {
			parts = append(parts, fmt.Sprintf("%.1f", stats(ph[i]).med*1e3))
		}
		return strings.Join(parts, " / ") + " ms"
	}
	e.add(benchRow{
		id: "3b", what: "lifecycle, where the time goes: " + strings.Join(phaseNames[:], " / ") + " (medians over all containers)",
		runw: split(wph), runc: split(cph),
	})
	m := map[string]float64{"runw-containers/s": sw.med, "runc-containers/s": sc.med, "runw/runc": ratio}
	for i, name := range phaseNames {
		m["runw-"+name+"-ms"] = stats(wph[i]).med * 1e3
		m["runc-"+name+"-ms"] = stats(cph[i]).med * 1e3
	}
	return m
}

func (e *benchEnv) mustLifecycle(bundle string, ph *[4][]float64) time.Duration {
	d, p, err := e.lifecycle(bundle)
	if err != nil {
		e.b.Fatal(err)
	}
	for i := range p {
		ph[i] = append(ph[i], p[i])
	}
	return d
}

// ---- 4. idle memory ----

// memKB is a process's resident memory: VmRSS and PSS, in kB.
type memKB struct{ rss, pss float64 }

func readMem(pid int) (memKB, error) {
	var m memKB
	var err1, err2 error
	m.rss, err1 = procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
	m.pss, err2 = procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
	return m, errors.Join(err1, err2)
}

// procField reads "Key:   123 kB" from a /proc file.
func procField(path, key string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == key {
			return strconv.ParseFloat(fields[1], 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

// idle starts n containers of bundle, lets them settle, reads each one's
// memory, and deletes them.
func (e *benchEnv) idle(bundle string, n int) []memKB {
	var pids []int
	var ids []string
	defer func() {
		for _, id := range ids {
			e.mustRun(e.rt(bundle), "delete", "--force", id)
		}
		for _, pid := range pids {
			waitExit(pid, 10*time.Second)
		}
	}()
	for i := 0; i < n; i++ {
		pids = append(pids, e.mustStartDetached(bundle))
		ids = append(ids, e.lastID)
	}
	// The guest is asleep within milliseconds; give page faults of the
	// last ones time to settle.
	time.Sleep(time.Second)
	var out []memKB
	for _, pid := range pids {
		m, err := readMem(pid)
		if err != nil {
			e.b.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// idleAfterCompile is the memory of an idle container whose create found
// the cache empty, so that its init compiled the module itself.
func (e *benchEnv) idleAfterCompile() memKB {
	cache := e.coldCache()
	defer os.RemoveAll(cache)
	pid := e.mustStartDetachedCache("w-probe", cache)
	id := e.lastID
	defer func() {
		e.mustRun(e.runw, "delete", "--force", id)
		waitExit(pid, 10*time.Second)
	}()
	time.Sleep(time.Second)
	m, err := readMem(pid)
	if err != nil {
		e.b.Fatal(err)
	}
	return m
}

func (e *benchEnv) idleMemory(b *testing.B) map[string]float64 {
	w1 := e.idle("w-probe", 1)[0]
	wc := e.idleAfterCompile()
	c1 := e.idle("c-sleep", 1)[0]
	wn := e.idle("w-probe", *benchIdle)
	cn := e.idle("c-sleep", *benchIdle)
	sum := func(ms []memKB) (rss, pss float64, rssEach, pssEach []float64) {
		for _, m := range ms {
			rss += m.rss
			pss += m.pss
			rssEach = append(rssEach, m.rss/1024)
			pssEach = append(pssEach, m.pss/1024)
		}
		return rss / 1024, pss / 1024, rssEach, pssEach
	}
	wr, wp, wre, wpe := sum(wn)
	cr, cp, cre, cpe := sum(cn)
	n := float64(*benchIdle)
	perPSS := wp / n
	e.add(benchRow{
		id: "4a", what: "idle container (runw: probe `sleep 1h`; runc: busybox `sleep 3600`), 1 alone: RSS",
		runw: fmt.Sprintf("%.1f MB", w1.rss/1024), runc: fmt.Sprintf("%.1f MB", c1.rss/1024),
	})
	e.add(benchRow{
		id: "4b", what: "idle container, 1 alone: PSS",
		runw: fmt.Sprintf("%.1f MB", w1.pss/1024), runc: fmt.Sprintf("%.1f MB", c1.pss/1024),
	})
	e.add(benchRow{
		id: "4c", what: fmt.Sprintf("idle, %d at once: RSS total; per container median [min … max]", *benchIdle),
		runw: fmt.Sprintf("%.0f MB; %s", wr, stats(wre).mem()), runc: fmt.Sprintf("%.0f MB; %s", cr, stats(cre).mem()),
	})
	e.add(benchRow{
		id: "4d", what: fmt.Sprintf("idle, %d at once: PSS total; per container (total ÷ %d)", *benchIdle, *benchIdle),
		runw:   fmt.Sprintf("%.0f MB; %.1f MB [%.1f … %.1f]", wp, perPSS, stats(wpe).min, stats(wpe).max),
		runc:   fmt.Sprintf("%.0f MB; %.2f MB [%.2f … %.2f]", cp, cp/n, stats(cpe).min, stats(cpe).max),
		target: fmt.Sprintf("< %.0f MB per container", targetIdleMB), met: yesNo(perPSS < targetIdleMB),
	})
	e.add(benchRow{
		id: "4e", what: "idle container, 1 alone, its create compiled the module (cache cold): RSS",
		runw: fmt.Sprintf("%.1f MB", wc.rss/1024),
	})
	return map[string]float64{
		"runw-1-rss-MB": w1.rss / 1024, "runw-1-pss-MB": w1.pss / 1024, "runw-1-cold-rss-MB": wc.rss / 1024,
		"runw-pss-MB/container": perPSS, "runw-rss-MB/container": wr / n,
		"runc-pss-MB/container": cp / n,
	}
}

// ---- 5. CPU-bound ----

func (e *benchEnv) cpuBound(b *testing.B) map[string]float64 {
	if e.bundles["w-cpu"] == "" || e.bundles["c-cpu"] == "" {
		b.Skip("cpu.c not built (gcc with static libc, clang --target=wasm32-wasi with wasi-libc: integration/deps.sh)")
	}
	var w, c []float64
	var wout, cout string
	for i := 0; i < *benchCPUReps; i++ {
		pair(i,
			func() {
				d, out, err := e.runOnce("w-cpu", e.cache)
				if err != nil {
					b.Fatal(err)
				}
				w, wout = append(w, d.Seconds()), out
			},
			func() {
				d, out, err := e.runOnce("c-cpu", e.cache)
				if err != nil {
					b.Fatal(err)
				}
				c, cout = append(c, d.Seconds()), out
			})
	}
	if wout != cout || !strings.HasPrefix(wout, "rounds=") {
		b.Fatalf("cpu: wasm printed %q, native %q", wout, cout)
	}
	sw, sc := stats(w), stats(c)
	ratio := sw.med / sc.med
	e.add(benchRow{
		id: "5", what: fmt.Sprintf("CPU-bound cpu.c, `run` wall time (runw: wasm32-wasi; runc: native static; `%s`)", strings.TrimSpace(wout)),
		runw: sw.dur(), runc: sc.dur(), ratio: fmt.Sprintf("%.2f×", ratio),
		target: fmt.Sprintf("≤ %.1f× native", targetCPURatio), met: yesNo(ratio <= targetCPURatio),
	})
	return map[string]float64{"runw-s": sw.med, "runc-s": sc.med, "runw/runc": ratio}
}

// ---- statistics and the table ----

type stat struct {
	med, min, max float64
	n             int
}

func stats(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return stat{med: med, min: s[0], max: s[n-1], n: n}
}

// dur formats seconds as "median [min … max] (n)".
func (s stat) dur() string {
	return fmt.Sprintf("%s [%s … %s] (%d)", secs(s.med), secs(s.min), secs(s.max), s.n)
}

func (s stat) rate() string {
	return fmt.Sprintf("%.1f/s [%.1f … %.1f] (%d)", s.med, s.min, s.max, s.n)
}

func (s stat) mem() string {
	return fmt.Sprintf("%.1f MB [%.1f … %.1f]", s.med, s.min, s.max)
}

func secs(v float64) string {
	switch {
	case v >= 10:
		return fmt.Sprintf("%.1f s", v)
	case v >= 1:
		return fmt.Sprintf("%.2f s", v)
	case v >= 0.1:
		return fmt.Sprintf("%.0f ms", v*1e3)
	default:
		return fmt.Sprintf("%.1f ms", v*1e3)
	}
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// benchRow is one line of the table; id is the item number (1-5)
// with a letter for each figure of it.
type benchRow struct {
	id, what, runw, runc, ratio, target, met string
}

func (e *benchEnv) add(r benchRow) {
	e.rows = append(e.rows, r)
	fmt.Printf("    %s %s: runw %s | runc %s | %s %s %s\n", r.id, r.what, r.runw, r.runc, r.ratio, r.target, r.met)
}

// printTable writes the machine, the settings and the results as markdown.
func (e *benchEnv) printTable(w io.Writer) {
	fmt.Fprintf(w, "\n### runw vs runc, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Machine: %s. runw %s, %s. Load average before: %s, after: %s.\n",
		machine(), strings.TrimPrefix(firstLine(e.runw, "--version"), "runw version "), firstLine("runc", "--version"), e.loadAvg, loadAvg())
	fmt.Fprintf(w, "Medians [min … max] (repetitions); runw and runc alternate in every repetition. Repetitions: -bench-reps %d, -bench-cold-reps %d, -bench-cpu-reps %d; throughput -bench-n %d × -bench-rounds %d; density -bench-idle %d.\n\n",
		*benchReps, *benchColdReps, *benchCPUReps, *benchN, *benchRounds, *benchIdle)
	fmt.Fprintln(w, "| # | measurement | runw | runc | runw ÷ runc | target | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range e.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.id, r.what, r.runw, r.runc, r.ratio, r.target, r.met)
	}
	fmt.Fprintln(w)
}

// machine describes the host: cores, CPU model, kernel, memory.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	var u unix.Utsname
	kernel := "?"
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Release[:])
	}
	memKB, _ := procField("/proc/meminfo", "MemTotal:")
	return fmt.Sprintf("%d × %s, Linux %s, %.1f GiB RAM", goruntime.NumCPU(), model, kernel, memKB/(1<<20))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// firstLine runs a command and returns the first line of its output.
func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return name + " (version unknown)"
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return l
}

// BenchmarkComponentVsModule compares `runw run` of the hello component
// (the Go hello guest wrapped by jco's preview1 adapter) with `runw run`
// of the same program as a module, cache warm, alternating the two in one
// run; it reports each one's median wall time.
func BenchmarkComponentVsModule(b *testing.B) {
	comp := componentOf(b, "hello")
	dir := b.TempDir()
	cache := filepath.Join(dir, "cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		b.Fatal(err)
	}
	bundles := map[string]string{}
	for name, src := range map[string]string{"component": comp, "module": guests["hello"]} {
		bd := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(bd, "rootfs"), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := copyFile(src, filepath.Join(bd, "rootfs", "hello.wasm")); err != nil {
			b.Fatal(err)
		}
		data, _ := json.Marshal(defaultSpec("/hello.wasm"))
		if err := os.WriteFile(filepath.Join(bd, "config.json"), data, 0o644); err != nil {
			b.Fatal(err)
		}
		bundles[name] = bd
	}
	bin := runwBin
	if *benchRunwPath != "" {
		bin = *benchRunwPath
	}
	n := 0
	run := func(name string) float64 {
		n++
		start := time.Now()
		out, err := exec.Command(bin, "--root", filepath.Join(dir, "state"), "--cache-dir", cache,
			"run", "-b", bundles[name], fmt.Sprintf("%s-%d", name, n)).CombinedOutput()
		took := time.Since(start).Seconds()
		if err != nil || string(out) != "Hello from a WebAssembly container!\n" {
			b.Fatalf("runw run %s: %v: %q", name, err, out)
		}
		return took
	}
	run("component") // warm the cache
	run("module")
	reps := *benchReps
	if b.N > reps {
		reps = b.N
	}
	times := map[string][]float64{}
	b.ResetTimer()
	for i := 0; i < reps; i++ {
		for _, name := range []string{"component", "module"} {
			times[name] = append(times[name], run(name))
		}
	}
	b.StopTimer()
	for _, name := range []string{"component", "module"} {
		s := stats(times[name])
		b.ReportMetric(s.med*1000, name+"-ms")
		b.Logf("runw run, cache warm, %s: %s", name, s.dur())
	}
}
