package preview1

import (
	"fmt"
	"path"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Mount is one part of the container's file view: a host directory or file
// seen by the guest at Guest.
type Mount struct {
	// Guest is the absolute, clean path inside the container ("/" for the
	// rootfs, which must come first).
	Guest string
	// Host is the granted host path. Like runc resolving a bind source at
	// mount time, it is opened once, on the host, following the host's
	// symlinks: it is the spec author's choice, not the guest's.
	Host string
	// ReadOnly refuses every write through this mount with EROFS.
	ReadOnly bool
	// Shallow leaves out the submounts of a directory grant (a bind that
	// is not an rbind): the guest sees what lies under them, as a
	// process under runc does.
	Shallow bool
}

// mountPoint is a Mount with the descriptor the resolver starts from.
type mountPoint struct {
	Mount
	// fd is O_RDONLY|O_DIRECTORY for a directory, O_PATH for a file, or
	// for a stream one of the guest's standard streams.
	fd  int
	dir bool
	// tree holds the private copy of the mount fd lies in (confine), or
	// is -1. Closing it would unmount the copy's submounts.
	tree int
	// stream says fd is a standard stream the guest opens by name
	// (/dev/stdout): an open shares it (a duplicate), as Linux's
	// /dev/stdout, a link to /proc/self/fd/1, reaches the same pipe.
	stream bool
}

// streamNames are the names runtime-spec links to the standard streams.
var streamNames = [3]string{"/dev/stdin", "/dev/stdout", "/dev/stderr"}

// addStreams makes /dev/stdin, /dev/stdout and /dev/stderr the guest's
// standard streams, where the spec mounts nothing of its own there: a
// server told to log to /dev/stdout must reach the engine's log, not a
// regular file in the container's /dev. The streams are held as
// duplicates and shared, never reopened by path: no name in /proc is
// resolved, and a pipe (what engines give) could not be a Landlock rule.
func (v *View) addStreams(stdio [3]int) error {
	for i, name := range streamNames {
		if _, taken := v.byGuest[name]; taken || stdio[i] < 0 {
			continue
		}
		fd, err := unix.FcntlInt(uintptr(stdio[i]), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		v.byGuest[name] = len(v.mounts)
		v.mounts = append(v.mounts, mountPoint{Mount: Mount{Guest: name, Host: fmt.Sprintf("(fd %d)", stdio[i])}, fd: fd, tree: -1, stream: true})
		v.index(name, v.mounts[len(v.mounts)-1])
	}
	return nil
}

// View is the container's file namespace: the rootfs at "/" and each mount
// at its destination, a later mount hiding an earlier one at the same path
// as on Linux.
type View struct {
	mounts  []mountPoint
	byGuest map[string]int
	// devicesIn holds, by directory, the file grants that are device
	// nodes (/dev/null and the other defaults, a masked file) and the
	// standard streams (/dev/stdout), with the WASI file type and inode
	// stat gives them. They are bound over placeholders that getdents
	// calls regular files (the streams: runc's links to /proc/self/fd);
	// fd_readdir says what stat says, as a native container's /dev does.
	// A walker trusting the listing (ripgrep on "/") read /dev/zero as a
	// file, without end; one that took /dev/stdout for the link it was
	// listed as met EINVAL from readlink.
	devicesIn map[string]map[string]dirent
	// spares are descriptors held in reserve (duplicates of the
	// rootfs's, -1 while given up): a walk opens a descriptor for each
	// directory on its way, where the kernel's own lookup needs none, so
	// a guest at its RLIMIT_NOFILE met EMFILE on stat("/d/sub/f"), and on
	// an open with one descriptor left, that Linux answers. The walk
	// gives them up for the descriptors it needs (walkOpen), and takes
	// them back when it is done, once descriptors are free again. Two:
	// past them the walk closes the steps it holds but the top (walker.open),
	// and going down it needs the top's and the next one's at once.
	spares [2]atomic.Int32
}

// noOpenat2 is set where the kernel has no openat2 (before 5.6), or a
// seccomp profile denies it (EPERM):
// every path then takes the step-by-step walk, which needs only openat
// with O_NOFOLLOW and is just as strict (tests run both). Atomic: every
// host in the process (a test runs several at once) reads it.
var noOpenat2 atomic.Bool

// maxSymlinks bounds the links followed in one resolution, as Linux's
// MAXSYMLINKS (40): a loop answers ELOOP.
const maxSymlinks = 40

// NewView opens every mount's host path. The descriptors are taken by the
// init while it still has the credentials it was started with, so a mount
// the guest's user could not open by its host path stays reachable, as a
// bind mount made by runc would be.
func NewView(mounts []Mount) (*View, error) {
	if len(mounts) == 0 || mounts[0].Guest != "/" {
		return nil, fmt.Errorf("the container's view must start with the rootfs at /")
	}
	v := &View{byGuest: map[string]int{}}
	for i := range v.spares {
		v.spares[i].Store(-1)
	}
	for _, m := range mounts {
		m.Guest = path.Clean("/" + m.Guest)
		fd, dir, err := openGrant(m.Host, m.Guest)
		if err != nil {
			v.Close()
			return nil, err
		}
		if !dir && m.Guest == "/" {
			unix.Close(fd)
			v.Close()
			return nil, fmt.Errorf("rootfs %q is not a directory", m.Host)
		}
		tree := -1
		if dir {
			fd, tree = confine(fd, m.Guest == "/" || m.Shallow, m.ReadOnly)
		}
		v.byGuest[m.Guest] = len(v.mounts)
		v.mounts = append(v.mounts, mountPoint{Mount: m, fd: fd, dir: dir, tree: tree})
	}
	v.indexDevices()
	v.keepSpare()
	return v, nil
}

// keepSpare takes the spare descriptors back, those given up, while
// descriptors are free.
func (v *View) keepSpare() {
	if len(v.mounts) == 0 {
		return
	}
	for i := range v.spares {
		if v.spares[i].Load() >= 0 {
			continue
		}
		fd, err := unix.FcntlInt(uintptr(v.mounts[0].fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return
		}
		if !v.spares[i].CompareAndSwap(-1, int32(fd)) {
			unix.Close(fd)
		}
	}
}

// walkOpen opens one of a walk's own descriptors; at the descriptor limit
// it gives up a spare and tries again, once for each.
func (v *View) walkOpen(open func() (int, error)) (int, error) {
	fd, err := open()
	for i := range v.spares {
		if err != unix.EMFILE {
			break
		}
		if spare := v.spares[i].Swap(-1); spare >= 0 {
			unix.Close(int(spare))
			fd, err = open()
		}
	}
	return fd, err
}

// dirent is what fd_readdir says of a name whose placeholder getdents
// would misdescribe.
type dirent struct {
	typ uint8
	ino uint64
}

// indexDevices fills devicesIn from the file grants and streams the view
// ends up with (byGuest: a later mount at a path hides an earlier one
// there).
func (v *View) indexDevices() {
	for guest, i := range v.byGuest {
		v.index(guest, v.mounts[i])
	}
}

// index records mp, seen at guest, in devicesIn if it is a device node or
// a stream; addStreams indexes the streams it adds, after NewView.
func (v *View) index(guest string, mp mountPoint) {
	var st unix.Stat_t
	if mp.dir || unix.Fstat(mp.fd, &st) != nil || !deviceMode(st.Mode) && !mp.stream {
		return
	}
	parent, name := path.Split(guest)
	parent = path.Clean(parent)
	if v.devicesIn == nil {
		v.devicesIn = map[string]map[string]dirent{}
	}
	if v.devicesIn[parent] == nil {
		v.devicesIn[parent] = map[string]dirent{}
	}
	v.devicesIn[parent][name] = dirent{filetypeOf(st.Mode), st.Ino}
}

// OpenConfinedDir opens the directory host as the view opens a directory
// grant (confine), for a WASI layer that opens its preopens by path
// itself (wasmtime's WASI 0.2 is given /proc/self/fd/dir). Both returned
// descriptors must stay open while the grant is used; tree is -1 where no
// private copy could be made.
func OpenConfinedDir(m Mount) (dir, tree int, err error) {
	host, guest := m.Host, path.Clean("/"+m.Guest)
	fd, isDir, err := openGrant(host, guest)
	if err != nil {
		return -1, -1, err
	}
	if !isDir {
		unix.Close(fd)
		return -1, -1, fmt.Errorf("open %q for %q: %w", host, guest, unix.ENOTDIR)
	}
	dir, tree = confine(fd, guest == "/" || m.Shallow, m.ReadOnly)
	return dir, tree, nil
}

// confine moves a directory grant's descriptor to the root of a private
// copy of its mount, attached to no mount namespace (open_tree(2),
// OPEN_TREE_CLONE): if alone (the rootfs; a bind that is not an rbind,
// runc's MS_BIND without MS_REC), the directory's mount without anything
// mounted inside it; any other directory with the mounts below it (a
// volume's own submounts, as an rbind gives them); read-only in the
// kernel too where the grant is. It returns the new descriptor and the copy's
// handle, which must stay open as long as the descriptor is used.
//
// The attacks it stops:
//   - The kernel crosses into whatever is mounted below a descriptor. For
//     runw exec, "/" is the container's root, where the init has bound
//     the grants and the container's /proc for the engines: an exec'd
//     guest's walk reached /proc (the container's processes, their
//     memory), which no grant gives. The copy of the rootfs has nothing
//     mounted in it, as the init's own rootfs descriptor, taken before it
//     bound anything there.
//   - ".." from a descriptor opened on a host path climbs out of the
//     grant: from the rootfs to the bundle and the host's "/" (the
//     pattern of runc's CVE-2024-21626). runw's walker never asks the
//     kernel for "..", but code that escaped wasmtime into the init
//     could, where Landlock is not there to refuse it. At the root of a
//     detached mount, ".." stays where it is, as at "/".
//   - A bind that is not an rbind must not show what is mounted below its
//     source (podman's bind-nonrecursive: a host tmpfs of secrets under
//     a shared directory): the copy of such a grant has no submounts.
//
// It needs Linux 5.2 and CAP_SYS_ADMIN over the mount namespace (the init
// and an exec'd process have it until the sandbox is entered, rootless
// podman's too, in its user namespace). Without, the descriptor stays as
// it was opened: runw's walker, which holds to the view's mounts, and
// Landlock remain the bounds (and a bind that is not an rbind shows its
// submounts).
func confine(fd int, alone, readOnly bool) (dir, tree int) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if !alone {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(fd, "", flags)
	if err != nil {
		return fd, -1
	}
	if readOnly {
		// Best effort (Linux 5.12): the WASI host refuses every write to
		// a read-only grant itself, and Landlock again.
		unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	}
	dir, err = unix.Openat(tree, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == unix.EACCES {
		// An unreadable directory (openGrant): its copy's root, O_PATH
		// as the grant was.
		dir, err = unix.FcntlInt(uintptr(tree), unix.F_DUPFD_CLOEXEC, 0)
	}
	if err != nil {
		unix.Close(tree)
		return fd, -1
	}
	unix.Close(fd)
	return dir, tree
}

// openGrant opens a grant's host path: a directory readable (fd_readdir
// on a preopen) and usable as the base of *at calls, in one open on the
// start path; anything else as an O_PATH descriptor.
func openGrant(host, guest string) (fd int, dir bool, err error) {
	if fd, err := unix.Open(host, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		return fd, true, nil
	} else if err == unix.ENOTDIR {
		fd, err := unix.Open(host, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, false, fmt.Errorf("open %q for %q: %w", host, guest, err)
		}
		return fd, false, nil
	}
	// The slow way, for the exact error: what could not be opened.
	fd, err = unix.Open(host, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, false, fmt.Errorf("open %q for %q: %w", host, guest, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, false, fmt.Errorf("stat %q: %w", host, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fd, false, nil
	}
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == unix.EACCES {
		// A directory the init may reach but not read: in a user
		// namespace the init is nobody on the host, and a bind mount of a
		// root-owned 0700 directory (podman -v under --userns=auto) is
		// such. runc mounts it and starts the container, whose process
		// then meets EACCES inside; the create failed here instead. The
		// O_PATH descriptor serves as the base of *at calls, each checked
		// by the kernel against the directory's mode as the guest's
		// process (EACCES, as under runc).
		return fd, true, nil
	}
	unix.Close(fd)
	if err != nil {
		return -1, false, fmt.Errorf("open %q for %q: %w", host, guest, err)
	}
	return dfd, true, nil
}

// Close releases the mount descriptors.
func (v *View) Close() {
	for i := range v.spares {
		if spare := v.spares[i].Swap(-1); spare >= 0 {
			unix.Close(int(spare))
		}
	}
	for _, m := range v.mounts {
		unix.Close(m.fd)
		if m.tree >= 0 {
			unix.Close(m.tree)
		}
	}
	v.mounts = nil
}

// step is one directory on the resolver's stack: a descriptor and the
// symlink-free guest path it was reached by.
type step struct {
	fd    int
	guest string
	mount int
	owned bool
	// preopen says the walk started at a preopen's descriptor: only
	// there may ".." climb above a mount's root (walker.up).
	preopen bool
	// dev and ino are the directory's, kept when the walk closes its
	// descriptor (walker.push), to open the same one again.
	dev, ino uint64
}

// target is what a path resolved to: the object named name inside the
// directory dir. name is "." when the path ends at a directory of the walk,
// and "" (use AT_EMPTY_PATH) for a file mount, whose descriptor is dir.
type target struct {
	dir   int
	name  string
	guest string
	mount int
	// mountRoot says the object is a mount point: it cannot be removed
	// or renamed (EBUSY, as on Linux).
	mountRoot bool
	// parent is the mount of the directory holding the object's name:
	// mount itself, except for a mount point, whose name lies in the
	// mount below it.
	parent int
	// slash says the path ended in "/": the object must be a directory.
	slash bool
	// dot says the path's last component is "." (1) or ".." (2), or
	// the path is the container's "/" (dotRoot), as Linux's LAST_DOT,
	// LAST_DOTDOT and LAST_ROOT: rmdir, unlink and rename answer for
	// those before they look at write access (rename after comparing
	// mounts). For "..", parent is the mount of the directory it was
	// looked up in.
	dot int
	w   *walker
}

// walker resolves a path inside the view.
//
// Why a walk of our own and not one openat2(RESOLVE_IN_ROOT): the mounts
// are not mounted in any namespace, so crossing from the rootfs into a
// mount (and back, through a symlink) is something only runw can do, and
// it must happen at every component. Each component is opened with
// O_PATH|O_NOFOLLOW relative to the descriptor of the directory before it,
// so the kernel never follows a symlink itself: runw reads the link's text
// (readlinkat on the O_PATH descriptor it already holds, so a link swapped
// after the open is never consulted) and resolves it inside the view. That
// stops, each at its step:
//   - an absolute symlink reaching the host's "/" (it restarts at the
//     container's root);
//   - ".." climbing out of the rootfs or a mount (it stops at "/" once a
//     symlink was followed; in the guest's own path argument, ".." above
//     the directory descriptor is refused with EPERM, errPathEscape);
//   - a symlink swapped for another between two steps (each step holds the
//     descriptor it checked, or past maxHeld steps is opened again only if
//     it is the same directory: a later swap changes nothing already
//     walked);
//   - /proc magic links in a granted directory (never followed by the
//     kernel: their text is resolved as an ordinary path in the view);
//   - loops (ELOOP after 40 links).
type walker struct {
	v       *View
	stack   []step
	pending []string // components still to walk; the next is last
	last    string
	links   int
	// escaped is set once a symlink was followed: from then on the walk
	// is in the container's namespace, where ".." stops at "/".
	escaped bool
	// held counts the descriptors of owned steps still open (maxHeld).
	held int
}

// maxHeld bounds the descriptors a walk keeps open for the directories
// it went through. Each step held its own until the walk ended, so a
// path of a thousand directories ("d/d/.../d/." or one through a
// symlink, which take this walk) failed with EMFILE at the container's
// RLIMIT_NOFILE where Linux resolves any path up to PATH_MAX (about 2,000
// components) without a descriptor. Beyond maxHeld the lowest steps are
// closed, their device and inode kept, and opened again only if ".."
// comes back down to them (reopen).
const maxHeld = 16

func (w *walker) top() *step { return &w.stack[len(w.stack)-1] }

func (w *walker) push(s step) {
	w.stack = append(w.stack, s)
	if !s.owned {
		return
	}
	w.held++
	if w.held > maxHeld {
		w.shed(-1)
	}
}

// shed closes the lowest open owned step but the top and step keep,
// keeping its device and inode (reopen), and says whether there was one.
// The start (stack[0]) and a mount's root (not owned) are never closed.
func (w *walker) shed(keep int) bool {
	for i := 1; i < len(w.stack)-1; i++ {
		if st := &w.stack[i]; st.owned && st.fd >= 0 && i != keep {
			var info unix.Stat_t
			if unix.Fstat(st.fd, &info) == nil {
				st.dev, st.ino = info.Dev, info.Ino
			}
			unix.Close(st.fd)
			st.fd = -1
			w.held--
			return true
		}
	}
	return false
}

// openLast is open for the descriptor a path operation hands the guest
// (path_open's). Linux gives one only to a guest with one free, so room
// is made for it only out of what the walk itself took beyond the
// spares (its steps, and spares it gave up): the spares are taken back
// first, from what the walk freed. Made by open alone, a guest at its
// limit was given a descriptor Linux refuses, out of the spares, which
// then stayed short, and every later walk needing two was EMFILE.
func (w *walker) openLast(open func() (int, error)) (int, error) {
	w.v.keepSpare()
	fd, err := open()
	if err != unix.EMFILE {
		return fd, err
	}
	taken := w.held
	for i := range w.v.spares {
		if w.v.spares[i].Load() >= 0 {
			taken++
		}
	}
	if taken <= len(w.v.spares) {
		return fd, err
	}
	return w.open(len(w.stack)-1, open)
}

// open is walkOpen for the walk: past the view's spares, at the
// descriptor limit it closes the steps it holds, lowest first, but the
// top and step keep, whose descriptor open uses (shed), and tries again.
// So a walk of any depth needs two descriptors at a time where Linux's
// lookup needs none: a guest at its RLIMIT_NOFILE met EMFILE from a
// stat of "/d/d/d/../../../f", and from a path through a link into a
// deep directory, once the spare was gone.
func (w *walker) open(keep int, open func() (int, error)) (int, error) {
	for {
		fd, err := w.v.walkOpen(open)
		if err != unix.EMFILE || !w.shed(keep) {
			return fd, err
		}
	}
}

func (w *walker) popStep() {
	s := w.top()
	if s.owned && s.fd >= 0 {
		unix.Close(s.fd)
		w.held--
	}
	w.stack = w.stack[:len(w.stack)-1]
}

// popToParent is ".." from the top step to the one below it, which push
// may have closed: it is opened again first (reopen).
func (w *walker) popToParent() Errno {
	below := &w.stack[len(w.stack)-2]
	if below.fd < 0 {
		fd, e := w.reopen(len(w.stack) - 2)
		if e != 0 {
			w.popStep()
			return e
		}
		below.fd = fd
		w.held++
	}
	w.popStep()
	return 0
}

// reopen opens step j again, whose descriptor push closed, and accepts it
// only if it is the very directory walked (its device and inode): a walk
// never goes back into a directory it did not walk through, as it never
// did while it held every descriptor, whatever was renamed or swapped
// for a symlink since. From an owned step above it, the kernel's ".." of
// that directory, its real parent, as Linux's own ".." (the name may
// now be another directory's, or a symlink out of the view: neither is
// looked at). From a mount's root, whose kernel ".." is the host's
// directory holding the mount's source, by name instead, from the
// nearest step below that is open, each component O_NOFOLLOW|O_DIRECTORY.
// A directory moved away (not the same one there) is ENOENT.
func (w *walker) reopen(j int) (int, Errno) {
	var fd int
	var err error
	if above := w.stack[j+1]; above.owned {
		fd, err = w.open(j+1, func() (int, error) {
			return unix.Openat(above.fd, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
	} else {
		fd, err = w.openByName(j)
	}
	if err != nil {
		return -1, toErrno(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != w.stack[j].dev || st.Ino != w.stack[j].ino {
		unix.Close(fd)
		return -1, ErrnoNoent
	}
	return fd, 0
}

// openByName opens step j's directory by its guest path from the nearest
// step below it still open (every step's guest path lies below the one
// before it, and no mount's root is ever closed, so the names between
// are plain directories of one mount).
func (w *walker) openByName(j int) (int, error) {
	i := j - 1
	for w.stack[i].fd < 0 {
		i--
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(w.stack[j].guest, w.stack[i].guest), "/")
	fd := w.stack[i].fd
	for _, c := range strings.Split(rel, "/") {
		dir := fd
		next, err := w.open(i, func() (int, error) {
			return unix.Openat(dir, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
		if dir != w.stack[i].fd {
			unix.Close(dir)
		}
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// release closes every descriptor the walk opened.
func (w *walker) release() {
	for len(w.stack) > 0 {
		w.popStep()
	}
	w.v.keepSpare()
}

func (w *walker) resetToRoot() {
	for len(w.stack) > 0 {
		w.popStep()
	}
	w.push(step{fd: w.v.mounts[0].fd, guest: "/", mount: 0})
}

// pushPending queues the components of p to be walked next.
func (w *walker) pushPending(p string) {
	comps := strings.Split(p, "/")
	for i := len(comps) - 1; i >= 0; i-- {
		w.pending = append(w.pending, comps[i])
	}
}

func joinGuest(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// kept refuses, with ENAMETOOLONG, a directory whose guest path would not
// fit in PATH_MAX, where the walk or a descriptor is about to keep it.
//
// The bound is on the whole path, not only on the guest's argument (which
// memory.path caps): every step, and every directory descriptor, keeps
// its full guest path, and a guest can go down any depth by opening one
// directory relative to the last. Without it, descriptors 4000 levels
// down kept a megabyte each, and one ".." re-walked from "/" built a
// longer string at every level: 2 GB for a guest of 64 KiB. Linux itself
// would go deeper (openat has no depth limit), but no absolute path there
// could name such a directory either. A name that is not kept (a symlink
// followed from such a directory, a file in it) is not refused.
func kept(guest string) Errno {
	if len(guest) >= pathMax {
		return ErrnoNametoolong
	}
	return 0
}

// errPathEscape answers a guest path that leaves its directory descriptor
// (absolute, or ".." above it): EPERM, wasmtime's answer since its
// preview1 became an adapter of WASI 0.2 (whose error codes have no
// "not capable"), and what its test programs and the WASI test suite
// accept. Older hosts answered ENOTCAPABLE; wasi-libc and Go report
// either as a failed open.
const errPathEscape = ErrnoPerm

// resolve finds the object p names relative to the directory start. The
// last component is not followed if it is a symlink: the operation decides
// (see target.follow).
func (v *View) resolve(start step, p string) (*target, Errno) {
	switch {
	case p == "":
		return nil, ErrnoNoent
	case strings.IndexByte(p, 0) >= 0:
		return nil, ErrnoInval
	case p[0] == '/':
		// Guests resolve absolute paths against their preopens before
		// calling; an absolute path reaching the host is never valid.
		return nil, errPathEscape
	}
	trimmed := strings.TrimRight(p, "/")
	slash := len(trimmed) < len(p)
	if trimmed == "" {
		// p was made of slashes only: absolute.
		return nil, errPathEscape
	}
	for try := 0; ; try++ {
		w := &walker{v: v, stack: make([]step, 1, 8)}
		w.stack[0] = step{fd: start.fd, guest: start.guest, mount: start.mount, preopen: start.preopen}
		if e := w.fast(trimmed); e != 0 {
			w.release()
			return nil, e
		}
		if w.last == "" {
			w.pushPending(trimmed)
			if e := w.run(); e != 0 {
				w.release()
				if retrySwapped(e, w, try) {
					continue
				}
				return nil, e
			}
		}
		t := w.finish()
		t.slash = slash
		return t, 0
	}
}

// swapRetries is how many times a resolution that followed a symlink and
// then met a missing name is walked again from its start.
//
// Kubernetes' ConfigMap, Secret, downward API and projected volumes are
// updated by kubelet's atomic writer: the files are written into a new
// timestamped directory, the "..data" link is renamed onto it, and the old
// directory is removed. Each key is a link through "..data", so an open of
// a key natively always sees the old content or the new one, except in
// the instant between the kernel reading "..data" and looking the key up
// in the directory it named, if that directory is removed meanwhile
// (ENOENT). runw's walk takes several system calls per component where
// the kernel's takes none, so that instant was wide: a guest reading a key
// in a loop while kubelet swapped the volume every 20 ms got ENOENT on
// about one swap in six (50 errors in 30000 reads), a native reader on
// about one in a hundred (3 in 500000). Walking again, from the link that
// now names the new directory, finds the name as a native open almost
// always does. A retry only repeats the resolution (it has no side
// effect, and each walk is confined as any other), and a name that is
// really missing costs two more walks.
const swapRetries = 2

// retrySwapped says whether a walk that ended in e is walked again: a
// missing name met after following a symlink, within swapRetries.
func retrySwapped(e Errno, w *walker, try int) bool {
	return e == ErrnoNoent && w != nil && w.links > 0 && try < swapRetries
}

// fast resolves paths that need no walk in one openat2 call: no "..", no
// mount to cross on the way. RESOLVE_NO_SYMLINKS makes the kernel refuse
// (ELOOP) any symlink on the way instead of following it, and
// RESOLVE_BENEATH any escape from start; either way the slow walk takes
// over and gives the exact answer. It leaves w.last empty when it did not
// apply.
func (w *walker) fast(p string) Errno {
	if noOpenat2.Load() {
		return 0
	}
	dir, name := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, name = p[:i], p[i+1:]
	}
	if name == ".." || name == "." {
		return 0
	}
	if dir == ".." || strings.HasPrefix(dir, "../") || strings.HasSuffix(dir, "/..") || strings.Contains(dir, "/../") {
		return 0
	}
	if dir != "" && path.Clean(dir) == "." {
		// "./x", ".//x": x itself, in start (a step named "/." would
		// miss every mount below it).
		dir = ""
	}
	start := w.stack[0]
	if dir != "" {
		base := start.guest
		if base != "/" {
			base += "/"
		}
		// Compared cleaned: "./vol/x" or "vol//x" must meet a mount at
		// /vol as "vol/x" does, or the kernel would open the directory
		// the mount hides (a read-only mount written beneath, a tmpfs's
		// hidden files read).
		clean := path.Clean(dir)
		for _, m := range w.v.mounts[1:] {
			if rel, ok := strings.CutPrefix(m.Guest, base); ok && (clean == rel || strings.HasPrefix(clean, rel+"/")) {
				return 0
			}
		}
		guest := joinGuest(start.guest, clean)
		if kept(guest) != 0 {
			// The walk, step by step, says what of it is too long.
			return 0
		}
		fd, err := w.open(0, func() (int, error) {
			return unix.Openat2(start.fd, dir, &unix.OpenHow{
				Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
				Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
			})
		})
		if err == unix.ENOSYS || err == unix.EPERM {
			// EPERM: a seccomp profile that denies openat2 (a lookup
			// itself answers EACCES, never EPERM); every path then
			// failed with it where a native program, which never calls
			// openat2, ran.
			noOpenat2.Store(true)
			return 0
		}
		if err == unix.ELOOP || err == unix.EXDEV || err == unix.EAGAIN {
			return 0
		}
		if err != nil {
			return toErrno(err)
		}
		w.push(step{fd: fd, guest: guest, mount: start.mount, owned: true})
	}
	w.last = name
	return 0
}

// run walks the pending components, leaving the last one in w.last.
func (w *walker) run() Errno {
	for len(w.pending) > 0 {
		c := w.pending[len(w.pending)-1]
		w.pending = w.pending[:len(w.pending)-1]
		switch c {
		case "", ".":
			if len(w.pending) == 0 {
				w.last = "."
			}
			continue
		case "..":
			if e := w.up(); e != 0 {
				return e
			}
			if len(w.pending) == 0 {
				w.last = "."
			}
			continue
		}
		if len(w.pending) == 0 {
			w.last = c
			return 0
		}
		if e := w.descend(c, true); e != 0 {
			return e
		}
	}
	return 0
}

// descend enters directory c of the top of the stack, following it if it
// is a symlink (when links may be followed at all).
func (w *walker) descend(c string, followLinks bool) Errno {
	return w.descendAs(c, joinGuest(w.top().guest, c), followLinks)
}

// descendAs is descend with the guest path of c already made.
func (w *walker) descendAs(c, guest string, followLinks bool) Errno {
	top := w.top()
	if i, ok := w.v.byGuest[guest]; ok {
		mp := &w.v.mounts[i]
		if !mp.dir {
			return ErrnoNotdir
		}
		if e := kept(guest); e != 0 {
			return e
		}
		w.push(step{fd: mp.fd, guest: guest, mount: i})
		return 0
	}
	fd, err := w.open(len(w.stack)-1, func() (int, error) {
		return unix.Openat(top.fd, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return toErrno(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return toErrno(err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if e := kept(guest); e != 0 {
			unix.Close(fd)
			return e
		}
		w.push(step{fd: fd, guest: guest, mount: top.mount, owned: true})
		return 0
	case unix.S_IFLNK:
		if !followLinks {
			unix.Close(fd)
			return ErrnoLoop
		}
		e := w.followLink(fd, "")
		unix.Close(fd)
		return e
	default:
		unix.Close(fd)
		return ErrnoNotdir
	}
}

// followLink reads the symlink at (dir, name) and queues its target: an
// absolute target restarts at the container's root.
func (w *walker) followLink(dir int, name string) Errno {
	w.links++
	if w.links > maxSymlinks {
		return ErrnoLoop
	}
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return toErrno(err)
		}
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		if len(buf) >= unix.PathMax {
			return ErrnoNametoolong
		}
		buf = make([]byte, 2*len(buf))
	}
	if len(buf) == 0 {
		return ErrnoNoent
	}
	w.escaped = true
	t := string(buf)
	if t[0] == '/' {
		w.resetToRoot()
		t = strings.TrimLeft(t, "/")
		if t == "" {
			t = "."
		}
	}
	w.pushPending(t)
	return 0
}

// up goes to the parent of the top of the stack.
func (w *walker) up() Errno {
	top := w.top()
	if !w.escaped {
		// The guest's own path: ".." may not leave the directory
		// descriptor it was given (its capability).
		if len(w.stack) == 1 {
			// Except from the root of a mount below "/": wasi-libc
			// hands "/data/../x" (and "../x" with its cwd in /data)
			// to the preopen /data as "../x", which natively is /x.
			// The parent is in the guest's own tree, reachable through
			// the "/" preopen every guest has anyway (plan.go), so the
			// walk climbs into the container's namespace, where ".."
			// stops at "/". The climb is runw's own walk from the
			// view's root, never the kernel's "..": from the mount's
			// host descriptor that would reach the directory holding
			// the mount's source on the host (TestSymlinksCannotLeaveTheView
			// tries "../secret" there). Not from a descriptor the
			// guest opened itself on a mount's root: that is its
			// capability, as any directory it opened (EPERM, as under
			// wasmtime).
			if top.preopen && top.guest != "/" && top.guest == w.v.mounts[top.mount].Guest {
				w.escaped = true
				return w.up()
			}
			return errPathEscape
		}
		return w.popToParent()
	}
	// Inside the container's namespace: ".." stops at "/".
	if top.guest == "/" {
		return 0
	}
	parent := path.Dir(top.guest)
	if len(w.stack) > 1 && w.stack[len(w.stack)-2].guest == parent {
		return w.popToParent()
	}
	// The parent is not on the stack (the walk started below it, or
	// jumped through an absolute link): walk to it again from the root.
	// Every step of a guest path on the stack was a directory when it was
	// walked; one that became a symlink since is refused, not followed.
	// Each step's path is a prefix of parent, shared rather than built
	// again component by component.
	w.resetToRoot()
	for end := 1; end < len(parent); {
		next := strings.IndexByte(parent[end:], '/')
		if next < 0 {
			next = len(parent) - end
		}
		c := parent[end : end+next]
		end += next
		if e := w.descendAs(c, parent[:end], false); e != 0 {
			return e
		}
		end++
	}
	return 0
}

// finish turns the walk's end into a target.
func (w *walker) finish() *target {
	top := w.top()
	if w.last == "." || w.last == "" {
		t := &target{dir: top.fd, name: ".", guest: top.guest, mount: top.mount, parent: top.mount, w: w}
		// A path that ends at a mount's own root names its mount point,
		// however it was reached: wasi-libc sends rename("/data", ...)
		// as "." of the /data preopen, which must answer as "data" of
		// "/" does (EBUSY, not EXDEV from comparing /data with "/").
		if top.guest != "/" && w.v.mounts[top.mount].Guest == top.guest {
			t.mountRoot = true
			t.parent = w.v.mountHolding(top.guest)
		}
		return t
	}
	guest := joinGuest(top.guest, w.last)
	if i, ok := w.v.byGuest[guest]; ok {
		mp := &w.v.mounts[i]
		name := "."
		if !mp.dir {
			name = ""
		}
		return &target{dir: mp.fd, name: name, guest: guest, mount: i, parent: top.mount, mountRoot: true, w: w}
	}
	return &target{dir: top.fd, name: w.last, guest: guest, mount: top.mount, parent: top.mount, w: w}
}

// mountHolding is the mount of the directory that holds the name of the
// mount point at guest: the nearest directory mount above it.
func (v *View) mountHolding(guest string) int {
	for dir := path.Dir(guest); ; dir = path.Dir(dir) {
		if i, ok := v.byGuest[dir]; ok && v.mounts[i].dir {
			return i
		}
		if dir == "/" {
			return 0
		}
	}
}

// follow continues the resolution through the target if it is a symlink.
// It reports whether it followed one; with false and no errno, the target
// is not a symlink (or does not exist) and stays as it was.
func (t *target) follow() (bool, Errno) {
	if t.mountRoot || t.name == "." || t.name == "" {
		return false, 0
	}
	var st unix.Stat_t
	if err := unix.Fstatat(t.dir, t.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return false, 0
	}
	w := t.w
	if e := w.followLink(t.dir, t.name); e != 0 {
		if e == ErrnoInval {
			// No longer a symlink (readlinkat's EINVAL): replaced since
			// the fstatat, by something a walk begun now would take
			// as it is. It was answered EINVAL, which Linux never
			// gives for a path that names a file.
			w.links--
			return false, 0
		}
		return false, e
	}
	w.last = ""
	// A body ending in "/" ("f/", "nowhere/") names a directory as the
	// guest's own trailing slash does: its last name is the target's,
	// with slash set, so that the operation answers as for "f/" itself
	// (an O_CREAT open EISDIR, as Linux does; walked into, it was
	// ENOTDIR or ENOENT).
	bodySlash := false
	for len(w.pending) > 1 && w.pending[0] == "" {
		w.pending = w.pending[1:]
		bodySlash = true
	}
	if e := w.run(); e != 0 {
		return false, e
	}
	slash := t.slash
	*t = *w.finish()
	t.slash = slash || bodySlash
	return true, 0
}

// inheriting is the rights a directory descriptor at guest, in the
// mount mounts[mount], passes to what is opened below it. wasi-libc's
// access(W_OK) answers from them alone: a read-only mount's directory
// lacks rightFdWrite, so access says EACCES (wasi-libc's word for it, as
// under wasmtime) where it said writable and the open then failed with
// EROFS. A writable mount below the directory keeps the right: wasi-libc
// masks an open's rights with them, and a rootfs made read-only still
// holds writable files (/etc/hosts, /dev/termination-log, /dev/stdout).
// pathOpen takes rightFdAllocate as a wish to write too, for wasi-libc's
// O_WRONLY through such a directory to another mount ("../tmp/x").
func (v *View) inheriting(mount int, guest string) uint64 {
	if !v.mounts[mount].ReadOnly {
		return rightsDirInheriting
	}
	for _, m := range v.mounts {
		if !m.ReadOnly && (guest == "/" || strings.HasPrefix(m.Guest, guest+"/")) {
			return rightsDirInheriting
		}
	}
	return rightsDirInheriting &^ rightFdWrite
}

// close releases the descriptors the resolution opened.
func (t *target) close() {
	if t != nil && t.w != nil {
		t.w.release()
	}
}

// readOnly says whether writes to the target must be refused.
func (t *target) readOnly() bool {
	return t.w.v.mounts[t.mount].ReadOnly
}
