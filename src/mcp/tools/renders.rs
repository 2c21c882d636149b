//! Render tools: render a project to a video, follow a job, cancel it.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResponse, CallToolResult};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, tool, tool_router};

use crate::mcp::error::{ToolError, ToolResult};
use crate::mcp::params::{JobArgs, Lenient, RenderVideoArgs};
use crate::mcp::reply::{arguments, failure, pid, success};
use crate::mcp::server::ReelServer;

use crate::{
    artifact::{BlobInfo, BlobKind},
    error::Error,
    render::{JobStatus, RenderRequest, RenderSettings, Stage},
};

use rmcp::model::ContentBlock;

#[tool_router(router = renders_router, vis = "pub(crate)")]
impl ReelServer {
    #[tool(
        name = "artifact_render_video",
        title = "Render a video",
        output_schema = crate::mcp::outputs::schema::<crate::render::JobStatus>(),
        description = "Render a project (a checkpoint, or the working tree) to a video with Remotion and store it. Same inputs return the stored render at once (memo_hit). Reports progress notifications when you send a progressToken; cancelling the request cancels the render. A client that declares the tasks extension (io.modelcontextprotocol/tasks) gets a task at once: poll tasks/get, stop it with tasks/cancel. Returns the job, the render id and metadata (codec, size, fps, duration) and resource links to the video (reel://renders/{id}), to a still from its middle (reel://renders/{id}/poster, JPEG) and to the job's log (reel://jobs/{id}/log: the installer's and renderer's output). `warnings` lists npm's and Remotion's warnings; `resolved` the installed package versions the render key pins.",
        meta = crate::mcp::apps::tool_meta(crate::mcp::apps::PLAYER_APP),
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn render_video(
        &self,
        Parameters(a): Parameters<Lenient<RenderVideoArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, McpError> {
        let a = arguments!(a);
        let wait = a.wait.unwrap_or(true);
        let started = async {
            let me = self.caller(&ctx)?;
            let renders = self.renders()?;
            let req = RenderRequest {
                project: pid(&a.project_id)?,
                checkpoint: a.checkpoint.clone(),
                settings: render_settings(&a)?,
            };
            let first = renders.submit(&me, req).await?;
            Ok::<_, ToolError>((me, renders, first))
        };
        let (me, renders, first) = match started.await {
            Ok(v) => v,
            Err(e) => return Ok(failure(&e).into()),
        };
        if !wait || first.stage.is_final() {
            return Ok(job_result(&first).into());
        }
        // A client that takes tasks gets one now, unless it asked to wait: the job is
        // persisted, so `tasks/get` finds it on any server of this repository.
        if a.wait.is_none() && crate::mcp::tasks::accepted(&ctx) {
            tracing::info!(job = %first.id, "render job answered as a task");
            return Ok(CallToolResponse::Task(crate::mcp::tasks::created(&first)));
        }
        let token = ctx.meta.get_progress_token();
        let peer = ctx.peer.clone();
        // The latest status only (a watch, bounded): notifications go out from their own
        // task, so a slow client never stalls the job, and it skips what it missed.
        let (sent_tx, mut sent_rx) = tokio::sync::watch::channel(first.clone());
        let notifier = tokio::spawn(async move {
            let mut last = -1.0_f64;
            while sent_rx.changed().await.is_ok() {
                let s = sent_rx.borrow_and_update().clone();
                let Some(token) = token.clone() else { continue };
                let progress = s.progress.overall();
                if progress <= last {
                    continue; // progress must increase
                }
                last = progress;
                let p = rmcp::model::ProgressNotificationParam::new(token, progress)
                    .with_total(100.0)
                    .with_message(s.progress.describe());
                if peer.notify_progress(p).await.is_err() {
                    return;
                }
            }
        });
        let waited = tokio::select! {
            s = renders.wait(&me, first.id, |s| { sent_tx.send_replace(s.clone()); }) => s,
            () = ctx.ct.cancelled() => {
                let _ = renders.cancel(&me, first.id).await;
                renders.wait(&me, first.id, |_| {}).await
            }
        };
        drop(sent_tx);
        let _ = notifier.await;
        Ok(match waited {
            Ok(s) => job_result(&s),
            Err(e) => failure(&e.into()),
        }
        .into())
    }

    #[tool(
        name = "artifact_render_status",
        title = "Render job status",
        output_schema = crate::mcp::outputs::schema::<crate::render::JobStatus>(),
        description = "Get a render job's stage (queued, installing, bundling, rendering, encoding, probing, storing, done, failed, cancelled, interrupted), progress, and once done the render id and metadata, or the error and the relevant renderer output.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn render_status(
        &self,
        Parameters(a): Parameters<Lenient<JobArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        self.call_then(
            a,
            &ctx,
            async |me, a| Ok(self.renders()?.status(&me, a.job_id.parse()?).await?),
            job_reply,
        )
        .await
    }

