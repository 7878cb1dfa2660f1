package wasi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/moby/sys/mountinfo"
	"github.com/moby/sys/userns"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi/component"
)

// DefaultCacheDir is where compiled modules live unless --cache-dir says.
const DefaultCacheDir = "/var/lib/runw/cache"

// DefaultCacheMax bounds the cache: 2 GiB holds a few hundred typical guests.
const DefaultCacheMax int64 = 2 << 30

// Cache is a directory of compiled modules, keyed by content.
//
// Loading a compiled artifact means running the native code inside it. The
// attack this guards against is a planted or altered artifact: another user,
// or a container that can write to a shared path, drops a file whose name is
// a valid key and gets its machine code run by root. So the directory must
// be owned by runw's user and writable by nobody else (checked on every
// open, never silently fixed), runw only loads files it wrote (temp file,
// fsync, rename), and every entry carries a length and CRC-32C trailer in a
// sidecar that is checked before wasmtime maps it, so a truncated or
// corrupted entry is discarded and recompiled instead of crashing the guest.
//
// Two shortcuts keep the CRC and the module hash off the warm start path,
// each keyed so that it cannot be fooled:
//   - <key>.ok records that the artifact passed its CRC during this boot,
//     together with the artifact's identity (inode, size, mtime, ctime).
//     Any write to the artifact changes its ctime, which nobody can set, so
//     a damaged file no longer matches and is checked again.
//   - <id>.idx maps a module file's identity (path, device, inode, size,
//     mtime, ctime) to its content key, so an unchanged module is not
//     re-read and re-hashed at every start. A changed module has a new
//     ctime, misses, and is hashed: an image cannot make runw load the
//     artifact of other bytes than the ones it ships.
type Cache struct {
	// Dir is the directory as the user named it, for messages.
	Dir string
	// at is where every entry is reached: the directory OpenCache
	// checked, through runw's descriptor for it (see OpenCache).
	at string
	// dir holds that descriptor open for the Cache's life.
	dir *os.File
	// Max is the size bound in bytes; least recently used entries go first.
	Max int64
	// MaxIndex bounds the number of identity index files (0:
	// DefaultIndexMax). Every distinct module path leaves one (each
	// bundle of an engine is a fresh directory), so without a bound they
	// would pile up forever; the oldest go first, and a dropped one only
	// costs a re-hash of its module.
	MaxIndex int
	// view is the directory artifacts are opened through to be mapped: a
	// read-only clone of dir's mount (ReadOnlyView), or one another
	// process made and handed over (UseView); "" until needed.
	view string
	// viewFile holds the clone ReadOnlyView made, for the Cache's life.
	viewFile *os.File
	// private says the directory, as OpenCache found it, has no group or
	// other bits: runw's alone (CanHandOver).
	private bool
}

// DefaultIndexMax is the default bound on identity index files: far more
// than the bundles alive on one node, each a 64-byte file.
const DefaultIndexMax = 1024

// Entry describes one cached artifact, for `runw cache ls`.
type Entry struct {
	Key     string
	Size    int64
	Used    time.Time
	Corrupt bool
}

// castagnoli is built on first use: every runw command links this
// package, and only a cache check needs the table.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// ErrCacheDisabled is OpenCache's answer for no directory: what `runw
// compile` and `runw cache` say when --cache-dir or RUNW_CACHE_DIR is empty.
var ErrCacheDisabled = errors.New(`the compiled-module cache is disabled (an empty --cache-dir or RUNW_CACHE_DIR)`)

// OpenCache makes dir (0700) if needed and refuses a directory that others
// could write to.
//
// The check is made on a descriptor, and every later access goes through
// that descriptor (/proc/self/fd/N/<name>), never through dir's path
// again. A path checked and then used would let anyone who can write to a
// parent of dir (a cache put under a shared directory) swap their own
// directory in after the check (rename, RENAME_EXCHANGE) and have root
// load the artifact they planted there: native code run by the init.
func OpenCache(dir string, max int64) (*Cache, error) {
	if dir == "" {
		// An empty --cache-dir turns the cache off; made here, "mkdir :
		// no such file or directory" said nothing of that.
		return nil, ErrCacheDisabled
	}
	if max <= 0 {
		max = DefaultCacheMax
	}
	var f *os.File
	var err error
	if handedDescriptor(dir) {
		// A cache directory create or exec checked and handed over (a
		// runw exec's init, in the container's root, where the path
		// that led to it is not).
		if f, err = os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	} else if f, err = openTrustedPath(dir); err != nil {
		if errors.Is(err, errUntrustedPath) {
			return nil, fmt.Errorf("cache: %w: %w", err, ErrUntrustedCache)
		}
		return nil, fmt.Errorf("cache: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cache: %w", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		f.Close()
		return nil, fmt.Errorf("cache: %q must be owned by uid %d and writable by no one else (is uid %d, mode %o): %w", dir, os.Geteuid(), st.Uid, fi.Mode().Perm(), ErrUntrustedCache)
	}
	at := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if _, err := os.Stat(at); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache: %q through its descriptor (is /proc mounted?): %w", dir, err)
	}
	c := &Cache{Dir: dir, at: at, dir: f, Max: max, private: fi.Mode().Perm()&0o077 == 0}
	if !c.private {
		c.hideArtifacts()
	}
	return c, nil
}

