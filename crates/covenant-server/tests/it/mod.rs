//! `spawn_app()`: the real server on 127.0.0.1:0 over a fresh database, with two tenants (`acme`
//! and `globex`) and an admin key for each, serving the Oki-Toki example policy.
//!
//! SQLite always; PostgreSQL when `COVENANT_TEST_POSTGRES_URL` is set (a fresh database per test,
//! dropped afterwards), required when `COVENANT_REQUIRE_POSTGRES=1` (scripts/test sets both).

mod auth;
mod bad_input;
mod end_to_end;
mod gpc;
mod openapi;
mod preferences;
mod processes;
mod subjects;
mod tenancy;
mod unsubscribe;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use covenant_core::TenantId;
use covenant_core::audit::AuditDraft;
use covenant_server::{AppState, Config};
use covenant_store::{NewApiKey, NewTenant, Role, SqlStore, Store};
use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, SqliteConnection};
use tokio::sync::oneshot;

pub const PG_URL: &str = "COVENANT_TEST_POSTGRES_URL";
pub const PG_REQUIRED: &str = "COVENANT_REQUIRE_POSTGRES";

pub enum Kind {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

/// A fresh, migrated database.
pub struct Db {
    pub url: String,
    pub kind: Kind,
}

impl Db {
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("covenant.db").display());
        Db { url, kind: Kind::Sqlite { _dir: dir } }
    }

    /// `None` (after saying why) when no PostgreSQL is configured and none is required.
    pub async fn postgres(test: &str) -> Option<Db> {
        let Ok(admin_url) = std::env::var(PG_URL) else {
            assert!(!std::env::var(PG_REQUIRED).is_ok_and(|v| v == "1"), "{PG_REQUIRED}=1 but {PG_URL} is not set");
            eprintln!("note: skipping the PostgreSQL run of `{test}`: set {PG_URL} (scripts/test does)");
            return None;
        };
        let name = format!("covenant_server_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
        admin.close().await.unwrap();
        let url = with_database(&admin_url, &name);
        Some(Db { url, kind: Kind::Postgres { admin_url, name } })
    }

    /// Runs SQL behind the store's back (as someone with database access could), with the
    /// append-only triggers out of the way.
    pub async fn tamper(&self, sql: &str) {
        match &self.kind {
            Kind::Sqlite { .. } => {
                let mut c = SqliteConnection::connect(&self.url).await.unwrap();
                let script = format!(
                    "DROP TRIGGER IF EXISTS audit_entries_no_update; DROP TRIGGER IF EXISTS audit_entries_no_delete; {sql}"
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(script)).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            Kind::Postgres { .. } => {
                let mut c = PgConnection::connect(&self.url).await.unwrap();
                let script = format!("ALTER TABLE audit_entries DISABLE TRIGGER USER; {sql}");
                sqlx::raw_sql(sqlx::AssertSqlSafe(script)).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }

    /// Runs SQL as is, behind the store's back (triggers in place).
    pub async fn raw(&self, sql: &str) {
        match &self.kind {
            Kind::Sqlite { .. } => {
                let mut c = SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            Kind::Postgres { .. } => {
                let mut c = PgConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }

    async fn drop_database(&self) {
        if let Kind::Postgres { admin_url, name } = &self.kind {
            let mut admin = PgConnection::connect(admin_url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

/// Replaces the database name in a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

pub fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

pub fn policy_path(example: &str) -> std::path::PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
        .join("../../examples")
        .join(example)
        .join("policy.toml")
}

/// A running server and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// A store of the test's own on the same database (as another process would open it).
    pub store: SqlStore,
    /// The admin key of `acme`.
    pub acme: String,
    /// The admin key of `globex`.
    pub globex: String,
    /// The server's state (its caches).
    pub state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Another server on the same database, with stores, caches and a listener of its own, as a
/// second server process would have.
pub struct OtherServer {
    pub base: String,
    pub state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl OtherServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self.state.store.close().await;
    }
}

/// A running server.
struct Started {
    base: String,
    state: Arc<AppState>,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts the server on a database, serving an example policy, on 127.0.0.1:0.
async fn start(url: &str, example: &str) -> Started {
    let policy = covenant_policy::load_file(&policy_path(example)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let config = Config {
        policy,
        secret: vec![42; 32],
        public_url: base.clone(),
        request_timeout: Duration::from_secs(10),
        key_ttl: Duration::from_secs(60),
    };
    let server_store = SqlStore::connect(url).await.unwrap();
    let state = Arc::new(AppState::new(server_store, config).unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let app = covenant_server::router(state.clone());
    let server = tokio::spawn(covenant_server::serve(listener, app, async {
        let _ = rx.await;
    }));
    Started { base, state, shutdown: tx, server }
}

/// The server on a fresh SQLite database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Db::sqlite().await, "okitoki").await
}

/// The server on a given database, serving an example policy.
pub async fn spawn_app_on(db: Db, example: &str) -> TestApp {
    let store = SqlStore::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    for t in ["acme", "globex"] {
        let new = NewTenant { id: tenant(t), name: t.to_owned(), created_at: Timestamp::now() };
        store.create_tenant(new, AuditDraft::new("test", "tenant.create", &format!("tenant:{t}"), "")).await.unwrap();
    }
    let started = start(&db.url, example).await;
    let mut app = TestApp {
        base: started.base,
        client: reqwest::Client::new(),
        db,
        store,
        acme: String::new(),
        globex: String::new(),
        state: started.state,
        shutdown: Some(started.shutdown),
        server: Some(started.server),
    };
    app.acme = app.key("acme", Role::Admin).await;
    app.globex = app.key("globex", Role::Admin).await;
    app
}

/// A response: status, and the body as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Res {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
    pub fn field(&self) -> Option<&str> {
        self.json["field"].as_str()
    }
}

impl TestApp {
    /// Another server on the same database (serving the Oki-Toki example policy).
    pub async fn other_server(&self) -> OtherServer {
        let started = start(&self.db.url, "okitoki").await;
        OtherServer {
            base: started.base,
            state: started.state,
            shutdown: Some(started.shutdown),
            server: Some(started.server),
        }
    }

    /// A new key of a tenant with a role.
    pub async fn key(&self, tenant_name: &str, role: Role) -> String {
        let new = NewApiKey {
            tenant: tenant(tenant_name),
            role,
            label: format!("test {role}"),
            created_at: Timestamp::now(),
        };
        let w = self.store.create_api_key(new, AuditDraft::new("test", "apikey.create", "apikey", "")).await.unwrap();
        w.value.secret
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Res {
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res { status, headers, text, json }
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> Res {
        self.send(self.client.post(self.url(path)).bearer_auth(key).json(&body)).await
    }

    pub async fn get(&self, key: &str, path: &str) -> Res {
        self.send(self.client.get(self.url(path)).bearer_auth(key)).await
    }

    /// The seq of a tenant's last audit entry.
    pub async fn head(&self, tenant_name: &str) -> u64 {
        self.store.audit_head(&tenant(tenant_name)).await.unwrap().seq
    }

    /// Registers a user with an email; returns its id.
    pub async fn register(&self, key: &str, email: &str) -> String {
        let res = self
            .post(key, "/v1/subjects", json!({"type": "user", "identities": [{"kind": "email", "value": email}]}))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.json["id"].as_str().unwrap().to_owned()
    }

    /// Gives, refuses or withdraws a consent.
    pub async fn consent(&self, key: &str, subject: &str, purpose: &str, action: &str) -> Res {
        self.post(key, &format!("/v1/subjects/{subject}/consents"), json!({"purpose": purpose, "action": action})).await
    }

    /// Decides for a subject by id.
    pub async fn decide(&self, key: &str, subject: &str, activity: &str) -> Res {
        self.post(key, "/v1/decisions", json!({"subject": {"id": subject}, "activity": activity})).await
    }

    /// Stops the server (finishing requests in flight) and drops a PostgreSQL database.
    pub async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self.store.close().await;
        self.state.store.close().await;
        // The server's state (and with it its watch over the database) goes first.
        let TestApp { db, state, .. } = self;
        drop(state);
        db.drop_database().await;
    }
}
mod requests;
