package preview1

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// guest is a host under test with a plain byte slice as its memory: the
// host functions are called directly, as wasm would call them.
type guest struct {
	t   testing.TB
	h   *Host
	mem memory
	// next is where the next string is placed in mem.
	next uint32
}

func newGuest(t testing.TB, mounts []Mount, preopens []string) *guest {
	t.Helper()
	h, err := New(Config{Args: []string{"test"}, Mounts: mounts, Preopens: preopens, Stdio: [3]int{0, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return &guest{t: t, h: h, mem: make(memory, 1<<16), next: 1024}
}

func byName(name string) fn {
	for _, f := range functions {
		if f.name == name {
			return f
		}
	}
	panic("no function " + name)
}

// call runs a host function with integer arguments.
func (g *guest) call(name string, args ...int64) Errno {
	f := byName(name)
	vals := make([]arg, len(args))
	for i, a := range args {
		if f.params[i] == 'I' {
			vals[i] = arg{lo: uint64(a)}
		} else {
			vals[i] = arg{lo: uint64(uint32(int32(a)))}
		}
	}
	return f.body(g.h, g.mem, vals)
}

// str places s in memory and returns (ptr, len).
func (g *guest) str(s string) (int64, int64) {
	p := g.next
	copy(g.mem[p:], s)
	g.next += uint32(len(s)) + 8
	if g.next > 60000 {
		g.next = 1024
	}
	return int64(p), int64(len(s))
}

const resultPtr = 16

// open opens p relative to dirfd and returns the new fd.
func (g *guest) open(dirfd int64, p string, follow bool, oflags int64, rights int64) (int64, Errno) {
	ptr, n := g.str(p)
	var lf int64
	if follow {
		lf = lookupSymlinkFollow
	}
	e := g.call("path_open", dirfd, lf, ptr, n, oflags, rights, 0, 0, resultPtr)
	return int64(binary.LittleEndian.Uint32(g.mem[resultPtr:])), e
}

// read returns up to 4 KiB from fd.
func (g *guest) read(fd int64) (string, Errno) {
	binary.LittleEndian.PutUint32(g.mem[32:], 8192)
	binary.LittleEndian.PutUint32(g.mem[36:], 4096)
	e := g.call("fd_read", fd, 32, 1, resultPtr)
	if e != 0 {
		return "", e
	}
	return string(g.mem[8192 : 8192+binary.LittleEndian.Uint32(g.mem[resultPtr:])]), 0
}

// writeFd writes text to fd with one fd_write (the data at 8192, its
// iovec at 32).
func (g *guest) writeFd(fd int64, text string) Errno {
	copy(g.mem[8192:], text)
	binary.LittleEndian.PutUint32(g.mem[32:], 8192)
	binary.LittleEndian.PutUint32(g.mem[36:], uint32(len(text)))
	return g.call("fd_write", fd, 32, 1, resultPtr)
}

// pollRead runs poll_oneoff on one FD_READ subscription to fd (at 20000,
// its event at 21000).
func (g *guest) pollRead(fd uint32) Errno {
	sub := g.mem[20000 : 20000+subscriptionSize]
	clear(sub)
	binary.LittleEndian.PutUint64(sub, 7)
	sub[8] = eventFdRead
	binary.LittleEndian.PutUint32(sub[16:], fd)
	return g.call("poll_oneoff", 20000, 21000, 1, resultPtr)
}

// cat opens p from the root preopen (fd 3), following links, and reads it.
func (g *guest) cat(p string) (string, Errno) {
	fd, e := g.open(3, p, true, 0, rightFdRead)
	if e != 0 {
		return "", e
	}
	defer g.call("fd_close", fd)
	return g.read(fd)
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// layout makes a rootfs, a directory mount at /data and a host secret
// outside both, and returns a guest over them.
func layout(t *testing.T, dataRO bool) (g *guest, rootfs, data, secret string) {
	base := t.TempDir()
	rootfs, data = filepath.Join(base, "rootfs"), filepath.Join(base, "data")
	secret = filepath.Join(base, "secret")
	write(t, secret, "HOST SECRET")
	write(t, filepath.Join(rootfs, "etc/real"), "rootfs real")
	write(t, filepath.Join(rootfs, "usr/bin/tool"), "the tool")
	write(t, filepath.Join(data, "inside"), "data inside")
	g = newGuest(t, []Mount{{Guest: "/", Host: rootfs}, {Guest: "/data", Host: data, ReadOnly: dataRO}}, []string{"/", "/data"})
	return g, rootfs, data, secret
}

func TestSymlinksInsideTheContainerWork(t *testing.T) {
	g, rootfs, data, _ := layout(t, false)
	symlink(t, "usr/bin", filepath.Join(rootfs, "bin"))
	symlink(t, "/etc/real", filepath.Join(rootfs, "etc/alt"))
	symlink(t, "/data/inside", filepath.Join(rootfs, "to-data"))
	symlink(t, "/etc/real", filepath.Join(data, "to-rootfs"))
	symlink(t, "../etc/real", filepath.Join(data, "up-to-rootfs"))
	for p, want := range map[string]string{
		"bin/tool":          "the tool",
		"etc/alt":           "rootfs real",
		"to-data":           "data inside",
		"data/to-rootfs":    "rootfs real",
		"data/up-to-rootfs": "rootfs real",
		"data/../etc/real":  "rootfs real",
	} {
		if got, e := g.cat(p); e != 0 || got != want {
			t.Errorf("cat %s: %q errno %d, want %q", p, got, e, want)
		}
	}
}

// The attacks: every way out of the view must end inside it or fail.
func TestSymlinksCannotLeaveTheView(t *testing.T) {
	g, rootfs, data, secret := layout(t, false)
	up := strings.Repeat("../", 20)
	symlink(t, secret, filepath.Join(rootfs, "abs"))
	symlink(t, up+strings.TrimPrefix(secret, "/"), filepath.Join(rootfs, "rel"))
	symlink(t, up+strings.TrimPrefix(secret, "/"), filepath.Join(data, "rel"))
	symlink(t, "/proc/self/root"+secret, filepath.Join(data, "magic"))
	symlink(t, "/proc/self/root", filepath.Join(data, "magicdir"))
	for _, p := range []string{"abs", "rel", "data/rel", "data/magic", "data/magicdir" + secret} {
		if got, e := g.cat(p); e == 0 || strings.Contains(got, "HOST SECRET") {
			t.Errorf("cat %s: %q errno %d, want a failure", p, got, e)
		}
	}
	// ".." in the guest's own path may not leave its directory descriptor.
	for _, p := range []string{"..", "../secret", "data/../../secret", "/etc/real"} {
		if _, e := g.cat(p); e != ErrnoPerm {
			t.Errorf("cat %s: errno %d, want PERM", p, e)
		}
	}
	// From a mount's preopen, ".." climbs into the container's tree, as
	// natively (wasi-libc hands "/data/../etc/real" to /data as
	// "../etc/real"), and stops at "/": never outside the view.
	for _, p := range []string{"../etc/real", "../../../etc/real"} {
		fd, e := g.open(4, p, true, 0, rightFdRead)
		if e != 0 {
			t.Errorf("/data preopen %s: errno %d, want the rootfs's file", p, e)
			continue
		}
		if got, _ := g.read(fd); got != "rootfs real" {
			t.Errorf("/data preopen %s: %q, want the rootfs's file", p, got)
		}
	}
	// The host directory holding the mount's source holds the secret:
	// a climb by the kernel's ".." would find it as "../secret".
	if fd, e := g.open(4, "../"+filepath.Base(secret), true, 0, rightFdRead); e == 0 {
		got, _ := g.read(fd)
		t.Errorf("/data preopen ../%s: opened %q, want a failure", filepath.Base(secret), got)
	}
	// A descriptor the guest opened itself on the mount's root is its
	// capability, as any directory it opened: ".." may not leave it
	// (EPERM, as under wasmtime; wasmtime's interesting_paths test).
	// runw climbed, as from the preopen.
	dir, e := g.open(4, ".", true, oflagDirectory, rightPathOpen)
	if e != 0 {
		t.Fatalf("open /data itself: errno %d", e)
	}
	for _, p := range []string{"../etc/real", "./../etc/real"} {
		if fd, e := g.open(dir, p, true, 0, rightFdRead); e != ErrnoPerm {
			got, _ := g.read(fd)
			t.Errorf("/data opened by the guest, %s: errno %d (%q), want PERM", p, e, got)
		}
	}
}

// A symlink flipped between a safe target and a host path while the guest
// reads through it: the guest never sees the host file.
func TestSymlinkSwapRace(t *testing.T) {
	g, rootfs, _, secret := layout(t, false)
	link := filepath.Join(rootfs, "flip")
	symlink(t, "etc/real", link)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		targets := []string{"etc/real", secret, "../../../../../../.." + secret, "etc"}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := link + ".new"
			_ = os.Symlink(targets[i%len(targets)], tmp)
			_ = os.Rename(tmp, link)
		}
	}()
	deadline := time.Now().Add(3 * time.Second)
	reads := 0
	for time.Now().Before(deadline) {
		for _, p := range []string{"flip", "flip/real"} {
			if got, _ := g.cat(p); strings.Contains(got, "HOST SECRET") {
				t.Fatalf("read the host's file through a swapped link after %d reads", reads)
			}
			reads++
		}
	}
	close(stop)
	<-done
	t.Logf("%d reads through a link swapped under them, none reached the host", reads)
}

// path_link of "x/" while x is swapped between a file and a symlink to a
// host directory outside the view: the kernel is never handed the
// trailing slash, which makes linkat follow a last-name symlink runw
// never read (to the host's directory: EPERM, a link to a directory,
// or EXDEV across mounts, answers that told the guest what exists
// outside). The source's own check answers ENOTDIR for a file.
func TestLinkTrailingSlashSwapRace(t *testing.T) {
	g, rootfs, _, secret := layout(t, false)
	file, sl := filepath.Join(rootfs, "x"), filepath.Join(rootfs, "sl")
	write(t, file, "a file")
	symlink(t, filepath.Dir(secret), sl)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = unix.Renameat2(unix.AT_FDCWD, file, unix.AT_FDCWD, sl, unix.RENAME_EXCHANGE)
		}
	}()
	src, sn := g.str("x/")
	dst, dn := g.str("y")
	seen := map[Errno]int{}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		e := g.call("path_link", 3, 0, src, sn, 3, dst, dn)
		seen[e]++
		if e == 0 {
			_ = g.call("path_unlink_file", 3, dst, dn)
		}
	}
	close(stop)
	<-done
	for e, n := range seen {
		if e != ErrnoNotdir && e != ErrnoNoent {
			t.Errorf("path_link x/ under a swap: errno %d %d times, want only NOTDIR and NOENT (all: %v)", e, n, seen)
		}
	}
	if seen[ErrnoNotdir] == 0 {
		t.Errorf("path_link x/ of a file never answered NOTDIR: %v", seen)
	}
}

// Every write into a read-only grant fails, and the file stays as it was.
func TestReadOnlyGrantRefusesEveryWrite(t *testing.T) {
	g, _, data, _ := layout(t, true)
	p := func(s string) (int64, int64) { return g.str(s) }
	inside, n := p("inside")
	other, on := p("other")
	cases := map[string]func() Errno{
		"open for write": func() Errno { _, e := g.open(4, "inside", true, 0, rightFdWrite); return e },
		"create":         func() Errno { _, e := g.open(4, "new", true, oflagCreat, rightFdRead); return e },
		"truncate":       func() Errno { _, e := g.open(4, "inside", true, oflagTrunc, rightFdRead); return e },
		"mkdir":          func() Errno { return g.call("path_create_directory", 4, other, on) },
		"unlink":         func() Errno { return g.call("path_unlink_file", 4, inside, n) },
		"rmdir":          func() Errno { return g.call("path_remove_directory", 4, inside, n) },
		"rename":         func() Errno { return g.call("path_rename", 4, inside, n, 4, other, on) },
		"symlink":        func() Errno { return g.call("path_symlink", inside, n, 4, other, on) },
		"link":           func() Errno { return g.call("path_link", 4, 0, inside, n, 4, other, on) },
		"utimes":         func() Errno { return g.call("path_filestat_set_times", 4, 0, inside, n, 1, 1, fstAtim|fstMtim) },
	}
	for name, op := range cases {
		if e := op(); e != ErrnoRofs {
			t.Errorf("%s in a read-only mount: errno %d, want EROFS", name, e)
		}
	}
	// Between mounts Linux says EXDEV before it asks for write access.
	if e := g.call("path_rename", 4, inside, n, 3, other, on); e != ErrnoXdev {
		t.Errorf("rename from a read-only mount to the rootfs: errno %d, want EXDEV", e)
	}
	if e := g.call("path_rename", 3, other, on, 4, inside, n); e != ErrnoXdev {
		t.Errorf("rename from the rootfs into a read-only mount: errno %d, want EXDEV", e)
	}
	// A file opened for reading cannot be written or resized either.
	fd, e := g.open(4, "inside", true, 0, rightFdRead)
	if e != 0 {
		t.Fatal(e)
	}
	if e := g.call("fd_filestat_set_size", fd, 0); e != ErrnoInval {
		t.Errorf("fd_filestat_set_size: errno %d, want EINVAL, as ftruncate answers", e)
	}
	if e := g.call("fd_filestat_set_times", fd, 1, 1, fstAtim); e != ErrnoRofs {
		t.Errorf("fd_filestat_set_times: errno %d, want EROFS", e)
	}
	if got, _ := os.ReadFile(filepath.Join(data, "inside")); string(got) != "data inside" {
		t.Errorf("the read-only file changed: %q", got)
	}
	if entries, _ := os.ReadDir(data); len(entries) != 1 {
		t.Errorf("the read-only mount has %d entries, want 1", len(entries))
	}
}

