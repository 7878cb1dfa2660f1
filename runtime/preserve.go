package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
)

// preservedFDs checks the descriptors --preserve-fds asks for, runw's 3 to
// 3+n-1 (runc's flag: podman's --preserve-fds, and the sockets of
// systemd's socket activation of a podman container, which podman and
// conmon pass on this way), and returns their numbers. With listen (the
// sockets of systemd's activation of runw itself, activated) they start
// after those, which come first, as under runc.
//
// Each must have come through the exec of runw: open and not
// close-on-exec. Every descriptor runw or Go's runtime opens is
// close-on-exec, and every one that survived the exec is not, so this
// tells the caller's from runw's own at any point before
// closeInheritedOnExec. The attack it stops: `--preserve-fds 2` with only
// descriptor 3 open would have handed the guest whatever runw itself had
// opened as 4 by then (the state directory, the bundle, the cache), as
// host root. runc passes such a number on and the exec of its init fails;
// runw says which one is missing.
//
// Both counts are bounded by maxPreservedFDs before they are added: a
// LISTEN_FDS of 2^63-1 made the sum wrap negative and runw panic, and a
// --preserve-fds as large passed nothing at all, without a word.
func preservedFDs(listen, n int) ([]int, error) {
	if n < 0 || n > maxPreservedFDs {
		return nil, fmt.Errorf("preserve-fds: %d: want a count of descriptors, 0 to %d", n, maxPreservedFDs)
	}
	if listen > maxPreservedFDs {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%d: more descriptors than a process may have (%d)", listen, maxPreservedFDs)
	}
	fds := make([]int, 0, min(listen+n, 64))
	for fd := 3; fd < 3+listen+n; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
			continue
		}
		if fd < 3+listen {
			return nil, fmt.Errorf("socket activation: descriptor %d is not open (LISTEN_FDS=%d passes descriptors 3 to %d)", fd, listen, 2+listen)
		}
		return nil, fmt.Errorf("preserve-fds: descriptor %d is not open (--preserve-fds %d passes descriptors %d to %d)", fd, n, 3+listen, 2+listen+n)
	}
	return fds, nil
}

// maxPreservedFDs is Linux's default limit on a process's descriptors
// (fs.nr_open): no caller can have passed more.
const maxPreservedFDs = 1 << 20

// activated is how many sockets systemd handed runw itself (LISTEN_FDS,
// for this process: LISTEN_PID is its pid), as runc's create and run
// read them: a unit that runs `runw run` directly. Engines that are
// activated themselves pass theirs on with --preserve-fds instead (podman
// gives conmon and runw LISTEN_PID=1, which is not theirs).
func activated() int {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// listenExecEnv marks runw started only to exec the native runtime with
// LISTEN_PID set to its own pid (ListenExec).
const listenExecEnv = "_RUNW_LISTEN_EXEC"

// activatedNative makes cmd, a native runtime's create or run for a
// bundle runw hands over, receive the sockets systemd activated runw with,
// as that runtime would have received them in runw's place: runc takes
// them only when LISTEN_PID is its own pid, which a child's cannot be
// before it exists. So the child is runw again, which sets it and execs
// the runtime (ListenExec), keeping the descriptors at 3 and up.
func activatedNative(cmd *exec.Cmd, listen int) {
	if listen == 0 {
		return
	}
	// /proc/self/exe: the binary this runw runs, even if an upgrade has
	// replaced its path since. The child enters no container (runc makes
	// it afterwards), so nothing of a container can reach it by
	// /proc/<pid>/exe, the attack the init's sealed copy stops (exe.go).
	cmd.Args = append([]string{"runw", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = "/proc/self/exe"
	cmd.Env = append(os.Environ(), listenExecEnv+"=1")
}

// ListenExec is runw started by activatedNative: it takes LISTEN_PID as
// its own and execs the native runtime with its arguments. It never
// returns but on an error. The marker gives nothing its setter lacks:
// runw is no setuid program, and whoever sets its environment and argv
// can run that program without it. No container's configuration reaches
// runw's own environment (process.env goes to the guest), and the inits
// and compile children runw starts get environments of runw's making.
func ListenExec() error {
	os.Unsetenv(listenExecEnv)
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	if len(os.Args) < 2 {
		return errors.New("socket activation: no runtime to exec")
	}
	return unix.Exec(os.Args[1], os.Args[1:], os.Environ())
}

// IsListenExec says runw was started by activatedNative.
func IsListenExec() bool { return os.Getenv(listenExecEnv) == "1" }

// preserve records the preserved descriptors for the init, once the plan
// says what runs: a module gets them after its listeners
// (preview1.Config.Inherited); a component cannot, as wasmtime's WASI 0.2
// takes no descriptors, and neither may a socket reach a guest whose
// annotation denies it every socket.
func (cfg *initConfig) preserve(fds []int, s *specs.Spec) error {
	if len(fds) == 0 {
		return nil
	}
	if cfg.Plan.Kind.IsComponent() {
		return errors.New("preserve-fds: a component cannot be given descriptors (wasmtime's WASI 0.2 takes none); runw passes them to modules")
	}
	if s.Annotations[wasi.AnnotationNet] == "deny" {
		for _, fd := range fds {
			var st unix.Stat_t
			if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
				return fmt.Errorf("preserve-fds: descriptor %d is a socket, but the annotation %s=deny grants the guest no sockets", fd, wasi.AnnotationNet)
			}
		}
	}
	cfg.preserved = fds
	return nil
}

// passPreserved appends the preserved descriptors to the init's extra
// files, after those handOver and passAll made, and names them in the
// plan by the numbers they get there (extraFD). They are not counted in
// Passed: the guest keeps them.
func (cfg *initConfig) passPreserved(extra []*os.File) []*os.File {
	for _, fd := range cfg.preserved {
		cfg.Plan.Inherited = append(cfg.Plan.Inherited, extraFD(len(extra)))
		extra = append(extra, os.NewFile(uintptr(fd), fmt.Sprintf("preserved-%d", fd)))
	}
	return extra
}
