//! The artifact layer: projects, working trees, checkpoints, assets, renders.

use std::sync::Arc;

use reelstore::{
    AssetInput, Caller, CreateCheckpoint, CreateProject, Error, GcOptions, ListBlobs, ListProjects,
    NoProgress, ProjectPath, RenderMeta, RepoConfig, Repository, RestoreOptions, Scope, Source,
    UpdateProject,
};

use crate::util::{random_bytes, snapshot, tempdir, write};

pub fn p(s: &str) -> ProjectPath {
    ProjectPath::parse(s).unwrap()
}

pub fn caller(sandbox: &str, user: Option<&str>, session: Option<&str>) -> Caller {
    Caller::new(sandbox, user, session).unwrap()
}

fn named(name: &str) -> CreateCheckpoint {
    CreateCheckpoint {
        name: name.into(),
        description: format!("checkpoint {name}"),
        ..Default::default()
    }
}

pub async fn repo() -> (tempfile::TempDir, Repository) {
    let dir = tempdir();
    let repo = Repository::init(dir.path().join("repo"), RepoConfig::default())
        .await
        .unwrap();
    (dir, repo)
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one workflow, start to end
async fn a_whole_workflow_on_a_virtual_project() {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let me = caller("local", Some("ana"), Some("s1"));
    let mut meta = serde_json::Map::new();
    meta.insert("fps".into(), 30.into());
    meta.insert("theme".into(), "dark".into());
    let proj = a
        .create_project(
            &me,
            CreateProject {
                name: "Intro".into(),
                scope: Some(Scope::User),
                metadata: meta,
                ttl_s: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(proj.id.to_string().len(), 32);
    let id = proj.id;

    let big = random_bytes(3 << 20, 1);
    a.write_file(
        &me,
        id,
        p("src/Root.tsx"),
        Source::Bytes(b"export const Root = 1;\n".to_vec()),
        false,
    )
    .await
    .unwrap();
    a.write_file(
        &me,
        id,
        p("src/scenes/Title.tsx"),
        Source::Bytes(b"title".to_vec()),
        false,
    )
    .await
    .unwrap();
    a.write_file(
        &me,
        id,
        p("public/clip.mp4"),
        Source::Bytes(big.clone()),
        false,
    )
    .await
    .unwrap();
    a.write_file(
        &me,
        id,
        p("render.sh"),
        Source::Bytes(b"#!/bin/sh\n".to_vec()),
        true,
    )
    .await
    .unwrap();
    a.mkdir(&me, id, p("public/empty")).await.unwrap();

    let all: Vec<String> = a
        .list_files(&me, id, None, true)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        all,
        [
            "public",
            "public/clip.mp4",
            "public/empty",
            "render.sh",
            "src",
            "src/Root.tsx",
            "src/scenes",
            "src/scenes/Title.tsx"
        ]
    );
    assert_eq!(
        a.read_file(&me, id, p("public/clip.mp4"), Some((1000, 10)))
            .await
            .unwrap(),
        big[1000..1010]
    );
    assert_eq!(
        a.read_file(&me, id, p("public/clip.mp4"), None)
            .await
            .unwrap(),
        big
    );

    let v1 = a.create_checkpoint(&me, id, named("v1")).await.unwrap();
    assert_eq!(v1.files, 4);
    assert_eq!(v1.size, 23 + 5 + (3 << 20) + 10);

    a.write_file(
        &me,
        id,
        p("src/Root.tsx"),
        Source::Bytes(b"export const Root = 2;\n".to_vec()),
        false,
    )
    .await
    .unwrap();
    a.move_file(&me, id, p("src/scenes"), p("scenes"))
        .await
        .unwrap();
    a.delete_file(&me, id, p("render.sh")).await.unwrap();
    let changes = a.diff(&me, id, "v1", None).await.unwrap();
    let kinds: Vec<(String, String)> = changes
        .iter()
        .map(|c| (format!("{:?}", c.change), c.path.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Removed".into(), "render.sh".into()),
            ("Renamed".into(), "scenes/Title.tsx".into()),
            ("Modified".into(), "src/Root.tsx".into())
        ]
    );
    let v2 = a.create_checkpoint(&me, id, named("v2")).await.unwrap();
    assert_eq!(a.diff(&me, id, "v1", Some("v2")).await.unwrap(), changes);
    assert!(
        a.diff(&me, id, "v2", None).await.unwrap().is_empty(),
        "the overlay was folded"
    );

    // Duplicate names are refused.
    let dup = a.create_checkpoint(&me, id, named("v1")).await.unwrap_err();
    assert!(
        matches!(&dup, Error::AlreadyExists { kind: reelstore::ItemKind::Checkpoint, id, .. } if id == "v1"),
        "{dup:?}"
    );

    let listed = a.list_checkpoints(&me, id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|c| c.name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["v1", "v2"]
    );

    // Two unsaved edits: the restore discards them and says how many.
    for (path, content) in [("wip.txt", "a"), ("src/Root.tsx", "unsaved")] {
        a.write_file(&me, id, p(path), Source::Bytes(content.into()), false)
            .await
            .unwrap();
    }
    let restored = a.restore_checkpoint(&me, id, "v1").await.unwrap();
    assert_eq!(restored.discarded_edits, 2);
    assert_eq!(
        a.read_file(&me, id, p("src/Root.tsx"), None).await.unwrap(),
        b"export const Root = 1;\n"
    );
    assert_eq!(
        a.read_file(&me, id, p("src/scenes/Title.tsx"), None)
            .await
            .unwrap(),
        b"title"
    );
    assert!(
        a.read_file(&me, id, p("scenes/Title.tsx"), None)
            .await
            .is_err()
    );

    // Restore by id prefix too.
    a.restore_checkpoint(&me, id, &v2.id.to_string()[..8])
        .await
        .unwrap();
    assert_eq!(
        a.read_file(&me, id, p("src/Root.tsx"), None).await.unwrap(),
        b"export const Root = 2;\n"
    );

    let log = a.log(&me, id, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].id, v2.id);

    // Export the working tree and a checkpoint; import a directory back.
    let out = tempdir();
    a.export(
        &me,
        id,
        Some("v1"),
        out.path().to_path_buf(),
        RestoreOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(out.path().join("public/clip.mp4")).unwrap(),
        big
    );
    assert!(out.path().join("public/empty").is_dir());
    write(out.path(), "extra.json", "{}");
    a.import(&me, id, out.path().to_path_buf()).await.unwrap();
    assert_eq!(
        a.read_file(&me, id, p("extra.json"), None).await.unwrap(),
        b"{}"
    );
    let again = tempdir();
    a.export(
        &me,
        id,
        None,
        again.path().to_path_buf(),
        RestoreOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(snapshot(again.path()), snapshot(out.path()));

    let updated = a
        .update_project(
            &me,
            id,
            UpdateProject {
                name: Some("Intro v2".into()),
                remove: vec!["theme".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Intro v2");
    assert!(!updated.metadata.contains_key("theme"));
    assert_eq!(updated.metadata["fps"], 30);
    assert!(repo.fsck(true).await.unwrap().is_clean());
}

#[tokio::test]
async fn bad_paths_and_ids_are_refused_clearly() {
    for bad in ["../etc/passwd", "/abs", "a/../b", "a//b", "", "./a", "a/"] {
        let err = ProjectPath::parse(bad).unwrap_err();
        assert!(err.to_string().contains("invalid path"), "{bad:?}: {err}");
    }
    for (sandbox, user) in [
        ("a/b", "u"),
        ("ok", "../x"),
        ("", "u"),
        ("ok", &"x".repeat(65)[..]),
    ] {
        assert!(
            Caller::new(sandbox, Some(user), None).is_err(),
            "{sandbox:?} {user:?}"
        );
    }
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let me = caller("local", Some("ana"), None);
    let id = a
        .create_project(
            &me,
            CreateProject {
                name: "x".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    a.write_file(&me, id, p("a"), Source::Bytes(b"file".to_vec()), false)
        .await
        .unwrap();
    let under_file = a
        .write_file(&me, id, p("a/b"), Source::Bytes(vec![]), false)
        .await
        .unwrap_err();
    assert!(under_file.to_string().contains("is a file"), "{under_file}");
    assert!(matches!(
        a.restore_checkpoint(&me, id, "nope").await,
        Err(Error::NotFound { .. })
    ));
    let unknown: reelstore::ProjectId = "00112233445566778899aabbccddeeff".parse().unwrap();
    assert!(matches!(
        a.get_project(&me, unknown).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn deleting_the_middle_checkpoint_then_gc_frees_only_its_data() {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let me = caller("local", Some("ana"), None);
    let id = a
        .create_project(
            &me,
            CreateProject {
                name: "x".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    a.write_file(
        &me,
        id,
        p("shared.bin"),
        Source::Bytes(random_bytes(1 << 20, 1)),
        false,
    )
    .await
    .unwrap();
    a.write_file(
        &me,
        id,
        p("one.bin"),
        Source::Bytes(random_bytes(2 << 20, 2)),
        false,
    )
    .await
    .unwrap();
    a.create_checkpoint(&me, id, named("a")).await.unwrap();
    a.delete_file(&me, id, p("one.bin")).await.unwrap();
    a.write_file(
        &me,
        id,
        p("two.bin"),
        Source::Bytes(random_bytes(5 << 20, 3)),
        false,
    )
    .await
    .unwrap();
    a.create_checkpoint(&me, id, named("b")).await.unwrap();
    a.delete_file(&me, id, p("two.bin")).await.unwrap();
    a.write_file(
        &me,
        id,
        p("three.bin"),
        Source::Bytes(random_bytes(1 << 20, 4)),
        false,
    )
    .await
    .unwrap();
    a.create_checkpoint(&me, id, named("c")).await.unwrap();

    let now = GcOptions {
        grace: std::time::Duration::ZERO,
        ..GcOptions::default()
    };
    assert_eq!(
        repo.gc(now.clone()).await.unwrap().plan.dead_objects,
        0,
        "nothing is dead yet"
    );
    a.delete_checkpoint(&me, id, "b").await.unwrap();
    let report = repo.gc(now).await.unwrap();
    assert!(
        report.bytes_freed >= 5 << 20 && report.bytes_freed < (5 << 20) + 64 * 1024,
        "{report:?}"
    );
    assert!(repo.fsck(true).await.unwrap().is_clean());
    for (rev, present, absent) in [("a", "one.bin", "three.bin"), ("c", "three.bin", "one.bin")] {
        a.restore_checkpoint(&me, id, rev).await.unwrap();
        assert!(a.read_file(&me, id, p(present), None).await.is_ok());
        assert!(a.read_file(&me, id, p(absent), None).await.is_err());
        assert_eq!(
            a.read_file(&me, id, p("shared.bin"), None).await.unwrap(),
            random_bytes(1 << 20, 1)
        );
    }
    let log = a.log(&me, id, 10).await.unwrap();
    assert!(log.iter().any(|e| e.deleted), "b shows as deleted: {log:?}");
}

#[tokio::test]
async fn restore_is_constant_in_index_writes_whatever_the_project_size() {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let me = caller("local", Some("ana"), None);
    let mut writes = Vec::new();
    for files in [20_000usize, 1] {
        let dir = tempdir();
        for i in 0..files {
            write(
                dir.path(),
                &format!("s{}/f{i}.tsx", i % 100),
                format!("export const f{i} = {i};"),
            );
        }
        let id = a
            .create_project(
                &me,
                CreateProject {
                    name: format!("{files} files"),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .id;
        a.import(&me, id, dir.path().to_path_buf()).await.unwrap();
        let cp = a.create_checkpoint(&me, id, named("v1")).await.unwrap();
        assert_eq!(cp.files, files as u64);
        a.write_file(&me, id, p("dirty.txt"), Source::Bytes(b"x".to_vec()), false)
            .await
            .unwrap();
        let before = a.index_writes();
        a.restore_checkpoint(&me, id, "v1").await.unwrap();
        writes.push(a.index_writes() - before);
        assert!(
            a.read_file(&me, id, p("dirty.txt"), None).await.is_err(),
            "the overlay is gone"
        );
    }
    assert_eq!(writes[0], writes[1], "20,000 files vs 1 file");
    assert_eq!(writes[0], 1);
}

#[tokio::test]
async fn a_checkpoint_sees_each_concurrent_write_whole_or_not_at_all() {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let me = caller("local", Some("ana"), None);
    let id = a
        .create_project(
            &me,
            CreateProject {
                name: "x".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    for i in 0..20 {
        a.write_file(
            &me,
            id,
            p(&format!("base/{i}.txt")),
            Source::Bytes(random_bytes(10_000, i)),
            false,
        )
        .await
        .unwrap();
    }
    let writers: Vec<_> = (0..40u64)
        .map(|i| {
            let (a, me) = (a.clone(), me.clone());
            tokio::spawn(async move {
                let bytes = random_bytes(300_000 + i as usize * 1000, 100 + i);
                a.write_file(
                    &me,
                    id,
                    p(&format!("new/{i}.bin")),
                    Source::Bytes(bytes),
                    false,
                )
                .await
                .unwrap();
            })
        })
        .collect();
    let cp = {
        let (a, me) = (a.clone(), me.clone());
        tokio::spawn(async move { a.create_checkpoint(&me, id, named("mid")).await.unwrap() })
    };
    for w in writers {
        w.await.unwrap();
    }
    let cp = cp.await.unwrap();
    // No write is lost from the working tree.
    let files = a.list_files(&me, id, Some(p("new")), false).await.unwrap();
    assert_eq!(files.len(), 40);
    // The checkpoint holds a subset of the writes, each one whole.
    let out = tempdir();
    a.export(
        &me,
        id,
        Some("mid"),
        out.path().to_path_buf(),
        RestoreOptions::default(),
    )
    .await
    .unwrap();
    let mut seen = 0;
    for i in 0..40u64 {
        if let Ok(bytes) = std::fs::read(out.path().join(format!("new/{i}.bin"))) {
            assert_eq!(bytes, random_bytes(300_000 + i as usize * 1000, 100 + i));
            seen += 1;
        }
    }
    assert_eq!(cp.files, 20 + seen);
    // And a second checkpoint has all of them.
    assert_eq!(
        a.create_checkpoint(&me, id, named("after"))
            .await
            .unwrap()
            .files,
        60
    );
}

#[tokio::test]
async fn session_projects_expire_and_gc_frees_them() {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let me = caller("local", Some("ana"), Some("s1"));
    let short = a
        .create_project(
            &me,
            CreateProject {
                name: "short".into(),
                scope: Some(Scope::Session),
                ttl_s: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(short.scope, Scope::Session);
    let forever = a
        .create_project(
            &me,
            CreateProject {
                name: "forever".into(),
                scope: Some(Scope::Session),
                ttl_s: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        forever.expires_ms.is_none(),
        "ttl 0 asks explicitly for no expiry"
    );
    let default = a
        .create_project(
            &me,
            CreateProject {
                name: "default".into(),
                scope: Some(Scope::Session),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let day = default.expires_ms.unwrap() - default.created_ms;
    assert!(
        (24 * 3600 * 1000 - 5000..=24 * 3600 * 1000).contains(&day),
        "{day}"
    );
    a.write_file(
        &me,
        short.id,
        p("big.bin"),
        Source::Bytes(random_bytes(2 << 20, 1)),
        false,
    )
    .await
    .unwrap();
    a.create_checkpoint(&me, short.id, named("v1"))
        .await
        .unwrap();
    a.write_file(
        &me,
        forever.id,
        p("keep.bin"),
        Source::Bytes(random_bytes(1 << 20, 2)),
        false,
    )
    .await
    .unwrap();
    a.create_checkpoint(&me, forever.id, named("v1"))
        .await
        .unwrap();

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(matches!(
        a.get_project(&me, short.id).await,
        Err(Error::NotFound { .. })
    ));
    let mut listed: Vec<String> = a
        .list_projects(&me, ListProjects::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.name)
        .collect();
    // Both were created within the same millisecond or so: compare as a set.
    listed.sort();
    assert_eq!(listed, ["default", "forever"]);
    let report = repo
        .gc(GcOptions {
            grace: std::time::Duration::ZERO,
            ..GcOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(report.expired_projects, 1);
    assert!(report.bytes_freed >= 2 << 20, "{report:?}");
    assert_eq!(
        a.read_file(&me, forever.id, p("keep.bin"), None)
            .await
            .unwrap(),
        random_bytes(1 << 20, 2)
    );
    assert!(repo.fsck(true).await.unwrap().is_clean());
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // one workflow, start to end
async fn assets_and_renders_are_stored_once_and_listed_by_filter() {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let me = caller("local", Some("ana"), None);
    let media = random_bytes(2 << 20, 9);
    let logo = a
        .store_asset(
            &me,
            Source::Bytes(media.clone()),
            AssetInput {
                mime: "image/png".into(),
                original_name: "logo.png".into(),
                tags: vec!["brand".into(), "logo".into()],
                scope: None,
            },
        )
        .await
        .unwrap();
    let music = a
        .store_asset(
            &me,
            Source::Bytes(b"ID3 music".to_vec()),
            AssetInput {
                mime: "audio/mpeg".into(),
                original_name: "m.mp3".into(),
                tags: vec!["brand".into()],
                scope: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        logo.content.to_string(),
        blake3::hash(&media).to_hex().to_string()
    );
    assert_eq!(
        a.read_blob(&me, logo.id, Some((10, 5))).await.unwrap(),
        media[10..15]
    );
    let tagged = a
        .list_blobs(
            &me,
            ListBlobs {
                tags: vec!["logo".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tagged.iter().map(|b| b.id).collect::<Vec<_>>(), [logo.id]);
    let audio = a
        .list_blobs(
            &me,
            ListBlobs {
                mime_prefix: Some("audio/".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(audio.iter().map(|b| b.id).collect::<Vec<_>>(), [music.id]);

    // A render of a project whose bytes equal the asset's: stored once.
    let id = a
        .create_project(
            &me,
            CreateProject {
                name: "x".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    a.write_file(&me, id, p("a.txt"), Source::Bytes(b"a".to_vec()), false)
        .await
        .unwrap();
    a.create_checkpoint(&me, id, named("v1")).await.unwrap();
    let before = repo.stats().await.unwrap().raw_bytes;
    let meta = RenderMeta {
        container: "mp4".into(),
        codec: "h264".into(),
        width: 640,
        height: 360,
        duration_s: 2.0,
        ..Default::default()
    };
    let render = a
        .store_render(
            &me,
            id,
            Some("v1"),
            Source::Bytes(media.clone()),
            None,
            meta,
        )
        .await
        .unwrap();
    assert!(
        repo.stats().await.unwrap().raw_bytes - before < 1024,
        "the render's bytes dedup with the asset"
    );
    let renders = a
        .list_blobs(
            &me,
            ListBlobs {
                project: Some(id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        renders.iter().map(|b| b.id).collect::<Vec<_>>(),
        [render.id]
    );
    assert_eq!(a.read_blob(&me, render.id, None).await.unwrap(), media);

    // Deleting the asset keeps the render's bytes alive through gc.
    a.delete_blob(&me, logo.id).await.unwrap();
    repo.gc(GcOptions {
        grace: std::time::Duration::ZERO,
        ..GcOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(a.read_blob(&me, render.id, None).await.unwrap(), media);
    assert!(matches!(
        a.get_blob(&me, logo.id).await,
        Err(Error::NotFound { .. })
    ));
    let _ = Arc::new(NoProgress);
}

#[tokio::test]
async fn deleting_a_checkpoint_while_another_caller_restores_it() {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let ana = caller("local", Some("ana"), Some("s1"));
    let also_ana = caller("local", Some("ana"), Some("s2"));
    let id = a
        .create_project(
            &ana,
            CreateProject {
                name: "x".into(),
                scope: Some(Scope::User),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let mut restored = 0;
    for round in 0..20 {
        let name = format!("r{round}");
        a.write_file(
            &ana,
            id,
            p("f.txt"),
            Source::Bytes(name.clone().into_bytes()),
            false,
        )
        .await
        .unwrap();
        a.create_checkpoint(&ana, id, named(&name)).await.unwrap();
        a.write_file(
            &ana,
            id,
            p("f.txt"),
            Source::Bytes(b"dirty".to_vec()),
            false,
        )
        .await
        .unwrap();
        // Both orders, then a real race between two tasks.
        let r = match round % 3 {
            0 => {
                let r = a.restore_checkpoint(&ana, id, &name).await;
                a.delete_checkpoint(&also_ana, id, &name).await.unwrap();
                r
            }
            1 => {
                a.delete_checkpoint(&also_ana, id, &name).await.unwrap();
                a.restore_checkpoint(&ana, id, &name).await
            }
            _ => {
                let (a1, a2, n1, n2, me, other) = (
                    a.clone(),
                    a.clone(),
                    name.clone(),
                    name.clone(),
                    ana.clone(),
                    also_ana.clone(),
                );
                let restore =
                    tokio::spawn(async move { a1.restore_checkpoint(&me, id, &n1).await });
                let delete =
                    tokio::spawn(async move { a2.delete_checkpoint(&other, id, &n2).await });
                delete.await.unwrap().unwrap();
                restore.await.unwrap()
            }
        };
        match r {
            // The restore won: the working tree is exactly the checkpoint, even though
            // the checkpoint is now deleted (its tree is the base, so it stays alive).
            Ok(_) => {
                restored += 1;
                assert_eq!(
                    a.read_file(&ana, id, p("f.txt"), None).await.unwrap(),
                    name.as_bytes()
                );
            }
            // The delete won: the restore failed cleanly and changed nothing.
            Err(Error::NotFound { .. }) => assert_eq!(
                a.read_file(&ana, id, p("f.txt"), None).await.unwrap(),
                b"dirty"
            ),
            Err(e) => panic!("{e:?}"),
        }
    }
    repo.gc(GcOptions {
        grace: std::time::Duration::ZERO,
        ..GcOptions::default()
    })
    .await
    .unwrap();
    assert!(repo.fsck(true).await.unwrap().is_clean());
    assert!(
        a.read_file(&ana, id, p("f.txt"), None).await.is_ok(),
        "the working tree survives gc"
    );
    assert!(
        restored >= 7,
        "the restore-first rounds restore: {restored}"
    );
}
