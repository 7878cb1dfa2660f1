package preview1

import (
	"encoding/binary"
	"math"
	"unsafe"

	"golang.org/x/sys/unix"
)

func (h *Host) fdClose(m memory, a []arg) Errno {
	fd := a[0].I32()
	if _, e := h.fds.get(fd); e != 0 {
		return e
	}
	h.fds.remove(fd)
	return 0
}

func (h *Host) fdRenumber(m memory, a []arg) Errno {
	from, to := a[0].I32(), a[1].I32()
	if _, errno := h.fds.get(from); errno != 0 {
		return errno
	}
	if _, errno := h.fds.get(to); errno != 0 {
		return errno
	}
	if from == to {
		return 0
	}
	h.fds.move(from, to)
	return 0
}

// io runs one read or write of the buffers in h.iov on e at offset (-1:
// the descriptor's own offset). A descriptor that may block waits in
// poll(2) with the stop descriptor first; one the guest made non-blocking
// answers EAGAIN instead of waiting. A blocking write to a stream (a
// socket, a pipe, a terminal) goes on until all is written, as a
// blocking write(2) there does (untilAll): on a non-blocking host
// descriptor each transfer moves what fits, and on a blocking one a
// signal to the guest's thread (the init's Go runtime preempts it with
// SIGURG) ends write(2) after a part, which Linux would have finished.
func (h *Host) io(e *fdEntry, write bool, offset int64) (int, Errno) {
	if errno := e.takePending(); errno != 0 {
		return 0, errno
	}
	h.beginSockCall()
	whole := write && offset < 0 && e.pollable && e.flags&fdflagNonblock == 0
	return untilAll(h.iov, whole, e.pendingFor(), func(bufs [][]byte) (int, Errno) {
		return h.ioOnce(e, bufs, write, offset)
	})
}

// ioOnce is one transfer of io: it returns what one read or write moved,
// after waiting for the descriptor where it may block.
func (h *Host) ioOnce(e *fdEntry, bufs [][]byte, write bool, offset int64) (int, Errno) {
	events := int16(unix.POLLIN)
	if write {
		events = unix.POLLOUT
	}
	for {
		if e.pollable && !e.hostNonblock {
			if e.flags&fdflagNonblock != 0 {
				if !ready(e.hostFd, events) {
					return 0, ErrnoAgain
				}
				if write && offset < 0 {
					if n, errno, done := nowaitWrite(e.hostFd, bufs); done {
						return n, errno
					}
				}
			} else if errno := h.wait(e.hostFd, events); errno != 0 {
				return 0, errno
			}
		}
		var n int
		var err error
		// Not a device's: in a raw system call Go's scheduler preempts
		// the thread with SIGURG, and the kernel ends a long read of
		// /dev/urandom or /dev/zero at the page the signal met, where a
		// native read is whole.
		if e.hostNonblock && offset < 0 && e.filetype != filetypeCharacterDevice {
			n, err = h.nonblockIO(e.hostFd, bufs, write)
		} else if write && offset < 0 && e.appendEmulated {
			n, err = appendWrite(e.hostFd, bufs)
		} else {
			n, err = rawIO(e.hostFd, bufs, write, offset)
		}
		switch err {
		case nil:
			return n, 0
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			// The host descriptor itself is non-blocking (a socket, or
			// stdio shared with a peer that set O_NONBLOCK): wait unless
			// the guest asked not to.
			if e.pollable && e.flags&fdflagNonblock == 0 {
				if e.hostNonblock {
					if errno := h.waitSock(e, events); errno != 0 {
						return 0, errno
					}
				}
				continue
			}
		}
		return 0, toErrno(err)
	}
}

