//! The directory repository's pages: the checkpoint timeline with the working
//! directory's status, one checkpoint, its files, and the diff of two checkpoints (or of
//! a checkpoint and the working directory). The local user's only.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::Html;
use maud::{Markup, html};

use super::auth::Viewer;
use super::error::{UiError, UiResult};
use super::layout::{bytes, crumbs, page, param, path_url, query_params, segment, time};
use super::patch_view::{Side, counts, file_patch, kind_word};
use super::server::Ui;
use super::tree_view::{self, Row};
use crate::engine::diff::{Change, ChangeKind};
use crate::object::EntryKind;
use crate::repo::{DiffOptions, DiffTarget};

/// Checkpoints per page of the timeline.
const TIMELINE_PAGE: usize = 100;

/// `GET /repo`: the timeline (every live checkpoint, newest first) and the status.
#[allow(clippy::too_many_lines)] // one page's template
pub(super) async fn timeline(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    RawQuery(query): RawQuery,
) -> UiResult<Html<String>> {
    Ui::local_only(&viewer)?;
    let params = query_params(query.as_deref());
    let page_no: usize = param(&params, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let all = ui.repo.log_all((page_no + 1) * TIMELINE_PAGE + 1).await?;
    let more = all.len() > (page_no + 1) * TIMELINE_PAGE;
    let entries: Vec<_> = all
        .into_iter()
        .skip(page_no * TIMELINE_PAGE)
        .take(TIMELINE_PAGE)
        .collect();
    let head = ui.repo.resolve("HEAD").await.ok();
    let tags = ui.repo.tags().await?;
    let status = match ui.repo.workdir() {
        Some(dir) => Some(ui.repo.status(&dir).await?),
        None => None,
    };
    let quick = DiffOptions {
        renames: None,
        ..DiffOptions::default()
    };
    let mut changed = Vec::new();
    for e in &entries {
        changed.push(match &e.commit {
            Some(_) => Some(
                ui.repo
                    .checkpoint_changes(&e.id.to_string(), quick.clone())
                    .await?,
            ),
            None => None,
        });
    }
    let body = html! {
        h1 { "Repository" }
        @if let Some(s) = &status {
            h2 { "Working directory" }
            p.muted.mono { (s.dir.display()) }
            @if s.changes.is_empty() {
                p { "No changes since "
                    @match (&s.head_name, &s.head) {
                        (Some(n), _) => { (n) }
                        (None, Some(h)) => { (h.short()) }
                        (None, None) => { "the start (no checkpoint yet)" }
                    }
                    "." }
            } @else {
                p { (s.changes.len()) " changed file(s) · "
                    @if s.head.is_some() {
                        a href="/repo/diff?old=HEAD&new=worktree" { "diff HEAD → working directory" }
                    } }
                (change_table(&s.changes, None))
            }
        }
        h2 { "Checkpoints" }
        @if entries.is_empty() {
            p.muted { "No checkpoints yet: " code { "reel checkpoint -m \"first\"" } }
        } @else {
            form.diff-pick action="/repo/diff" method="get" {
                table.timeline {
                    thead { tr {
                        th { "old" } th { "new" } th { "checkpoint" } th { "description" }
                        th { "author" } th { "created" } th.num { "size" } th.num { "changed" }
                    } }
                    tbody {
                        @for (e, changes) in entries.iter().zip(&changed) {
                            @let id = e.id.to_string();
                            tr {
                                td { input type="radio" name="old" value=(id) aria-label="old side"; }
                                td { input type="radio" name="new" value=(id) aria-label="new side"; }
                                td {
                                    a.mono href=(format!("/repo/show/{id}")) { (e.id.short()) }
                                    @if let Some(name) = e.commit.as_ref().and_then(|c| c.name.as_ref()) {
                                        " " strong { (name) }
                                    }
                                    @if head == Some(e.id) { span.badge.head { "HEAD" } }
                                    @for t in tags.iter().filter(|t| t.commit == e.id) {
                                        span.badge { "tag: " (t.name) }
                                    }
                                    @if e.deleted { span.badge { "deleted" } }
                                }
                                @if let Some(c) = &e.commit {
                                    td { (c.description.lines().next().unwrap_or("")) }
                                    td { (c.author) }
                                    td.muted { (time(c.created_ms)) }
                                    td.num { (c.size.map(bytes).unwrap_or_default()) }
                                    td.num {
                                        @if let Some(changes) = changes {
                                            (changes.len()) " files, +"
                                            (bytes(changes.iter().filter(|c| c.change != ChangeKind::Removed).filter_map(|c| c.new_size).sum()))
                                        }
                                    }
                                } @else {
                                    td colspan="5" .muted { "collected" }
                                }
                            }
                        }
                    }
                }
                button type="submit" { "Compare old → new" }
            }
            nav.pages {
                @if page_no > 0 { a href=(format!("/repo?page={}", page_no - 1)) { "← newer" } }
                @if more { a href=(format!("/repo?page={}", page_no + 1)) { "older →" } }
            }
        }
    };
    Ok(Html(page("Repository", &body).into_string()))
}

/// Changes as a table; `tree` (a revision) links each new side to its file.
fn change_table(changes: &[Change], tree: Option<&str>) -> Markup {
    html! {
        table.changes {
            thead { tr { th { "change" } th { "path" } th.num { "old size" } th.num { "new size" } } }
            tbody {
                @for c in changes {
                    tr {
                        td { (kind_word(c.change)) }
                        td {
                            @if let Some(from) = &c.from { span.muted { (from) " → " } }
                            @match (tree, c.change) {
                                (Some(rev), k) if k != ChangeKind::Removed => {
                                    a href=(format!("/repo/tree/{}/{}", segment(rev), path_url(&c.path))) { (c.path) }
                                }
                                _ => { (c.path) }
                            }
                        }
                        td.num { (c.old_size.map(bytes).unwrap_or_default()) }
                        td.num { (c.new_size.map(bytes).unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

/// `GET /repo/show/REV`: one checkpoint and what it changed.
pub(super) async fn show(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(rev): Path<String>,
) -> UiResult<Html<String>> {
    Ui::local_only(&viewer)?;
    let (id, c) = ui.repo.show(&rev).await?;
    let hex = id.to_string();
    let changes = ui
        .repo
        .checkpoint_changes(&hex, DiffOptions::default())
        .await?;
    let title = format!("Checkpoint {}", id.short());
    let body = html! {
        h1 { (title) @if let Some(n) = &c.name { " (" (n) ")" } }
        dl.meta {
            dt { "id" } dd.mono { (hex) }
            dt { "description" } dd { (c.description) }
            dt { "author" } dd { (c.author) }
            dt { "created" } dd { (time(c.created_ms)) }
            dt { "size" } dd { (c.size.map_or_else(|| "collected".into(), bytes)) }
            dt { "parents" } dd {
                @for p in &c.parents { a.mono href=(format!("/repo/show/{}", p.to_string())) { (p.short()) } " " }
            }
            @for (k, v) in &c.metadata { dt { (k) } dd { (v) } }
        }
        p {
            a href=(format!("/repo/tree/{hex}")) { "browse files" }
            @if let Some(p) = c.parents.first() {
                " · " a href=(format!("/repo/diff?old={}&new={hex}", p.to_string())) { "diff with parent" }
            }
            " · " a href=(format!("/repo/diff?old={hex}&new=worktree")) { "diff with working directory" }
        }
        h2 { "Changes from its parent" }
        (change_table(&changes, Some(&hex)))
    };
    Ok(Html(page(&title, &body).into_string()))
}

/// `GET /repo/tree/REV`: the root of a checkpoint.
pub(super) async fn tree_root(
    state: State<Arc<Ui>>,
    viewer: Extension<Viewer>,
    Path(rev): Path<String>,
    query: RawQuery,
) -> UiResult<Html<String>> {
    tree(state, viewer, Path((rev, String::new())), query).await
}

/// `GET /repo/tree/REV/PATH`: a directory (paged) or a file of a checkpoint.
pub(super) async fn tree(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path((rev, path)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> UiResult<Html<String>> {
    Ui::local_only(&viewer)?;
    let path = path.trim_matches('/').to_owned();
    let id = ui.repo.resolve(&rev).await?.to_string();
    let entries = ui
        .repo
        .ls(&id, (!path.is_empty()).then_some(path.as_str()), false)
        .await?;
    let base = format!("/repo/tree/{id}");
    let title = if path.is_empty() {
        format!("{} /", &id[..12])
    } else {
        path.clone()
    };
    let head = html! {
        h1 { "Files of " a.mono href=(format!("/repo/show/{id}")) { (&id[..12]) } }
        (crumbs("/", &base, &path))
    };
    if let [only] = entries.as_slice()
        && only.path == path
        && only.kind != EntryKind::Dir
    {
        let text = if tree_view::read_for_text(&path, only.size) {
            Some(ui.repo.read(&id, &path).await?)
        } else {
            None
        };
        let raw = format!("/repo/raw/{id}/{}", path_url(&path));
        let body = html! {
            (head)
            (tree_view::file(&ui.highlighter, &path, only.size, Some(&only.id), &raw, text.as_deref()))
        };
        return Ok(Html(page(&title, &body).into_string()));
    }
    let rows: Vec<Row> = entries
        .iter()
        .map(|e| Row {
            name: e.path.rsplit('/').next().unwrap_or(&e.path).to_owned(),
            kind: e.kind,
            size: e.size,
            id: Some(e.id),
            href: format!("{base}/{}", path_url(&e.path)),
        })
        .collect();
    let params = query_params(query.as_deref());
    let page_no = param(&params, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let here = if path.is_empty() {
        base.clone()
    } else {
        format!("{base}/{}", path_url(&path))
    };
    let body = html! {
        (head)
        (tree_view::listing(&rows, page_no, &|n| format!("{here}?page={n}")))
    };
    Ok(Html(page(&title, &body).into_string()))
}

/// `GET /repo/diff?old=REV&new=REV|worktree`: the line diff of two checkpoints, or of a
/// checkpoint and the working directory.
pub(super) async fn diff(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    RawQuery(query): RawQuery,
) -> UiResult<Html<String>> {
    Ui::local_only(&viewer)?;
    let params = query_params(query.as_deref());
    let old = param(&params, "old").unwrap_or("HEAD").to_owned();
    let new = param(&params, "new").unwrap_or("worktree").to_owned();
    let old_id = ui.repo.resolve(&old).await?.to_string();
    let (target, new_id) = if new == "worktree" {
        let dir = ui
            .repo
            .workdir()
            .ok_or_else(|| UiError::not_found("a working directory (this repository has none)"))?;
        (DiffTarget::Dir(dir), None)
    } else {
        let id = ui.repo.resolve(&new).await?.to_string();
        (DiffTarget::Rev(id.clone()), Some(id))
    };
    let patches = ui
        .repo
        .patch(&old_id, target, DiffOptions::default())
        .await?;
    let (added, removed) = counts(&patches);
    let new_label = new_id
        .as_deref()
        .map_or("working directory", |id| &id[..12]);
    let title = format!("Diff {} → {new_label}", &old_id[..12]);
    let body = html! {
        h1 { "Diff "
            a.mono href=(format!("/repo/show/{old_id}")) { (&old_id[..12]) } " → "
            @if let Some(id) = &new_id { a.mono href=(format!("/repo/show/{id}")) { (&id[..12]) } }
            @else { "working directory" }
        }
        p { (patches.len()) " file(s) changed, " span.add { "+" (added) } " " span.del { "−" (removed) } }
        @for p in &patches {
            (file_patch(&ui.highlighter, p, &|side, path| match (side, new_id.as_deref()) {
                (Side::Old, _) => format!("/repo/raw/{old_id}/{}", path_url(path)),
                (Side::New, Some(new)) => format!("/repo/raw/{new}/{}", path_url(path)),
                (Side::New, None) => format!("/repo/worktree/{}", path_url(path)),
            }))
        }
        @if patches.is_empty() { p.muted { "No differences." } }
    };
    Ok(Html(page(&title, &body).into_string()))
}
