package runtime

import (
	"errors"
	"fmt"

	"github.com/runw/runw/state"
)

// Unsupported answers a command runw does not implement for wasm
// containers (checkpoint, restore) with one clear line. (A container
// handed to a native runtime gets the command there: Native.) A
// checkpoint of an id that names no container says so first, in runc's
// words; restore makes its container, so its id need not exist.
func (r *Runtime) Unsupported(command, id string) error {
	if command == "checkpoint" && id != "" {
		h, err := r.store.Peek(id)
		if err == nil {
			_, err = h.Load()
		}
		if errors.Is(err, state.ErrNotExist) || errors.Is(err, state.ErrStateMissing) {
			return state.ErrNotExist
		}
	}
	return fmt.Errorf("%s is not supported by runw for WebAssembly containers", command)
}
