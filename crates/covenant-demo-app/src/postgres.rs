//! Loads the demo application into one PostgreSQL database: the `crm` and `events` tables side
//! by side in the connection's current schema (their names do not collide), so both dataset
//! annotations point at the same URL. Rows go in with `COPY … FROM STDIN`, generated on a
//! blocking thread while the previous chunk is sent; everything happens in one transaction,
//! indexes are built after the rows, then every table is analysed.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use sqlx::{Connection, PgConnection};
use tokio::sync::mpsc;

use crate::model::Model;
use crate::tables::{Database, TABLES, Value, generate, units};
use crate::time::rfc3339;
use crate::{Error, Options, Summary, TableCount, multi_progress, split_schema, table_bar};

/// How much COPY text is sent at a time.
const CHUNK: usize = 1 << 20;

fn pg(what: &str) -> impl FnOnce(sqlx::Error) -> Error + '_ {
    move |source| Error::Postgres { what: what.to_owned(), source }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Loads the demo application into the database at `url`. A database that already has any of
/// the tables is refused unless `replace`, which drops them first.
pub async fn write_postgres(url: &str, opts: &Options, replace: bool) -> Result<Summary, Error> {
    let started = Instant::now();
    let mut conn = PgConnection::connect(url).await.map_err(pg("connecting"))?;
    let names: Vec<String> = TABLES.iter().map(|t| t.name.to_owned()).collect();
    let existing: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = ANY($1) ORDER BY table_name",
    )
    .bind(&names)
    .fetch_all(&mut conn)
    .await
    .map_err(pg("looking for existing tables"))?;
    if !existing.is_empty() && !replace {
        let tables = existing.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
        return Err(Error::TablesExist { tables });
    }

    let (contacts, seed, until) = (opts.contacts, opts.seed, opts.until);
    let model = tokio::task::spawn_blocking(move || Model::build(contacts, seed, until))
        .await
        .map_err(|_| Error::Generator { table: "accounts" })?;
    let model = Arc::new(model);
    let multi = multi_progress(opts.progress);

    let mut tx = conn.begin().await.map_err(pg("starting the transaction"))?;
    for t in TABLES.iter().rev() {
        if existing.iter().any(|e| e == t.name) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {} CASCADE", quote(t.name))))
                .execute(&mut *tx)
                .await
                .map_err(pg("dropping the old tables"))?;
        }
    }
    sqlx::raw_sql("SET LOCAL maintenance_work_mem = '256MB'; SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await
        .map_err(pg("setting up the session"))?;
    let (mut all_indexes, mut all_foreign_keys) = (Vec::new(), Vec::new());
    for db in Database::ALL {
        let (creates, indexes) = split_schema(db.postgres_schema());
        for stmt in creates {
            let (create, foreign_keys) = defer_foreign_keys(&stmt);
            sqlx::raw_sql(sqlx::AssertSqlSafe(create)).execute(&mut *tx).await.map_err(pg("creating the tables"))?;
            all_foreign_keys.extend(foreign_keys);
        }
        all_indexes.extend(indexes);
    }
    let mut counts = Vec::new();
    for def in TABLES {
        let what = format!("loading table `{}`", def.name);
        let bar = table_bar(&multi, def.database, def.name, units(def.name, &model));
        let columns = def.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
        let statement = format!("COPY {} ({columns}) FROM STDIN (FORMAT text)", quote(def.name));
        let mut copy = tx.copy_in_raw(&statement).await.map_err(pg(&what))?;
        let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(4);
        let producer = {
            let model = Arc::clone(&model);
            let bar = bar.clone();
            let name = def.name;
            tokio::task::spawn_blocking(move || produce(name, &model, &sender, &bar))
        };
        let mut send_error = None;
        while let Some(chunk) = receiver.recv().await {
            if let Err(e) = copy.send(chunk).await {
                send_error = Some(e);
                break;
            }
        }
        drop(receiver);
        let rows = producer.await.ok().flatten();
        if let Some(e) = send_error {
            let _ = copy.abort("the load failed").await;
            return Err(pg(&what)(e));
        }
        let Some(rows) = rows else {
            let _ = copy.abort("the generator stopped").await;
            return Err(Error::Generator { table: def.name });
        };
        copy.finish().await.map_err(pg(&what))?;
        bar.finish_with_message(format!("{rows} rows"));
        counts.push(TableCount { database: def.database, table: def.name, rows });
    }
    for stmt in all_indexes {
        sqlx::raw_sql(sqlx::AssertSqlSafe(stmt)).execute(&mut *tx).await.map_err(pg("creating the indexes"))?;
    }
    for stmt in all_foreign_keys {
        sqlx::raw_sql(sqlx::AssertSqlSafe(stmt)).execute(&mut *tx).await.map_err(pg("adding the foreign keys"))?;
    }
    tx.commit().await.map_err(pg("committing"))?;
    for t in TABLES {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ANALYZE {}", quote(t.name))))
            .execute(&mut conn)
            .await
            .map_err(pg("analysing the tables"))?;
    }
    conn.close().await.map_err(pg("closing the connection"))?;
    Ok(Summary { tables: counts, elapsed: started.elapsed(), files: Vec::new() })
}

