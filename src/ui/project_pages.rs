//! Projects the caller can see: the list, one project (metadata, checkpoints, files,
//! renders), its working tree's files, and the diff of two of its checkpoints. Every
//! call goes through the artifact layer with the request's caller: a project that is not
//! the caller's answers `404`, as if it did not exist.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::Html;
use maud::html;

use super::auth::Viewer;
use super::error::{UiError, UiResult};
use super::jobs::render_form;
use super::layout::{bytes, crumbs, page, param, path_url, query_params, time};
use super::render_pages::render_cards;
use super::repo_pages::kind_word;
use super::server::Ui;
use super::tree_view::{self, Row};
use crate::artifact::{ListBlobs, ListProjects, ProjectPath, Scope};
use crate::object::EntryKind;

/// Projects per page.
const PROJECTS_PAGE: usize = 100;

fn scope_word(s: Scope) -> &'static str {
    match s {
        Scope::Sandbox => "sandbox",
        Scope::User => "user",
        Scope::Session => "session",
    }
}

/// `GET /projects`.
pub(super) async fn list(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    RawQuery(query): RawQuery,
) -> UiResult<Html<String>> {
    let params = query_params(query.as_deref());
    let offset = param(&params, "offset")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let found = ui
        .artifacts
        .list_projects(
            &viewer.caller,
            ListProjects {
                offset,
                limit: Some(PROJECTS_PAGE),
                ..ListProjects::default()
            },
        )
        .await?;
    let assets = ui
        .artifacts
        .list_blobs(
            &viewer.caller,
            ListBlobs {
                renders: Some(false),
                ..ListBlobs::default()
            },
        )
        .await?;
    let body = html! {
        h1 { "Projects" }
        p.muted { (found.total) " project(s) visible to "
            (viewer.caller.user.as_ref().map_or("this sandbox", |u| u.as_str())) }
        table.projects {
            thead { tr { th { "name" } th { "scope" } th { "owner" } th { "updated" } th { "head" } th { "metadata" } } }
            tbody {
                @for p in &found.items {
                    tr {
                        td { a href=(format!("/projects/{}", p.id)) { (p.name) } }
                        td { (scope_word(p.scope)) }
                        td { (p.owner_user.as_deref().unwrap_or("")) }
                        td.muted { (time(p.updated_ms)) }
                        td.mono { (p.head.map(|h| h.short()).unwrap_or_default()) }
                        td.mono.muted { (serde_json::Value::Object(p.metadata.clone())) }
                    }
                }
            }
        }
        nav.pages {
            @if offset > 0 { a href=(format!("/projects?offset={}", offset.saturating_sub(PROJECTS_PAGE))) { "← previous" } }
            @if let Some(next) = found.next_offset { a href=(format!("/projects?offset={next}")) { "next →" } }
        }
        h2 { "Assets" }
        (asset_table(&assets))
    };
    Ok(Html(page("Projects", &body).into_string()))
}

