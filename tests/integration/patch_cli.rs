//! The command line as a git user expects it: patches in git's unified format (golden
//! outputs), `--stat` in lines, path filters, `--exit-code`, `show` with its patch,
//! `HEAD^`, did-you-mean, `log --oneline` and `log -- PATH`, no empty checkpoints, the
//! author.

use std::fs;

use predicates::prelude::*;
use predicates::str::contains;
use reelstore::Hash;

use crate::util::{reel, reel_json, tempdir, write};

fn short(bytes: &[u8]) -> String {
    Hash::of(bytes).short()
}

const ROOT_V1: &str = "import {Composition} from 'remotion';\nexport const Root = () => (\n  <Composition id=\"Hello\" durationInFrames={150} fps={30} />\n);\n";
const ROOT_V2: &str = "import {Composition} from 'remotion';\nexport const Root = () => (\n  <Composition id=\"Hello\" durationInFrames={300} fps={30} />\n);";
const SCENE: &str = "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\n";
const SCENE_EDITED: &str =
    "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\n";

/// v1, then v2: Root.tsx modified (and its last newline dropped), Old.tsx removed,
/// New.tsx added, Scene.tsx renamed to Intro.tsx with a line added, the clip changed.
fn two_checkpoints() -> tempfile::TempDir {
    let dir = tempdir();
    let p = dir.path();
    write(p, "src/Root.tsx", ROOT_V1);
    write(p, "src/Old.tsx", "old\n");
    write(p, "src/Scene.tsx", SCENE);
    write(p, "public/clip.mp4", [0u8, 1, 2, 3, 0, 9]);
    reel(p).arg("init").assert().success();
    reel(p)
        .args(["checkpoint", "-m", "first", "--name", "v1"])
        .assert()
        .success();
    write(p, "src/Root.tsx", ROOT_V2);
    fs::remove_file(p.join("src/Old.tsx")).unwrap();
    write(p, "src/New.tsx", "new\n");
    fs::remove_file(p.join("src/Scene.tsx")).unwrap();
    write(p, "src/Intro.tsx", SCENE_EDITED);
    write(p, "public/clip.mp4", [0u8, 1, 2, 3, 0, 8]);
    reel(p)
        .args(["checkpoint", "-m", "longer", "--name", "v2"])
        .assert()
        .success();
    dir
}

