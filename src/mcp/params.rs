//! Tool parameters. Doc comments become the input schemas' descriptions.

use rmcp::schemars;
use serde::Deserialize;

/// `artifact_create_project`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateProjectArgs {
    /// Display name of the project.
    pub name: String,
    /// Who can see it: "session" (this session only; expires), "user" (you, in any session) or "sandbox" (everyone in this sandbox).
    pub scope: Option<crate::artifact::Scope>,
    /// Theme name, stored in metadata.
    pub theme: Option<String>,
    /// Frames per second, stored in metadata.
    pub fps: Option<u32>,
    /// Width in pixels, stored in metadata.
    pub width: Option<u32>,
    /// Height in pixels, stored in metadata.
    pub height: Option<u32>,
    /// Any other metadata (a JSON object).
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Lifetime in seconds, renewed by each write (session scope defaults to 86400; 0 = never expires).
    pub ttl_seconds: Option<u64>,
}

/// A project id.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ProjectArgs {
    /// The project's id (32 hex digits), from `artifact_create_project` or `artifact_list_projects`.
    pub project_id: String,
}

/// `artifact_list_projects`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListProjectsArgs {
    /// Only names containing this text.
    pub name_contains: Option<String>,
    /// Only this scope: "session", "user" or "sandbox".
    pub scope: Option<crate::artifact::Scope>,
    /// Order: "created" (oldest first, the default), "updated" (most recent first) or
    /// "name".
    pub sort: Option<crate::artifact::SortBy>,
    /// Skip this many (paging).
    pub offset: Option<usize>,
    /// At most this many (default 100).
    pub limit: Option<usize>,
}

/// `artifact_update_project`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UpdateProjectArgs {
    /// The project's id.
    pub project_id: String,
    /// New name.
    pub name: Option<String>,
    /// Metadata keys to set (merged).
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Metadata keys to remove.
    pub remove_keys: Option<Vec<String>>,
}

/// `artifact_write_file`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct WriteFileArgs {
    /// The project's id.
    pub project_id: String,
    /// Relative path with `/` separators, e.g. "src/Root.tsx". No `..`, no leading `/`.
    pub path: String,
    /// The content as UTF-8 text (give this or `content_base64`).
    pub content: Option<String>,
    /// The content as base64 (for binary files).
    pub content_base64: Option<String>,
    /// Mark the file executable.
    pub executable: Option<bool>,
}

/// A path in a project.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PathArgs {
    /// The project's id.
    pub project_id: String,
    /// Relative path with `/` separators.
    pub path: String,
}

/// `artifact_read_file`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReadFileArgs {
    /// The project's id.
    pub project_id: String,
    /// Relative path with `/` separators.
    pub path: String,
    /// Return base64 instead of text (for binary files).
    pub base64: Option<bool>,
    /// Start at this byte.
    pub offset: Option<u64>,
    /// Read at most this many bytes.
    pub length: Option<u64>,
}

/// `artifact_list_files`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListFilesArgs {
    /// The project's id.
    pub project_id: String,
    /// Directory to list (default: the root).
    pub path: Option<String>,
    /// List everything below, not just one level.
    pub recursive: Option<bool>,
}

/// `artifact_move_file`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct MoveFileArgs {
    /// The project's id.
    pub project_id: String,
    /// Current path.
    pub from: String,
    /// New path (must not exist).
    pub to: String,
}

/// `artifact_create_checkpoint`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateCheckpointArgs {
    /// The project's id.
    pub project_id: String,
    /// Name, unique in the project: letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// What this checkpoint is.
    pub description: Option<String>,
}

/// A checkpoint of a project.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CheckpointArgs {
    /// The project's id.
    pub project_id: String,
    /// The checkpoint's name, id, or unique id prefix (4+ hex digits).
    pub checkpoint: String,
}

/// `artifact_diff`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DiffArgs {
    /// The project's id.
    pub project_id: String,
    /// The old side: a checkpoint name, id or prefix.
    pub from: String,
    /// The new side (default: the current working tree).
    pub to: Option<String>,
    /// Also return each file's line diff (unified hunks; text files only) in `patches`.
    pub lines: Option<bool>,
}

/// `artifact_log`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LogArgs {
    /// The project's id.
    pub project_id: String,
    /// At most this many entries (default 50).
    pub limit: Option<usize>,
}

/// `artifact_store_asset`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct StoreAssetArgs {
    /// The bytes as base64.
    pub content_base64: String,
    /// MIME type, e.g. "image/png".
    pub mime_type: String,
    /// The original file name.
    pub name: String,
    /// Tags for finding it again.
    pub tags: Option<Vec<String>>,
    /// "session", "user" or "sandbox".
    pub scope: Option<crate::artifact::Scope>,
}

/// An asset or render id.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct BlobArgs {
    /// The id (32 hex digits).
    pub id: String,
}

