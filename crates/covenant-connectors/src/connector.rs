//! A connection pool to one application database (SQLite or PostgreSQL), and the few operations
//! data-subject requests need: fetch rows whose columns match a set of values, read rows back by
//! primary key, and apply a list of writes in one transaction.
//!
//! SQL is built here and only here. Identifiers are always quoted (and schema-qualified when the
//! annotations name a schema); values are always bound, never written into the SQL text.
//! Statements are shaped so that they repeat: `IN` lists are padded to a few fixed sizes (1, 2,
//! 4, … 512 values) on SQLite, and PostgreSQL takes a whole list as one array parameter
//! (`= ANY($1)`), so sqlx's per-connection cache of prepared statements serves most of them.
//!
//! On PostgreSQL every value is bound as text and cast to the column's own type
//! (`CAST($1 AS bigint)`), which the database does exactly; column types are read once per table
//! from the catalogue. Columns of types that have no direct Rust form (timestamps, numerics,
//! UUIDs, …) are read through their text form.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo, ValueRef};

use crate::value::Value;

/// The most values one SQLite statement binds for a list; larger lists are split.
pub const CHUNK: usize = 512;
/// The most values one PostgreSQL array parameter carries; larger lists are split.
pub const PG_CHUNK: usize = 10_000;

/// Why an operation on an application database failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("unsupported database address `{0}`; use `sqlite://PATH` or `postgres://USER@HOST/DATABASE`")]
    Url(String),
    #[error("cannot connect to `{url}`: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("table `{0}` does not exist in the database; check the annotations' `name` and `schema`")]
    UnknownTable(String),
    #[error("column `{column}` does not exist in table `{table}`; check the annotations")]
    UnknownColumn { table: String, column: String },
    #[error("database error while {context} `{table}`: {source}")]
    Query {
        context: &'static str,
        table: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{0} values were given for {1} columns")]
    Arity(usize, usize),
    #[error("a write stopped before it finished ({0}); nothing of it was committed")]
    Interrupted(String),
}

/// A table, optionally in a schema (PostgreSQL) or attached database (SQLite).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub name: String,
}

impl TableRef {
    pub fn new(schema: Option<&str>, name: &str) -> TableRef {
        TableRef { schema: schema.map(str::to_owned), name: name.to_owned() }
    }

    /// `"schema"."name"`, quoted.
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&self.name)),
            None => quote(&self.name),
        }
    }
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Quotes an identifier: `"name"`, with inner quotes doubled. Works on both databases.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// How a lookup compares a column with the values it looks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matching {
    /// The column's own equality: `"email" IN (…)` (SQLite), `"email" = $1` (PostgreSQL).
    #[default]
    Exact,
    /// Equal but for letter case: `"email" COLLATE NOCASE IN (…)` on SQLite (ASCII letters, as
    /// SQLite's `NOCASE` folds them; an index on `(email COLLATE NOCASE)` serves it), and
    /// `lower("email") = lower($1)` on PostgreSQL (the database's own case mapping; an index on
    /// `(lower(email))` serves it).
    CaseInsensitive,
}

/// One write, addressed by key: the rows whose `key_columns` hold one of `keys`. The key
/// columns are the table's primary key, or, for mentions cut by reference, the columns of the
/// reference (every row referencing the person's keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum WriteOp {
    /// Set the same values on every listed row.
    Update { table: TableRef, key_columns: Vec<String>, keys: Vec<Vec<Value>>, set: Vec<(String, Value)> },
    /// Delete every listed row.
    Delete { table: TableRef, key_columns: Vec<String>, keys: Vec<Vec<Value>> },
}

impl WriteOp {
    pub fn table(&self) -> &TableRef {
        match self {
            WriteOp::Update { table, .. } | WriteOp::Delete { table, .. } => table,
        }
    }

    pub fn key_columns(&self) -> &[String] {
        match self {
            WriteOp::Update { key_columns, .. } | WriteOp::Delete { key_columns, .. } => key_columns,
        }
    }

    pub fn keys(&self) -> &[Vec<Value>] {
        match self {
            WriteOp::Update { keys, .. } | WriteOp::Delete { keys, .. } => keys,
        }
    }

    /// The number of rows the operation addresses.
    pub fn rows(&self) -> usize {
        self.keys().len()
    }

    /// The same operation on other rows.
    pub fn with_keys(&self, keys: Vec<Vec<Value>>) -> WriteOp {
        match self {
            WriteOp::Update { table, key_columns, set, .. } => {
                WriteOp::Update { table: table.clone(), key_columns: key_columns.clone(), keys, set: set.clone() }
            }
            WriteOp::Delete { table, key_columns, .. } => {
                WriteOp::Delete { table: table.clone(), key_columns: key_columns.clone(), keys }
            }
        }
    }
}

/// Which database a connector talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Settings of a connector.
#[derive(Clone, Debug)]
pub struct ConnectorOptions {
    /// The pool's bound: at most this many connections to the database.
    pub max_connections: u32,
    /// How long a SQLite write waits for another writer's lock.
    pub busy_timeout: Duration,
    /// SQLite: each connection's page cache, in MiB (SQLite's own default is 2 MiB, which
    /// makes a large database re-read the same index pages from the file for every lookup).
    pub sqlite_cache_mib: u32,
}

