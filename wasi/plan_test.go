package wasi

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runw/runw/spec"
)

// planFor writes s as the config.json of a new bundle whose rootfs holds a
// minimal module at /app.wasm, loads it the way create does, and returns
// the plan with private directories under base.
func planFor(t *testing.T, s *specs.Spec, base string) (*Plan, *spec.Bundle) {
	t.Helper()
	return planForImage(t, s, base, nil)
}

// planForImage is planFor with an image laid out by layout (given the
// rootfs) before the bundle is loaded.
func planForImage(t *testing.T, s *specs.Spec, base string, layout func(rootfs string)) (*Plan, *spec.Bundle) {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "app.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if layout != nil {
		layout(rootfs)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := spec.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := b.Entrypoint()
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanFor(b, ep, base)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

func baseSpec() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: []string{"/app.wasm"}, Cwd: "/"},
	}
}

func TestPlanArgvIsExactlyProcessArgs(t *testing.T) {
	s := baseSpec()
	s.Process.Args = []string{"/app.wasm", "", "a b", "k=v", "line\nbreak", "ünï"}
	p, b := planFor(t, s, t.TempDir())
	if !reflect.DeepEqual(p.Argv, s.Process.Args) {
		t.Errorf("Argv %q, want %q", p.Argv, s.Process.Args)
	}
	if p.Module != filepath.Join(b.Rootfs, "app.wasm") || p.Kind != spec.KindModule {
		t.Errorf("Module %q kind %v, want the rootfs's app.wasm as a module", p.Module, p.Kind)
	}
}

func TestPlanEnvAddsPWDFromCwd(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		cwd  string
		want []string
	}{
		{"no env", nil, "/", []string{}},
		{"cwd", []string{"A=1", "B=x=y"}, "/srv/app", []string{"A=1", "B=x=y", "PWD=/srv/app"}},
		{"spec sets PWD", []string{"PWD=/elsewhere", "A=1"}, "/srv", []string{"PWD=/elsewhere", "A=1"}},
		{"PWD-like name is not PWD", []string{"PWDX=1"}, "/srv", []string{"PWDX=1", "PWD=/srv"}},
		// As runc: a name given twice keeps its place and its last value
		// (podman exec -e appends to the container's env).
		{"last value wins", []string{"TERM=xterm", "A=1", "TERM=dumb", "A=2"}, "/", []string{"TERM=dumb", "A=2"}},
		{"empty value", []string{"A="}, "/", []string{"A="}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := baseSpec()
			s.Process.Env, s.Process.Cwd = c.env, c.cwd
			p, _ := planFor(t, s, t.TempDir())
			if !reflect.DeepEqual(p.Env, c.want) {
				t.Errorf("Env %q, want %q", p.Env, c.want)
			}
		})
	}
}

// An entry that is not NAME=value is refused with runc's error.
func TestPlanEnvRefusesMalformed(t *testing.T) {
	for _, kv := range []string{"NOEQ", "=value", "A=b\x00c"} {
		if _, err := guestEnv([]string{"OK=1", kv}, "/", func() string { return "/" }); err == nil || !strings.Contains(err.Error(), "invalid environment variable") {
			t.Errorf("%q: %v", kv, err)
		}
	}
}

func TestPlanEnvNeverHost(t *testing.T) {
	t.Setenv("RUNW_PLAN_HOST_ONLY", "leak")
	s := baseSpec()
	s.Process.Env = []string{"A=1"}
	p, _ := planFor(t, s, t.TempDir())
	for _, kv := range p.Env {
		if strings.HasPrefix(kv, "RUNW_PLAN_HOST_ONLY=") || strings.HasPrefix(kv, "HOME=") {
			t.Errorf("host variable %q in the plan", kv)
		}
	}
}

