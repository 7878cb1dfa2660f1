package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestInitBinaryCannotBeOverwritten tries CVE-2019-5736 against runw:
// code that can see the container's init opens /proc/PID/exe for writing
// to replace the runtime's binary on the host. The init runs from a
// read-only overlay (or a sealed memfd), so the open must fail and the
// host binary must stay as it was.
func TestInitBinaryCannotBeOverwritten(t *testing.T) {
	t.Parallel()
	needsRoot(t, "the attack opens another process's exe link")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	r.mustRun("create", "--bundle", b.dir, "exe")
	st := r.waitStatus("exe", "created", 5*time.Second)
	before, err := os.ReadFile(runwBin)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join("/proc", strconv.Itoa(st.Pid), "exe")
	f, err := os.OpenFile(exe, os.O_WRONLY, 0)
	if err == nil {
		f.Write([]byte("pwned"))
		f.Close()
		t.Fatalf("opened %s for writing", exe)
	}
	t.Logf("open for writing refused: %v", err)
	target, _ := os.Readlink(exe)
	if abs, _ := filepath.Abs(runwBin); target == abs {
		t.Errorf("init runs the host binary itself (%s)", target)
	}
	after, _ := os.ReadFile(runwBin)
	if string(before) != string(after) {
		t.Fatal("host runw binary changed")
	}
	r.mustRun("delete", "--force", "exe")
}

// TestRunwWrittenInPlaceLeavesInitsAlone: an upgrade that writes runw's
// binary in place (`cp new /usr/local/bin/runw`) while containers run.
// The inits ran the host file's own pages through the read-only overlay,
// which the kernel's "text file busy" did not guard: the new bytes became
// their code, and each died at its next wake-up (SIGSEGV, SIGTRAP) instead
// of serving on. They now run a copy of the binary made under the root.
func TestRunwWrittenInPlaceLeavesInitsAlone(t *testing.T) {
	t.Parallel()
	needsRoot(t, "the init runs from a read-only overlay only as root")
	installed := filepath.Join(t.TempDir(), "runw")
	if err := copyFile(runwBin, installed); err != nil {
		t.Fatal(err)
	}
	r := newRunw(t)
	r.bin = installed
	b := newBundle(t, "probe", "sleep", "1h")
	r.mustRun("create", "--bundle", b.dir, "inplace")
	r.mustRun("start", "inplace")
	st := r.waitStatus("inplace", "running", 5*time.Second)
	if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.Pid)); !strings.HasPrefix(target, "/runw-") {
		t.Fatalf("the init runs %q, not runw's copy through the overlay", target)
	}

	// The write: what cp does to an existing file, other bytes of the
	// same size (int3 everywhere) over the whole binary. No runw process
	// runs the file itself now, so the kernel lets it happen.
	fi, err := os.Stat(installed)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(installed, os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("open the installed runw for writing: %v", err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xcc}, int(fi.Size())), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// Wake the init (a signal the guest ignores runs its handler), then
	// see it still running, and ending on SIGTERM as ever.
	r.bin = ""
	r.mustRun("kill", "inplace", "WINCH")
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if err := unix.Kill(st.Pid, 0); err != nil {
			t.Fatalf("the init died after runw's binary was written in place: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s, _, _ := r.state("inplace"); s.Status != "running" {
		t.Fatalf("after runw's binary was written in place: %s", s.Status)
	}
	if res := r.mustRun("exec", "inplace", "/probe.wasm", "echo", "alive"); !strings.Contains(res.stdout, "alive") {
		t.Errorf("exec after the write: %v", res)
	}
	r.mustRun("kill", "inplace", "TERM")
	r.waitStatus("inplace", "stopped", 5*time.Second)
	r.mustRun("delete", "inplace")
	r.assertRootEmpty()
}

// TestInitCopiesOfRunwAreRunwsOwn attacks and strains the copies of
// runw's binary that inits run (<root>/.exe): a planted short copy under
// the next copy's name is made again, not run (create failed with "exec
// format error" until the binary changed); a .exe that is a link or that
// others can write is not used (runw wrote its copy through the link, and
// anyone could plant the next copy in a 0777 one); and on a small file
// system an upgrade's copy finds room, since the unused copy of the old
// binary and a dead create's leftover go first (the copy filled it and
// every later create fell back to a private memfd).
func TestInitCopiesOfRunwAreRunwsOwn(t *testing.T) {
	t.Parallel()
	needsRoot(t, "the init runs from a read-only overlay only as root")
	b := newBundle(t, "probe", "sleep", "1h")
	initExe := func(r *runw, id string) string {
		t.Helper()
		r.mustRun("create", "--bundle", b.dir, id)
		st := r.waitStatus(id, "created", 5*time.Second)
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.Pid))
		r.mustRun("delete", "--force", id)
		return target
	}
	copies := func(root string) []string {
		names, _ := filepath.Glob(filepath.Join(root, ".exe", "runw-*"))
		return names
	}

	t.Run("short copy", func(t *testing.T) {
		r := newRunw(t)
		initExe(r, "first")
		made := copies(r.root)
		if len(made) != 1 {
			t.Fatalf("copies after a create: %v", made)
		}
		if err := os.Truncate(made[0], 4096); err != nil {
			t.Fatal(err)
		}
		if exe := initExe(r, "again"); !strings.HasPrefix(exe, "/runw-") {
			t.Errorf("the init runs %q", exe)
		}
		if fi, err := os.Stat(made[0]); err != nil || fi.Size() <= 4096 {
			t.Errorf("the short copy was not made again: %v %v", fi, err)
		}
	})

	t.Run("linked or open .exe", func(t *testing.T) {
		for _, plant := range []func(root, elsewhere string) error{
			func(root, elsewhere string) error { return os.Symlink(elsewhere, filepath.Join(root, ".exe")) },
			func(root, _ string) error {
				if err := os.Mkdir(filepath.Join(root, ".exe"), 0o700); err != nil {
					return err
				}
				return os.Chmod(filepath.Join(root, ".exe"), 0o777)
			},
		} {
			r := newRunw(t)
			elsewhere := t.TempDir()
			os.Chmod(elsewhere, 0o777)
			os.Chmod(r.root, 0o700)
			if err := plant(r.root, elsewhere); err != nil {
				t.Fatal(err)
			}
			if exe := initExe(r, "planted"); strings.HasPrefix(exe, "/runw-") {
				t.Errorf("the init runs a copy from the planted .exe: %q", exe)
			}
			if len(copies(r.root)) != 0 {
				t.Errorf("a copy was made in the planted .exe: %v", copies(r.root))
			}
			if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
				t.Errorf("runw wrote through the link: %v", entries)
			}
			os.Remove(filepath.Join(r.root, ".exe"))
		}
	})

	t.Run("concurrent first creates", func(t *testing.T) {
		r := newRunw(t)
		const n = 4
		exes := make([]string, n)
		inos := make([]uint64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("at-once-%d", i)
				if res := r.run("create", "--bundle", b.dir, id); res.code != 0 {
					t.Errorf("create %s: %v", id, res)
					return
				}
				if st, err := r.pollStatus(id, "created", 5*time.Second); err == nil {
					exe := fmt.Sprintf("/proc/%d/exe", st.Pid)
					exes[i], _ = os.Readlink(exe)
					var est unix.Stat_t
					if unix.Stat(exe, &est) == nil {
						inos[i] = est.Ino
					}
				}
			}()
		}
		wg.Wait()
		made := copies(r.root)
		var inodes []uint64
		for _, c := range made {
			var st unix.Stat_t
			if unix.Stat(c, &st) == nil {
				inodes = append(inodes, st.Ino)
			}
		}
		if len(made) != 1 {
			t.Errorf("copies after %d creates at once: %v", n, made)
		}
		// One file for all: a copy renamed over another keeps the same
		// name, so the inodes tell.
		for i, exe := range exes {
			if !strings.HasPrefix(exe, "/runw-") || exe != exes[0] || inos[i] != inos[0] {
				t.Errorf("init %d runs %q, inode %d (init 0: %q, %d)", i, exe, inos[i], exes[0], inos[0])
			}
		}
		for i := range n {
			r.run("delete", "--force", fmt.Sprintf("at-once-%d", i))
		}
		t.Logf("copies %v, inodes %v", made, inodes)
	})

	t.Run("upgrade on a small file system", func(t *testing.T) {
		fi, err := os.Stat(runwBin)
		if err != nil {
			t.Fatal(err)
		}
		small := t.TempDir()
		// Room for one copy and a half, not two.
		if err := unix.Mount("tmpfs", small, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", fi.Size()*3/2)); err != nil {
			t.Skipf("mount a tmpfs: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(small, unix.MNT_DETACH) })
		r := newRunw(t)
		r.root = filepath.Join(small, "root")
		initExe(r, "old")
		old := copies(r.root)
		if len(old) != 1 {
			t.Fatalf("copies after a create: %v", old)
		}
		// The old binary's copy unused for five minutes, and the
		// leftover of a create killed while it copied.
		then := time.Now().Add(-5 * time.Minute)
		os.Chtimes(old[0], then, then)
		leftover := filepath.Join(r.root, ".exe", ".tmp-dead")
		if err := os.WriteFile(leftover, []byte("half a copy"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(leftover, then, then)
		// The upgrade: another file, another identity.
		r.bin = filepath.Join(t.TempDir(), "runw")
		if err := copyFile(runwBin, r.bin); err != nil {
			t.Fatal(err)
		}
		if exe := initExe(r, "new"); !strings.HasPrefix(exe, "/runw-") {
			t.Errorf("after the upgrade the init runs %q, not a copy", exe)
		}
		now := copies(r.root)
		if len(now) != 1 || now[0] == old[0] {
			t.Errorf("copies after the upgrade: %v (before: %v)", now, old)
		}
		if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the dead create's leftover is still there: %v", err)
		}
	})
}

// TestGuestCannotLeavePreopens tries to reach the host through a
// preopened bind mount with "..": the guest must stay inside it.
func TestGuestCannotLeavePreopens(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	host := t.TempDir()
	secretDir := dirWith(t, "secret", "host-secret")
	rel, _ := filepath.Rel(host, filepath.Join(secretDir, "secret"))
	b := newBundle(t, "probe", "cat", "/data/"+rel, "cat", "/../../"+rel)
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/data", host, "rbind", "rw"))
	})
	res := r.run("run", "--bundle", b.dir, "dots")
	if strings.Contains(res.stdout, "host-secret") {
		t.Fatalf("guest read a host file outside its grants: %v", res)
	}
	if strings.Count(res.stdout, "ERR") != 2 {
		t.Fatalf("want two refusals, got %v", res)
	}
}

// TestMemoryLimitCapsLinearMemory checks that linux.resources.memory.limit
// is enforced inside the engine first: a guest that allocates past it, at
// once or step by step, sees its allocation fail and ends with its own
// error (Go: "out of memory", exit 2), never killed by the cgroup's OOM
// killer (137); one under it succeeds.
func TestMemoryLimitCapsLinearMemory(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	limit := int64(64 << 20)
	for i, c := range []struct {
		args []string
		okay bool
	}{
		{[]string{"alloc", "8"}, true},
		{[]string{"alloc", "200"}, false},
		{[]string{"alloc", "32", "alloc", "32", "alloc", "32"}, false},
		{strings.Fields(strings.Repeat("alloc 4 ", 20)), false},
	} {
		b := newBundle(t, "probe", c.args...)
		b.edit(memoryLimit(limit))
		res := r.run("run", "--bundle", b.dir, fmt.Sprintf("mem%d", i))
		if c.okay {
			if res.code != 0 || !strings.Contains(res.stdout, "OK") {
				t.Errorf("%v under a 64 MB limit: %v", c.args, res)
			}
			continue
		}
		if res.code != 2 || !strings.Contains(res.stderr, "out of memory") {
			t.Errorf("%v under a 64 MB limit: want the guest's own out-of-memory exit 2, got %v", c.args, res)
		}
	}
}

// TestHostMemoryUnderLimitIsBounded: what a guest makes the host hold
// beside its linear memory stays inside the init's reserve under a memory
// limit (48 MiB here: linear memory capped at 40 MiB). Each attack keeps
// every object under the cap it had, and each had the OOM killer end the
// container (137) where the guest should have had an error:
//   - poll_oneoff of 800,000 subscriptions in 38 MB of memory never
//     touched (zeros: immediate clocks): now EINVAL (28), the guest goes on;
//   - a table grown by 3 million elements (24 MB) beside 31 MB of memory:
//     now table.grow gives -1 and the guest ends itself (11);
//   - 40 tables of 30,000 elements, or a second memory grown to 39 MB:
//     now refused at create, in one line;
//   - poll_oneoff of 18,000 subscriptions (within its bound) 20,000
//     times beside a full linear memory: each call's lists were garbage,
//     which the collector let pile up; now kept, every call succeeds;
//   - wasi_unstable's poll_oneoff of 65,536 subscriptions 2,000 times:
//     its copy of them was made before the bound; now EINVAL first.
func TestHostMemoryUnderLimitIsBounded(t *testing.T) {
	needsRoot(t, "cgroups")
	t.Parallel()
	r := newRunw(t)
	limit := int64(48 << 20)
	for _, c := range []struct {
		wat, stdout, stderr string
		code                int
	}{
		{"pollmany", "ok\n", "", 28},
		{"tablebeside", "", "", 11},
		{"tablesmany", "", "at most 8 tables and one memory", 1},
		{"memtwo", "", "at most 8 tables and one memory", 1},
		{"pollrepeat", "ok\n", "", 0},
		{"pollunstable", "ok\n", "", 28},
	} {
		b := newBundle(t, "wat/"+c.wat+".wat")
		b.edit(memoryLimit(limit))
		res := r.run("run", "--bundle", b.dir, c.wat)
		if res.code != c.code || res.stdout != c.stdout || !strings.Contains(res.stderr, c.stderr) {
			t.Errorf("%s under a 48 MiB limit: want exit %d, stdout %q, stderr with %q; got %v", c.wat, c.code, c.stdout, c.stderr, res)
		}
		if c.code == 1 {
			oneLine(t, c.wat, res.stderr)
			// Without a limit, wasmtime's own bounds: it runs.
			b.edit(func(s *specs.Spec) { s.Linux = nil })
			if res := r.run("run", "--bundle", b.dir, c.wat+"-nolimit"); res.code != 0 {
				t.Errorf("%s without a memory limit: %v", c.wat, res)
			}
		}
	}
}

