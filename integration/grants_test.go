package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runOutput runs the bundle in the foreground and returns its stdout,
// failing the test unless the guest exits 0.
func runOutput(t *testing.T, r *runw, b *bundle, id string) string {
	t.Helper()
	return r.mustRun("run", "-b", b.dir, id).stdout
}

// The guest gets process.args and process.env byte for byte, plus PWD, and
// nothing of the host's environment.
func TestArgsAndEnvExactly(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	r.env = append(os.Environ(), "RUNW_HOST_SECRET=must-not-leak")
	weird := []string{
		`say "hi" and 'bye'`,
		"two  spaces\tand a tab",
		"line one\nline two",
		"k=v=w",
		"héllo wörld ✓ 世界 🎉",
		"",
	}
	args := []string{"args", "env"}
	for _, w := range weird {
		args = append(args, "printn", w)
	}
	env := []string{
		"PATH=/usr/bin:/bin",
		"EQUALS=a=b=c",
		"UNICODE=grüße ☃ 日本",
		"EMPTY=",
		"SPACES=  lead and trail  ",
	}
	b := newBundle(t, "probe", args...)
	b.edit(func(s *specs.Spec) { s.Process.Env = env })

	out := runOutput(t, r, b, "argv")
	lines := strings.SplitN(out, "\n", 3)
	if len(lines) < 3 {
		t.Fatalf("probe output: %q", out)
	}
	var gotArgs, gotEnv []string
	if err := json.Unmarshal([]byte(lines[0]), &gotArgs); err != nil {
		t.Fatalf("args line %q: %v", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &gotEnv); err != nil {
		t.Fatalf("env line %q: %v", lines[1], err)
	}
	if !reflect.DeepEqual(gotArgs, b.spec.Process.Args) {
		t.Errorf("guest argv:\n got %q\nwant %q", gotArgs, b.spec.Process.Args)
	}
	// process.cwd is "/": no PWD is added, the env is exactly the spec's.
	wantEnv := append([]string(nil), env...)
	if !reflect.DeepEqual(gotEnv, wantEnv) {
		t.Errorf("guest env:\n got %q\nwant %q", gotEnv, wantEnv)
	}
	if strings.Contains(lines[1], "RUNW_HOST_SECRET") {
		t.Errorf("host environment leaked into the guest: %s", lines[1])
	}
	if want := strings.Join(weird, ""); lines[2] != want {
		t.Errorf("printn of the args: %q, want %q", lines[2], want)
	}
}

// process.cwd is where the guest's relative paths start.
func TestCwdSetsWorkingDirectory(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "cwd", "cat", "marker.txt", "env")
	b.writeFile("data/marker.txt", "in data\n")
	b.edit(func(s *specs.Spec) { s.Process.Cwd = "/data" })

	out := runOutput(t, r, b, "cwd")
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || lines[0] != "/data" || lines[1] != "in data" {
		t.Fatalf("output %q, want /data then the relative file's content", out)
	}
	if lines[2] != `["PWD=/data"]` {
		t.Errorf("env %s, want only PWD=/data", lines[2])
	}
}

// A bind mount with "ro" can be read but refuses writes; one with "rw"
// writes through to the host directory.
func TestReadOnlyMountRefusesWritesReadWriteMountAccepts(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	roDir, rwDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(roDir, "existing.txt"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe",
		"cat", "/ro/existing.txt",
		"write", "/ro/new.txt", "nope",
		"write", "/rw/new.txt", "through",
		"cat", "/rw/new.txt")
	b.edit(func(s *specs.Spec) {
		s.Mounts = []specs.Mount{
			bindMount("/ro", roDir, "rbind", "ro"),
			bindMount("/rw", rwDir, "rbind", "rw"),
		}
	})

	lines := strings.Split(runOutput(t, r, b, "mounts"), "\n")
	if len(lines) < 3 {
		t.Fatalf("probe output %q", lines)
	}
	if lines[0] != "from host" {
		t.Errorf("read from the ro mount: %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "ERR") {
		t.Errorf("write to the ro mount: %q, want ERR", lines[1])
	}
	if _, err := os.Stat(filepath.Join(roDir, "new.txt")); err == nil {
		t.Error("the write to the ro mount reached the host")
	}
	if lines[2] != "OK" {
		t.Errorf("write to the rw mount: %q, want OK", lines[2])
	}
	if got, err := os.ReadFile(filepath.Join(rwDir, "new.txt")); err != nil || string(got) != "through" {
		t.Errorf("host file from the rw mount: %q, %v", got, err)
	}
}

// TestAccessWriteOnReadOnlyMounts: wasi-libc's access(W_OK) answers from
// the directory's rights alone, and said writable in a read-only volume
// and under a read-only root, where the open then failed (natively:
// EROFS for both). It now says EACCES there (wasi-libc's word, as under
// wasmtime), while a writable volume, and a writable file bind under the
// read-only root, still open and take the write.
func TestAccessWriteOnReadOnlyMounts(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	roDir, rwDir, hosts := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "hosts")
	for _, f := range []string{filepath.Join(roDir, "x"), filepath.Join(rwDir, "y"), hosts} {
		if err := os.WriteFile(f, nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	b := netBundle(t, netGuest(t, "access"), "/ro/x", "/rw/y", "/etc/hosts")
	b.edit(func(s *specs.Spec) {
		s.Root.Readonly = true
		s.Mounts = []specs.Mount{
			bindMount("/ro", roDir, "rbind", "ro"),
			bindMount("/rw", rwDir, "rbind", "rw"),
			bindMount("/etc/hosts", hosts, "rbind", "rw"),
		}
	})
	want := "/ro/x access=EACCES open=EROFS\n" +
		"/rw/y access=ok write=ok\n" +
		"/etc/hosts access=ok write=ok\n"
	if got := runOutput(t, r, b, "access"); strings.TrimSpace(got)+"\n" != want {
		t.Errorf("the guest said:\n%s\nwant:\n%s", got, want)
	}
	for f, want := range map[string]string{filepath.Join(roDir, "x"): "", filepath.Join(rwDir, "y"): "w", hosts: "w"} {
		if got, _ := os.ReadFile(f); string(got) != want {
			t.Errorf("%s on the host holds %q, want %q", f, got, want)
		}
	}
}

// TestReadOnlyMountChecksPermissionFirst: opening an existing file for
// writing on a read-only mount is EACCES for a user the file's mode
// refuses, EROFS only for one it allows, as Linux checks the file's
// permission before the mount's flag; creating a file there is EROFS
// (the mount is checked first), and so is truncating one (O_TRUNC: the
// kernel takes the mount's write access first, to truncate; a guest's
// os.WriteFile met EACCES where runc's process meets EROFS). runw
// answered EROFS in every case at first.
func TestReadOnlyMountChecksPermissionFirst(t *testing.T) {
	t.Parallel()
	needsRoot(t, "changes users")
	r := newRunw(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for name, mode := range map[string]os.FileMode{"mine": 0o644, "open": 0o666} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, name), mode)
	}
	// write opens with O_TRUNC (os.WriteFile, a shell's >), and Linux
	// takes the mount's write access before the permission check to
	// truncate a regular file: EROFS for a file the user may not write.
	b := newBundle(t, "probe", "openw", "/s/mine", "x", "openw", "/s/open", "x", "create", "/s/new", "write", "/s/mine", "x")
	b.edit(func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Mounts = append(s.Mounts, bindMount("/s", dir, "rbind", "ro"))
	})
	want := "ERR open /s/mine: Permission denied\nERR open /s/open: Read-only file system\nERR open /s/new: Read-only file system\nERR open /s/mine: Read-only file system\n"
	if got := runOutput(t, r, b, "rofirst"); got != want {
		t.Errorf("user 1000 writing on a read-only mount:\n%s\nwant:\n%s", got, want)
	}
}

