//! The real `reel` binary: commands, global flags, JSON shapes, errors.

use std::fs;

use predicates::prelude::*;
use predicates::str::contains;

use crate::util::{reel, reel_json, sample_project, tempdir, write};

fn project() -> tempfile::TempDir {
    let dir = tempdir();
    sample_project(dir.path());
    reel(dir.path())
        .arg("init")
        .assert()
        .success()
        .stdout(contains("Initialized"));
    dir
}

#[test]
fn init_twice_is_a_clear_error() {
    let dir = project();
    reel(dir.path())
        .arg("init")
        .assert()
        .code(1)
        .stderr(contains("already exists"));
}

#[test]
fn checkpoint_log_show_ls_cat_with_json_shapes() {
    let dir = project();
    let v1 = reel_json(dir.path(), &["checkpoint", "-m", "first", "--name", "v1"]);
    for key in [
        "id",
        "tree",
        "files",
        "bytes",
        "hashed_files",
        "new_objects",
        "new_bytes",
        "stored_bytes",
        "packs",
    ] {
        assert!(v1.get(key).is_some(), "checkpoint --json lacks {key}: {v1}");
    }
    assert_eq!(v1["files"], 7);
    assert_eq!(v1["name"], "v1");
    let id = v1["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 64);

    write(dir.path(), "src/Root.tsx", "export const Root = 2;\n");
    reel(dir.path())
        .args(["checkpoint", "-m", "second"])
        .assert()
        .success()
        .stdout(contains("checkpoint "));

    let log = reel_json(dir.path(), &["log"]);
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["id"], id.as_str());
    assert_eq!(entries[1]["name"], "v1");
    assert_eq!(entries[0]["description"], "second");
    assert_eq!(entries[0]["deleted"], false);
    assert_eq!(entries[0]["parents"][0], id.as_str());
    assert_eq!(
        reel_json(dir.path(), &["log", "-n", "1"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let show = reel_json(dir.path(), &["show", &id[..8]]);
    assert_eq!(show["id"], id.as_str());
    assert_eq!(show["commit"]["description"], "first");

    let ls = reel_json(dir.path(), &["ls", "HEAD~1", "src"]);
    let paths: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["src/Root.tsx", "src/Video.tsx"]);
    assert_eq!(ls[0]["kind"], "file");

    reel(dir.path())
        .args(["cat", "v1:src/Root.tsx"])
        .assert()
        .success()
        .stdout("export const Root = () => <Composition id=\"Hello\" />;\n");
    reel(dir.path())
        .args(["cat", "HEAD:src/Root.tsx"])
        .assert()
        .success()
        .stdout("export const Root = 2;\n");
}

#[test]
fn global_flags_work_before_and_after_the_subcommand() {
    let dir = project();
    reel(dir.path())
        .args(["-q", "checkpoint", "--name", "v1"])
        .assert()
        .success();
    let before = reel(dir.path()).args(["--json", "log"]).output().unwrap();
    let after = reel(dir.path()).args(["log", "--json"]).output().unwrap();
    assert!(before.status.success() && after.status.success());
    assert_eq!(before.stdout, after.stdout);
    let elsewhere = tempdir();
    let repo = dir.path().join(".reel");
    let a = reel(elsewhere.path())
        .args(["--repo", repo.to_str().unwrap(), "log", "--json"])
        .output()
        .unwrap();
    let b = reel(elsewhere.path())
        .args(["log", "--repo", repo.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(a.stdout, before.stdout);
    assert_eq!(b.stdout, before.stdout);
    // Found by walking up, like git, from a subdirectory.
    let from_sub = reel(&dir.path().join("src"))
        .args(["log", "--json"])
        .output()
        .unwrap();
    assert_eq!(from_sub.stdout, before.stdout);
    // REEL_REPO, and the project directory instead of the .reel folder.
    reel(elsewhere.path())
        .env("REEL_REPO", dir.path())
        .args(["log", "--json"])
        .assert()
        .success()
        .stdout(String::from_utf8(before.stdout).unwrap());
}

#[test]
fn diff_text_stat_and_json() {
    let dir = project();
    reel(dir.path())
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    write(dir.path(), "src/New.tsx", "new");
    fs::remove_file(dir.path().join("package.json")).unwrap();
    reel(dir.path())
        .args(["diff", "v1", "--name-status"])
        .assert()
        .success()
        .stdout(contains("A  src/New.tsx (3 B)").and(contains("D  package.json")));
    reel(dir.path())
        .args(["diff", "v1"])
        .assert()
        .success()
        .stdout(contains("+++ b/src/New.tsx").and(contains("--- a/package.json")));
    let stat = reel_json(dir.path(), &["diff", "v1", "--stat"]);
    assert_eq!(stat["added"], 1);
    assert_eq!(stat["removed"], 1);
    assert_eq!(stat["bytes_added"], 3);
    reel(dir.path())
        .args(["checkpoint", "--name", "v2"])
        .assert()
        .success();
    let changes = reel_json(dir.path(), &["diff", "v1", "v2"]);
    assert_eq!(changes.as_array().unwrap().len(), 2);
    assert_eq!(changes[0]["change"], "removed");
    assert_eq!(changes[0]["path"], "package.json");
    assert_eq!(changes[1]["change"], "added");
}

#[test]
fn restore_to_a_directory_and_in_place() {
    let dir = project();
    reel(dir.path())
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    write(dir.path(), "src/Root.tsx", "edited");
    reel(dir.path())
        .args(["checkpoint", "--name", "v2"])
        .assert()
        .success();
    let out = tempdir();
    let target = out.path().join("restored");
    let r = reel_json(
        dir.path(),
        &["restore", "v1", "--to", target.to_str().unwrap()],
    );
    assert_eq!(r["written"], 7);
    assert_eq!(
        fs::read_to_string(target.join("src/Root.tsx")).unwrap(),
        "export const Root = () => <Composition id=\"Hello\" />;\n"
    );
    // In place: the working directory goes back to v1 and HEAD follows.
    reel(dir.path())
        .args(["restore", "v1"])
        .assert()
        .success()
        .stdout(contains("1 written"));
    assert!(
        fs::read_to_string(dir.path().join("src/Root.tsx"))
            .unwrap()
            .contains("Composition")
    );
    let head = reel_json(dir.path(), &["show", "HEAD"]);
    assert_eq!(head["commit"]["name"], "v1");
}

#[test]
fn errors_are_one_sentence_with_a_hint_and_nonzero_exit() {
    let dir = project();
    reel(dir.path())
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    reel(dir.path())
        .args(["show", "nope"])
        .assert()
        .code(1)
        .stderr(contains("error: checkpoint `nope` not found").and(contains("hint:")));
    reel(dir.path())
        .args(["show", "HEAD~5"])
        .assert()
        .code(1)
        .stderr(contains("error:"));
    reel(dir.path())
        .args(["cat", "v1:missing.txt"])
        .assert()
        .code(1)
        .stderr(contains("path `missing.txt` not found"));
    reel(dir.path())
        .args(["cat", "v1"])
        .assert()
        .code(1)
        .stderr(contains("REF:PATH"));
    reel(dir.path())
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .code(1)
        .stderr(contains("checkpoint `v1` already exists"));
    reel(dir.path())
        .args(["checkpoint", "--name", "bad name!"])
        .assert()
        .code(1)
        .stderr(contains("invalid checkpoint name"));
    let empty = tempdir();
    reel(empty.path())
        .arg("log")
        .assert()
        .code(1)
        .stderr(contains("no reel repository").and(contains("reel init")));
    reel(dir.path()).arg("frobnicate").assert().code(2);
}

#[test]
fn gc_fsck_stats_json() {
    let dir = project();
    reel(dir.path())
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    let gc = reel_json(dir.path(), &["gc", "--dry-run"]);
    assert_eq!(gc["dry_run"], true);
    assert!(gc["plan"]["live_objects"].as_u64().unwrap() > 5);
    let fsck = reel_json(dir.path(), &["fsck", "--read-data"]);
    assert_eq!(fsck["errors"].as_array().unwrap().len(), 0);
    assert_eq!(fsck["checkpoints"], 1);
    reel(dir.path())
        .args(["fsck"])
        .assert()
        .success()
        .stdout(contains("ok: 1 checkpoints"));
    let stats = reel_json(dir.path(), &["stats"]);
    assert_eq!(stats["checkpoints"], 1);
    assert!(stats["backend"].as_str().unwrap().starts_with("file://"));
    // The two media copies are stored once.
    assert!(stats["raw_bytes"].as_u64().unwrap() < 700_000);
}

#[test]
fn stat_cache_skips_unchanged_files() {
    let dir = project();
    // Back-date every file past the racy window so the cache may vouch for them.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for rel in [
        "package.json",
        "src/Root.tsx",
        "src/Video.tsx",
        "scripts/render.sh",
        "public/clip.mp4",
        "public/copy/clip.mp4",
    ] {
        fs::File::options()
            .write(true)
            .open(dir.path().join(rel))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let first = reel_json(dir.path(), &["checkpoint"]);
    assert_eq!(first["hashed_files"], 7);
    let second = reel_json(dir.path(), &["checkpoint"]);
    // Only the symlink is re-read (links are not cached); every file is vouched for.
    assert_eq!(second["hashed_files"], 1, "{second}");
    assert_eq!(second["tree"], first["tree"]);
    write(dir.path(), "src/Root.tsx", "changed");
    let third = reel_json(dir.path(), &["checkpoint"]);
    assert_eq!(third["hashed_files"], 2);
    assert_ne!(third["tree"], first["tree"]);
}

#[test]
fn reelignore_and_repo_dir_are_excluded() {
    let dir = project();
    write(dir.path(), ".reelignore", "out/\n*.log\n");
    write(dir.path(), "out/video.mp4", "rendered");
    write(dir.path(), "debug.log", "noise");
    let ls = {
        reel(dir.path()).args(["checkpoint"]).assert().success();
        reel_json(dir.path(), &["ls", "HEAD", "-r"])
    };
    let paths: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&".reelignore"));
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("out") || *p == "debug.log" || p.starts_with(".reel/"))
    );
}

