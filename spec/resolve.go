package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultPath is the search path used when process.env has no PATH:
// the default engines put in a spec (containerd's, podman's). runc 1.1
// searches nothing then ("executable file not found in $PATH"); a bare
// module name is found where an engine's PATH would have found it.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// sniffLen is how much of the entrypoint Sniff sees. Binary magic needs 8
// bytes; the rest lets a WAT file start with a licence comment.
const sniffLen = 4096

// Entrypoint is process.args[0] resolved on the host: what the guest would
// execute, and where runw must read it from.
type Entrypoint struct {
	// GuestPath is the absolute, lexically clean path as the guest sees
	// it (e.g. /app/hello.wasm); the wasm-smart handler looks at its
	// extension.
	GuestPath string
	// HostPath is the symlink-free host path of the file, guaranteed to
	// be inside the rootfs or inside a bind mount's source.
	HostPath string
	// Kind is what Sniff made of the file's first bytes.
	Kind Kind
	// Content says what the file is, when it is not WebAssembly
	// (Describe), for a refusal.
	Content string
	// Go says the module was built by Go's wasip1 port (IsGo).
	Go bool
	// Tables is how many tables a binary module defines (DefinedTables).
	Tables int
	// MemoryMin is the minimum in bytes of the memory a binary module
	// defines (DefinedLimits; 0: none, or not known).
	MemoryMin int64
	// File is an O_PATH handle on the file that was sniffed, opened by
	// descriptor inside the guest's view (guestVFS.open). runw reads the
	// module through it, never by HostPath again: between the lookup and
	// the read, a guest (runw exec) or another container sharing a volume
	// could swap a directory on HostPath for a link, and a host open would
	// follow it out of the container (to a host file, or another
	// tenant's module, which the guest would then run). Close releases it.
	File *os.File
}

// Close releases the entrypoint's handle.
func (e *Entrypoint) Close() {
	if e != nil && e.File != nil {
		e.File.Close()
	}
}

// Entrypoint resolves process.args[0] the way the guest's exec would, so that
// runw reads exactly the file a native runtime would have executed:
//   - a name containing "/" is taken as is, relative to process.cwd
//     (default "/");
//   - a bare name is searched in the PATH from process.env (default
//     defaultPath), the first regular file wins, and cwd/name is tried last.
//
// Resolution goes through the guest's view (guestVFS.resolve, whose
// guarantees ResolveGuest describes), so mounts are honoured and symlinks
// cannot escape. The file is then opened by descriptor in the same view
// and its head is sniffed; the caller closes the returned Entrypoint.
func (b *Bundle) Entrypoint() (*Entrypoint, error) {
	proc := b.Spec.Process
	if proc == nil {
		return nil, errors.New("process property must not be empty")
	}
	if len(proc.Args) == 0 {
		return nil, errors.New("args must not be empty")
	}
	arg0 := proc.Args[0]
	cwd := proc.Cwd
	if !path.IsAbs(cwd) {
		cwd = "/" + cwd
	}

	// One view for every candidate: building it resolves each mount.
	v := b.view()
	if strings.Contains(arg0, "/") {
		raw := arg0
		if !path.IsAbs(raw) {
			raw = cwd + "/" + raw
		}
		resolved, err := v.resolve(raw)
		if err != nil {
			return nil, err
		}
		// A trailing slash names a directory: execve(2) of a file so
		// named fails with ENOTDIR, in runc's words.
		if strings.HasSuffix(raw, "/") {
			if fi, err := os.Stat(v.host(resolved)); err == nil && !fi.IsDir() {
				return nil, fmt.Errorf("exec: %q: stat %s: %w", arg0, arg0, syscall.ENOTDIR)
			}
		}
		if err := b.maskedEntrypoint(path.Clean(raw), resolved); err != nil {
			return nil, err
		}
		return v.openEntrypoint(path.Clean(raw), resolved)
	}

	// Bare name: candidates in PATH order, then cwd/name. The raw
	// (uncleaned) path is resolved so that ".." after a symlink behaves
	// as it would in the guest.
	var candidates []string
	for _, dir := range strings.Split(searchPath(proc.Env), ":") {
		if dir == "" {
			dir = "." // POSIX: an empty PATH entry is the current directory
		}
		raw := dir + "/" + arg0
		if !path.IsAbs(raw) {
			raw = cwd + "/" + raw
		}
		candidates = append(candidates, raw)
	}
	candidates = append(candidates, cwd+"/"+arg0)
	for _, raw := range candidates {
		resolved, err := v.resolve(raw)
		if err != nil {
			continue // like exec's PATH search: a bad entry is skipped
		}
		if b.maskedEntrypoint(raw, resolved) != nil {
			continue // /dev/null or nothing by then: no regular file
		}
		if fi, err := os.Stat(v.host(resolved)); err == nil && fi.Mode().IsRegular() {
			return v.openEntrypoint(path.Clean(raw), resolved)
		}
	}
	// exec.ErrNotFound only for its text and errors.Is; nothing is run.
	return nil, fmt.Errorf("exec: %q: %w", arg0, exec.ErrNotFound)
}