// handedDescriptor says dir names one of this process's descriptors
// (/proc/self/fd/N), as runw hands a checked cache to an init.
func handedDescriptor(dir string) bool {
	n, ok := strings.CutPrefix(dir, "/proc/self/fd/")
	if !ok || n == "" {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Fd is the descriptor of the cache directory OpenCache checked, for
// handing it over (the Cache keeps it).
func (c *Cache) Fd() uintptr { return c.dir.Fd() }

// maxTrustedLinks bounds the symbolic links openTrustedPath follows, as
// the kernel bounds a lookup's (40).
const maxTrustedLinks = 40

// errUntrustedPath marks openTrustedPath's refusal of a path others could
// change.
var errUntrustedPath = errors.New("someone other than root and runw's user could change where it leads")

// ErrUntrustedCache marks OpenCache's refusal of a directory, or of a path
// to it, that others could write or change.
var ErrUntrustedCache = errors.New("refusing to load code from it")

// openTrustedPath opens the directory at path (O_PATH), making what is
// missing of it (0700), after checking that no one but root and runw's
// own user can change where the path leads:
// each directory on the way is owned by one of them and writable by no
// one else, or sticky (/tmp: others may add names there, but not move or
// remove the ones root's or runw's user own, which the next step must
// be); a symbolic link on the way is followed only out of such a
// directory, and out of a sticky one only if root or runw's user owns it.
// The path is walked one name at a time, without following links but
// those, and a missing directory is made in the directory the walk
// checked (mkdir -p by path followed links others planted, and made
// root's directories where they pointed before the check refused them).
//
// The attack it stops: OpenCache checked only the cache directory
// itself, through whatever led to it. Anyone who could write to a parent
// of a cache directory (a cache under a shared directory, or one whose
// owner is another user) moved the cache aside and put a link there to a
// directory root owns and they filled (an image's layer, a container's
// rootfs), which passed the check: its artifacts, theirs, were mapped and
// their native code run by root.
func openTrustedPath(path string) (*os.File, error) {
	if !filepath.IsAbs(path) {
		// Not cleaned: "a/../b" is the kernel's to resolve, through a
		// link a may be.
		cwd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		path = cwd + "/" + path
	}
	euid := uint32(os.Geteuid())
	overflow, inUserNS := unmappedOwner()
	owned := func(st *unix.Stat_t) bool { return st.Uid == 0 || st.Uid == euid }
	// In a user namespace (a rootless engine's) the host's root shows as
	// the overflow uid, "/" and /tmp included, and is trusted as root.
	// Every other user the namespace does not map shows that uid too, and
	// cannot be told from root: a rootless cache's artifacts run as the
	// rootless user, never as the host's root.
	trusted := func(st *unix.Stat_t) bool {
		return owned(st) || inUserNS && st.Uid == overflow
	}
	// The walk: fd is the directory reached, st its stat, at its path
	// for messages; names are what is left to look up, a link's target
	// put before the rest, ".." taken from the directory reached, as the
	// kernel takes it.
	fd := -1
	var st unix.Stat_t
	var at string
	root := func() error {
		nfd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if fd >= 0 {
			unix.Close(fd)
		}
		fd, at = nfd, "/"
		return unix.Fstat(fd, &st)
	}
	if err := root(); err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		unix.Close(fd)
		return nil, err
	}
	names := strings.Split(path, "/")
	for links := 0; len(names) > 0; {
		name := names[0]
		names = names[1:]
		if name == "" || name == "." {
			continue
		}
		if !trusted(&st) || st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
			return fail(fmt.Errorf("%q leads through %q, which uid %d owns with mode %o: %w", path, at, st.Uid, st.Mode&0o7777, errUntrustedPath))
		}
		othersWrite := st.Mode&0o022 != 0
		var next unix.Stat_t
		err := unix.Fstatat(fd, name, &next, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT && name != ".." {
			if err = unix.Mkdirat(fd, name, 0o700); err == nil || err == unix.EEXIST {
				err = unix.Fstatat(fd, name, &next, unix.AT_SYMLINK_NOFOLLOW)
			}
		}
		if err != nil {
			return fail(&os.PathError{Op: "stat", Path: filepath.Join(at, name), Err: err})
		}
		if othersWrite && next.Dev != st.Dev {
			// A mount in a directory others may write: another
			// user's (FUSE reports whatever owner it likes).
			return fail(fmt.Errorf("%q leads through %q, a mount in a directory others may write: %w", path, filepath.Join(at, name), errUntrustedPath))
		}
		if next.Mode&unix.S_IFMT == unix.S_IFLNK {
			target, err := spec.Readlinkat(fd, name)
			if err != nil {
				return fail(&os.PathError{Op: "readlink", Path: filepath.Join(at, name), Err: err})
			}
			if othersWrite && !owned(&next) {
				return fail(fmt.Errorf("%q leads through the link %q, which uid %d owns in a directory others may write: %w", path, filepath.Join(at, name), next.Uid, errUntrustedPath))
			}
			if links++; links > maxTrustedLinks {
				return fail(&os.PathError{Op: "open", Path: path, Err: unix.ELOOP})
			}
			names = append(strings.Split(target, "/"), names...)
			if strings.HasPrefix(target, "/") {
				if err := root(); err != nil {
					return fail(err)
				}
			}
			continue
		}
		nfd, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(&os.PathError{Op: "open", Path: filepath.Join(at, name), Err: err})
		}
		unix.Close(fd)
		fd, at = nfd, filepath.Join(at, name)
		if err := unix.Fstat(fd, &st); err != nil {
			return fail(err)
		}
	}
	return os.NewFile(uintptr(fd), filepath.Clean(path)), nil
}

// unmappedOwner is the uid a file of a user this user namespace does not
// map shows (/proc/sys/kernel/overflowuid), and whether runw runs in a
// user namespace other than the host's (a rootless engine's), where the
// host's root shows as that uid: there "/" and every directory of the
// host's root show it, and a cache under the user's home is reached
// through them. Another unmapped user shows it too; the artifacts of such
// a cache run as the rootless user, not as the host's root.
func unmappedOwner() (uint32, bool) {
	if !userns.RunningInUserNS() {
		return 0, false
	}
	b, err := os.ReadFile("/proc/sys/kernel/overflowuid")
	if err != nil {
		return 65534, true
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 65534, true
	}
	return uint32(n), true
}

// Grant is a host path a guest may write through, for WritableThrough:
// Recursive where the mounts below it come with it (an rbind, the rootfs).
type Grant struct {
	Path      string
	Recursive bool
}

