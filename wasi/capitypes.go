package wasi

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/runw/runw/wasi/preview1"
)

// More core module section ids (deferstart.go has the others).
const (
	sectionType     = 1
	sectionImport   = 2
	sectionFunction = 3
)

// Import and export descriptor kinds (the binary format, 5.5.5 and 5.5.10,
// and the exception-handling proposal's tag).
const (
	externFunc   = 0x00
	externTable  = 0x01
	externMemory = 0x02
	externGlobal = 0x03
	externTag    = 0x04
)

// errUnread is checkCAPITypes' failure to read a module wasmtime has
// already accepted: an encoding the scan does not know (a GC type, were
// the engine to enable it). The module is refused rather than passed on
// unread, since what the scan could not read is what may abort the init.
var errUnread = errors.New("runw cannot read its types")

// checkCAPITypes refuses a module whose shape runw would ask wasmtime's
// C API (wasmtime-go v39) to describe where that API cannot: it does not
// fail but aborts the process, runw's init with it ("support for
// non-externref and non-funcref references is not implemented", then
// SIGABRT), and create exited with a Rust panic and "container init
// exited without reporting". Reached from the guest's own bytes, so it is
// checked on the bytes, where they are compiled (the confined child, or
// in process), before the init ever asks; every artifact in the cache
// passed it (engineSettings names it, so none compiled before it is
// loaded). What runw asks, and so what is refused:
//
//   - each wasi_snapshot_preview1 and wasi_unstable function import's
//     parameter and result kinds (preview1.Link picks the variant of the
//     type the module declares): one of a reference type other than
//     funcref and externref (exnref, of exception handling) is refused;
//     no WASI function has one, so instantiation would refuse it anyway;
//   - every import and every export (Module.Imports, Module.Exports):
//     the C API has no tag, so a module that imports or exports one is
//     refused (a tag thrown and caught inside the module is fine);
//   - _start's results, which wasmtime-go converts when _start returns:
//     an exnref or a v128 among them (wasmtime-go panics on a v128) is
//     refused, where other results are ignored.
//
// Functions, locals, blocks and tables with exnref inside the module are
// none of runw's business and run.
//
// It parses untrusted bytes (after wasmtime accepted them): every length
// and count is checked against what is left before it is used, and what
// it keeps grows with the type section alone, never with a count the
// module states.
func checkCAPITypes(wasm []byte) error {
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return nil
	}
	var body [sectionExport + 1][]byte
	for off := len(wasmMagic); off < len(wasm); {
		id := wasm[off]
		size, n, err := readU32(wasm[off+1:])
		if err != nil || uint64(size) > uint64(len(wasm)-off-1-n) {
			return errUnread
		}
		at := off + 1 + n
		if int(id) < len(body) && id != 0 {
			if body[id] != nil {
				return errUnread
			}
			body[id] = wasm[at : at+int(size) : at+int(size)]
		}
		off = at + int(size)
	}
	types, err := funcTypes(body[sectionType])
	if err != nil {
		return err
	}
	start, err := checkExports(body[sectionExport])
	if err != nil {
		return err
	}
	startType, imported, err := checkImports(body[sectionImport], types, start)
	if err != nil {
		return err
	}
	if start < 0 {
		return nil
	}
	if uint32(start) >= imported {
		if startType, err = definedType(body[sectionFunction], uint32(start)-imported); err != nil {
			return err
		}
	}
	if startType < 0 || startType >= len(types) {
		return errUnread
	}
	what := types[startType].results
	if what == "" {
		what = types[startType].startResults
	}
	if what != "" {
		return fmt.Errorf("exports a _start that returns %s, which runw cannot receive from wasmtime: a WASI command's _start returns nothing", what)
	}
	return nil
}

// funcType is what checkCAPITypes keeps of a function type: the first
// parameter and result type wasmtime's C API cannot describe, named
// ("exnref"), or "" where there is none.
type funcType struct{ params, results, startResults string }

