package preview1

import (
	"time"

	"golang.org/x/sys/unix"
)

// fdKind says what a guest descriptor is.
type fdKind uint8

const (
	kindStdio fdKind = iota
	kindFile
	kindDir
	kindSocket
)

// fdEntry is one guest descriptor: what the guest sees (filetype, flags,
// rights) and the host descriptor behind it.
type fdEntry struct {
	kind     fdKind
	hostFd   int
	filetype uint8
	// flags are the guest-visible fdflags. NONBLOCK is emulated for
	// stdio (the host descriptor's description is shared with conmon, a
	// shell or a terminal, whose own mode must not change).
	flags uint16
	// rights are what fd_fdstat_get reports; read and write below are
	// what is enforced.
	rightsBase, rightsInheriting uint64
	read, write                  bool
	// pollable says a read or write may block: it waits in poll(2) with
	// the stop descriptor, so a stop signal ends it at once.
	pollable bool
	// hostNonblock says the host descriptor itself is non-blocking (a
	// socket): a read or write is tried first and waits only on EAGAIN,
	// one system call fewer for a server that is busy.
	hostNonblock bool
	// appendEmulated says the guest set APPEND on a stdio file whose
	// description, shared with the shell or the engine, has no O_APPEND:
	// each write goes to the end (pwritev2's RWF_APPEND), as natively,
	// and the shared description is left as it is.
	appendEmulated bool
	// ownsHost says fd_close closes the host descriptor (not for stdio:
	// the guest closing its stdout must not close the init's).
	ownsHost bool
	// guest is a directory's symlink-free path in the container, and
	// mount the mount it lies in: the resolver starts from them.
	guest string
	mount int
	// preopen is the name fd_prestat_dir_name reports; empty for a
	// descriptor the guest opened itself.
	preopen string
	// dir is where the last fd_readdir stopped (readdir.go).
	dir dirState
	// family is a socket's address family (AF_INET or AF_INET6), and
	// recvTimeout and sendTimeout its emulated SO_RCVTIMEO and
	// SO_SNDTIMEO (0: wait for ever).
	family                   int
	recvTimeout, sendTimeout time.Duration
	// linger is a lingering SO_LINGER the guest set, emulated (wasmedge.go).
	linger unix.Linger
	// yielded is the poll round in which a read or write of this socket
	// last gave the guest a turn to poll, and owed says, for reads ([0])
	// and writes ([1]) apart, that the next one is served whatever the
	// time: a poll reported the socket ready for it, or it just yielded
	// (pollTurn).
	yielded uint64
	owed    [2]bool
	// pending is a socket's error that came after part of a transfer,
	// for its next read or write (untilAll).
	pending Errno
	// noDelayAccepted says each connection this listener accepts gets
	// TCP_NODELAY: a preserved listener, whose own options are the
	// caller's (inheritedSocket).
	noDelayAccepted bool
}

// pendingFor is where untilAll keeps an error for e's next transfer: a
// socket's pending, nil for anything else (a pipe's EPIPE stays the
// kernel's).
func (e *fdEntry) pendingFor() *Errno {
	if e.kind != kindSocket {
		return nil
	}
	return &e.pending
}

// takePending returns the error kept for e's next transfer, and forgets it.
func (e *fdEntry) takePending() Errno {
	errno := e.pending
	e.pending = 0
	return errno
}

// unseekable says the kernel is not asked to seek, pread, pwrite or advise
// on e: a pipe, FIFO or socket (ESPIPE, as Linux answers). A character
// device is asked, as natively: /dev/null and /dev/zero seek to 0 and
// pread, a terminal answers ESPIPE itself.
func (e *fdEntry) unseekable() bool {
	return e.pollable && e.filetype != filetypeCharacterDevice
}

func (e *fdEntry) start() step {
	return step{fd: e.hostFd, guest: e.guest, mount: e.mount, preopen: e.preopen != ""}
}

