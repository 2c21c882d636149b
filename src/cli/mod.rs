//! The `reel` command line: clap arguments → one library call → printed result.

mod args;
mod artifact_args;
mod artifact_run;
mod blob_run;
mod clone;
mod graph;
mod hints;
mod history;
mod maintenance;
mod output;
mod patch_view;
mod project_run;
mod render_args;
mod render_dir;
mod render_lines;
mod render_run;
mod run;
mod serve;
mod ui;
mod working;

pub use run::main;
