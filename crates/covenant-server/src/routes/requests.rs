//! Data-subject requests through the API: intake, verification by a one-time code sent by email
//! (or proof of identity checked by an operator), approval when the policy asks for it, legal due
//! dates and their one extension, withdrawal, and processor mode (customers, referrals to them,
//! their instructions). The work itself is done by the worker ([`crate::worker`]) through the
//! fulfillers ([`crate::fulfil`]).

use axum::Extension;
use axum::extract::{FromRequest, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use covenant_core::audit::AuditDraft;
use covenant_core::{CustomerId, Identity, Jurisdiction, RequestEvent, RequestId, RequestKind, RequestState};
use covenant_engine::deadline::{self, DeadlineError, DueDates};
use covenant_policy::model::{RequestHandling, Role as PolicyRole, Verification};
use covenant_store::{
    CODE_TTL, CodeCheck, CodeRefused, Customer, DataRequest, HistoryEntry, JobState, NewAttachment, NewCode,
    NewCustomer, NewRequest, RequestFilter, RequestSource, RequestStore as _, RequestUpdate, Role, Store as _,
    StoreError,
};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::answers::{self, ANSWER_TTL};
use crate::api::{
    ControllerResponseIn, CustomerIn, CustomerList, CustomerOut, HistoryOut, InstructionIn, JobList, JobOut,
    JurisdictionIn, NewRequestIn, ProofIn, ProofList, ProofOut, ReasonIn, RequestDetails, RequestList, RequestOut,
    VerifyIn,
};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::convert::{identity_out, parse_identity, store_failure};
use crate::error::{ClientError, ErrorBody, Failure, Internal};
use crate::fulfil::Format;
use crate::mail::texts;
use crate::secrets::{self, webhook_context};
use crate::state::{AppState, Shared};
use crate::worker::{FULFIL, FulfilJob, job, job_for_mail, notify_job};

/// The largest proof of identity, decoded: a scan or photo of an identity document.
pub const MAX_PROOF: usize = 10 * 1024 * 1024;

/// The largest body `POST /v1/requests/{id}/proof` takes: the base64 of [`MAX_PROOF`] bytes and
/// room for the JSON around it. It is that route's own limit (see [`crate::app`]); every other
/// route keeps [`crate::BODY_LIMIT`].
pub const PROOF_BODY_LIMIT: usize = MAX_PROOF.div_ceil(3) * 4 + 16 * 1024;

// Encrypted, a proof gains a 16-byte tag; the store must take the largest.
const _: () = assert!(MAX_PROOF + 16 <= covenant_store::MAX_ATTACHMENT_BYTES);

/// The refusal of a proof over [`MAX_PROOF`] (or a body over [`PROOF_BODY_LIMIT`]).
pub fn proof_too_large() -> ClientError {
    ClientError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "proof_too_large",
        format!(
            "a proof of identity is at most {} MiB ({MAX_PROOF} bytes) once decoded, sent as base64 in a JSON body of \
             at most {} KiB; send a smaller scan or photo of the document",
            MAX_PROOF / (1024 * 1024),
            PROOF_BODY_LIMIT / 1024
        ),
    )
    .field("content")
}

/// Says a body refused by the proof route's limit layer (by its `Content-Length`, before the
/// handler) with the proof's limit, instead of the generic 64 KiB one.
pub async fn proof_limit_refusal(res: Response) -> Response {
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE { proof_too_large().into_response() } else { res }
}

/// The body of a proof upload: a [`JsonBody`] whose refusal for size names the proof's limit.
#[derive(Debug)]
pub struct ProofBody(pub ProofIn);

impl<S: Send + Sync> FromRequest<S> for ProofBody {
    type Rejection = Failure;

    async fn from_request(req: axum::extract::Request, state: &S) -> std::result::Result<Self, Failure> {
        match JsonBody::<ProofIn>::from_request(req, state).await {
            Ok(JsonBody(p)) => Ok(ProofBody(p)),
            Err(Failure::Client(c)) if c.status == StatusCode::PAYLOAD_TOO_LARGE => Err(proof_too_large().into()),
            Err(e) => Err(e),
        }
    }
}

/// Why a request route failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("store")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl RequestError {
    pub fn failure(self) -> Failure {
        match self {
            RequestError::Client(c) => c.into(),
            RequestError::Store(StoreError::NotFound { what: "request", .. }) => not_found().into(),
            RequestError::Store(StoreError::NotFound { what: "customer", .. }) => customer_not_found().into(),
            RequestError::Store(StoreError::Conflict(m)) => {
                ClientError::new(StatusCode::CONFLICT, "invalid_state", m).into()
            }
            RequestError::Store(e) => store_failure(e),
            RequestError::Internal(m) => Internal::msg(m).into(),
        }
    }
}

crate::route_error!(RequestError);

type Result<T> = std::result::Result<T, RequestError>;

/// A request that does not exist, or belongs to another tenant: the two are indistinguishable.
fn not_found() -> ClientError {
    ClientError::new(StatusCode::NOT_FOUND, "request_not_found", "no such request")
}

fn customer_not_found() -> ClientError {
    ClientError::new(StatusCode::NOT_FOUND, "customer_not_found", "no such customer")
}

fn parse_id(s: &str) -> std::result::Result<RequestId, ClientError> {
    RequestId::parse(s).map_err(|_| not_found())
}

fn parse_customer(s: &str, field: &str) -> std::result::Result<CustomerId, ClientError> {
    CustomerId::parse(s).map_err(|_| customer_not_found().field(field))
}

fn draft(caller: &Caller, action: &str, id: impl std::fmt::Display, detail: Value) -> AuditDraft {
    AuditDraft::new(&caller.label, action, &format!("request:{id}"), detail.to_string())
}

fn unprocessable(code: &'static str, field: &str, message: impl Into<String>) -> RequestError {
    ClientError::unprocessable(code, message).field(field).into()
}

/// A line of text: 1 to `max` characters, no control characters.
fn check_line(v: &str, field: &str, max: usize) -> std::result::Result<(), ClientError> {
    if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ClientError::unprocessable("invalid_field", format!("must be 1 to {max} characters on one line"))
            .field(field));
    }
    Ok(())
}

/// Free text: at most `max` bytes, no control characters but line breaks.
fn check_text(v: &str, field: &str, max: usize) -> std::result::Result<(), ClientError> {
    if v.trim().is_empty() || v.len() > max || v.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ClientError::unprocessable(
            "invalid_field",
            format!("must be 1 to {max} bytes of text, without control characters"),
        )
        .field(field));
    }
    Ok(())
}

