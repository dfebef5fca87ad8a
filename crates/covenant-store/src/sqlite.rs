//! The SQLite backend: one writer connection owned by a thread, a pool of read-only readers, and
//! one more connection for the migrator.
//!
//! Writes from every caller of one store queue up for the writer thread, which runs them in
//! batches: one `BEGIN IMMEDIATE` transaction, each write after its own savepoint (so a failing
//! write rolls back alone), one `COMMIT` (group commit). With `synchronous=FULL` that is one
//! `fsync` of the write-ahead log per batch instead of one per write. A caller is answered only
//! after the batch has committed. Several processes may open the same file: `BEGIN IMMEDIATE`
//! takes SQLite's write lock, waiting up to the busy timeout for another process's transaction,
//! and the audit head is read under that lock, so the chain stays gapless.
//!
//! The writer runs statements synchronously on its own thread (rusqlite, on the same SQLite
//! library as sqlx): sqlx hands every statement to a worker thread and back, which costs more
//! than the statement itself on the write path. Reads and migrations go through sqlx.

use std::any::Any;
use std::collections::HashMap;
use std::future::{Future, ready};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use covenant_core::TenantId;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use rusqlite::OpenFlags;
use rusqlite::types::{ToSqlOutput, Value as SqlValue};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

use crate::StoreError;
use crate::migrations;
use crate::model::AuditHead;
use crate::sql::{Arg, Conn, Dialect, RowRead};

/// How durable an acknowledged write is on SQLite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: the write-ahead log is flushed to disk (`fsync`) before a write is
    /// acknowledged, so an acknowledged write survives a crash of the process, the operating
    /// system or the machine (power loss). Group commit shares one flush among concurrent writes.
    #[default]
    Full,
    /// `synchronous=NORMAL`: an acknowledged write survives a crash of the process, but the last
    /// writes before an operating-system crash or power loss may be lost (the database stays
    /// consistent, and the audit chain intact, either way).
    Normal,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// Settings of a SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub durability: Durability,
    /// How long a write waits for another process holding the write lock.
    pub busy_timeout: Duration,
    /// Read connections (file databases only; an in-memory database reads through the writer).
    pub readers: u32,
    /// The most writes committed together in one transaction.
    pub max_batch: usize,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions { durability: Durability::Full, busy_timeout: Duration::from_secs(5), readers: 4, max_batch: 256 }
    }
}

type Value = Box<dyn Any + Send>;
type Run = Box<dyn for<'c> FnOnce(&'c mut Writer) -> BoxFuture<'c, Result<Value, StoreError>> + Send>;
type Reply = Box<dyn FnOnce(Result<Value, StoreError>) + Send>;

struct Job {
    run: Run,
    reply: Reply,
    /// Run outside any transaction, alone (reads of an in-memory database).
    solo: bool,
}

pub(crate) struct SqliteBackend {
    jobs: mpsc::Sender<Job>,
    readers: Option<SqlitePool>,
    /// The database file, for connections of their own (`None` for an in-memory database).
    file: Option<String>,
    busy_timeout: Duration,
    /// The connection the migrator runs on.
    admin: Mutex<SqliteConnection>,
}

fn backend(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    StoreError::backend(context)
}

fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { context, source }
}

