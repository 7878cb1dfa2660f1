package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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

// seccompErrnoEnv ("NR:ERRNO:PROGRAM") makes the test binary run PROGRAM
// with its own arguments under a seccomp filter that fails system call NR
// with ERRNO: runw where a filter denies the mount API (an engine's
// default profile, without CAP_SYS_ADMIN).
const seccompErrnoEnv = "RUNW_TEST_SECCOMP_ERRNO"

func seccompExec(v string) int {
	var nr, errno uint32
	var prog string
	if _, err := fmt.Sscanf(strings.Replace(strings.Replace(v, ":", " ", 2), ":", " ", 1), "%d %d %s", &nr, &errno, &prog); err != nil {
		fmt.Fprintln(os.Stderr, "seccompExec:", v, err)
		return 2
	}
	runtime.LockOSThread()
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: nr},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | errno},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "seccompExec:", err)
		return 2
	}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "seccompExec:", err)
		return 2
	}
	os.Unsetenv(seccompErrnoEnv)
	err := syscall.Exec(prog, append([]string{prog}, os.Args[1:]...), os.Environ())
	fmt.Fprintln(os.Stderr, "seccompExec:", err)
	return 2
}

// TestArtifactIsPrivateWithoutAView: where runw cannot make its read-only
// view of the cache (here open_tree fails with EPERM, as under a seccomp
// profile without CAP_SYS_ADMIN; ENOSYS on a kernel before 5.12), the
// init mapped the artifact from the cache directory itself, and root of
// the host (or of the container's pid namespace, as in
// TestArtifactCannotBeReopenedForWriting) reopened its descriptor for
// writing and rewrote the shared artifact. It maps a sealed private copy
// instead: a write through the reopened descriptor reaches nothing.
func TestArtifactIsPrivateWithoutAView(t *testing.T) {
	needsRoot(t, "reads the init's descriptors")
	r := newRunw(t)
	r.cache = t.TempDir()
	if err := os.Chmod(r.cache, 0o700); err != nil {
		t.Fatal(err)
	}
	r.bin = os.Args[0]
	r.env = append(os.Environ(), fmt.Sprintf("%s=%d:%d:%s", seccompErrnoEnv, unix.SYS_OPEN_TREE, unix.EPERM, runwBin))
	b := newBundle(t, "probe", "sleep", "60s")
	b.edit(func(s *specs.Spec) { ownMountAndPID(s) })
	traversable(t, b.dir)
	r.mustRun("create", "--bundle", b.dir, "noview")
	defer r.run("delete", "--force", "noview")
	st, _, ok := r.state("noview")
	if !ok {
		t.Fatal("no state for the created container")
	}
	artifacts, _ := filepath.Glob(filepath.Join(r.cache, "*.cwasm"))
	if len(artifacts) != 1 {
		t.Fatalf("cache holds %d artifacts, want 1", len(artifacts))
	}
	before, err := os.ReadFile(artifacts[0])
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSuffix(filepath.Base(artifacts[0]), ".cwasm")
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", st.Pid))
	held := 0
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err != nil || !strings.Contains(l, key) {
			continue
		}
		held++
		if f, err := os.OpenFile(fd, os.O_WRONLY, 0); err == nil {
			_, _ = f.WriteAt([]byte("planted"), 0)
			f.Close()
		}
	}
	if held == 0 {
		t.Fatal("the init holds no descriptor of its artifact: the attack has nothing to reopen")
	}
	if after, err := os.ReadFile(artifacts[0]); err != nil || !bytes.Equal(after, before) {
		t.Errorf("a write through the init's artifact descriptor changed the cache's artifact %s (%v)", artifacts[0], err)
	}
	r.mustRun("start", "noview")
}
