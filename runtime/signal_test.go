package runtime

import (
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/state"
)

// ParseSignal accepts what `runc kill` accepts: a number, or a name with or
// without SIG, in any case.
func TestParseSignal(t *testing.T) {
	good := []struct {
		in   string
		want unix.Signal
	}{
		{"9", unix.SIGKILL},
		{"KILL", unix.SIGKILL},
		{"kill", unix.SIGKILL},
		{"SIGKILL", unix.SIGKILL},
		{"sigterm", unix.SIGTERM},
		{"TERM", unix.SIGTERM},
		{"15", unix.SIGTERM},
		{"USR1", unix.SIGUSR1},
		{"SigHup", unix.SIGHUP},
		{"64", unix.Signal(64)},
		{"0", unix.Signal(0)}, // is the init alive? (kill(2) with no signal)
	}
	for _, c := range good {
		got, err := ParseSignal(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"65", "-9", "FOO", "SIG", "", " 9", "TERM "} {
		if got, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) = %v, want an error", in, got)
		}
	}
}

// The attack signalInit stops: the init died and its pid went to another
// process (here: one started after the recorded start time). A signal by
// pid would kill that stranger; signalInit refuses with ESRCH and the
// stranger lives. The real init, with its real start time, is signalled.
func TestSignalInitNeverReachesAReusedPid(t *testing.T) {
	stranger := exec.Command("sleep", "60")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer stranger.Process.Kill()
	pid := stranger.Process.Pid
	start, err := state.ProcessStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	recorded := &state.Container{InitPid: pid, InitStartTime: start - 1}
	if err := signalInit(recorded, unix.SIGKILL); err != unix.ESRCH {
		t.Errorf("signalInit with another start time: %v, want ESRCH", err)
	}
	if err := unix.Kill(pid, 0); err != nil {
		t.Fatalf("the stranger was signalled: %v", err)
	}
	recorded.InitStartTime = start
	if err := signalInit(recorded, unix.SIGKILL); err != nil {
		t.Fatalf("signalInit of the recorded init: %v", err)
	}
	if err := stranger.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the recorded init was not killed: %v", err)
	}
}
