package runtime

import (
	"fmt"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
	"github.com/runw/runw/wasi/preview1"
)

// The Landlock rights runw grants, by kind of grant. A right the running
// kernel does not know is dropped by go-landlock's best effort mode; a
// right it knows and no rule grants is denied everywhere.
const (
	// landlockReadDir is a read-only directory grant: read its files and
	// list its directories, nothing else.
	landlockReadDir = ll.AccessFSReadFile | ll.AccessFSReadDir
	// landlockWriteDir is a read-write directory grant: everything the
	// WASI host may do in it (write, truncate, make and remove files,
	// directories, fifos, sockets, devices and symlinks, rename and link
	// inside it, ioctl on its devices). Left out: execute and connecting
	// to a Unix socket by path (resolve_unix). A wasm guest can do
	// neither through WASI preview1, so withholding them costs nothing
	// and stops a guest that escaped wasmtime from running a native
	// binary it dropped into a grant, or from talking to a daemon's
	// socket (docker.sock, containerd.sock) that a grant happens to hold.
	landlockWriteDir = ll.AccessFSWriteFile | ll.AccessFSReadFile | ll.AccessFSReadDir |
		ll.AccessFSRemoveDir | ll.AccessFSRemoveFile |
		ll.AccessFSMakeChar | ll.AccessFSMakeDir | ll.AccessFSMakeReg | ll.AccessFSMakeSock |
		ll.AccessFSMakeFifo | ll.AccessFSMakeBlock | ll.AccessFSMakeSym |
		ll.AccessFSRefer | ll.AccessFSTruncate | ll.AccessFSIoctlDev
	// landlockReadFile is a read-only single-file grant. The kernel
	// refuses directory rights on a file rule.
	landlockReadFile = ll.AccessFSReadFile
	// landlockWriteFile is a read-write single-file grant (a file bind
	// mount, the default devices, /dev/tty): read, write, truncate, and
	// ioctl when it is a device.
	landlockWriteFile = ll.AccessFSReadFile | ll.AccessFSWriteFile | ll.AccessFSTruncate | ll.AccessFSIoctlDev
)

// landlockMinABI is the oldest Landlock ABI runw uses. ABI 1 (Linux 5.13
// to 5.18) cannot grant "refer": under it the kernel refuses every rename
// or link from one directory to another, which would break guests that
// rename across directories of a grant. runw runs without Landlock there.
const landlockMinABI = 2

// landlockNewestABI is the newest ABI go-landlock knows (landlock.V11):
// a newer kernel is used at this level.
const landlockNewestABI = 11

// landlockConfig is the newest configuration go-landlock knows, in best
// effort mode: on an older kernel it handles what that kernel supports.
var landlockConfig = landlock.V11.BestEffort()

// LandlockABI is the Landlock ABI the init restricts itself with on this
// kernel, 0 when it runs without Landlock (the kernel lacks it, has it
// disabled, or its ABI is older than landlockMinABI).
func LandlockABI() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	switch {
	case errno != 0 || int(v) < landlockMinABI:
		return 0
	case int(v) > landlockNewestABI:
		return landlockNewestABI
	}
	return int(v)
}

