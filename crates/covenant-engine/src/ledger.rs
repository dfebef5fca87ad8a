//! Building ledger records from what a person did, against the policy in force: the record gets
//! the policy's version and the purpose's current definition hash (promise K4), and names only
//! things the policy has.

use covenant_core::ledger::{CollectionMethod, ConsentRecord, ConsentStatus, sha256_hex};
use covenant_core::{RecordId, SubjectId, TenantId};
use jiff::Timestamp;

use crate::index::PolicyIndex;
use crate::state::LedgerKey;

/// What the person did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Consented to a purpose (or, for an opt-out purpose, opted back in).
    Give(&'a str),
    /// Withdrew consent (or opted out); affects only future processing (promise T2).
    Withdraw(&'a str),
    /// Said no when asked.
    Refuse(&'a str),
    /// Objected to an activity on legitimate interests or a public task, or to a direct-marketing
    /// activity (GDPR Art. 21).
    Object(&'a str),
    LiftObjection(&'a str),
    /// Objected to all direct marketing (Art. 21(2); absolute by 21(3)).
    ObjectToDirectMarketing,
    LiftDirectMarketingObjection,
    /// Opted out of disclosure to a recipient that offers it (promise P5).
    OptOutOfRecipient(&'a str),
    OptBackIntoRecipient(&'a str),
    /// Sent `Sec-GPC: 1`: an opt-out of sale, sharing and targeted advertising.
    Gpc,
}

/// Everything about a record that the caller knows and the policy does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMeta {
    pub id: RecordId,
    pub tenant: TenantId,
    pub subject: SubjectId,
    /// SHA-256 (hex) of the notice text the person was shown.
    pub notice_hash: String,
    pub method: CollectionMethod,
    pub at: Timestamp,
    pub actor: String,
    pub evidence: Option<String>,
}

/// Why a record cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("unknown consent purpose `{given}`; expected one of: {}", list(.known))]
    UnknownPurpose { given: String, known: Vec<String> },
    #[error("unknown activity `{given}`; expected one of: {}", list(.known))]
    UnknownActivity { given: String, known: Vec<String> },
    #[error("unknown recipient `{given}`; expected one of: {}", list(.known))]
    UnknownRecipient { given: String, known: Vec<String> },
    #[error(
        "activity `{activity}` rests on {bases}; an objection applies to processing on legitimate interests or a public task, and to direct marketing (GDPR Art. 21)"
    )]
    NotObjectable { activity: String, bases: String },
    #[error("recipient `{recipient}` offers no opt-out; only recipients the policy marks `opt_out = true` do")]
    NoOptOut { recipient: String },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "(none: the policy defines none)".to_owned();
    }
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Builds the ledger record for what the person did, validated against the policy.
pub fn record(index: &PolicyIndex, action: Action<'_>, meta: RecordMeta) -> Result<ConsentRecord, LedgerError> {
    let known = |ids: &mut dyn Iterator<Item = &str>| ids.map(str::to_owned).collect::<Vec<_>>();
    let (key, status) = match action {
        Action::Give(p) | Action::Withdraw(p) | Action::Refuse(p) => {
            let status = match action {
                Action::Give(_) => ConsentStatus::Given,
                Action::Withdraw(_) => ConsentStatus::Withdrawn,
                _ => ConsentStatus::Refused,
            };
            if index.purpose(p).is_none() {
                return Err(LedgerError::UnknownPurpose {
                    given: p.to_owned(),
                    known: known(&mut index.purpose_ids()),
                });
            }
            (LedgerKey::Purpose(p), status)
        }
        Action::Object(a) | Action::LiftObjection(a) => {
            let Some(idx) = index.activity(a) else {
                return Err(LedgerError::UnknownActivity {
                    given: a.to_owned(),
                    known: known(&mut index.activity_ids()),
                });
            };
            if !index.activity_objectable(idx) {
                let bases = index.activity_bases(idx);
                let bases = if bases.is_empty() {
                    "no legal basis of ours".to_owned()
                } else {
                    bases.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(" and ")
                };
                return Err(LedgerError::NotObjectable { activity: a.to_owned(), bases });
            }
            let status =
                if matches!(action, Action::Object(_)) { ConsentStatus::Refused } else { ConsentStatus::Given };
            (LedgerKey::Activity(a), status)
        }
        Action::ObjectToDirectMarketing => (LedgerKey::DirectMarketing, ConsentStatus::Refused),
        Action::LiftDirectMarketingObjection => (LedgerKey::DirectMarketing, ConsentStatus::Given),
        Action::OptOutOfRecipient(r) | Action::OptBackIntoRecipient(r) => {
            let Some(idx) = index.recipient(r) else {
                return Err(LedgerError::UnknownRecipient {
                    given: r.to_owned(),
                    known: known(&mut index.recipient_ids()),
                });
            };
            if !index.recipient_opt_out(idx) {
                return Err(LedgerError::NoOptOut { recipient: r.to_owned() });
            }
            let status = if matches!(action, Action::OptOutOfRecipient(_)) {
                ConsentStatus::Withdrawn
            } else {
                ConsentStatus::Given
            };
            (LedgerKey::Recipient(r), status)
        }
        Action::Gpc => (LedgerKey::Gpc, ConsentStatus::Refused),
    };
    let purpose_hash = match key {
        LedgerKey::Purpose(p) => index.purpose(p).map(|i| index.purpose_hash(i).to_owned()).unwrap_or_default(),
        other => {
            let field = other.to_field();
            let mut bytes = b"covenant-preference-v1".to_vec();
            bytes.extend_from_slice(field.as_bytes());
            sha256_hex(&bytes)
        }
    };
    Ok(ConsentRecord {
        id: meta.id,
        tenant: meta.tenant,
        subject: meta.subject,
        purpose: key.to_field(),
        status,
        policy_version: index.policy_version().to_string(),
        purpose_hash,
        notice_hash: meta.notice_hash,
        method: if action == Action::Gpc { CollectionMethod::GpcSignal } else { meta.method },
        at: meta.at,
        actor: meta.actor,
        evidence: meta.evidence,
    })
}

/// Consent given to a purpose.
pub fn give(index: &PolicyIndex, purpose: &str, meta: RecordMeta) -> Result<ConsentRecord, LedgerError> {
    record(index, Action::Give(purpose), meta)
}

/// Consent withdrawn from a purpose.
pub fn withdraw(index: &PolicyIndex, purpose: &str, meta: RecordMeta) -> Result<ConsentRecord, LedgerError> {
    record(index, Action::Withdraw(purpose), meta)
}

/// Consent refused for a purpose.
pub fn refuse(index: &PolicyIndex, purpose: &str, meta: RecordMeta) -> Result<ConsentRecord, LedgerError> {
    record(index, Action::Refuse(purpose), meta)
}
