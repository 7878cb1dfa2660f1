package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/sys/userns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi"
)

// nsKind is what runw knows of one namespace type.
type nsKind struct {
	flag int
	// proc is its name under /proc/<pid>/ns.
	proc string
}

var nsKinds = map[specs.LinuxNamespaceType]nsKind{
	specs.UserNamespace:    {unix.CLONE_NEWUSER, "user"},
	specs.MountNamespace:   {unix.CLONE_NEWNS, "mnt"},
	specs.PIDNamespace:     {unix.CLONE_NEWPID, "pid"},
	specs.NetworkNamespace: {unix.CLONE_NEWNET, "net"},
	specs.IPCNamespace:     {unix.CLONE_NEWIPC, "ipc"},
	specs.UTSNamespace:     {unix.CLONE_NEWUTS, "uts"},
	specs.CgroupNamespace:  {unix.CLONE_NEWCGROUP, "cgroup"},
}

// nsOrder is the order in which the spawning thread joins namespaces.
var nsOrder = []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.CgroupNamespace}

// spawnNS is how an init gets the namespaces its spec names, in three
// places, each the only one where that step is sound:
//   - the spawning thread of the parent joins, by path, the namespaces a
//     thread can join on its own (pid, net, ipc, uts, cgroup): the child
//     clone()d from that thread starts in them; the thread is then thrown
//     away (it stays locked), so no other goroutine ever runs in them;
//   - clone() makes the new ones (no path) for the child at birth, user
//     namespace with its id mappings included, the init being pid 1 of a
//     new pid namespace without any intermediate process; unless the user
//     namespace is joined by path (a pod's, podman --userns container:X),
//     which must own them: the constructor makes them then;
//   - the init's C constructor (runtime/nsenter), still single-threaded,
//     enters its cgroup v1 hierarchies (cgroups.go), joins a mount or user
//     namespace by path and makes a new cgroup namespace once it is in its
//     cgroup.
type spawnNS struct {
	joins      []nsJoin
	cloneFlags uintptr
	uidMaps    []syscall.SysProcIDMap
	gidMaps    []syscall.SysProcIDMap
	// orders are the constructor's lines ("tasks FD", "mnt PATH",
	// "user PATH", "new KIND...", "cgroup"); empty when it has nothing
	// to do.
	orders string
}

type nsJoin struct {
	path string
	flag int
	// proc is the kind's name under /proc/<pid>/ns, as a "join" order.
	proc string
}