// Go's wasip1 port picks the preopen a path is resolved from by plain
// string prefix: beside a mount at /data, /data.json was looked up in the
// mount, as ".json", and not found; /data/subx went to a mount at
// /data/sub. A Go guest's preopens are named with a trailing slash, so
// each path reaches what it names; any other guest sees the names as they
// are.
func TestGoGuestPathsBesideAMount(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	data, sub := t.TempDir(), t.TempDir()
	for path, content := range map[string]string{
		filepath.Join(data, "x"):    "in /data\n",
		filepath.Join(data, "subx"): "in /data/subx\n",
		filepath.Join(sub, "y"):     "in /data/sub\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The read-only volume has the nested mount's mount point, as runc
	// needs it to (it cannot make one there).
	if err := os.Mkdir(filepath.Join(data, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	mounts := []specs.Mount{bindMount("/data", data, "rbind", "ro"), bindMount("/data/sub", sub, "rbind", "ro")}
	b := newBundle(t, "probe",
		"cat", "/data.json", "cat", "/data/x", "cat", "/data/subx", "cat", "/data/sub/y", "cat", "/data/sub/../x", "stat", "/data")
	if err := os.WriteFile(filepath.Join(b.rootfs, "data.json"), []byte("in the rootfs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.edit(func(s *specs.Spec) { s.Mounts = mounts })
	got := runOutput(t, r, b, "go-paths")
	want := "in the rootfs\nin /data\nin /data/subx\nin /data/sub\nin /data\nOK\n"
	if got != want {
		t.Errorf("a Go guest beside mounts at /data and /data/sub read:\n%s\nwant:\n%s", got, want)
	}

	w := newBundle(t, "wat/prestatname.wat")
	w.edit(func(s *specs.Spec) { s.Mounts = mounts })
	if got := runOutput(t, r, w, "wat-name"); got != "/data" {
		t.Errorf("a non-Go guest's preopen 4 is named %q, want /data", got)
	}
}

// root.readonly refuses writes to /, while a tmpfs at /tmp stays writable
// and its backing directory goes away with the container. As under runc,
// the read-only root still gets its mount points: an image with no /dev
// has /dev/null, and / lists /dev and /tmp.
func TestReadOnlyRootAndPrivateTmp(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe",
		"write", "/new.txt", "nope",
		"write", "/tmp/tmpfs-marker", "scratch",
		"cat", "/tmp/tmpfs-marker",
		"readn", "/dev/null", "4",
		"ls", "/")
	b.edit(func(s *specs.Spec) {
		s.Root.Readonly = true
		s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=1777"}}}
	})

	// --keep leaves the stopped container, and so the tmpfs backing, in place.
	out := r.mustRun("run", "--keep", "-b", b.dir, "rotmp").stdout
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "ERR") || lines[1] != "OK" || !strings.HasPrefix(lines[2], "scratch") {
		t.Errorf("probe output %q, want ERR for /, OK and the content back for /tmp", out)
	}
	if !strings.Contains(out, "OK n=0 zeros=0\n") || !strings.Contains(out, "\ndev\n") || !strings.Contains(out, "\ntmp\n") {
		t.Errorf("probe output %q, want /dev/null readable and /dev, /tmp listed in a read-only root", out)
	}
	if _, err := os.Stat(filepath.Join(b.rootfs, "new.txt")); err == nil {
		t.Error("a write to the read-only root reached the rootfs")
	}
	found := ""
	for _, p := range r.leftovers() {
		if filepath.Base(p) == "tmpfs-marker" {
			found = p
		}
	}
	if found == "" {
		t.Errorf("the file written to /tmp is not under --root (tmpfs backing): %v", r.leftovers())
	} else if got, _ := os.ReadFile(found); string(got) != "scratch" {
		t.Errorf("tmpfs file content %q", got)
	}
	r.mustRun("delete", "rotmp")
	r.assertRootEmpty()
}

// Symlinks in the image resolve inside the rootfs: an absolute link and a
// chain of ".." both reach the container's own /etc, never the host's.
func TestSymlinksCannotEscapeRootfs(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	host, err := os.ReadFile("/etc/hostname")
	if err != nil || len(strings.TrimSpace(string(host))) == 0 {
		t.Skip("host has no /etc/hostname to protect")
	}
	const own = "rootfs-own-hostname-7f3a"
	b := newBundle(t, "probe", "cat", "/escape/hostname", "echo", "--", "cat", "/up/hostname", "echo", "--", "cat", "/etc/hostname")
	b.writeFile("etc/hostname", own+"\n")
	b.symlink("/etc", "escape")
	b.symlink("../../../../../../etc", "up")

	out := runOutput(t, r, b, "escape")
	parts := strings.Split(out, "\n--\n")
	if len(parts) != 3 {
		t.Fatalf("probe output %q", out)
	}
	for i, name := range []string{"/escape/hostname", "/up/hostname"} {
		got := strings.TrimSpace(parts[i])
		if strings.Contains(got, strings.TrimSpace(string(host))) && got != own {
			t.Errorf("cat %s printed the host's /etc/hostname: %q", name, got)
		}
		if got != own {
			t.Errorf("cat %s: %q, want the rootfs's own file", name, got)
		}
	}
	if got := strings.TrimSpace(parts[2]); got != own {
		t.Errorf("cat /etc/hostname: %q, want the rootfs's %q", got, own)
	}
}

// An entrypoint that is an absolute symlink to a host file names a path
// inside the rootfs, never the host file.
func TestEntrypointSymlinkDoesNotRunHostFile(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	hostDir := t.TempDir()
	hostModule := filepath.Join(hostDir, "probe.wasm")
	if err := copyFile(guests["probe"], hostModule); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe", "echo", "escaped")
	b.symlink(hostModule, "app.wasm")
	b.edit(func(s *specs.Spec) { s.Process.Args[0] = "/app.wasm" })

	res := r.run("create", "-b", b.dir, "linked")
	if res.code != 1 || !strings.Contains(res.stderr, "no such file or directory") {
		t.Errorf("create: %v, want exit 1 and \"no such file or directory\"", res)
	}
	oneLine(t, "create", res.stderr)
	r.assertRootEmpty()
}

// TestModuleTheUserCannotReadIsRefused: a module the container's user may
// not read (a root-only 0600 file, or one under a root-only directory)
// is refused as runc's execve refuses a file the user may not execute
// (`exec: "/priv/app.wasm": permission denied`), at create and at exec;
// runw read it as root and ran it as uid 1000. Read permission stands
// for execute permission, which runw waives: a 0644 module runs. With
// CAP_DAC_OVERRIDE in the spec's effective set, every module runs.
func TestModuleTheUserCannotReadIsRefused(t *testing.T) {
	t.Parallel()
	needsRoot(t, "changes users")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "60s")
	for _, dir := range []string{"priv", "open"} {
		if err := os.Mkdir(filepath.Join(b.rootfs, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(guests["probe"], filepath.Join(b.rootfs, dir, "app.wasm")); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(b.rootfs, "priv"), 0o700)
	os.Chmod(filepath.Join(b.rootfs, "open", "app.wasm"), 0o644)
	if err := copyFile(guests["probe"], filepath.Join(b.rootfs, "secret.wasm")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(b.rootfs, "secret.wasm"), 0o600)
	for _, module := range []string{"/priv/app.wasm", "/secret.wasm"} {
		b.edit(func(s *specs.Spec) {
			s.Process.Args = []string{module, "echo", "ran"}
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			ownMountAndPID(s)
		})
		res := r.run("run", "-b", b.dir, "unreadable")
		want := fmt.Sprintf("exec: %q: permission denied", module)
		if res.code != 1 || strings.Contains(res.stdout, "ran") || !strings.Contains(res.stderr, want) || len(lines(res.stderr)) != 1 {
			t.Errorf("user 1000 running %s: %v, want one line %q, exit 1", module, res, want)
		}
		r.assertRootEmpty()
	}
	b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/open/app.wasm", "sleep", "60s"} })
	r.mustRun("run", "-d", "-b", b.dir, "readable")
	defer r.run("delete", "--force", "readable")
	res := r.run("exec", "readable", "/priv/app.wasm", "echo", "ran")
	if res.code == 0 || strings.Contains(res.stdout, "ran") || !strings.Contains(res.stderr, `exec: "/priv/app.wasm": permission denied`) {
		t.Errorf("exec of a module user 1000 cannot read: %v, want a refusal", res)
	}
	if out := r.mustRun("exec", "--user", "0:0", "readable", "/priv/app.wasm", "echo", "ran").stdout; out != "ran\n" {
		t.Errorf("exec as root of the root-only module: %q, want it to run", out)
	}
	// CAP_DAC_OVERRIDE in the effective set (CRI-O's and containerd's
	// defaults for a runAsUser container) passes, as for runc's execve,
	// which runs holding the spec's effective set: runw had refused.
	dac := []string{"CAP_DAC_OVERRIDE"}
	b.edit(func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: dac, Effective: dac, Permitted: dac}
	})
	for _, module := range []string{"/priv/app.wasm", "/secret.wasm"} {
		b.edit(func(s *specs.Spec) { s.Process.Args = []string{module, "echo", "ran"} })
		if res := r.run("run", "-b", b.dir, "override"); res.code != 0 || res.stdout != "ran\n" {
			t.Errorf("user 1000 with CAP_DAC_OVERRIDE effective running %s: %v, want it to run", module, res)
		}
	}
	// In a user namespace the capability covers a file only where its
	// owner and group are mapped there, as for execve: a module of an id
	// outside the container's range (it maps host 200000-265535) stays
	// refused, one of the container's root runs.
	// Outside a user namespace, nobody's module (65534) is as any other.
	secret := filepath.Join(b.rootfs, "secret.wasm")
	if err := os.Chown(secret, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if res := r.run("run", "-b", b.dir, "override-nobody"); res.code != 0 || res.stdout != "ran\n" {
		t.Errorf("user 1000 with CAP_DAC_OVERRIDE effective running nobody's 0600 module: %v, want it to run", res)
	}
	b.edit(func(s *specs.Spec) { s.Linux = userNamespaceLinux() })
	traversable(t, b.dir)
	for _, c := range []struct {
		owner int
		runs  bool
	}{{170000, false}, {200000, true}} {
		if err := os.Chown(secret, c.owner, c.owner); err != nil {
			t.Fatal(err)
		}
		res := r.run("run", "-b", b.dir, "override-userns")
		if ran := res.code == 0 && res.stdout == "ran\n"; ran != c.runs || !c.runs && !strings.Contains(res.stderr, `exec: "/secret.wasm": permission denied`) {
			t.Errorf("user 1000 with CAP_DAC_OVERRIDE in a user namespace, module owned by host %d: %v, want it to run: %v", c.owner, res, c.runs)
		}
	}
}

// A module in the text format runs as is.
func TestWATModuleRuns(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "wat/hello.wat")
	if out := runOutput(t, r, b, "wat"); out != "hello from wat\n" {
		t.Errorf("stdout %q, want \"hello from wat\\n\"", out)
	}
}

// TestWASIUnstableModuleRuns: a module built for WASI's first snapshot
// (wasi_unstable) runs, as under the wasmtime CLI; the calls whose
// layouts differ from preview 1 (fd_seek's whence, the filestat, the
// clock subscription) answer in its own.
func TestWASIUnstableModuleRuns(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "wat/unstable.wat")
	in := filepath.Join(t.TempDir(), "in")
	for _, f := range []string{in, filepath.Join(b.rootfs, "hello.txt")} {
		if err := os.WriteFile(f, []byte("hello world"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stdin, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	cmd, stdout, stderr := r.command(t.Context(), "run", "--bundle", b.dir, "unstable")
	cmd.Stdin = stdin
	if res := finish(cmd, cmd.Run(), stdout, stderr); res.code != 0 || res.stdout != "unstable ok\n" {
		t.Errorf("a wasi_unstable module (its exit status is the first check that failed): %v", res)
	}
}

// TestContainerRootIsTheRootfs: the init's root is the container's view,
// as a native container's is (engines read /proc/<pid>/root, podman cp
// joins its mount namespace): the rootfs, each mount at its destination,
// read-only where the mount is, and nothing of the host's. An exec'd
// module, which joins that mount namespace, gets the same grants.
func TestContainerRootIsTheRootfs(t *testing.T) {
	t.Parallel()
	needsRoot(t, "mount namespaces")
	if _, err := os.Stat("/etc/hostname"); err != nil {
		t.Skip("the host has no /etc/hostname to look for")
	}
	r := newRunw(t)
	vol := dirWith(t, "x", "in the volume")
	b := newBundle(t, "probe", "sleep", "1h")
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/data", vol, "ro"))
		ownMountAndPID(s)
	})
	r.mustRun("run", "-d", "-b", b.dir, "rooted")
	st, _, _ := r.state("rooted")
	root := fmt.Sprintf("/proc/%d/root", st.Pid)
	if _, err := os.Stat(filepath.Join(root, "probe.wasm")); err != nil {
		t.Errorf("the init's root is not the rootfs: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc", "hostname")); err == nil {
		t.Error("the host's /etc/hostname is under the init's root")
	}
	if got, err := os.ReadFile(filepath.Join(root, "data", "x")); err != nil || string(got) != "in the volume" {
		t.Errorf("the mount at /data under the init's root: %q %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(root, "data", "y"), nil, 0o644); err == nil || !errors.Is(err, unix.EROFS) {
		t.Errorf("write into the read-only mount through the init's root: %v", err)
	}
	// Its /proc has runc's read-only and masked paths: under the rootfs it
	// is within the rootfs's Landlock rule, and nothing may write
	// /proc/sys or /proc/sysrq-trigger, or read /proc/kcore, through it.
	for _, p := range []string{"sys/kernel/hostname", "sysrq-trigger"} {
		if _, err := os.Stat("/proc/" + p); err != nil {
			continue // not in this kernel
		}
		if f, err := os.OpenFile(filepath.Join(root, "proc", p), os.O_WRONLY, 0); err == nil || !errors.Is(err, unix.EROFS) {
			if f != nil {
				f.Close()
			}
			t.Errorf("open the container root's /proc/%s for writing: %v", p, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "proc", "kcore")); err == nil && fi.Size() != 0 {
		t.Errorf("the container root's /proc/kcore is not masked: size %d", fi.Size())
	}
	// Pid 1 of that /proc is the init itself.
	adj := filepath.Join(root, "proc", "1", "oom_score_adj")
	if cur, err := os.ReadFile(adj); err != nil || os.WriteFile(adj, cur, 0) != nil {
		t.Errorf("the container root's /proc/<pid> is not writable: %v", err)
	}
	res := r.mustRun("exec", "rooted", "/probe.wasm", "cat", "/data/x", "write", "/data/y", "no", "write", "/made-by-exec", "yes")
	if res.stdout != "in the volumeERR open /data/y: Read-only file system\nOK\n" {
		t.Errorf("exec in the container's mount namespace: %v", res)
	}
	if got, _ := os.ReadFile(filepath.Join(b.rootfs, "made-by-exec")); string(got) != "yes" {
		t.Errorf("the exec'd module's write did not reach the rootfs: %q", got)
	}
	r.mustRun("delete", "--force", "rooted")

	// An image whose mount destination is a symlink to a host directory:
	// the bind is resolved inside the rootfs (its own /etc), as the guest
	// resolves the path, never on the host's /etc.
	b2 := newBundle(t, "probe", "sleep", "1h")
	if err := os.Mkdir(filepath.Join(b2.rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	b2.symlink("/etc", "data")
	b2.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/data", vol, "ro"))
		ownMountAndPID(s)
	})
	r.mustRun("run", "-d", "-b", b2.dir, "linked")
	st, _, _ = r.state("linked")
	if got, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/etc/x", st.Pid)); err != nil || string(got) != "in the volume" {
		t.Errorf("a mount at an image's symlink to /etc: the container's /etc/x %q %v", got, err)
	}
	if res := r.mustRun("exec", "linked", "/probe.wasm", "cat", "/data/x"); res.stdout != "in the volume" {
		t.Errorf("exec reading the mount through the image's link: %v", res)
	}
	r.mustRun("delete", "--force", "linked")

	// --no-pivot makes the rootfs the init's root all the same, moved
	// over "/" and chrooted into, as runc's does: the host's root left
	// there was what podman cp and top took for the container's.
	r.mustRun("run", "-d", "--no-pivot", "-b", b2.dir, "nopivot")
	st, _, _ = r.state("nopivot")
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/root/etc/hostname", st.Pid)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--no-pivot: the init's root holds the host's /etc/hostname: %v", err)
	}
	if got, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/etc/x", st.Pid)); err != nil || string(got) != "in the volume" {
		t.Errorf("--no-pivot: the container's /etc/x %q %v", got, err)
	}
	if res := r.mustRun("exec", "nopivot", "/probe.wasm", "cat", "/data/x"); res.stdout != "in the volume" {
		t.Errorf("--no-pivot: exec reading the mount: %v", res)
	}
	r.mustRun("delete", "--force", "nopivot")
	os.Remove(filepath.Join(b2.rootfs, "proc"))
	if err := os.WriteFile(filepath.Join(b2.rootfs, "proc"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := r.run("run", "-d", "-b", b2.dir, "procfile"); res.code != 1 || !strings.Contains(res.stderr, "/proc") {
		t.Errorf("an image whose /proc is a file: %v", res)
	}
	r.assertRootEmpty()

	// Nor a /proc that is a link: the host's /proc, or the spec's proc
	// mount, went to its target and hid the volume there (/proc -> data),
	// or failed obscurely (/proc -> /). runc refuses in these words.
	os.Remove(filepath.Join(b2.rootfs, "proc"))
	os.Remove(filepath.Join(b2.rootfs, "data"))
	if err := os.Mkdir(filepath.Join(b2.rootfs, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"data", "/"} {
		os.Remove(filepath.Join(b2.rootfs, "proc"))
		b2.symlink(target, "proc")
		for _, procMount := range []bool{false, true} {
			b2.edit(func(s *specs.Spec) {
				s.Mounts = []specs.Mount{bindMount("/data", vol)}
				if procMount {
					s.Mounts = append([]specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}}, s.Mounts...)
				}
			})
			res := r.run("run", "-d", "-b", b2.dir, "proclink")
			if res.code != 1 || !strings.Contains(res.stderr, `filesystem "proc" must be mounted on ordinary directory`) || strings.Count(res.stderr, "\n") != 1 {
				t.Errorf("an image whose /proc -> %s (a proc mount in the spec: %v): %v", target, procMount, res)
			}
			r.assertRootEmpty()
		}
	}
}

// TestMissingCwdIsCreated: a process.cwd the image lacks is made in the
// rootfs, as runc 1.1 makes it, and the guest starts there.
func TestMissingCwdIsCreated(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "cwd", "write", "here", "x")
	b.edit(func(s *specs.Spec) { s.Process.Cwd = "/srv/app" })
	if res := r.mustRun("run", "-b", b.dir, "cwd"); res.stdout != "/srv/app\nOK\n" {
		t.Errorf("guest in a missing cwd: %v", res)
	}
	if got, err := os.ReadFile(filepath.Join(b.rootfs, "srv", "app", "here")); err != nil || string(got) != "x" {
		t.Errorf("a relative write from the made cwd: %q %v", got, err)
	}

	// A cwd that is a file, or lies below one, fails create in runc's
	// words (its MkdirAll); the guest ran there before.
	b.writeFile("afile", "")
	for _, cwd := range []string{"/afile", "/afile/below"} {
		b.edit(func(s *specs.Spec) { s.Process.Cwd = cwd })
		failsCleanly(t, r, r.run("run", "-b", b.dir, "filecwd"), "filecwd", "mkdir "+cwd+": not a directory")
	}
	r.assertRootEmpty()
}

