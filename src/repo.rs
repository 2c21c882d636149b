//! [`Repository`]: the library's front door.
//!
//! Every method is async and runs the synchronous engine on tokio's blocking pool, so
//! redb, file I/O and hashing never stall the caller's runtime.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tokio::runtime::Handle;

use crate::config::{BackendConfig, RepoConfig};
use crate::diff::{Change, Overlay, diff_trees};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::fsck::FsckReport;
use crate::gc::{GcOptions, GcReport};
use crate::hash::{CommitId, Hash, TreeId};
use crate::index::Index;
use crate::ingest::{CheckpointOptions, CheckpointSummary, Pipeline, scan_dir};
use crate::object::{EntryKind, TreeEntry};
use crate::progress::{NoProgress, Progress};
use crate::refs::{CommitView, LogEntry};
use crate::restore::RestoreSummary;
use crate::stats::RepoStats;
use crate::store::{BlobBackend, ObjectStoreBackend, RedbBackend, backend_from_url};

/// The repository directory's name inside a project.
pub const REPO_DIR_NAME: &str = ".reel";
const CONFIG_FILE: &str = "config";
const INDEX_FILE: &str = "index.redb";

/// The other side of a diff.
#[derive(Debug, Clone)]
pub enum DiffTarget {
    /// A checkpoint.
    Rev(String),
    /// A directory as it is now (hashed, not stored).
    Dir(PathBuf),
}

/// One entry listed by [`Repository::ls`].
#[derive(Debug, Clone, Serialize)]
pub struct ListEntry {
    /// Path from the root of the checkpoint.
    pub path: String,
    /// File, dir or symlink.
    pub kind: EntryKind,
    /// Size in bytes (a directory: the files below it).
    pub size: u64,
    /// Executable bit.
    pub executable: bool,
    /// Content or tree id.
    pub id: Hash,
}

/// An open repository. Cheap to clone; safe to share between tasks.
#[derive(Debug, Clone)]
pub struct Repository {
    engine: Arc<Engine>,
    dir: Option<PathBuf>,
}

/// Runs blocking engine work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Backend(format!("worker thread failed: {e}")))?
}

fn open_backend(
    dir: Option<&Path>,
    config: &RepoConfig,
    handle: Handle,
) -> Result<Arc<dyn BlobBackend>> {
    let need_dir =
        || dir.ok_or_else(|| Error::Invalid("this backend needs a repository directory".into()));
    Ok(match &config.backend {
        BackendConfig::Local => Arc::new(ObjectStoreBackend::local(
            &need_dir()?.join("packs"),
            handle,
        )?),
        BackendConfig::Redb => Arc::new(RedbBackend::open(&need_dir()?.join("packs.redb"))?),
        BackendConfig::Url(url) => Arc::new(backend_from_url(url, handle)?),
    })
}

