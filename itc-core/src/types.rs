//! Ledger types: transactions, blocks, votes, certificates and validator sets.

use crate::encoding::{Decode, DecodeError, Encode, Reader};
use alloc::vec::Vec;

/// Identifier of one ITC network. Bound into every signature and header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ChainId(pub u32);

impl Encode for ChainId {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.0.encode_to(out);
    }
}

impl Decode for ChainId {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ChainId(reader.read_u32()?))
    }
}
