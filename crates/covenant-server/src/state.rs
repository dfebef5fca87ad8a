//! What every handler shares: the store, the policy, the decision cache, the key cache and the
//! unsubscribe signer.
//!
//! # Several server processes on one PostgreSQL database
//! Each process caches subjects' states (the decision cache) and API keys. A write made by
//! another process is announced by the store when it commits ([`covenant_store::Change`], sent
//! with `pg_notify` in the write's transaction); [`AppState::watch_changes`] follows the
//! announcements and drops the subject or key from the caches, so the next decision here reads
//! it again: a change made anywhere is seen everywhere once its notice is delivered (typically
//! within milliseconds; the server tests measure it). While the watch has no connection, notices
//! are being missed, so the caches are bypassed (every decision and key check reads through to
//! the database) until it listens again, and then everything cached is dropped. On SQLite one
//! process holds the database and the caches are always trusted.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use covenant_core::ledger::{ConsentRecord, sha256_hex};
use covenant_core::{LifecycleKind, SubjectId, TenantId};
use covenant_engine::{DecisionCache, Flags, PolicyIndex, SubjectState, TenantCache, UnderAge};
use covenant_policy::Policy;
use covenant_store::{Backend, Change, FlagKind, SqlStore, Store, StoreError, Subject, Watch};

use crate::auth::KeyCache;
use crate::token::Signer;

/// How the server is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// The policy every tenant of this server is held to.
    pub policy: Policy,
    /// The secret unsubscribe tokens are signed with (at least 32 bytes). Keep it across restarts,
    /// or links already sent stop working.
    pub secret: Vec<u8>,
    /// The address people reach the server at, for links (`https://privacy.example.com`).
    pub public_url: String,
    /// How long a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// How long a known API key is trusted before the store is asked again. On PostgreSQL a
    /// revocation reaches every server at once (a change notice); on SQLite, a key revoked by
    /// another process (`covenant apikey revoke`) stops working within this time.
    pub key_ttl: Duration,
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the unsubscribe secret must be at least 32 bytes")]
    Secret,
    #[error("cannot render the privacy notice")]
    Notice(#[source] covenant_policy::RenderError),
}

/// The policy, compiled and rendered once.
#[derive(Debug)]
pub struct PolicyCtx {
    pub policy: Policy,
    pub index: Arc<PolicyIndex>,
    /// The public notice as HTML, served at `/v1/policy/notice`.
    pub notice_html: String,
    /// SHA-256 (hex) of `notice_html`: the notice a consent recorded without a notice hash was
    /// given against.
    pub notice_hash: String,
}

