// Command wasmtimerun is the baseline of runw's Go standard library test
// (integration/gostdlib_test.go): it runs a WASI preview1 module under
// wasmtime-go v39 with wasmtime's own built-in WASI (linker.DefineWasi),
// nothing of runw's, so that every difference runw shows against it is
// runw's doing.
//
//	wasmtimerun [-dir HOST::GUEST]... [-rodir HOST::GUEST]... [-env K=V]...
//	            [-argv0 NAME] [-cache DIR] MODULE [ARGS...]
//
// argv is [argv0 (default MODULE), ARGS...]; the environment is exactly the
// -env values; the preopens are the -dir (read-write) and -rodir
// (read-only) values, in the order given on the command line. The maximum wasm
// stack is 8 MiB, what Go's misc/wasm wrapper gives the wasmtime CLI
// (-W max-wasm-stack=8388608). With -cache, compiled modules are kept in
// DIR, keyed by the module's SHA-256, so reruns skip compilation.
//
// The exit status is the guest's: proc_exit(n) gives n, a return 0, and a
// trap prints the error and gives 134.
//
// It is built from the main module (it needs its wasmtime-go), with
// `go build ./integration/testdata/wasmtimerun`.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// maxWasmStack is Go's misc/wasm/go_wasip1_wasm_exec setting for wasmtime.
const maxWasmStack = 8 << 20

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// dir is one preopen, HOST::GUEST.
type dir struct {
	spec string
	ro   bool
}

// dirs collects -dir and -rodir in command-line order, so that the
// preopens (and so their descriptor numbers) keep that order.
type dirs struct {
	all *[]dir
	ro  bool
}

func (d dirs) String() string     { return "" }
func (d dirs) Set(s string) error { *d.all = append(*d.all, dir{s, d.ro}); return nil }

func main() {
	var preopens []dir
	var env list
	flag.Var(dirs{&preopens, false}, "dir", "preopen HOST::GUEST read-write (repeatable)")
	flag.Var(dirs{&preopens, true}, "rodir", "preopen HOST::GUEST read-only (repeatable)")
	flag.Var(&env, "env", "K=V for the guest's environment (repeatable)")
	argv0 := flag.String("argv0", "", "argv[0] for the guest (default: the module path)")
	cache := flag.String("cache", "", "directory for compiled modules")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: wasmtimerun [flags] MODULE [ARGS...]")
		os.Exit(2)
	}
	code, err := run(flag.Arg(0), flag.Args()[1:], *argv0, preopens, env, *cache)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmtimerun:", err)
	}
	os.Exit(code)
}

func run(module string, args []string, argv0 string, preopens []dir, env []string, cache string) (int, error) {
	cfg := wasmtime.NewConfig()
	cfg.SetMaxWasmStack(maxWasmStack)
	engine := wasmtime.NewEngineWithConfig(cfg)
	m, err := load(engine, module, cache)
	if err != nil {
		return 1, err
	}

	wc := wasmtime.NewWasiConfig()
	if argv0 == "" {
		argv0 = module
	}
	wc.SetArgv(append([]string{argv0}, args...))
	var keys, values []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		keys, values = append(keys, k), append(values, v)
	}
	wc.SetEnv(keys, values)
	wc.InheritStdin()
	wc.InheritStdout()
	wc.InheritStderr()
	for _, d := range preopens {
		if err := preopen(wc, d.spec, d.ro); err != nil {
			return 1, err
		}
	}

	store := wasmtime.NewStore(engine)
	store.SetWasi(wc)
	linker := wasmtime.NewLinker(engine)
	if err := linker.DefineWasi(); err != nil {
		return 1, err
	}
	inst, err := linker.Instantiate(store, m)
	if err != nil {
		return 1, err
	}
	start := inst.GetFunc(store, "_start")
	if start == nil {
		return 1, errors.New("no _start export")
	}
	_, err = start.Call(store)
	if err == nil {
		return 0, nil
	}
	var werr *wasmtime.Error
	if errors.As(err, &werr) {
		if st, ok := werr.ExitStatus(); ok {
			return int(st), nil
		}
	}
	return 134, err
}

// preopen grants HOST::GUEST, read-only or read-write.
func preopen(wc *wasmtime.WasiConfig, spec string, ro bool) error {
	host, guest, ok := strings.Cut(spec, "::")
	if !ok {
		return fmt.Errorf("bad directory %q: want HOST::GUEST", spec)
	}
	dirPerms, filePerms := wasmtime.DIR_READ|wasmtime.DIR_WRITE, wasmtime.FILE_READ|wasmtime.FILE_WRITE
	if ro {
		dirPerms, filePerms = wasmtime.DIR_READ, wasmtime.FILE_READ
	}
	return wc.PreopenDir(host, guest, dirPerms, filePerms)
}

// load compiles the module, or deserializes it from cache. An entry that
// does not load (another engine build) is simply compiled again.
func load(engine *wasmtime.Engine, path, cache string) (*wasmtime.Module, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entry string
	if cache != "" {
		sum := sha256.Sum256(wasm)
		entry = filepath.Join(cache, hex.EncodeToString(sum[:])+".cwasm")
		if m, err := wasmtime.NewModuleDeserializeFile(engine, entry); err == nil {
			return m, nil
		}
	}
	m, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		return nil, err
	}
	if entry != "" {
		if art, err := m.Serialize(); err == nil {
			// A private temporary name, then rename: a concurrent
			// reader sees a whole entry or none.
			if os.MkdirAll(cache, 0o700) == nil {
				if f, err := os.CreateTemp(cache, "tmp-"); err == nil {
					_, werr := f.Write(art)
					if cerr := f.Close(); werr == nil && cerr == nil {
						os.Rename(f.Name(), entry)
					}
					os.Remove(f.Name())
				}
			}
		}
	}
	return m, nil
}
