//! What a light client's users sign: a grantee's command, an owner's
//! recovery of a device.

use super::public_key;
use crate::error::ItcError;
use itc_core::encoding::{Decode, Encode};
use itc_core::keys::Keypair;
use itc_core::types::{BlockHeader, ChainId, Permissions};
use itc_spv::{HeaderUpdate, OwnerRecovery, SignedCommand, StateEntryProof};

/// `grantee`'s command `action` for `device` at `time_ms`, encoded.
pub(crate) fn sign_command(
    grantee: &Keypair,
    chain_id: u32,
    device: &[u8],
    action: u32,
    time_ms: u64,
) -> Result<Vec<u8>, ItcError> {
    let device = public_key(device, "device")?;
    let command = SignedCommand::new_signed(
        grantee,
        ChainId(chain_id),
        device,
        Permissions(action),
        time_ms,
    );
    Ok(command.encode())
}

/// `owner`'s signed recovery of `device` onto the header of `update` (which
/// must carry its validator set), encoded.
pub(crate) fn sign_owner_recovery(
    owner: &Keypair,
    device: &[u8],
    trusted_header: &[u8],
    update: &[u8],
    device_proof: &[u8],
) -> Result<Vec<u8>, ItcError> {
    let device = public_key(device, "device")?;
    let trusted_header = BlockHeader::decode(trusted_header)?;
    let update = HeaderUpdate::decode(update)?;
    if update.validators.is_none() {
        return Err(ItcError::invalid_argument(
            "a recovery's header update must carry its validator set",
        ));
    }
    let proof = StateEntryProof::decode(device_proof)?;
    Ok(OwnerRecovery::new_signed(owner, &device, &trusted_header, update, proof).encode())
}
