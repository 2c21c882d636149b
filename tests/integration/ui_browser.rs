//! `reel ui` in a real headless Chromium driven over `WebDriver` (Debian's `chromium` and
//! `chromium-driver`): sign in through the printed URL, click from the timeline to a
//! file, read a diff, play a render and seek it. Opt-in (`#[ignore]`): `scripts/test`
//! installs Chromium and runs them. Screenshots go to `target/ui-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::ui::UiServer;
use crate::util::{reel, reel_json, tempdir};

/// chromedriver on a free loopback port; killed when dropped.
pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn browser() -> (Driver, Client) {
    let port = free_port();
    let child = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (apt install chromium-driver)");
    let driver = Driver(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--autoplay-policy=no-user-gesture-required"],
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => {
                // Finding an element waits up to 5 s for it to appear (the page after a
                // click or a form may still be loading).
                client
                    .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                        None,
                        None,
                        Some(Duration::from_secs(5)),
                    ))
                    .await
                    .unwrap();
                return (driver, client);
            }
            Err(e) if Instant::now() > deadline => panic!("chromedriver did not answer: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

pub(crate) fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

async fn body_text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until `script` returns true.
async fn until(c: &Client, script: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = c.execute(script, vec![]).await.unwrap();
        if v == Value::Bool(true) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What makes `reel` render with the test renderer.
fn fake_env(dir: &Path) -> Vec<(&'static str, String)> {
    crate::render_faces::fake_env(&dir.join("installs")).to_vec()
}

/// A directory repository with two checkpoints and a project with a 20-second render.
fn setup(dir: &Path) -> (String, String, String) {
    // `reel init` and a project holding a minimal Remotion-shaped tree.
    let id = crate::render_faces::setup(dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("src/Root.tsx"),
        "export const Root = () => {\n  return <div>hi</div>;\n};\n",
    )
    .unwrap();
    reel(dir)
        .args(["checkpoint", "-m", "first", "--name", "v1"])
        .assert()
        .success();
    std::fs::write(
        dir.join("src/Root.tsx"),
        "export const Root = () => {\n  return <div>hello world</div>;\n};\n",
    )
    .unwrap();
    reel(dir)
        .args(["checkpoint", "-m", "second", "--name", "v2"])
        .assert()
        .success();
    let out = reel(dir)
        .envs(fake_env(dir))
        .args([
            "render",
            &id,
            "--composition",
            "Main",
            "--props",
            r#"{"seconds":"20"}"#,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: Value = serde_json::from_slice(&out.stdout).unwrap();
    let render = job["render"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{job}"))
        .to_owned();
    // Another user's project, to reach by URL.
    let other = reel_json(
        dir,
        &["--user", "someone-else", "project", "create", "not-yours"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (render, id, other)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs chromium and chromium-driver (scripts/test installs them)"]
async fn a_browser_walks_the_timeline_reads_a_diff_and_plays_a_render() {
    let dir = tempdir();
    let (render, project, other) = setup(dir.path());
    let ui = UiServer::start(dir.path(), &[], &fake_env(dir.path()));
    let base = format!("http://{}", ui.addr);
    let (_driver, c) = browser().await;

    // Without the token: refused.
    c.goto(&format!("{base}/repo")).await.unwrap();
    assert!(body_text(&c).await.contains("not signed in"));

    // The printed URL signs in and lands on the timeline, token gone from the address.
    c.goto(&ui.url()).await.unwrap();
    assert_eq!(
        c.current_url().await.unwrap().as_str(),
        format!("{base}/repo")
    );
    let timeline = body_text(&c).await;
    assert!(
        timeline.contains("v1") && timeline.contains("v2") && timeline.contains("HEAD"),
        "{timeline}"
    );
    shot(&c, "timeline").await;

    // Timeline → checkpoint → its files → src → Root.tsx.
    let v2_row = c
        .find(Locator::XPath(
            "//tr[.//strong[text()='v2']]//a[contains(@href,'/repo/show/')]",
        ))
        .await
        .unwrap();
    v2_row.click().await.unwrap();
    assert!(body_text(&c).await.contains("second"));
    shot(&c, "checkpoint").await;
    c.find(Locator::LinkText("browse files"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::LinkText("src/"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::LinkText("Root.tsx"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let code = c.find(Locator::Css("table.code")).await.unwrap();
    assert!(code.text().await.unwrap().contains("hello world"));
    // Highlighted: the keyword is in a span of its own.
    assert!(code.html(false).await.unwrap().contains("hl-"));
    shot(&c, "file").await;

    // Pick v1 as old and v2 as new on the timeline; the diff shows the changed line.
    c.goto(&format!("{base}/repo")).await.unwrap();
    c.find(Locator::XPath(
        "//tr[.//strong[text()='v1']]//input[@name='old']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    c.find(Locator::XPath(
        "//tr[.//strong[text()='v2']]//input[@name='new']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    c.find(Locator::Css("form.diff-pick button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &c,
        "return location.pathname == '/repo/diff' && document.readyState == 'complete';",
        "the diff page",
    )
    .await;
    let url = c.current_url().await.unwrap();
    let Ok(added) = c.find(Locator::Css("tr.add")).await else {
        panic!("no added line at {url}: {}", body_text(&c).await);
    };
    let added = added.text().await.unwrap();
    assert!(added.contains("hello world"), "{added}");
    let removed = c
        .find(Locator::Css("tr.del"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(removed.contains("<div>hi</div>"), "{removed}");
    shot(&c, "diff").await;

    // Seeking asks for a range past what was loaded, which the server answers with
    // 206; then the render plays. The page preloads metadata only, so before playing
    // the browser holds the file's start and must ask for the rest by range.
    c.goto(&format!("{base}/renders")).await.unwrap();
    // The gallery shows each render's poster frame, a JPEG the browser decoded.
    until(
        &c,
        "const i = document.querySelector('.gallery img.poster'); return !!i && i.complete && i.naturalWidth == 640 && i.naturalHeight == 360;",
        "the poster frame",
    )
    .await;
    shot(&c, "renders").await;
    c.goto(&format!("{base}/renders/{render}")).await.unwrap();
    until(
        &c,
        "return document.getElementById('player').readyState >= 1;",
        "the video's metadata",
    )
    .await;
    let before = ui.log.lock().unwrap().len();
    c.execute(
        "const v = document.getElementById('player'); v.currentTime = v.duration - 3; return true;",
        vec![],
    )
    .await
    .unwrap();
    until(&c, "const v = document.getElementById('player'); return !v.seeking && v.readyState >= 2 && v.currentTime > 16;", "the seek").await;
    let after: Vec<String> = ui.log.lock().unwrap()[before..].to_vec();
    let ranged = after
        .iter()
        .any(|l| l.contains("render.mp4: 206 bytes=") && !l.contains("bytes=0-"));
    assert!(
        ranged,
        "no mid-file range request after the seek: {after:#?} (all: {:#?})",
        ui.log.lock().unwrap()
    );
    c.execute("const v = document.getElementById('player'); v.muted = true; v.currentTime = 0; v.play(); return true;", vec![]).await.unwrap();
    until(&c, "const v = document.getElementById('player'); return v.readyState >= 3 && v.currentTime > 0.3 && !v.paused;", "the video to play").await;
    shot(&c, "render").await;
    let meta = body_text(&c).await;
    assert!(meta.contains("h264") && meta.contains("640×360"), "{meta}");

    // Render from the project page: progress reaches 100% and links the render; the
    // same inputs again are a memo hit, done at once; a hanging render is cancelled.
    let submit = |props: &'static str| {
        let c = c.clone();
        let base = base.clone();
        let project = project.clone();
        async move {
            c.goto(&format!("{base}/projects/{project}")).await.unwrap();
            c.find(Locator::Css("form.render input[name=composition]"))
                .await
                .unwrap()
                .send_keys("Main")
                .await
                .unwrap();
            c.find(Locator::Css("form.render input[name=props]"))
                .await
                .unwrap()
                .send_keys(props)
                .await
                .unwrap();
            c.find(Locator::Css("form.render button"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            until(&c, "return document.readyState == 'complete' && (location.pathname.startsWith('/jobs/') || !!document.querySelector('p.error'));", "the job page").await;
            let url = c.current_url().await.unwrap();
            assert!(
                url.path().starts_with("/jobs/"),
                "{url}: {}",
                body_text(&c).await
            );
        }
    };
    submit(r#"{"color":"red"}"#).await;
    until(&c, "return document.getElementById('progress').value == 100 && !!document.querySelector('#result a');", "the render to finish").await;
    assert_eq!(
        c.find(Locator::Id("stage"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "done"
    );
    shot(&c, "job").await;
    submit(r#"{"color":"red"}"#).await;
    let page = body_text(&c).await;
    assert!(page.contains("memo hit") && page.contains("100%"), "{page}");
    submit(r#"{"mode":"sleep"}"#).await;
    until(
        &c,
        "return document.getElementById('stage').textContent == 'rendering';",
        "the render to start",
    )
    .await;
    c.find(Locator::Css("#cancel button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &c,
        "return document.getElementById('stage').textContent == 'cancelled';",
        "the cancel",
    )
    .await;

    // Another user's project is not reachable by its URL.
    c.goto(&format!("{base}/projects/{other}")).await.unwrap();
    let page = body_text(&c).await;
    assert!(
        page.contains("404") && !page.contains("not-yours"),
        "{page}"
    );
    c.close().await.unwrap();
}
