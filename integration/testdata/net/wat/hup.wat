;; hup: what poll_oneoff reports for a TCP socket whose peer shut down
;; only its write side (a FIN: the socket is readable, a read gives 0, and
;; it can still send), then once both directions are shut.
;;
;; HANGUP must mean what POLLHUP means, never the half-close POLLRDHUP:
;; WasmEdge sets it only on EPOLLHUP (lib/host/wasi/inode-linux.cpp,
;; Poller::wait), wasi-libc's poll() turns it into POLLHUP, and the mio
;; forks under WasmEdge's tokio (second-state/wasi_mio, src/sys/wasi)
;; deregister a descriptor that reports POLLHUP: a HANGUP on a mere FIN
;; would leave a server that still has a response to write waiting forever.
;;
;; Memory: 0 iovec and nwritten for printing; 16 fd A (listener), 20 fd B
;; (client), 24 port, 32 nread, 36 roflags, 40 fd C (accepted); 72
;; address {96, 128} for results; 232 storage {family 1 (inet4),
;; 127.0.0.1}; 368 address {232, 128}; 408 iovec {440, 64} receive buffer;
;; names at 512+32k; 2000 one FD_READ subscription, 2100 its event, 2200
;; the event count; 4096 the line being printed.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_open" (func $sock_open (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_bind" (func $sock_bind (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_listen" (func $sock_listen (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_connect" (func $sock_connect (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_getlocaladdr" (func $getlocal (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown" (func $sock_shutdown (param i32 i32) (result i32)))
  (memory (export "memory") 1)

  (data (i32.const 72) "\60\00\00\00\80\00\00\00")  ;; {96, 128}
  (data (i32.const 232) "\01\00\7f\00\00\01")       ;; inet4, 127.0.0.1
  (data (i32.const 368) "\e8\00\00\00\80\00\00\00") ;; {232, 128}
  (data (i32.const 408) "\b8\01\00\00\40\00\00\00") ;; {440, 64}

  (data (i32.const 512) "open")                ;; 0
  (data (i32.const 544) "bind")                ;; 1
  (data (i32.const 576) "listen")              ;; 2
  (data (i32.const 608) "getlocaladdr")        ;; 3
  (data (i32.const 640) "connect")             ;; 4
  (data (i32.const 672) "accept")              ;; 5
  (data (i32.const 704) "shutdown_peer_wr")    ;; 6
  (data (i32.const 736) "poll_fin")            ;; 7
  (data (i32.const 768) "nevents_fin")         ;; 8
  (data (i32.const 800) "type_fin")            ;; 9
  (data (i32.const 832) "error_fin")           ;; 10
  (data (i32.const 864) "hangup_fin")          ;; 11
  (data (i32.const 896) "recv")                ;; 12
  (data (i32.const 928) "recv_n")              ;; 13
  (data (i32.const 960) "shutdown_wr")         ;; 14
  (data (i32.const 992) "poll_both")           ;; 15
  (data (i32.const 1024) "nevents_both")        ;; 16
  (data (i32.const 1056) "type_both")           ;; 17
  (data (i32.const 1088) "error_both")          ;; 18
  (data (i32.const 1120) "hangup_both")         ;; 19
  (data (i32.const 1152) "done")                ;; 20

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

  ;; $pollc waits for C to be readable and prints the poll's errno, the
  ;; event count, and the event's type, error and HANGUP bit.
  (func $pollc (param $k i32)
    (memory.fill (i32.const 2000) (i32.const 0) (i32.const 300))
    (i64.store (i32.const 2000) (i64.const 7))
    (i32.store8 (i32.const 2008) (i32.const 1))
    (i32.store (i32.const 2016) (i32.load (i32.const 40)))
    (call $r (local.get $k) (call $poll (i32.const 2000) (i32.const 2100) (i32.const 1) (i32.const 2200)))
    (call $r (i32.add (local.get $k) (i32.const 1)) (i32.load (i32.const 2200)))
    (call $r (i32.add (local.get $k) (i32.const 2)) (i32.load8_u (i32.const 2110)))
    (call $r (i32.add (local.get $k) (i32.const 3)) (i32.load16_u (i32.const 2108)))
    (call $r (i32.add (local.get $k) (i32.const 4)) (i32.and (i32.load16_u (i32.const 2124)) (i32.const 1))))

  (func (export "_start")
    (call $r (i32.const 0) (call $sock_open (i32.const 1) (i32.const 2) (i32.const 16)))
    (call $r (i32.const 1) (call $sock_bind (i32.load (i32.const 16)) (i32.const 368) (i32.const 0)))
    (call $r (i32.const 2) (call $sock_listen (i32.load (i32.const 16)) (i32.const 8)))
    (call $r (i32.const 3) (call $getlocal (i32.load (i32.const 16)) (i32.const 72) (i32.const 24)))
    (drop (call $sock_open (i32.const 1) (i32.const 2) (i32.const 20)))
    (call $r (i32.const 4) (call $sock_connect (i32.load (i32.const 20)) (i32.const 368) (i32.load (i32.const 24))))
    (call $r (i32.const 5) (call $sock_accept (i32.load (i32.const 16)) (i32.const 0) (i32.const 40)))
    ;; B sends its FIN: C is readable, no HANGUP, and a read gives 0.
    (call $r (i32.const 6) (call $sock_shutdown (i32.load (i32.const 20)) (i32.const 2)))
    (call $pollc (i32.const 7))
    (call $r (i32.const 12) (call $sock_recv (i32.load (i32.const 40)) (i32.const 408) (i32.const 1) (i32.const 0) (i32.const 32) (i32.const 36)))
    (call $r (i32.const 13) (i32.load (i32.const 32)))
    ;; C shuts its own write side: both directions are closed, HANGUP.
    (call $r (i32.const 14) (call $sock_shutdown (i32.load (i32.const 40)) (i32.const 2)))
    (call $pollc (i32.const 15))
    (call $r (i32.const 20) (i32.const 0))))
