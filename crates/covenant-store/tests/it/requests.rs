//! Conformance cases of the request store, on SQLite and on PostgreSQL: requests move only as the
//! state machine allows, codes are hashed, limited and expire, proof of identity is deleted on
//! verification (promise W10), tenants are isolated, and the job queue leases each job to one
//! worker at a time.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use covenant_core::audit::AuditDraft;
use covenant_core::{Identity, RequestEvent, RequestKind, RequestState, TenantId};
use covenant_store::{AnswerFile, AnswerToken, MAX_ANSWER_FILES, MAX_ATTACHMENT_BYTES, NewAnswer};
use covenant_store::{
    CODE_ATTEMPTS, CODES_PER_HOUR, CodeCheck, CodeRefused, JobId, JobState, NewAttachment, NewCode, NewCustomer,
    NewJob, NewRequest, NewTenant, RequestFilter, RequestSource, RequestStore, RequestUpdate, Retry, SqlStore, Store,
    StoreError, hash_code,
};
use jiff::{SignedDuration, Timestamp};

use super::harness::Db;

macro_rules! cases {
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

cases!(
    requests_move_only_as_the_state_machine_allows,
    codes_are_checked_limited_and_expire,
    proof_is_deleted_on_verification,
    requests_are_isolated_by_tenant,
    overdue_requests_are_listed_by_due_date,
    jobs_are_leased_retried_and_buried,
    concurrent_claimers_never_share_a_job,
    jobs_are_claimed_in_batches_of_a_kind,
    concurrent_batch_claimers_never_share_a_job,
    customers_and_bad_input,
    answers_are_kept_read_once_audited_and_deleted,
    large_proofs_are_kept,
);

const KEY: [u8; 32] = [7; 32];

fn draft(action: &str) -> AuditDraft {
    AuditDraft::new("test", action, "request", "{}")
}

fn now() -> Timestamp {
    Timestamp::now()
}

async fn tenant(s: &impl Store, id: &str) -> TenantId {
    let t = TenantId::parse(id).unwrap();
    s.create_tenant(NewTenant { id: t.clone(), name: id.into(), created_at: now() }, draft("tenant.create"))
        .await
        .unwrap();
    t
}

fn new_request(t: &TenantId, kind: RequestKind, due_in_days: i64) -> NewRequest {
    let received = now();
    NewRequest {
        tenant: t.clone(),
        kind,
        source: RequestSource::Requester,
        identity: Identity::email("ada@example.com").unwrap(),
        contact: Some("ada@example.com".into()),
        subject: None,
        jurisdiction: None,
        customer: None,
        received_at: received,
        due_at: received.checked_add(SignedDuration::from_hours(24 * due_in_days)).unwrap(),
        acknowledge_by: None,
        details: "{}".into(),
        actor: "test".into(),
    }
}

fn ev(e: RequestEvent) -> RequestUpdate {
    RequestUpdate::event(e, "test", now(), "{}")
}

fn code(c: &str, at: Timestamp) -> NewCode {
    let salt = [3u8; 16];
    NewCode { salt, hash: hash_code(&KEY, &salt, c), issued_at: at }
}

fn job(t: &TenantId, kind: &str, max: u32) -> NewJob {
    NewJob { tenant: t.clone(), kind: kind.into(), payload: "{}".into(), run_at: now(), max_attempts: max }
}

pub async fn requests_move_only_as_the_state_machine_allows(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let r = s.create_request(new_request(&t, RequestKind::Erasure, 30), vec![], draft("request.create")).await.unwrap();
    assert_eq!(r.value.state, RequestState::Received);
    let head = s.audit_head(&t).await.unwrap().seq;
    // Queueing an unverified request is refused, and nothing is written.
    let e = s.update_request(&t, r.value.id, vec![ev(RequestEvent::Queue)], draft("x")).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(ref m) if m.contains("cannot be queued")), "{e}");
    assert_eq!(s.audit_head(&t).await.unwrap().seq, head);
    // Several events in one transaction; one bad event undoes them all.
    let e = s
        .update_request(&t, r.value.id, vec![ev(RequestEvent::SkipVerification), ev(RequestEvent::Start)], draft("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)));
    assert_eq!(s.get_request(&t, r.value.id).await.unwrap().state, RequestState::Received);
    let w = s
        .update_request(
            &t,
            r.value.id,
            vec![ev(RequestEvent::SkipVerification), ev(RequestEvent::Queue).enqueue(job(&t, "request.fulfil", 3))],
            draft("request.queue"),
        )
        .await
        .unwrap();
    assert_eq!(w.value.state, RequestState::Queued);
    assert_eq!(s.list_jobs(&t, None, 10).await.unwrap().len(), 1);
    // An extension moves the due date once, and leaves the state.
    let until = w.value.due_at.checked_add(SignedDuration::from_hours(24 * 60)).unwrap();
    let mut ext = ev(RequestEvent::Extend);
    ext.extension = Some((until, "many systems to search".into()));
    let w = s.update_request(&t, r.value.id, vec![ext.clone()], draft("request.extend")).await.unwrap();
    assert_eq!((w.value.state, w.value.current_due()), (RequestState::Queued, until));
    assert_eq!(w.value.extension_reason.as_deref(), Some("many systems to search"));
    let e = s.update_request(&t, r.value.id, vec![ext], draft("request.extend")).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(ref m) if m.contains("already been extended")), "{e}");
    let mut done = ev(RequestEvent::Complete);
    done.response = Some(r#"{"actions":[]}"#.into());
    let w =
        s.update_request(&t, r.value.id, vec![ev(RequestEvent::Start), done], draft("request.complete")).await.unwrap();
    assert_eq!(w.value.state, RequestState::Completed);
    assert!(w.value.closed_at.is_some());
    assert_eq!(w.value.response.as_deref(), Some(r#"{"actions":[]}"#));
    // Terminal is final.
    let e = s.update_request(&t, r.value.id, vec![ev(RequestEvent::Withdraw)], draft("x")).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)));
    let history: Vec<String> = s.request_history(&t, r.value.id).await.unwrap().into_iter().map(|h| h.event).collect();
    assert_eq!(history, ["receive", "skip_verification", "queue", "extend", "start", "complete"]);
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(s.audit_head(&t).await.unwrap().seq));
}

