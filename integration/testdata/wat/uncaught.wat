;; Exception handling: a thrown tag nobody catches ends the guest as a
;; trap does.
(module
  (memory (export "memory") 1)
  (tag $e (param i32))
  (func (export "_start") (throw $e (i32.const 42))))
