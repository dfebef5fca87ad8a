//! The journal of data-subject request runs, on both backends: runs with their steps, one open
//! run per request, steps marked once, finishing clears the write sets, every write audited.

use std::sync::Arc;

use covenant_core::TenantId;
use covenant_core::audit::AuditDraft;
use covenant_store::{
    FinishRun, JournalStore, NewRun, NewStep, NewTenant, RunId, RunState, StepState, Store, StoreError,
};
use jiff::Timestamp;

use super::harness::Db;

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::super::harness::run(super::super::harness::Db::sqlite().await, super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(db) = super::super::harness::Db::postgres(stringify!($case)).await {
                        super::super::harness::run(db, super::$case).await;
                    }
                }
            )*
        }
    };
}

both!(
    runs_and_steps_round_trip,
    one_open_run_per_request,
    steps_are_marked_once,
    finishing_clears_write_sets,
    bad_runs_are_refused
);

fn draft(action: &str) -> AuditDraft {
    AuditDraft::new("test", action, "run", "{}")
}

async fn tenant(db: &Db) -> TenantId {
    let t = TenantId::parse("acme").unwrap();
    let new = NewTenant { id: t.clone(), name: "Acme".into(), created_at: Timestamp::now() };
    db.store.create_tenant(new, draft("tenant.create")).await.unwrap();
    t
}

fn new_run(t: &TenantId, key: &str) -> NewRun {
    NewRun {
        tenant: t.clone(),
        request_key: key.into(),
        kind: "erasure".into(),
        identities: vec!["email:ada@example.com".into(), "phone:+358401234567".into()],
        scope: "controller".into(),
        plan_hash: "ab".repeat(32),
        report: "{\"kept\":[]}".into(),
        created_at: "2026-03-01T10:00:00.1234567Z".parse().unwrap(),
    }
}

fn steps() -> Vec<NewStep> {
    vec![
        NewStep { dataset: "crm".into(), ops: "[{\"op\":\"delete\"}]".into(), op_count: 1 },
        NewStep { dataset: "events".into(), ops: "[]".into(), op_count: 0 },
    ]
}

async fn runs_and_steps_round_trip(db: Arc<Db>) {
    let t = tenant(&db).await;
    let head = db.store.audit_head(&t).await.unwrap().seq;
    let w = db.store.create_run(new_run(&t, "req-1"), steps(), draft("dsr.run.create")).await.unwrap();
    assert_eq!(w.audit.seq, head + 1, "the run and its steps are one audited write");
    let run = w.value;
    assert_eq!(run.state, RunState::Open);
    assert_eq!((run.steps, run.applied), (2, 0));
    assert_eq!(run.identities, vec!["email:ada@example.com", "phone:+358401234567"]);
    assert_eq!(run.created_at.to_string(), "2026-03-01T10:00:00.123456Z", "kept to the microsecond");
    assert_eq!(db.store.get_run(&t, run.id).await.unwrap(), run);
    assert_eq!(db.store.find_open_run(&t, "req-1").await.unwrap(), Some(run.clone()));
    assert_eq!(db.store.find_open_run(&t, "req-2").await.unwrap(), None);

    let steps = db.store.run_steps(&t, run.id).await.unwrap();
    assert_eq!(steps.iter().map(|s| (s.seq, s.dataset.as_str())).collect::<Vec<_>>(), [(1, "crm"), (2, "events")]);
    assert!(steps.iter().all(|s| s.state == StepState::Pending && s.applied_at.is_none()));
    assert_eq!(steps[0].ops, "[{\"op\":\"delete\"}]");
    assert_eq!(steps[0].ops_hash.len(), 64);

    let listed = db.store.list_runs(&t, 10).await.unwrap();
    assert_eq!(listed, vec![run.clone()]);
    // Another tenant sees nothing of it.
    let other = TenantId::parse("other").unwrap();
    let new = NewTenant { id: other.clone(), name: "Other".into(), created_at: Timestamp::now() };
    db.store.create_tenant(new, draft("tenant.create")).await.unwrap();
    assert!(db.store.list_runs(&other, 10).await.unwrap().is_empty());
    assert!(matches!(db.store.get_run(&other, run.id).await, Err(StoreError::NotFound { .. })));
}

