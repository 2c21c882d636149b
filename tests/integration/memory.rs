//! Memory stays flat: checkpointing a 4 GiB file keeps peak RSS under 300 MiB.
//!
//! The file is sparse so that the test needs little disk (CI machines can have only a
//! few GiB free): 64 regions of 4 MiB of incompressible data, one every 64 MiB, with
//! holes between them. Every byte of the 4 GiB still goes through the reader, the
//! chunker and the hasher; the holes chunk into one repeated all-zero chunk, and the
//! 256 MiB of random regions go through compression and the pack writer.

use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;

use crate::util::{reel, reel_path, tempdir};

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const REGION: usize = 4 << 20;
const STRIDE: u64 = 64 << 20;
const SIZE: u64 = 4 << 30;

#[test]
fn checkpointing_a_4_gib_file_stays_under_300_mib() {
    let dir = tempdir();
    let path = dir.path().join("footage.mov");
    {
        let mut f = std::fs::File::create(&path).unwrap();
        f.set_len(SIZE).unwrap();
        let mut block = vec![0u8; REGION];
        for i in 0..SIZE / STRIDE {
            // Each region salted by its index so that no chunk repeats.
            let mut hasher = blake3::Hasher::new();
            hasher.update(&i.to_le_bytes());
            hasher.finalize_xof().fill(&mut block);
            f.seek(SeekFrom::Start(i * STRIDE)).unwrap();
            f.write_all(&block).unwrap();
        }
        f.sync_all().unwrap();
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), SIZE);
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
    // The random regions were stored, not skipped: the repository holds at least them.
    let stats = reel(dir.path()).args(["stats", "--json"]).output().unwrap();
    assert!(stats.status.success());
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    eprintln!("stats: {stats}");
    assert_eq!(stats["head_bytes"], SIZE);
    let random = (SIZE / STRIDE) * REGION as u64;
    let packed = stats["pack_bytes"].as_u64().unwrap();
    assert!(
        packed >= random,
        "packs hold {packed} bytes, fewer than the random {random}"
    );
}
