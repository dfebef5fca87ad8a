//! Data-subject requests end to end: the real server and a worker, a mailbox directory the tests
//! read the emails from, and a local webhook receiver for processor mode.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use covenant_core::audit::AuditDraft;
use covenant_policy::Policy;
use covenant_server::mail::{Mailer, Transport};
use covenant_server::worker::WorkerOptions;
use covenant_server::{AppState, Config};
use covenant_store::{NewApiKey, NewTenant, Role, SqlStore, Store};
use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::{Db, Res, policy_path, tenant};

fn policy(example: &str) -> Policy {
    covenant_policy::load_file(&policy_path(example)).unwrap()
}

struct App {
    base: String,
    client: reqwest::Client,
    db: Db,
    store: SqlStore,
    acme: String,
    globex: String,
    mailbox: PathBuf,
    _dir: tempfile::TempDir,
    stop: Vec<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn spawn(db: Db, policy: Policy) -> App {
    spawn_with(db, policy, Vec::new()).await
}

async fn spawn_with(db: Db, policy: Policy, fulfillers: Vec<Arc<dyn covenant_server::fulfil::Fulfiller>>) -> App {
    let opts = WorkerOptions {
        name: "test-worker".into(),
        poll: Duration::from_millis(50),
        lease: Duration::from_secs(30),
        ..WorkerOptions::default()
    };
    spawn_server(db, policy, fulfillers, Some(opts)).await.0
}

/// The server, and the worker unless `worker` is `None` (the test then runs the worker's steps).
async fn spawn_server(
    db: Db,
    policy: Policy,
    fulfillers: Vec<Arc<dyn covenant_server::fulfil::Fulfiller>>,
    worker: Option<WorkerOptions>,
) -> (App, covenant_server::state::Shared) {
    let store = SqlStore::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    for t in ["acme", "globex"] {
        if store.get_tenant(&tenant(t)).await.is_ok() {
            continue;
        }
        let new = NewTenant { id: tenant(t), name: t.to_owned(), created_at: Timestamp::now() };
        store.create_tenant(new, AuditDraft::new("test", "tenant.create", "tenant", "")).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mailbox = dir.path().join("mailbox");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        policy,
        secret: vec![42; 32],
        public_url: base.clone(),
        request_timeout: Duration::from_secs(10),
        key_ttl: Duration::from_secs(60),
    };
    let mailer = Mailer::new(Transport::Mailbox(mailbox.clone()), "privacy@example.com").unwrap();
    let state = Arc::new(
        AppState::new(SqlStore::connect(&db.url).await.unwrap(), config)
            .unwrap()
            .with_mailer(mailer)
            .with_fulfillers(fulfillers),
    );
    let (tx1, rx1) = oneshot::channel::<()>();
    let (tx2, rx2) = oneshot::channel::<()>();
    let server = tokio::spawn({
        let app = covenant_server::router(state.clone());
        async move {
            covenant_server::serve(listener, app, async {
                let _ = rx1.await;
            })
            .await
            .unwrap();
        }
    });
    let mut tasks = vec![server];
    if let Some(opts) = worker {
        tasks.push(covenant_server::worker::spawn(state.clone(), opts, async {
            let _ = rx2.await;
        }));
    }
    let mut app = App {
        base,
        client: reqwest::Client::new(),
        db,
        store,
        acme: String::new(),
        globex: String::new(),
        mailbox,
        _dir: dir,
        stop: vec![tx1, tx2],
        tasks,
    };
    app.acme = app.key("acme", Role::Admin).await;
    app.globex = app.key("globex", Role::Admin).await;
    (app, state)
}

/// Decodes a quoted-printable body (RFC 2045 §6.7): soft line breaks and `=XX` bytes.
fn quoted_printable(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// One email of the mailbox.
#[derive(Debug)]
struct Mail {
    to: String,
    subject: String,
    body: String,
}

impl App {
    async fn key(&self, t: &str, role: Role) -> String {
        let new = NewApiKey { tenant: tenant(t), role, label: format!("test {role}"), created_at: Timestamp::now() };
        self.store
            .create_api_key(new, AuditDraft::new("test", "apikey.create", "apikey", ""))
            .await
            .unwrap()
            .value
            .secret
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Res {
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res { status, headers, text, json }
    }

    async fn post(&self, key: &str, path: &str, body: Value) -> Res {
        self.send(self.client.post(format!("{}{path}", self.base)).bearer_auth(key).json(&body)).await
    }

    async fn get(&self, key: &str, path: &str) -> Res {
        self.send(self.client.get(format!("{}{path}", self.base)).bearer_auth(key)).await
    }

    async fn head(&self, t: &str) -> u64 {
        self.store.audit_head(&tenant(t)).await.unwrap().seq
    }

    /// Every email so far, in the order sent.
    fn mails(&self) -> Vec<Mail> {
        let Ok(dir) = std::fs::read_dir(&self.mailbox) else { return Vec::new() };
        let mut names: Vec<PathBuf> =
            dir.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                let (head, body) = text.split_once("\r\n\r\n").unwrap();
                // Long headers are folded onto lines that start with a space.
                let head = head.replace("\r\n ", " ");
                let header = |name: &str| {
                    head.split("\r\n").find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_default().to_owned()
                };
                // A line too long for 8-bit (a download link) makes the message quoted-printable.
                let body = if header("Content-Transfer-Encoding") == "quoted-printable" {
                    quoted_printable(body)
                } else {
                    body.to_owned()
                };
                Mail { to: header("To"), subject: header("Subject"), body: body.replace("\r\n", "\n") }
            })
            .collect()
    }

    /// Waits (at most 10 s) for an email to `to` whose body contains `needle`.
    async fn wait_mail(&self, to: &str, needle: &str) -> Mail {
        for _ in 0..200 {
            if let Some(m) = self.mails().into_iter().find(|m| m.to == to && m.body.contains(needle)) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no email to {to} containing {needle:?}; mailbox: {:#?}", self.mails());
    }

    /// The last verification code sent to `to`.
    fn code(&self, to: &str) -> String {
        let mails = self.mails();
        let m = mails.iter().rev().find(|m| m.to == to && m.body.contains("enter this code")).expect("a code email");
        m.body
            .lines()
            .map(str::trim)
            .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
            .unwrap()
            .to_owned()
    }

    /// Waits (at most 10 s) for a request to reach `state`.
    async fn wait_state(&self, key: &str, id: &str, state: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..200 {
            let r = self.get(key, &format!("/v1/requests/{id}")).await;
            if r.json["state"] == state {
                return r.json;
            }
            last = r.json;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("request {id} did not reach {state}: {last:#}");
    }

    async fn register(&self, key: &str, kind: &str, email: &str) -> String {
        let r = self
            .post(key, "/v1/subjects", json!({"type": kind, "identities": [{"kind": "email", "value": email}]}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json["id"].as_str().unwrap().to_owned()
    }

    async fn request(&self, key: &str, body: Value) -> Res {
        self.post(key, "/v1/requests", body).await
    }

    /// Makes a request of `kind` for `email` and verifies it with the code emailed.
    async fn verified(&self, kind: &str, email: &str, details: Value) -> String {
        let r = self
            .request(
                &self.acme,
                json!({"kind": kind, "identity": {"kind": "email", "value": email}, "jurisdiction": {"country": "FI"}, "details": details}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let id = r.json["id"].as_str().unwrap().to_owned();
        let v = self.post(&self.acme, &format!("/v1/requests/{id}/verify"), json!({"code": self.code(email)})).await;
        assert_eq!(v.status, StatusCode::OK, "{}", v.text);
        id
    }

    async fn decide(&self, subject: &str, activity: &str) -> Value {
        let r = self.post(&self.acme, "/v1/decisions", json!({"subject": {"id": subject}, "activity": activity})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json
    }

    async fn finish(mut self) {
        for tx in self.stop.drain(..) {
            let _ = tx.send(());
        }
        for t in self.tasks.drain(..) {
            t.await.unwrap();
        }
        self.store.close().await;
        self.db.drop_database().await;
    }
}

/// Intake, the code from the mailbox, proof deleted on verification, approval, the worker, the
/// answer by email, the history, an intact audit chain.
async fn full_flow(db: Db) {
    let mut p = policy("workki");
    p.rights.as_mut().unwrap().approval = true;
    let app = spawn(db, p).await;
    let ada = "ada@example.com";
    app.register(&app.acme, "user", ada).await;
    let r = app
        .request(
            &app.acme,
            json!({"kind": "access", "identity": {"kind": "email", "value": ada}, "jurisdiction": {"country": "US", "subdivision": "CA"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["state"], "awaiting_verification");
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(r.headers["location"], format!("/v1/requests/{id}").as_str());
    // promise W6: 30 days (shorter than the CCPA's 45); acknowledgement within 10 business days.
    let received: Timestamp = r.json["received_at"].as_str().unwrap().parse().unwrap();
    let due: Timestamp = r.json["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, received.checked_add(jiff::SignedDuration::from_hours(24 * 30)).unwrap());
    assert!(r.json["acknowledge_by"].is_string());

    let ack = app.wait_mail(ada, "We received your request").await;
    assert!(ack.subject.contains(&id), "{ack:?}");
    let proof = app
        .post(
            &app.acme,
            &format!("/v1/requests/{id}/proof"),
            json!({"name": "passport.png", "content_type": "image/png", "content": "aGVsbG8="}),
        )
        .await;
    assert_eq!(proof.status, StatusCode::CREATED, "{}", proof.text);
    let stored = app.get(&app.acme, &format!("/v1/requests/{id}/proof")).await;
    assert_eq!(stored.json["proofs"][0]["content"], "aGVsbG8=", "{}", stored.text);

    let wrong = app.post(&app.acme, &format!("/v1/requests/{id}/verify"), json!({"code": "000000"})).await;
    let code = app.code(ada);
    if code != "000000" {
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong.text);
        assert_eq!(wrong.json["code"], "wrong_code");
        assert!(wrong.json["message"].as_str().unwrap().contains("4 attempt(s) left"), "{}", wrong.text);
    }
    let v = app.post(&app.acme, &format!("/v1/requests/{id}/verify"), json!({"code": code})).await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.json["state"], "awaiting_approval");
    // promise W10: proof of identity is deleted as soon as verification is done.
    let stored = app.get(&app.acme, &format!("/v1/requests/{id}/proof")).await;
    assert_eq!(stored.json["proofs"], json!([]), "{}", stored.text);

    let approved = app.post(&app.acme, &format!("/v1/requests/{id}/approve"), json!({})).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let done = app.wait_state(&app.acme, &id, "completed").await;
    assert_eq!(done.json_report_identity(), ada);
    let answer = app.wait_mail(ada, "We have carried out your request").await;
    assert!(answer.body.contains("What we did"), "{}", answer.body);
    assert!(answer.body.contains("\"email:ada@example.com\"") || answer.body.contains(ada), "{}", answer.body);
    let events: Vec<&str> = done["history"].as_array().unwrap().iter().map(|h| h["event"].as_str().unwrap()).collect();
    for e in [
        "receive",
        "send_code",
        "proof_added",
        "code_failed",
        "verify",
        "proof_deleted",
        "ask_approval",
        "approve",
        "start",
        "complete",
    ] {
        if e == "code_failed" && code == "000000" {
            continue;
        }
        assert!(events.contains(&e), "{e} missing from {events:?}");
    }
    let v = app.get(&app.acme, "/v1/audit/verify").await;
    assert_eq!(v.json["intact"], true, "{}", v.text);
    app.finish().await;
}

trait Report {
    fn json_report_identity(&self) -> &str;
}

impl Report for Value {
    /// The first identity of the built-in access report.
    fn json_report_identity(&self) -> &str {
        self["response"]["report"]["covenant"]["subject"]["identities"][0]["value"].as_str().unwrap_or("")
    }
}

#[tokio::test]
async fn full_flow_on_sqlite() {
    full_flow(Db::sqlite().await).await;
}

#[tokio::test]
async fn full_flow_on_postgres() {
    if let Some(db) = Db::postgres("full_flow_on_postgres").await {
        full_flow(db).await;
    }
}

#[tokio::test]
async fn wrong_codes_exhaust_attempts_and_expired_codes_are_refused() {
    let app = spawn(Db::sqlite().await, policy("workki")).await;
    let bob = "bob@example.com";
    let r = app.request(&app.acme, json!({"kind": "access", "identity": {"kind": "email", "value": bob}})).await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    let code = app.code(bob);
    let wrong = if code == "111111" { "222222" } else { "111111" };
    for left in (0..5).rev() {
        let v = app.post(&app.acme, &format!("/v1/requests/{id}/verify"), json!({"code": wrong})).await;
        assert_eq!(v.json["code"], "wrong_code", "{}", v.text);
        let expect = if left == 0 { "no attempts".to_owned() } else { format!("{left} attempt(s) left") };
        assert!(v.json["message"].as_str().unwrap().contains(&expect), "{}", v.text);
    }
    let v = app.post(&app.acme, &format!("/v1/requests/{id}/verify"), json!({"code": code})).await;
    assert_eq!(v.json["code"], "code_exhausted", "{}", v.text);
    // A new code works; the old one does not.
    let again = app.post(&app.acme, &format!("/v1/requests/{id}/code"), json!({})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let fresh = app.code(bob);
    // Expired: 15 minutes pass.
    app.db.tamper("UPDATE request_codes SET expires_at = 0 WHERE status = 'active'").await;
    let v = app.post(&app.acme, &format!("/v1/requests/{id}/verify"), json!({"code": fresh})).await;
    assert_eq!(v.json["code"], "code_expired", "{}", v.text);
    app.post(&app.acme, &format!("/v1/requests/{id}/code"), json!({})).await;
    let v = app.post(&app.acme, &format!("/v1/requests/{id}/verify"), json!({"code": app.code(bob)})).await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    // No stranger than 5 codes an hour: 3 sent so far, 2 more, then refused.
    let r = app.request(&app.acme, json!({"kind": "access", "identity": {"kind": "email", "value": bob}})).await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    for _ in 0..4 {
        let again = app.post(&app.acme, &format!("/v1/requests/{id}/code"), json!({})).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    }
    let refused = app.post(&app.acme, &format!("/v1/requests/{id}/code"), json!({})).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.text);
    app.finish().await;
}

#[tokio::test]
async fn extension_rules() {
    let mut p = policy("workki");
    // Approval keeps requests open, so that extensions can be tried on them.
    p.rights.as_mut().unwrap().approval = true;
    let app = spawn(Db::sqlite().await, p).await;
    let id = app.verified("access", "dee@example.com", json!(null)).await;
    let path = format!("/v1/requests/{id}/extend");
    let missing = app.post(&app.acme, &path, json!({"reason": " "})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.text);
    let ext = app.post(&app.acme, &path, json!({"reason": "many systems"})).await;
    assert_eq!(ext.status, StatusCode::OK, "{}", ext.text);
    app.wait_mail("dee@example.com", "Why: many systems").await;
    let again = app.post(&app.acme, &path, json!({"reason": "more"})).await;
    assert_eq!((again.status, again.json["code"].as_str()), (StatusCode::CONFLICT, Some("already_extended")));
    // Past the notice limit (a month after receipt under the GDPR).
    let id = app.verified("access", "eve@example.com", json!(null)).await;
    let old = Timestamp::now().as_microsecond() - 40 * 86_400_000_000;
    app.db.tamper(&format!("UPDATE requests SET received_at = {old} WHERE id = '{id}'")).await;
    let late = app.post(&app.acme, &format!("/v1/requests/{id}/extend"), json!({"reason": "late"})).await;
    assert_eq!(
        (late.status, late.json["code"].as_str()),
        (StatusCode::CONFLICT, Some("extension_too_late")),
        "{}",
        late.text
    );
    // Overdue requests are listed.
    let overdue = app.get(&app.acme, "/v1/requests?overdue=true").await;
    let ids: Vec<&str> =
        overdue.json["requests"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(ids.is_empty(), "due dates were not moved, only receipt: {}", overdue.text);
    app.db.tamper(&format!("UPDATE requests SET due_at = {old} WHERE id = '{id}'")).await;
    let overdue = app.get(&app.acme, "/v1/requests?overdue=true").await;
    assert_eq!(overdue.json["requests"][0]["id"], id.as_str(), "{}", overdue.text);
    assert_eq!(overdue.json["requests"][0]["overdue"], true);
    app.finish().await;

    // Where only the company's own promise applies, there is no extension.
    let app = spawn(Db::sqlite().await, policy("okitoki")).await;
    let r = app
        .request(&app.acme, json!({"kind": "access", "identity": {"kind": "email", "value": "fay@example.com"}}))
        .await;
    let id = r.json["id"].as_str().unwrap();
    let no = app.post(&app.acme, &format!("/v1/requests/{id}/extend"), json!({"reason": "x"})).await;
    assert_eq!((no.status, no.json["code"].as_str()), (StatusCode::CONFLICT, Some("no_extension")), "{}", no.text);
    app.finish().await;
}

#[tokio::test]
async fn restriction_then_decisions_deny() {
    let app = spawn(Db::sqlite().await, policy("workki")).await;
    let gil = "gil@example.com";
    let subject = app.register(&app.acme, "user", gil).await;
    assert_eq!(app.decide(&subject, "account").await["decision"], "allow");
    let id = app.verified("restriction", gil, json!(null)).await;
    let done = app.wait_state(&app.acme, &id, "completed").await;
    assert_eq!(done["response"]["actions"][0]["action"], "restricted", "{done:#}");
    // GDPR Art. 18: only storage, and processing with consent or required by law, go on.
    let d = app.decide(&subject, "account").await;
    assert_eq!((d["decision"].as_str(), d["reason"]["code"].as_str()), (Some("deny"), Some("restricted")), "{d}");
    let s = app.get(&app.acme, &format!("/v1/subjects/{subject}")).await;
    assert!(s.json["flags"].as_array().unwrap().iter().any(|f| f["kind"] == "restricted"), "{}", s.text);
    app.finish().await;
}

#[tokio::test]
async fn an_objection_to_direct_marketing_denies_every_direct_marketing_activity() {
    let app = spawn(Db::sqlite().await, policy("workki")).await;
    let hal = "hal@example.com";
    let subject = app.register(&app.acme, "user", hal).await;
    let given = app
        .post(
            &app.acme,
            &format!("/v1/subjects/{subject}/consents"),
            json!({"purpose": "newsletter", "action": "give"}),
        )
        .await;
    assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
    assert_eq!(app.decide(&subject, "newsletter").await["decision"], "allow");
    let bad = app
        .request(&app.acme, json!({"kind": "objection", "identity": {"kind": "email", "value": hal}, "details": {"activities": ["account"]}}))
        .await;
    assert_eq!(
        (bad.status, bad.json["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_objectable")),
        "{}",
        bad.text
    );
    let id = app.verified("objection", hal, json!({"direct_marketing": true})).await;
    app.wait_state(&app.acme, &id, "completed").await;
    let p = policy("workki");
    let dm: Vec<&str> = p.activities.iter().filter(|a| a.direct_marketing).map(|a| a.id.as_str()).collect();
    assert!(dm.len() >= 2, "{dm:?}");
    for a in dm {
        let d = app.decide(&subject, a).await;
        assert_eq!(d["decision"], "deny", "{a}: {d}");
    }
    // Consent-free processing is untouched.
    assert_eq!(app.decide(&subject, "account").await["decision"], "allow");
    app.finish().await;
}

/// The webhook receiver: every POST, with its headers.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn webhook_receiver() -> (String, Received, oneshot::Sender<()>) {
    let received: Received = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let r = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let r = r.clone();
            let calls = calls.clone();
            async move {
                // The first delivery fails: the queue retries it.
                if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                r.lock().unwrap().push((headers, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (url, received, tx)
}

#[tokio::test]
async fn a_request_about_a_customers_data_is_referred_by_signed_webhook() {
    let app = spawn(Db::sqlite().await, policy("okitoki")).await;
    let (url, received, stop) = webhook_receiver().await;
    let c = app
        .post(
            &app.acme,
            "/v1/customers",
            json!({"name": "Initech", "email": "dpo@initech.example", "webhook_url": url}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    let secret = c.json["webhook_secret"].as_str().unwrap().to_owned();
    let cid = c.json["id"].as_str().unwrap().to_owned();
    let listed = app.get(&app.acme, "/v1/customers").await;
    assert!(listed.json["customers"][0]["webhook_secret"].is_null(), "the secret is shown once: {}", listed.text);
    let ivy = "ivy@example.com";
    let r = app
        .request(&app.acme, json!({"kind": "erasure", "identity": {"kind": "email", "value": ivy}, "customer": cid}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // promise T7: directed to the controller.
    assert_eq!(r.json["state"], "referred_to_controller");
    let id = r.json["id"].as_str().unwrap().to_owned();
    let told = app.wait_mail(ivy, "Initech").await;
    assert!(told.body.contains("dpo@initech.example"), "{}", told.body);
    let mut delivered = None;
    for _ in 0..400 {
        if let Some(d) = received.lock().unwrap().first().cloned() {
            delivered = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (headers, body) = delivered.expect("the webhook was delivered after a retry");
    let sig = headers["covenant-signature"].to_str().unwrap();
    assert_eq!(sig, format!("sha256={}", covenant_server::secrets::sign_body(secret.as_bytes(), &body)));
    assert_ne!(
        sig,
        format!("sha256={}", covenant_server::secrets::sign_body(b"another secret of 32 characters!", &body))
    );
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["event"], "request.referred");
    assert_eq!(payload["request"]["id"], id.as_str());
    assert_eq!(payload["request"]["identity"]["value"], ivy);
    let got = app.get(&app.acme, &format!("/v1/requests/{id}")).await;
    let events: Vec<&str> =
        got.json["history"].as_array().unwrap().iter().map(|h| h["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"delivery_failed") && events.contains(&"customer_notified"), "{events:?}");
    let resp =
        app.post(&app.acme, &format!("/v1/requests/{id}/controller-response"), json!({"outcome": "handled"})).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text);
    let _ = stop.send(());
    app.finish().await;
}

#[tokio::test]
async fn a_person_known_only_from_customers_data_is_referred_after_verification() {
    let app = spawn(Db::sqlite().await, policy("okitoki")).await;
    let jo = "jo@example.com";
    app.register(&app.acme, "contact", jo).await;
    let r = app.request(&app.acme, json!({"kind": "access", "identity": {"kind": "email", "value": jo}})).await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    let v = app.post(&app.acme, &format!("/v1/requests/{id}/verify"), json!({"code": app.code(jo)})).await;
    assert_eq!(v.json["state"], "referred_to_controller", "{}", v.text);
    app.wait_mail(jo, "who collects the information").await;
    app.finish().await;
}

#[tokio::test]
async fn a_customer_instructs_erasure_without_verification() {
    let app = spawn(Db::sqlite().await, policy("okitoki")).await;
    let c = app.post(&app.acme, "/v1/customers", json!({"name": "Hooli", "email": "privacy@hooli.example"})).await;
    let cid = c.json["id"].as_str().unwrap().to_owned();
    let app_key = app.key("acme", Role::Application).await;
    let r = app
        .post(
            &app_key,
            &format!("/v1/customers/{cid}/instructions"),
            json!({"kind": "erasure", "identity": {"kind": "email", "value": "kim@example.com"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["source"], "controller");
    let id = r.json["id"].as_str().unwrap().to_owned();
    app.wait_state(&app.acme, &id, "completed").await;
    // The result goes back to the controller.
    app.wait_mail("privacy@hooli.example", &id).await;
    let bad = app
        .post(
            &app_key,
            &format!("/v1/customers/{cid}/instructions"),
            json!({"kind": "restriction", "identity": {"kind": "email", "value": "kim@example.com"}}),
        )
        .await;
    assert_eq!(bad.json["code"], "invalid_instruction", "{}", bad.text);
    // Oki-Toki offers no portability.
    let r = app
        .request(&app.acme, json!({"kind": "export", "identity": {"kind": "email", "value": "kim@example.com"}}))
        .await;
    assert_eq!(
        (r.json["code"].as_str(), r.json["field"].as_str()),
        (Some("right_not_offered"), Some("kind")),
        "{}",
        r.text
    );
    app.finish().await;
}

#[tokio::test]
async fn another_tenants_requests_are_not_found_and_bad_input_writes_nothing() {
    let app = spawn(Db::sqlite().await, policy("workki")).await;
    let r = app
        .request(&app.acme, json!({"kind": "erasure", "identity": {"kind": "email", "value": "lu@example.com"}}))
        .await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    let head = app.head("globex").await;
    let missing = app.get(&app.globex, "/v1/requests/0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6e").await;
    for (path, body) in [
        (format!("/v1/requests/{id}/verify"), json!({"code": app.code("lu@example.com")})),
        (format!("/v1/requests/{id}/withdraw"), json!({})),
        (format!("/v1/requests/{id}/approve"), json!({})),
        (format!("/v1/requests/{id}/extend"), json!({"reason": "x"})),
        (format!("/v1/requests/{id}/proof"), json!({"name": "a", "content_type": "b", "content": "aGVsbG8="})),
    ] {
        let r = app.post(&app.globex, &path, body).await;
        assert_eq!((r.status, &r.json), (StatusCode::NOT_FOUND, &missing.json), "{path}: {}", r.text);
    }
    let got = app.get(&app.globex, &format!("/v1/requests/{id}")).await;
    assert_eq!(got.json, missing.json);
    assert_eq!(got.json["code"], "request_not_found");
    let list = app.get(&app.globex, "/v1/requests").await;
    assert_eq!(list.json["requests"], json!([]), "{}", list.text);
    // Only the list read was audited in globex.
    assert_eq!(app.head("globex").await, head + 1);

    let head = app.head("acme").await;
    let mails = app.mails().len();
    for (body, code, field) in [
        (json!({"kind": "delete", "identity": {"kind": "email", "value": "a@example.com"}}), "unknown_kind", "kind"),
        (
            json!({"kind": "access", "identity": {"kind": "email", "value": "nope"}}),
            "invalid_identity",
            "identity.value",
        ),
        (
            json!({"kind": "access", "identity": {"kind": "phone", "value": "+358401234567"}}),
            "missing_contact",
            "email",
        ),
        (
            json!({"kind": "rectification", "identity": {"kind": "email", "value": "a@example.com"}}),
            "missing_field",
            "details",
        ),
        (
            json!({"kind": "access", "identity": {"kind": "email", "value": "a@example.com"}, "details": {"field": "x"}}),
            "invalid_field",
            "details",
        ),
        (
            json!({"kind": "access", "identity": {"kind": "email", "value": "a@example.com"}, "jurisdiction": {"country": "Finland"}}),
            "invalid_jurisdiction",
            "jurisdiction",
        ),
        (
            json!({"kind": "access", "identity": {"kind": "email", "value": "a@example.com"}, "customer": "nope"}),
            "customer_not_found",
            "customer",
        ),
        (
            json!({"kind": "access", "identity": {"kind": "email", "value": "a@example.com"}, "extra": 1}),
            "unknown_field",
            "extra",
        ),
        (
            json!({"kind": "post_death", "identity": {"kind": "email", "value": "a@example.com"}}),
            "missing_field",
            "details.instructions",
        ),
    ] {
        let r = app.request(&app.acme, body.clone()).await;
        assert!(r.status.is_client_error(), "{body}: {}", r.text);
        assert_eq!(
            (r.json["code"].as_str(), r.json["field"].as_str()),
            (Some(code), Some(field)),
            "{body}: {}",
            r.text
        );
    }
    let bad_state = app.get(&app.acme, "/v1/requests?state=done").await;
    assert_eq!(bad_state.json["code"], "unknown_state", "{}", bad_state.text);
    let bad_proof = app
        .post(
            &app.acme,
            &format!("/v1/requests/{id}/proof"),
            json!({"name": "a", "content_type": "b", "content": "***"}),
        )
        .await;
    assert_eq!(bad_proof.json["code"], "invalid_content", "{}", bad_proof.text);
    let app_key = app.key("acme", Role::Application).await;
    let head = head + 1; // the key
    let forbidden = app.post(&app_key, &format!("/v1/requests/{id}/approve"), json!({})).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let by_proof = app.post(&app_key, &format!("/v1/requests/{id}/verify"), json!({"proof_checked": true})).await;
    assert_eq!(by_proof.status, StatusCode::FORBIDDEN, "{}", by_proof.text);
    assert_eq!(app.head("acme").await, head, "refused requests write nothing");
    assert_eq!(app.mails().len(), mails, "and send nothing");
    app.finish().await;
}

#[tokio::test]
async fn post_death_instructions_are_kept_and_withdrawal_stops_a_request() {
    let app = spawn(Db::sqlite().await, policy("workki")).await;
    let id = app.verified("post_death", "max@example.com", json!({"instructions": "delete everything"})).await;
    let done = app.wait_state(&app.acme, &id, "completed").await;
    assert_eq!(done["details"]["instructions"], "delete everything");
    assert!(
        done["response"]["kept"].as_array().unwrap().iter().any(|k| k["what"].as_str().unwrap().contains("death")),
        "{done:#}"
    );
    let r = app
        .request(&app.acme, json!({"kind": "erasure", "identity": {"kind": "email", "value": "ned@example.com"}}))
        .await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    let w = app.post(&app.acme, &format!("/v1/requests/{id}/withdraw"), json!({})).await;
    assert_eq!(w.json["state"], "withdrawn_by_requester", "{}", w.text);
    let v =
        app.post(&app.acme, &format!("/v1/requests/{id}/verify"), json!({"code": app.code("ned@example.com")})).await;
    assert_eq!(v.status, StatusCode::CONFLICT, "{}", v.text);
    app.finish().await;
}

#[tokio::test]
async fn a_contact_of_a_customer_is_handled_after_verification_and_the_customer_informed() {
    // promise W9: Workki acts on requests from the people in its users' contact lists, after
    // verification, and informs the user (the controller).
    let mut p = policy("workki");
    let lists = p.activities.iter_mut().find(|a| a.id == "contact_lists").unwrap();
    lists.requests = Some(covenant_policy::model::RequestHandling::HandleAndInformController);
    let app = spawn(Db::sqlite().await, p).await;
    let c = app
        .post(&app.acme, "/v1/customers", json!({"name": "Acme Mailings", "email": "dpo@acme-mailings.example"}))
        .await;
    let cid = c.json["id"].as_str().unwrap().to_owned();
    let oz = "oz@example.com";
    let r = app
        .request(&app.acme, json!({"kind": "erasure", "identity": {"kind": "email", "value": oz}, "customer": cid}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["state"], "awaiting_verification", "handled, not referred: {}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let v = app.post(&app.acme, &format!("/v1/requests/{id}/verify"), json!({"code": app.code(oz)})).await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    app.wait_state(&app.acme, &id, "completed").await;
    app.wait_mail(oz, "We have carried out your request").await;
    let informed = app.wait_mail("dpo@acme-mailings.example", &id).await;
    assert!(informed.body.contains("request.completed"), "{}", informed.body);
    app.finish().await;
}

/// The demo application (a call-center CRM) with its annotations, for tenant `acme`, journaling
/// into the test's store.
fn demo_app(dir: &std::path::Path, store_url: &str) -> PathBuf {
    let opts = covenant_demo_app::Options::new(200);
    covenant_demo_app::write_sqlite(dir, &opts, false).unwrap();
    std::fs::write(dir.join("policy.toml"), covenant_demo_app::POLICY_TOML).unwrap();
    std::fs::write(dir.join("crm.dataset.toml"), covenant_demo_app::CRM_DATASET_TOML).unwrap();
    std::fs::write(dir.join("events.dataset.toml"), covenant_demo_app::EVENTS_DATASET_TOML).unwrap();
    let config = format!(
        "policy = \"policy.toml\"\ntenant = \"acme\"\n[store]\nurl = \"{store_url}\"\n\
         [[datasets]]\nannotations = \"crm.dataset.toml\"\nurl = \"sqlite://crm.db\"\n\
         [[datasets]]\nannotations = \"events.dataset.toml\"\nurl = \"sqlite://events.db\"\n"
    );
    let path = dir.join("covenant.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// The dataset fulfiller of a demo configuration, journaling into the test's store.
async fn dataset_fulfiller(
    config: &covenant_dsr::Config,
    store_url: &str,
) -> Arc<dyn covenant_server::fulfil::Fulfiller> {
    let journal = Arc::new(SqlStore::connect(store_url).await.unwrap());
    journal.migrate().await.unwrap();
    let exec = covenant_dsr::Executor::open(config, journal).await.unwrap();
    Arc::new(covenant_server::datasets::DatasetFulfiller::new(Arc::new(exec)))
}

fn count(db: &std::path::Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// A verified erasure request is carried out in the application's own databases by the worker:
/// the person's rows are erased, invoices are kept under the legal hold and the answer says so
/// (promise T5), and the other people's rows are untouched.
#[tokio::test]
async fn an_erasure_request_is_carried_out_in_the_application_databases() {
    let db = Db::sqlite().await;
    let app_dir = tempfile::tempdir().unwrap();
    let config = covenant_dsr::Config::load(&demo_app(app_dir.path(), &db.url)).unwrap();
    let fulfiller = dataset_fulfiller(&config, &db.url).await;
    let app = spawn_with(db, config.policy.clone(), vec![fulfiller]).await;
    let crm = app_dir.path().join("crm.db");
    let ada = covenant_demo_app::ADA_EMAIL;
    let others_before = count(&crm, "SELECT count(*) FROM users WHERE email <> 'ada@example.com'");
    assert_eq!(count(&crm, "SELECT count(*) FROM users WHERE email = 'ada@example.com'"), 1);

    // Another tenant's request never reaches acme's databases.
    let bob = covenant_demo_app::BOB_EMAIL;
    let r = app
        .request(
            &app.globex,
            json!({"kind": "erasure", "identity": {"kind": "email", "value": bob}, "jurisdiction": {"country": "FI"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let gid = r.json["id"].as_str().unwrap().to_owned();
    let v = app.post(&app.globex, &format!("/v1/requests/{gid}/verify"), json!({"code": app.code(bob)})).await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    app.wait_state(&app.globex, &gid, "completed").await;
    assert_eq!(count(&crm, "SELECT count(*) FROM users WHERE email = 'bob@example.com'"), 1);

    let id = app.verified("erasure", ada, json!({})).await;
    let done = app.wait_state(&app.acme, &id, "completed").await;
    let actions = done["response"]["actions"].as_array().unwrap();
    assert!(
        actions.iter().any(|a| a["system"] == "crm" && a["table"] == "users" && a["action"] == "erased"),
        "{done:#}"
    );
    let kept = done["response"]["kept"].as_array().unwrap();
    assert!(kept.iter().any(|k| k["what"].as_str().unwrap().contains("payments")), "{done:#}");
    assert!(kept.iter().any(|k| k["basis"].as_str().unwrap().contains("Transaction and billing records")), "{done:#}");
    let answer = app.wait_mail(ada, "We have carried out your request").await;
    assert!(answer.body.contains("payments"), "{}", answer.body);

    assert_eq!(count(&crm, "SELECT count(*) FROM users WHERE email = 'ada@example.com'"), 0);
    assert_eq!(count(&crm, "SELECT count(*) FROM tickets WHERE user_id = 1"), 0);
    // promise T5: invoices are kept, detached from the erased user
    assert!(
        count(&crm, "SELECT count(*) FROM payments WHERE billing_email = 'ada@example.com' AND user_id IS NULL") > 0
    );
    assert_eq!(count(&crm, "SELECT count(*) FROM users WHERE email <> 'ada@example.com'"), others_before);
    app.finish().await;
}

/// A system in the chain before the application databases: records how many requests each
/// call of `fulfil_many` carried, and fails the first attempt of the requests of `fail_once`.
struct Recorder {
    batches: Mutex<Vec<usize>>,
    fail_once: Mutex<Vec<String>>,
}

impl covenant_server::fulfil::Fulfiller for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    fn fulfil<'a>(
        &'a self,
        req: &'a covenant_server::fulfil::FulfilRequest,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<covenant_server::fulfil::Outcome, covenant_server::fulfil::FulfilError>,
    > {
        Box::pin(async move {
            let mut fail = self.fail_once.lock().unwrap();
            match fail.iter().position(|e| e == req.identity.value()) {
                Some(i) => {
                    fail.remove(i);
                    Err(covenant_server::fulfil::FulfilError::new("recorder", "the recorder refused this one"))
                }
                None => Ok(covenant_server::fulfil::Outcome::default()),
            }
        })
    }

    fn fulfil_many<'a>(
        &'a self,
        reqs: &'a [covenant_server::fulfil::FulfilRequest],
    ) -> futures_util::future::BoxFuture<
        'a,
        Vec<Result<covenant_server::fulfil::Outcome, covenant_server::fulfil::FulfilError>>,
    > {
        self.batches.lock().unwrap().push(reqs.len());
        Box::pin(async move {
            let mut out = Vec::new();
            for r in reqs {
                out.push(self.fulfil(r).await);
            }
            out
        })
    }
}

/// The worker claims the due fulfilments together and carries them out as one batch in the
/// application databases; each request is still answered as its own, with the action taken on
/// its own rows (promises W6, P6: erasure; T5: answered with the action taken), and a request
/// that fails drops out of the batch and is retried alone while the others complete.
#[tokio::test]
async fn due_fulfilments_are_carried_out_together_and_fail_alone() {
    let db = Db::sqlite().await;
    let app_dir = tempfile::tempdir().unwrap();
    let config = covenant_dsr::Config::load(&demo_app(app_dir.path(), &db.url)).unwrap();
    let recorder = Arc::new(Recorder { batches: Mutex::new(Vec::new()), fail_once: Mutex::new(Vec::new()) });
    let fulfillers: Vec<Arc<dyn covenant_server::fulfil::Fulfiller>> =
        vec![recorder.clone(), dataset_fulfiller(&config, &db.url).await];
    let (app, state) = spawn_server(db, config.policy.clone(), fulfillers, None).await;
    let crm = app_dir.path().join("crm.db");
    let c = rusqlite::Connection::open(&crm).unwrap();
    let mut users: Vec<(i64, String, i64)> = c
        .prepare("SELECT id, email, (SELECT count(*) FROM tickets t WHERE t.user_id = u.id) FROM users u WHERE id > 2 ORDER BY id LIMIT 3")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(users.len(), 3);
    let ada_tickets = count(&crm, "SELECT count(*) FROM tickets WHERE user_id = 1");
    users.insert(0, (1, covenant_demo_app::ADA_EMAIL.to_owned(), ada_tickets));
    let failing = users[2].1.clone();
    recorder.fail_once.lock().unwrap().push(failing.clone());
    let others = |c: &rusqlite::Connection| -> i64 {
        let ids: Vec<String> = users.iter().map(|u| u.0.to_string()).collect();
        c.query_row(&format!("SELECT count(*) FROM tickets WHERE user_id NOT IN ({})", ids.join(",")), [], |r| r.get(0))
            .unwrap()
    };
    let others_before = others(&c);

    // Four erasures and an access, verified while no worker runs.
    let mut erasures = Vec::new();
    for (_, email, _) in &users {
        erasures.push(app.verified("erasure", email, json!({})).await);
    }
    let access = app.verified("access", covenant_demo_app::BOB_EMAIL, json!({})).await;

    let opts = WorkerOptions { name: "batch-worker".into(), batch: 10, ..WorkerOptions::default() };
    let mut steps = 0;
    while covenant_server::worker::step(&state, &opts).await.unwrap() {
        steps += 1;
        assert!(steps < 100, "the worker never ran out of due jobs");
    }
    // One call for the five requests: they were claimed and fulfilled together.
    assert_eq!(*recorder.batches.lock().unwrap(), vec![5]);
    for (id, (uid, email, tickets)) in erasures.iter().zip(&users) {
        let r = app.get(&app.acme, &format!("/v1/requests/{id}")).await;
        if *email == failing {
            // Failed alone: back in the queue for a later attempt, its rows untouched.
            assert_eq!(r.json["state"], "queued", "{:#}", r.json);
            assert!(r.text.contains("the recorder refused this one"), "{:#}", r.json);
            assert_eq!(count(&crm, &format!("SELECT count(*) FROM users WHERE id = {uid}")), 1);
            assert_eq!(count(&crm, &format!("SELECT count(*) FROM tickets WHERE user_id = {uid}")), *tickets);
            continue;
        }
        assert_eq!(r.json["state"], "completed", "{:#}", r.json);
        assert_eq!(count(&crm, &format!("SELECT count(*) FROM users WHERE id = {uid}")), 0);
        // Each answer counts the request's own rows, not the batch's.
        let actions = r.json["response"]["actions"].as_array().unwrap();
        let count_of = |table: &str| {
            actions
                .iter()
                .find(|a| a["system"] == "crm" && a["table"] == table && a["action"] == "erased")
                .map_or(0, |a| a["count"].as_i64().unwrap())
        };
        assert_eq!((count_of("users"), count_of("tickets")), (1, *tickets), "{:#}", r.json);
        app.wait_mail(email, "We have carried out your request").await;
    }
    let r = app.wait_state(&app.acme, &access, "completed").await;
    assert!(r["response"]["actions"].as_array().unwrap().iter().any(|a| a["action"] == "exported"), "{r:#}");
    assert_eq!(others(&c), others_before);
    use covenant_store::RequestStore as _;
    let pending = app.store.list_jobs(&tenant("acme"), Some(covenant_store::JobState::Pending), 50).await.unwrap();
    let retry: Vec<_> = pending.iter().filter(|j| j.kind == "request.fulfil").collect();
    assert_eq!(retry.len(), 1, "{pending:#?}");
    assert_eq!(retry[0].attempts, 1);
    let head = app.head("acme").await;
    assert_eq!(app.store.verify_audit(&tenant("acme")).await.unwrap(), Ok(head));
    app.finish().await;
}

/// The stored bytes of a column, read behind the store's back.
async fn blobs(db: &Db, sql: &str) -> Vec<Vec<u8>> {
    use sqlx::Connection as _;
    match &db.kind {
        super::Kind::Sqlite { .. } => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            let rows: Vec<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut c).await.unwrap();
            c.close().await.unwrap();
            rows
        }
        super::Kind::Postgres { .. } => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let rows: Vec<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut c).await.unwrap();
            c.close().await.unwrap();
            rows
        }
    }
}

/// A request awaiting verification, for `email`.
async fn awaiting(app: &App, email: &str) -> String {
    let r = app
        .request(
            &app.acme,
            json!({"kind": "access", "identity": {"kind": "email", "value": email}, "jurisdiction": {"country": "FI"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json["id"].as_str().unwrap().to_owned()
}

/// A scan of an identity document is several MiB: a 2 MiB proof is taken (its route has a limit
/// of its own), kept encrypted, read back whole by an operator, and deleted on verification
/// (promise W10). A proof over 10 MiB is refused with 413 and the limit, whether the body says
/// so up front or only once decoded, and nothing is kept; every other route still refuses a body
/// over 64 KiB.
async fn proofs_of_several_mib(db: Db) {
    use base64::Engine as _;
    use covenant_server::routes::requests::{MAX_PROOF, PROOF_BODY_LIMIT};
    let b64 = base64::engine::general_purpose::STANDARD;
    let app = spawn(db, policy("workki")).await;
    let ada = "ada@example.com";
    let id = awaiting(&app, ada).await;
    let mut scan: Vec<u8> = b"ADA-PASSPORT-SCAN:".to_vec();
    scan.extend((0..2 * 1024 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let proof = |content: &str| json!({"name": "passport.jpg", "content_type": "image/jpeg", "content": content});
    let r = app.post(&app.acme, &format!("/v1/requests/{id}/proof"), proof(&b64.encode(&scan))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["size"], scan.len());
    // Kept encrypted: the database holds no byte of it in clear.
    let stored = blobs(&app.db, "SELECT ciphertext FROM request_attachments").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].len(), scan.len() + 16);
    assert!(!stored[0].windows(18).any(|w| w == b"ADA-PASSPORT-SCAN:"));
    assert_ne!(&stored[0][..1000], &scan[..1000]);
    let read = app.get(&app.acme, &format!("/v1/requests/{id}/proof")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(b64.decode(read.json["proofs"][0]["content"].as_str().unwrap()).unwrap(), scan);

    // Over the limit: nothing is kept, nothing is written.
    let head = app.head("acme").await;
    let over = vec![7u8; MAX_PROOF + 1];
    let body = proof(&b64.encode(&over)).to_string();
    assert!(body.len() <= PROOF_BODY_LIMIT, "decoded too large, but the body is within the route's limit");
    let r = app.post(&app.acme, &format!("/v1/requests/{id}/proof"), proof(&b64.encode(&over))).await;
    assert_eq!((r.status, r.code(), r.field()), (StatusCode::PAYLOAD_TOO_LARGE, "proof_too_large", Some("content")));
    assert!(r.json["message"].as_str().unwrap().contains("at most 10 MiB"), "{}", r.text);
    // A body past the route's limit is refused by its length, before it is read.
    let huge = format!(
        "{{\"name\":\"scan.png\",\"content_type\":\"image/png\",\"content\":\"{}\"}}",
        "A".repeat(PROOF_BODY_LIMIT)
    );
    let r = app
        .send(
            app.client
                .post(format!("{}/v1/requests/{id}/proof", app.base))
                .bearer_auth(&app.acme)
                .header("content-type", "application/json")
                .body(huge),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::PAYLOAD_TOO_LARGE, "proof_too_large"), "{}", r.text);
    assert!(r.json["message"].as_str().unwrap().contains("at most 10 MiB"), "{}", r.text);
    assert_eq!(app.head("acme").await, head);
    assert_eq!(blobs(&app.db, "SELECT ciphertext FROM request_attachments").await.len(), 1);
    // Every other route keeps the 64 KiB limit, this request's other routes included.
    for path in [format!("/v1/requests/{id}/verify"), "/v1/requests".to_owned(), "/v1/subjects".to_owned()] {
        let r = app.post(&app.acme, &path, json!({"code": "1".repeat(70 * 1024)})).await;
        assert_eq!((r.status, r.code()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"), "{path}: {}", r.text);
        assert!(r.json["message"].as_str().unwrap().contains("64 KiB"), "{path}: {}", r.text);
    }
    assert_eq!(app.head("acme").await, head);

    // promise W10: verified, the proof is gone: the row, not a mark.
    let v = app.post(&app.acme, &format!("/v1/requests/{id}/verify"), json!({"code": app.code(ada)})).await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    let read = app.get(&app.acme, &format!("/v1/requests/{id}/proof")).await;
    assert_eq!(read.json["proofs"], json!([]), "{}", read.text);
    assert!(blobs(&app.db, "SELECT ciphertext FROM request_attachments").await.is_empty());
    app.finish().await;
}

#[tokio::test]
async fn proofs_of_several_mib_on_sqlite() {
    proofs_of_several_mib(Db::sqlite().await).await;
}

#[tokio::test]
async fn proofs_of_several_mib_on_postgres() {
    if let Some(db) = Db::postgres("proofs_of_several_mib").await {
        proofs_of_several_mib(db).await;
    }
}

/// The server with the dataset fulfiller over the demo application's databases, serving the
/// demo's policy as `edit` leaves it.
async fn spawn_demo(db: Db, app_dir: &std::path::Path, edit: impl FnOnce(&mut Policy)) -> App {
    let mut config = covenant_dsr::Config::load(&demo_app(app_dir, &db.url)).unwrap();
    edit(&mut config.policy);
    let fulfiller = dataset_fulfiller(&config, &db.url).await;
    spawn_with(db, config.policy.clone(), vec![fulfiller]).await
}

/// The download links of an answer email: (format, URL).
fn links(mail: &Mail) -> Vec<(String, String)> {
    mail.body
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("http"))
        .inspect(|l| assert!(l.contains("format="), "{l}: {}", mail.body))
        .map(|l| (l.rsplit_once("format=").unwrap().1.to_owned(), l.to_owned()))
        .collect()
}

/// A download, without a key.
async fn download(app: &App, url: &str) -> (Res, Vec<u8>) {
    let res = app.client.get(url).send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.bytes().await.unwrap().to_vec();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (Res { status, headers, text, json }, bytes)
}

/// An access request made through the API, verified and fulfilled in the demo application's
/// databases, is answered by email with links to the readable report (promises W6, P6): the
/// report names Ada's data, why it is held and for how long. Operators download the same files
/// through the API. A wrong token opens nothing and says nothing; an expired answer is refused,
/// then deleted by its job.
async fn access_answer_is_downloadable(db: Db) {
    let app_dir = tempfile::tempdir().unwrap();
    let app = spawn_demo(db, app_dir.path(), |_| {}).await;
    let ada = covenant_demo_app::ADA_EMAIL;
    // Known to Covenant too: its own records of her stay in the email, as JSON.
    app.register(&app.acme, "user", ada).await;
    let id = app.verified("access", ada, json!({})).await;
    let done = app.wait_state(&app.acme, &id, "completed").await;
    assert_eq!(done["response"]["report"]["datasets"]["kind"], "access", "{done:#}");
    let mail = app.wait_mail(ada, "You can download our answer").await;
    assert!(mail.subject.contains(&id), "{mail:?}");
    // The application data is in the files, not in the email; Covenant's own records still are.
    assert!(!mail.body.contains("\"dataset_name\""), "{}", mail.body);
    assert!(mail.body.contains("\"covenant\": {"), "{}", mail.body);
    assert!(
        mail.body.contains("\"email:ada@example.com\"") || mail.body.contains("\"value\": \"ada@example.com\""),
        "{}",
        mail.body
    );
    let links = links(&mail);
    let formats: Vec<&str> = links.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(formats, ["html", "json", "csv"], "{}", mail.body);
    let html_url = &links[0].1;
    assert!(html_url.starts_with(&format!("{}/v1/public/requests/{id}/answer?token=", app.base)), "{html_url}");

    let (page, _) = download(&app, html_url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert!(page.headers["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
    for needle in ["Ada Lovelace", "ada@example.com", "Why we hold it", "Providing the Service", "How long we keep it"]
    {
        assert!(page.text.contains(needle), "{needle} missing from the report");
    }
    assert!(!page.text.contains("<script"));
    let (json_file, _) = download(&app, &links[1].1).await;
    assert_eq!(json_file.json["schema"], 1, "{}", json_file.text);
    assert!(json_file.headers["content-disposition"].to_str().unwrap().contains("export.json"));

    // The token is for this answer only, and nothing is said about what a wrong one nearly opened.
    let token = html_url.split("token=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let head = app.head("acme").await;
    let base = format!("{}/v1/public/requests", app.base);
    let other = "0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6e";
    let mut wrong = token.clone();
    wrong.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
    let refusals = [
        format!("{base}/{id}/answer?token={wrong}&format=html"),
        format!("{base}/{id}/answer?format=html"),
        format!("{base}/{id}/answer?token=&format=html"),
        format!("{base}/{other}/answer?token={token}&format=html"),
        format!("{base}/not-an-id/answer?token={token}"),
    ];
    let mut bodies = Vec::new();
    for url in &refusals {
        let (r, _) = download(&app, url).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "answer_not_found"), "{url}: {}", r.text);
        assert!(!r.text.contains("Ada") && !r.text.contains(&id), "{}", r.text);
        bodies.push(r.json);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    let (r, _) = download(&app, &format!("{base}/{id}/answer?token={token}&format=pdf")).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "unknown_format"), "{}", r.text);
    assert_eq!(app.head("acme").await, head, "refusals write nothing");

    // Operators: the same files, through the API; not auditors, not another tenant.
    let op = app.key("acme", Role::Operator).await;
    let r = app.get(&op, &format!("/v1/requests/{id}/answer?format=json")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, json_file.json);
    let auditor = app.key("acme", Role::Auditor).await;
    assert_eq!(app.get(&auditor, &format!("/v1/requests/{id}/answer")).await.status, StatusCode::FORBIDDEN);
    let r = app.get(&app.globex, &format!("/v1/requests/{id}/answer")).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "request_not_found"), "{}", r.text);

    // Expired: refused at once, though the job that deletes it is not yet due.
    app.db.raw("UPDATE request_answers SET expires_at = 1").await;
    let (r, _) = download(&app, html_url).await;
    assert_eq!((r.status, r.code()), (StatusCode::GONE, "answer_expired"), "{}", r.text);
    let r = app.get(&app.acme, &format!("/v1/requests/{id}/answer")).await;
    assert_eq!((r.status, r.code()), (StatusCode::GONE, "answer_expired"), "{}", r.text);
    // The job falls due: the answer is deleted, files and all, and the link opens nothing.
    app.db.raw("UPDATE jobs SET run_at = 0 WHERE kind = 'answer.expire'").await;
    for _ in 0..200 {
        if blobs(&app.db, "SELECT ciphertext FROM request_answer_files").await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(blobs(&app.db, "SELECT ciphertext FROM request_answer_files").await.is_empty());
    let (r, _) = download(&app, html_url).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "answer_not_found"), "{}", r.text);
    let r = app.get(&app.acme, &format!("/v1/requests/{id}/answer")).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "answer_not_found"), "{}", r.text);
    let history = app.get(&app.acme, &format!("/v1/requests/{id}")).await.json["history"].clone();
    let events: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["event"].as_str().unwrap()).collect();
    for e in ["complete", "answer_link_issued", "email_sent", "answer_downloaded", "answer_deleted"] {
        assert!(events.contains(&e), "{e} missing from {events:?}");
    }
    let v = app.get(&app.acme, "/v1/audit/verify").await;
    assert_eq!(v.json["intact"], true, "{}", v.text);
    app.finish().await;
}

#[tokio::test]
async fn access_answer_is_downloadable_on_sqlite() {
    access_answer_is_downloadable(Db::sqlite().await).await;
}

#[tokio::test]
async fn access_answer_is_downloadable_on_postgres() {
    if let Some(db) = Db::postgres("access_answer_is_downloadable").await {
        access_answer_is_downloadable(db).await;
    }
}

/// A customer that instructs access (promise P7) is sent the answer's download links with the
/// completion; they open the answer, and only with their token.
#[tokio::test]
async fn a_customer_instructing_access_gets_the_answers_links() {
    let app_dir = tempfile::tempdir().unwrap();
    let app = spawn_demo(Db::sqlite().await, app_dir.path(), |_| {}).await;
    let c = app.post(&app.acme, "/v1/customers", json!({"name": "Hooli", "email": "privacy@hooli.example"})).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    let cid = c.json["id"].as_str().unwrap().to_owned();
    let app_key = app.key("acme", Role::Application).await;
    let ada = covenant_demo_app::ADA_EMAIL;
    let r = app
        .post(
            &app_key,
            &format!("/v1/customers/{cid}/instructions"),
            json!({"kind": "access", "identity": {"kind": "email", "value": ada}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    app.wait_state(&app.acme, &id, "completed").await;
    let mail = app.wait_mail("privacy@hooli.example", "carried out").await;
    let urls: Vec<String> = mail
        .body
        .lines()
        .filter(|l| l.contains("/answer?token="))
        .map(|l| l.trim().trim_end_matches(',').rsplit(": ").next().unwrap().trim_matches('"').to_owned())
        .collect();
    assert_eq!(urls.len(), 3, "html, json and csv links: {}", mail.body);
    let html = urls.iter().find(|u| u.ends_with("format=html")).unwrap();
    assert!(html.starts_with(&format!("{}/v1/public/requests/{id}/answer?token=", app.base)), "{html}");
    let (page, _) = download(&app, html).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let (r, _) = download(&app, &html.replace("token=", "token=x")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    app.finish().await;
}

/// A person with thousands of rows: the answer is longer than the store keeps in a request's
/// response, so the response notes that the data is in the answer's files, and the request
/// completes with every row in the files (promises W6, P6).
#[tokio::test]
async fn a_long_answer_completes_with_its_data_in_the_files() {
    let app_dir = tempfile::tempdir().unwrap();
    let app = spawn_demo(Db::sqlite().await, app_dir.path(), |_| {}).await;
    let ada = covenant_demo_app::ADA_EMAIL;
    {
        let mut c = rusqlite::Connection::open(app_dir.path().join("events.db")).unwrap();
        let tx = c.transaction().unwrap();
        for i in 0..3000 {
            tx.execute(
                "INSERT INTO email_events (id, email, campaign, kind, ip, user_agent, occurred_at) \
                 VALUES (?1, ?2, 'long-answer', 'open', '192.0.2.1', ?3, '2026-01-01T00:00:00Z')",
                rusqlite::params![1_000_000_000i64 + i, ada, format!("long-answer-agent-{i:05} (a mail client)")],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let id = app.verified("access", ada, json!({})).await;
    let done = app.wait_state(&app.acme, &id, "completed").await;
    assert_eq!(done["response"]["report"]["datasets"]["in_answer_files"], true, "{done:#}");
    assert!(done["response"]["actions"].as_array().is_some_and(|a| !a.is_empty()), "{done:#}");
    let op = app.key("acme", Role::Operator).await;
    let r = app.get(&op, &format!("/v1/requests/{id}/answer?format=json")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", &r.text[..r.text.len().min(500)]);
    assert_eq!(r.text.matches("long-answer-agent-").count(), 3000, "every row is in the file");
    app.finish().await;
}

/// An export's CSV link gives a zip of one CSV file per table of Ada's data, with a README, and
/// its JSON link the export document (promises W6, P6).
#[tokio::test]
async fn export_answer_unzips_to_csv_files() {
    let app_dir = tempfile::tempdir().unwrap();
    // Oki-Toki's policy does not offer portability; a company whose policy does (Workki's,
    // promise W6) is answered so.
    let portable = |p: &mut Policy| p.rights.as_mut().unwrap().offered.push(covenant_core::Right::Portability);
    let app = spawn_demo(Db::sqlite().await, app_dir.path(), portable).await;
    let ada = covenant_demo_app::ADA_EMAIL;
    let id = app.verified("export", ada, json!({})).await;
    app.wait_state(&app.acme, &id, "completed").await;
    let mail = app.wait_mail(ada, "You can download our answer").await;
    let links = links(&mail);
    let csv = &links.iter().find(|(f, _)| f == "csv").unwrap().1;
    let (r, bytes) = download(&app, csv).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/zip");
    assert!(r.headers["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"export-csv.zip\""));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert!(names.contains(&"README.txt".to_owned()), "{names:?}");
    assert!(names.contains(&"crm.users.csv".to_owned()), "{names:?}");
    assert!(names.iter().filter(|n| *n != "README.txt").all(|n| n.ends_with(".csv")), "{names:?}");
    let mut users = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("crm.users.csv").unwrap(), &mut users).unwrap();
    let lines: Vec<&str> = users.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "a header and Ada's row: {users}");
    assert!(lines[1].contains("ada@example.com") && lines[1].contains("Ada Lovelace"), "{users}");
    let json = &links.iter().find(|(f, _)| f == "json").unwrap().1;
    let (r, _) = download(&app, json).await;
    assert!(r.json["identities"].as_array().unwrap().contains(&json!("email:ada@example.com")), "{}", r.text);
    app.finish().await;
}

/// A system in the chain that answers a batch only once another batch is in hand at the same
/// time (two batches meet at a barrier), and refuses if none comes within a few seconds.
struct Rendezvous {
    barrier: tokio::sync::Barrier,
}

impl covenant_server::fulfil::Fulfiller for Rendezvous {
    fn name(&self) -> &str {
        "rendezvous"
    }

    fn fulfil<'a>(
        &'a self,
        _: &'a covenant_server::fulfil::FulfilRequest,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<covenant_server::fulfil::Outcome, covenant_server::fulfil::FulfilError>,
    > {
        Box::pin(async move {
            match tokio::time::timeout(Duration::from_secs(5), self.barrier.wait()).await {
                Ok(_) => Ok(covenant_server::fulfil::Outcome::default()),
                Err(_) => Err(covenant_server::fulfil::FulfilError::new("rendezvous", "no other batch was in hand")),
            }
        })
    }
}

/// The worker's lanes carry out two batches at the same time: each of two erasures is
/// fulfilled only while the other is in hand too, so both complete only when two lanes run
/// (with one lane, the first waits alone and fails).
#[tokio::test]
async fn the_worker_carries_out_batches_in_lanes_at_the_same_time() {
    for lanes in [2, 1] {
        let db = Db::sqlite().await;
        let app_dir = tempfile::tempdir().unwrap();
        let config = covenant_dsr::Config::load(&demo_app(app_dir.path(), &db.url)).unwrap();
        let meet = Arc::new(Rendezvous { barrier: tokio::sync::Barrier::new(2) });
        let (app, state) = spawn_server(db, config.policy.clone(), vec![meet], None).await;
        let a = app.verified("erasure", covenant_demo_app::ADA_EMAIL, json!({})).await;
        let b = app.verified("erasure", covenant_demo_app::BOB_EMAIL, json!({})).await;
        let opts = WorkerOptions { name: format!("lanes-{lanes}"), batch: 1, lanes, ..WorkerOptions::default() };
        covenant_server::worker::drain(&state, &opts).await.unwrap();
        let mut states = Vec::new();
        for id in [a, b] {
            states.push(app.get(&app.acme, &format!("/v1/requests/{id}")).await.json["state"].to_string());
        }
        if lanes == 2 {
            assert_eq!(states, ["\"completed\"", "\"completed\""], "two lanes: both batches met");
        } else {
            assert!(states.contains(&"\"queued\"".to_owned()), "one lane: no batch met another: {states:?}");
        }
    }
}
