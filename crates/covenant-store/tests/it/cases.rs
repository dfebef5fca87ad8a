//! The conformance cases: each runs unchanged on SQLite and on PostgreSQL (see `mod.rs`), using
//! only the `Store` trait, plus raw SQL where a case plays someone editing the database by hand.

use std::sync::Arc;

use covenant_core::audit::AuditDraft;
use covenant_core::ledger::{self, CollectionMethod, ConsentRecord, ConsentStatus, sha256_hex};
use covenant_core::{Identity, Jurisdiction, LifecycleEvent, LifecycleKind, RecordId, SubjectId, TenantId};
use covenant_store::{
    Also, AlsoWritten, AuditError, Change, FlagKind, NewApiKey, NewSubject, NewTenant, Role, Store, StoreError,
    Subject, SubjectFlag, hash_secret,
};
use futures_util::TryStreamExt;
use jiff::Timestamp;
use uuid::Uuid;

use super::harness::Db;

fn tid(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn draft(action: &str) -> AuditDraft {
    AuditDraft::new("test", action, "target", format!("{{\"action\":\"{action}\"}}"))
}

fn email(s: &str) -> Identity {
    Identity::email(s).unwrap()
}

async fn tenant(store: &impl Store, id: &str) -> TenantId {
    let new = NewTenant { id: tid(id), name: format!("Tenant {id}"), created_at: at("2026-01-01T00:00:00Z") };
    store.create_tenant(new, draft("tenant.create")).await.unwrap().value.id
}

fn new_subject(tenant: &TenantId, identities: Vec<Identity>) -> NewSubject {
    NewSubject {
        tenant: tenant.clone(),
        kind: "customer".into(),
        identities,
        birth_date: None,
        jurisdiction: None,
        created_at: at("2026-01-02T00:00:00Z"),
    }
}

async fn subject(store: &impl Store, tenant: &TenantId, mail: &str) -> Subject {
    store.register_subject(new_subject(tenant, vec![email(mail)]), draft("subject.register")).await.unwrap().value
}

fn consent(tenant: &TenantId, subject: SubjectId, purpose: &str, status: ConsentStatus, when: &str) -> ConsentRecord {
    ConsentRecord {
        id: RecordId::from_uuid(Uuid::now_v7()),
        tenant: tenant.clone(),
        subject,
        purpose: purpose.into(),
        status,
        policy_version: "2026-01".into(),
        purpose_hash: sha256_hex(purpose.as_bytes()),
        notice_hash: sha256_hex(b"notice"),
        method: CollectionMethod::WebForm,
        at: at(when),
        actor: "subject".into(),
        evidence: Some("form-42".into()),
    }
}

async fn head(store: &impl Store, tenant: &TenantId) -> u64 {
    store.audit_head(tenant).await.unwrap().seq
}

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(StoreError::NotFound { what: w, .. }) => assert_eq!(w, what),
        other => panic!("expected {what} not found, got {other:?}"),
    }
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T, StoreError>, field: &str) {
    match r {
        Err(StoreError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected invalid {field}, got {other:?}"),
    }
}

pub async fn tenants(db: Arc<Db>) {
    let s = &db.store;
    let acme = tenant(s, "acme").await;
    tenant(s, "beta").await;
    let dup = NewTenant { id: acme.clone(), name: "Again".into(), created_at: Timestamp::now() };
    match s.create_tenant(dup, draft("tenant.create")).await {
        Err(StoreError::Conflict(m)) => assert_eq!(m, "tenant `acme` already exists"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let got = s.get_tenant(&acme).await.unwrap();
    assert_eq!((got.name.as_str(), got.created_at), ("Tenant acme", at("2026-01-01T00:00:00Z")));
    let ids: Vec<String> = s.list_tenants().await.unwrap().into_iter().map(|t| t.id.to_string()).collect();
    assert_eq!(ids, ["acme", "beta"]);
    assert_not_found(s.get_tenant(&tid("gamma")).await, "tenant");
    assert_not_found(s.audit_head(&tid("gamma")).await, "tenant");
    // The failed duplicate wrote nothing to acme's chain.
    assert_eq!(head(s, &acme).await, 1);
}

pub async fn tenant_isolation(db: Arc<Db>) {
    let s = &db.store;
    let a = tenant(s, "tenant-a").await;
    let b = tenant(s, "tenant-b").await;
    let ada = subject(s, &a, "ada@example.com").await;
    s.append_consent(consent(&a, ada.id, "newsletter", ConsentStatus::Given, "2026-02-01T00:00:00Z"), draft("c"))
        .await
        .unwrap();

    // Through tenant B, A's subject does not exist: by id, by identity, by its records.
    assert_not_found(s.get_subject(&b, ada.id).await, "subject");
    assert_eq!(s.find_subject_by_identity(&b, &email("ada@example.com")).await.unwrap(), None);
    assert_not_found(s.consent_history(&b, ada.id).await, "subject");
    assert_not_found(s.list_events(&b, ada.id).await, "subject");
    let foreign = consent(&b, ada.id, "newsletter", ConsentStatus::Withdrawn, "2026-02-02T00:00:00Z");
    assert_not_found(s.append_consent(foreign, draft("c")).await, "subject");
    let ev = LifecycleEvent { kind: LifecycleKind::Deactivated, at: Timestamp::now(), detail: None };
    assert_not_found(s.append_event(&b, ada.id, ev, draft("e")).await, "subject");
    let flag = SubjectFlag { kind: FlagKind::Restricted, set_at: Timestamp::now(), due: None, detail: None };
    assert_not_found(s.set_flag(&b, ada.id, flag, draft("f")).await, "subject");
    assert!(s.consent_page(&b, None, 100).await.unwrap().records.is_empty());

    // The same identity is free in tenant B, and names a different subject there.
    let ada_b = subject(s, &b, "ADA@example.com").await;
    assert_ne!(ada_b.id, ada.id);
    assert_eq!(s.find_subject_by_identity(&a, &email("ada@example.com")).await.unwrap().unwrap().id, ada.id);
    assert_eq!(s.find_subject_by_identity(&b, &email("ada@example.com")).await.unwrap().unwrap().id, ada_b.id);
    // Each tenant's chain holds only its own writes.
    assert_eq!(head(s, &a).await, 3);
    assert_eq!(head(s, &b).await, 2);
}

pub async fn subjects_round_trip(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let new = NewSubject {
        tenant: t.clone(),
        kind: "end_user".into(),
        identities: vec![email(" Ada@Example.com "), Identity::parse("external:stripe", "cus_1").unwrap()],
        birth_date: Some("2001-02-03".parse().unwrap()),
        jurisdiction: Some(Jurisdiction::parse("gdpr").unwrap()),
        created_at: Timestamp::from_nanosecond(1_767_225_600_123_456_789).unwrap(),
    };
    let w = s.register_subject(new, draft("subject.register")).await.unwrap();
    let got = s.get_subject(&t, w.value.id).await.unwrap();
    assert_eq!(got, w.value);
    assert_eq!(got.kind, "end_user");
    assert_eq!(got.birth_date, Some("2001-02-03".parse().unwrap()));
    assert_eq!(got.jurisdiction.as_ref().map(|j| j.as_str()), Some("gdpr"));
    // Truncated to the microsecond, and returned as stored.
    assert_eq!(got.created_at, Timestamp::from_microsecond(1_767_225_600_123_456).unwrap());
    let keys: Vec<String> = got.identities.iter().map(Identity::key).collect();
    assert_eq!(keys, ["email:ada@example.com", "external:stripe:cus_1"]);
    let found = s.find_subject_by_identity(&t, &Identity::parse("external:stripe", "cus_1").unwrap()).await.unwrap();
    assert_eq!(found.map(|f| f.id), Some(got.id));
    assert_not_found(s.get_subject(&t, SubjectId::from_uuid(Uuid::now_v7())).await, "subject");
    assert_eq!(w.audit.seq, 2);
    assert_eq!(w.audit.action, "subject.register");
}

pub async fn identity_conflict(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let ada = subject(s, &t, "ada@example.com").await;
    let before = head(s, &t).await;

    // The same address, typed differently, is the same identity.
    let clash = new_subject(&t, vec![email("grace@example.com"), email("ADA@EXAMPLE.COM")]);
    match s.register_subject(clash, draft("subject.register")).await {
        Err(StoreError::Conflict(m)) => {
            assert_eq!(m, "identity `email:ada@example.com` is already registered to another subject")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Nothing of the refused registration remains: not its other identity, not an audit entry.
    assert_eq!(s.find_subject_by_identity(&t, &email("grace@example.com")).await.unwrap(), None);
    assert_eq!(head(s, &t).await, before);

    let grace = subject(s, &t, "grace@example.com").await;
    match s.add_identity(&t, grace.id, email("ada@example.com"), Timestamp::now(), draft("identity.add")).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("`email:ada@example.com`"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Adding a new identity, and one the subject already has.
    let phone = Identity::parse("phone", "+358 40 123 4567").unwrap();
    let w = s.add_identity(&t, ada.id, phone.clone(), Timestamp::now(), draft("identity.add")).await.unwrap();
    assert_eq!(w.value.identities.len(), 2);
    let w = s.add_identity(&t, ada.id, phone.clone(), Timestamp::now(), draft("identity.add")).await.unwrap();
    assert_eq!(w.value.identities.len(), 2);
    assert_eq!(s.find_subject_by_identity(&t, &phone).await.unwrap().map(|x| x.id), Some(ada.id));
    assert_not_found(
        s.add_identity(&t, SubjectId::from_uuid(Uuid::now_v7()), email("x@example.com"), Timestamp::now(), draft("i"))
            .await,
        "subject",
    );
}

pub async fn ledger_is_append_only_and_ordered(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let ada = subject(s, &t, "ada@example.com").await;
    let records = [
        consent(&t, ada.id, "newsletter", ConsentStatus::Given, "2026-03-01T00:00:00Z"),
        consent(&t, ada.id, "newsletter", ConsentStatus::Withdrawn, "2026-04-01T00:00:00Z"),
        // Arrives late but happened earlier.
        consent(&t, ada.id, "newsletter", ConsentStatus::Given, "2026-02-01T00:00:00Z"),
        consent(&t, ada.id, "ai", ConsentStatus::Given, "2026-03-01T00:00:00Z"),
        // Same time as the one before: the later entry of the ledger wins.
        consent(&t, ada.id, "ai", ConsentStatus::Refused, "2026-03-01T00:00:00Z"),
    ];
    for r in &records {
        let w = s.append_consent(r.clone(), draft("consent.append")).await.unwrap();
        assert_eq!(&w.value, r);
    }
    let history = s.consent_history(&t, ada.id).await.unwrap();
    let order: Vec<RecordId> = history.iter().map(|r| r.id).collect();
    assert_eq!(order, [records[2].id, records[0].id, records[3].id, records[4].id, records[1].id]);
    assert_eq!(history[0], records[2]);
    let state = ledger::project(&history);
    assert_eq!(state["newsletter"].status, ConsentStatus::Withdrawn);
    assert_eq!(state["ai"].status, ConsentStatus::Refused);

    // A record id can be appended once.
    let again = ConsentRecord { status: ConsentStatus::Refused, ..records[0].clone() };
    assert!(matches!(s.append_consent(again, draft("consent.append")).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.consent_history(&t, ada.id).await.unwrap(), history);

    // The database itself refuses changes to the ledger.
    assert!(db.raw("UPDATE consent_records SET status = 'refused'").await.is_err());
    assert!(db.raw("DELETE FROM consent_records").await.is_err());
    assert_eq!(s.consent_history(&t, ada.id).await.unwrap(), history);

    // Paging through the whole ledger, in ledger order.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.consent_page(&t, after, 2).await.unwrap();
        assert!(page.records.len() <= 2);
        seen.extend(page.records.iter().map(|r| r.id));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let ledger_order: Vec<RecordId> = records.iter().map(|r| r.id).collect();
    assert_eq!(seen, ledger_order);
    let streamed: Vec<ConsentRecord> = s.all_consent_records(&t).try_collect().await.unwrap();
    assert_eq!(streamed, records);
}

pub async fn every_write_is_audited_once(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let key = NewApiKey { tenant: t.clone(), role: Role::Operator, label: "ops".into(), created_at: Timestamp::now() };
    let key = s.create_api_key(key, draft("apikey.create")).await.unwrap().value;
    let ada = subject(s, &t, "ada@example.com").await;
    s.add_identity(&t, ada.id, email("ada@work.example"), Timestamp::now(), draft("identity.add")).await.unwrap();
    let flag = SubjectFlag { kind: FlagKind::Restricted, set_at: Timestamp::now(), due: None, detail: None };
    s.set_flag(&t, ada.id, flag, draft("flag.set")).await.unwrap();
    s.clear_flag(&t, ada.id, FlagKind::Restricted, draft("flag.clear")).await.unwrap();
    let ev = LifecycleEvent { kind: LifecycleKind::Signup, at: Timestamp::now(), detail: None };
    s.append_event(&t, ada.id, ev, draft("event.append")).await.unwrap();
    s.append_consent(consent(&t, ada.id, "newsletter", ConsentStatus::Given, "2026-03-01T00:00:00Z"), draft("consent"))
        .await
        .unwrap();
    let read = s.record_read(&t, draft("subject.read")).await.unwrap();
    assert_eq!(read.seq, 9);
    s.revoke_api_key(&t, key.key.id, Timestamp::now(), draft("apikey.revoke")).await.unwrap();

    // Refused writes leave no trace.
    let _ = s.clear_flag(&t, ada.id, FlagKind::UnderAge, draft("flag.clear")).await.unwrap_err();
    let _ = s.revoke_api_key(&t, key.key.id, Timestamp::now(), draft("apikey.revoke")).await.unwrap_err();
    let _ = s.record_read(&tid("nobody"), draft("subject.read")).await.unwrap_err();

    let entries = s.audit_entries(&t, 0, 100).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "apikey.create",
            "subject.register",
            "identity.add",
            "flag.set",
            "flag.clear",
            "event.append",
            "consent",
            "subject.read",
            "apikey.revoke"
        ]
    );
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    assert_eq!(entries[8], read);
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(10));
    let h = s.audit_head(&t).await.unwrap();
    assert_eq!((h.seq, h.hash), (10, entries[9].hash));
    assert_eq!(s.audit_entries(&t, 8, 1).await.unwrap(), entries[8..9]);
    let all = s.verify_all_audit().await.unwrap();
    assert_eq!(all, vec![(t.clone(), Ok(10))]);
}

async fn chain_of(s: &impl Store, n: usize) -> TenantId {
    let t = tenant(s, "acme").await;
    for i in 1..n {
        s.record_read(&t, AuditDraft::new("api", "subject.read", &format!("subject:{i}"), format!("read {i}")))
            .await
            .unwrap();
    }
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(n as u64));
    t
}

pub async fn tampered_detail_is_found_at_its_entry(db: Arc<Db>) {
    let s = &db.store;
    let t = chain_of(s, 12).await;
    db.tamper("UPDATE audit_entries SET detail = 'R' || substr(detail, 2) WHERE tenant = 'acme' AND seq = 7").await;
    let err = s.verify_audit(&t).await.unwrap().unwrap_err();
    assert_eq!(err.seq(), 7, "{err}");
    assert!(matches!(err, AuditError::Chain(_)), "{err}");
    assert_eq!(err.to_string(), "tenant `acme`: entry 7 was altered (its content no longer matches its hash)");
}

pub async fn tampered_hash_is_found_at_its_entry(db: Arc<Db>) {
    let s = &db.store;
    let t = chain_of(s, 12).await;
    let flip = if db.is_postgres() {
        "UPDATE audit_entries SET hash = set_byte(hash, 5, get_byte(hash, 5) # 1) WHERE tenant = 'acme' AND seq = 4"
    } else {
        "UPDATE audit_entries SET hash = unhex(substr(hex(hash), 1, 10) || \
         CASE WHEN substr(hex(hash), 11, 2) = '00' THEN '01' ELSE '00' END || substr(hex(hash), 13)) \
         WHERE tenant = 'acme' AND seq = 4"
    };
    db.tamper(flip).await;
    let err = s.verify_audit(&t).await.unwrap().unwrap_err();
    assert_eq!(err.seq(), 4, "{err}");
}

pub async fn removed_entries_are_found(db: Arc<Db>) {
    let s = &db.store;
    let t = chain_of(s, 10).await;
    db.tamper("DELETE FROM audit_entries WHERE tenant = 'acme' AND seq = 10").await;
    let err = s.verify_audit(&t).await.unwrap().unwrap_err();
    assert!(matches!(err, AuditError::Truncated { last: 9, head: 10, .. }), "{err}");
    assert_eq!(err.seq(), 10);
    db.tamper("DELETE FROM audit_entries WHERE tenant = 'acme' AND seq = 5").await;
    let err = s.verify_audit(&t).await.unwrap().unwrap_err();
    assert_eq!(err.seq(), 5, "{err}");
}

/// A chain long enough to be verified in ranges, one per core (at least 1,024 entries each):
/// the first bad entry is still the one reported, also at a range's edge.
pub async fn long_chains_are_verified_in_ranges(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let n = 2_100u64;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8u64 {
        let (db, t) = (db.clone(), t.clone());
        tasks.spawn(async move {
            for i in (2 + w..=n).step_by(8) {
                let d = AuditDraft::new("api", "subject.read", &format!("subject:{i}"), format!("read {i}"));
                db.store.record_read(&t, d).await.unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = seen.clone();
    let progress = Arc::new(move |k: u64| {
        counter.fetch_add(k, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(s.verify_audit_progress(&t, progress).await.unwrap(), Ok(n));
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), n, "progress adds up to the entries checked");

    db.tamper("UPDATE audit_entries SET detail = 'R' || substr(detail, 2) WHERE tenant = 'acme' AND seq = 1600").await;
    let err = s.verify_audit(&t).await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "tenant `acme`: entry 1600 was altered (its content no longer matches its hash)");
    // The last entry of the first range (of two) goes missing: found where it was, before 1600.
    db.tamper("DELETE FROM audit_entries WHERE tenant = 'acme' AND seq = 1050").await;
    let err = s.verify_audit(&t).await.unwrap().unwrap_err();
    assert_eq!(
        err.to_string(),
        "tenant `acme`: entry 1050 was expected but entry 1051 came next (entries missing or reordered)"
    );
    db.tamper("DELETE FROM audit_entries WHERE tenant = 'acme' AND seq = 1").await;
    assert_eq!(s.verify_audit(&t).await.unwrap().unwrap_err().seq(), 1);
}

pub async fn concurrent_writers_keep_one_chain(db: Arc<Db>) {
    let t = tenant(&db.store, "acme").await;
    let other = Arc::new(db.open_again().await);
    let mut subjects = Vec::new();
    for i in 0..8 {
        subjects.push(subject(&db.store, &t, &format!("s{i}@example.com")).await.id);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, sid) in subjects.iter().copied().enumerate() {
        let (db, other, t) = (db.clone(), other.clone(), t.clone());
        tasks.spawn(async move {
            for n in 0..50 {
                let r = consent(&t, sid, "newsletter", ConsentStatus::Given, "2026-03-01T00:00:00Z");
                let d = AuditDraft::new("api", "consent.append", &format!("subject:{sid}"), format!("{i}/{n}"));
                // Half the writers go through a second store on the same database, as a second
                // server process would.
                if i % 2 == 0 { db.store.append_consent(r, d).await } else { other.append_consent(r, d).await }
                    .unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    other.close().await;
    let s = &db.store;
    let expected = 1 + 8 + 8 * 50;
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(expected));
    let entries = s.audit_entries(&t, 0, 1000).await.unwrap();
    assert_eq!(entries.len() as u64, expected);
    for sid in subjects {
        assert_eq!(s.consent_history(&t, sid).await.unwrap().len(), 50);
    }
}

pub async fn api_keys(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let u = tenant(s, "umbrella").await;
    let new = NewApiKey {
        tenant: t.clone(),
        role: Role::Application,
        label: "checkout".into(),
        created_at: at("2026-05-01T00:00:00Z"),
    };
    let created = s.create_api_key(new, draft("apikey.create")).await.unwrap().value;
    assert!(created.secret.starts_with("cvk_"));
    assert_eq!(created.key.prefix, &created.secret[..12]);
    assert_eq!(created.key.hash, hash_secret(&created.secret));

    let found = s.find_api_key_by_hash(&hash_secret(&created.secret)).await.unwrap().unwrap();
    assert_eq!(found, created.key);
    assert_eq!((found.tenant.as_str(), found.role, found.label.as_str()), ("acme", Role::Application, "checkout"));
    assert_eq!(s.find_api_key_by_hash(&hash_secret("cvk_wrong")).await.unwrap(), None);

    let admin = NewApiKey { tenant: t.clone(), role: Role::Admin, label: "ada".into(), created_at: Timestamp::now() };
    let admin = s.create_api_key(admin, draft("apikey.create")).await.unwrap().value;
    assert_ne!(admin.secret, created.secret);
    let listed: Vec<Role> = s.list_api_keys(&t).await.unwrap().iter().map(|k| k.role).collect();
    assert_eq!(listed, [Role::Application, Role::Admin]);
    assert!(s.list_api_keys(&u).await.unwrap().is_empty());
    assert_not_found(s.list_api_keys(&tid("nobody")).await, "tenant");

    // Another tenant cannot revoke it; its own admin can, once.
    assert_not_found(s.revoke_api_key(&u, created.key.id, Timestamp::now(), draft("r")).await, "api key");
    let revoked = s.revoke_api_key(&t, created.key.id, at("2026-06-01T00:00:00Z"), draft("r")).await.unwrap();
    assert_eq!(revoked.value.revoked_at, Some(at("2026-06-01T00:00:00Z")));
    assert_eq!(s.find_api_key_by_hash(&hash_secret(&created.secret)).await.unwrap(), None);
    assert!(matches!(
        s.revoke_api_key(&t, created.key.id, Timestamp::now(), draft("r")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.find_api_key_by_hash(&hash_secret(&admin.secret)).await.unwrap().is_some());

    let unknown =
        NewApiKey { tenant: tid("nobody"), role: Role::Admin, label: "x".into(), created_at: Timestamp::now() };
    assert_not_found(s.create_api_key(unknown, draft("apikey.create")).await, "tenant");
}

pub async fn migrations_run_twice_are_a_no_op(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    let other = db.open_again().await;
    other.migrate().await.unwrap();
    other.close().await;
    assert_eq!(s.get_tenant(&t).await.unwrap().name, "Tenant acme");
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(1));
}

pub async fn bad_input_is_refused_and_writes_nothing(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let ada = subject(s, &t, "ada@example.com").await;
    let before = head(s, &t).await;
    let good = || consent(&t, ada.id, "newsletter", ConsentStatus::Given, "2026-03-01T00:00:00Z");

    let cases: Vec<(ConsentRecord, &str)> = vec![
        (ConsentRecord { purpose: String::new(), ..good() }, "purpose"),
        (ConsentRecord { purpose: "news letter".into(), ..good() }, "purpose"),
        (ConsentRecord { policy_version: " ".into(), ..good() }, "policy version"),
        (ConsentRecord { purpose_hash: "abc".into(), ..good() }, "purpose hash"),
        (ConsentRecord { notice_hash: "A".repeat(64), ..good() }, "notice hash"),
        (ConsentRecord { actor: String::new(), ..good() }, "consent actor"),
        (ConsentRecord { evidence: Some("a\u{0}b".into()), ..good() }, "evidence"),
    ];
    for (record, field) in cases {
        assert_invalid(s.append_consent(record, draft("consent.append")).await, field);
    }
    assert_invalid(s.append_consent(good(), AuditDraft::new("", "consent.append", "x", "")).await, "audit actor");
    assert_invalid(s.append_consent(good(), AuditDraft::new("api", "", "x", "")).await, "audit action");

    let mut no_ids = new_subject(&t, vec![]);
    assert_invalid(s.register_subject(no_ids.clone(), draft("subject.register")).await, "identities");
    no_ids.identities.push(email("grace@example.com"));
    no_ids.kind = "Customer".into();
    assert_invalid(s.register_subject(no_ids, draft("subject.register")).await, "subject type");
    let empty = NewTenant { id: tid("beta"), name: String::new(), created_at: Timestamp::now() };
    assert_invalid(s.create_tenant(empty, draft("tenant.create")).await, "tenant name");
    let bad_flag =
        SubjectFlag { kind: FlagKind::Objection("a b".into()), set_at: Timestamp::now(), due: None, detail: None };
    assert_invalid(s.set_flag(&t, ada.id, bad_flag, draft("flag.set")).await, "purpose");
    assert_invalid(s.consent_page(&t, None, 0).await, "page size");
    assert_invalid(s.audit_entries(&t, 0, 1_000_000).await, "page size");
    // Unknown subject: not found, nothing written.
    let stray =
        consent(&t, SubjectId::from_uuid(Uuid::now_v7()), "newsletter", ConsentStatus::Given, "2026-03-01T00:00:00Z");
    assert_not_found(s.append_consent(stray, draft("consent.append")).await, "subject");

    assert_eq!(head(s, &t).await, before);
    assert!(s.consent_history(&t, ada.id).await.unwrap().is_empty());
    assert_eq!(s.find_subject_by_identity(&t, &email("grace@example.com")).await.unwrap(), None);
    assert_not_found(s.get_tenant(&tid("beta")).await, "tenant");
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(before));
}

pub async fn lifecycle_events(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let ada = subject(s, &t, "ada@example.com").await;
    let events = [
        LifecycleEvent { kind: LifecycleKind::Signup, at: at("2026-01-01T00:00:00Z"), detail: None },
        LifecycleEvent {
            kind: LifecycleKind::Deceased,
            at: at("2026-09-01T00:00:00Z"),
            detail: Some("delete everything\nexcept the invoices".into()),
        },
        LifecycleEvent {
            kind: LifecycleKind::LastInteraction,
            at: Timestamp::from_nanosecond(1_780_000_000_000_000_999).unwrap(),
            detail: None,
        },
    ];
    for e in &events {
        s.append_event(&t, ada.id, e.clone(), draft("event.append")).await.unwrap();
    }
    let listed = s.list_events(&t, ada.id).await.unwrap();
    let kinds: Vec<LifecycleKind> = listed.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [LifecycleKind::Signup, LifecycleKind::LastInteraction, LifecycleKind::Deceased]);
    assert_eq!(listed[1].at, Timestamp::from_microsecond(1_780_000_000_000_000).unwrap());
    assert_eq!(listed[2], events[1]);
}

pub async fn flags(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let kid = subject(s, &t, "kid@example.com").await;
    let under_age = SubjectFlag {
        kind: FlagKind::UnderAge,
        set_at: at("2026-03-01T00:00:00Z"),
        due: Some(at("2026-03-31T00:00:00Z")),
        detail: Some("age 12 stated in a support chat".into()),
    };
    let w = s.set_flag(&t, kid.id, under_age.clone(), draft("flag.set")).await.unwrap();
    assert_eq!(w.value.flag(&FlagKind::UnderAge), Some(&under_age));
    // Setting it again replaces it.
    let sooner = SubjectFlag { due: Some(at("2026-03-15T00:00:00Z")), ..under_age.clone() };
    s.set_flag(&t, kid.id, sooner.clone(), draft("flag.set")).await.unwrap();
    let objection = SubjectFlag {
        kind: FlagKind::Objection("marketing.email".into()),
        set_at: at("2026-03-02T00:00:00Z"),
        due: None,
        detail: None,
    };
    s.set_flag(&t, kid.id, objection.clone(), draft("flag.set")).await.unwrap();
    let got = s.get_subject(&t, kid.id).await.unwrap();
    assert_eq!(got.flags, [objection.clone(), sooner]);
    let w = s.clear_flag(&t, kid.id, FlagKind::UnderAge, draft("flag.clear")).await.unwrap();
    assert_eq!(w.value.flags, [objection]);
    assert_not_found(s.clear_flag(&t, kid.id, FlagKind::UnderAge, draft("flag.clear")).await, "flag");
    assert_eq!(head(s, &t).await, 6);
}

pub async fn failed_writes_among_concurrent_ones_roll_back_alone(db: Arc<Db>) {
    let t = tenant(&db.store, "acme").await;
    subject(&db.store, &t, "taken@example.com").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (db, t) = (db.clone(), t.clone());
        tasks.spawn(async move {
            for n in 0..20 {
                // Every other registration fails on its second identity, after its subject row
                // and first identity were written: those must be undone, and nothing else.
                let second = if n % 2 == 0 { "taken@example.com".to_owned() } else { format!("b{i}-{n}@example.com") };
                let new = new_subject(&t, vec![email(&format!("a{i}-{n}@example.com")), email(&second)]);
                let r = db.store.register_subject(new, draft("subject.register")).await;
                assert_eq!(r.is_ok(), n % 2 == 1, "{r:?}");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let s = &db.store;
    for i in 0..8 {
        for n in 0..20 {
            let found = s.find_subject_by_identity(&t, &email(&format!("a{i}-{n}@example.com"))).await.unwrap();
            assert_eq!(found.is_some(), n % 2 == 1, "a{i}-{n}");
        }
    }
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(2 + 8 * 10));
}

/// Writes that change what servers cache announce it when they commit, on PostgreSQL, to every
/// store watching the database (here a second store, as another server process); a lost
/// connection is told, and the watch listens again by itself.
pub async fn changes_are_announced_when_they_commit(db: Arc<Db>) {
    let s = &db.store;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let other = db.open_again().await;
    let watch = other.watch(move |c| {
        let _ = tx.send(c);
    });
    if !db.is_postgres() {
        assert!(watch.is_none(), "SQLite has one server process: nothing to watch");
        other.close().await;
        return;
    }
    let mut next = async || tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    assert_eq!(next().await, Change::Listening { reconnected: false });
    let t = tenant(s, "acme").await;
    let changed = |subject: SubjectId| Change::Subject { tenant: t.clone(), subject };

    let ada = subject(s, &t, "ada@example.com").await.id;
    assert_eq!(next().await, changed(ada));
    // A refused write announces nothing: the next notice is the next write's.
    assert!(
        s.register_subject(new_subject(&t, vec![email("ada@example.com")]), draft("subject.register")).await.is_err()
    );
    s.append_consent(consent(&t, ada, "newsletter", ConsentStatus::Given, "2026-03-01T00:00:00Z"), draft("c"))
        .await
        .unwrap();
    assert_eq!(next().await, changed(ada));
    s.add_identity(&t, ada, email("ada@work.example"), at("2026-03-01T00:00:00Z"), draft("i")).await.unwrap();
    assert_eq!(next().await, changed(ada));
    let flag = SubjectFlag { kind: FlagKind::Restricted, set_at: at("2026-03-01T00:00:00Z"), due: None, detail: None };
    s.set_flag(&t, ada, flag, draft("f")).await.unwrap();
    assert_eq!(next().await, changed(ada));
    s.clear_flag(&t, ada, FlagKind::Restricted, draft("f")).await.unwrap();
    assert_eq!(next().await, changed(ada));
    let event = LifecycleEvent { kind: LifecycleKind::Deceased, at: at("2026-03-02T00:00:00Z"), detail: None };
    s.append_event(&t, ada, event, draft("e")).await.unwrap();
    assert_eq!(next().await, changed(ada));
    let new =
        NewApiKey { tenant: t.clone(), role: Role::Application, label: "app".into(), created_at: Timestamp::now() };
    let key = s.create_api_key(new, draft("apikey.create")).await.unwrap().value;
    s.revoke_api_key(&t, key.key.id, Timestamp::now(), draft("apikey.revoke")).await.unwrap();
    assert_eq!(next().await, Change::Key { hash: hash_secret(&key.secret) });

    // How long after a write returns its notice is heard (printed; not a pass/fail criterion).
    let mut delays = Vec::new();
    for i in 0..21 {
        let when = format!("2026-03-02T00:00:{i:02}Z");
        s.append_consent(consent(&t, ada, "newsletter", ConsentStatus::Given, &when), draft("c")).await.unwrap();
        let written = std::time::Instant::now();
        assert_eq!(next().await, changed(ada));
        delays.push(written.elapsed());
    }
    delays.sort();
    eprintln!("change notices heard after the write returned: median {:?}, max {:?}", delays[10], delays[20]);

    // The watch's connection is cut: it says so, and listens again.
    db.raw(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'covenant-listener' AND datname = current_database()",
    )
    .await
    .unwrap();
    assert!(matches!(next().await, Change::Lost { .. }));
    assert_eq!(next().await, Change::Listening { reconnected: true });
    s.append_consent(consent(&t, ada, "newsletter", ConsentStatus::Withdrawn, "2026-03-03T00:00:00Z"), draft("c"))
        .await
        .unwrap();
    assert_eq!(next().await, changed(ada));
    drop(watch);
    other.close().await;
}

/// Reads of personal data through the API are one transaction with their audit entry: data is
/// never returned without its entry, and a read that fails (not found, another tenant's subject,
/// an audit entry that cannot be written) records nothing.
pub async fn audited_reads_are_one_transaction(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let other = tenant(s, "globex").await;
    let ada = subject(s, &t, "ada@example.com").await;
    let event = LifecycleEvent { kind: LifecycleKind::Signup, at: at("2026-03-01T00:00:00Z"), detail: None };
    s.append_event(&t, ada.id, event, draft("subject.event")).await.unwrap();
    s.append_consent(consent(&t, ada.id, "newsletter", ConsentStatus::Given, "2026-03-01T00:00:00Z"), draft("c"))
        .await
        .unwrap();
    let h = head(s, &t).await;

    let w = s.read_subject(&t, ada.id, draft("subject.read")).await.unwrap();
    assert_eq!(w.value.0, s.get_subject(&t, ada.id).await.unwrap());
    assert_eq!(w.value.1.len(), 1);
    assert_eq!((w.audit.seq, w.audit.action.as_str()), (h + 1, "subject.read"));
    let w = s
        .lookup_subject(&t, &email("ada@example.com"), |found: &Subject| {
            AuditDraft::new("test", "subject.read", &format!("subject:{}", found.id), "{}")
        })
        .await
        .unwrap();
    assert_eq!(w.value.0.id, ada.id);
    assert_eq!((w.audit.seq, w.audit.target.clone()), (h + 2, format!("subject:{}", ada.id)));
    let w = s
        .read_consent_history(&t, ada.id, |records: &[ConsentRecord]| {
            AuditDraft::new("test", "consent.read", "subject", format!("{{\"records\":{}}}", records.len()))
        })
        .await
        .unwrap();
    assert_eq!(w.value.len(), 1);
    assert_eq!((w.audit.seq, w.audit.detail.as_str()), (h + 3, "{\"records\":1}"));
    assert_eq!(s.record_subject_read(&t, ada.id, draft("unsubscribe_link.create")).await.unwrap().seq, h + 4);
    let h = h + 4;
    assert_eq!(head(s, &t).await, h);

    // Another tenant's subject is not found, and neither tenant's log records anything.
    let ho = head(s, &other).await;
    assert_not_found(s.read_subject(&other, ada.id, draft("subject.read")).await, "subject");
    assert_not_found(s.lookup_subject(&other, &email("ada@example.com"), |_| draft("subject.read")).await, "subject");
    assert_not_found(s.read_consent_history(&other, ada.id, |_| draft("consent.read")).await, "subject");
    assert_not_found(s.record_subject_read(&other, ada.id, draft("x")).await, "subject");
    assert_not_found(s.lookup_subject(&t, &email("nobody@example.com"), |_| draft("subject.read")).await, "subject");
    assert_eq!((head(s, &t).await, head(s, &other).await), (h, ho));

    // An entry that cannot be written undoes the read: drafted from what was read, then refused
    // inside the transaction...
    let bad = |_: &[ConsentRecord]| AuditDraft::new("", "consent.read", "subject", "");
    assert_invalid(s.read_consent_history(&t, ada.id, bad).await, "audit actor");
    let bad = |_: &Subject| AuditDraft::new("test", "", "subject", "");
    assert_invalid(s.lookup_subject(&t, &email("ada@example.com"), bad).await, "audit action");
    assert_eq!(head(s, &t).await, h);
    // ...or failing to append, because the head was moved back behind the store's back (the
    // next entry's number is taken): the read fails with it, and nothing is recorded.
    let entries = s.audit_entries(&t, 0, 1000).await.unwrap().len();
    db.raw("UPDATE audit_heads SET seq = seq - 1 WHERE tenant = 'acme'").await.unwrap();
    assert!(s.read_subject(&t, ada.id, draft("subject.read")).await.is_err());
    assert!(s.read_consent_history(&t, ada.id, |_| draft("consent.read")).await.is_err());
    assert_eq!(s.audit_entries(&t, 0, 1000).await.unwrap().len(), entries);
    db.raw("UPDATE audit_heads SET seq = seq + 1 WHERE tenant = 'acme'").await.unwrap();
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(h));
}

/// Writes that come with a request's main write (its `Sec-GPC` signal, the under-age flag an
/// event calls for) commit with it or not at all, each with its own audit entry; on PostgreSQL
/// a write undone announces nothing.
pub async fn writes_made_with_a_request_commit_together(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch = s.watch(move |c| {
        let _ = tx.send(c);
    });
    if watch.is_some() {
        let first = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.unwrap();
        assert_eq!(first, Some(Change::Listening { reconnected: false }));
    }
    let ada = subject(s, &t, "ada@example.com").await.id;
    let gpc = {
        let t = t.clone();
        move |subject: SubjectId| {
            let r = consent(&t, subject, "signal:gpc", ConsentStatus::Refused, "2026-03-01T00:00:00Z");
            Also::Consent(r, draft("consent.gpc"))
        }
    };
    let h = head(s, &t).await;
    let given = consent(&t, ada, "newsletter", ConsentStatus::Given, "2026-03-01T00:00:00Z");
    let (w, also) = s.append_consent_with(given, draft("consent.give"), vec![gpc(ada)]).await.unwrap();
    assert_eq!(w.audit.seq, h + 1);
    let [AlsoWritten::Consent(g)] = also.as_slice() else { panic!("{also:?}") };
    assert_eq!((g.value.purpose.as_str(), g.audit.seq), ("signal:gpc", h + 2));
    assert_eq!(s.consent_history(&t, ada).await.unwrap().len(), 2);

    // The ride-along write fails (no such subject): the main write is undone with it.
    let missing = SubjectId::from_uuid(Uuid::now_v7());
    let withdrawn = consent(&t, ada, "newsletter", ConsentStatus::Withdrawn, "2026-03-02T00:00:00Z");
    assert_not_found(s.append_consent_with(withdrawn, draft("consent.withdraw"), vec![gpc(missing)]).await, "subject");
    let other_tenant = consent(&tid("globex"), ada, "signal:gpc", ConsentStatus::Refused, "2026-03-02T00:00:00Z");
    let also = vec![Also::Consent(other_tenant, draft("consent.gpc"))];
    let r = s.add_identity_with(&t, ada, email("ada@work.example"), at("2026-03-02T00:00:00Z"), draft("i"), also).await;
    assert_invalid(r, "tenant");
    assert_eq!(s.consent_history(&t, ada).await.unwrap().len(), 2);
    assert_eq!(s.find_subject_by_identity(&t, &email("ada@work.example")).await.unwrap(), None);
    assert_eq!(head(s, &t).await, h + 2);

    // A registration's ride-along writes are about the new subject; if they fail, nobody is
    // registered and the identity stays free.
    let (w, also) = s
        .register_subject_with(new_subject(&t, vec![email("bob@example.com")]), draft("subject.register"), {
            let gpc = gpc.clone();
            move |bob: &Subject| vec![gpc(bob.id)]
        })
        .await
        .unwrap();
    let bob = w.value.id;
    assert!(matches!(also.as_slice(), [AlsoWritten::Consent(c)] if c.value.subject == bob));
    assert_eq!(s.consent_history(&t, bob).await.unwrap()[0].purpose, "signal:gpc");
    let r = s
        .register_subject_with(new_subject(&t, vec![email("carol@example.com")]), draft("subject.register"), {
            let gpc = gpc.clone();
            move |_: &Subject| vec![gpc(missing)]
        })
        .await;
    assert_not_found(r, "subject");
    assert_eq!(s.find_subject_by_identity(&t, &email("carol@example.com")).await.unwrap(), None);

    // An event and the flag it calls for, drafted from the subject as it is after the event.
    let event = LifecycleEvent { kind: LifecycleKind::UnderageFound, at: at("2026-03-03T00:00:00Z"), detail: None };
    let (w, also) = s
        .append_event_with(&t, ada, event, draft("subject.event"), |s: &Subject| {
            let flag = SubjectFlag {
                kind: FlagKind::UnderAge,
                set_at: at("2026-03-03T00:00:00Z"),
                due: Some(at("2026-03-03T00:00:00Z")),
                detail: Some(format!("{} identities", s.identities.len())),
            };
            vec![Also::Flag(s.id, flag, draft("subject.flag.set"))]
        })
        .await
        .unwrap();
    let [AlsoWritten::Flag(f)] = also.as_slice() else { panic!("{also:?}") };
    assert_eq!(f.audit.seq, w.audit.seq + 1);
    assert_eq!(f.value.flag(&FlagKind::UnderAge).and_then(|f| f.detail.clone()).as_deref(), Some("1 identities"));
    assert!(s.get_subject(&t, ada).await.unwrap().flag(&FlagKind::UnderAge).is_some());
    let n = head(s, &t).await;
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(n));

    // The notices heard are those of committed writes only, in commit order.
    let Some(watch) = watch else { return };
    let mut heard = Vec::new();
    while heard.len() < 4 {
        match tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.unwrap().unwrap() {
            Change::Subject { subject, .. } => heard.push(subject),
            other => panic!("{other:?}"),
        }
    }
    // Ada registered; Ada's consent with her GPC; Bob registered with his; Ada's event with her
    // flag (PostgreSQL delivers a notice sent twice in one transaction once). None of the
    // writes undone.
    assert_eq!(heard, [ada, ada, bob, ada]);
    let more = tokio::time::timeout(std::time::Duration::from_millis(300), rx.recv()).await;
    assert!(more.is_err(), "{more:?}");
    drop(watch);
}
