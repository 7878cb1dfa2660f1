package preview1

/*
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// The few declarations of wasmtime's C API (libwasmtime v39, linked into
// the binary by wasmtime-go) that the lean host-call path needs. They are
// declared here rather than included because cgo cannot name the module
// cache's include directory.
typedef struct wasmtime_linker wasmtime_linker_t;
typedef struct wasmtime_caller wasmtime_caller_t;
typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasm_trap_t wasm_trap_t;
typedef struct wasm_functype_t wasm_functype_t;
typedef struct wasm_valtype_t wasm_valtype_t;
typedef struct { size_t size; wasm_valtype_t **data; } wasm_valtype_vec_t;
// wasmtime_val_raw_t is a 16-byte union; i32 and i64 live at offset 0.
typedef struct { uint64_t lo, hi; } raw_val_t;
typedef wasm_trap_t *(*unchecked_cb_t)(void *env, wasmtime_caller_t *caller, raw_val_t *args, size_t n);

extern wasmtime_error_t *wasmtime_linker_define_func_unchecked(wasmtime_linker_t *linker,
	const char *module, size_t module_len, const char *name, size_t name_len,
	const wasm_functype_t *ty, unchecked_cb_t cb, void *data, void (*finalizer)(void *));
extern bool wasmtime_caller_export_get(wasmtime_caller_t *caller, const char *name, size_t name_len, void *item);
extern wasmtime_context_t *wasmtime_caller_context(wasmtime_caller_t *caller);
extern uint8_t *wasmtime_memory_data(const wasmtime_context_t *store, const void *memory);
extern size_t wasmtime_memory_data_size(const wasmtime_context_t *store, const void *memory);
extern wasm_trap_t *wasmtime_trap_new(const char *msg, size_t msg_len);
extern void wasmtime_error_delete(wasmtime_error_t *error);
extern wasm_valtype_t *wasm_valtype_new(uint8_t kind);
extern void wasm_valtype_vec_new(wasm_valtype_vec_t *out, size_t n, wasm_valtype_t *const data[]);
extern void wasm_valtype_vec_new_empty(wasm_valtype_vec_t *out);
extern wasm_functype_t *wasm_functype_new(wasm_valtype_vec_t *params, wasm_valtype_vec_t *results);
extern void wasm_functype_delete(wasm_functype_t *ty);

// wasmtime_extern_t: a one-byte kind, then an 8-aligned union of at most
// 24 bytes (a memory is {u64, u32} and a u32). 64 bytes hold it with room.
#define EXTERN_SIZE 64
#define EXTERN_MEMORY 3

// host_t is one guest's: the Go host's handle and the guest memory,
// looked up once on the first call and kept.
typedef struct {
	uintptr_t handle;
	int have_memory;
	_Alignas(8) uint8_t ext[EXTERN_SIZE];
} host_t;

typedef struct {
	host_t *host;
	int fn;
	int fast; // FAST_*: a body the trampoline runs itself, or 0
} fn_env_t;

// FAST_CLOCK_TIME_GET marks clock_time_get: a Go guest calls it about
// ten times an HTTP request (its runtime's nanotime and walltime), and
// in C it costs a vDSO read instead of a C-to-Go transition.
#define FAST_CLOCK_TIME_GET 1

// Preview 1's clock ids, in order, as the kernel names them.
static const clockid_t clock_ids[4] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};

// clock_time_get_fast is clock_time_get(id, precision, ptr) when id is
// one of preview 1's clocks and the 8 bytes at ptr are in the guest's
// memory: it stores the time there and returns 1. Anything else returns
// 0 and leaves memory untouched, and the Go body answers (EINVAL, EFAULT),
// so that the errors have one source.
//
// ptr is the guest's: the 8 bytes must end within the memory and within
// the 4 GiB a preview 1 pointer can name (the Go side's cap on a 64-bit
// memory), computed in 64 bits so that a pointer near 4 GiB cannot wrap
// to the memory's start and write over the guest's low addresses.
static int clock_time_get_fast(raw_val_t *args, uint8_t *mem, size_t mem_len) {
	uint32_t id = (uint32_t)args[0].lo, ptr = (uint32_t)args[2].lo;
	uint64_t end = (uint64_t)mem_len < ((uint64_t)1 << 32) ? (uint64_t)mem_len : ((uint64_t)1 << 32);
	struct timespec ts;
	if (mem == NULL || id >= 4 || (uint64_t)ptr + 8 > end || clock_gettime(clock_ids[id], &ts) != 0)
		return 0;
	uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	for (int i = 0; i < 8; i++) // little-endian, unaligned, on any host
		mem[ptr + i] = (uint8_t)(t >> (8 * i));
	return 1;
}

extern int32_t runwHostCall(uintptr_t handle, int fn, raw_val_t *args, size_t n, uint8_t *mem, size_t mem_len, char **msg);

// The sentinels runwHostCall returns instead of an errno (host.go).
#define ERRNO_STOP (-1)
#define ERRNO_EXIT (-2)
#define ERRNO_PANIC (-3)
#define MISSING_MEMORY "missing required memory export"

// runw_trampoline is every preview1 import: it finds the guest memory
// (once), calls the Go body with the raw arguments and the memory, and
// writes the errno as the one i32 result, or returns a trap. One C-to-Go
// transition per call, no Go-to-C call and no allocation; none at all for
// a clock_time_get that succeeds (clock_time_get_fast).
static wasm_trap_t *runw_trampoline(void *env, wasmtime_caller_t *caller, raw_val_t *args, size_t n) {
	fn_env_t *fe = env;
	host_t *h = fe->host;
	wasmtime_context_t *ctx = wasmtime_caller_context(caller);
	if (!h->have_memory) {
		if (wasmtime_caller_export_get(caller, "memory", 6, h->ext) && h->ext[0] == EXTERN_MEMORY)
			h->have_memory = 1;
		else
			// wasmtime's own WASI fails every call of a module that
			// exports no memory named "memory" in these words: runw
			// answered EFAULT to each, and a guest that printed a
			// line exited 21 without a word.
			return wasmtime_trap_new(MISSING_MEMORY, sizeof(MISSING_MEMORY) - 1);
	}
	uint8_t *mem = NULL;
	size_t mem_len = 0;
	if (h->have_memory) {
		mem = wasmtime_memory_data(ctx, h->ext + 8);
		mem_len = wasmtime_memory_data_size(ctx, h->ext + 8);
	}
	if (fe->fast == FAST_CLOCK_TIME_GET && clock_time_get_fast(args, mem, mem_len)) {
		memset(&args[0], 0, sizeof(raw_val_t));
		return NULL;
	}
	char *msg = NULL;
	int32_t e = runwHostCall(h->handle, fe->fn, args, n, mem, mem_len, &msg);
	switch (e) {
	case ERRNO_EXIT: return wasmtime_trap_new("runw: proc_exit", 15);
	case ERRNO_STOP: return wasmtime_trap_new("runw: stopped by a signal", 25);
	case ERRNO_PANIC: {
		wasm_trap_t *t = wasmtime_trap_new(msg ? msg : "runw: host function failed", msg ? strlen(msg) : 26);
		free(msg);
		return t;
	}
	}
	memset(&args[0], 0, sizeof(raw_val_t));
	args[0].lo = (uint32_t)e;
	return NULL;
}

// runw_define defines function fn of the host in linker.
static int runw_define(wasmtime_linker_t *linker, host_t *h, fn_env_t *env, int fn, int fast,
		const char *module, size_t module_len, const char *name, size_t name_len,
		const uint8_t *params, size_t nparams, int has_result) {
	wasm_valtype_t *ps[16];
	if (nparams > 16) return -1;
	for (size_t i = 0; i < nparams; i++) ps[i] = wasm_valtype_new(params[i]);
	wasm_valtype_vec_t pv, rv;
	wasm_valtype_vec_new(&pv, nparams, ps);
	if (has_result) {
		wasm_valtype_t *r[1] = {wasm_valtype_new(0)};
		wasm_valtype_vec_new(&rv, 1, r);
	} else {
		wasm_valtype_vec_new_empty(&rv);
	}
	wasm_functype_t *ty = wasm_functype_new(&pv, &rv);
	env->host = h;
	env->fn = fn;
	env->fast = fast;
	wasmtime_error_t *err = wasmtime_linker_define_func_unchecked(linker, module, module_len, name, name_len, ty, runw_trampoline, env, NULL);
	wasm_functype_delete(ty);
	if (err) {
		wasmtime_error_delete(err);
		return -1;
	}
	return 0;
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"strings"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// arg is one raw wasm value (wasmtime_val_raw_t): i32 and i64 arguments
// are read from its first eight bytes.
type arg struct{ lo, hi uint64 }

// I32 is the argument as a wasm i32.
func (a arg) I32() int32 { return int32(uint32(a.lo)) }

// I64 is the argument as a wasm i64.
func (a arg) I64() int64 { return int64(a.lo) }

// cHost is the C side of a Host: allocated in C (it is reached from C
// without Go pointers), freed by Close.
type cHost struct {
	host *C.host_t
	envs *C.fn_env_t
	h    cgo.Handle
}

// Link defines, in linker, every wasi_snapshot_preview1 function module
// imports, bound to this host, through runw's own trampoline (wasmtime's
// unchecked host functions): a call costs one C-to-Go transition, with the
// arguments read raw and the memory found in C, where wasmtime-go's
// FuncNew adds several Go-to-C calls and an allocation to every call.
//
// Each import gets the variant whose signature it declares (WasmEdge's
// socket calls have two shapes under one name). An import of a name runw
// provides with a signature it does not is given the name's function all
// the same, so that instantiation refuses it as wasmtime refuses any
// import of the wrong type, naming it and both types ("incompatible
// import type for `wasi_snapshot_preview1::proc_exit`: ... expected type
// `(func (param i64))`, found type `(func (param i32))`, the module's
// then runw's); left undefined, it read as a function runw lacks
// ("unknown import: ... has not been defined"). An import of a name runw
// does not provide is left undefined: instantiation names it.
func (h *Host) Link(linker *wasmtime.Linker, module *wasmtime.Module) error {
	if h.c.host == nil {
		h.c.h = cgo.NewHandle(h)
		h.c.host = (*C.host_t)(C.calloc(1, C.size_t(unsafe.Sizeof(C.host_t{}))))
		h.c.host.handle = C.uintptr_t(h.c.h)
		h.c.envs = (*C.fn_env_t)(C.calloc(C.size_t(len(functions)), C.size_t(unsafe.Sizeof(C.fn_env_t{}))))
	}
	// wasmtime-go's Linker keeps its C pointer in its first field; v39 is
	// pinned in go.mod, and every guest's first call tests this.
	lp := *(**C.wasmtime_linker_t)(unsafe.Pointer(linker))
	envs := unsafe.Slice(h.c.envs, len(functions))
	// Names go to C as (pointer, length) into Go's own string data (no Go
	// pointers in it, and wasmtime copies the name): no C copy per import.
	var params [16]C.uint8_t
	define := func(mod string, i int) error {
		f := &functions[i]
		for j, c := range f.params {
			params[j] = 0 // WASM_I32
			if c == 'I' {
				params[j] = 1 // WASM_I64
			}
		}
		hasResult := C.int(1)
		if f.name == "proc_exit" {
			hasResult = 0
		}
		cname := (*C.char)(unsafe.Pointer(unsafe.StringData(f.name)))
		cmodule := (*C.char)(unsafe.Pointer(unsafe.StringData(mod)))
		fast := C.int(0)
		if f.name == "clock_time_get" {
			fast = C.FAST_CLOCK_TIME_GET
		}
		rc := C.runw_define(lp, h.c.host, &envs[i], C.int(i), fast, cmodule, C.size_t(len(mod)), cname, C.size_t(len(f.name)), &params[0], C.size_t(len(f.params)), hasResult)
		if rc != 0 {
			return fmt.Errorf("define %s.%s failed", mod, f.name)
		}
		return nil
	}
	defined := map[[2]string]bool{}
	// The names imported with a signature runw does not provide, and
	// those defined, with the signature: one name is defined once
	// (wasmtime's linker refuses a second definition of a name, of any
	// type).
	var mismatched [][2]string
	definedName := map[[2]string]string{}
	for _, imp := range module.Imports() {
		mod := imp.Module()
		if mod != Module && mod != ModuleUnstable || imp.Name() == nil {
			continue
		}
		ft := imp.Type().FuncType()
		if ft == nil {
			continue
		}
		name := *imp.Name()
		sig, ok := signature(ft)
		i := -1
		if ok {
			i = lookupIn(mod, name, sig)
		}
		if i < 0 {
			mismatched = append(mismatched, [2]string{mod, name})
			continue
		}
		if defined[[2]string{mod, name + sig}] {
			// A module may import one function more than once (Go's
			// runtime and syscall package both import fd_write).
			continue
		}
		if other, ok := definedName[[2]string{mod, name}]; ok {
			// Both shapes of a name whose shape runw chooses from the
			// imports (sock_accept: WasmEdge's V1 and preview 1's):
			// said, not left to the linker's "define failed".
			return fmt.Errorf("%s.%s is imported in two shapes, %s and %s: runw defines one function a name", mod, name, funcTypeText(other), funcTypeText(sig))
		}
		defined[[2]string{mod, name + sig}] = true
		definedName[[2]string{mod, name}] = sig
		if err := define(mod, i); err != nil {
			return err
		}
	}
	for _, m := range mismatched {
		i := lookupWhere(m[0], m[1], func(*fn) bool { return true })
		if _, ok := definedName[m]; i < 0 || ok {
			continue
		}
		definedName[m] = functions[i].params
		if err := define(m[0], i); err != nil {
			return err
		}
	}
	runtime.KeepAlive(linker)
	runtime.KeepAlive(module)
	return nil
}

// funcTypeText is the function type of parameters sig (the table's
// letters) as wasmtime writes it, with preview 1's i32 result.
func funcTypeText(sig string) string {
	var b strings.Builder
	b.WriteString("(func (param")
	for _, c := range sig {
		if c == 'I' {
			b.WriteString(" i64")
		} else {
			b.WriteString(" i32")
		}
	}
	b.WriteString(") (result i32))")
	return b.String()
}

// signature is a function type's parameters in the table's letters, if
// it has the shape of a preview1 function: i32 and i64 parameters and at
// most one i32 result. Asking a type's kind is safe for what reaches
// here: wasmtime's C API aborts the process on an exnref, and a WASI
// import with one in its type was refused at its compile
// (wasi.checkCAPITypes).
func signature(ft *wasmtime.FuncType) (string, bool) {
	ps := ft.Params()
	if len(ps) > 16 {
		return "", false
	}
	sig := make([]byte, 0, len(ps))
	for _, p := range ps {
		switch p.Kind() {
		case wasmtime.KindI32:
			sig = append(sig, 'i')
		case wasmtime.KindI64:
			sig = append(sig, 'I')
		default:
			return "", false
		}
	}
	rs := ft.Results()
	if len(rs) > 1 || (len(rs) == 1 && rs[0].Kind() != wasmtime.KindI32) {
		return "", false
	}
	return string(sig), true
}

// free releases the C side of the host.
func (c *cHost) free() {
	if c.host != nil {
		C.free(unsafe.Pointer(c.host))
		C.free(unsafe.Pointer(c.envs))
		c.h.Delete()
		c.host, c.envs = nil, nil
	}
}

//export runwHostCall
func runwHostCall(handle C.uintptr_t, fn C.int, args *C.raw_val_t, n C.size_t, mem *C.uint8_t, memLen C.size_t, msg **C.char) (e C.int32_t) {
	h := cgo.Handle(handle).Value().(*Host)
	f := &functions[fn]
	var m memory
	if mem != nil {
		// Preview 1 pointers and lengths are 32 bits: a guest can name
		// no byte past 4 GiB. A 64-bit memory (wasmtime accepts them)
		// can be larger; without the cap, the host's 32-bit arithmetic
		// on a pointer or a count (n*size) that wrapped would pass the
		// bounds checks, which assume the memory ends by 2^32.
		m = unsafe.Slice((*byte)(unsafe.Pointer(mem)), int(min(memLen, maxMemory)))
	}
	a := unsafe.Slice((*arg)(unsafe.Pointer(args)), int(n))
	// A Go panic must not unwind into wasmtime's C frames: it becomes a
	// trap naming the function, and the guest ends with 134.
	defer func() {
		if r := recover(); r != nil {
			*msg = C.CString(fmt.Sprintf("runw: %s failed: %v", f.name, r))
			e = C.int32_t(errnoPanic)
		}
	}()
	h.calls++
	r := f.body(h, m, a[:len(f.params)])
	if r >= errnoMax {
		r = ErrnoIo
	}
	return C.int32_t(r)
}
