//! SIGKILL `reel checkpoint` at varied points; the repository stays consistent and
//! every published checkpoint restores byte-identically.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use crate::util::{
    Node, random_bytes, reel, reel_json, reel_path, sample_project, snapshot, tempdir, write,
};

#[test]
fn killed_checkpoints_leave_a_consistent_repository() {
    let dir = tempdir();
    sample_project(dir.path());
    reel(dir.path()).arg("init").assert().success();
    reel(dir.path())
        .args(["checkpoint", "--name", "base"])
        .assert()
        .success();
    let mut expected: BTreeMap<String, BTreeMap<String, Node>> = BTreeMap::new();
    expected.insert(
        reel_json(dir.path(), &["show", "HEAD"])["id"]
            .as_str()
            .unwrap()
            .into(),
        snapshot(dir.path()),
    );

    for (round, delay_ms) in [5u64, 30, 80, 150, 300, 600, 1200].into_iter().enumerate() {
        write(
            dir.path(),
            &format!("footage/take{round}.mov"),
            random_bytes(24 << 20, round as u64),
        );
        write(
            dir.path(),
            "src/Root.tsx",
            format!("export const round = {round};\n"),
        );
        let before = snapshot(dir.path());
        let mut child = std::process::Command::new(reel_path())
            .args(["checkpoint", "-q", "-m", &format!("round {round}")])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL; may race with a normal exit
        child.wait().unwrap();
        let head = reel_json(dir.path(), &["show", "HEAD"])["id"]
            .as_str()
            .unwrap()
            .to_owned();
        expected.entry(head).or_insert(before);
        // fsck must be clean after every kill (unreferenced packs are only notes).
        reel(dir.path()).args(["fsck"]).assert().success();
    }
    // One checkpoint after the crashes, not killed: it must work on what they left
    // (on a loaded machine none of the killed ones may have got as far as publishing).
    write(
        dir.path(),
        "src/Root.tsx",
        "export const round = \"after\";\n",
    );
    let after = snapshot(dir.path());
    reel(dir.path())
        .args(["checkpoint", "-q", "-m", "after the crashes"])
        .assert()
        .success();
    let head = reel_json(dir.path(), &["show", "HEAD"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expected.insert(head, after);
    reel(dir.path())
        .args(["fsck", "--read-data"])
        .assert()
        .success();
    reel(dir.path())
        .args(["gc", "--grace", "0s"])
        .assert()
        .success();
    let report = reel_json(dir.path(), &["fsck", "--read-data"]);
    assert!(report["unreferenced_packs"].as_array().unwrap().is_empty());
    for (id, tree) in &expected {
        let out = tempdir();
        reel(dir.path())
            .args(["restore", id, "--to", out.path().to_str().unwrap()])
            .assert()
            .success();
        assert_eq!(
            &snapshot(out.path()),
            tree,
            "checkpoint {id} differs after the crashes"
        );
    }
}

/// A point to die at: after a random delay, or at a named failpoint.
#[derive(Debug, Clone, Copy)]
enum Death {
    After(Duration),
    At(&'static str),
}

fn pick(round: u64, salt: u64, n: usize) -> usize {
    let b = random_bytes(8, round * 1000 + salt);
    (u64::from_le_bytes(b.try_into().unwrap()) % n as u64) as usize
}

fn death(round: u64, points: &[&'static str]) -> Death {
    if round.is_multiple_of(2) {
        Death::At(points[pick(round, 1, points.len())])
    } else {
        Death::After(Duration::from_millis(pick(round, 2, 150) as u64))
    }
}

/// Runs `reel args` and kills it (SIGKILL) as `death` says; it may also finish first.
/// Returns whether it was killed.
fn run_and_kill(dir: &std::path::Path, args: &[&str], death: Death) -> bool {
    let fp = crate::util::Failpoints::new();
    if let Death::At(point) = death {
        fp.kill(point);
    }
    let mut child = crate::util::spawn_reel(dir, &fp, args);
    if let Death::After(delay) = death {
        std::thread::sleep(delay);
        let _ = child.kill();
    }
    let killed = std::os::unix::process::ExitStatusExt::signal(&child.wait().unwrap()) == Some(9);
    if let (Death::At(point), false) = (death, killed) {
        panic!("{args:?} never reached failpoint {point}");
    }
    killed
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk_all(dir) {
        let name = e.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".reel-restore-") {
            out.push(e.display().to_string());
        }
    }
    out
}

fn walk_all(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk_all(&p));
        }
        out.push(p);
    }
    out
}

/// The state of the crash campaign: what was committed, and what happened.
struct Campaign {
    dir: tempfile::TempDir,
    target: tempfile::TempDir,
    committed: BTreeMap<String, BTreeMap<String, Node>>,
    kills: u32,
    cleaned: u64,
    last_restored: String,
}

