//! The decision API: may this activity use these categories of this person's data now? Answered
//! from the engine's in-memory cache; a subject is read from the store only on its first decision,
//! and every ledger write is applied to the cache as soon as it commits, so a withdrawal is
//! visible to the very next decision. Writes by other server processes sharing a PostgreSQL
//! database drop the subject from the cache when their notice arrives; while notices cannot be
//! heard, decisions read through to the store (see [`crate::state`]).

use axum::Extension;
use axum::extract::State;
use covenant_core::{LegalBasis, SubjectId};
use covenant_engine::{Basis, Decision, Miss, Query, TenantCache};
use covenant_store::{Store as _, StoreError};
use jiff::Timestamp;

use crate::api::{BatchOut, BatchRequest, DecisionOut, DecisionRequest, Reason};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::convert::{parse_identity, parse_subject_id, store_failure};
use crate::error::{ClientError, ErrorBody, Failure};
use crate::state::{AppState, Shared, link};

/// The most decisions in one batch.
pub const MAX_BATCH: usize = 100;

/// Why a decision could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("store")]
    Store(#[from] StoreError),
}

impl DecisionError {
    pub fn failure(self) -> Failure {
        match self {
            DecisionError::Client(c) => c.into(),
            DecisionError::Store(e) => store_failure(e),
        }
    }

    /// The same error, its field under `decisions[i]`.
    fn at(self, i: usize) -> DecisionError {
        match self {
            DecisionError::Client(mut c) => {
                c.field = Some(match c.field {
                    Some(f) => format!("decisions[{i}].{f}"),
                    None => format!("decisions[{i}]"),
                });
                DecisionError::Client(c)
            }
            other => other,
        }
    }
}

crate::route_error!(DecisionError);

/// Whose data: by id or by identity key.
enum Who {
    Id(SubjectId),
    Identity(covenant_core::Identity),
}

/// Checks a request and prepares its query against the policy.
fn prepare(state: &AppState, req: &DecisionRequest) -> Result<(Who, Query), ClientError> {
    let index = state.index();
    let who = match (&req.subject.id, &req.subject.identity) {
        (Some(id), None) => Who::Id(parse_subject_id(id)?),
        (None, Some(i)) => Who::Identity(parse_identity(i, "subject.identity")?),
        _ => {
            return Err(ClientError::unprocessable("invalid_subject", "name the subject by either `id` or `identity`")
                .field("subject"));
        }
    };
    if index.activity(&req.activity).is_none() {
        let known = index.activity_ids().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
        return Err(ClientError::unprocessable(
            "unknown_activity",
            format!("unknown activity `{}`; expected one of: {known}", req.activity),
        )
        .field("activity"));
    }
    if let Some(r) = &req.recipient
        && index.recipient(r).is_none()
    {
        let known = index.recipient_ids().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
        return Err(ClientError::unprocessable(
            "unknown_recipient",
            format!("unknown recipient `{r}`; expected one of: {known}"),
        )
        .field("recipient"));
    }
    if req.categories.len() > 64 {
        return Err(
            ClientError::unprocessable("invalid_field", "at most 64 categories per decision").field("categories")
        );
    }
    let mut keys = Vec::with_capacity(req.categories.len());
    for (i, c) in req.categories.iter().enumerate() {
        let k = covenant_core::CategoryKey::parse(c).map_err(|e| {
            ClientError::unprocessable("invalid_category", e.to_string()).field(format!("categories[{i}]"))
        })?;
        keys.push(k);
    }
    let q = Query::new(index, &req.activity).with_categories(index, keys);
    let q = match &req.recipient {
        Some(r) => q.with_recipient(index, r),
        None => q,
    };
    Ok((who, q))
}

/// The subject an identity belongs to, from the cache or the store.
async fn resolve(state: &AppState, tc: &TenantCache, who: &Who) -> Result<SubjectId, DecisionError> {
    match who {
        Who::Id(id) => Ok(*id),
        Who::Identity(identity) => {
            let key = identity.key();
            if let Some(id) = tc.subject_of(&key) {
                return Ok(id);
            }
            let s = state
                .store
                .find_subject_by_identity(tc.tenant(), identity)
                .await
                .map_err(from_store)?
                .ok_or_else(ClientError::subject_not_found)?;
            link(tc, &s);
            Ok(s.id)
        }
    }
}

/// A subject missing from the store is the caller's error, so that a batch can name the item.
fn from_store(e: StoreError) -> DecisionError {
    match e {
        StoreError::NotFound { .. } => ClientError::subject_not_found().into(),
        e => DecisionError::Store(e),
    }
}