fn parse_jurisdiction(j: &JurisdictionIn) -> std::result::Result<Jurisdiction, ClientError> {
    let country = j.country.trim().to_ascii_uppercase();
    let text = match j.subdivision.as_deref().map(|s| s.trim().to_ascii_uppercase()) {
        Some(s) => format!("{country}-{s}"),
        None => country.clone(),
    };
    let ok = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
    match Jurisdiction::parse(&text) {
        Ok(parsed) if ok => Ok(parsed),
        _ => Err(ClientError::unprocessable(
            "invalid_jurisdiction",
            format!("`{text}` is not a country code such as `FI`, or a country and subdivision such as `US` and `CA`"),
        )
        .field("jurisdiction")),
    }
}

fn ts(t: Timestamp) -> String {
    t.to_string()
}

fn history_out(h: &HistoryEntry) -> HistoryOut {
    HistoryOut {
        at: ts(h.at),
        actor: h.actor.clone(),
        event: h.event.clone(),
        state: h.state.as_str().to_owned(),
        detail: serde_json::from_str(&h.detail).unwrap_or(Value::Null),
    }
}

pub fn request_out(r: &DataRequest, history: Option<&[HistoryEntry]>, now: Timestamp) -> RequestOut {
    RequestOut {
        id: r.id.to_string(),
        kind: r.kind.as_str().to_owned(),
        state: r.state.as_str().to_owned(),
        source: r.source.as_str().to_owned(),
        identity: identity_out(&r.identity),
        jurisdiction: r.jurisdiction.as_ref().map(|j| j.as_str().to_owned()),
        customer: r.customer.map(|c| c.to_string()),
        subject: r.subject.map(|s| s.to_string()),
        received_at: ts(r.received_at),
        due_at: ts(r.current_due()),
        original_due_at: ts(r.due_at),
        extended: r.extended_due_at.is_some(),
        extension_reason: r.extension_reason.clone(),
        acknowledge_by: r.acknowledge_by.map(ts),
        acknowledged_at: r.acknowledged_at.map(ts),
        overdue: r.is_overdue(now),
        details: serde_json::from_str(&r.details).unwrap_or(Value::Null),
        response: r.response.as_deref().and_then(|s| serde_json::from_str(s).ok()),
        closed_at: r.closed_at.map(ts),
        history: history.map(|h| h.iter().map(history_out).collect()),
    }
}

/// How a request about some data is handled (promises T7, O3, W9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    Handle,
    /// Handle it, then tell the customer (promise W9).
    HandleAndInform,
    /// The customer is the controller: refer the request to it (promises T7, O3).
    Refer,
}

/// For a request that names a customer: how the policy's processor activities handle requests;
/// `None` when the policy has no processor activity.
pub fn routing_for_customer(state: &AppState) -> Option<Routing> {
    let processor: Vec<_> = state.policy.policy.activities.iter().filter(|a| a.role == PolicyRole::Processor).collect();
    if processor.is_empty() {
        return None;
    }
    if processor.iter().any(|a| a.request_handling() == RequestHandling::HandleAndInformController) {
        Some(Routing::HandleAndInform)
    } else if processor.iter().all(|a| a.request_handling() == RequestHandling::ReferToController) {
        Some(Routing::Refer)
    } else {
        Some(Routing::Handle)
    }
}

/// For a known person: how the activities over their kind of data handle requests. A person
/// found only in data we process for customers is referred.
pub fn routing_for_subject_type(state: &AppState, kind: &str) -> (Routing, Option<String>) {
    let relevant: Vec<_> =
        state.policy.policy.activities.iter().filter(|a| a.subject_types.iter().any(|t| t == kind)).collect();
    if relevant.is_empty() {
        return (Routing::Handle, None);
    }
    let handling: Vec<RequestHandling> = relevant.iter().map(|a| a.request_handling()).collect();
    let controller = relevant.iter().find_map(|a| a.controller.clone());
    if handling.iter().all(|h| *h == RequestHandling::ReferToController) {
        (Routing::Refer, controller)
    } else if handling.contains(&RequestHandling::HandleAndInformController)
        && !handling.contains(&RequestHandling::Handle)
    {
        (Routing::HandleAndInform, controller)
    } else {
        (Routing::Handle, None)
    }
}

/// The referral: to the customer (by webhook or email, retried) and, to the person, who the
/// controller is.
fn refer_update(
    state: &AppState,
    req: &DataRequest,
    customer: Option<&Customer>,
    described: Option<&str>,
    actor: &str,
) -> RequestUpdate {
    let detail = json!({"customer": customer.map(|c| c.id.to_string()), "controller": customer.map(|c| c.name.clone()).or(described.map(str::to_owned))});
    let mut u = RequestUpdate::event(RequestEvent::Refer, actor, Timestamp::now(), detail.to_string());
    let controller = state.policy.policy.controller_name();
    if let Some(to) = &req.contact {
        let who = customer.map(|c| c.name.as_str()).or(described).unwrap_or("the customer who holds your data");
        let email =
            texts::referral(to, controller, &req.id.to_string(), who, customer.and_then(|c| c.email.as_deref()));
        u.enqueue.push(job_for_mail(req, email, false));
    }
    if let Some(c) = customer {
        u.enqueue.push(notify_job(req, c.id, "request.referred", None));
    }
    u
}

fn fulfil_job(req: &DataRequest) -> covenant_store::NewJob {
    job(&req.tenant, FULFIL, &FulfilJob { request: req.id.to_string() })
}

/// What follows verification: a referral (a person found only in customers' data), approval
/// (when the policy asks), or the queue.
async fn after_verification(state: &AppState, req: &DataRequest, actor: &str) -> Result<Vec<RequestUpdate>> {
    if req.customer.is_none() && req.source == RequestSource::Requester {
        let subject = match req.subject {
            Some(s) => Some(state.store.get_subject(&req.tenant, s).await?),
            None => state.store.find_subject_by_identity(&req.tenant, &req.identity).await?,
        };
        if let Some(s) = subject
            && let (Routing::Refer, described) = routing_for_subject_type(state, &s.kind)
        {
            return Ok(vec![refer_update(state, req, None, described.as_deref(), actor)]);
        }
    }
    let approval = state.policy.policy.rights.as_ref().is_some_and(|r| r.approval);
    let now = Timestamp::now();
    Ok(vec![if approval {
        RequestUpdate::event(RequestEvent::AskApproval, actor, now, "{}")
    } else {
        RequestUpdate::event(RequestEvent::Queue, actor, now, "{}").enqueue(fulfil_job(req))
    }])
}

