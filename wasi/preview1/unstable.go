package preview1

import (
	"encoding/binary"
)

// ModuleUnstable is the import module of WASI's first snapshot, preview 0
// ("wasi_unstable"), which older toolchains (wasi-sdk and Rust before
// 2020) compiled against, and which the wasmtime CLI still links.
const ModuleUnstable = "wasi_unstable"

// Preview 0 has preview 1's functions, with the same signatures; four read
// or write structures laid out differently, or number whence otherwise.
// They are wrapped here: the preview 1 body runs on a scratch memory laid
// out for it, and what it wrote is copied back in preview 0's layout. Every
// other preview 0 import is served by its preview 1 function.
var unstable = []fn{
	{"fd_seek", "iIii", (*Host).fdSeekUnstable},
	{"fd_filestat_get", "ii", (*Host).fdFilestatGetUnstable},
	{"path_filestat_get", "iiiii", (*Host).pathFilestatGetUnstable},
	{"poll_oneoff", "iiii", (*Host).pollOneoffUnstable},
}

// Preview 0's sizes: a filestat with a 32-bit nlink, and a subscription
// whose clock has an identifier before its id.
const (
	filestatSizeUnstable     = 56
	subscriptionSizeUnstable = 56
	maxSubscriptionsUnstable = 1 << 16
)

// fdSeekUnstable is fd_seek with preview 0's whence: CUR 0, END 1, SET 2
// (preview 1: SET 0, CUR 1, END 2).
func (h *Host) fdSeekUnstable(m memory, a []arg) Errno {
	whence := u32(a[2])
	switch whence {
	case 0:
		whence = 1
	case 1:
		whence = 2
	case 2:
		whence = 0
	}
	return h.fdSeek(m, []arg{a[0], a[1], {lo: uint64(whence)}, a[3]})
}

// putFilestatUnstable writes the preview 1 filestat in p1 at p in preview
// 0's layout: nlink is 32 bits at 20, and what follows moves up by 8.
func putFilestatUnstable(m memory, p uint32, p1 []byte) Errno {
	buf, ok := m.slice(p, filestatSizeUnstable)
	if !ok {
		return ErrnoFault
	}
	clear(buf)
	copy(buf[0:17], p1[0:17]) // dev, ino, filetype
	binary.LittleEndian.PutUint32(buf[20:], uint32(binary.LittleEndian.Uint64(p1[24:])))
	copy(buf[24:56], p1[32:64]) // size, atim, mtim, ctim
	return 0
}

func (h *Host) fdFilestatGetUnstable(m memory, a []arg) Errno {
	if _, ok := m.slice(u32(a[1]), filestatSizeUnstable); !ok {
		return ErrnoFault
	}
	scratch := make(memory, filestatSize)
	if errno := h.fdFilestatGet(scratch, []arg{a[0], {lo: 0}}); errno != 0 {
		return errno
	}
	return putFilestatUnstable(m, u32(a[1]), scratch)
}

// pathFilestatGetUnstable copies the path into the scratch memory after
// the filestat, so that the preview 1 body reads it as the guest gave it.
func (h *Host) pathFilestatGetUnstable(m memory, a []arg) Errno {
	if _, ok := m.slice(u32(a[4]), filestatSizeUnstable); !ok {
		return ErrnoFault
	}
	n := u32(a[3])
	if n >= pathMax {
		return ErrnoNametoolong
	}
	path, ok := m.slice(u32(a[2]), n)
	if !ok {
		return ErrnoFault
	}
	scratch := make(memory, filestatSize+int(n))
	copy(scratch[filestatSize:], path)
	if errno := h.pathFilestatGet(scratch, []arg{a[0], a[1], {lo: filestatSize}, {lo: uint64(n)}, {lo: 0}}); errno != 0 {
		return errno
	}
	return putFilestatUnstable(m, u32(a[4]), scratch)
}

// pollOneoffUnstable converts preview 0's subscriptions to preview 1's in
// a scratch memory (a clock's identifier is dropped: nothing reports it),
// polls there, and copies the events back: an event has one layout in
// both.
func (h *Host) pollOneoffUnstable(m memory, a []arg) Errno {
	in, out, nsubs, neventsp := u32(a[0]), u32(a[1]), u32(a[2]), u32(a[3])
	// The scratch memory is the host's: bounded (as Linux's poll is, by
	// RLIMIT_NOFILE), so that a guest cannot make the init allocate more
	// than it holds itself; and under a memory limit to half of maxSubs,
	// as a subscription costs the copy here (88 bytes) besides
	// pollOneoff's lists. Without that, a guest under a 64 MiB limit
	// polling 65,536 subscriptions had the init killed (137).
	if nsubs == 0 || nsubs > min(maxSubscriptionsUnstable, h.maxSubs/2) {
		return ErrnoInval
	}
	subs, ok := m.slice(in, nsubs*subscriptionSizeUnstable)
	if !ok || uint64(nsubs)*subscriptionSizeUnstable > uint64(len(m)) {
		return ErrnoFault
	}
	if _, ok := m.slice(out, nsubs*eventSize); !ok {
		return ErrnoFault
	}
	if _, ok := m.slice(neventsp, 4); !ok {
		return ErrnoFault
	}
	need := int(nsubs)*(subscriptionSize+eventSize) + 4
	if cap(h.poll.unstable) < need {
		h.poll.unstable = make(memory, need)
	}
	scratch := h.poll.unstable[:need]
	clear(scratch)
	defer func() {
		if !h.keepPollScratch(nsubs) {
			h.poll.unstable = nil
		}
	}()
	for i := range int(nsubs) {
		s0 := subs[i*subscriptionSizeUnstable : (i+1)*subscriptionSizeUnstable]
		s1 := scratch[i*subscriptionSize : (i+1)*subscriptionSize]
		copy(s1[0:16], s0[0:16]) // userdata, tag
		if s0[8] == 0 {          // clock: id, timeout, precision, flags
			copy(s1[16:18+24], s0[24:26+24])
		} else { // fd_read, fd_write: the descriptor
			copy(s1[16:20], s0[16:20])
		}
	}
	outS := uint32(int(nsubs) * subscriptionSize)
	neventsS := outS + nsubs*eventSize
	errno := h.pollOneoff(scratch, []arg{{lo: 0}, {lo: uint64(outS)}, a[2], {lo: uint64(neventsS)}})
	if errno != 0 {
		return errno
	}
	nevents := binary.LittleEndian.Uint32(scratch[neventsS:])
	events, _ := m.slice(out, nsubs*eventSize)
	copy(events, scratch[outS:outS+nevents*eventSize])
	m.putU32(neventsp, nevents)
	return 0
}
