package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
)

// A compile child that confined itself (confineCompile) tries what code
// that escaped Cranelift would: read a root-only file and write a file
// outside the cache, execute a binary, connect to a TCP listener, signal
// its parent, use a capability, write, rename or remove in the compiled-
// module cache, fork. Each must fail on every thread, the ones Go made
// before the confinement included, while a new thread still starts.
func TestCompileChildIsConfined(t *testing.T) {
	if env := os.Getenv("RUNW_TEST_CONFINE"); env != "" {
		if err := confinedChild(strings.Split(env, "|")); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// As whoever runs the test (root in make test: every capability to
	// lose), and, as root, also as a user, who cannot empty the bounding
	// set and must still be confined.
	// And in a pid namespace of its own under the host's /proc, as the
	// init's compile child runs before the init mounts the container's:
	// /proc/self/task named the threads by host tids, tgkill took them
	// for gone, and every thread but the caller kept its capabilities.
	type run struct {
		name  string
		cred  *syscall.Credential
		flags uintptr
	}
	runs := []run{{"as the test's user", nil, 0}}
	if os.Geteuid() == 0 {
		runs = append(runs, run{"as uid 65534", &syscall.Credential{Uid: 65534, Gid: 65534}, 0},
			run{"in a pid namespace under the host's proc", nil, syscall.CLONE_NEWPID})
	}
	for _, c := range runs {
		cred := c.cred
		t.Run(c.name, func(t *testing.T) {
			// Directories the child's user may reach: the test binary's
			// copy, its cache and a directory it could write outside it.
			// (t.TempDir's parent is 0700.)
			top, err := os.MkdirTemp("", "runw-confine-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(top) })
			if err := os.Chmod(top, 0o755); err != nil {
				t.Fatal(err)
			}
			bin, cache, outside := filepath.Join(top, "test"), filepath.Join(top, "cache"), filepath.Join(top, "outside")
			if err := copyExecutable(os.Args[0], bin); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{cache, outside} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(outside, 0o777); err != nil {
				t.Fatal(err)
			}
			secret := filepath.Join(outside, "secret")
			if err := os.WriteFile(secret, []byte("host secret"), 0o644); err != nil {
				t.Fatal(err)
			}
			// A Unix socket at a path, as the host's containerd, docker,
			// podman and systemd listen, writable by its owner only.
			unixLn, err := net.Listen("unix", filepath.Join(outside, "sock"))
			if err != nil {
				t.Fatal(err)
			}
			defer unixLn.Close()
			if err := os.Chmod(filepath.Join(outside, "sock"), 0o600); err != nil {
				t.Fatal(err)
			}
			if cred != nil {
				if err := os.Chown(cache, int(cred.Uid), int(cred.Gid)); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bin, "-test.run=^TestCompileChildIsConfined$")
			parent := os.Getpid()
			if c.flags&syscall.CLONE_NEWPID != 0 {
				parent = 0 // not in the child's pid namespace: no signal attack
			}
			cmd.Env = append(os.Environ(), "RUNW_TEST_CONFINE="+strings.Join([]string{
				cache, outside, secret, ln.Addr().String(), fmt.Sprint(parent)}, "|"))
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Cloneflags: c.flags}
			// A descriptor runw's caller left open across exec (a
			// preserved fd, a shim's pipe), which the child inherits as
			// fd 3: a file outside the cache, open for writing.
			inherited, err := os.OpenFile(filepath.Join(outside, "inherited"), os.O_WRONLY|os.O_CREATE, 0o666)
			if err != nil {
				t.Fatal(err)
			}
			defer inherited.Close()
			cmd.ExtraFiles = []*os.File{inherited}
			if out, err := cmd.CombinedOutput(); err != nil {
				if len(out) == 0 && cmd.ProcessState != nil {
					out = []byte("no output: the child executed /bin/false, which the confinement must refuse")
				}
				t.Fatalf("%v: %s", err, out)
			}
			if _, err := os.Stat(filepath.Join(outside, "dropped")); err == nil {
				t.Fatal("the confined child wrote a file outside the cache")
			}
			if fi, err := os.Stat(filepath.Join(outside, "inherited")); err != nil || fi.Size() != 0 {
				t.Fatalf("the confined child wrote through a descriptor it inherited (%v)", err)
			}
		})
	}
}

func copyExecutable(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

func confinedChild(args []string) error {
	cacheDir, outside, secret, addr := args[0], args[1], args[2], args[3]
	var parent int
	fmt.Sscan(args[4], &parent)
	c, err := wasi.OpenCache(cacheDir, 0)
	if err != nil {
		return err
	}
	// Another module's artifact, stored before the confinement: code
	// that escaped Cranelift must not replace it.
	key := strings.Repeat("ab", 32)
	if err := c.Store(key, []byte("artifact")); err != nil {
		return err
	}
	// Threads Go made before the confinement, each locked to a goroutine
	// that will try the attacks from it.
	const locked = 8
	tries := make([]chan chan []string, locked)
	for i := range tries {
		tries[i] = make(chan chan []string)
		ready := make(chan struct{})
		go func(ask chan chan []string) {
			runtime.LockOSThread()
			close(ready)
			for reply := range ask {
				reply <- attacks(outside, secret, addr, parent, cacheDir, key)
			}
		}(tries[i])
		<-ready
	}
	if err := confineCompile(); err != nil {
		return fmt.Errorf("confineCompile: %w", err)
	}
	var failures []string
	failures = append(failures, attacks(outside, secret, addr, parent, cacheDir, key)...)
	for _, ask := range tries {
		reply := make(chan []string)
		ask <- reply
		failures = append(failures, <-reply...)
	}
	// What the child must still do: start threads (Cranelift's), which
	// the seccomp filter lets through while it refuses a new process.
	done := make(chan int)
	go func() {
		runtime.LockOSThread()
		done <- unix.Gettid()
		select {}
	}()
	if tid := <-done; tid == unix.Getpid() {
		failures = append(failures, "no new thread")
	}
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "\n"))
	}
	if b, err := os.ReadFile(filepath.Join(cacheDir, key+".cwasm")); err == nil && string(b) != "artifact" {
		return fmt.Errorf("the artifact now reads %q", b)
	}
	return nil
}

