package runtime

import "fmt"

// Unsupported answers a command runw does not implement for wasm
// containers (checkpoint, restore) with one clear line. (A container
// handed to a native runtime gets the command there: Native.)
func (r *Runtime) Unsupported(command string) error {
	return fmt.Errorf("%s is not supported by runw for WebAssembly containers", command)
}