// untilAll runs once (one transfer of bufs) and, when all is true, goes
// on with the rest until bufs are done or a transfer moves nothing:
// what a blocking send or write on a stream socket does, and recv with
// WAITALL. An error after a part answers the part, as Linux's does (the
// error comes at the next call), except a stop, which ends the guest.
// Where pending is not nil (a socket), the error is kept there for that
// next call: the kernel forgot it (a socket's pending error, ECONNRESET,
// ETIMEDOUT, is cleared by the call that reports it), where Linux,
// which answers the part without making that call, still has it. Lost,
// a C server reading an upload with MSG_WAITALL read a connection reset
// part-way as a clean end (0), and a sender met EPIPE, not ECONNRESET.
// Only a connection's errors are kept (keptForNext).
func untilAll(bufs [][]byte, all bool, pending *Errno, once func([][]byte) (int, Errno)) (int, Errno) {
	total := 0
	for {
		n, errno := once(bufs)
		if errno != 0 {
			if total > 0 && errno != errnoStop {
				if pending != nil && keptForNext(errno) {
					*pending = errno
				}
				return total, 0
			}
			return 0, errno
		}
		total += n
		bufs = advance(bufs, n)
		if !all || n == 0 || len(bufs) == 0 {
			return total, 0
		}
	}
}

// keptForNext says errno is one a socket keeps as its pending error
// (sk_err), which Linux answers at the next call after a partial
// transfer; a timeout or a lack of memory (EAGAIN, ENOBUFS, ENOMEM) is
// not kept there: the next call may well succeed.
func keptForNext(errno Errno) bool {
	switch errno {
	case ErrnoConnreset, ErrnoPipe, ErrnoTimedout, ErrnoHostunreach, ErrnoNetunreach, ErrnoConnaborted, ErrnoConnrefused:
		return true
	}
	return false
}

// appendWrite writes bufs at the end of the file fd (fdEntry's
// appendEmulated), moving its offset there; before Linux 4.16, which has
// no RWF_APPEND, by a seek to the end first.
func appendWrite(fd int, bufs [][]byte) (int, error) {
	n, err := unix.Pwritev2(fd, bufs, -1, unix.RWF_APPEND)
	// EPERM: a seccomp profile without pwritev2 (a sealed file answers
	// the plain write the same).
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS || err == unix.EPERM {
		if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil {
			return 0, err
		}
		return unix.Writev(fd, bufs)
	}
	return n, err
}

// nowaitWrite writes bufs to a blocking descriptor the guest made
// non-blocking (stdio, a FIFO), with RWF_NOWAIT: poll said only that some
// room is free, and a larger write(2) on the shared blocking description
// would wait for a reader, where natively it writes what fits and
// returns. done is false where the kernel has no RWF_NOWAIT for the
// descriptor (a terminal): the caller then writes as before.
func nowaitWrite(fd int, bufs [][]byte) (int, Errno, bool) {
	for {
		n, err := unix.Pwritev2(fd, bufs, -1, unix.RWF_NOWAIT)
		switch err {
		case nil:
			return n, 0, true
		case unix.EINTR:
			continue
		case unix.EOPNOTSUPP, unix.ENOSYS, unix.EPERM:
			// No RWF_NOWAIT for this descriptor (a terminal), no
			// pwritev2 at all (before 4.6), or a seccomp profile that
			// leaves it out (EPERM; a sealed file answers the plain
			// write the same).
			return 0, 0, false
		}
		return 0, toErrno(err), true
	}
}

// nonblockIO reads or writes bufs on a non-blocking descriptor (a
// socket) with a raw system call: it cannot block, so it skips the Go
// scheduler's system-call bookkeeping, which on a server's every read and
// write would hand the init's processor to another thread and back.
func (h *Host) nonblockIO(fd int, bufs [][]byte, write bool) (int, error) {
	var r uintptr
	var e unix.Errno
	if len(bufs) == 1 {
		trap := uintptr(unix.SYS_READ)
		if write {
			trap = unix.SYS_WRITE
		}
		r, _, e = unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&bufs[0][0])), uintptr(len(bufs[0])))
	} else {
		h.iovecs = h.iovecs[:0]
		for _, b := range bufs {
			v := unix.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			h.iovecs = append(h.iovecs, v)
		}
		trap := uintptr(unix.SYS_READV)
		if write {
			trap = unix.SYS_WRITEV
		}
		r, _, e = unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&h.iovecs[0])), uintptr(len(h.iovecs)))
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// rawIO reads or writes bufs, at offset when it is not -1. One buffer, the
// common case, goes straight to read(2)/write(2) without allocating.
func rawIO(fd int, bufs [][]byte, write bool, offset int64) (int, error) {
	if len(bufs) == 1 {
		switch {
		case write && offset < 0:
			return unix.Write(fd, bufs[0])
		case write:
			return unix.Pwrite(fd, bufs[0], offset)
		case offset < 0:
			return unix.Read(fd, bufs[0])
		default:
			return unix.Pread(fd, bufs[0], offset)
		}
	}
	switch {
	case write && offset < 0:
		return unix.Writev(fd, bufs)
	case write:
		return unix.Pwritev(fd, bufs, offset)
	case offset < 0:
		return unix.Readv(fd, bufs)
	default:
		return unix.Preadv(fd, bufs, offset)
	}
}

