;; A module that exports a tag: the C API has no tag, and runw's walk of
;; the exports (its shared memory check) aborted the init. Refused at
;; compile.
(module
  (memory (export "memory") 1)
  (tag (export "err") (param i32))
  (func (export "_start")))
