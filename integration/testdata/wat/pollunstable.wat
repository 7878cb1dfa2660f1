;; wasi_unstable's poll_oneoff of 65,536 subscriptions, 2,000 times,
;; beside a linear memory grown to its cap and touched, then "ok" and
;; exit with the last call's errno. The call copied every subscription
;; into the host's memory (88 bytes each) before the preview 1 body's
;; bound refused it: about 5.5 MiB a call, which the init's collector let
;; pile past a small memory limit (the container ended with 137). Under a
;; 48 MiB limit it is refused first, EINVAL (28).
(module
  (import "wasi_unstable" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_unstable" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_unstable" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $r i32) (local $i i32)
    (block $full (loop $grow
      (br_if $full (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
      (br $grow)))
    (memory.fill (i32.const 65536) (i32.const 0)
      (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 65536)))
    (loop $again
      (local.set $r (call $poll (i32.const 65536) (i32.const 65536) (i32.const 65536) (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 2000))))
    (i32.store (i32.const 16) (i32.const 0x000a6b6f))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (local.get $r))))