// funcTypes reads a type section: one funcType per type.
func funcTypes(b []byte) ([]funcType, error) {
	if b == nil {
		return nil, nil
	}
	count, n, err := readU32(b)
	if err != nil {
		return nil, errUnread
	}
	b = b[n:]
	var types []funcType
	for i := uint32(0); i < count; i++ {
		// Only func types (0x60): rec groups, sub, struct and array come
		// with GC, which the engine does not enable.
		if len(b) < 1 || b[0] != 0x60 {
			return nil, errUnread
		}
		var t funcType
		if t.params, _, b, err = valTypes(b[1:]); err != nil {
			return nil, err
		}
		var v128 bool
		if t.results, v128, b, err = valTypes(b); err != nil {
			return nil, err
		}
		if t.results == "" && v128 {
			// Described by the C API, but a v128 result is one
			// wasmtime-go cannot convert (it panics): _start's only.
			t.startResults = "v128"
		}
		types = append(types, t)
	}
	if len(b) != 0 {
		return nil, errUnread
	}
	return types, nil
}

// valTypes reads a vector of value types at the start of b: the name of
// the first the C API cannot describe ("" for none), whether a v128 is
// among them, and what follows.
func valTypes(b []byte) (string, bool, []byte, error) {
	count, n, err := readU32(b)
	if err != nil {
		return "", false, nil, errUnread
	}
	b = b[n:]
	first, v128 := "", false
	for i := uint32(0); i < count; i++ {
		if len(b) > 0 && b[0] == 0x7b {
			v128 = true
		}
		var what string
		if what, b, err = valType(b); err != nil {
			return "", false, nil, err
		}
		if first == "" {
			first = what
		}
	}
	return first, v128, b, nil
}

// valType reads one value type at the start of b: "" for one the C API
// describes (the numbers, v128, funcref and externref, the last two
// also as (ref null func) and (ref null extern)), else its name, and
// what follows.
func valType(b []byte) (string, []byte, error) {
	if len(b) < 1 {
		return "", nil, errUnread
	}
	switch c := b[0]; c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f: // i32 i64 f32 f64 v128 funcref externref
		return "", b[1:], nil
	case 0x69:
		return "exnref", b[1:], nil
	case 0x74:
		return "nullexnref", b[1:], nil
	case 0x63, 0x64: // (ref null ht), (ref ht)
		if len(b) < 2 {
			return "", nil, errUnread
		}
		ht := b[1]
		if ht&0x80 != 0 || ht < 0x40 {
			// A type index (an s33 of one byte or more): typed
			// function references, which the C API does not describe
			// either. Its length (at most 5 bytes) is still read, to
			// stay in step; last is the index of its last byte.
			last := 1
			for last < len(b) && last < 5 && b[last]&0x80 != 0 {
				last++
			}
			if last >= len(b) || b[last]&0x80 != 0 {
				return "", nil, errUnread
			}
			return "a typed function reference", b[last+1:], nil
		}
		if c == 0x63 && (ht == 0x70 || ht == 0x6f) {
			return "", b[2:], nil
		}
		switch {
		case c == 0x63 && ht == 0x69:
			return "exnref", b[2:], nil
		case c == 0x64 && ht == 0x69:
			return "(ref exn)", b[2:], nil
		case ht == 0x74:
			return "a reference to noexn", b[2:], nil
		}
		return "a reference type other than funcref and externref", b[2:], nil
	}
	return "", nil, errUnread
}

// checkExports reads an export section: it refuses a tag export and
// returns the function index _start names, or -1.
func checkExports(b []byte) (int64, error) {
	start := int64(-1)
	if b == nil {
		return start, nil
	}
	count, n, err := readU32(b)
	if err != nil {
		return 0, errUnread
	}
	b = b[n:]
	for i := uint32(0); i < count; i++ {
		var name []byte
		if name, b, err = readName(b); err != nil || len(b) < 1 {
			return 0, errUnread
		}
		kind := b[0]
		idx, n, err := readU32(b[1:])
		if err != nil {
			return 0, errUnread
		}
		b = b[1+n:]
		switch {
		case kind == externTag:
			return 0, fmt.Errorf("exports a tag (%q), which runw cannot read through wasmtime's C API: a tag may be thrown and caught inside the module, not exported", name)
		case kind == externFunc && string(name) == "_start":
			start = int64(idx)
		}
	}
	return start, nil
}