// TestCwdThroughAnAbsoluteLinkInAVolume: runc makes and enters cwd inside
// the container, so an absolute link in a volume on the way names a path
// of the container's root. runw resolved it from the volume's own root,
// and a link to /etc, or to another volume, was "mkdir /vol/toetc: not a
// directory". Nothing is made in the volume.
func TestCwdThroughAnAbsoluteLinkInAVolume(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	vol, other := t.TempDir(), t.TempDir()
	symlinkHost(t, "/etc", filepath.Join(vol, "toetc"))
	symlinkHost(t, "/other", filepath.Join(vol, "toother"))
	if err := os.WriteFile(filepath.Join(other, "there"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe", "ls", ".")
	b.writeFile("etc/marker", "")
	for cwd, want := range map[string]string{"/vol/toetc": "marker", "/vol/toother": "there"} {
		b.edit(func(s *specs.Spec) {
			s.Process.Cwd = cwd
			s.Mounts = []specs.Mount{bindMount("/vol", vol), bindMount("/other", other)}
		})
		res := r.run("run", "-b", b.dir, "linkcwd")
		if res.code != 0 || !strings.Contains(res.stdout, want) {
			t.Errorf("cwd %s through an absolute link in a volume: %v; want a listing with %s", cwd, res, want)
		}
	}
	if entries, _ := os.ReadDir(vol); len(entries) != 2 {
		t.Errorf("the volume holds %v after the runs; want only its two links", entries)
	}
}

// TestExecIgnoresLinksPlantedByTheGuest: runw exec joins the container's
// mount namespace, where every path is the container's to change. Its
// /etc (which holds the /etc/hosts file mount) is swapped for one whose
// hosts is a link into /proc/self/fd: an exec'd process must never get
// whatever its descriptor 5 is (once runw's compile cache, handed over as
// root). The grant is taken from the container's tree, where the mount
// is no longer at /etc/hosts: the exec fails, naming it. A wasm guest can
// no longer rename /etc itself (EBUSY: the view keeps its mounts at
// their paths, TestRenameCannotUnmask), so the swap is made in the
// rootfs from outside, as anything else sharing the rootfs could.
func TestExecIgnoresLinksPlantedByTheGuest(t *testing.T) {
	t.Parallel()
	needsRoot(t, "mount namespaces")
	r := newRunw(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 granted"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe", "sleep", "1h")
	if err := os.Mkdir(filepath.Join(b.rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/etc/hosts", hosts, "ro"))
		ownMountAndPID(s)
	})
	r.mustRun("run", "-d", "-b", b.dir, "planted")
	etc := filepath.Join(b.rootfs, "etc")
	if err := os.Mkdir(etc+".new", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../proc/self/fd/5", filepath.Join(etc+".new", "hosts")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(etc, etc+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(etc+".new", etc); err != nil {
		t.Fatal(err)
	}
	res := r.run("exec", "planted", "/probe.wasm", "cat", "/etc/hosts", "ls", "/etc/hosts")
	if res.code == 0 || res.stdout != "" || !strings.Contains(res.stderr, `grant "/etc/hosts"`) {
		t.Errorf("exec after the guest planted a link at /etc/hosts: %v, want a failed exec naming the grant", res)
	}
	r.mustRun("delete", "--force", "planted")
}

// TestExecModuleLookupRace races runw exec's module lookup: while execs
// run, the test keeps exchanging the guest's /app directory with a link
// to a host directory that holds a module of the same name (the swap a
// guest or a neighbour sharing a volume can make). The lookup resolves in
// the guest's view, where the link leads nowhere, and everything after it
// reads the file it opened; a read by host path after the lookup would
// now and then run the host's module (exit 7).
func TestExecModuleLookupRace(t *testing.T) {
	t.Parallel()
	needsRoot(t, "mount namespaces")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	hello, err := os.ReadFile("testdata/wat/hello.wat")
	if err != nil {
		t.Fatal(err)
	}
	exit7, err := os.ReadFile("testdata/wat/exit7.wat")
	if err != nil {
		t.Fatal(err)
	}
	b.writeFile("app/x.wasm", string(hello))
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "x.wasm"), exit7, 0o644); err != nil {
		t.Fatal(err)
	}
	b.symlink(host, "applink")
	b.edit(func(s *specs.Spec) {
		ownMountAndPID(s)
	})
	r.mustRun("run", "-d", "-b", b.dir, "race")
	defer r.run("delete", "--force", "race")

	stop := make(chan struct{})
	swaps := make(chan int)
	go func() {
		n := 0
		defer func() { swaps <- n }()
		app, link := filepath.Join(b.rootfs, "app"), filepath.Join(b.rootfs, "applink")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := unix.Renameat2(unix.AT_FDCWD, app, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	ran := 0
	for i := 0; i < 40; i++ {
		res := r.run("exec", "race", "/app/x.wasm")
		switch {
		case res.code == 7:
			t.Errorf("exec %d ran the host's module through the swapped link: %v", i, res)
		case res.code == 0 && res.stdout == "hello from wat\n":
			ran++
		case res.code == 0:
			t.Errorf("exec %d: %v", i, res)
		}
	}
	close(stop)
	if n := <-swaps; n < 100 {
		t.Fatalf("only %d swaps: no race was run", n)
	}
	if ran == 0 {
		t.Errorf("no exec ran the guest's module while its directory was being swapped")
	}
}

// TestExecIgnoresASwappedBindSource: once the container runs, its bind
// mounts are what its mount namespace holds, whatever becomes of their
// sources' paths on the host (a file bind's source removed and a
// directory made there, a directory's swapped for a link). A neighbour who can write a source's parent
// swaps the source for a link to a host directory of its choice; runw
// exec must still run the container's module and grant the container's
// files (runc exec joins the container's mounts), not follow the link.
func TestExecIgnoresASwappedBindSource(t *testing.T) {
	t.Parallel()
	needsRoot(t, "mount namespaces")
	r := newRunw(t)
	shared, host := t.TempDir(), t.TempDir()
	app := filepath.Join(shared, "app")
	for dir, files := range map[string][2]string{app: {"wat/hello.wat", "the container's"}, host: {"wat/exit7.wat", "the host's"}} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(filepath.Join("testdata", files[0]), filepath.Join(dir, "x.wasm")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "data"), []byte(files[1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	note := filepath.Join(shared, "note")
	if err := os.WriteFile(note, []byte("a file bind"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe", "sleep", "1h")
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/app", app), bindMount("/etc/note", note, "ro"))
		ownMountAndPID(s)
	})
	r.mustRun("run", "-d", "-b", b.dir, "swapped")
	defer r.run("delete", "--force", "swapped")
	// The file bind's source is removed, a directory made in its place:
	// the container still holds the file.
	if err := os.Remove(note); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(note, 0o755); err != nil {
		t.Fatal(err)
	}
	if res := r.run("exec", "swapped", "/probe.wasm", "cat", "/etc/note"); res.stdout != "a file bind" {
		t.Errorf("exec reading a file bind whose source was replaced by a directory: %v", res)
	}
	if err := os.Rename(app, app+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, app); err != nil {
		t.Fatal(err)
	}
	if res := r.run("exec", "swapped", "/app/x.wasm"); res.code != 0 || res.stdout != "hello from wat\n" {
		t.Errorf("exec of the bind's module after its source was swapped: %v", res)
	}
	if res := r.run("exec", "swapped", "/probe.wasm", "cat", "/app/data"); res.stdout != "the container's" {
		t.Errorf("exec reading the bind after its source was swapped: %v", res)
	}
}

// TestTmpfsWritableByEveryUser: a tmpfs's root is as runc leaves it,
// owned by the container's root: without mode= and without a directory
// of the image below, 1777, so a process exec'd as another user (podman
// exec --user 1000) writes there; with mode=, that mode; over an image's
// directory, that directory's mode (an image's 0755 /run stays closed to
// user 1000, as under runc; runw used to give every tmpfs to the guest's
// user).
func TestTmpfsWritableByEveryUser(t *testing.T) {
	t.Parallel()
	needsRoot(t, "changes users")
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	b.writeFile("run/.keep", "")
	if err := os.Chmod(filepath.Join(b.rootfs, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "rprivate", "nosuid", "nodev", "tmpcopyup"}},
			specs.Mount{Destination: "/private", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=700"}},
			specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "nosuid", "nodev"}})
		ownMountAndPID(s)
	})
	r.mustRun("run", "-d", "-b", b.dir, "scratch")
	defer r.run("delete", "--force", "scratch")
	res := r.run("exec", "--user", "1000:1000", "scratch", "/probe.wasm", "write", "/scratch/u", "x", "write", "/private/u", "x", "write", "/run/u", "x")
	if got := lines(res.stdout); len(got) != 3 || got[0] != "OK" || !strings.HasPrefix(got[1], "ERR") || !strings.HasPrefix(got[2], "ERR") {
		t.Errorf("user 1000 writing into a tmpfs without mode=, one with mode=700, one over the image's 0755 /run: %v, want OK then two refusals", res)
	}
	if res := r.run("exec", "scratch", "/probe.wasm", "write", "/run/root", "x"); strings.TrimSpace(res.stdout) != "OK" {
		t.Errorf("the container's root writing its /run: %v", res)
	}
}

