//! MCP Apps (the `io.modelcontextprotocol/ui` extension, SEP-1865): two small HTML
//! applications a host that supports the extension shows next to a tool's result — a
//! player for `artifact_render_video` and a line-diff viewer for `artifact_diff`.
//!
//! Each is one self-contained page (no network access, no CDN) served as a `ui://`
//! resource of type `text/html;profile=mcp-app`, linked from its tool by
//! `_meta.ui.resourceUri`. The page talks to the host only: JSON-RPC over
//! `postMessage` (`ui/initialize`, then the host's `ui/notifications/tool-result`), and
//! reads what it shows through the host with `resources/read` (the render's video and
//! poster) or `tools/call` (`artifact_diff` with `lines`), so every read is the
//! caller's own and passes the server's visibility checks. Hosts without the
//! extension ignore the `_meta` and the tools work as before.

use rmcp::model::{MetaObject, Resource, ResourceContents, ServerCapabilities};
use serde_json::json;

/// The MIME type of an MCP App page.
pub const APP_MIME: &str = "text/html;profile=mcp-app";

/// The render player, linked from `artifact_render_video`.
pub const PLAYER_APP: &str = "ui://reelstore/render-player.html";

/// The checkpoint diff, linked from `artifact_diff`.
pub const DIFF_APP: &str = "ui://reelstore/checkpoint-diff.html";

/// The closing tags of a page: its script is the shared bridge then its own code.
macro_rules! page {
    ($name:literal) => {
        concat!(
            include_str!(concat!("apps/", $name, ".html")),
            include_str!("apps/bridge.js"),
            include_str!(concat!("apps/", $name, ".js")),
            "</script>\n</body>\n</html>\n"
        )
    };
}

const PLAYER_HTML: &str = page!("render-player");
const DIFF_HTML: &str = page!("checkpoint-diff");

fn object(v: serde_json::Value) -> MetaObject {
    match v {
        serde_json::Value::Object(m) => MetaObject(m),
        _ => unreachable!("an object literal"),
    }
}

/// A tool's `_meta` linking it to app `uri` (`ui.resourceUri`, and the flat
/// `ui/resourceUri` key hosts written against the draft read).
#[must_use]
pub fn tool_meta(uri: &str) -> MetaObject {
    object(json!({ "ui": { "resourceUri": uri }, "ui/resourceUri": uri }))
}

/// The `_meta` of an app's resource: a border, and no outside origins at all.
fn resource_meta() -> MetaObject {
    object(
        json!({ "ui": { "prefersBorder": true, "csp": { "connectDomains": [], "resourceDomains": [] } } }),
    )
}

/// The extension's id.
pub const EXTENSION: &str = "io.modelcontextprotocol/ui";

/// Declares the extension in the server's capabilities, with the page type it serves.
pub fn declare(capabilities: &mut ServerCapabilities) {
    let serde_json::Value::Object(settings) = json!({ "mimeTypes": [APP_MIME] }) else {
        unreachable!("an object literal")
    };
    capabilities
        .extensions
        .get_or_insert_with(Default::default)
        .insert(EXTENSION.to_owned(), settings);
}

/// The apps as `resources/list` entries.
#[must_use]
pub fn resources() -> Vec<Resource> {
    [
        (
            PLAYER_APP,
            "render-player",
            "Plays a render and shows its metadata",
            PLAYER_HTML,
        ),
        (
            DIFF_APP,
            "checkpoint-diff",
            "Shows a checkpoint diff line by line",
            DIFF_HTML,
        ),
    ]
    .into_iter()
    .map(|(uri, name, description, html)| {
        Resource::new(uri, name)
            .with_description(description)
            .with_mime_type(APP_MIME)
            .with_size(html.len() as u64)
            .with_meta(resource_meta())
    })
    .collect()
}

/// An app's page for `resources/read`, if `uri` names one.
#[must_use]
pub fn read(uri: &str) -> Option<ResourceContents> {
    let html = match uri {
        PLAYER_APP => PLAYER_HTML,
        DIFF_APP => DIFF_HTML,
        _ => return None,
    };
    Some(
        ResourceContents::text(html, uri)
            .with_mime_type(APP_MIME)
            .with_meta(resource_meta()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_app_is_one_page_that_reaches_nothing_outside() {
        for html in [PLAYER_HTML, DIFF_HTML] {
            assert!(html.starts_with("<!doctype html>"));
            for outside in [
                "http://",
                "https://",
                "src=\"//",
                "fetch(",
                "XMLHttpRequest",
                "WebSocket",
            ] {
                assert!(!html.contains(outside), "{outside}");
            }
            assert!(
                html.contains("ui/initialize") && html.contains("ui/notifications/tool-result")
            );
        }
        assert!(read(PLAYER_APP).is_some() && read(DIFF_APP).is_some());
        assert!(read("ui://reelstore/other.html").is_none());
    }
}
