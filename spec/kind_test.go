package spec

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// uleb is an unsigned LEB128, as the wasm binary format writes it.
func uleb(v uint32) []byte { return binary.AppendUvarint(nil, uint64(v)) }

// wasmName is a name as the binary format writes it: length, bytes.
func wasmName(s string) []byte { return append(uleb(uint32(len(s))), s...) }

// section is a section with its id and body.
func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(uint32(len(body)))...), body...)
}

// customSection is a custom section: its name, then the rest.
func customSection(name string, rest []byte) []byte {
	return section(0, append(wasmName(name), rest...))
}

// producers is a producers section of the given fields, each field a name
// and its (name, version) values.
func producers(fields map[string][][2]string) []byte {
	b := uleb(uint32(len(fields)))
	for _, f := range []string{"language", "processed-by", "sdk"} {
		values, ok := fields[f]
		if !ok {
			continue
		}
		b = append(append(b, wasmName(f)...), uleb(uint32(len(values)))...)
		for _, v := range values {
			b = append(append(b, wasmName(v[0])...), wasmName(v[1])...)
		}
	}
	return customSection("producers", b)
}

func moduleOf(sections ...[]byte) []byte {
	return append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Join(sections, nil)...)
}

func isGo(b []byte) bool { return IsGo(bytes.NewReader(b), int64(len(b))) }

func TestULEB32(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		v    uint32
		n    int
		fine bool
	}{
		{[]byte{0}, 0, 1, true},
		{[]byte{0x7f}, 127, 1, true},
		{[]byte{0x80, 0x01}, 128, 2, true},
		{[]byte{0x80, 0x80, 0x00}, 0, 3, true}, // padded
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 0xffffffff, 5, true},
		{[]byte{0xe5, 0x8e, 0x26, 0xaa}, 624485, 3, true},         // stops at its end
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, 0, 0, false},       // past 32 bits
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 0, false}, // a sixth byte
		{[]byte{0x80, 0x80}, 0, 0, false},                         // truncated
		{nil, 0, 0, false},
	} {
		v, n, ok := ULEB32(c.in)
		if v != c.v || n != c.n || ok != c.fine {
			t.Errorf("ULEB32(% x) = %d, %d, %v; want %d, %d, %v", c.in, v, n, ok, c.v, c.n, c.fine)
		}
	}
}

// isGoCase is a module and what IsGo must make of it.
type isGoCase struct {
	name string
	wasm []byte
	want bool
}

// isGoCases are TestIsGo's modules, which also seed FuzzIsGo.
func isGoCases() []isGoCase {
	buildID := customSection("go:buildid", []byte("abc/def"))
	goProducers := producers(map[string][][2]string{"language": {{"Go", "go1.26"}}, "processed-by": {{"Go cmd/compile", "go1.26"}}})
	typeSec := section(1, []byte{1, 0x60, 0, 0})
	return []isGoCase{
		{"go:buildid first", moduleOf(buildID, typeSec), true},
		{"go:buildid first, two-byte size", moduleOf(customSection("go:buildid", bytes.Repeat([]byte("x"), 200)), typeSec), true},
		{"go:buildid after a producers section and the types", moduleOf(producers(map[string][][2]string{"language": {{"C", ""}}}), typeSec, buildID), true},
		{"no build ID, producers processed by Go and then wasm-opt", moduleOf(typeSec, producers(map[string][][2]string{"processed-by": {{"Go cmd/compile", "go1.26"}, {"wasm-opt", "116"}}})), true},
		{"Go's producers section alone", moduleOf(goProducers), true},
		// TinyGo's producers section does name the language Go: LLVM's
		// wasm backend writes each compile unit's DWARF language
		// (DW_LANG_Go), and TinyGo emits debug info by default. It is
		// not Go's wasip1 port (its paths go through wasi-libc), so only
		// processed-by "Go cmd/compile", Go's linker's own mark, counts.
		{"producers naming the Go language, not Go's compiler (TinyGo)", moduleOf(typeSec, producers(map[string][][2]string{"language": {{"Go", ""}, {"C11", ""}}, "processed-by": {{"clang", "19.1.2"}}})), false},
		{"go:buildid inside another section's body", moduleOf(customSection("x", wasmName("go:buildid")), section(11, append([]byte{1, 0, 0x41, 0, 0x0b}, wasmName("\x00\x0ago:buildid")...))), false},
		{"producers of C and clang", moduleOf(typeSec, producers(map[string][][2]string{"language": {{"C11", ""}}, "processed-by": {{"clang", "14"}}})), false},
		{"producers of Rust", moduleOf(typeSec, producers(map[string][][2]string{"language": {{"Rust", ""}, {"C11", ""}}, "processed-by": {{"rustc", "1.80.0"}, {"clang", "18.1.7"}}})), false},
		{"a longer name starting alike", moduleOf(customSection("go:buildidx", nil)), false},
		{"a type section only (C, Rust)", moduleOf(typeSec), false},
		{"a component", append([]byte("\x00asm\x0d\x00\x01\x00"), buildID...), false},
		{"cut in the build ID's name", moduleOf(buildID)[:14], false},
		{"a section running past the end before the build ID", append(moduleOf(section(1, nil))[:8], append([]byte{1, 0x80, 0x01}, buildID...)...), false},
		{"a name longer than its section", moduleOf(section(0, append(uleb(10), "go:bu"...))), false},
		{"a producers section with a string past its end", moduleOf(customSection("producers", []byte{1, 12, 'p'})), false},
		{"an overlong size", append(moduleOf(), 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0), false},
		{"WAT", []byte("(module)"), false},
		{"empty", nil, false},
	}
}