async fn one_open_run_per_request(db: Arc<Db>) {
    let t = tenant(&db).await;
    let first = db.store.create_run(new_run(&t, "req-1"), steps(), draft("dsr.run.create")).await.unwrap().value;
    let head = db.store.audit_head(&t).await.unwrap().seq;
    let err = db.store.create_run(new_run(&t, "req-1"), steps(), draft("dsr.run.create")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(db.store.audit_head(&t).await.unwrap().seq, head, "a refused run writes nothing");
    // Once finished, the same request may run again.
    db.store
        .finish_run(
            &t,
            first.id,
            FinishRun { state: RunState::Done, report: "{}".into(), at: Timestamp::now(), applied: vec![] },
            draft("dsr.run.finish"),
        )
        .await
        .unwrap();
    let second = db.store.create_run(new_run(&t, "req-1"), vec![], draft("dsr.run.create")).await.unwrap().value;
    assert_ne!(second.id, first.id);
    assert_eq!(db.store.find_open_run(&t, "req-1").await.unwrap().map(|r| r.id), Some(second.id));
    let listed = db.store.list_runs(&t, 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(db.store.list_runs(&t, 1).await.unwrap().len(), 1);
}

async fn steps_are_marked_once(db: Arc<Db>) {
    let t = tenant(&db).await;
    let run = db.store.create_run(new_run(&t, "req-1"), steps(), draft("dsr.run.create")).await.unwrap().value;
    let at: Timestamp = "2026-03-01T10:00:01Z".parse().unwrap();
    let w = db.store.mark_step_applied(&t, run.id, 1, 12, at, draft("dsr.step.applied")).await.unwrap();
    assert_eq!(w.value.state, StepState::Applied);
    assert_eq!(w.value.rows_changed, Some(12));
    assert_eq!(w.value.applied_at, Some(at));
    let head = db.store.audit_head(&t).await.unwrap().seq;
    let err = db.store.mark_step_applied(&t, run.id, 1, 12, at, draft("dsr.step.applied")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(db.store.audit_head(&t).await.unwrap().seq, head);
    let err = db.store.mark_step_applied(&t, run.id, 9, 0, at, draft("dsr.step.applied")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let run = db.store.get_run(&t, run.id).await.unwrap();
    assert_eq!((run.steps, run.applied), (2, 1));
    let missing = RunId(uuid::Uuid::now_v7());
    assert!(matches!(
        db.store.mark_step_applied(&t, missing, 1, 0, at, draft("dsr.step.applied")).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn finishing_clears_write_sets(db: Arc<Db>) {
    let t = tenant(&db).await;
    let run = db.store.create_run(new_run(&t, "req-1"), steps(), draft("dsr.run.create")).await.unwrap().value;
    let before = db.store.run_steps(&t, run.id).await.unwrap();
    let at: Timestamp = "2026-03-01T10:00:02Z".parse().unwrap();
    let done = db
        .store
        .finish_run(
            &t,
            run.id,
            FinishRun { state: RunState::Done, report: "{\"deleted\":3}".into(), at, applied: vec![(2, 5)] },
            draft("dsr.run.finish"),
        )
        .await
        .unwrap()
        .value;
    assert_eq!(done.state, RunState::Done);
    assert_eq!(done.report, "{\"deleted\":3}");
    assert_eq!(done.finished_at, Some(at));
    assert_eq!((done.steps, done.applied), (2, 1), "step 2 was marked with the finish");
    let after = db.store.run_steps(&t, run.id).await.unwrap();
    assert_eq!(after[1].rows_changed, Some(5));
    assert!(after.iter().all(|s| s.ops.is_empty()), "the write sets are gone");
    assert_eq!(
        after.iter().map(|s| &s.ops_hash).collect::<Vec<_>>(),
        before.iter().map(|s| &s.ops_hash).collect::<Vec<_>>(),
        "their hashes stay"
    );
    let err = db
        .store
        .finish_run(
            &t,
            run.id,
            FinishRun { state: RunState::Failed, report: "{}".into(), at, applied: vec![] },
            draft("x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let err = db.store.mark_step_applied(&t, run.id, 1, 0, at, draft("x")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "a finished run's steps cannot be marked: {err}");
    assert_eq!(db.store.verify_audit(&t).await.unwrap(), Ok(3));
}

async fn bad_runs_are_refused(db: Arc<Db>) {
    let t = tenant(&db).await;
    let mut no_ids = new_run(&t, "req-1");
    no_ids.identities.clear();
    assert!(matches!(db.store.create_run(no_ids, vec![], draft("x")).await, Err(StoreError::Invalid { .. })));
    let mut bad_key = new_run(&t, "req-1");
    bad_key.request_key = "a\u{0}b".into();
    assert!(matches!(db.store.create_run(bad_key, vec![], draft("x")).await, Err(StoreError::Invalid { .. })));
    let unknown = new_run(&TenantId::parse("nobody").unwrap(), "req-1");
    let err = db.store.create_run(unknown, vec![], draft("x")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(db.store.list_runs(&t, 10).await.unwrap().is_empty());
    let run = db.store.create_run(new_run(&t, "req-1"), vec![], draft("x")).await.unwrap().value;
    let err = db
        .store
        .finish_run(
            &t,
            run.id,
            FinishRun { state: RunState::Open, report: "{}".into(), at: Timestamp::now(), applied: vec![] },
            draft("x"),
        )
        .await;
    assert!(matches!(err, Err(StoreError::Invalid { .. })));
}
