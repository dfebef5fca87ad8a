//! The consent ledger through the API: give, refuse and withdraw (each one call), the history and
//! current state, channel preferences, per-partner opt-outs and unsubscribe links.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use covenant_core::SubjectId;
use covenant_core::audit::AuditDraft;
use covenant_core::ledger::{CollectionMethod, ConsentRecord, project};
use covenant_engine::LedgerKey;
use covenant_engine::ledger::{Action, LedgerError, RecordMeta, record};
use covenant_policy::model::Channel;
use covenant_store::{Also, AlsoWritten, Store as _, StoreError};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::api::{
    ChannelOut, ChannelPreference, ConsentAction, ConsentHistory, ConsentStateOut, LedgerRecordOut, MethodIn,
    MintUnsubscribe, PartnerPreference, RecordConsent, UnsubscribeLink,
};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::convert::{check_text, parse_subject_id, record_out, store_failure};
use crate::error::{ClientError, ErrorBody, Failure};
use crate::gpc;
use crate::routes::record_id;
use crate::state::Shared;
use crate::token::{Target, Unsubscribe};

/// Why a consent request failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The field it concerns, and why.
    #[error("{1}")]
    Ledger(&'static str, LedgerError),
    #[error("unknown channel `{given}`; expected one of: {known}")]
    UnknownChannel { given: String, known: String },
    /// Promises O6, T6, P4.
    #[error("channel `{0}` carries service messages, which cannot be opted out of")]
    TransactionalOptOut(String),
    #[error("channel `{0}` carries service messages, which are always sent; there is nothing to subscribe to")]
    TransactionalOptIn(String),
    #[error("channel `{0}` is governed by no consent purpose in the policy, so it has no preference to record")]
    NoPreference(String),
    #[error("store")]
    Store(#[from] StoreError),
}

impl ConsentError {
    pub fn failure(self) -> Failure {
        let msg = self.to_string();
        match self {
            ConsentError::Client(c) => c.into(),
            ConsentError::Ledger(field, e) => {
                let code = match e {
                    LedgerError::UnknownPurpose { .. } => "unknown_purpose",
                    LedgerError::UnknownActivity { .. } => "unknown_activity",
                    LedgerError::UnknownRecipient { .. } => "unknown_recipient",
                    LedgerError::NotObjectable { .. } => "not_objectable",
                    LedgerError::NoOptOut { .. } => "no_opt_out",
                };
                ClientError::unprocessable(code, msg).field(field).into()
            }
            ConsentError::UnknownChannel { .. } => {
                ClientError::unprocessable("unknown_channel", msg).field("channel").into()
            }
            ConsentError::TransactionalOptOut(_) | ConsentError::TransactionalOptIn(_) => {
                ClientError::unprocessable("transactional_channel", msg).field("channel").into()
            }
            ConsentError::NoPreference(_) => {
                ClientError::unprocessable("channel_without_preference", msg).field("channel").into()
            }
            ConsentError::Store(e) => store_failure(e),
        }
    }
}

crate::route_error!(ConsentError);

fn method(m: Option<MethodIn>) -> CollectionMethod {
    match m.unwrap_or(MethodIn::Api) {
        MethodIn::WebForm => CollectionMethod::WebForm,
        MethodIn::Api => CollectionMethod::Api,
        MethodIn::EmailLink => CollectionMethod::EmailLink,
        MethodIn::Import => CollectionMethod::Import,
        MethodIn::Admin => CollectionMethod::Admin,
    }
}

fn check_notice_hash(h: &str) -> Result<(), ClientError> {
    if h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(ClientError::unprocessable(
            "invalid_notice_hash",
            "the notice hash must be a SHA-256 in lowercase hex (64 digits)",
        )
        .field("notice_hash"))
    }
}

fn check_actor(a: &str) -> Result<(), ClientError> {
    let ok = !a.trim().is_empty() && a.chars().count() <= 200 && !a.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(ClientError::unprocessable("invalid_field", "the actor must be 1 to 200 characters on one line")
            .field("actor"))
    }
}

