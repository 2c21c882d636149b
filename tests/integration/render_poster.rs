//! Poster frames: taken with ffmpeg when a render is stored, kept with the render's
//! record (also when the record is a second user's memo copy), read by the owner only.
//! And the install's output as progress, before the renderer starts.

use reelstore::{BlobKind, Caller, CreateProject, GcOptions, ProjectPath, Source};

use crate::render::{env, sources};

fn poster_of(kind: &BlobKind) -> reelstore::Attachment {
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

#[tokio::test]
async fn install_progress_arrives_before_the_renderer_starts() {
    let e = env().await;
    let id = e.project(&sources()).await;
    let seen = std::sync::Mutex::new(Vec::new());
    let done = e
        .renders
        .render(&e.me, e.request(id, serde_json::json!({})), |s| {
            seen.lock().unwrap().push(s.clone());
        })
        .await
        .unwrap();
    assert!(done.installed);
    let seen = seen.into_inner().unwrap();
    let lines: Vec<(usize, u64, String)> = seen
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, s.progress.output_lines?, s.progress.message.clone()?)))
        .collect();
    // The callback sees the latest status, so it may skip lines; it sees some.
    let said = [
        "npm http fetch GET 200 https://registry.npmjs.org/remotion 67ms (cache miss)",
        "npm http fetch GET 200 https://registry.npmjs.org/@remotion%2fcli 41ms (cache miss)",
        "added 2 packages in 1s",
    ];
    assert!(
        !lines.is_empty()
            && lines
                .iter()
                .all(|(_, n, m)| *n <= 3 && said.contains(&m.as_str())),
        "{lines:?}"
    );
    let rendering = seen
        .iter()
        .position(|s| s.stage >= reelstore::render::Stage::Bundling)
        .unwrap();
    assert!(lines.iter().all(|(i, ..)| *i < rendering), "{lines:?}");
    let overall: Vec<f64> = seen.iter().map(|s| s.progress.overall()).collect();
    assert!(overall.windows(2).all(|w| w[0] <= w[1]), "{overall:?}");
    // Each new line moves the bar (a status may repeat when something else changed).
    let mut installing: Vec<(u64, f64)> = lines.iter().map(|(i, n, _)| (*n, overall[*i])).collect();
    installing.dedup_by_key(|(n, _)| *n);
    assert!(
        installing.windows(2).all(|w| w[0].1 < w[1].1)
            && !installing.is_empty()
            && installing[0].1 > 0.0,
        "{installing:?}"
    );
    assert!(
        seen[lines[0].0]
            .progress
            .describe()
            .starts_with("installing: ")
    );
}
