//! Bindings of ITC for partners who do not write Rust.
//!
//! * [`c_api`]: a C ABI with opaque handles, explicit free functions and
//!   stable status codes; the header `bindings/c/itc.h` is generated from it
//!   by cbindgen (a test fails when the committed header drifts).
//!
//! * [`api`]: the safe Rust API exported through UniFFI (proc-macro mode) to
//!   Python, Kotlin and Swift as the `itc` module; generated sources live in
//!   `bindings/python`, `bindings/kotlin` and `bindings/swift`.
//!
//! Everything here wraps `itc-core` (keys, transactions) and `itc-spv` (light
//! client, the lamp's check); no consensus logic lives in this crate.
//! [`api::dev_chain::DevChain`] is a single-process chain for development
//! and tests.
//!
//! The Rust side of what Python's `itc.Keypair.generate()`, Kotlin's
//! `Keypair.generate()` and C's `itc_keypair_generate` call:
//!
//! ```
//! use itc_ffi::api::keys::{verify, Keypair, SigningDomain};
//! use itc_ffi::ItcError;
//!
//! let owner = Keypair::generate()?;
//! let signature = owner.sign(SigningDomain::DeviceCommand, 7, b"on".to_vec());
//! verify(owner.public_key(), SigningDomain::DeviceCommand, 7, b"on".to_vec(), signature.clone())?;
//! // Bound to its chain and purpose: the same bytes do not verify for chain 8.
//! let other_chain = verify(owner.public_key(), SigningDomain::DeviceCommand, 8, b"on".to_vec(), signature);
//! assert!(matches!(other_chain, Err(ItcError::InvalidSignature)));
//! # Ok::<(), ItcError>(())
//! ```
//!
//! Installable packages built from this crate (a Python wheel, a jar, a C
//! library with pkg-config, a Swift package) are described in the
//! repository's `bindings/README.md`.
// The C ABI is unsafe by nature (raw pointers from foreign code), so this
// crate opts out of the workspace's `unsafe_code = "deny"` in its Cargo.toml.
// Every unsafe function documents its contract under `# Safety`, and every
// unsafe block inside one says which part of the contract it relies on.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod api;
pub mod c_api;
pub mod codes;
pub mod error;
mod facade;

pub use error::ItcError;

uniffi::setup_scaffolding!("itc");

use itc_core::keys::{Keypair, SEED_LEN};
use zeroize::Zeroizing;

/// A key pair from the operating system's randomness. The seed buffer is
/// wiped once the key pair holds its own copy.
pub(crate) fn generate_keypair() -> Result<Keypair, ItcError> {
    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    getrandom::fill(seed.as_mut()).map_err(|e| ItcError::Randomness {
        reason: e.to_string(),
    })?;
    Ok(Keypair::from_seed(*seed))
}
