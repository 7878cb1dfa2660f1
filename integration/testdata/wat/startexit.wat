;; startexit: a start function that calls proc_exit(9): the guest ends with 9
;; and _start (which would exit 4) never runs.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func $init (call $proc_exit (i32.const 9)))
  (start $init)
  (func (export "_start") (call $proc_exit (i32.const 4))))
