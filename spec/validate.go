package spec

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// validate applies the runtime-spec MUSTs runw can check before anything
// exists, with runc's words where runc has them, so a bad config fails at
// create with one line instead of half-way through: the init joins the
// namespaces and sets the rlimits only after the spawn, and a native
// container handed to runc would fail on a bad one later and less clearly.
//
// A recorded configuration (LoadWith) keeps its namespace paths unopened.
func validate(s *specs.Spec, recorded bool) error {
	if err := validateProcess(s.Process); err != nil {
		return err
	}
	if err := validateHooks(s.Hooks); err != nil {
		return err
	}
	if err := validateMountTypes(s.Mounts); err != nil {
		return err
	}
	if s.Linux != nil {
		if err := validateNamespaces(s.Linux.Namespaces, !recorded); err != nil {
			return err
		}
		if err := validateLinux(s.Linux); err != nil {
			return err
		}
		return validateSysctl(s.Linux)
	}
	return nil
}

// rootfsPropagations are the linux.rootfsPropagation values runc knows
// ("" leaves the propagation as it is).
var rootfsPropagations = []string{"", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"}

// validateLinux refuses, in runc's words, a rootfsPropagation and a
// linux.devices type runc does not know. runw makes no device node and
// sets no propagation of its own, but a spec runc refuses must not run.
func validateLinux(l *specs.Linux) error {
	if l.MountLabel != "" && !lsmEnabled("/sys/fs/selinux/enforce") {
		// As process.selinuxLabel (validateLSM); runc fails such a
		// create on its first labelled mount (the tmpfs at /dev, or one
		// masking a directory, which every engine sends), whose context=
		// the kernel refuses.
		return errors.New("selinux mount label is specified in config, but selinux is disabled or not supported")
	}
	if !slices.Contains(rootfsPropagations, l.RootfsPropagation) {
		return fmt.Errorf("rootfsPropagation=%s is not supported", l.RootfsPropagation)
	}
	for _, d := range l.Devices {
		switch d.Type {
		case "c", "u", "b", "p":
		default:
			return fmt.Errorf("invalid device type %q", d.Type)
		}
	}
	return validateIntelRdt(l.IntelRdt)
}

// validateIntelRdt refuses, in runc's words, a cache or memory bandwidth
// schema: runw applies no Intel RDT (`runw features` says so), as runc
// on a host without RDT, and a limit the spec asks for must not be
// dropped without a word.
func validateIntelRdt(r *specs.LinuxIntelRdt) error {
	switch {
	case r == nil:
		return nil
	case r.ClosID == "." || r.ClosID == ".." || strings.Contains(r.ClosID, "/"):
		return fmt.Errorf("invalid intelRdt.ClosID %q", r.ClosID)
	case r.L3CacheSchema != "":
		return errors.New("intelRdt.l3CacheSchema is specified in config, but Intel RDT/CAT is not enabled")
	case r.MemBwSchema != "":
		return errors.New("intelRdt.memBwSchema is specified in config, but Intel RDT/MBA is not enabled")
	}
	return nil
}

// SysctlNamespace names the namespace a sysctl key belongs to, as runc's
// validator does; ok is false for a key no namespace holds.
func SysctlNamespace(key string) (ns specs.LinuxNamespaceType, ok bool) {
	switch {
	case strings.HasPrefix(key, "net."):
		return specs.NetworkNamespace, true
	case key == "kernel.msgmax", key == "kernel.msgmnb", key == "kernel.msgmni", key == "kernel.sem",
		key == "kernel.shmall", key == "kernel.shmmax", key == "kernel.shmmni", key == "kernel.shm_rmid_forced",
		strings.HasPrefix(key, "fs.mqueue."):
		return specs.IPCNamespace, true
	case key == "kernel.hostname", key == "kernel.domainname":
		return specs.UTSNamespace, true
	}
	return "", false
}

// validateSysctl applies runc's checks of linux.sysctl, in its words: each
// key only in a namespace of the container's own, since the init writes
// it to /proc/sys there. A network namespace joined by path may be the
// one runw runs in (a spec joining /proc/1/ns/net, a hostNetwork pod's
// pause container's): its net.* keys would change the host's network,
// which the init, already inside, cannot tell.
func validateSysctl(l *specs.Linux) error {
	for _, key := range slices.Sorted(maps.Keys(l.Sysctl)) {
		owner, known := SysctlNamespace(key)
		i := slices.IndexFunc(l.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == owner })
		switch {
		case !known:
			return fmt.Errorf("sysctl %q is not in a separate kernel namespace", key)
		case owner == specs.IPCNamespace && i < 0:
			return fmt.Errorf("sysctl %q is not allowed in the hosts ipc namespace", key)
		case owner == specs.NetworkNamespace && (i < 0 || l.Namespaces[i].Path != "" && sameFile(l.Namespaces[i].Path, "/proc/self/ns/net")):
			return fmt.Errorf("sysctl %q not allowed in host network namespace", key)
		case owner == specs.UTSNamespace && i < 0:
			return fmt.Errorf("sysctl %q is not in a separate kernel namespace", key)
		case key == "kernel.hostname":
			return fmt.Errorf("sysctl %q is not allowed as it conflicts with the OCI %q field", key, "hostname")
		}
	}
	return nil
}

