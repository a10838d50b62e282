//! WebAssembly analytics contracts, run by wasmi under fuel and memory limits.
//!
//! A contract is a WebAssembly module that exports `contribute: [] -> []`,
//! `finalize: [] -> []` and its linear `memory`, and imports nothing but the
//! host API below (module `"itc"`). [`Contract::load`] validates it at deploy
//! time; [`Contract::contribute`] runs it on a user's node over the user's own
//! records, and [`Contract::finalize`] runs on validators over the noisy,
//! centered aggregate.
//!
//! # Engine
//!
//! One deterministic engine configuration ([`engine_config`]): wasmi 2.0.0
//! (pinned, because fuel costs are consensus), fuel metering on, eager
//! compilation (so translation never charges fuel lazily), no floating point,
//! no start function, a single memory (multi-memory off); SIMD and memory64
//! are not compiled into this build. Memory, tables and instances are capped
//! per run by a store limiter; `memory.grow` beyond the limit returns `-1`
//! as the WebAssembly specification allows.
//!
//! # Host API (the contract ABI, import module `"itc"`)
//!
//! | function | signature | entry point | meaning |
//! |---|---|---|---|
//! | `record_count` | `() -> i32` | contribute | number of the user's records |
//! | `record_len` | `(i: i32) -> i32` | contribute | length of record `i`, `-1` if none |
//! | `record_read` | `(i: i32, ptr: i32, len: i32) -> i32` | contribute | copy at most `len` bytes of record `i` to `ptr`; bytes copied, or `-1` if no such record; a bad pointer traps |
//! | `cell_add` | `(cell: i32, value: i64) -> ()` | contribute | add `value` into cell `cell`'s 64-bit saturating accumulator; the cell must belong to a `Sum` or `Histogram` field, else trap |
//! | `hll_add` | `(field: i32, ptr: i32, len: i32) -> ()` | contribute | insert the item `memory[ptr..ptr+len]` into HLL field `field` |
//! | `bloom_add` | `(field: i32, ptr: i32, len: i32) -> ()` | contribute | insert the item into Bloom field `field` |
//! | `cms_add` | `(field: i32, ptr: i32, len: i32, count: i64) -> ()` | contribute | add `count >= 0` for the item into count-min field `field` |
//! | `agg_len` | `() -> i32` | finalize | number of aggregate cells |
//! | `agg_get` | `(i: i32) -> i64` | finalize | centered noisy aggregate cell `i` (out of range traps) |
//! | `contributors` | `() -> i64` | finalize | number of valid contributions summed |
//! | `result_set` | `(i: i32, value: i64) -> ()` | finalize | set output `i < schema.outputs` (else trap) |
//! | `hll_estimate` | `(field: i32) -> i64` | finalize | distinct-count estimate of HLL field `field` |
//! | `bloom_contains` | `(field: i32, ptr: i32, len: i32) -> i32` | finalize | 1 if the item is in Bloom field `field`, else 0 |
//! | `cms_estimate` | `(field: i32, ptr: i32, len: i32) -> i64` | finalize | count-min estimate of the item in field `field` |
//!
//! Sketch helpers trap on a field of the wrong kind, an item longer than
//! [`ITEM_BYTES_MAX`] or a pointer outside memory; distinct items beyond the
//! field's `items_max` are ignored. `hll_estimate` and `bloom_contains` use
//! the caller's per-field presence threshold (see [`FinalizeInput`]);
//! `cms_estimate` is the plain minimum over rows. A host function called from
//! the wrong entry point traps. Host calls cost fuel: [`HOST_CALL_FUEL`] per
//! call, plus one unit per byte copied or hashed and [`HASH_FUEL`] per digest.
//!
//! # Containment
//!
//! The contribution vector is the only output: every cell is clamped to its
//! schema bound by the host, and a contribution run that traps, runs out of
//! fuel or out of memory yields the all-zero vector, so its outcome cannot be
//! observed from outside (the local user sees the [`RunStatus`]).

use crate::schema::{Field, Schema, SchemaError};
use crate::sketch;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use itc_core::hash::Hash;
use std::collections::BTreeSet;
use wasmi::errors::ErrorKind;
use wasmi::{
    Caller, CompilationMode, Config, Engine, Error, ExternType, Linker, Memory, Module, Store,
    StoreLimits, StoreLimitsBuilder, TrapCode, ValType,
};

