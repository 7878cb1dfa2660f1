package wasi

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/runw/runw/spec"
)

// TrapExitCode is the status of a guest that trapped; the wasmtime CLI uses
// the same (128 + SIGABRT).
const TrapExitCode = 134

// Compile returns the compiled module for the file at path, from the cache
// when it holds it (cache may be nil), compiling and storing it otherwise.
// The boolean says whether it was a cache hit.
func Compile(engine *wasmtime.Engine, path string, kind spec.Kind, cache *Cache) (*wasmtime.Module, bool, error) {
	m, hit, _, err := CompileKeyed(engine, path, kind, cache)
	return m, hit, err
}

// CompileKeyed is Compile that also returns the cache key it used.
func CompileKeyed(engine *wasmtime.Engine, path string, kind spec.Kind, cache *Cache) (*wasmtime.Module, bool, string, error) {
	if kind == spec.KindComponent {
		return nil, false, "", errors.New("wasm components are not supported yet: build the guest as a WASI preview1 core module (wasm32-wasip1)")
	}
	convert := converter(path, kind)
	var key string
	var wasm []byte
	var err error
	if cache != nil {
		if key, wasm, err = cache.KeyFor(path, convert); err != nil {
			return nil, false, "", err
		}
		if m := cache.Load(engine, key); m != nil {
			return m, true, key, nil
		}
	}
	if wasm == nil {
		if wasm, err = os.ReadFile(path); err != nil {
			return nil, false, "", err
		}
		if convert != nil {
			if wasm, err = convert(wasm); err != nil {
				return nil, false, "", err
			}
		}
		key = Key(wasm)
	}
	m, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		return nil, false, key, fmt.Errorf("compile %s: %w", path, oneLine(err))
	}
	if cache != nil {
		if art, err := m.Serialize(); err == nil {
			// A cache that cannot be written only costs speed, never the run.
			_ = cache.Store(key, art)
		}
	}
	return m, false, key, nil
}

// converter returns what turns the file's bytes into a binary module: WAT
// text is assembled, a binary module needs nothing (nil).
func converter(path string, kind spec.Kind) func([]byte) ([]byte, error) {
	if kind != spec.KindWAT {
		return nil
	}
	return func(src []byte) ([]byte, error) {
		wasm, err := wasmtime.Wat2Wasm(string(src))
		if err != nil {
			return nil, fmt.Errorf("parse WAT %s: %w", path, err)
		}
		return wasm, nil
	}
}

// Guest is an instantiated module whose _start has not run yet.
type Guest struct {
	engine *wasmtime.Engine
	store  *wasmtime.Store
	start  *wasmtime.Func
	signal atomic.Int32
	// exited and exitCode record a call to proc_exit.
	exited   atomic.Bool
	exitCode atomic.Int32
}

// Prepare does everything that can fail before the guest may run: compile
// (or load from cache), grant the plan's capabilities, link WASI and
// instantiate. Errors here surface at `runw create`, as runc's do for a
// missing binary.
func Prepare(plan *Plan, cache *Cache) (*Guest, error) {
	engine := NewEngine()
	module, _, err := Compile(engine, plan.Module, plan.Kind, cache)
	if err != nil {
		return nil, err
	}
	wc := wasmtime.NewWasiConfig()
	wc.SetArgv(plan.Argv)
	keys, values := splitEnv(plan.Env)
	wc.SetEnv(keys, values)
	wc.InheritStdin()
	wc.InheritStdout()
	wc.InheritStderr()
	for _, p := range plan.Preopens {
		dirPerms, filePerms := wasmtime.DIR_READ|wasmtime.DIR_WRITE, wasmtime.FILE_READ|wasmtime.FILE_WRITE
		if p.ReadOnly {
			dirPerms, filePerms = wasmtime.DIR_READ, wasmtime.FILE_READ
		}
		if err := wc.PreopenDir(p.HostPath, p.GuestPath, dirPerms, filePerms); err != nil {
			return nil, fmt.Errorf("grant %s as %s: %w", p.HostPath, p.GuestPath, err)
		}
	}

	g := &Guest{engine: engine}
	store := wasmtime.NewStore(engine)
	store.SetWasi(wc)
	store.SetEpochDeadline(1)
	if plan.MemoryLimit > 0 {
		store.Limiter(plan.MemoryLimit, -1, -1, -1, -1)
	}
	linker := wasmtime.NewLinker(engine)
	if err := linker.DefineWasi(); err != nil {
		return nil, fmt.Errorf("link WASI: %w", err)
	}
	// wasmtime's proc_exit turns a status of 126 or more into a trap; a
	// native process exits with any status, so runw records the status
	// itself and ends the guest with a trap it recognises.
	linker.AllowShadowing(true)
	if err := linker.FuncWrap("wasi_snapshot_preview1", "proc_exit", func(code int32) *wasmtime.Trap {
		g.exitCode.Store(code)
		g.exited.Store(true)
		return wasmtime.NewTrap("proc_exit")
	}); err != nil {
		return nil, fmt.Errorf("link proc_exit: %w", err)
	}
	inst, err := linker.Instantiate(store, module)
	if err != nil {
		return nil, fmt.Errorf("instantiate %s: %w", plan.Argv[0], oneLine(err))
	}
	start := inst.GetFunc(store, "_start")
	if start == nil {
		return nil, fmt.Errorf("%s exports no _start function: not a WASI command module", plan.Argv[0])
	}
	g.store, g.start = store, start
	return g, nil
}

// Exit is how a guest ended.
type Exit struct {
	// Code is the process exit status runw reports for the guest.
	Code int
	// Trap holds the trap message when the guest trapped.
	Trap string
}

// Run calls _start and maps how it ended: proc_exit(n) gives n, a return
// gives 0, a stop by Stop(sig) gives 128+sig and any other trap gives 134.
// It reads the ending from wasmtime's typed errors, never message text.
func (g *Guest) Run() Exit {
	_, err := g.start.Call(g.store)
	if g.exited.Load() {
		return Exit{Code: int(uint32(g.exitCode.Load()) & 0xff)}
	}
	if err == nil {
		return Exit{Code: 0}
	}
	var werr *wasmtime.Error
	if errors.As(err, &werr) {
		if st, ok := werr.ExitStatus(); ok {
			return Exit{Code: int(st)}
		}
	}
	if sig := g.signal.Load(); sig != 0 {
		return Exit{Code: 128 + int(sig)}
	}
	return Exit{Code: TrapExitCode, Trap: err.Error()}
}

// Stop asks a running guest to end because of signal sig: the epoch bump
// makes compiled code trap at its next loop back-edge or function entry, in
// microseconds. A guest blocked in a host call is not reached by this; the
// caller enforces a grace period.
func (g *Guest) Stop(sig int) {
	g.signal.CompareAndSwap(0, int32(sig))
	g.engine.IncrementEpoch()
}

// splitEnv turns KEY=VALUE strings into the two lists wasmtime wants. An
// entry without "=" is passed as a key with an empty value.
func splitEnv(env []string) (keys, values []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
		values = append(values, v)
	}
	return keys, values
}

// oneLine keeps the first line of wasmtime's multi-line error reports, so
// that runw's error stays one line on stderr and in the log.
func oneLine(err error) error {
	msg := err.Error()
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	var parts []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || l == "Caused by:" || strings.HasPrefix(l, "Stack backtrace") {
			continue
		}
		l = strings.TrimLeft(l, "0123456789: ")
		parts = append(parts, l)
	}
	return errors.New(strings.Join(parts, ": "))
}
