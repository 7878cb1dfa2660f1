package preview1

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A hostile guest against the host's own bookkeeping: pointers whose
// arithmetic wraps at 4 GiB, result pointers that fail after the effect,
// and counts or depths that would make the init allocate far beyond the
// guest's own memory (the init is in the container's memory cgroup: the
// OOM killer, not an errno, would answer).

// bigMemory is a guest memory of the full 4 GiB a preview 1 pointer
// reaches, reserved but not committed: only the pages a test touches
// cost anything.
func bigMemory(t *testing.T) memory {
	t.Helper()
	b, err := unix.Mmap(-1, 0, maxMemory, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		t.Skipf("cannot reserve 4 GiB: %v", err)
	}
	t.Cleanup(func() { unix.Munmap(b) })
	return memory(b)
}

// untouched fails the test if anything was written to mem[from:from+n].
func untouched(t *testing.T, mem memory, from, n uint32, what string) {
	t.Helper()
	for i, c := range mem[from : from+n] {
		if c != 0 {
			t.Fatalf("%s wrote to address %d", what, from+uint32(i))
		}
	}
}

// Records near the top of a 4 GiB memory: a pointer plus an offset, or a
// buffer plus the lengths written so far, computed in 32 bits, wrapped to
// address 0, and the call wrote there and reported success.
func TestPointerArithmeticNeverWraps(t *testing.T) {
	mem := bigMemory(t)
	h, err := New(Config{
		Args:   []string{"/app.wasm", "abc", "def"},
		Env:    []string{"TERM=xterm", "A=b"},
		Mounts: []Mount{{Guest: "/", Host: t.TempDir()}}, Preopens: []string{"/"},
		Stdio: [3]int{0, 1, 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	call := func(name string, args ...uint32) Errno {
		a := make([]arg, len(args))
		for i, v := range args {
			a[i] = arg{lo: uint64(v)}
		}
		return byName(name).body(h, mem, a)
	}
	top := uint32(maxMemory - 4)
	if e := call("fd_prestat_get", 3, top); e != ErrnoFault {
		t.Errorf("fd_prestat_get with its record across 4 GiB: errno %d, want EFAULT", e)
	}
	untouched(t, mem, 0, 64, "fd_prestat_get")

	if e := call("args_get", top, 0x1000); e != ErrnoFault {
		t.Errorf("args_get with its pointer array across 4 GiB: errno %d, want EFAULT", e)
	}
	untouched(t, mem, 0, 64, "args_get")
	untouched(t, mem, 0x1000, 64, "args_get (strings of a failed call)")

	// The first string ends exactly at 4 GiB: the second would start at 0.
	first := uint32(len("TERM=xterm") + 1)
	if e := call("environ_get", 0x2000, uint32(maxMemory-uint64(first))); e != ErrnoFault {
		t.Errorf("environ_get with its strings across 4 GiB: errno %d, want EFAULT", e)
	}
	untouched(t, mem, 0, 64, "environ_get")

	// The same calls inside memory still work.
	if e := call("environ_get", 0x2000, 0x3000); e != 0 {
		t.Fatalf("environ_get: errno %d", e)
	}
	if p := binary.LittleEndian.Uint32(mem[0x2004:]); p != 0x3000+first || string(mem[p:p+4]) != "A=b\x00" {
		t.Errorf("environ_get wrote environ[1] = %#x (%q)", p, mem[p:p+4])
	}
}

// A call whose result pointer is bad must fail before its effect: a read
// that consumed data, a write that wrote it, a seek that moved the file or
// an open that created or truncated one, each reported as EFAULT, lost
// data or made a guest that retries do the work twice.
func TestResultPointerCheckedBeforeTheEffect(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "data"), "ABCDEFGH")
	g := newGuest(t, []Mount{{Guest: "/", Host: root}}, []string{"/"})
	bad := int64(len(g.mem) - 2) // a u32 there would cross the end

	fd, e := g.open(3, "data", false, 0, rightFdRead|rightFdWrite|rightFdSeek|rightFdTell)
	if e != 0 {
		t.Fatalf("open data: errno %d", e)
	}
	iov := func(buf, n uint32) int64 {
		binary.LittleEndian.PutUint32(g.mem[200:], buf)
		binary.LittleEndian.PutUint32(g.mem[204:], n)
		return 200
	}
	if e := g.call("fd_read", fd, iov(300, 4), 1, bad); e != ErrnoFault {
		t.Errorf("fd_read with a bad nread pointer: errno %d, want EFAULT", e)
	}
	if e := g.call("fd_read", fd, iov(300, 4), 1, resultPtr); e != 0 || string(g.mem[300:304]) != "ABCD" {
		t.Errorf("the read after a failed one: errno %d, %q; want ABCD (the failed read must take nothing)", e, g.mem[300:304])
	}
	if e := g.call("fd_seek", fd, 6, whenceSet, bad); e != ErrnoFault {
		t.Errorf("fd_seek with a bad result pointer: errno %d, want EFAULT", e)
	}
	if e := g.call("fd_tell", fd, resultPtr); e != 0 || binary.LittleEndian.Uint64(g.mem[resultPtr:]) != 4 {
		t.Errorf("offset after a failed seek: errno %d, %d; want 4", e, binary.LittleEndian.Uint64(g.mem[resultPtr:]))
	}
	copy(g.mem[300:], "xyz!")
	if e := g.call("fd_write", fd, iov(300, 4), 1, bad); e != ErrnoFault {
		t.Errorf("fd_write with a bad nwritten pointer: errno %d, want EFAULT", e)
	}
	if e := g.call("fd_pwrite", fd, iov(300, 4), 1, 0, bad); e != ErrnoFault {
		t.Errorf("fd_pwrite with a bad nwritten pointer: errno %d, want EFAULT", e)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "data")); string(b) != "ABCDEFGH" {
		t.Errorf("after failed writes the file is %q, want it unchanged", b)
	}

	ptr, n := g.str("created")
	if e := g.call("path_open", 3, 0, ptr, n, oflagCreat, rightFdWrite, 0, 0, bad); e != ErrnoFault {
		t.Errorf("path_open O_CREAT with a bad fd pointer: errno %d, want EFAULT", e)
	}
	if _, err := os.Lstat(filepath.Join(root, "created")); !os.IsNotExist(err) {
		t.Errorf("a failed path_open created the file (%v)", err)
	}
	ptr, n = g.str("data")
	if e := g.call("path_open", 3, 0, ptr, n, oflagTrunc, rightFdWrite, 0, 0, bad); e != ErrnoFault {
		t.Errorf("path_open O_TRUNC with a bad fd pointer: errno %d, want EFAULT", e)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "data")); string(b) != "ABCDEFGH" {
		t.Errorf("a failed path_open O_TRUNC left %q", b)
	}
}