    #[tool(
        name = "artifact_cancel_render",
        title = "Cancel a render",
        output_schema = crate::mcp::outputs::schema::<crate::render::JobStatus>(),
        description = "Cancel a render job: a queued job never starts, a running renderer is stopped with all its child processes. Cancelling a finished job changes nothing.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn cancel_render(
        &self,
        Parameters(a): Parameters<Lenient<JobArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        self.call_then(
            a,
            &ctx,
            async |me, a| {
                let renders = self.renders()?;
                let id = a.job_id.parse()?;
                let s = renders.cancel(&me, id).await?;
                if s.stage.is_final() {
                    return Ok(s);
                }
                Ok(renders.wait(&me, id, |_| {}).await?)
            },
            job_reply,
        )
        .await
    }
}

/// A job's outcome as a tool result.
fn job_reply(r: ToolResult<JobStatus>) -> CallToolResult {
    match r {
        Ok(s) => job_result(&s),
        Err(e) => failure(&e),
    }
}

fn render_settings(a: &RenderVideoArgs) -> ToolResult<RenderSettings> {
    let mut settings = a.settings.clone();
    match (a.first_frame, a.last_frame, settings.frames) {
        (None, None, _) => {}
        (Some(first), Some(last), None) => settings.frames = Some((first, last)),
        (Some(_), Some(_), Some(_)) => {
            return Err(ToolError::Arguments(
                "give `frames` or `first_frame` and `last_frame`, not both".into(),
            ));
        }
        _ => {
            return Err(ToolError::Arguments(
                "give both first_frame and last_frame, or neither".into(),
            ));
        }
    }
    settings.validate()?;
    Ok(settings)
}

/// A job as a tool result: failed and cancelled jobs are `isError` results naming the
/// cause; a finished one links its video.
pub(crate) fn job_result(s: &JobStatus) -> CallToolResult {
    match s.stage {
        Stage::Failed | Stage::Cancelled | Stage::Interrupted => {
            let mut text = format!(
                "Render job {} {}: {}",
                s.id,
                s.stage,
                s.error.as_deref().unwrap_or("no reason recorded")
            );
            if let Some(d) = &s.details {
                text.push('\n');
                text.push_str(d);
            }
            text.push_str(&warnings(s));
            let mut r = CallToolResult::error(vec![ContentBlock::text(text)]);
            r.content.extend(log_link(s));
            r.structured_content = serde_json::to_value(s).ok();
            r
        }
        Stage::Done => {
            let Some(render) = &s.render else {
                return failure(&Error::Internal("a finished job has no render".into()).into());
            };
            let summary = match &render.kind {
                BlobKind::Render { meta, .. } => format!(
                    "Rendered {} {}x{} {:.2} s ({} bytes){}: render {}.",
                    meta.codec,
                    meta.width,
                    meta.height,
                    meta.duration_s,
                    render.size,
                    if s.memo_hit { ", memo hit" } else { "" },
                    render.id
                ),
                BlobKind::Asset { .. } => format!("Render {}.", render.id),
            };
            let mut result = success(s, summary + &warnings(s));
            result.content.extend(render_links(render));
            result.content.extend(log_link(s));
            result
        }
        _ => success(
            s,
            format!(
                "Render job {} is {}: {}.",
                s.id,
                s.stage,
                s.progress.describe()
            ),
        ),
    }
}

/// The job's warnings as lines to append to its text (none: empty).
fn warnings(s: &JobStatus) -> String {
    s.warnings.iter().fold(String::new(), |mut t, w| {
        t.push_str("\nWarning: ");
        t.push_str(w);
        t
    })
}

/// A resource link to the job's log, once it has one.
fn log_link(s: &JobStatus) -> Option<ContentBlock> {
    s.log.map(|_| {
        ContentBlock::resource_link(
            rmcp::model::Resource::new(
                format!("reel://jobs/{}/log", s.id),
                format!("render job {} log", s.id),
            )
            .with_mime_type("text/plain"),
        )
    })
}

/// Resource links to a render's video and, when it has one, its poster frame.
fn render_links(render: &BlobInfo) -> Vec<ContentBlock> {
    let mut links = vec![ContentBlock::resource_link(
        rmcp::model::Resource::new(
            format!("reel://renders/{}", render.id),
            render.id.to_string(),
        )
        .with_size(render.size)
        .with_mime_type(super::blobs::mime_of_render(render)),
    )];
    if let Some(poster) = render.kind.poster() {
        links.push(ContentBlock::resource_link(
            rmcp::model::Resource::new(
                format!("reel://renders/{}/poster", render.id),
                format!("{} poster frame", render.id),
            )
            .with_size(poster.size)
            .with_mime_type("image/jpeg"),
        ));
    }
    links
}
