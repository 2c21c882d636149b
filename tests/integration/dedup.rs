//! Identical bytes are stored once; an insertion costs a few chunks, not a file.

use std::sync::Arc;

use reelstore::{CheckpointOptions, NoProgress, RepoConfig, Repository};

use crate::util::{random_bytes, tempdir, write};

#[tokio::test]
async fn inserting_100_bytes_in_a_64_mib_file_stores_under_three_chunks() {
    let repo = Repository::in_memory(RepoConfig::default()).await.unwrap();
    let dir = tempdir();
    let mut data = random_bytes(64 << 20, 1);
    write(dir.path(), "footage.mov", &data);
    let first = repo
        .checkpoint(
            dir.path(),
            CheckpointOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
    assert!(first.new_bytes >= 64 << 20);

    let middle = data.len() / 2;
    data.splice(middle..middle, random_bytes(100, 2));
    write(dir.path(), "footage.mov", &data);
    let second = repo
        .checkpoint(
            dir.path(),
            CheckpointOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
    let avg = u64::from(RepoConfig::default().chunking.avg);
    assert!(
        second.new_bytes < 3 * avg,
        "an insertion stored {} new bytes (3 chunks = {})",
        second.new_bytes,
        3 * avg
    );
    // What the default limits are for: an edit inside footage costs well under 1 MiB
    // (with the 1 MiB average of before, one or two whole megabytes).
    assert!(second.new_bytes < 768 << 10, "{}", second.new_bytes);
    assert_eq!(repo.read("HEAD", "footage.mov").await.unwrap(), data);
    assert_eq!(
        repo.read("HEAD~1", "footage.mov").await.unwrap()[..middle],
        data[..middle]
    );
}

#[tokio::test]
async fn identical_files_in_different_directories_are_stored_once() {
    let repo = Repository::in_memory(RepoConfig::default()).await.unwrap();
    let dir = tempdir();
    let media = random_bytes(5 << 20, 3);
    for d in ["a", "b/c", "d/e/f"] {
        write(dir.path(), &format!("{d}/clip.mp4"), &media);
    }
    let s = repo
        .checkpoint(
            dir.path(),
            CheckpointOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
    assert_eq!(s.bytes, 3 * (5 << 20));
    // One copy of the media plus small trees, manifest and commit.
    assert!(
        s.new_bytes < (5 << 20) + 4096,
        "stored {} bytes",
        s.new_bytes
    );
    let stats = repo.stats().await.unwrap();
    assert!(stats.raw_bytes < (5 << 20) + 4096);
    // The media's chunks are stored once, raw; the rest (a manifest, trees and a
    // commit) is small, in a solid block; every stored byte is counted once.
    let k = stats.stored_by_kind;
    assert!(k.chunks >= 5 << 20 && k.chunks < (5 << 20) + 4096, "{k:?}");
    assert!(
        k.blocks > 0 && k.manifests + k.trees + k.commits == 0,
        "{k:?}"
    );
    assert_eq!(k.deltas, 0);
    assert_eq!(
        k.chunks + k.deltas + k.manifests + k.trees + k.commits + k.blocks,
        stats.stored_bytes
    );
}
