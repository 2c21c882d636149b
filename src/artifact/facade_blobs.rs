//! The artifact layer's asset and render methods: storing, reading and listing the
//! blobs that are not files of a project.

use super::blobs::{self, AssetInput, BlobInfo, ListBlobs, RenderMeta};
use super::facade::{Artifacts, Source, store};
use super::identity::Caller;
use super::project::{ProjectId, RecordId};
use super::projects;
use super::shared::{self, Access};
use crate::error::Result;

impl Artifacts {
    /// Stores an asset.
    pub async fn store_asset(
        &self,
        caller: &Caller,
        source: Source,
        input: AssetInput,
    ) -> Result<BlobInfo> {
        let caller = caller.clone();
        self.run(move |e| blobs::store_asset(e, &caller, store(e, source)?, input))
            .await
    }

    /// Stores a render of a project (and checkpoint), with a poster frame (an image)
    /// when `poster` is given; `meta.poster` is set from it (and `meta.lockfile` left
    /// empty), never taken from `meta`.
    pub async fn store_render(
        &self,
        caller: &Caller,
        project: ProjectId,
        checkpoint: Option<&str>,
        source: Source,
        poster: Option<Source>,
        meta: RenderMeta,
    ) -> Result<BlobInfo> {
        let (caller, checkpoint) = (caller.clone(), checkpoint.map(str::to_owned));
        self.run(move |e| {
            shared::with_project(e, &project, Access::Read, || {
                projects::get(e, &caller, &project)
            })?;
            blobs::store_render(
                e,
                &caller,
                &project,
                checkpoint.as_deref(),
                store(e, source)?,
                blobs::Attached {
                    poster: poster.map(|p| store(e, p)).transpose()?,
                    lockfile: None,
                },
                meta,
            )
        })
        .await
    }

    /// Reads an asset's or render's record.
    pub async fn get_blob(&self, caller: &Caller, id: RecordId) -> Result<BlobInfo> {
        let caller = caller.clone();
        self.run(move |e| blobs::get(e, &caller, &id)).await
    }

    /// Reads an asset's or render's bytes (or a range).
    pub async fn read_blob(
        &self,
        caller: &Caller,
        id: RecordId,
        range: Option<(u64, u64)>,
    ) -> Result<Vec<u8>> {
        let caller = caller.clone();
        self.run(move |e| {
            let mut out = Vec::new();
            blobs::read_to(e, &caller, &id, range, &mut out)?;
            Ok(out)
        })
        .await
    }

    /// Streams an asset's or render's bytes (or `range` of them: offset and length)
    /// into `out`; returns the length written.
    pub async fn read_blob_to<W: std::io::Write + Send + 'static>(
        &self,
        caller: &Caller,
        id: RecordId,
        range: Option<(u64, u64)>,
        mut out: W,
    ) -> Result<u64> {
        let caller = caller.clone();
        self.run(move |e| blobs::read_to(e, &caller, &id, range, &mut out))
            .await
    }

    /// A render's poster frame (a JPEG of a few dozen KiB); not found when the render
    /// has none.
    pub async fn read_poster(&self, caller: &Caller, id: RecordId) -> Result<Vec<u8>> {
        let caller = caller.clone();
        self.run(move |e| {
            let mut out = Vec::new();
            blobs::read_poster_to(e, &caller, &id, &mut out)?;
            Ok(out)
        })
        .await
    }

    /// The `package-lock.json` a render's install resolved; not found when the render
    /// was stored without one.
    pub async fn read_lockfile(&self, caller: &Caller, id: RecordId) -> Result<Vec<u8>> {
        let caller = caller.clone();
        self.run(move |e| {
            let mut out = Vec::new();
            blobs::read_lockfile_to(e, &caller, &id, &mut out)?;
            Ok(out)
        })
        .await
    }

    /// Lists assets and renders.
    pub async fn list_blobs(&self, caller: &Caller, query: ListBlobs) -> Result<Vec<BlobInfo>> {
        let caller = caller.clone();
        self.run(move |e| blobs::list(e, &caller, &query)).await
    }

    /// Deletes an asset or render.
    pub async fn delete_blob(&self, caller: &Caller, id: RecordId) -> Result<()> {
        let caller = caller.clone();
        self.run(move |e| blobs::delete(e, &caller, &id)).await
    }
}
