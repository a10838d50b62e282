//! Contracts under wasmi: deploy-time validation, containment of hostile
//! contracts, the reference lamp contract, determinism and clamping.

use itc_chaincode::contract::{
    code_hash, Contract, ContractError, FinalizeInput, Limits, RunStatus, CODE_BYTES_MAX,
    MEMORY_PAGES_MAX,
};
use itc_chaincode::schema::{Field, Schema};
use itc_chaincode::sketch;
use proptest::prelude::*;
use std::path::PathBuf;

const SALT: [u8; 32] = [7u8; 32];

fn contracts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts")
}

fn committed(name: &str) -> Vec<u8> {
    std::fs::read(contracts_dir().join(format!("{name}.wasm")))
        .unwrap_or_else(|e| panic!("{name}.wasm missing ({e}); run with ITC_BLESS_WASM=1"))
}

fn load(name: &str) -> Contract {
    Contract::load(&committed(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn inline(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("test WAT parses")
}

fn sums(maxes: &[u32]) -> Schema {
    Schema {
        fields: maxes.iter().map(|&max| Field::Sum { max }).collect(),
        outputs: 1,
    }
}

/// Every committed `.wasm` is exactly its `.wat` compiled; with
/// `ITC_BLESS_WASM=1` the `.wasm` files are rewritten instead.
#[test]
fn committed_wasm_matches_wat() {
    let bless = std::env::var_os("ITC_BLESS_WASM").is_some();
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(contracts_dir())
        .expect("contracts directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .collect();
    entries.sort();
    for wat_path in entries {
        let compiled = wat::parse_file(&wat_path).expect("contract WAT compiles");
        let wasm_path = wat_path.with_extension("wasm");
        if bless {
            std::fs::write(&wasm_path, &compiled).expect("write wasm");
        }
        let on_disk = std::fs::read(&wasm_path)
            .unwrap_or_else(|e| panic!("{} missing: {e}", wasm_path.display()));
        assert_eq!(
            on_disk,
            compiled,
            "{} drifted from its .wat; rebuild with ITC_BLESS_WASM=1",
            wasm_path.display()
        );
        seen += 1;
    }
    assert!(
        seen >= 9,
        "expected the committed test contracts, found {seen}"
    );
}

// ---------------------------------------------------------------- lamp ----

fn lamp_schema() -> Schema {
    Schema {
        fields: vec![
            Field::Sum { max: 1 },
            Field::Sum { max: 1 },
            Field::Sum { max: 240 },
            Field::Hll {
                precision: 4,
                max_rank: 4,
                items_max: 8,
            },
        ],
        outputs: 4,
    }
}

fn event(time_s: u64, model: u32, on: bool) -> Vec<u8> {
    let mut r = Vec::with_capacity(16);
    r.extend_from_slice(&time_s.to_le_bytes());
    r.extend_from_slice(&model.to_le_bytes());
    r.push(u8::from(on));
    r.extend_from_slice(&[0, 0, 0]);
    r
}

const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;

/// 30 days: model 7 on 19:00 to 23:00 every day; model 9 on 02:00 to 02:30
/// on day 5; model 11 switched on on day 29 at 20:00 and never off; a stray
/// "off" of model 9 on day 10. Records in time order.
fn household(with_midnight: bool) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    for day in 0..30 {
        if with_midnight && day == 5 {
            events.push(event(day * DAY + 2 * HOUR, 9, true));
            events.push(event(day * DAY + 2 * HOUR + 1_800, 9, false));
        }
        events.push(event(day * DAY + 19 * HOUR, 7, true));
        if day == 10 {
            events.push(event(day * DAY + 20 * HOUR, 9, false));
        }
        if day == 29 {
            events.push(event(day * DAY + 20 * HOUR, 11, true));
        }
        events.push(event(day * DAY + 23 * HOUR, 7, false));
    }
    events
}

fn hll_cells(models: &[u32]) -> Vec<u32> {
    let mut cells = vec![0u32; 64];
    for m in models {
        sketch::hll_insert(&mut cells, 4, 4, &SALT, &m.to_le_bytes());
    }
    cells
}

#[test]
fn lamp_contribute_gives_the_expected_cells() {
    let contract = load("lamp_analytics");
    let schema = lamp_schema();
    let records = household(true);
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let out = contract
        .contribute(&schema, &SALT, &refs, &Limits::CONTRIBUTE)
        .expect("runs");
    assert_eq!(out.status, RunStatus::Completed, "{:?}", out.message);
    assert_eq!(out.cells.len(), 67);
    // on-time: 30 × 4 h + 30 min = 433,800 s; / 10,800 = 40 tenths (4.0 h/day)
    assert_eq!(&out.cells[..3], &[1, 1, 40]);
    let expected: Vec<u64> = hll_cells(&[7, 9, 11]).into_iter().map(u64::from).collect();
    assert_eq!(&out.cells[3..], expected.as_slice());

    let records = household(false);
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let out = contract
        .contribute(&schema, &SALT, &refs, &Limits::CONTRIBUTE)
        .expect("runs");
    assert_eq!(&out.cells[..3], &[0, 1, 40]);

    // A malformed record is skipped, not trusted.
    let mut records = household(false);
    records.push(vec![1, 2, 3]);
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let out = contract
        .contribute(&schema, &SALT, &refs, &Limits::CONTRIBUTE)
        .expect("runs");
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(&out.cells[..3], &[0, 1, 40]);
}

#[test]
fn lamp_on_time_is_clamped_to_a_full_day() {
    // One "on" at the start and "off" 60 days later: 1,440 h / 30 days.
    let contract = load("lamp_analytics");
    let records = [event(0, 3, true), event(60 * DAY, 3, false)];
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let out = contract
        .contribute(&lamp_schema(), &SALT, &refs, &Limits::CONTRIBUTE)
        .expect("runs");
    assert_eq!(&out.cells[..3], &[1, 1, 240]);
}

#[test]
fn lamp_finalize_gives_the_expected_outputs() {
    let contract = load("lamp_analytics");
    let schema = lamp_schema();
    // 100 households owning models drawn from {1, 2, 3, 4, 5}.
    let mut counts = vec![0i64; 64];
    for h in 0..100u32 {
        let models = [1 + h % 5, 1 + (h / 5) % 5];
        for (c, v) in counts.iter_mut().zip(hll_cells(&models)) {
            *c += i64::from(v);
        }
    }
    let mut aggregate = vec![37i64, 100, 3_512];
    aggregate.extend_from_slice(&counts);
    let input = FinalizeInput {
        aggregate: &aggregate,
        contributors: 100,
        presence_threshold: &[1, 1, 1, 1],
        salt: &SALT,
    };
    let out = contract
        .finalize(&schema, &input, &Limits::FINALIZE)
        .expect("finalize runs");
    let registers = sketch::hll_registers_from_counts(&counts, 4, 4, 1);
    let estimate = sketch::hll_estimate(&registers, 4) as i64;
    assert_eq!(out, vec![37, 100, 351, estimate]);
    assert!(
        (4..=6).contains(&estimate),
        "estimate {estimate} of 5 models"
    );

    // The mean divides by the exact number of contributors, not by the
    // noisy household counter (published beside it as it is).
    let mut noisy = aggregate.clone();
    noisy[1] = -2;
    let input = FinalizeInput {
        aggregate: &noisy,
        ..input
    };
    let out = contract
        .finalize(&schema, &input, &Limits::FINALIZE)
        .expect("finalize runs");
    assert_eq!(&out[..3], &[37, -2, 351]);
    // No contributors: the mean is 0, not a division by zero.
    let none = FinalizeInput {
        contributors: 0,
        ..input
    };
    let out = contract
        .finalize(&schema, &none, &Limits::FINALIZE)
        .expect("finalize runs");
    assert_eq!(&out[..3], &[37, -2, 0]);
    // Deterministic.
    assert_eq!(
        out,
        contract
            .finalize(&schema, &none, &Limits::FINALIZE)
            .expect("finalize runs")
    );
}

#[test]
fn finalize_refuses_inputs_that_do_not_match_the_schema() {
    let contract = load("lamp_analytics");
    let schema = lamp_schema();
    let short = vec![0i64; 10];
    let input = FinalizeInput {
        aggregate: &short,
        contributors: 1,
        presence_threshold: &[1, 1, 1, 1],
        salt: &SALT,
    };
    assert!(matches!(
        contract.finalize(&schema, &input, &Limits::FINALIZE),
        Err(ContractError::InputMismatch(_))
    ));
    let full = vec![0i64; 67];
    let input = FinalizeInput {
        aggregate: &full,
        presence_threshold: &[1],
        ..input
    };
    assert!(matches!(
        contract.finalize(&schema, &input, &Limits::FINALIZE),
        Err(ContractError::InputMismatch(_))
    ));
    let bad = Schema {
        fields: vec![],
        outputs: 1,
    };
    assert!(matches!(
        contract.contribute(&bad, &SALT, &[], &Limits::CONTRIBUTE),
        Err(ContractError::Schema(_))
    ));
}

#[test]
fn fuel_use_is_deterministic_and_reported() {
    let contract = load("lamp_analytics");
    let schema = lamp_schema();
    let records = household(true);
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let first = contract
        .contribute(&schema, &SALT, &refs, &Limits::CONTRIBUTE)
        .expect("runs");
    let start = std::time::Instant::now();
    let runs = 20;
    for _ in 0..runs {
        let again = contract
            .contribute(&schema, &SALT, &refs, &Limits::CONTRIBUTE)
            .expect("runs");
        assert_eq!(again, first);
    }
    let per_run = start.elapsed() / runs;
    // A fresh load of the same bytes uses the same fuel.
    let reloaded = load("lamp_analytics")
        .contribute(&schema, &SALT, &refs, &Limits::CONTRIBUTE)
        .expect("runs");
    assert_eq!(reloaded.fuel_used, first.fuel_used);
    assert!(first.fuel_used > 0 && first.fuel_used < Limits::CONTRIBUTE.fuel);
    println!(
        "lamp_analytics contribute: {} records, fuel_used {}, {:?} per call",
        records.len(),
        first.fuel_used,
        per_run
    );
}

// ------------------------------------------------------------- hostile ----

#[test]
fn exfiltration_is_clamped_to_the_bounds() {
    let contract = load("exfiltrate");
    let schema = sums(&[100, 5]);
    let record = event(1_700_000_000, 1, true);
    let out = contract
        .contribute(&schema, &SALT, &[&record], &Limits::CONTRIBUTE)
        .expect("runs");
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(out.cells, vec![100, 0]);
}

#[test]
fn an_infinite_loop_runs_out_of_fuel_and_yields_zeros() {
    let contract = load("loop");
    let schema = sums(&[1]);
    let limits = Limits {
        fuel: 100_000,
        memory_pages: 1,
    };
    let out = contract
        .contribute(&schema, &SALT, &[], &limits)
        .expect("runs");
    assert_eq!(out.status, RunStatus::OutOfFuel);
    assert_eq!(out.cells, vec![0]);
    assert_eq!(out.fuel_used, limits.fuel);
    let aggregate = [5i64];
    let input = FinalizeInput {
        aggregate: &aggregate,
        contributors: 5,
        presence_threshold: &[1],
        salt: &SALT,
    };
    assert_eq!(
        contract.finalize(&schema, &input, &limits),
        Err(ContractError::OutOfFuel)
    );
}

#[test]
fn a_trap_yields_zeros_and_fails_finalize() {
    let contract = load("trap");
    let schema = sums(&[1, 1]);
    let out = contract
        .contribute(&schema, &SALT, &[], &Limits::CONTRIBUTE)
        .expect("runs");
    assert_eq!(out.status, RunStatus::Trapped);
    assert_eq!(out.cells, vec![0, 0]);
    let aggregate = [1i64, 1];
    let input = FinalizeInput {
        aggregate: &aggregate,
        contributors: 1,
        presence_threshold: &[1, 1],
        salt: &SALT,
    };
    assert!(matches!(
        contract.finalize(&schema, &input, &Limits::FINALIZE),
        Err(ContractError::Trapped(_))
    ));
}

#[test]
fn memory_growth_is_contained() {
    let contract = load("big_memory");
    let schema = sums(&[1, 1]);
    let out = contract
        .contribute(&schema, &SALT, &[], &Limits::CONTRIBUTE)
        .expect("runs");
    assert_eq!(out.status, RunStatus::Completed);
    // the 1000-page growth was refused, the 15-page one (to 16) allowed
    assert_eq!(out.cells, vec![1, 1]);
    // with a 4-page limit both growths fail
    let small = Limits {
        fuel: 1_000_000,
        memory_pages: 4,
    };
    let out = contract
        .contribute(&schema, &SALT, &[], &small)
        .expect("runs");
    assert_eq!(out.cells, vec![1, 0]);
    // a limit below the declared initial memory: out of memory, zeros
    let code = inline(
        r#"(module (import "itc" "cell_add" (func $a (param i32 i64)))
            (memory (export "memory") 8)
            (func (export "contribute") (call $a (i32.const 0) (i64.const 1)))
            (func (export "finalize")))"#,
    );
    let contract = Contract::load(&code).expect("loads");
    let out = contract
        .contribute(&sums(&[1]), &SALT, &[], &small)
        .expect("runs");
    assert_eq!(out.status, RunStatus::OutOfMemory);
    assert_eq!(out.cells, vec![0]);
}

#[test]
fn deploy_time_refusals_name_their_reason() {
    assert!(matches!(
        Contract::load(&committed("forbidden_import")),
        Err(ContractError::ForbiddenImport { module, name })
            if module == "wasi_snapshot_preview1" && name == "fd_write"
    ));
    let secret = inline(
        r#"(module (import "itc" "read_secret" (func (result i64)))
            (memory (export "memory") 1)
            (func (export "contribute")) (func (export "finalize")))"#,
    );
    assert!(matches!(
        Contract::load(&secret),
        Err(ContractError::ForbiddenImport { module, name }) if module == "itc" && name == "read_secret"
    ));
    let imported_memory = inline(
        r#"(module (import "itc" "memory" (memory 1))
            (export "memory" (memory 0))
            (func (export "contribute")) (func (export "finalize")))"#,
    );
    assert!(matches!(
        Contract::load(&imported_memory),
        Err(ContractError::ForbiddenImport { .. })
    ));
    let wrong_host_sig = inline(
        r#"(module (import "itc" "cell_add" (func (param i32 i32)))
            (memory (export "memory") 1)
            (func (export "contribute")) (func (export "finalize")))"#,
    );
    assert_eq!(
        Contract::load(&wrong_host_sig).err(),
        Some(ContractError::WrongImportSignature("cell_add".into()))
    );
    assert_eq!(
        Contract::load(&committed("float")).err(),
        Some(ContractError::FloatsUsed)
    );
    let float_local = inline(
        r#"(module (memory (export "memory") 1)
            (func (export "contribute") (local f32))
            (func (export "finalize")))"#,
    );
    assert_eq!(
        Contract::load(&float_local).err(),
        Some(ContractError::FloatsUsed)
    );
    assert_eq!(
        Contract::load(&committed("missing_export")).err(),
        Some(ContractError::MissingExport("finalize"))
    );
    let no_memory = inline(r#"(module (func (export "contribute")) (func (export "finalize")))"#);
    assert_eq!(
        Contract::load(&no_memory).err(),
        Some(ContractError::MissingExport("memory"))
    );
    let bad_sig = inline(
        r#"(module (memory (export "memory") 1)
            (func (export "contribute") (param i32)) (func (export "finalize")))"#,
    );
    assert_eq!(
        Contract::load(&bad_sig).err(),
        Some(ContractError::WrongSignature("contribute"))
    );
    let start = inline(
        r#"(module (memory (export "memory") 1)
            (func $s) (start $s)
            (func (export "contribute")) (func (export "finalize")))"#,
    );
    assert_eq!(
        Contract::load(&start).err(),
        Some(ContractError::StartFunction)
    );
    let huge_memory = inline(
        r#"(module (memory (export "memory") 17)
            (func (export "contribute")) (func (export "finalize")))"#,
    );
    assert_eq!(
        Contract::load(&huge_memory).err(),
        Some(ContractError::MemoryTooLarge {
            pages: 17,
            max: MEMORY_PAGES_MAX
        })
    );
    let multi_memory = inline(
        r#"(module (memory (export "memory") 1) (memory 1)
            (func (export "contribute")) (func (export "finalize")))"#,
    );
    assert!(matches!(
        Contract::load(&multi_memory),
        Err(ContractError::UnsupportedFeature(_))
    ));
    assert!(matches!(
        Contract::load(b"\0asm\x01\0\0\0\x99"),
        Err(ContractError::InvalidWasm(_))
    ));
    assert!(matches!(
        Contract::load(b"(module)"),
        Err(ContractError::InvalidWasm(_))
    ));
    let big = vec![0u8; CODE_BYTES_MAX + 1];
    assert_eq!(
        Contract::load(&big).err(),
        Some(ContractError::TooLarge {
            len: CODE_BYTES_MAX + 1,
            max: CODE_BYTES_MAX
        })
    );
}

