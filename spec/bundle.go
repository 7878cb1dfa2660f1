package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// configName is the file every OCI bundle keeps its spec in.
const configName = "config.json"

// Bundle is a loaded, validated bundle. Other packages take a *Bundle rather
// than a path so that they can rely on the checks Load made (root exists,
// process and args are set) without repeating them.
type Bundle struct {
	// Dir is the absolute bundle directory; relative paths in the spec
	// (root.path, bind mount sources) are relative to it.
	Dir string
	// Rootfs is the absolute host path of root.path. It is lexically
	// clean, which filepath-securejoin requires of a root.
	Rootfs string
	// Spec is the decoded config.json.
	Spec *specs.Spec
	// Config is config.json as it was read (its one JSON value): create
	// records it, and exec loads the container's configuration from the
	// record (LoadWith), not the bundle's file as it is by then, as
	// runc's exec reads its state's copy. Edited after create, by whoever
	// can write the bundle or, with root.path ".", by the guest itself
	// through its rootfs, the file gave exec'd processes another network
	// grant and no seccomp filter.
	Config []byte
	// OwnNetwork, when set, is whether the container has a network
	// namespace of its own, not the one runw runs in, as create found it
	// (wasi.OwnNetwork): exec's caller may be in another namespace than
	// create's, and the grant of an exec'd process is the container's.
	OwnNetwork *bool
	// Destinations, when set, are the mounts' destinations as resolved
	// once, at create (MountDestinations), in spec order: Mounts and the
	// module's lookup take them instead of resolving again in a rootfs
	// the guest may have changed since (runw exec), so that an exec'd
	// process sees the mounts where the container's process does.
	Destinations []string
	// EngineInit, when set, is the engine's init (podman run --init's
	// /run/podman-init) that create found in front of the wasm command
	// in process.args and dropped from them.
	EngineInit string
	// Masks, when set, are the masked paths as create found them
	// (MaskedPaths), for runw exec.
	Masks *[]Mask
	// ReadOnly, when set, are the read-only paths as create found them
	// (ReadOnlyPaths), for runw exec.
	ReadOnly *[]Mask
	// StatSource, when set, tells what a bind mount's source is (a
	// directory or a file) in place of a stat of the source on the host:
	// runw exec asks the container's tree at the destination, where the
	// mount is, whatever became of the source's host path since create.
	StatSource func(source, dest string) (os.FileInfo, error)
}

// statSource is what the bind of source at dest is: StatSource's answer,
// or the source's on the host.
func (b *Bundle) statSource(source, dest string) (os.FileInfo, error) {
	if b.StatSource != nil {
		return b.StatSource(source, dest)
	}
	return os.Stat(source)
}

// Load reads and validates <dir>/config.json. It exists so that a bad bundle
// fails at "create" with one clear line, using runc's wording where runc has
// one, because engines and users already know those messages.
func Load(dir string) (*Bundle, error) {
	return load(dir, nil, false)
}

// LoadWith is Load of config, the bundle's config.json as create read it
// (Bundle.Config), in place of the file: the same checks, the root
// resolved in dir as at create.
//
// Its namespace paths are not opened again: they were at create, and the
// process behind one (/proc/PID/ns/ipc of an engine's holder, a pod's
// infra container) may be gone since while the container runs on, in
// the namespace it joined. runw exec joins the init's namespaces, not
// those paths; runc's exec, which reads its state, works there too.
func LoadWith(dir string, config []byte) (*Bundle, error) {
	return load(dir, config, true)
}

// load is Load and LoadWith: config read from dir when nil; recorded, a
// container's configuration as create read it.
func load(dir string, config []byte, recorded bool) (*Bundle, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle directory: %w", err)
	}
	if _, err := os.Stat(dir); err != nil {
		// runc's wording: it changes into the bundle first.
		return nil, fmt.Errorf("chdir %s: %w", dir, ErrnoOf(err))
	}
	if config == nil {
		if config, err = readConfig(dir); err != nil {
			return nil, err
		}
	}
	// One JSON value, as runc reads it (json.Decoder): whatever follows it
	// in the file is ignored, not an error. A missing ociVersion is
	// accepted for the same reason: runc accepts it.
	var s specs.Spec
	dec := json.NewDecoder(bytes.NewReader(config))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parse config.json: %w", err)
	}
	config = config[:dec.InputOffset()]

	if s.Process == nil {
		return nil, errors.New("process property must not be empty")
	}
	if len(s.Process.Args) == 0 {
		return nil, errors.New("args must not be empty")
	}
	if s.Root == nil || s.Root.Path == "" {
		return nil, errors.New("root must be specified")
	}
	if err := validate(&s, recorded); err != nil {
		return nil, err
	}
	rootfs := s.Root.Path
	if !filepath.IsAbs(rootfs) {
		// runc changes into the bundle and joins a relative root to its
		// working directory, which the kernel gives without symlinks.
		physical, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, fmt.Errorf("chdir %s: %w", dir, ErrnoOf(err))
		}
		rootfs = filepath.Join(physical, rootfs)
	}
	rootfs = filepath.Clean(rootfs)
	fi, err := os.Stat(rootfs)
	if err != nil {
		// runc's wording; podman maps "no such file or directory" to 127.
		return nil, fmt.Errorf("invalid rootfs: %w", err)
	}
	// A root reached through a symlink is refused, as runc refuses it
	// (its config validator): the directory the container's files come
	// from is the one config.json names, not wherever a link in the
	// path points when the container is made.
	if resolved, err := filepath.EvalSymlinks(rootfs); err != nil {
		return nil, fmt.Errorf("invalid rootfs: %w", err)
	} else if resolved != rootfs {
		return nil, errors.New("invalid rootfs: not an absolute path, or a symlink")
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("rootfs (%q) is not a directory", rootfs)
	}
	return &Bundle{Dir: dir, Rootfs: rootfs, Spec: &s, Config: config}, nil
}

// readConfig reads <dir>/config.json.
func readConfig(dir string) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, configName))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("JSON specification file config.json not found")
		}
		return nil, fmt.Errorf("read config.json: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read config.json: %w", err)
	}
	return data, nil
}
