//! What one job runs: materialize the tree into the project's work directory, install
//! `node_modules`, run the renderer, probe the video and store it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::deps;
use super::error::RenderError;
use super::job::JobStatus;
use super::poster;
use super::probe;
use super::process;
use super::progress::{RenderProgress, Stage};
use super::renderer::{Invocation, Renderer, parse_compositions};
use super::service::{Live, Renders};
use crate::artifact::renders::{self, now_ms};
use crate::artifact::{BlobInfo, ProjectId, RecordId};
use crate::engine::blocking;
use crate::error::{Error, Result};

impl Renders {
    pub(super) fn job_dir(&self, id: RecordId) -> PathBuf {
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

    pub(super) async fn execute(&self, live: &Live) -> Result<BlobInfo> {
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
        blocking(move || {
            crate::engine::restore::restore_cache_dir(&e, tree, &w)?;
            let _ = std::fs::write(w.with_extension("last-used"), b"");
            Ok(())
        })
        .await?;
        let installed = {
            let _one = self.inner.install.lock().await;
            deps::ensure(
                &cfg.cache_dir.join("node_modules"),
                &workdir,
                &cfg.install_command,
                cfg.timeout,
                &live.cancel,
                reporter(live),
            )
            .await?
        };
        live.tx
            .send_modify(|s| s.installed = installed.is_some_and(|i| i.ran));

        let entry = job.settings.entry().to_owned();
        let entry_file = workdir.join(&entry);
        if !blocking(move || Ok(entry_file.is_file())).await? {
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
        let (spec, output, tmp) = {
            let (job_dir, renderer, job) =
                (self.job_dir(job.id), Arc::clone(&cfg.renderer), job.clone());
            let (workdir, entry) = (workdir.to_path_buf(), entry.to_owned());
            let composition = composition.map(str::to_owned);
            blocking(move || {
                job_files(
                    &job_dir,
                    &job,
                    renderer.as_ref(),
                    &workdir,
                    &entry,
                    composition.as_deref(),
                )
            })
            .await?
        };

        self.enter(live, Stage::Bundling).await;
        tracing::info!(job = %job.id, command = %spec.display(), "rendering");
        let out = process::run(
            &spec,
            cfg.timeout,
            &live.cancel,
            cfg.renderer.parser()?,
            reporter(live),
        )
        .await?;
        let out = out.check(None, Some(&workdir.to_string_lossy()), cfg.timeout)?;
        let written = output.clone();
        let wrote = blocking(move || Ok(written.is_file())).await?;
        // The renderer's scratch directory goes now, off the async workers.
        let _ = blocking(move || {
            drop(tmp);
            Ok(())
        })
        .await;
        if !wrote {
            return Err(Error::Render {
                message: format!(
                    "the renderer exited successfully but wrote no {}",
                    output
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                ),
                details: out.last_lines(10),
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
        let (w, f) = (workdir.to_path_buf(), cfg.ffprobe.clone());
        let ffprobe = blocking(move || Ok(probe::locate(&w, &f))).await?;
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

        // A render without a poster is still a render: the failure is logged, not fatal.
        let still = output.with_extension("poster.jpg");
        let poster = match poster::extract(
            &poster::ffmpeg_beside(&ffprobe),
            output,
            meta.duration_s,
            &still,
        )
        .await
        {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "no poster frame");
                None
            }
        };

        self.enter(live, Stage::Storing).await;
        let caller = live.caller.clone();
        let output = output.to_path_buf();
        blocking(move || {
            let mut f = std::fs::File::open(&output).map_err(Error::io("open", &output))?;
            let render = renders::Finished {
                video: &mut f,
                poster,
                meta,
            };
            renders::store(
                &engine,
                &caller,
                &job.project,
                job.checkpoint,
                render,
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
        let out = out.check(
            Some("listing the compositions"),
            Some(&workdir.to_string_lossy()),
            cfg.timeout,
        )?;
        let ids = parse_compositions(&out.stdout);
        match ids.as_slice() {
            [one] => Ok(Some(one.clone())),
            [] => Err(RenderError::Composition("the project defines no composition".into()).into()),
            many => Err(RenderError::Composition(format!(
                "the project has {} compositions ({}); choose one: `--composition ID` on the command line, the `composition` argument over MCP",
                many.len(),
                many.join(", ")
            ))
            .into()),
        }
    }
}

/// Where a job's parsed progress goes: its live status.
fn reporter(live: &Live) -> process::Report {
    let tx = live.tx.clone();
    Arc::new(move |ev: RenderProgress| {
        tx.send_modify(|s| {
            if let Some(stage) = ev.stage {
                s.stage = stage;
            }
            s.progress = ev;
            s.updated_ms = now_ms();
        });
    })
}

/// The job's scratch files and the renderer's command: the job directory, the props
/// file, and a TMPDIR in the system temp dir (Chromium puts a unix socket there, and
/// socket paths are limited to 107 bytes). Returns the command, where the video will
/// be, and the TMPDIR (removed when dropped).
fn job_files(
    job_dir: &Path,
    job: &JobStatus,
    renderer: &dyn Renderer,
    workdir: &Path,
    entry: &str,
    composition: Option<&str>,
) -> Result<(process::CommandSpec, PathBuf, tempfile::TempDir)> {
    std::fs::create_dir_all(job_dir).map_err(Error::io("create directory", job_dir))?;
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
    let mut spec = renderer.command(&Invocation {
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
    Ok((spec, output, tmp))
}
