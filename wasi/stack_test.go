package wasi

import (
	"os"
	"strconv"
	"testing"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"golang.org/x/sys/unix"
)

// The guest thread's signal stack is runw's, in the thread's own stack,
// even after wasm ran on it: wasmtime (before v48) unmaps a sigaltstack it
// allocated in a thread-local destructor without disabling it, and a
// signal before Go's dropm then killed the init with a silent SIGSEGV.
func TestGuestThreadKeepsItsSignalStack(t *testing.T) {
	engine, module := emptyFuncModule(t)
	store := wasmtime.NewStore(engine)
	inst, err := wasmtime.NewInstance(store, module, nil)
	if err != nil {
		t.Fatal(err)
	}
	// stack_t on linux/amd64 and arm64.
	var st struct {
		sp    uintptr
		flags int32
		_     int32
		size  uintptr
	}
	var callErr, errno error
	if err := onGuestStack(func() {
		_, callErr = inst.GetFunc(store, "f").Call(store)
		if _, _, e := unix.RawSyscall(unix.SYS_SIGALTSTACK, 0, uintptr(unsafe.Pointer(&st)), 0); e != 0 {
			errno = e
		}
	}); err != nil {
		t.Fatal(err)
	}
	if callErr != nil || errno != nil {
		t.Fatalf("call: %v, sigaltstack: %v", callErr, errno)
	}
	const ssDisable = 2
	if st.flags&ssDisable != 0 || st.size != 1<<20 {
		t.Fatalf("guest thread's sigaltstack: flags %#x size %d, want runw's (1 MiB)", st.flags, st.size)
	}
}

// The attack on the window itself: guest threads start, run wasm and
// exit while every thread of the process is sent Go's preemption signal
// again and again. With a signal stack that wasmtime had unmapped but not
// disabled, one landing between its thread-local destructor and Go's
// dropm killed the whole process with SIGSEGV.
func TestGuestThreadExitUnderSignals(t *testing.T) {
	engine, module := emptyFuncModule(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		pid := unix.Getpid()
		for {
			select {
			case <-stop:
				return
			default:
			}
			tasks, _ := os.ReadDir("/proc/self/task")
			for _, task := range tasks {
				if tid, err := strconv.Atoi(task.Name()); err == nil {
					unix.Tgkill(pid, tid, unix.SIGURG)
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for i := 0; i < 2000; i++ {
		store := wasmtime.NewStore(engine)
		inst, err := wasmtime.NewInstance(store, module, nil)
		if err != nil {
			t.Fatal(err)
		}
		var callErr error
		if err := onGuestStack(func() { _, callErr = inst.GetFunc(store, "f").Call(store) }); err != nil || callErr != nil {
			t.Fatalf("run %d: %v %v", i, err, callErr)
		}
	}
}

// emptyFuncModule is a module exporting one empty function, f.
func emptyFuncModule(t *testing.T) (*wasmtime.Engine, *wasmtime.Module) {
	t.Helper()
	engine := NewEngine()
	wasm, err := wasmtime.Wat2Wasm(`(module (func (export "f")))`)
	if err != nil {
		t.Fatal(err)
	}
	module, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return engine, module
}
