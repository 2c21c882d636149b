//! Solid blocks (format 4): small objects compressed together come back byte for byte,
//! cost far less than one by one, survive gc with only their live members, fail loudly
//! when damaged, and never reach a repository of an older format until it is upgraded.

use std::path::Path;
use std::sync::Arc;

use reelstore::internals::parse_pack;
use reelstore::{Compression, NoProgress, RepoConfig, Repository};

use crate::util::{
    format_of, gc_now as now, named, new_repo, restored, set_format, snapshot, tempdir, write,
};

/// `n` small sources in packages of 50, as a vendored `node_modules` has them: the
/// same licence header and boilerplate, a few lines of their own.
pub(crate) fn node_modules(root: &Path, n: usize) {
    for i in 0..n {
        let body = format!(
            "/**\n * @license MIT\n * Copyright (c) the authors of package {p}\n */\n'use strict';\n\
             Object.defineProperty(exports, '__esModule', {{ value: true }});\n\
             const helper_{i} = require('./helper-{i}.js');\n\
             module.exports = function part{i}(frame) {{ return helper_{i}(frame * {i}); }};\n",
            p = i / 50
        );
        write(
            root,
            &format!("node_modules/pkg{}/lib/part{i}.js", i / 50),
            body,
        );
    }
}

/// A repository in a temporary directory whose config names `format`, as an older
/// release made it.
async fn repo_of_format(format: u64) -> (tempfile::TempDir, Repository) {
    let root = tempdir();
    let path = root.path().join("repo");
    drop(
        Repository::init(&path, RepoConfig::default())
            .await
            .unwrap(),
    );
    set_format(&path.join("config"), format);
    (root, Repository::open(&path).await.unwrap())
}

#[tokio::test]
async fn small_files_share_solid_blocks_and_come_back_exactly() {
    let dir = tempdir();
    node_modules(dir.path(), 600);
    let (_a, blocks) = new_repo().await;
    let (_b, alone) = repo_of_format(3).await;
    for repo in [&blocks, &alone] {
        repo.checkpoint(dir.path(), named("a"), Arc::new(NoProgress))
            .await
            .unwrap();
        assert_eq!(restored(repo, "a").await, snapshot(dir.path()));
        assert!(repo.fsck(true).await.unwrap().is_clean());
    }
    let (with, without) = (blocks.stats().await.unwrap(), alone.stats().await.unwrap());
    assert_eq!(without.stored_by_kind.blocks, 0, "{without:?}");
    assert_eq!(with.stored_by_kind.blocks, with.stored_bytes, "{with:?}");
    assert_eq!(with.objects, without.objects);
    assert!(
        with.stored_bytes * 3 < without.stored_bytes,
        "{} bytes in blocks, {} one by one",
        with.stored_bytes,
        without.stored_bytes
    );
}

/// gc rewrites a pack whose blocks are mostly dead: the live members move into new
/// blocks, the dead ones go, and the live share it planned with is the members' share
/// of their blocks (counting each member as its whole block would keep the pack).
#[tokio::test]
async fn gc_keeps_the_live_members_of_a_block_and_drops_the_dead() {
    let (_root, repo) = new_repo().await;
    let dir = tempdir();
    node_modules(dir.path(), 400);
    repo.checkpoint(dir.path(), named("a"), Arc::new(NoProgress))
        .await
        .unwrap();
    for i in (0..400).filter(|i| i % 4 != 0) {
        let path = format!("node_modules/pkg{}/lib/part{i}.js", i / 50);
        std::fs::remove_file(dir.path().join(path)).unwrap();
    }
    repo.checkpoint(dir.path(), named("b"), Arc::new(NoProgress))
        .await
        .unwrap();
    let before = repo.stats().await.unwrap();
    repo.delete_checkpoint("a").await.unwrap();
    let report = repo.gc(now()).await.unwrap();
    assert_eq!(report.packs_repacked.len(), 1, "{report:?}");
    let planned = &report.plan.repack[0];
    assert!(planned.live_bytes * 2 < planned.size, "{planned:?}");
    let after = repo.stats().await.unwrap();
    assert!(
        after.stored_by_kind.blocks * 2 < before.stored_by_kind.blocks,
        "{} bytes of blocks before, {} after",
        before.stored_by_kind.blocks,
        after.stored_by_kind.blocks
    );
    assert!(repo.fsck(true).await.unwrap().is_clean());
    assert_eq!(restored(&repo, "b").await, snapshot(dir.path()));
}

/// One byte changed inside a block: every read of its members fails (none returns
/// other bytes), and fsck names the damage.
#[tokio::test]
async fn a_damaged_block_fails_its_reads_and_fsck() {
    let (root, repo) = new_repo().await;
    let dir = tempdir();
    node_modules(dir.path(), 100);
    repo.checkpoint(dir.path(), named("a"), Arc::new(NoProgress))
        .await
        .unwrap();
    drop(repo);
    let packs = root.path().join("repo/packs");
    let pack = crate::util::files_under(&packs).pop().expect("one pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let entries = parse_pack(&bytes).unwrap();
    let block = entries
        .iter()
        .find(|e| matches!(e.compression, Compression::Block { .. }))
        .expect("a block");
    let middle = (block.offset + u64::from(block.stored_len) / 2) as usize;
    bytes[middle] ^= 0x40;
    std::fs::write(&pack, &bytes).unwrap();

    let repo = Repository::open(root.path().join("repo")).await.unwrap();
    let out = tempdir();
    let err = repo
        .restore("a", out.path(), Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    for (path, content) in snapshot(out.path()) {
        assert_eq!(Some(&content), snapshot(dir.path()).get(&path), "{path}");
    }
    assert!(!repo.fsck(true).await.unwrap().is_clean());
}

/// A format 3 repository (an older release may still use it) gets no blocks; once
/// upgraded it does, and what was stored before still reads.
#[tokio::test]
async fn blocks_wait_for_the_upgrade_to_format_4() {
    let (root, repo) = repo_of_format(3).await;
    let dir = tempdir();
    node_modules(dir.path(), 100);
    repo.checkpoint(dir.path(), named("a"), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(repo.stats().await.unwrap().stored_by_kind.blocks, 0);
    assert_eq!(repo.upgrade().await.unwrap(), (3, 5));
    assert_eq!(format_of(&root.path().join("repo/config")), 5);
    drop(repo);
    let repo = Repository::open(root.path().join("repo")).await.unwrap();
    write(
        dir.path(),
        "src/Video.tsx",
        "export const Video = () => null;\n",
    );
    repo.checkpoint(dir.path(), named("b"), Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(repo.stats().await.unwrap().stored_by_kind.blocks > 0);
    assert_eq!(restored(&repo, "b").await, snapshot(dir.path()));
    assert!(repo.fsck(true).await.unwrap().is_clean());
}
