package preview1

import (
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"golang.org/x/sys/unix"
)

// clockGuest exports get(id, ptr) and get_unstable(id, ptr), each one
// clock_time_get call through the trampoline, over one page of memory.
const clockGuest = `(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $get (param i32 i64 i32) (result i32)))
  (import "wasi_unstable" "clock_time_get" (func $getu (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "get") (param i32 i32) (result i32)
    (call $get (local.get 0) (i64.const 1) (local.get 1)))
  (func (export "get_unstable") (param i32 i32) (result i32)
    (call $getu (local.get 0) (i64.const 1) (local.get 1))))`

// clock_time_get as a guest calls it, through the linker and the
// trampoline, which answers a good call in C (clock_time_get_fast): each
// clock reads as the kernel's, at any alignment and up to the last byte of
// memory; an unknown clock is EINVAL, and a pointer whose 8 bytes leave
// the memory, or wrap at 4 GiB to its start, is EFAULT with nothing
// written.
func TestClockTimeGetThroughTheTrampoline(t *testing.T) {
	engine := wasmtime.NewEngine()
	wasm, err := wasmtime.Wat2Wasm(clockGuest)
	if err != nil {
		t.Fatal(err)
	}
	module, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Args: []string{"clock"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Stdio: [3]int{0, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	linker := wasmtime.NewLinker(engine)
	if err := h.Link(linker, module); err != nil {
		t.Fatal(err)
	}
	store := wasmtime.NewStore(engine)
	inst, err := linker.Instantiate(store, module)
	if err != nil {
		t.Fatal(err)
	}
	mem := inst.GetExport(store, "memory").Memory().UnsafeData(store)
	// The thread cputime read before and after a call must be of the
	// thread the call runs on.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	call := func(export string, id, ptr uint32) Errno {
		t.Helper()
		r, err := inst.GetFunc(store, export).Call(store, int32(id), int32(ptr))
		if err != nil {
			t.Fatalf("%s(%d, %#x): %v", export, id, ptr, err)
		}
		return Errno(r.(int32))
	}
	kernel := func(id int32) uint64 {
		var ts unix.Timespec
		if err := unix.ClockGettime(id, &ts); err != nil {
			t.Fatal(err)
		}
		return uint64(ts.Nano())
	}

	clocks := []struct {
		name string
		id   uint32
		unix int32
	}{
		{"realtime", clockRealtime, unix.CLOCK_REALTIME},
		{"monotonic", clockMonotonic, unix.CLOCK_MONOTONIC},
		{"process cputime", clockProcessCputimeID, unix.CLOCK_PROCESS_CPUTIME_ID},
		{"thread cputime", clockThreadCputimeID, unix.CLOCK_THREAD_CPUTIME_ID},
	}
	last := uint32(len(mem) - 8)
	for _, export := range []string{"get", "get_unstable"} {
		for _, c := range clocks {
			for _, ptr := range []uint32{64, 101, last} {
				clear(mem[ptr : ptr+8])
				before := kernel(c.unix)
				if e := call(export, c.id, ptr); e != 0 {
					t.Fatalf("%s %s at %#x: errno %d", export, c.name, ptr, e)
				}
				after := kernel(c.unix)
				got := binary.LittleEndian.Uint64(mem[ptr:])
				// The guest's thread cputime is the calling thread's,
				// which is this one (the call runs on it).
				if got < before || got > after {
					t.Errorf("%s %s at %#x: %d, not within the kernel's %d .. %d", export, c.name, ptr, got, before, after)
				}
			}
		}
	}
	if got := binary.LittleEndian.Uint64(mem[64:]); time.Since(time.Unix(0, int64(got))) < 0 {
		t.Errorf("realtime read %d, after now", got)
	}

	for _, id := range []uint32{4, 0x7fffffff, 0xffffffff} {
		if e := call("get", id, 64); e != ErrnoInval {
			t.Errorf("clock id %#x: errno %d, want EINVAL", id, e)
		}
	}

	// The attacks: a pointer whose 8 bytes cross the end of memory, one
	// past it, and ones whose end wraps in 32 bits to the memory's start.
	for i := range mem {
		mem[i] = 0xa5
	}
	for _, ptr := range []uint32{last + 1, last + 7, uint32(len(mem)), 0xfffffff8, 0xfffffffc, 0xffffffff} {
		if e := call("get", clockRealtime, ptr); e != ErrnoFault {
			t.Errorf("pointer %#x: errno %d, want EFAULT", ptr, e)
		}
	}
	for i, b := range mem {
		if b != 0xa5 {
			t.Fatalf("a call with a bad pointer wrote to address %#x", i)
		}
	}
}

// TestImportOfTheWrongTypeSaysSo: an import of a preview1 name with
// parameters runw's function does not take was left undefined, and
// instantiation said "unknown import: ... has not been defined", as if
// runw lacked proc_exit. It is refused as wasmtime refuses any import of
// the wrong type, naming the import and both types, whichever of two
// imports of one name comes first; one of the right type still links.
// Both shapes of a name runw chooses the shape of (sock_accept) are
// refused naming both, not with the linker's "define ... failed".
func TestImportOfTheWrongTypeSaysSo(t *testing.T) {
	const memory = `(memory (export "memory") 1) (func (export "_start"))`
	fdWrite := `(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))`
	fdWriteI64 := `(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i64) (result i32)))`
	for _, c := range []struct {
		name, imports, want string
	}{
		{"proc_exit of an i64", `(import "wasi_snapshot_preview1" "proc_exit" (func (param i64)))`,
			"incompatible import type for `wasi_snapshot_preview1::proc_exit`"},
		{"proc_exit of an f32", `(import "wasi_snapshot_preview1" "proc_exit" (func (param f32)))`,
			"incompatible import type for `wasi_snapshot_preview1::proc_exit`"},
		{"wasi_unstable's fd_seek of preview 1's shape", `(import "wasi_unstable" "fd_seek" (func (param i32 i64 i32 i32) (result i32)))`, ""},
		{"wasi_unstable's fd_seek of neither shape", `(import "wasi_unstable" "fd_seek" (func (param i32 i32 i32 i32 i32) (result i32)))`,
			"incompatible import type for `wasi_unstable::fd_seek`"},
		{"right then wrong", fdWrite + fdWriteI64, "incompatible import type for `wasi_snapshot_preview1::fd_write`"},
		{"wrong then right", fdWriteI64 + fdWrite, "incompatible import type for `wasi_snapshot_preview1::fd_write`"},
		{"twice right", fdWrite + fdWrite, ""},
		{"a name runw lacks", `(import "wasi_snapshot_preview1" "nope" (func (param i64)))`,
			"unknown import: `wasi_snapshot_preview1::nope` has not been defined"},
		{"both shapes of sock_accept", `(import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32) (result i32)))` +
			`(import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))`,
			"wasi_snapshot_preview1.sock_accept is imported in two shapes, (func (param i32 i32) (result i32)) and (func (param i32 i32 i32) (result i32))"},
	} {
		t.Run(c.name, func(t *testing.T) {
			engine := wasmtime.NewEngine()
			wasm, err := wasmtime.Wat2Wasm("(module " + c.imports + memory + ")")
			if err != nil {
				t.Fatal(err)
			}
			module, err := wasmtime.NewModule(engine, wasm)
			if err != nil {
				t.Fatal(err)
			}
			h, err := New(Config{Args: []string{"m"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Stdio: [3]int{0, 1, 2}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Close)
			linker := wasmtime.NewLinker(engine)
			err = h.Link(linker, module)
			if err == nil {
				_, err = linker.Instantiate(wasmtime.NewStore(engine), module)
			}
			switch {
			case c.want == "" && err != nil:
				t.Errorf("instantiate: %v, want it to link", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("instantiate: %v, want %q", err, c.want)
			case c.name == "proc_exit of an i64" && !strings.Contains(err.Error(), "expected type `(func (param i64))`, found type `(func (param i32))`"):
				t.Errorf("instantiate: %v, want the module's type, then runw's", err)
			}
		})
	}
}
