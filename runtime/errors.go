package runtime

import (
	"errors"
	"fmt"
	"slices"

	"github.com/runw/runw/state"
)

// runc's texts for a command that a container's status refuses, in one
// place: CRI-O, containerd and podman match on some of them, and people's
// scripts on the rest.

// ErrNotRunning is runc's text; CRI-O and containerd match on it.
var ErrNotRunning = errors.New("container not running")

// requireStatus returns nil when st is one of allowed, else the error
// runc gives when verb meets a container in st.
func requireStatus(verb, id, st string, allowed ...string) error {
	if slices.Contains(allowed, st) {
		return nil
	}
	switch verb {
	case "start":
		switch st {
		case state.Stopped:
			return errors.New("cannot start a container that has stopped")
		case state.Running:
			return errors.New("cannot start an already running container")
		}
		return fmt.Errorf("cannot start a container in the %s state", st)
	case "exec":
		if st == state.Paused {
			return errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
		return errors.New("cannot exec in a stopped container")
	case "delete":
		// A valid id needs no quoting.
		return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, st)
	case "resume":
		return errors.New("container not paused")
	}
	return ErrNotRunning
}

// mountError is runc's text for a mount of kind (tmpfs, overlay, proc)
// at dest in the container's root that failed with err.
func mountError(kind, dest string, err error) error {
	return fmt.Errorf("error mounting %q to rootfs at %q: %w", kind, dest, err)
}
