//! The render pipeline's interface to the artifact layer, and all of it: the tree to
//! render (with visibility checked), the memo from render keys to stored renders,
//! storing a finished video, and persisted job statuses. `crate::render` uses this
//! module and the layer's public types, nothing else of the layer.

pub use super::identity::Owner;
pub use super::projects::now_ms;

use bytes::Bytes;

use super::blobs::{self, BlobInfo, RenderMeta};
use super::checkpoints::{resolve, working_tree_stored};
use super::files::Stored;
use super::identity::Caller;
use super::project::{ProjectId, RecordId};
use super::projects::load_visible;
use super::shared::Access;
use crate::engine::Engine;
use crate::error::Result;
use crate::hash::{CommitId, Hash, TreeId};
use crate::object::EntryKind;

/// The tree a render starts from.
#[derive(Debug, Clone)]
pub struct RenderSource {
    /// The tree.
    pub tree: TreeId,
    /// The checkpoint it came from (`None`: the working tree).
    pub checkpoint: Option<CommitId>,
    /// The project's owner (render jobs are visible to whoever sees the project).
    pub owner: Owner,
}

/// Resolves a checkpoint (or the working tree, folded and stored) of a project the
/// caller may see.
pub fn source(
    engine: &Engine,
    caller: &Caller,
    project: &ProjectId,
    rev: Option<&str>,
) -> Result<RenderSource> {
    let read = || {
        engine.index.artifact_read(|tx| {
            let p = load_visible(tx, caller, project)?;
            Ok((
                p.owner.clone(),
                rev.map(|r| resolve(tx, &p, r)).transpose()?,
            ))
        })
    };
    let (owner, checkpoint) = super::shared::with_project(engine, project, Access::Read, read)?;
    let tree = match checkpoint {
        Some(c) => engine.read_commit(&c)?.tree,
        None => working_tree_stored(engine, caller, project)?,
    };
    Ok(RenderSource {
        tree,
        checkpoint,
        owner,
    })
}

/// The bytes of a regular file at the root of `tree` (`package.json`, …), if any.
pub fn root_file(engine: &Engine, tree: TreeId, name: &str) -> Result<Option<Vec<u8>>> {
    let t = engine.read_tree(&tree)?;
    match t.get(name) {
        Some(e) if e.kind == EntryKind::File => Ok(Some(engine.read_file(&e.id)?)),
        _ => Ok(None),
    }
}

/// The render memoized for `key`, as a record the caller can see. When the stored
/// render belongs to someone else (same inputs, another user), the caller gets a record
/// of its own pointing at the same bytes: nothing is rendered or stored twice, and
/// nothing of the other user's becomes visible.
pub fn memo_get(
    engine: &Engine,
    caller: &Caller,
    project: &ProjectId,
    checkpoint: Option<CommitId>,
    key: &Hash,
) -> Result<Option<BlobInfo>> {
    // Registered before the memo is read: a record made for this caller below points at
    // bytes another record holds now, which GC must not drop in between.
    let writer = engine.writer()?;
    let Some(id) = super::shared_records::memo(engine, key)? else {
        return Ok(None);
    };
    let Some((info, owner)) = blobs::load_any(engine, &id)? else {
        return Ok(None); // the render was deleted; render again
    };
    if owner.visible_to(caller) {
        return Ok(Some(info));
    }
    let super::blobs::BlobKind::Render { meta, .. } = info.kind else {
        return Ok(None);
    };
    let stored = Stored {
        id: info.content,
        size: info.size,
        inline: None,
        packs: Vec::new(),
        writer: Some(writer),
    };
    // The attachments are stored already: the copy names the same content.
    let existing = |a: Option<blobs::Attachment>| {
        a.map(|a| Stored {
            id: a.content,
            size: a.size,
            inline: None,
            packs: Vec::new(),
            writer: None,
        })
    };
    let attached = blobs::Attached {
        poster: existing(meta.poster),
        lockfile: existing(meta.lockfile),
    };
    let checkpoint = checkpoint.map(|c| c.to_string());
    blobs::store_render(
        engine,
        caller,
        project,
        checkpoint.as_deref(),
        stored,
        attached,
        meta,
    )
    .map(Some)
}

/// A finished render to store: the video's bytes, its poster frame, its metadata.
pub struct Finished<'a> {
    /// The video, streamed.
    pub video: &'a mut dyn std::io::Read,
    /// A JPEG still from it, if one could be made.
    pub poster: Option<Vec<u8>>,
    /// The `package-lock.json` the project's install resolved, if any.
    pub lockfile: Option<Vec<u8>>,
    /// Its metadata (`poster` and `lockfile` are set from those stored).
    pub meta: RenderMeta,
}

