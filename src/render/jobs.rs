//! Render jobs: a bounded queue in front of a fixed number of render slots, statuses
//! persisted in the index (a job that was running when the process stopped shows as
//! `interrupted`), cancellation, and the pipeline each job runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use super::deps;
use super::diagnose::diagnose;
use super::error::RenderError;
use super::probe;
use super::process::{self, Ended};
use super::progress::{RenderProgress, Stage};
use super::renderer::{Invocation, Remotion, Renderer, find_browser, parse_compositions};
use super::settings::RenderSettings;
use crate::artifact::renders::{self, Owner, now_ms};
use crate::artifact::{BlobInfo, Caller, ProjectId, RecordId};
use crate::engine::Engine;
use crate::engine::blocking;
use crate::error::{Error, ItemKind, Result};
use crate::hash::{CommitId, Hash, TreeId};
use crate::liveness::{Liveness, ProcessId};

/// How renders run.
#[derive(Debug, Clone)]
pub struct RenderConfig {
    /// Work directories, the `node_modules` cache and per-job scratch space live here.
    pub cache_dir: PathBuf,
    /// The renderer.
    pub renderer: Arc<dyn Renderer>,
    /// The install command, run in a directory holding `package.json` (+ lockfile).
    pub install_command: Vec<String>,
    /// ffprobe to use when the project has no Remotion-bundled one.
    pub ffprobe: PathBuf,
    /// Time limit of each renderer (and install) run.
    pub timeout: Option<Duration>,
    /// Renders that run at once.
    pub concurrency: usize,
    /// Jobs that may wait for a slot; more are refused.
    pub queue_limit: usize,
}

impl RenderConfig {
    /// Defaults: Remotion with the browser from `REEL_BROWSER` or the system Chromium,
    /// `npm install --no-audit --no-fund`, ffprobe from `PATH`, 30 minute limit, one
    /// render at a time, 16 waiting.
    #[must_use]
    pub fn new(cache_dir: PathBuf) -> RenderConfig {
        let browser = std::env::var_os("REEL_BROWSER")
            .map(PathBuf::from)
            .or_else(find_browser);
        RenderConfig {
            cache_dir,
            renderer: Arc::new(Remotion { browser }),
            install_command: ["npm", "install", "--no-audit", "--no-fund"]
                .map(String::from)
                .to_vec(),
            ffprobe: PathBuf::from("ffprobe"),
            timeout: Some(Duration::from_secs(30 * 60)),
            concurrency: 1,
            queue_limit: 16,
        }
    }
}

/// What to render.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenderRequest {
    /// The project.
    pub project: ProjectId,
    /// A checkpoint (id, prefix or name); `None` renders the working tree.
    pub checkpoint: Option<String>,
    /// Settings.
    pub settings: RenderSettings,
}

/// A render job as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
struct JobRecord {
    status: JobStatus,
    owner: Owner,
    /// The process that wrote it (absent in records of finished jobs is fine).
    #[serde(default)]
    runner: Option<ProcessId>,
}

struct Live {
    tx: watch::Sender<JobStatus>,
    cancel: CancellationToken,
    owner: Owner,
    caller: Caller,
}

struct Inner {
    engine: Arc<Engine>,
    config: RenderConfig,
    slots: Arc<Semaphore>,
    jobs: Mutex<HashMap<RecordId, Arc<Live>>>,
    projects: Mutex<HashMap<ProjectId, Arc<tokio::sync::Mutex<()>>>>,
    install: tokio::sync::Mutex<()>,
}

/// The render service of a repository. Cheap to clone; create one per process.
#[derive(Clone)]
pub struct Renders {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Renders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renders")
            .field("cache_dir", &self.inner.config.cache_dir)
            .finish_non_exhaustive()
    }
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

fn encode(status: &JobStatus, owner: &Owner) -> Vec<u8> {
    serde_json::to_vec(&JobRecord {
        status: status.clone(),
        owner: owner.clone(),
        runner: ProcessId::current(),
    })
    .expect("job records serialize")
}

