package runtime

import (
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/state"
)

// Delete removes a container. A created one is killed first even without
// force (runc does this and containerd relies on it); a running one needs
// force. An unknown id is an error unless force.
func (r *Runtime) Delete(id string, force bool) error {
	h, err := r.store.Lock(id)
	if err != nil {
		if errors.Is(err, state.ErrNotExist) && force {
			return nil
		}
		return err
	}
	c, err := h.Load()
	if errors.Is(err, state.ErrForeign) {
		h.Unlock()
		return err // not runw's to remove, even with force
	}
	if errors.Is(err, state.ErrStateMissing) && h.Unborn() {
		// A create between its mkdir and its lock: not a container yet,
		// and not an aborted one to clean up.
		h.Unlock()
		if force {
			return nil
		}
		return state.ErrNotExist
	}
	if errors.Is(err, state.ErrStateMissing) || err != nil && force {
		// An aborted create left its directory (and maybe its init), or a
		// crash left state.json unreadable (state.WriteFileAtomic does not
		// fsync): clean up from the init record, as runc does for the
		// first.
		cleanupAborted(h)
		return h.Destroy()
	}
	if err != nil {
		h.Unlock()
		return fmt.Errorf("%w (delete --force removes the container)", err)
	}
	switch st := r.status(c); st {
	case state.Stopped:
	case state.Created:
		killAndWait(c)
	default:
		if !force {
			h.Unlock()
			return requireStatus("delete", id, st, state.Stopped)
		}
		killAndWait(c)
	}
	// exec'd processes can outlive the init: end them so the cgroup can go.
	killCgroup(c.CgroupPath)
	waitCgroupEmpty(c.CgroupPath)
	destroyCgroup(c.CgroupPath)
	if err := h.Destroy(); err != nil {
		return err
	}
	r.runPoststop(c)
	return nil
}

// runPoststop runs c's poststop hooks with its stopped state. The spec: a
// failing poststop hook is a warning, and the remaining hooks still run.
func (r *Runtime) runPoststop(c *state.Container) {
	for _, err := range runEveryHook(r.hookDir, specState(c, state.Stopped), hookGroup{"poststop", hooksOf(c).Poststop}) {
		logrus.Warn(err)
	}
}

// killAndWait sends SIGKILL to the init and waits until it is gone (or a
// zombie waiting for its parent), using a pidfd so the wait is exact.
func killAndWait(c *state.Container) {
	pidfd, err := openInit(c)
	if err != nil {
		return // already gone
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); err != nil {
		return
	}
	// A frozen process dies of SIGKILL only once thawed.
	if frozen(c.CgroupPath) {
		if m, err := cgroupManager(c.CgroupPath, nil); err == nil {
			m.Freeze(cgroups.Thawed)
		}
	}
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if n, _ := unix.Poll(fds, 100); n > 0 {
			return
		}
	}
}
