package wasi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi/preview1"

	"github.com/runw/runw/spec"
)

// Overlay is an overlay of the spec's that the runtime mounts on a
// private directory, granted at its destination (spec.MountOverlay):
// its filesystem options (lowerdir=, upperdir=, ...) and whether it is
// mounted read-only.
type Overlay struct {
	Data     string `json:"data,omitempty"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// Preopen is one part of the container's file view the guest may reach,
// and how: a directory (a preopened descriptor) or a single file.
type Preopen struct {
	// HostPath is the directory or file on the host the grant names.
	HostPath string `json:"host"`
	// GuestPath is where the guest sees it ("/" for the rootfs).
	GuestPath string `json:"guest"`
	// ReadOnly withholds every write right, for files and the directory.
	ReadOnly bool `json:"ro,omitempty"`
	// Shallow leaves out what is mounted below HostPath (a bind that is
	// not an rbind: spec.Mount.Shallow).
	Shallow bool `json:"shallow,omitempty"`
	// Tree, where set, is where the guest's view opens a shallow grant
	// instead of HostPath: a copy of its mount alone, made and handed
	// over by runw (an init in a user namespace cannot copy a mount of
	// runw's namespace without what is mounted below it).
	Tree string `json:"tree,omitempty"`
	// Within is set on a grant of a path inside another grant, a
	// read-only path: the host directory that holds it (the rootfs or a
	// bind mount's source), where a process of another container that
	// shares it may plant links. HostPath is then opened by
	// descriptor inside Within (runtime's handOver), never by its host
	// path.
	Within string `json:"within,omitempty"`
	// Remounted says the grant is read-only by linux.readonlyPaths alone,
	// which runc applies after every mount: runw still makes the mount
	// points of the grants below it (MakeMountPoints), as runc mounts
	// them before it remounts.
	Remounted bool `json:"remounted,omitempty"`
}

// Plan is everything the guest is granted, computed before any process is
// spawned so that a bad spec fails at create, never after the guest started.
type Plan struct {
	// made is what MakeMountPoints (the /dev links too), MakeCwd and
	// MadeDir's caller made in the grants, for UndoMade; never handed to
	// the init.
	made []madePath
	// Restricted says linux.maskedPaths or linux.readonlyPaths name
	// something outside /proc and /sys. runw's preview1 host enforces
	// them itself; a WASI 0.2 component gets them only from the kernel,
	// in the copy of the container's root a mount namespace allows.
	Restricted bool `json:"restricted,omitempty"`
	// Module is where the process reads the module file: its host path
	// (inside the rootfs or a bind mount source, resolved by
	// spec.ResolveGuest) or, once create or exec hands it over, a
	// /proc/self/fd/N link to the handle the lookup opened
	// (spec.Entrypoint.File).
	Module string `json:"module"`
	// ModuleName is the module as the guest names it, for messages.
	ModuleName string `json:"module_name,omitempty"`
	// Artifact is the compiled artifact of Module from runw's cache,
	// handed over as /proc/self/fd/N by a create or exec that found it
	// there, for an init that cannot reach the cache (in a user
	// namespace it is nobody on the host). Prepare maps it instead of
	// compiling; "" when there is none.
	Artifact string `json:"artifact,omitempty"`
	// NoCompile says Prepare must not compile the module in this
	// process when neither Artifact nor the cache serves it, and fail
	// with ErrNotCompiled instead: a container's init compiles, before
	// its sandbox and with the container's capabilities, only where a
	// confined compile child could not (runtime's compileInChild and
	// runw exec's compileForExec say when).
	NoCompile bool `json:"no_compile,omitempty"`
	// Pid1 says the guest stands where a native init would: set by the
	// init, which knows (preview1.Config.Pid1).
	Pid1 bool `json:"-"`
	// Kind says how to read Module: a binary module, WAT text or a
	// component.
	Kind spec.Kind `json:"kind"`
	// Argv is process.args exactly, argv[0] included.
	Argv []string `json:"argv"`
	// Env is process.env exactly, plus PWD from process.cwd when the spec
	// does not set PWD itself. Never the host's environment.
	Env []string `json:"env"`
	// Preopens lists the granted directories; the rootfs comes first.
	Preopens []Preopen `json:"preopens"`
	// Go says the module was built by Go's wasip1 port (spec.IsGo), and
	// the host meets two of that port's ways. Preopen names: every
	// preopen but "/" is named with a trailing slash ("/data/"). Go picks
	// the preopen a path is resolved from by plain string prefix
	// (syscall.preparePath), so /data.json beside a mount at /data was
	// looked up inside the mount (".json") and not found. With the slash,
	// /data.json and /data itself go to "/", whose view reaches into
	// every mount, and /data/x to the mount. Go programs never see
	// preopen names; other guests keep the names as they are (wasi-libc
	// matches whole components, and some guests look names up exactly).
	// SIGPIPE: a write to the guest's fd 1 or 2 that meets a closed pipe
	// ends the guest with 141 (128+SIGPIPE), as Go's runtime ends a
	// native program (os.epipecheck); its wasip1 port has no signal and
	// went on, so `runw run ... | head` with a Go guest printing in a
	// loop never ended. Other guests get EPIPE: Rust and Python, for
	// one, ignore SIGPIPE natively and handle the error.
	Go bool `json:"go,omitempty"`
	// Files lists the granted single files (file bind mounts and the
	// default devices), reachable by path through "/" and never
	// preopened themselves.
	Files []Preopen `json:"files,omitempty"`
	// PrivateDirs are host directories the runtime must create (0700)
	// before the guest runs: the backing of the spec's tmpfs mounts.
	PrivateDirs []string `json:"private_dirs,omitempty"`
	// Overlays maps a private directory to the overlay the runtime
	// mounts on it.
	Overlays map[string]Overlay `json:"overlays,omitempty"`
	// TmpfsData maps a private directory to the filesystem options
	// (size=, mode=, uid=, ...) of the spec's tmpfs behind it: where runw may
	// mount, it mounts a real tmpfs there with them, so a size limit
	// answers ENOSPC as it would in runc's container.
	TmpfsData map[string]string `json:"tmpfs_data,omitempty"`
	// MountPoints are the destinations of the kernel filesystems runw
	// does not mount outside /proc and /sys (devpts at /dev/pts, mqueue
	// at /dev/mqueue): MakeMountPoints makes each an empty directory, as
	// runc's mount makes it, so that the container's /dev holds them as
	// a native one does (podman top reads /dev/pts for its TTY column,
	// and without it showed none where runc's container shows "?").
	MountPoints []string `json:"mount_points,omitempty"`
	// CopyUp are the guest destinations of the tmpfs mounts with
	// tmpcopyup: the container's init fills each with a copy of what the
	// rootfs has there before the guest runs (runtime/copyup.go). Only
	// for the container's own process, never for runw exec.
	CopyUp []string `json:"copy_up,omitempty"`
	// Net is the network grant (network.go).
	Net preview1.Network `json:"net"`
	// Inherited are the descriptors runw's caller preserved for the
	// process (--preserve-fds), by their numbers in the init, in the
	// caller's order (preview1.Config.Inherited).
	Inherited []int `json:"inherited,omitempty"`
	// MemoryLimit caps the guest's linear memory in bytes (0: no cap),
	// and Reserve is the room the container's memory limit keeps beside
	// it for the init (0: no limit); SetMemoryLimit sets both.
	MemoryLimit int64 `json:"memory_limit,omitempty"`
	Reserve     int64 `json:"reserve,omitempty"`
	// RlimitMemory caps the guest's linear memory too: the lower of
	// process.rlimits' soft RLIMIT_AS and RLIMIT_DATA in bytes (0:
	// neither), RlimitName the one it is (rlimitMemory).
	RlimitMemory int64  `json:"rlimit_memory,omitempty"`
	RlimitName   string `json:"rlimit_name,omitempty"`
	// Tables is how many tables the module defines (0: not known, or
	// none): under a memory limit they share a quarter of the reserve.
	Tables int `json:"tables,omitempty"`
	// MemoryMin is the minimum in bytes of the module's own memory (0:
	// none, or not known): CheckMemoryMin refuses a cap below it.
	MemoryMin int64 `json:"memory_min,omitempty"`
	// ExecCwd is process.cwd of a `runw exec` process, which the init
	// checks is a directory in the guest's view before the guest runs (as
	// runc's chdir fails); "" for a container's own process, whose cwd
	// create makes.
	ExecCwd string `json:"exec_cwd,omitempty"`
	// User is process.user: the init takes these credentials before the
	// guest runs, so every file the guest opens is checked as that user.
	User User `json:"user"`
	// Skipped explains each mount that is not granted, for debug logs.
	Skipped []string `json:"-"`
}

// User is the uid, gid and additional gids the guest runs as, and the
// umask its files and directories are created under.
type User struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additional_gids,omitempty"`
	// Umask is process.user.umask; runc's 0022 when the spec has none.
	Umask uint32 `json:"umask"`
}