// maskedEntrypoint refuses an entrypoint the spec masks, as runc's init
// meets the mask when it executes it: a masked file is /dev/null by then,
// which cannot be executed (permission denied, which podman reports as
// 126), and one below a masked directory is not there. The lookup runs in
// the host's view of the rootfs and mounts, where no mask is yet: the
// container ran a module its spec hid, where exec of it was refused.
func (b *Bundle) maskedEntrypoint(guest, resolved string) error {
	if b.Masks == nil {
		return nil
	}
	for _, m := range *b.Masks {
		switch {
		case resolved == m.Path:
			return fmt.Errorf("exec: %q: %w", guest, os.ErrPermission)
		case m.Dir && Within(resolved, m.Path):
			return fmt.Errorf("%q: %w", guest, syscall.ENOENT)
		}
	}
	return nil
}

// searchPath returns the PATH from env (the last PATH= entry wins, as when
// the variables are set in order), or defaultPath when it is absent or empty.
func searchPath(env []string) string {
	p := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			p = v
		}
	}
	if p == "" {
		return defaultPath
	}
	return p
}

// openEntrypoint opens the file at resolved, the symlink-free guest path
// that guest names, by descriptor in the view (so a link swapped in after
// resolution is followed only inside it), and sniffs it. The read goes
// through a reopen of that handle with O_NONBLOCK, which keeps a FIFO from
// hanging it; the fstat before rejects anything but a regular file.
func (v *guestVFS) openEntrypoint(guest, resolved string) (*Entrypoint, error) {
	h, err := v.open(resolved)
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			// A path through a file: runc says "not a directory"
			// (securejoin.IsNotExist counts it as not existing).
			return nil, fmt.Errorf("%q: %w", guest, syscall.ENOTDIR)
		}
		if securejoin.IsNotExist(err) {
			return nil, fmt.Errorf("%q: %w", guest, syscall.ENOENT)
		}
		return nil, fmt.Errorf("open %q: %w", guest, ErrnoOf(err))
	}
	ep, err := sniffEntrypoint(h, guest)
	if err != nil {
		h.Close()
		return nil, err
	}
	ep.HostPath = v.host(resolved)
	return ep, nil
}

