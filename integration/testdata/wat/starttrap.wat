;; starttrap: a start function that traps: the guest ends with 134 at `runw
;; start`, as a trap in _start does, and create succeeds.
(module
  (memory (export "memory") 1)
  (func $init unreachable)
  (start $init)
  (func (export "_start")))
