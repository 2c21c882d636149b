//! The walk against a directory built for each rule: ignore files at several depths,
//! the repository's own directory, leftovers, special files, bad names, and the stat
//! records the stat cache compares.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::*;

fn put(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, body).unwrap();
}

fn rels(w: &Walked) -> Vec<&str> {
    w.entries.iter().map(|e| e.rel.as_str()).collect()
}

#[test]
fn ignore_files_at_every_depth_with_the_deepest_deciding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(d, ".reelignore", "*.log\nout/\n/top.tmp\n");
    put(d, "a.log", "");
    put(d, "keep.txt", "");
    put(d, "top.tmp", "");
    put(d, "out/video.mp4", "");
    put(d, "src/out", ""); // a file named out: `out/` matches directories only
    put(d, "src/top.tmp", ""); // `/top.tmp` is anchored to the root
    put(d, "src/.reelignore", "!keep.log\nlocal/\n");
    put(d, "src/keep.log", ""); // re-included below
    put(d, "src/drop.log", "");
    put(d, "src/local/x.ts", "");
    put(d, "src/deep/y.log", ""); // the root's rule still applies deeper
    let w = walk(d, None).unwrap();
    assert_eq!(
        rels(&w),
        [
            "",
            ".reelignore",
            "keep.txt",
            "src",
            "src/.reelignore",
            "src/deep",
            "src/keep.log",
            "src/out",
            "src/top.tmp",
        ]
    );
}

#[test]
fn the_repository_leftovers_and_special_files_stay_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(d, ".reel/index.redb", "");
    put(d, "sub/.REEL/x", ""); // any case, any depth
    put(d, "store/packs/p", ""); // the repository kept elsewhere: `exclude`
    put(d, "sub/.reel-restore-123-abc", "");
    put(d, "sub/file", "x");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        d.join("sub/fifo"),
        FileType::Fifo,
        Mode::RWXU,
        0,
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc", d.join("sub/link")).unwrap();
    let w = walk(d, Some(&d.join("store/packs"))).unwrap();
    assert_eq!(rels(&w), ["", "store", "sub", "sub/file", "sub/link"]);
    assert_eq!(w.leftovers, [d.join("sub/.reel-restore-123-abc")]);
    let link = &w.entries[4];
    assert_eq!(link.kind, WalkKind::Symlink, "a symlink is never followed");
}

#[test]
fn stat_records_are_those_of_the_metadata() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(d, "a/run.sh", "#!/bin/sh\n");
    fs::set_permissions(d.join("a/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let w = walk(d, None).unwrap();
    let e = w.entries.iter().find(|e| e.rel == "a/run.sh").unwrap();
    let meta = fs::symlink_metadata(d.join("a/run.sh")).unwrap();
    assert_eq!(e.stat, super::super::file::stat_of(&meta));
    assert!(e.executable);
    assert_eq!(e.abs(d), d.join("a/run.sh"));
}

#[test]
fn a_bad_name_is_an_error_naming_it_unless_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    fs::create_dir_all(d.join("ok")).unwrap();
    fs::write(d.join("ok").join(bad), "").unwrap();
    let err = walk(d, None).unwrap_err().to_string();
    assert!(
        err.contains("not valid UTF-8") && err.contains("ok/caf"),
        "{err}"
    );
    put(d, ".reelignore", "ok/\n");
    assert_eq!(rels(&walk(d, None).unwrap()), ["", ".reelignore"]);
}

#[test]
fn a_broken_ignore_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "src/.reelignore", "a{b\n");
    let err = walk(dir.path(), None).unwrap_err().to_string();
    assert!(err.contains("src/.reelignore"), "{err}");
}