/// What the handlers know about a record before the policy builds it.
struct Draft<'a> {
    subject: SubjectId,
    method: CollectionMethod,
    notice_hash: Option<String>,
    actor: Option<String>,
    evidence: Option<String>,
    /// The audit action: `consent.give`, `preference.channel`, …
    audit_action: &'a str,
    /// The request field the action's name came from, for errors.
    field: &'static str,
}

/// The `Sec-GPC: 1` signal a request carries (W3C Global Privacy Control), as a ledger record
/// (an opt-out of sale, sharing and targeted advertising) to write in the same transaction as
/// the request's own write, so that a refused request records nothing and an accepted one
/// records both.
pub(crate) struct GpcSignal {
    record: ConsentRecord,
    label: String,
    route: &'static str,
}

impl GpcSignal {
    /// The signal of a request, unless it carries none or the person's opt-out is already in
    /// force. `subject` is `None` for a person being registered (nothing can be in force).
    pub(crate) async fn of(
        state: &Shared,
        caller: &Caller,
        subject: Option<SubjectId>,
        headers: &HeaderMap,
        route: &'static str,
    ) -> Result<Option<GpcSignal>, StoreError> {
        if !gpc::signalled(headers) {
            return Ok(None);
        }
        if let Some(subject) = subject {
            let tc = state.tenant_cache(&caller.tenant);
            if state.subject_state(&tc, subject).await?.gpc_opt_out().is_some() {
                return Ok(None);
            }
        }
        let meta = RecordMeta {
            id: record_id(),
            tenant: caller.tenant.clone(),
            // Replaced by the subject's id in `also`.
            subject: subject.unwrap_or_else(|| SubjectId::from_uuid(uuid::Uuid::nil())),
            notice_hash: state.policy.notice_hash.clone(),
            method: CollectionMethod::GpcSignal,
            at: Timestamp::now(),
            actor: "subject".to_owned(),
            evidence: Some(format!("`Sec-GPC: 1` on {route}, sent through {}", caller.label)),
        };
        let record = record(state.index(), Action::Gpc, meta)
            .map_err(|e| StoreError::Invalid { field: "purpose", reason: e.to_string() })?;
        Ok(Some(GpcSignal { record, label: caller.label.clone(), route }))
    }

    /// The write, about `subject`, with its audit entry.
    pub(crate) fn also(self, subject: SubjectId) -> Also {
        let record = ConsentRecord { subject, ..self.record };
        let detail = json!({"record": record.id.to_string(), "signal": "Sec-GPC: 1", "route": self.route});
        let audit = AuditDraft::new(&self.label, "consent.gpc", &format!("subject:{subject}"), detail.to_string());
        Also::Consent(record, audit)
    }
}

/// The writes of a signal, if any, about `subject`.
pub(crate) fn gpc_also(signal: Option<GpcSignal>, subject: SubjectId) -> Vec<Also> {
    signal.map(|g| g.also(subject)).into_iter().collect()
}

/// Makes the ledger records written along with a request visible to the next decision.
pub(crate) fn apply_also(state: &Shared, written: &[AlsoWritten]) {
    for w in written {
        if let AlsoWritten::Consent(w) = w {
            state.applied(&w.value);
        }
    }
}

