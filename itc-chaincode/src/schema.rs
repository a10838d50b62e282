//! The fixed shape of a contribution: fields, their cells and their bounds.
//!
//! A campaign's [`Schema`] lists [`Field`]s. Each field occupies a contiguous
//! run of cells in the contribution vector, and every cell has a clamp bound
//! (`0..=max`). The contract's only output is that vector; the host clamps
//! every cell, so the schema alone bounds what one user can reveal and how
//! much one user can move the aggregate (the sensitivity that differential
//! privacy noise is calibrated to).
//!
//! Layout, in field order:
//!
//! | field | cells | cell `i` bound |
//! |---|---|---|
//! | `Sum { max }` | 1 | `max` |
//! | `Histogram { buckets, max }` | `buckets` | `max` |
//! | `Hll { precision, max_rank, .. }` | `2^precision * max_rank`, cell `(j, r)` at `j * max_rank + (r - 1)` | 1 |
//! | `Bloom { bits, .. }` | `bits` | 1 |
//! | `CountMin { width, depth, max, .. }` | `depth * width`, cell `(row, col)` at `row * width + col` | `max` |
//!
//! Canonical encoding ([`Encode`]/[`Decode`]): a field is a `u8` tag
//! (`0` Sum, `1` Histogram, `2` Hll, `3` Bloom, `4` CountMin) followed by its
//! parameters in declaration order as little-endian integers; a schema is the
//! `u32`-counted list of fields (at most [`FIELDS_MAX`]) then `outputs: u16`.
//! Decoding validates: bytes that decode are always a valid schema.

use core::ops::Range;
use itc_core::encoding::{write_vec, Decode, DecodeError, Encode, Reader};

/// Most cells in one contribution vector.
pub const CELLS_MAX: usize = 256;
/// Most fields in one schema.
pub const FIELDS_MAX: usize = 32;
/// Most values `finalize` may publish.
pub const OUTPUTS_MAX: u16 = 64;
/// Largest clamp bound of any cell.
pub const MAX_CELL_VALUE: u32 = 1 << 20;
/// Smallest HyperLogLog precision (16 registers).
pub const HLL_PRECISION_MIN: u8 = 4;
/// Largest HyperLogLog precision (256 registers).
pub const HLL_PRECISION_MAX: u8 = 8;
/// Largest HyperLogLog rank kept.
pub const HLL_MAX_RANK_MAX: u8 = 32;
/// Most hash functions of a Bloom filter.
pub const BLOOM_HASHES_MAX: u8 = 16;
/// Most rows of a count-min sketch (one 64-bit word of a BLAKE2b-512 digest each).
pub const CMS_DEPTH_MAX: u8 = 8;
/// Most distinct items one user may insert into one sketch field.
pub const ITEMS_MAX: u16 = 4096;