/// Largest accepted contract, in bytes.
pub const CODE_BYTES_MAX: usize = 64 * 1024;
/// Largest initial memory a contract may declare, in 64 KiB pages (the
/// larger of the two default limits).
pub const MEMORY_PAGES_MAX: u32 = 16;
/// Most table elements a contract may allocate.
pub const TABLE_ELEMENTS_MAX: usize = 4096;
/// Most records one contribution run sees.
pub const RECORDS_MAX: usize = 1 << 16;
/// Most record bytes, in total, one contribution run sees.
pub const RECORD_BYTES_TOTAL_MAX: usize = 16 << 20;
/// Longest sketch item a contract may pass to a helper.
pub const ITEM_BYTES_MAX: usize = 1024;
/// Fuel charged for every host call, on top of the call instruction.
pub const HOST_CALL_FUEL: u64 = 50;
/// Fuel charged per BLAKE2b digest a host helper computes.
pub const HASH_FUEL: u64 = 500;
/// Maximum call depth of a contract.
pub const RECURSION_DEPTH_MAX: usize = 1024;
/// Size of a WebAssembly page.
const PAGE_BYTES: usize = 64 * 1024;

/// The label of a contract's code hash (see [`code_hash`]).
const CODE_HASH_LABEL: &[u8; 8] = b"itc:wasm";

/// Resource limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (wasmi's unit: about one per executed instruction).
    pub fuel: u64,
    /// Linear memory, in 64 KiB pages.
    pub memory_pages: u32,
}

impl Limits {
    /// Default limits of a contribution run on a user's node: 50 million fuel
    /// (tens of milliseconds on a phone) and 16 pages (1 MiB).
    pub const CONTRIBUTE: Limits = Limits {
        fuel: 50_000_000,
        memory_pages: 16,
    };
    /// Default limits of `finalize` on validators: 10 million fuel (it reads
    /// at most 256 cells) and 16 pages (1 MiB).
    pub const FINALIZE: Limits = Limits {
        fuel: 10_000_000,
        memory_pages: 16,
    };
}

/// Why a contract is refused, or a run could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The code exceeds [`CODE_BYTES_MAX`].
    #[error("contract is {len} bytes, more than {max}")]
    TooLarge {
        /// Size of the code.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Not a valid WebAssembly module.
    #[error("invalid webassembly: {0}")]
    InvalidWasm(String),
    /// The module uses floating-point types or instructions.
    #[error("contract uses floating point")]
    FloatsUsed,
    /// The module has a start function.
    #[error("contract has a start function")]
    StartFunction,
    /// The module uses a WebAssembly feature disabled for determinism
    /// (multi-memory, ...).
    #[error("contract uses a disabled webassembly feature: {0}")]
    UnsupportedFeature(String),
    /// An import outside the host API.
    #[error("forbidden import {module}.{name}")]
    ForbiddenImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// A host API import with the wrong type.
    #[error("host function itc.{0} imported with the wrong signature")]
    WrongImportSignature(String),
    /// A required export is missing.
    #[error("missing export {0}")]
    MissingExport(&'static str),
    /// A required export has the wrong type.
    #[error("export {0} has the wrong type")]
    WrongSignature(&'static str),
    /// The declared initial memory exceeds [`MEMORY_PAGES_MAX`].
    #[error("initial memory of {pages} pages exceeds {max}")]
    MemoryTooLarge {
        /// Declared initial pages.
        pages: u64,
        /// The cap.
        max: u32,
    },
    /// The schema is invalid.
    #[error("schema: {0}")]
    Schema(#[from] SchemaError),
    /// The run's inputs do not match the schema or exceed a cap.
    #[error("input mismatch: {0}")]
    InputMismatch(&'static str),
    /// `finalize` trapped.
    #[error("contract trapped: {0}")]
    Trapped(String),
    /// `finalize` ran out of fuel.
    #[error("contract ran out of fuel")]
    OutOfFuel,
    /// `finalize` could not get the memory or tables it declared.
    #[error("contract exceeded its memory limit")]
    OutOfMemory,
    /// The engine failed in a way not attributable to the contract.
    #[error("engine error: {0}")]
    Engine(String),
}

/// How a contribution run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunStatus {
    /// `contribute` returned normally.
    Completed,
    /// The contract trapped (including misuse of the host API).
    Trapped,
    /// The contract ran out of fuel.
    OutOfFuel,
    /// The contract's memory or tables did not fit the limits.
    OutOfMemory,
}

/// The result of a contribution run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContributeOutcome {
    /// The contribution vector, every cell clamped to its schema bound; all
    /// zeros unless `status` is [`RunStatus::Completed`].
    pub cells: Vec<u64>,
    /// How the run ended.
    pub status: RunStatus,
    /// Fuel consumed (instantiation, execution and host calls).
    pub fuel_used: u64,
    /// The trap message, for the local user's diagnosis only.
    pub message: Option<String>,
}

/// The inputs of a `finalize` run.
#[derive(Debug, Clone, Copy)]
pub struct FinalizeInput<'a> {
    /// The noisy, centered aggregate, one value per schema cell.
    pub aggregate: &'a [i64],
    /// Number of contributions summed.
    pub contributors: u32,
    /// Per field, the count at which a sketch cell is taken as present (used
    /// by `hll_estimate` and `bloom_contains`; values below 1 act as 1).
    pub presence_threshold: &'a [i64],
    /// The campaign salt the sketches were hashed with.
    pub salt: &'a [u8; 32],
}

/// The deterministic engine configuration every node uses.
pub fn engine_config() -> Config {
    let mut config = Config::default();
    config
        .consume_fuel(true)
        .floats(false)
        .allow_start_fn(false)
        .wasm_multi_memory(false)
        .compilation_mode(CompilationMode::Eager)
        .set_max_recursion_depth(RECURSION_DEPTH_MAX);
    config
}

/// The code hash of a contract: `BLAKE2b-256("itc:wasm" ‖ code)`.
///
/// itc-core has no [`Domain`](itc_core::hash::Domain) for contract code, so
/// the 8-byte label plays the role of a domain tag (same construction).
pub fn code_hash(code: &[u8]) -> Hash {
    let mut hasher = Blake2b::<U32>::new();
    hasher.update(CODE_HASH_LABEL);
    hasher.update(code);
    Hash(hasher.finalize().into())
}

/// Which entry point a host function belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Contribute,
    Finalize,
}

