//! Blob records and gc: what gc does with a record it cannot read.

use std::time::Duration;

use crate::GcOptions;
use crate::artifact::{AssetInput, Caller, Source};

/// A blob record this version cannot read (here: one a newer version wrote, with a
/// kind this one does not know) stops gc: skipping it would leave the bytes only it
/// holds unmarked, and gc would delete them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_stops_at_a_blob_record_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let repo = crate::Repository::init(dir.path().join("repo"), crate::RepoConfig::default())
        .await
        .unwrap();
    let a = repo.artifacts();
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let info = a
        .store_asset(
            &Caller::new("local", Some("ana"), None).unwrap(),
            Source::Bytes(bytes.clone()),
            AssetInput {
                mime: "image/png".into(),
                original_name: "big.png".into(),
                ..AssetInput::default()
            },
        )
        .await
        .unwrap();
    let engine = a.engine().clone();
    let record = super::shared_records::load(&engine, &info.id)
        .unwrap()
        .unwrap();
    let newer = String::from_utf8(record)
        .unwrap()
        .replace("\"kind\":\"asset\"", "\"kind\":\"clip\"");
    assert!(newer.contains("\"clip\""), "{newer}");
    engine
        .index
        .artifact_write(|tx| tx.put_blob(&info.id.0, newer.as_bytes()))
        .unwrap();
    let gc = GcOptions {
        grace: Duration::ZERO,
        ..GcOptions::default()
    };
    assert!(
        repo.gc(gc).await.is_err(),
        "gc ran past an unreadable record"
    );
    assert_eq!(engine.read_file(&info.content).unwrap(), bytes);
}
