package state

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tempInfix marks WriteFileAtomic's temporaries: "."+name+tempInfix+
// random digits, beside name.
const tempInfix = ".tmp-"

// isAtomicTemp says whether name is one of WriteFileAtomic's temporaries.
func isAtomicTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempInfix)
}

// WriteFileAtomic replaces path with data so that readers see either the
// old content or the new, never a partial file, even if the writer is
// killed mid-way: it writes a temporary file in the same directory (its
// name starts with "." so nobody mistakes it for the real one) and renames
// it over path. The file gets mode perm regardless of the umask. It writes
// data exactly as given (a --pid-file gets the pid digits with no trailing
// newline only if the caller passes them so).
//
// It does not fsync, as runc does not: what it writes (state.json, the
// init record, pid files) describes processes that do not survive a
// reboot, so surviving a power loss buys nothing, while two fsyncs per
// write cost about a millisecond each on a disk-backed /run, several times
// per container. delete --force copes with a state file a crash left
// unreadable (runtime/delete.go).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WritePidFile writes pid to path as runc writes --pid-file: the digits
// alone, replaced atomically, with mode 0666 less the process's umask (a
// caller with umask 077 gets a file only it can read).
func WritePidFile(path string, pid int) error {
	return WriteFileAtomic(path, []byte(strconv.Itoa(pid)), 0o666&^umask())
}

// umask is the process's file mode creation mask, read from
// /proc/self/status (Linux 4.7): umask(2) cannot read it without setting
// it, which would race with every other thread creating a file. 022
// where it cannot be read.
func umask() os.FileMode {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o022
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return os.FileMode(m) & 0o777
			}
		}
	}
	return 0o022
}
