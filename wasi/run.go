package wasi

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi/preview1"
)

// TrapExitCode is the status of a guest that trapped; the wasmtime CLI uses
// the same (128 + SIGABRT).
const TrapExitCode = 134

// compileNamed returns the compiled module for the file read at path and
// named name in messages (a plan's module is read through a /proc/self/fd
// link), from the cache when it holds it (cache may be nil), compiling
// and storing it otherwise. The boolean says whether it was a cache hit;
// the string is the cache key it used.
func compileNamed(engine *wasmtime.Engine, path, name string, kind spec.Kind, cache *Cache, mayCompile bool) (*wasmtime.Module, bool, string, error) {
	if kind.IsComponent() {
		return nil, false, "", errors.New("a component is compiled by compileComponentNamed, not as a module")
	}
	return compileCached(path, name, converter(name, kind), cache,
		func(key string) (*wasmtime.Module, bool) {
			m := cache.Load(engine, key)
			return m, m != nil
		},
		refuseUnless(mayCompile, compileModuleBytes(engine, name)))
}

// ErrNotCompiled is Prepare's answer, for a plan that may not compile
// (Plan.NoCompile), when neither an artifact handed over nor the cache
// serves its module.
var ErrNotCompiled = errors.New("no compiled code for it was handed over or found in the cache, and a container's init compiles no module itself here")

// refuseUnless is compile, or nil unless mayCompile: compileCached then
// refuses, before it reads the module (ErrNotCompiled).
func refuseUnless[T any](mayCompile bool, compile func([]byte) (T, error)) func([]byte) (T, error) {
	if mayCompile {
		return compile
	}
	return nil
}

// compileCached is the cache's read-through for modules and components
// alike (a nil compile: the module may not be compiled here, and a miss
// is ErrNotCompiled): the artifact under the file's key when the cache holds it (cache
// may be nil), else the file read (and converted, when convert is not
// nil), compiled and stored. The boolean says whether it was a hit. The
// file is read at path and named name in messages.
func compileCached[T interface{ Serialize() ([]byte, error) }](path, name string, convert func([]byte) ([]byte, error), cache *Cache,
	load func(key string) (T, bool), compile func(wasm []byte) (T, error)) (T, bool, string, error) {
	var zero T
	var key string
	var err error
	if cache != nil {
		if key, err = cache.KeyFor(path, convert != nil); err != nil {
			return zero, false, "", readError(name, err)
		}
		if c, ok := load(key); ok {
			return c, true, key, nil
		}
		if compile == nil {
			return zero, false, key, fmt.Errorf("%s: %w", name, ErrNotCompiled)
		}
		release, _ := cache.LockCompile(key)
		defer release()
		if c, ok := load(key); ok {
			return c, true, key, nil
		}
	}
	if compile == nil {
		// Neither read nor, for text, parsed: the wat crate is as much
		// the compile child's to run as Cranelift.
		return zero, false, key, fmt.Errorf("%s: %w", name, ErrNotCompiled)
	}
	wasm, err := ReadModule(path)
	if err != nil {
		return zero, false, "", readError(name, err)
	}
	// The key of the bytes compiled: the file may have been rewritten
	// since it was keyed.
	key = keyOf(wasm, convert != nil)
	if convert != nil {
		if wasm, err = convert(wasm); err != nil {
			return zero, false, "", err
		}
	}
	c, err := compile(wasm)
	if err != nil {
		return zero, false, key, err
	}
	if cache != nil {
		// A cache that cannot be written only costs speed, never the run.
		if art, err := c.Serialize(); err == nil {
			_ = cache.Store(key, art)
		}
	}
	return c, false, key, nil
}

// CompileArtifact compiles src, the bytes of a module or component file
// of kind (text is assembled first), and returns its serialized artifact,
// for `runw compile`'s confined child, which hands it back to runw to
// store instead of writing the cache. wasmtime's refusal is a
// *RejectedError naming name.
func CompileArtifact(engine *wasmtime.Engine, src []byte, kind spec.Kind, name string) ([]byte, error) {
	var err error
	if convert := converter(name, kind); convert != nil {
		if src, err = convert(src); err != nil {
			return nil, err
		}
	}
	if kind.IsComponent() {
		c, err := compileComponentBytes(engine, name)(src)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.Serialize()
	}
	m, err := compileModuleBytes(engine, name)(src)
	if err != nil {
		return nil, err
	}
	return m.Serialize()
}

