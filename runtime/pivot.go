package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/state"
	"github.com/runw/runw/wasi"
)

// The container's root in the init's mount namespace.
//
// The guest reaches its files through the descriptors the WASI host opened
// (wasi.Prepare), never through the init's root. But engines look at the
// container through its init: podman cp of a running container and podman
// top join the init's mount namespace (or read /proc/<pid>/root) and take
// its "/" for the container's. With the host's "/" there, `podman cp
// file c:/etc/x` wrote the host's /etc/x and `podman cp c:/etc/shadow -`
// read the host's. So, as runc does, the init makes the container's view
// its root: every grant bound at its guest path inside the rootfs (read-only
// where the grant is), /proc, then pivot_root. It happens after the guest
// is prepared and the Landlock ruleset is made (both hold what they need by
// descriptor or inode), before the credentials change and the rulesets
// are entered (Landlock forbids pivot_root after that).
//
// Bind targets are resolved inside the rootfs (securejoin's OpenInRoot)
// and mounted through their descriptors: a symlink in the image (a /data
// pointing at /etc) can never make the init mount over one of the host's
// directories, even in its own namespace.

// pivotPlan says whether the init gets the container's root: it does when
// it makes its own mount namespace (create's --no-pivot changes only how:
// Sandbox.NoPivot).
// The rootfs then needs a /proc directory for the init's /proc, which is
// made, as runc makes it; a rootfs where it cannot be (an image whose /proc
// is a file) fails create, as under runc, rather than leave engines the
// host's root.
func pivotPlan(plan *wasi.Plan, sb *Sandbox) (bool, error) {
	if len(plan.Preopens) == 0 || plan.Preopens[0].GuestPath != "/" || !sb.creates("mount") {
		return false, nil
	}
	root, err := os.OpenFile(plan.Preopens[0].HostPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("rootfs: %w", err)
	}
	defer root.Close()
	// Never through a link (spec.Bundle.CheckKernelMounts refuses one
	// under a proc mount, as runc does): the host's /proc bound at its
	// target would hide what the image or a volume has there.
	var st unix.Stat_t
	if err := unix.Fstatat(int(root.Fd()), "proc", &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return false, errors.New(`rootfs: /proc is not a directory: filesystem "proc" must be mounted on ordinary directory`)
	}
	// 0755, as runc makes it (podman build commits it into the layer).
	missing := unix.Fstatat(int(root.Fd()), "proc", &st, unix.AT_SYMLINK_NOFOLLOW) == unix.ENOENT
	proc, err := pathrs.MkdirAllHandle(root, "proc", 0o755)
	if err != nil {
		return false, fmt.Errorf("rootfs: make /proc: %w", err)
	}
	proc.Close()
	if missing {
		plan.MadeDir(plan.Preopens[0].HostPath, "proc")
	}
	return true, nil
}

