//! Resources: project files, assets and renders by URI, with the same visibility checks
//! as the tools.
//!
//! - `reel://projects/{project_id}/files/{+path}` — a file of the working tree
//! - `reel://projects/{project_id}/checkpoints/{checkpoint}/files/{+path}` — a file of a checkpoint
//! - `reel://assets/{id}`, `reel://renders/{id}` — an asset's or render's bytes
//! - `reel://renders/{id}/poster` — a render's poster frame (JPEG)
//! - `reel://jobs/{id}/log` — a render job's log (installer and renderer output)
//! - `ui://reelstore/…` — the MCP Apps' pages (see `apps`)

use base64::Engine as _;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResponse, ReadResourceResult,
    Resource, ResourceContents, ResourceTemplate,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};

use super::error::{ToolError, ToolResult};
use super::server::ReelServer;
use crate::artifact::{BlobKind, ListBlobs, ListProjects, ProjectPath, mime_of_name};
use crate::error::Error;
use crate::object::EntryKind;

/// The largest resource `resources/read` returns: resources are where large content
/// goes, but a message still has to fit in memory.
const MAX_RESOURCE_BYTES: usize = 256 * 1024 * 1024;

/// Resources per `resources/list` page.
const PAGE: usize = 500;

/// Every resource the caller can read: their assets and renders, then the working-tree
/// files of their projects, with MIME types and sizes. Paged: the cursor is an offset.
pub async fn list(
    server: &ReelServer,
    cursor: Option<&str>,
    ctx: &RequestContext<RoleServer>,
) -> ToolResult<ListResourcesResult> {
    let me = server.caller(ctx)?;
    let a = server.artifacts();
    let offset: usize = match cursor {
        None => 0,
        Some(c) => c.parse().map_err(|_| ToolError::BadCursor(c.to_owned()))?,
    };
    // The MCP Apps' pages first: the same for every caller.
    let mut all = super::apps::resources();
    for b in a.list_blobs(&me, ListBlobs::default()).await? {
        let (kind, mime, title) = match &b.kind {
            BlobKind::Asset {
                mime,
                original_name,
                ..
            } => ("assets", mime.clone(), original_name.clone()),
            BlobKind::Render { project, .. } => (
                "renders",
                super::tools::mime_of_render(&b).to_owned(),
                format!("render of project {project}"),
            ),
        };
        all.push(
            Resource::new(format!("reel://{kind}/{}", b.id), title)
                .with_mime_type(mime)
                .with_size(b.size),
        );
    }
    let projects = a.list_projects(&me, ListProjects::default()).await?.items;
    for p in projects {
        for f in a.list_files(&me, p.id, None, true).await? {
            if f.kind == EntryKind::Dir {
                continue;
            }
            all.push(
                Resource::new(
                    format!("reel://projects/{}/files/{}", p.id, encode_path(&f.path)),
                    format!("{}: {}", p.name, f.path),
                )
                .with_mime_type(mime_of_name(&f.path))
                .with_size(f.size),
            );
        }
    }
    let next = (offset + PAGE < all.len()).then(|| (offset + PAGE).to_string());
    let mut result =
        ListResourcesResult::with_all_items(all.into_iter().skip(offset).take(PAGE).collect());
    result.next_cursor = next;
    Ok(result)
}

/// Characters of a project path that a URI cannot carry as they are (RFC 3986: all but
/// unreserved characters, sub-delimiters, `/`, `:` and `@`).
const PATH_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// A project path as it goes into a resource URI.
fn encode_path(path: &str) -> String {
    percent_encoding::utf8_percent_encode(path, PATH_ESCAPES).to_string()
}

/// The URI templates.
pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult {
        resource_templates: vec![
            ResourceTemplate::new("reel://projects/{project_id}/files/{+path}", "project-file")
                .with_description("A file of a project's working tree"),
            ResourceTemplate::new(
                "reel://projects/{project_id}/checkpoints/{checkpoint}/files/{+path}",
                "checkpoint-file",
            )
            .with_description("A file of a project's checkpoint (name, id or id prefix)"),
            ResourceTemplate::new("reel://assets/{id}", "asset")
                .with_description("An asset's bytes"),
            ResourceTemplate::new("reel://renders/{id}", "render")
                .with_description("A rendered video's bytes"),
            ResourceTemplate::new("reel://renders/{id}/poster", "render-poster")
                .with_description("A still from the middle of a rendered video (JPEG)"),
            ResourceTemplate::new("reel://jobs/{id}/log", "render-log").with_description(
                "A render job's log: everything its installer and renderer wrote (text)",
            ),
        ],
        ..Default::default()
    }
}

