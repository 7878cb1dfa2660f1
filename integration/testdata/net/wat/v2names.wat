;; v2names: WasmEdge's socket extension imported by its "_v2" names.
;; WasmEdge exports every changed call a second time as <name>_v2
;; (lib/host/wasi/wasimodule.cpp), and guests written against it import
;; those names directly (e.g. Rust code with #[link_name = "sock_bind_v2"],
;; C with __import_name__("sock_open_v2")) to get the 128-byte address
;; form without relying on the signature match. It runs a TCP and a UDP
;; round trip on 127.0.0.1 through those names only and prints each call's
;; WASI errno (or a value) as "name=N", one a line.
;;
;; Memory: 0 iovec and nwritten for printing; 16 fd A (listener), 20 fd B
;; (client), 24 port, 28 peer port, 32 nread/nsent, 36 roflags, 40 fd C
;; (accepted), 44 fd D (udp), 48 port from recv_from; 72 address {96, 128}
;; for results; 232 storage {family 1 (inet4), 127.0.0.1}; 368 address
;; {232, 128}; 400 iovec {420, 4} "ping"; 408 iovec {440, 64} receive
;; buffer; names at 512+32k; 4096 the line being printed.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_open_v2" (func $sock_open (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_bind_v2" (func $sock_bind (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_listen_v2" (func $sock_listen (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_connect_v2" (func $sock_connect (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept_v2" (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_getlocaladdr_v2" (func $getlocal (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_getpeeraddr_v2" (func $getpeer (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send_v2" (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv_v2" (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send_to_v2" (func $send_to (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv_from_v2" (func $recv_from (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  (data (i32.const 72) "\60\00\00\00\80\00\00\00")  ;; {96, 128}
  (data (i32.const 232) "\01\00\7f\00\00\01")       ;; inet4, 127.0.0.1
  (data (i32.const 368) "\e8\00\00\00\80\00\00\00") ;; {232, 128}
  (data (i32.const 400) "\a4\01\00\00\04\00\00\00") ;; {420, 4}
  (data (i32.const 408) "\b8\01\00\00\40\00\00\00") ;; {440, 64}
  (data (i32.const 420) "ping")

  (data (i32.const 512) "open")                ;; 0
  (data (i32.const 544) "bind")                ;; 1
  (data (i32.const 576) "listen")              ;; 2
  (data (i32.const 608) "getlocaladdr")        ;; 3
  (data (i32.const 640) "port_set")            ;; 4
  (data (i32.const 672) "connect")             ;; 5
  (data (i32.const 704) "accept")              ;; 6
  (data (i32.const 736) "send")                ;; 7
  (data (i32.const 768) "recv")                ;; 8
  (data (i32.const 800) "recv_n")              ;; 9
  (data (i32.const 832) "getpeeraddr")         ;; 10
  (data (i32.const 864) "peer_family")         ;; 11
  (data (i32.const 896) "peer_port_set")       ;; 12
  (data (i32.const 928) "udp_open")            ;; 13
  (data (i32.const 960) "udp_bind")            ;; 14
  (data (i32.const 992) "udp_getlocaladdr")    ;; 15
  (data (i32.const 1024) "send_to")             ;; 16
  (data (i32.const 1056) "recv_from")           ;; 17
  (data (i32.const 1088) "recv_from_n")         ;; 18
  (data (i32.const 1120) "recv_from_port")      ;; 19
  (data (i32.const 1152) "recv_from_family")    ;; 20
  (data (i32.const 1184) "done")                ;; 21

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
    ;; TCP: listener A on 127.0.0.1:0, client B, accepted C.
    (call $r (i32.const 0) (call $sock_open (i32.const 1) (i32.const 2) (i32.const 16)))
    (call $r (i32.const 1) (call $sock_bind (i32.load (i32.const 16)) (i32.const 368) (i32.const 0)))
    (call $r (i32.const 2) (call $sock_listen (i32.load (i32.const 16)) (i32.const 8)))
    (call $r (i32.const 3) (call $getlocal (i32.load (i32.const 16)) (i32.const 72) (i32.const 24)))
    (call $r (i32.const 4) (i32.ne (i32.load (i32.const 24)) (i32.const 0)))
    (drop (call $sock_open (i32.const 1) (i32.const 2) (i32.const 20)))
    (call $r (i32.const 5) (call $sock_connect (i32.load (i32.const 20)) (i32.const 368) (i32.load (i32.const 24))))
    (call $r (i32.const 6) (call $sock_accept (i32.load (i32.const 16)) (i32.const 0) (i32.const 40)))
    (call $r (i32.const 7) (call $sock_send (i32.load (i32.const 20)) (i32.const 400) (i32.const 1) (i32.const 0) (i32.const 32)))
    (call $r (i32.const 8) (call $sock_recv (i32.load (i32.const 40)) (i32.const 408) (i32.const 1) (i32.const 0) (i32.const 32) (i32.const 36)))
    (call $r (i32.const 9) (i32.load (i32.const 32)))
    (call $r (i32.const 10) (call $getpeer (i32.load (i32.const 40)) (i32.const 72) (i32.const 28)))
    (call $r (i32.const 11) (i32.load16_u (i32.const 96)))
    (call $r (i32.const 12) (i32.ne (i32.load (i32.const 28)) (i32.const 0)))
    ;; UDP D: a datagram to itself.
    (call $r (i32.const 13) (call $sock_open (i32.const 1) (i32.const 1) (i32.const 44)))
    (call $r (i32.const 14) (call $sock_bind (i32.load (i32.const 44)) (i32.const 368) (i32.const 0)))
    (call $r (i32.const 15) (call $getlocal (i32.load (i32.const 44)) (i32.const 72) (i32.const 24)))
    (call $r (i32.const 16) (call $send_to (i32.load (i32.const 44)) (i32.const 400) (i32.const 1) (i32.const 368) (i32.load (i32.const 24)) (i32.const 0) (i32.const 32)))
    (i32.store16 (i32.const 96) (i32.const 0))
    (call $r (i32.const 17) (call $recv_from (i32.load (i32.const 44)) (i32.const 408) (i32.const 1) (i32.const 72) (i32.const 0) (i32.const 48) (i32.const 32) (i32.const 36)))
    (call $r (i32.const 18) (i32.load (i32.const 32)))
    (call $r (i32.const 19) (i32.eq (i32.load (i32.const 48)) (i32.load (i32.const 24))))
    (call $r (i32.const 20) (i32.load16_u (i32.const 96)))
    (call $r (i32.const 21) (i32.const 0))))
