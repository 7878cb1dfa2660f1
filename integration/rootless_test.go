package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rootlessBundle is a probe bundle of nobody's from `runw spec
// --rootless` run as nobody, args set and edit applied; it returns the
// bundle's directory.
func rootlessBundle(t *testing.T, dir, bin string, edit func(*specs.Spec), args ...string) string {
	t.Helper()
	b := newBundle(t, "probe", args...)
	traversable(t, b.dir)
	if err := os.Remove(filepath.Join(b.dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{b.dir, b.rootfs, filepath.Join(b.rootfs, "probe.wasm")} {
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := runAsNobody(t, dir, bin, "spec", "--rootless", "--bundle", b.dir); code != 0 {
		t.Fatalf("runw spec --rootless: %s", out)
	}
	path := filepath.Join(b.dir, "config.json")
	var s specs.Spec
	if data, err := os.ReadFile(path); err != nil || json.Unmarshal(data, &s) != nil {
		t.Fatalf("read the rootless spec: %v", err)
	}
	s.Process.Args = append([]string{"/probe.wasm"}, args...)
	s.Process.Terminal = false
	edit(&s)
	data, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return b.dir
}

// TestRootlessByHand: runw run by a user without privileges, as rootless
// runc is used by hand, where runc runs and runw failed:
//   - inside `unshare -r` (root of a user namespace that denies setgroups,
//     as rootless podman without subuids): the spawn failed with EPERM;
//   - with process.user a uid the namespace does not map: create failed
//     at a chown of its exec fifo, where runc says the user is unmapped;
//   - with a subuid range in the mappings (runc's newuidmap): the spawn
//     failed with "fork/exec /proc/self/fd/N: operation not permitted";
//     runw, which does not run newuidmap, now says so in one line;
//   - the default state root under $XDG_RUNTIME_DIR is sticky, as runc's,
//     so that a session manager's clean-up leaves it.
func TestRootlessByHand(t *testing.T) {
	needsRoot(t, "runs runw as another user")
	t.Parallel()
	if _, err := os.Stat("/proc/self/setgroups"); err != nil {
		t.Skipf("no /proc/self/setgroups: %v", err)
	}
	dir, bin := runwForNobody(t)
	root := filepath.Join(dir, "state")
	asNobody := nobodyRunw(t, dir, bin)
	// unshare -r maps nobody to 0, the root of the container's mappings.
	b := rootlessBundle(t, dir, bin, func(s *specs.Spec) {
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}
		s.Linux.GIDMappings = s.Linux.UIDMappings
	}, "echo", "hi")
	out, code := runAsNobody(t, dir, "unshare", "-r", bin, "--root", root, "--cache-dir", filepath.Join(dir, "cache"), "run", "--bundle", b, "rl-unshare")
	if code != 0 || out != "hi\n" {
		t.Errorf("run inside unshare -r: exit %d, %q; want 0 and %q", code, out, "hi\n")
	}

	unmapped := rootlessBundle(t, dir, bin, func(s *specs.Spec) { s.Process.User = specs.User{UID: 5, GID: 5} }, "echo", "hi")
	const unmappedErr = "cannot set uid to unmapped user in user namespace"
	if out, code := asNobody("run", "--bundle", unmapped, "rl-unmapped"); code != 1 || !strings.Contains(out, unmappedErr) {
		t.Errorf("process.user 5, unmapped: exit %d, %q; want exit 1 and %q", code, out, unmappedErr)
	}

	ranges := rootlessBundle(t, dir, bin, func(s *specs.Spec) {
		s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 1, HostID: 100000, Size: 65536})
	}, "echo", "hi")
	const rangesErr = "linux.uidMappings may map only your own uid (65534), one id; more takes newuidmap(1)"
	if out, code := asNobody("run", "--bundle", ranges, "rl-ranges"); code != 1 || !strings.Contains(out, rangesErr) || strings.Count(out, "\n") != 1 {
		t.Errorf("a subuid range: exit %d, %q; want exit 1 and one line with %q", code, out, rangesErr)
	}
	(&runw{t: t, root: root}).assertRootEmpty()

	xdg := filepath.Join(dir, "xdg")
	if err := os.Mkdir(xdg, 0o700); err != nil || os.Chown(xdg, nobody, nobody) != nil {
		t.Fatal(err)
	}
	if out, code := runAsNobody(t, dir, "env", "XDG_RUNTIME_DIR="+xdg, bin, "list"); code != 0 {
		t.Fatalf("runw list with the default root: exit %d, %s", code, out)
	}
	st, err := os.Stat(filepath.Join(xdg, "runw"))
	if err != nil || st.Mode()&os.ModeSticky == 0 || st.Mode().Perm() != 0o700 {
		t.Errorf("$XDG_RUNTIME_DIR/runw: %v, %v; want drwx-----T, as runc's", st.Mode(), err)
	}
}

