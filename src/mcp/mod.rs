//! The MCP face: `reel serve` over stdio and streamable HTTP. Every tool deserializes
//! typed parameters, calls exactly one library method and maps its errors; no storage
//! logic lives here.

mod apps;
mod auth;
mod error;
mod guard;
mod http;
mod outputs;
mod params;
mod reply;
mod resources;
mod server;
mod tasks;
mod tools;

pub use crate::artifact::TokenTable;
pub use error::ToolError;
pub use http::serve_http;
pub use server::{ReelServer, ServeOptions, serve_stdio};
