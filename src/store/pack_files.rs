//! Packs built as files: on the local directory backend a pack is written to a
//! staging file as its objects arrive and then linked under its name, so a checkpoint
//! never holds whole packs in memory (two 16 MiB packs were a quarter of an initial
//! checkpoint's peak memory).
//!
//! A staging file lives in `staging/` beside `packs/`, never under `packs/`: nothing
//! that lists packs (gc, fsck, a rebuild) sees a pack before it is complete, synced
//! and named. Publishing is create-only (a hard link): a pack of that name already
//! there holds the same bytes, as a name is the BLAKE3 of the bytes. A process killed
//! while writing leaves a staging file that `gc` removes once it is older than its
//! grace period.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tempfile::NamedTempFile;

use super::error::StoreError;
use super::pack::PackWriter;

type Result<T> = std::result::Result<T, StoreError>;

/// The staging directory, relative to the backend's root.
const STAGING: &str = "staging";

/// The files of a local directory backend, for writers that build packs in place.
#[derive(Debug, Clone)]
pub struct PackFiles {
    root: PathBuf,
}

impl PackFiles {
    /// The backend whose blob `name` is the file `root/name`.
    #[must_use]
    pub fn new(root: &Path) -> Self {
        PackFiles {
            root: root.to_path_buf(),
        }
    }

    fn staging(&self) -> PathBuf {
        self.root.join(STAGING)
    }

    /// A writer for a new pack, into a fresh staging file.
    pub fn create(&self) -> Result<PackWriter> {
        let dir = self.staging();
        let temp = match NamedTempFile::with_prefix_in("pack-", &dir) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                std::fs::create_dir_all(&dir).map_err(StoreError::io("create directory", &dir))?;
                NamedTempFile::with_prefix_in("pack-", &dir)
            }
            other => other,
        }
        .map_err(StoreError::io("create a staging file in", &dir))?;
        PackWriter::in_file(temp, rand::random())
    }

    /// Makes a finished pack durable and visible as blob `name`: syncs the file, links
    /// it under its name (leaving a pack already there alone: it holds the same bytes)
    /// and syncs the directory.
    pub fn publish(&self, pack: NamedTempFile, name: &str) -> Result<()> {
        let dest = self.root.join(name);
        let dir = dest.parent().unwrap_or(&self.root);
        pack.as_file()
            .sync_all()
            .map_err(StoreError::io("sync", pack.path()))?;
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(StoreError::io("create directory", dir))?;
            sync_dir(&self.root)?;
        }
        match pack.persist_noclobber(&dest) {
            Ok(_) => sync_dir(dir),
            Err(e) if e.error.kind() == ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(StoreError::io("link a pack as", &dest)(e.error)),
        }
    }

    /// Removes staging files last written more than `age` ago (left by a writer that was
    /// killed); says how many.
    pub fn sweep(&self, age: Duration) -> Result<usize> {
        let dir = self.staging();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StoreError::io("list", &dir)(e)),
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(StoreError::io("list", &dir))?;
            let Ok(meta) = entry.metadata() else { continue };
            let old = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|d| d > age);
            if meta.is_file() && old {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io("remove", &entry.path())(e)),
                }
            }
        }
        Ok(removed)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("sync directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash;
    use crate::object::ObjectKind;
    use crate::object::codec::Compression;
    use crate::store::pack::PackBody;
    use crate::store::parse_pack;

    /// A pack written to a file is the pack the in-memory writer makes of the same
    /// objects and nonce, and is named by the BLAKE3 of its bytes.
    #[test]
    fn a_file_pack_has_the_bytes_and_name_of_the_same_pack_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let files = PackFiles::new(dir.path());
        let nonce = [7u8; 16];
        let temp = NamedTempFile::new_in(dir.path()).unwrap();
        let mut on_file = PackWriter::in_file(temp, nonce).unwrap();
        let mut in_memory = PackWriter::with_nonce(0, nonce);
        for i in 0u32..1000 {
            let stored = i.to_le_bytes().repeat(i as usize % 50 + 1);
            let id = Hash::of(&stored);
            let len = stored.len() as u32;
            for w in [&mut on_file, &mut in_memory] {
                w.add(ObjectKind::Chunk, id, Compression::Raw, &stored, len)
                    .unwrap();
            }
        }
        let (id, body, entries) = on_file.finish().unwrap();
        let size = body.size();
        let (want_id, want_body, want_entries) = in_memory.finish().unwrap();
        assert_eq!((id, entries), (want_id, want_entries));
        let PackBody::File { file: temp, .. } = body else {
            panic!("a file writer made a pack in memory")
        };
        files.publish(temp, "packs/p.pack").unwrap();
        let bytes = std::fs::read(dir.path().join("packs/p.pack")).unwrap();
        assert_eq!(bytes, want_body.into_bytes().unwrap());
        assert_eq!(id.0, Hash::of(&bytes));
        assert_eq!(size, bytes.len() as u64);
        assert_eq!(parse_pack(&bytes).unwrap().len(), 1000);
    }

    /// Publishing never replaces a pack already there, and leaves no staging file.
    #[test]
    fn publishing_leaves_an_existing_pack_alone_and_no_staging_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = PackFiles::new(dir.path());
        std::fs::create_dir_all(dir.path().join("packs")).unwrap();
        std::fs::write(dir.path().join("packs/p.pack"), b"first").unwrap();
        let mut pack = files.create().unwrap();
        pack.add(ObjectKind::Chunk, Hash::of(b"x"), Compression::Raw, b"x", 1)
            .unwrap();
        let PackBody::File { file: temp, .. } = pack.finish().unwrap().1 else {
            panic!("a pack of PackFiles in memory")
        };
        files.publish(temp, "packs/p.pack").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("packs/p.pack")).unwrap(),
            b"first"
        );
        assert_eq!(std::fs::read_dir(files.staging()).unwrap().count(), 0);
    }

    /// A staging file is swept only once older than the age given.
    #[test]
    fn sweep_removes_only_old_staging_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = PackFiles::new(dir.path());
        let _writers = (files.create().unwrap(), files.create().unwrap());
        let staged: Vec<PathBuf> = std::fs::read_dir(files.staging())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let [old, young] = &staged[..] else {
            panic!("two writers staged {staged:?}")
        };
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        let file = File::options().write(true).open(old).unwrap();
        file.set_modified(two_hours_ago).unwrap();
        assert_eq!(files.sweep(Duration::from_secs(3600)).unwrap(), 1);
        assert!(young.exists());
        assert!(!old.exists());
    }
}
