//! Ids by prefix: a project, asset or render named by a unique prefix of its id among
//! what the caller can see; a project's checkpoint by name, id or prefix.

use super::blobs::{self, ListBlobs};
use super::facade::Artifacts;
use super::identity::Caller;
use super::project::{ProjectId, RecordId};
use super::projects::{self, ListProjects};
use super::shared;
use crate::error::{ItemKind, Result};
use crate::hash::CommitId;

impl Artifacts {
    /// The project `text` names for the caller: its id, or a unique prefix of at least
    /// four hex digits among the projects the caller can see.
    pub async fn resolve_project(&self, caller: &Caller, text: &str) -> Result<ProjectId> {
        let (caller, text) = (caller.clone(), text.to_owned());
        self.run(move |e| {
            if let Ok(id) = text.parse() {
                return Ok(id);
            }
            shared::pull_all(e)?;
            let all = ListProjects {
                limit: Some(usize::MAX),
                ..ListProjects::default()
            };
            let visible = projects::list(e, &caller, &all)?
                .items
                .into_iter()
                .map(|p| p.id);
            RecordId::resolve(&text, ItemKind::Project, visible)
        })
        .await
    }

    /// The asset or render `text` names for the caller: its id, or a unique prefix of at
    /// least four hex digits among those the caller can see.
    pub async fn resolve_blob(&self, caller: &Caller, text: &str) -> Result<RecordId> {
        let (caller, text) = (caller.clone(), text.to_owned());
        self.run(move |e| {
            if let Ok(id) = text.parse() {
                return Ok(id);
            }
            let visible = blobs::list(e, &caller, &ListBlobs::default())?
                .into_iter()
                .map(|b| b.id);
            RecordId::resolve(&text, ItemKind::Record, visible)
        })
        .await
    }

    /// The checkpoint `rev` (name, id or unique prefix) of project `id`, which the
    /// caller must be able to see.
    pub async fn resolve_checkpoint(
        &self,
        caller: &Caller,
        id: ProjectId,
        rev: &str,
    ) -> Result<CommitId> {
        let (caller, rev) = (caller.clone(), rev.to_owned());
        self.run(move |e| {
            shared::with_project(e, &id, shared::Access::Read, || {
                e.index.artifact_read(|tx| {
                    let p = projects::load_visible(tx, &caller, &id)?;
                    super::checkpoints::resolve(tx, &p, &rev)
                })
            })
        })
        .await
    }
}
