package runtime

import (
	"testing"

	"github.com/runw/runw/state"
)

// TestRequireStatusGivesRuncsTexts pins the texts engines and scripts
// match on: runc 1.1's, verb by verb.
func TestRequireStatusGivesRuncsTexts(t *testing.T) {
	for _, c := range []struct {
		verb, st string
		allowed  []string
		want     string
	}{
		{"start", state.Created, []string{state.Created}, ""},
		{"start", state.Stopped, []string{state.Created}, "cannot start a container that has stopped"},
		{"start", state.Running, []string{state.Created}, "cannot start an already running container"},
		{"start", state.Paused, []string{state.Created}, "cannot start a container in the paused state"},
		{"exec", state.Stopped, []string{state.Running}, "cannot exec in a stopped container"},
		{"exec", state.Paused, []string{state.Running}, "cannot exec in a paused container (use --ignore-paused to override)"},
		{"delete", state.Running, []string{state.Stopped}, "cannot delete container c1 that is not stopped: running"},
		{"pause", state.Stopped, []string{state.Running}, "container not running"},
		{"resume", state.Running, []string{state.Paused}, "container not paused"},
		{"update", state.Stopped, []string{state.Running}, "container not running"},
	} {
		err := requireStatus(c.verb, "c1", c.st, c.allowed...)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s of a %s container: %q, want %q", c.verb, c.st, got, c.want)
		}
	}
}
