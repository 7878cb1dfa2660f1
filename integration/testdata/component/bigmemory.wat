;; bigmemory: a component whose core module's memory starts at 160 pages
;; (10 MiB); under a 12 MiB memory limit runw leaves it 6 MiB, and must
;; say so rather than report wasmtime's bare refusal.
(component
  (core module $m
    (memory 160)
    (func (export "run") (result i32)
      i32.const 0))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.6" (instance $cli)))
