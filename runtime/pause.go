package runtime

import (
	"errors"

	"github.com/opencontainers/cgroups"

	"github.com/runw/runw/state"
)

// Pause freezes the container's cgroup: the guest stops where it is.
func (r *Runtime) Pause(id string) error { return r.freeze(id, "pause", cgroups.Frozen) }

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error { return r.freeze(id, "resume", cgroups.Thawed) }

func (r *Runtime) freeze(id, command string, want cgroups.FreezerState) error {
	h, c, err := r.lockLoad(id)
	if err != nil {
		return err
	}
	defer h.Unlock()
	allowed := []string{state.Running, state.Created}
	if want == cgroups.Thawed {
		allowed = []string{state.Paused}
	}
	if err := requireStatus(command, id, r.status(c), allowed...); err != nil {
		return err
	}
	m, err := cgroupManager(c.CgroupPath, nil)
	if err != nil {
		return err
	}
	if err := m.Freeze(want); err != nil {
		if withoutCgroup(err) {
			// A rootless container given no cgroup: runc's words, not
			// the path of a freezer file that was never made.
			return errors.New("cannot toggle freezer: cgroups not configured for container")
		}
		return err
	}
	return nil
}
