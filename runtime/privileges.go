package runtime

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi"
)

/*
#include <stdlib.h>
*/
import "C"

// applyLimits sets process.rlimits and process.oomScoreAdj, first, while
// the init still has CAP_SYS_RESOURCE to raise a hard limit or lower its
// OOM score. Both belong to the process, not to a thread. Three limits
// are not set here as the spec gives them:
//
//   - RLIMIT_AS and RLIMIT_DATA bound the guest's linear memory, in the
//     engine (wasi.Plan.RlimitMemory), and are not set on the init at
//     all. Before the guest's first instruction the init holds some 190
//     MiB of data (its threads' stacks, the guest thread's 32 MiB, Go's
//     heap, wasmtime's) and 6 GiB of address space (wasmtime reserves a
//     linear memory's 4 GiB and its guard), none of it the guest's; under
//     a limit a native container lives with (runc runs busybox under
//     RLIMIT_DATA 64 MiB, RLIMIT_AS 256 MiB) the init's next thread or
//     heap growth failed, at create or at any moment after, and the Go
//     runtime's dump of some 240 lines was all the user saw.
//   - RLIMIT_SIGPENDING counts the signals the credential round queues
//     on every thread at once (threads.go): at 0 or 1 that round failed
//     ("signal thread 1: resource temporarily unavailable"). It is set
//     once the round is done (applyLateLimits); its hard limit is raised
//     here where the spec raises it, which needs CAP_SYS_RESOURCE.
func (sb *Sandbox) applyLimits() error {
	for _, r := range sb.Rlimits {
		res, ok := spec.RlimitResource(r.Type)
		if !ok {
			return fmt.Errorf("wrong rlimit value: %q", r.Type)
		}
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		switch res {
		case unix.RLIMIT_AS, unix.RLIMIT_DATA:
			continue
		case unix.RLIMIT_NOFILE:
			raised := nofileLimit(lim)
			if raised == lim {
				break
			}
			err := unix.Prlimit(0, res, &raised, nil)
			if err == nil {
				continue
			}
			if err != unix.EPERM {
				return fmt.Errorf("error setting rlimit type %d: %w", res, err)
			}
			// Raising the hard limit above the one the init was born
			// with needs CAP_SYS_RESOURCE, which root lacks in some
			// sandboxes: the init keeps its own hard limit as the
			// ceiling of the raise, and a spec that asks no more than
			// that starts, as it does under runc.
			var cur unix.Rlimit
			if err := unix.Prlimit(0, res, nil, &cur); err != nil {
				return fmt.Errorf("error setting rlimit type %d: %w", res, err)
			}
			lim.Max = max(lim.Max, min(raised.Max, cur.Max))
			lim.Cur = max(lim.Cur, min(raised.Cur, lim.Max))
		case unix.RLIMIT_SIGPENDING:
			if err := unix.Prlimit(0, res, nil, &lim); err != nil {
				return fmt.Errorf("error setting rlimit type %d: %w", res, err)
			}
			if r.Hard <= lim.Max {
				continue
			}
			lim.Max = r.Hard
		}
		if err := unix.Prlimit(0, res, &lim, nil); err != nil {
			return fmt.Errorf("error setting rlimit type %d: %w", res, err)
		}
	}
	if sb.OOMScoreAdj != nil {
		// Read back only when the write fails: in a user namespace
		// joined by path the constructor set it already (oomEnv), and
		// the init may no longer write its own /proc files.
		err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*sb.OOMScoreAdj)), 0)
		if err != nil && !oomScoreAdjIs(*sb.OOMScoreAdj) {
			return fmt.Errorf("set oom_score_adj to %d: %w", *sb.OOMScoreAdj, err)
		}
	}
	return nil
}

// oomScoreAdjIs says whether the process's oom_score_adj is adj already.
func oomScoreAdjIs(adj int) bool {
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	return err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(adj)
}

