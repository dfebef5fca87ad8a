//! Writes the demo application into two SQLite files, `crm.db` and `events.db`, one thread each.
//! Each file is built under a temporary name and renamed when complete, so a file with the
//! final name is always whole.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rusqlite::Connection;
use rusqlite::types::Null;

use crate::model::Model;
use crate::tables::{Database, Value, generate, units};
use crate::time::rfc3339;
use crate::{Error, Options, Summary, TableCount, multi_progress, split_schema, table_bar};

/// Writes `DIR/crm.db` and `DIR/events.db`. Existing files are an error unless `replace`.
pub fn write_sqlite(dir: &Path, opts: &Options, replace: bool) -> Result<Summary, Error> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    for db in Database::ALL {
        let path = dir.join(db.file_name());
        if path.exists() && !replace {
            return Err(Error::Exists { path });
        }
    }
    let model = Arc::new(Model::build(opts.contacts, opts.seed, opts.until));
    let multi = multi_progress(opts.progress);
    let results: Vec<Result<Vec<TableCount>, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = Database::ALL
            .into_iter()
            .map(|db| {
                let model = Arc::clone(&model);
                let multi = &multi;
                s.spawn(move || write_database(dir, db, &model, multi))
            })
            .collect();
        handles
            .into_iter()
            .zip(Database::ALL)
            .map(|(h, db)| {
                h.join().unwrap_or(Err(Error::Generator { table: db.tables().next().map_or("", |t| t.name) }))
            })
            .collect()
    });
    let mut tables = Vec::new();
    for r in results {
        tables.extend(r?);
    }
    tables.sort_by_key(|t| crate::TABLES.iter().position(|d| d.name == t.table));
    let files = Database::ALL.iter().map(|db| dir.join(db.file_name())).collect();
    Ok(Summary { tables, elapsed: started.elapsed(), files })
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io { path: path.to_path_buf(), source }),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn write_database(
    dir: &Path,
    db: Database,
    model: &Model,
    multi: &indicatif::MultiProgress,
) -> Result<Vec<TableCount>, Error> {
    let target = dir.join(db.file_name());
    let partial = dir.join(format!(".{}.partial", db.file_name()));
    for p in [&partial, &with_suffix(&partial, "-wal"), &with_suffix(&partial, "-shm")] {
        remove_if_present(p)?;
    }
    let fail = |what: &str| {
        let path = target.clone();
        let what = what.to_owned();
        move |source| Error::Sqlite { path, what, source }
    };
    let mut conn = Connection::open(&partial).map_err(fail("opening the file"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -131072; PRAGMA temp_store = MEMORY; \
         PRAGMA threads = 2;",
    )
    .map_err(fail("setting up the connection"))?;
    let (creates, indexes) = split_schema(db.sqlite_schema());
    for stmt in &creates {
        conn.execute_batch(stmt).map_err(fail("creating the tables"))?;
    }
    let mut counts = Vec::new();
    for def in db.tables() {
        let what = format!("writing table `{}`", def.name);
        let bar = table_bar(multi, db, def.name, units(def.name, model));
        let tx = conn.transaction().map_err(fail(&what))?;
        let rows = {
            let placeholders = vec!["?"; def.columns.len()].join(", ");
            let sql = format!(
                "INSERT INTO \"{}\" ({}) VALUES ({placeholders})",
                def.name,
                def.columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
            );
            let mut stmt = tx.prepare(&sql).map_err(fail(&what))?;
            let mut rows = 0u64;
            let mut buf = [0u8; 20];
            let mut sink = |values: &[Value<'_>]| -> Result<(), rusqlite::Error> {
                for (i, v) in values.iter().enumerate() {
                    let i = i + 1;
                    match *v {
                        Value::Null => stmt.raw_bind_parameter(i, Null)?,
                        Value::Int(n) => stmt.raw_bind_parameter(i, n)?,
                        Value::Bool(b) => stmt.raw_bind_parameter(i, i64::from(b))?,
                        Value::Text(s) => stmt.raw_bind_parameter(i, s)?,
                        Value::Time(t) => stmt.raw_bind_parameter(i, rfc3339(t, &mut buf))?,
                    }
                }
                stmt.raw_execute()?;
                rows += 1;
                Ok(())
            };
            generate(def.name, model, &mut sink, &mut |n| bar.inc(n)).map_err(fail(&what))?;
            rows
        };
        tx.commit().map_err(fail(&what))?;
        bar.finish_with_message(format!("{rows} rows"));
        counts.push(TableCount { database: db, table: def.name, rows });
    }
    for stmt in &indexes {
        conn.execute_batch(stmt).map_err(fail("creating the indexes"))?;
    }
    // Statistics from a sample of each index: as good for the planner, and seconds faster.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA analysis_limit = 1000; ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .map_err(fail("analysing the tables"))?;
    conn.close().map_err(|(_, e)| fail("closing the file")(e))?;
    remove_if_present(&with_suffix(&target, "-wal"))?;
    remove_if_present(&with_suffix(&target, "-shm"))?;
    std::fs::rename(&partial, &target).map_err(|source| Error::Io { path: target.clone(), source })?;
    Ok(counts)
}