// TestTmpfsOptionsAsRuncHandsThem: a tmpfs's options reach the kernel as
// runc hands them: a size= in any form the kernel reads bounds it (a hex
// size used to be dropped, leaving the tmpfs unbounded), one it cannot
// read fails create in one line, and uid=/gid= (container ids) own its
// root, so that the user they name may write it.
func TestTmpfsOptionsAsRuncHandsThem(t *testing.T) {
	t.Parallel()
	needsRoot(t, "mounts tmpfs and changes users")
	r := newRunw(t)
	tmpfs := func(options ...string) specs.Mount {
		return specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: options}
	}
	b := newBundle(t, "probe", "writen", "/t/a", "200000")
	b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, tmpfs("nosuid", "size=0x10000")) })
	if out := runOutput(t, r, b, "tmpfs-hex"); !strings.Contains(out, "No space left on device") {
		t.Errorf("200000 bytes into a tmpfs of size=0x10000: %q, want ENOSPC", out)
	}
	for _, bad := range []string{"size=abc", "uid=me", "mode=9"} {
		b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts[:len(s.Mounts)-1], tmpfs(bad)) })
		res := r.run("run", "-b", b.dir, "tmpfs-bad")
		// In runc's words, naming the mount and the spec's options (not
		// the mode, uid and gid runw adds to them).
		if res.code != 1 || len(lines(res.stderr)) != 1 || !strings.Contains(res.stderr, `error mounting "tmpfs" to rootfs at "/t"`) || !strings.Contains(res.stderr, bad+": invalid argument") || bad != "mode=9" && strings.Contains(res.stderr, "mode=") {
			t.Errorf("tmpfs with %s: %v, want one line naming /t and %s, invalid argument, exit 1", bad, res, bad)
		}
		r.assertRootEmpty()
	}
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts[:len(s.Mounts)-1], tmpfs("uid=1000", "gid=1001", "mode=750"))
		s.Process.Args = []string{"/probe.wasm", "write", "/t/x", "y", "stat", "/t"}
		s.Process.User = specs.User{UID: 1000, GID: 1001}
		s.Linux = userNamespaceLinux()
	})
	traversable(t, b.dir)
	if out := runOutput(t, r, b, "tmpfs-owner"); !strings.HasPrefix(out, "OK\n") {
		t.Errorf("user 1000 writing into a tmpfs of uid=1000,gid=1001,mode=750: %q, want OK", out)
	}
	// An id the user namespace does not map (it maps 0-65535) is
	// refused, as the kernel refuses it under runc; it was taken as a
	// host uid, outside the container's range.
	b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts[:len(s.Mounts)-1], tmpfs("uid=70000", "gid=70000")) })
	if res := r.run("run", "-b", b.dir, "tmpfs-unmapped"); res.code != 1 || len(lines(res.stderr)) != 1 || !strings.Contains(res.stderr, "uid=70000: invalid argument") {
		t.Errorf("tmpfs of an unmapped uid=70000: %v, want one line, invalid argument, exit 1", res)
	}
	// Mount flags runc reads, not filesystem data, do not reach it.
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts[:len(s.Mounts)-1], tmpfs("nosuid", "silent", "loud", "iversion", "noiversion", "size=1m"))
		s.Process.Args = []string{"/probe.wasm", "write", "/t/x", "y"}
		s.Process.User = specs.User{}
	})
	if out := runOutput(t, r, b, "tmpfs-flags"); out != "OK\n" {
		t.Errorf("a tmpfs with silent, loud, iversion and noiversion: %q, want OK", out)
	}
	r.assertRootEmpty()
}

