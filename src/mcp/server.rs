//! The MCP server: one tool per artifact operation.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ListResourceTemplatesResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router,
};
use serde::Serialize;

use super::auth::AuthUser;
use super::params::{
    BlobArgs, CheckpointArgs, CreateCheckpointArgs, CreateProjectArgs, DiffArgs, JobArgs, Lenient,
    ListAssetsArgs, ListFilesArgs, ListProjectsArgs, ListRendersArgs, LogArgs, MoveFileArgs,
    PathArgs, ProjectArgs, ReadFileArgs, RenderVideoArgs, StoreAssetArgs, StoreRenderArgs,
    UpdateProjectArgs, WriteFileArgs,
};
use crate::artifact::{
    Artifacts, AssetInput, BlobKind, Caller, CreateCheckpoint, CreateProject, Ident, ListBlobs,
    ListProjects, ProjectId, ProjectPath, RecordId, RenderMeta, Scope, Source, UpdateProject,
};
use crate::error::{Error, ItemKind, Result};
use crate::render::{
    Codec, ImageFormat, JobStatus, Quality, RenderRequest, RenderSettings, Renders, Stage,
};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Sandbox of every caller.
    pub sandbox: Ident,
    /// Largest payload accepted or returned inline, in bytes.
    pub max_inline: usize,
    /// Directories `artifact_store_render` may read `server_path` from.
    pub allowed_paths: Vec<PathBuf>,
    /// Most bytes one user may hold (working trees, assets, renders); `None`: no limit.
    pub quota: Option<u64>,
    /// How long one tool call may run.
    pub timeout: std::time::Duration,
}

/// Who the caller is: fixed (stdio) or per request (HTTP, from the bearer token).
#[derive(Debug, Clone)]
enum Identity {
    Fixed(Caller),
    PerRequest,
}

/// The MCP server over one repository's artifact layer.
#[derive(Clone)]
pub struct ReelServer {
    artifacts: Artifacts,
    renders: Option<Renders>,
    /// One lock per user, held from a quota check to the end of the write it guards.
    quota_locks: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    identity: Identity,
    options: ServeOptions,
    tool_router: ToolRouter<ReelServer>,
}

impl std::fmt::Debug for ReelServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReelServer")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// Unwraps [`Lenient`] arguments, or returns the decoding problem as an `isError` result.
macro_rules! arguments {
    ($a:expr) => {
        match $a.0 {
            Ok(a) => a,
            Err(e) => return Ok(failure(&Error::Invalid(format!("invalid arguments: {e}")))),
        }
    };
}

/// A tool failure as an `isError` result with one sentence.
fn failure(e: &Error) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(e.to_string())])
}

/// Structured output plus a short text summary.
fn success<T: Serialize>(value: &T, summary: String) -> CallToolResult {
    let json = serde_json::to_value(value).expect("tool results serialize");
    let mut result = CallToolResult::structured(json);
    result.content.insert(0, ContentBlock::text(summary));
    result
}

// Tools return `Result` for rmcp; failures are `isError` results, never protocol errors.
#[allow(clippy::unnecessary_wraps)]
fn reply<T: Serialize>(
    r: Result<T>,
    summary: impl FnOnce(&T) -> String,
) -> std::result::Result<CallToolResult, McpError> {
    Ok(match r {
        Ok(v) => {
            let s = summary(&v);
            success(&v, s)
        }
        Err(e) => failure(&e),
    })
}

fn pid(s: &str) -> Result<ProjectId> {
    s.parse()
}

fn path(s: &str) -> Result<ProjectPath> {
    ProjectPath::parse(s)
}

fn scope(s: Option<&String>) -> Result<Option<Scope>> {
    s.map(|s| s.parse()).transpose()
}

fn decode_b64(s: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| Error::Invalid(format!("content_base64 is not valid base64: {e}")))
}

