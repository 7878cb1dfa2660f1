package runtime

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/state"
)

// Kill sends sig to the container's init. With all (kill -a, which CRI-O
// and containerd send, and podman stop), it is sent to every process in
// the container's cgroup too, as runc does: without a pid namespace of
// the container's own, exec'd processes outlive the init, and a stopped
// container can still hold them, so that is not an error either.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	h, c, err := r.lockLoad(id)
	if err != nil {
		return err
	}
	defer h.Unlock()
	// The init, and behind a proxy (a user namespace joined by path) the
	// proxy's child, in the cgroup too: signalled through the proxy, last.
	var inits []int
	if all {
		inits = []int{c.InitPid, proxiedInit(c.InitPid)}
		if _, err := cgroupPids(c.CgroupPath); err != nil && withoutCgroup(err) {
			// Rootless without a cgroup: every process of the pid
			// namespace, exec'd ones too, listed and signalled before
			// the init, whose death would take them with SIGKILL,
			// and waited for as with a cgroup.
			pids, _ := pidNamespaceOf(c)
			grace := graceFor(sig)
			waitExited(signalPids(pids, sig, inits, grace > 0), grace)
			if err := signalInit(c, sig); err != nil && err != unix.ESRCH {
				return fmt.Errorf("kill container: %w", err)
			}
			return nil
		}
	}
	st := r.status(c)
	alive := st == state.Created || st == state.Running || st == state.Paused
	// kill --all signals the others before the init, and gives them
	// killAllGrace to end, as runc's signals them all in the frozen
	// cgroup: the init's end SIGKILLs every other process of its pid
	// namespace, and a wasm guest's end is prompt, so exec'd processes
	// signalled after it (or with it: a wasm process takes milliseconds
	// to end where a native one dies at once) were found killed (137 in
	// containerd's exit events) without the signal (143 under runc).
	// SIGKILL, all the same to them, goes to the init first: cgroup v2
	// kills the whole cgroup at once, and the init's own kill would then
	// find it gone.
	early := all && alive && sig != unix.SIGKILL
	if early {
		signalCgroup(c.CgroupPath, sig, inits, graceFor(sig))
	}
	err = ErrNotRunning
	if alive {
		err = signalInit(c, sig)
		if err == unix.ESRCH {
			err = ErrNotRunning
		}
	}
	if err != nil && err != ErrNotRunning {
		return fmt.Errorf("kill container: %w", err)
	}
	if all {
		if !early {
			var skip []int
			if err == nil {
				skip = []int{c.InitPid} // signalled already
			}
			signalCgroup(c.CgroupPath, sig, skip, 0)
		}
		return nil
	}
	if err == nil && sig == unix.SIGKILL {
		// Every process in the container (exec'd ones too) dies, and a
		// frozen one only dies once thawed, as under runc.
		killCgroup(c.CgroupPath)
	}
	return err
}

// killAllGrace is how long kill --all waits for the processes it
// signalled before the init to end before it signals the init (a wasm
// guest ends within milliseconds of SIGTERM; one that outlives it loses
// nothing but the head start).
const killAllGrace = 500 * time.Millisecond

// graceFor is killAllGrace for a signal whose default action ends a
// process, 0 for one that stops, continues or is ignored (SIGSTOP,
// SIGCONT, SIGCHLD, SIGWINCH, SIGURG, 0), which no process ends of
// (kill --all STOP would otherwise wait the whole grace every time), and
// for SIGKILL, which no process can outlive to be waited for.
func graceFor(sig unix.Signal) time.Duration {
	switch sig {
	case 0, unix.SIGKILL, unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGCONT, unix.SIGCHLD, unix.SIGWINCH, unix.SIGURG:
		return 0
	}
	return killAllGrace
}

// ParseSignal accepts a number ("9"; 0 checks that the init is alive) or
// a name with or without SIG, in any case ("KILL", "sigterm"), as runc
// does.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("unknown signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