// WritableThrough returns the first grant's path through which the cache
// directory can be reached, "" when none. Each side is located on its
// filesystem (fsLocation: the filesystem's device as mountinfo names it,
// and the path from that filesystem's root), so that a grant of a
// directory holding the cache counts through whatever mount it is reached
// (a bind of a parent mounted elsewhere: /var/lib/runw a bind of a data
// disk's directory, a volume of that disk's), as does a grant inside the
// cache (an artifact), a mount below a recursive grant whose source holds
// the cache, and a grant whose path is a link to any of those.
//
// The attack it stops: a guest granted such a path, root as the cache's
// owner is, wrote an artifact and its checksum under the key of another
// image's module, and that image's next container mapped it as host root
// before its sandbox and ran the guest's machine code. OpenCache's checks
// of the directory cannot tell: the guest writes as its owner.
//
// An error is one that kept it from looking (no descriptor left: EMFILE).
func (c *Cache) WritableThrough(grants []Grant) (string, error) {
	if c == nil || c.dir == nil || len(grants) == 0 {
		return "", nil
	}
	mounts, err := readMountInfo()
	if err != nil {
		return "", fmt.Errorf("check the grants against the cache: %w", err)
	}
	cache, ok, err := locate(int(c.dir.Fd()), mounts)
	if err != nil || !ok {
		return "", fmt.Errorf("check the grants against the cache: locate %s: %v", c.Dir, err)
	}
	for _, g := range grants {
		f, err := os.OpenFile(g.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
			return "", fmt.Errorf("check %s against the cache: %w", g.Path, err)
		}
		if err != nil {
			// Not there to be checked (an overlay directory the kernel
			// names otherwise): taken as reaching the cache.
			return g.Path, nil
		}
		at, ok, err := locate(int(f.Fd()), mounts)
		real, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		f.Close()
		if err != nil {
			return "", fmt.Errorf("check %s against the cache: %w", g.Path, err)
		}
		// A grant on a mount runw's table lacks (another mount
		// namespace's, through /proc/<pid>/root) cannot be told apart
		// from one that reaches the cache: taken as one.
		if !ok || at.overlaps(cache) {
			return g.Path, nil
		}
		if !g.Recursive || real == "" {
			continue
		}
		for _, m := range mounts {
			if m.point != real && spec.Within(m.point, real) && (fsLocation{m.dev, m.root}).overlaps(cache) {
				return g.Path, nil
			}
		}
	}
	return "", nil
}

// fsLocation is where a file lies: the device of its filesystem as
// mountinfo names it ("major:minor", one for every subvolume of a btrfs)
// and its path from that filesystem's root.
type fsLocation struct{ dev, path string }

// overlaps says one of l and o holds the other.
func (l fsLocation) overlaps(o fsLocation) bool {
	return l.dev == o.dev && (spec.Within(l.path, o.path) || spec.Within(o.path, l.path))
}

// mountEntry is one line of /proc/self/mountinfo: the mount's id, its
// filesystem's device, the path of its root in that filesystem, and
// where it is mounted.
type mountEntry struct {
	id               int
	dev, root, point string
}

// readMountInfo reads this process's mount table.
func readMountInfo() ([]mountEntry, error) {
	infos, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil, err
	}
	out := make([]mountEntry, len(infos))
	for i, m := range infos {
		out[i] = mountEntry{id: m.ID, dev: fmt.Sprintf("%d:%d", m.Major, m.Minor), root: m.Root, point: m.Mountpoint}
	}
	return out, nil
}

// locate finds where the file fd is on its filesystem: its mount (the
// mnt_id of its fdinfo), and its path below that mount's point, from the
// mount's root.
func locate(fd int, mounts []mountEntry) (fsLocation, bool, error) {
	info, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		return fsLocation{}, false, err
	}
	id := -1
	for _, l := range strings.Split(string(info), "\n") {
		if v, ok := strings.CutPrefix(l, "mnt_id:"); ok {
			id, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return fsLocation{}, false, err
	}
	if !filepath.IsAbs(p) {
		return fsLocation{}, false, nil
	}
	for _, m := range mounts {
		if m.id != id || !spec.Within(p, m.point) {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, m.point), "/")
		return fsLocation{dev: m.dev, path: filepath.Join(m.root, rel)}, true, nil
	}
	return fsLocation{}, false, nil
}

// Close releases the cache's directory descriptor; the Cache is unusable
// after it. The container's init closes it once the guest is prepared: the
// descriptor is a handle on runw's cache that code escaping the guest
// must not find open.
func (c *Cache) Close() {
	if c != nil && c.dir != nil {
		c.dir.Close()
		c.dir = nil
	}
	if c != nil && c.viewFile != nil {
		c.viewFile.Close()
		c.viewFile = nil
	}
}

// ReadOnlyView returns a read-only clone of the cache directory's mount
// (open_tree, mount_setattr), detached from every mount table, through
// which artifacts are opened to be mapped; it stays open for the Cache's
// life.
//
// The attack it stops: a process that maps an artifact keeps its
// descriptor (wasmtime holds it for the module's life: a container's
// whole life), and whoever may reopen that descriptor through
// /proc/<pid>/fd (a root sidecar sharing the container's pid namespace,
// with no capability beyond the default) opened it for writing, as the
// file's mode is all the reopen checks. It then rewrote the compiled
// code every later container of that module maps, as host root before
// its sandbox, and the code the running ones execute through the page
// cache (the CRC-32C beside it guards against damage, not a writer). A
// file opened through a read-only mount cannot be reopened for writing
// by anyone: EROFS, whatever the caller's capabilities.
func (c *Cache) ReadOnlyView() (*os.File, error) {
	if c.viewFile != nil {
		return c.viewFile, nil
	}
	fd, err := unix.OpenTree(int(c.dir.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return nil, fmt.Errorf("clone the cache's mount: %w", err)
	}
	// Not noexec: wasmtime maps the artifact's code executable.
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("make the cache's clone read-only: %w", err)
	}
	c.viewFile = os.NewFile(uintptr(fd), "cache-view")
	c.view = fmt.Sprintf("/proc/self/fd/%d", fd)
	return c.viewFile, nil
}

// UseView makes c open artifacts to be mapped through dir, a read-only
// view of the cache directory that another process made (ReadOnlyView)
// and handed over: an init in the container's mount namespace cannot
// clone a mount of the host's.
func (c *Cache) UseView(dir string) { c.view = dir }