// pivotIntoRootfs binds the plan's grants into its rootfs and makes the
// rootfs the root of the init's mount namespace: by pivot_root, or under
// create's --no-pivot (sb.NoPivot) by moving it over "/" and chrooting
// there. sb.TakeRoot, when not nil, is given guestRootCopy's copy once the
// grants are bound.
func (sb *Sandbox) pivotIntoRootfs(plan *wasi.Plan) error {
	trees, takeRoot := sb.Trees, sb.TakeRoot
	rootfs := plan.Preopens[0].HostPath
	// Nothing mounted here may reach the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make the container's mounts slaves: %w", err)
	}
	// pivot_root needs the new root to be a mount.
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind the rootfs: %w", err)
	}
	grants := append(append([]wasi.Preopen(nil), plan.Preopens[1:]...), plan.Files...)
	// Parents before what is mounted inside them.
	sort.SliceStable(grants, func(i, j int) bool {
		return strings.Count(grants[i].GuestPath, "/") < strings.Count(grants[j].GuestPath, "/")
	})
	for _, g := range grants {
		rel := strings.TrimPrefix(path.Clean(g.GuestPath), "/")
		bind := bindInRoot
		if tree, ok := trees[g.HostPath]; ok {
			// Made alone already where the grant is shallow (passTree).
			bind = func(rootfs, source, rel string, readOnly, _ bool) error {
				return attachInRoot(rootfs, tree, source, rel, readOnly)
			}
		}
		if g.Within != "" && g.Shallow {
			// A read-only path below a shallow bind: runw's descriptor
			// is in a copy of that bind's mount alone (openWithin),
			// which the container's tree cannot take a bind from; the
			// path there, under the shallow bind made before it, is the
			// same directory, bound onto itself, as runc does.
			bind = selfBindInRoot
		}
		err := bind(rootfs, g.HostPath, rel, g.ReadOnly, g.Shallow)
		if _, isTree := trees[g.HostPath]; errors.Is(err, unix.EINVAL) && !isTree {
			err = bindHere(rootfs, g.HostPath, rel, g.ReadOnly, g.Shallow)
		}
		if err := bindFailure(rootfs, rel, g, err); err != nil {
			return err
		}
	}
	if takeRoot != nil {
		if dir, tree, err := guestRootCopy(rootfs, plan.Preopens[0].ReadOnly); err != nil {
			logDebugf("init: no copy of the container's root for the guest: %v", err)
		} else if err := takeRoot(dir, tree); err != nil {
			logDebugf("init: the component's grants from the copy of the container's root: %v", err)
		}
	}
	if err := bindInRoot(rootfs, "/proc", "proc", false, false); err != nil {
		return fmt.Errorf("bind /proc into the rootfs: %w", err)
	}
	protectProc(rootfs)
	if plan.Preopens[0].ReadOnly {
		if err := remountReadOnly(rootfs, rootfs); err != nil {
			return fmt.Errorf("remount the container's root read-only: %w", err)
		}
	}
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir to the rootfs: %w", err)
	}
	becomeRoot := pivotRoot
	if sb.NoPivot {
		becomeRoot = moveRoot
	}
	if err := becomeRoot(); err != nil {
		return err
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to the new root: %w", err)
	}
	logDebugf("init: the rootfs is the root of the init's mount namespace")
	return nil
}

// pivotRoot makes the working directory, the rootfs, the root, runc's
// way: the old root is stacked under the new one, then detached; nothing
// of the host's tree stays reachable by path.
func pivotRoot() error {
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the host's root: %w", err)
	}
	return nil
}

// moveRoot makes the working directory, the rootfs, the root: moved over
// "/" and chrooted into, runc's --no-pivot (msMoveRoot), for a host whose
// root pivot_root refuses (an initramfs). The attack this stops: with the
// host's root kept there, engines that look at the container through its
// init (podman cp and top, /proc/<pid>/root) took the host's tree for the
// container's, and `podman cp file c:/etc/x` wrote the host's /etc/x.
// The host's tree stays under the moved mount, out of reach by path; a
// process joining the namespace (runw exec) starts at the mount on top of
// its root, the rootfs, as setns(2) of a mount namespace does. runc also
// unmounts the host's proc and sysfs mounts left there, so that a native
// process may still mount a procfs of its own; no guest mounts anything.
func moveRoot() error {
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move the rootfs over /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return nil
}

// bindFailure is what grant g's failed bind at rel in rootfs means: nil
// where the init goes on without it, logged. create made every mount
// point and checked its type (wasi.Plan.MakeMountPoints), so a mount
// point missing here, or of the other type, was changed since by whoever
// shares the tree (a volume's other container): the container fails, as
// runc's mount would, rather than run with a grant the guest has by
// descriptor and the engines' view lacks (podman exec, cp, top and health
// checks read that view; every exec would fail). The default devices are
// the exception: runw's own, made where they can be, and opened by host
// path for an exec. What else fails is this host's limit, not the
// bundle's: a source handed over on a mount of runw's namespace that no
// open_tree could copy (Linux before 5.2, or runw without root) and
// bindHere could not find again, a read-only remount the kernel refuses
// (that grant is not left writable there). The guest has the grant by
// descriptor all the same; only the engines' view of it is missing, and
// an exec refuses it (passInRoot).
func bindFailure(rootfs, rel string, g wasi.Preopen, err error) error {
	if err == nil {
		return nil
	}
	if !wasi.IsDefaultDevice(g) {
		if perr := mountPointIn(rootfs, rel, g.HostPath); perr != nil {
			return fmt.Errorf("error mounting at %q in the container's root: %w", g.GuestPath, spec.ErrnoOf(perr))
		}
	}
	logDebugf("init: %s not bound in the container's root: %v", g.GuestPath, err)
	return nil
}

