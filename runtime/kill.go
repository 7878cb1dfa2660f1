package runtime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/state"
)

// ErrNotRunning is runc's text; CRI-O and containerd match on it.
var ErrNotRunning = errors.New("container not running")

// Kill sends sig to the container's init. With all (kill -a, still sent by
// CRI-O and containerd), a stopped container is not an error.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	h, c, err := r.lockLoad(id)
	if err != nil {
		return err
	}
	defer h.Unlock()
	if st := r.status(c); st != state.Created && st != state.Running && st != state.Paused {
		if all {
			return nil
		}
		return ErrNotRunning
	}
	if err := signalInit(c, sig); err != nil {
		if err == unix.ESRCH {
			if all {
				return nil
			}
			return ErrNotRunning
		}
		return fmt.Errorf("kill container: %w", err)
	}
	if sig == unix.SIGKILL {
		// Every process in the container (exec'd ones too) dies, and a
		// frozen one only dies once thawed, as under runc.
		killCgroup(c.CgroupPath)
	}
	return nil
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