// mapFile opens the artifact of key, read-only, to be mapped: through
// the read-only view, made here if none was handed over. Where no view
// can be made (a kernel without the mount API, before 5.12: ENOSYS; a
// seccomp filter that denies it, as container engines' defaults do
// without CAP_SYS_ADMIN: EPERM or ENOSYS; a user who may not mount:
// EPERM), what is mapped is a sealed private copy of the artifact
// (privateCopy): the file in the cache directory, reopened for writing
// through /proc/<pid>/fd by root of the container's pid namespace, was
// the attack ReadOnlyView stops, and these are the hosts where it would
// be back. Any other failure to make a view is served the same way,
// where a refusal would compile the module at every start. So is a cache
// on a noexec mount, which its view keeps: wasmtime could not map the
// artifact's code executable there (EACCES), and the entry, taken for a
// damaged one, was removed and the module compiled again at every start.
func (c *Cache) mapFile(key string) *os.File {
	if c.view == "" {
		if _, err := c.ReadOnlyView(); err != nil {
			return c.privateCopy(key)
		}
	}
	f, err := os.OpenFile(filepath.Join(c.view, key+".cwasm"), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	var st unix.Statfs_t
	if unix.Fstatfs(int(f.Fd()), &st) == nil && st.Flags&unix.ST_NOEXEC != 0 {
		defer f.Close()
		return sealedCopy(key, f)
	}
	return f
}

// privateCopy is the artifact of key copied into a memfd sealed against
// writes, growth and shrinking: a reopen of it for writing writes nothing
// (EPERM), and it is this process's alone. It costs the artifact's size
// in memory per container (the page cache's pages are not shared), only
// where no read-only view can be made.
func (c *Cache) privateCopy(key string) *os.File {
	src, err := os.OpenFile(c.path(key), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer src.Close()
	return sealedCopy(key, src)
}

// sealedCopy is privateCopy of the artifact of key read from src.
func sealedCopy(key string, src *os.File) *os.File {
	fd, err := unix.MemfdCreate(key+".cwasm", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "artifact-copy")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil
	}
	return f
}

// Key names the artifact for these module or component bytes under this
// engine version and these code-changing settings. A component's key says
// so: its artifact is a serialized component, which only the component
// loader may read (wasmtime would refuse it as a module, and the reverse).
func Key(wasm []byte) string { return keyOf(wasm, false) }

// keyOf is the key of a file's bytes b: a binary module or component, or
// text (WAT) when text is set. Text is keyed by its own bytes, never by
// the binary it assembles to, so that it can be keyed without being
// assembled: the wat crate's parser then runs only where the module is
// compiled, in the confined compile child (runtime.confineCompile).
func keyOf(b []byte, text bool) string {
	h := sha256.New()
	h.Write(b)
	return keySum(h, b, text)
}

// keySum finishes the key of a file whose bytes h has hashed and which
// begins with head (at least its first 8 bytes, where there are so many);
// text says the bytes are WAT.
func keySum(h hash.Hash, head []byte, text bool) string {
	switch {
	case text:
		h.Write([]byte("\x00text"))
	case spec.Sniff(head[:min(len(head), 8)]) == spec.KindComponent:
		h.Write([]byte("\x00component"))
	}
	fmt.Fprintf(h, "\x00wasmtime=%s\x00%s", WasmtimeVersion(), engineSettings)
	return hex.EncodeToString(h.Sum(nil))
}

// CopyKeyed copies the module file read from r (named path in errors) to
// w, at most limit bytes of it, and returns its key (keyOf), in pieces
// through one small buffer instead of whole. Memory first touched is what
// a whole read costs on a VM: 75 MB read whole took 0.9 to 1.5 s here,
// the same file hashed in pieces 66 ms, and an engine's every new
// container is a miss of the identity index (its rootfs is a new path).
// A file longer than limit is refused once it passes it, whatever its
// size said when it was opened.
func CopyKeyed(w io.Writer, r io.Reader, path string, limit int64, text bool) (string, error) {
	lr := &io.LimitedReader{R: r, N: limit + 1}
	h := sha256.New()
	buf := make([]byte, 128<<10)
	n, err := io.ReadFull(lr, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return "", err
	}
	head := append([]byte(nil), buf[:min(n, 8)]...)
	out := io.MultiWriter(h, w)
	if _, err := out.Write(buf[:n]); err != nil {
		return "", err
	}
	if _, err := io.CopyBuffer(out, lr, buf); err != nil {
		return "", err
	}
	if lr.N == 0 {
		return "", tooLarge(path, fmt.Sprintf("more than %d bytes", limit))
	}
	return keySum(h, head, text), nil
}

// isKey says s is a cache key: a SHA-256 in lowercase hex. Every name
// made from a key is joined to the cache's path, and filepath.Join
// cleans ".." lexically: the attack this stops is `runw cache rm
// ../../etc/x` (or an index entry holding such a name), which removed
// (or would have read) x.cwasm, x.sum and x.ok anywhere on the host.
func isKey(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (c *Cache) path(key string) string { return filepath.Join(c.at, key+".cwasm") }
func (c *Cache) sum(key string) string  { return filepath.Join(c.at, key+".sum") }
func (c *Cache) ok(key string) string   { return filepath.Join(c.at, key+".ok") }

// bootID tells one boot from the next, so that CRC checks are redone after
// a reboot (when the page cache is cold and the disk is read again).
var bootID = sync.OnceValue(func() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
})

// identity names a file's current content without reading it: ctime
// changes with every write and cannot be set from user space. Not quite
// every write: a store through a shared writable mapping changes the
// time only at the page's first write fault, so stores after it, into a
// page still mapped writable, change the file and not its identity
// (Lease says when that cannot be).
func identity(fi os.FileInfo) string {
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d:%d:%d.%d:%d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
}

// indexPath is the path a file is indexed under, beside its identity: its
// absolute path or, for a module read through a /proc/self/fd link
// (runtime's readThrough), the path the kernel gives the file it names,
// so that the link's number, which changes from run to run, does not
// defeat the index. The path keeps one container's entries from standing
// for another's files: on a file system whose inode numbers and times an
// image's author chooses (FUSE, as lazy-pulling snapshotters mount
// images), with device numbers reused after unmount, identity alone
// would let one image's module answer for another's. exec finds the
// entry create made for the container's own module under create's path
// (runtime's reopenInRootfs).
func indexPath(path string) string {
	if strings.HasPrefix(path, "/proc/self/fd/") {
		if target, err := os.Readlink(path); err == nil {
			return target
		}
	}
	abs, _ := filepath.Abs(path)
	return abs
}

// KeyFor returns the cache key for the module at path, from the identity
// index when the file is unchanged, else by opening it (openModule) and
// hashing it in pieces under a read lease (CopyKeyed; and then, when the
// lease stayed whole, remembering the answer). text says the file is
// WAT, keyed as it is (keyOf). A caller that compiles the file reads it
// again and keys the bytes it compiles (compileCached), so a file
// rewritten between the two reads is never stored under the other's key.
func (c *Cache) KeyFor(path string, text bool) (string, error) {
	return c.KeyUpTo(path, text, MaxModuleSize)
}

// KeyUpTo is the key of the module at path, read whole, at most limit
// bytes: Cache.KeyUpTo for a process without a cache, which has no index
// to answer from.
func KeyUpTo(path string, text bool, limit int64) (string, error) {
	f, _, err := openModule(path, limit)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return CopyKeyed(io.Discard, f, path, limit, text)
}

// KeyUpTo is KeyFor that reads at most limit bytes.
func (c *Cache) KeyUpTo(path string, text bool, limit int64) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	idx := c.indexFile(path, fi)
	if b, err := readSmall(idx); err == nil && isKey(string(b)) {
		return string(b), nil
	}
	f, _, err := openModule(path, limit)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// Stat again, under the lease: the identity must be of the file as
	// it is while no mapping can write it unseen.
	lease := HoldLease(f)
	fi, err = f.Stat()
	var key string
	if err == nil {
		key, err = CopyKeyed(io.Discard, f, path, limit, text)
	}
	if lease.Release() && err == nil {
		c.Remember(path, fi, key)
	}
	return key, err
}