// TestLaterMountCoversEarlier: mounts are made in spec order, so a mount
// covers what an earlier one put at or under its destination, as under
// runc. A bind at /a/b followed by a tmpfs at /a leaves /a an empty
// tmpfs, the bind's file out of reach; in the other order the bind shows
// inside the tmpfs. With and without a mount namespace (the init binds
// the grants in the rootfs, or the WASI host alone maps them).
func TestLaterMountCoversEarlier(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	src := dirWith(t, "secret", "from the bind")
	bind := bindMount("/a/b", src)
	tmpfs := specs.Mount{Destination: "/a", Type: "tmpfs", Source: "tmpfs"}
	for _, ns := range []bool{false, true} {
		if ns && os.Geteuid() != 0 {
			continue
		}
		for _, tc := range []struct {
			name   string
			mounts []specs.Mount
			want   string
		}{
			{"bind then tmpfs", []specs.Mount{bind, tmpfs}, "ERR open /a/b/secret: No such file or directory\n"},
			{"tmpfs then bind", []specs.Mount{tmpfs, bind}, "from the bind" + "b\n"},
		} {
			b := newBundle(t, "probe", "cat", "/a/b/secret", "ls", "/a")
			b.edit(func(s *specs.Spec) {
				s.Mounts = tc.mounts
				if ns {
					s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}}}
				}
			})
			if out := runOutput(t, r, b, fmt.Sprintf("cover-%d-%v", len(tc.name), ns)); out != tc.want {
				t.Errorf("%s (mount namespace %v): %q, want %q", tc.name, ns, out, tc.want)
			}
		}
	}
}

// TestShallowBindHidesSubmounts: a bind that is not an rbind (podman's
// bind-nonrecursive) leaves out what is mounted below its source, as
// runc's MS_BIND without MS_REC does: the guest, an exec'd guest and the
// engines (the container's root) see the directory under the mount. The
// attack: a host tmpfs of secrets mounted inside a shared directory was
// the guest's through a bind meant to keep it out. An rbind shows it.
func TestShallowBindHidesSubmounts(t *testing.T) {
	needsRoot(t, "mounts a tmpfs under the volume")
	t.Parallel()
	r := newRunw(t)
	vol := t.TempDir()
	sub := filepath.Join(vol, "sub")
	if err := os.Chmod(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "under"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(sub, "secret"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []struct {
		name  string
		linux func() *specs.Linux
	}{
		{"no namespaces", func() *specs.Linux { return nil }},
		{"mount and pid namespaces", func() *specs.Linux { s := &specs.Spec{}; ownMountAndPID(s); return s.Linux }},
		{"user namespace", userNamespaceLinux},
	} {
		for _, tc := range []struct{ option, want string }{{"bind", "under"}, {"rbind", "secret"}} {
			id := fmt.Sprintf("shallow-%d-%s", len(ns.name), tc.option)
			b := newBundle(t, "probe", "ls", "/m/sub", "sleep", "60s")
			b.edit(func(s *specs.Spec) {
				s.Linux = ns.linux()
				s.Mounts = []specs.Mount{bindMount("/m", vol, tc.option, "ro")}
			})
			traversable(t, b.dir)
			r.mustRun("create", "-b", b.dir, id)
			st, _, _ := r.state(id)
			if ns.linux() != nil {
				entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/root/m/sub", st.Pid))
				if err != nil || len(entries) != 1 || entries[0].Name() != tc.want {
					t.Errorf("%s, %s: the container's root has /m/sub %v (%v), want [%s]", ns.name, tc.option, entries, err, tc.want)
				}
			}
			if out := r.mustRun("exec", id, "/probe.wasm", "ls", "/m/sub").stdout; out != tc.want+"\n" {
				t.Errorf("%s, %s: an exec'd guest lists /m/sub as %q, want %q", ns.name, tc.option, out, tc.want)
			}
			r.mustRun("delete", "-f", id)
			b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/probe.wasm", "ls", "/m/sub"} })
			if out := runOutput(t, r, b, id); out != tc.want+"\n" {
				t.Errorf("%s, %s: the guest lists /m/sub as %q, want %q", ns.name, tc.option, out, tc.want)
			}
			// A read-only path there is a grant of its own, opened
			// inside the bind's mount alone as well.
			b.edit(func(s *specs.Spec) {
				if s.Linux == nil {
					s.Linux = &specs.Linux{}
				}
				s.Linux.ReadonlyPaths = []string{"/m/sub"}
			})
			if out := runOutput(t, r, b, id); out != tc.want+"\n" {
				t.Errorf("%s, %s, /m/sub a read-only path: the guest lists it as %q, want %q", ns.name, tc.option, out, tc.want)
			}
			b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/probe.wasm", "sleep", "60s"} })
			r.mustRun("create", "-b", b.dir, id)
			if ns.linux() != nil {
				st, _, _ := r.state(id)
				entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/root/m/sub", st.Pid))
				if err != nil || len(entries) != 1 || entries[0].Name() != tc.want {
					t.Errorf("%s, %s, /m/sub a read-only path: the container's root has %v (%v), want [%s]", ns.name, tc.option, entries, err, tc.want)
				}
			}
			if out := r.mustRun("exec", id, "/probe.wasm", "ls", "/m/sub", "write", "/m/sub/x", "y").stdout; !strings.HasPrefix(out, tc.want+"\nERR ") {
				t.Errorf("%s, %s, /m/sub a read-only path: an exec'd guest lists it and writes there: %q, want %q and a refusal", ns.name, tc.option, out, tc.want)
			}
			r.mustRun("delete", "-f", id)
		}
	}
	// A component's grants, opened by wasmtime through runw's copies.
	for _, tc := range []struct{ option, want string }{{"bind", "under"}, {"rbind", "secret"}} {
		b := newComponentBundle(t, "probe")
		b.edit(func(s *specs.Spec) {
			s.Process.Args = []string{"/app.wasm", "ls", "/m/sub"}
			ownMountAndPID(s)
			s.Mounts = []specs.Mount{bindMount("/m", vol, tc.option, "ro")}
		})
		if out := runOutput(t, r, b, "shallow-component"); out != tc.want+"\n" {
			t.Errorf("component, %s: lists /m/sub as %q, want %q", tc.option, out, tc.want)
		}
	}
	r.assertRootEmpty()
}

// TestStandardStreamsByName: /dev/stdin, /dev/stdout and /dev/stderr are
// the guest's own streams, as runtime-spec's links make them in a native
// container: a server told to log to /dev/stdout reaches the engine's
// log, not a regular file in the container's /dev. They are listed in
// /dev, as the links runc makes there (to /proc/self/fd/N), in the
// rootfs's /dev and in the /dev tmpfs engines give: a guest listing /dev
// found no such names, though it could open them.
func TestStandardStreamsByName(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	for _, devTmpfs := range []bool{false, true} {
		b := newBundle(t, "probe", "write", "/dev/stdout", "to stdout\n", "write", "/dev/stderr", "to stderr\n", "cat", "/dev/stdin", "ls", "/dev")
		if devTmpfs {
			b.edit(func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}})
			})
		}
		cmd, stdout, stderr := r.command(t.Context(), "run", "--bundle", b.dir, "streams")
		cmd.Stdin = strings.NewReader("from stdin\n")
		res := finish(cmd, cmd.Run(), stdout, stderr)
		if res.code != 0 || !strings.Contains(res.stdout, "to stdout\n") || !strings.Contains(res.stdout, "from stdin\n") || !strings.Contains(res.stderr, "to stderr\n") {
			t.Errorf("streams by name (/dev tmpfs %v): %v", devTmpfs, res)
		}
		if !strings.Contains(res.stdout, "\nstderr\nstdin\nstdout\n") {
			t.Errorf("/dev (tmpfs %v) lists no stdin, stdout and stderr: %q", devTmpfs, res.stdout)
		}
		if devTmpfs {
			continue
		}
		for i, name := range []string{"stdin", "stdout", "stderr"} {
			host := filepath.Join(b.dir, "rootfs", "dev", name)
			if target, err := os.Readlink(host); err != nil || target != fmt.Sprintf("/proc/self/fd/%d", i) {
				t.Errorf("%s in the rootfs: %q %v, want runc's link to /proc/self/fd/%d", host, target, err, i)
			}
		}
	}
}

// TestStreamLinksStayInTheRootfs: an image whose /dev is a link to a host
// directory (absolute, or climbing out with ..) does not make create write
// the stream links there: the link is resolved inside the rootfs, as the
// guest would resolve it.
func TestStreamLinksStayInTheRootfs(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	outside := t.TempDir()
	for i, target := range []string{outside, "../../../../../../../../.." + outside} {
		b := newBundle(t, "probe", "echo", "ran")
		if err := os.Symlink(target, filepath.Join(b.dir, "rootfs", "dev")); err != nil {
			t.Fatal(err)
		}
		if res := r.run("run", "--bundle", b.dir, fmt.Sprintf("devlink%d", i)); res.stdout != "ran\n" {
			t.Errorf("/dev -> %s: %v", target, res)
		}
		if entries, _ := os.ReadDir(outside); len(entries) > 0 {
			t.Fatalf("/dev -> %s: create wrote %s outside the rootfs", target, entries[0].Name())
		}
	}
	r.assertRootEmpty()
}

// TestIsattyOfNonTerminalStreams: a C guest's isatty (wasi-libc's) says
// no for /dev/null, which podman gives a container's stdin without -i,
// and for a file, as on Linux; a character device that is no terminal
// must not pass for one (the guest would turn interactive).
func TestIsattyOfNonTerminalStreams(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := netBundle(t, netGuest(t, "isatty"))
	devNull, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	cmd, stdout, stderr := r.command(t.Context(), "run", "--bundle", b.dir, "isatty")
	cmd.Stdin, cmd.Stderr = devNull, devNull
	res := finish(cmd, cmd.Run(), stdout, stderr)
	if res.code != 0 || res.stdout != "stdin=0 stdout=0 stderr=0\n" {
		t.Errorf("isatty of /dev/null, a file and /dev/null: %v", res)
	}
}