/// The host API: name, parameters, results, entry point.
const HOST_API: &[(&str, &[ValType], &[ValType], Entry)] = {
    use ValType::{I32, I64};
    &[
        ("record_count", &[], &[I32], Entry::Contribute),
        ("record_len", &[I32], &[I32], Entry::Contribute),
        ("record_read", &[I32, I32, I32], &[I32], Entry::Contribute),
        ("cell_add", &[I32, I64], &[], Entry::Contribute),
        ("hll_add", &[I32, I32, I32], &[], Entry::Contribute),
        ("bloom_add", &[I32, I32, I32], &[], Entry::Contribute),
        ("cms_add", &[I32, I32, I32, I64], &[], Entry::Contribute),
        ("agg_len", &[], &[I32], Entry::Finalize),
        ("agg_get", &[I32], &[I64], Entry::Finalize),
        ("contributors", &[], &[I64], Entry::Finalize),
        ("result_set", &[I32, I64], &[], Entry::Finalize),
        ("hll_estimate", &[I32], &[I64], Entry::Finalize),
        ("bloom_contains", &[I32, I32, I32], &[I32], Entry::Finalize),
        ("cms_estimate", &[I32, I32, I32], &[I64], Entry::Finalize),
    ]
};

/// A validated contract.
#[derive(Debug, Clone)]
pub struct Contract {
    engine: Engine,
    module: Module,
    hash: Hash,
}

