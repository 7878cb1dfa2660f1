;; initializeargs: an _initialize that takes a parameter, which no caller
;; can give it: refused at create, as a _start that takes one is.
(module
  (memory (export "memory") 1)
  (func (export "_initialize") (param i32))
  (func (export "_start")))