/// `artifact_list_assets`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListAssetsArgs {
    /// Only assets carrying every one of these tags.
    pub tags: Option<Vec<String>>,
    /// Only MIME types starting with this, e.g. "image/".
    pub mime_prefix: Option<String>,
}

/// `artifact_store_render`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct StoreRenderArgs {
    /// The project it was rendered from.
    pub project_id: String,
    /// The checkpoint it was rendered from.
    pub checkpoint: Option<String>,
    /// The video as base64 (or give `server_path`).
    pub content_base64: Option<String>,
    /// A path on the server, inside a directory the operator allowed with --allow-path.
    pub server_path: Option<String>,
    /// Container, e.g. "mp4".
    pub container: Option<String>,
    /// Video codec, e.g. "h264".
    pub codec: Option<String>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Duration in seconds.
    pub duration_seconds: Option<f64>,
}

/// `artifact_list_renders`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListRendersArgs {
    /// Only renders of this project.
    pub project_id: Option<String>,
}

/// Tool arguments that never fail to decode: a mismatch (a string where a number
/// belongs, a missing field) becomes an `isError` result naming the problem instead of
/// a protocol error, and so does an argument `T` does not take. The input schema is
/// `T`'s with `additionalProperties: false`, and optional arguments typed as what they
/// are rather than also `null` (clients' strict modes warn on `["string", "null"]`;
/// `null` is still accepted as "not given").
#[derive(Debug)]
pub struct Lenient<T>(pub std::result::Result<T, String>);

impl<'de, T: serde::de::DeserializeOwned + schemars::JsonSchema + 'static> Deserialize<'de>
    for Lenient<T>
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(Lenient(strict::<T>(value)))
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Lenient<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = T::json_schema(generator).to_value();
        drop_null(&mut schema);
        super::outputs::portable(&mut schema);
        if let serde_json::Value::Object(o) = &mut schema {
            o.insert("additionalProperties".into(), false.into());
        }
        schemars::Schema::try_from(schema).expect("a schema stays a schema")
    }
}

/// `value` as `T`, refusing arguments `T`'s schema does not list: a misspelt optional
/// argument silently ignored would do the wrong thing without a word.
fn strict<T: serde::de::DeserializeOwned + schemars::JsonSchema + 'static>(
    value: serde_json::Value,
) -> std::result::Result<T, String> {
    if let serde_json::Value::Object(given) = &value {
        let schema =
            rmcp::handler::server::common::schema_for_input::<Lenient<T>>().unwrap_or_default();
        let known = schema
            .get("properties")
            .and_then(serde_json::Value::as_object);
        let unknown: Vec<&str> = given
            .keys()
            .filter(|k| known.is_none_or(|p| !p.contains_key(*k)))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let names = |keys: Vec<&str>| {
                keys.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let takes = known.map_or_else(String::new, |p| {
                format!(
                    " (it takes {})",
                    names(p.keys().map(String::as_str).collect())
                )
            });
            return Err(format!("unknown argument {}{takes}", names(unknown)));
        }
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Removes `null` as an alternative type from every subschema below `v`.
fn drop_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    let Value::Object(o) = v else {
        if let Value::Array(items) = v {
            items.iter_mut().for_each(drop_null);
        }
        return;
    };
    if let Some(Value::Array(types)) = o.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            o.insert("type".into(), only);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alts)) = o.get_mut(key) {
            alts.retain(|a| *a != serde_json::json!({"type": "null"}));
            if alts.len() == 1 {
                let Some(Value::Object(only)) = alts.pop() else {
                    continue;
                };
                o.remove(key);
                for (k, val) in only {
                    o.entry(k).or_insert(val);
                }
            }
        }
    }
    if let Some(Value::Array(e)) = o.get_mut("enum") {
        e.retain(|x| !x.is_null());
    }
    for (_, sub) in o.iter_mut() {
        drop_null(sub);
    }
}

/// `artifact_render_video`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RenderVideoArgs {
    /// The project to render.
    pub project_id: String,
    /// Checkpoint to render (id, unique prefix or name); default: the working tree.
    pub checkpoint: Option<String>,
    /// What decides the render (codec, quality, frames, …): the library's settings.
    #[serde(flatten)]
    pub settings: crate::render::RenderSettings,
    /// Earlier spelling of `frames[0]`, still accepted (with `last_frame`).
    pub first_frame: Option<u32>,
    /// Earlier spelling of `frames[1]`, still accepted (with `first_frame`).
    pub last_frame: Option<u32>,
    /// Wait for the video (true, with progress notifications); false returns the job at
    /// once: poll `artifact_render_status`. Default: a task handle for a client that
    /// declares the tasks extension, otherwise wait.
    pub wait: Option<bool>,
}

/// `artifact_render_status`, `artifact_cancel_render`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct JobArgs {
    /// The job id `artifact_render_video` returned.
    pub job_id: String,
}
