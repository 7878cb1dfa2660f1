;; badimport: a component importing an interface runw's linker does not
;; provide: refused at create, in one line naming it, although the component
;; is only instantiated at start.
(component
  (import "example:missing/thing" (instance $thing
    (export "f" (func))))
  (core module $m
    (func (export "run") (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.6" (instance $cli)))
