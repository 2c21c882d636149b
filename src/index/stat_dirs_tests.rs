//! Tests of the stat cache's layout (`super`).

use std::collections::BTreeMap;

use redb::{ReadableTable, ReadableTableMetadata, TableHandle};

use super::*;
use crate::index::Index;

/// A record whose every field follows from `n` (shared with `stat_v1`'s tests).
pub(in crate::index) fn rec(n: u64) -> StatRecord {
    StatRecord {
        size: n,
        mtime_ns: 1_764_000_000_000_000_000 + n.cast_signed(),
        ctime_ns: 1_764_000_000_000_000_000 - 7,
        inode: 1000 + n,
        id: Hash::of(&n.to_le_bytes()),
    }
}

/// Rows come back exactly as written, keys front-coded (shared prefixes, names that
/// are prefixes of others, multi-byte characters split by the prefix, the first file
/// against the piece's key, files of several directories); keys out of order or
/// below the piece's are refused.
#[test]
fn a_row_decodes_to_what_was_encoded() {
    let mut rows: KeyRows = ["a", "ab", "abc", "abd", "b", "é1", "é2", "ê", "z"]
        .iter()
        .enumerate()
        .map(|(i, n)| (key("/d/", n), rec(i as u64)))
        .collect();
    rows.push((key("/d/e/", "a"), rec(20)));
    rows.push((key("/d/é/", "a"), rec(21)));
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for piece_key in ["/d/\0", "/d/\0a", "/"] {
        let bytes = encode(piece_key, &rows);
        assert_eq!(decode(piece_key, &bytes).unwrap(), rows, "{piece_key:?}");
        assert!(
            decode(piece_key, &bytes[..bytes.len() - 1]).is_err(),
            "a cut row decodes"
        );
    }
    assert!(
        decode("/d/\0b", &encode("/d/\0a", &rows)).is_err(),
        "below its key"
    );
    let mut swapped = rows.clone();
    swapped.swap(1, 2);
    assert!(decode("/", &encode("/", &swapped)).is_err(), "out of order");
}

/// Writes merge into a directory's rows; lookups one by one and many at once find
/// every file and nothing else; a purge drops what it names and empty pieces.
#[test]
fn rows_merge_by_directory_and_are_found_again() {
    let index = Index::in_memory().unwrap();
    let first: Vec<(String, StatRecord)> = (0..300)
        .map(|i| (format!("/w/src/f{i:03}.tsx"), rec(i)))
        .chain([("/w/src.tsx".to_owned(), rec(900))])
        .chain([("/w/src/sub/x".to_owned(), rec(901))])
        .collect();
    index.record_stats(&first).unwrap();
    index
        .record_stats(&[("/w/src/f007.tsx".to_owned(), rec(7000))])
        .unwrap();
    let snap = index.snapshot().unwrap();
    assert_eq!(snap.stat("/w/src/f006.tsx").unwrap(), Some(rec(6)));
    assert_eq!(snap.stat("/w/src/f007.tsx").unwrap(), Some(rec(7000)));
    assert_eq!(snap.stat("/w/src/f300.tsx").unwrap(), None);
    assert_eq!(snap.stat("/w/src.tsx").unwrap(), Some(rec(900)));
    let paths = [
        "/w/src/sub/x",
        "/w/src/f299.tsx",
        "/w/nope",
        "/w/src.tsx",
        "/w/src/f000.tsx",
    ];
    let want = [
        Some(rec(901)),
        Some(rec(299)),
        None,
        Some(rec(900)),
        Some(rec(0)),
    ];
    assert_eq!(snap.stats_of(&paths).unwrap(), want);
    drop(snap);
    let gone = [rec(901).id, rec(3).id];
    index
        .write(|txn| {
            let mut t = txn.open_table(super::super::tables::STAT_CACHE)?;
            retain(&mut t, |r| Ok(gone.contains(&r.id)))
        })
        .unwrap();
    let snap = index.snapshot().unwrap();
    assert_eq!(snap.stat("/w/src/f003.tsx").unwrap(), None);
    assert_eq!(snap.stat("/w/src/f004.tsx").unwrap(), Some(rec(4)));
    assert_eq!(snap.stat("/w/src/sub/x").unwrap(), None);
    assert_eq!(
        snap.stats
            .range("/w/src/sub/\0".."/w/src/sub/\u{1}")
            .unwrap()
            .count(),
        0,
        "the emptied piece went"
    );
}

/// An index from before `stat-cache-1` loses its per-file rows when opened: none
/// of them is ever read as a directory's row.
#[test]
fn opening_an_older_index_drops_its_per_file_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.redb");
    let index = Index::create(&path, b"test").unwrap();
    index
        .write(|txn| {
            let mut old = txn.open_table(super::super::tables::STAT_CACHE_0)?;
            old.insert("/w/a", [0u8; 64].as_slice())?;
            Ok::<_, IndexError>(())
        })
        .unwrap();
    let names = |index: &Index| -> Vec<String> {
        let txn = index.begin_read().unwrap();
        txn.list_tables()
            .unwrap()
            .map(|t| t.name().to_owned())
            .collect()
    };
    assert!(names(&index).contains(&"stat-cache-0".to_owned()));
    drop(index);
    let index = Index::open(&path).unwrap();
    assert!(!names(&index).contains(&"stat-cache-0".to_owned()));
    assert_eq!(index.snapshot().unwrap().stat("/w/a").unwrap(), None);
}