/// Why a schema or field is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The schema has no fields.
    #[error("schema has no fields")]
    NoFields,
    /// More than [`FIELDS_MAX`] fields.
    #[error("schema has {0} fields, more than {FIELDS_MAX}")]
    TooManyFields(usize),
    /// More than [`CELLS_MAX`] cells in total.
    #[error("schema has {0} cells, more than {CELLS_MAX}")]
    TooManyCells(usize),
    /// `outputs` is zero.
    #[error("schema declares no outputs")]
    NoOutputs,
    /// `outputs` exceeds [`OUTPUTS_MAX`].
    #[error("schema declares {0} outputs, more than {OUTPUTS_MAX}")]
    TooManyOutputs(u16),
    /// A clamp bound is zero or above [`MAX_CELL_VALUE`].
    #[error("field {field}: cell bound {max} outside 1..={MAX_CELL_VALUE}")]
    BadMax {
        /// Field index.
        field: usize,
        /// The bound given.
        max: u32,
    },
    /// A histogram with no buckets.
    #[error("field {field}: histogram has no buckets")]
    NoBuckets {
        /// Field index.
        field: usize,
    },
    /// HLL precision outside `4..=8`.
    #[error("field {field}: hll precision {precision} outside {HLL_PRECISION_MIN}..={HLL_PRECISION_MAX}")]
    BadPrecision {
        /// Field index.
        field: usize,
        /// The precision given.
        precision: u8,
    },
    /// HLL maximum rank outside `1..=32`.
    #[error("field {field}: hll max_rank {max_rank} outside 1..={HLL_MAX_RANK_MAX}")]
    BadMaxRank {
        /// Field index.
        field: usize,
        /// The rank given.
        max_rank: u8,
    },
    /// `items_max` is zero or above [`ITEMS_MAX`].
    #[error("field {field}: items_max {items_max} outside 1..={ITEMS_MAX}")]
    BadItemsMax {
        /// Field index.
        field: usize,
        /// The value given.
        items_max: u16,
    },
    /// A Bloom filter with no bits.
    #[error("field {field}: bloom filter has no bits")]
    NoBits {
        /// Field index.
        field: usize,
    },
    /// Bloom hash count outside `1..=16`.
    #[error("field {field}: bloom hashes {hashes} outside 1..={BLOOM_HASHES_MAX}")]
    BadHashes {
        /// Field index.
        field: usize,
        /// The value given.
        hashes: u8,
    },
    /// A count-min sketch with zero width.
    #[error("field {field}: count-min width is zero")]
    NoWidth {
        /// Field index.
        field: usize,
    },
    /// Count-min depth outside `1..=8`.
    #[error("field {field}: count-min depth {depth} outside 1..={CMS_DEPTH_MAX}")]
    BadDepth {
        /// Field index.
        field: usize,
        /// The value given.
        depth: u8,
    },
    /// The bytes are not a canonical schema encoding.
    #[error("schema decoding: {0}")]
    Decode(#[from] DecodeError),
}

impl SchemaError {
    /// A fixed description of the refusal, for contexts that carry only a
    /// static string (such as [`DecodeError::InvalidValue`]).
    pub fn reason(&self) -> &'static str {
        match self {
            SchemaError::NoFields => "schema has no fields",
            SchemaError::TooManyFields(_) => "schema has too many fields",
            SchemaError::TooManyCells(_) => "schema has too many cells",
            SchemaError::NoOutputs => "schema declares no outputs",
            SchemaError::TooManyOutputs(_) => "schema declares too many outputs",
            SchemaError::BadMax { .. } => "cell bound out of range",
            SchemaError::NoBuckets { .. } => "histogram has no buckets",
            SchemaError::BadPrecision { .. } => "hll precision out of range",
            SchemaError::BadMaxRank { .. } => "hll max_rank out of range",
            SchemaError::BadItemsMax { .. } => "items_max out of range",
            SchemaError::NoBits { .. } => "bloom filter has no bits",
            SchemaError::BadHashes { .. } => "bloom hashes out of range",
            SchemaError::NoWidth { .. } => "count-min width is zero",
            SchemaError::BadDepth { .. } => "count-min depth out of range",
            SchemaError::Decode(_) => "schema decoding failed",
        }
    }
}

/// One field of a contribution: a kind of statistic and its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// One cell clamped to `[0, max]`; a counter is `Sum { max: 1 }`.
    Sum {
        /// Clamp bound.
        max: u32,
    },
    /// `buckets` cells, each clamped to `[0, max]`.
    Histogram {
        /// Number of buckets (cells).
        buckets: u16,
        /// Clamp bound of every bucket.
        max: u32,
    },
    /// A HyperLogLog sketch in summable unary form: `2^precision` registers,
    /// ranks capped at `max_rank`; cell `(j, r)` (`r` in `1..=max_rank`) is 1
    /// iff register `j >= r`. At most `items_max` distinct items per user are
    /// inserted (later ones are ignored).
    Hll {
        /// Register-index bits, `4..=8`.
        precision: u8,
        /// Largest rank kept, `1..=32`.
        max_rank: u8,
        /// Most distinct items one user inserts.
        items_max: u16,
    },
    /// A Bloom filter: `bits` cells, each 0/1.
    Bloom {
        /// Number of bits (cells).
        bits: u16,
        /// Hash functions per item, `1..=16`.
        hashes: u8,
        /// Most distinct items one user inserts.
        items_max: u16,
    },
    /// A count-min sketch: `depth * width` cells, each clamped to `[0, max]`.
    CountMin {
        /// Columns per row.
        width: u16,
        /// Rows, `1..=8`.
        depth: u8,
        /// Clamp bound of every cell.
        max: u32,
        /// Most distinct items one user inserts.
        items_max: u16,
    },
}

