//! Publishing a checkpoint of a directory.
//!
//! Write order (the crash-safety argument): every pack is durably stored first; then
//! one index transaction adds the packs' objects, the checkpoint row and HEAD together.
//! A crash before the transaction leaves only unreferenced packs, which `gc` removes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::pipeline::Pipeline;
use super::scan::scan_dir;
use crate::engine::Engine;
use crate::engine::EngineError;
use crate::engine::gc::{Roots, guard};
use crate::engine::progress::Progress;
use crate::engine::refs::validate_checkpoint_name;
use crate::engine::shared;
use crate::engine::writer::Writer;
use crate::error::{Error, Result};
use crate::hash::{CommitId, Hash, TreeId};
use crate::index::{IndexError, NewCheckpoint};
use crate::object::codec;
use crate::object::{Commit, ObjectKind, encode};
use crate::store::{PackSink, Packer, WrittenPack};

/// How often a checkpoint retries when another one lands first.
const PUBLISH_ATTEMPTS: usize = 32;

/// What to record with a checkpoint.
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// The description (`-m`).
    pub message: String,
    /// An optional name, unique in the repository.
    pub name: Option<String>,
    /// Who makes it; default: `REEL_AUTHOR`, the config's `author`, the OS user.
    pub author: Option<String>,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Make no checkpoint when the directory is exactly HEAD's tree and no name is
    /// given: the summary then names HEAD, with `unchanged` set (the command line's
    /// default; `--allow-empty` clears it).
    pub skip_unchanged: bool,
}

/// What a checkpoint stored.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointSummary {
    /// The new checkpoint (HEAD, when `unchanged`).
    pub id: CommitId,
    /// Nothing changed since HEAD and no checkpoint was made
    /// ([`CheckpointOptions::skip_unchanged`]).
    pub unchanged: bool,
    /// Its root tree.
    pub tree: TreeId,
    /// Its name, if any.
    pub name: Option<String>,
    /// Files and symlinks in the tree.
    pub files: u64,
    /// Their logical bytes.
    pub bytes: u64,
    /// Files read and hashed; the rest were vouched for by the stat cache.
    pub hashed_files: u64,
    /// Bytes read and hashed.
    pub hashed_bytes: u64,
    /// Objects the repository did not have.
    pub new_objects: u64,
    /// Their bytes before compression (what dedup could not remove).
    pub new_bytes: u64,
    /// Their bytes as stored (after compression).
    pub stored_bytes: u64,
    /// Packs written.
    pub packs: usize,
    /// Paths left out because they vanished or could not be read while the checkpoint
    /// ran (each also logged as a warning).
    pub skipped: Vec<super::SkippedPath>,
}

/// Checkpoints directory `dir` (absolute) into the repository and moves HEAD to it.
pub fn checkpoint(
    engine: &Engine,
    dir: &Path,
    opts: &CheckpointOptions,
    progress: &dyn Progress,
) -> Result<CheckpointSummary> {
    if let Some(name) = &opts.name {
        validate_checkpoint_name(name).map_err(Error::Invalid)?;
    }
    if shared::enabled(engine) {
        shared::sync(engine)?;
    }
    check_name(engine, opts)?;
    // Registered before anything reads the index to deduplicate; dropped (deleting any
    // pack it stored) if the checkpoint fails.
    let writer = engine.writer()?;
    let result = write_and_publish(engine, dir, opts, &writer, progress);
    progress.finish();
    result
}

