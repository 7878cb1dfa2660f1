package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/state"
)

// sealedSelf returns a copy of runw's own binary that nobody can write,
// to exec as the container's init.
//
// The attack it stops is CVE-2019-5736: the init lives as long as the
// container, so /proc/<init>/exe would point at the host's runw binary.
// Native code that can see the init (a hook, a native sidecar sharing the
// pid namespace) could open that link for writing once the binary is no
// longer busy and replace runw on the host.
//
// First choice, as runc does since 1.2: the binary opened through a
// private read-only overlayfs mount that is never attached anywhere. Its
// pages are shared with every other container (no memory per container),
// but any open for writing through it fails with EROFS. Fallback: a
// sealed memfd copy.
//
// Unlike runc's init, which runs runc only until start execs the
// container's program, runw's init runs runw's code for the container's
// whole life. So the overlay's file is not the host binary but a copy of
// it under the state root (exeCopy): with the host binary underneath, its
// pages were every init's code and the kernel's "text file busy" did not
// guard it (the running file is the overlay's), so an upgrade that wrote
// the binary in place (`cp new /usr/local/bin/runw`) swapped the code
// under every running container, which died of SIGSEGV.
func sealedSelf(root string) (*os.File, error) {
	if f, err := overlaySelf(root); err == nil {
		return f, nil
	} else {
		logDebugf("read-only overlay of runw unavailable (%v): using a sealed memfd copy", err)
	}
	return memfdSelf()
}

