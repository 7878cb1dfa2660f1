package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi"
)

// maxCopyUpDepth bounds how deep copyUp descends into the image's tree.
const maxCopyUpDepth = 128

// copyUpAll fills each tmpfs mount with tmpcopyup (podman's --tmpfs and
// --read-only mounts) with a copy of what the rootfs has at its
// destination, as runc's init copies it before it mounts the tmpfs there.
// It runs in the container's init, before the guest and the sandbox: the
// init is already in the container's cgroup, so what the copy writes into
// the tmpfs is charged to the container's memory limit, as under runc. (A
// copy made by create, outside the cgroup, let an image of a 512 MiB file
// and its hard links put 4 GB into a 64 MiB container's tmpfs.)
func copyUpAll(plan *wasi.Plan) error {
	if len(plan.CopyUp) == 0 {
		return nil
	}
	rootfs := plan.Preopens[0].HostPath
	for _, dest := range plan.CopyUp {
		// The private directory, as this process reaches it (a handed-
		// over descriptor's path in a user namespace): the last grant at
		// dest, as a later mount covers an earlier one.
		dir := ""
		for _, g := range plan.Preopens[1:] {
			if g.GuestPath == dest {
				dir = g.HostPath
			}
		}
		if dir == "" {
			continue
		}
		if err := copyUp(rootfs, dest, dir); err != nil {
			return fmt.Errorf("tmpcopyup of %s: %w", dest, err)
		}
		logDebugf("init: tmpcopyup of %s done", dest)
	}
	return nil
}

// copyUp fills dir with a copy of what rootfs has at the guest path dest:
// directories, regular files (hard links as links) and symlinks, with
// their modes, owners and modification times; devices, fifos and sockets
// are left out (the guest is granted no device). dir's own mode is
// tmpfsRootMode's.
//
// The image is untrusted. The copy starts from a handle opened inside the
// rootfs (securejoin) and opens everything relative to the directory
// before it with O_NOFOLLOW, and checks that what it opened to read is a
// regular file: a link in the image is copied as a link and never
// followed to the host, and a fifo swapped in cannot block the init. It
// is bounded by the tmpfs's own size and the container's memory limit
// (ENOSPC or the OOM killer fail create, as runc's copy would), and by
// maxCopyUpDepth.
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
	to, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(to)
	c := copier{root: to, links: map[[2]uint64]string{}}
	return c.tree(from, to, "", 0)
}

// copier is one copyUp: the copy's root, and the first copy of each file
// with more than one link, by the image's device and inode.
type copier struct {
	root  int
	links map[[2]uint64]string
}

// tree copies the entries of the directory open at from into the one open
// at to, which is rel below the copy's root.
func (c *copier) tree(from, to int, rel string, depth int) error {
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
		here := path.Join(rel, name)
		id := [2]uint64{st.Dev, st.Ino}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			err = c.dir(from, to, name, here, depth)
		case unix.S_IFREG:
			if first, ok := c.links[id]; ok {
				// Another name of a file already copied: a link, as in
				// the image, not a second copy.
				if err := unix.Linkat(c.root, first, to, name, 0); err != nil {
					return fmt.Errorf("%s: %w", here, err)
				}
				continue
			}
			if err = copyFile(from, to, name); err == nil && st.Nlink > 1 {
				c.links[id] = here
			}
		case unix.S_IFLNK:
			var target string
			if target, err = spec.Readlinkat(from, name); err == nil {
				err = unix.Symlinkat(target, to, name)
			}
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", here, err)
		}
		// Owners are best effort (a process without CAP_CHOWN, or in a
		// user namespace, cannot give every one), as atime is.
		unix.Fchownat(to, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			if err := unix.Fchmodat(to, name, st.Mode&0o7777, 0); err != nil {
				return fmt.Errorf("%s: %w", here, err)
			}
		}
		unix.UtimesNanoAt(to, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// dir makes name in to and copies from's name into it.
func (c *copier) dir(from, to int, name, rel string, depth int) error {
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
	return c.tree(src, dst, rel, depth+1)
}

// copyFile copies the regular file name of from into a new file in to.
func copyFile(from, to int, name string) error {
	src, err := unix.Openat(from, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(src), name)
	defer in.Close()
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("not a regular file any more")
	}
	dst, err := unix.Openat(to, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(dst), name)
	defer out.Close()
	_, err = io.Copy(out, in)
	return err
}
