//! Arguments of the artifact commands: `reel project|file|asset|render …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `reel project …`.
#[derive(Debug, Subcommand)]
pub enum ProjectCmd {
    /// Create a project.
    Create {
        /// Its name.
        name: String,
        /// session, user or sandbox (default: user; session needs --session).
        #[arg(long, value_enum)]
        scope: Option<reelstore::Scope>,
        /// Metadata, `KEY=VALUE` (VALUE parsed as JSON when it is valid JSON).
        #[arg(long = "meta", value_name = "KEY=VALUE")]
        meta: Vec<String>,
        /// Lifetime in seconds, renewed on each write; 0 = never expires.
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// List your projects.
    #[command(visible_alias = "ls")]
    List(ProjectListArgs),
    /// Show a project.
    Show {
        /// Project id.
        project: String,
    },
    /// Change a project's name or metadata.
    Set {
        /// Project id.
        project: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// Set metadata, `KEY=VALUE`.
        #[arg(long = "meta", value_name = "KEY=VALUE")]
        meta: Vec<String>,
        /// Remove a metadata key.
        #[arg(long)]
        unset: Vec<String>,
    },
    /// Delete a project.
    Delete {
        /// Project id.
        project: String,
    },
    /// Checkpoint a project's working tree.
    Checkpoint(ProjectCheckpointArgs),
    /// List a project's checkpoints.
    Checkpoints {
        /// Project id.
        project: String,
    },
    /// A project's history.
    Log {
        /// Project id.
        project: String,
        /// At most N entries.
        #[arg(short = 'n', long, default_value_t = usize::MAX, hide_default_value = true)]
        max_count: usize,
    },
    /// Changes between two checkpoints, or a checkpoint and the working tree.
    Diff {
        /// Project id.
        project: String,
        /// Old side.
        from: String,
        /// New side (default: the working tree).
        to: Option<String>,
        /// Only the totals.
        #[arg(long)]
        stat: bool,
    },
    /// Restore a checkpoint into the working tree.
    Restore {
        /// Project id.
        project: String,
        /// Checkpoint: name, id or unique id prefix.
        checkpoint: String,
    },
    /// Delete a checkpoint.
    DeleteCheckpoint {
        /// Project id.
        project: String,
        /// Checkpoint.
        checkpoint: String,
    },
    /// Make a directory the project's working tree.
    Import {
        /// Project id.
        project: String,
        /// Directory.
        dir: PathBuf,
    },
    /// Write a checkpoint (or the working tree) into a directory: `export PROJECT [REF] DIR`.
    Export {
        /// Project id.
        project: String,
        /// `[REF] DIR`.
        #[arg(num_args = 1..=2, required = true)]
        rest: Vec<String>,
        /// Overwrite or remove files in DIR whose changes were never checkpointed.
        #[arg(long)]
        force: bool,
    },
}

/// `reel project checkpoint`.
#[derive(Debug, Args)]
pub struct ProjectCheckpointArgs {
    /// Project id.
    pub project: String,
    /// Checkpoint name.
    #[arg(long)]
    pub name: String,
    /// Description.
    #[arg(short, long, default_value = "")]
    pub message: String,
}

/// `reel file …`.
#[derive(Debug, Subcommand)]
pub enum FileCmd {
    /// Write a file from --from FILE or standard input.
    Write {
        /// Project id.
        project: String,
        /// Path in the project.
        path: String,
        /// Read from this file instead of standard input.
        #[arg(long)]
        from: Option<PathBuf>,
        /// Mark it executable.
        #[arg(long)]
        executable: bool,
    },
    /// Read a file to standard output or --out FILE.
    Read {
        /// Project id.
        project: String,
        /// Path in the project.
        path: String,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only `OFFSET:LENGTH` bytes.
        #[arg(long)]
        range: Option<String>,
    },
    /// List files.
    #[command(visible_alias = "list")]
    Ls {
        /// Project id.
        project: String,
        /// Directory (default: the root).
        dir: Option<String>,
        /// Everything below.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Delete a file or directory.
    Rm {
        /// Project id.
        project: String,
        /// Path.
        path: String,
    },
    /// Move a file or directory.
    Mv {
        /// Project id.
        project: String,
        /// From.
        from: String,
        /// To.
        to: String,
    },
    /// Create a directory.
    Mkdir {
        /// Project id.
        project: String,
        /// Path.
        path: String,
    },
}

/// `reel asset …`.
#[derive(Debug, Subcommand)]
pub enum AssetCmd {
    /// Store a file as an asset.
    Add {
        /// The file.
        file: PathBuf,
        /// MIME type (default: from the extension).
        #[arg(long)]
        mime: Option<String>,
        /// Name to record (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// Tags.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// session, user or sandbox.
        #[arg(long, value_enum)]
        scope: Option<reelstore::Scope>,
    },
    /// List assets.
    #[command(visible_alias = "list")]
    Ls {
        /// Only assets with every one of these tags.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Only MIME types starting with this.
        #[arg(long)]
        mime: Option<String>,
    },
    /// Write an asset's bytes to standard output or --out FILE.
    Get {
        /// Asset id.
        id: String,
        /// Write here instead.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Delete an asset.
    Rm {
        /// Asset id.
        id: String,
    },
}

/// `reel render …` (stored renders).
#[derive(Debug, Subcommand)]
pub enum RenderCmd {
    /// List renders.
    #[command(visible_alias = "list")]
    Ls {
        /// Only renders of this project.
        #[arg(long)]
        project: Option<String>,
    },
    /// Show a render's metadata.
    Show {
        /// Render id.
        id: String,
    },
    /// Write a render's bytes to standard output or --out FILE.
    Get {
        /// Render id.
        id: String,
        /// Write here instead.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Delete a render.
    Rm {
        /// Render id.
        id: String,
    },
    /// List render jobs (running, finished, failed, interrupted), newest first.
    Jobs,
    /// Show one render job.
    Job {
        /// Job id.
        id: String,
    },
    /// Print a render job's log: everything its installer and renderer wrote (both
    /// streams, each step under a header; bounded).
    Log {
        /// Job id (or a unique prefix).
        id: String,
    },
    /// Remove least recently used work directories and `node_modules` installs.
    Prune {
        /// Keep at most this many bytes (e.g. `2GiB`, `500MB`, `0`).
        #[arg(long, value_name = "SIZE")]
        max_size: String,
    },
}

/// `reel project list`.
#[derive(Debug, Args)]
pub struct ProjectListArgs {
    /// Only names containing this.
    #[arg(long)]
    pub name: Option<String>,
    /// Only this scope.
    #[arg(long, value_enum)]
    pub scope: Option<reelstore::Scope>,
    /// Only projects with this metadata, `KEY=VALUE`.
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// Order: created (oldest first), updated (most recent first) or name.
    #[arg(long, value_enum, default_value_t)]
    pub sort: reelstore::SortBy,
    /// Skip this many.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Show at most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}