impl Contract {
    /// Validate `code` at deploy time.
    ///
    /// # Errors
    /// One reason per refusal: [`ContractError::TooLarge`],
    /// [`ContractError::InvalidWasm`], [`ContractError::FloatsUsed`],
    /// [`ContractError::StartFunction`], [`ContractError::UnsupportedFeature`],
    /// [`ContractError::ForbiddenImport`],
    /// [`ContractError::WrongImportSignature`],
    /// [`ContractError::MissingExport`], [`ContractError::WrongSignature`],
    /// [`ContractError::MemoryTooLarge`].
    pub fn load(code: &[u8]) -> Result<Contract, ContractError> {
        if code.len() > CODE_BYTES_MAX {
            return Err(ContractError::TooLarge {
                len: code.len(),
                max: CODE_BYTES_MAX,
            });
        }
        // Validate with wasmparser alone first (every standard feature on,
        // so that floats and the like are still diagnosed below): wasmi's
        // translator checks some invariants of well-formed bodies with
        // debug assertions before its validator reports the error, so a
        // malformed body must never reach it (found by the
        // `chaincode_contract_loader` fuzz target).
        wasmparser::Validator::new()
            .validate_all(code)
            .map_err(|e| ContractError::InvalidWasm(e.to_string()))?;
        let engine = Engine::new(&engine_config());
        let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Module::new(&engine, code)
        }))
        .map_err(|_| ContractError::InvalidWasm("the interpreter refused the module".into()))?;
        let module = compiled.map_err(|e| diagnose(code, &e))?;
        for import in module.imports() {
            let (module_name, name) = (import.module(), import.name());
            let api = HOST_API
                .iter()
                .find(|(api_name, ..)| module_name == "itc" && *api_name == name);
            let Some((_, params, results, _)) = api else {
                return Err(ContractError::ForbiddenImport {
                    module: module_name.into(),
                    name: name.into(),
                });
            };
            match import.ty() {
                ExternType::Func(ty) if ty.params() == *params && ty.results() == *results => {}
                ExternType::Func(_) => {
                    return Err(ContractError::WrongImportSignature(name.into()));
                }
                _ => {
                    return Err(ContractError::ForbiddenImport {
                        module: module_name.into(),
                        name: name.into(),
                    })
                }
            }
        }
        for name in ["contribute", "finalize"] {
            match module.get_export(name) {
                None => return Err(ContractError::MissingExport(name)),
                Some(ExternType::Func(ty)) if ty.params().is_empty() && ty.results().is_empty() => {
                }
                Some(_) => return Err(ContractError::WrongSignature(name)),
            }
        }
        match module.get_export("memory") {
            None => return Err(ContractError::MissingExport("memory")),
            Some(ExternType::Memory(ty)) => {
                if ty.minimum() > u64::from(MEMORY_PAGES_MAX) {
                    return Err(ContractError::MemoryTooLarge {
                        pages: ty.minimum(),
                        max: MEMORY_PAGES_MAX,
                    });
                }
            }
            Some(_) => return Err(ContractError::WrongSignature("memory")),
        }
        Ok(Contract {
            engine,
            module,
            hash: code_hash(code),
        })
    }

    /// The contract's code hash ([`code_hash`] of its bytes).
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// Run `contribute` locally over the user's `records`.
    ///
    /// Contract misbehaviour is not an error: a trap, running out of fuel or
    /// exceeding the memory limit gives the all-zero vector and the matching
    /// [`RunStatus`].
    ///
    /// # Errors
    /// [`ContractError::Schema`] for an invalid schema,
    /// [`ContractError::InputMismatch`] for more than [`RECORDS_MAX`] records
    /// or [`RECORD_BYTES_TOTAL_MAX`] bytes, [`ContractError::Engine`] if the
    /// engine itself fails.
    pub fn contribute(
        &self,
        schema: &Schema,
        salt: &[u8; 32],
        records: &[&[u8]],
        limits: &Limits,
    ) -> Result<ContributeOutcome, ContractError> {
        schema.validate()?;
        if records.len() > RECORDS_MAX {
            return Err(ContractError::InputMismatch("too many records"));
        }
        let total = records
            .iter()
            .fold(0usize, |acc, r| acc.saturating_add(r.len()));
        if total > RECORD_BYTES_TOTAL_MAX {
            return Err(ContractError::InputMismatch("records too large"));
        }
        let cells = schema.cells();
        let state = ContributeState {
            schema: schema.clone(),
            starts: field_starts(schema),
            salt: *salt,
            records: records.iter().map(|r| r.to_vec()).collect(),
            accumulators: vec![0; cells],
            sketch: vec![0; cells],
            items: vec![BTreeSet::new(); schema.fields.len()],
        };
        let mut store = self.store(Mode::Contribute(state), limits)?;
        let run = self.run(&mut store, "contribute");
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let zeros = vec![0u64; cells];
        let (status, message) = match run {
            Ok(()) => (RunStatus::Completed, None),
            Err(Failure::OutOfFuel) => (RunStatus::OutOfFuel, None),
            Err(Failure::OutOfMemory(m)) => (RunStatus::OutOfMemory, Some(m)),
            Err(Failure::Trapped(m)) => (RunStatus::Trapped, Some(m)),
            Err(Failure::Engine(m)) => return Err(ContractError::Engine(m)),
        };
        if status != RunStatus::Completed {
            return Ok(ContributeOutcome {
                cells: zeros,
                status,
                fuel_used,
                message,
            });
        }
        let Mode::Contribute(state) = &store.data().mode else {
            return Err(ContractError::Engine("host state lost".into()));
        };
        let out = schema
            .cell_max()
            .iter()
            .enumerate()
            .map(|(i, &max)| {
                let raw = if state.is_additive(i) {
                    state.accumulators[i]
                } else {
                    i64::from(state.sketch[i])
                };
                raw.clamp(0, i64::from(max)) as u64
            })
            .collect();
        Ok(ContributeOutcome {
            cells: out,
            status,
            fuel_used,
            message: None,
        })
    }

    /// Run `finalize` over the noisy aggregate; outputs never set are 0.
    ///
    /// # Errors
    /// [`ContractError::Schema`], [`ContractError::InputMismatch`] when the
    /// aggregate or thresholds do not match the schema, and
    /// [`ContractError::Trapped`], [`ContractError::OutOfFuel`] or
    /// [`ContractError::OutOfMemory`] when the contract misbehaves.
    pub fn finalize(
        &self,
        schema: &Schema,
        input: &FinalizeInput<'_>,
        limits: &Limits,
    ) -> Result<Vec<i64>, ContractError> {
        schema.validate()?;
        if input.aggregate.len() != schema.cells() {
            return Err(ContractError::InputMismatch(
                "aggregate length differs from the schema's cells",
            ));
        }
        if input.presence_threshold.len() != schema.fields.len() {
            return Err(ContractError::InputMismatch(
                "one presence threshold per field is required",
            ));
        }
        let state = FinalizeState {
            schema: schema.clone(),
            starts: field_starts(schema),
            aggregate: input.aggregate.to_vec(),
            contributors: input.contributors,
            thresholds: input.presence_threshold.to_vec(),
            salt: *input.salt,
            results: vec![0; usize::from(schema.outputs)],
        };
        let mut store = self.store(Mode::Finalize(state), limits)?;
        match self.run(&mut store, "finalize") {
            Ok(()) => {}
            Err(Failure::OutOfFuel) => return Err(ContractError::OutOfFuel),
            Err(Failure::OutOfMemory(_)) => return Err(ContractError::OutOfMemory),
            Err(Failure::Trapped(m)) => return Err(ContractError::Trapped(m)),
            Err(Failure::Engine(m)) => return Err(ContractError::Engine(m)),
        }
        match store.into_data().mode {
            Mode::Finalize(state) => Ok(state.results),
            Mode::Contribute(_) => Err(ContractError::Engine("host state lost".into())),
        }
    }

    fn store(&self, mode: Mode, limits: &Limits) -> Result<Store<Host>, ContractError> {
        let memory_bytes = usize::try_from(limits.memory_pages)
            .unwrap_or(usize::MAX)
            .saturating_mul(PAGE_BYTES);
        let host = Host {
            mode,
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .table_elements(TABLE_ELEMENTS_MAX)
                .instances(1)
                .tables(1)
                .memories(1)
                .build(),
        };
        let mut store = Store::new(&self.engine, host);
        store.limiter(|host| &mut host.limits);
        store
            .set_fuel(limits.fuel)
            .map_err(|e| ContractError::Engine(e.to_string()))?;
        Ok(store)
    }

    /// Instantiate and call `entry`, classifying any failure.
    fn run(&self, store: &mut Store<Host>, entry: &'static str) -> Result<(), Failure> {
        let linker = host_linker(&self.engine).map_err(|e| Failure::Engine(e.to_string()))?;
        let instance = linker
            .instantiate_and_start(&mut *store, &self.module)
            .map_err(|e| classify(&e, true))?;
        let func = instance
            .get_typed_func::<(), ()>(&*store, entry)
            .map_err(|e| Failure::Engine(e.to_string()))?;
        func.call(&mut *store, ()).map_err(|e| classify(&e, false))
    }
}

