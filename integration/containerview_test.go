package integration

// What a guest sees of its container: the rootfs and mounts of config.json
// resolved the way a Linux container would see them (symlinks inside the
// container's namespace, never the host's), devices, file mounts, tmpfs
// limits, descriptors, its environment, and how a stop reaches it. Every
// scenario runs the probe guest (testdata/probe) through `runw run`.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// engineMounts are the kernel mounts podman and CRI put in every spec.
// runw grants none of them; they are here so that the scenarios below
// run with the config.json an engine would really write.
func engineMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
}

// hostSecret is a file on the host, outside every grant, that no guest may
// ever read.
type hostSecret struct {
	dir, path, content string
}

func newHostSecret(t *testing.T) hostSecret {
	t.Helper()
	dir := t.TempDir()
	s := hostSecret{dir: dir, path: filepath.Join(dir, "secret"), content: fmt.Sprintf("HOST-SECRET-%d", time.Now().UnixNano())}
	if err := os.WriteFile(s.path, []byte(s.content+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// assertNotLeaked fails the test if the guest's output holds the secret.
func (s hostSecret) assertNotLeaked(t *testing.T, res result) {
	t.Helper()
	if strings.Contains(res.stdout, s.content) || strings.Contains(res.stderr, s.content) {
		t.Errorf("the guest read the host file %s outside its grants: %v", s.path, res)
	}
}

// upTo returns a relative path of ".." components climbing from anywhere
// in the rootfs to the host's / and down to hostPath.
func upTo(hostPath string) string {
	return strings.Repeat("../", 24) + strings.TrimPrefix(hostPath, "/")
}

// writeHost writes a host file, making its directory.
func writeHost(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlinkHost(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// lines splits the probe's output into its lines (one per command here).
func lines(out string) []string {
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

// wantLines compares the probe's output line by line with want; "ERR"
// in want matches any line starting with "ERR".
func wantLines(t *testing.T, what []string, res result, want []string) {
	t.Helper()
	got := lines(res.stdout)
	for i, w := range want {
		g := "(missing)"
		if i < len(got) {
			g = got[i]
		}
		ok := g == w || (w == "ERR" && strings.HasPrefix(g, "ERR "))
		if !ok {
			t.Errorf("%s: got %q, want %q", what[i], g, w)
		}
	}
	if len(got) > len(want) {
		t.Errorf("unexpected extra output %q", got[len(want):])
	}
	if t.Failed() {
		t.Logf("run: %v", res)
	}
}

// probeSteps is a list of probe commands, each printing one line, with
// what it is expected to print.
type probeSteps struct {
	args, names, want []string
}

func (p *probeSteps) add(want string, args ...string) {
	p.args = append(p.args, args...)
	p.names = append(p.names, strings.Join(args, " "))
	p.want = append(p.want, want)
}

// Symlinks that stay inside the container resolve as they would in a
// Linux container: relative and absolute ones, in the rootfs, from the
// rootfs into a directory bind mount and from the mount back out to the
// rootfs (in the guest's namespace, not the host's).
func TestContainerViewSymlinksInsideTheContainer(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	mnt := t.TempDir()
	writeHost(t, filepath.Join(mnt, "data.txt"), "mount data\n")
	symlinkHost(t, "/etc/real/conf", filepath.Join(mnt, "back"))
	// On the host this would climb out of mnt; in the guest /mnt/.. is /.
	symlinkHost(t, "../etc/real/conf", filepath.Join(mnt, "backrel"))

	var p probeSteps
	p.add("tool", "cat", "/bin/tool.txt")
	p.add("real conf", "cat", "/etc/alt/conf")
	p.add("/etc/real", "readlink", "/etc/alt")
	p.add("OK symlink", "lstat", "/etc/alt")
	p.add("mount data", "cat", "/tomnt")
	p.add("mount data", "cat", "/tomntdir/data.txt")
	p.add("real conf", "cat", "/mnt/back")
	p.add("real conf", "cat", "/mnt/backrel")
	p.add("tool.txt", "ls", "/bin")
	p.add("OK", "write", "/etc/alt/new.txt", "through a link")
	p.add("OK", "write", "/tomntdir/new.txt", "into the mount")
	b := newBundle(t, "probe", p.args...)
	b.writeFile("usr/bin/tool.txt", "tool\n")
	b.symlink("usr/bin", "bin")
	b.writeFile("etc/real/conf", "real conf\n")
	b.symlink("/etc/real", "etc/alt")
	b.symlink("/mnt/data.txt", "tomnt")
	b.symlink("/mnt", "tomntdir")
	b.edit(func(s *specs.Spec) { s.Mounts = []specs.Mount{bindMount("/mnt", mnt, "rbind", "rw")} })

	res := r.run("run", "-b", b.dir, "inside")
	wantLines(t, p.names, res, p.want)
	if got, err := os.ReadFile(filepath.Join(b.rootfs, "etc/real/new.txt")); err != nil || string(got) != "through a link" {
		t.Errorf("write through /etc/alt: host rootfs/etc/real/new.txt = %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "new.txt")); err != nil || string(got) != "into the mount" {
		t.Errorf("write through /tomntdir: host mount source new.txt = %q, %v", got, err)
	}
}

// Symlinks pointing out of the rootfs or out of a mount, absolute or by
// ".." chains, resolve inside the container (where the host path does not
// exist) and never reach the host file; nor does a write through them.
func TestContainerViewSymlinkEscapes(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	secret := newHostSecret(t)
	mnt := t.TempDir()
	symlinkHost(t, secret.path, filepath.Join(mnt, "out-abs"))
	symlinkHost(t, upTo(secret.path), filepath.Join(mnt, "out-rel"))
	symlinkHost(t, secret.dir, filepath.Join(mnt, "out-dir"))

	var p probeSteps
	for _, link := range []string{"/escape-abs", "/escape-dots", "/escape-rel", "/sub/escape-rel", "/mnt/out-abs", "/mnt/out-rel"} {
		p.add("ERR", "cat", link)
	}
	p.add("ERR", "cat", "/escape-dir/secret")
	p.add("ERR", "cat", "/mnt/out-dir/secret")
	p.add("ERR", "cat", "/mnt/"+upTo(secret.path))
	p.add("ERR", "write", "/escape-dir/planted", "x")
	p.add("ERR", "write", "/mnt/out-dir/planted", "x")
	p.add("ERR", "write", "/escape-abs", "overwritten")
	p.add("ERR", "ls", "/escape-dir")
	b := newBundle(t, "probe", p.args...)
	b.symlink(secret.path, "escape-abs")
	b.symlink("/../../../../../../../.."+secret.path, "escape-dots")
	b.symlink(upTo(secret.path), "escape-rel")
	b.writeFile("sub/.keep", "")
	b.symlink(upTo(secret.path), "sub/escape-rel")
	b.symlink(secret.dir, "escape-dir")
	b.edit(func(s *specs.Spec) { s.Mounts = []specs.Mount{bindMount("/mnt", mnt, "rbind", "rw")} })

	res := r.run("run", "-b", b.dir, "escapes")
	secret.assertNotLeaked(t, res)
	wantLines(t, p.names, res, p.want)
	if entries, _ := os.ReadDir(secret.dir); len(entries) != 1 {
		t.Errorf("the guest created files in the host directory %s: %v", secret.dir, entries)
	}
	if got, _ := os.ReadFile(secret.path); string(got) != secret.content+"\n" {
		t.Errorf("the host secret was changed: %q", got)
	}
}

// A symlink swapped while the guest walks through it (the classic
// resolve-then-open race) never lets the guest read the host file: the
// test flips a directory link and a file link between a safe target
// inside the rootfs and host paths outside the grants for ~3 seconds while
// the guest reads through them in a loop.
func TestContainerViewSymlinkSwapDuringWalk(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	secret := newHostSecret(t)
	if err := os.WriteFile(filepath.Join(secret.dir, "f"), []byte(secret.content+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe", "readloop", "/d/f", "2s", "readloop", "/l", "1s")
	b.writeFile("safe/f", "safe\n")
	b.symlink("safe", "d")
	b.symlink("safe/f", "l")

	stop := make(chan struct{})
	var flips atomic.Int64
	var wg sync.WaitGroup
	flip := func(name string, targets []string) {
		defer wg.Done()
		link := filepath.Join(b.rootfs, name)
		tmp := link + ".tmp"
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.Remove(tmp)
			if err := os.Symlink(targets[i%len(targets)], tmp); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, link); err != nil {
				t.Error(err)
				return
			}
			flips.Add(1)
		}
	}
	wg.Add(2)
	go flip("d", []string{"safe", secret.dir, "safe", upTo(secret.dir)})
	go flip("l", []string{"safe/f", secret.path, "safe/f", upTo(secret.path)})
	res := r.run("run", "-b", b.dir, "swap")
	close(stop)
	wg.Wait()

	t.Logf("%d link swaps; guest: %q", flips.Load(), res.stdout)
	secret.assertNotLeaked(t, res)
	if res.code != 0 {
		t.Fatalf("guest: %v", res)
	}
	// The race was really run: the guest read the safe target through
	// each link at least once.
	if n := strings.Count(res.stdout, `content "safe\n"`); n != 2 {
		t.Errorf("the guest read the safe target through %d of the 2 links, want both (the race was not exercised): %v", n, res)
	}
	if strings.Contains(res.stdout, "reads ok=0 ") {
		t.Errorf("a read loop never succeeded: %v", res)
	}
}

// A Kubernetes ConfigMap (or Secret, downward API, projected) volume as
// kubelet's atomic writer keeps it: each key is a link through "..data",
// which is renamed onto a new timestamped directory at every update, the
// old directory then removed. A guest reading a key while the volume is
// updated sees the old content or the new one, as a native reader does:
// natively the open fails (ENOENT) only if the old directory goes in the
// instant between the kernel reading "..data" and looking the key up
// (about one swap in a hundred under a reader in a tight loop). runw's own
// walk made that instant wide: one swap in six failed a read until a walk
// that met a missing name behind a link was made again.
func TestContainerViewConfigMapSwap(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	cm := t.TempDir()
	gen := func(i int) string { return fmt.Sprintf("..2026_12_02_06_00_00.%09d", i) }
	if err := os.Mkdir(filepath.Join(cm, gen(0)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cm, gen(0), "key"), []byte("gen0"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlinkHost(t, gen(0), filepath.Join(cm, "..data"))
	symlinkHost(t, "..data/key", filepath.Join(cm, "key"))
	b := newBundle(t, "probe", "echo", "up", "readloop", "/cm/key", "3s")
	b.edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount("/cm", cm, "rbind", "ro")) })

	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		// kubelet's atomic writer, one update every few milliseconds.
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			dir := filepath.Join(cm, gen(i))
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Error(err)
				return
			}
			if err := os.WriteFile(filepath.Join(dir, "key"), []byte(fmt.Sprintf("gen%d", i)), 0o644); err != nil {
				t.Error(err)
				return
			}
			tmp := filepath.Join(cm, "..data_tmp")
			if err := os.Symlink(gen(i), tmp); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, filepath.Join(cm, "..data")); err != nil {
				t.Error(err)
				return
			}
			if err := os.RemoveAll(filepath.Join(cm, gen(i-1))); err != nil {
				t.Error(err)
				return
			}
			swaps.Add(1)
		}
	}()
	res := r.run("run", "-b", b.dir, "cmswap")
	close(stop)
	wg.Wait()
	if res.code != 0 {
		t.Fatalf("guest: %v", res)
	}
	var ok, errs int
	for _, l := range strings.Split(res.stdout, "\n") {
		if strings.HasPrefix(l, "reads ") {
			if _, err := fmt.Sscanf(l, "reads ok=%d err=%d", &ok, &errs); err != nil {
				t.Fatalf("reads line %q: %v", l, err)
			}
		}
	}
	n := swaps.Load()
	t.Logf("%d swaps, %d reads, %d errors", n, ok, errs)
	if ok == 0 || n < 20 || strings.Count(res.stdout, "content ") < 3 {
		t.Fatalf("the race was not exercised: %d swaps, %d reads: %v", n, ok, res)
	}
	// Natively about one swap in a hundred fails a read in a tight loop.
	if int64(errs)*30 > n {
		t.Errorf("%d of %d reads of a ConfigMap key failed during %d updates (a native reader: about one per hundred updates)", errs, ok+errs, n)
	}
}

// A granted directory holding /proc-style magic links (to /proc/self/root,
// /proc/self/cwd, /proc/self/fd) gives the guest nothing of the host: the
// links resolve in the guest's namespace, where /proc is never granted.
func TestContainerViewMagicLinksInGrantedDir(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	secret := newHostSecret(t)
	mnt := t.TempDir()
	symlinkHost(t, "/proc/self/root", filepath.Join(mnt, "root"))
	symlinkHost(t, "/proc/self/cwd", filepath.Join(mnt, "cwd"))
	symlinkHost(t, "/proc/self/fd", filepath.Join(mnt, "fd"))
	symlinkHost(t, "/proc/1/root", filepath.Join(mnt, "init-root"))

	var p probeSteps
	p.add("ERR", "cat", "/mnt/root"+secret.path)
	p.add("ERR", "cat", "/mnt/init-root"+secret.path)
	p.add("ERR", "cat", "/mnt/cwd/config.json")
	p.add("ERR", "ls", "/mnt/root/")
	p.add("ERR", "ls", "/mnt/fd/")
	p.add("ERR", "cat", "/mnt/fd/0")
	p.add("ERR", "write", "/mnt/root"+secret.dir+"/planted", "x")
	b := newBundle(t, "probe", p.args...)
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(engineMounts(), bindMount("/mnt", mnt, "rbind", "rw"))
	})

	res := r.run("run", "-b", b.dir, "magic")
	secret.assertNotLeaked(t, res)
	if strings.Contains(res.stdout, `"ociVersion"`) {
		t.Errorf("the guest read the bundle's config.json through /proc/self/cwd: %v", res)
	}
	wantLines(t, p.names, res, p.want)
	if _, err := os.Stat(filepath.Join(secret.dir, "planted")); err == nil {
		t.Error("the guest wrote into a host directory through /proc/self/root")
	}
}

