package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReadReportTellsJoinFailures checks that the constructor's failures
// to join a namespace (runtime/nsenter's "join ... namespace" reports)
// come back as joinError, which exec reads as a dead init, and that any
// other report stays the init's own error, word for word.
func TestReadReportTellsJoinFailures(t *testing.T) {
	for _, c := range []struct {
		report string
		join   bool
		want   string
	}{
		{"ready", false, ""},
		{"error: join mount namespace /proc/7/ns/mnt: No such file or directory", true, "join mount namespace /proc/7/ns/mnt: No such file or directory"},
		{"error: join user namespace /proc/7/ns/user: No such process", true, "join user namespace /proc/7/ns/user: No such process"},
		{"error: compile \"/x.wasm\": bad magic", false, "compile \"/x.wasm\": bad magic"},
		{"error: fork into pid namespace : Resource temporarily unavailable", false, "fork into pid namespace : Resource temporarily unavailable"},
	} {
		err := readReport(strings.NewReader(c.report))
		var je *joinError
		if got := errors.As(err, &je); got != c.join {
			t.Errorf("%q: joinError %v, want %v", c.report, got, c.join)
		}
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%q: %q, want %q", c.report, got, c.want)
		}
	}
	if err := readReport(strings.NewReader("")); err != errNoReport {
		t.Errorf("no report: %v, want errNoReport", err)
	}
}

// TestJoiningAGoneNamespaceIsAJoinError: a namespace runw opens itself
// before the spawn (an exec's pid_for_children), gone with its init, is a
// joinError too, which exec reads as a stopped container: an exec racing
// the container's end said "start container init: open namespace
// "/proc/N/ns/pid_for_children": no such file or directory".
func TestJoiningAGoneNamespaceIsAJoinError(t *testing.T) {
	ns := &spawnNS{joins: []nsJoin{{path: "/proc/0/ns/pid_for_children", flag: unix.CLONE_NEWPID}}}
	err := ns.start(exec.Command("true"))
	var je *joinError
	if !errors.As(err, &je) {
		t.Errorf("start with a namespace that is gone: %v, want a joinError", err)
	}
}

// TestForkIntoAnEndedPidNamespaceIsAJoinError: a pid namespace whose init
// has exited, joined while it was still held, gives no pid to a fork
// (ENOMEM): for an exec whose container ended between the join and the
// fork, a join failure too, not "cannot allocate memory".
func TestForkIntoAnEndedPidNamespaceIsAJoinError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a pid namespace")
	}
	unshare := exec.Command("unshare", "--pid", "--fork", "sleep", "100")
	if err := unshare.Start(); err != nil {
		t.Skipf("no unshare: %v", err)
	}
	defer unshare.Process.Kill()
	var inner int
	for deadline := time.Now().Add(5 * time.Second); inner == 0; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", unshare.Process.Pid, unshare.Process.Pid))
		fmt.Sscan(string(b), &inner)
		if time.Now().After(deadline) {
			t.Fatal("unshare started no child")
		}
	}
	held, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", inner))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	unix.Kill(inner, unix.SIGKILL) // the namespace's init; unshare reaps it
	unshare.Wait()
	for deadline := time.Now().Add(5 * time.Second); !procGone(inner); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the namespace's init outlived unshare")
		}
	}
	ns := &spawnNS{joins: []nsJoin{{path: fmt.Sprintf("/proc/self/fd/%d", held.Fd()), flag: unix.CLONE_NEWPID}}}
	err = ns.start(exec.Command("true"))
	var je *joinError
	if !errors.As(err, &je) {
		t.Errorf("fork into an ended pid namespace: %v, want a joinError", err)
	}
}

func procGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || strings.Contains(string(b), ") Z ")
}
