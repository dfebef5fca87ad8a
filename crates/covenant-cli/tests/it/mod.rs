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
