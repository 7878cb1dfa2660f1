package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/userns"
	"github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // writes device rules (cgroups.DevicesSetV1)
	devices "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/cgroups/manager"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/state"
)

// The container's init is placed in the cgroup the spec names, as runc
// does, so that engines find it where they expect: conmon and the
// containerd shim read figures from it (podman stats, CRI ContainerStats),
// `ps` lists it, pause freezes it, and the memory limit holds on the
// process as a whole, not only on the guest's linear memory.

// cgroupPath turns spec's cgroupsPath into a cgroupfs path. With
// --systemd-cgroup the spec says "slice:prefix:name"; without systemd on
// the host, runw places it where systemd would (/slice/prefix-name.scope).
// An empty path gives /runw/<id> under the default root, and
// /runw/<hash of root>-<id> under any other, so that two roots holding the
// same id never share (and kill each other's processes in) one cgroup.
func cgroupPath(spec *specs.Spec, root, id string, systemd bool) string {
	var p string
	if spec.Linux != nil {
		p = spec.Linux.CgroupsPath
	}
	if p == "" {
		if root == state.DefaultRoot {
			return "/runw/" + id
		}
		sum := sha256.Sum256([]byte(root))
		return "/runw/" + hex.EncodeToString(sum[:4]) + "-" + id
	}
	if systemd || strings.Count(p, ":") == 2 && !strings.HasPrefix(p, "/") {
		parts := strings.SplitN(p, ":", 3)
		if len(parts) == 3 {
			slice, prefix, name := parts[0], parts[1], parts[2]
			if slice == "" {
				slice = "system.slice"
			}
			p = path.Join(expandSlice(slice), prefix+"-"+name+".scope")
		}
	}
	// Rooted and clean, as the cgroup library cleans it: every path runw
	// builds from it must name the cgroup the library made. Unclean, a
	// "-:../cgroup/unified/x:y" reached a cgroup outside runw's own in the
	// files runw reads and writes itself (cgroup.kill).
	return path.Clean("/" + p)
}

// unifiedDir is the container's cgroup in the cgroup v2 hierarchy, where
// the cgroup library places it: below /sys/fs/cgroup on a v2 host, below
// /sys/fs/cgroup/unified on a hybrid one; "" on a host with cgroup v1
// alone. Joined to /sys/fs/cgroup on a hybrid host, a cgroupsPath of
// /unified/x named another cgroup, /x of the v2 hierarchy: `runw kill`
// wrote its cgroup.kill and killed whoever was in it.
func unifiedDir(p string) string {
	switch {
	case cgroups.IsCgroup2UnifiedMode():
		return filepath.Join("/sys/fs/cgroup", path.Clean("/"+p))
	case cgroups.IsCgroup2HybridMode():
		return filepath.Join("/sys/fs/cgroup/unified", path.Clean("/"+p))
	}
	return ""
}

// expandSlice turns a-b-c.slice into a.slice/a-b.slice/a-b-c.slice, as
// systemd lays out nested slices.
func expandSlice(slice string) string {
	name := strings.TrimSuffix(slice, ".slice")
	if name == "" || name == "-" {
		return ""
	}
	var out []string
	parts := strings.Split(name, "-")
	for i := range parts {
		out = append(out, strings.Join(parts[:i+1], "-")+".slice")
	}
	return path.Join(out...)
}

// checkCgroupEmpty refuses a cgroup that already holds processes, in it
// or in any cgroup below it, as runc (1.2 on) does, in its words: ps,
// kill, delete and the removal of the cgroup all act on the whole
// subtree, so a cgroupsPath naming a parent (/system.slice, /runw) would
// have made every process below it the container's, killed at delete.
// A cgroup that does not exist yet is empty.
func checkCgroupEmpty(p string) error {
	if p == "" {
		return nil
	}
	// Every create asks: read the pids controller's directory (the v2
	// tree on a unified host) where it is at its usual place, without a
	// manager, which would parse mountinfo first (cgroupPids).
	dir := unifiedDir(p)
	if !cgroups.IsCgroup2UnifiedMode() {
		dir = filepath.Join("/sys/fs/cgroup/pids", path.Clean("/"+p))
		if _, err := os.Stat("/sys/fs/cgroup/pids"); err != nil {
			pids, err := cgroupPids(p)
			return notEmpty(pids, err)
		}
	}
	pids, err := cgroups.GetAllPids(dir)
	if err := notEmpty(pids, err); err != nil {
		return err
	}
	// On a hybrid host the init enters the v2 tree at the same path too,
	// and kill KILL ends it through that directory's cgroup.kill: a
	// process already there, which no v1 hierarchy names as the
	// container's, would die with it (runc lists and signals the v1
	// pids alone).
	if cgroups.IsCgroup2HybridMode() {
		pids, err := cgroups.GetAllPids(unifiedDir(p))
		return notEmpty(pids, err)
	}
	return nil
}

