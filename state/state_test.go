package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// patience bounds every wait that should succeed quickly.
const patience = 10 * time.Second

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidateID(t *testing.T) {
	// As runc: any of [A-Za-z0-9_.+-] in any position, but not . or ..
	good := []string{"a", "abc-1.2_3+x", "A9", "0", "-a", "_a", ".a", "+a", ".hidden", "...", strings.Repeat("x", 1024)}
	// ".native", ".empty" and ".exe" are runw's own directories under the root.
	bad := []string{".", "..", "a/b", "../x", "a b", "a,b", "a\x00", "a\n", "é", ".native", ".empty", ".exe", strings.Repeat("x", 1025)}
	for _, id := range good {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%.20q) = %v, want nil", id, err)
		}
	}
	for _, id := range bad {
		err := ValidateID(id)
		if err == nil || err.Error() != "invalid container ID format" {
			t.Errorf("ValidateID(%.20q) = %v, want invalid container ID format", id, err)
		}
	}
	// runc checks for an empty id first, in its own words.
	if err := ValidateID(""); err == nil || err.Error() != "container id cannot be empty" {
		t.Errorf(`ValidateID("") = %v, want container id cannot be empty`, err)
	}
}

func TestOpen(t *testing.T) {
	for _, root := range []string{"/", "//", "/tmp/.."} {
		_, err := Open(root)
		if err == nil || err.Error() != "option --root argument should not be set to /" {
			t.Errorf("Open(%q) = %v, want refusal", root, err)
		}
	}

	dir := t.TempDir()
	t.Chdir(dir)
	s, err := Open("rel/root")
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "rel/root"); s.Root != want {
		t.Errorf("Root = %q, want %q", s.Root, want)
	}
	fi, err := os.Stat(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm()&^0o700 != 0 {
		t.Errorf("root mode = %v, want dir 0700 (less umask)", fi.Mode())
	}
	// Opening an existing root again is fine.
	if _, err := Open(s.Root); err != nil {
		t.Errorf("second Open: %v", err)
	}
}

