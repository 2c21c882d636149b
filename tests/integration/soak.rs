//! A bounded soak: four writer processes checkpoint (and forget) in a loop while a gc
//! loop runs with `--grace 0s`. Every checkpoint that reported success and was not
//! forgotten restores byte-identically, and fsck is clean.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{Tree, random_bytes, reel, snapshot, tempdir, write};

const WRITERS: usize = 4;
const RUN_FOR: Duration = Duration::from_secs(8);

fn reel_out(dir: &Path, args: &[&str]) -> std::process::Output {
    reel(dir).args(args).output().unwrap()
}

/// One writer: edits its directory, checkpoints, sometimes forgets an older one.
/// Returns the checkpoints it expects to survive, with their trees.
fn writer(root: &Path, repo: &str, n: usize, until: Instant) -> BTreeMap<String, Tree> {
    let dir = root.join(format!("w{n}"));
    let dir_arg = dir.to_str().unwrap().to_owned();
    let mut kept: BTreeMap<String, Tree> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut round = 0u64;
    while Instant::now() < until {
        round += 1;
        // Content shared between writers and rounds (dedup, also against data that a
        // forget just made dead), plus content of this round alone.
        write(&dir, "shared.bin", random_bytes(150_000, round % 3));
        write(
            &dir,
            "own.bin",
            random_bytes(100_000, 1000 * n as u64 + round),
        );
        write(
            &dir,
            "src/Root.tsx",
            format!("export const round = {round};\n"),
        );
        let out = reel_out(root, &["--repo", repo, "--json", "checkpoint", &dir_arg]);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            // Losing the HEAD race eight times in a row is a clean failure; nothing else is.
            assert!(
                err.contains("too many concurrent checkpoints"),
                "writer {n}: {err}"
            );
            continue;
        }
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = summary["id"].as_str().unwrap().to_owned();
        kept.insert(id.clone(), snapshot(&dir));
        order.push(id);
        if round.is_multiple_of(3) && order.len() > 1 {
            let old = order.remove(0);
            let out = reel_out(root, &["--repo", repo, "forget", &old]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            kept.remove(&old);
        }
    }
    kept
}

#[test]
fn four_writers_and_a_gc_loop_lose_nothing() {
    let root = tempdir();
    let repo = root.path().join("repo").to_str().unwrap().to_owned();
    reel(root.path())
        .args(["--repo", &repo, "init"])
        .assert()
        .success();
    let until = Instant::now() + RUN_FOR;
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            let (root, repo) = (root.path().to_path_buf(), repo.clone());
            std::thread::spawn(move || writer(&root, &repo, n, until))
        })
        .collect();
    let mut collections = 0;
    while Instant::now() < until {
        let out = reel_out(root.path(), &["--repo", &repo, "gc", "--grace", "0s"]);
        assert!(
            out.status.success(),
            "gc: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        collections += 1;
    }
    let mut expected = BTreeMap::new();
    for w in writers {
        expected.extend(w.join().unwrap());
    }
    assert!(
        expected.len() >= WRITERS * 2,
        "too few checkpoints to mean anything"
    );
    assert!(collections >= 3, "too few collections to mean anything");
    for (pass, every) in [("after the race", 1), ("after a final gc", 7)] {
        let fsck = reel_out(root.path(), &["--repo", &repo, "fsck", "--read-data"]);
        assert!(
            fsck.status.success(),
            "{pass}: {}",
            String::from_utf8_lossy(&fsck.stdout)
        );
        for (id, tree) in expected.iter().step_by(every) {
            let out = tempdir();
            let to = out.path().to_str().unwrap();
            let r = reel_out(root.path(), &["--repo", &repo, "restore", id, "--to", to]);
            assert!(
                r.status.success(),
                "{pass}: restore {id}: {}",
                String::from_utf8_lossy(&r.stderr)
            );
            assert_eq!(
                &snapshot(out.path()),
                tree,
                "{pass}: checkpoint {id} differs"
            );
        }
        let gc = reel_out(root.path(), &["--repo", &repo, "gc", "--grace", "0s"]);
        assert!(gc.status.success());
    }
    eprintln!(
        "soak: {} checkpoints kept, {collections} collections",
        expected.len()
    );
}
