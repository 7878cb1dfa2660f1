package runtime

/*
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int runw_sig_wfd = -1;
static pid_t runw_sig_self;
static volatile sig_atomic_t runw_guest_running;

// runw_raised_here says the kernel raised the signal on one of the init's
// own calls: it sends SIGPIPE (a write to a pipe or socket whose reader
// has gone) and SIGXFSZ (a write or truncate past RLIMIT_FSIZE) to the
// calling thread with SI_USER and the caller's own pid.
static int runw_raised_here(const siginfo_t *si) {
	return si->si_code == SI_USER && si->si_pid == runw_sig_self;
}

// runw_pass_on hands a signal another process sent to Go, as one byte
// (its number) on a pipe.
static void runw_pass_on(int sig) {
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	(void)!write(runw_sig_wfd, &b, 1);
	errno = saved;
}

// runw_sigpipe drops the SIGPIPE the kernel raises on the init's write:
// the guest gets EPIPE.
static void runw_sigpipe(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	if (runw_raised_here(si)) return;
	runw_pass_on(sig);
}

// runw_sigxfsz ends the init with 128+SIGXFSZ at once when the kernel
// raises SIGXFSZ on a write made while the guest runs, before the write
// returns EFBIG to the guest: a native process is killed at that write.
// Before the guest runs, the init's own write gets EFBIG and the init
// reports it.
static void runw_sigxfsz(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	if (runw_raised_here(si)) {
		if (runw_guest_running) _exit(128 + SIGXFSZ);
		return;
	}
	runw_pass_on(sig);
}

static void runw_guest_runs(void) { runw_guest_running = 1; }

static int runw_install(int sig, void (*handler)(int, siginfo_t *, void *)) {
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	// SA_ONSTACK: a Go thread may be on a small goroutine stack; Go gives
	// each of its threads an alternate signal stack for this, and the
	// guest's thread has one of its own (wasi/stack.go).
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL) == 0 ? 0 : errno;
}

static int runw_kernel_signals_install(int wfd) {
	runw_sig_wfd = wfd;
	runw_sig_self = getpid();
	int rc = runw_install(SIGPIPE, runw_sigpipe);
	return rc != 0 ? rc : runw_install(SIGXFSZ, runw_sigxfsz);
}
*/
import "C"

import (
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// notifyKernelSignals delivers to sigs a SIGPIPE or SIGXFSZ sent to the
// init by another process (`runw kill ID PIPE`, `podman kill -s XFSZ`),
// which ends a native process that does not handle it, and handles the
// one the kernel raises on the init's own write as a native process's
// write would meet it:
//
//   - SIGPIPE, raised when the init writes for the guest to a pipe or
//     socket whose reader has gone, is ignored: the guest gets EPIPE, as
//     a native process that ignores SIGPIPE does, never a death by
//     signal. Before, the init ignored SIGPIPE altogether, and a stop by
//     PIPE was lost.
//   - SIGXFSZ, raised when a write (or truncate) for the guest passes
//     RLIMIT_FSIZE (podman --ulimit fsize=N), ends the init with 153
//     (128+SIGXFSZ) inside the signal handler, before that write returns:
//     a native process is killed by it at that write and never sees
//     EFBIG (runc: 153, every time), and a WASI guest cannot handle or
//     ignore a signal. Handed to the stop goroutine as other stop
//     signals are, the write returned EFBIG to the guest first, and a
//     guest that exited right after it ended 0. Before the guest runs
//     (guestRuns), the init's own write gets EFBIG and it reports that.
//
// Go's os/signal cannot tell the two kinds apart (it hands Notify no
// sender), so small C handlers do, by the sender's pid in the signal's
// siginfo. Children the init starts (the compile child) get the default
// actions back at exec.
func notifyKernelSignals(sigs chan<- os.Signal) error {
	fds := make([]int, 2)
	if err := unix.Pipe2(fds, unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("signal pipe: %w", err)
	}
	// Asked for through os/signal first: Go then unblocks them on the
	// thread where it keeps every other signal blocked.
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE, unix.SIGXFSZ)
	if rc := C.runw_kernel_signals_install(C.int(fds[1])); rc != 0 {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return fmt.Errorf("install the SIGPIPE and SIGXFSZ handlers: %w", unix.Errno(rc))
	}
	go func() {
		b := make([]byte, 1)
		for {
			n, err := unix.Read(fds[0], b)
			if err == unix.EINTR {
				continue
			}
			if n != 1 {
				return
			}
			sigs <- unix.Signal(b[0])
		}
	}()
	return nil
}

// guestRuns tells the SIGXFSZ handler that the guest runs from now on: a
// write past RLIMIT_FSIZE ends it.
func guestRuns() { C.runw_guest_runs() }
