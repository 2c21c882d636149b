//! Failpoints: named places where a test can pause or kill a process at the bad moment.
//!
//! Off unless the environment variable `REEL_FAILPOINTS` names a directory, read once
//! per process; a disabled failpoint costs one load of a `OnceLock`. With it set, the
//! point `NAME` looks for files in that directory:
//!
//! - `NAME.pause`: writes `NAME.reached` (holding the pid), then waits until the test
//!   removes `NAME.pause`, then removes `NAME.reached` and goes on;
//! - `NAME.kill`: the process sends itself SIGKILL there (a crash with no cleanup).
//!
//! Files, not in-process hooks, so one test can drive several real `reel` processes
//! step by step: a deterministic interleaving instead of a race decided by sleeps.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a paused point looks for its release.
const POLL: Duration = Duration::from_millis(5);

fn dir() -> Option<&'static Path> {
    static DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("REEL_FAILPOINTS").map(PathBuf::from))
        .as_deref()
}

/// Passes the failpoint `name`: pauses or kills the process if a test asked for it.
pub fn hit(name: &str) {
    let Some(dir) = dir() else { return };
    if dir.join(format!("{name}.kill")).exists() {
        tracing::warn!(failpoint = name, "killing this process");
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
    let pause = dir.join(format!("{name}.pause"));
    if !pause.exists() {
        return;
    }
    let reached = dir.join(format!("{name}.reached"));
    let _ = std::fs::write(&reached, std::process::id().to_string());
    while pause.exists() {
        std::thread::sleep(POLL);
    }
    let _ = std::fs::remove_file(&reached);
}
