package wasi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/runw/runw/spec"
)

// writeComponent assembles component text into dir/name.
func writeComponent(t *testing.T, dir, name, wat string) string {
	t.Helper()
	wasm, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func componentTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "integration", "testdata", "component", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A component's cache key is not the key its bytes would have as a
// module: a serialized component must never reach the module loader.
func TestComponentKeySaysComponent(t *testing.T) {
	wasm, err := wasmtime.Wat2Wasm(componentTestdata(t, "exitcode.wat"))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Sniff(wasm) != spec.KindComponent {
		t.Fatal("test component not sniffed as a component")
	}
	plain := append([]byte(nil), wasm...)
	plain[4] = 0x01 // same bytes but for the version field
	if Key(wasm) == Key(plain) {
		t.Error("a component and other bytes share a key")
	}
}

// A component is compiled once into the cache, then loaded from it.
func TestComponentCacheHit(t *testing.T) {
	dir := t.TempDir()
	path := writeComponent(t, dir, "c.wasm", componentTestdata(t, "exitcode.wat"))
	cache, err := OpenCache(filepath.Join(dir, "cache"), 0)
	if err != nil {
		t.Fatal(err)
	}
	engine := NewEngine()
	if cache.Has(path, spec.KindComponent) {
		t.Fatal("fresh cache holds the component")
	}
	for i, wantHit := range []bool{false, true} {
		c, hit, key, err := CompileComponent(engine, path, spec.KindComponent, cache)
		if c != nil {
			c.Close()
		}
		if err != nil || hit != wantHit || len(key) != 64 {
			t.Fatalf("compile %d: hit %v key %q err %v, want hit %v", i, hit, key, err, wantHit)
		}
	}
	if entries, _ := cache.List(); len(entries) != 1 {
		t.Errorf("cache lists %d entries, want 1", len(entries))
	}
}

// Prepare runs a component through the same Guest as a module: its exit
// status, and 128+S after Stop.
func TestPrepareComponent(t *testing.T) {
	dir := t.TempDir()
	plan := &Plan{
		Module:   writeComponent(t, dir, "exit.wasm", componentTestdata(t, "exitcode.wat")),
		Kind:     spec.KindComponent,
		Argv:     []string{"/exit.wasm"},
		Preopens: []Preopen{{HostPath: dir, GuestPath: "/", ReadOnly: true}},
	}
	g, err := Prepare(plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := g.Run(); e.Code != 42 {
		t.Errorf("exit-with-code 42: %+v", e)
	}
	g.Close()
	// A component spinning in its own code is not interrupted: the init
	// exits around it (integration/component_test.go, TestComponentKillLoop).
}