// compileModuleBytes compiles a binary module named name in messages,
// its start function deferred to the guest's run (deferStart).
func compileModuleBytes(engine *wasmtime.Engine, name string) func(wasm []byte) (*wasmtime.Module, error) {
	return func(wasm []byte) (*wasmtime.Module, error) {
		deferred, changed, err := deferStart(wasm)
		if err == nil && changed {
			// The module as written must be valid, its start function
			// included; wasmtime's message then names its own offsets.
			err = wasmtime.ModuleValidate(engine, wasm)
		}
		if err != nil {
			return nil, &RejectedError{What: "compile", Name: name, Msg: oneLine(err).Error()}
		}
		m, err := wasmtime.NewModule(engine, deferred)
		if err != nil {
			return nil, &RejectedError{What: "compile", Name: name, Msg: oneLine(err).Error()}
		}
		// What the init would ask wasmtime's C API about and it cannot
		// describe aborts the init (checkCAPITypes): refused here, where
		// the bytes are, once wasmtime has found them valid.
		if err := checkCAPITypes(wasm); err != nil {
			m.Close()
			return nil, &RejectedError{What: "compile", Name: name, Msg: err.Error()}
		}
		// Refused by every create (prepareModule): not compiled into the
		// cache as if it could run, and `runw compile` says so.
		if how := sharedMemory(m); how != "" {
			m.Close()
			return nil, &RejectedError{What: "compile", Name: name, Msg: how + errSharedMemory}
		}
		return m, nil
	}
}

// RejectedError is wasmtime's refusal to compile a module or component:
// invalid bytes, text that does not parse, bytes that are no WebAssembly
// at all, or a proposal the engine does not enable; or runw's refusal of
// a module it would ask wasmtime's C API to describe where that API
// cannot (checkCAPITypes). Unlike a
// compile that runs out of time or memory, it is the same on every
// attempt under any bound, so create reports it at once instead of
// compiling the module again in the container (a refusal found in the
// last function of a 75 MB module costs minutes each time).
type RejectedError struct {
	// What is "compile", "compile component" or "parse WAT".
	What string
	// Name is the module as messages name it.
	Name string
	// Msg is wasmtime's message, on one line.
	Msg string
}

func (e *RejectedError) Error() string { return fmt.Sprintf("%s %q: %s", e.What, e.Name, e.Msg) }

// readError is a failure to read the module named name: the path it was
// read at (a /proc/self/fd link) would mean nothing to the user.
func readError(name string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("read %q: %w", name, pe.Err)
	}
	return err
}

// converter returns what turns the file's bytes into a binary module or
// component: text is assembled, a binary needs nothing (nil). Text that
// does not parse is a *RejectedError, as wasmtime's refusal of a binary
// is: the same bytes fail the same way at every attempt.
func converter(path string, kind spec.Kind) func([]byte) ([]byte, error) {
	if !kind.IsText() {
		return nil
	}
	return func(src []byte) ([]byte, error) {
		wasm, err := wasmtime.Wat2Wasm(string(src))
		if err != nil {
			return nil, &RejectedError{What: "parse WAT", Name: path, Msg: watError(err.Error())}
		}
		return wasm, nil
	}
}

// watError puts wasmtime's multi-line WAT error (the message, a "-->
// <anon>:LINE:COL" line, then the source line drawn with a caret) on the
// one line an error gets: "expected `)` at line 4, column 1".
func watError(msg string) string {
	lines := strings.Split(msg, "\n")
	out := strings.TrimSpace(lines[0])
	for _, l := range lines[1:] {
		loc, ok := strings.CutPrefix(strings.TrimSpace(l), "--> ")
		if !ok {
			continue
		}
		if f := strings.Split(loc, ":"); len(f) >= 3 {
			return fmt.Sprintf("%s at line %s, column %s", out, f[len(f)-2], f[len(f)-1])
		}
	}
	return out
}

// Guest is a prepared guest, a module or a component, whose code has not
// run yet: what the init drives, whatever the guest's kind.
type Guest interface {
	// Run runs the guest to its end and maps how it ended to a status.
	Run() Exit
	// Stop asks a running guest to end because of signal sig; Run then
	// returns 128+sig. It may be called from any goroutine.
	Stop(sig int)
	// Close releases what the guest holds on the host.
	Close()
}

