//! The render pipeline with a real renderer process: `tests/fixtures/render/
//! fake-remotion.sh` prints Remotion 4.0.529's progress lines and encodes a real video
//! with Debian's ffmpeg; `fake-install.sh` stands in for `npm install`. Remotion itself
//! is exercised by the opt-in `remotion_e2e` test.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reelstore::render::{
    CommandTemplate, JobStatus, RenderConfig, RenderRequest, RenderSettings, Renders, Stage,
};
use reelstore::{
    BlobKind, Caller, CreateCheckpoint, CreateProject, Error, ProjectId, ProjectPath, Rational,
    RepoConfig, Repository, Source,
};

use crate::util::tempdir;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/render")
        .join(name)
}

pub const PACKAGE_JSON: &str = r#"{"name":"clip","private":true,"dependencies":{"@remotion/cli":"4.0.529","remotion":"4.0.529"}}"#;

/// The fake renderer's command template.
pub fn fake_command() -> String {
    format!(
        "sh {} {{output}} {{props}} {{composition}}",
        fixture("fake-remotion.sh").display()
    )
}

/// The fake install command, counting runs in `counter`.
pub fn fake_install(counter: &Path) -> Vec<String> {
    vec![
        "sh".into(),
        fixture("fake-install.sh").display().to_string(),
        counter.display().to_string(),
    ]
}

pub(crate) struct Env {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) repo: Repository,
    pub(crate) renders: Renders,
    pub(crate) me: Caller,
}

impl Env {
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn installs(&self) -> usize {
        std::fs::read_to_string(self.path("installs")).map_or(0, |s| s.lines().count())
    }

    /// Lines in the pid file: one per renderer run (plus one per background child).
    pub(crate) fn runs(&self) -> usize {
        std::fs::read_to_string(self.path("pids")).map_or(0, |s| s.lines().count())
    }

