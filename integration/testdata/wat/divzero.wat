;; divzero: _start divides an integer by zero; the runtime must report an integer-divide-by-zero trap.
(module
  (memory (export "memory") 1)
  (global $zero (mut i32) (i32.const 0))
  (func (export "_start")
    (drop (i32.div_s (i32.const 1) (global.get $zero)))))
