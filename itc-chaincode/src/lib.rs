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
//!
//! A household's data node runs a company's contract over its own records;
//! only a fixed-shape vector of clamped integers comes out (to be noised,
//! masked and proven by [`node`] before anything leaves the household):
//!
//! ```
//! use itc_chaincode::contract::{Contract, ContractError, Limits, RunStatus};
//! use itc_chaincode::reference::LAMP_ANALYTICS_WASM;
//! use itc_chaincode::schema::{Field, Schema};
//!
//! // The contract as deployed on chain: validated (no floats, no WASI,
//! // bounded memory) when it is loaded.
//! let contract = Contract::load(LAMP_ANALYTICS_WASM)?;
//! let schema = Schema {
//!     fields: vec![
//!         Field::Sum { max: 1 },
//!         Field::Sum { max: 1 },
//!         Field::Sum { max: 240 },
//!         Field::Hll { precision: 4, max_rank: 3, items_max: 4 },
//!     ],
//!     outputs: 4,
//! };
//! // The household's lamp events: time (s), lamp model, on/off, padding.
//! let event = |time_s: u64, model: u32, on: bool| {
//!     let mut record = time_s.to_le_bytes().to_vec();
//!     record.extend_from_slice(&model.to_le_bytes());
//!     record.extend_from_slice(&[u8::from(on), 0, 0, 0]);
//!     record
//! };
//! let records = [event(19 * 3600, 7, true), event(23 * 3600, 7, false)];
//! let records: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
//!
//! let out = contract.contribute(&schema, &[0; 32], &records, &Limits::CONTRIBUTE)?;
//! assert_eq!(out.status, RunStatus::Completed);
//! assert_eq!(out.cells.len(), schema.cells());
//! # Ok::<(), ContractError>(())
//! ```
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
