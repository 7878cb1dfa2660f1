package wasi

/*
#include <stdbool.h>

// Declared rather than included, as in preview1/trampoline.go: cgo cannot
// name the module cache's include directory. libwasmtime v39, linked into
// the binary by wasmtime-go, has it; wasmtime-go has no setter for it.
typedef struct wasm_config_t wasm_config_t;
extern void wasmtime_config_wasm_exceptions_set(wasm_config_t *config, bool enable);
*/
import "C"

import (
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// wasmtimeModule is the module path whose version names the engine.
const wasmtimeModule = "github.com/bytecodealliance/wasmtime-go/v39"

// engineSettings names every engine setting that changes generated code.
// It is part of the cache key: an artifact compiled under other settings
// must never be loaded (wasmtime would refuse it, or run code built for
// another configuration). capi=checked is no engine setting: it marks the
// artifacts of compiles that refuse what wasmtime's C API cannot describe
// (checkCAPITypes), so that one stored by an earlier runw, which did not,
// is never loaded into an init that would abort on it.
const engineSettings = "epoch-interruption=0;opt=speed;cow=1;stack=8M;exceptions=1;start=deferred;capi=checked"

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
// No epoch interruption: its check at every loop back-edge and function
// entry cost 15–40% of a guest's own speed here (a Go guest, a C loop;
// docs/PERFORMANCE.md), and a stop needs no trap. The guest is the
// container's process: a stop signal ends it as the kernel ends a native
// process that does not handle it, by the init exiting 128+signal around
// it (runtime/init.go), after the host has woken any host call it waits
// in. Copy-on-write memory initialisation maps the module's data segments
// from the compiled artifact instead of copying them, so start-up and
// resident memory do not grow with the size of the data section.
func NewEngine() *wasmtime.Engine {
	cfg := wasmtime.NewConfig()
	cfg.SetCraneliftOptLevel(wasmtime.OptLevelSpeed)
	cfg.SetMemoryInitCOWSet(true)
	cfg.SetMaxWasmStack(MaxWasmStack)
	// wasmtime-go's Config is its C pointer alone (v39, pinned in
	// go.mod; the size check fails the build's tests on a layout change),
	// and TestRunExitStatus runs a guest that throws and catches.
	C.wasmtime_config_wasm_exceptions_set(*(**C.wasm_config_t)(unsafe.Pointer(cfg)), true)
	return wasmtime.NewEngineWithConfig(cfg)
}
