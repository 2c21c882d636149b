//! A render job as callers see it and as the index keeps it, and the render key.

use serde::{Deserialize, Serialize};

use super::error::RenderError;
use super::progress::{RenderProgress, Stage};
use super::settings::RenderSettings;
use crate::artifact::renders::Owner;
use crate::artifact::{BlobInfo, ProjectId, RecordId};
use crate::error::{Error, ItemKind, Result};
use crate::hash::{CommitId, Hash, TreeId};
use crate::liveness::ProcessId;

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
    /// Render key: BLAKE3 of tree, canonical settings and renderer identity.
    pub key: Hash,
    /// Renderer identity.
    pub renderer: String,
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

/// The render key of a tree, settings and renderer identity.
#[must_use]
pub fn render_key(tree: TreeId, settings: &RenderSettings, renderer: &str) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"reel render key v1\0");
    h.update(tree.0.as_bytes());
    for part in [settings.canonical().as_str(), renderer] {
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