// Lease is a read lease (F_SETLEASE) on a module file, held while its
// identity is taken and its bytes are read, so that what is indexed
// (Remember) is what the file held. The kernel grants it only while
// nobody holds the file for writing (no descriptor open for writing, no
// shared writable mapping), and a writer's open waits for its release.
// The attack this stops: a file's times change at the first write fault
// of a page of a shared writable mapping, not at later stores into that
// page, so a writer that held the module mapped, and stored into it
// after runw indexed it (or while runw read it), had runw run the old
// module's cached code while the file held another (a scanner would see
// the new one). A mapping made after the release faults, and so changes
// the times, before its first store.
type Lease struct{ f *os.File }

// HoldLease takes a read lease on the open file f; nil where none can be
// had (a writer holds the file; another owner's file, without
// CAP_LEASE; a file system without leases): the file's identity must
// then not be indexed, and it is hashed every time.
//
// The kernel signals a lease's holder (SIGIO) when a writer's open breaks
// it; the file is given no owner, so that no signal is sent: the init
// takes SIGIO as a stop signal, and a writer's open of the module while
// the init read it ended the container (157) before its guest ran. The
// break still shows (Release).
func HoldLease(f *os.File) *Lease {
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		return nil
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETOWN, 0); err != nil {
		unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_UNLCK)
		return nil
	}
	return &Lease{f}
}

// Release lets the lease go, and reports whether it was still whole: no
// writer's open broke it meanwhile. Nil-safe (false).
func (l *Lease) Release() bool {
	if l == nil {
		return false
	}
	held, err := unix.FcntlInt(l.f.Fd(), unix.F_GETLEASE, 0)
	unix.FcntlInt(l.f.Fd(), unix.F_SETLEASE, unix.F_UNLCK)
	return err == nil && held == unix.F_RDLCK
}

// Remember records in the identity index that the file at path, as fi
// described it before it was read, has key: only if it is unchanged since
// (a file rewritten while read keeps no index entry). fi must have been
// taken, and the file read, under a Lease that stayed whole.
func (c *Cache) Remember(path string, fi os.FileInfo, key string) {
	if fi2, err := os.Stat(path); err == nil && identity(fi2) == identity(fi) {
		if writeAtomic(c.indexFile(path, fi), []byte(key)) == nil {
			c.boundIndex()
		}
	}
}

// Load returns the cached module for key, or nil on a miss. A damaged entry
// is removed and reported as a miss.
func (c *Cache) Load(engine *wasmtime.Engine, key string) *wasmtime.Module {
	m, _ := loadArtifact(c, key, func(path string) (*wasmtime.Module, error) {
		return wasmtime.NewModuleDeserializeFile(engine, path)
	})
	return m
}

// LoadComponent returns the cached component for key, or nil on a miss,
// with the checks Load makes (a damaged entry is removed and reported as a
// miss): the artifact is machine code runw will run, so only an entry
// runw wrote into a directory only it can write, whole and CRC-checked,
// is ever mapped.
func (c *Cache) LoadComponent(engine *wasmtime.Engine, key string) *component.Component {
	comp, _ := loadArtifact(c, key, func(path string) (*component.Component, error) {
		return component.DeserializeFile(engine, path)
	})
	return comp
}

// loadArtifact maps the verified artifact for key with open, and marks it
// recently used; an entry that fails either is a miss, and one that
// verify or open refuses is removed.
func loadArtifact[T any](c *Cache, key string, open func(path string) (T, error)) (T, bool) {
	var zero T
	if !c.verify(key) {
		return zero, false
	}
	f := c.mapFile(key)
	if f == nil {
		return zero, false
	}
	// wasmtime opens the file again, and keeps its own descriptor.
	v, err := open(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	f.Close()
	if err != nil {
		c.Remove(key)
		return zero, false
	}
	touch(c.sum(key)) // recency for LRU eviction
	return v, true
}

// verify checks the artifact against its sidecar (length + CRC-32C),
// once per boot and artifact identity. A missing sidecar is a miss; a
// mismatch removes the entry.
func (c *Cache) verify(key string) bool {
	sum, err := readSmall(c.sum(key))
	if err != nil || len(sum) != 12 {
		return false
	}
	fi, err := os.Lstat(c.path(key))
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink != 1 {
		// runw writes each entry once, by rename: a second name is
		// someone else's link, through which the artifact may be
		// rewritten (and its CRC forged) outside the cache's checks.
		c.Remove(key)
		return false
	}
	mark := bootID() + " " + identity(fi)
	if b, err := readSmall(c.ok(key)); err == nil && string(b) == mark {
		return true
	}
	if binary.LittleEndian.Uint64(sum[:8]) != uint64(fi.Size()) || !crcMatches(c.path(key), binary.LittleEndian.Uint32(sum[8:])) {
		c.Remove(key)
		return false
	}
	_ = writeAtomic(c.ok(key), []byte(mark))
	return true
}

// crcMatches checks a file's CRC-32C through a read-only mapping, so the
// pages are the page cache's own (wasmtime maps the same ones next).
func crcMatches(path string, want uint32) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return false
	}
	defer syscall.Munmap(data)
	return crc32.Checksum(data, castagnoli()) == want
}

