//! [`Artifacts`]: the async API of the artifact layer.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use super::checkpoint_files;
use super::checkpoints::{self, CheckpointInfo, CreateCheckpoint};
use super::files::{self, store_bytes, store_stream};
use super::identity::Caller;
use super::lifecycle::{self, SweepReport};
use super::path::ProjectPath;
use super::project::{ProjectId, ProjectInfo};
use super::projects::{self, CreateProject, ListProjects, Page, UpdateProject};
use super::shared::{self, Access};
use super::worktree::FileInfo;
use crate::engine::Engine;
use crate::engine::diff::Change;
use crate::engine::patch::FilePatch;
use crate::engine::refs::LogEntry;
use crate::engine::restore::{RestoreOptions, RestoreSummary};
use crate::error::{Error, Result};
use crate::hash::CommitId;

/// Where stored bytes come from.
pub enum Source {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// A file on this machine.
    Path(PathBuf),
    /// Any stream (read on a blocking thread; memory stays flat).
    Reader(Box<dyn Read + Send>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Source::Path(p) => write!(f, "Path({})", p.display()),
            Source::Reader(_) => f.write_str("Reader"),
        }
    }
}

pub(super) fn store(engine: &Engine, source: Source) -> Result<files::Stored> {
    match source {
        Source::Bytes(b) => store_bytes(engine, b),
        Source::Path(p) => {
            let mut f = std::fs::File::open(&p).map_err(Error::io("open", &p))?;
            store_stream(engine, &mut f)
        }
        Source::Reader(mut r) => store_stream(engine, &mut r),
    }
}

/// The artifact layer of a repository. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Artifacts {
    engine: Arc<Engine>,
}

impl Artifacts {
    pub(crate) fn new(engine: Arc<Engine>) -> Artifacts {
        Artifacts { engine }
    }

