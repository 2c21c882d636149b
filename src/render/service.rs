//! Render jobs: a bounded queue in front of a fixed number of render slots, statuses
//! persisted in the index (a job that was running when the process stopped shows as
//! `interrupted`), cancellation, and the pipeline each job runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt as _;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use super::error::RenderError;
use super::job::{JobStatus, decode, encode, mark_interrupted, not_found, panic_text};
use super::log::JobLog;
use super::memo;
use super::progress::{RenderProgress, Stage};
use super::renderer::{Remotion, Renderer, find_browser};
use super::settings::RenderSettings;
use super::shared_jobs;
use crate::artifact::renders::{self, Owner, now_ms};
use crate::artifact::{BlobInfo, Caller, ProjectId, RecordId};
use crate::engine::Engine;
use crate::engine::blocking;
use crate::error::{Error, Result};

/// How renders run.
#[derive(Debug, Clone)]
pub struct RenderConfig {
    /// Work directories and per-job scratch space live here.
    pub cache_dir: PathBuf,
    /// The dependency directory: `node_modules` installs (`node_modules/<key>/`) and
    /// the shared file store they link to (`store/`). One per user is the point — every
    /// repository's renders share it (`reel` uses `~/.cache/reelstore/deps`); it must be
    /// on one filesystem. Default: `cache_dir`.
    pub deps_dir: PathBuf,
    /// The renderer.
    pub renderer: Arc<dyn Renderer>,
    /// The install command, run in a directory holding `package.json` (+ lockfile).
    pub install_command: Vec<String>,
    /// ffprobe (and the ffmpeg beside it) when the project bundles none.
    pub ffprobe: PathBuf,
    /// Time limit of each renderer (and install) run.
    pub timeout: Option<Duration>,
    /// Renders that run at once.
    pub concurrency: usize,
    /// Jobs that may wait for a slot; more are refused.
    pub queue_limit: usize,
}

const INSTALL: &str = "npm install --no-audit --no-fund --loglevel=http";

