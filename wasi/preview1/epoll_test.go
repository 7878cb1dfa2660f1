package preview1

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// pollSubs writes subscriptions at 1000 (fd_read or fd_write of each fd,
// tag in tags, userdata its index; a relative clock of timeout, userdata
// 99, when timeout >= 0), runs poll_oneoff with events at 20000, and
// returns the events as userdata -> event type.
func (g *sockGuest) pollSubs(fds []int32, tags []uint8, timeout time.Duration) map[uint64]uint8 {
	g.t.Helper()
	n := uint32(0)
	sub := func() []byte {
		s := g.mem[1000+n*subscriptionSize : 1000+(n+1)*subscriptionSize]
		clear(s)
		n++
		return s
	}
	for i, fd := range fds {
		s := sub()
		binary.LittleEndian.PutUint64(s, uint64(i))
		s[8] = tags[i]
		binary.LittleEndian.PutUint32(s[16:], uint32(fd))
	}
	if timeout >= 0 {
		s := sub()
		binary.LittleEndian.PutUint64(s, 99)
		s[8] = eventClock
		binary.LittleEndian.PutUint64(s[24:], uint64(timeout))
	}
	if errno := g.call("poll_oneoff", "iiii", 1000, 20000, n, 3000); errno != 0 {
		g.t.Fatalf("poll_oneoff: errno %d", errno)
	}
	got := map[uint64]uint8{}
	for i := uint32(0); i < g.get32(3000); i++ {
		ev := g.mem[20000+i*eventSize:]
		got[binary.LittleEndian.Uint64(ev)] = ev[10]
	}
	return got
}

// The epoll set outlives each poll_oneoff, so each of its shortcuts is a
// way to get a wait wrong: a descriptor number reused after a close must
// not inherit the old socket's registration (a guest would wait for ever
// on a ready socket, or be woken for one it never named), a descriptor
// left in the set but not named must neither end a wait nor make it spin,
// and two subscriptions of one descriptor must each see their own
// direction.
func TestPollSetFollowsTheGuest(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	if !g.h.ep.usable(g.h.stopFd) {
		t.Skip("no epoll_pwait2 here: poll(2) serves every wait")
	}
	a, peerA := loopPair(t, g, fdflagNonblock)
	b, peerB := loopPair(t, g, fdflagNonblock)
	r := []uint8{eventFdRead, eventFdRead}

	// Nothing to read: the clock ends the wait.
	if got := g.pollSubs([]int32{a, b}, r, time.Millisecond); len(got) != 1 || got[99] != eventClock {
		t.Fatalf("idle sockets: events %v, want the clock alone", got)
	}
	// a is ready but no longer named: a wait on b alone must last its
	// whole timeout and report the clock, not return early or empty.
	peerA.Write([]byte("x"))
	time.Sleep(10 * time.Millisecond)
	start := time.Now()
	if got := g.pollSubs([]int32{b}, r, 50*time.Millisecond); len(got) != 1 || got[99] != eventClock {
		t.Fatalf("a ready socket not named: events %v, want the clock alone", got)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("the wait on b ended after %v, before its 50 ms", d)
	}
	// Named again, a is reported.
	if got := g.pollSubs([]int32{a, b}, r, -1); len(got) != 1 || got[0] != eventFdRead {
		t.Fatalf("a named again: events %v, want a readable", got)
	}

	// Close b, and open sockets until one takes b's host descriptor
	// number: the new socket is idle, then readable once written to.
	eb, _ := g.h.fds.get(b)
	hostB := eb.hostFd
	if errno := g.call("fd_close", "i", uint32(b)); errno != 0 {
		t.Fatal(errno)
	}
	peerB.Close()
	var c int32
	var peerC net.Conn
	for i := 0; ; i++ {
		c, peerC = loopPair(t, g, fdflagNonblock)
		if e, _ := g.h.fds.get(c); e.hostFd == hostB {
			break
		}
		if i > 8 {
			t.Skip("no new socket took the closed one's number")
		}
	}
	if got := g.pollSubs([]int32{c}, r, time.Millisecond); len(got) != 1 || got[99] != eventClock {
		t.Fatalf("a new socket on a reused number: events %v, want the clock alone", got)
	}
	peerC.Write([]byte("y"))
	if got := g.pollSubs([]int32{c}, r, -1); len(got) != 1 || got[0] != eventFdRead {
		t.Fatalf("the new socket written to: events %v, want it readable", got)
	}

	// Read and write of one descriptor: an idle socket with room to
	// write is writable only; with data, both.
	g.put32(500, 600)
	g.put32(504, 16)
	g.call("fd_read", "iiii", uint32(c), 500, 1, 700)
	if got := g.pollSubs([]int32{c, c}, []uint8{eventFdRead, eventFdWrite}, -1); len(got) != 1 || got[1] != eventFdWrite {
		t.Fatalf("read and write of an idle socket: events %v, want write alone", got)
	}
	peerC.Write([]byte("z"))
	time.Sleep(10 * time.Millisecond)
	if got := g.pollSubs([]int32{c, c}, []uint8{eventFdRead, eventFdWrite}, -1); len(got) != 2 {
		t.Fatalf("read and write of a socket with data: events %v, want both", got)
	}
}

