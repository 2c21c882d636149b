//! `reel render`: render a project with a progress bar; list jobs; prune the cache.

use std::fmt::Write as _;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::Cli;
use super::artifact_args::RenderCmd;
use super::output::{bytes, json, out, time};
use super::render_args::{RenderArgs, RenderRunArgs, RenderServiceArgs};
use super::render_dir::DirectoryTarget;
use super::run::{Outcome, open};
use reelstore::render::{
    CommandTemplate, JobStatus, Remotion, RenderConfig, RenderRequest, RenderSettings, Renders,
    Stage,
};
use reelstore::{BlobKind, Error, Repository};

/// The render service for a repository, as the flags say.
pub(super) async fn service(repo: &Repository, args: &RenderServiceArgs) -> Result<Renders, Error> {
    let cache = match (&args.render_cache, repo.cache_dir()) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => dir.join("render"),
        (None, None) => {
            return Err(Error::Invalid(
                "this repository has no directory for a render cache: pass --render-cache DIR"
                    .into(),
            ));
        }
    };
    let mut config = RenderConfig::new(cache);
    if let Some(deps) = args.deps_cache.clone().or_else(default_deps_dir) {
        config.deps_dir = deps;
    }
    config.renderer = match &args.render_command {
        Some(cmd) => Arc::new(CommandTemplate::parse(
            cmd,
            args.progress_pattern.clone(),
            &args.render_command_version,
        )?),
        None => Arc::new(Remotion {
            browser: args
                .browser
                .clone()
                .or_else(reelstore::render::find_browser),
        }),
    };
    config.install_command = shlex::split(&args.install_command)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Invalid("cannot parse --install-command".into()))?;
    config.ffprobe.clone_from(&args.ffprobe);
    config.timeout = Some(args.render_timeout);
    config.concurrency = args.render_jobs;
    config.queue_limit = args.render_queue;
    repo.renders(config).await
}

/// `$XDG_CACHE_HOME/reelstore/deps`, else `$HOME/.cache/reelstore/deps` (the XDG base
/// directory rule); `None` without either (the render cache holds them then).
fn default_deps_dir() -> Option<std::path::PathBuf> {
    let absolute = |v: std::ffi::OsString| {
        let p = std::path::PathBuf::from(v);
        p.is_absolute().then_some(p)
    };
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })
        .map(|c| c.join("reelstore").join("deps"))
}

fn settings(a: &RenderRunArgs) -> Result<RenderSettings, Error> {
    a.settings.validate().map_err(in_flags)?;
    Ok(a.settings.clone())
}

/// The render settings as the library (and MCP, whose argument names they are) calls
/// them, which `reel render` takes as flags.
const SETTINGS: [&str; 11] = [
    "composition",
    "entry",
    "codec",
    "quality",
    "crf",
    "x264_preset",
    "concurrency",
    "props",
    "frames",
    "scale",
    "image_format",
];

/// A message in the command line's words: a setting named as `x264_preset` becomes
/// `--x264-preset`.
fn flags(message: &str) -> String {
    SETTINGS.iter().fold(message.to_owned(), |m, s| {
        m.replace(&format!("`{s}`"), &format!("`--{}`", s.replace('_', "-")))
    })
}

/// An error of the render pipeline in the command line's words (see [`flags`]).
fn in_flags(e: Error) -> Error {
    match e {
        Error::Invalid(m) => Error::Invalid(flags(&m)),
        Error::Render { message, details } => Error::Render {
            message: flags(&message),
            details,
        },
        e => e,
    }
}

/// Parses `2GiB`, `500MB`, `10k`, `0`.
fn parse_size(s: &str) -> Result<u64, Error> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: f64 = n
        .parse()
        .map_err(|_| Error::Invalid(format!("size {s:?}: expected e.g. 2GiB, 500MB, 0")))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(Error::Invalid(format!("size {s:?}: unknown unit {unit:?}"))),
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // sizes are small, positive
    Ok((n * mult) as u64)
}