impl ReelServer {
    /// A server for one fixed caller (stdio).
    #[must_use]
    pub fn for_caller(artifacts: Artifacts, caller: Caller, options: ServeOptions) -> ReelServer {
        ReelServer {
            artifacts,
            renders: None,
            quota_locks: Arc::default(),
            identity: Identity::Fixed(caller),
            options,
            tool_router: Self::tool_router(),
        }
    }

    /// A server whose callers come from authenticated HTTP requests.
    #[must_use]
    pub fn for_http(artifacts: Artifacts, options: ServeOptions) -> ReelServer {
        ReelServer {
            artifacts,
            renders: None,
            quota_locks: Arc::default(),
            identity: Identity::PerRequest,
            options,
            tool_router: Self::tool_router(),
        }
    }

    /// Enables the render tools with this render service.
    #[must_use]
    pub fn with_renders(mut self, renders: Renders) -> ReelServer {
        self.renders = Some(renders);
        self
    }

    fn renders(&self) -> Result<&Renders> {
        self.renders
            .as_ref()
            .ok_or_else(|| Error::Invalid("rendering is not enabled on this server".into()))
    }

    /// The caller of a request.
    pub(super) fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller> {
        match &self.identity {
            Identity::Fixed(c) => Ok(c.clone()),
            Identity::PerRequest => {
                let parts = ctx.extensions.get::<axum::http::request::Parts>();
                let user = parts
                    .and_then(|p| p.extensions.get::<AuthUser>())
                    .ok_or_else(|| Error::Invalid("unauthenticated request".into()))?;
                let session = parts
                    .and_then(|p| p.headers.get("mcp-session-id"))
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| Ident::parse(s, "session id").ok());
                Ok(Caller {
                    sandbox: self.options.sandbox.clone(),
                    user: Some(user.0.clone()),
                    session,
                })
            }
        }
    }

    pub(super) fn artifacts(&self) -> &Artifacts {
        &self.artifacts
    }

    pub(super) fn max_inline(&self) -> usize {
        self.options.max_inline
    }

    fn check_size(&self, n: usize) -> Result<()> {
        if n > self.options.max_inline {
            return Err(Error::Invalid(format!(
                "{n} bytes is more than the {}-byte inline limit; write large files in parts or from a server path",
                self.options.max_inline
            )));
        }
        Ok(())
    }

    /// Refuses a write of `adding` bytes that would take the caller past the quota,
    /// before anything is stored. Returns the user's quota lock: hold it until the
    /// write is done, so that two writes of one user cannot both pass the check.
    async fn check_quota(
        &self,
        me: &Caller,
        adding: u64,
    ) -> Result<Option<tokio::sync::OwnedMutexGuard<()>>> {
        let Some(quota) = self.options.quota else {
            return Ok(None);
        };
        let key = format!(
            "{}/{}",
            me.sandbox,
            me.user.as_ref().map_or("", Ident::as_str)
        );
        let lock = Arc::clone(
            self.quota_locks
                .lock()
                .expect("quota locks")
                .entry(key)
                .or_default(),
        );
        let guard = lock.lock_owned().await;
        let used = self.artifacts.usage(me).await?;
        if used.saturating_add(adding) > quota {
            return Err(Error::Invalid(format!(
                "this write of {adding} bytes would exceed your quota of {quota} bytes ({used} in use); delete something first"
            )));
        }
        Ok(Some(guard))
    }

    /// Runs a tool's work under the request timeout.
    async fn timed<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.options.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(Error::Invalid(format!(
                "the request took longer than {} s and was abandoned",
                self.options.timeout.as_secs()
            ))),
        }
    }

    fn server_path(&self, p: &str) -> Result<PathBuf> {
        let canonical = std::fs::canonicalize(p).map_err(Error::io("resolve", p))?;
        if self
            .options
            .allowed_paths
            .iter()
            .any(|dir| canonical.starts_with(dir))
        {
            Ok(canonical)
        } else {
            Err(Error::Invalid(format!(
                "{p} is outside the directories this server may read"
            )))
        }
    }
}

