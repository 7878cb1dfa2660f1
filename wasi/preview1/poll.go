package preview1

import (
	"encoding/binary"
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// maxSubscriptions bounds one poll_oneoff call, which costs the host up
// to SubscriptionCost bytes a subscription. Without it, a guest that
// grows its memory and never touches it (untouched pages cost it
// nothing, and read as zeros: a valid clock subscription) made the init
// allocate hundreds of megabytes in one call, past the container's
// memory limit: the OOM killer ended the container where the guest
// should have had an error. Linux's poll refuses more descriptors than
// RLIMIT_NOFILE with EINVAL; this is podman's and containerd's default
// RLIMIT_NOFILE, so a server waiting on every descriptor it may hold is
// never refused. Under a memory limit the bound is lower
// (Config.MaxSubscriptions): 2^20 subscriptions cost up to 112 MiB, more
// than the init keeps beside a capped linear memory.
const maxSubscriptions = 1 << 20

// SubscriptionCost is the most one subscription costs the host during a
// poll_oneoff call: an fdSub and a PollFd (56 bytes), doubled for the
// room append leaves while the lists grow.
const SubscriptionCost = 112

// keptSubscriptions is the most subscriptions whose lists are always kept
// for the next call (an event loop's); beyond, only as many as the
// guest's descriptors could need.
const keptSubscriptions = 4096

// pollScratch is pollOneoff's reused lists, and unstable the preview 0
// call's copy of its subscriptions and events in preview 1's layout.
type pollScratch struct {
	clocks   []clockSub
	fds      []fdSub
	pfds     []unix.PollFd
	unstable memory
	// merged and at are ppollOnce's: one entry per host descriptor, and
	// each descriptor's place in it (by number, -1 for none).
	merged []unix.PollFd
	at     []int32
}

// keepPollScratch says whether the lists a call of nsubs subscriptions
// grew stay for the next call. A server's event loop keeps its lists,
// however many connections it waits on: they are the size of a wait on
// every descriptor it holds (read and write). Larger lists are left to
// the collector, so that one call of a million subscriptions does not
// hold 112 MiB for the rest of the run; but under a memory limit they
// stay, as they fit the init's reserve by maxSubs: a guest repeating a
// call of 18,000 subscriptions under a 64 MiB limit made a megabyte of
// garbage a call, and the collector, which knows no limit, let the init
// pass it and be killed (137) where the guest should have gone on.
//
// A memory limit is what set maxSubs below the host's own bound (a
// quarter of a reserve of at most 32 MiB: 74,898 subscriptions).
func (h *Host) keepPollScratch(nsubs uint32) bool {
	return h.maxSubs < maxSubscriptions || nsubs <= keptSubscriptions || int(nsubs) <= 2*len(h.fds.fds)+64
}

type clockSub struct {
	userdata uint64
	rel      int64
	errno    Errno
}

type fdSub struct {
	userdata uint64
	tag      uint8
	poll     int // index in pfds, -1 when ready at once
	entry    *fdEntry
	errno    Errno
	nbytes   uint64
}

// pollOneoff waits for the first of the subscriptions: clocks (relative or
// absolute), and readiness of descriptors. Descriptors that never block
// (regular files, directories) are ready at once, as on Linux. It is
// level-triggered, as Go's netpoller and mio expect, and it always waits
// on the stop descriptor too: a stop signal ends a sleeping or waiting
// guest at once.
func (h *Host) pollOneoff(m memory, a []arg) Errno {
	in, out, nsubs, neventsPtr := u32(a[0]), u32(a[1]), u32(a[2]), u32(a[3])
	if nsubs == 0 || nsubs > h.maxSubs {
		return ErrnoInval
	}
	if uint64(nsubs)*subscriptionSize > uint64(len(m)) {
		return ErrnoFault
	}
	subs, ok := m.slice(in, nsubs*subscriptionSize)
	if !ok {
		return ErrnoFault
	}
	events, ok := m.slice(out, nsubs*eventSize)
	if !ok {
		return ErrnoFault
	}
	// Read everything first: events may overlap the subscriptions. The
	// lists are the host's scratch, reused: a server's event loop calls
	// this for every wait, and garbage here would keep the init's
	// collector (and the threads it wakes) busy.
	q := pollRequest{clocks: h.poll.clocks[:0], fds: h.poll.fds[:0], pfds: h.poll.pfds[:0], minRel: math.MaxInt64}
	defer func() {
		if !h.keepPollScratch(nsubs) {
			q = pollRequest{}
		}
		h.poll.clocks, h.poll.fds, h.poll.pfds = q.clocks, q.fds, q.pfds
	}()
	if errno := h.readSubscriptions(&q, subs, nsubs); errno != 0 {
		return errno
	}
	stop := len(q.pfds)
	q.pfds = append(q.pfds, unix.PollFd{Fd: int32(h.stopFd), Events: unix.POLLIN})
	start := time.Now()
	if errno := h.pollWait(&q, start); errno != 0 {
		return errno
	}
	if q.pfds[stop].Revents != 0 {
		return errnoStop
	}
	h.polls++
	h.lastPoll = time.Now()
	n := answer(&q, events, start)
	if !m.putU32(neventsPtr, n) {
		return ErrnoFault
	}
	return 0
}

// pollRequest is one poll_oneoff call's subscriptions as the host waits
// on them: the clocks, the descriptors (those that never block ready at
// once, the rest with their entry in pfds), the nearest clock's timeout,
// and whether anything is ready without a wait.
type pollRequest struct {
	clocks    []clockSub
	fds       []fdSub
	pfds      []unix.PollFd
	minRel    int64
	immediate bool
}

// readSubscriptions reads nsubs subscriptions into q. A descriptor that
// is not open, or a directory, fails the whole call.
func (h *Host) readSubscriptions(q *pollRequest, subs memory, nsubs uint32) Errno {
	for i := uint32(0); i < nsubs; i++ {
		s := subs[i*subscriptionSize:]
		userdata, tag := binary.LittleEndian.Uint64(s), s[8]
		switch tag {
		case eventClock:
			id := binary.LittleEndian.Uint32(s[16:])
			timeout := binary.LittleEndian.Uint64(s[24:])
			flags := binary.LittleEndian.Uint16(s[40:])
			c := clockSub{userdata: userdata}
			if flags&subclockAbstime != 0 {
				t, errno := now(id)
				if errno != 0 {
					c.errno = errno
				} else if timeout > t {
					c.rel = clampNs(timeout - t)
				}
			} else if _, ok := clockID(id); !ok {
				c.errno = ErrnoInval
			} else {
				c.rel = clampNs(timeout)
			}
			if c.errno != 0 || c.rel == 0 {
				q.immediate = true
			}
			q.minRel = min(q.minRel, c.rel)
			q.clocks = append(q.clocks, c)
		case eventFdRead, eventFdWrite:
			f := fdSub{userdata: userdata, tag: tag, poll: -1}
			e, errno := h.fds.get(int32(binary.LittleEndian.Uint32(s[16:])))
			if errno == 0 && e.kind == kindDir {
				errno = ErrnoBadf
			}
			if errno != 0 {
				// A descriptor that is not open, or a directory, fails
				// the whole call (EBADF) as under wasmtime, whose test
				// programs require it, rather than its one event.
				return errno
			}
			switch {
			case e.pollable:
				// A peer's FIN makes a socket readable (a read gives
				// 0); HANGUP waits for POLLHUP, both directions shut.
				events := int16(unix.POLLIN)
				if tag == eventFdWrite {
					events = unix.POLLOUT
				}
				f.poll, f.entry = len(q.pfds), e
				q.pfds = append(q.pfds, unix.PollFd{Fd: int32(e.hostFd), Events: events})
				q.fds = append(q.fds, f)
				continue
			case tag == eventFdRead && (e.kind == kindFile || e.filetype == filetypeRegularFile):
				// A file, or stdio redirected from one (run < in.txt):
				// what a read could return now.
				f.nbytes = remaining(e.hostFd)
			}
			q.immediate = true
			q.fds = append(q.fds, f)
		default:
			return ErrnoInval
		}
	}

	return 0
}

// pollWait waits for q's descriptors (and the stop descriptor, the last of
// q.pfds) or its nearest clock, through the host's epoll set where it
// serves, else ppoll. A signal's interruption waits again for what is
// left of the timeout.
func (h *Host) pollWait(q *pollRequest, start time.Time) Errno {
	for {
		if h.stopped.Load() {
			return errnoStop
		}
		var ts *unix.Timespec
		switch {
		case q.immediate:
			ts = &unix.Timespec{}
		case q.minRel != math.MaxInt64:
			left := q.minRel - int64(time.Since(start))
			if left < 0 {
				left = 0
			}
			t := unix.NsecToTimespec(left)
			ts = &t
		}
		var err error
		again := false
		epoll := h.ep.usable(h.stopFd)
		if epoll {
			again, err = h.ep.poll(q.pfds, ts)
		}
		if !epoll || err == errUsePoll {
			err = h.poll.ppollOnce(q.pfds, ts)
		}
		if err == unix.EINTR || (err == nil && again) {
			continue
		}
		if err != nil {
			return toErrno(err)
		}
		return 0
	}
}

// answer writes the events of q's subscriptions that are ready into
// events and returns how many.
func answer(q *pollRequest, events memory, start time.Time) uint32 {
	n := uint32(0)
	put := func(userdata uint64, errno Errno, typ uint8, nbytes uint64, flags uint16) {
		ev := events[n*eventSize : (n+1)*eventSize]
		clear(ev)
		binary.LittleEndian.PutUint64(ev, userdata)
		binary.LittleEndian.PutUint16(ev[8:], uint16(errno))
		ev[10] = typ
		binary.LittleEndian.PutUint64(ev[16:], nbytes)
		binary.LittleEndian.PutUint16(ev[24:], flags)
		n++
	}
	for _, f := range q.fds {
		if f.poll < 0 {
			put(f.userdata, f.errno, f.tag, f.nbytes, 0)
			continue
		}
		re := q.pfds[f.poll].Revents
		if re == 0 {
			continue
		}
		var flags uint16
		var errno Errno
		var nbytes uint64
		// POLLERR (a reset or refused connection, an ICMP error on UDP,
		// a pipe with no reader) is readiness, as Linux's poll means
		// it, with no error: the guest's next read, write or
		// getsockopt(SO_ERROR) gives the real one. WasmEdge sets none
		// either. mio's WASI selector (under every tokio guest) fails
		// its whole poll on any event's error, and tokio then panics
		// ("unexpected error when polling the I/O driver"): a server
		// died at its first client's reset, as under wasmtime's
		// wasi-common, which sets EIO (tokio issue 5238).
		if re&unix.POLLNVAL != 0 {
			errno = ErrnoBadf
		}
		// HANGUP is POLLHUP only, never a half-close: WasmEdge sets it
		// on EPOLLHUP alone (lib/host/wasi/inode-linux.cpp,
		// Poller::wait), wasi-libc's poll() turns it into POLLHUP, and
		// the mio forks under WasmEdge's tokio (second-state/wasi_mio,
		// src/sys/wasi) drop a descriptor that reports POLLHUP from
		// their poll set: a HANGUP on a FIN would leave a server with a
		// response still to write waiting forever.
		if re&unix.POLLHUP != 0 {
			flags = eventHangup
		}
		if f.tag == eventFdRead && errno == 0 {
			if v, err := unix.IoctlGetInt(int(q.pfds[f.poll].Fd), unix.TIOCINQ); err == nil && v > 0 {
				nbytes = uint64(v)
			}
		}
		if errno == 0 {
			// The guest was told it can read (or write): its next read
			// (or write) must not be a turn to poll (pollTurn).
			f.entry.owed[turnIndex(f.tag == eventFdWrite)] = true
		}
		put(f.userdata, errno, f.tag, nbytes, flags)
	}
	elapsed := int64(time.Since(start))
	for _, c := range q.clocks {
		if c.errno != 0 || c.rel <= elapsed || (n == 0 && c.rel == q.minRel) {
			put(c.userdata, c.errno, eventClock, 0, 0)
		}
	}
	return n
}

// ppollOnce is poll(2) over pfds with one entry for each descriptor:
// Linux refuses more entries than RLIMIT_NOFILE (EINVAL), and an event
// loop names each socket twice (read and write), so a guest holding more
// than half its limit in sockets failed every wait where epoll could not
// serve. Each of pfds gets back the events it asked for, and the errors
// and hang-ups, as the epoll set reports them.
func (sc *pollScratch) ppollOnce(pfds []unix.PollFd, ts *unix.Timespec) error {
	m := sc.merged[:0]
	for _, p := range pfds {
		// Host descriptors' numbers are below RLIMIT_NOFILE: at is as
		// long as the highest one named, and every entry is -1 again
		// when the call ends.
		for int(p.Fd) >= len(sc.at) {
			sc.at = append(sc.at, -1)
		}
		if i := sc.at[p.Fd]; i >= 0 {
			m[i].Events |= p.Events
			continue
		}
		sc.at[p.Fd] = int32(len(m))
		m = append(m, unix.PollFd{Fd: p.Fd, Events: p.Events})
	}
	sc.merged = m
	var err error
	if len(m) == len(pfds) {
		_, err = unix.Ppoll(pfds, ts, nil)
	} else {
		_, err = unix.Ppoll(m, ts, nil)
		for i := range pfds {
			re := m[sc.at[pfds[i].Fd]].Revents
			pfds[i].Revents = re & (pfds[i].Events | unix.POLLERR | unix.POLLHUP | unix.POLLNVAL)
		}
	}
	for _, p := range m {
		sc.at[p.Fd] = -1
	}
	return err
}

func clampNs(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64 - 1
	}
	return int64(v)
}

