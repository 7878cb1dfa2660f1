package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// DefaultRoot is where container directories live when no --root is given.
const DefaultRoot = "/run/runw"

// stateFile is the name of the record inside a container directory.
const stateFile = "state.json"

// The other entries runw makes in a container directory.
const (
	// FifoFile is the exec fifo: the init blocks opening it for writing
	// until `start` opens it for reading.
	FifoFile = "exec.fifo"
	// InitFile names the init of a container still being created, so
	// that if create is killed before state.json exists, delete can
	// still find the init and its cgroup and remove them.
	InitFile = "init.pid"
	// PrivateDir holds the directories runw makes for the guest (tmpfs).
	PrivateDir = "private"
	// creatingFile is made by Create once it holds the directory's lock:
	// a directory with it, without state.json and without the lock, is a
	// create of runw's that died (Abandoned). It is named as an atomic
	// temporary (isAtomicTemp), which runw before it takes for its own:
	// a directory it marks stays runw's to an older runw sharing the
	// root, not another runtime's that its delete --force refuses.
	creatingFile = ".runw.creating" + tempInfix + "0"
)

// ownEntries are the names runw makes in a container directory;
// WriteFileAtomic's temporaries (isAtomicTemp) are its own too.
var ownEntries = map[string]bool{stateFile: true, FifoFile: true, InitFile: true, PrivateDir: true}

// foreignDir says whether dir, a container directory without state.json,
// holds anything runw never makes there: it is another runtime's (crun
// keeps its record in "status" and never writes a state.json), not a
// create of runw's under way or abandoned, and no verb of runw's may
// take it for one. runc's directory in the milliseconds before its
// state.json (exec.fifo alone) cannot be told from runw's.
func foreignDir(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		n := e.Name()
		if !ownEntries[n] && !isAtomicTemp(n) {
			return true
		}
	}
	return false
}

// ErrNotExist is returned when no container with the given id exists.
// Callers match it (errors.Is) to print runc's message, so the text is fixed.
var ErrNotExist = errors.New("container does not exist")

// ErrExist is returned by Create when the id is already taken. Callers
// match it, so the text is fixed.
var ErrExist = errors.New("container with given ID already exists")

// ErrStateMissing is returned by Load when the container directory exists
// but state.json does not: the container is still being created, or a
// create was aborted before it saved anything.
var ErrStateMissing = errors.New("container state missing: being created or create aborted")

// ErrForeign is returned by Load for a container directory another
// runtime made (its state.json, or files runw never makes there): Docker
// gives every runtime it knows one root
// (/run/docker/runtime-runc/moby), so runc's containers sit beside
// runw's. Such a record is not runw's to report, signal or delete; list
// skips it, and the other verbs refuse it.
var ErrForeign = errors.New("state written by another runtime (one --root shared with runc?), not by runw")

