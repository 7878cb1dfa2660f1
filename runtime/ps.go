package runtime

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
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
	return cgroupPids(c.CgroupPath)
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