impl Field {
    /// Number of cells the field occupies (computed in `usize`, no overflow).
    pub fn cells(&self) -> usize {
        match *self {
            Field::Sum { .. } => 1,
            Field::Histogram { buckets, .. } => usize::from(buckets),
            Field::Hll {
                precision,
                max_rank,
                ..
            } => (1usize << precision.min(16)) * usize::from(max_rank),
            Field::Bloom { bits, .. } => usize::from(bits),
            Field::CountMin { width, depth, .. } => usize::from(width) * usize::from(depth),
        }
    }

    /// The clamp bound of each of the field's cells.
    pub fn cell_bound(&self) -> u32 {
        match *self {
            Field::Sum { max } | Field::Histogram { max, .. } | Field::CountMin { max, .. } => max,
            Field::Hll { .. } | Field::Bloom { .. } => 1,
        }
    }

    /// Whether the contract fills the cells itself with `cell_add` (sums and
    /// histograms) rather than through a sketch helper.
    pub fn is_additive(&self) -> bool {
        matches!(self, Field::Sum { .. } | Field::Histogram { .. })
    }

    /// The `items_max` of a sketch field, `None` for sums and histograms.
    pub fn items_max(&self) -> Option<u16> {
        match *self {
            Field::Hll { items_max, .. }
            | Field::Bloom { items_max, .. }
            | Field::CountMin { items_max, .. } => Some(items_max),
            Field::Sum { .. } | Field::Histogram { .. } => None,
        }
    }

    /// Check the field's parameters; `index` names it in the error.
    ///
    /// # Errors
    /// The first parameter out of its range.
    pub fn validate(&self, index: usize) -> Result<(), SchemaError> {
        let field = index;
        let check_max = |max: u32| {
            if max == 0 || max > MAX_CELL_VALUE {
                Err(SchemaError::BadMax { field, max })
            } else {
                Ok(())
            }
        };
        let check_items = |items_max: u16| {
            if items_max == 0 || items_max > ITEMS_MAX {
                Err(SchemaError::BadItemsMax { field, items_max })
            } else {
                Ok(())
            }
        };
        match *self {
            Field::Sum { max } => check_max(max),
            Field::Histogram { buckets, max } => {
                if buckets == 0 {
                    return Err(SchemaError::NoBuckets { field });
                }
                check_max(max)
            }
            Field::Hll {
                precision,
                max_rank,
                items_max,
            } => {
                if !(HLL_PRECISION_MIN..=HLL_PRECISION_MAX).contains(&precision) {
                    return Err(SchemaError::BadPrecision { field, precision });
                }
                if !(1..=HLL_MAX_RANK_MAX).contains(&max_rank) {
                    return Err(SchemaError::BadMaxRank { field, max_rank });
                }
                check_items(items_max)
            }
            Field::Bloom {
                bits,
                hashes,
                items_max,
            } => {
                if bits == 0 {
                    return Err(SchemaError::NoBits { field });
                }
                if !(1..=BLOOM_HASHES_MAX).contains(&hashes) {
                    return Err(SchemaError::BadHashes { field, hashes });
                }
                check_items(items_max)
            }
            Field::CountMin {
                width,
                depth,
                max,
                items_max,
            } => {
                if width == 0 {
                    return Err(SchemaError::NoWidth { field });
                }
                if !(1..=CMS_DEPTH_MAX).contains(&depth) {
                    return Err(SchemaError::BadDepth { field, depth });
                }
                check_max(max)?;
                check_items(items_max)
            }
        }
    }

    /// Squared L2 sensitivity of the field (see [`Schema::sensitivity_sq`]).
    fn sensitivity_sq(&self) -> u64 {
        let bound = u64::from(self.cell_bound());
        let cells = self.cells() as u64;
        let touched = match *self {
            // One cell moves by at most `max`.
            Field::Sum { .. } => 1,
            // Nothing forces a histogram contribution to be one-hot: every
            // bucket may move by `max`.
            Field::Histogram { .. } => cells,
            // Each item sets at most `max_rank` unary cells of one register.
            Field::Hll {
                max_rank,
                items_max,
                ..
            } => cells.min(u64::from(items_max) * u64::from(max_rank)),
            // Each item sets at most `hashes` bits.
            Field::Bloom {
                hashes, items_max, ..
            } => cells.min(u64::from(items_max) * u64::from(hashes)),
            // Each item touches one cell per row.
            Field::CountMin {
                depth, items_max, ..
            } => cells.min(u64::from(items_max) * u64::from(depth)),
        };
        touched * bound * bound
    }
}

