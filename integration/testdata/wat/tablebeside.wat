;; tablebeside: under a 48 MiB memory limit (linear memory capped at
;; 40 MiB), a table grown by 3 million funcref elements (24 MB of the
;; host's memory, each element written) beside 31 MB of linear memory,
;; each under its own cap. The table must be refused (table.grow gives
;; -1: exit 11); the memory then grows and is written (exit 0 would say
;; the table was granted and the whole fitted).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (table $t 0 funcref)
  (func $f)
  (elem declare func $f)
  (func (export "_start")
    (local $grown i32)
    (local.set $grown (i32.ne (table.grow $t (ref.func $f) (i32.const 3000000)) (i32.const -1)))
    (if (i32.eq (memory.grow (i32.const 500)) (i32.const -1))
      (then (call $exit (i32.const 12))))
    (memory.fill (i32.const 65536) (i32.const 1) (i32.const 32768000))
    (if (local.get $grown) (then (call $exit (i32.const 0))))
    (call $exit (i32.const 11))))
