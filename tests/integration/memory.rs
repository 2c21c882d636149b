//! Memory stays flat: checkpointing a 4 GiB file keeps peak RSS under 300 MiB.

use std::io::Write;
use std::time::Duration;

use crate::util::{reel, reel_path, tempdir};

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn checkpointing_a_4_gib_file_stays_under_300_mib() {
    let dir = tempdir();
    // 4 GiB of incompressible data: a 64 MiB random block, each copy salted so
    // no chunk repeats.
    {
        let mut block = vec![0u8; 64 << 20];
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(dir.path().join("footage.mov")).unwrap());
        for i in 0u64..64 {
            let mut hasher = blake3::Hasher::new();
            hasher.update(&i.to_le_bytes());
            hasher.finalize_xof().fill(&mut block);
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
    }
    reel(dir.path()).arg("init").assert().success();
    let mut child = std::process::Command::new(reel_path())
        .args(["checkpoint", "-q"])
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    assert!(peak > 0, "never sampled the process");
    eprintln!("peak RSS while checkpointing 4 GiB: {} MiB", peak / 1024);
    assert!(peak < 300 * 1024, "peak RSS {} MiB", peak / 1024);
}
