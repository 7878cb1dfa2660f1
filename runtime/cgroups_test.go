package runtime

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// cgroup2Mount finds where the cgroup v2 tree is mounted: /sys/fs/cgroup on
// a unified host, /sys/fs/cgroup/unified on a hybrid one.
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if ok && strings.HasPrefix(post, "cgroup2 ") {
			if fields := strings.Fields(pre); len(fields) > 4 {
				return fields[4]
			}
		}
	}
	return ""
}

// v2Cgroup is pid's cgroup v2 path, its /proc/PID/cgroup "0::" line.
func v2Cgroup(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	t.Fatalf("no cgroup v2 line in /proc/%d/cgroup:\n%s", pid, data)
	return ""
}

// startInCgroup, the spawn create and exec use, puts the child in the
// cgroup it is given at birth (clone3 CLONE_INTO_CGROUP) on the machine's
// cgroup v2 tree, unified or hybrid; with a descriptor clone3 refuses (a
// directory that is no cgroup) it starts the child where the parent is and
// says so, for the caller to place it after.
func TestStartInCgroupIsBornThere(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a cgroup")
	}
	mnt := cgroup2Mount(t)
	if mnt == "" {
		t.Skip("no cgroup2 file system mounted")
	}
	own := v2Cgroup(t, os.Getpid())
	rel := filepath.Join(own, fmt.Sprintf("runw-test-born-%d", os.Getpid()))
	dir := filepath.Join(mnt, rel)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a cgroup under %s: %v", mnt, err)
	}
	defer os.Remove(dir)

	spawn := func(t *testing.T, cg *os.File) (int, bool) {
		t.Helper()
		cmd := exec.Command("sleep", "30")
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		cmd, born, err := startInCgroup(cmd, &spawnNS{}, &cgroupEntry{Dir: cg})
		if err != nil {
			t.Fatalf("startInCgroup: %v", err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd.Process.Pid, born
	}

	t.Run("BornInTheCgroup", func(t *testing.T) {
		cg := openDir(t, dir)
		pid, born := spawn(t, cg)
		if !born {
			t.Errorf("startInCgroup says the child was not born in %s", dir)
		}
		if got := v2Cgroup(t, pid); got != rel {
			t.Errorf("child is in cgroup %q, want %q", got, rel)
		}
	})
	t.Run("RefusedFallsBackToTheParents", func(t *testing.T) {
		cg := openDir(t, t.TempDir())
		pid, born := spawn(t, cg)
		if born {
			t.Errorf("startInCgroup says the child was born in a directory that is no cgroup")
		}
		if got := v2Cgroup(t, pid); got != own {
			t.Errorf("child is in cgroup %q, want the parent's %q", got, own)
		}
	})
}

func openDir(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// The constructor's orders are lines, and it obeys "user PATH" and
// "mnt PATH": a cgroup path holding a newline must never reach it, or it
// would end its "tasks" order and start one of its own choosing. (The
// kernel refuses such a cgroup name today; this does not rely on it.)
func TestCgroupOrdersRefuseANewline(t *testing.T) {
	ns := &spawnNS{orders: "cgroup"}
	evil := "/sys/fs/cgroup/pids/x\nuser /proc/1/ns/user\nx/tasks"
	if err := ns.enterFirst([]string{"/sys/fs/cgroup/memory/ok/tasks", evil}); err == nil {
		t.Fatalf("a tasks path with a newline was accepted; orders now %q", ns.orders)
	}
	if ns.orders != "cgroup" {
		t.Errorf("orders after a refused path = %q, want them unchanged", ns.orders)
	}
	if err := ns.enterFirst([]string{"/sys/fs/cgroup/memory/ok/tasks", "/sys/fs/cgroup/pids/ok/tasks"}); err != nil {
		t.Fatal(err)
	}
	want := "tasks /sys/fs/cgroup/memory/ok/tasks\ntasks /sys/fs/cgroup/pids/ok/tasks\ncgroup"
	if ns.orders != want {
		t.Errorf("orders = %q, want the cgroups first: %q", ns.orders, want)
	}
}