// poll_oneoff costs the host up to 56 bytes a subscription. Untouched
// guest pages cost the guest nothing and read as zeros, a valid clock
// subscription: 4 million of them made the init allocate 300 MB and the
// OOM killer end a container limited to 256 MiB.
func TestPollSubscriptionsBounded(t *testing.T) {
	g := newGuest(t, []Mount{{Guest: "/", Host: t.TempDir()}}, []string{"/"})
	g.mem = bigMemory(t)
	if e := g.call("poll_oneoff", 0x10000, 0x10000, maxSubscriptions+1, resultPtr); e != ErrnoInval {
		t.Errorf("poll_oneoff of %d subscriptions: errno %d, want EINVAL", maxSubscriptions+1, e)
	}
	// A large call is served, and its lists are not kept.
	const many = 100000
	if e := g.call("poll_oneoff", 0x10000, 0x10000, many, resultPtr); e != 0 {
		t.Fatalf("poll_oneoff of %d zero (immediate clock) subscriptions: errno %d", many, e)
	}
	if n := binary.LittleEndian.Uint32(g.mem[resultPtr:]); n != many {
		t.Errorf("%d events, want %d", n, many)
	}
	if c := cap(g.h.poll.clocks); c > keptSubscriptions {
		t.Errorf("the host kept room for %d subscriptions after the call", c)
	}
	// An event loop's usual call keeps its lists for the next.
	if e := g.call("poll_oneoff", 0x10000, 0x10000, 8, resultPtr); e != 0 || cap(g.h.poll.clocks) < 8 {
		t.Errorf("small poll: errno %d, kept %d", e, cap(g.h.poll.clocks))
	}
	// So does a server waiting on thousands of connections: a guest
	// holding 2,500 descriptors may wait on 5,000 events at every call,
	// and reallocating its lists each time would be garbage at the rate
	// it polls.
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) != nil || lim.Cur < 3000 {
		t.Skipf("RLIMIT_NOFILE %d: too few descriptors for 2,500 open files", lim.Cur)
	}
	for range 2500 {
		if _, e := g.open(3, ".", false, oflagDirectory, rightFdReaddir); e != 0 {
			t.Fatalf("open: errno %d", e)
		}
	}
	if e := g.call("poll_oneoff", 0x10000, 0x10000, 5000, resultPtr); e != 0 || cap(g.h.poll.clocks) < 5000 {
		t.Errorf("poll of 5,000 with 2,500 descriptors open: errno %d, kept room for %d", e, cap(g.h.poll.clocks))
	}
}

