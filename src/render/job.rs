//! A render job as callers see it and as the index keeps it, and the render key.

use serde::{Deserialize, Serialize};

use super::error::RenderError;
use super::progress::{RenderProgress, Stage};
use super::resolved::Resolved;
use super::settings::RenderSettings;
use crate::artifact::renders::{self, Owner, now_ms};
use crate::artifact::{BlobInfo, ProjectId, RecordId};
use crate::engine::Engine;
use crate::error::{Error, ItemKind, Result};
use crate::hash::{CommitId, Hash, TreeId};
use crate::liveness::{Liveness, ProcessId};

/// A render job as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct JobStatus {
    /// Job id.
    pub id: RecordId,
    /// Project.
    pub project: ProjectId,
    /// Checkpoint rendered (`None`: the working tree).
    pub checkpoint: Option<CommitId>,
    /// Tree rendered.
    pub tree: TreeId,
    /// Render key: BLAKE3 of tree, canonical settings, renderer identity and what the
    /// install resolved. Until the install is known (this machine has not installed
    /// the project's manifests yet), computed without it and replaced after the
    /// install.
    pub key: Hash,
    /// Renderer identity (`remotion@4.0.529`: the installed `@remotion/cli` once known).
    pub renderer: String,
    /// What the `node_modules` install resolved (the lockfile's hash and installed
    /// versions), once known; `None` for a project without `package.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolved>,
    /// Settings.
    pub settings: RenderSettings,
    /// Stage.
    pub stage: Stage,
    /// Latest progress event.
    pub progress: RenderProgress,
    /// Whether the result came from the memo (nothing ran).
    pub memo_hit: bool,
    /// Whether this job ran the `node_modules` install (false: reused or none).
    pub installed: bool,
    /// The stored render, once done.
    pub render: Option<BlobInfo>,
    /// What went wrong, once failed.
    pub error: Option<String>,
    /// The relevant lines of the renderer's output, once failed.
    pub details: Option<String>,
    /// Warnings: the installer's and the renderer's (`npm warn …`, Remotion's version
    /// mismatch) and reelstore's own (no lockfile, mismatched Remotion packages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The job's full output (installer and renderer, bounded), stored as a blob when
    /// the job ended: read with `Renders::log` (`reel render log JOB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<RecordId>,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Last change, ms since the epoch.
    pub updated_ms: i64,
}

/// A status as persisted: with the owner, which decides who may see it.
#[derive(Serialize, Deserialize)]
pub(super) struct JobRecord {
    pub(super) status: JobStatus,
    pub(super) owner: Owner,
    /// The process that wrote it (absent in records of finished jobs is fine).
    #[serde(default)]
    pub(super) runner: Option<ProcessId>,
    /// A status another host published in a shared bucket, kept here as read: that
    /// host's to mark interrupted, never this one's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) remote: bool,
}

/// The render key of a tree, settings, renderer identity and what the install
/// resolved (the lockfile's hash and each installed version): the same `package.json`
/// installed to other versions is another key.
#[must_use]
pub fn render_key(
    tree: TreeId,
    settings: &RenderSettings,
    renderer: &str,
    resolved: Option<&Resolved>,
) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"reel render key v2\0");
    h.update(tree.0.as_bytes());
    let resolved = resolved.map_or_else(String::new, |r| {
        serde_json::to_string(r).expect("resolved versions serialize")
    });
    for part in [settings.canonical().as_str(), renderer, &resolved] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    Hash::from(h.finalize())
}

pub(super) fn encode(status: &JobStatus, owner: &Owner) -> Vec<u8> {
    serde_json::to_vec(&JobRecord {
        status: status.clone(),
        owner: owner.clone(),
        runner: ProcessId::current(),
        remote: false,
    })
    .expect("job records serialize")
}

pub(super) fn decode_record(bytes: &[u8]) -> Result<JobRecord> {
    serde_json::from_slice(bytes).map_err(|e| RenderError::BadRecord(e.to_string()).into())
}

pub(super) fn decode(bytes: &[u8]) -> Result<(JobStatus, Owner)> {
    decode_record(bytes).map(|r| (r.status, r.owner))
}

pub(super) fn not_found(id: RecordId) -> Error {
    Error::not_found(ItemKind::Job, id.to_string())
}

/// Marks persisted jobs that were running in a process that is gone as interrupted. A
/// job another host published in a shared bucket is that host's to mark.
pub(super) fn mark_interrupted(engine: &Engine) -> Result<()> {
    let stale: Vec<(RecordId, Vec<u8>)> = renders::jobs(engine)?
        .into_iter()
        .filter_map(|(id, bytes)| {
            let JobRecord {
                mut status,
                owner,
                runner,
                remote,
            } = decode_record(&bytes).ok()?;
            let running_elsewhere = runner.is_some_and(|r| r.liveness() == Liveness::Alive);
            (!status.stage.is_final() && !running_elsewhere && !remote).then(|| {
                status.stage = Stage::Interrupted;
                status.error =
                    Some("the process running this render stopped before it finished".into());
                status.updated_ms = now_ms();
                (id, encode(&status, &owner))
            })
        })
        .collect();
    if !stale.is_empty() {
        tracing::info!(jobs = stale.len(), "marking interrupted render jobs");
        renders::put_jobs(engine, &stale)?;
    }
    Ok(())
}

/// What a panic said, if it said it with a string.
pub(super) fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}
