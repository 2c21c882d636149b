//! Project lifecycle: create, get, list, update, delete — all visibility-checked.

use serde::{Deserialize, Serialize};

use super::error::ArtifactError;
use super::identity::{Caller, Owner, Scope};
use super::overlay;
use super::project::{DEFAULT_SESSION_TTL_S, ProjectId, ProjectInfo, ProjectRecord, RecordId};
use crate::engine::Engine;
use crate::error::{Error, ItemKind, Result};
use crate::index::ArtifactTx;

/// Milliseconds since the epoch.
#[must_use]
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Loads a project the caller may see. Missing, foreign and expired projects are the
/// same error, so an id reveals nothing about projects that are not the caller's.
pub fn load_visible(tx: &ArtifactTx<'_>, caller: &Caller, id: &ProjectId) -> Result<ProjectRecord> {
    let record = tx
        .project(&id.0)?
        .map(|b| ProjectRecord::from_bytes(&b))
        .transpose()?;
    match record {
        Some(p) if p.visible_to(caller, now_ms()) => Ok(p),
        _ => Err(Error::not_found(ItemKind::Project, id.to_string())),
    }
}

/// Saves a project record.
pub fn save(tx: &ArtifactTx<'_>, p: &ProjectRecord) -> Result<()> {
    tx.put_project(&p.id.0, &p.to_bytes())
}

/// What to create.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateProject {
    /// Display name (1-256 characters).
    pub name: String,
    /// Scope; default `session` when the caller has a session, else `user`, else `sandbox`.
    pub scope: Option<Scope>,
    /// Metadata object (theme, fps, width, height, …).
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Lifetime in seconds, renewed on each write. Session scope defaults to 24 h;
    /// `Some(0)` asks explicitly for no expiry.
    pub ttl_s: Option<u64>,
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > 256 || name.chars().any(char::is_control) {
        return Err(ArtifactError::BadProjectName(name.to_owned()).into());
    }
    Ok(())
}

/// Creates a project.
pub fn create(engine: &Engine, caller: &Caller, req: CreateProject) -> Result<ProjectInfo> {
    validate_name(&req.name)?;
    let scope = req.scope.unwrap_or_else(|| caller.default_scope());
    let owner = Owner::for_caller(caller, scope)?;
    let ttl_s = match (scope, req.ttl_s) {
        (_, Some(0)) => None,
        (Scope::Session, None) => Some(DEFAULT_SESSION_TTL_S),
        (_, ttl) => ttl,
    };
    let now = now_ms();
    let mut record = ProjectRecord {
        id: RecordId::random(),
        name: req.name,
        owner,
        metadata: req.metadata,
        created_ms: now,
        updated_ms: now,
        expires_ms: None,
        ttl_s,
        base: crate::object::empty_tree_id(),
        head: None,
        generation: 0,
        overlay_seq: 0,
        checkpoint_seq: 0,
    };
    record.touch(now);
    engine.index.artifact_write(|tx| save(tx, &record))?;
    Ok(record.info())
}

/// Reads a project.
pub fn get(engine: &Engine, caller: &Caller, id: &ProjectId) -> Result<ProjectInfo> {
    engine
        .index
        .artifact_read(|tx| load_visible(tx, caller, id).map(|p| p.info()))
}

/// How to order a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub enum SortBy {
    /// Oldest first.
    #[default]
    Created,
    /// Most recently changed first.
    Updated,
    /// By name.
    Name,
}

/// Filters and paging for [`list`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListProjects {
    /// Only names containing this (case-insensitive).
    pub name_contains: Option<String>,
    /// Only this scope.
    pub scope: Option<Scope>,
    /// Only projects whose metadata has every one of these key/value pairs.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Created at or after (ms).
    pub created_after_ms: Option<i64>,
    /// Created before (ms).
    pub created_before_ms: Option<i64>,
    /// Order.
    #[serde(default)]
    pub sort: SortBy,
    /// Skip this many.
    #[serde(default)]
    pub offset: usize,
    /// At most this many (default 100).
    pub limit: Option<usize>,
}

/// One page of a listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many match in all.
    pub total: usize,
    /// The offset of the next page, if there is one.
    pub next_offset: Option<usize>,
}

/// Lists the projects the caller may see.
pub fn list(engine: &Engine, caller: &Caller, q: &ListProjects) -> Result<Page<ProjectInfo>> {
    let now = now_ms();
    let needle = q.name_contains.as_ref().map(|n| n.to_lowercase());
    let mut items: Vec<ProjectInfo> = engine
        .index
        .project_records()?
        .into_iter()
        .filter_map(|(_, b)| ProjectRecord::from_bytes(&b).ok())
        .filter(|p| p.visible_to(caller, now))
        .filter(|p| {
            needle
                .as_ref()
                .is_none_or(|n| p.name.to_lowercase().contains(n))
        })
        .filter(|p| q.scope.is_none_or(|s| p.owner.scope == s))
        .filter(|p| q.metadata.iter().all(|(k, v)| p.metadata.get(k) == Some(v)))
        .filter(|p| q.created_after_ms.is_none_or(|t| p.created_ms >= t))
        .filter(|p| q.created_before_ms.is_none_or(|t| p.created_ms < t))
        .map(|p| p.info())
        .collect();
    match q.sort {
        SortBy::Created => items.sort_by_key(|p| (p.created_ms, p.id)),
        SortBy::Updated => items.sort_by_key(|p| (std::cmp::Reverse(p.updated_ms), p.id)),
        SortBy::Name => items.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id))),
    }
    let total = items.len();
    let limit = q.limit.unwrap_or(100).max(1);
    let items: Vec<_> = items.into_iter().skip(q.offset).take(limit).collect();
    let next_offset = (q.offset + items.len() < total).then_some(q.offset + items.len());
    Ok(Page {
        items,
        total,
        next_offset,
    })
}

/// Changes to a project's name and metadata.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateProject {
    /// New name.
    pub name: Option<String>,
    /// Keys to set (merged into the metadata).
    #[serde(default)]
    pub set: serde_json::Map<String, serde_json::Value>,
    /// Keys to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Updates name and metadata.
pub fn update(
    engine: &Engine,
    caller: &Caller,
    id: &ProjectId,
    req: UpdateProject,
) -> Result<ProjectInfo> {
    if let Some(name) = &req.name {
        validate_name(name)?;
    }
    engine.index.artifact_write(|tx| {
        let mut p = load_visible(tx, caller, id)?;
        if let Some(name) = req.name {
            p.name = name;
        }
        for k in &req.remove {
            p.metadata.remove(k);
        }
        p.metadata.extend(req.set);
        p.touch(now_ms());
        save(tx, &p)?;
        Ok(p.info())
    })
}

/// Deletes a project: its record, checkpoints, names and overlay. Its data is freed by
/// the next `gc` unless something else holds it.
pub fn delete(engine: &Engine, caller: &Caller, id: &ProjectId) -> Result<()> {
    engine.index.artifact_write(|tx| {
        let p = load_visible(tx, caller, id)?;
        remove_all(tx, &p)
    })
}

/// Removes everything a project owns from the index (shared by delete and expiry).
pub fn remove_all(tx: &ArtifactTx<'_>, p: &ProjectRecord) -> Result<()> {
    for (_, commit) in tx.checkpoints(&p.id.0)? {
        tx.remove_checkpoint(&commit)?;
    }
    let rows: Vec<String> = tx
        .overlay_prefix(&overlay::project_prefix(p))?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    tx.remove_overlay(&rows)?;
    tx.remove_project(&p.id.0)
}
