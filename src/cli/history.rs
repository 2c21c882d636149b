//! `reel log`, `show`, `ls`, `cat`, `diff`: reading checkpoints.

use std::fmt::Write as _;

use super::args::{Cli, DiffArgs, LogArgs, LsArgs};
use super::output::{bytes, json, out, time};
use super::run::{Failure, Outcome, open, workdir};
use reelstore::{ChangeKind, DiffStat, DiffTarget, EntryKind, Error};

pub(super) async fn log(cli: &Cli, args: &LogArgs) -> Outcome {
    let repo = open(cli).await?;
    let entries = if args.all {
        repo.log_all(args.max_count).await?
    } else {
        repo.log(args.rev.as_deref(), args.max_count).await?
    };
    if cli.json {
        return Ok(json(&entries)?);
    }
    let head = if args.all {
        repo.resolve("HEAD").await.ok()
    } else {
        None
    };
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
                let at = if head == Some(e.id) { " [HEAD]" } else { "" };
                let _ = writeln!(
                    text,
                    "{}{name}{deleted}{at}  {}  {}  {}",
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

pub(super) async fn show(cli: &Cli, rev: &str) -> Outcome {
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

pub(super) async fn ls(cli: &Cli, args: &LsArgs) -> Outcome {
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

pub(super) async fn cat(cli: &Cli, spec: &str) -> Outcome {
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

pub(super) async fn diff(cli: &Cli, args: &DiffArgs) -> Outcome {
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
        text.push_str(&change_lines(&changes));
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

/// One line per change: `A  path (size)`, `D`, `M  path (old -> new)`, `R  from -> to`.
pub(super) fn change_lines(changes: &[reelstore::Change]) -> String {
    let mut text = String::new();
    for c in changes {
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
    text
}