// readdirAll pages through directory fd with a buffer of bufLen bytes from
// cookie, as wasi-libc does (a cut record is asked for again), and returns
// the names with their cookies (d_next - 1).
func readdirAll(t *testing.T, g *guest, fd int64, bufLen, from uint64) (names []string, cookies []uint64) {
	t.Helper()
	const buf = 4096
	cookie := from
	for {
		if e := g.call("fd_readdir", fd, buf, int64(bufLen), int64(cookie), resultPtr); e != 0 {
			t.Fatalf("fd_readdir: errno %d", e)
		}
		used := uint64(binary.LittleEndian.Uint32(g.mem[resultPtr:]))
		b := g.mem[buf : buf+used]
		progressed := false
		for len(b) >= direntSize {
			next := binary.LittleEndian.Uint64(b)
			n := uint64(binary.LittleEndian.Uint32(b[16:]))
			if uint64(len(b)) < direntSize+n {
				break // cut: asked for again from cookie
			}
			names = append(names, string(b[direntSize:direntSize+n]))
			cookies = append(cookies, next-1)
			cookie, progressed = next, true
			b = b[direntSize+n:]
		}
		if used < bufLen {
			return names, cookies
		}
		if !progressed {
			t.Fatalf("a %d-byte buffer holds no whole entry at cookie %d", bufLen, cookie)
		}
	}
}

