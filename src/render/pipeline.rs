//! What one job runs: materialize the tree into the project's work directory, install
//! `node_modules`, run the renderer, probe the video and store it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::deps;
use super::error::RenderError;
use super::job::JobStatus;
use super::memo;
use super::poster;
use super::probe;
use super::process;
use super::progress::{RenderProgress, Stage};
use super::renderer::{Invocation, Renderer, parse_compositions};
use super::resolved::{LOCKFILE, Resolved};
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
        let (workdir, entry, installed) = self.prepare(live, &job).await?;
        let (hit, lockfile) = self
            .after_install(live, &job, &workdir, installed.as_ref())
            .await?;
        if let Some(info) = hit {
            return Ok(info);
        }
        let job = live.tx.borrow().clone();
        let composition = match &job.settings.composition {
            Some(c) => Some(c.clone()),
            None => self.only_composition(live, &workdir, &entry).await?,
        };
        let output = self
            .run_renderer(live, &job, &workdir, &entry, composition.as_deref())
            .await?;
        self.probe_and_store(live, job, &workdir, &output, composition, lockfile)
            .await
    }

    /// Reads what the install resolved, warns about what it sees (no lockfile, mixed
    /// Remotion versions), and re-keys the job; when the key changed (the install was
    /// not known when the job was submitted), asks the memo again. Returns a memo hit,
    /// if any, and the resolved lockfile.
    async fn after_install(
        &self,
        live: &Live,
        job: &JobStatus,
        workdir: &Path,
        installed: Option<&deps::Installed>,
    ) -> Result<(Option<BlobInfo>, Option<Vec<u8>>)> {
        let renderer = Arc::clone(&self.inner.config.renderer);
        let (w, dir) = (workdir.to_path_buf(), installed.map(|i| i.entry.clone()));
        let (tree, settings) = (job.tree, job.settings.clone());
        let read = blocking(move || {
            let Some(pj) = deps::read_manifest(&w.join("package.json")) else {
                return Ok(None);
            };
            let locked = deps::read_manifest(&w.join(LOCKFILE)).is_some();
            // Without a cache entry the project brought its own `node_modules`.
            let (resolved, lock) = Resolved::read(dir.as_deref().unwrap_or(&w), &pj);
            let plan = memo::keyed(tree, &settings, renderer.as_ref(), &pj, Some(resolved));
            Ok(Some((plan, lock, locked)))
        })
        .await?;
        let Some((plan, lock, locked)) = read else {
            return Ok((None, None));
        };
        let resolved = plan.resolved.clone().unwrap_or_default();
        if let Some(w) = resolved.mismatch() {
            live.log.warn(w);
        }
        if !locked && installed.is_some_and(|i| i.ran) {
            live.log.warn(format!(
                "the project has no {LOCKFILE}: npm resolved its version ranges to {}; a later install may resolve newer versions (another render key: rendered again, not answered from the memo). `reel render --lock` writes this lockfile into the project",
                resolved.summary()
            ));
        }
        live.tx.send_modify(|s| {
            s.key = plan.key;
            s.renderer.clone_from(&plan.identity);
            s.resolved.clone_from(&plan.resolved);
            s.warnings = live.log.warnings();
        });
        if plan.key == job.key {
            return Ok((None, lock));
        }
        let (engine, caller) = (Arc::clone(&self.inner.engine), live.caller.clone());
        let (project, checkpoint, key) = (job.project, job.checkpoint, plan.key);
        let hit = blocking(move || renders::memo_get(&engine, &caller, &project, checkpoint, &key))
            .await?;
        if hit.is_some() {
            tracing::info!(job = %job.id, "memo hit once the install was known");
            live.tx.send_modify(|s| s.memo_hit = true);
        }
        Ok((hit, lock))
    }

    /// Materializes the tree into the work directory, links `node_modules`, checks
    /// the entry file. Returns the work directory, the entry and the install.
    async fn prepare(
        &self,
        live: &Live,
        job: &JobStatus,
    ) -> Result<(PathBuf, String, Option<deps::Installed>)> {
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
                &cfg.deps_dir,
                &workdir,
                &cfg.install_command,
                cfg.timeout,
                &live.cancel,
                reporter(live),
                &live.log,
            )
            .await?
        };
        let ran = installed.as_ref().is_some_and(|i| i.ran);
        live.tx.send_modify(|s| s.installed = ran);

        let entry = job.settings.entry().to_owned();
        let entry_file = workdir.join(&entry);
        if !blocking(move || Ok(entry_file.is_file())).await? {
            return Err(RenderError::Setting(format!(
                "the entry file {entry} is not in the project; write it or set `entry`"
            ))
            .into());
        }
        Ok((workdir, entry, installed))
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
            Some(&live.log),
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
        lockfile: Option<Vec<u8>>,
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
            "resolved": job.resolved,
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
                lockfile,
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

    /// Stores the job's log as a blob of the project's owner, once it ended; `None`
    /// when nothing ran (or storing failed: logged, the job's outcome stands).
    pub(super) async fn store_log(&self, live: &Live) -> Option<RecordId> {
        if live.log.is_empty() {
            return None;
        }
        let text = live.log.text().into_bytes();
        let (engine, owner, job) = (
            Arc::clone(&self.inner.engine),
            live.owner.clone(),
            live.tx.borrow().id,
        );
        match blocking(move || renders::store_log(&engine, &owner, &job, text)).await {
            Ok(info) => Some(info.id),
            Err(e) => {
                tracing::warn!(%job, error = %e, "cannot store the render log");
                None
            }
        }
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
            Some(&live.log),
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
                "the project has {} compositions ({}); choose one with `composition`",
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