// sniffEntrypoint checks that the handle h is a regular file and sniffs
// its head; the Entrypoint it returns holds h.
func sniffEntrypoint(h *os.File, guest string) (*Entrypoint, error) {
	f, size, err := reopenRegular(h)
	if errors.Is(err, errNotRegular) {
		// runc's words for what its init cannot execute (a directory,
		// a fifo): engines read "permission denied" as a command that
		// cannot be invoked (podman exec's 126).
		return nil, fmt.Errorf("exec: %q: %w", guest, os.ErrPermission)
	}
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", guest, ErrnoOf(err))
	}
	defer f.Close()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("read %q: %w", guest, ErrnoOf(err))
	}
	ep := &Entrypoint{GuestPath: guest, Kind: Sniff(head[:n]), File: h}
	if !ep.Kind.IsWasm() {
		ep.Content = Describe(head[:n])
	}
	if ep.Kind == KindModule {
		// Go's linker writes its build ID as the first section, inside
		// head: no read beyond the one above for a Go module.
		ep.Go = IsGo(headFirst{head[:n], f}, size)
		// Under a memory limit, its tables share one part of the
		// init's reserve (wasi.Plan.Tables).
		ep.Tables, ep.MemoryMin = DefinedLimits(headFirst{head[:n], f}, size)
	}
	return ep, nil
}

// headFirst reads from head, the file's first bytes already read, where
// a read lies within it, and from the file past it.
type headFirst struct {
	head []byte
	f    io.ReaderAt
}

func (r headFirst) ReadAt(p []byte, off int64) (int, error) {
	if off >= 0 && off+int64(len(p)) <= int64(len(r.head)) {
		return copy(p, r.head[off:]), nil
	}
	return r.f.ReadAt(p, off)
}

// errNotRegular is ReopenRegular's refusal.
var errNotRegular = errors.New("not a regular file")

// ReopenRegular opens the file behind the O_PATH handle h for reading,
// if it is a regular file: never a device or a fifo, which a read could
// hang on or reach the host through (O_NONBLOCK covers a fifo swapped in
// between the check and the open).
func ReopenRegular(h *os.File) (*os.File, error) {
	f, _, err := reopenRegular(h)
	return f, err
}

// reopenRegular is ReopenRegular that also gives the file's size.
func reopenRegular(h *os.File) (*os.File, int64, error) {
	fi, err := h.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, errNotRegular
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_NONBLOCK)
	return f, fi.Size(), err
}

// ResolveGuest maps an absolute guest path to a host path.
//
// It exists to stop a malicious image from making the runtime read or grant
// host files: an image can ship symlinks such as bin/app.wasm -> /etc/shadow
// or app -> ../../../, and a naive filepath.Join(rootfs, p) followed by open
// would follow them out of the rootfs on the host. Every component is
// therefore resolved with github.com/cyphar/filepath-securejoin, treating the
// guest's "/" as the root: a symlink to /etc/passwd inside the rootfs resolves
// to <rootfs>/etc/passwd, and ".." can never climb above the root.
//
// Bind mounts are honoured while walking: at each step the longest bind
// destination (type "bind" or option bind/rbind) that contains the path, on
// component boundaries, decides whether the component lives in that mount's
// source or in the rootfs; later mounts shadow earlier ones with the same
// destination. Symlinks found inside a bind source are interpreted in the
// guest's namespace, as the guest would see them, so the result is always
// inside the rootfs or inside a bind source. Mount sources themselves are
// host paths chosen by the bundle's owner and are trusted.
//
// The usual securejoin caveat applies: the guarantee holds only if nobody
// swaps a component for a symlink after the call. What runw opens is
// therefore opened by descriptor in the view (OpenGuest, Entrypoint).
func (b *Bundle) ResolveGuest(p string) (string, error) {
	return b.view().resolveHost(p)
}

// resolveHost is ResolveGuest in the view v, which a caller resolving
// several paths builds once.
func (v *guestVFS) resolveHost(p string) (string, error) {
	guest, err := v.resolve(p)
	if err != nil {
		return "", err
	}
	return v.host(guest), nil
}

// resolve is the clean, symlink-free guest path p names in the view.
func (v *guestVFS) resolve(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("guest path %q is not absolute", p)
	}
	guest, err := securejoin.SecureJoinVFS("/", p, v)
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", p, ErrnoOf(err))
	}
	return path.Clean("/" + guest), nil
}