// rw is fd_read, fd_write, fd_pread and fd_pwrite.
func (h *Host) rw(m memory, fd int32, iovs, n uint32, offset int64, resultPtr uint32, write bool) Errno {
	e, errno := h.fds.get(fd)
	if errno != 0 {
		return errno
	}
	if e.kind == kindDir || (write && !e.write) || (!write && !e.read) {
		// A directory is no file to read or write: EBADF, wasmtime's
		// answer and its test programs' (Linux answers EISDIR to a read).
		return ErrnoBadf
	}
	if offset >= 0 && e.pollable {
		// A pipe, FIFO or socket is never positioned. A character
		// device is asked (/dev/zero preads; a terminal is opened
		// unseekable and answers ESPIPE), before the transfer waits
		// for it: a terminal's pread must not wait for input first.
		if e.unseekable() {
			return ErrnoSpipe
		}
		if _, err := unix.Seek(e.hostFd, 0, unix.SEEK_CUR); err != nil {
			return toErrno(err)
		}
	}
	if errno := h.buffers(m, e, iovs, n, write, false, ErrnoInval); errno != 0 {
		return errno
	}
	// The result is checked before the transfer: data read, or written,
	// and then reported as EFAULT would be lost, or written twice by a
	// guest that retries.
	if _, ok := m.slice(resultPtr, 4); !ok {
		return ErrnoFault
	}
	// A read into no buffer (all empty) returns 0 at once, as on Linux.
	done := 0
	if len(h.iov) > 0 {
		if h.pollTurn(e, write) {
			return ErrnoAgain
		}
		if done, errno = h.io(e, write, offset); errno != 0 {
			if errno == ErrnoPipe && write && h.goGuest && e.kind == kindStdio && (fd == 1 || fd == 2) {
				h.exitCode, h.exited = 128+int32(unix.SIGPIPE), true
				if h.pid1 {
					// Go's dieFromSignal, when the signal it raised
					// did not end it (a namespace's init): exit(2).
					h.exitCode = 2
				}
				return errnoExit
			}
			return errno
		}
	}
	m.putU32(resultPtr, uint32(done))
	return 0
}

// buffers fills h.iov with the non-empty buffers of the iovec array at
// iovs (memory.iovecs) for a read or write on e. A datagram is one
// message: one spread over more buffers than IOV_MAX is refused with
// tooMany, never sent cut short nor received into the capped buffers
// alone (the rest of it was lost, and the guest told only MSG_TRUNC,
// while Linux leaves it queued). So is a receive that must fill them all
// (waitAll): it returned the capped buffers' worth with no error while
// the peer was still sending. tooMany is the errno of the call a native
// program would make: EMSGSIZE for sock_recv and sock_send (recvmsg,
// sendmsg), EINVAL for fd_read and fd_write (readv, writev).
func (h *Host) buffers(m memory, e *fdEntry, iovs, n uint32, write, waitAll bool, tooMany Errno) Errno {
	var capped, ok bool
	h.iov, capped, ok = m.iovecs(h.iov[:0], iovs, n)
	switch {
	case !ok:
		return ErrnoFault
	case capped && e.filetype == filetypeSocketDgram, capped && waitAll:
		return tooMany
	}
	return 0
}

func (h *Host) fdRead(m memory, a []arg) Errno {
	return h.rw(m, a[0].I32(), u32(a[1]), u32(a[2]), -1, u32(a[3]), false)
}

func (h *Host) fdWrite(m memory, a []arg) Errno {
	return h.rw(m, a[0].I32(), u32(a[1]), u32(a[2]), -1, u32(a[3]), true)
}

func (h *Host) fdPread(m memory, a []arg) Errno {
	off := a[3].I64()
	if off < 0 {
		return ErrnoInval
	}
	return h.rw(m, a[0].I32(), u32(a[1]), u32(a[2]), off, u32(a[4]), false)
}