// A read-only mount's directories pass on no FD_WRITE, so that wasi-libc's
// access(W_OK), which reads those rights, says no there; a writable
// tree's directories do. wasi-libc's O_WRONLY through such a directory
// asks for FD_ALLOCATE without FD_WRITE: still a write, refused with EROFS
// in the read-only mount and granted in a writable one.
func TestReadOnlyDirectoriesPassOnNoWriteRight(t *testing.T) {
	g, _, _, _ := layout(t, true)
	inheriting := func(fd int64) uint64 {
		t.Helper()
		if e := g.call("fd_fdstat_get", fd, resultPtr); e != 0 {
			t.Fatalf("fd_fdstat_get(%d): errno %d", fd, e)
		}
		return binary.LittleEndian.Uint64(g.mem[resultPtr+16:])
	}
	if inheriting(4)&rightFdWrite != 0 {
		t.Error("the read-only /data preopen passes on FD_WRITE")
	}
	if inheriting(3)&rightFdWrite == 0 {
		t.Error("the writable / preopen passes on no FD_WRITE")
	}
	for p, wantWrite := range map[string]bool{"data": false, "etc": true} {
		fd, e := g.open(3, p, true, oflagDirectory, rightFdReaddir)
		if e != 0 {
			t.Fatalf("open %s: errno %d", p, e)
		}
		if got := inheriting(fd)&rightFdWrite != 0; got != wantWrite {
			t.Errorf("the directory %s, opened by the guest, passes on FD_WRITE: %v, want %v", p, got, wantWrite)
		}
	}
	libcWronly := int64(rightFdAllocate | rightFdFilestatSetSize | rightFdSeek | rightFdDatasync)
	if _, e := g.open(4, "inside", true, 0, libcWronly); e != ErrnoRofs {
		t.Errorf("wasi-libc's O_WRONLY in the read-only mount: errno %d, want EROFS", e)
	}
	fd, e := g.open(4, "../etc/real", true, 0, libcWronly)
	if e != 0 {
		t.Fatalf("wasi-libc's O_WRONLY from /data to the writable /etc/real: errno %d", e)
	}
	if e := g.writeFd(fd, "new!"); e != 0 {
		t.Errorf("fd_write to it: errno %d, want success", e)
	}
}

// A FIFO in a read-only mount opens for writing, O_TRUNC or not, as Linux
// opens it (EROFS is for a file's, a directory's or a link's data); a
// regular file beside it still does not.
func TestReadOnlyGrantOpensAFIFOForWriting(t *testing.T) {
	g, _, data, _ := layout(t, true)
	fifo := filepath.Join(data, "fifo")
	if err := unix.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, oflags := range []int64{0, oflagTrunc, oflagCreat} {
		fd, e := g.open(4, "fifo", true, oflags, rightFdWrite)
		if e != 0 {
			t.Fatalf("open the FIFO for writing (oflags %#x): errno %d, want success", oflags, e)
		}
		if e := g.writeFd(fd, "ping"); e != 0 {
			t.Fatalf("fd_write to the FIFO: errno %d", e)
		}
		buf := make([]byte, 16)
		if n, err := r.Read(buf); err != nil || string(buf[:n]) != "ping" {
			t.Errorf("the reader got %q, %v; want \"ping\"", buf[:n], err)
		}
		g.call("fd_close", fd)
	}
	if _, e := g.open(4, "inside", true, oflagTrunc, rightFdWrite); e != ErrnoRofs {
		t.Errorf("open a file beside it for writing: errno %d, want EROFS", e)
	}
	if got, _ := os.ReadFile(filepath.Join(data, "inside")); string(got) != "data inside" {
		t.Errorf("the read-only file changed: %q", got)
	}
}

// A FIFO that has never had a writer reads as end of file, non-blocking
// or blocking, as on Linux (the idiom: open with O_NONBLOCK so that the
// open does not wait, clear it, read). runw answered EAGAIN, and waited
// for ever once the guest cleared NONBLOCK. A writer's data and its
// close still come through.
func TestFIFOWithoutAWriterReadsEOF(t *testing.T) {
	g, _, data, _ := layout(t, true)
	fifo := filepath.Join(data, "fifo")
	if err := unix.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	ptr, n := g.str("fifo")
	if e := g.call("path_open", 4, lookupSymlinkFollow, ptr, n, 0, rightFdRead|rightFdFdstatSetFlags, 0, fdflagNonblock, resultPtr); e != 0 {
		t.Fatalf("open the FIFO non-blocking: errno %d", e)
	}
	fd := int64(binary.LittleEndian.Uint32(g.mem[resultPtr:]))
	if got, e := g.read(fd); e != 0 || got != "" {
		t.Errorf("a non-blocking read, no writer: %q errno %d; want end of file", got, e)
	}
	if e := g.call("fd_fdstat_set_flags", fd, 0); e != 0 {
		t.Fatalf("clear NONBLOCK: errno %d", e)
	}
	done := make(chan Errno, 1)
	go func() { _, e := g.read(fd); done <- e }()
	select {
	case e := <-done:
		if e != 0 {
			t.Errorf("a blocking read, no writer: errno %d; want end of file", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a blocking read of a FIFO with no writer waited")
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		w.Write([]byte("late"))
		w.Close()
	}()
	if got, e := g.read(fd); e != 0 || got != "late" {
		t.Errorf("a blocking read, a writer that writes later: %q errno %d", got, e)
	}
	if got, e := g.read(fd); e != 0 || got != "" {
		t.Errorf("a read after the writer closed: %q errno %d; want end of file", got, e)
	}
}

// File mounts are reachable by path; a mount point cannot be removed; a
// file mount whose source is a symlink grants what the link names when
// the view is made, as runc's bind mount would.
func TestFileMounts(t *testing.T) {
	base := t.TempDir()
	rootfs := filepath.Join(base, "rootfs")
	hosts := filepath.Join(base, "hosts")
	write(t, hosts, "127.0.0.1 localhost\n")
	write(t, filepath.Join(base, "real-log"), "")
	symlink(t, filepath.Join(base, "real-log"), filepath.Join(base, "log-link"))
	write(t, filepath.Join(rootfs, "etc/hosts"), "image's own hosts\n")
	if err := os.Mkdir(filepath.Join(rootfs, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, []Mount{
		{Guest: "/", Host: rootfs},
		{Guest: "/etc/hosts", Host: hosts, ReadOnly: true},
		{Guest: "/dev/termination-log", Host: filepath.Join(base, "log-link")},
	}, []string{"/"})
	if got, e := g.cat("etc/hosts"); e != 0 || got != "127.0.0.1 localhost\n" {
		t.Errorf("cat /etc/hosts: %q errno %d", got, e)
	}
	if _, e := g.open(3, "etc/hosts", true, 0, rightFdWrite); e != ErrnoRofs {
		t.Errorf("open ro file mount for write: errno %d, want EROFS", e)
	}
	fd, e := g.open(3, "dev/termination-log", true, 0, rightFdWrite)
	if e != 0 {
		t.Fatalf("open /dev/termination-log: errno %d", e)
	}
	if e := g.writeFd(fd, "done"); e != 0 {
		t.Fatalf("fd_write: %d", e)
	}
	if got, _ := os.ReadFile(filepath.Join(base, "real-log")); string(got) != "done" {
		t.Errorf("termination log on the host: %q", got)
	}
	ptr, n := g.str("etc/hosts")
	if e := g.call("path_unlink_file", 3, ptr, n); e != ErrnoRofs && e != ErrnoBusy {
		t.Errorf("unlink a file mount: errno %d, want EBUSY or EROFS", e)
	}
}

// A guest blocked reading a pipe is released by Stop at once.
func TestStopEndsABlockedRead(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	rootfs := t.TempDir()
	h, err := New(Config{Mounts: []Mount{{Guest: "/", Host: rootfs}}, Preopens: []string{"/"}, Stdio: [3]int{int(r.Fd()), 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	g := &guest{t: t, h: h, mem: make(memory, 1<<16)}
	got := make(chan Errno)
	go func() { _, e := g.read(0); got <- e }()
	time.Sleep(50 * time.Millisecond)
	h.Stop()
	select {
	case e := <-got:
		if e != errnoStop {
			t.Errorf("blocked read ended with %d, want the stop", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not end a blocked read")
	}
}

// Out-of-range pointers answer EFAULT, never a panic.
func TestBadPointersAreEFAULT(t *testing.T) {
	g, _, _, _ := layout(t, false)
	for _, c := range []struct {
		name string
		args []int64
	}{
		{"args_sizes_get", []int64{1 << 16, 0}},
		{"fd_write", []int64{1, 65530, 1, resultPtr}},
		{"fd_write", []int64{1, 32, 1 << 30, resultPtr}},
		{"fd_prestat_dir_name", []int64{3, 65536, 10}},
		{"path_open", []int64{3, 0, 65530, 100, 0, 0, 0, 0, resultPtr}},
		{"random_get", []int64{100, 1 << 20}},
		{"poll_oneoff", []int64{0, 0, 1 << 20, resultPtr}},
		{"fd_readdir", []int64{3, 65000, 4096, 0, resultPtr}},
	} {
		if e := g.call(c.name, c.args...); e != ErrnoFault {
			t.Errorf("%s%v: errno %d, want EFAULT", c.name, c.args, e)
		}
	}
}

// FuzzHostCalls drives every host function with random arguments and
// memory: none may panic, and none may write outside the view (the host
// secret beside it stays as it was).
func FuzzHostCalls(f *testing.F) {
	base := f.TempDir()
	rootfs, secret := filepath.Join(base, "rootfs"), filepath.Join(base, "secret")
	write(f, secret, "HOST SECRET")
	write(f, filepath.Join(rootfs, "etc/file"), "content")
	symlink(f, "/etc", filepath.Join(rootfs, "link"))
	g := newGuest(f, []Mount{{Guest: "/", Host: rootfs}}, []string{"/"})
	// A stopped host answers every wait at once: nothing blocks the fuzzer.
	g.h.Stop()
	// Sockets are granted, narrowed so that the fuzzer's random addresses
	// reach nothing that is not its own: it may connect and send only to
	// port 1 of loopback (where nothing listens: a reset, an ICMP
	// unreachable) and bind only ephemeral loopback ports.
	g.h.net.Sockets = true
	g.h.net.Connect, _ = ParseRules("127.0.0.1:1, [::1]:1")
	g.h.net.Listen, _ = ParseRules("127.0.0.1:0, [::1]:0")
	for i := range functions {
		f.Add(uint8(i), []byte("etc/file\x00link/../etc\x00\x03\x00\x00\x00"))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		fn := functions[int(which)%len(functions)]
		mem := make(memory, 4096)
		copy(mem, data)
		args := make([]arg, len(fn.params))
		for i, c := range fn.params {
			var v uint64
			if len(data) > 0 {
				for k := 0; k < 8; k++ {
					v = v<<8 | uint64(data[(i*8+k)%len(data)])
				}
			}
			if i%2 == 0 {
				v %= 5000 // mostly in or near memory
			}
			if c == 'I' {
				args[i] = arg{lo: v}
			} else {
				args[i] = arg{lo: uint64(uint32(v))}
			}
		}
		fn.body(g.h, mem, args)
		if got, _ := os.ReadFile(secret); string(got) != "HOST SECRET" {
			t.Fatalf("%s changed a file outside the view", fn.name)
		}
		// Sockets the call opened are closed, so that the fuzzer never
		// runs out of descriptors.
		for i, e := range g.h.fds.fds {
			if e != nil && e.kind == kindSocket {
				g.h.fds.remove(int32(i))
			}
		}
	})
}

// The step-by-step walk alone, as on a kernel without openat2, passes the
// same scenarios and attacks.
func TestWithoutOpenat2(t *testing.T) {
	noOpenat2.Store(true)
	defer noOpenat2.Store(false)
	t.Run("inside", TestSymlinksInsideTheContainerWork)
	t.Run("attacks", TestSymlinksCannotLeaveTheView)
	t.Run("race", TestSymlinkSwapRace)
	t.Run("readonly", TestReadOnlyGrantRefusesEveryWrite)
	t.Run("filemounts", TestFileMounts)
	t.Run("spelling", TestMountsCannotBeBypassedBySpelling)
}

// A mount is met however the path spells the directory it is on: "./data"
// or "data//" must not reach the rootfs's own directory beneath the mount
// (its hidden files, or a write under a read-only mount).
func TestMountsCannotBeBypassedBySpelling(t *testing.T) {
	g, rootfs, _, _ := layout(t, true)
	write(t, filepath.Join(rootfs, "data/hidden"), "beneath the mount")
	for _, p := range []string{"data/hidden", "./data/hidden", "data//hidden", "./data/./hidden", "etc/../data/hidden"} {
		if got, e := g.cat(p); e != ErrnoNoent {
			t.Errorf("cat %s: %q errno %d, want ENOENT", p, got, e)
		}
	}
	for _, p := range []string{"./data/inside", "data//inside"} {
		if got, e := g.cat(p); e != 0 || got != "data inside" {
			t.Errorf("cat %s: %q errno %d, want the mount's file", p, got, e)
		}
	}
	for _, p := range []string{"./data/new", "data//new"} {
		if _, e := g.open(3, p, true, oflagCreat, rightFdWrite); e != ErrnoRofs {
			t.Errorf("create %s under a read-only mount: errno %d, want EROFS", p, e)
		}
	}
	// The mount itself, spelled with "./": a directory descriptor of the
	// mount, from which the hidden file is not there and nothing is made.
	for _, p := range []string{"./data", "././data", ".//data"} {
		fd, e := g.open(3, p, true, oflagDirectory, rightFdRead|rightFdReaddir)
		if e != 0 {
			t.Errorf("open %s: errno %d", p, e)
			continue
		}
		if _, e := g.open(fd, "hidden", true, 0, rightFdRead); e != ErrnoNoent {
			t.Errorf("%s then hidden: errno %d, want ENOENT", p, e)
		}
		if _, e := g.open(fd, "new", true, oflagCreat, rightFdWrite); e != ErrnoRofs {
			t.Errorf("%s then create new: errno %d, want EROFS", p, e)
		}
		g.call("fd_close", fd)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "data/new")); err == nil {
		t.Error("a file was made in the rootfs beneath the mount")
	}
}

// A path is refused at Linux's PATH_MAX before the resolver works on it:
// each of its components costs the host more than the guest's two bytes.
func TestGuestPathLengthIsCapped(t *testing.T) {
	g, _, _, _ := layout(t, false)
	long := strings.Repeat("./", (pathMax-len("etc/real"))/2) + "etc/real"
	if len(long) >= pathMax {
		long = long[2:]
	}
	if got, e := g.cat(long); e != 0 || got != "rootfs real" {
		t.Errorf("a %d-byte path: %q errno %d", len(long), got, e)
	}
	tooLong := "./" + long + strings.Repeat("/", pathMax-len(long)-2)
	if _, e := g.open(3, tooLong, true, 0, rightFdRead); e != ErrnoNametoolong {
		t.Errorf("a %d-byte path: errno %d, want ENAMETOOLONG", len(tooLong), e)
	}
	target, tn := g.str(strings.Repeat("a", pathMax))
	link, ln := g.str("link")
	if e := g.call("path_symlink", target, tn, 3, link, ln); e != ErrnoNametoolong {
		t.Errorf("a %d-byte symlink target: errno %d, want ENAMETOOLONG", pathMax, e)
	}
}

// Every guest length is multiplied in 64 bits: 2^29 iovec records are
// exactly 4 GiB, which wrapped to 0 in 32 bits and made the host index
// past the records (a panic in place of an answer).
func TestIovecsOfAllMemory(t *testing.T) {
	// Mapped, not made: Go would clear all 4 GiB.
	b, err := unix.Mmap(-1, 0, 1<<32, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		t.Skipf("map 4 GiB: %v", err)
	}
	defer unix.Munmap(b)
	m := memory(b)
	if _, _, ok := m.iovecs(nil, 8, 1<<29); ok {
		t.Error("records past the end of memory accepted")
	}
	// The first record names a buffer past the end: EFAULT, found at
	// once (the other records are never read, nor their pages touched).
	binary.LittleEndian.PutUint32(m[0:], 1<<32-16)
	binary.LittleEndian.PutUint32(m[4:], 32)
	if _, _, ok := m.iovecs(nil, 0, 1<<29); ok {
		t.Error("a buffer past the end of memory accepted")
	}
}

// A device node in the rootfs or a directory mount is refused (EPERM, as
// the devices cgroup answers a native container); the devices granted as
// file mounts open, and a device node can still be looked at.
func TestDeviceNodesOnlyAsFileMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mknod")
	}
	rootfs := t.TempDir()
	if err := os.Mkdir(filepath.Join(rootfs, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(rootfs, "mem"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 1))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(rootfs, "disk"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 0))); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}, {Guest: "/dev/null", Host: "/dev/null"}}, []string{"/"})
	for _, p := range []string{"mem", "disk"} {
		if _, e := g.open(3, p, true, 0, rightFdRead); e != ErrnoPerm {
			t.Errorf("open %s: errno %d, want EPERM", p, e)
		}
		ptr, n := g.str(p)
		if e := g.call("path_filestat_get", 3, 0, ptr, n, 4096); e != 0 {
			t.Errorf("stat %s: errno %d", p, e)
		}
	}
	if _, e := g.open(3, "dev/null", true, 0, rightFdRead|rightFdWrite); e != 0 {
		t.Errorf("open the granted /dev/null: errno %d", e)
	}
	// The resolver's own reads (/etc/hosts, /etc/resolv.conf) neither.
	if _, err := readViewFile(g.h.view, "/mem"); err != unix.EPERM {
		t.Errorf("ReadFile of a device node: %v, want EPERM", err)
	}
}

