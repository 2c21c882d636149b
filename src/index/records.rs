//! Fixed-layout values stored in the index tables.

use serde::{Deserialize, Serialize};

use super::error::IndexError;

type Result<T> = std::result::Result<T, IndexError>;
use crate::hash::{Hash, PackId};
use crate::object::ObjectKind;
use crate::object::codec::Compression;

fn corrupt(table: &'static str, len: usize) -> IndexError {
    IndexError::Layout { table, len }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("length checked by caller"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("length checked by caller"))
}

fn hash_at(b: &[u8], at: usize) -> Hash {
    Hash::from_bytes(b[at..at + 32].try_into().expect("length checked by caller"))
}

/// Where an object's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLocation {
    /// The pack holding it.
    pub pack: PackId,
    /// Offset of its stored bytes in the pack.
    pub offset: u64,
    /// Stored length.
    pub stored_len: u32,
    /// Raw (decompressed) length.
    pub raw_len: u32,
    /// What it is.
    pub kind: ObjectKind,
    /// How it is stored.
    pub compression: Compression,
}

/// An object row as `objects-1` stores it: the pack by its number, the numbers as
/// postcard varints (10-14 bytes for most objects; the 32-byte pack id of `objects-0`
/// made rows of 50).
#[derive(Serialize, Deserialize)]
struct Row {
    pack: u32,
    offset: u64,
    stored_len: u32,
    raw_len: u32,
    kind: u8,
    compression: u8,
}

/// The longest encoded [`Row`]: five varints at their longest and two bytes, then a
/// block member's start (a varint u32 after the row, only when `compression` is 3).
const ROW_MAX: usize = 5 + 10 + 5 + 5 + 1 + 1 + 5;

/// An encoded object row.
pub(super) struct RowBytes {
    buf: [u8; ROW_MAX],
    len: usize,
}

impl RowBytes {
    pub(super) fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl ObjectLocation {
    const LEGACY_LEN: usize = 50;

    /// Where `entry` of pack `pack` is.
    #[must_use]
    pub fn in_pack(pack: crate::hash::PackId, entry: &crate::store::PackEntry) -> Self {
        ObjectLocation {
            pack,
            offset: entry.offset,
            stored_len: entry.stored_len,
            raw_len: entry.raw_len,
            kind: entry.kind,
            compression: entry.compression,
        }
    }

    /// This location as an `objects-1` row, its pack being number `pack`.
    pub(super) fn encode(&self, pack: u32) -> RowBytes {
        let row = Row {
            pack,
            offset: self.offset,
            stored_len: self.stored_len,
            raw_len: self.raw_len,
            kind: self.kind as u8,
            compression: self.compression.to_byte(),
        };
        let mut buf = [0u8; ROW_MAX];
        let mut len = postcard::to_slice(&row, &mut buf)
            .expect("ROW_MAX holds the longest row")
            .len();
        if let Compression::Block { start } = self.compression {
            len += postcard::to_slice(&start, &mut buf[len..])
                .expect("ROW_MAX holds a block member's start")
                .len();
        }
        RowBytes { buf, len }
    }

    /// The pack number an `objects-1` row names (what a check of its pack needs).
    pub(super) fn pack_number(b: &[u8]) -> Result<u32> {
        Ok(Self::row(b)?.0.pack)
    }

    /// A row and, for a block member, its start.
    fn row(b: &[u8]) -> Result<(Row, Option<u32>)> {
        match postcard::take_from_bytes::<Row>(b) {
            Ok((row, [])) if row.compression != 3 => Ok((row, None)),
            Ok((row, rest)) if row.compression == 3 => {
                match postcard::take_from_bytes::<u32>(rest) {
                    Ok((start, [])) => Ok((row, Some(start))),
                    _ => Err(corrupt("objects", b.len())),
                }
            }
            _ => Err(corrupt("objects", b.len())),
        }
    }

    /// Decodes an `objects-1` row; `pack_id` names the pack of a number.
    pub(super) fn decode(b: &[u8], pack_id: impl FnOnce(u32) -> Result<PackId>) -> Result<Self> {
        let (row, start) = Self::row(b)?;
        Ok(ObjectLocation {
            pack: pack_id(row.pack)?,
            offset: row.offset,
            stored_len: row.stored_len,
            raw_len: row.raw_len,
            kind: ObjectKind::from_byte(row.kind)?,
            compression: Compression::from_parts(row.compression, start)?,
        })
    }

    /// Decodes an `objects-0` row: 50 bytes, little-endian, the pack by its id.
    pub(super) fn decode_legacy(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEGACY_LEN {
            return Err(corrupt("objects-0", b.len()));
        }
        Ok(ObjectLocation {
            pack: PackId(hash_at(b, 0)),
            offset: u64_at(b, 32),
            stored_len: u32_at(b, 40),
            raw_len: u32_at(b, 44),
            kind: ObjectKind::from_byte(b[48])?,
            compression: Compression::from_byte(b[49])?,
        })
    }

    /// This location as an `objects-0` row (what releases before `objects-1` wrote;
    /// tests build such an index with it).
    #[cfg(test)]
    pub(super) fn encode_legacy(&self) -> [u8; Self::LEGACY_LEN] {
        let mut b = [0u8; Self::LEGACY_LEN];
        b[..32].copy_from_slice(self.pack.0.as_bytes());
        b[32..40].copy_from_slice(&self.offset.to_le_bytes());
        b[40..44].copy_from_slice(&self.stored_len.to_le_bytes());
        b[44..48].copy_from_slice(&self.raw_len.to_le_bytes());
        b[48] = self.kind as u8;
        b[49] = self.compression.to_byte();
        b
    }
}

/// What the index knows of a pack: 20 bytes, little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackRecord {
    /// Length in bytes.
    pub size: u64,
    /// Objects in its trailer.
    pub objects: u32,
    /// When it was indexed, seconds since the epoch.
    pub created_s: u64,
}

