package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/state"
)

// What every command does with a recorded container: lock and load it,
// derive its status, reach its init.

// lockLoad locks id and loads its state; a directory without state.json
// (an aborted create) counts as a container that does not exist.
func (r *Runtime) lockLoad(id string) (*state.Handle, *state.Container, error) {
	h, err := r.store.Lock(id)
	if err != nil {
		return nil, nil, err
	}
	c, err := h.Load()
	if err != nil {
		h.Unlock()
		if errors.Is(err, state.ErrStateMissing) {
			return nil, nil, state.ErrNotExist
		}
		return nil, nil, err
	}
	return h, c, nil
}

// status derives a container's status, adding paused (a frozen cgroup) to
// what state.Status derives from the init's pid.
func (r *Runtime) status(c *state.Container) string {
	st := state.Status(c)
	if st == state.Running && r.releasePending(c) {
		st = state.Created
	}
	if (st == state.Running || st == state.Created) && frozen(c.CgroupPath) {
		return state.Paused
	}
	return st
}

// releasePending says a start was cut short (killed) between recording
// the guest released (Started, saved first: start.go) and releasing it:
// the exec fifo is still there and a thread of the init still waits to
// open it (the kernel's wait_for_partner). Such a container is created
// still, as runc, which goes by its fifo, reports one, and a start
// releases it; it read as running, no start could release it, and the
// guest never ran. A guest of its own blocked opening a FIFO waits the
// same way, but only after a start that released it, which removes the
// exec fifo next: only a start killed in the microseconds between the
// two leaves such a guest reading as created (a second start then
// finds no byte and does not kill it: start.go's again).
func (r *Runtime) releasePending(c *state.Container) bool {
	if _, err := os.Lstat(filepath.Join(r.store.Root, c.ID, state.FifoFile)); err != nil {
		return false
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", c.InitPid))
	for _, t := range tasks {
		if w, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/wchan", c.InitPid, t.Name())); string(w) == "wait_for_partner" {
			return true
		}
	}
	return false
}

// openInit returns a pidfd of the container's init, or unix.ESRCH when the
// init is gone. The pid is checked against the recorded start time after
// the pidfd is opened, so a signal sent through it can never reach a
// process that was given the pid after the init died (a kill by pid after
// a separate check could).
func openInit(c *state.Container) (int, error) {
	pidfd, err := unix.PidfdOpen(c.InitPid, 0)
	if err != nil {
		return -1, unix.ESRCH
	}
	if !state.Alive(c.InitPid, c.InitStartTime) {
		unix.Close(pidfd)
		return -1, unix.ESRCH
	}
	return pidfd, nil
}

// signalInit sends sig to the container's init (unix.ESRCH when it is
// gone), through openInit.
func signalInit(c *state.Container, sig unix.Signal) error {
	pidfd, err := openInit(c)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		return err
	}
	if sig == unix.SIGSTOP || sig == unix.SIGCHLD {
		// A proxy (runtime/nsenter's enter_pid_namespace) passes on every
		// signal but these: SIGSTOP stops it alone (it cannot catch it),
		// and SIGCHLD is its own. They go to its init too, which runc's
		// kill signals.
		if child := proxiedInit(c.InitPid); child != 0 {
			if fd, err := unix.PidfdOpen(child, 0); err == nil {
				unix.PidfdSendSignal(fd, sig, nil, 0)
				unix.Close(fd)
			}
		}
	}
	return nil
}