fn decode_record(bytes: &[u8]) -> Result<JobRecord> {
    serde_json::from_slice(bytes).map_err(|e| RenderError::BadRecord(e.to_string()).into())
}

fn decode(bytes: &[u8]) -> Result<(JobStatus, Owner)> {
    decode_record(bytes).map(|r| (r.status, r.owner))
}

impl Renders {
    /// Starts the service. Jobs persisted as unfinished whose process no longer runs
    /// (it was killed, or the machine restarted) are marked `interrupted` now; jobs of
    /// another live process (a server rendering while `reel render jobs` looks) stay.
    pub fn new(engine: Arc<Engine>, config: RenderConfig) -> Result<Renders> {
        if config.concurrency == 0 {
            return Err(
                RenderError::Setting("render concurrency must be at least 1".into()).into(),
            );
        }
        let stale: Vec<(RecordId, Vec<u8>)> = renders::jobs(&engine)?
            .into_iter()
            .filter_map(|(id, bytes)| {
                let JobRecord {
                    mut status,
                    owner,
                    runner,
                } = decode_record(&bytes).ok()?;
                let running_elsewhere = runner.is_some_and(|r| r.liveness() == Liveness::Alive);
                (!status.stage.is_final() && !running_elsewhere).then(|| {
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
            renders::put_jobs(&engine, &stale)?;
        }
        Ok(Renders {
            inner: Arc::new(Inner {
                slots: Arc::new(Semaphore::new(config.concurrency)),
                engine,
                config,
                jobs: Mutex::new(HashMap::new()),
                projects: Mutex::new(HashMap::new()),
                install: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &RenderConfig {
        &self.inner.config
    }

    /// Starts a render. A memo hit returns a finished status at once (nothing runs);
    /// otherwise the job is queued and its first status returned. Settings are
    /// checked before anything else; a full queue is refused with [`Error::Busy`].
    pub async fn submit(&self, caller: &Caller, req: RenderRequest) -> Result<JobStatus> {
        req.settings.validate()?;
        let engine = Arc::clone(&self.inner.engine);
        let renderer = Arc::clone(&self.inner.config.renderer);
        let (c, r) = (caller.clone(), req.clone());
        let (source, identity, key, hit) = blocking(move || {
            let src = renders::source(&engine, &c, &r.project, r.checkpoint.as_deref())?;
            let pj = renders::root_file(&engine, src.tree, "package.json")?;
            let identity = renderer.identity(pj.as_deref());
            let key = render_key(src.tree, &r.settings, &identity);
            let hit = renders::memo_get(&engine, &c, &r.project, src.checkpoint, &key)?;
            Ok::<_, Error>((src, identity, key, hit))
        })
        .await?;
        let now = now_ms();
        let mut status = JobStatus {
            id: RecordId::random(),
            project: req.project,
            checkpoint: source.checkpoint,
            tree: source.tree,
            key,
            renderer: identity,
            settings: req.settings,
            stage: Stage::Queued,
            progress: RenderProgress::stage(Stage::Queued),
            memo_hit: false,
            installed: false,
            render: None,
            error: None,
            details: None,
            created_ms: now,
            updated_ms: now,
        };
        if let Some(info) = hit {
            status.stage = Stage::Done;
            status.progress = RenderProgress::stage(Stage::Done);
            status.memo_hit = true;
            status.render = Some(info);
            self.persist(&status, &source.owner).await?;
            return Ok(status);
        }
        let live = {
            let mut jobs = self.inner.jobs.lock().expect("jobs lock");
            let active = jobs
                .values()
                .filter(|l| !l.tx.borrow().stage.is_final())
                .count();
            let limit = self.inner.config.concurrency + self.inner.config.queue_limit;
            if active >= limit {
                return Err(Error::Busy(format!(
                    "the render queue is full ({active} jobs); try again when one finishes"
                )));
            }
            // Finished jobs stay queryable from the index; keep memory bounded.
            if jobs.len() > 1024 {
                jobs.retain(|_, l| !l.tx.borrow().stage.is_final());
            }
            let live = Arc::new(Live {
                tx: watch::Sender::new(status.clone()),
                cancel: CancellationToken::new(),
                owner: source.owner.clone(),
                caller: caller.clone(),
            });
            jobs.insert(status.id, Arc::clone(&live));
            live
        };
        self.persist(&status, &source.owner).await?;
        let this = self.clone();
        tokio::spawn(async move { this.run_job(live).await });
        Ok(status)
    }

    /// A job's status, if the caller may see its project.
    pub async fn status(&self, caller: &Caller, id: RecordId) -> Result<JobStatus> {
        if let Some(live) = self.live(caller, id) {
            return Ok(live.tx.borrow().clone());
        }
        let engine = Arc::clone(&self.inner.engine);
        let bytes = blocking(move || renders::job(&engine, &id)).await?;
        match bytes.map(|b| decode(&b)).transpose()? {
            Some((status, owner)) if owner.visible_to(caller) => Ok(status),
            _ => Err(not_found(id)),
        }
    }

    /// Every persisted job the caller may see, newest first.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<JobStatus>> {
        let engine = Arc::clone(&self.inner.engine);
        let rows = blocking(move || renders::jobs(&engine)).await?;
        let mut out: Vec<JobStatus> = rows
            .iter()
            .filter_map(|(_, b)| decode(b).ok())
            .filter(|(_, owner)| owner.visible_to(caller))
            .map(|(s, _)| match self.live(caller, s.id) {
                Some(live) => live.tx.borrow().clone(),
                None => s,
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.created_ms));
        Ok(out)
    }

    /// Status updates of a running job (the current one first). `None` when the job
    /// is not running in this process (it may have finished: see [`Renders::status`]).
    #[must_use]
    pub fn subscribe(&self, caller: &Caller, id: RecordId) -> Option<watch::Receiver<JobStatus>> {
        self.live(caller, id).map(|l| l.tx.subscribe())
    }

    /// Waits for a job to end, calling `on_progress` with every status change.
    pub async fn wait(
        &self,
        caller: &Caller,
        id: RecordId,
        mut on_progress: impl FnMut(&JobStatus) + Send,
    ) -> Result<JobStatus> {
        let Some(mut rx) = self.subscribe(caller, id) else {
            return self.status(caller, id).await;
        };
        loop {
            let current = rx.borrow_and_update().clone();
            on_progress(&current);
            if current.stage.is_final() {
                return Ok(current);
            }
            if rx.changed().await.is_err() {
                return self.status(caller, id).await;
            }
        }
    }

    /// Renders and waits: a memo hit or a stored render, or the job's error.
    pub async fn render(
        &self,
        caller: &Caller,
        req: RenderRequest,
        on_progress: impl FnMut(&JobStatus) + Send,
    ) -> Result<JobStatus> {
        let first = self.submit(caller, req).await?;
        let status = self.wait(caller, first.id, on_progress).await?;
        match status.stage {
            Stage::Done => Ok(status),
            Stage::Cancelled => Err(Error::Cancelled),
            _ => Err(Error::Render {
                message: status
                    .error
                    .unwrap_or_else(|| format!("the job ended {}", status.stage)),
                details: status.details.unwrap_or_default(),
            }),
        }
    }

    /// Cancels a job: a queued job never starts, a running one has its process group
    /// killed. Cancelling a finished job changes nothing. Returns the status.
    pub async fn cancel(&self, caller: &Caller, id: RecordId) -> Result<JobStatus> {
        match self.live(caller, id) {
            Some(live) => {
                live.cancel.cancel();
                Ok(live.tx.borrow().clone())
            }
            None => self.status(caller, id).await,
        }
    }

    fn live(&self, caller: &Caller, id: RecordId) -> Option<Arc<Live>> {
        let jobs = self.inner.jobs.lock().expect("jobs lock");
        jobs.get(&id)
            .filter(|l| l.owner.visible_to(caller))
            .map(Arc::clone)
    }

    async fn persist(&self, status: &JobStatus, owner: &Owner) -> Result<()> {
        let engine = Arc::clone(&self.inner.engine);
        let row = vec![(status.id, encode(status, owner))];
        blocking(move || renders::put_jobs(&engine, &row)).await
    }

    /// Moves a job to `stage` and persists it.
    async fn enter(&self, live: &Live, stage: Stage) {
        live.tx.send_modify(|s| {
            s.stage = stage;
            s.progress = RenderProgress::stage(stage);
            s.updated_ms = now_ms();
        });
        let status = live.tx.borrow().clone();
        if let Err(e) = self.persist(&status, &live.owner).await {
            tracing::warn!(error = %e, "cannot persist render job status");
        }
    }

    async fn run_job(&self, live: Arc<Live>) {
        // Waiting is cancelled here; a running job sees the token itself, so that its
        // process group is killed rather than dropped.
        let result = self.run_when_ready(&live).await;
        let job_dir = self.job_dir(live.tx.borrow().id);
        let _ = std::fs::remove_dir_all(&job_dir);
        // Persist first, then tell waiters: whoever sees the job end (a CLI about to
        // exit) must find the same status in the index.
        let mut s = live.tx.borrow().clone();
        {
            s.updated_ms = now_ms();
            match result {
                Ok(info) => {
                    s.stage = Stage::Done;
                    s.render = Some(info);
                }
                Err(Error::Cancelled) => {
                    s.stage = Stage::Cancelled;
                    s.error = Some("cancelled".into());
                }
                Err(Error::Render { message, details }) => {
                    s.stage = Stage::Failed;
                    s.error = Some(message);
                    s.details = (!details.is_empty()).then_some(details);
                }
                Err(e) => {
                    s.stage = Stage::Failed;
                    s.error = Some(e.to_string());
                }
            }
            s.progress = RenderProgress::stage(s.stage);
        }
        tracing::info!(job = %s.id, stage = %s.stage, error = ?s.error, "render job ended");
        if let Err(e) = self.persist(&s, &live.owner).await {
            tracing::warn!(error = %e, "cannot persist render job status");
        }
        live.tx.send_replace(s);
    }

    async fn run_when_ready(&self, live: &Live) -> Result<BlobInfo> {
        let _slot = tokio::select! {
            slot = Arc::clone(&self.inner.slots).acquire_owned() => slot.map_err(|_| Error::Cancelled)?,
            () = live.cancel.cancelled() => return Err(Error::Cancelled),
        };
        let project = live.tx.borrow().project;
        let lock = Arc::clone(
            self.inner
                .projects
                .lock()
                .expect("projects lock")
                .entry(project)
                .or_default(),
        );
        let _project = tokio::select! {
            guard = lock.lock() => guard,
            () = live.cancel.cancelled() => return Err(Error::Cancelled),
        };
        self.execute(live).await
    }

    fn job_dir(&self, id: RecordId) -> PathBuf {
        self.inner
            .config
            .cache_dir
            .join("jobs")
            .join(id.to_string())
    }

    /// The work directory of a project (fixed: Remotion's bundle cache is keyed by
    /// the entry file's absolute path).
    #[must_use]
    pub fn workdir(&self, project: ProjectId) -> PathBuf {
        self.inner
            .config
            .cache_dir
            .join("work")
            .join(project.to_string())
    }

    async fn execute(&self, live: &Live) -> Result<BlobInfo> {
        let job = live.tx.borrow().clone();
        let (workdir, entry) = self.prepare(live, &job).await?;
        let composition = match &job.settings.composition {
            Some(c) => Some(c.clone()),
            None => self.only_composition(live, &workdir, &entry).await?,
        };
        let output = self
            .run_renderer(live, &job, &workdir, &entry, composition.as_deref())
            .await?;
        self.probe_and_store(live, job, &workdir, &output, composition)
            .await
    }

    /// Materializes the tree into the work directory, links `node_modules`, checks
    /// the entry file. Returns the work directory and the entry.
    async fn prepare(&self, live: &Live, job: &JobStatus) -> Result<(PathBuf, String)> {
        let cfg = &self.inner.config;
        let engine = Arc::clone(&self.inner.engine);
        self.enter(live, Stage::Installing).await;
        let workdir = self.workdir(job.project);
        let (e, w, tree) = (Arc::clone(&engine), workdir.clone(), job.tree);
        blocking(move || crate::engine::restore::restore_cache_dir(&e, tree, &w)).await?;
        let _ = std::fs::write(workdir.with_extension("last-used"), b"");
        let installed = {
            let _one = self.inner.install.lock().await;
            deps::ensure(
                &cfg.cache_dir.join("node_modules"),
                &workdir,
                &cfg.install_command,
                cfg.timeout,
                &live.cancel,
            )
            .await?
        };
        live.tx
            .send_modify(|s| s.installed = installed.is_some_and(|i| i.ran));

        let entry = job.settings.entry().to_owned();
        if !workdir.join(&entry).is_file() {
            return Err(RenderError::Setting(format!(
                "the entry file {entry} is not in the project; write it or set `entry`"
            ))
            .into());
        }
        Ok((workdir, entry))
    }

    /// Runs the renderer; the path of the video it wrote.
    async fn run_renderer(
        &self,
        live: &Live,
        job: &JobStatus,
        workdir: &Path,
        entry: &str,
        composition: Option<&str>,
    ) -> Result<PathBuf> {
        let cfg = &self.inner.config;
        let job_dir = self.job_dir(job.id);
        std::fs::create_dir_all(&job_dir).map_err(Error::io("create directory", &job_dir))?;
        // The renderer's TMPDIR: in the system temp dir, because Chromium puts a unix
        // socket there and socket paths are limited to 107 bytes. Removed on return.
        let tmp = tempfile::Builder::new()
            .prefix("reel-render-")
            .tempdir()
            .map_err(Error::io("create directory", std::env::temp_dir()))?;
        let output = job_dir.join(format!("out.{}", job.settings.codec.extension()));
        let props_file = job_dir.join("props.json");
        let props = job
            .settings
            .props
            .clone()
            .unwrap_or_else(|| serde_json::json!({}));
        std::fs::write(&props_file, props.to_string()).map_err(Error::io("write", &props_file))?;
        let mut spec = cfg.renderer.command(&Invocation {
            workdir,
            entry,
            composition,
            output: &output,
            props_file: &props_file,
            settings: &job.settings,
        })?;
        for var in ["TMPDIR", "TMP", "TEMP"] {
            spec.env.push((var.into(), tmp.path().into()));
        }

        self.enter(live, Stage::Bundling).await;
        tracing::info!(job = %job.id, command = %spec.display(), "rendering");
        let tx = live.tx.clone();
        let report = Arc::new(move |ev: RenderProgress| {
            tx.send_modify(|s| {
                if let Some(stage) = ev.stage {
                    s.stage = stage;
                }
                s.progress = ev;
                s.updated_ms = now_ms();
            });
        });
        let out = process::run(
            &spec,
            cfg.timeout,
            &live.cancel,
            cfg.renderer.parser()?,
            report,
        )
        .await?;
        let workdir_text = workdir.to_string_lossy().into_owned();
        match out.ended {
            Ended::Exited(s) if s.success() => {}
            Ended::Exited(s) => {
                let d = diagnose(&out.stdout, &out.stderr, Some(&workdir_text));
                tracing::warn!(status = %s, message = %d.message, "renderer failed");
                return Err(Error::Render {
                    message: d.message,
                    details: d.details,
                });
            }
            Ended::TimedOut => {
                return Err(Error::Render {
                    message: format!(
                        "timed out after {} s; the renderer and all its child processes were stopped",
                        cfg.timeout.map_or(0, |t| t.as_secs())
                    ),
                    details: out
                        .stdout
                        .iter()
                        .rev()
                        .take(5)
                        .rev()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n"),
                });
            }
            Ended::Cancelled => return Err(Error::Cancelled),
        }
        if !output.is_file() {
            return Err(Error::Render {
                message: format!(
                    "the renderer exited successfully but wrote no {}",
                    output
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                ),
                details: out
                    .stdout
                    .iter()
                    .rev()
                    .take(10)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n"),
            });
        }

        Ok(output)
    }

    /// Probes the video and stores it as a render, memoized under the job's key.
    async fn probe_and_store(
        &self,
        live: &Live,
        job: JobStatus,
        workdir: &Path,
        output: &Path,
        composition: Option<String>,
    ) -> Result<BlobInfo> {
        let cfg = &self.inner.config;
        let engine = Arc::clone(&self.inner.engine);
        self.enter(live, Stage::Probing).await;
        let ffprobe = probe::locate(workdir, &cfg.ffprobe);
        let mut meta = probe::probe(&ffprobe, output, job.settings.codec.extension()).await?;
        meta.settings = serde_json::json!({
            "settings": serde_json::from_str::<serde_json::Value>(&job.settings.canonical()).expect("canonical settings are JSON"),
            "composition": composition,
            "renderer": job.renderer,
            "key": job.key.to_hex(),
            "tree": job.tree.0.to_hex(),
        })
        .as_object()
        .cloned()
        .unwrap_or_default();

        self.enter(live, Stage::Storing).await;
        let caller = live.caller.clone();
        let output = output.to_path_buf();
        blocking(move || {
            let mut f = std::fs::File::open(&output).map_err(Error::io("open", &output))?;
            renders::store(
                &engine,
                &caller,
                &job.project,
                job.checkpoint,
                &mut f,
                meta,
                &job.key,
            )
        })
        .await
    }

    /// The project's only composition, from the renderer's listing.
    async fn only_composition(
        &self,
        live: &Live,
        workdir: &Path,
        entry: &str,
    ) -> Result<Option<String>> {
        let cfg = &self.inner.config;
        let Some(spec) = cfg.renderer.list_compositions(workdir, entry) else {
            return Ok(None);
        };
        self.enter(live, Stage::Bundling).await;
        let out = process::run(
            &spec,
            cfg.timeout,
            &live.cancel,
            cfg.renderer.parser()?,
            Arc::new(|_| {}),
        )
        .await?;
        match out.ended {
            Ended::Exited(s) if s.success() => {}
            Ended::Cancelled => return Err(Error::Cancelled),
            _ => {
                let d = diagnose(&out.stdout, &out.stderr, Some(&workdir.to_string_lossy()));
                return Err(Error::Render {
                    message: format!("listing the compositions failed: {}", d.message),
                    details: d.details,
                });
            }
        }
        let ids = parse_compositions(&out.stdout);
        match ids.as_slice() {
            [one] => Ok(Some(one.clone())),
            [] => Err(RenderError::Composition("the project defines no composition".into()).into()),
            many => Err(RenderError::Composition(format!(
                "the project has {} compositions ({}); choose one with `composition`",
                many.len(),
                many.join(", ")
            ))
            .into()),
        }
    }

    /// Removes the least recently used work directories and `node_modules` installs
    /// until the cache holds at most `max_bytes`. Directories in use are kept.
    pub async fn prune_cache(&self, max_bytes: u64) -> Result<super::cache::PruneReport> {
        let _installs = self.inner.install.lock().await;
        let busy: Vec<PathBuf> = {
            let jobs = self.inner.jobs.lock().expect("jobs lock");
            jobs.values()
                .map(|l| l.tx.borrow().clone())
                .filter(|s| !s.stage.is_final())
                .map(|s| self.workdir(s.project))
                .collect()
        };
        // The installs those work dirs link to are in use too.
        let busy: Vec<PathBuf> = busy
            .iter()
            .filter_map(|w| std::fs::read_link(w.join("node_modules")).ok())
            .filter_map(|target| target.parent().map(Path::to_path_buf))
            .chain(busy.iter().cloned())
            .collect();
        let root = self.inner.config.cache_dir.clone();
        blocking(move || super::cache::prune(&root, max_bytes, &busy)).await
    }
}

fn not_found(id: RecordId) -> Error {
    Error::not_found(ItemKind::Job, id.to_string())
}