fn contents(uri: &str, bytes: Vec<u8>, mime: Option<String>) -> ResourceContents {
    let c = match String::from_utf8(bytes) {
        Ok(text)
            if mime
                .as_deref()
                .is_none_or(|m| m.starts_with("text/") || m.contains("json")) =>
        {
            ResourceContents::text(text, uri)
        }
        Ok(text) => ResourceContents::blob(
            base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
            uri,
        ),
        Err(e) => ResourceContents::blob(
            base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
            uri,
        ),
    };
    match mime {
        Some(m) => c.with_mime_type(m),
        None => c,
    }
}

async fn fetch(
    server: &ReelServer,
    uri: &str,
    ctx: &RequestContext<RoleServer>,
) -> ToolResult<ResourceContents> {
    let me = server.caller(ctx)?;
    let a = server.artifacts();
    let bad = || ToolError::NoSuchResource(uri.to_owned());
    let rest = uri.strip_prefix("reel://").ok_or_else(bad)?;
    let (bytes, mime) = if let Some(rest) = rest.strip_prefix("projects/") {
        let (head, path) = rest.split_once("/files/").ok_or_else(bad)?;
        // `{+path}` expands with `/` kept; a client that expanded `{path}` sent `%2F`.
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| bad())?;
        let mime = Some(mime_of_name(&decoded).to_owned());
        let path = ProjectPath::parse(&decoded)?;
        match head.split_once("/checkpoints/") {
            Some((project, checkpoint)) => (
                a.read_checkpoint_file(&me, project.parse()?, checkpoint, path, None)
                    .await?,
                mime,
            ),
            None => (a.read_file(&me, head.parse()?, path, None).await?, mime),
        }
    } else if let Some(id) = rest
        .strip_prefix("jobs/")
        .and_then(|r| r.strip_suffix("/log"))
    {
        let log = server.renders()?.log(&me, id.parse()?).await?;
        (log, Some("text/plain; charset=utf-8".to_owned()))
    } else if let Some(id) = rest
        .strip_prefix("renders/")
        .and_then(|r| r.strip_suffix("/poster"))
    {
        let jpeg = a.read_poster(&me, id.parse()?).await?;
        (jpeg, Some("image/jpeg".to_owned()))
    } else if let Some(id) = rest
        .strip_prefix("assets/")
        .or_else(|| rest.strip_prefix("renders/"))
    {
        let info = a.get_blob(&me, id.parse()?).await?;
        let mime = match &info.kind {
            BlobKind::Asset { mime, .. } => Some(mime.clone()),
            BlobKind::Render { .. } => Some(super::tools::mime_of_render(&info).to_owned()),
        };
        (a.read_blob(&me, info.id, None).await?, mime)
    } else {
        return Err(bad());
    };
    let limit = MAX_RESOURCE_BYTES.max(server.max_inline());
    if bytes.len() > limit {
        return Err(ToolError::TooLarge {
            size: bytes.len() as u64,
            limit: limit as u64,
        });
    }
    Ok(contents(uri, bytes, mime))
}

/// `resources/read`.
pub async fn read(
    server: &ReelServer,
    uri: &str,
    ctx: &RequestContext<RoleServer>,
) -> std::result::Result<ReadResourceResponse, McpError> {
    if let Some(app) = super::apps::read(uri) {
        return Ok(ReadResourceResult::new(vec![app]).into());
    }
    match fetch(server, uri, ctx).await {
        Ok(c) => Ok(ReadResourceResult::new(vec![c]).into()),
        Err(ToolError::NoSuchResource(_) | ToolError::Library(Error::NotFound { .. })) => Err(
            McpError::resource_not_found(format!("resource {uri} not found"), None),
        ),
        Err(e) => Err(McpError::invalid_params(e.to_string(), None)),
    }
}
