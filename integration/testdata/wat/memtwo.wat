;; memtwo: a second memory (multi-memory), grown to 600 pages (39 MB)
;; and written beside the first. Under a memory limit a module may have
;; one memory (wasmtime caps each, not their sum): it is refused at
;; create. Exit 0 would say it ran.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory $m0 (export "memory") 1)
  (memory $m1 1)
  (func (export "_start")
    (if (i32.eq (memory.grow $m1 (i32.const 600)) (i32.const -1))
      (then (call $exit (i32.const 12))))
    (memory.fill $m1 (i32.const 0) (i32.const 1) (i32.const 39000000))
    (call $exit (i32.const 0))))
