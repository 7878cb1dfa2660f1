package runtime

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/state"
)

// Start releases a created container's guest.
func (r *Runtime) Start(id string) error {
	if native := r.nativeOf(id); native != "" {
		return r.forward(native, "start")
	}
	h, c, err := r.lockLoad(id)
	if err != nil {
		return err
	}
	defer h.Unlock()
	switch st := r.status(c); st {
	case state.Created:
	case state.Stopped:
		return errors.New("cannot start a container that has stopped")
	case state.Running:
		return errors.New("cannot start an already running container")
	default:
		return fmt.Errorf("cannot start a container in the %s state", st)
	}

	hooks := hooksOf(c)
	if err := runHooks(hooks.StartContainer, specState(c, state.Created)); err != nil {
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
	if err := runHooks(hooks.Poststart, specState(c, state.Running)); err != nil {
		logDebugf("poststart hook: %v", err)
	}
	return nil
}

// releaseInit opens the exec fifo, which unblocks the init's open for
// writing, and waits for its byte. Opening read-write never blocks, so an
// init that died meanwhile is noticed by polling its pid instead of
// hanging forever.
func releaseInit(fifo string, c *state.Container) error {
	fd, err := unix.Open(fifo, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	// Bounded: an init that is alive but no longer waiting on the fifo (a
	// start interrupted after releasing it) must not hang start forever.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if err != nil && err != unix.EINTR {
			return err
		}
		if n > 0 {
			var b [1]byte
			if _, err := unix.Read(fd, b[:]); err == nil {
				return nil
			}
		}
		if !state.Alive(c.InitPid, c.InitStartTime) {
			return errors.New("cannot start a container that has stopped")
		}
	}
	return errors.New("container init did not answer on the exec fifo: was it already started?")
}

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
