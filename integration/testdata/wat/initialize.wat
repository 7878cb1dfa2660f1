;; initialize: a start section, an _initialize and a _start. Each writes its
;; line to fd 1; _start exits 3 unless _initialize ran before it, and
;; _initialize exits 5 unless the start function ran before it: the order
;; of wasmtime's CLI (instantiation, then _initialize, then _start).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (global $step (mut i32) (i32.const 0))
  (data (i32.const 16) "start function\n")
  (data (i32.const 32) "_initialize\n")
  (data (i32.const 48) "_start\n")
  (func $write (param $buf i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $buf))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $init
    (call $write (i32.const 16) (i32.const 15))
    (global.set $step (i32.const 1)))
  (start $init)
  (func (export "_initialize")
    (if (i32.ne (global.get $step) (i32.const 1)) (then (call $proc_exit (i32.const 5))))
    (call $write (i32.const 32) (i32.const 12))
    (global.set $step (i32.const 2)))
  (func (export "_start")
    (if (i32.ne (global.get $step) (i32.const 2)) (then (call $proc_exit (i32.const 3))))
    (call $write (i32.const 48) (i32.const 7))))
