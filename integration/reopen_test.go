package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// reopenPollEnv makes the test binary reopenPoll instead of testing.
const reopenPollEnv = "RUNW_TEST_REOPEN_POLL"

// reopenPoll is the attacker of TestInitDescriptorsAreNotReopenedDuringSetup,
// run in the container's pid namespace: until its standard input ends,
// it opens <key>.cwasm for writing beneath every directory descriptor of
// every process it sees (/proc/<pid>/fd/N/<key>.cwasm), writing nothing.
// It prints "ready" after its first pass, then one line per reopen.
func reopenPoll(key string) int {
	var done atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		done.Store(true)
	}()
	me := fmt.Sprint(os.Getpid())
	for first := true; !done.Load(); first = false {
		pids, _ := os.ReadDir("/proc")
		for _, p := range pids {
			if p.Name() == me || strings.Trim(p.Name(), "0123456789") != "" {
				continue
			}
			fds, _ := filepath.Glob("/proc/" + p.Name() + "/fd/*")
			for _, fd := range fds {
				if f, err := os.OpenFile(filepath.Join(fd, key+".cwasm"), os.O_WRONLY, 0); err == nil {
					f.Close()
					comm, _ := os.ReadFile("/proc/" + p.Name() + "/comm")
					fmt.Printf("reopened %s.cwasm for writing through %s (%s)\n", key, fd, strings.TrimSpace(string(comm)))
				}
			}
		}
		if first {
			fmt.Println("ready")
		}
	}
	return 0
}

// TestInitDescriptorsAreNotReopenedDuringSetup: while an init sets up (a
// container's, or an exec'd process's), it holds the descriptors create
// or exec handed it, runw's writable cache directory among them. The
// attack: root of the container's pid namespace without CAP_SYS_PTRACE
// (a native sidecar with the default capabilities) opened any artifact
// of the cache for writing through /proc/<init>/fd/N/<key>.cwasm, and
// an exec'd process compiling a module the cache lacks held it for
// seconds (the read-only view of the mapped artifact does not help
// there). The init is non-dumpable until it has closed them, as runc's
// is, which hides its descriptors from such a process.
func TestInitDescriptorsAreNotReopenedDuringSetup(t *testing.T) {
	needsRoot(t, "enters the container's pid namespace")
	for _, tool := range []string{"nsenter", "unshare", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s: %v", tool, err)
		}
	}
	r := newRunw(t)
	r.cache = t.TempDir()
	if err := os.Chmod(r.cache, 0o700); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe", "sleep", "60s")
	b.edit(func(s *specs.Spec) { ownMountAndPID(s) })
	traversable(t, b.dir)
	// A module the cache lacks: the exec'd init compiles it in a child,
	// for seconds, holding the cache directory.
	wasm, err := os.ReadFile(guests["probe"])
	if err != nil {
		t.Fatal(err)
	}
	b.writeFile("fresh.wasm", string(append(wasm, 0, 5, 4, 'r', 'u', 'n', 'w')))
	r.mustRun("create", "--bundle", b.dir, "setup")
	defer r.run("delete", "--force", "setup")
	r.mustRun("start", "setup")
	st, _, ok := r.state("setup")
	if !ok {
		t.Fatal("no state for the started container")
	}
	artifact := mappedArtifact(t, st.Pid, r.cache)
	if artifact == "" {
		t.Fatal("the init maps no artifact of the cache")
	}
	key := strings.TrimSuffix(filepath.Base(artifact), ".cwasm")
	sidecar := exec.Command("nsenter", "-t", fmt.Sprint(st.Pid), "-p", "--",
		"unshare", "-m", "-f", "--propagation", "private", "sh", "-c",
		`mount -t proc proc /proc && exec setpriv --bounding-set -sys_ptrace --inh-caps -all "$0"`, os.Args[0])
	sidecar.Env = append(os.Environ(), reopenPollEnv+"="+key)
	stdin, err := sidecar.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sidecar.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	sidecar.Stderr = &stderr
	if err := sidecar.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(out)
	if l, err := lines.ReadString('\n'); err != nil || l != "ready\n" {
		stdin.Close()
		sidecar.Wait()
		t.Fatalf("sidecar: %q %v (%s)", l, err, stderr.String())
	}
	r.mustRun("exec", "setup", "/fresh.wasm", "echo", "x")
	for i := 0; i < 10; i++ {
		r.mustRun("exec", "setup", "/probe.wasm", "echo", "x")
	}
	time.Sleep(100 * time.Millisecond)
	stdin.Close()
	rest, _ := io.ReadAll(lines)
	if err := sidecar.Wait(); err != nil {
		t.Fatalf("sidecar: %v (%s)", err, stderr.String())
	}
	if len(rest) != 0 {
		t.Errorf("root of the container's pid namespace without CAP_SYS_PTRACE reopened a shared artifact for writing:\n%s", rest)
	}
}
