//! The `reel` command line: clap arguments → one library call → printed result.

mod args;
mod artifact_args;
mod artifact_run;
mod hints;
mod output;
mod render_args;
mod render_run;
mod run;
mod serve;

pub use run::main;
