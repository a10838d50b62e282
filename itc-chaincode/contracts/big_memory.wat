;; big_memory: tries to grow memory by 1000 pages (beyond the limit), then by
;; 15 pages (within the default 16-page limit). Cell 0 = 1 if the big growth
;; was refused (memory.grow returned -1); cell 1 = 1 if the small one worked.
(module
  (import "itc" "cell_add" (func $cell_add (param i32 i64)))
  (memory (export "memory") 1)
  (func (export "contribute")
    (if (i32.eq (memory.grow (i32.const 1000)) (i32.const -1))
      (then (call $cell_add (i32.const 0) (i64.const 1))))
    (if (i32.ne (memory.grow (i32.const 15)) (i32.const -1))
      (then
        (i32.store (i32.const 1048572) (i32.const 7))
        (call $cell_add (i32.const 1) (i64.const 1)))))
  (func (export "finalize"))
)
