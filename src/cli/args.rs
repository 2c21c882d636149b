//! Arguments, as clap parses them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// reel — content-addressed checkpoints for video-project workspaces.
#[derive(Debug, Parser)]
#[command(name = "reel", version, about, long_about = None)]
#[command(after_help = "Exit codes: 0 success, 1 error, 2 bad usage, 3 fsck found damage.")]
pub struct Cli {
    /// Repository directory (the `.reel` folder) or `file://` URL; default: the nearest
    /// `.reel` at or above the current directory.
    #[arg(long, global = true, env = "REEL_REPO", value_name = "PATH|URL")]
    pub repo: Option<String>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but results and errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Sandbox of the caller, for project, file, asset and render commands.
    #[arg(long, global = true, env = "REEL_SANDBOX")]
    pub sandbox: Option<String>,
    /// User id of the caller (default: the OS user).
    #[arg(long, global = true, env = "REEL_USER")]
    pub user: Option<String>,
    /// Session id of the caller.
    #[arg(long, global = true, env = "REEL_SESSION")]
    pub session: Option<String>,
    /// Colour: `auto` (on a terminal, unless `NO_COLOR` is set), `always` or `never`.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    /// Print long output (diffs, logs) directly instead of through a pager (`REEL_PAGER`,
    /// `PAGER`, else `less`, which is used only when stdout is a terminal).
    #[arg(long, global = true)]
    pub no_pager: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a repository (`.reel/` in the current directory, or --repo).
    Init(InitArgs),
    /// Make a new directory from the repository on a URL backend: attach to it and
    /// restore its HEAD there.
    Clone(CloneArgs),
    /// Record the directory as a new checkpoint.
    Checkpoint(CheckpointArgs),
    /// List checkpoints, newest first.
    Log(LogArgs),
    /// Show one checkpoint and what it changed.
    Show(ShowArgs),
    /// List the files of a checkpoint.
    Ls(LsArgs),
    /// Print a file of a checkpoint: `reel cat REF:PATH`.
    Cat {
        /// `REF:PATH`, e.g. `HEAD:src/Root.tsx`.
        spec: String,
    },
    /// Show what changed in the directory since it was last checkpointed or restored.
    Status {
        /// The directory (default: the repository's project directory, or the current
        /// one).
        dir: Option<PathBuf>,
    },
    /// Show what changed between two checkpoints, or a checkpoint and the directory.
    Diff(DiffArgs),
    /// Make a directory match a checkpoint, writing only what differs.
    Restore(RestoreArgs),
    /// List tags, tag a checkpoint (`reel tag NAME [REF]`) or delete a tag (`-d NAME`).
    Tag(TagArgs),
    /// Delete checkpoints (their data is freed by the next `reel gc`).
    Forget {
        /// Checkpoints: ids, unique prefixes, names, HEAD or HEAD~N.
        #[arg(required = true)]
        revs: Vec<String>,
    },
    /// Delete data no checkpoint needs.
    Gc(GcArgs),
    /// The index (`index.redb`): rebuild it from the packs.
    #[command(subcommand)]
    Index(IndexCmd),
    /// Verify the repository.
    Fsck(FsckArgs),
    /// Show repository sizes and counts.
    Stats,
    /// Move the repository to the newest format (3: edits inside large files stored as
    /// deltas); releases before it can no longer open it.
    Upgrade,
    /// Projects: virtual working trees with named checkpoints.
    #[command(subcommand)]
    Project(super::artifact_args::ProjectCmd),
    /// Files of a project's working tree.
    #[command(subcommand)]
    File(super::artifact_args::FileCmd),
    /// Stored assets (media).
    #[command(subcommand)]
    Asset(super::artifact_args::AssetCmd),
    /// Render a project (`reel render PROJECT …`), or manage renders and jobs.
    Render(Box<super::render_args::RenderArgs>),
    /// Print a shell completion script: `reel completions bash > /etc/bash_completion.d/reel`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `reel man | man -l -`.
    Man,
    /// Serve the MCP tools over stdio (default) or streamable HTTP.
    Serve(Box<ServeArgs>),
    /// Browse checkpoints, diffs, projects and renders in a web browser (local viewer).
    Ui(UiArgs),
}

