package preview1

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// fdReaddir serves a directory's entries from cookie on. Entry i has
// d_next i+1; "." and ".." come first, as wasmtime and wasi-libc expect.
// A read from cookie 0 reads the directory afresh; later cookies are served
// from that listing, so that a guest paging through a large directory
// sees one consistent snapshot and costs one getdents pass.
func (h *Host) fdReaddir(m memory, a []arg) Errno {
	e, errno := h.fds.get(a[0].I32())
	if errno != 0 {
		return errno
	}
	if e.kind != kindDir {
		return ErrnoNotdir
	}
	bufPtr, bufLen, cookie := u32(a[1]), u32(a[2]), u64(a[3])
	buf, ok := m.slice(bufPtr, bufLen)
	if !ok {
		return ErrnoFault
	}
	if cookie == 0 || e.dir == nil {
		list, errno := readDir(e.hostFd)
		if errno != 0 {
			return errno
		}
		e.dir = list
	}
	used := 0
	var hdr [direntSize]byte
	for i := cookie; i < uint64(len(e.dir)) && used < len(buf); i++ {
		d := e.dir[i]
		clear(hdr[:])
		binary.LittleEndian.PutUint64(hdr[0:], i+1)
		binary.LittleEndian.PutUint64(hdr[8:], d.ino)
		binary.LittleEndian.PutUint32(hdr[16:], uint32(len(d.name)))
		hdr[20] = d.typ
		// A record that does not fit is cut at the buffer's end: the
		// guest sees a full buffer and asks again with a larger one.
		used += copy(buf[used:], hdr[:])
		used += copy(buf[used:], d.name)
	}
	if !m.putU32(u32(a[4]), uint32(used)) {
		return ErrnoFault
	}
	return 0
}

// readDir lists the directory open at fd from its start.
func readDir(fd int) ([]dirent, Errno) {
	if _, err := unix.Seek(fd, 0, unix.SEEK_SET); err != nil {
		return nil, toErrno(err)
	}
	// ".." gets the directory's own inode, as in wasmtime: the real
	// parent of a mount's root is a host directory the guest never sees.
	var dot unix.Stat_t
	_ = unix.Fstat(fd, &dot)
	list := []dirent{
		{ino: dot.Ino, typ: filetypeDirectory, name: "."},
		{ino: dot.Ino, typ: filetypeDirectory, name: ".."},
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, toErrno(err)
		}
		if n <= 0 {
			break
		}
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.LittleEndian.Uint16(b[16:]))
			if reclen == 0 || reclen > len(b) {
				break
			}
			ino := binary.LittleEndian.Uint64(b[0:])
			typ := b[18]
			name := b[19:reclen]
			if i := indexNul(name); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			if s := string(name); s != "." && s != ".." {
				list = append(list, dirent{ino: ino, typ: direntType(fd, s, typ), name: s})
			}
		}
	}
	return list, 0
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