// defaultUmask is runc's umask for a process whose spec sets none.
const defaultUmask = 0o022

// PlanFor derives the guest's grants from the bundle, following the grant
// table in docs/ARCHITECTURE.md. privateBase is a directory owned by this
// container (under its state directory) that will hold the tmpfs backings;
// it is removed with the container.
func PlanFor(b *spec.Bundle, ep *spec.Entrypoint, privateBase string) (*Plan, error) {
	return plan(b, b, ep, privateBase, true)
}

// ExecPlanFor is PlanFor for a process exec'd into a running container:
// the container's init holds its listeners, so the plan has none, and
// what declares them (podman exec passes the container's RUNW_LISTEN
// along) is neither bound nor checked again. tree is the bundle the
// container's files are read in (HOME from its /etc/passwd): the
// container's root where it has one (runtime's lookupIn), as the
// module's lookup.
func ExecPlanFor(b, tree *spec.Bundle, ep *spec.Entrypoint, privateBase string) (*Plan, error) {
	return plan(b, tree, ep, privateBase, false)
}

func plan(b, tree *spec.Bundle, ep *spec.Entrypoint, privateBase string, bind bool) (*Plan, error) {
	proc := b.Spec.Process
	env, err := guestEnv(proc.Env, proc.Cwd, func() string { return homeOf(tree, proc.User.UID) })
	if err != nil {
		return nil, err
	}
	p := &Plan{
		Module:     ep.HostPath,
		ModuleName: ep.GuestPath,
		Kind:       ep.Kind,
		Go:         ep.Go,
		Tables:     ep.Tables,
		MemoryMin:  ep.MemoryMin,
		Argv:       append([]string(nil), proc.Args...),
		Env:        env,
		User:       User{UID: proc.User.UID, GID: proc.User.GID, AdditionalGids: proc.User.AdditionalGids, Umask: defaultUmask},
		Files:      defaultDevices(proc.Terminal),
	}
	if proc.User.Umask != nil {
		p.User.Umask = *proc.User.Umask & 0o777
	}
	p.RlimitMemory, p.RlimitName = rlimitMemory(proc)
	readonlyRoot := b.Spec.Root != nil && b.Spec.Root.Readonly
	p.Preopens = append(p.Preopens, Preopen{HostPath: b.Rootfs, GuestPath: "/", ReadOnly: readonlyRoot})

	mounts, err := b.Mounts()
	if err != nil {
		return nil, err
	}
	for i, m := range mounts {
		switch m.Kind {
		case spec.MountBind:
			p.Preopens = append(p.Preopens, Preopen{HostPath: m.Source, GuestPath: m.Destination, ReadOnly: m.ReadOnly, Shallow: m.Shallow})
		case spec.MountTmpfs:
			dir := filepath.Join(privateBase, fmt.Sprintf("tmpfs-%d", i))
			p.PrivateDirs = append(p.PrivateDirs, dir)
			if m.TmpfsData != "" {
				if p.TmpfsData == nil {
					p.TmpfsData = map[string]string{}
				}
				p.TmpfsData[dir] = m.TmpfsData
			}
			if m.CopyUp && bind {
				p.CopyUp = append(p.CopyUp, m.Destination)
			}
			p.Preopens = append(p.Preopens, Preopen{HostPath: dir, GuestPath: m.Destination, ReadOnly: m.ReadOnly})
		case spec.MountOverlay:
			dir := filepath.Join(privateBase, fmt.Sprintf("overlay-%d", i))
			p.PrivateDirs = append(p.PrivateDirs, dir)
			if p.Overlays == nil {
				p.Overlays = map[string]Overlay{}
			}
			p.Overlays[dir] = Overlay{Data: m.OverlayData, ReadOnly: m.ReadOnly}
			p.Preopens = append(p.Preopens, Preopen{HostPath: dir, GuestPath: m.Destination, ReadOnly: m.ReadOnly})
		case spec.MountBindFile:
			p.Files = append(p.Files, Preopen{HostPath: m.Source, GuestPath: m.Destination, ReadOnly: m.ReadOnly})
		case spec.MountHidden:
			p.Skipped = append(p.Skipped, fmt.Sprintf("%s: covered by a later mount", m.Destination))
		default:
			if m.MountPoint {
				p.MountPoints = append(p.MountPoints, m.Destination)
			}
			p.Skipped = append(p.Skipped, fmt.Sprintf("%s: host kernel views are never exposed", m.Destination))
		}
	}

	// linux.readonlyPaths, after every mount and before the masks, as
	// runc remounts them.
	p.readOnlyPaths(b)
	p.Restricted = len(b.ReadOnlyPaths()) > 0 || len(b.MaskedPaths()) > 0

	// linux.maskedPaths, after every mount, as runc masks them: a
	// directory becomes an empty read-only directory, a file reads as
	// /dev/null (spec.Bundle.MaskedPaths says where they are).
	for i, m := range b.MaskedPaths() {
		if m.Dir {
			dir := filepath.Join(privateBase, fmt.Sprintf("masked-%d", i))
			p.PrivateDirs = append(p.PrivateDirs, dir)
			if p.TmpfsData == nil {
				p.TmpfsData = map[string]string{}
			}
			p.TmpfsData[dir] = "mode=755,size=4k"
			p.Preopens = append(p.Preopens, Preopen{HostPath: dir, GuestPath: m.Path, ReadOnly: true})
		} else {
			p.Files = append(p.Files, Preopen{HostPath: "/dev/null", GuestPath: m.Path, ReadOnly: true})
		}
	}

	// The guest's environment, not process.env: a name set twice takes
	// its last value (containerd keeps an image's ENV RUNW_LISTEN=:8080
	// and a pod's env RUNW_LISTEN=:9090 both), and the listeners bound
	// must be the ones the guest reads RUNW_LISTEN for.
	// Judged once, at create (spec.Bundle.OwnNetwork), where it was set.
	var own bool
	if b.OwnNetwork != nil {
		own = *b.OwnNetwork
	} else {
		own = OwnNetwork(b.Spec)
	}
	if p.Net, err = networkFor(b.Spec, own, p.Env, bind); err != nil {
		return nil, err
	}
	if p.Kind.IsComponent() && len(p.Net.Listeners) > 0 {
		// Said, not dropped: a component given RUNW_LISTEN ran with
		// nothing bound and no word of it, as --preserve-fds is not.
		return nil, fmt.Errorf("%s or annotation %s declares listeners, but a WASI 0.2 component cannot be given them (it has no network: docs/networking.md); runw binds listeners for modules", EnvListen, AnnotationNetListeners)
	}
	p.SetMemoryLimit(specMemoryLimit(b.Spec))
	return p, nil
}

