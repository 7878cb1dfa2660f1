package runtime

import (
	"os/exec"
	"testing"
)

// An init that dies before reporting is described by what ended it, so
// the one error line says why (here without a cgroup: signal or status).
func TestDeathOfNamesSignalOrStatus(t *testing.T) {
	for script, want := range map[string]string{
		"kill -KILL $$": "killed by signal SIGKILL",
		"kill -SEGV $$": "killed by signal SIGSEGV",
		"exit 3":        "exit status 3",
	} {
		cmd := exec.Command("sh", "-c", script)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if got := deathOf(cmd, ""); got != want {
			t.Errorf("%s: deathOf = %q, want %q", script, got, want)
		}
	}
}
