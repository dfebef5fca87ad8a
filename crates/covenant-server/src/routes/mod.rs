//! The handlers, one module per area, and what they share.

pub mod audit;
pub mod consents;
pub mod decisions;
pub mod public;
pub mod requests;
pub mod subjects;
pub mod unsubscribe;

use axum::http::HeaderMap;
use covenant_core::audit::AuditDraft;
use covenant_core::ledger::CollectionMethod;
use covenant_core::{RecordId, SubjectId};
use covenant_engine::ledger::{Action, RecordMeta, record};
use covenant_store::{Store as _, StoreError};
use jiff::Timestamp;
use serde_json::json;

use crate::auth::Caller;
use crate::gpc;
use crate::state::Shared;

/// A new ledger record id.
pub fn record_id() -> RecordId {
    RecordId::from_uuid(uuid::Uuid::now_v7())
}

/// Records a `Sec-GPC: 1` header on an intake request as the person's opt-out of sale, sharing
/// and targeted advertising (W3C Global Privacy Control), unless one is already in force. Called
/// after the request's own write succeeded, so a refused request records nothing.
pub async fn record_gpc(
    state: &Shared,
    caller: &Caller,
    subject: SubjectId,
    headers: &HeaderMap,
    route: &str,
) -> Result<(), StoreError> {
    if !gpc::signalled(headers) {
        return Ok(());
    }
    let tc = state.tenant_cache(&caller.tenant);
    if state.subject_state(&tc, subject).await?.gpc_opt_out().is_some() {
        return Ok(());
    }
    let meta = RecordMeta {
        id: record_id(),
        tenant: caller.tenant.clone(),
        subject,
        notice_hash: state.policy.notice_hash.clone(),
        method: CollectionMethod::GpcSignal,
        at: Timestamp::now(),
        actor: "subject".to_owned(),
        evidence: Some(format!("`Sec-GPC: 1` on {route}, sent through {}", caller.label)),
    };
    let r = record(state.index(), Action::Gpc, meta)
        .map_err(|e| StoreError::Invalid { field: "purpose", reason: e.to_string() })?;
    let audit = AuditDraft::new(
        &caller.label,
        "consent.gpc",
        &format!("subject:{subject}"),
        json!({"record": r.id.to_string(), "signal": "Sec-GPC: 1", "route": route}).to_string(),
    );
    let w = state.store.append_consent(r, audit).await?;
    state.applied(&w.value);
    Ok(())
}
