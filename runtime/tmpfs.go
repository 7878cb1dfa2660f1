package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
)

// makePrivateDir makes the directory behind one of the spec's tmpfs mounts.
// When runw may mount (root), it is a real tmpfs with the spec's options
// (nosuid, nodev, noexec), so the guest gets ENOSPC where runc's container
// would, and its pages are charged to the container's memory cgroup; it is
// detached once the init holds it (releaseTmpfs), or unmounted with the
// container (state.Handle.Destroy). The attack this
// stops: a tmpfs without size= (podman's --tmpfs and --read-only mounts)
// used to be a plain directory under the state root, so a guest could fill
// the host's /run past its memory limit. Without root (rootless) it is a
// plain directory, and a size limit is not enforced. Either way its root
// is as runc leaves a tmpfs's: owned by owner, the container's root, with
// mode (tmpfsRootMode). Options the kernel refuses fail create, as under
// runc; only a mount runw has no right to make (EPERM) falls back to the
// plain directory.
func makePrivateDir(dir, data string, mode uint32, owner wasi.User) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		var keep []string
		for _, o := range strings.Split(data, ",") {
			if o != "" && !strings.HasPrefix(o, "mode=") && !strings.HasPrefix(o, "uid=") && !strings.HasPrefix(o, "gid=") {
				keep = append(keep, o)
			}
		}
		keep = append(keep, fmt.Sprintf("mode=%o,uid=%d,gid=%d", mode, owner.UID, owner.GID))
		opts := strings.Join(keep, ",")
		err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts)
		if err == nil {
			return nil
		}
		if err != unix.EPERM {
			// Options the kernel refuses (size=1k2m, nr_inodes=5%):
			// runc's create fails on them, and a plain directory
			// would drop the size= the spec asked for, leaving the
			// guest the whole state root's file system (/run).
			// The spec's options, not runw's additions to them.
			return fmt.Errorf("mount tmpfs, data: %s: %w", data, err)
		}
		logDebugf("tmpfs %q with %q: %v; using a plain directory", dir, opts, err)
	}
	if err := unix.Chmod(dir, mode); err != nil {
		return &os.PathError{Op: "chmod", Path: dir, Err: err}
	}
	return os.Chown(dir, int(owner.UID), int(owner.GID))
}

// releaseTmpfs detaches, from the host's mount namespace, the tmpfs
// mounts makePrivateDir made for plan, once the init has bound them into
// the container's tree in the mount namespace it created (Sandbox.Pivot):
// from then on that namespace, and the descriptors of the container's
// processes, hold each tmpfs, and `runw exec` reaches it through the
// init's root (passAll), never by its host path. So a container's tmpfs,
// and the memory its files take, goes when the container's processes do,
// as a native container's goes with its mount namespace. Mounted on the
// host until delete, it outlived the container: CRI-O deletes a container
// only when kubelet removes it, which keeps the last exited one of each,
// and what a guest had written to /dev or /tmp stayed charged to the
// pod's memory cgroup, so that the pod's next attempt was OOM-killed.
// An overlay (mountOverlay) keeps its files in the engine's upper
// directory, which a detach would not free: its mount stays until
// delete, as does a plain directory (no root to mount a tmpfs).
func releaseTmpfs(plan *wasi.Plan) {
	for _, d := range plan.PrivateDirs {
		if _, ok := plan.Overlays[d]; ok {
			continue
		}
		if err := unix.Unmount(d, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
			logDebugf("detach tmpfs %q: %v", d, err)
		}
	}
}

// tmpfsRootMode is the mode of a tmpfs's root at dest, as runc leaves it:
// the spec's mode=; else, where the image has a directory at dest, that
// directory's mode (runc gives the mounted tmpfs its mount point's mode:
// an image's 0755 /run stays closed to a non-root guest); else 1777, a
// tmpfs's own, which every user may write (podman exec --user 1000).
func tmpfsRootMode(rootfs, dest, data string) uint32 {
	if mode, ok := tmpfsMode(data); ok {
		return mode
	}
	if f, err := pathrs.OpenInRoot(rootfs, dest); err == nil {
		defer f.Close()
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return st.Mode & 0o7777
		}
	}
	return 0o1777
}

// mountOverlay mounts an overlay of the spec's (podman's -v SRC:DST:O,
// --mount type=image) on dir,
// under the container's state directory, which delete unmounts. The
// guest is granted dir at the mount's destination dest; it writes into
// the upper layer the engine chose. Failing, it fails create, in runc's
// words: an empty directory in its place would hide the volume without
// a word. Never setuid or device files, as runw's other mounts.
func mountOverlay(dir, dest string, o wasi.Overlay) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
	if o.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("overlay", dir, "overlay", flags, o.Data); err != nil {
		return mountError("overlay", dest, fmt.Errorf("mount overlay (%s): %w", o.Data, err))
	}
	return nil
}

// tmpfsOwner is the owner of a tmpfs's root in the container: its uid=
// and gid= (the last of each, as the kernel reads them), else root. A
// value that is not a number is refused, as the kernel refuses it under
// runc (dropped, it left the tmpfs root's, where a guest user meant to
// own it met EACCES); mode= likewise.
func tmpfsOwner(data string) (wasi.User, error) {
	var u wasi.User
	for _, o := range strings.Split(data, ",") {
		k, v, _ := strings.Cut(o, "=")
		var err error
		switch k {
		case "uid", "gid":
			var n uint64
			if n, err = strconv.ParseUint(v, 10, 32); err == nil && k == "uid" {
				u.UID = uint32(n)
			} else if err == nil {
				u.GID = uint32(n)
			}
		case "mode":
			_, err = strconv.ParseUint(v, 8, 32)
		}
		if err != nil {
			return u, fmt.Errorf("%s: %w", o, unix.EINVAL)
		}
	}
	return u, nil
}

// tmpfsMode reads mode= from tmpfs options: the permission, sticky,
// setgid and setuid bits, as chmod(2) takes them.
func tmpfsMode(data string) (mode uint32, ok bool) {
	for _, o := range strings.Split(data, ",") {
		if v, found := strings.CutPrefix(o, "mode="); found {
			if m, err := strconv.ParseUint(v, 8, 32); err == nil {
				mode, ok = uint32(m)&0o7777, true // the last, as the kernel reads them
			}
		}
	}
	return mode, ok
}