pub async fn codes_are_checked_limited_and_expire(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let r = s.create_request(new_request(&t, RequestKind::Access, 30), vec![], draft("c")).await.unwrap().value;
    let verify = || vec![ev(RequestEvent::Verify)];
    assert_eq!(
        s.check_code(&t, r.id, "123456", &KEY, now(), verify(), draft("ok"), draft("bad")).await.unwrap(),
        CodeCheck::NoCode
    );
    s.issue_code(&t, r.id, code("123456", now()), ev(RequestEvent::SendCode), draft("code")).await.unwrap().unwrap();
    // Wrong guesses use up the attempts, each one audited.
    for left in (0..CODE_ATTEMPTS).rev() {
        let head = s.audit_head(&t).await.unwrap().seq;
        let got = s.check_code(&t, r.id, "000000", &KEY, now(), verify(), draft("ok"), draft("bad")).await.unwrap();
        assert_eq!(got, CodeCheck::Wrong { attempts_left: left });
        assert_eq!(s.audit_head(&t).await.unwrap().seq, head + 1);
    }
    // Now even the right code is refused: a new one must be asked for.
    let got = s.check_code(&t, r.id, "123456", &KEY, now(), verify(), draft("ok"), draft("bad")).await.unwrap();
    assert_eq!(got, CodeCheck::Exhausted);
    // An expired code is refused.
    let old = now().checked_sub(SignedDuration::from_mins(16)).unwrap();
    s.issue_code(&t, r.id, code("222222", old), ev(RequestEvent::SendCode), draft("code")).await.unwrap().unwrap();
    let got = s.check_code(&t, r.id, "222222", &KEY, now(), verify(), draft("ok"), draft("bad")).await.unwrap();
    assert_eq!(got, CodeCheck::Expired);
    // A new code supersedes the last; the key matters.
    s.issue_code(&t, r.id, code("333333", now()), ev(RequestEvent::SendCode), draft("code")).await.unwrap().unwrap();
    let got = s.check_code(&t, r.id, "333333", &[8; 32], now(), verify(), draft("ok"), draft("bad")).await.unwrap();
    assert_eq!(got, CodeCheck::Wrong { attempts_left: CODE_ATTEMPTS - 1 });
    let got = s.check_code(&t, r.id, " 333333 ", &KEY, now(), verify(), draft("ok"), draft("bad")).await.unwrap();
    match got {
        CodeCheck::Verified(w) => assert_eq!(w.value.state, RequestState::Verified),
        other => panic!("expected verified, got {other:?}"),
    }
    // Used: no active code remains.
    let got = s.check_code(&t, r.id, "333333", &KEY, now(), verify(), draft("ok"), draft("bad")).await.unwrap();
    assert_eq!(got, CodeCheck::NoCode);

    // At most CODES_PER_HOUR codes an hour.
    let r = s.create_request(new_request(&t, RequestKind::Access, 30), vec![], draft("c")).await.unwrap().value;
    for _ in 0..CODES_PER_HOUR {
        s.issue_code(&t, r.id, code("1", now()), ev(RequestEvent::SendCode), draft("code")).await.unwrap().unwrap();
    }
    let head = s.audit_head(&t).await.unwrap().seq;
    let refused = s.issue_code(&t, r.id, code("1", now()), ev(RequestEvent::SendCode), draft("code")).await.unwrap();
    assert!(matches!(refused, Err(CodeRefused::TooMany { retry_at }) if retry_at > now()));
    assert_eq!(s.audit_head(&t).await.unwrap().seq, head, "a refused code writes nothing");
}

