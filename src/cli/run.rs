//! Dispatch: each subcommand validates its arguments, calls one library method and
//! prints the result.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use super::args::{
    CheckpointArgs, Cli, Command, DiffArgs, FsckArgs, GcArgs, IndexCmd, InitArgs, LogArgs, LsArgs,
    RestoreArgs,
};
use super::output::{self, Bar, bytes, json, out, time};
use reelstore::{
    BackendConfig, ChangeKind, CheckpointOptions, DiffStat, DiffTarget, EntryKind, Error,
    GcOptions, REPO_DIR_NAME, RepoConfig, Repository, RestoreOptions,
};

/// Exit code when fsck finds damage.
const EXIT_DAMAGED: u8 = 3;

pub(super) enum Failure {
    Reel(Error),
    Output(std::io::Error),
    Damaged,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Reel(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Output(e)
    }
}

pub(super) type Outcome = Result<(), Failure>;

/// Runs the command line; the process exit code.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("REEL_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("error: writing output: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Damaged) => ExitCode::from(EXIT_DAMAGED),
        Err(Failure::Reel(e)) => {
            output::error(&e);
            ExitCode::FAILURE
        }
    }
}

fn repo_path(cli: &Cli) -> Result<Option<PathBuf>, Error> {
    let Some(raw) = &cli.repo else {
        return Ok(None);
    };
    if let Some(rest) = raw.strip_prefix("file://") {
        return Ok(Some(PathBuf::from(rest)));
    }
    if raw.contains("://") {
        return Err(Error::Invalid(format!(
            "--repo `{raw}`: a repository keeps its index locally; create one with `reel init --backend {raw}` and pass its directory"
        )));
    }
    let path = PathBuf::from(raw);
    // Accept the project directory as well as the `.reel` folder inside it.
    let inner = path.join(REPO_DIR_NAME);
    Ok(Some(if inner.join("config").is_file() {
        inner
    } else {
        path
    }))
}

pub(super) async fn open(cli: &Cli) -> Result<Repository, Error> {
    let dir = if let Some(p) = repo_path(cli)? {
        p
    } else {
        let cwd = std::env::current_dir().map_err(Error::io("read current directory", "."))?;
        Repository::discover(&cwd)?
    };
    Repository::open(dir).await
}

fn workdir(repo: &Repository, given: Option<&Path>) -> Result<PathBuf, Error> {
    match given {
        Some(p) => Ok(p.to_path_buf()),
        None => repo.workdir().map_or_else(
            || std::env::current_dir().map_err(Error::io("read current directory", ".")),
            Ok,
        ),
    }
}

async fn run(cli: Cli) -> Outcome {
    match &cli.command {
        Command::Init(args) => init(&cli, args).await,
        Command::Checkpoint(args) => checkpoint(&cli, args).await,
        Command::Log(args) => log(&cli, args).await,
        Command::Show { rev } => show(&cli, rev).await,
        Command::Ls(args) => ls(&cli, args).await,
        Command::Cat { spec } => cat(&cli, spec).await,
        Command::Diff(args) => diff(&cli, args).await,
        Command::Restore(args) => restore(&cli, args).await,
        Command::Forget { revs } => forget(&cli, revs).await,
        Command::Gc(args) => gc(&cli, args).await,
        Command::Index(cmd) => index(&cli, cmd).await,
        Command::Fsck(args) => fsck(&cli, args).await,
        Command::Stats => stats(&cli).await,
        Command::Project(cmd) => super::artifact_run::project(&cli, cmd).await,
        Command::File(cmd) => super::artifact_run::file(&cli, cmd).await,
        Command::Asset(cmd) => super::artifact_run::asset(&cli, cmd).await,
        Command::Render(args) => super::render_run::render(&cli, args).await,
        Command::Serve(args) => super::serve::serve(&cli, args).await,
    }
}