// TestTablesShareTheirPartOfTheReserve: under a memory limit, the tables
// a module defines share a quarter of the init's reserve (2 MiB under 48
// MiB: 262,144 elements). Every module's share was counted as 8 tables,
// so clang's LLVM (one table of 37,270 elements) was refused at create
// under any limit below about 146 MiB. One table of 140,000 elements now
// runs; two of them are still refused in one line.
func TestTablesShareTheirPartOfTheReserve(t *testing.T) {
	needsRoot(t, "cgroups")
	t.Parallel()
	r := newRunw(t)
	limit := int64(48 << 20)
	module := func(tables string) string {
		wasm, err := wasmtime.Wat2Wasm(`(module
			(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
			` + tables + `
			(memory (export "memory") 1)
			(func (export "_start") (call $exit (i32.const 7))))`)
		if err != nil {
			t.Fatal(err)
		}
		return string(wasm)
	}
	for _, c := range []struct {
		name, tables string
		code         int
	}{
		{"onetable", "(table 140000 funcref)", 7},
		{"twotables", "(table 140000 funcref) (table 140000 funcref)", 1},
	} {
		b := newBundle(t, "probe")
		b.writeFile("probe.wasm", module(c.tables))
		b.edit(memoryLimit(limit))
		res := r.run("run", "--bundle", b.dir, c.name)
		if res.code != c.code {
			t.Errorf("%s under a 48 MiB limit: want exit %d, got %v", c.tables, c.code, res)
		}
		if c.code == 1 {
			oneLine(t, c.name, res.stderr)
			if !strings.Contains(res.stderr, "the memory limit of 48 MiB allows each of the module's tables 131072 elements") {
				t.Errorf("%s: the error does not name the memory limit: %q", c.name, res.stderr)
			}
		}
	}
}

// TestColdStartUnderSmallMemoryLimit: with an empty cache, compiling the
// Go hello guest takes far more than 64 MiB. create compiles it outside
// the container's cgroup, so the container starts and prints its line.
// Without a cache the compile can only run in the init, inside the
// limit: then the one error line names the OOM killer.
func TestColdStartUnderSmallMemoryLimit(t *testing.T) {
	needsRoot(t, "cgroups")
	t.Parallel()
	r := newRunw(t)
	limit := int64(64 << 20)
	b := newBundle(t, "hello")
	b.edit(memoryLimit(limit))
	cold := filepath.Join(t.TempDir(), "cache")
	res := r.run("--cache-dir", cold, "run", "--bundle", b.dir, "cold")
	if res.code != 0 || !strings.Contains(res.stdout, "Hello") {
		t.Fatalf("cold run under a 64 MiB limit: %v", res)
	}

	res = r.run("--cache-dir", "", "run", "--bundle", b.dir, "nocache")
	failsCleanly(t, r, res, "nocache", "OOM")
}

// TestColdStartWithACacheThatCannotKeep: a cache on a full or read-only
// disk opens but keeps nothing. create then hands the init the artifact
// it compiled outside the container, in memory, as for no cache; left to
// the init, which tried the cache again and then compiled in-process, the
// Go hello guest's compile took the container's 64 MiB down with the OOM
// killer (and a 5 MB guest's init kept 144 MB resident, not 26). The
// module is compiled once, by one compile child (runw's debug log names
// each): the artifact the cache could not keep was thrown away, and a
// second child compiled it again, doubling a cold start.
func TestColdStartWithACacheThatCannotKeep(t *testing.T) {
	needsRoot(t, "mounts a small tmpfs, cgroups")
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "hello")
	b.edit(memoryLimit(64 << 20))
	for _, c := range []struct{ name, opts string }{{"full", "size=1m"}, {"readonly", "size=1m,ro"}} {
		disk := t.TempDir()
		if err := unix.Mount("runw-test-cache", disk, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
			t.Fatalf("mount a small tmpfs: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(disk, unix.MNT_DETACH) })
		cache := filepath.Join(disk, "cache")
		if err := os.Mkdir(cache, 0o700); err != nil {
			t.Fatal(err)
		}
		if c.name == "readonly" {
			if err := unix.Mount("", disk, "", unix.MS_REMOUNT|unix.MS_RDONLY, c.opts); err != nil {
				t.Fatalf("remount read-only: %v", err)
			}
		}
		compiles := func(step string, log string) {
			t.Helper()
			b, _ := os.ReadFile(log)
			if n := strings.Count(string(b), "compile child "); n != 1 {
				t.Errorf("%s with a %s cache: %d compile children, want 1:\n%s", step, c.name, n, b)
			}
		}
		log := filepath.Join(t.TempDir(), "log")
		res := r.run("--debug", "--log", log, "--cache-dir", cache, "run", "--bundle", b.dir, c.name)
		if res.code != 0 || !strings.Contains(res.stdout, "Hello") {
			t.Errorf("cold run under a 64 MiB limit with a %s cache: %v", c.name, res)
		}
		compiles("a cold run", log)
		// runw exec of a module the cache misses: compiled in the
		// container's cgroup into memory and handed over, not in the
		// exec'd process, which kept Cranelift's memory (145 MB against
		// 23 for the probe guest) and compiled as host root before its
		// sandbox.
		probe := newBundle(t, "probe", "sleep", "60s")
		r.mustRun("--cache-dir", cache, "run", "--detach", "--bundle", probe.dir, c.name+"-exec")
		pidFile := filepath.Join(t.TempDir(), "pid")
		log = filepath.Join(t.TempDir(), "log")
		r.mustRun("--debug", "--log", log, "--cache-dir", cache, "exec", "--detach", "--pid-file", pidFile, c.name+"-exec", "/probe.wasm", "sleep", "60s")
		compiles("exec", log)
		pid, _ := os.ReadFile(pidFile)
		if rss := vmRSS(t, strings.TrimSpace(string(pid))); rss > 64<<20 {
			t.Errorf("exec with a %s cache: the exec'd process holds %d MiB, want the artifact mapped, not compiled there", c.name, rss>>20)
		}
		r.run("delete", "--force", c.name+"-exec")
	}
}

// vmRSS is the resident memory of process pid, in bytes.
func vmRSS(t *testing.T, pid string) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for %s", pid)
	return 0
}

// secretVolume is a directory any user may write, holding "shadow", a
// file only root may read ("topsecret"): a volume for guests that must
// not read it.
func secretVolume(t *testing.T) string {
	t.Helper()
	vol := t.TempDir()
	os.Chmod(vol, 0o777)
	if err := os.WriteFile(filepath.Join(vol, "shadow"), []byte("topsecret"), 0o600); err != nil {
		t.Fatal(err)
	}
	return vol
}

// TestProcessUserIsEnforced: process.user is who the guest is when it
// opens files, as for a native process: a root-only host file in a mount
// is refused, and what the guest writes belongs to its uid.
func TestProcessUserIsEnforced(t *testing.T) {
	t.Parallel()
	needsRoot(t, "changes uid")
	r := newRunw(t)
	vol := secretVolume(t)
	b := newBundle(t, "probe", "cat", "/v/shadow", "write", "/v/new", "x", "write", "/tmp/t", "y")
	b.edit(func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Mounts = append(s.Mounts, bindMount("/v", vol, "rbind", "rw"), specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	})
	res := r.mustRun("run", "--bundle", b.dir, "user")
	if strings.Contains(res.stdout, "topsecret") || !strings.Contains(res.stdout, "ERR") {
		t.Fatalf("guest as uid 1000 read a root-only file: %v", res)
	}
	fi, err := os.Stat(filepath.Join(vol, "new"))
	if err != nil {
		t.Fatalf("guest could not write its own file: %v (%v)", err, res)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("file written as %d:%d, want 1000:1000", st.Uid, st.Gid)
	}
	if strings.Count(res.stdout, "OK") != 2 {
		t.Errorf("private /tmp not writable by the guest's user: %v", res)
	}
}

// TestProcessUserMinusOneIsRefused: uid or gid 4294967295 is -1 to
// setresuid and setresgid, "leave it unchanged", so a process.user of it
// kept host root's files (it read a root-only file and wrote root-owned
// ones) where an unprivileged user was asked for. Refused before anything
// is made, in runc's words, for run and for exec.
func TestProcessUserMinusOneIsRefused(t *testing.T) {
	t.Parallel()
	needsRoot(t, "changes uid")
	r := newRunw(t)
	vol := secretVolume(t)
	const want = "uids and gids must be in range 0-2147483647"
	for _, u := range []specs.User{{UID: 4294967295, GID: 4294967295}, {UID: 4294967295}, {UID: 1000, GID: 4294967295}, {UID: 1000, GID: 1000, AdditionalGids: []uint32{2147483648}}} {
		b := newBundle(t, "probe", "cat", "/v/shadow", "write", "/v/new", "x")
		b.edit(func(s *specs.Spec) {
			s.Process.User = u
			s.Mounts = append(s.Mounts, bindMount("/v", vol, "rbind", "rw"))
		})
		res := r.run("run", "--bundle", b.dir, "minusone")
		if res.code != 1 || !strings.Contains(res.stderr, want) || strings.Contains(res.stdout, "topsecret") {
			t.Errorf("process.user %+v: %v; want exit 1 and %q", u, res, want)
		}
		r.assertRootEmpty()
	}
	if _, err := os.Stat(filepath.Join(vol, "new")); err == nil {
		t.Error("a refused container wrote its file")
	}
	b := newBundle(t, "probe", "sleep", "60s")
	r.mustRun("run", "--detach", "--bundle", b.dir, "target")
	defer r.run("delete", "--force", "target")
	res := r.run("exec", "--user", "4294967295:0", "target", "/probe.wasm", "echo", "as -1")
	if res.code == 0 || !strings.Contains(res.stderr, want) || strings.Contains(res.stdout, "as -1") {
		t.Errorf("exec --user 4294967295:0: %v; want a failure saying %q", res, want)
	}
}

// TestProcessUmask: process.user.umask gives the guest's new files and
// directories their modes (podman run --umask), as runc's init sets it;
// without one, runc's 0022.
func TestProcessUmask(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	for _, c := range []struct {
		umask     *uint32
		file, dir os.FileMode
	}{
		{nil, 0o644, 0o755},
		{func() *uint32 { u := uint32(0o077); return &u }(), 0o600, 0o700},
		{func() *uint32 { u := uint32(0o027); return &u }(), 0o640, 0o750},
	} {
		vol := t.TempDir()
		b := newBundle(t, "probe", "write", "/v/f", "x", "mkdir", "/v/d")
		b.edit(func(s *specs.Spec) {
			s.Process.User.Umask = c.umask
			s.Mounts = append(s.Mounts, bindMount("/v", vol, "rbind", "rw"))
		})
		res := r.mustRun("run", "--bundle", b.dir, fmt.Sprintf("umask%o", c.file))
		f, ferr := os.Stat(filepath.Join(vol, "f"))
		d, derr := os.Stat(filepath.Join(vol, "d"))
		if ferr != nil || derr != nil {
			t.Fatalf("guest did not create its file and directory: %v %v (%v)", ferr, derr, res)
		}
		if f.Mode().Perm() != c.file || d.Mode().Perm() != c.dir {
			t.Errorf("umask %v: file %o, directory %o; want %o, %o", c.umask, f.Mode().Perm(), d.Mode().Perm(), c.file, c.dir)
		}
	}
}

// TestRecursiveReadOnlyMountIsReadOnly: rro must never grant writes, in
// the volume nor in a mount beneath its source (runw features lists rro).
func TestRecursiveReadOnlyMountIsReadOnly(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	vol := t.TempDir()
	b := newBundle(t, "probe", "write", "/rro/x", "no")
	b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount("/rro", vol, "rbind", "rro")) })
	res := r.run("run", "--bundle", b.dir, "rro")
	if _, err := os.Stat(filepath.Join(vol, "x")); err == nil || !strings.Contains(res.stdout, "ERR") {
		t.Fatalf("write through an rro mount: %v", res)
	}
	if os.Geteuid() != 0 {
		t.Log("a mount beneath the volume's source needs root: not tried")
		return
	}
	sub := filepath.Join(vol, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(sub, unix.MNT_DETACH)
	b.edit(func(s *specs.Spec) {
		ownMountAndPID(s)
		s.Mounts = []specs.Mount{bindMount("/rro", vol, "rbind", "rro")}
		s.Process.Args = []string{"/probe.wasm", "write", "/rro/sub/x", "no"}
	})
	res = r.run("run", "--bundle", b.dir, "rro-sub")
	if _, err := os.Stat(filepath.Join(sub, "x")); err == nil || !strings.Contains(res.stdout, "ERR") {
		t.Fatalf("write through a mount beneath an rro mount: %v", res)
	}
}

