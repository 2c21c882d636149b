//! Rendering from the page: a form on the project page submits a render job, and the
//! job's page follows it live over server-sent events (stage, percent) until the render
//! is stored, failed or cancelled; a memo hit is done at once. The only routes that
//! change anything: `POST`s, accepted only from the viewer's own pages (`Origin` checked;
//! the `SameSite=Strict` cookie already keeps other sites' requests out).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use futures::Stream;
use maud::{Markup, html};

use super::auth::Viewer;
use super::error::{UiError, UiResult};
use super::layout::{page, time};
use super::server::Ui;
use crate::artifact::{CheckpointInfo, ProjectId};
use crate::render::{JobStatus, Quality, RenderRequest, RenderSettings, Renders, Stage};

/// The render form of a project page.
pub(super) fn render_form(project: ProjectId, checkpoints: &[CheckpointInfo]) -> Markup {
    html! {
        form.render action=(format!("/projects/{project}/render")) method="post" {
            label { "source "
                select name="checkpoint" {
                    option value="" { "working tree" }
                    @for c in checkpoints.iter().rev() {
                        option value=(c.id) { (c.id.short()) @if let Some(n) = &c.name { " " (n) } }
                    }
                }
            }
            " "
            label { "composition " input name="composition" placeholder="the only one" size="14"; }
            " "
            label { "quality "
                select name="quality" {
                    option value="low" { "low" }
                    option value="medium" selected { "medium" }
                    option value="high" { "high" }
                }
            }
            " "
            label { "props " input name="props" placeholder="{\"title\": \"Hi\"}" size="24"; }
            " "
            button type="submit" { "Render" }
        }
    }
}

fn renders(ui: &Ui) -> UiResult<&Renders> {
    ui.renders.as_ref().ok_or_else(|| {
        UiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "rendering is not set up for this viewer (see `reel ui --help`: --render-command, --render-cache)".into(),
        )
    })
}

/// Refuses a state-changing request that did not come from one of the viewer's pages.
fn same_origin(headers: &HeaderMap) -> UiResult<()> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) if origin == format!("http://{host}") => Ok(()),
        _ => Err(UiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "refused: a request that changes something must come from the viewer's own \
                 pages (Origin {})",
                origin.unwrap_or("missing")
            ),
        )),
    }
}

/// `POST /projects/ID/render` (form): submits a job and goes to its page.
pub(super) async fn submit(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> UiResult<Redirect> {
    same_origin(&headers)?;
    let service = renders(&ui)?;
    let me = &viewer.caller;
    let project = ui.artifacts.resolve_project(me, &id).await?;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.trim().to_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find_map(|(k, v)| (k == name && !v.is_empty()).then(|| v.clone()))
    };
    let bad = |m: String| UiError::new(StatusCode::BAD_REQUEST, m);
    let quality = match field("quality").as_deref() {
        Some("low") => Quality::Low,
        Some("high") => Quality::High,
        None | Some("medium") => Quality::Medium,
        Some(other) => return Err(bad(format!("quality `{other}`: low, medium or high"))),
    };
    let props = field("props")
        .map(|p| serde_json::from_str::<serde_json::Value>(&p))
        .transpose()
        .map_err(|e| bad(format!("props: not JSON ({e})")))?;
    let settings = RenderSettings {
        composition: field("composition"),
        quality,
        props,
        ..RenderSettings::default()
    };
    let job = service
        .submit(
            me,
            RenderRequest {
                project,
                checkpoint: field("checkpoint"),
                settings,
            },
        )
        .await?;
    Ok(Redirect::to(&format!("/jobs/{}", job.id)))
}

/// How far a job is, in percent of the whole (as the CLI's bar and MCP progress).
fn percent(s: &JobStatus) -> f64 {
    if s.stage == Stage::Done {
        100.0
    } else {
        s.progress.overall()
    }
}

/// What the job page shows, as the events carry it.
fn event_json(s: &JobStatus) -> serde_json::Value {
    serde_json::json!({
        "stage": s.stage.to_string(),
        "percent": (percent(s) * 10.0).round() / 10.0,
        "final": s.stage.is_final(),
        "memo_hit": s.memo_hit,
        "render": s.render.as_ref().map(|r| r.id.to_string()),
        "error": s.error,
    })
}

/// `GET /jobs/ID`: the job, followed live by the page's script.
pub(super) async fn show(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> UiResult<Html<String>> {
    let service = renders(&ui)?;
    let job = service.resolve_job(&viewer.caller, &id).await?;
    let s = service.status(&viewer.caller, job).await?;
    let title = format!(
        "Render job {}",
        job.to_string().get(..12).unwrap_or_default()
    );
    let body = html! {
        h1 { (title) }
        div #job data-events=(format!("/jobs/{job}/events")) {
            p { "stage: " strong #stage { (s.stage) } @if s.memo_hit { span.badge { "memo hit" } } }
            progress #progress max="100" value=(percent(&s)) {}
            span #percent { (format!("{:.0}", percent(&s))) "%" }
            p #result {
                @if let Some(r) = &s.render { a href=(format!("/renders/{}", r.id)) { "open the render" } }
                @if let Some(e) = &s.error { span.error { (e) } }
            }
            @if !s.stage.is_final() {
                form #cancel action=(format!("/jobs/{job}/cancel")) method="post" { button type="submit" { "Cancel" } }
            }
        }
        dl.meta {
            dt { "project" } dd { a href=(format!("/projects/{}", s.project)) { (s.project) } }
            dt { "checkpoint" } dd.mono { (s.checkpoint.map_or_else(|| "working tree".into(), |c| c.short())) }
            dt { "renderer" } dd.mono { (s.renderer) }
            dt { "created" } dd { (time(s.created_ms)) }
        }
    };
    Ok(Html(page(&title, &body).into_string()))
}

/// `GET /jobs/ID/events`: server-sent events, one per status change, until the job
/// ends.
pub(super) async fn events(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> UiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let service = renders(&ui)?.clone();
    let me = viewer.caller;
    let job = service.resolve_job(&me, &id).await?;
    // The live status when the job runs here (read from the receiver, so no change
    // between reading and subscribing is missed); else the stored one.
    let mut live = service.subscribe(&me, job);
    let first = match live.as_mut() {
        Some(rx) => rx.borrow_and_update().clone(),
        None => service.status(&me, job).await?,
    };
    let stream = futures::stream::unfold(
        (Some(first), live, false),
        |(next, mut live, ended)| async move {
            if ended {
                return None;
            }
            if let Some(s) = next {
                let end = s.stage.is_final();
                let ev = Event::default().data(event_json(&s).to_string());
                return Some((Ok(ev), (None, live, end)));
            }
            let rx = live.as_mut()?;
            rx.changed().await.ok()?;
            let s = rx.borrow_and_update().clone();
            let end = s.stage.is_final();
            Some((
                Ok(Event::default().data(event_json(&s).to_string())),
                (None, live, end),
            ))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `POST /jobs/ID/cancel`.
pub(super) async fn cancel(
    State(ui): State<Arc<Ui>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> UiResult<Response> {
    same_origin(&headers)?;
    let service = renders(&ui)?;
    let job = service.resolve_job(&viewer.caller, &id).await?;
    service.cancel(&viewer.caller, job).await?;
    Ok(Redirect::to(&format!("/jobs/{job}")).into_response())
}