impl PackRecord {
    const LEN: usize = 20;

    pub(super) fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[..8].copy_from_slice(&self.size.to_le_bytes());
        b[8..12].copy_from_slice(&self.objects.to_le_bytes());
        b[12..20].copy_from_slice(&self.created_s.to_le_bytes());
        b
    }

    pub(super) fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(corrupt("packs", b.len()));
        }
        Ok(PackRecord {
            size: u64_at(b, 0),
            objects: u32_at(b, 8),
            created_s: u64_at(b, 12),
        })
    }
}

/// A file's stat at the time it was last hashed, and the id it hashed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatRecord {
    /// Length.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Change time, nanoseconds since the epoch (catches `touch -m` back-dating).
    pub ctime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// Content id.
    pub id: Hash,
}

impl StatRecord {
    /// Whether `other` describes the same unchanged file (ids aside).
    #[must_use]
    pub fn same_stat(&self, other: &StatRecord) -> bool {
        (self.size, self.mtime_ns, self.ctime_ns, self.inode)
            == (other.size, other.mtime_ns, other.ctime_ns, other.inode)
    }

    /// This row with a size no file has, for a file changed too recently for its stat
    /// to vouch for it (racy): it never vouches, so the next scan reads the file again,
    /// but it still names the content, which that scan takes as the file's previous
    /// version (whose chunks it looks for first, and compresses changed ones against).
    #[must_use]
    pub fn unvouched(self) -> StatRecord {
        StatRecord {
            size: u64::MAX,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block member's row carries its start after the row; the other rows are as
    /// they were (a whole zstd object: 7 bytes here).
    #[test]
    fn rows_of_block_members_keep_their_start() {
        let pack = PackId(Hash::of(b"pack"));
        let mut loc = ObjectLocation {
            pack,
            offset: 25,
            stored_len: 300,
            raw_len: 7,
            kind: ObjectKind::Chunk,
            compression: Compression::Zstd,
        };
        assert_eq!(loc.encode(9).as_slice().len(), 7);
        for compression in [Compression::Zstd, Compression::Block { start: 70_000 }] {
            loc.compression = compression;
            let row = loc.encode(9);
            let back = ObjectLocation::decode(row.as_slice(), |n| {
                assert_eq!(n, 9);
                Ok(pack)
            })
            .unwrap();
            assert_eq!(back, loc);
        }
        // A member's row without its start, or another row with one, is corrupt.
        let member = loc.encode(9);
        let short = &member.as_slice()[..member.as_slice().len() - 3];
        assert!(ObjectLocation::decode(short, |_| Ok(pack)).is_err());
        loc.compression = Compression::Zstd;
        let mut long = loc.encode(9).as_slice().to_vec();
        long.push(5);
        assert!(ObjectLocation::decode(&long, |_| Ok(pack)).is_err());
    }
}