// TestRootlessDelegatedCgroupV1: a user given a cgroup subtree of every v1
// hierarchy (chowned to it, as an administrator delegates) runs a
// container in it with a pids limit, as under rootless runc; create failed
// writing devices.deny, which only the host's root may write, where runc
// skips the device rules without root.
func TestRootlessDelegatedCgroupV1(t *testing.T) {
	dir, bin := nobodyOnCgroupV1(t, "a cgroup v2 host: no v1 hierarchy to delegate")
	deleg := fmt.Sprintf("runw-test-deleg-%d", os.Getpid())
	for _, mnt := range cgroupMounts(t) {
		d := filepath.Join(mnt, deleg)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(d) })
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(mnt, f)); err == nil {
				if err := os.WriteFile(filepath.Join(d, f), v, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range append(entries, nil) {
			p := d
			if e != nil {
				p = filepath.Join(d, e.Name())
			}
			if err := os.Chown(p, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}
	}
	limit := int64(40)
	b := rootlessBundle(t, dir, bin, func(s *specs.Spec) {
		s.Linux.CgroupsPath = "/" + deleg + "/rl"
		s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
	}, "sleep", "1h")
	asNobody := nobodyRunw(t, dir, bin)
	if out, code := asNobody("run", "-d", "--bundle", b, "rl-deleg"); code != 0 {
		t.Fatalf("run -d in a delegated cgroup: exit %d, %s", code, out)
	}
	defer asNobody("delete", "--force", "rl-deleg")
	pidsDir := filepath.Join("/sys/fs/cgroup/pids", deleg, "rl")
	if max, err := os.ReadFile(filepath.Join(pidsDir, "pids.max")); err != nil || strings.TrimSpace(string(max)) != "40" {
		t.Errorf("pids.max of the container's cgroup: %q, %v; want 40", max, err)
	}
	if procs, err := os.ReadFile(filepath.Join(pidsDir, "cgroup.procs")); err != nil || len(strings.Fields(string(procs))) == 0 {
		t.Errorf("the container's pids cgroup holds %q, %v; want its init", procs, err)
	}
	if out, code := asNobody("delete", "--force", "rl-deleg"); code != 0 {
		t.Errorf("delete --force: exit %d, %s", code, out)
	}
	if _, err := os.Stat(pidsDir); !os.IsNotExist(err) {
		t.Errorf("the container's cgroup after delete: %v, want it gone", err)
	}
}

// cgroupMounts lists the mount points of the host's cgroup hierarchies
// (v1 and v2) from /proc/self/mountinfo.
func cgroupMounts(t *testing.T) []string {
	t.Helper()
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var mnts []string
	for _, line := range strings.Split(string(info), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if fields := strings.Fields(pre); ok && len(fields) > 4 && (strings.HasPrefix(post, "cgroup ") || strings.HasPrefix(post, "cgroup2 ")) {
			mnts = append(mnts, fields[4])
		}
	}
	return mnts
}
