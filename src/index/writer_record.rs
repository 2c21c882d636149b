//! A registered writer's row in the `writers` table: who it is, when it registered,
//! and whether it may still run.

use super::db::now_s;
use super::error::IndexError;
use crate::liveness::{Liveness, ProcessId};

type Result<T, E = IndexError> = std::result::Result<T, E>;

/// What a registered process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterKind {
    /// Writes packs and publishes what references them.
    Writer,
    /// A garbage collection (at most one runs at a time).
    Gc,
}

/// A registered process, as the `writers` table keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterRecord {
    /// Who; `None` where the platform cannot name processes.
    pub process: Option<ProcessId>,
    /// The GC epoch when it registered.
    pub epoch: u64,
    /// Registration time, seconds since the epoch.
    pub created_s: u64,
    /// Writer or GC.
    pub kind: WriterKind,
}

impl WriterRecord {
    const LEN: usize = 38;

    pub(super) fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        let p = self.process.unwrap_or(ProcessId {
            pid: 0,
            started: 0,
            host: 0,
        });
        b[0] = u8::from(self.process.is_some());
        b[1..5].copy_from_slice(&p.pid.to_le_bytes());
        b[5..13].copy_from_slice(&p.started.to_le_bytes());
        b[13..21].copy_from_slice(&p.host.to_le_bytes());
        b[21..29].copy_from_slice(&self.epoch.to_le_bytes());
        b[29..37].copy_from_slice(&self.created_s.to_le_bytes());
        b[37] = match self.kind {
            WriterKind::Writer => 0,
            WriterKind::Gc => 1,
        };
        b
    }

    pub(super) fn decode(b: &[u8]) -> Result<Self> {
        if b.len() != Self::LEN {
            return Err(IndexError::Layout {
                table: "writers",
                len: b.len(),
            });
        }
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        let process = (b[0] == 1).then(|| ProcessId {
            pid: u32::from_le_bytes(b[1..5].try_into().expect("4 bytes")),
            started: u64_at(5),
            host: u64_at(13),
        });
        Ok(WriterRecord {
            process,
            epoch: u64_at(21),
            created_s: u64_at(29),
            kind: if b[37] == 1 {
                WriterKind::Gc
            } else {
                WriterKind::Writer
            },
        })
    }

    /// Whether the process may still be running: certainly when it is alive here; when
    /// it cannot be looked up (another machine or container), while it is younger than
    /// `grace_s` — the defence in depth for what this host cannot see.
    #[must_use]
    pub fn may_run(&self, grace_s: u64) -> bool {
        match self.process.map(ProcessId::liveness) {
            Some(Liveness::Alive) => true,
            Some(Liveness::Dead) => false,
            Some(Liveness::Unknown) | None => now_s().saturating_sub(self.created_s) < grace_s,
        }
    }
}