// fd_readdir kept a copy of the whole listing for every directory
// descriptor: 10,000 long names and a few hundred descriptors made the
// init allocate gigabytes. Now nothing of a listing outlives the call,
// and paging, cut records and cookies kept from earlier still give each
// entry once, in order.
func TestReaddirKeepsNoListing(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const files = 1000
	want := map[string]bool{}
	for i := range files {
		name := fmt.Sprintf("%s%05d", strings.Repeat("n", 200), i)
		write(t, filepath.Join(dir, name), "")
		want[name] = true
	}
	g := newGuest(t, []Mount{{Guest: "/", Host: root}}, []string{"/"})

	for _, bufLen := range []uint64{240, 1000, 4096} {
		names, cookies := readdirAll(t, g, mustOpenDir(t, g, "d"), bufLen, 0)
		if len(names) != files+2 || names[0] != "." || names[1] != ".." {
			t.Fatalf("buffer %d: %d entries, first %q; want %d with . and .. first", bufLen, len(names), names[:2], files+2)
		}
		seen := map[string]bool{}
		for i, n := range names[2:] {
			if !want[n] || seen[n] {
				t.Fatalf("buffer %d: entry %q unexpected or repeated", bufLen, n)
			}
			seen[n] = true
			if cookies[i+2] != uint64(i+2) {
				t.Fatalf("buffer %d: entry %d has cookie %d", bufLen, i+2, cookies[i+2])
			}
		}
		// A cookie kept from earlier (telldir, seekdir) finds the same
		// entry again, before and after the last position.
		for _, c := range []uint64{1, 2, files / 2, files + 1, files + 2} {
			again, _ := readdirAll(t, g, mustOpenDirAt(t, g, "d", names, bufLen), bufLen, c)
			if len(again) != len(names)-int(c) || (len(again) > 0 && again[0] != names[c]) {
				t.Fatalf("buffer %d: from cookie %d: %d entries starting %v, want %d starting %q", bufLen, c, len(again), again[:min(1, len(again))], len(names)-int(c), names[min(int(c), len(names)-1)])
			}
		}
	}

	// Memory: 200 descriptors, each read once from its start.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 200 {
		fd := mustOpenDir(t, g, "d")
		if e := g.call("fd_readdir", fd, 4096, 256, 0, resultPtr); e != 0 {
			t.Fatalf("fd_readdir: errno %d", e)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 4<<20 {
		t.Errorf("200 directory descriptors, each read once, hold %d MB of the host's heap", grew>>20)
	}
}

func mustOpenDir(t *testing.T, g *guest, p string) int64 {
	t.Helper()
	fd, e := g.open(3, p, true, oflagDirectory, rightFdReaddir)
	if e != 0 {
		t.Fatalf("open %s: errno %d", p, e)
	}
	return fd
}

// mustOpenDirAt opens p and reads it once to its end, so that the
// descriptor's last position is past every cookie.
func mustOpenDirAt(t *testing.T, g *guest, p string, names []string, bufLen uint64) int64 {
	t.Helper()
	fd := mustOpenDir(t, g, p)
	if got, _ := readdirAll(t, g, fd, bufLen, 0); len(got) != len(names) {
		t.Fatalf("re-read: %d entries, want %d", len(got), len(names))
	}
	return fd
}

// A directory descriptor keeps its full guest path. A guest opening each
// directory relative to the last went 4000 levels down, each descriptor
// holding a megabyte, and one ".." through a symlink at the bottom re-walked
// from "/" building a longer path at every level: 2 GB of the init's
// memory for a guest of 64 KiB. A path that would not fit in PATH_MAX is
// now ENAMETOOLONG, and ".." still climbs where it fits.
func TestDeepDirectoryPathsBounded(t *testing.T) {
	root := t.TempDir()
	name := strings.Repeat("d", 255)
	// 20 levels of 256 bytes: 5120, past PATH_MAX. Made on the host with
	// *at calls, since the absolute path is too long for mkdir.
	dfd, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if err := unix.Mkdirat(dfd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(dfd, name, unix.O_DIRECTORY|unix.O_RDONLY, 0)
		unix.Close(dfd)
		if err != nil {
			t.Fatal(err)
		}
		dfd = next
	}
	unix.Close(dfd)

	g := newGuest(t, []Mount{{Guest: "/", Host: root}}, []string{"/"})
	fd, depth := int64(3), 0
	for ; depth < 20; depth++ {
		next, e := g.open(fd, name, false, oflagDirectory, rightFdReaddir|rightPathOpen|rightPathFilestatGet|rightPathSymlink)
		if e == ErrnoNametoolong {
			break
		}
		if e != 0 {
			t.Fatalf("open level %d: errno %d", depth+1, e)
		}
		fd = next
	}
	// "/" + 15 × 256 = 3841 bytes fits; a 16th level (4097) does not.
	if depth != 15 {
		t.Fatalf("opened %d levels of 256 bytes, want 15 (a path within PATH_MAX)", depth)
	}
	// The longest directory path that fits (4095 bytes, PATH_MAX with its
	// NUL) opens, and a symlink in it, never kept as a path itself, is
	// followed: "s/.." from there is level 15.
	deepest := strings.Repeat("e", 254)
	ep, en := g.str(deepest)
	if e := g.call("path_create_directory", fd, ep, en); e != 0 {
		t.Fatalf("mkdir at level 16: errno %d", e)
	}
	last, e := g.open(fd, deepest, false, oflagDirectory, rightFdReaddir|rightPathOpen|rightPathFilestatGet|rightPathSymlink)
	if e != 0 {
		t.Fatalf("open a directory whose guest path is 4095 bytes: errno %d", e)
	}
	// upThroughLink makes a link s -> "." in dirfd and stats "s/.." from
	// it (the filestat at 1000): after a link, ".." is the container's,
	// and the parent not on the walk's stack is walked to from "/".
	upThroughLink := func(dirfd int64) Errno {
		lp, ln := g.str(".")
		sp, sn := g.str("s")
		if e := g.call("path_symlink", lp, ln, dirfd, sp, sn); e != 0 {
			t.Fatalf("symlink: errno %d", e)
		}
		pp, pn := g.str("s/..")
		return g.call("path_filestat_get", dirfd, 0, pp, pn, 1000)
	}
	if e := upThroughLink(last); e != 0 {
		t.Errorf("s/.. from a directory of 4095 bytes: errno %d", e)
	}
	if e := upThroughLink(fd); e != 0 {
		t.Fatalf("s/.. from level 15: errno %d", e)
	}
	var st unix.Stat_t
	parent := filepath.Join(root, strings.TrimSuffix(strings.Repeat(name+"/", 14), "/"))
	pfd, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pfd)
	if err := unix.Fstatat(pfd, strings.TrimPrefix(parent, root+"/"), &st, 0); err != nil {
		t.Fatal(err)
	}
	if ino := binary.LittleEndian.Uint64(g.mem[1000+8:]); ino != st.Ino {
		t.Errorf("s/.. from level 15 is inode %d, want level 14's %d", ino, st.Ino)
	}
}

