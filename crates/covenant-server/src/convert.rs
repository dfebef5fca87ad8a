//! Conversions between the domain types and the JSON shapes, and the parsing of request values
//! that every route shares.

use axum::http::StatusCode;
use covenant_core::ledger::ConsentRecord;
use covenant_core::{Identity, LifecycleEvent, SubjectId};
use covenant_store::{StoreError, Subject, SubjectFlag};
use jiff::Timestamp;

use crate::api::{EventOut, FlagOut, IdentityIn, IdentityOut, LedgerRecordOut, SubjectOut};
use crate::error::{ClientError, Failure, Internal};

pub fn identity_out(i: &Identity) -> IdentityOut {
    IdentityOut { kind: i.kind_name(), value: i.value().to_owned() }
}

pub fn flag_out(f: &SubjectFlag) -> FlagOut {
    FlagOut {
        kind: f.kind.name(),
        set_at: f.set_at.to_string(),
        due: f.due.map(|d| d.to_string()),
        detail: f.detail.clone(),
    }
}

pub fn event_out(e: &LifecycleEvent) -> EventOut {
    EventOut { kind: e.kind.as_str().to_owned(), at: e.at.to_string(), detail: e.detail.clone() }
}

pub fn subject_out(s: &Subject, events: &[LifecycleEvent]) -> SubjectOut {
    SubjectOut {
        id: s.id.to_string(),
        subject_type: s.kind.clone(),
        identities: s.identities.iter().map(identity_out).collect(),
        birth_date: s.birth_date.map(|d| d.to_string()),
        jurisdiction: s.jurisdiction.as_ref().map(|j| j.as_str().to_owned()),
        created_at: s.created_at.to_string(),
        flags: s.flags.iter().map(flag_out).collect(),
        events: events.iter().map(event_out).collect(),
    }
}

pub fn record_out(r: &ConsentRecord) -> LedgerRecordOut {
    LedgerRecordOut {
        id: r.id.to_string(),
        purpose: r.purpose.clone(),
        status: r.status.as_str().to_owned(),
        policy_version: r.policy_version.clone(),
        purpose_hash: r.purpose_hash.clone(),
        notice_hash: r.notice_hash.clone(),
        method: r.method.as_str().to_owned(),
        at: r.at.to_string(),
        actor: r.actor.clone(),
        evidence: r.evidence.clone(),
    }
}

/// Parses an identity; the error names `<field>.kind` or `<field>.value`.
pub fn parse_identity(i: &IdentityIn, field: &str) -> Result<Identity, ClientError> {
    Identity::parse(&i.kind, &i.value).map_err(|e| {
        let part = if matches!(e, covenant_core::IdentityError::Kind(_) | covenant_core::IdentityError::Namespace(_)) {
            "kind"
        } else {
            "value"
        };
        ClientError::unprocessable("invalid_identity", e.to_string()).field(format!("{field}.{part}"))
    })
}

/// A subject id from a path or a body. A malformed id is answered like an unknown one.
pub fn parse_subject_id(s: &str) -> Result<SubjectId, ClientError> {
    SubjectId::parse(s).map_err(|_| ClientError::subject_not_found())
}

/// An RFC 3339 time, not in the future by more than a minute of clock skew.
pub fn parse_time(s: &str, field: &str, now: Timestamp) -> Result<Timestamp, ClientError> {
    let t: Timestamp = s.parse().map_err(|_| {
        ClientError::unprocessable(
            "invalid_time",
            format!("`{s}` is not a time in RFC 3339 form, such as `2025-01-16T09:30:00Z`"),
        )
        .field(field)
    })?;
    if now.checked_add(jiff::SignedDuration::from_secs(60)).is_ok_and(|limit| t > limit) {
        return Err(ClientError::unprocessable("invalid_time", format!("`{s}` is in the future")).field(field));
    }
    Ok(t)
}

/// Optional free text: at most 4 KiB.
pub fn check_text(v: &Option<String>, field: &str) -> Result<(), ClientError> {
    match v {
        Some(t) if t.len() > 4096 => {
            Err(ClientError::unprocessable("invalid_field", "at most 4096 bytes are accepted").field(field))
        }
        Some(t) if t.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) => {
            Err(ClientError::unprocessable("invalid_field", "control characters are not accepted").field(field))
        }
        _ => Ok(()),
    }
}

/// How every route reports a store error: not found (in this tenant) is a 404 that says nothing
/// more; a conflict is a 409; refused input a 422; the rest is ours.
pub fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::NotFound { what: "subject", .. } => ClientError::subject_not_found().into(),
        StoreError::NotFound { what, .. } => {
            ClientError::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}")).into()
        }
        StoreError::Conflict(m) => ClientError::new(StatusCode::CONFLICT, "conflict", m).into(),
        StoreError::Invalid { field, reason } => {
            ClientError::unprocessable("invalid_field", format!("{field} {reason}"))
                .field(field.replace(' ', "_"))
                .into()
        }
        other => Internal::new(other).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_errors_name_the_part_at_fault() {
        let bad_kind = IdentityIn { kind: "fax".into(), value: "1".into() };
        assert_eq!(
            parse_identity(&bad_kind, "identities[0]").unwrap_err().field.as_deref(),
            Some("identities[0].kind")
        );
        let bad_value = IdentityIn { kind: "email".into(), value: "nope".into() };
        let e = parse_identity(&bad_value, "identity").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("identity.value"));
        assert_eq!(e.code, "invalid_identity");
        let ok = IdentityIn { kind: "email".into(), value: " Ada@Example.com".into() };
        assert_eq!(parse_identity(&ok, "identity").unwrap().key(), "email:ada@example.com");
    }

    #[test]
    fn times_are_rfc3339_and_not_in_the_future() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert!(parse_time("2025-12-31T23:00:00Z", "at", now).is_ok());
        assert!(parse_time("2026-01-01T00:00:30Z", "at", now).is_ok());
        assert_eq!(parse_time("2026-01-02T00:00:00Z", "at", now).unwrap_err().code, "invalid_time");
        assert_eq!(parse_time("yesterday", "at", now).unwrap_err().field.as_deref(), Some("at"));
    }
}