async fn gc(cli: &Cli, args: &GcArgs) -> Outcome {
    let repo = open(cli).await?;
    let report = repo
        .gc(GcOptions {
            grace: args.grace,
            dry_run: args.dry_run,
            prune_unknown: args.prune_unknown,
            after_rebuild: args.after_rebuild,
        })
        .await?;
    if cli.json {
        return Ok(json(&report)?);
    }
    let mut text = plan_text(&report.plan, args.prune_unknown);
    if report.dry_run {
        let _ = writeln!(
            text,
            "dry run: would delete {} packs, repack {} and free {}",
            report.packs_deleted.len(),
            report.packs_repacked.len(),
            bytes(report.bytes_freed)
        );
    } else {
        let _ = writeln!(
            text,
            "freed {}: {} packs deleted, {} repacked",
            bytes(report.bytes_freed),
            report.packs_deleted.len(),
            report.packs_repacked.len()
        );
        if !report.packs_deferred.is_empty() {
            let _ = writeln!(
                text,
                "deferred {} packs: a writer that started before this gc still runs; the next `reel gc` frees them",
                report.packs_deferred.len()
            );
        }
        if !report.packs_spared.is_empty() {
            let _ = writeln!(
                text,
                "spared {} packs: a checkpoint made while gc ran needs them",
                report.packs_spared.len()
            );
        }
    }
    Ok(out(&text)?)
}

/// The plan, one line per pack it touches (what `--dry-run` shows and a real run does).
fn plan_text(plan: &reelstore::GcPlan, prune_unknown: bool) -> String {
    let mut text = format!(
        "{} live objects, {} unreachable; {} writers running\n",
        plan.live_objects, plan.dead_objects, plan.writers_running
    );
    for p in &plan.delete {
        let _ = writeln!(
            text,
            "  delete     pack {}  {:>10}  no live objects",
            p.pack.short(),
            bytes(p.size)
        );
    }
    for p in &plan.repack {
        let _ = writeln!(
            text,
            "  repack     pack {}  {:>10}  {} live objects ({}) copied out first",
            p.pack.short(),
            bytes(p.size),
            p.live_objects,
            bytes(p.live_bytes)
        );
    }
    for p in &plan.abandoned {
        let _ = writeln!(
            text,
            "  abandoned  pack {}  {:>10}  never indexed; its writer is gone",
            p.pack.short(),
            bytes(p.size)
        );
    }
    for p in &plan.unknown {
        let what = if prune_unknown {
            "unknown to this index: deleted (--prune-unknown)"
        } else {
            "unknown to this index: kept (--prune-unknown deletes it)"
        };
        let _ = writeln!(
            text,
            "  unknown    pack {}  {:>10}  {what}",
            p.pack.short(),
            bytes(p.size)
        );
    }
    if plan.in_progress > 0 {
        let _ = writeln!(text, "  kept {} packs of running writers", plan.in_progress);
    }
    if plan.too_young > 0 {
        let _ = writeln!(
            text,
            "  kept {} packs younger than the grace period",
            plan.too_young
        );
    }
    text
}

async fn fsck(cli: &Cli, args: &FsckArgs) -> Outcome {
    let repo = open(cli).await?;
    let report = repo.fsck(args.read_data).await?;
    if cli.json {
        json(&report)?;
    } else {
        let mut text = String::new();
        for p in &report.errors {
            let pack = p
                .pack
                .map(|p| format!(" pack {}", p.short()))
                .unwrap_or_default();
            let obj = p
                .object
                .map(|o| format!(" object {}", o.short()))
                .unwrap_or_default();
            let _ = writeln!(text, "damaged:{pack}{obj}: {}", p.message);
        }
        for d in &report.damaged_packs {
            let who = if d.needed_by.is_empty() {
                "no live checkpoint needs it".to_owned()
            } else {
                let ids: Vec<String> = d.needed_by.iter().map(reelstore::CommitId::short).collect();
                format!(
                    "needed by {} checkpoint{}: {}",
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" },
                    ids.join(", ")
                )
            };
            let _ = writeln!(text, "damaged pack {}: {}; {who}", d.pack.short(), d.reason);
        }
        for p in &report.unreferenced_packs {
            let _ = writeln!(
                text,
                "note: pack {} is not in the index (an interrupted write's, or another index's; see `reel gc --dry-run`)",
                p.short()
            );
        }
        let verdict = if report.is_clean() { "ok" } else { "DAMAGED" };
        let _ = writeln!(
            text,
            "{verdict}: {} checkpoints, {} packs, {} objects checked, {} problems",
            report.checkpoints,
            report.packs,
            report.objects,
            report.errors.len()
        );
        out(&text)?;
    }
    if report.is_clean() {
        Ok(())
    } else {
        Err(Failure::Damaged)
    }
}

