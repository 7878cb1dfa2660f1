package preview1

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// epoller is poll_oneoff's wait: an epoll set kept from one call to the
// next, so that a call costs the host in proportion to the descriptors
// whose interest changed and to those ready, not to all it names.
//
// Go's wasip1 netpoller (and any event loop on preview1) names every
// descriptor it waits on in every poll_oneoff call. With poll(2) the
// kernel looked at each of them on each call: a Go server holding 10,000
// idle keep-alive connections spent 2.5 ms of CPU a request (82 req/s),
// against 93 µs natively, most of it in the kernel's sock_poll. Here a
// descriptor is added when first named and kept while the guest keeps
// naming it.
//
// A descriptor the guest stops naming is left in the set until it is
// reported ready (then it is removed, and the wait goes on): the one a Go
// goroutine is busy with between two calls usually comes back in the next
// one, and removing and re-adding it each time would cost two system
// calls a request. A descriptor that leaves the guest's table is removed
// before the host closes it (forget), so a number reused by a later open
// never inherits a stale registration.
type epoller struct {
	// ep is the epoll descriptor: 0 before the first use, -1 when epoll
	// (or epoll_pwait2, Linux 5.11) is unavailable and poll(2) serves.
	ep int
	// gen numbers the calls; reg.gen says the call that last named it.
	gen uint64
	// regs is the set, by host descriptor number (bounded, as the
	// numbers are, by RLIMIT_NOFILE); count is how many it holds.
	regs  []*epReg
	count int
	// named, slots and evs are scratch, kept for the next call: the
	// descriptors this call names, each subscription's, and the events.
	named []*epReg
	slots []*epReg
	evs   []unix.EpollEvent
}

// epReg is one host descriptor in the set.
type epReg struct {
	fd int32
	// have is the interest registered; want the one this call names.
	have, want uint32
	gen        uint64
	// revents is what this call's wait reported for it.
	revents uint32
	// unpollable: epoll refused it (a device with no poll, such as
	// /dev/null); poll(2) reports such a descriptor always ready, and so
	// does this.
	unpollable bool
}

// usable opens the epoll set on first use and says whether it can serve.
func (p *epoller) usable(stopFd int) bool {
	if p.ep != 0 {
		return p.ep > 0
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		// Out of descriptors or memory now (a guest's table full at its
		// first wait): poll(2) serves this wait, and the next one tries
		// again. Refused for good (ENOSYS, a profile's EPERM): never.
		if err != unix.EMFILE && err != unix.ENFILE && err != unix.ENOMEM {
			p.ep = -1
		}
		return false
	}
	p.ep = -1
	// epoll_pwait2 takes a timeout in nanoseconds, as ppoll does; Go's
	// timers ask for microseconds. Where it is missing, or the
	// container's seccomp profile refuses it (EPERM: profiles older than
	// the call, allowlists that name epoll_pwait only), poll(2) serves:
	// the first call comes after the profile is loaded, so the probe
	// meets it.
	if _, err := epollPwait2(ep, make([]unix.EpollEvent, 1), &unix.Timespec{}); err != nil {
		unix.Close(ep)
		return false
	}
	// The stop descriptor is in the set for good: a stop ends any wait.
	if unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, stopFd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(stopFd)}) != nil {
		unix.Close(ep)
		return false
	}
	p.ep = ep
	return true
}

// reg is the registration of host descriptor fd, nil if none.
func (p *epoller) reg(fd int32) *epReg {
	if fd < 0 || int(fd) >= len(p.regs) {
		return nil
	}
	return p.regs[fd]
}

// drop takes r out of the set.
func (p *epoller) drop(r *epReg) {
	if r.have != 0 {
		_ = unix.EpollCtl(p.ep, unix.EPOLL_CTL_DEL, int(r.fd), nil)
	}
	p.regs[r.fd] = nil
	p.count--
}

// forget removes host descriptor fd from the set; the table calls it
// before the descriptor is closed or leaves the guest's table.
func (p *epoller) forget(fd int) {
	if p.ep <= 0 {
		return
	}
	if r := p.reg(int32(fd)); r != nil {
		p.drop(r)
	}
}