// mountPointIn says what is wrong with rel inside rootfs (resolved
// inside it) as the mount point of source: missing, or a file where
// source is a directory or the reverse (ENOTDIR, mount(2)'s answer).
// nil where it is fit, or where it or source cannot be looked at.
func mountPointIn(rootfs, rel, source string) error {
	src, err := os.Stat(source)
	if err != nil {
		return nil
	}
	target, err := pathrs.OpenInRoot(rootfs, rel)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return err
	}
	if err != nil {
		return nil
	}
	defer target.Close()
	if fi, err := target.Stat(); err == nil && fi.IsDir() != src.IsDir() {
		return unix.ENOTDIR
	}
	return nil
}

// guestRootCopy returns a directory descriptor on a detached copy of the
// mount tree at rootfs, with everything bound in it so far (the grants:
// file binds, default devices, directory mounts, each read-only where it
// is), and the copy's handle, which must stay open as long as the
// directory is used. It is taken before the init binds /proc for the
// engines and is detached from every namespace, so the attacks that
// preview1.OpenConfinedDir stops stay stopped: a walk from it never
// reaches the container's /proc (its processes, their memory), and ".."
// at its root stays there. Unlike preview1's copy of the rootfs alone,
// it keeps what is mounted below the rootfs: the grants, and whatever the
// engine mounted there before create (a native container under runc sees
// that too). The copy's root is read-only in the kernel where the rootfs
// is (the mounts under it keep their own flags).
func guestRootCopy(rootfs string, readOnly bool) (dir, tree int, err error) {
	tree, err = unix.OpenTree(unix.AT_FDCWD, rootfs, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return -1, -1, fmt.Errorf("copy %s: %w", rootfs, err)
	}
	if readOnly {
		if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			unix.Close(tree)
			return -1, -1, fmt.Errorf("read-only copy of %s: %w", rootfs, err)
		}
	}
	dir, err = unix.Openat(tree, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(tree)
		return -1, -1, fmt.Errorf("open the copy of %s: %w", rootfs, err)
	}
	return dir, tree, nil
}

// execRootCopy gives an exec'd component (takeRoot) what the init's
// component has: a copy of the container's root with every grant bound in
// it and no /proc (guestRootCopy). It runs in the process's own copy of
// the container's mount namespace, made by its constructor (the
// private-mounts order), and that copy is the only one it changes: the
// container's /proc, which the init bound at /proc for the engines, is
// taken out before the root is copied, so that the component cannot
// reach the container's processes and their memory through its "/", and
// put back after, for the process itself. The container's own namespace
// and its other processes never see either step. A root that cannot be
// copied leaves the component the rootfs alone, as before; only a /proc
// that cannot be put back fails the process, which needs it.
func execRootCopy(readOnly bool, takeRoot func(dir, tree int) error) error {
	// The copied mounts are peers of the container's where those are
	// shared: an unmount here must not travel there.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		logDebugf("init: no copy of the container's root for the guest: make the mounts slaves: %v", err)
		return nil
	}
	proc, err := unix.OpenTree(unix.AT_FDCWD, "/proc", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		logDebugf("init: no copy of the container's root for the guest: copy /proc: %v", err)
		return nil
	}
	defer unix.Close(proc)
	if err := unix.Unmount("/proc", unix.MNT_DETACH); err != nil {
		logDebugf("init: no copy of the container's root for the guest: take /proc out: %v", err)
		return nil
	}
	dir, tree, err := guestRootCopy("/", readOnly)
	if merr := unix.MoveMount(proc, "", unix.AT_FDCWD, "/proc", unix.MOVE_MOUNT_F_EMPTY_PATH); merr != nil {
		if err == nil {
			unix.Close(dir)
			unix.Close(tree)
		}
		return fmt.Errorf("put /proc back after copying the container's root: %w", merr)
	}
	if err != nil {
		logDebugf("init: no copy of the container's root for the guest: %v", err)
		return nil
	}
	if err := takeRoot(dir, tree); err != nil {
		logDebugf("init: the component's grants from the copy of the container's root: %v", err)
	}
	return nil
}