pub async fn proof_is_deleted_on_verification(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let r = s.create_request(new_request(&t, RequestKind::Erasure, 30), vec![], draft("c")).await.unwrap().value;
    let att = NewAttachment {
        name: "passport.png".into(),
        content_type: "image/png".into(),
        size: 3,
        nonce: [1; 12],
        ciphertext: vec![9; 19],
        added_at: now(),
    };
    let w = s.add_attachment(&t, r.id, att.clone(), draft("proof.add")).await.unwrap();
    let stored = s.attachments(&t, r.id).await.unwrap();
    assert_eq!(stored, vec![w.value]);
    assert_eq!(stored[0].ciphertext, vec![9; 19]);
    s.issue_code(&t, r.id, code("123456", now()), ev(RequestEvent::SendCode), draft("code")).await.unwrap().unwrap();
    let got = s
        .check_code(&t, r.id, "123456", &KEY, now(), vec![ev(RequestEvent::Verify)], draft("ok"), draft("bad"))
        .await
        .unwrap();
    assert!(matches!(got, CodeCheck::Verified(_)));
    // promise W10: the row is gone, not marked.
    assert!(s.attachments(&t, r.id).await.unwrap().is_empty());
    let history: Vec<String> = s.request_history(&t, r.id).await.unwrap().into_iter().map(|h| h.event).collect();
    assert_eq!(history, ["receive", "proof_added", "send_code", "verify", "proof_deleted"]);
    // No proof is taken once verified.
    let e = s.add_attachment(&t, r.id, att, draft("proof.add")).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)));
}