// IsGo recognises Go's wasip1 modules by the build-ID section Go's
// linker writes first, or, where a tool moved or dropped it, by the
// producers section naming Go's compiler; never a module of another
// toolchain, a component or a malformed file.
func TestIsGo(t *testing.T) {
	for _, c := range isGoCases() {
		if got := isGo(c.wasm); got != c.want {
			t.Errorf("%s: IsGo = %v, want %v", c.name, got, c.want)
		}
	}
}

// countingReader counts the bytes IsGo reads.
type countingReader struct {
	r    *bytes.Reader
	read int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read += n
	return n, err
}

// A module is the guest's: a header declaring a 4 GiB section, a producers
// section of 16 MB or a million empty sections must cost IsGo a few reads,
// never an allocation or a read of the declared size.
func TestIsGoHugeSection(t *testing.T) {
	huge := append(moduleOf(), 0, 0xff, 0xff, 0xff, 0xff, 0x0f)
	huge = append(huge, wasmName("producers")...)
	bigProducers := moduleOf(customSection("producers", make([]byte, 16<<20)), customSection("go:buildid", nil))
	many := moduleOf(bytes.Repeat([]byte{0, 1, 0}, 1_000_000), customSection("go:buildid", nil))
	for name, c := range map[string]struct {
		wasm    []byte
		want    bool
		maxRead int
	}{
		"a 4 GiB section declared":          {huge, false, 64},
		"a 16 MB producers section skipped": {bigProducers, true, 128},
		"a million sections":                {many, false, 8 + 21*maxSectionsWalked},
	} {
		r := &countingReader{r: bytes.NewReader(c.wasm)}
		if got := IsGo(r, int64(len(c.wasm))); got != c.want {
			t.Errorf("%s: IsGo = %v, want %v", name, got, c.want)
		}
		if r.read > c.maxRead {
			t.Errorf("%s: IsGo read %d bytes, want at most %d", name, r.read, c.maxRead)
		}
	}
}

// IsGo gives the same answer through the sniffed head however much of the
// module the head holds.
func TestIsGoThroughHead(t *testing.T) {
	for _, c := range isGoCases() {
		for cut := 0; cut <= len(c.wasm); cut++ {
			r := headFirst{c.wasm[:cut], bytes.NewReader(c.wasm)}
			if got := IsGo(r, int64(len(c.wasm))); got != c.want {
				t.Errorf("%s, head of %d bytes: IsGo = %v, want %v", c.name, cut, got, c.want)
			}
		}
	}
}

// A module Go really builds is Go's; the same module with its build ID
// renamed (as a tool that drops it leaves the producers section) still is.
func TestIsGoBuilt(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go on PATH to build a wasip1 module")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hi\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hi\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "build", "-o", "hi.wasm", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "hi.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if !isGo(wasm) {
		t.Fatal("IsGo = false for a module Go built")
	}
	i := bytes.Index(wasm, goBuildID)
	if i < 0 || i > 16 {
		t.Fatalf("no build ID at the start of Go's module (at %d)", i)
	}
	// The start path's sniff has read the first sniffLen bytes: it
	// decides on those alone.
	file := &countingReader{r: bytes.NewReader(wasm)}
	if !IsGo(headFirst{wasm[:sniffLen], file}, int64(len(wasm))) || file.read != 0 {
		t.Errorf("IsGo through the sniffed head read %d bytes of Go's module beyond it, want true having read none", file.read)
	}
	renamed := bytes.Clone(wasm)
	copy(renamed[i:], "go:buildxx")
	if !isGo(renamed) {
		t.Error("IsGo = false for Go's module without its build ID: the producers section names Go's compiler")
	}

	// A whole module as clang and wasm-ld would leave it, assembled by
	// hand: (func (export "_start")) and a producers section of C.
	c := moduleOf(
		section(1, []byte{1, 0x60, 0, 0}),                                  // type: () -> ()
		section(3, []byte{1, 0}),                                           // func 0 of type 0
		section(7, append(append([]byte{1}, wasmName("_start")...), 0, 0)), // export func 0
		section(10, []byte{1, 2, 0, 0x0b}),                                 // code: no locals, end
		producers(map[string][][2]string{"language": {{"C11", ""}}, "processed-by": {{"clang", "19.1.2"}}}),
	)
	if isGo(c) {
		t.Error("IsGo = true for a module of C")
	}
}

