//! Contracts shipped with the crate, ready to deploy.

/// WebAssembly of the reference lamp-analytics contract (source:
/// `contracts/lamp_analytics.wat` in this crate): it counts a household's
/// lamp events into the cells of its schema. Bindings (itc-ffi) and examples
/// deploy it; its hash is [`crate::contract::code_hash`] of these bytes.
pub const LAMP_ANALYTICS_WASM: &[u8] = include_bytes!("../contracts/lamp_analytics.wasm");
