;; bigtable: a table of 100,000,000 elements, past the 10,000,000 runw
;; gives any table (V8's cap): refused at create, naming the cap.
(module
  (memory (export "memory") 1)
  (table 100000000 funcref)
  (func (export "_start")))