// Container is the record kept in state.json. It holds facts the runtime
// needs across commands; the status is never stored but derived by Status.
type Container struct {
	// OCIVersion is the runtime-spec version of the bundle's config.
	OCIVersion string `json:"ociVersion"`
	// ID is the container id, the same as the directory name.
	ID string `json:"id"`
	// Bundle is the absolute path of the bundle directory.
	Bundle string `json:"bundle"`
	// Rootfs is the absolute path of the container's root filesystem.
	Rootfs string `json:"rootfs"`
	// Created is when the container was created, for `state` and `list`.
	Created time.Time `json:"created"`
	// Annotations are copied from config.json for `state` to report.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Owner is the user name that created the container, for `list`.
	Owner string `json:"owner"`
	// InitPid is the pid of the container's init process.
	InitPid int `json:"init_pid"`
	// InitStartTime is field 22 of /proc/<InitPid>/stat when the process
	// was started; it tells our process apart from a later one that
	// happens to reuse the pid.
	InitStartTime uint64 `json:"init_start"`
	// Started records that `start` releases the guest: saved just
	// before the release, so that a record that cannot be written
	// starts nothing.
	Started bool `json:"started"`
	// Native is the path of a native OCI runtime this id was handed to;
	// "" means runw runs the container itself.
	Native string `json:"native,omitempty"`
	// CgroupPath is the cgroup the container was placed in, if any.
	CgroupPath string `json:"cgroup_path,omitempty"`
	// Extra is opaque data owned by the runtime package (hooks, tmpfs
	// directories...); this package stores it without looking inside.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// Store is a root directory holding one directory per container.
type Store struct {
	// Root is the absolute path of the root directory.
	Root string

	// fd is the root directory, opened once without following a symlink
	// and checked by Open (owned by us, not writable by others). Container
	// directories are locked and created relative to it; reads, writes and
	// removal inside them go by path again: they trust the path to the
	// root not to be swapped by someone else (a parent directory others
	// can write to), the premise runc's own root has too.
	fd int
}

// Open returns the store at root, creating the directory (mode 0700) if
// it does not exist yet. An empty root means DefaultRoot. A relative root
// is made absolute so later chdirs do not change its meaning. A root of
// "/" is refused: deleting a container would then remove top-level
// directories of the host.
func Open(root string) (*Store, error) {
	if root == "" {
		root = DefaultRoot
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if abs == "/" {
		return nil, errors.New("option --root argument should not be set to /")
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, err
	}
	// The attack: another user who made (or can write to) the root plants
	// <root>/<id> entries, a state.json naming a pid for kill or delete to
	// signal, or a Native runtime path for runw to execute as root. So the
	// root itself must not be a symlink, must be owned by runw's user and
	// writable by nobody else; then only runw can add entries to it.
	fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ELOOP || err == unix.ENOTDIR {
			return nil, fmt.Errorf("state root %q is not a directory (a symlink?): refusing to use it", abs)
		}
		return nil, &os.PathError{Op: "open", Path: abs, Err: err}
	}
	if err := checkOurs(fd, "state root", abs); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Store{Root: abs, fd: fd}, nil
}

// Stick sets the sticky bit on the root, as runc sets it on its default
// root under $XDG_RUNTIME_DIR: the XDG base directory specification lets
// a session manager remove what is left there untouched for 6 hours
// unless it is sticky, and a long-running container's state would go
// with it. Through the descriptor Open checked: no path is followed.
func (s *Store) Stick() error {
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_ISVTX != 0 {
		return nil
	}
	return unix.Fchmod(s.fd, st.Mode&0o7777|unix.S_ISVTX)
}

// checkOurs refuses a directory open on fd that runw did not make: one
// owned by another user, or that group or others can write to. Either
// would let someone else plant the files runw trusts (state.json,
// init.pid) and have runw signal or execute what they name.
func checkOurs(fd int, what, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		return fmt.Errorf("%s %q must be owned by uid %d and writable by no one else (is uid %d, mode %o): refusing to use it", what, path, os.Geteuid(), st.Uid, st.Mode&0o7777)
	}
	return nil
}