// A granted device is the host's own node, shared by every container: a
// guest may not set its times (EPERM), by path or by descriptor. The
// attack: a guest wrote a value into the host's /dev/null's mtime and a
// second container, with no network, read it back. The node here is one
// of the test's own (mknod), so that the old code's write lands on it.
func TestDeviceTimesAreNotTheGuests(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mknod")
	}
	rootfs, devs := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(rootfs, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	null := filepath.Join(devs, "null")
	if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	var before unix.Stat_t
	if err := unix.Stat(null, &before); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}, {Guest: "/dev/null", Host: null}}, []string{"/"})
	const when = 1234567890123456789
	ptr, n := g.str("dev/null")
	if e := g.call("path_filestat_set_times", 3, lookupSymlinkFollow, ptr, n, when, when, fstAtim|fstMtim); e != ErrnoPerm {
		t.Errorf("path_filestat_set_times on the granted /dev/null: errno %d, want EPERM", e)
	}
	fd, e := g.open(3, "dev/null", true, 0, rightFdRead|rightFdWrite)
	if e != 0 {
		t.Fatalf("open /dev/null: errno %d", e)
	}
	if e := g.call("fd_filestat_set_times", fd, when, when, fstAtim|fstMtim); e != ErrnoPerm {
		t.Errorf("fd_filestat_set_times on the granted /dev/null: errno %d, want EPERM", e)
	}
	if e := g.call("fd_filestat_set_times", fd, 0, 0, fstAtimNow|fstMtimNow); e != ErrnoPerm {
		t.Errorf("fd_filestat_set_times (now) on the granted /dev/null: errno %d, want EPERM", e)
	}
	// The same node as stdin, as podman gives it to a container run
	// without -i; /dev/stdin by path is that descriptor too.
	in, err := os.OpenFile(null, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	write(t, filepath.Join(rootfs, "dev", "stdin"), "")
	s := newStdioGuest(t, rootfs, [3]int{int(in.Fd()), 1, 2})
	if e := s.call("fd_filestat_set_times", 0, when, when, fstAtim|fstMtim); e != ErrnoPerm {
		t.Errorf("fd_filestat_set_times on a device as stdin: errno %d, want EPERM", e)
	}
	sfd, e := s.open(3, "dev/stdin", true, 0, rightFdRead)
	if e != 0 {
		t.Fatalf("open /dev/stdin: errno %d", e)
	}
	if e := s.call("fd_filestat_set_times", sfd, when, when, fstAtim|fstMtim); e != ErrnoPerm {
		t.Errorf("fd_filestat_set_times on /dev/stdin (a device): errno %d, want EPERM", e)
	}
	var after unix.Stat_t
	if err := unix.Stat(null, &after); err != nil {
		t.Fatal(err)
	}
	if after.Mtim != before.Mtim || after.Atim != before.Atim {
		t.Errorf("the device node's times changed: mtime %v -> %v", before.Mtim, after.Mtim)
	}
}

// fd_readdir says what stat says of a granted device: /dev/null is bound
// over a placeholder that getdents calls a regular file, and ripgrep,
// trusting the listing, read /dev/zero as a file without end when it
// searched "/". A plain file beside it stays a file.
func TestReaddirTypesOfGrantedDevices(t *testing.T) {
	rootfs := t.TempDir()
	write(t, filepath.Join(rootfs, "dev", "null"), "")
	write(t, filepath.Join(rootfs, "dev", "plain"), "")
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}, {Guest: "/dev/null", Host: "/dev/null"}}, []string{"/"})
	types := direntTypes(t, g, "dev")
	if types["null"] != filetypeCharacterDevice || types["plain"] != filetypeRegularFile {
		t.Errorf("listing of /dev: null is type %d, plain %d; want %d (character device) and %d (file)",
			types["null"], types["plain"], filetypeCharacterDevice, filetypeRegularFile)
	}
}

// A later mount at /dev/null hides the device granted there first: the
// listing of /dev says what stat says, a file, not the hidden device.
func TestReaddirTypeOfDeviceHiddenByLaterMount(t *testing.T) {
	rootfs, other := t.TempDir(), t.TempDir()
	write(t, filepath.Join(rootfs, "dev", "null"), "")
	write(t, filepath.Join(other, "file"), "plain")
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}, {Guest: "/dev/null", Host: "/dev/null"}, {Guest: "/dev/null", Host: filepath.Join(other, "file")}}, []string{"/"})
	types := direntTypes(t, g, "dev")
	ptr, n := g.str("dev/null")
	if e := g.call("path_filestat_get", 3, 0, ptr, n, resultPtr); e != 0 {
		t.Fatal(e)
	}
	if types["null"] != g.mem[resultPtr+16] {
		t.Errorf("/dev/null: the listing says type %d, stat %d", types["null"], g.mem[resultPtr+16])
	}
}

// direntTypes lists dir (from the root preopen) in one fd_readdir and
// returns each name's WASI file type.
func direntTypes(t *testing.T, g *guest, dir string) map[string]uint8 {
	t.Helper()
	types := map[string]uint8{}
	for name, d := range dirents(t, g, dir) {
		types[name] = d.typ
	}
	return types
}

// listed is a name's type and inode, as fd_readdir or stat gives them.
type listed struct {
	typ uint8
	ino uint64
}

// dirents lists dir (up to 1 KiB of entries) by fd_readdir.
func dirents(t *testing.T, g *guest, dir string) map[string]listed {
	t.Helper()
	fd := mustOpenDir(t, g, dir)
	if e := g.call("fd_readdir", fd, 4096, 1024, 0, resultPtr); e != 0 {
		t.Fatalf("fd_readdir: errno %d", e)
	}
	out := map[string]listed{}
	for b := g.mem[4096 : 4096+binary.LittleEndian.Uint32(g.mem[resultPtr:])]; len(b) >= direntSize; {
		n := binary.LittleEndian.Uint32(b[16:])
		out[string(b[direntSize:direntSize+n])] = listed{b[20], binary.LittleEndian.Uint64(b[8:])}
		b = b[direntSize+n:]
	}
	return out
}

