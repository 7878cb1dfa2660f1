package wasi

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"sync/atomic"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"golang.org/x/sys/unix"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi/component"
	"github.com/runw/runw/wasi/preview1"
)

// compileComponentNamed is compileNamed for a component: the compiled
// component for the file read at path and named name in messages.
func compileComponentNamed(engine *wasmtime.Engine, path, name string, kind spec.Kind, cache *Cache, mayCompile bool) (*component.Component, bool, string, error) {
	return compileCached(path, name, converter(name, kind), cache,
		func(key string) (*component.Component, bool) {
			c := cache.LoadComponent(engine, key)
			return c, c != nil
		},
		refuseUnless(mayCompile, compileComponentBytes(engine, name)))
}

// compileComponentBytes compiles a binary component named name in
// messages.
func compileComponentBytes(engine *wasmtime.Engine, name string) func(wasm []byte) (*component.Component, error) {
	return func(wasm []byte) (*component.Component, error) {
		c, err := component.New(engine, wasm)
		if err != nil {
			return nil, &RejectedError{What: "compile component", Name: name, Msg: oneLine(err).Error()}
		}
		return c, nil
	}
}

// componentGuest is an instantiated WASI 0.2 command component whose run
// has not been called.
type componentGuest struct {
	// engine is held so that it lives as long as the instance made in it.
	engine *wasmtime.Engine
	inst   *component.Instance
	// plan is the component's plan, for what its memory limit leaves it
	// (memoryRefusal) when instantiation at Run is refused.
	plan   *Plan
	signal atomic.Int32
	// held are the preopens' descriptors, kept while wasmtime uses them;
	// root are those of the rootfs's, which TakeRoot replaces.
	held, root []int
	// dirs are the directory descriptors of the preopens below "/", by
	// guest path, that TakeRoot compares with their copies.
	dirs map[string]int
}

// prepareComponent compiles (or loads) the plan's component, grants it the
// plan and links it, checking its imports; its instantiation, which runs
// its core modules' start functions, waits for Run (component.Link). The grants are wasmtime's WASI 0.2: argv, env,
// stdio and the directory preopens (rootfs, bind mounts, tmpfs), each
// read-only where the plan says; single files (file binds, the default
// devices) have no WASI 0.2 form: they reach the component inside its
// "/" where the init binds them (TakeRoot), and not otherwise.
func prepareComponent(engine *wasmtime.Engine, plan *Plan, cache *Cache) (Guest, error) {
	comp, ok := handed(plan, func(path string) (*component.Component, error) {
		return component.DeserializeFile(engine, path)
	})
	if !ok {
		var err error
		if comp, _, _, err = compileComponentNamed(engine, plan.Module, plan.moduleName(), plan.Kind, cache, !plan.NoCompile); err != nil {
			return nil, err
		}
	}
	defer comp.Close()
	cfg := component.Config{Args: plan.Argv, Env: plan.Env, MemoryLimit: plan.linearCap(), TableElements: plan.tableElements()}
	g := &componentGuest{engine: engine, plan: plan, dirs: map[string]int{}}
	// Each preopen is wasmtime's to open by path: it is given the
	// descriptor runw opened and confined as the preview1 host's are
	// (preview1.OpenConfinedDir says against what).
	for _, p := range plan.Preopens {
		dir, tree, err := preview1.OpenConfinedDir(p.mount())
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("grant the container's files: %w", err)
		}
		fds := []int{dir}
		if tree >= 0 {
			fds = append(fds, tree)
		}
		if p.GuestPath == "/" {
			g.root = fds
		} else {
			g.held = append(g.held, fds...)
			g.dirs[p.GuestPath] = dir
		}
		cfg.Dirs = append(cfg.Dirs, component.Dir{Host: fmt.Sprintf("/proc/self/fd/%d", dir), Guest: p.GuestPath, ReadOnly: p.ReadOnly})
	}
	inst, err := component.Link(comp, cfg)
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("instantiate %q: %w", plan.Argv[0], oneLine(err))
	}
	g.inst = inst
	return g, nil
}