// procReadOnly and procMasked are runc's default read-only and masked
// paths of /proc (`runc spec`). Under the rootfs, /proc falls within the
// rootfs's Landlock rule: code escaping the guest must not write
// /proc/sysrq-trigger or /proc/sys through it, nor read the kernel's
// memory or keys. The rest of /proc stays writable: the process writes its
// own /proc/self/oom_score_adj (an exec'd one does, after joining).
var (
	procReadOnly = []string{"bus", "fs", "irq", "sys", "sysrq-trigger"}
	procMasked   = []string{"acpi", "asound", "kcore", "keys", "latency_stats", "timer_list", "timer_stats", "sched_debug", "scsi"}
)

// protectProc makes procReadOnly read-only and hides procMasked in the
// container's /proc, as runc does; a path this kernel lacks is skipped.
func protectProc(rootfs string) {
	for _, p := range procReadOnly {
		if err := bindInRoot(rootfs, "/proc/"+p, "proc/"+p, true, false); err != nil && !errors.Is(err, unix.ENOENT) {
			logDebugf("init: /proc/%s not made read-only: %v", p, err)
		}
	}
	for _, p := range procMasked {
		fi, err := os.Stat("/proc/" + p)
		if err != nil {
			continue
		}
		err = atInRoot(rootfs, "proc/"+p, func(at string) error {
			if fi.IsDir() {
				return unix.Mount("tmpfs", at, "tmpfs", unix.MS_RDONLY, "")
			}
			return unix.Mount("/dev/null", at, "", unix.MS_BIND, "")
		})
		if err != nil && !errors.Is(err, unix.ENOENT) {
			logDebugf("init: /proc/%s not masked: %v", p, err)
		}
	}
}

// atInRoot resolves rel inside rootfs (securejoin's OpenInRoot: a symlink
// in the image stays inside it) and calls f with the /proc/self/fd path of
// that descriptor, which mount(2) takes as the object itself.
func atInRoot(rootfs, rel string, f func(at string) error) error {
	target, err := pathrs.OpenInRoot(rootfs, rel)
	if err != nil {
		return err
	}
	defer target.Close()
	return f(fmt.Sprintf("/proc/self/fd/%d", target.Fd()))
}

// bindInRoot bind-mounts source at rel inside rootfs, read-only if asked,
// with the mounts below source unless shallow (a bind that is not an
// rbind, as runc's MS_BIND without MS_REC). The mount point must exist
// (MakeMountPoints made it at create).
func bindInRoot(rootfs, source, rel string, readOnly, shallow bool) error {
	flags := uintptr(unix.MS_BIND | unix.MS_REC)
	if shallow {
		flags = unix.MS_BIND
	}
	err := atInRoot(rootfs, rel, func(at string) error {
		return unix.Mount(source, at, "", flags, "")
	})
	if err != nil || !readOnly {
		return err
	}
	return readOnlyInRoot(rootfs, source, rel)
}

// selfBindInRoot binds what is at rel inside rootfs onto itself (its own
// mount alone), read-only if asked; source is not used.
func selfBindInRoot(rootfs, _, rel string, readOnly, _ bool) error {
	err := atInRoot(rootfs, rel, func(at string) error {
		return unix.Mount(at, at, "", unix.MS_BIND, "")
	})
	if err != nil || !readOnly {
		return err
	}
	return readOnlyInRoot(rootfs, path.Join(rootfs, rel), rel)
}

