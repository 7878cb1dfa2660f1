package runtime

/*
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// A step is one raw system call that every thread makes.
struct runw_step { long nr; long a[6]; };

static struct runw_step *runw_steps;
static int runw_nsteps;

// What a thread's credentials look like, to tell a thread that has taken
// the steps (or was cloned from one that had) from one that has not.
struct runw_creds {
	uint32_t caps[6];
	uint32_t ids[6];
	int ngroups;
	uint32_t groups_hash;
	uint64_t bounding, ambient;
	int nnp, keepcaps;
};

static struct runw_creds runw_target;
static int runw_lastcap;
// The bounding and ambient capabilities read per thread: only those the
// steps change (-1: none). Reading all of them costs two prctl calls a
// capability, about 80 system calls a thread, twice, under the handlers'
// lock: milliseconds on every container start. A thread took all the steps
// or none, so one changed bit of each set tells which.
static int runw_bound_probe = -1, runw_amb_probe = -1;
// runw_blind says the steps change nothing runw_creds shows: no_new_privs
// was already set (inherited from runw's caller) and the capabilities and
// ids stay, yet a step still matters (the Landlock ruleset). Credentials
// cannot tell a thread that took the steps then (it would skip them, and
// run the guest outside Landlock), so each thread marks the call it took
// them in (runw_taken, runw_call). A thread cloned from one that took them
// takes them again: with its credentials unchanged they succeed as they
// did, and Landlock only stacks the same ruleset once more.
static int runw_blind, runw_call;
static __thread int runw_taken;

// Handlers run one at a time (they share runw_groups): a spin lock, which
// is async-signal-safe where a mutex is not.
static atomic_flag runw_lock = ATOMIC_FLAG_INIT;
static uint32_t runw_groups[65536];

static void runw_acquire(void) {
	// Yield while waiting: the init has more threads than the machine
	// may have processors, and a handler spinning on a processor would
	// keep the holder (and the signalling thread) from running.
	while (atomic_flag_test_and_set(&runw_lock)) syscall(SYS_sched_yield);
}

static uint32_t runw_hash(const uint32_t *g, long n) {
	uint32_t h = 2166136261u;
	for (long i = 0; i < n; i++) h = (h ^ g[i]) * 16777619u;
	return h;
}
static int runw_handled_tids[4096];
static atomic_int runw_handled, runw_worked, runw_err, runw_err_step;

static void runw_read_creds(struct runw_creds *c) {
	memset(c, 0, sizeof(*c));
	struct { uint32_t version; int pid; } hdr = { 0x20080522, 0 };
	syscall(SYS_capget, &hdr, c->caps);
	syscall(SYS_getresuid, &c->ids[0], &c->ids[1], &c->ids[2]);
	syscall(SYS_getresgid, &c->ids[3], &c->ids[4], &c->ids[5]);
	long n = syscall(SYS_getgroups, 65536, runw_groups);
	c->ngroups = (int)n;
	c->groups_hash = runw_hash(runw_groups, n);
	c->nnp = (int)syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	c->keepcaps = (int)syscall(SYS_prctl, PR_GET_KEEPCAPS, 0, 0, 0, 0);
}

// runw_run_steps makes the calls in order and stops at the first failure:
// it returns 0, or the failed step's index + 1 with *err set to its errno.
// runw_read_caps reads the whole bounding and ambient sets.
static void runw_read_caps(uint64_t *bounding, uint64_t *ambient) {
	*bounding = *ambient = 0;
	for (int i = 0; i <= runw_lastcap && i < 64; i++) {
		if (syscall(SYS_prctl, PR_CAPBSET_READ, i, 0, 0, 0) == 1) *bounding |= 1ull << i;
		if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0) == 1) *ambient |= 1ull << i;
	}
}

// runw_read_probes fills the bits of the two sets the steps change.
static void runw_read_probes(struct runw_creds *c) {
	if (runw_bound_probe >= 0 && syscall(SYS_prctl, PR_CAPBSET_READ, runw_bound_probe, 0, 0, 0) == 1)
		c->bounding |= 1ull << runw_bound_probe;
	if (runw_amb_probe >= 0 && syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, runw_amb_probe, 0, 0) == 1)
		c->ambient |= 1ull << runw_amb_probe;
}

static int runw_run_steps(int *err) {
	for (int i = 0; i < runw_nsteps; i++) {
		struct runw_step *s = &runw_steps[i];
		if (syscall(s->nr, s->a[0], s->a[1], s->a[2], s->a[3], s->a[4], s->a[5]) < 0) {
			*err = errno;
			return i + 1;
		}
	}
	return 0;
}

static void runw_handler(int sig, siginfo_t *info, void *uc) {
	int saved = errno;
	runw_acquire();
	struct runw_creds now;
	runw_read_creds(&now);
	runw_read_probes(&now);
	if (runw_blind ? runw_taken != runw_call : memcmp(&now, &runw_target, sizeof(now)) != 0) {
		runw_taken = runw_call;
		int err = 0;
		int step = runw_run_steps(&err);
		runw_read_creds(&now);
		runw_read_probes(&now);
		if (step != 0) {
			atomic_store(&runw_err, err);
			atomic_store(&runw_err_step, step);
		} else if (memcmp(&now, &runw_target, sizeof(now)) != 0) {
			atomic_store(&runw_err, EAGAIN);
			atomic_store(&runw_err_step, -1);
		}
		atomic_fetch_add(&runw_worked, 1);
	}
	int n = atomic_load(&runw_handled);
	if (n < 4096) runw_handled_tids[n] = (int)syscall(SYS_gettid);
	atomic_store(&runw_handled, n + 1);
	atomic_flag_clear(&runw_lock);
	errno = saved;
}

// runw_self_steps takes the steps on the calling thread and records the
// credentials every other thread must end with. It returns as
// runw_run_steps does.
static int runw_self_steps(struct runw_step *steps, int n, int lastcap, int *err) {
	runw_steps = steps;
	runw_nsteps = n;
	runw_lastcap = lastcap;
	uint64_t bound0, amb0, bound1, amb1;
	struct runw_creds before;
	runw_read_creds(&before);
	runw_read_caps(&bound0, &amb0);
	int step = runw_run_steps(err);
	if (step != 0) return step;
	runw_taken = ++runw_call;
	runw_read_creds(&runw_target);
	runw_read_caps(&bound1, &amb1);
	runw_bound_probe = runw_amb_probe = -1;
	if (bound0 != bound1) {
		runw_bound_probe = __builtin_ctzll(bound0 ^ bound1);
		runw_target.bounding = bound1 & (1ull << runw_bound_probe);
	}
	if (amb0 != amb1) {
		runw_amb_probe = __builtin_ctzll(amb0 ^ amb1);
		runw_target.ambient = amb1 & (1ull << runw_amb_probe);
	}
	runw_blind = memcmp(&before, &runw_target, sizeof(before)) == 0;
	return 0;
}

static struct sigaction runw_old;

static int runw_install(int sig) {
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = runw_handler;
	// SA_ONSTACK: a Go thread may be on a small goroutine stack; Go gives
	// each of its threads an alternate signal stack for this.
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, &runw_old);
}

static void runw_restore(int sig) { sigaction(sig, &runw_old, NULL); }

static void runw_round_reset(void) {
	atomic_store(&runw_handled, 0);
	atomic_store(&runw_worked, 0);
}

static int runw_handled_count(void) { return atomic_load(&runw_handled); }
static int runw_handled_tid(int i) { return i < 4096 ? runw_handled_tids[i] : 0; }
static int runw_worked_count(void) { return atomic_load(&runw_worked); }
static int runw_error(int *step) { *step = atomic_load(&runw_err_step); return atomic_load(&runw_err); }
static int runw_signal(void) { return SIGRTMAX - 1; }
static int runw_tgkill(int pid, int tid, int sig) { return syscall(SYS_tgkill, pid, tid, sig) == 0 ? 0 : errno; }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// step is one raw system call that allThreads makes on every thread.
// Pointer arguments must point to C memory: the signal handlers read them
// after the Go call that built them has returned.
type step struct {
	nr   uintptr
	args [6]uintptr
	what string
}

// threadSignal is the signal that makes each thread take the steps. Go and
// wasmtime leave SIGRTMAX-1 alone; runw's handler replaces Go's only while
// allThreads runs.
var threadSignal = int(C.runw_signal())

// allThreads makes the steps on every thread of the init, in order.
//
// Credentials (uid, gid, groups, the capability sets, no_new_privs,
// keep-caps) belong to each thread, not to the process: capset(2) and
// prctl(2) change only the calling thread. The init is a Go program with
// cgo: a dozen Go threads, any of which may run the WASI host's goroutines,
// and the C thread that runs the guest. A capability dropped on one thread
// only would still be held by the others, and code that escaped the wasm
// sandbox could use it from any of them: this stops that. Go's
// syscall.AllThreadsSyscall refuses to work with cgo, and glibc broadcasts
// only set*id; so runw does what glibc and libcap's psx do: a signal to
// every thread in /proc/self/task, whose handler makes the same raw calls.
// A thread cloned meanwhile from one that had not yet changed is caught by
// the next round: rounds go on until one finds no thread left to change.
func allThreads(steps []step, lastCap int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if len(steps) == 0 {
		return nil
	}
	cs := (*C.struct_runw_step)(C.calloc(C.size_t(len(steps)), C.size_t(unsafe.Sizeof(C.struct_runw_step{}))))
	if cs == nil {
		return fmt.Errorf("out of memory")
	}
	defer C.free(unsafe.Pointer(cs))
	list := unsafe.Slice(cs, len(steps))
	for i, s := range steps {
		list[i].nr = C.long(s.nr)
		for j, a := range s.args {
			list[i].a[j] = C.long(a)
		}
	}
	var errno C.int
	if n := C.runw_self_steps(cs, C.int(len(steps)), C.int(lastCap), &errno); n != 0 {
		return fmt.Errorf("%s: %w", steps[n-1].what, unix.Errno(errno))
	}
	// Go keeps one thread with every signal blocked that os/signal has
	// not been asked for (its signal-mask thread): asking for this one
	// unblocks it there too.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.Signal(threadSignal))
	defer signal.Stop(sigs)
	if rc := C.runw_install(C.int(threadSignal)); rc != 0 {
		return fmt.Errorf("install the credentials signal handler: %w", unix.Errno(rc))
	}
	defer C.runw_restore(C.int(threadSignal))

	pid, self := os.Getpid(), unix.Gettid()
	// /proc/self/task names the threads by their ids in the pid namespace
	// of the /proc mounted there, which may be an ancestor's (the host's:
	// create's compile child runs in the container's pid namespace before
	// the init mounts the container's /proc). tgkill takes the caller's:
	// each thread's is the last of its NSpid. Taken as they were, every
	// signal missed as "gone meanwhile", and the round ended with every
	// other thread unchanged (the compile child's kept their capabilities
	// and entered no Landlock ruleset).
	link, err := os.Readlink("/proc/self")
	if err != nil {
		return err
	}
	ours := link == strconv.Itoa(pid)
	for round := 0; round < 100; round++ {
		C.runw_round_reset()
		sent := map[int]bool{}
		entries, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, e := range entries {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if !ours {
				if tid, err = nsTid(e.Name()); err == unix.ESRCH {
					continue // gone meanwhile
				} else if err != nil {
					return err
				}
			}
			if tid == self {
				continue
			}
			switch rc := C.runw_tgkill(C.int(pid), C.int(tid), C.int(threadSignal)); rc {
			case 0:
				sent[tid] = true
			case C.ESRCH: // gone meanwhile
			default:
				return fmt.Errorf("signal thread %d: %w", tid, unix.Errno(rc))
			}
		}
		if err := waitHandled(pid, sent); err != nil {
			return err
		}
		var at C.int
		if rc := C.runw_error(&at); rc != 0 {
			if at > 0 {
				return fmt.Errorf("%s on another thread: %w", steps[at-1].what, unix.Errno(rc))
			}
			return fmt.Errorf("a thread's credentials differ after the change")
		}
		if C.runw_worked_count() == 0 || noNewThreads(sent, self, ours) {
			return nil
		}
	}
	return fmt.Errorf("threads kept appearing with the old credentials")
}

// noNewThreads says every thread alive now was signalled in this round (or
// is the caller): a thread cloned during the round, before its parent
// changed, would be listed now and not be in sent. Then no further round
// is needed; threads cloned from here on inherit the changed credentials.
func noNewThreads(sent map[int]bool, self int, ours bool) bool {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return false
	}
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err == nil && !ours {
			tid, err = nsTid(e.Name())
		}
		if err != nil || (tid != self && !sent[tid]) {
			return false
		}
	}
	return true
}

// waitHandled waits until every thread signalled has run the handler or
// is gone (a thread that exits with the signal pending never runs it).
func waitHandled(pid int, sent map[int]bool) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := int(C.runw_handled_count())
		if n >= len(sent) {
			return nil
		}
		handled := map[int]bool{}
		for i := 0; i < n; i++ {
			handled[int(C.runw_handled_tid(C.int(i)))] = true
		}
		waiting := 0
		for tid := range sent {
			if handled[tid] {
				continue
			}
			// Alive, asked by the caller's own tid (signal 0): /proc
			// may be an ancestor pid namespace's, where the tid names
			// another thread or none, and a thread still to run its
			// handler was taken for gone; the round ended, the handler
			// was put back, and the thread kept its credentials.
			if C.runw_tgkill(C.int(pid), C.int(tid), 0) == 0 {
				waiting = tid
			}
		}
		if waiting == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("thread %d did not take the new credentials in 5s", waiting)
		}
		// A signalled thread runs its handler within microseconds;
		// nanosleep waits that long, where time.Sleep goes through Go's
		// timers and would round the wait up to about a millisecond, on
		// every container start.
		ts := unix.Timespec{Nsec: 20_000}
		_ = unix.Nanosleep(&ts, nil)
	}
}

// nsTid is the id of thread name (as /proc/self/task lists it, under a
// /proc of an ancestor pid namespace) in the caller's own pid namespace:
// the last of its NSpid. unix.ESRCH when the thread is gone.
func nsTid(name string) (int, error) {
	b, err := os.ReadFile("/proc/self/task/" + name + "/status")
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return 0, unix.ESRCH
	}
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if ids, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(ids)
			if len(f) > 0 {
				return strconv.Atoi(f[len(f)-1])
			}
		}
	}
	return 0, fmt.Errorf("thread %s: no NSpid in its status", name)
}