func (h *Host) fdPwrite(m memory, a []arg) Errno {
	off := a[3].I64()
	if off < 0 {
		return ErrnoInval
	}
	return h.rw(m, a[0].I32(), u32(a[1]), u32(a[2]), off, u32(a[4]), true)
}

// file returns fd when it is an open file (not a directory). Every call
// that acts on a file's data or offset answers EBADF for a directory, as
// wasmtime's preview1 does (its test programs hold it to that): Linux would
// seek and advise a directory, and answer EISDIR or EINVAL to the rest,
// which differs from call to call and from system to system. A sync is
// not refused (sync).
func (h *Host) file(fd int32) (*fdEntry, Errno) {
	e, errno := h.fds.get(fd)
	if errno != 0 {
		return nil, errno
	}
	if e.kind == kindDir {
		return nil, ErrnoBadf
	}
	return e, 0
}

func (h *Host) fdSeek(m memory, a []arg) Errno {
	whence := u32(a[2])
	if whence > whenceEnd {
		if _, errno := h.file(a[0].I32()); errno != 0 {
			return errno
		}
		return ErrnoInval
	}
	return h.seek(m, a[0].I32(), a[1].I64(), int(whence), u32(a[3]))
}

func (h *Host) fdTell(m memory, a []arg) Errno {
	return h.seek(m, a[0].I32(), 0, unix.SEEK_CUR, u32(a[1]))
}

// seek is fd_seek and fd_tell: lseek on a file, ESPIPE on a stream.
func (h *Host) seek(m memory, fd int32, offset int64, whence int, resultPtr uint32) Errno {
	e, errno := h.file(fd)
	if errno != 0 {
		return errno
	}
	if e.unseekable() {
		return ErrnoSpipe
	}
	// Checked before the seek, which must not move the file for a call
	// that fails.
	if _, ok := m.slice(resultPtr, 8); !ok {
		return ErrnoFault
	}
	off, err := unix.Seek(e.hostFd, offset, whence)
	if err != nil {
		return toErrno(err)
	}
	m.putU64(resultPtr, uint64(off))
	return 0
}

func (h *Host) fdSync(m memory, a []arg) Errno { return h.sync(a[0].I32(), unix.Fsync) }

func (h *Host) fdDatasync(m memory, a []arg) Errno { return h.sync(a[0].I32(), unix.Fdatasync) }

// sync is fd_sync and fd_datasync, of a file or, as on Linux, of a
// directory: a guest syncs one to make a rename or create in it durable
// (Go's File.Sync, Python's os.fsync, renameio), and EBADF, wasmtime's
// answer (its own test program asks for it; the WASI test suite does
// not), failed the write those programs were making.
func (h *Host) sync(fd int32, f func(int) error) Errno {
	e, errno := h.fds.get(fd)
	if errno != 0 {
		return errno
	}
	return toErrno(f(e.hostFd))
}

func (h *Host) fdAdvise(m memory, a []arg) Errno {
	e, errno := h.file(a[0].I32())
	if errno != 0 {
		return errno
	}
	advice := u32(a[3])
	if advice > 5 {
		return ErrnoInval
	}
	if e.unseekable() {
		return ErrnoSpipe
	}
	// WASI's advice values are Linux's POSIX_FADV_* in the same order.
	return toErrno(unix.Fadvise(e.hostFd, a[1].I64(), a[2].I64(), int(advice)))
}

func (h *Host) fdAllocate(m memory, a []arg) Errno {
	e, errno := h.file(a[0].I32())
	if errno != 0 {
		return errno
	}
	if !e.write {
		return ErrnoBadf
	}
	off, n := a[1].I64(), a[2].I64()
	if off < 0 || n <= 0 || off > math.MaxInt64-n {
		return ErrnoInval
	}
	return toErrno(unix.Fallocate(e.hostFd, 0, off, n))
}

func (h *Host) fdFdstatGet(m memory, a []arg) Errno {
	e, errno := h.fds.get(a[0].I32())
	if errno != 0 {
		return errno
	}
	p := u32(a[1])
	buf, ok := m.slice(p, fdstatSize)
	if !ok {
		return ErrnoFault
	}
	clear(buf)
	buf[0] = e.filetype
	m.putU16(p+2, e.flags)
	m.putU64(p+8, e.rightsBase)
	m.putU64(p+16, e.rightsInheriting)
	return 0
}