// A file bind mount whose source is a symlink on the host: runc resolves
// the source on the host when it mounts (mount(2) follows it), so the
// guest sees the target's content as a regular file at the destination.
func TestContainerViewFileMountSourceSymlink(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	host := t.TempDir()
	writeHost(t, filepath.Join(host, "real.conf"), "real content\n")
	symlinkHost(t, "real.conf", filepath.Join(host, "link.conf"))

	var p probeSteps
	p.add("real content", "cat", "/etc/app.conf")
	p.add("OK file", "lstat", "/etc/app.conf")
	b := newBundle(t, "probe", p.args...)
	b.writeFile("etc/.keep", "")
	b.edit(func(s *specs.Spec) {
		s.Mounts = []specs.Mount{bindMount("/etc/app.conf", filepath.Join(host, "link.conf"), "rbind", "ro")}
	})
	wantLines(t, p.names, r.run("run", "-b", b.dir, "srclink"), p.want)
}

// hostTree is a snapshot of a host directory: every entry's type, mode,
// size, mtime, link target and content hash.
func hostTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v size=%d mtime=%d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			desc += " sha256=" + hex.EncodeToString(sum[:8])
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeAttempts are every kind of write a guest can try under dir, each
// of which a read-only grant must refuse.
func writeAttempts(dir string) probeSteps {
	var p probeSteps
	p.add("ERR", "openw", dir+"/f.txt", "changed")
	p.add("ERR", "write", dir+"/f.txt", "replaced")
	p.add("ERR", "create", dir+"/new.txt")
	p.add("ERR", "write", dir+"/new2.txt", "new")
	p.add("ERR", "rename", dir+"/f.txt", dir+"/g.txt")
	p.add("ERR", "rename", dir+"/sub", dir+"/sub2")
	p.add("ERR", "rm", dir+"/f.txt")
	p.add("ERR", "rm", dir+"/sub/inner.txt")
	p.add("ERR", "rm", dir+"/empty")
	p.add("ERR", "mkdir", dir+"/newdir")
	p.add("ERR", "symlink", "f.txt", dir+"/sym")
	p.add("ERR", "link", dir+"/f.txt", dir+"/hard")
	p.add("ERR", "chtimes", dir+"/f.txt")
	p.add("ERR", "truncate", dir+"/f.txt", "0")
	p.add("ERR", "writen", dir+"/sub/inner.txt", "3")
	p.add("original\n", "cat", dir+"/f.txt")
	return p
}