// An rm -r loop as wasi-libc runs it: read a page, remove every entry it
// holds, read on from the last cookie; and the same in two directories at
// once. Where a directory offset is only a count of entries (ramfs, and
// tmpfs before Linux 6.6), a seek between the calls counted from the start
// again and skipped as many entries as had been removed.
func TestReaddirWhileRemoving(t *testing.T) {
	roots := map[string]string{"the test's directory": t.TempDir()}
	if ram := t.TempDir(); unix.Mount("none", ram, "ramfs", 0, "") == nil {
		t.Cleanup(func() { unix.Unmount(ram, unix.MNT_DETACH) })
		roots["ramfs"] = ram
	} else {
		t.Logf("no ramfs (not root?): only the test's directory")
	}
	const files = 300
	for fs, root := range roots {
		for _, d := range []string{"a", "b"} {
			if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range files {
				write(t, filepath.Join(root, d, fmt.Sprintf("%s%05d", strings.Repeat("n", 100), i)), "")
			}
		}
		g := newGuest(t, []Mount{{Guest: "/", Host: root}}, []string{"/"})
		a, b := mustOpenDir(t, g, "a"), mustOpenDir(t, g, "b")
		// page removes the entries of one 4 KiB page of fd from cookie
		// and returns the next cookie, or false at the end.
		page := func(fd int64, cookie uint64) (uint64, bool) {
			const buf, bufLen = 8192, 4096
			if e := g.call("fd_readdir", fd, buf, bufLen, int64(cookie), resultPtr); e != 0 {
				t.Fatalf("fd_readdir: errno %d", e)
			}
			used := uint64(binary.LittleEndian.Uint32(g.mem[resultPtr:]))
			list := append([]byte(nil), g.mem[buf:buf+used]...)
			for len(list) >= direntSize {
				n := uint64(binary.LittleEndian.Uint32(list[16:]))
				if uint64(len(list)) < direntSize+n {
					break
				}
				if name := string(list[direntSize : direntSize+n]); name != "." && name != ".." {
					p, l := g.str(name)
					if e := g.call("path_unlink_file", fd, p, l); e != 0 {
						t.Fatalf("unlink %s: errno %d", name, e)
					}
				}
				cookie = binary.LittleEndian.Uint64(list)
				list = list[direntSize+n:]
			}
			return cookie, used == bufLen
		}
		ca, moreA := page(a, 0)
		for cb, moreB := uint64(0), true; moreB; {
			cb, moreB = page(b, cb)
			if moreA {
				ca, moreA = page(a, ca)
			}
		}
		for moreA {
			ca, moreA = page(a, ca)
		}
		for _, d := range []string{"a", "b"} {
			if left, _ := os.ReadDir(filepath.Join(root, d)); len(left) != 0 {
				t.Errorf("%s: %d of %d entries of %s never listed", fs, len(left), files, d)
			}
		}
	}
}