// sameFile says whether a and b name one file (for namespaces: one
// namespace).
func sameFile(a, b string) bool {
	var sa, sb unix.Stat_t
	return unix.Stat(a, &sa) == nil && unix.Stat(b, &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// pathMax is Linux's PATH_MAX: no cwd longer than this can exist.
const pathMax = 4096

// rlimitResources maps process.rlimits' types to the resources Linux
// knows (getrlimit(2)).
var rlimitResources = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// RlimitResource is the Linux resource number of an rlimit type
// ("RLIMIT_NOFILE"); Load refuses a config naming any other type.
func RlimitResource(name string) (int, bool) {
	r, ok := rlimitResources[name]
	return r, ok
}

// SoftRlimit is the soft limit of type typ ("RLIMIT_NOFILE") that p's
// rlimits set, if any.
func SoftRlimit(p *specs.Process, typ string) (uint64, bool) {
	if p == nil {
		return 0, false
	}
	for _, r := range p.Rlimits {
		if r.Type == typ {
			return r.Soft, true
		}
	}
	return 0, false
}

// ValidateProcess applies runc's checks of a process (cwd, env) to one
// given to exec, as runc's exec does.
func ValidateProcess(p *specs.Process) error { return validateProcess(p) }

// maxID is the largest uid or gid runc accepts (libcontainer/user's
// maxID): the kernel's are unsigned 32-bit, but -1 means no change.
const maxID = 1<<31 - 1

// validateProcess refuses, in runc's words, a process runc would refuse:
// cwd, env, args, ids, rlimits and security labels.
func validateProcess(p *specs.Process) error {
	switch {
	case p.Cwd == "":
		//lint:ignore ST1005 runc's own words, which callers match
		return errors.New("Cwd property must not be empty")
	case !strings.HasPrefix(p.Cwd, "/"):
		//lint:ignore ST1005 runc's own words, which callers match
		return errors.New("Cwd must be an absolute path")
	case len(p.Cwd) > pathMax:
		// runc fails when it makes the directory; the value is not
		// printed, it would be the whole line.
		//lint:ignore ST1005 begins with the field's name, as runc's Cwd errors above do
		return fmt.Errorf("Cwd is %d bytes long, more than PATH_MAX (%d)", len(p.Cwd), pathMax)
	}
	for _, kv := range p.Env {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("invalid environment variable: %q", kv)
		}
	}
	for i, a := range p.Args {
		// A guest's argv is C strings: the rest was silently cut.
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("args[%d] %q: contains a NUL byte", i, a)
		}
	}
	// The attack: 4294967295 is -1 to setresuid and setresgid, "leave it
	// as it is", so a process.user of it stayed host root (uid 0, the
	// files of root) where the spec asked for an unprivileged user. runc
	// refuses every id beyond 2^31-1, in these words.
	ids := append([]uint32{p.User.UID, p.User.GID}, p.User.AdditionalGids...)
	for _, id := range ids {
		if id > maxID {
			return fmt.Errorf("unable to setup user: uids and gids must be in range 0-%d", maxID)
		}
	}
	for _, r := range p.Rlimits {
		res, ok := rlimitResources[r.Type]
		if !ok {
			return fmt.Errorf("wrong rlimit value: %q", r.Type)
		}
		// The kernel refuses a soft limit above the hard one; runc's
		// init fails so, in these words. Said here, before anything is
		// made: the init would meet it half-way through its sandbox.
		if r.Soft > r.Hard {
			return fmt.Errorf("error setting rlimit type %d: %w", res, unix.EINVAL)
		}
	}
	return validateLSM(p)
}

// validateLSM refuses an AppArmor profile or an SELinux label the host
// cannot apply, as runc fails on them (in its words): a container asked
// to be confined so must not run unconfined without a word. Where the
// host has the module, runw does not apply them to its init (the guest
// stays confined by its grants, Landlock and the syscall filter; the
// README says so).
func validateLSM(p *specs.Process) error {
	if p.ApparmorProfile != "" && !lsmEnabled("/sys/module/apparmor/parameters/enabled") {
		return errors.New("unable to apply apparmor profile: apparmor failed to apply profile: write /proc/self/attr/exec: invalid argument")
	}
	if p.SelinuxLabel != "" && !lsmEnabled("/sys/fs/selinux/enforce") {
		return errors.New("selinux label is specified in config, but selinux is disabled or not supported")
	}
	return nil
}

