//! restore(checkpoint(dir)) == dir, on every backend, and incremental restore.

use std::fs;
use std::sync::Arc;

use reelstore::{BackendConfig, CheckpointOptions, DiffTarget, NoProgress, RepoConfig, Repository};

use crate::util::{random_bytes, sample_project, snapshot, tempdir, write};

fn opts(name: &str) -> CheckpointOptions {
    CheckpointOptions {
        message: format!("checkpoint {name}"),
        name: Some(name.into()),
        ..Default::default()
    }
}

async fn round_trip_on(repo: Repository) {
    let src = tempdir();
    sample_project(src.path());
    // Large enough to be cut into several chunks with small test chunk sizes.
    write(src.path(), "public/footage.mov", random_bytes(3 << 20, 11));
    write(src.path(), "empty.txt", "");
    let s = repo
        .checkpoint(src.path(), opts("v1"), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(s.files, 9);

    let dst = tempdir();
    repo.restore("v1", dst.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(snapshot(src.path()), snapshot(dst.path()));

    // Every file reads back through `read`, verified against its id.
    assert_eq!(
        repo.read("v1", "public/footage.mov").await.unwrap(),
        random_bytes(3 << 20, 11)
    );
    assert!(repo.fsck(true).await.unwrap().is_clean());
}

fn small_chunks(backend: BackendConfig) -> RepoConfig {
    let mut c = RepoConfig {
        backend,
        ..RepoConfig::default()
    };
    c.chunking = reelstore::ChunkerConfig {
        min: 64 * 1024,
        avg: 256 * 1024,
        max: 1024 * 1024,
    };
    c
}

#[tokio::test]
async fn round_trip_memory_backend() {
    let repo = Repository::in_memory(small_chunks(BackendConfig::Url("memory://".into())))
        .await
        .unwrap();
    round_trip_on(repo).await;
}

#[tokio::test]
async fn round_trip_local_directory_backend() {
    let dir = tempdir();
    let repo = Repository::init(dir.path().join("repo"), small_chunks(BackendConfig::Local))
        .await
        .unwrap();
    round_trip_on(repo).await;
    assert!(
        fs::read_dir(dir.path().join("repo/packs/packs"))
            .unwrap()
            .count()
            >= 1
    );
}

#[tokio::test]
async fn round_trip_redb_file_backend() {
    let dir = tempdir();
    let repo = Repository::init(dir.path().join("repo"), small_chunks(BackendConfig::Redb))
        .await
        .unwrap();
    round_trip_on(repo).await;
    assert!(dir.path().join("repo/packs.redb").is_file());
    assert!(!dir.path().join("repo/packs").exists());
}

#[tokio::test]
async fn round_trip_file_url_backend_survives_reopen() {
    let dir = tempdir();
    let url = format!("file://{}", dir.path().join("blobs").display());
    let repo = Repository::init(
        dir.path().join("repo"),
        small_chunks(BackendConfig::Url(url)),
    )
    .await
    .unwrap();
    round_trip_on(repo).await;
    let again = Repository::open(dir.path().join("repo")).await.unwrap();
    assert_eq!(again.log(None, 10).await.unwrap().len(), 1);
    assert!(again.fsck(true).await.unwrap().is_clean());
}

#[tokio::test]
async fn incremental_restore_writes_only_what_differs_and_keeps_untracked_files() {
    let repo = Repository::in_memory(RepoConfig::default()).await.unwrap();
    let src = tempdir();
    sample_project(src.path());
    repo.checkpoint(src.path(), opts("v1"), Arc::new(NoProgress))
        .await
        .unwrap();
    write(src.path(), "src/Root.tsx", "changed\n");
    write(src.path(), "src/New.tsx", "new\n");
    fs::remove_file(src.path().join("scripts/render.sh")).unwrap();
    repo.checkpoint(src.path(), opts("v2"), Arc::new(NoProgress))
        .await
        .unwrap();

    let dst = tempdir();
    let first = repo
        .restore("v2", dst.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(first.unchanged, 0);
    write(dst.path(), "untracked.txt", "mine");
    let back = repo
        .restore("v1", dst.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    // Root.tsx rewritten, render.sh recreated; New.tsx removed; the rest untouched.
    assert_eq!(back.written, 2, "{back:?}");
    assert_eq!(back.removed, 1, "{back:?}");
    assert!(back.unchanged >= 5);
    assert!(
        dst.path().join("untracked.txt").exists(),
        "untracked files are not ours to delete"
    );
    fs::remove_file(dst.path().join("untracked.txt")).unwrap();
    let v1 = tempdir();
    repo.restore("v1", v1.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(snapshot(dst.path()), snapshot(v1.path()));

    // An unchanged restore writes nothing.
    let again = repo
        .restore("v1", dst.path(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert_eq!(again.written, 0);
}

#[tokio::test]
async fn restore_replaces_a_symlinked_directory_instead_of_following_it() {
    let repo = Repository::in_memory(RepoConfig::default()).await.unwrap();
    let src = tempdir();
    write(src.path(), "sub/file.txt", "inside");
    repo.checkpoint(src.path(), opts("v1"), Arc::new(NoProgress))
        .await
        .unwrap();

    let outside = tempdir();
    let dst = tempdir();
    std::os::unix::fs::symlink(outside.path(), dst.path().join("sub")).unwrap();
    // The link is the user's (untracked): replacing it needs --force, as in git.
    let refused = repo.restore("v1", dst.path(), Arc::new(NoProgress)).await;
    assert!(
        matches!(&refused, Err(reelstore::Error::WouldDiscard { paths }) if paths == &["sub"]),
        "{refused:?}"
    );
    assert!(
        fs::symlink_metadata(dst.path().join("sub"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    repo.restore_with(
        "v1",
        dst.path(),
        reelstore::RestoreOptions { force: true },
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert!(
        fs::read_dir(outside.path()).unwrap().next().is_none(),
        "nothing written through the link"
    );
    assert!(
        fs::symlink_metadata(dst.path().join("sub"))
            .unwrap()
            .is_dir()
    );
    assert_eq!(
        fs::read(dst.path().join("sub/file.txt")).unwrap(),
        b"inside"
    );
}

#[tokio::test]
async fn diff_reports_added_removed_modified_renamed_with_sizes() {
    let repo = Repository::in_memory(RepoConfig::default()).await.unwrap();
    let src = tempdir();
    sample_project(src.path());
    repo.checkpoint(src.path(), opts("v1"), Arc::new(NoProgress))
        .await
        .unwrap();
    write(src.path(), "src/Root.tsx", "export const Root = 2;\n");
    fs::rename(
        src.path().join("public/clip.mp4"),
        src.path().join("public/intro.mp4"),
    )
    .unwrap();
    fs::remove_file(src.path().join("package.json")).unwrap();
    write(src.path(), "src/Extra.tsx", "x");

    let changes = repo
        .diff("v1", DiffTarget::Dir(src.path().to_path_buf()))
        .await
        .unwrap();
    let summary: Vec<(String, String)> = changes
        .iter()
        .map(|c| (format!("{:?}", c.change), c.path.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Removed".into(), "package.json".into()),
            ("Renamed".into(), "public/intro.mp4".into()),
            ("Added".into(), "src/Extra.tsx".into()),
            ("Modified".into(), "src/Root.tsx".into()),
        ]
    );
    let renamed = &changes[1];
    assert_eq!(renamed.from.as_deref(), Some("public/clip.mp4"));
    assert_eq!(renamed.new_size, Some(600_000));
    let modified = &changes[3];
    assert_eq!(modified.new_size, Some(23));

    // The same diff between two stored checkpoints.
    repo.checkpoint(src.path(), opts("v2"), Arc::new(NoProgress))
        .await
        .unwrap();
    let stored = repo.diff("v1", DiffTarget::Rev("v2".into())).await.unwrap();
    assert_eq!(stored, changes);
}

#[tokio::test]
async fn an_ambiguous_prefix_is_refused_naming_the_candidates() {
    let repo = Repository::in_memory(RepoConfig::default()).await.unwrap();
    let src = tempdir();
    write(src.path(), "a.txt", "a");
    let mut by_prefix: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for i in 0..20_000 {
        let mut opts = CheckpointOptions::default();
        opts.metadata.insert("n".into(), i.to_string());
        let id = repo
            .checkpoint(src.path(), opts, Arc::new(NoProgress))
            .await
            .unwrap()
            .id
            .to_string();
        let prefix = id[..4].to_owned();
        if let Some(other) = by_prefix.insert(prefix.clone(), id.clone()) {
            let err = repo.resolve(&prefix).await.unwrap_err();
            assert!(matches!(err, reelstore::Error::Ambiguous { .. }), "{err:?}");
            let text = err.to_string();
            assert!(
                text.contains(&id[..12]) && text.contains(&other[..12]),
                "{text}"
            );
            // One more digit disambiguates (unless they share five).
            if id[..5] != other[..5] {
                assert_eq!(repo.resolve(&id[..5]).await.unwrap().to_string(), id);
            }
            return;
        }
    }
    panic!("no two of 20,000 checkpoints shared a 4-digit prefix");
}
