package runtime

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
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
// private read-only overlayfs mount that is never attached anywhere. The
// file is the host binary's inode underneath, so its pages are shared with
// every other container (no memory per container), but any open for
// writing through it fails with EROFS. Fallback: a sealed memfd copy.
func sealedSelf(emptyDir string) (*os.File, error) {
	if f, err := overlaySelf(emptyDir); err == nil {
		return f, nil
	} else {
		logDebugf("read-only overlay of runw unavailable (%v): using a sealed memfd copy", err)
	}
	return memfdSelf()
}

// overlaySelf opens runw's binary through a detached read-only overlayfs
// whose lower layers are the binary's directory and an empty directory
// (overlayfs needs two lower layers when it has no upper one, and refuses
// the same directory twice).
func overlaySelf(emptyDir string) (*os.File, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	dir, name := filepath.Split(exe)
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(emptyDir, 0o700); err != nil {
		return nil, err
	}
	if strings.ContainsAny(dir+emptyDir, ":,") {
		return nil, fmt.Errorf("binary directory %q cannot be an overlay layer", dir)
	}
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
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