/// A classified run failure.
enum Failure {
    OutOfFuel,
    OutOfMemory(String),
    Trapped(String),
    Engine(String),
}

fn classify(error: &Error, instantiating: bool) -> Failure {
    if error.as_trap_code() == Some(TrapCode::OutOfFuel) {
        return Failure::OutOfFuel;
    }
    match error.kind() {
        ErrorKind::Memory(_) | ErrorKind::Table(_) => Failure::OutOfMemory(error.to_string()),
        ErrorKind::Instantiation(_) | ErrorKind::Linker(_) if instantiating => {
            // Imports were checked at load, so a failed instantiation is a
            // resource limit (a memory or table the limiter refused).
            Failure::OutOfMemory(error.to_string())
        }
        ErrorKind::TrapCode(_) | ErrorKind::Message(_) | ErrorKind::Host(_) => {
            Failure::Trapped(error.to_string())
        }
        _ if instantiating => Failure::OutOfMemory(error.to_string()),
        _ => Failure::Trapped(error.to_string()),
    }
}

/// Name the refusal of a module that the deterministic engine rejected:
/// rebuild it under relaxed configurations to find which rule it broke.
fn diagnose(code: &[u8], strict: &Error) -> ContractError {
    let accepts = |floats: bool, start: bool, everything: bool| {
        let mut config = engine_config();
        config.floats(floats).allow_start_fn(start);
        if everything {
            config.wasm_multi_memory(true);
        }
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Module::new(&Engine::new(&config), code).is_ok()
        }))
        .unwrap_or(false)
    };
    if accepts(true, false, false) {
        ContractError::FloatsUsed
    } else if accepts(false, true, false) {
        ContractError::StartFunction
    } else if accepts(true, true, false) {
        ContractError::FloatsUsed
    } else if accepts(true, true, true) {
        ContractError::UnsupportedFeature(strict.to_string())
    } else {
        ContractError::InvalidWasm(strict.to_string())
    }
}

