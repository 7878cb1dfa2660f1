;; poll_oneoff of 18,000 subscriptions (under the bound a 48 MiB limit
;; gives, 18,724) 20,000 times, beside a linear memory grown to its cap
;; and touched (zeros: each record is an immediate clock subscription),
;; then "ok" and exit with the last call's errno (0). Each call was within
;; its bound, but the host's lists for it were garbage after it: the
;; init's collector let them pile past the container's limit and the OOM
;; killer ended the container (137).
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $r i32) (local $i i32)
    (block $full (loop $grow
      (br_if $full (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
      (br $grow)))
    (memory.fill (i32.const 65536) (i32.const 0)
      (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 65536)))
    (loop $again
      (local.set $r (call $poll (i32.const 65536) (i32.const 65536) (i32.const 18000) (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.and (i32.eqz (local.get $r)) (i32.lt_u (local.get $i) (i32.const 20000)))))
    (i32.store (i32.const 16) (i32.const 0x000a6b6f))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (local.get $r))))