func (p *epoller) close() {
	if p.ep > 0 {
		unix.Close(p.ep)
	}
	p.ep, p.regs = -1, nil
}

// poll is ppoll(pfds, ts) served from the set: it fills each entry's
// Revents as ppoll would, the last entry being the stop descriptor. again
// says only descriptors the guest no longer names were ready: they were
// removed, and the caller waits again for what is left of its timeout.
func (p *epoller) poll(pfds []unix.PollFd, ts *unix.Timespec) (again bool, err error) {
	p.gen++
	named, slots, immediate := p.named[:0], p.slots[:0], false
	for i := range pfds[:len(pfds)-1] {
		pfds[i].Revents = 0
		r := p.reg(pfds[i].Fd)
		if r == nil {
			fd := pfds[i].Fd
			for int(fd) >= len(p.regs) {
				p.regs = append(p.regs, nil)
			}
			r = &epReg{fd: fd}
			p.regs[fd] = r
			p.count++
		}
		slots = append(slots, r)
		if r.gen != p.gen {
			r.gen, r.want, r.revents = p.gen, 0, 0
			named = append(named, r)
		}
		r.want |= uint32(uint16(pfds[i].Events))
	}
	for _, r := range named {
		if r.unpollable {
			immediate = true
			continue
		}
		if r.want == r.have {
			continue
		}
		op := unix.EPOLL_CTL_MOD
		if r.have == 0 {
			op = unix.EPOLL_CTL_ADD
		}
		switch err := unix.EpollCtl(p.ep, op, int(r.fd), &unix.EpollEvent{Events: r.want, Fd: r.fd}); err {
		case nil:
			r.have = r.want
		case unix.EPERM:
			r.unpollable, immediate = true, true
		default:
			// ENOSPC (the host's max_user_watches, shared by every
			// container of one uid), ENOMEM, EBADF: poll(2) serves this
			// call, and answers for the descriptor as it would have.
			p.named, p.slots = named, slots
			return false, errUsePoll
		}
	}
	p.named, p.slots = named, slots
	if immediate {
		ts = &unix.Timespec{}
	}
	if n := p.count + 1; cap(p.evs) < n {
		p.evs = make([]unix.EpollEvent, n)
	}
	n, err := epollPwait2(p.ep, p.evs[:cap(p.evs)], ts)
	if err == unix.EPERM || err == unix.ENOSYS {
		// Refused after the probe passed: poll(2) from now on.
		p.close()
		return false, errUsePoll
	}
	if err != nil {
		return false, err
	}
	ready := false
	for _, ev := range p.evs[:n] {
		if ev.Fd == pfds[len(pfds)-1].Fd {
			pfds[len(pfds)-1].Revents = int16(ev.Events)
			ready = true
			continue
		}
		r := p.reg(ev.Fd)
		if r == nil {
			_ = unix.EpollCtl(p.ep, unix.EPOLL_CTL_DEL, int(ev.Fd), nil)
			continue
		}
		if r.gen != p.gen {
			// Ready, but not named in this call: out of the set, until
			// the guest names it again.
			p.drop(r)
			continue
		}
		r.revents |= ev.Events
	}
	for i, r := range slots {
		re := r.revents
		if r.unpollable {
			re = r.want
		}
		// Each subscription sees its own direction, and errors and
		// hang-ups as poll(2) gives them to every interest.
		pfds[i].Revents = int16(re & (uint32(uint16(pfds[i].Events)) | unix.EPOLLERR | unix.EPOLLHUP))
		ready = ready || pfds[i].Revents != 0
	}
	return !ready && n > 0 && !immediate, nil
}

// errUsePoll says the epoll set cannot serve this call: poll(2) must.
var errUsePoll = errors.New("wait with poll(2)")

// epollPwait2 is epoll_pwait2(2) without a signal mask: a wait whose
// timeout is in nanoseconds (nil: none).
func epollPwait2(ep int, evs []unix.EpollEvent, ts *unix.Timespec) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(ep), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), uintptr(unsafe.Pointer(ts)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