// table is the guest's descriptor table: one structure for stdio,
// preopens, files, directories (and sockets). A new descriptor takes the
// lowest free number from 3 (firstFree), as POSIX open does past stdio
// and as wasi-libc and Go expect (the preopens must be contiguous from 3).
type table struct {
	fds []*fdEntry
	// low is where add starts looking: every number from firstFree up
	// to it is taken. A server that accepts and closes among thousands
	// of open connections then finds the number it just freed at once
	// instead of walking the table on every accept.
	low int
	// carried is the bytes of directory read-ahead its entries keep
	// (readdir.go), at most maxCarried.
	carried int
	// ep is poll_oneoff's epoll set: a descriptor leaves it with the
	// table (epoll.go).
	ep *epoller
}

// maxFds bounds the table like RLIMIT_NOFILE bounds a process: beyond it a
// guest sees EMFILE, not a host error.
const maxFds = 1 << 20

func (t *table) get(fd int32) (*fdEntry, Errno) {
	if fd < 0 || int(fd) >= len(t.fds) || t.fds[fd] == nil {
		return nil, ErrnoBadf
	}
	return t.fds[fd], ErrnoSuccess
}

// firstFree is the lowest number add gives. 0, 1 and 2 are stdio's: a
// guest that closed one, or moved it away with fd_renumber, gets it back
// only through fd_renumber, never from an open or an accept (wasmtime
// reuses none of them either). Programs ported from POSIX redirect stdio
// with fd_renumber, which moves a descriptor where dup2 copies it:
// yosys's in-process ABC moves stdout away to save it, cannot move it
// back (fd_renumber onto a closed number is EBADF), and the next file it
// opened took number 1, so its log went into the netlist it wrote.
const firstFree = 3

func (t *table) add(e *fdEntry) (int32, Errno) {
	for len(t.fds) < firstFree {
		t.fds = append(t.fds, nil)
	}
	for i := max(firstFree, t.low); i < len(t.fds); i++ {
		if t.fds[i] == nil {
			t.fds[i] = e
			t.low = i + 1
			return int32(i), 0
		}
	}
	if len(t.fds) >= maxFds {
		return -1, ErrnoMfile
	}
	t.fds = append(t.fds, e)
	t.low = len(t.fds)
	return int32(len(t.fds) - 1), 0
}

// free marks fd's number free for add.
func (t *table) free(fd int32) {
	t.fds[fd] = nil
	t.low = min(t.low, int(fd))
}

// move gives from's entry the number to, closing what to held:
// fd_renumber.
func (t *table) move(from, to int32) {
	e := t.fds[from]
	t.remove(to)
	t.free(from)
	for int(to) >= len(t.fds) {
		t.fds = append(t.fds, nil)
	}
	t.fds[to] = e
}

// remove drops fd from the table and closes what it owns.
func (t *table) remove(fd int32) {
	e := t.fds[fd]
	t.free(fd)
	t.setCarry(e, nil)
	if t.ep != nil {
		t.ep.forget(e.hostFd)
	}
	if e.ownsHost {
		unix.Close(e.hostFd)
	}
	for len(t.fds) > 0 && t.fds[len(t.fds)-1] == nil {
		t.fds = t.fds[:len(t.fds)-1]
	}
}

func (t *table) closeAll() {
	for _, e := range t.fds {
		if e != nil && e.ownsHost {
			unix.Close(e.hostFd)
		}
	}
	t.fds, t.low = nil, 0
}

// filetypeOf maps a stat mode to a WASI filetype.
func filetypeOf(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return filetypeDirectory
	case unix.S_IFREG:
		return filetypeRegularFile
	case unix.S_IFCHR:
		return filetypeCharacterDevice
	case unix.S_IFBLK:
		return filetypeBlockDevice
	case unix.S_IFLNK:
		return filetypeSymbolicLink
	case unix.S_IFSOCK:
		return filetypeSocketStream
	}
	return filetypeUnknown
}
