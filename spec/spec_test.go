package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	wasmModule    = []byte("\x00asm\x01\x00\x00\x00")
	wasmComponent = []byte("\x00asm\x0d\x00\x01\x00")
	elfHead       = []byte("\x7fELF\x02\x01\x01\x00")
)

// baseSpec is a minimal valid spec with a relative root.
func baseSpec() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: []string{"/app.wasm"}, Cwd: "/"},
	}
}

// writeBundle creates a bundle directory with a rootfs and the given spec
// (nil: no config.json) and returns its path.
func writeBundle(t *testing.T, s *specs.Spec) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if s != nil {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "config.json"), data)
	}
	return dir
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// loadBundle writes s into a fresh bundle and loads it.
func loadBundle(t *testing.T, s *specs.Spec) *Bundle {
	t.Helper()
	b, err := Load(writeBundle(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string // "%s" is replaced by the bundle dir
	}{
		{
			name:  "missing config.json",
			setup: func(t *testing.T, dir string) {},
			want:  "JSON specification file config.json not found",
		},
		{
			name: "malformed JSON",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "config.json"), []byte("{not json"))
			},
			want: "parse config.json: invalid character 'n' looking for beginning of object key string",
		},
		{
			name:  "process nil",
			setup: withSpec(func(s *specs.Spec) { s.Process = nil }),
			want:  "process property must not be empty",
		},
		{
			name:  "args empty",
			setup: withSpec(func(s *specs.Spec) { s.Process.Args = nil }),
			want:  "args must not be empty",
		},
		{
			name:  "root missing",
			setup: withSpec(func(s *specs.Spec) { s.Root = nil }),
			want:  "root must be specified",
		},
		{
			name:  "root path empty",
			setup: withSpec(func(s *specs.Spec) { s.Root.Path = "" }),
			want:  "root must be specified",
		},
		{
			name:  "rootfs missing",
			setup: withSpec(func(s *specs.Spec) { s.Root.Path = "nope" }),
			want:  `invalid rootfs: stat %s/nope: no such file or directory`,
		},
		{
			name: "rootfs not a directory",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "file"), []byte("x"))
				withSpec(func(s *specs.Spec) { s.Root.Path = "file" })(t, dir)
			},
			want: `rootfs ("%s/file") is not a directory`,
		},
		// A root reached through a symlink, refused in runc's words: runw
		// followed the link.
		{
			name: "rootfs a symlink",
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
					t.Fatal(err)
				}
				symlink(t, "real", filepath.Join(dir, "linked"))
				withSpec(func(s *specs.Spec) { s.Root.Path = "linked" })(t, dir)
			},
			want: `invalid rootfs: not an absolute path, or a symlink`,
		},
		{
			name: "absolute rootfs under a symlinked directory",
			setup: func(t *testing.T, dir string) {
				symlink(t, dir, filepath.Join(dir, "up"))
				withSpec(func(s *specs.Spec) { s.Root.Path = filepath.Join(dir, "up", "rootfs") })(t, dir)
			},
			want: `invalid rootfs: not an absolute path, or a symlink`,
		},
		// linux.sysctl, in runc's words: a key only in a namespace of the
		// container's own. A network namespace joined by path that is
		// runw's own is the host's: net.* there would change the host.
		{
			name: "net sysctl in the host's network namespace joined by path",
			setup: withSpec(func(s *specs.Spec) {
				s.Linux = &specs.Linux{
					Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/self/ns/net"}},
					Sysctl:     map[string]string{"net.ipv4.ip_default_ttl": "99"},
				}
			}),
			want: `sysctl "net.ipv4.ip_default_ttl" not allowed in host network namespace`,
		},
		{
			name:  "net sysctl without a network namespace",
			setup: withSpec(func(s *specs.Spec) { s.Linux = &specs.Linux{Sysctl: map[string]string{"net.ipv4.ip_forward": "1"}} }),
			want:  `sysctl "net.ipv4.ip_forward" not allowed in host network namespace`,
		},
		{
			name:  "ipc sysctl without an ipc namespace",
			setup: withSpec(func(s *specs.Spec) { s.Linux = &specs.Linux{Sysctl: map[string]string{"kernel.shmmax": "1"}} }),
			want:  `sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace`,
		},
		{
			name: "kernel.hostname beside the hostname field",
			setup: withSpec(func(s *specs.Spec) {
				s.Linux = &specs.Linux{
					Namespaces: []specs.LinuxNamespace{{Type: specs.UTSNamespace}},
					Sysctl:     map[string]string{"kernel.hostname": "x"},
				}
			}),
			want: `sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field`,
		},
		// A soft limit above the hard one, refused in runc's words (its
		// init's setrlimit: RLIMIT_NOFILE is type 7): runw raised the
		// hard limit to the soft one and ran the container.
		{
			name: "an rlimit whose soft limit is above its hard one",
			setup: withSpec(func(s *specs.Spec) {
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Hard: 0, Soft: 0}, {Type: "RLIMIT_NOFILE", Hard: 10, Soft: 100}}
			}),
			want: `error setting rlimit type 7: invalid argument`,
		},
		// What runc's specconv refuses, in its words.
		{
			name:  "a rootfsPropagation runc does not know",
			setup: withSpec(func(s *specs.Spec) { s.Linux = &specs.Linux{RootfsPropagation: "bogus"} }),
			want:  `rootfsPropagation=bogus is not supported`,
		},
		{
			name:  "a device of no type runc knows",
			setup: withSpec(func(s *specs.Spec) { s.Linux = &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}}} }),
			want:  `invalid device type "z"`,
		},
		// runw applies no Intel RDT: a schema asked for is refused as
		// runc refuses it on a host without RDT, not dropped.
		{
			name:  "an Intel RDT cache schema",
			setup: withSpec(func(s *specs.Spec) { s.Linux = &specs.Linux{IntelRdt: &specs.LinuxIntelRdt{L3CacheSchema: "L3:0=ff"}} }),
			want:  `intelRdt.l3CacheSchema is specified in config, but Intel RDT/CAT is not enabled`,
		},
		{
			name:  "an Intel RDT memory bandwidth schema",
			setup: withSpec(func(s *specs.Spec) { s.Linux = &specs.Linux{IntelRdt: &specs.LinuxIntelRdt{MemBwSchema: "MB:0=50"}} }),
			want:  `intelRdt.memBwSchema is specified in config, but Intel RDT/MBA is not enabled`,
		},
		{
			name:  "an Intel RDT class of service outside resctrl",
			setup: withSpec(func(s *specs.Spec) { s.Linux = &specs.Linux{IntelRdt: &specs.LinuxIntelRdt{ClosID: "../x"}} }),
			want:  `invalid intelRdt.ClosID "../x"`,
		},
		{
			name:  "a filesystem runw does not grant",
			setup: withSpec(func(s *specs.Spec) { s.Mounts = []specs.Mount{{Destination: "/m", Type: "ramfs", Source: "ramfs"}} }),
			want:  `error mounting "ramfs" to rootfs at "/m": runw does not mount a ramfs filesystem for a guest (binds, tmpfs and overlays only)`,
		},
		{
			name:  "a mount of no type that is no bind",
			setup: withSpec(func(s *specs.Spec) { s.Mounts = []specs.Mount{{Destination: "/m", Type: "none", Source: "x"}} }),
			want:  `error mounting "x" to rootfs at "/m": no such device`,
		},
		{
			name:  "a sysctl no namespace holds",
			setup: withSpec(func(s *specs.Spec) { s.Linux = &specs.Linux{Sysctl: map[string]string{"vm.swappiness": "1"}} }),
			want:  `sysctl "vm.swappiness" is not in a separate kernel namespace`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeBundle(t, nil)
			tt.setup(t, dir)
			_, err := Load(dir)
			want := strings.ReplaceAll(tt.want, "%s", dir)
			if err == nil || err.Error() != want {
				t.Fatalf("Load error = %v, want %q", err, want)
			}
		})
	}
}