// TestPollUnderAProfileWithoutEpollPwait2: a container's seccomp profile
// may refuse epoll_pwait2 with EPERM (profiles older than the call, or
// allowlists naming epoll_pwait only), and the guest's first poll_oneoff
// comes after the profile is loaded. poll(2) must then serve every wait;
// a wait that failed with the refusal broke every sleep of every guest.
func TestPollUnderAProfileWithoutEpollPwait2(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The filter is this thread's alone, and the thread ends with
		// the goroutine (it is never unlocked).
		runtime.LockOSThread()
		f, err := libseccomp.NewFilter(libseccomp.ActAllow)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Release()
		call, err := libseccomp.GetSyscallFromName("epoll_pwait2")
		if err != nil {
			t.Error(err)
			return
		}
		if err := f.AddRule(call, libseccomp.ActErrno.SetReturnCode(int16(unix.EPERM))); err != nil {
			t.Error(err)
			return
		}
		if err := f.Load(); err != nil {
			t.Errorf("load the filter: %v", err)
			return
		}
		g := newSockGuest(t, "127.0.0.1", "")
		fd, peer := loopPair(t, g, fdflagNonblock)
		start := time.Now()
		if got := g.pollSubs(nil, nil, 20*time.Millisecond); len(got) != 1 || got[99] != eventClock {
			t.Errorf("a sleep under the profile: events %v, want the clock", got)
		}
		if d := time.Since(start); d < 15*time.Millisecond {
			t.Errorf("a sleep of 20 ms ended after %v", d)
		}
		peer.Write([]byte("x"))
		if got := g.pollSubs([]int32{fd}, []uint8{eventFdRead}, -1); got[0] != eventFdRead {
			t.Errorf("a socket with data under the profile: events %v, want it readable", got)
		}
	}()
	<-done
}

// TestPollUnpollableDevice: /dev/null has no poll of its own, and poll(2)
// reports it always ready; epoll refuses it, and the wait must report it
// ready at once as poll(2) does, never block on it.
func TestPollUnpollableDevice(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	fd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skip(err)
	}
	n, errno := g.h.fds.add(&fdEntry{kind: kindFile, hostFd: fd, ownsHost: true, pollable: true, read: true, write: true, filetype: filetypeCharacterDevice})
	if errno != 0 {
		t.Fatal(errno)
	}
	start := time.Now()
	if got := g.pollSubs([]int32{n}, []uint8{eventFdRead}, 5*time.Second); got[0] != eventFdRead {
		t.Fatalf("/dev/null: events %v, want it readable", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the wait on /dev/null took %v", d)
	}
}