impl Encode for Field {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match *self {
            Field::Sum { max } => {
                out.push(0);
                max.encode_to(out);
            }
            Field::Histogram { buckets, max } => {
                out.push(1);
                buckets.encode_to(out);
                max.encode_to(out);
            }
            Field::Hll {
                precision,
                max_rank,
                items_max,
            } => {
                out.push(2);
                precision.encode_to(out);
                max_rank.encode_to(out);
                items_max.encode_to(out);
            }
            Field::Bloom {
                bits,
                hashes,
                items_max,
            } => {
                out.push(3);
                bits.encode_to(out);
                hashes.encode_to(out);
                items_max.encode_to(out);
            }
            Field::CountMin {
                width,
                depth,
                max,
                items_max,
            } => {
                out.push(4);
                width.encode_to(out);
                depth.encode_to(out);
                max.encode_to(out);
                items_max.encode_to(out);
            }
        }
    }
}

impl Decode for Field {
    /// Decodes and validates the field's parameters (a field alone is named
    /// index 0 in the validation error, which decoding reduces to a reason).
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let field = read_field_raw(reader)?;
        field
            .validate(0)
            .map_err(|e| DecodeError::InvalidValue(e.reason()))?;
        Ok(field)
    }
}

/// The shape of every contribution to one campaign.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Schema {
    /// The fields, laid out one after the other.
    pub fields: Vec<Field>,
    /// Length of `finalize`'s result vector.
    pub outputs: u16,
}

impl Schema {
    /// Check every cap and every field's parameters.
    ///
    /// # Errors
    /// The first violated rule, in this order: field count, each field's
    /// parameters, total cells, outputs.
    pub fn validate(&self) -> Result<(), SchemaError> {
        if self.fields.is_empty() {
            return Err(SchemaError::NoFields);
        }
        if self.fields.len() > FIELDS_MAX {
            return Err(SchemaError::TooManyFields(self.fields.len()));
        }
        for (index, field) in self.fields.iter().enumerate() {
            field.validate(index)?;
        }
        let cells = self.cells();
        if cells > CELLS_MAX {
            return Err(SchemaError::TooManyCells(cells));
        }
        if self.outputs == 0 {
            return Err(SchemaError::NoOutputs);
        }
        if self.outputs > OUTPUTS_MAX {
            return Err(SchemaError::TooManyOutputs(self.outputs));
        }
        Ok(())
    }

    /// Total number of cells (saturating; meaningful for a valid schema).
    pub fn cells(&self) -> usize {
        self.fields
            .iter()
            .fold(0usize, |acc, f| acc.saturating_add(f.cells()))
    }

    /// The cells of field `field`, or `None` if there is no such field.
    pub fn field_range(&self, field: usize) -> Option<Range<usize>> {
        let target = self.fields.get(field)?;
        let start = self.fields[..field]
            .iter()
            .fold(0usize, |acc, f| acc.saturating_add(f.cells()));
        Some(start..start.saturating_add(target.cells()))
    }

    /// The field that owns cell `cell`, or `None` past the end.
    pub fn field_of_cell(&self, cell: usize) -> Option<usize> {
        let mut start = 0usize;
        for (index, field) in self.fields.iter().enumerate() {
            let end = start.saturating_add(field.cells());
            if cell < end {
                return Some(index);
            }
            start = end;
        }
        None
    }

