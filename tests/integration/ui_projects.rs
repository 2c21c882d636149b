//! `reel ui` over HTTP: a project's checkpoints browsed file by file and diffed line by
//! line, for their owner only; the working directory's files served for a diff's new
//! side, and nothing outside it.

use std::path::Path;

use super::ui::{UiServer, get};
use crate::util::{reel, reel_json, tempdir};

fn as_user(dir: &Path, user: &str, args: &[&str], stdin: &[u8]) {
    reel(dir)
        .args(["--user", user])
        .args(args)
        .write_stdin(stdin.to_vec())
        .assert()
        .success();
}

/// A tiny PNG-named file whose bytes differ by `tag`.
fn picture(tag: u8) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(std::iter::repeat_n(tag, 64));
    png
}

#[test]
fn a_project_checkpoint_is_browsed_and_diffed_by_its_owner_only() {
    let dir = tempdir();
    let d = dir.path();
    reel(d).arg("init").assert().success();
    let id = reel_json(d, &["--user", "ana", "project", "create", "clip"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let versions = [
        "export const Root = () => {\n  return nothing_yet;\n};\n",
        "export const Root = () => {\n  return hello_world;\n};\n",
        "export const Root = () => {\n  return unsaved_edit;\n};\n",
    ];
    for (n, text) in versions.iter().enumerate() {
        as_user(
            d,
            "ana",
            &["file", "write", &id, "src/Root.tsx"],
            text.as_bytes(),
        );
        as_user(
            d,
            "ana",
            &["file", "write", &id, "img/a.png"],
            &picture(n as u8),
        );
        // A scene file, then moved with one line edited: a rename with edits.
        let scene = (0..10)
            .map(|k| format!("const shot{k} = {k};\n"))
            .collect::<Vec<_>>()
            .concat();
        match n {
            0 => as_user(
                d,
                "ana",
                &["file", "write", &id, "src/Scene.tsx"],
                scene.as_bytes(),
            ),
            1 => {
                as_user(
                    d,
                    "ana",
                    &["file", "mv", &id, "src/Scene.tsx", "src/scenes/Intro.tsx"],
                    b"",
                );
                let edited = scene.replace("shot9 = 9", "shot9 = 90");
                as_user(
                    d,
                    "ana",
                    &["file", "write", &id, "src/scenes/Intro.tsx"],
                    edited.as_bytes(),
                );
            }
            _ => {}
        }
        if n < 2 {
            let name = format!("v{}", n + 1);
            as_user(
                d,
                "ana",
                &["project", "checkpoint", &id, "--name", &name],
                b"",
            );
        }
    }
    std::fs::write(d.join("tokens"), "ana tok-ana\nbob tok-bob\n").unwrap();
    let ui = UiServer::start(d, &["--tokens", "tokens"], &[]);
    let ana = ui.cookie("tok-ana");
    let bob = ui.cookie("tok-bob");
    let page = |path: &str, who: &str| get(&ui.addr, path, &[("Cookie", who)]);

    // v1, file by file: the root, a directory, a file shown as text, its raw bytes.
    let root = page(&format!("/projects/{id}/checkpoint/v1/files"), &ana);
    assert_eq!(root.status, 200);
    let links = root.text();
    assert!(
        links.contains("/files/src") && links.contains("/files/img"),
        "{links}"
    );
    let file = page(
        &format!("/projects/{id}/checkpoint/v1/files/src/Root.tsx"),
        &ana,
    );
    assert_eq!(file.status, 200);
    assert!(file.text().contains("nothing_yet") && !file.text().contains("hello_world"));
    let raw = page(
        &format!("/projects/{id}/checkpoint/v1/raw/src/Root.tsx"),
        &ana,
    );
    assert_eq!(raw.text(), versions[0]);
    let part = get(
        &ui.addr,
        &format!("/projects/{id}/checkpoint/v2/raw/img/a.png"),
        &[("Cookie", &ana), ("Range", "bytes=8-11")],
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, [1, 1, 1, 1]);
    assert_eq!(part.header("content-type"), Some("image/png"));

    // v1 → v2 line by line, the picture before and after; v2 → the working tree.
    let diff = page(&format!("/projects/{id}/diff?old=v1&new=v2"), &ana);
    assert_eq!(diff.status, 200);
    let html = diff.text();
    assert!(
        html.contains("nothing_yet") && html.contains("hello_world"),
        "{html}"
    );
    // One line in Root.tsx, one in the moved scene.
    assert!(html.contains("+2") && html.contains("−2"), "counts: {html}");
    assert_eq!(html.matches("/raw/img/a.png").count(), 2, "{html}");
    assert!(
        html.contains("src/Scene.tsx → src/scenes/Intro.tsx") && html.contains("% similar"),
        "the move shows as a rename: {html}"
    );
    let to_tree = page(&format!("/projects/{id}/diff?old=v2"), &ana).text();
    assert!(to_tree.contains("unsaved_edit"), "{to_tree}");
    assert!(
        to_tree.contains(&format!("src=\"/projects/{id}/raw/img/a.png\"")),
        "{to_tree}"
    );

    // Bob reaches none of it.
    for path in [
        format!("/projects/{id}/checkpoint/v1/files"),
        format!("/projects/{id}/checkpoint/v1/files/src/Root.tsx"),
        format!("/projects/{id}/checkpoint/v1/raw/src/Root.tsx"),
        format!("/projects/{id}/diff?old=v1&new=v2"),
    ] {
        let b = page(&path, &bob);
        assert_eq!(b.status, 404, "{path}");
        assert!(!b.text().contains("nothing_yet"), "{path}");
    }
    // A checkpoint of another project, or a path out of the tree, is not found.
    for bad in [
        format!("/projects/{id}/checkpoint/v3/files"),
        format!("/projects/{id}/checkpoint/v1/raw/src/../../x"),
        format!("/projects/{id}/checkpoint/v1/raw/src"),
    ] {
        let a = page(&bad, &ana);
        assert!(a.status == 400 || a.status == 404, "{bad}: {}", a.status);
    }
}

#[test]
fn the_working_directory_is_served_for_diffs_and_nothing_outside_it() {
    let dir = tempdir();
    let d = dir.path();
    reel(d).arg("init").assert().success();
    std::fs::write(d.join("a.png"), picture(0)).unwrap();
    reel(d)
        .args(["checkpoint", "--name", "v1"])
        .assert()
        .success();
    std::fs::write(d.join("a.png"), picture(1)).unwrap();
    let outside = tempdir();
    std::fs::write(outside.path().join("secret.txt"), "not yours\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), d.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.join("linked-dir")).unwrap();
    let ui = UiServer::start(d, &[], &[]);
    let cookie = ui.cookie(&ui.token);
    let page = |path: &str| get(&ui.addr, path, &[("Cookie", &cookie)]);

    let diff = page("/repo/diff?old=v1").text();
    assert!(diff.contains("src=\"/repo/worktree/a.png\""), "{diff}");
    let now = page("/repo/worktree/a.png");
    assert_eq!(now.status, 200);
    assert_eq!(now.body, picture(1));
    for bad in [
        "/repo/worktree/link.txt",
        "/repo/worktree/linked-dir/secret.txt",
        "/repo/worktree/../x",
        "/repo/worktree/%2e%2e/x",
        "/repo/worktree/.reel/config.toml",
        "/repo/worktree/.REEL/config.toml",
        "/repo/worktree//etc/passwd",
        "/repo/worktree/missing.txt",
    ] {
        let a = page(bad);
        assert!(
            a.status == 400 || a.status == 404,
            "{bad}: {} {}",
            a.status,
            a.text()
        );
        assert!(!a.text().contains("not yours"), "{bad}");
    }
}
