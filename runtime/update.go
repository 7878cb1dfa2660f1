package runtime

import (
	"fmt"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runw/runw/state"
)

// Update applies new cgroup limits, res as `runw update` built it from
// its --resources file and flags. The guest's in-engine memory cap was
// fixed at instantiation; the cgroup limit is what changes.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	if res != nil && res.Pids != nil && res.Pids.Limit != nil && *res.Pids.Limit == 0 {
		res.Pids = nil // runc update: 0 leaves the limit as it is
	}
	if err := checkPidsLimit(res); err != nil {
		return err
	}
	if err := checkMemoryLimit(res); err != nil {
		return err
	}
	h, c, err := r.lockLoad(id)
	if err != nil {
		return err
	}
	defer h.Unlock()
	if err := requireStatus("update", id, r.status(c), state.Created, state.Running, state.Paused); err != nil {
		return err
	}
	cr := resourcesFrom(res, &cgroups.Resources{})
	m, err := cgroupManager(c.CgroupPath, cr)
	if err != nil {
		return err
	}
	if err := m.Set(cr); err != nil {
		if sub := limitAsked(cr); sub != "" && withoutCgroup(err) {
			// As create says it, in runc's words.
			return fmt.Errorf("cannot set %s limit: container could not join or create cgroup", sub)
		}
		return err
	}
	return nil
}
