//! The render memo's key, before and after the install.
//!
//! A render is memoized under BLAKE3(tree, settings, renderer identity, what the install
//! resolved). What an install resolves is known only once it ran: with this machine's
//! dependency cache holding the project's manifests already, [`plan`] reads it there and
//! the memo is asked before anything runs; without, the job installs first and asks
//! the memo with the key of what was installed ([`keyed`]) — so a reinstall
//! that resolved newer packages is a new key, never an old render.

use std::path::Path;

use super::deps as installs;
use super::renderer::Renderer;
use super::resolved::{LOCKFILE, Resolved};
use super::settings::RenderSettings;
use crate::artifact::renders;
use crate::engine::Engine;
use crate::error::Result;
use crate::hash::{Hash, TreeId};

/// A job's key as far as it is known before the install.
#[derive(Debug, Clone)]
pub(super) struct Planned {
    /// The renderer's identity.
    pub identity: String,
    /// The render key.
    pub key: Hash,
    /// What the install resolved, when known (or `None`: no `package.json`).
    pub resolved: Option<Resolved>,
    /// Whether the key is final: no `package.json`, or its install is in this
    /// machine's cache. Only a final key is asked of the memo before the job runs.
    pub known: bool,
}

/// The key of rendering `tree` with `settings`, from the tree's manifests and this
/// machine's installs under `deps` (by `install`).
pub(super) fn plan(
    engine: &Engine,
    deps: &Path,
    install: &[String],
    renderer: &dyn Renderer,
    tree: TreeId,
    settings: &RenderSettings,
) -> Result<Planned> {
    let Some(pj) = renders::root_file(engine, tree, "package.json")? else {
        let identity = renderer.identity(None);
        let key = super::job::render_key(tree, settings, &identity, None);
        return Ok(Planned {
            identity,
            key,
            resolved: None,
            known: true,
        });
    };
    let lock = renders::root_file(engine, tree, LOCKFILE)?;
    let resolved = installs::complete_entry(deps, &pj, lock.as_deref(), install)
        .map(|entry| Resolved::read(&entry, &pj).0);
    Ok(keyed(tree, settings, renderer, &pj, resolved))
}

/// The key once the install is known: `resolved` read from it.
pub(super) fn keyed(
    tree: TreeId,
    settings: &RenderSettings,
    renderer: &dyn Renderer,
    package_json: &[u8],
    resolved: Option<Resolved>,
) -> Planned {
    let identity = match &resolved {
        Some(r) => renderer.installed_identity(Some(package_json), &r.packages),
        None => renderer.identity(Some(package_json)),
    };
    let key = super::job::render_key(tree, settings, &identity, resolved.as_ref());
    Planned {
        identity,
        key,
        known: resolved.is_some(),
        resolved,
    }
}
