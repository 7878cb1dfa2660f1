package component_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/runw/runw/wasi"
	"github.com/runw/runw/wasi/component"
)

// compile assembles component text with runw's engine.
func compile(t *testing.T, engine *wasmtime.Engine, wat string) *component.Component {
	t.Helper()
	wasm, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		t.Fatal(err)
	}
	c, err := component.New(engine, wasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "integration", "testdata", "component", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// command wraps a core module body exporting "run" (returning the result
// discriminant: 0 ok, 1 err) in a wasi:cli/run component that imports
// wasi:cli/exit's exit as the core function "exit" "exit" (param i32).
func command(body string) string {
	return `(component
  (import "wasi:cli/exit@0.2.6" (instance $exit
    (export "exit" (func (param "status" (result))))))
  (core module $m
    (import "exit" "exit" (func $exit (param i32)))
    (memory 1)
    ` + body + `)
  (core func $exit (canon lower (func $exit "exit")))
  (core instance $i (instantiate $m (with "exit" (instance (export "exit" (func $exit))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.6" (instance $cli)))`
}

func run(t *testing.T, engine *wasmtime.Engine, wat string, cfg component.Config) component.Result {
	t.Helper()
	in, err := component.Link(compile(t, engine, wat), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	return in.Call()
}

// Every way a command ends maps to its own Result, without reading any
// message text: exit(ok), exit(err), exit-with-code, a returned ok or
// err, a trap.
func TestCallEndings(t *testing.T) {
	engine := wasi.NewEngine()
	cases := []struct {
		name string
		wat  string
		want component.Result
	}{
		{"exit ok", command(`(func (export "run") (result i32) (call $exit (i32.const 0)) (i32.const 1))`), component.Result{Exited: true, Code: 0}},
		{"exit err", command(`(func (export "run") (result i32) (call $exit (i32.const 1)) (i32.const 0))`), component.Result{Exited: true, Code: 1}},
		{"exit-with-code 42", testdata(t, "exitcode.wat"), component.Result{Exited: true, Code: 42}},
		{"return ok", command(`(func (export "run") (result i32) (i32.const 0))`), component.Result{}},
		{"return err", command(`(func (export "run") (result i32) (i32.const 1))`), component.Result{Failed: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := run(t, engine, c.wat, component.Config{Args: []string{"x"}}); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	t.Run("trap", func(t *testing.T) {
		got := run(t, engine, command(`(func (export "run") (result i32) unreachable)`), component.Config{})
		if got.Exited || got.Err == nil || !strings.Contains(got.Err.Error(), "unreachable") {
			t.Errorf("got %+v, want a trap naming unreachable", got)
		}
	})
}

// A component that declares wasi:cli/exit's exit with another parameter
// type hands runw another kind of value: runw checks the kind before it
// reads the value, and such an exit is a failure (1), never a read of a
// member that is not there.
func TestExitOfTheWrongTypeIsChecked(t *testing.T) {
	wat := `(component
  (import "wasi:cli/exit@0.2.6" (instance $exit
    (export "exit" (func (param "status" u32)))))
  (core module $m
    (import "exit" "exit" (func $exit (param i32)))
    (func (export "run") (result i32) (call $exit (i32.const 0)) (i32.const 0)))
  (core func $exit (canon lower (func $exit "exit")))
  (core instance $i (instantiate $m (with "exit" (instance (export "exit" (func $exit))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.6" (instance $cli)))`
	got := run(t, wasi.NewEngine(), wat, component.Config{})
	if got != (component.Result{Exited: true, Code: 1}) {
		t.Errorf("got %+v, want exit 1", got)
	}
}

// Only wasi:cli/run commands are taken; a wasi:http proxy is named as such.
func TestRunExport(t *testing.T) {
	engine := wasi.NewEngine()
	if _, err := compile(t, engine, testdata(t, "proxy.wat")).RunExport(); err == nil || !strings.Contains(err.Error(), "wasi:http proxy world") {
		t.Errorf("proxy component: %v, want a refusal naming the wasi:http proxy world", err)
	}
	lib := `(component
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
  (func $f (canon lift (core func $i "f")))
  (export "f" (func $f)))`
	if _, err := compile(t, engine, lib).RunExport(); err == nil || !strings.Contains(err.Error(), "no wasi:cli/run") {
		t.Errorf("component without run: %v", err)
	}
	name, err := compile(t, engine, testdata(t, "exitcode.wat")).RunExport()
	if err != nil || name != "wasi:cli/run@0.2.6" {
		t.Errorf("RunExport = %q, %v", name, err)
	}
	// An export of the right name that start cannot call is refused here,
	// at create: it failed at start with 134 ("expected 0 result(s), got
	// 1") or, for a run of another result, 1 and no word.
	for _, tc := range []struct{ name, exports, want string }{
		{"run returns nothing", `(func $f (canon lift (core func $i "f")))
  (instance $x (export "run" (func $f)))
  (export "wasi:cli/run@0.2.0" (instance $x))`, "wasi:cli/run@0.2.0 run is not func() -> result"},
		{"run takes a parameter", `(func $f (param "x" u32) (result (result)) (canon lift (core func $i "g")))
  (instance $x (export "run" (func $f)))
  (export "wasi:cli/run@0.2.0" (instance $x))`, "run is not func() -> result"},
		{"run returns u32", `(func $f (result u32) (canon lift (core func $i "h")))
  (instance $x (export "run" (func $f)))
  (export "wasi:cli/run@0.2.0" (instance $x))`, "run is not func() -> result"},
		{"no run in the instance", `(func $f (result (result)) (canon lift (core func $i "h")))
  (instance $x (export "go" (func $f)))
  (export "wasi:cli/run@0.2.0" (instance $x))`, "wasi:cli/run@0.2.0 exports no run function"},
		{"a function, not an instance", `(func $f (result (result)) (canon lift (core func $i "h")))
  (export "wasi:cli/run@0.2.0" (func $f))`, "export is not an instance"},
		{"no version", `(func $f (result (result)) (canon lift (core func $i "h")))
  (instance $x (export "run" (func $f)))
  (export "wasi:cli/run" (instance $x))`, "wasi:cli/run without a version"},
	} {
		wat := `(component
  (core module $m (func (export "f")) (func (export "g") (param i32) (result i32) i32.const 0) (func (export "h") (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  ` + tc.exports + `)`
		if _, err := compile(t, engine, wat).RunExport(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a refusal saying %q", tc.name, err, tc.want)
		}
	}
}

// The memory limit caps each linear memory: growing past it fails.
func TestMemoryLimit(t *testing.T) {
	engine := wasi.NewEngine()
	grow := command(`(func (export "run") (result i32)
	    (if (result i32) (i32.eq (memory.grow (i32.const 64)) (i32.const -1))
	      (then (i32.const 1)) (else (i32.const 0))))`)
	if got := run(t, engine, grow, component.Config{MemoryLimit: 1 << 20}); !got.Failed {
		t.Errorf("grow to 4 MiB under a 1 MiB limit: %+v, want the grow refused", got)
	}
	if got := run(t, engine, grow, component.Config{}); got.Failed || got.Err != nil {
		t.Errorf("grow to 4 MiB without a limit: %+v", got)
	}
}

// A serialized component loads back from a file and runs.
func TestSerializeRoundTrip(t *testing.T) {
	engine := wasi.NewEngine()
	art, err := compile(t, engine, testdata(t, "exitcode.wat")).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "c.cwasm")
	if err := os.WriteFile(path, art, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := component.DeserializeFile(engine, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in, err := component.Link(c, component.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if r := in.Call(); r != (component.Result{Exited: true, Code: 42}) {
		t.Errorf("got %+v, want exit 42", r)
	}
}

// Link runs none of the component's code: a core module's start function
// runs when Call instantiates it, and ends it as run would (an exit, a
// trap). The instance keeps the compiled component it needs: the caller
// may close its own.
func TestLinkRunsNoCode(t *testing.T) {
	engine := wasi.NewEngine()
	cases := []struct {
		name  string
		start string
		check func(component.Result) bool
	}{
		{"exit", `(func $init (call $exit (i32.const 1)))`, func(r component.Result) bool { return r == component.Result{Exited: true, Code: 1} }},
		{"trap", `(func $init unreachable)`, func(r component.Result) bool { return r.Err != nil && strings.Contains(r.Err.Error(), "unreachable") }},
		{"returns", `(func $init)`, func(r component.Result) bool { return r == component.Result{} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			comp := compile(t, engine, command(c.start+` (start $init) (func (export "run") (result i32) (i32.const 0))`))
			in, err := component.Link(comp, component.Config{})
			if err != nil {
				t.Fatalf("Link: %v (the start function ran?)", err)
			}
			defer in.Close()
			comp.Close()
			if got := in.Call(); !c.check(got) {
				t.Errorf("Call: %+v", got)
			}
		})
	}
}

// An import the linker cannot satisfy is Link's error, as it was
// instantiation's, although Link instantiates nothing (its check relies on
// wasmtime's wording of the no-instance refusal, noInstances).
func TestLinkRefusesMissingImport(t *testing.T) {
	engine := wasi.NewEngine()
	_, err := component.Link(compile(t, engine, testdata(t, "badimport.wat")), component.Config{})
	if err == nil || !strings.Contains(err.Error(), "example:missing/thing") {
		t.Errorf("Link: %v, want a refusal naming the missing import", err)
	}
	// The well-formed one links and runs.
	if got := run(t, engine, testdata(t, "exitcode.wat"), component.Config{}); got != (component.Result{Exited: true, Code: 42}) {
		t.Errorf("exitcode.wat: %+v, want exit 42", got)
	}
}
