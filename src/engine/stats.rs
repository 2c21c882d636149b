//! Repository statistics.

use serde::Serialize;

use crate::engine::Engine;
use crate::error::Result;
use crate::index::TableSize;
use crate::object::ObjectKind;

/// Sizes and counts of a repository.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepoStats {
    /// Where packs live.
    pub backend: String,
    /// Live checkpoints.
    pub checkpoints: u64,
    /// Packs.
    pub packs: u64,
    /// Bytes in packs.
    pub pack_bytes: u64,
    /// Indexed objects.
    pub objects: u64,
    /// Chunks.
    pub chunks: u64,
    /// Trees.
    pub trees: u64,
    /// Commits.
    pub commits: u64,
    /// Manifests.
    pub manifests: u64,
    /// Chunks stored as deltas against the chunks they replaced.
    pub deltas: u64,
    /// Raw bytes of all objects (after dedup, before compression).
    pub raw_bytes: u64,
    /// Stored bytes of all objects (after compression).
    pub stored_bytes: u64,
    /// What `stored_bytes` is made of, kind by kind.
    pub stored_by_kind: StoredByKind,
    /// Logical size of the HEAD checkpoint's files.
    pub head_bytes: u64,
    /// Projects (virtual working trees).
    pub projects: u64,
    /// Checkpoints of projects (`checkpoints` counts the directory's).
    pub project_checkpoints: u64,
    /// Asset and render records.
    pub records: u64,
    /// Size of the index file (`index.redb`), when there is one on disk.
    pub index_bytes: Option<u64>,
    /// The index's tables that hold rows, largest first.
    pub index_tables: Vec<TableSize>,
}

/// Stored bytes of the indexed objects of each kind. The packs hold these and their
/// own headers and trailers (and objects no longer indexed until gc rewrites them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoredByKind {
    /// File data stored whole: small files and the chunks of large ones.
    pub chunks: u64,
    /// File data stored as deltas against the chunks they replaced.
    pub deltas: u64,
    /// Chunk lists of files of more than one chunk.
    pub manifests: u64,
    /// Directory listings.
    pub trees: u64,
    /// Checkpoints.
    pub commits: u64,
    /// Small objects of every kind, compressed together in solid blocks (each block
    /// counted once; its members are not counted in the kinds above).
    pub blocks: u64,
}

/// The object count and the stored bytes by kind an object of `kind` adds to.
fn kind_counters(s: &mut RepoStats, kind: ObjectKind, delta: bool) -> (&mut u64, &mut u64) {
    match kind {
        ObjectKind::Chunk if delta => (&mut s.chunks, &mut s.stored_by_kind.deltas),
        ObjectKind::Chunk => (&mut s.chunks, &mut s.stored_by_kind.chunks),
        ObjectKind::Tree => (&mut s.trees, &mut s.stored_by_kind.trees),
        ObjectKind::Commit => (&mut s.commits, &mut s.stored_by_kind.commits),
        ObjectKind::Manifest => (&mut s.manifests, &mut s.stored_by_kind.manifests),
    }
}

/// Counts what the repository holds.
pub fn stats(engine: &Engine) -> Result<RepoStats> {
    let mut s = RepoStats {
        backend: engine.backend.describe(),
        ..RepoStats::default()
    };
    s.checkpoints = engine.index.checkpoints()?.len() as u64;
    (s.projects, s.project_checkpoints, s.records) = engine.index.artifact_counts()?;
    s.index_bytes = engine
        .repo_dir
        .as_ref()
        .and_then(|d| std::fs::metadata(d.join("index.redb")).ok())
        .map(|m| m.len());
    s.index_tables = engine.index.table_sizes()?;
    for (_, rec) in engine.index.packs()? {
        s.packs += 1;
        s.pack_bytes += rec.size;
    }
    let mut blocks = std::collections::HashSet::new();
    for (_, loc) in engine.index.objects()? {
        s.objects += 1;
        s.raw_bytes += u64::from(loc.raw_len);
        if loc.compression.in_block() {
            let (count, _) = kind_counters(&mut s, loc.kind, false);
            *count += 1;
            if blocks.insert((loc.pack, loc.offset)) {
                s.stored_bytes += u64::from(loc.stored_len);
                s.stored_by_kind.blocks += u64::from(loc.stored_len);
            }
            continue;
        }
        s.stored_bytes += u64::from(loc.stored_len);
        let delta = loc.compression == crate::object::codec::Compression::Delta;
        s.deltas += u64::from(delta);
        let (count, stored) = kind_counters(&mut s, loc.kind, delta);
        *count += 1;
        *stored += u64::from(loc.stored_len);
    }
    if let Some(head) = engine.index.head()? {
        s.head_bytes = engine
            .read_tree(&engine.read_commit(&head)?.tree)?
            .total_size();
    }
    Ok(s)
}