#[tool_router]
impl ReelServer {
    #[tool(
        name = "artifact_create_project",
        description = "Create a video project: a workspace of files (TSX sources, JSON, media) with named checkpoints. Returns its project_id, which every other project tool takes.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_project(
        &self,
        Parameters(a): Parameters<Lenient<CreateProjectArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                let me = self.caller(&ctx)?;
                let mut metadata = a.metadata.unwrap_or_default();
                for (k, v) in [
                    ("theme", a.theme.map(serde_json::Value::from)),
                    ("fps", a.fps.map(Into::into)),
                    ("width", a.width.map(Into::into)),
                    ("height", a.height.map(Into::into)),
                ] {
                    if let Some(v) = v {
                        metadata.insert(k.into(), v);
                    }
                }
                let req = CreateProject {
                    name: a.name,
                    scope: scope(a.scope.as_ref())?,
                    metadata,
                    ttl_s: a.ttl_seconds,
                };
                self.artifacts.create_project(&me, req).await
            })
            .await;
        reply(r, |p| format!("Created project {} ({}).", p.id, p.name))
    }

    #[tool(
        name = "artifact_get_project",
        description = "Get a project's name, scope, metadata, head checkpoint and times.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_project(
        &self,
        Parameters(a): Parameters<Lenient<ProjectArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.artifacts
                    .get_project(&self.caller(&ctx)?, pid(&a.project_id)?)
                    .await
            })
            .await;
        reply(r, |p| format!("Project {} ({}).", p.id, p.name))
    }

    #[tool(
        name = "artifact_list_projects",
        description = "List the projects you can see, oldest first, optionally filtered by name or scope. Paged: pass next_offset as offset for more.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_projects(
        &self,
        Parameters(a): Parameters<Lenient<ListProjectsArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                let q = ListProjects {
                    name_contains: a.name_contains,
                    scope: scope(a.scope.as_ref())?,
                    offset: a.offset.unwrap_or(0),
                    limit: a.limit,
                    ..Default::default()
                };
                self.artifacts.list_projects(&self.caller(&ctx)?, q).await
            })
            .await;
        reply(r, |p| format!("{} of {} projects.", p.items.len(), p.total))
    }

    #[tool(
        name = "artifact_update_project",
        description = "Rename a project or change its metadata.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn update_project(
        &self,
        Parameters(a): Parameters<Lenient<UpdateProjectArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                let req = UpdateProject {
                    name: a.name,
                    set: a.metadata.unwrap_or_default(),
                    remove: a.remove_keys.unwrap_or_default(),
                };
                self.artifacts
                    .update_project(&self.caller(&ctx)?, pid(&a.project_id)?, req)
                    .await
            })
            .await;
        reply(r, |p| format!("Updated project {}.", p.id))
    }

    #[tool(
        name = "artifact_delete_project",
        description = "Delete a project with its files and checkpoints. Cannot be undone.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn delete_project(
        &self,
        Parameters(a): Parameters<Lenient<ProjectArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.artifacts
                    .delete_project(&self.caller(&ctx)?, pid(&a.project_id)?)
                    .await
                    .map(|()| serde_json::json!({"deleted": a.project_id}))
            })
            .await;
        reply(r, |_| "Project deleted.".into())
    }

    #[tool(
        name = "artifact_write_file",
        description = "Write a file into a project's working tree (creating parent directories). Give `content` for text or `content_base64` for binary data.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn write_file(
        &self,
        Parameters(a): Parameters<Lenient<WriteFileArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                let me = self.caller(&ctx)?;
                let bytes = match (a.content, a.content_base64) {
                    (Some(text), None) => text.into_bytes(),
                    (None, Some(b64)) => decode_b64(&b64)?,
                    _ => {
                        return Err(Error::Invalid(
                            "give exactly one of content and content_base64".into(),
                        ));
                    }
                };
                self.check_size(bytes.len())?;
                let _quota = self.check_quota(&me, bytes.len() as u64).await?;
                self.artifacts
                    .write_file(
                        &me,
                        pid(&a.project_id)?,
                        path(&a.path)?,
                        Source::Bytes(bytes),
                        a.executable.unwrap_or(false),
                    )
                    .await
            })
            .await;
        reply(r, |f| format!("Wrote {} ({} bytes).", f.path, f.size))
    }

    #[tool(
        name = "artifact_read_file",
        description = "Read a file of a project's working tree, as text (default) or base64, optionally a byte range. Files larger than the inline limit return a resource link instead.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn read_file(
        &self,
        Parameters(a): Parameters<Lenient<ReadFileArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self.timed(async {
            let me = self.caller(&ctx)?;
            let id = pid(&a.project_id)?;
            let range = match (a.offset, a.length) {
                (None, None) => None,
                (o, l) => Some((o.unwrap_or(0), l.unwrap_or(u64::MAX))),
            };
            let bytes = self.artifacts.read_file(&me, id, path(&a.path)?, range).await?;
            if bytes.len() > self.options.max_inline {
                // Too large to inline: point at the resource instead.
                return Ok(serde_json::json!({"path": a.path, "size": bytes.len(), "resource": format!("reel://projects/{id}/files/{}", a.path)}));
            }
            let content = if a.base64.unwrap_or(false) {
                serde_json::json!({"path": a.path, "size": bytes.len(), "content_base64": base64::engine::general_purpose::STANDARD.encode(&bytes)})
            } else {
                let text = String::from_utf8(bytes).map_err(|_| Error::Invalid(format!("{} is not UTF-8 text; read it with base64: true", a.path)))?;
                serde_json::json!({"path": a.path, "size": text.len(), "content": text})
            };
            Ok(content)
        })
        .await;
        reply(r, |v| {
            format!(
                "Read {} ({} bytes).",
                v["path"].as_str().unwrap_or(""),
                v["size"]
            )
        })
    }

    #[tool(
        name = "artifact_list_files",
        description = "List a directory of a project's working tree (the root by default), with sizes and content ids; `recursive` lists everything below.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_files(
        &self,
        Parameters(a): Parameters<Lenient<ListFilesArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                let dir = a
                    .path
                    .as_deref()
                    .filter(|p| !p.is_empty())
                    .map(path)
                    .transpose()?;
                let files = self
                    .artifacts
                    .list_files(
                        &self.caller(&ctx)?,
                        pid(&a.project_id)?,
                        dir,
                        a.recursive.unwrap_or(false),
                    )
                    .await?;
                Ok(serde_json::json!({"files": files}))
            })
            .await;
        reply(r, |v| {
            format!("{} entries.", v["files"].as_array().map_or(0, Vec::len))
        })
    }

    #[tool(
        name = "artifact_delete_file",
        description = "Delete a file or a directory (with everything in it) from a project's working tree.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn delete_file(
        &self,
        Parameters(a): Parameters<Lenient<PathArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.artifacts
                    .delete_file(&self.caller(&ctx)?, pid(&a.project_id)?, path(&a.path)?)
                    .await
                    .map(|()| serde_json::json!({"deleted": a.path}))
            })
            .await;
        reply(r, |_| "Deleted.".into())
    }

    #[tool(
        name = "artifact_move_file",
        description = "Move or rename a file or directory in a project's working tree. The destination must not exist.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn move_file(
        &self,
        Parameters(a): Parameters<Lenient<MoveFileArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.artifacts
                    .move_file(
                        &self.caller(&ctx)?,
                        pid(&a.project_id)?,
                        path(&a.from)?,
                        path(&a.to)?,
                    )
                    .await
                    .map(|()| serde_json::json!({"from": a.from, "to": a.to}))
            })
            .await;
        reply(r, |_| "Moved.".into())
    }

    #[tool(
        name = "artifact_create_checkpoint",
        description = "Save the project's working tree as a named, immutable checkpoint. Names are unique per project.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_checkpoint(
        &self,
        Parameters(a): Parameters<Lenient<CreateCheckpointArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                let req = CreateCheckpoint {
                    name: a.name,
                    description: a.description.unwrap_or_default(),
                    ..Default::default()
                };
                self.artifacts
                    .create_checkpoint(&self.caller(&ctx)?, pid(&a.project_id)?, req)
                    .await
            })
            .await;
        reply(r, |c| {
            format!("Checkpoint {} ({} files).", c.id.short(), c.files)
        })
    }

    #[tool(
        name = "artifact_list_checkpoints",
        description = "List a project's checkpoints in creation order, with id, name, description, time, file count and size.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_checkpoints(
        &self,
        Parameters(a): Parameters<Lenient<ProjectArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.artifacts
                    .list_checkpoints(&self.caller(&ctx)?, pid(&a.project_id)?)
                    .await
                    .map(|c| serde_json::json!({"checkpoints": c}))
            })
            .await;
        reply(r, |v| {
            format!(
                "{} checkpoints.",
                v["checkpoints"].as_array().map_or(0, Vec::len)
            )
        })
    }

    #[tool(
        name = "artifact_restore_checkpoint",
        description = "Replace the project's working tree with a checkpoint (by name, id or id prefix). Unsaved edits are discarded; the result says how many (discarded_edits).",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn restore_checkpoint(
        &self,
        Parameters(a): Parameters<Lenient<CheckpointArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.artifacts
                    .restore_checkpoint(&self.caller(&ctx)?, pid(&a.project_id)?, &a.checkpoint)
                    .await
            })
            .await;
        reply(r, |p| {
            format!(
                "Restored project {} to {}; {} unsaved edit{} discarded.",
                p.project.id,
                a.checkpoint,
                p.discarded_edits,
                if p.discarded_edits == 1 { "" } else { "s" }
            )
        })
    }

    #[tool(
        name = "artifact_delete_checkpoint",
        description = "Delete a checkpoint. Its data is freed unless another checkpoint shares it.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn delete_checkpoint(
        &self,
        Parameters(a): Parameters<Lenient<CheckpointArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.artifacts
                    .delete_checkpoint(&self.caller(&ctx)?, pid(&a.project_id)?, &a.checkpoint)
                    .await
                    .map(|id| serde_json::json!({"deleted": id}))
            })
            .await;
        reply(r, |_| "Checkpoint deleted.".into())
    }

    #[tool(
        name = "artifact_diff",
        description = "What changed between two checkpoints, or between a checkpoint and the working tree: added, removed, modified and renamed paths with sizes.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn diff(
        &self,
        Parameters(a): Parameters<Lenient<DiffArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.artifacts
                    .diff(
                        &self.caller(&ctx)?,
                        pid(&a.project_id)?,
                        &a.from,
                        a.to.as_deref(),
                    )
                    .await
                    .map(|c| serde_json::json!({"changes": c}))
            })
            .await;
        reply(r, |v| {
            format!("{} changes.", v["changes"].as_array().map_or(0, Vec::len))
        })
    }

    #[tool(
        name = "artifact_log",
        description = "A project's checkpoint history from its current head, newest first; deleted checkpoints are marked.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn log(
        &self,
        Parameters(a): Parameters<Lenient<LogArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.artifacts
                    .log(
                        &self.caller(&ctx)?,
                        pid(&a.project_id)?,
                        a.limit.unwrap_or(50),
                    )
                    .await
                    .map(|l| serde_json::json!({"log": l}))
            })
            .await;
        reply(r, |v| {
            format!("{} entries.", v["log"].as_array().map_or(0, Vec::len))
        })
    }

    #[tool(
        name = "artifact_store_asset",
        description = "Store a media asset (image, audio, video, font) from base64 bytes, with a MIME type, name and tags. Identical bytes are stored once.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn store_asset(
        &self,
        Parameters(a): Parameters<Lenient<StoreAssetArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                let me = self.caller(&ctx)?;
                let bytes = decode_b64(&a.content_base64)?;
                self.check_size(bytes.len())?;
                let _quota = self.check_quota(&me, bytes.len() as u64).await?;
                let input = AssetInput {
                    mime: a.mime_type,
                    original_name: a.name,
                    tags: a.tags.unwrap_or_default(),
                    scope: scope(a.scope.as_ref())?,
                };
                self.artifacts
                    .store_asset(&me, Source::Bytes(bytes), input)
                    .await
            })
            .await;
        reply(r, |b| {
            format!(
                "Stored asset {} ({} bytes), resource reel://assets/{}.",
                b.id, b.size, b.id
            )
        })
    }

    #[tool(
        name = "artifact_get_asset",
        description = "Get an asset's metadata (MIME type, name, tags, size, content id); read its bytes through the resource reel://assets/{id}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_asset(
        &self,
        Parameters(a): Parameters<Lenient<BlobArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        self.get_blob(&a.id, &ctx, false).await
    }

    #[tool(
        name = "artifact_list_assets",
        description = "List your assets, optionally only those with all the given tags or a MIME prefix.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_assets(
        &self,
        Parameters(a): Parameters<Lenient<ListAssetsArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                let q = ListBlobs {
                    tags: a.tags.unwrap_or_default(),
                    mime_prefix: a.mime_prefix,
                    renders: Some(false),
                    ..Default::default()
                };
                self.artifacts
                    .list_blobs(&self.caller(&ctx)?, q)
                    .await
                    .map(|b| serde_json::json!({"assets": b}))
            })
            .await;
        reply(r, |v| {
            format!("{} assets.", v["assets"].as_array().map_or(0, Vec::len))
        })
    }

    #[tool(
        name = "artifact_delete_asset",
        description = "Delete an asset record. Its bytes are freed by the next gc unless a file or render shares them.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn delete_asset(
        &self,
        Parameters(a): Parameters<Lenient<BlobArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.artifacts
                    .delete_blob(&self.caller(&ctx)?, a.id.parse::<RecordId>()?)
                    .await
                    .map(|()| serde_json::json!({"deleted": a.id}))
            })
            .await;
        reply(r, |_| "Asset deleted.".into())
    }

    #[tool(
        name = "artifact_store_render",
        description = "Store a rendered video for a project (and checkpoint), from base64 bytes or a server path the operator allowed, with its metadata.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn store_render(
        &self,
        Parameters(a): Parameters<Lenient<StoreRenderArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                let me = self.caller(&ctx)?;
                let (source, _quota) = match (a.content_base64, a.server_path) {
                    (Some(b64), None) => {
                        let bytes = decode_b64(&b64)?;
                        self.check_size(bytes.len())?;
                        let quota = self.check_quota(&me, bytes.len() as u64).await?;
                        (Source::Bytes(bytes), quota)
                    }
                    (None, Some(p)) => {
                        let path = self.server_path(&p)?;
                        let len = std::fs::metadata(&path)
                            .map_err(Error::io("stat", &path))?
                            .len();
                        let quota = self.check_quota(&me, len).await?;
                        (Source::Path(path), quota)
                    }
                    _ => {
                        return Err(Error::Invalid(
                            "give exactly one of content_base64 and server_path".into(),
                        ));
                    }
                };
                let meta = RenderMeta {
                    container: a.container.unwrap_or_default(),
                    codec: a.codec.unwrap_or_default(),
                    width: a.width.unwrap_or(0),
                    height: a.height.unwrap_or(0),
                    duration_s: a.duration_seconds.unwrap_or(0.0),
                    ..Default::default()
                };
                self.artifacts
                    .store_render(
                        &me,
                        pid(&a.project_id)?,
                        a.checkpoint.as_deref(),
                        source,
                        meta,
                    )
                    .await
            })
            .await;
        reply(r, |b| {
            format!(
                "Stored render {} ({} bytes), resource reel://renders/{}.",
                b.id, b.size, b.id
            )
        })
    }

    #[tool(
        name = "artifact_get_render",
        description = "Get a render's metadata (codec, size, duration, project, checkpoint); read its bytes through the resource reel://renders/{id}.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_render(
        &self,
        Parameters(a): Parameters<Lenient<BlobArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        self.get_blob(&a.id, &ctx, true).await
    }

    #[tool(
        name = "artifact_list_renders",
        description = "List your renders, optionally only those of one project.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_renders(
        &self,
        Parameters(a): Parameters<Lenient<ListRendersArgs>>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a = arguments!(a);
        let r = self
            .timed(async {
                let q = ListBlobs {
                    project: a.project_id.as_deref().map(pid).transpose()?,
                    renders: Some(true),
                    ..Default::default()
                };
                self.artifacts
                    .list_blobs(&self.caller(&ctx)?, q)
                    .await
                    .map(|b| serde_json::json!({"renders": b}))
            })
            .await;
        reply(r, |v| {
            format!("{} renders.", v["renders"].as_array().map_or(0, Vec::len))
        })
    }

    #[tool(
        name = "artifact_render_video",
        description = "Render a project (a checkpoint, or the working tree) to a video with Remotion and store it. Same inputs return the stored render at once (memo_hit). Reports progress notifications when you send a progressToken; cancelling the request cancels the render. Returns the job, the render id and metadata (codec, size, fps, duration) and a resource link reel://renders/{id} to the video.",
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
    ) -> std::result::Result<CallToolResult, McpError> {
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
            Ok::<_, Error>((me, renders, first))
        };
        let (me, renders, first) = match started.await {
            Ok(v) => v,
            Err(e) => return Ok(failure(&e)),
        };
        if !wait || first.stage.is_final() {
            return Ok(job_result(&first));
        }
        let token = ctx.meta.get_progress_token();
        let peer = ctx.peer.clone();
        let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<JobStatus>();
        // Notifications go out from their own task so a slow client never stalls the job.
        let notifier = tokio::spawn(async move {
            let mut last = -1.0_f64;
            while let Some(s) = sent_rx.recv().await {
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
            s = renders.wait(&me, first.id, |s| { let _ = sent_tx.send(s.clone()); }) => s,
            () = ctx.ct.cancelled() => {
                let _ = renders.cancel(&me, first.id).await;
                renders.wait(&me, first.id, |_| {}).await
            }
        };
        drop(sent_tx);
        let _ = notifier.await;
        Ok(match waited {
            Ok(s) => job_result(&s),
            Err(e) => failure(&e),
        })
    }

    #[tool(
        name = "artifact_render_status",
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
        let a = arguments!(a);
        let r = self
            .timed(async {
                self.renders()?
                    .status(&self.caller(&ctx)?, a.job_id.parse()?)
                    .await
            })
            .await;
        Ok(match r {
            Ok(s) => job_result(&s),
            Err(e) => failure(&e),
        })
    }

    #[tool(
        name = "artifact_cancel_render",
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
        let a = arguments!(a);
        let r = self
            .timed(async {
                let me = self.caller(&ctx)?;
                let renders = self.renders()?;
                let id = a.job_id.parse()?;
                let s = renders.cancel(&me, id).await?;
                if s.stage.is_final() {
                    return Ok(s);
                }
                renders.wait(&me, id, |_| {}).await
            })
            .await;
        Ok(match r {
            Ok(s) => job_result(&s),
            Err(e) => failure(&e),
        })
    }
}