// openDir opens <root>/<id> relative to the checked root without
// following a symlink, and checks that runw made it. The attack: a
// symlink planted at <root>/<id> would make state print, and kill or
// delete act on, a record runw never wrote (runc reports such an id as
// not existing, and so does runw); a foreign directory there (mode 0777,
// another owner) would let its owner plant init.pid for delete --force
// to kill. ids never contain '/' (ValidateID), so O_NOFOLLOW on the one
// component is all the resolution there is.
func (s *Store) openDir(id string) (int, error) {
	fd, err := unix.Openat(s.fd, id, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP {
			return -1, ErrNotExist
		}
		return -1, &os.PathError{Op: "open", Path: s.dir(id), Err: err}
	}
	if err := checkOurs(fd, "container directory", s.dir(id)); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// dir is the directory of container id.
func (s *Store) dir(id string) string {
	return filepath.Join(s.Root, id)
}

// Handle is one container directory, <root>/<id>, locked by this
// process. Hold it for the whole of a command and Unlock (or Destroy) it
// at the end. A Handle is not safe for use by several goroutines at once.
type Handle struct {
	// ID is the container id.
	ID string
	// Dir is the absolute path of the container directory.
	Dir string

	fd int // directory fd holding the flock; -1 once unlocked
	// marked says this handle's Create made creatingFile, which its
	// first Save removes.
	marked bool
}

// Create makes the directory for a new container id and returns it
// locked, so no other command can see the container half-made except as
// "creating". It fails with ErrExist if the id is taken.
func (s *Store) Create(id string) (*Handle, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	for tries := 1; ; tries++ {
		h, err := s.create(id)
		if err != errSwept {
			return h, err
		}
		if tries == 3 {
			return nil, fmt.Errorf("create %q: %w", id, &os.PathError{Op: "rename", Path: s.dir(id), Err: unix.ENOENT})
		}
	}
}

// errSwept is create's birth directory gone before its open or its
// rename: a create that stalled over abandonedAfter between its mkdir
// and its lock (a SIGSTOP, a machine thrashing) had it swept as
// abandoned by another command's removal. Create makes another.
var errSwept = errors.New("birth directory swept")

// create is one attempt of Create.
func (s *Store) create(id string) (*Handle, error) {
	// Made under a name of its own (birthMark), locked and marked
	// there, and only then renamed to its id's, which it takes only if
	// free: a directory under an id's name is never one that no command
	// holds and no mark explains. Made in place and locked after, a
	// create killed in between left a directory that delete --force took
	// for a create under way (Unborn) and left, holding the id
	// ("container with given ID already exists" to the engine's next
	// create).
	// No id in it: a name longer than the id's could pass the file
	// system's 255 bytes that the id itself fits in.
	birth := fmt.Sprintf("%s%d-%d", birthMark, os.Getpid(), time.Now().UnixNano())
	if err := unix.Mkdirat(s.fd, birth, 0o711); err != nil {
		return nil, &os.PathError{Op: "mkdir", Path: s.dir(id), Err: err}
	}
	if createStep != nil {
		createStep("made")
	}
	fd, err := unix.Openat(s.fd, birth, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return nil, errSwept
	}
	if err != nil {
		// EMFILE under a low RLIMIT_NOFILE: the directory, empty, is
		// ours to take back.
		unix.Unlinkat(s.fd, birth, unix.AT_REMOVEDIR)
		return nil, fmt.Errorf("create %q: %w", id, &os.PathError{Op: "open", Path: s.dir(id), Err: err})
	}
	h := &Handle{ID: id, Dir: s.dir(id), fd: fd}
	if err := flock(fd, unix.LOCK_EX); err != nil {
		h.Unlock()
		unix.Unlinkat(s.fd, birth, unix.AT_REMOVEDIR)
		return nil, fmt.Errorf("create %q: %w", id, &os.PathError{Op: "flock", Path: s.dir(id), Err: err})
	}
	h.mark()
	if createStep != nil {
		createStep("locked")
	}
	if err := unix.Renameat2(s.fd, birth, s.fd, id, unix.RENAME_NOREPLACE); err != nil {
		unix.Unlinkat(fd, creatingFile, 0)
		h.Unlock()
		unix.Unlinkat(s.fd, birth, unix.AT_REMOVEDIR)
		switch err {
		case unix.EEXIST:
			return nil, ErrExist
		case unix.EINVAL:
			// A file system without RENAME_NOREPLACE (NFS): in place.
			return s.createInPlace(id)
		case unix.ENOENT:
			return nil, errSwept
		}
		return nil, &os.PathError{Op: "rename", Path: s.dir(id), Err: err}
	}
	return h, nil
}

// createInPlace is Create where the directory cannot be renamed into
// place without replacing what is there: made under its id's name, then
// locked; until the lock, no command holds it (Unborn).
func (s *Store) createInPlace(id string) (*Handle, error) {
	if err := unix.Mkdirat(s.fd, id, 0o711); err != nil {
		if err == unix.EEXIST {
			return nil, ErrExist
		}
		return nil, &os.PathError{Op: "mkdir", Path: s.dir(id), Err: err}
	}
	h, err := s.lockDir(id)
	if err != nil {
		// Another command deleted the directory between our mkdir and
		// our flock, or the open failed (EMFILE under a low
		// RLIMIT_NOFILE): the directory, empty, is ours to take back,
		// or the id stayed taken by a container that never was.
		if !errors.Is(err, ErrNotExist) {
			unix.Unlinkat(s.fd, id, unix.AT_REMOVEDIR)
		}
		return nil, fmt.Errorf("create %q: %w", id, err)
	}
	h.mark()
	return h, nil
}

// mark makes creatingFile in the locked directory (its first Save
// removes it): from then on, the lock's absence without state.json means
// its create died. Without it (a failure here) the directory is only
// taken for abandoned after abandonedAfter.
func (h *Handle) mark() {
	if fd, err := unix.Openat(h.fd, creatingFile, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600); err == nil {
		unix.Close(fd)
		h.marked = true
	}
}

// createStep, when set (tests), runs in Create at two steps: "made",
// the birth directory made and not yet opened or locked, and "locked",
// locked and marked, before it takes its id's name. There a killed or
// stalled create stops.
var createStep func(step string)

// birthMark is in the name a container directory is made under, before
// it takes its id's (Create): '~' is in no container id (ValidateID).
const birthMark = "~creating~"

// Lock opens the directory of an existing container and takes its
// exclusive lock, waiting until other commands on the same id have
// finished. It returns ErrNotExist if the container does not exist, or if
// it was deleted while we were waiting.
func (s *Store) Lock(id string) (*Handle, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	return s.lockDir(id)
}

// Peek returns an unlocked handle for reading a container's state without
// waiting for commands in progress: state.json is only ever replaced
// atomically, so a reader sees a whole file or none. The handle can Load;
// it must not Save (a write needs the lock), and Destroy refuses it.
func (s *Store) Peek(id string) (*Handle, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	fd, err := s.openDir(id)
	if err != nil {
		return nil, err
	}
	unix.Close(fd)
	return &Handle{ID: id, Dir: s.dir(id), fd: -1}, nil
}

// abandonedAfter is how old a directory without state.json and without
// Create's creatingFile must be before it can be abandoned: Create makes
// the directory, then locks it, and in between no one holds it; and
// runc's directory before its state.json holds no lock of runw's. A
// directory with creatingFile was locked by its create when it made the
// file, so the lock's absence alone says that create is gone: a `runw
// run` ended by Ctrl-C during its compile left the id taken for these 5
// seconds ("container with given ID already exists" to the same command
// run again at once).
var abandonedAfter = 5 * time.Second // a variable for tests

// oldEnough says whether the directory fd could be an abandoned create's
// by its age: it holds creatingFile, or is older than abandonedAfter.
func oldEnough(fd int) bool {
	if unix.Faccessat(fd, creatingFile, unix.F_OK, unix.AT_SYMLINK_NOFOLLOW) == nil {
		return true
	}
	return abandonedAge(fd)
}

// abandonedAge says whether the directory fd was made abandonedAfter
// ago or more.
func abandonedAge(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && time.Since(time.Unix(st.Ctim.Unix())) >= abandonedAfter
}

// Unborn says, of a locked directory without state.json, that a create is
// still making it in place (createInPlace, or another runw's): its mkdir
// is done, its lock and creatingFile not yet (oldEnough says no), and
// nothing is in it. A delete that took the
// lock in between and removed the directory as an aborted create's failed
// that create with "container does not exist".
func (h *Handle) Unborn() bool {
	if oldEnough(h.fd) {
		return false
	}
	entries, err := os.ReadDir(h.Dir)
	return err == nil && len(entries) == 0
}

// Abandoned says whether id's directory is one a create left behind: no
// state.json, held by no command (a create under way holds its lock), and
// old enough (oldEnough: it holds creatingFile, or is older than
// abandonedAfter). That is what a create killed before it recorded the
// container leaves; it is no container (runc's state says "container
// does not exist" of it), and delete removes it.
func (s *Store) Abandoned(id string) bool {
	fd, err := s.openDir(id)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if !oldEnough(fd) {
		return false
	}
	if flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false // a command holds it: a create under way
	}
	defer flock(fd, unix.LOCK_UN)
	// Not recorded meanwhile: a create that saved and let go of the lock
	// between the caller's look and this one. Nor another runtime's.
	return unix.Faccessat(fd, stateFile, unix.F_OK, 0) != nil && !foreignDir(s.dir(id))
}

