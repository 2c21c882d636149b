//! Ids by prefix: a project, asset or render named by a unique prefix of its id among
//! what the caller can see.

use super::blobs::{self, ListBlobs};
use super::facade::Artifacts;
use super::identity::Caller;
use super::project::{ProjectId, RecordId};
use super::projects::{self, ListProjects};
use super::shared;
use crate::error::{ItemKind, Result};

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
}
