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
	if err := runHooks(specState(c, state.Created), hookGroup{"startContainer", hooks.StartContainer}); err != nil {
		// runtime-spec: a failed startContainer hook is an error, and the
		// container is stopped without running the guest (lifecycle step
		// 7, on to 12), as under runc, whose init ends on the failure; left
		// created, a second start would run the guest after all.
		signalInit(c, unix.SIGKILL)
		killCgroup(c.CgroupPath)
		return err
	}
	if err := releaseInit(h.Path(fifoName), c); err != nil {
		return err
	}
	c.Started = true
	if err := h.Save(c); err != nil {
		return err
	}
	os.Remove(h.Path(fifoName))
	if err := runHooks(specState(c, state.Running), hookGroup{"poststart", hooks.Poststart}); err != nil {
		// runtime-spec: a failed poststart hook is an error, and the
		// container is stopped (delete then undoes the rest).
		// A short guest may be gone and its pid reused while the hook
		// ran: signalInit signals only the init.
		signalInit(c, unix.SIGKILL)
		killCgroup(c.CgroupPath)
		return err
	}
	return nil
}
