//! The writer's side of gc across machines, at its commit point.
//!
//! A writer deduplicates against the packs its index knows, minus those condemned
//! when it started ([`super::learn`]). While it runs, a gc on another machine — which
//! cannot see it — may condemn one of those packs and, once the mark is older than the
//! grace period, delete it. So just before a writer publishes (moves `refs/HEAD`, writes
//! a project or an asset/render record) on a shared bucket, [`guard`] lists the marks
//! again. If nothing was condemned since the writer started — the usual case, one
//! LIST — it publishes. Otherwise it walks what it is about to publish and copies every
//! object it would reference in a pack condemned since into a new pack of its own
//! (indexed at once: the copy takes over), then checks again, until a check finds
//! nothing new. An object whose pack is already deleted fails the publication with a
//! conflict: nothing is published, and a new run stores the bytes again.
//!
//! What is left to assume is that a publication lands within the grace period of the
//! check before it — one request — not that the whole writer does: a mark the last
//! check did not see was written after it, so it ripens after the publication, and the
//! run that would delete its pack reads its roots (the publication among them) after
//! it found the mark ripe (see [`super::shared::store_time`]).

use std::collections::HashSet;

use super::mark::{Marker, Roots};
use super::shared::{Marks, take};
use crate::engine::Engine;
use crate::error::{Error, ItemKind, Result};
use crate::hash::{Hash, PackId};
use crate::index::{ObjectLocation, WriterKind};
use crate::store::{Packer, StoreError, WrittenPack, pack_name};

/// Checks, just before a publication of `roots` on a shared bucket, that it relies on no
/// pack condemned after epoch `since` (the oldest registration of the writers whose
/// work it publishes); copies what it does rely on (see the module docs). `own` are the
/// packs the publication stores and has not indexed yet. Returns the packs of the
/// copies, already indexed; `since` moves on to the epoch checked.
pub fn guard(
    engine: &Engine,
    since: &mut u64,
    own: &[WrittenPack],
    roots: &Roots,
) -> Result<Vec<WrittenPack>> {
    if !crate::engine::shared::enabled(engine) {
        return Ok(Vec::new());
    }
    let own_ids: HashSet<PackId> = own.iter().map(|p| p.id).collect();
    let mut own_indexed = false;
    let mut copies = Vec::new();
    loop {
        crate::engine::failpoint::hit("publish-guard");
        let marks = Marks::list(engine)?;
        let marks_own = marks
            .condemned
            .keys()
            .chain(&marks.deleted)
            .any(|p| own_ids.contains(p));
        if marks_own && !own_indexed {
            // Indexed, the marks apply to them as to any pack (condemned or dropped).
            engine.index.insert_written(own)?;
            own_indexed = true;
        }
        take(engine, &marks)?;
        let now = engine.index.gc_epoch()?;
        if now <= *since {
            return Ok(copies);
        }
        if !own_indexed {
            // The walk reads the publication's own objects through the index.
            engine.index.insert_written(own)?;
            own_indexed = true;
        }
        let condemned: HashSet<PackId> = engine
            .index
            .gc_view()?
            .condemned
            .into_iter()
            .filter(|(_, at)| *at > *since)
            .map(|(p, _)| p)
            .collect();
        let needed = relied_on(engine, roots, &condemned)?;
        *since = now;
        if needed.is_empty() {
            return Ok(copies);
        }
        tracing::info!(
            "{} objects this publication needs are in packs a gc condemned meanwhile: copying them",
            needed.len()
        );
        copies.extend(copy(engine, &needed)?);
    }
}

/// The objects `roots` reach that are located in `condemned` packs. An object no
/// longer located anywhere (its pack was deleted) is a conflict.
fn relied_on(
    engine: &Engine,
    roots: &Roots,
    condemned: &HashSet<PackId>,
) -> Result<Vec<(Hash, ObjectLocation)>> {
    let mut marker = Marker::new();
    match marker.mark(engine, roots) {
        Err(Error::NotFound {
            kind: ItemKind::Object,
            id,
            ..
        }) => return Err(deleted_meanwhile(&id)),
        other => other?,
    }
    let mut needed = Vec::new();
    for id in marker.into_marked() {
        match engine.index.location(&id)? {
            Some(loc) if condemned.contains(&loc.pack) => needed.push((id, loc)),
            Some(_) => {}
            None => return Err(deleted_meanwhile(&id.short())),
        }
    }
    // In pack order: a solid block's members one after another (decompressed once).
    needed.sort_by_key(|(_, loc)| (loc.pack, loc.offset));
    Ok(needed)
}

/// The publication relies on an object a gc elsewhere deleted while it ran.
fn deleted_meanwhile(id: &str) -> Error {
    Error::Conflict(format!(
        "object {id} this change relies on was deleted by a gc on another machine while \
         the change ran; nothing was published: run it again"
    ))
}

/// Copies objects (verified, not recompressed) into new packs, indexed at once: the
/// copies take over from the condemned packs.
fn copy(engine: &Engine, needed: &[(Hash, ObjectLocation)]) -> Result<Vec<WrittenPack>> {
    let writer = engine.register(WriterKind::Writer)?;
    let mut packer = Packer::new(
        engine.backend.clone(),
        writer.journal(),
        engine.config.pack_target as usize,
    )
    .with_small_objects(engine.config.compression_level, engine.config.blocks())
    .with_compact_trailers(engine.config.compact_trailers());
    for (id, loc) in needed {
        let range = loc.offset..loc.offset + u64::from(loc.stored_len);
        let stored = match engine.backend.get_object(&pack_name(&loc.pack), range) {
            Ok(bytes) => bytes,
            Err(StoreError::NotFound { .. }) => return Err(deleted_meanwhile(&id.short())),
            Err(e) => return Err(e.into()),
        };
        let raw = engine.decode_stored(id, loc, &stored, crate::object::delta::MAX_DEPTH)?;
        crate::engine::read::verify(id, loc, &raw)?;
        super::apply::copy_verified(&mut packer, id, loc, &stored, &raw)?;
    }
    let packs = packer.finish()?;
    engine.index.insert_written(&packs)?;
    // Dropping the writer ends its registration: its packs are indexed.
    drop(writer);
    Ok(packs)
}