func TestPlanRootfsPreopenFirst(t *testing.T) {
	for _, ro := range []bool{false, true} {
		s := baseSpec()
		s.Root.Readonly = ro
		s.Mounts = []specs.Mount{{Destination: "/data", Type: "bind", Source: t.TempDir(), Options: []string{"rbind"}}}
		p, b := planFor(t, s, t.TempDir())
		if len(p.Preopens) == 0 {
			t.Fatal("no preopens")
		}
		want := Preopen{HostPath: b.Rootfs, GuestPath: "/", ReadOnly: ro}
		if p.Preopens[0] != want {
			t.Errorf("readonly=%v: first preopen %+v, want %+v", ro, p.Preopens[0], want)
		}
	}
}

func TestPlanMountGrants(t *testing.T) {
	roSrc, rwSrc, bothSrc, shm := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	file := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(file, []byte("nameserver 1.1.1.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := baseSpec()
	s.Mounts = []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/ro", Type: "bind", Source: roSrc, Options: []string{"rbind", "ro"}},
		{Destination: "/rw", Source: rwSrc, Options: []string{"rbind", "rw"}},
		{Destination: "/both", Type: "bind", Source: bothSrc, Options: []string{"ro", "rw"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: file, Options: []string{"rbind", "ro"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs"},
		{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts"},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue"},
		{Destination: "/dev/shm", Type: "bind", Source: shm, Options: []string{"rbind"}},
		{Destination: "/cache", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro"}},
	}
	base := t.TempDir()
	p, b := planFor(t, s, base)

	if len(p.PrivateDirs) != 3 {
		t.Fatalf("PrivateDirs %q, want one for each of /tmp, /dev and /cache", p.PrivateDirs)
	}
	for _, d := range p.PrivateDirs {
		if filepath.Dir(d) != base {
			t.Errorf("private dir %q is not directly under %q", d, base)
		}
	}
	if p.PrivateDirs[0] == p.PrivateDirs[1] {
		t.Errorf("two tmpfs mounts share %q", p.PrivateDirs[0])
	}
	want := []Preopen{
		{HostPath: b.Rootfs, GuestPath: "/"},
		{HostPath: roSrc, GuestPath: "/ro", ReadOnly: true},
		{HostPath: rwSrc, GuestPath: "/rw"},
		{HostPath: bothSrc, GuestPath: "/both"},
		{HostPath: p.PrivateDirs[0], GuestPath: "/tmp"},
		{HostPath: p.PrivateDirs[1], GuestPath: "/dev"},
		{HostPath: shm, GuestPath: "/dev/shm"},
		{HostPath: p.PrivateDirs[2], GuestPath: "/cache", ReadOnly: true},
	}
	if got := p.Files[len(p.Files)-1]; got != (Preopen{HostPath: file, GuestPath: "/etc/resolv.conf", ReadOnly: true}) {
		t.Errorf("last file grant %+v, want the resolv.conf file mount", got)
	}
	if !reflect.DeepEqual(p.Preopens, want) {
		t.Errorf("Preopens:\n got %+v\nwant %+v", p.Preopens, want)
	}
}

// TestPlanReadOnlyPaths: a read-only path at a grant makes that grant
// read-only; one inside a grant becomes a read-only grant of its own,
// opened within its holder; /proc paths, paths not there and device
// nodes are left. Mount points below a read-only path are still made
// where the mount holding them is writable (runc mounts before it
// remounts), never in a read-only bind's source.
func TestPlanReadOnlyPaths(t *testing.T) {
	rw, ro := t.TempDir(), t.TempDir()
	for _, d := range []string{filepath.Join(rw, "locked"), filepath.Join(ro, "locked")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := baseSpec()
	s.Mounts = []specs.Mount{
		{Destination: "/rw", Type: "bind", Source: rw, Options: []string{"rbind"}},
		{Destination: "/ro", Type: "bind", Source: ro, Options: []string{"rbind", "ro"}},
		{Destination: "/rw/locked/m", Type: "bind", Source: t.TempDir(), Options: []string{"rbind"}},
		{Destination: "/ro/locked/m", Type: "bind", Source: t.TempDir(), Options: []string{"rbind"}},
	}
	s.Linux = &specs.Linux{ReadonlyPaths: []string{"/rw/locked", "/ro/locked", "/app.wasm", "/missing", "/proc/sys"}}
	p, b := planFor(t, s, t.TempDir())
	want := []Preopen{
		{HostPath: filepath.Join(rw, "locked"), GuestPath: "/rw/locked", ReadOnly: true, Within: rw, Remounted: true},
		{HostPath: filepath.Join(ro, "locked"), GuestPath: "/ro/locked", ReadOnly: true, Within: ro},
	}
	if got := p.Preopens[len(p.Preopens)-2:]; !reflect.DeepEqual(got, want) {
		t.Errorf("read-only path grants:\n got %+v\nwant %+v", got, want)
	}
	if got := p.Files[len(p.Files)-1]; got != (Preopen{HostPath: filepath.Join(b.Rootfs, "app.wasm"), GuestPath: "/app.wasm", ReadOnly: true, Within: b.Rootfs, Remounted: true}) {
		t.Errorf("last file grant %+v, want /app.wasm read-only", got)
	}
	// The attack: a neighbour sharing the volume swaps the read-only
	// directory for a link to a host directory once it is resolved.
	// Walked by its host path, the mount point was made there.
	outside := t.TempDir()
	locked := filepath.Join(rw, "locked")
	if err := os.Rename(locked, locked+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, locked); err != nil {
		t.Fatal(err)
	}
	if err := p.MakeMountPoints(b); err == nil {
		t.Error("mount points made with a volume's directory swapped for a link out of it")
	}
	if _, err := os.Stat(filepath.Join(outside, "m")); err == nil {
		t.Error("a mount point was made through a link, outside the volume")
	}
	os.Remove(locked)
	if err := os.Rename(locked+".old", locked); err != nil {
		t.Fatal(err)
	}
	// The read-only volume lacks its mount point: runc's mkdir fails
	// there, and so does create.
	wantErr := fmt.Sprintf(`error mounting %q to rootfs at "/ro/locked/m": mkdir /ro/locked/m: read-only file system`, s.Mounts[3].Source)
	if err := p.MakeMountPoints(b); err == nil || err.Error() != wantErr {
		t.Errorf("mount point in a read-only volume: %v, want %s", err, wantErr)
	}
	if _, err := os.Stat(filepath.Join(rw, "locked", "m")); err != nil {
		t.Errorf("no mount point below the read-only path in a writable volume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ro, "locked", "m")); err == nil {
		t.Error("a mount point was made in a read-only volume's source")
	}

	// A read-only path on the grant itself: that grant, no other.
	s.Linux.ReadonlyPaths = []string{"/rw", "/"}
	p, _ = planFor(t, s, t.TempDir())
	if !p.Preopens[0].ReadOnly || !p.Preopens[1].ReadOnly || !p.Preopens[1].Remounted || len(p.Preopens) != 5 {
		t.Errorf("read-only / and /rw: %+v", p.Preopens)
	}

	// Below a masked directory, no grant: the mask covers it.
	s.Linux.ReadonlyPaths, s.Linux.MaskedPaths = []string{"/rw/locked"}, []string{"/rw"}
	p, _ = planFor(t, s, t.TempDir())
	if i := lastAt(p.Preopens, "/rw/locked"); i >= 0 {
		t.Errorf("a grant below a masked directory: %+v", p.Preopens[i])
	}
}

func TestPlanMemoryLimit(t *testing.T) {
	s := baseSpec()
	p, _ := planFor(t, s, t.TempDir())
	if p.MemoryLimit != 0 {
		t.Errorf("no limit in the spec: MemoryLimit %d", p.MemoryLimit)
	}
	limit := int64(64 << 20)
	s.Linux = &specs.Linux{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}}
	p, _ = planFor(t, s, t.TempDir())
	if want := limit - 8<<20; p.MemoryLimit != want {
		t.Errorf("MemoryLimit %d, want %d (the limit less the init's reserve)", p.MemoryLimit, want)
	}
	// A lower memory.max in linux.resources.unified (podman
	// --cgroup-conf, the kubelet) is the limit the kernel enforces.
	s.Linux.Resources.Unified = map[string]string{"memory.max": "33554432"}
	p, _ = planFor(t, s, t.TempDir())
	if want := int64(32<<20 - 8<<20); p.MemoryLimit != want {
		t.Errorf("unified memory.max of 32 MiB below a 64 MiB limit: MemoryLimit %d, want %d", p.MemoryLimit, want)
	}
	s.Linux.Resources.Memory = nil
	p, _ = planFor(t, s, t.TempDir())
	if want := int64(32<<20 - 8<<20); p.MemoryLimit != want {
		t.Errorf("unified memory.max of 32 MiB alone: MemoryLimit %d, want %d", p.MemoryLimit, want)
	}
	for _, c := range []struct{ limit, cap int64 }{
		{256 << 20, 240 << 20},
		{8 << 30, 8<<30 - 32<<20},
		{8 << 20, 4 << 20},
	} {
		if got := linearMemoryCap(c.limit); got != c.cap {
			t.Errorf("linearMemoryCap(%d) = %d, want %d", c.limit, got, c.cap)
		}
	}
}

// Under a memory limit, one poll_oneoff's host lists and the tables
// take at most a quarter of the init's reserve each, at most 8 tables and
// one memory: at the smallest reserve, the largest, one below 16 MiB
// (where the cap is half the limit and the reserve the other half), and
// with no limit.
func TestPlanBoundsUnderMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		limit, reserve int64
	}{
		{0, 0},
		{12 << 20, 6 << 20},
		{48 << 20, 8 << 20},
		{256 << 20, 16 << 20},
		{8 << 30, 32 << 20},
	} {
		p := &Plan{}
		p.SetMemoryLimit(c.limit)
		if p.Reserve != c.reserve || (c.limit > 0 && p.MemoryLimit+p.Reserve != c.limit) {
			t.Errorf("limit %d MiB: cap %d and reserve %d, want a reserve of %d", c.limit>>20, p.MemoryLimit, p.Reserve, c.reserve)
		}
		if got, want := p.maxSubscriptions(), int(c.reserve/4/112); got != want {
			t.Errorf("limit %d MiB: %d subscriptions, want %d", c.limit>>20, got, want)
		}
		want, tables, memories := c.reserve/4/8/8, int64(8), int64(1)
		if c.limit == 0 {
			want, tables, memories = maxTableElements, -1, -1
		}
		if got := p.tableElements(); got != want {
			t.Errorf("limit %d MiB: tables of %d elements, want %d", c.limit>>20, got, want)
		}
		if p.maxTables() != tables || p.maxMemories() != memories {
			t.Errorf("limit %d MiB: %d tables and %d memories, want %d and %d", c.limit>>20, p.maxTables(), p.maxMemories(), tables, memories)
		}
	}
}

// Mount points are made inside their grant: a directory, an empty file,
// nothing over what exists, and nothing outside the grant through a
// symlink, even one swapped in and out while runw works (a guest sharing
// the volume can do that at any moment).
func TestMakeMountPointStaysInside(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "vol"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	makeMountPoint(root, "a/b/c", "/a/b/c", true, false, new([]madePath))
	makeMountPoint(root, "etc/hosts", "/etc/hosts", false, false, new([]madePath))
	if fi, err := os.Stat(filepath.Join(root, "a/b/c")); err != nil || !fi.IsDir() {
		t.Errorf("directory mount point: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/hosts")); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Errorf("file mount point: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	makeMountPoint(root, "etc/hosts", "/etc/hosts", false, false, new([]madePath))
	if got, _ := os.ReadFile(filepath.Join(root, "etc/hosts")); string(got) != "kept" {
		t.Errorf("an existing file was replaced: %q", got)
	}

	// "alt" links out of the grant; it and "sub" trade places without end.
	if err := os.Symlink(outside, filepath.Join(root, "alt")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	flipped := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				flipped <- n
				return
			default:
			}
			if unix.Renameat2(unix.AT_FDCWD, filepath.Join(root, "sub"), unix.AT_FDCWD, filepath.Join(root, "alt"), unix.RENAME_EXCHANGE) == nil {
				n++
			}
		}
	}()
	for i := 0; i < 3000; i++ {
		makeMountPoint(root, "sub/planted", "/sub/planted", false, false, new([]madePath))
		makeMountPoint(root, "sub/dir/x", "/sub/dir/x", true, false, new([]madePath))
	}
	close(done)
	n := <-flipped
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("made outside the grant while a link was swapped (%d swaps): %v", n, entries)
	}
	t.Logf("%d swaps, nothing made outside", n)
}

// UndoMade removes what the mount points made, and only that: what was
// there before stays, a directory something was put in since stays, and
// a link swapped in for a made directory's parent leads nowhere outside
// the grant (the same-named empty directory outside is not removed).
func TestUndoMadeRemovesOnlyWhatWasMade(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "vol"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "etc"), filepath.Join(outside, "y")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &Plan{}
	for _, m := range []struct {
		rel string
		dir bool
	}{{"a/b/c", true}, {"etc/hosts", false}, {"x/y", true}, {"k/l", true}} {
		if err := makeMountPoint(root, m.rel, "/"+m.rel, m.dir, false, &p.made); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "k", "l", "guest"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// x, made, becomes a link out of the grant to a directory holding an
	// empty y.
	if err := os.RemoveAll(filepath.Join(root, "x")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "x")); err != nil {
		t.Fatal(err)
	}
	p.UndoMade()
	for _, gone := range []string{"a", "etc/hosts"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("%s, made, is still there", gone)
		}
	}
	for _, kept := range []string{"etc", "k/l/guest", "x"} {
		if _, err := os.Lstat(filepath.Join(root, kept)); err != nil {
			t.Errorf("%s is gone: %v", kept, err)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "y")); err != nil {
		t.Errorf("the directory outside the grant was removed through the link: %v", err)
	}
}