// applyLateLimits sets the rlimits applyLimits leaves until the init's
// credential round is done (RLIMIT_SIGPENDING), as the spec gives them:
// lowering a limit, or raising a soft one to a hard one applyLimits
// raised, needs no capability.
func (sb *Sandbox) applyLateLimits() error {
	for _, r := range sb.Rlimits {
		if r.Type != "RLIMIT_SIGPENDING" {
			continue
		}
		if err := unix.Prlimit(0, unix.RLIMIT_SIGPENDING, &unix.Rlimit{Cur: r.Soft, Max: r.Hard}, nil); err != nil {
			return fmt.Errorf("error setting rlimit type %d: %w", unix.RLIMIT_SIGPENDING, err)
		}
	}
	return nil
}

// nofileHeadroom is how many descriptors the init opens after its limits
// are set and before the guest runs: one at a time while it fills the
// Landlock ruleset, the exec fifo, /proc files read to drop capabilities.
const nofileHeadroom = 16

// nofileLimit is the RLIMIT_NOFILE the init applies for lim, the spec's.
// The init holds the guest's grants, stdio and its own descriptors open
// (about 30) where runc's init holds three; a spec limit below that plus
// nofileHeadroom (podman --ulimit nofile=16, which runc runs) is raised
// to it, so that the container starts and the guest gets EMFILE from its
// first opens, rather than the init failing half-way through its sandbox
// with go-landlock's "too many open files". Any other limit is the spec's,
// exactly. The hard limit is raised only to hold that raise: a spec whose
// soft limit is above its hard one is refused at create (spec.Load), as
// the kernel refuses it under runc.
func nofileLimit(lim unix.Rlimit) unix.Rlimit {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return lim
	}
	need := uint64(len(entries) + nofileHeadroom)
	if lim.Cur < need {
		logDebugf("init: RLIMIT_NOFILE %d raised to %d: the init holds %d descriptors", lim.Cur, need, len(entries))
		lim.Cur = need
		lim.Max = max(lim.Max, need)
	}
	return lim
}

// capSets are process.capabilities as bit masks, by the kernel's numbers.
type capSets struct {
	bounding, effective, permitted, inheritable, ambient uint64
}

// capsByName maps "CAP_CHOWN" to its number, for the capabilities both
// moby/sys/capability and this kernel know.
func capsByName(last capability.Cap) map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		if c <= last {
			m["CAP_"+strings.ToUpper(c.String())] = c
		}
	}
	return m
}

// capSetsFor reads the spec's capabilities. No capabilities object means
// no capability at all, as under runc. A name this kernel does not know is
// left out, as runc does; an ambient capability that is not both
// permitted and inheritable is left out too (the kernel would refuse it).
func capSetsFor(c *specs.LinuxCapabilities, last capability.Cap) capSets {
	var s capSets
	if c == nil {
		return s
	}
	names := capsByName(last)
	mask := func(list []string) uint64 {
		var m uint64
		for _, n := range list {
			if cp, ok := names[n]; ok {
				m |= 1 << uint(cp)
			} else {
				logDebugf("capability %q is not known to this kernel; left out", n)
			}
		}
		return m
	}
	s.bounding = mask(c.Bounding)
	s.effective = mask(c.Effective)
	s.permitted = mask(c.Permitted)
	s.inheritable = mask(c.Inheritable)
	s.ambient = mask(c.Ambient) & s.permitted & s.inheritable
	return s
}

// warnUnknownCapabilities warns, as runc does in its words, of names in c
// that neither moby/sys/capability nor this kernel knows: capSetsFor
// leaves them out, and the init's own log is silent without --log, so
// the command (create, run, exec) says it on its stderr or log.
func warnUnknownCapabilities(c *specs.LinuxCapabilities) {
	if c == nil {
		return
	}
	last, err := capability.LastCap()
	if err != nil {
		return
	}
	names := capsByName(last)
	var unknown []string
	for _, list := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
		for _, n := range list {
			if _, ok := names[n]; !ok && !slices.Contains(unknown, n) {
				unknown = append(unknown, n)
			}
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		logrus.Warn("ignoring unknown or unavailable capabilities: ", unknown)
	}
}

