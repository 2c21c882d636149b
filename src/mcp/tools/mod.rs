//! The `artifact_*` tools, one file per group; each calls one library method.

mod blobs;
mod checkpoints;
mod files;
mod projects;
mod renders;

pub(crate) use blobs::mime_of_render;
pub(crate) use renders::job_result;
