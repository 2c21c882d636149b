//! Checkpoint tools: create, list, restore, delete, diff, log.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, tool, tool_router};

use crate::mcp::params::{
    CheckpointArgs, CreateCheckpointArgs, DiffArgs, Lenient, LogArgs, ProjectArgs,
};
use crate::mcp::reply::pid;
use crate::mcp::server::ReelServer;

use crate::artifact::CreateCheckpoint;

#[tool_router(router = checkpoints_router, vis = "pub(crate)")]
impl ReelServer {
    #[tool(
        name = "artifact_create_checkpoint",
        title = "Checkpoint the working tree",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::CheckpointInfo>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                let req = CreateCheckpoint {
                    name: a.name,
                    description: a.description.unwrap_or_default(),
                    ..Default::default()
                };
                Ok(self
                    .artifacts()
                    .create_checkpoint(&me, pid(&a.project_id)?, req)
                    .await?)
            },
            |c| format!("Checkpoint {} ({} files).", c.id.short(), c.files),
        )
        .await
    }

    #[tool(
        name = "artifact_list_checkpoints",
        title = "List checkpoints",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::Checkpoints>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                Ok(self
                    .artifacts()
                    .list_checkpoints(&me, pid(&a.project_id)?)
                    .await
                    .map(|c| crate::mcp::outputs::Checkpoints { checkpoints: c })?)
            },
            |v| format!("{} checkpoints.", v.checkpoints.len()),
        )
        .await
    }

    #[tool(
        name = "artifact_restore_checkpoint",
        title = "Restore a checkpoint",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::ProjectRestore>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                Ok(self
                    .artifacts()
                    .restore_checkpoint(&me, pid(&a.project_id)?, &a.checkpoint)
                    .await?)
            },
            |p| {
                format!(
                    "Restored project {} to checkpoint {}; {} unsaved edit{} discarded.",
                    p.project.id,
                    p.checkpoint.short(),
                    p.discarded_edits,
                    if p.discarded_edits == 1 { "" } else { "s" }
                )
            },
        )
        .await
    }

    #[tool(
        name = "artifact_delete_checkpoint",
        title = "Delete a checkpoint",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::Deleted>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                Ok(self
                    .artifacts()
                    .delete_checkpoint(&me, pid(&a.project_id)?, &a.checkpoint)
                    .await
                    .map(|id| crate::mcp::outputs::Deleted {
                        deleted: id.to_string(),
                    })?)
            },
            |_| "Checkpoint deleted.".into(),
        )
        .await
    }

    #[tool(
        name = "artifact_diff",
        title = "Compare checkpoints",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::Changes>(),
        description = "What changed between two checkpoints, or between a checkpoint and the working tree: added, removed, modified and renamed paths with sizes; with lines=true also each text file's line diff (unified hunks) in patches.",
        meta = crate::mcp::apps::tool_meta(crate::mcp::apps::DIFF_APP),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                let (a_, id) = (self.artifacts(), pid(&a.project_id)?);
                if a.lines == Some(true) {
                    let patches = a_.patch(&me, id, &a.from, a.to.as_deref()).await?;
                    return Ok(crate::mcp::outputs::Changes {
                        changes: patches.iter().map(|p| p.change.clone()).collect(),
                        patches: Some(patches),
                    });
                }
                let changes = a_.diff(&me, id, &a.from, a.to.as_deref()).await?;
                Ok(crate::mcp::outputs::Changes {
                    changes,
                    patches: None,
                })
            },
            |v| format!("{} changes.", v.changes.len()),
        )
        .await
    }

    #[tool(
        name = "artifact_log",
        title = "Show history",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::Log>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                Ok(self
                    .artifacts()
                    .log(&me, pid(&a.project_id)?, a.limit.unwrap_or(50))
                    .await
                    .map(|l| crate::mcp::outputs::Log { log: l })?)
            },
            |v| format!("{} entries.", v.log.len()),
        )
        .await
    }
}
