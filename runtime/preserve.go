package runtime

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
)

// preservedFDs checks the descriptors --preserve-fds asks for, runw's 3 to
// 3+n-1 (runc's flag: podman's --preserve-fds, and the sockets of
// systemd's socket activation of a podman container, which podman and
// conmon pass on this way), and returns their numbers.
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
func preservedFDs(n int) ([]int, error) {
	if n < 0 {
		return nil, fmt.Errorf("preserve-fds: %d: want a count of descriptors, 0 or more", n)
	}
	fds := make([]int, 0, min(n, 64))
	for fd := 3; fd < 3+n; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			return nil, fmt.Errorf("preserve-fds: descriptor %d is not open (--preserve-fds %d passes descriptors 3 to %d)", fd, n, 2+n)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

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
