package runtime

/*
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int runw_sig_wfd = -1;
static pid_t runw_sig_self;
static volatile sig_atomic_t runw_guest_running;
// runw_as_pid1 says the guest stands where a native init would: pid 1 of
// its own pid namespace, with no engine's init in front of it.
static volatile sig_atomic_t runw_as_pid1;

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
// Not as pid 1 of its own pid namespace (runw_as_pid1): the kernel does
// not deliver a signal with the default action to such an init, and a
// native program there gets EFBIG and goes on (runc, as under podman and
// Kubernetes); so does the guest. Before the guest runs, the init's own
// write gets EFBIG and the init reports it.
static void runw_sigxfsz(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	if (runw_raised_here(si)) {
		if (runw_guest_running && !runw_as_pid1) _exit(128 + SIGXFSZ);
		return;
	}
	runw_pass_on(sig);
}

// runw_sigxcpu drops the SIGXCPU the kernel sends at RLIMIT_CPU's soft
// limit (si_code SI_KERNEL) to an init that is pid 1 of its own pid
// namespace (runw_as_pid1): the kernel never delivers a signal whose
// action is the default to a native init there, which runs on until the
// hard limit's SIGKILL (runc, a C program: 137 at the hard limit, where
// runw's init ended with 152 at the soft one). Elsewhere, and from any
// other sender (`kill -s XCPU`), it is a stop signal as before: a native
// C process is killed by it at the soft limit (152). No other process
// can forge the kernel's si_code (rt_sigqueueinfo refuses a positive one
// from any process but the receiver), and a forged one could only keep
// the guest running.
static void runw_sigxcpu(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	if (si->si_code == SI_KERNEL && runw_as_pid1) return;
	runw_pass_on(sig);
}

static void runw_guest_runs(void) { runw_guest_running = 1; }
static void runw_behind_init(void) { runw_as_pid1 = 0; }

// SYS_SECCOMP, the si_code of a SIGSYS from a filter's SCMP_ACT_TRAP (the
// kernel's uapi name; glibc does not define it).
#define RUNW_SYS_SECCOMP 1
#define RUNW_SYS_NAMES 1024

// runw_go_sigsys is Go's own SIGSYS handler, which runw_sigsys calls for
// every SIGSYS that is not a seccomp trap.
static struct sigaction runw_go_sigsys;
// runw_sys_names names the system calls the spec's profile traps, by
// number, for runw_sigsys's line (runw_sigsys_name).
static const char *runw_sys_names[RUNW_SYS_NAMES];

static char *runw_append(char *p, char *end, const char *s) {
	while (*s && p < end) *p++ = *s++;
	return p;
}

static char *runw_append_num(char *p, char *end, unsigned int n) {
	char d[12];
	int i = 0;
	do { d[i++] = '0' + n % 10; n /= 10; } while (n);
	while (i > 0 && p < end) *p++ = d[--i];
	return p;
}

// runw_sigsys ends the init by SIGSYS when a call is trapped by the
// spec's seccomp filter (SCMP_ACT_TRAP), as the kernel ends a native
// process that does not handle SIGSYS (runc: 159), after one line
// naming the call. Go's handler took the trap for a crash of its own and
// wrote every goroutine of the init into the container's log (some 224
// lines, exit 2). Any other SIGSYS (kill -s SYS) is Go's, as before: it
// delivers one sent by a process to the init's stop signals.
// It never returns into the trapped call, so what the profile refuses
// stays refused; and no other process can forge a seccomp trap to end the
// container this way: the kernel refuses a positive si_code
// (rt_sigqueueinfo) from any process but the receiver itself.
// Everything here is async-signal-safe: the line is built by hand.
static void runw_sigsys(int sig, siginfo_t *si, void *uc) {
	if (si->si_code != RUNW_SYS_SECCOMP) {
		if (runw_go_sigsys.sa_flags & SA_SIGINFO) {
			runw_go_sigsys.sa_sigaction(sig, si, uc);
		} else if (runw_go_sigsys.sa_handler != SIG_DFL && runw_go_sigsys.sa_handler != SIG_IGN) {
			runw_go_sigsys.sa_handler(sig);
		}
		return;
	}
	int saved = errno;
	char line[256], *p = line, *end = line + sizeof(line) - 1;
	unsigned int nr = (unsigned int)si->si_syscall;
	p = runw_append(p, end, "runw: system call ");
	if (nr < RUNW_SYS_NAMES && runw_sys_names[nr] != NULL) {
		p = runw_append(p, end, runw_sys_names[nr]);
		p = runw_append(p, end, " (");
		p = runw_append_num(p, end, nr);
		p = runw_append(p, end, ")");
	} else {
		p = runw_append_num(p, end, nr);
	}
	p = runw_append(p, end, " denied by the seccomp profile (SCMP_ACT_TRAP)\n");
	(void)!write(2, line, p - line);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGSYS, &dfl, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	raise(SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	// Not reached unless the signal could not be raised.
	errno = saved;
	_exit(128 + SIGSYS);
}

static void runw_sigsys_name(int nr, const char *name) {
	if (nr >= 0 && nr < RUNW_SYS_NAMES) runw_sys_names[nr] = name;
}

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
	runw_as_pid1 = runw_sig_self == 1;
	int rc = runw_install(SIGPIPE, runw_sigpipe);
	if (rc == 0) rc = runw_install(SIGXFSZ, runw_sigxfsz);
	if (rc == 0) rc = runw_install(SIGXCPU, runw_sigxcpu);
	if (rc != 0) return rc;
	// Every signal blocked while it runs, as under Go's own handler, which
	// it calls.
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = runw_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, &runw_go_sigsys) == 0 ? 0 : errno;
}
*/
import "C"

