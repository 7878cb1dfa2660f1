package runtime

import (
	"fmt"
	"net"
	"os"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
)

// sendConsole implements runc's --console-socket protocol: connect to the
// caller's AF_UNIX stream socket, allocate a pty, and send the master in
// one sendmsg (name as data, exactly one SCM_RIGHTS fd). The slave becomes
// the guest's stdio.
func sendConsole(socketPath string, size *specs.Box) (*os.File, error) {
	master, slave, err := openPty(size)
	if err != nil {
		return nil, err
	}
	defer master.Close()
	if err := sendFd(socketPath, master.Name(), int(master.Fd())); err != nil {
		slave.Close()
		return nil, fmt.Errorf("send console to %q: %w", socketPath, spec.ErrnoOf(err))
	}
	return slave, nil
}

// openPty allocates a pty the size of process.consoleSize (when it gives
// one), as runc's init sizes its console before anyone sees it: podman
// fills consoleSize for -t, and conmon reads the size from the master.
func openPty(size *specs.Box) (master, slave *os.File, err error) {
	master, slave, err = pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("allocate pty: %w", err)
	}
	if size != nil && size.Height != 0 && size.Width != 0 {
		pty.Setsize(master, &pty.Winsize{Rows: uint16(size.Height), Cols: uint16(size.Width)})
	}
	return master, slave, nil
}

// sendPidfd sends a pidfd of the init over --pidfd-socket, as runc does.
func sendPidfd(socketPath string, pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(fd)
	return sendFd(socketPath, "pidfd", fd)
}

// sendFd connects to socketPath and sends fd with name as the message.
func sendFd(socketPath, name string, fd int) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, _, err = conn.WriteMsgUnix([]byte(name), unix.UnixRights(fd), nil)
	return err
}
