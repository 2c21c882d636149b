//! Projects in a shared backend (the cloud stores), where several machines — `reel
//! serve` processes behind a load balancer, render workers, laptops — meet. The bucket
//! holds one record per project; each machine's index is a cache of it.
//!
//! `projects/<id hex>` is JSON: a random nonce, the project record with its working
//! tree folded into stored trees (`base`; the overlay is this machine's own business),
//! and its checkpoints (sequence, commit, name); `project: null` marks a deleted
//! project. It is created create-only and then moved only by compare-and-swap on the
//! version read.
//!
//! Every operation on a project runs [`with_project`]: under this machine's lock of the
//! project, *pull* (read the record; if its nonce is not the one this index last took
//! or gave, replace the project's rows with it), run the operation on the index, and
//! for a change *push* (fold, write the record at the version pulled). A push that
//! meets another machine's write pulls that write — which drops the local change, never
//! published — and runs the operation again on it. No write is lost: each one lands on
//! the record it read, or is redone.

use std::fs::File;

use serde::{Deserialize, Serialize};

use super::overlay::OverlayRow;
use super::project::{ProjectId, ProjectRecord};
use super::projects::remove_all;
use super::worktree::{Worktree, fold};
use crate::engine::Engine;
use crate::engine::gc::{Roots, guard};
use crate::engine::ingest::Pipeline;
use crate::engine::shared::{backoff, enabled, index_new_packs};
use crate::error::{Error, Result};
use crate::hash::CommitId;
use crate::store::{Swapped, Version};

/// Where project records live.
pub const PROJECTS_PREFIX: &str = "projects/";

/// How often an operation is redone on a record other machines keep moving.
const ATTEMPTS: usize = 32;

/// A project's record in the bucket.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// Random per write: tells one write from another whatever the store's versions.
    nonce: String,
    /// The project, its working tree folded into `base`; `None` once deleted.
    project: Option<ProjectRecord>,
    /// Its live checkpoints, in creation order.
    checkpoints: Vec<RecordCheckpoint>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordCheckpoint {
    seq: u64,
    id: CommitId,
    name: Option<String>,
}

/// What this index last took from or gave to a project's record.
#[derive(Serialize, Deserialize)]
struct Seen {
    nonce: String,
    e_tag: Option<String>,
}

/// Whether an operation changes the project (and must be pushed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    Read,
    /// Changes the project.
    Write,
}

fn key(id: &ProjectId) -> String {
    format!("{PROJECTS_PREFIX}{id}")
}

/// Runs `f`, an operation on project `id`, against the bucket's record of it (see the
/// module docs); on a backend that is not shared, just runs it.
pub fn with_project<T>(
    engine: &Engine,
    id: &ProjectId,
    access: Access,
    f: impl Fn() -> Result<T>,
) -> Result<T> {
    if !enabled(engine) {
        return f();
    }
    let _lock = lock(engine, id)?;
    for attempt in 0..ATTEMPTS {
        // What the change may rely on was deduplicated from here on (or by a writer of
        // this process still registered, whose content it publishes).
        let mut since = engine.index.publication_epoch()?;
        let version = pull(engine, id)?;
        let out = f()?;
        if access == Access::Read {
            return Ok(out);
        }
        crate::engine::failpoint::hit("project-before-push");
        if push(engine, id, version.as_ref(), &mut since)? {
            return Ok(out);
        }
        backoff(attempt);
    }
    Err(Error::Conflict(format!(
        "project {id} kept changing on other machines while this change was made; try again"
    )))
}

/// Publishes a project just created here (create-only: its id is new).
pub fn created(engine: &Engine, id: &ProjectId) -> Result<()> {
    if !enabled(engine) {
        return Ok(());
    }
    let _lock = lock(engine, id)?;
    let mut since = engine.index.publication_epoch()?;
    if push(engine, id, None, &mut since)? {
        Ok(())
    } else {
        Err(Error::Conflict(format!("project {id} already exists")))
    }
}

/// Brings every project's rows up to date with the bucket (before a listing): one
/// listing, and one read for each record whose `ETag` is not the one last seen.
pub fn pull_all(engine: &Engine) -> Result<()> {
    if !enabled(engine) {
        return Ok(());
    }
    let seen = engine.index.shared_project_rows()?;
    let seen: std::collections::HashMap<[u8; 16], Option<String>> = seen
        .into_iter()
        .filter_map(|(k, v)| Some((k, serde_json::from_slice::<Seen>(&v).ok()?.e_tag)))
        .collect();
    for blob in engine.backend.list(PROJECTS_PREFIX)? {
        let Some(id) = blob
            .name
            .strip_prefix(PROJECTS_PREFIX)
            .and_then(|h| h.parse::<ProjectId>().ok())
        else {
            continue;
        };
        let known = seen.get(&id.0).and_then(Option::as_ref);
        if blob.e_tag.is_none() || known != blob.e_tag.as_ref() {
            let _lock = lock(engine, &id)?;
            pull(engine, &id)?;
        }
    }
    Ok(())
}

/// This machine's lock of a project: one operation at a time from pull to push, across
/// its processes (the other machines are kept out by the compare-and-swap).
fn lock(engine: &Engine, id: &ProjectId) -> Result<Option<File>> {
    let Some(dir) = &engine.repo_dir else {
        return Ok(None);
    };
    let dir = dir.join("locks");
    std::fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
    let path = dir.join(format!("project-{id}"));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(Error::io("open", &path))?;
    file.lock().map_err(Error::io("lock", &path))?;
    Ok(Some(file))
}

fn corrupt(engine: &Engine, id: &ProjectId, reason: String) -> Error {
    Error::Corrupt {
        what: format!("`{}` of {}", key(id), engine.backend.describe()),
        pack: None,
        object: None,
        reason,
    }
}