impl Repository {
    /// Creates a repository in `dir` (usually `<project>/.reel`). Fails if one exists.
    pub async fn init(dir: impl AsRef<Path>, config: RepoConfig) -> Result<Repository> {
        let dir = dir.as_ref().to_path_buf();
        let handle = Handle::current();
        blocking(move || {
            config.validate()?;
            let config_path = dir.join(CONFIG_FILE);
            if config_path.exists() {
                return Err(Error::AlreadyExists(format!(
                    "a repository at {}",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
            let repo = Self::assemble(dir, config.clone(), handle)?;
            // The config goes last: a directory without one is not a repository yet.
            let dir = repo.dir.as_deref().expect("assembled with a directory");
            let tmp = dir.join("config.tmp");
            std::fs::write(&tmp, config.to_bytes()).map_err(Error::io("write", &tmp))?;
            std::fs::rename(&tmp, &config_path).map_err(Error::io("rename", &config_path))?;
            Ok(repo)
        })
        .await
    }

    /// Opens the backend and index of the repository in `dir`.
    fn assemble(dir: PathBuf, config: RepoConfig, handle: Handle) -> Result<Repository> {
        let backend = open_backend(Some(&dir), &config, handle)?;
        let index = Index::open(&dir.join(INDEX_FILE))?;
        Ok(Repository {
            engine: Arc::new(Engine {
                config,
                index,
                backend,
            }),
            dir: Some(dir),
        })
    }

    /// Opens the repository in `dir`.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Repository> {
        let dir = dir.as_ref().to_path_buf();
        let handle = Handle::current();
        blocking(move || {
            let config_path = dir.join(CONFIG_FILE);
            let bytes = match std::fs::read(&config_path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::NoRepository(dir));
                }
                Err(e) => return Err(Error::io("read", &config_path)(e)),
            };
            Self::assemble(dir, RepoConfig::parse(&bytes)?, handle)
        })
        .await
    }

    /// A repository held entirely in memory (index and packs), for tests and embedding.
    /// `config.backend` may be any URL-based backend (`memory://` keeps everything in RAM).
    pub async fn in_memory(mut config: RepoConfig) -> Result<Repository> {
        if matches!(config.backend, BackendConfig::Local | BackendConfig::Redb) {
            config.backend = BackendConfig::Url("memory://".into());
        }
        let handle = Handle::current();
        blocking(move || {
            config.validate()?;
            let backend = open_backend(None, &config, handle)?;
            let index = Index::in_memory()?;
            Ok(Repository {
                engine: Arc::new(Engine {
                    config,
                    index,
                    backend,
                }),
                dir: None,
            })
        })
        .await
    }

    /// Finds the repository for `start`: the nearest `.reel` at or above it.
    pub fn discover(start: &Path) -> Result<PathBuf> {
        let mut at = Some(start);
        while let Some(dir) = at {
            let candidate = dir.join(REPO_DIR_NAME);
            if candidate.join(CONFIG_FILE).is_file() {
                return Ok(candidate);
            }
            at = dir.parent();
        }
        Err(Error::NoRepository(start.to_path_buf()))
    }

    /// The repository directory, if it has one.
    #[must_use]
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The project directory a `.reel` repository belongs to (its parent).
    #[must_use]
    pub fn workdir(&self) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        (dir.file_name()? == REPO_DIR_NAME)
            .then(|| dir.parent().map(Path::to_path_buf))
            .flatten()
    }

    /// The artifact layer: projects, working trees, checkpoints, assets and renders.
    #[must_use]
    pub fn artifacts(&self) -> crate::artifact::Artifacts {
        crate::artifact::Artifacts::new(Arc::clone(&self.engine))
    }

