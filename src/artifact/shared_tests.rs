//! Assets, renders and the render memo across "machines": repositories with their own
//! in-memory indexes on one shared (fault-injecting, in-memory) store.

use std::sync::Arc;
use std::time::Duration;

use crate::artifact::{AssetInput, Caller, CreateProject, ListBlobs, ProjectPath, Source};
use crate::engine::progress::NoProgress;
use crate::error::Error;
use crate::store::faults::{FaultStore, machine};
use crate::{CheckpointOptions, GcOptions};

fn ana() -> Caller {
    Caller::new("team", Some("ana"), None).unwrap()
}

fn asset(name: &str) -> AssetInput {
    AssetInput {
        mime: "image/png".into(),
        original_name: name.into(),
        ..AssetInput::default()
    }
}

/// An asset uploaded through one machine is listed and read through another; deleted
/// there, it is gone on the first too (read, get and listing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asset_stored_on_one_machine_is_read_and_deleted_on_another() {
    let store = Arc::new(FaultStore::new());
    let (a, b) = (machine(&store).artifacts(), machine(&store).artifacts());
    let bytes = b"\x89PNG a frame".to_vec();
    let info = a
        .store_asset(&ana(), Source::Bytes(bytes.clone()), asset("frame.png"))
        .await
        .unwrap();

    assert_eq!(b.get_blob(&ana(), info.id).await.unwrap(), info);
    assert_eq!(b.read_blob(&ana(), info.id, None).await.unwrap(), bytes);
    let listed = b.list_blobs(&ana(), ListBlobs::default()).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&info));
    let bob = Caller::new("team", Some("bob"), None).unwrap();
    assert!(matches!(
        b.get_blob(&bob, info.id).await,
        Err(Error::NotFound { .. })
    ));

    b.delete_blob(&ana(), info.id).await.unwrap();
    for err in [
        a.get_blob(&ana(), info.id).await.map(drop),
        a.read_blob(&ana(), info.id, None).await.map(drop),
    ] {
        assert!(matches!(err, Err(Error::NotFound { .. })), "{err:?}");
    }
    let listed = a.list_blobs(&ana(), ListBlobs::default()).await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}

/// Listing on a machine that missed a deletion (it held the row) drops the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_drops_what_another_machine_deleted() {
    let store = Arc::new(FaultStore::new());
    let (a, b) = (machine(&store).artifacts(), machine(&store).artifacts());
    let keep = a
        .store_asset(&ana(), Source::Bytes(b"keep".to_vec()), asset("keep.png"))
        .await
        .unwrap();
    let drop = a
        .store_asset(&ana(), Source::Bytes(b"drop".to_vec()), asset("drop.png"))
        .await
        .unwrap();
    assert_eq!(
        b.list_blobs(&ana(), ListBlobs::default())
            .await
            .unwrap()
            .len(),
        2
    );
    a.delete_blob(&ana(), drop.id).await.unwrap();
    let listed = b.list_blobs(&ana(), ListBlobs::default()).await.unwrap();
    assert_eq!(listed, [keep]);
}

/// A render memoized on one machine serves the same render key on another: the
/// record (and its bytes) come from the bucket, nothing is rendered again.
#[cfg(feature = "render")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_memoized_on_one_machine_serves_another() {
    use crate::artifact::renders;
    use crate::hash::Hash;

    let store = Arc::new(FaultStore::new());
    let (a, b) = (machine(&store).artifacts(), machine(&store).artifacts());
    let req = CreateProject {
        name: "Intro".into(),
        ..CreateProject::default()
    };
    let project = a.create_project(&ana(), req).await.unwrap().id;
    let key = Hash::of(b"tree, settings, renderer");
    let video = b"not really an mp4".to_vec();
    let ea = a.engine().clone();
    let stored = tokio::task::spawn_blocking(move || {
        let meta = crate::artifact::RenderMeta::default();
        let render = renders::Finished {
            video: &mut &video[..],
            poster: None,
            lockfile: None,
            meta,
        };
        renders::store(&ea, &ana(), &project, None, render, &key)
    })
    .await
    .unwrap()
    .unwrap();

    let eb = b.engine().clone();
    let found =
        tokio::task::spawn_blocking(move || renders::memo_get(&eb, &ana(), &project, None, &key))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(found.as_ref(), Some(&stored));
    let bytes = b.read_blob(&ana(), stored.id, None).await.unwrap();
    assert_eq!(bytes, b"not really an mp4");
}

/// GC on a machine whose index knows the packs but not the projects and assets (it
/// never asked for them; a rebuilt index is the same) keeps what the bucket's records
/// hold: the records are the roots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_keeps_what_only_the_buckets_records_hold() {
    let store = Arc::new(FaultStore::new());
    let a = machine(&store);
    let req = CreateProject {
        name: "Intro".into(),
        ..CreateProject::default()
    };
    let arts = a.artifacts();
    let project = arts.create_project(&ana(), req).await.unwrap().id;
    let path = ProjectPath::parse("src/Intro.tsx").unwrap();
    let tsx = b"export const Intro = () => null;".to_vec();
    arts.write_file(
        &ana(),
        project,
        path.clone(),
        Source::Bytes(tsx.clone()),
        false,
    )
    .await
    .unwrap();
    let png = b"\x89PNG only an asset holds this".to_vec();
    let info = arts
        .store_asset(&ana(), Source::Bytes(png.clone()), asset("logo.png"))
        .await
        .unwrap();
    // A checkpoint of the engine's own, so that the other machine's sync indexes
    // every pack in the bucket.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "notes").unwrap();
    a.checkpoint(
        dir.path(),
        CheckpointOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();

    let c = machine(&store);
    let opts = GcOptions {
        grace: Duration::ZERO,
        ..GcOptions::default()
    };
    let report = c.gc(opts).await.unwrap();
    assert!(report.packs_deleted.is_empty(), "{report:?}");

    let fresh = machine(&store).artifacts();
    assert_eq!(fresh.read_blob(&ana(), info.id, None).await.unwrap(), png);
    let read = fresh.read_file(&ana(), project, path, None).await.unwrap();
    assert_eq!(read, tsx);
}
