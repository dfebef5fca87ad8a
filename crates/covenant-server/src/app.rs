//! The router, its middleware, the OpenAPI document and serving with graceful shutdown.

use std::future::Future;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Router, middleware};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ClientError, ErrorBody};
use crate::routes::{audit, consents, decisions, public, requests, subjects, unsubscribe};
use crate::state::Shared;
use crate::{BODY_LIMIT, auth};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Covenant",
        description = "Subjects, lifecycle events, the consent ledger and decisions, for one policy.\n\n\
Authenticate with `Authorization: Bearer <key>`; a key belongs to one tenant and has one role \
(`admin`, `operator`, `auditor`, `application`). Every error is `{\"code\", \"message\", \"field\"}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody)),
    tags(
        (name = "subjects", description = "Data subjects, their identities and lifecycle events"),
        (name = "consents", description = "The consent ledger, channel and partner preferences, unsubscribe links"),
        (name = "decisions", description = "May this activity use this data now?"),
        (name = "unsubscribe", description = "Signed unsubscribe links (RFC 8058 one-click)"),
        (name = "audit", description = "The tamper-evident audit log"),
        (name = "requests", description = "Data-subject requests, customers (processor mode) and the job queue"),
        (name = "service", description = "Health, GPC support, the public notice"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        }
    }
}

/// The routes that need a key, and their documentation. Request bodies are limited to
/// [`BODY_LIMIT`], but for the proof of identity, which has its own limit ([`proofs`]).
fn protected() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(subjects::register))
        .routes(routes!(subjects::lookup))
        .routes(routes!(subjects::get))
        .routes(routes!(subjects::add_identity))
        .routes(routes!(subjects::append_event))
        .routes(routes!(consents::record_consent, consents::history))
        .routes(routes!(consents::channel))
        .routes(routes!(consents::partner))
        .routes(routes!(consents::mint_unsubscribe))
        .routes(routes!(decisions::decide))
        .routes(routes!(decisions::batch))
        .routes(routes!(audit::verify))
        .routes(routes!(requests::create, requests::list))
        .routes(routes!(requests::get))
        .routes(routes!(requests::resend_code))
        .routes(routes!(requests::verify))
        .routes(routes!(requests::approve))
        .routes(routes!(requests::reject))
        .routes(routes!(requests::extend))
        .routes(routes!(requests::withdraw))
        .routes(routes!(requests::controller_response))
        .routes(routes!(requests::create_customer, requests::list_customers))
        .routes(routes!(requests::instruct))
        .routes(routes!(requests::jobs))
        .routes(routes!(requests::read_answer))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .merge(proofs())
}

/// The proof-of-identity routes, with a body limit of their own: a scan or photo of an identity
/// document is several MiB ([`requests::MAX_PROOF`], base64 in JSON: [`requests::PROOF_BODY_LIMIT`]).
/// The tower-http layer refuses a larger `Content-Length` before the body is read, and stops
/// reading one that grows past it; axum's extractors are told the same limit.
fn proofs() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(requests::add_proof, requests::read_proof))
        .layer(DefaultBodyLimit::max(requests::PROOF_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(requests::PROOF_BODY_LIMIT))
        .layer(middleware::map_response(requests::proof_limit_refusal))
}

/// The routes anyone may call.
fn open() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(public::healthz))
        .routes(routes!(public::gpc_json))
        .routes(routes!(public::notice))
        .routes(routes!(unsubscribe::confirm_page, unsubscribe::one_click))
        .routes(routes!(requests::download_answer))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    OpenApiRouter::<Shared>::with_openapi(ApiDoc::openapi()).merge(protected()).merge(open()).into_openapi()
}

/// The whole application. Also starts following other server processes' changes
/// ([`crate::AppState::watch_changes`]) when the store is on PostgreSQL.
pub fn router(state: Shared) -> Router {
    state.watch_changes();
    let protected = protected().route_layer(middleware::from_fn_with_state(state.clone(), auth::authorize));
    let (routes, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(protected).merge(open()).split_for_parts();
    let timeout = state.request_timeout;
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            // The path only: query strings and bodies may hold personal data.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        })
        .on_request(())
        .on_response(tower_http::trace::DefaultOnResponse::new().level(Level::INFO))
        .on_failure(DefaultOnFailure::new().level(Level::ERROR));
    let docs =
        Router::from(SwaggerUi::new("/docs").url("/openapi.json", doc)).layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    routes.merge(docs).fallback(not_found).with_state(state).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(trace)
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(middleware::map_response(json_errors))
            .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout)),
    )
}

async fn not_found() -> ClientError {
    ClientError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
}

/// Error answers made by the framework or middleware (405, 413, timeouts) carry plain text or
/// nothing; give them the JSON body every other error has.
async fn json_errors<B>(res: Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let res = res.map(Body::new);
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let ct = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.starts_with("application/json") || ct.starts_with("text/html") {
        return res;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this route does not take this method".to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("body_too_large", format!("the request body is larger than {} KiB", BODY_LIMIT / 1024))
        }
        StatusCode::SERVICE_UNAVAILABLE => ("timeout", "the request took too long and was abandoned".to_owned()),
        s if s.is_server_error() => ("internal", "internal error".to_owned()),
        _ => ("bad_request", status.canonical_reason().unwrap_or("bad request").to_lowercase()),
    };
    let mut out = ClientError::new(status, code, message).into_response();
    // Keep `Allow` on a 405 and the like.
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("interrupt received; finishing requests in flight"),
        () = term => tracing::info!("terminate received; finishing requests in flight"),
    }
}