/// Splits the inline `REFERENCES` clauses out of a `CREATE TABLE` statement into
/// `ALTER TABLE … ADD FOREIGN KEY` statements, to run once the rows are in: one check of every
/// row at once instead of a trigger per row. The constraints get the names inline ones get
/// (`comments_card_id_fkey`).
fn defer_foreign_keys(create: &str) -> (String, Vec<String>) {
    let table = create
        .strip_prefix("CREATE TABLE ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default()
        .trim_end_matches('(');
    let mut out = String::with_capacity(create.len());
    let mut alters = Vec::new();
    for line in create.lines() {
        match line.split_once(" REFERENCES ") {
            Some((column_part, reference)) if !table.is_empty() => {
                let column = column_part.split_whitespace().next().unwrap_or_default();
                let end = reference.find(')').map_or(reference.len(), |i| i + 1);
                let (target, rest) = reference.split_at(end);
                alters.push(format!("ALTER TABLE {table} ADD FOREIGN KEY ({column}) REFERENCES {}", target.trim()));
                out.push_str(column_part.trim_end());
                out.push_str(rest);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    (out, alters)
}

/// Generates a table's rows as COPY text, in chunks; `None` when the receiver went away.
fn produce(
    table: &'static str,
    model: &Model,
    sender: &mpsc::Sender<Vec<u8>>,
    bar: &indicatif::ProgressBar,
) -> Option<u64> {
    let mut buf = String::with_capacity(CHUNK + 4096);
    let mut rows = 0u64;
    let mut time = [0u8; 20];
    let mut sink = |values: &[Value<'_>]| -> Result<(), ()> {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                buf.push('\t');
            }
            match *v {
                Value::Null => buf.push_str("\\N"),
                Value::Int(n) => {
                    let _ = write!(buf, "{n}");
                }
                Value::Bool(b) => buf.push(if b { 't' } else { 'f' }),
                Value::Text(s) => escape_into(&mut buf, s),
                Value::Time(t) => buf.push_str(rfc3339(t, &mut time)),
            }
        }
        buf.push('\n');
        rows += 1;
        if buf.len() >= CHUNK {
            let chunk = std::mem::replace(&mut buf, String::with_capacity(CHUNK + 4096));
            sender.blocking_send(chunk.into_bytes()).map_err(|_| ())?;
        }
        Ok(())
    };
    generate(table, model, &mut sink, &mut |n| bar.inc(n)).ok()?;
    if !buf.is_empty() {
        sender.blocking_send(buf.into_bytes()).ok()?;
    }
    Some(rows)
}

/// COPY text format: backslash, tab, newline and carriage return are escaped.
fn escape_into(out: &mut String, s: &str) {
    if !s.contains(['\\', '\t', '\n', '\r']) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_keys_are_added_after_the_rows() {
        let mut alters = Vec::new();
        for db in Database::ALL {
            let (creates, _) = split_schema(db.postgres_schema());
            for stmt in &creates {
                let (create, fks) = defer_foreign_keys(stmt);
                assert!(!create.contains("REFERENCES"), "{create}");
                assert_eq!(fks.len(), stmt.matches(" REFERENCES ").count());
                assert_eq!(create.matches('(').count(), create.matches(')').count(), "{create}");
                alters.extend(fks);
            }
        }
        assert_eq!(alters.len(), 11);
        assert!(
            alters.contains(&"ALTER TABLE comments ADD FOREIGN KEY (author_user_id) REFERENCES users (id)".to_owned())
        );
        let (create, _) =
            defer_foreign_keys("CREATE TABLE t (\n    a BIGINT NOT NULL REFERENCES u (id),\n    b TEXT\n)");
        assert_eq!(create, "CREATE TABLE t (\n    a BIGINT NOT NULL,\n    b TEXT\n)\n");
    }

    #[test]
    fn copy_text_is_escaped() {
        let mut s = String::new();
        escape_into(&mut s, "a\tb\\c\nd");
        assert_eq!(s, "a\\tb\\\\c\\nd");
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
    }
}
