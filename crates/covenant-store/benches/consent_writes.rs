//! Write and verification rates of the SQLite store (a file in a temporary directory).
//!
//! - `consent_writes/{single,concurrent_8}/{full,normal}`: consent appends per second (each with
//!   its audit entry), from one task awaiting each write, and from 8 tasks writing at once (group
//!   commit), with `synchronous=FULL` and `NORMAL`.
//! - `audit_verify`: audit entries verified per second, reading a chain of 100,000 entries.
//!
//! Run with `cargo bench -p covenant-store`. Measured on the 2-core development machine (shared,
//! virtual disk with `fsync` at about 30 µs): single/full 7,500/s, concurrent_8/full 13,300/s,
//! single/normal 10,700/s, concurrent_8/normal 14,800/s; audit_verify about 180,000 entries/s.

#![allow(clippy::unwrap_used)] // benchmarks may unwrap

use std::sync::Arc;
use std::time::{Duration, Instant};

use covenant_core::audit::AuditDraft;
use covenant_core::ledger::{CollectionMethod, ConsentRecord, ConsentStatus, sha256_hex};
use covenant_core::{Identity, RecordId, SubjectId, TenantId};
use covenant_store::{Durability, NewSubject, NewTenant, SqlStore, SqliteOptions, Store};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use uuid::Uuid;

struct Fixture {
    store: Arc<SqlStore>,
    tenant: TenantId,
    subjects: Vec<SubjectId>,
    _dir: tempfile::TempDir,
}

async fn fixture(durability: Durability) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
    let store = SqlStore::open_sqlite(&url, &SqliteOptions { durability, ..SqliteOptions::default() }).await.unwrap();
    store.migrate().await.unwrap();
    let tenant = TenantId::parse("bench").unwrap();
    let new = NewTenant { id: tenant.clone(), name: "Bench".into(), created_at: Timestamp::now() };
    store.create_tenant(new, AuditDraft::new("bench", "tenant.create", "tenant:bench", "")).await.unwrap();
    let mut subjects = Vec::new();
    for i in 0..8 {
        let new = NewSubject {
            tenant: tenant.clone(),
            kind: "customer".into(),
            identities: vec![Identity::email(&format!("s{i}@example.com")).unwrap()],
            birth_date: None,
            jurisdiction: None,
            created_at: Timestamp::now(),
        };
        let draft = AuditDraft::new("bench", "subject.register", "subject", "");
        subjects.push(store.register_subject(new, draft).await.unwrap().value.id);
    }
    Fixture { store: Arc::new(store), tenant, subjects, _dir: dir }
}

async fn append(store: &SqlStore, tenant: &TenantId, subject: SubjectId) {
    let record = ConsentRecord {
        id: RecordId::from_uuid(Uuid::now_v7()),
        tenant: tenant.clone(),
        subject,
        purpose: "newsletter".into(),
        status: ConsentStatus::Given,
        policy_version: "2026-01".into(),
        purpose_hash: sha256_hex(b"newsletter"),
        notice_hash: sha256_hex(b"notice"),
        method: CollectionMethod::WebForm,
        at: Timestamp::now(),
        actor: "subject".into(),
        evidence: Some("form-1".into()),
    };
    let draft =
        AuditDraft::new("bench", "consent.append", &format!("subject:{subject}"), "{\"purpose\":\"newsletter\"}");
    store.append_consent(record, draft).await.unwrap();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn consent_writes(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("consent_writes");
    group.throughput(Throughput::Elements(1)).sample_size(10).measurement_time(Duration::from_secs(5));
    for (name, durability) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let f = rt.block_on(fixture(durability));
        group.bench_function(format!("single/{name}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (store, tenant, subject) = (f.store.clone(), f.tenant.clone(), f.subjects[0]);
                async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        append(&store, &tenant, subject).await;
                    }
                    start.elapsed()
                }
            })
        });
        group.bench_function(format!("concurrent_8/{name}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (store, tenant, subjects) = (f.store.clone(), f.tenant.clone(), f.subjects.clone());
                async move {
                    let per_task = iters.div_ceil(8);
                    let start = Instant::now();
                    let mut tasks = tokio::task::JoinSet::new();
                    for subject in subjects {
                        let (store, tenant) = (store.clone(), tenant.clone());
                        tasks.spawn(async move {
                            for _ in 0..per_task {
                                append(&store, &tenant, subject).await;
                            }
                        });
                    }
                    while let Some(r) = tasks.join_next().await {
                        r.unwrap();
                    }
                    // Report the time per requested iteration, though 8 × per_task ran.
                    start.elapsed().mul_f64(iters as f64 / (per_task * 8) as f64)
                }
            })
        });
    }
    group.finish();
}

const CHAIN: u64 = 100_000;

fn audit_verify(c: &mut Criterion) {
    let rt = runtime();
    let f = rt.block_on(async {
        let f = fixture(Durability::Normal).await;
        let mut tasks = tokio::task::JoinSet::new();
        let have = f.store.audit_head(&f.tenant).await.unwrap().seq;
        for t in 0..8 {
            let (store, tenant) = (f.store.clone(), f.tenant.clone());
            tasks.spawn(async move {
                for n in (have + t..CHAIN).step_by(8) {
                    let draft = AuditDraft::new("api", "subject.read", &format!("subject:{n}"), format!("read {n}"));
                    store.record_read(&tenant, draft).await.unwrap();
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        f
    });
    let mut group = c.benchmark_group("audit_verify");
    group.throughput(Throughput::Elements(CHAIN)).sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("100k_entries", |b| {
        b.to_async(&rt).iter(|| {
            let (store, tenant) = (f.store.clone(), f.tenant.clone());
            async move { assert_eq!(store.verify_audit(&tenant).await.unwrap(), Ok(CHAIN)) }
        })
    });
    group.finish();
}

criterion_group!(benches, consent_writes, audit_verify);
criterion_main!(benches);
