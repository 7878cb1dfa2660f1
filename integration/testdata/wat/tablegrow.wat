;; tablegrow: a table grown past runw's cap (10,000,000 elements, as V8)
;; must get -1 from table.grow, not take the host's memory; a growth within
;; the cap succeeds. Exit 3 says both held; 1 or 2 says which did not.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (func (export "_start")
    (if (i32.ne (table.grow $t (ref.null func) (i32.const 20000000)) (i32.const -1))
      (then (call $exit (i32.const 1))))
    (if (i32.ne (table.grow $t (ref.null func) (i32.const 1000)) (i32.const 1))
      (then (call $exit (i32.const 2))))
    (call $exit (i32.const 3))))
