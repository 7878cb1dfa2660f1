package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MountKind classifies a spec mount for the grant table: WASI has no mount
// namespace, so each mount either becomes a preopen, a private directory, or
// is not exposed at all.
type MountKind int

// The mount kinds Mounts can report.
const (
	// MountIgnored is proc, sysfs, cgroup, cgroup2, devpts, mqueue, any
	// other kernel filesystem, anything whose destination is /proc, /sys
	// or below them, and device binds under /dev: host kernel views and
	// host devices are never exposed.
	MountIgnored MountKind = iota
	// MountBind is a bind/rbind mount with a directory source: it becomes
	// a preopen.
	MountBind
	// MountBindFile is a bind mount with a file (non-directory) source: it
	// is reachable at its destination through the guest's "/".
	MountBindFile
	// MountTmpfs is a tmpfs (not under /proc or /sys): it becomes a
	// private, initially empty directory.
	MountTmpfs
	// MountOverlay is an overlay (podman's -v SRC:DST:O and --mount
	// type=image), the one filesystem runw mounts itself: on a private
	// directory, which becomes a preopen.
	MountOverlay
	// MountHidden is a mount that a later one covers: its destination is
	// at or under the later one's, which runc mounts over it. It is
	// granted nothing.
	MountHidden
)

// String names the mount kind for logs.
func (k MountKind) String() string {
	switch k {
	case MountIgnored:
		return "ignored"
	case MountBind:
		return "bind"
	case MountBindFile:
		return "bind-file"
	case MountTmpfs:
		return "tmpfs"
	case MountOverlay:
		return "overlay"
	case MountHidden:
		return "hidden"
	}
	return fmt.Sprintf("MountKind(%d)", int(k))
}

// Mount is one classified spec mount, in the terms the grant table needs.
type Mount struct {
	// Destination is the cleaned absolute guest path.
	Destination string
	// Source is the absolute host path for bind mounts (relative sources
	// are joined to the bundle Dir), "" for tmpfs, and the spec's source
	// unchanged for ignored mounts.
	Source string
	// ReadOnly is true when the options contain "ro" (the last of ro/rw
	// wins, as with mount(8)).
	ReadOnly bool
	// Shallow says a bind is not recursive ("bind" without "rbind", as
	// podman's bind-nonrecursive makes it): what is mounted below its
	// source stays out, and the directories under those mounts show.
	Shallow bool
	// Kind says how the mount is granted.
	Kind MountKind
	// TmpfsData holds a tmpfs mount's filesystem options (size=, mode=, ...),
	// comma-separated, for the tmpfs runw mounts behind it ("" when none).
	TmpfsData string
	// CopyUp says a tmpfs mount has tmpcopyup (podman adds it to --tmpfs
	// and to --read-only's tmpfs mounts): it starts with a copy of what
	// the image has at its destination, as under runc.
	CopyUp bool
	// OverlayData holds an overlay mount's filesystem options (lowerdir=,
	// upperdir=, workdir=, ...) without the mount flags, comma-separated,
	// as mount(2) takes them.
	OverlayData string
	// MountPoint says an ignored kernel filesystem outside /proc and /sys
	// (devpts at /dev/pts, mqueue at /dev/mqueue), or sysfs at /sys, still
	// has its destination made, an empty directory, as runc's mount makes
	// it.
	MountPoint bool
}

// kernelFS are the filesystem types that expose the host kernel's view and
// are therefore never granted.
var kernelFS = map[string]bool{
	"proc":    true,
	"sysfs":   true,
	"cgroup":  true,
	"cgroup2": true,
	"devpts":  true,
	"mqueue":  true,
}

// otherKernelFS are the kernel's other views of itself and the host,
// never exposed to a guest, with no mount point made: granted, they
// would hand it the host's devices (devtmpfs is the host's /dev itself),
// cgroups (cpuset is cgroup v1's), tracing, BPF, security or firmware
// state, as the kernel views above. Ignored, as every engine's spec
// carries some of them.
var otherKernelFS = map[string]bool{
	"devtmpfs": true, "cpuset": true, "resctrl": true, "securityfs": true, "debugfs": true,
	"tracefs": true, "bpf": true, "pstore": true, "configfs": true, "fusectl": true,
	"binfmt_misc": true, "efivarfs": true, "selinuxfs": true, "smackfs": true,
	"apparmorfs": true, "nsfs": true, "rpc_pipefs": true, "nfsd": true, "autofs": true,
	"hugetlbfs": true, "binder": true, "xenfs": true,
}

