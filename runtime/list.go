package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/runw/runw/state"
)

// ContainerState is what `runw state` prints and `runw list --format json`
// lists: runtime-spec state plus runc's rootfs, created and owner fields.
type ContainerState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// State reports one container. It takes no lock: state.json is replaced
// atomically, and a directory without it is a container being created,
// while its create holds the directory's lock. One that no create holds
// was left by a create that died before recording the container: it is
// no container, as runc answers (an engine polling until "creating" ends
// would otherwise wait for ever), and delete removes the directory.
func (r *Runtime) State(id string) (*ContainerState, error) {
	if err := state.ValidateID(id); err != nil {
		return nil, err
	}
	h, err := r.store.Peek(id)
	if err != nil {
		return nil, err
	}
	c, err := h.Load()
	if errors.Is(err, state.ErrStateMissing) {
		if r.store.Abandoned(id) {
			return nil, state.ErrNotExist
		}
		return &ContainerState{ID: id, Status: state.Creating}, nil
	}
	if err != nil {
		return nil, err
	}
	if c.Native != "" {
		return r.nativeState(c.Native, id)
	}
	st := r.status(c)
	cs := &ContainerState{
		OCIVersion: c.OCIVersion, ID: c.ID, Status: st,
		Bundle: c.Bundle, Rootfs: c.Rootfs, Created: c.Created,
		Annotations: c.Annotations, Owner: c.Owner,
	}
	if st != state.Stopped {
		cs.Pid = c.InitPid
	}
	return cs, nil
}

// List reports every container, with its owner's user name as runc does.
func (r *Runtime) List() ([]ContainerState, error) {
	ids, err := r.store.List()
	if err != nil {
		return nil, err
	}
	var out []ContainerState
	for _, id := range ids {
		cs, err := r.State(id)
		if errors.Is(err, state.ErrNotExist) {
			continue // deleted meanwhile
		}
		if errors.Is(err, state.ErrForeign) {
			continue // another runtime's container in a shared root
		}
		if err != nil {
			// runc's line: the container is not hidden, its problem is said.
			fmt.Fprintf(os.Stderr, "load container %s: %v\n", id, err)
			continue
		}
		cs.Owner = ownerOf(filepath.Join(r.store.Root, id))
		out = append(out, *cs)
	}
	return out, nil
}

// ownerOf names the user owning path, or its uid when it has no name.
func ownerOf(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	uid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid))
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "#" + uid
}
