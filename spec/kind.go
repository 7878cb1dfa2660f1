package spec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// Kind classifies an entrypoint file by its content, because the file name
// alone cannot tell a wasm module from a native binary that happens to be
// called app.wasm, and the engine needs to know which decoder to use.
type Kind int

// The kinds Sniff can report.
const (
	// KindUnknown is anything Sniff does not recognise.
	KindUnknown Kind = iota
	// KindModule is a core WebAssembly binary module.
	KindModule
	// KindComponent is a WebAssembly component binary.
	KindComponent
	// KindWAT is a module in the WebAssembly text format.
	KindWAT
	// KindNative is an ELF binary or a #! script: not ours to run.
	KindNative
	// KindWATComponent is a component in the WebAssembly text format.
	KindWATComponent
)

// IsWasm says the kind is WebAssembly that runw runs: a module or a
// component, binary or text.
func (k Kind) IsWasm() bool { return k == KindModule || k == KindWAT || k.IsComponent() }

// IsComponent says the kind is a component, binary or text: what
// wasmtime's component loader compiles and WASI 0.2 runs.
func (k Kind) IsComponent() bool { return k == KindComponent || k == KindWATComponent }

// IsText says the kind is the WebAssembly text format, assembled before
// it is compiled.
func (k Kind) IsText() bool { return k == KindWAT || k == KindWATComponent }

