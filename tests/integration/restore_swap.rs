//! Restores that replace files on disk: the swap of a new version into place, killed
//! halfway, and a directory put where a file was while a restore runs.

use std::fs;

use predicates::str::contains;

use crate::safety::two_checkpoints;
use crate::util::{Failpoints, random_bytes, reel, snapshot, spawn_reel, tempdir, write};

/// A restore replaces a file by swapping the new version in whole: killed after a
/// swap, each replaced path holds one whole version, the old version waits under a
/// temporary name, and the rerun removes it and completes.
#[test]
fn a_restore_killed_after_swapping_a_file_in_leaves_whole_versions() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    // v3 changes two files of v2.
    let changed = ["src/Root.tsx", "public/clip.mp4"];
    write(d, changed[0], "export const Root = () => <h1>v3</h1>;\n");
    write(d, changed[1], random_bytes(700_000, 11));
    reel(d)
        .args(["checkpoint", "--name", "v3"])
        .assert()
        .success();
    let v3: Vec<Vec<u8>> = changed
        .iter()
        .map(|p| fs::read(d.join(p)).unwrap())
        .collect();
    let target = tempdir();
    let to = target.path().to_str().unwrap();
    reel(d)
        .args(["restore", "v2", "--to", to])
        .assert()
        .success();
    let at = |p: &str| fs::read(target.path().join(p)).unwrap();
    let v2: Vec<Vec<u8>> = changed.iter().map(|p| at(p)).collect();
    assert_ne!(v2[0], v3[0]);
    assert_ne!(v2[1], v3[1]);
    let fp = Failpoints::new();
    fp.kill("restore-file-swapped");
    spawn_reel(d, &fp, &["restore", "v3", "--to", to])
        .wait()
        .unwrap();
    let mut swapped = 0;
    for (i, p) in changed.iter().enumerate() {
        let now = at(p);
        assert!(
            now == v2[i] || now == v3[i],
            "{p} holds neither version whole"
        );
        swapped += usize::from(now == v3[i]);
    }
    assert!(swapped >= 1, "the restore was killed before any swap");
    let tree = snapshot(target.path());
    let left: Vec<&String> = tree
        .keys()
        .filter(|p| p.rsplit('/').next().unwrap().starts_with(".reel-restore-"))
        .collect();
    // Each swapped-out old version waits under a temporary name (beside what another
    // thread was writing and had not swapped in).
    let old_versions = left
        .iter()
        .filter(|p| v2.contains(&fs::read(target.path().join(p)).unwrap()))
        .count();
    assert_eq!(old_versions, swapped, "{left:?}");
    reel(d)
        .args(["restore", "v3", "--to", to])
        .assert()
        .success()
        .stdout(contains(format!("removed {} temporary files", left.len())));
    for (i, p) in changed.iter().enumerate() {
        assert_eq!(at(p), v3[i], "{p}");
    }
    assert!(
        snapshot(target.path())
            .keys()
            .all(|p| !p.contains(".reel-restore-"))
    );
}

/// A directory put where the restore's scan saw a file is not swapped out of sight:
/// the restore refuses to replace it, as a rename would, and the directory and what it
/// holds stay at that path.
#[test]
fn a_directory_put_in_a_files_place_during_a_restore_stays_there() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    let target = tempdir();
    let to = target.path().to_str().unwrap();
    reel(d)
        .args(["restore", "v1", "--to", to])
        .assert()
        .success();
    let fp = Failpoints::new();
    fp.pause("restore-file-written");
    let mut child = spawn_reel(d, &fp, &["restore", "v2", "--to", to]);
    fp.wait_reached("restore-file-written", &mut child);
    // v2 replaces src/Root.tsx; the user makes it a directory meanwhile.
    let root = target.path().join("src/Root.tsx");
    fs::remove_file(&root).unwrap();
    fs::create_dir(&root).unwrap();
    fs::write(root.join("notes.txt"), "mine").unwrap();
    fp.release("restore-file-written");
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "the restore replaced a directory");
    assert_eq!(fs::read(root.join("notes.txt")).unwrap(), b"mine");
    let hidden: Vec<String> = snapshot(target.path())
        .into_keys()
        .filter(|p| p.contains(".reel-restore-"))
        .collect();
    assert!(
        hidden.iter().all(|p| !p.ends_with("notes.txt")),
        "{hidden:?}"
    );
}
