//! Generated policies, people and questions for benchmarks: deterministic (seeded), so that two
//! runs measure the same work.

use std::fmt::Write as _;

use covenant_core::ledger::{CollectionMethod, ConsentRecord, ConsentStatus};
use covenant_core::{RecordId, SubjectId, TenantId};
use covenant_policy::{Format, LoadError, Policy};
use jiff::Timestamp;

use crate::decide::Query;
use crate::index::PolicyIndex;
use crate::ledger::{Action, RecordMeta, record};
use crate::state::SubjectState;

/// A small, fast, seeded generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
}

/// The text of a lint-clean policy with `n` activities, each with its own consent purpose,
/// cycling through the shapes decisions take: consent (opt-in, expiring), legitimate interests
/// with an opt-out, a separate opt-in for AI sharing, targeted advertising covered by GPC with a
/// partner one can opt out of, and consent or contract.
pub fn policy_toml(n: usize) -> String {
    let mut s = String::from(
        r#"schema = 1

[policy]
title = "Synthetic Privacy Policy"
version = "1"
effective = "2026-01-01"

[controller]
legal_name = "Synthetic Oy"
country = "FI"
contacts = [{ kind = "email", value = "privacy@synthetic.example" }]

[[subject_types]]
id = "user"
name = "Users"

[[categories]]
id = "user.contact.email"
name = "Email address"

[[categories]]
id = "user.name"
name = "Name"

[[categories]]
id = "user.behavior.browsing_history"
name = "Browsing history"

[[categories]]
id = "user.device.cookie"
name = "Cookie identifiers"

[[recipients]]
id = "hosting"
name = "Hosting provider"
kind = "sub_processor"
locations = ["EU"]

[[recipients]]
id = "ad_partner"
name = "Advertising partner"
kind = "partner"
locations = ["EU"]
opt_out = true

[storage]
regions = ["EU"]

[rights]
offered = ["access", "rectification", "erasure", "restriction", "portability", "objection", "complaint", "withdraw_consent"]
intake = [{ kind = "email", value = "privacy@synthetic.example" }]
verification = "when_needed"
promise = "30 days"

[[rights.deadlines]]
jurisdiction = "gdpr"
respond_within = "1 month"

[[retention]]
id = "all"
name = "Everything"
categories = ["user"]
trigger = "account_closed"
period = "1 year"
action = "delete"

[[minimum_ages]]
jurisdiction = "default"
age = 16
"#,
    );
    for i in 0..n {
        let (bases, kind, model, dm, cats, recipients, expires) = match i % 5 {
            0 => (
                "[\"consent\"]",
                "marketing",
                "opt_in",
                true,
                "[\"user.contact.email\", \"user.name\"]",
                "[\"hosting\"]",
                true,
            ),
            1 => (
                "[\"legitimate_interests\"]",
                "marketing",
                "opt_out",
                true,
                "[\"user.contact.email\"]",
                "[\"hosting\"]",
                false,
            ),
            2 => ("[\"consent\"]", "ai_sharing", "opt_in", false, "[\"user.behavior\"]", "[\"hosting\"]", false),
            3 => (
                "[\"legitimate_interests\"]",
                "targeted_ads",
                "opt_out",
                true,
                "[\"user.device.cookie\", \"user.behavior.browsing_history\"]",
                "[\"hosting\", \"ad_partner\"]",
                false,
            ),
            _ => (
                "[\"consent\", \"contract\"]",
                "other",
                "opt_in",
                false,
                "[\"user.contact\", \"user.name\"]",
                "[\"hosting\"]",
                false,
            ),
        };
        let li = if bases.contains("legitimate") {
            "legitimate_interest = \"Telling customers about our products.\"\n"
        } else {
            ""
        };
        let note = if bases.contains("contract") {
            "basis_note = \"Consent, or the contract when it needs this.\"\n"
        } else {
            ""
        };
        let _ = write!(
            s,
            "\n[[activities]]\nid = \"activity_{i}\"\nname = \"Activity {i}\"\npurpose = \"Purpose number {i}.\"\nrole = \"controller\"\nsubject_types = [\"user\"]\ncategories = {cats}\nlegal_bases = {bases}\n{li}{note}consent_purpose = \"purpose_{i}\"\ndirect_marketing = {dm}\nsources = [\"subject\"]\nrecipients = {recipients}\n"
        );
        let recipients_of_purpose = if i % 5 == 3 { "[\"ad_partner\"]" } else { "[\"hosting\"]" };
        let expiry = if expires { "expires_after = \"2 years\"\n" } else { "" };
        let _ = write!(
            s,
            "\n[[consent_purposes]]\nid = \"purpose_{i}\"\nname = \"Purpose {i}\"\ndescription = \"What purpose {i} does with your data.\"\nkind = \"{kind}\"\nmodel = \"{model}\"\nseparate = true\ncategories = {cats}\nrecipients = {recipients_of_purpose}\n{expiry}"
        );
    }
    s
}

/// A generated policy with `n` activities and consent purposes.
pub fn policy(n: usize) -> Result<Policy, LoadError> {
    covenant_policy::load_str("synthetic.toml", &policy_toml(n), Format::Toml)
}

/// Questions to ask: for every activity, one with its first categories and one that also names
/// its first recipient.
pub fn queries(policy: &Policy, index: &PolicyIndex) -> Vec<Query> {
    let mut out = Vec::new();
    for a in &policy.activities {
        let q = Query::new(index, &a.id).with_categories(index, a.categories.iter().take(2).cloned());
        if let Some(r) = a.recipients.first() {
            out.push(q.clone().with_recipient(index, r));
        }
        out.push(q);
    }
    out
}

