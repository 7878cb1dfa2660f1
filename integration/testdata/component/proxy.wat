;; proxy: a component in the shape of the wasi:http proxy world (it exports
;; wasi:http/incoming-handler); runw must refuse it at create.
(component
  (core module $m (func (export "handle")))
  (core instance $i (instantiate $m))
  (func $handle (canon lift (core func $i "handle")))
  (instance $h (export "handle" (func $handle)))
  (export "wasi:http/incoming-handler@0.2.6" (instance $h)))