async fn stats(cli: &Cli) -> Outcome {
    let repo = open(cli).await?;
    let s = repo.stats().await?;
    if cli.json {
        return Ok(json(&s)?);
    }
    Ok(out(&format!(
        "backend      {}\ncheckpoints  {}\npacks        {} ({})\nobjects      {} ({} chunks, {} manifests, {} trees, {} commits)\nunique data  {} raw, {} stored\nHEAD size    {}\n",
        s.backend,
        s.checkpoints,
        s.packs,
        bytes(s.pack_bytes),
        s.objects,
        s.chunks,
        s.manifests,
        s.trees,
        s.commits,
        bytes(s.raw_bytes),
        bytes(s.stored_bytes),
        bytes(s.head_bytes)
    ))?)
}

async fn init(cli: &Cli, args: &InitArgs) -> Outcome {
    let dir = match repo_path(cli)? {
        Some(p) => p,
        None => std::env::current_dir()
            .map_err(Error::io("read current directory", "."))?
            .join(REPO_DIR_NAME),
    };
    let backend = match args.backend.as_str() {
        "local" => BackendConfig::Local,
        "redb" => BackendConfig::Redb,
        url => BackendConfig::Url(url.to_owned()),
    };
    let config = RepoConfig {
        backend,
        compression_level: args.compression_level,
        ..RepoConfig::default()
    };
    let repo = Repository::init(&dir, config).await?;
    if cli.json {
        return Ok(json(
            &serde_json::json!({ "repository": dir, "config": repo.config() }),
        )?);
    }
    Ok(out(&format!(
        "Initialized an empty reel repository in {}\n",
        dir.display()
    ))?)
}

async fn checkpoint(cli: &Cli, args: &CheckpointArgs) -> Outcome {
    let repo = open(cli).await?;
    let dir = workdir(&repo, args.dir.as_deref())?;
    let opts = CheckpointOptions {
        message: args.message.clone(),
        name: args.name.clone(),
        ..CheckpointOptions::default()
    };
    let s = repo
        .checkpoint(&dir, opts, Arc::new(Bar::new(cli.quiet)))
        .await?;
    for skipped in &s.skipped {
        eprintln!("warning: skipped {}: {}", skipped.path, skipped.reason);
    }
    if cli.json {
        return Ok(json(&s)?);
    }
    let name = s
        .name
        .as_deref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    let mut text = format!("checkpoint {}{name}\n", s.id);
    if !cli.quiet {
        let _ = writeln!(
            text,
            "  {} files, {}; {} files read ({}), the rest unchanged\n  new data: {} in {} objects, stored as {} in {} packs",
            s.files,
            bytes(s.bytes),
            s.hashed_files,
            bytes(s.hashed_bytes),
            bytes(s.new_bytes),
            s.new_objects,
            bytes(s.stored_bytes),
            s.packs
        );
    }
    Ok(out(&text)?)
}

