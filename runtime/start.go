package runtime

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/state"
)

// Start releases a created container's guest.
func (r *Runtime) Start(id string) error {
	h, c, err := r.lockLoad(id)
	if err != nil {
		return err
	}
	defer h.Unlock()
	if err := requireStatus("start", id, r.status(c), state.Created); err != nil {
		return err
	}

	hooks := hooksOf(c)
	if err := runHooks(r.hookDir, specState(c, state.Created), hookGroup{"startContainer", hooks.StartContainer}); err != nil {
		// runtime-spec: a failed startContainer hook is an error, and the
		// container is stopped without running the guest (lifecycle step
		// 7, on to 12), as under runc, whose init ends on the failure; left
		// created, a second start would run the guest after all.
		stopFailedStart(c)
		return err
	}
	// Recorded before the guest is released: a record that cannot be
	// written (a full or read-only root) fails start with nothing
	// started. Recorded after, that failure left a running guest that
	// read as created: a second start failed on the fifo, and a delete
	// without --force killed a live workload.
	// again: a start cut short after recording the release (status's
	// releasePending); should its init have been released after all
	// (the earlier start died after releasing it, before removing the
	// fifo), its silence is no reason to kill a running guest.
	again := c.Started
	c.Started = true
	if err := h.Save(c); err != nil {
		return err
	}
	if opened, err := releaseInit(h.Path(state.FifoFile), c); err != nil {
		if again {
			os.Remove(h.Path(state.FifoFile))
			return err
		}
		// Created again only where that is certain: the fifo was never
		// opened and the record says so. Otherwise the init may run, or
		// the record would say it does when it never will: it is
		// stopped, the one state that cannot lie (an init that died
		// reads so already).
		c.Started = false
		if opened || h.Save(c) != nil {
			stopFailedStart(c)
		}
		return err
	}
	os.Remove(h.Path(state.FifoFile))
	// The guest runs and its record says so: the lock is let go before
	// the poststart hooks, which may call runw on this container (exec,
	// ps, kill, as a hook may under runc, which holds no lock across
	// commands); held, each of those waited for start, and start for
	// the hook, for ever.
	h.Unlock()
	if err := runHooks(r.hookDir, specState(c, state.Running), hookGroup{"poststart", hooks.Poststart}); err != nil {
		// runtime-spec: a failed poststart hook is an error, and the
		// container is stopped (delete then undoes the rest).
		// A short guest may be gone and its pid reused while the hook
		// ran: stopFailedStart's signalInit signals only the init.
		stopFailedStart(c)
		return err
	}
	return nil
}

// stopFailedStart stops a container whose start failed: SIGKILL to its
// init, then to whatever else its cgroup holds (exec'd processes, which
// outlive the init without a pid namespace of the container's own).
func stopFailedStart(c *state.Container) {
	signalInit(c, unix.SIGKILL)
	killCgroup(c.CgroupPath)
}
