//! Project tools: create, get, list, update, delete.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, tool, tool_router};

use crate::mcp::params::{
    CreateProjectArgs, Lenient, ListProjectsArgs, ProjectArgs, UpdateProjectArgs,
};
use crate::mcp::reply::pid;
use crate::mcp::server::ReelServer;

use crate::artifact::{CreateProject, ListProjects, UpdateProject};

#[tool_router(router = projects_router, vis = "pub(crate)")]
impl ReelServer {
    #[tool(
        name = "artifact_create_project",
        title = "Create a project",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::ProjectInfo>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
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
                    scope: a.scope,
                    metadata,
                    ttl_s: a.ttl_seconds,
                };
                Ok(self.artifacts().create_project(&me, req).await?)
            },
            |p| format!("Created project {} ({}).", p.id, p.name),
        )
        .await
    }

    #[tool(
        name = "artifact_get_project",
        title = "Get a project",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::ProjectInfo>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                Ok(self
                    .artifacts()
                    .get_project(&me, pid(&a.project_id)?)
                    .await?)
            },
            |p| format!("Project {} ({}).", p.id, p.name),
        )
        .await
    }

    #[tool(
        name = "artifact_list_projects",
        title = "List projects",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::Page<crate::artifact::ProjectInfo>>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                let q = ListProjects {
                    name_contains: a.name_contains,
                    scope: a.scope,
                    sort: a.sort.unwrap_or_default(),
                    offset: a.offset.unwrap_or(0),
                    limit: a.limit,
                    ..Default::default()
                };
                Ok(self.artifacts().list_projects(&me, q).await?)
            },
            |p| format!("{} of {} projects.", p.items.len(), p.total),
        )
        .await
    }

    #[tool(
        name = "artifact_update_project",
        title = "Rename a project or change its metadata",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::ProjectInfo>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                let req = UpdateProject {
                    name: a.name,
                    set: a.metadata.unwrap_or_default(),
                    remove: a.remove_keys.unwrap_or_default(),
                };
                Ok(self
                    .artifacts()
                    .update_project(&me, pid(&a.project_id)?, req)
                    .await?)
            },
            |p| format!("Updated project {}.", p.id),
        )
        .await
    }

    #[tool(
        name = "artifact_delete_project",
        title = "Delete a project",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::Deleted>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                Ok(self
                    .artifacts()
                    .delete_project(&me, pid(&a.project_id)?)
                    .await
                    .map(|()| crate::mcp::outputs::Deleted {
                        deleted: a.project_id.clone(),
                    })?)
            },
            |_| "Project deleted.".into(),
        )
        .await
    }
}
