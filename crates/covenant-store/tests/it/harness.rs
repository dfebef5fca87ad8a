//! Fresh databases for the conformance cases: a temporary SQLite file per case, and a fresh
//! PostgreSQL database per case (created from `COVENANT_TEST_POSTGRES_URL`, dropped afterwards).

use std::future::Future;
use std::sync::Arc;

use covenant_store::{SqlStore, Store};
use sqlx::{Connection, PgConnection, SqliteConnection};

pub const PG_URL: &str = "COVENANT_TEST_POSTGRES_URL";
pub const PG_REQUIRED: &str = "COVENANT_REQUIRE_POSTGRES";

pub enum Kind {
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
    /// `sqlite::memory:`: nothing but the store can reach it.
    SqliteMemory,
    Postgres {
        admin_url: String,
        url: String,
        name: String,
    },
}

/// One fresh, migrated database and a store on it.
pub struct Db {
    pub store: SqlStore,
    pub kind: Kind,
}

impl Db {
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("covenant.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        Db { store, kind: Kind::Sqlite { url, _dir: dir } }
    }

    pub async fn sqlite_memory() -> Db {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        Db { store, kind: Kind::SqliteMemory }
    }

    /// `None` (after printing why) when no PostgreSQL is configured and none is required.
    pub async fn postgres(case: &str) -> Option<Db> {
        let Ok(admin_url) = std::env::var(PG_URL) else {
            if std::env::var(PG_REQUIRED).is_ok_and(|v| v == "1") {
                panic!("{PG_REQUIRED}=1 but {PG_URL} is not set");
            }
            eprintln!("note: skipping the PostgreSQL run of `{case}`: set {PG_URL} (scripts/test does)");
            return None;
        };
        let name = format!("covenant_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
        admin.close().await.unwrap();
        let url = with_database(&admin_url, &name);
        let store = SqlStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        Some(Db { store, kind: Kind::Postgres { admin_url, url, name } })
    }

    /// Another store on the same database, as another process would open it.
    pub async fn open_again(&self) -> SqlStore {
        let url = match &self.kind {
            Kind::Sqlite { url, .. } | Kind::Postgres { url, .. } => url,
            Kind::SqliteMemory => panic!("an in-memory database cannot be opened again"),
        };
        SqlStore::connect(url).await.unwrap()
    }

    /// Runs raw SQL on the database, behind the store's back (as someone with database access
    /// could), with the append-only triggers out of the way.
    pub async fn tamper(&self, sql: &str) {
        match &self.kind {
            Kind::Sqlite { url, .. } => {
                let mut c = SqliteConnection::connect(url).await.unwrap();
                let script = format!(
                    "DROP TRIGGER IF EXISTS audit_entries_no_update; DROP TRIGGER IF EXISTS audit_entries_no_delete; {sql}"
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(script)).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            Kind::Postgres { url, .. } => {
                let mut c = PgConnection::connect(url).await.unwrap();
                let script = format!(
                    "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only; {sql}; \
                     ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(script)).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            Kind::SqliteMemory => panic!("an in-memory database cannot be reached behind the store's back"),
        }
    }

    /// Runs raw SQL as is and returns its error, if any.
    pub async fn raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        match &self.kind {
            Kind::Sqlite { url, .. } => {
                let mut c = SqliteConnection::connect(url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.map(|_| ())
            }
            Kind::Postgres { url, .. } => {
                let mut c = PgConnection::connect(url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.map(|_| ())
            }
            Kind::SqliteMemory => panic!("an in-memory database cannot be reached behind the store's back"),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.kind, Kind::Postgres { .. })
    }

    async fn finish(&self) {
        self.store.close().await;
        if let Kind::Postgres { admin_url, name, .. } = &self.kind {
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

/// Runs a case on a database and cleans the database up even if the case panics.
pub async fn run<F, Fut>(db: Db, case: F)
where
    F: FnOnce(Arc<Db>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = Arc::new(db);
    let result = tokio::spawn(case(db.clone())).await;
    db.finish().await;
    match result {
        Ok(()) => {}
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("the case did not finish: {e}"),
    }
}

#[test]
fn database_names_are_replaced_in_urls() {
    assert_eq!(with_database("postgres://u@h:5/postgres", "x"), "postgres://u@h:5/x");
    assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
    assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
}