// RootTaker is a Guest whose "/" is better taken from the container's
// root once the init has bound the file grants in it: a component, whose
// WASI 0.2 preopens are directories only (wasi/component.go TakeRoot).
type RootTaker interface {
	// TakeRoot makes dir the guest's "/"; tree is the mount copy dir
	// lies in. The guest holds both from then on, and closes them.
	TakeRoot(dir, tree int) error
}

// moduleGuest is an instantiated module whose _start has not run yet.
type moduleGuest struct {
	// engine is held so that it lives as long as the store compiled for it.
	engine *wasmtime.Engine
	store  *wasmtime.Store
	start  *wasmtime.Func
	// init is the module's start function (DeferredStart), run before
	// start; nil when it has none.
	init *wasmtime.Func
	// initialize is the module's _initialize, run after init and before
	// start; nil when it exports none.
	initialize *wasmtime.Func
	host       *preview1.Host
	signal     atomic.Int32
}

// Prepare does everything that can fail before the guest may run: compile
// (or load from cache), grant the plan's capabilities, link WASI and
// instantiate. Errors here surface at `runw create`, as runc's do for a
// missing binary.
func Prepare(plan *Plan, cache *Cache) (Guest, error) {
	if err := checkExecCwd(plan); err != nil {
		return nil, err
	}
	engine := NewEngine()
	if plan.Kind.IsComponent() {
		return prepareComponent(engine, plan, cache)
	}
	if err := plan.CheckMemoryMin(); err != nil {
		return nil, err
	}
	module, ok := handed(plan, func(path string) (*wasmtime.Module, error) {
		return wasmtime.NewModuleDeserializeFile(engine, path)
	})
	if !ok {
		var err error
		if module, _, _, err = compileNamed(engine, plan.Module, plan.moduleName(), plan.Kind, cache, !plan.NoCompile); err != nil {
			return nil, err
		}
	}
	g, err := prepareModule(engine, module, plan)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// handed maps the artifact create or exec handed over (Plan.Artifact)
// with open. It was opened by runw as root in runw's own cache, which it
// checked (Cache.OpenArtifact), so it is trusted as the cache is; one
// wasmtime refuses (another engine's, which this binary cannot have
// made) is ignored: the module is compiled, or, under Plan.NoCompile,
// refused (ErrNotCompiled).
func handed[T any](plan *Plan, open func(path string) (T, error)) (T, bool) {
	var zero T
	if plan.Artifact == "" {
		return zero, false
	}
	v, err := open(plan.Artifact)
	if err != nil {
		return zero, false
	}
	return v, true
}

// checkExecCwd fails as runc's chdir would when an exec'd process's cwd
// is not a directory in the guest's view. It looks in the view, by
// descriptor (preview1.View.IsDir): the running guest may have planted
// links on the way, and a check by host path would follow them on the
// host. Modules and components alike.
func checkExecCwd(plan *Plan) error {
	if plan.ExecCwd == "" {
		return nil
	}
	v, err := preview1.NewView(plan.view())
	if err != nil {
		return fmt.Errorf("grant the container's files: %w", err)
	}
	defer v.Close()
	if err := v.CheckDir(plan.ExecCwd); err != nil {
		return fmt.Errorf("chdir to cwd (%q) set in config.json failed: %w", plan.ExecCwd, err)
	}
	return nil
}

// prepareModule grants the plan to a compiled module and instantiates it.
func prepareModule(engine *wasmtime.Engine, module *wasmtime.Module, plan *Plan) (*moduleGuest, error) {
	host, err := preview1.New(preview1.Config{
		Args:      plan.Argv,
		Env:       plan.Env,
		Mounts:    plan.view(),
		Preopens:  plan.preopenNames(),
		Go:        plan.Go,
		Pid1:      plan.Pid1,
		Stdio:     [3]int{0, 1, 2},
		Inherited: plan.Inherited,
		Net:       plan.Net,
		// Under a memory limit, what the init's reserve affords.
		MaxSubscriptions: plan.maxSubscriptions(),
	})
	if err != nil {
		if le := (*preview1.ListenError)(nil); errors.As(err, &le) {
			return nil, fmt.Errorf("bind the container's listeners: %w", err)
		}
		if ie := (*preview1.InheritError)(nil); errors.As(err, &ie) {
			return nil, fmt.Errorf("preserve-fds: %w", err)
		}
		return nil, fmt.Errorf("grant the container's files: %w", err)
	}
	if how := sharedMemory(module); how != "" {
		host.Close()
		return nil, fmt.Errorf("%q %s%s", plan.Argv[0], how, errSharedMemory)
	}
	g := &moduleGuest{engine: engine, host: host}
	store := wasmtime.NewStore(engine)
	memLimit := plan.linearCap()
	if memLimit == 0 {
		memLimit = -1
	}
	store.Limiter(memLimit, plan.tableElements(), -1, plan.maxTables(), plan.maxMemories())
	linker := wasmtime.NewLinker(engine)
	if err := host.Link(linker, module); err != nil {
		host.Close()
		return nil, fmt.Errorf("link WASI: %w", err)
	}
	inst, err := linker.Instantiate(store, module)
	if err != nil {
		host.Close()
		if plan.Reserve > 0 && strings.Contains(err.Error(), "count too high") {
			return nil, fmt.Errorf("instantiate %q: under a memory limit a module may have at most %d tables and one memory: %w", plan.Argv[0], plan.maxTables(), oneLine(err))
		}
		if plan.Reserve > 0 && strings.Contains(err.Error(), "exceeds table limits") {
			return nil, fmt.Errorf("instantiate %q: the memory limit of %s allows each of the module's tables %d elements (they are kept beside linear memory): %w", plan.Argv[0], sizeText(plan.MemoryLimit+plan.Reserve), plan.tableElements(), oneLine(err))
		}
		if strings.Contains(err.Error(), "exceeds table limits") {
			return nil, fmt.Errorf("instantiate %q: runw caps each table at %d elements, as V8 does: %w", plan.Argv[0], maxTableElements, oneLine(err))
		}
		if why := plan.memoryRefusal(err.Error()); why != "" {
			return nil, fmt.Errorf("instantiate %q: %s: %w", plan.Argv[0], why, oneLine(err))
		}
		return nil, fmt.Errorf("instantiate %q: %w%s", plan.Argv[0], oneLine(err), importHint(module))
	}
	start := inst.GetFunc(store, "_start")
	if start == nil {
		host.Close()
		return nil, fmt.Errorf("%q exports no _start function: not a WASI command module (build it as a program for wasm32-wasip1, not as a library or reactor)", plan.Argv[0])
	}
	// Run calls _start with no arguments, so one that takes any was
	// created and then ended at start with a trap (134, "expected 1
	// arguments, got 0"). Refused here, with the module's other shapes
	// that cannot run. Results are left alone: Run ignores them, and such
	// a module runs, as under wasmtime's CLI. The parameters are counted,
	// not named: wasmtime's C API aborts the process when asked the kind
	// of a reference type other than externref and funcref (exnref).
	if n := len(start.Type(store).Params()); n > 0 {
		host.Close()
		return nil, fmt.Errorf("%q exports a _start that takes %d %s, where a WASI command's takes none: not a WASI command module", plan.Argv[0], n, plural(n, "parameter"))
	}
	// A module that exports _initialize beside _start has it called
	// first, after the start function, as wasmtime's CLI calls it: runw
	// ran _start alone, and what _initialize sets up (a reactor's
	// constructors, linked into a command) never ran. The WASI
	// application ABI calls the two exclusive; wasmtime's CLI runs such
	// a module, and so does runw. One that takes parameters could only
	// trap, and is refused as a _start that takes any is.
	if ini := inst.GetFunc(store, "_initialize"); ini != nil {
		if n := len(ini.Type(store).Params()); n > 0 {
			host.Close()
			return nil, fmt.Errorf("%q exports an _initialize that takes %d %s, where a WASI module's takes none", plan.Argv[0], n, plural(n, "parameter"))
		}
		g.initialize = ini
	}
	g.store, g.start = store, start
	// The module's start function, which wasmtime would have run inside
	// Instantiate, before the sandbox (DeferredStart).
	g.init = inst.GetFunc(store, DeferredStart)
	return g, nil
}

// plural is noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// errSharedMemory is the refusal of a module sharedMemory finds, after
// what it found.
const errSharedMemory = " a shared memory: runw's WASI host reads only a memory that is not shared (no wasi-threads)"

// sharedMemory says how module has a shared memory, "exports" or
// "imports", or "" when it has none. The WASI host finds the guest's
// memory as an export of that name of the kind memory, which a shared
// memory is not: every call that reads or writes guest memory failed
// with EFAULT, and a guest printing a line exited 21 without a word,
// where wasmtime's own WASI runs it. A module built for wasi-threads
// (wasm32-wasip1-threads) imports its memory shared instead, which no
// container supplies: create failed at instantiation with wasmtime's
// "unknown import: `env::memory` has not been defined", which named no
// reason. Both are refused at compile instead, in one line, and again at
// create for an artifact compiled before that refusal. Walking the
// imports and exports is safe: a module that has a tag among them, which
// wasmtime's C API cannot describe, was refused at its compile
// (checkCAPITypes).
func sharedMemory(module *wasmtime.Module) string {
	for _, e := range module.Exports() {
		if e.Name() != "memory" {
			continue
		}
		if mt := e.Type().MemoryType(); mt != nil && mt.IsShared() {
			return "exports"
		}
	}
	for _, i := range module.Imports() {
		if mt := i.Type().MemoryType(); mt != nil && mt.IsShared() {
			return "imports"
		}
	}
	return ""
}

// Close releases the descriptors the guest's WASI host holds.
func (g *moduleGuest) Close() { g.host.Close() }

// Exit is how a guest ended.
type Exit struct {
	// Code is the process exit status runw reports for the guest.
	Code int
	// Trap holds the trap message when the guest trapped.
	Trap string
}

// Run calls the module's start function, if it has one (DeferredStart),
// then its _initialize, if it exports one, then _start, and maps how it ended: proc_exit(n) gives n & 255, a return
// gives 0, a stop by Stop(sig) gives 128+sig and any other trap gives 134.
// It reads the ending from wasmtime's typed errors, never message text.
func (g *moduleGuest) Run() Exit {
	var err error
	if serr := onGuestStack(func() {
		for _, f := range []*wasmtime.Func{g.init, g.initialize} {
			if f == nil {
				continue
			}
			if _, err = f.Call(g.store); err != nil {
				return
			}
		}
		_, err = g.start.Call(g.store)
	}); serr != nil {
		return Exit{Code: TrapExitCode, Trap: serr.Error()}
	}
	if code, ok := g.host.Exited(); ok {
		return Exit{Code: int(uint32(code) & 0xff)}
	}
	if err == nil {
		return Exit{Code: 0}
	}
	if sig := g.signal.Load(); sig != 0 {
		return Exit{Code: 128 + int(sig)}
	}
	return Exit{Code: TrapExitCode, Trap: trapMessage(err)}
}

// Stop asks a running guest to end because of signal sig: the host's stop
// descriptor ends a host call that waits (a sleep, a read of stdin or a
// pipe, poll_oneoff) at once, and the guest returns 128+sig from it. A
// guest in its own code is not interrupted: the init ends the process
// around it (runtime/init.go).
func (g *moduleGuest) Stop(sig int) {
	g.signal.CompareAndSwap(0, int32(sig))
	g.host.Stop()
}

// oneLine keeps the first line of wasmtime's multi-line error reports, so
// that runw's error stays one line on stderr and in the log. The
// backtrace wasmtime appends when RUST_BACKTRACE or RUST_LIB_BACKTRACE is
// set in runw's environment (dozens of Rust frames) is left out.
func oneLine(err error) error {
	msg := err.Error()
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	var parts []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Stack backtrace") {
			break
		}
		if l == "" || l == "Caused by:" {
			continue
		}
		// anyhow numbers the causes of a chain ("0: ", "1: "); a
		// number that is part of the text ("0x0" in a multi-line
		// Rust Debug list) stays.
		l = trimCauseNumber(l)
		// A Debug list spans lines ("expected=[", "0x0,", "]"): its
		// items are joined back into one list.
		if n := len(parts); n > 0 && (strings.HasSuffix(parts[n-1], "[") || strings.HasSuffix(parts[n-1], ",") || strings.HasPrefix(l, "]")) {
			prev := parts[n-1]
			switch {
			case strings.HasPrefix(l, "]"):
				parts[n-1] = strings.TrimSuffix(prev, ",") + l
			case strings.HasSuffix(prev, "["):
				parts[n-1] = prev + l
			default:
				parts[n-1] = prev + " " + l
			}
			continue
		}
		parts = append(parts, l)
	}
	return errors.New(strings.Join(parts, ": "))
}