// OpenGuest opens the guest path p as an O_PATH handle: resolved in the
// guest's view (the rootfs and the spec's binds, links followed inside
// it), then opened by descriptor within whichever root holds it
// (securejoin's OpenInRoot). A link the guest plants, even while this
// runs (runw exec), can never make runw open a host file.
func (b *Bundle) OpenGuest(p string) (*os.File, error) {
	v := b.view()
	guest, err := v.resolve(p)
	if err != nil {
		return nil, err
	}
	return v.open(guest)
}

// open opens the symlink-free guest path guest as an O_PATH handle, by
// descriptor within whichever root holds it: the rootfs or a bind's
// source (securejoin's OpenInRoot), so that a link planted on the way
// since guest was resolved leads nowhere outside that root.
func (v *guestVFS) open(guest string) (*os.File, error) {
	m, ok := v.innermost(guest)
	switch {
	case !ok:
		return pathrs.OpenInRoot(v.rootfs, guest)
	case m.empty:
		return nil, &os.PathError{Op: "open", Path: guest, Err: syscall.ENOENT}
	case guest == m.dest:
		// A bind's own source, the bundle author's path.
		return os.OpenFile(m.source, unix.O_PATH|unix.O_CLOEXEC, 0)
	}
	return pathrs.OpenInRoot(m.source, strings.TrimPrefix(guest, m.dest))
}

// vfsMount is a spec mount reduced to what path resolution needs: a bind
// (its source stands at dest), or an empty mount (a tmpfs, an overlay, a
// kernel filesystem), below which what the rootfs holds is hidden.
type vfsMount struct {
	dest   string // clean absolute guest path, resolved
	source string // a bind's absolute host path, host symlinks already followed
	empty  bool
	// kernel: a kernel filesystem's, whose paths are never the view's.
	kernel bool
}

// view is the guest's view of the filesystem with every spec mount in
// place, each at its destination as resolved in the mounts before it
// (Bundle.destination).
func (b *Bundle) view() *guestVFS {
	v, _ := b.viewAndDestinations()
	return v
}

// MountDestinations are the spec's mount destinations, resolved in the
// rootfs as runc resolves them when it mounts (guestVFS.destination), in
// spec order. create records them (Bundle.Destinations).
func (b *Bundle) MountDestinations() []string {
	_, dests := b.viewAndDestinations()
	return dests
}

// viewAndDestinations builds the view, mount by mount, and says where each
// destination went.
func (b *Bundle) viewAndDestinations() (*guestVFS, []string) {
	v := &guestVFS{rootfs: b.Rootfs}
	dests := make([]string, len(b.Spec.Mounts))
	for i, m := range b.Spec.Mounts {
		dests[i] = b.destination(i, v)
		v.mount(b, m, dests[i])
	}
	return v, dests
}

// WrittenDestinations are the spec's mount destinations as written,
// clean and absolute, in spec order: for a process that must not resolve
// them again in a rootfs its guest may have changed (runw exec into a
// container whose create recorded none).
func (b *Bundle) WrittenDestinations() []string {
	out := make([]string, len(b.Spec.Mounts))
	for i, m := range b.Spec.Mounts {
		out[i] = cleanDestination(m.Destination)
	}
	return out
}

// destination is mount i's destination: recorded, or resolved in v, the
// view of the mounts before it.
func (b *Bundle) destination(i int, v *guestVFS) string {
	if len(b.Destinations) == len(b.Spec.Mounts) {
		return b.Destinations[i]
	}
	return v.destination(cleanDestination(b.Spec.Mounts[i].Destination))
}

// cleanDestination is a mount's destination, clean and absolute: a
// relative one is relative to the container's /, as runc still accepts it
// (with a warning).
func cleanDestination(dest string) string {
	return path.Clean("/" + dest)
}