// checkImports reads an import section: it refuses a tag import and a
// WASI function import whose type the C API cannot describe. It returns
// the type of function index start, where start is imported (else -1),
// and the number of functions imported.
func checkImports(b []byte, types []funcType, start int64) (int, uint32, error) {
	startType := -1
	if b == nil {
		return startType, 0, nil
	}
	count, n, err := readU32(b)
	if err != nil {
		return 0, 0, errUnread
	}
	b = b[n:]
	funcs := uint32(0)
	for i := uint32(0); i < count; i++ {
		var mod, name []byte
		if mod, b, err = readName(b); err != nil {
			return 0, 0, err
		}
		if name, b, err = readName(b); err != nil || len(b) < 1 {
			return 0, 0, errUnread
		}
		kind := b[0]
		b = b[1:]
		switch kind {
		case externFunc:
			t, n, err := readU32(b)
			if err != nil || uint64(t) >= uint64(len(types)) {
				return 0, 0, errUnread
			}
			b = b[n:]
			if int64(funcs) == start {
				startType = int(t)
			}
			funcs++
			if m := string(mod); m != preview1.Module && m != preview1.ModuleUnstable {
				continue
			}
			what := types[t].params
			if what == "" {
				what = types[t].results
			}
			if what != "" {
				return 0, 0, fmt.Errorf("its import %q %q has %s in its type, which no WASI function has: runw cannot link it", mod, name, what)
			}
		case externTag:
			return 0, 0, fmt.Errorf("imports a tag (%q %q), which runw provides none of", mod, name)
		case externTable:
			if _, b, err = valType(b); err != nil {
				return 0, 0, err
			}
			if b, err = skipLimits(b); err != nil {
				return 0, 0, err
			}
		case externMemory:
			if b, err = skipLimits(b); err != nil {
				return 0, 0, err
			}
		case externGlobal:
			if _, b, err = valType(b); err != nil || len(b) < 1 {
				return 0, 0, errUnread
			}
			b = b[1:] // mutability
		default:
			return 0, 0, errUnread
		}
	}
	return startType, funcs, nil
}

// definedType reads a function section: the type of the module's i-th
// own function.
func definedType(b []byte, i uint32) (int, error) {
	count, n, err := readU32(b)
	if err != nil || i >= count {
		return 0, errUnread
	}
	b = b[n:]
	for j := uint32(0); ; j++ {
		t, n, err := readU32(b)
		if err != nil {
			return 0, errUnread
		}
		if j == i {
			return int(t), nil
		}
		b = b[n:]
	}
}

// readName reads a name (a byte vector) at the start of b.
func readName(b []byte) ([]byte, []byte, error) {
	size, n, err := readU32(b)
	if err != nil || uint64(size) > uint64(len(b)-n) {
		return nil, nil, errUnread
	}
	return b[n : n+int(size)], b[n+int(size):], nil
}

// skipLimits reads past a table's or memory's limits: a flags byte (max
// present, shared, 64-bit, custom page size), the minimum, the maximum
// where present and the page size's log where present, each an LEB128 of
// at most 64 bits.
func skipLimits(b []byte) ([]byte, error) {
	if len(b) < 1 || b[0] > 0x0f {
		return nil, errUnread
	}
	fields := 1
	if b[0]&0x01 != 0 {
		fields++
	}
	if b[0]&0x08 != 0 {
		fields++
	}
	b = b[1:]
	for ; fields > 0; fields-- {
		n := 0
		for n < 10 && n < len(b) && b[n]&0x80 != 0 {
			n++
		}
		if n >= 10 || n >= len(b) {
			return nil, errUnread
		}
		b = b[n+1:]
	}
	return b, nil
}
