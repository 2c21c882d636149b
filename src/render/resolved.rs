//! What an install resolved, read back from its dependency cache entry: the lockfile
//! npm wrote (or kept) and the installed version of every direct dependency and every
//! Remotion package. A `package.json` says `^4.0.0`; this says `4.0.541` — and it is
//! what the render key pins (see `docs/render.md`, "The render key and the memo").

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::hash::Hash;

/// The lockfile an install leaves in its cache entry.
pub const LOCKFILE: &str = "package-lock.json";

/// The packages an install resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct Resolved {
    /// BLAKE3 of the install's `package-lock.json`, when it wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockfile: Option<Hash>,
    /// Installed version of each direct dependency and each Remotion package, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub packages: BTreeMap<String, String>,
}

impl Resolved {
    /// Reads the install in `entry` (a cache entry: `package-lock.json` beside
    /// `node_modules/`) for a project whose manifest is `package_json`. Also returns
    /// the lockfile's bytes.
    #[must_use]
    pub fn read(entry: &Path, package_json: &[u8]) -> (Resolved, Option<Vec<u8>>) {
        let lock = super::deps::read_manifest(&entry.join(LOCKFILE));
        let modules = entry.join("node_modules");
        let mut names = direct_dependencies(package_json);
        names.extend(remotion_packages(&modules));
        let packages = names
            .into_iter()
            .filter_map(|n| installed_version(&modules, &n).map(|v| (n, v)))
            .collect();
        let resolved = Resolved {
            lockfile: lock.as_deref().map(Hash::of),
            packages,
        };
        (resolved, lock)
    }

