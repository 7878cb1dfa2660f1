package runtime

import (
	"fmt"

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
	st := r.status(c)
	switch {
	case want == cgroups.Frozen && st != state.Running && st != state.Created:
		return ErrNotRunning
	case want == cgroups.Thawed && st != state.Paused:
		return fmt.Errorf("container not paused")
	}
	m, err := cgroupManager(c.CgroupPath, nil)
	if err != nil {
		return err
	}
	return m.Freeze(want)
}