    pub(crate) async fn project(&self, files: &[(&str, &str)]) -> ProjectId {
        let a = self.repo.artifacts();
        let p = a
            .create_project(
                &self.me,
                CreateProject {
                    name: "clip".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for (path, content) in files {
            a.write_file(
                &self.me,
                p.id,
                ProjectPath::parse(path).unwrap(),
                Source::Bytes(content.as_bytes().to_vec()),
                false,
            )
            .await
            .unwrap();
        }
        p.id
    }

    pub(crate) fn request(&self, project: ProjectId, props: serde_json::Value) -> RenderRequest {
        let mut props = props;
        props["pidfile"] = self.path("pids").display().to_string().into();
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
}

async fn env_with(tweak: impl FnOnce(&mut RenderConfig)) -> Env {
    let dir = tempdir();
    let repo = Repository::init(dir.path().join("repo"), RepoConfig::default())
        .await
        .unwrap();
    let mut config = RenderConfig::new(dir.path().join("cache"));
    config.renderer = Arc::new(CommandTemplate::parse(&fake_command(), None, "1").unwrap());
    config.install_command = fake_install(&dir.path().join("installs"));
    tweak(&mut config);
    let renders = repo.renders(config).await.unwrap();
    let me = Caller::new("local", Some("ana"), None).unwrap();
    Env {
        dir,
        repo,
        renders,
        me,
    }
}

pub(crate) async fn env() -> Env {
    env_with(|_| {}).await
}

pub(crate) fn sources() -> Vec<(&'static str, &'static str)> {
    vec![
        ("package.json", PACKAGE_JSON),
        ("src/index.ts", "import {registerRoot} from 'remotion';\n"),
        ("src/Root.tsx", "export const Root = () => null;\n"),
        ("public/data.json", "{\"n\": 1}\n"),
    ]
}

/// Renders, recording every status seen.
async fn render_seen(e: &Env, req: RenderRequest) -> (Result<JobStatus, Error>, Vec<JobStatus>) {
    let seen = Mutex::new(Vec::new());
    let r = e
        .renders
        .render(&e.me, req, |s| seen.lock().unwrap().push(s.clone()))
        .await;
    (r, seen.into_inner().unwrap())
}

#[tokio::test]
async fn a_render_is_stored_probed_and_memoized() {
    let e = env().await;
    let id = e.project(&sources()).await;
    let copy = e.path("copy.mp4");
    let props = serde_json::json!({"color": "red", "copy_to": copy.display().to_string()});

    let (r, seen) = render_seen(&e, e.request(id, props.clone())).await;
    let done = r.unwrap();
    assert!(!done.memo_hit);
    assert!(done.installed, "the first render installs node_modules");
    // Progress moves forward through the stages, in order.
    let stages: Vec<Stage> = seen.iter().map(|s| s.stage).collect();
    assert!(stages.windows(2).all(|w| w[0] <= w[1]), "{stages:?}");
    for want in [Stage::Installing, Stage::Rendering, Stage::Done] {
        assert!(stages.contains(&want), "{want} missing from {stages:?}");
    }
    let overall: Vec<f64> = seen.iter().map(|s| s.progress.overall()).collect();
    assert!(overall.windows(2).all(|w| w[0] <= w[1]), "{overall:?}");

    // The stored render is the renderer's output, byte for byte, with ffprobe's view.
    let render = done.render.clone().unwrap();
    let BlobKind::Render {
        meta,
        project,
        checkpoint,
    } = &render.kind
    else {
        panic!("not a render")
    };
    assert_eq!((*project, *checkpoint), (id, None));
    assert_eq!(
        (meta.container.as_str(), meta.codec.as_str()),
        ("mp4", "h264")
    );
    assert_eq!((meta.width, meta.height), (64, 36));
    assert_eq!(meta.fps, Some(Rational { num: 30, den: 1 }));
    assert_eq!(meta.frames, Some(30));
    assert!((meta.duration_s - 1.0).abs() < 0.05, "{}", meta.duration_s);
    assert_eq!(meta.settings["key"], done.key.to_hex());
    let stored = e
        .repo
        .artifacts()
        .read_blob(&e.me, render.id, None)
        .await
        .unwrap();
    assert_eq!(stored, std::fs::read(&copy).unwrap());
    assert_eq!(
        render.content.to_hex(),
        blake3::hash(&stored).to_hex().as_str()
    );
    assert_eq!(e.runs(), 1);

    // Same tree, same settings: the memo answers, nothing runs.
    let (r, _) = render_seen(&e, e.request(id, props.clone())).await;
    let again = r.unwrap();
    assert!(again.memo_hit);
    assert_eq!(again.render.unwrap().id, render.id);
    assert_eq!((e.runs(), e.installs()), (1, 1));

    // Other settings are another render; node_modules are reused.
    let mut blue = props.clone();
    blue["color"] = "blue".into();
    let (r, _) = render_seen(&e, e.request(id, blue)).await;
    let other = r.unwrap();
    assert!(!other.memo_hit && !other.installed);
    assert_ne!(other.key, done.key);
    assert_eq!((e.runs(), e.installs()), (2, 1));

    // The job is persisted and queryable.
    let s = e.renders.status(&e.me, done.id).await.unwrap();
    assert_eq!(s.stage, Stage::Done);
    assert_eq!(e.renders.list(&e.me).await.unwrap().len(), 3);
}

#[tokio::test]
async fn checkpoints_render_incrementally_into_a_fixed_work_dir() {
    let e = env().await;
    let id = e.project(&sources()).await;
    let a = e.repo.artifacts();
    let v1 = a
        .create_checkpoint(
            &e.me,
            id,
            CreateCheckpoint {
                name: "v1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut req = e.request(id, serde_json::json!({}));
    req.checkpoint = Some("v1".into());
    let first = e.renders.render(&e.me, req.clone(), |_| {}).await.unwrap();
    let BlobKind::Render { checkpoint, .. } = first.render.unwrap().kind else {
        panic!()
    };
    assert_eq!(checkpoint, Some(v1.id));

    let work = e.renders.workdir(id);
    let package = work.join("package.json");
    let before = std::fs::metadata(&package).unwrap().modified().unwrap();
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&package).unwrap());
    assert!(
        std::fs::read_link(work.join("node_modules")).is_ok(),
        "node_modules is a link"
    );

    // Edit one file, delete another, checkpoint, render: only the difference is written.
    a.write_file(
        &e.me,
        id,
        ProjectPath::parse("src/Root.tsx").unwrap(),
        Source::Bytes(b"export const Root = () => 1;\n".to_vec()),
        false,
    )
    .await
    .unwrap();
    a.delete_file(&e.me, id, ProjectPath::parse("public/data.json").unwrap())
        .await
        .unwrap();
    a.create_checkpoint(
        &e.me,
        id,
        CreateCheckpoint {
            name: "v2".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    req.checkpoint = Some("v2".into());
    let second = e.renders.render(&e.me, req, |_| {}).await.unwrap();
    assert!(!second.memo_hit);
    assert_ne!(second.tree, first.tree);
    assert_eq!(
        std::fs::read_to_string(work.join("src/Root.tsx")).unwrap(),
        "export const Root = () => 1;\n"
    );
    assert!(
        !work.join("public/data.json").exists(),
        "deleted files leave the work dir"
    );
    let meta = std::fs::metadata(&package).unwrap();
    assert_eq!(
        meta.modified().unwrap(),
        before,
        "unchanged files are not rewritten"
    );
    assert_eq!(std::os::unix::fs::MetadataExt::ino(&meta), inode);
    assert_eq!(e.installs(), 1);
}

#[tokio::test]
async fn one_install_serves_every_project_with_the_same_lockfile() {
    let e = env().await;
    let mut files = sources();
    files.push(("package-lock.json", "{\"lockfileVersion\": 3}\n"));
    let a = e.project(&files).await;
    // Another project (other sources, so no memo hit) with the same dependencies.
    let mut other = files.clone();
    other.push(("src/Title.tsx", "export const Title = () => null;\n"));
    let b = e.project(&other).await;
    for id in [a, b] {
        e.renders
            .render(&e.me, e.request(id, serde_json::json!({})), |_| {})
            .await
            .unwrap();
    }
    assert_eq!(
        e.installs(),
        1,
        "the second project reuses the first install"
    );
    assert_eq!(
        std::fs::read_link(e.renders.workdir(a).join("node_modules")).unwrap(),
        std::fs::read_link(e.renders.workdir(b).join("node_modules")).unwrap()
    );
    // Another lockfile is another install.
    files.retain(|(p, _)| *p != "package-lock.json");
    files.push(("package-lock.json", "{\"lockfileVersion\": 3, \"x\": 1}\n"));
    let c = e.project(&files).await;
    e.renders
        .render(&e.me, e.request(c, serde_json::json!({})), |_| {})
        .await
        .unwrap();
    assert_eq!(e.installs(), 2);
}

/// Whether a process is gone (or a zombie waiting for init to reap it).
pub(crate) fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

pub(crate) fn pids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub(crate) async fn wait_for_pids(path: &Path, n: usize) {
    for _ in 0..600 {
        if pids(path).len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the renderer never started its child");
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let e = env_with(|c| c.timeout = Some(Duration::from_secs(3))).await;
    let id = e.project(&sources()).await;
    let err = e
        .renders
        .render(
            &e.me,
            e.request(id, serde_json::json!({"mode": "sleep"})),
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    let all = pids(&e.path("pids"));
    assert_eq!(all.len(), 2, "the script and its background child: {all:?}");
    for pid in &all {
        assert!(gone(pid), "process {pid} outlived the timeout");
    }
}

#[tokio::test]
async fn cancel_kills_the_whole_process_group() {
    let e = env().await;
    let id = e.project(&sources()).await;
    let job = e
        .renders
        .submit(&e.me, e.request(id, serde_json::json!({"mode": "sleep"})))
        .await
        .unwrap();
    wait_for_pids(&e.path("pids"), 2).await;
    let running = e.renders.status(&e.me, job.id).await.unwrap();
    assert_eq!(running.stage, Stage::Rendering);
    assert_eq!(running.progress.done, Some(9));
    // Another user cannot see or cancel it.
    let eve = Caller::new("local", Some("eve"), None).unwrap();
    assert!(matches!(
        e.renders.cancel(&eve, job.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        e.renders.status(&eve, job.id).await,
        Err(Error::NotFound { .. })
    ));

    e.renders.cancel(&e.me, job.id).await.unwrap();
    let end = e.renders.wait(&e.me, job.id, |_| {}).await.unwrap();
    assert_eq!(end.stage, Stage::Cancelled);
    for pid in pids(&e.path("pids")) {
        assert!(gone(&pid), "process {pid} outlived the cancel");
    }
    // Cancelling again changes nothing.
    assert_eq!(
        e.renders.cancel(&e.me, job.id).await.unwrap().stage,
        Stage::Cancelled
    );
}

#[tokio::test]
async fn failures_come_back_as_one_clear_message() {
    let e = env().await;
    let id = e.project(&sources()).await;
    match e
        .renders
        .render(
            &e.me,
            e.request(id, serde_json::json!({"mode": "fail"})),
            |_| {},
        )
        .await
    {
        Err(Error::Render { message, details }) => {
            assert_eq!(message, "boom at frame 12 (frame 12, src/Root.tsx:8)");
            assert!(details.contains("throw new Error(\"boom\")"), "{details}");
        }
        other => panic!("expected a render failure, got {other:?}"),
    }
    let mut req = e.request(id, serde_json::json!({}));
    req.settings.composition = Some("Nope".into());
    let err = e.renders.render(&e.me, req, |_| {}).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("Could not find composition with ID Nope. Available compositions: Main"),
        "{err}"
    );
    // The failed job is recorded with its reason.
    let jobs = e.renders.list(&e.me).await.unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.stage == Stage::Failed && j.error.is_some())
    );

    // A missing entry file is refused before the renderer runs.
    let runs = e.runs();
    let no_entry = e.project(&[("package.json", PACKAGE_JSON)]).await;
    let err = e
        .renders
        .render(&e.me, e.request(no_entry, serde_json::json!({})), |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("entry file src/index.ts"), "{err}");
    assert_eq!(e.runs(), runs);
}

#[tokio::test]
async fn a_failed_install_names_the_step_and_leaves_no_cache_entry() {
    let dir = tempdir();
    let counter = dir.path().join("installs");
    let e = env_with(|c| {
        c.install_command = fake_install(&counter);
        c.install_command.push("fail".into());
    })
    .await;
    let id = e.project(&sources()).await;
    let err = e
        .renders
        .render(&e.me, e.request(id, serde_json::json!({})), |_| {})
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("installing node_modules failed"), "{text}");
    assert!(text.contains("E404") || text.contains("404"), "{text}");
    let entries: Vec<_> = std::fs::read_dir(e.path("cache/node_modules"))
        .unwrap()
        .collect();
    assert!(
        entries.is_empty(),
        "a failed install leaves nothing behind: {entries:?}"
    );
    assert_eq!(e.runs(), 0);
}

#[tokio::test]
async fn invalid_settings_and_strangers_are_refused_before_anything_runs() {
    let e = env().await;
    let id = e.project(&sources()).await;
    let mut req = e.request(id, serde_json::json!({}));
    req.settings.codec = reelstore::render::Codec::Gif;
    req.settings.crf = Some(20);
    assert!(matches!(
        e.renders.submit(&e.me, req).await,
        Err(Error::Invalid(_))
    ));
    let eve = Caller::new("local", Some("eve"), None).unwrap();
    assert!(matches!(
        e.renders
            .submit(&eve, e.request(id, serde_json::json!({})))
            .await,
        Err(Error::NotFound { .. })
    ));
    let mut req = e.request(id, serde_json::json!({}));
    req.checkpoint = Some("no-such-checkpoint".into());
    assert!(e.renders.submit(&e.me, req).await.is_err());
    assert_eq!(e.runs(), 0);
    assert!(e.renders.list(&e.me).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_full_queue_is_refused_and_queued_jobs_can_be_cancelled() {
    let e = env_with(|c| c.queue_limit = 1).await;
    let id = e.project(&sources()).await;
    let running = e
        .renders
        .submit(&e.me, e.request(id, serde_json::json!({"mode": "sleep"})))
        .await
        .unwrap();
    let queued = e
        .renders
        .submit(&e.me, e.request(id, serde_json::json!({"color": "green"})))
        .await
        .unwrap();
    assert_eq!(queued.stage, Stage::Queued);
    let err = e
        .renders
        .submit(&e.me, e.request(id, serde_json::json!({"color": "white"})))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Busy(_)), "{err}");
    e.renders.cancel(&e.me, queued.id).await.unwrap();
    assert_eq!(
        e.renders
            .wait(&e.me, queued.id, |_| {})
            .await
            .unwrap()
            .stage,
        Stage::Cancelled
    );
    e.renders.cancel(&e.me, running.id).await.unwrap();
    assert_eq!(
        e.renders
            .wait(&e.me, running.id, |_| {})
            .await
            .unwrap()
            .stage,
        Stage::Cancelled
    );
}

#[tokio::test]
async fn a_second_user_with_the_same_inputs_gets_their_own_record_of_the_same_bytes() {
    let e = env().await;
    let mine = e.project(&sources()).await;
    let first = e
        .renders
        .render(&e.me, e.request(mine, serde_json::json!({})), |_| {})
        .await
        .unwrap();
    let bob = Caller::new("local", Some("bob"), None).unwrap();
    let a = e.repo.artifacts();
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
        a.write_file(
            &bob,
            theirs.id,
            ProjectPath::parse(path).unwrap(),
            Source::Bytes(content.into()),
            false,
        )
        .await
        .unwrap();
    }
    let mut req = e.request(theirs.id, serde_json::json!({}));
    req.settings = first.settings.clone();
    let second = e.renders.render(&bob, req, |_| {}).await.unwrap();
    assert!(
        second.memo_hit,
        "same tree, settings and renderer: nothing runs"
    );
    let (r1, r2) = (first.render.unwrap(), second.render.unwrap());
    assert_ne!(r1.id, r2.id, "bob gets a record of his own");
    assert_eq!(r1.content, r2.content, "pointing at the same bytes");
    assert!(
        a.get_blob(&bob, r1.id).await.is_err(),
        "ana's record stays hers"
    );
    assert_eq!(e.runs(), 1);
}
