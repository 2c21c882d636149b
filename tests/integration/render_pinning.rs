//! What a render pins and keeps: the versions its install resolved (in the memo key
//! and the metadata, with the lockfile stored beside the video), the warnings of the
//! installer and renderer, and the job's full log as a blob. With the CI fake renderer
//! and installer (`fake-install.sh COUNTER REMOTION CLI` resolves those versions).

use std::sync::Arc;

use reelstore::render::{JobStatus, RenderConfig, Renders, Stage};
use reelstore::{BlobKind, Caller, ListBlobs, ProjectPath, Source};

use crate::render::{Env, env, fake_install, sources};

/// `package.json` with `^` ranges and no lockfile: what npm resolves decides.
const RANGES: &str = r#"{"name":"clip","private":true,"dependencies":{"@remotion/cli":"^4.0.0","remotion":"^4.0.0"}}"#;

fn ranged() -> Vec<(&'static str, &'static str)> {
    let mut files = sources();
    files[0] = ("package.json", RANGES);
    files
}

/// A second render service on the same repository and cache whose installer resolves
/// `versions` (what a reinstall on a later day would).
async fn resolving(e: &Env, versions: &[&str]) -> Renders {
    let mut config = RenderConfig::new(e.path("cache"));
    config.renderer = Arc::new(
        reelstore::render::CommandTemplate::parse(&crate::render::fake_command(), None, "1")
            .unwrap(),
    );
    config.install_command = fake_install(&e.path("installs"));
    config
        .install_command
        .extend(versions.iter().map(|v| (*v).to_owned()));
    e.repo.renders(config).await.unwrap()
}

async fn render(e: &Env, r: &Renders, id: reelstore::ProjectId) -> JobStatus {
    r.render(&e.me, e.request(id, serde_json::json!({})), |_| {})
        .await
        .unwrap()
}

fn packages(s: &JobStatus) -> Vec<(String, String)> {
    s.resolved
        .as_ref()
        .map(|r| r.packages.clone().into_iter().collect())
        .unwrap_or_default()
}

fn pair(a: &str, b: &str) -> Vec<(String, String)> {
    vec![
        ("@remotion/cli".to_owned(), b.to_owned()),
        ("remotion".to_owned(), a.to_owned()),
    ]
}

#[tokio::test]
async fn a_reinstall_that_resolves_other_versions_is_not_answered_from_the_memo() {
    let e = env().await;
    let id = e.project(&ranged()).await;

    let first = render(&e, &e.renders, id).await;
    assert!(!first.memo_hit && first.installed);
    // What was installed, not the range: in the status and the stored metadata.
    assert_eq!(packages(&first), pair("4.0.529", "4.0.529"));
    let render_meta = |s: &JobStatus| match &s.render.as_ref().unwrap().kind {
        BlobKind::Render { meta, .. } => meta.clone(),
        BlobKind::Asset { .. } => panic!("not a render"),
    };
    let meta = render_meta(&first);
    assert_eq!(
        meta.settings["resolved"]["packages"]["remotion"], "4.0.529",
        "{:?}",
        meta.settings
    );
    // The lockfile npm wrote is stored with the render, and its hash is in the key.
    let lock = e
        .repo
        .artifacts()
        .read_lockfile(&e.me, first.render.as_ref().unwrap().id)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&lock).contains("\"version\":\"4.0.529\""));
    assert_eq!(
        first.resolved.as_ref().unwrap().lockfile,
        Some(reelstore::Hash::of(&lock))
    );
    // No lockfile in the project: one warning naming the risk and the fix.
    let no_lock: Vec<&String> = first
        .warnings
        .iter()
        .filter(|w| w.contains("no package-lock.json"))
        .collect();
    assert_eq!(no_lock.len(), 1, "{:?}", first.warnings);
    assert!(no_lock[0].contains("reel render --lock"), "{}", no_lock[0]);

    // The same install still cached: answered at once, nothing runs.
    let again = render(&e, &e.renders, id).await;
    assert!(again.memo_hit);
    assert_eq!((e.installs(), e.runs()), (1, 1));

    // The install is pruned; a reinstall resolves newer packages: a new key, a render.
    e.renders.prune_cache(0).await.unwrap();
    let newer = resolving(&e, &["4.0.541", "4.0.529"]).await;
    let second = render(&e, &newer, id).await;
    assert!(
        !second.memo_hit,
        "a different install must not reuse the memo"
    );
    assert_ne!(second.key, first.key);
    assert_eq!(packages(&second), pair("4.0.541", "4.0.529"));
    assert_eq!((e.installs(), e.runs()), (2, 2));
    assert_eq!(
        second.renderer, first.renderer,
        "the CLI is the same version"
    );
    // Mixed Remotion versions: reelstore's check names them once (the fake renderer's
    // own `Version mismatch:` block is folded into it).
    let mismatch: Vec<&String> = second
        .warnings
        .iter()
        .filter(|w| w.starts_with("Version mismatch"))
        .collect();
    assert_eq!(
        mismatch,
        ["Version mismatch: remotion 4.0.541; @remotion/cli 4.0.529"],
        "{:?}",
        second.warnings
    );

    // Pruned again, a reinstall that resolves what the first did is the first's key:
    // answered from the memo once installed, without rendering.
    newer.prune_cache(0).await.unwrap();
    let same = resolving(&e, &["4.0.529"]).await;
    let third = render(&e, &same, id).await;
    assert!(third.memo_hit && third.installed);
    assert_eq!(third.key, first.key);
    assert_eq!(
        third.render.as_ref().unwrap().id,
        first.render.as_ref().unwrap().id
    );
    assert_eq!((e.installs(), e.runs()), (3, 2));

    // gc keeps what the records name: the lockfile with the render, the log as a blob.
    let gc = reelstore::GcOptions {
        grace: std::time::Duration::ZERO,
        ..reelstore::GcOptions::default()
    };
    e.repo.gc(gc).await.unwrap();
    let a = e.repo.artifacts();
    let render = first.render.as_ref().unwrap().id;
    assert_eq!(a.read_lockfile(&e.me, render).await.unwrap(), lock);
    let log = e.renders.log(&e.me, second.id).await.unwrap();
    assert!(String::from_utf8_lossy(&log).contains("4.0.541"));
    assert!(e.repo.fsck(true).await.unwrap().is_clean());
}