// bindHere is bindInRoot for a source runw handed over as a descriptor
// on a mount of its own namespace, which the init cannot bind (mount(2)
// binds only from the caller's namespace: EINVAL) and runw could not
// hand over as a detached copy (passTree: open_tree needs CAP_SYS_ADMIN
// in runw's namespace, which rootless runw lacks). The init's namespace
// is a copy of runw's, so the same object is there at the same path. The
// attack this stops: that path may name something else by now (a link
// or a directory swapped in by whoever can write a parent); the object
// found there is bound only if it is the handed one (same device and
// inode), through its own descriptor, so nothing else is bound instead.
func bindHere(rootfs, source, rel string, readOnly, shallow bool) error {
	if !strings.HasPrefix(source, "/proc/self/fd/") {
		return unix.EINVAL
	}
	name, err := os.Readlink(source)
	if err != nil {
		return err
	}
	if !path.IsAbs(name) {
		return unix.EINVAL
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("%s here: %w", name, err)
	}
	defer unix.Close(fd)
	var handed, here unix.Stat_t
	if err := unix.Stat(source, &handed); err != nil {
		return err
	}
	if err := unix.Fstat(fd, &here); err != nil {
		return err
	}
	if handed.Dev != here.Dev || handed.Ino != here.Ino {
		return fmt.Errorf("%s here is not the object runw opened", name)
	}
	return bindInRoot(rootfs, fmt.Sprintf("/proc/self/fd/%d", fd), rel, readOnly, shallow)
}

// readOnlyInRoot makes the mount just made at rel inside rootfs
// read-only, reaching it by resolving the path again. One that cannot be
// made read-only is not left writable: it goes, and the error says why.
func readOnlyInRoot(rootfs, source, rel string) error {
	return atInRoot(rootfs, rel, func(at string) error {
		if err := remountReadOnly(source, at); err != nil {
			unix.Unmount(at, unix.MNT_DETACH)
			return fmt.Errorf("read-only: %w", err)
		}
		// The mounts beneath it too (a volume's source with mounts of
		// its own), best effort (Linux 5.12): a component's "/" is a
		// recursive copy of this tree (guestRootCopy), and through it a
		// submount left writable was writable under a read-only
		// volume (TestComponentFileGrants); preview1's copies are
		// read-only all the way down already (confine).
		unix.MountSetattr(unix.AT_FDCWD, at, unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
		return nil
	})
}

// attachInRoot is bindInRoot for a grant handed over as a detached mount
// tree (Sandbox.Trees): the tree is moved to rel inside rootfs, then made
// read-only if asked. source is the grant as the init reaches it.
func attachInRoot(rootfs string, tree int, source, rel string, readOnly bool) error {
	// By the target's descriptor: move_mount refuses a /proc/self/fd
	// path as its target (EINVAL).
	target, err := pathrs.OpenInRoot(rootfs, rel)
	if err != nil {
		return err
	}
	err = unix.MoveMount(tree, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	target.Close()
	if err != nil || !readOnly {
		return err
	}
	return readOnlyInRoot(rootfs, source, rel)
}

// remountReadOnly makes the bind mount at target read-only, keeping the
// flags of source's mount that a user namespace may not clear.
func remountReadOnly(source, target string) error {
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	var st unix.Statfs_t
	if unix.Statfs(source, &st) == nil {
		for _, f := range []struct{ st, ms int64 }{
			{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
			{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
		} {
			if st.Flags&f.st != 0 {
				flags |= uintptr(f.ms)
			}
		}
		if st.Flags&(unix.ST_NOATIME|unix.ST_RELATIME) == 0 {
			// strictatime, which a remount must say (a user namespace may
			// not change a mount's atime mode).
			flags |= unix.MS_STRICTATIME
		}
	}
	return unix.Mount("", target, "", flags, "")
}

// containerRoot opens the root of a running container's init: the
// container's tree with every mount in place, as its mount namespace holds
// it. nil when the init kept the host's root (a container without a mount
// namespace of its own, or one made before runw pivoted): host paths then
// mean the same in its namespace. The init is checked alive after the
// open, so the handle cannot be the root of a process that took its pid.
func containerRoot(c *state.Container) (*os.File, error) {
	root, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", c.InitPid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if state.Ending(c.InitPid, c.InitStartTime) {
			// An exiting init has given up its root already: the
			// process would have been planned from the host's paths.
			return nil, requireStatus("exec", "", state.Stopped)
		}
		return nil, nil
	}
	theirs, err1 := root.Stat()
	ours, err2 := os.Stat("/")
	if err1 != nil || err2 != nil || os.SameFile(theirs, ours) {
		root.Close()
		return nil, nil
	}
	if !state.Alive(c.InitPid, c.InitStartTime) {
		root.Close()
		return nil, requireStatus("exec", "", state.Stopped)
	}
	return root, nil
}
