package preview1

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi/netdns"
)

// Module is the import module every preview1 guest links against.
const Module = "wasi_snapshot_preview1"

// Config is what the guest is granted.
type Config struct {
	// Args is argv, argv[0] included.
	Args []string
	// Env is the environment, exactly, as KEY=VALUE strings.
	Env []string
	// Mounts is the container's file view; the rootfs ("/") first.
	Mounts []Mount
	// Preopens are the guest paths of the directories handed to the
	// guest as preopened descriptors 3, 4, ...: "/" first, so that Go and
	// wasi-libc resolve absolute paths against the whole view.
	Preopens []string
	// Go says the guest was built by Go's wasip1 port (wasi.Plan.Go says
	// why each matters): fd_prestat_dir_name reports every preopen but
	// "/" with a trailing slash (the view is unchanged), and a write to
	// its fd 1 or 2 that meets a closed pipe ends it with 128+SIGPIPE, as
	// Go's runtime ends a native program, where other guests get EPIPE.
	Go bool
	// Pid1 says the guest stands where a native init would (pid 1 of
	// its own pid namespace, no engine's init in front of it): a Go
	// guest's SIGPIPE then ends it with 2, as Go's runtime exits a
	// native init the kernel spares the signal it raises.
	Pid1 bool
	// Stdio are the host descriptors behind guest 0, 1 and 2.
	Stdio [3]int
	// Inherited are host descriptors runw's caller preserved for the
	// container (--preserve-fds), in its order: the guest gets them
	// after the listeners (inheritedEntry), and the guest's table owns
	// them from then on.
	Inherited []int
	// Net is the network grant.
	Net Network
	// Resolve answers sock_getaddrinfo; nil is netdns.Lookup.
	Resolve Resolver
	// MaxSubscriptions bounds one poll_oneoff call (0: 1<<20; see
	// maxSubscriptions). Under a memory limit it is what the init's
	// reserve beside linear memory affords.
	MaxSubscriptions int
}

// ListenFdsEnv names the variable that tells the guest the descriptor
// numbers of its preopened listeners, comma-separated, in the order they
// were declared.
const ListenFdsEnv = "RUNW_LISTEN_FDS"

// Host is one guest's WASI: its descriptor table, its view of the files,
// and the stop descriptor that ends any blocking call.
//
// A Host serves one store, whose guest runs on one thread: host calls are
// never concurrent, so its state needs no lock; only Stop is called from
// another goroutine.
type Host struct {
	args, env [][]byte
	view      *View
	fds       table
	net       Network
	resolve   Resolver
	// goGuest is Config.Go.
	goGuest bool
	// pid1 is Config.Pid1.
	pid1 bool
	// maxSubs is Config.MaxSubscriptions, or maxSubscriptions.
	maxSubs uint32
	// c is the C side the trampoline reaches (trampoline.go).
	c cHost

	// stopFd is an eventfd that every blocking wait polls beside its own
	// descriptor: Stop makes it readable and the wait returns a trap.
	stopFd  int
	stopped atomic.Bool
	// ctx ends at Stop: it bounds what waits outside poll(2), the name
	// resolver's exchanges.
	ctx    context.Context
	cancel context.CancelFunc

	exited   bool
	exitCode int32

	// callDeadline is when the socket call under way gives up waiting
	// (waitSock); zero until its first wait, and at each call's start.
	callDeadline time.Time

	// iov is scratch space for the buffers of one read or write.
	iov [][]byte
	// iovecs is the same buffers as the kernel's iovec records.
	iovecs []unix.Iovec
	// poll is poll_oneoff's scratch, and ep the epoll set it waits in.
	poll pollScratch
	ep   epoller
	// dents is fd_readdir's getdents buffer.
	dents []byte
	// polls counts the guest's poll_oneoff calls and lastPoll is when the
	// last one returned: pollTurn reads them.
	polls    uint64
	lastPoll time.Time
	// calls counts the host calls that reach Go (clock_time_get is
	// answered in C); yields counts the guest's sched_yield calls in a
	// row, each soon after lastYield with no other call between (the
	// last yield's calls was yieldCalls): schedYield reads them.
	calls      uint64
	yields     int
	slowYields int
	yieldCalls uint64
	lastYield  time.Time
}

