package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runw/runw/wasi"
)

// TestBindHereRefusesASwappedSource tries the attack bindHere stops: the
// directory runw handed over as a descriptor is renamed away and another
// put at its path before the init binds it. The init must bind nothing
// rather than what the path names now; the handed object itself, at the
// same path, is bound.
func TestBindHereRefusesASwappedSource(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it bind-mounts")
	}
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	granted := filepath.Join(dir, "granted")
	for _, d := range []string{filepath.Join(rootfs, "data"), granted} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(granted, "f"), []byte("granted"), 0o644); err != nil {
		t.Fatal(err)
	}
	handed, err := os.OpenFile(granted, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer handed.Close()
	source := fmt.Sprintf("/proc/self/fd/%d", handed.Fd())
	target := filepath.Join(rootfs, "data")
	defer unix.Unmount(target, unix.MNT_DETACH)

	planted := filepath.Join(dir, "planted")
	if err := os.Mkdir(planted, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(planted, "f"), []byte("planted"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The path names another object: a mount over it, made after the
	// descriptor was opened (the descriptor's own path still reads the
	// same).
	if err := unix.Mount(planted, granted, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	err = bindHere(rootfs, source, "data", false, false)
	unix.Unmount(granted, unix.MNT_DETACH)
	if err == nil || !strings.Contains(err.Error(), "not the object runw opened") {
		t.Errorf("bindHere where the path names another object: %v; want a refusal", err)
	}
	if data, _ := os.ReadFile(filepath.Join(target, "f")); len(data) > 0 {
		t.Fatalf("the mount point holds %q after a refused bind", data)
	}

	// Renamed away and another directory put at its path: the
	// descriptor's path follows the object, and what is bound is the
	// handed object, never the one at its old path.
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(granted, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("planted", granted); err != nil {
		t.Fatal(err)
	}
	if err := bindHere(rootfs, source, "data", true, false); err != nil {
		t.Fatalf("bindHere of the renamed handed object: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(data) != "granted" {
		t.Errorf("the mount point holds %q, %v; want the handed directory's file", data, err)
	}
	if err := os.WriteFile(filepath.Join(target, "g"), nil, 0o644); err == nil {
		t.Errorf("a read-only bind was writable")
	}
	unix.Unmount(target, unix.MNT_DETACH)

	// A link where the handed object's path was, to that same object
	// (bound elsewhere, so device and inode match): still refused, as
	// no link on the path is followed.
	elsewhere := t.TempDir()
	if err := unix.Mount(moved, elsewhere, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(elsewhere, unix.MNT_DETACH)
	// The descriptor's path reads dir/moved; a tmpfs over dir puts a
	// link there instead.
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	if err := os.Symlink(elsewhere, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "rootfs", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := bindHere(filepath.Join(dir, "rootfs"), source, "data", false, false); err == nil {
		unix.Unmount(filepath.Join(dir, "rootfs", "data"), unix.MNT_DETACH)
		t.Errorf("bindHere followed a link on the source's path")
	}
}

// TestBindFailureWhereTheMountPointChanged: create made and checked every
// mount point, so a bind that fails because its mount point is missing
// or of the other type by the time the init binds it (changed by a
// sharer of the tree) fails the container, as runc's mount would; the
// init went on, and the engines' view lacked a grant the guest had. A
// default device, and a failure of this host's (no open_tree, a remount
// refused) at a mount point that is fit, are only logged, as before.
func TestBindFailureWhereTheMountPointChanged(t *testing.T) {
	rootfs, src := t.TempDir(), t.TempDir()
	srcFile := filepath.Join(src, "hosts")
	if err := os.WriteFile(srcFile, []byte("h"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc/hosts", "fit"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		rel  string
		g    wasi.Preopen
		want string // "": logged only
	}{
		{"data", wasi.Preopen{HostPath: src, GuestPath: "/data"}, `error mounting at "/data" in the container's root: no such file or directory`},
		{"etc/hosts", wasi.Preopen{HostPath: srcFile, GuestPath: "/etc/hosts"}, `error mounting at "/etc/hosts" in the container's root: not a directory`},
		{"dev/null", wasi.Preopen{HostPath: "/dev/null", GuestPath: "/dev/null"}, ""},
		{"fit", wasi.Preopen{HostPath: src, GuestPath: "/fit"}, ""},
	} {
		err := bindFailure(rootfs, c.rel, c.g, unix.EINVAL)
		if c.want == "" && err != nil || c.want != "" && (err == nil || err.Error() != c.want) {
			t.Errorf("%s: %v, want %q", c.g.GuestPath, err, c.want)
		}
	}
	if err := bindFailure(rootfs, "data", wasi.Preopen{HostPath: src, GuestPath: "/data"}, nil); err != nil {
		t.Errorf("a bind that did not fail: %v", err)
	}
}