// ErrRestrictWithoutMountNamespace is runc's refusal of masked or
// read-only paths without a mount namespace of the container's own. runw
// gives it for a WASI 0.2 component only (CheckRestrictable): its "/"
// preopen reached a masked file by another spelling of its path
// ("/./secret") and wrote a read-only one, which the kernel's masks in a
// mount namespace would have hidden or refused.
var ErrRestrictWithoutMountNamespace = errors.New("unable to restrict sys entries without a private MNT namespace")

// CheckRestrictable refuses a component whose masked or read-only paths
// cannot be held, when it has no copy of the container's root (rootCopy).
func (p *Plan) CheckRestrictable(rootCopy bool) error {
	if p.Kind.IsComponent() && p.Restricted && !rootCopy {
		return ErrRestrictWithoutMountNamespace
	}
	return nil
}

// readOnlyPaths makes the grants at linux.readonlyPaths read-only, as
// runc's read-only bind of each over itself does: a grant there (a volume
// mounted exactly at the path, the rootfs for "/") turns read-only; a
// path inside a grant becomes a read-only grant of its own, of the same
// directory or file, which the grants below it still cover where they
// are mounted (runc's remount leaves the mounts below it as they are).
//
// The hole it closes: a read-only path outside /proc was ignored, and
// the guest wrote what the spec said it could only read.
func (p *Plan) readOnlyPaths(b *spec.Bundle) {
	masks := b.MaskedPaths()
	for _, r := range b.ReadOnlyPaths() {
		if spec.UnderMask(r.Path, masks) {
			// A mask covers it after (a grant of its own below a masked
			// directory would show what the mask hides).
			continue
		}
		grants := &p.Files
		if r.Dir {
			grants = &p.Preopens
		}
		if i := lastAt(*grants, r.Path); i >= 0 {
			// A device node stays writable on a read-only mount.
			if g := &(*grants)[i]; !IsDefaultDevice(*g) && !g.ReadOnly {
				g.ReadOnly, g.Remounted = true, true
			}
			continue
		}
		root, rel, ok := b.HolderOf(r.Path)
		if !ok {
			// Inside a tmpfs or an overlay, empty at create (runc finds
			// nothing there either, but for a tmpcopyup's copy).
			p.Skipped = append(p.Skipped, fmt.Sprintf("%s: read-only path inside a tmpfs or overlay, not made read-only", r.Path))
			continue
		}
		// Writable for mount points where the mount that holds it is.
		// Shallow as its holder: a bind that is not an rbind shows
		// nothing mounted below it on the host, and neither may this
		// grant.
		holder, _, _ := p.holder(r.Path)
		*grants = append(*grants, Preopen{HostPath: filepath.Join(root, rel), GuestPath: r.Path, ReadOnly: true, Within: root,
			Remounted: !holder.ReadOnly || holder.Remounted || holder.GuestPath == "/",
			Shallow:   holder.Shallow})
	}
}

