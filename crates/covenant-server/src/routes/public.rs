//! Routes without a key: health, the GPC support resource, the public notice.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use covenant_store::Store as _;

use crate::api::{GpcSupport, Health};
use crate::state::Shared;

/// Liveness and readiness: answers 200 when the store answers a query, 503 when it does not.
#[utoipa::path(
    get, path = "/healthz", tag = "service",
    responses(
        (status = 200, description = "the store answers", body = Health),
        (status = 503, description = "the store does not answer", body = Health),
    )
)]
pub async fn healthz(State(state): State<Shared>) -> Response {
    // One indexed look-up of a key that cannot exist: reaches the database, reads nothing.
    match state.store.find_api_key_by_hash(&[0; 32]).await {
        Ok(_) => axum::Json(Health { status: "ok".to_owned() }).into_response(),
        Err(e) => {
            tracing::error!(error = %crate::error::cause_chain(&e), "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(Health { status: "unavailable".to_owned() })).into_response()
        }
    }
}

/// The Global Privacy Control support resource (W3C GPC): this site honours `Sec-GPC: 1`.
#[utoipa::path(
    get, path = "/.well-known/gpc.json", tag = "service",
    responses((status = 200, description = "GPC is supported", body = GpcSupport))
)]
pub async fn gpc_json(State(state): State<Shared>) -> Response {
    let body = GpcSupport { gpc: true, last_update: state.policy.policy.policy.effective.clone() };
    ([(header::CONTENT_TYPE, "application/json")], axum::Json(body)).into_response()
}

/// The public privacy notice, rendered from the policy.
#[utoipa::path(
    get, path = "/v1/policy/notice", tag = "service",
    responses((status = 200, description = "the notice as an HTML page", content_type = "text/html"))
)]
pub async fn notice(State(state): State<Shared>) -> Response {
    let etag = format!("\"{}\"", state.policy.notice_hash);
    ([(header::ETAG, etag)], Html(state.policy.notice_html.clone())).into_response()
}