// Store writes an artifact atomically: the artifact first, then the
// sidecar that makes it visible. Concurrent writers of one key write the
// same bytes, and each rename is atomic, so readers see a whole entry or
// none.
func (c *Cache) Store(key string, artifact []byte) error {
	return c.StoreFrom(key, bytes.NewReader(artifact), int64(len(artifact)), nil)
}

// StoreFrom is Store of the artifact read from r to its end, at most limit
// bytes: more is refused, and nothing is stored, as is an empty one.
// Before the artifact is made visible, done (when not nil) is called once
// it is read to its end within the bound (and only then), and an error
// from it stores nothing: runtime's compile child writes its
// artifact to a pipe, and only a child that exits cleanly has written a
// whole one. The artifact goes to a temporary file as it is read, never
// whole into memory.
func (c *Cache) StoreFrom(key string, r io.Reader, limit int64, done func() error) error {
	crc := crc32.New(castagnoli())
	var n int64
	err := writeAtomicFrom(c.path(key), func(w io.Writer) error {
		var err error
		n, err = ReadArtifact(io.MultiWriter(w, crc), r, limit, done)
		return err
	})
	if err != nil {
		return err
	}
	var sum [12]byte
	binary.LittleEndian.PutUint64(sum[:8], uint64(n))
	binary.LittleEndian.PutUint32(sum[8:], crc.Sum32())
	if err := writeAtomic(c.sum(key), sum[:]); err != nil {
		// Not left behind, an artifact no reader will take, holding the
		// space (ENOSPC) every later store then lacked.
		os.Remove(c.path(key))
		return err
	}
	return c.evict(key)
}

// ReadArtifact copies an artifact from r to its end into w, at most limit
// bytes (more is ErrArtifactTooLarge), then calls done (when not nil),
// whose error is returned: the writer of r says there whether what it
// wrote is whole. An empty artifact is refused after done, so that the
// writer's own failure (it wrote nothing) comes first: it says why.
func ReadArtifact(w io.Writer, r io.Reader, limit int64, done func() error) (int64, error) {
	n, err := io.Copy(w, io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		err = fmt.Errorf("%w: more than %d bytes", ErrArtifactTooLarge, limit)
	}
	if err == nil && done != nil {
		err = done()
	}
	if err == nil && n == 0 {
		err = errors.New("empty artifact")
	}
	return n, err
}

// indexFile is the index entry naming the key of the file at path, as
// it is now (fi).
func (c *Cache) indexFile(path string, fi os.FileInfo) string {
	h := sha256.Sum256([]byte(indexPath(path) + "\x00" + identity(fi) + "\x00" + WasmtimeVersion() + "\x00" + engineSettings))
	return filepath.Join(c.at, hex.EncodeToString(h[:])+".idx")
}

// HasIndexed is Has that never reads the module: it answers from the
// identity index alone, false where the index has no entry. create and
// exec ask it outside the container's cgroup, where Has would read up to
// MaxModuleSize and assemble WAT (Wat2Wasm: about 25 bytes of memory a
// byte, and time quadratic in named branch labels) bounded by nothing.
// On a miss the bounded compile child computes the key itself.
func (c *Cache) HasIndexed(path string) bool {
	_, ok := c.IndexedKey(path)
	return ok
}

// IndexedKey is HasIndexed that also returns the key the index names.
func (c *Cache) IndexedKey(path string) (string, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", false
	}
	b, err := readSmall(c.indexFile(path, fi))
	if err != nil || !isKey(string(b)) || !c.verify(string(b)) {
		return "", false
	}
	return string(b), true
}

// OpenArtifact opens the intact artifact of key for reading, for a
// process that cannot reach the cache itself: an init in a user
// namespace, nobody on the host, which without it compiled its module at
// every create and exec (seconds for a few MB of Go, minutes for a large
// module). It returns nil when the cache does not hold key intact, or
// cannot hand it over safely.
//
// The process maps the artifact by reopening its descriptor
// (/proc/self/fd/N), which checks the file's own mode and nothing on the
// way to it, so the artifact is made readable by all (0644). That lets
// nobody else in only while the cache directory is runw's alone (no
// group or other bits, as OpenCache makes it): then only a holder of the
// descriptor reaches the file, and nobody but runw's user may write it.
// In a directory others may search, artifacts stay 0600 (other users
// would read the compiled code of every image), none is handed over, and
// OpenCache makes those handed over before 0600 again (hideArtifacts).
// The descriptor is opened through the read-only view (ReadOnlyView),
// or is a sealed private copy where none can be made (mapFile), so that
// nobody reopens the cache's file for writing. The process maps what runw
// itself wrote and checked, never a file of its own choosing.
func (c *Cache) OpenArtifact(key string) *os.File {
	if !c.CanHandOver() || !c.verify(key) {
		return nil
	}
	// Made readable where it is: the view is read-only.
	w, err := os.OpenFile(c.path(key), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	fi, err := w.Stat()
	if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o044 != 0o044 {
		err = w.Chmod(0o644)
	}
	w.Close()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	f := c.mapFile(key)
	if f == nil {
		return nil
	}
	touch(c.sum(key)) // recency for LRU eviction
	return f
}

// CanHandOver reports whether OpenArtifact may hand artifacts over: the
// cache directory is runw's alone (no group or other bits), as OpenCache
// found it on the descriptor every later access goes through.
func (c *Cache) CanHandOver() bool { return c.private }

// hideArtifacts makes every artifact 0600 again, in a cache directory
// that others may now search: OpenArtifact made those it handed over
// 0644, safe only while nobody else reaches them by path, and other
// users would read the compiled code of every image run under a user
// namespace. It runs at every OpenCache of such a directory: a few
// hundred entries at most (the size bound), each a stat. Each is opened
// without following a link before its mode is changed.
func (c *Cache) hideArtifacts() {
	entries, err := os.ReadDir(c.at)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".cwasm") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
			if f, err := os.OpenFile(filepath.Join(c.at, e.Name()), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
				_ = f.Chmod(0o600)
				f.Close()
			}
		}
	}
}

