//! The read path: index lookup, pack range read, decompression, verification.
//!
//! Every object returned has been checked against its id: chunks, trees and commits
//! by the BLAKE3 of their bytes; a multi-chunk file by the BLAKE3 of the whole content,
//! computed while it streams.

use std::io::Write;

use crate::engine::Engine;
use crate::engine::EngineError;
use crate::engine::stream_hash::hash_beside;
use crate::error::{Error, Result};
use crate::hash::{CommitId, Hash, TreeId};
use crate::index::ObjectLocation;
use crate::object::block;
use crate::object::codec::{self, Compression};
use crate::object::delta;
use crate::object::{Commit, Manifest, ObjectKind, Tree, decode};
use crate::store::pack_name;

impl Engine {
    /// Where an object is, or `NotFound`.
    pub fn locate(&self, id: &Hash) -> Result<ObjectLocation> {
        self.index
            .location(id)?
            .ok_or_else(|| Error::object_not_found(id))
    }

    /// Reads an object's raw bytes from its pack, decompressed but not yet verified.
    pub fn read_unverified(&self, id: &Hash, loc: &ObjectLocation) -> Result<Vec<u8>> {
        self.read_unverified_within(id, loc, delta::MAX_DEPTH)
    }

    /// [`read_unverified`](Self::read_unverified), following at most `max_depth`
    /// deltas.
    fn read_unverified_within(
        &self,
        id: &Hash,
        loc: &ObjectLocation,
        max_depth: u8,
    ) -> Result<Vec<u8>> {
        if let Some(raw) = self.cached_member(id, loc)? {
            return Ok(raw);
        }
        let range = loc.offset..loc.offset + u64::from(loc.stored_len);
        let name = pack_name(&loc.pack);
        let stored = match self.backend.get_object(&name, range.clone()) {
            Ok(bytes) => bytes,
            Err(e) => return Err(self.explain_range_error(id, loc, range.end, e)),
        };
        if stored.len() != loc.stored_len as usize {
            return Err(corrupt(
                id,
                loc,
                "pack is shorter than the index says".into(),
            ));
        }
        // Stored raw: the bytes read are the object's, taken without a copy.
        if loc.compression == Compression::Raw && loc.raw_len == loc.stored_len {
            return Ok(Vec::from(stored));
        }
        self.decode_stored(id, loc, &stored, max_depth)
    }

    /// Turns an object's stored bytes into its raw bytes (not verified): decompressed,
    /// or for a delta decoded against its bases, each read and verified, following at
    /// most `max_depth` deltas.
    pub(crate) fn decode_stored(
        &self,
        id: &Hash,
        loc: &ObjectLocation,
        stored: &[u8],
        max_depth: u8,
    ) -> Result<Vec<u8>> {
        if let Compression::Block { start } = loc.compression {
            if let Some(raw) = self.cached_member(id, loc)? {
                return Ok(raw);
            }
            let mut whole = self.blocks.buffer();
            block::decompress_into(stored, &mut whole)
                .map_err(|e| corrupt(id, loc, e.to_string()))?;
            let raw = member(id, loc, &whole, start)?;
            self.blocks
                .insert(&loc.pack, loc.offset, std::sync::Arc::new(whole));
            return Ok(raw);
        }
        decode_stored(id, loc, stored, max_depth, &mut |base, depth| {
            let Some(base_loc) = self.index.location(base)? else {
                let why = format!("its delta base {} is not in the index", base.short());
                return Err(corrupt(id, loc, why));
            };
            let (base_loc, raw) = self.fetch_within(base, base_loc, depth)?;
            if base_loc.kind != ObjectKind::Chunk {
                return Err(corrupt(
                    id,
                    loc,
                    format!("its base {} is not a chunk", base.short()),
                ));
            }
            verify(base, &base_loc, &raw)?;
            Ok(raw)
        })
    }