/// gc's pass drops the rows of directories gone from disk (or no longer
/// directories) and keeps the others.
#[test]
fn rows_of_directories_no_longer_there_are_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_string_lossy().into_owned();
    for d in ["kept", "gone", "now-a-file"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
    }
    let index = Index::in_memory().unwrap();
    let rows: Vec<(String, StatRecord)> = ["kept", "gone", "now-a-file"]
        .iter()
        .map(|d| (format!("{root}/{d}/f"), rec(1)))
        .collect();
    index.record_stats(&rows).unwrap();
    std::fs::remove_dir(tmp.path().join("gone")).unwrap();
    std::fs::remove_dir(tmp.path().join("now-a-file")).unwrap();
    std::fs::write(tmp.path().join("now-a-file"), b"x").unwrap();
    assert_eq!(index.drop_stat_rows_of_missing_dirs().unwrap(), 2);
    let snap = index.snapshot().unwrap();
    assert_eq!(snap.stat(&rows[0].0).unwrap(), Some(rec(1)));
    assert_eq!(snap.stats.len().unwrap(), 1);
    assert_eq!(index.drop_stat_rows_of_missing_dirs().unwrap(), 0);
}

/// Directories of 50 files (a `node_modules` package) fill the table's pages: what
/// redb spends beyond the keys and values is under a twelfth of them (79 KB for 1.4 MB
/// here). One row per directory (2.7 KB, one to a 4 KiB page) spent more than half;
/// pieces of one directory's files (`stat-cache-2`) 217 KB for 1.5 MB.
#[test]
fn directories_of_fifty_files_fill_their_pages() {
    let index = Index::in_memory().unwrap();
    let rows: Vec<(String, StatRecord)> = (0..30_000u64)
        .map(|i| {
            let path = format!(
                "/work/project/node_modules/pkg-{:03}/lib/m{i:05}.js",
                i / 50
            );
            (path, rec(i))
        })
        .collect();
    for batch in rows.chunks(3_000) {
        index.record_stats(batch).unwrap();
    }
    let sizes = index.table_sizes().unwrap();
    let stat = sizes.iter().find(|t| t.name == "stat-cache-3").unwrap();
    assert!(
        stat.overhead_bytes * 12 < stat.stored_bytes,
        "{} bytes of pages beyond {} of keys and values",
        stat.overhead_bytes,
        stat.stored_bytes
    );
    let snap = index.snapshot().unwrap();
    let paths: Vec<&str> = rows.iter().map(|(p, _)| p.as_str()).collect();
    let found = snap.stats_of(&paths).unwrap();
    assert!(found.iter().zip(&rows).all(|(f, (_, r))| *f == Some(*r)));
}

/// A directory's pieces are read apart from those of directories whose paths
/// begin like it (a subdirectory, a sibling with a longer name, names holding
/// U+0001); a purge that takes a piece's first file, and writes after it, keep
/// every other file found.
#[test]
fn pieces_stay_with_their_directory() {
    let index = Index::in_memory().unwrap();
    let mut rows: Vec<(String, StatRecord)> = (0..200)
        .map(|i| (format!("/w/a/f{i:03}.tsx"), rec(i)))
        .collect();
    for (n, path) in [
        "/w/a/b/x",
        "/w/a\u{1}/y",
        "/w/a/\u{1}/z",
        "/w/a/\u{1}q",
        "/w/ab",
    ]
    .iter()
    .enumerate()
    {
        rows.push(((*path).to_owned(), rec(1_000 + n as u64)));
    }
    index.record_stats(&rows).unwrap();
    let snap = index.snapshot().unwrap();
    let pieces = snap.stats.range("/w/a/\0".."/w/a/\u{1}").unwrap().count();
    assert!(pieces > 3, "200 files in {pieces} pieces");
    for (path, rec) in &rows {
        assert_eq!(snap.stat(path).unwrap(), Some(*rec), "{path}");
    }
    drop(snap);
    // The first file of the second piece goes; a file sorting just before it comes.
    let second = {
        let snap = index.snapshot().unwrap();
        let mut keys = snap.stats.range("/w/a/\0".."/w/a/\u{1}").unwrap();
        keys.nth(1).unwrap().unwrap().0.value().to_owned()
    };
    let first_name = second.split('\0').nth(1).unwrap().to_owned();
    let gone = rows
        .iter()
        .find(|(p, _)| p.ends_with(&format!("/{first_name}")))
        .unwrap()
        .1;
    index
        .write(|txn| {
            let mut t = txn.open_table(STAT_CACHE)?;
            retain(&mut t, |r| Ok(r.id == gone.id))
        })
        .unwrap();
    let before = format!("/w/a/{}", &first_name[..first_name.len() - 1]);
    index.record_stats(&[(before.clone(), rec(2_000))]).unwrap();
    let snap = index.snapshot().unwrap();
    for (path, rec) in &rows {
        let want = (rec.id != gone.id).then_some(*rec);
        assert_eq!(snap.stat(path).unwrap(), want, "{path}");
    }
    assert_eq!(snap.stat(&before).unwrap(), Some(rec(2_000)));
    let dir_rows = read_dir(&snap.stats, "/w/a/").unwrap();
    assert!(
        dir_rows.windows(2).all(|w| w[0].0 < w[1].0),
        "names in order"
    );
    assert_eq!(dir_rows.len(), 201);
}

