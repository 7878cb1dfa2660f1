;; startfn: a component whose core module has a start function that sets a
;; global; run exits with wasi:cli/exit's exit-with-code 42 if it ran, 3 if
;; not. runw instantiates a component (running its start functions) only at
;; `runw start`, under the sandbox.
(component
  (import "wasi:cli/exit@0.2.6" (instance $exit
    (export "exit-with-code" (func (param "status-code" u8)))))
  (core module $m
    (import "exit" "code" (func $code (param i32)))
    (global $started (mut i32) (i32.const 0))
    (func $init (global.set $started (i32.const 1)))
    (start $init)
    (func (export "run") (result i32)
      (call $code (select (i32.const 42) (i32.const 3) (global.get $started)))
      i32.const 0))
  (core func $code (canon lower (func $exit "exit-with-code")))
  (core instance $i (instantiate $m (with "exit" (instance (export "code" (func $code))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.6" (instance $cli)))
