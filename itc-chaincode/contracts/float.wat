;; float: uses f64 arithmetic. Refused at load (floats are not deterministic
;; across platforms in every corner, and are not needed).
(module
  (import "itc" "cell_add" (func $cell_add (param i32 i64)))
  (memory (export "memory") 1)
  (func (export "contribute")
    (call $cell_add (i32.const 0)
      (i64.trunc_f64_s (f64.mul (f64.const 1.5) (f64.const 2.0)))))
  (func (export "finalize"))
)
