package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestInitInEveryV1Hierarchy: on cgroup v1 the container's processes are
// in every hierarchy, the devices one included, as under runc. CRI-O
// finds a container's processes through devices/<cgroup>/cgroup.procs
// (ContainerStats, so kubelet's CPU and memory figures); the device rules
// there are what the spec allows, and update leaves them alone.
func TestInitInEveryV1Hierarchy(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: cgroups")
	}
	if _, err := os.Stat("/sys/fs/cgroup/devices/devices.list"); err != nil {
		t.Skip("no cgroup v1 devices hierarchy at /sys/fs/cgroup/devices")
	}
	cg := fmt.Sprintf("/runw-test-%d/devices", time.Now().UnixNano())
	// Registered before newRunw, so it runs after the container is gone.
	t.Cleanup(func() {
		hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
		for _, h := range hierarchies {
			os.Remove(filepath.Join(h, cg))
			os.Remove(filepath.Join(h, filepath.Dir(cg)))
		}
	})
	r := newRunw(t)
	fuse := int64(229)
	misc := int64(10)
	b := newBundle(t, "probe", "sleep", "1h")
	b.edit(func(s *specs.Spec) {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Linux.CgroupsPath = cg
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		// What podman and CRI-O send: deny all, then allow some.
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: &misc, Minor: &fuse, Access: "rwm"},
		}
	})
	r.mustRun("create", "--bundle", b.dir, "dev")
	st, res, ok := r.state("dev")
	if !ok {
		t.Fatalf("runw state: %v", res)
	}
	for _, h := range []string{"devices", "memory", "pids", "cpu", "cpuacct", "freezer", "blkio"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", h)); err != nil {
			continue
		}
		if pids := procsOf(t, filepath.Join("/sys/fs/cgroup", h, cg)); !slices.Contains(pids, st.Pid) {
			t.Errorf("init %d not in %s%s/cgroup.procs: %v", st.Pid, h, cg, pids)
		}
	}
	devDir := filepath.Join("/sys/fs/cgroup/devices", cg)
	wantRules := func(when string) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(devDir, "devices.list"))
		if err != nil {
			t.Fatal(err)
		}
		list := strings.Split(strings.TrimSpace(string(data)), "\n")
		for _, want := range []string{"c 10:229 rwm", "c 1:3 rwm", "c 136:* rwm"} {
			if !slices.Contains(list, want) {
				t.Errorf("%s: devices.list lacks %q: %q", when, want, list)
			}
		}
		if slices.Contains(list, "a *:* rwm") {
			t.Errorf("%s: devices.list allows every device, the spec denies all but a few: %q", when, list)
		}
	}
	wantRules("after create")

	r.mustRun("start", "dev")
	r.waitStatus("dev", "running", 10*time.Second)
	r.mustRun("update", "--memory", "268435456", "dev")
	wantRules("after update")

	// An exec'd process joins every hierarchy too.
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r.mustRun("exec", "--detach", "--pid-file", pidFile, "dev", "/probe.wasm", "sleep", "1h")
	data, _ := os.ReadFile(pidFile)
	execPid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("exec pid file %q: %v", data, err)
	}
	if pids := procsOf(t, devDir); !slices.Contains(pids, execPid) {
		t.Errorf("exec'd process %d not in devices%s/cgroup.procs: %v", execPid, cg, pids)
	}

	r.mustRun("kill", "dev", "KILL")
	r.waitStatus("dev", "stopped", 10*time.Second)
	r.mustRun("delete", "dev")
	if _, err := os.Stat(devDir); err == nil {
		t.Errorf("devices cgroup %s left after delete", devDir)
	}
}

// procsOf reads a cgroup's cgroup.procs.
func procsOf(t *testing.T, dir string) []int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Errorf("%v", err)
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