// guestVFS lets securejoin walk the guest's view of the filesystem: the names
// it sees are guest paths (rooted at "/"), mapped to the rootfs or to a bind
// source on each call.
type guestVFS struct {
	rootfs string
	mounts []vfsMount // in spec order
}

// mount adds m, at its resolved destination dest, to the view. Bind
// sources are passed through EvalSymlinks because mount(2) follows host
// symlinks in the source, and a source that is itself a symlink must not
// be mistaken for a guest symlink.
func (v *guestVFS) mount(b *Bundle, m specs.Mount, dest string) {
	switch {
	case isBind(m) && m.Source != "" && !b.refusedBind(m, cleanDestination(m.Destination), dest):
		src := b.bindSource(m.Source)
		if real, err := filepath.EvalSymlinks(src); err == nil {
			src = real
		}
		v.mounts = append(v.mounts, vfsMount{dest: dest, source: src})
	case m.Type == "tmpfs" || m.Type == "overlay" || kernelFS[m.Type]:
		// What the image holds below them (links included) is hidden,
		// as under runc, which mounts them before what follows.
		v.mounts = append(v.mounts, vfsMount{dest: dest, empty: true, kernel: kernelFS[m.Type]})
	}
}

// innermost is the mount guest lies in: the last, in spec order, whose
// destination holds it. A mount made later covers what an earlier one put
// at or under its destination ([tmpfs /a, bind /a/b]: the bind holds
// /a/b/x; [bind /a/b, tmpfs /a]: the tmpfs does), as under runc.
func (v *guestVFS) innermost(guest string) (vfsMount, bool) {
	for i := len(v.mounts) - 1; i >= 0; i-- {
		if Within(guest, v.mounts[i].dest) {
			return v.mounts[i], true
		}
	}
	return vfsMount{}, false
}

// hidden says guest lies below an empty mount's destination (and in no
// bind mounted below it).
func (v *guestVFS) hidden(guest string) bool {
	guest = path.Clean("/" + guest)
	m, ok := v.innermost(guest)
	return ok && m.empty && guest != m.dest
}

// host maps a clean, symlink-free guest path to its host path.
func (v *guestVFS) host(guest string) string {
	guest = path.Clean("/" + guest)
	m, ok := v.innermost(guest)
	if !ok || m.empty {
		return filepath.Join(v.rootfs, guest)
	}
	return filepath.Join(m.source, strings.TrimPrefix(guest, m.dest))
}

// Lstat implements securejoin.VFS on guest paths.
func (v *guestVFS) Lstat(name string) (os.FileInfo, error) {
	if v.hidden(name) {
		return nil, &os.PathError{Op: "lstat", Path: name, Err: syscall.ENOENT}
	}
	return os.Lstat(v.host(name))
}

// Readlink implements securejoin.VFS on guest paths.
func (v *guestVFS) Readlink(name string) (string, error) {
	if v.hidden(name) {
		return "", &os.PathError{Op: "readlink", Path: name, Err: syscall.ENOENT}
	}
	return os.Readlink(v.host(name))
}

// destination resolves a mount's destination as runc does when it mounts
// it: inside the rootfs, through the mounts made before it, following the
// image's symlinks (Debian's /var/run -> /run; a resolv.conf linked to
// ../run/...). The guest then finds the mount at the resolved path and,
// through the link, at the one the spec wrote, as in a native container.
// A destination that cannot be resolved (a link loop) stays as written.
func (v *guestVFS) destination(dest string) string {
	guest, err := securejoin.SecureJoinVFS("/", dest, v)
	if err != nil {
		return dest
	}
	return path.Clean("/" + guest)
}

// ErrnoOf strips an *os.PathError (or *os.SyscallError) down to its errno
// when the caller already names the path, quoted: the error's own text
// would repeat the path unquoted, and a path holding a newline would split
// the one error line engines read.
func ErrnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// Readlinkat reads the target of the symlink name in dir: at most
// PATH_MAX bytes, the longest target Linux stores.
func Readlinkat(dir int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