// trimCauseNumber drops the number anyhow puts before each cause of a
// chain ("12: "), the line's digits up to ": ". A loop rather than a
// regular expression: one compiled at package initialisation would cost
// every runw process, each container's init included, at start-up.
func trimCauseNumber(l string) string {
	i := 0
	for i < len(l) && l[i] >= '0' && l[i] <= '9' {
		i++
	}
	if i > 0 && strings.HasPrefix(l[i:], ": ") {
		return l[i+2:]
	}
	return l
}

// trapFrames bounds the backtrace of a trap message: a guest that recurses
// without end would otherwise print every one of thousands of frames.
const trapFrames = 20

// trapMessage is wasmtime's trap report with its backtrace cut to the
// first and last trapFrames frames and a count of those left out, which is
// what a reader of the container's log needs.
func trapMessage(err error) string {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	var frames []int
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if j := strings.IndexByte(t, ':'); j > 0 && strings.Trim(t[:j], "0123456789") == "" {
			frames = append(frames, i)
		}
	}
	if len(frames) <= 2*trapFrames {
		return strings.Join(lines, "\n")
	}
	cutFrom, cutTo := frames[trapFrames], frames[len(frames)-trapFrames]
	out := append([]string(nil), lines[:cutFrom]...)
	out = append(out, fmt.Sprintf("    ... %d frames left out ...", len(frames)-2*trapFrames))
	return strings.Join(append(out, lines[cutTo:]...), "\n")
}

