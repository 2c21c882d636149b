//! Running the artifact commands: validate, call one library method, print.

use std::fmt::Write as _;
use std::io::Write as _;

use super::args::Cli;
use super::artifact_args::{AssetCmd, FileCmd, ProjectCmd, ProjectListArgs, RenderCmd};
use super::output::{bytes, json, out, time};
use super::run::{Outcome, open};
use reelstore::{
    Artifacts, AssetInput, BlobInfo, BlobKind, Caller, ChangeKind, CreateCheckpoint, CreateProject,
    DiffStat, EntryKind, Error, ListBlobs, ListProjects, ProjectId, ProjectInfo, ProjectPath,
    RecordId, RestoreOptions, Scope, SortBy, Source, UpdateProject,
};

/// The OS user: `$USER`, else `$LOGNAME`, else the name of this process's uid in
/// `/etc/passwd`.
fn os_user() -> Option<String> {
    let from_env = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()));
    from_env.or_else(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))?
            .split_whitespace()
            .next()?
            .to_owned();
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid).then(|| name.to_owned())
        })
    })
}

/// The caller: `--sandbox` (default `local`), `--user` (default: the OS user), `--session`.
pub(super) fn caller(cli: &Cli) -> Result<Caller, Error> {
    let user = cli.user.clone().or_else(os_user);
    Caller::new(
        cli.sandbox.as_deref().unwrap_or("local"),
        user.as_deref(),
        cli.session.as_deref(),
    )
}

fn meta(pairs: &[String]) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let mut out = serde_json::Map::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("`{pair}`: expected KEY=VALUE")))?;
        let value =
            serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned()));
        out.insert(k.to_owned(), value);
    }
    Ok(out)
}

fn scope(s: Option<&String>) -> Result<Option<Scope>, Error> {
    s.map(|s| s.parse()).transpose()
}

fn pid(s: &str) -> Result<ProjectId, Error> {
    s.parse()
}

fn path(s: &str) -> Result<ProjectPath, Error> {
    ProjectPath::parse(s)
}

pub(super) async fn setup(cli: &Cli) -> Result<(Artifacts, Caller), Error> {
    let who = caller(cli)?;
    Ok((open(cli).await?.artifacts(), who))
}

fn print_project(cli: &Cli, p: &ProjectInfo) -> Outcome {
    if cli.json {
        return Ok(json(p)?);
    }
    let mut text = format!(
        "project {}\nname:    {}\nscope:   {:?}\ncreated: {}\n",
        p.id,
        p.name,
        p.scope,
        time(p.created_ms)
    );
    if let Some(e) = p.expires_ms {
        let _ = writeln!(text, "expires: {}", time(e));
    }
    if let Some(h) = p.head {
        let _ = writeln!(text, "head:    {}", h.short());
    }
    for (k, v) in &p.metadata {
        let _ = writeln!(text, "meta:    {k}={v}");
    }
    Ok(out(&text)?)
}

/// `reel project …`.
pub async fn project(cli: &Cli, cmd: &ProjectCmd) -> Outcome {
    let (a, me) = setup(cli).await?;
    match cmd {
        ProjectCmd::Create {
            name,
            scope: s,
            meta: m,
            ttl,
        } => create_project(cli, &a, &me, name, s.as_ref(), m, *ttl).await,
        ProjectCmd::List(args) => list_projects(cli, &a, &me, args).await,
        ProjectCmd::Show { project } => {
            print_project(cli, &a.get_project(&me, pid(project)?).await?)
        }
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
            print_project(cli, &a.update_project(&me, pid(project)?, req).await?)
        }
        ProjectCmd::Delete { project } => {
            a.delete_project(&me, pid(project)?).await?;
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
            let c = a.create_checkpoint(&me, pid(&args.project)?, req).await?;
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
            let changes = a.diff(&me, pid(project)?, from, to.as_deref()).await?;
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
            let id = a.delete_checkpoint(&me, pid(project)?, checkpoint).await?;
            if cli.json {
                Ok(json(&serde_json::json!({"deleted": id}))?)
            } else {
                Ok(())
            }
        }
        ProjectCmd::Import { project, dir } => {
            print_project(cli, &a.import(&me, pid(project)?, dir.clone()).await?)
        }
        ProjectCmd::Export {
            project,
            rest,
            force,
        } => export(cli, &a, &me, project, rest, *force).await,
    }
}

