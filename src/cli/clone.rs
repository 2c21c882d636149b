//! `reel clone`: a new directory attached to the repository on a URL backend, with its
//! HEAD restored there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::args::{Cli, CloneArgs};
use super::output::{Bar, bytes, json, out};
use super::run::Outcome;
use reelstore::{BackendConfig, Error, REPO_DIR_NAME, RepoConfig, Repository};

pub(super) async fn clone(cli: &Cli, args: &CloneArgs) -> Outcome {
    let target = match &args.dir {
        Some(d) => d.clone(),
        None => PathBuf::from(default_name(&args.url)?),
    };
    let created = prepare(&target)?;
    let result = attach_and_restore(cli, args, &target).await;
    if result.is_err() && created {
        // Leave nothing behind: the directory did not exist.
        let _ = std::fs::remove_dir_all(&target);
    }
    result
}

async fn attach_and_restore(cli: &Cli, args: &CloneArgs, target: &Path) -> Outcome {
    let config = RepoConfig {
        backend: BackendConfig::Url(args.url.clone()),
        ..RepoConfig::default()
    };
    let repo = Repository::attach(target.join(REPO_DIR_NAME), config).await?;
    let head = repo.log(None, 1).await?.into_iter().next();
    let restored = match &head {
        Some(_) => Some(
            repo.restore("HEAD", target, Arc::new(Bar::new(cli.quiet)))
                .await?,
        ),
        None => None,
    };
    if cli.json {
        return Ok(json(&serde_json::json!({
            "directory": target,
            "attached": repo.attached(),
            "head": head.as_ref().map(|h| h.id.to_string()),
            "restored": restored,
        }))?);
    }
    if cli.quiet {
        return Ok(());
    }
    let checkpoints = repo.attached().map_or(0, |a| a.checkpoints);
    let text = match (&head, &restored) {
        (Some(h), Some(s)) => format!(
            "Cloned {} into {}: {checkpoints} checkpoints; HEAD {} restored ({} files, {})\n",
            args.url,
            target.display(),
            h.id.short(),
            s.written,
            bytes(s.written_bytes)
        ),
        _ => format!(
            "Cloned {} into {}: no checkpoints yet\n",
            args.url,
            target.display()
        ),
    };
    Ok(out(&text)?)
}

/// Creates `target` unless it is an empty directory already; says whether it made it.
fn prepare(target: &Path) -> Result<bool, Error> {
    match std::fs::read_dir(target) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::Invalid(format!(
                    "{} exists and is not empty: clone into a new directory",
                    target.display()
                )));
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(target).map_err(Error::io("create directory", target))?;
            Ok(true)
        }
        Err(e) => Err(Error::io("read directory", target)(e)),
    }
}

/// The directory name a URL suggests: the last part of its path, or its host (bucket).
fn default_name(url: &str) -> Result<String, Error> {
    let parsed = url::Url::parse(url).map_err(|e| Error::Invalid(format!("`{url}`: {e}")))?;
    parsed
        .path_segments()
        .and_then(|mut s| s.rfind(|p| !p.is_empty()).map(str::to_owned))
        .or_else(|| parsed.host_str().map(str::to_owned))
        .filter(|n| n != "." && n != "..")
        .ok_or_else(|| {
            Error::Invalid(format!(
                "`{url}` suggests no directory name: give one (reel clone URL DIR)"
            ))
        })
}
