package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
// is enforced inside the engine: a guest that allocates past it fails
// while one under it succeeds.
func TestMemoryLimitCapsLinearMemory(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	limit := int64(64 << 20)
	for _, c := range []struct {
		mb   string
		okay bool
	}{{"8", true}, {"200", false}} {
		b := newBundle(t, "probe", "alloc", c.mb)
		b.edit(func(s *specs.Spec) {
			s.Linux = &specs.Linux{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}}
		})
		res := r.run("run", "--bundle", b.dir, "mem"+c.mb)
		if got := res.code == 0 && strings.Contains(res.stdout, "OK"); got != c.okay {
			t.Errorf("alloc %s MB under a 64 MB limit: %v", c.mb, res)
		}
	}
}
