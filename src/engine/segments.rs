//! What the bucket's packs hold, read the cheap way: the index segments first (one GET
//! for a batch of packs, see `store::segment`), each listed pack's own trailer only
//! when no segment describes it. Segments are never trusted beyond their packs: a pack
//! is taken in only if the bucket lists it, with the size the segment gives.
//!
//! `gc` merges the segments into one when they are many or name deleted packs.

use std::collections::{HashMap, HashSet};

use crate::engine::Engine;
use crate::engine::fsck::Problem;
use crate::error::Result;
use crate::hash::PackId;
use crate::store::{
    SEGMENTS_PREFIX, WrittenPack, is_segment_name, parse_pack_name, parse_segment, read_trailer,
    write_segment,
};

/// Segments in the bucket from which `gc` merges them into one.
const MERGE_FROM: usize = 16;

/// Packs found in the bucket, and how their contents were learned.
#[derive(Debug, Default)]
pub struct Found {
    /// Packs to index, with their objects.
    pub packs: Vec<WrittenPack>,
    /// How many of them a segment described.
    pub from_segments: u64,
    /// How many trailers were read (packs no segment described).
    pub trailers_read: u64,
    /// Packs whose trailer could not be read or parsed.
    pub damaged: Vec<Problem>,
    /// Segments read now (to note as read).
    pub segments_read: Vec<String>,
    /// Segments noted as read that the bucket no longer lists (merged by a gc).
    pub segments_gone: Vec<String>,
}

/// What [`read_segments`] found.
struct Segments {
    /// Every segment listed under `index/`.
    listed: Vec<String>,
    /// The ones read now.
    read: Vec<String>,
    /// The packs those describe, by id.
    packs: HashMap<PackId, WrittenPack>,
}

/// Lists the segments and reads every listed one not in `known`. A segment that cannot
/// be parsed is logged, counted as read and describes nothing.
fn read_segments(engine: &Engine, known: &HashSet<String>) -> Result<Segments> {
    let listed: Vec<String> = engine
        .backend
        .list(SEGMENTS_PREFIX)?
        .into_iter()
        .map(|b| b.name)
        .filter(|n| is_segment_name(n))
        .collect();
    let mut read = Vec::new();
    let mut packs = HashMap::new();
    for name in &listed {
        if known.contains(name) {
            continue;
        }
        let bytes = match engine.backend.get(name) {
            Ok(b) => b,
            // Merged and deleted by a gc since the listing.
            Err(crate::store::StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        match parse_segment(name, &bytes) {
            Ok(found) => packs.extend(found.into_iter().map(|p| (p.id, p))),
            Err(e) => {
                tracing::warn!(
                    "index segment left out (the packs' trailers are read instead): {e}"
                );
            }
        }
        read.push(name.clone());
    }
    Ok(Segments {
        listed,
        read,
        packs,
    })
}

/// Every pack the bucket lists that `skip` does not exclude, with its objects: from
/// the segments not yet read here (all of them when `all_segments`), or from its
/// trailer. Segments are listed before packs: a writer stores its segment after its
/// packs, so every pack a listed segment names is in the later pack listing unless
/// gc deleted it.
pub fn find_packs(
    engine: &Engine,
    all_segments: bool,
    skip: impl Fn(&PackId) -> bool,
) -> Result<Found> {
    let mut found = Found::default();
    let mut described = HashMap::new();
    if engine.backend.shared() {
        let known = if all_segments {
            HashSet::new()
        } else {
            engine.index.segments_read()?
        };
        let segments = read_segments(engine, &known)?;
        let listed: HashSet<&String> = segments.listed.iter().collect();
        found.segments_gone = known
            .iter()
            .filter(|n| !listed.contains(n))
            .cloned()
            .collect();
        found.segments_read = segments.read;
        described = segments.packs;
    }
    for blob in engine.backend.list("packs/")? {
        let Some(id) = parse_pack_name(&blob.name) else {
            continue;
        };
        if skip(&id) {
            continue;
        }
        if let Some(p) = described.remove(&id).filter(|p| p.size == blob.size) {
            found.from_segments += 1;
            found.packs.push(p);
            continue;
        }
        found.trailers_read += 1;
        match read_trailer(engine.backend.as_ref(), &blob.name, blob.size) {
            Ok(entries) => found.packs.push(WrittenPack {
                id,
                size: blob.size,
                entries,
            }),
            Err(e) => found.damaged.push(Problem {
                pack: Some(id),
                object: None,
                message: e.to_string(),
            }),
        }
    }
    Ok(found)
}

/// Merges the bucket's segments into one when there are [`MERGE_FROM`] or more, or
/// when `packs_deleted` (some then name packs that are gone): the merged segment lists
/// the packs of the segments read that the bucket still lists, is stored first, and
/// only then are the segments read deleted. Racing merges each store theirs and
/// delete only what they read; a pack no segment describes any more is read from its
/// trailer. Returns how many segments were replaced.
pub fn merge(engine: &Engine, packs_deleted: bool) -> Result<u64> {
    if !engine.backend.shared() {
        return Ok(0);
    }
    let Segments {
        listed,
        read,
        mut packs,
    } = read_segments(engine, &HashSet::new())?;
    if listed.len() < 2 || (listed.len() < MERGE_FROM && !packs_deleted) {
        return Ok(0);
    }
    let live: HashMap<PackId, u64> = engine
        .backend
        .list("packs/")?
        .into_iter()
        .filter_map(|b| Some((parse_pack_name(&b.name)?, b.size)))
        .collect();
    packs.retain(|id, p| live.get(id) == Some(&p.size));
    let merged: Vec<WrittenPack> = packs.into_values().collect();
    let name = write_segment(engine.backend.as_ref(), &merged)?;
    crate::engine::failpoint::hit("segments-merged");
    let mut replaced = 0;
    for old in read.iter().filter(|n| Some(*n) != name.as_ref()) {
        engine.backend.delete(old)?;
        replaced += 1;
    }
    Ok(replaced)
}
