//! `reel ui` over real HTTP: the token and its cookie, `Range` answers, and what one
//! user can reach of another's. The browser tests are in `ui_browser.rs`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use crate::util::{reel, reel_json, reel_path, tempdir};

/// A running `reel ui`: its address, token and log; killed when dropped.
pub struct UiServer {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The token of the printed URL (`None` with --tokens).
    pub token: String,
    /// Every line it wrote on stderr so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl UiServer {
    /// Starts `reel ui --port 0 ARGS` in `dir` with `envs`.
    pub fn start(dir: &Path, args: &[&str], envs: &[(&str, String)]) -> UiServer {
        let mut child = std::process::Command::new(reel_path())
            .current_dir(dir)
            .env_remove("REEL_REPO")
            .env("USER", "tester")
            .env("REEL_LOG", "reel::ui::media=info")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["ui", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("reel ui: http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        let (addr, token) = url.split_once("/?token=").unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        UiServer {
            child,
            addr: addr.to_owned(),
            token: token.to_owned(),
            log,
        }
    }

    /// The address with the token, as printed.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token)
    }

    /// The cookie header a signed-in browser sends.
    pub fn cookie(&self, token: &str) -> String {
        let port = self.addr.rsplit(':').next().unwrap();
        format!("reel_ui_{port}={token}")
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP/1.1 answer.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` with extra headers, over a plain socket (one request per connection).
pub fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    request(addr, "GET", path, headers, "")
}

/// A request with a body, over a plain socket.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !body.is_empty() {
        let _ = write!(
            req,
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        let _ = write!(req, "Host: {addr}\r\n");
    }
    for (k, v) in headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked")
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 4 + size..];
    }
}

/// A repository with two checkpoints of a small tree.
fn repo_with_history(dir: &Path) {
    reel(dir).arg("init").assert().success();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("src/Root.tsx"),
        "export const Root = () => <div>hi</div>;\n",
    )
    .unwrap();
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("data.bin"), &data).unwrap();
    reel(dir)
        .args(["checkpoint", "-m", "first", "--name", "v1"])
        .assert()
        .success();
    std::fs::write(
        dir.join("src/Root.tsx"),
        "export const Root = () => <div>hello</div>;\n",
    )
    .unwrap();
    reel(dir)
        .args(["checkpoint", "-m", "second", "--name", "v2"])
        .assert()
        .success();
}

#[test]
fn without_the_token_every_request_is_refused() {
    let dir = tempdir();
    repo_with_history(dir.path());
    let ui = UiServer::start(dir.path(), &[], &[]);
    for path in [
        "/",
        "/repo",
        "/repo/tree/v2/src/Root.tsx",
        "/static/app.css",
        "/repo/raw/v2/data.bin",
    ] {
        assert_eq!(get(&ui.addr, path, &[]).status, 401, "{path}");
        let wrong = ui.cookie("0000");
        assert_eq!(
            get(&ui.addr, path, &[("Cookie", &wrong)]).status,
            401,
            "{path}"
        );
    }
    assert_eq!(get(&ui.addr, "/?token=nope", &[]).status, 401);
    // The printed URL swaps its token for a cookie and leaves the address bar clean.
    let signed = get(&ui.addr, &format!("/repo?token={}&page=0", ui.token), &[]);
    assert_eq!(signed.status, 303);
    assert_eq!(signed.header("location"), Some("/repo?page=0"));
    let set = signed.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = ui.cookie(&ui.token);
    let page = get(&ui.addr, "/repo", &[("Cookie", &cookie)]);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("v2") && page.text().contains("second"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("default-src 'self'")
    );
    // Another site's name for this address (DNS rebinding) is refused.
    let rebound = get(
        &ui.addr,
        "/repo",
        &[("Cookie", &cookie), ("Host", "evil.example:80")],
    );
    assert_eq!(rebound.status, 403);
}

#[test]
fn a_checkpoint_file_is_served_by_range() {
    let dir = tempdir();
    repo_with_history(dir.path());
    let ui = UiServer::start(dir.path(), &[], &[]);
    let cookie = ui.cookie(&ui.token);
    let data = std::fs::read(dir.path().join("data.bin")).unwrap();
    let whole = get(&ui.addr, "/repo/raw/v1/data.bin", &[("Cookie", &cookie)]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, data);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    // Not something a browser should render as a page of ours.
    assert_eq!(whole.header("content-disposition"), Some("attachment"));
    assert!(
        whole
            .header("content-security-policy")
            .unwrap()
            .starts_with("sandbox")
    );
    let part = get(
        &ui.addr,
        "/repo/raw/v1/data.bin",
        &[("Cookie", &cookie), ("Range", "bytes=100-199")],
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 100-199/1000"));
    assert_eq!(part.body, data[100..200]);
    let tail = get(
        &ui.addr,
        "/repo/raw/v1/data.bin",
        &[("Cookie", &cookie), ("Range", "bytes=-10")],
    );
    assert_eq!(tail.body, data[990..]);
    let beyond = get(
        &ui.addr,
        "/repo/raw/v1/data.bin",
        &[("Cookie", &cookie), ("Range", "bytes=1000-")],
    );
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */1000"));
    let text = get(
        &ui.addr,
        "/repo/raw/v2/src/Root.tsx",
        &[("Cookie", &cookie)],
    );
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(text.text(), "export const Root = () => <div>hello</div>;\n");
    // A path out of the tree is an error, never a file elsewhere.
    for bad in [
        "/repo/raw/v1/../Cargo.toml",
        "/repo/raw/v1/%2e%2e/x",
        "/repo/raw/v1/src/..%2f..%2fetc/passwd",
    ] {
        let a = get(&ui.addr, bad, &[("Cookie", &cookie)]);
        assert!(a.status == 400 || a.status == 404, "{bad}: {}", a.status);
    }
}

#[test]
fn a_user_reaches_only_their_own_projects() {
    let dir = tempdir();
    reel(dir.path()).arg("init").assert().success();
    let ana = reel_json(
        dir.path(),
        &["--user", "ana", "project", "create", "ana-clip"],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    reel(dir.path())
        .args(["--user", "ana", "file", "write", &ana, "src/secret.tsx"])
        .write_stdin("export const secret = 42;\n")
        .assert()
        .success();
    std::fs::write(dir.path().join("note.txt"), "ana's note\n").unwrap();
    let asset = reel_json(dir.path(), &["--user", "ana", "asset", "add", "note.txt"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(dir.path().join("tokens"), "ana tok-ana\nbob tok-bob\n").unwrap();
    let ui = UiServer::start(dir.path(), &["--tokens", "tokens"], &[]);
    let as_ana = ui.cookie("tok-ana");
    let as_bob = ui.cookie("tok-bob");
    let pages = [
        format!("/projects/{ana}"),
        format!("/projects/{ana}/files"),
        format!("/projects/{ana}/files/src/secret.tsx"),
        format!("/projects/{ana}/raw/src/secret.tsx"),
        format!("/projects/{ana}/diff?old=HEAD"),
    ];
    let a = get(&ui.addr, &pages[2], &[("Cookie", &as_ana)]);
    assert_eq!(a.status, 200);
    assert!(a.text().contains("secret"));
    for page in &pages {
        let b = get(&ui.addr, page, &[("Cookie", &as_bob)]);
        assert_eq!(b.status, 404, "{page}");
        assert!(!b.text().contains("secret = 42"), "{page}");
    }
    let list = get(&ui.addr, "/projects", &[("Cookie", &as_bob)]).text();
    assert!(
        !list.contains("ana-clip") && !list.contains("note.txt"),
        "{list}"
    );
    let theirs = get(&ui.addr, "/projects", &[("Cookie", &as_ana)]).text();
    assert!(
        theirs.contains("ana-clip") && theirs.contains("note.txt"),
        "{theirs}"
    );
    let raw = format!("/assets/{asset}/raw");
    assert_eq!(
        get(&ui.addr, &raw, &[("Cookie", &as_ana)]).text(),
        "ana's note\n"
    );
    let b = get(&ui.addr, &raw, &[("Cookie", &as_bob)]);
    assert_eq!(b.status, 404);
    assert!(!b.text().contains("note"));
    // A render request from another site's page (or none) is refused before anything
    // runs, even with the cookie (which a browser would not send cross-site anyway).
    let path = format!("/projects/{ana}/render");
    for origin in [None, Some("http://evil.example"), Some("null")] {
        let mut headers = vec![("Cookie", as_ana.as_str())];
        if let Some(o) = origin {
            headers.push(("Origin", o));
        }
        let a = request(&ui.addr, "POST", &path, &headers, "composition=Main");
        assert_eq!(a.status, 403, "{origin:?}: {}", a.text());
    }
    // The directory repository belongs to no user: not offered with --tokens.
    assert_eq!(get(&ui.addr, "/repo", &[("Cookie", &as_bob)]).status, 403);
}

#[test]
fn a_single_user_viewer_listens_on_loopback_only() {
    let dir = tempdir();
    reel(dir.path()).arg("init").assert().success();
    let out = reel(dir.path())
        .args(["ui", "--port", "0", "--bind", "0.0.0.0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tokens"));
}

#[test]
fn a_file_larger_than_one_piece_arrives_whole() {
    let dir = tempdir();
    reel(dir.path()).arg("init").assert().success();
    let id = reel_json(dir.path(), &["project", "create", "big"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Not a multiple of the 256 KiB pieces a body is sent in: the last one is short.
    let data: Vec<u8> = (0..700_001u32).map(|i| (i * 7 % 253) as u8).collect();
    reel(dir.path())
        .args(["file", "write", &id, "footage/big.bin"])
        .write_stdin(data.clone())
        .assert()
        .success();
    let ui = UiServer::start(dir.path(), &[], &[]);
    let cookie = ui.cookie(&ui.token);
    let path = format!("/projects/{id}/raw/footage/big.bin");
    let whole = get(&ui.addr, &path, &[("Cookie", &cookie)]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body.len(), data.len());
    assert!(whole.body == data, "the bytes differ");
    let tail = get(
        &ui.addr,
        &path,
        &[("Cookie", &cookie), ("Range", "bytes=600000-")],
    );
    assert_eq!(tail.status, 206);
    assert!(tail.body == data[600_000..], "the range differs");
}

#[test]
fn open_hands_the_signed_in_url_to_the_desktop_browser() {
    let dir = tempdir();
    repo_with_history(dir.path());
    // A stand-in for xdg-open that records what it was asked to open.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let opened = dir.path().join("opened");
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" > {}.tmp && mv {0}.tmp {0}\n",
            opened.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let ui = UiServer::start(dir.path(), &["--open"], &[("PATH", path)]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !opened.exists() {
        assert!(std::time::Instant::now() < deadline, "xdg-open was not run");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = std::fs::read_to_string(&opened).unwrap();
    assert_eq!(
        url.trim(),
        format!("http://{}/?token={}", ui.addr, ui.token)
    );
}