    /// The clamp bound of every cell, in order.
    pub fn cell_max(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.cells().min(CELLS_MAX));
        for field in &self.fields {
            let bound = field.cell_bound();
            out.extend(core::iter::repeat_n(bound, field.cells()));
        }
        out
    }

    /// Squared L2 sensitivity of field `field`: the most one user's cells of
    /// this field can move the aggregate, squared. Conservative per kind:
    ///
    /// * `Sum { max }`: `max²` (one cell from 0 to `max`);
    /// * `Histogram { buckets, max }`: `buckets · max²` (contributions are not
    ///   forced to be one-hot, so every bucket may move by `max`);
    /// * `Hll`: `min(cells, items_max · max_rank)` (each distinct item sets at
    ///   most `max_rank` unary 0/1 cells);
    /// * `Bloom`: `min(bits, items_max · hashes)` (each item sets at most
    ///   `hashes` bits);
    /// * `CountMin`: `min(cells, items_max · depth) · max²` (each item touches
    ///   one cell per row, each cell clamped at `max`).
    ///
    /// `None` if there is no such field.
    pub fn sensitivity_sq(&self, field: usize) -> Option<u64> {
        self.fields.get(field).map(Field::sensitivity_sq)
    }

    /// Decode and validate, keeping the precise reason of a refusal.
    ///
    /// # Errors
    /// [`SchemaError::Decode`] for malformed bytes, or the validation error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Schema, SchemaError> {
        let mut reader = Reader::new(bytes);
        let schema = decode_unvalidated(&mut reader)?;
        reader.finish()?;
        schema.validate()?;
        Ok(schema)
    }
}

/// Decode a schema's structure (field tags and integers) without validation.
fn decode_unvalidated(reader: &mut Reader<'_>) -> Result<Schema, SchemaError> {
    let count = reader.read_len("schema fields", FIELDS_MAX)?;
    let mut fields = Vec::with_capacity(count);
    for _ in 0..count {
        let field = read_field_raw(reader)?;
        fields.push(field);
    }
    let outputs = reader.read_u16()?;
    Ok(Schema { fields, outputs })
}

impl Encode for Schema {
    fn encode_to(&self, out: &mut Vec<u8>) {
        write_vec(out, &self.fields);
        self.outputs.encode_to(out);
    }
}

impl Decode for Schema {
    /// Decodes then validates; a validation failure is
    /// [`DecodeError::InvalidValue`] with the reason (use
    /// [`Schema::from_bytes`] for the full [`SchemaError`]).
    fn decode_from(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let schema = decode_unvalidated(reader).map_err(|e| match e {
            SchemaError::Decode(d) => d,
            other => DecodeError::InvalidValue(other.reason()),
        })?;
        schema
            .validate()
            .map_err(|e| DecodeError::InvalidValue(e.reason()))?;
        Ok(schema)
    }
}

