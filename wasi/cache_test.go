package wasi

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
)

// writeWAT writes a small module whose exported function returns n, so
// that two modules differ in content and in behaviour.
func writeWAT(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.wat")
	src := `(module (func (export "n") (result i32) i32.const ` + strconv.Itoa(n) + `))`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// keyOfWAT is the cache key of a WAT file: of its text, never assembled
// to be keyed.
func keyOfWAT(t *testing.T, path string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return keyOf(src, true)
}

// cached reports whether the cache holds an entry for key, without
// touching its recency.
func cached(c *Cache, key string) bool {
	_, err := os.Stat(c.sum(key))
	return err == nil
}

// call instantiates m and returns what its "n" export returns.
func call(t *testing.T, engine *wasmtime.Engine, m *wasmtime.Module) int32 {
	t.Helper()
	store := wasmtime.NewStore(engine)
	inst, err := wasmtime.NewInstance(store, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := inst.GetFunc(store, "n").Call(store)
	if err != nil {
		t.Fatal(err)
	}
	return v.(int32)
}

func openTestCache(t *testing.T, max int64) *Cache {
	t.Helper()
	c, err := OpenCache(filepath.Join(t.TempDir(), "cache"), max)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCacheMissThenHit(t *testing.T) {
	c := openTestCache(t, 0)
	engine := NewEngine()
	p := writeWAT(t, 41)
	m, hit, err := Compile(engine, p, spec.KindWAT, c)
	if err != nil || hit {
		t.Fatalf("first compile: hit=%v err=%v, want a miss", hit, err)
	}
	if got := call(t, engine, m); got != 41 {
		t.Fatalf("compiled module returned %d", got)
	}
	other := NewEngine()
	m, hit, err = Compile(other, p, spec.KindWAT, c)
	if err != nil || !hit {
		t.Fatalf("second compile: hit=%v err=%v, want a hit", hit, err)
	}
	if got := call(t, other, m); got != 41 {
		t.Fatalf("cached module returned %d", got)
	}
	// A different module is a different key: a miss, never the other's code.
	m, hit, err = Compile(engine, writeWAT(t, 42), spec.KindWAT, c)
	if err != nil || hit || call(t, engine, m) != 42 {
		t.Fatalf("other module: hit=%v err=%v", hit, err)
	}
}

func TestCacheCorruptEntryIsRecompiled(t *testing.T) {
	for _, damage := range []struct {
		name string
		do   func(path string) error
	}{
		{"truncated", func(p string) error { return os.Truncate(p, 100) }},
		{"bit flipped", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0xff
			return os.WriteFile(p, b, 0o600)
		}},
		{"sidecar missing", func(p string) error { return os.Remove(strings.TrimSuffix(p, ".cwasm") + ".sum") }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			c := openTestCache(t, 0)
			engine := NewEngine()
			p := writeWAT(t, 7)
			if _, _, err := Compile(engine, p, spec.KindWAT, c); err != nil {
				t.Fatal(err)
			}
			entries, _ := c.List()
			if len(entries) != 1 {
				t.Fatalf("want 1 entry, have %d", len(entries))
			}
			if err := damage.do(c.path(entries[0].Key)); err != nil {
				t.Fatal(err)
			}
			m, hit, err := Compile(engine, p, spec.KindWAT, c)
			if err != nil || hit {
				t.Fatalf("damaged entry: hit=%v err=%v, want a recompile", hit, err)
			}
			if call(t, engine, m) != 7 {
				t.Fatal("recompiled module is wrong")
			}
			if _, hit, _ := Compile(engine, p, spec.KindWAT, c); !hit {
				t.Fatal("entry was not rewritten after the recompile")
			}
		})
	}
}

// TestCacheRefusesPlantedArtifact tries the attack the cache guards
// against: a file with a valid key name that runw did not write.
func TestCacheRefusesPlantedArtifact(t *testing.T) {
	c := openTestCache(t, 0)
	engine := NewEngine()
	evil := writeWAT(t, 666)
	good := writeWAT(t, 1)
	// Compile the evil module elsewhere and plant its artifact under the
	// good module's key, without the sidecar runw writes.
	other := openTestCache(t, 0)
	if _, _, err := Compile(engine, evil, spec.KindWAT, other); err != nil {
		t.Fatal(err)
	}
	oe, _ := other.List()
	goodKey := keyOfWAT(t, good)
	art, _ := os.ReadFile(other.path(oe[0].Key))
	if err := os.WriteFile(c.path(goodKey), art, 0o600); err != nil {
		t.Fatal(err)
	}
	m, hit, err := Compile(engine, good, spec.KindWAT, c)
	if err != nil || hit || call(t, engine, m) != 1 {
		t.Fatalf("planted artifact was used: hit=%v err=%v", hit, err)
	}
}

func TestOpenCacheRefusesOpenDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	if _, err := OpenCache(dir, 0); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("world-writable cache dir accepted: %v", err)
	}
}

