//! Minimal lowercase hex encoding, used for JSON genesis files and display.

use alloc::string::String;
use alloc::vec::Vec;

/// Error decoding a hex string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HexError {
    /// The string has an odd number of characters.
    #[error("hex string has odd length {0}")]
    OddLength(usize),
    /// A character is not a hex digit.
    #[error("invalid hex character at offset {0}")]
    InvalidCharacter(usize),
    /// The decoded value has the wrong length.
    #[error("expected {expected} bytes, found {found}")]
    WrongLength {
        /// Expected number of bytes.
        expected: usize,
        /// Number of bytes found.
        found: usize,
    },
}

/// Encode bytes as lowercase hex.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Decode a hex string (either case).
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(HexError::OddLength(bytes.len()));
    }
    let nibble = |i: usize| -> Result<u8, HexError> {
        match bytes[i] {
            c @ b'0'..=b'9' => Ok(c - b'0'),
            c @ b'a'..=b'f' => Ok(c - b'a' + 10),
            c @ b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(HexError::InvalidCharacter(i)),
        }
    };
    (0..bytes.len() / 2)
        .map(|i| Ok((nibble(2 * i)? << 4) | nibble(2 * i + 1)?))
        .collect()
}

/// Decode a hex string into exactly `N` bytes.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let v = decode(s)?;
    v.as_slice().try_into().map_err(|_| HexError::WrongLength {
        expected: N,
        found: v.len(),
    })
}