fn write_and_publish(
    engine: &Engine,
    dir: &Path,
    opts: &CheckpointOptions,
    writer: &Writer,
    progress: &dyn Progress,
) -> Result<CheckpointSummary> {
    let mut staged = match stage(engine, dir, opts, writer, progress)? {
        Stage::Staged(s) => *s,
        Stage::Unchanged(summary) => return Ok(summary),
    };
    crate::engine::failpoint::hit("checkpoint-before-publish");
    let dir_key = dir.to_string_lossy();
    let shared = shared::enabled(engine);
    let mut since = writer.epoch();
    for attempt in 0..PUBLISH_ATTEMPTS {
        let expect_head = staged.commit.parents.first().copied();
        if shared {
            // Nothing it publishes may rely on a pack another machine's gc condemned
            // while it ran.
            let roots = Roots::of(vec![staged.id], Vec::new(), Vec::new());
            let copies = guard(engine, &mut since, &staged.packs, &roots)?;
            staged.packs.extend(copies);
        }
        // On a shared backend the bucket's HEAD decides: it moves first (the commit
        // point), then the record, then this machine's index.
        if shared && !shared::advance(engine, expect_head, Some(staged.id))? {
            shared::sync(engine)?;
            check_name(engine, opts)?;
            shared::backoff(attempt);
            restage(engine, writer, &mut staged)?;
            continue;
        }
        if shared {
            crate::engine::failpoint::hit("checkpoint-head-moved");
            shared::record(engine, staged.id)?;
        }
        let publish = NewCheckpoint {
            packs: &staged.packs,
            commit: staged.id,
            expect_head,
            name: opts.name.as_deref(),
            stats: &staged.scan.stat_rows,
            worktree: Some((&dir_key, staged.scan.root)),
            pin: writer.pin(),
            shared,
        };
        match engine.index.publish_checkpoint(&publish) {
            Ok(_) => {
                writer.published();
                return Ok(staged.summary(opts));
            }
            // Another checkpoint landed first: follow it, with a fresh commit object.
            Err(IndexError::Conflict(_)) => restage(engine, writer, &mut staged)?,
            Err(e) => return Err(e.into()),
        }
    }
    Err(EngineError::TooManyConflicts.into())
}

/// The name asked for is still free (no checkpoint and no tag has it).
fn check_name(engine: &Engine, opts: &CheckpointOptions) -> Result<()> {
    match &opts.name {
        Some(name) if engine.index.named(name)?.is_some() => {
            Err(EngineError::NameTaken(name.clone()).into())
        }
        Some(name) if crate::engine::tags::lookup(engine, name)?.is_some() => Err(Error::Invalid(
            format!("`{name}` is a tag: a checkpoint needs another name"),
        )),
        _ => Ok(()),
    }
}

/// Rebuilds the commit on the current HEAD and stores it.
fn restage(engine: &Engine, writer: &Writer, staged: &mut Staged) -> Result<()> {
    staged.commit.parents = engine.index.head()?.into_iter().collect();
    let bytes = encode(&staged.commit)?;
    staged.id = CommitId(Hash::of(&bytes));
    let id = staged.id.0;
    staged.packs.extend(write_single(
        engine,
        writer,
        ObjectKind::Commit,
        id,
        &bytes,
    )?);
    Ok(())
}

/// A checkpoint stored but not yet published: its scan, commit and packs.
struct Staged {
    scan: super::scan::ScanResult,
    commit: Commit,
    id: CommitId,
    packs: Vec<WrittenPack>,
    /// New objects, their raw bytes, their stored bytes.
    counts: (u64, u64, u64),
}

impl Staged {
    fn summary(self, opts: &CheckpointOptions) -> CheckpointSummary {
        let (new_objects, new_bytes, stored_bytes) = self.counts;
        CheckpointSummary {
            id: self.id,
            unchanged: false,
            tree: self.scan.root,
            name: opts.name.clone(),
            files: self.scan.files,
            bytes: self.scan.bytes,
            hashed_files: self.scan.hashed_files,
            hashed_bytes: self.scan.hashed_bytes,
            new_objects,
            new_bytes,
            stored_bytes,
            packs: self.packs.len(),
            skipped: self.scan.skipped,
        }
    }
}

/// What staging found.
enum Stage {
    /// A commit to publish.
    Staged(Box<Staged>),
    /// The directory is HEAD's tree, and no checkpoint is wanted then.
    Unchanged(CheckpointSummary),
}

