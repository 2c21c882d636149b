//! Ranged reads of a local directory's blobs by `pread` on files kept open.
//!
//! Through `object_store`, every ranged read of a local file opens it, seeks, reads and
//! closes it on a blocking thread the runtime hands the request to: for a restore of
//! 15,000 small files that was two opens and a dozen futex wake-ups per file. Packs
//! are immutable once stored (their name is the hash of their bytes), so a file opened
//! once serves every later read of it, from any thread, for a few seconds: a pack
//! deleted meanwhile by another process still reads its (correct) bytes from the open
//! handle, and its disk space is held until the handle expires (at the next read after
//! [`KEEP_OPEN`]; at most [`MAX_OPEN`] files in an idle process). One deleted through
//! this backend is closed first.

use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;

use super::error::StoreError;

/// Files kept open at most; past that, the set starts over (a restore reads a pack's
/// objects together, so the working set is a few packs).
pub const MAX_OPEN: usize = 64;

/// How long a file stays open after it was opened.
pub const KEEP_OPEN: Duration = Duration::from_secs(2);

/// Open files of one local directory, by blob name.
#[derive(Debug)]
pub struct LocalReads {
    /// The store whose files these are: it maps a blob name to its file (the same
    /// mapping, and the same refusal of names that leave the directory, as its writes).
    fs: Arc<LocalFileSystem>,
    open: Mutex<HashMap<String, (Arc<File>, Instant)>>,
}

impl LocalReads {
    /// Reads of the blobs of `fs`.
    #[must_use]
    pub fn new(fs: Arc<LocalFileSystem>) -> Self {
        LocalReads {
            fs,
            open: Mutex::default(),
        }
    }

    /// Reads `range` of blob `name`: exactly that many bytes, or an error naming a
    /// missing blob or a range past its end.
    pub fn read(&self, name: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        let file = self.file(name)?;
        let mut buf = vec![0u8; (range.end - range.start) as usize];
        match file.read_exact_at(&mut buf, range.start) {
            Ok(()) => Ok(Bytes::from(buf)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(StoreError::Range {
                name: name.to_owned(),
                start: range.start,
                end: range.end,
                len: file.metadata().map_or(0, |m| m.len()),
            }),
            Err(source) => Err(StoreError::Io {
                op: "read",
                path: self.path(name)?,
                source,
            }),
        }
    }

    /// Closes blob `name` if it is open (it is being deleted).
    pub fn forget(&self, name: &str) {
        self.lock().remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<File>, Instant)>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        self.fs
            .path_to_filesystem(&StorePath::from(name))
            .map_err(|e| StoreError::ObjectStore {
                op: "map to a file",
                name: name.to_owned(),
                source: Box::new(e),
            })
    }

    fn file(&self, name: &str) -> Result<Arc<File>, StoreError> {
        {
            let mut open = self.lock();
            match open.get(name) {
                Some((f, at)) if at.elapsed() < KEEP_OPEN => return Ok(Arc::clone(f)),
                Some(_) => {
                    open.retain(|_, (_, at)| at.elapsed() < KEEP_OPEN);
                }
                None => {}
            }
        }
        let path = self.path(name)?;
        let file = match File::open(&path) {
            Ok(f) => Arc::new(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    name: name.to_owned(),
                });
            }
            Err(source) => {
                return Err(StoreError::Io {
                    op: "open",
                    path,
                    source,
                });
            }
        };
        let mut open = self.lock();
        if open.len() >= MAX_OPEN {
            open.clear();
        }
        open.insert(name.to_owned(), (Arc::clone(&file), Instant::now()));
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ranges_and_names_what_is_missing_or_too_short() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("packs")).unwrap();
        std::fs::write(dir.path().join("packs/a.pack"), b"0123456789").unwrap();
        let fs = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let reads = LocalReads::new(Arc::new(fs));
        assert_eq!(&reads.read("packs/a.pack", 2..5).unwrap()[..], b"234");
        assert_eq!(
            &reads.read("packs/a.pack", 0..10).unwrap()[..],
            b"0123456789"
        );
        assert!(matches!(
            reads.read("packs/a.pack", 8..12),
            Err(StoreError::Range { len: 10, .. })
        ));
        assert!(matches!(
            reads.read("packs/b.pack", 0..1),
            Err(StoreError::NotFound { .. })
        ));
        // A name that climbs out of the directory names nothing outside it.
        std::fs::write(dir.path().join("secret"), b"not a blob").unwrap();
        let below = LocalReads::new(Arc::new(
            LocalFileSystem::new_with_prefix(dir.path().join("packs")).unwrap(),
        ));
        assert!(matches!(
            below.read("../secret", 0..1),
            Err(StoreError::NotFound { .. })
        ));
        // Forgotten, then gone: the next read finds it missing.
        reads.forget("packs/a.pack");
        std::fs::remove_file(dir.path().join("packs/a.pack")).unwrap();
        assert!(matches!(
            reads.read("packs/a.pack", 0..1),
            Err(StoreError::NotFound { .. })
        ));
    }
}
