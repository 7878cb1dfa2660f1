package runtime

import (
	"testing"

	"golang.org/x/sys/unix"
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
