//! Canonical binary encoding.
//!
//! One encoding is used for everything ITC signs, hashes, stores or sends:
//!
//! * integers are fixed-width little-endian (`u8`, `u16`, `u32`, `u64`);
//! * booleans are one byte, `0` or `1`;
//! * fixed-size arrays (keys, hashes, signatures) are their raw bytes;
//! * variable-length sequences are a `u32` little-endian count followed by the
//!   elements, and every count is capped by a named constant;
//! * enums are a `u8` tag followed by the variant's fields;
//! * `Option<T>` is a `u8` tag `0` (none) or `1` (some) then `T`.
//!
//! Because every value has exactly one encoding, decoding is strict: any input
//! that decodes re-encodes to exactly the same bytes. Decoders never panic and
//! never reserve more memory than the remaining input can justify.
//!
//! ```
//! use itc_core::encoding::{Decode, Encode};
//! use itc_core::hash::{Domain, Hash};
//! let h = Hash::of(Domain::Transaction, b"x");
//! let bytes = h.encode();
//! assert_eq!(Hash::decode(&bytes).unwrap(), h);
//! assert!(Hash::decode(&bytes[..31]).is_err());
//! ```

use crate::hash::Hash;
use alloc::vec::Vec;

/// Error returned by every decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value was complete.
    #[error("unexpected end of input: needed {needed} more bytes, {remaining} remain")]
    UnexpectedEnd {
        /// Bytes needed.
        needed: usize,
        /// Bytes remaining.
        remaining: usize,
    },
    /// Bytes were left over after a complete value.
    #[error("{0} trailing bytes after value")]
    TrailingBytes(usize),
    /// A length prefix exceeds its named cap.
    #[error("{what} length {len} exceeds maximum {max}")]
    LengthTooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Length found.
        len: u64,
        /// Named maximum.
        max: u64,
    },
    /// An enum tag is not known.
    #[error("invalid {what} tag {tag}")]
    InvalidTag {
        /// What was being decoded.
        what: &'static str,
        /// Tag found.
        tag: u8,
    },
    /// The input is well-formed but not the canonical encoding of its value
    /// (unsorted or duplicate set members, a zero where none is allowed, ...).
    #[error("non-canonical encoding: {0}")]
    NonCanonical(&'static str),
    /// A field holds a value outside its domain (an invalid public key, ...).
    #[error("invalid value: {0}")]
    InvalidValue(&'static str),
}

/// Types with a canonical binary encoding.
pub trait Encode {
    /// Append the canonical encoding to `out`.
    fn encode_to(&self, out: &mut Vec<u8>);

    /// The canonical encoding as a new vector.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }

    /// The canonical encoding in a vector of `capacity` bytes allocated up
    /// front, for a caller that knows about how long it is (a vector grown
    /// from empty is reallocated at every doubling, which for a short value
    /// costs more than hashing it).
    ///
    /// ```
    /// use itc_core::encoding::Encode;
    /// let bytes = 7u64.encode_with_capacity(8);
    /// assert_eq!(bytes, 7u64.encode());
    /// ```
    fn encode_with_capacity(&self, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity);
        self.encode_to(&mut out);
        out
    }
}

/// Types that can be decoded strictly from their canonical encoding.
pub trait Decode: Sized {
    /// Decode one value from the reader, leaving the rest.
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decode a value that must span all of `bytes`.
    ///
    /// # Errors
    /// Any [`DecodeError`]; in particular [`DecodeError::TrailingBytes`] when
    /// the input is longer than the value.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let value = Self::decode_from(&mut reader)?;
        reader.finish()?;
        Ok(value)
    }
}