fn describe(s: &JobStatus) -> String {
    let mut t = format!("job {}  {}", s.id, s.stage);
    match (s.memo_hit, s.installed) {
        (true, false) => t.push_str(" (memo hit: nothing ran)"),
        (true, true) => t.push_str(" (memo hit once installed: nothing rendered)"),
        _ => {}
    }
    t.push('\n');
    let _ = writeln!(t, "project:    {}", s.project);
    match s.checkpoint {
        Some(c) => {
            let _ = writeln!(t, "checkpoint: {}", c.short());
        }
        None => t.push_str("checkpoint: (working tree)\n"),
    }
    let _ = writeln!(t, "renderer:   {}", s.renderer);
    if let Some(r) = s.resolved.as_ref().filter(|r| !r.packages.is_empty()) {
        let _ = writeln!(t, "installed:  {}", r.summary());
    }
    let _ = writeln!(t, "created:    {}", time(s.created_ms));
    if let Some(r) = &s.render {
        let _ = writeln!(t, "render:     {}", r.id);
        if let BlobKind::Render { meta, .. } = &r.kind {
            let fps = meta
                .fps
                .map_or_else(String::new, |f| format!("{}/{} fps, ", f.num, f.den));
            let _ = writeln!(
                t,
                "video:      {} {} {}x{}, {fps}{:.2} s, {} frames, {}",
                meta.container,
                meta.codec,
                meta.width,
                meta.height,
                meta.duration_s,
                meta.frames.map_or_else(|| "?".into(), |f| f.to_string()),
                bytes(r.size)
            );
        }
        let _ = writeln!(t, "content:    {}", r.content);
    }
    if let Some(e) = &s.error {
        let _ = writeln!(t, "error:      {e}");
    }
    if let Some(d) = &s.details {
        for line in d.lines() {
            let _ = writeln!(t, "  | {line}");
        }
    }
    for w in &s.warnings {
        let _ = writeln!(t, "warning:    {w}");
    }
    if s.log.is_some() {
        let _ = writeln!(t, "log:        reel render log {}", s.id);
    }
    t
}

fn bar(quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(100), target);
    bar.set_style(
        ProgressStyle::with_template("{msg:<28} [{bar:30}] {percent:>3}% {elapsed}")
            .expect("template is valid")
            .progress_chars("=> "),
    );
    bar
}

/// `reel render …`.
pub async fn render(cli: &Cli, args: &RenderArgs) -> Outcome {
    match &args.cmd {
        Some(RenderCmd::Jobs) => {
            let (renders, me) = (
                service(&open(cli).await?, &args.service).await?,
                super::artifact_run::caller(cli)?,
            );
            let list = renders.list(&me).await?;
            if cli.json {
                return Ok(json(&list)?);
            }
            let mut t = String::new();
            for s in &list {
                let _ = writeln!(
                    t,
                    "{}  {:<11}  {}  project {}{}",
                    s.id,
                    s.stage.as_str(),
                    time(s.created_ms),
                    s.project,
                    s.error
                        .as_deref()
                        .map_or_else(String::new, |e| format!("  {e}"))
                );
            }
            Ok(out(&t)?)
        }
        Some(RenderCmd::Job { id }) => {
            let (renders, me) = (
                service(&open(cli).await?, &args.service).await?,
                super::artifact_run::caller(cli)?,
            );
            let id = renders.resolve_job(&me, id).await?;
            let s = renders.status(&me, id).await?;
            if cli.json {
                Ok(json(&s)?)
            } else {
                Ok(out(&describe(&s))?)
            }
        }
        Some(RenderCmd::Log { id }) => log(cli, args, id).await,
        Some(RenderCmd::Prune { max_size }) => {
            let renders = service(&open(cli).await?, &args.service).await?;
            let report = renders.prune_cache(parse_size(max_size)?).await?;
            if cli.json {
                return Ok(json(&report)?);
            }
            Ok(out(&format!(
                "removed {} cache entries, freed {}; the render cache holds {}\n",
                report.removed.len(),
                bytes(report.freed_bytes),
                bytes(report.kept_bytes)
            ))?)
        }
        Some(other) => super::blob_run::render(cli, other).await,
        None => run(cli, args).await,
    }
}

