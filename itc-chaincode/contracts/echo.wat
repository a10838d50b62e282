;; echo: for each 12-byte record (cell: i32, value: i64, little-endian) calls
;; cell_add(cell, value). Used to check that the host clamps whatever a
;; contract adds.
(module
  (import "itc" "record_count" (func $record_count (result i32)))
  (import "itc" "record_read" (func $record_read (param i32 i32 i32) (result i32)))
  (import "itc" "cell_add" (func $cell_add (param i32 i64)))
  (memory (export "memory") 1)
  (func (export "contribute")
    (local $i i32) (local $n i32)
    (local.set $n (call $record_count))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (if (i32.eq (call $record_read (local.get $i) (i32.const 0) (i32.const 12)) (i32.const 12))
          (then (call $cell_add (i32.load (i32.const 0)) (i64.load (i32.const 4)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))
  (func (export "finalize"))
)