// notEmpty is checkCgroupEmpty's refusal of a cgroup listing pids; a
// cgroup that cannot be listed (not made yet) is empty.
func notEmpty(pids []int, err error) error {
	if err == nil && len(pids) > 0 {
		return fmt.Errorf("container's cgroup is not empty: %d process(es) found", len(pids))
	}
	return nil
}

// cgroupManager returns the manager for a container's cgroup. It never
// writes device rules: they are set once, at create (placingManager), and
// update, pause or delete must leave them as they are.
func cgroupManager(p string, res *cgroups.Resources) (cgroups.Manager, error) {
	return newManager(p, res, true)
}

// placingManager is the manager that places a process (the init at
// create, an exec'd process later). On cgroup v1 it also places it in the
// devices hierarchy, as runc does: engines find a container's processes
// there (CRI-O reads devices/<cgroup>/cgroup.procs for ContainerStats),
// and Set then writes the rules res.Devices holds. On cgroup v2, Set
// attaches the eBPF device filter runc attaches, built from the same
// rules. Either way the kernel refuses the container a device node the
// spec does not allow, whatever the WASI host lets through: an image or a
// volume may carry a host disk's node, which the guest could otherwise
// open for reading and writing. Without root there is no filter (bpf(2)
// needs privilege; runc skips it too).
func placingManager(p string, res *cgroups.Resources) (cgroups.Manager, error) {
	skipDevices := true
	if cgroups.IsCgroup2UnifiedMode() {
		skipDevices = rootless()
	} else if _, err := cgroups.FindCgroupMountpoint("", "devices"); err == nil {
		skipDevices = false
	}
	return newManager(p, res, skipDevices)
}

// newManager opens the cgroup library's manager for path p with res (nil:
// none), its device rules skipped where skipDevices says.
func newManager(p string, res *cgroups.Resources, skipDevices bool) (cgroups.Manager, error) {
	if res == nil {
		res = &cgroups.Resources{}
	}
	res.SkipDevices = skipDevices
	// Rootless: a user given a cgroup v1 subtree (chowned to it) may not
	// write its device rules (devices.allow and devices.deny need
	// CAP_SYS_ADMIN in the host's namespace); the library then skips them,
	// as runc's does, where create failed with EPERM on devices.deny. The
	// kernel still refuses the container every device its user may not
	// open.
	return manager.New(&cgroups.Cgroup{Path: p, Resources: res, Rootless: rootless()})
}

// defaultDeviceRules are the character devices runc allows in every
// container whatever the spec says, appended after the spec's rules as
// runc appends them: the null, zero, full and random devices, the tty and
// ptys (runw's init may hold a pty as the guest's stdio). Not runc's
// mknod of any device nor /dev/net/tun: no wasm guest makes a node or
// opens a tun device.
var defaultDeviceRules = []devices.Rule{
	{Type: devices.CharDevice, Major: 1, Minor: 3, Permissions: "rwm", Allow: true},
	{Type: devices.CharDevice, Major: 1, Minor: 5, Permissions: "rwm", Allow: true},
	{Type: devices.CharDevice, Major: 1, Minor: 7, Permissions: "rwm", Allow: true},
	{Type: devices.CharDevice, Major: 1, Minor: 8, Permissions: "rwm", Allow: true},
	{Type: devices.CharDevice, Major: 1, Minor: 9, Permissions: "rwm", Allow: true},
	{Type: devices.CharDevice, Major: 5, Minor: 0, Permissions: "rwm", Allow: true},
	{Type: devices.CharDevice, Major: 5, Minor: 2, Permissions: "rwm", Allow: true},
	{Type: devices.CharDevice, Major: 136, Minor: devices.Wildcard, Permissions: "rwm", Allow: true},
}

