package runtime

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
)

// Sandbox is what the init applies to itself from config.json besides the
// guest's grants: namespaces, privileges, limits, the syscall filter and
// the kernel's second enforcement of the grants (Landlock). create fills
// it from the spec; the init applies it before it reports ready, so every
// failure is a create error and no guest code ever runs outside it.
type Sandbox struct {
	// Namespaces, Hostname, Domainname and Sysctl: namespaces.go.
	Namespaces []specs.LinuxNamespace `json:"namespaces,omitempty"`
	Hostname   string                 `json:"hostname,omitempty"`
	Domainname string                 `json:"domainname,omitempty"`
	Sysctl     map[string]string      `json:"sysctl,omitempty"`
	// UIDMappings and GIDMappings map ids into a new user namespace.
	UIDMappings []specs.LinuxIDMapping `json:"uid_mappings,omitempty"`
	GIDMappings []specs.LinuxIDMapping `json:"gid_mappings,omitempty"`

	// Capabilities, NoNewPrivileges, Rlimits, OOMScoreAdj: privileges.go.
	Capabilities    *specs.LinuxCapabilities `json:"capabilities,omitempty"`
	NoNewPrivileges bool                     `json:"no_new_privileges,omitempty"`
	Rlimits         []specs.POSIXRlimit      `json:"rlimits,omitempty"`
	OOMScoreAdj     *int                     `json:"oom_score_adj,omitempty"`

	// Pivot makes the rootfs, with every grant bound at its guest path,
	// the root of the init's mount namespace (pivot.go); create sets it
	// when the init has a mount namespace of its own.
	Pivot bool `json:"pivot,omitempty"`
	// NoPivot (create's --no-pivot) makes it the root by a move over "/"
	// and chroot rather than pivot_root (moveRoot).
	NoPivot bool `json:"no_pivot,omitempty"`
	// Trees are the grants the init attaches with move_mount rather than
	// binds by path: in a user namespace it reaches them only through
	// handed-over descriptors, and a bind from one of those is refused
	// (EINVAL: that mount is in the parent's mount namespace). Keyed by
	// the grant's handed-over host path, each is the descriptor of a
	// detached copy of its mount tree that create made (handOver).
	Trees map[string]int `json:"trees,omitempty"`

	// BehindInit says the spec's process was an engine's init (podman
	// run --init's catatonit) in front of the wasm command, which runw
	// runs in its place (wasmBehindEngineInit): as pid 1 the guest then
	// meets a write past RLIMIT_FSIZE and the real-time signals as the
	// native command behind that init would, not as a native init.
	BehindInit bool `json:"behind_init,omitempty"`

	// HostRoot is holdsHostRoot's answer, made by create or exec on the
	// host: the init, in the container's user namespace, reads that
	// namespace's map in /proc/self/uid_map, not runw's.
	HostRoot bool `json:"host_root,omitempty"`

	// Joined marks an exec'd process: it joins the init's namespaces,
	// where the init already set the hostname and sysctls and mounted
	// /proc; none of that is done again.
	Joined bool `json:"joined,omitempty"`

	// RootCopy marks an exec'd component in its own copy of the
	// container's mount namespace (the constructor's private-mounts
	// order): it takes its "/" there (execRootCopy), with the file
	// grants that WASI 0.2 cannot preopen one by one.
	RootCopy bool `json:"root_copy,omitempty"`

	// procIsOurs says /proc shows the init's own pid namespace (set by
	// mountProc, never sent).
	procIsOurs bool
	// netSysctlsWritten says applyNetSysctls wrote the network
	// namespace's keys of Sysctl, which applyNamespaces then leaves
	// (never sent).
	netSysctlsWritten bool
	// TakeRoot, when set (never sent), is given a copy of the container's
	// root with the grants bound in it, made during the pivot
	// (guestRootCopy): a component's "/".
	TakeRoot func(dir, tree int) error `json:"-"`
	// landlockFD is the Landlock ruleset every thread enters in the
	// credential round (0: none), with its restrict_self flags.
	landlockFD    int
	landlockFlags uint32

	// Seccomp: seccomp.go.
	Seccomp *specs.LinuxSeccomp `json:"seccomp,omitempty"`
}