impl RenderConfig {
    /// Defaults: Remotion with the browser from `REEL_BROWSER` or the system Chromium,
    /// `npm install --no-audit --no-fund --loglevel=http` (a line per request: progress),
    /// ffprobe from `PATH`, 30 minutes, one render at a time, 16 waiting.
    #[must_use]
    pub fn new(cache_dir: PathBuf) -> RenderConfig {
        let browser = std::env::var_os("REEL_BROWSER")
            .map(PathBuf::from)
            .or_else(find_browser);
        RenderConfig {
            deps_dir: cache_dir.clone(),
            cache_dir,
            renderer: Arc::new(Remotion { browser }),
            install_command: INSTALL.split(' ').map(String::from).collect(),
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

pub(super) struct Live {
    pub(super) tx: watch::Sender<JobStatus>,
    pub(super) cancel: CancellationToken,
    pub(super) owner: Owner,
    pub(super) caller: Caller,
    /// Held while a status is read and persisted, so that persisted statuses follow
    /// one another in order (a progress publication never lands after the final one).
    pub(super) persisting: tokio::sync::Mutex<()>,
    /// Everything the job's processes write, stored as a blob when it ends.
    pub(super) log: Arc<JobLog>,
}

pub(super) struct Inner {
    pub(super) engine: Arc<Engine>,
    pub(super) config: RenderConfig,
    slots: Arc<Semaphore>,
    pub(super) jobs: Mutex<HashMap<RecordId, Arc<Live>>>,
    /// One render per project at a time (its work directory is shared): a fixed set
    /// of locks, a project hashed onto one, so the set stays bounded.
    projects: [tokio::sync::Mutex<()>; PROJECT_STRIPES],
    pub(super) install: tokio::sync::Mutex<()>,
}

/// Project locks (see [`Inner::projects`]).
const PROJECT_STRIPES: usize = 64;

/// The render service of a repository. Cheap to clone; create one per process.
#[derive(Clone)]
pub struct Renders {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Renders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renders")
            .field("cache_dir", &self.inner.config.cache_dir)
            .finish_non_exhaustive()
    }
}

impl Renders {
    /// Starts the service. Jobs persisted as unfinished whose process no longer runs
    /// (it was killed, or the machine restarted) are marked `interrupted` now; jobs of
    /// another live process (a server rendering while `reel render jobs` looks) stay.
    pub async fn start(engine: Arc<Engine>, config: RenderConfig) -> Result<Renders> {
        if config.concurrency == 0 {
            return Err(
                RenderError::Setting("render concurrency must be at least 1".into()).into(),
            );
        }
        let e = Arc::clone(&engine);
        blocking(move || mark_interrupted(&e)).await?;
        Ok(Renders {
            inner: Arc::new(Inner {
                slots: Arc::new(Semaphore::new(config.concurrency)),
                engine,
                config,
                jobs: Mutex::new(HashMap::new()),
                projects: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
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
        let (source, plan, hit) = self.plan(caller, &req).await?;
        let now = now_ms();
        let mut status = JobStatus {
            id: RecordId::random(),
            project: req.project,
            checkpoint: source.checkpoint,
            tree: source.tree,
            key: plan.key,
            renderer: plan.identity,
            resolved: plan.resolved,
            settings: req.settings,
            stage: Stage::Queued,
            progress: RenderProgress::stage(Stage::Queued),
            memo_hit: false,
            installed: false,
            render: None,
            error: None,
            details: None,
            warnings: Vec::new(),
            log: None,
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
        let live = self.enqueue(&status, &source.owner, caller)?;
        self.persist(&status, &source.owner).await?;
        shared_jobs::share_running_job(&self.inner.engine, &live);
        let this = self.clone();
        tokio::spawn(async move { this.run_job(live).await });
        Ok(status)
    }

    /// The job's source tree, its key as far as known before installing, and the
    /// memo's answer when the key is known.
    async fn plan(
        &self,
        caller: &Caller,
        req: &RenderRequest,
    ) -> Result<(renders::RenderSource, memo::Planned, Option<BlobInfo>)> {
        let engine = Arc::clone(&self.inner.engine);
        let renderer = Arc::clone(&self.inner.config.renderer);
        let (deps, install) = (
            self.inner.config.deps_dir.clone(),
            self.inner.config.install_command.clone(),
        );
        let (c, r) = (caller.clone(), req.clone());
        blocking(move || {
            let src = renders::source(&engine, &c, &r.project, r.checkpoint.as_deref())?;
            let plan = memo::plan(
                &engine,
                &deps,
                &install,
                renderer.as_ref(),
                src.tree,
                &r.settings,
            )?;
            let hit = if plan.known {
                renders::memo_get(&engine, &c, &r.project, src.checkpoint, &plan.key)?
            } else {
                None
            };
            Ok::<_, Error>((src, plan, hit))
        })
        .await
    }

    /// Registers a job that will run, unless the queue is full.
    fn enqueue(&self, status: &JobStatus, owner: &Owner, caller: &Caller) -> Result<Arc<Live>> {
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
            owner: owner.clone(),
            caller: caller.clone(),
            persisting: tokio::sync::Mutex::new(()),
            log: Arc::new(JobLog::default()),
        });
        jobs.insert(status.id, Arc::clone(&live));
        Ok(live)
    }

    /// A job's status, if the caller may see its project. On a shared bucket, a job
    /// another machine runs (or ran) is read as that machine last published it.
    pub async fn status(&self, caller: &Caller, id: RecordId) -> Result<JobStatus> {
        if let Some(live) = self.live(caller, id) {
            return Ok(live.tx.borrow().clone());
        }
        let engine = Arc::clone(&self.inner.engine);
        let bytes = blocking(move || shared_jobs::pull_job(&engine, &id)).await?;
        match bytes.map(|b| decode(&b)).transpose()? {
            Some((status, owner)) if owner.visible_to(caller) => Ok(status),
            _ => Err(not_found(id)),
        }
    }

    /// The job `text` names for the caller: its id, or a unique prefix of at least four
    /// hex digits among the jobs the caller can see.
    pub async fn resolve_job(&self, caller: &Caller, text: &str) -> Result<RecordId> {
        if let Ok(id) = text.parse() {
            return Ok(id);
        }
        let visible = self.list(caller).await?.into_iter().map(|s| s.id);
        RecordId::resolve(text, crate::error::ItemKind::Job, visible)
    }

    /// Every persisted job the caller may see, newest first (on a shared bucket, also
    /// those of other machines).
    pub async fn list(&self, caller: &Caller) -> Result<Vec<JobStatus>> {
        let engine = Arc::clone(&self.inner.engine);
        let rows = blocking(move || {
            shared_jobs::pull_jobs(&engine)?;
            renders::jobs(&engine)
        })
        .await?;
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
    /// killed. Cancelling a finished job changes nothing. A job another process runs
    /// (another server on this repository, or another machine on a shared bucket) is
    /// asked to cancel through the backend: that process sees the request within
    /// [`shared_jobs::CANCEL_POLL`]. Returns the status.
    pub async fn cancel(&self, caller: &Caller, id: RecordId) -> Result<JobStatus> {
        if let Some(live) = self.live(caller, id) {
            live.cancel.cancel();
            return Ok(live.tx.borrow().clone());
        }
        let status = self.status(caller, id).await?;
        if !status.stage.is_final() {
            let engine = Arc::clone(&self.inner.engine);
            blocking(move || renders::request_cancel(&engine, &id)).await?;
        }
        Ok(status)
    }

    pub(super) fn live(&self, caller: &Caller, id: RecordId) -> Option<Arc<Live>> {
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
    pub(super) async fn enter(&self, live: &Live, stage: Stage) {
        let _order = live.persisting.lock().await;
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
        // process group is killed rather than dropped. A panic is the job's failure,
        // reported to its waiters like any other, never a job that hangs forever.
        let result = std::panic::AssertUnwindSafe(self.run_when_ready(&live))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Err(Error::Internal(format!(
                    "the render job panicked: {}",
                    panic_text(&panic)
                )))
            });
        let job_dir = self.job_dir(live.tx.borrow().id);
        let _ = blocking(move || {
            let _ = std::fs::remove_dir_all(&job_dir);
            Ok(())
        })
        .await;
        let log = self.store_log(&live).await;
        // Persist first, then tell waiters: whoever sees the job end (a CLI about to
        // exit) must find the same status in the index.
        let mut s = live.tx.borrow().clone();
        {
            s.updated_ms = now_ms();
            s.log = log;
            s.warnings = live.log.warnings();
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
        let _order = live.persisting.lock().await;
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
        let stripe = project.0[0] as usize % PROJECT_STRIPES;
        let _project = tokio::select! {
            guard = self.inner.projects[stripe].lock() => guard,
            () = live.cancel.cancelled() => return Err(Error::Cancelled),
        };
        self.execute(live).await
    }
}