// A read-only bind mount and a read-only root refuse every kind of write,
// and the host files stay exactly as they were.
func TestContainerViewReadOnlyRefusesEveryWrite(t *testing.T) {
	t.Parallel()
	populate := func(t *testing.T, dir string) {
		writeHost(t, filepath.Join(dir, "f.txt"), "original\n")
		writeHost(t, filepath.Join(dir, "sub", "inner.txt"), "inner\n")
		if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
			t.Fatal(err)
		}
		// An old mtime, so a refused utimes that still touched the
		// file would show.
		old := time.Unix(1.5e9, 0)
		os.Chtimes(filepath.Join(dir, "f.txt"), old, old)
	}
	check := func(t *testing.T, r *runw, b *bundle, id, host, guestDir string) {
		// The mount points runw makes at create, as runc makes them (in a
		// read-only root too: /dev/null must exist), come first; after
		// that, nothing the guest tries may change anything.
		b.edit(func(s *specs.Spec) { s.Process.Args = []string{"/probe.wasm", "echo", "first"} })
		r.mustRun("run", "-b", b.dir, id+"-first")
		before := hostTree(t, host)
		p := writeAttempts(guestDir)
		b.edit(func(s *specs.Spec) { s.Process.Args = append([]string{"/probe.wasm"}, p.args...) })
		res := r.run("run", "-b", b.dir, id)
		// The last line reads f.txt; trim the newline the file has.
		p.want[len(p.want)-1] = "original"
		wantLines(t, p.names, res, p.want)
		after := hostTree(t, host)
		if !reflect.DeepEqual(before, after) {
			for k, v := range after {
				if before[k] != v {
					t.Errorf("host %s changed: %q -> %q", filepath.Join(host, k), before[k], v)
				}
			}
			for k := range before {
				if _, ok := after[k]; !ok {
					t.Errorf("host %s was removed", filepath.Join(host, k))
				}
			}
		}
	}

	t.Run("mount", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		host := t.TempDir()
		populate(t, host)
		b := newBundle(t, "probe")
		b.edit(func(s *specs.Spec) { s.Mounts = []specs.Mount{bindMount("/ro", host, "rbind", "ro")} })
		check(t, r, b, "romount", host, "/ro")
	})
	t.Run("root", func(t *testing.T) {
		t.Parallel()
		r := newRunw(t)
		b := newBundle(t, "probe")
		populate(t, b.rootfs)
		b.edit(func(s *specs.Spec) { s.Root.Readonly = true })
		check(t, r, b, "roroot", b.rootfs, "")
	})
}