// unmountable is the refusal of a mount of a filesystem runw neither
// grants (bind, tmpfs, overlay) nor ignores (a kernel view): ramfs, ext4
// or xfs on a device, nfs, 9p. runc mounts them in the container's
// namespaces; runw mounts as root in the host's at create, where a
// device's filesystem in a user-namespaced container would be the
// host's to read (the kernel refuses runc that mount there). Dropped,
// as they were until December 2026, the guest saw the image's files
// where the spec put a filesystem over them, and wrote into the image.
func unmountable(m specs.Mount) error {
	return fmt.Errorf("error mounting %q to rootfs at %q: runw does not mount a %s filesystem for a guest (binds, tmpfs and overlays only)", m.Source, m.Destination, m.Type)
}

// Mask is one of linux.maskedPaths (or linux.readonlyPaths) as create
// found it: the guest path it resolves to in the container's view,
// symlinks followed, and whether a directory is there (else a file).
type Mask struct {
	Path string `json:"path"`
	Dir  bool   `json:"dir,omitempty"`
}

// MaskedPaths are linux.maskedPaths outside /proc and /sys (which are
// never granted anyway), in spec order: what podman's --security-opt
// mask= names. runc covers each with /dev/null (a file) or an empty
// read-only tmpfs (a directory), after every mount; the plan does the
// same. Each is resolved in the view of the rootfs and every mount, as
// runc's mount over it follows the image's links: a mask at /etc2/secret
// with /etc2 -> realetc masks /realetc/secret, and the guest cannot read
// the file around it. A path the view lacks is skipped, as by runc.
// Recorded ones (Bundle.Masks, from create) are taken as they are: runw
// exec never resolves them again in a tree the guest may have changed.
func (b *Bundle) MaskedPaths() []Mask {
	if b.Masks != nil {
		return *b.Masks
	}
	if b.Spec.Linux == nil {
		return nil
	}
	return b.resolvePaths(b.Spec.Linux.MaskedPaths, false)
}

// ReadOnlyPaths are linux.readonlyPaths outside /proc and /sys, found as
// MaskedPaths finds masks, in spec order (engines name /proc paths
// only; a hand-written spec or a tool may name any). runc binds each
// over itself and remounts that one mount read-only, after every mount
// and before the masks: what is there (the image's directory, a volume
// mounted exactly there) turns read-only, and a mount below it keeps its
// own flags (runc's remount is not recursive).
// Only directories and regular files are taken: a device node stays
// writable on a read-only mount. Recorded ones (Bundle.ReadOnly, from
// create) are taken as they are, for runw exec.
func (b *Bundle) ReadOnlyPaths() []Mask {
	if b.ReadOnly != nil {
		return *b.ReadOnly
	}
	if b.Spec.Linux == nil {
		return nil
	}
	return b.resolvePaths(b.Spec.Linux.ReadonlyPaths, true)
}