import (
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// notifyKernelSignals delivers to sigs a SIGPIPE, SIGXFSZ or SIGXCPU sent
// to the init by another process (`runw kill ID PIPE`, `podman kill -s
// XFSZ`), which ends a native process that does not handle it, and
// handles the one the kernel raises on the init's own write, or at its
// CPU limit, as a native process would meet it:
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
//     EFBIG (runc without a pid namespace: 153, every time), and a WASI
//     guest cannot handle or ignore a signal. Handed to the stop
//     goroutine as other stop signals are, the write returned EFBIG to
//     the guest first, and a guest that exited right after it ended 0.
//     As pid 1 of its own pid namespace (podman's, a pod's container)
//     the write returns EFBIG instead: the kernel gives such an init no
//     signal whose action is the default, and a native program there
//     gets EFBIG and goes on. Before the guest runs (guestRuns), the
//     init's own write gets EFBIG and it reports that.
//   - SIGXCPU, sent at RLIMIT_CPU's soft limit, stops the guest as
//     before (152), except as pid 1 of its own pid namespace, where it is
//     dropped as the kernel drops it for a native init, which the hard
//     limit's SIGKILL ends (137).
//
// Go's os/signal cannot tell the two kinds apart (it hands Notify no
// sender), so small C handlers do, by the signal's siginfo: the sender's
// pid (SIGPIPE, SIGXFSZ), or the kernel's own si_code (SIGXCPU).
// Children the init starts (the compile child) get the default actions
// back at exec.
//
// It also installs runw_sigsys, which ends the init by SIGSYS with one
// line when the spec's seccomp profile traps a call (SCMP_ACT_TRAP) and
// leaves every other SIGSYS to Go's handler, which delivers one sent by
// kill to sigs (the init's stop signals ask Go for SIGSYS).
func notifyKernelSignals(sigs chan<- os.Signal) error {
	fds := make([]int, 2)
	if err := unix.Pipe2(fds, unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("signal pipe: %w", err)
	}
	// The handlers' end never blocks: a flood of signals nobody reads
	// (sigs full, the pipe too) drops the rest, where it wedged the
	// thread the handler ran on; the first already stops the guest.
	if err := unix.SetNonblock(fds[1], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return fmt.Errorf("signal pipe: %w", err)
	}
	// Asked for through os/signal first: Go then unblocks them on the
	// thread where it keeps every other signal blocked.
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE, unix.SIGXFSZ, unix.SIGXCPU)
	if rc := C.runw_kernel_signals_install(C.int(fds[1])); rc != 0 {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return fmt.Errorf("install the SIGPIPE, SIGXFSZ, SIGXCPU and SIGSYS handlers: %w", unix.Errno(rc))
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

// behindEngineInit tells the SIGXFSZ and SIGXCPU handlers that the
// guest, though pid 1, stands where the program behind an engine's init
// would (Sandbox.BehindInit): a write past RLIMIT_FSIZE ends it, and so
// does RLIMIT_CPU's soft limit.
func behindEngineInit() { C.runw_behind_init() }

// sysNames bounds the system call numbers the SIGSYS handler can name.
const sysNames = C.RUNW_SYS_NAMES

// nameSyscall names system call nr in the SIGSYS handler's line. The name
// is copied to C memory that lives as long as the init.
func nameSyscall(nr int, name string) { C.runw_sigsys_name(C.int(nr), C.CString(name)) }