/// Off a terminal, warnings are plain text: no colour codes in a log file or a pipe.
#[test]
fn warnings_are_plain_text_off_a_terminal() {
    let dir = tempdir();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    reel(dir.path()).arg("init").assert().success();
    let out = reel(dir.path()).arg("checkpoint").output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("skipping a special file"), "{err}");
    assert!(!err.contains('\u{1b}'), "colour codes in {err:?}");
}

/// A prefix too short to be one says so, instead of a bare "not found".
#[test]
fn a_prefix_under_four_digits_says_how_many_are_needed() {
    let dir = tempdir();
    write(dir.path(), "a.txt", "a");
    reel(dir.path()).arg("init").assert().success();
    reel(dir.path()).arg("checkpoint").assert().success();
    reel(dir.path())
        .args(["show", "abc"])
        .assert()
        .failure()
        .stderr(contains("at least 4 hex digits"));
    reel(dir.path())
        .args(["show", "nosuch"])
        .assert()
        .failure()
        .stderr(contains("checkpoint `nosuch` not found"));
}

#[test]
fn status_shows_what_changed_since_the_directory_was_last_written() {
    let dir = project();
    let p = dir.path();
    reel(p)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("no checkpoints yet").and(contains("every file is new")));
    assert_eq!(reel_json(p, &["status"])["base"], "empty");
    reel(p)
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    reel(p)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("(v1)").and(contains("no changes since it was last checkpointed")));

    write(p, "src/New.tsx", "new");
    fs::rename(p.join("package.json"), p.join("pkg.json")).unwrap();
    let objects = reel_json(p, &["stats"])["objects"].clone();
    reel(p).arg("status").assert().success().stdout(
        contains("A  src/New.tsx (3 B)")
            .and(contains("R  package.json -> pkg.json"))
            .and(contains("`reel checkpoint` records them")),
    );
    let st = reel_json(p, &["status"]);
    assert_eq!(st["base"], "last_written");
    assert_eq!(st["at_head"], true);
    assert_eq!(st["changes"].as_array().unwrap().len(), 2, "{st}");
    assert_eq!(
        reel_json(p, &["stats"])["objects"],
        objects,
        "status stores nothing"
    );

    // A directory restored from an older checkpoint: measured against what was
    // written there, and said not to be at HEAD.
    reel(p)
        .args(["checkpoint", "--name", "v2"])
        .assert()
        .success();
    let other = tempdir();
    let to = other.path().join("old");
    reel(p)
        .args(["restore", "v1", "--to", to.to_str().unwrap()])
        .assert()
        .success();
    let st = reel_json(p, &["status", to.to_str().unwrap()]);
    assert_eq!(st["base"], "last_written");
    assert_eq!(st["at_head"], false);
    assert!(st["changes"].as_array().unwrap().is_empty(), "{st}");
    assert_eq!(st["head_name"], "v2");
    // A directory the repository never wrote is compared with HEAD.
    let never = other.path().join("never");
    fs::create_dir(&never).unwrap();
    let st = reel_json(p, &["status", never.to_str().unwrap()]);
    assert_eq!(st["base"], "head");
    let changes = st["changes"].as_array().unwrap();
    assert!(
        changes.len() > 3 && changes.iter().all(|c| c["change"] == "removed"),
        "{st}"
    );
}

