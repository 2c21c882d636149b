//! What the stat cache says of the files of a scan, each directory's row read once.

use std::path::Path;

use super::pipeline::Pipeline;
use super::walk::{WalkEntry, WalkKind};
use crate::error::Result;
use crate::hash::Hash;
use crate::index::StatRecord;

/// What the stat cache says of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cached {
    /// Nothing: no row, or a row naming content no longer stored.
    Unknown,
    /// Same stat, content still stored: the row stands for the file, unread.
    Vouched(StatRecord),
    /// The file changed since its row was written: the content it had then, which
    /// the file's new version may share chunks with (it may be gone since).
    Was(Hash),
}

/// What the stat cache says of every file in `entries` (by index; `Unknown` for the
/// rest).
pub fn cached_rows(pipe: &Pipeline, root: &Path, entries: &[WalkEntry]) -> Result<Vec<Cached>> {
    let mut prefix = root.to_string_lossy().into_owned();
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    let keys: Vec<(usize, String)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == WalkKind::File)
        .map(|(i, e)| (i, format!("{prefix}{}", e.rel)))
        .collect();
    let paths: Vec<&str> = keys.iter().map(|(_, k)| k.as_str()).collect();
    let rows = pipe.snapshot().stats_of(&paths)?;
    drop(paths);
    let mut out = vec![Cached::Unknown; entries.len()];
    for ((i, _), row) in keys.iter().zip(rows) {
        out[*i] = match row {
            None => Cached::Unknown,
            Some(rec) if rec.same_stat(&entries[*i].stat) => Cached::Vouched(rec),
            Some(rec) => Cached::Was(rec.id),
        };
    }
    drop(keys);
    // A row vouches only for content still stored: GC may have removed it since, unless
    // every removal since the rows were written dropped the rows naming what went.
    if pipe.snapshot().stat_rows_trusted() {
        return Ok(out);
    }
    let vouched: Vec<(usize, Hash)> = out
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            Cached::Vouched(rec) => Some((i, rec.id)),
            _ => None,
        })
        .collect();
    let ids: Vec<Hash> = vouched.iter().map(|&(_, id)| id).collect();
    let stored = pipe.snapshot().contains_many(&ids)?;
    for ((i, _), ok) in vouched.into_iter().zip(stored) {
        if !ok {
            out[i] = Cached::Unknown;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::engine::Engine;
    use crate::engine::progress::NoProgress;
    use crate::object::{ChunkRef, TreeEntry};
    use crate::{CheckpointOptions, RepoConfig, Repository};

    fn write_settled(path: &Path, data: &[u8]) {
        std::fs::write(path, data).unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(2))
            .unwrap();
    }

    async fn checkpoint(repo: &Repository, dir: &Path) -> TreeEntry {
        let s = repo
            .checkpoint(dir, CheckpointOptions::default(), Arc::new(NoProgress))
            .await
            .unwrap();
        let tree = repo.engine().read_tree(&s.tree).unwrap();
        tree.get("footage").unwrap().clone()
    }

    fn chunks(engine: &Engine, id: &Hash) -> Vec<ChunkRef> {
        engine.read_manifest(id).unwrap().unwrap().chunks
    }

    /// A large file edited in the middle: the stat cache hands the scan the content it
    /// had, and the new version is cut exactly as a repository that never saw the old
    /// one cuts it, sharing all but the chunks around the edit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_edited_file_is_cut_as_if_new_and_shares_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("work");
        std::fs::create_dir(&dir).unwrap();
        let mut data = vec![0u8; 12 << 20];
        blake3::Hasher::new().finalize_xof().fill(&mut data);
        let path = dir.join("footage");
        write_settled(&path, &data);
        let repo = Repository::init(tmp.path().join("a"), RepoConfig::default())
            .await
            .unwrap();
        let before = checkpoint(&repo, &dir).await;

        data.splice(6 << 20..6 << 20, [9u8; 4096]);
        write_settled(&path, &data);
        let engine = repo.engine();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let entry = WalkEntry::new("footage".into(), WalkKind::File, &meta);
        let pipe = Pipeline::hashing(engine).unwrap();
        let cached = cached_rows(&pipe, &dir, std::slice::from_ref(&entry)).unwrap();
        assert_eq!(cached, vec![Cached::Was(before.id)]);
        // The scan looks for the old chunks first: all but those around the edit and
        // the last ones are recognised by their hash.
        super::super::scan_dir(engine, &pipe, &dir, &NoProgress).unwrap();
        let recognised = pipe.stats().recognised_chunks.load(Ordering::Relaxed);
        pipe.finish().unwrap();
        let after = checkpoint(&repo, &dir).await;
        assert_eq!(after.id, Hash::of(&data));

        let fresh = Repository::init(tmp.path().join("b"), RepoConfig::default())
            .await
            .unwrap();
        let alone = checkpoint(&fresh, &dir).await;
        let (old, new) = (chunks(engine, &before.id), chunks(engine, &after.id));
        assert_eq!(new, chunks(fresh.engine(), &alone.id));
        let shared = new.iter().filter(|c| old.contains(c)).count();
        assert!(
            shared + 3 >= new.len(),
            "{shared} of {} chunks shared",
            new.len()
        );
        assert!(
            recognised + 8 >= new.len() as u64,
            "{recognised} of {} chunks recognised",
            new.len()
        );
    }
}
