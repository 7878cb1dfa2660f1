package runtime

import (
	"fmt"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi"
)

// Compile precompiles modules into the cache ahead of time (image builds,
// node warm-up), so that the first container of a module starts as fast
// as the hundredth. It reports, per module, whether it was already cached.
func Compile(cacheDir string, cacheMax int64, paths []string, report func(path, key string, hit bool)) error {
	cache, err := wasi.OpenCache(cacheDir, cacheMax)
	if err != nil {
		return err
	}
	engine := wasi.NewEngine()
	for _, p := range paths {
		kind, err := spec.SniffFile(p)
		if err != nil {
			return err
		}
		if kind != spec.KindModule && kind != spec.KindWAT {
			return fmt.Errorf("%q: not a WebAssembly module (%s)", p, kind)
		}
		_, hit, key, err := wasi.CompileKeyed(engine, p, kind, cache)
		if err != nil {
			return err
		}
		report(p, key, hit)
	}
	return nil
}
