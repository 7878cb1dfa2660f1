package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runw/runw/spec"
)

// minPids is the smallest pids limit runw accepts. Every thread counts
// against pids.max, and runw's init is one process running about ten
// (Go's runtime and wasmtime's; initEnv bounds them), more under load,
// so a limit a native single-process container lives with would crash it
// while it starts, at random, with the Go runtime's dump on the
// container's stderr. It is refused instead, in one line, before anything
// is made. The minimum leaves room for an exec'd process (a second init,
// about as many threads again: 21 at once here) beside the first, with
// room to spare for a busy server's init and a health check's exec at
// once: podman exec and health checks work at it. At 16, the minimum
// before, every exec failed.
const minPids = 32

// threadsNote says why a limit counting threads must be at least minPids.
const threadsNote = "runw's init runs about 10 threads, each counted against it, and an exec'd process as many again"

// checkPidsLimit refuses a pids limit below minPids (-1, 0 or none: no
// limit; podman up to 5.4 writes 0 for --pids-limit -1, and runc 1.1
// treats 0 as unset).
func checkPidsLimit(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	var named int64
	if r.Pids != nil && r.Pids.Limit != nil {
		named = *r.Pids.Limit
	}
	// pids.max given by name (linux.resources.unified, cgroup v2) is
	// the same limit.
	limit, low := limitBelow(named, r, "pids.max", minPids)
	if !low {
		return nil
	}
	return fmt.Errorf("pids limit %d: %s; use at least %d, or -1 for no limit", limit, threadsNote, minPids)
}

// checkNprocLimit refuses an RLIMIT_NPROC in p.Rlimits below minPids
// where the kernel holds the process to it (create's init, and exec's:
// exec may change the user). The limit counts every thread of the user,
// and runw's init is one process running about ten threads, so with a
// limit a native single-process container lives with the init could not
// start the guest's thread, and the guest died at start with 134 after
// create or exec had said yes. The kernel (copy_process) exempts the
// host's root and, outside a user namespace, a process holding
// CAP_SYS_RESOURCE or CAP_SYS_ADMIN: for a uid other than 0 that is only
// what its ambient set carries over, as afterExec applies it.
func checkNprocLimit(p *specs.Process, l *specs.Linux) error {
	soft, found := spec.SoftRlimit(p, "RLIMIT_NPROC")
	if !found || soft >= minPids || !nprocHeld(p, l) {
		return nil
	}
	return fmt.Errorf("rlimit RLIMIT_NPROC %d for uid %d: %s; use at least %d", soft, p.User.UID, threadsNote, minPids)
}

// nprocHeld says whether the kernel holds p's user to RLIMIT_NPROC.
func nprocHeld(p *specs.Process, l *specs.Linux) bool {
	if l != nil {
		for _, ns := range l.Namespaces {
			if ns.Type != specs.UserNamespace {
				continue
			}
			// Exempt only a uid a mapping sends to the host's 0: a
			// namespace joined by path has no mappings in the spec, and
			// its uid 0 is no host root. Capabilities in it count for
			// nothing against the host's limit.
			host, mapped := hostID(l.UIDMappings, p.User.UID)
			return !mapped || host != 0
		}
	}
	if p.User.UID == 0 {
		return false
	}
	if c := p.Capabilities; c != nil {
		for _, name := range []string{"CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"} {
			if slices.Contains(c.Ambient, name) && slices.Contains(c.Permitted, name) && slices.Contains(c.Inheritable, name) {
				return false
			}
		}
	}
	return true
}

// minMemory is the smallest memory limit runw accepts. runw's init
// starts in the container's cgroup and is charged for what it maps
// before any guest runs (its heap, stacks, wasmtime's engine): under 3
// MiB here the OOM killer ended it before it could say a word, and the
// engine reported an OOM kill (a Kubernetes OOM event) for what is a
// limit no runw container can run under (runc's create fails at 1 MiB
// too, in the kernel's refusal of the limit). It is refused instead, in
// one line, before anything is made; a limit above it that leaves the
// guest too little is refused naming the module's need: a binary
// module's at create, before its compile (wasi.Plan.CheckMemoryMin), a
// text module's or a component's at instantiation.
const minMemory = 4 << 20

