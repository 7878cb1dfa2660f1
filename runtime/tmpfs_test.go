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

// The attack: a tmpfs whose options the kernel refuses (a typo such as
// size=1k2m in podman's --tmpfs, or nr_inodes=5%) fell back to a plain
// directory under the state root, so the size= the spec asked for was
// dropped and the guest could fill the host's /run (20 MiB written into a
// size=1k2m mount), where runc's create fails ("invalid argument").
func TestTmpfsWithRefusedOptionsFails(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	for _, data := range []string{"size=1k2m", "nr_inodes=5%"} {
		dir := filepath.Join(t.TempDir(), "tmpfs-0")
		err := makePrivateDir(dir, data, 0o1777, wasi.User{})
		if err == nil {
			unix.Unmount(dir, unix.MNT_DETACH)
			t.Errorf("%s: made a private directory (a plain one, without the size bound), want an error as runc's", data)
		}
	}
}