    /// Where caches that can be rebuilt live (render work directories, the
    /// `node_modules` cache): `<repository>/cache`, or `None` for a repository
    /// without a directory.
    #[must_use]
    pub fn cache_dir(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join("cache"))
    }

    /// Starts the render service (one per process: it owns the job queue). Jobs left
    /// running by a previous process are marked interrupted.
    pub fn renders(&self, config: crate::render::RenderConfig) -> Result<crate::render::Renders> {
        crate::render::Renders::new(Arc::clone(&self.engine), config)
    }

    /// The fixed settings.
    #[must_use]
    pub fn config(&self) -> &RepoConfig {
        &self.engine.config
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let engine = Arc::clone(&self.engine);
        blocking(move || f(&engine)).await
    }

    /// Checkpoints directory `dir` and moves HEAD to the new checkpoint.
    pub async fn checkpoint(
        &self,
        dir: impl AsRef<Path>,
        opts: CheckpointOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<CheckpointSummary> {
        let dir = absolute(dir.as_ref())?;
        self.run(move |e| crate::ingest::checkpoint(e, &dir, &opts, progress.as_ref()))
            .await
    }

    /// Resolves a revision (`HEAD`, `HEAD~2`, a name, an id or a unique id prefix).
    pub async fn resolve(&self, rev: &str) -> Result<CommitId> {
        let rev = rev.to_owned();
        self.run(move |e| crate::refs::resolve(e, &rev)).await
    }

    /// Restores a checkpoint into `dir`, incrementally. HEAD moves to it when `dir` is
    /// the repository's own working directory.
    pub async fn restore(
        &self,
        rev: &str,
        dir: impl AsRef<Path>,
        progress: Arc<dyn Progress>,
    ) -> Result<RestoreSummary> {
        let rev = rev.to_owned();
        let dir = dir.as_ref().to_path_buf();
        let move_head = self
            .workdir()
            .is_some_and(|w| absolute(&dir).is_ok_and(|d| d == w));
        self.run(move |e| {
            let id = crate::refs::resolve(e, &rev)?;
            crate::restore::restore(e, id, &dir, move_head, progress.as_ref())
        })
        .await
    }

    /// History from `rev` (default HEAD), newest first.
    pub async fn log(&self, rev: Option<&str>, limit: usize) -> Result<Vec<LogEntry>> {
        let rev = rev.unwrap_or("HEAD").to_owned();
        self.run(move |e| {
            if rev == "HEAD" && e.index.head()?.is_none() {
                return Ok(Vec::new());
            }
            let id = crate::refs::resolve(e, &rev)?;
            crate::refs::log(e, id, limit)
        })
        .await
    }

    /// One checkpoint in full.
    pub async fn show(&self, rev: &str) -> Result<(CommitId, CommitView)> {
        let rev = rev.to_owned();
        self.run(move |e| {
            let id = crate::refs::resolve(e, &rev)?;
            let view = CommitView::load(e, e.read_commit(&id)?)?;
            Ok((id, view))
        })
        .await
    }

    /// The changes from checkpoint `old` to `new` (a checkpoint or a directory).
    pub async fn diff(&self, old: &str, new: DiffTarget) -> Result<Vec<Change>> {
        let old = old.to_owned();
        self.run(move |e| {
            let old_tree = e.read_commit(&crate::refs::resolve(e, &old)?)?.tree;
            match new {
                DiffTarget::Rev(rev) => {
                    let new_tree = e.read_commit(&crate::refs::resolve(e, &rev)?)?.tree;
                    diff_trees(e, old_tree, new_tree)
                }
                DiffTarget::Dir(dir) => {
                    let pipe = Pipeline::start(e, false)?;
                    let scan = scan_dir(e, &pipe, &absolute(&dir)?, &NoProgress)?;
                    diff_trees(
                        &Overlay {
                            engine: e,
                            trees: &scan.trees,
                        },
                        old_tree,
                        scan.root,
                    )
                }
            }
        })
        .await
    }

    /// Lists a directory of a checkpoint (the root when `path` is `None`).
    pub async fn ls(
        &self,
        rev: &str,
        path: Option<&str>,
        recursive: bool,
    ) -> Result<Vec<ListEntry>> {
        let rev = rev.to_owned();
        let path = path.map(str::to_owned);
        self.run(move |e| {
            let root = e.read_commit(&crate::refs::resolve(e, &rev)?)?.tree;
            let (prefix, tree) = match path
                .as_deref()
                .map(|p| p.trim_matches('/'))
                .filter(|p| !p.is_empty())
            {
                None => (String::new(), root),
                Some(p) => {
                    let entry = lookup(e, root, p)?;
                    if entry.kind != EntryKind::Dir {
                        return Ok(vec![list_entry(p.to_owned(), &entry)]);
                    }
                    (p.to_owned(), entry.tree_id())
                }
            };
            let mut out = Vec::new();
            list_into(e, tree, &prefix, recursive, &mut out)?;
            Ok(out)
        })
        .await
    }

    /// Streams the file at `path` in checkpoint `rev` into `out`, verified.
    pub async fn cat<W: Write + Send + 'static>(
        &self,
        rev: &str,
        path: &str,
        mut out: W,
    ) -> Result<u64> {
        let rev = rev.to_owned();
        let path = path.to_owned();
        self.run(move |e| {
            let root = e.read_commit(&crate::refs::resolve(e, &rev)?)?.tree;
            let entry = lookup(e, root, &path)?;
            if entry.kind == EntryKind::Dir {
                return Err(Error::Invalid(format!(
                    "{path} is a directory; use `reel ls`"
                )));
            }
            let n = e.read_file_to(&entry.id, &mut out)?;
            out.flush().map_err(Error::io("write", "output"))?;
            Ok(n)
        })
        .await
    }

    /// Reads the whole file at `path` in checkpoint `rev` into memory, verified.
    /// For large files prefer [`Repository::cat`], which streams.
    pub async fn read(&self, rev: &str, path: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        let rev = rev.to_owned();
        let path = path.to_owned();
        let bytes = self
            .run(move |e| {
                let root = e.read_commit(&crate::refs::resolve(e, &rev)?)?.tree;
                let entry = lookup(e, root, &path)?;
                if entry.kind == EntryKind::Dir {
                    return Err(Error::Invalid(format!("{path} is a directory")));
                }
                e.read_file_to(&entry.id, &mut buf)?;
                Ok(buf)
            })
            .await?;
        Ok(bytes)
    }

    /// Deletes a checkpoint. Its data is freed by the next [`Repository::gc`] unless
    /// another checkpoint shares it; `log` keeps showing it, marked deleted.
    pub async fn delete_checkpoint(&self, rev: &str) -> Result<CommitId> {
        let rev = rev.to_owned();
        self.run(move |e| {
            let id = crate::refs::resolve(e, &rev)?;
            e.index.delete_checkpoint(id)?;
            Ok(id)
        })
        .await
    }

    /// Collects garbage.
    pub async fn gc(&self, opts: GcOptions) -> Result<GcReport> {
        self.run(move |e| crate::gc::gc(e, &opts)).await
    }

    /// Checks integrity; with `read_data`, reads and verifies every byte.
    pub async fn fsck(&self, read_data: bool) -> Result<FsckReport> {
        self.run(move |e| crate::fsck::fsck(e, read_data)).await
    }

    /// Counts and sizes.
    pub async fn stats(&self) -> Result<RepoStats> {
        self.run(crate::stats::stats).await
    }

    /// The tree of a checkpoint.
    pub async fn tree_of(&self, rev: &str) -> Result<TreeId> {
        let rev = rev.to_owned();
        self.run(move |e| Ok(e.read_commit(&crate::refs::resolve(e, &rev)?)?.tree))
            .await
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(Error::io("resolve", p))
}