/// `reel ui`.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to listen on. Anything but loopback needs --tokens.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// File of `USER TOKEN` (or `USER b3:HASH`) lines, as `reel serve` reads: each user
    /// signs in with `?token=TOKEN` and sees only their projects and renders.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Open the address in the desktop's browser (xdg-open).
    #[arg(long)]
    pub open: bool,
    /// How renders started from the page run.
    #[command(flatten)]
    pub render: super::render_args::RenderServiceArgs,
}

/// `reel init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where packs go: `local` (default: `.reel/packs/`), `redb` (one file,
    /// `.reel/packs.redb`), or a URL: `file:///dir`, `s3://bucket/prefix`, …
    #[arg(long, default_value = "local", value_name = "URL")]
    pub backend: String,
    /// zstd level for new objects (1-22).
    #[arg(long, default_value_t = 3)]
    pub compression_level: i32,
}

/// `reel clone`.
#[derive(Debug, Args)]
pub struct CloneArgs {
    /// The backend holding the repository: `s3://bucket/prefix?endpoint=…`, `gs://…`,
    /// `az://…`, `file:///dir`.
    pub url: String,
    /// The new directory (default: the last part of the URL's path, or its bucket).
    /// It must not exist, or be empty.
    pub dir: Option<PathBuf>,
}

/// `reel checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The directory to record (default: the repository's project directory).
    pub dir: Option<PathBuf>,
    /// Description of the checkpoint.
    #[arg(short, long, default_value = "")]
    pub message: String,
    /// A name for it, unique in the repository.
    #[arg(long)]
    pub name: Option<String>,
    /// Who made it (default: `REEL_AUTHOR`, the config's `author`, the OS user).
    #[arg(long)]
    pub author: Option<String>,
    /// Make a checkpoint even when nothing changed since HEAD.
    #[arg(long)]
    pub allow_empty: bool,
}

/// `reel log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Start from this checkpoint instead of HEAD.
    #[arg(conflicts_with = "all")]
    pub rev: Option<String>,
    /// Every checkpoint, newest first, also those not on HEAD's line (after a restore
    /// of an older checkpoint and a new one on it); HEAD is marked.
    #[arg(long)]
    pub all: bool,
    /// Show at most N checkpoints.
    #[arg(short = 'n', long, default_value_t = usize::MAX, hide_default_value = true)]
    pub max_count: usize,
    /// One line per checkpoint: short id, name, description.
    #[arg(long)]
    pub oneline: bool,
    /// Draw the lanes of the history to the left, as git does: with `--all`, where
    /// checkpoints made after restoring an older one branch off.
    #[arg(long)]
    pub graph: bool,
    /// Only checkpoints that changed these paths (after `--`).
    #[arg(last = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

/// `reel tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The tag (none: list the tags).
    pub name: Option<String>,
    /// The checkpoint to tag (default HEAD).
    #[arg(conflicts_with = "delete")]
    pub rev: Option<String>,
    /// Delete the tag.
    #[arg(short, long, requires = "name")]
    pub delete: bool,
    /// Move the tag if it exists.
    #[arg(short, long, conflicts_with = "delete")]
    pub force: bool,
}

/// `reel show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Checkpoint: id, unique prefix, name, HEAD, HEAD~N, HEAD^ (default HEAD).
    #[arg(default_value = "HEAD")]
    pub rev: String,
    /// The changed files with their added and removed lines, not the patch.
    #[arg(long)]
    pub stat: bool,
    /// The changed files, one line each, not the patch.
    #[arg(long, conflicts_with = "stat")]
    pub name_status: bool,
    /// Only the checkpoint's description, no changes.
    #[arg(long, short = 's', conflicts_with_all = ["stat", "name_status"])]
    pub no_patch: bool,
}

/// `reel ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Checkpoint.
    pub rev: String,
    /// Directory inside it (default: the root).
    pub path: Option<String>,
    /// List everything below, not just one level.
    #[arg(short, long)]
    pub recursive: bool,
}

