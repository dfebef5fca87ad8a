//! The [`Store`] trait and [`SqlStore`], its implementation on SQLite and PostgreSQL.

use std::future::Future;
use std::sync::Arc;

use covenant_core::audit::{AuditDraft, AuditEntry, ChainVerifier};
use covenant_core::ledger::ConsentRecord;
use covenant_core::{Identity, LifecycleEvent, SubjectId, TenantId};
use futures_util::stream::{self, Stream, TryStreamExt};
use jiff::Timestamp;

use crate::model::{
    ApiKey, ApiKeyId, AuditHead, ConsentCursor, ConsentPage, CreatedApiKey, FlagKind, NewApiKey, NewSubject, Subject,
    SubjectFlag, Tenant, Written,
};
use crate::postgres::{Change, PgBackend, PostgresOptions, Watch};
use crate::sqlite::{SqliteBackend, SqliteOptions};
use crate::{AuditError, StoreError, apikey, ops};

/// How many entries [`Store::verify_audit`] reads at a time: memory stays flat whatever the
/// length of the log.
pub const AUDIT_PAGE: u32 = 10_000;
/// How many records [`Store::all_consent_records`] reads at a time.
pub const CONSENT_PAGE: u32 = 5_000;
/// The largest page any paged read returns.
pub const MAX_PAGE: u32 = 50_000;

/// The outcome of verifying one tenant's audit chain: the number of entries, or where it breaks.
pub type Verified = Result<u64, AuditError>;

/// What to create a tenant with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTenant {
    pub id: TenantId,
    /// A display name, 1 to 200 characters.
    pub name: String,
    pub created_at: Timestamp,
}

/// A write that rides along with a request's main write, in the same transaction, with its own
/// audit entry: both commit, or neither.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Also {
    /// A ledger record: the `Sec-GPC: 1` signal that came with the request.
    Consent(ConsentRecord, AuditDraft),
    /// A flag on a subject: `under_age` when an event finds the person under the minimum age.
    Flag(SubjectId, SubjectFlag, AuditDraft),
}

/// What an [`Also`] wrote, in the same order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlsoWritten {
    Consent(Written<ConsentRecord>),
    /// The subject with the flag set.
    Flag(Written<Subject>),
}

/// Covenant's store: tenants, API keys, data subjects, lifecycle events, the consent ledger and
/// the per-tenant audit chain.
///
/// Conventions:
/// - Every read and write names its tenant; data of another tenant is reported as not found.
/// - `get_*` fails with [`StoreError::NotFound`]; `find_*` answers `None`.
/// - Every write takes an [`AuditDraft`] from the caller and seals it, with the store's clock,
///   as the next entry of the tenant's audit chain in the same transaction as the write; the
///   entry is returned in [`Written::audit`]. A write that fails writes nothing, neither row nor
///   audit entry.
/// - Input is checked before anything is written ([`StoreError::Invalid`]).
/// - Times are kept to the microsecond; the values returned are the values stored.
pub trait Store: Send + Sync {
    /// Creates or updates the schema. Running it again is a no-op.
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    // --- tenants ---

