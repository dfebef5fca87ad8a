//! Covenant's HTTP API.

pub mod auth;
pub mod body;
pub mod error;
pub mod gpc;
pub mod telemetry;
pub mod token;

/// The largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;