// TestAppendOnStdoutFile: O_APPEND a C guest sets on its stdout, a file
// (`run > out.log`), puts each write at the end, as natively, and
// F_GETFL reports it; the description the shell shares keeps its own
// flags. runw answered yes and went on writing at the offset.
func TestAppendOnStdoutFile(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := netBundle(t, netGuest(t, "append"))
	out := filepath.Join(t.TempDir(), "out.log")
	if err := os.WriteFile(out, []byte("AAAA"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(out, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd, stdout, stderr := r.command(t.Context(), "run", "--bundle", b.dir, "append")
	cmd.Stdout = f
	res := finish(cmd, cmd.Run(), stdout, stderr)
	if data, _ := os.ReadFile(out); res.code != 0 || string(data) != "AAAAB" || res.stderr != "append=1 offset=5\n" {
		t.Errorf("the guest's write after fcntl(O_APPEND) and a seek to 0: file %q, %v; want AAAAB, append=1 offset=5", data, res)
	}
	if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_APPEND != 0 {
		t.Errorf("the shared description's flags: %#o %v; want no O_APPEND", fl, err)
	}
}

// TestBlockingPipeWritesAreWhole: a blocking write(2) to a pipe writes
// everything on Linux, however often the writer is interrupted (the
// signal comes after the data, or the call restarts). The init's Go
// runtime signals the guest's thread (SIGURG, its preemption), and runw
// handed the part written before the signal back to the guest: a C guest
// writing 1 MiB at a time with plain write() lost the rest of a write
// (1 in 3 runs with a slow reader). Here every thread of the init is
// sent SIGURG every 100 µs while a slow reader drains the pipe.
func TestBlockingPipeWritesAreWhole(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := netBundle(t, netGuest(t, "bigwrite"))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd, stdout, stderr := r.command(t.Context(), "run", "--bundle", b.dir, "bigwrite")
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	read := make(chan int64, 1)
	go func() {
		var total int64
		buf := make([]byte, 16<<10)
		for {
			n, err := pr.Read(buf)
			total += int64(n)
			if err != nil {
				read <- total
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pid := 0
		for {
			select {
			case <-read:
				return
			default:
			}
			if pid == 0 {
				if st, _, ok := r.state("bigwrite"); ok {
					pid = st.Pid
				}
				continue
			}
			tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			for _, task := range tasks {
				if tid, err := strconv.Atoi(task.Name()); err == nil {
					unix.Tgkill(pid, tid, unix.SIGURG)
				}
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	res := finish(cmd, cmd.Wait(), stdout, stderr)
	<-done
	if want := "short=0 total=67108864\n"; res.code != 0 || res.stderr != want {
		t.Errorf("64 blocking 1 MiB writes to a pipe while the init's threads are signalled: %v; want %q", res, want)
	}
}

// TestNestedPathsAtTheDescriptorLimit: a guest holding every descriptor
// its RLIMIT_NOFILE allows still stats a nested path, and opens one once
// a descriptor is free, as on Linux, whose lookup takes no descriptor.
// runw's walk opens one for each directory on the way: both were EMFILE,
// and past one spare descriptor so was any path with a ".." or a link
// into a deep directory (/d/sub/a/b/c/../../../f).
func TestNestedPathsAtTheDescriptorLimit(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := netBundle(t, netGuest(t, "emfile"))
	b.writeFile("d/sub/f", "x")
	b.writeFile("d/sub/a/b/c/g", "y")
	if err := os.Symlink("sub/a/b/c", filepath.Join(b.rootfs, "d", "deep")); err != nil {
		t.Fatal(err)
	}
	b.edit(func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 256, Soft: 256}}
	})
	res := r.run("run", "-b", b.dir, "emfile")
	// wasi-libc's strerror(EMFILE) is "No file descriptors available".
	if want := "open at the limit=No file descriptors available\nstat=0\nstat deep=0\nstat link=0\nopen=0\nopen deep=0\nstat deep again=0\n"; res.code != 0 || res.stdout != want {
		t.Errorf("stat and open of nested paths at RLIMIT_NOFILE: %v; want every one to succeed:\n%s", res, want)
	}
}

// TestOverlayMount: an overlay mount (podman's -v SRC:DST:O and --mount
// type=image) is granted as the overlay runw mounts: the guest reads the
// lower layer and its writes land in the upper one, never the lower; a
// bad overlay fails create instead of leaving an empty directory there,
// and delete leaves nothing mounted.
func TestOverlayMount(t *testing.T) {
	t.Parallel()
	needsRoot(t, "mounts an overlay")
	r := newRunw(t)
	dir := t.TempDir()
	lower, upper, work := overlayLayers(t, dir, "from the lower layer")
	b := newBundle(t, "probe", "cat", "/o/a", "write", "/o/b", "new")
	overlay := specs.Mount{Destination: "/o", Type: "overlay", Source: "overlay",
		Options: []string{"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + work, "private"}}
	b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, overlay) })
	res := r.mustRun("run", "--bundle", b.dir, "ov")
	if !strings.Contains(res.stdout, "from the lower layer") {
		t.Errorf("the guest did not read the lower layer: %v", res)
	}
	if data, err := os.ReadFile(filepath.Join(upper, "b")); err != nil || string(data) != "new" {
		t.Errorf("the guest's write is not in the upper layer: %q %v (%v)", data, err, res)
	}
	if _, err := os.Stat(filepath.Join(lower, "b")); err == nil {
		t.Error("the guest's write reached the lower layer")
	}
	r.assertRootEmpty()
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), r.root) {
		t.Errorf("a mount is left under runw's root after delete")
	}

	b.edit(func(s *specs.Spec) {
		s.Mounts[len(s.Mounts)-1].Options = []string{"lowerdir=" + filepath.Join(dir, "missing"), "upperdir=" + upper, "workdir=" + work}
	})
	if res := r.run("create", "--bundle", b.dir, "badov"); res.code != 1 || !strings.Contains(res.stderr, "overlay") {
		t.Errorf("create with an overlay that cannot be mounted: %v", res)
	}
	r.assertRootEmpty()
}

// overlayLayers makes an overlay's lower, upper and work directories in
// dir, the lower one holding a file "a" of content.
func overlayLayers(t *testing.T, dir, content string) (lower, upper, work string) {
	t.Helper()
	lower, upper, work = filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{lower, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(lower, "a"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return lower, upper, work
}

// TestOtherFilesystemsAreRefusedOrIgnored: a mount of a filesystem runw
// neither grants nor ignores (ramfs here; ext4 on a device, nfs, 9p the
// same) is refused at create in one line, where runw dropped it without
// a word and the guest saw and wrote the image's files under it; a mount
// of no type that is no bind too, as runc's mount(2) of it fails. The
// host's /dev (devtmpfs) and a cgroup v1 hierarchy (cpuset) are kernel
// views, never exposed: the guest finds nothing there.
func TestOtherFilesystemsAreRefusedOrIgnored(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "ls", "/hostdev", "ls", "/cs")
	for _, m := range []specs.Mount{
		{Destination: "/hidden", Type: "ramfs", Source: "ramfs"},
		{Destination: "/hidden", Type: "none", Source: "x"},
	} {
		b.edit(func(s *specs.Spec) { s.Mounts = []specs.Mount{m} })
		res := r.run("create", "--bundle", b.dir, "other")
		if res.code != 1 || !strings.Contains(res.stderr, fmt.Sprintf("error mounting %q to rootfs at \"/hidden\"", m.Source)) {
			t.Errorf("a mount of type %q: %v; want exit 1 and \"error mounting ...\"", m.Type, res)
		}
		oneLine(t, "a mount of type "+m.Type, res.stderr)
		r.assertRootEmpty()
	}
	b.edit(func(s *specs.Spec) {
		s.Mounts = []specs.Mount{
			{Destination: "/hostdev", Type: "devtmpfs", Source: "devtmpfs"},
			{Destination: "/cs", Type: "cpuset", Source: "cpuset"},
		}
	})
	res := r.mustRun("run", "--bundle", b.dir, "views")
	if strings.Count(res.stdout, "ERR") != 2 {
		t.Errorf("the guest listed a kernel view: %v; want two ERR", res)
	}
}

// TestFailedCreateLeavesTheImageAsItWas: the mount points, cwd, /proc and
// /dev links runw makes in the rootfs go again when create fails after
// them (here at the init's oom_score_adj, which runc refuses before it
// mounts anything); they were left in the image, which podman build
// commits. What was there before stays.
func TestFailedCreateLeavesTheImageAsItWas(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a mount namespace")
	r := newRunw(t)
	b := newBundle(t, "probe", "echo", "hi")
	if err := os.MkdirAll(filepath.Join(b.rootfs, "kept", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := func() []string {
		var names []string
		filepath.WalkDir(b.rootfs, func(p string, _ fs.DirEntry, err error) error {
			names = append(names, strings.TrimPrefix(p, b.rootfs))
			return nil
		})
		return names
	}
	before := tree()
	b.edit(func(s *specs.Spec) {
		ownMountAndPID(s)
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/fresh/tmp/ok", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/kept/dir/new", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/freshfile/f", Type: "bind", Source: file, Options: []string{"bind"}})
		s.Process.Cwd = "/freshcwd/x"
		adj := 1001
		s.Process.OOMScoreAdj = &adj
	})
	res := r.run("create", "--bundle", b.dir, "undo")
	if res.code != 1 || !strings.Contains(res.stderr, "oom_score_adj") {
		t.Fatalf("create with oomScoreAdj 1001: %v, want exit 1 naming oom_score_adj", res)
	}
	if after := tree(); !slices.Equal(before, after) {
		t.Errorf("the failed create changed the image:\nbefore %v\nafter  %v", before, after)
	}
	r.assertRootEmpty()
	b.edit(func(s *specs.Spec) { s.Process.OOMScoreAdj = nil })
	if res := r.mustRun("run", "--bundle", b.dir, "done"); res.stdout != "hi\n" {
		t.Errorf("run after: %v", res)
	}
}

// TestMountThroughImageSymlink: a mount whose destination passes through
// a symlink of the image (Debian's and Alpine's /var/run -> /run) is where
// runc puts it, at the resolved path, and the guest reaches it by either.
func TestMountThroughImageSymlink(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	vol := dirWith(t, "i.txt", "inner")
	b := newBundle(t, "probe", "cat", "/run/x/i.txt", "cat", "/var/run/x/i.txt")
	rootfs := filepath.Join(b.dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "var"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/run", filepath.Join(rootfs, "var", "run")); err != nil {
		t.Fatal(err)
	}
	b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount("/var/run/x", vol, "rbind", "ro")) })
	res := r.mustRun("run", "--bundle", b.dir, "varrun")
	if res.stdout != "innerinner" {
		t.Errorf("the mount at /var/run/x through /var/run -> /run: %v", res)
	}

	// An exec'd process sees the mounts where create put them, whatever
	// links were planted in the rootfs since.
	b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/probe.wasm", "sleep", "1h"} })
	r.mustRun("run", "-d", "--bundle", b.dir, "varrun2")
	if err := os.Remove(filepath.Join(rootfs, "var", "run")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/elsewhere", filepath.Join(rootfs, "var", "run")); err != nil {
		t.Fatal(err)
	}
	if res := r.run("exec", "varrun2", "/probe.wasm", "cat", "/run/x/i.txt"); res.stdout != "inner" {
		t.Errorf("exec after /var/run was relinked: %v", res)
	}
	r.mustRun("delete", "--force", "varrun2")
}

// TestMountPointsRuncRefusesFailCreate: a mount whose destination is of
// the other type in the image (a tmpfs or a directory bind over a file, a
// file bind over a directory), or whose mount point would have to be made
// in a read-only volume, fails create in runc's words, exit 1, and leaves
// no container behind. runw accepted them: the guest had the grant by
// descriptor, the container's tree that engines read (podman exec, cp,
// top, health checks) did not, and every exec then failed ("not mounted
// there", or 127 for a tmpfs below a read-only volume). What runc mounts
// still runs, and an exec sees it where the guest does.
func TestMountPointsRuncRefusesFailCreate(t *testing.T) {
	needsRoot(t, "a mount namespace: the init pivots into the rootfs, as under podman")
	t.Parallel()
	srcDir := dirWith(t, "f", "the volume")
	srcFile := filepath.Join(dirWith(t, "file.txt", "the file"), "file.txt")
	roVol := dirWith(t, "f", "read-only")
	if err := os.Mkdir(filepath.Join(roVol, "there"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpfs := func(dest string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}}
	}
	for _, c := range []struct {
		id, dest string
		mounts   []specs.Mount
		want     string
	}{
		{"tmpfs-over-file", "/afile", []specs.Mount{tmpfs("/afile")},
			`error mounting "tmpfs" to rootfs at "/afile": not a directory`},
		{"dir-over-file", "/data/imgfile", []specs.Mount{bindMount("/data/imgfile", srcDir, "rbind")},
			fmt.Sprintf(`error mounting %q to rootfs at "/data/imgfile": not a directory`, srcDir)},
		{"file-over-dir", "/data", []specs.Mount{bindMount("/data", srcFile, "rbind")},
			fmt.Sprintf(`error mounting %q to rootfs at "/data": not a directory`, srcFile)},
		{"in-ro-volume", "/d/newdir", []specs.Mount{bindMount("/d", roVol, "rbind", "ro"), tmpfs("/d/newdir")},
			`error mounting "tmpfs" to rootfs at "/d/newdir": mkdir /d/newdir: read-only file system`},
	} {
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			b := newBundle(t, "probe", "lstat", c.dest, "sleep", "6s")
			b.writeFile("afile", "the image's file")
			b.writeFile("data/imgfile", "the image's file")
			b.edit(func(s *specs.Spec) {
				ownMountAndPID(s)
				s.Mounts = c.mounts
			})
			res := r.run("run", "-b", b.dir, c.id)
			if res.code != 1 || !strings.Contains(res.stderr, c.want) {
				t.Errorf("runw run: %v; want exit 1 with %s", res, c.want)
			}
			oneLine(t, "runw run", res.stderr)
			r.assertRootEmpty()
			if got, err := os.ReadFile(filepath.Join(b.rootfs, "afile")); err != nil || string(got) != "the image's file" {
				t.Errorf("the image's /afile: %q, %v", got, err)
			}
			if _, err := os.Lstat(filepath.Join(roVol, "newdir")); err == nil {
				t.Error("a mount point was made in the read-only volume's source")
			}
		})
	}

	// What runc mounts: a tmpfs over the image's directory, a file over
	// its file, a tmpfs where the read-only volume has the directory.
	// The container's process and an exec see each alike.
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	b.writeFile("afile", "the image's file")
	b.writeFile("data/imgfile", "the image's file")
	b.edit(func(s *specs.Spec) {
		ownMountAndPID(s)
		s.Mounts = []specs.Mount{tmpfs("/data"), bindMount("/afile", srcFile, "rbind", "ro"),
			bindMount("/d", roVol, "rbind", "ro"), tmpfs("/d/there")}
	})
	r.mustRun("run", "-d", "-b", b.dir, "fits")
	res := r.run("exec", "fits", "/probe.wasm", "lstat", "/data/imgfile", "cat", "/afile", "write", "/d/there/x", "y", "cat", "/d/there/x")
	if want := "ERR lstat /data/imgfile: No such file or directory\nthe fileOK\ny"; res.code != 0 || !strings.HasPrefix(res.stdout, want) {
		t.Errorf("exec into the mounts runc makes: %v; want %q", res, want)
	}
	r.mustRun("delete", "--force", "fits")
}