// New builds the host for one guest: it opens the view's mounts and the
// preopens. Errors here are the container's create errors.
func New(cfg Config) (*Host, error) {
	view, err := NewView(cfg.Mounts)
	if err != nil {
		return nil, err
	}
	if err := view.addStreams(cfg.Stdio); err != nil {
		view.Close()
		return nil, err
	}
	stopFd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		view.Close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	h := &Host{view: view, stopFd: stopFd, net: cfg.Net, resolve: cfg.Resolve, goGuest: cfg.Go, pid1: cfg.Pid1, maxSubs: maxSubscriptions, iov: make([][]byte, 0, 16), lastPoll: time.Now()}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.fds.ep = &h.ep
	if h.resolve == nil {
		h.resolve = netdns.Lookup
	}
	if cfg.MaxSubscriptions > 0 {
		h.maxSubs = uint32(min(cfg.MaxSubscriptions, maxSubscriptions))
	}
	for _, a := range cfg.Args {
		h.args = append(h.args, append([]byte(a), 0))
	}
	for i, fd := range cfg.Stdio {
		h.fds.fds = append(h.fds.fds, stdioEntry(i, fd))
	}
	for _, p := range cfg.Preopens {
		i, ok := view.byGuest[p]
		if !ok || !view.mounts[i].dir {
			h.Close()
			return nil, fmt.Errorf("preopen %q is not a directory mount of the view", p)
		}
		mp := &view.mounts[i]
		name := p
		if cfg.Go && p != "/" {
			name += "/"
		}
		h.fds.fds = append(h.fds.fds, &fdEntry{
			kind: kindDir, hostFd: mp.fd, filetype: filetypeDirectory,
			rightsBase: rightsDirBase, rightsInheriting: view.inheriting(i, p),
			read: true, guest: p, mount: i, preopen: name,
		})
	}
	// Listeners come after every directory: wasi-libc and Go stop their
	// preopen scan at the first EBADF from fd_prestat_get, which a socket
	// answers, so a listener before a directory would hide it
	// (wasmtime#3936).
	var listening, preserved []string
	for _, l := range cfg.Net.Listeners {
		// A listener may come from the image's own ENV (RUNW_LISTEN):
		// it must not open a port the operator's listen grant leaves
		// out, as the root init binds it before capabilities drop and
		// before Landlock.
		if !allowed(cfg.Net.Listen, l.Addr) {
			h.Close()
			return nil, &ListenError{fmt.Errorf("listen %s: outside the listen grant (io.github.runw.net.listen)", l)}
		}
		fd, family, typ, err := bindListener(l)
		if err != nil {
			h.Close()
			return nil, &ListenError{err}
		}
		noDelay(fd, typ)
		// NONBLOCK, as wasmtime's tcplisten gave it: Go's os.NewFile
		// then treats the listener as pollable and parks Accept in its
		// netpoller, where a blocking accept would stop every goroutine
		// of the single-threaded guest. A guest that wants a blocking
		// listener clears the flag (Rust's set_nonblocking(false)).
		id, _ := h.fds.add(sockEntry(fd, family, typ, fdflagNonblock))
		listening = append(listening, strconv.Itoa(int(id)))
	}
	// The descriptors the caller preserved come last, in its order.
	for i, fd := range cfg.Inherited {
		unix.CloseOnExec(fd)
		e, listener, err := inheritedEntry(fd, cfg.Net)
		if err != nil {
			h.Close()
			return nil, &InheritError{Index: i, Err: err}
		}
		id, errno := h.fds.add(e)
		if errno != 0 {
			h.Close()
			return nil, &InheritError{Index: i, Err: fmt.Errorf("more descriptors than the guest's table holds (%d)", maxFds)}
		}
		preserved = append(preserved, strconv.Itoa(int(id)))
		if listener {
			listening = append(listening, strconv.Itoa(int(id)))
		}
	}
	// Only runw says which descriptors are listeners or preserved: a
	// value the image or a copied environment (podman exec) holds names
	// nothing, and the guest must see the numbers runw assigned.
	env := withoutEnv(withoutEnv(cfg.Env, ListenFdsEnv), PreservedFdsEnv)
	if len(listening) > 0 {
		env = append(env, ListenFdsEnv+"="+strings.Join(listening, ","))
	}
	if len(preserved) > 0 {
		env = append(env, PreservedFdsEnv+"="+strings.Join(preserved, ","))
	}
	for _, e := range env {
		h.env = append(h.env, append([]byte(e), 0))
	}
	return h, nil
}

