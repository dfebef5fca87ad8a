//! The audit log of the caller's tenant.

use axum::Extension;
use axum::extract::State;
use covenant_store::{Store as _, StoreError};

use crate::api::AuditVerification;
use crate::auth::Caller;
use crate::convert::store_failure;
use crate::error::{ErrorBody, Failure};
use crate::state::Shared;

/// Why the chain could not be checked (a broken chain is an answer, not an error).
#[derive(Debug, thiserror::Error)]
pub enum AuditRouteError {
    #[error("store")]
    Store(#[from] StoreError),
}

impl AuditRouteError {
    pub fn failure(self) -> Failure {
        match self {
            AuditRouteError::Store(e) => store_failure(e),
        }
    }
}

crate::route_error!(AuditRouteError);

/// Verify the tenant's audit chain: every entry's hash covers the previous entry's hash and its
/// own content, so any change, removal or reordering is found, at the first bad entry.
#[utoipa::path(
    get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "the result: intact, or the first bad entry", body = AuditVerification),
        (status = 403, description = "the key's role may not read the audit log", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn verify(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Result<axum::Json<AuditVerification>, AuditRouteError> {
    let tenant = caller.tenant.as_str().to_owned();
    let out = match state.store.verify_audit(&caller.tenant).await? {
        Ok(n) => AuditVerification { tenant, intact: true, entries: n, first_bad_entry: None, message: None },
        Err(e) => AuditVerification {
            tenant,
            intact: false,
            entries: e.seq().saturating_sub(1),
            first_bad_entry: Some(e.seq()),
            message: Some(e.to_string()),
        },
    };
    Ok(axum::Json(out))
}
