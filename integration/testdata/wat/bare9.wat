;; bare9: a module written as its fields, without the (module ...) wrapper,
;; as the text format allows; the guest calls proc_exit(9).
(import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
(memory (export "memory") 1)
(func (export "_start")
  (call $proc_exit (i32.const 9)))
