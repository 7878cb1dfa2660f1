;; return0: _start returns normally without calling proc_exit; exit status must be 0.
(module
  (memory (export "memory") 1)
  (func (export "_start")))
