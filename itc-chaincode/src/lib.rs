//! ChainCode: analytics contracts that see only private aggregates, and pay
//! the users whose data they use.
//!
//! * [`schema`]: the fixed shape of a contribution (cells and their bounds).
//! * [`contract`]: WebAssembly contracts run by wasmi under fuel and memory
//!   limits, validated at deploy time; [`sketch`] has the summable
//!   HyperLogLog, Bloom and count-min forms the host fills for them.
//! * [`noise`] and [`budget`]: distributed differential privacy (binomial
//!   noise shares from the OS's RNG) and each user's local privacy budget.
//! * [`secagg`] and [`proof`]: pairwise masking over X25519 with dropout
//!   recovery, Pedersen commitments and Bulletproofs range proofs.
#![deny(missing_docs)]

pub mod budget;
pub mod campaign;
pub mod contract;
pub mod contribution;
pub mod node;
pub mod noise;
pub mod proof;
pub mod reference;
pub mod schema;
pub mod secagg;
pub mod sketch;
