package runtime

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/runw/runw/spec"
)

// RunOptions are run's flags beyond create's.
type RunOptions struct {
	CreateOptions
	Detach bool
	Keep   bool
}

// Run is create + start, and in the foreground waits for the guest and
// returns its exit status, deleting the container unless Keep.
func (r *Runtime) Run(id string, o RunOptions) (int, error) {
	if !o.Detach && o.ConsoleSocket != "" {
		// runc's rule (checkTerminal): a run in the foreground proxies
		// its own terminal; the pty would go to the socket's holder and
		// the foreground wait to nobody.
		return 1, checkTerminal(true, o.ConsoleSocket, false)
	}
	var sigs chan os.Signal
	if !o.Detach {
		sigs = catchSignals()
		defer signal.Stop(sigs)
	}
	var tty, master *os.File
	if !o.Detach {
		if b, err := spec.Load(o.Bundle); err == nil && b.Spec.Process.Terminal {
			m, s, err := openPty(b.Spec.Process.ConsoleSize)
			if err != nil {
				return 1, err
			}
			master, tty = m, s
			defer master.Close()
		}
	}
	ip, err := r.create(id, o.CreateOptions, tty, "run")
	if tty != nil {
		tty.Close()
	}
	if err != nil {
		return 1, err
	}
	if ip.native {
		return r.runNative(id, ip.cmd, o, sigs)
	}
	if sig, ok := pendingStop(sigs); ok {
		// Taken during create: the guest would get it as it starts.
		r.Delete(id, true)
		return 128 + int(sig), nil
	}
	if err := r.Start(id); err != nil {
		r.Delete(id, true)
		return 1, err
	}
	if o.Detach {
		return 0, nil
	}
	logDebugf("%s: started, waiting", id)
	code := foreground(ip.cmd, master, sigs)
	logDebugf("%s: exited with %d", id, code)
	if !o.Keep {
		if err := r.Delete(id, true); err != nil {
			return code, err
		}
	}
	return code, nil
}

// catchSignals starts catching runw's signals for a foreground run or
// exec (waitRelay relays them), before the process they go to exists, as
// runc's run and exec make their signal handler before they start the
// container's process. A signal sent meanwhile then waits for that
// process rather than be lost: a window change as the terminal opened
// left the guest at the old size (Go ignores SIGWINCH until it is
// caught), and a SIGTERM ended runw in the middle of its create.
func catchSignals() chan os.Signal {
	// runc's buffer (signalBufferSize): no signal is dropped while the
	// container is made.
	sigs := make(chan os.Signal, 2048)
	signal.Notify(sigs, caught...)
	return sigs
}

// caught are the signals catchSignals takes: every one but SIGTTOU and
// SIGTTIN, left to stop runw (a runw in a background process group that
// sets up its terminal meets SIGTTOU: caught, Go's handler took it, the
// kernel restarted the call, and runw spun a core where it stopped; once
// caught, signal.Reset leaves Go's handler in place), those no process
// catches, and glibc's own two (32, 33), which Go's Notify of every
// signal leaves alone too.
var caught = func() []os.Signal {
	var sigs []os.Signal
	for sig := unix.Signal(1); sig <= 64; sig++ {
		switch sig {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGTTOU, unix.SIGTTIN, 32, 33:
			continue
		}
		sigs = append(sigs, sig)
	}
	return sigs
}()

// pendingStop takes the signals caught in sigs so far (nil: none) and
// returns the first that would end a process (one kill --all waits for:
// graceFor), putting the others back for the relay (a window change
// still resizes the guest's terminal). A caller about to start what it
// relays to ends with it instead, as that process would have.
func pendingStop(sigs chan os.Signal) (unix.Signal, bool) {
	var others []os.Signal
	defer func() {
		for _, s := range others {
			sigs <- s
		}
	}()
	for {
		select {
		case s := <-sigs:
			if sig, ok := s.(unix.Signal); ok && graceFor(sig) > 0 && sig != unix.SIGPIPE {
				return sig, true
			}
			others = append(others, s)
		default:
			return 0, false
		}
	}
}