fn render_settings(a: &RenderVideoArgs) -> Result<RenderSettings> {
    let frames = match (a.first_frame, a.last_frame) {
        (None, None) => None,
        (Some(x), Some(y)) => Some((x, y)),
        _ => {
            return Err(Error::Invalid(
                "give both first_frame and last_frame, or neither".into(),
            ));
        }
    };
    let image_format = a
        .image_format
        .as_deref()
        .map(ImageFormat::parse)
        .transpose()?;
    let s = RenderSettings {
        entry: a.entry.clone(),
        composition: a.composition.clone(),
        codec: a
            .codec
            .as_deref()
            .map(Codec::parse)
            .transpose()?
            .unwrap_or_default(),
        quality: a
            .quality
            .as_deref()
            .map(Quality::parse)
            .transpose()?
            .unwrap_or_default(),
        crf: a.crf,
        x264_preset: a.x264_preset.clone(),
        concurrency: a.concurrency,
        props: a.props.clone().map(serde_json::Value::Object),
        frames,
        scale: a.scale,
        image_format,
    };
    s.validate()?;
    Ok(s)
}

/// A job as a tool result: failed and cancelled jobs are `isError` results naming the
/// cause; a finished one links its video.
fn job_result(s: &JobStatus) -> CallToolResult {
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
            let mut r = CallToolResult::error(vec![ContentBlock::text(text)]);
            r.structured_content = serde_json::to_value(s).ok();
            r
        }
        Stage::Done => {
            let Some(render) = &s.render else {
                return failure(&Error::Internal("a finished job has no render".into()));
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
            let mut result = success(s, summary);
            let link = rmcp::model::Resource::new(
                format!("reel://renders/{}", render.id),
                render.id.to_string(),
            )
            .with_size(render.size)
            .with_mime_type(mime_of_render(render));
            result.content.push(ContentBlock::resource_link(link));
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

pub(super) fn mime_of_render(b: &crate::artifact::BlobInfo) -> &'static str {
    match &b.kind {
        BlobKind::Render { meta, .. } => match meta.container.as_str() {
            "webm" => "video/webm",
            "mov" => "video/quicktime",
            "gif" => "image/gif",
            _ => "video/mp4",
        },
        BlobKind::Asset { .. } => "application/octet-stream",
    }
}

impl ReelServer {
    async fn get_blob(
        &self,
        id: &str,
        ctx: &RequestContext<RoleServer>,
        render: bool,
    ) -> std::result::Result<CallToolResult, McpError> {
        let r = self
            .timed(async {
                let b = self
                    .artifacts
                    .get_blob(&self.caller(ctx)?, id.parse()?)
                    .await?;
                let is_render = matches!(b.kind, BlobKind::Render { .. });
                if is_render != render {
                    return Err(Error::not_found(ItemKind::Record, id));
                }
                Ok(b)
            })
            .await;
        let kind = if render { "renders" } else { "assets" };
        Ok(match r {
            Ok(b) => {
                let mut result = success(&b, format!("{} bytes.", b.size));
                let link =
                    rmcp::model::Resource::new(format!("reel://{kind}/{}", b.id), b.id.to_string())
                        .with_size(b.size);
                result.content.push(ContentBlock::resource_link(link));
                result
            }
            Err(e) => failure(&e),
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ReelServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::from_build_env())
            .with_instructions(
                "reelstore: video-project workspaces with checkpoints. Create a project (artifact_create_project), write its files (artifact_write_file), checkpoint (artifact_create_checkpoint), diff and restore. Every project tool takes the project_id. Files, assets and renders are also resources: reel://projects/{project_id}/files/{path}, reel://assets/{id}, reel://renders/{id}.",
            )
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<rmcp::model::ListResourcesResult, McpError> {
        let cursor = request.and_then(|r| r.cursor);
        super::resources::list(self, cursor.as_deref(), &ctx)
            .await
            .map_err(|e| McpError::invalid_params(e.to_string(), None))
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourceTemplatesResult, McpError> {
        Ok(super::resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<ReadResourceResponse, McpError> {
        super::resources::read(self, &request.uri, &ctx).await
    }
}

/// Serves one caller over stdin/stdout until the client disconnects.
pub async fn serve_stdio(server: ReelServer) -> Result<()> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::Backend {
            op: "MCP handshake".into(),
            source: Box::new(e),
        })?;
    running.waiting().await.map_err(|e| Error::Backend {
        op: "MCP session".into(),
        source: Box::new(e),
    })?;
    Ok(())
}
