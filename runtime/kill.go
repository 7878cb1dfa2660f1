package runtime

import (
	"fmt"
	"strconv"
	"strings"

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
	if all {
		if _, err := cgroupPids(c.CgroupPath); err != nil && withoutCgroup(err) {
			// Rootless without a cgroup: every process of the pid
			// namespace, exec'd ones too, listed and signalled before
			// the init, whose death would take them with SIGKILL.
			// Without a freezer a pid may be reused between the list
			// and the signal, as under runc then.
			pids, _ := pidNamespaceOf(c)
			for _, pid := range pids {
				if pid != c.InitPid {
					unix.Kill(pid, sig)
				}
			}
			if err := signalInit(c, sig); err != nil && err != unix.ESRCH {
				return fmt.Errorf("kill container: %w", err)
			}
			return nil
		}
	}
	err = ErrNotRunning
	if st := r.status(c); st == state.Created || st == state.Running || st == state.Paused {
		err = signalInit(c, sig)
		if err == unix.ESRCH {
			err = ErrNotRunning
		}
	}
	if err != nil && err != ErrNotRunning {
		return fmt.Errorf("kill container: %w", err)
	}
	if all {
		skip := 0
		if err == nil {
			skip = c.InitPid // signalled already
		}
		signalCgroup(c.CgroupPath, sig, skip)
		return nil
	}
	if err == nil && sig == unix.SIGKILL {
		// Every process in the container (exec'd ones too) dies, and a
		// frozen one only dies once thawed, as under runc.
		killCgroup(c.CgroupPath)
	}
	return err
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
