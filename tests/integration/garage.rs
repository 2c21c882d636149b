//! Opt-in: reel on Garage 2.5, a real distributed S3-compatible store
//! (`scripts/test-garage` builds it, starts it on 127.0.0.1 and sets `REEL_GARAGE_*`).

use std::path::Path;

use crate::util::{reel, sample_project, tempdir};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} (set by scripts/test-garage)"))
}

fn garage_reel(dir: &Path, args: &[&str]) -> std::process::Output {
    reel(dir)
        .env("AWS_ACCESS_KEY_ID", var("REEL_GARAGE_KEY"))
        .env("AWS_SECRET_ACCESS_KEY", var("REEL_GARAGE_SECRET"))
        .env("AWS_REGION", var("REEL_GARAGE_REGION"))
        .args(args)
        .output()
        .unwrap()
}

/// What the probe finds on Garage decides what reel allows: a store that honours
/// conditional updates takes a second machine; one that does not serves the first
/// machine (with a warning) and refuses the second. Either way the first machine's
/// checkpoints restore and verify (nothing relies on server-side copy).
#[test]
#[ignore = "needs Garage: opt-in, scripts/test-garage builds it (~20 min) and runs this"]
fn garage_serves_one_machine_and_the_probe_decides_about_a_second() {
    let prefix = format!("it-{}", std::process::id());
    let url = format!(
        "s3://{}/{prefix}?endpoint={}&allow_http=true",
        var("REEL_GARAGE_BUCKET"),
        var("REEL_GARAGE_ENDPOINT")
    );
    let a = tempdir();
    sample_project(a.path());
    let init = garage_reel(a.path(), &["init", "--backend", &url, "--json"]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&init.stdout).unwrap();
    let probe = &report["probe"];
    eprintln!("garage probe: {probe}");
    let stderr = String::from_utf8_lossy(&init.stderr);
    for args in [
        &["checkpoint", "-m", "on garage"][..],
        &["fsck", "--read-data"][..],
    ] {
        let out = garage_reel(a.path(), args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = tempdir();
    let restored = garage_reel(
        a.path(),
        &["restore", "HEAD", "--to", out.path().to_str().unwrap()],
    );
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_eq!(
        crate::util::snapshot(out.path()),
        crate::util::snapshot(a.path())
    );

    let b = tempdir();
    let second = garage_reel(b.path(), &["init", "--backend", &url]);
    if probe["conditional_updates"] == true {
        assert!(
            second.status.success(),
            "{}",
            String::from_utf8_lossy(&second.stderr)
        );
    } else {
        assert!(
            stderr.contains("does not honour conditional"),
            "no warning at init: {stderr}"
        );
        assert!(
            !second.status.success(),
            "a second machine attached to a store without conditional updates"
        );
        let err = String::from_utf8_lossy(&second.stderr);
        assert!(err.contains("conditional updates"), "{err}");
        assert!(
            !b.path().join(".reel").exists(),
            "the refused init left .reel behind"
        );
        // The refusal left no `machines/` key: the first machine's gc still runs.
        let gc = garage_reel(a.path(), &["gc"]);
        assert!(
            gc.status.success(),
            "{}",
            String::from_utf8_lossy(&gc.stderr)
        );
    }
}
