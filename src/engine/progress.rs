//! Progress reporting from long operations. The library never prints: it calls a
//! [`Progress`] the caller supplies (the CLI draws an indicatif bar with it).

/// Receives progress from a long operation. Called from many threads.
pub trait Progress: Send + Sync {
    /// A phase starts; `total` is in the phase's unit (bytes or items), when known.
    fn start(&self, phase: &str, total: Option<u64>);
    /// `n` more units of the current phase are done.
    fn advance(&self, n: u64);
    /// The operation ended.
    fn finish(&self);
}

/// Ignores all progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
