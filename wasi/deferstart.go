package wasi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/runw/runw/spec"
)

// DeferredStart is the export under which a compiled module offers the
// function its start section named. wasmtime runs a start function
// inside instantiation, and runw instantiates at create, in the init,
// before the sandbox: the image's code would run before `runw start`
// (its output at create, against the runtime spec's "the user-specified
// program MUST NOT be run" before start), outside Landlock, seccomp and
// the dropped capabilities (the kernel's half of every grant), and a
// start function that never returns hung `runw create` and the engine
// behind it. So runw compiles the module without its start section and
// with this export instead (deferStart), and calls it first when the
// guest runs, under the sandbox: the guest sees the same order of events
// (its start function, then _start), a trap in it ends the guest as any
// trap does.
//
// The code section moves by the bytes the export adds less the start
// section's: the offsets in a trap's backtrace are the rewritten module's,
// that many bytes past the file's (only for a module with a start
// section). wasmtime's messages for an invalid module are the file's own
// (compileModuleBytes validates it as written first).
//
// No module of the image may export this name itself (deferStart refuses
// one): a module's own export of it would otherwise be run before
// _start as if it were its start function.
const DeferredStart = "runw:deferred-start"

// wasmMagic is a core module's preamble: "\0asm", version 1. A component
// (version 0x0d, layer 1) has its own rules and is left alone.
var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Core module section ids (the WebAssembly binary format, 5.5.2).
const (
	sectionExport = 7
	sectionStart  = 8
)

// exportKindFunc is an export's descriptor kind for a function.
const exportKindFunc = 0x00

// errMalformed is deferStart's own parse failure: the bytes are handed to
// wasmtime unchanged, whose error names the fault.
var errMalformed = errors.New("malformed module")

// deferStart returns wasm with its start section, if any, removed and
// the function it named exported as DeferredStart, and whether it changed
// anything. Its caller validates a changed module's original bytes: a
// start function of the wrong type, invalid as a start, would be valid
// as an export. A module that is not
// a well-formed sequence of sections comes back unchanged, for wasmtime
// to refuse with its own message (so a malformed start section cannot
// slip through: wasmtime compiles nothing it cannot parse). A module that
// already exports DeferredStart is refused.
//
// It parses untrusted bytes; every length is checked against what is
// left before it is used, so a crafted size or count cannot index past
// the input or make it allocate more than the input's size.
func deferStart(wasm []byte) ([]byte, bool, error) {
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return wasm, false, nil
	}
	type section struct {
		id         byte
		start, end int // the whole section: id, size and contents
		body       []byte
	}
	var sections []section
	for off := len(wasmMagic); off < len(wasm); {
		id := wasm[off]
		size, n, err := readU32(wasm[off+1:])
		if err != nil || uint64(size) > uint64(len(wasm)-off-1-n) {
			return wasm, false, nil
		}
		bodyAt := off + 1 + n
		end := bodyAt + int(size)
		sections = append(sections, section{id: id, start: off, end: end, body: wasm[bodyAt:end]})
		off = end
	}
	startAt, exportAt := -1, -1
	for i, s := range sections {
		switch s.id {
		case sectionStart:
			if startAt >= 0 {
				return wasm, false, nil
			}
			startAt = i
		case sectionExport:
			if exportAt >= 0 {
				return wasm, false, nil
			}
			exportAt = i
		}
	}
	var exports []byte
	count := uint32(0)
	if exportAt >= 0 {
		var err error
		if count, exports, err = exportsOf(sections[exportAt].body); errors.Is(err, errMalformed) {
			return wasm, false, nil
		} else if err != nil {
			return nil, false, err
		}
	}
	if startAt < 0 {
		return wasm, false, nil
	}
	fn, n, err := readU32(sections[startAt].body)
	if err != nil || n != len(sections[startAt].body) {
		return wasm, false, nil
	}
	// The export section with one more entry: the start function.
	body := appendU32(nil, count+1)
	body = append(body, exports...)
	body = appendU32(body, uint32(len(DeferredStart)))
	body = append(body, DeferredStart...)
	body = append(body, exportKindFunc)
	body = appendU32(body, fn)
	newExport := append([]byte{sectionExport}, appendU32(nil, uint32(len(body)))...)
	newExport = append(newExport, body...)

	out := make([]byte, 0, len(wasm)+len(newExport))
	out = append(out, wasmMagic...)
	for i, s := range sections {
		switch {
		case i == exportAt:
			out = append(out, newExport...)
		case i == startAt:
			// The start section follows the export section in a valid
			// module: a module without one gets it here, in its place.
			if exportAt < 0 {
				out = append(out, newExport...)
			}
		default:
			out = append(out, wasm[s.start:s.end]...)
		}
	}
	return out, true, nil
}

// exportsOf parses an export section's body: its count and the bytes of
// its entries. It refuses a module that exports DeferredStart itself.
func exportsOf(body []byte) (uint32, []byte, error) {
	count, n, err := readU32(body)
	if err != nil {
		return 0, nil, err
	}
	entries := body[n:]
	rest := entries
	for i := uint32(0); i < count; i++ {
		size, n, err := readU32(rest)
		if err != nil || uint64(size) > uint64(len(rest)-n) {
			return 0, nil, errMalformed
		}
		name := rest[n : n+int(size)]
		rest = rest[n+int(size):]
		if len(rest) < 1 {
			return 0, nil, errMalformed
		}
		rest = rest[1:] // the export's kind
		if _, n, err = readU32(rest); err != nil {
			return 0, nil, errMalformed
		}
		rest = rest[n:]
		if string(name) == DeferredStart {
			return 0, nil, fmt.Errorf("the module exports %q, a name runw keeps for the module's start function", DeferredStart)
		}
	}
	if len(rest) != 0 {
		return 0, nil, errMalformed
	}
	return count, entries, nil
}

// readU32 is spec.ULEB32 with this file's error.
func readU32(b []byte) (uint32, int, error) {
	v, n, ok := spec.ULEB32(b)
	if !ok {
		return 0, 0, errMalformed
	}
	return v, n, nil
}

// appendU32 appends v as an unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	return binary.AppendUvarint(b, uint64(v))
}
