//! The `reel` command line: clap arguments → one library call → printed result.

mod args;
mod output;
mod run;

pub use run::main;
