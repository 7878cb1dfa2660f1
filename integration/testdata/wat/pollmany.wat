;; poll_oneoff of 800,000 subscriptions in memory the guest never
;; touched (zeros: each 48-byte record reads as an immediate clock
;; subscription), then "ok" and exit with the call's errno. The guest's
;; own memory stays under its cap; the host's lists for the call would
;; not fit beside it under a small memory limit.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 600)
  (func (export "_start")
    (local $r i32)
    (local.set $r (call $poll (i32.const 65536) (i32.const 65536) (i32.const 800000) (i32.const 0)))
    (i32.store (i32.const 16) (i32.const 0x000a6b6f))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (local.get $r))))
