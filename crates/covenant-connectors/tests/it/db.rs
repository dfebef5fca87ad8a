//! Fresh databases for the cases: a temporary SQLite file, or a fresh PostgreSQL database made
//! from `COVENANT_TEST_POSTGRES_URL` and dropped afterwards.

use sqlx::{Connection, PgConnection, SqliteConnection};

pub const PG_URL: &str = "COVENANT_TEST_POSTGRES_URL";

pub enum TestDb {
    Sqlite { url: String, _dir: tempfile::TempDir },
    Postgres { admin: String, url: String, name: String },
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
        TestDb::Sqlite { url, _dir: dir }
    }

    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin) = std::env::var(PG_URL) else {
            eprintln!("note: skipping the PostgreSQL run: set {PG_URL}");
            return None;
        };
        let name = format!("conn_test_{}_{}", std::process::id(), next());
        let mut c = PgConnection::connect(&admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
        let url = with_database(&admin, &name);
        Some(TestDb::Postgres { admin, url, name })
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDb::Postgres { .. })
    }

    pub async fn exec(&self, sql: &str) {
        match self {
            TestDb::Sqlite { url, .. } => {
                let mut c = SqliteConnection::connect(url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            TestDb::Postgres { url, .. } => {
                let mut c = PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }

    pub async fn drop_db(self) {
        if let TestDb::Postgres { admin, name, .. } = &self {
            let mut c = PgConnection::connect(admin).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

fn next() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Replaces the database name in a PostgreSQL URL.
pub fn with_database(url: &str, name: &str) -> String {
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
