//! Decisions per second: with the state in hand, through the cache by identity key, and the cost
//! of keeping a state current.
//!
//! Run: `cargo bench -p covenant-engine --bench decide`.

use std::hint::black_box;
use std::sync::Arc;

use covenant_core::TenantId;
use covenant_core::ledger::ConsentRecord;
use covenant_engine::ledger::{RecordMeta, withdraw};
use covenant_engine::synthetic::{self, Population, Rng};
use covenant_engine::{DecisionCache, PolicyIndex, SubjectState, decide};
use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;

const PEOPLE: u64 = 100_000;

fn benches(c: &mut Criterion) {
    let policy = synthetic::policy(10).expect("the synthetic policy is lint-clean");
    let index = Arc::new(PolicyIndex::compile(&policy));
    let queries = synthetic::queries(&policy, &index);
    let now = Timestamp::from_second(1_782_864_000).expect("a valid time"); // 2026-07-01
    let mut population = Population::new(&index, 1);
    let states: Vec<SubjectState> = (0..1000).map(|i| population.state(&index, i)).collect();

    let mut g = c.benchmark_group("decide");
    g.bench_function("state in hand", |b| {
        let mut rng = Rng::new(2);
        b.iter(|| {
            let s = &states[rng.below(states.len() as u64) as usize];
            let q = &queries[rng.below(queries.len() as u64) as usize];
            black_box(decide(&index, s, q, now))
        })
    });

    let tenant = TenantId::parse("bench").expect("a valid tenant name");
    let cache = DecisionCache::new();
    let t = cache.set_policy(tenant, index.clone());
    let keys: Vec<String> = (0..PEOPLE).map(synthetic::identity_key).collect();
    for (i, key) in keys.iter().enumerate() {
        let s = synthetic::subject_id(i as u64);
        t.link(key, s);
        t.insert(s, population.state(&index, i as u64));
    }
    g.bench_function("by identity key, 100k people", |b| {
        let mut rng = Rng::new(3);
        b.iter(|| {
            let key = &keys[rng.below(PEOPLE) as usize];
            let q = &queries[rng.below(queries.len() as u64) as usize];
            black_box(t.decide(key, q, now))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("state");
    let subject = synthetic::subject_id(0);
    let record: ConsentRecord = withdraw(
        &index,
        "purpose_0",
        RecordMeta {
            id: covenant_core::RecordId::from_uuid(uuid::Uuid::from_u128(1)),
            tenant: TenantId::parse("bench").expect("a valid tenant name"),
            subject,
            notice_hash: "0".repeat(64),
            method: covenant_core::ledger::CollectionMethod::EmailLink,
            at: now,
            actor: "subject".to_owned(),
            evidence: None,
        },
    )
    .expect("purpose_0 exists");
    g.bench_function("apply a withdrawal", |b| {
        let mut s = states[0].clone();
        b.iter(|| black_box(s.apply(&index, &record)))
    });
    g.bench_function("build one person from records", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(population.state(&index, i))
        })
    });
    g.finish();
}

criterion_group!(decisions, benches);
criterion_main!(decisions);