// CheckMemoryMin refuses a module whose own memory's minimum is more than
// the cap leaves it, with the words instantiation would use, before
// anything is compiled or loaded: a large module's artifact (277 MB for
// clang) loaded under a few MiB had the init killed by the OOM killer
// before instantiation could say why, and a cold cache compiled it for a
// minute first.
func (p *Plan) CheckMemoryMin() error {
	c := p.linearCap()
	if c <= 0 || p.MemoryMin <= c {
		return nil
	}
	msg := fmt.Sprintf("memory minimum size of %d pages exceeds memory limits", p.MemoryMin>>16)
	if why := p.memoryRefusal(msg); why != "" {
		return fmt.Errorf("instantiate %q: %s: %s", p.Argv[0], why, msg)
	}
	return fmt.Errorf("instantiate %q: %s", p.Argv[0], msg)
}

// memoryRefusal says, of wasmtime's refusal msg of a memory the cap
// does not allow, what the container's memory limit (or the process's
// RLIMIT_AS or RLIMIT_DATA, where lower) leaves the guest; "" for any
// other error, or with no cap. The guest's minimum can be below
// the limit itself and still be refused, since the cap is the limit less
// the init's reserve: the bare refusal read as wrong.
func (p *Plan) memoryRefusal(msg string) string {
	if !strings.Contains(msg, "exceeds memory limits") {
		return ""
	}
	if c := p.linearCap(); c > 0 && c == p.RlimitMemory {
		return fmt.Sprintf("the process's %s of %s bounds the guest's linear memory", p.RlimitName, sizeText(c))
	}
	if p.MemoryLimit <= 0 {
		return ""
	}
	return fmt.Sprintf("the memory limit of %s leaves the guest %s of linear memory (the rest is kept for runw's init)", sizeText(p.MemoryLimit+p.Reserve), sizeText(p.MemoryLimit))
}

// sizeText is a size in bytes as a message gives it: whole MiB, or bytes.
func sizeText(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// importHint says, after an import nothing provides, what the module was
// built for when its imports show it: Go's GOOS=js port imports "gojs",
// a browser's JavaScript glue, which no WASI runtime has.
func importHint(module *wasmtime.Module) string {
	for _, imp := range module.Imports() {
		if imp.Module() == "gojs" {
			return " (built with GOOS=js for a browser; build with GOOS=wasip1 GOARCH=wasm)"
		}
	}
	return ""
}