// TestMaskedPathsAreMasked: linux.maskedPaths (podman's --security-opt
// mask=) outside /proc and /sys hide what the image or a volume has
// there, as runc masks them after every mount: a directory is an empty
// read-only directory, a file reads as empty and takes no write. The
// guest used to read both.
func TestMaskedPathsAreMasked(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	vol := dirWith(t, "key", "volume secret")
	for _, ns := range []bool{false, true} {
		if ns && os.Geteuid() != 0 {
			continue
		}
		b := newBundle(t, "probe", "ls", "/secrets", "cat", "/etc/token", "cat", "/vol/key", "cat", "/realetc/key", "cat", "/etc/motd", "write", "/secrets/x", "y", "echo", "end")
		b.writeFile("secrets/a", "image secret")
		b.writeFile("etc/token", "image token")
		b.writeFile("realetc/key", "image secret behind a link")
		b.symlink("realetc", "etc2")
		b.edit(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, bindMount("/vol", vol), bindMount("/etc/motd", filepath.Join(vol, "key"), "ro"))
			s.Linux = &specs.Linux{MaskedPaths: []string{"/secrets", "/etc/token", "/vol", "/etc2/key", "/etc/motd", "/not/there", "/proc/kcore"}}
			if ns {
				s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
			}
		})
		out := runOutput(t, r, b, fmt.Sprintf("masked-%v", ns))
		if strings.Contains(out, "image secret") || strings.Contains(out, "image token") || strings.Contains(out, "volume secret") ||
			!strings.Contains(out, "ERR open /secrets/x") || !strings.HasSuffix(out, "end\n") {
			t.Errorf("mount namespace %v: the guest saw %q; want nothing of the masked paths and a refused write", ns, out)
		}
		if !ns {
			continue
		}
		// runw exec: the masks where create put them. A mask on a
		// mount's destination (/etc/motd) does not make exec fail, and
		// nor does a masked path the guest makes after create.
		b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/probe.wasm", "sleep", "30s"} })
		r.mustRun("run", "-d", "-b", b.dir, "masked-exec")
		r.mustRun("exec", "masked-exec", "/probe.wasm", "mkdir", "/not")
		r.mustRun("exec", "masked-exec", "/probe.wasm", "mkdir", "/not/there")
		res := r.mustRun("exec", "masked-exec", "/probe.wasm", "cat", "/etc/motd", "cat", "/realetc/key", "write", "/not/there/f", "x")
		if strings.Contains(res.stdout, "secret") || !strings.HasSuffix(res.stdout, "OK\n") {
			t.Errorf("exec'd guest: %q; want the masks of create, and /not/there writable", res.stdout)
		}
		r.run("delete", "--force", "masked-exec")
	}
}

// TestMaskedTmpfsAndOverlay: a masked path that is a tmpfs or an overlay,
// which the init mounts after create has looked, is masked as runc masks
// it once every mount is made: an empty read-only directory (podman's
// --tmpfs /data with mask=/data). runw dropped the mask: the guest wrote
// the tmpfs and read what a tmpcopyup tmpfs or an overlay held (found by
// a review of podman's --security-opt).
func TestMaskedTmpfsAndOverlay(t *testing.T) {
	t.Parallel()
	needsRoot(t, "mounts a tmpfs and an overlay")
	r := newRunw(t)
	lower, upper, work := overlayLayers(t, t.TempDir(), "overlay secret")
	b := newBundle(t, "probe", "ls", "/copy", "cat", "/copy/hello.txt", "cat", "/o/a", "write", "/copy/n", "x", "write", "/empty/n", "x",
		"write", "/free/n", "y", "echo", "end")
	b.writeFile("copy/hello.txt", "image secret")
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/copy", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "mode=755"}},
			specs.Mount{Destination: "/empty", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/free", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/o", Type: "overlay", Source: "overlay",
				Options: []string{"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + work, "private"}})
		s.Linux = &specs.Linux{
			Namespaces:  []specs.LinuxNamespace{{Type: specs.MountNamespace}},
			MaskedPaths: []string{"/copy", "/o", "/empty"},
		}
	})
	out := runOutput(t, r, b, "masked-tmpfs")
	// ls /copy lists nothing: the first line is cat's error.
	if strings.Contains(out, "secret") || !strings.HasPrefix(out, "ERR open /copy/hello.txt: No such file") || !strings.Contains(out, "ERR open /copy/n") ||
		!strings.Contains(out, "ERR open /empty/n") || !strings.HasSuffix(out, "OK\nend\n") {
		t.Errorf("the guest saw %q; want the masked mounts empty and read-only, and the unmasked tmpfs writable", out)
	}
}

