//! Properties over random ledgers: the state kept up to date record by record is the state
//! rebuilt from scratch, whatever the order records with distinct times arrive in, and it agrees
//! with the ledger's reference projection.

use std::sync::Arc;

use covenant_core::ledger::{CollectionMethod, ConsentRecord, ConsentStatus, project};
use covenant_core::{RecordId, SubjectId};
use covenant_engine::{DecisionCache, Flags, PolicyIndex, SubjectState};
use jiff::Timestamp;
use proptest::prelude::*;

use super::{fixture, subject, tenant};

const KEYS: &[&str] = &[
    "newsletter",
    "offers",
    "targeted_ads",
    "ai",
    "trial",
    "partner_sharing",
    "no_such_purpose",
    "activity:analytics",
    "activity:offers",
    "activity:no_such_activity",
    "all:direct_marketing",
    "recipient:ad_network",
    "recipient:partners",
    "signal:gpc",
];

fn index() -> PolicyIndex {
    PolicyIndex::compile(&fixture())
}

fn arb_records(index: &PolicyIndex) -> impl Strategy<Value = Vec<ConsentRecord>> {
    let hashes: Vec<String> = KEYS
        .iter()
        .map(|k| index.purpose(k).map(|p| index.purpose_hash(p).to_owned()).unwrap_or_else(|| "x".repeat(64)))
        .collect();
    let one = (0..KEYS.len(), prop::sample::select(ConsentStatus::ALL), 0i64..20, any::<bool>(), any::<bool>());
    prop::collection::vec(one, 0..40).prop_map(move |steps| {
        steps
            .into_iter()
            .enumerate()
            .map(|(n, (k, status, second, current, newer))| ConsentRecord {
                id: RecordId::from_uuid(uuid::Uuid::from_u128(n as u128 + 1)),
                tenant: tenant(),
                subject: subject(),
                purpose: KEYS[k].to_owned(),
                status,
                policy_version: if newer { "2" } else { "1" }.to_owned(),
                purpose_hash: if current { hashes[k].clone() } else { "0".repeat(64) },
                notice_hash: "n".to_owned(),
                method: CollectionMethod::Api,
                at: Timestamp::from_second(1_767_225_600 + second * 86_400).unwrap(),
                actor: "subject".to_owned(),
                evidence: None,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn incremental_equals_rebuilt(records in arb_records(&index()), split in any::<prop::sample::Index>()) {
        let index = index();
        let rebuilt = SubjectState::from_records(&index, &records);
        let cut = split.index(records.len() + 1);
        let mut incremental = SubjectState::from_records(&index, &records[..cut]);
        for r in &records[cut..] {
            incremental.apply(&index, r);
        }
        prop_assert_eq!(&incremental, &rebuilt);

        // Arrival order does not matter, only time (and, within an instant, ledger order).
        let mut by_time = records.clone();
        by_time.sort_by_key(|r| r.at);
        prop_assert_eq!(&SubjectState::from_records(&index, &by_time), &rebuilt);

        // The reference projection of the ledger agrees, purpose by purpose.
        let projected = project(&records);
        for id in index.purpose_ids() {
            let p = index.purpose(id).unwrap();
            let got = rebuilt.consent(p).map(|c| (c.status, c.at, c.current, index.version_label(c.policy_version).to_string()));
            let want = projected.get(id).map(|s| (s.status, s.at, s.purpose_hash == index.purpose_hash(p), s.policy_version.clone()));
            prop_assert_eq!(got, want, "purpose `{}`", id);
        }
    }

    // Loading through the cache while records keep arriving ends in the rebuilt state.
    #[test]
    fn loading_while_records_arrive_equals_rebuilt(records in arb_records(&index()), split in any::<prop::sample::Index>(), overlap in 0usize..5) {
        let cache = DecisionCache::new();
        let t = cache.set_policy(tenant(), Arc::new(index()));
        let rebuilt = SubjectState::from_records(t.index(), &records);
        let cut = split.index(records.len() + 1);
        let s: SubjectId = subject();
        prop_assert!(t.begin_load(s));
        // Records from `cut - overlap` on arrive during the load; the store read saw up to `cut`.
        for r in &records[cut.saturating_sub(overlap)..] {
            t.apply(r);
        }
        prop_assert!(t.finish_load(s, &records[..cut], Flags::default()));
        prop_assert_eq!(t.with_state(s, Clone::clone), Some(rebuilt));
    }
}