/// Builds the record against the policy, appends it with its audit entry and the request's GPC
/// signal (one transaction), and makes them visible to the next decision.
async fn append(
    state: &Shared,
    caller: &Caller,
    headers: &HeaderMap,
    route: &'static str,
    action: Action<'_>,
    d: Draft<'_>,
) -> Result<ConsentRecord, ConsentError> {
    let (actor_label, tenant) = (&caller.label, &caller.tenant);
    let meta = RecordMeta {
        id: record_id(),
        tenant: tenant.clone(),
        subject: d.subject,
        notice_hash: d.notice_hash.unwrap_or_else(|| state.policy.notice_hash.clone()),
        method: d.method,
        at: Timestamp::now(),
        actor: d.actor.unwrap_or_else(|| "subject".to_owned()),
        evidence: d.evidence,
    };
    let r = record(state.index(), action, meta).map_err(|e| ConsentError::Ledger(d.field, e))?;
    let detail = json!({"record": r.id.to_string(), "purpose": r.purpose, "status": r.status.as_str(), "method": r.method.as_str()});
    let audit = AuditDraft::new(actor_label, d.audit_action, &format!("subject:{}", d.subject), detail.to_string());
    let signal = GpcSignal::of(state, caller, Some(d.subject), headers, route).await?;
    let (w, also) = state.store.append_consent_with(r, audit, gpc_also(signal, d.subject)).await?;
    state.applied(&w.value);
    apply_also(state, &also);
    Ok(w.value)
}

