;; A module that imports a tag, which runw provides none of: the walk of
;; the imports (preview1.Link) aborted the init. Refused at compile.
(module
  (import "env" "err" (tag (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