impl PolicyCtx {
    pub fn new(policy: Policy) -> Result<PolicyCtx, StartError> {
        let notice_html = covenant_policy::notice::html(&policy).map_err(StartError::Notice)?;
        let notice_hash = sha256_hex(notice_html.as_bytes());
        let index = Arc::new(PolicyIndex::compile(&policy));
        Ok(PolicyCtx { policy, index, notice_html, notice_hash })
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub store: SqlStore,
    pub policy: PolicyCtx,
    pub cache: DecisionCache,
    pub keys: KeyCache,
    pub signer: Signer,
    pub public_url: String,
    pub request_timeout: Duration,
    /// The tenants installed in the decision cache; held while installing one or dropping them.
    installed: Mutex<HashSet<TenantId>>,
    /// Whether the caches may be trusted: always on SQLite; on PostgreSQL only while the watch
    /// over other processes' changes is listening.
    coherent: AtomicBool,
    /// The watch over other processes' changes (PostgreSQL), once started.
    watch: Mutex<Option<Watch>>,
    watching: AtomicBool,
    /// Data-subject requests: mail, keys, fulfillers, the worker's wake-up.
    pub requests: crate::worker::RequestsCtx,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(store: SqlStore, config: Config) -> Result<AppState, StartError> {
        let signer = Signer::new(&config.secret).ok_or(StartError::Secret)?;
        let coherent = AtomicBool::new(store.backend() == Backend::Sqlite);
        Ok(AppState {
            store,
            policy: PolicyCtx::new(config.policy)?,
            cache: DecisionCache::new(),
            keys: KeyCache::new(config.key_ttl),
            signer,
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            request_timeout: config.request_timeout,
            installed: Mutex::new(HashSet::new()),
            coherent,
            watch: Mutex::new(None),
            watching: AtomicBool::new(false),
            requests: crate::worker::RequestsCtx::new(&config.secret),
        })
    }

    /// Sends request mail through `mailer` (the default prints to the log).
    pub fn with_mailer(mut self, mailer: crate::mail::Mailer) -> AppState {
        self.requests.mailer = mailer;
        self
    }

    /// Adds fulfillers, called in order after the built-in one (see [`crate::fulfil`]).
    pub fn with_fulfillers(mut self, fulfillers: Vec<Arc<dyn crate::fulfil::Fulfiller>>) -> AppState {
        self.requests.fulfillers.extend(fulfillers);
        self
    }

    /// Starts following the changes other server processes commit to the same database
    /// (PostgreSQL; nothing to do on SQLite), unless it is already started: until the watch
    /// listens, the caches are bypassed. [`crate::router`] calls it; it needs a Tokio runtime,
    /// and without one the caches stay bypassed.
    pub fn watch_changes(self: &Arc<Self>) {
        if self.store.backend() == Backend::Sqlite || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if self.watching.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = Arc::downgrade(self);
        let watch = self.store.watch(move |change| {
            if let Some(state) = me.upgrade() {
                state.changed(change);
            }
        });
        *self.watch.lock().unwrap_or_else(|p| p.into_inner()) = watch;
    }

    /// Whether cached subjects and keys may be used: false on PostgreSQL while changes made by
    /// other processes may be going unheard.
    pub fn cache_trusted(&self) -> bool {
        self.coherent.load(Ordering::SeqCst)
    }

    /// Applies a change announced by the store.
    pub fn changed(&self, change: Change) {
        match change {
            Change::Subject { tenant, subject } => {
                if let Some(tc) = self.cache.tenant(&tenant) {
                    tc.forget(subject);
                }
            }
            Change::Key { hash } => self.keys.forget(&hash),
            Change::Listening { reconnected } => {
                // What was cached before now may have missed changes: start afresh, then trust.
                self.clear_caches();
                self.coherent.store(true, Ordering::SeqCst);
                if reconnected {
                    tracing::warn!(
                        "listening for changes from other servers again; every cached subject and key was dropped, \
                         as changes may have been missed meanwhile"
                    );
                } else {
                    tracing::info!("listening for changes from other servers");
                }
            }
            Change::Lost { reason } => {
                self.coherent.store(false, Ordering::SeqCst);
                tracing::warn!(
                    %reason,
                    "not hearing changes from other servers; reading subjects and keys from the database until \
                     listening again"
                );
            }
        }
    }

    /// Drops every cached subject state, identity link and key.
    pub fn clear_caches(&self) {
        let mut installed = self.installed.lock().unwrap_or_else(|p| p.into_inner());
        for tenant in installed.drain() {
            self.cache.remove_tenant(&tenant);
        }
        self.keys.clear();
    }

    pub fn index(&self) -> &Arc<PolicyIndex> {
        &self.policy.index
    }

    /// The tenant's decision cache, installing the policy on first use.
    pub fn tenant_cache(&self, tenant: &TenantId) -> Arc<TenantCache> {
        if let Some(t) = self.cache.tenant(tenant) {
            return t;
        }
        let mut installed = self.installed.lock().unwrap_or_else(|p| p.into_inner());
        match self.cache.tenant(tenant) {
            Some(t) => t,
            None => {
                installed.insert(tenant.clone());
                self.cache.set_policy(tenant.clone(), self.policy.index.clone())
            }
        }
    }

    /// Reads what a subject's state is built from: the subject, its ledger and its flags.
    async fn read_parts(
        &self,
        tenant: &TenantId,
        subject: SubjectId,
    ) -> Result<(Subject, Vec<ConsentRecord>, Flags), StoreError> {
        let s = self.store.get_subject(tenant, subject).await?;
        let records = self.store.consent_history(tenant, subject).await?;
        let events = self.store.list_events(tenant, subject).await?;
        let flags = Flags {
            restricted: s.flag(&FlagKind::Restricted).is_some(),
            deceased: events.iter().any(|e| e.kind == LifecycleKind::Deceased),
            under_age: s.flag(&FlagKind::UnderAge).map(|_| UnderAge { minimum_age: None }),
        };
        Ok((s, records, flags))
    }

    /// A subject's state read from the store, bypassing the cache.
    pub async fn read_state(&self, tenant: &TenantId, subject: SubjectId) -> Result<SubjectState, StoreError> {
        let (_, records, flags) = self.read_parts(tenant, subject).await?;
        let mut state = SubjectState::from_records(&self.policy.index, &records);
        state.set_flags(flags);
        Ok(state)
    }

    /// Makes sure a subject's state is in the decision cache, reading it from the store if not.
    /// Another tenant's subject is not found.
    pub async fn ensure_loaded(&self, tc: &TenantCache, subject: SubjectId) -> Result<(), StoreError> {
        if tc.with_state(subject, |_| ()).is_some() || !tc.begin_load(subject) {
            return Ok(());
        }
        match self.read_parts(tc.tenant(), subject).await {
            Ok((s, records, flags)) => {
                tc.finish_load(subject, &records, flags);
                link(tc, &s);
                Ok(())
            }
            Err(e) => {
                tc.abort_load(subject);
                Err(e)
            }
        }
    }

    /// A subject's state from the cache (loading it first), or from the store while the cache
    /// cannot be trusted.
    pub async fn subject_state(&self, tc: &TenantCache, subject: SubjectId) -> Result<SubjectState, StoreError> {
        if !self.cache_trusted() {
            return self.read_state(tc.tenant(), subject).await;
        }
        loop {
            self.ensure_loaded(tc, subject).await?;
            if let Some(s) = tc.with_state(subject, SubjectState::clone) {
                return Ok(s);
            }
            // Loaded by another request that had begun first: wait for it.
            tokio::task::yield_now().await;
        }
    }

    /// Makes a committed ledger record visible to the next decision.
    pub fn applied(&self, record: &ConsentRecord) {
        self.tenant_cache(&record.tenant).apply(record);
    }
}

/// Links every identity of a subject to it in the cache.
pub fn link(tc: &TenantCache, s: &Subject) {
    for identity in &s.identities {
        tc.link(&identity.key(), s.id);
    }
}
