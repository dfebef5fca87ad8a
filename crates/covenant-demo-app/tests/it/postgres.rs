//! The same data in PostgreSQL (when `COVENANT_TEST_POSTGRES_URL` is set): row for row what
//! SQLite gets, Ada's rows, a refusal to overwrite, and the annotations against the schema.

use covenant_connectors::introspect::{introspect, missing_in_database};
use covenant_demo_app::{CRM_DATASET_TOML, Database, EVENTS_DATASET_TOML, Error, POLICY_TOML, TABLES};
use covenant_policy::Format;
use covenant_policy::dataset::load_dataset_str;
use sqlx::{Connection, PgConnection};

use super::{check_ada, dump_sqlite, generate, options};

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").unwrap();
    let host = rest.split('/').next().unwrap();
    match query {
        Some(q) => format!("{scheme}://{host}/{db}?{q}"),
        None => format!("{scheme}://{host}/{db}"),
    }
}

async fn exec(conn: &mut PgConnection, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(conn).await.unwrap();
}

/// The canonical dump of `dump_sqlite`, read from PostgreSQL.
async fn dump_postgres(conn: &mut PgConnection) -> Vec<String> {
    let mut lines = Vec::new();
    for t in TABLES {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| {
                if c.ends_with("_at") {
                    format!("to_char(\"{c}\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
                } else if matches!(*c, "newsletter" | "promotional") {
                    format!("(\"{c}\"::int)::text")
                } else {
                    format!("\"{c}\"::text")
                }
            })
            .collect();
        // Ordered by the column itself (qualified: the output column of that name is text).
        let collate = if t.columns[0] == "id" { "" } else { " COLLATE \"C\"" };
        let sql = format!(
            "SELECT {} FROM \"{}\" ORDER BY \"{}\".\"{}\"{collate}",
            cols.join(", "),
            t.name,
            t.name,
            t.columns[0]
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *conn).await.unwrap();
        for r in rows {
            let mut line = t.name.to_owned();
            for i in 0..t.columns.len() {
                line.push('|');
                let v: Option<String> = sqlx::Row::get(&r, i);
                line.push_str(&v.unwrap_or_else(|| "\\N".to_owned()));
            }
            lines.push(line);
        }
    }
    lines
}

#[test]
fn postgres_gets_the_same_rows_as_sqlite() {
    let Ok(base) = std::env::var("COVENANT_TEST_POSTGRES_URL") else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = generate(dir.path(), 2_500, 9);
    let expected = dump_sqlite(dir.path());
    rt.block_on(async {
        let name = format!("covenant_demo_app_{}", std::process::id());
        let mut admin = PgConnection::connect(&base).await.unwrap();
        exec(&mut admin, format!("DROP DATABASE IF EXISTS \"{name}\"")).await;
        exec(&mut admin, format!("CREATE DATABASE \"{name}\"")).await;
        let url = with_database(&base, &name);

        let summary = covenant_demo_app::write_postgres(&url, &options(2_500, 9), false).await.unwrap();
        assert_eq!(summary.tables, sqlite.tables);
        let mut conn = PgConnection::connect(&url).await.unwrap();
        let got = dump_postgres(&mut conn).await;
        assert_eq!(got.len(), expected.len());
        if let Some(i) = (0..got.len()).find(|&i| got[i] != expected[i]) {
            panic!("row {i} differs:\n  postgres: {}\n  sqlite:   {}", got[i], expected[i]);
        }

        let mut counts = Vec::new();
        for q in super::ada_queries() {
            let sql = q.rows.replace("{PID}", &covenant_demo_app::ada_public_id());
            counts.push((q.database, sql));
            if let Some(m) = q.mentions {
                counts.push((q.database, m));
            }
        }
        let mut results = std::collections::HashMap::new();
        for (_, sql) in &counts {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(&mut conn).await.unwrap();
            results.insert(sql.clone(), n);
        }
        check_ada(|_, sql| results[sql]);
        let analysed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(analysed, TABLES.len() as i64);

        // A second load is refused, and changes nothing, unless --replace.
        let e = covenant_demo_app::write_postgres(&url, &options(100, 1), false).await.unwrap_err();
        assert!(matches!(e, Error::TablesExist { .. }), "{e}");
        assert!(e.to_string().contains("`accounts`") && e.to_string().contains("--replace"), "{e}");
        let replaced = covenant_demo_app::write_postgres(&url, &options(100, 1), true).await.unwrap();
        assert_eq!(replaced.rows("contacts"), Some(100));
        let contacts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts").fetch_one(&mut conn).await.unwrap();
        assert_eq!(contacts, 100);

        // Both annotation files describe the one database.
        let policy = covenant_policy::load_str("policy.toml", POLICY_TOML, Format::Toml).unwrap();
        let schema = introspect(&url).await.unwrap();
        // The foreign keys added after the rows are those the schema files declare inline.
        for t in &schema.tables {
            let sql = if t.name.ends_with("_events") {
                covenant_demo_app::EVENTS_POSTGRES_SQL
            } else {
                covenant_demo_app::CRM_POSTGRES_SQL
            };
            let start = sql.find(&format!("CREATE TABLE {} (", t.name)).unwrap();
            let body = &sql[start..start + sql[start..].find(");").unwrap()];
            let declared: Vec<String> = body
                .lines()
                .filter(|l| l.contains(" REFERENCES "))
                .map(|l| l.split_whitespace().next().unwrap().to_owned())
                .collect();
            let found: Vec<String> = t.foreign_keys.iter().map(|f| f.columns.join(",")).collect();
            assert_eq!(found, declared, "{}", t.name);
        }
        for (db, text) in [(Database::Crm, CRM_DATASET_TOML), (Database::Events, EVENTS_DATASET_TOML)] {
            let dataset = load_dataset_str(db.name(), text, Format::Toml, &policy).unwrap();
            assert_eq!(missing_in_database(&dataset, &schema), vec![]);
        }

        conn.close().await.unwrap();
        exec(&mut admin, format!("DROP DATABASE \"{name}\"")).await;
        admin.close().await.unwrap();
    });
}