// deviceRules turns the spec's linux.resources.devices into cgroup device
// rules, in order (the last matching rule wins), followed by runc's
// defaults. No rule at all allows nothing but the defaults.
func deviceRules(spec *specs.Spec) ([]*devices.Rule, error) {
	var rules []*devices.Rule
	if spec.Linux != nil && spec.Linux.Resources != nil {
		for _, d := range spec.Linux.Resources.Devices {
			r := &devices.Rule{Type: devices.WildcardDevice, Major: devices.Wildcard, Minor: devices.Wildcard,
				Permissions: devices.Permissions(d.Access), Allow: d.Allow}
			switch d.Type {
			case "", "a":
			case "b", "c":
				r.Type = devices.Type(d.Type[0])
			default:
				return nil, fmt.Errorf("device rule type %q: want a, b or c", d.Type)
			}
			if d.Major != nil {
				r.Major = *d.Major
			}
			if d.Minor != nil {
				r.Minor = *d.Minor
			}
			if r.Permissions == "" {
				r.Permissions = "rwm"
			}
			rules = append(rules, r)
		}
	}
	for i := range defaultDeviceRules {
		r := defaultDeviceRules[i]
		rules = append(rules, &r)
	}
	return rules, nil
}

// applyCgroup creates the cgroup, places pid in it and sets the limits
// and device rules; pid -1 creates and sets without placing anything
// (makeCgroup). Without root (rootless) a cgroup that cannot be made is
// skipped (the manager returned is nil); as root it is an error.
func applyCgroup(p string, spec *specs.Spec, pid int) (cgroups.Manager, error) {
	res := convertResources(spec)
	rules, err := deviceRules(spec)
	if err != nil {
		return nil, err
	}
	res.Devices = rules
	m, err := placingManager(p, res)
	if err != nil {
		return nil, err
	}
	if err := m.Apply(pid); err != nil {
		if rootless() && errors.Is(err, os.ErrPermission) {
			// Skipped only where nothing was asked of it, as runc's
			// manager skips it: a path the spec names, or a limit, fails
			// create in runc's words. runw ran such a container with no
			// limit at all and said nothing.
			if spec.Linux != nil && spec.Linux.CgroupsPath != "" {
				return nil, fmt.Errorf("cgroup %q: %w", p, err)
			}
			if sub := limitAsked(res); sub != "" {
				return nil, fmt.Errorf("cannot set %s limit: container could not join or create cgroup", sub)
			}
			logDebugf("cgroup %s not made: %v", p, err)
			return nil, nil
		}
		return nil, fmt.Errorf("cgroup %q: %w", p, err)
	}
	if err := m.Set(res); err != nil {
		return nil, fmt.Errorf("cgroup %q: set resources: %w", p, err)
	}
	return m, nil
}

// limitAsked names the controller of the first limit res sets ("" for
// none), as runc's error names it.
func limitAsked(res *cgroups.Resources) string {
	switch {
	case res.Memory != 0 || res.MemorySwap != 0 || res.MemoryReservation != 0 || res.MemorySwappiness != nil || res.OomKillDisable:
		return "memory"
	case res.CpuShares != 0 || res.CpuQuota != 0 || res.CpuRtRuntime != 0 || res.CpuBurst != nil || res.CPUIdle != nil:
		return "cpu"
	case res.CpusetCpus != "" || res.CpusetMems != "":
		return "cpuset"
	case res.PidsLimit != nil && *res.PidsLimit > 0:
		return "pids"
	case res.BlkioWeight != 0 || res.BlkioLeafWeight != 0 || len(res.BlkioWeightDevice) > 0 ||
		len(res.BlkioThrottleReadBpsDevice) > 0 || len(res.BlkioThrottleWriteBpsDevice) > 0 ||
		len(res.BlkioThrottleReadIOPSDevice) > 0 || len(res.BlkioThrottleWriteIOPSDevice) > 0:
		return "blkio"
	case len(res.Unified) > 0:
		return "unified"
	}
	return ""
}

