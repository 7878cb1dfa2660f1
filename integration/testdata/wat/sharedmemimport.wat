;; sharedmemimport: imports its memory shared, as a module built for
;; wasi-threads (wasm32-wasip1-threads) does. No container supplies it:
;; create failed at instantiation with wasmtime's "unknown import:
;; `env::memory` has not been defined", naming no reason. runw refuses it
;; at compile, in one line.
(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (func (export "_start") (call $proc_exit (i32.const 0))))
