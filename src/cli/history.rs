//! `reel log`, `show`, `ls`, `cat`, `diff`: reading checkpoints.

use std::fmt::Write as _;

use super::args::{Cli, DiffArgs, LogArgs, LsArgs, ShowArgs, TagArgs};
use super::output::{bytes, json, out, page, time};
use super::patch_view::{Paint, patch_text, stat_text};
use super::run::{Failure, Outcome, open, workdir};
use reelstore::{
    ChangeKind, DiffOptions, DiffStat, DiffTarget, EntryKind, Error, FilePatch, Repository,
};

pub(super) async fn log(cli: &Cli, args: &LogArgs) -> Outcome {
    let repo = open(cli).await?;
    let limit = if args.paths.is_empty() {
        args.max_count
    } else {
        usize::MAX
    };
    let mut entries = if args.all {
        repo.log_all(limit).await?
    } else {
        repo.log(args.rev.as_deref(), limit).await?
    };
    if !args.paths.is_empty() {
        entries = touching(&repo, entries, &args.paths, args.max_count).await?;
    }
    if cli.json {
        return Ok(json(&entries)?);
    }
    let head = repo.resolve("HEAD").await.ok();
    let tags = repo.tags().await?;
    let paint = Paint::new(cli);
    let mut text = String::new();
    let graph = if args.graph {
        graph_of(&entries)
    } else {
        Vec::new()
    };
    for (n, e) in entries.iter().enumerate() {
        if let Some(row) = graph.get(n) {
            for line in &row.joins {
                let _ = writeln!(text, "{}", line.trim_end());
            }
            text.push_str(&row.prefix);
        }
        let at = markers(e.id, head, &tags);
        text.push_str(&entry_line(e, &at, paint, args.oneline));
    }
    if entries.is_empty() && !cli.quiet {
        text.push_str("no checkpoints yet\n");
    }
    Ok(page(&text, cli.no_pager)?)
}

/// One checkpoint's line of `reel log` (`--oneline`: id, name, markers, first line of
/// the description).
fn entry_line(e: &reelstore::LogEntry, at: &str, paint: Paint, oneline: bool) -> String {
    let id = paint.yellow(&e.id.short());
    let Some(c) = &e.commit else {
        return format!("{id} [deleted]\n");
    };
    let deleted = if e.deleted { " [deleted]" } else { "" };
    let name = c
        .name
        .as_deref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    if oneline {
        let first = c.description.lines().next().unwrap_or_default();
        return format!("{id}{name}{deleted}{at} {first}\n");
    }
    format!(
        "{id}{name}{deleted}{at}  {}  {}  {}\n",
        time(c.created_ms),
        c.size.map_or_else(|| "data freed".into(), bytes),
        c.description
    )
}

/// ` [HEAD]` and ` [tag: NAME]` for the checkpoints they point at.
fn markers(
    id: reelstore::CommitId,
    head: Option<reelstore::CommitId>,
    tags: &[reelstore::Tag],
) -> String {
    let mut at = if head == Some(id) { " [HEAD]" } else { "" }.to_owned();
    for t in tags.iter().filter(|t| t.commit == id) {
        let _ = write!(at, " [tag: {}]", t.name);
    }
    at
}

/// The lanes to draw beside `entries` (a collected checkpoint's parents are unknown:
/// its lane ends there).
fn graph_of(entries: &[reelstore::LogEntry]) -> Vec<super::graph::GraphRow> {
    let commits: Vec<_> = entries
        .iter()
        .map(|e| {
            let parents = e.commit.as_ref().map(|c| c.parents.clone());
            (e.id, parents.unwrap_or_default())
        })
        .collect();
    super::graph::rows(&commits)
}

/// The entries whose checkpoint changed one of `paths` (from its first parent), at
/// most `limit`.
async fn touching(
    repo: &Repository,
    entries: Vec<reelstore::LogEntry>,
    paths: &[String],
    limit: usize,
) -> Result<Vec<reelstore::LogEntry>, Error> {
    let opts = DiffOptions {
        paths: paths.to_vec(),
        renames: None,
    };
    let mut out = Vec::new();
    for e in entries {
        if out.len() >= limit {
            break;
        }
        // A deleted checkpoint whose data was freed cannot be diffed: left out.
        let Some(changes) = repo
            .checkpoint_changes(&e.id.to_string(), opts.clone())
            .await
            .ok()
        else {
            continue;
        };
        if !changes.is_empty() {
            out.push(e);
        }
    }
    Ok(out)
}

pub(super) async fn show(cli: &Cli, args: &ShowArgs) -> Outcome {
    let repo = open(cli).await?;
    let (id, c) = repo.show(&args.rev).await?;
    let patches = if args.no_patch {
        Vec::new()
    } else {
        repo.checkpoint_patch(&args.rev, DiffOptions::default())
            .await?
            .1
    };
    if cli.json {
        let mut doc = serde_json::json!({ "id": id, "commit": c });
        if !args.no_patch {
            doc["changes"] = serde_json::to_value(&patches).expect("patches serialize");
        }
        return Ok(json(&doc)?);
    }
    let paint = Paint::new(cli);
    let mut text = paint.yellow(&format!("checkpoint {id}"));
    text.push('\n');
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
    if !args.no_patch {
        text.push('\n');
        text.push_str(&changes_text(&patches, args.stat, args.name_status, paint));
    }
    Ok(page(&text, cli.no_pager)?)
}

