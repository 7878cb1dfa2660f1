package runtime

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestPrepareUserNamespaceUnprivileged: a user without privileges (runc's
// rootless case, `runw spec --rootless` and `runw run`) may write its
// gid_map only with setgroups denied, and may not call setgroups; runw
// allowed setgroups and had the child call it, so the spawn failed with
// "fork/exec /proc/self/fd/N: operation not permitted". As root nothing
// changes: setgroups stays allowed.
func TestPrepareUserNamespaceUnprivileged(t *testing.T) {
	defer func(f, g func() int) { spawnerEUID, spawnerEGID = f, g }(spawnerEUID, spawnerEGID)
	for _, euid := range []int{0, 1000} {
		spawnerEUID = func() int { return euid }
		spawnerEGID = func() int { return euid }
		ns, err := namespacesFor(&Sandbox{
			Namespaces:  []specs.LinuxNamespace{{Type: specs.UserNamespace}},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(euid), Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(euid), Size: 1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if ns.cloneFlags&unix.CLONE_NEWUSER == 0 {
			t.Fatalf("no new user namespace: %#x", ns.cloneFlags)
		}
		cmd := exec.Command("true")
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		r, w, err := ns.prepare(cmd, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r != nil {
			r.Close()
			w.Close()
		}
		a := cmd.SysProcAttr
		if a.Credential == nil || a.Credential.Uid != 0 || a.Credential.Gid != 0 {
			t.Errorf("euid %d: credential %+v, want root of the new namespace", euid, a.Credential)
			continue
		}
		unprivileged := euid != 0
		if a.GidMappingsEnableSetgroups == unprivileged || a.Credential.NoSetGroups != unprivileged {
			t.Errorf("euid %d: setgroups allowed %v, NoSetGroups %v; want %v and %v", euid, a.GidMappingsEnableSetgroups, a.Credential.NoSetGroups, !unprivileged, unprivileged)
		}
	}
}

// TestPrepareSubordinateIDsUnprivileged: an unprivileged user's mappings
// beyond its own id (a subuid range, which runc maps with newuidmap) are
// refused in one line naming the helper runw does not run; the spawn
// failed with "fork/exec /proc/self/fd/N: operation not permitted".
func TestPrepareSubordinateIDsUnprivileged(t *testing.T) {
	defer func(f, g func() int) { spawnerEUID, spawnerEGID = f, g }(spawnerEUID, spawnerEGID)
	spawnerEUID = func() int { return 1000 }
	spawnerEGID = func() int { return 1000 }
	own := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	ranges := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	for _, c := range []struct {
		uids, gids []specs.LinuxIDMapping
		want       string
	}{
		{own, own, ""},
		{ranges, own, "linux.uidMappings may map only your own uid (1000), one id; more takes newuidmap(1)"},
		{own, ranges, "linux.gidMappings may map only your own gid (1000), one id; more takes newgidmap(1)"},
		{[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}, own, "linux.uidMappings may map only your own uid (1000)"},
	} {
		_, err := namespacesFor(&Sandbox{
			Namespaces:  []specs.LinuxNamespace{{Type: specs.UserNamespace}},
			UIDMappings: c.uids, GIDMappings: c.gids,
		})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("uids %v, gids %v: %v, want %q", c.uids, c.gids, err, c.want)
		}
	}
}

// TestRootlessTemplate: `runw spec --rootless` writes, as runc's, a user
// namespace in which root is the caller (it was the plain template, which
// a user without privileges cannot run), and no network namespace, which
// a user could give only lo.
func TestRootlessTemplate(t *testing.T) {
	s := RootlessTemplate()
	var user bool
	for _, n := range s.Linux.Namespaces {
		user = user || n.Type == specs.UserNamespace
		if n.Type == specs.NetworkNamespace {
			t.Errorf("a network namespace: %+v", s.Linux.Namespaces)
		}
	}
	if !user {
		t.Errorf("no user namespace: %+v", s.Linux.Namespaces)
	}
	if len(s.Linux.UIDMappings) != 1 || s.Linux.UIDMappings[0].ContainerID != 0 || int(s.Linux.UIDMappings[0].HostID) != unix.Geteuid() || s.Linux.UIDMappings[0].Size != 1 {
		t.Errorf("uid mappings %+v", s.Linux.UIDMappings)
	}
	if len(s.Linux.GIDMappings) != 1 || s.Linux.GIDMappings[0].ContainerID != 0 || int(s.Linux.GIDMappings[0].HostID) != unix.Getegid() || s.Linux.GIDMappings[0].Size != 1 {
		t.Errorf("gid mappings %+v", s.Linux.GIDMappings)
	}
	for _, n := range Template().Linux.Namespaces {
		if n.Type == specs.UserNamespace {
			t.Error("the plain template has a user namespace")
		}
	}
}

// TestPrepareJoinsInUserNamespaceUnprivileged: an unprivileged runw
// cannot join a namespace from its spawning thread before it is in the
// namespace's owner, the user namespace (exec failed with EPERM), so the
// joins become the constructor's "join" orders, after the user namespace;
// as root the spawning thread keeps them.
func TestPrepareJoinsInUserNamespaceUnprivileged(t *testing.T) {
	defer func(f func() int) { spawnerEUID = f }(spawnerEUID)
	for _, euid := range []int{0, 1000} {
		spawnerEUID = func() int { return euid }
		ns, err := namespacesFor(&Sandbox{Namespaces: []specs.LinuxNamespace{
			{Type: specs.UserNamespace, Path: "/proc/7/ns/user"},
			{Type: specs.MountNamespace, Path: "/proc/7/ns/mnt"},
			{Type: specs.PIDNamespace, Path: "/proc/7/ns/pid"},
			{Type: specs.NetworkNamespace, Path: "/proc/7/ns/net"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("true")
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		r, w, err := ns.prepare(cmd, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		w.Close()
		want := "user /proc/7/ns/user\nmnt /proc/7/ns/mnt"
		joins := 2
		if euid != 0 {
			want += "\njoin pid /proc/7/ns/pid\njoin net /proc/7/ns/net"
			joins = 0
		}
		if ns.orders != want || len(ns.joins) != joins {
			t.Errorf("euid %d: orders %q and %d joins by the spawning thread, want %q and %d", euid, ns.orders, len(ns.joins), want, joins)
		}
	}
}

// TestNewNamespacesInAJoinedUserNamespace: with the user namespace joined
// by path, the new namespaces are the constructor's "new" order, made once
// it is in that user namespace (which then owns them), not clone()'s flags;
// with a new user namespace, clone() makes them all at once.
func TestNewNamespacesInAJoinedUserNamespace(t *testing.T) {
	made := []specs.LinuxNamespace{
		{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}, {Type: specs.UTSNamespace},
		{Type: specs.IPCNamespace}, {Type: specs.NetworkNamespace, Path: "/proc/7/ns/net"}, {Type: specs.CgroupNamespace},
	}
	ns, err := namespacesFor(&Sandbox{Namespaces: append([]specs.LinuxNamespace{{Type: specs.UserNamespace, Path: "/proc/7/ns/user"}}, made...)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "user /proc/7/ns/user\ncgroup\nnew mnt pid ipc uts"; ns.cloneFlags != 0 || ns.orders != want {
		t.Errorf("joined user namespace: clone flags %#x and orders %q, want none and %q", ns.cloneFlags, ns.orders, want)
	}
	ids := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	ns, err = namespacesFor(&Sandbox{Namespaces: append([]specs.LinuxNamespace{{Type: specs.UserNamespace}}, made...), UIDMappings: ids, GIDMappings: ids})
	if err != nil {
		t.Fatal(err)
	}
	if want := uintptr(unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC); ns.cloneFlags != want || strings.Contains(ns.orders, "new") {
		t.Errorf("new user namespace: clone flags %#x and orders %q, want %#x and no new order", ns.cloneFlags, ns.orders, want)
	}
}