fn field_starts(schema: &Schema) -> Vec<usize> {
    let mut start = 0;
    schema
        .fields
        .iter()
        .map(|f| {
            let s = start;
            start += f.cells();
            s
        })
        .collect()
}

/// Host state of one run.
struct Host {
    mode: Mode,
    limits: StoreLimits,
}

enum Mode {
    Contribute(ContributeState),
    Finalize(FinalizeState),
}

struct ContributeState {
    schema: Schema,
    starts: Vec<usize>,
    salt: [u8; 32],
    records: Vec<Vec<u8>>,
    /// `cell_add` accumulators (additive fields' cells).
    accumulators: Vec<i64>,
    /// Sketch cells filled by the helpers.
    sketch: Vec<u32>,
    /// Distinct items inserted, per sketch field.
    items: Vec<BTreeSet<Vec<u8>>>,
}

impl ContributeState {
    fn is_additive(&self, cell: usize) -> bool {
        self.schema
            .field_of_cell(cell)
            .and_then(|f| self.schema.fields.get(f))
            .is_some_and(Field::is_additive)
    }

    /// Whether `item` may be inserted into field `field` (already present,
    /// or a free slot under `items_max`, which it then takes).
    fn admit(&mut self, field: usize, items_max: u16, item: &[u8]) -> bool {
        let Some(set) = self.items.get_mut(field) else {
            return false;
        };
        if set.contains(item) {
            return true;
        }
        if set.len() >= usize::from(items_max) {
            return false;
        }
        set.insert(item.to_vec());
        true
    }
}

struct FinalizeState {
    schema: Schema,
    starts: Vec<usize>,
    aggregate: Vec<i64>,
    contributors: u32,
    thresholds: Vec<i64>,
    salt: [u8; 32],
    results: Vec<i64>,
}

fn trap(message: &'static str) -> Error {
    Error::new(message)
}

fn charge(caller: &mut Caller<'_, Host>, cost: u64) -> Result<(), Error> {
    let left = caller.get_fuel()?;
    if left < cost {
        caller.set_fuel(0)?;
        return Err(Error::from(TrapCode::OutOfFuel));
    }
    caller.set_fuel(left - cost)
}

fn memory(caller: &Caller<'_, Host>) -> Result<Memory, Error> {
    caller
        .get_export("memory")
        .and_then(wasmi::Extern::into_memory)
        .ok_or_else(|| trap("contract has no memory"))
}

fn contribute_state<'a>(
    caller: &'a mut Caller<'_, Host>,
) -> Result<&'a mut ContributeState, Error> {
    match &mut caller.data_mut().mode {
        Mode::Contribute(state) => Ok(state),
        Mode::Finalize(_) => Err(trap("host function available to contribute only")),
    }
}

fn finalize_state<'a>(caller: &'a Caller<'_, Host>) -> Result<&'a FinalizeState, Error> {
    match &caller.data().mode {
        Mode::Finalize(state) => Ok(state),
        Mode::Contribute(_) => Err(trap("host function available to finalize only")),
    }
}

/// Read a sketch item `memory[ptr..ptr+len]`, charging for the bytes.
fn read_item(caller: &mut Caller<'_, Host>, ptr: i32, len: i32) -> Result<Vec<u8>, Error> {
    let (Ok(ptr), Ok(len)) = (usize::try_from(ptr), usize::try_from(len)) else {
        return Err(trap("negative item pointer or length"));
    };
    if len > ITEM_BYTES_MAX {
        return Err(trap("sketch item too long"));
    }
    charge(caller, HASH_FUEL + len as u64)?;
    let memory = memory(caller)?;
    let mut item = vec![0u8; len];
    memory
        .read(&*caller, ptr, &mut item)
        .map_err(|_| trap("item outside memory"))?;
    Ok(item)
}

/// The field `field` (an `i32` from the contract) and its first cell.
fn field_at(schema: &Schema, starts: &[usize], field: i32) -> Result<(usize, Field, usize), Error> {
    let index = usize::try_from(field).map_err(|_| trap("negative field index"))?;
    let kind = *schema
        .fields
        .get(index)
        .ok_or_else(|| trap("no such field"))?;
    let start = *starts.get(index).ok_or_else(|| trap("no such field"))?;
    Ok((index, kind, start))
}