impl SqliteBackend {
    pub(crate) async fn open(url: &str, options: &SqliteOptions) -> Result<SqliteBackend, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let synchronous = match options.durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        };
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError::Url(url.to_owned()))?
            .busy_timeout(options.busy_timeout)
            .synchronous(synchronous)
            .foreign_keys(true);
        let base = if in_memory { base } else { base.journal_mode(SqliteJournalMode::Wal) };
        // Opened first: creates the file if the URL asks for it and turns on WAL, which is a
        // setting of the file.
        let admin = base.connect().await.map_err(backend("opening the database"))?;
        let filename = base.get_filename().to_string_lossy().into_owned();
        let writer = Writer::open(&filename, in_memory, options)?;
        let readers = if in_memory {
            None
        } else {
            let pool = SqlitePoolOptions::new()
                .max_connections(options.readers.max(1))
                .min_connections(0)
                // A local file's connection cannot go stale: no ping before each read.
                .test_before_acquire(false)
                .connect_with(base.clone().read_only(true))
                .await
                .map_err(backend("opening read connections"))?;
            Some(pool)
        };
        let (tx, rx) = mpsc::channel(4096);
        let max_batch = options.max_batch.max(1);
        std::thread::Builder::new()
            .name("covenant-sqlite-writer".into())
            .spawn(move || writer_loop(writer, rx, max_batch))
            .map_err(|source| StoreError::Io { context: "starting the writer thread", source })?;
        let file = (!in_memory).then_some(filename);
        Ok(SqliteBackend { jobs: tx, readers, file, busy_timeout: options.busy_timeout, admin: Mutex::new(admin) })
    }

    async fn submit<T: Send + 'static>(
        &self,
        solo: bool,
        f: impl for<'c> FnOnce(&'c mut Writer) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let run: Run = Box::new(move |c| {
            Box::pin(async move {
                let v = f(c).await?;
                Ok(Box::new(v) as Value)
            })
        });
        let reply: Reply = Box::new(move |r| {
            let r = r.and_then(|v| {
                v.downcast::<T>()
                    .map(|b| *b)
                    .map_err(|_| StoreError::corrupt("writer reply", "a reply of an unexpected type"))
            });
            // The caller may have gone away (its request was cancelled); the write stands.
            let _ = tx.send(r);
        });
        self.jobs.send(Job { run, reply, solo }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` in a write transaction, batched with other concurrent writes.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl for<'c> FnOnce(&'c mut Writer) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(false, f).await
    }

    /// The read connections; `None` for an in-memory database, read with [`Self::read_on_writer`].
    pub(crate) fn pool(&self) -> Option<&SqlitePool> {
        self.readers.as_ref()
    }

    /// Runs `f` on a read connection of `pool`.
    pub(crate) async fn read_pool<T: Send + 'static>(
        pool: &SqlitePool,
        f: impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let mut conn = pool.acquire().await.map_err(backend("opening a read connection"))?;
        f(&mut conn).await
    }

    /// Runs `f` on the writer, outside any write transaction.
    pub(crate) async fn read_on_writer<T: Send + 'static>(
        &self,
        f: impl for<'c> FnOnce(&'c mut Writer) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(true, f).await
    }

    /// Verifies a tenant's audit chain on a read-only connection of its own (see `verify`), on a
    /// blocking thread. `None` for an in-memory database, which only the writer can reach.
    pub(crate) async fn verify_audit(
        &self,
        tenant: &TenantId,
        progress: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Option<Result<crate::Verified, StoreError>> {
        let file = self.file.clone()?;
        let (busy, tenant) = (self.busy_timeout, tenant.clone());
        let task = tokio::task::spawn_blocking(move || {
            crate::verify::sqlite_file(&file, busy, &tenant, crate::verify::parts(), &*progress)
        });
        Some(task.await.unwrap_or_else(|e| match e.try_into_panic() {
            Ok(p) => std::panic::resume_unwind(p),
            Err(e) => Err(StoreError::corrupt("audit verification", e)),
        }))
    }

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.admin.lock().await;
        migrations::migrator(migrations::SQLITE).run_direct(None, &mut *conn, false).await?;
        Ok(())
    }

    pub(crate) async fn close(&self) {
        if let Some(pool) = &self.readers {
            pool.close().await;
        }
    }
}

/// The writer connection, and the audit heads it wrote in the current batch. While a batch's
/// transaction holds SQLite's write lock no other connection can move a head, so within a batch
/// the store need not read a head it wrote itself. The heads are forgotten whenever a write is
/// undone and when the batch ends.
pub(crate) struct Writer {
    conn: rusqlite::Connection,
    heads: HashMap<TenantId, AuditHead>,
}

impl Writer {
    fn open(filename: &str, in_memory: bool, options: &SqliteOptions) -> Result<Writer, StoreError> {
        let mut flags =
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if in_memory {
            // The same shared in-memory database the sqlx connections open.
            flags |= OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
        }
        let conn = rusqlite::Connection::open_with_flags(filename, flags).map_err(sqlite("opening the writer"))?;
        conn.busy_timeout(options.busy_timeout).map_err(sqlite("setting the busy timeout"))?;
        conn.execute_batch(&format!("PRAGMA foreign_keys = ON; PRAGMA synchronous = {};", options.durability.pragma()))
            .map_err(sqlite("configuring the writer"))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Writer { conn, heads: HashMap::new() })
    }

    fn raw(&mut self, sql: &'static str, context: &'static str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).map_err(sqlite(context))
    }

    /// Prepares `sql` and binds `args` by number: `$n` is `args[n - 1]`, wherever it appears.
    fn bind<'s>(
        &'s self,
        context: &'static str,
        sql: &'static str,
        args: &[Arg],
    ) -> Result<rusqlite::CachedStatement<'s>, StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(sqlite(context))?;
        for i in 1..=st.parameter_count() {
            let n = st
                .parameter_name(i)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(i);
            let arg = args.get(n - 1).unwrap_or(&Arg::Int(None));
            st.raw_bind_parameter(i, arg).map_err(sqlite(context))?;
        }
        Ok(st)
    }

    fn exec_now(&mut self, context: &'static str, sql: &'static str, args: &[Arg]) -> Result<u64, StoreError> {
        let mut st = self.bind(context, sql, args)?;
        let n = st.raw_execute().map_err(sqlite(context))?;
        Ok(n as u64)
    }

    fn rows_now<T, F: Fn(&dyn RowRead) -> Result<T, StoreError>>(
        &mut self,
        context: &'static str,
        sql: &'static str,
        args: &[Arg],
        read: F,
    ) -> Result<Vec<T>, StoreError> {
        let mut st = self.bind(context, sql, args)?;
        let mut rows = st.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite(context))? {
            out.push(read(row)?);
        }
        Ok(out)
    }
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Int(Some(v)) => ToSqlOutput::Owned(SqlValue::Integer(*v)),
            Arg::Text(Some(v)) => ToSqlOutput::from(v.as_str()),
            Arg::Int(None) | Arg::Text(None) => ToSqlOutput::Owned(SqlValue::Null),
            Arg::Blob(v) => ToSqlOutput::from(v.as_slice()),
            Arg::Uuid(v) => ToSqlOutput::Owned(SqlValue::Text(v.hyphenated().to_string())),
        })
    }
}

fn column(col: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| StoreError::corrupt(col, e)
}

impl RowRead for rusqlite::Row<'_> {
    fn i64(&self, col: &'static str) -> Result<i64, StoreError> {
        self.get(col).map_err(column(col))
    }
    fn opt_i64(&self, col: &'static str) -> Result<Option<i64>, StoreError> {
        self.get(col).map_err(column(col))
    }
    fn text(&self, col: &'static str) -> Result<String, StoreError> {
        self.get(col).map_err(column(col))
    }
    fn opt_text(&self, col: &'static str) -> Result<Option<String>, StoreError> {
        self.get(col).map_err(column(col))
    }
    fn blob(&self, col: &'static str) -> Result<Vec<u8>, StoreError> {
        self.get(col).map_err(column(col))
    }
    fn opt_blob(&self, col: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(col).map_err(column(col))
    }
    fn uuid(&self, col: &'static str) -> Result<Uuid, StoreError> {
        let s: String = self.get(col).map_err(column(col))?;
        Uuid::try_parse(&s).map_err(|e| StoreError::corrupt(col, e))
    }
}

/// The writer's statements complete at once: its futures are ready when created.
impl Conn for Writer {
    const DIALECT: Dialect = Dialect::Sqlite;

    fn exec(
        &mut self,
        context: &'static str,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        ready(self.exec_now(context, sql, &args))
    }

    fn rows<T: Send, F: Fn(&dyn RowRead) -> Result<T, StoreError> + Send>(
        &mut self,
        context: &'static str,
        sql: &'static str,
        args: Vec<Arg>,
        read: F,
    ) -> impl Future<Output = Result<Vec<T>, StoreError>> + Send {
        ready(self.rows_now(context, sql, &args, read))
    }

    fn known_head(&self, tenant: &TenantId) -> Option<AuditHead> {
        self.heads.get(tenant).copied()
    }

    fn remember_head(&mut self, tenant: &TenantId, head: AuditHead) {
        self.heads.insert(tenant.clone(), head);
    }
}

/// Runs a job to completion on this thread. Its statements never wait, so it finishes on the
/// first poll.
fn run_now(run: Run, w: &mut Writer) -> Result<Value, StoreError> {
    run(w).now_or_never().unwrap_or_else(|| Err(StoreError::corrupt("writer", "an operation did not complete at once")))
}

fn writer_loop(mut w: Writer, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut held: Option<Job> = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match rx.blocking_recv() {
                Some(job) => job,
                None => break,
            },
        };
        w.heads.clear();
        if first.solo {
            let result = run_now(first.run, &mut w);
            (first.reply)(result);
            continue;
        }
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) if job.solo => {
                    held = Some(job);
                    break;
                }
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut w, batch);
        w.heads.clear();
    }
}

/// Runs a batch of writes in one transaction and answers each after the commit.
fn run_batch(w: &mut Writer, batch: Vec<Job>) {
    if let Err(e) = w.raw("BEGIN IMMEDIATE", "starting a write transaction") {
        let e = Arc::new(e);
        for job in batch {
            (job.reply)(Err(StoreError::Commit(e.clone())));
        }
        return;
    }
    // A lone write needs no savepoint: on failure the whole transaction is rolled back.
    let savepoints = batch.len() > 1;
    // `None`: not run, because the transaction broke before its turn.
    let mut done: Vec<(Reply, Option<Result<Value, StoreError>>)> = Vec::with_capacity(batch.len());
    let mut broken: Option<StoreError> = None;
    for job in batch {
        if broken.is_some() {
            done.push((job.reply, None));
            continue;
        }
        if savepoints && let Err(e) = w.raw("SAVEPOINT w", "starting a write") {
            broken = Some(e);
            done.push((job.reply, None));
            continue;
        }
        let result = run_now(job.run, w);
        // Savepoints are left to nest rather than released one by one: `ROLLBACK TO w` undoes
        // back to the latest `w`, this write's, and `COMMIT` releases them all.
        if result.is_err() {
            w.heads.clear();
            if savepoints && let Err(e) = w.raw("ROLLBACK TO w", "undoing a failed write") {
                broken = Some(e);
            }
        }
        done.push((job.reply, Some(result)));
    }
    let any_ok = done.iter().any(|(_, r)| matches!(r, Some(Ok(_))));
    let outcome = match broken {
        Some(e) => Err(e),
        // Every write failed (and was undone): nothing to commit.
        None if !any_ok => w.raw("ROLLBACK", "rolling back"),
        None => w.raw("COMMIT", "committing"),
    };
    match outcome {
        Ok(()) => {
            for (reply, result) in done {
                reply(result.unwrap_or_else(|| Err(StoreError::Closed)));
            }
        }
        Err(e) => {
            // The connection may still be in the transaction; end it so the next batch can begin.
            let _ = w.raw("ROLLBACK", "rolling back");
            let e = Arc::new(e);
            for (reply, result) in done {
                reply(match result {
                    Some(Err(own)) => Err(own),
                    Some(Ok(_)) | None => Err(StoreError::Commit(e.clone())),
                });
            }
        }
    }
}