// withSpec returns a setup that writes baseSpec modified by mod.
func withSpec(mod func(*specs.Spec)) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		s := baseSpec()
		mod(s)
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "config.json"), data)
	}
}

// An AppArmor profile or SELinux label (process or mount) the host cannot
// apply is refused in runc's words (runc 1.1 fails on each on such a
// host); the container ran unconfined by them without a word.
func TestSecurityModulesTheHostLacks(t *testing.T) {
	for _, c := range []struct {
		module, file, want string
		set                func(*specs.Spec)
	}{
		{"AppArmor", "/sys/module/apparmor/parameters/enabled", "unable to apply apparmor profile", func(s *specs.Spec) { s.Process.ApparmorProfile = "containers-default" }},
		{"SELinux", "/sys/fs/selinux/enforce", "selinux label is specified in config, but selinux is disabled or not supported", func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }},
		// runc fails such a create on its first mount (context=: EINVAL).
		{"SELinux", "/sys/fs/selinux/enforce", "selinux mount label is specified in config, but selinux is disabled or not supported", func(s *specs.Spec) {
			s.Linux = &specs.Linux{MountLabel: "system_u:object_r:container_file_t:s0"}
		}},
	} {
		if lsmEnabled(c.file) {
			t.Logf("this host has %s: a spec naming it is not refused", c.module)
			continue
		}
		dir := t.TempDir()
		withSpec(c.set)(t, dir)
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s named on a host without it: %v, want %q", c.module, err, c.want)
		}
	}
}

func TestLoadRelativeRoot(t *testing.T) {
	dir := writeBundle(t, baseSpec())
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Dir != dir || b.Rootfs != filepath.Join(dir, "rootfs") {
		t.Fatalf("Dir=%q Rootfs=%q", b.Dir, b.Rootfs)
	}
	if b.Spec.Process.Args[0] != "/app.wasm" {
		t.Fatalf("spec not decoded: %+v", b.Spec.Process)
	}
}

func TestLoadAbsoluteRoot(t *testing.T) {
	other := t.TempDir()
	s := baseSpec()
	s.Root.Path = other + "/./"
	b := loadBundle(t, s)
	if b.Rootfs != other {
		t.Fatalf("Rootfs=%q, want %q", b.Rootfs, other)
	}
}

// A bundle named through a symlink, with a relative root, loads, as runc
// loads it: the root is joined to the bundle's real directory.
func TestLoadBundleThroughSymlink(t *testing.T) {
	dir := writeBundle(t, baseSpec())
	link := filepath.Join(t.TempDir(), "bundle")
	symlink(t, dir, link)
	b, err := Load(link)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rootfs != filepath.Join(dir, "rootfs") {
		t.Fatalf("Rootfs=%q, want %q", b.Rootfs, filepath.Join(dir, "rootfs"))
	}
}

func TestLoadRelativeDir(t *testing.T) {
	dir := writeBundle(t, baseSpec())
	t.Chdir(filepath.Dir(dir))
	b, err := Load(filepath.Base(dir))
	if err != nil {
		t.Fatal(err)
	}
	if b.Dir != dir || b.Rootfs != filepath.Join(dir, "rootfs") {
		t.Fatalf("Dir=%q Rootfs=%q", b.Dir, b.Rootfs)
	}
}

