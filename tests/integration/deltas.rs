//! Delta chunks: a chunk changed by an edit inside a large file is stored compressed
//! against the chunk it replaced; every version restores exactly, gc keeps a base while
//! a live delta needs it, and repositories of an older format never get one.

use std::sync::Arc;

use reelstore::{NoProgress, RepoConfig, Repository};

use crate::util::{
    format_of, gc_now as now, named, new_repo, random_bytes, restored, set_format, snapshot,
    tempdir, write,
};

/// A new repository and a directory holding `footage.mov` of `len` random bytes (from
/// `seed`), checkpointed as `a`; returns them and the footage.
async fn footage_checkpointed(
    len: usize,
    seed: u64,
) -> (tempfile::TempDir, Repository, tempfile::TempDir, Vec<u8>) {
    let (root, repo) = new_repo().await;
    let dir = tempdir();
    let footage = random_bytes(len, seed);
    write(dir.path(), "footage.mov", &footage);
    repo.checkpoint(dir.path(), named("a"), Arc::new(NoProgress))
        .await
        .unwrap();
    (root, repo, dir, footage)
}

/// `reel --json checkpoint` in `dir`: the bytes it stored.
fn checkpoint_stored_bytes(dir: &std::path::Path) -> u64 {
    crate::util::reel_json(dir, &["checkpoint"])["stored_bytes"]
        .as_u64()
        .unwrap()
}

/// `data` with `len` new random bytes (from `seed`) inserted in its middle.
fn inserted(data: &[u8], len: usize, seed: u64) -> Vec<u8> {
    let mid = data.len() / 2;
    [&data[..mid], &random_bytes(len, seed)[..], &data[mid..]].concat()
}

#[tokio::test]
async fn an_insertion_into_footage_costs_about_what_was_inserted() {
    let (_root, repo, dir, footage) = footage_checkpointed(4 << 20, 1).await;
    let d = dir.path();
    let want_a = snapshot(d);

    write(d, "footage.mov", inserted(&footage, 4096, 2));
    let b = repo
        .checkpoint(d, named("b"), Arc::new(NoProgress))
        .await
        .unwrap();
    let want_b = snapshot(d);
    // Whole, the one or two chunks around the edit cost 300 KiB or more.
    assert!(
        b.stored_bytes < 32 * 1024,
        "4 KiB inserted cost {} stored bytes",
        b.stored_bytes
    );
    assert!(repo.stats().await.unwrap().deltas >= 1);
    assert_eq!(restored(&repo, "a").await, want_a);
    assert_eq!(restored(&repo, "b").await, want_b);
    let fsck = repo.fsck(true).await.unwrap();
    assert!(fsck.is_clean(), "{fsck:?}");
}