// An empty HOME (podman exec's) becomes the user's home from the
// container's /etc/passwd (the image's, or one the engine mounts), or "/",
// as runc replaces it; a set HOME stays. A passwd that links out of the
// rootfs resolves inside it, never on the host.
func TestPlanEmptyHomeFromContainerPasswd(t *testing.T) {
	s := baseSpec()
	_, b := planFor(t, s, t.TempDir())
	if err := os.MkdirAll(filepath.Join(b.Rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(b.Rootfs, "etc", "passwd")
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		uid  uint32
		want string
	}{{0, "/root"}, {1000, "/home/app"}, {1001, "/"}} {
		if got := homeOf(b, c.uid); got != c.want {
			t.Errorf("homeOf(uid %d) = %q, want %q", c.uid, got, c.want)
		}
	}
	// A link climbing out: inside the rootfs it names /x/passwd there.
	if err := os.MkdirAll(filepath.Join(b.Rootfs, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Rootfs, "x", "passwd"), []byte("root:x:0:0::/sentinel:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(passwd)
	if err := os.Symlink("../../../../../../x/passwd", passwd); err != nil {
		t.Fatal(err)
	}
	if got := homeOf(b, 0); got != "/sentinel" {
		t.Errorf("homeOf through a link climbing out of the rootfs = %q, want /sentinel (the rootfs's /x/passwd)", got)
	}
	// A passwd the engine mounts wins over the image's.
	mounted := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(mounted, []byte("app:x:1000:1000::/home/mounted:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Spec.Mounts = []specs.Mount{{Destination: "/etc/passwd", Type: "bind", Source: mounted, Options: []string{"rbind", "ro"}}}
	if got := homeOf(b, 1000); got != "/home/mounted" {
		t.Errorf("homeOf with a mounted /etc/passwd = %q, want /home/mounted", got)
	}
	env, err := guestEnv([]string{"A=1", "HOME="}, "/", func() string { return "/home/app" })
	if err != nil || !reflect.DeepEqual(env, []string{"A=1", "HOME=/home/app"}) {
		t.Errorf("empty HOME: %q %v", env, err)
	}
	env, _ = guestEnv([]string{"HOME=/x"}, "/", func() string { return "/home/app" })
	if !reflect.DeepEqual(env, []string{"HOME=/x"}) {
		t.Errorf("set HOME: %q", env)
	}
}

// containerd keeps both an image's ENV RUNW_LISTEN=:8080 and a pod's env
// RUNW_LISTEN=:9090 in process.env. The guest reads the last; the
// listeners bound must be that one's, not both (the guest's first
// descriptor was :8080's, and the pod's port never answered).
func TestPlanListenersFromTheLastRunwListen(t *testing.T) {
	s := baseSpec()
	s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}}
	s.Process.Env = []string{"PATH=/bin", "RUNW_LISTEN=:8080", "RUNW_LISTEN=:9090"}
	p, _ := planFor(t, s, t.TempDir())
	if len(p.Net.Listeners) != 1 || p.Net.Listeners[0].Addr.Port() != 9090 {
		t.Errorf("listeners %v, want only :9090 (the RUNW_LISTEN the guest sees)", p.Net.Listeners)
	}
	if !slices.Contains(p.Env, "RUNW_LISTEN=:9090") || slices.Contains(p.Env, "RUNW_LISTEN=:8080") {
		t.Errorf("guest env %q", p.Env)
	}
}

// A WAT syntax error is one line, with where it is.
func TestWATErrorIsOneLine(t *testing.T) {
	_, err := converter("/bad.wat", spec.KindWAT)([]byte("(module\n  (func $f (param i32)\n)\n"))
	if err == nil {
		t.Fatal("a WAT file missing a parenthesis parsed")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, `parse WAT "/bad.wat": expected `+"`)`"+` at line 4, column 1`) {
		t.Errorf("error %q, want one line with the place", msg)
	}
}

// TestMemoryLimitBelowModuleMinimumSaysSo: under a small memory limit
// (podman's --memory 4m) a module whose memory starts above the linear
// memory cap (half the limit there) is refused at create, and the error
// said only "memory minimum size of 38 pages exceeds memory limits", not
// which limit, nor that runw keeps part of it for its init.
func TestMemoryLimitBelowModuleMinimumSaysSo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.wat")
	if err := os.WriteFile(path, []byte(`(module (memory (export "memory") 40) (func (export "_start")))`), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := &Plan{
		Module:   path,
		Kind:     spec.KindWAT,
		Argv:     []string{"/m.wat"},
		Preopens: []Preopen{{HostPath: dir, GuestPath: "/", ReadOnly: true}},
	}
	plan.SetMemoryLimit(4 << 20)
	g, err := Prepare(plan, nil)
	if err == nil {
		g.Close()
		t.Fatal("a module of 40 pages instantiated under a cap of 2 MiB")
	}
	for _, want := range []string{"memory limit of 4 MiB", "2 MiB of linear memory", "exceeds memory limits"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
}

// TestMakeMountPointsFailsWhereRuncsMountFails: a mount point of the
// other type (a directory mount over the image's file, a file mount over
// its directory) or one that cannot be made (a file on the way, a
// read-only volume that lacks it) fails create in runc's words, naming
// the mount as the spec wrote it. Left, the guest had the grant by
// descriptor while the container's tree, which engines read, lacked it.
// What runc mounts stays fine: a tmpfs over a directory, a file over a
// file, a mount point made in a read-only root, in a read-only tmpfs, or
// at a dangling absolute link's target inside the rootfs; and the
// default devices never fail create.
func TestMakeMountPointsFailsWhereRuncsMountFails(t *testing.T) {
	srcDir, srcFile := t.TempDir(), filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(srcFile, []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	roVol := t.TempDir()
	if err := os.Mkdir(filepath.Join(roVol, "there"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpfs := func(dest string, options ...string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: options}
	}
	bind := func(dest, src string, options ...string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "bind", Source: src, Options: append([]string{"rbind"}, options...)}
	}
	roBind := bind("/d", roVol, "ro")
	cases := []struct {
		name     string
		mounts   []specs.Mount
		readOnly bool
		want     string // "": made
	}{
		{"tmpfs over a file", []specs.Mount{tmpfs("/afile")}, false, `error mounting "tmpfs" to rootfs at "/afile": not a directory`},
		{"directory bind over a file", []specs.Mount{bind("/afile", srcDir)}, false, fmt.Sprintf(`error mounting %q to rootfs at "/afile": not a directory`, srcDir)},
		{"file bind over a directory", []specs.Mount{bind("/adir/", srcFile)}, false, fmt.Sprintf(`error mounting %q to rootfs at "/adir/": not a directory`, srcFile)},
		{"tmpfs below a file", []specs.Mount{tmpfs("/afile/sub")}, false, `error mounting "tmpfs" to rootfs at "/afile/sub": mkdir /afile/sub: not a directory`},
		{"tmpfs through a link to a file", []specs.Mount{tmpfs("/tofile")}, false, `error mounting "tmpfs" to rootfs at "/tofile": not a directory`},
		{"tmpfs in a read-only volume", []specs.Mount{roBind, tmpfs("/d/newdir")}, false, `error mounting "tmpfs" to rootfs at "/d/newdir": mkdir /d/newdir: read-only file system`},
		{"deeper in a read-only volume", []specs.Mount{roBind, tmpfs("/d/a/b")}, false, `error mounting "tmpfs" to rootfs at "/d/a/b": mkdir /d/a/b: read-only file system`},
		{"file in a read-only volume", []specs.Mount{roBind, bind("/d/newfile", srcFile)}, false, fmt.Sprintf(`error mounting %q to rootfs at "/d/newfile": open /d/newfile: read-only file system`, srcFile)},
		{"file below a read-only volume's missing directory", []specs.Mount{roBind, bind("/d/a/f", srcFile)}, false, fmt.Sprintf(`error mounting %q to rootfs at "/d/a/f": mkdir /d/a/f: read-only file system`, srcFile)},
		{"in a read-only volume that has it", []specs.Mount{roBind, tmpfs("/d/there")}, false, ""},
		{"tmpfs over a directory", []specs.Mount{tmpfs("/adir")}, false, ""},
		{"file bind over a file", []specs.Mount{bind("/afile", srcFile)}, false, ""},
		{"in a read-only root", []specs.Mount{tmpfs("/new/dir"), bind("/new/file", srcFile)}, true, ""},
		{"in a read-only tmpfs", []specs.Mount{tmpfs("/t", "ro"), tmpfs("/t/sub")}, false, ""},
		{"at a dangling absolute link's target", []specs.Mount{tmpfs("/dangling")}, false, ""},
		{"a default device over a directory", []specs.Mount{}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := baseSpec()
			s.Mounts = c.mounts
			s.Root.Readonly = c.readOnly
			p, b := planForImage(t, s, t.TempDir(), func(rootfs string) {
				for _, d := range []string{"adir", "dev/null"} {
					if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(filepath.Join(rootfs, "afile"), []byte("image"), 0o644); err != nil {
					t.Fatal(err)
				}
				for link, target := range map[string]string{"tofile": "/afile", "dangling": "/nowhere/yet"} {
					if err := os.Symlink(target, filepath.Join(rootfs, link)); err != nil {
						t.Fatal(err)
					}
				}
			})
			for _, d := range p.PrivateDirs {
				if err := os.MkdirAll(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			err := p.MakeMountPoints(b)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("MakeMountPoints: %v", err)
			case c.want != "" && (err == nil || err.Error() != c.want):
				t.Errorf("MakeMountPoints: %v, want %s", err, c.want)
			}
			if fi, err := os.Lstat(filepath.Join(b.Rootfs, "afile")); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("the image's file changed: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(roVol, "newdir")); err == nil {
				t.Error("a mount point was made in a read-only volume")
			}
			if c.name == "at a dangling absolute link's target" {
				if fi, err := os.Stat(filepath.Join(b.Rootfs, "nowhere", "yet")); err != nil || !fi.IsDir() {
					t.Errorf("no mount point at the link's target inside the rootfs: %v", err)
				}
			}
		})
	}
}
