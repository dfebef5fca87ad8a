//! What every handler shares: the store, the policy, the decision cache, the key cache and the
//! unsubscribe signer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use covenant_core::ledger::{ConsentRecord, sha256_hex};
use covenant_core::{LifecycleKind, SubjectId, TenantId};
use covenant_engine::{DecisionCache, Flags, PolicyIndex, SubjectState, TenantCache, UnderAge};
use covenant_policy::Policy;
use covenant_store::{FlagKind, SqlStore, Store, StoreError, Subject};

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
    /// How long a known API key is trusted before the store is asked again (revocations take
    /// effect within this time).
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
    /// Serialises installing a tenant's policy in the decision cache.
    install: Mutex<()>,
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
        Ok(AppState {
            store,
            policy: PolicyCtx::new(config.policy)?,
            cache: DecisionCache::new(),
            keys: KeyCache::new(config.key_ttl),
            signer,
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            request_timeout: config.request_timeout,
            install: Mutex::new(()),
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

    pub fn index(&self) -> &Arc<PolicyIndex> {
        &self.policy.index
    }

    /// The tenant's decision cache, installing the policy on first use.
    pub fn tenant_cache(&self, tenant: &TenantId) -> Arc<TenantCache> {
        if let Some(t) = self.cache.tenant(tenant) {
            return t;
        }
        let _guard = self.install.lock().unwrap_or_else(|p| p.into_inner());
        match self.cache.tenant(tenant) {
            Some(t) => t,
            None => self.cache.set_policy(tenant.clone(), self.policy.index.clone()),
        }
    }

    /// Makes sure a subject's state is in the decision cache, reading it from the store if not.
    /// Another tenant's subject is not found.
    pub async fn ensure_loaded(&self, tc: &TenantCache, subject: SubjectId) -> Result<(), StoreError> {
        if tc.with_state(subject, |_| ()).is_some() || !tc.begin_load(subject) {
            return Ok(());
        }
        let tenant = tc.tenant();
        let read = async {
            let s = self.store.get_subject(tenant, subject).await?;
            let records = self.store.consent_history(tenant, subject).await?;
            let events = self.store.list_events(tenant, subject).await?;
            Ok::<_, StoreError>((s, records, events))
        };
        match read.await {
            Ok((s, records, events)) => {
                let flags = Flags {
                    restricted: s.flag(&FlagKind::Restricted).is_some(),
                    deceased: events.iter().any(|e| e.kind == LifecycleKind::Deceased),
                    under_age: s.flag(&FlagKind::UnderAge).map(|_| UnderAge { minimum_age: None }),
                };
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

    /// A subject's state from the cache (loading it first).
    pub async fn subject_state(&self, tc: &TenantCache, subject: SubjectId) -> Result<SubjectState, StoreError> {
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
