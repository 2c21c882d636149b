//! A checkpoint killed (SIGKILL) after storing its packs leaves them behind, announced
//! by a registration whose process is gone. The next writer adopts them: it indexes
//! them and deduplicates against them instead of storing everything again. A gc that
//! planned to delete them as abandoned deletes none that a writer adopted meanwhile,
//! and a writer never adopts a pack gc has deleted.

use std::path::Path;

use crate::util::{Failpoints, finish, random_bytes, reel, snapshot, spawn_reel, tempdir, write};

/// The pack files of the local repository at `repo`.
fn packs(repo: &Path) -> usize {
    std::fs::read_dir(repo.join("packs/packs")).map_or(0, Iterator::count)
}

/// A repository at `<root>/repo` and a directory `<root>/c` of 40 MiB in four files,
/// to be checkpointed.
fn setup(root: &Path) -> String {
    let repo = root.join("repo").to_str().unwrap().to_owned();
    reel(root)
        .args(["--repo", &repo, "init"])
        .assert()
        .success();
    for i in 0..4 {
        write(
            &root.join("c"),
            &format!("take{i}.mov"),
            random_bytes(10 << 20, i),
        );
    }
    repo
}

/// Runs a checkpoint of `<root>/c` that kills itself once its packs are stored.
fn killed_checkpoint(root: &Path, repo: &str) {
    let fp = Failpoints::new();
    fp.kill("checkpoint-before-publish");
    let out = spawn_reel(root, &fp, &["--repo", repo, "checkpoint", "c"])
        .wait_with_output()
        .unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9),
        "the checkpoint was not killed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// fsck with data is clean and HEAD restores `<root>/c`.
fn intact(root: &Path, repo: &str) {
    reel(root)
        .args(["--repo", repo, "fsck", "--read-data"])
        .assert()
        .success();
    let out = root.join("out");
    let _ = std::fs::remove_dir_all(&out);
    reel(root)
        .args([
            "--repo",
            repo,
            "restore",
            "HEAD",
            "--to",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert_eq!(snapshot(&out), snapshot(&root.join("c")));
}

#[test]
fn a_rerun_after_a_kill_reuses_the_packs_the_killed_checkpoint_stored() {
    let root = tempdir();
    let r = root.path();
    let repo = setup(r);
    killed_checkpoint(r, &repo);
    let left = packs(&r.join("repo"));
    assert!(left >= 3, "{left} packs stored before the kill");
    reel(r)
        .args(["--repo", &repo, "checkpoint", "c"])
        .assert()
        .success();
    let after = packs(&r.join("repo"));
    // The re-run stores only its trees and commit.
    assert!(
        after <= left + 1,
        "{left} packs left by the kill, {after} after the re-run"
    );
    intact(r, &repo);
}

#[test]
fn a_gc_planned_before_a_writer_adopts_deletes_nothing_it_adopted() {
    let root = tempdir();
    let r = root.path();
    let repo = setup(r);
    killed_checkpoint(r, &repo);
    let left = packs(&r.join("repo"));
    // gc plans (the killed writer's packs are abandoned to it) and pauses.
    let fp = Failpoints::new();
    fp.pause("gc-after-plan");
    let mut gc = spawn_reel(r, &fp, &["--repo", &repo, "gc", "--grace", "0s"]);
    fp.wait_reached("gc-after-plan", &mut gc);
    // A checkpoint adopts them, deduplicates against them and publishes.
    reel(r)
        .args(["--repo", &repo, "checkpoint", "c"])
        .assert()
        .success();
    fp.release("gc-after-plan");
    finish(gc, "gc");
    assert!(packs(&r.join("repo")) >= left, "gc deleted adopted packs");
    intact(r, &repo);
}

#[test]
fn a_writer_never_adopts_what_a_gc_deleted() {
    let root = tempdir();
    let r = root.path();
    let repo = setup(r);
    killed_checkpoint(r, &repo);
    // The writer has read the killed writer's trailers and pauses before indexing them.
    let fp = Failpoints::new();
    fp.pause("writer-before-adopt");
    let mut ckpt = spawn_reel(r, &fp, &["--repo", &repo, "checkpoint", "c"]);
    fp.wait_reached("writer-before-adopt", &mut ckpt);
    // Meanwhile a gc deletes them as abandoned.
    reel(r)
        .args(["--repo", &repo, "gc", "--grace", "0s"])
        .assert()
        .success();
    assert_eq!(packs(&r.join("repo")), 0, "gc left the abandoned packs");
    fp.release("writer-before-adopt");
    finish(ckpt, "checkpoint");
    intact(r, &repo);
}