// FuzzIsGo: no module, however malformed, panics IsGo.
func FuzzIsGo(f *testing.F) {
	for _, c := range isGoCases() {
		f.Add(c.wasm)
	}
	f.Add(moduleOf(customSection("go:buildid", []byte("x"))))
	f.Add(moduleOf(section(1, []byte{1, 0x60, 0, 0}), producers(map[string][][2]string{"processed-by": {{"Go cmd/compile", "go1.26"}}})))
	f.Add(append(moduleOf(), 0, 0xff, 0xff, 0xff, 0xff, 0x0f))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x05\x09producers"))
	f.Fuzz(func(t *testing.T, b []byte) {
		isGo(b)
		if len(b) > 8 {
			// Declaring more than the file holds must not matter.
			IsGo(bytes.NewReader(b), int64(len(b))+1<<40)
		}
	})
}

// TestWalkSections walks a module's sections, stops where its callback
// says, and refuses a header whose body runs past the end.
func TestWalkSections(t *testing.T) {
	mod := moduleOf(section(1, []byte{0, 0}), customSection("x", []byte("yz")), section(10, make([]byte, 300)))
	type seen struct {
		id     byte
		body   int64
		length uint32
		head   string
	}
	walk := func(b []byte, stopAt int) ([]seen, bool) {
		var got []seen
		ok := WalkSections(bytes.NewReader(b), 8, int64(len(b)), 3, func(id byte, body int64, length uint32, head []byte) bool {
			got = append(got, seen{id, body, length, string(head)})
			return len(got) != stopAt
		})
		return got, ok
	}
	got, ok := walk(mod, 0)
	want := []seen{{1, 10, 2, "\x00\x00"}, {0, 14, 4, "\x01xy"}, {10, 21, 300, "\x00\x00\x00"}}
	if !ok || len(got) != len(want) {
		t.Fatalf("walk = %v, %v; want %v, true", got, ok, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("section %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, ok := walk(mod, 2); !ok || len(got) != 2 {
		t.Errorf("walk stopped at the second section = %v, %v; want two sections, true", got, ok)
	}
	if got, ok := walk(mod[:len(mod)-1], 0); ok || len(got) != 2 {
		t.Errorf("walk of a truncated code section = %v, %v; want two sections, false", got, ok)
	}
	if _, ok := walk(append(moduleOf(), 1, 0xff, 0xff, 0xff, 0xff, 0xff), 0); ok {
		t.Error("walk of an overlong size = true, want false")
	}
}

// TestDefinedTables counts the table section's tables, past custom
// sections and the sections before it, and is 0 without one or for a
// malformed module.
func TestDefinedTables(t *testing.T) {
	tables := func(b []byte) int {
		n, _ := DefinedLimits(bytes.NewReader(b), int64(len(b)))
		return n
	}
	withTwo := moduleOf(customSection("go:buildid", []byte("x")), section(1, []byte{0}), section(3, []byte{0}), customSection("name", nil), section(4, []byte{2, 0x70, 0, 1, 0x70, 0, 1}), section(10, []byte{0}))
	if got := tables(withTwo); got != 2 {
		t.Errorf("a module with two tables: %d", got)
	}
	if got := tables(moduleOf(section(1, []byte{0}), section(5, []byte{1, 0, 1}))); got != 0 {
		t.Errorf("a module without a table section: %d", got)
	}
	if got := tables(withTwo[:20]); got != 0 {
		t.Errorf("a truncated module: %d", got)
	}
}

// TestDefinedLimits reads the first memory's minimum: a 32-bit memory
// with and without a maximum, a 64-bit one, none, and one with a page
// size of its own (not known: 0).
func TestDefinedLimits(t *testing.T) {
	limits := func(b []byte) (int, int64) { return DefinedLimits(bytes.NewReader(b), int64(len(b))) }
	for _, c := range []struct {
		name   string
		mod    []byte
		tables int
		min    int64
	}{
		{"278 pages", moduleOf(section(1, []byte{0}), section(4, []byte{1, 0x70, 0, 1}), customSection("x", nil), section(5, []byte{1, 0, 0x96, 0x02}), section(10, []byte{0})), 1, 278 << 16},
		{"min and max", moduleOf(section(5, []byte{1, 1, 2, 0x80, 0x80, 0x04})), 0, 2 << 16},
		{"64-bit", moduleOf(section(5, []byte{1, 0x04, 0x80, 0x01})), 0, 128 << 16},
		{"no memory", moduleOf(section(1, []byte{0}), section(10, []byte{0})), 0, 0},
		{"own page size", moduleOf(section(5, []byte{1, 0x08, 1, 0})), 0, 0},
		{"truncated", moduleOf(section(5, []byte{1, 0, 0x96, 0x02}))[:12], 0, 0},
		// Broken modules are refused by their compile, not for memory.
		{"cut after its memory", moduleOf(section(5, []byte{1, 0, 0x96, 0x02}), section(10, []byte{1, 2, 3}))[:16], 0, 0},
		{"memory before table", moduleOf(section(5, []byte{1, 0, 0x96, 0x02}), section(4, []byte{1, 0x70, 0, 1})), 1, 0},
		{"unknown section", moduleOf(section(5, []byte{1, 0, 0x96, 0x02}), section(20, nil)), 0, 0},
		{"65537 pages of 32 bits", moduleOf(section(5, []byte{1, 0, 0x81, 0x80, 0x04})), 0, 0},
		{"65536 pages of 32 bits", moduleOf(section(5, []byte{1, 0, 0x80, 0x80, 0x04})), 0, 65536 << 16},
		{"a tag section after memory", moduleOf(section(5, []byte{1, 0, 3}), section(13, []byte{0}), section(6, []byte{0})), 0, 3 << 16},
		// Memories the compile refuses, in wasmtime's words: a minimum
		// whose bytes wrapped an int64 passed the check (2^47 pages to a
		// negative size, 2^48 to 0), a maximum below the minimum, a shared
		// memory without a maximum, more memories than wasmtime allows.
		{"2^47 pages of 64 bits", moduleOf(section(5, append([]byte{1, 0x04}, binary.AppendUvarint(nil, 1<<47)...))), 0, 0},
		{"2^48 pages of 64 bits", moduleOf(section(5, append([]byte{1, 0x04}, binary.AppendUvarint(nil, 1<<48)...))), 0, 0},
		{"2^47-1 pages of 64 bits", moduleOf(section(5, append([]byte{1, 0x04}, binary.AppendUvarint(nil, 1<<47-1)...))), 0, (1<<47 - 1) << 16},
		{"maximum below minimum", moduleOf(section(5, []byte{1, 1, 0xd0, 0x0f, 1})), 0, 0},
		{"maximum above 65536 pages", moduleOf(section(5, []byte{1, 1, 0xe8, 0x07, 0xf0, 0xa2, 0x04})), 0, 0},
		{"64-bit maximum above 2^48 pages", moduleOf(section(5, append([]byte{1, 0x05, 0x80, 0x01}, binary.AppendUvarint(nil, 1<<49)...))), 0, 0},
		{"64-bit maximum below minimum", moduleOf(section(5, append([]byte{1, 0x05, 0x80, 0x01}, binary.AppendUvarint(nil, 127)...))), 0, 0},
		{"64-bit maximum cut short", moduleOf(section(5, []byte{1, 0x05, 0x80, 0x01, 0x80})), 0, 0},
		{"shared with a maximum", moduleOf(section(5, []byte{1, 3, 0xd0, 0x0f, 0xd0, 0x0f})), 0, 2000 << 16},
		{"shared without a maximum", moduleOf(section(5, []byte{1, 2, 0xd0, 0x0f})), 0, 0},
		{"101 memories", moduleOf(section(5, []byte{101, 0, 0xd0, 0x0f})), 0, 0},
		{"0xffffffff memories", moduleOf(section(5, []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0xd0, 0x0f})), 0, 0},
		// A memory entry cut short by its section's length, the next
		// section's header after it: its minimum was read from that
		// header (0x80 then 13, 0: 1664 pages).
		{"minimum cut by the section's end", moduleOf(section(5, []byte{1, 0, 0x80}), section(13, nil)), 0, 0},
		{"64-bit minimum cut by the section's end", moduleOf(section(5, []byte{1, 0x04, 0x80}), section(13, nil)), 0, 0},
	} {
		if tables, min := limits(c.mod); tables != c.tables || min != c.min {
			t.Errorf("%s: %d tables, minimum %d; want %d, %d", c.name, tables, min, c.tables, c.min)
		}
	}
}
