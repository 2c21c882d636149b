//! Renders the caller can see: a gallery, and one render's player and metadata. The
//! player's source is `/renders/ID/video`, served with `Range` support (see `media`).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Html;
use maud::{Markup, html};

use super::auth::Viewer;
use super::error::{UiError, UiResult};
use super::layout::{bytes, page, time};
use super::server::Ui;
use crate::artifact::{BlobInfo, BlobKind, ListBlobs};

/// Cards for renders: the poster frame (renders stored before posters existed show the
/// video's first frame, which `preload="metadata"` loads), the size, the duration, and
/// a link to the player.
pub(super) fn render_cards(renders: &[BlobInfo]) -> Markup {
    html! {
        @if renders.is_empty() { p.muted { "No renders yet." } }
        div.gallery {
            @for r in renders {
                @if let BlobKind::Render { meta, .. } = &r.kind {
                    div.card {
                        a href=(format!("/renders/{}", r.id)) {
                            @if meta.poster.is_some() {
                                img.poster loading="lazy" alt="poster frame" src=(format!("/renders/{}/poster", r.id));
                            } @else {
                                video.poster preload="metadata" muted src=(format!("/renders/{}/video", r.id)) {}
                            }
                        }
                        div {
                            a.mono href=(format!("/renders/{}", r.id)) { (r.id.to_string().get(..12).unwrap_or_default()) }
                        }
                        div.muted {
                            (meta.width) "×" (meta.height) " · " (format!("{:.1}", meta.duration_s)) " s · " (bytes(r.size))
                        }
                        div.muted { (time(r.created_ms)) }
                    }
                }
            }
        }
    }
}

/// `GET /renders`.
pub(super) async fn gallery(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
) -> UiResult<Html<String>> {
    let mut renders = ui
        .artifacts
        .list_blobs(
            &viewer.caller,
            ListBlobs {
                renders: Some(true),
                ..ListBlobs::default()
            },
        )
        .await?;
    renders.reverse(); // newest first
    let body = html! {
        h1 { "Renders" }
        (render_cards(&renders))
    };
    Ok(Html(page("Renders", &body).into_string()))
}

/// `GET /renders/ID`: the player and the render's metadata.
pub(super) async fn show(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> UiResult<Html<String>> {
    let me = &viewer.caller;
    let record = ui.artifacts.resolve_blob(me, &id).await?;
    let r = ui.artifacts.get_blob(me, record).await?;
    let BlobKind::Render {
        project,
        checkpoint,
        meta,
    } = &r.kind
    else {
        return Err(UiError::not_found(format!("render {id}")));
    };
    let project_name = ui
        .artifacts
        .get_project(me, *project)
        .await
        .ok()
        .map(|p| p.name);
    let title = format!("Render {}", r.id.to_string().get(..12).unwrap_or_default());
    let body = html! {
        h1 { (title) }
        video.player #player controls preload="metadata" src=(format!("/renders/{}/video", r.id))
            poster=[meta.poster.map(|_| format!("/renders/{}/poster", r.id))] {}
        dl.meta {
            dt { "project" } dd {
                a href=(format!("/projects/{project}")) { (project_name.as_deref().unwrap_or("(not visible)")) }
            }
            dt { "checkpoint" } dd.mono {
                @if let Some(c) = checkpoint {
                    a href=(format!("/projects/{project}/checkpoint/{}/files", c.to_string())) { (c.short()) }
                    " ("
                    a href=(format!("/projects/{project}/diff?old={}", c.to_string())) { "changes since" }
                    ")"
                } @else { "working tree" }
            }
            dt { "container" } dd { (meta.container) }
            dt { "codec" } dd { (meta.codec) }
            dt { "size" } dd { (meta.width) "×" (meta.height) }
            dt { "frame rate" } dd {
                @if let Some(f) = &meta.fps { (f.num) "/" (f.den) " fps" }
            }
            dt { "duration" } dd { (format!("{:.2}", meta.duration_s)) " s" @if let Some(n) = meta.frames { " (" (n) " frames)" } }
            dt { "bitrate" } dd { @if let Some(b) = meta.bitrate { (b / 1000) " kb/s" } }
            dt { "bytes" } dd { (bytes(r.size)) }
            dt { "content id (b3sum)" } dd.mono { (r.content.to_hex()) }
            dt { "poster frame" } dd.mono {
                @if let Some(p) = &meta.poster { (p.content.to_hex()) " (" (bytes(p.size)) ")" } @else { "none" }
            }
            dt { "created" } dd { (time(r.created_ms)) }
            @for (k, v) in &meta.settings { dt { (k) } dd.mono { (v) } }
        }
        p { a href=(format!("/renders/{}/video", r.id)) download="render.mp4" { "download" } }
    };
    Ok(Html(page(&title, &body).into_string()))
}
