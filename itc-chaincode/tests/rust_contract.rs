//! The example contract written in Rust (`contracts/lamp-analytics-rs`,
//! committed as `contracts/lamp_analytics_rs.wasm`): it passes deploy-time
//! validation, behaves exactly as the reference WAT contract
//! (`contracts/lamp_analytics.wat`) in `contribute` and `finalize`, and the
//! committed bytes are what the crate builds to.

use itc_chaincode::contract::{
    Contract, ContractError, ContributeOutcome, FinalizeInput, Limits, RunStatus, CODE_BYTES_MAX,
};
use itc_chaincode::schema::{Field, Schema};
use itc_chaincode::sketch;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SALT: [u8; 32] = [7u8; 32];
const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;

/// The toolchain the committed `lamp_analytics_rs.wasm` was built with. The
/// rebuild must give the same bytes under it; another compiler may emit
/// other (equally valid) code, which is then checked by behaviour.
const COMMITTED_WITH_RUSTC: &str = "rustc 1.95.0 ";

/// Most time the rebuild may take (the crate has no dependencies and builds
/// in about a second; the margin is for a loaded machine).
const REBUILD_TIMEOUT: Duration = Duration::from_secs(300);

fn contracts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts")
}

fn crate_dir() -> PathBuf {
    contracts_dir().join("lamp-analytics-rs")
}

fn committed(name: &str) -> Vec<u8> {
    std::fs::read(contracts_dir().join(format!("{name}.wasm")))
        .unwrap_or_else(|e| panic!("{name}.wasm missing: {e}"))
}

