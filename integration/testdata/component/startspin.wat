;; startspin: a component whose core module's start function never returns.
;; It held `runw create` until the compile bound failed it, two minutes
;; later, until runw left instantiation to `runw start`.
(component
  (core module $m
    (func $init (loop $forever (br $forever)))
    (start $init)
    (func (export "run") (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.6" (instance $cli)))