// lastAt is the index of the last grant at guest path guest (the one the
// guest sees there), or -1.
func lastAt(grants []Preopen, guest string) int {
	for i := len(grants) - 1; i >= 0; i-- {
		if path.Clean(grants[i].GuestPath) == guest {
			return i
		}
	}
	return -1
}

// specMemoryLimit is the container's memory limit in the spec (0: none):
// linux.resources.memory.limit, or the cgroup v2 memory.max given by
// name in linux.resources.unified (podman --cgroup-conf, the kubelet),
// whichever is lower, as the kernel enforces the lower.
func specMemoryLimit(s *specs.Spec) int64 {
	if s.Linux == nil || s.Linux.Resources == nil {
		return 0
	}
	r := s.Linux.Resources
	var named int64
	if r.Memory != nil && r.Memory.Limit != nil {
		named = *r.Memory.Limit
	}
	return spec.UnifiedLimit(named, r, "memory.max")
}

// SetMemoryLimit caps linear memory below the container's memory limit
// (0: no limit, no cap) and records the init's reserve beside it. create
// gives it the spec's limit, exec the limit the cgroup holds now (after
// a `runw update`).
func (p *Plan) SetMemoryLimit(limit int64) {
	p.MemoryLimit, p.Reserve = 0, 0
	if limit > 0 {
		p.MemoryLimit = linearMemoryCap(limit)
		p.Reserve = limit - p.MemoryLimit
	}
}

// rlimitMemory is the cap process.rlimits put on the guest's linear
// memory, and the limit's name: the lower of the soft RLIMIT_AS and
// RLIMIT_DATA (0, "": neither, or both unlimited). Linear memory is what
// a native process's brk and mmap would grow, which those limits bound;
// the engine refuses memory.grow past the cap (-1: a C guest's malloc
// returns NULL, a Go guest says "out of memory") as the kernel refuses a
// native process's growth. The init itself is not held to them
// (runtime's applyLimits says why). A soft limit of 0 allows no page.
func rlimitMemory(proc *specs.Process) (int64, string) {
	var limit int64
	var name string
	for _, typ := range []string{"RLIMIT_AS", "RLIMIT_DATA"} {
		soft, ok := spec.SoftRlimit(proc, typ)
		if !ok || soft > math.MaxInt64 { // RLIM_INFINITY
			continue
		}
		if n := max(int64(soft), 1); limit == 0 || n < limit {
			limit, name = n, typ
		}
	}
	return limit, name
}

// linearCap is the cap on the guest's linear memory in bytes (0: none):
// the lower of the memory limit's and process.rlimits'.
func (p *Plan) linearCap() int64 {
	switch {
	case p.RlimitMemory > 0 && (p.MemoryLimit <= 0 || p.RlimitMemory < p.MemoryLimit):
		return p.RlimitMemory
	case p.MemoryLimit > 0:
		return p.MemoryLimit
	}
	return 0
}

// Linear memory is capped below the container's memory limit by a
// reserve between initReserveMin and initReserveMax (linearMemoryCap), so
// that a guest allocating past the limit sees memory.grow fail (a Go guest
// prints "out of memory" and exits 2) before the cgroup's OOM killer ends
// the whole container with 137: the init's own memory (the Go runtime,
// wasmtime's structures, the WASI host) is charged to the same cgroup.
// Measured with a warm cache: about 4 MiB besides the guest's linear
// memory (memory.usage_in_bytes of a 64 MiB container whose guest holds
// 8 MiB: 12 MiB).
const (
	initReserveMin = 8 << 20
	initReserveMax = 32 << 20
)

// linearMemoryCap is the cap on linear memory under a memory limit: the
// limit less 1/16 of it, at least initReserveMin and at most
// initReserveMax, and never less than half the limit.
func linearMemoryCap(limit int64) int64 {
	reserve := min(max(limit/16, initReserveMin), initReserveMax)
	return max(limit-reserve, limit/2)
}