/// The base of a delta sits in a pack that is mostly dead once the first checkpoint
/// is deleted: gc rewrites that pack, and must carry the base over although no tree
/// names it any more.
#[tokio::test]
async fn gc_keeps_the_bases_of_a_live_delta() {
    let (_root, repo) = new_repo().await;
    let dir = tempdir();
    let d = dir.path();
    // In one checkpoint, so in one pack: the footage's first version and a take.
    let footage = random_bytes(1 << 20, 3);
    write(d, "footage.mov", &footage);
    write(d, "take-2.mov", random_bytes(8 << 20, 4));
    repo.checkpoint(d, named("a"), Arc::new(NoProgress))
        .await
        .unwrap();
    std::fs::remove_file(d.join("take-2.mov")).unwrap();
    write(d, "footage.mov", inserted(&footage, 4096, 5));
    let b = repo
        .checkpoint(d, named("b"), Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(b.stored_bytes < 32 * 1024, "no delta: {b:?}");
    let want_b = snapshot(d);

    repo.delete_checkpoint("a").await.unwrap();
    let gc = repo.gc(now()).await.unwrap();
    assert!(
        !gc.packs_repacked.is_empty() || !gc.packs_deleted.is_empty(),
        "the deleted take was not collected: {gc:?}"
    );
    let fsck = repo.fsck(true).await.unwrap();
    assert!(fsck.is_clean(), "{fsck:?}");
    assert_eq!(restored(&repo, "b").await, want_b);
    // A second collection finds the base live again (not only spared once).
    repo.gc(now()).await.unwrap();
    assert_eq!(restored(&repo, "b").await, want_b);
}

/// Twelve edits in the same place make each changed chunk a delta of the last one's;
/// the chain stops at its limit (a chunk is then stored whole) and every version reads
/// back exactly.
#[tokio::test]
async fn a_chain_of_edits_restores_every_version() {
    let (_root, repo) = new_repo().await;
    let dir = tempdir();
    let d = dir.path();
    let mut footage = random_bytes(2 << 20, 6);
    let mut versions = Vec::new();
    let (mut whole, mut deltas) = (0, 0);
    for step in 0..12u64 {
        write(d, "footage.mov", &footage);
        let s = repo
            .checkpoint(d, named(&format!("v{step}")), Arc::new(NoProgress))
            .await
            .unwrap();
        if step > 0 && s.stored_bytes > 128 * 1024 {
            whole += 1;
        }
        if step > 0 && s.stored_bytes < 32 * 1024 {
            deltas += 1;
        }
        versions.push(snapshot(d));
        footage = inserted(&footage, 1000, 100 + step);
    }
    assert!(whole >= 1, "the chain never reached its limit");
    assert!(
        deltas >= 8,
        "only {deltas} of 11 edits were stored as deltas"
    );
    for (step, want) in versions.iter().enumerate() {
        assert_eq!(&restored(&repo, &format!("v{step}")).await, want, "v{step}");
    }
    // Deleting the middle of the chain keeps what its ends need.
    for step in 1..11 {
        repo.delete_checkpoint(&format!("v{step}")).await.unwrap();
    }
    repo.gc(now()).await.unwrap();
    let fsck = repo.fsck(true).await.unwrap();
    assert!(fsck.is_clean(), "{fsck:?}");
    assert_eq!(&restored(&repo, "v11").await, &versions[11]);
    assert_eq!(&restored(&repo, "v0").await, &versions[0]);
}

/// A repository of format 2 (whose packs an older release reads) never gets a delta,
/// and stays at format 2.
#[tokio::test]
async fn a_format_2_repository_stores_chunks_whole() {
    let root = tempdir();
    let path = root.path().join("repo");
    Repository::init(&path, RepoConfig::default())
        .await
        .unwrap();
    let config = path.join("config");
    assert_eq!(format_of(&config), 5);
    set_format(&config, 2);
    let repo = Repository::open(&path).await.unwrap();
    let dir = tempdir();
    let d = dir.path();
    let footage = random_bytes(2 << 20, 7);
    write(d, "footage.mov", &footage);
    repo.checkpoint(d, named("a"), Arc::new(NoProgress))
        .await
        .unwrap();
    write(d, "footage.mov", inserted(&footage, 4096, 8));
    let b = repo
        .checkpoint(d, named("b"), Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(b.stored_bytes > 64 * 1024, "{b:?}");
    assert_eq!(repo.stats().await.unwrap().deltas, 0);
    drop(repo);
    assert_eq!(format_of(&config), 2);
}

/// `reel upgrade` moves a format 2 repository to the newest format, after which an edit is
/// stored as a delta; a second upgrade has nothing to do; a repository on a URL
/// backend (shared by machines) keeps its format.
#[test]
fn upgrade_moves_a_format_2_repository_to_deltas() {
    use crate::util::reel;
    use predicates::str::contains;
    let dir = tempdir();
    let d = dir.path();
    reel(d).arg("init").assert().success();
    let config = d.join(".reel/config");
    set_format(&config, 2);
    let footage = random_bytes(2 << 20, 31);
    write(d, "footage.mov", &footage);
    reel(d).args(["checkpoint", "-q"]).assert().success();
    reel(d)
        .arg("upgrade")
        .assert()
        .success()
        .stdout(contains("from format 2 to 5"));
    assert_eq!(format_of(&config), 5);
    write(d, "footage.mov", inserted(&footage, 4096, 32));
    let stored = checkpoint_stored_bytes(d);
    assert!(stored < 32 * 1024, "{stored} bytes stored");
    reel(d)
        .arg("upgrade")
        .assert()
        .success()
        .stdout(contains("already format 5"));

    let shared = tempdir();
    let url = format!("file://{}", shared.path().join("blobs").display());
    let s = shared.path();
    reel(s).args(["init", "--backend", &url]).assert().success();
    let config = s.join(".reel/config");
    set_format(&config, 2);
    reel(s)
        .arg("upgrade")
        .assert()
        .code(1)
        .stderr(contains("bucket keeps its format"));
    assert_eq!(format_of(&config), 2);
}

/// A second machine attaching to a bucket of format 2 (made by an older release that
/// other machines may still run) stays at format 2: it stores changed chunks whole.
#[test]
fn attaching_to_a_format_2_bucket_writes_no_deltas() {
    use crate::util::reel;
    let bucket = tempdir();
    let url = format!("file://{}", bucket.path().join("blobs").display());
    let a = tempdir();
    reel(a.path())
        .args(["init", "--backend", &url])
        .assert()
        .success();
    set_format(&bucket.path().join("blobs/repository"), 2);
    let b = tempdir();
    let d = b.path();
    reel(d).args(["init", "--backend", &url]).assert().success();
    assert_eq!(format_of(&d.join(".reel/config")), 2);
    let footage = random_bytes(2 << 20, 41);
    write(d, "footage.mov", &footage);
    reel(d).args(["checkpoint", "-q"]).assert().success();
    write(d, "footage.mov", inserted(&footage, 4096, 42));
    let stored = checkpoint_stored_bytes(d);
    assert!(stored > 64 * 1024, "{stored} bytes stored: a delta");
}
