//! `reel init`, `checkpoint`, `status`, `restore`: a repository and its working
//! directory.

use std::fmt::Write as _;
use std::sync::Arc;

use super::args::{CheckpointArgs, Cli, InitArgs, RestoreArgs};
use super::output::{Bar, bytes, json, out};
use super::run::{Outcome, open, repo_path, workdir};
use reelstore::{
    BackendConfig, CheckpointOptions, Error, REPO_DIR_NAME, RepoConfig, Repository, RestoreOptions,
    StatusBase,
};

pub(super) async fn init(cli: &Cli, args: &InitArgs) -> Outcome {
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
        return Ok(json(&serde_json::json!({
            "repository": dir,
            "config": repo.config(),
            "probe": repo.init_probe(),
            "attached": repo.attached(),
        }))?);
    }
    Ok(out(&init_text(&repo, &dir))?)
}

/// What `reel init` says: created or attached, and what the access probe found.
fn init_text(repo: &Repository, dir: &std::path::Path) -> String {
    let mut text = match repo.attached() {
        None => format!(
            "Initialized an empty reel repository in {}\n",
            dir.display()
        ),
        Some(a) => {
            let projects = if a.project_checkpoints > 0 {
                format!(
                    " ({} project checkpoints are not recovered yet)",
                    a.project_checkpoints
                )
            } else {
                String::new()
            };
            format!(
                "Attached {} to the repository {} already on that backend: {} checkpoints, {} packs indexed{projects}\n",
                dir.display(),
                repo.config().id.as_deref().unwrap_or("?"),
                a.checkpoints,
                a.packs,
            )
        }
    };
    if let Some(p) = repo.init_probe() {
        let _ = writeln!(
            text,
            "Backend {}: write, read, conditional write and delete ok ({} ms)",
            p.backend,
            p.elapsed.as_millis()
        );
        if !p.conditional_writes {
            eprintln!(
                "warning: {} ignores conditional writes: use this repository from one machine at a time",
                p.backend
            );
        } else if !p.conditional_updates && repo.shared_backend() {
            eprintln!(
                "warning: {} does not honour conditional updates: use this repository from this machine only",
                p.backend
            );
        }
    }
    text
}

pub(super) async fn checkpoint(cli: &Cli, args: &CheckpointArgs) -> Outcome {
    let repo = open(cli).await?;
    let dir = workdir(&repo, args.dir.as_deref())?;
    let opts = CheckpointOptions {
        message: args.message.clone(),
        name: args.name.clone(),
        author: args.author.clone(),
        skip_unchanged: !args.allow_empty,
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
    if s.unchanged {
        return Ok(out(&format!(
            "nothing changed since HEAD ({}): no checkpoint made (--allow-empty makes one)\n",
            s.id.short()
        ))?);
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

pub(super) async fn restore(cli: &Cli, args: &RestoreArgs) -> Outcome {
    let repo = open(cli).await?;
    let dir = workdir(&repo, args.to.as_deref())?;
    let opts = RestoreOptions { force: args.force };
    let bar = Arc::new(Bar::new(cli.quiet));
    let s = if args.paths.is_empty() {
        repo.restore_with(&args.rev, &dir, opts, bar).await?
    } else {
        repo.restore_paths(&args.rev, &dir, args.paths.clone(), opts, bar)
            .await?
    };
    if cli.json {
        return Ok(json(&s)?);
    }
    for path in &s.discarded {
        eprintln!("warning: discarded the changes to {path} (--force)");
    }
    if cli.quiet {
        return Ok(());
    }
    let what = if args.paths.is_empty() {
        args.rev.clone()
    } else {
        format!("{} of {}", args.paths.join(", "), args.rev)
    };
    let mut text = format!(
        "restored {what} into {}: {} written ({}), {} unchanged, {} removed\n",
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

pub(super) async fn status(cli: &Cli, dir: Option<&std::path::Path>) -> Outcome {
    let repo = open(cli).await?;
    let st = repo.status(workdir(&repo, dir)?).await?;
    if cli.json {
        return Ok(json(&st)?);
    }
    let mut text = match (&st.head, &st.head_name) {
        (Some(h), Some(name)) => format!("HEAD {} ({name})\n", h.short()),
        (Some(h), None) => format!("HEAD {}\n", h.short()),
        (None, _) => "no checkpoints yet\n".to_owned(),
    };
    let against = match st.base {
        StatusBase::LastWritten if st.at_head => {
            "since it was last checkpointed or restored (at HEAD)"
        }
        StatusBase::LastWritten => {
            "since it was last checkpointed or restored (not at HEAD: `reel diff HEAD` compares with HEAD)"
        }
        StatusBase::Head => "against HEAD (never checkpointed or restored here)",
        StatusBase::Empty => "(no checkpoint yet: every file is new)",
    };
    if st.changes.is_empty() && st.base == StatusBase::Empty {
        let _ = writeln!(text, "{}: no files", st.dir.display());
    } else if st.changes.is_empty() {
        let _ = writeln!(text, "{}: no changes {against}", st.dir.display());
    } else {
        let _ = writeln!(text, "{}: changes {against}", st.dir.display());
        text.push_str(&super::history::change_lines(&st.changes));
        if !cli.quiet {
            text.push_str("`reel checkpoint` records them\n");
        }
    }
    Ok(out(&text)?)
}