    /// Creates a tenant and starts its audit chain with `audit` as entry 1. A tenant that already
    /// exists is a [`StoreError::Conflict`].
    fn create_tenant(
        &self,
        tenant: NewTenant,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<Tenant>, StoreError>> + Send;

    fn get_tenant(&self, id: &TenantId) -> impl Future<Output = Result<Tenant, StoreError>> + Send;

    /// Every tenant, by id.
    fn list_tenants(&self) -> impl Future<Output = Result<Vec<Tenant>, StoreError>> + Send;

    // --- API keys ---

    /// Creates an API key with a fresh random secret, returned once in
    /// [`CreatedApiKey::secret`]; only its SHA-256 is stored. The audit draft must not contain
    /// the secret.
    fn create_api_key(
        &self,
        key: NewApiKey,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<CreatedApiKey>, StoreError>> + Send;

    /// The active (not revoked) key whose secret hashes to `hash` ([`crate::hash_secret`]); one
    /// indexed lookup. Keys are unique across tenants, so this needs no tenant.
    fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> impl Future<Output = Result<Option<ApiKey>, StoreError>> + Send;

    /// A tenant's keys, revoked ones included, oldest first.
    fn list_api_keys(&self, tenant: &TenantId) -> impl Future<Output = Result<Vec<ApiKey>, StoreError>> + Send;

    /// Revokes a key at `at`; a key already revoked is a [`StoreError::Conflict`].
    fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<ApiKey>, StoreError>> + Send;

    // --- subjects ---

    /// Registers a data subject with a new id. An identity already bound to another subject of
    /// the tenant is a [`StoreError::Conflict`] naming it, and nothing is registered.
    fn register_subject(
        &self,
        subject: NewSubject,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<Subject>, StoreError>> + Send;

    fn get_subject(&self, tenant: &TenantId, id: SubjectId)
    -> impl Future<Output = Result<Subject, StoreError>> + Send;

    /// The subject an identity is bound to in this tenant.
    fn find_subject_by_identity(
        &self,
        tenant: &TenantId,
        identity: &Identity,
    ) -> impl Future<Output = Result<Option<Subject>, StoreError>> + Send;

    /// Binds one more identity to a subject. Binding an identity the subject already has changes
    /// nothing (but is audited); one bound to another subject is a [`StoreError::Conflict`].
    fn add_identity(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        identity: Identity,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<Subject>, StoreError>> + Send;

    /// Sets a flag, replacing the flag of the same kind if it is set.
    fn set_flag(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        flag: SubjectFlag,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<Subject>, StoreError>> + Send;

    /// Clears a flag; a flag that is not set is [`StoreError::NotFound`].
    fn clear_flag(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        kind: FlagKind,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<Subject>, StoreError>> + Send;

    // --- lifecycle events ---

    fn append_event(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        event: LifecycleEvent,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<LifecycleEvent>, StoreError>> + Send;

    /// A subject's lifecycle events by time (events at the same time in the order appended).
    fn list_events(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
    ) -> impl Future<Output = Result<Vec<LifecycleEvent>, StoreError>> + Send;

    // --- the consent ledger (append-only: there is no update or delete) ---

    /// Appends a record to the ledger. Its tenant and subject must exist; a record id already in
    /// the ledger is a [`StoreError::Conflict`].
    fn append_consent(
        &self,
        record: ConsentRecord,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<ConsentRecord>, StoreError>> + Send;

    /// A subject's records by time (records at the same time in ledger order), ready for
    /// [`covenant_core::ledger::project`].
    fn consent_history(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
    ) -> impl Future<Output = Result<Vec<ConsentRecord>, StoreError>> + Send;

    /// Up to `limit` (at most [`MAX_PAGE`]) of a tenant's records in ledger order, after
    /// `after` (from the start if `None`).
    fn consent_page(
        &self,
        tenant: &TenantId,
        after: Option<ConsentCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<ConsentPage, StoreError>> + Send;

    /// Every record of a tenant in ledger order, read a page at a time, for warming a cache.
    /// On PostgreSQL, a record committed while the stream runs may be missed if a concurrent
    /// transaction took its ledger position earlier: warm the cache first, then follow writes.
    fn all_consent_records<'a>(
        &'a self,
        tenant: &'a TenantId,
    ) -> impl Stream<Item = Result<ConsentRecord, StoreError>> + Send + 'a {
        stream::try_unfold(Some(None), move |state: Option<Option<ConsentCursor>>| async move {
            let Some(after) = state else { return Ok::<_, StoreError>(None) };
            let page = self.consent_page(tenant, after, CONSENT_PAGE).await?;
            let records = stream::iter(page.records.into_iter().map(Ok::<_, StoreError>));
            Ok(Some((records, page.next.map(Some))))
        })
        .try_flatten()
    }

    // --- the audit log ---

    /// Records a read of personal data (through the API) as an audit entry.
    fn record_read(
        &self,
        tenant: &TenantId,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<AuditEntry, StoreError>> + Send;

    // --- one request, one transaction ---

    /// [`Store::register_subject`], then the writes `also` makes from the registered subject (its
    /// `Sec-GPC` signal), in the same transaction.
    fn register_subject_with(
        &self,
        subject: NewSubject,
        audit: AuditDraft,
        also: impl FnOnce(&Subject) -> Vec<Also> + Send + 'static,
    ) -> impl Future<Output = Result<(Written<Subject>, Vec<AlsoWritten>), StoreError>> + Send;

    /// [`Store::add_identity`], then `also`, in the same transaction.
    fn add_identity_with(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        identity: Identity,
        at: Timestamp,
        audit: AuditDraft,
        also: Vec<Also>,
    ) -> impl Future<Output = Result<(Written<Subject>, Vec<AlsoWritten>), StoreError>> + Send;

    /// [`Store::append_event`], then the writes `also` makes from the subject (as it is after
    /// the event), in the same transaction.
    fn append_event_with(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        event: LifecycleEvent,
        audit: AuditDraft,
        also: impl FnOnce(&Subject) -> Vec<Also> + Send + 'static,
    ) -> impl Future<Output = Result<(Written<LifecycleEvent>, Vec<AlsoWritten>), StoreError>> + Send;

    /// [`Store::append_consent`], then `also`, in the same transaction.
    fn append_consent_with(
        &self,
        record: ConsentRecord,
        audit: AuditDraft,
        also: Vec<Also>,
    ) -> impl Future<Output = Result<(Written<ConsentRecord>, Vec<AlsoWritten>), StoreError>> + Send;

    // --- audited reads: the read and its audit entry in one transaction ---

    /// A subject and its lifecycle events, read through the API: the read and its audit entry
    /// are one transaction, so data is never returned without its entry.
    fn read_subject(
        &self,
        tenant: &TenantId,
        id: SubjectId,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<(Subject, Vec<LifecycleEvent>)>, StoreError>> + Send;

    /// The subject an identity belongs to, and its events, like [`Store::read_subject`]; the
    /// audit entry is drafted from the subject found. No such subject is
    /// [`StoreError::NotFound`], and nothing is recorded.
    fn lookup_subject(
        &self,
        tenant: &TenantId,
        identity: &Identity,
        audit: impl FnOnce(&Subject) -> AuditDraft + Send + 'static,
    ) -> impl Future<Output = Result<Written<(Subject, Vec<LifecycleEvent>)>, StoreError>> + Send;

    /// A subject's consent history and its audit entry, in one transaction; the entry is drafted
    /// from the records read.
    fn read_consent_history(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        audit: impl FnOnce(&[ConsentRecord]) -> AuditDraft + Send + 'static,
    ) -> impl Future<Output = Result<Written<Vec<ConsentRecord>>, StoreError>> + Send;

    /// Records a use of a subject's data that returns none of it; the subject must exist in the
    /// tenant ([`StoreError::NotFound`] otherwise, and nothing is recorded).
    fn record_subject_read(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<AuditEntry, StoreError>> + Send;

    /// Up to `limit` (at most [`MAX_PAGE`]) entries of a tenant's chain with `seq > after_seq`,
    /// in seq order.
    fn audit_entries(
        &self,
        tenant: &TenantId,
        after_seq: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// The last entry's seq and hash; [`StoreError::NotFound`] for an unknown tenant.
    fn audit_head(&self, tenant: &TenantId) -> impl Future<Output = Result<AuditHead, StoreError>> + Send;

    /// Verifies a tenant's chain up to its head, reading [`AUDIT_PAGE`] entries at a time.
    /// The outer error is the store's; the inner one tells where the chain is broken. Entries
    /// appended while it runs are not checked.
    fn verify_audit(&self, tenant: &TenantId) -> impl Future<Output = Result<Verified, StoreError>> + Send {
        verify_paged(self, tenant)
    }

    /// Verifies every tenant's chain.
    fn verify_all_audit(&self) -> impl Future<Output = Result<Vec<(TenantId, Verified)>, StoreError>> + Send {
        async move {
            let mut out = Vec::new();
            for t in self.list_tenants().await? {
                let result = self.verify_audit(&t.id).await?;
                out.push((t.id, result));
            }
            Ok(out)
        }
    }
}

/// Verifies a tenant's chain through [`Store::audit_entries`], a page at a time: what
/// [`Store::verify_audit`] does unless a store has a faster way.
pub async fn verify_paged<S: Store + ?Sized>(store: &S, tenant: &TenantId) -> Result<Verified, StoreError> {
    let head = store.audit_head(tenant).await?;
    let mut verifier = ChainVerifier::new(tenant.clone());
    let mut last_hash = covenant_core::audit::GENESIS;
    while verifier.verified() < head.seq {
        let want = u32::try_from(head.seq - verifier.verified()).unwrap_or(AUDIT_PAGE).min(AUDIT_PAGE);
        let page = store.audit_entries(tenant, verifier.verified(), want).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            if let Err(err) = verifier.push(e) {
                return Ok(Err(err.into()));
            }
            last_hash = e.hash;
        }
    }
    let tenant = tenant.as_str().to_owned();
    if verifier.verified() < head.seq {
        return Ok(Err(AuditError::Truncated { tenant, last: verifier.verified(), head: head.seq }));
    }
    if last_hash != head.hash {
        return Ok(Err(AuditError::Head { tenant, seq: head.seq }));
    }
    Ok(Ok(head.seq))
}

/// Told how many more audit entries have been read, while a chain is verified.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Which database a [`SqlStore`] is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub(crate) enum Inner {
    Sqlite(SqliteBackend),
    Postgres(PgBackend),
}

/// The store on SQLite or PostgreSQL, chosen by URL.
pub struct SqlStore {
    pub(crate) inner: Inner,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Opens a store with default settings: `sqlite://PATH` (add `?mode=rwc` to create the file),
    /// `sqlite::memory:`, or `postgres://USER@HOST:PORT/DATABASE`. Does not migrate.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        if url.starts_with("sqlite:") {
            SqlStore::open_sqlite(url, &SqliteOptions::default()).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            SqlStore::open_postgres(url, &PostgresOptions::default()).await
        } else {
            Err(StoreError::Url(url.to_owned()))
        }
    }

    pub async fn open_sqlite(url: &str, options: &SqliteOptions) -> Result<SqlStore, StoreError> {
        Ok(SqlStore { inner: Inner::Sqlite(SqliteBackend::open(url, options).await?) })
    }

    pub async fn open_postgres(url: &str, options: &PostgresOptions) -> Result<SqlStore, StoreError> {
        Ok(SqlStore { inner: Inner::Postgres(PgBackend::open(url, options).await?) })
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Verifies a tenant's audit chain like [`Store::verify_audit`], calling `progress` with the
    /// entries read as it goes (every few thousand).
    ///
    /// SQLite: on a read-only connection of its own, in one read transaction, with a raw cursor;
    /// PostgreSQL: in one read-only repeatable-read transaction, one streamed query. On both the
    /// hashes are recomputed on a second thread while the rows are read and linked in order (see
    /// the `verify` module); the answer is the same as entry by entry, the first bad entry.
    pub async fn verify_audit_progress(&self, tenant: &TenantId, progress: Progress) -> Result<Verified, StoreError> {
        match &self.inner {
            Inner::Sqlite(b) => match b.verify_audit(tenant, progress.clone()).await {
                Some(result) => result,
                None => {
                    let result = verify_paged(self, tenant).await;
                    if let Ok(Ok(n)) = &result {
                        progress(*n);
                    }
                    result
                }
            },
            Inner::Postgres(b) => b.verify_audit(tenant, &*progress).await,
        }
    }

    /// Follows the changes every store on the same database commits to state that servers
    /// cache (subjects, API keys), calling `on` with each in commit order, from a task of its
    /// own, until the returned [`Watch`] is dropped. PostgreSQL only (`LISTEN` on a connection
    /// of its own; a change is seen after its notice is delivered, typically within
    /// milliseconds of the commit); `None` on SQLite, where one server process holds the
    /// database. Must be called inside a Tokio runtime.
    ///
    /// `on` is first told [`Change::Listening`]; when the connection is lost it is told
    /// [`Change::Lost`] (changes are being missed: cached state must not be trusted), and on
    /// reconnecting [`Change::Listening`] with `reconnected` (drop everything cached).
    pub fn watch(&self, on: impl FnMut(Change) + Send + 'static) -> Option<Watch> {
        match &self.inner {
            Inner::Sqlite(_) => None,
            Inner::Postgres(b) => Some(b.watch(on)),
        }
    }

    /// Closes the connections. Writes already acknowledged are stored; the store must not be
    /// used afterwards.
    pub async fn close(&self) {
        match &self.inner {
            Inner::Sqlite(b) => b.close().await,
            Inner::Postgres(b) => b.close().await,
        }
    }
}

/// Runs `$body` (an expression using the connection `$c`) as a read or a write on whichever
/// backend the store is on; the body is compiled once per backend.
macro_rules! on {
    ($self:ident . write, |$c:ident| $body:expr) => {
        match &$self.inner {
            Inner::Sqlite(b) => b.write(move |$c| Box::pin(async move { $body })).await,
            Inner::Postgres(b) => b.write(move |$c| Box::pin(async move { $body })).await,
        }
    };
    ($self:ident . read, |$c:ident| $body:expr) => {
        match &$self.inner {
            Inner::Sqlite(b) => match b.pool() {
                Some(pool) => SqliteBackend::read_pool(pool, move |$c| Box::pin(async move { $body })).await,
                None => b.read_on_writer(move |$c| Box::pin(async move { $body })).await,
            },
            Inner::Postgres(b) => b.read(move |$c| Box::pin(async move { $body })).await,
        }
    };
}
#[allow(unused_imports)] // used by the store's other modules (requests, journal)
pub(crate) use on;

pub(crate) fn written<T>((value, audit): (T, AuditEntry)) -> Written<T> {
    Written { value, audit }
}

fn page_limit(limit: u32) -> Result<u32, StoreError> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(StoreError::invalid("page size", format!("{limit} is not between 1 and {MAX_PAGE}")))
    }
}

impl Store for SqlStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Sqlite(b) => b.migrate().await,
            Inner::Postgres(b) => b.migrate().await,
        }
    }

    async fn create_tenant(&self, tenant: NewTenant, audit: AuditDraft) -> Result<Written<Tenant>, StoreError> {
        ops::check_tenant(&tenant)?;
        ops::check_draft(&audit)?;
        on!(self.write, |c| ops::create_tenant(c, tenant, audit).await.map(written))
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Tenant, StoreError> {
        let id = id.clone();
        on!(self.read, |c| ops::get_tenant(c, &id).await)
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        on!(self.read, |c| ops::list_tenants(c).await)
    }

    async fn create_api_key(&self, key: NewApiKey, audit: AuditDraft) -> Result<Written<CreatedApiKey>, StoreError> {
        ops::check_api_key(&key)?;
        ops::check_draft(&audit)?;
        let secret = apikey::generate_secret()?;
        let prefix = apikey::display_prefix(&secret).to_owned();
        let hash = apikey::hash_secret(&secret);
        let w = on!(self.write, |c| ops::create_api_key(c, key, prefix, hash, audit).await.map(written))?;
        Ok(Written { value: CreatedApiKey { key: w.value, secret }, audit: w.audit })
    }

    async fn find_api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        let hash = *hash;
        on!(self.read, |c| ops::find_api_key(c, &hash).await)
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let tenant = tenant.clone();
        on!(self.read, |c| ops::list_api_keys(c, &tenant).await)
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: ApiKeyId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<Written<ApiKey>, StoreError> {
        ops::check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| ops::revoke_api_key(c, &tenant, id, at, audit).await.map(written))
    }

    async fn register_subject(&self, subject: NewSubject, audit: AuditDraft) -> Result<Written<Subject>, StoreError> {
        ops::check_subject(&subject)?;
        ops::check_draft(&audit)?;
        on!(self.write, |c| ops::register_subject(c, subject, audit).await.map(written))
    }

    async fn get_subject(&self, tenant: &TenantId, id: SubjectId) -> Result<Subject, StoreError> {
        let tenant = tenant.clone();
        on!(self.read, |c| ops::get_subject(c, &tenant, id).await)
    }

    async fn find_subject_by_identity(
        &self,
        tenant: &TenantId,
        identity: &Identity,
    ) -> Result<Option<Subject>, StoreError> {
        let (tenant, identity) = (tenant.clone(), identity.clone());
        on!(self.read, |c| ops::find_subject(c, &tenant, &identity).await)
    }

    async fn add_identity(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        identity: Identity,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<Written<Subject>, StoreError> {
        ops::check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| ops::add_identity(c, &tenant, subject, identity, at, audit).await.map(written))
    }

    async fn set_flag(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        flag: SubjectFlag,
        audit: AuditDraft,
    ) -> Result<Written<Subject>, StoreError> {
        ops::check_flag(&flag)?;
        ops::check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| ops::set_flag(c, &tenant, subject, flag, audit).await.map(written))
    }

    async fn clear_flag(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        kind: FlagKind,
        audit: AuditDraft,
    ) -> Result<Written<Subject>, StoreError> {
        ops::check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| ops::clear_flag(c, &tenant, subject, kind, audit).await.map(written))
    }

    async fn append_event(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        event: LifecycleEvent,
        audit: AuditDraft,
    ) -> Result<Written<LifecycleEvent>, StoreError> {
        ops::check_event(&event)?;
        ops::check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| ops::append_event(c, &tenant, subject, event, audit).await.map(written))
    }

