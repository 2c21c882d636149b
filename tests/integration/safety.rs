//! What the engine refuses so that nothing is lost, each through the real binary: an
//! index that looks empty, a restore over the user's edits, writes into the repository
//! itself, damaged packs, leftovers of killed restores, files vanishing mid-checkpoint.

use std::fs;
use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;

use crate::util::{
    Failpoints, log_names, random_bytes, reel, reel_json, sample_project, snapshot, spawn_reel,
    tempdir, write,
};

/// A project with a repository and checkpoints v1 and v2 (v2 edits `src/Root.tsx`).
pub(crate) fn two_checkpoints(dir: &Path) {
    sample_project(dir);
    reel(dir).arg("init").assert().success();
    reel(dir)
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    write(
        dir,
        "src/Root.tsx",
        "export const Root = () => <h1>v2</h1>;\n",
    );
    write(dir, "public/take.mov", random_bytes(1 << 20, 9));
    reel(dir)
        .args(["checkpoint", "--name", "v2"])
        .assert()
        .success();
}

fn pack_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut packs: Vec<_> = fs::read_dir(dir.join(".reel/packs/packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    packs.sort();
    packs
}

#[test]
fn an_empty_missing_or_garbled_index_is_an_error_never_an_empty_repository() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    let index = d.join(".reel/index.redb");
    let packs = pack_files(d);
    for (how, damage) in [
        ("empty", b"".to_vec()),
        ("garbled", b"this is not a redb file".repeat(100)),
    ] {
        fs::write(&index, &damage).unwrap();
        for cmd in [
            &["fsck", "--read-data"][..],
            &["log"],
            &["gc", "--grace", "0s"],
        ] {
            reel(d)
                .args(cmd)
                .assert()
                .code(1)
                .stderr(contains("reel index rebuild").and(contains("packs")));
        }
        assert_eq!(pack_files(d), packs, "{how}: packs touched");
        assert_eq!(
            fs::read(&index).unwrap(),
            damage,
            "{how}: the index was replaced"
        );
    }
    fs::remove_file(&index).unwrap();
    reel(d)
        .arg("log")
        .assert()
        .code(1)
        .stderr(contains("missing").and(contains("reel index rebuild")));

    // The rebuild brings the checkpoints back from the packs alone.
    reel(d)
        .args(["index", "rebuild"])
        .assert()
        .success()
        .stdout(contains("2 checkpoints"));
    let names = log_names(d);
    assert_eq!(names, ["v2", "v1"]);
    let out = tempdir();
    reel(d)
        .args(["restore", "v1", "--to", out.path().to_str().unwrap()])
        .assert()
        .success();
    // gc refuses until told that what only the lost index knew may go.
    reel(d)
        .args(["gc", "--grace", "0s"])
        .assert()
        .code(1)
        .stderr(contains("--after-rebuild"));
    reel(d)
        .args(["gc", "--grace", "0s", "--after-rebuild"])
        .assert()
        .success();
    reel(d).args(["fsck", "--read-data"]).assert().success();
}

#[test]
fn an_index_of_another_repository_is_refused() {
    let (a, b) = (tempdir(), tempdir());
    two_checkpoints(a.path());
    two_checkpoints(b.path());
    fs::copy(
        b.path().join(".reel/index.redb"),
        a.path().join(".reel/index.redb"),
    )
    .unwrap();
    reel(a.path())
        .arg("log")
        .assert()
        .code(1)
        .stderr(contains("another repository's index"));
}