/// Give, refuse or withdraw consent to a purpose.
///
/// Each is one append-only ledger record with the policy version, the hash of the purpose's
/// definition, the notice hash, the collection method, the actor and the evidence. Withdrawing
/// is one call, exactly like giving (GDPR Art. 7(3)), and the very next decision sees it.
#[utoipa::path(
    post, path = "/v1/subjects/{id}/consents", tag = "consents",
    params(("id" = String, Path, description = "the subject's id"),
           ("Sec-GPC" = Option<String>, Header, description = "`1`: Global Privacy Control opt-out")),
    request_body = RecordConsent,
    responses(
        (status = 201, description = "recorded", body = LedgerRecordOut),
        (status = 404, description = "no such subject in this tenant", body = ErrorBody),
        (status = 422, description = "unknown purpose, invalid notice hash or evidence", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn record_consent(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RecordConsent>,
) -> Result<(StatusCode, axum::Json<LedgerRecordOut>), ConsentError> {
    let subject = parse_subject_id(&id)?;
    if let Some(h) = &req.notice_hash {
        check_notice_hash(h)?;
    }
    if let Some(a) = &req.actor {
        check_actor(a)?;
    }
    check_text(&req.evidence, "evidence")?;
    let (action, audit_action) = match req.action {
        ConsentAction::Give => (Action::Give(&req.purpose), "consent.give"),
        ConsentAction::Refuse => (Action::Refuse(&req.purpose), "consent.refuse"),
        ConsentAction::Withdraw => (Action::Withdraw(&req.purpose), "consent.withdraw"),
    };
    let draft = Draft {
        subject,
        method: method(req.method),
        notice_hash: req.notice_hash.clone(),
        actor: req.actor.clone(),
        evidence: req.evidence.clone(),
        audit_action,
        field: "purpose",
    };
    let r = append(&state, &caller, &headers, "POST /v1/subjects/{id}/consents", action, draft).await?;
    Ok((StatusCode::CREATED, axum::Json(record_out(&r))))
}

/// The subject's consent ledger: every record in order, and the current state of each purpose and
/// preference (an audited read).
#[utoipa::path(
    get, path = "/v1/subjects/{id}/consents", tag = "consents",
    params(("id" = String, Path, description = "the subject's id")),
    responses(
        (status = 200, description = "the ledger and the state it adds up to", body = ConsentHistory),
        (status = 404, description = "no such subject in this tenant", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn history(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConsentHistory>, ConsentError> {
    let subject = parse_subject_id(&id)?;
    // The read and its audit entry are one transaction: no data leaves without its entry.
    let label = caller.label.clone();
    let audit = move |records: &[ConsentRecord]| {
        let detail = json!({"records": records.len()}).to_string();
        AuditDraft::new(&label, "consent.read", &format!("subject:{subject}"), detail)
    };
    let records = state.store.read_consent_history(&caller.tenant, subject, audit).await?.value;
    let index = state.index();
    let current = project(&records)
        .into_iter()
        .map(|(purpose, s)| {
            let current = match LedgerKey::parse(&purpose) {
                LedgerKey::Purpose(p) => index.purpose(p).is_some_and(|i| index.purpose_hash(i) == s.purpose_hash),
                _ => true,
            };
            ConsentStateOut {
                status: s.status.as_str().to_owned(),
                at: s.at.to_string(),
                policy_version: s.policy_version,
                current,
                record: s.record.to_string(),
                purpose,
            }
        })
        .collect();
    Ok(axum::Json(ConsentHistory {
        subject: subject.to_string(),
        records: records.iter().map(record_out).collect(),
        current,
    }))
}

fn find_channel<'a>(state: &'a Shared, id: &str) -> Result<&'a Channel, ConsentError> {
    let channels = &state.policy.policy.channels;
    channels.iter().find(|c| c.id == id).ok_or_else(|| ConsentError::UnknownChannel {
        given: id.to_owned(),
        known: channels.iter().map(|c| format!("`{}`", c.id)).collect::<Vec<_>>().join(", "),
    })
}

/// The consent purpose behind a channel a person may opt out of.
fn channel_purpose(c: &Channel, subscribed: bool) -> Result<&str, ConsentError> {
    // promises O6, T6, P4: service messages cannot be opted out of.
    if c.transactional {
        return Err(if subscribed {
            ConsentError::TransactionalOptIn(c.id.clone())
        } else {
            ConsentError::TransactionalOptOut(c.id.clone())
        });
    }
    c.consent_purpose.as_deref().ok_or_else(|| ConsentError::NoPreference(c.id.clone()))
}

/// Subscribe to or unsubscribe from a message channel.
///
/// Unsubscribing withdraws the consent purpose that governs the channel. Transactional channels
/// (service, billing, security messages) cannot be opted out of: 422 `transactional_channel`
/// naming the channel (promises O6, T6, P4).
#[utoipa::path(
    post, path = "/v1/subjects/{id}/channels", tag = "consents",
    params(("id" = String, Path, description = "the subject's id"),
           ("Sec-GPC" = Option<String>, Header, description = "`1`: Global Privacy Control opt-out")),
    request_body = ChannelPreference,
    responses(
        (status = 201, description = "recorded", body = ChannelOut),
        (status = 404, description = "no such subject in this tenant", body = ErrorBody),
        (status = 422, description = "unknown channel, or a transactional channel", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn channel(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ChannelPreference>,
) -> Result<(StatusCode, axum::Json<ChannelOut>), ConsentError> {
    let subject = parse_subject_id(&id)?;
    check_text(&req.evidence, "evidence")?;
    let c = find_channel(&state, &req.channel)?;
    let purpose = channel_purpose(c, req.subscribed)?;
    let action = if req.subscribed { Action::Give(purpose) } else { Action::Withdraw(purpose) };
    let evidence = req.evidence.clone().or_else(|| Some(format!("channel `{}` preference", c.id)));
    let draft = Draft {
        subject,
        method: CollectionMethod::Api,
        notice_hash: None,
        actor: None,
        evidence,
        audit_action: "preference.channel",
        field: "channel",
    };
    let r = append(&state, &caller, &headers, "POST /v1/subjects/{id}/channels", action, draft).await?;
    let out = ChannelOut {
        channel: c.id.clone(),
        purpose: purpose.to_owned(),
        subscribed: req.subscribed,
        record: record_out(&r),
    };
    Ok((StatusCode::CREATED, axum::Json(out)))
}

/// Opt out of (or back into) disclosure to one recipient that offers it (promise P5).
#[utoipa::path(
    post, path = "/v1/subjects/{id}/partners", tag = "consents",
    params(("id" = String, Path, description = "the subject's id"),
           ("Sec-GPC" = Option<String>, Header, description = "`1`: Global Privacy Control opt-out")),
    request_body = PartnerPreference,
    responses(
        (status = 201, description = "recorded", body = LedgerRecordOut),
        (status = 404, description = "no such subject in this tenant", body = ErrorBody),
        (status = 422, description = "unknown recipient, or one that offers no opt-out", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn partner(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<PartnerPreference>,
) -> Result<(StatusCode, axum::Json<LedgerRecordOut>), ConsentError> {
    let subject = parse_subject_id(&id)?;
    check_text(&req.evidence, "evidence")?;
    let action = if req.opted_out {
        Action::OptOutOfRecipient(&req.recipient)
    } else {
        Action::OptBackIntoRecipient(&req.recipient)
    };
    let draft = Draft {
        subject,
        method: CollectionMethod::Api,
        notice_hash: None,
        actor: None,
        evidence: req.evidence.clone(),
        audit_action: "preference.partner",
        field: "recipient",
    };
    let r = append(&state, &caller, &headers, "POST /v1/subjects/{id}/partners", action, draft).await?;
    Ok((StatusCode::CREATED, axum::Json(record_out(&r))))
}

/// Mint a signed unsubscribe link for a subject and a consent purpose or channel (promise W4).
///
/// Put `list_unsubscribe` in the email's `List-Unsubscribe` header and `list_unsubscribe_post` in
/// `List-Unsubscribe-Post` (RFC 8058 one-click), and the URL in the footer.
#[utoipa::path(
    post, path = "/v1/subjects/{id}/unsubscribe-links", tag = "consents",
    params(("id" = String, Path, description = "the subject's id")),
    request_body = MintUnsubscribe,
    responses(
        (status = 201, description = "the link", body = UnsubscribeLink),
        (status = 404, description = "no such subject in this tenant", body = ErrorBody),
        (status = 422, description = "unknown purpose or channel, a transactional channel, both or neither named", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn mint_unsubscribe(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<MintUnsubscribe>,
) -> Result<(StatusCode, axum::Json<UnsubscribeLink>), ConsentError> {
    let subject = parse_subject_id(&id)?;
    let target = match (&req.purpose, &req.channel) {
        (Some(p), None) => {
            if state.index().purpose(p).is_none() {
                let known = state.index().purpose_ids().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
                return Err(ClientError::unprocessable(
                    "unknown_purpose",
                    format!("unknown consent purpose `{p}`; expected one of: {known}"),
                )
                .field("purpose")
                .into());
            }
            Target::Purpose(p.clone())
        }
        (None, Some(c)) => {
            channel_purpose(find_channel(&state, c)?, false)?;
            Target::Channel(c.clone())
        }
        _ => {
            return Err(ClientError::unprocessable("invalid_target", "name either a `purpose` or a `channel`").into());
        }
    };
    let days = req.valid_days.unwrap_or(365);
    if !(1..=3650).contains(&days) {
        return Err(ClientError::unprocessable("invalid_field", "a link may be valid for 1 to 3650 days")
            .field("valid_days")
            .into());
    }
    let expires = Timestamp::now()
        .checked_add(SignedDuration::from_hours(24 * i64::from(days)))
        .map_err(|_| ClientError::unprocessable("invalid_field", "the expiry is out of range").field("valid_days"))?;
    let what = match &target {
        Target::Purpose(p) => json!({"purpose": p}),
        Target::Channel(c) => json!({"channel": c}),
    };
    let audit =
        AuditDraft::new(&caller.label, "unsubscribe_link.create", &format!("subject:{subject}"), what.to_string());
    // The subject must exist in this tenant; the mint is recorded as a use of the subject's data,
    // checked and recorded in one transaction.
    state.store.record_subject_read(&caller.tenant, subject, audit).await?;
    let token = state.signer.sign(&Unsubscribe { tenant: caller.tenant.clone(), subject, target, expires });
    let url = format!("{}/v1/unsubscribe/{token}", state.public_url);
    Ok((
        StatusCode::CREATED,
        axum::Json(UnsubscribeLink {
            list_unsubscribe: format!("<{url}>"),
            list_unsubscribe_post: "List-Unsubscribe=One-Click".to_owned(),
            expires_at: expires.to_string(),
            url,
            token,
        }),
    ))
}
