//! The consent and preference ledger, shaped after ISO/IEC TS 27560 consent records (as mapped
//! by W3C DPV): an append-only list of records, whose current state is a projection.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::{RecordId, SubjectId, TenantId, wire_enum};

wire_enum! {
    /// The state a record puts a purpose in.
    pub enum ConsentStatus {
        Given => "given",
        Refused => "refused",
        /// Withdrawal affects only future processing (GDPR Art. 7(3); promise T2).
        Withdrawn => "withdrawn",
        Expired => "expired",
    }
}

wire_enum! {
    /// How the record was collected.
    pub enum CollectionMethod {
        WebForm => "web_form",
        Api => "api",
        EmailLink => "email_link",
        /// RFC 8058 one-click unsubscribe (promise W4).
        OneClickUnsubscribe => "one_click_unsubscribe",
        /// A `Sec-GPC: 1` header: an opt-out of sale, sharing and targeted advertising.
        GpcSignal => "gpc_signal",
        Import => "import",
        Admin => "admin",
    }
}

/// One entry of the ledger. Records are never changed or deleted by the ledger itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRecord {
    pub id: RecordId,
    pub tenant: TenantId,
    pub subject: SubjectId,
    /// The consent purpose's id in the policy (`newsletter`, `ai_sharing`, …).
    pub purpose: String,
    pub status: ConsentStatus,
    /// The policy version in force when the record was made.
    pub policy_version: String,
    /// SHA-256 (hex) of the purpose's definition at that time: when a later policy changes the
    /// purpose or its recipients, consents given under the old definition stop counting (promise K4).
    pub purpose_hash: String,
    /// SHA-256 (hex) of the notice text the person was shown.
    pub notice_hash: String,
    pub method: CollectionMethod,
    pub at: Timestamp,
    /// Who made the record: `subject`, an API key's label, an operator.
    pub actor: String,
    /// Anything that proves it: a form id, an email message id, a request id.
    pub evidence: Option<String>,
}

/// The current state of one purpose for one subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentState {
    pub status: ConsentStatus,
    pub at: Timestamp,
    pub policy_version: String,
    pub purpose_hash: String,
    pub record: RecordId,
}

impl ConsentState {
    /// Whether this state is a valid, current consent for a purpose whose definition now hashes
    /// to `current_purpose_hash`.
    pub fn counts_for(&self, current_purpose_hash: &str) -> bool {
        self.status == ConsentStatus::Given && self.purpose_hash == current_purpose_hash
    }
}

/// The current state per purpose: for each purpose, the latest record (by time; among records
/// with the same time, the later one in the ledger).
pub fn project<'a>(records: impl IntoIterator<Item = &'a ConsentRecord>) -> BTreeMap<String, ConsentState> {
    let mut out: BTreeMap<String, ConsentState> = BTreeMap::new();
    for r in records {
        let newer = out.get(&r.purpose).is_none_or(|s| r.at >= s.at);
        if newer {
            out.insert(
                r.purpose.clone(),
                ConsentState {
                    status: r.status,
                    at: r.at,
                    policy_version: r.policy_version.clone(),
                    purpose_hash: r.purpose_hash.clone(),
                    record: r.id,
                },
            );
        }
    }
    out
}

/// SHA-256 of some bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn rec(n: u128, purpose: &str, status: ConsentStatus, at: &str) -> ConsentRecord {
        ConsentRecord {
            id: RecordId::from_uuid(Uuid::from_u128(n)),
            tenant: TenantId::parse("acme").unwrap(),
            subject: SubjectId::from_uuid(Uuid::from_u128(1)),
            purpose: purpose.to_owned(),
            status,
            policy_version: "1".to_owned(),
            purpose_hash: "h1".to_owned(),
            notice_hash: "n".to_owned(),
            method: CollectionMethod::Api,
            at: at.parse().unwrap(),
            actor: "subject".to_owned(),
            evidence: None,
        }
    }

    #[test]
    fn the_latest_record_wins_and_ties_go_to_the_later_entry() {
        let records = [
            rec(1, "newsletter", ConsentStatus::Given, "2026-01-01T00:00:00Z"),
            rec(2, "newsletter", ConsentStatus::Withdrawn, "2026-02-01T00:00:00Z"),
            rec(3, "ai", ConsentStatus::Given, "2026-03-01T00:00:00Z"),
            rec(4, "ai", ConsentStatus::Refused, "2026-03-01T00:00:00Z"),
            // Arrives late but happened earlier: does not override.
            rec(5, "newsletter", ConsentStatus::Given, "2026-01-15T00:00:00Z"),
        ];
        let state = project(&records);
        assert_eq!(state["newsletter"].status, ConsentStatus::Withdrawn);
        assert_eq!(state["ai"].status, ConsentStatus::Refused);
        assert!(!state["newsletter"].counts_for("h1"));
    }

    // promise K4: a consent given under an older definition of the purpose no longer counts.
    #[test]
    fn consent_counts_only_for_the_definition_it_was_given_for() {
        let state = project(&[rec(1, "partners", ConsentStatus::Given, "2026-01-01T00:00:00Z")]);
        assert!(state["partners"].counts_for("h1"));
        assert!(!state["partners"].counts_for("h2"));
    }

    #[test]
    fn sha256_hex_matches_a_known_vector() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