// TestDescribe: a refusal says what the file is rather than "unknown".
func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		head []byte
		want string
	}{
		{nil, "an empty file"},
		{[]byte("\x00asm\x01\x00"), "a WebAssembly header cut short (unexpected end of file)"},
		{[]byte("\x00asm\x02\x00\x00\x00"), "unknown binary version: 0x2"},
		{[]byte("\x00asm\x01\x00\x00\x00"), "a WebAssembly module"},
		{[]byte("\x00asm\x0d\x00\x01\x00"), "a WebAssembly component"},
		{[]byte("(module)"), "WebAssembly text"},
		{[]byte("\x7fELF\x02\x01"), "a native executable (ELF)"},
		{[]byte("#!/bin/sh\n"), "a script (#!)"},
		{[]byte("\x1f\x8b\x08\x00"), "a gzip file: decompress it"},
		{[]byte("\xef\xbb\xbf(module)"), "text that begins with a byte-order mark, which the WebAssembly text format does not allow"},
		{[]byte("hello world"), "neither the WebAssembly binary format (magic header not detected) nor its text format"},
	} {
		if got := Describe(c.head); got != c.want {
			t.Errorf("Describe(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want Kind
	}{
		{"module", append(append([]byte{}, wasmModule...), 0x01, 0x04), KindModule},
		{"module exactly 8 bytes", wasmModule, KindModule},
		{"component", append(append([]byte{}, wasmComponent...), 0x00), KindComponent},
		{"wasm magic other version", []byte("\x00asm\x02\x00\x00\x00"), KindUnknown},
		{"wasm magic short", []byte("\x00asm\x01\x00"), KindUnknown},
		{"wat", []byte("(module)"), KindWAT},
		{"wat with name", []byte("(module $m (func))"), KindWAT},
		{"wat truncated after keyword", []byte("(module"), KindWAT},
		{"wat leading whitespace", []byte(" \t\r\n\n(module\n)"), KindWAT},
		{"wat line comments", []byte(";; hello\n  ;; world\n(module)"), KindWAT},
		{"wat block comment", []byte("(; a ;)(module)"), KindWAT},
		{"wat nested block comment", []byte("(; a (; b ;) c ;)\n(module)"), KindWAT},
		{"wat mixed comments", []byte("\n;; x\n(; y\n;)\t;;z\n (module (func))"), KindWAT},
		{"wat unterminated block comment", []byte("(; (module)"), KindUnknown},
		{"wat unterminated line comment", []byte(";; (module)"), KindUnknown},
		{"not module keyword", []byte("(modules)"), KindUnknown},
		{"component text", []byte("(component)"), KindWATComponent},
		{"component text after comments", []byte(";; c\n(; d ;) (component $c (core module))"), KindWATComponent},
		{"not component keyword", []byte("(components)"), KindUnknown},
		{"bare module fields", []byte("(func (export \"_start\"))"), KindWAT},
		{"bare module fields after comments", []byte(";; m\n(memory 1)\n(func)"), KindWAT},
		{"bare type field", []byte("(type (func))"), KindWAT},
		{"not a field keyword", []byte("(functions)"), KindUnknown},
		{"ELF", elfHead, KindNative},
		{"ELF short", []byte("\x7fELF"), KindNative},
		{"shebang", []byte("#!/bin/sh\necho hi\n"), KindNative},
		{"shebang short", []byte("#!"), KindNative},
		{"random", []byte("\x12\x34\x56\x78\x9a\xbc\xde\xf0hello"), KindUnknown},
		{"plain text", []byte("hello world"), KindUnknown},
		{"empty", nil, KindUnknown},
		{"one byte", []byte{0}, KindUnknown},
		{"short ELF prefix", []byte("\x7fEL"), KindUnknown},
		{"single hash", []byte("#"), KindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sniff(tt.head); got != tt.want {
				t.Fatalf("Sniff(%q) = %v, want %v", tt.head, got, tt.want)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{
		KindUnknown: "unknown", KindModule: "module", KindComponent: "component",
		KindWAT: "wat", KindNative: "native", KindWATComponent: "wat component", Kind(42): "Kind(42)",
	}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), s)
		}
	}
}

func TestHandlerFor(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		want Handler
	}{
		{"nil", nil, HandlerAuto},
		{"empty", map[string]string{}, HandlerAuto},
		{"unrelated", map[string]string{"io.kubernetes.cri.container-type": "container"}, HandlerAuto},
		{"handler wasm", map[string]string{"run.oci.handler": "wasm"}, HandlerWasm},
		{"handler wasm-smart", map[string]string{"run.oci.handler": "wasm-smart"}, HandlerWasmSmart},
		{"variant compat", map[string]string{"module.wasm.image/variant": "compat"}, HandlerWasm},
		{"variant compat-smart", map[string]string{"module.wasm.image/variant": "compat-smart"}, HandlerWasmSmart},
		{"handler unknown", map[string]string{"run.oci.handler": "krun"}, HandlerAuto},
		{"handler wrong case", map[string]string{"run.oci.handler": "WASM"}, HandlerAuto},
		{"handler with variant value", map[string]string{"run.oci.handler": "compat"}, HandlerAuto},
		{"variant unknown", map[string]string{"module.wasm.image/variant": "native"}, HandlerAuto},
		{"variant with handler value", map[string]string{"module.wasm.image/variant": "wasm"}, HandlerAuto},
		{"handler beats variant", map[string]string{"run.oci.handler": "wasm-smart", "module.wasm.image/variant": "compat"}, HandlerWasmSmart},
		{"unknown handler falls back to variant", map[string]string{"run.oci.handler": "krun", "module.wasm.image/variant": "compat"}, HandlerWasm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HandlerFor(tt.ann); got != tt.want {
				t.Fatalf("HandlerFor(%v) = %v, want %v", tt.ann, got, tt.want)
			}
		})
	}
}