#[test]
fn the_hash_is_of_the_code_bytes() {
    let a = committed("lamp_analytics");
    let b = committed("echo");
    assert_eq!(load("lamp_analytics").hash(), code_hash(&a));
    assert_ne!(code_hash(&a), code_hash(&b));
}

#[test]
fn host_functions_of_the_other_entry_point_trap() {
    let code = inline(
        r#"(module
            (import "itc" "agg_get" (func $agg_get (param i32) (result i64)))
            (import "itc" "cell_add" (func $cell_add (param i32 i64)))
            (memory (export "memory") 1)
            (func (export "contribute")
              (call $cell_add (i32.const 0) (call $agg_get (i32.const 0))))
            (func (export "finalize")
              (call $cell_add (i32.const 0) (i64.const 1))))"#,
    );
    let contract = Contract::load(&code).expect("loads");
    let schema = sums(&[9]);
    let out = contract
        .contribute(&schema, &SALT, &[], &Limits::CONTRIBUTE)
        .expect("runs");
    assert_eq!(out.status, RunStatus::Trapped);
    let input = FinalizeInput {
        aggregate: &[3],
        contributors: 1,
        presence_threshold: &[1],
        salt: &SALT,
    };
    assert!(matches!(
        contract.finalize(&schema, &input, &Limits::FINALIZE),
        Err(ContractError::Trapped(_))
    ));
}

