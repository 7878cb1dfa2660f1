package runtime

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

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
