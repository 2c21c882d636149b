//! `reel project …`: projects, their checkpoints, export.

use std::fmt::Write as _;

use super::args::Cli;
use super::artifact_args::{ProjectCmd, ProjectListArgs};
use super::artifact_run::{meta, pid, print_changes, print_project, setup};
use super::output::{bytes, json, out, time};
use super::run::Outcome;
use reelstore::{
    Artifacts, Caller, CreateCheckpoint, CreateProject, Error, ListProjects, RestoreOptions,
    UpdateProject,
};

/// `reel project …`.
#[allow(clippy::too_many_lines)] // one short arm per subcommand
pub async fn project(cli: &Cli, cmd: &ProjectCmd) -> Outcome {
    let (a, me) = setup(cli).await?;
    match cmd {
        ProjectCmd::Create {
            name,
            scope: s,
            meta: m,
            ttl,
        } => create_project(cli, &a, &me, name, *s, m, *ttl).await,
        ProjectCmd::List(args) => list_projects(cli, &a, &me, args).await,
        ProjectCmd::Show { project } => print_project(
            cli,
            &a.get_project(&me, pid(&a, &me, project).await?).await?,
        ),
        ProjectCmd::Set {
            project,
            name,
            meta: m,
            unset,
        } => {
            let req = UpdateProject {
                name: name.clone(),
                set: meta(m)?,
                remove: unset.clone(),
            };
            print_project(
                cli,
                &a.update_project(&me, pid(&a, &me, project).await?, req)
                    .await?,
            )
        }
        ProjectCmd::Delete { project } => {
            a.delete_project(&me, pid(&a, &me, project).await?).await?;
            if cli.json {
                Ok(json(&serde_json::json!({"deleted": project}))?)
            } else {
                Ok(())
            }
        }
        ProjectCmd::Checkpoint(args) => {
            let req = CreateCheckpoint {
                name: args.name.clone(),
                description: args.message.clone(),
                ..Default::default()
            };
            let c = a
                .create_checkpoint(&me, pid(&a, &me, &args.project).await?, req)
                .await?;
            if cli.json {
                Ok(json(&c)?)
            } else {
                Ok(out(&format!(
                    "checkpoint {} ({}): {} files, {}\n",
                    c.id,
                    args.name,
                    c.files,
                    bytes(c.size)
                ))?)
            }
        }
        ProjectCmd::Checkpoints { project } => list_checkpoints(cli, &a, &me, project).await,
        ProjectCmd::Log { project, max_count } => {
            project_log(cli, &a, &me, project, max_count).await
        }
        ProjectCmd::Diff {
            project,
            from,
            to,
            stat,
        } => {
            let changes = a
                .diff(&me, pid(&a, &me, project).await?, from, to.as_deref())
                .await?;
            print_changes(cli, &changes, *stat)
        }
        ProjectCmd::Restore {
            project,
            checkpoint,
        } => restore_project(cli, &a, &me, project, checkpoint).await,
        ProjectCmd::DeleteCheckpoint {
            project,
            checkpoint,
        } => {
            let id = a
                .delete_checkpoint(&me, pid(&a, &me, project).await?, checkpoint)
                .await?;
            if cli.json {
                Ok(json(&serde_json::json!({"deleted": id}))?)
            } else {
                Ok(())
            }
        }
        ProjectCmd::Import { project, dir } => print_project(
            cli,
            &a.import(&me, pid(&a, &me, project).await?, dir.clone())
                .await?,
        ),
        ProjectCmd::Export {
            project,
            rest,
            force,
        } => export(cli, &a, &me, project, rest, *force).await,
    }
}

