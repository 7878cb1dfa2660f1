//go:build runw_sandboxprobe

package runtime

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
)

// This file is only in the test build of runw (go build -tags
// runw_sandboxprobe), never in the shipped binary: the Makefile's build
// has no such tag. It lets the integration tests check that the kernel,
// not only the WASI host, enforces the grants, by doing in the init what
// a guest that escaped wasmtime would do: native system calls.
//
// The probes are read from the guest's own environment (process.env in
// config.json), the only thing the test controls that reaches the init:
//
//	RUNW_SANDBOX_PROBE=op:path;op:path...   ops: read, write, create, list,
//	                                        mkdir, unshare; connect and bind (path IPv4:PORT);
//	                                        socket (path a name of probeSockets);
//	                                        abstract (connect to the abstract AF_UNIX socket @path)
//	RUNW_SANDBOX_OFF=1                      skip Sandbox.apply (the control run)
//
// Each probe prints one line to stderr: "sandbox-probe OP PATH: ok" or
// "sandbox-probe OP PATH: ERRNO_NAME".

// enterSandbox is Sandbox.apply, then the probes.
func enterSandbox(sb *Sandbox, plan *wasi.Plan, fifo string) error {
	probes, off := "", false
	for _, kv := range plan.Env {
		if v, ok := strings.CutPrefix(kv, "RUNW_SANDBOX_PROBE="); ok {
			probes = v
		}
		if kv == "RUNW_SANDBOX_OFF=1" {
			off = true
		}
	}
	if off {
		fmt.Fprintln(os.Stderr, "sandbox-probe: sandbox off")
	} else if err := sb.apply(plan, fifo); err != nil {
		return err
	}
	for _, p := range strings.Split(probes, ";") {
		op, path, ok := strings.Cut(p, ":")
		if !ok {
			continue
		}
		result := "ok"
		if err := probe(op, path); err != nil {
			result = err.Error()
			var errno unix.Errno
			if errors.As(err, &errno) {
				result = unix.ErrnoName(errno)
			}
		}
		fmt.Fprintf(os.Stderr, "sandbox-probe %s %s: %s\n", op, path, result)
	}
	return nil
}

// probe does one native operation on a host path.
func probe(op, path string) error {
	switch op {
	case "read":
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Read(fd, make([]byte, 64))
		return err
	case "write":
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Write(fd, []byte("probe\n"))
		return err
	case "create":
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	case "list":
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = unix.Getdents(fd, make([]byte, 4096))
		return err
	case "mkdir":
		return unix.Mkdir(path, 0o755)
	case "connect", "bind":
		// path is IPv4:PORT. A connect that reaches the kernel's TCP
		// code where nothing listens answers ECONNREFUSED; Landlock's
		// refusal comes before, as EACCES.
		ap, err := netip.ParseAddrPort(path)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
		if op == "bind" {
			return unix.Bind(fd, sa)
		}
		return unix.Connect(fd, sa)
	case "socket":
		sk, ok := probeSockets[path]
		if !ok {
			return fmt.Errorf("unknown socket %q", path)
		}
		fd, err := unix.Socket(sk[0], sk[1]|unix.SOCK_CLOEXEC, sk[2])
		if err != nil {
			return err
		}
		return unix.Close(fd)
	case "abstract":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Connect(fd, &unix.SockaddrUnix{Name: "@" + path})
	case "unshare":
		// A new uts namespace for this thread alone (path unused): what
		// runw's own seccomp filter refuses.
		return unix.Unshare(unix.CLONE_NEWUTS)
	}
	return fmt.Errorf("unknown probe %q", op)
}

// probeSockets are the sockets the socket probe makes, by name: family,
// type, protocol.
var probeSockets = map[string][3]int{
	"tcp":     {unix.AF_INET, unix.SOCK_STREAM, 0},
	"udp6":    {unix.AF_INET6, unix.SOCK_DGRAM, 0},
	"unix":    {unix.AF_UNIX, unix.SOCK_STREAM, 0},
	"netlink": {unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE},
	"packet":  {unix.AF_PACKET, unix.SOCK_RAW, 0x0300}, // htons(ETH_P_ALL)
	"raw":     {unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP},
	"ping":    {unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP},
	"alg":     {unix.AF_ALG, unix.SOCK_SEQPACKET, 0},
}