/// Checks the details a kind needs, against the policy.
fn check_details(state: &AppState, kind: RequestKind, d: &RequestDetails) -> Result<()> {
    if let Some(n) = &d.note {
        check_text(n, "details.note", 4096)?;
    }
    let none_but_note = d.field.is_none()
        && d.value.is_none()
        && d.instructions.is_none()
        && d.activities.is_none()
        && d.direct_marketing.is_none();
    match kind {
        RequestKind::Rectification => {
            let (Some(field), Some(value)) = (&d.field, &d.value) else {
                return Err(unprocessable(
                    "missing_field",
                    "details",
                    "a rectification names the `field` to correct and its corrected `value`",
                ));
            };
            check_line(field, "details.field", 200)?;
            check_text(value, "details.value", 4096)?;
            if d.instructions.is_some() || d.activities.is_some() || d.direct_marketing.is_some() {
                return Err(unprocessable(
                    "invalid_field",
                    "details",
                    "a rectification takes only `field`, `value` and `note`",
                ));
            }
        }
        RequestKind::PostDeath => {
            let Some(i) = &d.instructions else {
                return Err(unprocessable(
                    "missing_field",
                    "details.instructions",
                    "instructions for after death are given in `instructions`",
                ));
            };
            check_text(i, "details.instructions", 16 * 1024)?;
            if d.field.is_some() || d.value.is_some() || d.activities.is_some() || d.direct_marketing.is_some() {
                return Err(unprocessable(
                    "invalid_field",
                    "details",
                    "instructions take only `instructions` and `note`",
                ));
            }
        }
        RequestKind::Objection => {
            let index = state.index();
            let activities = d.activities.as_deref().unwrap_or_default();
            if activities.is_empty() && d.direct_marketing != Some(true) {
                return Err(unprocessable(
                    "missing_field",
                    "details",
                    "an objection names the `activities` objected to, or sets `direct_marketing` to true",
                ));
            }
            for (i, a) in activities.iter().enumerate() {
                let field = format!("details.activities[{i}]");
                let Some(idx) = index.activity(a) else {
                    let known = index.activity_ids().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
                    return Err(unprocessable(
                        "unknown_activity",
                        &field,
                        format!("unknown activity `{a}`; expected one of: {known}"),
                    ));
                };
                if !index.activity_objectable(idx) {
                    return Err(unprocessable(
                        "not_objectable",
                        &field,
                        format!(
                            "activity `{a}` does not rest on legitimate interests or a public task and is not direct marketing, so it cannot be objected to (GDPR Art. 21)"
                        ),
                    ));
                }
            }
            if d.field.is_some() || d.value.is_some() || d.instructions.is_some() {
                return Err(unprocessable(
                    "invalid_field",
                    "details",
                    "an objection takes only `activities`, `direct_marketing` and `note`",
                ));
            }
        }
        _ if !none_but_note => {
            return Err(unprocessable(
                "invalid_field",
                "details",
                format!("a request of kind `{kind}` takes only a `note`"),
            ));
        }
        _ => {}
    }
    Ok(())
}

fn parse_kind(s: &str, state: &AppState) -> Result<RequestKind> {
    let kind: RequestKind =
        s.parse().map_err(|e: covenant_core::UnknownName| unprocessable("unknown_kind", "kind", e.to_string()))?;
    let offered = state.policy.policy.rights.as_ref().map(|r| r.offered.as_slice()).unwrap_or_default();
    if !kind.offered_by(offered) {
        return Err(unprocessable(
            "right_not_offered",
            "kind",
            format!("the policy does not offer the right a `{kind}` request exercises ({})", kind.right()),
        ));
    }
    Ok(kind)
}

fn due_dates(state: &AppState, jurisdiction: Option<&Jurisdiction>, received: Timestamp) -> Result<DueDates> {
    let rights = state
        .policy
        .policy
        .rights
        .as_ref()
        .ok_or_else(|| unprocessable("right_not_offered", "kind", "the policy offers no rights"))?;
    deadline::due_dates(rights, jurisdiction, received)
        .map_err(|e| RequestError::Internal(format!("computing a due date: {e}")))
}

/// Sends a fresh one-time code: recorded (hashed) first, then emailed.
async fn send_code(state: &AppState, caller: &Caller, req: &DataRequest) -> Result<DataRequest> {
    let Some(to) = req.contact.clone() else {
        return Err(unprocessable("missing_contact", "email", "a code can only be sent to an email address"));
    };
    let code = secrets::six_digits().map_err(|e| RequestError::Internal(e.to_string()))?;
    let salt = secrets::random::<16>().map_err(|e| RequestError::Internal(e.to_string()))?;
    let now = Timestamp::now();
    let new =
        NewCode { salt, hash: covenant_store::hash_code(&state.requests.keys.codes, &salt, &code), issued_at: now };
    let update = RequestUpdate::event(RequestEvent::SendCode, &caller.label, now, "{}");
    let audit = draft(caller, "request.code.send", req.id, json!({}));
    let w = match state.store.issue_code(&req.tenant, req.id, new, update, audit).await? {
        Ok(w) => w,
        Err(CodeRefused::TooMany { retry_at }) => {
            return Err(ClientError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_codes",
                format!(
                    "{} codes were sent in the last hour; ask again after {retry_at}",
                    covenant_store::CODES_PER_HOUR
                ),
            )
            .into());
        }
    };
    let controller = state.policy.policy.controller_name();
    let email = texts::code(&to, controller, req.kind, &code, CODE_TTL.as_secs() / 60);
    // Sent now, never queued: the code itself is stored nowhere.
    if let Err(e) = state.requests.mailer.send(&email).await {
        tracing::error!(error = %crate::error::cause_chain(&e), request = %req.id, "the verification code could not be sent");
        return Err(ClientError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "mail_unavailable",
            format!(
                "the verification code could not be sent; ask for a new one with POST /v1/requests/{}/code",
                req.id
            ),
        )
        .into());
    }
    Ok(w.value)
}

fn created(req: &DataRequest) -> Response {
    let location = format!("/v1/requests/{}", req.id);
    (StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(request_out(req, None, Timestamp::now())))
        .into_response()
}

