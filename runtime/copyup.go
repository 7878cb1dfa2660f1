package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// maxCopyUpDepth bounds how deep copyUp descends into the image's tree.
const maxCopyUpDepth = 128

// copyUp fills dir, the private directory behind a tmpfs mount with
// tmpcopyup (podman's --tmpfs and --read-only mounts), with a copy of
// what the rootfs has at the mount's destination dest, as runc copies it
// before it mounts the tmpfs there: directories, regular files and
// symlinks, with their modes, owners and modification times; devices,
// fifos and sockets are left out (the guest is granted no device). dir's
// own mode is tmpfsRootMode's.
//
// The image is untrusted. The copy starts from a handle opened inside the
// rootfs (securejoin) and opens everything relative to the directory
// before it with O_NOFOLLOW: a link in the image is copied as a link and
// never followed to the host. It is bounded by the tmpfs's own size
// (ENOSPC fails create, as runc's copy would) and by maxCopyUpDepth.
func copyUp(rootfs, dest, dir string) error {
	src, err := pathrs.OpenInRoot(rootfs, dest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer src.Close()
	from, err := unix.Openat(int(src.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == unix.ENOTDIR {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(from)
	to, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(to)
	return copyTree(from, to, 0)
}

// copyTree copies the entries of the directory open at from into the one
// open at to.
func copyTree(from, to, depth int) error {
	if depth > maxCopyUpDepth {
		return fmt.Errorf("deeper than %d directories", maxCopyUpDepth)
	}
	dup, err := unix.Dup(from)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dup), "copy-up")
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(from, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			err = copyDir(from, to, name, depth)
		case unix.S_IFREG:
			err = copyFile(from, to, name)
		case unix.S_IFLNK:
			var target string
			if target, err = readlinkat(from, name); err == nil {
				err = unix.Symlinkat(target, to, name)
			}
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		// Owners are best effort (runw without root cannot give them),
		// as atime is: the copy is the image's content.
		unix.Fchownat(to, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			if err := unix.Fchmodat(to, name, st.Mode&0o7777, 0); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		unix.UtimesNanoAt(to, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// copyDir makes name in to and copies from's name into it.
func copyDir(from, to int, name string, depth int) error {
	if err := unix.Mkdirat(to, name, 0o700); err != nil {
		return err
	}
	src, err := unix.Openat(from, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	dst, err := unix.Openat(to, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	return copyTree(src, dst, depth+1)
}

// copyFile copies the regular file name of from into a new file in to.
func copyFile(from, to int, name string) error {
	src, err := unix.Openat(from, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(src), name)
	defer in.Close()
	dst, err := unix.Openat(to, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(dst), name)
	defer out.Close()
	_, err = io.Copy(out, in)
	return err
}

// readlinkat reads the target of the symlink name in dir.
func readlinkat(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