/// The linker with every host function defined.
fn host_linker(engine: &Engine) -> Result<Linker<Host>, Error> {
    let mut linker = Linker::<Host>::new(engine);
    linker.func_wrap("itc", "record_count", |mut caller: Caller<'_, Host>| {
        charge(&mut caller, HOST_CALL_FUEL)?;
        let state = contribute_state(&mut caller)?;
        Ok(i32::try_from(state.records.len()).unwrap_or(i32::MAX))
    })?;
    linker.func_wrap(
        "itc",
        "record_len",
        |mut caller: Caller<'_, Host>, i: i32| {
            charge(&mut caller, HOST_CALL_FUEL)?;
            let state = contribute_state(&mut caller)?;
            let len = usize::try_from(i)
                .ok()
                .and_then(|i| state.records.get(i))
                .map(Vec::len);
            Ok(len.map_or(-1, |l| i32::try_from(l).unwrap_or(i32::MAX)))
        },
    )?;
    linker.func_wrap(
        "itc",
        "record_read",
        |mut caller: Caller<'_, Host>, i: i32, ptr: i32, len: i32| -> Result<i32, Error> {
            charge(&mut caller, HOST_CALL_FUEL)?;
            let (Ok(ptr), Ok(len)) = (usize::try_from(ptr), usize::try_from(len)) else {
                return Err(trap("negative record pointer or length"));
            };
            let state = contribute_state(&mut caller)?;
            let Some(record) = usize::try_from(i).ok().and_then(|i| state.records.get(i)) else {
                return Ok(-1);
            };
            let n = record.len().min(len);
            let bytes = record[..n].to_vec();
            charge(&mut caller, n as u64)?;
            let memory = memory(&caller)?;
            memory
                .write(&mut caller, ptr, &bytes)
                .map_err(|_| trap("record destination outside memory"))?;
            Ok(i32::try_from(n).unwrap_or(i32::MAX))
        },
    )?;
    linker.func_wrap(
        "itc",
        "cell_add",
        |mut caller: Caller<'_, Host>, cell: i32, value: i64| -> Result<(), Error> {
            charge(&mut caller, HOST_CALL_FUEL)?;
            let state = contribute_state(&mut caller)?;
            let cell = usize::try_from(cell).map_err(|_| trap("negative cell index"))?;
            if cell >= state.accumulators.len() {
                return Err(trap("cell index out of range"));
            }
            if !state.is_additive(cell) {
                return Err(trap("cell_add on a sketch cell"));
            }
            state.accumulators[cell] = state.accumulators[cell].saturating_add(value);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "itc",
        "hll_add",
        |mut caller: Caller<'_, Host>, field: i32, ptr: i32, len: i32| -> Result<(), Error> {
            charge(&mut caller, HOST_CALL_FUEL)?;
            contribute_state(&mut caller)?;
            let item = read_item(&mut caller, ptr, len)?;
            let state = contribute_state(&mut caller)?;
            let (index, kind, start) = field_at(&state.schema, &state.starts, field)?;
            let Field::Hll {
                precision,
                max_rank,
                items_max,
            } = kind
            else {
                return Err(trap("hll_add on a field that is not an hll"));
            };
            if state.admit(index, items_max, &item) {
                let cells = &mut state.sketch[start..start + kind.cells()];
                sketch::hll_insert(cells, precision, max_rank, &state.salt, &item);
            }
            Ok(())
        },
    )?;
    linker.func_wrap(
        "itc",
        "bloom_add",
        |mut caller: Caller<'_, Host>, field: i32, ptr: i32, len: i32| -> Result<(), Error> {
            charge(&mut caller, HOST_CALL_FUEL)?;
            contribute_state(&mut caller)?;
            let item = read_item(&mut caller, ptr, len)?;
            let state = contribute_state(&mut caller)?;
            let (index, kind, start) = field_at(&state.schema, &state.starts, field)?;
            let Field::Bloom {
                bits,
                hashes,
                items_max,
            } = kind
            else {
                return Err(trap("bloom_add on a field that is not a bloom filter"));
            };
            if state.admit(index, items_max, &item) {
                let cells = &mut state.sketch[start..start + kind.cells()];
                sketch::bloom_insert(cells, bits, hashes, &state.salt, &item);
            }
            Ok(())
        },
    )?;
    linker.func_wrap(
        "itc",
        "cms_add",
        |mut caller: Caller<'_, Host>,
         field: i32,
         ptr: i32,
         len: i32,
         count: i64|
         -> Result<(), Error> {
            charge(&mut caller, HOST_CALL_FUEL)?;
            contribute_state(&mut caller)?;
            if count < 0 {
                return Err(trap("negative count-min count"));
            }
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            let item = read_item(&mut caller, ptr, len)?;
            let state = contribute_state(&mut caller)?;
            let (index, kind, start) = field_at(&state.schema, &state.starts, field)?;
            let Field::CountMin {
                width,
                depth,
                max,
                items_max,
            } = kind
            else {
                return Err(trap("cms_add on a field that is not a count-min sketch"));
            };
            if state.admit(index, items_max, &item) {
                let cells = &mut state.sketch[start..start + kind.cells()];
                sketch::cms_insert(cells, width, depth, max, &state.salt, &item, count);
            }
            Ok(())
        },
    )?;
    linker.func_wrap("itc", "agg_len", |mut caller: Caller<'_, Host>| {
        charge(&mut caller, HOST_CALL_FUEL)?;
        let state = finalize_state(&caller)?;
        Ok(i32::try_from(state.aggregate.len()).unwrap_or(i32::MAX))
    })?;
    linker.func_wrap("itc", "agg_get", |mut caller: Caller<'_, Host>, i: i32| {
        charge(&mut caller, HOST_CALL_FUEL)?;
        let state = finalize_state(&caller)?;
        usize::try_from(i)
            .ok()
            .and_then(|i| state.aggregate.get(i).copied())
            .ok_or_else(|| trap("aggregate index out of range"))
    })?;
    linker.func_wrap("itc", "contributors", |mut caller: Caller<'_, Host>| {
        charge(&mut caller, HOST_CALL_FUEL)?;
        let state = finalize_state(&caller)?;
        Ok(i64::from(state.contributors))
    })?;
    linker.func_wrap(
        "itc",
        "result_set",
        |mut caller: Caller<'_, Host>, i: i32, value: i64| -> Result<(), Error> {
            charge(&mut caller, HOST_CALL_FUEL)?;
            let Mode::Finalize(state) = &mut caller.data_mut().mode else {
                return Err(trap("host function available to finalize only"));
            };
            let slot = usize::try_from(i)
                .ok()
                .and_then(|i| state.results.get_mut(i))
                .ok_or_else(|| trap("result index out of range"))?;
            *slot = value;
            Ok(())
        },
    )?;
    linker.func_wrap(
        "itc",
        "hll_estimate",
        |mut caller: Caller<'_, Host>, field: i32| -> Result<i64, Error> {
            charge(&mut caller, HOST_CALL_FUEL)?;
            let state = finalize_state(&caller)?;
            let (index, kind, start) = field_at(&state.schema, &state.starts, field)?;
            let Field::Hll {
                precision,
                max_rank,
                ..
            } = kind
            else {
                return Err(trap("hll_estimate on a field that is not an hll"));
            };
            let counts = &state.aggregate[start..start + kind.cells()];
            let threshold = state.thresholds.get(index).copied().unwrap_or(1);
            let registers =
                sketch::hll_registers_from_counts(counts, precision, max_rank, threshold);
            let estimate = sketch::hll_estimate(&registers, max_rank);
            let cost = kind.cells() as u64;
            charge(&mut caller, cost)?;
            Ok(i64::try_from(estimate).unwrap_or(i64::MAX))
        },
    )?;
    linker.func_wrap(
        "itc",
        "bloom_contains",
        |mut caller: Caller<'_, Host>, field: i32, ptr: i32, len: i32| -> Result<i32, Error> {
            charge(&mut caller, HOST_CALL_FUEL)?;
            finalize_state(&caller)?;
            let item = read_item(&mut caller, ptr, len)?;
            let state = finalize_state(&caller)?;
            let (index, kind, start) = field_at(&state.schema, &state.starts, field)?;
            let Field::Bloom { hashes, .. } = kind else {
                return Err(trap("bloom_contains on a field that is not a bloom filter"));
            };
            let counts = &state.aggregate[start..start + kind.cells()];
            let threshold = state.thresholds.get(index).copied().unwrap_or(1);
            Ok(i32::from(sketch::bloom_contains(
                counts,
                hashes,
                &state.salt,
                &item,
                threshold,
            )))
        },
    )?;
    linker.func_wrap(
        "itc",
        "cms_estimate",
        |mut caller: Caller<'_, Host>, field: i32, ptr: i32, len: i32| -> Result<i64, Error> {
            charge(&mut caller, HOST_CALL_FUEL)?;
            finalize_state(&caller)?;
            let item = read_item(&mut caller, ptr, len)?;
            let state = finalize_state(&caller)?;
            let (_, kind, start) = field_at(&state.schema, &state.starts, field)?;
            let Field::CountMin { width, depth, .. } = kind else {
                return Err(trap(
                    "cms_estimate on a field that is not a count-min sketch",
                ));
            };
            let counts = &state.aggregate[start..start + kind.cells()];
            Ok(sketch::cms_estimate(
                counts,
                width,
                depth,
                &state.salt,
                &item,
            ))
        },
    )?;
    Ok(linker)
}
