package wasi

import (
	"errors"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// TestCompileErrorIsOneLineWithoutBacktrace: with RUST_BACKTRACE=1 in
// runw's environment (a developer's shell, a CI job), wasmtime appends a
// backtrace to a compile error, and runw's one-line error carried every
// frame ("...: rayon::iter::plumbing::bridge_producer_consumer::helper:
// ...: clone3: at ./misc/../sysdeps/...") after the reason.
func TestCompileErrorIsOneLineWithoutBacktrace(t *testing.T) {
	t.Setenv("RUST_BACKTRACE", "1")
	t.Setenv("RUST_LIB_BACKTRACE", "1")
	wasm, err := wasmtime.Wat2Wasm(`(module (func (result i32)))`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wasmtime.NewModule(NewEngine(), wasm)
	if err == nil {
		t.Fatal("an invalid module compiled")
	}
	if !strings.Contains(err.Error(), "Stack backtrace") {
		t.Skipf("wasmtime captured no backtrace here: %q", err)
	}
	msg := oneLine(err).Error()
	if !strings.Contains(msg, "type mismatch") {
		t.Errorf("the reason is gone: %q", msg)
	}
	for _, frame := range []string{"rayon", "pthread_create", "start_thread", "<unknown>", "rustc"} {
		if strings.Contains(msg, frame) {
			t.Errorf("the one-line error carries backtrace frames (%q): %q", frame, msg)
		}
	}
}

// TestCompileErrorKeepsNumbersInText: wasmtime's report for a file that
// is not a module lists the expected and actual magic bytes one to a
// line ("0x0,", "0x61,"). The one-line error stripped every leading digit
// along with anyhow's "0: " cause numbers, so runw said
// "expected=[: x0,: x61,: x73,: x6d,: ]".
func TestCompileErrorKeepsNumbersInText(t *testing.T) {
	_, err := wasmtime.NewModule(NewEngine(), []byte("garbage\n"))
	if err == nil {
		t.Fatal("garbage compiled")
	}
	msg := oneLine(err).Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("not one line: %q", msg)
	}
	for _, want := range []string{"magic header not detected", "expected=[0x0, 0x61, 0x73, 0x6d]", "actual=[0x67, 0x61, 0x72, 0x62]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q: %q", want, msg)
		}
	}
}

// TestOneLineStripsCauseNumbers: anyhow's numbered causes lose their
// numbers, and nothing else.
func TestOneLineStripsCauseNumbers(t *testing.T) {
	err := errors.New("outer\n\nCaused by:\n    0: middle 10 items\n    1: 2 inner")
	if got, want := oneLine(err).Error(), "outer: middle 10 items: 2 inner"; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
}

// TestTrimCauseNumber: only a line's leading digits and ": " go.
func TestTrimCauseNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0: middle":       "middle",
		"12: inner: more": "inner: more",
		"0x0,":            "0x0,",
		"1:2":             "1:2",
		": text":          ": text",
		"7: ":             "",
		"":                "",
		"a 1: b":          "a 1: b",
	} {
		if got := trimCauseNumber(in); got != want {
			t.Errorf("trimCauseNumber(%q) = %q, want %q", in, got, want)
		}
	}
}
