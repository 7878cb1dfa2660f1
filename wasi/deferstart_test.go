package wasi

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

func wat(t testing.TB, src string) []byte {
	t.Helper()
	wasm, err := wasmtime.Wat2Wasm(src)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// sectionIDs lists a module's section ids in order.
func sectionIDs(t testing.TB, wasm []byte) []byte {
	t.Helper()
	var ids []byte
	for off := len(wasmMagic); off < len(wasm); {
		size, n, err := readU32(wasm[off+1:])
		if err != nil {
			t.Fatalf("section at %d: %v", off, err)
		}
		ids = append(ids, wasm[off])
		off += 1 + n + int(size)
	}
	return ids
}

// startCalls instantiates wasm, whose start function (deferred or not)
// bumps the exported global "calls", and returns the global's value after
// instantiation and after a call of DeferredStart, when exported.
func startCalls(t *testing.T, wasm []byte) (atInstantiate, afterCall int32) {
	t.Helper()
	engine := wasmtime.NewEngine()
	m, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	store := wasmtime.NewStore(engine)
	linker := wasmtime.NewLinker(engine)
	if err := linker.DefineFunc(store, "m", "f", func() {}); err != nil {
		t.Fatal(err)
	}
	inst, err := linker.Instantiate(store, m)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	calls := inst.GetExport(store, "calls").Global()
	atInstantiate = calls.Get(store).I32()
	if f := inst.GetFunc(store, DeferredStart); f != nil {
		if _, err := f.Call(store); err != nil {
			t.Fatalf("call %s: %v", DeferredStart, err)
		}
	}
	return atInstantiate, calls.Get(store).I32()
}

// A module's start function is taken out of instantiation and offered as
// DeferredStart, whatever else the module exports or lacks; the rest of
// the module is the same.
func TestDeferStart(t *testing.T) {
	const counter = `(global $calls (export "calls") (mut i32) (i32.const 0))
		(func $bump (global.set $calls (i32.add (global.get $calls) (i32.const 1))))`
	cases := []struct {
		name string
		src  string
	}{
		{"with exports", `(module ` + counter + ` (memory (export "memory") 1) (start $bump) (func (export "_start")))`},
		// Its only export is the counter's; the start function's index
		// counts the import before it.
		{"after imports", `(module (import "m" "f" (func)) ` + counter + ` (start $bump))`},
		// Sections after the start section (element, code, data) keep
		// their bytes, a custom section its place.
		{"with elements and data", `(module ` + counter + ` (table 1 funcref) (elem (i32.const 0) $bump) (memory 1) (data (i32.const 0) "x") (@custom "name-ish" "payload") (start $bump))`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wasm := wat(t, c.src)
			if at, after := startCalls(t, wasm); at != 1 || after != 1 {
				t.Fatalf("the module as written: %d calls at instantiation, %d after, want 1 and 1", at, after)
			}
			out, changed, err := deferStart(wasm)
			if err != nil || !changed {
				t.Fatalf("deferStart: changed %v, %v", changed, err)
			}
			if bytes.IndexByte(sectionIDs(t, out), sectionStart) >= 0 {
				t.Errorf("sections %v still hold a start section", sectionIDs(t, out))
			}
			if err := wasmtime.ModuleValidate(wasmtime.NewEngine(), out); err != nil {
				t.Fatalf("the deferred module is invalid: %v", err)
			}
			if at, after := startCalls(t, out); at != 0 || after != 1 {
				t.Errorf("deferred: %d calls at instantiation, %d after calling %s, want 0 and 1", at, after, DeferredStart)
			}
		})
	}

	t.Run("no export section", func(t *testing.T) {
		wasm := wat(t, `(module (func $f) (start $f))`)
		out, changed, err := deferStart(wasm)
		if err != nil || !changed {
			t.Fatalf("deferStart: changed %v, %v", changed, err)
		}
		if ids := sectionIDs(t, out); !bytes.Contains(ids, []byte{sectionExport}) || bytes.Contains(ids, []byte{sectionStart}) {
			t.Fatalf("sections %v: want an export section and no start section", ids)
		}
		m, err := wasmtime.NewModule(wasmtime.NewEngine(), out)
		if err != nil {
			t.Fatal(err)
		}
		if ex := m.Exports(); len(ex) != 1 || ex[0].Name() != DeferredStart {
			t.Errorf("exports %v, want only %s", ex, DeferredStart)
		}
	})

	t.Run("no start section", func(t *testing.T) {
		wasm := wat(t, `(module (memory (export "memory") 1) (func (export "_start")))`)
		if out, changed, err := deferStart(wasm); err != nil || changed || !bytes.Equal(out, wasm) {
			t.Errorf("deferStart changed a module without a start section (changed %v, %v)", changed, err)
		}
	})

	// A module may not export the name itself, start section or not: runw
	// would run that export before _start.
	for _, src := range []string{
		`(module (func (export "runw:deferred-start")) (func (export "_start")))`,
		`(module (func $f (export "runw:deferred-start")) (start $f))`,
	} {
		if _, _, err := deferStart(wat(t, src)); err == nil || !strings.Contains(err.Error(), DeferredStart) {
			t.Errorf("deferStart of %s: %v, want a refusal naming %s", src, err, DeferredStart)
		}
	}

	// A size written with padding bytes, as the format allows.
	t.Run("padded sizes", func(t *testing.T) {
		wasm := wat(t, `(module (func $f) (start $f))`)
		var padded []byte
		padded = append(padded, wasmMagic...)
		for off := len(wasmMagic); off < len(wasm); {
			size, n, _ := readU32(wasm[off+1:])
			padded = append(padded, wasm[off], byte(size)|0x80, 0x80, 0x80, 0x80, 0x00)
			body := wasm[off+1+n : off+1+n+int(size)]
			padded = append(padded, body...)
			off += 1 + n + int(size)
		}
		if err := wasmtime.ModuleValidate(wasmtime.NewEngine(), padded); err != nil {
			t.Fatalf("the padded module: %v", err)
		}
		out, changed, err := deferStart(padded)
		if err != nil || !changed || bytes.Contains(sectionIDs(t, out), []byte{sectionStart}) {
			t.Fatalf("deferStart of padded sizes: changed %v, %v", changed, err)
		}
	})

	// Bytes that are no sequence of sections go to wasmtime unchanged, to
	// be refused with its own message.
	for _, bad := range [][]byte{
		append(append([]byte{}, wasmMagic...), sectionStart, 0x05, 0x00),                                  // size past the end
		append(append([]byte{}, wasmMagic...), sectionStart, 0x80, 0x80, 0x80, 0x80, 0x80),                // size of 6 bytes
		append(append([]byte{}, wasmMagic...), sectionStart, 0x02, 0x00, 0x00),                            // start with trailing bytes
		append(append([]byte{}, wasmMagic...), sectionExport, 0x02, 0x05, 0x00, sectionStart, 0x01, 0x00), // five exports in one byte
		[]byte("(module)"),
	} {
		if out, changed, err := deferStart(bad); err != nil || changed || !bytes.Equal(out, bad) {
			t.Errorf("deferStart(%x): changed %v, %v, want it unchanged", bad, changed, err)
		}
	}
}