/// Make a data-subject request.
///
/// The due date comes from the policy for the person's jurisdiction (the company's own promise
/// when shorter). An acknowledgement is emailed at once; when the policy asks for verification,
/// a six-digit code valid for 15 minutes is emailed to the person, to be given to
/// `POST /v1/requests/{id}/verify`. A request naming a `customer` whose data we only process is
/// referred to it (promises T7, O3).
#[utoipa::path(
    post, path = "/v1/requests", tag = "requests",
    request_body = NewRequestIn,
    responses(
        (status = 201, description = "received", body = RequestOut),
        (status = 404, description = "no such customer", body = ErrorBody),
        (status = 422, description = "unknown kind, a right the policy does not offer, bad identity or details", body = ErrorBody),
        (status = 503, description = "the code could not be emailed; the request exists, ask for a new code", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<NewRequestIn>,
) -> Result<Response> {
    let kind = parse_kind(&body.kind, &state)?;
    let identity = parse_identity(&body.identity, "identity")?;
    let contact = match &body.email {
        Some(e) => Some(
            Identity::email(e)
                .map_err(|err| unprocessable("invalid_email", "email", err.to_string()))?
                .value()
                .to_owned(),
        ),
        None if identity.kind() == covenant_core::IdentityKind::Email => Some(identity.value().to_owned()),
        None => None,
    };
    let details = body.details.clone().unwrap_or_default();
    check_details(&state, kind, &details)?;
    let jurisdiction = body.jurisdiction.as_ref().map(parse_jurisdiction).transpose()?;
    let customer = match &body.customer {
        Some(c) => Some(state.store.get_customer(&caller.tenant, parse_customer(c, "customer")?).await.map_err(
            |e| match e {
                StoreError::NotFound { .. } => RequestError::Client(customer_not_found().field("customer")),
                e => e.into(),
            },
        )?),
        None => None,
    };
    let routing = match &customer {
        Some(_) => Some(routing_for_customer(&state).ok_or_else(|| {
            unprocessable(
                "not_a_processor",
                "customer",
                "the policy has no activity in which we process data for a customer",
            )
        })?),
        None => None,
    };
    let verification = state.policy.policy.rights.as_ref().map_or(Verification::Required, |r| r.verification);
    let needs_code = routing != Some(Routing::Refer) && verification != Verification::None;
    if needs_code && contact.is_none() {
        return Err(unprocessable(
            "missing_contact",
            "email",
            "give an `email` address: the verification code and the answer are sent there",
        ));
    }
    let subject = state.store.find_subject_by_identity(&caller.tenant, &identity).await?;
    let jurisdiction = jurisdiction.or_else(|| subject.as_ref().and_then(|s| s.jurisdiction.clone()));
    let received = Timestamp::now();
    let dates = due_dates(&state, jurisdiction.as_ref(), received)?;
    let mut stored_details = serde_json::to_value(&details).unwrap_or_else(|_| json!({}));
    if routing == Some(Routing::HandleAndInform)
        && let Some(m) = stored_details.as_object_mut()
    {
        m.insert("inform_controller".into(), Value::Bool(true));
    }
    let new = NewRequest {
        tenant: caller.tenant.clone(),
        kind,
        source: RequestSource::Requester,
        identity: identity.clone(),
        contact: contact.clone(),
        subject: subject.as_ref().map(|s| s.id),
        jurisdiction: jurisdiction.clone(),
        customer: customer.as_ref().map(|c| c.id),
        received_at: received,
        due_at: dates.respond_by,
        acknowledge_by: dates.acknowledge_by,
        details: stored_details.to_string(),
        actor: caller.label.clone(),
    };
    let audit = AuditDraft::new(
        &caller.label,
        "request.create",
        "request",
        json!({"kind": kind, "identity_kind": identity.kind_name(), "customer": customer.as_ref().map(|c| c.id.to_string())}).to_string(),
    );
    let req = state.store.create_request(new, vec![], audit).await?.value;
    let controller = state.policy.policy.controller_name().to_owned();
    let mut first = Vec::new();
    if let Some(to) = &contact {
        let ack = texts::acknowledgement(to, &controller, kind, &req.id.to_string(), dates.respond_by, needs_code);
        first.push(
            RequestUpdate::note("acknowledgement_queued", &caller.label, received, "{}")
                .enqueue(job_for_mail(&req, ack, true)),
        );
    }
    if routing == Some(Routing::Refer) {
        first.push(refer_update(&state, &req, customer.as_ref(), None, &caller.label));
    } else if !needs_code {
        first.push(RequestUpdate::event(
            RequestEvent::SkipVerification,
            &caller.label,
            received,
            json!({"verification": "none"}).to_string(),
        ));
        first.extend(after_verification(&state, &req, &caller.label).await?);
    }
    let req = if first.is_empty() {
        req
    } else {
        let audit = draft(&caller, "request.route", req.id, json!({"routing": format!("{routing:?}")}));
        state.store.update_request(&caller.tenant, req.id, first, audit).await?.value
    };
    state.requests.wake.notify_one();
    let req = if needs_code { send_code(&state, &caller, &req).await? } else { req };
    Ok(created(&req))
}

/// A caller's request.
async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<DataRequest> {
    let id = parse_id(id)?;
    Ok(state.store.get_request(&caller.tenant, id).await?)
}

/// Send a new one-time code (the last one expired, was used up, or never arrived).
#[utoipa::path(
    post, path = "/v1/requests/{id}/code", tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    responses(
        (status = 200, description = "a new code was sent; earlier codes no longer work", body = RequestOut),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "the request is not waiting for verification", body = ErrorBody),
        (status = 429, description = "too many codes this hour", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn resend_code(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<axum::Json<RequestOut>> {
    let req = load(&state, &caller, &id).await?;
    let req = send_code(&state, &caller, &req).await?;
    Ok(axum::Json(request_out(&req, None, Timestamp::now())))
}

/// Verify a request with the one-time code (or, for operators, by the proof of identity).
///
/// A right code verifies the request, deletes any proof of identity (promise W10), and moves it
/// on: to the customer (a person found only in data we process for customers), to approval (when
/// the policy asks), or to the queue. A wrong code uses one of 5 attempts; an expired or used-up
/// code needs a new one (`POST /v1/requests/{id}/code`).
#[utoipa::path(
    post, path = "/v1/requests/{id}/verify", tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    request_body = VerifyIn,
    responses(
        (status = 200, description = "verified", body = RequestOut),
        (status = 403, description = "only operators may verify by proof", body = ErrorBody),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "not waiting for verification, or no code was sent", body = ErrorBody),
        (status = 422, description = "wrong, expired or used-up code", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn verify(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<VerifyIn>,
) -> Result<axum::Json<RequestOut>> {
    let req = load(&state, &caller, &id).await?;
    if req.state != RequestState::AwaitingVerification {
        return Err(ClientError::new(
            StatusCode::CONFLICT,
            "invalid_state",
            format!("a request that is `{}` is not waiting for verification", req.state),
        )
        .into());
    }
    let now = Timestamp::now();
    let mut then = vec![RequestUpdate::event(
        RequestEvent::Verify,
        &caller.label,
        now,
        json!({"by": if body.code.is_some() { "code" } else { "proof" }}).to_string(),
    )];
    then.extend(after_verification(&state, &req, &caller.label).await?);
    let req = match (&body.code, body.proof_checked) {
        (Some(code), None) => {
            let ok = draft(&caller, "request.verify", req.id, json!({"by": "code"}));
            let bad = draft(&caller, "request.verify.failed", req.id, json!({"by": "code"}));
            match state
                .store
                .check_code(&caller.tenant, req.id, code, &state.requests.keys.codes, now, then, ok, bad)
                .await?
            {
                CodeCheck::Verified(w) => w.value,
                CodeCheck::Wrong { attempts_left: 0 } => {
                    return Err(unprocessable(
                        "wrong_code",
                        "code",
                        "the code is wrong, and no attempts are left; ask for a new code",
                    ));
                }
                CodeCheck::Wrong { attempts_left } => {
                    return Err(unprocessable(
                        "wrong_code",
                        "code",
                        format!("the code is wrong; {attempts_left} attempt(s) left"),
                    ));
                }
                CodeCheck::Exhausted => {
                    return Err(unprocessable(
                        "code_exhausted",
                        "code",
                        "every attempt of this code was used; ask for a new code",
                    ));
                }
                CodeCheck::Expired => {
                    return Err(unprocessable("code_expired", "code", "the code has expired; ask for a new code"));
                }
                CodeCheck::NoCode => {
                    return Err(ClientError::new(
                        StatusCode::CONFLICT,
                        "no_code",
                        "no code is waiting; ask for a new code",
                    )
                    .into());
                }
            }
        }
        (None, Some(true)) => {
            if !matches!(caller.role, Role::Admin | Role::Operator) {
                return Err(ClientError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "only operators and admins may verify a request by its proof of identity",
                )
                .into());
            }
            if state.store.attachments(&caller.tenant, req.id).await?.is_empty() {
                return Err(ClientError::new(
                    StatusCode::CONFLICT,
                    "no_proof",
                    "the request holds no proof of identity to check",
                )
                .into());
            }
            let audit = draft(&caller, "request.verify", req.id, json!({"by": "proof"}));
            state.store.update_request(&caller.tenant, req.id, then, audit).await?.value
        }
        _ => return Err(unprocessable("invalid_body", "code", "give either `code` or `proof_checked: true`")),
    };
    state.requests.wake.notify_one();
    Ok(axum::Json(request_out(&req, None, Timestamp::now())))
}

/// Add a proof of identity (kept encrypted; deleted as soon as the request is verified, promise
/// W10): a scan or photo of an identity document, at most 10 MiB, base64 in JSON. This route
/// takes bodies up to 13,669 KiB (the base64 and the JSON around it); every other route, 64 KiB.
#[utoipa::path(
    post, path = "/v1/requests/{id}/proof", tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    request_body = ProofIn,
    responses(
        (status = 201, description = "kept, encrypted", body = ProofOut),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "the request is past verification, or holds 5 proofs", body = ErrorBody),
        (status = 413, description = "larger than 10 MiB decoded (`proof_too_large`)", body = ErrorBody),
        (status = 422, description = "not base64, or empty", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn add_proof(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ProofBody(body): ProofBody,
) -> Result<(StatusCode, axum::Json<ProofOut>)> {
    let req = load(&state, &caller, &id).await?;
    check_line(&body.name, "name", 200)?;
    check_line(&body.content_type, "content_type", 200)?;
    let plain = STANDARD
        .decode(body.content.trim())
        .map_err(|_| unprocessable("invalid_content", "content", "the content is not base64"))?;
    if plain.len() > MAX_PROOF {
        return Err(proof_too_large().into());
    }
    if plain.is_empty() {
        return Err(unprocessable("invalid_content", "content", "the proof is empty"));
    }
    let (nonce, ciphertext) = state
        .requests
        .keys
        .seal(req.id.to_string().as_bytes(), &plain)
        .map_err(|e| RequestError::Internal(e.to_string()))?;
    let att = NewAttachment {
        name: body.name,
        content_type: body.content_type,
        size: plain.len() as u64,
        nonce,
        ciphertext,
        added_at: Timestamp::now(),
    };
    let audit = draft(&caller, "request.proof.add", req.id, json!({"size": plain.len()}));
    let w = state.store.add_attachment(&caller.tenant, req.id, att, audit).await?;
    let a = w.value;
    Ok((
        StatusCode::CREATED,
        axum::Json(ProofOut {
            id: a.id.to_string(),
            name: a.name,
            content_type: a.content_type,
            size: a.size,
            added_at: ts(a.added_at),
            content: None,
        }),
    ))
}

/// Read a request's proofs of identity, decrypted (operators; an audited read).
#[utoipa::path(
    get, path = "/v1/requests/{id}/proof", tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    responses(
        (status = 200, description = "the proofs, base64", body = ProofList),
        (status = 404, description = "no such request", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn read_proof(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<axum::Json<ProofList>> {
    let req = load(&state, &caller, &id).await?;
    let stored = state.store.attachments(&caller.tenant, req.id).await?;
    state
        .store
        .record_read(&caller.tenant, draft(&caller, "request.proof.read", req.id, json!({"count": stored.len()})))
        .await?;
    let mut proofs = Vec::new();
    for a in stored {
        let plain = state
            .requests
            .keys
            .open(req.id.to_string().as_bytes(), &a.nonce, &a.ciphertext)
            .map_err(|e| RequestError::Internal(e.to_string()))?;
        proofs.push(ProofOut {
            id: a.id.to_string(),
            name: a.name,
            content_type: a.content_type,
            size: a.size,
            added_at: ts(a.added_at),
            content: Some(STANDARD.encode(plain)),
        });
    }
    Ok(axum::Json(ProofList { proofs }))
}

/// Which file of an answer.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnswerQuery {
    /// `html` (the readable report; the default), `json` or `csv` (a zip of CSV files).
    pub format: Option<String>,
}

/// The query of a download link. Other parameters (added by mail programs) are ignored.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AnswerLinkQuery {
    /// The token from the link.
    pub token: Option<String>,
    /// `html` (the readable report; the default), `json` or `csv` (a zip of CSV files).
    pub format: Option<String>,
}

fn parse_format(f: Option<&str>) -> std::result::Result<Format, ClientError> {
    match f {
        None => Ok(Format::Html),
        Some(f) => Format::parse(f).ok_or_else(|| {
            ClientError::unprocessable(
                "unknown_format",
                format!("unknown format `{f}`; expected one of: `html`, `json`, `csv`"),
            )
            .field("format")
        }),
    }
}

/// The one answer for a link that opens nothing: an unknown request, no answer, a wrong token or
/// an answer already deleted are indistinguishable.
fn no_answer_at_link() -> ClientError {
    ClientError::new(
        StatusCode::NOT_FOUND,
        "answer_not_found",
        format!(
            "no answer at this link: check that the whole link was copied; links work for {} days, after which the \
             answer is deleted",
            ANSWER_TTL.as_hours() / 24
        ),
    )
}

fn answer_expired(controller: &str, at: Timestamp) -> ClientError {
    ClientError::new(
        StatusCode::GONE,
        "answer_expired",
        format!(
            "this answer could be downloaded until {} and is being deleted; make a new request to {controller} \
             for a fresh copy",
            at.strftime("%-d %B %Y")
        ),
    )
}

/// One file of a kept answer, decrypted, as a download: an audited read, noted in the request's
/// history. The HTML report is shown in the browser; it runs no scripts and loads nothing.
async fn answer_file(
    state: &AppState,
    answer: &covenant_store::Answer,
    format: Format,
    audit: AuditDraft,
) -> Result<Response> {
    let missing = || {
        let have = answer.formats.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ");
        ClientError::new(
            StatusCode::NOT_FOUND,
            "format_not_available",
            format!("this answer has no `{}` file; it has: {have}", format.as_str()),
        )
        .field("format")
    };
    if !answer.formats.iter().any(|f| f == format.as_str()) {
        return Err(missing().into());
    }
    let Some(file) = state.store.read_answer_file(&answer.tenant, answer.request, format.as_str(), audit).await? else {
        return Err(missing().into());
    };
    let plain = state
        .requests
        .keys
        .open(&answers::context(answer.request, format), &file.nonce, &file.ciphertext)
        .map_err(|e| RequestError::Internal(e.to_string()))?;
    let disposition = match format {
        Format::Html => format!("inline; filename=\"{}\"", format.file_name()),
        _ => format!("attachment; filename=\"{}\"", format.file_name()),
    };
    let headers = [
        (header::CONTENT_TYPE, format.content_type().to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "no-store".to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        // The link's token must not travel on in a Referer.
        (header::REFERRER_POLICY, "no-referrer".to_owned()),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'"
                .to_owned(),
        ),
    ];
    Ok((headers, plain).into_response())
}

/// Download the answer to a fulfilled access or export request, from the link emailed to the
/// person (promises W6, P6): the readable report (`html`), or the same data as `json` or as a zip
/// of `csv` files. No key: the link's token opens this answer and nothing else, for 7 days after
/// the request was fulfilled; then the answer is deleted. A wrong token, an unknown request and
/// a deleted answer are answered alike.
#[utoipa::path(
    get, path = "/v1/public/requests/{id}/answer", tag = "requests",
    params(("id" = String, Path, description = "the request's id"), AnswerLinkQuery),
    responses(
        (status = 200, description = "the file: `text/html` (shown), `application/json` or `application/zip` (downloaded)",
         content(("text/html"), ("application/json"), ("application/zip"))),
        (status = 404, description = "no answer at this link (`answer_not_found`), or not in this format (`format_not_available`)", body = ErrorBody),
        (status = 410, description = "the link has expired (`answer_expired`)", body = ErrorBody),
        (status = 422, description = "unknown format", body = ErrorBody),
    )
)]
pub async fn download_answer(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<AnswerLinkQuery>,
) -> Result<Response> {
    let format = parse_format(q.format.as_deref())?;
    let (Ok(id), Some(token)) = (RequestId::parse(&id), q.token.as_deref()) else {
        return Err(no_answer_at_link().into());
    };
    let found = state.store.find_answers(id).await?;
    let keys = &state.requests.keys;
    if found.is_empty() {
        // As long as with an answer to check against: the time taken says nothing either.
        answers::matches(keys, &covenant_store::AnswerToken { salt: [0; 16], hash: [0; 32] }, token);
    }
    let Some(answer) = found.iter().find(|a| a.token.as_ref().is_some_and(|t| answers::matches(keys, t, token))) else {
        return Err(no_answer_at_link().into());
    };
    if Timestamp::now() >= answer.expires_at {
        return Err(answer_expired(state.policy.policy.controller_name(), answer.expires_at).into());
    }
    let audit = AuditDraft::new(
        "requester",
        "request.answer.download",
        &format!("request:{id}"),
        json!({"format": format.as_str(), "via": "link"}).to_string(),
    );
    answer_file(&state, answer, format, audit).await
}

/// Download the answer kept for the person (operators; an audited read): the same files as the
/// link emailed to them, while it is kept (7 days after the request was fulfilled).
#[utoipa::path(
    get, path = "/v1/requests/{id}/answer", tag = "requests",
    params(("id" = String, Path, description = "the request's id"), AnswerQuery),
    responses(
        (status = 200, description = "the file: `text/html`, `application/json` or `application/zip`",
         content(("text/html"), ("application/json"), ("application/zip"))),
        (status = 404, description = "no such request, no answer kept for it (`answer_not_found`), or not in this format", body = ErrorBody),
        (status = 410, description = "the answer has expired (`answer_expired`)", body = ErrorBody),
        (status = 422, description = "unknown format", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn read_answer(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<AnswerQuery>,
) -> Result<Response> {
    let format = parse_format(q.format.as_deref())?;
    let req = load(&state, &caller, &id).await?;
    let Some(answer) = state.store.answer(&caller.tenant, req.id).await? else {
        return Err(ClientError::new(
            StatusCode::NOT_FOUND,
            "answer_not_found",
            format!(
                "request `{}` has no answer to download: only fulfilled access and export requests have one, for {} days",
                req.id,
                ANSWER_TTL.as_hours() / 24
            ),
        )
        .into());
    };
    if Timestamp::now() >= answer.expires_at {
        return Err(answer_expired(state.policy.policy.controller_name(), answer.expires_at).into());
    }
    let audit = draft(&caller, "request.answer.read", req.id, json!({"format": format.as_str()}));
    answer_file(&state, &answer, format, audit).await
}

/// Approve a request waiting for approval (when the policy's `rights.approval` asks for it).
#[utoipa::path(
    post, path = "/v1/requests/{id}/approve", tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    responses(
        (status = 200, description = "approved and queued", body = RequestOut),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "not waiting for approval", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn approve(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<axum::Json<RequestOut>> {
    let req = load(&state, &caller, &id).await?;
    let u =
        RequestUpdate::event(RequestEvent::Approve, &caller.label, Timestamp::now(), "{}").enqueue(fulfil_job(&req));
    let req = state
        .store
        .update_request(&caller.tenant, req.id, vec![u], draft(&caller, "request.approve", req.id, json!({})))
        .await?
        .value;
    state.requests.wake.notify_one();
    Ok(axum::Json(request_out(&req, None, Timestamp::now())))
}

/// Reject a request, with the reason the person is told.
#[utoipa::path(
    post, path = "/v1/requests/{id}/reject", tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    request_body = ReasonIn,
    responses(
        (status = 200, description = "rejected; the person was emailed the reason", body = RequestOut),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "already closed, or being carried out", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn reject(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReasonIn>,
) -> Result<axum::Json<RequestOut>> {
    let req = load(&state, &caller, &id).await?;
    check_text(&body.reason, "reason", 2000)?;
    let mut u = RequestUpdate::event(
        RequestEvent::Reject,
        &caller.label,
        Timestamp::now(),
        json!({"reason": body.reason}).to_string(),
    );
    u.response = Some(json!({"rejected": true, "reason": body.reason}).to_string());
    if let Some(to) = &req.contact {
        let email = texts::rejection(to, state.policy.policy.controller_name(), &req.id.to_string(), &body.reason);
        u.enqueue.push(job_for_mail(&req, email, false));
    }
    let req = state
        .store
        .update_request(&caller.tenant, req.id, vec![u], draft(&caller, "request.reject", req.id, json!({})))
        .await?
        .value;
    state.requests.wake.notify_one();
    Ok(axum::Json(request_out(&req, None, Timestamp::now())))
}

/// Extend the deadline, once, with the reason the person is emailed; only where the law of the
/// request's jurisdiction allows an extension, and only before its notice limit.
#[utoipa::path(
    post, path = "/v1/requests/{id}/extend", tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    request_body = ReasonIn,
    responses(
        (status = 200, description = "extended", body = RequestOut),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "already extended, too late, no extension allowed, or closed", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn extend(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReasonIn>,
) -> Result<axum::Json<RequestOut>> {
    let req = load(&state, &caller, &id).await?;
    check_text(&body.reason, "reason", 2000)?;
    let dates = due_dates(&state, req.jurisdiction.as_ref(), req.received_at)?;
    let now = Timestamp::now();
    let until = deadline::extend(&dates, req.extended_due_at.is_some(), now).map_err(|e| {
        let code = match e {
            DeadlineError::AlreadyExtended => "already_extended",
            DeadlineError::TooLate { .. } => "extension_too_late",
            _ => "no_extension",
        };
        RequestError::Client(ClientError::new(StatusCode::CONFLICT, code, e.to_string()))
    })?;
    let mut u = RequestUpdate::event(
        RequestEvent::Extend,
        &caller.label,
        now,
        json!({"until": until.to_string(), "reason": body.reason}).to_string(),
    );
    u.extension = Some((until, body.reason.clone()));
    if let Some(to) = &req.contact {
        let email =
            texts::extension(to, state.policy.policy.controller_name(), &req.id.to_string(), until, &body.reason);
        u.enqueue.push(job_for_mail(&req, email, false));
    }
    let req = state
        .store
        .update_request(
            &caller.tenant,
            req.id,
            vec![u],
            draft(&caller, "request.extend", req.id, json!({"until": until.to_string()})),
        )
        .await?
        .value;
    state.requests.wake.notify_one();
    Ok(axum::Json(request_out(&req, None, now)))
}

/// The requester withdraws the request (not once a worker has begun carrying it out).
#[utoipa::path(
    post, path = "/v1/requests/{id}/withdraw", tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    responses(
        (status = 200, description = "withdrawn", body = RequestOut),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "closed, or being carried out", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn withdraw(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<axum::Json<RequestOut>> {
    let req = load(&state, &caller, &id).await?;
    let u = RequestUpdate::event(RequestEvent::Withdraw, &caller.label, Timestamp::now(), "{}");
    let req = state
        .store
        .update_request(&caller.tenant, req.id, vec![u], draft(&caller, "request.withdraw", req.id, json!({})))
        .await?
        .value;
    Ok(axum::Json(request_out(&req, None, Timestamp::now())))
}

/// Record what the controller answered to a referral.
#[utoipa::path(
    post, path = "/v1/requests/{id}/controller-response", tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    request_body = ControllerResponseIn,
    responses(
        (status = 200, description = "recorded in the request's history", body = RequestOut),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "the request was not referred", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn controller_response(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ControllerResponseIn>,
) -> Result<axum::Json<RequestOut>> {
    let req = load(&state, &caller, &id).await?;
    if !matches!(body.outcome.as_str(), "handled" | "refused" | "forwarded") {
        return Err(unprocessable(
            "invalid_field",
            "outcome",
            format!("unknown outcome `{}`; expected one of: `handled`, `refused`, `forwarded`", body.outcome),
        ));
    }
    if let Some(n) = &body.note {
        check_text(n, "note", 4096)?;
    }
    if req.state != RequestState::ReferredToController {
        return Err(ClientError::new(
            StatusCode::CONFLICT,
            "invalid_state",
            format!("a request that is `{}` was not referred to a controller", req.state),
        )
        .into());
    }
    let detail = json!({"outcome": body.outcome, "note": body.note});
    let u = RequestUpdate::note("controller_response", &caller.label, Timestamp::now(), detail.to_string());
    let req = state
        .store
        .update_request(
            &caller.tenant,
            req.id,
            vec![u],
            draft(&caller, "request.controller_response", req.id, json!({"outcome": body.outcome})),
        )
        .await?
        .value;
    Ok(axum::Json(request_out(&req, None, Timestamp::now())))
}

/// The filters of `GET /v1/requests`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only requests in this state.
    pub state: Option<String>,
    /// Only open requests past their due date.
    pub overdue: Option<bool>,
    /// At most this many (1 to 1000; default 100).
    pub limit: Option<u32>,
}

/// List requests by due date, earliest first.
#[utoipa::path(
    get, path = "/v1/requests", tag = "requests",
    params(ListQuery),
    responses(
        (status = 200, description = "the requests", body = RequestList),
        (status = 422, description = "unknown state or bad limit", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<RequestList>> {
    let filter_state = q
        .state
        .as_deref()
        .map(|s| s.parse::<RequestState>().map_err(|e| unprocessable("unknown_state", "state", e.to_string())))
        .transpose()?;
    if let Some(l) = q.limit
        && !(1..=1000).contains(&l)
    {
        return Err(unprocessable("invalid_field", "limit", "the limit is 1 to 1000"));
    }
    let now = Timestamp::now();
    let filter =
        RequestFilter { state: filter_state, overdue_at: q.overdue.filter(|o| *o).map(|_| now), limit: q.limit };
    let requests = state.store.list_requests(&caller.tenant, filter).await?;
    state
        .store
        .record_read(
            &caller.tenant,
            AuditDraft::new(&caller.label, "request.list", "requests", json!({"count": requests.len()}).to_string()),
        )
        .await?;
    Ok(axum::Json(RequestList { requests: requests.iter().map(|r| request_out(r, None, now)).collect() }))
}

/// A request, with its history.
#[utoipa::path(
    get, path = "/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    responses(
        (status = 200, description = "the request and its history", body = RequestOut),
        (status = 404, description = "no such request", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn get(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<axum::Json<RequestOut>> {
    let req = load(&state, &caller, &id).await?;
    let history = state.store.request_history(&caller.tenant, req.id).await?;
    state.store.record_read(&caller.tenant, draft(&caller, "request.read", req.id, json!({}))).await?;
    Ok(axum::Json(request_out(&req, Some(&history), Timestamp::now())))
}

fn customer_out(c: &Customer, secret: Option<String>) -> CustomerOut {
    CustomerOut {
        id: c.id.to_string(),
        name: c.name.clone(),
        email: c.email.clone(),
        webhook_url: c.webhook_url.clone(),
        webhook_secret: secret,
        created_at: ts(c.created_at),
    }
}

/// Register a customer: a controller the tenant processes data for (processor mode). Referrals
/// and completed instructions are POSTed to its webhook, signed with HMAC-SHA256 of the body
/// under its secret (`Covenant-Signature: sha256=<hex>`), or emailed.
#[utoipa::path(
    post, path = "/v1/customers", tag = "requests",
    request_body = CustomerIn,
    responses(
        (status = 201, description = "registered; a generated webhook secret is shown this once", body = CustomerOut),
        (status = 422, description = "no contact, bad address or URL, short secret", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn create_customer(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<CustomerIn>,
) -> Result<(StatusCode, axum::Json<CustomerOut>)> {
    check_line(&body.name, "name", 200)?;
    if let Some(e) = &body.email {
        Identity::email(e).map_err(|err| unprocessable("invalid_email", "email", err.to_string()))?;
    }
    if let Some(u) = &body.webhook_url {
        check_line(u, "webhook_url", 2000)?;
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            return Err(unprocessable("invalid_url", "webhook_url", format!("`{u}` is not an http or https URL")));
        }
    }
    if body.email.is_none() && body.webhook_url.is_none() {
        return Err(unprocessable("missing_contact", "email", "give a contact `email`, a `webhook_url` or both"));
    }
    let (secret, shown) = match (&body.webhook_secret, &body.webhook_url) {
        (Some(s), _) if s.len() < 32 || s.len() > 256 => {
            return Err(unprocessable("invalid_field", "webhook_secret", "a webhook secret is 32 to 256 characters"));
        }
        (Some(s), _) => (Some(s.clone()), None),
        (None, Some(_)) => {
            let raw = secrets::random::<32>().map_err(|e| RequestError::Internal(e.to_string()))?;
            let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            (Some(hex.clone()), Some(hex))
        }
        (None, None) => (None, None),
    };
    let sealed = secret
        .map(|s| state.requests.keys.seal_value(&webhook_context(&caller.tenant), s.as_bytes()))
        .transpose()
        .map_err(|e| RequestError::Internal(e.to_string()))?;
    let new = NewCustomer {
        tenant: caller.tenant.clone(),
        name: body.name.clone(),
        email: body.email.clone(),
        webhook_url: body.webhook_url.clone(),
        webhook_secret: sealed,
        created_at: Timestamp::now(),
    };
    let audit = AuditDraft::new(
        &caller.label,
        "customer.create",
        "customer",
        json!({"webhook": body.webhook_url.is_some(), "email": body.email.is_some()}).to_string(),
    );
    let c = state.store.create_customer(new, audit).await?.value;
    Ok((StatusCode::CREATED, axum::Json(customer_out(&c, shown))))
}

/// The tenant's customers.
#[utoipa::path(
    get, path = "/v1/customers", tag = "requests",
    responses((status = 200, description = "the customers", body = CustomerList)),
    security(("api_key" = []))
)]
pub async fn list_customers(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Result<axum::Json<CustomerList>> {
    let customers = state.store.list_customers(&caller.tenant).await?;
    Ok(axum::Json(CustomerList { customers: customers.iter().map(|c| customer_out(c, None)).collect() }))
}

/// A customer (controller) instructs access, export or erasure of its end user's data (promise
/// P7). No identity verification: the controller instructs, and the instruction is recorded;
/// the result goes back to the customer.
#[utoipa::path(
    post, path = "/v1/customers/{cid}/instructions", tag = "requests",
    params(("cid" = String, Path, description = "the customer's id")),
    request_body = InstructionIn,
    responses(
        (status = 201, description = "recorded and queued (or waiting for approval)", body = RequestOut),
        (status = 404, description = "no such customer", body = ErrorBody),
        (status = 422, description = "a kind other than access, export or erasure, or a bad identity", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn instruct(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(cid): Path<String>,
    JsonBody(body): JsonBody<InstructionIn>,
) -> Result<Response> {
    let cid = parse_customer(&cid, "cid")?;
    let customer = state.store.get_customer(&caller.tenant, cid).await?;
    let kind: RequestKind = body
        .kind
        .parse()
        .map_err(|e: covenant_core::UnknownName| unprocessable("unknown_kind", "kind", e.to_string()))?;
    if !matches!(kind, RequestKind::Access | RequestKind::Export | RequestKind::Erasure) {
        return Err(unprocessable(
            "invalid_instruction",
            "kind",
            "a customer instructs `access`, `export` or `erasure`",
        ));
    }
    let identity = parse_identity(&body.identity, "identity")?;
    let details = body.details.clone().unwrap_or_default();
    check_details(&state, kind, &details)?;
    let subject = state.store.find_subject_by_identity(&caller.tenant, &identity).await?;
    let received = Timestamp::now();
    let jurisdiction = subject.as_ref().and_then(|s| s.jurisdiction.clone());
    let dates = due_dates(&state, jurisdiction.as_ref(), received)?;
    let new = NewRequest {
        tenant: caller.tenant.clone(),
        kind,
        source: RequestSource::Controller,
        identity: identity.clone(),
        contact: None,
        subject: subject.as_ref().map(|s| s.id),
        jurisdiction,
        customer: Some(customer.id),
        received_at: received,
        due_at: dates.respond_by,
        acknowledge_by: None,
        details: serde_json::to_string(&details).unwrap_or_else(|_| "{}".into()),
        actor: caller.label.clone(),
    };
    let audit = AuditDraft::new(
        &caller.label,
        "request.instruct",
        &format!("customer:{}", customer.id),
        json!({"kind": kind, "identity_kind": identity.kind_name()}).to_string(),
    );
    let req = state.store.create_request(new, vec![], audit).await?.value;
    let mut updates = vec![RequestUpdate::event(
        RequestEvent::SkipVerification,
        &caller.label,
        received,
        json!({"instructed_by": customer.id.to_string()}).to_string(),
    )];
    updates.extend(after_verification(&state, &req, &caller.label).await?);
    let req = state
        .store
        .update_request(
            &caller.tenant,
            req.id,
            updates,
            draft(&caller, "request.route", req.id, json!({"source": "controller"})),
        )
        .await?
        .value;
    state.requests.wake.notify_one();
    Ok(created(&req))
}

/// The filters of `GET /v1/jobs`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// `pending`, `running` or `dead`.
    pub state: Option<String>,
}

/// The tenant's jobs: pending, running, and dead ones (out of attempts) with their last error.
#[utoipa::path(
    get, path = "/v1/jobs", tag = "requests",
    params(JobQuery),
    responses(
        (status = 200, description = "the jobs", body = JobList),
        (status = 422, description = "unknown state", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn jobs(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<JobQuery>,
) -> Result<axum::Json<JobList>> {
    let s = q
        .state
        .as_deref()
        .map(|s| {
            JobState::parse(s).ok_or_else(|| {
                unprocessable(
                    "unknown_state",
                    "state",
                    format!("unknown job state `{s}`; expected one of: `pending`, `running`, `dead`"),
                )
            })
        })
        .transpose()?;
    let jobs = state.store.list_jobs(&caller.tenant, s, 1000).await?;
    Ok(axum::Json(JobList {
        jobs: jobs
            .iter()
            .map(|j| JobOut {
                id: j.id.to_string(),
                kind: j.kind.clone(),
                state: j.state.as_str().to_owned(),
                run_at: ts(j.run_at),
                attempts: j.attempts,
                max_attempts: j.max_attempts,
                last_error: j.last_error.clone(),
                request: serde_json::from_str::<Value>(&j.payload)
                    .ok()
                    .and_then(|v| v["request"].as_str().map(str::to_owned)),
            })
            .collect(),
    }))
}
