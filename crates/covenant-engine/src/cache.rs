//! An in-process cache of subject states for answering decisions without a database round trip.
//!
//! Structure: per tenant, two tables (identity key → subject, subject → state), each split into
//! 64 shards behind their own `std::sync::RwLock`. A decision takes two shared locks, each
//! covering 1/64 of a table, for a few hundred nanoseconds; a write (a new record, a flag, a
//! load) takes one exclusive lock on one shard. Readers of different shards never touch the same
//! lock word, so many threads decide at once without contending, and a withdrawal is applied in
//! place under the shard's lock, visible to the very next decision. Rejected alternatives: one
//! `RwLock` per table (every reader writes the same cache line), read-optimised double buffers
//! such as left-right maps (reads wait-free, but writes become visible only at the next publish,
//! which would let a withdrawn consent be used), and an extra dependency such as `dashmap`,
//! which is this same design.
//!
//! Loading a subject from the store races with records appended meanwhile. The protocol: the
//! server calls [`TenantCache::begin_load`], reads the subject's records and flags, then calls
//! [`TenantCache::finish_load`]. Records and flags applied between the two are kept and replayed
//! on top of what was read (records already read are recognised by id), so nothing appended after
//! the read is lost. A record applied to a subject that is neither loaded nor loading is dropped:
//! it is already in the store, which the next load reads.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use covenant_core::ledger::ConsentRecord;
use covenant_core::{SubjectId, TenantId};
use jiff::Timestamp;

use crate::decide::{Decision, Query, decide};
use crate::index::PolicyIndex;
use crate::state::{Applied, Flags, SubjectState, Update};

const SHARDS: usize = 64;

/// Why the cache cannot answer by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    /// No policy is installed for the tenant.
    Tenant,
    /// No subject is linked to the identity key (the store may know it).
    Identity,
    /// The subject's state is not loaded (or is being loaded): load it from the store.
    NotLoaded(SubjectId),
}

/// What happened to an update given to the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cached {
    /// Applied to the loaded state.
    Applied(Applied),
    /// The subject is being loaded; the update will be replayed when the load finishes.
    Buffered,
    /// The subject is not in the cache; the next load reads the update from the store.
    NotCached,
    /// The record belongs to another tenant.
    WrongTenant,
}

enum Entry {
    Ready(SubjectState),
    Loading(Vec<Update>),
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

type IdentityShard = RwLock<HashMap<Box<str>, SubjectId>>;
type SubjectShard = RwLock<HashMap<SubjectId, Entry>>;

/// The cache for every tenant.
#[derive(Default)]
pub struct DecisionCache {
    tenants: RwLock<HashMap<TenantId, Arc<TenantCache>>>,
}

impl DecisionCache {
    pub fn new() -> DecisionCache {
        DecisionCache::default()
    }

    /// Installs a tenant's compiled policy. When the tenant had one, identity links carry over
    /// but subject states do not: they were built against the old policy's numbering and purpose
    /// hashes, so each is loaded again on its next decision.
    pub fn set_policy(&self, tenant: TenantId, index: Arc<PolicyIndex>) -> Arc<TenantCache> {
        let mut tenants = write(&self.tenants);
        let fresh = match tenants.get(&tenant) {
            Some(old) => {
                // Same hasher, so every identity stays in the same shard.
                let fresh = TenantCache::with_hasher(tenant.clone(), index, old.hasher.clone());
                for (from, to) in old.identities.iter().zip(fresh.identities.iter()) {
                    *write(to) = read(from).clone();
                }
                fresh
            }
            None => TenantCache::new(tenant.clone(), index),
        };
        let fresh = Arc::new(fresh);
        tenants.insert(tenant, fresh.clone());
        fresh
    }

    /// A tenant's cache, to hold on to for several operations.
    pub fn tenant(&self, tenant: &TenantId) -> Option<Arc<TenantCache>> {
        read(&self.tenants).get(tenant).cloned()
    }

    /// Drops a tenant and everything cached for it.
    pub fn remove_tenant(&self, tenant: &TenantId) -> bool {
        write(&self.tenants).remove(tenant).is_some()
    }