// LockAbandoned returns id's directory locked when it is Abandoned, so
// that a create of the same id can clean it up and take the id: without
// it, a `runw run` ended during its compile (a minute at most) left an id
// that list and state call unknown and create calls taken. The lock is
// taken without waiting (a create under way holds it), and the directory
// is checked again under it. ok is false when it is not abandoned.
func (s *Store) LockAbandoned(id string) (h *Handle, ok bool) {
	if !s.Abandoned(id) {
		return nil, false
	}
	fd, err := s.openDir(id)
	if err != nil {
		return nil, false
	}
	if flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil || !oldEnough(fd) || unix.Faccessat(fd, stateFile, unix.F_OK, 0) == nil {
		unix.Close(fd)
		return nil, false
	}
	if same, err := s.stillThere(fd, id); err != nil || !same {
		unix.Close(fd)
		return nil, false
	}
	return &Handle{ID: id, Dir: s.dir(id), fd: fd}, true
}

// lockDir opens <root>/<id> (openDir), takes an exclusive flock on it
// and checks that the directory we locked is still the one at that path.
func (s *Store) lockDir(id string) (*Handle, error) {
	dir := s.dir(id)
	for {
		fd, err := s.openDir(id)
		if err != nil {
			return nil, err
		}
		if err := flock(fd, unix.LOCK_EX); err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "flock", Path: dir, Err: err}
		}
		same, err := s.stillThere(fd, id)
		if err != nil {
			unix.Close(fd)
			return nil, err
		}
		if same {
			return &Handle{ID: id, Dir: dir, fd: fd}, nil
		}
		// The directory we locked was replaced by a new one with the same
		// name (deleted and created again while we waited): lock that one.
		unix.Close(fd)
	}
}