// lsmEnabled says a security module's file exists (selinuxfs's enforce:
// SELinux is mounted, in either mode) and, for AppArmor's parameter,
// reads Y.
func lsmEnabled(file string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	return !strings.HasSuffix(file, "/parameters/enabled") || strings.TrimSpace(string(b)) == "Y"
}

// validateHooks refuses a timeout that is not positive, which the spec
// forbids; runc would start the hook and fail it at once ("hook ran past
// specified timeout of 0.0s").
func validateHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	//lint:ignore SA1019 Prestart is deprecated but still honoured, as by runc.
	for _, list := range [][]specs.Hook{h.Prestart, h.CreateRuntime, h.CreateContainer, h.StartContainer, h.Poststart, h.Poststop} {
		for _, hk := range list {
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return fmt.Errorf("hook %q: timeout must be greater than zero, not %d", hk.Path, *hk.Timeout)
			}
		}
	}
	return nil
}

// nsTypes maps the spec's namespace types to what NS_GET_NSTYPE returns.
var nsTypes = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// nsGetNSType is ioctl NS_GET_NSTYPE, _IO(0xb7, 0x3): the CLONE_NEW* type
// of a namespace file, ENOTTY for any file that is not one.
const nsGetNSType = 0xb703

// validateNamespaces refuses an unknown or repeated type and, with
// openPaths, a path that is not a namespace of its type (a regular file,
// another kind of namespace, nothing at all).
func validateNamespaces(nss []specs.LinuxNamespace, openPaths bool) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range nss {
		want, ok := nsTypes[ns.Type]
		if !ok {
			return fmt.Errorf("namespace {%q %q} does not exist", ns.Type, ns.Path)
		}
		if seen[ns.Type] {
			return fmt.Errorf("malformed spec file: duplicated ns {%q %q}", ns.Type, ns.Path)
		}
		seen[ns.Type] = true
		if ns.Path == "" || !openPaths {
			continue
		}
		fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("namespace path %q: %w", ns.Path, err)
		}
		got, err := unix.IoctlRetInt(fd, nsGetNSType)
		unix.Close(fd)
		if err != nil || got != want {
			return fmt.Errorf("namespace path %q is not a %s namespace", ns.Path, ns.Type)
		}
	}
	return nil
}

// mountableTypes are the filesystem types this kernel can mount, from
// /proc/filesystems, read once.
var mountableTypes = sync.OnceValue(func() map[string]bool {
	types := map[string]bool{}
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 {
			types[fields[len(fields)-1]] = true
		}
	}
	return types
})

// validateMountTypes refuses a mount of a type the kernel cannot mount,
// and one of no type that is no bind, as runc does when its mount(2)
// fails with ENODEV, and a filesystem runw does not grant (unmountable).
// runw mounts a filesystem only at create, after the checks, so it asks
// /proc/filesystems first: unlike runc it also refuses a type whose
// module is not loaded yet (mount(2) could have loaded it), which keeps
// the check free of side effects on the host.
func validateMountTypes(mounts []specs.Mount) error {
	known := mountableTypes() // nil without /proc: no type to check against
	for _, m := range mounts {
		if (m.Type == "" || m.Type == "none") && !isBind(m) {
			return fmt.Errorf("error mounting %q to rootfs at %q: %w", m.Source, m.Destination, unix.ENODEV)
		}
		if m.Type == "rbind" || isBind(m) {
			continue
		}
		if known != nil && !known[m.Type] {
			return fmt.Errorf("error mounting %q to rootfs at %q: unknown filesystem type %q: no such device", m.Source, m.Destination, m.Type)
		}
		granted := m.Type == "tmpfs" || m.Type == "overlay"
		ignored := kernelFS[m.Type] || otherKernelFS[m.Type] || underKernelDir(path.Clean("/"+m.Destination))
		if !granted && !ignored {
			return unmountable(m)
		}
	}
	return nil
}

// UnifiedLimit is a limit the spec sets twice: by its named field (named;
// 0 or below: none) and by its cgroup v2 file in linux.resources.unified
// (podman --cgroup-conf, the kubelet). The lower of the two counts, as the
// kernel enforces the lower; 0 is none.
func UnifiedLimit(named int64, r *specs.LinuxResources, file string) int64 {
	limit := max(named, 0)
	if r == nil {
		return limit
	}
	if v, err := strconv.ParseInt(strings.TrimSpace(r.Unified[file]), 10, 64); err == nil && v > 0 && (limit == 0 || v < limit) {
		limit = v
	}
	return limit
}
