;; exfiltrate: tries to smuggle record 0's raw timestamp (u64 at offset 0)
;; out through cell 0, and a huge negative value through cell 1. The host
;; clamps both to the schema's bounds.
(module
  (import "itc" "record_read" (func $record_read (param i32 i32 i32) (result i32)))
  (import "itc" "cell_add" (func $cell_add (param i32 i64)))
  (memory (export "memory") 1)
  (func (export "contribute")
    (drop (call $record_read (i32.const 0) (i32.const 0) (i32.const 16)))
    (call $cell_add (i32.const 0) (i64.load (i32.const 0)))
    (call $cell_add (i32.const 0) (i64.load (i32.const 0)))
    (call $cell_add (i32.const 1) (i64.const -9223372036854775808)))
  (func (export "finalize"))
)
