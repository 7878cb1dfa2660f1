;; open: one WasmEdge sock_open of an IPv4 TCP socket, printed as "open=N"
;; (N the WASI errno: 0, or 2 EACCES where the network grant refuses it).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_open" (func $sock_open (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "open=0\n")
  (func (export "_start")
    (local $e i32)
    (local.set $e (call $sock_open (i32.const 1) (i32.const 2) (i32.const 16)))
    ;; errnos up to 99: one or two digits
    (if (i32.ge_u (local.get $e) (i32.const 10))
      (then
        (i32.store8 (i32.const 69) (i32.add (i32.const 48) (i32.div_u (local.get $e) (i32.const 10))))
        (i32.store8 (i32.const 70) (i32.add (i32.const 48) (i32.rem_u (local.get $e) (i32.const 10))))
        (i32.store8 (i32.const 71) (i32.const 10))
        (i32.store (i32.const 4) (i32.const 8)))
      (else
        (i32.store8 (i32.const 69) (i32.add (i32.const 48) (local.get $e)))
        (i32.store (i32.const 4) (i32.const 7))))
    (i32.store (i32.const 0) (i32.const 64))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
