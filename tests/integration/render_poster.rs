//! Poster frames: taken with ffmpeg when a render is stored, kept with the render's
//! record (also when the record is a second user's memo copy), read by the owner only.

use reelstore::{BlobKind, Caller, CreateProject, GcOptions, ProjectPath, Source};

use crate::render::{env, sources};

fn poster_of(kind: &BlobKind) -> reelstore::Poster {
    let BlobKind::Render { meta, .. } = kind else {
        panic!("not a render")
    };
    meta.poster.expect("a poster frame")
}

#[tokio::test]
async fn a_render_keeps_its_poster_frame_through_gc() {
    let e = env().await;
    let a = e.repo.artifacts();
    let mine = e.project(&sources()).await;
    let done = e
        .renders
        .render(&e.me, e.request(mine, serde_json::json!({})), |_| {})
        .await
        .unwrap();
    let render = done.render.unwrap();
    let poster = poster_of(&render.kind);
    let jpeg = a.read_poster(&e.me, render.id).await.unwrap();
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert_eq!(jpeg.len() as u64, poster.size);
    assert_eq!(
        poster.content.to_hex(),
        blake3::hash(&jpeg).to_hex().as_str()
    );

    // Bob renders the same inputs: a memo hit whose record carries the same poster.
    let bob = Caller::new("local", Some("bob"), None).unwrap();
    let theirs = a
        .create_project(
            &bob,
            CreateProject {
                name: "copy".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for (path, content) in sources() {
        let path = ProjectPath::parse(path).unwrap();
        let bytes = Source::Bytes(content.into());
        a.write_file(&bob, theirs.id, path, bytes, false)
            .await
            .unwrap();
    }
    let mut req = e.request(theirs.id, serde_json::json!({}));
    req.settings = done.settings.clone();
    let copy = e.renders.render(&bob, req, |_| {}).await.unwrap();
    assert!(copy.memo_hit);
    let copy = copy.render.unwrap();
    assert_eq!(poster_of(&copy.kind), poster);
    assert!(
        a.read_poster(&bob, render.id).await.is_err(),
        "ana's render is not bob's to read"
    );

    // Ana's record goes and gc runs: bob's record still holds the poster's bytes.
    a.delete_blob(&e.me, render.id).await.unwrap();
    let gc = GcOptions {
        grace: std::time::Duration::ZERO,
        ..GcOptions::default()
    };
    e.repo.gc(gc).await.unwrap();
    assert_eq!(a.read_poster(&bob, copy.id).await.unwrap(), jpeg);
    assert!(e.repo.fsck(true).await.unwrap().is_clean());
}
