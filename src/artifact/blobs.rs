//! Blob records: assets (uploaded media) and renders (videos made from a checkpoint).
//! Their bytes are stored like any file content, so they dedup with everything else.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::checkpoints::resolve;
use super::error::ArtifactError;
use super::files::{Stored, read_content};
use super::identity::{Caller, Owner, Scope};
use super::project::{ProjectId, RecordId};
use super::projects::{load_visible, now_ms};
use super::shared_records;
use crate::engine::Engine;
use crate::engine::gc::{Roots, guard};
use crate::engine::writer::Writer;
use crate::error::{Error, ItemKind, Result};
use crate::hash::{CommitId, Hash};
use crate::object::ObjectKind;

/// A frame rate as a rational, e.g. 30000/1001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct Rational {
    /// Numerator.
    pub num: u32,
    /// Denominator (non-zero).
    pub den: u32,
}

/// What describes a rendered video.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct RenderMeta {
    /// Container, e.g. `mp4`.
    pub container: String,
    /// Video codec, e.g. `h264`.
    pub codec: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: Option<Rational>,
    /// Duration in seconds.
    pub duration_s: f64,
    /// Bits per second.
    pub bitrate: Option<u64>,
    /// Frames.
    pub frames: Option<u64>,
    /// The settings it was rendered with.
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// A still from the video (JPEG), extracted once when it was stored; `None` for
    /// renders stored without one (older versions, or ffmpeg could not read the video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poster: Option<Attachment>,
    /// The `package-lock.json` the project's install resolved (what `reel render
    /// --lock` writes into a project); `None` without one, or for older renders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockfile: Option<Attachment>,
}

/// Content stored with a render besides the video (its poster frame, its lockfile):
/// content of its own, kept as long as the render's record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct Attachment {
    /// Content id (BLAKE3 of the JPEG).
    pub content: Hash,
    /// Length in bytes.
    pub size: u64,
}

impl BlobKind {
    /// The poster frame, for a render that has one.
    #[must_use]
    pub fn poster(&self) -> Option<Attachment> {
        match self {
            BlobKind::Render { meta, .. } => meta.poster,
            BlobKind::Asset { .. } => None,
        }
    }

    /// The resolved lockfile, for a render stored with one.
    #[must_use]
    pub fn lockfile(&self) -> Option<Attachment> {
        match self {
            BlobKind::Render { meta, .. } => meta.lockfile,
            BlobKind::Asset { .. } => None,
        }
    }

    /// Everything stored with the record besides its content.
    fn attachments(&self) -> impl Iterator<Item = Hash> {
        self.poster()
            .into_iter()
            .chain(self.lockfile())
            .map(|a| a.content)
    }
}

/// What a blob record is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)] // records are decoded one at a time, never in bulk arrays
pub enum BlobKind {
    /// An uploaded asset.
    Asset {
        /// MIME type.
        mime: String,
        /// The name it was uploaded under.
        original_name: String,
        /// Tags.
        tags: Vec<String>,
    },
    /// A rendered video.
    Render {
        /// The project it was rendered from.
        project: ProjectId,
        /// The checkpoint it was rendered from, if any.
        checkpoint: Option<CommitId>,
        /// Its metadata.
        meta: RenderMeta,
    },
}

/// An asset or render as stored: the public view plus its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BlobRecord {
    info: BlobInfo,
    owner: Owner,
}

/// An asset or render as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct BlobInfo {
    /// Id.
    pub id: RecordId,
    /// Scope.
    pub scope: Scope,
    /// Content id (BLAKE3 of the bytes, as `b3sum` prints).
    pub content: Hash,
    /// Length.
    pub size: u64,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Asset or render details.
    #[serde(flatten)]
    pub kind: BlobKind,
}

fn decode_record(b: &[u8]) -> Result<BlobRecord> {
    serde_json::from_slice(b).map_err(|e| {
        ArtifactError::BadRecord {
            what: "blob record",
            reason: e.to_string(),
        }
        .into()
    })
}

fn load(engine: &Engine, caller: &Caller, id: &RecordId) -> Result<BlobInfo> {
    let rec = shared_records::load(engine, id)?
        .map(|b| decode_record(&b))
        .transpose()?;
    match rec {
        Some(r) if r.owner.visible_to(caller) => Ok(r.info),
        _ => Err(Error::not_found(ItemKind::Record, id.to_string())),
    }
}

/// A record and its owner, whoever may see it (for the render memo).
#[cfg(feature = "render")]
pub fn load_any(engine: &Engine, id: &RecordId) -> Result<Option<(BlobInfo, Owner)>> {
    shared_records::load(engine, id)?
        .map(|b| decode_record(&b).map(|r| (r.info, r.owner)))
        .transpose()
}

