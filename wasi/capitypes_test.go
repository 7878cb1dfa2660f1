package wasi

import (
	"math/rand"
	"strings"
	"testing"
)

// capiCases are modules checkCAPITypes passes ("" wanted) or refuses
// (a part of its message).
var capiCases = []struct{ name, src, want string }{
	{"plain WASI command", `(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) (memory (export "memory") 1) (func (export "_start")))`, ""},
	{"exnref inside only", `(module (type (func (result i32 exnref))) (func (param exnref)) (global exnref (ref.null exn)) (table 1 exnref) (func (export "_start")))`, ""},
	{"exnref in a non-WASI import", `(module (import "env" "f" (func (param exnref))) (func (export "_start")))`, ""},
	{"funcref, externref and v128 in a WASI import", `(module (import "wasi_snapshot_preview1" "x" (func (param funcref externref (ref null func) (ref null extern) v128 f64))) (func (export "_start")))`, ""},
	{"every kind of import before _start", `(module (import "env" "t" (table i64 1 2 funcref)) (import "env" "m" (memory i64 1 2)) (import "env" "g" (global (mut exnref))) (import "env" "f" (func)) (func (export "_start")))`, ""},
	{"_start with an exnref parameter", `(module (func (export "_start") (param exnref)))`, ""},
	{"_start with an i32 result", `(module (func (export "_start") (result i32) (i32.const 0)))`, ""},
	{"WASI import with an exnref parameter", `(module (import "wasi_snapshot_preview1" "proc_exit" (func (param exnref))) (func (export "_start")))`, `its import "wasi_snapshot_preview1" "proc_exit" has exnref in its type`},
	{"wasi_unstable import with a (ref exn) result", `(module (import "wasi_unstable" "fd_close" (func (param i32) (result (ref exn)))) (func (export "_start")))`, `its import "wasi_unstable" "fd_close" has (ref exn) in its type`},
	{"WASI import with a nullexnref", `(module (import "env" "m" (memory 1)) (import "wasi_snapshot_preview1" "x" (func (param i32 nullexnref))) (func (export "_start")))`, `has nullexnref in its type`},
	{"_start returning an exnref", `(module (func (export "_start") (result i32 exnref) unreachable))`, `exports a _start that returns exnref`},
	{"imported _start returning an exnref", `(module (import "env" "a" (func)) (import "env" "s" (func (result exnref))) (export "_start" (func 1)))`, `exports a _start that returns exnref`},
	{"_start returning a v128", `(module (func (export "_start") (result v128) (v128.const i64x2 0 0)))`, `exports a _start that returns v128`},
	{"v128 results elsewhere", `(module (func (result v128) (v128.const i64x2 0 0)) (func (export "_start")))`, ""},
	{"tag export", `(module (tag (export "e") (param i32)) (func (export "_start")))`, `exports a tag ("e")`},
	{"tag import", `(module (import "env" "e" (tag)) (func (export "_start")))`, `imports a tag ("env" "e")`},
}

// checkCAPITypes refuses what wasmtime's C API cannot describe and runw
// would ask it about, and nothing else.
func TestCheckCAPITypes(t *testing.T) {
	engine := NewEngine()
	for _, c := range capiCases {
		t.Run(c.name, func(t *testing.T) {
			wasm := wat(t, c.src)
			// The scan reads what wasmtime accepted: the case must be valid.
			if _, err := compileModuleBytes(engine, "m")(wasm); (err == nil) != (c.want == "") {
				t.Fatalf("compile: %v, want refused: %v", err, c.want != "")
			}
			err := checkCAPITypes(wasm)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

// A shared memory, imported (wasm32-wasip1-threads) or exported, is read
// by checkCAPITypes without a refusal of its own, and refused at compile
// by sharedMemory, in one line that says which.
func TestSharedMemoryRefusedAtCompile(t *testing.T) {
	engine := NewEngine()
	for _, c := range []struct{ src, how string }{
		{`(module (import "env" "memory" (memory 1 2 shared)) (func (export "_start")))`, "imports"},
		{`(module (memory (export "memory") 1 2 shared) (func (export "_start")))`, "exports"},
	} {
		wasm := wat(t, c.src)
		if err := checkCAPITypes(wasm); err != nil {
			t.Errorf("%s: checkCAPITypes: %v", c.how, err)
		}
		if _, err := compileModuleBytes(engine, "m")(wasm); err == nil || !strings.Contains(err.Error(), c.how+errSharedMemory) {
			t.Errorf("compile: %v, want %q", err, c.how+errSharedMemory)
		}
	}
}

// checkCAPITypes reads untrusted bytes: no truncation or corruption of a
// module makes it panic or loop.
func TestCheckCAPITypesHostileBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, c := range capiCases {
		wasm := wat(t, c.src)
		for n := range len(wasm) {
			_ = checkCAPITypes(wasm[:n])
		}
		for range 2000 {
			b := append([]byte(nil), wasm...)
			for range 1 + rng.Intn(4) {
				i := len(wasmMagic) + rng.Intn(len(b)-len(wasmMagic))
				b[i] = byte(rng.Intn(256))
			}
			_ = checkCAPITypes(b)
		}
	}
}
