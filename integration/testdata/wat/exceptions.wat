;; Exception handling (Wasm 3.0): a tag thrown in a callee is caught by a
;; try_table in _start with its payload; exit 7 only if the payload is 42.
;; uncaught.wat throws a tag that nobody catches.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (tag $e (param i32))
  (func $thrower (param i32) (local.get 0) (throw $e))
  (func (export "_start")
    (block $h (result i32)
      (try_table (catch $e $h)
        (call $thrower (i32.const 42)))
      (call $exit (i32.const 1))
      (unreachable))
    (if (i32.ne (i32.const 42)) (then (call $exit (i32.const 2))))
    (call $exit (i32.const 7))))