/// `reel render log JOB`: the job's log, as stored, on stdout.
async fn log(cli: &Cli, args: &RenderArgs, id: &str) -> Outcome {
    let (renders, me) = (
        service(&open(cli).await?, &args.service).await?,
        super::artifact_run::caller(cli)?,
    );
    let id = renders.resolve_job(&me, id).await?;
    let log = renders.log(&me, id).await?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), &log)
        .map_err(Error::io("write", "standard output"))?;
    Ok(())
}

#[allow(clippy::too_many_lines)] // submit, follow with a bar, print: one sequence
async fn run(cli: &Cli, args: &RenderArgs) -> Outcome {
    let settings = settings(&args.run)?;
    let repo = open(cli).await?;
    let renders = service(&repo, &args.service).await?;
    let me = super::artifact_run::caller(cli)?;
    let (req, directory) = request(&repo, &me, &args.run, settings).await?;
    let project = req.project;
    let started = std::time::Instant::now();
    let first = renders.submit(&me, req).await.map_err(in_flags)?;
    if let Some(want) = directory.as_ref().and_then(|d| d.tree)
        && first.tree != want
    {
        renders.cancel(&me, first.id).await?;
        return Err(Error::Conflict(
            "another render of this directory changed what it renders at the same moment; run it again".into(),
        )
        .into());
    }
    let bar = bar(cli.quiet || cli.json);
    let mut lines = super::render_lines::ProgressLines::off_terminal(cli.quiet || cli.json);
    let mut events = super::render_lines::JsonEvents::new(cli.quiet || !cli.json);
    let wait = renders.wait(&me, first.id, |s| {
        bar.set_message(s.progress.describe());
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0..=100
        bar.set_position(s.progress.overall() as u64);
        if let Some(l) = lines.as_mut() {
            l.show(s);
        }
        if let Some(e) = events.as_mut() {
            e.show(s);
        }
    });
    let status = tokio::select! {
        s = wait => s?,
        _ = tokio::signal::ctrl_c() => {
            bar.set_message("cancelling");
            renders.cancel(&me, first.id).await?;
            renders.wait(&me, first.id, |_| {}).await?
        }
    };
    bar.finish_and_clear();
    if !cli.json && !cli.quiet {
        // On stderr, so that they show whether the render succeeded or failed.
        for w in &status.warnings {
            eprintln!("warning: {w}");
        }
    }
    match status.stage {
        Stage::Done => {}
        Stage::Cancelled => return Err(Error::Cancelled.into()),
        _ => {
            if status.log.is_some() && !cli.json {
                eprintln!("the full output: reel render log {}", status.id);
            }
            return Err(in_flags(Error::Render {
                message: status
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("the job ended {}", status.stage)),
                details: status.details.clone().unwrap_or_default(),
            })
            .into());
        }
    }
    if let (Some(target), Some(r)) = (&args.run.out, &status.render) {
        let file = std::fs::File::create(target).map_err(Error::io("create", target))?;
        repo.artifacts()
            .read_blob_to(&me, r.id, None, std::io::BufWriter::new(file))
            .await?;
    }
    let locked = match (args.run.lock, &status.render) {
        (true, Some(r)) => Some(lock(&repo, &me, project, r.id, directory.as_ref()).await?),
        _ => None,
    };
    if cli.json {
        return Ok(json(&status)?);
    }
    let mut text = describe(&status);
    if let Some(d) = &directory {
        let _ = writeln!(text, "rendered:   {}", d.what);
    }
    if let Some(l) = locked {
        let _ = writeln!(text, "lockfile:   {l}");
    }
    let _ = writeln!(text, "took:       {:.2} s", started.elapsed().as_secs_f64());
    if let Some(target) = &args.run.out {
        let _ = writeln!(text, "written:    {}", target.display());
    }
    Ok(out(&text)?)
}