fn load(name: &str) -> Contract {
    Contract::load(&committed(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

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

// ------------------------------------------------------------ records ----

fn event(time_s: u64, model: u32, on: bool) -> Vec<u8> {
    raw_event(time_s, model, u8::from(on))
}

fn raw_event(time_s: u64, model: u32, kind: u8) -> Vec<u8> {
    let mut r = Vec::with_capacity(16);
    r.extend_from_slice(&time_s.to_le_bytes());
    r.extend_from_slice(&model.to_le_bytes());
    r.push(kind);
    r.extend_from_slice(&[0, 0, 0]);
    r
}

/// The household of `tests/contract.rs`: model 7 on 19:00 to 23:00 every
/// day; model 9 on 02:00 to 02:30 on day 5 (if `with_midnight`); model 11 on
/// at 20:00 on day 29 and never off; a stray "off" of model 9 on day 10.
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

/// A small deterministic generator (splitmix64) for synthetic households.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A synthetic household: a month of on/off pairs of a few lamp models at
/// random times (some after midnight, some left on), in time order, plus
/// the irregular records the contract must treat the same way as the WAT
/// one: stray "off"s, unknown event bytes, short records (skipped) and long
/// ones (read as their first 16 bytes).
fn synthetic_household(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    let models: Vec<u32> = (0..1 + rng.below(5))
        .map(|_| 1 + rng.below(12) as u32)
        .collect();
    let mut timed = Vec::new();
    for day in 0..30 {
        for &model in &models {
            if rng.below(3) == 0 {
                continue;
            }
            let on = day * DAY + rng.below(DAY);
            timed.push((on, raw_event(on, model, 1)));
            if rng.below(10) != 0 {
                let off = on + rng.below(8 * HOUR);
                timed.push((off, raw_event(off, model, 0)));
            }
        }
        if rng.below(7) == 0 {
            let t = day * DAY + rng.below(DAY);
            timed.push((t, raw_event(t, 99, 0)));
        }
        if rng.below(11) == 0 {
            let t = day * DAY + rng.below(DAY);
            timed.push((t, raw_event(t, 3, 2)));
        }
    }
    timed.sort_by_key(|(t, _)| *t);
    let mut records: Vec<Vec<u8>> = timed.into_iter().map(|(_, r)| r).collect();
    if seed.is_multiple_of(3) && !records.is_empty() {
        let at = rng.below(records.len() as u64) as usize;
        records.insert(at, vec![1, 2, 3]);
    }
    if seed % 4 == 1 && !records.is_empty() {
        let at = rng.below(records.len() as u64) as usize;
        records[at].extend_from_slice(&[0xAA; 8]);
    }
    records
}

/// The households both contracts are run over: the ones of
/// `tests/contract.rs`, synthetic ones, and edge cases (no records, an "on"
/// 60 days long, more records than the 4000 the contract reads).
fn households() -> Vec<(String, Vec<Vec<u8>>)> {
    let mut all = vec![
        ("reference, after midnight".to_string(), household(true)),
        ("reference".to_string(), household(false)),
        ("empty".to_string(), Vec::new()),
        (
            "60-day on".to_string(),
            vec![event(0, 3, true), event(60 * DAY, 3, false)],
        ),
        (
            "off before on".to_string(),
            vec![
                event(500, 4, false),
                event(100, 4, true),
                event(50, 4, false),
            ],
        ),
    ];
    let mut long = Vec::new();
    for i in 0..4100u64 {
        long.push(event(i * 600, (i % 13) as u32, i % 2 == 0));
    }
    all.push(("4100 records".to_string(), long));
    for seed in 0..24 {
        all.push((format!("synthetic {seed}"), synthetic_household(seed)));
    }
    all
}

/// What the contract computes, written independently in plain Rust: the
/// three sums and the models inserted into the HLL.
fn expected_sums(records: &[Vec<u8>]) -> ([u64; 3], Vec<u32>) {
    let kept: Vec<&[u8]> = records
        .iter()
        .take(4000)
        .filter(|r| r.len() >= 16)
        .map(|r| &r[..16])
        .collect();
    let time = |r: &[u8]| u64::from_le_bytes(r[..8].try_into().expect("8 bytes"));
    let model = |r: &[u8]| u32::from_le_bytes(r[8..12].try_into().expect("4 bytes"));
    let mut midnight = 0;
    let mut total = 0u64;
    for (i, on) in kept.iter().enumerate() {
        if on[12] != 1 {
            continue;
        }
        let t = time(on);
        if t % DAY < 5 * HOUR {
            midnight = 1;
        }
        if let Some(off) = kept[i + 1..]
            .iter()
            .find(|q| model(q) == model(on) && q[12] == 0 && time(q) >= t)
        {
            total = total.wrapping_add(time(off) - t);
        }
    }
    let mut models = Vec::new();
    for r in &kept {
        let m = model(r);
        if !models.contains(&m) && models.len() < 8 {
            models.push(m);
        }
    }
    ([midnight, 1, (total / 10_800).min(240)], models)
}

fn contribute(contract: &Contract, records: &[Vec<u8>]) -> ContributeOutcome {
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    contract
        .contribute(&lamp_schema(), &SALT, &refs, &Limits::CONTRIBUTE)
        .expect("contribute runs")
}

fn hll_cells(models: &[u32]) -> Vec<u64> {
    let mut cells = vec![0u32; 64];
    for m in models {
        sketch::hll_insert(&mut cells, 4, 4, &SALT, &m.to_le_bytes());
    }
    cells.into_iter().map(u64::from).collect()
}

// -------------------------------------------------------------- tests ----

#[test]
fn the_committed_rust_contract_passes_deploy_validation() {
    let code = committed("lamp_analytics_rs");
    assert!(code.len() <= CODE_BYTES_MAX);
    assert!(
        code.len() < 4096,
        "the example should stay tiny, it is {} bytes",
        code.len()
    );
    let contract = Contract::load(&code).expect("the Rust contract passes deploy validation");
    assert_ne!(contract.hash(), load("lamp_analytics").hash());
    println!("lamp_analytics_rs.wasm: {} bytes", code.len());
}

#[test]
fn contribute_gives_the_same_cells_as_the_wat_contract() {
    let wat = load("lamp_analytics");
    let rust = load("lamp_analytics_rs");
    for (name, records) in households() {
        let a = contribute(&wat, &records);
        let b = contribute(&rust, &records);
        assert_eq!(a.status, RunStatus::Completed, "{name}: {:?}", a.message);
        assert_eq!(b.status, RunStatus::Completed, "{name}: {:?}", b.message);
        assert_eq!(b.cells, a.cells, "{name}: Rust and WAT cells differ");
        let (sums, models) = expected_sums(&records);
        assert_eq!(&b.cells[..3], &sums, "{name}: sums");
        assert_eq!(&b.cells[3..], hll_cells(&models).as_slice(), "{name}: hll");
    }
    // The reference household's figures (tests/contract.rs): after
    // midnight, one household, 4.0 h a day, models 7, 9 and 11.
    let out = contribute(&rust, &household(true));
    assert_eq!(&out.cells[..3], &[1, 1, 40]);
    assert_eq!(&out.cells[3..], hll_cells(&[7, 9, 11]).as_slice());
}

#[test]
fn a_contract_that_traps_contributes_zeros_in_both_forms() {
    // A schema whose field 1 is a sketch: cell_add(1, ..) traps in both
    // contracts, and the host turns the run into zeros.
    let schema = Schema {
        fields: vec![
            Field::Sum { max: 1 },
            Field::Hll {
                precision: 4,
                max_rank: 4,
                items_max: 8,
            },
        ],
        outputs: 4,
    };
    let records = household(true);
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    for name in ["lamp_analytics", "lamp_analytics_rs"] {
        let out = load(name)
            .contribute(&schema, &SALT, &refs, &Limits::CONTRIBUTE)
            .expect("runs");
        assert_eq!(out.status, RunStatus::Trapped, "{name}");
        assert!(out.cells.iter().all(|&c| c == 0), "{name}");
    }
}

fn model_counts(households: u32) -> Vec<i64> {
    let mut counts = vec![0i64; 64];
    for h in 0..households {
        let models = [1 + h % 5, 1 + (h / 5) % 5];
        for (c, v) in counts.iter_mut().zip(hll_cells(&models)) {
            *c += v as i64;
        }
    }
    counts
}

fn finalize(contract: &Contract, aggregate: &[i64], contributors: u32, threshold: i64) -> Vec<i64> {
    let input = FinalizeInput {
        aggregate,
        contributors,
        presence_threshold: &[1, 1, 1, threshold],
        salt: &SALT,
    };
    contract
        .finalize(&lamp_schema(), &input, &Limits::FINALIZE)
        .expect("finalize runs")
}

#[test]
fn finalize_gives_the_same_outputs_as_the_wat_contract() {
    let wat = load("lamp_analytics");
    let rust = load("lamp_analytics_rs");
    let counts = model_counts(100);
    let with = |head: [i64; 3]| {
        let mut a = head.to_vec();
        a.extend_from_slice(&counts);
        a
    };
    let cases: Vec<(Vec<i64>, u32, i64)> = vec![
        (with([37, 100, 3_512]), 100, 1),
        (with([37, -2, 3_512]), 100, 1),
        (with([37, -2, 3_512]), 0, 1),
        (with([-5, 98, -40]), 97, 1),
        (with([0, 0, 0]), 1, 30),
        (with([i64::MAX, i64::MIN, i64::MAX]), 7, 1),
        (with([1, 1, i64::MIN]), u32::MAX, 1),
        (vec![3, 4, 5].into_iter().chain([0; 64]).collect(), 5, 1),
    ];
    for (aggregate, contributors, threshold) in &cases {
        let a = finalize(&wat, aggregate, *contributors, *threshold);
        let b = finalize(&rust, aggregate, *contributors, *threshold);
        assert_eq!(
            b,
            a,
            "aggregate {:?}, contributors {contributors}",
            &aggregate[..3]
        );
    }
    // The figures of tests/contract.rs.
    let registers = sketch::hll_registers_from_counts(&counts, 4, 4, 1);
    let estimate = sketch::hll_estimate(&registers, 4) as i64;
    assert_eq!(
        finalize(&rust, &cases[0].0, 100, 1),
        vec![37, 100, 351, estimate]
    );
    assert_eq!(&finalize(&rust, &cases[2].0, 0, 1)[..3], &[37, -2, 0]);
    // A schema with fewer outputs: result_set(3, ..) traps in both.
    let short = Schema {
        outputs: 3,
        ..lamp_schema()
    };
    let input = FinalizeInput {
        aggregate: &cases[0].0,
        contributors: 100,
        presence_threshold: &[1, 1, 1, 1],
        salt: &SALT,
    };
    for contract in [&wat, &rust] {
        assert!(matches!(
            contract.finalize(&short, &input, &Limits::FINALIZE),
            Err(ContractError::Trapped(_))
        ));
    }
}

#[test]
fn fuel_used_by_both_contracts() {
    let wat = load("lamp_analytics");
    let rust = load("lamp_analytics_rs");
    let mut totals = [0u64; 2];
    for (name, records) in households() {
        let a = contribute(&wat, &records);
        let b = contribute(&rust, &records);
        assert!(a.fuel_used > 0 && a.fuel_used < Limits::CONTRIBUTE.fuel);
        assert!(b.fuel_used > 0 && b.fuel_used < Limits::CONTRIBUTE.fuel);
        // Deterministic: the same run costs the same fuel.
        assert_eq!(contribute(&rust, &records).fuel_used, b.fuel_used);
        totals[0] += a.fuel_used;
        totals[1] += b.fuel_used;
        println!(
            "contribute fuel, {name} ({} records): wat {}, rust {}",
            records.len(),
            a.fuel_used,
            b.fuel_used
        );
    }
    println!(
        "contribute fuel, all households: wat {}, rust {}",
        totals[0], totals[1]
    );
    let mut aggregate = vec![37i64, 100, 3_512];
    aggregate.extend_from_slice(&model_counts(100));
    for (name, contract) in [("wat", &wat), ("rust", &rust)] {
        let input = FinalizeInput {
            aggregate: &aggregate,
            contributors: 100,
            presence_threshold: &[1, 1, 1, 1],
            salt: &SALT,
        };
        let limits = Limits {
            fuel: 2_000,
            ..Limits::FINALIZE
        };
        // finalize is a handful of host calls: it fits a tiny budget.
        contract
            .finalize(&lamp_schema(), &input, &limits)
            .unwrap_or_else(|e| panic!("{name} finalize within 2000 fuel: {e}"));
        println!("finalize of {name} fits 2000 fuel");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Over arbitrary records (any times, models, event bytes and lengths)
    /// the two contracts give the same cells.
    #[test]
    fn arbitrary_records_give_the_same_cells(
        records in proptest::collection::vec(
            (0u64..40 * DAY, 0u32..6, 0u8..3, 14usize..19),
            0..48,
        ),
    ) {
        let records: Vec<Vec<u8>> = records
            .into_iter()
            .map(|(t, m, k, len)| {
                let mut r = raw_event(t, m, k);
                r.resize(len, 0x55);
                r
            })
            .collect();
        let a = contribute(&load("lamp_analytics"), &records);
        let b = contribute(&load("lamp_analytics_rs"), &records);
        prop_assert_eq!(b.status, RunStatus::Completed);
        prop_assert_eq!(&b.cells, &a.cells);
        let (sums, _) = expected_sums(&records);
        prop_assert_eq!(&b.cells[..3], &sums[..]);
    }

    /// Over arbitrary aggregates and contributor counts the two contracts
    /// publish the same outputs.
    #[test]
    fn arbitrary_aggregates_give_the_same_outputs(
        head in proptest::array::uniform3(any::<i64>()),
        cells in proptest::collection::vec(-3i64..40, 64),
        contributors in any::<u32>(),
        threshold in 0i64..20,
    ) {
        let mut aggregate = head.to_vec();
        aggregate.extend_from_slice(&cells);
        let a = finalize(&load("lamp_analytics"), &aggregate, contributors, threshold);
        let b = finalize(&load("lamp_analytics_rs"), &aggregate, contributors, threshold);
        prop_assert_eq!(b, a);
    }
}

// ------------------------------------------------------------ rebuild ----

/// Whether `wasm32-unknown-unknown` is installed, or why we cannot tell.
fn wasm_target_installed() -> Result<bool, String> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("rustup could not be run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rustup target list failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown"))
}

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// `cargo build --release --target wasm32-unknown-unknown --offline --locked`
/// of the contract crate into `target_dir`, within [`REBUILD_TIMEOUT`].
fn build_contract(target_dir: &Path) -> Vec<u8> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let log_path = target_dir.join("build.log");
    std::fs::create_dir_all(target_dir).expect("create the temporary target dir");
    let log = std::fs::File::create(&log_path).expect("create the build log");
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--offline",
            "--locked",
            "--target",
            "wasm32-unknown-unknown",
            "--manifest-path",
        ])
        .arg(crate_dir().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log);
    // Flags from the environment would change the code generated.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_INCREMENTAL",
    ] {
        command.env_remove(var);
    }
    let mut child = command.spawn().expect("spawn cargo");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for cargo") {
            break status;
        }
        if started.elapsed() > REBUILD_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the contract build took more than {REBUILD_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(status.success(), "the contract build failed:\n{log}");
    println!("rebuilt lamp_analytics_rs.wasm in {:?}", started.elapsed());
    let wasm = target_dir.join("wasm32-unknown-unknown/release/lamp_analytics_rs.wasm");
    std::fs::read(&wasm).unwrap_or_else(|e| panic!("{} missing: {e}\n{log}", wasm.display()))
}

