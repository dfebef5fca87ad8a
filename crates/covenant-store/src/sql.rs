//! The thin layer between the store's operations and sqlx: one connection trait that both
//! backends implement, so that every operation is written once (in `ops`) and runs on either.
//!
//! Statements use `$1`, `$2`, … placeholders, which both PostgreSQL and SQLite accept; the few
//! statements that differ between the two are chosen by [`Dialect`].

use std::future::Future;

use sqlx::{PgConnection, Row, SqliteConnection};
use uuid::Uuid;

use covenant_core::TenantId;

use crate::StoreError;
use crate::model::AuditHead;

/// Which SQL dialect a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value. Nulls are typed, because PostgreSQL refuses an untyped (text) null for a
/// `BIGINT` column.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Vec<u8>),
    /// A UUID: `UUID` in PostgreSQL, hyphenated lowercase `TEXT` in SQLite.
    Uuid(Uuid),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_owned()))
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}

impl From<&[u8; 32]> for Arg {
    fn from(v: &[u8; 32]) -> Arg {
        Arg::Blob(v.to_vec())
    }
}

impl From<Uuid> for Arg {
    fn from(v: Uuid) -> Arg {
        Arg::Uuid(v)
    }
}

/// Builds a `Vec<Arg>` from values of mixed types.
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::sql::Arg::from($v)),*] };
}
pub(crate) use args;

/// Typed access to one result row, by column name.
pub(crate) trait RowRead {
    fn i64(&self, col: &'static str) -> Result<i64, StoreError>;
    fn opt_i64(&self, col: &'static str) -> Result<Option<i64>, StoreError>;
    fn text(&self, col: &'static str) -> Result<String, StoreError>;
    fn opt_text(&self, col: &'static str) -> Result<Option<String>, StoreError>;
    fn blob(&self, col: &'static str) -> Result<Vec<u8>, StoreError>;
    fn opt_blob(&self, col: &'static str) -> Result<Option<Vec<u8>>, StoreError>;
    fn uuid(&self, col: &'static str) -> Result<Uuid, StoreError>;

    /// A 32-byte hash column.
    fn hash(&self, col: &'static str) -> Result<[u8; 32], StoreError> {
        let v = self.blob(col)?;
        <[u8; 32]>::try_from(v.as_slice()).map_err(|_| StoreError::corrupt(col, format!("{} bytes, not 32", v.len())))
    }
}

fn column(col: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::corrupt(col, e)
}

/// A connection (or a transaction on one) that runs the store's statements.
pub(crate) trait Conn: Send {
    const DIALECT: Dialect;

    /// Runs a statement; returns the number of rows it changed.
    fn exec(
        &mut self,
        context: &'static str,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Runs a query and reads every row with `read`.
    fn rows<T: Send, F: Fn(&dyn RowRead) -> Result<T, StoreError> + Send>(
        &mut self,
        context: &'static str,
        sql: &'static str,
        args: Vec<Arg>,
        read: F,
    ) -> impl Future<Output = Result<Vec<T>, StoreError>> + Send;

    /// The tenant's audit head as this connection last wrote it while holding the write lock it
    /// still holds, if it knows it (the SQLite writer, within one batch): saves reading it.
    fn known_head(&self, _tenant: &TenantId) -> Option<AuditHead> {
        None
    }

    /// Tells the connection the head it just wrote.
    fn remember_head(&mut self, _tenant: &TenantId, _head: AuditHead) {}

    /// Runs a query that returns at most one row.
    fn row<T: Send, F: Fn(&dyn RowRead) -> Result<T, StoreError> + Send>(
        &mut self,
        context: &'static str,
        sql: &'static str,
        args: Vec<Arg>,
        read: F,
    ) -> impl Future<Output = Result<Option<T>, StoreError>> + Send {
        async move { Ok(self.rows(context, sql, args, read).await?.into_iter().next()) }
    }
}

macro_rules! bind_all {
    ($q:expr, $args:expr, $uuid:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Blob(v) => q.bind(v),
                Arg::Uuid(v) => q.bind($uuid(v)),
            };
        }
        q
    }};
}

impl RowRead for sqlx::sqlite::SqliteRow {
    fn i64(&self, col: &'static str) -> Result<i64, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn opt_i64(&self, col: &'static str) -> Result<Option<i64>, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn text(&self, col: &'static str) -> Result<String, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn opt_text(&self, col: &'static str) -> Result<Option<String>, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn blob(&self, col: &'static str) -> Result<Vec<u8>, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn opt_blob(&self, col: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn uuid(&self, col: &'static str) -> Result<Uuid, StoreError> {
        let s: String = self.try_get(col).map_err(column(col))?;
        Uuid::try_parse(&s).map_err(|e| StoreError::corrupt(col, e))
    }
}

impl Conn for SqliteConnection {
    const DIALECT: Dialect = Dialect::Sqlite;

    async fn exec(&mut self, context: &'static str, sql: &'static str, args: Vec<Arg>) -> Result<u64, StoreError> {
        let q = bind_all!(sqlx::query(sql), args, |u: Uuid| u.hyphenated().to_string());
        Ok(q.execute(&mut *self).await.map_err(StoreError::backend(context))?.rows_affected())
    }

    async fn rows<T: Send, F: Fn(&dyn RowRead) -> Result<T, StoreError> + Send>(
        &mut self,
        context: &'static str,
        sql: &'static str,
        args: Vec<Arg>,
        read: F,
    ) -> Result<Vec<T>, StoreError> {
        let q = bind_all!(sqlx::query(sql), args, |u: Uuid| u.hyphenated().to_string());
        let rows = q.fetch_all(&mut *self).await.map_err(StoreError::backend(context))?;
        rows.iter().map(|r| read(r)).collect()
    }
}

impl RowRead for sqlx::postgres::PgRow {
    fn i64(&self, col: &'static str) -> Result<i64, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn opt_i64(&self, col: &'static str) -> Result<Option<i64>, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn text(&self, col: &'static str) -> Result<String, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn opt_text(&self, col: &'static str) -> Result<Option<String>, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn blob(&self, col: &'static str) -> Result<Vec<u8>, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn opt_blob(&self, col: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
        self.try_get(col).map_err(column(col))
    }
    fn uuid(&self, col: &'static str) -> Result<Uuid, StoreError> {
        self.try_get(col).map_err(column(col))
    }
}

impl Conn for PgConnection {
    const DIALECT: Dialect = Dialect::Postgres;

    async fn exec(&mut self, context: &'static str, sql: &'static str, args: Vec<Arg>) -> Result<u64, StoreError> {
        let q = bind_all!(sqlx::query(sql), args, |u: Uuid| u);
        Ok(q.execute(&mut *self).await.map_err(StoreError::backend(context))?.rows_affected())
    }

    async fn rows<T: Send, F: Fn(&dyn RowRead) -> Result<T, StoreError> + Send>(
        &mut self,
        context: &'static str,
        sql: &'static str,
        args: Vec<Arg>,
        read: F,
    ) -> Result<Vec<T>, StoreError> {
        let q = bind_all!(sqlx::query(sql), args, |u: Uuid| u);
        let rows = q.fetch_all(&mut *self).await.map_err(StoreError::backend(context))?;
        rows.iter().map(|r| read(r)).collect()
    }
}
