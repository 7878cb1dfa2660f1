package runtime

import (
	"bytes"
	"strings"
	"testing"
)

// section is a binary section: id, a LEB128 length, n bytes of body.
func section(id byte, body []byte) []byte {
	var out []byte
	out = append(out, id)
	n := uint64(len(body))
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			out = append(out, b|0x80)
			continue
		}
		out = append(out, b)
		break
	}
	return append(out, body...)
}

// cat joins byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var (
	modulePreamble    = []byte("\x00asm\x01\x00\x00\x00")
	componentPreamble = []byte("\x00asm\x0d\x00\x01\x00")
)

// TestCompileWeightCountsCode: the compile child's memory bound grows
// with a module's code, not with padding. A hostile image padded a module
// with a 40 MB custom section and got 2.5 GB more of the host's memory for
// its compile outside the container's cgroup (an attack sweep); padding
// now weighs an eighth, code in full, in a module or inside a component,
// and what cannot be walked weighs as text does.
func TestCompileWeightCountsCode(t *testing.T) {
	code := bytes.Repeat([]byte{0x0b}, 1000)
	pad := make([]byte, 80_000)
	mod := cat(modulePreamble, section(1, []byte{0}), section(10, code), section(0, pad))
	if got, want := compileWeight(bytes.NewReader(mod), int64(len(mod))), int64(1000+(len(mod)-1000)/8); got != want {
		t.Errorf("module: weight %d, want %d", got, want)
	}
	// Sections 1 and 4 of a module (types, tables) are not nested ones.
	typesBig := cat(modulePreamble, section(1, pad))
	if got := compileWeight(bytes.NewReader(typesBig), int64(len(typesBig))); got != int64(len(typesBig))/8 {
		t.Errorf("module without code: weight %d, want %d", got, len(typesBig)/8)
	}
	core := cat(modulePreamble, section(10, code))
	inner := cat(componentPreamble, section(1, core))
	comp := cat(componentPreamble, section(1, core), section(4, inner), section(0, pad))
	if got, want := compileWeight(bytes.NewReader(comp), int64(len(comp))), int64(2000+(len(comp)-2000)/8); got != want {
		t.Errorf("component: weight %d, want %d", got, want)
	}
	text := []byte("(module (func (export \"_start\")))" + strings.Repeat(";; padding\n", 1000))
	if got := compileWeight(bytes.NewReader(text), int64(len(text))); got != int64(len(text))/4 {
		t.Errorf("text: weight %d, want %d", got, len(text)/4)
	}
	// A length that reaches one byte past the end, counting its header.
	short := cat(modulePreamble, []byte{0, 3, 'a', 'b'})
	if got := compileWeight(bytes.NewReader(short), int64(len(short))); got != int64(len(short))/4 {
		t.Errorf("a section one byte short: weight %d, want %d", got, len(short)/4)
	}
	broken := cat(modulePreamble, []byte{10, 0xff, 0xff, 0xff, 0x7f})
	if got := compileWeight(bytes.NewReader(broken), int64(len(broken))); got != int64(len(broken))/4 {
		t.Errorf("a section past the end: weight %d, want %d", got, len(broken)/4)
	}
	// The attack's module: 400,000 empty functions (1.6 MB of code) and
	// 40 MB of padding were allowed 2.6 GB beside the base; now 0.2 GB.
	if extra := compileMemoryBound(1_600_000+40_000_000/8) - compileMemoryBound(0); extra > 512<<20 {
		t.Errorf("padding still buys %d MB", extra>>20)
	}
}