// File bind mounts, as engines write them for every container: the guest
// reads /etc/hosts and writes /dev/termination-log (rw), and the bytes
// reach the host file.
func TestContainerViewFileBindMounts(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	host := t.TempDir()
	hosts := "127.0.0.1 localhost\n10.88.0.7 runw-view-test\n"
	writeHost(t, filepath.Join(host, "hosts"), hosts)
	writeHost(t, filepath.Join(host, "termination-log"), "")

	var p probeSteps
	p.add("127.0.0.1 localhost", "cat", "/etc/hosts")
	p.want = append(p.want, "10.88.0.7 runw-view-test")
	p.names = append(p.names, "cat /etc/hosts (line 2)")
	p.add("OK", "write", "/dev/termination-log", "guest says goodbye")
	p.add("ERR", "write", "/etc/hosts", "overwritten")
	b := newBundle(t, "probe", p.args...)
	b.edit(func(s *specs.Spec) {
		s.Mounts = append(engineMounts(),
			bindMount("/etc/hosts", filepath.Join(host, "hosts"), "rbind", "ro"),
			bindMount("/dev/termination-log", filepath.Join(host, "termination-log"), "rbind", "rw"))
	})
	wantLines(t, p.names, r.run("run", "-b", b.dir, "filemounts"), p.want)
	if got, _ := os.ReadFile(filepath.Join(host, "termination-log")); string(got) != "guest says goodbye" {
		t.Errorf("host termination-log holds %q, want the guest's bytes", got)
	}
	if got, _ := os.ReadFile(filepath.Join(host, "hosts")); string(got) != hosts {
		t.Errorf("the read-only /etc/hosts mount was written: %q", got)
	}
}

// The devices every container has: /dev/null, /dev/zero, /dev/full,
// /dev/urandom, /dev/random and /dev/tty behave as on Linux.
func TestContainerViewDevices(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	var p probeSteps
	p.add("OK n=0 zeros=0", "readn", "/dev/null", "16")
	p.add("OK", "write", "/dev/null", "discarded")
	p.add("OK n=4096 zeros=4096", "readn", "/dev/zero", "4096")
	p.add("ERR", "writen", "/dev/full", "10")
	p.add("OK", "writen", "/dev/zero", "10")
	p.add("urandom", "readn", "/dev/urandom", "64")
	p.add("ERR", "openw", "/dev/tty", "prompt> ")
	// Written at once, as on Linux, though it never polls writable: the
	// write waited for POLLOUT and never returned.
	p.add("OK", "writen", "/dev/random", "10")
	b := newBundle(t, "probe", p.args...)
	b.edit(func(s *specs.Spec) { s.Mounts = engineMounts() })
	res := r.run("run", "-b", b.dir, "devices")
	got := lines(res.stdout)
	// /dev/urandom: 64 bytes, not all zero.
	if len(got) == len(p.want) {
		var n, zeros int
		if _, err := fmt.Sscanf(got[5], "OK n=%d zeros=%d", &n, &zeros); err == nil && n == 64 && zeros < 64 {
			got[5] = "urandom"
		}
		res.stdout = strings.Join(got, "\n") + "\n"
	}
	wantLines(t, p.names, res, p.want)
	// Go's wasip1 error strings are WASI's ("No space left on device").
	if len(got) > 3 && !strings.Contains(strings.ToLower(got[3]), "no space left on device") {
		t.Errorf("write to /dev/full: %q, want ENOSPC (no space left on device)", got[3])
	}
	// /dev/tty is there without a terminal too, as runc makes it, and
	// answers ENXIO (the init has no controlling terminal): a name the
	// guest could otherwise create in the writable /dev tmpfs, a regular
	// file that took the prompts meant for a terminal.
	if len(got) > 6 && !strings.Contains(strings.ToLower(got[6]), "no such device or address") {
		t.Errorf("open /dev/tty without a terminal: %q, want ENXIO (no such device or address)", got[6])
	}
}

// TestDeviceReadsAreWhole: a raw read of /dev/urandom or /dev/zero is
// whole, as on Linux. Made non-blocking on the host (so that a write to
// /dev/random is not held for a POLLOUT it never reports), the devices
// were read in a raw system call, which Go's scheduler interrupts with
// SIGURG, and the kernel ended every 4 MiB read of /dev/urandom early.
func TestDeviceReadsAreWhole(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := netBundle(t, netGuest(t, "devread"))
	res := r.run("run", "-b", b.dir, "devread")
	if want := "/dev/urandom short=0\n/dev/zero short=0\n"; res.code != 0 || res.stdout != want {
		t.Errorf("16 reads of 4 MiB from each device: %v; want every read whole:\n%s", res, want)
	}
}

// The attack: runw run (and runw exec) without -t, from a shell whose
// controlling terminal is the admin's. /dev/tty means the opener's
// controlling terminal, and the guest must not reach that one: every init
// leads its own session, so the open answers ENXIO and nothing reaches
// the terminal.
func TestDevTTYIsNotTheCallersTerminal(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	t.Run("run", func(t *testing.T) {
		b := newBundle(t, "probe", "openw", "/dev/tty", "ESCAPED")
		tryCallersTerminal(t, r, "run", "-b", b.dir, "ctty")
	})
	t.Run("exec", func(t *testing.T) {
		b := newBundle(t, "probe", "sleep", "1h")
		bg, _ := runInBackground(t, r, b, "xtty")
		defer func() { r.run("kill", "xtty", "KILL"); bg.wait(t, 10*time.Second) }()
		tryCallersTerminal(t, r, "exec", "xtty", "/probe.wasm", "openw", "/dev/tty", "ESCAPED")
	})
}

// tryCallersTerminal runs runw with args from a new session whose
// controlling terminal is a pty, and fails if the guest's write of
// "ESCAPED" to /dev/tty did not fail with ENXIO or reached the pty.
func tryCallersTerminal(t *testing.T, r *runw, args ...string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	cmd, stdout, _ := r.command(context.Background(), args...)
	// runw's caller has tty as its controlling terminal (fd 0 of the
	// child, made the controlling terminal of its new session).
	cmd.Stdin = tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Run(); err != nil {
		t.Logf("runw %s: %v", args[0], err)
	}
	out, _ := os.ReadFile(stdout.Name())
	if !strings.Contains(strings.ToLower(string(out)), "no such device or address") {
		t.Errorf("runw %s: the guest's open of /dev/tty from a caller with a terminal: %q, want ENXIO", args[0], out)
	}
	tty.Close()
	ptmx.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if seen, _ := io.ReadAll(ptmx); strings.Contains(string(seen), "ESCAPED") {
		t.Errorf("runw %s: the guest wrote to its caller's terminal: %q", args[0], seen)
	}
}

// TestForegroundTerminalFollowsWindowChanges: a foreground `runw run` with
// process.terminal proxies its own terminal to the guest's pty; a window
// change (SIGWINCH to runw) resizes the guest's pty to runw's terminal,
// as runc's foreground run does. runw copied the size once, at start.
func TestForegroundTerminalFollowsWindowChanges(t *testing.T) {
	t.Parallel()
	t.Run("stdin and stdout", func(t *testing.T) { foregroundTerminalFollows(t, false) })
	// runc's terminal is the first of stderr, stdout and stdin that is
	// one: runw looked at stdin alone, and `printf x | runw run` gave the
	// guest a 0x0 terminal and left the caller's cooked.
	t.Run("stderr alone", func(t *testing.T) { foregroundTerminalFollows(t, true) })
}

