package runtime

import (
	"fmt"
	"os"
	"strconv"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"github.com/moby/sys/capability"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// confineCompile takes from a `runw compile` child, on every thread,
// everything it does not need to compile the module on its standard input
// and write the artifact to its standard output (compileChild). It runs
// before the module is read, before wasmtime's parser or compiler sees
// it.
//
// The attack it stops: the child runs as the user runw runs as, root on
// a node, outside every namespace of the container (create compiles
// before the init exists), and the module it compiles is the container
// image's, untrusted. A module that exploited a bug in Cranelift, in
// wasmtime's parser of the module or in the wat crate's of text, would
// run native code there, with all of root's power over the host.
// Confined, such code has:
//   - no capability in any set, and no_new_privs: nothing to regain them
//     by executing a setuid binary or one with file capabilities;
//   - with Landlock, no file at all, for reading, writing or executing,
//     not even the compiled-module cache, though it is still uid 0 and
//     owns most of the host's files: runw stores the artifact the child
//     hands back, under the key of the bytes runw itself hashed
//     (fillCache), so the child can replace no other module's artifact;
//     no TCP bind or connect (ABI 4); no signal to a process outside the
//     child and no abstract Unix socket (ABI 6); no ptrace of any other
//     process.
//   - with seccomp, no change of a file's mode, owner or extended
//     attributes and no socket (denyUnmediated): Landlock mediates
//     neither, nor a connect to a Unix socket at a path (containerd's);
//     and no new process (fork, vfork, a clone without CLONE_THREAD;
//     clone3, whose flags seccomp cannot read, fails with ENOSYS, and Go
//     and glibc then use clone): a process of its own would outlive the
//     child and hold its pipe to runw, which waits for the child only.
//   - no descriptor inherited across execve but its standard input, a
//     sealed copy of the module, output and error (closeInherited):
//     Landlock checks files at open.
//
// A kernel without Landlock (or older than landlockMinABI) leaves the
// child uid 0 without capabilities, able to open the host's root-owned
// files: said so at debug level, as for the init.
func confineCompile() error {
	closeInherited()
	last, err := capability.LastCap()
	if err != nil {
		return fmt.Errorf("read the last capability: %w", err)
	}
	var l stepList
	defer l.free()
	add := l.add
	// no_new_privs first: Landlock needs it from a process without
	// CAP_SYS_ADMIN, and the capabilities go next.
	add("set no_new_privs", unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1)
	if LandlockABI() > 0 {
		rules := []landlock.Rule{
			// allThreads lists this process's threads after the calling
			// thread has entered the ruleset. By /proc/self, not the pid:
			// a child of the init is in the container's pid namespace
			// while /proc is still the host's, where its own pid names
			// another process, or none, and the ruleset failed.
			landlock.PathAccess(ll.AccessFSReadDir|ll.AccessFSReadFile, "/proc/self/task"),
		}
		fd, flags, err := landlockConfig.NewRulesetFD(rules...)
		if err != nil {
			return fmt.Errorf("landlock: %w", err)
		}
		if fd >= 0 {
			defer unix.Close(fd)
			add("enter the Landlock ruleset", unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), uintptr(flags))
		}
	} else {
		logDebugf("compile: Landlock unavailable on this kernel: the compile child keeps uid %d's access to files", os.Getuid())
	}
	// Emptying the bounding set takes CAP_SETPCAP: root has it, a user
	// running runw has none, and no_new_privs already keeps a user from
	// gaining any by executing something.
	if hasEffective(capability.CAP_SETPCAP) {
		l.dropBounding(0, last)
	}
	// Every set empty, the ambient one too.
	l.capset(capSets{})
	if err := allThreads(l.steps, int(last)); err != nil {
		return err
	}
	return denyUnmediated()
}

// sysFchmodat2 is fchmodat2(2) (Linux 6.6), the same number on every
// architecture; libseccomp 2.5.4 does not know its name.
const sysFchmodat2 = 452