/// `reel diff`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // one per flag, as git has them
pub struct DiffArgs {
    /// `[OLD [NEW]] [PATH…]`: the old side (default HEAD), the new side (default: the
    /// directory as it is now), then paths to limit the diff to (or after `--`).
    #[arg(value_name = "REF|PATH")]
    pub args: Vec<String>,
    /// Paths to limit the diff to (after `--`: never taken for checkpoints).
    #[arg(last = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// The changed files with their added and removed lines, not the patch.
    #[arg(long)]
    pub stat: bool,
    /// The changed files, one line each (`A`, `D`, `M`, `R`), not the patch.
    #[arg(long, conflicts_with = "stat")]
    pub name_status: bool,
    /// The patch (the default; for the habit of `git diff -p`).
    #[arg(short = 'p', long, conflicts_with_all = ["stat", "name_status"])]
    pub patch: bool,
    /// Exit with 1 when there are differences, 0 when there are none.
    #[arg(long)]
    pub exit_code: bool,
    /// Pair removed and added text files at least N percent alike as renames.
    #[arg(short = 'M', long = "find-renames", value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub find_renames: u8,
    /// Only renames of identical content.
    #[arg(long)]
    pub no_renames: bool,
}

/// `reel restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Checkpoint to restore.
    pub rev: String,
    /// Only these paths (relative to the directory; `--` before them is optional), as
    /// `git checkout REF -- PATH`: HEAD stays, and they show as changes until the next
    /// checkpoint.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// Target directory (default: the repository's project directory).
    #[arg(long)]
    pub to: Option<PathBuf>,
    /// Overwrite or remove files whose changes were never checkpointed (they are lost).
    #[arg(short, long)]
    pub force: bool,
}

/// `reel gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Show what would be deleted; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Defence in depth for what this host cannot see: packs younger than this are not
    /// examined, and writers on other machines count as running for this long (e.g.
    /// `1h`, `30m`, `0s`). Writers on this host are protected whatever it says. On a
    /// bucket other machines share, a pack is deleted only by a run this long (by the
    /// store's clock) after a run marked it condemned.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub grace: std::time::Duration,
    /// Also delete packs the index knows nothing of (older than the grace period). They
    /// may be another index's: only for a backend no other repository uses.
    #[arg(long)]
    pub prune_unknown: bool,
    /// Collect an index rebuilt from the packs (`reel index rebuild`): data only the
    /// lost index referenced (project working trees, assets, renders) is deleted.
    #[arg(long)]
    pub after_rebuild: bool,
}

/// `reel index …`.
#[derive(Debug, Subcommand)]
pub enum IndexCmd {
    /// Rebuild the index from the packs: objects, directory checkpoints, names, HEAD.
    /// A damaged index file is moved aside first, never deleted.
    Rebuild,
}

/// `reel fsck`.
#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Read every pack and verify every object's bytes.
    #[arg(long)]
    pub read_data: bool,
}

/// `reel serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve streamable HTTP on this port (path `/mcp`) instead of stdio; 0 picks a free one.
    #[arg(long, value_name = "PORT")]
    pub http: Option<u16>,
    /// Address to bind in HTTP mode.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// File of `USER TOKEN` (or `USER b3:HASH`) lines; every HTTP request needs one of the
    /// tokens as `Authorization: Bearer TOKEN`.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Accept unauthenticated HTTP requests (loopback only, for development).
    #[arg(long)]
    pub allow_anonymous: bool,
    /// Largest payload accepted or returned inline, in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub max_inline: usize,
    /// How long one tool call may run before it is abandoned (e.g. `5m`).
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Most bytes one user may hold (working trees, assets, renders); default: no limit.
    #[arg(long, value_name = "BYTES")]
    pub quota: Option<u64>,
    /// A directory `artifact_store_render` may read server-side files from (repeatable).
    #[arg(long = "allow-path", value_name = "DIR")]
    pub allow_paths: Vec<PathBuf>,
    /// How renders run (`artifact_render_video`).
    #[command(flatten)]
    pub render: super::render_args::RenderServiceArgs,
}