#[tokio::test]
async fn a_lockfile_in_the_project_is_what_the_key_pins() {
    let e = env().await;
    let mut files = ranged();
    let lock_a =
        r#"{"lockfileVersion":3,"packages":{"node_modules/remotion":{"version":"4.0.529"}}}"#;
    files.push(("package-lock.json", lock_a));
    let id = e.project(&files).await;
    let first = render(&e, &e.renders, id).await;
    assert!(
        !first.warnings.iter().any(|w| w.contains("package-lock")),
        "a locked project gets no lockfile warning: {:?}",
        first.warnings
    );
    assert_eq!(
        first.resolved.as_ref().unwrap().lockfile,
        Some(reelstore::Hash::of(lock_a.as_bytes()))
    );
    // Another lockfile: another install, another key.
    let lock_b = lock_a.replace("4.0.529", "4.0.530");
    e.repo
        .artifacts()
        .write_file(
            &e.me,
            id,
            ProjectPath::parse("package-lock.json").unwrap(),
            Source::Bytes(lock_b.clone().into_bytes()),
            false,
        )
        .await
        .unwrap();
    let second = render(&e, &e.renders, id).await;
    assert!(!second.memo_hit);
    assert_ne!(second.key, first.key);
    assert_eq!(
        second.resolved.as_ref().unwrap().lockfile,
        Some(reelstore::Hash::of(lock_b.as_bytes()))
    );
    assert_eq!(e.installs(), 2);
}

