//! Data subjects: registration (with the minimum-age check), look-ups (audited reads), identities
//! and lifecycle events.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use covenant_core::audit::AuditDraft;
use covenant_core::{Identity, Jurisdiction, LifecycleEvent, LifecycleKind, SubjectId};
use covenant_engine::{PolicyIndex, UnderAge};
use covenant_store::{Also, AlsoWritten, FlagKind, NewSubject, Store as _, StoreError, Subject, SubjectFlag};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::json;

use crate::api::{AddIdentity, AppendEvent, EventRecorded, JurisdictionIn, LookupSubject, RegisterSubject, SubjectOut};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::convert::{
    check_text, event_out, flag_out, parse_identity, parse_subject_id, parse_time, store_failure, subject_out,
};
use crate::error::{ClientError, ErrorBody, Failure};
use crate::routes::consents::{GpcSignal, apply_also, gpc_also};
use crate::state::{Shared, link};

/// Why a subject request failed.
#[derive(Debug, thiserror::Error)]
pub enum SubjectError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("unknown subject type `{given}`; expected one of: {known}")]
    UnknownSubjectType { given: String, known: String },
    /// Promises W7, P8, O8, K10, T9.
    #[error("the person is under the minimum age of {minimum} that applies {place}; nothing was registered")]
    UnderMinimumAge { minimum: u8, place: String },
    #[error("an identity is already registered to another subject")]
    IdentityTaken(String),
    #[error("unknown lifecycle event `{0}`; expected one of: {list}", list = event_kinds())]
    UnknownEvent(String),
    #[error("store")]
    Store(#[from] StoreError),
}

impl ClientError {
    fn into_subject(self) -> SubjectError {
        SubjectError::Client(self)
    }
}

fn event_kinds() -> String {
    LifecycleKind::ALL.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

impl SubjectError {
    pub fn failure(self) -> Failure {
        let msg = self.to_string();
        match self {
            SubjectError::Client(c) => c.into(),
            SubjectError::UnknownSubjectType { .. } => {
                ClientError::unprocessable("unknown_subject_type", msg).field("type").into()
            }
            SubjectError::UnderMinimumAge { .. } => {
                ClientError::unprocessable("under_minimum_age", msg).field("birth_date").into()
            }
            SubjectError::IdentityTaken(field) => {
                ClientError::new(StatusCode::CONFLICT, "identity_taken", msg).field(field).into()
            }
            SubjectError::UnknownEvent(_) => ClientError::unprocessable("unknown_event", msg).field("kind").into(),
            SubjectError::Store(e) => store_failure(e),
        }
    }
}

crate::route_error!(SubjectError);

/// `YYYY-MM-DD`, not in the future.
fn parse_birth_date(s: &str, today: Date) -> Result<Date, ClientError> {
    let bad = || {
        ClientError::unprocessable("invalid_birth_date", format!("`{s}` is not a date in the form `YYYY-MM-DD`"))
            .field("birth_date")
    };
    if s.len() != 10 {
        return Err(bad());
    }
    let d: Date = s.parse().map_err(|_| bad())?;
    if d > today {
        return Err(
            ClientError::unprocessable("invalid_birth_date", format!("`{s}` is in the future")).field("birth_date")
        );
    }
    Ok(d)
}

/// Whole years from `birth` to `today`.
fn age_on(birth: Date, today: Date) -> i16 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// `{country: "us", subdivision: "ca"}` → (`US`, `CA`, jurisdiction `US-CA`).
fn parse_jurisdiction(j: &JurisdictionIn) -> Result<(String, Option<String>, Jurisdiction), ClientError> {
    let country = j.country.trim().to_ascii_uppercase();
    if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(ClientError::unprocessable(
            "invalid_jurisdiction",
            format!("`{}` is not a two-letter country code such as `FI` or `US`", j.country),
        )
        .field("jurisdiction.country"));
    }
    let sub = j.subdivision.as_deref().map(|s| s.trim().to_ascii_uppercase());
    let text = match &sub {
        Some(s) => format!("{country}-{s}"),
        None => country.clone(),
    };
    let parsed = Jurisdiction::parse(&text).map_err(|_| {
        ClientError::unprocessable(
            "invalid_jurisdiction",
            format!(
                "`{}` is not a subdivision code such as `CA` (for California)",
                j.subdivision.as_deref().unwrap_or("")
            ),
        )
        .field("jurisdiction.subdivision")
    })?;
    Ok((country, sub, parsed))
}