pub async fn requests_are_isolated_by_tenant(db: Arc<Db>) {
    let s = &db.store;
    let acme = tenant(s, "acme").await;
    let globex = tenant(s, "globex").await;
    let r = s.create_request(new_request(&acme, RequestKind::Access, 30), vec![], draft("c")).await.unwrap().value;
    assert!(matches!(s.get_request(&globex, r.id).await, Err(StoreError::NotFound { what: "request", .. })));
    assert!(matches!(
        s.update_request(&globex, r.id, vec![ev(RequestEvent::Withdraw)], draft("x")).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(s.list_requests(&globex, RequestFilter::default()).await.unwrap().is_empty());
    assert!(s.request_history(&globex, r.id).await.unwrap().is_empty());
    let c = s
        .create_customer(
            NewCustomer {
                tenant: acme.clone(),
                name: "Initech".into(),
                email: Some("dpo@initech.example".into()),
                webhook_url: None,
                webhook_secret: None,
                created_at: now(),
            },
            draft("customer.create"),
        )
        .await
        .unwrap()
        .value;
    assert!(matches!(s.get_customer(&globex, c.id).await, Err(StoreError::NotFound { .. })));
    // A request of globex cannot name acme's customer.
    let mut other = new_request(&globex, RequestKind::Access, 30);
    other.customer = Some(c.id);
    assert!(matches!(s.create_request(other, vec![], draft("c")).await, Err(StoreError::NotFound { .. })));
    let mut mine = new_request(&acme, RequestKind::Access, 30);
    mine.customer = Some(c.id);
    assert_eq!(s.create_request(mine, vec![], draft("c")).await.unwrap().value.customer, Some(c.id));
}

pub async fn overdue_requests_are_listed_by_due_date(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let mut ids = Vec::new();
    for (days, kind) in [(10, RequestKind::Access), (-2, RequestKind::Erasure), (-5, RequestKind::Confirm)] {
        let mut n = new_request(&t, kind, 0);
        n.received_at = now().checked_sub(SignedDuration::from_hours(24 * 40)).unwrap();
        n.due_at = now().checked_add(SignedDuration::from_hours(24 * days)).unwrap();
        ids.push(s.create_request(n, vec![], draft("c")).await.unwrap().value.id);
    }
    let all: Vec<_> = s.list_requests(&t, RequestFilter::default()).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(all, [ids[2], ids[1], ids[0]]);
    let filter = RequestFilter { overdue_at: Some(now()), ..RequestFilter::default() };
    let overdue: Vec<_> = s.list_requests(&t, filter.clone()).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(overdue, [ids[2], ids[1]]);
    // Closed requests are not overdue.
    s.update_request(&t, ids[2], vec![ev(RequestEvent::Withdraw)], draft("w")).await.unwrap();
    let overdue: Vec<_> = s.list_requests(&t, filter).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(overdue, [ids[1]]);
    let by_state = RequestFilter { state: Some(RequestState::WithdrawnByRequester), ..RequestFilter::default() };
    assert_eq!(s.list_requests(&t, by_state).await.unwrap().len(), 1);
}

pub async fn jobs_are_leased_retried_and_buried(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let lease = Duration::from_secs(30);
    let j = s.enqueue_job(job(&t, "mail.send", 2), draft("job.enqueue")).await.unwrap().value;
    let later = |secs: i64| now().checked_add(SignedDuration::from_secs(secs)).unwrap();
    let a = s.claim_job("w1", now(), lease).await.unwrap().unwrap();
    assert_eq!((a.id, a.attempts, a.state, a.locked_by.as_deref()), (j.id, 1, JobState::Running, Some("w1")));
    // Leased: nobody else gets it until the lease runs out.
    assert_eq!(s.claim_job("w2", now(), lease).await.unwrap(), None);
    // w1 crashed: after the lease, w2 takes it (attempt 2).
    let b = s.claim_job("w2", later(31), lease).await.unwrap().unwrap();
    assert_eq!((b.id, b.attempts), (j.id, 2));
    // w1 may no longer finish it.
    assert!(matches!(s.finish_job(j.id, "w1", draft("job.done")).await, Err(StoreError::Conflict(_))));
    // The last attempt fails: the job is dead, kept and visible.
    let w = s.fail_job(j.id, "w2", "smtp refused", later(31), draft("job.failed")).await.unwrap();
    assert_eq!(w.value, Retry::Dead);
    assert_eq!(s.claim_job("w3", later(10_000), lease).await.unwrap(), None);
    let dead = s.list_jobs(&t, Some(JobState::Dead), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("smtp refused"));

    // A failed attempt with attempts left is retried after the backoff, not before.
    let j = s.enqueue_job(job(&t, "mail.send", 3), draft("job.enqueue")).await.unwrap().value;
    s.claim_job("w1", now(), lease).await.unwrap().unwrap();
    let w = s.fail_job(j.id, "w1", "timeout", now(), draft("job.failed")).await.unwrap();
    let Retry::At(at) = w.value else { panic!("expected a retry") };
    assert!(at > now());
    assert_eq!(s.claim_job("w1", now(), lease).await.unwrap(), None);
    let again = s.claim_job("w1", later(6), lease).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (j.id, 2));
    s.finish_job(j.id, "w1", draft("job.done")).await.unwrap();
    assert_eq!(s.list_jobs(&t, Some(JobState::Pending), 10).await.unwrap(), vec![]);

    // A job whose worker died during its last attempt is buried by the next claim.
    let j = s.enqueue_job(job(&t, "mail.send", 1), draft("job.enqueue")).await.unwrap().value;
    s.claim_job("w1", now(), lease).await.unwrap().unwrap();
    assert_eq!(s.claim_job("w2", later(31), lease).await.unwrap(), None);
    let dead = s.list_jobs(&t, Some(JobState::Dead), 10).await.unwrap();
    assert!(dead.iter().any(|d| d.id == j.id && d.last_error.as_deref().is_some_and(|e| e.contains("stopped"))));
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(s.audit_head(&t).await.unwrap().seq));
}