// drainedPty opens a pty whose output is read and dropped, both ends
// closed when the test ends; the test skips where there is none.
func drainedPty(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	go io.Copy(io.Discard, ptmx)
	return ptmx, tty
}

func foregroundTerminalFollows(t *testing.T, stderrOnly bool) {
	t.Parallel()
	r := newRunw(t)
	ptmx, tty := drainedPty(t)
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 20, Cols: 70}); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "probe", "sleep", "1h")
	b.edit(func(s *specs.Spec) { s.Process.Terminal = true })
	cmd, _, _ := r.command(context.Background(), "run", "-b", b.dir, "winch")
	cmd.Stdin, cmd.Stdout = tty, tty
	if stderrOnly {
		cmd.Stdin, cmd.Stderr = nil, tty
		cmd.Stdout = io.Discard
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { r.run("kill", "winch", "KILL"); cmd.Wait() }()
	// The guest's pty, seen through the init's standard input.
	guestSize := func() (unix.Winsize, error) {
		st, _, ok := r.state("winch")
		if !ok || st.Pid == 0 {
			return unix.Winsize{}, errors.New("no init yet")
		}
		f, err := os.Open(fmt.Sprintf("/proc/%d/fd/0", st.Pid))
		if err != nil {
			return unix.Winsize{}, err
		}
		defer f.Close()
		ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
		if err != nil {
			return unix.Winsize{}, err
		}
		return *ws, nil
	}
	waitSize := func(what string, rows, cols uint16) {
		t.Helper()
		var ws unix.Winsize
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if ws, err = guestSize(); err == nil && ws.Row == rows && ws.Col == cols {
				return
			}
		}
		t.Fatalf("%s: the guest's terminal is %dx%d (%v), want %dx%d", what, ws.Row, ws.Col, err, rows, cols)
	}
	waitSize("at start", 20, 70)
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(unix.SIGWINCH)
	waitSize("after a window change", 40, 100)
}

// TestBackgroundRunWithATerminalStops: a foreground `runw run` of a
// container with a terminal, started as a background job of a shell
// with job control, is stopped by the kernel's SIGTTOU when it sets its
// terminal up, as any program that changes a terminal it does not hold
// the foreground of, and waits for `fg`. runw caught SIGTTOU from its
// start, its handler took it, the kernel restarted the call for ever, and
// runw spun a core.
func TestBackgroundRunWithATerminalStops(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	_, tty := drainedPty(t)
	b := newBundle(t, "wat/loop.wat")
	b.edit(func(s *specs.Spec) { s.Process.Terminal = true })
	pidFile := filepath.Join(t.TempDir(), "runw.pid")
	argv := append([]string{r.binary()}, r.argv("run", "-b", b.dir, "background")...)
	// A session of its own on the pty, whose shell puts runw in a
	// process group of its own (set -m), not the terminal's foreground,
	// and stays (a stopped job whose shell ended would be sent SIGHUP).
	job := exec.Command("setsid", "--ctty", "sh", "-c", "set -m; "+strings.Join(argv, " ")+" & echo $! > "+pidFile+"; sleep 60")
	job.Stdin, job.Stdout, job.Stderr = tty, tty, tty
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { job.Process.Kill(); job.Wait() }()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil {
			fmt.Sscan(string(b), &pid)
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell started no runw")
		}
	}
	defer func() { syscall.Kill(pid, syscall.SIGKILL); r.run("delete", "--force", "background") }()
	var stat []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("runw ended: %v", err)
		}
		if stat = strings.Fields(string(b)); len(stat) > 14 && stat[2] == "T" {
			return
		}
	}
	t.Errorf("runw run in the background with a terminal: state %s after 10 s, %s+%s ticks of CPU; want it stopped (T) by SIGTTOU", stat[2], stat[13], stat[14])
}

// PWD is in the guest's environment only when process.cwd is not "/":
// process.env is otherwise passed exactly.
func TestContainerViewPWDOnlyWhenCwdIsNotRoot(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	for i, c := range []struct {
		cwd  string
		env  []string
		want []string
	}{
		{"/", []string{"A=1"}, []string{"A=1"}},
		{"/work", []string{"A=1"}, []string{"A=1", "PWD=/work"}},
		{"/work", []string{"PWD=/elsewhere", "A=1"}, []string{"PWD=/elsewhere", "A=1"}},
	} {
		b := newBundle(t, "probe", "env")
		b.writeFile("work/.keep", "")
		b.edit(func(s *specs.Spec) { s.Process.Cwd, s.Process.Env = c.cwd, c.env })
		res := r.run("run", "-b", b.dir, fmt.Sprintf("pwd%d", i))
		var got []string
		if err := json.Unmarshal([]byte(strings.TrimSpace(res.stdout)), &got); err != nil {
			t.Errorf("cwd %q: %v", c.cwd, res)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("cwd %q, env %q: guest env %q, want %q", c.cwd, c.env, got, c.want)
		}
	}
}

// A Go guest decoding deeply nested JSON (encoding/json's own
// TestUnmarshalMaxDepth case just under its nesting limit: 9999 arrays)
// recurses deeply; it must not die with "call stack exhausted". Go's own
// wasip1 runner gives wasmtime an 8 MiB wasm stack for this reason.
func TestContainerViewDeepRecursion(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "jsondepth", "9999")
	res := r.run("run", "-b", b.dir, "deep")
	if res.code != 0 || res.stdout != "OK\n" {
		t.Errorf("decoding 9999 nested arrays: exit %d, stdout %q, stderr %s", res.code, res.stdout, headTail(res.stderr, 300, 200))
	}
	if strings.Contains(res.stderr, "call stack exhausted") {
		t.Error("the guest ran out of wasm stack")
	}
}

