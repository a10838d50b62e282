;; trap: adds to both cells, then hits unreachable. The contribution is all
;; zeros.
(module
  (import "itc" "cell_add" (func $cell_add (param i32 i64)))
  (memory (export "memory") 1)
  (func (export "contribute")
    (call $cell_add (i32.const 0) (i64.const 1))
    (call $cell_add (i32.const 1) (i64.const 1))
    unreachable)
  (func (export "finalize")
    unreachable)
)
