package wasi

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/runw/runw/spec"
)

// The WASI-layer benchmark: the same module, in the same run, under runw's
// own preview1 host (what every container gets) and under wasmtime's
// built-in preview1 (kept here only as the baseline). `make bench` prints
// the ratio of the medians.

// heavyModule builds the wasiheavy guest once per run.
func heavyModule(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "wasiheavy.wasm")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = "../integration/testdata/wasiheavy"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("build the wasiheavy guest: %v\n%s", err, msg)
	}
	return out
}

// runBuiltin runs the module with wasmtime's built-in WASI and the same
// grant (rootfs at /), the way runw did before it had its own host.
func runBuiltin(b *testing.B, engine *wasmtime.Engine, module *wasmtime.Module, rootfs string) {
	wc := wasmtime.NewWasiConfig()
	wc.SetArgv([]string{"wasiheavy", "/"})
	if err := wc.PreopenDir(rootfs, "/", wasmtime.DIR_READ|wasmtime.DIR_WRITE, wasmtime.FILE_READ|wasmtime.FILE_WRITE); err != nil {
		b.Fatal(err)
	}
	store := wasmtime.NewStore(engine)
	store.SetWasi(wc)
	linker := wasmtime.NewLinker(engine)
	if err := linker.DefineWasi(); err != nil {
		b.Fatal(err)
	}
	inst, err := linker.Instantiate(store, module)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := inst.GetFunc(store, "_start").Call(store); err != nil {
		if werr, ok := err.(*wasmtime.Error); !ok {
			b.Fatal(err)
		} else if code, ok := werr.ExitStatus(); !ok || code != 0 {
			b.Fatal(err)
		}
	}
}

func BenchmarkWASILayer(b *testing.B) {
	wasm := heavyModule(b)
	engine := NewEngine()
	module, _, err := Compile(engine, wasm, spec.KindModule, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("runw", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rootfs := b.TempDir()
			g, err := prepareModule(engine, module, &Plan{Argv: []string{"wasiheavy", "/"}, Preopens: []Preopen{{HostPath: rootfs, GuestPath: "/"}}})
			if err != nil {
				b.Fatal(err)
			}
			if exit := g.Run(); exit.Code != 0 {
				b.Fatalf("guest exited %d: %s", exit.Code, exit.Trap)
			}
			g.Close()
		}
	})
	b.Run("wasmtime-builtin", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			runBuiltin(b, engine, module, b.TempDir())
		}
	})
}

// callLoop calls fd_fdstat_get 100,000 times: the cost of one host call,
// with almost no work inside it.
const callLoop = `(module
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $stat (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32)
    (loop $l
      (drop (call $stat (i32.const 1) (i32.const 64)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100000))))))`

// clockLoop calls clock_time_get 100,000 times: the call a Go guest makes
// most (its runtime's nanotime and walltime, about ten an HTTP request),
// which runw's trampoline answers in C.
const clockLoop = `(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $now (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32)
    (loop $l
      (drop (call $now (i32.const 1) (i64.const 1) (i32.const 64)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100000))))))`

// BenchmarkWASICall reports the cost of one preview1 call (ns/op divided
// by 100,000) under each layer.
func BenchmarkWASICall(b *testing.B) {
	benchmarkCallLoop(b, callLoop)
}

// BenchmarkWASIClock is BenchmarkWASICall for clock_time_get.
func BenchmarkWASIClock(b *testing.B) {
	benchmarkCallLoop(b, clockLoop)
}

func benchmarkCallLoop(b *testing.B, loop string) {
	engine := NewEngine()
	wasm, err := wasmtime.Wat2Wasm(loop)
	if err != nil {
		b.Fatal(err)
	}
	module, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("runw", func(b *testing.B) {
		rootfs := b.TempDir()
		for i := 0; i < b.N; i++ {
			g, err := prepareModule(engine, module, &Plan{Argv: []string{"loop"}, Preopens: []Preopen{{HostPath: rootfs, GuestPath: "/"}}})
			if err != nil {
				b.Fatal(err)
			}
			if exit := g.Run(); exit.Code != 0 {
				b.Fatalf("exit %d: %s", exit.Code, exit.Trap)
			}
			g.Close()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100000, "ns/call")
	})
	b.Run("wasmtime-builtin", func(b *testing.B) {
		rootfs := b.TempDir()
		for i := 0; i < b.N; i++ {
			runBuiltin(b, engine, module, rootfs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100000, "ns/call")
	})
}