// A stop signal ends a guest blocked in a host call at once: sleeping in
// time.Sleep, or reading a stdin pipe that stays open. `runw kill ID TERM`
// and the run exits 143.
func TestContainerViewStopEndsBlockedGuest(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		pipe bool
	}{
		{"sleep", []string{"echo", "ready", "sleep", "60s"}, false},
		{"stdin", []string{"echo", "ready", "stdin"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRunw(t)
			b := newBundle(t, "probe", c.args...)
			id := "blocked-" + c.name
			cmd, stdout, stderr := r.command(t.Context(), "run", "-b", b.dir, id)
			if c.pipe {
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				// The test holds the write end open: the guest's read
				// blocks until the stop.
				t.Cleanup(func() { pw.Close() })
				defer pr.Close()
				cmd.Stdin = pr
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			bg := &background{cmd: cmd, stdout: stdout, stderr: stderr, done: make(chan error, 1)}
			go func() { bg.done <- cmd.Wait() }()
			t.Cleanup(func() { cmd.Process.Kill() })

			deadline := time.Now().Add(30 * time.Second)
			for {
				out, _ := os.ReadFile(stdout.Name())
				if strings.Contains(string(out), "ready") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the guest never printed ready: %s", out)
				}
				time.Sleep(5 * time.Millisecond)
			}
			// Let it enter the blocking call.
			time.Sleep(100 * time.Millisecond)
			began := time.Now()
			if res := r.run("kill", id, "TERM"); res.code != 0 {
				t.Fatalf("runw kill: %v", res)
			}
			res := bg.wait(t, 5*time.Second)
			t.Logf("%s: the run ended %v after runw kill TERM was started", c.name, time.Since(began))
			if res.code != 143 {
				t.Errorf("run exit status %d after TERM, want 143: %v", res.code, res)
			}
		})
	}
}

// A guest opening files until it fails sees EMFILE ("too many open
// files"), the error a Linux process gets, not EIO or a trap.
func TestContainerViewDescriptorExhaustion(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	b := newBundle(t, "probe", "openmany", "/f.txt", "200000")
	b.writeFile("f.txt", "x")
	b.edit(func(s *specs.Spec) {
		// What podman and CRI pass by default.
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}
	})
	res := r.run("run", "-b", b.dir, "emfile")
	got := lines(res.stdout)
	if res.code != 0 || len(got) != 2 || !strings.HasPrefix(got[0], "opened ") {
		t.Fatalf("probe: %v", res)
	}
	t.Logf("%s before the error: %s", got[0], got[1])
	if !strings.Contains(strings.ToLower(got[1]), syscall.EMFILE.Error()) {
		t.Errorf("open after %s: %q, want EMFILE (%q)", got[0], got[1], syscall.EMFILE.Error())
	}
}

// An exited container's tmpfs goes with it, as a native container's goes
// with its mount namespace. runw mounted it in the host's namespace and
// unmounted it only at delete, so under CRI-O, which deletes a container
// only when kubelet removes it, what a guest had left in /dev or /tmp,
// and the memory it takes, stayed charged to the container's cgroup and
// its pod's: the pod's next attempt was OOM-killed. While the container
// runs, an exec'd process still sees the files.
func TestExitedContainerFreesItsTmpfs(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a real tmpfs behind the grant, charged to the container's memory cgroup")
	// The pages are counted where cgroup v1's memory controller is (this
	// machine's); the mount is looked for everywhere.
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.usage_in_bytes")
	v1Memory := err == nil
	r := newRunw(t)
	const size = 32 << 20
	b := newBundle(t, "probe", "writen", "/tmp/big", fmt.Sprint(size), "sleep", "1h")
	b.edit(func(s *specs.Spec) {
		// As every engine's: without a mount namespace of its own the
		// tmpfs is a mount of the host's alone, and stays until delete.
		ownMountAndPID(s)
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}})
	})
	const id = "tmpfsfree"
	r.mustRun("create", "--bundle", b.dir, id)
	r.mustRun("start", id)
	usage := ""
	if v1Memory {
		usage = filepath.Join(cgroupOf(t, "memory", id), "memory.usage_in_bytes")
	}
	charged := func() int64 {
		t.Helper()
		if usage == "" {
			return 0
		}
		data, err := os.ReadFile(usage)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		fmt.Sscan(string(data), &n)
		return n
	}
	want := fmt.Sprintf("OK n=%d zeros=0", size)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := r.run("exec", id, "/probe.wasm", "readn", "/tmp/big", fmt.Sprint(size))
		if strings.TrimSpace(res.stdout) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec reading the guest's /tmp/big: %v, want %q", res, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := charged(); v1Memory && n < size {
		t.Fatalf("running, the container's memory cgroup holds %d bytes, under the %d its tmpfs holds", n, size)
	}
	r.mustRun("kill", id, "KILL")
	r.waitStatus(id, "stopped", 10*time.Second)
	mounted := func() []string {
		data, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		var under []string
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], r.root+"/") {
				under = append(under, f[4])
			}
		}
		return under
	}
	var n int64
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n, left = charged(), mounted()
		if n < size/2 && len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if n >= size/2 {
		t.Errorf("stopped, the container's memory cgroup still holds %d bytes: its tmpfs's %d were not freed", n, size)
	}
	if len(left) != 0 {
		t.Errorf("stopped, the container's tmpfs is still mounted on the host: %q", left)
	}
	r.mustRun("delete", id)
	r.assertRootEmpty()
}

// In a mount namespace joined by path a tmpfs mount is still a tmpfs: its
// size= holds (ENOSPC past it), and an exec'd process sees what the guest
// wrote. runw's mounts, made in the host's namespace, are not in the
// joined one: the init opened the bare directory beneath by its path, on
// the state root's file system, where 5 MB fitted in a 1 MiB /tmp.
func TestJoinedMountNamespaceKeepsTmpfs(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a real tmpfs and a mount namespace to join")
	_, mnt := holdMountNamespace(t, "")
	r := newRunw(t)
	var p probeSteps
	p.add("OK", "write", "/tmp/small", "fits")
	p.add("ERR", "writen", "/tmp/big", "5000000")
	b := newBundle(t, "probe", append(p.args, "sleep", "1h")...)
	b.edit(func(s *specs.Spec) {
		s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace, Path: mnt}}}
		s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777", "size=1m"}}}
	})
	const id = "joinedmnt"
	r.mustRun("run", "-d", "-b", b.dir, id)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		res := r.run("exec", id, "/probe.wasm", "cat", "/tmp/small")
		if res.code == 0 && strings.TrimSpace(res.stdout) == "fits" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec reading the guest's /tmp/small: %v, want \"fits\"", res)
		}
	}
	// The tmpfs runw mounted on the host (kept until delete: the init
	// did not bind it into a mount namespace of its own) holds what the
	// guest wrote.
	if data, err := os.ReadFile(filepath.Join(r.root, id, "private", "tmpfs-0", "small")); err != nil || string(data) != "fits" {
		t.Errorf("the container's tmpfs on the host: /tmp/small %q, %v; want \"fits\"", data, err)
	}
	res := r.run("exec", id, "/probe.wasm", "writen", "/tmp/big2", "5000000")
	if !strings.Contains(strings.ToLower(res.stdout), syscall.ENOSPC.Error()) {
		t.Errorf("exec writing 5 MB into the 1 MiB /tmp: %v, want ENOSPC (%q)", res, syscall.ENOSPC.Error())
	}
	r.mustRun("delete", "-f", id)
	r.assertRootEmpty()
}