#[tokio::test]
async fn every_job_keeps_its_log_and_the_warnings_of_its_tools() {
    let e = env().await;
    let mut files = ranged();
    files[0] = (
        "package.json",
        r#"{"name":"clip","keywords":["peer-conflict"],"dependencies":{"remotion":"^4.0.0"}}"#,
    );
    let id = e.project(&files).await;
    let done = render(&e, &e.renders, id).await;
    assert!(
        done.warnings
            .contains(&"npm warn ERESOLVE overriding peer dependency".to_owned()),
        "{:?}",
        done.warnings
    );
    let log = String::from_utf8(e.renders.log(&e.me, done.id).await.unwrap()).unwrap();
    // Each step under its command, both streams, in order, with how it ended.
    let order = [
        "== $ sh ",
        "! npm http fetch GET 200 https://registry.npmjs.org/remotion",
        "added 2 packages in 1s",
        "== exit status: 0 ==",
        "Bundling 100%",
        "Rendered 30/30",
    ];
    let mut at = 0;
    for want in order {
        let found = log[at..]
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} missing (after byte {at}) from the log:\n{log}"));
        at += found + want.len();
    }
    // The log is a blob of the project's owner, left out of asset listings.
    let a = e.repo.artifacts();
    let listed = a.list_blobs(&e.me, ListBlobs::default()).await.unwrap();
    assert!(
        listed.iter().all(|b| b.id != done.log.unwrap()),
        "render logs are not listed as assets"
    );
    let tagged = a
        .list_blobs(
            &e.me,
            ListBlobs {
                tags: vec!["reel:render-log".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        tagged.iter().map(|b| b.id).collect::<Vec<_>>(),
        [done.log.unwrap()]
    );

    // Another user sees neither the job nor its log.
    let bob = Caller::new("local", Some("bob"), None).unwrap();
    assert!(e.renders.log(&bob, done.id).await.is_err());
    assert!(a.read_blob(&bob, done.log.unwrap(), None).await.is_err());

    // A failed job keeps its log too: that is where the renderer's error is.
    let failed = e
        .renders
        .render(
            &e.me,
            e.request(id, serde_json::json!({"mode": "fail"})),
            |_| {},
        )
        .await;
    assert!(failed.is_err());
    let job = e
        .renders
        .list(&e.me)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.stage == Stage::Failed)
        .unwrap();
    let log = String::from_utf8(e.renders.log(&e.me, job.id).await.unwrap()).unwrap();
    assert!(log.contains("!  Error  boom at frame 12"), "{log}");
    assert!(log.contains("== exit status: 1 =="), "{log}");

    // A memo hit at submission ran nothing: it has no log, and says why.
    let hit = render(&e, &e.renders, id).await;
    assert!(hit.memo_hit);
    let err = e.renders.log(&e.me, hit.id).await.unwrap_err().to_string();
    assert!(err.contains("answered from the memo"), "{err}");
}

#[test]
fn reel_render_shows_the_installed_versions_warnings_and_log_and_locks_them() {
    use crate::util::{reel, tempdir};
    let dir = tempdir();
    let id = crate::render_faces::setup(dir.path());
    let resolving_newer = |cmd: &mut assert_cmd::Command| {
        let [render, deps, _] = crate::render_faces::fake_env(&dir.path().join("installs"));
        let install = format!(
            "sh {} {} 4.0.541 4.0.529",
            crate::render::fixture("fake-install.sh").display(),
            dir.path().join("installs").display()
        );
        cmd.env(render.0, render.1)
            .env(deps.0, deps.1)
            .env("REEL_INSTALL_COMMAND", install);
    };
    let mut cmd = reel(dir.path());
    resolving_newer(&mut cmd);
    let out = cmd
        .args(["render", &id, "--composition", "Main"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: Version mismatch: remotion 4.0.541; @remotion/cli 4.0.529"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: the project has no package-lock.json"),
        "{stderr}"
    );
    assert!(
        stdout.contains("installed:  remotion 4.0.541, @remotion/cli 4.0.529"),
        "{stdout}"
    );
    let job = stdout
        .lines()
        .find_map(|l| l.strip_prefix("job "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(
        stdout.contains(&format!("log:        reel render log {job}")),
        "{stdout}"
    );

    // The log, by a prefix of the job id.
    let log = reel(dir.path())
        .args(["render", "log", &job[..8]])
        .output()
        .unwrap();
    assert!(log.status.success());
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.contains("! npm http fetch GET 200") && log.contains("Rendered 30/30"),
        "{log}"
    );

    // --lock writes the resolved lockfile into the project (a memo hit renders nothing).
    let mut cmd = reel(dir.path());
    resolving_newer(&mut cmd);
    let out = cmd
        .args(["render", &id, "--composition", "Main", "--lock"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("memo hit"), "{stdout}");
    assert!(
        stdout.contains("lockfile:   package-lock.json written into the project's working tree"),
        "{stdout}"
    );
    let lock = reel(dir.path())
        .args(["file", "read", &id, "package-lock.json"])
        .output()
        .unwrap();
    let lock = String::from_utf8_lossy(&lock.stdout);
    assert!(lock.contains("\"version\":\"4.0.541\""), "{lock}");

    // Locked, the project renders (a new tree) without the lockfile warning, and a
    // second --lock finds nothing to change.
    let mut cmd = reel(dir.path());
    resolving_newer(&mut cmd);
    let out = cmd
        .args(["render", &id, "--composition", "Main", "--lock"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("no package-lock.json"), "{stderr}");
    assert!(stdout.contains("already holds these versions"), "{stdout}");
}
