//! The shared dependency store: every file of every `node_modules` install, stored once
//! by content, the way pnpm's store works.
//!
//! When an install finishes (before it is renamed into place), each regular file of its
//! `node_modules` is hashed (BLAKE3) and replaced by a hard link to
//! `<store>/<2 hex>/<hash>` (`<hash>x` for executables: links share their mode); a
//! content the store lacks is moved there first. Two installs that differ in one
//! package share every other file: a variant costs its changed packages, not another
//! copy of the tree. Store files are read-only, so a tool that tries to modify an
//! installed file in place fails instead of changing it under every install.
//!
//! A store file whose only link is the store's own (no install names it any more) is
//! removed by `reel render prune` ([`purge`]). The store must be on the same filesystem
//! as the installs; when it is not (a hard link fails with `EXDEV`), the install keeps
//! its own files and the rest is left as installed.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What [`dedup`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Linked {
    /// Files linked to the store.
    pub files: u64,
    /// Bytes whose content the store did not have (moved into it).
    pub new_bytes: u64,
    /// Bytes whose content the store had (each file replaced by a link).
    pub shared_bytes: u64,
}

/// Links every regular file under `modules` to the store at `store` (see the module
/// docs). Symlinks and directories stay as they are.
pub fn dedup(store: &Path, modules: &Path) -> Result<Linked> {
    let mut linked = Linked::default();
    let mut stack = vec![modules.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(Error::io("read directory", &dir))?;
        for e in entries {
            let e = e.map_err(Error::io("read directory", &dir))?;
            let ty = e.file_type().map_err(Error::io("stat", e.path()))?;
            if ty.is_dir() {
                stack.push(e.path());
            } else if ty.is_file() {
                match link_one(store, &e.path()) {
                    Ok(Some((new, len))) => {
                        linked.files += 1;
                        *if new {
                            &mut linked.new_bytes
                        } else {
                            &mut linked.shared_bytes
                        } += len;
                    }
                    Ok(None) => {}
                    Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
                        tracing::warn!(store = %store.display(), "the dependency store is on another filesystem than the installs: files are not shared");
                        return Ok(linked);
                    }
                    Err(err) => {
                        return Err(Error::io("link into the dependency store", e.path())(err));
                    }
                }
            }
        }
    }
    Ok(linked)
}

/// The store path of a file's content.
fn store_path(store: &Path, file: &Path, meta: &std::fs::Metadata) -> io::Result<PathBuf> {
    let mut hasher = blake3::Hasher::new();
    io::copy(&mut std::fs::File::open(file)?, &mut hasher)?;
    let hex = hasher.finalize().to_hex();
    let exec = if meta.mode() & 0o111 != 0 { "x" } else { "" };
    Ok(store.join(&hex[..2]).join(format!("{hex}{exec}")))
}