    /// Decides for the subject an identity key belongs to.
    pub fn decide(
        &self,
        tenant: &TenantId,
        identity_key: &str,
        query: &Query,
        now: Timestamp,
    ) -> Result<Decision, Miss> {
        let tenants = read(&self.tenants);
        let t = tenants.get(tenant).ok_or(Miss::Tenant)?;
        t.decide(identity_key, query, now)
    }

    /// Applies a new ledger record to its tenant's cache.
    pub fn apply(&self, record: &ConsentRecord) -> Cached {
        match self.tenant(&record.tenant) {
            Some(t) => t.apply(record),
            None => Cached::NotCached,
        }
    }
}

/// One tenant's policy, identity links and subject states.
pub struct TenantCache {
    tenant: TenantId,
    index: Arc<PolicyIndex>,
    hasher: RandomState,
    identities: Box<[IdentityShard]>,
    subjects: Box<[SubjectShard]>,
}

impl TenantCache {
    pub fn new(tenant: TenantId, index: Arc<PolicyIndex>) -> TenantCache {
        TenantCache::with_hasher(tenant, index, RandomState::new())
    }

    fn with_hasher(tenant: TenantId, index: Arc<PolicyIndex>, hasher: RandomState) -> TenantCache {
        TenantCache {
            tenant,
            index,
            hasher,
            identities: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            subjects: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
        }
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The compiled policy queries must be prepared against.
    pub fn index(&self) -> &Arc<PolicyIndex> {
        &self.index
    }

    fn identity_shard(&self, key: &str) -> &IdentityShard {
        let h = self.hasher.hash_one(key);
        &self.identities[(h >> 58) as usize % SHARDS]
    }

    fn subject_shard(&self, s: SubjectId) -> &SubjectShard {
        // Fibonacci hashing spreads any UUID layout (v4, v7) over the shards.
        let u = s.as_uuid().as_u128();
        let h = ((u as u64) ^ ((u >> 64) as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.subjects[(h >> 58) as usize % SHARDS]
    }

    /// Links an identity key (`email:ada@example.com`) to a subject.
    pub fn link(&self, identity_key: &str, subject: SubjectId) {
        write(self.identity_shard(identity_key)).insert(identity_key.into(), subject);
    }

    /// Removes an identity link; returns the subject it pointed to.
    pub fn unlink(&self, identity_key: &str) -> Option<SubjectId> {
        write(self.identity_shard(identity_key)).remove(identity_key)
    }

    pub fn subject_of(&self, identity_key: &str) -> Option<SubjectId> {
        read(self.identity_shard(identity_key)).get(identity_key).copied()
    }

    /// Installs a subject's state as complete and current.
    pub fn insert(&self, subject: SubjectId, state: SubjectState) {
        write(self.subject_shard(subject)).insert(subject, Entry::Ready(state));
    }

    /// Builds and installs a subject's state from all its records and flags.
    pub fn load(&self, subject: SubjectId, records: &[ConsentRecord], flags: Flags) {
        let mut state = SubjectState::from_records(&self.index, records);
        state.set_flags(flags);
        self.insert(subject, state);
    }

    /// Marks a subject as being loaded, so that updates arriving before [`finish_load`] are kept.
    /// Returns false when it is already loaded (nothing to do).
    ///
    /// [`finish_load`]: TenantCache::finish_load
    pub fn begin_load(&self, subject: SubjectId) -> bool {
        let mut shard = write(self.subject_shard(subject));
        match shard.get(&subject) {
            Some(Entry::Ready(_)) => false,
            Some(Entry::Loading(_)) => true,
            None => {
                shard.insert(subject, Entry::Loading(Vec::new()));
                true
            }
        }
    }

    /// Installs the state read from the store, replaying the updates that arrived since
    /// [`begin_load`](TenantCache::begin_load). Returns false (and installs nothing) when the
    /// subject was loaded by someone else meanwhile, or forgotten.
    pub fn finish_load(&self, subject: SubjectId, records: &[ConsentRecord], flags: Flags) -> bool {
        let mut shard = write(self.subject_shard(subject));
        let Some(Entry::Loading(pending)) = shard.get_mut(&subject) else { return false };
        let pending = std::mem::take(pending);
        let mut state = SubjectState::from_records(&self.index, records);
        state.set_flags(flags);
        if !pending.is_empty() {
            let read: HashSet<_> = records.iter().map(|r| r.id).collect();
            for u in &pending {
                if !matches!(u, Update::Record(r) if read.contains(&r.id)) {
                    state.apply_update(&self.index, u);
                }
            }
        }
        shard.insert(subject, Entry::Ready(state));
        true
    }

    /// Gives up a load (the store could not be read); the next decision loads again.
    pub fn abort_load(&self, subject: SubjectId) {
        let mut shard = write(self.subject_shard(subject));
        if matches!(shard.get(&subject), Some(Entry::Loading(_))) {
            shard.remove(&subject);
        }
    }

    /// Applies a new ledger record (after the store has committed it).
    pub fn apply(&self, record: &ConsentRecord) -> Cached {
        if record.tenant != self.tenant {
            return Cached::WrongTenant;
        }
        self.update(record.subject, Update::Record(Box::new(record.clone())))
    }

    /// Applies a record or a flag to a subject (after the store has committed it).
    pub fn update(&self, subject: SubjectId, update: Update) -> Cached {
        let mut shard = write(self.subject_shard(subject));
        match shard.get_mut(&subject) {
            Some(Entry::Ready(state)) => Cached::Applied(state.apply_update(&self.index, &update)),
            Some(Entry::Loading(pending)) => {
                pending.push(update);
                Cached::Buffered
            }
            None => Cached::NotCached,
        }
    }

    pub fn set_restricted(&self, subject: SubjectId, restricted: bool) -> Cached {
        self.update(subject, Update::Restricted(restricted))
    }
    pub fn set_deceased(&self, subject: SubjectId, deceased: bool) -> Cached {
        self.update(subject, Update::Deceased(deceased))
    }
    pub fn set_under_age(&self, subject: SubjectId, under_age: Option<crate::UnderAge>) -> Cached {
        self.update(subject, Update::UnderAge(under_age))
    }

    /// Removes a subject and every identity linked to it (after erasure).
    pub fn forget(&self, subject: SubjectId) {
        write(self.subject_shard(subject)).remove(&subject);
        for shard in self.identities.iter() {
            write(shard).retain(|_, s| *s != subject);
        }
    }

    /// Reads a loaded subject's state.
    pub fn with_state<R>(&self, subject: SubjectId, f: impl FnOnce(&SubjectState) -> R) -> Option<R> {
        match read(self.subject_shard(subject)).get(&subject) {
            Some(Entry::Ready(state)) => Some(f(state)),
            _ => None,
        }
    }

    /// Decides for a subject by id.
    pub fn decide_subject(&self, subject: SubjectId, query: &Query, now: Timestamp) -> Result<Decision, Miss> {
        match read(self.subject_shard(subject)).get(&subject) {
            Some(Entry::Ready(state)) => Ok(decide(&self.index, state, query, now)),
            _ => Err(Miss::NotLoaded(subject)),
        }
    }

    /// Decides for the subject an identity key belongs to.
    pub fn decide(&self, identity_key: &str, query: &Query, now: Timestamp) -> Result<Decision, Miss> {
        let subject = self.subject_of(identity_key).ok_or(Miss::Identity)?;
        self.decide_subject(subject, query, now)
    }

    /// Decides several queries for one person at the same moment, under one lock.
    pub fn decide_batch(&self, identity_key: &str, queries: &[Query], now: Timestamp) -> Result<Vec<Decision>, Miss> {
        let subject = self.subject_of(identity_key).ok_or(Miss::Identity)?;
        match read(self.subject_shard(subject)).get(&subject) {
            Some(Entry::Ready(state)) => Ok(crate::decide::decide_batch(&self.index, state, queries, now)),
            _ => Err(Miss::NotLoaded(subject)),
        }
    }

    /// How many subjects are loaded.
    pub fn loaded(&self) -> usize {
        self.subjects.iter().map(|s| read(s).values().filter(|e| matches!(e, Entry::Ready(_))).count()).sum()
    }
}
