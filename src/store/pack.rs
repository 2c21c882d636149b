//! The pack file format.
//!
//! ```text
//! +------------+---------+----------+---------------------+-----------------+-------------+------------+
//! | "REELPACK" | version | nonce    | object bytes …      | trailer         | trailer len | "REELTRLR" |
//! |  8 bytes   | 1 byte  | 16 bytes | stored back to back | envelope (tag 4)| u32 LE      | 8 bytes    |
//! +------------+---------+----------+---------------------+-----------------+-------------+------------+
//! ```
//!
//! The trailer lists every object (kind, id, offset, stored length, raw length,
//! compression), so the index can be rebuilt from packs alone. A pack is named by the
//! BLAKE3 of all of its bytes. Version 2 adds a random nonce after the version byte, so
//! two writes never produce the same pack name even for the same objects: a pack name
//! belongs to exactly one writer, which is what lets a writer (or `gc`) delete a pack
//! without asking who else might have "written" it too. Version 1 packs (no nonce,
//! objects from offset 9) are still read.

use std::io::{BufWriter, Write};

use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use super::error::StoreError;
use super::trailer::ParsedTrailer;

type Result<T> = std::result::Result<T, StoreError>;
use crate::hash::{Hash, PackId};
use crate::object::codec::Compression;
use crate::object::{Canonical, EnvelopeTag, ObjectKind, decode, encode};

/// The first bytes of every pack.
const PACK_MAGIC: [u8; 8] = *b"REELPACK";
/// The pack version this build writes.
pub const PACK_VERSION: u8 = 2;
/// Random bytes after the version byte (version 2).
pub(super) const NONCE_LEN: usize = 16;
const FOOTER_MAGIC: [u8; 8] = *b"REELTRLR";
const FOOTER_LEN: usize = 12;
/// An upper bound on what one entry adds to the trailer (postcard: kind 1, id 32,
/// offset ≤ 10, lengths ≤ 5 each, compression ≤ 6 with a block member's start).
pub const TRAILER_ENTRY_MAX: usize = 64;
/// An upper bound on the trailer's envelope and length prefix plus the footer.
const TRAILER_FIXED_MAX: usize = 64 + FOOTER_LEN;

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
        check_entries(&self.entries)
    }
}

/// The invariants of a trailer's entries: back to back from right after a header, raw
/// objects with one length; the members of a solid block one after another, sharing
/// the block's offset and stored length, each starting where the one before ended.
/// (Which header is checked against the pack's own version byte by [`parse_pack`].)
pub(super) fn check_entries(entries: &[PackEntry]) -> std::result::Result<(), String> {
    let mut next = entries.first().map_or(0, |e| e.offset);
    if !entries.is_empty() && next != header_len(1) && next != header_len(2) {
        return Err(format!("first object at offset {next}, not after a header"));
    }
    // The block being read: its offset, stored length, and where its next member starts.
    let mut block: Option<(u64, u32, u64)> = None;
    for e in entries {
        if let Compression::Block { start } = e.compression {
            match &mut block {
                Some((offset, stored, member_start)) if *offset == e.offset => {
                    if e.stored_len != *stored || u64::from(start) != *member_start {
                        return Err(format!(
                            "block member {} does not follow the member before it",
                            e.id.short()
                        ));
                    }
                    *member_start += u64::from(e.raw_len);
                }
                _ => {
                    if e.offset != next || start != 0 || e.stored_len == 0 {
                        return Err(format!(
                            "block member {} at offset {} from {start}, expected a block at \
                             {next} from 0",
                            e.id.short(),
                            e.offset
                        ));
                    }
                    block = Some((e.offset, e.stored_len, u64::from(e.raw_len)));
                    next += u64::from(e.stored_len);
                }
            }
            if block.is_some_and(|(_, _, end)| end > crate::object::block::MAX_RAW as u64) {
                return Err(format!("the block of {} is too large", e.id.short()));
            }
            continue;
        }
        block = None;
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

/// Builds one pack: in memory, or in a staging file as its objects arrive (see
/// [`super::pack_files`]), hashing what it writes.
#[derive(Debug)]
pub struct PackWriter {
    out: Out,
    len: usize,
    entries: Vec<PackEntry>,
    /// Whether [`finish`](Self::finish) writes the compact trailer ([`super::trailer`]).
    compact: bool,
}

/// Where a pack's bytes go while it is built.
#[derive(Debug)]
enum Out {
    Memory(Vec<u8>),
    File(Box<FileOut>),
}

/// A staging file being written, and the BLAKE3 of what was written to it.
#[derive(Debug)]
struct FileOut {
    file: BufWriter<NamedTempFile>,
    hasher: blake3::Hasher,
}

/// The bytes of a finished pack.
#[derive(Debug)]
pub enum PackBody {
    /// Held in memory, to be stored with a `put`.
    Memory(Vec<u8>),
    /// Written to a staging file (not yet synced), to be published under its name.
    File {
        /// The staging file.
        file: NamedTempFile,
        /// Its length.
        len: u64,
    },
}

impl PackBody {
    /// The pack's size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        match self {
            PackBody::Memory(bytes) => bytes.len() as u64,
            PackBody::File { len, .. } => *len,
        }
    }

    /// The bytes (read back from the file for a file body: for tests and tools, not for
    /// the write path).
    pub fn into_bytes(self) -> Result<Vec<u8>> {
        match self {
            PackBody::Memory(bytes) => Ok(bytes),
            PackBody::File { file, .. } => {
                std::fs::read(file.path()).map_err(StoreError::io("read", file.path()))
            }
        }
    }
}