// How a new process (a container's init, an exec'd process) enters the
// container's cgroup.
//
// Writing a pid to cgroup.procs after the spawn, as runc does, takes the
// kernel's global cgroup_threadgroup_rwsem for writing; on a host where no
// attach happened within the last RCU grace period that write waits for one
// (rcu_sync): 10–16 ms on a CONFIG_HZ=250 machine, once for every create
// and exec, the largest part of a warm `runw run` (docs/PERFORMANCE.md).
// runw's processes enter without that lock:
//
//   - in a cgroup v2 tree (a unified host's, or a hybrid host's
//     /sys/fs/cgroup/unified) the process is born in its cgroup: clone3
//     with CLONE_INTO_CGROUP (Go's SysProcAttr.UseCgroupFD) puts the child
//     in the directory the parent holds open, atomically with its creation;
//   - in each cgroup v1 hierarchy the init's C constructor
//     (runtime/nsenter), still single-threaded, writes "0" to the cgroup's
//     tasks file: the kernel moves the calling thread alone, which needs no
//     threadgroup lock (kernels from about 5.17 skip it; an older one takes
//     it, correct but no faster), and that thread is the whole process; the
//     threads the Go runtime starts later are born in its cgroups.
//
// Either way no instant exists in which code runw did not write runs
// outside the container's limits: the constructor's writes are its first
// act, before any namespace is joined and before Go code runs. The cgroup is
// made and its limits set before the spawn. The parent opens the tasks
// files and hands the constructor their descriptors, so it never resolves
// a path, and the kernel (5.16 and later) checks the credentials they were
// opened with. The process is placed after the spawn instead, as runc
// does, without root (rootless: a cgroup that cannot be joined is
// skipped) and, on a host with v1 hierarchies, when it is born in a new
// user namespace (spawnInit); on a unified host both are still born in
// their cgroup.

// cgroupEntry says how a new process enters the container's cgroup.
type cgroupEntry struct {
	// Dir is the cgroup v2 directory the process is born in, or nil.
	Dir *os.File
	// Tasks are the tasks files of the v1 hierarchies, opened for
	// writing, which the constructor writes "0" to, in order.
	Tasks []*os.File
	// Pids is the directory of the pids controller (the v1 hierarchy's,
	// or the v2 directory), "" when there is none: read to tell whether
	// the limit refused the init a thread, without another manager.
	Pids string
}

// Close closes what the entry holds open; a nil entry is fine.
func (e *cgroupEntry) Close() {
	if e == nil {
		return
	}
	if e.Dir != nil {
		e.Dir.Close()
	}
	closeAll(e.Tasks)
}

// makeCgroup makes and sets the container's cgroup before its init exists
// and says how the init enters it. It returns nil (place after the spawn)
// when there is no cgroup.
func makeCgroup(p string, spec *specs.Spec) (*cgroupEntry, error) {
	if p == "" {
		return nil, nil
	}
	m, err := applyCgroup(p, spec, -1)
	if m == nil {
		return nil, err
	}
	return entryOf(m), nil
}

// cgroupEntryFor says how a process enters the existing cgroup p: the v2
// directory to be born in and the v1 tasks files, opened here. It returns
// nil (place after the spawn) when p is empty or something cannot be
// opened, and without root on a host with v1 hierarchies.
func cgroupEntryFor(p string) *cgroupEntry {
	if p == "" {
		return nil
	}
	m, err := placingManager(p, nil)
	if err != nil {
		return nil
	}
	return entryOf(m)
}

// entryOf is cgroupEntryFor for the cgroup m manages.
func entryOf(m cgroups.Manager) *cgroupEntry {
	paths := m.GetPaths()
	e := &cgroupEntry{Pids: paths["pids"]}
	if e.Pids == "" {
		e.Pids = paths[""]
	}
	var v1 []string
	seen := map[string]bool{}
	for name, dir := range paths {
		switch {
		case name == "":
			if e.Dir = openCgroupDir(dir); e.Dir == nil {
				e.Close()
				return nil
			}
		case name == "freezer":
		case !seen[dir]: // cpu and cpuacct share one directory when mounted together
			seen[dir] = true
			v1 = append(v1, dir)
		}
	}
	slices.Sort(v1)
	// The freezer last: in a frozen cgroup (exec --ignore-paused into a
	// paused container) the thread stops as soon as it enters, and it
	// must be in every other hierarchy by then.
	if dir, ok := paths["freezer"]; ok && !seen[dir] {
		v1 = append(v1, dir)
	}
	if len(v1) > 0 && rootless() {
		e.Close()
		return nil
	}
	// The groups the cgroup library makes when it can and skips when it
	// cannot; every other hierarchy must be there.
	optional := map[string]bool{paths["name=systemd"]: true, paths["misc"]: true}
	delete(optional, "")
	for _, dir := range v1 {
		f, err := os.OpenFile(filepath.Join(dir, "tasks"), os.O_WRONLY|unix.O_CLOEXEC, 0)
		switch {
		case errors.Is(err, os.ErrNotExist) && optional[dir]:
			logDebugf("cgroup %s: not there, not entered", dir)
		case err != nil:
			logDebugf("cgroup %s: %v; the process is placed after the spawn", dir, err)
			e.Close()
			return nil
		default:
			e.Tasks = append(e.Tasks, f)
		}
	}
	if e.Dir == nil && len(e.Tasks) == 0 {
		return nil
	}
	return e
}

