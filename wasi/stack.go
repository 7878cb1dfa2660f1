package wasi

/*
#include <pthread.h>
#include <stdint.h>

extern void runwGuestThread(uintptr_t handle);

static void *runw_thread_main(void *arg) {
	runwGuestThread((uintptr_t)arg);
	return NULL;
}

// runw_start_on_stack starts the Go function behind handle on a new,
// detached thread with a stack of size bytes. The caller waits for it in
// Go (onGuestStack), not in pthread_join: a thread blocked in C keeps its
// Go processor in a system call, and with every processor busy so, Go's
// monitor hands them off to threads it wakes for nothing, thousands of
// times a second while a server's guest makes host calls.
static int runw_start_on_stack(uintptr_t handle, size_t size) {
	pthread_attr_t attr;
	pthread_t t;
	int rc = pthread_attr_init(&attr);
	if (rc != 0) return rc;
	rc = pthread_attr_setstacksize(&attr, size);
	if (rc == 0) rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (rc == 0) rc = pthread_create(&t, &attr, runw_thread_main, (void *)handle);
	pthread_attr_destroy(&attr);
	return rc;
}
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"syscall"
)

// MaxWasmStack is the deepest the guest's wasm stack may grow: 8 MiB, what
// Go's own wasip1 wrapper gives wasmtime (misc/wasm/go_wasip1_wasm_exec),
// so that deeply recursive guests (encoding/json's depth limit, globbing
// long patterns) run under runw as they do there.
const MaxWasmStack = 8 << 20

// guestStack is the native stack of the thread that runs the guest: wasm
// frames live on it, so it must hold MaxWasmStack and wasmtime's own
// frames with room to spare. Go's threads get the default 8 MiB, too
// little; the pages are only touched as the guest recurses.
const guestStack = 4 * MaxWasmStack

//export runwGuestThread
func runwGuestThread(handle C.uintptr_t) {
	cgo.Handle(handle).Value().(func())()
}

// onGuestStack runs f on a thread whose native stack holds the guest's,
// and waits for it.
func onGuestStack(f func()) error {
	done := make(chan struct{})
	h := cgo.NewHandle(func() {
		defer close(done)
		f()
	})
	defer h.Delete()
	if rc := C.runw_start_on_stack(C.uintptr_t(h), C.size_t(guestStack)); rc != 0 {
		if syscall.Errno(rc) == syscall.EAGAIN {
			// What a user can act on: each runw process (the init, every
			// exec) is about 8 threads, each counted as a pid.
			return fmt.Errorf("start the guest thread: %w (the container's pids limit, or RLIMIT_NPROC, is reached: each runw process takes about 8)", syscall.Errno(rc))
		}
		return fmt.Errorf("start the guest thread: %w", syscall.Errno(rc))
	}
	<-done
	return nil
}