// applyLandlock restricts the init, every thread of it, to the plan's
// grants with Landlock: the kernel's second enforcement of what the WASI
// host already enforces. It stops a guest that escaped wasmtime (a bug in
// the compiler, the runtime or runw's WASI host letting it run native code
// in the init) from using the init's full host access: it can then open
// nothing outside the grants, write nothing in a read-only grant, and
// execute nothing at all, whatever its uid and capabilities. It runs after
// the guest is prepared (the module and the compile cache are read) and
// before process.user is taken.
//
// What the init still opens by path afterwards is covered by a rule:
//   - files and directories under a directory grant, opened relative to
//     the descriptors the WASI host holds (the directory rules);
//   - single-file grants, reopened through /proc/self/fd/N of their
//     O_PATH descriptors: Landlock checks the file reached, so the file
//     rule on its host path covers it;
//   - the exec fifo (fifo, a /proc/self/fd/N of an O_PATH descriptor),
//     opened for writing after "ready": write on that one file.
//
// Descriptors open before this (stdio, the sync pipe, the log, the
// grants' own descriptors) are not affected. Where a grant nests in
// another (a read-only mount inside a read-write rootfs), the kernel
// allows what either grants; the WASI host still refuses the write.
func (sb *Sandbox) applyLandlock(plan *wasi.Plan, fifo string) error {
	if !sb.procIsOurs {
		logDebugf("init: Landlock left out: /proc does not show the container's pid namespace, and every thread must be restricted, not one")
		return nil
	}
	abi := LandlockABI()
	if abi == 0 {
		logDebugf("init: Landlock unavailable on this kernel (or older than ABI %d): the grants are enforced by the WASI host only", landlockMinABI)
		return nil
	}
	var rules []landlock.Rule
	for _, g := range plan.Preopens {
		rights := landlock.AccessFSSet(landlockWriteDir)
		if g.ReadOnly {
			rights = landlockReadDir
		}
		rules = append(rules, landlock.PathAccess(rights, g.HostPath))
	}
	for _, g := range plan.Files {
		rights := landlock.AccessFSSet(landlockWriteFile)
		if g.ReadOnly {
			rights = landlockReadFile
		}
		rules = append(rules, landlock.PathAccess(rights, g.HostPath))
	}
	if fifo != "" {
		rules = append(rules, landlock.PathAccess(ll.AccessFSWriteFile, fifo))
	}
	// The credential round lists /proc/<pid>/task after this thread has
	// entered the ruleset: listing its own threads reveals nothing.
	rules = append(rules, landlock.PathAccess(ll.AccessFSReadDir, fmt.Sprintf("/proc/%d/task", os.Getpid())))
	// The ruleset is made here, on this thread; every thread enters it in
	// the same signal round that changes its credentials
	// (applyPrivileges), after no_new_privs, which Landlock needs so that
	// a setuid binary cannot be confused by a sandbox it did not expect. A
	// wasm guest can never execute anything, so no_new_privs takes nothing
	// from it. One round for both instead of go-landlock's two psx rounds
	// (no_new_privs, then restrict) saves about a millisecond a start.
	cfg := landlockConfig
	netHandled, netRules := landlockNet(plan.Net)
	cfg.HandledAccessNet &= netHandled
	rules = append(rules, netRules...)
	fd, flags, err := cfg.NewRulesetFD(rules...)
	if err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	if fd < 0 {
		logDebugf("init: Landlock ABI %d: no ruleset for this kernel", abi)
		return nil
	}
	sb.landlockFD, sb.landlockFlags = fd, flags
	logDebugf("init: Landlock ABI %d: restricted to %d directory and %d file grants", abi, len(plan.Preopens), len(plan.Files))
	return nil
}

// landlockFeature is the `landlock` entry of `runw features`: the ABI the
// init uses on this kernel, or why it runs without.
func landlockFeature() string {
	if abi := LandlockABI(); abi > 0 {
		return fmt.Sprintf("abi %d", abi)
	}
	return fmt.Sprintf("unavailable (the kernel lacks Landlock ABI %d or newer)", landlockMinABI)
}

// landlockMaxPorts bounds the port rules of one direction: Landlock names
// single ports, so a wide range is left to the WASI layer alone.
const landlockMaxPorts = 1024

// landlockNet is the network half of the ruleset (Landlock ABI 4 and later
// for TCP): which network rights the ruleset handles, and the ports it
// allows for them. It stops a guest that escaped wasmtime from binding or
// connecting beyond the network grant with the init's own sockets:
//   - no socket grant: every TCP bind and connect is refused (the
//     preopened listeners were bound before, and accept is not affected);
//   - a narrowed grant (io.github.runw.net.listen / .connect): only the
//     ports its rules name, plus 53 for connect, where the name resolver
//     falls back to TCP. Landlock cannot match addresses, so the CIDRs are
//     the WASI layer's alone; a rule on any port, or more than
//     landlockMaxPorts ports, leaves that direction to the WASI layer;
//   - an unnarrowed grant: the namespace is the boundary, as for a native
//     container, and the ruleset handles no network right.
//
// UDP rights (ABI 10) are handled only without a socket grant.
func landlockNet(n preview1.Network) (landlock.AccessNetSet, []landlock.Rule) {
	all := landlock.AccessNetSet(ll.AccessNetBindTCP | ll.AccessNetConnectTCP | ll.AccessNetBindUDP | ll.AccessNetConnectSendUDP)
	if !n.Sockets {
		return all, nil
	}
	var handled landlock.AccessNetSet
	var rules []landlock.Rule
	if ports, ok := landlockPorts(n.Listen); ok {
		handled |= ll.AccessNetBindTCP
		for _, p := range ports {
			rules = append(rules, landlock.BindTCP(p))
		}
	}
	if ports, ok := landlockPorts(n.Connect); ok {
		handled |= ll.AccessNetConnectTCP
		rules = append(rules, landlock.ConnectTCP(53))
		for _, p := range ports {
			rules = append(rules, landlock.ConnectTCP(p))
		}
	}
	return handled, rules
}

// landlockPorts lists the ports rules allow, if Landlock can express them.
func landlockPorts(rules []preview1.Rule) ([]uint16, bool) {
	if rules == nil {
		return nil, false
	}
	var ports []uint16
	for _, r := range rules {
		if r.AnyPort() || int(r.Hi)-int(r.Lo)+1+len(ports) > landlockMaxPorts {
			return nil, false
		}
		for p := int(r.Lo); p <= int(r.Hi); p++ {
			ports = append(ports, uint16(p))
		}
	}
	return ports, true
}