    /// A block member's raw bytes from its block, if the block was decompressed lately.
    fn cached_member(&self, id: &Hash, loc: &ObjectLocation) -> Result<Option<Vec<u8>>> {
        let Compression::Block { start } = loc.compression else {
            return Ok(None);
        };
        match self.blocks.get(&loc.pack, loc.offset) {
            Some(whole) => member(id, loc, &whole, start).map(Some),
            None => Ok(None),
        }
    }

    /// Turns a failed range read into what it means: a pack that is missing or shorter
    /// than the index says is damage (naming the pack); anything else (a network fault,
    /// say) stays what it was.
    fn explain_range_error(
        &self,
        id: &Hash,
        loc: &ObjectLocation,
        end: u64,
        e: crate::store::StoreError,
    ) -> Error {
        match self.backend.size(&pack_name(&loc.pack)) {
            Ok(None) => corrupt(id, loc, "the pack is missing from the backend".into()),
            Ok(Some(size)) if size < end => corrupt(
                id,
                loc,
                format!("the pack is truncated: {size} bytes, the index needs {end}"),
            ),
            _ => e.into(),
        }
    }

    /// Locates an object and reads its raw bytes. On a shared backend, a pack that is
    /// gone may have been repacked by another machine's gc: this index learns of it
    /// (the pack dropped, the packs the repack wrote indexed) and reads again — except
    /// inside a write transaction (gc's apply step), which fails instead.
    fn fetch(&self, id: &Hash) -> Result<(ObjectLocation, Vec<u8>)> {
        self.fetch_at(id, self.locate(id)?)
    }

    /// [`fetch`](Self::fetch) from a location already looked up.
    fn fetch_at(&self, id: &Hash, loc: ObjectLocation) -> Result<(ObjectLocation, Vec<u8>)> {
        self.fetch_within(id, loc, delta::MAX_DEPTH)
    }

