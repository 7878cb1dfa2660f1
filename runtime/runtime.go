package runtime

import (
	"errors"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/runw/runw/state"
	"github.com/runw/runw/wasi"
)

// Options are the global flags, parsed once in main and passed down.
type Options struct {
	// Root holds one state directory per container.
	Root string
	// StickyRoot sets the sticky bit on Root (the default root under
	// $XDG_RUNTIME_DIR, as runc's: state.Store.Stick).
	StickyRoot bool
	// CacheDir holds compiled modules; "" disables the cache.
	CacheDir string
	// CacheDirSet and CacheMaxSet say CacheDir and CacheMax were given
	// (--cache-dir, RUNW_CACHE_DIR; --cache-max, RUNW_CACHE_MAX) rather
	// than defaulted: exec then uses them, and otherwise those create
	// used (execCache).
	CacheDirSet, CacheMaxSet bool
	// CacheMax bounds the cache in bytes (0: wasi.DefaultCacheMax).
	CacheMax int64
	// LogPath and LogFormat are forwarded to the init so that its errors
	// land in the same log as the command's.
	LogPath   string
	LogFormat string
	// Debug logs at debug level (--debug), in the init and in a native
	// runtime handed the container too.
	Debug bool
	// SystemdCgroup reads cgroupsPath as slice:prefix:name.
	SystemdCgroup bool
	// NativeRuntime names the OCI runtime native entrypoints are handed to
	// ("" finds runc, then crun, on PATH).
	NativeRuntime string
	// CmdArgs are the command's own arguments as given (flags and id),
	// replayed to the native runtime for a handed-off container.
	CmdArgs []string
}

// Runtime carries the options and the opened store to every command.
type Runtime struct {
	opts  Options
	store *state.Store
	// cache is the compiled-module cache, opened once for the command's
	// life by the first use (openedCache): create and exec ask it up to
	// four times on the start path.
	cacheOnce sync.Once
	cache     *wasi.Cache
	// hookDir is the working directory of the hooks this command runs
	// ("": runw's): the bundle from create on, so that under run the
	// poststart and poststop hooks, as under runc run, which moves into
	// the bundle, find what they name relative to it too.
	hookDir string
}

// openedCache is the command's compiled-module cache (openCache), nil
// when disabled or unusable.
func (r *Runtime) openedCache() *wasi.Cache {
	r.cacheOnce.Do(func() { r.cache = openCache(r.opts.CacheDir, r.opts.CacheMax) })
	return r.cache
}

// New opens the store under opts.Root.
func New(opts Options) (*Runtime, error) {
	st, err := state.Open(opts.Root)
	if err != nil {
		return nil, err
	}
	if opts.StickyRoot {
		if err := st.Stick(); err != nil {
			logDebugf("state root %s: sticky bit: %v", opts.Root, err)
		}
	}
	return &Runtime{opts: opts, store: st}, nil
}

// openCache opens the compiled-module cache, or returns nil when it is
// disabled or unusable: a cache only ever costs speed, never a run.
func openCache(dir string, max int64) *wasi.Cache {
	if dir == "" {
		return nil
	}
	c, err := wasi.OpenCache(dir, max)
	if errors.Is(err, wasi.ErrUntrustedCache) {
		// Said, where a cache that was used before is refused now:
		// every create would compile, and nobody would know why.
		logrus.Warnf("compiled-module cache disabled: %v", err)
		return nil
	}
	if err != nil {
		logDebugf("compiled-module cache disabled: %v", err)
		return nil
	}
	return c
}