/// Directories written out of key order, a few at a time, leave the table's pages
/// sparse; compacting the index cuts it again in key order, smaller, every file found
/// again.
#[test]
fn compacting_tightens_a_sparse_stat_cache() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::create(&dir.path().join("index.redb"), b"test").unwrap();
    let rows: Vec<(String, StatRecord)> = (0..20_000u64)
        .map(|i| {
            (
                format!("/w/node_modules/pkg-{:03}/m{i:05}.js", i / 50),
                rec(i),
            )
        })
        .collect();
    // Every seventh directory, then the next: writes land all over the table.
    let dirs: Vec<&[(String, StatRecord)]> = rows.chunks(50).collect();
    for start in 0..7 {
        for batch in dirs.iter().skip(start).step_by(7) {
            index.record_stats(batch).unwrap();
        }
    }
    let size = |index: &Index| {
        let sizes = index.table_sizes().unwrap();
        let t = sizes.iter().find(|t| t.name == "stat-cache-3").unwrap();
        (t.stored_bytes, t.stored_bytes + t.overhead_bytes)
    };
    let (stored, before) = size(&index);
    index.compact();
    let (stored_after, after) = size(&index);
    // Cut again in key order: pieces hold files of several directories, fewer keys.
    assert!(
        stored_after <= stored,
        "{stored} bytes of rows, then {stored_after}"
    );
    assert!(
        after * 5 < before * 4,
        "{before} bytes before, {after} after"
    );
    let snap = index.snapshot().unwrap();
    for (path, rec) in &rows {
        assert_eq!(snap.stat(path).unwrap(), Some(*rec), "{path}");
    }
    drop(snap);
    assert!(!index.tighten_stats().unwrap(), "a tight table stays");
}

/// Random writes and drops over directories whose files share pieces, checked against
/// a plain map after each: every directory reads back exactly its own files, and the
/// pieces stay in key order, each within two to a page.
#[test]
fn writes_across_shared_pieces_match_a_model() {
    let index = Index::in_memory().unwrap();
    let dirs = ["/w/", "/w/a/", "/w/a/b/", "/w/ab/", "/w/b/", "/x/"];
    let mut model: BTreeMap<String, BTreeMap<String, StatRecord>> = BTreeMap::new();
    let mut seed = 7u64;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) % n
    };
    for step in 0..300u64 {
        let dir = dirs[next(dirs.len() as u64) as usize];
        if next(8) == 0 {
            index
                .write(|txn| rewrite_dir(&mut txn.open_table(STAT_CACHE)?, dir, |_| Vec::new()))
                .unwrap();
            model.remove(dir);
        } else {
            let rows: Vec<(String, StatRecord)> = (0..next(40))
                .map(|_| {
                    let n = next(90);
                    (format!("{dir}f{n:02}"), rec(step * 100 + n))
                })
                .collect();
            index.record_stats(&rows).unwrap();
            for (path, r) in rows {
                let (_, name) = split(&path);
                model
                    .entry(dir.to_owned())
                    .or_default()
                    .insert(name.to_owned(), r);
            }
        }
        check_against(&index, &dirs, &model, step);
    }
}

/// Every directory of `dirs` reads back as `model` has it; the pieces are in key
/// order, each within [`PIECE_SHARE`].
fn check_against(
    index: &Index,
    dirs: &[&str],
    model: &BTreeMap<String, BTreeMap<String, StatRecord>>,
    step: u64,
) {
    let snap = index.snapshot().unwrap();
    for dir in dirs {
        let want: DirRows = model
            .get(*dir)
            .into_iter()
            .flatten()
            .map(|(n, r)| (n.clone(), *r))
            .collect();
        let got = read_dir(&snap.stats, dir).unwrap();
        assert_eq!(got, want, "step {step}, {dir}");
    }
    let mut last: Option<String> = None;
    for piece in snap.stats.iter().unwrap() {
        let (k, v) = piece.unwrap();
        assert!(
            k.value().len() + v.value().len() <= PIECE_SHARE,
            "step {step}"
        );
        for (file, _) in decode(k.value(), v.value()).unwrap() {
            assert!(
                last.as_ref().is_none_or(|l| *l < file),
                "step {step}: {file:?}"
            );
            last = Some(file);
        }
    }
}
