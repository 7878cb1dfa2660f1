;; v2: WasmEdge's socket extension in its V2 shapes, the ones Go's
;; github.com/stealthrocket/net imports: sock_accept (fd, fdflags, *fd) with
;; 3 params (preview1's own), sock_getlocaladdr (fd, *address, *port) with 3
;; params and a 128-byte address storage {family u16, data}, sock_recv_from
;; with 8 params (it returns the sender's port too). It binds with the
;; 128-byte storage form, runs TCP and UDP round trips on 127.0.0.1, checks
;; fdstat of an accepted socket, a send after shutdown (EPIPE, and the guest
;; lives on: no SIGPIPE) and edge cases, and prints each call's WASI errno
;; (or a value) as "name=N", one a line; the test compares the whole output.
;;
;; Memory: 0 iovec and nwritten for printing; 16 fd A (listener), 20 fd B
;; (client), 24 port, 32 nread/nsent, 36 roflags, 40 fd C (accepted), 44
;; fd D (udp), 48 port from recv_from; 64 address {80, 4} = 127.0.0.1; 72
;; address {96, 128} for results; 88 address {80, 5} (a bad length); 232
;; storage {family 1 (inet4), 127.0.0.1}; 368 address {232, 128}; 400 iovec
;; {420, 4} "ping"; 408 iovec {440, 64} receive buffer; names at 512+32k;
;; 3000 an fdstat; 4096 the line being printed.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $set_flags (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_open" (func $sock_open (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_bind" (func $sock_bind (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_listen" (func $sock_listen (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_connect" (func $sock_connect (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_getlocaladdr" (func $getlocal (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown" (func $sock_shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send_to" (func $send_to (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv_from" (func $recv_from (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  (data (i32.const 64) "\50\00\00\00\04\00\00\00")  ;; {80, 4}
  (data (i32.const 72) "\60\00\00\00\80\00\00\00")  ;; {96, 128}
  (data (i32.const 80) "\7f\00\00\01")              ;; 127.0.0.1
  (data (i32.const 88) "\50\00\00\00\05\00\00\00")  ;; {80, 5}
  (data (i32.const 232) "\01\00\7f\00\00\01")       ;; inet4, 127.0.0.1
  (data (i32.const 368) "\e8\00\00\00\80\00\00\00") ;; {232, 128}
  (data (i32.const 400) "\a4\01\00\00\04\00\00\00") ;; {420, 4}
  (data (i32.const 408) "\b8\01\00\00\40\00\00\00") ;; {440, 64}
  (data (i32.const 420) "ping")

  (data (i32.const 512) "open")               ;; 0
  (data (i32.const 544) "bind_storage")       ;; 1
  (data (i32.const 576) "listen")             ;; 2
  (data (i32.const 608) "getlocaladdr")       ;; 3
  (data (i32.const 640) "family")             ;; 4
  (data (i32.const 672) "port_set")           ;; 5
  (data (i32.const 704) "addr0")              ;; 6
  (data (i32.const 736) "nonblock")           ;; 7
  (data (i32.const 768) "accept_empty")       ;; 8
  (data (i32.const 800) "open2")              ;; 9
  (data (i32.const 832) "connect_badlen")     ;; 10
  (data (i32.const 864) "connect")            ;; 11
  (data (i32.const 896) "accept")             ;; 12
  (data (i32.const 928) "filetype")           ;; 13
  (data (i32.const 960) "accepted_nonblock")  ;; 14
  (data (i32.const 992) "send")               ;; 15
  (data (i32.const 1024) "recv")              ;; 16
  (data (i32.const 1056) "recv_n")            ;; 17
  (data (i32.const 1088) "connect_badfd")     ;; 18
  (data (i32.const 1120) "accept_badfd")      ;; 19
  (data (i32.const 1152) "accept_notsock")    ;; 20
  (data (i32.const 1184) "getlocaladdr_badfd") ;; 21
  (data (i32.const 1216) "shutdown_wr")       ;; 22
  (data (i32.const 1248) "send_after_shutdown") ;; 23
  (data (i32.const 1280) "udp_open")          ;; 24
  (data (i32.const 1312) "udp_bind")          ;; 25
  (data (i32.const 1344) "udp_getlocaladdr")  ;; 26
  (data (i32.const 1376) "send_to")           ;; 27
  (data (i32.const 1408) "recv_from")         ;; 28
  (data (i32.const 1440) "recv_from_n")       ;; 29
  (data (i32.const 1472) "recv_from_port")    ;; 30
  (data (i32.const 1504) "recv_from_family")  ;; 31
  (data (i32.const 1536) "done")              ;; 32

  ;; $r prints "<name k>=<v>\n".
  (func $r (param $k i32) (param $v i32)
    (local $name i32) (local $p i32) (local $q i32) (local $n i32)
    (local.set $name (i32.add (i32.const 512) (i32.mul (local.get $k) (i32.const 32))))
    (local.set $p (i32.const 4096))
    (block $end
      (loop $copy
        (br_if $end (i32.eqz (i32.load8_u (local.get $name))))
        (i32.store8 (local.get $p) (i32.load8_u (local.get $name)))
        (local.set $name (i32.add (local.get $name) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $copy)))
    (i32.store8 (local.get $p) (i32.const 61))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (local.set $q (i32.const 4216))
    (loop $digit
      (local.set $q (i32.sub (local.get $q) (i32.const 1)))
      (i32.store8 (local.get $q) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digit (local.get $v)))
    (block $end2
      (loop $move
        (br_if $end2 (i32.ge_u (local.get $q) (i32.const 4216)))
        (i32.store8 (local.get $p) (i32.load8_u (local.get $q)))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $move)))
    (i32.store8 (local.get $p) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 4096))
    (i32.store (i32.const 4) (i32.sub (i32.add (local.get $p) (i32.const 1)) (i32.const 4096)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    ;; TCP: listener A on 127.0.0.1 (given as 128-byte storage), an ephemeral port.
    (call $r (i32.const 0) (call $sock_open (i32.const 1) (i32.const 2) (i32.const 16)))
    (call $r (i32.const 1) (call $sock_bind (i32.load (i32.const 16)) (i32.const 368) (i32.const 0)))
    (call $r (i32.const 2) (call $sock_listen (i32.load (i32.const 16)) (i32.const 8)))
    (call $r (i32.const 3) (call $getlocal (i32.load (i32.const 16)) (i32.const 72) (i32.const 24)))
    (call $r (i32.const 4) (i32.load16_u (i32.const 96)))
    (call $r (i32.const 5) (i32.ne (i32.load (i32.const 24)) (i32.const 0)))
    (call $r (i32.const 6) (i32.load8_u (i32.const 98)))
    ;; Non-blocking, with nothing pending: EAGAIN.
    (call $r (i32.const 7) (call $set_flags (i32.load (i32.const 16)) (i32.const 4)))
    (call $r (i32.const 8) (call $sock_accept (i32.load (i32.const 16)) (i32.const 0) (i32.const 40)))
    ;; Client B: a 5-byte address is neither IPv4 nor IPv6.
    (call $r (i32.const 9) (call $sock_open (i32.const 1) (i32.const 2) (i32.const 20)))
    (call $r (i32.const 10) (call $sock_connect (i32.load (i32.const 20)) (i32.const 88) (i32.load (i32.const 24))))
    ;; B connects; A accepts C with NONBLOCK; C is a stream socket that says so.
    (call $r (i32.const 11) (call $sock_connect (i32.load (i32.const 20)) (i32.const 64) (i32.load (i32.const 24))))
    (call $r (i32.const 12) (call $sock_accept (i32.load (i32.const 16)) (i32.const 4) (i32.const 40)))
    (drop (call $fdstat (i32.load (i32.const 40)) (i32.const 3000)))
    (call $r (i32.const 13) (i32.load8_u (i32.const 3000)))
    (call $r (i32.const 14) (i32.and (i32.load16_u (i32.const 3002)) (i32.const 4)))
    ;; "ping" from B to C.
    (call $r (i32.const 15) (call $sock_send (i32.load (i32.const 20)) (i32.const 400) (i32.const 1) (i32.const 0) (i32.const 32)))
    (call $r (i32.const 16) (call $sock_recv (i32.load (i32.const 40)) (i32.const 408) (i32.const 1) (i32.const 0) (i32.const 32) (i32.const 36)))
    (call $r (i32.const 17) (i32.load (i32.const 32)))
    ;; Unknown descriptors and a descriptor that is no socket.
    (call $r (i32.const 18) (call $sock_connect (i32.const 77) (i32.const 64) (i32.load (i32.const 24))))
    (call $r (i32.const 19) (call $sock_accept (i32.const 77) (i32.const 0) (i32.const 40)))
    (call $r (i32.const 20) (call $sock_accept (i32.const 1) (i32.const 0) (i32.const 40)))
    (call $r (i32.const 21) (call $getlocal (i32.const 77) (i32.const 72) (i32.const 24)))
    ;; A send after shutting down the write side is EPIPE, not a SIGPIPE death.
    (call $r (i32.const 22) (call $sock_shutdown (i32.load (i32.const 20)) (i32.const 2)))
    (call $r (i32.const 23) (call $sock_send (i32.load (i32.const 20)) (i32.const 400) (i32.const 1) (i32.const 0) (i32.const 32)))
    ;; UDP D: a datagram to itself; recv_from gives the sender's address and port.
    (call $r (i32.const 24) (call $sock_open (i32.const 1) (i32.const 1) (i32.const 44)))
    (call $r (i32.const 25) (call $sock_bind (i32.load (i32.const 44)) (i32.const 64) (i32.const 0)))
    (call $r (i32.const 26) (call $getlocal (i32.load (i32.const 44)) (i32.const 72) (i32.const 24)))
    (call $r (i32.const 27) (call $send_to (i32.load (i32.const 44)) (i32.const 400) (i32.const 1) (i32.const 64) (i32.load (i32.const 24)) (i32.const 0) (i32.const 32)))
    (i32.store16 (i32.const 96) (i32.const 0))
    (call $r (i32.const 28) (call $recv_from (i32.load (i32.const 44)) (i32.const 408) (i32.const 1) (i32.const 72) (i32.const 0) (i32.const 48) (i32.const 32) (i32.const 36)))
    (call $r (i32.const 29) (i32.load (i32.const 32)))
    (call $r (i32.const 30) (i32.eq (i32.load (i32.const 48)) (i32.load (i32.const 24))))
    (call $r (i32.const 31) (i32.load16_u (i32.const 96)))
    (call $r (i32.const 32) (i32.const 0))))