func TestCacheConcurrentWritersOfOneKey(t *testing.T) {
	c := openTestCache(t, 0)
	p := writeWAT(t, 5)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			engine := NewEngine()
			m, _, err := Compile(engine, p, spec.KindWAT, c)
			if err == nil && call(t, engine, m) != 5 {
				err = os.ErrInvalid
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := c.List()
	if len(entries) != 1 || entries[0].Corrupt {
		t.Fatalf("want one whole entry, have %+v", entries)
	}
	left, _ := filepath.Glob(filepath.Join(c.Dir, ".tmp-*"))
	if len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
	if _, hit, err := Compile(NewEngine(), p, spec.KindWAT, c); err != nil || !hit {
		t.Fatalf("after concurrent writes: hit=%v err=%v", hit, err)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := openTestCache(t, 0)
	engine := NewEngine()
	a, b, d := writeWAT(t, 1), writeWAT(t, 2), writeWAT(t, 3)
	for _, p := range []string{a, b} {
		if _, _, err := Compile(engine, p, spec.KindWAT, c); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := c.List()
	size := entries[0].Size
	// Use a after b so that b is the least recently used.
	past := time.Now().Add(-time.Hour)
	os.Chtimes(c.sum(keyOfWAT(t, b)), past, past)
	if _, hit, _ := Compile(engine, a, spec.KindWAT, c); !hit {
		t.Fatal("a should be cached")
	}
	// Room for two entries: adding d must evict b, the least recently used.
	c.Max = 2*size + size/2
	if _, _, err := Compile(engine, d, spec.KindWAT, c); err != nil {
		t.Fatal(err)
	}
	if cached(c, keyOfWAT(t, b)) {
		t.Fatal("b should have been evicted")
	}
	for _, p := range []string{a, d} {
		if !cached(c, keyOfWAT(t, p)) {
			t.Fatalf("%s should still be cached", p)
		}
	}
}

// A temporary file that a killed compile left in the cache (up to an
// artifact's size, outside the cache's bound) goes at the next store once
// it is an hour old; a fresh one, maybe another process's write, stays.
func TestCacheSweepsStaleTemps(t *testing.T) {
	c := openTestCache(t, 0)
	stale, fresh := filepath.Join(c.Dir, ".tmp-stale"), filepath.Join(c.Dir, ".tmp-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, make([]byte, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, past, past); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Compile(NewEngine(), writeWAT(t, 1), spec.KindWAT, c); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a two-hour-old temporary file is still in the cache")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temporary file was removed: %v", err)
	}
}

// TestCacheModuleRewrittenInPlace tries to fool the identity index: the
// module file is rewritten at the same path with other code of the same
// size. runw must run the new code, never the old artifact.
func TestCacheModuleRewrittenInPlace(t *testing.T) {
	c := openTestCache(t, 0)
	engine := NewEngine()
	p := writeWAT(t, 11)
	if m, _, err := Compile(engine, p, spec.KindWAT, c); err != nil || call(t, engine, m) != 11 {
		t.Fatalf("first: %v", err)
	}
	if _, hit, _ := Compile(engine, p, spec.KindWAT, c); !hit {
		t.Fatal("unchanged module should hit")
	}
	fi, _ := os.Stat(p)
	src := `(module (func (export "n") (result i32) i32.const 22))`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// Same size and even the same mtime: only ctime tells them apart.
	if fi2, _ := os.Stat(p); fi2.Size() != fi.Size() {
		t.Fatalf("test needs equal sizes: %d vs %d", fi.Size(), fi2.Size())
	}
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	m, hit, err := Compile(engine, p, spec.KindWAT, c)
	if err != nil || hit || call(t, engine, m) != 22 {
		t.Fatalf("rewritten module: hit=%v err=%v", hit, err)
	}
}

func TestCachePruneEmptiesTheDirectory(t *testing.T) {
	c := openTestCache(t, 0)
	engine := NewEngine()
	for _, n := range []int{1, 2} {
		if _, _, err := Compile(engine, writeWAT(t, n), spec.KindWAT, c); err != nil {
			t.Fatal(err)
		}
	}
	// What a create killed midway leaves (its compile lock, a temporary
	// file of its artifact), which prune left for good; and what a
	// compile or write in progress holds, which it must leave.
	old := time.Now().Add(-time.Minute)
	for _, name := range []string{strings.Repeat("a", 64) + ".lock", ".tmp-123"} {
		if err := os.WriteFile(filepath.Join(c.Dir, name), []byte("left"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(filepath.Join(c.Dir, name), old, old)
	}
	// One just made, whose maker has not yet taken its flock.
	if err := os.WriteFile(filepath.Join(c.Dir, ".tmp-new"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	release, held := c.LockCompile(strings.Repeat("b", 64))
	if !held {
		t.Fatal("LockCompile did not take the lock")
	}
	writing, err := os.CreateTemp(c.Dir, ".tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer writing.Close()
	if err := unix.Flock(int(writing.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(writing.Name(), old, old)
	os.Chtimes(filepath.Join(c.Dir, strings.Repeat("b", 64)+".lock"), old, old)
	n, err := c.Prune()
	if err != nil || n != 2 {
		t.Fatalf("prune: n=%d err=%v", n, err)
	}
	var names []string
	left, _ := os.ReadDir(c.Dir)
	for _, e := range left {
		names = append(names, e.Name())
	}
	want := []string{filepath.Base(writing.Name()), ".tmp-new", strings.Repeat("b", 64) + ".lock"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("left after prune: %q, want only what is held: %q", names, want)
	}
	release()
	writing.Close()
	os.Remove(writing.Name())
	os.Remove(filepath.Join(c.Dir, ".tmp-new"))
	if left, _ := os.ReadDir(c.Dir); len(left) != 0 {
		t.Fatalf("left after the holders let go: %v", left)
	}
}

// TestOpenCacheRefusesAPathOthersCanChange: the cache directory is taken
// only where no one but root and runw's user can change where its path
// leads. The attack: a user who may write to a parent of the cache moves
// it aside and links a root-owned directory they filled (an image's
// layer) in its place; OpenCache checked the directory at the end of the
// link alone (root's, 0755), and mapped their artifacts.
func TestOpenCacheRefusesAPathOthersCanChange(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes directories another user owns")
	}
	const nobody = 65534
	base := t.TempDir()
	// A root-owned directory someone else filled, as an image's layer is.
	layer := filepath.Join(base, "layer")
	if err := os.MkdirAll(layer, 0o755); err != nil {
		t.Fatal(err)
	}
	// The attacker's parent: the cache under it is moved aside for a link.
	theirs := filepath.Join(base, "theirs")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(layer, filepath.Join(theirs, "cache")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCache(filepath.Join(theirs, "cache"), 0); err == nil || !strings.Contains(err.Error(), "refusing") || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("a cache linked from a directory uid 65534 owns: %v, want it refused", err)
	}
	// A real directory under it is refused too: the attacker could swap it.
	if err := os.Mkdir(filepath.Join(theirs, "real"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCache(filepath.Join(theirs, "real"), 0); err == nil {
		t.Error("a cache in a directory uid 65534 owns was accepted")
	}
	// In a sticky directory others may write (/tmp), a link is followed
	// only if root or runw's user owns it.
	sticky := filepath.Join(base, "sticky")
	if err := os.Mkdir(sticky, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(sticky, "cache")
	if err := os.Symlink(layer, planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(planted, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCache(planted, 0); err == nil || !strings.Contains(err.Error(), "link") {
		t.Errorf("a cache linked by uid 65534 in a sticky directory: %v, want it refused", err)
	}
	// What runw's own user made is taken: a directory in the sticky
	// one, and a link to it from a directory only root can write, which
	// may itself be reached through a relative link.
	own := filepath.Join(sticky, "own")
	if _, err := OpenCache(own, 0); err != nil {
		t.Errorf("a cache root made in a sticky directory: %v", err)
	}
	links := filepath.Join(base, "links")
	if err := os.Mkdir(links, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../sticky/own", filepath.Join(links, "cache")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("links", filepath.Join(base, "via")); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(filepath.Join(base, "via", "cache"), 0)
	if err != nil {
		t.Fatalf("a cache reached through root's links: %v", err)
	}
	defer c.Close()
	want, _ := os.Stat(own)
	if got, err := os.Stat(c.at); err != nil || !os.SameFile(got, want) {
		t.Errorf("the cache opened through links is not %s (%v)", own, err)
	}
	// ".." in a link's target is taken from where the link before it led,
	// as the kernel takes it: links2/cache -> a/../c, a -> real/deep, is
	// real/c, not links2/c.
	for _, d := range []string{"real/deep", "real/c", "links2/c"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(base, "real/deep"), filepath.Join(base, "links2/a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/../c", filepath.Join(base, "links2/cache")); err != nil {
		t.Fatal(err)
	}
	c2, err := OpenCache(filepath.Join(base, "links2/cache"), 0)
	if err != nil {
		t.Fatalf("a cache reached through a link with \"..\": %v", err)
	}
	defer c2.Close()
	want, _ = os.Stat(filepath.Join(base, "links2/cache"))
	if got, err := os.Stat(c2.at); err != nil || !os.SameFile(got, want) {
		t.Errorf("the cache opened through a/../c is not the kernel's real/c (%v)", err)
	}
}

// TestCacheRefusesAnEntryWithASecondName: an artifact hard-linked from
// elsewhere (a backup tool's cp -al, a dedup) could be rewritten through
// that name, its CRC-32C forged, outside every check of the cache's; runw
// writes each entry once, by rename, so an entry with a second name is
// dropped and compiled again.
func TestCacheRefusesAnEntryWithASecondName(t *testing.T) {
	c := openTestCache(t, 0)
	const key = "ab"
	if err := c.Store(key, []byte("artifact")); err != nil {
		t.Fatal(err)
	}
	if !c.Holds(key) {
		t.Fatal("a stored entry is not held")
	}
	if err := os.Link(c.path(key), filepath.Join(t.TempDir(), "backup.cwasm")); err != nil {
		t.Fatal(err)
	}
	if c.Holds(key) {
		t.Error("an entry with a second name is held")
	}
}

// TestOpenCacheRefusesAMountInASharedDirectory: out of a directory others
// may write (/tmp), the walk does not cross into another mount: a user's
// FUSE mount there reports whatever owner its server likes (root's, 0700)
// and served planted artifacts. A tmpfs stands in for it.
func TestOpenCacheRefusesAMountInASharedDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a tmpfs")
	}
	sticky := filepath.Join(t.TempDir(), "sticky")
	if err := os.Mkdir(sticky, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(sticky, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	if _, err := OpenCache(filepath.Join(mnt, "cache"), 0); err == nil || !strings.Contains(err.Error(), "a mount in a directory others may write") {
		t.Errorf("a cache on a mount in a sticky directory: %v, want it refused", err)
	}
}

// TestOpenCacheAcceptsReadableDirectory: what matters is who can write
// (plant code), so a root-owned 0755 directory, as `mkdir -p` makes it, is
// used rather than silently disabling the cache.
func TestOpenCacheAcceptsReadableDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if _, err := OpenCache(dir, 0); err != nil {
		t.Fatalf("0755 cache dir refused: %v", err)
	}
	os.Chmod(dir, 0o775)
	if _, err := OpenCache(dir, 0); err == nil {
		t.Fatal("group-writable cache dir accepted")
	}
}

// TestCacheIndexIsBounded: every bundle is a fresh directory, so every
// run of the same module leaves an identity index file of its own. 50
// fresh bundles must leave no more than MaxIndex of them, and the most
// recent bundle's must be one of those kept.
func TestCacheIndexIsBounded(t *testing.T) {
	c := openTestCache(t, 0)
	c.MaxIndex = 16
	engine := NewEngine()
	src := writeWAT(t, 7)
	data, _ := os.ReadFile(src)
	var last string
	for i := 0; i < 50; i++ {
		last = filepath.Join(t.TempDir(), "bundle", "rootfs", "m.wat")
		os.MkdirAll(filepath.Dir(last), 0o755)
		if err := os.WriteFile(last, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Compile(engine, last, spec.KindWAT, c); err != nil {
			t.Fatal(err)
		}
	}
	idx, _ := filepath.Glob(filepath.Join(c.Dir, "*.idx"))
	if len(idx) > c.MaxIndex {
		t.Errorf("%d index files after 50 fresh bundles, want at most %d", len(idx), c.MaxIndex)
	}
	fi, _ := os.Stat(last)
	if b, err := os.ReadFile(c.indexFile(last, fi)); err != nil || string(b) != keyOfWAT(t, last) {
		t.Errorf("the latest bundle's index entry was dropped (%q, %v)", b, err)
	}
}

// TestCacheEvictionTakesIndexAlong: an evicted artifact's index files go
// with it, so the index never outlives what it points to.
func TestCacheEvictionTakesIndexAlong(t *testing.T) {
	c := openTestCache(t, 0)
	engine := NewEngine()
	a, b := writeWAT(t, 1), writeWAT(t, 2)
	if _, _, err := Compile(engine, a, spec.KindWAT, c); err != nil {
		t.Fatal(err)
	}
	entries, _ := c.List()
	past := time.Now().Add(-time.Hour)
	os.Chtimes(c.sum(keyOfWAT(t, a)), past, past)
	c.Max = entries[0].Size + entries[0].Size/2 // room for one
	if _, _, err := Compile(engine, b, spec.KindWAT, c); err != nil {
		t.Fatal(err)
	}
	if cached(c, keyOfWAT(t, a)) {
		t.Fatal("a should have been evicted")
	}
	idx, _ := filepath.Glob(filepath.Join(c.Dir, "*.idx"))
	for _, p := range idx {
		if k, _ := os.ReadFile(p); string(k) == keyOfWAT(t, a) {
			t.Errorf("index file %s still points to the evicted entry", filepath.Base(p))
		}
	}
	if len(idx) != 1 {
		t.Errorf("%d index files, want 1 (b's)", len(idx))
	}
}

// TestCacheKeepsTheDirectoryItChecked: once opened, the cache is the
// directory OpenCache checked, whatever is put at its path afterwards.
// Someone who can write to a parent of the cache directory swaps in a
// directory of their own holding a valid artifact of their code under the
// key of the victim's module; runw must not load it.
func TestCacheKeepsTheDirectoryItChecked(t *testing.T) {
	base := t.TempDir()
	victim := writeWAT(t, 1)
	engine := NewEngine()

	// The planted directory: the attacker's module compiled into a cache
	// of its own, its files renamed to the victim's key.
	planted := filepath.Join(base, "planted")
	pc, err := OpenCache(planted, 0)
	if err != nil {
		t.Fatal(err)
	}
	evil := writeWAT(t, 666)
	if _, _, err := Compile(engine, evil, spec.KindWAT, pc); err != nil {
		t.Fatal(err)
	}
	evilKey, victimKey := keyOfWAT(t, evil), keyOfWAT(t, victim)
	for _, ext := range []string{".cwasm", ".sum", ".ok"} {
		os.Rename(filepath.Join(planted, evilKey+ext), filepath.Join(planted, victimKey+ext))
	}

	dir := filepath.Join(base, "cache")
	c, err := OpenCache(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	// After the check: the checked directory moves away, the planted one
	// takes its path.
	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(planted, dir); err != nil {
		t.Fatal(err)
	}
	if m := c.Load(engine, victimKey); m != nil {
		t.Fatalf("loaded an artifact planted at the cache's path after it was checked (returns %d)", call(t, engine, m))
	}
	m, hit, err := Compile(engine, victim, spec.KindWAT, c)
	if err != nil || hit || call(t, engine, m) != 1 {
		t.Fatalf("the victim's module: hit=%v err=%v", hit, err)
	}
	if _, err := os.Stat(filepath.Join(dir+".moved", victimKey+".cwasm")); err != nil {
		t.Errorf("the artifact was not stored in the checked directory: %v", err)
	}
}

// The attack: an image (or, for runw exec, a guest with a writable
// rootfs: one ftruncate) ships a sparse module of gigabytes, a few KiB on
// disk. create and exec read it on the host, as root and outside the
// container's cgroup, before any limit applies. It is refused from its
// size, before a byte is read.
func TestHugeSparseModuleIsRefusedUnread(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.wasm")
	if err := os.WriteFile(p, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 64<<30); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(filepath.Join(t.TempDir(), "cache"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.KeyFor(p, false); !errors.Is(err, ErrModuleTooLarge) {
		t.Fatalf("KeyFor of a 64 GiB module: %v, want ErrModuleTooLarge", err)
	}
	if c.Has(p, spec.KindModule) {
		t.Fatal("Has says a 64 GiB module is cached")
	}
	if _, _, err := Compile(NewEngine(), p, spec.KindModule, nil); !errors.Is(err, ErrModuleTooLarge) {
		t.Fatalf("Compile without a cache: %v, want ErrModuleTooLarge", err)
	}
}

// TestCompileLockWaitIsBounded: a process compiling a module holds its
// key's lock; one that misses the same module waits for it, but not past
// CompileLockWait: the holder may be frozen (an exec'd process in a
// paused container) and the waiter, a create, has its own time bound.
func TestCompileLockWaitIsBounded(t *testing.T) {
	c, err := OpenCache(filepath.Join(t.TempDir(), "cache"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	held, ok := c.LockCompile("k") // the holder, frozen
	if !ok {
		t.Fatal("the first LockCompile did not take the lock")
	}
	defer held()
	was := CompileLockWait
	CompileLockWait = 300 * time.Millisecond
	defer func() { CompileLockWait = was }()
	done := make(chan struct{})
	go func() {
		release, ok := c.LockCompile("k")
		if ok {
			t.Error("a second LockCompile took a lock still held")
		}
		release()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a second compile of the same key still waits for a frozen holder after 10 s")
	}
}

// hashModule is Key of the binary module or component at path, read
// through CopyKeyed. It reads at most limit bytes (MaxModuleSize, as
// ReadModule, or less), whatever the file's size said when it was opened:
// a file that grows while it is hashed is refused once it passes limit.
// text says the file is WAT (keyOf).
func hashModule(path string, limit int64, text bool) (string, error) {
	f, _, err := openModule(path, limit)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return CopyKeyed(io.Discard, f, path, limit, text)
}

// TestHashModuleIsKey: a binary file hashed in pieces gets the key of its
// bytes read whole, whatever its size against the buffer, a component's
// included; a file over MaxModuleSize is refused before it is hashed.
func TestHashModuleIsKey(t *testing.T) {
	dir := t.TempDir()
	heads := map[string][]byte{
		"module":    []byte("\x00asm\x01\x00\x00\x00"),
		"component": []byte("\x00asm\x0d\x00\x01\x00"),
	}
	for name, head := range heads {
		for _, size := range []int{0, 3, 8, 9, 128<<10 - 1, 128 << 10, 128<<10 + 1, 300 << 10} {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i * 7)
			}
			copy(data, head)
			p := filepath.Join(dir, name+strconv.Itoa(size))
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := hashModule(p, MaxModuleSize, false)
			if err != nil || got != Key(data) {
				t.Errorf("%s of %d bytes: hashModule = %q, %v; want Key of its bytes %q", name, size, got, err, Key(data))
			}
		}
	}
	p := filepath.Join(dir, "module"+strconv.Itoa(300<<10))
	defer func(old int64) { MaxModuleSize = old }(MaxModuleSize)
	MaxModuleSize = 200 << 10
	if _, err := hashModule(p, MaxModuleSize, false); !errors.Is(err, ErrModuleTooLarge) {
		t.Fatalf("a file over MaxModuleSize: %v, want ErrModuleTooLarge", err)
	}
}

// TestCacheKeysTheBytesItCompiles: the attack is a module rewritten while
// runw keys and compiles it (a guest's own file, an image being pulled),
// so that the artifact of one content is stored under the key of another
// and later run for it. The key is hashed in pieces before the compile
// reads the file whole; the compile must key what it read. A writer swaps
// two modules in and out as fast as it can while a fresh cache compiles
// the path again and again: every artifact kept must be its key's.
func TestCacheKeysTheBytesItCompiles(t *testing.T) {
	engine := NewEngine()
	dir := t.TempDir()
	var mods [2][]byte
	var keys [2]string
	for i := range mods {
		wasm, err := wasmtime.Wat2Wasm(`(module (func (export "n") (result i32) i32.const ` + strconv.Itoa(i) + `) (data (i32.const 0) "` + strings.Repeat("x", 256<<10) + `") (memory 8))`)
		if err != nil {
			t.Fatal(err)
		}
		mods[i], keys[i] = wasm, Key(wasm)
	}
	p := filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(p, mods[0], 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := filepath.Join(dir, "next")
			if os.WriteFile(tmp, mods[i%2], 0o644) != nil || os.Rename(tmp, p) != nil {
				t.Error("swap the module")
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := 0; i < 200; i++ {
		c := openTestCache(t, 0)
		m, _, key, err := CompileKeyed(engine, p, spec.KindModule, c)
		if err != nil {
			t.Fatal(err)
		}
		got := call(t, engine, m)
		if key != keys[got] {
			t.Fatalf("run %d: compiled module %d reported under key %s, module %d's key is %s", i, got, key, got, keys[got])
		}
		for want, k := range keys {
			if cm := c.Load(engine, k); cm != nil && call(t, engine, cm) != int32(want) {
				t.Fatalf("run %d: the artifact under module %d's key is module %d's", i, want, 1-want)
			}
		}
		c.Close()
	}
}

// TestConfigIsItsPointer: NewEngine reaches wasmtime-go's C config
// through an unsafe cast that holds only while Config is its C pointer
// alone; a wasmtime-go upgrade that changes the layout fails here first.
func TestConfigIsItsPointer(t *testing.T) {
	if got, want := unsafe.Sizeof(wasmtime.Config{}), unsafe.Sizeof(uintptr(0)); got != want {
		t.Fatalf("wasmtime.Config is %d bytes, want one pointer (%d): NewEngine's cast is wrong", got, want)
	}
}

// TestStoreFromStoresOnlyAWholeArtifact: runtime's compile child hands its
// artifact back through a pipe, which StoreFrom reads into the cache. An
// artifact past the bound, or one whose writer did not end cleanly (done
// fails: the child died mid-write), is not stored, and leaves no
// temporary file; a whole one is stored, sidecar and all, and loads.
func TestStoreFromStoresOnlyAWholeArtifact(t *testing.T) {
	c := openTestCache(t, 0)
	engine := NewEngine()
	key, art := emptyModuleArtifact(t, engine)
	calls := 0
	err := c.StoreFrom(key, bytes.NewReader(art), int64(len(art))-1, func() error { calls++; return nil })
	if err == nil || cached(c, key) || calls != 0 {
		t.Fatalf("an artifact past the bound: %v, stored %v, done called %d times; want an error, nothing stored, done not called", err, cached(c, key), calls)
	}
	if err := c.StoreFrom(key, bytes.NewReader(nil), int64(len(art)), nil); err == nil || cached(c, key) {
		t.Fatalf("an empty artifact: %v, stored %v; want an error, nothing stored", err, cached(c, key))
	}
	// A writer that wrote nothing because it failed says why.
	died := errors.New("the child died")
	if err := c.StoreFrom(key, bytes.NewReader(nil), int64(len(art)), func() error { return died }); !errors.Is(err, died) {
		t.Fatalf("an empty artifact from a writer that failed: %v, want its error", err)
	}
	if err := c.StoreFrom(key, bytes.NewReader(art), int64(len(art)), func() error { return died }); !errors.Is(err, died) || cached(c, key) {
		t.Fatalf("an artifact whose writer failed: %v, stored %v; want its error and nothing stored", err, cached(c, key))
	}
	if temps, _ := filepath.Glob(filepath.Join(c.Dir, ".tmp-*")); len(temps) != 0 {
		t.Errorf("temporary files left behind: %v", temps)
	}
	if err := c.StoreFrom(key, bytes.NewReader(art), int64(len(art)), func() error { calls++; return nil }); err != nil || calls != 1 {
		t.Fatalf("a whole artifact: %v (done called %d times)", err, calls)
	}
	if loaded := c.Load(engine, key); loaded == nil {
		t.Fatal("the artifact stored from a reader does not load")
	}
}

// A key names an entry inside the cache, never a path: `runw cache rm
// ../../../../x` removed x.cwasm, x.sum and x.ok outside it, since the
// names are joined to the cache's /proc/self/fd path and ".." is cleaned
// lexically. An index entry is held to the same form.
func TestCacheKeysAreNotPaths(t *testing.T) {
	c := openTestCache(t, 0)
	victim := t.TempDir()
	for _, ext := range []string{".cwasm", ".sum", ".ok"} {
		if err := os.WriteFile(filepath.Join(victim, "x"+ext), []byte("host file"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	up := strings.Repeat("../", 12) + strings.TrimPrefix(filepath.Join(victim, "x"), "/")
	for _, key := range []string{up, strings.ToUpper(strings.Repeat("ab", 32)), strings.Repeat("a", 63), ""} {
		err := c.Remove(key)
		if err == nil || !strings.Contains(err.Error(), "not a key") {
			t.Errorf("Remove(%q): %v, want a refusal", key, err)
		}
	}
	for _, ext := range []string{".cwasm", ".sum", ".ok"} {
		if _, err := os.Stat(filepath.Join(victim, "x"+ext)); err != nil {
			t.Errorf("x%s outside the cache: %v", ext, err)
		}
	}
	if isKey(strings.Repeat("../", 21)+"a") || !isKey(strings.Repeat("0f", 32)) {
		t.Error("isKey takes a path or refuses a key")
	}
}

// mountTmpfs mounts a tmpfs with data at a new directory, for the test's
// life; it skips without root.
func mountTmpfs(t *testing.T, flags uintptr, data string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, data); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// A cache on a noexec mount serves its artifacts: wasmtime could not map
// their code executable through the cache's view, which keeps noexec
// (EACCES), so every load was taken for a damaged entry, which was
// removed and compiled again at every start.
func TestCacheOnANoexecMount(t *testing.T) {
	c, err := OpenCache(filepath.Join(mountTmpfs(t, unix.MS_NOEXEC, "mode=755"), "cache"), 0)
	if err != nil {
		t.Fatal(err)
	}
	engine := NewEngine()
	p := writeWAT(t, 41)
	if _, hit, err := Compile(engine, p, spec.KindWAT, c); err != nil || hit {
		t.Fatalf("first compile: hit=%v err=%v, want a miss", hit, err)
	}
	before, err := os.Stat(c.path(keyOfWAT(t, p)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		other := NewEngine()
		m, hit, err := Compile(other, p, spec.KindWAT, c)
		if err != nil || !hit {
			t.Fatalf("compile %d on the noexec cache: hit=%v err=%v, want a hit", i+2, hit, err)
		}
		if got := call(t, other, m); got != 41 {
			t.Fatalf("cached module returned %d", got)
		}
	}
	if after, err := os.Stat(c.path(keyOfWAT(t, p))); err != nil || !os.SameFile(before, after) {
		t.Errorf("the artifact was replaced (%v): loads removed it", err)
	}
}

// An artifact whose sidecar cannot be written (the disk filled up in
// between) is not left behind: no reader would take it, and it held the
// space every later store then lacked.
func TestStoreFromLeavesNoArtifactWithoutItsSum(t *testing.T) {
	dir := mountTmpfs(t, 0, "size=2m,mode=755")
	c, err := OpenCache(filepath.Join(dir, "cache"), 0)
	if err != nil {
		t.Fatal(err)
	}
	key, art := emptyModuleArtifact(t, NewEngine())
	// Fill the file system but for the artifact's own pages: its
	// temporary copy and its rename fit, the sidecar's file does not.
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	fill := int64(st.Bavail)*st.Bsize - int64(len(art)+int(st.Bsize)-1)/st.Bsize*st.Bsize
	if err := os.WriteFile(filepath.Join(dir, "fill"), make([]byte, fill), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.StoreFrom(key, bytes.NewReader(art), int64(len(art)), nil); err == nil {
		t.Fatal("a store on a full file system succeeded")
	}
	if _, err := os.Stat(c.path(key)); err == nil {
		t.Error("the artifact without its sidecar was left behind")
	}
}

// A lease is refused while a writer holds the module, and reads as
// broken when a writer opens it while it is held (the writer's open
// waits for its release): the identity index is then left alone.
func TestLeaseSeesWriters(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs CAP_LEASE or the file's owner; runs as root in make test")
	}
	p := writeWAT(t, 1)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if l := HoldLease(f); l != nil {
		l.Release()
		t.Error("a lease was granted while a writer held the file")
	}
	w.Close()
	l := HoldLease(f)
	if l == nil {
		t.Fatal("no lease on a file nobody writes")
	}
	// Another process's open for writing breaks it, without a signal
	// to the holder (the init stops on SIGIO).
	sigio := make(chan os.Signal, 1)
	signal.Notify(sigio, unix.SIGIO)
	defer signal.Stop(sigio)
	writer := exec.Command("sh", "-c", "exec 3>>"+p)
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		held, _ := unix.FcntlInt(f.Fd(), unix.F_GETLEASE, 0)
		if held != unix.F_RDLCK || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if l.Release() {
		t.Error("a lease a writer's open broke reads as whole")
	}
	select {
	case <-sigio:
		t.Error("the lease's break sent SIGIO to its holder")
	case <-time.After(100 * time.Millisecond):
	}
	if err := writer.Wait(); err != nil {
		t.Errorf("the writer's open after the release: %v", err)
	}
	if l := HoldLease(f); l == nil || !l.Release() {
		t.Error("no whole lease once the writer is gone")
	}
}

// emptyModuleArtifact is the key of the empty module and its artifact,
// compiled by engine.
func emptyModuleArtifact(t *testing.T, engine *wasmtime.Engine) (string, []byte) {
	t.Helper()
	empty := []byte("\x00asm\x01\x00\x00\x00")
	m, err := wasmtime.NewModule(engine, empty)
	if err != nil {
		t.Fatal(err)
	}
	art, err := m.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return Key(empty), art
}

// TestCacheFollowsNoLinks: a cache entry replaced by a symbolic link (by
// anyone who could write the cache directory) must not make runw, as
// root, create, read or touch what the link points to: the compile lock
// was created through one, and an entry's sidecar read and its times set
// through one.
func TestCacheFollowsNoLinks(t *testing.T) {
	c := openTestCache(t, 0)
	defer c.Close()
	outside := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "created-by-lock"), filepath.Join(c.at, "k.lock")); err != nil {
		t.Fatal(err)
	}
	release, _ := c.LockCompile("k")
	release()
	if _, err := os.Lstat(filepath.Join(outside, "created-by-lock")); err == nil {
		t.Error("LockCompile created the file a planted .lock link points to")
	}

	engine := NewEngine()
	p := writeWAT(t, 7)
	if _, _, err := Compile(engine, p, spec.KindWAT, c); err != nil {
		t.Fatal(err)
	}
	key := keyOfWAT(t, p)
	sum, err := os.ReadFile(c.sum(key))
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(outside, "sumcopy")
	if err := os.WriteFile(target, sum, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(target, old, old)
	os.Remove(c.sum(key))
	if err := os.Symlink(target, c.sum(key)); err != nil {
		t.Fatal(err)
	}
	m, hit, err := Compile(engine, p, spec.KindWAT, c)
	if err != nil || hit || call(t, engine, m) != 7 {
		t.Fatalf("compile with its sidecar a link: hit=%v err=%v, want a miss and a new compile", hit, err)
	}
	fi, err := os.Stat(target)
	if err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("the file a planted .sum link points to: %v (%v), want it untouched (%v)", fi.ModTime(), err, old)
	}
	if fi, err := os.Lstat(c.sum(key)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the sidecar after the new compile: %v, want a regular file of runw's", err)
	}
}