// attacks tries, from the calling thread, what the confinement must stop,
// and returns what was not stopped.
func attacks(outside, secret, addr string, parent int, cacheDir, key string) []string {
	var got []string
	// No new process: one would outlive the child and hold its pipe.
	if _, _, e := unix.RawSyscall(unix.SYS_FORK, 0, 0, 0); e != unix.EPERM {
		if e == 0 {
			unix.Exit(0) // the child of a fork that was let through
		}
		got = append(got, fmt.Sprintf("thread %d: fork: %v, want EPERM", unix.Gettid(), e))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0); e != unix.EPERM {
		if e == 0 {
			unix.Exit(0)
		}
		got = append(got, fmt.Sprintf("thread %d: clone without CLONE_THREAD: %v, want EPERM", unix.Gettid(), e))
	}
	if _, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0); e != unix.ENOSYS {
		got = append(got, fmt.Sprintf("thread %d: clone3: %v, want ENOSYS", unix.Gettid(), e))
	}
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil || data[0].Effective|data[0].Permitted|data[1].Effective|data[1].Permitted != 0 {
		got = append(got, fmt.Sprintf("thread %d: capabilities %+v (%v)", unix.Gettid(), data, err))
	}
	if v, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(unix.CAP_SYS_ADMIN), 0, 0, 0); v != 0 && os.Geteuid() == 0 {
		got = append(got, fmt.Sprintf("thread %d: CAP_SYS_ADMIN still in the bounding set", unix.Gettid()))
	}
	if v, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); v != 1 {
		got = append(got, fmt.Sprintf("thread %d: no_new_privs %d", unix.Gettid(), v))
	}
	// Descriptor 3 as the child inherited it: open for writing on a file
	// outside the cache, which Landlock checked at no open of the child's.
	var fd3, inherited unix.Stat_t
	if unix.Fstat(3, &fd3) == nil && unix.Stat(filepath.Join(outside, "inherited"), &inherited) == nil &&
		fd3.Dev == inherited.Dev && fd3.Ino == inherited.Ino {
		if _, err := unix.Write(3, []byte("x")); err == nil {
			got = append(got, fmt.Sprintf("thread %d: wrote through inherited descriptor 3", unix.Gettid()))
		}
	}
	if conn, err := net.Dial("unix", filepath.Join(outside, "sock")); err == nil {
		conn.Close()
		got = append(got, fmt.Sprintf("thread %d: connected to a Unix socket outside the cache", unix.Gettid()))
	}
	if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0); err == nil {
		unix.Close(fd)
		got = append(got, fmt.Sprintf("thread %d: made a UDP socket", unix.Gettid()))
	}
	abi := LandlockABI()
	if abi == 0 {
		return got
	}
	if b, err := os.ReadFile(secret); err == nil {
		got = append(got, fmt.Sprintf("thread %d: read %q outside the cache", unix.Gettid(), b))
	}
	// The cache itself: runw stores the artifact the child hands back.
	artifact := filepath.Join(cacheDir, key+".cwasm")
	if f, err := os.OpenFile(artifact, os.O_WRONLY, 0); err == nil {
		f.Close()
		got = append(got, fmt.Sprintf("thread %d: opened another module's artifact for writing", unix.Gettid()))
	}
	if err := os.WriteFile(filepath.Join(cacheDir, "planted.cwasm"), []byte("x"), 0o600); err == nil {
		got = append(got, fmt.Sprintf("thread %d: made a file in the cache", unix.Gettid()))
	}
	if err := os.Rename(artifact, artifact+".moved"); err == nil {
		got = append(got, fmt.Sprintf("thread %d: renamed another module's artifact", unix.Gettid()))
	}
	if err := os.Remove(artifact); err == nil {
		got = append(got, fmt.Sprintf("thread %d: removed another module's artifact", unix.Gettid()))
	}
	if _, err := os.ReadDir(cacheDir); err == nil {
		got = append(got, fmt.Sprintf("thread %d: listed the cache", unix.Gettid()))
	}
	if err := os.WriteFile(filepath.Join(outside, "dropped"), []byte("x"), 0o755); err == nil {
		got = append(got, fmt.Sprintf("thread %d: wrote outside the cache", unix.Gettid()))
	}
	// Landlock does not mediate a file's mode or owner: uid 0, owner of
	// most of the host's files, could make one writable by all or setuid.
	if err := os.Chmod(secret, 0o4777); err == nil {
		got = append(got, fmt.Sprintf("thread %d: changed the mode of %s outside the cache", unix.Gettid(), secret))
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, secret, 0o4777, 0); err == nil {
		got = append(got, fmt.Sprintf("thread %d: fchmodat %s outside the cache", unix.Gettid(), secret))
	}
	atFDCWD := unix.AT_FDCWD
	if p, err := unix.BytePtrFromString(secret); err == nil {
		if _, _, e := unix.Syscall6(sysFchmodat2, uintptr(atFDCWD), uintptr(unsafe.Pointer(p)), 0o4777, 0, 0, 0); e == 0 {
			got = append(got, fmt.Sprintf("thread %d: fchmodat2 %s outside the cache", unix.Gettid(), secret))
		}
	}
	if err := os.Chown(secret, os.Geteuid(), os.Getegid()); err == nil {
		got = append(got, fmt.Sprintf("thread %d: changed the owner of %s outside the cache", unix.Gettid(), secret))
	}
	// /bin/false: an exec the confinement let through ends the child
	// with status 1, which fails the test too.
	if err := unix.Exec("/bin/false", []string{"false"}, nil); !errors.Is(err, unix.EACCES) {
		got = append(got, fmt.Sprintf("thread %d: execve: %v, want EACCES", unix.Gettid(), err))
	}
	if abi >= 4 {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			got = append(got, fmt.Sprintf("thread %d: connected to %s", unix.Gettid(), addr))
		}
	}
	if abi >= 6 && parent != 0 {
		if err := unix.Kill(parent, 0); !errors.Is(err, unix.EPERM) {
			got = append(got, fmt.Sprintf("thread %d: kill(parent, 0): %v, want EPERM", unix.Gettid(), err))
		}
	}
	return got
}