async fn log(cli: &Cli, args: &LogArgs) -> Outcome {
    let repo = open(cli).await?;
    let entries = repo.log(args.rev.as_deref(), args.max_count).await?;
    if cli.json {
        return Ok(json(&entries)?);
    }
    let mut text = String::new();
    for e in &entries {
        match &e.commit {
            Some(c) => {
                let name = c
                    .name
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                let deleted = if e.deleted { " [deleted]" } else { "" };
                let _ = writeln!(
                    text,
                    "{}{name}{deleted}  {}  {}  {}",
                    e.id.short(),
                    time(c.created_ms),
                    c.size.map_or_else(|| "data freed".into(), bytes),
                    c.description
                );
            }
            None => {
                let _ = writeln!(text, "{} [deleted]", e.id.short());
            }
        }
    }
    if entries.is_empty() && !cli.quiet {
        text.push_str("no checkpoints yet\n");
    }
    Ok(out(&text)?)
}

async fn show(cli: &Cli, rev: &str) -> Outcome {
    let repo = open(cli).await?;
    let (id, c) = repo.show(rev).await?;
    if cli.json {
        return Ok(json(&serde_json::json!({ "id": id, "commit": c }))?);
    }
    let mut text = format!("checkpoint {id}\n");
    if let Some(name) = &c.name {
        let _ = writeln!(text, "name:    {name}");
    }
    let _ = writeln!(text, "tree:    {}", c.tree);
    for p in &c.parents {
        let _ = writeln!(text, "parent:  {p}");
    }
    let _ = writeln!(
        text,
        "author:  {}\ncreated: {}\nsize:    {}",
        c.author,
        time(c.created_ms),
        c.size.map_or_else(|| "data freed".into(), bytes)
    );
    for (k, v) in &c.metadata {
        let _ = writeln!(text, "meta:    {k}={v}");
    }
    if !c.description.is_empty() {
        let _ = writeln!(text, "\n    {}", c.description);
    }
    Ok(out(&text)?)
}

async fn ls(cli: &Cli, args: &LsArgs) -> Outcome {
    let repo = open(cli).await?;
    let entries = repo
        .ls(&args.rev, args.path.as_deref(), args.recursive)
        .await?;
    if cli.json {
        return Ok(json(&entries)?);
    }
    let mut text = String::new();
    for e in &entries {
        let mode = match (e.kind, e.executable) {
            (EntryKind::Dir, _) => "d",
            (EntryKind::Symlink, _) => "l",
            (_, true) => "x",
            _ => "-",
        };
        let slash = if e.kind == EntryKind::Dir { "/" } else { "" };
        let _ = writeln!(
            text,
            "{mode} {:>10}  {}  {}{slash}",
            bytes(e.size),
            e.id.short(),
            e.path
        );
    }
    Ok(out(&text)?)
}

async fn cat(cli: &Cli, spec: &str) -> Outcome {
    let Some((rev, path)) = spec.split_once(':') else {
        return Err(Error::Invalid(format!(
            "`{spec}`: expected REF:PATH, e.g. HEAD:src/Root.tsx"
        ))
        .into());
    };
    let repo = open(cli).await?;
    match repo.cat(rev, path, std::io::stdout()).await {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map(drop).map_err(Failure::from),
    }
}

async fn diff(cli: &Cli, args: &DiffArgs) -> Outcome {
    let repo = open(cli).await?;
    let target = match &args.rev2 {
        Some(r) => DiffTarget::Rev(r.clone()),
        None => DiffTarget::Dir(workdir(&repo, None)?),
    };
    let changes = repo.diff(&args.rev, target).await?;
    let stat = DiffStat::of(&changes);
    if cli.json {
        if args.stat {
            json(&stat)?;
        } else {
            json(&changes)?;
        }
        return Ok(());
    }
    let mut text = String::new();
    if !args.stat {
        for c in &changes {
            let sizes = |s: Option<u64>| s.map(bytes).unwrap_or_default();
            let _ = match c.change {
                ChangeKind::Added => writeln!(text, "A  {} ({})", c.path, sizes(c.new_size)),
                ChangeKind::Removed => writeln!(text, "D  {} ({})", c.path, sizes(c.old_size)),
                ChangeKind::Modified => {
                    writeln!(
                        text,
                        "M  {} ({} -> {})",
                        c.path,
                        sizes(c.old_size),
                        sizes(c.new_size)
                    )
                }
                ChangeKind::Renamed => writeln!(
                    text,
                    "R  {} -> {} ({})",
                    c.from.as_deref().unwrap_or_default(),
                    c.path,
                    sizes(c.new_size)
                ),
            };
        }
    }
    if args.stat || !cli.quiet {
        let _ = writeln!(
            text,
            "{} added, {} removed, {} modified, {} renamed; +{} -{}",
            stat.added,
            stat.removed,
            stat.modified,
            stat.renamed,
            bytes(stat.bytes_added),
            bytes(stat.bytes_removed)
        );
    }
    Ok(out(&text)?)
}

