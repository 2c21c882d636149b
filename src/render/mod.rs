//! The render pipeline: a project's tree (a checkpoint or the working tree) is
//! materialized into a fixed work directory, its `node_modules` linked from a shared
//! cache, the renderer (Remotion by default) run as a job with progress, timeout and
//! cancellation, the output probed with ffprobe and stored as a render — memoized by
//! BLAKE3(tree, canonical settings, renderer identity, the versions the install
//! resolved), so the same inputs never render twice; each job's output is kept as a
//! log. See `docs/render.md`.

mod cache;
mod deps;
mod deps_store;
mod diagnose;
mod error;
#[cfg(test)]
mod fixture_tests;
mod job;
mod log;
mod memo;
mod pipeline;
mod poster;
mod probe;
mod process;
mod progress;
mod renderer;
mod resolved;
mod service;
mod settings;
mod shared_jobs;
#[cfg(test)]
mod shared_tests;

pub use cache::PruneReport;
pub use diagnose::{Diagnosis, diagnose};
pub use error::RenderError;
pub use job::{JobStatus, render_key};
pub use log::JobLog;
pub use probe::parse as parse_ffprobe;
pub use process::CommandSpec;
pub use progress::{LineParser, PatternParser, RemotionParser, RenderProgress, Stage};
pub use renderer::{CommandTemplate, Invocation, Remotion, Renderer, find_browser};
pub use resolved::Resolved;
pub use service::{RenderConfig, RenderRequest, Renders};
pub use settings::{Codec, ImageFormat, Quality, RenderSettings};