#[test]
fn restore_refuses_to_discard_edits_and_force_discards_them() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    // A tracked file edited, an untracked file where v1 has none (kept), and an
    // untracked file where v1 has one (would be overwritten).
    fs::write(d.join("src/Root.tsx"), "my unsaved work\n").unwrap();
    write(d, "notes.txt", "mine, untracked");
    fs::remove_file(d.join("public/take.mov")).unwrap(); // deleting loses nothing
    let before = snapshot(d);
    reel(d)
        .args(["restore", "v1"])
        .assert()
        .code(1)
        .stderr(contains("src/Root.tsx").and(contains("--force")));
    assert_eq!(
        snapshot(d),
        before,
        "a refused restore changed the directory"
    );

    // An untracked file in the way of a file the checkpoint has is refused too.
    let out = tempdir();
    write(out.path(), "package.json", "someone else's");
    reel(d)
        .args(["restore", "v1", "--to", out.path().to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(contains("package.json"));
    assert_eq!(
        fs::read_to_string(out.path().join("package.json")).unwrap(),
        "someone else's"
    );

    // --force discards, says what it discarded, and keeps what the restore does not touch.
    let forced = reel(d)
        .args(["restore", "v1", "--force", "--json"])
        .output()
        .unwrap();
    assert!(forced.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&forced.stdout).unwrap();
    assert_eq!(summary["discarded"], serde_json::json!(["src/Root.tsx"]));
    assert!(
        fs::read_to_string(d.join("src/Root.tsx"))
            .unwrap()
            .contains("Composition")
    );
    assert_eq!(
        fs::read_to_string(d.join("notes.txt")).unwrap(),
        "mine, untracked"
    );

    // Unchanged since the restore: moving between checkpoints needs no force.
    reel(d).args(["restore", "v2"]).assert().success();
    reel(d).args(["restore", "v1"]).assert().success();
    // An edit to a file that the target checkpoint removes is refused as well.
    write(d, "extra.txt", "tracked soon");
    reel(d)
        .args(["checkpoint", "--name", "v3"])
        .assert()
        .success();
    write(d, "extra.txt", "edited after v3");
    reel(d)
        .args(["restore", "v1"])
        .assert()
        .code(1)
        .stderr(contains("extra.txt"));
}

#[test]
fn nothing_is_written_into_the_repository_directory() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    // The index's magic number: what a write of a file over it would change. (Its
    // length is no witness: redb gives free pages at the end back.)
    let header = |d: &Path| fs::read(d.join(".reel/index.redb")).unwrap()[..9].to_vec();
    let header_before = header(d);
    let id = String::from_utf8(
        reel(d)
            .args(["project", "create", "P"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    for path in [".reel/index.redb", "src/.reel/config", ".REEL/packs/x"] {
        reel(d)
            .args(["file", "write", &id, path])
            .write_stdin("overwritten")
            .assert()
            .code(1)
            .stderr(contains(".reel"));
    }
    // A restore or export into the repository is refused.
    for target in [".reel", ".reel/cache/x"] {
        reel(d)
            .args(["restore", "v1", "--to", target])
            .assert()
            .code(1)
            .stderr(contains("repository"));
        reel(d)
            .args(["project", "export", &id, target])
            .assert()
            .code(1)
            .stderr(contains("repository"));
    }
    // A repository kept elsewhere (--repo DIR) is never checkpointed nor written into.
    let repo = d.join("store");
    let repo_arg = repo.to_str().unwrap();
    let work = d.join("work");
    write(&work, "a.txt", "work");
    reel(d)
        .args(["--repo", repo_arg, "init"])
        .assert()
        .success();
    fs::rename(&repo, work.join("store")).unwrap();
    let repo_arg = work.join("store");
    let repo_arg = repo_arg.to_str().unwrap();
    reel(&work)
        .args(["--repo", repo_arg, "checkpoint", ".", "--name", "w"])
        .assert()
        .success();
    let listed = reel_json(&work, &["--repo", repo_arg, "ls", "w"]);
    let paths: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["a.txt"]);
    reel(&work)
        .args(["--repo", repo_arg, "restore", "w", "--to", "store/sub"])
        .assert()
        .code(1)
        .stderr(contains("repository"));
    assert_eq!(header(d), header_before);
    assert_eq!(log_names(d), ["v2", "v1"]);
    reel(d).args(["fsck"]).assert().success();
}

#[test]
fn truncated_and_missing_packs_are_reported_with_the_checkpoints_that_need_them() {
    for damage in ["half", "empty", "missing", "swapped"] {
        let dir = tempdir();
        let d = dir.path();
        two_checkpoints(d);
        // The largest pack is v2's: it holds take.mov.
        let victim = pack_files(d)
            .into_iter()
            .max_by_key(|p| fs::metadata(p).unwrap().len())
            .unwrap();
        let short = victim.file_stem().unwrap().to_str().unwrap()[..12].to_owned();
        let v2 = reel_json(d, &["show", "v2"])["id"].as_str().unwrap()[..12].to_owned();
        let bytes = fs::read(&victim).unwrap();
        let other = pack_files(d).into_iter().find(|p| *p != victim).unwrap();
        match damage {
            "half" => fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap(),
            "empty" => fs::write(&victim, b"").unwrap(),
            "missing" => fs::remove_file(&victim).unwrap(),
            _ => {
                // Each pack's bytes under the other's name.
                fs::write(&victim, fs::read(&other).unwrap()).unwrap();
                fs::write(&other, &bytes).unwrap();
            }
        }
        for args in [&["fsck"][..], &["fsck", "--read-data"]] {
            reel(d).args(args).assert().code(3).stdout(
                contains(format!("damaged pack {short}"))
                    .and(contains(format!("needed by 1 checkpoint: {v2}"))),
            );
        }
        let out = tempdir();
        reel(d)
            .args(["restore", "v2", "--to", out.path().to_str().unwrap()])
            .assert()
            .code(1)
            .stderr(contains(format!("pack {short}")).and(contains("fsck")));
        reel(d)
            .args(["cat", "v2:public/take.mov"])
            .assert()
            .code(1)
            .stderr(contains(format!("pack {short}")));
        // v1 does not need that pack and restores whole (unless its own pack was
        // swapped with it).
        if damage != "swapped" {
            reel(d)
                .args(["restore", "v1", "--to", tempdir().path().to_str().unwrap()])
                .assert()
                .success();
        }
    }
}

#[test]
fn a_killed_restore_leaves_nothing_a_rerun_does_not_clean_and_nothing_is_checkpointed() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    let target = tempdir();
    let to = target.path().to_str().unwrap();
    let fp = Failpoints::new();
    fp.kill("restore-file-written");
    let mut child = spawn_reel(d, &fp, &["restore", "v2", "--to", to]);
    child.wait().unwrap();
    let leftovers = || -> Vec<String> {
        crate::util::snapshot(target.path())
            .into_keys()
            .filter(|p| p.rsplit('/').next().unwrap().starts_with(".reel-restore-"))
            .collect()
    };
    let left = leftovers().len();
    assert!(left >= 1, "the killed restore left no temporary file");
    // A checkpoint of that directory never stores it.
    let repo2 = tempdir();
    let r2 = repo2.path().join("r").to_str().unwrap().to_owned();
    reel(d).args(["--repo", &r2, "init"]).assert().success();
    reel(d)
        .args(["--repo", &r2, "checkpoint", to, "--name", "t"])
        .assert()
        .success();
    let listed = reel_json(d, &["--repo", &r2, "ls", "t", "-r"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["path"].as_str().unwrap().contains(".reel-restore-")),
        "{listed}"
    );
    // The rerun removes it and completes.
    reel(d)
        .args(["restore", "v2", "--to", to, "--force"])
        .assert()
        .success()
        .stdout(contains(format!("removed {left} temporary files")));
    assert!(leftovers().is_empty());
}

#[test]
fn a_file_that_vanishes_during_a_checkpoint_is_skipped_and_named() {
    let dir = tempdir();
    let d = dir.path();
    sample_project(d);
    write(d, "public/vanishing.mov", random_bytes(300_000, 5));
    reel(d).arg("init").assert().success();
    let fp = Failpoints::new();
    fp.pause("scan-after-walk");
    let mut child = spawn_reel(d, &fp, &["checkpoint", "--json", "--name", "v1"]);
    fp.wait_reached("scan-after-walk", &mut child);
    fs::remove_file(d.join("public/vanishing.mov")).unwrap();
    fp.release("scan-after-walk");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped public/vanishing.mov"), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["skipped"][0]["path"], "public/vanishing.mov");
    // What it could read is recorded and restores; no pack is left unreferenced.
    let restored = tempdir();
    reel(d)
        .args(["restore", "v1", "--to", restored.path().to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(snapshot(restored.path()), snapshot(d));
    let report = reel_json(d, &["fsck", "--read-data"]);
    assert!(report["unreferenced_packs"].as_array().unwrap().is_empty());
}

#[test]
fn a_rebuild_killed_midway_leaves_an_index_gc_will_not_collect_from() {
    let dir = tempdir();
    let d = dir.path();
    two_checkpoints(d);
    let packs = pack_files(d);
    fs::remove_file(d.join(".reel/index.redb")).unwrap();
    // Killed once the packs are indexed, before any checkpoint is: every object looks
    // unreferenced to an index that does not know it is incomplete.
    let fp = Failpoints::new();
    fp.kill("rebuild-packs-indexed");
    let killed = spawn_reel(d, &fp, &["index", "rebuild"]).wait().unwrap();
    assert!(!killed.success(), "the rebuild was not killed");
    reel(d)
        .args(["gc", "--grace", "0s"])
        .assert()
        .code(1)
        .stderr(contains("--after-rebuild"));
    assert_eq!(
        pack_files(d),
        packs,
        "gc deleted packs after a killed rebuild"
    );
}
