package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompAnnotation opts a container whose spec has no linux.seccomp into
// runw's own filter: "default" is the only value.
const seccompAnnotation = "io.github.runw.seccomp"

// runwSyscalls is runw's own allow-list: the system calls the init makes
// once its guest runs, and nothing else. Everything else fails with
// EPERM. It stops what a guest that escaped wasmtime into native code in
// the init would reach for beyond its grants: no execve (no native
// program), no mount, unshare, setns or pivot_root (no way out of the
// container's namespaces), no ptrace or process_vm_* (no neighbour's
// memory), no bpf, perf_event_open, io_uring, userfaultfd or keyctl (the
// kernel's big attack surfaces), no setuid or capset, no open_by_handle_at.
//
// Found by running the hello, wasiheavy and probe guests under strace -f
// (every call of the init's threads after its "ready"), then completed by
// reading what the code can call later: the Go runtime (threads through
// glibc: clone, set_robust_list, rseq; signals and preemption; the
// netpoller made lazily), wasmtime (memory growth: mmap, mprotect,
// mremap, madvise), runw's WASI host (wasi/preview1: every file call it
// makes, sockets for networking guests, poll_oneoff's ppoll).
var runwSyscalls = []string{
	// Memory: the Go runtime, glibc's malloc, wasmtime's linear memory.
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise",
	// Threads and scheduling (Go's Ms, wasmtime's threads through glibc).
	"set_robust_list", "rseq", "futex", "sched_yield", "sched_getaffinity",
	"gettid", "getpid", "exit", "exit_group", "restart_syscall",
	// Signals: preemption, stop signals, wasmtime's trap handlers.
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "tgkill",
	// Time.
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
	// Randomness (random_get).
	"getrandom",
	// Descriptors and polling (the netpoller, poll_oneoff, the host's
	// stop eventfd).
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "pwritev2",
	"close", "fcntl", "lseek", "ppoll", "poll",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2", "pipe2",
	// Files, as the WASI host reaches them through its preopens.
	"openat", "openat2", "newfstatat", "fstat", "statx", "getdents64", "readlinkat",
	"mkdirat", "unlinkat", "renameat", "renameat2", "linkat", "symlinkat", "utimensat",
	"ftruncate", "fallocate", "fadvise64", "fsync", "fdatasync",
	// Networking guests (sockets the WASI host holds for them); socket
	// itself only for the families and types in seccompSockets.
	"bind", "listen", "accept", "accept4", "connect",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "getsockopt", "setsockopt",
	"getsockname", "getpeername", "shutdown",
}

// cloneNamespaceFlags are the clone flags that make namespaces: clone with
// any of them is unshare by another name (a new user namespace is the
// kernel attack surface unshare is refused for), and is refused with it,
// as podman's profile does (its mask, 0x7E020000).
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// seccompAllowedIoctls are the only ioctl requests runw's filter lets
// through: the bytes waiting on a descriptor (poll_oneoff) and the
// terminal queries of isatty and a tty's size.
var seccompAllowedIoctls = []uint64{unix.TIOCINQ, unix.TCGETS, unix.TIOCGWINSZ}

// seccompSockets are the only sockets runw's filter lets the init make:
// TCP and UDP over IPv4 and IPv6, all the WASI host (sock_open) and its
// name resolver ever make, with protocol 0 or the one the type implies
// (Go's net probes IPv6 with IPPROTO_TCP). A guest that escaped wasmtime
// gets EPERM for every other socket: netlink (the routing tables, the
// namespace's sockets through sock_diag, uevents), packet and raw
// sockets (sniffing and forging traffic on the namespace's devices, for
// an init that kept CAP_NET_RAW), AF_UNIX (a daemon's abstract socket in
// the host's network namespace, as containerd-shim's was in
// CVE-2020-15257), AF_ALG, vsock, bluetooth and the rest of the kernel's
// socket families, and ICMP "ping" sockets.
var seccompSockets = []struct {
	family, typ int
	protos      []int
}{
	{unix.AF_INET, unix.SOCK_STREAM, []int{0, unix.IPPROTO_TCP}},
	{unix.AF_INET, unix.SOCK_DGRAM, []int{0, unix.IPPROTO_UDP}},
	{unix.AF_INET6, unix.SOCK_STREAM, []int{0, unix.IPPROTO_TCP}},
	{unix.AF_INET6, unix.SOCK_DGRAM, []int{0, unix.IPPROTO_UDP}},
}

// sockTypeMask is SOCK_TYPE_MASK: the type without SOCK_NONBLOCK and
// SOCK_CLOEXEC.
const sockTypeMask = 0xf

// runwSeccomp is runw's own filter as a spec profile, loaded like any
// other (seccomp.go): allow runwSyscalls, ioctl for the requests above,
// socket for the TCP and UDP sockets of seccompSockets,
// clone without namespace flags, clone3 answered ENOSYS (glibc then falls
// back to clone, whose thread flags the init's check verifies; clone3's
// flags sit in memory a filter cannot read), everything else EPERM. Only the
// native architecture is in it: a 32-bit system call from a 64-bit init
// (int 0x80, x32) never matches and is killed by libseccomp's bad-arch
// action, the classic way around an allow-list.
func runwSeccomp() *specs.LinuxSeccomp {
	enosys := uint(unix.ENOSYS)
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: runwSyscalls, Action: specs.ActAllow},
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: cloneNamespaceFlags, ValueTwo: 0, Op: specs.OpMaskedEqual},
			}},
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		},
	}
	ioctl := specs.LinuxSyscall{Names: []string{"ioctl"}, Action: specs.ActAllow}
	for _, req := range seccompAllowedIoctls {
		ioctl.Args = append(ioctl.Args, specs.LinuxSeccompArg{Index: 1, Value: req, Op: specs.OpEqualTo})
	}
	s.Syscalls = append(s.Syscalls, ioctl)
	for _, sk := range seccompSockets {
		for _, proto := range sk.protos {
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: uint64(sk.family), Op: specs.OpEqualTo},
				{Index: 1, Value: sockTypeMask, ValueTwo: uint64(sk.typ), Op: specs.OpMaskedEqual},
				{Index: 2, Value: uint64(proto), Op: specs.OpEqualTo},
			}})
		}
	}
	return s
}

// seccompFromAnnotation is runw's own filter when the spec asks for it by
// annotation and has no profile of its own (the spec's profile wins).
func seccompFromAnnotation(s *specs.Spec) (*specs.LinuxSeccomp, error) {
	v, ok := s.Annotations[seccompAnnotation]
	if !ok {
		return nil, nil
	}
	if v != "default" {
		return nil, fmt.Errorf("annotation %s=%q: the only value is \"default\"", seccompAnnotation, v)
	}
	if s.Linux != nil && s.Linux.Seccomp != nil {
		logDebugf("annotation %s: the spec has its own seccomp profile, which applies", seccompAnnotation)
		return nil, nil
	}
	return runwSeccomp(), nil
}
