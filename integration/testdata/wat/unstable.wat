;; A guest of WASI's first snapshot (wasi_unstable, preview 0), as older
;; toolchains built them. It checks the four calls whose layout differs
;; from preview 1 and exits with the number of the first check that
;; fails, 0 when all pass. Its stdin is a file of 11 bytes, and
;; /hello.txt in its rootfs is the same 11 bytes.
(module
  (import "wasi_unstable" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_unstable" "fd_filestat_get" (func $fstat (param i32 i32) (result i32)))
  (import "wasi_unstable" "path_filestat_get" (func $pstat (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_unstable" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_unstable" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_unstable" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 1000) "hello.txt")
  (data (i32.const 1100) "unstable ok\n")
  (func $check (param $ok i32) (param $n i32)
    (if (i32.eqz (local.get $ok)) (then (call $exit (local.get $n)))))
  (func (export "_start")
    ;; fd_seek to the end with preview 0's END (1): the file's size.
    (call $check (i32.eqz (call $seek (i32.const 0) (i64.const 0) (i32.const 1) (i32.const 200))) (i32.const 1))
    (call $check (i64.eq (i64.load (i32.const 200)) (i64.const 11)) (i32.const 2))
    ;; fd_seek to 3 with preview 0's SET (2).
    (call $check (i32.eqz (call $seek (i32.const 0) (i64.const 3) (i32.const 2) (i32.const 200))) (i32.const 3))
    (call $check (i64.eq (i64.load (i32.const 200)) (i64.const 3)) (i32.const 4))
    ;; fd_filestat_get: 56 bytes, the size at 24, nothing written past.
    (i64.store (i32.const 356) (i64.const -1))
    (call $check (i32.eqz (call $fstat (i32.const 0) (i32.const 300))) (i32.const 5))
    (call $check (i64.eq (i64.load (i32.const 324)) (i64.const 11)) (i32.const 6))
    (call $check (i32.eq (i32.load8_u (i32.const 316)) (i32.const 4)) (i32.const 7))
    (call $check (i32.eq (i32.load (i32.const 320)) (i32.const 1)) (i32.const 8))
    (call $check (i64.eq (i64.load (i32.const 356)) (i64.const -1)) (i32.const 9))
    ;; path_filestat_get of hello.txt in the preopened /.
    (call $check (i32.eqz (call $pstat (i32.const 3) (i32.const 1) (i32.const 1000) (i32.const 9) (i32.const 400))) (i32.const 10))
    (call $check (i64.eq (i64.load (i32.const 424)) (i64.const 11)) (i32.const 11))
    ;; poll_oneoff: one clock subscription in preview 0's layout (an
    ;; identifier before the clock id), 1 ms, userdata 42.
    (i64.store (i32.const 500) (i64.const 42))
    (i32.store8 (i32.const 508) (i32.const 0))
    (i64.store (i32.const 516) (i64.const 7))
    (i32.store (i32.const 524) (i32.const 1))
    (i64.store (i32.const 532) (i64.const 1000000))
    (i64.store (i32.const 540) (i64.const 0))
    (i32.store16 (i32.const 548) (i32.const 0))
    (call $check (i32.eqz (call $poll (i32.const 500) (i32.const 600) (i32.const 1) (i32.const 700))) (i32.const 12))
    (call $check (i32.eq (i32.load (i32.const 700)) (i32.const 1)) (i32.const 13))
    (call $check (i64.eq (i64.load (i32.const 600)) (i64.const 42)) (i32.const 14))
    (call $check (i32.eqz (i32.load16_u (i32.const 608))) (i32.const 15))
    ;; Everything else is preview 1's: fd_write.
    (i32.store (i32.const 800) (i32.const 1100))
    (i32.store (i32.const 804) (i32.const 12))
    (call $check (i32.eqz (call $write (i32.const 1) (i32.const 800) (i32.const 1) (i32.const 808))) (i32.const 16))
    (call $exit (i32.const 0))))
