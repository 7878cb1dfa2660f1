;; nomemory: exports its memory under another name than "memory", where
;; WASI looks for it, and writes a line: the call fails the guest (a trap,
;; 134) in wasmtime's words, "missing required memory export", where runw
;; answered EFAULT and the guest exited 21 without a word.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "mem") 1)
  (data (i32.const 16) "hello\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (call $proc_exit (i32.add (i32.const 21)
      (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))))