    /// The engine (for tests below the facade).
    #[cfg(all(test, feature = "render"))]
    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        crate::engine::on_engine(&self.engine, f).await
    }

    /// Runs `f` on project `id` as [`shared::with_project`] does: against the bucket's
    /// record of it on a shared backend, redone if another machine changed it first.
    async fn on_project<T: Send + 'static>(
        &self,
        id: ProjectId,
        access: Access,
        f: impl Fn(&Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.run(move |e| shared::with_project(e, &id, access, || f(e)))
            .await
    }

    /// Creates a project.
    pub async fn create_project(&self, caller: &Caller, req: CreateProject) -> Result<ProjectInfo> {
        let caller = caller.clone();
        self.run(move |e| {
            let info = projects::create(e, &caller, req)?;
            shared::created(e, &info.id)?;
            Ok(info)
        })
        .await
    }

    /// Reads a project.
    pub async fn get_project(&self, caller: &Caller, id: ProjectId) -> Result<ProjectInfo> {
        let caller = caller.clone();
        self.on_project(id, Access::Read, move |e| projects::get(e, &caller, &id))
            .await
    }

    /// Lists the caller's projects.
    pub async fn list_projects(
        &self,
        caller: &Caller,
        query: ListProjects,
    ) -> Result<Page<ProjectInfo>> {
        let caller = caller.clone();
        self.run(move |e| {
            shared::pull_all(e)?;
            projects::list(e, &caller, &query)
        })
        .await
    }

    /// Updates a project's name and metadata.
    pub async fn update_project(
        &self,
        caller: &Caller,
        id: ProjectId,
        req: UpdateProject,
    ) -> Result<ProjectInfo> {
        let caller = caller.clone();
        self.on_project(id, Access::Write, move |e| {
            projects::update(e, &caller, &id, req.clone())
        })
        .await
    }

    /// Deletes a project.
    pub async fn delete_project(&self, caller: &Caller, id: ProjectId) -> Result<()> {
        let caller = caller.clone();
        self.on_project(id, Access::Write, move |e| {
            projects::delete(e, &caller, &id)
        })
        .await
    }

    /// Writes a file into a project's working tree.
    pub async fn write_file(
        &self,
        caller: &Caller,
        id: ProjectId,
        path: ProjectPath,
        source: Source,
        executable: bool,
    ) -> Result<FileInfo> {
        let caller = caller.clone();
        self.run(move |e| {
            // Visibility first: nothing is stored for a project the caller cannot see.
            shared::with_project(e, &id, Access::Read, || projects::get(e, &caller, &id))?;
            let stored = store(e, source)?;
            shared::with_project(e, &id, Access::Write, || {
                files::write(e, &caller, &id, &path, &stored, executable)
            })
        })
        .await
    }

    /// Reads a file (or `range`: offset and length) of the working tree.
    pub async fn read_file(
        &self,
        caller: &Caller,
        id: ProjectId,
        path: ProjectPath,
        range: Option<(u64, u64)>,
    ) -> Result<Vec<u8>> {
        let caller = caller.clone();
        self.on_project(id, Access::Read, move |e| {
            let mut out = Vec::new();
            files::read_to(e, &caller, &id, &path, range, &mut out)?;
            Ok(out)
        })
        .await
    }

    /// Streams a file of the working tree (or `range` of it: offset and length) into
    /// `out`.
    pub async fn read_file_to<W: std::io::Write + Send + 'static>(
        &self,
        caller: &Caller,
        id: ProjectId,
        path: ProjectPath,
        range: Option<(u64, u64)>,
        mut out: W,
    ) -> Result<u64> {
        let caller = caller.clone();
        self.run(move |e| {
            shared::with_project(e, &id, Access::Read, || projects::get(e, &caller, &id))?;
            files::read_to(e, &caller, &id, &path, range, &mut out)
        })
        .await
    }

    /// Reads a file of a checkpoint (or `range`: offset and length).
    pub async fn read_checkpoint_file(
        &self,
        caller: &Caller,
        id: ProjectId,
        checkpoint: &str,
        path: ProjectPath,
        range: Option<(u64, u64)>,
    ) -> Result<Vec<u8>> {
        let (caller, checkpoint) = (caller.clone(), checkpoint.to_owned());
        self.on_project(id, Access::Read, move |e| {
            checkpoints::read_file(e, &caller, &id, &checkpoint, &path, range)
        })
        .await
    }

    /// Streams a file of a checkpoint (or `range` of it: offset and length) into `out`;
    /// returns the length written.
    pub async fn read_checkpoint_file_to<W: std::io::Write + Send + 'static>(
        &self,
        caller: &Caller,
        id: ProjectId,
        checkpoint: &str,
        path: ProjectPath,
        range: Option<(u64, u64)>,
        mut out: W,
    ) -> Result<u64> {
        let (caller, checkpoint) = (caller.clone(), checkpoint.to_owned());
        self.run(move |e| {
            shared::with_project(e, &id, Access::Read, || projects::get(e, &caller, &id))?;
            checkpoint_files::read_to(e, &caller, &id, &checkpoint, &path, range, &mut out)
        })
        .await
    }

    /// Lists a directory of a checkpoint (the root when `dir` is `None`; a file's path
    /// lists that file), with the checkpoint's id.
    pub async fn list_checkpoint_files(
        &self,
        caller: &Caller,
        id: ProjectId,
        checkpoint: &str,
        dir: Option<ProjectPath>,
    ) -> Result<(CommitId, Vec<FileInfo>)> {
        let (caller, checkpoint) = (caller.clone(), checkpoint.to_owned());
        self.on_project(id, Access::Read, move |e| {
            checkpoint_files::list(e, &caller, &id, &checkpoint, dir.as_ref())
        })
        .await
    }

    /// Lists a directory of the working tree (the root when `dir` is `None`).
    pub async fn list_files(
        &self,
        caller: &Caller,
        id: ProjectId,
        dir: Option<ProjectPath>,
        recursive: bool,
    ) -> Result<Vec<FileInfo>> {
        let caller = caller.clone();
        self.on_project(id, Access::Read, move |e| {
            files::list(e, &caller, &id, dir.as_ref(), recursive)
        })
        .await
    }

    /// Deletes a file or directory.
    pub async fn delete_file(
        &self,
        caller: &Caller,
        id: ProjectId,
        path: ProjectPath,
    ) -> Result<()> {
        let caller = caller.clone();
        self.on_project(id, Access::Write, move |e| {
            files::delete(e, &caller, &id, &path)
        })
        .await
    }

    /// Moves a file or directory.
    pub async fn move_file(
        &self,
        caller: &Caller,
        id: ProjectId,
        from: ProjectPath,
        to: ProjectPath,
    ) -> Result<()> {
        let caller = caller.clone();
        self.on_project(id, Access::Write, move |e| {
            files::rename(e, &caller, &id, &from, &to)
        })
        .await
    }

    /// Creates a directory.
    pub async fn mkdir(&self, caller: &Caller, id: ProjectId, path: ProjectPath) -> Result<()> {
        let caller = caller.clone();
        self.on_project(id, Access::Write, move |e| {
            files::mkdir(e, &caller, &id, &path)
        })
        .await
    }

    /// Checkpoints the working tree.
    pub async fn create_checkpoint(
        &self,
        caller: &Caller,
        id: ProjectId,
        req: CreateCheckpoint,
    ) -> Result<CheckpointInfo> {
        let caller = caller.clone();
        self.on_project(id, Access::Write, move |e| {
            checkpoints::create(e, &caller, &id, &req)
        })
        .await
    }

    /// Lists checkpoints in creation order.
    pub async fn list_checkpoints(
        &self,
        caller: &Caller,
        id: ProjectId,
    ) -> Result<Vec<CheckpointInfo>> {
        let caller = caller.clone();
        self.on_project(id, Access::Read, move |e| {
            checkpoints::list(e, &caller, &id)
        })
        .await
    }

    /// Restores a checkpoint (id, unique prefix or name) in O(1).
    pub async fn restore_checkpoint(
        &self,
        caller: &Caller,
        id: ProjectId,
        rev: &str,
    ) -> Result<checkpoints::ProjectRestore> {
        let (caller, rev) = (caller.clone(), rev.to_owned());
        self.on_project(id, Access::Write, move |e| {
            checkpoints::restore(e, &caller, &id, &rev)
        })
        .await
    }

    /// Deletes a checkpoint.
    pub async fn delete_checkpoint(
        &self,
        caller: &Caller,
        id: ProjectId,
        rev: &str,
    ) -> Result<CommitId> {
        let (caller, rev) = (caller.clone(), rev.to_owned());
        self.on_project(id, Access::Write, move |e| {
            checkpoints::delete(e, &caller, &id, &rev)
        })
        .await
    }

    /// Diff from checkpoint `from` to checkpoint `to`, or to the working tree.
    pub async fn diff(
        &self,
        caller: &Caller,
        id: ProjectId,
        from: &str,
        to: Option<&str>,
    ) -> Result<Vec<Change>> {
        let (caller, from, to) = (caller.clone(), from.to_owned(), to.map(str::to_owned));
        self.on_project(id, Access::Read, move |e| {
            checkpoints::diff(e, &caller, &id, &from, to.as_deref())
        })
        .await
    }

    /// Line diffs from checkpoint `from` to checkpoint `to`, or to the working tree.
    pub async fn patch(
        &self,
        caller: &Caller,
        id: ProjectId,
        from: &str,
        to: Option<&str>,
    ) -> Result<Vec<FilePatch>> {
        let (caller, from, to) = (caller.clone(), from.to_owned(), to.map(str::to_owned));
        self.on_project(id, Access::Read, move |e| {
            checkpoints::patch(e, &caller, &id, &from, to.as_deref())
        })
        .await
    }

    /// History from the project's head.
    pub async fn log(&self, caller: &Caller, id: ProjectId, limit: usize) -> Result<Vec<LogEntry>> {
        let caller = caller.clone();
        self.on_project(id, Access::Read, move |e| {
            checkpoints::log(e, &caller, &id, limit)
        })
        .await
    }

    /// Imports a directory as the working tree.
    pub async fn import(
        &self,
        caller: &Caller,
        id: ProjectId,
        dir: PathBuf,
    ) -> Result<ProjectInfo> {
        let caller = caller.clone();
        self.on_project(id, Access::Write, move |e| {
            checkpoints::import(e, &caller, &id, &dir)
        })
        .await
    }

    /// Makes a tree already stored in the repository (a directory checkpoint's) the
    /// project's working tree; unsaved edits are dropped. Not found when the tree is not
    /// in the repository.
    pub async fn set_worktree(
        &self,
        caller: &Caller,
        id: ProjectId,
        tree: crate::hash::TreeId,
    ) -> Result<ProjectInfo> {
        let caller = caller.clone();
        self.on_project(id, Access::Write, move |e| {
            checkpoints::set_worktree(e, &caller, &id, tree)
        })
        .await
    }

    /// Materializes a checkpoint (or the working tree) into a directory.
    pub async fn export(
        &self,
        caller: &Caller,
        id: ProjectId,
        rev: Option<&str>,
        dir: PathBuf,
        opts: RestoreOptions,
    ) -> Result<RestoreSummary> {
        let (caller, rev) = (caller.clone(), rev.map(str::to_owned));
        self.on_project(id, Access::Read, move |e| {
            checkpoints::export(e, &caller, &id, rev.as_deref(), &dir, &opts)
        })
        .await
    }

    /// Removes expired projects and stale overlay rows now (long-running servers call
    /// this periodically; `gc` calls it too).
    pub async fn sweep(&self) -> Result<SweepReport> {
        self.run(lifecycle::sweep).await
    }

    /// Logical bytes the caller's user holds in its sandbox (0 without a user id).
    pub async fn usage(&self, caller: &Caller) -> Result<u64> {
        let caller = caller.clone();
        self.run(move |e| match &caller.user {
            Some(user) => lifecycle::usage(e, &caller.sandbox, user),
            None => Ok(0),
        })
        .await
    }

    /// Write transactions this handle has committed (lets tests count index writes).
    #[must_use]
    pub fn index_writes(&self) -> u64 {
        self.engine.index.write_transactions()
    }
}
