//! Covenant's own store: tenants, API keys, data subjects and their identities and flags,
//! lifecycle events, the append-only consent ledger, and a tamper-evident audit chain per tenant,
//! on SQLite (one file, for a single server) or PostgreSQL.
//!
//! ```no_run
//! # async fn demo() -> Result<(), covenant_store::StoreError> {
//! use covenant_core::audit::AuditDraft;
//! use covenant_store::{NewTenant, SqlStore, Store};
//!
//! let store = SqlStore::connect("sqlite://covenant.db?mode=rwc").await?;
//! store.migrate().await?;
//! let tenant = covenant_core::TenantId::parse("acme").expect("a valid tenant name");
//! store
//!     .create_tenant(
//!         NewTenant { id: tenant.clone(), name: "Acme".into(), created_at: jiff::Timestamp::now() },
//!         AuditDraft::new("admin", "tenant.create", "tenant:acme", ""),
//!     )
//!     .await?;
//! assert_eq!(store.verify_audit(&tenant).await?, Ok(1));
//! # Ok(()) }
//! ```
//!
//! # The audit chain
//! Every write appends exactly one audit entry, sealed with [`covenant_core::audit::AuditEntry::seal`]
//! over the previous entry's hash, in the same transaction as the write. The previous hash and
//! sequence number are read from the tenant's `audit_heads` row under the write lock (PostgreSQL:
//! `SELECT … FOR UPDATE`; SQLite: the database write lock taken by `BEGIN IMMEDIATE`), so writers
//! in several processes still produce one gapless, valid chain. [`Store::verify_audit`] checks it
//! in constant memory and also compares its end with the head, which catches entries removed from
//! the end. Reads of personal data through the API are recorded the same way: the read and its
//! audit entry are one transaction ([`Store::read_subject`], [`Store::read_consent_history`]).
//! The consent ledger and the audit log refuse `UPDATE` and `DELETE` by trigger.
//!
//! # Representations
//! | value | SQLite | PostgreSQL |
//! |---|---|---|
//! | tenant id | `TEXT` slug | `TEXT` slug |
//! | subject, record and key ids | `TEXT`, hyphenated lowercase UUID | `UUID` |
//! | timestamps | `INTEGER` µs since the Unix epoch, UTC | `BIGINT` µs since the Unix epoch, UTC |
//! | dates (birth date) | `TEXT` `YYYY-MM-DD` | `TEXT` `YYYY-MM-DD` |
//! | hashes | `BLOB`, 32 bytes | `BYTEA`, 32 bytes |
//! | enumerations | `TEXT` wire name (`given`, `web_form`) | `TEXT` wire name |
//! | identities | `TEXT` key (`email:ada@example.com`) | `TEXT` key |
//!
//! Timestamps are integers in both stores so that both keep exactly the same values (the audit
//! hash covers them) without a date-time library in the driver; times are truncated to whole
//! microseconds on write and returned as stored.
//!
//! # Durability and speed on SQLite
//! The database runs in WAL mode with a busy timeout (5 s by default). One writer connection,
//! on its own thread, takes writes from a queue and runs their statements synchronously
//! (rusqlite, on the same SQLite library as sqlx, whose per-statement hand-off to a worker thread
//! cost more than the statements); reads use a pool of read-only sqlx connections, and an
//! in-memory database is read through the writer. Concurrent writes are committed together
//! (group commit, up to 256 per transaction, each after its own savepoint, so one failing write
//! is undone alone). By default `synchronous=FULL` ([`Durability::Full`]): a write is
//! acknowledged only once the log is on disk, so it survives power loss; [`Durability::Normal`]
//! keeps writes across a crash of the process but may lose the last ones on an operating-system
//! crash or power loss.
//!
//! Measured with `cargo bench -p covenant-store` (2 shared cores, a virtual disk whose `fsync`
//! takes about 30 µs): consent appends, each with its audit entry, 7,500/s from one task and
//! 13,300/s from 8 concurrent tasks with `FULL`; 10,700/s and 14,800/s with `NORMAL`. Audit
//! verification ([`SqlStore::verify_audit_progress`]: one range of the chain per core, raw
//! cursors on read-only connections) costs about 1 µs of CPU per entry: 1.66 to 1.69 million
//! entries a second when both cores are free, 570,000 to 840,000 while other work holds one
//! (docs/benchmarks.md).
//!
//! # Several processes, one PostgreSQL database
//! Writes that change a subject's state or revoke an API key announce it with `pg_notify` in
//! their transaction (delivered on commit only); [`SqlStore::watch`] follows the announcements,
//! so that servers sharing the database can drop what they cached ([`Change`]).

mod apikey;
mod error;
pub mod journal;
mod migrations;
mod model;
mod ops;
mod postgres;
mod requests;
mod sql;
mod sqlite;
mod store;
mod verify;

pub use apikey::{SECRET_PREFIX, display_prefix, hash_secret};
pub use error::{AuditError, StoreError};
pub use journal::{FinishRun, JournalStore, NewRun, NewStep, Run, RunId, RunState, Step, StepState};
pub use model::{
    ApiKey, ApiKeyId, AuditHead, ConsentCursor, ConsentPage, CreatedApiKey, FlagKind, NewApiKey, NewSubject, Role,
    Subject, SubjectFlag, Tenant, UnknownRole, Written,
};
pub use postgres::PostgresOptions;
pub use postgres::{Change, Watch};
pub use requests::{Answer, AnswerFile, AnswerToken, MAX_ANSWER_FILE_BYTES, MAX_ANSWER_FILES, NewAnswer};
pub use requests::{
    Attachment, CODE_ATTEMPTS, CODE_TTL, CODES_PER_HOUR, CodeCheck, CodeRefused, Customer, DataRequest, HistoryEntry,
    Job, JobId, JobState, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_JSON_BYTES, NewAttachment, NewCode, NewCustomer,
    NewJob, NewRequest, RequestFilter, RequestSource, RequestStore, RequestUpdate, Retry, backoff, hash_code,
};
pub use sqlite::{Durability, SqliteOptions};
pub use store::{AUDIT_PAGE, Backend, CONSENT_PAGE, MAX_PAGE, NewTenant, SqlStore, Store, Verified};
pub use store::{Also, AlsoWritten, Progress, verify_paged};
