package preview1

import (
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// at resolves the guest path (ptr, n) relative to directory descriptor fd.
// Every path operation comes through here: it is the one place where the
// grant is checked (the view decides what exists, target.readOnly what may
// be written).
func (h *Host) at(m memory, fd int32, ptr, n uint32) (*target, Errno) {
	d, errno := h.fds.get(fd)
	if errno != 0 {
		return nil, errno
	}
	if d.kind != kindDir {
		// No directory to resolve from: EBADF, as wasmtime answers
		// (Linux: ENOTDIR, which path_open keeps: pathOpenOnce).
		return nil, ErrnoBadf
	}
	p, errno := m.path(ptr, n)
	if errno != 0 {
		return nil, errno
	}
	t, errno := h.view.resolve(d.start(), p)
	if errno != 0 {
		return nil, errno
	}
	t.dot = lastDot(p)
	lone := strings.TrimRight(p, "/") == "."
	switch {
	case lone && d.preopen == "":
		// A lone "." of a directory the guest opened is Linux's LAST_DOT
		// (rmdir EINVAL, unlink EISDIR, rename EBUSY), as lastDot
		// cannot tell: it is a preopen's own path only for a preopen.
		t.dot = 1
	case lone && t.guest == "/":
		// The container's "/" itself (wasi-libc sends "." of the "/"
		// preopen): Linux's LAST_ROOT.
		t.dot = dotRoot
	case t.dot == 2:
		// ".." lies in the directory it was looked up in, whose mount
		// rename compares (Linux: the parent path's), not in the
		// directory it names: rename("/tmp/..", "/tmp/x") is EBUSY,
		// not EXDEV from comparing "/" with /tmp.
		trimmed := strings.TrimRight(p, "/")
		if in, errno := h.view.resolve(d.start(), trimmed[:len(trimmed)-2]+"."); errno == 0 {
			t.parent = in.mount
			in.close()
		}
	}
	return t, 0
}

// dotRoot is target.dot for the container's "/" itself.
const dotRoot = 3

// lastDot is 1 when p's last component (trailing slashes aside) is ".",
// 2 when it is "..", 0 otherwise. A "." alone is 0: it is what wasi-libc
// sends for a preopen's own path (rmdir("/data") reaches the host as "."
// of the /data preopen), so it names the directory itself, a mount point
// for a preopen (TestMountPointReachedThroughItsOwnPreopen).
func lastDot(p string) int {
	p = strings.TrimRight(p, "/")
	i := strings.LastIndexByte(p, '/')
	switch p[i+1:] {
	case ".":
		if i < 0 {
			return 0
		}
		return 1
	case "..":
		return 2
	}
	return 0
}

// nameArg is the name to hand a kernel call that never follows its last
// component (mkdirat, unlinkat, renameat, symlinkat, linkat): with the
// guest's trailing slash kept, so that the kernel applies its own
// directory checks (ENOTDIR for "file/").
func (t *target) nameArg() string {
	if t.slash && t.name != "." && t.name != "" {
		return t.name + "/"
	}
	return t.name
}

// slashOnNonDir says the path ended in "/" but st, what it names, is not
// a directory: ENOTDIR to Linux ("file/").
func (t *target) slashOnNonDir(st *unix.Stat_t) bool {
	return t.slash && st.Mode&unix.S_IFMT != unix.S_IFDIR
}

// writable refuses a write to a read-only grant, and the removal or
// renaming of a mount point. Removing or renaming a name writes the
// directory holding it: for a mount point that directory lies in the
// mount below, and Linux answers EROFS only when that one is read-only,
// else EBUSY, however the mount point itself is granted (a read-only
// volume's rmdir or rename is EBUSY in a writable rootfs, as under runc).
func (t *target) writable(replacesObject bool) Errno {
	if replacesObject && t.mountRoot {
		if t.w.v.mounts[t.parent].ReadOnly {
			return ErrnoRofs
		}
		return ErrnoBusy
	}
	if t.readOnly() {
		return ErrnoRofs
	}
	return 0
}

// atFollow is at, then follows the target when lookupflags has
// SYMLINK_FOLLOW (or the path ended in "/"). A name gone missing behind a
// link that was swapped meanwhile is looked up again (retrySwapped).
func (h *Host) atFollow(m memory, fd int32, lookupflags, ptr, n uint32) (*target, Errno) {
	for try := 0; ; try++ {
		t, errno := h.at(m, fd, ptr, n)
		if errno != 0 {
			return nil, errno
		}
		if errno := t.followAll(lookupflags&lookupSymlinkFollow != 0); errno != 0 {
			t.close()
			if retrySwapped(errno, t.w, try) {
				continue
			}
			return nil, errno
		}
		return t, 0
	}
}

// followAll follows the target while it is a symlink, when follow says so
// (or the path ended in "/").
func (t *target) followAll(follow bool) Errno {
	if !follow && !t.slash {
		return 0
	}
	for {
		followed, errno := t.follow()
		if errno != 0 || !followed {
			return errno
		}
	}
}

// pathOpen opens a path. A name gone missing behind a link that was
// swapped meanwhile (a ConfigMap volume's "..data" while kubelet updates
// it) is opened again from the start (retrySwapped).
func (h *Host) pathOpen(m memory, a []arg) Errno {
	for try := 0; ; try++ {
		var w *walker
		errno := h.pathOpenOnce(m, a, &w)
		if retrySwapped(errno, w, try) {
			continue
		}
		return errno
	}
}

// pathOpenOnce is one try of pathOpen; *walked is set to the walk that
// resolved the path, for the caller to see whether it followed a link.
func (h *Host) pathOpenOnce(m memory, a []arg, walked **walker) Errno {
	dirflags, oflags := u32(a[1]), u32(a[4])
	base, fdflags := u64(a[5]), uint16(u32(a[7]))
	// The result is checked before the open: O_CREAT or O_TRUNC done and
	// then refused with EFAULT would change a file behind the guest's back.
	if _, ok := m.slice(u32(a[8]), 4); !ok {
		return ErrnoFault
	}
	if d, errno := h.fds.get(a[0].I32()); errno != 0 {
		return errno
	} else if d.kind == kindFile {
		// path_open from a file: ENOTDIR, as under wasmtime and Linux
		// (from a stream, and in the other path calls, EBADF: at).
		return ErrnoNotdir
	}
	if oflags&oflagDirectory != 0 && oflags&(oflagCreat|oflagExcl|oflagTrunc) != 0 {
		// A directory is not created, truncated or made exclusively by
		// an open: EINVAL, as wasmtime answers whatever is there (Linux
		// gives EINVAL to O_CREAT|O_DIRECTORY, EISDIR to O_TRUNC on a
		// directory, and opens one with O_EXCL alone).
		return ErrnoInval
	}
	t, errno := h.at(m, a[0].I32(), u32(a[2]), u32(a[3]))
	if errno != 0 {
		return errno
	}
	defer t.close()
	*walked = t.w

	read, write, flags := openFlags(base, oflags, fdflags)
	follow := dirflags&lookupSymlinkFollow != 0

	fd, errno := openWalked(t, flags, oflags, write, follow)
	if errno != 0 {
		return errno
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return toErrno(err)
	}
	if deviceMode(st.Mode) && t.name != "" {
		// Swapped in after isDevice looked: refused all the same.
		unix.Close(fd)
		return ErrnoPerm
	}
	if t.name == "" && t.w.v.mounts[t.mount].stream {
		// /dev/stdout and the others: the stream's own rules (no flag
		// change reaches the description conmon or the terminal shares).
		// NONBLOCK is the entry's own, emulated (rw), as on stdio.
		e := stdioEntry(slices.Index(streamNames[:], t.w.v.mounts[t.mount].Guest), fd)
		e.ownsHost = true
		e.flags = e.flags&fdflagAppend | fdflags&fdflagNonblock
		return h.addOpened(m, e, u32(a[8]))
	}
	if t.readOnly() && write && st.Mode&unix.S_IFMT != unix.S_IFIFO {
		// A file swapped in for the FIFO looked at above.
		unix.Close(fd)
		return ErrnoRofs
	}
	e, errno := openedEntry(t, fd, &st, read, write, fdflags)
	if errno != 0 {
		unix.Close(fd)
		return errno
	}
	return h.addOpened(m, e, u32(a[8]))
}

// openFlags are path_open's rights and flags as open(2)'s: whether the
// descriptor reads and writes, and the flags it is opened with, never
// following a last symlink (openWalked follows it itself, inside the
// grant) and never taking a terminal as the controlling one.
func openFlags(base uint64, oflags uint32, fdflags uint16) (read, write bool, flags int) {
	read = base&(rightFdRead|rightFdReaddir) != 0
	// APPEND alone asks for no write access: wasi-libc and Go give
	// open(O_RDONLY|O_APPEND) as the read right and APPEND, and Linux
	// (and wasmtime) make that a read-only descriptor whose writes fail
	// with EBADF. Taking APPEND for a write let such a descriptor write
	// the file, and refused it on a read-only grant with EROFS.
	// FD_ALLOCATE without FD_WRITE is wasi-libc's O_WRONLY through a
	// directory whose inheriting rights lack FD_WRITE (a read-only
	// mount's, View.inheriting): its O_RDONLY never asks for it, nor do
	// Go's or Rust's.
	write = base&(rightFdWrite|rightFdAllocate) != 0
	if !read && !write {
		// Neither asked for: a read-only open, as O_RDONLY (0) is on
		// Linux and as wasmtime and wazero read it (rights other than
		// these are not enforced by them, WASI#469); the descriptor
		// read nothing before.
		read = true
	}
	flags = unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NOCTTY
	switch {
	case read && write:
		flags |= unix.O_RDWR
	case write:
		flags |= unix.O_WRONLY
	default:
		flags |= unix.O_RDONLY
	}
	if oflags&oflagCreat != 0 {
		flags |= unix.O_CREAT
	}
	if oflags&oflagExcl != 0 {
		flags |= unix.O_EXCL
	}
	if oflags&oflagTrunc != 0 {
		flags |= unix.O_TRUNC
	}
	if oflags&oflagDirectory != 0 {
		flags |= unix.O_DIRECTORY
	}
	if fdflags&fdflagAppend != 0 {
		flags |= unix.O_APPEND
	}
	if fdflags&fdflagDsync != 0 {
		flags |= unix.O_DSYNC
	}
	if fdflags&(fdflagSync|fdflagRsync) != 0 {
		flags |= unix.O_SYNC
	}
	if fdflags&fdflagNonblock != 0 {
		flags |= unix.O_NONBLOCK
	}
	return read, write, flags
}

// openWalked opens the walk's last component with flags, following a
// last symlink when asked to (follow, or a trailing slash), and answers
// as Linux would where the target's grant is read-only: the kernel's
// read-only mount under the init refuses the same, so the two answers
// agree. Devices are refused: a guest cannot reach one through a path.
func openWalked(t *target, flags int, oflags uint32, write, follow bool) (int, Errno) {
	var fd int
	for {
		// Checked again after each symlink followed: its body may end
		// in "." or "/" too (target.follow).
		if (t.dot != 0 || t.name == ".") && flags&unix.O_CREAT != 0 {
			// A last "." or ".." (Linux's LAST_DOT, LAST_DOTDOT; a lone
			// "." too, a preopen's own path) names a directory that is
			// there: EEXIST to O_EXCL, else EISDIR, trailing slash or not.
			if flags&unix.O_EXCL != 0 {
				return -1, ErrnoExist
			}
			return -1, ErrnoIsdir
		}
		if t.slash && flags&unix.O_CREAT != 0 {
			// Linux: a trailing slash with O_CREAT is EISDIR, whatever is
			// there, the guest's or a symlink body's.
			return -1, ErrnoIsdir
		}
		if t.slash {
			flags |= unix.O_DIRECTORY
		}
		if t.readOnly() && (write || oflags&oflagTrunc != 0) {
			// Linux looks first: ENOENT for a missing file not to be
			// created, EEXIST for O_CREAT|O_EXCL on one that exists; a
			// symlink is followed to what it names.
			var st unix.Stat_t
			err := stat(t, &st)
			typ := st.Mode & unix.S_IFMT
			switch {
			case err == nil && flags&unix.O_CREAT != 0 && flags&unix.O_EXCL != 0:
				// O_EXCL never follows a link.
				return -1, ErrnoExist
			case err != nil && err != unix.ENOENT:
				// The lookup's own error (ENAMETOOLONG, ENOTDIR,
				// EACCES) comes before the mount's flag.
				return -1, toErrno(err)
			case err == nil && typ == unix.S_IFLNK && (follow || t.slash):
				followed, errno := t.follow()
				if errno != 0 {
					return -1, errno
				}
				if followed {
					continue
				}
			case err == nil && typ == unix.S_IFLNK:
				return -1, ErrnoLoop
			case err == unix.ENOENT && flags&unix.O_CREAT == 0:
				return -1, ErrnoNoent
			case err == nil && flags&unix.O_DIRECTORY != 0 && typ != unix.S_IFDIR:
				return -1, ErrnoNotdir
			case err == nil && typ == unix.S_IFDIR:
				return -1, ErrnoIsdir
			}
			truncates := typ == unix.S_IFREG && oflags&oflagTrunc != 0
			if err == nil && typ != unix.S_IFIFO && typ != unix.S_IFSOCK && !truncates && !mayWrite(t) {
				// Linux checks the file's permission before the
				// mount's read-only flag (may_open, then
				// mnt_want_write): a user who may not write the file
				// meets EACCES, as under runc. But a regular file
				// opened with O_TRUNC meets the mount's flag first
				// (do_open takes mnt_want_write before may_open, to
				// truncate): EROFS, whoever may write it.
				return -1, ErrnoAcces
			}
			if err != nil || (typ != unix.S_IFIFO && typ != unix.S_IFSOCK) {
				return -1, ErrnoRofs
			}
			// A FIFO or socket is no data of the mount's: Linux answers
			// EROFS for a file, directory or link only (inode_permission)
			// and ignores O_TRUNC on the rest, so a read-only volume's
			// FIFO opens for writing. Should a file be swapped in before
			// the open, no O_TRUNC reaches it and the check after the open
			// refuses it (as would the kernel's read-only mount under the
			// init): a write never reaches the mount's data.
			flags &^= unix.O_TRUNC
		}
		if isDevice(t) {
			return -1, ErrnoPerm
		}
		var err error
		// At the descriptor limit the view's spares and the walk's own
		// steps below the top make room for what the walk took, which
		// the kernel's lookup would not have taken (it takes the new
		// descriptor before it creates anything): openLast.
		fd, err = t.w.openLast(func() (int, error) { return openTarget(t, flags) })
		// O_NOFOLLOW makes a symlink at the end answer ELOOP, or ENOTDIR
		// with O_DIRECTORY: follow it when the guest asked to.
		if (err == unix.ELOOP || err == unix.ENOTDIR) && (follow || t.slash) {
			followed, errno := t.follow()
			if errno != 0 {
				return -1, errno
			}
			if followed {
				continue
			}
		}
		if err != nil {
			return -1, toErrno(err)
		}
		break
	}
	return fd, 0
}

// openedEntry is the descriptor table's entry of fd, just opened at t
// and described by st, with the rights its kind and access allow, or the
// errno that refuses a directory the guest may not hold (kept). The
// caller closes fd on an errno.
func openedEntry(t *target, fd int, st *unix.Stat_t, read, write bool, fdflags uint16) (*fdEntry, Errno) {
	e := &fdEntry{hostFd: fd, ownsHost: true, filetype: filetypeOf(st.Mode), mount: t.mount, read: read, write: write}
	e.flags = fdflags & (fdflagAppend | fdflagNonblock | fdflagDsync | fdflagRsync | fdflagSync)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if errno := kept(t.guest); errno != 0 {
			return nil, errno
		}
		e.kind, e.guest, e.write = kindDir, t.guest, false
		e.rightsBase, e.rightsInheriting = rightsDirBase, t.w.v.inheriting(t.mount, t.guest)
	case unix.S_IFCHR, unix.S_IFIFO, unix.S_IFSOCK:
		e.kind, e.pollable = kindFile, true
		// A FIFO's description is runw's own: made non-blocking, it is
		// read and written as a socket is, tried first. A read with no
		// writer then answers 0 (end of file), blocking or not, as Linux
		// answers it; a poll first (the blocking way) waited for a
		// writer that may never come, since poll reports nothing on a
		// FIFO that has never had one.
		// So is a character device's but a terminal's: /dev/random is
		// written at once, as on Linux, but never polls writable (since
		// Linux 5.18 only before the pool is ready), and a write that
		// waited for POLLOUT first never returned.
		typ := st.Mode & unix.S_IFMT
		if (typ == unix.S_IFIFO || typ == unix.S_IFCHR && !isTerminal(fd)) && unix.SetNonblock(fd, true) == nil {
			e.hostNonblock = true
		}
	default:
		e.kind = kindFile
	}
	if e.kind == kindFile {
		e.rightsBase = rightsFileBase
		if !read {
			e.rightsBase &^= rightFdRead
		}
		if !write {
			e.rightsBase &^= rightFdWrite | rightFdAllocate | rightFdFilestatSetSize
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && isTerminal(fd) {
			// /dev/tty under -t: a terminal to wasi-libc's isatty, which
			// is "a character device without seek and tell" (stdioEntry).
			e.rightsBase &^= rightFdSeek | rightFdTell
		}
		e.rightsInheriting = e.rightsBase
	}
	return e, 0
}

// addOpened adds an entry path_open made and writes its number at fdp.
func (h *Host) addOpened(m memory, e *fdEntry, fdp uint32) Errno {
	n, errno := h.fds.add(e)
	if errno != 0 {
		unix.Close(e.hostFd)
		return errno
	}
	if !m.putU32(fdp, uint32(n)) {
		h.fds.remove(n)
		return ErrnoFault
	}
	return 0
}

// isDevice says the target is a device node found in the rootfs or a
// directory mount, which no guest may open. Devices are granted one by
// one, as file mounts (/dev/null and the other defaults, a terminal); a
// node an image or a volume carries (a host disk's, /dev/mem's) is
// refused, as the devices cgroup refuses it to a native container, and
// before it is opened (opening some devices acts on them). The cgroup
// refuses it again (runtime/cgroups.go, placingManager).
func isDevice(t *target) bool {
	var st unix.Stat_t
	return t.name != "" && t.name != "." && unix.Fstatat(t.dir, t.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && deviceMode(st.Mode)
}

// deviceMode says mode is a device node's. The only devices a guest
// reaches are the ones granted (isDevice), and they are the host's own
// nodes (/dev/null, /dev/tty, ...), where a native container has nodes of
// its own /dev. So a guest may not set their times (EPERM, from
// fd_filestat_set_times and path_filestat_set_times): the attack it
// stops is a guest writing the host's /dev/null's times, which any other
// container reads back (a channel between containers with no network)
// and which are the host's to keep.
func deviceMode(mode uint32) bool {
	typ := mode & unix.S_IFMT
	return typ == unix.S_IFCHR || typ == unix.S_IFBLK
}

// openTarget opens the target with flags; O_NOFOLLOW is in flags, so a
// symlink at the last component answers ELOOP and the caller decides.
// A read-only grant's creations are caught here too: O_CREAT is tried
// without creating first.
func openTarget(t *target, flags int) (int, error) {
	if t.name == "" {
		// A file mount: reopen runw's own descriptor for it. The magic
		// link names the descriptor runw opened on the mount's source at
		// start, never a guest path: no name the guest controls is
		// resolved, so a guest cannot steer it to another object.
		if flags&unix.O_CREAT != 0 && flags&unix.O_EXCL != 0 {
			return -1, unix.EEXIST
		}
		if flags&unix.O_DIRECTORY != 0 {
			return -1, unix.ENOTDIR
		}
		if t.w.v.mounts[t.mount].stream {
			// A standard stream: shared, whatever the flags ask (O_TRUNC
			// cannot truncate a pipe, nor O_NONBLOCK change runw's
			// stream); pathOpen makes it a stdio entry.
			return unix.FcntlInt(uintptr(t.dir), unix.F_DUPFD_CLOEXEC, 0)
		}
		return unix.Open("/proc/self/fd/"+strconv.Itoa(t.dir), flags&^(unix.O_NOFOLLOW|unix.O_CREAT|unix.O_EXCL), 0)
	}
	if t.readOnly() && flags&unix.O_CREAT != 0 {
		fd, err := unix.Openat(t.dir, t.name, flags&^(unix.O_CREAT|unix.O_EXCL), 0)
		switch {
		case err == unix.ENOENT:
			return -1, unix.EROFS
		case err == unix.ELOOP && flags&unix.O_EXCL != 0:
			// A symlink (O_NOFOLLOW's ELOOP): a name taken, which
			// O_EXCL never follows, dangling, looping or not.
			return -1, unix.EEXIST
		case err == nil && flags&unix.O_EXCL != 0:
			unix.Close(fd)
			return -1, unix.EEXIST
		case err == nil:
			// O_CREAT of an existing directory is EISDIR, as Linux
			// answers it on any mount, read-only or not.
			var st unix.Stat_t
			if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
				unix.Close(fd)
				return -1, unix.EISDIR
			}
		}
		return fd, err
	}
	return unix.Openat(t.dir, t.name, flags, 0o666)
}

func (h *Host) pathCreateDirectory(m memory, a []arg) Errno {
	return h.createAt(m, a[0].I32(), u32(a[1]), u32(a[2]), true, func(dir int, name string) error {
		return unix.Mkdirat(dir, name, 0o777)
	})
}

// createAt makes a new object at a path: never over a mount point or the
// directory itself (EEXIST), never in a read-only grant (EROFS). dir says
// the object is a directory, whose new name may end in "/".
func (h *Host) createAt(m memory, fd int32, ptr, n uint32, dir bool, create func(dir int, name string) error) Errno {
	t, errno := h.at(m, fd, ptr, n)
	if errno != 0 {
		return errno
	}
	defer t.close()
	if t.mountRoot || t.name == "." {
		return ErrnoExist
	}
	if errno := t.creatable(dir); errno != 0 {
		return errno
	}
	return toErrno(create(t.dir, t.nameArg()))
}

// creatable refuses a new name in a read-only grant as Linux does, which
// looks the name up before it asks for write access (vacant), else EROFS.
// slashOK says the name may end in "/" (mkdir's).
func (t *target) creatable(slashOK bool) Errno {
	if !t.readOnly() {
		return 0
	}
	if errno := t.vacant(slashOK); errno != 0 {
		return errno
	}
	return ErrnoRofs
}

// vacant answers for a new name as Linux's lookup of it does: EEXIST
// when the name is taken (mkdir -p loops rely on it), the lookup's own
// error (ENAMETOOLONG past NAME_MAX, ENOTDIR, EACCES), ENOENT for a
// missing name ending in "/" unless slashOK.
func (t *target) vacant(slashOK bool) Errno {
	var st unix.Stat_t
	switch err := stat(t, &st); {
	case err == nil:
		return ErrnoExist
	case err != unix.ENOENT:
		return toErrno(err)
	case t.slash && !slashOK:
		return ErrnoNoent
	}
	return 0
}

// mayWrite says the guest's user may write the object t names, by its
// permission alone (faccessat2 AT_EACCESS, the init's credentials being
// the guest's): only EACCES says no; a read-only mount's EROFS, or a
// call that fails otherwise, leaves the answer to the caller.
func mayWrite(t *target) bool {
	flags := unix.AT_EACCESS | unix.AT_SYMLINK_NOFOLLOW
	if t.name == "" || t.name == "." {
		flags = unix.AT_EACCESS | unix.AT_EMPTY_PATH
	}
	return unix.Faccessat2(t.dir, t.name, unix.W_OK, flags) != unix.EACCES
}

// stat stats the target without following it. A directory itself ("."),
// by its descriptor: "." is a lookup, which needs search permission on the
// directory, and a native stat of a directory the process may not search
// (an unreadable grant, openGrant) succeeds.
func stat(t *target, st *unix.Stat_t) error {
	if t.name == "" || t.name == "." {
		return unix.Fstatat(t.dir, "", st, unix.AT_EMPTY_PATH)
	}
	return unix.Fstatat(t.dir, t.name, st, unix.AT_SYMLINK_NOFOLLOW)
}

func (h *Host) pathFilestatGet(m memory, a []arg) Errno {
	t, errno := h.atFollow(m, a[0].I32(), u32(a[1]), u32(a[2]), u32(a[3]))
	if errno != 0 {
		return errno
	}
	defer t.close()
	var st unix.Stat_t
	if err := stat(t, &st); err != nil {
		return toErrno(err)
	}
	if t.slashOnNonDir(&st) {
		return ErrnoNotdir
	}
	return putFilestat(m, u32(a[4]), &st, filetypeOf(st.Mode))
}

func (h *Host) pathFilestatSetTimes(m memory, a []arg) Errno {
	ts, errno := times(u64(a[4]), u64(a[5]), u32(a[6]))
	if errno != 0 {
		return errno
	}
	if omitsBoth(ts) {
		_, errno := h.fds.get(a[0].I32())
		return errno
	}
	t, errno := h.atFollow(m, a[0].I32(), u32(a[1]), u32(a[2]), u32(a[3]))
	if errno != 0 {
		return errno
	}
	defer t.close()
	var st unix.Stat_t
	serr := stat(t, &st)
	if serr == nil && t.slashOnNonDir(&st) {
		// Before EROFS, as Linux and wasmtime answer.
		return ErrnoNotdir
	}
	if t.readOnly() {
		// Linux looks first: ENOENT for a missing name, then EROFS.
		if serr != nil {
			return toErrno(serr)
		}
		return ErrnoRofs
	}
	if serr == nil && deviceMode(st.Mode) {
		return ErrnoPerm
	}
	if t.name == "" {
		return toErrno(unix.UtimesNanoAt(t.dir, "", ts[:], unix.AT_EMPTY_PATH))
	}
	return toErrno(unix.UtimesNanoAt(t.dir, t.name, ts[:], unix.AT_SYMLINK_NOFOLLOW))
}

func (h *Host) pathLink(m memory, a []arg) Errno {
	if u32(a[1])&lookupSymlinkFollow != 0 {
		// linkat(AT_SYMLINK_FOLLOW) is refused, as wasmtime refuses it
		// (its test programs require EINVAL): WASI 0.2 has no such link.
		for _, fd := range []int32{a[0].I32(), a[4].I32()} {
			if _, errno := h.fds.get(fd); errno != 0 {
				return errno
			}
		}
		return ErrnoInval
	}
	src, errno := h.atFollow(m, a[0].I32(), 0, u32(a[2]), u32(a[3]))
	if errno != 0 {
		return errno
	}
	defer src.close()
	// Linux's order: the source is looked up first, to its last name
	// (ENOENT, ENOTDIR), then the new name's path and the name itself
	// (EEXIST), its mount's writability (EROFS), and last whether both
	// are on one mount (EXDEV).
	var st unix.Stat_t
	if err := stat(src, &st); err != nil {
		return toErrno(err)
	}
	if src.slashOnNonDir(&st) {
		return ErrnoNotdir
	}
	dst, errno := h.at(m, a[4].I32(), u32(a[5]), u32(a[6]))
	if errno != 0 {
		return errno
	}
	defer dst.close()
	if dst.mountRoot {
		return ErrnoExist
	}
	if errno := dst.vacant(false); errno != 0 {
		return errno
	}
	if dst.readOnly() {
		return ErrnoRofs
	}
	if src.mountRoot && src.name != "" && src.mount == dst.mount {
		// A mount's root directory, linked within its mount: Linux's
		// vfs_link refuses a directory (EPERM).
		return ErrnoPerm
	}
	if src.name == "" || src.mountRoot || src.mount != dst.mount {
		return ErrnoXdev
	}
	// The source's name without its trailing slash: "x/" makes linkat
	// follow x when it is a symlink, whatever its flags, and one swapped
	// in since stat would be followed by the kernel, to a host path runw
	// never read. A directory (what "x/" must name) is refused by the
	// kernel as before (EPERM).
	return toErrno(unix.Linkat(src.dir, src.name, dst.dir, dst.nameArg(), 0))
}

func (h *Host) pathReadlink(m memory, a []arg) Errno {
	t, errno := h.at(m, a[0].I32(), u32(a[1]), u32(a[2]))
	if errno != 0 {
		return errno
	}
	defer t.close()
	if t.name == "" || t.name == "." || t.mountRoot {
		return ErrnoInval
	}
	buf, ok := m.slice(u32(a[3]), u32(a[4]))
	if !ok {
		return ErrnoFault
	}
	if t.slash {
		// "link/" asks for what the link names, as a directory: Linux
		// follows it and answers EINVAL (a directory is no link),
		// ENOTDIR or ENOENT. runw follows it in the view. Handed to
		// readlinkat with its slash, the kernel followed the guest's
		// link itself, an absolute target from the init's own root,
		// and its errno told the guest whether a host path existed.
		if errno := t.followAll(true); errno != 0 {
			return errno
		}
		var st unix.Stat_t
		if err := stat(t, &st); err != nil {
			return toErrno(err)
		}
		if t.slashOnNonDir(&st) {
			return ErrnoNotdir
		}
		return ErrnoInval
	}
	// A buffer too small, none at all included, gets the start of the
	// target, as under wasmtime (readlink(2) answers EINVAL to an empty
	// one): a guest growing its buffer from 0 until the result fits
	// (Rust's std does) must not fail on the first try.
	target := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(t.dir, t.nameArg(), target)
	if err != nil {
		return toErrno(err)
	}
	n = copy(buf, target[:n])
	if !m.putU32(u32(a[5]), uint32(n)) {
		return ErrnoFault
	}
	return 0
}

func (h *Host) pathRemoveDirectory(m memory, a []arg) Errno {
	return h.removeAt(m, a, unix.AT_REMOVEDIR)
}

func (h *Host) pathUnlinkFile(m memory, a []arg) Errno { return h.removeAt(m, a, 0) }

// removeAt is path_remove_directory and path_unlink_file: never in a
// read-only grant, never a mount point. For a mount point Linux checks
// the kind before it finds the mount busy: unlink of a directory is
// EISDIR, rmdir of a file ENOTDIR (after EROFS, which writable gives).
func (h *Host) removeAt(m memory, a []arg, flags int) Errno {
	t, errno := h.at(m, a[0].I32(), u32(a[1]), u32(a[2]))
	if errno != 0 {
		return errno
	}
	defer t.close()
	// Linux refuses ".", ".." and "/" first: rmdir with EINVAL, ENOTEMPTY
	// and EBUSY, unlink with EISDIR; a "." naming a mount's root was
	// EBUSY.
	switch {
	case t.dot == 1 && flags == unix.AT_REMOVEDIR:
		return ErrnoInval
	case t.dot == 2 && flags == unix.AT_REMOVEDIR:
		return ErrnoNotempty
	case t.dot == dotRoot && flags == unix.AT_REMOVEDIR:
		return ErrnoBusy
	case t.dot != 0:
		return ErrnoIsdir
	}
	if errno := t.writable(true); errno == ErrnoBusy {
		switch dir := t.w.v.mounts[t.mount].dir; {
		case dir && flags == 0:
			return ErrnoIsdir
		case !dir && flags == unix.AT_REMOVEDIR:
			return ErrnoNotdir
		}
		return errno
	} else if errno != 0 {
		return errno
	}
	return toErrno(unix.Unlinkat(t.dir, t.nameArg(), flags))
}

func (h *Host) pathRename(m memory, a []arg) Errno {
	src, errno := h.at(m, a[0].I32(), u32(a[1]), u32(a[2]))
	if errno != 0 {
		return errno
	}
	defer src.close()
	dst, errno := h.at(m, a[3].I32(), u32(a[4]), u32(a[5]))
	if errno != 0 {
		return errno
	}
	defer dst.close()
	// Linux compares the mounts before it asks for write access: a
	// rename from a read-write mount to a read-only one is EXDEV, not
	// EROFS (a mount point itself is EBUSY, below). The mounts compared
	// are those of the directories holding the two names: a mount
	// point's is the mount below it.
	//
	// A name "." or ".." lies in the directory it is the last component
	// of: "." of a mount's root in that mount. Linux then refuses to move
	// it, or to replace it, with EBUSY (it was EXDEV for a mount's root).
	held := func(t *target) int {
		if t.dot == 1 || t.dot == dotRoot {
			return t.mount
		}
		return t.parent
	}
	if held(src) != held(dst) {
		return ErrnoXdev
	}
	if src.dot != 0 || dst.dot != 0 {
		return ErrnoBusy
	}
	if errno := src.writable(true); errno != 0 {
		return errno
	}
	if errno := dst.writable(true); errno == ErrnoBusy {
		// Over a mount point, Linux checks the kinds first: a file
		// over a directory is EISDIR, a directory over a file ENOTDIR.
		// The source is looked up first: a missing one is ENOENT.
		var st unix.Stat_t
		if err := stat(src, &st); err != nil {
			return toErrno(err)
		}
		switch srcDir, dstDir := st.Mode&unix.S_IFMT == unix.S_IFDIR, dst.w.v.mounts[dst.mount].dir; {
		case !srcDir && dstDir:
			return ErrnoIsdir
		case srcDir && !dstDir:
			return ErrnoNotdir
		}
		return errno
	} else if errno != 0 {
		return errno
	}
	if src.mount != dst.mount {
		return ErrnoXdev
	}
	if errno := src.holdsMount(); errno != 0 {
		return errno
	}
	if errno := dst.holdsMount(); errno != 0 {
		return errno
	}
	return toErrno(unix.Renameat(src.dir, src.nameArg(), dst.dir, dst.nameArg()))
}

// holdsMount refuses to move a directory with a mount of the view below
// it (a masked path, a bind, a tmpfs). The view's mounts stay at their
// guest paths, so the directory renamed would show, under its new name,
// what they hide: a masked file's or directory's content, the mount
// point beneath a grant. Linux moves the mounts along with the directory;
// runw cannot, and answers EBUSY as for a mount point itself.
func (t *target) holdsMount() Errno {
	prefix := t.guest
	if prefix != "/" {
		prefix += "/"
	}
	for _, m := range t.w.v.mounts[1:] {
		if strings.HasPrefix(m.Guest, prefix) {
			return ErrnoBusy
		}
	}
	return 0
}

func (h *Host) pathSymlink(m memory, a []arg) Errno {
	old, errno := m.path(u32(a[0]), u32(a[1]))
	if errno != 0 {
		return errno
	}
	if strings.IndexByte(old, 0) >= 0 {
		return ErrnoInval
	}
	if strings.HasPrefix(old, "/") {
		// A guest may follow the image's absolute links (inside its view),
		// but not make new ones: wasmtime refuses them the same way, and
		// the WASI test suite requires it. (A relative link may still
		// climb with "..", as on Linux: a link left in a volume means
		// what it says only inside the container, for a native container
		// too; host tools must not follow links in a container's volume.)
		return ErrnoPerm
	}
	// The link's text is stored as given: an absolute target is resolved
	// later inside the container's view, like any other.
	return h.createAt(m, a[2].I32(), u32(a[3]), u32(a[4]), false, func(dir int, name string) error {
		err := unix.Symlinkat(old, dir, name)
		if err == unix.EEXIST && strings.HasSuffix(name, "/") {
			// "file/" names no directory: ENOTDIR, as wasmtime answers
			// (Linux says the name is taken). A link to a directory
			// names one ("dirlink/": EEXIST, to both), and a dangling
			// or looping link is a name taken (Linux).
			var st unix.Stat_t
			if unix.Fstatat(dir, strings.TrimSuffix(name, "/"), &st, 0) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return unix.ENOTDIR
			}
		}
		return err
	})
}

