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
	dir, name, err := exeCopy(filepath.Join(root, state.ExeDir))
	if err != nil {
		return nil, err
	}
	emptyDir := filepath.Join(root, state.EmptyDir)
	if err := os.MkdirAll(emptyDir, 0o700); err != nil {
		return nil, err
	}
	if strings.ContainsAny(dir+emptyDir, ":,") {
		return nil, fmt.Errorf("directory %q cannot be an overlay layer", dir)
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
// used only at the binary's size; one is made whole, synced, then renamed
// into place.
//
// Copies of other binaries, and leftovers of creates that died while
// copying, are removed once unused for a minute (one being made by a
// concurrent create of another runw is younger), before a copy is made, so that an
// upgrade on a small /run finds room; an init running an old copy keeps
// its file until it exits. Without room for the copy (statfs) none is
// begun: a copy that filled the file system failed, and failed the
// writes of everything else there meanwhile.
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
	if err := checkExeDir(dir); err != nil {
		return "", "", err
	}
	if fi, err := os.Lstat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		// Its time is its last use: two binaries creating in one root
		// by turns keep both copies rather than remove each other's.
		if now := time.Now(); now.Sub(fi.ModTime()) > 30*time.Second {
			os.Chtimes(filepath.Join(dir, name), now, now)
		}
		return dir, name, nil
	}
	removeStaleCopies(dir, name)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && int64(st.Bavail)*st.Bsize < size+size/4 {
		return "", "", fmt.Errorf("no room in %s for a copy of runw (%d bytes free, %d needed)", dir, int64(st.Bavail)*st.Bsize, size)
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

// checkExeDir refuses dir unless it is a directory (not a link) of runw's
// user that no one else can use (exeCopy).
func checkExeDir(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		return fmt.Errorf("%s must be a directory of uid %d that no one else can use (is uid %d, mode %o): not running copies of runw from it", dir, os.Geteuid(), st.Uid, st.Mode&0o170777)
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