impl Campaign {
    fn head(&self) -> String {
        reel_json(self.dir.path(), &["show", "HEAD"])["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn checkpoint(&mut self, round: u64) {
        let p = self.dir.path();
        write(
            p,
            &format!("footage/take{round}.mov"),
            random_bytes(6 << 20, round),
        );
        write(
            p,
            "src/Root.tsx",
            format!("export const round = {round};\n"),
        );
        let before = snapshot(p);
        let points = [
            "writer-registered",
            "pack-announced",
            "checkpoint-before-publish",
        ];
        self.kills += u32::from(run_and_kill(
            p,
            &["checkpoint", "-q"],
            death(round, &points),
        ));
        let head = self.head();
        self.committed.entry(head).or_insert(before);
    }

    fn restore(&mut self, round: u64) {
        // Another checkpoint than the target holds, so there is something to write.
        let mut ids: Vec<&String> = self
            .committed
            .keys()
            .filter(|i| **i != self.last_restored)
            .collect();
        if ids.is_empty() {
            // Only the checkpoint the target holds: empty the target so there is
            // something to write again.
            ids = self.committed.keys().collect();
            std::fs::remove_dir_all(self.target.path()).unwrap();
            std::fs::create_dir(self.target.path()).unwrap();
        }
        let id = ids[pick(round, 3, ids.len())].clone();
        self.last_restored.clone_from(&id);
        let to = self.target.path().to_str().unwrap();
        let args = ["restore", id.as_str(), "--to", to, "--force", "-q"];
        let p = self.dir.path();
        self.kills += u32::from(run_and_kill(
            p,
            &args,
            death(round, &["restore-file-written", "restore-file-swapped"]),
        ));
        // Run again, to the end: the target is exact and nothing is left over.
        let again = reel_json(p, &args);
        self.cleaned += again["leftovers_removed"].as_u64().unwrap();
        assert_eq!(
            snapshot(self.target.path()),
            self.committed[&id],
            "round {round}"
        );
        let left = leftovers(self.target.path());
        assert!(left.is_empty(), "round {round}: {left:?}");
    }

    fn gc(&mut self, round: u64) {
        // Something for gc to do: forget a checkpoint other than HEAD.
        let head = self.head();
        if let Some(old) = self.committed.keys().find(|k| **k != head).cloned()
            && self.committed.len() > 2
        {
            reel(self.dir.path())
                .args(["forget", &old])
                .assert()
                .success();
            self.committed.remove(&old);
        }
        let points = ["writer-registered", "gc-after-plan", "gc-after-apply"];
        let args = ["gc", "--grace", "0s", "-q"];
        self.kills += u32::from(run_and_kill(self.dir.path(), &args, death(round, &points)));
    }
}

/// Thirty rounds of `checkpoint`, `restore` and `gc --grace 0s`, each `SIGKILL`ed at a
/// random moment or at a failpoint between two of its steps. After every round fsck is
/// clean; a killed restore's leftovers are gone after it is run again; at the end every
/// checkpoint that was committed restores exactly and no pack is left unaccounted for.
#[test]
fn a_crash_campaign_of_checkpoints_restores_and_collections() {
    let dir = tempdir();
    sample_project(dir.path());
    reel(dir.path()).arg("init").assert().success();
    reel(dir.path())
        .args(["checkpoint", "-q"])
        .assert()
        .success();
    let mut c = Campaign {
        dir,
        target: tempdir(),
        committed: BTreeMap::new(),
        kills: 0,
        cleaned: 0,
        last_restored: String::new(),
    };
    c.committed.insert(c.head(), snapshot(c.dir.path()));
    for round in 0..30u64 {
        match round % 3 {
            0 => c.checkpoint(round),
            1 => c.restore(round),
            _ => c.gc(round),
        }
        let fsck = reel(c.dir.path()).arg("fsck").output().unwrap();
        let text = String::from_utf8_lossy(&fsck.stdout);
        assert!(fsck.status.success(), "round {round}: {text}");
    }
    let (kills, cleaned) = (c.kills, c.cleaned);
    eprintln!("crash campaign: {kills} of 30 runs killed, {cleaned} leftovers cleaned");
    assert!(kills >= 15, "only {kills} of 30 runs were killed");
    assert!(
        cleaned > 0,
        "no killed restore left a temporary file to clean up"
    );
    let p = c.dir.path();
    reel(p).args(["gc", "--grace", "0s"]).assert().success();
    let report = reel_json(p, &["fsck", "--read-data"]);
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    assert!(
        report["unreferenced_packs"].as_array().unwrap().is_empty(),
        "{report}"
    );
    for (id, tree) in &c.committed {
        let out = tempdir();
        reel(p)
            .args(["restore", id, "--to", out.path().to_str().unwrap()])
            .assert()
            .success();
        assert_eq!(&snapshot(out.path()), tree, "checkpoint {id}");
    }
}

/// A checkpoint killed after a pack's file is written and before it is published leaves
/// a staging file, never a pack: fsck is clean, HEAD has not moved, the next checkpoint
/// works, and `gc` removes the file once it is an hour old — not while it is young (a
/// running writer's).
#[test]
fn a_writer_killed_before_publishing_leaves_a_staging_file_gc_removes_once_stale() {
    let dir = tempdir();
    let p = dir.path();
    sample_project(p);
    reel(p).arg("init").assert().success();
    reel(p).args(["checkpoint", "-q"]).assert().success();
    let base = reel_json(p, &["show", "HEAD"])["id"].clone();
    write(p, "footage/take.mov", random_bytes(8 << 20, 77));
    assert!(run_and_kill(
        p,
        &["checkpoint", "-q"],
        Death::At("pack-announced")
    ));
    let staging = p.join(".reel/packs/staging");
    let left: Vec<_> = std::fs::read_dir(&staging)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!left.is_empty(), "no staging file left");
    let report = reel_json(p, &["fsck", "--read-data"]);
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(reel_json(p, &["show", "HEAD"])["id"], base);

    reel(p).args(["gc", "--grace", "0s"]).assert().success();
    assert!(
        left.iter().all(|f| f.exists()),
        "gc removed a young staging file"
    );
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    for f in &left {
        let file = std::fs::File::options().write(true).open(f).unwrap();
        file.set_modified(two_hours_ago).unwrap();
    }
    reel(p).args(["gc", "--grace", "0s"]).assert().success();
    assert!(
        !left.iter().any(|f| f.exists()),
        "gc kept a stale staging file"
    );

    let want = snapshot(p);
    reel(p).args(["checkpoint", "-q"]).assert().success();
    let out = tempdir();
    reel(p)
        .args(["restore", "HEAD", "--to", out.path().to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(snapshot(out.path()), want);
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);
}
