//! Covenant's HTTP API: the only crate that knows HTTP and JSON request and response shapes.
//!
//! - [`app::router`] builds the application from an [`state::AppState`] (the store, the policy
//!   compiled for decisions, the decision cache, the API-key cache and the unsubscribe signer).
//! - [`app::serve`] serves it with graceful shutdown; [`app::openapi`] is its OpenAPI document.
//! - Every `/v1` route but the unsubscribe links and the notice needs `Authorization: Bearer
//!   <key>`; [`auth::ROLE_TABLE`] says which roles may call which route.
//! - Every error answer is an [`error::ErrorBody`]; each route has its own error enum that sorts
//!   client errors (4xx, said to the caller) from internal ones (500, logged with their causes).

pub mod answers;
pub mod api;
pub mod app;
pub mod auth;
pub mod body;
mod convert;
pub mod datasets;
pub mod error;
pub mod fulfil;
pub mod gpc;
pub mod mail;
pub mod routes;
pub mod secrets;
pub mod state;
pub mod telemetry;
pub mod token;
pub mod worker;

pub use app::{openapi, router, serve, shutdown_signal};
pub use state::{AppState, Config, StartError};

/// The largest request body accepted, in bytes, on every route but the proof of identity's
/// (`routes::requests::PROOF_BODY_LIMIT`).
pub const BODY_LIMIT: usize = 64 * 1024;