// TestConstructorOrders attacks the init's C constructor, which runs as
// root before Go code and obeys orders on the pipe _RUNW_NSEXEC names
// (runtime/nsenter): "tasks FD" makes it write "0" to a descriptor.
func TestConstructorOrders(t *testing.T) {
	t.Parallel()
	// run runs runw with args, files as its descriptors from fd 3 on and
	// after them a pipe holding orders, named by _RUNW_NSEXEC.
	run := func(t *testing.T, orders string, files []*os.File, args ...string) error {
		t.Helper()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := w.WriteString(orders); err != nil {
			t.Fatal(err)
		}
		w.Close()
		cmd := exec.Command(runwBin, args...)
		cmd.ExtraFiles = append(files, r)
		cmd.Env = []string{fmt.Sprintf("_RUNW_NSEXEC=%d", 3+len(cmd.ExtraFiles)-1)}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
		defer timer.Stop()
		return cmd.Wait()
	}
	t.Run("IgnoredOutsideInit", func(t *testing.T) {
		t.Parallel()
		// Another runw command with the variable in its environment
		// (someone who sets a privileged runw's environment) must not
		// write "0" over the first byte of a file it holds open.
		victim := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(victim, []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(victim, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := run(t, "tasks 3\n", []*os.File{f}, "--version"); err != nil {
			t.Errorf("runw --version with orders: %v", err)
		}
		if data, _ := os.ReadFile(victim); string(data) != "hello" {
			t.Errorf("the victim file now reads %q: the constructor obeyed orders outside runw init", data)
		}
	})
	// An order it does not know, one cut short or a bad descriptor ends
	// the init with one line on its sync pipe (fd 4), before Go code runs:
	// never skipped, which could leave the init outside a cgroup.
	// The constructor takes orders of up to 16382 bytes (runtime/protocol.go,
	// maxOrders): one that fits is obeyed (and fails on its absurd path),
	// one byte more is refused whole.
	long := func(n int) string { return "mnt /" + strings.Repeat("x", n-6) + "\n" }
	for _, c := range []struct{ name, orders, want string }{
		{"Unknown", "nice 1\n", "error: unknown namespace order nice 1: Invalid argument"},
		{"CutShort", "tasks 3\ncgrou", "error: unknown namespace order cgrou: Invalid argument"},
		{"BadDescriptor", "tasks 99999999\n", "error: cgroup order: bad descriptor 99999999: Invalid argument"},
		{"JoinUnknownKind", "join mnt /proc/self/ns/mnt\n", "error: bad join order mnt: Invalid argument"},
		{"JoinNoPath", "join pid\n", "error: bad join order pid: Invalid argument"},
		{"TooManyJoins", strings.Repeat("join net /proc/self/ns/net\n", 9), "error: too many join orders at net /proc/self/ns/net: Argument list too long"},
		{"LongestFits", long(16382), "error: join mount namespace /xxx"},
		{"OneByteTooLong", long(16383), "error: read namespace orders from 5: Argument list too long"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			initR, initW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer initR.Close()
			defer initW.Close()
			syncR, syncW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer syncR.Close()
			// fd 3 is the init pipe, a harmless target for "tasks 3".
			err = run(t, c.orders, []*os.File{initW, syncW}, "init")
			syncW.Close()
			msg, _ := io.ReadAll(syncR)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("runw init with orders %.40q: %v, want exit 1", c.orders, err)
			}
			if !strings.HasPrefix(string(msg), c.want) || strings.Contains(string(msg), "\n") || strings.Contains(string(msg), "\x00") {
				t.Errorf("sync pipe says %.200q, want one line starting %q", msg, c.want)
			}
		})
	}
}

// TestInitInheritsNoStrayDescriptors: a descriptor runw's caller left open
// without close-on-exec (a shell's, a careless engine's) must not live on
// in the container's init, as it does not under runc.
func TestInitInheritsNoStrayDescriptors(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	stray, err := os.Create(filepath.Join(t.TempDir(), "stray"))
	if err != nil {
		t.Fatal(err)
	}
	defer stray.Close()
	cmd, stdout, stderr := r.command(context.Background(), "create", "--bundle", b.dir, "fds")
	// fd 40 of runw, inheritable: above the descriptors the init's own
	// protocol places over low numbers.
	cmd.ExtraFiles = append(make([]*os.File, 37), stray)
	if err := cmd.Run(); err != nil {
		t.Fatalf("create: %v: %v", err, finish(cmd, err, stdout, stderr))
	}
	st, res, ok := r.state("fds")
	if !ok {
		t.Fatalf("runw state: %v", res)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", st.Pid, fd.Name())); target == stray.Name() {
			t.Errorf("the init holds runw's caller's descriptor as its fd %s (%s)", fd.Name(), target)
		}
	}
	r.mustRun("delete", "--force", "fds")
}

// TestKilledCreateLeavesNoCompiler: create compiles an uncached module in
// a `runw compile` child, as root and outside the container's cgroup. A
// hostile image can make that compile take minutes and gigabytes (a module
// of a few MB with hundreds of thousands of empty functions). An engine
// that gives up on create kills it; the compiler must die with it, not
// run on as an orphan with every capability.
func TestKilledCreateLeavesNoCompiler(t *testing.T) {
	needsRoot(t, "create spawns its compile child as root")
	r := newRunw(t)
	r.cache = t.TempDir()
	b := newBundle(t, "hello")
	b.writeFile("slow.wasm", string(emptyFunctionsModule(300000)))
	b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/slow.wasm"} })
	create := r.start("create", "--bundle", b.dir, "slow")
	compiler := waitCompiler(t, create)
	create.cmd.Process.Kill()
	create.wait(t, 10*time.Second)
	waitGone(t, compiler, 10*time.Second)
}

// TestCompileOutsideIsMemoryBounded: create's compile child runs outside
// the container's cgroup, charged to no container. The attack: a 1.2 MB
// module of 300,000 empty functions, whose compile takes 1.5 GB, made the
// host spend that past the container's 128 MiB limit. The child now stays
// under its bound (RLIMIT_DATA: 512 MiB, 32 MiB a CPU and 64 bytes a byte
// of module), the compile falls back to the init, inside the container's
// cgroup, and the limit ends it there: create fails with one line naming
// the OOM killer and leaves nothing behind.
func TestCompileOutsideIsMemoryBounded(t *testing.T) {
	needsRoot(t, "create spawns its compile child as root; a memory limit")
	r := newRunw(t)
	r.cache = t.TempDir()
	module := emptyFunctionsModule(300000)
	bound := 512<<20 + 32<<20*runtime.NumCPU() + 64*len(module)
	limit := int64(128 << 20)
	b := newBundle(t, "hello")
	b.writeFile("heavy.wasm", string(module))
	b.edit(func(s *specs.Spec) {
		s.Process.Args = []string{"/heavy.wasm"}
		memoryLimit(limit)(s)
	})
	create := r.start("create", "--bundle", b.dir, "heavy")
	compiler := waitCompiler(t, create)
	var peak float64 // kB
	for !procGone(compiler) {
		if kb, err := procField(fmt.Sprintf("/proc/%d/status", compiler), "VmHWM:"); err == nil && kb > peak {
			peak = kb
		}
		if peak*1024 > float64(bound) {
			t.Fatalf("the compile child outside the container's cgroup reached %.0f MiB, over its bound of %d MiB", peak/1024, bound>>20)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("compile child's peak: %.0f MiB (bound %d MiB)", peak/1024, bound>>20)
	failsCleanly(t, r, create.wait(t, 2*time.Minute), "heavy", "OOM")
}

// TestInitMappingTheHostRootCompilesNothing: an init in a user namespace
// that maps the host's root holds it, and compiles no module itself: it
// took its answer from its own /proc/self/uid_map, the container's, where
// it looked like a rootless runw's, and after its compile child met the
// container's memory limit it ran Cranelift on the image's bytes itself
// (577 MB resident before the OOM killer ended it).
func TestInitMappingTheHostRootCompilesNothing(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups and a user namespace")
	r := newRunw(t)
	r.cache = filepath.Join(t.TempDir(), "cache")
	b := newBundle(t, "hello")
	b.writeFile("heavy.wasm", string(emptyFunctionsModule(300000)))
	b.edit(func(s *specs.Spec) {
		s.Process.Args = []string{"/heavy.wasm"}
		memoryLimit(128 << 20)(s)
		maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings, s.Linux.GIDMappings = maps, maps
	})
	res := r.run("create", "--bundle", b.dir, "mapsroot")
	failsCleanly(t, r, res, "mapsroot", "compiles no module itself")
}

// TestCreateLeavesTheModuleToTheBoundedChild: on a cache miss, create
// itself must not read the module: it runs as root outside the
// container's cgroup and outside the compile child's bounds. The attack:
// create hashed the whole module in its own memory (a 500 MiB module: 1.25
// GB) and assembled a text module there (200 MB of WAT: 5 GB; 5 MB of
// named branch labels: 92 s of CPU) before the bounded child started.
// Here a 200 MiB module (a custom section) must leave create's own peak
// memory far below its size.
func TestCreateLeavesTheModuleToTheBoundedChild(t *testing.T) {
	needsRoot(t, "create's compile child and cgroups")
	r := newRunw(t)
	r.cache = t.TempDir()
	const pad = 200 << 20
	b := newBundle(t, "wat/exit7.wat")
	module := filepath.Join(b.rootfs, "padded.wasm")
	if err := os.WriteFile(module, paddedModule(pad), 0o644); err != nil {
		t.Fatal(err)
	}
	b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/padded.wasm"} })
	create := r.start("create", "--bundle", b.dir, "padded")
	var peak float64 // kB
	for !procGone(create.cmd.Process.Pid) {
		if kb, err := procField(fmt.Sprintf("/proc/%d/status", create.cmd.Process.Pid), "VmHWM:"); err == nil && kb > peak {
			peak = kb
		}
		time.Sleep(5 * time.Millisecond)
	}
	if res := create.wait(t, time.Minute); res.code != 0 {
		t.Fatalf("create: %v", res)
	}
	t.Logf("create's own peak: %.0f MiB for a module of %d MiB", peak/1024, pad>>20)
	if peak*1024 > pad/2 {
		t.Errorf("create's own peak memory was %.0f MiB for a %d MiB module: it read the module itself", peak/1024, pad>>20)
	}
	r.mustRun("delete", "--force", "padded")
}

// TestRefusedModuleIsCompiledOnce: a module wasmtime refuses (invalid, or
// using a proposal the engine does not enable) is refused the same way on
// every attempt, yet create tried three times: its bounded compile child,
// then the init's child in the container, then the init in-process. Found
// in the last function of a 75 MB module (clang.wasm, one byte changed),
// one attempt took 268 s here, so create took three times that before
// the error. The refusal must end create at the first attempt, with
// wasmtime's message naming the module, and `runw compile` must exit 65
// for it (the status the compile child reports a refusal with).
func TestRefusedModuleIsCompiledOnce(t *testing.T) {
	needsRoot(t, "create spawns its compile child as root")
	r := newRunw(t)
	r.cache = t.TempDir()
	b := newBundle(t, "hello")
	b.writeFile("bad.wat", `(module (memory (export "memory") 1) (func (export "_start") (result i32)))`)
	b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/bad.wat"} })
	log := filepath.Join(t.TempDir(), "log")
	res := r.run("--debug", "--log", log, "create", "--bundle", b.dir, "refused")
	failsCleanly(t, r, res, "refused", `compile "/bad.wat": `)
	if !strings.Contains(res.stderr, "type mismatch") {
		t.Errorf("create's error does not carry wasmtime's reason: %v", res)
	}
	text, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, again := range []string{"spawning init", "compile in a child", "compiling in-process"} {
		if strings.Contains(string(text), again) {
			t.Errorf("create went on after wasmtime refused the module (%q in its log):\n%s", again, text)
		}
	}
	res = r.run("compile", filepath.Join(b.rootfs, "bad.wat"))
	if res.code != 65 {
		t.Errorf("runw compile of a refused module: %v, want exit 65", res)
	}
	oneLine(t, "compile error", res.stderr)
}

// TestCacheIsNeverWritableByAGuest: a grant through which the guest could
// write to the compiled-module cache (a volume of its parent, of the cache
// itself, of an artifact in it, or of a directory above it mounted
// elsewhere) is refused at create, in one line, with nothing left behind.
// The attack: a guest with such a volume, root as the cache's owner is,
// wrote an artifact and its checksum under the key of another image's
// module, and the next container of that image mapped it as host root
// before its sandbox and ran the guest's machine code. Read-only, the
// same grants run.
func TestCacheIsNeverWritableByAGuest(t *testing.T) {
	t.Parallel()
	needsRoot(t, "mounts a directory above the cache elsewhere")
	r := newRunw(t)
	parent := t.TempDir()
	r.cache = filepath.Join(parent, "cache")
	// Warm the cache: an artifact to overwrite.
	r.mustRun("run", "-b", newBundle(t, "probe", "echo", "warm").dir, "warm")
	artifacts, _ := filepath.Glob(filepath.Join(r.cache, "*.cwasm"))
	if len(artifacts) == 0 {
		t.Fatal("no artifact in the cache after a run")
	}
	alias := t.TempDir()
	if err := unix.Mount(parent, alias, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(alias, unix.MNT_DETACH)
	for _, c := range []struct{ name, source, dest string }{
		{"the cache's parent", parent, "/h"},
		{"the cache", r.cache, "/c"},
		{"an artifact", artifacts[0], "/a.cwasm"},
		{"the parent mounted elsewhere", alias, "/h"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, ro := range []bool{false, true} {
				b := newBundle(t, "probe", "echo", "ran")
				b.edit(func(s *specs.Spec) {
					opts := []string{"rbind"}
					if ro {
						opts = append(opts, "ro")
					}
					s.Mounts = append(s.Mounts, specs.Mount{Destination: c.dest, Type: "bind", Source: c.source, Options: opts})
				})
				res := r.run("run", "-b", b.dir, "cachegrant")
				if ro {
					if res.code != 0 || res.stdout != "ran\n" {
						t.Errorf("read-only: %v, want it run", res)
					}
					continue
				}
				failsCleanly(t, r, res, "cachegrant", fmt.Sprintf("at %q would let the guest write to the compiled-module cache", c.dest))
				r.assertRootEmpty()
			}
		})
	}
	// A user namespace that maps the host's root to the container's user
	// 1000: that user writes as the host's root, the cache's owner.
	t.Run("a user mapped to the host's root", func(t *testing.T) {
		b := newBundle(t, "probe", "echo", "ran")
		b.edit(func(s *specs.Spec) {
			maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 1000, HostID: 0, Size: 1}}
			if s.Linux == nil {
				s.Linux = &specs.Linux{}
			}
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings, s.Linux.GIDMappings = maps, maps
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.Capabilities = &specs.LinuxCapabilities{}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/h", Type: "bind", Source: parent, Options: []string{"rbind"}})
		})
		failsCleanly(t, r, r.run("run", "-b", b.dir, "mappedroot"), "mappedroot", `at "/h" would let the guest write to the compiled-module cache`)
	})
	// A guest that could not write the cache anyway (uid 1000 with no
	// capability past its permissions; the cache is root's, 0700) may
	// have the volume; an exec into it as root may not.
	t.Run("a user who cannot write it", func(t *testing.T) {
		b := newBundle(t, "probe", "sleep", "60s")
		b.edit(func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.Capabilities = &specs.LinuxCapabilities{}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/h", Type: "bind", Source: parent, Options: []string{"rbind"}})
		})
		r.mustRun("run", "-d", "-b", b.dir, "cacheuser")
		defer r.run("delete", "--force", "cacheuser")
		if res := r.run("exec", "--user", "0:0", "cacheuser", "/probe.wasm", "echo", "ran"); res.code != 255 || !strings.Contains(res.stderr, `at "/h" would let the guest write to the compiled-module cache`) {
			t.Errorf("exec as root: %v, want it refused (255, runc's exec failure)", res)
		}
		if res := r.run("exec", "cacheuser", "/probe.wasm", "echo", "ran"); res.code != 0 || res.stdout != "ran\n" {
			t.Errorf("exec as the container's user: %v, want it run", res)
		}
	})
}

