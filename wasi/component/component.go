package component

/*
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

// The declarations of wasmtime's C API (libwasmtime v39, linked into the
// binary by wasmtime-go) that runw's component path needs, as in
// wasi/preview1/trampoline.go: declared rather than included, because cgo
// cannot name the module cache's include directory. The struct layouts
// below are copied from the v39 headers (wasmtime/component/*.h); v39 is
// pinned in go.mod and every component test exercises them.
typedef struct wasm_engine_t wasm_engine_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasi_config_t wasi_config_t;
typedef struct wasmtime_component_t wasmtime_component_t;
typedef struct wasmtime_component_type_t wasmtime_component_type_t;
typedef struct wasmtime_component_export_index_t wasmtime_component_export_index_t;
typedef struct wasmtime_component_linker_t wasmtime_component_linker_t;
typedef struct wasmtime_component_linker_instance_t wasmtime_component_linker_instance_t;
typedef struct wasmtime_component_func_type_t wasmtime_component_func_type_t;
typedef struct { size_t size; uint8_t *data; } byte_vec_t; // wasm_byte_vec_t, wasm_name_t

typedef struct { uint64_t store_id; uint32_t private_; } comp_instance_t;
typedef struct {
	struct { uint64_t store_id; uint32_t private1; };
	uint32_t private2;
} comp_func_t;

// wasmtime_component_val_t: a one-byte kind, then an 8-aligned union of
// 24 bytes (its largest member, a variant, is a name and a pointer).
#define VAL_U8 2
#define VAL_RESULT 19
typedef struct {
	uint8_t kind;
	union {
		uint8_t u8;
		struct { bool is_ok; void *val; } result;
		_Alignas(8) uint8_t bytes[24];
	} of;
} comp_val_t;

// wasmtime_component_item_t: a one-byte kind and a union of at most 16
// bytes; 64 bytes hold it with room. The union, 8-aligned, is at 8; its
// members an instance's and a function's type are pointers.
typedef struct { _Alignas(8) uint8_t bytes[64]; } comp_item_t;
#define ITEM_INSTANCE 1
#define ITEM_FUNC 3
#define ITEM_POINTER(item, type) (*(type **)((item).bytes + 8))
typedef struct wasmtime_component_instance_type_t wasmtime_component_instance_type_t;

// wasmtime_component_valtype_t: a one-byte kind and an 8-aligned union of
// pointers; 32 bytes hold it with room.
#define VALTYPE_RESULT 19
typedef struct { _Alignas(8) uint8_t bytes[32]; } comp_valtype_t;

typedef wasmtime_error_t *(*comp_callback_t)(void *, wasmtime_context_t *,
	const wasmtime_component_func_type_t *, comp_val_t *, size_t, comp_val_t *, size_t);

extern wasmtime_error_t *wasmtime_error_new(const char *);
extern void wasmtime_error_delete(wasmtime_error_t *);
extern void wasmtime_error_message(const wasmtime_error_t *, byte_vec_t *);
extern bool wasmtime_error_exit_status(const wasmtime_error_t *, int *);
extern void wasm_byte_vec_delete(byte_vec_t *);

extern wasmtime_store_t *wasmtime_store_new(wasm_engine_t *, void *, void (*)(void *));
extern wasmtime_context_t *wasmtime_store_context(wasmtime_store_t *);
extern void wasmtime_store_limiter(wasmtime_store_t *, int64_t, int64_t, int64_t, int64_t, int64_t);
extern void wasmtime_store_delete(wasmtime_store_t *);
extern wasmtime_error_t *wasmtime_context_set_wasi(wasmtime_context_t *, wasi_config_t *);

extern wasi_config_t *wasi_config_new(void);
extern void wasi_config_delete(wasi_config_t *);
extern bool wasi_config_set_argv(wasi_config_t *, size_t, const char *[]);
extern bool wasi_config_set_env(wasi_config_t *, size_t, const char *[], const char *[]);
extern void wasi_config_inherit_stdin(wasi_config_t *);
extern void wasi_config_inherit_stdout(wasi_config_t *);
extern void wasi_config_inherit_stderr(wasi_config_t *);
extern bool wasi_config_preopen_dir(wasi_config_t *, const char *, const char *, size_t, size_t);

extern wasmtime_error_t *wasmtime_component_new(const wasm_engine_t *, const uint8_t *, size_t, wasmtime_component_t **);
extern wasmtime_error_t *wasmtime_component_serialize(const wasmtime_component_t *, byte_vec_t *);
extern wasmtime_error_t *wasmtime_component_deserialize_file(const wasm_engine_t *, const char *, wasmtime_component_t **);
extern wasmtime_component_type_t *wasmtime_component_type(const wasmtime_component_t *);
extern void wasmtime_component_type_delete(wasmtime_component_type_t *);
extern size_t wasmtime_component_type_import_count(const wasmtime_component_type_t *, const wasm_engine_t *);
extern bool wasmtime_component_type_import_nth(const wasmtime_component_type_t *, const wasm_engine_t *, size_t, const char **, size_t *, comp_item_t *);
extern size_t wasmtime_component_type_export_count(const wasmtime_component_type_t *, const wasm_engine_t *);
extern bool wasmtime_component_type_export_nth(const wasmtime_component_type_t *, const wasm_engine_t *, size_t, const char **, size_t *, comp_item_t *);
extern void wasmtime_component_item_delete(comp_item_t *);
extern bool wasmtime_component_type_export_get(const wasmtime_component_type_t *, const wasm_engine_t *, const char *, size_t, comp_item_t *);
extern bool wasmtime_component_instance_type_export_get(const wasmtime_component_instance_type_t *, const wasm_engine_t *, const char *, size_t, comp_item_t *);
extern size_t wasmtime_component_func_type_param_count(const wasmtime_component_func_type_t *);
extern bool wasmtime_component_func_type_result(const wasmtime_component_func_type_t *, comp_valtype_t *);
extern void wasmtime_component_valtype_delete(comp_valtype_t *);
extern void wasmtime_component_delete(wasmtime_component_t *);
extern wasmtime_component_t *wasmtime_component_clone(const wasmtime_component_t *);
extern void wasmtime_component_export_index_delete(wasmtime_component_export_index_t *);

extern wasmtime_component_linker_t *wasmtime_component_linker_new(const wasm_engine_t *);
extern void wasmtime_component_linker_allow_shadowing(wasmtime_component_linker_t *, bool);
extern wasmtime_component_linker_instance_t *wasmtime_component_linker_root(wasmtime_component_linker_t *);
extern wasmtime_error_t *wasmtime_component_linker_add_wasip2(wasmtime_component_linker_t *);
extern wasmtime_error_t *wasmtime_component_linker_instance_add_instance(wasmtime_component_linker_instance_t *, const char *, size_t, wasmtime_component_linker_instance_t **);
extern wasmtime_error_t *wasmtime_component_linker_instance_add_func(wasmtime_component_linker_instance_t *, const char *, size_t, comp_callback_t, void *, void (*)(void *));
extern void wasmtime_component_linker_instance_delete(wasmtime_component_linker_instance_t *);
extern wasmtime_error_t *wasmtime_component_linker_instantiate(const wasmtime_component_linker_t *, wasmtime_context_t *, const wasmtime_component_t *, comp_instance_t *);
extern void wasmtime_component_linker_delete(wasmtime_component_linker_t *);

extern wasmtime_component_export_index_t *wasmtime_component_instance_get_export_index(const comp_instance_t *, wasmtime_context_t *, const wasmtime_component_export_index_t *, const char *, size_t);
extern bool wasmtime_component_instance_get_func(const comp_instance_t *, wasmtime_context_t *, const wasmtime_component_export_index_t *, comp_func_t *);
extern wasmtime_error_t *wasmtime_component_func_call(const comp_func_t *, wasmtime_context_t *, const comp_val_t *, size_t, comp_val_t *, size_t);
extern wasmtime_error_t *wasmtime_component_func_post_return(const comp_func_t *, wasmtime_context_t *);
extern void wasmtime_component_val_delete(comp_val_t *);

// exit_t records how the component asked to exit: wasmtime returns only an
// error from a call, with no typed way to tell an exit from a trap, so
// runw's own wasi:cli/exit functions write the status here and end the
// call with a host error; Go reads it after the call.
typedef struct { int exited; int code; } exit_t;

// runw_exit is wasi:cli/exit.exit(status: result): ok is 0, err is 1 (jco's
// preview1 adapter turns every nonzero proc_exit into exit(err)). The
// component declares the import's type itself: a component that declared
// another signature under this name would hand over another kind of value,
// so the kind is checked, never assumed, before a member is read.
static wasmtime_error_t *runw_exit(void *env, wasmtime_context_t *ctx, const wasmtime_component_func_type_t *ty,
		comp_val_t *args, size_t nargs, comp_val_t *results, size_t nresults) {
	exit_t *e = env;
	e->code = (nargs == 1 && args[0].kind == VAL_RESULT && args[0].of.result.is_ok) ? 0 : 1;
	e->exited = 1;
	return wasmtime_error_new("runw: exit");
}

// runw_exit_with_code is wasi:cli/exit.exit-with-code(status-code: u8),
// with the same check of the value's kind.
static wasmtime_error_t *runw_exit_with_code(void *env, wasmtime_context_t *ctx, const wasmtime_component_func_type_t *ty,
		comp_val_t *args, size_t nargs, comp_val_t *results, size_t nresults) {
	exit_t *e = env;
	e->code = (nargs == 1 && args[0].kind == VAL_U8) ? args[0].of.u8 : 1;
	e->exited = 1;
	return wasmtime_error_new("runw: exit");
}

// runw_define_exit replaces the wasi:cli/exit instance add_wasip2 defined
// (which lacks exit-with-code) under the name the component imports, with
// both functions bound to e.
static wasmtime_error_t *runw_define_exit(wasmtime_component_linker_t *linker, const char *name, size_t name_len, exit_t *e) {
	wasmtime_component_linker_allow_shadowing(linker, true);
	wasmtime_component_linker_instance_t *root = wasmtime_component_linker_root(linker);
	wasmtime_component_linker_instance_t *li = NULL;
	wasmtime_error_t *err = wasmtime_component_linker_instance_add_instance(root, name, name_len, &li);
	if (!err) {
		err = wasmtime_component_linker_instance_add_func(li, "exit", 4, runw_exit, e, NULL);
		if (!err)
			err = wasmtime_component_linker_instance_add_func(li, "exit-with-code", 14, runw_exit_with_code, e, NULL);
		wasmtime_component_linker_instance_delete(li);
	}
	wasmtime_component_linker_instance_delete(root);
	return err;
}

// runw_item_name returns the name of import (exports == 0) or export i of
// the component's type, or NULL past the end; *len gets its length. The
// name lives as long as ty.
static const char *runw_item_name(const wasmtime_component_type_t *ty, const wasm_engine_t *engine, int exports, size_t i, size_t *len) {
	comp_item_t item;
	const char *name = NULL;
	bool ok = exports ? wasmtime_component_type_export_nth(ty, engine, i, &name, len, &item)
	                  : wasmtime_component_type_import_nth(ty, engine, i, &name, len, &item);
	if (!ok) return NULL;
	wasmtime_component_item_delete(&item);
	return name;
}

// runw_run_shape says whether the component's export iface is what
// runw_call_run calls: 0 an instance whose "run" is func() -> result; 1 not
// an instance; 2 an instance without a "run" function; 3 a "run" of
// another type.
static int runw_run_shape(const wasmtime_component_type_t *ty, const wasm_engine_t *engine, const char *iface, size_t iface_len) {
	comp_item_t item;
	if (!wasmtime_component_type_export_get(ty, engine, iface, iface_len, &item)) return 1;
	int shape = 1;
	if (item.bytes[0] == ITEM_INSTANCE) {
		comp_item_t f;
		shape = 2;
		if (wasmtime_component_instance_type_export_get(ITEM_POINTER(item, wasmtime_component_instance_type_t), engine, "run", 3, &f)) {
			if (f.bytes[0] == ITEM_FUNC) {
				const wasmtime_component_func_type_t *ft = ITEM_POINTER(f, wasmtime_component_func_type_t);
				comp_valtype_t res;
				shape = 3;
				if (wasmtime_component_func_type_param_count(ft) == 0 && wasmtime_component_func_type_result(ft, &res)) {
					if (res.bytes[0] == VALTYPE_RESULT) shape = 0;
					wasmtime_component_valtype_delete(&res);
				}
			}
			wasmtime_component_item_delete(&f);
		}
	}
	wasmtime_component_item_delete(&item);
	return shape;
}

// runw_find_func looks up export func inside exported instance iface.
static int runw_find_func(const comp_instance_t *inst, wasmtime_context_t *ctx,
		const char *iface, size_t iface_len, const char *func, size_t func_len, comp_func_t *out) {
	wasmtime_component_export_index_t *ii = wasmtime_component_instance_get_export_index(inst, ctx, NULL, iface, iface_len);
	if (!ii) return 0;
	wasmtime_component_export_index_t *fi = wasmtime_component_instance_get_export_index(inst, ctx, ii, func, func_len);
	wasmtime_component_export_index_delete(ii);
	if (!fi) return 0;
	bool ok = wasmtime_component_instance_get_func(inst, ctx, fi, out);
	wasmtime_component_export_index_delete(fi);
	return ok;
}

// runw_call_run calls run: func() -> result. *ok says whether it returned
// ok(); the error, if any, is the call's (an exit, a trap, a stop).
static wasmtime_error_t *runw_call_run(const comp_func_t *f, wasmtime_context_t *ctx, int *ok) {
	comp_val_t res;
	memset(&res, 0, sizeof res);
	wasmtime_error_t *err = wasmtime_component_func_call(f, ctx, NULL, 0, &res, 1);
	if (err) return err;
	*ok = res.kind == VAL_RESULT && res.of.result.is_ok;
	wasmtime_component_val_delete(&res);
	return wasmtime_component_func_post_return(f, ctx);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// enginePtr is the C engine behind a wasmtime-go Engine: it keeps it in its
// first field (as Linker does, see wasi/preview1/trampoline.go), and v39 is
// pinned in go.mod. Components share the engine, and so its configuration
// (stack size, no epoch interruption), with modules.
func enginePtr(e *wasmtime.Engine) *C.wasm_engine_t {
	return *(**C.wasm_engine_t)(unsafe.Pointer(e))
}

// takeError turns a wasmtime error into a Go error and frees it.
func takeError(err *C.wasmtime_error_t) error {
	if err == nil {
		return nil
	}
	defer C.wasmtime_error_delete(err)
	var msg C.byte_vec_t
	C.wasmtime_error_message(err, &msg)
	defer C.wasm_byte_vec_delete(&msg)
	return errors.New(C.GoStringN((*C.char)(unsafe.Pointer(msg.data)), C.int(msg.size)))
}

// Component is a compiled component, tied to the engine it was compiled or
// loaded with.
type Component struct {
	engine *wasmtime.Engine
	c      *C.wasmtime_component_t
}

// New compiles a component binary.
func New(engine *wasmtime.Engine, wasm []byte) (*Component, error) {
	if len(wasm) == 0 {
		return nil, errors.New("empty component")
	}
	var c *C.wasmtime_component_t
	err := C.wasmtime_component_new(enginePtr(engine), (*C.uint8_t)(unsafe.Pointer(&wasm[0])), C.size_t(len(wasm)), &c)
	runtime.KeepAlive(wasm)
	if err := takeError(err); err != nil {
		return nil, err
	}
	return newComponent(engine, c), nil
}

// DeserializeFile maps a compiled component that Serialize wrote. Loading
// it runs its machine code: path must be a file only runw could write (the
// cache checks its directory's owner and the entry's CRC first).
func DeserializeFile(engine *wasmtime.Engine, path string) (*Component, error) {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	var c *C.wasmtime_component_t
	if err := takeError(C.wasmtime_component_deserialize_file(enginePtr(engine), p, &c)); err != nil {
		return nil, err
	}
	return newComponent(engine, c), nil
}

func newComponent(engine *wasmtime.Engine, c *C.wasmtime_component_t) *Component {
	comp := &Component{engine: engine, c: c}
	runtime.SetFinalizer(comp, (*Component).Close)
	return comp
}

// Close frees the compiled component; instances made from it keep what
// they need.
func (c *Component) Close() {
	if c.c != nil {
		C.wasmtime_component_delete(c.c)
		c.c = nil
	}
}

// Serialize returns the compiled code, for the cache.
func (c *Component) Serialize() ([]byte, error) {
	var v C.byte_vec_t
	if err := takeError(C.wasmtime_component_serialize(c.c, &v)); err != nil {
		return nil, err
	}
	defer C.wasm_byte_vec_delete(&v)
	return C.GoBytes(unsafe.Pointer(v.data), C.int(v.size)), nil
}

// Imports lists the names of the component's imports ("wasi:cli/exit@0.2.3").
func (c *Component) Imports() []string { return c.items(0) }

// Exports lists the names of the component's exports ("wasi:cli/run@0.2.3").
func (c *Component) Exports() []string { return c.items(1) }

func (c *Component) items(exports C.int) []string {
	ty := C.wasmtime_component_type(c.c)
	defer C.wasmtime_component_type_delete(ty)
	var out []string
	for i := C.size_t(0); ; i++ {
		var n C.size_t
		name := C.runw_item_name(ty, enginePtr(c.engine), exports, i, &n)
		if name == nil {
			break
		}
		out = append(out, C.GoStringN(name, C.int(n)))
	}
	runtime.KeepAlive(c)
	return out
}

// The interfaces that decide what a component is.
const (
	runPrefix   = "wasi:cli/run@"
	exitPrefix  = "wasi:cli/exit@"
	httpPrefix  = "wasi:http/"
	proxyExport = "wasi:http/incoming-handler@"
)

// RunExport returns the name of the component's wasi:cli/run export, or
// says in one line why the component is not a command runw can run: a
// wasi:http proxy (which exports incoming-handler, or imports wasi:http,
// neither of which runw provides) or anything else without run.
func (c *Component) RunExport() (string, error) {
	exports := c.Exports()
	for _, e := range exports {
		if strings.HasPrefix(e, proxyExport) {
			return "", fmt.Errorf("component targets the wasi:http proxy world (it exports %s): runw runs only wasi:cli/run command components", e)
		}
	}
	for _, i := range c.Imports() {
		if strings.HasPrefix(i, httpPrefix) {
			return "", fmt.Errorf("component imports %s from the wasi:http proxy world, which runw does not provide: build it without wasi:http (a wasi:cli/command)", i)
		}
	}
	for _, e := range exports {
		if strings.HasPrefix(e, runPrefix) {
			return e, c.checkRun(e)
		}
	}
	if slices.Contains(exports, strings.TrimSuffix(runPrefix, "@")) {
		return "", fmt.Errorf("component exports wasi:cli/run without a version: a WASI 0.2 command exports %s0.2.x", runPrefix)
	}
	return "", fmt.Errorf("component exports no wasi:cli/run (exports: %s): not a WASI command component", strings.Join(exports, ", "))
}

// checkRun says in one line why the export iface is not what start calls,
// an instance exporting run: func() -> result. Unchecked, such a
// component passed create and failed at start with 134 ("expected 0
// result(s), got 1") or, when its run returned another type, with 1 and
// no word; a module without _start is refused at create.
func (c *Component) checkRun(iface string) error {
	ty := C.wasmtime_component_type(c.c)
	defer C.wasmtime_component_type_delete(ty)
	name := C.CString(iface)
	defer C.free(unsafe.Pointer(name))
	shape := C.runw_run_shape(ty, enginePtr(c.engine), name, C.size_t(len(iface)))
	runtime.KeepAlive(c)
	switch shape {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("component's %s export is not an instance: not a WASI command component", iface)
	case 2:
		return fmt.Errorf("component's %s exports no run function: not a WASI command component", iface)
	}
	return fmt.Errorf("component's %s run is not func() -> result: not a WASI command component", iface)
}

// Dir is one preopened directory.
type Dir struct {
	Host     string
	Guest    string
	ReadOnly bool
}

// Config is everything an instance is granted.
type Config struct {
	// Args is argv, argv[0] included.
	Args []string
	// Env is NAME=value entries, exactly; never the host's.
	Env []string
	// Dirs are the preopened directories.
	Dirs []Dir
	// MemoryLimit caps each linear memory in bytes (0: no cap).
	MemoryLimit int64
	// TableElements caps each table's elements (0: no cap).
	TableElements int64
}

// orDefault maps "no cap" (0) to the limiter's "keep the default" (-1).
func orDefault(limit int64) int64 {
	if limit <= 0 {
		return -1
	}
	return limit
}

// Instance is a component linked in its store, whose run has not been
// called; Call instantiates it first.
type Instance struct {
	store  *C.wasmtime_store_t
	ctx    *C.wasmtime_context_t
	linker *C.wasmtime_component_linker_t
	// comp is the instance's own reference to the compiled component,
	// until Call instantiates it.
	comp    *C.wasmtime_component_t
	runName string
	inst    C.comp_instance_t
	run     C.comp_func_t
	exit    *C.exit_t
	// cfg is what Link was given; wasi is the WASI 0.2 configuration
	// built from it, its preopens already opened, which instantiate
	// gives the store (ReplaceDir may build it again first).
	cfg  Config
	wasi *C.wasi_config_t
}

// cStrings copies strs into C memory; free releases it.
func cStrings(strs []string) (arr **C.char, free func()) {
	if len(strs) == 0 {
		return nil, func() {}
	}
	a := (*[1 << 28]*C.char)(C.calloc(C.size_t(len(strs)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:len(strs):len(strs)]
	for i, s := range strs {
		a[i] = C.CString(s)
	}
	return &a[0], func() {
		for _, p := range a {
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(&a[0]))
	}
}

// wasiConfig builds the WASI 0.2 context's configuration from cfg.
func wasiConfig(cfg Config) (*C.wasi_config_t, error) {
	for _, s := range append(append([]string(nil), cfg.Args...), cfg.Env...) {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("%q holds a NUL byte, which WASI 0.2 cannot pass", s)
		}
	}
	wc := C.wasi_config_new()
	argv, freeArgv := cStrings(cfg.Args)
	defer freeArgv()
	if len(cfg.Args) > 0 && !C.wasi_config_set_argv(wc, C.size_t(len(cfg.Args)), argv) {
		C.wasi_config_delete(wc)
		return nil, errors.New("arguments are not valid UTF-8, which WASI 0.2 requires")
	}
	var names, values []string
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		names, values = append(names, k), append(values, v)
	}
	cn, freeN := cStrings(names)
	defer freeN()
	cv, freeV := cStrings(values)
	defer freeV()
	// An empty list is not passed at all: the C API makes a slice of the
	// pointer it is given, which must then not be NULL. The config's
	// default is an empty environment, never the host's.
	if len(names) > 0 && !C.wasi_config_set_env(wc, C.size_t(len(names)), cn, cv) {
		C.wasi_config_delete(wc)
		return nil, errors.New("environment is not valid UTF-8, which WASI 0.2 requires")
	}
	// The init's fds 0, 1, 2: the caller's pipes, conmon's, or the pty.
	C.wasi_config_inherit_stdin(wc)
	C.wasi_config_inherit_stdout(wc)
	C.wasi_config_inherit_stderr(wc)
	for _, d := range cfg.Dirs {
		// A read-only grant withholds every write right from the
		// directory and from every file opened under it.
		perms := C.size_t(1 | 2) // READ | WRITE
		if d.ReadOnly {
			perms = 1
		}
		host, guest := C.CString(d.Host), C.CString(d.Guest)
		ok := C.wasi_config_preopen_dir(wc, host, guest, perms, perms)
		C.free(unsafe.Pointer(host))
		C.free(unsafe.Pointer(guest))
		if !ok {
			C.wasi_config_delete(wc)
			return nil, fmt.Errorf("preopen %s at %s failed", d.Host, d.Guest)
		}
	}
	return wc, nil
}

// Link grants cfg to the component and links WASI 0.2 (wasmtime's, with
// runw's wasi:cli/exit), and checks that the linker satisfies every
// import, without running any of the component's code: Call instantiates
// it.
//
// Instantiation runs the start function of each of the component's core
// modules (the preview1 adapter that wit-component puts in has one), and
// Link runs in the init at create, before the sandbox: the image's code
// would run before `runw start`, outside Landlock, seccomp and the
// dropped capabilities, and a start function that never returned held
// create until the compile bound failed it, two minutes later. wasmtime's
// C API cannot check a component's imports without instantiating it, so
// Link instantiates it in a store of its own that allows no instance:
// wasmtime resolves every import first (a missing or mistyped one is
// Link's error, at create, as before) and then refuses the first core
// instance, before any start function.
func Link(c *Component, cfg Config) (*Instance, error) {
	runName, err := c.RunExport()
	if err != nil {
		return nil, err
	}
	engine := enginePtr(c.engine)
	in := &Instance{runName: runName, exit: (*C.exit_t)(C.calloc(1, C.size_t(unsafe.Sizeof(C.exit_t{}))))}
	in.store = C.wasmtime_store_new(engine, nil, nil)
	in.ctx = C.wasmtime_store_context(in.store)
	if cfg.MemoryLimit > 0 || cfg.TableElements > 0 {
		C.wasmtime_store_limiter(in.store, C.int64_t(orDefault(cfg.MemoryLimit)), C.int64_t(orDefault(cfg.TableElements)), -1, -1, -1)
	}
	// Built here, where its errors belong to create and its preopens are
	// opened with the init's privileges; given to the store only when
	// the component is instantiated, so that ReplaceDir can still change
	// a preopen.
	wc, err := wasiConfig(cfg)
	if err != nil {
		in.Close()
		return nil, err
	}
	in.cfg, in.wasi = cfg, wc
	in.linker = C.wasmtime_component_linker_new(engine)
	if err := takeError(C.wasmtime_component_linker_add_wasip2(in.linker)); err != nil {
		in.Close()
		return nil, fmt.Errorf("link WASI 0.2: %w", err)
	}
	for _, name := range c.Imports() {
		if !strings.HasPrefix(name, exitPrefix) {
			continue
		}
		cn := C.CString(name)
		err := takeError(C.runw_define_exit(in.linker, cn, C.size_t(len(name)), in.exit))
		C.free(unsafe.Pointer(cn))
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("link %s: %w", name, err)
		}
	}
	if err := checkImports(engine, in.linker, c); err != nil {
		in.Close()
		return nil, err
	}
	in.comp = C.wasmtime_component_clone(c.c)
	runtime.KeepAlive(c)
	return in, nil
}

// ReplaceDirs makes each of dirs the directory preopened at its Guest in
// place of the one Link was given, keeping the preopens' order. It opens
// every preopen again, once, now: call it with the privileges Link had,
// before Call. On an error the instance keeps its preopens as they were.
func (in *Instance) ReplaceDirs(dirs []Dir) error {
	if in.wasi == nil {
		return errors.New("the component was called before")
	}
	cfg := in.cfg
	cfg.Dirs = slices.Clone(cfg.Dirs)
	for _, d := range dirs {
		i := slices.IndexFunc(cfg.Dirs, func(c Dir) bool { return c.Guest == d.Guest })
		if i < 0 {
			return fmt.Errorf("no preopen at %s", d.Guest)
		}
		cfg.Dirs[i] = d
	}
	wc, err := wasiConfig(cfg)
	if err != nil {
		return err
	}
	C.wasi_config_delete(in.wasi)
	in.cfg, in.wasi = cfg, wc
	return nil
}

// noInstances is the message of wasmtime's refusal of a core instance in
// a store whose limiter allows none (v39's wording, which
// TestLinkRunsNoCode and TestLinkRefusesMissingImport hold it to).
const noInstances = "instance count too high"

// checkImports instantiates c with linker in a throwaway store that allows
// no instance (Link says why), and returns the error unless it is that
// store's refusal: a missing or mistyped import.
func checkImports(engine *C.wasm_engine_t, linker *C.wasmtime_component_linker_t, c *Component) error {
	dry := C.wasmtime_store_new(engine, nil, nil)
	defer C.wasmtime_store_delete(dry)
	C.wasmtime_store_limiter(dry, -1, -1, 0, -1, -1)
	var inst C.comp_instance_t
	err := takeError(C.wasmtime_component_linker_instantiate(linker, C.wasmtime_store_context(dry), c.c, &inst))
	runtime.KeepAlive(c)
	if err != nil && !strings.Contains(err.Error(), noInstances) {
		return err
	}
	// A component without a core instance instantiates there: it has no
	// start function either, and its imports are satisfied.
	return nil
}

// instantiate instantiates the linked component, running its core
// modules' start functions, and finds its run export.
func (in *Instance) instantiate() *C.wasmtime_error_t {
	if in.comp == nil || in.wasi == nil {
		return newError("the component was called before")
	}
	// The store takes the configuration, even when it fails.
	err := C.wasmtime_context_set_wasi(in.ctx, in.wasi)
	in.wasi = nil
	if err != nil {
		return err
	}
	err = C.wasmtime_component_linker_instantiate(in.linker, in.ctx, in.comp, &in.inst)
	C.wasmtime_component_delete(in.comp)
	in.comp = nil
	if err != nil {
		return err
	}
	rn, fn := C.CString(in.runName), C.CString("run")
	ok := C.runw_find_func(&in.inst, in.ctx, rn, C.size_t(len(in.runName)), fn, 3, &in.run)
	C.free(unsafe.Pointer(rn))
	C.free(unsafe.Pointer(fn))
	if ok == 0 {
		return newError(in.runName + " exports no run function")
	}
	return nil
}

// newError is a wasmtime error with message msg, as Call reports the
// component's own.
func newError(msg string) *C.wasmtime_error_t {
	cm := C.CString(msg)
	defer C.free(unsafe.Pointer(cm))
	return C.wasmtime_error_new(cm)
}

// Result is how a call of run ended.
type Result struct {
	// Exited: the component called wasi:cli/exit; Code is its status.
	Exited bool
	Code   int
	// Failed: run returned err() (status 1 by wasi:cli's convention).
	Failed bool
	// Err is the error that ended the call other than by an exit: a trap
	// or a stop. Nil when run returned or the component exited.
	Err error
}

// Call runs the component's run export on the calling thread, which must
// have room for the wasm stack (wasi's onGuestStack).
//
// wasmtime reports a component call's end only as an error, with no typed
// trap code. runw tells them apart without reading message text: an exit
// went through runw's own wasi:cli/exit (recorded in exit_t), and the
// error's exit status (wasmtime_error_exit_status) is also honoured; any
// other error is a trap, or a stop that the caller recorded.
//
// It instantiates the component first (Link says why not before), so a
// start function's exit, trap or stop ends it the same way.
func (in *Instance) Call() Result {
	var ok C.int
	err := in.instantiate()
	if err == nil {
		err = C.runw_call_run(&in.run, in.ctx, &ok)
	}
	if in.exit.exited != 0 {
		if err != nil {
			C.wasmtime_error_delete(err)
		}
		return Result{Exited: true, Code: int(in.exit.code)}
	}
	if err != nil {
		var status C.int
		if C.wasmtime_error_exit_status(err, &status) {
			C.wasmtime_error_delete(err)
			return Result{Exited: true, Code: int(status)}
		}
		return Result{Err: takeError(err)}
	}
	return Result{Failed: ok == 0}
}

// Close frees the instance's store, linker, component and exit record.
func (in *Instance) Close() {
	if in.wasi != nil {
		C.wasi_config_delete(in.wasi)
		in.wasi = nil
	}
	if in.comp != nil {
		C.wasmtime_component_delete(in.comp)
		in.comp = nil
	}
	if in.linker != nil {
		C.wasmtime_component_linker_delete(in.linker)
		in.linker = nil
	}
	if in.store != nil {
		C.wasmtime_store_delete(in.store)
		in.store = nil
	}
	if in.exit != nil {
		C.free(unsafe.Pointer(in.exit))
		in.exit = nil
	}
}
