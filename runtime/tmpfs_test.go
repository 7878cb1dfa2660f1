package runtime

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
)

// The attack: a tmpfs mount without size= (podman's --tmpfs, --read-only)
// was a plain directory under the state root, so a guest's writes landed
// on /run (or the disk) beyond its memory limit, where runc's container
// gets a tmpfs of its own, charged to its cgroup. As root it is always a
// real tmpfs, with mode 1777 when the spec names none.
func TestTmpfsWithoutOptionsIsARealTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	dir := filepath.Join(t.TempDir(), "tmpfs-0")
	if err := makePrivateDir(dir, "", tmpfsRootMode(t.TempDir(), "/none", ""), wasi.User{UID: 1000, GID: 1000}); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		t.Fatalf("private directory is on file system type %#x, not a tmpfs", st.Type)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModePerm != 0o777 || fi.Mode()&os.ModeSticky == 0 {
		t.Fatalf("mode %v, want 1777", fi.Mode())
	}
}