func TestIsWasm(t *testing.T) {
	tests := []struct {
		h     Handler
		guest string
		kind  Kind
		want  bool
	}{
		{HandlerAuto, "/app", KindModule, true},
		{HandlerAuto, "/app", KindComponent, true},
		{HandlerAuto, "/app.wat", KindWAT, true},
		{HandlerAuto, "/app.wasm", KindNative, false},
		{HandlerAuto, "/app.wasm", KindUnknown, false},
		{HandlerWasm, "/app", KindModule, true},
		{HandlerWasm, "/app", KindComponent, true},
		{HandlerWasm, "/app", KindWAT, true},
		{HandlerWasm, "/app", KindUnknown, true},
		{HandlerWasm, "/app.wasm", KindNative, false},
		{HandlerWasmSmart, "/app.wasm", KindModule, true},
		{HandlerWasmSmart, "/app.wasm", KindComponent, true},
		{HandlerWasmSmart, "/app.wat", KindWAT, true},
		{HandlerWasmSmart, "/app", KindModule, false},
		{HandlerWasmSmart, "/app.wasm.bak", KindModule, false},
		{HandlerWasmSmart, "/app.wasm", KindUnknown, false},
		{HandlerWasmSmart, "/app.wasm", KindNative, false},
	}
	for _, tt := range tests {
		ep := &Entrypoint{GuestPath: tt.guest, HostPath: "/x", Kind: tt.kind}
		if got := IsWasm(tt.h, ep); got != tt.want {
			t.Errorf("IsWasm(%v, %s %v) = %v, want %v", tt.h, tt.guest, tt.kind, got, tt.want)
		}
	}
	if IsWasm(HandlerWasm, nil) {
		t.Error("IsWasm(nil entrypoint) = true")
	}
}

// entrypoint loads a bundle whose process is proc, after populate has
// filled the rootfs, and resolves its entrypoint.
func entrypoint(t *testing.T, s *specs.Spec, populate func(rootfs string)) (*Bundle, *Entrypoint, error) {
	t.Helper()
	dir := writeBundle(t, s)
	populate(filepath.Join(dir, "rootfs"))
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := b.Entrypoint()
	return b, ep, err
}

func specWith(args []string, cwd string, env []string) *specs.Spec {
	s := baseSpec()
	s.Process = &specs.Process{Args: args, Cwd: cwd, Env: env}
	return s
}

func TestEntrypointResolution(t *testing.T) {
	tests := []struct {
		name      string
		spec      *specs.Spec
		populate  func(t *testing.T, rootfs string)
		wantGuest string
		wantHost  string // relative to rootfs
		wantKind  Kind
		// wantContent is Describe's words, for a file that is no
		// WebAssembly.
		wantContent string
	}{
		{
			name: "absolute path",
			spec: specWith([]string{"/app/hello.wasm", "x"}, "/", nil),
			populate: func(t *testing.T, r string) {
				writeFile(t, r+"/app/hello.wasm", wasmModule)
			},
			wantGuest: "/app/hello.wasm", wantHost: "app/hello.wasm", wantKind: KindModule,
		},
		{
			name: "relative path with cwd",
			spec: specWith([]string{"./hello.wat"}, "/app", nil),
			populate: func(t *testing.T, r string) {
				writeFile(t, r+"/app/hello.wat", []byte(";; hi\n(module)"))
			},
			wantGuest: "/app/hello.wat", wantHost: "app/hello.wat", wantKind: KindWAT,
		},
		{
			name: "relative path with dotdot",
			spec: specWith([]string{"../bin/c.wasm"}, "/app", nil),
			populate: func(t *testing.T, r string) {
				writeFile(t, r+"/bin/c.wasm", wasmComponent)
				os.MkdirAll(r+"/app", 0o755)
			},
			wantGuest: "/bin/c.wasm", wantHost: "bin/c.wasm", wantKind: KindComponent,
		},
		{
			name: "relative path from /",
			spec: specWith([]string{"app/x"}, "/", nil),
			populate: func(t *testing.T, r string) {
				writeFile(t, r+"/app/x", elfHead)
			},
			wantGuest: "/app/x", wantHost: "app/x", wantKind: KindNative, wantContent: "a native executable (ELF)",
		},
		{
			name: "bare name via PATH from env",
			spec: specWith([]string{"hello"}, "/", []string{"HOME=/", "PATH=/nope:/opt/bin:/usr/bin"}),
			populate: func(t *testing.T, r string) {
				os.MkdirAll(r+"/opt/bin/hello", 0o755) // a directory does not count
				writeFile(t, r+"/usr/bin/hello", wasmModule)
				writeFile(t, r+"/bin/hello", elfHead) // not in this PATH
			},
			wantGuest: "/usr/bin/hello", wantHost: "usr/bin/hello", wantKind: KindModule,
		},
		{
			name: "bare name last PATH wins",
			spec: specWith([]string{"hello"}, "/", []string{"PATH=/usr/bin", "PATH=/opt/bin"}),
			populate: func(t *testing.T, r string) {
				writeFile(t, r+"/usr/bin/hello", elfHead)
				writeFile(t, r+"/opt/bin/hello", wasmModule)
			},
			wantGuest: "/opt/bin/hello", wantHost: "opt/bin/hello", wantKind: KindModule,
		},
		{
			name: "bare name via default PATH",
			spec: specWith([]string{"hello"}, "/", []string{"HOME=/"}),
			populate: func(t *testing.T, r string) {
				writeFile(t, r+"/bin/hello", wasmModule)
				writeFile(t, r+"/usr/bin/hello", elfHead) // earlier in the default PATH
			},
			wantGuest: "/usr/bin/hello", wantHost: "usr/bin/hello", wantKind: KindNative, wantContent: "a native executable (ELF)",
		},
		{
			name: "bare name falls back to cwd",
			spec: specWith([]string{"hello.wasm"}, "/app", nil),
			populate: func(t *testing.T, r string) {
				writeFile(t, r+"/app/hello.wasm", wasmModule)
			},
			wantGuest: "/app/hello.wasm", wantHost: "app/hello.wasm", wantKind: KindModule,
		},
		{
			name: "symlink inside rootfs is followed inside rootfs",
			spec: specWith([]string{"/usr/bin/app"}, "/", nil),
			populate: func(t *testing.T, r string) {
				writeFile(t, r+"/opt/app.wasm", wasmModule)
				symlink(t, "/opt/app.wasm", r+"/usr/bin/app")
			},
			wantGuest: "/usr/bin/app", wantHost: "opt/app.wasm", wantKind: KindModule,
		},
		{
			name: "symlinked directory in PATH",
			spec: specWith([]string{"app"}, "/", []string{"PATH=/bin"}),
			populate: func(t *testing.T, r string) {
				writeFile(t, r+"/usr/bin/app", wasmModule)
				symlink(t, "usr/bin", r+"/bin")
			},
			wantGuest: "/bin/app", wantHost: "usr/bin/app", wantKind: KindModule,
		},
		{
			name: "empty file",
			spec: specWith([]string{"/empty"}, "/", nil),
			populate: func(t *testing.T, r string) {
				writeFile(t, r+"/empty", nil)
			},
			wantGuest: "/empty", wantHost: "empty", wantKind: KindUnknown, wantContent: "an empty file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ep, err := entrypoint(t, tt.spec, func(r string) { tt.populate(t, r) })
			if err != nil {
				t.Fatal(err)
			}
			checkEntrypoint(t, ep, Entrypoint{GuestPath: tt.wantGuest, HostPath: filepath.Join(b.Rootfs, tt.wantHost), Kind: tt.wantKind, Content: tt.wantContent})
		})
	}
}