// TestCacheIsNeverWritableThroughOtherMounts: the ways a first check
// (by the inodes of the cache and of the directories above it, through
// the path runw reached it by) missed, each of which let a guest write an
// artifact another image's container then ran: the cache reached through
// a bind of a directory whose original a volume grants; a volume whose
// submount holds the cache; an overlay whose upper directory holds it; a
// file volume whose source is a link to an artifact.
func TestCacheIsNeverWritableThroughOtherMounts(t *testing.T) {
	t.Parallel()
	needsRoot(t, "makes mounts")
	disk := t.TempDir()
	if err := os.MkdirAll(filepath.Join(disk, "runw"), 0o700); err != nil {
		t.Fatal(err)
	}
	// /var/lib/runw as a bind of a data disk's directory: the cache is
	// reached through the bind.
	varlib := t.TempDir()
	if err := unix.Mount(filepath.Join(disk, "runw"), varlib, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(varlib, unix.MNT_DETACH)
	r := newRunw(t)
	r.cache = filepath.Join(varlib, "cache")
	r.mustRun("run", "-b", newBundle(t, "probe", "echo", "warm").dir, "warm")
	artifacts, _ := filepath.Glob(filepath.Join(r.cache, "*.cwasm"))
	if len(artifacts) == 0 {
		t.Fatal("no artifact in the cache after a run")
	}
	// A volume with a submount that holds the cache.
	vol := t.TempDir()
	if err := os.Mkdir(filepath.Join(vol, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(disk, filepath.Join(vol, "sub"), "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(filepath.Join(vol, "sub"), unix.MNT_DETACH)
	// A link to an artifact.
	link := filepath.Join(t.TempDir(), "a.cwasm")
	if err := os.Symlink(artifacts[0], link); err != nil {
		t.Fatal(err)
	}
	// The work directory beside the upper one, not in it (the kernel
	// refuses that overlay).
	lower, work := t.TempDir(), t.TempDir()
	// An overlay's upperdir with an escaped comma, which the kernel reads
	// as part of the path: o/a,b/../../<disk> is the disk.
	o := t.TempDir()
	if err := os.Mkdir(filepath.Join(o, "a,b"), 0o755); err != nil {
		t.Fatal(err)
	}
	escaped := o + "/a\\,b/../../" + filepath.Base(disk)
	if filepath.Dir(o) != filepath.Dir(disk) {
		t.Fatalf("%s and %s are not siblings", o, disk)
	}
	// The disk bound in another mount namespace, reached through
	// /proc/<pid>/root: not in runw's mount table.
	other := filepath.Join(t.TempDir(), "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	holder, _ := holdMountNamespace(t, fmt.Sprintf("mount --bind %s %s", disk, other))
	for _, c := range []struct {
		name  string
		mount specs.Mount
		runs  bool
	}{
		{"the disk, the cache bound elsewhere", specs.Mount{Destination: "/data", Type: "bind", Source: disk, Options: []string{"bind"}}, false},
		{"a volume whose submount holds the cache", specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind"}}, false},
		{"the same volume without its submounts", specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"bind"}}, true},
		{"an overlay whose upper directory holds the cache", specs.Mount{Destination: "/ov", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + lower, "upperdir=" + disk, "workdir=" + work}}, false},
		{"a link to an artifact", specs.Mount{Destination: "/a.cwasm", Type: "bind", Source: link, Options: []string{"bind"}}, false},
		{"an overlay whose upper directory has an escaped comma", specs.Mount{Destination: "/ov", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + lower, "upperdir=" + escaped, "workdir=" + work}}, false},
		// The kernel drops any escaping backslash: /x/d\isk is /x/disk.
		{"an overlay whose upper directory has an escaped letter", specs.Mount{Destination: "/ov", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + lower, "upperdir=" + disk[:len(disk)-1] + "\\" + disk[len(disk)-1:], "workdir=" + work}}, false},
		// The last upperdir is the kernel's.
		{"an overlay with two upper directories", specs.Mount{Destination: "/ov", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + lower, "upperdir=" + lower, "upperdir=" + disk, "workdir=" + work}}, false},
		{"a mount of another mount namespace", specs.Mount{Destination: "/other", Type: "bind", Source: fmt.Sprintf("/proc/%d/root%s", holder, other), Options: []string{"rbind"}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, "probe", "echo", "ran")
			b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, c.mount) })
			res := r.run("run", "-b", b.dir, "cachemount")
			if c.runs {
				if res.code != 0 || res.stdout != "ran\n" {
					t.Errorf("%v, want it run: the guest cannot reach the cache", res)
				}
				return
			}
			failsCleanly(t, r, res, "cachemount", fmt.Sprintf("at %q would let the guest write to the compiled-module cache", c.mount.Destination))
			r.assertRootEmpty()
		})
	}
}

// TestUnreadableModuleIsRefusedOnce: a module that is no WebAssembly
// (empty, gzip'd, another binary version: run as wasm under crun's
// run.oci.handler=wasm; the refusal says which, where it said
// "(unknown)" of each) or whose text does not parse was not taken for
// wasmtime's refusal: create compiled the same bytes three times (its
// compile child, the init's, then the init in-process), and `runw
// compile` exited 1, not 65, the text's error naming its child's
// "/proc/self/fd/0" instead of the file. Each is now refused at create's
// first compile, in one line naming the module, and by `runw compile`
// with 65 and the path it was given.
func TestUnreadableModuleIsRefusedOnce(t *testing.T) {
	needsRoot(t, "create spawns its compile child as root")
	var gz strings.Builder
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("\x00asm\x01\x00\x00\x00"))
	zw.Close()
	for _, c := range []struct {
		name, file, content, want string
	}{
		{"bad WAT", "app.wat", `(module (func (export "_start") (`, `parse WAT %q: expected an instruction at line 1, column 34`},
		{"gzip'd", "app.wasm", gz.String(), `compile %q: not a WebAssembly module or component: a gzip file: decompress it`},
		{"empty", "app.wasm", "", `compile %q: not a WebAssembly module or component: an empty file`},
		{"binary version 2", "app.wasm", "\x00asm\x02\x00\x00\x00", `compile %q: not a WebAssembly module or component: unknown binary version: 0x2`},
		{"text with a byte-order mark", "app.wasm", "\xef\xbb\xbf(module)", `compile %q: not a WebAssembly module or component: text that begins with a byte-order mark`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRunw(t)
			r.cache = t.TempDir()
			b := newBundle(t, "hello")
			b.writeFile(c.file, c.content)
			b.edit(func(s *specs.Spec) {
				s.Process.Args = []string{"/" + c.file}
				s.Annotations = map[string]string{"run.oci.handler": "wasm"}
			})
			log := filepath.Join(t.TempDir(), "log")
			res := r.run("--debug", "--log", log, "create", "--bundle", b.dir, "unreadable")
			failsCleanly(t, r, res, "unreadable", fmt.Sprintf(c.want, "/"+c.file))
			text, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			for _, again := range []string{"spawning init", "compile in a child", "compiling in-process", "/proc/self/fd/0"} {
				if strings.Contains(string(text), again) {
					t.Errorf("create went on after the module was refused (%q in its log):\n%s", again, text)
				}
			}
			r.assertRootEmpty()
			path := filepath.Join(b.rootfs, c.file)
			res = r.run("compile", path)
			if res.code != 65 {
				t.Errorf("runw compile: %v, want exit 65", res)
			}
			oneLine(t, "compile error", res.stderr)
			if want := fmt.Sprintf(c.want, path); !strings.Contains(res.stderr, want) {
				t.Errorf("runw compile: stderr %q, want %q", res.stderr, want)
			}
		})
	}
}

// TestConcurrentMissesCompileOnce: containers of one uncached module
// created at once (replicas, a pod's containers) each compiled it in
// their own child, outside any cgroup: three creates of YoWASP's 75 MB
// clang.wasm meant three compiles of 2.3 GB and two minutes of CPU each,
// three times slower together, past their time bound on a loaded node.
// The compile of a key is now locked in the cache: of three concurrent
// `runw compile`s of one module (the command create's child runs),
// exactly one compiles and the others find its artifact.
func TestConcurrentMissesCompileOnce(t *testing.T) {
	cache := t.TempDir()
	module := filepath.Join(t.TempDir(), "many.wasm")
	if err := os.WriteFile(module, emptyFunctionsModule(60000), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 3
	outs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := exec.Command(runwBin, "--cache-dir", cache, "compile", module).CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	compiled := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("runw compile: %v: %s", errs[i], outs[i])
		}
		if strings.Contains(outs[i], "\tcompiled\t") {
			compiled++
		}
	}
	if compiled != 1 {
		t.Errorf("%d of %d concurrent compiles of one module compiled it, want 1: %q", compiled, n, outs)
	}
	if locks, _ := filepath.Glob(filepath.Join(cache, "*.lock")); len(locks) > 0 {
		t.Errorf("compile locks left in the cache: %v", locks)
	}
}

// paddedModule is a module whose _start returns at once, after a custom
// section of n zero bytes.
func paddedModule(n int) []byte {
	leb := func(b []byte, v int) []byte {
		for ; v >= 0x80; v >>= 7 {
			b = append(b, byte(v)|0x80)
		}
		return append(b, byte(v))
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, 1, 4, 1, 0x60, 0, 0)                             // type: [] -> []
	m = append(m, 3, 2, 1, 0)                                      // one function of type 0
	m = append(m, 7, 10, 1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0) // export _start
	m = append(m, 10, 4, 1, 2, 0, 0x0b)                            // its body: end
	custom := append(leb(nil, 3), "pad"...)
	m = leb(append(m, 0), len(custom)+n)
	m = append(m, custom...)
	return append(m, make([]byte, n)...)
}