// sandboxFor reads the sandbox from the spec.
func sandboxFor(s *specs.Spec) (*Sandbox, error) {
	sb := &Sandbox{Hostname: s.Hostname, Domainname: s.Domainname}
	if p := s.Process; p != nil {
		sb.Capabilities = p.Capabilities
		sb.NoNewPrivileges = p.NoNewPrivileges
		sb.Rlimits = p.Rlimits
		sb.OOMScoreAdj = p.OOMScoreAdj
	}
	if l := s.Linux; l != nil {
		sb.Namespaces = l.Namespaces
		sb.Sysctl = l.Sysctl
		sb.UIDMappings = l.UIDMappings
		sb.GIDMappings = l.GIDMappings
		sb.Seccomp = l.Seccomp
	}
	if err := sb.checkRootMapped(); err != nil {
		return nil, err
	}
	sb.HostRoot = sb.hostRoot()
	own, err := seccompFromAnnotation(s)
	if err != nil {
		return nil, err
	}
	if own != nil {
		// runw's filter allows no credential change, so it must be
		// loaded last, after the capabilities go, which without
		// no_new_privs needs CAP_SYS_ADMIN. The init never execs: no
		// no_new_privs costs it nothing.
		sb.Seccomp = own
		sb.NoNewPrivileges = true
	}
	return sb, nil
}

// apply confines the init, in this order: what lives in its namespaces
// (hostname, sysctl; the namespaces themselves were entered at spawn),
// limits (rlimits, OOM score; RLIMIT_SIGPENDING after the credential
// round, applyLimits says why), the
// kernel's second enforcement of the grants (Landlock: it needs no
// capability once no_new_privs is set), process.user and the
// capabilities, and the syscall filter last, so that it only has to allow
// what the init does from then on. Without no_new_privs the filter is
// loaded before the capabilities go instead, as runc does: loading it
// then needs CAP_SYS_ADMIN. fifo is the exec fifo the init still opens
// after this.
func (sb *Sandbox) apply(plan *wasi.Plan, fifo string) error {
	if err := sb.applyNamespaces(); err != nil {
		return err
	}
	if err := sb.applyLimits(); err != nil {
		return err
	}
	logDebugf("init: namespaces and limits applied")
	if err := sb.applyLandlock(plan, fifo); err != nil {
		return err
	}
	if sb.Pivot {
		// The detached copies (handed-over descriptors) are closed with
		// every other handed-over one once the sandbox is entered
		// (enterContainer), attached or not, so that none stays
		// referenced for the guest's whole life. Not here: that loop
		// closes by number, and a number closed here was free again
		// for whatever the init opened meanwhile (Go's netpoller, made
		// by the first os.ReadFile in applyPrivileges), which it then
		// closed: the init died with "epollwait on fd 11 failed".
		if err := sb.pivotIntoRootfs(plan); err != nil {
			return err
		}
	} else if sb.RootCopy && sb.TakeRoot != nil {
		if err := execRootCopy(plan.Preopens[0].ReadOnly, sb.TakeRoot); err != nil {
			return err
		}
	}
	// process.user.umask, as runc's init sets it: before the seccomp
	// filter, which may deny umask (a profile recorded from a native
	// program never lists it: runc made the call before its filter),
	// and after every file the init makes for the container.
	unix.Umask(int(plan.User.Umask))
	// Decided once, here: applyPrivileges consumes the Landlock ruleset
	// that seccompBefore looks at.
	first := sb.seccompBefore()
	// Looked up while the init may still search every directory: the
	// user's own credentials may not reach the module's (a 0700 one).
	dac := sb.dacOverrides(plan)
	if first {
		if err := sb.applySeccomp(first); err != nil {
			return err
		}
	}
	if err := sb.applyPrivileges(plan.User); err != nil {
		return err
	}
	if err := sb.applyLateLimits(); err != nil {
		return err
	}
	logDebugf("init: user and capabilities applied")
	if err := sb.checkModuleReadable(plan, dac); err != nil {
		return err
	}
	if !first {
		if err := sb.applySeccomp(first); err != nil {
			return err
		}
	}
	logDebugf("init: sandbox applied")
	return nil
}