impl Default for ConnectorOptions {
    fn default() -> ConnectorOptions {
        ConnectorOptions { max_connections: 4, busy_timeout: Duration::from_secs(10), sqlite_cache_mib: 64 }
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How a PostgreSQL column is read and written.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PgKind {
    I16,
    I32,
    I64,
    F32,
    F64,
    Bool,
    Bytes,
    Text,
    /// Read through `::text` as a timestamp.
    Time,
    /// Read through `::text` as text.
    Other,
}

#[derive(Clone, Debug)]
struct PgColumn {
    /// The type as `format_type` prints it, for casts: `bigint`, `timestamp with time zone`.
    sql_type: String,
    kind: PgKind,
}

/// Columns of a table as the database has them.
#[derive(Debug, Default)]
struct TableInfo {
    /// PostgreSQL: name → type. SQLite: name → declared type (unused but for existence).
    pg: HashMap<String, PgColumn>,
    sqlite: HashMap<String, String>,
}

/// A bounded pool of connections to one application database.
#[derive(Clone)]
pub struct Connector {
    /// Lookups' connections.
    pool: Pool,
    /// Writes' connections, apart from the lookups': a batch looks up its next chunk of people
    /// while one is written, and those lookups never keep the write waiting for a connection.
    /// One connection on SQLite (one writer at a time), as many as `pool` on PostgreSQL.
    writer: Pool,
    tables: Arc<RwLock<HashMap<TableRef, Arc<TableInfo>>>>,
    /// SQLite takes one writer at a time; writers of this process queue here, as long as it
    /// takes, instead of sleeping in SQLite's busy handler or giving up at the writes' pool's
    /// acquire timeout.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    /// A checkpoint of the SQLite write-ahead log is under way (see `checkpoint_soon`).
    checkpointing: Arc<std::sync::atomic::AtomicBool>,
    /// Rows SQLite writes changed since the last checkpoint began.
    unchecked_rows: Arc<std::sync::atomic::AtomicU64>,
}

/// The rows of a SQLite statement buffered for the task reading them: more than a write
/// statement returns (its keys, at most [`CHUNK`]).
const ROW_BUFFER: usize = 2 * CHUNK;

/// Rows changed by SQLite writes after which their log is checkpointed: SQLite's automatic
/// checkpoint starts at 1,000 pages of log, and a changed row is at least one page.
const CHECKPOINT_ROWS: u64 = 1000;

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

/// The address with any password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn query_err<'a>(context: &'static str, table: &'a TableRef) -> impl FnOnce(sqlx::Error) -> ConnectorError + 'a {
    move |source| ConnectorError::Query { context, table: table.to_string(), source }
}

/// The list sizes SQLite statements are prepared for: the smallest power of two that holds `n`.
fn bucket(n: usize) -> usize {
    n.next_power_of_two().min(CHUNK)
}

impl Connector {
    /// Opens a pool: `sqlite://PATH` (the file must exist; `?mode=rwc` creates it) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE`. Connections are opened lazily.
    pub async fn connect(url: &str, options: &ConnectorOptions) -> Result<Connector, ConnectorError> {
        let max = options.max_connections.max(1);
        let (pool, writer) = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|_| ConnectorError::Url(redact(url)))?
                .busy_timeout(options.busy_timeout)
                .foreign_keys(true)
                .pragma("cache_size", format!("-{}", u64::from(options.sqlite_cache_mib.max(1)) * 1024))
                // Statement journals (the pages a statement of a longer transaction changes,
                // kept to undo that statement alone) and sorting space in memory: a batch's
                // statements change thousands of rows, whose journal SQLite would otherwise
                // write to temporary files. This connection's setting only.
                .pragma("temp_store", "memory")
                // A statement's rows wait in a buffer this long for the task reading them
                // (sqlx's default is 50): the connection's thread goes on with the statement
                // instead of waiting for that task to be polled every 50 rows. A write returns
                // at most a statement's keys (`CHUNK`); the one writer never waits for them.
                .row_buffer_size(ROW_BUFFER);
            let open = |max: u32, o: SqliteConnectOptions| {
                SqlitePoolOptions::new()
                    .max_connections(max)
                    .min_connections(0)
                    .test_before_acquire(false)
                    .connect_with(o)
            };
            let connect = |source| ConnectorError::Connect { url: redact(url), source };
            // SQLite has one writer: writes take the one connection of their own pool. Its
            // commits leave the write-ahead log to be copied back into the database by a
            // checkpoint of their own, off the write's path (see `checkpoint_soon`), instead
            // of the commit that fills the log copying it (SQLite's automatic checkpoint).
            let writes = opts.clone().pragma("wal_autocheckpoint", "0");
            (
                Pool::Sqlite(open(max, opts).await.map_err(connect)?),
                Pool::Sqlite(open(1, writes).await.map_err(connect)?),
            )
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).map_err(|_| ConnectorError::Url(redact(url)))?;
            let open = || {
                PgPoolOptions::new()
                    .max_connections(max)
                    .min_connections(0)
                    .test_before_acquire(false)
                    .connect_with(opts.clone())
            };
            let connect = |source| ConnectorError::Connect { url: redact(url), source };
            (Pool::Postgres(open().await.map_err(connect)?), Pool::Postgres(open().await.map_err(connect)?))
        } else {
            return Err(ConnectorError::Url(redact(url)));
        };
        Ok(Connector {
            pool,
            writer,
            tables: Arc::default(),
            write_lock: Arc::default(),
            checkpointing: Arc::default(),
            unchecked_rows: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        for pool in [&self.pool, &self.writer] {
            match pool {
                Pool::Sqlite(p) => p.close().await,
                Pool::Postgres(p) => p.close().await,
            }
        }
    }

    /// After a SQLite write that changed `rows` rows committed: once the writes since the last
    /// checkpoint changed [`CHECKPOINT_ROWS`] rows, copies the write-ahead log back into the
    /// database file on a lookup connection in the background (a passive checkpoint: it waits
    /// for no reader or writer, and the next writes go on meanwhile), unless one is already
    /// under way. The writes' own connection does not checkpoint, so a commit costs writing and
    /// syncing the log only; for a batch changing thousands of scattered rows the copy is as
    /// long again. The log is synced before the commit returns, so this changes nothing a crash
    /// could lose; a database not in WAL mode has nothing to checkpoint.
    fn checkpoint_soon(&self, rows: u64) {
        use std::sync::atomic::Ordering;
        let Pool::Sqlite(pool) = &self.pool else { return };
        if self.unchecked_rows.fetch_add(rows, Ordering::AcqRel).saturating_add(rows) < CHECKPOINT_ROWS
            || self.checkpointing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.unchecked_rows.store(0, Ordering::Release);
        let (pool, busy) = (pool.clone(), self.checkpointing.clone());
        tokio::spawn(async move {
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                tracing::debug!(error = %e, "a checkpoint of an application database failed; the next write retries");
            }
            busy.store(false, Ordering::Release);
        });
    }

    // -----------------------------------------------------------------------------------------
    // The schema

    fn cached_info(&self, table: &TableRef) -> Option<Arc<TableInfo>> {
        self.tables.read().unwrap_or_else(|p| p.into_inner()).get(table).cloned()
    }

    fn remember_info(&self, table: &TableRef, info: TableInfo) -> Arc<TableInfo> {
        let info = Arc::new(info);
        self.tables.write().unwrap_or_else(|p| p.into_inner()).insert(table.clone(), info.clone());
        info
    }

    async fn table_info(&self, table: &TableRef) -> Result<Arc<TableInfo>, ConnectorError> {
        self.table_info_via(&self.pool, table).await
    }

    /// [`Connector::table_info`] read through `pool`'s connections when not known yet: a write
    /// reads it through its own, so that it never waits for a lookup's connection.
    async fn table_info_via(&self, pool: &Pool, table: &TableRef) -> Result<Arc<TableInfo>, ConnectorError> {
        if let Some(info) = self.cached_info(table) {
            return Ok(info);
        }
        let info = match pool {
            Pool::Sqlite(pool) => sqlite_table_info(pool, table).await?,
            Pool::Postgres(pool) => pg_table_info(pool, table).await?,
        };
        Ok(self.remember_info(table, info))
    }

    /// Checks that a table and its columns exist (and learns their types).
    pub async fn check_table(&self, table: &TableRef, columns: &[&str]) -> Result<(), ConnectorError> {
        let info = self.table_info(table).await?;
        for c in columns {
            let known = info.pg.contains_key(*c) || info.sqlite.contains_key(*c);
            if !known {
                return Err(ConnectorError::UnknownColumn { table: table.to_string(), column: (*c).to_owned() });
            }
        }
        Ok(())
    }

    fn pg_column<'i>(info: &'i TableInfo, table: &TableRef, column: &str) -> Result<&'i PgColumn, ConnectorError> {
        info.pg
            .get(column)
            .ok_or_else(|| ConnectorError::UnknownColumn { table: table.to_string(), column: column.to_owned() })
    }

    // -----------------------------------------------------------------------------------------
    // Reads

    /// The rows of `table` whose `match_columns` equal one of `keys` (each key one value per
    /// match column), with the `select` columns in that order. Keys holding a null match nothing.
    /// Rows come in no particular order; a row matching several keys comes once.
    /// Takes a connection from the pool for the one call; [`Connector::session`] keeps one for
    /// many.
    pub async fn fetch(
        &self,
        table: &TableRef,
        select: &[String],
        match_columns: &[String],
        keys: &[Vec<Value>],
    ) -> Result<Vec<Vec<Value>>, ConnectorError> {
        self.session().await?.fetch(table, select, match_columns, keys).await
    }

    /// The rows of `table` whose `column` equals one of `values` under `matching`, with the
    /// `select` columns in that order (see [`Session::fetch_matching`]).
    pub async fn fetch_matching(
        &self,
        table: &TableRef,
        select: &[String],
        column: &str,
        matching: Matching,
        values: &[Value],
    ) -> Result<Vec<Vec<Value>>, ConnectorError> {
        self.session().await?.fetch_matching(table, select, column, matching, values).await
    }

    /// One connection of the pool, held until the session is dropped: the lookups of one
    /// request run on it one after the other, with its prepared statements.
    pub async fn session(&self) -> Result<Session<'_>, ConnectorError> {
        let none = TableRef::new(None, "(connection)");
        let conn = match &self.pool {
            Pool::Sqlite(p) => SessionConn::Sqlite(p.acquire().await.map_err(query_err("connecting for", &none))?),
            Pool::Postgres(p) => SessionConn::Postgres(p.acquire().await.map_err(query_err("connecting for", &none))?),
        };
        Ok(Session { connector: self, conn })
    }

    /// The current values of `columns` of the rows with these primary keys, each row starting
    /// with its key: what a resumed request reads back to see which writes already happened.
    pub async fn read_back(
        &self,
        table: &TableRef,
        key_columns: &[String],
        keys: &[Vec<Value>],
        columns: &[String],
    ) -> Result<Vec<Vec<Value>>, ConnectorError> {
        let select: Vec<String> = key_columns.iter().chain(columns).cloned().collect();
        self.fetch(table, &select, key_columns, keys).await
    }

    // -----------------------------------------------------------------------------------------
    // Writes

    /// Applies the writes in order, in one transaction: all of them or none. Returns the number
    /// of rows changed.
    pub async fn apply(&self, ops: &[WriteOp]) -> Result<u64, ConnectorError> {
        Ok(self.apply_groups(&[ops]).await?.iter().sum())
    }

    /// Applies several lists of writes (one per request of a batch) in order, in one
    /// transaction: all of them or none. Returns the number of rows each list changed.
    pub async fn apply_groups(&self, groups: &[&[WriteOp]]) -> Result<Vec<u64>, ConnectorError> {
        let ready = std::future::ready(Ok::<(), std::convert::Infallible>(()));
        match self.apply_groups_when(groups, ready).await? {
            Ok(changed) => Ok(changed),
            Err(never) => match never {},
        }
    }

    /// [`Connector::apply_groups`], committing only once `ready` succeeds: the statements run
    /// while `ready` (the journal's record of the writes) is awaited, and the transaction is
    /// rolled back if it fails, whose error is then returned inside. A crash before `ready`
    /// completes leaves nothing written; the commit never precedes it.
    ///
    /// The statements run in a task of their own, so that they go on at the database's pace
    /// while the caller's task does other work (a batch looks up its next people meanwhile).
    pub async fn apply_groups_when<E>(
        &self,
        groups: &[&[WriteOp]],
        ready: impl Future<Output = Result<(), E>>,
    ) -> Result<Result<Vec<u64>, E>, ConnectorError> {
        let mut infos = HashMap::new();
        for op in groups.iter().flat_map(|g| g.iter()) {
            if !infos.contains_key(op.table()) {
                infos.insert(op.table().clone(), self.table_info_via(&self.writer, op.table()).await?);
            }
        }
        let planned: Vec<Planned<'static>> = plan_statements(groups).into_iter().map(Planned::into_owned).collect();
        let mut changed = vec![0u64; groups.len()];
        let (decide, decision) = tokio::sync::oneshot::channel::<bool>();
        let none = TableRef::new(None, "(transaction)");
        let task = match &self.writer {
            Pool::Sqlite(pool) => {
                let (pool, writer) = (pool.clone(), self.write_lock.clone().lock_owned().await);
                tokio::spawn(async move {
                    let _writer = writer;
                    let mut tx =
                        pool.begin_with("BEGIN IMMEDIATE").await.map_err(query_err("starting a write on", &none))?;
                    sqlite_statements(&mut tx, &planned, &mut changed).await?;
                    Ok(end_when(tx, decision).await?.then_some(changed))
                })
            }
            Pool::Postgres(pool) => {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut tx = pool.begin().await.map_err(query_err("starting a write on", &none))?;
                    pg_statements(&mut tx, &planned, &infos, &mut changed).await?;
                    Ok(end_when(tx, decision).await?.then_some(changed))
                })
            }
        };
        let ready = ready.await;
        // The task rolls back when told so, or when this sender is dropped unused.
        let _ = decide.send(ready.is_ok());
        let done: Result<Option<Vec<u64>>, ConnectorError> =
            task.await.map_err(|e| ConnectorError::Interrupted(e.to_string()))?;
        match (done?, ready) {
            (Some(changed), Ok(())) => {
                self.checkpoint_soon(changed.iter().sum());
                Ok(Ok(changed))
            }
            (_, Err(e)) => Ok(Err(e)),
            (None, Ok(())) => Err(ConnectorError::Interrupted("the write was rolled back".into())),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Fixed statements (benchmark baselines)

    /// Runs fixed, hand-written statements with bound values in one transaction when `write`,
    /// else one after the other, and returns the rows of each. The SQL is the caller's, written
    /// for this backend; values are bound as on a write (PostgreSQL: as text, so the statement
    /// casts them). Used by `covenant bench dsr` to compare with hand-written SQL.
    pub async fn run_fixed(
        &self,
        statements: &[(&'static str, Vec<Value>)],
        write: bool,
    ) -> Result<Vec<Vec<Vec<Value>>>, ConnectorError> {
        let none = TableRef::new(None, "(fixed statement)");
        let mut out = Vec::with_capacity(statements.len());
        match if write { &self.writer } else { &self.pool } {
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await.map_err(query_err("connecting for", &none))?;
                let total_changes = "SELECT total_changes()";
                let mut before = 0i64;
                if write {
                    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await.map_err(query_err("starting", &none))?;
                    before = sqlx::query_scalar(total_changes)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(query_err("counting rows in", &none))?;
                }
                for (sql, args) in statements {
                    let mut q = sqlx::query(*sql);
                    for v in args {
                        q = bind_sqlite(q, v);
                    }
                    let rows = q.fetch_all(&mut *conn).await.map_err(query_err("running", &none))?;
                    let decoded = rows
                        .iter()
                        .map(|r| decode_sqlite(r, r.len()))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(query_err("reading", &none))?;
                    out.push(decoded);
                }
                if write {
                    let after: i64 = sqlx::query_scalar(total_changes)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(query_err("counting rows in", &none))?;
                    sqlx::query("COMMIT").execute(&mut *conn).await.map_err(query_err("committing", &none))?;
                    self.checkpoint_soon(u64::try_from(after - before).unwrap_or(0));
                }
            }
            Pool::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(query_err("connecting for", &none))?;
                if write {
                    sqlx::query("BEGIN").execute(&mut *conn).await.map_err(query_err("starting", &none))?;
                }
                for (sql, args) in statements {
                    let mut q = sqlx::query(*sql);
                    for v in args {
                        q = q.bind(v.as_text());
                    }
                    let rows = q.fetch_all(&mut *conn).await.map_err(query_err("running", &none))?;
                    let decoded = rows
                        .iter()
                        .map(|r| {
                            let kinds: Vec<PgKind> =
                                r.columns().iter().map(|c| pg_kind(c.type_info().name())).collect();
                            decode_pg(r, &kinds)
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(query_err("reading", &none))?;
                    out.push(decoded);
                }
                if write {
                    sqlx::query("COMMIT").execute(&mut *conn).await.map_err(query_err("committing", &none))?;
                }
            }
        }
        Ok(out)
    }
}

enum SessionConn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// A connection of a [`Connector`] held for a series of reads (see [`Connector::session`]).
pub struct Session<'c> {
    connector: &'c Connector,
    conn: SessionConn,
}

impl Session<'_> {
    /// A table's columns, read on this session's connection the first time (a session must
    /// not wait for a second connection of the pool it holds one of).
    async fn table_info(&mut self, table: &TableRef) -> Result<Arc<TableInfo>, ConnectorError> {
        if let Some(info) = self.connector.cached_info(table) {
            return Ok(info);
        }
        let info = match &mut self.conn {
            SessionConn::Sqlite(c) => sqlite_table_info(&mut **c, table).await?,
            SessionConn::Postgres(c) => pg_table_info(&mut **c, table).await?,
        };
        Ok(self.connector.remember_info(table, info))
    }

    /// The rows of `table` whose `match_columns` equal one of `keys` (each key one value per
    /// match column), with the `select` columns in that order. Keys holding a null match nothing.
    /// Rows come in no particular order; a row matching several keys comes once.
    pub async fn fetch(
        &mut self,
        table: &TableRef,
        select: &[String],
        match_columns: &[String],
        keys: &[Vec<Value>],
    ) -> Result<Vec<Vec<Value>>, ConnectorError> {
        self.fetch_rows(table, select, match_columns, Matching::Exact, keys, false).await
    }

    /// How many rows of `table` have each value of `columns` among `keys`: one row per key
    /// found, holding the key's values and then the count (an integer). Keys holding a null
    /// match nothing. What an erasure cutting mentions by reference reports, without reading
    /// each mentioning row.
    pub async fn count_by(
        &mut self,
        table: &TableRef,
        columns: &[String],
        keys: &[Vec<Value>],
    ) -> Result<Vec<Vec<Value>>, ConnectorError> {
        self.fetch_rows(table, columns, columns, Matching::Exact, keys, true).await
    }

    /// The rows of `table` whose `column` equals one of `values` under `matching` (an identity
    /// column stored as `Ada@Example.COM` is found by `ada@example.com` when case-insensitive),
    /// with the `select` columns in that order. Nulls match nothing. Rows come in no particular
    /// order; a row comes once per statement, so a list long enough to be split (more than
    /// [`CHUNK`] values on SQLite, `PG_CHUNK` on PostgreSQL) that holds two spellings of one
    /// value may return a row twice.
    pub async fn fetch_matching(
        &mut self,
        table: &TableRef,
        select: &[String],
        column: &str,
        matching: Matching,
        values: &[Value],
    ) -> Result<Vec<Vec<Value>>, ConnectorError> {
        let keys: Vec<Vec<Value>> = values.iter().map(|v| vec![v.clone()]).collect();
        self.fetch_rows(table, select, &[column.to_owned()], matching, &keys, false).await
    }

    /// [`Session::fetch`] with the comparison of a single match column chosen by `matching`;
    /// several match columns are always compared exactly. `count`: the rows are grouped by the
    /// `select` columns, and each group's row ends with how many rows it has.
    async fn fetch_rows(
        &mut self,
        table: &TableRef,
        select: &[String],
        match_columns: &[String],
        matching: Matching,
        keys: &[Vec<Value>],
        count: bool,
    ) -> Result<Vec<Vec<Value>>, ConnectorError> {
        if let Some(bad) = keys.iter().find(|k| k.len() != match_columns.len()) {
            return Err(ConnectorError::Arity(bad.len(), match_columns.len()));
        }
        let mut keys: Vec<&Vec<Value>> = keys.iter().filter(|k| !k.iter().any(Value::is_null)).collect();
        keys.sort_by(|a, b| Value::sort_cmp_keys(a, b));
        keys.dedup();
        if keys.is_empty() || select.is_empty() {
            return Ok(Vec::new());
        }
        let info = self.table_info(table).await?;
        let mut out = Vec::new();
        match &mut self.conn {
            SessionConn::Sqlite(conn) => {
                for c in select.iter().chain(match_columns) {
                    if !info.sqlite.contains_key(c) {
                        return Err(ConnectorError::UnknownColumn { table: table.to_string(), column: c.clone() });
                    }
                }
                let per = (CHUNK / match_columns.len()).max(1);
                let cols = select.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
                let (counted, grouped) =
                    if count { (", count(*)".to_owned(), format!(" GROUP BY {cols}")) } else { Default::default() };
                let width = select.len() + usize::from(count);
                for chunk in keys.chunks(per) {
                    let n = bucket(chunk.len()).min(per).max(chunk.len());
                    let condition = match (matching, match_columns) {
                        (Matching::CaseInsensitive, [column]) => sqlite_in_nocase(column, n),
                        _ => sqlite_in(match_columns, n),
                    };
                    let sql = format!("SELECT {cols}{counted} FROM {} WHERE {condition}{grouped}", table.quoted());
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for i in 0..n {
                        let key = chunk.get(i).or(chunk.last()).copied().into_iter().flatten();
                        for v in key {
                            q = bind_sqlite(q, v);
                        }
                    }
                    let mut rows = q.fetch(&mut **conn);
                    while let Some(row) = rows.try_next().await.map_err(query_err("reading", table))? {
                        out.push(decode_sqlite(&row, width).map_err(query_err("reading", table))?);
                    }
                }
            }
            SessionConn::Postgres(conn) => {
                let mut kinds = select
                    .iter()
                    .map(|c| Connector::pg_column(&info, table, c).map(|t| t.kind.clone()))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut cols = select
                    .iter()
                    .zip(&kinds)
                    .map(|(c, k)| match k {
                        PgKind::Time | PgKind::Other => format!("{q}::text AS {q}", q = quote(c)),
                        _ => quote(c),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                // Grouped by the input columns (a name in GROUP BY is the table's column first).
                let grouped = if count {
                    cols.push_str(", count(*)");
                    kinds.push(PgKind::I64);
                    format!(" GROUP BY {}", select.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", "))
                } else {
                    String::new()
                };
                if let [column] = match_columns {
                    // One value (most of a person's lookups): plain equality, whose generic plan
                    // PostgreSQL caches as an index lookup; an array's generic plan is costed
                    // for a list of unknown length and may scan. Case-insensitive: the list is
                    // lowered once (an init plan), then looked up like an exact list:
                    // `lower(col) = ANY(…)` is an index condition on `(lower(col))`.
                    let col = Connector::pg_column(&info, table, column)?;
                    let (lhs, one, list) = match matching {
                        Matching::Exact => (
                            quote(column),
                            format!("CAST($1 AS {})", col.sql_type),
                            format!("ANY(CAST($1 AS {}[]))", col.sql_type),
                        ),
                        Matching::CaseInsensitive => (
                            pg_lower(column, col),
                            "lower(CAST($1 AS text))".to_owned(),
                            "ANY(ARRAY(SELECT lower(v) FROM unnest(CAST($1 AS text[])) AS v))".to_owned(),
                        ),
                    };
                    let select =
                        |rhs: &str| format!("SELECT {cols} FROM {} WHERE {lhs} = {rhs}{grouped}", table.quoted());
                    if let [key] = keys.as_slice() {
                        let mut rows =
                            sqlx::query(AssertSqlSafe(select(&one))).bind(key[0].as_text()).fetch(&mut **conn);
                        while let Some(row) = rows.try_next().await.map_err(query_err("reading", table))? {
                            out.push(decode_pg(&row, &kinds).map_err(query_err("reading", table))?);
                        }
                    } else {
                        let sql = select(&list);
                        for chunk in keys.chunks(PG_CHUNK) {
                            let list: Vec<String> = chunk.iter().filter_map(|k| k[0].as_text()).collect();
                            let mut rows = sqlx::query(AssertSqlSafe(sql.clone())).bind(list).fetch(&mut **conn);
                            while let Some(row) = rows.try_next().await.map_err(query_err("reading", table))? {
                                out.push(decode_pg(&row, &kinds).map_err(query_err("reading", table))?);
                            }
                        }
                    }
                } else {
                    let types = match_columns
                        .iter()
                        .map(|c| Connector::pg_column(&info, table, c).map(|t| t.sql_type.clone()))
                        .collect::<Result<Vec<_>, _>>()?;
                    let per = (CHUNK / match_columns.len()).max(1);
                    for chunk in keys.chunks(per) {
                        let sql = format!(
                            "SELECT {cols} FROM {} WHERE {}{grouped}",
                            table.quoted(),
                            pg_in(match_columns, &types, chunk.len(), 1)
                        );
                        let mut q = sqlx::query(AssertSqlSafe(sql));
                        for k in chunk {
                            for v in k.iter() {
                                q = q.bind(v.as_text());
                            }
                        }
                        let mut rows = q.fetch(&mut **conn);
                        while let Some(row) = rows.try_next().await.map_err(query_err("reading", table))? {
                            out.push(decode_pg(&row, &kinds).map_err(query_err("reading", table))?);
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The columns of a SQLite table, read with `e` (the pool, or a session's connection).
async fn sqlite_table_info<'e, E: sqlx::Executor<'e, Database = Sqlite>>(
    e: E,
    table: &TableRef,
) -> Result<TableInfo, ConnectorError> {
    let sql = match &table.schema {
        Some(s) => format!("SELECT name, type FROM {}.pragma_table_info($1)", quote(s)),
        None => "SELECT name, type FROM pragma_table_info($1)".to_owned(),
    };
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(table.name.as_str())
        .fetch_all(e)
        .await
        .map_err(query_err("reading the columns of", table))?;
    let mut info = TableInfo::default();
    for r in rows {
        let name: String = r.try_get("name").map_err(query_err("reading the columns of", table))?;
        let ty: String = r.try_get("type").map_err(query_err("reading the columns of", table))?;
        info.sqlite.insert(name, ty);
    }
    if info.sqlite.is_empty() {
        return Err(ConnectorError::UnknownTable(table.to_string()));
    }
    Ok(info)
}

/// The columns of a PostgreSQL table and their types, read with `e`.
async fn pg_table_info<'e, E: sqlx::Executor<'e, Database = Postgres>>(
    e: E,
    table: &TableRef,
) -> Result<TableInfo, ConnectorError> {
    let rows = sqlx::query(
        "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS ty, t.typname AS base \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(table.quoted())
    .fetch_all(e)
    .await
    .map_err(query_err("reading the columns of", table))?;
    let mut info = TableInfo::default();
    for r in rows {
        let name: String = r.try_get("name").map_err(query_err("reading the columns of", table))?;
        let sql_type: String = r.try_get("ty").map_err(query_err("reading the columns of", table))?;
        let base: String = r.try_get("base").map_err(query_err("reading the columns of", table))?;
        let kind = match base.as_str() {
            "int2" => PgKind::I16,
            "int4" => PgKind::I32,
            "int8" => PgKind::I64,
            "float4" => PgKind::F32,
            "float8" => PgKind::F64,
            "bool" => PgKind::Bool,
            "bytea" => PgKind::Bytes,
            "text" | "varchar" | "bpchar" | "name" => PgKind::Text,
            "timestamptz" | "timestamp" | "date" | "time" | "timetz" => PgKind::Time,
            _ => PgKind::Other,
        };
        info.pg.insert(name, PgColumn { sql_type, kind });
    }
    if info.pg.is_empty() {
        return Err(ConnectorError::UnknownTable(table.to_string()));
    }
    Ok(info)
}

/// Commits a transaction when `decision` says so, else (or if its sender is gone) rolls it
/// back. Returns whether it committed.
async fn end_when<DB: sqlx::Database>(
    tx: sqlx::Transaction<'static, DB>,
    decision: tokio::sync::oneshot::Receiver<bool>,
) -> Result<bool, ConnectorError> {
    let none = TableRef::new(None, "(transaction)");
    if decision.await.unwrap_or(false) {
        tx.commit().await.map_err(query_err("committing", &none))?;
        Ok(true)
    } else {
        tx.rollback().await.map_err(query_err("rolling back", &none))?;
        Ok(false)
    }
}

/// Runs a batch's statements on SQLite, counting the rows each group changed.
async fn sqlite_statements(
    tx: &mut sqlx::SqliteConnection,
    planned: &[Planned<'_>],
    changed: &mut [u64],
) -> Result<(), ConnectorError> {
    for p in planned {
        let op = &*p.op;
        let table = op.table();
        let key_columns = op.key_columns();
        let per = (CHUNK / key_columns.len()).max(1);
        let returning = match p.owner {
            Owner::Group(_) => String::new(),
            Owner::Keys { .. } => {
                format!(" RETURNING {}", key_columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", "))
            }
        };
        let (head, set): (String, &[(String, Value)]) = match op {
            WriteOp::Delete { .. } => (format!("DELETE FROM {}", table.quoted()), &[]),
            WriteOp::Update { set, .. } => {
                let assignments = set.iter().map(|(c, _)| format!("{} = ?", quote(c))).collect::<Vec<_>>().join(", ");
                (format!("UPDATE {} SET {assignments}", table.quoted()), set)
            }
        };
        for chunk in op.keys().chunks(per) {
            let n = bucket(chunk.len()).min(per).max(chunk.len());
            let sql = format!("{head} WHERE {}{returning}", sqlite_in(key_columns, n));
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (_, v) in set {
                q = bind_sqlite(q, v);
            }
            for i in 0..n {
                for v in chunk.get(i).or(chunk.last()).into_iter().flatten() {
                    q = bind_sqlite(q, v);
                }
            }
            match p.owner {
                Owner::Group(gi) => {
                    changed[gi] += q.execute(&mut *tx).await.map_err(query_err("writing", table))?.rows_affected();
                }
                Owner::Keys { .. } => {
                    let rows = q.fetch_all(&mut *tx).await.map_err(query_err("writing", table))?;
                    for row in &rows {
                        let key = decode_sqlite(row, key_columns.len())
                            .map_err(query_err("reading the rows written in", table))?;
                        changed[p.owner.of(&key)] += 1;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Runs a batch's statements on PostgreSQL, counting the rows each group changed.
async fn pg_statements(
    tx: &mut sqlx::PgConnection,
    planned: &[Planned<'_>],
    infos: &HashMap<TableRef, Arc<TableInfo>>,
    changed: &mut [u64],
) -> Result<(), ConnectorError> {
    for p in planned {
        let op = &*p.op;
        let table = op.table();
        let info = infos.get(table).cloned().unwrap_or_default();
        let key_columns = op.key_columns();
        // A merged statement returns the keys of its rows, read like `fetch`.
        let mut kinds = Vec::new();
        let mut returned = Vec::new();
        if let Owner::Keys { .. } = p.owner {
            for c in key_columns {
                let col = Connector::pg_column(&info, table, c)?;
                kinds.push(col.kind.clone());
                returned.push(match col.kind {
                    PgKind::Time | PgKind::Other => format!("CAST({} AS text)", quote(c)),
                    _ => quote(c),
                });
            }
        }
        let returning = if returned.is_empty() { String::new() } else { format!(" RETURNING {}", returned.join(", ")) };
        let run = async |q: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
                         tx: &mut sqlx::PgConnection,
                         changed: &mut [u64]|
               -> Result<(), ConnectorError> {
            match p.owner {
                Owner::Group(gi) => {
                    changed[gi] += q.execute(&mut *tx).await.map_err(query_err("writing", table))?.rows_affected();
                }
                Owner::Keys { .. } => {
                    let rows = q.fetch_all(&mut *tx).await.map_err(query_err("writing", table))?;
                    for row in &rows {
                        let key = decode_pg(row, &kinds).map_err(query_err("reading the rows written in", table))?;
                        changed[p.owner.of(&key)] += 1;
                    }
                }
            }
            Ok(())
        };
        let (head, set): (String, &[(String, Value)]) = match op {
            WriteOp::Delete { .. } => (format!("DELETE FROM {}", table.quoted()), &[]),
            WriteOp::Update { set, .. } => {
                let assignments = set
                    .iter()
                    .enumerate()
                    .map(|(i, (c, _))| {
                        Connector::pg_column(&info, table, c)
                            .map(|t| format!("{} = CAST(${} AS {})", quote(c), i + 1, t.sql_type))
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(", ");
                (format!("UPDATE {} SET {assignments}", table.quoted()), set)
            }
        };
        if key_columns.len() == 1 {
            let col = Connector::pg_column(&info, table, &key_columns[0])?;
            let sql = format!(
                "{head} WHERE {} = ANY(CAST(${} AS {}[])){returning}",
                quote(&key_columns[0]),
                set.len() + 1,
                col.sql_type
            );
            for chunk in op.keys().chunks(PG_CHUNK) {
                let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                for (_, v) in set {
                    q = q.bind(v.as_text());
                }
                let list: Vec<String> = chunk.iter().filter_map(|k| k.first()?.as_text()).collect();
                q = q.bind(list);
                run(q, &mut *tx, &mut *changed).await?;
            }
        } else {
            let types = key_columns
                .iter()
                .map(|c| Connector::pg_column(&info, table, c).map(|t| t.sql_type.clone()))
                .collect::<Result<Vec<_>, _>>()?;
            let per = (CHUNK / key_columns.len()).max(1);
            for chunk in op.keys().chunks(per) {
                let sql = format!("{head} WHERE {}{returning}", pg_in(key_columns, &types, chunk.len(), set.len() + 1));
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for (_, v) in set {
                    q = q.bind(v.as_text());
                }
                for k in chunk {
                    for v in k {
                        q = q.bind(v.as_text());
                    }
                }
                run(q, &mut *tx, &mut *changed).await?;
            }
        }
    }
    Ok(())
}

/// One statement of a transaction and whose rows it changes.
struct Planned<'o> {
    op: std::borrow::Cow<'o, WriteOp>,
    owner: Owner,
}

impl Planned<'_> {
    /// The same statement owning its operation, to run in a task of its own.
    fn into_owned(self) -> Planned<'static> {
        Planned { op: std::borrow::Cow::Owned(self.op.into_owned()), owner: self.owner }
    }
}

/// Whose rows a statement changes: one group's, or (merged) each key's group, by the key's
/// text form; a row not found there counts for `first`.
enum Owner {
    Group(usize),
    Keys { of: HashMap<String, usize>, first: usize },
}

impl Owner {
    fn of(&self, key: &[Value]) -> usize {
        match self {
            Owner::Group(g) => *g,
            Owner::Keys { of, first } => of.get(&key_text(key)).copied().unwrap_or(*first),
        }
    }
}

/// A key's text form, as PostgreSQL compares bound keys (every value is bound as text).
fn key_text(key: &[Value]) -> String {
    key.iter().map(|v| v.as_text().unwrap_or_default()).collect::<Vec<_>>().join("\u{1f}")
}

/// A statement shape of a batch (its operation without keys), the keys of every group in it,
/// the group of each key (by text form), and the first group that has it.
type Shape = (WriteOp, Vec<Vec<Value>>, HashMap<String, usize>, usize);

/// The statements of a transaction applying `groups` in order. With several groups, the
/// operations of the same shape (table, kind, key columns, values set) are merged into one
/// statement per shape, in an order that keeps every group's own order (a topological order
/// of the shapes, each group's consecutive operations being its edges): a batch of a thousand
/// erasures is a few statements per table instead of thousands. When no such order exists
/// (two groups order two shapes differently, or a group has the same shape twice), every
/// operation runs on its own, group after group.
fn plan_statements<'o>(groups: &[&'o [WriteOp]]) -> Vec<Planned<'o>> {
    let alone = || {
        groups
            .iter()
            .enumerate()
            .flat_map(|(gi, g)| {
                g.iter().map(move |op| Planned { op: std::borrow::Cow::Borrowed(op), owner: Owner::Group(gi) })
            })
            .collect()
    };
    if groups.len() < 2 {
        return alone();
    }
    // The shapes, in order of first appearance, with their keys and owners.
    let mut shapes: Vec<Shape> = Vec::new();
    let mut edges: Vec<std::collections::BTreeSet<usize>> = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let mut previous: Option<usize> = None;
        for op in g.iter() {
            let shape = op.with_keys(Vec::new());
            let si = match shapes.iter().position(|s| s.0 == shape) {
                Some(si) => si,
                None => {
                    shapes.push((shape, Vec::new(), HashMap::new(), gi));
                    edges.push(std::collections::BTreeSet::new());
                    shapes.len() - 1
                }
            };
            if let Some(p) = previous {
                if p == si {
                    return alone();
                }
                edges[p].insert(si);
            }
            previous = Some(si);
            let (_, keys, owners, _) = &mut shapes[si];
            for k in op.keys() {
                if let std::collections::hash_map::Entry::Vacant(e) = owners.entry(key_text(k)) {
                    e.insert(gi);
                    keys.push(k.clone());
                }
            }
        }
    }
    // Kahn's algorithm, the earliest shape first among those ready.
    let mut incoming = vec![0usize; shapes.len()];
    for e in &edges {
        for &to in e {
            incoming[to] += 1;
        }
    }
    let mut ready: std::collections::BTreeSet<usize> = (0..shapes.len()).filter(|&i| incoming[i] == 0).collect();
    let mut order = Vec::with_capacity(shapes.len());
    while let Some(si) = ready.pop_first() {
        order.push(si);
        for &to in &edges[si] {
            incoming[to] -= 1;
            if incoming[to] == 0 {
                ready.insert(to);
            }
        }
    }
    if order.len() < shapes.len() {
        return alone();
    }
    let mut slots: Vec<Option<Shape>> = shapes.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|si| slots[si].take())
        .flat_map(|(shape, keys, of, first)| {
            if of.values().all(|&g| g == first) {
                return vec![Planned {
                    op: std::borrow::Cow::Owned(shape.with_keys(keys)),
                    owner: Owner::Group(first),
                }];
            }
            if !writes_its_keys(&shape) {
                return vec![Planned {
                    op: std::borrow::Cow::Owned(shape.with_keys(keys)),
                    owner: Owner::Keys { of, first },
                }];
            }
            // The rows' keys change (a mention cut by reference nulls the reference it is found
            // by): what a statement returns no longer tells whose rows they were, so the shape
            // runs as one statement per group, in the groups' order.
            let mut per: std::collections::BTreeMap<usize, Vec<Vec<Value>>> = std::collections::BTreeMap::new();
            for k in keys {
                per.entry(of.get(&key_text(&k)).copied().unwrap_or(first)).or_default().push(k);
            }
            per.into_iter()
                .map(|(g, keys)| Planned { op: std::borrow::Cow::Owned(shape.with_keys(keys)), owner: Owner::Group(g) })
                .collect()
        })
        .collect()
}

/// Whether an update writes one of the columns its rows are addressed by.
fn writes_its_keys(op: &WriteOp) -> bool {
    match op {
        WriteOp::Update { key_columns, set, .. } => set.iter().any(|(c, _)| key_columns.contains(c)),
        WriteOp::Delete { .. } => false,
    }
}

/// `("a", "b") IN ((?, ?), …)` for `n` keys, or `"a" IN (?, …)` for one column.
///
/// SQLite statements take anonymous `?` parameters, bound in the order they appear: naming
/// them (`$1`) makes binding a statement cost time in the square of its parameters (SQLite
/// finds a parameter's name by walking the list of names).
fn sqlite_in(columns: &[String], n: usize) -> String {
    if columns.len() == 1 {
        format!("{} IN ({})", quote(&columns[0]), vec!["?"; n].join(", "))
    } else {
        let cols = columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
        let one = format!("({})", vec!["?"; columns.len()].join(", "));
        format!("({cols}) IN (VALUES {})", vec![one.as_str(); n].join(", "))
    }
}

/// `"email" COLLATE NOCASE IN (?, …)` for `n` values: the comparison takes the collation of its
/// left side, so an index with that collation serves it.
fn sqlite_in_nocase(column: &str, n: usize) -> String {
    format!("{} COLLATE NOCASE IN ({})", quote(column), vec!["?"; n].join(", "))
}

/// `lower("email")`: the expression an index on `(lower(email))` is built on. Columns that are
/// not text (or varchar, char) are read as text first; no such index can serve them.
fn pg_lower(column: &str, col: &PgColumn) -> String {
    match col.kind {
        PgKind::Text => format!("lower({})", quote(column)),
        _ => format!("lower(CAST({} AS text))", quote(column)),
    }
}

/// The composite-key form for PostgreSQL, every value cast to its column's type.
fn pg_in(columns: &[String], types: &[String], n: usize, start: usize) -> String {
    let mut p = start;
    let cols = columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    let list = (0..n)
        .map(|_| {
            let row = types
                .iter()
                .map(|t| {
                    let s = format!("CAST(${p} AS {t})");
                    p += 1;
                    s
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!("({row})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("({cols}) IN ({list})")
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

fn bind_sqlite<'q>(q: SqliteQuery<'q>, v: &Value) -> SqliteQuery<'q> {
    match v {
        Value::Null => q.bind(None::<String>),
        Value::Integer(i) => q.bind(*i),
        Value::Real(f) => q.bind(*f),
        Value::Text(s) | Value::Timestamp(s) => q.bind(s.clone()),
        Value::Bool(b) => q.bind(*b),
        Value::Bytes(b) => q.bind(b.clone()),
    }
}

fn decode_sqlite(row: &SqliteRow, n: usize) -> Result<Vec<Value>, sqlx::Error> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            out.push(Value::Null);
            continue;
        }
        let name = raw.type_info().name().to_owned();
        let v = match name.as_str() {
            "INTEGER" | "BOOLEAN" => Value::Integer(row.try_get_unchecked::<i64, _>(i)?),
            "REAL" | "NUMERIC" => Value::Real(row.try_get_unchecked::<f64, _>(i)?),
            "BLOB" => Value::Bytes(row.try_get_unchecked::<Vec<u8>, _>(i)?),
            _ => Value::Text(row.try_get_unchecked::<String, _>(i)?),
        };
        out.push(v);
    }
    Ok(out)
}

fn pg_kind(type_name: &str) -> PgKind {
    match type_name {
        "INT2" => PgKind::I16,
        "INT4" => PgKind::I32,
        "INT8" => PgKind::I64,
        "FLOAT4" => PgKind::F32,
        "FLOAT8" => PgKind::F64,
        "BOOL" => PgKind::Bool,
        "BYTEA" => PgKind::Bytes,
        _ => PgKind::Text,
    }
}

fn decode_pg(row: &PgRow, kinds: &[PgKind]) -> Result<Vec<Value>, sqlx::Error> {
    let mut out = Vec::with_capacity(kinds.len());
    for (i, kind) in kinds.iter().enumerate() {
        let v = match kind {
            PgKind::I16 => row.try_get::<Option<i16>, _>(i)?.map(|v| Value::Integer(v.into())),
            PgKind::I32 => row.try_get::<Option<i32>, _>(i)?.map(|v| Value::Integer(v.into())),
            PgKind::I64 => row.try_get::<Option<i64>, _>(i)?.map(Value::Integer),
            PgKind::F32 => row.try_get::<Option<f32>, _>(i)?.map(|v| Value::Real(v.into())),
            PgKind::F64 => row.try_get::<Option<f64>, _>(i)?.map(Value::Real),
            PgKind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
            PgKind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
            PgKind::Text | PgKind::Other => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
            PgKind::Time => row.try_get::<Option<String>, _>(i)?.map(Value::Timestamp),
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("users"), "\"users\"");
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(TableRef::new(Some("app"), "users").quoted(), "\"app\".\"users\"");
    }

    #[test]
    fn in_lists_have_fixed_shapes() {
        assert_eq!(sqlite_in(&["id".into()], 3), "\"id\" IN (?, ?, ?)");
        assert_eq!(sqlite_in(&["a".into(), "b".into()], 2), "(\"a\", \"b\") IN (VALUES (?, ?), (?, ?))");
        assert_eq!(
            pg_in(&["a".into(), "b".into()], &["bigint".into(), "text".into()], 1, 1),
            "(\"a\", \"b\") IN ((CAST($1 AS bigint), CAST($2 AS text)))"
        );
        assert_eq!(sqlite_in_nocase("email", 2), "\"email\" COLLATE NOCASE IN (?, ?)");
        let text = PgColumn { sql_type: "character varying(200)".into(), kind: PgKind::Text };
        let uuid = PgColumn { sql_type: "uuid".into(), kind: PgKind::Other };
        assert_eq!(pg_lower("e\"mail", &text), "lower(\"e\"\"mail\")");
        assert_eq!(pg_lower("id", &uuid), "lower(CAST(\"id\" AS text))");
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(3), 4);
        assert_eq!(bucket(5000), CHUNK);
    }

    fn del(table: &str, keys: &[i64]) -> WriteOp {
        WriteOp::Delete {
            table: TableRef::new(None, table),
            key_columns: vec!["id".into()],
            keys: keys.iter().map(|k| vec![Value::Integer(*k)]).collect(),
        }
    }

    fn cut(table: &str, keys: &[i64]) -> WriteOp {
        WriteOp::Update {
            table: TableRef::new(None, table),
            key_columns: vec!["id".into()],
            keys: keys.iter().map(|k| vec![Value::Integer(*k)]).collect(),
            set: vec![("user_id".into(), Value::Null)],
        }
    }

    /// The statements as (table, kind, keys, owner of each key).
    fn shown(planned: &[Planned<'_>]) -> Vec<String> {
        planned
            .iter()
            .map(|p| {
                let kind = if matches!(&*p.op, WriteOp::Delete { .. }) { "delete" } else { "update" };
                let keys: Vec<String> =
                    p.op.keys().iter().map(|k| format!("{}@{}", key_text(k), p.owner.of(k))).collect();
                format!("{kind} {} {}", p.op.table().name, keys.join(","))
            })
            .collect()
    }

    #[test]
    fn a_batch_is_one_statement_per_shape_in_an_order_every_group_keeps() {
        // Person 0 has payments then a user; person 1 tickets then a user; person 2 all three.
        let g0 = [cut("payments", &[1]), del("users", &[10])];
        let g1 = [del("tickets", &[5, 6]), del("users", &[11])];
        let g2 = [cut("payments", &[2]), del("tickets", &[7]), del("users", &[12])];
        let planned = plan_statements(&[&g0, &g1, &g2]);
        assert_eq!(
            shown(&planned),
            ["update payments 1@0,2@2", "delete tickets 5@1,6@1,7@2", "delete users 10@0,11@1,12@2"]
        );
        // A row two groups delete is deleted once and counted for the first.
        let a = [del("users", &[1, 2])];
        let b = [del("users", &[2, 3])];
        assert_eq!(shown(&plan_statements(&[&a, &b])), ["delete users 1@0,2@0,3@1"]);
        // One group, or shapes whose values differ, are not merged.
        assert_eq!(shown(&plan_statements(&[&g0])), ["update payments 1@0", "delete users 10@0"]);
        let mut other = cut("payments", &[3]);
        if let WriteOp::Update { set, .. } = &mut other {
            set[0].1 = Value::Text("x".into());
        }
        let c = [other];
        assert_eq!(
            shown(&plan_statements(&[&g0, &c])),
            ["update payments 1@0", "delete users 10@0", "update payments 3@1"]
        );
    }

    #[test]
    fn groups_ordering_shapes_differently_run_one_after_the_other() {
        let a = [del("tickets", &[1]), del("users", &[1])];
        let b = [del("users", &[2]), del("tickets", &[2])];
        assert_eq!(
            shown(&plan_statements(&[&a, &b])),
            ["delete tickets 1@0", "delete users 1@0", "delete users 2@1", "delete tickets 2@1"]
        );
        // The same shape twice in a group.
        let c = [del("tickets", &[1]), del("users", &[1]), del("tickets", &[3])];
        let d = [del("tickets", &[2])];
        assert_eq!(shown(&plan_statements(&[&c, &d])).len(), 4);
    }

    #[test]
    fn a_shape_writing_its_own_keys_runs_once_per_group_where_it_merges() {
        // Mentions cut by reference: comments found by `author_user_id`, which is nulled.
        let by_ref = |users: &[i64]| WriteOp::Update {
            table: TableRef::new(None, "comments"),
            key_columns: vec!["author_user_id".into()],
            keys: users.iter().map(|k| vec![Value::Integer(*k)]).collect(),
            set: vec![("author_user_id".into(), Value::Null)],
        };
        assert!(writes_its_keys(&by_ref(&[1])) && !writes_its_keys(&cut("payments", &[1])));
        let a = [by_ref(&[10]), del("users", &[10])];
        let b = [by_ref(&[11, 12]), del("users", &[11, 12])];
        let c = [by_ref(&[10]), del("users", &[13])];
        assert_eq!(
            shown(&plan_statements(&[&a, &b, &c])),
            ["update comments 10@0", "update comments 11@1,12@1", "delete users 10@0,11@1,12@1,13@2"],
            "each group's cut counts its own rows (a key two groups hold goes to the first); the rest still merges"
        );
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