// waitCompiler returns the pid of create's `runw compile` child once it
// runs, killed at the end of the test.
func waitCompiler(t *testing.T, create *background) int {
	t.Helper()
	compiler := 0
	for deadline := time.Now().Add(30 * time.Second); compiler == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		compiler = childRunning(create.cmd.Process.Pid, "compile")
	}
	if compiler == 0 {
		t.Fatalf("no compile child of create appeared: %v", create.wait(t, 30*time.Second))
	}
	// By pidfd: by the time the test ends the child is long gone, and on
	// a machine whose pid_max is 32,768 a full test run reuses pids, so
	// a kill by number could end another test's container.
	if pidfd, err := unix.PidfdOpen(compiler, 0); err == nil {
		t.Cleanup(func() {
			unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
			unix.Close(pidfd)
		})
	}
	return compiler
}

// leb appends v to b in unsigned LEB128, wasm's encoding of counts.
func leb(b []byte, v int) []byte {
	for ; v >= 0x80; v >>= 7 {
		b = append(b, byte(v)|0x80)
	}
	return append(b, byte(v))
}

// section appends a module section of kind id with body.
func section(b []byte, id byte, body []byte) []byte {
	return append(leb(append(b, id), len(body)), body...)
}

// emptyFunctionsModule is a valid module of n functions that do nothing:
// cheap to write, slow to compile.
func emptyFunctionsModule(n int) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = section(m, 1, []byte{1, 0x60, 0, 0}) // one type: [] -> []
	funcs := leb(nil, n)
	code := leb(nil, n)
	for i := 0; i < n; i++ {
		funcs = append(funcs, 0)        // type 0
		code = append(code, 2, 0, 0x0b) // size 2: no locals, end
	}
	m = section(m, 3, funcs)
	return section(m, 10, code)
}

// childRunning returns the pid of a live child of parent whose command
// line has word, or 0.
func childRunning(parent int, word string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(pid); len(f) < 2 || f[1] != strconv.Itoa(parent) || procGone(pid) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), "\x00"+word+"\x00") {
			return pid
		}
	}
	return 0
}

// TestGrantsStayInsideThemselves: every directory the container's process
// holds for its guest is the root of its grant, with nothing mounted in
// the rootfs's. The attacks:
//   - an exec'd guest's "/" was the container's root, where the init has
//     bound the container's /proc for the engines: it listed and read
//     /proc, which no grant gives;
//   - ".." from the init's rootfs or volume descriptor climbed to the
//     bundle and on to the host's "/" (runc's CVE-2024-21626 pattern), for
//     code that escaped wasmtime where Landlock is not there.
func TestGrantsStayInsideThemselves(t *testing.T) {
	needsRoot(t, "a mount namespace and private copies of the grants' mounts")
	r := newRunw(t)
	data := dirWith(t, "f", "x")
	b := newBundle(t, "probe", "sleep", "30s")
	b.edit(func(s *specs.Spec) {
		ownMountAndPID(s)
		s.Mounts = append(s.Mounts, bindMount("/data", data, "rbind", "ro"))
	})
	bg, pid := runInBackground(t, r, b, "inside")
	res := r.mustRun("exec", "inside", "/probe.wasm", "ls", "/proc", "echo", "--", "cat", "/proc/self/status", "ls", "/data")
	if got := strings.Split(strings.TrimSpace(res.stdout), "\n"); len(got) != 3 || got[0] != "--" || !strings.HasPrefix(got[1], "ERR ") || got[2] != "f" {
		t.Errorf("exec'd guest: ls /proc, cat /proc/self/status, ls /data gave %q; want nothing, an error, f", got)
	}
	if dirs := dirsStayPut(t, pid, "the init"); dirs < 2 {
		t.Errorf("the init holds %d directories; want the rootfs and /data at least", dirs)
	}
	r.killRun(t, bg, "inside", 20*time.Second)
}

// TestExecGrantsStayInsideThemselves: a process `runw exec` starts holds
// its grants as the init does, on detached copies of their mounts, the
// private tmpfs directories too. It used to hold those (the container's
// /tmp, /dev/shm, podman's /dev) on their mounts in the host's namespace,
// where its copy could not be made from inside the container's: once the
// exec'd process was dumpable, any process of the container with its uid
// and no capability walked /proc/<pid>/fd/N/../../.. to the host's "/"
// and read and wrote host files (runc's CVE-2024-21626 pattern, found by
// an attack sweep). From every directory the exec'd process holds, ".."
// must stay where it is.
func TestExecGrantsStayInsideThemselves(t *testing.T) {
	needsRoot(t, "a mount namespace and private copies of the grants' mounts")
	r := newRunw(t)
	data := dirWith(t, "f", "x")
	b := newBundle(t, "probe", "sleep", "30s")
	b.edit(func(s *specs.Spec) {
		ownMountAndPID(s)
		s.Mounts = append(s.Mounts, bindMount("/data", data, "rbind", "ro"),
			specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}},
			specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro"}})
	})
	bg, _ := runInBackground(t, r, b, "execfds")
	pid := r.execDetached("execfds", "/probe.wasm", "write", "/tmp/w", "x", "sleep", "30s")
	// The exec'd process has its grants once it reports, before the
	// guest's first write; wait for that write, then look.
	for i := 0; i < 100; i++ {
		if res := r.run("exec", "execfds", "/probe.wasm", "cat", "/tmp/w"); res.stdout == "x" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if dirs := dirsStayPut(t, pid, "the exec'd process"); dirs < 4 {
		t.Errorf("the exec'd process holds %d directories; want the rootfs, /data, /tmp and /scratch", dirs)
	}
	r.killRun(t, bg, "execfds", 20*time.Second)
}

// TestExecGrantMissingFromTreeFails: a grant missing from the container's
// tree (its mount taken away there since create, here by umount in the
// container's mount namespace; a guest of another container can move a
// mount point of a shared volume) leaves the image's own file at the
// grant's path. exec takes its grants from the container's tree, so it
// handed the exec'd process that file in the grant's place (it read the
// image's /etc/hosts). Now exec finds nothing mounted there and fails in
// one line. (A mount point create cannot use, a file mounted where the
// image has a directory, fails create now: TestMountPointsRuncRefusesFailCreate.)
func TestExecGrantMissingFromTreeFails(t *testing.T) {
	needsRoot(t, "a mount namespace for the container")
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, "/", 0, 0, &st); err != nil || st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		t.Skip("this kernel does not say which objects are mount roots (Linux 5.8): exec cannot check")
	}
	busybox := engStaticBusybox()
	if _, err := exec.LookPath("nsenter"); err != nil || busybox == "" {
		t.Skip("nsenter or a static busybox not installed: the test unmounts inside the container's root")
	}
	r := newRunw(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("10.0.0.1 x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe", "cat", "/etc/hosts", "sleep", "30s")
	b.writeFile("etc/hosts", "the image's")
	if err := copyFile(busybox, filepath.Join(b.rootfs, "busybox")); err != nil {
		t.Fatal(err)
	}
	b.edit(func(s *specs.Spec) {
		ownMountAndPID(s)
		s.Mounts = append(s.Mounts, bindMount("/etc/hosts", hosts, "rbind", "ro"))
	})
	bg, pid := runInBackground(t, r, b, "execmissing")
	if out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-m", "/busybox", "umount", "/etc/hosts").CombinedOutput(); err != nil {
		t.Fatalf("umount /etc/hosts in the container's namespace: %v: %s", err, out)
	}
	res := r.run("exec", "execmissing", "/probe.wasm", "cat", "/etc/hosts")
	r.run("kill", "execmissing", "KILL")
	// The container's own process has the file all the same.
	if own := bg.wait(t, 20*time.Second); !strings.Contains(own.stdout, "10.0.0.1 x") {
		t.Errorf("the container's process did not read its /etc/hosts grant: %v", own)
	}
	if res.code == 0 || strings.Contains(res.stdout, "the image's") {
		t.Fatalf("exec with a grant missing from the container's tree: %v; want a failure", res)
	}
	if want := `grant "/etc/hosts": not mounted there`; !strings.Contains(res.stderr, want) || strings.Contains(strings.TrimSpace(res.stderr), "\n") {
		t.Errorf("exec's error: %q; want one line with %q", res.stderr, want)
	}
}

// TestExecGrantPathLinkIsNotFollowed: exec opens each grant at the
// destination create recorded, in the container's tree. A link planted
// on that path since create (here by whoever can write the rootfs; a
// guest of another container sharing a volume can do the same by
// renaming a directory that is a mount point only in this container) led
// exec to the container's /proc, a mount root like any grant, and the
// exec'd process was granted every process's memory. No link is
// followed now: the exec fails.
func TestExecGrantPathLinkIsNotFollowed(t *testing.T) {
	needsRoot(t, "a mount namespace for the container")
	r := newRunw(t)
	vol := dirWith(t, "f", "the volume")
	b := newBundle(t, "probe", "sleep", "30s")
	b.writeFile("srv/data/.keep", "")
	b.edit(func(s *specs.Spec) {
		ownMountAndPID(s)
		s.Mounts = append(s.Mounts, bindMount("/srv/data", vol, "rbind", "rw"),
			specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"})
	})
	bg, _ := runInBackground(t, r, b, "execlink")
	defer func() {
		r.killRun(t, bg, "execlink", 20*time.Second)
	}()
	if res := r.run("exec", "execlink", "/probe.wasm", "cat", "/srv/data/f"); res.stdout != "the volume" {
		t.Fatalf("exec before the link: %v", res)
	}
	srv := filepath.Join(b.rootfs, "srv")
	if err := os.Rename(srv, srv+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(srv, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../proc", filepath.Join(srv, "data")); err != nil {
		t.Fatal(err)
	}
	res := r.run("exec", "execlink", "/probe.wasm", "ls", "/srv/data", "cat", "/srv/data/self/status")
	if res.code == 0 || strings.Contains(res.stdout, "self") || strings.Contains(res.stdout, "Pid:") {
		t.Fatalf("exec with a link to /proc on a grant's path: %v; want a failure", res)
	}
	oneLine(t, "exec error", res.stderr)
}

// dirsStayPut checks that ".." from every directory process pid holds
// open (named who in errors) stays where it is, and returns how many it
// holds.
func dirsStayPut(t *testing.T, pid int, who string) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	dirs := 0
	for _, e := range fds {
		fd := fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())
		var self, up syscall.Stat_t
		if syscall.Stat(fd, &self) != nil || self.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			continue
		}
		dirs++
		if err := syscall.Stat(fd+"/..", &up); err != nil {
			t.Fatal(err)
		}
		if up.Dev != self.Dev || up.Ino != self.Ino {
			target, _ := os.Readlink(fd)
			t.Errorf("%s's descriptor %s (%s): \"..\" leaves it", who, e.Name(), target)
		}
	}
	return dirs
}

// TestSlowCompileEndsCreate: the module is the image's, and one function
// of 600 KB (50,000 i64 locals, all carried around a loop) keeps
// Cranelift's register allocator busy for hours (10,000 locals: 31 s of
// CPU; 5,000: 2 s). The compile child's bound ended the child, and the
// init then compiled in-process with no bound at all: create never
// returned, and `runw kill` and `delete --force` waited behind its lock
// (runc's create runs nothing of the image's). Every compile of the
// module is bounded in CPU time, and create (or exec, with runc's 255)
// fails with one line once that runs out: create's compile child outside
// the container, the init's compile child (in a user namespace create
// leaves the compile to the init; the init compiled in-process until its
// child could confine itself there: TestUncachedCompileInAChild), and the
// compile child of an exec'd init. The bound (two minutes of CPU for this module) is made
// 8 s here by RUNW_COMPILE_CPU; its wall-clock backstop is four times
// that and a minute. The bound was one of wall-clock time before, which
// a loaded node could pass with a legitimate compile
// (TestStarvedCompileSucceeds).
func TestSlowCompileEndsCreate(t *testing.T) {
	needsRoot(t, "a user namespace")
	const want = "/slow.wasm: compile used more than 8s of CPU time"
	for _, tc := range []struct {
		name string
		exec bool
		edit func(s *specs.Spec)
	}{
		{"create outside", false, func(s *specs.Spec) {}},
		{"init's child", false, func(s *specs.Spec) { s.Linux = userNamespaceLinux() }},
		{"exec'd init's child", true, func(s *specs.Spec) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			r.cache = t.TempDir()
			r.env = append(os.Environ(), "RUNW_COMPILE_CPU=8s")
			// The container outlives the exec's bound, which would
			// otherwise end with it.
			b := newBundle(t, "probe", "sleep", "300s")
			b.writeFile("slow.wasm", string(loopCarriedModule(50000)))
			b.edit(func(s *specs.Spec) {
				if !tc.exec {
					s.Process.Args = []string{"/slow.wasm"}
				}
				tc.edit(s)
			})
			traversable(t, b.dir)
			start := time.Now()
			if tc.exec {
				bg, _ := runInBackground(t, r, b, "slowcompile")
				start = time.Now()
				ex := r.start("exec", "slowcompile", "/slow.wasm")
				res := ex.wait(t, 4*time.Minute)
				t.Logf("exec ended after %v: %v", time.Since(start).Round(time.Second), res)
				// runc's status for an exec that failed to start.
				if res.code != 255 || !strings.Contains(res.stderr, want) {
					t.Errorf("exec: %v; want exit 255 and %q", res, want)
				}
				oneLine(t, "exec", res.stderr)
				r.killRun(t, bg, "slowcompile", 20*time.Second)
				return
			}
			create := r.start("create", "--bundle", b.dir, "slowcompile")
			res := create.wait(t, 4*time.Minute)
			t.Logf("create ended after %v: %v", time.Since(start).Round(time.Second), res)
			failsCleanly(t, r, res, "slowcompile", want)
		})
	}
}

