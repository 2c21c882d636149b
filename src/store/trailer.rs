//! The compact trailer (envelope tag 6, format 5 repositories): a pack's objects
//! without what their bytes already say.
//!
//! The listing trailer (tag 4) gives every object its kind, id, offset, lengths and
//! compression: about 44 bytes an object, 0.7 MiB for the comparison workload's 16,700
//! objects, most of them small files in solid blocks — as much again as the index keeps
//! of them. The compact trailer leaves out what can be recomputed:
//!
//! - **offsets**: objects lie back to back from the header, so each starts where the one
//!   before ended;
//! - **a block member's block and start**: a block is listed once, with its stored
//!   length, then its members in the order of their bytes, each starting where the one
//!   before ended;
//! - **a block member's id**, when it is the BLAKE3 of the member's bytes (every kind but
//!   a manifest, whose id is that of the file it lists): a reader that needs ids
//!   decompresses the block and hashes the member.
//!
//! So reading a compact trailer may take a second read: the blocks' bytes
//! ([`ParsedTrailer::data_needed`]). Few paths read trailers at all: a rebuild of the
//! index from the packs, the indexing of packs a killed writer stored, `fsck
//! --read-data` (which reads whole packs anyway), and a bucket's machine learning a
//! pack no index segment describes. A repository's own reads go through its index.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::pack::{PackEntry, check_entries};
use crate::hash::Hash;
use crate::object::codec::Compression;
use crate::object::{Canonical, EnvelopeTag, ObjectKind, block, encode};

type Result<T> = std::result::Result<T, StoreError>;

