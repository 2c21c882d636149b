//! Working-tree file tools: write, read, list, delete, move.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, tool, tool_router};

use crate::mcp::error::ToolError;
use crate::mcp::params::{
    Lenient, ListFilesArgs, MoveFileArgs, PathArgs, ReadFileArgs, WriteFileArgs,
};
use crate::mcp::reply::{decode_b64, path, pid};
use crate::mcp::server::ReelServer;

use crate::artifact::Source;
use crate::mcp::outputs::FileContent;

#[tool_router(router = files_router, vis = "pub(crate)")]
impl ReelServer {
    #[tool(
        name = "artifact_write_file",
        title = "Write a file",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::FileInfo>(),
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
        // The quota lock lives in its own task until the write is done, timeout or not.
        self.call_owned(
            a,
            &ctx,
            |s, me, a| async move {
                let bytes = match (a.content, a.content_base64) {
                    (Some(text), None) => text.into_bytes(),
                    (None, Some(b64)) => decode_b64(&b64)?,
                    _ => {
                        return Err(ToolError::Arguments(
                            "give exactly one of content and content_base64".into(),
                        ));
                    }
                };
                s.check_size(bytes.len())?;
                let _quota = s.check_quota(&me, bytes.len() as u64).await?;
                Ok(s.artifacts()
                    .write_file(
                        &me,
                        pid(&a.project_id)?,
                        path(&a.path)?,
                        Source::Bytes(bytes),
                        a.executable.unwrap_or(false),
                    )
                    .await?)
            },
            |f| format!("Wrote {} ({} bytes).", f.path, f.size),
        )
        .await
    }

    #[tool(
        name = "artifact_read_file",
        title = "Read a file",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::FileContent>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                let id = pid(&a.project_id)?;
                let range = match (a.offset, a.length) {
                    (None, None) => None,
                    (o, l) => Some((o.unwrap_or(0), l.unwrap_or(u64::MAX))),
                };
                let bytes = self
                    .artifacts()
                    .read_file(&me, id, path(&a.path)?, range)
                    .await?;
                let size = bytes.len();
                let mut out = FileContent {
                    path: a.path.clone(),
                    size: size as u64,
                    content: None,
                    content_base64: None,
                    resource: None,
                };
                if size > self.options().max_inline {
                    // Too large to inline: point at the resource instead.
                    out.resource = Some(format!("reel://projects/{id}/files/{}", a.path));
                } else if a.base64.unwrap_or(false) {
                    out.content_base64 = Some(base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        &bytes,
                    ));
                } else {
                    let text =
                        String::from_utf8(bytes).map_err(|_| ToolError::NotText(a.path.clone()))?;
                    out.content = Some(text);
                }
                Ok(out)
            },
            |v| format!("Read {} ({} bytes).", v.path, v.size),
        )
        .await
    }

    #[tool(
        name = "artifact_list_files",
        title = "List files",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::Files>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                let dir = a
                    .path
                    .as_deref()
                    .filter(|p| !p.is_empty())
                    .map(path)
                    .transpose()?;
                let files = self
                    .artifacts()
                    .list_files(&me, pid(&a.project_id)?, dir, a.recursive.unwrap_or(false))
                    .await?;
                Ok(crate::mcp::outputs::Files { files })
            },
            |v| format!("{} entries.", v.files.len()),
        )
        .await
    }

    #[tool(
        name = "artifact_delete_file",
        title = "Delete a file or directory",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::Deleted>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                Ok(self
                    .artifacts()
                    .delete_file(&me, pid(&a.project_id)?, path(&a.path)?)
                    .await
                    .map(|()| crate::mcp::outputs::Deleted {
                        deleted: a.path.clone(),
                    })?)
            },
            |_| "Deleted.".into(),
        )
        .await
    }

    #[tool(
        name = "artifact_move_file",
        title = "Move or rename a file",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::Moved>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                Ok(self
                    .artifacts()
                    .move_file(&me, pid(&a.project_id)?, path(&a.from)?, path(&a.to)?)
                    .await
                    .map(|()| crate::mcp::outputs::Moved {
                        from: a.from,
                        to: a.to,
                    })?)
            },
            |_| "Moved.".into(),
        )
        .await
    }
}