/// A cursor over input bytes for decoders.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    input: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    /// Start reading `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Reader { input, position: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.position
    }

    /// Succeed only if every byte has been read.
    ///
    /// # Errors
    /// [`DecodeError::TrailingBytes`] if bytes remain.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    /// Read `len` raw bytes.
    ///
    /// # Errors
    /// [`DecodeError::UnexpectedEnd`] if fewer remain.
    pub fn read_slice(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::UnexpectedEnd {
                needed: len,
                remaining: self.remaining(),
            });
        }
        let slice = &self.input[self.position..self.position + len];
        self.position += len;
        Ok(slice)
    }

    /// Read a fixed-size array.
    ///
    /// # Errors
    /// [`DecodeError::UnexpectedEnd`] if fewer than `N` bytes remain.
    pub fn read_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let slice = self.read_slice(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// Read one byte.
    ///
    /// # Errors
    /// [`DecodeError::UnexpectedEnd`] at end of input.
    pub fn read_u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.read_array::<1>()?[0])
    }

    /// Read a little-endian `u16`.
    ///
    /// # Errors
    /// [`DecodeError::UnexpectedEnd`] at end of input.
    pub fn read_u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.read_array()?))
    }

    /// Read a little-endian `u32`.
    ///
    /// # Errors
    /// [`DecodeError::UnexpectedEnd`] at end of input.
    pub fn read_u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.read_array()?))
    }

    /// Read a little-endian `u64`.
    ///
    /// # Errors
    /// [`DecodeError::UnexpectedEnd`] at end of input.
    pub fn read_u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.read_array()?))
    }

    /// Read a boolean (`0` or `1`).
    ///
    /// # Errors
    /// [`DecodeError::InvalidTag`] for any other byte.
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        match self.read_u8()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::InvalidTag { what: "bool", tag }),
        }
    }

    /// Read a `u32` length prefix and check it against `max`.
    ///
    /// # Errors
    /// [`DecodeError::LengthTooLarge`] if the length exceeds `max`.
    pub fn read_len(&mut self, what: &'static str, max: usize) -> Result<usize, DecodeError> {
        let len = self.read_u32()? as u64;
        if len > max as u64 {
            return Err(DecodeError::LengthTooLarge {
                what,
                len,
                max: max as u64,
            });
        }
        Ok(len as usize)
    }

    /// Read a length-prefixed byte string of at most `max` bytes.
    ///
    /// # Errors
    /// [`DecodeError::LengthTooLarge`] or [`DecodeError::UnexpectedEnd`].
    pub fn read_bytes(&mut self, what: &'static str, max: usize) -> Result<Vec<u8>, DecodeError> {
        let len = self.read_len(what, max)?;
        Ok(self.read_slice(len)?.to_vec())
    }

    /// Read a length-prefixed sequence of at most `max` values.
    ///
    /// Memory reserved up front is at most the number of remaining input
    /// bytes (not elements), so a huge count in a short input cannot exhaust
    /// a small device's heap; the vector grows only as elements actually
    /// decode.
    ///
    /// # Errors
    /// [`DecodeError::LengthTooLarge`] or any error of `T`'s decoder.
    pub fn read_vec<T: Decode>(
        &mut self,
        what: &'static str,
        max: usize,
    ) -> Result<Vec<T>, DecodeError> {
        let len = self.read_len(what, max)?;
        let element_bytes = core::mem::size_of::<T>().max(1);
        let mut out = Vec::with_capacity(len.min(self.remaining() / element_bytes));
        for _ in 0..len {
            out.push(T::decode_from(self)?);
        }
        Ok(out)
    }

    /// Read an `Option<T>` (tag `0` or `1`).
    ///
    /// # Errors
    /// [`DecodeError::InvalidTag`] for other tags, or `T`'s errors.
    pub fn read_option<T: Decode>(&mut self) -> Result<Option<T>, DecodeError> {
        match self.read_u8()? {
            0 => Ok(None),
            1 => Ok(Some(T::decode_from(self)?)),
            tag => Err(DecodeError::InvalidTag {
                what: "option",
                tag,
            }),
        }
    }
}

/// Append a length-prefixed byte string.
///
/// # Panics
/// If `bytes` is longer than `u32::MAX`; callers cap lengths far below that.
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Append a `u32` length prefix.
///
/// # Panics
/// If `len` exceeds `u32::MAX`; callers cap lengths far below that.
pub fn write_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("length capped below u32::MAX by construction");
    out.extend_from_slice(&len.to_le_bytes());
}

/// Append a length-prefixed sequence.
pub fn write_vec<T: Encode>(out: &mut Vec<u8>, items: &[T]) {
    write_len(out, items.len());
    for item in items {
        item.encode_to(out);
    }
}

/// Append an `Option<T>`.
pub fn write_option<T: Encode>(out: &mut Vec<u8>, value: &Option<T>) {
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            v.encode_to(out);
        }
    }
}

macro_rules! impl_int {
    ($($t:ty => $read:ident),*) => {$(
        impl Encode for $t {
            fn encode_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl Decode for $t {
            fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
                reader.$read()
            }
        }
    )*};
}
impl_int!(u8 => read_u8, u16 => read_u16, u32 => read_u32, u64 => read_u64);

impl Encode for bool {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Decode for bool {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_bool()
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<const N: usize> Decode for [u8; N] {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_array()
    }
}

impl Encode for Hash {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for Hash {
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Hash(reader.read_array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_count_in_short_input_is_rejected_without_allocating() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        let mut r = Reader::new(&bytes);
        assert!(matches!(
            r.read_vec::<u64>("test", 1000),
            Err(DecodeError::LengthTooLarge { .. })
        ));
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&900u32.to_le_bytes());
        let mut r = Reader::new(&bytes);
        assert!(matches!(
            r.read_vec::<u64>("test", 1000),
            Err(DecodeError::UnexpectedEnd { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        assert_eq!(
            u32::decode(&[1, 0, 0, 0, 9]),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    #[test]
    fn bool_accepts_only_zero_and_one() {
        assert_eq!(bool::decode(&[1]), Ok(true));
        assert!(bool::decode(&[2]).is_err());
    }
}