func (h *Host) fdFdstatSetFlags(m memory, a []arg) Errno {
	e, errno := h.file(a[0].I32())
	if errno != 0 {
		return errno
	}
	flags := uint16(u32(a[1]))
	if flags&(fdflagDsync|fdflagRsync|fdflagSync) != 0 {
		return ErrnoInval
	}
	if e.kind == kindFile && (flags^e.flags)&fdflagAppend != 0 {
		fl, err := unix.FcntlInt(uintptr(e.hostFd), unix.F_GETFL, 0)
		if err != nil {
			return toErrno(err)
		}
		fl &^= unix.O_APPEND
		if flags&fdflagAppend != 0 {
			fl |= unix.O_APPEND
		}
		if _, err := unix.FcntlInt(uintptr(e.hostFd), unix.F_SETFL, fl); err != nil {
			return toErrno(err)
		}
	}
	switch e.kind {
	case kindStdio:
		// The description is shared (the shell's, conmon's): it keeps
		// its flags. APPEND the guest sets on a file is emulated, write
		// by write; one the description has (stdioEntry: `run >>
		// out.log`) stays reported, as the kernel still appends.
		var hostAppend uint16
		if fl, err := unix.FcntlInt(uintptr(e.hostFd), unix.F_GETFL, 0); err == nil && fl&unix.O_APPEND != 0 {
			hostAppend = fdflagAppend
		}
		e.appendEmulated = flags&fdflagAppend != 0 && hostAppend == 0 && e.filetype == filetypeRegularFile
		flags |= hostAppend
	case kindSocket:
		// APPEND means nothing on a socket.
		flags = flags&^fdflagAppend | e.flags&fdflagAppend
	}
	e.flags = e.flags&(fdflagDsync|fdflagRsync|fdflagSync) | flags&(fdflagAppend|fdflagNonblock)
	return 0
}

// fdFdstatSetRights is not supported, as in wasmtime: rights are advisory
// since WASI 0.2, and guests treat NOTSUP as "no rights model".
func (h *Host) fdFdstatSetRights(m memory, a []arg) Errno {
	if _, errno := h.fds.get(a[0].I32()); errno != 0 {
		return errno
	}
	return ErrnoNotsup
}

// putFilestat writes a filestat record.
func putFilestat(m memory, p uint32, st *unix.Stat_t, filetype uint8) Errno {
	buf, ok := m.slice(p, filestatSize)
	if !ok {
		return ErrnoFault
	}
	clear(buf)
	m.putU64(p, st.Dev)
	m.putU64(p+8, st.Ino)
	buf[16] = filetype
	m.putU64(p+24, st.Nlink)
	m.putU64(p+32, uint64(st.Size))
	m.putU64(p+40, timestamp(st.Atim))
	m.putU64(p+48, timestamp(st.Mtim))
	m.putU64(p+56, timestamp(st.Ctim))
	return 0
}

// timestamp is t as WASI's unsigned nanoseconds since the epoch, or 0 (no
// time) where it has none: a file dated before 1970, or after 2554. A
// negative time wrapped to the far future (a file of 1969 dated 2554, of
// 1901 dated 2486), and make or rsync in the guest took the oldest file
// for the newest. wasmtime 48 and later report such a time as missing
// too (wasmtime 39 panics on it).
func timestamp(t unix.Timespec) uint64 {
	if t.Sec < 0 || t.Nsec < 0 || uint64(t.Sec) > (math.MaxUint64-uint64(t.Nsec))/1_000_000_000 {
		return 0
	}
	return uint64(t.Sec)*1e9 + uint64(t.Nsec)
}

func (h *Host) fdFilestatGet(m memory, a []arg) Errno {
	e, errno := h.fds.get(a[0].I32())
	if errno != 0 {
		return errno
	}
	var st unix.Stat_t
	if err := unix.Fstat(e.hostFd, &st); err != nil {
		return toErrno(err)
	}
	ft := filetypeOf(st.Mode)
	switch e.kind {
	case kindStdio:
		// A pipe, terminal or socket is a stream: its type only, the rest
		// zero, as under wasmtime (whose test programs require it); it is
		// the engine's, not the container's. A file (`run < in.txt`) is
		// a file, with its size, as natively (stdioEntry).
		if e.filetype != filetypeRegularFile {
			st = unix.Stat_t{}
		}
		ft = e.filetype
	case kindSocket:
		ft = e.filetype
	}
	return putFilestat(m, u32(a[1]), &st, ft)
}

