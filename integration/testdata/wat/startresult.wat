;; startresult: a _start that returns a value, which runw ignores as
;; wasmtime's CLI runs it; exit status must be 0, not the value.
(module
  (memory (export "memory") 1)
  (func (export "_start") (result i32)
    i32.const 5))