/// The identity key of generated person `i`.
pub fn identity_key(i: u64) -> String {
    let mut s = String::new();
    write_identity_key(&mut s, i);
    s
}

/// Writes the identity key of generated person `i` into `buf` (cleared first), as a server
/// reads one from a request: into a buffer it reuses, without allocating.
pub fn write_identity_key(buf: &mut String, i: u64) {
    buf.clear();
    buf.push_str("email:person");
    let mut digits = [0u8; 20];
    let mut n = i;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[at..] {
        buf.push(char::from(*d));
    }
    buf.push_str("@example.com");
}

/// The subject id of generated person `i`.
pub fn subject_id(i: u64) -> SubjectId {
    let mut r = Rng::new(i);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&r.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&r.next_u64().to_le_bytes());
    // A version-4 layout, as a random id would have.
    SubjectId::from_uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// Builds generated people's states from ledger records, as loading them from a store would,
/// reusing one record per purpose so that generating a million people stays fast.
pub struct Population {
    rng: Rng,
    templates: Vec<ConsentRecord>,
    gpc: ConsentRecord,
    objection: ConsentRecord,
    base: Timestamp,
}

impl Population {
    /// People for `index`, seeded. Every record is made with [`crate::ledger::record`].
    pub fn new(index: &PolicyIndex, seed: u64) -> Population {
        let meta = |n: u64| RecordMeta {
            id: RecordId::from_uuid(uuid::Uuid::from_u128(u128::from(n))),
            tenant: TenantId::parse("bench").expect("`bench` is a valid tenant name"),
            subject: subject_id(0),
            notice_hash: "0".repeat(64),
            method: CollectionMethod::WebForm,
            at: Timestamp::UNIX_EPOCH,
            actor: "subject".to_owned(),
            evidence: None,
        };
        let ids: Vec<String> = index.purpose_ids().map(str::to_owned).collect();
        let templates = ids.iter().filter_map(|p| record(index, Action::Give(p), meta(1)).ok()).collect();
        let gpc = record(index, Action::Gpc, meta(2)).ok().unwrap_or_else(|| blank(meta(2)));
        let objection = record(index, Action::ObjectToDirectMarketing, meta(3)).ok().unwrap_or_else(|| blank(meta(3)));
        Population {
            rng: Rng::new(seed),
            templates,
            gpc,
            objection,
            base: Timestamp::from_second(1_767_225_600).unwrap_or(Timestamp::UNIX_EPOCH), // 2026-01-01
        }
    }

    fn at(&mut self) -> Timestamp {
        let offset = self.rng.below(180 * 86_400) as i64;
        Timestamp::from_second(self.base.as_second() + offset).unwrap_or(self.base)
    }

    /// Person `i`'s state: for each purpose, no record (30%), given (50%), given then withdrawn
    /// (10%) or refused (10%); 2% sent a GPC signal, 1% objected to direct marketing.
    pub fn state(&mut self, index: &PolicyIndex, i: u64) -> SubjectState {
        let subject = subject_id(i);
        let mut state = SubjectState::new(index);
        for t in 0..self.templates.len() {
            let roll = self.rng.below(100);
            let statuses: &[ConsentStatus] = match roll {
                0..30 => &[],
                30..80 => &[ConsentStatus::Given],
                80..90 => &[ConsentStatus::Given, ConsentStatus::Withdrawn],
                _ => &[ConsentStatus::Refused],
            };
            for status in statuses {
                let at = self.at();
                let r = &mut self.templates[t];
                r.subject = subject;
                r.status = *status;
                r.at = at;
                state.apply(index, &self.templates[t]);
            }
        }
        if self.rng.below(100) < 2 {
            self.gpc.subject = subject;
            self.gpc.at = self.at();
            state.apply(index, &self.gpc);
        }
        if self.rng.below(100) < 1 {
            self.objection.subject = subject;
            self.objection.at = self.at();
            state.apply(index, &self.objection);
        }
        state
    }
}

fn blank(meta: RecordMeta) -> ConsentRecord {
    ConsentRecord {
        id: meta.id,
        tenant: meta.tenant,
        subject: meta.subject,
        purpose: String::new(),
        status: ConsentStatus::Given,
        policy_version: String::new(),
        purpose_hash: String::new(),
        notice_hash: meta.notice_hash,
        method: meta.method,
        at: meta.at,
        actor: meta.actor,
        evidence: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_policy_is_lint_clean() {
        let text = policy_toml(10);
        let checked =
            covenant_policy::check_source(covenant_policy::SourceFile::new("synthetic.toml", text), Format::Toml);
        assert!(checked.diagnostics.is_empty(), "{}", checked.render());
        let p = checked.policy.unwrap();
        assert_eq!(p.activities.len(), 10);
        assert_eq!(p.consent_purposes.len(), 10);
    }

    #[test]
    fn populations_are_deterministic() {
        let p = policy(5).unwrap();
        let index = PolicyIndex::compile(&p);
        let mut a = Population::new(&index, 7);
        let mut b = Population::new(&index, 7);
        for i in 0..50 {
            assert_eq!(a.state(&index, i), b.state(&index, i));
        }
        assert_ne!(subject_id(1), subject_id(2));
        assert_eq!(identity_key(0), "email:person0@example.com");
        assert_eq!(identity_key(1_234_567), "email:person1234567@example.com");
        assert_eq!(identity_key(u64::MAX), format!("email:person{}@example.com", u64::MAX));
        assert_eq!(subject_id(3).as_uuid().get_version_num(), 4);
    }
}
