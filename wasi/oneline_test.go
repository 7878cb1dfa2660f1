package wasi

import (
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