/// Bytes a file writer buffers before a `write`.
const FILE_BUFFER: usize = 1024 * 1024;

/// Objects at least this long are written to the file directly, after what is buffered.
const DIRECT_WRITE: usize = 64 * 1024;

/// Length of the header of a pack of `version` (1 or 2).
fn header_len(version: u8) -> u64 {
    if version >= 2 {
        (PACK_MAGIC.len() + 1 + NONCE_LEN) as u64
    } else {
        (PACK_MAGIC.len() + 1) as u64
    }
}

impl Default for PackWriter {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl PackWriter {
    /// A writer whose buffer is allocated once for a pack of up to `capacity` bytes
    /// (growing by doubling would briefly hold three times the pack), with a fresh
    /// random nonce.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_nonce(capacity, rand::random())
    }

    /// A writer with a given nonce (tests pin it to get fixed bytes).
    #[must_use]
    pub fn with_nonce(capacity: usize, nonce: [u8; NONCE_LEN]) -> Self {
        let mut bytes = Vec::with_capacity(capacity.max(64));
        bytes.extend_from_slice(&header(nonce));
        PackWriter {
            len: bytes.len(),
            out: Out::Memory(bytes),
            entries: Vec::new(),
            compact: false,
        }
    }

    /// A writer into `file` (empty, opened for writing), with a given nonce.
    pub(super) fn in_file(file: NamedTempFile, nonce: [u8; NONCE_LEN]) -> Result<Self> {
        let mut w = PackWriter {
            out: Out::File(Box::new(FileOut {
                file: BufWriter::with_capacity(FILE_BUFFER, file),
                hasher: blake3::Hasher::new(),
            })),
            len: 0,
            entries: Vec::new(),
            compact: false,
        };
        w.append(&header(nonce))?;
        Ok(w)
    }

    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.len += bytes.len();
        match &mut self.out {
            Out::Memory(buf) => buf.extend_from_slice(bytes),
            Out::File(out) => {
                out.hasher.update(bytes);
                // A large object goes to the file as it is, not through the buffer
                // (one copy fewer of every chunk of footage).
                let written = if bytes.len() >= DIRECT_WRITE {
                    out.file
                        .flush()
                        .and_then(|()| out.file.get_mut().write_all(bytes))
                } else {
                    out.file.write_all(bytes)
                };
                if let Err(e) = written {
                    return Err(StoreError::io("write", out.file.get_ref().path())(e));
                }
            }
        }
        Ok(())
    }

    /// Appends an object's stored bytes (an error only from a file writer's write).
    pub fn add(
        &mut self,
        kind: ObjectKind,
        id: Hash,
        compression: Compression,
        stored: &[u8],
        raw_len: u32,
    ) -> Result<()> {
        self.entries.push(PackEntry {
            kind,
            id,
            offset: self.len as u64,
            stored_len: stored.len() as u32,
            raw_len,
            compression,
        });
        self.append(stored)
    }

    /// Appends a solid block: one entry per member, each naming the block.
    pub fn add_block(&mut self, block: &crate::object::block::Sealed) -> Result<()> {
        let mut start = 0u32;
        for m in &block.members {
            self.entries.push(PackEntry {
                kind: m.kind,
                id: m.id,
                offset: self.len as u64,
                stored_len: block.stored.len() as u32,
                raw_len: m.raw_len,
                compression: Compression::Block { start },
            });
            start += m.raw_len;
        }
        self.append(&block.stored)
    }

    /// Whether the pack ends with the compact trailer (format 5 repositories, see
    /// [`super::trailer`]) rather than the listing one older releases read.
    pub fn compact_trailer(&mut self, compact: bool) {
        self.compact = compact;
    }

    /// Bytes written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The pack's size once finished, at most: what is written, plus a trailer of its
    /// entries and the footer. (A pack of 16 MiB of small compressed sources holds
    /// ~50,000 objects: its trailer is megabytes, not a rounding error.)
    #[must_use]
    pub fn finished_len_max(&self) -> usize {
        self.len + self.entries.len() * TRAILER_ENTRY_MAX + TRAILER_FIXED_MAX
    }

    /// Whether no object was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends the trailer and names the pack: its id, bytes and entries.
    pub fn finish(mut self) -> Result<(PackId, PackBody, Vec<PackEntry>)> {
        let entries = std::mem::take(&mut self.entries);
        let n = entries.len();
        let (trailer, entries) = if self.compact {
            check_entries(&entries).map_err(StoreError::Pack)?;
            (super::trailer::encode_compact(&entries)?, entries)
        } else {
            let trailer = encode(&Trailer { entries })?;
            let Trailer { entries } = decode(&trailer).expect("a trailer we just encoded decodes");
            (trailer, entries)
        };
        debug_assert!(trailer.len() + FOOTER_LEN <= n * TRAILER_ENTRY_MAX + TRAILER_FIXED_MAX);
        self.append(&trailer)?;
        self.append(&(trailer.len() as u32).to_le_bytes())?;
        self.append(&FOOTER_MAGIC)?;
        let (id, body) = match self.out {
            Out::Memory(bytes) => (Hash::of(&bytes), PackBody::Memory(bytes)),
            Out::File(out) => {
                let FileOut { file, hasher } = *out;
                let file = file.into_inner().map_err(|e| {
                    let (error, file) = e.into_parts();
                    StoreError::io("write", file.get_ref().path())(error)
                })?;
                let len = self.len as u64;
                (Hash::from(hasher.finalize()), PackBody::File { file, len })
            }
        };
        Ok((PackId(id), body, entries))
    }
}

