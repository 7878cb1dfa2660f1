;; A WASI import whose type has an exnref (exception handling): no WASI
;; function has one, and wasmtime's C API, asked the kinds of its
;; parameters, aborted runw's init. Refused at compile.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func (param exnref)))
  (memory (export "memory") 1)
  (func (export "_start")))
