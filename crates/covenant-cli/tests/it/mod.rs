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
