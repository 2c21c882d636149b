//! What each tool returns as `structuredContent`, and the `outputSchema` every tool
//! lists for it. The schemas are derived from the same types the results are
//! serialized from (rmcp's serialize contract), so they cannot drift apart. An
//! `isError` result carries [`Failure`] (`{"error": {code, message}}`) instead, and
//! every schema admits that too: the SDKs validate successful results only, but some
//! clients (the MCP Inspector) validate whatever structured content arrives.

use std::sync::Arc;

use rmcp::model::JsonObject;
use rmcp::schemars;
use serde::Serialize;

use crate::artifact::{BlobInfo, CheckpointInfo, FileInfo};
use crate::{Change, LogEntry};

/// The `outputSchema` of a tool returning `T`: an object that is either `T` (rmcp's
/// serialize-contract schema) or a [`Failure`], with each `"type": [X, "null"]` spelt
/// as `anyOf` branches of one type each (the form clients that map schemas onto a
/// single-`type` dialect accept; the Inspector's `--strict` check flags the other) and
/// no non-standard `format`s.
pub fn schema<T: schemars::JsonSchema + 'static>() -> Arc<JsonObject> {
    let mut result = rmcp::handler::server::common::schema_for_output::<T>()
        .as_ref()
        .clone();
    let failure = rmcp::handler::server::common::schema_for_output::<Failure>();
    let mut defs = match result.remove("$defs") {
        Some(serde_json::Value::Object(d)) => d,
        _ => serde_json::Map::new(),
    };
    let schema_uri = result.remove("$schema");
    let mut failure = failure.as_ref().clone();
    failure.remove("$schema");
    if let Some(serde_json::Value::Object(more)) = failure.remove("$defs") {
        defs.extend(more);
    }
    defs.insert("Failure".into(), failure.into());
    let mut root = serde_json::Map::new();
    if let Some(uri) = schema_uri {
        root.insert("$schema".into(), uri);
    }
    root.insert("type".into(), "object".into());
    root.insert(
        "anyOf".into(),
        serde_json::json!([result, {"$ref": "#/$defs/Failure"}]),
    );
    root.insert("$defs".into(), defs.into());
    let mut schema = serde_json::Value::Object(root);
    portable(&mut schema);
    let serde_json::Value::Object(schema) = schema else {
        unreachable!("an object stays an object")
    };
    Arc::new(schema)
}

/// What an `isError` result carries as structured content.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Failure {
    /// The failure.
    pub error: FailureBody,
}

/// A failure: a stable code a client can act on, and one sentence for people.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FailureBody {
    /// `not_found`, `conflict`, `invalid_argument`, `quota_exceeded`, `too_large`,
    /// `timeout`, … (docs/mcp.md lists them all).
    pub code: String,
    /// What went wrong, in one sentence.
    pub message: String,
}

/// Makes a schema portable: `"type": [A, B]` as `anyOf` branches, and schemars'
/// numeric `format`s (`uint64`, `int32`, `double`, …), which are not JSON Schema
/// formats and which validators such as Ajv warn about, removed.
pub(super) fn portable(v: &mut serde_json::Value) {
    strip_formats(v);
    split_types(v);
}

fn strip_formats(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            let numeric = o.get("format").and_then(Value::as_str).is_some_and(|f| {
                let bits = f.trim_start_matches("uint").trim_start_matches("int");
                matches!(f, "float" | "double") || bits.is_empty() || bits.parse::<u8>().is_ok()
            });
            if numeric && o.get("type") != Some(&Value::String("string".into())) {
                o.remove("format");
            }
            o.values_mut().for_each(strip_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_formats),
        _ => {}
    }
}

/// Rewrites every `"type": [A, B, …]` below `v` as `"anyOf": [{"type": A}, …]`.
fn split_types(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            if matches!(o.get("type"), Some(Value::Array(_)))
                && !o.contains_key("anyOf")
                && let Some(Value::Array(types)) = o.remove("type")
            {
                let branches = types
                    .into_iter()
                    .map(|t| serde_json::json!({ "type": t }))
                    .collect();
                o.insert("anyOf".into(), Value::Array(branches));
            }
            o.values_mut().for_each(split_types);
        }
        Value::Array(items) => items.iter_mut().for_each(split_types),
        _ => {}
    }
}

/// What a delete removed (a project, file, asset, render or checkpoint).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Deleted {
    /// The id or path deleted.
    pub deleted: String,
}

/// A file's content, or the resource to read it through when too large to inline.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FileContent {
    /// The path read.
    pub path: String,
    /// Bytes read.
    pub size: u64,
    /// The content as text (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The content as base64 (`base64: true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    /// The resource to read instead, when the content is over the inline limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// A directory listing.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Files {
    /// The entries.
    pub files: Vec<FileInfo>,
}

/// A file moved.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Moved {
    /// The old path.
    pub from: String,
    /// The new path.
    pub to: String,
}

/// A project's checkpoints.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Checkpoints {
    /// In creation order.
    pub checkpoints: Vec<CheckpointInfo>,
}

/// What differs between two states of a project.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Changes {
    /// The changed paths.
    pub changes: Vec<Change>,
    /// Each changed file's line diff, when asked for with `lines`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<crate::engine::patch::FilePatch>>,
}

/// A project's history.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Log {
    /// Newest first.
    pub log: Vec<LogEntry>,
}

/// Assets listed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Assets {
    /// The assets.
    pub assets: Vec<BlobInfo>,
}

/// Renders listed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RenderList {
    /// The renders.
    pub renders: Vec<BlobInfo>,
}
