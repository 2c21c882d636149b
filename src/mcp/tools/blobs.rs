//! Asset and stored-render tools.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, tool, tool_router};

use crate::mcp::error::ToolError;
use crate::mcp::params::{
    BlobArgs, Lenient, ListAssetsArgs, ListRendersArgs, StoreAssetArgs, StoreRenderArgs,
};
use crate::mcp::reply::{arguments, decode_b64, failure, pid, success};
use crate::mcp::server::ReelServer;

use crate::{
    artifact::{AssetInput, BlobInfo, BlobKind, ListBlobs, RecordId, RenderMeta, Source},
    error::{Error, ItemKind},
};

use rmcp::model::ContentBlock;

#[tool_router(router = blobs_router, vis = "pub(crate)")]
impl ReelServer {
    #[tool(
        name = "artifact_store_asset",
        title = "Store an asset",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::BlobInfo>(),
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
        // The quota lock lives in its own task until the write is done, timeout or not.
        self.call_owned(
            a,
            &ctx,
            |s, me, a| async move {
                let bytes = decode_b64(&a.content_base64)?;
                s.check_size(bytes.len())?;
                let _quota = s.check_quota(&me, bytes.len() as u64).await?;
                let input = AssetInput {
                    mime: a.mime_type,
                    original_name: a.name,
                    tags: a.tags.unwrap_or_default(),
                    scope: a.scope,
                };
                Ok(s.artifacts()
                    .store_asset(&me, Source::Bytes(bytes), input)
                    .await?)
            },
            |b| stored("asset", b),
        )
        .await
    }

    #[tool(
        name = "artifact_get_asset",
        title = "Get an asset",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::BlobInfo>(),
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
        title = "List assets",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::Assets>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                let q = ListBlobs {
                    tags: a.tags.unwrap_or_default(),
                    mime_prefix: a.mime_prefix,
                    renders: Some(false),
                    ..Default::default()
                };
                Ok(self
                    .artifacts()
                    .list_blobs(&me, q)
                    .await
                    .map(|b| crate::mcp::outputs::Assets { assets: b })?)
            },
            |v| format!("{} assets.", v.assets.len()),
        )
        .await
    }

    #[tool(
        name = "artifact_delete_asset",
        title = "Delete an asset",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::Deleted>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                Ok(self
                    .artifacts()
                    .delete_blob(&me, a.id.parse::<RecordId>()?)
                    .await
                    .map(|()| crate::mcp::outputs::Deleted {
                        deleted: a.id.clone(),
                    })?)
            },
            |_| "Asset deleted.".into(),
        )
        .await
    }

    #[tool(
        name = "artifact_store_render",
        title = "Store a rendered video",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::BlobInfo>(),
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
        // The quota lock lives in its own task until the write is done, timeout or not.
        self.call_owned(
            a,
            &ctx,
            |s, me, a| async move {
                let (source, _quota) = match (a.content_base64, a.server_path) {
                    (Some(b64), None) => {
                        let bytes = decode_b64(&b64)?;
                        s.check_size(bytes.len())?;
                        let quota = s.check_quota(&me, bytes.len() as u64).await?;
                        (Source::Bytes(bytes), quota)
                    }
                    (None, Some(p)) => {
                        let (path, len) = s.server_path(&p).await?;
                        let quota = s.check_quota(&me, len).await?;
                        (Source::Path(path), quota)
                    }
                    _ => {
                        return Err(ToolError::Arguments(
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
                Ok(s.artifacts()
                    .store_render(
                        &me,
                        pid(&a.project_id)?,
                        a.checkpoint.as_deref(),
                        source,
                        None,
                        meta,
                    )
                    .await?)
            },
            |b| stored("render", b),
        )
        .await
    }

    #[tool(
        name = "artifact_get_render",
        title = "Get a render",
        output_schema = crate::mcp::outputs::schema::<crate::artifact::BlobInfo>(),
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
        title = "List renders",
        output_schema = crate::mcp::outputs::schema::<crate::mcp::outputs::RenderList>(),
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
        self.call(
            a,
            &ctx,
            async |me, a| {
                let q = ListBlobs {
                    project: a.project_id.as_deref().map(pid).transpose()?,
                    renders: Some(true),
                    ..Default::default()
                };
                Ok(self
                    .artifacts()
                    .list_blobs(&me, q)
                    .await
                    .map(|b| crate::mcp::outputs::RenderList { renders: b })?)
            },
            |v| format!("{} renders.", v.renders.len()),
        )
        .await
    }
}

pub(crate) fn mime_of_render(b: &crate::artifact::BlobInfo) -> &'static str {
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
                    .artifacts()
                    .get_blob(&self.caller(ctx)?, id.parse()?)
                    .await?;
                let is_render = matches!(b.kind, BlobKind::Render { .. });
                if is_render != render {
                    return Err(Error::not_found(ItemKind::Record, id).into());
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

/// The one-line summary of a stored asset or render.
fn stored(kind: &str, b: &BlobInfo) -> String {
    format!(
        "Stored {kind} {} ({} bytes), resource reel://{kind}s/{}.",
        b.id, b.size, b.id
    )
}
