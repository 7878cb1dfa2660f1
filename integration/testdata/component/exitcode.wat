;; exitcode: a component importing wasi:cli/exit's exit-with-code, which
;; its run calls with 42; runw must report 42.
(component
  (import "wasi:cli/exit@0.2.6" (instance $exit
    (export "exit-with-code" (func (param "status-code" u8)))))
  (core module $m
    (import "exit" "code" (func $code (param i32)))
    (func (export "run") (result i32)
      i32.const 42
      call $code
      i32.const 0))
  (core func $code (canon lower (func $exit "exit-with-code")))
  (core instance $i (instantiate $m (with "exit" (instance (export "code" (func $code))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.6" (instance $cli)))
