//! The bases of a delta, read by a writer: the old chunks a changed chunk replaced.
//!
//! A writer may compress a new chunk against old ones only if it may rely on them the
//! way it relies on a deduplicated object: every object of the chain (the bases, their
//! bases, …) indexed in a pack no gc plan has condemned when the writer started. Then
//! the rules that keep a deduplicated object for a running writer keep these too, and
//! once the delta is published gc's marking keeps its bases as long as it lives. Any
//! doubt (a base missing, condemned, unreadable, a chain at its limit) stores the chunk
//! whole: a delta is only ever an economy.

use crate::engine::read::{decode_stored, verify};
use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::index::IndexSnapshot;
use crate::object::ObjectKind;
use crate::object::codec::Compression;
use crate::object::delta::{self, DeltaHeader};
use crate::store::{BlobBackend, pack_name};

/// What a compressor needs to store a chunk as a delta.
pub struct DeltaInput {
    /// Its depth and bases.
    pub header: DeltaHeader,
    /// The bases' raw bytes, concatenated in order.
    pub prefix: Vec<u8>,
}

/// The delta input for a chunk that replaced the old chunks `replaced`, or `None` when
/// it must be stored whole.
pub fn prepare(
    snapshot: &IndexSnapshot,
    backend: &dyn BlobBackend,
    replaced: &[Hash],
) -> Option<DeltaInput> {
    let mut prefix = Vec::new();
    let mut depth = 0u8;
    for base in replaced {
        match read_base(snapshot, backend, base, delta::MAX_DEPTH - 1) {
            Ok((raw, d)) => {
                prefix.extend_from_slice(&raw);
                depth = depth.max(d);
            }
            Err(e) => {
                tracing::debug!(base = %base.short(), "stored whole, a base is not usable: {e}");
                return None;
            }
        }
    }
    (!replaced.is_empty()).then(|| DeltaInput {
        header: DeltaHeader {
            depth: depth + 1,
            bases: replaced.to_vec(),
        },
        prefix,
    })
}

/// Reads and verifies chunk `id` through the snapshot, refusing it unless it and every
/// base it needs may be relied on; returns its raw bytes and its depth (0: stored
/// whole), which must be at most `max_depth`.
fn read_base(
    snapshot: &IndexSnapshot,
    backend: &dyn BlobBackend,
    id: &Hash,
    max_depth: u8,
) -> Result<(Vec<u8>, u8)> {
    let not_usable = |why: &str| Error::Invalid(format!("{}: {why}", id.short()));
    let loc = snapshot
        .location_relied_on(id)?
        .ok_or_else(|| not_usable("not stored, or in a condemned pack"))?;
    if loc.kind != ObjectKind::Chunk {
        return Err(not_usable("not a chunk"));
    }
    let range = loc.offset..loc.offset + u64::from(loc.stored_len);
    let stored = backend.get_object(&pack_name(&loc.pack), range)?;
    let mut depth = 0;
    if loc.compression == Compression::Delta {
        let (header, _) =
            delta::parse(&stored).map_err(|e| not_usable(&format!("unreadable delta: {e}")))?;
        depth = header.depth;
    }
    let raw = decode_stored(id, &loc, &stored, max_depth, &mut |base, d| {
        read_base(snapshot, backend, base, d).map(|(raw, _)| raw)
    })?;
    verify(id, &loc, &raw)?;
    Ok((raw, depth))
}
