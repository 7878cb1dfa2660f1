package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/state"
)

// Pids lists the host pids in the container's cgroup (`ps --format json`,
// which containerd calls).
func (r *Runtime) Pids(id string) ([]int, error) {
	h, c, err := r.lockLoad(id)
	if err != nil {
		return nil, err
	}
	defer h.Unlock()
	if c.CgroupPath == "" {
		return nil, nil
	}
	// No process is a nil list, which `ps -f json` prints as null, as
	// runc's does.
	pids, err := cgroupPids(c.CgroupPath)
	if err != nil && withoutCgroup(err) {
		return pidNamespaceOf(c)
	}
	return pids, err
}

// withoutCgroup says whether err, from listing the container's cgroup,
// means it has none: rootless, the cgroup is skipped where it cannot be
// made (cgroups.go), and the container's processes are those of its pid
// namespace (pidNamespaceOf).
func withoutCgroup(err error) bool {
	return rootless() && errors.Is(err, os.ErrNotExist)
}

// pidNamespaceOf lists the processes in the pid namespace of the
// container's init, or the init alone if that namespace is not the
// container's own: one whose pid 1 is the init. A namespace joined from
// another container (or the host's) holds others' processes, which
// kill --all must not reach.
func pidNamespaceOf(c *state.Container) ([]int, error) {
	if !state.Alive(c.InitPid, c.InitStartTime) {
		return nil, nil
	}
	first := c.InitPid
	var pids []int
	if !isPidOne(first) {
		// The init runw started may be a proxy (runtime/nsenter's
		// enter_pid_namespace), whose child is pid 1 of the container's
		// own namespace, made after joining a user namespace by path.
		child := proxiedInit(c.InitPid)
		if child == 0 {
			return []int{c.InitPid}, nil
		}
		first, pids = child, []int{c.InitPid}
	}
	theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", first))
	if err != nil {
		return nil, fmt.Errorf("pid namespace of the container: %w", spec.ErrnoOf(err))
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// A process that is not the user's cannot be read, and is not
		// the container's.
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && ns == theirs {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// PsTable runs the host's ps with psArgs (default -ef) and keeps the
// header and the container's processes, as runc does.
func (r *Runtime) PsTable(id string, psArgs []string) (string, error) {
	pids, err := r.Pids(id)
	if err != nil {
		return "", err
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		// ps's own word on its options ("error: garbage option"), as
		// runc passes it on; its first line, for one line in all.
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if why, _, _ := strings.Cut(strings.TrimSpace(string(ee.Stderr)), "\n"); why != "" {
				return "", fmt.Errorf("ps: %w: %s", err, why)
			}
		}
		return "", fmt.Errorf("ps: %w", err)
	}
	lines := strings.Split(string(bytes.TrimRight(out, "\n")), "\n")
	col := -1
	for i, f := range strings.Fields(lines[0]) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return "", fmt.Errorf("ps: no PID column in %q", lines[0])
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	keep := []string{lines[0]}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > col {
			if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
				keep = append(keep, l)
			}
		}
	}
	return strings.Join(keep, "\n") + "\n", nil
}

// proxiedInit is the child of pid that is pid 1 of its own pid namespace
// (the init behind a proxy), or 0.
func proxiedInit(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		if child, err := strconv.Atoi(f); err == nil && isPidOne(child) {
			return child
		}
	}
	return 0
}

// isPidOne says whether pid is pid 1 of its own pid namespace: the last
// of its NSpid (Linux 4.1) is 1.
func isPidOne(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if ids, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(ids)
			return len(f) > 1 && f[len(f)-1] == "1"
		}
	}
	return false
}