// Has reports whether the module at path is cached and intact, without
// loading it.
func (c *Cache) Has(path string, kind spec.Kind) bool {
	return c.HasUpTo(path, kind, MaxModuleSize)
}

// HasUpTo is Has that reads at most limit bytes of a binary module, however
// large the file was when its size was checked: exec hashes outside the
// container's cgroup only up to its own bound, and the module may be the
// guest's file, which the guest can extend while it is hashed.
func (c *Cache) HasUpTo(path string, kind spec.Kind, limit int64) bool {
	key, err := c.KeyUpTo(path, kind.IsText(), min(limit, MaxModuleSize))
	return err == nil && c.Holds(key)
}

// Holds reports whether the cache holds the artifact of key intact.
func (c *Cache) Holds(key string) bool { return c.verify(key) }

// Remove deletes one entry and the index files that point to it.
func (c *Cache) Remove(key string) error {
	if !isKey(key) {
		return fmt.Errorf("cache entry %q: not a key (64 lowercase hexadecimal digits, as cache ls prints)", key)
	}
	c.dropIndex(map[string]bool{key: true})
	return c.remove(key)
}

// remove deletes one entry's files, leaving the index alone.
func (c *Cache) remove(key string) error {
	os.Remove(c.ok(key))
	err1 := os.Remove(c.sum(key))
	err2 := os.Remove(c.path(key))
	if errors.Is(err1, fs.ErrNotExist) && errors.Is(err2, fs.ErrNotExist) {
		return fmt.Errorf("cache entry %q: %w", key, fs.ErrNotExist)
	}
	return nil
}

// List returns the entries, most recently used first.
func (c *Cache) List() ([]Entry, error) {
	names, err := os.ReadDir(c.at)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, n := range names {
		key, ok := strings.CutSuffix(n.Name(), ".cwasm")
		if !ok {
			continue
		}
		e := Entry{Key: key}
		if fi, err := n.Info(); err == nil {
			e.Size = fi.Size()
		}
		if fi, err := os.Stat(c.sum(key)); err == nil {
			e.Used = fi.ModTime()
		} else {
			e.Corrupt = true
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Used.After(out[j].Used) })
	return out, nil
}

// Prune removes every entry, and the identity index with them.
func (c *Cache) Prune() (int, error) {
	entries, err := c.List()
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		c.remove(e.Key)
	}
	idx, _ := filepath.Glob(filepath.Join(c.at, "*.idx"))
	for _, p := range idx {
		os.Remove(p)
	}
	c.removeUnlocked()
	return len(entries), nil
}

// removeUnlocked removes the compile locks (LockCompile) and temporary
// files (writeAtomicFrom) that nobody holds: what a create or compile
// killed midway left, a temporary file up to an artifact's size. One held
// is another process's compile or write in progress, and stays; it is
// unlinked while locked, so nobody takes it in between. One younger than
// freshUnlocked may be between its creation and its holder's flock.
func (c *Cache) removeUnlocked() {
	names, err := os.ReadDir(c.at)
	if err != nil {
		return
	}
	for _, n := range names {
		name := n.Name()
		if !n.Type().IsRegular() || !strings.HasPrefix(name, ".tmp-") && !strings.HasSuffix(name, ".lock") {
			continue
		}
		if fi, err := n.Info(); err != nil || time.Since(fi.ModTime()) < freshUnlocked {
			continue
		}
		p := filepath.Join(c.at, name)
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.Remove(p)
		}
		f.Close()
	}
}

// evict removes least recently used entries until the cache fits Max,
// never the entry just written.
func (c *Cache) evict(keep string) error {
	c.sweepTemps()
	entries, err := c.List()
	if err != nil {
		return err
	}
	var total int64
	for _, e := range entries {
		total += e.Size
	}
	gone := map[string]bool{}
	for i := len(entries) - 1; i >= 0 && total > c.Max; i-- {
		if entries[i].Key == keep {
			continue
		}
		c.remove(entries[i].Key)
		gone[entries[i].Key] = true
		total -= entries[i].Size
	}
	if len(gone) > 0 {
		c.dropIndex(gone)
	}
	return nil
}

// CompileLockWait bounds the wait for another process's compile of the
// same module: the compile's wall-clock bound (runtime's compileBoundFor)
// allows for it. A variable for tests.
var CompileLockWait = time.Minute

// LockCompile takes the compile lock of key: a process that misses the
// cache waits here while another compiles the same module, then finds its
// artifact, instead of compiling it a second time. Three containers of a
// 75 MB module created at once each compiled it (2.3 GB and two minutes
// of CPU apiece, outside any cgroup), three times slower together, past
// their time bound on a loaded node. The release removes the lock file:
// a process that opened it before then may still compile, which costs
// time but never correctness (Store is atomic). A cache whose lock cannot
// be taken compiles unlocked, as before; held says whether it was taken
// (the caller may then watch for the holder's artifact: Landed).
func (c *Cache) LockCompile(key string) (release func(), held bool) {
	path := filepath.Join(c.at, key+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return func() {}, false
	}
	// Waited for without blocking, and at most CompileLockWait: the holder
	// may be an exec'd process compiling in its container's cgroup, frozen
	// by a pause or slowed by a small CPU quota, and a create must not wait
	// for it past its own time bound; it compiles unlocked instead.
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil || (err != unix.EWOULDBLOCK && err != unix.EINTR) || time.Since(start) > CompileLockWait {
			break
		}
	}
	if err != nil {
		f.Close()
		return func() {}, false
	}
	return func() {
		os.Remove(path)
		f.Close()
	}, true
}