// stillThere reports whether the directory open on fd is still the one
// at <root>/<id>. It returns ErrNotExist if the directory was removed.
func (s *Store) stillThere(fd int, id string) (bool, error) {
	path := s.dir(id)
	var held unix.Stat_t
	if err := unix.Fstat(fd, &held); err != nil {
		return false, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if held.Nlink == 0 {
		return false, ErrNotExist
	}
	var now unix.Stat_t
	if err := unix.Fstatat(s.fd, id, &now, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT || err == unix.ENOTDIR {
			return false, ErrNotExist
		}
		return false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return held.Dev == now.Dev && held.Ino == now.Ino, nil
}

// flock is unix.Flock retried when a signal interrupts the wait.
func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// Unlock releases the lock. It is safe to call more than once, so it can
// be deferred even on paths that also call Destroy.
func (h *Handle) Unlock() {
	if h.fd < 0 {
		return
	}
	flock(h.fd, unix.LOCK_UN)
	unix.Close(h.fd)
	h.fd = -1
}

// Path returns the path of a file the runtime keeps in the container
// directory (exec.fifo and the like), so it goes away with Destroy.
func (h *Handle) Path(name string) string {
	return filepath.Join(h.Dir, name)
}

// Load reads state.json. It returns ErrStateMissing if the file does not
// exist yet, which means the container is being created or its create
// was aborted.
func (h *Handle) Load() (*Container, error) {
	data, err := h.ReadFile(stateFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// The directory itself gone (deleted since this handle
			// was taken, Destroy): no container, not one half-made.
			if _, err := os.Lstat(h.Dir); errors.Is(err, fs.ErrNotExist) {
				return nil, ErrNotExist
			}
			if foreignDir(h.Dir) {
				return nil, fmt.Errorf("container %q: %w", h.ID, ErrForeign)
			}
			return nil, ErrStateMissing
		}
		return nil, err
	}
	// One parse: rec.InitPid shadows Container's field of the same key,
	// so that a record without the key is told apart (below).
	var rec struct {
		Container
		InitPid *int `json:"init_pid"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%q: %w", h.Path(stateFile), err)
	}
	c := rec.Container
	// Every record runw saves names its container. One that parses but
	// does not ("{}", "null": a damaged file) would read as a container
	// with no init and no cgroup, stopped, and delete would remove the
	// directory and leave the live init and its cgroup behind, the id
	// then refused by create for a cgroup that is not empty. Unreadable
	// instead, delete --force cleans up from the init record.
	if c.ID != h.ID {
		return nil, fmt.Errorf("%q: record of container %q, not %q", h.Path(stateFile), c.ID, h.ID)
	}
	// runc's record names the container too ("id") but calls its init
	// "init_process_pid"; read as runw's, it would be a stopped container
	// with no init, and delete would remove runc's record and orphan its
	// live container. Every record runw saves has "init_pid" (the field
	// has no omitempty), so its absence marks a record runw did not write.
	if rec.InitPid == nil {
		return nil, fmt.Errorf("container %q: %w", h.ID, ErrForeign)
	}
	c.InitPid = *rec.InitPid
	return &c, nil
}

// ReadFile reads a file runw keeps in the container directory, never
// through a symlink: the directory is runw's own (openDir checked it),
// and a link inside it would still be something runw did not write.
func (h *Handle) ReadFile(name string) ([]byte, error) {
	f, err := os.OpenFile(h.Path(name), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Save replaces state.json atomically (mode 0600), so a reader or a crash
// sees either the old record or the new one, never a mix.
func (h *Handle) Save(c *Container) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(h.Path(stateFile), data, 0o600); err != nil {
		return err
	}
	// Recorded: creatingFile has done its work (Abandoned asks it only
	// of a directory without state.json). Only create's first Save has
	// one to remove; later commands' saves make no system call for it.
	if h.marked {
		if err := os.Remove(h.Path(creatingFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		h.marked = false
	}
	return nil
}

// Destroy removes the container directory and everything in it while
// still holding the lock, then releases the lock. Commands waiting in
// Lock for this id then get ErrNotExist.
func (h *Handle) Destroy() error {
	if h.fd < 0 {
		return fmt.Errorf("destroy %q: handle is not locked", h.ID)
	}
	unmountUnder(h.Dir)
	// The directory leaves its id's name first, in one step, then is
	// emptied: removed in place, state.json could go before the
	// directory did, and a reader meanwhile (`runw state`, an engine
	// polling it) saw a directory with no record under a held lock: a
	// container being created, after it had stopped. The name it leaves
	// under is no id's and this removal's alone (tombName), so list and
	// state skip it and no other removal's rename lands on it; neither
	// rename replaces what it finds (a create may take the id at once).
	tomb := tombName(h.Dir)
	if err := unix.Renameat2(unix.AT_FDCWD, h.Dir, unix.AT_FDCWD, tomb, unix.RENAME_NOREPLACE); err != nil {
		err := os.RemoveAll(h.Dir)
		h.Unlock()
		return err
	}
	err := os.RemoveAll(tomb)
	if err != nil {
		// Not all of it could go: back under its id, so that a later
		// delete finds it and tries again (unless a create has taken the
		// id since: then the next removal's sweep tries).
		_ = unix.Renameat2(unix.AT_FDCWD, tomb, unix.AT_FDCWD, h.Dir, unix.RENAME_NOREPLACE)
	}
	h.Unlock()
	sweepTombs(filepath.Dir(h.Dir))
	return err
}

// tombMark is in the name of a container directory being removed: '~'
// is in no container id (ValidateID).
const tombMark = "~removing~"

// tombName is a name, unique to this removal, for the directory dir
// leaves its id's name for.
func tombName(dir string) string {
	// No id in it, as in a birth name: with the id, ids of about 219
	// bytes and more passed the file system's 255, the rename failed
	// (ENAMETOOLONG), and the directory was removed in place.
	return filepath.Join(filepath.Dir(dir), fmt.Sprintf("%s%d-%d", tombMark, os.Getpid(), time.Now().UnixNano()))
}

// sweepTombs removes what removals that died midway (SIGKILL, an engine's
// timeout) left under root, and what creates that died before their
// directory took its id's name left: no id names them, so nothing else
// would. A removal or create still under way holds its directory's lock,
// and is left alone.
func sweepTombs(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		birth := strings.Contains(e.Name(), birthMark)
		if !birth && !strings.Contains(e.Name(), tombMark) {
			continue
		}
		dir := filepath.Join(root, e.Name())
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		// A create between its mkdir and its lock holds no lock: its
		// directory is left alone until it is abandonedAfter old.
		if (!birth || abandonedAge(fd)) && flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			unmountUnder(dir)
			os.RemoveAll(dir)
		}
		unix.Close(fd)
	}
}

// unmountUnder detaches every mount at or below dir (the real tmpfs runw
// mounts behind a bounded tmpfs grant), deepest first, so that removing
// the container directory never descends into, or fails on, a mount.
func unmountUnder(dir string) {
	// mountinfo names mount points by their absolute, resolved paths.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return
	}
	points := make([]string, 0, len(mounts))
	for _, m := range mounts {
		points = append(points, m.Mountpoint)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, mp := range points {
		_ = unix.Unmount(mp, unix.MNT_DETACH)
	}
}

// List returns the ids of all containers under the root, sorted. Entries
// that are not directories or whose names are not valid ids are skipped.
// A root that does not exist yet simply holds no containers.
func (s *Store) List() ([]string, error) {
	entries, err := os.ReadDir(s.Root) // sorted by name
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return []string{}, nil
		}
		return nil, err
	}
	ids := []string{}
	for _, e := range entries {
		if e.IsDir() && ValidateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}
