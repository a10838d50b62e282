//! ChainCode: the lamp's event record, contract hashes, the deploy body and
//! the check of a payment receipt.

use super::{hash, public_key};
use crate::api::chaincode::LAMP_EVENT_BYTES;
use crate::error::ItcError;
use itc_chaincode::campaign::{self, ChainCodeTx, MODULE_ID};
use itc_chaincode::contract::CODE_BYTES_MAX;
use itc_core::encoding::{Decode, Encode};
use itc_core::ledger::state_key;
use itc_core::types::BlockHeader;
use itc_spv::StateEntryProof;

/// One lamp event: time (s), model, on/off, little-endian, zero-padded.
pub(crate) fn lamp_event(time_s: u64, model: u32, on: bool) -> [u8; LAMP_EVENT_BYTES] {
    let mut record = [0u8; LAMP_EVENT_BYTES];
    record[..8].copy_from_slice(&time_s.to_le_bytes());
    record[8..12].copy_from_slice(&model.to_le_bytes());
    record[12] = u8::from(on);
    record
}

/// The hash a deployed contract is known by.
pub(crate) fn contract_hash(code: &[u8]) -> [u8; 32] {
    itc_chaincode::contract::code_hash(code).0
}

/// The `Deploy` body for 1..=[`CODE_BYTES_MAX`] bytes of code.
pub(crate) fn deploy_tx_body(code: &[u8]) -> Result<Vec<u8>, ItcError> {
    if code.is_empty() || code.len() > CODE_BYTES_MAX {
        return Err(ItcError::invalid_argument(format!(
            "contract code must be 1..={CODE_BYTES_MAX} bytes, got {}",
            code.len()
        )));
    }
    Ok(ChainCodeTx::Deploy {
        code: code.to_vec(),
    }
    .encode())
}

/// What the campaign paid `member`, proven against `header` (`None`: not
/// paid).
pub(crate) fn verify_payment_receipt(
    header: &[u8],
    campaign_id: &[u8],
    member: &[u8],
    proof: &[u8],
) -> Result<Option<u64>, ItcError> {
    let header = BlockHeader::decode(header)?;
    let id = hash(campaign_id, "campaign id")?;
    let member = public_key(member, "member")?;
    let entry = StateEntryProof::decode(proof)?;
    let key = state_key::module(MODULE_ID, &campaign::keys::paid(&id, &member));
    let paid = entry
        .verify(&header, &key)
        .map_err(ItcError::proof_rejected)?;
    Ok(paid.map(u64::decode).transpose()?)
}
