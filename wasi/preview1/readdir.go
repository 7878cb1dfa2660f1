package preview1

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// fdReaddir serves a directory's entries from cookie on. Entry i has
// d_next i+1; "." (0) and ".." (1) come first, as wasmtime and wasi-libc
// expect, then the directory's own entries as the kernel lists them.
//
// No copy of a listing is kept between calls, only where the last call
// stopped and the rest of the kernel's last read (dirState): a guest
// paging through a directory costs one getdents pass, as on Linux, and a
// cookie the guest kept from earlier is found again by reading from the
// start. The host's memory does not grow with a directory's size or with
// how many descriptors of it are open: a copy of the listing kept per
// descriptor (until December) let a guest with 10,000 long names in a
// directory make the init hold 3 MB for each descriptor it opened on it,
// and the OOM killer end the container.
func (h *Host) fdReaddir(m memory, a []arg) Errno {
	e, errno := h.fds.get(a[0].I32())
	if errno != 0 {
		return errno
	}
	if e.kind != kindDir {
		// EBADF, as wasmtime answers (Linux: ENOTDIR).
		return ErrnoBadf
	}
	bufPtr, bufLen, cookie := u32(a[1]), u32(a[2]), u64(a[3])
	buf, ok := m.slice(bufPtr, bufLen)
	if !ok {
		return ErrnoFault
	}
	if _, ok := m.slice(u32(a[4]), 4); !ok {
		return ErrnoFault
	}
	used := 0
	// put writes entry i, cut at the buffer's end if it does not fit:
	// the guest sees a full buffer and asks again with a larger one.
	put := func(i, ino uint64, typ uint8, name string) {
		var hdr [direntSize]byte
		binary.LittleEndian.PutUint64(hdr[0:], i+1)
		binary.LittleEndian.PutUint64(hdr[8:], ino)
		binary.LittleEndian.PutUint32(hdr[16:], uint32(len(name)))
		hdr[20] = typ
		used += copy(buf[used:], hdr[:])
		used += copy(buf[used:], name)
	}
	if cookie < firstDirEntry && used < len(buf) {
		// ".." gets the directory's own inode, as in wasmtime: the real
		// parent of a mount's root is a host directory the guest never
		// sees.
		var dot unix.Stat_t
		_ = unix.Fstat(e.hostFd, &dot)
		for i, name := range []string{".", ".."}[cookie:] {
			if used < len(buf) {
				put(cookie+uint64(i), dot.Ino, filetypeDirectory, name)
			}
		}
	}
	if used < len(buf) {
		errno := h.readEntries(e, max(cookie, firstDirEntry), len(buf)-used, func(i uint64, ino uint64, typ uint8, name string) bool {
			put(i, ino, typ, name)
			return used < len(buf)
		})
		if errno != 0 {
			return errno
		}
	}
	m.putU32(u32(a[4]), uint32(used))
	return 0
}

// firstDirEntry is the number of a directory's first entry of its own,
// after "." and "..".
const firstDirEntry = 2

// dirState is where fd_readdir left a directory descriptor: reading the
// directory from offset off, the first entry the kernel gives (other than
// "." and "..") is entry idx.
//
// carry, when kept, is the kernel's records from that entry on which the
// last read fetched and the guest had no room for; the descriptor's kernel
// offset is then just past them, and the next call for an entry at or
// after idx reads on without a seek. The seek is what a directory must
// not get between two calls: where an offset is only a count of entries
// (tmpfs before Linux 6.6, ramfs), a seek after the guest removed what it
// had listed (an rm -r loop) counts from the start again and skips as many
// entries it never saw; and it costs ext4 its hash-ordered cache of the
// block. glibc's DIR keeps the same read-ahead.
type dirState struct {
	idx, off uint64
	carry    []byte
}

// maxCarried bounds the read-ahead kept for all directory descriptors
// together: a guest holding many directories partway through a listing
// gets seeks, not host memory, beyond it.
const maxCarried = 1 << 20

