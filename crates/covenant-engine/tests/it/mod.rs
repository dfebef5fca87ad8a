//! Shared helpers: a small script language for ledger histories and questions, so that the
//! decision tables read as one line per case.

mod cache;
mod decide;
mod examples;
mod ledger;
mod props;

use std::path::PathBuf;

use covenant_core::ledger::{CollectionMethod, ConsentRecord, ConsentStatus};
use covenant_core::{RecordId, SubjectId, TenantId};
use covenant_engine::ledger::{Action, RecordMeta, record};
use covenant_engine::{Decision, PolicyIndex, Query, SubjectState, UnderAge, decide};
use covenant_policy::Policy;
use jiff::Timestamp;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
        .join("../..")
}

pub fn load(path: &str) -> Policy {
    covenant_policy::load_file(&root().join(path)).unwrap_or_else(|e| panic!("{e}"))
}

/// The decision-table policy (read and linted once per test binary).
pub fn fixture() -> Policy {
    static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| load("crates/covenant-engine/tests/fixtures/decisions.toml")).clone()
}

/// `2026-01-01` or a full timestamp.
pub fn ts(s: &str) -> Timestamp {
    if s.len() == 10 { format!("{s}T00:00:00Z").parse().unwrap() } else { s.parse().unwrap() }
}

pub fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

pub fn subject() -> SubjectId {
    SubjectId::from_uuid(uuid::Uuid::from_u128(7))
}

pub fn meta(n: u128, at: Timestamp) -> RecordMeta {
    RecordMeta {
        id: RecordId::from_uuid(uuid::Uuid::from_u128(n)),
        tenant: tenant(),
        subject: subject(),
        notice_hash: "ab".repeat(32),
        method: CollectionMethod::WebForm,
        at,
        actor: "subject".to_owned(),
        evidence: None,
    }
}

/// A compiled policy and the histories written against it.
pub struct World {
    pub policy: Policy,
    pub index: PolicyIndex,
}

impl World {
    pub fn new(policy: Policy) -> World {
        let index = PolicyIndex::compile(&policy);
        World { policy, index }
    }

    /// Ledger records from a script of `;`-separated steps, each `verb [target] @date`:
    /// `give P`, `withdraw P`, `refuse P`, `expire P` (an expiry record), `old P` (given under
    /// policy version `1` for a definition that has changed since), `object A`, `lift A`,
    /// `object-dm`, `lift-dm`, `optout R`, `optin R`, `gpc`. Flags are not records; see [`World::state`].
    pub fn records(&self, script: &str) -> Vec<ConsentRecord> {
        let mut out = Vec::new();
        for (n, step) in script.split(';').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
            let (words, at) = step.split_once('@').unwrap_or((step, "2026-01-01"));
            let mut words = words.split_whitespace();
            let verb = words.next().unwrap();
            let target = words.next().unwrap_or("");
            let m = meta(n as u128 + 1, ts(at.trim()));
            let action = match verb {
                "give" | "old" => Action::Give(target),
                "withdraw" => Action::Withdraw(target),
                "refuse" | "expire" => Action::Refuse(target),
                "object" => Action::Object(target),
                "lift" => Action::LiftObjection(target),
                "object-dm" => Action::ObjectToDirectMarketing,
                "lift-dm" => Action::LiftDirectMarketingObjection,
                "optout" => Action::OptOutOfRecipient(target),
                "optin" => Action::OptBackIntoRecipient(target),
                "gpc" => Action::Gpc,
                "restricted" | "deceased" | "underage" => continue,
                other => panic!("unknown step `{other}`"),
            };
            let mut r = record(&self.index, action, m).unwrap_or_else(|e| panic!("{step}: {e}"));
            if verb == "old" {
                r.purpose_hash = "0".repeat(64);
                r.policy_version = "1".to_owned();
            }
            if verb == "expire" {
                r.status = ConsentStatus::Expired;
            }
            out.push(r);
        }
        out
    }

    /// The state a script puts a person in; the steps `restricted`, `deceased`, `underage` and
    /// `underage N` set flags.
    pub fn state(&self, script: &str) -> SubjectState {
        let mut state = SubjectState::from_records(&self.index, &self.records(script));
        for step in script.split(';').map(str::trim) {
            let mut words = step.split_whitespace();
            match words.next() {
                Some("restricted") => state.set_restricted(true),
                Some("deceased") => state.set_deceased(true),
                Some("underage") => {
                    state.set_under_age(Some(UnderAge { minimum_age: words.next().map(|a| a.parse().unwrap()) }))
                }
                _ => {}
            }
        }
        state
    }

    /// `activity cat,cat -> recipient`.
    pub fn query(&self, q: &str) -> Query {
        let (q, recipient) = match q.split_once("->") {
            Some((q, r)) => (q, Some(r.trim())),
            None => (q, None),
        };
        let mut words = q.split_whitespace();
        let activity = words.next().unwrap();
        let cats: Vec<&str> = words.next().map(|c| c.split(',').collect()).unwrap_or_default();
        Query::parse(&self.index, activity, &cats, recipient).unwrap()
    }

    pub fn decide(&self, script: &str, query: &str, now: &str) -> Decision {
        decide(&self.index, &self.state(script), &self.query(query), ts(now))
    }

    /// `allow CODE` or `deny CODE`.
    pub fn ask(&self, script: &str, query: &str, now: &str) -> String {
        let d = self.decide(script, query, now);
        format!("{} {}", if d.is_allowed() { "allow" } else { "deny" }, d.code())
    }

    /// `CODE: message`.
    pub fn explain(&self, script: &str, query: &str, now: &str) -> String {
        let d = self.decide(script, query, now);
        format!("{}: {}", d.code(), d.message(&self.index, &self.query(query)))
    }
}