// maxTableElements caps every table, as V8 does (10,000,000 elements):
// without a cap, table.grow is bounded only by the host's memory (a
// funcref element is a pointer of the host's), far past what the guest's
// memory limit allows. Under a memory limit a table lives in the init's
// reserve beside linear memory, not in the linear memory cap: an element
// is 8 bytes of it.
const maxTableElements = 10_000_000

// moduleName is the module as messages name it: the guest's path, or
// where it is read when the plan has none.
func (p *Plan) moduleName() string {
	if p.ModuleName != "" {
		return p.ModuleName
	}
	return p.Module
}

// Under a memory limit, tables and one poll_oneoff's host lists live in
// the init's reserve beside linear memory, not under the linear memory
// cap, and each takes at most a quarter of it; a module may then have at
// most maxTablesUnderLimit tables and one memory, since wasmtime's limiter
// caps each table and each memory, not their sum. The attacks, each with
// every object under its own cap, that had the OOM killer end the
// container (137) where the guest should have had an error: a table grown
// by 3 million elements (24 MB) beside 31 MB of memory under a 48 MiB
// limit; 40 tables of 260,000 elements; a second memory grown to the cap;
// poll_oneoff of 800,000 subscriptions in memory never touched.
const maxTablesUnderLimit = 8

// tableElements is the cap on each of the guest's tables: under a memory
// limit, a quarter of the reserve shared by the tables the module defines,
// or by maxTablesUnderLimit when that is not known (a component). One
// table may have 262,144 elements at the smallest reserve; shared by 8,
// 32,768 (yosys, a 29 MB C++ module, has 10,266, Go's time tests 9,198,
// StarlingMonkey 7,688; clang's LLVM 37,270, refused under a limit below
// about 146 MiB while every module's tables were counted as 8).
func (p *Plan) tableElements() int64 {
	if p.Reserve > 0 {
		tables := int64(maxTablesUnderLimit)
		if p.Tables > 0 && p.Tables < maxTablesUnderLimit {
			tables = int64(p.Tables)
		}
		return min(maxTableElements, p.Reserve/4/tables/8)
	}
	return maxTableElements
}

// maxTables bounds how many tables a module may have under a memory
// limit (-1: wasmtime's own bound).
func (p *Plan) maxTables() int64 {
	if p.Reserve > 0 {
		return maxTablesUnderLimit
	}
	return -1
}

// maxMemories bounds how many memories a module may have under a memory
// limit: one, the linear memory the cap is for (-1: wasmtime's own bound).
func (p *Plan) maxMemories() int64 {
	if p.Reserve > 0 {
		return 1
	}
	return -1
}

// maxSubscriptions bounds one poll_oneoff call under a memory limit (0:
// the host's own bound): a quarter of the reserve (18,724 subscriptions
// at the smallest, 74,898 at the largest), so that a guest polling a
// million subscriptions in memory it never touched gets EINVAL.
func (p *Plan) maxSubscriptions() int {
	return int(p.Reserve / 4 / preview1.SubscriptionCost)
}

// guestEnv is the guest's environment: each entry must be NAME=value
// (runc's error otherwise); a name given twice keeps its first place and
// its last value, as runc's init leaves it (podman exec appends -e values
// after the container's own, which must win); PWD=cwd is added when
// process.cwd is not "/" and the spec does not set PWD itself: Go guests
// start in $PWD, and nothing else carries process.cwd into WASI p1.
// Nothing else is added: runc adds HOME when the spec has none, but a
// WASI program sees its environment as the spec wrote it (the WASI test
// suite counts the variables it was given). An empty HOME (podman exec
// passes "HOME=" when it found none) is what runc replaces too, with the
// user's home: home() gives it.
func guestEnv(env []string, cwd string, home func() string) ([]string, error) {
	out := make([]string, 0, len(env)+1)
	at := make(map[string]int, len(env))
	for _, kv := range env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.IndexByte(kv, 0) >= 0 {
			return nil, fmt.Errorf("invalid environment variable: %q", kv)
		}
		if i, seen := at[name]; seen {
			out[i] = kv
			continue
		}
		at[name] = len(out)
		out = append(out, kv)
	}
	if _, ok := at["PWD"]; !ok && cwd != "" && path.Clean(cwd) != "/" {
		out = append(out, "PWD="+cwd)
	}
	if i, ok := at["HOME"]; ok && out[i] == "HOME=" {
		out[i] = "HOME=" + home()
	}
	return out, nil
}

// homeOf is uid's home directory in the container's /etc/passwd (the
// image's, or the one the engine mounts), or "/" as runc's default. The
// file is opened by descriptor inside the guest's view (OpenGuest), so
// that a link the guest planted (runw exec runs while it lives) can never
// make runw read a host file.
func homeOf(b *spec.Bundle, uid uint32) string {
	h, err := b.OpenGuest("/etc/passwd")
	if err != nil {
		return "/"
	}
	defer h.Close()
	f, err := spec.ReopenRegular(h)
	if err != nil {
		return "/"
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		// name:password:uid:gid:gecos:home:shell
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 6 && fields[2] == strconv.FormatUint(uint64(uid), 10) && fields[5] != "" {
			return fields[5]
		}
	}
	return "/"
}

// defaultDeviceNodes are the devices runtime-spec requires in every
// container.
var defaultDeviceNodes = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}