    /// `remotion 4.0.541, @remotion/cli 4.0.529, react 19.0.0 (and 19 more @remotion
    /// packages)`: the packages a reader looks for first (`remotion`, `@remotion/cli`,
    /// the project's others), the rest of Remotion's counted.
    #[must_use]
    pub fn summary(&self) -> String {
        let (shown, more): (Vec<_>, Vec<_>) = self
            .packages
            .iter()
            .partition(|(n, _)| !n.starts_with("@remotion/") || *n == "@remotion/cli");
        let (remotion, rest): (Vec<_>, Vec<_>) =
            shown.into_iter().partition(|(n, _)| is_remotion(n));
        let mut text = remotion
            .into_iter()
            .rev() // `remotion` before `@remotion/cli`
            .chain(rest)
            .map(|(n, v)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        if !more.is_empty() {
            let _ = write!(text, " (and {} more @remotion packages)", more.len());
        }
        text
    }

    /// A warning when the installed Remotion packages are not all one version (as
    /// `remotion versions` reports): `Version mismatch: remotion 4.0.541; @remotion/cli
    /// and 19 more 4.0.529`.
    #[must_use]
    pub fn mismatch(&self) -> Option<String> {
        let mut by_version: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (n, v) in self.packages.iter().filter(|(n, _)| is_remotion(n)) {
            by_version.entry(v).or_default().push(n);
        }
        (by_version.len() > 1).then(|| {
            let groups: Vec<String> = by_version
                .iter()
                .rev()
                .map(|(v, names)| format!("{} {v}", name_list(names)))
                .collect();
            format!("Version mismatch: {}", groups.join("; "))
        })
    }
}

/// `remotion`, `@remotion/cli, @remotion/bundler`, or `@remotion/cli and 19 more`
/// (the CLI named first when it is among them).
fn name_list(names: &[&str]) -> String {
    let mut names = names.to_vec();
    names.sort_by_key(|n| (*n != "@remotion/cli", *n != "remotion", *n));
    match names.len() {
        0..=2 => names.join(", "),
        n => format!("{} and {} more", names[0], n - 1),
    }
}

fn is_remotion(name: &str) -> bool {
    name == "remotion" || name.starts_with("@remotion/")
}

/// The names under `dependencies` and `devDependencies`.
fn direct_dependencies(package_json: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(package_json) else {
        return Vec::new();
    };
    ["dependencies", "devDependencies"]
        .iter()
        .filter_map(|s| v.get(s)?.as_object())
        .flat_map(|o| o.keys().cloned())
        .collect()
}

/// `remotion` and every `@remotion/*` installed at the top of `node_modules`.
fn remotion_packages(modules: &Path) -> Vec<String> {
    let scoped = std::fs::read_dir(modules.join("@remotion"))
        .into_iter()
        .flatten()
        .filter_map(std::result::Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .map(|n| format!("@remotion/{n}"));
    std::iter::once("remotion".to_owned())
        .chain(scoped)
        .collect()
}

/// `node_modules/<name>/package.json`'s `version`, for a well-formed package name (a
/// name from a hostile `package.json` never reads outside `node_modules`).
fn installed_version(modules: &Path, name: &str) -> Option<String> {
    if !valid_name(name) {
        return None;
    }
    let bytes = std::fs::read(modules.join(name).join("package.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let version = v.get("version")?.as_str()?;
    (version.len() <= 64).then(|| version.to_owned())
}

/// npm's package names: `name` or `@scope/name`, each part without `/`, not `.`/`..`.
fn valid_name(name: &str) -> bool {
    let parts: Vec<&str> = match name.strip_prefix('@') {
        Some(scoped) => scoped.split('/').collect(),
        None => vec![name],
    };
    let scoped_ok = !name.starts_with('@') || parts.len() == 2;
    scoped_ok
        && name.len() <= 214
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::{Resolved, valid_name};

    fn package(root: &std::path::Path, name: &str, version: &str) {
        let dir = root.join("node_modules").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("package.json"),
            format!(r#"{{"name":"{name}","version":"{version}"}}"#),
        )
        .unwrap();
    }

    #[test]
    fn reads_installed_versions_not_ranges() {
        let d = tempfile::tempdir().unwrap();
        package(d.path(), "remotion", "4.0.541");
        package(d.path(), "@remotion/cli", "4.0.529");
        package(d.path(), "@remotion/bundler", "4.0.529");
        package(d.path(), "react", "19.0.0");
        package(d.path(), "left-pad", "1.0.0"); // installed, not a direct dependency
        std::fs::write(
            d.path().join("package-lock.json"),
            b"{\"lockfileVersion\":3}",
        )
        .unwrap();
        let pj = br#"{"dependencies":{"remotion":"^4.0.0","@remotion/cli":"^4.0.0","react":"^19","../../etc":"1"}}"#;
        let (r, lock) = Resolved::read(d.path(), pj);
        assert_eq!(lock.as_deref(), Some(&b"{\"lockfileVersion\":3}"[..]));
        assert_eq!(
            r.lockfile,
            Some(crate::hash::Hash::of(b"{\"lockfileVersion\":3}"))
        );
        assert_eq!(
            r.summary(),
            "remotion 4.0.541, @remotion/cli 4.0.529, react 19.0.0 (and 1 more @remotion packages)"
        );
        assert_eq!(
            r.mismatch().as_deref(),
            Some("Version mismatch: remotion 4.0.541; @remotion/cli, @remotion/bundler 4.0.529")
        );
        package(d.path(), "@remotion/renderer", "4.0.529");
        let (r, _) = Resolved::read(d.path(), pj);
        assert_eq!(
            r.mismatch().as_deref(),
            Some("Version mismatch: remotion 4.0.541; @remotion/cli and 2 more 4.0.529")
        );
        package(d.path(), "remotion", "4.0.529");
        let (r, _) = Resolved::read(d.path(), pj);
        assert_eq!(r.mismatch(), None);
    }

    #[test]
    fn package_names_cannot_leave_node_modules() {
        for ok in ["remotion", "@remotion/cli", "lodash.get", "a-b_c~d"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "..",
            "../x",
            "@remotion/../../x",
            "@a",
            "@a/b/c",
            "",
            ".bin",
            "a/b",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