// fromRoot resolves the absolute guest path p from the view's "/", as the
// guest's own calls do; "/" itself answers EISDIR (there is no target
// for it).
func (v *View) fromRoot(p string) (*target, Errno) {
	i, ok := v.byGuest["/"]
	if !ok {
		return nil, ErrnoNoent
	}
	rel := strings.TrimLeft(path.Clean("/"+p), "/")
	if rel == "" {
		return nil, ErrnoIsdir
	}
	return v.resolve(step{fd: v.mounts[i].fd, guest: "/", mount: i}, rel)
}

// CheckDir is nil when the absolute guest path p is a directory in the
// view, following its links inside the view (never on the host: a link
// to the host's /tmp is the rootfs's /tmp), and otherwise the error
// chdir(2) gives there: ENOTDIR for a file (or a file mount), ENOENT for
// nothing, ELOOP, EACCES. Used for an exec'd process's cwd, where runc's
// error names chdir's.
func (v *View) CheckDir(p string) error {
	t, errno := v.fromRoot(p)
	if errno == ErrnoIsdir {
		return nil // "/"
	}
	if errno != 0 {
		return hostErrno(errno)
	}
	defer t.close()
	for {
		switch t.name {
		case ".":
			return nil // a directory
		case "":
			return unix.ENOTDIR // a file mount
		}
		var st unix.Stat_t
		if err := unix.Fstatat(t.dir, t.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				return nil
			}
			return unix.ENOTDIR
		}
		if followed, errno := t.follow(); errno != 0 {
			return hostErrno(errno)
		} else if !followed {
			return unix.ENOENT
		}
	}
}

