//! Write and verification rates of the SQLite store (a file in a temporary directory).
//!
//! - `consent_writes/{single,concurrent_8}/{full,normal}`: consent appends per second (each with
//!   its audit entry), from one task awaiting each write, and from 8 tasks writing at once (group
//!   commit), with `synchronous=FULL` and `NORMAL`.
//! - `audit_verify/1m_entries`: audit entries verified per second, reading a chain of 1,000,000
//!   entries (`Store::verify_audit`: a raw cursor on a read-only connection, hashing on a second
//!   thread). `COVENANT_BENCH_AUDIT_DB=PATH` keeps the chain's database at PATH (and reuses it).
//!
//! Run with `cargo bench -p covenant-store --bench consent_writes`. Measured on the 2-core
//! development machine (shared, virtual disk with `fsync` at about 30 µs): single/full 7,500/s,
//! concurrent_8/full 13,300/s, single/normal 10,700/s, concurrent_8/normal 14,800/s; see
//! docs/benchmarks.md for audit_verify.

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

/// The length of the chain `audit_verify` reads.
const CHAIN: u64 = 1_000_000;

/// Where the chain for `audit_verify` is: `COVENANT_BENCH_AUDIT_DB` (kept, and reused when it
/// already holds the chain, e.g. for timing `covenant audit verify --db sqlite://PATH` on it), or
/// a temporary directory.
fn chain_file() -> (std::path::PathBuf, Option<tempfile::TempDir>) {
    match std::env::var_os("COVENANT_BENCH_AUDIT_DB") {
        Some(path) => (path.into(), None),
        None => {
            let dir = tempfile::tempdir().unwrap();
            (dir.path().join("audit.db"), Some(dir))
        }
    }
}

/// Appends entries to the tenant's chain until it has `n`, shaped like the entries the server
/// writes (consent records, reads, registrations), sealed by the core and inserted in one
/// transaction (the insert trigger moves the head, as for the store's own writes). Written
/// directly because a million audited writes through the store would take a minute or more.
fn fill_chain(path: &std::path::Path, tenant: &TenantId, n: u64) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    let (have, hash): (i64, Vec<u8>) = tx
        .query_row("SELECT seq, hash FROM audit_heads WHERE tenant = ?1", [tenant.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let mut prev: [u8; 32] = hash.try_into().unwrap();
    let mut insert = tx
        .prepare(
            "INSERT INTO audit_entries (tenant, seq, at, actor, action, target, detail, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .unwrap();
    let start = Timestamp::now();
    for seq in u64::try_from(have).unwrap() + 1..=n {
        let subject = Uuid::now_v7();
        let draft = match seq % 4 {
            0 => AuditDraft::new(
                "apikey:cvk_3f9a1c2b",
                "subject.read",
                &format!("subject:{subject}"),
                "{\"by\":\"email\"}",
            ),
            1 => AuditDraft::new(
                "apikey:cvk_3f9a1c2b",
                "subject.register",
                "subject",
                "{\"identity_kinds\":[\"email\"],\"type\":\"user\"}",
            ),
            _ => AuditDraft::new(
                "apikey:cvk_3f9a1c2b",
                "consent.give",
                &format!("subject:{subject}"),
                format!(
                    "{{\"method\":\"api\",\"purpose\":\"newsletter\",\"record\":\"{}\",\"status\":\"given\"}}",
                    Uuid::now_v7()
                ),
            ),
        };
        let at = start.checked_add(jiff::SignedDuration::from_micros(seq as i64)).unwrap();
        let e = covenant_core::audit::AuditEntry::seal(tenant.clone(), seq, at, draft, prev);
        insert
            .execute(rusqlite::params![
                tenant.as_str(),
                seq as i64,
                e.at.as_microsecond(),
                e.actor,
                e.action,
                e.target,
                e.detail,
                &e.prev_hash[..],
                &e.hash[..]
            ])
            .unwrap();
        prev = e.hash;
    }
    drop(insert);
    tx.commit().unwrap();
}

fn audit_verify(c: &mut Criterion) {
    let rt = runtime();
    let (path, _dir) = chain_file();
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let tenant = TenantId::parse("bench").unwrap();
    let store = rt.block_on(async {
        let store = SqlStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let new = NewTenant { id: tenant.clone(), name: "Bench".into(), created_at: Timestamp::now() };
        // Already there when the file is reused.
        let _ = store.create_tenant(new, AuditDraft::new("bench", "tenant.create", "tenant:bench", "")).await;
        store
    });
    if rt.block_on(store.audit_head(&tenant)).unwrap().seq < CHAIN {
        fill_chain(&path, &tenant, CHAIN);
    }
    let store = Arc::new(store);
    let mut group = c.benchmark_group("audit_verify");
    group.throughput(Throughput::Elements(CHAIN)).sample_size(10).measurement_time(Duration::from_secs(15));
    group.bench_function("1m_entries", |b| {
        b.to_async(&rt).iter(|| {
            let (store, tenant) = (store.clone(), tenant.clone());
            async move { assert_eq!(store.verify_audit(&tenant).await.unwrap(), Ok(CHAIN)) }
        })
    });
    group.finish();
}

criterion_group!(benches, consent_writes, audit_verify);
criterion_main!(benches);
