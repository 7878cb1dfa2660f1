;; startexit: a component whose core module's start function calls
;; wasi:cli/exit's exit-with-code 7; run would exit 42. Instantiated at
;; create, as before runw left that to start, it failed create.
(component
  (import "wasi:cli/exit@0.2.6" (instance $exit
    (export "exit-with-code" (func (param "status-code" u8)))))
  (core module $m
    (import "exit" "code" (func $code (param i32)))
    (func $init (call $code (i32.const 7)))
    (start $init)
    (func (export "run") (result i32)
      (call $code (i32.const 42))
      i32.const 0))
  (core func $code (canon lower (func $exit "exit-with-code")))
  (core instance $i (instantiate $m (with "exit" (instance (export "code" (func $code))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.6" (instance $cli)))
