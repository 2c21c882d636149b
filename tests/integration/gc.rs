//! Garbage collection: deleted checkpoints free exactly their own data; young packs
//! and live data are never touched.

use std::sync::Arc;

use reelstore::{GcOptions, NoProgress, RepoConfig, Repository};

use crate::util::{gc_now as now, named, random_bytes, snapshot, tempdir, write};

#[tokio::test]
async fn deleting_the_middle_checkpoint_frees_only_its_data() {
    let root = tempdir();
    let repo = Repository::init(root.path().join("repo"), RepoConfig::default())
        .await
        .unwrap();
    let dir = tempdir();
    write(dir.path(), "shared.bin", random_bytes(2 << 20, 1));
    write(dir.path(), "one.bin", random_bytes(3 << 20, 2));
    repo.checkpoint(dir.path(), named("a"), Arc::new(NoProgress))
        .await
        .unwrap();
    let snap_a = tempdir();
    repo.restore("a", snap_a.path(), Arc::new(NoProgress))
        .await
        .unwrap();

    std::fs::remove_file(dir.path().join("one.bin")).unwrap();
    write(dir.path(), "two.bin", random_bytes(5 << 20, 3));
    repo.checkpoint(dir.path(), named("b"), Arc::new(NoProgress))
        .await
        .unwrap();

    std::fs::remove_file(dir.path().join("two.bin")).unwrap();
    write(dir.path(), "three.bin", random_bytes(1 << 20, 4));
    repo.checkpoint(dir.path(), named("c"), Arc::new(NoProgress))
        .await
        .unwrap();

    // Nothing is dead yet.
    let before = repo.gc(now()).await.unwrap();
    assert_eq!(before.plan.dead_objects, 0);
    assert!(before.packs_deleted.is_empty());

    let b = repo.delete_checkpoint("b").await.unwrap();
    let dry = repo
        .gc(GcOptions {
            dry_run: true,
            ..now()
        })
        .await
        .unwrap();
    let report = repo.gc(now()).await.unwrap();
    assert_eq!(dry.bytes_freed, report.bytes_freed);
    // The dry run printed exactly the plan the real run applied.
    assert_eq!(dry.plan, report.plan);
    assert_eq!(dry.packs_deleted, report.packs_deleted);
    assert_eq!(dry.packs_repacked, report.packs_repacked);
    // b's pack held two.bin (5 MiB, incompressible) and its trees and commit.
    assert!(
        report.bytes_freed >= 5 << 20 && report.bytes_freed < (5 << 20) + 64 * 1024,
        "{report:?}"
    );
    assert_eq!(
        report.packs_deleted.len() + report.packs_repacked.len(),
        1,
        "{report:?}"
    );
    assert!(repo.fsck(true).await.unwrap().is_clean());

    let a = tempdir();
    repo.restore("a", a.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(snapshot(a.path()), snapshot(snap_a.path()));
    let c = tempdir();
    repo.restore("c", c.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(snapshot(c.path()), snapshot(dir.path()));

    // The log still shows b, marked deleted.
    let log = repo.log(None, 10).await.unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[1].id, b);
    assert!(log[1].deleted);
    assert!(!log[0].deleted && !log[2].deleted);
}

#[tokio::test]
async fn packs_the_index_never_knew_are_kept_unless_pruning_is_asked_for() {
    let root = tempdir();
    let repo = Repository::init(root.path().join("repo"), RepoConfig::default())
        .await
        .unwrap();
    let dir = tempdir();
    write(dir.path(), "a.bin", random_bytes(1 << 20, 1));
    repo.checkpoint(dir.path(), named("a"), Arc::new(NoProgress))
        .await
        .unwrap();
    // A pack no writer of this index announced: another index's, or an older release's
    // crash leftover. Nothing here can tell which.
    let unknown = root
        .path()
        .join("repo/packs/packs")
        .join(format!("{}.pack", "ab".repeat(32)));
    std::fs::write(&unknown, b"not ours to judge").unwrap();

    let young = repo.gc(GcOptions::default()).await.unwrap();
    assert!(young.packs_deleted.is_empty());
    assert!(young.plan.too_young >= 1, "{young:?}");
    assert!(unknown.exists());

    let kept = repo.gc(now()).await.unwrap();
    assert!(kept.packs_deleted.is_empty(), "{kept:?}");
    assert_eq!(kept.plan.unknown.len(), 1);
    assert!(unknown.exists());

    let pruned = repo
        .gc(GcOptions {
            prune_unknown: true,
            ..now()
        })
        .await
        .unwrap();
    assert_eq!(pruned.packs_deleted.len(), 1);
    assert!(!unknown.exists());
    assert!(repo.fsck(true).await.unwrap().is_clean());
}

#[tokio::test]
async fn mostly_dead_packs_are_repacked_keeping_live_objects() {
    let root = tempdir();
    let repo = Repository::init(root.path().join("repo"), RepoConfig::default())
        .await
        .unwrap();
    let dir = tempdir();
    write(dir.path(), "keep.txt", "small and live");
    write(dir.path(), "big.bin", random_bytes(4 << 20, 2));
    repo.checkpoint(dir.path(), named("a"), Arc::new(NoProgress))
        .await
        .unwrap();
    std::fs::remove_file(dir.path().join("big.bin")).unwrap();
    repo.checkpoint(dir.path(), named("b"), Arc::new(NoProgress))
        .await
        .unwrap();
    repo.delete_checkpoint("a").await.unwrap();
    let report = repo.gc(now()).await.unwrap();
    assert_eq!(report.packs_repacked.len(), 1, "{report:?}");
    assert!(report.bytes_freed >= 4 << 20);
    assert_eq!(repo.read("b", "keep.txt").await.unwrap(), b"small and live");
    assert!(repo.fsck(true).await.unwrap().is_clean());
    let stats = repo.stats().await.unwrap();
    assert!(stats.pack_bytes < 64 * 1024, "{stats:?}");
}

/// A stat cache row never vouches for content gc removed: a file left out (ignored)
/// after the only checkpoint holding it was deleted and collected, then let back in
/// unchanged, is read and stored again, and the checkpoint that holds it restores.
#[tokio::test]
async fn a_stat_cache_row_never_vouches_for_collected_content() {
    let root = tempdir();
    let repo = Repository::init(root.path().join("repo"), RepoConfig::default())
        .await
        .unwrap();
    let dir = tempdir();
    let d = dir.path();
    let clip = random_bytes(1 << 20, 5);
    write(d, "keep.txt", "kept");
    write(d, "clip.bin", &clip);
    // Older than the stat cache's racy window, so checkpoint a records its row.
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(10);
    std::fs::File::options()
        .write(true)
        .open(d.join("clip.bin"))
        .unwrap()
        .set_modified(past)
        .unwrap();
    repo.checkpoint(d, named("a"), Arc::new(NoProgress))
        .await
        .unwrap();
    write(d, ".reelignore", "clip.bin\n");
    repo.checkpoint(d, named("b"), Arc::new(NoProgress))
        .await
        .unwrap();
    repo.delete_checkpoint("a").await.unwrap();
    let gc = repo.gc(now()).await.unwrap();
    assert!(
        !gc.packs_deleted.is_empty() || !gc.packs_repacked.is_empty(),
        "the clip's data was not collected: {gc:?}"
    );
    std::fs::remove_file(d.join(".reelignore")).unwrap();
    let c = repo
        .checkpoint(d, named("c"), Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(
        c.new_bytes >= 1 << 20,
        "the clip was not stored again: {c:?}"
    );
    let fsck = repo.fsck(true).await.unwrap();
    assert!(fsck.is_clean(), "{fsck:?}");
    let out = tempdir();
    repo.restore("c", out.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(std::fs::read(out.path().join("clip.bin")).unwrap(), clip);
}
