;; A 64-bit memory larger than 4 GiB (wasmtime accepts memory64). A
;; preview 1 pointer is 32 bits: the prestat record at 4 GiB - 4 does not
;; fit below 4 GiB, so the call must fail with EFAULT (21), which is the
;; exit status. A host that let the memory's real size through computed
;; offsets that wrapped, or panicked (poll_oneoff, before December).
(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") i64 65537)
  (func (export "_start")
    (call $exit (call $prestat (i32.const 3) (i32.const -4)))))
