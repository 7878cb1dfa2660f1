;; startspin: a start function that never returns and makes no host call. It
;; hung `runw create` (wasmtime runs a start function inside instantiation)
;; until runw deferred it to `runw start`.
(module
  (memory (export "memory") 1)
  (func $init (loop $forever (br $forever)))
  (start $init)
  (func (export "_start")))
