//! `reel file …`, `reel asset …`, `reel render ls|show|get|rm`: files of working trees, assets and stored renders.

use std::fmt::Write as _;
use std::io::Write as _;

use super::args::Cli;
use super::artifact_args::{AssetCmd, FileCmd, RenderCmd};
use super::artifact_run::{path, pid, rid, setup};
use super::output::{bytes, json, out};
use super::run::Outcome;
use reelstore::{
    Artifacts, AssetInput, BlobInfo, BlobKind, Caller, EntryKind, Error, ListBlobs, Source,
};

pub(super) fn parse_range(s: &str) -> Result<(u64, u64), Error> {
    let bad = || Error::Invalid(format!("`{s}`: expected OFFSET:LENGTH"));
    let (a, b) = s.split_once(':').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

pub(super) fn write_out(target: Option<&std::path::PathBuf>, data: &[u8]) -> Outcome {
    if let Some(p) = target {
        return std::fs::write(p, data).map_err(|e| Error::io("write", p)(e).into());
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(data)?;
    Ok(stdout.flush()?)
}

/// `reel file …`.
#[allow(clippy::too_many_lines)] // one short arm per subcommand
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
                .write_file(
                    &me,
                    pid(&a, &me, project).await?,
                    path(p)?,
                    source,
                    *executable,
                )
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
                    a.read_file_to(
                        &me,
                        pid(&a, &me, project).await?,
                        path(p)?,
                        None,
                        std::io::stdout(),
                    )
                    .await?;
                    Ok(())
                }
                _ => write_out(
                    target.as_ref(),
                    &a.read_file(&me, pid(&a, &me, project).await?, path(p)?, range)
                        .await?,
                ),
            }
        }
        FileCmd::Ls {
            project,
            dir,
            recursive,
        } => {
            let dir = dir.as_deref().map(path).transpose()?;
            let files = a
                .list_files(&me, pid(&a, &me, project).await?, dir, *recursive)
                .await?;
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
        FileCmd::Rm { project, path: p } => Ok(a
            .delete_file(&me, pid(&a, &me, project).await?, path(p)?)
            .await?),
        FileCmd::Mv { project, from, to } => Ok(a
            .move_file(&me, pid(&a, &me, project).await?, path(from)?, path(to)?)
            .await?),
        FileCmd::Mkdir { project, path: p } => {
            Ok(a.mkdir(&me, pid(&a, &me, project).await?, path(p)?).await?)
        }
    }
}

pub(super) fn mime_of(path: &std::path::Path) -> &'static str {
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
                scope: *s,
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
        AssetCmd::Rm { id } => Ok(a.delete_blob(&me, rid(&a, &me, id).await?).await?),
    }
}

pub(super) async fn blob_bytes(
    a: &Artifacts,
    me: &Caller,
    id: &str,
    target: Option<&std::path::PathBuf>,
) -> Outcome {
    let data = a.read_blob(me, rid(a, me, id).await?, None).await?;
    write_out(target, &data)
}

/// `reel render ls|show|get|rm`.
pub async fn render(cli: &Cli, cmd: &RenderCmd) -> Outcome {
    let (a, me) = setup(cli).await?;
    match cmd {
        RenderCmd::Ls { project } => {
            let project = match project {
                Some(p) => Some(pid(&a, &me, p).await?),
                None => None,
            };
            let q = ListBlobs {
                project,
                renders: Some(true),
                ..Default::default()
            };
            print_blobs(cli, &a.list_blobs(&me, q).await?)
        }
        RenderCmd::Show { id } => {
            let b = a.get_blob(&me, rid(&a, &me, id).await?).await?;
            if cli.json {
                Ok(json(&b)?)
            } else {
                print_blobs(cli, &[b])
            }
        }
        RenderCmd::Get { id, out: target } => blob_bytes(&a, &me, id, target.as_ref()).await,
        RenderCmd::Rm { id } => Ok(a.delete_blob(&me, rid(&a, &me, id).await?).await?),
        RenderCmd::Jobs
        | RenderCmd::Job { .. }
        | RenderCmd::Log { .. }
        | RenderCmd::Prune { .. } => {
            unreachable!("handled by render_run")
        }
    }
}
