//! GC racing a checkpoint, deterministically: both run as real `reel` processes, each
//! paused at failpoints, and every interleaving of their steps is played with
//! `--grace 0s`. Nothing a checkpoint reported as stored may be lost.
//!
//! The checkpoint's steps: registered as a writer → scanned (deduplicated against
//! the index, including an object that is dead; or, in the delta scenario, compressing
//! a changed chunk against one its publication leaves dead) and its pack stored, not yet published
//! → published. GC's steps: planned and condemned → applied (packs dropped from the
//! index) → blobs deleted.

use std::path::Path;

use crate::util::{
    Failpoints, finish, random_bytes, reel, reel_json, snapshot, spawn_reel, tempdir, write,
};

/// One step of one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Checkpoint,
    Gc,
}

/// The failpoints each side pauses at, in order; the last step runs to the end.
const CHECKPOINT_POINTS: [&str; 2] = ["writer-registered", "checkpoint-before-publish"];
const GC_POINTS: [&str; 2] = ["gc-after-plan", "gc-after-apply"];

/// Every order of three checkpoint steps and three GC steps (20 of them).
fn interleavings() -> Vec<Vec<Step>> {
    fn go(c: usize, g: usize, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        if c == 3 && g == 3 {
            out.push(prefix.clone());
            return;
        }
        if c < 3 {
            prefix.push(Step::Checkpoint);
            go(c + 1, g, prefix, out);
            prefix.pop();
        }
        if g < 3 {
            prefix.push(Step::Gc);
            go(c, g + 1, prefix, out);
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    go(0, 0, &mut Vec::new(), &mut out);
    out
}

/// A side: a process paused at its failpoints, advanced one step at a time.
struct Side {
    fp: Failpoints,
    points: &'static [&'static str],
    args: Vec<String>,
    child: Option<std::process::Child>,
    done: usize,
}

impl Side {
    fn new(points: &'static [&'static str], args: &[&str]) -> Side {
        let fp = Failpoints::new();
        for p in points {
            fp.pause(p);
        }
        Side {
            fp,
            points,
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
            done: 0,
        }
    }

    /// Runs the next step: up to the next failpoint, or to the end. Returns stdout at
    /// the end.
    fn step(&mut self, root: &Path) -> Option<String> {
        if self.done == 0 {
            let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
            self.child = Some(spawn_reel(root, &self.fp, &args));
        } else {
            self.fp.release(self.points[self.done - 1]);
        }
        self.done += 1;
        if let Some(point) = self.points.get(self.done - 1) {
            self.fp
                .wait_reached(point, self.child.as_mut().expect("started"));
            None
        } else {
            let child = self.child.take().expect("started");
            Some(finish(child, &self.args.join(" ")))
        }
    }
}

/// What the checkpoint under test stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// A file whose only checkpoint is forgotten (dead data it deduplicates against),
    /// and a new one.
    Dedup,
    /// An edit inside footage, stored as a delta against a chunk of the previous
    /// version, which the checkpoint's publication makes dead but for the delta (the
    /// pack holding it is then mostly dead, and rewritten).
    Delta,
}

/// Prepares the repository and directory `c` for `scenario`; returns what `c` holds.
fn prepare(r: &Path, repo_arg: &str, scenario: Scenario) -> crate::util::Tree {
    match scenario {
        Scenario::Dedup => {
            // Dead data: `shared.bin` is indexed, but its only checkpoint is forgotten
            // and its directory is gone.
            let shared = random_bytes(300_000, 1);
            write(&r.join("old"), "shared.bin", &shared);
            write(&r.join("old"), "old-only.bin", random_bytes(700_000, 2));
            reel(r)
                .args(["--repo", repo_arg, "checkpoint", "old", "--name", "old"])
                .assert()
                .success();
            reel(r)
                .args(["--repo", repo_arg, "forget", "old"])
                .assert()
                .success();
            std::fs::remove_dir_all(r.join("old")).unwrap();
            // The checkpoint under test holds the dead file again, and a new one.
            write(&r.join("c"), "shared.bin", &shared);
            write(&r.join("c"), "new.bin", random_bytes(250_000, 3));
        }
        Scenario::Delta => {
            let footage = random_bytes(2 << 20, 11);
            write(&r.join("c"), "footage.mov", &footage);
            write(&r.join("c"), "take-2.mov", random_bytes(6 << 20, 12));
            reel(r)
                .args(["--repo", repo_arg, "checkpoint", "c", "--name", "v1"])
                .assert()
                .success();
            reel(r)
                .args(["--repo", repo_arg, "forget", "v1"])
                .assert()
                .success();
            std::fs::remove_file(r.join("c/take-2.mov")).unwrap();
            let mid = footage.len() / 2;
            let edited = [
                &footage[..mid],
                &random_bytes(4096, 13)[..],
                &footage[mid..],
            ]
            .concat();
            write(&r.join("c"), "footage.mov", edited);
        }
    }
    snapshot(&r.join("c"))
}