// withoutEnv is env without its entries for key.
func withoutEnv(env []string, key string) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k != key {
			out = append(out, e)
		}
	}
	return out
}

// stdioEntry describes host descriptor fd as guest descriptor i.
func stdioEntry(i, fd int) *fdEntry {
	return streamEntry(fd, i == 0, i != 0)
}

// streamEntry describes host descriptor fd, shared with runw's caller, as
// a stream the guest may read, write, or both.
func streamEntry(fd int, read, write bool) *fdEntry {
	e := &fdEntry{kind: kindStdio, hostFd: fd, read: read, write: write, pollable: true}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err == nil {
		e.filetype = filetypeOf(st.Mode)
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			// A file (run > out.log) never blocks.
			e.pollable = false
		}
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil && fl&unix.O_APPEND != 0 {
		// `run >> out.log`: the kernel puts every write at the end, and
		// fd_fdstat_get (fcntl F_GETFL) says so, as natively.
		e.flags |= fdflagAppend
	}
	e.rightsBase = rightPollFdReadwrite
	if e.read {
		e.rightsBase |= rightFdRead
	}
	if e.write {
		e.rightsBase |= rightFdWrite
	}
	if e.filetype != filetypeRegularFile {
		e.rightsBase |= rightFdFdstatSetFlags
	} else {
		// `run < in.txt`, `run > out.log`: a file seeks, and says so.
		e.rightsBase |= rightFdSeek | rightFdTell
	}
	if e.filetype == filetypeCharacterDevice && !isTerminal(fd) {
		// wasi-libc's isatty (and Rust's, and Zig's) is "a character
		// device without the seek and tell rights": /dev/null, which
		// podman gives a container's stdin without -i, must not pass
		// for a terminal, or the guest turns interactive (line-buffered
		// output, prompts).
		e.rightsBase |= rightFdSeek | rightFdTell
	}
	e.rightsInheriting = e.rightsBase
	return e
}

// isTerminal says fd is a terminal, as isatty does: TCGETS answers.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// Stop ends the guest's current or next blocking host call: it returns a
// trap the caller recognises (Stopped). Safe from any goroutine.
func (h *Host) Stop() {
	h.stopped.Store(true)
	h.cancel()
	var one = [8]byte{1}
	_, _ = unix.Write(h.stopFd, one[:])
}

// Exited reports whether the guest called proc_exit, and its code.
func (h *Host) Exited() (int32, bool) { return h.exitCode, h.exited }

// Close releases every descriptor the host holds.
func (h *Host) Close() {
	if h.cancel != nil {
		h.cancel()
	}
	h.c.free()
	h.fds.closeAll()
	h.ep.close()
	h.view.Close()
	unix.Close(h.stopFd)
}

// wait blocks until fd is ready for events or Stop is called. It returns
// errnoStop when stopped.
func (h *Host) wait(fd int, events int16) Errno { return h.waitFor(fd, events, 0) }

// waitFor is wait that gives up after timeout (when positive) with EAGAIN.
func (h *Host) waitFor(fd int, events int16, timeout time.Duration) Errno {
	fds := [2]unix.PollFd{{Fd: int32(fd), Events: events}, {Fd: int32(h.stopFd), Events: unix.POLLIN}}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		if h.stopped.Load() {
			return errnoStop
		}
		ms := -1
		if timeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return ErrnoAgain
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
			if timeout == immediateTimeout {
				ms = 0 // Linux's timeout of nothing: look, do not wait
			}
		}
		n, err := unix.Poll(fds[:], ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return toErrno(err)
		}
		if n == 0 {
			continue
		}
		if fds[1].Revents != 0 {
			return errnoStop
		}
		if fds[0].Revents != 0 {
			return 0
		}
	}
}

// ready says whether fd is ready for events now, without blocking.
func ready(fd int, events int16) bool {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: events}}
	n, _ := unix.Poll(fds[:], 0)
	return n > 0
}

// Sentinels a host function returns instead of an errno: the wrapper turns
// them into traps.
const (
	errnoStop  Errno = -1
	errnoExit  Errno = -2
	errnoPanic Errno = -3
)
