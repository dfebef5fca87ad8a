mod bench_dsr;
mod bench_worker;
mod dsr_batch;
mod dsr_kill;

/// The one number `sql` selects from the demo folder `dir`'s CRM database.
pub async fn count_in_crm(dir: &std::path::Path, sql: &str) -> i64 {
    use sqlx::Connection as _;
    let url = format!("sqlite://{}", dir.join("crm.db").display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let n: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&mut c).await.unwrap();
    n.0
}

/// `url` (a PostgreSQL server's) with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    match query {
        Some(q) => format!("{}/{name}?{q}", &base[..host_end]),
        None => format!("{}/{name}", &base[..host_end]),
    }
}

/// The test PostgreSQL server's URL, from `COVENANT_TEST_POSTGRES_URL`.
const PG_URL: &str = "COVENANT_TEST_POSTGRES_URL";

/// A fresh, empty database named after `prefix` on the test PostgreSQL server: `(admin URL,
/// database name)`, or `None` (with a note) when no server is given.
pub async fn pg_database(prefix: &str) -> Option<(String, String)> {
    use sqlx::Connection as _;
    let Ok(admin) = std::env::var(PG_URL) else {
        eprintln!("note: skipping the PostgreSQL run: set {PG_URL}");
        return None;
    };
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{prefix}_{}_{n}", std::process::id());
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.unwrap();
    c.close().await.unwrap();
    Some((admin, name))
}

/// Drops a database [`pg_database`] made.
pub async fn drop_pg_database(admin: &str, name: &str) {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
}
