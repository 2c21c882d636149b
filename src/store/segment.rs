//! Index segments: what a batch of packs holds, in one small blob.
//!
//! Every pack's trailer already lists its objects, but reading them back costs two
//! ranged reads per pack, which on a cloud store is most of a rebuild (or of a second
//! machine's first sync). A writer on a shared backend therefore stores, after its
//! packs and before it publishes them, one segment listing them all:
//! `index/<BLAKE3 of the segment's bytes, hex>.seg`, create-only and immutable. A
//! segment is an accelerator, never the truth: a reader keeps only the packs the
//! bucket still lists (gc deletes packs, not the segments naming them) and reads the
//! trailer of any pack no segment covers. `gc` merges segments into one and deletes
//! the ones merged.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::pack::{PackEntry, check_entries};
use super::packer::WrittenPack;
use crate::hash::{Hash, PackId};
use crate::object::{Canonical, EnvelopeTag, decode, encode};

type Result<T> = std::result::Result<T, StoreError>;

/// Where segments live.
pub const SEGMENTS_PREFIX: &str = "index/";
const SEGMENT_SUFFIX: &str = ".seg";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SegmentPack {
    id: PackId,
    size: u64,
    entries: Vec<PackEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Segment {
    packs: Vec<SegmentPack>,
}

impl Canonical for Segment {
    const TAG: EnvelopeTag = EnvelopeTag::IndexSegment;

    fn validate(&self) -> std::result::Result<(), String> {
        let mut last: Option<PackId> = None;
        for p in &self.packs {
            if last.is_some_and(|l| l >= p.id) {
                return Err(format!("pack {} out of order or repeated", p.id.short()));
            }
            last = Some(p.id);
            check_entries(&p.entries).map_err(|e| format!("pack {}: {e}", p.id.short()))?;
            let end = p
                .entries
                .last()
                .map_or(0, |e| e.offset + u64::from(e.stored_len));
            if end > p.size {
                return Err(format!(
                    "pack {} of {} bytes has objects up to {end}",
                    p.id.short(),
                    p.size
                ));
            }
        }
        Ok(())
    }
}

/// A segment listing `packs` (in any order; a pack listed twice is kept once): its
/// blob name and bytes.
pub fn encode_segment(packs: &[WrittenPack]) -> Result<(String, Vec<u8>)> {
    let mut seen = HashSet::new();
    let mut packs: Vec<SegmentPack> = packs
        .iter()
        .filter(|p| seen.insert(p.id))
        .map(|p| SegmentPack {
            id: p.id,
            size: p.size,
            entries: p.entries.clone(),
        })
        .collect();
    packs.sort_by_key(|p| p.id);
    let bytes = encode(&Segment { packs })?;
    Ok((segment_name(&Hash::of(&bytes)), bytes))
}

/// The blob name of a segment whose bytes hash to `hash`.
#[must_use]
pub fn segment_name(hash: &Hash) -> String {
    format!("{SEGMENTS_PREFIX}{}{SEGMENT_SUFFIX}", hash.to_hex())
}

/// Whether `name` is a segment's blob name.
#[must_use]
pub fn is_segment_name(name: &str) -> bool {
    segment_hash(name).is_some()
}

fn segment_hash(name: &str) -> Option<Hash> {
    name.strip_prefix(SEGMENTS_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?
        .parse()
        .ok()
}

/// Decodes segment `name`, checking that its bytes are the ones it is named after.
pub fn parse_segment(name: &str, bytes: &[u8]) -> Result<Vec<WrittenPack>> {
    let Some(hash) = segment_hash(name) else {
        return Err(StoreError::Pack(format!("{name} is not a segment name")));
    };
    if Hash::of(bytes) != hash {
        return Err(StoreError::Pack(format!(
            "{name}: its bytes do not hash to its name"
        )));
    }
    let segment: Segment = decode(bytes)?;
    Ok(segment
        .packs
        .into_iter()
        .map(|p| WrittenPack {
            id: p.id,
            size: p.size,
            entries: p.entries,
        })
        .collect())
}

/// Stores a segment listing `packs` on `backend` (nothing if there are none); its name.
pub fn write_segment(
    backend: &dyn super::BlobBackend,
    packs: &[WrittenPack],
) -> Result<Option<String>> {
    if packs.is_empty() {
        return Ok(None);
    }
    let (name, bytes) = encode_segment(packs)?;
    backend.put(&name, bytes.into())?;
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectKind;
    use crate::object::codec::Compression;
    use crate::store::PackWriter;

    fn pack(objects: &[&[u8]]) -> WrittenPack {
        let mut w = PackWriter::with_capacity(1024);
        for o in objects {
            w.add(
                ObjectKind::Chunk,
                Hash::of(o),
                Compression::Raw,
                o,
                o.len() as u32,
            )
            .unwrap();
        }
        let (id, body, entries) = w.finish().unwrap();
        let bytes = body.into_bytes().unwrap();
        WrittenPack {
            id,
            size: bytes.len() as u64,
            entries,
        }
    }

    #[test]
    fn a_segment_round_trips_sorted_and_without_repeats() {
        let (a, b) = (pack(&[b"one", b"two"]), pack(&[b"three"]));
        let (name, bytes) = encode_segment(&[b.clone(), a.clone(), b.clone()]).unwrap();
        assert!(is_segment_name(&name), "{name}");
        let got = parse_segment(&name, &bytes).unwrap();
        let mut want = vec![a, b];
        want.sort_by_key(|p| p.id);
        assert_eq!(got.len(), 2);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!((g.id, g.size, &g.entries), (w.id, w.size, &w.entries));
        }
        // The same packs in another order make the same segment.
        let (again, _) = encode_segment(&[want[1].clone(), want[0].clone()]).unwrap();
        assert_eq!(again, name);
    }

    #[test]
    fn a_changed_byte_or_a_wrong_name_is_refused() {
        let (name, mut bytes) = encode_segment(&[pack(&[b"x"])]).unwrap();
        let other = segment_name(&Hash::of(b"something else"));
        assert!(parse_segment(&other, &bytes).is_err());
        assert!(parse_segment("packs/abc.pack", &bytes).is_err());
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let err = parse_segment(&name, &bytes).unwrap_err();
        assert!(err.to_string().contains("do not hash"), "{err}");
    }

    #[test]
    fn objects_past_the_pack_end_are_refused() {
        let mut p = pack(&[b"abcdef"]);
        p.size = 10;
        let bytes = encode(&Segment {
            packs: vec![SegmentPack {
                id: p.id,
                size: p.size,
                entries: p.entries,
            }],
        });
        assert!(bytes.is_err());
    }
}