/// The same behaviour as the committed contract: loads, and gives the same
/// cells and outputs over the test households and aggregates.
fn assert_same_behaviour(rebuilt: &[u8]) {
    let rebuilt = Contract::load(rebuilt).expect("the rebuilt contract loads");
    let committed = load("lamp_analytics_rs");
    for (name, records) in households() {
        assert_eq!(
            contribute(&rebuilt, &records).cells,
            contribute(&committed, &records).cells,
            "{name}"
        );
    }
    let mut aggregate = vec![37i64, -2, 3_512];
    aggregate.extend_from_slice(&model_counts(100));
    for contributors in [0, 1, 100] {
        assert_eq!(
            finalize(&rebuilt, &aggregate, contributors, 1),
            finalize(&committed, &aggregate, contributors, 1)
        );
    }
}

/// Rebuilds the contract when the wasm target is installed and checks the
/// committed bytes are its build output. Skips (passing, with a note)
/// without the target, unless `ITC_REQUIRE_WASM_TARGET=1`.
#[test]
fn the_committed_bytes_are_the_crate_rebuilt() {
    let required = std::env::var("ITC_REQUIRE_WASM_TARGET").is_ok_and(|v| v == "1");
    match wasm_target_installed() {
        Ok(true) => {}
        Ok(false) if required => {
            panic!("ITC_REQUIRE_WASM_TARGET=1 but wasm32-unknown-unknown is not installed")
        }
        Err(why) if required => panic!("ITC_REQUIRE_WASM_TARGET=1 but {why}"),
        Ok(false) => {
            println!("skipped: wasm32-unknown-unknown is not installed (rustup target add wasm32-unknown-unknown)");
            return;
        }
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let target_dir = std::env::temp_dir().join(format!(
        "itc-lamp-analytics-rs-{}-{nanos}",
        std::process::id()
    ));
    let rebuilt = build_contract(&target_dir);
    let _ = std::fs::remove_dir_all(&target_dir);
    let committed = committed("lamp_analytics_rs");
    if rebuilt == committed {
        return;
    }
    let rustc = rustc_version();
    assert!(
        !rustc.starts_with(COMMITTED_WITH_RUSTC),
        "{rustc} rebuilt lamp_analytics_rs.wasm to {} bytes that differ from the committed {} bytes: \
         rebuild and commit it (see contracts/lamp-analytics-rs/Cargo.toml)",
        rebuilt.len(),
        committed.len()
    );
    // Another compiler version: the bytes may legitimately differ.
    assert_same_behaviour(&rebuilt);
    println!(
        "note: {rustc} builds different bytes than {COMMITTED_WITH_RUSTC}did; they behave the same"
    );
}