// checkMemoryLimit refuses a memory limit below minMemory (0, -1 or
// none: no limit); memory.max given by name (cgroup v2) is the same.
func checkMemoryLimit(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	var named int64
	if r.Memory != nil && r.Memory.Limit != nil {
		named = *r.Memory.Limit
	}
	limit, low := limitBelow(named, r, "memory.max", minMemory)
	if !low {
		return nil
	}
	return fmt.Errorf("memory limit %d bytes: runw's init needs about 3 MiB of its own in the container's cgroup before the guest runs; use at least %d MiB", limit, minMemory>>20)
}

// limitBelow is the limit r sets, by name (named) or as file in
// linux.resources.unified, whichever is lower, and whether it is set and
// below min.
func limitBelow(named int64, r *specs.LinuxResources, file string, min int64) (int64, bool) {
	limit := spec.UnifiedLimit(named, r, file)
	return limit, limit != 0 && limit < min
}

// pidsDir is the directory of the container's pids controller, "" when
// it has none.
func pidsDir(cgPath string) string {
	if cgPath == "" {
		return ""
	}
	m, err := cgroupManager(cgPath, nil)
	if err != nil {
		return ""
	}
	if dir := m.Path("pids"); dir != "" {
		return dir
	}
	return m.Path("")
}

// pidsRefusals is how many forks or threads the pids controller in dir
// (pidsDir) has refused so far (pids.events' max), 0 when it cannot tell.
func pidsRefusals(dir string) int64 {
	if dir == "" {
		return 0
	}
	events, err := os.ReadFile(filepath.Join(dir, "pids.events"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(events), "\n") {
		if n, ok := strings.CutPrefix(line, "max "); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
			return v
		}
	}
	return 0
}

// pidsLimitHit says, for an init the pids controller refused a thread
// (pidsRefusals grew while it started), what the limit is and why it
// was reached: runw's init is one process but runs about ten threads
// (Go's and wasmtime's), each of which counts against pids.max, so a
// limit a native single-process container lives with can stop it from
// starting; an exec'd process is a second such init.
//
// The limit named is the one with the least room (pids.max less
// pids.current) of the container's cgroup and its ancestors: a cgroup
// v1 counts a refusal in the cgroup that forked, whichever ancestor's
// limit refused it, and kubelet's pod pids limit is on the pod's cgroup,
// above a container whose own pids.max is "max". Naming the container's
// "max" sent the operator to the wrong limit.
func pidsLimitHit(dir string, exec bool) string {
	limit := pidsLimitOf(dir)
	if exec {
		return fmt.Sprintf("%s refused a thread of the exec'd process, which runs about 10 (Go and wasmtime) beside the container's own: raise the limit", limit)
	}
	return fmt.Sprintf("%s refused a thread of the init, which runs about 10 (Go and wasmtime)", limit)
}

// pidsLimitOf names pidsLimitHit's limit and its pids.max: "the
// container's pids limit (32)", or an ancestor cgroup's.
func pidsLimitOf(dir string) string {
	own, limit := "max", ""
	least := int64(-1)
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "pids.max"))
		if err != nil {
			// The hierarchy's root has no pids.max.
			break
		}
		v := strings.TrimSpace(string(b))
		if d == dir {
			own = v
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		cur, _ := os.ReadFile(filepath.Join(d, "pids.current"))
		used, _ := strconv.ParseInt(strings.TrimSpace(string(cur)), 10, 64)
		if room := max(n-used, 0); least < 0 || room < least {
			least, limit = room, fmt.Sprintf("the container's pids limit (%s)", v)
			if d != dir {
				limit = fmt.Sprintf("the pids limit (%s) of cgroup %s, above the container's,", v, d)
			}
		}
	}
	if limit == "" {
		return fmt.Sprintf("the container's pids limit (%s)", own)
	}
	return limit
}
