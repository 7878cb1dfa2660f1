;; trap: _start executes `unreachable`; the runtime must report a trap (non-zero exit).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    unreachable))
