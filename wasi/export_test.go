package wasi

import (
	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/runw/runw/spec"
	"github.com/runw/runw/wasi/component"
)

// Compile returns the compiled module for the file at path, from the cache
// when it holds it (cache may be nil), compiling and storing it otherwise.
// The boolean says whether it was a cache hit. Only tests call it: runw
// compiles a plan's module through compileNamed.
func Compile(engine *wasmtime.Engine, path string, kind spec.Kind, cache *Cache) (*wasmtime.Module, bool, error) {
	m, hit, _, err := CompileKeyed(engine, path, kind, cache)
	return m, hit, err
}

// CompileKeyed is Compile that also returns the cache key it used.
func CompileKeyed(engine *wasmtime.Engine, path string, kind spec.Kind, cache *Cache) (*wasmtime.Module, bool, string, error) {
	return compileNamed(engine, path, path, kind, cache, true)
}

// CompileComponent returns the compiled component for the file at path,
// from the cache when it holds it (cache may be nil), compiling and
// storing it otherwise, like CompileKeyed for a module. The boolean says
// whether it was a cache hit.
func CompileComponent(engine *wasmtime.Engine, path string, kind spec.Kind, cache *Cache) (*component.Component, bool, string, error) {
	return compileComponentNamed(engine, path, path, kind, cache, true)
}