func TestCreate(t *testing.T) {
	s := newStore(t)
	if _, err := s.Create("../x"); err == nil || err.Error() != "invalid container ID format" {
		t.Fatalf("Create(../x) = %v", err)
	}
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unlock()
	if h.ID != "c1" || h.Dir != filepath.Join(s.Root, "c1") {
		t.Errorf("handle = %q %q", h.ID, h.Dir)
	}
	if got := h.Path("exec.fifo"); got != filepath.Join(s.Root, "c1", "exec.fifo") {
		t.Errorf("Path = %q", got)
	}
	fi, err := os.Stat(h.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&^0o711 != 0 {
		t.Errorf("dir mode = %v, want 0711 (less umask)", fi.Mode().Perm())
	}
	if _, err := s.Create("c1"); !errors.Is(err, ErrExist) {
		t.Errorf("second Create = %v, want ErrExist", err)
	}
}

// TestCreateWhoseBirthDirectoryWasSweptTriesAgain: a create stalled for
// over abandonedAfter before its lock has its birth directory swept by
// another command's removal, before its open (then the open failed) or
// between its open and its lock (then its rename did); it makes another
// and succeeds, where it failed with "open <root>/<id>: no such file or
// directory" or "rename <root>/<id>: ...".
func TestCreateWhoseBirthDirectoryWasSweptTriesAgain(t *testing.T) {
	for _, at := range []string{"made", "locked"} {
		s := newStore(t)
		tries, swept := 0, false
		createStep = func(step string) {
			if step == "made" {
				tries++
			}
			births, _ := filepath.Glob(filepath.Join(s.Root, birthMark+"*"))
			if step == at && !swept && len(births) == 1 {
				os.RemoveAll(births[0])
				swept = true
			}
		}
		h, err := s.Create("c1")
		createStep = nil
		if err != nil || tries != 2 {
			t.Fatalf("Create after its birth directory was swept once %s: %v after %d tries, want success after 2", at, err, tries)
		}
		h.Unlock()
		if ids, _ := s.List(); len(ids) != 1 || ids[0] != "c1" {
			t.Errorf("swept once %s: List = %v, want [c1]", at, ids)
		}
	}
}

// TestDestroyOfTheLongestIdRenamesIt: the name a directory leaves its
// id's for holds no id, so that the removal of a 255-byte id's directory
// is a rename (tombName) too, not a removal in place, which a reader
// could watch half done.
func TestDestroyOfTheLongestIdRenamesIt(t *testing.T) {
	s := newStore(t)
	dir := filepath.Join(s.Root, strings.Repeat("i", 255))
	if err := os.Mkdir(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	tomb := tombName(dir)
	if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, tomb, unix.RENAME_NOREPLACE); err != nil {
		t.Fatalf("rename of a 255-byte id's directory to %s: %v", filepath.Base(tomb), err)
	}
	if filepath.Dir(tomb) != s.Root {
		t.Errorf("tomb %s is not in the root %s", tomb, s.Root)
	}
}

// A create killed at any point leaves its id free or its directory
// marked: made in place and locked after, a create killed in between
// left a directory no command held and nothing marked, which delete
// --force took for a create under way and left, and which held the id
// for good ("container with given ID already exists"). What a killed
// create leaves under its birth name is no container, and the next
// removal sweeps it once it is abandonedAfter old.
func TestCreateKilledMidwayLeavesTheIdFree(t *testing.T) {
	s := newStore(t)
	var seen []string
	createStep = func(step string) {
		if step != "locked" {
			return
		}
		ids, _ := s.List()
		seen = ids
		if _, err := s.Lock("c1"); !errors.Is(err, ErrNotExist) {
			t.Errorf("during Create, Lock(c1) = %v, want ErrNotExist", err)
		}
	}
	h, err := s.Create("c1")
	createStep = nil
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 0 {
		t.Errorf("during Create, List = %v, want none", seen)
	}
	if _, err := os.Stat(filepath.Join(h.Dir, creatingFile)); err != nil {
		t.Errorf("the directory under its id's name is not marked: %v", err)
	}
	h.Unlock()
	// An id as long as a file name may be: the birth name is no longer.
	long := strings.Repeat("a", 255)
	if hl, err := s.Create(long); err != nil {
		t.Errorf("Create of a %d-byte id: %v", len(long), err)
	} else {
		hl.Destroy()
	}

	// What a create killed before the rename leaves.
	left := filepath.Join(s.Root, birthMark+"1-1")
	if err := os.Mkdir(left, 0o711); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.List(); !slices.Equal(ids, []string{"c1"}) {
		t.Errorf("List = %v, want [c1]", ids)
	}
	if _, err := s.Lock("c2"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Lock(c2) = %v, want ErrNotExist", err)
	}
	h2, err := s.Create("c2")
	if err != nil {
		t.Fatalf("Create(c2) beside a killed create's directory: %v", err)
	}
	h2.Unlock()
	h1, err := s.Lock("c1")
	if err != nil {
		t.Fatal(err)
	}
	h1.Destroy()
	if _, err := os.Stat(left); err != nil {
		t.Errorf("a young birth directory, maybe a create under way, was swept: %v", err)
	}
	defer func(old time.Duration) { abandonedAfter = old }(abandonedAfter)
	abandonedAfter = 0
	h2, err = s.Lock("c2")
	if err != nil {
		t.Fatal(err)
	}
	h2.Destroy()
	if _, err := os.Stat(left); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a killed create's birth directory was not swept: %v", err)
	}
}

