//! Renders as tasks: the `io.modelcontextprotocol/tasks` extension (SEP-2663).
//!
//! A client that declares the extension on its `tools/call` gets a task handle from
//! `artifact_render_video` as soon as the job is persisted, instead of a call that stays
//! open for the whole render. The task id is the render job's id. `tasks/get` reads the
//! job's status: `working` while it runs (the stage and progress as the status
//! message), `completed` once it ended with the very tool result a waiting call
//! returns (an `isError` one for a failed or interrupted job: a render that fails is a
//! tool error, not a protocol one), `cancelled`. `tasks/cancel` cancels the job.
//!
//! Jobs are persisted in the repository, so a task is readable from any server on the
//! same repository and after the one that ran it stopped; the caller must see the job's
//! project, as for `artifact_render_status`. A memo hit is answered at once with the
//! result, and a client without the extension keeps the waiting call with progress
//! notifications.

use std::time::{Duration, UNIX_EPOCH};

use rmcp::ErrorData as McpError;
use rmcp::RoleServer;
use rmcp::model::{
    ClientCapabilities, CreateTaskResult, DetailedTask, GetTaskResult, JsonObject, ProtocolVersion,
    Task, TaskPayload, TaskStatus,
};
use rmcp::service::RequestContext;

use super::server::ReelServer;
use crate::artifact::{Caller, RecordId};
use crate::render::{JobStatus, Renders, Stage};

/// How often a client should poll a render task, in milliseconds.
pub const POLL_INTERVAL_MS: u64 = 500;

/// Whether the request declared the tasks extension under a protocol version that
/// defines it: only then may it get a task handle. The extension is not defined under
/// 2025-11-25, where a client declaring it at `initialize` (the Inspector CLI does)
/// must be treated as not declaring it: it would read the handle as an empty result.
pub fn accepted(ctx: &RequestContext<RoleServer>) -> bool {
    let modern = ctx
        .protocol_version()
        .is_some_and(|v| v.as_str() > ProtocolVersion::LATEST_WITH_INITIALIZE.as_str());
    modern
        && ctx
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks())
}

/// The task handle of a job just submitted.
pub fn created(job: &JobStatus) -> CreateTaskResult {
    CreateTaskResult::new(task(job))
}

/// `tasks/get`: the job's task, with its result once it ended.
pub async fn get(
    server: &ReelServer,
    task_id: &str,
    ctx: &RequestContext<RoleServer>,
) -> Result<GetTaskResult, McpError> {
    let (renders, me, id) = lookup(server, task_id, ctx)?;
    let job = renders
        .status(&me, id)
        .await
        .map_err(|e| job_error(task_id, &e))?;
    Ok(GetTaskResult::new(detailed(&job)))
}

/// `tasks/cancel`: asks the job to stop (a queued job never starts, a running one has
/// its renderer's process group killed). Acknowledged at once; a finished job is left
/// as it is.
pub async fn cancel(
    server: &ReelServer,
    task_id: &str,
    ctx: &RequestContext<RoleServer>,
) -> Result<(), McpError> {
    let (renders, me, id) = lookup(server, task_id, ctx)?;
    renders
        .cancel(&me, id)
        .await
        .map(drop)
        .map_err(|e| job_error(task_id, &e))
}

/// `tasks/update`: render tasks never ask the client for input, so responses to a
/// known task are acknowledged and ignored.
pub async fn update(
    server: &ReelServer,
    task_id: &str,
    ctx: &RequestContext<RoleServer>,
) -> Result<(), McpError> {
    get(server, task_id, ctx).await.map(drop)
}

/// Who asks, the render service and the job id a `tasks/*` request names, once the
/// request may use tasks at all. An id that is no job id gets the `-32602` of an
/// unknown task, as the extension requires.
fn lookup<'s>(
    server: &'s ReelServer,
    task_id: &str,
    ctx: &RequestContext<RoleServer>,
) -> Result<(&'s Renders, Caller, RecordId), McpError> {
    if !accepted(ctx) {
        return Err(McpError::missing_required_client_capability(
            ClientCapabilities::builder().enable_tasks().build(),
        ));
    }
    let me = server
        .caller(ctx)
        .map_err(|e| McpError::invalid_request(e.to_string(), None))?;
    let renders = server
        .renders()
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let id = task_id.parse().map_err(|_| not_found(task_id))?;
    Ok((renders, me, id))
}

fn not_found(task_id: &str) -> McpError {
    McpError::invalid_params(format!("task {task_id:?} not found"), None)
}

/// A job the caller may not see is answered as one that does not exist.
fn job_error(task_id: &str, e: &crate::error::Error) -> McpError {
    if e.code() == "not_found" {
        not_found(task_id)
    } else {
        McpError::internal_error(e.to_string(), None)
    }
}

fn status(stage: Stage) -> TaskStatus {
    match stage {
        Stage::Cancelled => TaskStatus::Cancelled,
        s if s.is_final() => TaskStatus::Completed,
        _ => TaskStatus::Working,
    }
}

fn task(job: &JobStatus) -> Task {
    let message = match (job.stage, &job.error) {
        (Stage::Done, _) if job.memo_hit => "done (memo hit)".to_owned(),
        (s, Some(error)) if s.is_final() => format!("{s}: {error}"),
        (s, _) if s.is_final() => s.to_string(),
        _ => job.progress.describe(),
    };
    Task::new(
        job.id.to_string(),
        status(job.stage),
        rfc3339(job.created_ms),
        rfc3339(job.updated_ms),
    )
    .with_status_message(message)
    .with_poll_interval_ms(POLL_INTERVAL_MS)
}

/// A job's task with its payload: the tool result once it ended (cancelled excepted).
fn detailed(job: &JobStatus) -> DetailedTask {
    let payload = match status(job.stage) {
        TaskStatus::Completed => {
            let result = super::tools::job_result(job);
            let value = serde_json::to_value(&result).expect("tool results serialize");
            let serde_json::Value::Object(result) = value else {
                unreachable!("a tool result serializes to an object")
            };
            TaskPayload::Completed {
                result: JsonObject::from_iter(result),
            }
        }
        TaskStatus::Cancelled => TaskPayload::Cancelled,
        _ => TaskPayload::Working,
    };
    DetailedTask::new(task(job), payload)
}

/// Milliseconds since the epoch as an RFC 3339 time (UTC).
fn rfc3339(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_561_987_966), "2026-11-24T23:13:07.966Z");
    }

    #[test]
    fn stages_map_to_task_statuses() {
        for (stage, want) in [
            (Stage::Queued, TaskStatus::Working),
            (Stage::Installing, TaskStatus::Working),
            (Stage::Rendering, TaskStatus::Working),
            (Stage::Storing, TaskStatus::Working),
            (Stage::Done, TaskStatus::Completed),
            // A render that fails is a tool error (`isError`), not a JSON-RPC one.
            (Stage::Failed, TaskStatus::Completed),
            (Stage::Interrupted, TaskStatus::Completed),
            (Stage::Cancelled, TaskStatus::Cancelled),
        ] {
            assert_eq!(status(stage), want, "{stage}");
        }
    }
}
