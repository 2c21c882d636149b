//! `reel restore REF PATH…`: only the paths named change, HEAD stays, the user's edits
//! at those paths are protected, and a hostile path writes nothing anywhere.

use std::fs;
use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;

use crate::util::{reel, reel_json, sample_project, snapshot, tempdir, write};

/// v1: the sample project. v2: `src/Root.tsx` edited, `src/New.tsx` added,
/// `src/Video.tsx` removed, `notes.md` edited.
fn two_checkpoints(d: &Path) {
    sample_project(d);
    write(d, "notes.md", "first notes\n");
    reel(d).arg("init").assert().success();
    reel(d)
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    write(
        d,
        "src/Root.tsx",
        "export const Root = () => <h1>v2</h1>;\n",
    );
    write(d, "src/New.tsx", "export const New = 2;\n");
    fs::remove_file(d.join("src/Video.tsx")).unwrap();
    write(d, "notes.md", "second notes\n");
    reel(d)
        .args(["checkpoint", "--name", "v2"])
        .assert()
        .success();
}

fn head(d: &Path) -> String {
    reel_json(d, &["status"])["head"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn changed_paths(d: &Path) -> Vec<String> {
    let st = reel_json(d, &["status"]);
    st["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn one_file_changes_head_stays_and_the_rest_is_not_read() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    let at_v2 = head(d);
    // Work elsewhere in the directory that the restore must not touch.
    write(d, "package.json", "edited, never checkpointed");
    write(d, "mine.txt", "untracked");
    let mut expected = snapshot(d);
    let summary = reel_json(d, &["restore", "v1", "src/Root.tsx"]);
    assert_eq!(summary["written"], 1, "{summary}");
    // Only the named path was scanned: nothing else counts as unchanged.
    assert_eq!(summary["unchanged"], 0, "{summary}");
    let v1_root = "export const Root = () => <Composition id=\"Hello\" />;\n";
    assert_eq!(fs::read_to_string(d.join("src/Root.tsx")).unwrap(), v1_root);
    expected.insert(
        "src/Root.tsx".into(),
        crate::util::Node::File {
            content: v1_root.into(),
            executable: false,
        },
    );
    assert_eq!(snapshot(d), expected, "a path not named changed");
    assert_eq!(head(d), at_v2, "HEAD moved");
    assert!(
        changed_paths(d).contains(&"src/Root.tsx".to_owned()),
        "the restored file does not show as a change"
    );
    // The next checkpoint records it.
    reel(d)
        .args(["checkpoint", "-m", "root from v1"])
        .assert()
        .success();
    let out = reel(d).args(["cat", "HEAD:src/Root.tsx"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), v1_root);
}

#[test]
fn a_directory_becomes_the_checkpoints_and_untracked_files_stay() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    write(d, "src/scratch.tsx", "untracked");
    // `--` is accepted, as in git.
    reel(d)
        .args(["restore", "v1", "--", "./src/"])
        .assert()
        .success()
        .stdout(contains("restored ./src/ of v1"));
    assert!(d.join("src/Video.tsx").exists(), "v1's file not restored");
    assert!(
        !d.join("src/New.tsx").exists(),
        "a tracked file v1 lacks stayed"
    );
    assert_eq!(
        fs::read_to_string(d.join("src/scratch.tsx")).unwrap(),
        "untracked"
    );
    assert_eq!(
        fs::read_to_string(d.join("notes.md")).unwrap(),
        "second notes\n",
        "a path outside src changed"
    );
    // What a restore of some paths wrote is the repository's, not the user's: going
    // back needs no --force, nor does a whole restore.
    reel(d).args(["restore", "v2", "src"]).assert().success();
    reel(d)
        .args(["restore", "v1", "notes.md"])
        .assert()
        .success();
    reel(d).args(["restore", "v2"]).assert().success();
    assert_eq!(
        fs::read_to_string(d.join("notes.md")).unwrap(),
        "second notes\n"
    );
    // A path v1 lacks but the directory tracks is removed; one neither has is an error.
    reel(d)
        .args(["restore", "v1", "src/New.tsx"])
        .assert()
        .success();
    assert!(!d.join("src/New.tsx").exists());
    reel(d)
        .args(["restore", "v1", "src/Nope.tsx"])
        .assert()
        .code(1)
        .stderr(contains("src/Nope.tsx"));
    // A refused restore of some paths into a directory that does not exist leaves none.
    let elsewhere = d.join("elsewhere");
    reel(d)
        .args(["restore", "v1", "src/Nope.tsx", "--to"])
        .arg(&elsewhere)
        .assert()
        .code(1);
    assert!(!elsewhere.exists(), "a refused restore created its target");
    // A file whose directory is gone gets its directory back.
    fs::remove_dir_all(d.join("public")).unwrap();
    reel(d)
        .args(["restore", "v2", "public/copy/clip.mp4"])
        .assert()
        .success();
    assert_eq!(
        fs::read(d.join("public/copy/clip.mp4")).unwrap().len(),
        600_000
    );
}

#[test]
fn edits_at_the_path_are_protected_and_force_discards_them() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    write(d, "notes.md", "my unsaved notes\n");
    reel(d)
        .args(["restore", "v1", "notes.md"])
        .assert()
        .code(1)
        .stderr(contains("notes.md").and(contains("--force")));
    assert_eq!(
        fs::read_to_string(d.join("notes.md")).unwrap(),
        "my unsaved notes\n"
    );
    // Protected below a directory as well.
    write(d, "src/Root.tsx", "my unsaved root\n");
    reel(d)
        .args(["restore", "v1", "src"])
        .assert()
        .code(1)
        .stderr(contains("src/Root.tsx"));
    assert!(
        d.join("src/New.tsx").exists(),
        "a refused restore removed a file"
    );
    let forced = reel_json(d, &["restore", "v1", "notes.md", "--force"]);
    assert_eq!(forced["discarded"], serde_json::json!(["notes.md"]));
    assert_eq!(
        fs::read_to_string(d.join("notes.md")).unwrap(),
        "first notes\n"
    );
}

#[test]
fn hostile_paths_write_nothing() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    let outside = tempdir();
    let before = snapshot(d);
    for bad in [
        "../escape",
        "/etc/passwd",
        "src/../../x",
        ".reel/index.redb",
    ] {
        reel(d)
            .args(["restore", "v1", bad])
            .assert()
            .code(1)
            .stderr(contains(bad).or(contains("repository")));
    }
    // A directory on the way replaced by a symlink to somewhere else.
    fs::rename(d.join("src"), d.join("src.moved")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.join("src")).unwrap();
    reel(d)
        .args(["restore", "v1", "src/Root.tsx"])
        .assert()
        .code(1)
        .stderr(contains("symlink"));
    assert_eq!(
        fs::read_dir(outside.path()).unwrap().count(),
        0,
        "written through the symlink"
    );
    fs::remove_file(d.join("src")).unwrap();
    fs::rename(d.join("src.moved"), d.join("src")).unwrap();
    assert_eq!(snapshot(d), before);
}
