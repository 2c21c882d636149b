//! `reel render [REF]` in a directory repository (`reel init`): renders a checkpoint
//! (default `HEAD`) or, with `--worktree`, the directory as it is now — through a
//! project of its own, so that renders of a directory get the same memo, fixed work
//! directory and dependency cache as projects' (`docs/render.md`, "Directory
//! repositories").
//!
//! The project is the caller's, named after the directory and remembered in the
//! repository (`render-project`); each render sets its working tree to the tree
//! rendered (a checkpoint's tree is already stored: nothing is copied).

use std::path::{Path, PathBuf};

use reelstore::{Caller, CreateProject, Error, ProjectId, Repository};

/// The file in the repository directory naming its render project.
const BINDING: &str = "render-project";

/// What a directory render renders.
pub(super) struct DirectoryTarget {
    /// The project the render goes through.
    pub project: ProjectId,
    /// The tree that must be rendered (checked against the job's).
    pub tree: Option<reelstore::TreeId>,
    /// What it is, for the output: `checkpoint HEAD~1 (1a2b3c4d)`.
    pub what: String,
    /// The directory (`--lock` writes its lockfile there).
    pub dir: PathBuf,
}

/// The caller's render project of this directory repository, created on first use.
async fn project(repo: &Repository, me: &Caller, workdir: &Path) -> Result<ProjectId, Error> {
    let a = repo.artifacts();
    let binding = repo
        .dir()
        .map(|d| d.join(BINDING))
        .ok_or_else(|| Error::Invalid("this repository has no directory".into()))?;
    let known = std::fs::read_to_string(&binding)
        .ok()
        .and_then(|t| t.trim().parse::<ProjectId>().ok());
    if let Some(id) = known
        && a.get_project(me, id).await.is_ok()
    {
        return Ok(id);
    }
    let name = workdir
        .file_name()
        .map_or_else(|| "directory".into(), |n| n.to_string_lossy().into_owned());
    let mut metadata = serde_json::Map::new();
    metadata.insert("directory".into(), workdir.display().to_string().into());
    let p = a
        .create_project(
            me,
            CreateProject {
                name: format!("{name} (directory renders)"),
                scope: None,
                metadata,
                ttl_s: Some(0),
            },
        )
        .await?;
    std::fs::write(&binding, format!("{}\n", p.id)).map_err(Error::io("write", &binding))?;
    Ok(p.id)
}

/// Points the directory's render project at `rev`'s tree, or at `dir` as it is now
/// (`worktree`; default the repository's working directory).
pub(super) async fn target(
    repo: &Repository,
    me: &Caller,
    rev: Option<&str>,
    worktree: bool,
    dir: Option<PathBuf>,
) -> Result<DirectoryTarget, Error> {
    let workdir = repo.workdir().ok_or_else(|| {
        Error::Invalid(
            "name the project to render: `reel render PROJECT` (`reel project ls` lists them); a checkpoint is rendered by name only in a directory repository (`reel init`)"
                .into(),
        )
    })?;
    let id = project(repo, me, &workdir).await?;
    let a = repo.artifacts();
    if worktree {
        if rev.is_some() {
            return Err(Error::Invalid(
                "give a checkpoint or --worktree, not both".into(),
            ));
        }
        let dir = dir.unwrap_or(workdir);
        a.import(me, id, dir.clone()).await?;
        return Ok(DirectoryTarget {
            project: id,
            tree: None,
            what: format!("the directory {} as it is now", dir.display()),
            dir,
        });
    }
    let commit = match (rev, repo.resolve(rev.unwrap_or("HEAD")).await) {
        (_, Ok(c)) => c,
        (None, Err(Error::NotFound { .. })) => {
            return Err(Error::Invalid(
                "nothing to render: this directory has no checkpoint yet. `reel render --worktree` renders it as it is; `reel render PROJECT` renders a project (`reel project ls` lists them)".into(),
            ));
        }
        (_, Err(e)) => return Err(e),
    };
    let rev = rev.unwrap_or("HEAD");
    let tree = repo.tree_of(&commit.to_string()).await?;
    a.set_worktree(me, id, tree).await?;
    Ok(DirectoryTarget {
        project: id,
        tree: Some(tree),
        what: format!("checkpoint {rev} ({})", commit.short()),
        dir: workdir,
    })
}
