//! DAG side-chain transactions: payloads from byte slices, build and sign
//! (checked as the DAG would), decode, proof of work.

use super::{hash, public_key, security_level};
use crate::error::ItcError;
use itc_core::encoding::Decode;
use itc_core::keys::Keypair;
use itc_core::seal::SealedPayload;
use itc_core::types::{Amount, ChainId};
use itc_dag::{DagPayload, DagTransaction, PowParams};

/// An application record.
pub(crate) fn data(record: &[u8]) -> DagPayload {
    DagPayload::Data {
        record: record.to_vec(),
    }
}

/// Move `amount` to `to` on the DAG.
pub(crate) fn transfer(to: &[u8], amount: u64) -> Result<DagPayload, ItcError> {
    Ok(DagPayload::Transfer {
        to: public_key(to, "to")?,
        amount: Amount(amount),
    })
}

/// A command for `device`.
pub(crate) fn command(device: &[u8], command: &[u8]) -> Result<DagPayload, ItcError> {
    Ok(DagPayload::Command {
        device: public_key(device, "device")?,
        command: command.to_vec(),
    })
}

/// An encoded sealed payload (decoded strictly).
pub(crate) fn sealed(sealed: &[u8]) -> Result<DagPayload, ItcError> {
    Ok(DagPayload::Sealed {
        payload: SealedPayload::decode(sealed)?,
    })
}

/// Build and sign a DAG transaction over 32-byte `parents` (checked before
/// `payload` is built); one the DAG would refuse (too many parents, a
/// payload too large) is an invalid argument.
pub(crate) fn sign<'a>(
    issuer: &Keypair,
    chain_id: u32,
    parents: impl IntoIterator<Item = &'a [u8]>,
    sequence: u64,
    payload: impl FnOnce() -> Result<DagPayload, ItcError>,
) -> Result<DagTransaction, ItcError> {
    let parents = parents
        .into_iter()
        .map(|p| hash(p, "parent"))
        .collect::<Result<Vec<_>, _>>()?;
    let tx = DagTransaction::new_signed(issuer, ChainId(chain_id), parents, sequence, payload()?);
    tx.check(ChainId(chain_id), false)
        .map_err(|e| ItcError::invalid_argument(e.to_string()))?;
    Ok(tx)
}

/// Decode canonical DAG transaction bytes (strict).
pub(crate) fn decode(bytes: &[u8]) -> Result<DagTransaction, ItcError> {
    Ok(DagTransaction::decode(bytes)?)
}

/// Search a nonce meeting `bits` within `iterations_max` tries; the nonce.
pub(crate) fn solve_pow(
    tx: &mut DagTransaction,
    bits: u32,
    iterations_max: u64,
) -> Result<u64, ItcError> {
    tx.solve_pow(bits, iterations_max)
        .map_err(|e| ItcError::PowExhausted {
            reason: e.to_string(),
        })?;
    Ok(tx.nonce)
}

/// Difficulty a device of `level` must meet with `recent` recent
/// transactions.
pub(crate) fn required_pow_bits(level: u8, recent: u32) -> Result<u32, ItcError> {
    Ok(PowParams::default().required_bits(security_level(level)?, recent))
}