// afterExec is what the capability sets become when runc's init executes
// the container's program (a file with no capabilities and no set-id
// bit), which runw's init never does (the guest runs in the init itself),
// so it applies the kernel's rule here (capabilities(7), "Transformation
// of capabilities during execve"):
//   - a process whose uid is not 0 keeps only its ambient capabilities as
//     permitted and effective. podman's exec spec for --user 1000 lists
//     its default capabilities as effective and permitted; under runc
//     they vanish at the exec, and without this rule a guest exec'd as
//     uid 1000 would hold CAP_DAC_OVERRIDE and write root's files;
//   - root gets its inheritable and bounding sets as permitted and
//     effective (no more than it had under no_new_privs); its ambient set
//     stays (the program is no set-id or capability file).
func afterExec(s capSets, uid uint32, noNewPrivs bool) capSets {
	if uid != 0 {
		s.permitted, s.effective = s.ambient, s.ambient
		return s
	}
	p := s.inheritable | s.bounding | s.ambient
	if noNewPrivs {
		p &= s.permitted
	}
	s.permitted, s.effective = p, p
	return s
}

// applyPrivileges takes process.user's credentials, the spec's
// capabilities and no_new_privs, on every thread of the init (threads.go),
// in runc's order (finalizeNamespace): drop from the bounding set; keep
// the capabilities across the uid change (PR_SET_KEEPCAPS); groups, gid,
// uid; set effective, permitted and inheritable (capset); the ambient
// set; no_new_privs last.
//
// From then on every file the guest opens through its preopens is checked
// as that user with those capabilities, as it would be for a native
// process: a root guest without CAP_DAC_OVERRIDE cannot read a 0600 file
// of another user in a granted directory. The capabilities are also what
// code that escaped the wasm sandbox would hold: with podman's defaults,
// no CAP_SYS_ADMIN, CAP_SYS_PTRACE or CAP_SYS_MODULE to reach the host.
func (sb *Sandbox) applyPrivileges(u wasi.User) error {
	last, err := capability.LastCap()
	if err != nil {
		return fmt.Errorf("read the last capability: %w", err)
	}
	caps := afterExec(capSetsFor(sb.Capabilities, last), u.UID, sb.NoNewPrivileges)
	if sb.has(specs.UserNamespace) {
		if err := checkMapped(u); err != nil {
			return err
		}
	}

	var l stepList
	defer l.free()
	add := l.add
	if sb.landlockFD > 0 {
		// First, while every thread still has the capabilities it had:
		// no_new_privs, then the Landlock ruleset (landlock.go).
		defer func() {
			unix.Close(sb.landlockFD)
			sb.landlockFD = 0
		}()
		add("set no_new_privs for Landlock", unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1)
		add("enter the Landlock ruleset", unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(sb.landlockFD), uintptr(sb.landlockFlags))
	}
	l.dropBounding(caps.bounding, last)
	changeUser := u.UID != 0 || u.GID != 0 || len(u.AdditionalGids) != 0
	if changeUser {
		add("keep capabilities across setuid", unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1)
		p := l.alloc(4*len(u.AdditionalGids) + 4)
		copy(unsafe.Slice((*uint32)(p), len(u.AdditionalGids)), u.AdditionalGids)
		add("setgroups", unix.SYS_SETGROUPS, uintptr(len(u.AdditionalGids)), uintptr(p))
		add(fmt.Sprintf("setgid %d", u.GID), unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID))
		add(fmt.Sprintf("setuid %d", u.UID), unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID))
		add("clear keep-caps", unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 0)
	}
	l.capset(caps)
	for c := capability.Cap(0); c <= last; c++ {
		if caps.ambient&(1<<uint(c)) != 0 {
			add("raise ambient "+c.String(), unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c))
		}
	}
	if sb.NoNewPrivileges {
		// No setuid binary or file capability can ever give back what was
		// dropped (the init runs none, but a hook or a child might).
		add("set no_new_privs", unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1)
	}
	if err := allThreads(l.steps, int(last)); err != nil {
		return fmt.Errorf("apply process.user and capabilities: %w", err)
	}
	// A credential change (a new uid, fewer permitted capabilities) makes
	// the process non-dumpable, which makes /proc/self root-owned: the
	// init could not reopen its fifo there. A native process of that user
	// is dumpable too. The init was non-dumpable from its C constructor
	// until here (nsenter.go), and has closed runw's cache before
	// (closeHanded). Here, not once the sandbox is whole: a seccomp
	// profile loaded after this may refuse prctl.
	return unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0)
}