    async fn list_events(&self, tenant: &TenantId, subject: SubjectId) -> Result<Vec<LifecycleEvent>, StoreError> {
        let tenant = tenant.clone();
        on!(self.read, |c| ops::events(c, &tenant, subject).await)
    }

    async fn append_consent(
        &self,
        record: ConsentRecord,
        audit: AuditDraft,
    ) -> Result<Written<ConsentRecord>, StoreError> {
        ops::check_consent(&record)?;
        ops::check_draft(&audit)?;
        on!(self.write, |c| ops::append_consent(c, record, audit).await.map(written))
    }

    async fn consent_history(&self, tenant: &TenantId, subject: SubjectId) -> Result<Vec<ConsentRecord>, StoreError> {
        let tenant = tenant.clone();
        on!(self.read, |c| ops::consent_history(c, &tenant, subject).await)
    }

    async fn consent_page(
        &self,
        tenant: &TenantId,
        after: Option<ConsentCursor>,
        limit: u32,
    ) -> Result<ConsentPage, StoreError> {
        let limit = page_limit(limit)?;
        let tenant = tenant.clone();
        on!(self.read, |c| ops::consent_page(c, &tenant, after, limit).await)
    }

    async fn record_read(&self, tenant: &TenantId, audit: AuditDraft) -> Result<AuditEntry, StoreError> {
        ops::check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| ops::append_audit(c, &tenant, audit).await)
    }

    async fn audit_entries(
        &self,
        tenant: &TenantId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = page_limit(limit)?;
        let tenant = tenant.clone();
        on!(self.read, |c| ops::audit_entries(c, &tenant, after_seq, limit).await)
    }

    async fn audit_head(&self, tenant: &TenantId) -> Result<AuditHead, StoreError> {
        let tenant = tenant.clone();
        on!(self.read, |c| ops::audit_head(c, &tenant).await)
    }

    async fn verify_audit(&self, tenant: &TenantId) -> Result<Verified, StoreError> {
        self.verify_audit_progress(tenant, Arc::new(|_| {})).await
    }

    async fn register_subject_with(
        &self,
        subject: NewSubject,
        audit: AuditDraft,
        also: impl FnOnce(&Subject) -> Vec<Also> + Send + 'static,
    ) -> Result<(Written<Subject>, Vec<AlsoWritten>), StoreError> {
        ops::check_subject(&subject)?;
        ops::check_draft(&audit)?;
        on!(self.write, |c| {
            let (s, entry) = ops::register_subject(c, subject, audit).await?;
            let more = ops::also(c, &s.tenant, also(&s)).await?;
            Ok((Written { value: s, audit: entry }, more))
        })
    }

    async fn add_identity_with(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        identity: Identity,
        at: Timestamp,
        audit: AuditDraft,
        also: Vec<Also>,
    ) -> Result<(Written<Subject>, Vec<AlsoWritten>), StoreError> {
        ops::check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| {
            let w = ops::add_identity(c, &tenant, subject, identity, at, audit).await.map(written)?;
            Ok((w, ops::also(c, &tenant, also).await?))
        })
    }

    async fn append_event_with(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        event: LifecycleEvent,
        audit: AuditDraft,
        also: impl FnOnce(&Subject) -> Vec<Also> + Send + 'static,
    ) -> Result<(Written<LifecycleEvent>, Vec<AlsoWritten>), StoreError> {
        ops::check_event(&event)?;
        ops::check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| {
            let w = ops::append_event(c, &tenant, subject, event, audit).await.map(written)?;
            let s = ops::get_subject(c, &tenant, subject).await?;
            Ok((w, ops::also(c, &tenant, also(&s)).await?))
        })
    }

    async fn append_consent_with(
        &self,
        record: ConsentRecord,
        audit: AuditDraft,
        also: Vec<Also>,
    ) -> Result<(Written<ConsentRecord>, Vec<AlsoWritten>), StoreError> {
        ops::check_consent(&record)?;
        ops::check_draft(&audit)?;
        on!(self.write, |c| {
            let tenant = record.tenant.clone();
            let w = ops::append_consent(c, record, audit).await.map(written)?;
            Ok((w, ops::also(c, &tenant, also).await?))
        })
    }

    async fn read_subject(
        &self,
        tenant: &TenantId,
        id: SubjectId,
        audit: AuditDraft,
    ) -> Result<Written<(Subject, Vec<LifecycleEvent>)>, StoreError> {
        ops::check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| ops::read_subject(c, &tenant, id, audit).await.map(written))
    }

    async fn lookup_subject(
        &self,
        tenant: &TenantId,
        identity: &Identity,
        audit: impl FnOnce(&Subject) -> AuditDraft + Send + 'static,
    ) -> Result<Written<(Subject, Vec<LifecycleEvent>)>, StoreError> {
        let (tenant, identity) = (tenant.clone(), identity.clone());
        on!(self.write, |c| ops::lookup_subject(c, &tenant, &identity, audit).await.map(written))
    }

    async fn read_consent_history(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        audit: impl FnOnce(&[ConsentRecord]) -> AuditDraft + Send + 'static,
    ) -> Result<Written<Vec<ConsentRecord>>, StoreError> {
        let tenant = tenant.clone();
        on!(self.write, |c| ops::read_consent_history(c, &tenant, subject, audit).await.map(written))
    }

    async fn record_subject_read(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
        audit: AuditDraft,
    ) -> Result<AuditEntry, StoreError> {
        ops::check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| ops::record_subject_read(c, &tenant, subject, audit).await)
    }
}
