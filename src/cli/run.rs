//! Dispatch: each subcommand validates its arguments, calls one library method and
//! prints the result.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use super::args::{Cli, Command};
use super::output::{self};
use reelstore::{Error, REPO_DIR_NAME, Repository};

/// Exit code when fsck finds damage.
pub(super) const EXIT_DAMAGED: u8 = 3;

pub(super) enum Failure {
    Reel(Error),
    Output(std::io::Error),
    Damaged,
    /// `--exit-code` and there were differences: exit 1, nothing printed.
    Differ,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Reel(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Output(e)
    }
}

pub(super) type Outcome = Result<(), Failure>;

/// Runs the command line; the process exit code.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("REEL_LOG").unwrap_or_else(|_| "warn".into());
    // Colour only on a terminal: a log file or a pipe gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.json;
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("error: writing output: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Damaged) => ExitCode::from(EXIT_DAMAGED),
        Err(Failure::Differ) => ExitCode::FAILURE,
        Err(Failure::Reel(e)) if json => {
            output::json_error(&e);
            ExitCode::FAILURE
        }
        Err(Failure::Reel(e)) => {
            output::error(&e);
            ExitCode::FAILURE
        }
    }
}

/// Bad usage: clap's own message (exit 2), or with `--json` anywhere on the line one
/// JSON error on stdout like every other failure, `{"error": {"code":
/// "invalid_argument", …}}`. Help and version are printed as clap prints them.
fn usage_error(e: &clap::Error) -> ExitCode {
    let json = std::env::args().skip(1).any(|a| a == "--json");
    if !json || !e.use_stderr() {
        e.exit();
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
    let message = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    let tips: Vec<&str> = lines
        .filter_map(|l| l.trim().strip_prefix("tip: "))
        .collect();
    let hint = if tips.is_empty() {
        "`reel --help` and `reel COMMAND --help` list the arguments".to_owned()
    } else {
        tips.join("; ")
    };
    let err = serde_json::json!({ "code": "invalid_argument", "message": message, "hint": hint });
    let _ = output::out(&format!("{:#}\n", serde_json::json!({ "error": err })));
    ExitCode::from(2)
}

pub(super) fn repo_path(cli: &Cli) -> Result<Option<PathBuf>, Error> {
    let Some(raw) = &cli.repo else {
        return Ok(None);
    };
    if let Some(rest) = raw.strip_prefix("file://") {
        return Ok(Some(PathBuf::from(rest)));
    }
    if raw.contains("://") {
        return Err(Error::Invalid(format!(
            "--repo `{raw}`: a repository keeps its index locally; create one with `reel init --backend {raw}` and pass its directory"
        )));
    }
    let path = PathBuf::from(raw);
    // Accept the project directory as well as the `.reel` folder inside it.
    let inner = path.join(REPO_DIR_NAME);
    Ok(Some(if inner.join("config").is_file() {
        inner
    } else {
        path
    }))
}

pub(super) async fn open(cli: &Cli) -> Result<Repository, Error> {
    let dir = if let Some(p) = repo_path(cli)? {
        p
    } else {
        let cwd = std::env::current_dir().map_err(Error::io("read current directory", "."))?;
        Repository::discover(&cwd)?
    };
    Repository::open(dir).await
}

pub(super) fn workdir(repo: &Repository, given: Option<&Path>) -> Result<PathBuf, Error> {
    match given {
        Some(p) => Ok(p.to_path_buf()),
        None => repo.workdir().map_or_else(
            || std::env::current_dir().map_err(Error::io("read current directory", ".")),
            Ok,
        ),
    }
}

pub(super) async fn run(cli: Cli) -> Outcome {
    match &cli.command {
        Command::Init(args) => super::working::init(&cli, args).await,
        Command::Clone(args) => super::clone::clone(&cli, args).await,
        Command::Checkpoint(args) => super::working::checkpoint(&cli, args).await,
        Command::Log(args) => super::history::log(&cli, args).await,
        Command::Show(args) => super::history::show(&cli, args).await,
        Command::Ls(args) => super::history::ls(&cli, args).await,
        Command::Cat { spec } => super::history::cat(&cli, spec).await,
        Command::Diff(args) => super::history::diff(&cli, args).await,
        Command::Status { dir } => super::working::status(&cli, dir.as_deref()).await,
        Command::Restore(args) => super::working::restore(&cli, args).await,
        Command::Tag(args) => super::history::tag(&cli, args).await,
        Command::Forget { revs } => super::maintenance::forget(&cli, revs).await,
        Command::Gc(args) => super::maintenance::gc(&cli, args).await,
        Command::Index(cmd) => super::maintenance::index(&cli, cmd).await,
        Command::Fsck(args) => super::maintenance::fsck(&cli, args).await,
        Command::Stats => super::maintenance::stats(&cli).await,
        Command::Upgrade => super::maintenance::upgrade(&cli).await,
        Command::Project(cmd) => super::project_run::project(&cli, cmd).await,
        Command::File(cmd) => super::blob_run::file(&cli, cmd).await,
        Command::Asset(cmd) => super::blob_run::asset(&cli, cmd).await,
        Command::Render(args) => super::render_run::render(&cli, args).await,
        Command::Serve(args) => super::serve::serve(&cli, args).await,
        Command::Ui(args) => super::ui::ui(&cli, args).await,
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory first: the generator panics on a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "reel", &mut script);
            Ok(output::out(&String::from_utf8_lossy(&script))?)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            Ok(output::out(&String::from_utf8_lossy(&page))?)
        }
    }
}