// BenchmarkPollManyIdle: one poll_oneoff naming n idle sockets and one
// ready one, as Go's netpoller names every parked connection in each
// call, served from the kept epoll set and by poll(2). Compare the two
// in one run: poll(2) costs in proportion to n, the set to what is ready.
func BenchmarkPollManyIdle(b *testing.B) {
	for _, n := range []int{32, 1000} {
		for _, mode := range []string{"epoll", "poll"} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				g := newGuest(b, []Mount{{Guest: "/", Host: b.TempDir()}}, []string{"/"})
				mem := make(memory, 1<<20)
				if mode == "poll" {
					g.h.ep.ep = -1
				} else if !g.h.ep.usable(g.h.stopFd) {
					b.Skip("no epoll_pwait2 here")
				}
				var fds []int32
				for i := 0; i <= n; i++ {
					pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { unix.Close(pair[1]) })
					fd, errno := g.h.fds.add(&fdEntry{kind: kindSocket, hostFd: pair[0], ownsHost: true, pollable: true, hostNonblock: true, read: true, write: true, filetype: filetypeSocketStream})
					if errno != 0 {
						b.Fatal(errno)
					}
					if i == n {
						unix.Write(pair[1], []byte("x"))
					}
					fds = append(fds, fd)
				}
				for i, fd := range fds {
					s := mem[i*subscriptionSize:]
					binary.LittleEndian.PutUint64(s, uint64(i))
					s[8] = eventFdRead
					binary.LittleEndian.PutUint32(s[16:], uint32(fd))
				}
				out := uint32(len(fds) * subscriptionSize)
				args := []arg{{lo: 0}, {lo: uint64(out)}, {lo: uint64(len(fds))}, {lo: uint64(len(mem) - 8)}}
				b.ResetTimer()
				for b.Loop() {
					if errno := g.h.pollOneoff(mem, args); errno != 0 || binary.LittleEndian.Uint32(mem[len(mem)-8:]) != 1 {
						b.Fatalf("errno %d", errno)
					}
				}
			})
		}
	}
}

// withNofile runs f with the process's soft RLIMIT_NOFILE at soft, then
// restores it. Only in a test that is not parallel: the limit is the
// whole test binary's.
func withNofile(t *testing.T, soft uint64, f func()) {
	t.Helper()
	var old unix.Rlimit
	if err := unix.Prlimit(0, unix.RLIMIT_NOFILE, nil, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = soft
	if err := unix.Prlimit(0, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unix.Prlimit(0, unix.RLIMIT_NOFILE, &old, nil); err != nil {
			t.Fatal(err)
		}
	}()
	f()
}

// openFds is how many descriptors the test process holds (the one that
// lists them aside).
func openFds(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries) - 1
}

// A first poll_oneoff with the descriptor table full (the epoll set
// cannot be made: EMFILE) waits with poll(2), and a later one makes the
// set; runw kept the refusal for the rest of the run. And poll(2),
// wherever it serves, names each descriptor once: Linux refuses more
// entries than RLIMIT_NOFILE (EINVAL), and an event loop names each
// socket twice (read and write), so a guest holding more than half its
// limit in sockets failed every wait.
func TestPollWithoutEpollNamesEachDescriptorOnce(t *testing.T) {
	g := newSockGuest(t, "127.0.0.1", "")
	fd, peer := loopPair(t, g, fdflagNonblock)
	peer.Write([]byte("x"))
	time.Sleep(10 * time.Millisecond)
	const subs = 300
	fds, tags := make([]int32, subs), make([]uint8, subs)
	for i := range fds {
		fds[i], tags[i] = fd, eventFdRead
		if i%2 == 1 {
			tags[i] = eventFdWrite
		}
	}
	withNofile(t, uint64(openFds(t)+4), func() {
		// Every number below the limit taken.
		var fillers []int
		for {
			f, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				break
			}
			fillers = append(fillers, f)
		}
		defer func() {
			for _, f := range fillers {
				unix.Close(f)
			}
		}()
		if got := g.pollSubs(nil, nil, time.Millisecond); len(got) != 1 || got[99] != eventClock {
			t.Errorf("a sleep with no descriptor free: events %v, want the clock", got)
		}
		// Fewer descriptors than subscriptions, as a guest's table
		// would be: poll(2), one entry for the socket.
		if got := g.pollSubs(fds, tags, -1); len(got) != subs {
			t.Errorf("%d subscriptions of one ready socket under poll(2): %d events, want %d", subs, len(got), subs)
		}
	})
	if g.h.ep.ep <= 0 && epollPwait2Works() {
		g.pollSubs(nil, nil, 0)
		if g.h.ep.ep <= 0 {
			t.Errorf("with descriptors free again, the epoll set is still refused (ep %d)", g.h.ep.ep)
		}
	}
}

// epollPwait2Works says this kernel and process let the epoll set serve.
func epollPwait2Works() bool {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(ep)
	_, err = epollPwait2(ep, make([]unix.EpollEvent, 1), &unix.Timespec{})
	return err == nil
}
