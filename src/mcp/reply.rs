//! Turning a tool's outcome into a `tools/call` result: structured output with a short
//! text summary, or an `isError` result with one sentence and `{"error": {code,
//! message}}` as its structured content. Tool failures are results, never protocol
//! errors.

use rmcp::ErrorData as McpError;
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

use super::error::{ToolError, ToolResult};
use crate::artifact::{ProjectId, ProjectPath};

/// Unwraps [`super::params::Lenient`] arguments, or returns the decoding problem as an
/// `isError` result.
macro_rules! arguments {
    ($a:expr) => {
        match $a.0 {
            Ok(a) => a,
            Err(e) => {
                return Ok(
                    $crate::mcp::reply::failure(&$crate::mcp::error::ToolError::Arguments(
                        e.to_string(),
                    ))
                    .into(),
                );
            }
        }
    };
}
pub(crate) use arguments;

/// A tool failure as an `isError` result.
pub fn failure(e: &ToolError) -> CallToolResult {
    let message = e.to_string();
    let envelope = super::outputs::Failure {
        error: super::outputs::FailureBody {
            code: e.code().to_owned(),
            message: message.clone(),
        },
    };
    let mut r = CallToolResult::error(vec![ContentBlock::text(message)]);
    r.structured_content = Some(serde_json::to_value(envelope).expect("an error serializes"));
    r
}

/// Results whose JSON is larger than this carry it only as structured content, not
/// also as text: a file read near `--max-inline` (8 MiB, 11 MiB in base64) would
/// otherwise be sent twice, past the 16 MiB a client such as rmcp's accepts.
const TEXT_COPY_LIMIT: usize = 1 << 20;

/// Structured output plus a short text summary (and, for results up to 1 MiB, the
/// serialized JSON as text, for clients that read no structured content).
pub fn success<T: Serialize>(value: &T, summary: String) -> CallToolResult {
    let json = serde_json::to_value(value).expect("tool results serialize");
    // Serialized once, for the text copy and its size.
    let text = json.to_string();
    let content = if text.len() > TEXT_COPY_LIMIT {
        vec![ContentBlock::text(format!(
            "{summary} (the result, over 1 MiB, is in structuredContent only)"
        ))]
    } else {
        vec![ContentBlock::text(summary), ContentBlock::text(text)]
    };
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(json);
    result
}

/// A tool's outcome as its result.
// Tools return `Result` for rmcp; failures are `isError` results, never protocol errors.
#[allow(clippy::unnecessary_wraps)]
pub fn reply<T: Serialize>(
    r: ToolResult<T>,
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

/// A project id argument.
pub fn pid(s: &str) -> ToolResult<ProjectId> {
    Ok(s.parse()?)
}

/// A project path argument.
pub fn path(s: &str) -> ToolResult<ProjectPath> {
    Ok(ProjectPath::parse(s)?)
}

/// A `content_base64` argument.
pub fn decode_b64(s: &str) -> ToolResult<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| ToolError::Arguments(format!("content_base64 is not valid base64: {e}")))
}
