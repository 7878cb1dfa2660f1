;; nostart: a module with memory but no _start export; the runtime must refuse to run it as a command.
(module
  (memory (export "memory") 1)
  (func (export "not_start")))