/// Plays one interleaving in a fresh repository; panics naming it if anything is lost.
fn play(order: &[Step], scenario: Scenario) {
    let root = tempdir();
    let r = root.path();
    let repo = r.join("repo");
    let repo_arg = repo.to_str().unwrap().to_owned();
    reel(r)
        .args(["--repo", &repo_arg, "init"])
        .assert()
        .success();
    let expected = prepare(r, &repo_arg, scenario);

    let mut ckpt = Side::new(
        &CHECKPOINT_POINTS,
        &[
            "--repo",
            &repo_arg,
            "--json",
            "checkpoint",
            "c",
            "--name",
            "c",
        ],
    );
    let mut gc = Side::new(&GC_POINTS, &["--repo", &repo_arg, "gc", "--grace", "0s"]);
    let mut summary = None;
    for step in order {
        match step {
            Step::Checkpoint => summary = ckpt.step(r).or(summary),
            Step::Gc => {
                gc.step(r);
            }
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&summary.expect("the checkpoint finished")).unwrap();
    let id = summary["id"].as_str().unwrap();
    if scenario == Scenario::Delta {
        let stored = summary["stored_bytes"].as_u64().unwrap();
        assert!(
            stored < 64 * 1024,
            "{order:?}: no delta, {stored} bytes stored"
        );
    }

    // Nothing is lost: the repository is clean and the checkpoint restores exactly.
    check(r, &repo_arg, order, id, &expected);
    // A later collection (nothing running now) finishes what was deferred; still
    // nothing is lost, and the dead data that nothing needs is gone.
    run(r, &["--repo", &repo_arg, "gc", "--grace", "0s"], order);
    check(r, &repo_arg, order, id, &expected);
    let stats = reel_json(r, &["--repo", &repo_arg, "stats"]);
    let limit = match scenario {
        Scenario::Dedup => 600_000,
        Scenario::Delta => 3 << 20,
    };
    assert!(
        stats["pack_bytes"].as_u64().unwrap() < limit,
        "{order:?}: the dead file was never freed: {stats}"
    );
}

/// Runs `reel`; panics with the interleaving and its output unless it succeeds.
fn run(dir: &Path, args: &[&str], order: &[Step]) -> String {
    let out = reel(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{order:?}: reel {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// fsck is clean and the checkpoint restores byte for byte.
fn check(r: &Path, repo: &str, order: &[Step], id: &str, expected: &crate::util::Tree) {
    run(r, &["--repo", repo, "fsck", "--read-data"], order);
    let out = tempdir();
    let to = out.path().to_str().unwrap();
    run(r, &["--repo", repo, "restore", id, "--to", to], order);
    assert_eq!(
        &snapshot(out.path()),
        expected,
        "{order:?}: restored bytes differ"
    );
}

fn play_all(first: Step, scenario: Scenario) {
    let orders: Vec<Vec<Step>> = interleavings()
        .into_iter()
        .filter(|o| o[0] == first)
        .collect();
    assert_eq!(orders.len(), 10);
    for order in &orders {
        play(order, scenario);
    }
}

#[test]
fn gc_racing_a_checkpoint_that_started_first_loses_nothing() {
    play_all(Step::Checkpoint, Scenario::Dedup);
}

#[test]
fn gc_racing_a_checkpoint_that_started_second_loses_nothing() {
    play_all(Step::Gc, Scenario::Dedup);
}

#[test]
fn gc_racing_a_checkpoint_of_deltas_loses_nothing() {
    play_all(Step::Checkpoint, Scenario::Delta);
    play_all(Step::Gc, Scenario::Delta);
}

#[test]
fn a_second_gc_while_one_runs_is_refused() {
    let root = tempdir();
    let r = root.path();
    reel(r).arg("init").assert().success();
    write(r, "a.txt", "a");
    reel(r).arg("checkpoint").assert().success();
    let fp = Failpoints::new();
    fp.pause("gc-after-plan");
    let mut first = spawn_reel(r, &fp, &["gc", "--grace", "0s"]);
    fp.wait_reached("gc-after-plan", &mut first);
    reel(r)
        .args(["gc", "--grace", "0s"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("another gc is running"));
    fp.release("gc-after-plan");
    finish(first, "the first gc");
    // Once it is done, the next one runs.
    reel(r).args(["gc", "--grace", "0s"]).assert().success();
}
