//! Several server processes on one PostgreSQL database: a write through one is seen by the next
//! decision on the others once its change notice is delivered (cross-process visibility: after
//! notification delivery, typically under 10 ms; the tests print what they measure), a key
//! revoked anywhere is refused everywhere, and a server that cannot hear the notices reads
//! through to the database instead of trusting its caches.
//!
//! The two servers are two `AppState`s with stores, caches and listeners of their own, as two
//! processes have. Notices arrive asynchronously, so each check polls with a bounded deadline
//! rather than sleeping.

use std::future::Future;
use std::time::{Duration, Instant};

use covenant_core::audit::AuditDraft;
use covenant_server::AppState;
use covenant_store::{Change, Role, Store as _};
use reqwest::StatusCode;
use serde_json::json;

use super::{Db, OtherServer, Res, TestApp, spawn_app_on, tenant};

const DEADLINE: Duration = Duration::from_secs(5);

/// Polls `check` until it holds, for at most [`DEADLINE`]; returns how long it took.
async fn within<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) -> Duration {
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < DEADLINE, "{what}: not seen within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Both servers, once each listens for the other's changes.
async fn two_servers(test: &str) -> Option<(TestApp, OtherServer)> {
    let app = spawn_app_on(Db::postgres(test).await?, "okitoki").await;
    let b = app.other_server().await;
    within("both servers listening", || async { app.state.cache_trusted() && b.state.cache_trusted() }).await;
    Some((app, b))
}

async fn decide_on(app: &TestApp, base: &OtherServer, key: &str, subject: &str) -> Res {
    let body = json!({"subject": {"id": subject}, "activity": "newsletter"});
    app.send(app.client.post(base.url("/v1/decisions")).bearer_auth(key).json(&body)).await
}

fn loaded(state: &AppState, subject: &str) -> bool {
    let id = covenant_core::SubjectId::parse(subject).unwrap();
    state.cache.tenant(&tenant("acme")).is_some_and(|tc| tc.with_state(id, |_| ()).is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_given_and_withdrawn_through_one_server_is_decided_on_the_other() {
    let Some((app, b)) = two_servers("consent_given_and_withdrawn_through_one_server_is_decided_on_the_other").await
    else {
        return;
    };
    let key = &app.acme;
    let ada = app.register(key, "ada@example.com").await;
    // B decides first, so that it holds Ada in its cache.
    let d = decide_on(&app, &b, key, &ada).await;
    assert_eq!(d.json["decision"], "deny", "{}", d.text);
    assert!(loaded(&b.state, &ada), "B answers from its cache");

    let given = app.consent(key, &ada, "newsletter", "give").await;
    assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
    let give =
        within("the consent on B", || async { decide_on(&app, &b, key, &ada).await.json["decision"] == "allow" }).await;
    assert!(loaded(&b.state, &ada), "B caches Ada again");

    let withdrawn = app.consent(key, &ada, "newsletter", "withdraw").await;
    assert_eq!(withdrawn.status, StatusCode::CREATED, "{}", withdrawn.text);
    let withdraw = within("the withdrawal on B", || async {
        let d = decide_on(&app, &b, key, &ada).await;
        d.json["decision"] == "deny" && d.json["reason"]["code"] == "consent_withdrawn"
    })
    .await;
    eprintln!(
        "cross-process visibility (write answered on A → next decision on B sees it): give {give:?}, withdraw {withdraw:?}"
    );
    assert!(b.state.cache_trusted());
    b.finish().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_by_another_process_is_refused_at_once() {
    let Some((app, b)) = two_servers("a_key_revoked_by_another_process_is_refused_at_once").await else {
        return;
    };
    let key = app.key("acme", Role::Application).await;
    let ada = app.register(&app.acme, "ada@example.com").await;
    // B has seen the key, so it is in B's key cache (whose entries live 60 s).
    assert_eq!(decide_on(&app, &b, &key, &ada).await.status, StatusCode::OK);
    assert!(b.state.keys.get(&covenant_server::auth::hash_key(&key)).is_some());

    // Revoked by a third store, as `covenant apikey revoke` in a process of its own does.
    let acme = tenant("acme");
    let id = app.store.list_api_keys(&acme).await.unwrap().into_iter().find(|k| key.starts_with(&k.prefix)).unwrap().id;
    let draft = AuditDraft::new("cli", "apikey.revoke", "apikey", "");
    app.store.revoke_api_key(&acme, id, jiff::Timestamp::now(), draft).await.unwrap();
    let refused = within("the revocation on B", || async {
        decide_on(&app, &b, &key, &ada).await.status == StatusCode::UNAUTHORIZED
    })
    .await;
    let on_a = app.decide(&key, &ada, "newsletter").await;
    assert_eq!(on_a.status, StatusCode::UNAUTHORIZED, "{}", on_a.text);
    eprintln!("cross-process visibility of a revocation: {refused:?}");
    b.finish().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_cannot_hear_changes_reads_through_and_starts_afresh() {
    let Some((app, b)) = two_servers("a_server_that_cannot_hear_changes_reads_through_and_starts_afresh").await else {
        return;
    };
    let key = &app.acme;
    let ada = app.register(key, "ada@example.com").await;
    assert_eq!(app.consent(key, &ada, "newsletter", "give").await.status, StatusCode::CREATED);
    within("the consent on B", || async { decide_on(&app, &b, key, &ada).await.json["decision"] == "allow" }).await;
    assert!(loaded(&b.state, &ada));

    // A withdrawal that announces nothing, as one made while B's listener is away would be for
    // B: copied into the ledger behind the stores' backs.
    let silent = format!(
        "INSERT INTO consent_records (id, tenant, subject, purpose, status, policy_version, purpose_hash, notice_hash, \
         method, at, actor, evidence) SELECT gen_random_uuid(), tenant, subject, purpose, 'withdrawn', policy_version, \
         purpose_hash, notice_hash, method, at + 1, actor, evidence FROM consent_records WHERE subject = '{ada}'"
    );
    app.db.raw(&silent).await;
    // Trusting its cache, B still allows: the case the listener exists for.
    assert_eq!(decide_on(&app, &b, key, &ada).await.json["decision"], "allow");

    // The listener's connection is lost: B reads through to the database meanwhile.
    b.state.changed(Change::Lost { reason: "test".into() });
    assert!(!b.state.cache_trusted());
    let d = decide_on(&app, &b, key, &ada).await;
    assert_eq!(d.json["reason"]["code"], "consent_withdrawn", "{}", d.text);
    // Listening again, B drops everything cached and trusts its (fresh) cache again.
    b.state.changed(Change::Listening { reconnected: true });
    assert!(b.state.cache_trusted() && !loaded(&b.state, &ada));
    assert_eq!(decide_on(&app, &b, key, &ada).await.json["reason"]["code"], "consent_withdrawn");
    assert!(loaded(&b.state, &ada));

    // For real: the listeners' connections are cut; the servers listen again by themselves, and
    // B follows A's writes again.
    app.db
        .raw(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'covenant-listener' AND datname = current_database()",
        )
        .await;
    assert_eq!(app.consent(key, &ada, "newsletter", "give").await.status, StatusCode::CREATED);
    let seen = within("the consent on B after B's listener was cut", || async {
        decide_on(&app, &b, key, &ada).await.json["decision"] == "allow"
    })
    .await;
    within("B listening again", || async { b.state.cache_trusted() }).await;
    assert_eq!(app.consent(key, &ada, "newsletter", "withdraw").await.status, StatusCode::CREATED);
    within("the withdrawal on B, listening again", || async {
        decide_on(&app, &b, key, &ada).await.json["decision"] == "deny"
    })
    .await;
    eprintln!("a write made while B's listener reconnected was seen on B after {seen:?}");
    b.finish().await;
    app.finish().await;
}
