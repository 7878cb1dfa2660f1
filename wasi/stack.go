package wasi

/*
// pthread_getattr_np is a GNU extension; cgo's _cgo_export.c includes
// system headers before this preamble, so a #define here is too late.
#cgo CFLAGS: -D_GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

extern void runwGuestThread(uintptr_t handle);

// RUNW_ALTSTACK is the guest thread's alternate signal stack: at least
// wasmtime's MIN_STACK_SIZE (256 KiB), so that wasmtime takes it as the
// thread's and allocates none of its own.
#define RUNW_ALTSTACK (1 << 20)

// runw_thread_main gives the thread its signal stack before any Go or
// wasmtime code runs on it: the lowest RUNW_ALTSTACK bytes of the
// thread's own stack, which the guest never reaches (its wasm stack is a
// quarter of the thread's, guestStack). Both runtimes then keep it:
// Go's minit adopts an enabled sigaltstack (and its dropm leaves it), and
// wasmtime's per-thread init one of MIN_STACK_SIZE or more. Without it,
// wasmtime (up to v47) maps its own and unmaps it in a thread-local
// destructor at thread exit without disabling it (fixed upstream in
// wasmtime#13903), before Go's pthread-key destructor (dropm) disables
// its own: a signal in between (Go's preemption signal SIGURG, sent to
// the thread while it ran Go code) finds the sigaltstack unmapped, and
// the kernel kills the process with a SIGSEGV that no handler sees.
// The memory stays mapped until the thread is gone: glibc frees or
// reuses a thread's stack only after the kernel has cleared its tid.
//
// The thread runs under the spec's seccomp filter, and glibc's
// pthread_getattr_np asks sched_getaffinity: a profile refusing either
// call leaves the thread wasmtime's signal stack, as before, rather than
// failing the guest.
static void own_signal_stack(void) {
	pthread_attr_t attr;
	void *lo;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
	int rc = pthread_attr_getstack(&attr, &lo, &size);
	pthread_attr_destroy(&attr);
	if (rc != 0 || size < 4 * RUNW_ALTSTACK) return;
	stack_t ss = { .ss_sp = lo, .ss_flags = 0, .ss_size = RUNW_ALTSTACK };
	sigaltstack(&ss, NULL);
}

static void *runw_thread_main(void *arg) {
	own_signal_stack();
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
			// exec) is about 10 threads, each counted as a pid (runtime's
			// minPids says the same).
			return fmt.Errorf("start the guest thread: %w (the container's or its pod's pids limit, or RLIMIT_NPROC, is reached: each runw process takes about 10)", syscall.Errno(rc))
		}
		return fmt.Errorf("start the guest thread: %w", syscall.Errno(rc))
	}
	<-done
	return nil
}
