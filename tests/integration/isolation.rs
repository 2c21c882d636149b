//! Isolation matrix: 3 users × 2 sessions × 2 sandboxes, every scope, every operation.
//! Callers who must see a project or blob can use it; all others get the same
//! not-found error as for an id that does not exist.

use reelstore::{
    Artifacts, AssetInput, Caller, CreateCheckpoint, CreateProject, Error, ItemKind, ListBlobs,
    ListProjects, ProjectId, RenderMeta, RestoreOptions, Scope, Source,
};

use crate::artifacts::{caller, p, repo};

fn everyone() -> Vec<Caller> {
    let mut out = Vec::new();
    for sandbox in ["sb0", "sb1"] {
        for user in ["u0", "u1", "u2"] {
            for session in ["s0", "s1"] {
                out.push(caller(sandbox, Some(user), Some(session)));
            }
        }
        out.push(caller(sandbox, None, None));
    }
    out
}

fn may_see(scope: Scope, owner: &Caller, c: &Caller) -> bool {
    c.sandbox == owner.sandbox
        && match scope {
            Scope::Sandbox => true,
            Scope::User => c.user == owner.user,
            Scope::Session => c.user == owner.user && c.session == owner.session,
        }
}

/// The call failed as if the thing did not exist: `NotFound` of that kind.
fn hidden<T: std::fmt::Debug>(r: reelstore::Result<T>, what: ItemKind) {
    match r {
        Err(Error::NotFound { kind, .. }) => assert_eq!(kind, what),
        other => panic!("expected not found, got {other:?}"),
    }
}

async fn project_for(a: &Artifacts, owner: &Caller, scope: Scope) -> ProjectId {
    let id = a
        .create_project(
            owner,
            CreateProject {
                name: format!("{scope:?}"),
                scope: Some(scope),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    a.write_file(
        owner,
        id,
        p("src/Root.tsx"),
        Source::Bytes(b"secret".to_vec()),
        false,
    )
    .await
    .unwrap();
    a.create_checkpoint(
        owner,
        id,
        CreateCheckpoint {
            name: "v1".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn every_operation_respects_every_scope() {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let owner = caller("sb0", Some("u0"), Some("s0"));
    for scope in [Scope::Session, Scope::User, Scope::Sandbox] {
        let id = project_for(&a, &owner, scope).await;
        for c in everyone() {
            let visible = may_see(scope, &owner, &c);
            let listed = a
                .list_projects(&c, ListProjects::default())
                .await
                .unwrap()
                .items
                .iter()
                .any(|x| x.id == id);
            assert_eq!(listed, visible, "{scope:?} listed to {c:?}");
            if visible {
                assert!(a.get_project(&c, id).await.is_ok());
                assert_eq!(
                    a.read_file(&c, id, p("src/Root.tsx"), None).await.unwrap(),
                    b"secret"
                );
                assert_eq!(a.list_files(&c, id, None, true).await.unwrap().len(), 2);
                assert_eq!(a.list_checkpoints(&c, id).await.unwrap().len(), 1);
                continue;
            }
            let what = ItemKind::Project;
            hidden(a.get_project(&c, id).await, what);
            hidden(a.read_file(&c, id, p("src/Root.tsx"), None).await, what);
            hidden(a.list_files(&c, id, None, false).await, what);
            hidden(
                a.write_file(&c, id, p("x.txt"), Source::Bytes(b"x".to_vec()), false)
                    .await,
                what,
            );
            hidden(
                a.write_file(&c, id, p("big.bin"), Source::Bytes(vec![7; 1 << 20]), false)
                    .await,
                what,
            );
            hidden(a.delete_file(&c, id, p("src/Root.tsx")).await, what);
            hidden(a.move_file(&c, id, p("src"), p("moved")).await, what);
            hidden(a.mkdir(&c, id, p("d")).await, what);
            hidden(
                a.create_checkpoint(
                    &c,
                    id,
                    CreateCheckpoint {
                        name: "evil".into(),
                        ..Default::default()
                    },
                )
                .await,
                what,
            );
            hidden(a.list_checkpoints(&c, id).await, what);
            hidden(a.restore_checkpoint(&c, id, "v1").await, what);
            hidden(a.delete_checkpoint(&c, id, "v1").await, what);
            hidden(a.diff(&c, id, "v1", None).await, what);
            hidden(a.log(&c, id, 10).await, what);
            hidden(
                a.update_project(&c, id, reelstore::UpdateProject::default())
                    .await,
                what,
            );
            hidden(
                a.store_render(
                    &c,
                    id,
                    None,
                    Source::Bytes(b"v".to_vec()),
                    None,
                    RenderMeta::default(),
                )
                .await,
                what,
            );
            hidden(
                a.export(
                    &c,
                    id,
                    Some("v1"),
                    tempfile::tempdir().unwrap().path().to_path_buf(),
                    RestoreOptions::default(),
                )
                .await,
                what,
            );
            hidden(a.delete_project(&c, id).await, what);
        }
        // Nothing a stranger tried changed anything.
        assert_eq!(
            a.read_file(&owner, id, p("src/Root.tsx"), None)
                .await
                .unwrap(),
            b"secret"
        );
        assert_eq!(a.list_checkpoints(&owner, id).await.unwrap().len(), 1);
        assert_eq!(a.list_files(&owner, id, None, true).await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn assets_and_renders_follow_their_scope() {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let owner = caller("sb0", Some("u0"), Some("s0"));
    for scope in [Scope::Session, Scope::User, Scope::Sandbox] {
        let asset = a
            .store_asset(
                &owner,
                Source::Bytes(b"logo".to_vec()),
                AssetInput {
                    mime: "image/png".into(),
                    original_name: "l.png".into(),
                    tags: vec![],
                    scope: Some(scope),
                },
            )
            .await
            .unwrap();
        let project = project_for(&a, &owner, scope).await;
        let render = a
            .store_render(
                &owner,
                project,
                Some("v1"),
                Source::Bytes(b"video".to_vec()),
                None,
                RenderMeta::default(),
            )
            .await
            .unwrap();
        for c in everyone() {
            let visible = may_see(scope, &owner, &c);
            let listed: Vec<_> = a
                .list_blobs(&c, ListBlobs::default())
                .await
                .unwrap()
                .into_iter()
                .map(|b| b.id)
                .collect();
            assert_eq!(
                listed.contains(&asset.id),
                visible,
                "{scope:?} asset listed to {c:?}"
            );
            assert_eq!(
                listed.contains(&render.id),
                visible,
                "{scope:?} render listed to {c:?}"
            );
            for id in [asset.id, render.id] {
                if visible {
                    assert!(a.read_blob(&c, id, None).await.is_ok());
                } else {
                    hidden(a.get_blob(&c, id).await, ItemKind::Record);
                    hidden(a.read_blob(&c, id, None).await, ItemKind::Record);
                    hidden(a.delete_blob(&c, id).await, ItemKind::Record);
                }
            }
        }
        assert_eq!(a.read_blob(&owner, asset.id, None).await.unwrap(), b"logo");
    }
}

#[tokio::test]
async fn scopes_need_the_identity_they_are_checked_against() {
    let (_d, repo) = repo().await;
    let a = repo.artifacts();
    let anonymous = caller("sb0", None, None);
    let user_only = caller("sb0", Some("u0"), None);
    for (c, scope) in [
        (&anonymous, Scope::User),
        (&anonymous, Scope::Session),
        (&user_only, Scope::Session),
    ] {
        let err = a
            .create_project(
                c,
                CreateProject {
                    name: "x".into(),
                    scope: Some(scope),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    }
}
