;; bigmemory: a module whose memory starts at 160 pages (10 MiB); under a
;; 12 MiB memory limit runw leaves it 6 MiB, and must say so.
(module
  (memory (export "memory") 160)
  (func (export "_start")))