pub(super) async fn tag(cli: &Cli, args: &TagArgs) -> Outcome {
    let repo = open(cli).await?;
    let Some(name) = &args.name else {
        let tags = repo.tags().await?;
        if cli.json {
            return Ok(json(&tags)?);
        }
        let mut text = String::new();
        for t in &tags {
            let _ = writeln!(text, "{:<20} {}", t.name, t.commit.short());
        }
        return Ok(out(&text)?);
    };
    if args.delete {
        let t = repo.delete_tag(name).await?;
        if cli.json {
            return Ok(json(&serde_json::json!({ "deleted": t }))?);
        }
        return Ok(out(&format!(
            "deleted tag {} (was {})\n",
            t.name,
            t.commit.short()
        ))?);
    }
    let rev = args.rev.as_deref().unwrap_or("HEAD");
    let t = repo.tag(name, rev, args.force).await?;
    if cli.json {
        return Ok(json(&t)?);
    }
    Ok(out(&format!("tag {} -> {}\n", t.name, t.commit.short()))?)
}

/// Patches as the patch, the stat or the name-status.
fn changes_text(patches: &[FilePatch], stat: bool, name_status: bool, paint: Paint) -> String {
    if stat {
        stat_text(patches, paint)
    } else if name_status {
        let changes: Vec<reelstore::Change> = patches.iter().map(|p| p.change.clone()).collect();
        change_lines(&changes)
    } else {
        patch_text(patches, paint)
    }
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
    let dir = workdir(&repo, None)?;
    let (revs, mut paths) = revs_and_paths(&repo, &dir, &args.args).await?;
    paths.extend(args.paths.iter().cloned());
    let old = revs.first().map_or("HEAD", String::as_str);
    let target = match revs.get(1) {
        Some(r) => DiffTarget::Rev(r.clone()),
        None => DiffTarget::Dir(dir),
    };
    let opts = DiffOptions {
        paths,
        renames: (!args.no_renames).then_some(args.find_renames),
    };
    let differ = if args.name_status || (cli.json && !args.stat && !args.patch) {
        let changes = repo.diff_with(old, target, opts).await?;
        if cli.json {
            json(&changes)?;
        } else {
            page(&change_lines(&changes), cli.no_pager)?;
        }
        !changes.is_empty()
    } else {
        let patches = repo.patch(old, target, opts).await?;
        if cli.json && args.stat {
            json(&stat_json(&patches))?;
        } else if cli.json {
            json(&patches)?;
        } else {
            page(
                &changes_text(&patches, args.stat, false, Paint::new(cli)),
                cli.no_pager,
            )?;
        }
        !patches.is_empty()
    };
    if args.exit_code && differ {
        return Err(Failure::Differ);
    }
    Ok(())
}

/// Splits `reel diff`'s words into at most two checkpoints, then paths: a word is a
/// checkpoint while it names one (and no path came before it), else a path if the
/// directory or the old checkpoint has it; anything else is a checkpoint not found
/// (with the closest name suggested).
async fn revs_and_paths(
    repo: &Repository,
    dir: &std::path::Path,
    words: &[String],
) -> Result<(Vec<String>, Vec<String>), Error> {
    let (mut revs, mut paths) = (Vec::new(), Vec::new());
    for word in words {
        if paths.is_empty() && revs.len() < 2 {
            match repo.resolve(word).await {
                Ok(_) => {
                    revs.push(word.clone());
                    continue;
                }
                Err(e) => {
                    let old = revs.first().map_or("HEAD", String::as_str);
                    let in_old = repo.ls(old, Some(word), false).await.is_ok();
                    if !in_old && !dir.join(word).exists() {
                        return Err(match e {
                            Error::NotFound {
                                suggestion: Some(_),
                                ..
                            } => e,
                            _ => Error::Invalid(format!(
                                "`{word}` is neither a checkpoint nor a path in {old} or the \
                                 directory (put paths that are gone from both after `--`)"
                            )),
                        });
                    }
                }
            }
        }
        paths.push(word.clone());
    }
    Ok((revs, paths))
}

/// `--stat --json`: the counts of [`DiffStat`] plus changed lines, and each file's.
fn stat_json(patches: &[FilePatch]) -> serde_json::Value {
    let changes: Vec<reelstore::Change> = patches.iter().map(|p| p.change.clone()).collect();
    let mut doc = serde_json::to_value(DiffStat::of(&changes)).expect("stats serialize");
    let (mut added, mut removed) = (0, 0);
    let files: Vec<serde_json::Value> = patches
        .iter()
        .map(|p| {
            let (a, r) = p.body.counts();
            added += a;
            removed += r;
            serde_json::json!({
                "path": p.change.path,
                "from": p.change.from,
                "lines_added": a,
                "lines_removed": r,
                "binary": p.body == reelstore::PatchBody::Binary,
            })
        })
        .collect();
    doc["lines_added"] = added.into();
    doc["lines_removed"] = removed.into();
    doc["files"] = files.into();
    doc
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
                "R  {} -> {} ({}{})",
                c.from.as_deref().unwrap_or_default(),
                c.path,
                sizes(c.new_size),
                c.similarity
                    .filter(|s| *s < 100)
                    .map(|s| format!(", {s}% alike"))
                    .unwrap_or_default()
            ),
        };
    }
    text
}
