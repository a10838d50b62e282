//! Shared code of the ITC examples: an in-process validator cluster and the
//! smart-lighting scenario (run by the `lighting` binary and its test).
#![deny(missing_docs)]

pub mod analytics;
pub mod chaincode_bench;
pub mod cluster;
pub mod lighting;
pub mod seal_bench;
