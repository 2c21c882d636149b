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
use super::layout::{bytes, page, param, path_url, query_params, time};
use super::patch_view::{Side, counts, file_patch};
use super::project_files::rows;
use super::render_pages::render_cards;
use super::server::Ui;
use super::tree_view;
use crate::artifact::{ListBlobs, ListProjects, Scope};

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
                                " · "
                                a href=(format!("{base}/checkpoint/{}/files", c.id.to_string())) { "files" }
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

/// `GET /projects/ID/diff?old=CHECKPOINT[&new=CHECKPOINT]`: the line diff of two
/// checkpoints, or of a checkpoint and the working tree.
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
    // Names and prefixes resolve once: the links below pin the checkpoints shown.
    let old_id = ui
        .artifacts
        .resolve_checkpoint(me, pid, old)
        .await?
        .to_string();
    let new_id = match new {
        Some(n) => Some(
            ui.artifacts
                .resolve_checkpoint(me, pid, n)
                .await?
                .to_string(),
        ),
        None => None,
    };
    let patches = ui
        .artifacts
        .patch(me, pid, &old_id, new_id.as_deref())
        .await?;
    let (added, removed) = counts(&patches);
    let base = format!("/projects/{pid}");
    let raw = |side: Side, path: &str| match (side, new_id.as_deref()) {
        (Side::Old, _) => format!("{base}/checkpoint/{old_id}/raw/{}", path_url(path)),
        (Side::New, Some(n)) => format!("{base}/checkpoint/{n}/raw/{}", path_url(path)),
        (Side::New, None) => format!("{base}/raw/{}", path_url(path)),
    };
    let body = html! {
        h1 { "Changes in " a href=(base) { (p.name) } }
        p.mono {
            a href=(format!("{base}/checkpoint/{old_id}/files")) { (old) } " → "
            @if let (Some(n), Some(id)) = (new, &new_id) { a href=(format!("{base}/checkpoint/{id}/files")) { (n) } }
            @else { a href=(format!("{base}/files")) { "working tree" } }
        }
        p { (patches.len()) " file(s) changed, " span.add { "+" (added) } " " span.del { "−" (removed) } }
        @for p in &patches { (file_patch(&ui.highlighter, p, &raw)) }
        @if patches.is_empty() { p.muted { "No differences." } }
    };
    Ok(Html(page(&p.name, &body).into_string()))
}
