;; A _start that returns an exnref: wasmtime-go converts _start's results
;; when it returns, and the C API aborted runw's init on this one. Refused
;; at compile.
(module
  (memory (export "memory") 1)
  (func (export "_start") (result exnref)
    (ref.null exn)))