func TestEntrypointErrors(t *testing.T) {
	tests := []struct {
		name     string
		spec     *specs.Spec
		populate func(t *testing.T, rootfs string)
		want     string
	}{
		{
			name:     "bare name not found",
			spec:     specWith([]string{"hello"}, "/", []string{"PATH=/bin"}),
			populate: func(t *testing.T, r string) { writeFile(t, r+"/usr/bin/hello", wasmModule) },
			want:     `exec: "hello": executable file not found in $PATH`,
		},
		{
			name:     "absolute path not found",
			spec:     specWith([]string{"/app/hello.wasm"}, "/", nil),
			populate: func(t *testing.T, r string) {},
			want:     `"/app/hello.wasm": no such file or directory`,
		},
		{
			name:     "relative path not found",
			spec:     specWith([]string{"./hello.wasm"}, "/app", nil),
			populate: func(t *testing.T, r string) {},
			want:     `"/app/hello.wasm": no such file or directory`,
		},
		{
			// runc: exec: "/busybox/x": stat /busybox/x: not a directory.
			name:     "parent is a file",
			spec:     specWith([]string{"/app/hello.wasm"}, "/", nil),
			populate: func(t *testing.T, r string) { writeFile(t, r+"/app", wasmModule) },
			want:     `"/app/hello.wasm": not a directory`,
		},
		{
			// runc: exec: "/busybox/": stat /busybox/: not a directory.
			name:     "file named with a trailing slash",
			spec:     specWith([]string{"/app/hello.wasm/"}, "/", nil),
			populate: func(t *testing.T, r string) { writeFile(t, r+"/app/hello.wasm", wasmModule) },
			want:     `exec: "/app/hello.wasm/": stat /app/hello.wasm/: not a directory`,
		},
		{
			name:     "directory",
			spec:     specWith([]string{"/app"}, "/", nil),
			populate: func(t *testing.T, r string) { os.MkdirAll(r+"/app", 0o755) },
			want:     `exec: "/app": permission denied`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ep, err := entrypoint(t, tt.spec, func(r string) { tt.populate(t, r) })
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Entrypoint() = %+v, %v; want error %q", ep, err, tt.want)
			}
		})
	}

	_, _, err := entrypoint(t, specWith([]string{"hello"}, "/", nil), func(string) {})
	if !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("bare name error %v is not exec.ErrNotFound", err)
	}
	_, _, err = entrypoint(t, specWith([]string{"/hello"}, "/", nil), func(string) {})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("path error %v is not fs.ErrNotExist", err)
	}
}

func TestEntrypointThroughBindMount(t *testing.T) {
	src := t.TempDir()
	writeFile(t, src+"/hello.wasm", wasmModule)
	fileSrc := filepath.Join(t.TempDir(), "single.wasm")
	writeFile(t, fileSrc, wasmComponent)

	s := specWith([]string{"/app/hello.wasm"}, "/", nil)
	s.Mounts = []specs.Mount{
		{Destination: "/app", Type: "bind", Source: src, Options: []string{"ro"}},
		{Destination: "/single.wasm", Source: fileSrc, Options: []string{"rbind"}},
	}
	dir := writeBundle(t, s)
	// The rootfs has its own /app/hello.wasm, shadowed by the mount.
	writeFile(t, dir+"/rootfs/app/hello.wasm", elfHead)
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := b.Entrypoint()
	if err != nil {
		t.Fatal(err)
	}
	checkEntrypoint(t, ep, Entrypoint{GuestPath: "/app/hello.wasm", HostPath: filepath.Join(src, "hello.wasm"), Kind: KindModule})

	b.Spec.Process.Args = []string{"single.wasm"}
	ep, err = b.Entrypoint()
	if err != nil {
		t.Fatal(err)
	}
	checkEntrypoint(t, ep, Entrypoint{GuestPath: "/single.wasm", HostPath: fileSrc, Kind: KindComponent})
}

