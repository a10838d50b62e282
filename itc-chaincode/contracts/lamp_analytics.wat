;; lamp_analytics: the reference ChainCode contract.
;;
;; Records (one household, one month): 16 bytes little-endian
;;   0..8   time_s: u64   seconds since the month's start, local time
;;   8..12  lamp_model: u32
;;   12     event: u8     1 = on, 0 = off
;;   13..16 padding
;; Records are expected in time order; records of another length are skipped,
;; and at most 4000 records are read.
;;
;; Schema:
;;   field 0  Sum { max: 1 }    1 if a light was switched on in 00:00..05:00
;;   field 1  Sum { max: 1 }    1 (the household counter)
;;   field 2  Sum { max: 240 }  mean daily on-time, tenths of an hour:
;;            each "on" is paired with the next "off" of the same lamp model
;;            (in record order, not earlier in time); an "on" never switched
;;            off is not counted; the month counts as 30 days, so the cell is
;;            total_on_seconds / (30 * 360) (the host clamps it to 240)
;;   field 3  Hll { precision: 4, max_rank: 4, items_max: 8 } over lamp
;;            models (the item is the model id's 4 little-endian bytes)
;;
;; finalize outputs: [after-midnight count, noisy household counter,
;;   mean on-time in hundredths of an hour = 10 * sum / contributors (0 if none),
;;   distinct lamp models (hll_estimate of field 3)]
(module
  (import "itc" "record_count" (func $record_count (result i32)))
  (import "itc" "record_read" (func $record_read (param i32 i32 i32) (result i32)))
  (import "itc" "cell_add" (func $cell_add (param i32 i64)))
  (import "itc" "hll_add" (func $hll_add (param i32 i32 i32)))
  (import "itc" "agg_get" (func $agg_get (param i32) (result i64)))
  (import "itc" "result_set" (func $result_set (param i32 i64)))
  (import "itc" "hll_estimate" (func $hll_estimate (param i32) (result i64)))
  (import "itc" "contributors" (func $contributors (result i64)))
  (memory (export "memory") 2)

  ;; Records are copied to 1024 + 16 * i.
  (func $base (param $i i32) (result i32)
    (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 4))))

  (func (export "contribute")
    (local $n i32) (local $kept i32) (local $i i32) (local $j i32)
    (local $p i32) (local $q i32) (local $t i64) (local $midnight i64)
    (local $total i64)
    (local.set $n (call $record_count))
    (if (i32.gt_s (local.get $n) (i32.const 4000))
      (then (local.set $n (i32.const 4000))))
    ;; copy the well-formed records into memory
    (block $done
      (loop $copy
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (if (i32.eq
              (call $record_read (local.get $i) (call $base (local.get $kept)) (i32.const 16))
              (i32.const 16))
          (then
            (call $hll_add (i32.const 3)
              (i32.add (call $base (local.get $kept)) (i32.const 8)) (i32.const 4))
            (local.set $kept (i32.add (local.get $kept) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    ;; scan the "on" events
    (local.set $i (i32.const 0))
    (block $end
      (loop $ons
        (br_if $end (i32.ge_s (local.get $i) (local.get $kept)))
        (local.set $p (call $base (local.get $i)))
        (if (i32.eq (i32.load8_u offset=12 (local.get $p)) (i32.const 1))
          (then
            (local.set $t (i64.load (local.get $p)))
            (if (i64.lt_u (i64.rem_u (local.get $t) (i64.const 86400)) (i64.const 18000))
              (then (local.set $midnight (i64.const 1))))
            ;; the next "off" of the same model
            (local.set $j (i32.add (local.get $i) (i32.const 1)))
            (block $found
              (loop $offs
                (br_if $found (i32.ge_s (local.get $j) (local.get $kept)))
                (local.set $q (call $base (local.get $j)))
                (if (i32.and
                      (i32.and
                        (i32.eq (i32.load offset=8 (local.get $q)) (i32.load offset=8 (local.get $p)))
                        (i32.eqz (i32.load8_u offset=12 (local.get $q))))
                      (i64.ge_u (i64.load (local.get $q)) (local.get $t)))
                  (then
                    (local.set $total
                      (i64.add (local.get $total)
                        (i64.sub (i64.load (local.get $q)) (local.get $t))))
                    (br $found)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $offs)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $ons)))
    (call $cell_add (i32.const 0) (local.get $midnight))
    (call $cell_add (i32.const 1) (i64.const 1))
    (call $cell_add (i32.const 2) (i64.div_u (local.get $total) (i64.const 10800))))

  (func (export "finalize")
    (local $count i64)
    ;; The number of contributors is public and exact: divide by it, not
    ;; by the noisy household counter (published as output 1 beside it).
    (local.set $count (call $contributors))
    (call $result_set (i32.const 0) (call $agg_get (i32.const 0)))
    (call $result_set (i32.const 1) (call $agg_get (i32.const 1)))
    (if (i64.gt_s (local.get $count) (i64.const 0))
      (then
        (call $result_set (i32.const 2)
          (i64.div_s (i64.mul (call $agg_get (i32.const 2)) (i64.const 10)) (local.get $count)))))
    (call $result_set (i32.const 3) (call $hll_estimate (i32.const 3))))
)
