package runtime

import (
	"errors"
	"fmt"

	"github.com/runw/runw/spec"
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
		if errors.Is(err, state.ErrForeign) {
			return err
		}
	}
	return fmt.Errorf("%s is not supported by runw for WebAssembly containers", command)
}

// Restore hands a restore of a native bundle (bundle: the --bundle given,
// or "" for the current directory) to the native runtime, as create hands
// it the bundle (a checkpoint of a native container is forwarded there
// too), and refuses one of a wasm bundle as Unsupported does.
func (r *Runtime) Restore(id, bundle string) error {
	if err := state.ValidateID(id); err != nil {
		return err
	}
	if bundle == "" {
		bundle = "."
	}
	b, err := spec.Load(bundle)
	if err != nil {
		return err
	}
	ep, _, err := r.classify(id, b, "restore")
	if ep != nil {
		ep.Close()
		return r.Unsupported("restore", id)
	}
	return err
}