// TestReadOnlyPathsAreReadOnly: linux.readonlyPaths outside /proc and
// /sys turn read-only what is there, as runc's read-only bind of each
// over itself does: a volume mounted exactly there, a directory of the
// image (found through the image's link, as runc's mount follows it), a
// file, a directory inside a volume. A mount below a read-only path
// keeps its own flags, as under runc, whose remount is not recursive. The
// guest used to write them all.
func TestReadOnlyPathsAreReadOnly(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	vol, sub, data := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "locked"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "locked", "a"), []byte("volume file"), 0o644); err != nil {
		t.Fatal(err)
	}
	writes := []string{"write", "/vol/f", "x", "write", "/vol/sub/f", "x", "write", "/cfg/new", "x", "write", "/etc/conf", "x",
		"write", "/etc/other", "x", "write", "/data/locked/a", "x", "write", "/data/free", "x", "echo", "end"}
	// The outcome of each write above, in order.
	const want = "ERR open /vol/f: Read-only file system\nOK\n" +
		"ERR open /cfg/new: Read-only file system\nERR open /etc/conf: Read-only file system\nOK\n" +
		"ERR open /data/locked/a: Read-only file system\nOK\nend\n"
	for _, ns := range []bool{false, true} {
		if ns && os.Geteuid() != 0 {
			continue
		}
		b := newBundle(t, "probe", writes...)
		b.writeFile("cfg/a", "image file")
		b.symlink("cfg", "cfg2")
		b.writeFile("etc/conf", "image conf")
		b.edit(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, bindMount("/vol", vol), bindMount("/vol/sub", sub), bindMount("/data", data))
			s.Linux = &specs.Linux{ReadonlyPaths: []string{"/vol", "/cfg2", "/etc/conf", "/data/locked", "/not/there", "/proc/sys"}}
			if ns {
				s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
			}
		})
		id := fmt.Sprintf("readonly-%v", ns)
		if out := runOutput(t, r, b, id); out != want {
			t.Errorf("mount namespace %v: the guest saw %q; want %q", ns, out, want)
		}
		for _, f := range []string{filepath.Join(vol, "f"), filepath.Join(b.rootfs, "cfg", "new"), filepath.Join(b.rootfs, "etc", "other")} {
			os.Remove(f)
		}
		os.Remove(filepath.Join(sub, "f"))
		os.Remove(filepath.Join(data, "free"))
		if got, _ := os.ReadFile(filepath.Join(b.rootfs, "etc", "conf")); string(got) != "image conf" {
			t.Errorf("the read-only file holds %q", got)
		}
		if got, _ := os.ReadFile(filepath.Join(data, "locked", "a")); string(got) != "volume file" {
			t.Errorf("the file under the read-only directory holds %q", got)
		}
		if !ns {
			continue
		}
		// runw exec: the read-only paths of create, in the container's
		// root, pivoted into or moved over "/" (--no-pivot).
		b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/probe.wasm", "sleep", "30s"} })
		for _, pivot := range []bool{true, false} {
			id := fmt.Sprintf("readonly-exec-%v", pivot)
			args := []string{"run", "-d", "-b", b.dir, id}
			if !pivot {
				args = []string{"run", "-d", "--no-pivot", "-b", b.dir, id}
			}
			r.mustRun(args...)
			res := r.mustRun(append([]string{"exec", id, "/probe.wasm"}, writes...)...)
			if res.stdout != want {
				t.Errorf("exec (pivot %v): %q; want %q", pivot, res.stdout, want)
			}
			os.Remove(filepath.Join(sub, "f"))
			os.Remove(filepath.Join(data, "free"))
			os.Remove(filepath.Join(b.rootfs, "etc", "other"))

			// The attack: a neighbour sharing the rootfs (or a volume)
			// swaps the read-only directory for a link to a host
			// directory once create has resolved it. Opened by its host
			// path, the exec'd process was granted the host's directory.
			host := dirWith(t, "secret", "host secret")
			cfg := filepath.Join(b.rootfs, "cfg")
			if err := os.Rename(cfg, cfg+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(host, cfg); err != nil {
				t.Fatal(err)
			}
			res = r.run("exec", id, "/probe.wasm", "cat", "/cfg/secret", "write", "/cfg/secret", "y")
			if strings.Contains(res.stdout, "host secret") || strings.Contains(res.stdout, "OK") {
				t.Errorf("exec (pivot %v) after /cfg became a link to the host: %v", pivot, res)
			}
			if got, _ := os.ReadFile(filepath.Join(host, "secret")); string(got) != "host secret" {
				t.Errorf("the host's file now holds %q", got)
			}
			os.Remove(cfg)
			if err := os.Rename(cfg+".old", cfg); err != nil {
				t.Fatal(err)
			}
			r.run("delete", "--force", id)
		}
	}
}

// TestRenameCannotUnmask: the view's masks and mounts stay at their guest
// paths, where Linux moves a mount along with a directory renamed above
// it. The attack: renaming the directory that holds a masked path
// showed what the mask hides under the new name: the image's file for a
// mask in the rootfs, the host's own file, readable and writable, for a
// mask in a volume. Such a rename is EBUSY now, as for a mount point
// itself, and so is renaming a directory above a volume's mount point
// (which Linux allows).
func TestRenameCannotUnmask(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	vol := t.TempDir()
	secret := filepath.Join(vol, "a", "secret")
	if err := os.MkdirAll(filepath.Dir(secret), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("volume secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe",
		"rename", "/m", "/m2", "cat", "/m2/secret",
		"rename", "/data/a", "/data/a2", "cat", "/data/a2/secret", "write", "/data/a2/secret", "overwritten",
		"rename", "/mnt", "/mnt2", "ls", "/mnt2",
		"rename", "/m/plain", "/m/plain2", "echo", "end")
	b.writeFile("m/secret", "image secret")
	b.writeFile("m/plain/x", "")
	b.writeFile("mnt/vol/.keep", "")
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount("/data", vol), bindMount("/mnt/vol", t.TempDir()))
		s.Linux = &specs.Linux{MaskedPaths: []string{"/m/secret", "/data/a/secret"}}
	})
	out := runOutput(t, r, b, "rename-mask")
	if strings.Contains(out, "image secret") || strings.Contains(out, "volume secret") {
		t.Errorf("a rename showed a masked file: %q", out)
	}
	if got := strings.Count(out, "Device or resource busy"); got != 3 || !strings.HasSuffix(out, "OK\nend\n") {
		t.Errorf("the guest saw %q; want three renames refused with EBUSY, and a plain directory's rename to work", out)
	}
	if data, err := os.ReadFile(secret); err != nil || string(data) != "volume secret" {
		t.Errorf("the masked host file is now %q (%v)", data, err)
	}
}

// TestTmpcopyupCopiesTheImage: a tmpfs mount with tmpcopyup (podman adds
// it to --tmpfs and to --read-only's mounts) starts with what the image
// has at its destination, as under runc: files, directories, hard links
// as links, symlinks as symlinks (never followed to the host), with the
// image directory's mode. Writes go to the tmpfs, not the image. A tmpfs
// without it starts empty.
func TestTmpcopyupCopiesTheImage(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "cat", "/data/a", "cat", "/data/sub/b", "readlink", "/data/link", "write", "/data/new", "x", "ls", "/plain")
	b.writeFile("data/a", "from the image\n")
	b.writeFile("data/sub/b", "deep\n")
	b.symlink("/etc/passwd", "data/link")
	b.writeFile("plain/hidden", "")
	if err := os.Chmod(filepath.Join(b.rootfs, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	// 4 MiB and three more names of it: copied as links, it fits the
	// tmpfs's 8 MiB; as four files it would not.
	big := filepath.Join(b.rootfs, "data", "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 4<<20); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"l1", "sub/l2", "l3"} {
		if err := os.Link(big, filepath.Join(b.rootfs, "data", l)); err != nil {
			t.Fatal(err)
		}
	}
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "nosuid", "nodev", "tmpcopyup", "size=8m"}},
			specs.Mount{Destination: "/plain", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw"}})
	})
	out := runOutput(t, r, b, "copyup")
	if want := "from the image\ndeep\n/etc/passwd\nOK\n"; out != want {
		t.Errorf("the guest read %q; want %q", out, want)
	}
	if _, err := os.Stat(filepath.Join(b.rootfs, "data", "new")); err == nil {
		t.Error("a write into the tmpfs reached the image")
	}
	// The copy's directory, while the container exists.
	r.mustRun("create", "-b", b.dir, "copyup2")
	defer r.run("delete", "--force", "copyup2")
	matches, _ := filepath.Glob(filepath.Join(r.root, "copyup2", "private", "tmpfs-*", "a"))
	if len(matches) != 1 {
		t.Fatalf("copies of the image's /data/a under the state directory: %v", matches)
	}
	if fi, err := os.Stat(filepath.Dir(matches[0])); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("the copy's directory: %v, %v; want the image directory's mode 0750", fi, err)
	}
}

// TestTmpcopyupChargedToTheContainer: the copy is written by the
// container's init, in its cgroup, so it counts against the memory limit,
// as runc's copy does: an image with 256 MiB under a tmpcopyup tmpfs does
// not fit a 64 MiB container. Made by create, outside the cgroup, the
// copy put any amount into host memory whatever the limit.
func TestTmpcopyupChargedToTheContainer(t *testing.T) {
	needsRoot(t, "cgroups and a real tmpfs")
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "echo", "started")
	b.writeFile("data/.keep", "")
	big := filepath.Join(b.rootfs, "data", "big")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 256<<20); err != nil {
		t.Fatal(err)
	}
	limit := int64(64 << 20)
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "tmpcopyup"}})
		memoryLimit(limit)(s)
	})
	res := r.run("run", "-b", b.dir, "bigcopy")
	if res.code == 0 || strings.Contains(res.stdout, "started") || !strings.Contains(res.stderr, "OOM killer") {
		t.Fatalf("a 256 MiB copy-up under a 64 MiB limit: %v; want create to fail, the OOM killer named", res)
	}
	r.assertRootEmpty()
}

// An init the OOM killer ends while it reads its configuration (2 MB of
// environment under a 4 MiB limit) is named as such, as one that dies
// later is: create said only "send init config: write |1: broken pipe".
func TestInitKilledReadingItsConfigIsNamed(t *testing.T) {
	needsRoot(t, "cgroups")
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "wat/return0.wat")
	b.edit(func(s *specs.Spec) {
		for i := range 2000 {
			s.Process.Env = append(s.Process.Env, fmt.Sprintf("V%d=%s", i, strings.Repeat("x", 1000)))
		}
		memoryLimit(4 << 20)(s)
	})
	res := r.run("run", "-b", b.dir, "oomconfig")
	oneLine(t, "run", res.stderr)
	if res.code != 1 || !strings.Contains(res.stderr, "container init exited without reporting: killed by the OOM killer") {
		t.Errorf("2 MB of environment under a 4 MiB limit: %v; want exit 1, the OOM killer named", res)
	}
	r.assertRootEmpty()
}