// The standard streams, listed in /dev as the links to /proc/self/fd that
// create makes there (runc's), and the granted devices, bound over their
// placeholders: fd_readdir gives each the type and inode a no-follow
// path_filestat_get gives it. The streams were listed as links, which
// lstat and readlink denied, and the devices with the placeholder's inode.
func TestReaddirSaysWhatStatSays(t *testing.T) {
	rootfs := t.TempDir()
	write(t, filepath.Join(rootfs, "dev", "null"), "")
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		symlink(t, fmt.Sprintf("/proc/self/fd/%d", i), filepath.Join(rootfs, "dev", name))
	}
	in, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	h, err := New(Config{Args: []string{"test"}, Mounts: []Mount{{Guest: "/", Host: rootfs}, {Guest: "/dev/null", Host: "/dev/null"}},
		Preopens: []string{"/"}, Stdio: [3]int{int(in.Fd()), int(out.Fd()), int(w.Fd())}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	g := &guest{t: t, h: h, mem: make(memory, 1<<16), next: 1024}
	list := dirents(t, g, "dev")
	for _, name := range []string{"null", "stdin", "stdout", "stderr"} {
		ptr, n := g.str("dev/" + name)
		if e := g.call("path_filestat_get", 3, 0, ptr, n, resultPtr); e != 0 {
			t.Fatalf("lstat /dev/%s: errno %d", name, e)
		}
		stat := listed{g.mem[resultPtr+16], binary.LittleEndian.Uint64(g.mem[resultPtr+8:])}
		if d, ok := list[name]; !ok || d != stat {
			t.Errorf("/dev/%s: listed as %+v (%v), stat says %+v", name, d, ok, stat)
		}
	}
}

// openTerminal returns the terminal end of a new pty, both ends closed
// at the end of the test, or skips the test where there is no pty.
func openTerminal(t *testing.T) *os.File {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	return tty
}

// path_open with no rights at all opens for reading, as O_RDONLY (0) does
// and as wasmtime and wazero read it (wazero's wasi_fd test guest opens
// so and reads "pooh"): the descriptor could read nothing. A write on it
// is still refused.
func TestOpenWithoutRightsReads(t *testing.T) {
	rootfs := t.TempDir()
	write(t, filepath.Join(rootfs, "bear.txt"), "pooh\n")
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}}, []string{"/"})
	fd, e := g.open(3, "bear.txt", false, 0, 0)
	if e != 0 {
		t.Fatalf("open with no rights: errno %d", e)
	}
	if got, e := g.read(fd); e != 0 || got != "pooh\n" {
		t.Errorf("read of a file opened with no rights: %q, errno %d", got, e)
	}
	binary.LittleEndian.PutUint32(g.mem[32:], 8192)
	binary.LittleEndian.PutUint32(g.mem[36:], 1)
	if e := g.call("fd_write", fd, 32, 1, resultPtr); e != ErrnoBadf {
		t.Errorf("write to a file opened with no rights: errno %d, want EBADF", e)
	}
}

// open(O_RDONLY|O_APPEND) is a read-only descriptor, as on Linux: wasi-libc
// and Go give it as the read right and APPEND. The host took APPEND for a
// write: the guest appended to the file through it, and on a read-only
// grant the open failed with EROFS.
func TestReadOnlyOpenWithAppendCannotWrite(t *testing.T) {
	for _, ro := range []bool{false, true} {
		g, _, data, _ := layout(t, ro)
		ptr, n := g.str("inside")
		if e := g.call("path_open", 4, 0, ptr, n, 0, rightFdRead, 0, fdflagAppend, resultPtr); e != 0 {
			t.Fatalf("open O_RDONLY|O_APPEND (read-only grant %v): errno %d", ro, e)
		}
		fd := int64(binary.LittleEndian.Uint32(g.mem[resultPtr:]))
		binary.LittleEndian.PutUint32(g.mem[32:], 8192)
		binary.LittleEndian.PutUint32(g.mem[36:], 1)
		if e := g.call("fd_write", fd, 32, 1, resultPtr); e != ErrnoBadf {
			t.Errorf("write through O_RDONLY|O_APPEND (read-only grant %v): errno %d, want EBADF", ro, e)
		}
		if got, e := g.read(fd); e != 0 || got != "data inside" {
			t.Errorf("read through O_RDONLY|O_APPEND: %q, errno %d", got, e)
		}
		if b, _ := os.ReadFile(filepath.Join(data, "inside")); string(b) != "data inside" {
			t.Errorf("the file is now %q", b)
		}
	}
}

// A stdio number a guest vacated is not given to its next open: yosys
// moves stdout away with fd_renumber to save it, cannot move it back, and
// the file it opened next took number 1, so its log went into the netlist
// it wrote. Other numbers are reused lowest first.
func TestStdioNumbersAreNotReused(t *testing.T) {
	g, _, _, _ := layout(t, false)
	saved, e := g.open(4, "inside", false, 0, rightFdRead)
	if e != 0 {
		t.Fatal(e)
	}
	if e := g.call("fd_renumber", 1, saved); e != 0 {
		t.Fatalf("fd_renumber(1, %d): errno %d", saved, e)
	}
	if e := g.call("fd_close", 2); e != 0 {
		t.Fatalf("fd_close(2): errno %d", e)
	}
	for i := 0; i < 2; i++ {
		fd, e := g.open(4, "inside", false, 0, rightFdRead)
		if e != 0 || fd < 3 {
			t.Errorf("open after stdout and stderr left: fd %d, errno %d; want a number from 3", fd, e)
		}
		if e := g.call("fd_close", fd); e != 0 {
			t.Fatal(e)
		}
	}
	// The number an open freed is the next open's.
	a, _ := g.open(4, "inside", false, 0, rightFdRead)
	b, _ := g.open(4, "inside", false, 0, rightFdRead)
	g.call("fd_close", a)
	if c, e := g.open(4, "inside", false, 0, rightFdRead); e != 0 || c != a {
		t.Errorf("open after closing %d (with %d open): fd %d, errno %d; want %d", a, b, c, e, a)
	}
	// fd_renumber moves a descriptor onto an open number only, as under
	// wasmtime: stdout's number, once vacated, stays free.
	if e := g.call("fd_renumber", saved, 1); e != ErrnoBadf {
		t.Errorf("fd_renumber onto the closed number 1: errno %d, want EBADF", e)
	}
}

// fd_advise on a directory is EBADF, as wasmtime answers (it was EISDIR);
// on a file it is done.
func TestAdviseDirectory(t *testing.T) {
	rootfs := t.TempDir()
	write(t, filepath.Join(rootfs, "f"), "x")
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}}, []string{"/"})
	if e := g.call("fd_advise", 3, 0, 0, 0); e != ErrnoBadf {
		t.Errorf("fd_advise on the / preopen: errno %d, want EBADF", e)
	}
	f, e := g.open(3, "f", false, 0, rightFdRead|rightFdAdvise)
	if e != 0 {
		t.Fatalf("open f: errno %d", e)
	}
	if e := g.call("fd_advise", f, 0, 0, 2); e != 0 {
		t.Errorf("fd_advise on a file: errno %d", e)
	}
}