/// Links one file; `Some((moved into the store, length))`, `None` when it is left as
/// it is: already a link (an install tool's own hard links), empty (nothing to save,
/// and thousands of links to one empty inode would reach the filesystem's limit), or
/// its store copy has as many links as the filesystem allows (`EMLINK`).
fn link_one(store: &Path, file: &Path) -> io::Result<Option<(bool, u64)>> {
    let meta = std::fs::symlink_metadata(file)?;
    if meta.nlink() > 1 || meta.len() == 0 {
        return Ok(None);
    }
    let target = store_path(store, file, &meta)?;
    let tmp = file.with_file_name(format!(
        ".{}.reel-link",
        file.file_name().unwrap_or_default().to_string_lossy()
    ));
    // A store file can vanish between two steps (a prune elsewhere): try again.
    for _ in 0..3 {
        match std::fs::hard_link(&target, &tmp) {
            Ok(()) => {
                std::fs::rename(&tmp, file)?;
                return Ok(Some((false, meta.len())));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&tmp)?;
                continue;
            }
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::MLINK.raw_os_error()) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        // The store lacks it: this file becomes the store's copy, read-only.
        let mut perm = meta.permissions();
        perm.set_mode(perm.mode() & !0o222);
        std::fs::set_permissions(file, perm)?;
        std::fs::create_dir_all(target.parent().expect("store paths have a parent"))?;
        match std::fs::hard_link(file, &target) {
            Ok(()) => return Ok(Some((true, meta.len()))),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Removes store files no install links to any more (their only link is the store's).
/// Returns the bytes freed.
pub fn purge(store: &Path) -> Result<u64> {
    let mut freed = 0;
    let Ok(shards) = std::fs::read_dir(store) else {
        return Ok(0);
    };
    for shard in shards.filter_map(std::result::Result::ok) {
        let Ok(files) = std::fs::read_dir(shard.path()) else {
            continue;
        };
        for f in files.filter_map(std::result::Result::ok) {
            let path = f.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_file() && meta.nlink() == 1 {
                std::fs::remove_file(&path).map_err(Error::io("remove", &path))?;
                freed += meta.len();
            }
        }
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::{dedup, purge};

    fn install(root: &std::path::Path, name: &str, extra: &str) -> std::path::PathBuf {
        let m = root.join(name).join("node_modules");
        std::fs::create_dir_all(m.join("remotion/dist")).unwrap();
        std::fs::create_dir_all(m.join(".bin")).unwrap();
        std::fs::write(m.join("remotion/dist/index.js"), vec![b'r'; 10_000]).unwrap();
        std::fs::write(m.join("remotion/package.json"), extra).unwrap();
        let cli = m.join("remotion/cli.js");
        std::fs::write(&cli, vec![b'r'; 10_000]).unwrap();
        std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("../remotion/cli.js", m.join(".bin/remotion")).unwrap();
        std::fs::write(m.join("remotion/empty.js"), b"").unwrap();
        m
    }

    #[test]
    fn a_second_install_shares_every_file_it_has_in_common() {
        let d = tempfile::tempdir().unwrap();
        let store = d.path().join("store");
        let a = install(d.path(), "a", "{\"version\":\"1\"}");
        let first = dedup(&store, &a).unwrap();
        assert_eq!((first.files, first.shared_bytes), (3, 0));
        // Same content, different mode: two store files (links share their mode).
        assert_eq!(first.new_bytes, 20_000 + 15);
        let b = install(d.path(), "b", "{\"version\":\"2\"}");
        let second = dedup(&store, &b).unwrap();
        assert_eq!((second.new_bytes, second.shared_bytes), (15, 20_000));
        let ia = std::fs::metadata(a.join("remotion/dist/index.js")).unwrap();
        let ib = std::fs::metadata(b.join("remotion/dist/index.js")).unwrap();
        assert_eq!(ia.ino(), ib.ino());
        assert_eq!(ia.nlink(), 3, "two installs and the store");
        let cli = std::fs::metadata(b.join("remotion/cli.js")).unwrap();
        assert_eq!(cli.mode() & 0o777, 0o555, "executable, read-only");
        assert_eq!(ia.mode() & 0o222, 0, "stored files are read-only");
        assert_eq!(
            std::fs::read_link(b.join(".bin/remotion")).unwrap(),
            std::path::Path::new("../remotion/cli.js"),
            "symlinks stay"
        );
        let empty = std::fs::metadata(b.join("remotion/empty.js")).unwrap();
        assert_eq!(empty.nlink(), 1, "empty files are left alone");
        // Linking again changes nothing.
        assert_eq!(dedup(&store, &b).unwrap().files, 0);

        // One install gone: only its own file is freed from the store.
        std::fs::remove_dir_all(d.path().join("a")).unwrap();
        assert_eq!(purge(&store).unwrap(), 15);
        std::fs::remove_dir_all(d.path().join("b")).unwrap();
        assert_eq!(purge(&store).unwrap(), 20_015);
    }
}
