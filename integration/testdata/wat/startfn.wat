;; startfn: a start section, whose function writes "start function\n" to fd 1
;; and sets a global that _start then reports: runw runs it at `runw start`,
;; under the sandbox, just before _start, which writes "_start after it\n" and
;; returns (exit 0). Were the start function not run, _start would exit 3.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (global $started (mut i32) (i32.const 0))
  (data (i32.const 16) "start function\n")
  (data (i32.const 32) "_start after it\n")
  (func $write (param $buf i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $buf))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $init
    (call $write (i32.const 16) (i32.const 15))
    (global.set $started (i32.const 1)))
  (start $init)
  (func (export "_start")
    (if (i32.eqz (global.get $started)) (then (call $proc_exit (i32.const 3))))
    (call $write (i32.const 32) (i32.const 16))))
