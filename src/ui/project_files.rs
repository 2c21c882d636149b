//! A project's files, one directory at a time: its working tree
//! (`/projects/ID/files/PATH`) or any of its checkpoints
//! (`/projects/ID/checkpoint/REV/files/PATH`). Every read goes through the artifact layer
//! with the request's caller.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::Html;
use maud::html;

use super::auth::Viewer;
use super::error::{UiError, UiResult};
use super::layout::{crumbs, page, param, path_url, query_params};
use super::server::Ui;
use super::tree_view::{self, Row};
use crate::artifact::{Caller, FileInfo, ProjectId, ProjectPath};
use crate::object::EntryKind;

/// Listing rows linking below `base` (`/projects/ID` or `/projects/ID/checkpoint/C`).
pub(super) fn rows(base: &str, files: &[FileInfo]) -> Vec<Row> {
    files
        .iter()
        .map(|f| Row {
            name: f.path.rsplit('/').next().unwrap_or(&f.path).to_owned(),
            kind: f.kind,
            size: f.size,
            id: f.id,
            href: format!("{base}/files/{}", path_url(&f.path)),
        })
        .collect()
}

/// `GET /projects/ID/files`.
pub(super) async fn files_root(
    state: State<Arc<Ui>>,
    viewer: Extension<Viewer>,
    Path(id): Path<String>,
    query: RawQuery,
) -> UiResult<Html<String>> {
    files(state, viewer, Path((id, String::new())), query).await
}

/// `GET /projects/ID/files/PATH`: a directory (paged) or a file of the working tree.
pub(super) async fn files(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path((id, path)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> UiResult<Html<String>> {
    browse(&ui, &viewer.caller, &id, None, &path, query.as_deref()).await
}

/// `GET /projects/ID/checkpoint/REV/files`.
pub(super) async fn checkpoint_root(
    state: State<Arc<Ui>>,
    viewer: Extension<Viewer>,
    Path((id, rev)): Path<(String, String)>,
    query: RawQuery,
) -> UiResult<Html<String>> {
    checkpoint_files(state, viewer, Path((id, rev, String::new())), query).await
}

/// `GET /projects/ID/checkpoint/REV/files/PATH`: a directory (paged) or a file of a
/// checkpoint (name, id or id prefix).
pub(super) async fn checkpoint_files(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path((id, rev, path)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> UiResult<Html<String>> {
    browse(
        &ui,
        &viewer.caller,
        &id,
        Some(&rev),
        &path,
        query.as_deref(),
    )
    .await
}

/// What a path of a tree is.
enum Found {
    File(FileInfo),
    Dir(Vec<FileInfo>),
}

/// The entry at `path` of the working tree.
async fn worktree_entry(ui: &Ui, me: &Caller, pid: ProjectId, path: &str) -> UiResult<Found> {
    if path.is_empty() {
        return Ok(Found::Dir(
            ui.artifacts.list_files(me, pid, None, false).await?,
        ));
    }
    let file = ProjectPath::parse(path)?;
    let parent = match path.rsplit_once('/') {
        Some((d, _)) => Some(ProjectPath::parse(d)?),
        None => None,
    };
    let entry = ui
        .artifacts
        .list_files(me, pid, parent, false)
        .await?
        .into_iter()
        .find(|f| f.path == file.as_str())
        .ok_or_else(|| UiError::not_found(format!("`{path}`")))?;
    if entry.kind == EntryKind::Dir {
        let listed = ui.artifacts.list_files(me, pid, Some(file), false).await?;
        return Ok(Found::Dir(listed));
    }
    Ok(Found::File(entry))
}

/// The entry at `path` of checkpoint `rev`, with the URL prefix that pins its id.
async fn checkpoint_entry(
    ui: &Ui,
    me: &Caller,
    pid: ProjectId,
    rev: &str,
    path: &str,
) -> UiResult<(String, Found)> {
    let dir = (!path.is_empty())
        .then(|| ProjectPath::parse(path))
        .transpose()?;
    let (commit, mut listed) = ui
        .artifacts
        .list_checkpoint_files(me, pid, rev, dir)
        .await?;
    let found = match listed.as_slice() {
        [only] if only.path == path && only.kind != EntryKind::Dir => Found::File(listed.remove(0)),
        _ => Found::Dir(listed),
    };
    Ok((format!("/projects/{pid}/checkpoint/{commit}"), found))
}

/// One page of a project's tree: the working tree (`rev` `None`) or a checkpoint.
async fn browse(
    ui: &Ui,
    me: &Caller,
    id: &str,
    rev: Option<&str>,
    path: &str,
    query: Option<&str>,
) -> UiResult<Html<String>> {
    let pid = ui.artifacts.resolve_project(me, id).await?;
    let p = ui.artifacts.get_project(me, pid).await?;
    let path = path.trim_matches('/').to_owned();
    let (base, found) = match rev {
        None => (
            format!("/projects/{pid}"),
            worktree_entry(ui, me, pid, &path).await?,
        ),
        Some(rev) => checkpoint_entry(ui, me, pid, rev, &path).await?,
    };
    let head = html! {
        h1 { "Files of " a href=(format!("/projects/{pid}")) { (p.name) }
            @if let Some(rev) = rev { " at " span.mono { (rev) } } @else { " (working tree)" }
        }
        (crumbs("/", &format!("{base}/files"), &path))
    };
    match found {
        Found::File(entry) => {
            let file = ProjectPath::parse(&path)?;
            let text = if !tree_view::read_for_text(&path, entry.size) {
                None
            } else if rev.is_some() {
                let commit = base.rsplit('/').next().unwrap_or_default();
                Some(
                    ui.artifacts
                        .read_checkpoint_file(me, pid, commit, file, None)
                        .await?,
                )
            } else {
                Some(ui.artifacts.read_file(me, pid, file, None).await?)
            };
            let raw = format!("{base}/raw/{}", path_url(&path));
            let body = html! {
                (head)
                (tree_view::file(&ui.highlighter, &path, entry.size, entry.id.as_ref(), &raw, text.as_deref()))
            };
            Ok(Html(page(&path, &body).into_string()))
        }
        Found::Dir(listed) => {
            let params = query_params(query);
            let page_no = param(&params, "page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let here = if path.is_empty() {
                format!("{base}/files")
            } else {
                format!("{base}/files/{}", path_url(&path))
            };
            let body = html! {
                (head)
                (tree_view::listing(&rows(&base, &listed), page_no, &|n| format!("{here}?page={n}")))
            };
            Ok(Html(page(&p.name, &body).into_string()))
        }
    }
}