// openCgroupDir opens a cgroup v2 directory for CLONE_INTO_CGROUP, or
// returns nil when it cannot (the process is then placed after the spawn).
func openCgroupDir(dir string) *os.File {
	// O_PATH would not do: clone3 takes only a descriptor opened for
	// reading.
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		logDebugf("cgroup %s: %v; the init is placed after the spawn", dir, err)
		return nil
	}
	return f
}

// startInCgroup starts cmd (through ns.start) and says whether it is in
// its cgroup without a placement after the spawn: born in e.Dir, its v1
// hierarchies left to its constructor. With e nil, or when clone3 refuses
// CLONE_INTO_CGROUP (a kernel before 5.7, a cgroup that takes no
// processes), it starts cmd's twin where the parent is, and the caller
// places it after. It returns the command that runs.
func startInCgroup(cmd *exec.Cmd, ns *spawnNS, e *cgroupEntry) (*exec.Cmd, bool, error) {
	if e == nil {
		return cmd, false, ns.start(cmd)
	}
	if e.Dir == nil {
		return cmd, true, ns.start(cmd)
	}
	attr := *cmd.SysProcAttr
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = int(e.Dir.Fd())
	err := ns.start(cmd)
	if err == nil {
		return cmd, true, nil
	}
	logDebugf("spawn into cgroup %s: %v; placing the init after the spawn", e.Dir.Name(), err)
	// An exec.Cmd starts once: the same inputs in a new one.
	twin := &exec.Cmd{Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, Dir: cmd.Dir,
		Stdin: cmd.Stdin, Stdout: cmd.Stdout, Stderr: cmd.Stderr, ExtraFiles: cmd.ExtraFiles, SysProcAttr: &attr}
	return twin, false, ns.start(twin)
}

// rootless says runw runs without the host's root: as a user, or as uid 0
// of a user namespace (rootless podman runs it so). There a cgroup that
// cannot be made or joined is skipped, as rootless runc does with
// cgroupfs, instead of failing every container on a host that delegates
// none (cgroup v1).
func rootless() bool { return os.Geteuid() != 0 || userns.RunningInUserNS() }