// ErrLanded is the cause of Landed's context: another process stored the
// artifact.
var ErrLanded = errors.New("another process stored the artifact meanwhile")

// Landed returns a context that ends, with cause ErrLanded, once the cache
// holds key (checked every interval), or when stop is called. A process
// that gave up waiting for LockCompile compiles unlocked; clang's 75 MB
// takes longer to compile here (90 s) than CompileLockWait, and the
// waiter went on compiling for as long again after the holder had
// stored the same artifact, doubling the CPU and memory a cold start of
// such a module costs. Watched, its compile stops when the artifact lands.
func (c *Cache) Landed(key string, interval time.Duration) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if c.Holds(key) {
					cancel(ErrLanded)
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(nil) }
}

// freshUnlocked is how long removeUnlocked leaves a lock or temporary
// file alone: its maker opens it, then takes its flock.
const freshUnlocked = 10 * time.Second

// staleTemp is the age past which a temporary file of writeAtomic is a
// leftover: a compile child killed by its time bound (an hour at most)
// or by an engine between writing an artifact and renaming it.
const staleTemp = time.Hour

// sweepTemps removes leftover temporary files. Each was up to an
// artifact's size, outside the cache's bound: creates killed mid-write
// again and again would fill the disk. A fresh one may be another
// process's write in progress and is left alone.
func (c *Cache) sweepTemps() {
	names, err := os.ReadDir(c.at)
	if err != nil {
		return
	}
	for _, n := range names {
		if !strings.HasPrefix(n.Name(), ".tmp-") {
			continue
		}
		if fi, err := n.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
			os.Remove(filepath.Join(c.at, n.Name()))
		}
	}
}

// indexFile is one identity index file, for dropIndex and boundIndex.
type indexFile struct {
	path    string
	written time.Time
}

// indexFiles lists the identity index files, oldest first.
func (c *Cache) indexFiles() []indexFile {
	names, _ := filepath.Glob(filepath.Join(c.at, "*.idx"))
	out := make([]indexFile, 0, len(names))
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil {
			out = append(out, indexFile{n, fi.ModTime()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].written.Before(out[j].written) })
	return out
}

// dropIndex removes the index files that point to any of keys: an entry
// evicted or removed takes the identities that led to it along.
func (c *Cache) dropIndex(keys map[string]bool) {
	for _, f := range c.indexFiles() {
		if b, err := readSmall(f.path); err != nil || keys[string(b)] {
			os.Remove(f.path)
		}
	}
}

// boundIndex removes the oldest index files beyond MaxIndex. It runs only
// after a miss wrote a new one, never on the warm path.
func (c *Cache) boundIndex() {
	max := c.MaxIndex
	if max <= 0 {
		max = DefaultIndexMax
	}
	// Counting is one directory read; the stat and sort of every index
	// file happen only when there are too many.
	if names, _ := filepath.Glob(filepath.Join(c.at, "*.idx")); len(names) <= max {
		return
	}
	files := c.indexFiles()
	for i := 0; i < len(files)-max; i++ {
		os.Remove(files[i].path)
	}
}

// MaxModuleSize bounds the module, component or WAT file runw reads into
// memory. The file is the image's (or, for runw exec, possibly the
// guest's: a guest with a writable rootfs can make a sparse file of any
// size with one ftruncate), and it is read by create and exec on the host,
// as root and outside the container's cgroup, before any limit applies: a
// 3 GiB sparse file, 4 KiB on disk, cost `runw exec` 3 GiB of memory and a
// minute. Far larger than any real guest.
var MaxModuleSize int64 = 512 << 20

// ErrArtifactTooLarge is StoreFrom's refusal of an artifact past its bound.
var ErrArtifactTooLarge = errors.New("artifact too large")

// ErrModuleTooLarge is ReadModule's refusal of a file over MaxModuleSize.
var ErrModuleTooLarge = errors.New("module file too large")

// ReadModule reads the module at path, refusing (before reading) a file
// larger than MaxModuleSize, and never reading more than that even if the
// file grows while it is read. The buffer is sized from the file's stat:
// growing it by doubling as it is read touched about three times the
// file's size in new memory (0.9 s for 75 MB here, against 0.34 s).
func ReadModule(path string) ([]byte, error) {
	f, size, err := openModule(path, MaxModuleSize)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxModuleSize+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > MaxModuleSize {
		return nil, tooLarge(path, fmt.Sprintf("more than %d bytes", MaxModuleSize))
	}
	return buf.Bytes(), nil
}

// readSmall reads one of the cache's small files (a sidecar, a mark, an
// index entry), never through a symbolic link, and at most 4 KiB of it.
// The cache directory is runw's own (OpenCache refuses one others may
// write); still, an entry replaced by a link must not make runw, as root,
// read, create or touch what it points to, as every other open in the
// cache already refuses (O_NOFOLLOW).
func readSmall(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return io.ReadAll(io.LimitReader(f, 4096))
}

// touch sets a cache file's times to now, never through a link (readSmall
// says why).
func touch(path string) {
	now := unix.NsecToTimespec(time.Now().UnixNano())
	_ = unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{now, now}, unix.AT_SYMLINK_NOFOLLOW)
}

// openModule opens the module file at path for reading and returns its
// size, refusing one larger than limit before anything is read.
func openModule(path string, limit int64) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if fi.Size() > limit {
		f.Close()
		return nil, 0, tooLarge(path, fmt.Sprintf("%d bytes, at most %d", fi.Size(), limit))
	}
	return f, fi.Size(), nil
}

// tooLarge is the refusal of the module at path; a *PathError, as any
// read error, so that callers name the guest's path.
func tooLarge(path, detail string) error {
	return &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %s", ErrModuleTooLarge, detail)}
}

// writeAtomic writes data to a dot-prefixed temp file beside path, fsyncs
// it and renames it into place.
func writeAtomic(path string, data []byte) error {
	return writeAtomicFrom(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomicFrom is writeAtomic of what write writes; an error from it
// leaves nothing at path.
//
// The temporary file is flocked until it has its name: Prune removes one
// it can lock, a leftover of a writer that was killed.
func writeAtomicFrom(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	defer f.Close()
	defer os.Remove(f.Name())
	_ = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