// defaultDevices are the devices runtime-spec requires in every container,
// granted as the host's own nodes (their behaviour is the kernel's: /dev/full
// answers ENOSPC, /dev/urandom never blocks). /dev/tty is the container's
// terminal when it has one, and ENXIO when not.
func defaultDevices(terminal bool) []Preopen {
	var out []Preopen
	for _, d := range defaultDeviceNodes {
		out = append(out, Preopen{HostPath: d, GuestPath: d})
	}
	// /dev/tty is in every container, as runtime-spec requires, terminal
	// or not. Without a terminal the init is a session leader with no
	// controlling terminal, so the guest's open of it answers ENXIO, as
	// a native process's does under runc. Left out, it was a name any
	// guest could create: in a writable /dev (podman's tmpfs) an
	// open("/dev/tty", "a") made a regular file and took the prompts
	// meant for a terminal. The node means the opener's controlling
	// terminal, so this is safe only because every init is spawned in a
	// session of its own (spawnInit's Setsid, for create and exec alike):
	// a guest never reaches the terminal of whoever ran runw. A host
	// without the node (runw itself in a container without one) grants
	// it only with a terminal, as before.
	if terminal || hostHasTTY() {
		out = append(out, Preopen{HostPath: "/dev/tty", GuestPath: "/dev/tty"})
	}
	return out
}