/// A compact trailer's objects, in the order of their bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Items {
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Item {
    /// An object stored on its own (never as a block member).
    Object {
        kind: ObjectKind,
        id: Hash,
        stored_len: u32,
        raw_len: u32,
        compression: Compression,
    },
    /// A solid block: its stored length, its members, and the first bytes of the BLAKE3
    /// of its hashed members' ids one after another (a damaged block whose frame still
    /// decompresses yields other ids: this is how a reader learns it).
    Block {
        stored_len: u32,
        members: Vec<Member>,
        check: [u8; 8],
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Member {
    kind: ObjectKind,
    raw_len: u32,
    /// Given only when the member's bytes do not hash to it (a manifest).
    id: Option<Hash>,
}

impl Canonical for Items {
    const TAG: EnvelopeTag = EnvelopeTag::PackItems;

    fn validate(&self) -> std::result::Result<(), String> {
        for item in &self.items {
            match item {
                Item::Object { compression, .. } => {
                    if matches!(compression, Compression::Block { .. }) {
                        return Err("a block member listed on its own".into());
                    }
                }
                Item::Block {
                    stored_len,
                    members,
                    ..
                } => {
                    if *stored_len == 0 || members.is_empty() {
                        return Err("an empty block".into());
                    }
                    let raw: u64 = members.iter().map(|m| u64::from(m.raw_len)).sum();
                    if raw > block::MAX_RAW as u64 {
                        return Err("a block larger than a reader accepts".into());
                    }
                    if members
                        .iter()
                        .any(|m| m.id.is_some() == m.kind.id_is_hash())
                    {
                        return Err("a member's id given though its bytes hash to it, or \
                                    missing though they do not"
                            .into());
                    }
                }
            }
        }
        Ok(())
    }
}

/// The compact trailer of `entries` (checked by [`check_entries`]), encoded.
pub(super) fn encode_compact(entries: &[PackEntry]) -> Result<Vec<u8>> {
    let same_block = |a: &PackEntry, b: &PackEntry| {
        a.compression.in_block() && b.compression.in_block() && a.offset == b.offset
    };
    let items = entries
        .chunk_by(same_block)
        .map(|run| match run {
            [e] if !e.compression.in_block() => Item::Object {
                kind: e.kind,
                id: e.id,
                stored_len: e.stored_len,
                raw_len: e.raw_len,
                compression: e.compression,
            },
            members => Item::Block {
                stored_len: members[0].stored_len,
                members: members
                    .iter()
                    .map(|e| Member {
                        kind: e.kind,
                        raw_len: e.raw_len,
                        id: (!e.kind.id_is_hash()).then_some(e.id),
                    })
                    .collect(),
                check: check_of(members.iter().map(|e| (e.kind, e.id))),
            },
        })
        .collect();
    Ok(encode(&Items { items })?)
}

/// A block's check: the first bytes of the BLAKE3 of its hashed members' ids.
fn check_of(members: impl Iterator<Item = (ObjectKind, Hash)>) -> [u8; 8] {
    let mut hasher = blake3::Hasher::new();
    for (_, id) in members.filter(|(kind, _)| kind.id_is_hash()) {
        hasher.update(id.as_bytes());
    }
    hasher.finalize().as_bytes()[..8]
        .try_into()
        .expect("8 bytes")
}

/// A decoded trailer: its entries, and the blocks whose members' ids are still to be
/// learned from their bytes.
#[derive(Debug)]
pub struct ParsedTrailer {
    entries: Vec<PackEntry>,
    /// Ranges of `entries`, one per block whose hashed members lack their ids, with the
    /// block's check.
    unresolved: Vec<(Range<usize>, [u8; 8])>,
}

impl ParsedTrailer {
    /// A listing trailer's entries: nothing to learn.
    pub(super) fn listed(entries: Vec<PackEntry>) -> Self {
        ParsedTrailer {
            entries,
            unresolved: Vec::new(),
        }
    }

    /// A compact trailer's items laid out from `first` (the end of the pack's header).
    pub(super) fn laid_out(items: Items, first: u64) -> Result<Self> {
        let mut entries = Vec::new();
        let mut unresolved = Vec::new();
        let mut offset = first;
        for item in items.items {
            match item {
                Item::Object {
                    kind,
                    id,
                    stored_len,
                    raw_len,
                    compression,
                } => entries.push(PackEntry {
                    kind,
                    id,
                    offset,
                    stored_len,
                    raw_len,
                    compression,
                }),
                Item::Block {
                    stored_len,
                    members,
                    check,
                } => {
                    let from = entries.len();
                    let learn = members.iter().any(|m| m.id.is_none());
                    let mut start = 0u32;
                    for m in members {
                        entries.push(PackEntry {
                            kind: m.kind,
                            // Learned in `resolve` when the bytes hash to it.
                            id: m.id.unwrap_or(Hash::EMPTY),
                            offset,
                            stored_len,
                            raw_len: m.raw_len,
                            compression: Compression::Block { start },
                        });
                        start = start.checked_add(m.raw_len).ok_or_else(too_large)?;
                    }
                    if learn {
                        unresolved.push((from..entries.len(), check));
                    }
                }
            }
            let last = entries.last().expect("an item has an entry");
            offset = offset
                .checked_add(u64::from(last.stored_len))
                .ok_or_else(too_large)?;
        }
        check_entries(&entries).map_err(StoreError::Pack)?;
        Ok(ParsedTrailer {
            entries,
            unresolved,
        })
    }

    /// The ranges of the pack to read before [`resolve`](Self::resolve): the blocks
    /// whose members' ids are learned from their bytes, adjacent ones merged.
    #[must_use]
    pub fn data_needed(&self) -> Vec<Range<u64>> {
        let mut out: Vec<Range<u64>> = Vec::new();
        for (r, _) in &self.unresolved {
            let e = &self.entries[r.start];
            let span = e.offset..e.offset + u64::from(e.stored_len);
            match out.last_mut() {
                Some(last) if last.end == span.start => last.end = span.end,
                _ => out.push(span),
            }
        }
        out
    }

    /// The entries, ids and all: `data` holds the bytes of each range of
    /// [`data_needed`](Self::data_needed), in order. A block that does not decompress
    /// to its members' lengths is an error naming it.
    pub fn resolve<D: AsRef<[u8]>>(mut self, data: &[D]) -> Result<Vec<PackEntry>> {
        let ranges = self.data_needed();
        if data.len() != ranges.len() {
            return Err(StoreError::Pack(
                "the blocks' bytes were not all read".into(),
            ));
        }
        let mut at = 0;
        let mut raw = Vec::new();
        for (r, check) in std::mem::take(&mut self.unresolved) {
            let first = self.entries[r.start];
            while ranges[at].end <= first.offset {
                at += 1;
            }
            let from = usize::try_from(first.offset - ranges[at].start).map_err(|_| too_large())?;
            let stored = data[at]
                .as_ref()
                .get(from..from + first.stored_len as usize)
                .ok_or_else(|| StoreError::Pack("a block's bytes were cut short".into()))?;
            let unreadable = |why: String| {
                StoreError::Pack(format!("the block at offset {}: {why}", first.offset))
            };
            block::decompress_into(stored, &mut raw).map_err(|e| unreadable(e.to_string()))?;
            let members: u64 = self.entries[r.clone()]
                .iter()
                .map(|e| u64::from(e.raw_len))
                .sum();
            if raw.len() as u64 != members {
                return Err(unreadable(format!(
                    "{} bytes, its members {members}",
                    raw.len()
                )));
            }
            let mut start = 0;
            for e in &mut self.entries[r.clone()] {
                let end = start + e.raw_len as usize;
                if e.kind.id_is_hash() {
                    e.id = Hash::of(&raw[start..end]);
                }
                start = end;
            }
            if check_of(self.entries[r].iter().map(|e| (e.kind, e.id))) != check {
                return Err(unreadable(
                    "its members do not hash to the ids the trailer vouches for".into(),
                ));
            }
        }
        Ok(self.entries)
    }
}

fn too_large() -> StoreError {
    StoreError::Pack("offsets or lengths overflow".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::block::{Builder, Sealed};
    use crate::store::{BlobBackend, PackWriter, RedbBackend, parse_pack, read_trailer};
    use ObjectKind::{Chunk, Manifest, Tree};

    fn sealed(members: &[(ObjectKind, &[u8])]) -> Sealed {
        let mut b = Builder::default();
        for (kind, raw) in members {
            let id = match kind {
                Manifest => Hash::of(b"the file it lists"),
                _ => Hash::of(raw),
            };
            b.push(*kind, id, raw);
        }
        b.seal(3).unwrap().unwrap()
    }

    /// A pack of an object, two blocks (one with a manifest) and an object.
    fn pack(compact: bool) -> (Vec<u8>, Vec<PackEntry>) {
        let mut w = PackWriter::default();
        w.compact_trailer(compact);
        w.add(Chunk, Hash::of(b"a"), Compression::Raw, b"a", 1)
            .unwrap();
        w.add_block(&sealed(&[
            (Chunk, b"first"),
            (Tree, b"second"),
            (Manifest, b"third"),
        ]))
        .unwrap();
        w.add_block(&sealed(&[(Chunk, b"fourth")])).unwrap();
        w.add(Chunk, Hash::of(b"z"), Compression::Raw, b"z", 1)
            .unwrap();
        let (_, body, entries) = w.finish().unwrap();
        (body.into_bytes().unwrap(), entries)
    }

    fn trailer_len(pack: &[u8]) -> usize {
        u32::from_le_bytes(pack[pack.len() - 12..pack.len() - 8].try_into().unwrap()) as usize
    }

    #[test]
    fn a_compact_trailer_gives_back_every_entry() {
        let (bytes, entries) = pack(true);
        let (_, listed) = pack(false);
        assert_eq!(entries, listed);
        assert_eq!(parse_pack(&bytes).unwrap(), entries);
        let start = bytes.len() - 12 - trailer_len(&bytes);
        assert_eq!(bytes[start], EnvelopeTag::PackItems as u8);
    }

    /// A pack read from a backend: the trailer, then the blocks' bytes.
    #[test]
    fn read_trailer_reads_the_blocks_it_needs() {
        let dir = tempfile::tempdir().unwrap();
        let backend = RedbBackend::open(&dir.path().join("packs.redb")).unwrap();
        let (bytes, entries) = pack(true);
        let size = bytes.len() as u64;
        backend.put("packs/p.pack", bytes.into()).unwrap();
        assert_eq!(
            read_trailer(&backend, "packs/p.pack", size).unwrap(),
            entries
        );
    }

    /// Small files in blocks: the compact trailer is a fraction of the listing one.
    #[test]
    fn a_block_of_small_files_is_listed_in_a_few_bytes_each() {
        let files: Vec<Vec<u8>> = (0..200u32).map(|i| format!("file {i}").into()).collect();
        let members: Vec<(ObjectKind, &[u8])> = files.iter().map(|f| (Chunk, &f[..])).collect();
        let len = |compact| {
            let mut w = PackWriter::default();
            w.compact_trailer(compact);
            w.add_block(&sealed(&members)).unwrap();
            let bytes = w.finish().unwrap().1.into_bytes().unwrap();
            trailer_len(&bytes)
        };
        let (compact, listed) = (len(true), len(false));
        assert!(compact * 8 < listed, "{compact} against {listed} bytes");
    }

    /// Any damage to a block's bytes is found: the pack is refused, never read back
    /// with other ids.
    #[test]
    fn a_damaged_block_is_refused() {
        let (bytes, entries) = pack(true);
        let block = entries[1];
        let span = block.offset as usize..(block.offset + u64::from(block.stored_len)) as usize;
        for at in span {
            for bit in [0x01, 0x80] {
                let mut damaged = bytes.clone();
                damaged[at] ^= bit;
                if let Ok(got) = parse_pack(&damaged) {
                    assert_eq!(got, entries, "byte {at} bit {bit:#x} changed the ids");
                }
            }
        }
    }

    /// Golden bytes: changing the compact trailer's encoding fails here, by name.
    #[test]
    fn golden_compact_trailer_bytes() {
        let member = |kind, id, start| PackEntry {
            kind,
            id,
            offset: 26,
            stored_len: 3,
            raw_len: 2,
            compression: Compression::Block { start },
        };
        let entries = [
            PackEntry {
                kind: Chunk,
                id: Hash::EMPTY,
                offset: 25,
                stored_len: 1,
                raw_len: 1,
                compression: Compression::Raw,
            },
            member(Chunk, Hash::of(b"ab"), 0),
            member(Manifest, Hash::EMPTY, 2),
        ];
        let bytes = encode_compact(&entries).unwrap();
        let check = blake3::hash(Hash::of(b"ab").as_bytes());
        let check = &check.as_bytes()[..8];
        let expected = [
            "0601", // envelope: tag 6, version 1
            "02",   // two items
            "00",   // an object:
            "00",   // kind chunk
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", // id
            "01",   // stored_len 1
            "01",   // raw_len 1
            "00",   // compression: raw
            "01",   // a block:
            "03",   // stored_len 3
            "02",   // two members
            "0002", // a chunk of 2 bytes
            "00",   // whose id is its bytes' hash
            "0302", // a manifest of 2 bytes
            "01",   // whose id is given:
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
        ]
        .concat()
            + &hex::encode(check);
        assert_eq!(hex::encode(&bytes), expected);
        let laid = ParsedTrailer::laid_out(crate::object::decode(&bytes).unwrap(), 25).unwrap();
        assert_eq!(laid.data_needed(), vec![26..29]);
    }

    /// A member's id is given exactly when its bytes do not hash to it.
    #[test]
    fn ids_given_only_for_manifests() {
        let block = |kind, id| Items {
            items: vec![Item::Block {
                stored_len: 1,
                members: vec![Member {
                    kind,
                    raw_len: 1,
                    id,
                }],
                check: [0; 8],
            }],
        };
        assert!(encode(&block(Chunk, None)).is_ok());
        assert!(encode(&block(Manifest, Some(Hash::EMPTY))).is_ok());
        assert!(encode(&block(Chunk, Some(Hash::EMPTY))).is_err());
        assert!(encode(&block(Manifest, None)).is_err());
    }
}