fn today() -> Date {
    Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

fn draft(caller: &Caller, action: &str, target: &str, detail: serde_json::Value) -> AuditDraft {
    AuditDraft::new(&caller.label, action, target, detail.to_string())
}

/// Register a data subject.
///
/// The subject type must be one of the policy's. When a birth date is given, a person under the
/// policy's minimum age where they live (or its default minimum age) is refused with
/// `under_minimum_age` and nothing is stored (promises W7, P8, O8, K10, T9). A `Sec-GPC: 1` header
/// is recorded as an opt-out of sale, sharing and targeted advertising.
#[utoipa::path(
    post, path = "/v1/subjects", tag = "subjects",
    request_body = RegisterSubject,
    params(("Sec-GPC" = Option<String>, Header, description = "`1`: Global Privacy Control opt-out")),
    responses(
        (status = 201, description = "registered", body = SubjectOut),
        (status = 409, description = "an identity belongs to another subject", body = ErrorBody),
        (status = 422, description = "unknown subject type, invalid identity or date, under the minimum age", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn register(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RegisterSubject>,
) -> Result<Response, SubjectError> {
    let policy = &state.policy.policy;
    if policy.subject_type(&req.subject_type).is_none() {
        let known = policy.subject_types.iter().map(|t| format!("`{}`", t.id)).collect::<Vec<_>>().join(", ");
        return Err(SubjectError::UnknownSubjectType { given: req.subject_type, known });
    }
    if req.identities.is_empty() {
        return Err(ClientError::unprocessable("missing_identity", "a subject needs at least one identity")
            .field("identities")
            .into_subject());
    }
    if req.identities.len() > 20 {
        return Err(ClientError::unprocessable(
            "too_many_identities",
            "at most 20 identities may be registered at once",
        )
        .field("identities")
        .into_subject());
    }
    let identities = req
        .identities
        .iter()
        .enumerate()
        .map(|(i, id)| parse_identity(id, &format!("identities[{i}]")))
        .collect::<Result<Vec<Identity>, _>>()?;
    let today = today();
    let birth_date = req.birth_date.as_deref().map(|s| parse_birth_date(s, today)).transpose()?;
    let place = req.jurisdiction.as_ref().map(parse_jurisdiction).transpose()?;
    // promises W7, P8, O8, K10, T9: refused before anything is stored.
    if let Some(birth) = birth_date {
        let index = state.index();
        let (minimum, where_) = match &place {
            Some((country, sub, j)) => (index.minimum_age(country, sub.as_deref()), format!("in `{}`", j.as_str())),
            None => (index.default_minimum_age(), "by default".to_owned()),
        };
        if let Some(minimum) = minimum
            && age_on(birth, today) < i16::from(minimum)
        {
            return Err(SubjectError::UnderMinimumAge { minimum, place: where_ });
        }
    }
    let kinds: Vec<String> = identities.iter().map(Identity::kind_name).collect();
    let new = NewSubject {
        tenant: caller.tenant.clone(),
        kind: req.subject_type.clone(),
        identities,
        birth_date,
        jurisdiction: place.map(|(_, _, j)| j),
        created_at: Timestamp::now(),
    };
    let audit =
        draft(&caller, "subject.register", "subject", json!({"type": req.subject_type, "identity_kinds": kinds}));
    // The registration and the request's GPC signal are one transaction.
    let signal = GpcSignal::of(&state, &caller, None, &headers, "POST /v1/subjects").await?;
    let also = move |s: &Subject| gpc_also(signal, s.id);
    let (written, also) = state.store.register_subject_with(new, audit, also).await.map_err(|e| match e {
        StoreError::Conflict(m) => SubjectError::IdentityTaken(taken_field(&m, &req)),
        e => SubjectError::Store(e),
    })?;
    let subject = written.value;
    link(&state.tenant_cache(&caller.tenant), &subject);
    apply_also(&state, &also);
    let location = format!("/v1/subjects/{}", subject.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(subject_out(&subject, &[]))).into_response())
}

/// Which identity of the request the store's conflict names.
fn taken_field(message: &str, req: &RegisterSubject) -> String {
    req.identities
        .iter()
        .position(|i| Identity::parse(&i.kind, &i.value).is_ok_and(|id| message.contains(&format!("`{}`", id.key()))))
        .map_or_else(|| "identities".to_owned(), |i| format!("identities[{i}]"))
}

/// Look up a subject by id (an audited read).
#[utoipa::path(
    get, path = "/v1/subjects/{id}", tag = "subjects",
    params(("id" = String, Path, description = "the subject's id")),
    responses(
        (status = 200, description = "the subject, its identities, flags and lifecycle events", body = SubjectOut),
        (status = 404, description = "no such subject in this tenant", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn get(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<axum::Json<SubjectOut>, SubjectError> {
    let id = parse_subject_id(&id)?;
    // The read and its audit entry are one transaction: no data leaves without its entry.
    let audit = draft(&caller, "subject.read", &format!("subject:{id}"), json!({"by": "id"}));
    let (subject, events) = state.store.read_subject(&caller.tenant, id, audit).await?.value;
    Ok(axum::Json(subject_out(&subject, &events)))
}

/// Look up a subject by one of its identities (an audited read). The identity is sent in the
/// body, so that it stays out of URLs and access logs.
#[utoipa::path(
    post, path = "/v1/subjects/lookup", tag = "subjects",
    request_body = LookupSubject,
    responses(
        (status = 200, description = "the subject", body = SubjectOut),
        (status = 404, description = "no subject has this identity in this tenant", body = ErrorBody),
        (status = 422, description = "invalid identity", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn lookup(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    JsonBody(req): JsonBody<LookupSubject>,
) -> Result<axum::Json<SubjectOut>, SubjectError> {
    let identity = parse_identity(&req.identity, "identity")?;
    // The read and its audit entry are one transaction; the entry names the subject found.
    let (label, by) = (caller.label.clone(), identity.kind_name());
    let audit = move |s: &Subject| {
        AuditDraft::new(&label, "subject.read", &format!("subject:{}", s.id), json!({"by": by}).to_string())
    };
    let (subject, events) = state.store.lookup_subject(&caller.tenant, &identity, audit).await?.value;
    Ok(axum::Json(subject_out(&subject, &events)))
}

/// Add an identity to a subject.
#[utoipa::path(
    post, path = "/v1/subjects/{id}/identities", tag = "subjects",
    params(("id" = String, Path, description = "the subject's id"),
           ("Sec-GPC" = Option<String>, Header, description = "`1`: Global Privacy Control opt-out")),
    request_body = AddIdentity,
    responses(
        (status = 200, description = "the subject with its identities", body = SubjectOut),
        (status = 404, description = "no such subject in this tenant", body = ErrorBody),
        (status = 409, description = "the identity belongs to another subject", body = ErrorBody),
        (status = 422, description = "invalid identity", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn add_identity(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AddIdentity>,
) -> Result<axum::Json<SubjectOut>, SubjectError> {
    let id = parse_subject_id(&id)?;
    let identity = parse_identity(&req.identity, "identity")?;
    let audit = draft(&caller, "subject.identity.add", &format!("subject:{id}"), json!({"kind": identity.kind_name()}));
    // The new identity and the request's GPC signal are one transaction.
    let signal = GpcSignal::of(&state, &caller, Some(id), &headers, "POST /v1/subjects/{id}/identities").await?;
    let (written, also) = state
        .store
        .add_identity_with(&caller.tenant, id, identity, Timestamp::now(), audit, gpc_also(signal, id))
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => SubjectError::IdentityTaken("identity".to_owned()),
            e => SubjectError::Store(e),
        })?;
    link(&state.tenant_cache(&caller.tenant), &written.value);
    apply_also(&state, &also);
    Ok(axum::Json(subject_out(&written.value, &[])))
}

/// Record a lifecycle event.
///
/// `deactivated` is not a deletion (promise T5). `deceased` takes the instructions the person
/// left in `detail` (promise W6) and stops all processing that needs the person. `underage_found`
/// flags the subject as under age, which stops processing, and schedules the deletion of their
/// data (promises W7, P8, O8, K10, T9).
#[utoipa::path(
    post, path = "/v1/subjects/{id}/events", tag = "subjects",
    params(("id" = String, Path, description = "the subject's id"),
           ("Sec-GPC" = Option<String>, Header, description = "`1`: Global Privacy Control opt-out")),
    request_body = AppendEvent,
    responses(
        (status = 201, description = "recorded", body = EventRecorded),
        (status = 404, description = "no such subject in this tenant", body = ErrorBody),
        (status = 422, description = "unknown event kind or invalid time", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn append_event(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AppendEvent>,
) -> Result<(StatusCode, axum::Json<EventRecorded>), SubjectError> {
    let id: SubjectId = parse_subject_id(&id)?;
    let kind: LifecycleKind = req.kind.parse().map_err(|_| SubjectError::UnknownEvent(req.kind.clone()))?;
    let now = Timestamp::now();
    let at = req.at.as_deref().map(|s| parse_time(s, "at", now)).transpose()?.unwrap_or(now);
    check_text(&req.detail, "detail")?;
    let target = format!("subject:{id}");
    let event = LifecycleEvent { kind, at, detail: req.detail.clone() };
    let audit = draft(&caller, "subject.event", &target, json!({"kind": kind.as_str(), "at": at.to_string()}));
    let signal = GpcSignal::of(&state, &caller, Some(id), &headers, "POST /v1/subjects/{id}/events").await?;
    // The event, the under-age flag it may call for and the request's GPC signal are one
    // transaction.
    let (index, label) = (state.index().clone(), caller.label.clone());
    let also = move |s: &Subject| {
        let mut also = Vec::new();
        if kind == LifecycleKind::UnderageFound {
            // promises W7, P8, O8, K10, T9: flagged at once (decisions deny from now on), and the
            // deletion of the person's data is due now.
            let detail = match minimum_for(&index, s) {
                Some(m) => format!("found to be under the minimum age of {m}; data to be deleted"),
                None => "found to be under the minimum age; data to be deleted".to_owned(),
            };
            let flag = SubjectFlag { kind: FlagKind::UnderAge, set_at: now, due: Some(now), detail: Some(detail) };
            let audit = AuditDraft::new(
                &label,
                "subject.flag.set",
                &format!("subject:{}", s.id),
                json!({"flag": "under_age", "due": now.to_string()}).to_string(),
            );
            also.push(Also::Flag(s.id, flag, audit));
        }
        also.extend(gpc_also(signal, s.id));
        also
    };
    let (written, also) = state.store.append_event_with(&caller.tenant, id, event, audit, also).await?;
    let tc = state.tenant_cache(&caller.tenant);
    let mut flags = Vec::new();
    for w in &also {
        if let AlsoWritten::Flag(w) = w {
            let minimum = minimum_for(state.index(), &w.value);
            tc.set_under_age(id, Some(UnderAge { minimum_age: minimum }));
            flags.extend(w.value.flag(&FlagKind::UnderAge).map(flag_out));
        }
    }
    if kind == LifecycleKind::Deceased {
        tc.set_deceased(id, true);
    }
    apply_also(&state, &also);
    Ok((StatusCode::CREATED, axum::Json(EventRecorded { event: event_out(&written.value), flags })))
}

/// The minimum age that applies to a subject.
fn minimum_for(index: &PolicyIndex, s: &Subject) -> Option<u8> {
    match s.jurisdiction.as_ref().map(|j| j.as_str().to_owned()) {
        Some(j) => {
            let (country, sub) = match j.split_once('-') {
                Some((c, s)) => (c.to_owned(), Some(s.to_owned())),
                None => (j, None),
            };
            index.minimum_age(&country, sub.as_deref())
        }
        None => index.default_minimum_age(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn ages_count_whole_years() {
        assert_eq!(age_on(d("2010-06-15"), d("2026-06-14")), 15);
        assert_eq!(age_on(d("2010-06-15"), d("2026-06-15")), 16);
        assert_eq!(age_on(d("2008-02-29"), d("2026-02-28")), 17);
        assert_eq!(age_on(d("2008-02-29"), d("2026-03-01")), 18);
    }

    #[test]
    fn birth_dates_and_places_are_checked() {
        let today = d("2026-01-01");
        assert!(parse_birth_date("1990-04-01", today).is_ok());
        assert_eq!(parse_birth_date("1990-4-1", today).unwrap_err().code, "invalid_birth_date");
        assert_eq!(parse_birth_date("2027-01-01", today).unwrap_err().code, "invalid_birth_date");
        let (c, s, j) =
            parse_jurisdiction(&JurisdictionIn { country: "us".into(), subdivision: Some("ca".into()) }).unwrap();
        assert_eq!((c.as_str(), s.as_deref(), j.as_str()), ("US", Some("CA"), "US-CA"));
        let e = parse_jurisdiction(&JurisdictionIn { country: "USA".into(), subdivision: None }).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("jurisdiction.country"));
        let e =
            parse_jurisdiction(&JurisdictionIn { country: "US".into(), subdivision: Some("CALI".into()) }).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("jurisdiction.subdivision"));
    }
}
