package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// An init that dies before reporting is described by what ended it, so
// the one error line says why (here without a cgroup: signal or status).
func TestDeathOfNamesSignalOrStatus(t *testing.T) {
	for script, want := range map[string]struct {
		death  string
		killed bool
	}{
		"kill -KILL $$": {"killed by signal SIGKILL", true},
		"kill -SEGV $$": {"killed by signal SIGSEGV", false},
		"kill -SYS $$":  {"killed by signal SIGSYS", false},
		"exit 3":        {"exit status 3", false},
	} {
		cmd := exec.Command("sh", "-c", script)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// killed: a SIGKILL (or the OOM killer) is never a filter's,
		// and create's error then gives no seccomp hint.
		if got, killed := deathOf(cmd, ""); got != want.death || killed != want.killed {
			t.Errorf("%s: deathOf = %q, %v; want %q, %v", script, got, killed, want.death, want.killed)
		}
	}
}

// The OOM killer's count is the cgroup's since it was made: an init that
// exits with a status, or dies by another signal, in a cgroup where the
// OOM killer struck before is not blamed on it (it was, whatever ended
// it: an exec'd process after one the OOM killer took).
func TestDeathOfBlamesTheOOMKillerOnlyForAKill(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a cgroup")
	}
	cg := fmt.Sprintf("/runw-test-deathof-%d", time.Now().UnixNano())
	limit := int64(16 << 20)
	m, err := cgroupManager(cg, &cgroups.Resources{Memory: limit, MemorySwap: limit})
	if err != nil {
		t.Skipf("no cgroup manager: %v", err)
	}
	if err := m.Apply(-1); err != nil {
		t.Skipf("cannot make the cgroup %s: %v", cg, err)
	}
	defer m.Destroy()
	if err := m.Set(&cgroups.Resources{Memory: limit, MemorySwap: limit, SkipDevices: true}); err != nil {
		t.Skipf("cannot limit the cgroup's memory: %v", err)
	}
	inCgroup := func(script string) *exec.Cmd {
		cmd := exec.Command("sh", "-c", "read x; "+script)
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := m.Apply(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("go\n"))
		w.Close()
		return cmd
	}
	// A process the OOM killer takes: the count is then 1.
	hog := inCgroup("exec tail /dev/zero")
	if got, killed := deathOf(hog, cg); got != fmt.Sprintf("killed by the OOM killer (cgroup %q is over its memory limit)", cg) || !killed {
		t.Fatalf("a process over the limit: deathOf = %q, %v", got, killed)
	}
	for script, want := range map[string]string{
		"exit 3":        "exit status 3",
		"kill -SYS $$":  "killed by signal SIGSYS",
		"kill -KILL $$": fmt.Sprintf("killed by the OOM killer (cgroup %q is over its memory limit)", cg),
	} {
		if got, _ := deathOf(inCgroup(script), cg); got != want {
			t.Errorf("%s after an OOM kill in the cgroup: deathOf = %q, want %q", script, got, want)
		}
	}
}

// The init's command line shows the guest's arguments, cut before they
// could make argv too long for exec (a guest may have megabytes of them)
// or hold a NUL exec refuses.
func TestInitArgs(t *testing.T) {
	for _, c := range []struct {
		guest []string
		want  string
	}{
		{[]string{"/app.wasm", "serve", "--port", "8080"}, "runw init /app.wasm serve --port 8080"},
		{nil, "runw init"},
		{[]string{"/app.wasm", strings.Repeat("x", maxShownArgs)}, "runw init /app.wasm ..."},
		{[]string{"/app.wasm", "a\x00b", "c"}, "runw init /app.wasm ..."},
	} {
		if got := strings.Join(initArgs(c.guest), " "); got != c.want {
			t.Errorf("initArgs(%.40q) = %.60q, want %q", c.guest, got, c.want)
		}
	}
}

// A pids limit below the init's own threads is refused however it is
// given: linux.resources.pids.limit, or pids.max by name in
// linux.resources.unified (cgroup v2; it crashed the init as it started).
func TestPidsLimitFloorHoldsForUnified(t *testing.T) {
	five, none := int64(5), int64(-1)
	for _, c := range []struct {
		r    *specs.LinuxResources
		fail bool
	}{
		{&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &five}}, true},
		{&specs.LinuxResources{Unified: map[string]string{"pids.max": "5"}}, true},
		{&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &none}, Unified: map[string]string{"pids.max": "5"}}, true},
		{&specs.LinuxResources{Unified: map[string]string{"pids.max": "max"}}, false},
		{&specs.LinuxResources{Unified: map[string]string{"pids.max": "64"}}, false},
		{nil, false},
	} {
		if err := checkPidsLimit(c.r); (err != nil) != c.fail {
			t.Errorf("%+v: %v, want a refusal: %v", c.r, err, c.fail)
		}
	}
}

// The overlay's options as overlayfs reads them: a backslash keeps the
// character after it (a comma too) and is dropped.
func TestOverlayWritable(t *testing.T) {
	for data, want := range map[string][]string{
		"lowerdir=/l,upperdir=/u,workdir=/w":           {"/u", "/w"},
		`lowerdir=/l,upperdir=/x/a\,b/../c,workdir=/w`: {"/x/a,b/../c", "/w"},
		`upperdir=/x/d\isk,workdir=/w`:                 {"/x/disk", "/w"},
		"upperdir=/one,upperdir=/two,workdir=/w":       {"/one", "/two", "/w"},
		"lowerdir=/l":                                  nil,
		`upperdir=/u\\v,workdir=/w`:                    {`/u\v`, "/w"},
	} {
		if got := overlayWritable(data); !slices.Equal(got, want) {
			t.Errorf("overlayWritable(%q) = %q, want %q", data, got, want)
		}
	}
}