// TestStarvedCompileSucceeds: a compile that waits long for a CPU (a
// loaded node: YoWASP clang's 75 MB module spent 9 of its 14 minutes
// waiting, for 2 minutes of CPU) is not a hostile one. Its bound was one
// of wall-clock time (two minutes for a small module), and create failed
// with "compile took more than 2m0s" for a module that needs 2 s of CPU.
// Here the compile is stopped (SIGSTOP) for longer than that, once it has
// begun, in create's compile child and in the init's (the init compiled
// in-process until its child could confine itself in the container's pid
// namespace: TestUncachedCompileInAChild); create succeeds once it goes on. The test waits for over two minutes,
// spending almost no CPU.
func TestStarvedCompileSucceeds(t *testing.T) {
	needsRoot(t, "a user namespace")
	for _, tc := range []struct {
		name string
		// who are the words on the command lines of create's child, and
		// of its child, and so on, down to the process that compiles.
		who  []string
		edit func(s *specs.Spec)
	}{
		{"create outside", []string{"compile"}, func(s *specs.Spec) {}},
		{"init's child", []string{"init", "compile"}, func(s *specs.Spec) { s.Linux = userNamespaceLinux() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			r.cache = t.TempDir()
			b := newBundle(t, "wat/exit7.wat")
			b.writeFile("starved.wasm", string(loopCarriedModule(5000)))
			b.edit(func(s *specs.Spec) {
				s.Process.Args = []string{"/starved.wasm"}
				tc.edit(s)
			})
			traversable(t, b.dir)
			create := r.start("create", "--bundle", b.dir, "starved")
			pid := 0
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no %s child of create using CPU after a minute", tc.who)
				}
				if pid == 0 {
					pid = create.cmd.Process.Pid
					for _, w := range tc.who {
						if pid != 0 {
							pid = childRunning(pid, w)
						}
					}
				}
				// Compiling: past Go's start, with a second or more of
				// its 2 s of CPU to go.
				if pid != 0 && cpuTicks(pid) >= 20 {
					break
				}
			}
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			t.Logf("stopped the compile (%s, pid %d) after %d ticks of CPU", tc.who, pid, cpuTicks(pid))
			time.Sleep(2*time.Minute + 10*time.Second)
			// Gone already, if its bound ended it: create says so.
			_ = syscall.Kill(pid, syscall.SIGCONT)
			res := create.wait(t, 2*time.Minute)
			if res.code != 0 {
				t.Fatalf("create of a compile stopped for 2m10s, with 2 s of CPU to spend: %v", res)
			}
			r.mustRun("start", "starved")
			if st := r.waitStatus("starved", "stopped", 30*time.Second); st.Status != "stopped" {
				t.Errorf("state %q", st.Status)
			}
			r.mustRun("delete", "starved")
		})
	}
}

// cpuTicks is the CPU time pid has used (user and system), in clock ticks,
// 0 if it is gone.
func cpuTicks(pid int) int {
	f := procStat(pid)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

// loopCarriedModule is a valid module whose _start is one function with n
// i64 locals, each set in a loop from the next two before they are set:
// all n live around the loop's back edge.
func loopCarriedModule(n int) []byte {
	body := append(leb([]byte{1}, n), 0x7e) // n locals of i64
	body = append(body, 0x03, 0x40)         // loop
	for i := 0; i < n-2; i++ {
		body = append(leb(append(body, 0x20), i+1), 0x20) // local.get i+1, local.get
		body = append(leb(body, i+2), 0x7c, 0x21)         // i+2, i64.add, local.set
		body = leb(body, i)                               // i
	}
	body = append(body, 0x20, 0, 0xa7, 0x0d, 0, 0x0b, 0x0b) // br_if 0 on local 0; end; end
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = section(m, 1, []byte{1, 0x60, 0, 0})                            // type: [] -> []
	m = section(m, 3, []byte{1, 0})                                     // one function of type 0
	m = section(m, 7, []byte{1, 6, '_', 's', 't', 'a', 'r', 't', 0, 0}) // export _start
	return section(m, 10, append(leb([]byte{1}, len(body)), body...))
}

// compileCost is the CPU time `runw compile` spends on module, in a cache
// of its own.
func compileCost(t *testing.T, module []byte) time.Duration {
	t.Helper()
	ref := filepath.Join(t.TempDir(), "ref.wasm")
	if err := os.WriteFile(ref, module, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runwBin, "--cache-dir", t.TempDir(), "compile", ref)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runw compile: %v: %s", err, out)
	}
	cost := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	t.Logf("the compile costs %v of CPU", cost)
	return cost
}

// TestExecCompilesInsideTheContainer: `runw exec` of a module the cache
// does not hold compiled it in a child of its own, as root, outside the
// container's cgroup. The module of an exec is often the guest's to
// write (a writable rootfs, a probe or health check run again and
// again), so a guest could rewrite it with new bytes before each exec
// and make every probe a compile of minutes on every CPU, charged to no
// container (a 600 KB module: 10 s of CPU in a 40 s probe, for a
// container allowed 4 s by its quota, which was charged 45 ms). The
// exec'd init now compiles it, in the container's cgroup: the cgroup's
// CPU time grows by at least half of what the compile costs.
func TestExecCompilesInsideTheContainer(t *testing.T) {
	needsRoot(t, "cgroups")
	// New bytes each run: a miss in the tests' shared cache.
	module := loopCarriedModule(5000 + int(time.Now().UnixNano()%1000))
	cost := compileCost(t, module)

	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "60s")
	b.writeFile("probe2.wasm", string(module))
	bg, pid := runInBackground(t, r, b, "execcompile")
	before, where := cgroupCPU(t, pid)
	if res := r.run("exec", "execcompile", "/probe2.wasm"); res.code != 7 && res.code != 0 {
		t.Logf("exec: %v", res)
	}
	after, _ := cgroupCPU(t, pid)
	t.Logf("the container's cgroup (%s) used %v during the exec", where, after-before)
	if after-before < cost/2 {
		t.Errorf("the container's cgroup was charged %v for an exec whose compile costs %v: the compile ran outside it", after-before, cost)
	}
	r.killRun(t, bg, "execcompile", 30*time.Second)
}

// TestExecCompileOOMSparesTheContainer: exec of a module the cache lacks
// (a health check's own, podman exec of another module) compiles it in
// the container's cgroup, under its memory limit. In a container near
// its limit the compile took the cgroup over it, and the OOM killer
// chose the largest process, the container's own: it exited 137 (under
// podman, at every health check interval). The compile child is the OOM
// killer's first choice now: the exec fails saying so, and the container
// runs on. So it does where the container's process is almost as
// killable (oom_score_adj 999, Kubernetes' Burstable pods): on cgroup v1
// the child compiles in a memory cgroup below the container's, limited to
// what the container's limit leaves, and the OOM killer looks no further;
// the container's init was killed (found through CRI). Two execs
// compiling at once share that cgroup and its limit (with one each, they
// took the container over its limit together), and a container with
// disableOOMKiller does not leave the compile stopped at its limit until
// its time bound (minutes).
func TestExecCompileOOMSparesTheContainer(t *testing.T) {
	needsRoot(t, "a memory cgroup")
	probe, err := os.ReadFile(guests["probe"])
	if err != nil {
		t.Fatal(err)
	}
	// Modules the cache lacks: the probe and a custom section (id 0,
	// name "x", 8 bytes), one for each exec.
	others := []string{
		string(append(slices.Clip(probe), 0, 10, 1, 'x', 1, 2, 3, 4, 5, 6, 7, 8)),
		string(append(slices.Clip(probe), 0, 10, 1, 'x', 8, 7, 6, 5, 4, 3, 2, 1)),
	}
	burstable := 999
	for _, c := range []struct {
		name       string
		adj        *int
		execs      int
		disableOOM bool
	}{
		{"default", nil, 1, false},
		{"burstable", &burstable, 1, false},
		{"burstable, two execs at once", &burstable, 2, false},
		{"disableOOMKiller", &burstable, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.adj != nil && unifiedRoot() == "/sys/fs/cgroup" {
				t.Skip("cgroup v2: no cgroup below one with processes; the child stays in the container's")
			}
			r := newRunw(t)
			r.cache = filepath.Join(t.TempDir(), "cache")
			b := newBundle(t, "probe", "alloc", "180", "sleep", "60s")
			for i, o := range others {
				b.writeFile(fmt.Sprintf("other%d.wasm", i), o)
			}
			b.edit(func(s *specs.Spec) {
				limit := int64(256 << 20)
				memoryLimit(limit)(s)
				s.Linux.Resources.Memory.DisableOOMKiller = &c.disableOOM
				s.Process.OOMScoreAdj = c.adj
			})
			bg, pid := runInBackground(t, r, b, "execoom")
			defer func() {
				r.killRun(t, bg, "execoom", 30*time.Second)
			}()
			// The guest holds its 180 MiB once it has touched them.
			for i := 0; i < 200; i++ {
				if out, _ := os.ReadFile(bg.stdout.Name()); strings.Contains(string(out), "OK") {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			results := make([]result, c.execs)
			var wg sync.WaitGroup
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = r.run("exec", "execoom", fmt.Sprintf("/other%d.wasm", i), "echo", "compiled")
				}()
			}
			wg.Wait()
			for _, res := range results {
				if res.code == 0 {
					t.Skipf("the compile fitted in what the limit left (%v): nothing to spare the container from", res)
				}
				if !strings.Contains(res.stderr, "OOM killer") {
					t.Errorf("exec: %v; want the compile's OOM kill said", res)
				}
			}
			if st, _, _ := r.state("execoom"); st.Status != "running" || st.Pid != pid {
				t.Errorf("the container after its exec's compile ran out of memory: %+v; want its init %d running", st, pid)
			}
		})
	}
}

// cgroupCPU is the CPU time used so far by the cgroup v2 tree's cgroup of
// pid (the unified mount of a hybrid host, or the only one), from
// cpu.stat's usage_usec, and that file's path.
func cgroupCPU(t *testing.T, pid int) (time.Duration, string) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		cg, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		for _, mnt := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
			f := filepath.Join(mnt, cg, "cpu.stat")
			stat, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(stat), "\n") {
				if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
					us, _ := strconv.ParseInt(v, 10, 64)
					return time.Duration(us) * time.Microsecond, f
				}
			}
		}
	}
	t.Skipf("no cgroup v2 cpu.stat for pid %d: %s", pid, data)
	return 0, ""
}

// TestCompileChildHoldsNoPrivilege: create compiles a module the cache
// does not hold in a `runw compile` child, as root, on the host, before
// any namespace of the container exists; exec does so in the container's
// cgroup (the exec'd init would compile it with the container's
// capabilities, all of root's without a user namespace). The module is
// untrusted (the image's, or the guest's own file for an exec), and a
// bug in the compiler it exploited would run native code there. Once it
// has read the module the child confines itself: while it compiles,
// every one of its threads has no capability in any set (the bounding
// set included) and no_new_privs (what Landlock and seccomp take from it
// is tried in runtime's TestCompileChildIsConfined).
func TestCompileChildHoldsNoPrivilege(t *testing.T) {
	needsRoot(t, "a compile child that holds root's capabilities to lose")
	for _, exec := range []bool{false, true} {
		name := "create"
		if exec {
			name = "exec"
		}
		t.Run(name, func(t *testing.T) {
			r := newRunw(t)
			// A directory runw makes (0700): create compiles outside
			// only into a cache others cannot search.
			r.cache = filepath.Join(t.TempDir(), "cache")
			r.env = append(os.Environ(), "RUNW_COMPILE_CPU=20s")
			b := newBundle(t, "probe", "sleep", "300s")
			b.writeFile("slow.wasm", string(loopCarriedModule(50000)))
			var compiling *background
			if exec {
				runInBackground(t, r, b, "confined")
				compiling = r.start("exec", "confined", "/slow.wasm")
			} else {
				b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/slow.wasm"} })
				compiling = r.start("create", "-b", b.dir, "confined")
			}
			defer func() {
				compiling.cmd.Process.Kill()
				compiling.wait(t, time.Minute)
				r.run("delete", "--force", "confined")
			}()
			// The child is create's or exec's: found by its parent and its
			// arguments.
			deadline := time.Now().Add(60 * time.Second)
			var last string // what was seen of the child, if anything
			for time.Now().Before(deadline) {
				switch st := compileChildStatus(t, compiling.cmd.Process.Pid); {
				case strings.Contains(st, "confined"):
					t.Logf("%s", st)
					return
				case st != "no compile child" || last == "":
					last = st
				}
				time.Sleep(20 * time.Millisecond)
			}
			errOut, _ := os.ReadFile(compiling.stderr.Name())
			t.Fatalf("no confined compile child of %s within 60 s; last seen: %s; its stderr: %s", name, last, errOut)
		})
	}
}