// remaining is what a read of a regular file could return now.
func remaining(fd int) uint64 {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0
	}
	pos, err := unix.Seek(fd, 0, unix.SEEK_CUR)
	if err != nil || pos >= st.Size {
		return 0
	}
	return uint64(st.Size - pos)
}

// pollEvery is how long a guest may go without polling before a read or
// write of a busy socket gives it a turn to: Go's own sysmon polls the network when
// 10 ms passed without a poll (runtime/proc.go), and a wasip1 guest has
// no sysmon.
const pollEvery = 10 * time.Millisecond

// pollTurn says whether a read or write of the non-blocking socket e
// should give EAGAIN although it could go ahead, so that the guest polls.
//
// Go's wasip1 runtime calls poll_oneoff only when it has no goroutine to
// run (or when a collection restarts the world). Under load a few
// connections whose requests are always waiting by the time their
// goroutines read again can keep the run queue from emptying, and every
// other connection, parked on the poller, waits until they pause: all of
// them stalled for 100-200 ms at a time (measured with 32 keep-alive
// clients on the hello server). Writers do the same: with 50 clients
// downloading 10 MB each, whose writes always found room, a request on
// another connection (or a new connection's accept) waited up to 2-3.7 s,
// where the native server (GOMAXPROCS=1) took at most 0.5-1 s. An EAGAIN
// parks the goroutine on the poller instead; once those that were
// running have parked, the guest polls and every ready connection is
// served in turn (the same download load: at most 0.05 s, for 7% less
// download throughput; the hello benchmark did not move).
//
// Bounds, so that no guest is ever stuck: a socket yields at most once
// between two poll_oneoff calls, and the read or write after a yield is
// always served (a guest that retries without polling loses one call);
// a read or write after a poll reported the socket ready is always
// served, however long the guest took to get to it, so an event loop
// that polls, works and then reads never sees EAGAIN for data it was
// told about. A socket the guest left blocking never yields, nor do
// sock_recv and sock_send. A Go guest whose run queue never empties (a
// CPU-bound goroutine calling Gosched) still waits for its next
// collection to poll, as every parked connection of it did before.
func (h *Host) pollTurn(e *fdEntry, write bool) bool {
	if e.kind != kindSocket || e.flags&fdflagNonblock == 0 {
		return false
	}
	d := turnIndex(write)
	if e.owed[d] {
		e.owed[d] = false
		return false
	}
	if e.yielded == h.polls+1 || time.Since(h.lastPoll) < pollEvery {
		return false
	}
	e.yielded, e.owed[d] = h.polls+1, true
	return true
}

// turnIndex is fdEntry.owed's index for a read or a write.
func turnIndex(write bool) int {
	if write {
		return 1
	}
	return 0
}
