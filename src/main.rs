//! `reel`: the command-line face of reelstore.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