// compileChildStatus finds parent's `runw compile` child and says, in one
// line, whether every thread of it holds no capability and has
// no_new_privs ("confined"), or what one of them holds.
func compileChildStatus(t *testing.T, parent int) string {
	t.Helper()
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		stat, err := os.ReadFile(filepath.Join("/proc", p.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if !strings.Contains(string(cmdline), "\x00compile\x00") {
			continue
		}
		tasks, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "task"))
		if len(tasks) == 0 {
			return "compile child " + p.Name() + " gone"
		}
		for _, task := range tasks {
			status, err := os.ReadFile(filepath.Join("/proc", p.Name(), "task", task.Name(), "status"))
			if err != nil {
				continue
			}
			for _, want := range []string{"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
				"CapBnd:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1"} {
				if !strings.Contains(string(status), want+"\n") {
					return fmt.Sprintf("compile child %s, thread %s: not %q", p.Name(), task.Name(), want)
				}
			}
		}
		return fmt.Sprintf("compile child %s confined on its %d threads", p.Name(), len(tasks))
	}
	return "no compile child"
}

// TestExecDoesNotRunTheImagesLoader: an exec of a module the cache does
// not hold, into a container without a user namespace, is compiled by
// the exec'd init, which has already entered the container's mount
// namespace and root. It used to fill the cache from a `runw compile`
// child (compileInChild), whose ELF interpreter (runw is dynamically
// linked) the kernel took from the container's rootfs: the image's, or
// the guest's to write. The image's /lib64/ld-linux-x86-64.so.2 ran as
// host root with nearly every capability, no seccomp and no
// no_new_privs. Here that loader is a program that drops a file in the
// rootfs: it must never run.
func TestExecDoesNotRunTheImagesLoader(t *testing.T) {
	needsRoot(t, "an exec'd init of root's")
	bin, interp, loader := dynamicRunwAndLoader(t, "/loader-ran")
	code, err := os.ReadFile(loader)
	if err != nil {
		t.Fatal(err)
	}
	r := newRunw(t)
	r.bin = bin
	b := newBundle(t, "probe", "sleep", "60s")
	b.edit(ownMountAndPID)
	b.writeFile(strings.TrimPrefix(interp, "/"), string(code))
	if err := os.Chmod(filepath.Join(b.rootfs, interp), 0o755); err != nil {
		t.Fatal(err)
	}
	// New bytes each run: a miss in the tests' shared cache.
	b.writeFile("uncached.wasm", string(loopCarriedModule(100+int(time.Now().UnixNano()%1000))))
	bg, _ := runInBackground(t, r, b, "loader")
	res := r.run("exec", "loader", "/uncached.wasm")
	t.Logf("exec: %v", res)
	r.killRun(t, bg, "loader", 30*time.Second)
	if _, err := os.Stat(filepath.Join(b.rootfs, "loader-ran")); err == nil {
		t.Fatalf("the exec ran the image's %s as its compile child's loader", interp)
	}
}

// dynamicRunw is runw as a plain `go build` makes it (dynamic where the
// toolchain links so), built once, beside the shared cache.
var dynamicRunw = sync.OnceValues(func() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(filepath.Dir(cacheDir), "runw-dynamic")
	return out, goBuild(root, nil, out, "github.com/runw/runw")
})

