//! `reel gc`, `fsck`, `stats`, `forget`, `index rebuild`: keeping a repository healthy.

use std::fmt::Write as _;

use super::args::{Cli, FsckArgs, GcArgs, IndexCmd};
use super::output::{bytes, json, out};
use super::run::{Failure, Outcome, open, repo_path};
use reelstore::{Error, GcOptions, Repository};

pub(super) async fn gc(cli: &Cli, args: &GcArgs) -> Outcome {
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
        what_else(&mut text, &report);
    }
    Ok(out(&text)?)
}

/// What a run left or changed besides deleting: deferred, condemned, rescued and spared
/// packs, merged index segments.
fn what_else(text: &mut String, report: &reelstore::GcReport) {
    let lines: [(&[reelstore::PackId], &str); 4] = [
        (
            &report.packs_deferred,
            "deferred {} packs: a writer that started before this gc still runs, or (on a bucket other machines share) they were condemned less than the grace period ago; a later `reel gc` frees them",
        ),
        (
            &report.packs_condemned,
            "condemned {} packs in the bucket other machines share: a `reel gc` on any machine deletes them once the grace period is over, if they are still unreferenced",
        ),
        (
            &report.packs_rescued,
            "rescued {} condemned packs: a checkpoint or record needs them again",
        ),
        (
            &report.packs_spared,
            "spared {} packs: a checkpoint made while gc ran needs them",
        ),
    ];
    for (packs, line) in lines {
        if !packs.is_empty() {
            let _ = writeln!(text, "{}", line.replacen("{}", &packs.len().to_string(), 1));
        }
    }
    if report.segments_merged > 0 {
        let _ = writeln!(
            text,
            "merged {} index segments into one",
            report.segments_merged
        );
    }
    if report.stale_stat_dirs > 0 {
        let _ = writeln!(
            text,
            "forgot the stat cache of {} directories no longer there",
            report.stale_stat_dirs
        );
    }
}

/// Why a pack is in a plan's group, for a person.
type Why<'a> = &'a dyn Fn(&reelstore::PackPlan) -> String;

/// The plan, one line per pack it touches (what `--dry-run` shows and a real run does).
pub(super) fn plan_text(plan: &reelstore::GcPlan, prune_unknown: bool) -> String {
    let mut text = format!(
        "{} live objects, {} unreachable; {} writers running\n",
        plan.live_objects, plan.dead_objects, plan.writers_running
    );
    let unknown = if prune_unknown {
        "unknown to this index: deleted (--prune-unknown)"
    } else {
        "unknown to this index: kept (--prune-unknown deletes it)"
    };
    let repack = |p: &reelstore::PackPlan| {
        format!(
            "{} live objects ({}) copied out first",
            p.live_objects,
            bytes(p.live_bytes)
        )
    };
    let groups: [(&str, &[reelstore::PackPlan], Why); 4] = [
        ("delete", &plan.delete, &|_| "no live objects".into()),
        ("repack", &plan.repack, &repack),
        ("abandoned", &plan.abandoned, &|_| {
            "never indexed; its writer is gone".into()
        }),
        ("unknown", &plan.unknown, &|_| unknown.into()),
    ];
    for (action, packs, why) in groups {
        for p in packs {
            let _ = writeln!(
                text,
                "  {action:<9}  pack {}  {:>10}  {}",
                p.pack.short(),
                bytes(p.size),
                why(p)
            );
        }
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

pub(super) async fn fsck(cli: &Cli, args: &FsckArgs) -> Outcome {
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

pub(super) async fn stats(cli: &Cli) -> Outcome {
    use std::fmt::Write as _;
    let repo = open(cli).await?;
    let s = repo.stats().await?;
    if cli.json {
        return Ok(json(&s)?);
    }
    let mut index = s.index_bytes.map_or_else(String::new, |b| {
        format!("index        {} (index.redb)\n", bytes(b))
    });
    for t in &s.index_tables {
        let _ = writeln!(
            index,
            "  {:<26} {:>9} {:<4}  {:>10} ({} of keys and values)",
            t.name,
            t.rows,
            if t.rows == 1 { "row" } else { "rows" },
            bytes(t.stored_bytes + t.overhead_bytes),
            bytes(t.stored_bytes)
        );
    }
    let k = s.stored_by_kind;
    let kinds = format!(
        "  file data {} whole, {} as deltas; manifests {}; trees {}; commits {}\n  small objects in solid blocks {}\n  packs' headers, trailers and unindexed bytes {}\n",
        bytes(k.chunks),
        bytes(k.deltas),
        bytes(k.manifests),
        bytes(k.trees),
        bytes(k.commits),
        bytes(k.blocks),
        bytes(s.pack_bytes.saturating_sub(s.stored_bytes))
    );
    Ok(out(&format!(
        "backend      {}\ncheckpoints  {} of the directory, {} of {} project{}\nassets       {} (renders included)\npacks        {} ({})\nobjects      {} ({} chunks, {} of them deltas, {} manifests, {} trees, {} commits)\nunique data  {} raw, {} stored\n{kinds}HEAD size    {}\n{index}",
        s.backend,
        s.checkpoints,
        s.project_checkpoints,
        s.projects,
        if s.projects == 1 { "" } else { "s" },
        s.records,
        s.packs,
        bytes(s.pack_bytes),
        s.objects,
        s.chunks,
        s.deltas,
        s.manifests,
        s.trees,
        s.commits,
        bytes(s.raw_bytes),
        bytes(s.stored_bytes),
        bytes(s.head_bytes)
    ))?)
}

pub(super) async fn forget(cli: &Cli, revs: &[String]) -> Outcome {
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

pub(super) async fn upgrade(cli: &Cli) -> Outcome {
    let repo = open(cli).await?;
    let (from, to) = repo.upgrade().await?;
    if cli.json {
        return Ok(json(&serde_json::json!({ "from": from, "to": to }))?);
    }
    Ok(out(&if from == to {
        format!("the repository is already format {to}\n")
    } else {
        format!(
            "upgraded the repository from format {from} to {to}: {}; releases before \
             format {to} can no longer open it\n",
            match from {
                ..3 =>
                    "changed chunks of large files are stored as deltas, small objects \
                        compressed together in solid blocks and packs listed compactly from \
                        now on",
                3 =>
                    "small objects are compressed together in solid blocks and packs listed \
                        compactly from now on",
                _ => "packs are listed compactly from now on",
            }
        )
    })?)
}

pub(super) async fn index(cli: &Cli, cmd: &IndexCmd) -> Outcome {
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
    if r.packs_from_segments > 0 {
        let _ = writeln!(
            text,
            "{} packs were described by the bucket's index segments, {} trailers read",
            r.packs_from_segments, r.trailers_read
        );
    }
    for p in &r.damaged_packs {
        let pack = p.pack.map(|p| p.short()).unwrap_or_default();
        let _ = writeln!(
            text,
            "warning: pack {pack} is damaged and was left out: {}",
            p.message
        );
    }
    if r.from_bucket {
        text.push_str("projects, assets and renders come from the bucket's records\n");
        return Ok(out(&text)?);
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