    /// [`fetch_at`](Self::fetch_at), following at most `max_depth` deltas.
    fn fetch_within(
        &self,
        id: &Hash,
        loc: ObjectLocation,
        max_depth: u8,
    ) -> Result<(ObjectLocation, Vec<u8>)> {
        match self.read_unverified_within(id, &loc, max_depth) {
            Ok(raw) => Ok((loc, raw)),
            Err(e)
                if crate::engine::shared::enabled(self)
                    && !crate::index::writing_here()
                    && self.backend.size(&pack_name(&loc.pack))?.is_none() =>
            {
                crate::engine::gc::learn(self)?;
                match self.index.location(id)? {
                    Some(moved) if moved.pack != loc.pack => {
                        let raw = self.read_unverified_within(id, &moved, max_depth)?;
                        Ok((moved, raw))
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Reads an object and verifies it; returns its kind and raw bytes.
    pub fn read_object(&self, id: &Hash) -> Result<(ObjectKind, Vec<u8>)> {
        let (loc, raw) = self.fetch(id)?;
        verify(id, &loc, &raw)?;
        Ok((loc.kind, raw))
    }

    fn read_kind(&self, id: &Hash, kind: ObjectKind) -> Result<Vec<u8>> {
        let (found, raw) = self.read_object(id)?;
        if found != kind {
            return Err(EngineError::WrongKind {
                id: id.short(),
                found: found.name(),
                wanted: kind.name(),
            }
            .into());
        }
        Ok(raw)
    }

    /// Reads and decodes a tree.
    pub fn read_tree(&self, id: &TreeId) -> Result<Tree> {
        // The empty tree needs no storage: every project starts from it.
        if *id == crate::object::empty_tree_id() {
            return Ok(Tree::default());
        }
        self.decode_verified(id.0, ObjectKind::Tree)
    }

    /// Reads and decodes a commit.
    pub fn read_commit(&self, id: &CommitId) -> Result<Commit> {
        self.decode_verified(id.0, ObjectKind::Commit)
    }

    /// Reads, verifies and decodes a structured object; a decoding failure is damage
    /// of that object in its pack.
    fn decode_verified<T>(&self, id: Hash, kind: ObjectKind) -> Result<T>
    where
        T: crate::object::Canonical + serde::Serialize + serde::de::DeserializeOwned,
    {
        let raw = self.read_kind(&id, kind)?;
        decode(&raw).map_err(|e| match self.locate(&id) {
            Ok(loc) => corrupt(&id, &loc, e.to_string()),
            Err(_) => e.into(),
        })
    }

    /// Streams a file's content (or a symlink target) into `out`, verifying it against
    /// `id`. Returns the number of bytes written.
    pub fn read_file_to(&self, id: &Hash, out: &mut dyn Write) -> Result<u64> {
        self.read_file_with(&|id| self.locate(id), id, out)
    }

    /// [`read_file_to`](Self::read_file_to) with the locations looked up in one read
    /// transaction (a restore writes thousands of files from one snapshot).
    pub fn read_file_in(
        &self,
        snapshot: &crate::index::IndexSnapshot,
        id: &Hash,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let locate = |id: &Hash| {
            snapshot
                .location(id)?
                .ok_or_else(|| Error::object_not_found(id))
        };
        self.read_file_with(&locate, id, out)
    }

    fn read_file_with(
        &self,
        locate: &dyn Fn(&Hash) -> Result<ObjectLocation>,
        id: &Hash,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let (loc, raw) = self.fetch_at(id, locate(id)?)?;
        let write_err = |e| Error::Io {
            op: "write",
            path: "output".into(),
            source: e,
        };
        match loc.kind {
            ObjectKind::Chunk => {
                verify(id, &loc, &raw)?;
                out.write_all(&raw).map_err(write_err)?;
                Ok(raw.len() as u64)
            }
            ObjectKind::Manifest => {
                let manifest: Manifest =
                    decode(&raw).map_err(|e| corrupt(id, &loc, e.to_string()))?;
                // Each chunk is verified before it is written; the whole file is
                // hashed again (beside, for a large one) to check it against its id.
                let whole = hash_beside(manifest.size, |hash| {
                    for chunk in &manifest.chunks {
                        let (loc, bytes) = self.fetch_at(&chunk.id, locate(&chunk.id)?)?;
                        verify(&chunk.id, &loc, &bytes)?;
                        out.write_all(&bytes).map_err(write_err)?;
                        hash(bytes);
                    }
                    Ok(())
                })?;
                if whole != *id {
                    return Err(corrupt(
                        id,
                        &loc,
                        "file content does not hash to its id".into(),
                    ));
                }
                Ok(manifest.size)
            }
            other => Err(Error::Invalid(format!(
                "{} is a {}, not a file",
                id.short(),
                other.name()
            ))),
        }
    }

    /// Reads a whole file into memory (small files, symlink targets).
    pub fn read_file(&self, id: &Hash) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_file_to(id, &mut out)?;
        Ok(out)
    }

    /// The header of the delta object at `loc`: the bases it is decoded against.
    pub(crate) fn delta_header(
        &self,
        id: &Hash,
        loc: &ObjectLocation,
    ) -> Result<delta::DeltaHeader> {
        let len = (2 + 32 * delta::MAX_BASES as u32).min(loc.stored_len);
        let range = loc.offset..loc.offset + u64::from(len);
        let stored = match self
            .backend
            .get_object(&pack_name(&loc.pack), range.clone())
        {
            Ok(bytes) => bytes,
            Err(e) => return Err(self.explain_range_error(id, loc, range.end, e)),
        };
        // The header is parsed from its first bytes: the frame after it is not needed.
        let (header, _) = delta::parse(&stored).map_err(|e| corrupt(id, loc, e.to_string()))?;
        Ok(header)
    }

    /// Reads a manifest (for GC and fsck); `None` when the id is a single chunk.
    pub fn read_manifest(&self, id: &Hash) -> Result<Option<Manifest>> {
        self.read_manifest_at(id, &self.locate(id)?)
    }

    /// [`read_manifest`](Self::read_manifest) at a location already looked up.
    pub(crate) fn read_manifest_at(
        &self,
        id: &Hash,
        loc: &ObjectLocation,
    ) -> Result<Option<Manifest>> {
        if loc.kind != ObjectKind::Manifest {
            return Ok(None);
        }
        let raw = self.read_unverified(id, loc)?;
        decode(&raw)
            .map(Some)
            .map_err(|e| corrupt(id, loc, e.to_string()))
    }
}

/// Turns stored bytes into raw bytes: decompressed, or for a delta decoded against its
/// bases, whose raw bytes `base` returns given the depth each may have at most.
pub(crate) fn decode_stored(
    id: &Hash,
    loc: &ObjectLocation,
    stored: &[u8],
    max_depth: u8,
    base: &mut dyn FnMut(&Hash, u8) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    if loc.compression != Compression::Delta {
        return codec::decompress(stored, loc.compression, loc.raw_len as usize)
            .map_err(|e| corrupt(id, loc, e.to_string()));
    }
    let (header, frame) = delta::parse(stored).map_err(|e| corrupt(id, loc, e.to_string()))?;
    if header.depth > max_depth {
        return Err(corrupt(
            id,
            loc,
            format!("a chain of deltas deeper than {max_depth}"),
        ));
    }
    let mut prefix = Vec::new();
    for b in &header.bases {
        prefix.extend_from_slice(&base(b, header.depth - 1)?);
    }
    delta::decode(frame, &prefix, loc.raw_len as usize).map_err(|e| corrupt(id, loc, e.to_string()))
}

/// A member's bytes, copied out of its decompressed block.
fn member(id: &Hash, loc: &ObjectLocation, whole: &[u8], start: u32) -> Result<Vec<u8>> {
    block::member(whole, start, loc.raw_len as usize)
        .map(<[u8]>::to_vec)
        .map_err(|e| corrupt(id, loc, e.to_string()))
}

/// Checks raw bytes against their id, where the id is the hash of the bytes.
pub fn verify(id: &Hash, loc: &ObjectLocation, raw: &[u8]) -> Result<()> {
    if loc.kind.id_is_hash() && Hash::of(raw) != *id {
        return Err(corrupt(id, loc, "content does not hash to its id".into()));
    }
    Ok(())
}

fn corrupt(id: &Hash, loc: &ObjectLocation, reason: String) -> Error {
    Error::Corrupt {
        what: format!(
            "{} {} in pack {}",
            loc.kind.name(),
            id.short(),
            loc.pack.short()
        ),
        pack: Some(loc.pack),
        object: Some(*id),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::PackId;
    use crate::object::delta::{DeltaHeader, encode};

    fn delta_at(stored: &[u8], raw_len: usize) -> ObjectLocation {
        ObjectLocation {
            pack: PackId(Hash::of(b"pack")),
            offset: 25,
            stored_len: stored.len() as u32,
            raw_len: raw_len as u32,
            kind: ObjectKind::Chunk,
            compression: Compression::Delta,
        }
    }

    /// A delta asks for its bases one level shallower than itself, and one deeper than
    /// the reader allows is refused before any base is read: a chain that loops back
    /// on itself (a crafted pack) ends at the limit.
    #[test]
    fn a_delta_reads_its_bases_within_the_depth_allowed() {
        let base = vec![9u8; 100_000];
        let raw = [&base[..50_000], b"inserted", &base[50_000..]].concat();
        let header = DeltaHeader {
            depth: 3,
            bases: vec![Hash::of(&base)],
        };
        let stored = encode(&raw, 3, &header, &base).unwrap();
        let loc = delta_at(&stored, raw.len());
        let mut asked = Vec::new();
        let out = decode_stored(&Hash::of(&raw), &loc, &stored, 3, &mut |id, depth| {
            asked.push((*id, depth));
            Ok(base.clone())
        })
        .unwrap();
        assert_eq!(out, raw);
        assert_eq!(asked, [(Hash::of(&base), 2)]);
        let mut read_any = false;
        let refused = decode_stored(&Hash::of(&raw), &loc, &stored, 2, &mut |_, _| {
            read_any = true;
            Ok(base.clone())
        });
        assert!(matches!(refused, Err(Error::Corrupt { .. })), "{refused:?}");
        assert!(!read_any);
    }
}