/// Decides one prepared query from the store, bypassing the cache.
async fn decide_read_through(
    state: &AppState,
    tc: &TenantCache,
    who: &Who,
    q: &Query,
) -> Result<Decision, DecisionError> {
    let subject = match who {
        Who::Id(id) => *id,
        Who::Identity(identity) => {
            let s = state.store.find_subject_by_identity(tc.tenant(), identity).await.map_err(from_store)?;
            s.ok_or_else(ClientError::subject_not_found)?.id
        }
    };
    let s = state.read_state(tc.tenant(), subject).await.map_err(from_store)?;
    Ok(covenant_engine::decide(tc.index(), &s, q, Timestamp::now()))
}

/// Decides one prepared query, loading the subject into the cache on a miss.
async fn decide_one(state: &AppState, tc: &TenantCache, who: &Who, q: &Query) -> Result<Decision, DecisionError> {
    if !state.cache_trusted() {
        return decide_read_through(state, tc, who, q).await;
    }
    let subject = resolve(state, tc, who).await?;
    loop {
        match tc.decide_subject(subject, q, Timestamp::now()) {
            Ok(d) => return Ok(d),
            Err(Miss::NotLoaded(s)) => state.ensure_loaded(tc, s).await.map_err(from_store)?,
            // A tenant's cache always exists here, and identities were resolved above.
            Err(Miss::Tenant | Miss::Identity) => return Err(ClientError::subject_not_found().into()),
        }
        // Loaded by a concurrent request that began first: let it finish.
        if tc.with_state(subject, |_| ()).is_none() {
            tokio::task::yield_now().await;
        }
    }
}

fn basis_name(b: &Basis) -> &'static str {
    match b {
        Basis::Contract => LegalBasis::Contract.as_str(),
        Basis::LegalObligation => LegalBasis::LegalObligation.as_str(),
        Basis::VitalInterests => LegalBasis::VitalInterests.as_str(),
        Basis::PublicTask => LegalBasis::PublicTask.as_str(),
        Basis::LegitimateInterests => LegalBasis::LegitimateInterests.as_str(),
        Basis::Consent { .. } | Basis::NotOptedOut { .. } => LegalBasis::Consent.as_str(),
        Basis::ControllerInstructions => "controller_instructions",
    }
}

fn out(state: &AppState, q: &Query, d: &Decision) -> DecisionOut {
    DecisionOut {
        allowed: d.is_allowed(),
        decision: if d.is_allowed() { "allow" } else { "deny" }.to_owned(),
        reason: Reason {
            code: d.code().to_owned(),
            message: d.message(state.index(), q),
            basis: match d {
                Decision::Allow(b) => Some(basis_name(b).to_owned()),
                Decision::Deny(_) => None,
            },
        },
    }
}

/// Decide: may this activity use these categories of this person's data now?
///
/// Answers allow or deny with the reason: a stable code, a sentence, and the legal basis an allow
/// rests on. Answered from memory; a consent withdrawn a moment ago is already denied.
#[utoipa::path(
    post, path = "/v1/decisions", tag = "decisions",
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "the decision", body = DecisionOut),
        (status = 404, description = "no such subject in this tenant", body = ErrorBody),
        (status = 422, description = "unknown activity or recipient, invalid category or identity", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn decide(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    JsonBody(req): JsonBody<DecisionRequest>,
) -> Result<axum::Json<DecisionOut>, DecisionError> {
    let (who, q) = prepare(&state, &req)?;
    let tc = state.tenant_cache(&caller.tenant);
    let d = decide_one(&state, &tc, &who, &q).await?;
    Ok(axum::Json(out(&state, &q, &d)))
}

/// Several decisions at once (at most 100), answered in order. A bad item fails the whole batch,
/// its field named as `decisions[i]…`.
#[utoipa::path(
    post, path = "/v1/decisions/batch", tag = "decisions",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "the decisions, in the order asked", body = BatchOut),
        (status = 404, description = "a subject does not exist in this tenant", body = ErrorBody),
        (status = 422, description = "a bad item, or more than 100", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn batch(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    JsonBody(req): JsonBody<BatchRequest>,
) -> Result<axum::Json<BatchOut>, DecisionError> {
    if req.decisions.len() > MAX_BATCH {
        return Err(ClientError::unprocessable(
            "too_many_decisions",
            format!("at most {MAX_BATCH} decisions per batch"),
        )
        .field("decisions")
        .into());
    }
    let prepared = req
        .decisions
        .iter()
        .enumerate()
        .map(|(i, r)| prepare(&state, r).map_err(|e| DecisionError::Client(e).at(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let tc = state.tenant_cache(&caller.tenant);
    let mut decisions = Vec::with_capacity(prepared.len());
    for (i, (who, q)) in prepared.iter().enumerate() {
        let d = decide_one(&state, &tc, who, q).await.map_err(|e| e.at(i))?;
        decisions.push(out(&state, q, &d));
    }
    Ok(axum::Json(BatchOut { decisions }))
}