// waitRelay relays runw's signals, caught in sigs (catchSignals; nil:
// from now), to cmd until it exits, and returns its status the way a
// shell reports it (128+signal if killed). A window change resizes
// master, the pty runw proxies its terminal to (nil: none), to runw's
// terminal, as runc's foreground run does. It leaves out the signals a
// terminal sends its foreground group (SIGINT, SIGQUIT, SIGTSTP) when
// fromTerminal (nil: never) says the child, in that group too, has them
// already.
func waitRelay(cmd *exec.Cmd, master *os.File, fromTerminal func() bool, sigs chan os.Signal) int {
	if sigs == nil {
		sigs = catchSignals()
	}
	defer signal.Stop(sigs)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if t := hostTerminal(); s == unix.SIGWINCH && master != nil && t != nil {
					pty.InheritSize(t, master)
					continue
				}
				if s == unix.SIGCHLD || s == unix.SIGURG || s == unix.SIGWINCH || s == unix.SIGPIPE {
					continue
				}
				if (s == unix.SIGINT || s == unix.SIGQUIT || s == unix.SIGTSTP) && fromTerminal != nil && fromTerminal() {
					continue
				}
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	return exitCode(err)
}

// foreground waits for cmd, relaying signals to it, with runw's terminal
// proxied to master when there is one, and returns its status.
func foreground(cmd *exec.Cmd, master *os.File, sigs chan os.Signal) int {
	if master != nil {
		defer proxyTTY(master, func() { cmd.Process.Signal(unix.SIGHUP) })()
	}
	return waitRelay(cmd, master, nil, sigs)
}

// exitCode turns a Wait result into a shell-style status.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

// proxyTTY copies between runw's stdio and the pty master, with runw's own
// terminal in raw mode so keys reach the guest as typed. The terminal is
// runc's: the first of stderr, stdout and stdin that is one (`printf x |
// runw run` from a shell still has its terminal made raw and its size
// passed on).
//
// Output goes through a duplicate of stdout: Go's runtime ends a program
// with SIGPIPE at a write to descriptor 1 or 2 that meets a closed pipe,
// and `runw run -t ... | head` died of it (141), its terminal left raw
// and the container not deleted. A write that fails (a closed pipe, a
// full disk) hangs the guest's terminal up, as runc's copy closes it: the
// guest ends (129), where it blocked writing to a pty nobody read.
// hangup sends the init the SIGHUP the hang-up means: the master's close
// alone waits, in Go, for the copy of stdin blocked writing into it.
func proxyTTY(master *os.File, hangup func()) func() {
	restore := func() {}
	if t := hostTerminal(); t != nil {
		if st, err := term.MakeRaw(int(t.Fd())); err == nil {
			restore = func() { term.Restore(int(t.Fd()), st) }
		}
		pty.InheritSize(t, master)
	}
	go io.Copy(master, os.Stdin)
	out := os.Stdout
	if fd, err := unix.FcntlInt(os.Stdout.Fd(), unix.F_DUPFD_CLOEXEC, 0); err == nil {
		out = os.NewFile(uintptr(fd), "stdout")
	}
	done := make(chan struct{})
	go func() {
		if _, err := io.Copy(out, master); err != nil && !errors.Is(err, unix.EIO) {
			hangup()
			master.Close()
		}
		if out != os.Stdout {
			out.Close()
		}
		close(done)
	}()
	return func() {
		// The guest has exited: drain what it wrote before giving the
		// terminal back (the master reads EIO once the slave is closed).
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		restore()
	}
}

// hostTerminal is runw's terminal, as runc finds it: the first of
// stderr, stdout and stdin that is a terminal; nil when none is.
func hostTerminal() *os.File {
	for _, f := range []*os.File{os.Stderr, os.Stdout, os.Stdin} {
		if term.IsTerminal(int(f.Fd())) {
			return f
		}
	}
	return nil
}

// runNative runs a handed-off container with the native runtime's own
// `run`, and drops the marker when the native runtime deleted it.
func (r *Runtime) runNative(id string, cmd *exec.Cmd, o RunOptions, sigs chan os.Signal) (int, error) {
	err := runNative(cmd, sigs)
	code := 0
	var ne *NativeExit
	if errors.As(err, &ne) {
		code, err = ne.Code, nil
	}
	if err != nil {
		code = 1
	}
	if !o.Detach && !o.Keep {
		if h, lerr := r.store.Lock(id); lerr == nil {
			h.Destroy()
		}
	}
	return code, err
}
