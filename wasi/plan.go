package wasi

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/runw/runw/spec"
)

// Preopen is one directory the guest may reach, and how.
type Preopen struct {
	// HostPath is the directory on the host the guest is confined to.
	HostPath string `json:"host"`
	// GuestPath is where the guest sees it ("/" for the rootfs).
	GuestPath string `json:"guest"`
	// ReadOnly withholds every write right, for files and the directory.
	ReadOnly bool `json:"ro,omitempty"`
}

// Plan is everything the guest is granted, computed before any process is
// spawned so that a bad spec fails at create, never after the guest started.
type Plan struct {
	// Module is the host path of the module file (inside the rootfs or a
	// bind mount source, resolved by spec.ResolveGuest).
	Module string `json:"module"`
	// Kind says how to read Module (binary module or WAT text).
	Kind spec.Kind `json:"kind"`
	// Argv is process.args exactly, argv[0] included.
	Argv []string `json:"argv"`
	// Env is process.env exactly, plus PWD from process.cwd when the spec
	// does not set PWD itself. Never the host's environment.
	Env []string `json:"env"`
	// Preopens lists the granted directories; the rootfs comes first.
	Preopens []Preopen `json:"preopens"`
	// PrivateDirs are host directories the runtime must create (0700)
	// before the guest runs: the backing of the spec's tmpfs mounts.
	PrivateDirs []string `json:"private_dirs,omitempty"`
	// MemoryLimit caps the guest's linear memory in bytes (0: no cap).
	MemoryLimit int64 `json:"memory_limit,omitempty"`
	// User is process.user: the init takes these credentials before the
	// guest runs, so every file the guest opens is checked as that user.
	User User `json:"user"`
	// Skipped explains each mount that is not granted, for debug logs.
	Skipped []string `json:"-"`
}

// User is the uid, gid and additional gids the guest runs as.
type User struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additional_gids,omitempty"`
}

// PlanFor derives the guest's grants from the bundle, following the grant
// table in docs/ARCHITECTURE.md. privateBase is a directory owned by this
// container (under its state directory) that will hold the tmpfs backings;
// it is removed with the container.
func PlanFor(b *spec.Bundle, ep *spec.Entrypoint, privateBase string) (*Plan, error) {
	proc := b.Spec.Process
	p := &Plan{
		Module: ep.HostPath,
		Kind:   ep.Kind,
		Argv:   append([]string(nil), proc.Args...),
		Env:    guestEnv(proc.Env, proc.Cwd),
		User:   User{UID: proc.User.UID, GID: proc.User.GID, AdditionalGids: proc.User.AdditionalGids},
	}
	readonlyRoot := b.Spec.Root != nil && b.Spec.Root.Readonly
	p.Preopens = append(p.Preopens, Preopen{HostPath: b.Rootfs, GuestPath: "/", ReadOnly: readonlyRoot})

	mounts, err := b.Mounts()
	if err != nil {
		return nil, err
	}
	for i, m := range mounts {
		switch m.Kind {
		case spec.MountBind:
			p.Preopens = append(p.Preopens, Preopen{HostPath: m.Source, GuestPath: m.Destination, ReadOnly: m.ReadOnly})
		case spec.MountTmpfs:
			dir := filepath.Join(privateBase, fmt.Sprintf("tmpfs-%d", i))
			p.PrivateDirs = append(p.PrivateDirs, dir)
			p.Preopens = append(p.Preopens, Preopen{HostPath: dir, GuestPath: m.Destination, ReadOnly: m.ReadOnly})
		case spec.MountBindFile:
			p.Skipped = append(p.Skipped, fmt.Sprintf("%s: file bind mounts cannot be WASI preopens", m.Destination))
		default:
			p.Skipped = append(p.Skipped, fmt.Sprintf("%s: host kernel views are never exposed", m.Destination))
		}
	}

	if r := b.Spec.Linux; r != nil && r.Resources != nil && r.Resources.Memory != nil && r.Resources.Memory.Limit != nil {
		if lim := *r.Resources.Memory.Limit; lim > 0 {
			p.MemoryLimit = lim
		}
	}
	return p, nil
}

// guestEnv copies env and adds PWD=cwd unless the spec already sets PWD: Go
// guests start in $PWD, and nothing else carries process.cwd into WASI p1.
func guestEnv(env []string, cwd string) []string {
	out := append([]string(nil), env...)
	for _, kv := range env {
		if strings.HasPrefix(kv, "PWD=") {
			return out
		}
	}
	if cwd == "" {
		cwd = "/"
	}
	return append(out, "PWD="+cwd)
}