// joinMount makes a spec join the mount namespace at path, and no other.
func joinMount(path string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace, Path: path}}}
	}
}

// holdMountNamespace starts a process holding a mount namespace of its
// own (unshare(1), private propagation), which runs the shell commands
// setup there first, and returns its pid and the namespace's path.
func holdMountNamespace(t *testing.T, setup string) (pid int, path string) {
	t.Helper()
	unshare := toolOrSkip(t, "unshare", "to hold a mount namespace")
	ready := filepath.Join(t.TempDir(), "ready")
	// Only the shell's builtins after setup, which may have planted
	// files every other program there would load (an ELF interpreter):
	// it waits on a pipe nobody writes to.
	holder := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-ec", setup+"\n: > "+ready+"\nread x")
	holder.Stderr = os.Stderr
	wait, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wait.Close(); holder.Process.Kill(); holder.Wait() })
	path = fmt.Sprintf("/proc/%d/ns/mnt", holder.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		theirs, err1 := os.Readlink(path)
		ours, err2 := os.Readlink("/proc/self/ns/mnt")
		_, err3 := os.Stat(ready)
		if err1 == nil && err2 == nil && err3 == nil && theirs != ours {
			return holder.Process.Pid, path
		}
		if time.Now().After(deadline) {
			t.Fatalf("unshare made no mount namespace, or its setup failed: %v %v %v", err1, err2, err3)
		}
	}
}

// TestJoinedMountNamespaceCannotStartTheContainer: a container that joins
// a mount namespace by path (another container's, here one a process
// holds) must not find runw's own files by their host paths there: that
// tree is another's to write. Whoever planted a regular file where the
// state root holds the container's exec fifo had the guest run during
// create, with no start (runc hands its init the fifo as a descriptor);
// and the init opened (and made) its cache directory there, where a
// planted directory of root's was taken for runw's cache.
func TestJoinedMountNamespaceCannotStartTheContainer(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a mount namespace to join, and tmpfs mounts in it")
	r := newRunw(t)
	r.cache = filepath.Join(t.TempDir(), "cache")
	const id = "joinedfifo"
	holder, mnt := holdMountNamespace(t, fmt.Sprintf(`mount -t tmpfs -o mode=711 tmpfs %[1]s
mkdir -m 711 %[1]s/%[3]s
: > %[1]s/%[3]s/exec.fifo
mkdir -m 700 %[2]s
mount -t tmpfs -o mode=755 tmpfs %[2]s`, r.root, r.cache, id))
	b := newBundle(t, "probe", "write", "/ran", "yes")
	b.edit(joinMount(mnt))
	r.mustRun("create", "-b", b.dir, id)
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(b.rootfs, "ran")); err == nil {
		t.Errorf("the guest ran at create, with no start: the init took the regular file planted in the joined namespace for its exec fifo")
	}
	if st, res, ok := r.state(id); !ok || st.Status != "created" {
		t.Errorf("after create: %v %v; want created", st, res)
	}
	theirs := filepath.Join(fmt.Sprintf("/proc/%d/root", holder), r.cache)
	if entries, err := os.ReadDir(theirs); err != nil || len(entries) != 0 {
		t.Errorf("the cache directory planted in the joined namespace: %v, %v; want it untouched, empty", entries, err)
	}
	r.mustRun("start", id)
	r.waitStatus(id, "stopped", 10*time.Second)
	if data, err := os.ReadFile(filepath.Join(b.rootfs, "ran")); err != nil || string(data) != "yes" {
		t.Errorf("after start: /ran %q, %v; want the guest to have run", data, err)
	}
	r.mustRun("delete", id)
	r.assertRootEmpty()
}

// TestJoinedMountNamespaceRunsNothingOfItsOwner: an init that joins a
// mount namespace by path sees that namespace's files, another
// container's (whose guest may write them) or whoever made it. Compiling
// for itself (here: no cache, which create cannot compile into), it ran a
// `runw compile` child, and the kernel loaded a dynamically linked runw's
// ELF interpreter from those files: one planted there ran as host root
// with every capability before anything was confined. It now compiles
// in-process there, as an exec'd init does.
func TestJoinedMountNamespaceRunsNothingOfItsOwner(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a mount namespace to join, and a bind mount in it")
	mark := filepath.Join(t.TempDir(), "ran")
	bin, interp, planted := dynamicRunwAndLoader(t, mark)
	r := newRunw(t)
	r.bin = bin
	_, mnt := holdMountNamespace(t, fmt.Sprintf("mount --bind %s %s", planted, interp))
	b := newBundle(t, "probe", "echo", "ran")
	b.edit(joinMount(mnt))
	// No cache, and one that cannot be made (a cache only ever costs
	// speed: handed by name, it failed the create).
	for _, cache := range []string{"", "/dev/null/cache"} {
		res := r.run("--cache-dir", cache, "run", "-b", b.dir, "joinedld")
		if _, err := os.Stat(mark); err == nil {
			t.Fatalf("--cache-dir %q: the interpreter planted in the joined mount namespace ran (%v)", cache, res)
		}
		if res.code != 0 || res.stdout != "ran\n" {
			t.Errorf("--cache-dir %q: runw run: %v; want the guest's \"ran\", exit 0", cache, res)
		}
	}
	r.assertRootEmpty()
}

// TestExecIntoAnotherContainersMountNamespaceIsRefused: a container
// that joined another container's mount namespace resolves its rootfs in
// that container's tree, and its init, which never pivots there, has that
// container's root. exec took it for the container's own: the exec'd
// process was granted the other container's whole root as "/", and
// wrote its files. runw cannot give it the container's view there, and
// refuses in one line (exit 255, as runc's exec that fails).
func TestExecIntoAnotherContainersMountNamespaceIsRefused(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a mount namespace of another container to join")
	r := newRunw(t)
	owner := newBundle(t, "probe", "sleep", "1h")
	b := newBundle(t, "probe", "sleep", "1h")
	// The joining container's rootfs, as the owner's tree holds it.
	theirs := filepath.Join(owner.rootfs, b.rootfs)
	if err := os.MkdirAll(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	probe, err := os.ReadFile(filepath.Join(b.rootfs, "probe.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(theirs, "probe.wasm"), probe, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(owner.rootfs, "owners"), []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	mnt := runMountNamespaceOwner(t, r, owner, "owner", false)
	b.edit(joinMount(mnt))
	r.mustRun("run", "-d", "-b", b.dir, "joiner")
	res := r.run("exec", "joiner", "/probe.wasm", "write", "/owners", "mine")
	if data, _ := os.ReadFile(filepath.Join(owner.rootfs, "owners")); string(data) != "theirs" {
		t.Errorf("an exec'd process of the joining container wrote the owner's /owners: %q (%v)", data, res)
	}
	if res.code != 255 || len(lines(res.stderr)) != 1 || !strings.Contains(res.stderr, "mount namespace") {
		t.Errorf("runw exec: %v; want exit 255 (runc's for an exec that failed) and one line saying why", res)
	}
	r.mustRun("delete", "-f", "joiner")
	r.mustRun("delete", "-f", "owner")
	r.assertRootEmpty()
}

// runMountNamespaceOwner runs owner detached as container id, in a mount
// namespace of its own with /proc mounted (and a pid namespace of its
// own too where ownPID), and returns the path of that mount namespace.
func runMountNamespaceOwner(t *testing.T, r *runw, owner *bundle, id string, ownPID bool) string {
	t.Helper()
	owner.edit(func(s *specs.Spec) {
		s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}}}
		if ownPID {
			ownMountAndPID(s)
		}
		s.Mounts = []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}}
	})
	r.mustRun("run", "-d", "-b", owner.dir, id)
	st, res, ok := r.state(id)
	if !ok {
		t.Fatalf("state of %s: %v", id, res)
	}
	return fmt.Sprintf("/proc/%d/ns/mnt", st.Pid)
}

