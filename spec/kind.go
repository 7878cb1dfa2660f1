package spec

import (
	"bytes"
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

// goBuildID names the custom section Go's linker writes first in every
// wasm module it makes: the build ID, which other formats keep in a note.
var goBuildID = []byte("go:buildid")

// IsGo reports whether a binary module was built by Go's wasip1 port: its
// first section is the custom section "go:buildid". TinyGo and other
// toolchains built on wasi-libc do not write it.
func IsGo(head []byte) bool {
	if len(head) < 9 || !bytes.HasPrefix(head, wasmMagic) || !bytes.Equal(head[4:8], moduleVersion) || head[8] != 0 {
		return false
	}
	// Section size (LEB128, up to 5 bytes), then the name's length and
	// the name.
	i := 9
	for ; i < len(head) && i < 14 && head[i]&0x80 != 0; i++ {
	}
	i++
	return i < len(head) && int(head[i]) == len(goBuildID) && bytes.HasPrefix(head[i+1:], goBuildID)
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
// that take a module path on the host (`runw compile`).
func SniffFile(path string) (Kind, error) {
	f, err := os.Open(path)
	if err != nil {
		return KindUnknown, err
	}
	defer f.Close()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return KindUnknown, err
	}
	return Sniff(head[:n]), nil
}
