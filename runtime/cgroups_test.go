package runtime

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// prepare hands the constructor the tasks files as descriptors, first,
// then the namespace orders; orders longer than the constructor takes are
// refused before anything is spawned, never cut short.
func TestCgroupOrdersAreDescriptors(t *testing.T) {
	dir := t.TempDir()
	open := func(name string) *os.File {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	pids, memory := open("pids"), open("memory")
	ns := &spawnNS{orders: "cgroup"}
	cmd := &exec.Cmd{SysProcAttr: &syscall.SysProcAttr{}, ExtraFiles: []*os.File{open("init"), open("sync")}}
	r, w, err := ns.prepare(cmd, &cgroupEntry{Tasks: []*os.File{pids, memory}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if want := "tasks 5\ntasks 6\ncgroup"; ns.orders != want {
		t.Errorf("orders %q, want %q", ns.orders, want)
	}
	if len(cmd.ExtraFiles) != 5 || cmd.ExtraFiles[2] != pids || cmd.ExtraFiles[3] != memory || cmd.ExtraFiles[4] != r {
		t.Errorf("ExtraFiles %v: want the tasks files at fds 5 and 6, the orders pipe at 7", cmd.ExtraFiles)
	}
	if want := nsexecEnv + "=7"; !slices.Contains(cmd.Env, want) {
		t.Errorf("env %q lacks %q", cmd.Env, want)
	}

	// The constructor takes maxOrders-2 bytes (runtime/nsenter), no more.
	for _, n := range []int{maxOrders - 2, maxOrders - 1} {
		ns := &spawnNS{orders: "mnt /" + strings.Repeat("x", n-5)}
		cmd = &exec.Cmd{SysProcAttr: &syscall.SysProcAttr{}}
		r, w, err := ns.prepare(cmd, nil)
		if err == nil {
			r.Close()
			w.Close()
		}
		if ok := n <= maxOrders-2; ok != (err == nil) {
			t.Errorf("orders of %d bytes: prepare says %v; the constructor takes %d", n, err, maxOrders-2)
		}
	}
}