// A character device seeks and preads as natively: /dev/null seeks to 0
// and /dev/zero preads zeros (they were ESPIPE, like a pipe's); a pipe
// still answers ESPIPE.
func TestCharacterDevicesSeek(t *testing.T) {
	rootfs := t.TempDir()
	if err := os.Mkdir(filepath.Join(rootfs, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}, {Guest: "/dev/null", Host: "/dev/null"}, {Guest: "/dev/zero", Host: "/dev/zero"}}, []string{"/"})
	null, e := g.open(3, "dev/null", true, 0, rightFdRead|rightFdSeek)
	if e != 0 {
		t.Fatalf("open /dev/null: errno %d", e)
	}
	if e := g.call("fd_seek", null, 0, whenceCur, resultPtr); e != 0 {
		t.Errorf("seek /dev/null: errno %d, want 0", e)
	}
	zero, e := g.open(3, "dev/zero", true, 0, rightFdRead|rightFdSeek)
	if e != 0 {
		t.Fatalf("open /dev/zero: errno %d", e)
	}
	g.mem[64] = 0xff
	binary.LittleEndian.PutUint32(g.mem[32:], 64)
	binary.LittleEndian.PutUint32(g.mem[36:], 8)
	if e := g.call("fd_pread", zero, 32, 1, 4096, resultPtr); e != 0 || binary.LittleEndian.Uint32(g.mem[resultPtr:]) != 8 || g.mem[64] != 0 {
		t.Errorf("pread /dev/zero: errno %d, %d bytes, first %#x; want 8 zero bytes", e, binary.LittleEndian.Uint32(g.mem[resultPtr:]), g.mem[64])
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	g.h.fds.fds[0] = stdioEntry(0, int(r.Fd()))
	if e := g.call("fd_seek", 0, 0, whenceCur, resultPtr); e != ErrnoSpipe {
		t.Errorf("seek a pipe: errno %d, want ESPIPE", e)
	}
	// A terminal with no input answers a pread at once, as Linux does.
	tty := openTerminal(t)
	g.h.fds.fds[0] = stdioEntry(0, int(tty.Fd()))
	done := make(chan Errno, 1)
	go func() { done <- g.call("fd_pread", 0, 32, 1, 0, resultPtr) }()
	select {
	case e := <-done:
		if e != ErrnoSpipe {
			t.Errorf("pread a terminal: errno %d, want ESPIPE", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pread of a terminal with no input waited")
	}
}

// Where Linux looks before it refuses, so does the host: EEXIST for a name
// that is taken and ENOENT for a missing file, before EROFS (a C mkdir -p
// loop treats EEXIST as done); EISDIR for O_CREAT with a trailing slash;
// EINVAL for readlink with no room.
func TestErrnoOrderAsLinux(t *testing.T) {
	g, _, data, _ := layout(t, true)
	if err := os.Mkdir(filepath.Join(data, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	str := func(s string) (int64, int64) { return g.str(s) }
	sub, sn := str("sub")
	inside, in := str("inside")
	cases := []struct {
		name string
		op   func() Errno
		want Errno
	}{
		{"mkdir an existing directory, read-only", func() Errno { return g.call("path_create_directory", 4, sub, sn) }, ErrnoExist},
		{"mkdir the mount itself", func() Errno { d, n := str("."); return g.call("path_create_directory", 4, d, n) }, ErrnoExist},
		{"symlink onto an existing name, read-only", func() Errno { return g.call("path_symlink", sub, sn, 4, inside, in) }, ErrnoExist},
		{"link onto an existing name, read-only", func() Errno { return g.call("path_link", 4, 0, inside, in, 4, sub, sn) }, ErrnoExist},
		{"create exclusive over an existing file, read-only", func() Errno {
			_, e := g.open(4, "inside", true, oflagCreat|oflagExcl, rightFdWrite)
			return e
		}, ErrnoExist},
		{"open a missing file for write, read-only", func() Errno { _, e := g.open(4, "missing", true, 0, rightFdWrite); return e }, ErrnoNoent},
		{"open a directory for write, read-only", func() Errno { _, e := g.open(4, "sub", true, 0, rightFdWrite); return e }, ErrnoIsdir},
		{"open a file for write as a directory, read-only", func() Errno { _, e := g.open(4, "inside", true, oflagDirectory, rightFdWrite); return e }, ErrnoNotdir},
		{"create a missing file, read-only", func() Errno { _, e := g.open(4, "missing", true, oflagCreat, rightFdWrite); return e }, ErrnoRofs},
		{"mkdir a new name, read-only", func() Errno { d, n := str("new"); return g.call("path_create_directory", 4, d, n) }, ErrnoRofs},
		{"set times of a missing name, read-only", func() Errno {
			d, n := str("missing")
			return g.call("path_filestat_set_times", 4, 0, d, n, 0, 0, fstMtimNow)
		}, ErrnoNoent},
		{"set times of a file, read-only", func() Errno { return g.call("path_filestat_set_times", 4, 0, inside, in, 0, 0, fstMtimNow) }, ErrnoRofs},
		{"link a missing name into a read-only mount", func() Errno {
			d, n := str("missing")
			x, xn := str("x")
			return g.call("path_link", 4, 0, d, n, 4, x, xn)
		}, ErrnoNoent},
		{"link a missing name across mounts", func() Errno {
			d, n := str("missing")
			x, xn := str("x")
			return g.call("path_link", 4, 0, d, n, 3, x, xn)
		}, ErrnoNoent},
		{"link a file into its read-only mount", func() Errno { x, xn := str("x"); return g.call("path_link", 4, 0, inside, in, 4, x, xn) }, ErrnoRofs},
		{"link a file across mounts", func() Errno { x, xn := str("x"); return g.call("path_link", 4, 0, inside, in, 3, x, xn) }, ErrnoXdev},
		{"create with a trailing slash", func() Errno { _, e := g.open(3, "newfile/", true, oflagCreat, rightFdWrite); return e }, ErrnoIsdir},
		{"create an existing directory with a trailing slash", func() Errno { _, e := g.open(3, "etc/", true, oflagCreat, rightFdRead); return e }, ErrnoIsdir},
		// O_CREAT of an existing directory is EISDIR on a read-only
		// mount as on any other (it opened the directory).
		{"create an existing directory, read-only", func() Errno { _, e := g.open(4, "sub", true, oflagCreat, rightFdRead); return e }, ErrnoIsdir},
		{"create an existing directory in a read-only mount, from /", func() Errno { _, e := g.open(3, "data/sub", true, oflagCreat, rightFdRead); return e }, ErrnoIsdir},
		{"create the read-only mount itself", func() Errno { _, e := g.open(4, ".", true, oflagCreat, rightFdRead); return e }, ErrnoIsdir},
		// utimensat with both times omitted does nothing and succeeds
		// without looking at the path (it was EROFS, or ENOENT).
		{"set no time of a file, read-only", func() Errno { return g.call("path_filestat_set_times", 4, 0, inside, in, 0, 0, 0) }, 0},
		{"set no time of a missing name, read-only", func() Errno {
			d, n := str("missing/x")
			return g.call("path_filestat_set_times", 4, 0, d, n, 0, 0, 0)
		}, 0},
		{"set no time through a read-only descriptor", func() Errno {
			fd, e := g.open(4, "inside", true, 0, rightFdRead)
			if e != 0 {
				return e
			}
			defer g.call("fd_close", fd)
			return g.call("fd_filestat_set_times", fd, 0, 0, 0)
		}, 0},
		// The source is looked up before the new name's path: ENOENT
		// for a missing source, whatever the new name's path holds.
		{"link a missing name below a file", func() Errno {
			d, n := str("missing")
			x, xn := str("inside/x")
			return g.call("path_link", 4, 0, d, n, 4, x, xn)
		}, ErrnoNoent},
	}
	for _, c := range cases {
		if e := c.op(); e != c.want {
			t.Errorf("%s: errno %d, want %d", c.name, e, c.want)
		}
	}
}

// CheckDir answers in the guest's view, following its links inside it
// (into a mount too), never on the host: a link to the host's /tmp means
// the rootfs's /tmp. What is not a directory gets chdir's errno (runc's
// message for an exec's cwd names it): ENOTDIR for a file, ENOENT for
// nothing there.
func TestCheckDirInTheView(t *testing.T) {
	g, rootfs, data, _ := layout(t, false)
	if err := os.Mkdir(filepath.Join(data, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, "/data/sub", filepath.Join(rootfs, "to-sub"))
	symlink(t, "/tmp", filepath.Join(rootfs, "to-host-tmp"))
	symlink(t, "/etc/real", filepath.Join(rootfs, "to-file"))
	symlink(t, "loop", filepath.Join(rootfs, "loop"))
	for p, want := range map[string]error{
		"/": nil, "/data": nil, "/etc": nil, "/to-sub": nil, "/to-sub/": nil,
		"/etc/real": unix.ENOTDIR, "/to-file": unix.ENOTDIR, "/etc/real/x": unix.ENOTDIR,
		"/data/inside": unix.ENOTDIR, "/missing": unix.ENOENT, "/to-host-tmp": unix.ENOENT,
		"/loop": unix.ELOOP,
	} {
		if got := g.h.view.CheckDir(p); got != want {
			t.Errorf("CheckDir(%q) = %v, want %v", p, got, want)
		}
	}
}

// /dev/stdout opens as the guest's own stream, under the stream's rules:
// not a directory, never created, and no flag change reaches the
// description the engine (conmon, a terminal) shares with runw.
func TestStreamsByNameAreStdio(t *testing.T) {
	rootfs := t.TempDir()
	if err := os.Mkdir(filepath.Join(rootfs, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}}, []string{"/"})
	before, err := unix.FcntlInt(1, unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd, e := g.open(3, "dev/stdout", true, 0, rightFdWrite)
	if e != 0 {
		t.Fatalf("open /dev/stdout: errno %d", e)
	}
	entry, _ := g.h.fds.get(int32(fd))
	if entry.kind != kindStdio || !entry.ownsHost || entry.write != true || entry.read {
		t.Errorf("/dev/stdout entry: %+v, want a writable stdio entry of its own", entry)
	}
	g.call("fd_fdstat_set_flags", fd, fdflagAppend)
	if after, _ := unix.FcntlInt(1, unix.F_GETFL, 0); after != before {
		t.Errorf("the host's stdout flags changed from %#x to %#x", before, after)
	}
	if _, e := g.open(3, "dev/stdout", true, oflagDirectory, rightFdRead); e != ErrnoNotdir {
		t.Errorf("open /dev/stdout as a directory: errno %d, want ENOTDIR", e)
	}
	if _, e := g.open(3, "dev/stderr", true, oflagCreat|oflagExcl, rightFdWrite); e != ErrnoExist {
		t.Errorf("create /dev/stderr exclusively: errno %d, want EEXIST", e)
	}
	if e := g.call("fd_close", fd); e != 0 {
		t.Errorf("close: errno %d", e)
	}
	if _, err := unix.FcntlInt(1, unix.F_GETFL, 0); err != nil {
		t.Errorf("closing the guest's /dev/stdout closed the host's stdout: %v", err)
	}
}

// A character device on stdio is a terminal to wasi-libc's isatty only
// without the seek and tell rights: /dev/null has them, a terminal not.
func TestStdioTerminalRights(t *testing.T) {
	devNull, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	tty := openTerminal(t)
	for _, tc := range []struct {
		name     string
		f        *os.File
		terminal bool
	}{{"/dev/null", devNull, false}, {"a pty", tty, true}} {
		for i := range 3 {
			e := stdioEntry(i, int(tc.f.Fd()))
			seekable := e.rightsBase&(rightFdSeek|rightFdTell) != 0
			if e.filetype != filetypeCharacterDevice || seekable == tc.terminal {
				t.Errorf("%s as fd %d: filetype %d, rights %#x: isatty would say %v, want %v",
					tc.name, i, e.filetype, e.rightsBase, !seekable, tc.terminal)
			}
		}
	}
}

// A terminal opened by path (/dev/tty under -t) is a terminal to
// wasi-libc's isatty too: no seek and tell rights, as on stdio. It was
// not (Python's os.isatty(os.open("/dev/tty")) said False); /dev/null
// keeps them.
func TestTerminalByPathIsATerminal(t *testing.T) {
	tty := openTerminal(t)
	rootfs := t.TempDir()
	if err := os.Mkdir(filepath.Join(rootfs, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}, {Guest: "/dev/tty", Host: tty.Name()}, {Guest: "/dev/null", Host: "/dev/null"}}, []string{"/"})
	for _, c := range []struct {
		path     string
		terminal bool
	}{{"dev/tty", true}, {"dev/null", false}} {
		fd, e := g.open(3, c.path, true, 0, rightFdRead|rightFdWrite)
		if e != 0 {
			t.Fatalf("open %s: errno %d", c.path, e)
		}
		if e := g.call("fd_fdstat_get", fd, resultPtr); e != 0 {
			t.Fatal(e)
		}
		rights := binary.LittleEndian.Uint64(g.mem[resultPtr+8:])
		if seekable := rights&(rightFdSeek|rightFdTell) != 0; seekable == c.terminal {
			t.Errorf("%s: rights %#x: isatty would say %v, want %v", c.path, rights, !seekable, c.terminal)
		}
	}
}

// Stdio that is a regular file (`run < in.txt`) has the seek and tell
// rights, as it seeks; it had not.
func TestStdioFileSeeks(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "in.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 3 {
		if e := stdioEntry(i, int(f.Fd())); e.filetype != filetypeRegularFile || e.rightsBase&(rightFdSeek|rightFdTell) != rightFdSeek|rightFdTell {
			t.Errorf("a file as fd %d: filetype %d, rights %#x; want a file with seek and tell", i, e.filetype, e.rightsBase)
		}
	}
}

// Stdout opened for appending (`run >> out.log`) says so in its flags, as
// fcntl(F_GETFL) does natively; a plain file does not.
func TestStdioAppendFlag(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		flag   int
		append bool
	}{{os.O_WRONLY | os.O_APPEND, true}, {os.O_WRONLY, false}} {
		f, err := os.OpenFile(filepath.Join(dir, "out.log"), tc.flag|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		e := stdioEntry(1, int(f.Fd()))
		if got := e.flags&fdflagAppend != 0; got != tc.append {
			t.Errorf("stdout opened with %#x: append flag %v, want %v", tc.flag, got, tc.append)
		}
		f.Close()
	}
}

// fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK) under `run >> out.log`
// must not make F_GETFL forget O_APPEND: the kernel still appends.
func TestStdioAppendSurvivesSetFlags(t *testing.T) {
	g, _, _, _ := layout(t, false)
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "out.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g.h.fds.fds[1] = stdioEntry(1, int(f.Fd()))
	if e := g.call("fd_fdstat_set_flags", 1, fdflagAppend|fdflagNonblock); e != 0 {
		t.Fatalf("set_flags: %d", e)
	}
	if e := g.call("fd_fdstat_get", 1, resultPtr); e != 0 {
		t.Fatal(e)
	}
	if fl := binary.LittleEndian.Uint16(g.mem[resultPtr+2:]); fl&fdflagAppend == 0 {
		t.Errorf("stdout flags after F_SETFL(APPEND|NONBLOCK): %#x, APPEND lost (the kernel still appends)", fl)
	}
}

// newStdioGuest is a guest of rootfs whose descriptors 0 to 2 are stdio.
func newStdioGuest(t *testing.T, rootfs string, stdio [3]int) *guest {
	t.Helper()
	h, err := New(Config{Mounts: []Mount{{Guest: "/", Host: rootfs}}, Preopens: []string{"/"}, Stdio: stdio})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return &guest{t: t, h: h, mem: make(memory, 1<<18), next: 1024}
}

// /dev/stdout opened by path on a `run >> out.log` stdout says O_APPEND
// too, as the descriptor it shares does.
func TestStreamByNameKeepsAppend(t *testing.T) {
	rootfs := t.TempDir()
	if err := os.Mkdir(filepath.Join(rootfs, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "out.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := newStdioGuest(t, rootfs, [3]int{0, int(f.Fd()), 2})
	fd, e := g.open(3, "dev/stdout", true, 0, rightFdWrite)
	if e != 0 {
		t.Fatalf("open /dev/stdout: errno %d", e)
	}
	if e := g.call("fd_fdstat_get", fd, resultPtr); e != 0 {
		t.Fatal(e)
	}
	if fl := binary.LittleEndian.Uint16(g.mem[resultPtr+2:]); fl&fdflagAppend == 0 {
		t.Errorf("/dev/stdout opened on an appending stdout: flags %#x, no APPEND", fl)
	}
}

// A guest that made its stdout non-blocking, on a pipe nobody reads, gets
// a short write of what fits and then EAGAIN, as natively; the write
// waited for a reader before (poll says only that some room is free, and
// the description runw shares with the engine stays blocking).
func TestNonblockStdoutShortWrite(t *testing.T) {
	rootfs := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	g := newStdioGuest(t, rootfs, [3]int{0, int(w.Fd()), 2})
	if e := g.call("fd_fdstat_set_flags", 1, fdflagNonblock); e != 0 {
		t.Fatalf("set NONBLOCK on stdout: errno %d", e)
	}
	const size = 70000 // more than the pipe's 64 KiB
	binary.LittleEndian.PutUint32(g.mem[32:], 65536)
	binary.LittleEndian.PutUint32(g.mem[36:], size)
	type written struct {
		n  uint32
		e1 Errno
		e2 Errno
	}
	done := make(chan written, 1)
	go func() {
		var res written
		res.e1 = g.call("fd_write", 1, 32, 1, resultPtr)
		res.n = binary.LittleEndian.Uint32(g.mem[resultPtr:])
		res.e2 = g.call("fd_write", 1, 32, 1, resultPtr)
		done <- res
	}()
	select {
	case res := <-done:
		if res.e1 != 0 || res.n == 0 || res.n >= size || res.e2 != ErrnoAgain {
			t.Errorf("writes of %d bytes to a full pipe: errno %d, %d bytes, then errno %d; want a short write, then EAGAIN", size, res.e1, res.n, res.e2)
		}
	case <-time.After(5 * time.Second):
		r.Close() // the blocked write ends with EPIPE
		t.Fatal("a non-blocking write to a full pipe blocked")
	}
}

// A read-only mount reached by climbing out of a writable one stays
// read-only.
func TestClimbKeepsMountReadOnly(t *testing.T) {
	base := t.TempDir()
	rootfs, data, ro := filepath.Join(base, "rootfs"), filepath.Join(base, "data"), filepath.Join(base, "ro")
	write(t, filepath.Join(ro, "x"), "ro x")
	write(t, filepath.Join(data, "y"), "y")
	for _, d := range []string{"ro", "data"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}, {Guest: "/data", Host: data}, {Guest: "/ro", Host: ro, ReadOnly: true}}, []string{"/", "/data", "/ro"})
	if _, e := g.open(4, "../ro/x", true, 0, rightFdRead|rightFdWrite); e != ErrnoRofs {
		t.Errorf("/data ../ro/x for writing: errno %d, want EROFS", e)
	}
	if _, e := g.open(4, "../ro/new", true, oflagCreat, rightFdWrite); e != ErrnoRofs {
		t.Errorf("/data ../ro/new create: errno %d, want EROFS", e)
	}
}

// A directory descriptor is no file: every call on a file's data or
// offset answers EBADF, as wasmtime's preview1 does (its test program
// p1_dir_fd_op_failures), and a poll of it fails the call. A sync of it
// is done, as on Linux (wasmtime: EBADF), so that a rename in it can be
// made durable.
func TestDirectoryDescriptorErrnos(t *testing.T) {
	g := newGuest(t, []Mount{{Guest: "/", Host: t.TempDir()}}, []string{"/"})
	binary.LittleEndian.PutUint32(g.mem[32:], 8192)
	binary.LittleEndian.PutUint32(g.mem[36:], 16)
	for _, tc := range []struct {
		call string
		args []int64
	}{
		{"fd_read", []int64{3, 32, 1, resultPtr}},
		{"fd_pread", []int64{3, 32, 1, 0, resultPtr}},
		{"fd_write", []int64{3, 32, 1, resultPtr}},
		{"fd_pwrite", []int64{3, 32, 1, 0, resultPtr}},
		{"fd_seek", []int64{3, 0, 0, resultPtr}},
		{"fd_seek", []int64{3, 0, 1, resultPtr}},
		{"fd_seek", []int64{3, 0, 2, resultPtr}},
		{"fd_tell", []int64{3, resultPtr}},
		{"fd_advise", []int64{3, 0, 0, 4}},
		{"fd_allocate", []int64{3, 0, 1}},
		{"fd_fdstat_set_flags", []int64{3, fdflagNonblock}},
		{"fd_filestat_set_size", []int64{3, 0}},
	} {
		if e := g.call(tc.call, tc.args...); e != ErrnoBadf {
			t.Errorf("%s%v on a directory: errno %d, want BADF", tc.call, tc.args[1:], e)
		}
	}
	if e := g.pollRead(3); e != ErrnoBadf {
		t.Errorf("poll_oneoff of a directory: errno %d, want BADF", e)
	}
	for _, call := range []string{"fd_sync", "fd_datasync"} {
		if e := g.call(call, 3); e != 0 {
			t.Errorf("%s of a directory: errno %d, want 0, as Linux", call, e)
		}
	}
}

// A stream's filestat is its type alone, as under wasmtime; a file given
// as stdin or stdout is a file, with its size.
func TestStdioFilestat(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("eleven byte"); err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Args: []string{"test"}, Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Stdio: [3]int{p[0], int(f.Fd()), p[1]}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	g := &guest{t: t, h: h, mem: make(memory, 1<<16), next: 1024}
	for fd, want := range []struct {
		filetype uint8
		size     uint64
		zeros    bool
	}{{filetypeUnknown, 0, true}, {filetypeRegularFile, 11, false}, {filetypeUnknown, 0, true}} {
		st := g.mem[24000 : 24000+filestatSize]
		for i := range st {
			st[i] = 0xff
		}
		if e := g.call("fd_filestat_get", int64(fd), 24000); e != 0 {
			t.Fatalf("fd_filestat_get(%d): errno %d", fd, e)
		}
		size, mtim := binary.LittleEndian.Uint64(st[32:]), binary.LittleEndian.Uint64(st[48:])
		zeros := bytes.Equal(st[:16], make([]byte, 16)) && bytes.Equal(st[24:], make([]byte, filestatSize-24))
		if st[16] != want.filetype || size != want.size || zeros != want.zeros || (!zeros && mtim == 0) {
			t.Errorf("fd_filestat_get(%d): %x, want type %d, size %d, the rest zero: %v", fd, st, want.filetype, want.size, want.zeros)
		}
	}
}

// The answers wasmtime's preview1 gives where Linux's differ, which its
// test programs require (p1_poll_oneoff_files, p1_readlink, p1_path_link,
// p1_path_symlink_trailing_slashes, p1_fd_filestat_get).
func TestWasmtimeAnswers(t *testing.T) {
	g := newGuest(t, []Mount{{Guest: "/", Host: t.TempDir()}}, []string{"/"})
	str := g.str
	if e := g.pollRead(1234); e != ErrnoBadf {
		t.Errorf("poll_oneoff of a descriptor not open: errno %d, want BADF", e)
	}
	f, fn := str("file")
	if _, e := g.open(3, "file", true, oflagCreat, rightFdWrite); e != 0 {
		t.Fatalf("create file: errno %d", e)
	}
	tgt, tn := str("file")
	l, ln := str("link")
	if e := g.call("path_symlink", tgt, tn, 3, l, ln); e != 0 {
		t.Fatalf("symlink: errno %d", e)
	}
	// readlink into no room, or too little, gives the start of the target.
	for _, room := range []int64{0, 2} {
		g.mem[8192], g.mem[8193] = 'x', 'x'
		if e := g.call("path_readlink", 3, l, ln, 8192, room, resultPtr); e != 0 {
			t.Errorf("readlink into %d bytes: errno %d, want success", room, e)
		} else if n := binary.LittleEndian.Uint32(g.mem[resultPtr:]); int64(n) != room || string(g.mem[8192:8194]) != "fixx"[2-room:4-room] {
			t.Errorf("readlink into %d bytes: %d bytes, %q", room, n, g.mem[8192:8194])
		}
	}
	// linkat(AT_SYMLINK_FOLLOW) is refused; without it the link is made.
	h, hn := str("hard")
	if e := g.call("path_link", 3, lookupSymlinkFollow, f, fn, 3, h, hn); e != ErrnoInval {
		t.Errorf("path_link following symlinks: errno %d, want INVAL", e)
	}
	if e := g.call("path_link", 3, lookupSymlinkFollow, f, fn, 99, h, hn); e != ErrnoBadf {
		t.Errorf("path_link following symlinks to a bad descriptor: errno %d, want BADF", e)
	}
	if e := g.call("path_link", 3, 0, f, fn, 3, h, hn); e != 0 {
		t.Errorf("path_link: errno %d", e)
	}
	// A symlink named "file/" where file is no directory.
	s, sn := str("file/")
	if e := g.call("path_symlink", tgt, tn, 3, s, sn); e != ErrnoNotdir {
		t.Errorf("symlink at file/: errno %d, want NOTDIR", e)
	}
	d, dn := str("dir/")
	if e := g.call("path_create_directory", 3, d, dn); e != 0 {
		t.Fatalf("mkdir: errno %d", e)
	}
	if e := g.call("path_symlink", tgt, tn, 3, d, dn); e != ErrnoExist {
		t.Errorf("symlink at dir/: errno %d, want EXIST", e)
	}
	// A link to a directory names one: EEXIST, as both answer; so is a
	// dangling link's name taken (Linux).
	for _, c := range []struct{ link, to string }{{"dirlink", "dir"}, {"dangling", "nowhere"}} {
		lt, ltn := str(c.to)
		ll, lln := str(c.link)
		if e := g.call("path_symlink", lt, ltn, 3, ll, lln); e != 0 {
			t.Fatalf("symlink %s: errno %d", c.link, e)
		}
		ls, lsn := str(c.link + "/")
		if e := g.call("path_symlink", tgt, tn, 3, ls, lsn); e != ErrnoExist {
			t.Errorf("symlink at %s/ (a link to %s): errno %d, want EXIST", c.link, c.to, e)
		}
	}
}

// /dev/stdin opened with NONBLOCK is non-blocking, as the entry's own
// emulated flag (the description the engine shares is left alone): a
// read with nothing to read says EAGAIN instead of blocking the guest.
func TestStreamOpenedNonblocking(t *testing.T) {
	rootfs := t.TempDir()
	if err := os.Mkdir(filepath.Join(rootfs, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	h, err := New(Config{Args: []string{"test"}, Mounts: []Mount{{Guest: "/", Host: rootfs}}, Preopens: []string{"/"}, Stdio: [3]int{int(r.Fd()), 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	g := &guest{t: t, h: h, mem: make(memory, 1<<16), next: 1024}
	ptr, n := g.str("dev/stdin")
	if e := g.call("path_open", 3, 0, ptr, n, 0, rightFdRead, 0, fdflagNonblock, resultPtr); e != 0 {
		t.Fatalf("open /dev/stdin: errno %d", e)
	}
	fd := int64(binary.LittleEndian.Uint32(g.mem[resultPtr:]))
	if _, e := g.read(fd); e != ErrnoAgain {
		t.Errorf("read of an empty /dev/stdin opened NONBLOCK: errno %d, want EAGAIN", e)
	}
	if fl, _ := unix.FcntlInt(r.Fd(), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Errorf("the shared description became non-blocking")
	}
}

// Removing or renaming a mount point writes the directory that holds it,
// so Linux answers by that directory's mount: EBUSY in a writable
// rootfs however the mount itself is granted, EROFS in a read-only one;
// and a rename between names held in different mounts is EXDEV. Until
// December a read-only volume's mount point answered EROFS to rmdir and
// rename, and a rename onto it from another mount too, where runc's
// container gets EBUSY and EXDEV.
func TestMountPointRemovalAnswersByTheMountHoldingIt(t *testing.T) {
	for _, rootRO := range []bool{false, true} {
		base := t.TempDir()
		rootfs, ro, rw, hosts := filepath.Join(base, "rootfs"), filepath.Join(base, "ro"), filepath.Join(base, "rw"), filepath.Join(base, "hosts")
		for _, d := range []string{filepath.Join(rootfs, "ro"), filepath.Join(rootfs, "rw"), filepath.Join(rootfs, "etc"), ro} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		write(t, filepath.Join(rootfs, "etc/hosts"), "")
		write(t, hosts, "")
		write(t, filepath.Join(rw, "x"), "x")
		g := newGuest(t, []Mount{
			{Guest: "/", Host: rootfs, ReadOnly: rootRO},
			{Guest: "/ro", Host: ro, ReadOnly: true},
			{Guest: "/rw", Host: rw},
			{Guest: "/etc/hosts", Host: hosts, ReadOnly: true},
		}, []string{"/"})
		want, kind := ErrnoBusy, "writable"
		if rootRO {
			want, kind = ErrnoRofs, "read-only"
		}
		roP, roN := g.str("ro")
		rwP, rwN := g.str("rw")
		hostsP, hostsN := g.str("etc/hosts")
		newP, newN := g.str("elsewhere")
		xP, xN := g.str("rw/x")
		for name, e := range map[string]Errno{
			"rmdir /ro":         g.call("path_remove_directory", 3, roP, roN),
			"rmdir /rw":         g.call("path_remove_directory", 3, rwP, rwN),
			"rename /ro":        g.call("path_rename", 3, roP, roN, 3, newP, newN),
			"rename /rw":        g.call("path_rename", 3, rwP, rwN, 3, newP, newN),
			"unlink /etc/hosts": g.call("path_unlink_file", 3, hostsP, hostsN),
			"rename /etc/hosts": g.call("path_rename", 3, hostsP, hostsN, 3, newP, newN),
		} {
			if e != want {
				t.Errorf("%s in a %s rootfs: errno %d, want %d", name, kind, e, want)
			}
		}
		// /rw/x is held by /rw, the name "ro" by the rootfs: another mount.
		if e := g.call("path_rename", 3, xP, xN, 3, roP, roN); e != ErrnoXdev {
			t.Errorf("rename /rw/x onto /ro in a %s rootfs: errno %d, want EXDEV", kind, e)
		}
		if _, err := os.Stat(filepath.Join(rw, "x")); err != nil {
			t.Errorf("/rw/x after the refused rename: %v", err)
		}
	}
}

// "." and ".." as a path's last component are refused as Linux refuses
// them, before mounts and write access are looked at: rmdir EINVAL and
// ENOTEMPTY, unlink EISDIR, rename EBUSY ("sub/.." naming a mount's root
// was EBUSY for rmdir, EXDEV for rename). Over a mount point, rename
// checks the kinds first: EISDIR for a file over a directory, ENOTDIR for
// a directory over a file.
func TestDotNamesAndKindsAsLinux(t *testing.T) {
	for _, ro := range []bool{false, true} {
		base := t.TempDir()
		rootfs, data, hosts := filepath.Join(base, "rootfs"), filepath.Join(base, "data"), filepath.Join(base, "hosts")
		for _, d := range []string{filepath.Join(rootfs, "data"), filepath.Join(rootfs, "etc"), filepath.Join(rootfs, "d"), filepath.Join(data, "sub")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		write(t, filepath.Join(rootfs, "etc/hosts"), "")
		write(t, filepath.Join(rootfs, "f"), "")
		write(t, filepath.Join(data, "e"), "")
		write(t, hosts, "")
		g := newGuest(t, []Mount{
			{Guest: "/", Host: rootfs},
			{Guest: "/data", Host: data, ReadOnly: ro},
			{Guest: "/etc/hosts", Host: hosts},
		}, []string{"/", "/data"})
		str := func(s string) (int64, int64) { return g.str(s) }
		rmdir := func(fd int64, p string) Errno { a, n := str(p); return g.call("path_remove_directory", fd, a, n) }
		unlink := func(fd int64, p string) Errno { a, n := str(p); return g.call("path_unlink_file", fd, a, n) }
		rename := func(fd int64, from string, to int64, p string) Errno {
			a, n := str(from)
			b, bn := str(p)
			return g.call("path_rename", fd, a, n, to, b, bn)
		}
		for name, c := range map[string]struct{ got, want Errno }{
			"rmdir sub/.":              {rmdir(4, "sub/."), ErrnoInval},
			"rmdir sub/..":             {rmdir(4, "sub/.."), ErrnoNotempty},
			"rmdir data/. from /":      {rmdir(3, "data/."), ErrnoInval},
			"unlink sub/..":            {unlink(4, "sub/.."), ErrnoIsdir},
			"rename sub/.. to zz":      {rename(4, "sub/..", 4, "zz"), ErrnoBusy},
			"rename e to sub/..":       {rename(4, "e", 4, "sub/.."), ErrnoBusy},
			"rename f onto /data":      {rename(3, "f", 3, "data"), ErrnoIsdir},
			"rename d onto /etc/hosts": {rename(3, "d", 3, "etc/hosts"), ErrnoNotdir},
			"rename f onto /etc/hosts": {rename(3, "f", 3, "etc/hosts"), ErrnoBusy},
		} {
			if c.got != c.want {
				t.Errorf("%s (/data read-only %v): errno %d, want %d", name, ro, c.got, c.want)
			}
		}
	}
}

// wasi-libc resolves an absolute path against the longest preopen that
// prefixes it, so rename("/rw", "/rw2") reaches runw as "." of the /rw
// preopen and "rw2" of "/". That "." names the mount point, as "rw" of "/"
// does: Linux (and wasmtime) answer EBUSY, where runw compared /rw's mount
// with the rootfs and answered EXDEV. unlink and rmdir of a mount point
// check its kind first, as Linux: EISDIR for a directory, ENOTDIR for a
// file, then EBUSY (EROFS before all in a read-only rootfs).
func TestMountPointReachedThroughItsOwnPreopen(t *testing.T) {
	for _, rootRO := range []bool{false, true} {
		base := t.TempDir()
		rootfs, rw, hosts := filepath.Join(base, "rootfs"), filepath.Join(base, "rw"), filepath.Join(base, "hosts")
		for _, d := range []string{filepath.Join(rootfs, "rw"), filepath.Join(rootfs, "etc"), filepath.Join(rootfs, "d"), rw} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		write(t, filepath.Join(rootfs, "etc/hosts"), "")
		write(t, hosts, "")
		g := newGuest(t, []Mount{
			{Guest: "/", Host: rootfs, ReadOnly: rootRO},
			{Guest: "/rw", Host: rw},
			{Guest: "/etc/hosts", Host: hosts},
		}, []string{"/", "/rw"})
		const root, rwFd = 3, 4
		busy, isdir, notdir, kind := ErrnoBusy, ErrnoIsdir, ErrnoNotdir, "writable"
		if rootRO {
			busy, isdir, notdir, kind = ErrnoRofs, ErrnoRofs, ErrnoRofs, "read-only"
		}
		dotP, dotN := g.str(".")
		newP, newN := g.str("rw2")
		rwP, rwN := g.str("rw")
		hostsP, hostsN := g.str("etc/hosts")
		dP, dN := g.str("d")
		for name, c := range map[string]struct {
			got, want Errno
		}{
			"rename /rw (its preopen's .) to /rw2":    {g.call("path_rename", rwFd, dotP, dotN, root, newP, newN), busy},
			"rename /d onto /rw (its preopen's .)":    {g.call("path_rename", root, dP, dN, rwFd, dotP, dotN), busy},
			"rename /rw (as rw of /) to /rw2":         {g.call("path_rename", root, rwP, rwN, root, newP, newN), busy},
			"rmdir /rw (its preopen's .)":             {g.call("path_remove_directory", rwFd, dotP, dotN), busy},
			"unlink /rw (its preopen's .)":            {g.call("path_unlink_file", rwFd, dotP, dotN), isdir},
			"unlink /rw (as rw of /)":                 {g.call("path_unlink_file", root, rwP, rwN), isdir},
			"rmdir /etc/hosts, a file mount":          {g.call("path_remove_directory", root, hostsP, hostsN), notdir},
			"unlink /etc/hosts, a file mount":         {g.call("path_unlink_file", root, hostsP, hostsN), busy},
			"rename /etc/hosts, a file mount, to rw2": {g.call("path_rename", root, hostsP, hostsN, root, newP, newN), busy},
		} {
			if c.got != c.want {
				t.Errorf("%s in a %s rootfs: errno %d, want %d", name, kind, c.got, c.want)
			}
		}
		// A name inside /rw renamed through the same preopen still works.
		write(t, filepath.Join(rw, "a"), "a")
		aP, aN := g.str("a")
		bP, bN := g.str("b")
		if e := g.call("path_rename", rwFd, aP, aN, rwFd, bP, bN); e != 0 {
			t.Errorf("rename /rw/a to /rw/b in a %s rootfs: errno %d", kind, e)
		}
		for _, p := range []string{filepath.Join(rootfs, "rw"), filepath.Join(rootfs, "d"), filepath.Join(rw, "b")} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("after the refused calls in a %s rootfs: %v", kind, err)
			}
		}
	}
}

// TestRootAndDotDotAnswerAsOnLinux: the container's "/" itself (wasi-libc
// sends rmdir("/") as "." of the "/" preopen) is Linux's LAST_ROOT: rmdir
// and rename answer EBUSY and unlink EISDIR before write access is asked
// (runw said EROFS under a read-only root, and passed "." to the kernel
// under a writable one: EINVAL). A ".." lies in the directory it is
// looked up in: rename("/tmp/..", "/tmp/x") is EBUSY, where runw compared
// the mount of "/" (what ".." names) with /tmp's and said EXDEV. Found by
// running musl's libc-test and a probe of 75 file operations against
// Linux.
func TestRootAndDotDotAnswerAsOnLinux(t *testing.T) {
	for _, rootRO := range []bool{false, true} {
		base := t.TempDir()
		rootfs, tmp := filepath.Join(base, "rootfs"), filepath.Join(base, "tmp")
		for _, d := range []string{filepath.Join(rootfs, "tmp"), filepath.Join(rootfs, "d"), tmp} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		g := newGuest(t, []Mount{{Guest: "/", Host: rootfs, ReadOnly: rootRO}, {Guest: "/tmp", Host: tmp}}, []string{"/", "/tmp"})
		const root, tmpFd = 3, 4
		dotP, dotN := g.str(".")
		upP, upN := g.str("..")
		xP, xN := g.str("x")
		dP, dN := g.str("d")
		for name, c := range map[string]struct {
			got, want Errno
		}{
			"rmdir /":                  {g.call("path_remove_directory", root, dotP, dotN), ErrnoBusy},
			"unlink /":                 {g.call("path_unlink_file", root, dotP, dotN), ErrnoIsdir},
			"rename / to /x":           {g.call("path_rename", root, dotP, dotN, root, xP, xN), ErrnoBusy},
			"rename /d onto /":         {g.call("path_rename", root, dP, dN, root, dotP, dotN), ErrnoBusy},
			"rename /tmp/.. to /tmp/x": {g.call("path_rename", tmpFd, upP, upN, tmpFd, xP, xN), ErrnoBusy},
			"rename /tmp/.. to /x":     {g.call("path_rename", tmpFd, upP, upN, root, xP, xN), ErrnoXdev},
			"rmdir /tmp/..":            {g.call("path_remove_directory", tmpFd, upP, upN), ErrnoNotempty},
		} {
			if c.got != c.want {
				t.Errorf("%s (read-only root %v): errno %d, want %d", name, rootRO, c.got, c.want)
			}
		}
		for _, p := range []string{filepath.Join(rootfs, "d"), filepath.Join(rootfs, "tmp")} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("after the refused calls: %v", err)
			}
		}
	}
}

// TestNewNamesAndDotsAnswerAsOnLinux: the errno order of Linux's calls
// where runw answers before the kernel (read-only grants, mount points,
// links across mounts), found by differential runs of the same C program
// native under runc and as wasm under runw: Linux looks a new name up
// (ENAMETOOLONG, EEXIST, ENOENT for "new/") before it asks for write
// access and compares mounts; a rename's missing source is ENOENT before
// a mount point's EBUSY; O_EXCL never follows a symlink; a trailing slash
// follows one; and "." of a directory the guest opened is Linux's last
// "." (it was taken for the directory itself, as a preopen's "." is).
func TestNewNamesAndDotsAnswerAsOnLinux(t *testing.T) {
	base := t.TempDir()
	rootfs, ro, rw, tmp, m := filepath.Join(base, "rootfs"), filepath.Join(base, "ro"), filepath.Join(base, "rw"), filepath.Join(base, "tmp"), filepath.Join(base, "m")
	for _, d := range []string{filepath.Join(rootfs, "d/m"), filepath.Join(rootfs, "ro"), filepath.Join(rootfs, "rw"), filepath.Join(rootfs, "tmp"), filepath.Join(ro, "sub"), rw, tmp, m} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(rootfs, "d/f"), "f")
	write(t, filepath.Join(ro, "file"), "file")
	write(t, filepath.Join(rw, "file"), "file")
	for link, to := range map[string]string{"ldang": "nothing", "lup": "file"} {
		if err := os.Symlink(to, filepath.Join(ro, link)); err != nil {
			t.Fatal(err)
		}
	}
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}, {Guest: "/ro", Host: ro, ReadOnly: true}, {Guest: "/rw", Host: rw}, {Guest: "/tmp", Host: tmp}, {Guest: "/d/m", Host: m}},
		[]string{"/", "/ro", "/rw", "/tmp"})
	const root, roFd, rwFd = 3, 4, 5
	long := strings.Repeat("n", 256)
	p := func(s string) (int64, int64) { return g.str(s) }
	call := func(name string, fd int64, path string, more ...any) Errno {
		ptr, n := p(path)
		args := []int64{fd, ptr, n}
		for _, m := range more {
			switch m := m.(type) {
			case string:
				mp, mn := p(m)
				args = append(args, mp, mn)
			case int:
				args = append(args, int64(m))
			}
		}
		return g.call(name, args...)
	}
	link := func(fromFd int64, from string, toFd int64, to string) Errno {
		fp, fn := p(from)
		tp, tn := p(to)
		return g.call("path_link", fromFd, 0, fp, fn, toFd, tp, tn)
	}
	rename := func(fromFd int64, from string, toFd int64, to string) Errno {
		fp, fn := p(from)
		tp, tn := p(to)
		return g.call("path_rename", fromFd, fp, fn, toFd, tp, tn)
	}
	sub, e := g.open(roFd, "sub", false, oflagDirectory, rightPathRemoveDirectory|rightPathUnlinkFile|rightPathRenameSource|rightPathRenameTarget)
	if e != 0 {
		t.Fatal(e)
	}
	d, e := g.open(root, "d", false, oflagDirectory, rightPathRemoveDirectory|rightPathRenameSource|rightPathRenameTarget)
	if e != 0 {
		t.Fatal(e)
	}
	_, excl := g.open(roFd, "ldang", false, oflagCreat|oflagExcl, rightFdRead)
	_, slashNofollow := g.open(roFd, "lup/", false, 0, rightFdWrite)
	_, longCreate := g.open(roFd, long, false, oflagCreat, rightFdWrite)
	for name, c := range map[string]struct{ got, want Errno }{
		"rename /d/nothere onto /tmp, a mount point": {rename(root, "d/nothere", root, "tmp"), ErrnoNoent},
		"link /d/f to /rw/file, a name taken":        {link(root, "d/f", rwFd, "file"), ErrnoExist},
		"link /d/f to /rw/newz/":                     {link(root, "d/f", rwFd, "newz/"), ErrnoNoent},
		"link /d/f to a name past NAME_MAX in /rw":   {link(root, "d/f", rwFd, long), ErrnoNametoolong},
		"link /rw, a mount's root, to /rw/x":         {link(root, "rw", rwFd, "x"), ErrnoPerm},
		"link /ro/file to /ro/new/":                  {link(roFd, "file", roFd, "new/"), ErrnoNoent},
		"mkdir a name past NAME_MAX in /ro":          {call("path_create_directory", roFd, long), ErrnoNametoolong},
		"symlink x to /ro/new/": {func() Errno {
			xp, xn := p("x")
			np, nn := p("new/")
			return g.call("path_symlink", xp, xn, roFd, np, nn)
		}(), ErrnoNoent},
		"open a name past NAME_MAX in /ro, O_CREAT": {longCreate, ErrnoNametoolong},
		"open /ro/ldang, dangling, O_CREAT|O_EXCL":  {excl, ErrnoExist},
		"open /ro/lup/ for writing, no follow":      {slashNofollow, ErrnoNotdir},
		"rmdir . of /ro/sub opened":                 {call("path_remove_directory", sub, "."), ErrnoInval},
		"unlink . of /ro/sub opened":                {call("path_unlink_file", sub, "."), ErrnoIsdir},
		"rename y onto . of /ro/sub opened":         {rename(sub, "y", sub, "."), ErrnoBusy},
		// A mount point named in a directory the guest opened is no ".".
		"rmdir m, a mount point, of /d opened":       {call("path_remove_directory", d, "m"), ErrnoBusy},
		"rename m, a mount point, of /d opened to x": {rename(d, "m", d, "x"), ErrnoBusy},
	} {
		if c.got != c.want {
			t.Errorf("%s: errno %d, want %d", name, c.got, c.want)
		}
	}
}

// TestPollStdinFromAFileCountsItsBytes: stdin redirected from a file (run
// < in.txt) reports the bytes left to read in its FD_READ event, as a
// file the guest opened does (it reported 0).
func TestPollStdinFromAFileCountsItsBytes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(p, []byte("hello world"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := newStdioGuest(t, t.TempDir(), [3]int{int(f.Fd()), 1, 2})
	if errno := g.pollRead(0); errno != 0 || binary.LittleEndian.Uint32(g.mem[resultPtr:]) != 1 {
		t.Fatalf("poll_oneoff: errno %d, %d events", errno, binary.LittleEndian.Uint32(g.mem[resultPtr:]))
	}
	if n := binary.LittleEndian.Uint64(g.mem[21000+16:]); n != 11 {
		t.Errorf("FD_READ on stdin from an 11-byte file: nbytes %d, want 11", n)
	}
}

// TestPollAbsoluteMonotonicNeverEarly: an absolute deadline on the
// monotonic clock, a few microseconds ahead of the clock the guest reads
// (CLOCK_MONOTONIC), is never reported reached before that clock reaches
// it. The host's own reading of the clock ran ahead by the gap between
// two reads at start-up, and about a third of such waits ended early.
func TestPollAbsoluteMonotonicNeverEarly(t *testing.T) {
	g := newStdioGuest(t, t.TempDir(), [3]int{0, 1, 2})
	sub := g.mem[20000 : 20000+subscriptionSize]
	early := 0
	for i := range 2000 {
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		deadline := uint64(ts.Nano()) + uint64(i%50)*100
		clear(sub)
		sub[8] = eventClock
		binary.LittleEndian.PutUint32(sub[16:], clockMonotonic)
		binary.LittleEndian.PutUint64(sub[24:], deadline)
		binary.LittleEndian.PutUint16(sub[40:], subclockAbstime)
		if errno := g.call("poll_oneoff", 20000, 21000, 1, resultPtr); errno != 0 {
			t.Fatalf("poll_oneoff: errno %d", errno)
		}
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		if int64(deadline) > ts.Nano() {
			early++
		}
	}
	if early > 0 {
		t.Errorf("%d of 2000 absolute monotonic waits ended before CLOCK_MONOTONIC reached their deadline", early)
	}
}

// TestReadlinkTrailingSlashStaysInTheView: readlink of "link/" follows the
// link, as Linux does, but inside the view. Handed to readlinkat with its
// slash, the kernel followed the guest's link from the init's own root,
// and the errno (EINVAL for a directory, ENOTDIR for a file, ENOENT for
// nothing) mapped the host's paths, which the container does not have.
func TestReadlinkTrailingSlashStaysInTheView(t *testing.T) {
	g, rootfs, _, secret := layout(t, false)
	symlink(t, filepath.Dir(secret), filepath.Join(rootfs, "tohost"))
	symlink(t, secret, filepath.Join(rootfs, "tohostfile"))
	symlink(t, "/no/such/dir", filepath.Join(rootfs, "tonothing"))
	symlink(t, "/etc", filepath.Join(rootfs, "todir"))
	symlink(t, "/etc/real", filepath.Join(rootfs, "tofile"))
	for p, want := range map[string]Errno{
		"tohost/": ErrnoNoent, "tohostfile/": ErrnoNoent, "tonothing/": ErrnoNoent,
		// Inside the view, Linux's answers.
		"todir/": ErrnoInval, "tofile/": ErrnoNotdir,
	} {
		ptr, n := g.str(p)
		if e := g.call("path_readlink", 3, ptr, n, 30000, 100, resultPtr); e != want {
			t.Errorf("readlink %q: errno %d, want %d", p, e, want)
		}
	}
	ptr, n := g.str("tofile")
	if e := g.call("path_readlink", 3, ptr, n, 30000, 100, resultPtr); e != 0 || string(g.mem[30000:30000+binary.LittleEndian.Uint32(g.mem[resultPtr:])]) != "/etc/real" {
		t.Errorf("readlink tofile: errno %d, %q", e, g.mem[30000:30000+binary.LittleEndian.Uint32(g.mem[resultPtr:])])
	}
}

// TestSetTimesFarFuture: a time from 2^63 ns on (the year 2262) is set
// as the guest gave it, as Linux's utimensat and wasmtime set it, and
// read back the same; runw turned it negative, before 1970.
func TestSetTimesFarFuture(t *testing.T) {
	g, rootfs, _, _ := layout(t, false)
	var when uint64 = 10_000_000_000_000_000_000 // 2286-11-20
	p, n := g.str("etc/real")
	if e := g.call("path_filestat_set_times", 3, 0, p, n, 0, int64(when), fstMtim); e != 0 {
		t.Fatalf("path_filestat_set_times: errno %d", e)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(rootfs, "etc/real"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mtim.Sec != int64(when/1e9) {
		t.Errorf("host mtime %d s, want %d", st.Mtim.Sec, when/1e9)
	}
	if e := g.call("path_filestat_get", 3, 0, p, n, 40000); e != 0 {
		t.Fatalf("path_filestat_get: errno %d", e)
	}
	if got := binary.LittleEndian.Uint64(g.mem[40000+48:]); got != when {
		t.Errorf("guest mtim %d, want %d", got, when)
	}
}

// TestSetTimesTrailingSlashOnAFile: setting the times of "file/" is
// ENOTDIR, as on Linux and under wasmtime, and leaves the file's times;
// runw set them.
func TestSetTimesTrailingSlashOnAFile(t *testing.T) {
	for _, ro := range []bool{false, true} {
		g, rootfs, data, _ := layout(t, ro)
		for _, c := range []struct{ guest, host string }{{"etc/real/", filepath.Join(rootfs, "etc/real")}, {"data/inside/", filepath.Join(data, "inside")}} {
			old := time.Unix(1000, 0)
			if err := os.Chtimes(c.host, old, old); err != nil {
				t.Fatal(err)
			}
			p, n := g.str(c.guest)
			e := g.call("path_filestat_set_times", 3, 0, p, n, 0, 0, fstMtimNow)
			var st unix.Stat_t
			if err := unix.Stat(c.host, &st); err != nil {
				t.Fatal(err)
			}
			if e != ErrnoNotdir || st.Mtim.Sec != 1000 {
				t.Errorf("read-only data %v: set times of %s: errno %d, mtime %d; want ENOTDIR and 1000", ro, c.guest, e, st.Mtim.Sec)
			}
		}
	}
}

// A file dated before 1970 (or after 2554) has no WASI time: its
// timestamps read as 0, as wasmtime reports them missing. They wrapped to
// the far future (1969 read as 2554, 1901 as 2486), and make or rsync in
// the guest took the oldest file for the newest. Dates in between read
// exactly, past 2262 (where int64 nanoseconds end) too.
func TestTimesOutsideWASIsRange(t *testing.T) {
	rootfs := t.TempDir()
	g := newGuest(t, []Mount{{Guest: "/", Host: rootfs}}, []string{"/"})
	for _, tc := range []struct {
		sec  int64
		want uint64
	}{
		{-1, 0},                                // 1969-12-31T23:59:59Z
		{-2147483648, 0},                       // 1901, ext4's earliest
		{1_700_000_000, 1_700_000_000 * 1e9},   // 2023
		{9_300_000_000, 9_300_000_000 * 1e9},   // 2264
		{15_000_000_000, 15_000_000_000 * 1e9}, // 2445, near ext4's last
	} {
		f := filepath.Join(rootfs, "f")
		write(t, f, "")
		ts := []unix.Timespec{{Sec: tc.sec, Nsec: 7}, {Sec: tc.sec, Nsec: 7}}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, f, ts, 0); err != nil {
			t.Fatalf("set %d: %v", tc.sec, err)
		}
		want := tc.want
		if want != 0 {
			want += 7
		}
		ptr, n := g.str("f")
		if e := g.call("path_filestat_get", 3, 0, ptr, n, resultPtr); e != 0 {
			t.Fatalf("path_filestat_get: errno %d", e)
		}
		atim, mtim := binary.LittleEndian.Uint64(g.mem[resultPtr+40:]), binary.LittleEndian.Uint64(g.mem[resultPtr+48:])
		if atim != want || mtim != want {
			t.Errorf("a file dated %d s: atim %d, mtim %d, want %d", tc.sec, atim, mtim, want)
		}
	}
	// Beyond what a file system here can hold: the last time WASI has,
	// and one past it.
	if got := timestamp(unix.Timespec{Sec: 18_446_744_073, Nsec: 709_551_615}); got != math.MaxUint64 {
		t.Errorf("2554's last nanosecond: %d", got)
	}
	if got := timestamp(unix.Timespec{Sec: 18_446_744_073, Nsec: 709_551_616}); got != 0 {
		t.Errorf("2554's last nanosecond and one: %d, want 0", got)
	}
}
