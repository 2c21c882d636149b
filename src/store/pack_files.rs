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
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tempfile::NamedTempFile;

use super::error::StoreError;
use super::pack::{NONCE_LEN, PackEntry, header, seal, sealed_len_max};
use crate::hash::{Hash, PackId};
use crate::object::ObjectKind;
use crate::object::codec::Compression;

type Result<T> = std::result::Result<T, StoreError>;

/// The staging directory, relative to the backend's root.
const STAGING: &str = "staging";

/// Bytes buffered before a write to the staging file.
const WRITE_BUFFER: usize = 1024 * 1024;

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { op, path, source }
}

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

    /// A new pack, written to a fresh staging file.
    pub fn create(&self) -> Result<FilePack> {
        let dir = self.staging();
        let temp = match NamedTempFile::with_prefix_in("pack-", &dir) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                std::fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
                NamedTempFile::with_prefix_in("pack-", &dir)
            }
            other => other,
        }
        .map_err(io("create a staging file in", &dir))?;
        FilePack::new(temp, rand::random())
    }

    /// Makes a finished pack durable and visible as blob `name`: syncs the file, links
    /// it under its name (leaving a pack already there alone) and syncs the directory.
    pub fn publish(&self, pack: NamedTempFile, name: &str) -> Result<()> {
        let dest = self.root.join(name);
        pack.as_file().sync_all().map_err(io("sync", pack.path()))?;
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        let pack = match pack.persist_noclobber(&dest) {
            Ok(_) => None,
            Err(e) if e.error.kind() == ErrorKind::NotFound => {
                std::fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
                sync_dir(&self.root)?;
                Some(e.file)
            }
            Err(e) if e.error.kind() == ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(io("link a pack as", &dest)(e.error)),
        };
        if let Some(pack) = pack {
            match pack.persist_noclobber(&dest) {
                Ok(_) => {}
                Err(e) if e.error.kind() == ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => return Err(io("link a pack as", &dest)(e.error)),
            }
        }
        sync_dir(&dir)
    }

    /// Removes staging files last written more than `age` ago (left by a writer that was
    /// killed); says how many.
    pub fn sweep(&self, age: Duration) -> Result<usize> {
        let dir = self.staging();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io("list", &dir)(e)),
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(io("list", &dir))?;
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
                    Err(e) => return Err(io("remove", &entry.path())(e)),
                }
            }
        }
        Ok(removed)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}

/// One pack being written to its staging file: the file, the BLAKE3 of what was
/// written (the pack's name once finished) and the entries for its trailer.
#[derive(Debug)]
pub struct FilePack {
    out: BufWriter<NamedTempFile>,
    hasher: blake3::Hasher,
    len: usize,
    entries: Vec<PackEntry>,
}

impl FilePack {
    fn new(temp: NamedTempFile, nonce: [u8; NONCE_LEN]) -> Result<Self> {
        let mut pack = FilePack {
            out: BufWriter::with_capacity(WRITE_BUFFER, temp),
            hasher: blake3::Hasher::new(),
            len: 0,
            entries: Vec::new(),
        };
        pack.write(&header(nonce))?;
        Ok(pack)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.len += bytes.len();
        let path = self.out.get_ref().path().to_path_buf();
        self.out.write_all(bytes).map_err(io("write", &path))
    }

    /// Appends an object's stored bytes.
    pub fn add(
        &mut self,
        kind: ObjectKind,
        id: Hash,
        compression: Compression,
        stored: &[u8],
        raw_len: u32,
    ) -> Result<()> {
        self.entries.push(PackEntry {
            kind,
            id,
            offset: self.len as u64,
            stored_len: stored.len() as u32,
            raw_len,
            compression,
        });
        self.write(stored)
    }

    /// The pack's size once finished, at most.
    #[must_use]
    pub fn finished_len_max(&self) -> usize {
        self.len + sealed_len_max(self.entries.len())
    }

    /// Whether no object was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends the trailer and names the pack: its id, length, staging file (written,
    /// not yet synced) and entries.
    pub fn finish(mut self) -> Result<(PackId, u64, NamedTempFile, Vec<PackEntry>)> {
        let entries = std::mem::take(&mut self.entries);
        let (tail, entries) = seal(entries)?;
        self.write(&tail)?;
        let id = PackId(Hash::from(self.hasher.finalize()));
        let temp = self.out.into_inner().map_err(|e| {
            let (error, out) = e.into_parts();
            io("write", out.get_ref().path())(error)
        })?;
        Ok((id, self.len as u64, temp, entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PackWriter, parse_pack};

    /// A pack written to a file is the pack the in-memory writer makes of the same
    /// objects and nonce, and is named by the BLAKE3 of its bytes.
    #[test]
    fn a_file_pack_has_the_bytes_and_name_of_the_same_pack_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let files = PackFiles::new(dir.path());
        let nonce = [7u8; NONCE_LEN];
        let temp = NamedTempFile::new_in(dir.path()).unwrap();
        let mut on_file = FilePack::new(temp, nonce).unwrap();
        let mut in_memory = PackWriter::with_nonce(0, nonce);
        for i in 0u32..1000 {
            let stored = i.to_le_bytes().repeat(i as usize % 50 + 1);
            let id = Hash::of(&stored);
            let len = stored.len() as u32;
            on_file
                .add(ObjectKind::Chunk, id, Compression::Raw, &stored, len)
                .unwrap();
            in_memory.add(ObjectKind::Chunk, id, Compression::Raw, &stored, len);
        }
        let (id, size, temp, entries) = on_file.finish().unwrap();
        let (want_id, want_bytes, want_entries) = in_memory.finish().unwrap();
        assert_eq!((id, entries), (want_id, want_entries));
        files.publish(temp, "packs/p.pack").unwrap();
        let bytes = std::fs::read(dir.path().join("packs/p.pack")).unwrap();
        assert_eq!(bytes, want_bytes);
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
        let (_, _, temp, _) = pack.finish().unwrap();
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
        let young = files.create().unwrap();
        let old = files.create().unwrap();
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        old.out
            .get_ref()
            .as_file()
            .set_modified(two_hours_ago)
            .unwrap();
        let (young, old) = (young.out.get_ref().path(), old.out.get_ref().path());
        assert_eq!(files.sweep(Duration::from_secs(3600)).unwrap(), 1);
        assert!(young.exists());
        assert!(!old.exists());
    }
}