#[test]
fn diff_prints_a_unified_patch_as_git_does() {
    let dir = two_checkpoints();
    let out = reel(dir.path())
        .args(["diff", "v1", "v2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let expected = format!(
        "diff --reel a/public/clip.mp4 b/public/clip.mp4
index {clip1}..{clip2}
Binary files a/public/clip.mp4 and b/public/clip.mp4 differ
diff --reel a/src/Scene.tsx b/src/Intro.tsx
similarity index 94%
rename from src/Scene.tsx
rename to src/Intro.tsx
index {scene1}..{scene2}
--- a/src/Scene.tsx
+++ b/src/Intro.tsx
@@ -6,3 +6,4 @@
 line 6
 line 7
 line 8
+line 9
diff --reel a/src/New.tsx b/src/New.tsx
new file
index 000000000000..{new}
--- /dev/null
+++ b/src/New.tsx
@@ -0,0 +1 @@
+new
diff --reel a/src/Old.tsx b/src/Old.tsx
deleted file
index {old}..000000000000
--- a/src/Old.tsx
+++ /dev/null
@@ -1 +0,0 @@
-old
diff --reel a/src/Root.tsx b/src/Root.tsx
index {root1}..{root2}
--- a/src/Root.tsx
+++ b/src/Root.tsx
@@ -1,4 +1,4 @@
 import {{Composition}} from 'remotion';
 export const Root = () => (
-  <Composition id=\"Hello\" durationInFrames={{150}} fps={{30}} />
-);
+  <Composition id=\"Hello\" durationInFrames={{300}} fps={{30}} />
+);
\\ No newline at end of file
",
        clip1 = short(&[0, 1, 2, 3, 0, 9]),
        clip2 = short(&[0, 1, 2, 3, 0, 8]),
        scene1 = short(SCENE.as_bytes()),
        scene2 = short(SCENE_EDITED.as_bytes()),
        new = short(b"new\n"),
        old = short(b"old\n"),
        root1 = short(ROOT_V1.as_bytes()),
        root2 = short(ROOT_V2.as_bytes()),
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn stat_counts_lines_and_names_binary_files() {
    let dir = two_checkpoints();
    reel(dir.path())
        .args(["diff", "v1", "v2", "--stat"])
        .assert()
        .success()
        .stdout(
            " public/clip.mp4                | Bin 6 B -> 6 B
 src/Scene.tsx => src/Intro.tsx | 1 +
 src/New.tsx                    | 1 +
 src/Old.tsx                    | 1 -
 src/Root.tsx                   | 4 ++--
 5 files changed, 4 insertions(+), 3 deletions(-)
",
        );
    let stat = reel_json(dir.path(), &["diff", "v1", "v2", "--stat"]);
    assert_eq!(
        (stat["lines_added"].as_u64(), stat["lines_removed"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(stat["renamed"], 1);
    let root = stat["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "src/Root.tsx")
        .unwrap();
    assert_eq!(
        (root["lines_added"].as_u64(), root["lines_removed"].as_u64()),
        (Some(2), Some(2))
    );
    // -M100 pairs only identical content: the edited scene is a removal and an addition.
    reel(dir.path())
        .args(["diff", "v1", "v2", "--name-status", "-M", "100"])
        .assert()
        .success()
        .stdout(contains("D  src/Scene.tsx").and(contains("A  src/Intro.tsx")));
    reel(dir.path())
        .args(["diff", "v1", "v2", "--name-status"])
        .assert()
        .success()
        .stdout(contains(
            "R  src/Scene.tsx -> src/Intro.tsx (63 B, 94% alike)",
        ));
}

#[test]
fn paths_limit_a_diff_and_exit_codes_follow_git() {
    let dir = two_checkpoints();
    let p = dir.path();
    let only_root = |args: &[&str]| {
        let out = reel(p).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("a/src/Root.tsx"), "{args:?}: {text}");
        assert!(
            !text.contains("clip.mp4") && !text.contains("New.tsx"),
            "{args:?}: {text}"
        );
    };
    only_root(&["diff", "v1", "v2", "--", "src/Root.tsx"]);
    only_root(&["diff", "v1", "v2", "src/Root.tsx"]);
    only_root(&["diff", "v1", "src/Root.tsx"]);
    // The working directory is v2: nothing differs, exit 0; an edit: exit 1.
    reel(p)
        .args(["diff", "--exit-code"])
        .assert()
        .code(0)
        .stdout("");
    write(p, "src/Root.tsx", "edited\n");
    reel(p)
        .args(["diff", "--exit-code", "--", "src"])
        .assert()
        .code(1)
        .stdout(contains("+edited"));
    reel(p)
        .args(["diff", "--exit-code", "--", "public"])
        .assert()
        .code(0);
    // Without --exit-code a difference is still success.
    reel(p).args(["diff"]).assert().code(0);
    // Colour only when asked (stdout is a pipe here), and never with NO_COLOR's auto.
    let plain = reel(p).args(["diff"]).output().unwrap().stdout;
    assert!(!plain.contains(&0x1b), "no escape codes in a pipe");
    reel(p)
        .args(["diff", "--color", "always"])
        .assert()
        .stdout(contains("\x1b[32m+edited\x1b[m"));
}

#[test]
fn show_prints_the_checkpoint_and_its_patch() {
    let dir = two_checkpoints();
    let p = dir.path();
    reel(p).args(["show", "v2"]).assert().success().stdout(
        contains("name:    v2")
            .and(contains("    longer"))
            .and(contains("+++ b/src/New.tsx"))
            .and(contains(
                "-  <Composition id=\"Hello\" durationInFrames={150}",
            )),
    );
    reel(p)
        .args(["show", "v2", "--no-patch"])
        .assert()
        .success()
        .stdout(contains("name:    v2").and(contains("diff --reel").not()));
    reel(p)
        .args(["show", "v2", "--stat"])
        .assert()
        .success()
        .stdout(contains("5 files changed"));
    // The first checkpoint shows everything it added; HEAD^ is v1.
    reel(p)
        .args(["show", "HEAD^"])
        .assert()
        .success()
        .stdout(contains("name:    v1").and(contains("+line 8")));
    let shown = reel_json(p, &["show"]);
    assert_eq!(shown["commit"]["name"], "v2");
    assert_eq!(shown["changes"].as_array().unwrap().len(), 5);
}

#[test]
fn refs_walk_back_and_typos_get_a_suggestion() {
    let dir = two_checkpoints();
    let p = dir.path();
    let id = |rev: &str| reel_json(p, &["show", rev, "--no-patch"])["id"].clone();
    assert_eq!(id("HEAD^"), id("v1"));
    assert_eq!(id("HEAD~1"), id("v1"));
    assert_eq!(id("v2^0"), id("v2"));
    assert_eq!(id("HEAD^^0"), id("v1"));
    reel(p)
        .args(["show", "HEAD~10"])
        .assert()
        .code(1)
        .stderr(contains(
            "`HEAD~10` goes back further than the history: HEAD has 1 checkpoint before it",
        ));
    reel(p)
        .args(["show", "v1^"])
        .assert()
        .code(1)
        .stderr(contains("is the first, it has no parent"));
    reel(p)
        .args(["show", "v3"])
        .assert()
        .code(1)
        .stderr(contains("checkpoint `v3` not found; did you mean `v"));
    reel(p)
        .args(["cat", "v1:src/Rot.tsx"])
        .assert()
        .code(1)
        .stderr(
            contains("path `src/Rot.tsx` not found; did you mean `src/Root.tsx`?")
                .and(contains("reel ls")),
        );
    reel(p)
        .args(["diff", "src/Nope.tsx"])
        .assert()
        .code(1)
        .stderr(contains("neither a checkpoint nor a path"));
    reel(p)
        .args(["stauts"])
        .assert()
        .code(2)
        .stderr(contains("status"));
}

#[test]
fn log_oneline_and_log_of_a_path() {
    let dir = two_checkpoints();
    let p = dir.path();
    let id = |rev: &str| {
        reel_json(p, &["show", rev, "--no-patch"])["id"]
            .as_str()
            .unwrap()[..12]
            .to_owned()
    };
    let (v1, v2) = (id("v1"), id("v2"));
    reel(p)
        .args(["log", "--oneline"])
        .assert()
        .success()
        .stdout(format!("{v2} (v2) [HEAD] longer\n{v1} (v1) first\n"));
    write(p, "public/clip.mp4", [7u8]);
    reel(p)
        .args(["checkpoint", "-m", "new clip", "--name", "v3"])
        .assert()
        .success();
    let names = |args: &[&str]| -> Vec<String> {
        let out = reel(p).arg("--json").args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&["log", "--", "src/Root.tsx"]), ["v2", "v1"]);
    assert_eq!(names(&["log", "--", "public"]), ["v3", "v2", "v1"]);
    assert_eq!(names(&["log", "-n", "1", "--", "src"]), ["v2"]);
}

#[test]
fn an_unchanged_directory_makes_no_checkpoint_unless_asked() {
    let dir = two_checkpoints();
    let p = dir.path();
    let count = || reel_json(p, &["log"]).as_array().unwrap().len();
    reel(p)
        .args(["checkpoint", "-m", "again"])
        .assert()
        .success()
        .stdout(contains("nothing changed since HEAD"));
    assert_eq!(count(), 2);
    let json = reel_json(p, &["checkpoint"]);
    assert_eq!(json["unchanged"], true);
    reel(p)
        .args(["checkpoint", "--allow-empty", "-m", "marker"])
        .assert()
        .success();
    assert_eq!(count(), 3);
}

#[test]
fn the_author_comes_from_the_flag_the_environment_or_the_os_user() {
    let dir = two_checkpoints();
    let p = dir.path();
    let author = |rev: &str| reel_json(p, &["show", rev, "--no-patch"])["commit"]["author"].clone();
    // The test harness sets USER=tester.
    assert_eq!(author("v1"), "tester");
    write(p, "a.txt", "1");
    reel(p)
        .env("REEL_AUTHOR", "Ana <ana@example.com>")
        .args(["checkpoint", "--name", "by-env"])
        .assert()
        .success();
    assert_eq!(author("by-env"), "Ana <ana@example.com>");
    write(p, "a.txt", "2");
    reel(p)
        .env("REEL_AUTHOR", "Ana")
        .args(["checkpoint", "--name", "by-flag", "--author", "Bo"])
        .assert()
        .success();
    assert_eq!(author("by-flag"), "Bo");
    write(p, "a.txt", "3");
    reel(p)
        .env_remove("USER")
        .env_remove("USERNAME")
        .env_remove("LOGNAME")
        .args(["checkpoint", "--name", "by-os"])
        .assert()
        .success();
    let os = author("by-os");
    assert_ne!(os, "unknown", "the OS user's name from the user id");
    assert!(!os.as_str().unwrap().is_empty());
}

#[test]
fn completions_and_a_man_page_are_generated() {
    let dir = tempdir();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = reel(dir.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains("checkpoint") && script.contains("restore"),
            "{shell}: the subcommands are completed"
        );
        if shell == "bash" {
            let file = dir.path().join("reel.bash");
            fs::write(&file, &script).unwrap();
            let check = std::process::Command::new("bash")
                .arg("-n")
                .arg(&file)
                .status()
                .unwrap();
            assert!(check.success(), "bash parses the script");
        }
    }
    reel(dir.path())
        .arg("man")
        .assert()
        .success()
        .stdout(contains(".TH reel 1").and(contains("checkpoint")));
}

#[test]
fn status_finds_a_rename_with_edits() {
    let dir = two_checkpoints();
    let p = dir.path();
    fs::remove_file(p.join("src/Intro.tsx")).unwrap();
    write(p, "src/Outro.tsx", format!("{SCENE_EDITED}line 10\n"));
    reel(p)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("R  src/Intro.tsx -> src/Outro.tsx").and(contains("% alike")));
    let status = reel_json(p, &["status"]);
    let change = &status["changes"][0];
    assert_eq!(change["change"], "renamed", "{status}");
    assert!(change["similarity"].as_u64().unwrap() < 100, "{status}");
}

#[test]
fn tags_name_checkpoints_move_and_keep_them() {
    let dir = two_checkpoints();
    let p = dir.path();
    let id = |rev: &str| reel_json(p, &["show", rev, "--no-patch"])["id"].clone();
    reel(p)
        .args(["tag", "release", "v1"])
        .assert()
        .success()
        .stdout(contains("tag release -> "));
    assert_eq!(id("release"), id("v1"));
    let tags = reel_json(p, &["tag"]);
    assert_eq!(tags[0]["name"], "release");
    assert_eq!(tags[0]["commit"], id("v1"));
    // An existing tag moves only with -f.
    reel(p)
        .args(["tag", "release", "v2"])
        .assert()
        .code(1)
        .stderr(contains("tag `release`").and(contains("already exists")));
    reel(p)
        .args(["tag", "-f", "release", "v2"])
        .assert()
        .success();
    assert_eq!(id("release"), id("v2"));
    assert_eq!(id("release^"), id("v1"));
    reel(p)
        .args(["log", "--oneline"])
        .assert()
        .success()
        .stdout(contains("(v2) [HEAD] [tag: release] longer"));
    // A tagged checkpoint is not deleted; names and tags are one namespace.
    reel(p)
        .args(["forget", "v2"])
        .assert()
        .code(1)
        .stderr(contains("is tagged `release`"));
    reel(p)
        .args(["tag", "v1"])
        .assert()
        .code(1)
        .stderr(contains("is the name of a checkpoint"));
    write(p, "b.txt", "b");
    reel(p)
        .args(["checkpoint", "--name", "release"])
        .assert()
        .code(1)
        .stderr(contains("`release` is a tag"));
    reel(p)
        .args(["tag", "bad name"])
        .assert()
        .code(1)
        .stderr(contains("invalid tag name"));
    // Deleted, it no longer resolves; the checkpoint can go.
    reel(p)
        .args(["tag", "-d", "release"])
        .assert()
        .success()
        .stdout(contains("deleted tag release"));
    reel(p)
        .args(["show", "release"])
        .assert()
        .code(1)
        .stderr(contains("not found"));
    reel(p)
        .args(["tag", "-d", "releas"])
        .assert()
        .code(1)
        .stderr(contains("tag `releas` not found"));
    reel(p).args(["forget", "v1"]).assert().success();
}
