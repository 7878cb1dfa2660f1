package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sleeper is a process no command on a planted container may signal.
func sleeper(t *testing.T) (pid int, start uint64) {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	start, err = strconv.ParseUint(fields[22-3], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid, start
}

// plantRecords writes into dir what runw would trust if it trusted dir: a
// state.json of a running container and an aborted create's init.pid,
// both naming pid.
func plantRecords(t *testing.T, dir, bundle string, pid int, start uint64) {
	t.Helper()
	st := map[string]any{
		"ociVersion": "1.0.2", "id": "victim", "bundle": bundle, "rootfs": filepath.Join(bundle, "rootfs"),
		"init_pid": pid, "init_start": start, "started": true,
	}
	data, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, "state.json"), data, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "init.pid"), []byte(fmt.Sprintf("%d %d ", pid, start)), 0o666); err != nil {
		t.Fatal(err)
	}
}

// TestPlantedContainerDirIsRefused plants, at <root>/victim, a symlink to a
// directory of records and a directory made by another user (mode 0777),
// each naming a sleeping process. state, kill, delete (with and without
// --force), start and exec must refuse with one line, and the sleeper and
// the planted files must survive untouched.
func TestPlantedContainerDirIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory owned by another user")
	}
	t.Parallel()
	cases := []struct {
		name  string
		plant func(r *runw, dir string)
		// want is in every refusal; forceOK: delete --force of an id
		// that does not exist succeeds, as under runc.
		want    string
		forceOK bool
	}{
		{"symlink", func(r *runw, dir string) {
			if err := os.Symlink(dir, filepath.Join(r.root, "victim")); err != nil {
				t.Fatal(err)
			}
		}, "container does not exist", true},
		{"foreign directory", func(r *runw, dir string) {
			victim := filepath.Join(r.root, "victim")
			if err := os.Rename(dir, victim); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(victim, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(victim, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, "refusing to use it", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			b := newBundle(t, "probe")
			pid, start := sleeper(t)
			dir := filepath.Join(t.TempDir(), "planted")
			if err := os.Mkdir(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			plantRecords(t, dir, b.dir, pid, start)
			c.plant(r, dir)
			planted := filepath.Join(r.root, "victim")

			for _, args := range [][]string{
				{"state", "victim"},
				{"kill", "victim", "KILL"},
				{"start", "victim"},
				{"exec", "victim", "/probe.wasm"},
				{"delete", "victim"},
				{"delete", "--force", "victim"},
			} {
				res := r.run(args...)
				if args[1] == "--force" && c.forceOK {
					if res.code != 0 {
						t.Errorf("%v: %v, want exit 0 as for any id that does not exist", args, res)
					}
				} else {
					want := 1
					if args[0] == "exec" {
						want = 255 // exec's own failures, as under runc
					}
					if res.code != want {
						t.Errorf("%v: exit %d, want %d (%v)", args, res.code, want, res)
					}
					oneLine(t, strings.Join(args, " "), res.stderr)
					if !strings.Contains(res.stderr, c.want) {
						t.Errorf("%v: stderr %q does not contain %q", args, res.stderr, c.want)
					}
				}
				time.Sleep(20 * time.Millisecond) // a signal would have landed
				if procGone(pid) {
					t.Fatalf("%v killed the process the planted record names", args)
				}
				for _, f := range []string{"state.json", "init.pid"} {
					if _, err := os.Stat(filepath.Join(planted, f)); err != nil {
						t.Fatalf("%v touched the planted %s: %v", args, f, err)
					}
				}
			}
			if c.name == "symlink" {
				if fi, err := os.Lstat(planted); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("the planted symlink was changed: %v", err)
				}
			}
		})
	}
}

// TestForeignStateRootIsRefused: a --root that another user owns, or that
// everyone can write to, could hold containers runw never made; every
// command refuses it with one line.
func TestForeignStateRootIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory owned by another user")
	}
	t.Parallel()
	for name, setup := range map[string]func(string) error{
		"world-writable": func(p string) error { return os.Chmod(p, 0o777) },
		"other owner":    func(p string) error { return os.Chown(p, 65534, 65534) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			if err := setup(r.root); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"state", "x"}, {"list"}, {"delete", "--force", "x"}} {
				res := r.run(args...)
				if res.code != 1 {
					t.Errorf("%v: exit %d, want 1 (%v)", args, res.code, res)
				}
				oneLine(t, strings.Join(args, " "), res.stderr)
				if !strings.Contains(res.stderr, "refusing to use it") {
					t.Errorf("%v: stderr %q, want a refusal of the root", args, res.stderr)
				}
			}
		})
	}
}