/// Stores content (and a render's attachments, already packed) and its record in one
/// transaction.
fn put(
    engine: &Engine,
    stored: Stored,
    attached: Attached,
    owner: Owner,
    kind: BlobKind,
) -> Result<BlobInfo> {
    let info = BlobInfo {
        id: RecordId::random(),
        scope: owner.scope,
        content: stored.id,
        size: stored.size,
        created_ms: now_ms(),
        kind,
    };
    let record = BlobRecord {
        info: info.clone(),
        owner,
    };
    let mut files = vec![stored.id];
    files.extend(info.kind.attachments());
    // Each content's registration is held until the record commits.
    let mut packs = Vec::new();
    let mut held = Vec::new();
    for s in std::iter::once(stored)
        .chain(attached.poster)
        .chain(attached.lockfile)
    {
        let writer = match s.writer {
            Some(w) => w,
            None => engine.writer()?,
        };
        packs.extend(s.packs);
        if let Some(bytes) = s.inline {
            packs.extend(crate::engine::ingest::write_single(
                engine,
                &writer,
                ObjectKind::Chunk,
                s.id,
                &bytes,
            )?);
        }
        held.push(writer);
    }
    // Relying on no pack another machine's gc condemned while the contents were stored.
    let mut since = held.iter().map(Writer::epoch).min().expect("one content");
    let roots = Roots::of(Vec::new(), Vec::new(), files);
    let copies = guard(engine, &mut since, &packs, &roots)?;
    packs.extend(copies);
    let bytes = serde_json::to_vec(&record).expect("records serialize");
    // In the bucket first (its content's packs are stored): a row here is one every
    // machine can find.
    shared_records::publish(engine, &info.id, &bytes)?;
    engine.index.artifact_write(|tx| {
        tx.add_packs(&packs)?;
        tx.put_blob(&info.id.0, &bytes)
    })?;
    drop(held);
    Ok(info)
}

/// What to record with an asset.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AssetInput {
    /// MIME type.
    pub mime: String,
    /// Original file name.
    pub original_name: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Scope (default as for projects).
    pub scope: Option<Scope>,
}

/// Stores an asset.
pub fn store_asset(
    engine: &Engine,
    caller: &Caller,
    stored: Stored,
    input: AssetInput,
) -> Result<BlobInfo> {
    let owner = Owner::for_caller(
        caller,
        input.scope.unwrap_or_else(|| caller.default_scope()),
    )?;
    put(
        engine,
        stored,
        Attached::default(),
        owner,
        BlobKind::Asset {
            mime: input.mime,
            original_name: input.original_name,
            tags: input.tags,
        },
    )
}

/// What a render stores besides its video: each already stored (with `store_bytes`
/// or `store_stream`), named in the record's metadata.
#[derive(Default)]
pub struct Attached {
    /// The poster frame (sets `meta.poster`).
    pub poster: Option<Stored>,
    /// The resolved `package-lock.json` (sets `meta.lockfile`).
    pub lockfile: Option<Stored>,
}

/// Stores a render of a project (and checkpoint), with its attachments (`meta.poster`
/// and `meta.lockfile` are set from them); visible to whoever sees the project.
pub fn store_render(
    engine: &Engine,
    caller: &Caller,
    project: &ProjectId,
    checkpoint: Option<&str>,
    stored: Stored,
    attached: Attached,
    mut meta: RenderMeta,
) -> Result<BlobInfo> {
    let named = |s: &Stored| Attachment {
        content: s.id,
        size: s.size,
    };
    meta.poster = attached.poster.as_ref().map(named);
    meta.lockfile = attached.lockfile.as_ref().map(named);
    let (owner, commit) = engine.index.artifact_read(|tx| {
        let p = load_visible(tx, caller, project)?;
        let commit = checkpoint.map(|r| resolve(tx, &p, r)).transpose()?;
        Ok((p.owner, commit))
    })?;
    put(
        engine,
        stored,
        attached,
        owner,
        BlobKind::Render {
            project: *project,
            checkpoint: commit,
            meta,
        },
    )
}

/// Reads a record the caller may see.
pub fn get(engine: &Engine, caller: &Caller, id: &RecordId) -> Result<BlobInfo> {
    load(engine, caller, id)
}

/// Streams a blob's bytes (or a range: offset, length).
pub fn read_to(
    engine: &Engine,
    caller: &Caller,
    id: &RecordId,
    range: Option<(u64, u64)>,
    out: &mut dyn Write,
) -> Result<u64> {
    let r = load(engine, caller, id)?;
    read_content(engine, &r.content, r.size, range, out)
}

/// Filters for listing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListBlobs {
    /// Only assets carrying every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Only assets whose MIME type starts with this.
    pub mime_prefix: Option<String>,
    /// Only renders of this project.
    pub project: Option<ProjectId>,
    /// `Some(true)`: renders only; `Some(false)`: assets only.
    pub renders: Option<bool>,
}

