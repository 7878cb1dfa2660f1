package state

import (
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data so that readers see either the
// old content or the new, never a partial file, even across a crash: it
// writes a temporary file in the same directory (its name starts with "."
// so nobody mistakes it for the real one), fsyncs it, renames it over
// path and fsyncs the directory. The file gets mode perm regardless of
// the umask. It writes data exactly as given (a --pid-file gets the pid
// digits with no trailing newline only if the caller passes them so).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
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
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so a rename inside it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