// dynamicRunwAndLoader returns a dynamically linked runw (runwBin, or one
// built for the test: a static runw, `make build`'s, has no interpreter
// for the kernel to take from a tree the attacker writes; STATIC=0 and a
// plain `go build` make the dynamic one), the ELF interpreter it names,
// and a stand-in for that interpreter: a program that creates mark
// (resolved in the root of whatever runs it) and exits 7. It skips the
// test where none can be had.
func dynamicRunwAndLoader(t *testing.T, mark string) (bin, interp, loader string) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the stand-in loader is x86-64 code")
	}
	bin = runwBin
	interp, ok := elfInterpreter(t, bin)
	if !ok {
		var err error
		if bin, err = dynamicRunw(); err != nil {
			t.Fatal(err)
		}
		if interp, ok = elfInterpreter(t, bin); !ok {
			t.Skip("go build links runw statically here: no interpreter to take from the rootfs")
		}
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build the stand-in loader")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "loader.c")
	if err := os.WriteFile(src, []byte(`
static long sc(long n, long a, long b, long c) { long r; __asm__ volatile("syscall":"=a"(r):"a"(n),"D"(a),"S"(b),"d"(c):"rcx","r11","memory"); return r; }
void _start(void) {
	static const char p[] = MARK;
	sc(2, (long)p, 0101, 0644);
	sc(231, 7, 0, 0);
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	loader = filepath.Join(dir, "loader")
	if out, err := exec.Command(cc, "-nostdlib", "-static-pie", "-fPIE", "-fno-stack-protector", "-O2", "-DMARK=\""+mark+"\"", "-o", loader, src).CombinedOutput(); err != nil {
		t.Skipf("build the stand-in loader: %v: %s", err, out)
	}
	return bin, interp, loader
}

// elfInterpreter is the ELF interpreter bin names (PT_INTERP), and false
// for a static binary, which names none.
func elfInterpreter(t *testing.T, bin string) (string, bool) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimRight(string(b), "\x00"), true
		}
	}
	return "", false
}

// TestCompileChildHandsItsArtifactBack: the compile child of create has no
// access to the cache (runtime.confineCompile); runw stores the artifact
// it hands back under the key of the bytes runw hashed itself, the key a
// `runw compile` of the same file names, and the next create loads it. A
// text module is keyed by its text, so that it is assembled only in the
// confined child, and hits the cache as a binary one does.
func TestCompileChildHandsItsArtifactBack(t *testing.T) {
	t.Parallel()
	for _, guest := range []string{"probe", "wat/hello.wat"} {
		t.Run(strings.ReplaceAll(guest, "/", "_"), func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, guest)
			module := filepath.Join(b.rootfs, strings.TrimPrefix(b.spec.Process.Args[0], "/"))
			out, err := exec.Command(runwBin, "--cache-dir", t.TempDir(), "compile", module).CombinedOutput()
			if err != nil {
				t.Fatalf("runw compile: %v: %s", err, out)
			}
			key := strings.Fields(string(out))[0]
			cache, root := t.TempDir(), t.TempDir()
			run := func(id string) string {
				t.Helper()
				var stderr strings.Builder
				cmd := exec.Command(runwBin, "--root", root, "--cache-dir", cache, "--debug", "run", "--bundle", b.dir, id)
				cmd.Stderr = &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("runw run: %v: %s", err, stderr.String())
				}
				return stderr.String()
			}
			if log := run("first"); !strings.Contains(log, "cache miss: compiling") {
				t.Fatalf("the first run did not compile outside the container: %s", log)
			}
			artifacts, _ := filepath.Glob(filepath.Join(cache, "*.cwasm"))
			if len(artifacts) != 1 || filepath.Base(artifacts[0]) != key+".cwasm" {
				t.Fatalf("artifacts %v, want the one of key %s", artifacts, key)
			}
			if log := run("second"); strings.Contains(log, "cache miss") {
				t.Errorf("the second run missed the cache: %s", log)
			}
		})
	}
}

// createdWithoutCompiling creates b as id (global flags before create),
// checks that its init's peak resident memory stayed that of a warm start
// (under 50 MB: it compiled no module itself, which takes some 85 MB for
// the Go hello guest), starts it, checks the guest's line, deletes it.
func createdWithoutCompiling(t *testing.T, r *runw, b *bundle, id string, global ...string) {
	t.Helper()
	stdout := createWithin(t, r, b, id, global...)
	st, res, ok := r.state(id)
	if !ok {
		t.Fatalf("state: %v", res)
	}
	kb, err := procField(fmt.Sprintf("/proc/%d/status", st.Pid), "VmHWM:")
	if err != nil {
		t.Fatal(err)
	}
	if kb > 50<<10 {
		t.Errorf("the init's peak resident memory is %.0f kB after create, want under 50 MB: it compiled the module itself", kb)
	}
	r.mustRun("start", id)
	r.waitStatus(id, "stopped", 20*time.Second)
	if out, _ := os.ReadFile(stdout); !strings.Contains(string(out), "Hello") {
		t.Errorf("the guest wrote %q", out)
	}
	r.mustRun("delete", id)
}

// TestUncachedCompileInAChild: with no cache (`--cache-dir ""`), the init
// compiled the image's module itself, before its sandbox, with the
// privileges it still held, so a Cranelift bug the module exploited would
// run its code there; and Cranelift's working memory stayed in the init
// for the container's life (85 MB resident for the Go hello, after a 90
// MB peak). Now the confined compile child hands its artifact back into
// a sealed memfd, which the init maps: its peak stays that of a warm
// start. A child of the init is in the container's pid namespace while
// /proc is still the host's, and the child's Landlock rule for
// /proc/<its pid>/task named another process there, or none: it always
// failed, for the init's cache fill too, and the init compiled in-process.
func TestUncachedCompileInAChild(t *testing.T) {
	needsRoot(t, "a pid namespace")
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "hello")
	b.edit(ownMountAndPID)
	createdWithoutCompiling(t, r, b, "nocache", "--cache-dir", "")
	r.assertRootEmpty()
}

// TestRefusedCacheEntryCompiledInAChild: an entry whose checksum holds
// but which wasmtime refuses (what a compromised compile child could hand
// back to be stored) is a miss, compiled in a confined child: create found
// it cached, the init's load failed, and the init compiled the image's
// module itself, before its sandbox, with every capability of host root,
// which only a child that failed may lead to.
func TestRefusedCacheEntryCompiledInAChild(t *testing.T) {
	needsRoot(t, "a pid namespace")
	t.Parallel()
	r := newRunw(t)
	r.cache = filepath.Join(t.TempDir(), "cache")
	b := newBundle(t, "hello")
	b.edit(ownMountAndPID)
	r.mustRun("run", "-b", b.dir, "warm")
	artifacts, _ := filepath.Glob(filepath.Join(r.cache, "*.cwasm"))
	if len(artifacts) != 1 {
		t.Fatalf("artifacts after a run: %q, want one", artifacts)
	}
	key := strings.TrimSuffix(artifacts[0], ".cwasm")
	garbage := bytes.Repeat([]byte("not an artifact "), 64)
	sum := binary.LittleEndian.AppendUint64(nil, uint64(len(garbage)))
	sum = binary.LittleEndian.AppendUint32(sum, crc32.Checksum(garbage, crc32.MakeTable(crc32.Castagnoli)))
	os.Remove(key + ".ok")
	if err := os.WriteFile(artifacts[0], garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key+".sum", sum, 0o600); err != nil {
		t.Fatal(err)
	}
	createdWithoutCompiling(t, r, b, "refusedentry")
}

// sleeperWithItsOwnCache runs id, a probe that sleeps a minute in its own
// mount and pid namespaces, with a cache of the test's own (the modules
// exec'd into it are compiled there, or not), deleted at the test's end;
// it returns its bundle and the WAT text of the hello module.
func sleeperWithItsOwnCache(t *testing.T, r *runw, id string) (*bundle, []byte) {
	t.Helper()
	r.cache = filepath.Join(t.TempDir(), "cache")
	b := newBundle(t, "probe", "sleep", "60s")
	b.edit(ownMountAndPID)
	hello, err := os.ReadFile("testdata/wat/hello.wat")
	if err != nil {
		t.Fatal(err)
	}
	r.mustRun("run", "-d", "-b", b.dir, id)
	t.Cleanup(func() { r.run("delete", "--force", id) })
	return b, hello
}

// TestExecOfARewrittenModuleIsNotCompiledInTheInit: a module rewritten
// between runw exec's compile (in a confined child) and its init's load
// fails the exec, in one line, rather than be compiled by the exec'd
// init, which compiles with the container's capabilities before its
// sandbox (host root's, here): a guest rewriting its own module at every
// exec had its bytes compiled there at every exec.
func TestExecOfARewrittenModuleIsNotCompiledInTheInit(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b, hello := sleeperWithItsOwnCache(t, r, "rewritten")
	// The writer: new bytes (and so a new key) every few milliseconds,
	// each file whole (a rename over the last).
	module := filepath.Join(b.rootfs, "m.wat")
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := module + ".tmp"
			os.WriteFile(tmp, append([]byte(fmt.Sprintf(";; %d\n", i)), hello...), 0o644)
			os.Rename(tmp, module)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()
	for _, err := os.Stat(module); err != nil; _, err = os.Stat(module) {
		time.Sleep(5 * time.Millisecond)
	}
	res := r.run("exec", "rewritten", "/m.wat")
	if res.code == 0 || !strings.Contains(res.stderr, "run the exec again") {
		t.Errorf("exec of a module rewritten all along: %v, want it refused (compiled by nothing but a confined child)", res)
	}
	oneLine(t, "exec error", res.stderr)
}

// TestExecCopiesNoMoreThanItsBound: runw exec copies and hashes a
// module outside the container's cgroup (charged to the engine's process
// that ran it) only up to 128 MiB. The attack: a guest grew a module in its
// writable rootfs to hundreds of MiB with one sparse truncate, and every
// exec of it (a probe's), changed by a byte before each, had runw exec
// copy all of it into memory on the host, up to 512 MiB, before its
// compile child entered the container's cgroup. Now such an exec fails
// in one line, in a container with a user namespace too (its init
// compiling it instead, a guest could choose to have its bytes compiled
// there, before the init's sandbox). The container's own module, which
// create compiled, is found by exec under create's index entry, whatever
// its size (exec reads the file in the container's root, where its path
// differs from create's).
func TestExecCopiesNoMoreThanItsBound(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	t.Run("host root", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		b, _ := sleeperWithItsOwnCache(t, r, "bigexec")
		sparseModule(t, filepath.Join(b.rootfs, "big.wasm"), emptyStart, 200<<20)
		res := r.run("exec", "bigexec", "/big.wasm")
		refusedAsTooLarge(t, res)
	})
	t.Run("the container's own module", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		r.cache = filepath.Join(t.TempDir(), "cache")
		b := newBundle(t, "probe")
		sparseModule(t, filepath.Join(b.rootfs, "big.wasm"), loopUnlessArgs, 200<<20)
		b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/big.wasm"} })
		b.edit(ownMountAndPID)
		r.mustRun("run", "-d", "-b", b.dir, "bigown")
		t.Cleanup(func() { r.run("delete", "--force", "bigown") })
		if res := r.run("exec", "bigown", "/big.wasm", "once"); res.code != 0 {
			t.Errorf("exec of the container's own 200 MiB module, which create compiled: %v, want it run from the cache", res)
		}
	})
	t.Run("user namespace", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		r.cache = filepath.Join(t.TempDir(), "cache")
		b := newBundle(t, "probe", "sleep", "60s")
		b.edit(func(s *specs.Spec) { s.Linux = userNamespaceLinux() })
		sparseModule(t, filepath.Join(b.rootfs, "big.wasm"), emptyStart, 200<<20)
		traversable(t, b.dir)
		r.mustRun("run", "-d", "-b", b.dir, "bigexecns")
		t.Cleanup(func() { r.run("delete", "--force", "bigexecns") })
		before, _ := filepath.Glob(filepath.Join(r.cache, "*.cwasm"))
		refusedAsTooLarge(t, r.run("exec", "bigexecns", "/big.wasm"))
		if after, _ := filepath.Glob(filepath.Join(r.cache, "*.cwasm")); len(after) != len(before) {
			t.Errorf("the cache went from %d to %d artifacts: runw exec compiled a 200 MiB module outside the container", len(before), len(after))
		}
	})
}

// refusedAsTooLarge checks that an exec of a 200 MiB module other than the
// container's own failed in one line that says so.
func refusedAsTooLarge(t *testing.T, res result) {
	t.Helper()
	if res.code == 0 || !strings.Contains(res.stderr, "larger than the 128 MiB runw exec compiles for a module other than the container's own") {
		t.Errorf("exec of a 200 MiB module: %v, want it refused", res)
	}
	oneLine(t, "exec error", res.stderr)
}

// TestExecWithoutACache: with no cache (`--cache-dir ""`) or one runw
// refuses (others may write it: a warning), every exec into a container
// whose init holds the host's root failed "no usable cache to compile
// into", where create works and runc's exec runs. Its compile child now
// compiles into memory and hands the artifact over, as create's does.
func TestExecWithoutACache(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	for name, cache := range map[string]func(t *testing.T) string{
		"none": func(*testing.T) string { return "" },
		"refused": func(t *testing.T) string {
			d := filepath.Join(t.TempDir(), "open")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
			return d
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			dir := cache(t)
			b := newBundle(t, "probe", "sleep", "60s")
			b.edit(ownMountAndPID)
			id := "nocache" + name
			r.mustRun("--cache-dir", dir, "run", "-d", "-b", b.dir, id)
			t.Cleanup(func() { r.run("delete", "--force", id) })
			res := r.run("--cache-dir", dir, "exec", id, "/probe.wasm", "echo", "exec without a cache")
			if res.code != 0 || !strings.Contains(res.stdout, "exec without a cache") {
				t.Errorf("exec with --cache-dir %q: %v, want the module compiled into memory and run", dir, res)
			}
		})
	}
}

// slowToCompile is a module Cranelift takes a few seconds to compile (one
// function of n loop-carried locals, as runtime's slowWAT) that writes
// "started" when it runs.
func slowToCompile(n int) string {
	var b strings.Builder
	b.WriteString(`(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "started\n")
  (func (export "_start") (local`)
	b.WriteString(strings.Repeat(" i64", n))
	b.WriteString(`)
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 8))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop`)
	for i := range n - 2 {
		fmt.Fprintf(&b, " (local.set %d (i64.add (local.get %d) (local.get %d)))", i, i+1, i+2)
	}
	b.WriteString(" (br_if 0 (i32.wrap_i64 (local.get 0))))))")
	return b.String()
}

// childNamed waits for a child of pid whose command name is comm (the
// init runw starts is "runw-init", its compile child "exe") and returns
// its pid.
func childNamed(t *testing.T, pid int, comm string) int {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		for _, f := range tasks {
			b, _ := os.ReadFile(f)
			for _, field := range strings.Fields(string(b)) {
				child, _ := strconv.Atoi(field)
				if name, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child)); strings.TrimSpace(string(name)) == comm {
					return child
				}
			}
		}
	}
	t.Fatalf("process %d started no %s", pid, comm)
	return 0
}

// TestExecSignalledBeforeItRunsNeverRunsIt: an exec'd process sent a stop
// signal while it compiles its module (an init in a user namespace with no
// cache to hand it an artifact compiles in-process) ends with 128+signal
// and never runs the guest, as runc's process signalled before it runs.
// The guest ran about half the time: the init's release, ready at once
// for an exec, and the signal taken meanwhile were both ready, and Go's
// select picks at random.
func TestExecSignalledBeforeItRunsNeverRunsIt(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a user namespace")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "120s")
	b.edit(func(s *specs.Spec) { s.Linux = userNamespaceLinux() })
	b.writeFile("slow.wat", slowToCompile(6000))
	traversable(t, b.dir)
	r.mustRun("--cache-dir", "", "run", "-d", "-b", b.dir, "sigexec")
	t.Cleanup(func() { r.run("delete", "--force", "sigexec") })
	for i := range 4 {
		bg := r.start("--cache-dir", "", "exec", "sigexec", "/slow.wat")
		init := childNamed(t, bg.cmd.Process.Pid, "runw-init")
		time.Sleep(300 * time.Millisecond) // compiling: about 2.6 s
		if err := syscall.Kill(init, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if res := bg.wait(t, 60*time.Second); res.code != 143 || strings.Contains(res.stdout, "started") {
			t.Fatalf("exec %d, its process sent SIGTERM while it compiled: %v, want 143 and no guest run", i, res)
		}
	}
}

// TestExecOfAContainerKilledDuringItsCompile: a container killed while an
// exec's compile child compiled (in the container's cgroup, killed with
// it) fails the exec as a stopped container's, as runc's exec into a
// container that stopped: it said "compile /slow.wat: signal: killed".
func TestExecOfAContainerKilledDuringItsCompile(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r, bg := execCompiling(t, "killedexec")
	r.mustRun("kill", "killedexec", "KILL")
	res := bg.wait(t, 60*time.Second)
	if res.code == 0 || !strings.Contains(res.stderr, "cannot exec in a stopped container") {
		t.Errorf("exec of a container killed during its compile: %v, want it refused as a stopped container's", res)
	}
	oneLine(t, "exec error", res.stderr)
}

// TestExecInterruptedDuringItsCompile: ^C at a terminal during a
// foreground exec's compile (SIGINT to runw's process group, as a
// terminal sends it) reaches the guest once it runs: 130, as runc's exec
// gives. The compile child was in that group too and died of it: the
// exec failed "compile ...: signal: interrupt", 255.
func TestExecInterruptedDuringItsCompile(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	_, bg := execCompiling(t, "interruptedexec")
	if err := syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if res := bg.wait(t, 60*time.Second); res.code != 130 {
		t.Errorf("exec interrupted during its compile: %v, want the guest to get SIGINT (130)", res)
	}
}

// execCompiling starts `runw exec` of a module slow to compile, which the
// cache lacks, into a sleeping container id, in a process group of its
// own (a terminal's foreground group), and returns once its compile
// child has been compiling a moment.
func execCompiling(t *testing.T, id string) (*runw, *background) {
	t.Helper()
	r := newRunw(t)
	b, _ := sleeperWithItsOwnCache(t, r, id)
	b.writeFile("slow.wat", slowToCompile(6000))
	cmd, stdout, stderr := r.command(context.Background(), "exec", id, "/slow.wat")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bg := &background{cmd: cmd, stdout: stdout, stderr: stderr, done: make(chan error, 1)}
	go func() { bg.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	childNamed(t, cmd.Process.Pid, "exe") // the compile child, /proc/self/exe
	time.Sleep(300 * time.Millisecond)    // of about 2.6 s
	return r, bg
}

// sparseModule writes at p the module wat of size bytes: a custom
// section of zeros appended, left sparse (a guest makes such a file in a
// moment).
func sparseModule(t *testing.T, p, wat string, size int64) {
	t.Helper()
	m, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		t.Fatal(err)
	}
	// A custom section named "pad" up to size: its length as a 5-byte
	// LEB128, so the header's own length is known.
	n := uint32(size) - uint32(len(m)) - 6
	m = append(m, 0, byte(n)|0x80, byte(n>>7)|0x80, byte(n>>14)|0x80, byte(n>>21)|0x80, byte(n>>28))
	m = append(m, 3, 'p', 'a', 'd')
	if err := os.WriteFile(p, m, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
}

// emptyStart does nothing; loopUnlessArgs spins (a container that stays
// up) when given no argument beyond its name, and ends at once when given
// one (an exec of it).
const (
	emptyStart     = `(module (memory (export "memory") 1) (func (export "_start")))`
	loopUnlessArgs = `(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (if (i32.gt_u (i32.load (i32.const 0)) (i32.const 1)) (then return))
    (loop $spin (br $spin))))`
)

// TestJoinedMountNamespaceWithoutCacheCompilesOutside: an init that joins
// a mount namespace by path can spawn no compile child, and without a
// cache (`--cache-dir ""`) it compiled the image's module itself, as host
// root before its sandbox, at every create. create now compiles it into
// memory in its confined child and hands it over: the init's peak stays
// that of a warm start.
func TestJoinedMountNamespaceWithoutCacheCompilesOutside(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a mount namespace to join")
	_, mnt := holdMountNamespace(t, "")
	r := newRunw(t)
	b := newBundle(t, "hello")
	b.edit(joinMount(mnt))
	createdWithoutCompiling(t, r, b, "joinednocache", "--cache-dir", "")
}

// TestExecIntoAPausedContainerCompilesNothingInTheInit: an exec that can
// spawn no compile child (into a paused container, --ignore-paused) of a
// module the cache lacks fails in one line once the container resumes:
// its init, which holds the host's root before its sandbox, compiled the
// module itself, and a guest could choose when that happened.
func TestExecIntoAPausedContainerCompilesNothingInTheInit(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b, hello := sleeperWithItsOwnCache(t, r, "pausedexec")
	b.writeFile("m.wat", ";; not cached\n"+string(hello))
	r.mustRun("pause", "pausedexec")
	bg := r.start("exec", "--ignore-paused", "pausedexec", "/m.wat")
	time.Sleep(time.Second)
	r.mustRun("resume", "pausedexec")
	res := bg.wait(t, 60*time.Second)
	if res.code == 0 || !strings.Contains(res.stderr, "fill the cache beforehand") {
		t.Errorf("exec of an uncached module into a paused container: %v, want it refused", res)
	}
	oneLine(t, "exec error", res.stderr)
}

// TestInitHoldsNoCgroupFile: no descriptor of the container's init, or of
// a process exec'd into it, is a file of the host's cgroupfs. Go's
// runtime (1.25 on) kept cpu.cfs_quota_us and cpu.cfs_period_us open to
// follow the CPU limit for GOMAXPROCS; the init is dumpable as the
// container's user, so a process sharing its pid namespace (a sidecar,
// kubectl debug --target) reopened them for writing through
// /proc/<init>/fd and set the container's CPU limit.
func TestInitHoldsNoCgroupFile(t *testing.T) {
	t.Parallel()
	needsRoot(t, "cgroups")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	quota, period := int64(50000), uint64(100000)
	b.edit(func(s *specs.Spec) {
		s.Linux = &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}},
			Resources:  &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: &quota, Period: &period}},
		}
	})
	bg := r.start("run", "-b", b.dir, "nocgfd")
	st, err := r.pollStatus("nocgfd", "running", 180*time.Second)
	if err != nil {
		t.Fatalf("%v: %v", err, bg.wait(t, 10*time.Second))
	}
	// The guest has run a while: the runtime's CPU-limit reader has had
	// its turn.
	time.Sleep(500 * time.Millisecond)
	pids := map[string]int{"init": st.Pid, "exec'd process": r.execDetached("nocgfd", "/probe.wasm", "sleep", "1h")}
	for what, pid := range pids {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			t.Fatalf("%s %d: %v", what, pid, err)
		}
		for _, fd := range fds {
			p := fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())
			var fs unix.Statfs_t
			if unix.Statfs(p, &fs) != nil {
				continue
			}
			if fs.Type == unix.CGROUP_SUPER_MAGIC || fs.Type == unix.CGROUP2_SUPER_MAGIC {
				target, _ := os.Readlink(p)
				t.Errorf("the %s holds descriptor %s on the host's cgroupfs: %s", what, fd.Name(), target)
			}
		}
	}
	r.run("kill", "nocgfd", "KILL")
	bg.wait(t, 30*time.Second)
}