async fn restore(cli: &Cli, args: &RestoreArgs) -> Outcome {
    let repo = open(cli).await?;
    let dir = workdir(&repo, args.to.as_deref())?;
    let opts = RestoreOptions { force: args.force };
    let s = repo
        .restore_with(&args.rev, &dir, opts, Arc::new(Bar::new(cli.quiet)))
        .await?;
    if cli.json {
        return Ok(json(&s)?);
    }
    for path in &s.discarded {
        eprintln!("warning: discarded the changes to {path} (--force)");
    }
    if cli.quiet {
        return Ok(());
    }
    let mut text = format!(
        "restored {} into {}: {} written ({}), {} unchanged, {} removed\n",
        args.rev,
        dir.display(),
        s.written,
        bytes(s.written_bytes),
        s.unchanged,
        s.removed
    );
    if s.leftovers_removed > 0 {
        let _ = writeln!(
            text,
            "removed {} temporary files left by an interrupted restore",
            s.leftovers_removed
        );
    }
    Ok(out(&text)?)
}

async fn forget(cli: &Cli, revs: &[String]) -> Outcome {
    let repo = open(cli).await?;
    let mut forgotten = Vec::new();
    for rev in revs {
        forgotten.push(repo.delete_checkpoint(rev).await?);
    }
    if cli.json {
        return Ok(json(&serde_json::json!({ "forgotten": forgotten }))?);
    }
    let mut text = String::new();
    for id in &forgotten {
        let _ = writeln!(text, "forgot checkpoint {}", id.short());
    }
    if !cli.quiet {
        text.push_str(
            "its data is freed by the next `reel gc` unless another checkpoint shares it\n",
        );
    }
    Ok(out(&text)?)
}

async fn index(cli: &Cli, cmd: &IndexCmd) -> Outcome {
    let IndexCmd::Rebuild = cmd;
    let dir = match repo_path(cli)? {
        Some(p) => p,
        None => Repository::discover(
            &std::env::current_dir().map_err(Error::io("read current directory", "."))?,
        )?,
    };
    let r = Repository::rebuild_index(&dir).await?;
    if cli.json {
        return Ok(json(&r)?);
    }
    let mut text = String::new();
    if let Some(old) = &r.moved_aside {
        let _ = writeln!(text, "moved the old index aside to {}", old.display());
    }
    let _ = writeln!(
        text,
        "rebuilt the index from {} packs: {} objects, {} checkpoints{}",
        r.packs,
        r.objects,
        r.checkpoints,
        r.head
            .map(|h| format!(", HEAD {}", h.short()))
            .unwrap_or_default()
    );
    for p in &r.damaged_packs {
        let pack = p.pack.map(|p| p.short()).unwrap_or_default();
        let _ = writeln!(
            text,
            "warning: pack {pack} is damaged and was left out: {}",
            p.message
        );
    }
    if r.project_checkpoints > 0 {
        let _ = writeln!(
            text,
            "note: {} project checkpoints were found; project records, assets and renders lived only in the old index",
            r.project_checkpoints
        );
    }
    text.push_str("`reel gc` refuses to run until `reel gc --after-rebuild` (data only the old index referenced would be deleted)\n");
    Ok(out(&text)?)
}
