//! Tool failures in the MCP face's words, each with a stable machine-readable code a
//! client can act on. Library errors keep their meaning; the face adds its own
//! refusals (arguments, authentication, size, quota, time).

use std::time::Duration;

use crate::error::Error;

/// Why a tool call failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The library said no.
    #[error(transparent)]
    Library(#[from] Error),
    /// Arguments that do not fit the tool.
    #[error("invalid arguments: {0}")]
    Arguments(String),
    /// An HTTP request without a known bearer token.
    #[error("unauthenticated request")]
    Unauthenticated,
    /// A payload over the inline limit.
    #[error(
        "{size} bytes is more than the {limit}-byte inline limit; write large files in parts or from a server path"
    )]
    TooLarge {
        /// Its size.
        size: u64,
        /// The server's `--max-inline`.
        limit: u64,
    },
    /// A write past the caller's quota.
    #[error(
        "this write of {adding} bytes would exceed your quota of {quota} bytes ({used} in use); delete something first"
    )]
    Quota {
        /// What the write adds.
        adding: u64,
        /// The quota.
        quota: u64,
        /// What the caller holds now.
        used: u64,
    },
    /// The call ran past the server's `--timeout`.
    #[error("the request took longer than {} s and was abandoned", .after.as_secs())]
    Timeout {
        /// The limit.
        after: Duration,
    },
    /// The server runs without a render service.
    #[error("rendering is not enabled on this server")]
    RenderingDisabled,
    /// A server path outside `--allow-path`.
    #[error("{0} is outside the directories this server may read")]
    OutsideAllowedPaths(String),
    /// A resource URI that names nothing (or nothing the caller may see).
    #[error("resource {0} not found")]
    NoSuchResource(String),
    /// A cursor this server did not hand out.
    #[error("invalid cursor {0:?}")]
    BadCursor(String),
    /// A file read as text that is not UTF-8.
    #[error("{0} is not UTF-8 text; read it with base64: true")]
    NotText(String),
}

/// Result of a tool's work.
pub type ToolResult<T> = std::result::Result<T, ToolError>;

impl ToolError {
    /// The stable code of this failure: what a client can branch on.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            ToolError::Library(e) => e.code(),
            ToolError::Arguments(_) | ToolError::NotText(_) | ToolError::BadCursor(_) => {
                "invalid_argument"
            }
            ToolError::NoSuchResource(_) => "not_found",
            ToolError::Unauthenticated => "unauthenticated",
            ToolError::TooLarge { .. } => "too_large",
            ToolError::Quota { .. } => "quota_exceeded",
            ToolError::Timeout { .. } => "timeout",
            ToolError::RenderingDisabled => "unsupported",
            ToolError::OutsideAllowedPaths(_) => "permission_denied",
        }
    }
}