// newCgroupDirs lists the directories of cgroup p, the leaf and its
// parents, that no hierarchy has yet, deepest first: create's cgroup
// library makes a path's parents as mkdir -p does, and a create that
// fails removes the empty ones again (removeCgroupDirs), where only the
// leaf went (runc too leaves the parents): a refused cgroupsPath such as
// "/new/bad\nname" left /new in the cpuset hierarchy, a bad cpuset value
// every parent it made. A systemd path (slice:prefix:name, systemd) is
// not looked at; a cgroupfs path may hold a colon as any other byte.
func newCgroupDirs(p string, systemd bool) []string {
	if p == "" || systemd {
		return nil
	}
	// The hierarchies' roots, named without a look at each: create's
	// start is a hot path.
	roots := []string{"/sys/fs/cgroup"}
	if !cgroups.IsCgroup2UnifiedMode() {
		roots, _ = filepath.Glob("/sys/fs/cgroup/*")
	}
	var dirs []string
	for _, root := range roots {
		for d := filepath.Join(root, path.Clean("/"+p)); len(d) > len(root); d = filepath.Dir(d) {
			if _, err := os.Lstat(d); err == nil {
				break
			}
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// removeCgroupDirs removes, deepest first, those of dirs (newCgroupDirs)
// that are empty: a parent that another create filled meanwhile stays.
func removeCgroupDirs(dirs []string) {
	for _, d := range dirs {
		unix.Rmdir(d)
	}
}

// destroyCgroup removes the cgroup; it must be empty (the init is gone).
func destroyCgroup(p string) {
	if p == "" {
		return
	}
	if m, err := cgroupManager(p, nil); err == nil {
		if err := m.Destroy(); err != nil {
			logDebugf("remove cgroup %s: %v", p, err)
		}
	}
}

// convertResources maps the spec's resources to the cgroup library's.
// Of the named limits, what a wasm guest's process can be limited by is
// carried over, as runc carries it: memory (swappiness and the OOM
// killer's switch too), CPU (realtime included), pids and block I/O
// (weights, and throttles by device: the init does the guest's file I/O,
// and a throttle on the disk under its files slows the guest's reads as
// it would a native process's). Hugepages and RDMA limits do not apply to
// a process that maps no huge pages and has no RDMA device; the network
// classes (net_cls, net_prio) are not carried over either, though they
// would tag the sockets the init holds for the guest.
// linux.resources.unified is carried over whole, as runc does: cgroup v2
// files by name, which the library writes on v2 and refuses on v1.
func convertResources(spec *specs.Spec) *cgroups.Resources {
	res := &cgroups.Resources{}
	if spec.Linux == nil || spec.Linux.Resources == nil {
		return res
	}
	r := spec.Linux.Resources
	return resourcesFrom(r, res)
}

// resourcesFrom copies r into res (also used by `runw update`).
func resourcesFrom(r *specs.LinuxResources, res *cgroups.Resources) *cgroups.Resources {
	if m := r.Memory; m != nil {
		if m.Limit != nil {
			res.Memory = *m.Limit
		}
		if m.Reservation != nil {
			res.MemoryReservation = *m.Reservation
		}
		if m.Swap != nil {
			res.MemorySwap = *m.Swap
		}
		// nil leaves memory.swappiness as it is, as runc leaves it.
		res.MemorySwappiness = m.Swappiness
		if m.DisableOOMKiller != nil {
			res.OomKillDisable = *m.DisableOOMKiller
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil {
			res.CpuShares = *c.Shares
		}
		if c.Quota != nil {
			res.CpuQuota = *c.Quota
		}
		if c.Period != nil {
			res.CpuPeriod = *c.Period
		}
		if c.RealtimePeriod != nil {
			res.CpuRtPeriod = *c.RealtimePeriod
		}
		if c.RealtimeRuntime != nil {
			res.CpuRtRuntime = *c.RealtimeRuntime
		}
		// cpu.cfs_burst_us (v2: cpu.max.burst) and cpu.idle, as runc
		// sets them; nil leaves each as it is.
		res.CpuBurst = c.Burst
		res.CPUIdle = c.Idle
		res.CpusetCpus = c.Cpus
		res.CpusetMems = c.Mems
	}
	if b := r.BlockIO; b != nil {
		blockIO(b, res)
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		limit := *r.Pids.Limit
		if limit == 0 {
			limit = -1 // runtime-spec before 1.3 and crun: 0 is no limit
		}
		res.PidsLimit = &limit
	}
	// As runc: cgroup v2 files by name (podman --cgroup-conf, the
	// kubelet's memory.high/memory.min); refused on cgroup v1.
	if len(r.Unified) > 0 {
		res.Unified = r.Unified
	}
	return res
}

// blockIO copies the spec's block I/O weights and throttles into res, as
// runc's specconv does.
func blockIO(b *specs.LinuxBlockIO, res *cgroups.Resources) {
	if b.Weight != nil {
		res.BlkioWeight = *b.Weight
	}
	if b.LeafWeight != nil {
		res.BlkioLeafWeight = *b.LeafWeight
	}
	for _, d := range b.WeightDevice {
		var weight, leaf uint16
		if d.Weight != nil {
			weight = *d.Weight
		}
		if d.LeafWeight != nil {
			leaf = *d.LeafWeight
		}
		res.BlkioWeightDevice = append(res.BlkioWeightDevice, cgroups.NewWeightDevice(d.Major, d.Minor, weight, leaf))
	}
	throttles := func(from []specs.LinuxThrottleDevice) []*cgroups.ThrottleDevice {
		var to []*cgroups.ThrottleDevice
		for _, d := range from {
			to = append(to, cgroups.NewThrottleDevice(d.Major, d.Minor, d.Rate))
		}
		return to
	}
	res.BlkioThrottleReadBpsDevice = throttles(b.ThrottleReadBpsDevice)
	res.BlkioThrottleWriteBpsDevice = throttles(b.ThrottleWriteBpsDevice)
	res.BlkioThrottleReadIOPSDevice = throttles(b.ThrottleReadIOPSDevice)
	res.BlkioThrottleWriteIOPSDevice = throttles(b.ThrottleWriteIOPSDevice)
}

// killCgroup sends SIGKILL to every process in the container's cgroup,
// thawing it if frozen. Without a pid namespace of the container's own,
// the init's death does not take exec'd processes with it: this does, as
// runc's destroy does for such containers.
func killCgroup(p string) { signalCgroup(p, unix.SIGKILL, nil, 0) }

// signalCgroup sends sig to every process in the container's cgroup but
// those of skip (the init, which Kill signals itself), as runc's
// kill --all: the cgroup is frozen while it is listed and signalled, so
// that no process can exit and have its pid given to a process outside
// between the two (a signal by pid would reach that stranger). SIGKILL
// leaves the cgroup thawed, so that it takes effect; another signal
// leaves it as it was. With a grace, it then waits up to that long for
// the processes it signalled in a cgroup it thawed to exit (Kill's
// kill --all, before it signals the init).
func signalCgroup(p string, sig unix.Signal, skip []int, grace time.Duration) {
	if p == "" {
		return
	}
	pids, _ := cgroupPids(p)
	if len(pids) == 0 {
		return // nothing to signal, nothing to freeze (delete's usual case)
	}
	if sig == unix.SIGKILL {
		// cgroup v2 (Linux 5.14 on) kills the whole cgroup itself, frozen
		// or not, with no list to race: runc's way there. On a hybrid
		// host only while the v2 directory holds the pids hierarchy's
		// processes and no others: a process moved there after create is
		// no process of the container's (ps and runc's kill do not see
		// it), and cgroup.kill would end it too; one of the container's
		// moved out of it would live on, and delete would leave it
		// running in the v1 cgroups.
		if dir := unifiedDir(p); dir != "" && (!cgroups.IsCgroup2HybridMode() || holdsJust(dir, pids)) {
			if f, err := os.OpenFile(filepath.Join(dir, "cgroup.kill"), os.O_WRONLY, 0); err == nil {
				_, err = f.WriteString("1")
				f.Close()
				if err == nil {
					// On a hybrid host pause froze the v1 freezer,
					// which holds the killed tasks until it is thawed
					// (v2's own freezer lets a fatal signal through):
					// a paused container's SIGKILL left it paused, its
					// init in D, and podman kill timed out.
					if cgroups.IsCgroup2HybridMode() && frozen(p) {
						if m, err := cgroupManager(p, nil); err == nil {
							m.Freeze(cgroups.Thawed)
						}
					}
					return
				}
			}
		}
	}
	m, err := cgroupManager(p, nil)
	if err != nil {
		return
	}
	wasFrozen := frozen(p)
	if !wasFrozen {
		if err := m.Freeze(cgroups.Frozen); err != nil {
			logDebugf("freeze %s to signal it: %v", p, err)
		}
	}
	pids, _ = cgroupPids(p)
	if wasFrozen {
		grace = 0 // frozen, none can end
	}
	signalled := signalPids(pids, sig, skip, grace > 0)
	if !wasFrozen || sig == unix.SIGKILL {
		if err := m.Freeze(cgroups.Thawed); err != nil {
			// Out of descriptors with the pidfds held (a low
			// RLIMIT_NOFILE): give them up, and the wait with them,
			// rather than leave the container frozen.
			waitExited(signalled, 0)
			signalled = nil
			m.Freeze(cgroups.Thawed)
		}
	}
	waitExited(signalled, grace)
}

// holdsJust says whether the cgroup directory dir holds the processes
// of pids (a cgroup's listing, each once) and no others.
func holdsJust(dir string, pids []int) bool {
	in, err := cgroups.GetAllPids(dir)
	if err != nil || len(in) != len(pids) {
		return false
	}
	for _, pid := range in {
		if !slices.Contains(pids, pid) {
			return false
		}
	}
	return true
}

// signalPids sends sig to each of pids but those of skip, through a
// pidfd (a pid listed in a frozen cgroup is still its process's; outside
// one it may be reused between the list and the open, as under runc),
// and returns, when keep, the pidfds of those signalled, for waitExited.
func signalPids(pids []int, sig unix.Signal, skip []int, keep bool) []int {
	var signalled []int
	for _, pid := range pids {
		if slices.Contains(skip, pid) {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err == unix.EMFILE || err == unix.ENFILE {
			// Out of descriptors (a low RLIMIT_NOFILE, or the pidfds
			// kept so far): signalled by pid, not waited for.
			unix.Kill(pid, sig)
			continue
		}
		if err != nil {
			continue // gone
		}
		if unix.PidfdSendSignal(fd, sig, nil, 0) == nil && keep {
			signalled = append(signalled, fd)
			continue
		}
		unix.Close(fd)
	}
	return signalled
}

// waitExited waits until every process of pidfds has exited, or grace
// has passed, and closes them.
func waitExited(pidfds []int, grace time.Duration) {
	defer func() {
		for _, fd := range pidfds {
			unix.Close(fd)
		}
	}()
	fds := make([]unix.PollFd, len(pidfds))
	for i, fd := range pidfds {
		fds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	}
	for deadline := time.Now().Add(grace); len(fds) > 0; {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err != nil && err != unix.EINTR {
			return
		}
		if n > 0 {
			fds = slices.DeleteFunc(fds, func(f unix.PollFd) bool { return f.Revents != 0 })
		}
	}
}

// cgroupPids lists every process in the container's cgroup. It reads the
// pids controller, which holds every task.
func cgroupPids(p string) ([]int, error) {
	m, err := cgroupManager(p, nil)
	if err != nil {
		return nil, err
	}
	dir := m.Path("pids")
	if dir == "" {
		dir = m.Path("")
	}
	return cgroups.GetAllPids(dir)
}

// waitCgroupEmpty waits (up to 2 s) until no process is left in the
// cgroup, so that it can be removed.
func waitCgroupEmpty(p string) {
	if p == "" {
		return
	}
	for i := 0; i < 200; i++ {
		pids, err := cgroupPids(p)
		if err != nil || len(pids) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// joinCgroup places an exec'd process in the container's cgroup.
func joinCgroup(p string, pid int) error {
	if p == "" {
		return nil
	}
	m, err := placingManager(p, nil)
	if err != nil {
		return err
	}
	if err := m.Apply(pid); err != nil && !rootless() {
		return fmt.Errorf("join cgroup %q: %w", p, err)
	}
	return nil
}

// frozen reports whether the container's cgroup is frozen (paused). It
// reads the freezer file directly: every status check (state, start, kill,
// delete) asks, and building a manager would parse mountinfo each time.
func frozen(p string) bool {
	if p == "" {
		return false
	}
	if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", path.Clean("/"+p), "freezer.state")); err == nil {
		// FREEZING: a freeze under way or stuck, which is a pause too.
		st := strings.TrimSpace(string(b))
		return st == string(cgroups.Frozen) || st == "FREEZING"
	}
	if dir := unifiedDir(p); dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, "cgroup.freeze")); err == nil {
			return strings.TrimSpace(string(b)) == "1"
		}
	}
	return false
}

// currentMemoryLimit is the memory limit the container's cgroup holds
// now (memory.limit_in_bytes on v1, memory.max on v2): 0 when there is
// none; ok is false when it cannot be read (no cgroup, no memory
// controller). `runw update` (podman update, crictl update) changes it
// after create, and a process exec'd later must be capped by it, as a
// native one is.
func currentMemoryLimit(p string) (limit int64, ok bool) {
	if p == "" {
		return 0, false
	}
	m, err := cgroupManager(p, nil)
	if err != nil {
		return 0, false
	}
	dir := m.Path("memory")
	if dir == "" {
		return 0, false
	}
	b, err := os.ReadFile(filepath.Join(dir, "memory.limit_in_bytes"))
	if err != nil {
		b, err = os.ReadFile(filepath.Join(dir, "memory.max"))
	}
	if err != nil {
		return 0, false
	}
	v := strings.TrimSpace(string(b))
	if v == "max" {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	if n >= 1<<62 {
		// v1's "no limit": the page counter's maximum, in bytes.
		return 0, true
	}
	return n, true
}

// memoryRoom is what the memory limit of m's cgroup leaves its processes:
// the limit (or a lower one above it) less what they use, page cache not
// in use (inactive files, which the kernel reclaims first) not counted;
// 0 when there is no limit or it cannot tell.
func memoryRoom(m cgroups.Manager) uint64 {
	st, err := m.GetStats()
	if err != nil {
		return 0
	}
	limit, used := st.MemoryStats.Usage.Limit, st.MemoryStats.Usage.Usage
	if h := st.MemoryStats.Stats["hierarchical_memory_limit"]; h != 0 && h < limit {
		limit = h
	}
	if limit == 0 || limit >= 1<<62 {
		return 0 // cgroup v1 says "no limit" as 2^63, page-rounded
	}
	inactive, ok := st.MemoryStats.Stats["total_inactive_file"] // cgroup v1, the subtree's
	if !ok {
		inactive = st.MemoryStats.Stats["inactive_file"] // cgroup v2
	}
	used -= min(inactive, used)
	if used >= limit {
		return 1
	}
	return limit - used
}
