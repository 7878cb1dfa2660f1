package wasi

import (
	"runtime/debug"
	"sync"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// wasmtimeModule is the module path whose version names the engine.
const wasmtimeModule = "github.com/bytecodealliance/wasmtime-go/v39"

// engineSettings names every engine setting that changes generated code.
// It is part of the cache key: an artifact compiled under other settings
// must never be loaded (wasmtime would refuse it, or worse, run code that
// skips the epoch checks runw relies on to stop a guest).
const engineSettings = "epoch-interruption=1;opt=speed;cow=1;stack=8M"

// WasmtimeVersion reports the wasmtime-go module version linked into this
// binary, for `runw --version` and the cache key.
var WasmtimeVersion = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == wasmtimeModule {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
})

// NewEngine builds the one engine configuration runw uses everywhere, so
// that compiled artifacts are interchangeable between create, exec and
// `runw compile`.
//
// Epoch interruption adds a check at every loop back-edge and function
// entry: up to ~20% in tight integer loops (docs/PERFORMANCE.md), much
// less in code that calls the host or touches memory. It is what lets
// `kill TERM` stop a guest spinning without host calls at once and end it
// as a trap runw can report, rather than relying on tearing the process
// down around running machine code. Copy-on-write memory initialisation maps the module's data
// segments from the compiled artifact instead of copying them, so start-up
// and resident memory do not grow with the size of the data section.
func NewEngine() *wasmtime.Engine {
	cfg := wasmtime.NewConfig()
	cfg.SetEpochInterruption(true)
	cfg.SetCraneliftOptLevel(wasmtime.OptLevelSpeed)
	cfg.SetMemoryInitCOWSet(true)
	cfg.SetMaxWasmStack(MaxWasmStack)
	return wasmtime.NewEngineWithConfig(cfg)
}
