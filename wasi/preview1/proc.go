package preview1

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
)

func (h *Host) argsGet(m memory, a []arg) Errno {
	return putList(m, h.args, u32(a[0]), u32(a[1]))
}

func (h *Host) argsSizesGet(m memory, a []arg) Errno {
	return putSizes(m, h.args, u32(a[0]), u32(a[1]))
}

func (h *Host) environGet(m memory, a []arg) Errno {
	return putList(m, h.env, u32(a[0]), u32(a[1]))
}

func (h *Host) environSizesGet(m memory, a []arg) Errno {
	return putSizes(m, h.env, u32(a[0]), u32(a[1]))
}

// putList writes NUL-terminated strings to buf and their addresses to ptrs.
// Both arrays are checked whole before anything is written: ptrs+4*i, or
// buf plus the lengths so far, computed in 32 bits would wrap past 4 GiB
// to the start of memory, and the call would write there and report
// success.
func putList(m memory, list [][]byte, ptrs, buf uint32) Errno {
	if len(list) == 0 {
		return 0 // nothing written, as before: no pointer is looked at
	}
	size := 0
	for _, s := range list {
		size += len(s)
	}
	if size >= maxMemory || 4*len(list) >= maxMemory {
		return ErrnoFault
	}
	addrs, ok := m.slice(ptrs, uint32(4*len(list)))
	if !ok {
		return ErrnoFault
	}
	strs, ok := m.slice(buf, uint32(size))
	if !ok {
		return ErrnoFault
	}
	at := 0
	for i, s := range list {
		binary.LittleEndian.PutUint32(addrs[4*i:], buf+uint32(at))
		at += copy(strs[at:], s)
	}
	return 0
}

func putSizes(m memory, list [][]byte, countPtr, sizePtr uint32) Errno {
	size := 0
	for _, s := range list {
		size += len(s)
	}
	if !m.putU32(countPtr, uint32(len(list))) || !m.putU32(sizePtr, uint32(size)) {
		return ErrnoFault
	}
	return 0
}

// clockID maps a WASI clock to Linux's.
func clockID(id uint32) (int32, bool) {
	switch id {
	case clockRealtime:
		return unix.CLOCK_REALTIME, true
	case clockMonotonic:
		return unix.CLOCK_MONOTONIC, true
	case clockProcessCputimeID:
		return unix.CLOCK_PROCESS_CPUTIME_ID, true
	case clockThreadCputimeID:
		return unix.CLOCK_THREAD_CPUTIME_ID, true
	}
	return 0, false
}

func (h *Host) clockResGet(m memory, a []arg) Errno {
	id, ok := clockID(u32(a[0]))
	if !ok {
		return ErrnoInval
	}
	var ts unix.Timespec
	if err := unix.ClockGetres(id, &ts); err != nil {
		return toErrno(err)
	}
	if !m.putU64(u32(a[1]), uint64(ts.Nano())) {
		return ErrnoFault
	}
	return 0
}

// monoBase relates Go's monotonic clock (read through the vDSO, with no
// system call) to CLOCK_MONOTONIC's epoch, so that guests see the same
// values as a native process would. CLOCK_MONOTONIC is read first and
// Go's clock after, so that now(clockMonotonic) is never ahead of the
// clock the guest reads itself (clock_time_get's fast path reads
// CLOCK_MONOTONIC): read the other way round, it ran ahead by the gap
// between the two reads for the whole run, and poll_oneoff judged an
// absolute deadline a few microseconds away already past, ending the
// wait before the guest's clock reached it. Behind by the gap, a wait
// ends that much late, never early, as Linux's absolute sleeps.
var monoStart, monoBase = func() (time.Time, int64) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Now(), ts.Nano()
}()

// now reads a clock.
func now(id uint32) (uint64, Errno) {
	switch id {
	case clockRealtime:
		return uint64(time.Now().UnixNano()), 0
	case clockMonotonic:
		return uint64(monoBase + int64(time.Since(monoStart))), 0
	}
	cid, ok := clockID(id)
	if !ok {
		return 0, ErrnoInval
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(cid, &ts); err != nil {
		return 0, toErrno(err)
	}
	return uint64(ts.Nano()), 0
}

// clockTimeGet answers the calls the trampoline's clock_time_get_fast
// does not: an unknown clock (EINVAL) or a bad pointer (EFAULT), and
// every call made without the trampoline.
func (h *Host) clockTimeGet(m memory, a []arg) Errno {
	t, e := now(u32(a[0]))
	if e != 0 {
		return e
	}
	if !m.putU64(u32(a[2]), t) {
		return ErrnoFault
	}
	return 0
}

func (h *Host) procExit(m memory, a []arg) Errno {
	h.exitCode = a[0].I32()
	h.exited = true
	return errnoExit
}

// procRaise is not supported: preview1 has no signal delivery, and
// wasmtime and wasi-libc agree on ENOSYS.
func (h *Host) procRaise(m memory, a []arg) Errno { return ErrnoNosys }

// schedYield yields the thread. A guest that yields again and again with
// nothing between is waiting by spinning: Go's wasip1 runtime waits that
// way for a signal once the program calls signal.Notify (its notetsleepg:
// sched_yield, Gosched, again, a few microseconds a turn), and no signal
// ever comes (preview1 has none), so a Go service with a graceful-
// shutdown handler kept a core busy for the container's life. After
// spinYields yields each less than spinGap after the one before (but
// for a few later ones: a spinner is preempted too), with no other host
// call between (a guest that yields between pieces of work or of I/O is
// making progress, and keeps its pace), a yield waits, for a time that
// doubles from spinPauseMin to spinPause (ended at once by Stop): the
// loop costs a few percent of a core, and what the guest waits for in it
// (a timer) is at most spinPause late.
func (h *Host) schedYield(m memory, a []arg) Errno {
	now := time.Now()
	switch {
	case h.calls != h.yieldCalls+1:
		h.yields, h.slowYields = 0, 0
	case now.Sub(h.lastYield) < spinGap:
		h.yields++
		h.slowYields = 0
	default:
		// One late turn is a preempted spinner as often as a working
		// guest: a few in a row end the count.
		if h.slowYields++; h.slowYields >= spinSlowTurns {
			h.yields, h.slowYields = 0, 0
		}
	}
	h.yieldCalls = h.calls
	if h.yields < spinYields {
		_, _, _ = unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		h.lastYield = time.Now()
		return 0
	}
	pause := min(spinPauseMin<<min(h.yields-spinYields, 10), spinPause)
	fds := [1]unix.PollFd{{Fd: int32(h.stopFd), Events: unix.POLLIN}}
	ts := unix.NsecToTimespec(int64(pause))
	_, _ = unix.Ppoll(fds[:], &ts, nil)
	h.lastYield = time.Now()
	if h.stopped.Load() {
		return errnoStop
	}
	return 0
}

// A guest spins (schedYield) after spinYields yields, each less than
// spinGap after the one before, until spinSlowTurns in a row come later;
// each yield then waits spinPauseMin, doubling up to spinPause.
const (
	spinYields    = 1000
	spinGap       = 20 * time.Microsecond
	spinSlowTurns = 8
	spinPauseMin  = 10 * time.Microsecond
	spinPause     = time.Millisecond
)

// randomGet fills the buffer from the kernel's CSPRNG.
func (h *Host) randomGet(m memory, a []arg) Errno {
	buf, ok := m.slice(u32(a[0]), u32(a[1]))
	if !ok {
		return ErrnoFault
	}
	for len(buf) > 0 {
		n, err := unix.Getrandom(buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return toErrno(err)
		}
		buf = buf[n:]
	}
	return 0
}
