//! What the artifact layer keeps alive, and what it lets go: GC roots and the sweep of
//! expired projects and stale overlay generations.

use serde::Serialize;

use super::blobs;
use super::overlay::{OverlayEntry, OverlayRow};
use super::project::ProjectRecord;
use super::projects::{now_ms, remove_all};
use crate::engine::Engine;
use crate::engine::roots::{RootSet, RootSource};
use crate::error::Result;

/// What a sweep removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    /// Session projects whose lifetime was over.
    pub expired_projects: u64,
    /// Overlay rows of earlier generations (left by restores) or deleted projects.
    pub stale_overlay_rows: u64,
}

/// Removes expired projects and stale overlay rows.
pub fn sweep(engine: &Engine) -> Result<SweepReport> {
    let now = now_ms();
    engine.index.artifact_write(|tx| {
        let mut report = SweepReport::default();
        let mut live = std::collections::HashMap::new();
        for (_, bytes) in tx.projects()? {
            let p = ProjectRecord::from_bytes(&bytes)?;
            if p.expired(now) {
                remove_all(tx, &p)?;
                report.expired_projects += 1;
            } else {
                live.insert(p.id.to_string(), format!("{:016x}", p.generation));
            }
        }
        let stale: Vec<String> = tx
            .overlay_prefix("")?
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| {
                let mut parts = k.splitn(3, '/');
                let (project, generation) =
                    (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                live.get(project).is_none_or(|g| g != generation)
            })
            .collect();
        report.stale_overlay_rows = stale.len() as u64;
        tx.remove_overlay(&stale)?;
        Ok(report)
    })
}

/// Logical bytes a user holds in a sandbox: their projects' working trees (base tree
/// plus overlay files) and their assets and renders. Used for quotas.
pub fn usage(
    engine: &Engine,
    sandbox: &super::identity::Ident,
    user: &super::identity::Ident,
) -> Result<u64> {
    let now = now_ms();
    let mut total = 0u64;
    let projects: Vec<ProjectRecord> = engine
        .index
        .project_records()?
        .into_iter()
        .filter_map(|(_, b)| ProjectRecord::from_bytes(&b).ok())
        .filter(|p| {
            !p.expired(now) && p.owner.sandbox == *sandbox && p.owner.user.as_ref() == Some(user)
        })
        .collect();
    for p in &projects {
        total += engine.read_tree(&p.base)?.total_size();
        let rows = engine
            .index
            .artifact_read(|tx| tx.overlay_prefix(&super::overlay::generation_prefix(p)))?;
        for (_, row) in rows {
            if let OverlayEntry::File { size, .. } = OverlayRow::from_bytes(&row)?.entry {
                total += size;
            }
        }
    }
    Ok(total + blobs::user_bytes(engine, sandbox, user)?)
}

/// The artifact layer as a GC root source: project checkpoints and heads, working-tree
/// bases and overlays, asset and render records.
#[derive(Debug, Default)]
pub struct ArtifactRoots;

impl RootSource for ArtifactRoots {
    fn roots(&self, engine: &Engine) -> Result<RootSet> {
        roots(engine)
    }

    fn sync(&self, engine: &Engine) -> Result<()> {
        super::shared::pull_all(engine)?;
        super::shared_records::pull_all(engine)
    }
}

/// The roots the artifact layer adds to GC's mark phase.
fn roots(engine: &Engine) -> Result<RootSet> {
    let now = now_ms();
    let mut roots = RootSet::default();
    engine.index.artifact_read(|tx| {
        roots.commits.extend(tx.all_checkpoints()?);
        for (_, bytes) in tx.projects()? {
            let p = ProjectRecord::from_bytes(&bytes)?;
            if p.expired(now) {
                continue;
            }
            roots.trees.push(p.base);
            roots.commits.extend(p.head);
            for (_, row) in tx.overlay_prefix(&super::overlay::generation_prefix(&p))? {
                match OverlayRow::from_bytes(&row)?.entry {
                    OverlayEntry::File {
                        id, inline: None, ..
                    } => roots.files.push(id),
                    OverlayEntry::Tree(t) => roots.trees.push(t),
                    _ => {}
                }
            }
        }
        Ok(())
    })?;
    roots.files.extend(blobs::contents(engine)?);
    Ok(roots)
}