/// Reads the project's record; when it is not what this index last saw, replaces the
/// project's rows with it. Returns the version read (`None`: no record yet).
fn pull(engine: &Engine, id: &ProjectId) -> Result<Option<Version>> {
    let Some((bytes, version)) = engine.backend.get_versioned(&key(id))? else {
        return Ok(None);
    };
    let record: Record =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(engine, id, e.to_string()))?;
    let seen = engine
        .index
        .artifact_read(|tx| tx.shared_project(&id.0))?
        .and_then(|b| serde_json::from_slice::<Seen>(&b).ok());
    let same = seen.as_ref().is_some_and(|s| s.nonce == record.nonce);
    if same && seen.is_some_and(|s| s.e_tag == version.e_tag) {
        return Ok(Some(version));
    }
    if !same {
        ensure_objects(engine, &record)?;
    }
    let seen = serde_json::to_vec(&Seen {
        nonce: record.nonce.clone(),
        e_tag: version.e_tag.clone(),
    })
    .expect("serializes");
    engine.index.artifact_write(|tx| {
        if !same {
            apply(tx, id, &record)?;
        }
        tx.put_shared_project(&id.0, &seen)
    })?;
    Ok(Some(version))
}

/// Indexes the packs other machines wrote when the record names objects this index
/// does not know.
fn ensure_objects(engine: &Engine, record: &Record) -> Result<()> {
    let mut needed: Vec<crate::hash::Hash> = record.checkpoints.iter().map(|c| c.id.0).collect();
    if let Some(p) = &record.project {
        needed.push(p.base.0);
    }
    let snapshot = engine.index.snapshot()?;
    for h in &needed {
        if snapshot.location(h)?.is_none() {
            return index_new_packs(engine);
        }
    }
    Ok(())
}

/// Replaces project `id`'s rows (record, overlay, checkpoints, names) with `record`.
fn apply(tx: &crate::index::ArtifactTx<'_>, id: &ProjectId, record: &Record) -> Result<()> {
    let local = tx
        .project(&id.0)?
        .map(|b| ProjectRecord::from_bytes(&b))
        .transpose()?;
    if let Some(l) = &local {
        remove_all(tx, l)?;
    }
    let Some(mut p) = record.project.clone() else {
        return Ok(());
    };
    if p.id != *id {
        return Err(Error::Invalid(format!(
            "the bucket's record of project {id} names project {}",
            p.id
        )));
    }
    // A new generation: an operation of another process that read the old rows sees
    // the project changed under it (as after a restore).
    let old = local.map_or(0, |l| l.generation);
    p.generation = old.max(p.generation) + 1;
    super::projects::save(tx, &p)?;
    let hex = id.to_string();
    for c in &record.checkpoints {
        tx.add_checkpoint(&id.0, c.seq, &c.id)?;
        if let Some(name) = &c.name {
            tx.put_name(&hex, name, &c.id)?;
        }
    }
    Ok(())
}

/// Writes the project's record at version `expected` (`None`: create-only) from this
/// index's rows, its working tree folded and stored first; `false` (nothing written)
/// when the record is no longer at that version. What it publishes must not rely on a
/// pack condemned after epoch `since` ([`guard`]).
fn push(
    engine: &Engine,
    id: &ProjectId,
    expected: Option<&Version>,
    since: &mut u64,
) -> Result<bool> {
    let hex = id.to_string();
    let (project, rows, checkpoints, names) = engine.index.artifact_read(|tx| {
        let Some(p) = tx
            .project(&id.0)?
            .map(|b| ProjectRecord::from_bytes(&b))
            .transpose()?
        else {
            return Ok((None, Vec::new(), Vec::new(), Vec::new()));
        };
        let rows = Worktree {
            engine,
            tx,
            project: &p,
        }
        .rows()?;
        Ok((Some(p), rows, tx.checkpoints(&id.0)?, tx.names(&hex)?))
    })?;
    let project = match project {
        Some(mut p) => {
            p.base = fold_stored(engine, &p, &rows)?;
            Some(p)
        }
        None => None,
    };
    let record = Record {
        nonce: hex::encode(rand::random::<[u8; 16]>()),
        project,
        checkpoints: checkpoints
            .into_iter()
            .map(|(seq, c)| RecordCheckpoint {
                seq,
                id: c,
                name: names.iter().find(|(_, n)| *n == c).map(|(n, _)| n.clone()),
            })
            .collect(),
    };
    if let Some(p) = &record.project {
        let commits = record.checkpoints.iter().map(|c| c.id).collect();
        guard(
            engine,
            since,
            &[],
            &Roots::of(commits, vec![p.base], Vec::new()),
        )?;
    }
    let bytes = serde_json::to_vec(&record).expect("records serialize");
    if engine.backend.swap(&key(id), bytes.into(), expected)? == Swapped::Conflict {
        return Ok(false);
    }
    let seen = serde_json::to_vec(&Seen {
        nonce: record.nonce,
        e_tag: None,
    })
    .expect("serializes");
    engine
        .index
        .artifact_write(|tx| tx.put_shared_project(&id.0, &seen))?;
    Ok(true)
}

/// The working tree's root, its overlay folded into trees stored (and indexed) now.
fn fold_stored(
    engine: &Engine,
    p: &ProjectRecord,
    rows: &[(String, OverlayRow)],
) -> Result<crate::hash::TreeId> {
    if rows.is_empty() {
        return Ok(p.base);
    }
    let writer = engine.writer()?;
    let pipe = Pipeline::storing(engine, &writer)?;
    let folded = fold(engine, &pipe, p.base, rows);
    let packs = pipe.finish()?;
    engine.index.artifact_write(|tx| tx.add_packs(&packs))?;
    Ok(folded?.0)
}