/// Lists the records the caller may see, oldest first.
pub fn list(engine: &Engine, caller: &Caller, q: &ListBlobs) -> Result<Vec<BlobInfo>> {
    shared_records::pull_all(engine)?;
    let mut out: Vec<BlobInfo> = engine
        .index
        .blob_records()?
        .into_iter()
        .filter_map(|(_, b)| decode_record(&b).ok())
        .filter(|r| r.owner.visible_to(caller))
        .map(|r| r.info)
        .filter(|r| match &r.kind {
            BlobKind::Asset { mime, tags, .. } => {
                q.renders != Some(true)
                    && q.project.is_none()
                    && q.tags.iter().all(|t| tags.contains(t))
                    && (!tags.iter().any(|t| t == RENDER_LOG_TAG)
                        || q.tags.iter().any(|t| t == RENDER_LOG_TAG))
                    && q.mime_prefix
                        .as_ref()
                        .is_none_or(|m| mime.starts_with(m.as_str()))
            }
            BlobKind::Render { project, .. } => {
                q.renders != Some(false)
                    && q.tags.is_empty()
                    && q.mime_prefix.is_none()
                    && q.project.is_none_or(|p| p == *project)
            }
        })
        .collect();
    out.sort_by_key(|r| (r.created_ms, r.id));
    Ok(out)
}

/// Deletes a record; `gc` frees its bytes unless something else holds them.
pub fn delete(engine: &Engine, caller: &Caller, id: &RecordId) -> Result<()> {
    load(engine, caller, id)?;
    shared_records::delete(engine, id)
}

/// Bytes of the blobs a user owns in a sandbox.
pub fn user_bytes(
    engine: &Engine,
    sandbox: &super::identity::Ident,
    user: &super::identity::Ident,
) -> Result<u64> {
    Ok(engine
        .index
        .blob_records()?
        .into_iter()
        .filter_map(|(_, b)| decode_record(&b).ok())
        .filter(|r| r.owner.sandbox == *sandbox && r.owner.user.as_ref() == Some(user))
        .map(|r| r.info.size)
        .sum())
}

/// Every blob's content id and every render's attachments (GC roots). A record that does
/// not decode stops the caller: its content is unknown, and skipping it would let
/// `gc` delete bytes a record holds.
pub fn contents(engine: &Engine) -> Result<Vec<Hash>> {
    let mut out = Vec::new();
    for (_, b) in engine.index.blob_records()? {
        let info = decode_record(&b)?.info;
        out.push(info.content);
        out.extend(info.kind.attachments());
    }
    Ok(out)
}

/// Streams a render's poster frame (JPEG); not found when the record is not the
/// caller's or has no poster.
pub fn read_poster_to(
    engine: &Engine,
    caller: &Caller,
    id: &RecordId,
    out: &mut dyn Write,
) -> Result<u64> {
    read_attachment_to(engine, caller, id, "poster", BlobKind::poster, out)
}

/// Streams the `package-lock.json` a render's install resolved; not found when the
/// record is not the caller's or was stored without one.
pub fn read_lockfile_to(
    engine: &Engine,
    caller: &Caller,
    id: &RecordId,
    out: &mut dyn Write,
) -> Result<u64> {
    read_attachment_to(engine, caller, id, "lockfile", BlobKind::lockfile, out)
}

fn read_attachment_to(
    engine: &Engine,
    caller: &Caller,
    id: &RecordId,
    name: &str,
    which: fn(&BlobKind) -> Option<Attachment>,
    out: &mut dyn Write,
) -> Result<u64> {
    let r = load(engine, caller, id)?;
    let a =
        which(&r.kind).ok_or_else(|| Error::not_found(ItemKind::Record, format!("{id}/{name}")))?;
    read_content(engine, &a.content, a.size, None, out)
}

/// The tag of render logs: text assets a render job stores, left out of listings
/// unless asked for by this tag.
pub const RENDER_LOG_TAG: &str = "reel:render-log";

/// Stores a render job's log as a text asset of `owner` (the rendered project's),
/// tagged [`RENDER_LOG_TAG`] and `job:<id>`.
#[cfg(feature = "render")]
pub fn store_log(engine: &Engine, owner: Owner, job: &RecordId, text: Vec<u8>) -> Result<BlobInfo> {
    let stored = super::files::store_bytes(engine, text)?;
    put(
        engine,
        stored,
        Attached::default(),
        owner,
        BlobKind::Asset {
            mime: "text/plain; charset=utf-8".into(),
            original_name: format!("render-{job}.log"),
            tags: vec![RENDER_LOG_TAG.into(), format!("job:{job}")],
        },
    )
}