// setCarry keeps rec as e's read-ahead where the budget allows, and
// nothing otherwise.
func (t *table) setCarry(e *fdEntry, rec []byte) {
	t.carried -= cap(e.dir.carry)
	keep := append(e.dir.carry[:0], rec...) // rec may lie in e.dir.carry: copy allows the overlap
	if rec == nil || t.carried+cap(keep) > maxCarried {
		e.dir.carry = nil
		return
	}
	e.dir.carry = keep
	t.carried += cap(keep)
}

// readEntries lists the directory e from entry from on, calling put for
// each until it returns false or the directory ends, and records where it
// stopped: at the last entry it gave put, which the guest may ask for
// again (it was cut) or read past.
func (h *Host) readEntries(e *fdEntry, from uint64, room int, put func(i, ino uint64, typ uint8, name string) bool) Errno {
	if h.dents == nil {
		h.dents = make([]byte, 32<<10)
	}
	// About as many kernel records as the guest has room for (a record
	// is about as long as a WASI dirent): the rest of a larger read would
	// be parsed only to be dropped. 1 KiB holds at least one of any name.
	dents := h.dents[:min(len(h.dents), max(room+room/4, 1<<10))]
	st := &e.dir
	devices := h.view.devicesIn[e.guest]
	var b []byte
	var i, at uint64
	// From the first entry the directory is read afresh, as rewinddir
	// does: an entry made since the last read (before the position where
	// that one ended, on most file systems) is seen.
	switch {
	case from > firstDirEntry && st.carry != nil && st.idx <= from:
		b, i, at = st.carry, st.idx, st.off
	default:
		i, at = firstDirEntry, 0
		if from > firstDirEntry && st.idx >= firstDirEntry && st.idx <= from {
			i, at = st.idx, st.off
		}
		h.fds.setCarry(e, nil)
		if _, err := unix.Seek(e.hostFd, int64(at), unix.SEEK_SET); err != nil {
			return toErrno(err)
		}
	}
	for {
		if len(b) < 19 {
			n, err := unix.Getdents(e.hostFd, dents)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				h.fds.setCarry(e, nil)
				return toErrno(err)
			}
			if n <= 0 {
				st.idx, st.off = i, at
				h.fds.setCarry(e, nil)
				return 0
			}
			b = dents[:n]
		}
		reclen := int(binary.LittleEndian.Uint16(b[16:]))
		if reclen < 19 || reclen > len(b) {
			b = nil
			continue
		}
		rec := b
		ino := binary.LittleEndian.Uint64(b[0:])
		next := binary.LittleEndian.Uint64(b[8:])
		typ := b[18]
		name := b[19:reclen]
		if k := indexNul(name); k >= 0 {
			name = name[:k]
		}
		b = b[reclen:]
		start := at
		at = next
		if string(name) == "." || string(name) == ".." {
			continue
		}
		if i < from {
			i++
			continue
		}
		nm := string(name)
		d, granted := devices[nm]
		if !granted {
			d = dirent{direntType(e.hostFd, nm, typ), ino}
		}
		if !put(i, d.ino, d.typ, nm) {
			st.idx, st.off = i, start
			h.fds.setCarry(e, rec)
			return 0
		}
		i++
	}
}

func indexNul(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// direntType maps getdents' d_type, asking the file system when it did
// not say.
func direntType(dir int, name string, dt uint8) uint8 {
	switch dt {
	case unix.DT_DIR:
		return filetypeDirectory
	case unix.DT_REG:
		return filetypeRegularFile
	case unix.DT_LNK:
		return filetypeSymbolicLink
	case unix.DT_CHR:
		return filetypeCharacterDevice
	case unix.DT_BLK:
		return filetypeBlockDevice
	case unix.DT_SOCK:
		return filetypeSocketStream
	case unix.DT_FIFO:
		return filetypeUnknown
	}
	var st unix.Stat_t
	if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return filetypeUnknown
	}
	return filetypeOf(st.Mode)
}
