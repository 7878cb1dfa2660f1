package runtime

import (
	"errors"
	"strings"
	"testing"
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
