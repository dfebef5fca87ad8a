//! The SQLite backend: one writer connection owned by a task, and a pool of read-only readers.
//!
//! Writes from every caller of one store queue up for the writer task, which runs them in
//! batches: one `BEGIN IMMEDIATE` transaction, each write inside its own savepoint (so a failing
//! write rolls back alone), one `COMMIT` (group commit). With `synchronous=FULL` that is one
//! `fsync` of the write-ahead log per batch instead of one per write. A caller is answered only
//! after the batch has committed. Several processes may open the same file: `BEGIN IMMEDIATE`
//! takes SQLite's write lock, waiting up to the busy timeout for another process's transaction,
//! and the audit head is read under that lock, so the chain stays gapless.

use std::any::Any;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::migrations;

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
type Run = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<Value, StoreError>> + Send>;
type Reply = Box<dyn FnOnce(Result<Value, StoreError>) + Send>;

struct Job {
    run: Run,
    reply: Reply,
    /// Run outside any transaction, alone (migrations, reads of an in-memory database).
    solo: bool,
}

pub(crate) struct SqliteBackend {
    jobs: mpsc::Sender<Job>,
    readers: Option<SqlitePool>,
}

fn backend(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    StoreError::backend(context)
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
        let writer = base.connect().await.map_err(backend("opening the database"))?;
        let readers = if in_memory {
            None
        } else {
            let pool = SqlitePoolOptions::new()
                .max_connections(options.readers.max(1))
                .min_connections(0)
                .connect_with(base.clone().read_only(true))
                .await
                .map_err(backend("opening read connections"))?;
            Some(pool)
        };
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer_task(writer, rx, options.max_batch.max(1)));
        Ok(SqliteBackend { jobs: tx, readers })
    }

    async fn submit<T: Send + 'static>(
        &self,
        solo: bool,
        f: impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
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
        f: impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(false, f).await
    }

    /// Runs `f` on a read connection.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &self.readers {
            Some(pool) => {
                let mut conn = pool.acquire().await.map_err(backend("opening a read connection"))?;
                f(&mut conn).await
            }
            None => self.submit(true, f).await,
        }
    }

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        self.submit(true, |c| {
            Box::pin(async move {
                // `run` asks for a connection source it can name for one lifetime; this job's
                // connection is borrowed for any, so call the direct form.
                migrations::migrator(migrations::SQLITE).run_direct(None, c, false).await?;
                Ok(())
            })
        })
        .await
    }

    pub(crate) async fn close(&self) {
        if let Some(pool) = &self.readers {
            pool.close().await;
        }
    }
}

async fn writer_task(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut held: Option<Job> = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        if first.solo {
            let result = (first.run)(&mut conn).await;
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
        run_batch(&mut conn, batch).await;
    }
    let _ = conn.close().await;
}

async fn raw(conn: &mut SqliteConnection, sql: &'static str, context: &'static str) -> Result<(), StoreError> {
    sqlx::raw_sql(sql).execute(&mut *conn).await.map_err(backend(context))?;
    Ok(())
}

/// Runs a batch of writes in one transaction and answers each after the commit.
async fn run_batch(conn: &mut SqliteConnection, batch: Vec<Job>) {
    if let Err(e) = raw(conn, "BEGIN IMMEDIATE", "starting a write transaction").await {
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
        if savepoints && let Err(e) = raw(conn, "SAVEPOINT w", "starting a write").await {
            broken = Some(e);
            done.push((job.reply, None));
            continue;
        }
        let result = (job.run)(conn).await;
        if savepoints {
            let end = if result.is_ok() {
                raw(conn, "RELEASE w", "finishing a write").await
            } else {
                raw(conn, "ROLLBACK TO w; RELEASE w", "undoing a failed write").await
            };
            if let Err(e) = end {
                broken = Some(e);
            }
        }
        done.push((job.reply, Some(result)));
    }
    let any_ok = done.iter().any(|(_, r)| matches!(r, Some(Ok(_))));
    let outcome = match broken {
        Some(e) => Err(e),
        // Every write failed (and was undone): nothing to commit.
        None if !any_ok => raw(conn, "ROLLBACK", "rolling back").await,
        None => raw(conn, "COMMIT", "committing").await,
    };
    match outcome {
        Ok(()) => {
            for (reply, result) in done {
                reply(result.unwrap_or_else(|| Err(StoreError::Closed)));
            }
        }
        Err(e) => {
            // The connection may still be in the transaction; end it so the next batch can begin.
            let _ = raw(conn, "ROLLBACK", "rolling back").await;
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