/// `GET /projects/ID`.
#[allow(clippy::too_many_lines)] // one page's template
pub(super) async fn show(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> UiResult<Html<String>> {
    let me = &viewer.caller;
    let pid = ui.artifacts.resolve_project(me, &id).await?;
    let p = ui.artifacts.get_project(me, pid).await?;
    let checkpoints = ui.artifacts.list_checkpoints(me, pid).await?;
    let files = ui.artifacts.list_files(me, pid, None, false).await?;
    let renders = ui
        .artifacts
        .list_blobs(
            me,
            ListBlobs {
                project: Some(pid),
                renders: Some(true),
                ..ListBlobs::default()
            },
        )
        .await?;
    let base = format!("/projects/{pid}");
    let body = html! {
        h1 { "Project " (p.name) }
        dl.meta {
            dt { "id" } dd.mono { (p.id) }
            dt { "scope" } dd { (scope_word(p.scope)) }
            dt { "owner" } dd { (p.owner_user.as_deref().unwrap_or("")) }
            dt { "created" } dd { (time(p.created_ms)) }
            dt { "updated" } dd { (time(p.updated_ms)) }
            @if let Some(exp) = p.expires_ms { dt { "expires" } dd { (time(exp)) } }
            @for (k, v) in &p.metadata { dt { (k) } dd.mono { (v) } }
        }
        h2 { "Checkpoints" }
        @if checkpoints.is_empty() { p.muted { "none yet" } }
        @else {
            table {
                thead { tr { th { "checkpoint" } th { "description" } th { "created" } th.num { "files" } th.num { "size" } th {} } }
                tbody {
                    @for (n, c) in checkpoints.iter().enumerate() {
                        tr {
                            td { span.mono { (c.id.short()) } @if let Some(name) = &c.name { " " strong { (name) } } }
                            td { (c.description) }
                            td.muted { (time(c.created_ms)) }
                            td.num { (c.files) }
                            td.num { (bytes(c.size)) }
                            td {
                                @if n > 0 {
                                    a href=(format!("{base}/diff?old={}&new={}", checkpoints[n - 1].id.to_string(), c.id.to_string())) { "changes" }
                                    " · "
                                }
                                a href=(format!("{base}/diff?old={}", c.id.to_string())) { "→ working tree" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Working tree " a href=(format!("{base}/files")) { "(browse)" } }
        (tree_view::listing(&rows(&base, &files), 0, &|n| format!("{base}/files?page={n}")))
        h2 { "Renders" }
        (render_form(pid, &checkpoints))
        (render_cards(&renders))
    };
    Ok(Html(page(&p.name, &body).into_string()))
}

/// The caller's assets: name, type, size, tags, content id; images as thumbnails.
fn asset_table(assets: &[crate::artifact::BlobInfo]) -> maud::Markup {
    html! {
        @if assets.is_empty() { p.muted { "No assets." } }
        @else {
            table.assets {
                thead { tr { th {} th { "name" } th { "type" } th.num { "size" } th { "tags" } th { "content id (b3sum)" } } }
                tbody {
                    @for a in assets {
                        @if let crate::artifact::BlobKind::Asset { mime, original_name, tags } = &a.kind {
                            @let raw = format!("/assets/{}/raw", a.id);
                            tr {
                                td { @if mime.starts_with("image/") { img.thumb src=(raw) alt=(original_name); } }
                                td { a href=(raw) { (original_name) } }
                                td.mono { (mime) }
                                td.num { (bytes(a.size)) }
                                td { (tags.join(", ")) }
                                td.mono.muted { (a.content.to_hex()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn rows(base: &str, files: &[crate::artifact::FileInfo]) -> Vec<Row> {
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
    let me = &viewer.caller;
    let pid = ui.artifacts.resolve_project(me, &id).await?;
    let p = ui.artifacts.get_project(me, pid).await?;
    let path = path.trim_matches('/').to_owned();
    let base = format!("/projects/{pid}/files");
    let head = html! {
        h1 { "Files of " a href=(format!("/projects/{pid}")) { (p.name) } }
        (crumbs("/", &base, &path))
    };
    let dir = if path.is_empty() {
        None
    } else {
        let file = ProjectPath::parse(&path)?;
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
        if entry.kind != EntryKind::Dir {
            let text = if tree_view::read_for_text(&path, entry.size) {
                Some(ui.artifacts.read_file(me, pid, file, None).await?)
            } else {
                None
            };
            let raw = format!("/projects/{pid}/raw/{}", path_url(&path));
            let body = html! {
                (head)
                (tree_view::file(&ui.highlighter, &path, entry.size, entry.id.as_ref(), &raw, text.as_deref()))
            };
            return Ok(Html(page(&path, &body).into_string()));
        }
        Some(file)
    };
    let listed = ui.artifacts.list_files(me, pid, dir, false).await?;
    let params = query_params(query.as_deref());
    let page_no = param(&params, "page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let here = if path.is_empty() {
        base.clone()
    } else {
        format!("{base}/{}", path_url(&path))
    };
    let body = html! {
        (head)
        (tree_view::listing(&rows(&format!("/projects/{pid}"), &listed), page_no, &|n| format!("{here}?page={n}")))
    };
    Ok(Html(page(&p.name, &body).into_string()))
}

/// `GET /projects/ID/diff?old=CHECKPOINT[&new=CHECKPOINT]`: what changed between two
/// checkpoints, or from a checkpoint to the working tree.
pub(super) async fn diff(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> UiResult<Html<String>> {
    let me = &viewer.caller;
    let pid = ui.artifacts.resolve_project(me, &id).await?;
    let p = ui.artifacts.get_project(me, pid).await?;
    let params = query_params(query.as_deref());
    let old = param(&params, "old").ok_or_else(|| {
        UiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "name the old checkpoint: ?old=…".into(),
        )
    })?;
    let new = param(&params, "new");
    let changes = ui.artifacts.diff(me, pid, old, new).await?;
    let base = format!("/projects/{pid}");
    let body = html! {
        h1 { "Changes in " a href=(base) { (p.name) } }
        p.mono { (old) " → " (new.unwrap_or("working tree")) }
        table.changes {
            thead { tr { th { "change" } th { "path" } th.num { "old size" } th.num { "new size" } } }
            tbody {
                @for c in &changes {
                    tr {
                        td { (kind_word(c.change)) }
                        td {
                            @if let Some(from) = &c.from { span.muted { (from) " → " } }
                            @if new.is_none() && c.change != crate::engine::diff::ChangeKind::Removed {
                                a href=(format!("{base}/files/{}", path_url(&c.path))) { (c.path) }
                            } @else { (c.path) }
                        }
                        td.num { (c.old_size.map(bytes).unwrap_or_default()) }
                        td.num { (c.new_size.map(bytes).unwrap_or_default()) }
                    }
                }
            }
        }
        @if changes.is_empty() { p.muted { "No differences." } }
    };
    Ok(Html(page(&p.name, &body).into_string()))
}
