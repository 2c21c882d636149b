//! Compact pack trailers (format 5): an older repository keeps the listing trailer its
//! release reads until it is upgraded, and an index rebuilt from packs of both kinds
//! gives back every checkpoint byte for byte.

use std::fs;
use std::path::Path;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use reelstore::internals::parse_pack;

use crate::blocks::node_modules;
use crate::util::{format_of, reel, set_format, snapshot, tempdir, write};

/// The envelope tag of each pack's trailer (4 listing, 6 compact), by pack file.
fn trailer_tags(repo: &Path) -> Vec<(String, u8)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(repo.join("packs/packs")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        let n = bytes.len();
        let len = u32::from_le_bytes(bytes[n - 12..n - 8].try_into().unwrap()) as usize;
        assert!(
            parse_pack(&bytes).is_ok(),
            "{} does not parse",
            path.display()
        );
        out.push((path.display().to_string(), bytes[n - 12 - len]));
    }
    out.sort();
    out
}

fn checkpoint(repo: &Path, src: &Path, name: &str) {
    reel(src)
        .args([
            "--repo",
            repo.to_str().unwrap(),
            "checkpoint",
            "-q",
            "--name",
            name,
        ])
        .arg(src)
        .assert()
        .success();
}

fn restore(repo: &Path, name: &str) -> crate::util::Tree {
    let out = tempdir();
    reel(out.path())
        .args([
            "--repo",
            repo.to_str().unwrap(),
            "restore",
            "-q",
            name,
            "--to",
        ])
        .arg(out.path())
        .assert()
        .success();
    snapshot(out.path())
}

#[test]
fn a_format_4_repository_keeps_listing_trailers_until_upgraded() {
    let root = tempdir();
    let repo = root.path().join("repo");
    let src = root.path().join("src");
    reel(root.path())
        .args(["--repo", repo.to_str().unwrap(), "init"])
        .assert()
        .success();
    set_format(&repo.join("config"), 4);
    node_modules(&src, 120);
    write(&src, "footage.mov", crate::util::random_bytes(3 << 20, 5));
    checkpoint(&repo, &src, "v1");
    let v1 = snapshot(&src);
    let before = trailer_tags(&repo);
    assert!(!before.is_empty());
    assert!(before.iter().all(|(_, tag)| *tag == 4), "{before:?}");

    reel(root.path())
        .args(["--repo", repo.to_str().unwrap(), "upgrade"])
        .assert()
        .success()
        .stdout(contains("from format 4 to 5").and(contains("listed compactly")));
    assert_eq!(format_of(&repo.join("config")), 5);
    node_modules(&src.join("more"), 80);
    checkpoint(&repo, &src, "v2");
    let v2 = snapshot(&src);
    let after = trailer_tags(&repo);
    let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(!new.is_empty());
    assert!(new.iter().all(|(_, tag)| *tag == 6), "{new:?}");

    // The index rebuilt from both kinds of trailer: every object found again.
    fs::remove_file(repo.join("index.redb")).unwrap();
    reel(root.path())
        .args(["--repo", repo.to_str().unwrap(), "index", "rebuild"])
        .assert()
        .success()
        .stdout(contains("2 checkpoints"));
    assert_eq!(restore(&repo, "v1"), v1);
    assert_eq!(restore(&repo, "v2"), v2);
    reel(root.path())
        .args(["--repo", repo.to_str().unwrap(), "fsck", "--read-data"])
        .assert()
        .success();
}
