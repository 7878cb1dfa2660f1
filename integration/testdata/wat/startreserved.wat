;; startreserved: exports the name under which runw offers a module's start
;; function to itself, with no start section: runw refuses to compile it, since
;; it would otherwise run that export before _start.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "runw:deferred-start") (call $proc_exit (i32.const 5)))
  (func (export "_start")))
