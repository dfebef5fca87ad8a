//! The store's errors.

use covenant_core::audit::ChainError;

/// Why a store operation failed. A failed write has written nothing: neither the row nor its
/// audit entry.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing does not exist in this tenant. Another tenant's data is reported exactly like
    /// missing data, never as forbidden, so that ids of other tenants cannot be probed.
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    /// The write contradicts what is stored: a duplicate tenant or record id, an identity that is
    /// already bound to another subject.
    #[error("{0}")]
    Conflict(String),
    /// The input is not acceptable; nothing was written.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A stored value could not be read back (the database was edited by hand, or by a newer
    /// version of Covenant).
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt { what: &'static str, reason: String },
    /// The database failed; `context` tells what the store was doing.
    #[error("database error while {context}: {source}")]
    Backend {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The SQLite writer failed; `context` tells what it was doing.
    #[error("database error while {context}: {source}")]
    Sqlite {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The operating system refused something the store needs.
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The store URL is not one this store understands.
    #[error("unsupported store address `{0}`; use `sqlite://PATH`, `sqlite::memory:` or `postgres://…`")]
    Url(String),
    /// The operating system gave no randomness for a new API key.
    #[error("no randomness available: {0}")]
    Randomness(getrandom::Error),
    /// The transaction this write was part of could not be committed (or could not begin); the
    /// write did not happen. With group commit several writes share the one cause.
    #[error("the write was not committed: {0}")]
    Commit(std::sync::Arc<StoreError>),
    /// The SQLite writer task has stopped (the store is shutting down).
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> StoreError {
        StoreError::Invalid { field, reason: reason.into() }
    }

    pub(crate) fn not_found(what: &'static str, id: impl ToString) -> StoreError {
        StoreError::NotFound { what, id: id.to_string() }
    }

    pub(crate) fn corrupt(what: &'static str, reason: impl ToString) -> StoreError {
        StoreError::Corrupt { what, reason: reason.to_string() }
    }

    pub(crate) fn backend(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Backend { context, source }
    }

    /// Whether the error is the caller's (not found, conflict, invalid input) rather than the
    /// store's.
    pub fn is_client_error(&self) -> bool {
        matches!(self, StoreError::NotFound { .. } | StoreError::Conflict(_) | StoreError::Invalid { .. })
    }
}

/// Why a tenant's audit log does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// An entry was changed, removed or reordered.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The entries form a valid chain but end before the recorded head: entries were removed
    /// from the end.
    #[error(
        "tenant `{tenant}`: the log ends at entry {last} but its head records entry {head} (entries removed from the end)"
    )]
    Truncated { tenant: String, last: u64, head: u64 },
    /// The last entry's hash is not the one recorded in the head.
    #[error("tenant `{tenant}`: entry {seq} does not match the recorded head (the entry or the head was altered)")]
    Head { tenant: String, seq: u64 },
}

impl AuditError {
    /// The sequence number of the first entry found bad.
    pub fn seq(&self) -> u64 {
        match self {
            AuditError::Chain(e) => e.seq(),
            AuditError::Truncated { last, .. } => last + 1,
            AuditError::Head { seq, .. } => *seq,
        }
    }
}