fn print_changes(cli: &Cli, changes: &[reelstore::Change], stat: bool) -> Outcome {
    let totals = DiffStat::of(changes);
    if cli.json {
        return if stat {
            Ok(json(&totals)?)
        } else {
            Ok(json(&changes)?)
        };
    }
    let mut text = String::new();
    if !stat {
        for c in changes {
            let tag = match c.change {
                ChangeKind::Added => "A",
                ChangeKind::Removed => "D",
                ChangeKind::Modified => "M",
                ChangeKind::Renamed => "R",
            };
            let from = c
                .from
                .as_deref()
                .map(|f| format!("{f} -> "))
                .unwrap_or_default();
            let _ = writeln!(text, "{tag}  {from}{}", c.path);
        }
    }
    let _ = writeln!(
        text,
        "{} added, {} removed, {} modified, {} renamed",
        totals.added, totals.removed, totals.modified, totals.renamed
    );
    Ok(out(&text)?)
}

fn parse_range(s: &str) -> Result<(u64, u64), Error> {
    let bad = || Error::Invalid(format!("`{s}`: expected OFFSET:LENGTH"));
    let (a, b) = s.split_once(':').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

fn write_out(target: Option<&std::path::PathBuf>, data: &[u8]) -> Outcome {
    if let Some(p) = target {
        return std::fs::write(p, data).map_err(|e| Error::io("write", p)(e).into());
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(data)?;
    Ok(stdout.flush()?)
}

/// `reel file …`.
pub async fn file(cli: &Cli, cmd: &FileCmd) -> Outcome {
    let (a, me) = setup(cli).await?;
    match cmd {
        FileCmd::Write {
            project,
            path: p,
            from,
            executable,
        } => {
            let source = match from {
                Some(f) => Source::Path(f.clone()),
                None => Source::Reader(Box::new(std::io::stdin())),
            };
            let info = a
                .write_file(&me, pid(project)?, path(p)?, source, *executable)
                .await?;
            if cli.json { Ok(json(&info)?) } else { Ok(()) }
        }
        FileCmd::Read {
            project,
            path: p,
            out: target,
            range,
        } => {
            let range = range.as_deref().map(parse_range).transpose()?;
            match (target, range) {
                (None, None) => {
                    a.read_file_to(&me, pid(project)?, path(p)?, std::io::stdout())
                        .await?;
                    Ok(())
                }
                _ => write_out(
                    target.as_ref(),
                    &a.read_file(&me, pid(project)?, path(p)?, range).await?,
                ),
            }
        }
        FileCmd::Ls {
            project,
            dir,
            recursive,
        } => {
            let dir = dir.as_deref().map(path).transpose()?;
            let files = a.list_files(&me, pid(project)?, dir, *recursive).await?;
            if cli.json {
                return Ok(json(&files)?);
            }
            let mut text = String::new();
            for f in &files {
                let slash = if f.kind == EntryKind::Dir { "/" } else { "" };
                let _ = writeln!(
                    text,
                    "{:>10}  {}{slash}",
                    if f.kind == EntryKind::Dir {
                        String::new()
                    } else {
                        bytes(f.size)
                    },
                    f.path
                );
            }
            Ok(out(&text)?)
        }
        FileCmd::Rm { project, path: p } => Ok(a.delete_file(&me, pid(project)?, path(p)?).await?),
        FileCmd::Mv { project, from, to } => Ok(a
            .move_file(&me, pid(project)?, path(from)?, path(to)?)
            .await?),
        FileCmd::Mkdir { project, path: p } => Ok(a.mkdir(&me, pid(project)?, path(p)?).await?),
    }
}

fn mime_of(path: &std::path::Path) -> &'static str {
    reelstore::mime_of_name(&path.to_string_lossy())
}

pub(super) fn print_blobs(cli: &Cli, list: &[BlobInfo]) -> Outcome {
    if cli.json {
        return Ok(json(&list)?);
    }
    let mut text = String::new();
    for b in list {
        let what = match &b.kind {
            BlobKind::Asset {
                mime,
                original_name,
                tags,
            } => format!("{mime}  {original_name}  [{}]", tags.join(", ")),
            BlobKind::Render { project, meta, .. } => format!(
                "{} {}x{}  project {project}",
                meta.codec, meta.width, meta.height
            ),
        };
        let _ = writeln!(text, "{}  {:>10}  {what}", b.id, bytes(b.size));
    }
    Ok(out(&text)?)
}

/// `reel asset …`.
pub async fn asset(cli: &Cli, cmd: &AssetCmd) -> Outcome {
    let (a, me) = setup(cli).await?;
    match cmd {
        AssetCmd::Add {
            file,
            mime,
            name,
            tags,
            scope: s,
        } => {
            let original_name = name.clone().unwrap_or_else(|| {
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            let input = AssetInput {
                mime: mime.clone().unwrap_or_else(|| mime_of(file).into()),
                original_name,
                tags: tags.clone(),
                scope: scope(s.as_ref())?,
            };
            let b = a
                .store_asset(&me, Source::Path(file.clone()), input)
                .await?;
            if cli.json {
                Ok(json(&b)?)
            } else {
                Ok(out(&format!("{}\n", b.id))?)
            }
        }
        AssetCmd::Ls { tags, mime } => {
            let q = ListBlobs {
                tags: tags.clone(),
                mime_prefix: mime.clone(),
                renders: Some(false),
                ..Default::default()
            };
            print_blobs(cli, &a.list_blobs(&me, q).await?)
        }
        AssetCmd::Get { id, out: target } => blob_bytes(&a, &me, id, target.as_ref()).await,
        AssetCmd::Rm { id } => Ok(a.delete_blob(&me, id.parse::<RecordId>()?).await?),
    }
}

async fn blob_bytes(
    a: &Artifacts,
    me: &Caller,
    id: &str,
    target: Option<&std::path::PathBuf>,
) -> Outcome {
    let data = a.read_blob(me, id.parse()?, None).await?;
    write_out(target, &data)
}

/// `reel render ls|show|get|rm`.
pub async fn render(cli: &Cli, cmd: &RenderCmd) -> Outcome {
    let (a, me) = setup(cli).await?;
    match cmd {
        RenderCmd::Ls { project } => {
            let q = ListBlobs {
                project: project.as_deref().map(pid).transpose()?,
                renders: Some(true),
                ..Default::default()
            };
            print_blobs(cli, &a.list_blobs(&me, q).await?)
        }
        RenderCmd::Show { id } => {
            let b = a.get_blob(&me, id.parse()?).await?;
            if cli.json {
                Ok(json(&b)?)
            } else {
                print_blobs(cli, &[b])
            }
        }
        RenderCmd::Get { id, out: target } => blob_bytes(&a, &me, id, target.as_ref()).await,
        RenderCmd::Rm { id } => Ok(a.delete_blob(&me, id.parse::<RecordId>()?).await?),
        RenderCmd::Jobs | RenderCmd::Job { .. } | RenderCmd::Prune { .. } => {
            unreachable!("handled by render_run")
        }
    }
}

async fn list_projects(cli: &Cli, a: &Artifacts, me: &Caller, args: &ProjectListArgs) -> Outcome {
    let sort = match args.sort.as_str() {
        "created" => SortBy::Created,
        "updated" => SortBy::Updated,
        "name" => SortBy::Name,
        other => {
            return Err(Error::Invalid(format!(
                "unknown sort `{other}`: use created, updated or name"
            ))
            .into());
        }
    };
    let q = ListProjects {
        name_contains: args.name.clone(),
        scope: scope(args.scope.as_ref())?,
        metadata: meta(&args.meta)?,
        sort,
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

async fn list_checkpoints(cli: &Cli, a: &Artifacts, me: &Caller, project: &str) -> Outcome {
    let list = a.list_checkpoints(me, pid(project)?).await?;
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

async fn project_log(
    cli: &Cli,
    a: &Artifacts,
    me: &Caller,
    project: &str,
    max_count: &usize,
) -> Outcome {
    let log = a.log(me, pid(project)?, *max_count).await?;
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

async fn restore_project(
    cli: &Cli,
    a: &Artifacts,
    me: &Caller,
    project: &str,
    checkpoint: &str,
) -> Outcome {
    let r = a.restore_checkpoint(me, pid(project)?, checkpoint).await?;
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

async fn export(
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
        .export(me, pid(project)?, rev, dir.into(), RestoreOptions { force })
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

async fn create_project(
    cli: &Cli,
    a: &Artifacts,
    me: &Caller,
    name: &str,
    s: Option<&String>,
    m: &[String],
    ttl: Option<u64>,
) -> Outcome {
    let req = CreateProject {
        name: name.to_owned(),
        scope: scope(s)?,
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
