//! The web face: `reel ui`, a local viewer for checkpoints, diffs, projects and renders.
//! Pages are rendered in Rust (maud) with a little plain CSS and JavaScript embedded in
//! the binary: no build step, no CDN, works offline. Every handler calls the library
//! with the request's [`Caller`](crate::Caller) and renders what it returns; no storage
//! logic lives here. See `docs/ui.md`.

mod assets;
mod auth;
mod error;
mod highlight;
mod jobs;
mod layout;
mod media;
mod patch_view;
mod project_files;
mod project_pages;
mod range;
mod render_pages;
mod repo_pages;
mod server;
mod tree_view;

pub use range::{RangeRequest, parse_range};
pub use server::{UiAccess, UiOptions, serve_ui};
