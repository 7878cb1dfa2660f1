package runtime

import "fmt"

// Unsupported answers a command runw does not implement for wasm
// containers (checkpoint, restore) with one clear line, and forwards it
// for a container that was handed to a native runtime.
func (r *Runtime) Unsupported(command, id string) error {
	if id != "" {
		if native := r.nativeOf(id); native != "" {
			return r.forward(native, command)
		}
	}
	return fmt.Errorf("%s is not supported by runw for WebAssembly containers", command)
}
