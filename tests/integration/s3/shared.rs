//! Refs in the bucket: machines with their own directories and indexes see each
//! other's checkpoints, and racing checkpoints lose none (`refs/HEAD` moves by
//! compare-and-swap).

use std::collections::BTreeSet;
use std::path::Path;

use super::{CREDENTIALS, Moto, ok, s3_reel};
use tempfile::TempDir;

use crate::util::{Failpoints, sample_project, spawn_reel_with, tempdir, write};

/// A moto server with `bucket`, its prefix URL, and two machines' directories: A holds
/// the sample project and has run `reel init` there; B is empty.
fn two_machines(bucket: &str) -> (Moto, String, TempDir, TempDir) {
    let moto = Moto::start();
    moto.bucket(bucket);
    let url = moto.url(bucket, "p");
    let (a, b) = (tempdir(), tempdir());
    sample_project(a.path());
    ok(a.path(), &["init", "--backend", &url]);
    (moto, url, a, b)
}

/// The messages of the checkpoints on HEAD's first-parent chain, newest first.
fn chain(dir: &Path) -> Vec<String> {
    let log: serde_json::Value =
        serde_json::from_str(&ok(dir, &["log", "-n", "100000", "--json"])).unwrap();
    log.as_array()
        .unwrap()
        .iter()
        .map(|e| e["description"].as_str().unwrap().to_owned())
        .collect()
}

/// Two machines (separate directories and indexes), two processes on each, 25
/// checkpoints per process (mostly of an unchanged tree, hence `--allow-empty`), all
/// at once on one prefix: every checkpoint is on the one linear history both
/// machines see, and fsck is clean on both.
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn racing_checkpoints_on_two_machines_lose_none() {
    const PER_PROCESS: usize = 25;
    let (_moto, url, a, b) = two_machines("race");
    ok(a.path(), &["checkpoint", "-m", "base"]);
    sample_project(b.path());
    write(b.path(), "from-b.txt", "machine B\n");
    ok(b.path(), &["init", "--backend", &url]);
    std::thread::scope(|scope| {
        for (machine, dir) in [("a", a.path()), ("b", b.path())] {
            for process in 0..2 {
                scope.spawn(move || {
                    for i in 0..PER_PROCESS {
                        let message = format!("{machine}{process} #{i}");
                        ok(dir, &["checkpoint", "-q", "--allow-empty", "-m", &message]);
                    }
                });
            }
        }
    });
    let expected: BTreeSet<String> = ["a", "b"]
        .iter()
        .flat_map(|m| {
            (0..2).flat_map(move |p| (0..PER_PROCESS).map(move |i| format!("{m}{p} #{i}")))
        })
        .chain(["base".to_owned()])
        .collect();
    for dir in [a.path(), b.path()] {
        let seen = chain(dir);
        assert_eq!(seen.len(), expected.len(), "{seen:?}");
        assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), expected);
        ok(dir, &["fsck", "--read-data"]);
    }
    assert_eq!(chain(a.path()), chain(b.path()), "the machines disagree");
}

/// A checkpoint killed after it moved `refs/HEAD` but before it wrote its record or
/// its own index: the checkpoint happened (HEAD is the commit point), the other
/// machine sees it, and the next sync writes the missing record.
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn a_checkpoint_killed_after_moving_head_is_seen_by_the_other_machine() {
    let (_moto, url, a, b) = two_machines("kill");
    ok(a.path(), &["checkpoint", "-m", "first"]);
    ok(b.path(), &["init", "--backend", &url]);
    write(a.path(), "src/new.tsx", "export const New = 1;\n");
    let fp = Failpoints::new();
    fp.pause("checkpoint-head-moved");
    let mut child = spawn_reel_with(
        a.path(),
        &fp,
        &["checkpoint", "-m", "second", "--name", "v2"],
        &CREDENTIALS,
    );
    fp.wait_reached("checkpoint-head-moved", &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(chain(b.path()), ["second", "first"]);
    // A's own index never published it; its sync brings it back.
    assert_eq!(chain(a.path()), ["second", "first"]);
    // A checkpoint in its own right on both (a GC root, with its name), not only
    // HEAD's commit.
    for dir in [a.path(), b.path()] {
        let stats: serde_json::Value =
            serde_json::from_str(&ok(dir, &["stats", "--json"])).unwrap();
        assert_eq!(stats["checkpoints"], 2, "{stats}");
    }
    let cat = s3_reel(b.path(), &["cat", "v2:src/new.tsx"]);
    assert!(cat.status.success());
    assert_eq!(cat.stdout, b"export const New = 1;\n");
    ok(b.path(), &["fsck", "--read-data"]);
}

/// With its index deleted, a machine rebuilds everything the bucket says: checkpoints
/// and names, a checkpoint forgotten on another machine stays forgotten, and HEAD is
/// where a restore left it (not the newest checkpoint, as packs alone would say).
#[test]
#[ignore = "needs moto (an S3-compatible server): scripts/test installs it and runs this"]
fn index_rebuild_takes_checkpoints_names_tombstones_and_head_from_the_bucket() {
    let (_moto, url, a, b) = two_machines("rebuild");
    for (name, text) in [("v1", "one"), ("v2", "two"), ("v3", "three")] {
        write(a.path(), "notes.md", text);
        ok(a.path(), &["checkpoint", "--name", name, "-m", name]);
    }
    ok(b.path(), &["init", "--backend", &url]);
    ok(b.path(), &["forget", "v2"]);
    ok(a.path(), &["restore", "v1"]);
    let before = chain(a.path());
    assert_eq!(before, ["v1"]);

    std::fs::remove_file(a.path().join(".reel/index.redb")).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&ok(a.path(), &["index", "rebuild", "--json"])).unwrap();
    assert_eq!(report["checkpoints"], 2, "{report}");
    // Every pack described by an index segment: no trailer read.
    assert_eq!(report["packs_from_segments"], report["packs"], "{report}");
    assert_eq!(report["trailers_read"], 0, "{report}");
    assert_eq!(report["from_bucket"], true, "{report}");
    assert_eq!(chain(a.path()), before, "HEAD moved by the rebuild");
    let show = s3_reel(a.path(), &["show", "v2"]);
    assert!(!show.status.success(), "the forgotten v2 came back");
    let v3 = s3_reel(a.path(), &["cat", "v3:notes.md"]);
    assert_eq!(v3.stdout, b"three");
    // B sees the same.
    assert_eq!(chain(b.path()), before);
}