pub async fn concurrent_claimers_never_share_a_job(db: Arc<Db>) {
    claimers_race(db, 40, None).await;
}

/// Four workers on two stores (as two processes would have) claim `n` jobs until none is left,
/// one at a time or, with `batch`, up to that many at once; no job may reach two of them.
async fn claimers_race(db: Arc<Db>, n: usize, batch: Option<usize>) {
    let t = tenant(&db.store, "acme").await;
    for _ in 0..n {
        db.store.enqueue_job(job(&t, "request.fulfil", 3), draft("job.enqueue")).await.unwrap();
    }
    let other = Arc::new(db.open_again().await);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        let db = db.clone();
        let other = other.clone();
        tasks.spawn(async move {
            let mut got = Vec::new();
            let name = format!("worker-{w}");
            let store: &SqlStore = if w % 2 == 0 { &db.store } else { &other };
            loop {
                let (now, lease) = (Timestamp::now(), Duration::from_secs(60));
                let claimed = match batch {
                    None => store.claim_job(&name, now, lease).await.unwrap().into_iter().collect(),
                    Some(limit) => store.claim_jobs(&name, "request.fulfil", now, lease, limit).await.unwrap(),
                };
                if claimed.is_empty() {
                    break;
                }
                assert!(claimed.len() <= batch.unwrap_or(1));
                got.extend(claimed.into_iter().map(|j| j.id));
            }
            got
        });
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    while let Some(r) = tasks.join_next().await {
        for id in r.unwrap() {
            total += 1;
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(total, n);
    other.close().await;
}

pub async fn jobs_are_claimed_in_batches_of_a_kind(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let u = tenant(s, "umbrella").await;
    let lease = Duration::from_secs(30);
    let later = |secs: i64| now().checked_add(SignedDuration::from_secs(secs)).unwrap();
    let at = |secs: i64| Timestamp::from_second(1_700_000_000 + secs).unwrap();
    // Five fulfilments (of two tenants, due in a shuffled order), a mail between them, and a
    // fulfilment due only later.
    let mut fulfil = Vec::new();
    for (i, due) in [30, 10, 40, 20, 0].into_iter().enumerate() {
        let tenant = if i % 2 == 0 { &t } else { &u };
        let j = NewJob { run_at: at(due), ..job(tenant, "request.fulfil", 2) };
        fulfil.push((due, s.enqueue_job(j, draft("job.enqueue")).await.unwrap().value.id));
    }
    let mail = s.enqueue_job(NewJob { run_at: at(15), ..job(&t, "mail.send", 2) }, draft("job.enqueue")).await.unwrap();
    let future = NewJob { run_at: later(3600), ..job(&t, "request.fulfil", 2) };
    let future = s.enqueue_job(future, draft("job.enqueue")).await.unwrap().value.id;
    fulfil.sort();
    let queue: Vec<JobId> = fulfil.iter().map(|(_, id)| *id).collect();

    // A limit of nothing claims nothing; a bad worker name is refused.
    assert_eq!(s.claim_jobs("w1", "request.fulfil", now(), lease, 0).await.unwrap(), vec![]);
    assert!(matches!(s.claim_jobs("", "request.fulfil", now(), lease, 3).await, Err(StoreError::Invalid { .. })));
    // The first three due, in queue order, of that kind only, each attempt counted.
    let a = s.claim_jobs("w1", "request.fulfil", now(), lease, 3).await.unwrap();
    assert_eq!(a.iter().map(|j| j.id).collect::<Vec<_>>(), queue[..3]);
    assert!(a.iter().all(|j| j.state == JobState::Running && j.attempts == 1 && j.locked_by.as_deref() == Some("w1")));
    assert!(a.iter().all(|j| j.kind == "request.fulfil"));
    // The rest: two, though ten were asked for; the mail and the job due later stay.
    let b = s.claim_jobs("w2", "request.fulfil", now(), lease, 10).await.unwrap();
    assert_eq!(b.iter().map(|j| j.id).collect::<Vec<_>>(), queue[3..]);
    assert_eq!(s.claim_jobs("w3", "request.fulfil", now(), lease, 10).await.unwrap(), vec![]);
    let m = s.claim_job("w3", now(), lease).await.unwrap().unwrap();
    assert_eq!(m.id, mail.value.id);
    // w1 stopped: after its lease, its jobs are claimed again (attempt 2), while w2's, finished,
    // are gone.
    for j in &b {
        s.finish_job(j.id, "w2", draft("job.done")).await.unwrap();
    }
    let again = s.claim_jobs("w2", "request.fulfil", later(31), lease, 10).await.unwrap();
    assert_eq!(
        again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(),
        queue[..3].iter().map(|id| (*id, 2)).collect::<Vec<_>>()
    );
    // w1 may no longer finish them.
    assert!(matches!(s.finish_job(queue[0], "w1", draft("job.done")).await, Err(StoreError::Conflict(_))));
    // Out of attempts when their lease runs out again: buried by the next claim, not claimed.
    let dead = s.claim_jobs("w3", "request.fulfil", later(70), lease, 10).await.unwrap();
    assert_eq!(dead, vec![]);
    let buried = s.list_jobs(&t, Some(JobState::Dead), 10).await.unwrap().len()
        + s.list_jobs(&u, Some(JobState::Dead), 10).await.unwrap().len();
    assert_eq!(buried, 3);
    // The job due later is claimed when it is due.
    let f = s.claim_jobs("w3", "request.fulfil", later(3601), lease, 10).await.unwrap();
    assert_eq!(f.iter().map(|j| j.id).collect::<Vec<_>>(), [future]);
    assert_eq!(s.verify_audit(&t).await.unwrap(), Ok(s.audit_head(&t).await.unwrap().seq));
}

pub async fn concurrent_batch_claimers_never_share_a_job(db: Arc<Db>) {
    claimers_race(db, 60, Some(7)).await;
}

pub async fn customers_and_bad_input(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let head = s.audit_head(&t).await.unwrap().seq;
    let base = NewCustomer {
        tenant: t.clone(),
        name: "Initech".into(),
        email: None,
        webhook_url: Some("https://initech.example/hooks/privacy".into()),
        webhook_secret: Some(vec![1, 2, 3]),
        created_at: now(),
    };
    for bad in [
        NewCustomer { name: " ".into(), ..base.clone() },
        NewCustomer { webhook_url: Some("ftp://x".into()), ..base.clone() },
        NewCustomer { webhook_url: None, ..base.clone() },
        NewCustomer { email: Some("not an address".into()), ..base.clone() },
    ] {
        assert!(matches!(s.create_customer(bad, draft("c")).await, Err(StoreError::Invalid { .. })));
    }
    let mut bad = new_request(&t, RequestKind::Access, 30);
    bad.details = "[1]".into();
    assert!(matches!(s.create_request(bad, vec![], draft("c")).await, Err(StoreError::Invalid { .. })));
    let mut bad = new_request(&t, RequestKind::Access, 30);
    bad.due_at = bad.received_at.checked_sub(SignedDuration::from_hours(1)).unwrap();
    assert!(matches!(s.create_request(bad, vec![], draft("c")).await, Err(StoreError::Invalid { .. })));
    assert_eq!(s.audit_head(&t).await.unwrap().seq, head, "refused input writes nothing");
    let c = s.create_customer(base, draft("customer.create")).await.unwrap().value;
    assert_eq!(c.webhook_secret, Some(vec![1, 2, 3]));
    assert_eq!(s.list_customers(&t).await.unwrap(), vec![c]);
}

fn file(format: &str, bytes: Vec<u8>) -> AnswerFile {
    AnswerFile {
        format: format.into(),
        content_type: "application/octet-stream".into(),
        size: bytes.len() as u64,
        nonce: [4; 12],
        ciphertext: bytes,
    }
}

/// A request's rendered answer is kept with its completion, read back (each read audited and
/// noted in the history), found by request id alone for a download link, kept from other
/// tenants, given a hashed token, and deleted when it expires.
pub async fn answers_are_kept_read_once_audited_and_deleted(db: Arc<Db>) {
    let s = &db.store;
    let acme = tenant(s, "acme").await;
    let globex = tenant(s, "globex").await;
    let r = s.create_request(new_request(&acme, RequestKind::Export, 30), vec![], draft("c")).await.unwrap().value;
    let start = vec![ev(RequestEvent::SkipVerification), ev(RequestEvent::Queue), ev(RequestEvent::Start)];
    s.update_request(&acme, r.id, start, draft("start")).await.unwrap();
    // A token for an answer that does not exist is refused, and nothing is written.
    let head = s.audit_head(&acme).await.unwrap().seq;
    let mut token = RequestUpdate::note("answer_link_issued", "worker", now(), "{}");
    token.answer_token = Some(AnswerToken { salt: [5; 16], hash: [6; 32] });
    let e = s.update_request(&acme, r.id, vec![token.clone()], draft("link")).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { what: "answer", .. }), "{e}");
    assert_eq!(s.audit_head(&acme).await.unwrap().seq, head);
    // Bad answers are refused before anything is written.
    let expires = now().checked_add(SignedDuration::from_hours(24 * 7)).unwrap();
    let bad = [
        NewAnswer { expires_at: expires, files: vec![] },
        NewAnswer { expires_at: expires, files: vec![file("html", vec![1]), file("html", vec![2])] },
        NewAnswer { expires_at: expires, files: vec![file("HTML!", vec![1])] },
        NewAnswer { expires_at: expires, files: vec![file("html", vec![])] },
        NewAnswer {
            expires_at: expires,
            files: (0..=MAX_ANSWER_FILES).map(|i| file(&format!("f{i}"), vec![1])).collect(),
        },
    ];
    for a in bad {
        let mut done = ev(RequestEvent::Complete);
        done.answer = Some(a.clone());
        let e = s.update_request(&acme, r.id, vec![done], draft("complete")).await.unwrap_err();
        assert!(matches!(e, StoreError::Invalid { .. }), "{a:?}: {e}");
    }
    assert_eq!(s.audit_head(&acme).await.unwrap().seq, head);
    assert_eq!(s.answer(&acme, r.id).await.unwrap(), None);

    let html = vec![0xAB; 300_000];
    let mut done = ev(RequestEvent::Complete);
    done.answer = Some(NewAnswer {
        expires_at: expires,
        files: vec![file("json", b"{}".to_vec()), file("html", html.clone()), file("csv", vec![7; 10])],
    });
    s.update_request(&acme, r.id, vec![done], draft("complete")).await.unwrap();
    let a = s.answer(&acme, r.id).await.unwrap().unwrap();
    assert_eq!((a.request, &a.tenant, a.token.clone()), (r.id, &acme, None));
    assert_eq!(a.formats, ["csv", "html", "json"]);
    assert_eq!(a.expires_at, jiff::Timestamp::from_microsecond(expires.as_microsecond()).unwrap());
    // Another tenant sees nothing and reads nothing.
    assert_eq!(s.answer(&globex, r.id).await.unwrap(), None);
    let gh = s.audit_head(&globex).await.unwrap().seq;
    assert_eq!(s.read_answer_file(&globex, r.id, "html", draft("answer.read")).await.unwrap(), None);
    assert_eq!(s.audit_head(&globex).await.unwrap().seq, gh);
    // The link names no tenant: found by request id, with its tenant.
    let found = s.find_answers(r.id).await.unwrap();
    assert_eq!(found, vec![a.clone()]);
    s.update_request(&acme, r.id, vec![token], draft("link")).await.unwrap();
    let a = s.answer(&acme, r.id).await.unwrap().unwrap();
    assert_eq!(a.token, Some(AnswerToken { salt: [5; 16], hash: [6; 32] }));
    // Reading a file is audited in the same transaction and noted in the history.
    let head = s.audit_head(&acme).await.unwrap().seq;
    let f = s.read_answer_file(&acme, r.id, "html", draft("answer.read")).await.unwrap().unwrap();
    assert_eq!((f.format.as_str(), f.size, f.nonce, &f.ciphertext), ("html", 300_000, [4; 12], &html));
    assert_eq!(s.audit_head(&acme).await.unwrap().seq, head + 1);
    assert_eq!(s.read_answer_file(&acme, r.id, "pdf", draft("answer.read")).await.unwrap(), None);
    assert_eq!(s.audit_head(&acme).await.unwrap().seq, head + 1);
    assert!(s.read_answer_file(&acme, r.id, "no such", draft("answer.read")).await.is_err());
    // Expired: deleted, files and all.
    let mut expire = RequestUpdate::note("answer_deleted", "worker", now(), "{}");
    expire.delete_answer = true;
    s.update_request(&acme, r.id, vec![expire.clone()], draft("answer.expire")).await.unwrap();
    assert_eq!(s.answer(&acme, r.id).await.unwrap(), None);
    assert!(s.find_answers(r.id).await.unwrap().is_empty());
    assert_eq!(s.read_answer_file(&acme, r.id, "json", draft("answer.read")).await.unwrap(), None);
    // Deleting again is harmless (a retried job).
    s.update_request(&acme, r.id, vec![expire], draft("answer.expire")).await.unwrap();
    let history: Vec<String> = s.request_history(&acme, r.id).await.unwrap().into_iter().map(|h| h.event).collect();
    assert_eq!(
        history,
        [
            "receive",
            "skip_verification",
            "queue",
            "start",
            "complete",
            "answer_link_issued",
            "answer_downloaded",
            "answer_deleted",
            "answer_deleted"
        ]
    );
    assert_eq!(s.verify_audit(&acme).await.unwrap(), Ok(s.audit_head(&acme).await.unwrap().seq));
}

/// A proof of identity of several MiB (a scan or photo of an identity document) is kept, up to
/// the limit.
pub async fn large_proofs_are_kept(db: Arc<Db>) {
    let s = &db.store;
    let t = tenant(s, "acme").await;
    let r = s.create_request(new_request(&t, RequestKind::Access, 30), vec![], draft("c")).await.unwrap().value;
    let att = |n: usize| NewAttachment {
        name: "id-card.jpg".into(),
        content_type: "image/jpeg".into(),
        size: n as u64,
        nonce: [1; 12],
        ciphertext: vec![0x5A; n],
        added_at: now(),
    };
    s.add_attachment(&t, r.id, att(MAX_ATTACHMENT_BYTES), draft("proof.add")).await.unwrap();
    let stored = s.attachments(&t, r.id).await.unwrap();
    assert_eq!(stored[0].ciphertext.len(), MAX_ATTACHMENT_BYTES);
    let e = s.add_attachment(&t, r.id, att(MAX_ATTACHMENT_BYTES + 1), draft("proof.add")).await.unwrap_err();
    assert!(matches!(e, StoreError::Invalid { .. }), "{e}");
    assert_eq!(s.attachments(&t, r.id).await.unwrap().len(), 1);
}
