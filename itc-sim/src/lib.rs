//! One deterministic simulator for every ITC cluster (TigerBeetle's VOPR
//! is the model): PBFT replicas on a virtual clock, with or without a side
//! chain they anchor, driven by one `u64` seed, so a failing run replays
//! exactly from its seed.
//!
//! * **Network**: per-link delay, loss, duplication, reordering (random
//!   delays), symmetric and one-way partitions that come and go, a long
//!   outage of one replica ([`Outage`]).
//! * **Crashes** at any point, including between `ready()` and `persist()`
//!   and between `persist()` and sending ([`CrashPoint`]); restarts from
//!   the node's storage.
//! * **Storage faults** ([`storage`]): writes that fail (applying nothing,
//!   or everything when the final flush fails), torn writes, failed reads
//!   when a replica opens or serves old blocks.
//! * **Clock skew**: each node's clock runs ahead by its own offset.
//! * **Byzantine replicas** ([`Behavior`]), including Twins (two replicas
//!   with one key and their own storage, on different sides of the
//!   partitions).
//! * **Side chains** ([`SideChain`]): `Replica<NoAnchoring>` for a main
//!   chain alone, `Replica<Tangle>` for validators anchoring the DAG.
//!
//! A manual, fault-free mode ([`manual`], [`Simulation::from_genesis`])
//! lets demos and benchmarks drive a cluster step by step under the same
//! invariant checks.
//!
//! Invariants after every step: agreement (no two honest replicas commit
//! different blocks at a height), validity (only submitted transactions),
//! no double commit, no lost committed block across restarts, every
//! replica's own invariants (`Replica::check_invariants`), the side chain's
//! recorded anchor commitment equal to the header's root; the side chain's
//! own invariants at every side step (every [`SideChain::step_interval_ms`])
//! and after every restart; after the faults heal,
//! liveness: every transaction committed on every honest replica within
//! [`Scenario::liveness_ms`], and the side chain's work final.
//!
//! ```
//! use itc_sim::{Scenario, Simulation};
//! let report = Simulation::<itc_core::anchoring::NoAnchoring>::new(Scenario::basic(4), 1)
//!     .run()
//!     .unwrap();
//! assert!(report.height >= 1);
//! ```
//!
//! Tests run seeds with [`run_seeds`]: `ITC_SIM_SEEDS=N` runs `N` seeds (a
//! soak), `ITC_SIM_SEED=S` replays one; a failure prints the seed and the
//! command that replays it.
#![deny(missing_docs)]

pub mod dag;
pub mod manual;
pub mod rng;
pub mod side_chain;
mod simulation;
pub mod storage;

pub use manual::{LinkFilter, ManualError, IDLE_ADVANCE_MS};
pub use rng::Rng;
pub use side_chain::{SideChain, SideMessage};
pub use simulation::{
    run_seeds, run_seeds_with, run_seeds_with_workload, seeds, Behavior, CrashPoint, Outage,
    Scenario, SimFailure, SimReport, Simulation, TestId, CLIENT_RETRY_MS, SIM_CHAIN_ID,
    SIM_EVENTS_MAX, STALE_REPLAY_MESSAGES_MAX,
};