// namespacesFor reads linux.namespaces (already validated: known types,
// no duplicates, paths that are namespaces of their type).
func namespacesFor(sb *Sandbox) (*spawnNS, error) {
	ns := &spawnNS{}
	var orders []string
	byType := map[specs.LinuxNamespaceType]string{}
	for _, n := range sb.Namespaces {
		if _, ok := nsKinds[n.Type]; !ok {
			return nil, fmt.Errorf("namespace type %q is not supported", n.Type)
		}
		byType[n.Type] = n.Path
	}
	for _, t := range nsOrder {
		path, ok := byType[t]
		switch {
		case !ok:
		case path != "":
			if t == specs.PIDNamespace {
				path = behindProxy(path)
			}
			ns.joins = append(ns.joins, nsJoin{path: path, flag: nsKinds[t].flag, proc: nsKinds[t].proc})
		case t == specs.CgroupNamespace:
			// Made by the init once it is in its cgroup, which becomes
			// the root of its view.
			orders = append(orders, "cgroup")
		default:
			ns.cloneFlags |= uintptr(nsKinds[t].flag)
		}
	}
	for _, t := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.UserNamespace} {
		path, ok := byType[t]
		switch {
		case !ok:
		case path != "":
			if strings.ContainsAny(path, "\n") {
				return nil, fmt.Errorf("namespace path %q: contains a newline", path)
			}
			orders = append([]string{nsKinds[t].proc + " " + path}, orders...)
		default:
			ns.cloneFlags |= uintptr(nsKinds[t].flag)
		}
	}
	if byType[specs.UserNamespace] != "" && ns.cloneFlags != 0 {
		// Joined by path, the user namespace must own the new ones, or
		// its root (the init) has no privilege over them: the
		// constructor makes them once it is in it (nsenter's new_flags).
		kinds := []string{"new"}
		for _, t := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace} {
			if ns.cloneFlags&uintptr(nsKinds[t].flag) != 0 {
				kinds = append(kinds, nsKinds[t].proc)
			}
		}
		orders = append(orders, strings.Join(kinds, " "))
		ns.cloneFlags = 0
	}
	if ns.cloneFlags&unix.CLONE_NEWUSER != 0 {
		for _, m := range sb.UIDMappings {
			ns.uidMaps = append(ns.uidMaps, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		for _, m := range sb.GIDMappings {
			ns.gidMaps = append(ns.gidMaps, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		if len(ns.uidMaps) == 0 || len(ns.gidMaps) == 0 {
			return nil, fmt.Errorf("a new user namespace needs linux.uidMappings and linux.gidMappings")
		}
		if euid := spawnerEUID(); euid != 0 {
			// The kernel lets a user without privileges map only its own
			// ids, one each; runc maps more through the setuid helpers
			// newuidmap and newgidmap (subuid ranges), which runw does
			// not run. Refused here in one line: the spawn failed with
			// "fork/exec /proc/self/fd/N: operation not permitted".
			if err := ownIDOnly("uid", sb.UIDMappings, euid); err != nil {
				return nil, err
			}
			if err := ownIDOnly("gid", sb.GIDMappings, spawnerEGID()); err != nil {
				return nil, err
			}
		}
	}
	ns.orders = strings.Join(orders, "\n")
	return ns, nil
}

// behindProxy is the pid namespace path of another runw container as its
// engine names it, /proc/<pid>/ns/pid with the pid runw reported, made
// to name the container's own namespace when that pid is a proxy
// (runtime/nsenter's enter_pid_namespace, for a container that joined a
// user namespace by path): the proxy itself is outside it, and podman's
// --pid container:X put the new container in the host's pid namespace.
// Any other path is left as it is.
func behindProxy(path string) string {
	var pid int
	if _, err := fmt.Sscanf(path, "/proc/%d/ns/pid", &pid); err != nil || path != fmt.Sprintf("/proc/%d/ns/pid", pid) {
		return path
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(comm)) != "runw-init" || proxiedInit(pid) == 0 {
		return path
	}
	return fmt.Sprintf("/proc/%d/ns/pid_for_children", pid)
}

// joinsUser says whether the init joins a user namespace by path.
func (ns *spawnNS) joinsUser() bool {
	for _, o := range strings.Split(ns.orders, "\n") {
		if strings.HasPrefix(o, "user ") {
			return true
		}
	}
	return false
}

// namespacesForCreate is namespacesFor for a container's init: a pid
// namespace needs a new mount namespace of its own. The init mounts the pid
// namespace's /proc there (mountProc); without it, every-thread changes
// (credentials, no_new_privs, Landlock) would list the host's
// /proc/<pid>/task and miss the init's threads. (An exec'd process joins
// the init's mount namespace, which has that /proc.)
func namespacesForCreate(sb *Sandbox) (*spawnNS, error) {
	if sb.has(specs.PIDNamespace) && !sb.creates(specs.MountNamespace) {
		return nil, fmt.Errorf("a pid namespace needs a new mount namespace: runw mounts the container's /proc there")
	}
	return namespacesFor(sb)
}

// namespacesOf is what `runw exec` joins: every namespace of the
// container's init that is not the caller's own.
func namespacesOf(pid int) (*spawnNS, error) {
	var sb Sandbox
	for t, k := range nsKinds {
		path := fmt.Sprintf("/proc/%d/ns/%s", pid, k.proc)
		if t == specs.PIDNamespace {
			// The one the init's children enter: its own, or, behind a
			// proxy (nsenter's enter_pid_namespace), the container's,
			// where the proxy itself is not.
			path = fmt.Sprintf("/proc/%d/ns/pid_for_children", pid)
		}
		theirs, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("namespace %q of the container: %w", path, spec.ErrnoOf(err))
		}
		ours, err := os.Stat("/proc/self/ns/" + k.proc)
		if err == nil && os.SameFile(theirs, ours) {
			continue
		}
		sb.Namespaces = append(sb.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
	}
	return namespacesFor(&sb)
}

// privateMounts orders the constructor to make the process a copy of the
// mount namespace it joins, its own (execRootCopy says what for).
func (ns *spawnNS) privateMounts() {
	if ns.orders != "" {
		ns.orders += "\n"
	}
	ns.orders += "private-mounts"
}

// spawnerEUID and spawnerEGID are the effective ids runw spawns the init
// with (variables for tests).
var spawnerEUID, spawnerEGID = os.Geteuid, os.Getegid

// ownIDOnly refuses mappings other than one id, the caller's own: all a
// user without privileges may write to a new namespace's id map.
func ownIDOnly(kind string, maps []specs.LinuxIDMapping, own int) error {
	if len(maps) == 1 && maps[0].Size == 1 && int(maps[0].HostID) == own {
		return nil
	}
	return fmt.Errorf("rootless container: linux.%sMappings may map only your own %s (%d), one id; more takes new%smap(1), which runw does not run (runw spec --rootless maps yours; as root any mapping runs)", kind, kind, own, kind)
}

// setgroupsDenied says whether runw's own user namespace denies
// setgroups(2) (/proc/self/setgroups reads "deny").
func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

// prepare sets the command up for these namespaces and, with cg, for the
// cgroup v1 hierarchies its constructor enters; ordersR is the
// constructor's end of the orders pipe when it has something to do: it is
// appended to cmd.ExtraFiles, after the protocol's other descriptors (and
// cg's tasks files), and named by nsexecEnv; the caller keeps the write
// end.
func (ns *spawnNS) prepare(cmd *exec.Cmd, cg *cgroupEntry) (ordersR, ordersW *os.File, err error) {
	cmd.SysProcAttr.Cloneflags = ns.cloneFlags
	cmd.SysProcAttr.UidMappings = ns.uidMaps
	cmd.SysProcAttr.GidMappings = ns.gidMaps
	if ns.cloneFlags&unix.CLONE_NEWUSER != 0 {
		// Root of the new user namespace when it execs, so that it keeps
		// its capabilities there (an unmapped uid would lose them all).
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		if spawnerEUID() != 0 || setgroupsDenied() {
			// An unprivileged user (runc's rootless case: `runw spec
			// --rootless`) may write gid_map only once setgroups is
			// denied, and then may not call setgroups itself; both
			// failed the spawn with EPERM. runc's rootless init does
			// the same. So does root of a user namespace that denies
			// setgroups (`unshare -r`, rootless podman without subuids):
			// a namespace made in it may not allow it again.
			cmd.SysProcAttr.Credential.NoSetGroups = true
			cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		}
	}
	orders := ns.orders
	if len(ns.joins) > 0 && ns.joinsUser() && spawnerEUID() != 0 {
		// An unprivileged runw (`runw spec --rootless`, by hand) has no
		// privilege over the container's namespaces until it is in
		// their owner, the user namespace, which only a single-threaded
		// process can join: the constructor joins them there, after the
		// user namespace, and forks to enter the pid namespace. From
		// the spawning thread, exec failed with EPERM.
		var lines []string
		for _, j := range ns.joins {
			if strings.ContainsAny(j.path, "\n") {
				return nil, nil, fmt.Errorf("namespace path %q: contains a newline", j.path)
			}
			lines = append(lines, "join "+j.proc+" "+j.path)
		}
		if orders != "" {
			lines = append([]string{orders}, lines...)
		}
		orders = strings.Join(lines, "\n")
		ns.joins = nil
	}
	if cg != nil && len(cg.Tasks) > 0 {
		// The cgroups first: entered before any namespace is joined.
		var lines []string
		for _, f := range cg.Tasks {
			lines = append(lines, fmt.Sprintf("tasks %d", passFile(cmd, f)))
		}
		if orders != "" {
			lines = append(lines, orders)
		}
		orders = strings.Join(lines, "\n")
	}
	if orders == "" {
		return nil, nil, nil
	}
	// The constructor reads at most this much and refuses more, so that
	// an order is never cut short (a long namespace path).
	if len(orders) > maxOrders-2 {
		return nil, nil, fmt.Errorf("namespace orders of %d bytes: more than the init takes (%d)", len(orders), maxOrders-2)
	}
	ns.orders = orders
	if ordersR, ordersW, err = os.Pipe(); err != nil {
		return nil, nil, err
	}
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", nsexecEnv, passFile(cmd, ordersR)))
	return ordersR, ordersW, nil
}

// start starts cmd from a thread that joined ns.joins first. The thread
// is never unlocked: when the goroutine ends, Go ends the thread with it,
// so the namespaces it joined never leak to other goroutines.
func (ns *spawnNS) start(cmd *exec.Cmd) error {
	if len(ns.joins) == 0 {
		return cmd.Start()
	}
	done := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		for _, j := range ns.joins {
			fd, err := unix.Open(j.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				done <- &joinError{fmt.Sprintf("open namespace %q: %v", j.path, err)}
				return
			}
			err = unix.Setns(fd, j.flag)
			unix.Close(fd)
			if err != nil {
				done <- &joinError{fmt.Sprintf("join namespace %q: %v", j.path, err)}
				return
			}
		}
		err := cmd.Start()
		if errors.Is(err, unix.ENOMEM) && slices.ContainsFunc(ns.joins, func(j nsJoin) bool { return j.flag == unix.CLONE_NEWPID }) {
			// The kernel gives no pid in a pid namespace whose init has
			// exited, joined while it lived: a join failure too.
			err = &joinError{fmt.Sprintf("fork into pid namespace: %v", err)}
		}
		done <- err
	}()
	return <-done
}

// sendOrders hands the constructor its orders, once the init is started
// (and placed, unless it enters its cgroups itself).
func (ns *spawnNS) sendOrders(w *os.File) error {
	if w == nil {
		return nil
	}
	defer w.Close()
	_, err := w.WriteString(ns.orders)
	return err
}

// holdsHostRoot says the container's init holds the host's root: runw
// runs as it (not in a rootless engine's user namespace), and the
// container has no user namespace of its own, joins one by path (whose
// mapping is not known here), or has one that maps the host's uid 0. Such
// an init never compiles a module itself (prepareGuest, runw exec):
// Cranelift run there on an image's or a guest's bytes, before the
// sandbox and with every capability, is what the confined compile child
// is for. A failed child then fails the create or the exec.
func (sb *Sandbox) holdsHostRoot() bool { return sb == nil || sb.HostRoot }

// hostRoot is holdsHostRoot's answer, where runw runs (sandboxFor).
func (sb *Sandbox) hostRoot() bool {
	if userns.RunningInUserNS() {
		return false
	}
	if !sb.has(specs.UserNamespace) || sb.pathOf(specs.UserNamespace) != "" {
		return true
	}
	for _, m := range sb.UIDMappings {
		if m.HostID == 0 && m.Size > 0 {
			return true
		}
	}
	return false
}

// has says whether the container has its own namespace of type t.
func (sb *Sandbox) has(t specs.LinuxNamespaceType) bool {
	for _, n := range sb.Namespaces {
		if n.Type == t {
			return true
		}
	}
	return false
}

// checkRootMapped refuses a new user namespace whose mappings leave out
// the container's root, in runc's words, before create makes anything:
// runw gives that root the exec fifo and the tmpfs it mounts, as runc
// does. Unmapped, create failed late, after the module's compile, on one
// of those ("mount tmpfs at \"/dev\": uid=0: invalid argument", "chown
// exec fifo: operation not permitted") or at the spawn ("fork/exec
// /proc/self/fd/32: invalid argument"). Without mappings, namespacesFor
// says they are needed.
func (sb *Sandbox) checkRootMapped() error {
	if !sb.creates(specs.UserNamespace) || len(sb.UIDMappings) == 0 || len(sb.GIDMappings) == 0 {
		return nil
	}
	if _, ok := hostID(sb.UIDMappings, 0); !ok {
		//lint:ignore ST1005 runc's own words
		return errors.New("User namespaces enabled, but no user mapping found.")
	}
	if _, ok := hostID(sb.GIDMappings, 0); !ok {
		//lint:ignore ST1005 runc's own words
		return errors.New("User namespaces enabled, but no group mapping found.")
	}
	return nil
}

// creates says whether the container gets a new namespace of type t (an
// entry without a path).
func (sb *Sandbox) creates(t specs.LinuxNamespaceType) bool {
	for _, n := range sb.Namespaces {
		if n.Type == t && n.Path == "" {
			return true
		}
	}
	return false
}

// pathOf is the path of the namespace of type t the init joins, "" where
// it makes its own or stays in runw's.
func (sb *Sandbox) pathOf(t specs.LinuxNamespaceType) string {
	for _, n := range sb.Namespaces {
		if n.Type == t {
			return n.Path
		}
	}
	return ""
}

// joinsByPath says the init joins a namespace of type t given by path.
func (sb *Sandbox) joinsByPath(t specs.LinuxNamespaceType) bool {
	return sb.pathOf(t) != ""
}

// checkJoinedProc fails an init (or an exec'd process) that joined a
// mount namespace by path where /proc is no procfs showing it as
// /proc/self: another container's with a pid namespace of its own, whose
// /proc lists only its processes; one with no /proc mounted at all. The
// init reaches everything it is handed through /proc/self/fd, and create
// failed on the first of those, the module, in words that said it was
// missing ("read \"/app.wasm\": no such file or directory"). The attack
// this stops: with no /proc mounted there, the init made the directory
// /proc/self/fd/N of its cache (and wrote its debug log to the file
// /proc/self/fd/M) in that namespace's tree, the host's root file system
// under an `unshare -m`'s; and plain directories planted there by anyone
// who may write that tree stood in for what the init is handed.
func (sb *Sandbox) checkJoinedProc() error {
	if sb == nil || !sb.joinsByPath(specs.MountNamespace) {
		return nil
	}
	var st unix.Statfs_t
	self, err := os.Readlink("/proc/self")
	if err == nil {
		err = unix.Statfs("/proc/self/fd", &st)
	}
	if err == nil && (st.Type != unix.PROC_SUPER_MAGIC || self != strconv.Itoa(os.Getpid())) {
		err = errors.New("not a procfs showing this process")
	}
	if err != nil {
		return fmt.Errorf("the mount namespace %s has no /proc of the container's pid namespace (/proc/self/fd: %w): runw's init needs one there", sb.pathOf(specs.MountNamespace), spec.ErrnoOf(err))
	}
	return nil
}

// loopbackUp brings up "lo" in a network namespace the init was born in
// (a network entry without a path), as runc does: without it 127.0.0.1
// does not exist there, and a guest could not reach its own listeners, nor
// a pod's sidecar reach it. A joined namespace is its owner's to set up.
// It runs before the guest is prepared, so that a listener on 127.0.0.1
// can be bound.
func (sb *Sandbox) loopbackUp() error {
	if sb.Joined || !sb.creates(specs.NetworkNamespace) {
		return nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	return nil
}

// applyNamespaces sets what lives in the container's namespaces: the
// hostname and domain name (its own uts namespace), and linux.sysctl, each
// key only in a namespace of the container's own: writing net.* in the
// host's network namespace would change the host.
func (sb *Sandbox) applyNamespaces() error {
	if sb.Joined {
		sb.procIsOurs = true
		return nil
	}
	if err := sb.mountProc(); err != nil {
		return err
	}
	if sb.Hostname != "" || sb.Domainname != "" {
		if !sb.has(specs.UTSNamespace) {
			// runc's words (1.2's for the domain name).
			what := "hostname"
			if sb.Hostname == "" {
				what = "domainname"
			}
			return fmt.Errorf("unable to set %s without a private UTS namespace", what)
		}
		if sb.Hostname != "" {
			if err := unix.Sethostname([]byte(sb.Hostname)); err != nil {
				return fmt.Errorf("sethostname %q: %w", sb.Hostname, err)
			}
		}
		if sb.Domainname != "" {
			if err := unix.Setdomainname([]byte(sb.Domainname)); err != nil {
				return fmt.Errorf("setdomainname %q: %w", sb.Domainname, err)
			}
		}
	}
	return sb.writeSysctls(!sb.netSysctlsWritten, true)
}

// applyNetSysctls writes linux.sysctl's keys of the network namespace
// before runw binds the guest's listeners (prepareGuest), so that those
// follow the container's own net.core.somaxconn and net.ipv6.bindv6only
// as a native server's do: written after, a [::]:8080 listener was
// dual-stack under bindv6only=1 and refused a 0.0.0.0:8080 beside it.
// /proc/sys/net is the writer's network namespace whichever proc it is
// read through, so the caller's /proc, still the init's then, reaches
// the container's. That /proc may be read-only (runw nested in a
// container whose /proc/sys is, as docker's and podman's are): then
// this reports nothing, and applyNamespaces writes the network's keys
// (again, where some were written) through the container's own /proc
// with the others, and reports what fails.
func (sb *Sandbox) applyNetSysctls() {
	if sb.Joined || len(sb.Sysctl) == 0 {
		return
	}
	sb.netSysctlsWritten = sb.writeSysctls(true, false) == nil
}

// writeSysctls writes linux.sysctl's keys of the network namespace (net)
// and of the others (others), each key only in a namespace of the
// container's own, and fails on the first it cannot write.
func (sb *Sandbox) writeSysctls(net, others bool) error {
	for key, value := range sb.Sysctl {
		owner, ok := spec.SysctlNamespace(key)
		if !ok {
			return fmt.Errorf("sysctl %q is not in a separate kernel namespace", key)
		}
		if isNet := owner == specs.NetworkNamespace; isNet && !net || !isNet && !others {
			continue
		}
		if !sb.has(owner) {
			return fmt.Errorf("sysctl %q is not allowed as it conflicts with the OCI %q field", key, owner)
		}
		p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
		if strings.Contains(key, "/") || strings.Contains(key, "..") {
			return fmt.Errorf("sysctl %q: not a sysctl name", key)
		}
		if err := os.WriteFile(p, []byte(value), 0); err != nil {
			return fmt.Errorf("sysctl %q = %q: %w", key, value, spec.ErrnoOf(err))
		}
	}
	return nil
}

// hostUser is the host's view of the guest's user: through the user
// namespace's mappings when the container has its own, so that what runw
// makes for the guest (tmpfs directories, the exec fifo) belongs to it.
func (sb *Sandbox) hostUser(u wasi.User) wasi.User {
	if !sb.has(specs.UserNamespace) {
		return u
	}
	return wasi.User{UID: mapID(sb.UIDMappings, u.UID), GID: mapID(sb.GIDMappings, u.GID), AdditionalGids: u.AdditionalGids}
}

// mappedUser is hostUser for ids the container names itself (a tmpfs's
// uid= and gid=), which its user namespace must map: the kernel reads
// them in the namespace that mounts the tmpfs, and refuses one it does
// not map, as under runc. Taken as they were, an unmapped uid=70000 gave
// the tmpfs to host uid 70000, outside the container's range (another
// user's, or another container's).
func (sb *Sandbox) mappedUser(u wasi.User) (wasi.User, error) {
	if !sb.has(specs.UserNamespace) || len(sb.UIDMappings) == 0 || len(sb.GIDMappings) == 0 {
		// No namespace, or one joined by path, whose mappings the
		// spec does not give: as hostUser.
		return sb.hostUser(u), nil
	}
	uid, ok := hostID(sb.UIDMappings, u.UID)
	if !ok {
		return u, fmt.Errorf("uid=%d: %w", u.UID, unix.EINVAL)
	}
	gid, ok := hostID(sb.GIDMappings, u.GID)
	if !ok {
		return u, fmt.Errorf("gid=%d: %w", u.GID, unix.EINVAL)
	}
	return wasi.User{UID: uid, GID: gid}, nil
}

// mapID is id on the host through maps, or id itself where no mapping
// covers it.
func mapID(maps []specs.LinuxIDMapping, id uint32) uint32 {
	if host, ok := hostID(maps, id); ok {
		return host
	}
	return id
}

// hostID is id on the host through maps, and whether a mapping covers it.
func hostID(maps []specs.LinuxIDMapping, id uint32) (uint32, bool) {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return m.HostID + (id - m.ContainerID), true
		}
	}
	return 0, false
}

// mountProc gives an init with its own mount namespace and a pid
// namespace a /proc of that pid namespace, as runc's container gets. It
// matters to the init itself: restricting every thread (no_new_privs,
// Landlock) lists /proc/<getpid()>/task, and under the host's /proc that
// names some other process's threads once getpid() is a pid of the
// container's namespace. Mounts below "/" become slaves first, so that
// nothing mounted in the container's namespace ever reaches the host's.
// Where it cannot be done (a joined mount namespace, or the kernel refusing
// proc in a user namespace), procIsOurs stays false and Landlock is left
// out rather than applied to one thread only.
func (sb *Sandbox) mountProc() error {
	if !sb.has(specs.PIDNamespace) {
		sb.procIsOurs = true
		return nil
	}
	if !sb.creates(specs.MountNamespace) {
		return nil
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make the container's mounts slaves: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		// Refused, as runc refuses it: the kernel mounts a pid
		// namespace's proc only for a process with CAP_SYS_ADMIN in the
		// user namespace that owns it, and a container with a user
		// namespace of its own that joins another's pid namespace
		// (podman --userns=auto --pid container:X) has none there. Went
		// on with the host's /proc, the init listed host tids for every
		// thread-wide change: most threads kept every capability,
		// Landlock was left out, and the container's /proc showed the
		// host's processes.
		return mountError("proc", "/proc", err)
	}
	sb.procIsOurs = true
	return nil
}
