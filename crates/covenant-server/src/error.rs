//! Error answers. Every 4xx and 5xx carries the same JSON body, [`ErrorBody`]. Each route has its
//! own error enum whose variants are either client errors (a status, a stable code, a message
//! that may be shown to the caller, and the offending field) or internal errors, which are logged
//! with their whole cause chain and answered with an opaque 500.

use std::error::Error as StdError;
use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code: `unknown_field`, `under_minimum_age`, `not_found`, …
    #[schema(example = "unknown_purpose")]
    pub code: String,
    /// What went wrong, for a person.
    #[schema(example = "unknown consent purpose `newsleter`; expected one of: `newsletter`, `targeted_ads`")]
    pub message: String,
    /// The request field at fault, as a dotted path (`identities[0].value`), when there is one.
    #[schema(example = "purpose")]
    pub field: Option<String>,
}

/// A refusal the caller can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ClientError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ClientError {
        ClientError { status, code, message: message.into(), field: None }
    }

    pub fn field(mut self, field: impl Into<String>) -> ClientError {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ClientError {
        ClientError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ClientError {
        ClientError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// The one answer for a subject that does not exist *or belongs to another tenant*: the two
    /// must be indistinguishable.
    pub fn subject_not_found() -> ClientError {
        ClientError::new(StatusCode::NOT_FOUND, "subject_not_found", "no such subject")
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for ClientError {}

impl IntoResponse for ClientError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code.to_owned(), message: self.message, field: self.field };
        (self.status, axum::Json(body)).into_response()
    }
}

/// A failure of ours. The caller sees only an opaque 500; the log gets the cause chain.
#[derive(Debug)]
pub struct Internal(pub Box<dyn StdError + Send + Sync + 'static>);

impl Internal {
    pub fn new(e: impl StdError + Send + Sync + 'static) -> Internal {
        Internal(Box::new(e))
    }

    pub fn msg(m: impl Into<String>) -> Internal {
        Internal(m.into().into())
    }
}

impl IntoResponse for Internal {
    fn into_response(self) -> Response {
        tracing::error!(error = %cause_chain(&*self.0), "internal error");
        let body = ErrorBody {
            code: "internal".to_owned(),
            message: "internal error; the server log has the details under this request's id".to_owned(),
            field: None,
        };
        (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
    }
}

/// `outer: middle: root`.
pub fn cause_chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let _ = write!(out, ": {cause}");
        next = cause.source();
    }
    out
}

/// Either kind of failure; what every route error turns into.
#[derive(Debug)]
pub enum Failure {
    Client(ClientError),
    Internal(Internal),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Client(c) => c.into_response(),
            Failure::Internal(i) => i.into_response(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(c: ClientError) -> Failure {
        Failure::Client(c)
    }
}

impl From<Internal> for Failure {
    fn from(i: Internal) -> Failure {
        Failure::Internal(i)
    }
}

/// Implements `IntoResponse` for a route's error enum through its `failure()` method, which
/// sorts each variant into client or internal.
#[macro_export]
macro_rules! route_error {
    ($($t:ty),+ $(,)?) => {$(
        impl ::axum::response::IntoResponse for $t {
            fn into_response(self) -> ::axum::response::Response {
                self.failure().into_response()
            }
        }
    )+};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_cause_chain_names_every_cause() {
        let e = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(cause_chain(&e), "outer: disk on fire");
    }
}