// compileModuleBytes refuses a start function that is invalid as a start
// (it takes a parameter), which would be valid as an export, with
// wasmtime's own message for the module as written.
func TestCompileRefusesInvalidStartFunction(t *testing.T) {
	wasm := wat(t, `(module (func $f (param i32)) (func (export "_start")))`)
	// (start $f) with a parameter cannot be written in WAT: put the
	// section in by hand, function 0, before the code section.
	ids := sectionIDs(t, wasm)
	var withStart []byte
	withStart = append(withStart, wasmMagic...)
	off := len(wasmMagic)
	for _, id := range ids {
		size, n, _ := readU32(wasm[off+1:])
		if id == 10 { // code
			withStart = append(withStart, sectionStart, 0x01, 0x00)
		}
		withStart = append(withStart, wasm[off:off+1+n+int(size)]...)
		off += 1 + n + int(size)
	}
	engine := wasmtime.NewEngine()
	if err := wasmtime.ModuleValidate(engine, withStart); err == nil {
		t.Fatal("wasmtime accepts a start function with a parameter")
	}
	_, err := compileModuleBytes(engine, "/bad.wasm")(withStart)
	if err == nil || !strings.Contains(err.Error(), "start") {
		t.Errorf("compile: %v, want wasmtime's refusal of the start function", err)
	}
}

// Whatever the bytes, deferStart neither panics nor turns a valid module
// into an invalid one or leaves it a start section.
func FuzzDeferStart(f *testing.F) {
	for _, src := range []string{
		`(module (func $f) (start $f))`,
		`(module (memory (export "memory") 1) (global (export "g") i32 (i32.const 1)) (func $f) (start $f) (func (export "_start")))`,
		`(module (func (export "_start")))`,
	} {
		f.Add(wat(f, src))
	}
	engine := wasmtime.NewEngine()
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, changed, err := deferStart(wasm)
		if err != nil || !changed {
			return
		}
		if wasmtime.ModuleValidate(engine, wasm) != nil {
			return
		}
		if err := wasmtime.ModuleValidate(engine, out); err != nil {
			t.Fatalf("valid %x became invalid %x: %v", wasm, out, err)
		}
		if bytes.Contains(sectionIDs(t, out), []byte{sectionStart}) {
			t.Fatalf("%x kept a start section", out)
		}
	})
}
