//! Render jobs across "machines": repositories with their own in-memory indexes and
//! render services on one shared (in-memory) store, the renderer a real process (the
//! CI's fake Remotion, which encodes with ffmpeg).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::progress::Stage;
use super::{CommandTemplate, JobStatus, RenderConfig, RenderRequest, RenderSettings, Renders};
use crate::Repository;
use crate::artifact::{Caller, CreateProject, ProjectId, ProjectPath, Source};
use crate::store::faults::{FaultStore, machine};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/render")
        .join(name)
}

fn ana() -> Caller {
    Caller::new("team", Some("ana"), None).unwrap()
}

/// A render service on `repo` with the fake renderer, its cache under `dir`.
async fn service(repo: &Repository, dir: &Path) -> Renders {
    let mut config = RenderConfig::new(dir.join("cache"));
    let command = format!(
        "sh {} {{output}} {{props}} {{composition}}",
        fixture("fake-remotion.sh").display()
    );
    config.renderer = Arc::new(CommandTemplate::parse(&command, None, "1").unwrap());
    config.install_command = vec![
        "sh".into(),
        fixture("fake-install.sh").display().to_string(),
        dir.join("installs").display().to_string(),
    ];
    repo.renders(config).await.unwrap()
}

async fn project(repo: &Repository) -> ProjectId {
    let arts = repo.artifacts();
    let req = CreateProject {
        name: "clip".into(),
        ..CreateProject::default()
    };
    let id = arts.create_project(&ana(), req).await.unwrap().id;
    let files = [
        (
            "package.json",
            r#"{"name":"clip","dependencies":{"remotion":"4.0.529"}}"#,
        ),
        ("src/index.ts", "import {registerRoot} from 'remotion';\n"),
    ];
    for (path, text) in files {
        let path = ProjectPath::parse(path).unwrap();
        let bytes = Source::Bytes(text.as_bytes().to_vec());
        arts.write_file(&ana(), id, path, bytes, false)
            .await
            .unwrap();
    }
    id
}

fn request(project: ProjectId, props: serde_json::Value) -> RenderRequest {
    RenderRequest {
        project,
        checkpoint: None,
        settings: RenderSettings {
            composition: Some("Main".into()),
            props: Some(props),
            ..RenderSettings::default()
        },
    }
}

/// Asks `renders` for the job until `done` holds (panics after 60 s).
async fn until(
    renders: &Renders,
    id: crate::artifact::RecordId,
    done: impl Fn(&JobStatus) -> bool,
) -> JobStatus {
    let start = Instant::now();
    loop {
        let status = renders.status(&ana(), id).await.unwrap();
        if done(&status) {
            return status;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two machines on one store, each with its render service, and a project of ana's.
struct Two {
    _dir: tempfile::TempDir,
    b: Repository,
    ra: Renders,
    rb: Renders,
    project: ProjectId,
}

async fn two_machines() -> Two {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FaultStore::new());
    let (a, b) = (machine(&store), machine(&store));
    let ra = service(&a, &dir.path().join("a")).await;
    let rb = service(&b, &dir.path().join("b")).await;
    let project = project(&a).await;
    Two {
        _dir: dir,
        b,
        ra,
        rb,
        project,
    }
}

/// A job A runs is seen from B while it runs and when it is done, with its render;
/// B lists it; another user on B cannot see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_run_on_one_machine_is_seen_on_another() {
    let Two {
        b,
        ra,
        rb,
        project: id,
        ..
    } = two_machines().await;
    let job = ra
        .submit(&ana(), request(id, serde_json::json!({})))
        .await
        .unwrap();

    let seen = until(&rb, job.id, |_| true).await;
    assert_eq!((seen.id, seen.project), (job.id, id));
    let done = until(&rb, job.id, |s| s.stage.is_final()).await;
    assert_eq!(done.stage, Stage::Done, "{done:?}");
    let render = done.render.expect("the render");
    let video = b
        .artifacts()
        .read_blob(&ana(), render.id, None)
        .await
        .unwrap();
    assert!(video.len() > 100, "a video: {} bytes", video.len());
    let listed = rb.list(&ana()).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![job.id]
    );
    let bob = Caller::new("team", Some("bob"), None).unwrap();
    assert!(rb.status(&bob, job.id).await.is_err());
    assert!(rb.list(&bob).await.unwrap().is_empty());
}

/// B cancels a job A runs: A kills its renderer within the poll interval and the job
/// ends cancelled, as both machines see it. (Without the request through the bucket, B
/// only reports the status and the job runs on.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_run_on_one_machine_is_cancelled_from_another() {
    let Two {
        ra,
        rb,
        project: id,
        ..
    } = two_machines().await;
    let sleep = serde_json::json!({"mode": "sleep"});
    let job = ra.submit(&ana(), request(id, sleep)).await.unwrap();
    until(&rb, job.id, |s| s.stage == Stage::Rendering).await;

    let asked = Instant::now();
    rb.cancel(&ana(), job.id).await.unwrap();
    let ended = until(&ra, job.id, |s| s.stage.is_final()).await;
    assert_eq!(ended.stage, Stage::Cancelled, "{ended:?}");
    assert!(
        asked.elapsed() < super::shared_jobs::CANCEL_POLL * 5,
        "{:?}",
        asked.elapsed()
    );
    let seen = until(&rb, job.id, |s| s.stage.is_final()).await;
    assert_eq!(seen.stage, Stage::Cancelled);
}