// unmediatedCalls are the system calls Landlock does not mediate that a
// compile child, still uid 0 when root spawned it, must not make:
//   - those that change a file's mode, owner or extended attributes, by
//     path or descriptor: uid 0 owns most of the host's files, and
//     chmod(2) needs no capability from a file's owner, so code that
//     escaped Cranelift could make /etc/shadow readable by all or a
//     root-owned binary setuid. The cache changes modes only with
//     fchmod(2) on files it opened, which Landlock allows only in the
//     cache, and never owners or attributes.
//   - those that make sockets (and io_uring_setup, whose rings make and
//     connect them without those calls): Landlock does not mediate a
//     connect to a Unix socket at a path, and uid 0 passes the socket
//     file's permissions, so such code could reach containerd's,
//     docker's, podman's or systemd's socket, root on the host to anyone
//     who reaches it; nor UDP, netlink or, below ABI 4, TCP. A compile
//     needs no socket.
var unmediatedCalls = []string{"chmod", "fchmodat", "chown", "lchown", "fchown", "fchownat",
	"setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
	"socket", "socketpair", "io_uring_setup"}

// denyUnmediated loads, on every thread (libseccomp's TSYNC), a
// seccomp filter that fails unmediatedCalls, fchmodat2, fork, vfork and a
// clone without CLONE_THREAD with EPERM, and clone3 with ENOSYS.
// The caller has set no_new_privs on every thread, which loading a
// filter without CAP_SYS_ADMIN needs.
func denyUnmediated() error {
	filter, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	defer filter.Release()
	deny := libseccomp.ActErrno.SetReturnCode(int16(unix.EPERM))
	if err := denyNamed(filter, deny, unmediatedCalls); err != nil {
		return err
	}
	if err := filter.AddRule(libseccomp.ScmpSyscall(sysFchmodat2), deny); err != nil {
		return fmt.Errorf("seccomp: deny fchmodat2: %w", err)
	}
	// No new process: threads only (Cranelift's, Go's).
	if err := denyNamed(filter, deny, []string{"fork", "vfork"}); err != nil {
		return err
	}
	clone, err := libseccomp.GetSyscallFromName("clone")
	if err != nil {
		return fmt.Errorf("seccomp: clone: %w", err)
	}
	noThread, err := libseccomp.MakeCondition(0, libseccomp.CompareMaskedEqual, unix.CLONE_THREAD, 0)
	if err != nil {
		return fmt.Errorf("seccomp: clone: %w", err)
	}
	if err := filter.AddRuleConditional(clone, deny, []libseccomp.ScmpCondition{noThread}); err != nil {
		return fmt.Errorf("seccomp: deny clone without CLONE_THREAD: %w", err)
	}
	clone3, err := libseccomp.GetSyscallFromName("clone3")
	if err != nil {
		return fmt.Errorf("seccomp: clone3: %w", err)
	}
	if err := filter.AddRule(clone3, libseccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS))); err != nil {
		return fmt.Errorf("seccomp: clone3: %w", err)
	}
	if err := filter.Load(); err != nil {
		return fmt.Errorf("seccomp: load the filter: %w", err)
	}
	return nil
}

// denyNamed adds to filter a rule that answers each system call in names
// with deny.
func denyNamed(filter *libseccomp.ScmpFilter, deny libseccomp.ScmpAction, names []string) error {
	for _, name := range names {
		sc, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			return fmt.Errorf("seccomp: %s: %w", name, err)
		}
		if err := filter.AddRule(sc, deny); err != nil {
			return fmt.Errorf("seccomp: deny %s: %w", name, err)
		}
	}
	return nil
}

// closeInherited closes every descriptor above standard error that this
// process inherited across execve: whatever runw's caller left open
// without close-on-exec (a preserved descriptor, a shim's or a shell's
// pipe, a log file) and, in the init's compile child, the init's own
// (its sync pipe to runw, its handles on the rootfs and state
// directory). Landlock checks a file when it is opened, not a write
// through a descriptor opened before, so any of them writable would be
// open to code that escaped Cranelift. Go and wasmtime open all of
// theirs close-on-exec, so a descriptor without FD_CLOEXEC came through
// execve. The cache is reached through the descriptor OpenCache opened
// (close-on-exec), even when --cache-dir named an inherited one, and the
// module has been read whole from standard input.
func closeInherited() {
	fds := []int{}
	if entries, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range entries {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				fds = append(fds, n)
			}
		}
	} else {
		var lim unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil || lim.Cur > 1<<16 {
			lim.Cur = 1 << 16
		}
		for n := 0; n < int(lim.Cur); n++ {
			fds = append(fds, n)
		}
	}
	for _, n := range fds {
		if n <= 2 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(n), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(n)
		}
	}
}

// hasEffective reports whether the calling thread has c in its effective
// set.
func hasEffective(c capability.Cap) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}