// BenchmarkReaddir pages through a directory of 1,000 entries with a
// 4 KiB buffer, as wasi-libc's readdir does: one op is the whole listing.
func BenchmarkReaddir(b *testing.B) {
	root := b.TempDir()
	dir := filepath.Join(root, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		write(b, filepath.Join(dir, fmt.Sprintf("file-%04d.txt", i)), "")
	}
	g := newGuest(b, []Mount{{Guest: "/", Host: root}}, []string{"/"})
	ptr, n := g.str("d")
	if e := g.call("path_open", 3, 0, ptr, n, oflagDirectory, rightFdReaddir, 0, 0, resultPtr); e != 0 {
		b.Fatalf("open: errno %d", e)
	}
	fd := int64(binary.LittleEndian.Uint32(g.mem[resultPtr:]))
	b.ResetTimer()
	for range b.N {
		entries, cookie := 0, int64(0)
		for {
			if e := g.call("fd_readdir", fd, 8192, 4096, cookie, resultPtr); e != 0 {
				b.Fatalf("fd_readdir: errno %d", e)
			}
			used := binary.LittleEndian.Uint32(g.mem[resultPtr:])
			for buf := g.mem[8192 : 8192+used]; len(buf) >= direntSize; {
				namlen := binary.LittleEndian.Uint32(buf[16:])
				if uint32(len(buf)) < direntSize+namlen {
					break
				}
				cookie = int64(binary.LittleEndian.Uint64(buf))
				entries++
				buf = buf[direntSize+namlen:]
			}
			if used < 4096 {
				break
			}
		}
		if entries != 1002 {
			b.Fatalf("%d entries", entries)
		}
	}
}

