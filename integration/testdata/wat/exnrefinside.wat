;; exnref inside the module only, as C++ built with -fwasm-exceptions uses
;; it: a function taking one, a block typed by a function type returning
;; one (catch_ref), rethrown with throw_ref and caught again. runw asks
;; nothing about these, and the module runs: exit 7.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (type $caught (func (result i32 exnref)))
  (memory (export "memory") 1)
  (tag $e (param i32))
  (func $isnull (param exnref) (result i32)
    (ref.is_null (local.get 0)))
  (func $rethrow (param exnref)
    (throw_ref (local.get 0)))
  (func (export "_start")
    (local $exn exnref)
    (if (i32.eqz (call $isnull (ref.null exn))) (then (call $exit (i32.const 1))))
    (block $outer (result i32)
      (try_table (catch $e $outer)
        (block $h (type $caught)
          (try_table (catch_ref $e $h)
            (throw $e (i32.const 7)))
          (call $exit (i32.const 2))
          (unreachable))
        (local.set $exn)
        (drop)
        (call $rethrow (local.get $exn)))
      (call $exit (i32.const 3))
      (unreachable))
    (call $exit)))