#[test]
fn log_all_shows_checkpoints_off_heads_line() {
    let dir = project();
    let p = dir.path();
    for name in ["v1", "v2"] {
        write(p, "src/Root.tsx", name);
        reel(p)
            .args(["checkpoint", "--name", name])
            .assert()
            .success();
    }
    reel(p).args(["restore", "v1"]).assert().success();
    write(p, "src/Root.tsx", "v3");
    reel(p)
        .args(["checkpoint", "--name", "v3"])
        .assert()
        .success();
    // HEAD's line is v3, v1: v2 is off it.
    reel(p).arg("log").assert().success().stdout(
        contains("(v3)")
            .and(contains("(v1)"))
            .and(contains("(v2)").not()),
    );
    reel(p).args(["log", "--all"]).assert().success().stdout(
        contains("(v3) [HEAD]")
            .and(contains("(v2)"))
            .and(contains("(v1)")),
    );
    let all = reel_json(p, &["log", "--all"]);
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["v3", "v2", "v1"]);
    assert_eq!(
        reel_json(p, &["log", "--all", "-n", "1"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // --graph draws the branch as git does: v2 in a lane of its own, joining v1.
    let out = reel(p)
        .args(["log", "--all", "--graph", "--oneline"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let shape: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let graph: String = l.chars().take_while(|c| "*|/ ".contains(*c)).collect();
            let name = l.split(['(', ')']).nth(1).unwrap_or_default();
            format!("{graph}{name}")
        })
        .collect();
    assert_eq!(shape, ["* v3", "| * v2", "|/", "* v1"], "{shape:?}");
}

#[test]
fn json_errors_are_one_object_with_a_code_and_a_hint() {
    let dir = project();
    reel(dir.path())
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    let out = reel(dir.path())
        .args(["--json", "show", "v9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "not_found", "{doc}");
    assert!(
        doc["error"]["message"].as_str().unwrap().contains("v9"),
        "{doc}"
    );
    assert_eq!(doc["error"]["hint"], "`reel log` lists the checkpoints");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("error:"),
        "the error is not printed twice"
    );
    // Without --json: the sentence and the hint on stderr, nothing on stdout.
    let out = reel(dir.path()).args(["show", "v9"]).output().unwrap();
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    // Outside any repository.
    let elsewhere = tempdir();
    let out = reel(elsewhere.path())
        .args(["--json", "log"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "no_repository", "{doc}");
    // Bad usage, as clap finds it: exit 2, the same JSON shape, clap's tip as the hint.
    let out = reel(dir.path())
        .args(["--json", "stauts"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "invalid_argument", "{doc}");
    assert!(
        doc["error"]["message"].as_str().unwrap().contains("stauts"),
        "{doc}"
    );
    assert!(
        doc["error"]["hint"].as_str().unwrap().contains("status"),
        "{doc}"
    );
    let out = reel(dir.path())
        .args(["diff", "--json", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "invalid_argument", "{doc}");
}
