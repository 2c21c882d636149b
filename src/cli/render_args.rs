//! Arguments of `reel render` and of the render service (`reel render`, `reel serve`).

use std::path::PathBuf;

use clap::Args;

/// `reel render`: render a project, or a subcommand.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RenderArgs {
    /// Subcommands: stored renders, jobs, cache.
    #[command(subcommand)]
    pub cmd: Option<super::artifact_args::RenderCmd>,
    /// What to render and how.
    #[command(flatten)]
    pub run: RenderRunArgs,
    /// How renders run.
    #[command(flatten)]
    pub service: RenderServiceArgs,
}

/// `reel render PROJECT …`, or `reel render [REF]` in a directory repository.
#[derive(Debug, Args)]
pub struct RenderRunArgs {
    /// Project id (or unique prefix). In a directory repository (`reel init`), a
    /// checkpoint of it instead (name, id, prefix, HEAD~N; default HEAD).
    #[arg(value_name = "PROJECT|REF")]
    pub project: Option<String>,
    /// A project's checkpoint to render (id, prefix or name); default: its working
    /// tree. In a directory repository, the checkpoint to render.
    #[arg(long, value_name = "REF")]
    pub checkpoint: Option<String>,
    /// In a directory repository: render the directory as it is now, not a checkpoint.
    #[arg(long)]
    pub worktree: bool,
    /// With --worktree: the directory to render (default: the repository's).
    #[arg(long, value_name = "DIR", requires = "worktree")]
    pub dir: Option<std::path::PathBuf>,
    /// What decides the render: the library's own settings, as flags.
    #[command(flatten)]
    pub settings: reelstore::render::RenderSettings,
    /// Also write the video here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Once rendered, write the `package-lock.json` the install resolved into the
    /// project's working tree (pins the versions the render used).
    #[arg(long)]
    pub lock: bool,
}

/// How the render service runs renders.
#[derive(Debug, Args, Clone)]
pub struct RenderServiceArgs {
    /// Render cache (work directories, `node_modules`); default: `<repository>/cache/render`.
    #[arg(long, env = "REEL_RENDER_CACHE", value_name = "DIR")]
    pub render_cache: Option<PathBuf>,
    /// `node_modules` installs and the store of their files, shared by every repository
    /// (must be one filesystem); default: `$XDG_CACHE_HOME/reelstore/deps`
    /// (`~/.cache/reelstore/deps`).
    #[arg(long, env = "REEL_DEPS_CACHE", value_name = "DIR")]
    pub deps_cache: Option<PathBuf>,
    /// Chromium for Remotion (`--browser-executable`); default: the system Chromium.
    #[arg(long, env = "REEL_BROWSER", value_name = "PATH")]
    pub browser: Option<PathBuf>,
    /// Render with this command instead of Remotion. Placeholders: {workdir} {entry}
    /// {composition} {output} {props} {codec} {crf} {concurrency} {frames}.
    #[arg(long, env = "REEL_RENDER_COMMAND", value_name = "COMMAND")]
    pub render_command: Option<String>,
    /// Progress pattern for --render-command: a regex with named groups `done` and
    /// `total`, or `percent` (default: Remotion-style lines).
    #[arg(long, env = "REEL_PROGRESS_PATTERN", value_name = "REGEX")]
    pub progress_pattern: Option<String>,
    /// Version of the --render-command program (part of the render key).
    #[arg(long, default_value = "1", value_name = "VERSION")]
    pub render_command_version: String,
    /// Command that installs `node_modules` (run where `package.json` is).
    #[arg(
        long,
        env = "REEL_INSTALL_COMMAND",
        default_value = "npm install --no-audit --no-fund --loglevel=http"
    )]
    pub install_command: String,
    /// ffprobe to use when the project has none bundled (posters use the ffmpeg beside
    /// it: `ffmpeg` on `PATH` for the default).
    #[arg(
        long,
        env = "REEL_FFPROBE",
        default_value = "ffprobe",
        value_name = "PATH"
    )]
    pub ffprobe: PathBuf,
    /// Time limit of one render (e.g. `30m`).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub render_timeout: std::time::Duration,
    /// Renders that run at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub render_jobs: usize,
    /// Jobs that may wait for a render slot.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub render_queue: usize,
}
