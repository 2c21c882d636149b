//! Whether a process still runs, across pid reuse and across machines.
//!
//! A process is named by its pid, its start time (clock ticks since boot, field 22 of
//! `/proc/PID/stat`) and a key of the host it runs on (boot id, pid namespace and host
//! name). On the same host key the answer is certain: the process is alive exactly when
//! `/proc/PID/stat` shows the same start time. Another host key (another machine,
//! container or boot) cannot be looked into, so the answer is [`Liveness::Unknown`] and
//! callers fall back to the age of what the process wrote.

use serde::{Deserialize, Serialize};

/// A process, identified across pid reuse by its start time and host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    /// Its pid, as its own pid namespace sees it.
    pub pid: u32,
    /// Start time in clock ticks since boot.
    pub started: u64,
    /// The host key; 0 in records written before host keys existed (read as this host).
    #[serde(default)]
    pub host: u64,
}

/// What can be said of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It runs.
    Alive,
    /// It is gone (its pid is free or names another process).
    Dead,
    /// It ran on another host, container or boot: nothing can be said.
    Unknown,
}

impl ProcessId {
    /// This process (read once).
    #[must_use]
    pub fn current() -> Option<ProcessId> {
        static CURRENT: std::sync::OnceLock<Option<ProcessId>> = std::sync::OnceLock::new();
        *CURRENT.get_or_init(|| {
            let pid = std::process::id();
            Some(ProcessId {
                pid,
                started: start_ticks(pid)?,
                host: host_key()?,
            })
        })
    }

    /// Whether the process still runs.
    #[must_use]
    pub fn liveness(self) -> Liveness {
        match host_key() {
            Some(here) if self.host == here || self.host == 0 => {
                if start_ticks(self.pid) == Some(self.started) {
                    Liveness::Alive
                } else {
                    Liveness::Dead
                }
            }
            _ => Liveness::Unknown,
        }
    }
}

/// Whether the process with this pid on this host is alive (for names that carry only a
/// pid, such as temporary files).
#[must_use]
pub fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; fields after the last
    // `)` are plain numbers.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// A key for "processes here can be looked up in this `/proc`": boot id, pid namespace
/// and host name. Never 0.
fn host_key() -> Option<u64> {
    static KEY: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *KEY.get_or_init(|| {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let mut h = blake3::Hasher::new();
        h.update(boot.trim().as_bytes());
        h.update(b"\0");
        h.update(ns.to_string_lossy().as_bytes());
        h.update(b"\0");
        h.update(host.trim().as_bytes());
        let bytes: [u8; 8] = h.finalize().as_bytes()[..8]
            .try_into()
            .expect("8 bytes of a hash");
        Some(u64::from_le_bytes(bytes).max(1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_dead() {
        let me = ProcessId::current().expect("Linux has /proc");
        assert_eq!(me.liveness(), Liveness::Alive);
        let reused = ProcessId {
            started: me.started + 1,
            ..me
        };
        assert_eq!(reused.liveness(), Liveness::Dead);
        let elsewhere = ProcessId {
            host: me.host ^ 1,
            ..me
        };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
    }

    #[test]
    fn an_exited_child_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let id = ProcessId {
            pid,
            started: start_ticks(pid).unwrap_or(0),
            host: host_key().unwrap(),
        };
        child.wait().unwrap();
        assert_eq!(id.liveness(), Liveness::Dead);
    }
}