/// The first bytes of a pack this build writes: magic, version, `nonce`.
fn header(nonce: [u8; NONCE_LEN]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(header_len(PACK_VERSION) as usize);
    bytes.extend_from_slice(&PACK_MAGIC);
    bytes.push(PACK_VERSION);
    bytes.extend_from_slice(&nonce);
    bytes
}

/// Reads the trailer of a whole pack, checking that its entries fit the pack.
pub fn parse_pack(pack: &[u8]) -> Result<Vec<PackEntry>> {
    let corrupt = StoreError::Pack;
    if pack.len() < PACK_MAGIC.len() + 1 || pack[..8] != PACK_MAGIC {
        return Err(corrupt("no pack header".into()));
    }
    let version = pack[8];
    if version == 0 || version > PACK_VERSION {
        return Err(StoreError::PackVersion {
            found: u32::from(version),
            supported: u32::from(PACK_VERSION),
        });
    }
    let header = header_len(version);
    if (pack.len() as u64) < header + FOOTER_LEN as u64 {
        return Err(corrupt("no room for a trailer".into()));
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
    let parsed = parse_trailer(&pack[trailer_start..trailer_end])?;
    let data: Vec<&[u8]> = parsed
        .data_needed()
        .into_iter()
        .map(|r| {
            pack.get(r.start as usize..r.end as usize)
                .unwrap_or_default()
        })
        .collect();
    let entries = parsed.resolve(&data)?;
    if let Some(first) = entries.first()
        && first.offset != header
    {
        return Err(corrupt(format!(
            "first object at {}, a version {version} header ends at {header}",
            first.offset
        )));
    }
    let data_end = entries
        .last()
        .map_or(header, |e| e.offset + u64::from(e.stored_len));
    if data_end != trailer_start as u64 {
        return Err(corrupt(format!(
            "objects end at {data_end}, trailer starts at {trailer_start}"
        )));
    }
    Ok(entries)
}

/// Reads the trailer of a stored pack of `size` bytes with two ranged reads (the
/// footer, then the trailer) instead of the whole pack, checking that it fits.
pub fn read_trailer(
    backend: &dyn super::BlobBackend,
    name: &str,
    size: u64,
) -> Result<Vec<PackEntry>> {
    let footer_len = FOOTER_LEN as u64;
    let short = || StoreError::Pack(format!("{name} is too short for a trailer"));
    let footer = backend.get_range(name, size.checked_sub(footer_len).ok_or_else(short)?..size)?;
    if footer.len() != FOOTER_LEN || footer[4..] != FOOTER_MAGIC {
        return Err(StoreError::Pack(format!("{name} has no trailer magic")));
    }
    let len = u64::from(u32::from_le_bytes(footer[..4].try_into().expect("4 bytes")));
    let start = (size - footer_len).checked_sub(len).ok_or_else(short)?;
    let parsed = parse_trailer(&backend.get_range(name, start..size - footer_len)?)?;
    let mut data = Vec::new();
    for r in parsed.data_needed() {
        if r.end > start {
            return Err(StoreError::Pack(format!(
                "{name}: a block runs into the trailer"
            )));
        }
        data.push(backend.get_range(name, r)?);
    }
    let entries = parsed.resolve(&data)?;
    if entries
        .last()
        .is_some_and(|e| e.offset + u64::from(e.stored_len) != start)
    {
        return Err(StoreError::Pack(format!(
            "{name}: objects do not end where the trailer starts"
        )));
    }
    Ok(entries)
}

/// Decodes a trailer on its own (the fuzz target's entry point): a listing trailer
/// (tag 4) or a compact one (tag 6, laid out after a version 2 header), whose blocks may
/// still have to be read to learn their members' ids.
pub fn parse_trailer(bytes: &[u8]) -> Result<ParsedTrailer> {
    if bytes.first() == Some(&(EnvelopeTag::PackItems as u8)) {
        let items = decode::<super::trailer::Items>(bytes)?;
        return ParsedTrailer::laid_out(items, header_len(2));
    }
    Ok(ParsedTrailer::listed(decode::<Trailer>(bytes)?.entries))
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
