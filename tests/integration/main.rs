//! Integration tests, one binary; modules mirror the features.
// A test reads as one scenario, start to end; the 60-line limit is for the library.
#![allow(clippy::too_many_lines)]

mod util;

mod adopt;
mod artifact_cli;
mod artifacts;
mod blocks;
mod cli;
mod concurrency;
mod corruption;
mod crash;
mod dedup;
mod deltas;
mod faults;
mod garage;
mod gc;
mod gc_race;
mod isolation;
mod mcp;
mod mcp_apps;
mod mcp_clients;
mod mcp_protocol;
mod mcp_tasks;
mod memory;
mod model;
mod patch_cli;
mod remotion_e2e;
mod render;
mod render_deps;
mod render_dir;
mod render_faces;
mod render_pinning;
mod render_poster;
mod restore_paths;
mod restore_swap;
mod roundtrip;
mod s3;
mod safety;
mod soak;
mod trailers;
mod ui;
mod ui_browser;
mod ui_projects;
