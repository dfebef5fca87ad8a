//! Small demo databases: the demo CRM schema (examples/crm/sql) with a few people, on SQLite
//! files or fresh PostgreSQL databases, a covenant.toml pointing at them, and table dumps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use covenant_dsr::{Config, Executor};
use covenant_store::{SqlStore, Store};
use sqlx::{Connection, PgConnection, Row, SqliteConnection};

pub const PG_URL: &str = "COVENANT_TEST_POSTGRES_URL";

pub fn examples() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
        .join("../../examples")
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub crm: String,
    pub events: String,
    pub postgres: Option<(String, Vec<String>)>,
}

static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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

/// One of the `people` of the fixture: person `i` (1-based). Person 1 is Ada.
pub fn email(i: usize) -> String {
    if i == 1 { "ada@example.com".into() } else { format!("person{i}@example.com") }
}

impl Fixture {
    pub async fn sqlite(people: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let crm = format!("sqlite://{}?mode=rwc", dir.path().join("crm.db").display());
        let events = format!("sqlite://{}?mode=rwc", dir.path().join("events.db").display());
        let f = Fixture { dir, crm, events, postgres: None };
        f.exec("crm", &std::fs::read_to_string(examples().join("crm/sql/crm.sqlite.sql")).unwrap()).await;
        f.exec("events", &std::fs::read_to_string(examples().join("crm/sql/events.sqlite.sql")).unwrap()).await;
        f.populate(people).await;
        f.write_config();
        f
    }

