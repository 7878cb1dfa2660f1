package runtime

import (
	"errors"
	"time"

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
	if err := freezeRetrying(m, want); err != nil {
		if withoutCgroup(err) {
			// A rootless container given no cgroup: runc's words, not
			// the path of a freezer file that was never made.
			return errors.New("cannot toggle freezer: cgroups not configured for container")
		}
		return err
	}
	return nil
}

// freezeRetrying is m.Freeze, tried again for up to about two seconds
// when a cgroup v1 freezer stays FREEZING: the library gives up ("unable
// to freeze") after a thousand quick tries and thaws the cgroup, and a v1
// freezer cannot always freeze a cgroup where tasks keep appearing (the
// init's engine and Go runtime start threads) on a loaded machine, where
// a pause failed once in a full test run. cgroup v2 freezes reliably.
func freezeRetrying(m cgroups.Manager, want cgroups.FreezerState) error {
	err := m.Freeze(want)
	for delay := 10 * time.Millisecond; err != nil && want == cgroups.Frozen && err.Error() == "unable to freeze" && delay <= time.Second; delay *= 2 {
		time.Sleep(delay)
		err = m.Freeze(want)
	}
	return err
}