// OpenFile opens the regular file at the absolute guest path p through
// the view for reading, following symlinks inside it as the guest's own
// opens do: the resolver reads the container's /etc/hosts and
// /etc/resolv.conf with it, so an image whose /etc/resolv.conf is a
// symlink to the host's path still gets the container's file, never the
// host's.
func (v *View) OpenFile(p string) (*os.File, error) {
	t, errno := v.fromRoot(p)
	if errno == ErrnoIsdir {
		return nil, unix.EISDIR
	}
	if errno != 0 {
		return nil, unix.ENOENT
	}
	defer t.close()
	for {
		if isDevice(t) {
			// The resolver reads files, never devices (as path_open).
			return nil, unix.EPERM
		}
		flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NONBLOCK
		if t.slash {
			// A symlink's body ending in "/" (target.follow) names a
			// directory: a file there is ENOTDIR, as on Linux.
			flags |= unix.O_DIRECTORY
		}
		fd, err := openTarget(t, flags)
		if err == unix.ELOOP || err == unix.ENOTDIR && t.slash {
			followed, errno := t.follow()
			if errno != 0 {
				return nil, unix.ENOENT
			}
			if followed {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		f := os.NewFile(uintptr(fd), p)
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			f.Close()
			return nil, unix.EINVAL
		}
		return f, nil
	}
}

// openResolverFile is netdns.Files over the view (OpenFile), which never
// answers a nil *os.File as a file.
func (v *View) openResolverFile(p string) (io.ReadCloser, error) {
	f, err := v.OpenFile(p)
	if err != nil {
		return nil, err
	}
	return f, nil
}