// overlaySelf opens exeCopy's copy of runw through a detached read-only
// overlayfs whose lower layers are the copy's directory and an empty
// directory (overlayfs needs two lower layers when it has no upper one,
// and refuses the same directory twice).
func overlaySelf(root string) (*os.File, error) {
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		// Before the copy: where no overlay can be made (runw without
		// root), none is made for nothing.
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	// Overlay options separate layers with ':' and options with ',', and
	// escape with '\\': checked before any copy is made for nothing.
	if strings.ContainsAny(root, `:,\`) {
		return nil, fmt.Errorf("state root %q cannot hold an overlay layer", root)
	}
	dir, name, err := exeCopy(filepath.Join(root, state.ExeDir))
	if err != nil {
		return nil, err
	}
	emptyDir := filepath.Join(root, state.EmptyDir)
	if err := os.MkdirAll(emptyDir, 0o700); err != nil {
		return nil, err
	}
	if err := unix.FsconfigSetString(ctx, "lowerdir", dir+":"+emptyDir); err != nil {
		return nil, fmt.Errorf("fsconfig lowerdir: %w", err)
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("fsconfig create: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open %q in overlay: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "/overlay:"+name), nil
}

// exeCopy returns dir and the name in it of a copy of the running runw
// binary, made once per binary: named by a digest of the binary's
// identity (device, inode, size, modification and change times), so that
// a binary changed in any way, even written in place, gets a copy of its
// own.
//
// The attack it stops: a copy planted for runw to run as every
// container's init. dir is made 0700 inside the state root, which only
// runw's user can write (state.Open checks it), and used only if it is
// still so (not a link, runw's, writable by no one else): an insecure
// one left there (a looser umask, a hand-made directory) would let
// anyone plant the next copy under its predictable name. A copy found is
// used only if it is runw's alone and of the binary's size (copyFound);
// one is made whole, synced, then renamed into place, by one create at a
// time (a lock on dir).
//
// Copies of other binaries, and leftovers of creates that died while
// copying, are removed once unused for a minute (another runw's create
// between its copy and its overlay has used its copy just now), before a
// copy is made, so that an upgrade on a small /run finds room; an init
// running an old copy keeps its file until it exits. Without room for
// the copy (statfs) none is begun: a copy that filled the file system
// failed, and failed the writes of everything else there meanwhile.
func exeCopy(dir string) (string, string, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return "", "", err
	}
	defer src.Close()
	id, size, err := exeIdentity(src)
	if err != nil {
		return "", "", err
	}
	name := "runw-" + id
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", "", err
	}
	d, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w (not running copies of runw from it)", dir, err)
	}
	defer unix.Close(d)
	if err := checkExeDir(d, dir); err != nil {
		return "", "", err
	}
	// One create at a time looks and copies: the creates an engine
	// starts at once after a boot each made a copy of their own (a second
	// file held by its init for its whole life), and beat the room check
	// together. Released with d.
	if err := unix.Flock(d, unix.LOCK_EX); err != nil {
		return "", "", err
	}
	if found, ok := copyFound(d, name, size); ok {
		// Its time is its last use: two binaries creating in one root
		// by turns keep both copies rather than remove each other's.
		if now := time.Now(); now.Sub(found) > 30*time.Second {
			os.Chtimes(filepath.Join(dir, name), now, now)
		}
		return dir, name, nil
	}
	removeStaleCopies(dir, name)
	need := size + size/4
	var st unix.Statfs_t
	if err := unix.Fstatfs(d, &st); err == nil && int64(st.Bavail)*st.Bsize < need {
		return "", "", fmt.Errorf("no room in %s for a copy of runw (%d bytes free, %d needed)", dir, int64(st.Bavail)*st.Bsize, need)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return "", "", err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, src)
	if err == nil {
		err = tmp.Chmod(0o555)
	}
	if err == nil {
		keepLabel(src, tmp)
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", fmt.Errorf("copy runw's binary: %w", err)
	}
	// A binary written while it was copied is not this copy's.
	if after, _, err := exeIdentity(src); err != nil || after != id {
		return "", "", fmt.Errorf("copy runw's binary: it changed while copied")
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return "", "", err
	}
	return dir, name, nil
}

// copyFound returns the modification time of the copy name in the
// directory d if it can be run: a regular file of runw's user, written by
// no one else, with one link (nothing planted while the directory was
// loose, and then closed, stays usable), at the binary's size.
func copyFound(d int, name string, size int64) (time.Time, bool) {
	var st unix.Stat_t
	if err := unix.Fstatat(d, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return time.Time{}, false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 || st.Nlink != 1 || st.Size != size {
		return time.Time{}, false
	}
	return time.Unix(st.Mtim.Sec, st.Mtim.Nsec), true
}

// keepLabel gives the copy the SELinux label of runw's binary, where it
// has one: a copy labelled as the state root's files may be refused exec
// by the policy. Best effort.
func keepLabel(src, dst *os.File) {
	buf := make([]byte, 256)
	n, err := unix.Fgetxattr(int(src.Fd()), "security.selinux", buf)
	if err != nil || n <= 0 || n > len(buf) {
		return
	}
	if err := unix.Fsetxattr(int(dst.Fd()), "security.selinux", buf[:n], 0); err != nil {
		logDebugf("label the copy of runw: %v", err)
	}
}

// checkExeDir refuses the directory d (at path dir) unless it is runw's
// user's and no one else can use it (exeCopy). A refusal means tampering,
// or a hand-made directory: said at warning level, since every create
// then runs its init from a private memfd copy.
func checkExeDir(d int, dir string) error {
	var st unix.Stat_t
	if err := unix.Fstat(d, &st); err != nil {
		return err
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		err := fmt.Errorf("%s must be a directory of uid %d that no one else can use (is uid %d, mode %o): not running copies of runw from it", dir, os.Geteuid(), st.Uid, st.Mode&0o7777)
		logrus.Warn(err)
		return err
	}
	return nil
}

// removeStaleCopies removes from dir the copies of binaries other than
// keep's, and the temporary files of copies never finished, once
// untouched for a minute.
func removeStaleCopies(dir, keep string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() == keep || !strings.HasPrefix(e.Name(), "runw-") && !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// exeIdentity names f's file by a digest of what any change to it
// changes (the name is seen in /proc/<init>/exe, where the binary's inode
// and times need not be), and gives its size.
func exeIdentity(f *os.File) (string, int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", 0, err
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%d %d %d %d.%d %d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec))
	return hex.EncodeToString(sum[:16]), st.Size, nil
}

// allSeals seal a memfd against every change: write, shrink, grow, and
// further seals.
const allSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// memfdSelf copies runw into a memfd sealed against writes, growth and
// shrinking: it cannot be changed by anyone and is not the host file.
func memfdSelf() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	f, err := sealedMemfd("runw-init", func(f *os.File) error {
		_, err := io.Copy(f, src)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("copy runw into a memfd: %w", err)
	}
	return f, nil
}

// sealedMemfd makes a memfd named name, has fill write it, and seals it
// against every change (allSeals).
func sealedMemfd(name string, fill func(f *os.File) error) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "/memfd:"+name)
	err = fill(f)
	if err == nil {
		_, err = unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, allSeals)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
