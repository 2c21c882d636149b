//! What can go wrong rendering, before the public error: a renderer that cannot start
//! or be waited for, settings and templates that are not valid, a project without a
//! composition to render, output ffprobe cannot read, a run that failed.

use std::path::PathBuf;

use crate::error::Error;

/// The render layer's error.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A program (renderer, installer, ffprobe) could not be started.
    #[error("cannot start `{}`: {source}", .program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for a started program failed.
    #[error("waiting for `{}`: {source}", .program.display())]
    Wait {
        /// The program.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A setting (codec, quality, CRF, frames, …) or service option that is not valid.
    #[error("{0}")]
    Setting(String),
    /// A render command template or progress pattern that is not valid.
    #[error("{0}")]
    Template(String),
    /// No composition to render, or several and none chosen.
    #[error("{0}")]
    Composition(String),
    /// What the renderer wrote is not a video ffprobe can read.
    #[error("{0}")]
    Output(String),
    /// The renderer (or the install before it) failed.
    #[error("{message}")]
    Failed {
        /// One sentence.
        message: String,
        /// The relevant lines of its output.
        details: String,
    },
    /// The install could not be moved into the cache.
    #[error("cannot move the install into {}", .0.display())]
    Install(PathBuf),
    /// A job record that does not decode.
    #[error("render job record: {0}")]
    BadRecord(String),
}

impl From<RenderError> for Error {
    fn from(e: RenderError) -> Self {
        match e {
            RenderError::Spawn { program, source } => Error::Process { program, source },
            RenderError::Wait { program, source } => Error::Io {
                op: "wait for",
                path: program,
                source,
            },
            RenderError::Failed { message, details } => Error::Render { message, details },
            e @ RenderError::Output(_) => Error::Render {
                message: e.to_string(),
                details: String::new(),
            },
            e @ RenderError::Install(_) => Error::Internal(e.to_string()),
            RenderError::BadRecord(reason) => Error::Corrupt {
                what: "render job record".into(),
                pack: None,
                object: None,
                reason,
            },
            e => Error::Invalid(e.to_string()),
        }
    }
}
