;; sharedmem: exports its memory shared (as a wasi-threads module does) and
;; writes a line with fd_write. runw's WASI host reads only a memory that is
;; not shared: every call failed with EFAULT and the guest exited 21 without
;; a word. runw refuses it at create, in one line.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1 1 shared)
  (data (i32.const 0) "\10\00\00\00\06\00\00\00")
  (data (i32.const 16) "shared\n")
  (func (export "_start")
    (call $proc_exit (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
