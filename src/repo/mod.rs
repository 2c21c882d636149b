//! [`Repository`]: the library's front door, over the engine and the services above it.

mod attach;
mod browse;
mod diffs;
mod open;
mod repository;
mod status;

pub use diffs::DiffOptions;
pub use repository::{DiffTarget, ListEntry, REPO_DIR_NAME, Repository};
pub use status::{Status, StatusBase};
