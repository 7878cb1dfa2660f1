;; loop: _start spins forever in `loop br 0` with no host calls; only an interruption (kill, timeout) stops it.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever
      (br $forever))))
