;; loop: adds to a cell, then spins forever. Runs out of fuel; the
;; contribution is all zeros.
(module
  (import "itc" "cell_add" (func $cell_add (param i32 i64)))
  (memory (export "memory") 1)
  (func (export "contribute")
    (call $cell_add (i32.const 0) (i64.const 1))
    (loop $forever (br $forever)))
  (func (export "finalize")
    (loop $forever (br $forever)))
)