// resolvePaths resolves linux.maskedPaths or linux.readonlyPaths: each
// path outside /proc and /sys, in the view of the rootfs and every mount
// (links followed inside it, as runc's mount over it follows them), that
// exists there; "/" itself only for a read-only path (runc then makes
// the whole root read-only), and with plainOnly, only directories and
// regular files.
func (b *Bundle) resolvePaths(paths []string, plainOnly bool) []Mask {
	// Engines name /proc and /sys paths in every spec: the view is built
	// only for a path elsewhere.
	var candidates []string
	for _, p := range paths {
		if c := cleanDestination(p); (c != "/" || plainOnly) && !underKernelDir(c) {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	v, _ := b.viewAndDestinations()
	var out []Mask
	for _, c := range candidates {
		guest, err := v.resolve(c)
		if err != nil || (guest == "/" && !plainOnly) || underKernelDir(guest) {
			continue
		}
		if !plainOnly {
			// A mask on a tmpfs or an overlay, which the init mounts
			// after create looked: runc masks the mount, a directory,
			// once every mount is made. runw dropped the mask, and
			// podman's --tmpfs /data with mask=/data took writes. A
			// path inside one is not masked (README): what it holds
			// is known only once it is mounted.
			if m, in := v.innermost(guest); in && m.empty && !m.kernel && guest == m.dest {
				out = append(out, Mask{Path: guest, Dir: true})
				continue
			}
		}
		f, err := v.open(guest)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		f.Close()
		if err != nil || (plainOnly && !fi.IsDir() && !fi.Mode().IsRegular()) {
			continue
		}
		out = append(out, Mask{Path: guest, Dir: fi.IsDir()})
	}
	return out
}

// HolderOf is the host directory that holds the clean, symlink-free guest
// path guest in the view (the rootfs, or the source of the bind mount it
// lies in), and guest's path inside it; ok is false when guest lies in a
// tmpfs, an overlay or a kernel filesystem, which have no host directory
// until the init mounts them.
func (b *Bundle) HolderOf(guest string) (root, rel string, ok bool) {
	m, in := b.view().innermost(guest)
	switch {
	case !in:
		return b.Rootfs, guest, true
	case m.empty:
		return "", "", false
	}
	return m.source, "/" + strings.TrimPrefix(strings.TrimPrefix(guest, m.dest), "/"), true
}

// UnderMask says a mount at dest is covered by a mask: at a masked path
// (the mask replaces it) or below a masked directory.
func UnderMask(dest string, masks []Mask) bool {
	for _, m := range masks {
		if dest == m.Path || (m.Dir && Within(dest, m.Path)) {
			return true
		}
	}
	return false
}

// CheckKernelMounts refuses a proc or sysfs mount whose destination the
// image made a link (Destinations, resolved, differs from the path as
// written), in runc's words: runc mounts these on nothing but a
// directory (the attacks of CVE-2019-16884 and CVE-2019-19921). Followed,
// the kernel's view stood at the link's target: /proc -> data hid a
// volume at /data from the module's lookup and the grants, and /proc ->
// / hid the whole rootfs ("/app.wasm: no such file or directory").
func (b *Bundle) CheckKernelMounts() error {
	dests := b.MountDestinations()
	for i, m := range b.Spec.Mounts {
		if (m.Type == "proc" || m.Type == "sysfs") && dests[i] != cleanDestination(m.Destination) {
			return fmt.Errorf("error mounting %q to rootfs at %q: filesystem %q must be mounted on ordinary directory", m.Type, m.Destination, m.Type)
		}
	}
	return nil
}

// kernelDirs are the guest directories that never receive a grant, whatever
// is mounted there.
var kernelDirs = []string{"/proc", "/sys"}

// Mounts classifies b.Spec.Mounts in order. It checks bind sources now so that
// a missing volume fails at create with a clear message rather than when the
// guest first touches it.
func (b *Bundle) Mounts() ([]Mount, error) {
	var out []Mount
	dests := b.MountDestinations()
	masked := b.MaskedPaths()
	for i, m := range b.Spec.Mounts {
		// The checks below look at the destination as written and as
		// resolved: an image's link (/dev -> /data, /proc -> /etc) must
		// not carry a device bind or a kernel view out of the places
		// where they are refused.
		literal := cleanDestination(m.Destination)
		cm := Mount{
			Destination: dests[i],
			Source:      m.Source,
			ReadOnly:    readOnly(m.Options),
			Shallow:     isShallowBind(m),
		}
		if cm.Destination == "/" && literal != "/" {
			return nil, fmt.Errorf("mount destination %q resolves to the container's root through a link in the image", m.Destination)
		}
		if underKernelDir(cm.Destination) && !underKernelDir(literal) && !kernelFS[m.Type] {
			// The user's volume would vanish without a word (runc
			// refuses a mount inside /proc too).
			return nil, fmt.Errorf("mount destination %q resolves to %q through a link in the image: not a valid mount target", m.Destination, cm.Destination)
		}
		switch {
		case kernelFS[m.Type] || underKernelDir(cm.Destination) || underKernelDir(literal):
			cm.Kind = MountIgnored
			// sysfs at /sys itself too: runc makes /sys for it, and
			// podman build commits it into the image's layer.
			cm.MountPoint = kernelFS[m.Type] && (!underKernelDir(cm.Destination) && !underKernelDir(literal) || m.Type == "sysfs" && cm.Destination == "/sys" && literal == "/sys")
		case UnderMask(cm.Destination, masked):
			// Covered by a masked directory, which runc masks after
			// every mount.
			cm.Kind = MountHidden
		case isBind(m) && b.refusedBind(m, literal, cm.Destination):
			// A host device, wherever it is bound (rootless engines bind
			// /dev/null and friends: runw grants the default devices
			// itself, and no other host device ever).
			cm.Source = b.bindSource(m.Source)
			cm.Kind = MountIgnored
		case isBind(m) && (Within(cm.Destination, "/dev") || Within(literal, "/dev")):
			// Under /dev, what refusedBind lets through is a plain file or
			// directory (Kubernetes' /dev/termination-log, podman's
			// /dev/shm).
			cm.Source = b.bindSource(m.Source)
			cm.Kind = MountBindFile
			if fi, err := b.statSource(cm.Source, cm.Destination); err == nil && fi.IsDir() {
				cm.Kind = MountBind
			}
		case isBind(m):
			if m.Source == "" {
				return nil, fmt.Errorf("mount source for %q must be set", cm.Destination)
			}
			cm.Source = b.bindSource(m.Source)
			fi, err := b.statSource(cm.Source, cm.Destination)
			if err != nil {
				if b.StatSource != nil {
					return nil, fmt.Errorf("grant %q: not in the container's tree: %w", cm.Destination, ErrnoOf(err))
				}
				if errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("mount source %q for %q: no such file or directory", cm.Source, cm.Destination)
				}
				return nil, fmt.Errorf("mount source %q for %q: %w", cm.Source, cm.Destination, ErrnoOf(err))
			}
			if fi.IsDir() {
				cm.Kind = MountBind
			} else {
				cm.Kind = MountBindFile
			}
		case m.Type == "tmpfs":
			cm.Source = ""
			cm.Kind = MountTmpfs
			cm.TmpfsData = tmpfsData(m.Options)
			cm.CopyUp = slices.Contains(m.Options, "tmpcopyup")
		case m.Type == "overlay":
			cm.OverlayData = overlayData(m.Options)
			if !strings.Contains(","+cm.OverlayData, ",lowerdir=") {
				return nil, fmt.Errorf("overlay mount at %q: no lowerdir= option", cm.Destination)
			}
			cm.Source = "overlay"
			cm.Kind = MountOverlay
		case otherKernelFS[m.Type]:
			cm.Kind = MountIgnored
		default:
			return nil, unmountable(m)
		}
		out = append(out, cm)
	}
	hideCovered(out)
	return out, nil
}

// hideCovered marks each mount that a later one covers as MountHidden:
// runc mounts in spec order, so [bind /a/b, tmpfs /a] leaves an empty
// tmpfs at /a, and the bind's source must not reach the guest. Engines
// order parents first, so this is a hand-written spec's case.
func hideCovered(mounts []Mount) {
	for i := range mounts {
		if mounts[i].Kind == MountIgnored {
			continue // granted nothing already
		}
		for _, later := range mounts[i+1:] {
			if Within(mounts[i].Destination, later.Destination) {
				mounts[i].Kind = MountHidden
				break
			}
		}
	}
}

// refusedBind says bind mount m, whose destination is literal as written
// and dest as resolved, is never granted: a kernel view (under /proc or
// /sys), or a host device (under /dev or anywhere). Both spellings of the
// destination are checked, so that an image's link cannot carry it out of
// the places where it is refused. Such a bind takes no part in resolving
// later paths either (guestVFS.mount): the guest never sees it.
func (b *Bundle) refusedBind(m specs.Mount, literal, dest string) bool {
	if underKernelDir(dest) || underKernelDir(literal) {
		return true
	}
	source := b.bindSource(m.Source)
	if Within(dest, "/dev") || Within(literal, "/dev") {
		fi, err := os.Stat(source)
		return err != nil || !(fi.IsDir() || fi.Mode().IsRegular())
	}
	return isDeviceSource(source)
}

// isDeviceSource says a bind's source is a character or block device.
func isDeviceSource(source string) bool {
	fi, err := os.Stat(source)
	return err == nil && fi.Mode()&os.ModeDevice != 0
}

// isBind reports whether m is a bind mount, by type or by option, as runc
// accepts both spellings.
func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// isShallowBind reports whether m is a bind without MS_REC: runc binds
// recursively only for "rbind". A bind by type alone, which runc cannot
// mount, stays recursive, as it always was here.
func isShallowBind(m specs.Mount) bool {
	shallow := false
	for _, o := range m.Options {
		switch o {
		case "rbind":
			return false
		case "bind":
			shallow = true
		}
	}
	return shallow
}

// readOnly applies ro/rw options in order; the last one wins. rro
// (recursively read-only) is read-only too: a grant's copy is read-only
// all the way down (preview1's confine), so the two mean the same here.
func readOnly(options []string) bool {
	ro := false
	for _, o := range options {
		switch o {
		case "ro", "rro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}

// bindSource makes a bind source absolute: relative sources are relative to
// the bundle directory.
func (b *Bundle) bindSource(src string) string {
	if !filepath.IsAbs(src) {
		src = filepath.Join(b.Dir, src)
	}
	return filepath.Clean(src)
}

// underKernelDir reports whether dest is /proc, /sys or below them.
func underKernelDir(dest string) bool {
	for _, d := range kernelDirs {
		if Within(dest, d) {
			return true
		}
	}
	return false
}

// Within reports whether the clean absolute path p is dir or below it, on
// path-component boundaries ("/app2" is not within "/app").
func Within(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}

// mountFlagOptions are the options mount(8) turns into mount flags or
// propagation, not filesystem data.
var mountFlagOptions = map[string]bool{
	"ro": true, "rw": true, "rro": true, "suid": true, "nosuid": true, "dev": true, "nodev": true,
	"exec": true, "noexec": true, "sync": true, "async": true, "dirsync": true, "atime": true,
	"noatime": true, "diratime": true, "nodiratime": true, "relatime": true, "norelatime": true,
	"strictatime": true, "nostrictatime": true, "lazytime": true, "nolazytime": true,
	"mand": true, "nomand": true, "bind": true, "rbind": true, "private": true, "rprivate": true,
	"shared": true, "rshared": true, "slave": true, "rslave": true, "unbindable": true,
	"runbindable": true, "remount": true, "defaults": true, "silent": true, "loud": true,
	"iversion": true, "noiversion": true,
}

// overlayData keeps an overlay mount's filesystem options (everything
// but mount flags and runc's own extensions, which the kernel refuses as
// data), in order.
func overlayData(options []string) string {
	var keep []string
	for _, o := range options {
		if !mountFlagOptions[o] && !runcExtensions[o] {
			keep = append(keep, o)
		}
	}
	return strings.Join(keep, ",")
}

// tmpfsData keeps a tmpfs mount's filesystem options (everything but
// mount flags and runc's own extensions), in order, as runc hands them to
// the kernel: a size= in any form the kernel reads (64k, 0x10000, 1g, 5%)
// bounds the tmpfs, and one it cannot read fails create, as under runc.
// mode=, uid= and gid= are the runtime's to apply (makePrivateDir).
func tmpfsData(options []string) string {
	var keep []string
	for _, o := range options {
		if !mountFlagOptions[o] && !runcExtensions[o] {
			keep = append(keep, o)
		}
	}
	return strings.Join(keep, ",")
}

// runcExtensions are the mount options runc (and crun) read themselves,
// never the kernel's filesystem data.
var runcExtensions = map[string]bool{
	"tmpcopyup": true, "notmpcopyup": true, "copy-symlink": true, "idmap": true, "ridmap": true,
	"nosymfollow": true, "symfollow": true, "rro": true, "rrw": true, "rnosuid": true, "rsuid": true,
	"rnodev": true, "rdev": true, "rnoexec": true, "rexec": true, "rnodiratime": true, "rdiratime": true,
	"rrelatime": true, "rnorelatime": true, "rnoatime": true, "ratime": true, "rstrictatime": true,
	"rnostrictatime": true, "rnosymfollow": true, "rsymfollow": true,
}