// checkModuleReadable refuses a module the container's user could not
// read, as the kernel's execve refuses runc's process a file it may not
// execute: runw read the module as root, on the host, and a guest run as
// uid 1000 started from a root-only module (0700, or under a 0700
// directory) of the image, which runc refuses (`exec: "/priv/app":
// permission denied`, podman's 126). Read permission stands for execute
// permission, which runw waives (a module is never executed by the
// kernel). Checked with the user's own credentials and capabilities
// (faccessat2 AT_EACCESS), in the container's root, where the module lies
// at the guest's path: after the pivot, or in an exec'd process that
// joined the container's mount namespace. Only EACCES refuses: anything
// else (a filter that denies the call) leaves the guest to run as before.
//
// dacOverride (dacOverrides) passes, whatever the user.
func (sb *Sandbox) checkModuleReadable(plan *wasi.Plan, dacOverride bool) error {
	if plan.ModuleName == "" || len(plan.Argv) == 0 || !(sb.Pivot || sb.Joined && sb.has(specs.MountNamespace)) {
		return nil
	}
	if dacOverride {
		return nil
	}
	err := unix.Faccessat2(unix.AT_FDCWD, plan.ModuleName, unix.R_OK, unix.AT_EACCESS)
	if errors.Is(err, unix.EACCES) {
		return fmt.Errorf("exec: %q: permission denied", plan.Argv[0])
	}
	return nil
}

// dacOverrides says whether CAP_DAC_OVERRIDE in the spec's effective set
// lets the module pass checkModuleReadable where it would pass execve:
// runc's init calls execve holding the spec's effective capabilities, and
// the kernel takes them from a user other than root only as the program
// starts. CRI-O and containerd give a runAsUser container their default
// set, CAP_DAC_OVERRIDE among them, in every set: under runc a root-only
// program of the image runs there, and runw refused the module. In a user
// namespace of the container's the capability covers only a file whose
// owner and group are mapped there (ownerMapped), so that an image's file
// of an id outside the container's range is not run where runc's execve
// refuses it; outside one, nobody's file (65534) is as any other.
func (sb *Sandbox) dacOverrides(plan *wasi.Plan) bool {
	return sb.Capabilities != nil && slices.Contains(sb.Capabilities.Effective, "CAP_DAC_OVERRIDE") &&
		(!sb.has(specs.UserNamespace) || ownerMapped(plan.ModuleName))
}

// ownerMapped says whether the file at name has an owner and a group that
// this process's user namespace maps: neither shows as the kernel's
// overflow id (nobody, 65534; a file really owned by a mapped nobody is
// taken as unmapped, and its module refused as before). false where it
// cannot be looked up: the root of a user namespace cannot search a 0700
// directory of an unmapped owner, nor could execve with CAP_DAC_OVERRIDE.
func ownerMapped(name string) bool {
	var st unix.Stat_t
	if name == "" || unix.Stat(name, &st) != nil {
		return false
	}
	return st.Uid != overflowID("uid") && st.Gid != overflowID("gid")
}

// overflowID is the id the kernel shows for an unmapped user or group
// (/proc/sys/kernel/overflowuid or overflowgid), 65534 where it cannot be
// read.
func overflowID(kind string) uint32 {
	b, err := os.ReadFile("/proc/sys/kernel/overflow" + kind)
	if err != nil {
		return 65534
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 65534
	}
	return uint32(v)
}
