//! The pack file format.
//!
//! ```text
//! +------------+---------+---------------------+-----------------+-------------+----------+
//! | "REELPACK" | version | object bytes …      | trailer         | trailer len | "REELTRLR" |
//! |  8 bytes   | 1 byte  | stored back to back | envelope (tag 4)| u32 LE      | 8 bytes  |
//! +------------+---------+---------------------+-----------------+-------------+----------+
//! ```
//!
//! The trailer lists every object (kind, id, offset, stored length, raw length,
//! compression), so the index can be rebuilt from packs alone. A pack is named by the
//! BLAKE3 of all of its bytes.

use serde::{Deserialize, Serialize};

use crate::codec::Compression;
use crate::error::{Error, Result};
use crate::hash::{Hash, PackId};
use crate::object::{Canonical, EnvelopeTag, FORMAT_VERSION, ObjectKind, decode, encode};

/// The first bytes of every pack: magic and format version.
pub const PACK_HEADER: [u8; 9] = *b"REELPACK\x01";
const FOOTER_MAGIC: [u8; 8] = *b"REELTRLR";
const FOOTER_LEN: usize = 12;

/// One object inside a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackEntry {
    /// What it is.
    pub kind: ObjectKind,
    /// Its id.
    pub id: Hash,
    /// Where its stored bytes start in the pack.
    pub offset: u64,
    /// How many stored bytes.
    pub stored_len: u32,
    /// Its length once decompressed.
    pub raw_len: u32,
    /// How it is stored.
    pub compression: Compression,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Trailer {
    entries: Vec<PackEntry>,
}

impl Canonical for Trailer {
    const TAG: EnvelopeTag = EnvelopeTag::PackTrailer;

    fn validate(&self) -> std::result::Result<(), String> {
        let mut next = PACK_HEADER.len() as u64;
        for e in &self.entries {
            if e.offset != next {
                return Err(format!(
                    "object {} at offset {}, expected {next}",
                    e.id.short(),
                    e.offset
                ));
            }
            if e.compression == Compression::Raw && e.stored_len != e.raw_len {
                return Err(format!("raw object {} has two lengths", e.id.short()));
            }
            next += u64::from(e.stored_len);
        }
        Ok(())
    }
}

/// Builds one pack in memory.
#[derive(Debug)]
pub struct PackWriter {
    bytes: Vec<u8>,
    entries: Vec<PackEntry>,
}

impl Default for PackWriter {
    fn default() -> Self {
        PackWriter {
            bytes: PACK_HEADER.to_vec(),
            entries: Vec::new(),
        }
    }
}

impl PackWriter {
    /// A writer whose buffer is allocated once for a pack of up to `capacity` bytes
    /// (growing by doubling would briefly hold three times the pack).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        let mut bytes = Vec::with_capacity(capacity);
        bytes.extend_from_slice(&PACK_HEADER);
        PackWriter {
            bytes,
            entries: Vec::new(),
        }
    }

    /// Appends an object's stored bytes.
    pub fn add(
        &mut self,
        kind: ObjectKind,
        id: Hash,
        compression: Compression,
        stored: &[u8],
        raw_len: u32,
    ) {
        self.entries.push(PackEntry {
            kind,
            id,
            offset: self.bytes.len() as u64,
            stored_len: stored.len() as u32,
            raw_len,
            compression,
        });
        self.bytes.extend_from_slice(stored);
    }

    /// Bytes written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether no object was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends the trailer and names the pack.
    pub fn finish(self) -> Result<(PackId, Vec<u8>, Vec<PackEntry>)> {
        let PackWriter { mut bytes, entries } = self;
        let trailer = encode(&Trailer { entries })?;
        bytes.extend_from_slice(&trailer);
        bytes.extend_from_slice(&(trailer.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&FOOTER_MAGIC);
        let id = PackId(Hash::of(&bytes));
        let Trailer { entries } = decode(&trailer).expect("a trailer we just encoded decodes");
        Ok((id, bytes, entries))
    }
}

/// Reads the trailer of a whole pack, checking that its entries fit the pack.
pub fn parse_pack(pack: &[u8]) -> Result<Vec<PackEntry>> {
    let corrupt = |reason: String| Error::Corrupt {
        what: "pack".into(),
        reason,
    };
    if pack.len() < PACK_HEADER.len() + FOOTER_LEN || pack[..8] != PACK_HEADER[..8] {
        return Err(corrupt("no pack header".into()));
    }
    if pack[8] > FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            found: u32::from(pack[8]),
            supported: u32::from(FORMAT_VERSION),
        });
    }
    let footer = &pack[pack.len() - FOOTER_LEN..];
    if footer[4..] != FOOTER_MAGIC {
        return Err(corrupt("no trailer magic".into()));
    }
    let trailer_len = u32::from_le_bytes(footer[..4].try_into().expect("4 bytes")) as usize;
    let trailer_end = pack.len() - FOOTER_LEN;
    let Some(trailer_start) = trailer_end.checked_sub(trailer_len) else {
        return Err(corrupt("trailer longer than the pack".into()));
    };
    let entries = parse_trailer(&pack[trailer_start..trailer_end])?;
    let data_end = entries.last().map_or(PACK_HEADER.len() as u64, |e| {
        e.offset + u64::from(e.stored_len)
    });
    if data_end != trailer_start as u64 {
        return Err(corrupt(format!(
            "objects end at {data_end}, trailer starts at {trailer_start}"
        )));
    }
    Ok(entries)
}

/// Decodes a trailer on its own (the fuzz target's entry point).
pub fn parse_trailer(bytes: &[u8]) -> Result<Vec<PackEntry>> {
    decode::<Trailer>(bytes).map(|t| t.entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trip_and_name_is_hash() {
        let mut w = PackWriter::default();
        w.add(ObjectKind::Chunk, Hash::of(b"a"), Compression::Raw, b"a", 1);
        w.add(
            ObjectKind::Chunk,
            Hash::of(b"bc"),
            Compression::Raw,
            b"bc",
            2,
        );
        let (id, bytes, entries) = w.finish().unwrap();
        assert_eq!(id.0, Hash::of(&bytes));
        assert_eq!(parse_pack(&bytes).unwrap(), entries);
        assert_eq!(entries[1].offset, 10);
        assert_eq!(&bytes[10..12], b"bc");
    }

    #[test]
    fn truncated_pack_is_corrupt() {
        let mut w = PackWriter::default();
        w.add(ObjectKind::Chunk, Hash::of(b"a"), Compression::Raw, b"a", 1);
        let (_, bytes, _) = w.finish().unwrap();
        for cut in [0, 5, bytes.len() - 1] {
            assert!(parse_pack(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    /// Golden bytes: changing the pack or trailer encoding fails here, by name.
    #[test]
    fn golden_pack_bytes() {
        let mut w = PackWriter::default();
        w.add(ObjectKind::Chunk, Hash::EMPTY, Compression::Raw, b"", 0);
        let (_, bytes, _) = w.finish().unwrap();
        let expected = concat!(
            "5245454c5041434b01", // "REELPACK" + version 1
            "0401",               // trailer envelope: tag 4, version 1
            "01",                 // one entry
            "00",                 // kind: chunk
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", // id
            "09",                 // offset 9
            "00",                 // stored_len 0
            "00",                 // raw_len 0
            "00",                 // compression: raw
            "28000000",           // trailer length 40, u32 LE
            "5245454c54524c52",   // "REELTRLR"
        );
        assert_eq!(hex::encode(&bytes), expected);
    }
}