// String names the kind for logs and error messages.
func (k Kind) String() string {
	switch k {
	case KindUnknown:
		return "unknown"
	case KindModule:
		return "module"
	case KindComponent:
		return "component"
	case KindWAT:
		return "wat"
	case KindNative:
		return "native"
	case KindWATComponent:
		return "wat component"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

var (
	wasmMagic        = []byte("\x00asm")
	moduleVersion    = []byte{0x01, 0x00, 0x00, 0x00}
	componentVersion = []byte{0x0d, 0x00, 0x01, 0x00}
)

// Sniff classifies a file from its first bytes (any length; a short or empty
// head is KindUnknown). It looks at content rather than names so that the
// handler decision is made on what the file really is.
func Sniff(head []byte) Kind {
	switch {
	case len(head) >= 8 && bytes.HasPrefix(head, wasmMagic):
		switch {
		case bytes.Equal(head[4:8], moduleVersion):
			return KindModule
		case bytes.Equal(head[4:8], componentVersion):
			return KindComponent
		}
		return KindUnknown
	case bytes.HasPrefix(head, []byte("\x7fELF")), bytes.HasPrefix(head, []byte("#!")):
		return KindNative
	}
	return watKind(head)
}

// Describe says in words what a file whose first bytes are head is, for
// the refusal of one that is not WebAssembly: wasmtime's reason where it
// has one ("unknown binary version"), else what the file looks like.
// runw said "not a WebAssembly module or component (unknown)" of an empty
// file, a gzip of a module and a module of another binary version alike.
func Describe(head []byte) string {
	switch k := Sniff(head); {
	case k == KindModule:
		return "a WebAssembly module"
	case k == KindComponent:
		return "a WebAssembly component"
	case k.IsText():
		return "WebAssembly text"
	case len(head) == 0:
		return "an empty file"
	case bytes.HasPrefix(head, wasmMagic) && len(head) < 8:
		return "a WebAssembly header cut short (unexpected end of file)"
	case bytes.HasPrefix(head, wasmMagic):
		return fmt.Sprintf("unknown binary version: %#x", binary.LittleEndian.Uint32(head[4:8]))
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "a native executable (ELF)"
	case bytes.HasPrefix(head, []byte("#!")):
		return "a script (#!)"
	case bytes.HasPrefix(head, []byte("\x1f\x8b")):
		return "a gzip file: decompress it"
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		return "text that begins with a byte-order mark, which the WebAssembly text format does not allow"
	}
	return "neither the WebAssembly binary format (magic header not detected) nor its text format"
}

// goBuildID names the custom section Go's linker writes first in every
// wasm module it makes: the build ID, which other formats keep in a note.
var goBuildID = []byte("go:buildid")

// goProcessor is the "processed-by" entry Go's linker writes in a module's
// producers section. TinyGo and other toolchains built on wasi-libc write
// neither it nor the build ID, and must not be taken for Go: their paths
// go through wasi-libc, which needs no trailing slash on preopen names.
// The "language" field does not tell them apart: LLVM writes there each
// compile unit's DWARF language, so a TinyGo module built with debug
// information (TinyGo's default) lists "Go" too.
const goProcessor = "Go cmd/compile"

// Bounds of IsGo's walk of an untrusted module: sections looked at, and
// the largest producers section read (Go's is under 100 bytes).
const (
	maxSectionsWalked = 10000
	maxProducersLen   = 64 << 10
)

// IsGo reports whether the binary core module in r (size bytes) was built
// by Go's wasip1 port: a custom section "go:buildid" (Go's linker writes it
// first), or a producers section whose processed-by names Go's compiler.
// Either may have moved when a tool rewrote the module (wasm-opt,
// wasm-tools), so the section headers are walked, not only the first.
//
// The module is the guest's, untrusted, read before anything checked it:
// the walk reads headers only (each a few bytes at a known offset), never
// allocates by a size the file declares beyond maxProducersLen, stops at
// the first header that is malformed or runs past the end of the file (a
// declared 4 GiB section is a seek, not a read), and looks at no more than
// maxSectionsWalked sections, so no module can make it slow or large.
func IsGo(r io.ReaderAt, size int64) bool {
	head := make([]byte, 8)
	if n, _ := r.ReadAt(head, 0); n != 8 || !bytes.HasPrefix(head, wasmMagic) || !bytes.Equal(head[4:8], moduleVersion) {
		return false
	}
	found, walked := false, 0
	// head holds a custom section's name whole for names up to the
	// longest sought: its length (ULEB32) and its bytes.
	WalkSections(r, 8, size, 5+len(goBuildID), func(id byte, body int64, length uint32, head []byte) bool {
		if walked++; id != 0 {
			return walked < maxSectionsWalked
		}
		switch name := customName(head, length); {
		case bytes.Equal(name, goBuildID):
			found = true
		case string(name) == "producers" && length <= maxProducersLen:
			b := make([]byte, length)
			if _, err := r.ReadAt(b, body); err != nil && err != io.EOF {
				return false
			}
			found = producedByGo(b)
		}
		return !found && walked < maxSectionsWalked
	})
	return found
}

// DefinedLimits reads the binary core module in r (size bytes): tables
// is the count of tables it defines in its table section, memoryMin the
// minimum size in bytes of the first memory it defines in its memory
// section. Each is 0 when the section is missing, when the section
// headers are malformed or more than maxSectionsWalked precede it, and
// memoryMin for a page size of the memory's own. Imported tables and
// memories are not seen: WASI gives none, so a module importing one
// fails to link anyway.
func DefinedLimits(r io.ReaderAt, size int64) (tables int, memoryMin int64) {
	walked, rank, sound := 0, 0, true
	// The memory section's head: its count, a memory's flags, its
	// minimum and maximum, ULEBs of up to 10 bytes for a 64-bit memory.
	whole := WalkSections(r, 8, size, 32, func(id byte, _ int64, _ uint32, head []byte) bool {
		walked++
		if id != 0 {
			next, known := sectionRank[id]
			sound = sound && known && next > rank
			rank = next
		}
		switch id {
		case 4:
			if c, _, ok := ULEB32(head); ok {
				tables = int(c)
			}
		case 5:
			memoryMin = firstMemoryMin(head)
		}
		return walked < maxSectionsWalked
	})
	// The minimum is taken only from a module whose sections are whole
	// and in order: a truncated or disordered one is refused by its
	// compile, in wasmtime's words, not for its memory (CheckMemoryMin
	// runs first).
	if !whole || !sound || walked >= maxSectionsWalked {
		memoryMin = 0
	}
	return tables, memoryMin
}

// sectionRank is the place of each known section in a module, by id:
// the tag section (13) comes between memory and global, data count (12)
// before code.
var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// firstMemoryMin reads a memory section's head: the minimum in bytes of
// its first memory, 0 when there is none or it cannot tell, or when the
// memory is one the compile refuses, which is then refused in wasmtime's
// words, not for its size: a minimum more than its kind of memory may
// have (65,536 pages for a 32-bit memory, 2^48 for a 64-bit one), a
// maximum below the minimum or above that bound, a shared memory without
// a maximum, more memories than wasmtime's 100. A 64-bit minimum of 2^47 pages or more,
// whose bytes an int64 cannot hold (it wrapped to a negative size or 0,
// and passed the check), is left to the instantiation too.
func firstMemoryMin(head []byte) int64 {
	count, n, ok := ULEB32(head)
	if !ok || count == 0 || count > 100 || n >= len(head) {
		return 0
	}
	flags := head[n]
	if flags&^0x07 != 0 {
		// A page size of its own (custom-page-sizes), or not known.
		return 0
	}
	pages, used, ok := uleb64(head[n+1:])
	if !ok {
		return 0
	}
	most := uint64(1) << 16
	if flags&0x04 != 0 {
		most = 1 << 48
	}
	if pages > most || pages >= 1<<47 {
		return 0
	}
	switch {
	case flags&0x01 != 0:
		max, _, ok := uleb64(head[n+1+used:])
		if !ok || max < pages || max > most {
			return 0
		}
	case flags&0x02 != 0:
		return 0 // shared, without a maximum
	}
	return int64(pages) << 16
}

// uleb64 decodes an unsigned LEB128 of up to 10 bytes from the front of
// b, saying how many bytes it used; false when b ends first.
func uleb64(b []byte) (v uint64, n int, ok bool) {
	for i := 0; i < 10 && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// WalkSections reads the section headers of a binary module's or
// component's body from off to end through r, and calls fn with each: its
// id, the offset and length of its body, and head, up to extra of the
// body's first bytes (fewer at the end of the body or the file). fn
// returns false to stop the walk. WalkSections returns false at a header
// that is malformed or whose body runs past end, true otherwise.
//
// The bytes are untrusted (a guest's module, read before anything checked
// it): the walk reads only headers, a few bytes each at the offset the
// one before gave, so a declared 4 GiB section is a seek, never a read or
// an allocation. Callers bound how many headers they take.
func WalkSections(r io.ReaderAt, off, end int64, extra int, fn func(id byte, body int64, length uint32, head []byte) bool) bool {
	hdr := make([]byte, 1+5+extra)
	for off < end {
		n, _ := r.ReadAt(hdr, off)
		if n < 2 {
			return false
		}
		length, used, ok := ULEB32(hdr[1:n])
		body := off + 1 + int64(used)
		if !ok || body > end || int64(length) > end-body {
			return false
		}
		head := hdr[1+used : n]
		if len(head) > extra {
			head = head[:extra]
		}
		if int64(len(head)) > int64(length) {
			// Never the next section's bytes: a truncated memory
			// entry took its minimum from the header after it.
			head = head[:length]
		}
		if !fn(hdr[0], body, length, head) {
			return true
		}
		off = body + int64(length)
	}
	return true
}

// customName is the name at the start of a custom section's body, of
// which b holds the first bytes and bodyLen is the whole length; nil when
// the name is malformed or longer than b holds.
func customName(b []byte, bodyLen uint32) []byte {
	l, n, ok := ULEB32(b)
	if !ok || uint64(n)+uint64(l) > uint64(bodyLen) || n+int(l) > len(b) {
		return nil
	}
	return b[n : n+int(l)]
}

// producedByGo reads a producers section's body (its name included) and
// reports whether processed-by lists Go's compiler. The format (the
// tool-conventions' ProducersSection.md): a vector of fields, each a name
// and a vector of (name, version) values, every string a ULEB32 length
// and its bytes.
func producedByGo(b []byte) bool {
	u32 := func() (uint32, bool) {
		v, n, ok := ULEB32(b)
		b = b[n:]
		return v, ok
	}
	str := func() (string, bool) {
		l, ok := u32()
		if !ok || uint64(l) > uint64(len(b)) {
			return "", false
		}
		s := string(b[:l])
		b = b[l:]
		return s, true
	}
	if _, ok := str(); !ok { // the section's name, "producers"
		return false
	}
	fields, ok := u32()
	for i := uint32(0); ok && i < fields; i++ {
		var field string
		var values uint32
		if field, ok = str(); !ok {
			return false
		}
		if values, ok = u32(); !ok {
			return false
		}
		for j := uint32(0); j < values; j++ {
			name, ok1 := str()
			_, ok2 := str()
			if !ok1 || !ok2 {
				return false
			}
			if field == "processed-by" && name == goProcessor {
				return true
			}
		}
	}
	return false
}

// ULEB32 reads an unsigned LEB128 of at most 5 bytes that fits in 32 bits,
// as the wasm binary format encodes sizes, counts and indices (padded
// encodings included), and returns it with the bytes it took; ok is false
// for a truncated, overlong or too large encoding.
func ULEB32(b []byte) (v uint32, n int, ok bool) {
	var x uint64
	for i := 0; i < 5 && i < len(b); i++ {
		x |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if x > 0xffffffff {
				return 0, 0, false
			}
			return uint32(x), i + 1, true
		}
	}
	return 0, 0, false
}

// watKind tells text by its first token after whitespace, ";;" line
// comments and (possibly nested) "(; ... ;)" block comments: "(module" is
// a module, "(component" a component, anything else KindUnknown. So is a
// module field ("(func", "(memory", ...): the text format lets a module
// be written as its fields without the wrapper, and wasmtime reads it so;
// such a file was taken for a binary module and refused as one ("magic
// header not detected").
func watKind(head []byte) Kind {
	i := 0
	for i < len(head) {
		switch {
		case isWATSpace(head[i]):
			i++
		case bytes.HasPrefix(head[i:], []byte(";;")):
			nl := bytes.IndexByte(head[i:], '\n')
			if nl < 0 {
				return KindUnknown
			}
			i += nl + 1
		case bytes.HasPrefix(head[i:], []byte("(;")):
			end := skipBlockComment(head, i)
			if end < 0 {
				return KindUnknown
			}
			i = end
		default:
			for _, w := range []struct {
				token string
				kind  Kind
			}{{"(module", KindWAT}, {"(component", KindWATComponent},
				{"(type", KindWAT}, {"(rec", KindWAT}, {"(import", KindWAT}, {"(func", KindWAT},
				{"(table", KindWAT}, {"(memory", KindWAT}, {"(global", KindWAT}, {"(tag", KindWAT},
				{"(export", KindWAT}, {"(start", KindWAT}, {"(elem", KindWAT}, {"(data", KindWAT}} {
				rest, ok := bytes.CutPrefix(head[i:], []byte(w.token))
				// The keyword must be a whole token: "(modules" is not a
				// module.
				if ok && (len(rest) == 0 || isWATSpace(rest[0]) || rest[0] == '(' || rest[0] == ')' || rest[0] == ';') {
					return w.kind
				}
			}
			return KindUnknown
		}
	}
	return KindUnknown
}

// skipBlockComment returns the index just after the block comment that starts
// at head[i] ("(;"), honouring nesting, or -1 if it is not closed in head.
func skipBlockComment(head []byte, i int) int {
	depth := 0
	for i < len(head) {
		switch {
		case bytes.HasPrefix(head[i:], []byte("(;")):
			depth++
			i += 2
		case bytes.HasPrefix(head[i:], []byte(";)")):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return -1
}

func isWATSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// SniffFile classifies the file at path by its first bytes, for commands
// that take a module path on the host (`runw compile`), and returns them.
func SniffFile(path string) (Kind, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return KindUnknown, nil, err
	}
	defer f.Close()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return KindUnknown, nil, err
	}
	return Sniff(head[:n]), head[:n], nil
}
