//! Restores that replace files on disk: the swap of a new version into place, killed
//! halfway; a directory put where a file was, and an edit saved to a file, while a
//! restore runs; a file touched but not changed before one.

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
    let (dir, target) = v1_restored();
    let (d, to) = (dir.path(), target.path().to_str().unwrap());
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

/// An edit saved to a file after the restore's scan looked at it, and before the
/// restore replaced it, is not thrown away: the restore swaps the user's version back
/// and stops, and the next restore protects the edit like any other change.
#[test]
fn an_edit_saved_while_a_restore_runs_is_kept() {
    edit_during_restore(&[]);
}

/// The same for a restore of some paths, whose scan reads only those paths.
#[test]
fn an_edit_saved_while_a_restore_of_one_path_runs_is_kept() {
    edit_during_restore(&["--", "src/Root.tsx"]);
}

/// Restores v1 into a target, then v2 (with `extra` arguments), editing `src/Root.tsx`
/// in the target while the v2 restore is paused after its scan.
fn edit_during_restore(extra: &[&str]) {
    let (dir, target) = v1_restored();
    let (d, to) = (dir.path(), target.path().to_str().unwrap());
    let file = target.path().join("src/Root.tsx");
    let v1 = fs::read(&file).unwrap();
    // The same length as v1's: only the stat's time and inode can tell.
    let mine = String::from_utf8(v1.clone())
        .unwrap()
        .replace("Hello", "Hallo");
    assert_ne!(mine.as_bytes(), v1);
    assert_eq!(mine.len(), v1.len());
    let fp = Failpoints::new();
    fp.pause("restore-planned");
    let args = v2_restore(to, extra);
    let mut child = spawn_reel(d, &fp, &args);
    fp.wait_reached("restore-planned", &mut child);
    fs::write(&file, &mine).unwrap();
    fp.release("restore-planned");
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "the restore overwrote the edit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`src/Root.tsx` changed on disk while the restore ran"),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), mine);
    let left: Vec<String> = snapshot(target.path())
        .into_keys()
        .filter(|p| p.contains(".reel-restore-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    reel(d)
        .args(&args)
        .assert()
        .failure()
        .stderr(contains("src/Root.tsx"));
    assert_eq!(fs::read_to_string(&file).unwrap(), mine);
}

/// A file whose stat changed before the restore but whose content did not (rewritten,
/// touched) is compared with what the restore's own scan saw, not with the older stat
/// cache row: the restore replaces it, whole and by path.
#[test]
fn a_file_touched_before_a_restore_is_replaced() {
    for extra in [&[][..], &["--", "src/Root.tsx"][..]] {
        let (dir, target) = v1_restored();
        let (d, to) = (dir.path(), target.path().to_str().unwrap());
        let file = target.path().join("src/Root.tsx");
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
        let args = v2_restore(to, extra);
        reel(d).args(&args).assert().success();
        assert!(
            fs::read_to_string(&file).unwrap().contains("v2"),
            "{extra:?}"
        );
    }
}

/// A repository with checkpoints v1 and v2 (`two_checkpoints`), and a target directory v1
/// was restored into.
fn v1_restored() -> (tempfile::TempDir, tempfile::TempDir) {
    let (dir, target) = (tempdir(), tempdir());
    two_checkpoints(dir.path());
    reel(dir.path())
        .args(["restore", "v1", "--to", target.path().to_str().unwrap()])
        .assert()
        .success();
    (dir, target)
}

/// The arguments of a restore of v2 into `to`, followed by `extra`.
fn v2_restore<'a>(to: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    ["restore", "v2", "--to", to]
        .iter()
        .chain(extra)
        .copied()
        .collect()
}
