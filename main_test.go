package main

import (
	"errors"
	"strings"
	"testing"
)

// Memory sizes as runc's update takes them (docker's units.RAMInBytes).
func TestRAMInBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"100": 100, "-1": -1, "512k": 512 << 10, "100M": 100 << 20, "1g": 1 << 30, "1GiB": 1 << 30,
		"2gb": 2 << 30, "1.5m": 3 << 19, "64 MiB": 64 << 20,
	} {
		if got, err := ramInBytes(in); err != nil || got != want {
			t.Errorf("ramInBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "ten", "-5", "1x", "1e30g", "nan", "8388608t", "8192p"} {
		if got, err := ramInBytes(in); err == nil {
			t.Errorf("ramInBytes(%q) = %d, want an error", in, got)
		}
	}
}

// Flags after a command's arguments move in front of them, as under runc;
// exec's arguments, global flags and what follows "--" stay as they are.
func TestReorderArgs(t *testing.T) {
	app := newApp()
	for _, c := range []struct{ in, want string }{
		{"runw delete c -f", "runw delete -f c"},
		{"runw --root /r delete c --force", "runw --root /r delete --force c"},
		{"runw create c --bundle B --pid-file p", "runw create --bundle B --pid-file p c"},
		{"runw create c --bundle=B", "runw create --bundle=B c"},
		{"runw kill c KILL --all", "runw kill --all c KILL"},
		{"runw exec c /m.wasm -d --cwd /x", "runw exec c /m.wasm -d --cwd /x"},
		{"runw delete c -- -f", "runw delete c -- -f"},
		{"runw delete -f c", "runw delete -f c"},
		{"runw state c", "runw state c"},
		{"runw ps c -e -f", "runw ps c -e -f"},
		{"runw --root", "runw --root"},
	} {
		if got := strings.Join(reorderArgs(app, strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("%s: got %q, want %q", c.in, got, c.want)
		}
	}
}

// commandArgs replays a handed-off container's command exactly: every
// global flag that takes a value, hidden ones too (--criu), is skipped
// with its value.
func TestCommandArgs(t *testing.T) {
	app := newApp()
	for _, c := range []struct{ in, command, want string }{
		{"runw --criu /x --root /r start c1", "start", "c1"},
		{"runw --root=/r --debug kill c1 TERM", "kill", "c1 TERM"},
		{"runw --log /l --log-format json ls -q", "list", "-q"},
		{"runw --root /r", "state", ""},
	} {
		if got := strings.Join(commandArgs(app, strings.Fields(c.in), c.command), " "); got != c.want {
			t.Errorf("%s: got %q, want %q", c.in, got, c.want)
		}
	}
}

// TestKillAllHelpSaysWhatItDoes: `runw kill --help` called --all
// "accepted", as if it were ignored, while Runtime.Kill signals every
// process in the container's cgroup with it (engines.md).
func TestKillAllHelpSaysWhatItDoes(t *testing.T) {
	for _, cmd := range newApp().Commands {
		if cmd.Name != "kill" {
			continue
		}
		for _, f := range cmd.Flags {
			if !strings.Contains(f.String(), "--all") {
				continue
			}
			if s := f.String(); strings.Contains(s, "accepted") || !strings.Contains(s, "every process") {
				t.Errorf("kill --all: %q", s)
			}
			return
		}
	}
	t.Fatal("no kill --all flag")
}

// oneLine leaves one line of plain text: a newline in an error cannot
// forge a second line, and no control character reaches the terminal or
// log that shows it (wasmtime quotes a module's import names, which an
// image writes: ESC [ 2 J clears an operator's screen).
func TestOneLineEscapesControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"plain: text, tabs\tstay":               "plain: text, tabs\tstay",
		"two\nlines\r\n":                        `two\nlines\r`,
		"unknown import: `evil\x1b[2Jx`":        "unknown import: `evil\\x1b[2Jx`",
		"bell\x07 nul\x00 del\x7f c1-csi\u009b": `bell\x07 nul\x00 del\x7f c1-csi\x9b`,
		"utf-8 stays: é ✓":                      "utf-8 stays: é ✓",
	} {
		if got := oneLine(errors.New(in)); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