/// Stores a finished render and memoizes its key.
pub fn store(
    engine: &Engine,
    caller: &Caller,
    project: &ProjectId,
    checkpoint: Option<CommitId>,
    render: Finished<'_>,
    key: &Hash,
) -> Result<BlobInfo> {
    let stored = super::files::store_stream(engine, render.video)?;
    let bytes = |b: Option<Vec<u8>>| b.map(|b| super::files::store_bytes(engine, b)).transpose();
    let attached = blobs::Attached {
        poster: bytes(render.poster)?,
        lockfile: bytes(render.lockfile)?,
    };
    let checkpoint = checkpoint.map(|c| c.to_string());
    let info = blobs::store_render(
        engine,
        caller,
        project,
        checkpoint.as_deref(),
        stored,
        attached,
        render.meta,
    )?;
    super::shared_records::put_memo(engine, key, &info.id)?;
    Ok(info)
}

/// Stores a render job's log as a text asset of the rendered project's owner (see
/// [`blobs::store_log`]).
pub fn store_log(
    engine: &Engine,
    owner: &Owner,
    job: &RecordId,
    text: Vec<u8>,
) -> Result<BlobInfo> {
    blobs::store_log(engine, owner.clone(), job, text)
}

/// A render log's text, if the caller may see it (see [`store_log`]).
pub fn read_log(engine: &Engine, caller: &Caller, id: &RecordId) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    blobs::read_to(engine, caller, id, None, &mut out)?;
    Ok(out)
}

/// A persisted job status (JSON), by job id.
pub fn job(engine: &Engine, id: &RecordId) -> Result<Option<Vec<u8>>> {
    engine.index.artifact_read(|tx| tx.render_job(&id.0))
}

/// Every persisted job status.
#[allow(clippy::redundant_closure_for_method_calls)] // the method is generic over a lifetime
pub fn jobs(engine: &Engine) -> Result<Vec<(RecordId, Vec<u8>)>> {
    Ok(engine
        .index
        .artifact_read(|tx| tx.render_jobs())?
        .into_iter()
        .map(|(k, v)| (RecordId(k), v))
        .collect())
}

/// Persists statuses of jobs this machine runs: in the bucket too, on a shared
/// backend, where other machines read them (`jobs/<id>`, overwritten by the running
/// machine alone).
pub fn put_jobs(engine: &Engine, jobs: &[(RecordId, Vec<u8>)]) -> Result<()> {
    if crate::engine::shared::enabled(engine) {
        for (id, status) in jobs {
            engine
                .backend
                .replace(&job_key(JOBS_PREFIX, id), Bytes::copy_from_slice(status))?;
        }
    }
    put_local_jobs(engine, jobs)
}

/// Persists job statuses in this index only (statuses read from the bucket).
pub fn put_local_jobs(engine: &Engine, jobs: &[(RecordId, Vec<u8>)]) -> Result<()> {
    engine.index.artifact_write(|tx| {
        for (id, status) in jobs {
            tx.put_render_job(&id.0, status)?;
        }
        Ok(())
    })
}

/// Where the machine running a render job keeps its status in a shared bucket.
pub const JOBS_PREFIX: &str = "jobs/";
/// Where another machine asks the one running a job to cancel it.
pub const CANCEL_PREFIX: &str = "jobs-cancel/";

fn job_key(prefix: &str, id: &RecordId) -> String {
    format!("{prefix}{id}")
}

/// A job's status as the machine running it last published it (`None`: no such job
/// in the bucket, or the backend is not shared).
pub fn fetch_job(engine: &Engine, id: &RecordId) -> Result<Option<Vec<u8>>> {
    if !crate::engine::shared::enabled(engine) {
        return Ok(None);
    }
    match engine.backend.get(&job_key(JOBS_PREFIX, id)) {
        Ok(bytes) => Ok(Some(bytes.to_vec())),
        Err(crate::store::StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The ids of the jobs in the bucket (none when the backend is not shared).
pub fn listed_jobs(engine: &Engine) -> Result<Vec<RecordId>> {
    if !crate::engine::shared::enabled(engine) {
        return Ok(Vec::new());
    }
    Ok(engine
        .backend
        .list(JOBS_PREFIX)?
        .iter()
        .filter_map(|b| b.name.strip_prefix(JOBS_PREFIX)?.parse().ok())
        .collect())
}

/// Asks the machine running job `id` to cancel it.
pub fn request_cancel(engine: &Engine, id: &RecordId) -> Result<()> {
    engine
        .backend
        .put(&job_key(CANCEL_PREFIX, id), Bytes::from_static(b"{}"))?;
    Ok(())
}

/// Whether another machine asked to cancel job `id`.
pub fn cancel_requested(engine: &Engine, id: &RecordId) -> Result<bool> {
    Ok(engine.backend.size(&job_key(CANCEL_PREFIX, id))?.is_some())
}