// hostHasTTY says the host has /dev/tty as a character device.
func hostHasTTY() bool {
	fi, err := os.Stat("/dev/tty")
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// IsDefaultDevice says g is one of defaultDevices: a host node runw
// chose, not a path of the bundle's.
func IsDefaultDevice(g Preopen) bool {
	return g.HostPath == g.GuestPath && (slices.Contains(defaultDeviceNodes, g.HostPath) || g.HostPath == "/dev/tty")
}

// IsMaskedFile says g is a masked file (linux.maskedPaths): runw grants the
// host's /dev/null there, never a path of the bundle's (a bind of a host
// device is refused).
func IsMaskedFile(g Preopen) bool {
	return g.HostPath == "/dev/null" && g.GuestPath != "/dev/null"
}

// GuestPathOf is where the guest sees the directory grant whose host path
// is host ("" if none).
func (p *Plan) GuestPathOf(host string) string {
	for _, g := range p.Preopens {
		if g.HostPath == host {
			return g.GuestPath
		}
	}
	return ""
}

// MakeMountPoints creates, as runc does, the mount points the spec's
// grants need and the rootfs (or the grant they lie in) lacks: the
// directory of a directory grant, an empty file for a file grant, so that
// they are listed by readdir and reachable through directories that would
// otherwise not exist. It runs at create, as root, before any guest code
// of this container, but a grant may be shared with a running one (a
// volume) whose guest can change it at any moment. Every component is
// therefore created and walked by descriptor, inside the grant that holds
// it (securejoin's MkdirAllHandle, then openat with O_NOFOLLOW for a
// file), and what is found there is looked at through a descriptor
// opened inside that grant too (links followed inside it, never on the
// host): a symlink in an image, or one a guest swaps in between a check
// and a use, never makes runw create or look at anything outside the
// grant. As under runc, a read-only root (root.readonly) still gets its
// mount points (runc makes them before it remounts the root read-only):
// without them a scratch image with no /dev has no /dev/null; so does a
// grant read-only by linux.readonlyPaths alone (Remounted), and a tmpfs
// or overlay of runw's own. A read-only bind mount is never written.
//
// Where runc's mount would fail, create fails, in runc's words: a mount
// point that is a file where a directory is mounted or the reverse
// (mount(2)'s "not a directory"), one that cannot be made (a file on the
// way, or a read-only bind mount that lacks it: "read-only file
// system"). The mistake this stops: such a grant was the guest's all the
// same, by descriptor, but missing from the container's tree that the
// init pivots into and that engines read (podman exec, cp, top, health
// checks), so every `runw exec` then failed. The default devices, runw's
// own grants, are made where they can be and never fail create: the
// guest has them by descriptor, and an exec opens them by host path.
func (p *Plan) MakeMountPoints(b *spec.Bundle) error {
	for i, g := range p.grants() {
		if err := p.makeIn(g.GuestPath, i < len(p.Preopens)); err != nil && !IsDefaultDevice(g) {
			return mountPointError(b, g.GuestPath, err)
		}
	}
	for _, d := range p.MountPoints {
		// /sys is made where it can be, as runc makes it for sysfs (podman
		// build commits it into the image's layer), but never fails
		// create: nothing of the host's is mounted there, and a rootfs on
		// a read-only filesystem without one ran before it was made.
		if err := p.makeIn(d, true); err != nil && d != "/sys" {
			return mountPointError(b, d, err)
		}
	}
	p.linkStreams()
	return nil
}

// streamNames are the standard streams' names in /dev, in fd order: runc
// links each to /proc/self/fd/N (its setupDevSymlinks).
var streamNames = [...]string{"stdin", "stdout", "stderr"}

// linkStreams makes /dev/stdin, /dev/stdout and /dev/stderr the links
// runc makes, where the container's /dev lacks the name and the spec
// grants nothing there. The guest's view serves those names as its own
// streams whatever is on disk (preview1's addStreams), but a guest
// listing /dev (ls, a glob, a tree walker) did not find them. As runc
// does, this writes only into runw's own /dev tmpfs or the rootfs's /dev,
// never into a /dev the spec binds from elsewhere, and it never fails
// create (a read-only or missing /dev just goes without). The parent is
// opened by descriptor inside its grant and the link made in it by name,
// so a link swapped in on the way leads nowhere outside the grant; what
// exists already is left as it is.
//
// The three share /dev, and so the grant that holds them: it is found and
// /dev opened once.
func (p *Plan) linkStreams() {
	d, rel, ok := p.holder("/dev/stdin")
	if !ok || d.Within != "" || (d.GuestPath != "/" && !slices.Contains(p.PrivateDirs, d.HostPath)) {
		return
	}
	root, err := os.OpenFile(d.HostPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer root.Close()
	dev, err := pathrs.OpenatInRoot(root, path.Dir(rel))
	if err != nil {
		return
	}
	defer dev.Close()
	grants := p.grants()
	for i, name := range streamNames {
		if !slices.ContainsFunc(grants, func(g Preopen) bool { return g.GuestPath == "/dev/"+name }) &&
			unix.Symlinkat(fmt.Sprintf("/proc/self/fd/%d", i), int(dev.Fd()), name) == nil {
			p.made = append(p.made, madePath{root: d.HostPath, rel: path.Join(path.Dir(rel), name)})
		}
	}
}

// mountPointError is err, met at the mount point guest, as runc reports
// the mount that failed: the last spec mount with that destination (as
// resolved at create), by its source and its destination as written. A
// grant of runw's own there (a read-only or masked path) is named by its
// guest path.
func mountPointError(b *spec.Bundle, guest string, err error) error {
	dests := b.MountDestinations()
	for i := len(b.Spec.Mounts) - 1; i >= 0 && i < len(dests); i-- {
		if dests[i] == guest {
			m := b.Spec.Mounts[i]
			return fmt.Errorf("error mounting %q to rootfs at %q: %w", m.Source, m.Destination, err)
		}
	}
	return fmt.Errorf("error mounting at %q: %w", guest, err)
}

// MakeCwd creates process.cwd where it is missing, as runc 1.1 does, in
// the grant that holds it and by the same rules as a mount point. Where
// cwd, or a directory on its way, is something other than a directory it
// fails as runc's MkdirAll does ("mkdir /afile: not a directory"): the
// guest would otherwise start in a directory that is not there.
//
// runc makes it inside the container, after its pivot, so a link on the
// way means what it means to the guest: an absolute link in a volume
// names a path of the container's root, not of the volume. A cwd the
// guest's view already resolves to a directory is therefore left alone
// (resolved from the volume's own root, it was refused as "not a
// directory").
func (p *Plan) MakeCwd(cwd string) error {
	cwd = path.Clean(cwd)
	if cwd == "/" || p.plainDirIn(cwd) {
		return nil
	}
	// Only where a link, or something not a directory, lies on the way:
	// a view opens (and copies) every grant, which create otherwise does
	// not pay for an image's WORKDIR.
	if v, err := preview1.NewView(p.view()); err == nil {
		isDir := v.CheckDir(cwd) == nil
		v.Close()
		if isDir {
			return nil
		}
	}
	if err := p.makeIn(cwd, true); errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("mkdir %s: %w", cwd, unix.ENOTDIR)
	}
	return nil
}

// plainDirIn says guestPath is a directory in the innermost directory
// grant that holds it, reached without a link: the view resolves it so
// too, and makeIn would leave it as it is.
func (p *Plan) plainDirIn(guestPath string) bool {
	d, rel, ok := p.holder(guestPath)
	if !ok || d.Within != "" {
		return false
	}
	root, err := unix.Open(d.HostPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// makeIn creates guestPath (a directory, or an empty file) in the
// innermost directory grant that holds it, unless that grant is a
// read-only bind mount, and checks that what is there is of that type
// (makeMountPoint).
func (p *Plan) makeIn(guestPath string, dir bool) error {
	d, rel, ok := p.holder(guestPath)
	if !ok {
		return nil
	}
	// A read-only bind mount is never written, not even by runw. runw's
	// own tmpfs and overlay directories are written whatever the spec
	// says (runc makes the mount points in a read-only tmpfs before it
	// remounts it read-only).
	readOnly := d.ReadOnly && !d.Remounted && d.GuestPath != "/" && !slices.Contains(p.PrivateDirs, d.HostPath)
	if d.Within != "" {
		// A grant inside another (a read-only path): walked from the
		// directory that holds it, as every grant is walked from its
		// own root, so that a link swapped in on the way to it leads
		// nowhere outside that directory.
		within, err := filepath.Rel(d.Within, d.HostPath)
		if err != nil || !filepath.IsLocal(within) {
			return nil
		}
		return makeMountPoint(d.Within, path.Join(within, rel), guestPath, dir, readOnly, &p.made)
	}
	return makeMountPoint(d.HostPath, rel, guestPath, dir, readOnly, &p.made)
}

// MadeDir records a directory runw made at rel below root for the
// container (the pivot's /proc), for UndoMade.
func (p *Plan) MadeDir(root, rel string) {
	p.made = append(p.made, madePath{root: root, rel: rel, dir: true})
}

// madePath is a directory or file runw made below root (a grant's host
// directory) for a mount point or a cwd: rel, relative to it.
type madePath struct {
	root, rel string
	dir       bool
}

// UndoMade removes what MakeMountPoints, MakeCwd and MadeDir recorded,
// the deepest first, for a create that fails after them: a failed create leaves the
// image as it found it (runc, failing before its mounts, makes none). A
// directory something else was put in since stays. Each name is removed
// from its parent opened by descriptor inside the grant, so a link
// swapped in meanwhile leads nowhere outside it, and unlinkat removes a
// name, never what a link names.
func (p *Plan) UndoMade() {
	for i := len(p.made) - 1; i >= 0; i-- {
		m := p.made[i]
		rootDir, err := os.OpenFile(m.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		parent := rootDir
		if dir := path.Dir(m.rel); dir != "." {
			parent, err = pathrs.OpenatInRoot(rootDir, dir)
		}
		if err == nil {
			flags := 0
			if m.dir {
				flags = unix.AT_REMOVEDIR
			}
			_ = unix.Unlinkat(int(parent.Fd()), path.Base(m.rel), flags)
			if parent != rootDir {
				parent.Close()
			}
		}
		rootDir.Close()
	}
	p.made = nil
}

// missingFrom is the components of rel below rootDir that do not exist
// yet, shallowest first, each as a path relative to rootDir.
func missingFrom(rootDir *os.File, rel string) []string {
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := path.Join(parts[:i+1]...)
		f, err := pathrs.OpenatInRoot(rootDir, prefix)
		if err == nil {
			f.Close()
			continue
		}
		var missing []string
		for j := i; j < len(parts); j++ {
			missing = append(missing, path.Join(parts[:j+1]...))
		}
		return missing
	}
	return nil
}

// holder is the innermost directory grant below which guestPath lies,
// and guestPath relative to it.
func (p *Plan) holder(guestPath string) (Preopen, string, bool) {
	if guestPath == "/" {
		return Preopen{}, "", false
	}
	holder := -1
	for j, d := range p.Preopens {
		if d.GuestPath != guestPath && spec.Within(guestPath, d.GuestPath) &&
			(holder < 0 || len(d.GuestPath) > len(p.Preopens[holder].GuestPath)) {
			holder = j
		}
	}
	if holder < 0 {
		return Preopen{}, "", false
	}
	d := p.Preopens[holder]
	return d, strings.TrimPrefix(strings.TrimPrefix(guestPath, d.GuestPath), "/"), true
}

// makeMountPoint creates rel under root (a directory, or an empty
// file), unless readOnly, and checks that what is then there is of that
// type, opened by descriptor inside root (links followed inside it). What
// exists already is left as it is. Its error names guest, the mount
// point as the guest sees it: the making ("mkdir /d/new: read-only file
// system", "mkdir /afile/sub: not a directory"), or mount(2)'s ENOTDIR
// for a mount point of the other type, as runc reports them; the caller
// decides what a failure means.
func makeMountPoint(root, rel, guest string, dir, readOnly bool, made *[]madePath) error {
	rootDir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer rootDir.Close()
	op := "mkdir"
	if !dir {
		op = "open"
	}
	f, err := pathrs.OpenatInRoot(rootDir, rel)
	if errors.Is(err, fs.ErrNotExist) {
		missing := missingFrom(rootDir, rel)
		if failed, err := makeMissing(rootDir, rel, dir, readOnly); err != nil {
			return &os.PathError{Op: failed, Path: guest, Err: spec.ErrnoOf(err)}
		}
		for i, m := range missing {
			*made = append(*made, madePath{root: root, rel: m, dir: dir || i < len(missing)-1})
		}
		f, err = pathrs.OpenatInRoot(rootDir, rel)
	}
	if err == nil {
		defer f.Close()
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil && fi.IsDir() != dir {
			// What the kernel's mount answers for a directory over a
			// file and for a file over a directory alike.
			return unix.ENOTDIR
		}
	}
	if err != nil {
		// A file on the way ("mkdir /afile/sub: not a directory"), a
		// link loop.
		return &os.PathError{Op: op, Path: guest, Err: spec.ErrnoOf(err)}
	}
	return nil
}

// makeMissing makes rel, missing, below rootDir: a directory, or an empty
// file. In a read-only bind mount it makes nothing: EROFS, as runc's
// mkdir or open meets it there. It says which of the two failed.
func makeMissing(rootDir *os.File, rel string, dir, readOnly bool) (string, error) {
	if dir {
		if readOnly {
			return "mkdir", unix.EROFS
		}
		f, err := pathrs.MkdirAllHandle(rootDir, rel, 0o755)
		if err != nil {
			return "mkdir", err
		}
		return "", f.Close()
	}
	var parent *os.File
	var err error
	if readOnly {
		if parent, err = pathrs.OpenatInRoot(rootDir, path.Dir(rel)); errors.Is(err, fs.ErrNotExist) {
			err = unix.EROFS
		}
	} else {
		parent, err = pathrs.MkdirAllHandle(rootDir, path.Dir(rel), 0o755)
	}
	if err != nil {
		return "mkdir", err
	}
	defer parent.Close()
	if readOnly {
		return "open", unix.EROFS
	}
	// 0755, as runc makes a file mount point: podman build commits it
	// into the image's layer.
	fd, err := unix.Openat(int(parent.Fd()), path.Base(rel), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o755)
	if err == nil {
		unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return "open", err
	}
	return "", nil
}

// grants lists the directory grants, then the single files.
func (p *Plan) grants() []Preopen {
	return append(append(make([]Preopen, 0, len(p.Preopens)+len(p.Files)), p.Preopens...), p.Files...)
}

// mount is the grant as the WASI host's mount: opened at Tree where set.
func (g Preopen) mount() preview1.Mount {
	host := g.HostPath
	if g.Tree != "" {
		host = g.Tree
	}
	return preview1.Mount{Guest: g.GuestPath, Host: host, ReadOnly: g.ReadOnly, Shallow: g.Shallow}
}

// view is the plan's file grants as the WASI host's mount table: the
// directories (rootfs first), then the single files.
func (p *Plan) view() []preview1.Mount {
	var out []preview1.Mount
	for _, g := range p.grants() {
		out = append(out, g.mount())
	}
	return out
}

// preopenNames are the directories handed to the guest as descriptors
// 3, 4, ...: "/" first, then each directory mount.
func (p *Plan) preopenNames() []string {
	var out []string
	for _, g := range p.Preopens {
		out = append(out, g.GuestPath)
	}
	return out
}
