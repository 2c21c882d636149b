//! Garbage collection: a plan, then its application.
//!
//! See `docs/architecture.md` ("GC") for the protocol and why no interleaving with a
//! writer loses data.

mod apply;
mod guard;
mod mark;
mod plan;
mod shared;
#[cfg(test)]
mod shared_delta_tests;
#[cfg(test)]
mod shared_tests;

pub use apply::{GcOptions, GcReport, gc};
pub use guard::guard;
pub use mark::Roots;
pub use plan::{GcPlan, PackPlan};
pub use shared::learn;