// checkEntrypoint compares ep with want, and checks that ep's handle is
// the file at want.HostPath; it closes ep.
func checkEntrypoint(t *testing.T, ep *Entrypoint, want Entrypoint) {
	t.Helper()
	defer ep.Close()
	got := *ep
	got.File = nil
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	hfi, err := ep.File.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(want.HostPath); err != nil || !os.SameFile(fi, hfi) {
		t.Fatalf("the handle is not the file at %s (%v)", want.HostPath, err)
	}
}

// TestEntrypointHandleOutlivesASwap is the race runw exec runs against a
// live guest: once the module is looked up, a directory on its host path
// is swapped for a link to the host's /etc. Whatever reads the module
// afterwards reads it through the lookup's handle, which still names the
// guest's file; a read by host path would now reach the host.
func TestEntrypointHandleOutlivesASwap(t *testing.T) {
	dir := writeBundle(t, baseSpec())
	r := dir + "/rootfs"
	writeFile(t, r+"/app/app.wasm", wasmModule)
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Spec.Process.Args = []string{"/app/app.wasm"}
	ep, err := b.Entrypoint()
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	host := t.TempDir()
	writeFile(t, host+"/app.wasm", elfHead)
	if err := os.Rename(r+"/app", r+"/old"); err != nil {
		t.Fatal(err)
	}
	symlink(t, host, r+"/app")
	if fi, err := os.Stat(ep.HostPath); err != nil || fi.Size() != int64(len(elfHead)) {
		t.Fatalf("the swap did not reroute the host path: %v", err)
	}
	got, err := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", ep.File.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(wasmModule) {
		t.Fatalf("read %q through the handle, want the guest's module", got)
	}
}

func TestResolveGuestMounts(t *testing.T) {
	outer, inner, rel := t.TempDir(), t.TempDir(), t.TempDir()
	s := baseSpec()
	s.Mounts = []specs.Mount{
		{Destination: "/data", Type: "bind", Source: outer},
		{Destination: "/data/sub/", Type: "none", Source: inner, Options: []string{"rbind", "rw"}},
		// A relative destination, as runc still accepts: under "/".
		{Destination: "apps", Type: "bind", Source: rel},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
	}
	b := loadBundle(t, s)
	tests := map[string]string{
		"/data":          outer,
		"/data/x":        filepath.Join(outer, "x"),
		"/data/sub":      inner,
		"/data/sub/y/z":  filepath.Join(inner, "y/z"),
		"/data/subway":   filepath.Join(outer, "subway"),
		"/database":      filepath.Join(b.Rootfs, "database"),
		"/tmp/a":         filepath.Join(b.Rootfs, "tmp/a"),
		"/":              b.Rootfs,
		"/data/../etc/x": filepath.Join(b.Rootfs, "etc/x"),
		"/apps/app.wasm": filepath.Join(rel, "app.wasm"),
	}
	for p, want := range tests {
		got, err := b.ResolveGuest(p)
		if err != nil || got != want {
			t.Errorf("ResolveGuest(%q) = %q, %v; want %q", p, got, err, want)
		}
	}
	if _, err := b.ResolveGuest("relative/path"); err == nil {
		t.Error("ResolveGuest accepted a relative path")
	}
}

func TestResolveGuestSymlinkLoop(t *testing.T) {
	dir := writeBundle(t, baseSpec())
	symlink(t, "b", dir+"/rootfs/a")
	symlink(t, "a", dir+"/rootfs/b")
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.ResolveGuest("/a"); err == nil {
		t.Fatalf("ResolveGuest(loop) = %q, want error", got)
	}
}

// TestAttackSymlinksStayInRootfs plays a malicious image that ships symlinks
// pointing at host files. The host's /etc/passwd exists, so any escape would
// make Entrypoint succeed; instead every path must land inside the rootfs,
// where nothing exists.
func TestAttackSymlinksStayInRootfs(t *testing.T) {
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Skip("host has no /etc/passwd to attack")
	}
	src := t.TempDir()
	s := baseSpec()
	s.Mounts = []specs.Mount{{Destination: "/vol", Type: "bind", Source: src}}
	dir := writeBundle(t, s)
	r := dir + "/rootfs"
	symlink(t, "/etc/passwd", r+"/app.wasm")
	symlink(t, "../../../../../../../../etc/passwd", r+"/app/rel.wasm")
	symlink(t, "../../../../../../../../", r+"/up")
	symlink(t, "/etc/passwd", src+"/vol.wasm")
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantHost := filepath.Join(b.Rootfs, "etc/passwd")

	for _, args0 := range []string{
		"/app.wasm",
		"app.wasm", // bare name: PATH, then cwd
		"/app/rel.wasm",
		"/../../etc/passwd",
		"../../../etc/passwd",
		"/up/etc/passwd",
		"/vol/vol.wasm", // symlink inside a bind source
	} {
		t.Run(args0, func(t *testing.T) {
			b.Spec.Process.Args = []string{args0}
			ep, err := b.Entrypoint()
			if err == nil {
				t.Fatalf("Entrypoint() = %+v: escaped the rootfs", *ep)
			}
			if !strings.Contains(err.Error(), "no such file or directory") && !strings.Contains(err.Error(), "executable file not found") {
				t.Fatalf("unexpected error %v", err)
			}
		})
	}

	for _, p := range []string{"/app.wasm", "/app/rel.wasm", "/../../etc/passwd", "/up/etc/passwd", "/vol/vol.wasm"} {
		got, err := b.ResolveGuest(p)
		if err != nil {
			t.Fatalf("ResolveGuest(%q): %v", p, err)
		}
		if got != wantHost {
			t.Errorf("ResolveGuest(%q) = %q, want %q", p, got, wantHost)
		}
	}

	// Once the rootfs has its own /etc/passwd, that one is what is read.
	writeFile(t, r+"/etc/passwd", wasmModule)
	b.Spec.Process.Args = []string{"/app.wasm"}
	ep, err := b.Entrypoint()
	if err != nil {
		t.Fatal(err)
	}
	if ep.HostPath != wantHost || ep.Kind != KindModule {
		t.Fatalf("got %+v, want the rootfs's own etc/passwd", *ep)
	}
}