// TakeRoot makes dir the component's "/" in place of the rootfs alone
// that prepareComponent granted: a copy of the container's root with the
// file grants (file bind mounts such as /etc/hosts, /etc/resolv.conf,
// subPath files, the default devices) bound at their paths, which WASI
// 0.2 cannot preopen one by one. The runtime makes it in the init's
// mount namespace (runtime/pivot.go guestRootCopy) and says what it
// keeps out of it. Called before the sandbox, with the privileges Link
// had; on an error the component keeps the rootfs alone.
//
// In the copy every grant is a mount, read-only where the spec says (the
// kernel refuses the writes), the rootfs's own mount read-only with a
// read-only root. So "/" is granted without wasmtime's read-only on top,
// which judged every write through "/" by the rootfs alone: a link from
// the image into a writable volume, or a writable /etc/hosts or
// /dev/termination-log under a read-only root, answered EPERM.
//
// Each preopen below "/" is then taken from the copy too, where what the
// spec mounts inside it lies over it as in the container: masked paths,
// read-only paths, file binds inside a volume. Opened from its host
// source, it showed the component the volume's own files under them (a
// masked secret, a writable file the spec made read-only). It is taken
// only where the copy holds that very directory (same device and inode):
// where the init could not bind it there, the preopen stays as Link had it.
func (g *componentGuest) TakeRoot(dir, tree int) error {
	dirs := []component.Dir{{Guest: "/", Host: fmt.Sprintf("/proc/self/fd/%d", dir)}}
	var opened []int
	var errs []error
	for _, p := range g.plan.Preopens {
		orig, ok := g.dirs[p.GuestPath]
		if !ok {
			continue
		}
		fd, err := openInCopy(dir, p.GuestPath, orig)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s stays as its source: %w", p.GuestPath, err))
			continue
		}
		opened = append(opened, fd)
		dirs = append(dirs, component.Dir{Guest: p.GuestPath, Host: fmt.Sprintf("/proc/self/fd/%d", fd), ReadOnly: p.ReadOnly})
	}
	if err := g.inst.ReplaceDirs(dirs); err != nil {
		closeFds(opened)
		g.held = append(g.held, dir, tree)
		return err
	}
	// wasmtime holds its own descriptor of the new "/" now, and none of
	// the rootfs copy it was first given.
	closeFds(g.root)
	g.root = []int{dir, tree}
	g.held = append(g.held, opened...)
	return errors.Join(errs...)
}

// openInCopy opens guest, a directory grant, inside the root copy at
// root, and checks that it is the directory orig (the grant opened from
// its host source) and not what the image holds at that path. No link is
// followed and the walk stays below root: the image's files are the
// container's to shape.
func openInCopy(root int, guest string, orig int) (int, error) {
	fd, err := unix.Openat2(root, strings.TrimPrefix(path.Clean(guest), "/"), &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, fmt.Errorf("open in the copy of the container's root: %w", err)
	}
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil || unix.Fstat(orig, &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
		unix.Close(fd)
		return -1, errors.New("the copy of the container's root holds another directory there")
	}
	return fd, nil
}

// Run calls wasi:cli/run's run and maps how it ended: exit(ok) or a return
// of ok gives 0, exit(err) or a return of err gives 1, exit-with-code(n)
// gives n, a stop by Stop(sig) gives 128+sig and a trap gives 134.
func (g *componentGuest) Run() Exit {
	var r component.Result
	if serr := onGuestStack(func() { r = g.inst.Call() }); serr != nil {
		return Exit{Code: TrapExitCode, Trap: serr.Error()}
	}
	switch {
	case r.Exited:
		return Exit{Code: r.Code & 0xff}
	case r.Err == nil && r.Failed:
		return Exit{Code: 1}
	case r.Err == nil:
		return Exit{Code: 0}
	}
	if sig := g.signal.Load(); sig != 0 {
		return Exit{Code: 128 + int(sig)}
	}
	msg := trapMessage(r.Err)
	if why := g.plan.memoryRefusal(msg); why != "" {
		// Instantiation runs here, not at create as a module's does.
		msg = why + ": " + msg
	}
	return Exit{Code: TrapExitCode, Trap: msg}
}

// Stop records that a running component ends because of signal sig. It
// is not interrupted, in its own code or inside one of wasmtime's WASI 0.2
// calls: the init ends the process around it (runtime/init.go).
func (g *componentGuest) Stop(sig int) {
	g.signal.CompareAndSwap(0, int32(sig))
}

// Close frees the instance.
func (g *componentGuest) Close() {
	if g.inst != nil {
		g.inst.Close()
	}
	closeFds(g.held)
	closeFds(g.root)
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