/// Read one field's tag and parameters, without validation.
fn read_field_raw(reader: &mut Reader<'_>) -> Result<Field, DecodeError> {
    Ok(match reader.read_u8()? {
        0 => Field::Sum {
            max: reader.read_u32()?,
        },
        1 => Field::Histogram {
            buckets: reader.read_u16()?,
            max: reader.read_u32()?,
        },
        2 => Field::Hll {
            precision: reader.read_u8()?,
            max_rank: reader.read_u8()?,
            items_max: reader.read_u16()?,
        },
        3 => Field::Bloom {
            bits: reader.read_u16()?,
            hashes: reader.read_u8()?,
            items_max: reader.read_u16()?,
        },
        4 => Field::CountMin {
            width: reader.read_u16()?,
            depth: reader.read_u8()?,
            max: reader.read_u32()?,
            items_max: reader.read_u16()?,
        },
        tag => return Err(DecodeError::InvalidTag { what: "field", tag }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lamp() -> Schema {
        Schema {
            fields: vec![
                Field::Sum { max: 1 },
                Field::Histogram {
                    buckets: 24,
                    max: 3,
                },
                Field::Hll {
                    precision: 4,
                    max_rank: 4,
                    items_max: 8,
                },
                Field::Bloom {
                    bits: 64,
                    hashes: 3,
                    items_max: 10,
                },
                Field::CountMin {
                    width: 16,
                    depth: 2,
                    max: 100,
                    items_max: 4,
                },
            ],
            outputs: 4,
        }
    }

    #[test]
    fn layout_bounds_and_sensitivity() {
        let s = lamp();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.cells(), 1 + 24 + 64 + 64 + 32);
        assert_eq!(s.field_range(0), Some(0..1));
        assert_eq!(s.field_range(1), Some(1..25));
        assert_eq!(s.field_range(2), Some(25..89));
        assert_eq!(s.field_range(4), Some(153..185));
        assert_eq!(s.field_range(5), None);
        assert_eq!(s.field_of_cell(25), Some(2));
        assert_eq!(s.field_of_cell(185), None);
        let max = s.cell_max();
        assert_eq!(max.len(), s.cells());
        assert_eq!(
            (max[0], max[1], max[25], max[89], max[184]),
            (1, 3, 1, 1, 100)
        );
        assert_eq!(s.sensitivity_sq(0), Some(1));
        assert_eq!(s.sensitivity_sq(1), Some(24 * 9));
        assert_eq!(s.sensitivity_sq(2), Some(8 * 4)); // min(64, 8 items × 4 ranks)
        assert_eq!(s.sensitivity_sq(3), Some(30)); // min(64, 10 × 3)
        assert_eq!(s.sensitivity_sq(4), Some(8 * 10_000)); // min(32, 4 × 2) × 100²
        assert_eq!(s.sensitivity_sq(5), None);
    }

    #[test]
    fn encoding_round_trips_and_is_strict() {
        let s = lamp();
        let bytes = s.encode();
        assert_eq!(Schema::decode(&bytes), Ok(s.clone()));
        assert_eq!(Schema::from_bytes(&bytes), Ok(s.clone()));
        for f in &s.fields {
            assert_eq!(Field::decode(&f.encode()), Ok(*f));
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            Schema::decode(&trailing),
            Err(DecodeError::TrailingBytes(1))
        );
        for cut in 0..bytes.len() {
            assert!(Schema::decode(&bytes[..cut]).is_err());
        }
        let mut bad_tag = bytes.clone();
        bad_tag[4] = 9;
        assert_eq!(
            Schema::decode(&bad_tag),
            Err(DecodeError::InvalidTag {
                what: "field",
                tag: 9
            })
        );
        let mut too_many = bytes;
        too_many[..4].copy_from_slice(&(FIELDS_MAX as u32 + 1).to_le_bytes());
        assert!(matches!(
            Schema::decode(&too_many),
            Err(DecodeError::LengthTooLarge { .. })
        ));
        // decoding validates
        let invalid = Schema {
            fields: vec![Field::Sum { max: 0 }],
            outputs: 1,
        };
        assert_eq!(
            Schema::decode(&invalid.encode()),
            Err(DecodeError::InvalidValue("cell bound out of range"))
        );
        assert_eq!(
            Schema::from_bytes(&invalid.encode()),
            Err(SchemaError::BadMax { field: 0, max: 0 })
        );
        assert_eq!(
            Field::decode(
                &Field::Bloom {
                    bits: 0,
                    hashes: 1,
                    items_max: 1
                }
                .encode()
            ),
            Err(DecodeError::InvalidValue("bloom filter has no bits"))
        );
    }

    fn one(field: Field) -> Result<(), SchemaError> {
        Schema {
            fields: vec![Field::Sum { max: 1 }, field],
            outputs: 1,
        }
        .validate()
    }

    #[test]
    fn every_invalid_parameter_is_refused_with_its_reason() {
        let f = 1;
        assert_eq!(
            one(Field::Sum { max: 0 }),
            Err(SchemaError::BadMax { field: f, max: 0 })
        );
        let over = MAX_CELL_VALUE + 1;
        assert_eq!(
            one(Field::Sum { max: over }),
            Err(SchemaError::BadMax {
                field: f,
                max: over
            })
        );
        assert_eq!(
            one(Field::Sum {
                max: MAX_CELL_VALUE
            }),
            Ok(())
        );
        assert_eq!(
            one(Field::Histogram { buckets: 0, max: 1 }),
            Err(SchemaError::NoBuckets { field: f })
        );
        assert_eq!(
            one(Field::Histogram { buckets: 2, max: 0 }),
            Err(SchemaError::BadMax { field: f, max: 0 })
        );
        for precision in [0, 3, 9] {
            assert_eq!(
                one(Field::Hll {
                    precision,
                    max_rank: 1,
                    items_max: 1
                }),
                Err(SchemaError::BadPrecision {
                    field: f,
                    precision
                })
            );
        }
        for max_rank in [0, 33] {
            assert_eq!(
                one(Field::Hll {
                    precision: 4,
                    max_rank,
                    items_max: 1
                }),
                Err(SchemaError::BadMaxRank { field: f, max_rank })
            );
        }
        for items_max in [0, ITEMS_MAX + 1] {
            assert_eq!(
                one(Field::Hll {
                    precision: 4,
                    max_rank: 1,
                    items_max
                }),
                Err(SchemaError::BadItemsMax {
                    field: f,
                    items_max
                })
            );
            assert_eq!(
                one(Field::Bloom {
                    bits: 8,
                    hashes: 1,
                    items_max
                }),
                Err(SchemaError::BadItemsMax {
                    field: f,
                    items_max
                })
            );
            assert_eq!(
                one(Field::CountMin {
                    width: 8,
                    depth: 1,
                    max: 1,
                    items_max
                }),
                Err(SchemaError::BadItemsMax {
                    field: f,
                    items_max
                })
            );
        }
        assert_eq!(
            one(Field::Bloom {
                bits: 0,
                hashes: 1,
                items_max: 1
            }),
            Err(SchemaError::NoBits { field: f })
        );
        for hashes in [0, BLOOM_HASHES_MAX + 1] {
            assert_eq!(
                one(Field::Bloom {
                    bits: 8,
                    hashes,
                    items_max: 1
                }),
                Err(SchemaError::BadHashes { field: f, hashes })
            );
        }
        assert_eq!(
            one(Field::CountMin {
                width: 0,
                depth: 1,
                max: 1,
                items_max: 1
            }),
            Err(SchemaError::NoWidth { field: f })
        );
        for depth in [0, CMS_DEPTH_MAX + 1] {
            assert_eq!(
                one(Field::CountMin {
                    width: 8,
                    depth,
                    max: 1,
                    items_max: 1
                }),
                Err(SchemaError::BadDepth { field: f, depth })
            );
        }
        assert_eq!(
            one(Field::CountMin {
                width: 8,
                depth: 1,
                max: 0,
                items_max: 1
            }),
            Err(SchemaError::BadMax { field: f, max: 0 })
        );
    }

    #[test]
    fn caps_are_enforced() {
        let empty = Schema {
            fields: vec![],
            outputs: 1,
        };
        assert_eq!(empty.validate(), Err(SchemaError::NoFields));
        let many = Schema {
            fields: vec![Field::Sum { max: 1 }; FIELDS_MAX + 1],
            outputs: 1,
        };
        assert_eq!(
            many.validate(),
            Err(SchemaError::TooManyFields(FIELDS_MAX + 1))
        );
        let wide = Schema {
            fields: vec![
                Field::Histogram {
                    buckets: 200,
                    max: 1,
                },
                Field::Bloom {
                    bits: 57,
                    hashes: 1,
                    items_max: 1,
                },
            ],
            outputs: 1,
        };
        assert_eq!(wide.validate(), Err(SchemaError::TooManyCells(257)));
        let huge_hll = Schema {
            fields: vec![Field::Hll {
                precision: 8,
                max_rank: 32,
                items_max: 1,
            }],
            outputs: 1,
        };
        assert_eq!(huge_hll.validate(), Err(SchemaError::TooManyCells(8192)));
        let no_outputs = Schema {
            fields: vec![Field::Sum { max: 1 }],
            outputs: 0,
        };
        assert_eq!(no_outputs.validate(), Err(SchemaError::NoOutputs));
        let outputs = OUTPUTS_MAX + 1;
        let many_outputs = Schema {
            fields: vec![Field::Sum { max: 1 }],
            outputs,
        };
        assert_eq!(
            many_outputs.validate(),
            Err(SchemaError::TooManyOutputs(outputs))
        );
        let exactly = Schema {
            fields: vec![Field::Histogram {
                buckets: 256,
                max: MAX_CELL_VALUE,
            }],
            outputs: OUTPUTS_MAX,
        };
        assert_eq!(exactly.validate(), Ok(()));
        assert_eq!(exactly.sensitivity_sq(0), Some(256 * (1u64 << 40)));
    }
}
