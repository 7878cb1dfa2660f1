package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestInitBinaryCannotBeOverwritten tries CVE-2019-5736 against runw:
// code that can see the container's init opens /proc/PID/exe for writing
// to replace the runtime's binary on the host. The init runs from a
// read-only overlay (or a sealed memfd), so the open must fail and the
// host binary must stay as it was.
func TestInitBinaryCannotBeOverwritten(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the attack opens another process's exe link")
	}
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

// TestGuestCannotLeavePreopens tries to reach the host through a
// preopened bind mount with "..": the guest must stay inside it.
func TestGuestCannotLeavePreopens(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	host := t.TempDir()
	secretDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(secretDir, "secret"), []byte("host-secret"), 0o644); err != nil {
		t.Fatal(err)
	}
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
		b.edit(func(s *specs.Spec) {
			s.Linux = &specs.Linux{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}}
		})
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

// TestColdStartUnderSmallMemoryLimit: with an empty cache, compiling the
// Go hello guest takes far more than 64 MiB. create compiles it outside
// the container's cgroup, so the container starts and prints its line.
// Without a cache the compile can only run in the init, inside the
// limit: then the one error line names the OOM killer.
func TestColdStartUnderSmallMemoryLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: cgroups")
	}
	t.Parallel()
	r := newRunw(t)
	limit := int64(64 << 20)
	b := newBundle(t, "hello")
	b.edit(func(s *specs.Spec) {
		s.Linux = &specs.Linux{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}}
	})
	cold := filepath.Join(t.TempDir(), "cache")
	res := r.run("--cache-dir", cold, "run", "--bundle", b.dir, "cold")
	if res.code != 0 || !strings.Contains(res.stdout, "Hello") {
		t.Fatalf("cold run under a 64 MiB limit: %v", res)
	}

	res = r.run("--cache-dir", "", "run", "--bundle", b.dir, "nocache")
	failsCleanly(t, r, res, "nocache", "OOM")
}

// TestProcessUserIsEnforced: process.user is who the guest is when it
// opens files, as for a native process: a root-only host file in a mount
// is refused, and what the guest writes belongs to its uid.
func TestProcessUserIsEnforced(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: changes uid")
	}
	r := newRunw(t)
	vol := t.TempDir()
	os.Chmod(vol, 0o777)
	if err := os.WriteFile(filepath.Join(vol, "shadow"), []byte("topsecret"), 0o600); err != nil {
		t.Fatal(err)
	}
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

// TestRecursiveReadOnlyMountIsReadOnly: rro must never grant writes.
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
}