func TestMountsPodmanLike(t *testing.T) {
	dataDir, cacheDir := t.TempDir(), t.TempDir()
	hosts := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, hosts, []byte("127.0.0.1 localhost\n"))
	s := baseSpec()
	s.Mounts = []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/tmp/", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "rprivate", "nosuid", "nodev"}},
		{Destination: "/data", Type: "bind", Source: dataDir, Options: []string{"ro", "rprivate", "rbind"}},
		{Destination: "/cache", Type: "bind", Source: cacheDir, Options: []string{"rbind", "rw"}},
		{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"bind", "rprivate"}},
	}
	got, err := loadBundle(t, s).Mounts()
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{Destination: "/proc", Source: "proc", Kind: MountIgnored},
		{Destination: "/dev", Source: "", Kind: MountTmpfs, TmpfsData: "mode=755,size=65536k"},
		{Destination: "/dev/pts", Source: "devpts", Kind: MountIgnored, MountPoint: true},
		{Destination: "/sys", Source: "sysfs", ReadOnly: true, Kind: MountIgnored, MountPoint: true},
		{Destination: "/sys/fs/cgroup", Source: "cgroup", ReadOnly: true, Kind: MountIgnored},
		{Destination: "/dev/mqueue", Source: "mqueue", Kind: MountIgnored, MountPoint: true},
		{Destination: "/dev/shm", Source: "", Kind: MountTmpfs, TmpfsData: "mode=1777,size=65536k"},
		{Destination: "/tmp", Source: "", Kind: MountTmpfs},
		{Destination: "/data", Source: dataDir, ReadOnly: true, Kind: MountBind},
		{Destination: "/cache", Source: cacheDir, Kind: MountBind},
		{Destination: "/etc/hosts", Source: hosts, Kind: MountBindFile, Shallow: true}, // podman binds it with "bind"
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Mounts() =\n%+v\nwant\n%+v", got, want)
	}
	s.Mounts = []specs.Mount{{Destination: "/ov", Type: "overlay", Source: "overlay", Options: []string{"upperdir=/u"}}}
	if _, err := loadBundle(t, s).Mounts(); err == nil || !strings.Contains(err.Error(), "lowerdir") {
		t.Errorf("an overlay without lowerdir: %v", err)
	}
}

func TestMountsOther(t *testing.T) {
	s := baseSpec()
	s.Mounts = []specs.Mount{
		// Relative bind source: relative to the bundle directory.
		{Destination: "/vol", Type: "bind", Source: "rootfs"},
		// ro/rw: the last one wins.
		{Destination: "/a", Type: "tmpfs", Options: []string{"ro", "rw"}},
		{Destination: "/b", Type: "tmpfs", Options: []string{"rw", "ro"}},
		{Destination: "/c", Type: "tmpfs", Options: []string{"ro", "rw", "nosuid", "ro"}},
		// A bind into /dev is never exposed, even with a missing source.
		{Destination: "/dev/null", Type: "bind", Source: "/does/not/exist"},
		// The host's /dev is never exposed.
		{Destination: "/mnt", Type: "devtmpfs", Source: "devtmpfs"},
		// An overlay keeps its filesystem options, not its flags.
		{Destination: "/ov", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/l", "private", "upperdir=/u", "ro", "workdir=/w", "userxattr"}},
		{Destination: "/sysroot", Type: "tmpfs"},
	}
	b := loadBundle(t, s)
	got, err := b.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{Destination: "/vol", Source: b.Rootfs, Kind: MountBind},
		{Destination: "/a", Kind: MountTmpfs},
		{Destination: "/b", ReadOnly: true, Kind: MountTmpfs},
		{Destination: "/c", ReadOnly: true, Kind: MountTmpfs},
		{Destination: "/dev/null", Source: "/does/not/exist", Kind: MountIgnored},
		{Destination: "/mnt", Source: "devtmpfs", Kind: MountIgnored},
		{Destination: "/ov", ReadOnly: true, Kind: MountOverlay, Source: "overlay", OverlayData: "lowerdir=/l,upperdir=/u,workdir=/w,userxattr"},
		{Destination: "/sysroot", Kind: MountTmpfs},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Mounts() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestMountsErrors(t *testing.T) {
	tests := []struct {
		name  string
		mount specs.Mount
		want  string // "%s" is replaced by the bundle dir
	}{
		{
			name:  "missing absolute bind source",
			mount: specs.Mount{Destination: "/data", Type: "bind", Source: "/does/not/exist"},
			want:  `mount source "/does/not/exist" for "/data": no such file or directory`,
		},
		{
			name:  "missing relative bind source",
			mount: specs.Mount{Destination: "/data/", Source: "vol", Options: []string{"rbind"}},
			want:  `mount source "%s/vol" for "/data": no such file or directory`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSpec()
			s.Mounts = []specs.Mount{tt.mount}
			b := loadBundle(t, s)
			_, err := b.Mounts()
			want := strings.ReplaceAll(tt.want, "%s", b.Dir)
			if err == nil || err.Error() != want {
				t.Fatalf("Mounts() error = %v, want %q", err, want)
			}
		})
	}
}

func TestStringers(t *testing.T) {
	for h, s := range map[Handler]string{HandlerAuto: "auto", HandlerWasm: "wasm", HandlerWasmSmart: "wasm-smart"} {
		if h.String() != s {
			t.Errorf("Handler %d = %q", int(h), h.String())
		}
	}
	for k, s := range map[MountKind]string{MountIgnored: "ignored", MountBind: "bind", MountBindFile: "bind-file", MountTmpfs: "tmpfs"} {
		if k.String() != s {
			t.Errorf("MountKind %d = %q", int(k), k.String())
		}
	}
}

// A bundle directory that does not exist gets runc's line (runc changes
// into the bundle first); podman maps "no such file or directory" to 127.
func TestLoadMissingBundle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	if _, err := Load(dir); err == nil || err.Error() != "chdir "+dir+": no such file or directory" {
		t.Errorf("Load(%q): %v", dir, err)
	}
}