func TestLockMissing(t *testing.T) {
	s := newStore(t)
	if _, err := s.Lock("nope"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Lock(nope) = %v, want ErrNotExist", err)
	}
	if _, err := s.Lock(".."); err == nil || err.Error() != "invalid container ID format" {
		t.Errorf("Lock(..) = %v, want invalid id", err)
	}
	// A plain file with the name of an id is not a container either.
	if err := os.WriteFile(filepath.Join(s.Root, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock("file"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Lock(file) = %v, want ErrNotExist", err)
	}
}

func TestSaveLoad(t *testing.T) {
	s := newStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unlock()

	if c, err := h.Load(); c != nil || !errors.Is(err, ErrStateMissing) {
		t.Fatalf("Load before Save = %v, %v; want nil, ErrStateMissing", c, err)
	}
	if got := Status(nil); got != Creating {
		t.Errorf("Status(nil) = %q", got)
	}

	want := &Container{
		OCIVersion:    "1.2.0",
		ID:            "c1",
		Bundle:        "/b",
		Rootfs:        "/b/rootfs",
		Created:       time.Now(),
		Annotations:   map[string]string{"k": "v", "x.y/z": ""},
		Owner:         "root",
		InitPid:       42,
		InitStartTime: 123456789,
		Started:       true,
		Native:        "/usr/bin/runc",
		CgroupPath:    "/sys/fs/cgroup/x",
		Extra:         json.RawMessage(`{"hooks":[1,2]}`),
	}
	for i := 0; i < 2; i++ { // the second Save replaces the first
		if err := h.Save(want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(want.Created) {
		t.Errorf("Created = %v, want %v", got.Created, want.Created)
	}
	cmp := *got
	cmp.Created = want.Created
	if !reflect.DeepEqual(&cmp, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", &cmp, want)
	}

	// Only state.json is left: no temp files.
	entries, err := os.ReadDir(h.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "state.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("dir holds %q, want only state.json", names)
	}
	fi, err := os.Stat(h.Path("state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state.json mode = %v, want 0600", fi.Mode().Perm())
	}

	// Field names on disk are part of the contract.
	raw, err := os.ReadFile(h.Path("state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ociVersion", "id", "bundle", "rootfs", "created", "annotations", "owner",
		"init_pid", "init_start", "started", "native", "cgroup_path", "extra"} {
		if _, ok := m[k]; !ok {
			t.Errorf("state.json lacks %q: %s", k, raw)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pid")
	if err := os.WriteFile(p, []byte("old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("1234"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "1234" {
		t.Errorf("content = %q, want %q", data, "1234")
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want 1", len(entries))
	}
	// A missing directory fails and creates nothing.
	if err := WriteFileAtomic(filepath.Join(dir, "no", "pid"), []byte("1"), 0o644); err == nil {
		t.Error("write into missing dir succeeded")
	}
}

type lockResult struct {
	h   *Handle
	err error
}

// lockAsync calls s.Lock(id) in a goroutine and delivers the result.
func lockAsync(s *Store, id string) chan lockResult {
	ch := make(chan lockResult, 1)
	go func() {
		h, err := s.Lock(id)
		ch <- lockResult{h, err}
	}()
	return ch
}

// waitBlocked waits until some process is blocked in flock on dir, as
// shown by a "->" line of /proc/locks, so tests prove the blocking path.
// Without a usable /proc/locks it falls back to a short wait.
func waitBlocked(t *testing.T, dir string) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	suffix := ":" + strconv.FormatUint(st.Ino, 10)
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile("/proc/locks")
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) > 6 && f[1] == "->" && strings.HasSuffix(f[6], suffix) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no waiter showed up in /proc/locks for %s", dir)
}

func TestLockSerialises(t *testing.T) {
	s := newStore(t)
	h1, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	ch := lockAsync(s, "c1")
	waitBlocked(t, h1.Dir)
	select {
	case r := <-ch:
		t.Fatalf("second Lock returned (%v) while the first was held", r.err)
	case <-time.After(50 * time.Millisecond):
	}
	h1.Unlock()
	h1.Unlock() // safe twice
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("second Lock: %v", r.err)
		}
		r.h.Unlock()
	case <-time.After(patience):
		t.Fatal("second Lock did not return after Unlock")
	}
}

func TestLockOtherIDDoesNotBlock(t *testing.T) {
	s := newStore(t)
	h1, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Unlock()
	h2, err := s.Create("c2")
	if err != nil {
		t.Fatal(err)
	}
	h2.Unlock()
	select {
	case r := <-lockAsync(s, "c2"):
		if r.err != nil {
			t.Fatalf("Lock(c2): %v", r.err)
		}
		r.h.Unlock()
	case <-time.After(patience):
		t.Fatal("Lock(c2) blocked while c1 was held")
	}
}

// While Destroy empties a container's directory, a reader never finds
// the directory without its record: that is a container being created
// (runw state said "creating" after "stopped"). Many files beside
// state.json make the removal long, and its order the directory's.
func TestDestroyNeverShowsARecordlessDirectory(t *testing.T) {
	s := newStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Save(&Container{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := os.WriteFile(filepath.Join(h.Dir, fmt.Sprintf("f%d", i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	seen := make(chan int, 1)
	go func() {
		missing := 0
		for {
			select {
			case <-done:
				seen <- missing
				return
			default:
			}
			if p, err := s.Peek("c1"); err == nil {
				if _, err := p.Load(); errors.Is(err, ErrStateMissing) {
					missing++
				}
			}
		}
	}()
	time.Sleep(5 * time.Millisecond)
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
	close(done)
	if n := <-seen; n > 0 {
		t.Errorf("a reader found the directory without state.json %d times during Destroy", n)
	}
	if ids, err := s.List(); err != nil || len(ids) != 0 {
		t.Errorf("List after Destroy: %v, %v; want none", ids, err)
	}
	if entries, _ := os.ReadDir(s.Root); len(entries) != 0 {
		t.Errorf("left under the root: %v", entries)
	}
}

// What a Destroy killed midway leaves (its directory under a name no id
// takes, no longer locked) goes at the next Destroy of any container;
// one whose removal is still under way (locked) stays. Left, such a
// directory was no container's and nothing removed it.
func TestDestroySweepsWhatADeadDestroyLeft(t *testing.T) {
	s := newStore(t)
	dead := filepath.Join(s.Root, "old"+tombMark+"1-1")
	live := filepath.Join(s.Root, "busy"+tombMark+"2-2")
	for _, d := range []string{dead, live} {
		if err := os.MkdirAll(filepath.Join(d, "private", "x"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(live, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dead Destroy's directory is still there: %v", err)
	}
	if _, err := os.Lstat(live); err != nil {
		t.Errorf("a Destroy under way lost its directory: %v", err)
	}
	if _, err := os.Lstat(h.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the destroyed container's directory is still there: %v", err)
	}
}

func TestLockAfterDestroy(t *testing.T) {
	s := newStore(t)
	h1, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h1.Save(&Container{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	ch := lockAsync(s, "c1")
	waitBlocked(t, h1.Dir)
	if err := h1.Destroy(); err != nil {
		t.Fatal(err)
	}
	h1.Unlock() // safe after Destroy
	select {
	case r := <-ch:
		if !errors.Is(r.err, ErrNotExist) {
			t.Fatalf("Lock after Destroy = %v, want ErrNotExist", r.err)
		}
	case <-time.After(patience):
		t.Fatal("Lock did not return after Destroy")
	}
	if _, err := os.Lstat(h1.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dir still there after Destroy: %v", err)
	}
	if err := h1.Destroy(); err == nil {
		t.Error("Destroy of an unlocked handle succeeded")
	}
	// The id can be used again.
	h2, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	h2.Unlock()
}

// TestLockAfterRecreate covers a waiter whose directory was deleted and
// created again under the same id: it must lock the new directory.
func TestLockAfterRecreate(t *testing.T) {
	s := newStore(t)
	h1, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	ch := lockAsync(s, "c1")
	waitBlocked(t, h1.Dir)
	// Replace the directory behind the waiter's back, keeping the old one
	// linked (renamed) so the waiter sees Nlink > 0 but a different inode.
	if err := os.Rename(h1.Dir, filepath.Join(s.Root, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(h1.Dir, 0o711); err != nil {
		t.Fatal(err)
	}
	h1.Unlock()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Lock = %v, want the new directory", r.err)
		}
		var held, now syscall.Stat_t
		if err := syscall.Fstat(r.h.fd, &held); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Stat(h1.Dir, &now); err != nil {
			t.Fatal(err)
		}
		if held.Ino != now.Ino {
			t.Error("Lock holds the old directory")
		}
		r.h.Unlock()
	case <-time.After(patience):
		t.Fatal("Lock did not return")
	}
}

func TestList(t *testing.T) {
	s := newStore(t)
	for _, name := range []string{"b", "a", "c.1", "-x", ".hidden", ".native", ".empty"} {
		if err := os.Mkdir(filepath.Join(s.Root, name), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.Root, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(s.Root, "link")); err != nil {
		t.Fatal(err)
	}
	ids, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"-x", ".hidden", "a", "b", "c.1"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("List = %q, want %q", ids, want)
	}

	missing := &Store{Root: filepath.Join(t.TempDir(), "missing")}
	ids, err = missing.List()
	if err != nil || ids == nil || len(ids) != 0 {
		t.Errorf("List of missing root = %q, %v; want empty, nil", ids, err)
	}
}

func TestStatus(t *testing.T) {
	if got := Status(nil); got != Creating {
		t.Errorf("Status(nil) = %q, want %q", got, Creating)
	}

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if got := Status(&Container{InitPid: dead.Process.Pid, Started: true}); got != Stopped {
		t.Errorf("dead pid: Status = %q, want %q", got, Stopped)
	}
	if got := Status(&Container{InitPid: 0, Started: true}); got != Stopped {
		t.Errorf("pid 0: Status = %q, want %q", got, Stopped)
	}

	pid := os.Getpid()
	start, err := ProcessStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{InitPid: pid, InitStartTime: start}
	if got := Status(c); got != Created {
		t.Errorf("own pid, not started: Status = %q, want %q", got, Created)
	}
	c.Started = true
	if got := Status(c); got != Running {
		t.Errorf("own pid, started: Status = %q, want %q", got, Running)
	}
	c.InitStartTime = start + 1
	if got := Status(c); got != Stopped {
		t.Errorf("own pid, wrong start time: Status = %q, want %q", got, Stopped)
	}
}

func TestAliveZombie(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	pid := cmd.Process.Pid
	deadline := time.Now().Add(patience)
	for {
		st, err := readStat(pid)
		if err != nil {
			t.Fatal(err)
		}
		if st.state == 'Z' {
			if Alive(pid, st.startTime) {
				t.Error("Alive(zombie) = true")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child never became a zombie (state %c)", st.state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProcessStartTimeOddComm(t *testing.T) {
	// A program named "a) (b" gets that as its comm, which breaks
	// parsers that split /proc/PID/stat on spaces or the first ')'.
	bin := filepath.Join(t.TempDir(), "a) (b")
	src, err := os.Open("/bin/sleep")
	if err != nil {
		t.Skip(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	pid := cmd.Process.Pid

	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(comm)) != "a) (b" {
		t.Fatalf("comm = %q; test setup did not work", comm)
	}
	start, err := ProcessStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	own, err := ProcessStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if start == 0 || start < own {
		t.Errorf("start time %d, want >= our own %d", start, own)
	}
	if !Alive(pid, start) {
		t.Error("Alive = false for a running child")
	}
}

// TestEndingSeesAnExitingProcess: a pid namespace's init that has begun
// to exit waits in the kernel for the namespace's other processes to go
// (here one held frozen by a cgroup v1 freezer), its namespaces gone
// already and its state not yet a zombie's: Alive still says true, and
// an exec that met it read "no such file or directory" for its
// namespaces. Ending says it is ending.
func TestEndingSeesAnExitingProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a pid namespace and a freezer cgroup")
	}
	if _, err := os.Stat("/sys/fs/cgroup/freezer"); err != nil {
		t.Skip("no cgroup v1 freezer (v2's lets a killed process die)")
	}
	unshare := exec.Command("unshare", "--pid", "--fork", "sleep", "100")
	if err := unshare.Start(); err != nil {
		t.Skipf("no unshare: %v", err)
	}
	defer func() { unshare.Process.Kill(); unshare.Wait() }()
	init := childOf(t, unshare.Process.Pid)
	initStart, err := ProcessStartTime(init)
	if err != nil {
		t.Fatal(err)
	}
	nsenter := exec.Command("nsenter", "-t", strconv.Itoa(init), "-p", "--", "sleep", "100")
	if err := nsenter.Start(); err != nil {
		t.Skipf("no nsenter: %v", err)
	}
	defer func() { nsenter.Process.Kill(); nsenter.Wait() }()
	other := childOf(t, nsenter.Process.Pid)
	freezer := fmt.Sprintf("/sys/fs/cgroup/freezer/runw-test-ending-%d", time.Now().UnixNano())
	if err := os.Mkdir(freezer, 0o755); err != nil {
		t.Skipf("cannot make a freezer cgroup: %v", err)
	}
	state := filepath.Join(freezer, "freezer.state")
	defer func() {
		// Thawed and emptied before it goes, whatever failed.
		os.WriteFile(state, []byte("THAWED"), 0)
		unix.Kill(other, unix.SIGKILL)
		for i := 0; i < 100 && os.Remove(freezer) != nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if err := os.WriteFile(filepath.Join(freezer, "cgroup.procs"), []byte(strconv.Itoa(other)), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte("FROZEN"), 0); err != nil {
		t.Fatal(err)
	}
	if Ending(init, initStart) {
		t.Error("Ending = true for a running process")
	}
	unix.Kill(init, unix.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", init)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed init kept its namespaces")
		}
	}
	if !Alive(init, initStart) {
		t.Skip("the exiting init is a zombie already here: nothing between for Ending to see")
	}
	if !Ending(init, initStart) {
		t.Error("Ending = false for an init exiting, its namespaces gone")
	}
	os.WriteFile(state, []byte("THAWED"), 0)
	unshare.Wait()
	if !Ending(init, initStart) {
		t.Error("Ending = false for an init gone")
	}
}

// childOf waits for pid's first child and returns it.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var child int
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if fmt.Sscan(string(b), &child); child != 0 {
			return child
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d started no child", pid)
		}
	}
}

func TestParseStat(t *testing.T) {
	rest := " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654321 20 21\n"
	for _, comm := range []string{"sh", "a) (b", "x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 5 (y", ")"} {
		st, err := parseStat([]byte("123 (" + comm + ")" + rest))
		if err != nil {
			t.Errorf("comm %q: %v", comm, err)
			continue
		}
		if st.state != 'S' || st.flags != 6 || st.startTime != 987654321 {
			t.Errorf("comm %q: got state %c flags %d start %d", comm, st.state, st.flags, st.startTime)
		}
	}
	for _, bad := range []string{"", "123 (sh", "123 (sh) S 1 2", "123 (sh) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

// A symlink at <root>/<id> is a container that does not exist, as under
// runc, whatever it points to; a directory runw did not make (another
// owner, or writable by others) is refused. Neither is read nor changed.
func TestStoreRefusesPlantedContainerDirs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a directory to another user")
	}
	s := newStore(t)
	// The decoy holds a record naming this very process.
	decoy := t.TempDir()
	data, _ := json.Marshal(&Container{ID: "x", InitPid: os.Getpid(), Started: true})
	if err := os.WriteFile(filepath.Join(decoy, "state.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(decoy, filepath.Join(s.Root, "link")); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(string) (*Handle, error){"Lock": s.Lock, "Peek": s.Peek} {
		if h, err := open("link"); !errors.Is(err, ErrNotExist) {
			t.Errorf("%s(symlink) = %v, %v; want %v", name, h, err, ErrNotExist)
		}
	}
	if _, err := s.Create("link"); !errors.Is(err, ErrExist) {
		t.Errorf("Create over a symlink = %v, want %v", err, ErrExist)
	}

	foreign := []struct {
		name string
		uid  int
		mode os.FileMode
	}{
		{"other-owner", 65534, 0o711},
		{"world-writable", 0, 0o777},
		{"group-writable", 0, 0o731},
	}
	for _, f := range foreign {
		dir := filepath.Join(s.Root, f.name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "state.json"), data, 0o600)
		if err := os.Chmod(dir, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, f.uid, 0); err != nil {
			t.Fatal(err)
		}
		for name, open := range map[string]func(string) (*Handle, error){"Lock": s.Lock, "Peek": s.Peek} {
			h, err := open(f.name)
			if err == nil || !strings.Contains(err.Error(), "refusing to use it") || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s(%s) = %v, %v; want one-line refusal", name, f.name, h, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
			t.Errorf("%s: state.json touched: %v", f.name, err)
		}
	}
}

// A state root that is a symlink, owned by another user or writable by
// others is refused: whoever can write there could plant containers.
func TestOpenRefusesForeignRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a directory to another user")
	}
	base := t.TempDir()
	cases := []struct {
		name  string
		setup func(p string) error
	}{
		{"world-writable", func(p string) error { return os.Chmod(p, 0o777) }},
		{"other-owner", func(p string) error { return os.Chown(p, 65534, 65534) }},
		{"symlink", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink(t.TempDir(), p)
		}},
	}
	for _, c := range cases {
		p := filepath.Join(base, c.name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := c.setup(p); err != nil {
			t.Fatal(err)
		}
		_, err := Open(p)
		if err == nil || !strings.Contains(err.Error(), "refusing to use it") {
			t.Errorf("Open(%s) = %v, want a refusal", c.name, err)
		}
	}
}

// TestLoadRefusesARecordOfNoContainer covers a state.json that parses but
// is not this container's record ("{}", "null", another id's): it read
// as a container with no init and no cgroup, so delete removed the
// directory and left the live init and its cgroup behind.
func TestLoadRefusesARecordOfNoContainer(t *testing.T) {
	s := newStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unlock()
	for _, data := range []string{"{}", "null", `{"id":"c2","init_pid":1}`} {
		if err := os.WriteFile(h.Path("state.json"), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if c, err := h.Load(); err == nil || errors.Is(err, ErrStateMissing) {
			t.Errorf("Load of %s = %+v, %v; want an error", data, c, err)
		}
	}
	if err := h.Save(&Container{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Load(); err != nil {
		t.Errorf("Load of its own record: %v", err)
	}
}

// TestLoadRefusesAnotherRuntimesRecord: runc's state.json (as Docker's
// shared root holds beside runw's) names the container too, and read as
// runw's it was a stopped container that delete removed. It is
// ErrForeign; a record of runw's own still loads.
func TestLoadRefusesAnotherRuntimesRecord(t *testing.T) {
	s := newStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unlock()
	for _, tc := range []struct {
		data    string
		foreign bool
	}{
		{`{"id":"c1","init_process_pid":4242,"init_process_start":99,"created":"2026-12-04T20:00:00Z","config":{"rootfs":"/r"}}`, true},
		{`{"id":"c1","pid":4242,"status":"running","bundle":"/b"}`, true}, // youki's shape
		{`{"ociVersion":"1.0.2","id":"c1","init_pid":0,"init_start":0,"started":false}`, false},
	} {
		if err := os.WriteFile(h.Path("state.json"), []byte(tc.data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := h.Load()
		if got := errors.Is(err, ErrForeign); got != tc.foreign {
			t.Errorf("Load of %s: %v; want foreign %v", tc.data, err, tc.foreign)
		}
		if !tc.foreign && err != nil {
			t.Errorf("Load of runw's record %s: %v", tc.data, err)
		}
	}
}

// TestDirOfAnotherRuntimeIsForeign: crun's container directory holds its
// record in "status" and never a state.json; read as runw's it was a
// create under way, then an abandoned one that delete and create took
// over. Files runw makes, alone, are still a create of runw's.
func TestDirOfAnotherRuntimeIsForeign(t *testing.T) {
	defer func(d time.Duration) { abandonedAfter = d }(abandonedAfter)
	abandonedAfter = 0
	s := newStore(t)
	for id, files := range map[string][]string{
		"crun": {"status", "config.json"},
		"ours": {FifoFile, InitFile, ".init.pid.tmp-123"},
	} {
		h, err := s.Create(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(h.Path(f), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err = h.Load()
		h.Unlock()
		foreign := id == "crun"
		if foreign && !errors.Is(err, ErrForeign) || !foreign && !errors.Is(err, ErrStateMissing) {
			t.Errorf("Load of %s's directory: %v", id, err)
		}
		if s.Abandoned(id) == foreign {
			t.Errorf("Abandoned(%s) = %v", id, !foreign)
		}
	}
}

// TestLockAbandoned: a create killed before it saved state.json (a Ctrl-C
// during a long compile) leaves its directory unlocked. list and state
// call that id unknown, and create called it taken ("container with given
// ID already exists") until a delete, then for 5 s; LockAbandoned hands it
// over locked, at once, so that create can clean it up. A directory a
// create still holds, a recorded container, and a fresh directory Create
// did not lock and mark (runc's before its state.json) are never handed
// over.
func TestLockAbandoned(t *testing.T) {
	s := newStore(t)
	h, err := s.Create("gone")
	if err != nil {
		t.Fatal(err)
	}
	held, err := s.Create("held")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	rec, err := s.Create("recorded")
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Save(&Container{ID: "recorded"}); err != nil {
		t.Fatal(err)
	}
	rec.Unlock()
	if err := os.Mkdir(filepath.Join(s.Root, "runcs"), 0o711); err != nil {
		t.Fatal(err)
	}
	h.Unlock() // the create died here

	for _, id := range []string{"held", "recorded", "none", "runcs"} {
		if _, ok := s.LockAbandoned(id); ok {
			t.Errorf("%s: handed over", id)
		}
	}
	old, ok := s.LockAbandoned("gone")
	if !ok {
		t.Fatal("the abandoned directory was not handed over")
	}
	defer func(d time.Duration) { abandonedAfter = d }(abandonedAfter)
	abandonedAfter = 0
	if _, ok := s.LockAbandoned("runcs"); !ok {
		t.Error("an unmarked directory past abandonedAfter was not handed over")
	}
	// runw before the mark (4a82808) took a directory holding a name
	// other than these, or an atomic temporary's, for another runtime's
	// and refused even delete --force of it.
	before := map[string]bool{stateFile: true, FifoFile: true, InitFile: true, PrivateDir: true}
	if !before[creatingFile] && !(strings.HasPrefix(creatingFile, ".") && strings.Contains(creatingFile, ".tmp-")) {
		t.Errorf("%s: an older runw sharing the root calls a marked directory foreign", creatingFile)
	}
	if _, ok := s.LockAbandoned("gone"); ok {
		t.Error("handed over twice while locked")
	}
	if err := old.Destroy(); err != nil {
		t.Fatal(err)
	}
	if h, err := s.Create("gone"); err != nil {
		t.Errorf("create after the clean-up: %v", err)
	} else {
		h.Unlock()
	}
}