// fdFilestatSetSize is ftruncate, with Linux's answer, EINVAL, for a file
// not open for writing (EBADF for a directory: file).
func (h *Host) fdFilestatSetSize(m memory, a []arg) Errno {
	e, errno := h.file(a[0].I32())
	if errno != 0 {
		return errno
	}
	size := a[1].I64()
	if size < 0 || !e.write {
		return ErrnoInval
	}
	return toErrno(unix.Ftruncate(e.hostFd, size))
}

// times turns WASI's (atim, mtim, fst_flags) into utimensat's pair.
func times(atim, mtim uint64, fst uint32) ([2]unix.Timespec, Errno) {
	var ts [2]unix.Timespec
	if fst&^(fstAtim|fstAtimNow|fstMtim|fstMtimNow) != 0 ||
		fst&(fstAtim|fstAtimNow) == fstAtim|fstAtimNow ||
		fst&(fstMtim|fstMtimNow) == fstMtim|fstMtimNow {
		return ts, ErrnoInval
	}
	one := func(t uint64, set, now bool) unix.Timespec {
		switch {
		case now:
			return unix.Timespec{Nsec: unix.UTIME_NOW}
		case set:
			// WASI's timestamps are unsigned: from 2^63 ns (the year
			// 2262) on, a conversion through int64 went negative and
			// dated the file before 1970.
			return unix.Timespec{Sec: int64(t / 1e9), Nsec: int64(t % 1e9)}
		}
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	ts[0] = one(atim, fst&fstAtim != 0, fst&fstAtimNow != 0)
	ts[1] = one(mtim, fst&fstMtim != 0, fst&fstMtimNow != 0)
	return ts, 0
}

// omitsBoth says times leaves both times as they are: Linux's utimensat
// then does nothing and succeeds, without looking at the path or the
// mount (no ENOENT, no EROFS).
func omitsBoth(ts [2]unix.Timespec) bool {
	return ts[0].Nsec == unix.UTIME_OMIT && ts[1].Nsec == unix.UTIME_OMIT
}

func (h *Host) fdFilestatSetTimes(m memory, a []arg) Errno {
	e, errno := h.fds.get(a[0].I32())
	if errno != 0 {
		return errno
	}
	ts, errno := times(u64(a[1]), u64(a[2]), u32(a[3]))
	if errno != 0 || omitsBoth(ts) {
		return errno
	}
	if e.kind != kindStdio && h.view.mounts[e.mount].ReadOnly {
		return ErrnoRofs
	}
	// Stdio too: podman gives a container without -i the host's
	// /dev/null as stdin, and a terminal is the engine's pty.
	if e.filetype == filetypeCharacterDevice || e.filetype == filetypeBlockDevice {
		return ErrnoPerm // see deviceMode
	}
	return toErrno(unix.UtimesNanoAt(e.hostFd, "", ts[:], unix.AT_EMPTY_PATH))
}

func (h *Host) fdPrestatGet(m memory, a []arg) Errno {
	e, errno := h.fds.get(a[0].I32())
	if errno != 0 {
		return errno
	}
	if e.preopen == "" {
		return ErrnoBadf
	}
	// The whole record is checked first: p+4 computed in 32 bits would
	// wrap to the start of memory for p near 4 GiB.
	rec, ok := m.slice(u32(a[1]), prestatSize)
	if !ok {
		return ErrnoFault
	}
	binary.LittleEndian.PutUint32(rec, 0) // preopentype dir
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(e.preopen)))
	return 0
}

func (h *Host) fdPrestatDirName(m memory, a []arg) Errno {
	e, errno := h.fds.get(a[0].I32())
	if errno != 0 {
		return errno
	}
	if e.preopen == "" {
		return ErrnoNotdir
	}
	if u32(a[2]) < uint32(len(e.preopen)) {
		return ErrnoNametoolong
	}
	buf, ok := m.slice(u32(a[1]), uint32(len(e.preopen)))
	if !ok {
		return ErrnoFault
	}
	copy(buf, e.preopen)
	return 0
}
