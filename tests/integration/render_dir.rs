//! `reel render [REF]` in a directory repository (`reel init`): a checkpoint (default
//! HEAD, or `--checkpoint REF`) or, with `--worktree`, the directory as it is now,
//! rendered through one project of the directory with the memo, work directory and
//! dependency cache of any project.

use serde_json::Value;

use crate::render::PACKAGE_JSON;
use crate::render_faces::fake_env;
use crate::util::{reel, reel_json, tempdir, write};

/// `reel render ARGS --json` with the fake renderer; the job.
fn render(dir: &std::path::Path, args: &[&str]) -> Value {
    let out = reel(dir)
        .envs(fake_env(&dir.join("../installs")))
        .arg("render")
        .args(args)
        .args(["--composition", "Main", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reel render {args:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tree(dir: &std::path::Path, rev: &str) -> Value {
    reel_json(dir, &["show", rev])["commit"]["tree"].clone()
}

#[test]
fn a_directory_repository_renders_its_checkpoints_and_its_working_directory() {
    let root = tempdir();
    let dir = root.path().join("clip");
    std::fs::create_dir(&dir).unwrap();
    reel(&dir).arg("init").assert().success();
    write(&dir, "package.json", PACKAGE_JSON.as_bytes());
    write(
        &dir,
        "src/index.ts",
        b"import {registerRoot} from 'remotion';\n",
    );
    for v in ["v1", "v2"] {
        write(
            &dir,
            "src/Root.tsx",
            format!("export const v = '{v}';\n").into_bytes(),
        );
        reel(&dir).args(["checkpoint", "-m", v]).assert().success();
    }
    write(&dir, "src/Root.tsx", b"export const v = 'unsaved';\n");

    // A checkpoint by name, then the same one as `--checkpoint` (a memo hit).
    let old = render(&dir, &["HEAD~1"]);
    assert_eq!(old["stage"], "done");
    assert_eq!(old["tree"], tree(&dir, "HEAD~1"), "{old}");
    assert_eq!(old["memo_hit"], false);
    let again = render(&dir, &["--checkpoint", "HEAD~1"]);
    assert_eq!(again["memo_hit"], true, "{again}");
    // No argument: HEAD.
    let head = render(&dir, &[]);
    assert_eq!(head["tree"], tree(&dir, "HEAD"));
    assert_ne!(head["key"], old["key"]);
    // The directory as it is now: neither checkpoint's tree; the files stay as they are.
    let now = render(&dir, &["--worktree"]);
    assert_eq!(now["memo_hit"], false);
    assert!(
        now["tree"] != head["tree"] && now["tree"] != old["tree"],
        "{now}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("src/Root.tsx")).unwrap(),
        "export const v = 'unsaved';\n"
    );
    // All through one project of the directory, one install.
    let projects: Vec<&Value> = [&old, &head, &now].iter().map(|j| &j["project"]).collect();
    assert!(projects.iter().all(|p| *p == projects[0]), "{projects:?}");
    let installs = std::fs::read_to_string(root.path().join("installs")).unwrap();
    assert_eq!(installs.lines().count(), 1, "{installs}");

    // The text output says what was rendered; --lock writes into the directory.
    let out = reel(&dir)
        .envs(fake_env(&dir.join("../installs")))
        .args(["render", "HEAD", "--composition", "Main", "--lock"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rendered:   checkpoint HEAD ("), "{text}");
    assert!(
        std::fs::read_to_string(dir.join("package-lock.json"))
            .unwrap()
            .contains("4.0.529"),
        "{text}"
    );

    // Mistakes say what to do.
    let bad = reel(&dir)
        .envs(fake_env(&dir.join("../installs")))
        .args(["render", "nope", "--composition", "Main"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("nope"),
        "{bad:?}"
    );
    let both = reel(&dir)
        .args(["render", "HEAD", "--worktree"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&both.stderr).contains("not both"),
        "{both:?}"
    );
}

#[test]
fn outside_a_directory_repository_a_render_needs_a_project() {
    let root = tempdir();
    let repo = root.path().join("bare");
    reel(root.path())
        .args(["--repo", repo.to_str().unwrap(), "init"])
        .assert()
        .success();
    let out = reel(root.path())
        .args(["--repo", repo.to_str().unwrap(), "render", "HEAD"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`reel project ls`"), "{err}");
}