pub(super) async fn list_projects(
    cli: &Cli,
    a: &Artifacts,
    me: &Caller,
    args: &ProjectListArgs,
) -> Outcome {
    let q = ListProjects {
        name_contains: args.name.clone(),
        scope: args.scope,
        metadata: meta(&args.meta)?,
        sort: args.sort,
        offset: args.offset,
        limit: Some(args.limit),
        ..Default::default()
    };
    let page = a.list_projects(me, q).await?;
    if cli.json {
        return Ok(json(&page)?);
    }
    let mut text = String::new();
    for p in &page.items {
        let _ = writeln!(
            text,
            "{}  {:<8}  {}  {}",
            p.id,
            format!("{:?}", p.scope).to_lowercase(),
            time(p.created_ms),
            p.name
        );
    }
    if let Some(next) = page.next_offset {
        let _ = writeln!(text, "… {} more (--offset {next})", page.total - next);
    }
    Ok(out(&text)?)
}

pub(super) async fn list_checkpoints(
    cli: &Cli,
    a: &Artifacts,
    me: &Caller,
    project: &str,
) -> Outcome {
    let list = a.list_checkpoints(me, pid(a, me, project).await?).await?;
    if cli.json {
        return Ok(json(&list)?);
    }
    let mut text = String::new();
    for c in &list {
        let _ = writeln!(
            text,
            "{}  {:<16}  {}  {:>6} files  {:>10}  {}",
            c.id.short(),
            c.name.as_deref().unwrap_or(""),
            time(c.created_ms),
            c.files,
            bytes(c.size),
            c.description
        );
    }
    Ok(out(&text)?)
}

pub(super) async fn project_log(
    cli: &Cli,
    a: &Artifacts,
    me: &Caller,
    project: &str,
    max_count: &usize,
) -> Outcome {
    let log = a.log(me, pid(a, me, project).await?, *max_count).await?;
    if cli.json {
        return Ok(json(&log)?);
    }
    let mut text = String::new();
    for e in &log {
        let name = e
            .commit
            .as_ref()
            .and_then(|c| c.name.clone())
            .unwrap_or_default();
        let deleted = if e.deleted { " [deleted]" } else { "" };
        let _ = writeln!(text, "{} {name}{deleted}", e.id.short());
    }
    Ok(out(&text)?)
}

pub(super) async fn restore_project(
    cli: &Cli,
    a: &Artifacts,
    me: &Caller,
    project: &str,
    checkpoint: &str,
) -> Outcome {
    let r = a
        .restore_checkpoint(me, pid(a, me, project).await?, checkpoint)
        .await?;
    if cli.json {
        return Ok(json(&r)?);
    }
    let edits = match r.discarded_edits {
        0 => "no unsaved edits".to_owned(),
        1 => "1 unsaved edit discarded".to_owned(),
        n => format!("{n} unsaved edits discarded"),
    };
    Ok(out(&format!(
        "restored project {} to {checkpoint} ({}); {edits}\n",
        r.project.id,
        r.checkpoint.short()
    ))?)
}

pub(super) async fn export(
    cli: &Cli,
    a: &Artifacts,
    me: &Caller,
    project: &str,
    rest: &[String],
    force: bool,
) -> Outcome {
    let (rev, dir) = match rest {
        [dir] => (None, dir),
        [rev, dir] => (Some(rev.as_str()), dir),
        _ => {
            return Err(Error::Invalid("expected `export PROJECT [REF] DIR`".into()).into());
        }
    };
    let s = a
        .export(
            me,
            pid(a, me, project).await?,
            rev,
            dir.into(),
            RestoreOptions { force },
        )
        .await?;
    if cli.json {
        Ok(json(&s)?)
    } else {
        Ok(out(&format!(
            "{} written, {} unchanged, {} removed\n",
            s.written, s.unchanged, s.removed
        ))?)
    }
}

pub(super) async fn create_project(
    cli: &Cli,
    a: &Artifacts,
    me: &Caller,
    name: &str,
    s: Option<reelstore::Scope>,
    m: &[String],
    ttl: Option<u64>,
) -> Outcome {
    let req = CreateProject {
        name: name.to_owned(),
        scope: s,
        metadata: meta(m)?,
        ttl_s: ttl,
    };
    let p = a.create_project(me, req).await?;
    if cli.json {
        Ok(json(&p)?)
    } else {
        Ok(out(&format!("{}\n", p.id))?)
    }
}