/// What to render: a project (id or prefix) and its checkpoint or working tree; in a
/// directory repository, when the argument names no project, a checkpoint of it (the
/// argument or `--checkpoint`, default HEAD) or, with `--worktree`, the directory.
async fn request(
    repo: &Repository,
    me: &reelstore::Caller,
    run: &RenderRunArgs,
    settings: RenderSettings,
) -> Result<(RenderRequest, Option<DirectoryTarget>), Error> {
    if let Some(p) = run.project.as_deref().filter(|_| !run.worktree) {
        match repo.artifacts().resolve_project(me, p).await {
            Ok(project) => {
                let checkpoint = run.checkpoint.clone();
                let req = RenderRequest {
                    project,
                    checkpoint,
                    settings,
                };
                return Ok((req, None));
            }
            // Not a project: in a directory repository, a checkpoint of it.
            Err(Error::NotFound { .. } | Error::Invalid(_)) if repo.workdir().is_some() => {}
            Err(e @ (Error::NotFound { .. } | Error::Invalid(_))) => {
                return Err(Error::Invalid(format!(
                    "{e}: name the project to render: `reel render PROJECT` (`reel project ls` lists them)"
                )));
            }
            Err(e) => return Err(e),
        }
        if run.checkpoint.is_some() {
            return Err(Error::Invalid(format!(
                "`{p}` is not a project; in a directory repository name the checkpoint once: `reel render REF`"
            )));
        }
    }
    let rev = run.project.as_deref().or(run.checkpoint.as_deref());
    let d = super::render_dir::target(repo, me, rev, run.worktree, run.dir.clone()).await?;
    let req = RenderRequest {
        project: d.project,
        checkpoint: None,
        settings,
    };
    Ok((req, Some(d)))
}

/// `--lock`: writes the `package-lock.json` the render's install resolved into the
/// project's working tree (a directory render's: into the directory). Says what it did.
async fn lock(
    repo: &Repository,
    me: &reelstore::Caller,
    project: reelstore::ProjectId,
    render: reelstore::RecordId,
    directory: Option<&DirectoryTarget>,
) -> Result<String, Error> {
    let a = repo.artifacts();
    let lock = match a.read_lockfile(me, render).await {
        Ok(l) => l,
        Err(Error::NotFound { .. }) => {
            return Err(Error::Invalid(
                "--lock: the install wrote no package-lock.json (the project has no package.json, or brings its own node_modules)".into(),
            ));
        }
        Err(e) => return Err(e),
    };
    if let Some(d) = directory {
        let file = d.dir.join("package-lock.json");
        if std::fs::read(&file).ok().as_deref() == Some(&lock[..]) {
            return Ok("package-lock.json already holds these versions".into());
        }
        std::fs::write(&file, &lock).map_err(Error::io("write", &file))?;
        return Ok(format!("{} written", file.display()));
    }
    let path = reelstore::ProjectPath::parse("package-lock.json")?;
    if a.read_file(me, project, path.clone(), None)
        .await
        .ok()
        .as_deref()
        == Some(&lock[..])
    {
        return Ok("package-lock.json already holds these versions".into());
    }
    a.write_file(me, project, path, reelstore::Source::Bytes(lock), false)
        .await?;
    Ok("package-lock.json written into the project's working tree".into())
}

#[cfg(test)]
mod tests {
    use super::{flags, parse_size};

    #[test]
    fn settings_are_named_as_flags_on_the_command_line() {
        assert_eq!(
            flags("`x264_preset` applies to h264 only; choose one with `composition`"),
            "`--x264-preset` applies to h264 only; choose one with `--composition`"
        );
        assert_eq!(
            flags("path `src/entry` not found"),
            "path `src/entry` not found"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("1.5k").unwrap(), 1500);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3 parsecs").is_err());
    }
}