    pub async fn postgres(people: usize) -> Option<Fixture> {
        let Ok(admin) = std::env::var(PG_URL) else {
            eprintln!("note: skipping the PostgreSQL run: set {PG_URL}");
            return None;
        };
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let names =
            vec![format!("dsr_crm_{}_{n}", std::process::id()), format!("dsr_events_{}_{n}", std::process::id())];
        let mut c = PgConnection::connect(&admin).await.unwrap();
        for name in &names {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.unwrap();
        }
        c.close().await.unwrap();
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
            crm: with_database(&admin, &names[0]),
            events: with_database(&admin, &names[1]),
            postgres: Some((admin, names)),
        };
        f.exec("crm", &std::fs::read_to_string(examples().join("crm/sql/crm.postgres.sql")).unwrap()).await;
        f.exec("events", &std::fs::read_to_string(examples().join("crm/sql/events.postgres.sql")).unwrap()).await;
        f.populate(people).await;
        f.write_config();
        Some(f)
    }

    pub async fn drop_db(self) {
        if let Some((admin, names)) = &self.postgres {
            let mut c = PgConnection::connect(admin).await.unwrap();
            for name in names {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
    }

    fn url(&self, db: &str) -> &str {
        if db == "crm" { &self.crm } else { &self.events }
    }

    pub async fn exec(&self, db: &str, sql: &str) {
        let url = self.url(db);
        if url.starts_with("sqlite") {
            let mut c = SqliteConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
        } else {
            let mut c = PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
        }
    }

    /// People 1..=n with rows in every table. Person 1 (Ada) also writes a comment on a
    /// customer's card, is assigned person 2's ticket and invited person 3's teammate: rows
    /// that mention her. Person 4 appears only in three tables (users, payments,
    /// marketing_preferences) by email.
    async fn populate(&self, n: usize) {
        let mut crm = String::from(
            "INSERT INTO accounts VALUES (1, 'Acme', 'pro', '2024-01-01T00:00:00Z'), (2, 'Beta', 'free', '2024-01-01T00:00:00Z');\n",
        );
        let mut events = String::new();
        for i in 1..=n {
            crm += &format!(
                "INSERT INTO users VALUES ({i}, {}, 'u_{i}', '{}', 'Person {i}', '+35840{i:07}', 'hash{i}', 'Europe/Helsinki', '2024-01-01T00:00:00Z', NULL, NULL);\n",
                1 + i % 2,
                email(i)
            );
        }
        for i in 1..=n {
            let e = email(i);
            let acct = 1 + i % 2;
            crm += &format!(
                "INSERT INTO payments VALUES ({i}, {i}, '{e}', 'Holder {i}', 'Street {i}', '{:04}', {}, 'EUR', '2024-02-01T00:00:00Z');\n",
                1000 + i,
                100 * i
            );
            crm += &format!("INSERT INTO marketing_preferences VALUES ('{e}', TRUE, FALSE, '2024-03-01T00:00:00Z');\n");
            if i == 4 {
                continue;
            }
            let assignee = if i == 2 { 1 } else { i % n + 1 };
            crm += &format!(
                "INSERT INTO tickets VALUES ({i}, {i}, {assignee}, 'Subject {i}', 'Body {i}', 'open', '2024-04-01T00:00:00Z');\n"
            );
            crm += &format!(
                "INSERT INTO ai_messages VALUES ({i}, {i}, 'conv{i}', 'user', 'Hello from {i}', '2024-05-01T00:00:00Z');\n"
            );
            crm += &format!(
                "INSERT INTO invitations VALUES ({i}, {acct}, {}, 'teammate{i}@example.com', '2024-06-01T00:00:00Z');\n",
                if i == 3 { 1 } else { i }
            );
            crm += &format!(
                "INSERT INTO contacts VALUES ({i}, {acct}, '{e}', NULL, 'First{i}', 'Last{i}', NULL, NULL, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z');\n"
            );
            crm += &format!(
                "INSERT INTO client_cards VALUES ({i}, {i}, 'Card {i}', 'Notes {i}', '2024-01-02T00:00:00Z');\n"
            );
            crm += &format!(
                "INSERT INTO comments VALUES ({i}, {i}, {}, 'Comment {i}', '2024-01-03T00:00:00Z');\n",
                if i == 2 { 1 } else { i }
            );
            for k in 0..2 {
                events += &format!(
                    "INSERT INTO email_events VALUES ({}, '{e}', 'spring', 'open', '10.0.{i}.{k}', 'Agent', '2024-07-01T00:00:00Z');\n",
                    i * 10 + k
                );
                events += &format!(
                    "INSERT INTO login_events VALUES ({}, 'u_{i}', '10.1.{i}.{k}', 'Agent', '2024-07-02T00:00:00Z');\n",
                    i * 10 + k
                );
            }
        }
        self.exec("crm", &crm).await;
        self.exec("events", &events).await;
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("covenant.toml")
    }

    fn write_config(&self) {
        let e = examples();
        self.write_config_with(&e.join("crm/crm.dataset.toml"), &e.join("crm/events.dataset.toml"));
    }

    /// Points the configuration at other annotations of the two databases, written to files in
    /// the fixture's directory.
    pub fn use_annotations(&self, crm: &str, events: &str) {
        let (c, e) = (self.dir.path().join("crm.dataset.toml"), self.dir.path().join("events.dataset.toml"));
        std::fs::write(&c, crm).unwrap();
        std::fs::write(&e, events).unwrap();
        self.write_config_with(&c, &e);
    }

    fn write_config_with(&self, crm: &Path, events: &Path) {
        let e = examples();
        let text = format!(
            "policy = \"{}\"\ntenant = \"demo\"\n[store]\nurl = \"sqlite://{}?mode=rwc\"\n\n\
             [[datasets]]\nannotations = \"{}\"\nurl = \"{}\"\nmax_connections = 2\n\n\
             [[datasets]]\nannotations = \"{}\"\nurl = \"{}\"\n\n[secrets]\npseudonym_key_file = \"pseudonym.key\"\n",
            e.join("okitoki/policy.toml").display(),
            self.dir.path().join("covenant.db").display(),
            crm.display(),
            self.crm.replace("?mode=rwc", ""),
            events.display(),
            self.events.replace("?mode=rwc", ""),
        );
        std::fs::write(self.config_path(), text).unwrap();
    }

    pub fn config(&self) -> Config {
        Config::load(&self.config_path()).unwrap()
    }

    pub async fn executor(&self) -> Executor<SqlStore> {
        let config = self.config();
        let store = SqlStore::connect(&config.store_url).await.unwrap();
        store.migrate().await.unwrap();
        Executor::open(&config, Arc::new(store)).await.unwrap()
    }

    /// Every row of every table, as text, sorted: table → rows.
    pub async fn dump(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for (db, tables) in [
            (
                "crm",
                &[
                    "accounts",
                    "users",
                    "contacts",
                    "client_cards",
                    "comments",
                    "tickets",
                    "payments",
                    "ai_messages",
                    "invitations",
                    "marketing_preferences",
                ][..],
            ),
            ("events", &["email_events", "login_events"][..]),
        ] {
            let url = self.url(db);
            for t in tables {
                let rows: Vec<String> = if url.starts_with("sqlite") {
                    let mut c = SqliteConnection::connect(url).await.unwrap();
                    let cols: Vec<String> =
                        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{t}')")))
                            .fetch_all(&mut c)
                            .await
                            .unwrap()
                            .iter()
                            .map(|r| r.get::<String, _>(0))
                            .collect();
                    let expr = cols.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || '|' || ");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {expr} FROM {t}")))
                        .fetch_all(&mut c)
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| r.get::<String, _>(0))
                        .collect();
                    c.close().await.unwrap();
                    rows
                } else {
                    let mut c = PgConnection::connect(url).await.unwrap();
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT x::text FROM {t} x")))
                        .fetch_all(&mut c)
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| r.get::<String, _>(0))
                        .collect();
                    c.close().await.unwrap();
                    rows
                };
                let mut rows = rows;
                rows.sort();
                out.insert((*t).to_owned(), rows);
            }
        }
        out
    }
}
