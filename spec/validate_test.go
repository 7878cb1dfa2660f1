package spec

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Each runtime-spec MUST runw checks refuses its config at Load with one
// line; the wording is runc's where runc has one.
func TestLoadRefusesWhatTheSpecForbids(t *testing.T) {
	zero, neg := 0, -1
	ns := func(nss ...specs.LinuxNamespace) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Linux = &specs.Linux{Namespaces: nss} }
	}
	tests := []struct {
		name string
		mod  func(*specs.Spec)
		want string
	}{
		{"cwd empty", func(s *specs.Spec) { s.Process.Cwd = "" }, "Cwd property must not be empty"},
		{"cwd relative", func(s *specs.Spec) { s.Process.Cwd = "app" }, "Cwd must be an absolute path"},
		{"cwd 100 KB", func(s *specs.Spec) { s.Process.Cwd = "/" + strings.Repeat("a", 100<<10) }, "more than PATH_MAX"},
		{"env without =", func(s *specs.Spec) { s.Process.Env = []string{"PATH=/bin", "FOO"} }, `invalid environment variable: "FOO"`},
		{"NUL in an argument", func(s *specs.Spec) { s.Process.Args = []string{"/app.wasm", "a\x00b"} }, `args[1] "a\x00b": contains a NUL byte`},
		{"uid -1", func(s *specs.Spec) { s.Process.User.UID = 4294967295 }, "uids and gids must be in range 0-2147483647"},
		{"additional gid 2^31", func(s *specs.Spec) { s.Process.User.AdditionalGids = []uint32{1 << 31} }, "uids and gids must be in range 0-2147483647"},
		{"unknown rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS", Hard: 1, Soft: 1}}
		}, `wrong rlimit value: "RLIMIT_BOGUS"`},
		{"unknown namespace", ns(specs.LinuxNamespace{Type: "bogus"}), `namespace {"bogus" ""} does not exist`},
		{"duplicated namespace", ns(specs.LinuxNamespace{Type: "ipc"}, specs.LinuxNamespace{Type: "ipc"}), `malformed spec file: duplicated ns {"ipc" ""}`},
		{"namespace path missing", ns(specs.LinuxNamespace{Type: "network", Path: "/nonexistent"}), `namespace path "/nonexistent": no such file or directory`},
		{"namespace path a regular file", ns(specs.LinuxNamespace{Type: "network", Path: "/etc/hostname"}), `namespace path "/etc/hostname" is not a network namespace`},
		{"namespace path of another type", ns(specs.LinuxNamespace{Type: "network", Path: "/proc/self/ns/ipc"}), `namespace path "/proc/self/ns/ipc" is not a network namespace`},
		{"unknown mount type", func(s *specs.Spec) {
			s.Mounts = []specs.Mount{{Destination: "/a", Type: "bogusfs", Source: "/tmp"}}
		}, `unknown filesystem type "bogusfs": no such device`},
		{"hook timeout 0", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true", Timeout: &zero}}}
		}, "timeout must be greater than zero"},
		{"hook timeout negative", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Timeout: &neg}}}
		}, "timeout must be greater than zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSpec()
			tt.mod(s)
			dir := writeBundle(t, s)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") || len(err.Error()) > 1000 {
				t.Errorf("Load = %.200v, want one short line containing %q", err, tt.want)
			}
		})
	}
}

// What runc accepts, runw accepts: trailing bytes after the JSON value, no
// ociVersion, a relative mount destination (relative to /), a namespace
// path that is a namespace of its type, known mount types.
func TestLoadAcceptsWhatRuncAccepts(t *testing.T) {
	s := baseSpec()
	s.Version = ""
	s.Mounts = []specs.Mount{
		{Destination: "data", Type: "tmpfs"},
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/b", Type: "none", Source: "/tmp", Options: []string{"rbind"}},
	}
	s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: "network", Path: "/proc/self/ns/net"}, {Type: "mount"}}}
	s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}
	dir := writeBundle(t, nil)
	data, _ := json.Marshal(s)
	writeFile(t, filepath.Join(dir, "config.json"), append(data, []byte("\ntrailing garbage {")...))
	b, err := Load(dir)
	if err != nil {
		t.Fatalf("Load = %v, want runc's acceptance", err)
	}
	ms, err := b.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Destination != "/data" || ms[0].Kind != MountTmpfs {
		t.Errorf("relative destination: %+v, want /data as tmpfs", ms[0])
	}
}