/// Finds the entry at `path` (`a/b/c`) under tree `root`.
fn lookup(e: &Engine, root: TreeId, path: &str) -> Result<TreeEntry> {
    let mut tree = root;
    let mut found = None;
    for part in path.trim_matches('/').split('/') {
        crate::object::validate_name(part)
            .map_err(|why| Error::Invalid(format!("path `{path}`: {why}")))?;
        if found
            .as_ref()
            .is_some_and(|f: &TreeEntry| f.kind != EntryKind::Dir)
        {
            return Err(Error::NotFound {
                what: format!("path `{path}`"),
            });
        }
        let entry = e
            .read_tree(&tree)?
            .get(part)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: format!("path `{path}`"),
            })?;
        tree = entry.tree_id();
        found = Some(entry);
    }
    found.ok_or_else(|| Error::Invalid("empty path".into()))
}

fn list_entry(path: String, e: &TreeEntry) -> ListEntry {
    ListEntry {
        path,
        kind: e.kind,
        size: e.size,
        executable: e.executable,
        id: e.id,
    }
}

fn list_into(
    e: &Engine,
    tree: TreeId,
    prefix: &str,
    recursive: bool,
    out: &mut Vec<ListEntry>,
) -> Result<()> {
    for entry in e.read_tree(&tree)?.entries() {
        let path = if prefix.is_empty() {
            entry.name.clone()
        } else {
            format!("{prefix}/{}", entry.name)
        };
        out.push(list_entry(path.clone(), entry));
        if recursive && entry.kind == EntryKind::Dir {
            list_into(e, entry.tree_id(), &path, true, out)?;
        }
    }
    Ok(())
}
