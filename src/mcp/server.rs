//! The MCP server: who the caller is, the limits it runs under, and the protocol
//! handler. The tools themselves live in `tools/`, one file per group.

use std::path::PathBuf;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CancelTaskParams, GetTaskParams, GetTaskResult, Implementation, ListResourceTemplatesResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, UpdateTaskParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt, tool_handler};

use super::auth::AuthUser;
use super::error::{ToolError, ToolResult};
use super::guard::{QuotaLocks, quota_locks};
use crate::artifact::{Artifacts, Caller, Ident};
use crate::error::{Error, Result};
use crate::render::Renders;

/// The request `_meta` key naming the caller's session handle: session-scope projects
/// (and assets) belong to the user *and* this handle.
pub const SESSION_META_KEY: &str = "reelstore/session";

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
    /// Quota locks, held from a quota check to the end of the write it guards.
    quota_locks: QuotaLocks,
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

impl ReelServer {
    /// A server for one fixed caller (stdio).
    #[must_use]
    pub fn for_caller(artifacts: Artifacts, caller: Caller, options: ServeOptions) -> ReelServer {
        ReelServer {
            artifacts,
            renders: None,
            quota_locks: quota_locks(),
            identity: Identity::Fixed(caller),
            options,
            tool_router: tool_router(),
        }
    }

    /// A server whose callers come from authenticated HTTP requests.
    #[must_use]
    pub fn for_http(artifacts: Artifacts, options: ServeOptions) -> ReelServer {
        ReelServer {
            artifacts,
            renders: None,
            quota_locks: quota_locks(),
            identity: Identity::PerRequest,
            options,
            tool_router: tool_router(),
        }
    }

    /// Enables the render tools with this render service.
    #[must_use]
    pub fn with_renders(mut self, renders: Renders) -> ReelServer {
        self.renders = Some(renders);
        self
    }

    pub(super) fn renders(&self) -> ToolResult<&Renders> {
        self.renders.as_ref().ok_or(ToolError::RenderingDisabled)
    }

    pub(super) fn options(&self) -> &ServeOptions {
        &self.options
    }

    pub(super) fn quota_locks(&self) -> &QuotaLocks {
        &self.quota_locks
    }

    /// The caller of a request. The session is the handle the request names in its
    /// `_meta` ([`SESSION_META_KEY`]), never the transport's connection: the
    /// 2026-07-28 protocol has none, and a client that starts one server per call
    /// must still reach its session's projects. Over stdio, a request without a handle
    /// is in the server run's session (`--session`, or one made up per run).
    pub(super) fn caller(&self, ctx: &RequestContext<RoleServer>) -> ToolResult<Caller> {
        let handle = match ctx.meta.get(SESSION_META_KEY) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(Ident::parse(s, "session handle")?),
            Some(other) => {
                return Err(ToolError::Arguments(format!(
                    "the session handle (_meta `{SESSION_META_KEY}`) must be a string, not {other}"
                )));
            }
        };
        match &self.identity {
            Identity::Fixed(c) => {
                let mut c = c.clone();
                if handle.is_some() {
                    c.session = handle;
                }
                Ok(c)
            }
            Identity::PerRequest => {
                let parts = ctx.extensions.get::<axum::http::request::Parts>();
                let user = parts
                    .and_then(|p| p.extensions.get::<AuthUser>())
                    .ok_or(ToolError::Unauthenticated)?;
                Ok(Caller {
                    sandbox: self.options.sandbox.clone(),
                    user: Some(user.0.clone()),
                    session: handle,
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

    /// A server-side file a tool may read (inside an `--allow-path` directory): its
    /// canonical path and length, looked up off the async workers.
    pub(super) async fn server_path(&self, p: &str) -> ToolResult<(PathBuf, u64)> {
        let given = p.to_owned();
        let found = crate::engine::blocking(move || {
            let canonical = std::fs::canonicalize(&given).map_err(Error::io("resolve", &given))?;
            let len = std::fs::metadata(&canonical)
                .map_err(Error::io("stat", &canonical))?
                .len();
            Ok((canonical, len))
        })
        .await?;
        if self
            .options
            .allowed_paths
            .iter()
            .any(|dir| found.0.starts_with(dir))
        {
            Ok(found)
        } else {
            Err(ToolError::OutsideAllowedPaths(p.to_owned()))
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ReelServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources();
        // Renders are the one long-running tool: with them come tasks (SEP-2663).
        let mut capabilities = if self.renders.is_some() {
            capabilities.enable_tasks().build()
        } else {
            capabilities.build()
        };
        super::apps::declare(&mut capabilities);
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("reelstore", env!("CARGO_PKG_VERSION"))
                    .with_title("reelstore: video-project workspaces with checkpoints"),
            )
            .with_instructions(
                "reelstore: video-project workspaces with checkpoints. Create a project (artifact_create_project), write its files (artifact_write_file), checkpoint (artifact_create_checkpoint), diff and restore. Every project tool takes the project_id. Files, assets and renders are also resources: reel://projects/{project_id}/files/{+path}, reel://assets/{id}, reel://renders/{id}.",
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

    async fn get_task(
        &self,
        request: GetTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<GetTaskResult, McpError> {
        super::tasks::get(self, &request.task_id, &ctx).await
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<(), McpError> {
        super::tasks::update(self, &request.task_id, &ctx).await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<(), McpError> {
        super::tasks::cancel(self, &request.task_id, &ctx).await
    }
}

/// Serves one caller over stdin/stdout until the client disconnects.
pub async fn serve_stdio(server: ReelServer) -> Result<()> {
    let running = match server.serve(rmcp::transport::stdio()).await {
        Ok(running) => running,
        // A 2026-07-28 client never sends `initialize`: it discovers, calls, and
        // closes stdin, which ends the serving cleanly, not with an error.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
        Err(e) => {
            return Err(Error::Backend {
                op: "MCP handshake".into(),
                source: Box::new(e),
            });
        }
    };
    running.waiting().await.map_err(|e| Error::Backend {
        op: "MCP session".into(),
        source: Box::new(e),
    })?;
    Ok(())
}

/// Every tool, from the routers of `tools/`.
fn tool_router() -> ToolRouter<ReelServer> {
    ReelServer::projects_router()
        + ReelServer::files_router()
        + ReelServer::checkpoints_router()
        + ReelServer::blobs_router()
        + ReelServer::renders_router()
}
