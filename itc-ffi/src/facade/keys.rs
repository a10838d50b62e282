//! Keys: import from a seed, verify a domain- and chain-bound signature.

use super::{array, public_key, signature};
use crate::error::ItcError;
use itc_core::keys::{Keypair, SigningDomain, SEED_LEN};
use itc_core::types::ChainId;
use zeroize::Zeroizing;

/// The key pair of a 32-byte seed; the library's copies of the seed are
/// wiped on every path.
pub(crate) fn keypair_from_seed(seed: &[u8]) -> Result<Keypair, ItcError> {
    let seed = Zeroizing::new(array::<SEED_LEN>(seed, "seed")?);
    Keypair::try_from_seed(*seed).map_err(|e| ItcError::invalid_argument(format!("seed: {e}")))
}

/// Verify `signature` by `key` over `message` for `domain` on `chain_id`.
pub(crate) fn verify(
    key: &[u8],
    domain: SigningDomain,
    chain_id: u32,
    message: &[u8],
    signature_bytes: &[u8],
) -> Result<(), ItcError> {
    let key = public_key(key, "public key")?;
    let signature = signature(signature_bytes, "signature")?;
    Ok(key.verify(domain, ChainId(chain_id), message, &signature)?)
}