/// Scans the directory, stores what is new and the commit on the current HEAD.
fn stage(
    engine: &Engine,
    dir: &Path,
    opts: &CheckpointOptions,
    writer: &Writer,
    progress: &dyn Progress,
) -> Result<Stage> {
    let pipe = Pipeline::storing(engine, writer)?;
    let mut scan = match scan_dir(engine, &pipe, dir, progress) {
        Ok(scan) => scan,
        // The pipeline's own failure (a full disk, say) explains a scan error better.
        Err(e) => return Err(pipe.finish().err().unwrap_or(e)),
    };
    // The trees are stored (or being stored); a checkpoint never reads them back from
    // here, and at 200,000 files they are tens of MiB held through the publish.
    scan.trees = std::collections::HashMap::new();
    let head = engine.index.head()?;
    if opts.skip_unchanged
        && opts.name.is_none()
        && let Some(head) = head
        && engine.read_commit(&head)?.tree == scan.root
    {
        // Whatever the scan stored (nothing, normally) is indexed as the writer ends.
        pipe.finish()?;
        return Ok(Stage::Unchanged(CheckpointSummary {
            id: head,
            unchanged: true,
            tree: scan.root,
            name: None,
            files: scan.files,
            bytes: scan.bytes,
            hashed_files: scan.hashed_files,
            hashed_bytes: scan.hashed_bytes,
            new_objects: 0,
            new_bytes: 0,
            stored_bytes: 0,
            packs: 0,
            skipped: scan.skipped,
        }));
    }
    let author = engine.config.author.as_deref();
    let commit = new_commit(scan.root, head, opts, author);
    let bytes = encode(&commit)?;
    let id = CommitId(Hash::of(&bytes));
    pipe.offer(ObjectKind::Commit, id.0, bytes)?;
    let stats = pipe.stats();
    let packs = pipe.finish()?;
    let counts = (
        stats.objects.load(Ordering::Relaxed),
        stats.raw_bytes.load(Ordering::Relaxed),
        stats.stored_bytes.load(Ordering::Relaxed),
    );
    Ok(Stage::Staged(Box::new(Staged {
        scan,
        commit,
        id,
        packs,
        counts,
    })))
}

fn new_commit(
    tree: TreeId,
    head: Option<CommitId>,
    opts: &CheckpointOptions,
    author: Option<&str>,
) -> Commit {
    let created_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Commit {
        tree,
        parents: head.into_iter().collect(),
        project: String::new(),
        name: opts.name.clone(),
        description: opts.message.clone(),
        author: opts
            .author
            .clone()
            .unwrap_or_else(|| default_author(author)),
        created_ms,
        metadata: opts.metadata.clone(),
    }
}

/// The author of a commit that names none: `REEL_AUTHOR`, else the repository
/// config's `author`, else the OS user (`USER`, `USERNAME`, `LOGNAME`, else the name of
/// the process's user id), else `unknown`.
#[must_use]
pub fn default_author(configured: Option<&str>) -> String {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    env("REEL_AUTHOR")
        .or_else(|| configured.map(str::to_owned))
        .or_else(|| env("USER"))
        .or_else(|| env("USERNAME"))
        .or_else(|| env("LOGNAME"))
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Packs and stores one object on its own (a commit rebuilt after a lost race).
pub(crate) fn write_single(
    engine: &Engine,
    writer: &Writer,
    kind: ObjectKind,
    id: Hash,
    raw: &[u8],
) -> Result<Vec<WrittenPack>> {
    let mut packer = Packer::new(
        engine.backend.clone(),
        writer.journal(),
        engine.config.pack_target as usize,
    )
    .with_compact_trailers(engine.config.compact_trailers());
    let (compression, stored) = codec::compress(raw.to_vec(), engine.config.compression_level);
    packer.add(kind, id, compression, &stored, raw.len() as u32)?;
    packer.finish()
}