// TestJoinedMountNamespaceWithoutProcIsNamed: joining the mount
// namespace of a container with a pid namespace of its own, whose /proc
// shows only that namespace's processes, failed on the first thing the
// init reaches through /proc/self/fd, the module, as if it were missing
// ("read \"/probe.wasm\": no such file or directory"). It now says why.
func TestJoinedMountNamespaceWithoutProcIsNamed(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a mount namespace of another container to join")
	r := newRunw(t)
	mnt := runMountNamespaceOwner(t, r, newBundle(t, "probe", "sleep", "1h"), "pidowner", true)
	b := newBundle(t, "probe", "echo", "never")
	b.edit(joinMount(mnt))
	res := r.run("run", "-b", b.dir, "noproc")
	if res.code != 1 || len(lines(res.stderr)) != 1 || !strings.Contains(res.stderr, "has no /proc") {
		t.Errorf("runw run joining the mount namespace of a container with its own pid namespace: %v; want exit 1 and one line naming /proc", res)
	}
	r.mustRun("delete", "-f", "pidowner")
	r.assertRootEmpty()
}

// TestJoinedMountNamespaceWithNoProcIsLeftAlone: in a mount namespace
// joined by path with no /proc mounted (an `unshare -m`'s, whose tree is
// the host's root file system), the init made the directory
// /proc/self/fd/N of its cache there, on the host's disk beneath its
// /proc, and failed as if its module were missing; a directory of that
// name, which anyone who may write the tree can plant, then passed for
// a /proc (a runw exec there had made one). It now fails at once, saying
// why, and makes nothing.
func TestJoinedMountNamespaceWithNoProcIsLeftAlone(t *testing.T) {
	t.Parallel()
	needsRoot(t, "a mount namespace to join, with its /proc unmounted")
	holder, mnt := holdMountNamespace(t, "umount -l /proc\nmkdir -p /proc/self/fd")
	theirProc := fmt.Sprintf("/proc/%d/root/proc", holder)
	// What the init made there before is removed whatever the outcome:
	// it lies on the host's root file system.
	t.Cleanup(func() { os.RemoveAll(filepath.Join(theirProc, "self")) })
	r := newRunw(t)
	b := newBundle(t, "probe", "echo", "never")
	b.edit(joinMount(mnt))
	res := r.run("run", "-b", b.dir, "noprocjoin")
	if res.code != 1 || len(lines(res.stderr)) != 1 || !strings.Contains(res.stderr, "has no /proc") {
		t.Errorf("runw run in a joined mount namespace with no /proc: %v; want exit 1 and one line naming /proc", res)
	}
	if entries, err := os.ReadDir(filepath.Join(theirProc, "self", "fd")); err != nil || len(entries) != 0 {
		t.Errorf("the planted /proc/self/fd of the joined namespace after the run: %v, %v; want it empty, as it was", entries, err)
	}
	r.assertRootEmpty()
}

// TestExecOutlivesTheNamespaceHolder: a container joined an IPC
// namespace by the path of a process that has since exited (an engine's
// holder, a pod's infra container); the namespace lives on with the
// container. exec opened that path again, from the configuration create
// recorded, and failed ("namespace path ...: no such file or
// directory"), where runc's exec works: it joins the init's namespaces.
func TestExecOutlivesTheNamespaceHolder(t *testing.T) {
	t.Parallel()
	needsRoot(t, "an IPC namespace to join")
	unshare := toolOrSkip(t, "unshare", "to hold an IPC namespace")
	holder := exec.Command(unshare, "--ipc", "sleep", "600")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	ipc := fmt.Sprintf("/proc/%d/ns/ipc", holder.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		theirs, err1 := os.Readlink(ipc)
		ours, err2 := os.Readlink("/proc/self/ns/ipc")
		if err1 == nil && err2 == nil && theirs != ours {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unshare made no IPC namespace: %v %v", err1, err2)
		}
	}
	r := newRunw(t)
	b := newBundle(t, "probe", "sleep", "1h")
	b.edit(func(s *specs.Spec) {
		s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.IPCNamespace, Path: ipc}}}
	})
	r.mustRun("run", "-d", "-b", b.dir, "holderless")
	holder.Process.Kill()
	holder.Wait()
	if res := r.run("exec", "holderless", "/probe.wasm", "echo", "still"); res.code != 0 || res.stdout != "still\n" {
		t.Errorf("exec once the namespace's holder has exited: %v; want \"still\", exit 0", res)
	}
	r.mustRun("delete", "-f", "holderless")
	r.assertRootEmpty()
}

// A tmpfs mount with size=1m holds at most 1 MiB: writing 5 MB fails with
// ENOSPC, as on a real tmpfs.
func TestContainerViewTmpfsSizeLimit(t *testing.T) {
	t.Parallel()
	r := newRunw(t)
	var p probeSteps
	p.add("OK", "write", "/tmp/small", "fits")
	p.add("ERR", "writen", "/tmp/big", "5000000")
	b := newBundle(t, "probe", p.args...)
	b.edit(func(s *specs.Spec) {
		s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777", "size=1m"}}}
	})
	res := r.run("run", "-b", b.dir, "tmpfssize")
	wantLines(t, p.names, res, p.want)
	if got := lines(res.stdout); len(got) > 1 && !strings.Contains(strings.ToLower(got[1]), syscall.ENOSPC.Error()) {
		t.Errorf("writing 5 MB into a 1 MiB tmpfs: %q, want ENOSPC (%q)", got[1], syscall.ENOSPC.Error())
	}
}