// TestGrantsAreConfinedCopies: each directory grant is the root of a
// private copy of its mount (confine). The rootfs's copy holds nothing
// mounted inside it: for runw exec, "/" is the container's root, where
// the container's /proc is mounted, and the guest must not reach it. A
// volume's copy keeps the volume's own submounts (an rbind's). From
// either, ".." asked of the kernel stays at the grant.
func TestGrantsAreConfinedCopies(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount, and to copy mounts")
	}
	rootfs, vol := t.TempDir(), t.TempDir()
	for _, dir := range []string{filepath.Join(rootfs, "proc"), filepath.Join(vol, "sub")} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("none", dir, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
		write(t, filepath.Join(dir, "mounted"), "x")
	}
	v, err := NewView([]Mount{{Guest: "/", Host: rootfs}, {Guest: "/vol", Host: vol}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := readViewFile(v, "/proc/mounted"); err == nil {
		t.Error("a file of a mount inside the rootfs was reached through the rootfs")
	}
	if b, err := readViewFile(v, "/vol/sub/mounted"); err != nil || string(b) != "x" {
		t.Errorf("a volume's own submount: %q, %v; want it reached", b, err)
	}
	for _, m := range v.mounts[:2] {
		var self, up unix.Stat_t
		if err := unix.Fstat(m.fd, &self); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fstatat(m.fd, "..", &up, 0); err != nil {
			t.Fatal(err)
		}
		if self.Dev != up.Dev || self.Ino != up.Ino {
			t.Errorf("%s: \"..\" of its descriptor leaves the grant", m.Guest)
		}
	}
}

// A path of hundreds of directories that takes runw's own walk (a ".."
// in it, or a symlink) held a descriptor for each until the walk ended:
// under a descriptor limit a little above what the process holds, it
// failed with EMFILE, where Linux resolves any path up to PATH_MAX
// without one. The walk now holds at most maxHeld, and ".." back down
// to directories whose descriptors it closed opens them again.
func TestDeepWalkHoldsFewDescriptors(t *testing.T) {
	const depth = 600
	rootfs := t.TempDir()
	deep := rootfs
	for i := 0; i < depth; i++ {
		deep = filepath.Join(deep, "d")
		if i == 4 {
			write(t, filepath.Join(deep, "shallow"), "at 5")
		}
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(deep, "f"), "at the bottom")
	if err := os.Symlink("d", filepath.Join(rootfs, "l")); err != nil {
		t.Fatal(err)
	}
	v, err := NewView([]Mount{{Guest: "/", Host: rootfs}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	// A limit 40 above the descriptors open now.
	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = uint64(len(open) + 40)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)

	down := strings.Repeat("d/", depth)
	for _, c := range []struct{ path, want string }{
		{down + "../d/f", "at the bottom"},
		{"l/" + strings.Repeat("d/", depth-1) + "f", "at the bottom"},
		// Down to the bottom and back up to the fifth directory: most
		// of those ".." reach a directory whose descriptor was closed.
		{down + strings.Repeat("../", depth-5) + "shallow", "at 5"},
	} {
		if got, err := readWalked(v, c.path); err != nil || got != c.want {
			t.Errorf("%d components (%.8s): read %q, %v; want %q", strings.Count(c.path, "/"), c.path, got, err, c.want)
		}
	}
}

// The attack on the walk's reopening: the walk closed the descriptors
// of the directories low on its stack and opens them again when ".."
// comes back, through the kernel's ".." of the directory above. Whatever
// is renamed or swapped meanwhile (a directory on the way replaced by a
// symlink to a host copy of the tree, two trees exchanged, a directory
// moved under another parent), every step ".." reaches is the very
// directory walked, or the walk ends with ENOENT: never the host's copy,
// never the other tree, never the new parent.
func TestDeepWalkReopensOnlyWhatItWalked(t *testing.T) {
	depth := 3 * maxHeld
	var names []string
	for i := 0; i < depth; i++ {
		names = append(names, fmt.Sprintf("d%d", i))
	}
	for _, attack := range []string{"link", "exchange", "move"} {
		t.Run(attack, func(t *testing.T) {
			rootfs, outside := t.TempDir(), t.TempDir()
			for _, top := range []string{rootfs, filepath.Join(rootfs, "other")} {
				if err := os.MkdirAll(filepath.Join(append([]string{top}, names...)...), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.MkdirAll(filepath.Join(append([]string{outside}, names[2:]...)...), 0o755); err != nil {
				t.Fatal(err)
			}
			// The inode of every directory as walked.
			walked := map[string]uint64{}
			dir := rootfs
			for _, c := range names {
				dir = filepath.Join(dir, c)
				var st unix.Stat_t
				if err := unix.Stat(dir, &st); err != nil {
					t.Fatal(err)
				}
				walked["/"+strings.TrimPrefix(strings.TrimPrefix(dir, rootfs), "/")] = st.Ino
			}
			v, err := NewView([]Mount{{Guest: "/", Host: rootfs}})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			w := &walker{v: v, stack: []step{{fd: v.mounts[0].fd, guest: "/", mount: 0}}}
			defer w.release()
			w.escaped = true // as after a symlink: ".." pops within the view
			for _, c := range names {
				if e := w.descend(c, true); e != 0 {
					t.Fatalf("descend %s: errno %d", c, e)
				}
			}
			if w.stack[3].fd >= 0 {
				t.Fatalf("the walk holds %d descriptors: d2's was not closed", w.held)
			}
			d2 := filepath.Join(rootfs, "d0", "d1", "d2")
			switch attack {
			case "link":
				// d2 swapped for a link to the host's copy of the tree.
				if err := os.Rename(d2, d2+"-moved"); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(outside, "d2"), d2); err != nil {
					t.Fatal(err)
				}
			case "exchange":
				// d0 exchanged with the other tree's d0, whose names are
				// the same.
				if err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(rootfs, "d0"), unix.AT_FDCWD, filepath.Join(rootfs, "other", "d0"), unix.RENAME_EXCHANGE); err != nil {
					t.Fatal(err)
				}
			case "move":
				// d3 moved under another parent: ".." from it is no
				// longer d2.
				if err := os.Rename(filepath.Join(d2, "d3"), filepath.Join(rootfs, "other", "d3")); err != nil {
					t.Fatal(err)
				}
			}
			for len(w.stack) > 1 {
				if e := w.up(); e != 0 {
					if e != ErrnoNoent || attack != "move" {
						t.Errorf(`".." down to %s: errno %d`, w.top().guest, e)
					}
					return
				}
				var st unix.Stat_t
				if err := unix.Fstat(w.top().fd, &st); err != nil {
					t.Fatal(err)
				}
				if g := w.top().guest; g != "/" && st.Ino != walked[g] {
					t.Fatalf(`".." reached another directory than the %s walked`, g)
				}
			}
			if attack == "move" {
				t.Error(`".." went on from a directory moved under another parent`)
			}
		})
	}
}

// A mount's root is never closed, and ".." from it to a closed step
// below reopens that step by name: the walk comes back to the right
// directory through a volume mounted below maxHeld levels.
func TestDeepWalkClimbsOutOfADeepMount(t *testing.T) {
	rootfs, vol := t.TempDir(), t.TempDir()
	guest := "/" + strings.Repeat("d/", 2*maxHeld) + "vol"
	if err := os.MkdirAll(filepath.Join(rootfs, guest), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(rootfs, filepath.Dir(guest), "marker"), "beside the volume")
	if err := os.MkdirAll(filepath.Join(vol, strings.Repeat("e/", 2*maxHeld)), 0o755); err != nil {
		t.Fatal(err)
	}
	v, err := NewView([]Mount{{Guest: "/", Host: rootfs}, {Guest: guest, Host: vol}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p := strings.TrimPrefix(guest, "/") + "/" + strings.Repeat("e/", 2*maxHeld) + strings.Repeat("../", 2*maxHeld+1) + "marker"
	if got, err := readWalked(v, p); err != nil || got != "beside the volume" {
		t.Errorf("read %q, %v through the volume and back", got, err)
	}
}

// readWalked resolves p from the view's root as the guest's own calls
// hand it over (fromRoot would clean it first), opens the file it names
// and reads it.
func readWalked(v *View, p string) (string, error) {
	tg, errno := v.resolve(step{fd: v.mounts[0].fd, guest: "/", mount: 0}, p)
	if errno != 0 {
		return "", fmt.Errorf("resolve: errno %d", errno)
	}
	fd, err := openTarget(tg, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW)
	tg.close()
	if err != nil {
		return "", err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), err
}

// A symlink whose body ends in "/" names a directory: the resolver's
// ReadFile of one that names a file finds nothing (Linux: ENOTDIR), as
// it did before such a body marked the target instead of walking into it.
func TestReadFileThroughASlashedLink(t *testing.T) {
	rootfs := t.TempDir()
	write(t, filepath.Join(rootfs, "etc", "hosts-file"), "127.0.0.1 x\n")
	if err := os.Symlink("hosts-file/", filepath.Join(rootfs, "etc", "resolv.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("hosts-file", filepath.Join(rootfs, "etc", "plain")); err != nil {
		t.Fatal(err)
	}
	v, err := NewView([]Mount{{Guest: "/", Host: rootfs}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if b, err := readViewFile(v, "/etc/resolv.conf"); err == nil {
		t.Errorf("read %q through a link to hosts-file/", b)
	}
	if b, err := readViewFile(v, "/etc/plain"); err != nil || string(b) != "127.0.0.1 x\n" {
		t.Errorf("through a link to hosts-file: %q, %v", b, err)
	}
}

// readViewFile reads the file at the guest path p as the resolver opens
// it (View.OpenFile).
func readViewFile(v *View, p string) ([]byte, error) {
	f, err := v.OpenFile(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