/// A contract that inserts every record as an item into field `record[0]`
/// with helper `record[1]` (0 hll, 1 bloom, 2 cms with count 3); or with
/// `record[1] == 3`, cell_add(record[0], 1).
const SKETCHER: &str = r#"(module
  (import "itc" "record_count" (func $record_count (result i32)))
  (import "itc" "record_read" (func $record_read (param i32 i32 i32) (result i32)))
  (import "itc" "cell_add" (func $cell_add (param i32 i64)))
  (import "itc" "hll_add" (func $hll_add (param i32 i32 i32)))
  (import "itc" "bloom_add" (func $bloom_add (param i32 i32 i32)))
  (import "itc" "cms_add" (func $cms_add (param i32 i32 i32 i64)))
  (import "itc" "bloom_contains" (func $bloom_contains (param i32 i32 i32) (result i32)))
  (import "itc" "cms_estimate" (func $cms_estimate (param i32 i32 i32) (result i64)))
  (import "itc" "result_set" (func $result_set (param i32 i64)))
  (memory (export "memory") 1)
  (func (export "contribute")
    (local $i i32) (local $n i32) (local $len i32) (local $f i32) (local $k i32)
    (local.set $n (call $record_count))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $len (call $record_read (local.get $i) (i32.const 0) (i32.const 64)))
      (local.set $f (i32.load8_u (i32.const 0)))
      (local.set $k (i32.load8_u (i32.const 1)))
      (if (i32.eq (local.get $k) (i32.const 0))
        (then (call $hll_add (local.get $f) (i32.const 2) (i32.sub (local.get $len) (i32.const 2)))))
      (if (i32.eq (local.get $k) (i32.const 1))
        (then (call $bloom_add (local.get $f) (i32.const 2) (i32.sub (local.get $len) (i32.const 2)))))
      (if (i32.eq (local.get $k) (i32.const 2))
        (then (call $cms_add (local.get $f) (i32.const 2) (i32.sub (local.get $len) (i32.const 2)) (i64.const 3))))
      (if (i32.eq (local.get $k) (i32.const 3))
        (then (call $cell_add (local.get $f) (i64.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
  (data (i32.const 100) "apple")
  (func (export "finalize")
    (call $result_set (i32.const 0) (i64.extend_i32_u (call $bloom_contains (i32.const 2) (i32.const 100) (i32.const 5))))
    (call $result_set (i32.const 1) (call $cms_estimate (i32.const 3) (i32.const 100) (i32.const 5)))))
"#;

fn sketch_schema() -> Schema {
    Schema {
        fields: vec![
            Field::Sum { max: 10 },
            Field::Hll {
                precision: 4,
                max_rank: 8,
                items_max: 2,
            },
            Field::Bloom {
                bits: 32,
                hashes: 3,
                items_max: 4,
            },
            Field::CountMin {
                width: 8,
                depth: 2,
                max: 5,
                items_max: 4,
            },
        ],
        outputs: 2,
    }
}

fn rec(field: u8, kind: u8, item: &[u8]) -> Vec<u8> {
    let mut r = vec![field, kind];
    r.extend_from_slice(item);
    r
}

#[test]
fn sketch_helpers_fill_cells_and_respect_items_max() {
    let contract = Contract::load(&inline(SKETCHER)).expect("loads");
    let schema = sketch_schema();
    let records = [
        rec(1, 0, b"a"),
        rec(1, 0, b"a"), // repeat: not a new item
        rec(1, 0, b"b"),
        rec(1, 0, b"c"), // third distinct item: beyond items_max = 2, ignored
        rec(2, 1, b"apple"),
        rec(3, 2, b"apple"),
        rec(3, 2, b"apple"), // 3 + 3 = 6, clamped at 5
    ];
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let out = contract
        .contribute(&schema, &SALT, &refs, &Limits::CONTRIBUTE)
        .expect("runs");
    assert_eq!(out.status, RunStatus::Completed, "{:?}", out.message);
    let hll = schema.field_range(1).expect("field");
    let mut expected = vec![0u32; 128];
    sketch::hll_insert(&mut expected, 4, 8, &SALT, b"a");
    sketch::hll_insert(&mut expected, 4, 8, &SALT, b"b");
    let got: Vec<u32> = out.cells[hll].iter().map(|&c| c as u32).collect();
    assert_eq!(got, expected);
    let bloom = schema.field_range(2).expect("field");
    let counts: Vec<i64> = out.cells[bloom].iter().map(|&c| c as i64).collect();
    assert!(sketch::bloom_contains(&counts, 3, &SALT, b"apple", 1));
    let cms = schema.field_range(3).expect("field");
    let counts: Vec<i64> = out.cells[cms.clone()].iter().map(|&c| c as i64).collect();
    assert_eq!(sketch::cms_estimate(&counts, 8, 2, &SALT, b"apple"), 5);

    // finalize reads the same sketches back through the host
    let aggregate: Vec<i64> = out.cells.iter().map(|&c| c as i64).collect();
    let input = FinalizeInput {
        aggregate: &aggregate,
        contributors: 1,
        presence_threshold: &[1, 1, 1, 1],
        salt: &SALT,
    };
    let results = contract
        .finalize(&schema, &input, &Limits::FINALIZE)
        .expect("finalize runs");
    assert_eq!(results, vec![1, 5]);
    // a higher presence threshold hides the single user's bits
    let input = FinalizeInput {
        presence_threshold: &[1, 1, 2, 1],
        ..input
    };
    let results = contract
        .finalize(&schema, &input, &Limits::FINALIZE)
        .expect("finalize runs");
    assert_eq!(results[0], 0);
}

#[test]
fn misusing_a_helper_traps() {
    let contract = Contract::load(&inline(SKETCHER)).expect("loads");
    let schema = sketch_schema();
    for bad in [
        rec(0, 0, b"x"),  // hll_add on a Sum field
        rec(1, 1, b"x"),  // bloom_add on an Hll field
        rec(2, 2, b"x"),  // cms_add on a Bloom field
        rec(9, 0, b"x"),  // no such field
        rec(1, 3, b""),   // cell_add on an HLL cell
        rec(200, 3, b""), // cell_add out of range
    ] {
        let out = contract
            .contribute(&schema, &SALT, &[&bad], &Limits::CONTRIBUTE)
            .expect("runs");
        assert_eq!(out.status, RunStatus::Trapped, "record {bad:?}");
        assert!(out.cells.iter().all(|&c| c == 0));
    }
}

// ----------------------------------------------------------- properties ----

fn echo_record(cell: i32, value: i64) -> Vec<u8> {
    let mut r = cell.to_le_bytes().to_vec();
    r.extend_from_slice(&value.to_le_bytes());
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever values a contract adds, every cell ends in `0..=bound`, and
    /// equals the clamped saturating sum of what was added.
    #[test]
    fn every_cell_is_clamped(
        adds in proptest::collection::vec((0i32..5, any::<i64>()), 0..24),
    ) {
        let contract = load("echo");
        let schema = Schema {
            fields: vec![
                Field::Sum { max: 1 },
                Field::Sum { max: 1 << 20 },
                Field::Histogram { buckets: 3, max: 17 },
            ],
            outputs: 1,
        };
        let records: Vec<Vec<u8>> = adds.iter().map(|&(c, v)| echo_record(c, v)).collect();
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let out = contract.contribute(&schema, &SALT, &refs, &Limits::CONTRIBUTE).expect("runs");
        prop_assert_eq!(out.status, RunStatus::Completed);
        let bounds = schema.cell_max();
        let mut acc = [0i64; 5];
        for &(c, v) in &adds {
            acc[c as usize] = acc[c as usize].saturating_add(v);
        }
        for (i, (&cell, &bound)) in out.cells.iter().zip(&bounds).enumerate() {
            prop_assert!(cell <= u64::from(bound));
            prop_assert_eq!(cell as i64, acc[i].clamp(0, i64::from(bound)));
        }
    }

    /// Random bytes (and mutated valid contracts) never make load panic.
    #[test]
    fn load_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        prefix in any::<bool>(),
    ) {
        let mut code = if prefix { committed("echo") } else { b"\0asm\x01\0\0\0".to_vec() };
        code.extend_from_slice(&bytes);
        let len = code.len();
        for (at, value) in flips {
            code[at % len] ^= value;
        }
        let _ = Contract::load(&code);
        let _ = Contract::load(&bytes);
    }
}

/// Inputs the fuzzer found: each must be refused with a reason, never
/// panic (in debug builds, where wasmi's debug assertions are on).
#[test]
fn fuzz_regressions_are_refused_without_panicking() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("regressions directory") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("readable");
        assert!(Contract::load(&bytes).is_err(), "{} loaded", path.display());
        seen += 1;
    }
    assert!(seen >= 1);
}