// A mount's destination is resolved as runc resolves it when it mounts:
// through the image's symlinks, inside the rootfs, in the mounts made
// before it; below a tmpfs the image's own files (and links) are hidden.
func TestMountDestinationsResolvedInTheRootfs(t *testing.T) {
	s := baseSpec()
	vol := t.TempDir()
	s.Mounts = []specs.Mount{
		{Destination: "/var/run/x", Type: "bind", Source: vol},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: "/etc/hostname"},
		{Destination: "/dev", Type: "tmpfs"},
		{Destination: "/dev/shm", Type: "tmpfs"},
		{Destination: "/escape/y", Type: "bind", Source: vol},
		{Destination: "/x/inner", Type: "bind", Source: vol},
	}
	b := loadBundle(t, s)
	for link, target := range map[string]string{
		"var/run": "/run", "etc/resolv.conf": "../run/resolve/stub.conf",
		"dev/shm": "/elsewhere", "escape": "../../..", "x": "/var/run/x",
	} {
		os.MkdirAll(filepath.Join(b.Rootfs, filepath.Dir(link)), 0o755)
		if err := os.Symlink(target, filepath.Join(b.Rootfs, link)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/run/x", "/run/resolve/stub.conf", "/dev", "/dev/shm", "/y", "/run/x/inner"}
	for i, m := range got {
		if m.Destination != want[i] {
			t.Errorf("%s resolved to %s, want %s", s.Mounts[i].Destination, m.Destination, want[i])
		}
	}
}

// The attacks resolution must not open: an image's link carrying a device
// bind out of /dev or a kernel view out of /proc (both are still refused),
// and a destination made the container's root. A bind below a tmpfs is
// resolved in, its links followed.
func TestMountDestinationLinksCannotCarryGrants(t *testing.T) {
	s := baseSpec()
	vol := t.TempDir()
	if err := os.Symlink("inner", filepath.Join(vol, "alias")); err != nil {
		t.Fatal(err)
	}
	s.Mounts = []specs.Mount{
		{Destination: "/dev", Type: "tmpfs"},
		{Destination: "/dev/zero", Type: "bind", Source: "/dev/zero", Options: []string{"rbind"}},
		{Destination: "/proc/meminfo", Type: "bind", Source: "/etc/hostname"},
		{Destination: "/data/zero", Type: "bind", Source: "/dev/zero"},
		{Destination: "/run", Type: "tmpfs"},
		{Destination: "/run/secrets", Type: "bind", Source: vol},
		{Destination: "/run/secrets/alias/x", Type: "bind", Source: vol},
	}
	b := loadBundle(t, s)
	for link, target := range map[string]string{"dev": "/data", "proc": "/etc"} {
		if err := os.Symlink(target, filepath.Join(b.Rootfs, link)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []MountKind{MountTmpfs, MountIgnored, MountIgnored, MountIgnored, MountTmpfs, MountBind, MountBind} {
		if got[i].Kind != want {
			t.Errorf("%s (resolved %s): %s, want %s", s.Mounts[i].Destination, got[i].Destination, got[i].Kind, want)
		}
	}
	if got[6].Destination != "/run/secrets/inner/x" {
		t.Errorf("a link inside a bind below a tmpfs: resolved to %s, want /run/secrets/inner/x", got[6].Destination)
	}

	s.Mounts = []specs.Mount{{Destination: "/vol", Type: "bind", Source: vol}}
	b = loadBundle(t, s)
	if err := os.Symlink("/", filepath.Join(b.Rootfs, "vol")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Mounts(); err == nil || !strings.Contains(err.Error(), "container's root") {
		t.Errorf("a destination linked to /: %v", err)
	}
}

// A bind runw refuses takes no part in resolving paths (the guest never
// sees it): an image link into it does not reach its host source. And a
// volume an image link carries into /proc fails create, as under runc,
// instead of vanishing.
func TestRefusedBindsAreNotInTheView(t *testing.T) {
	s := baseSpec()
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "passwd"), []byte("root:x:0:0::/HOSTSECRET:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Mounts = []specs.Mount{{Destination: "/sys/fs/x", Type: "bind", Source: host}}
	b := loadBundle(t, s)
	if err := os.Symlink("/sys/fs/x", filepath.Join(b.Rootfs, "etc")); err != nil {
		t.Fatal(err)
	}
	if f, err := b.OpenGuest("/etc/passwd"); err == nil {
		f.Close()
		t.Error("OpenGuest reached the source of a refused bind through an image link")
	}
	if p, err := b.ResolveGuest("/etc/passwd"); err == nil && strings.HasPrefix(p, host) {
		t.Errorf("ResolveGuest reached the source of a refused bind: %s", p)
	}

	s.Mounts = []specs.Mount{{Destination: "/data", Type: "bind", Source: host}}
	b = loadBundle(t, s)
	if err := os.Symlink("/proc/x", filepath.Join(b.Rootfs, "data")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Mounts(); err == nil || !strings.Contains(err.Error(), "not a valid mount target") {
		t.Errorf("a volume linked into /proc: %v", err)
	}
}