// stepList collects the steps allThreads makes on every thread, and the C
// memory their pointer arguments point to (the other threads' signal
// handlers read it after the Go call that built it has returned), which
// free releases once allThreads is done.
type stepList struct {
	steps []step
	mem   []unsafe.Pointer
}

// add appends one raw system call.
func (l *stepList) add(what string, nr uintptr, args ...uintptr) {
	s := step{nr: nr, what: what}
	copy(s.args[:], args)
	l.steps = append(l.steps, s)
}

// alloc returns n zeroed bytes of C memory, freed by free.
func (l *stepList) alloc(n int) unsafe.Pointer {
	p := C.calloc(1, C.size_t(n))
	l.mem = append(l.mem, p)
	return p
}

// free releases the C memory alloc gave the steps, once allThreads is done.
func (l *stepList) free() {
	for _, p := range l.mem {
		C.free(p)
	}
	l.mem = nil
}

// dropBounding drops from the bounding set every capability up to last
// that keep does not hold (it takes CAP_SETPCAP).
func (l *stepList) dropBounding(keep uint64, last capability.Cap) {
	for c := capability.Cap(0); c <= last; c++ {
		if keep&(1<<uint(c)) == 0 {
			l.add("drop "+c.String()+" from the bounding set", unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c))
		}
	}
}

// capset sets the effective, permitted and inheritable sets to caps', and
// clears the ambient set.
func (l *stepList) capset(caps capSets) {
	hdr := (*unix.CapUserHeader)(l.alloc(int(unsafe.Sizeof(unix.CapUserHeader{}))))
	hdr.Version = unix.LINUX_CAPABILITY_VERSION_3
	data := (*[2]unix.CapUserData)(l.alloc(2 * int(unsafe.Sizeof(unix.CapUserData{}))))
	for i := range data {
		data[i].Effective = uint32(caps.effective >> (32 * i))
		data[i].Permitted = uint32(caps.permitted >> (32 * i))
		data[i].Inheritable = uint32(caps.inheritable >> (32 * i))
	}
	l.add("capset", unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(data)))
	l.add("clear the ambient set", unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL)
}

// checkMapped refuses, in runc's words, a process.user whose uid or gid
// the init's user namespace does not map (read from the namespace
// itself, so that one joined by path is judged by its real mappings),
// rather than leaving it to setresuid's bare EINVAL. A uid of 0 unmapped
// is refused too: the guest would otherwise run as the overflow user.
func checkMapped(u wasi.User) error {
	if !idMapped("/proc/self/uid_map", u.UID) {
		return errors.New("unable to setup user: cannot set uid to unmapped user in user namespace")
	}
	if !idMapped("/proc/self/gid_map", u.GID) {
		return errors.New("unable to setup user: cannot set gid to unmapped user in user namespace")
	}
	return nil
}

// idMapped says whether the id map file (inside, outside, count on each
// line) covers id; an unreadable map says yes, leaving the kernel's
// refusal to speak.
func idMapped(file string, id uint32) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(data), "\n") {
		var inside, outside, count uint64
		if n, _ := fmt.Sscan(line, &inside, &outside, &count); n == 3 && uint64(id) >= inside && uint64(id)-inside < count {
			return true
		}
	}
	return false
}
