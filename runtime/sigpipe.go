package runtime

/*
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int runw_pipe_wfd = -1;
static pid_t runw_pipe_self;

// runw_sigpipe passes on a SIGPIPE that another process sent, as one byte
// on a pipe, and drops the one the kernel raises on the writing thread
// when the init writes to a pipe or socket whose reader has gone: the
// kernel sends that one with SI_USER and the writer's own pid.
static void runw_sigpipe(int sig, siginfo_t *si, void *uc) {
	(void)sig;
	(void)uc;
	if (si->si_code == SI_USER && si->si_pid == runw_pipe_self) return;
	int saved = errno;
	char b = 0;
	(void)!write(runw_pipe_wfd, &b, 1);
	errno = saved;
}

static int runw_sigpipe_install(int wfd) {
	runw_pipe_wfd = wfd;
	runw_pipe_self = getpid();
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = runw_sigpipe;
	// SA_ONSTACK: a Go thread may be on a small goroutine stack; Go gives
	// each of its threads an alternate signal stack for this, and the
	// guest's thread has one of its own (wasi/stack.go).
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGPIPE, &sa, NULL) == 0 ? 0 : errno;
}
*/
import "C"

import (
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// notifySIGPIPE delivers to sigs a SIGPIPE sent to the init by another
// process (`runw kill ID PIPE`, `podman kill -s PIPE`), which ends a
// native process that does not handle it, and ignores the SIGPIPE the
// kernel raises when the init writes for the guest to a pipe or socket
// whose reader has gone: the guest gets EPIPE instead, as a native process
// that ignores SIGPIPE does, never a death by signal. Go's os/signal
// cannot tell the two apart (it hands Notify no sender), so a small C
// handler does, by the sender's pid in the signal's siginfo.
//
// Before it, the init ignored SIGPIPE altogether, and a stop by PIPE was
// lost. Children the init starts (the compile child) get the default
// action back at exec, as under SIG_IGN they did not.
func notifySIGPIPE(sigs chan<- os.Signal) error {
	fds := make([]int, 2)
	if err := unix.Pipe2(fds, unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("SIGPIPE pipe: %w", err)
	}
	// Asked for through os/signal first: Go then unblocks it on the
	// thread where it keeps every other signal blocked.
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
	if rc := C.runw_sigpipe_install(C.int(fds[1])); rc != 0 {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return fmt.Errorf("install the SIGPIPE handler: %w", unix.Errno(rc))
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
			sigs <- unix.SIGPIPE
		}
	}()
	return nil
}
