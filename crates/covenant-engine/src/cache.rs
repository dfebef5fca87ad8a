//! An in-process cache of subject states for answering decisions without a database round trip.
//!
//! Structure, per tenant:
//! - an identity table, identity key → entry, split into 64 shards, each a `hashbrown::HashTable`
//!   behind an `RwLock`. Keys of up to 38 bytes are stored inline. When the subject has exactly
//!   one identity (most people), the entry holds the subject's state itself; otherwise it holds a
//!   shared cell, `Arc<RwLock<…>>`, that every identity of the subject points to;
//! - a subject table, subject → its identity keys (and its shared cell, if any), split the same
//!   way, for updates by subject id.
//!
//! Why this shape: among a million people, every lookup is a random memory access, and on a
//! shared virtual machine one costs 100 to 400 ns. A decision hashes the identity key once
//! (foldhash, randomly seeded), takes the shared lock of one identity shard and reads one entry,
//! which holds the key (compared without leaving the entry) and the state (the consent slot it
//! needs is at a fixed offset, so it is fetched in parallel with the rest). That is two
//! dependent accesses: the shard's control bytes, then the entry. An earlier version kept states
//! in a second table (identity → subject, subject → state, consents in their own allocation:
//! five dependent accesses) and answered 0.6 to 0.9 million decisions a second on one core of the
//! 2-core test machine, short of the 1 million target.
//!
//! Concurrency: readers take shared locks only, of one shard (or one cell): many threads decide
//! at once, and two readers touch the same lock word only when they ask about the same shard. A
//! write (a new record, a flag, a load) takes one shard's (or one cell's) exclusive lock for the
//! microsecond it takes to apply, in place, so a withdrawal is seen by the very next decision.
//! Rejected: one `RwLock` per table (every reader writes the same lock word, a cache line that
//! bounces between cores); read-optimised double buffers such as left-right maps (wait-free
//! reads, but a write is visible only after the next swap, so a withdrawn consent could still
//! be used); `dashmap` (a sharded map like these, one more dependency, and no control over where
//! the state lives).
//!
//! Loading a subject from the store races with records appended meanwhile. The protocol: the
//! server calls [`TenantCache::begin_load`], reads the subject's records and flags, then calls
//! [`TenantCache::finish_load`]. Records and flags applied between the two are kept and replayed
//! on top of what was read (records already read are recognised by id), so nothing appended after
//! the read is lost. A record for a subject that is neither loaded nor loading is dropped: it is
//! already in the store, which the next load reads.
//!
//! Lock order: a subject shard, then an identity shard, then a cell. Decisions take only the last
//! two; anything that moves a state takes the subject's shard first.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use covenant_core::ledger::ConsentRecord;
use covenant_core::{SubjectId, TenantId};
use hashbrown::{DefaultHashBuilder, HashTable};
use jiff::Timestamp;

use crate::decide::{Decision, Query, decide, decide_batch};
use crate::index::PolicyIndex;
use crate::state::{Applied, Flags, SubjectState, UnderAge, Update};

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

// The state is inline on purpose, see the module documentation.
#[allow(clippy::large_enum_variant)]
enum Slot {
    NotLoaded,
    Loading(Vec<Update>),
    Ready(SubjectState),
}

type Cell = RwLock<Slot>;

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

const INLINE: usize = 38;

/// An identity key, inline when short (most are), so that comparing it reads no other memory.
#[derive(Clone)]
enum Key {
    Inline(u8, [u8; INLINE]),
    Heap(Box<str>),
}

impl Key {
    fn new(s: &str) -> Key {
        if s.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Key::Inline(s.len() as u8, bytes)
        } else {
            Key::Heap(s.into())
        }
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match self {
            // INVARIANT: `len` is at most INLINE (see `new`).
            Key::Inline(len, bytes) => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            Key::Heap(k) => k.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        // INVARIANT: the bytes came from a `str`.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    #[inline]
    fn is(&self, s: &str) -> bool {
        self.as_bytes() == s.as_bytes()
    }

    /// Equality with a key made by [`Key::new`]: inline keys are zero-padded, so comparing the
    /// whole fixed-size arrays is comparing the keys, with no call to `memcmp`.
    #[inline]
    fn same(&self, probe: &Key) -> bool {
        match (self, probe) {
            (Key::Inline(a, x), Key::Inline(b, y)) => a == b && x == y,
            (Key::Heap(a), Key::Heap(b)) => a == b,
            _ => false,
        }
    }
}

/// Where a subject's state lives.
#[allow(clippy::large_enum_variant)] // inline on purpose: that is the point of the table
enum Body {
    /// In this entry: the subject has this one identity.
    Inline(Slot),
    /// In a cell shared by all the subject's identities.
    Shared(Arc<Cell>),
}

/// One identity table entry. In declaration order, so that the key and the head of the state
/// share the first cache line.
#[repr(C)]
struct Entry {
    key: Key,
    subject: SubjectId,
    body: Body,
}

/// What the subject table knows about a subject.
struct Home {
    keys: Vec<Key>,
    /// INVARIANT: `Some` exactly when the state is not inline, that is unless the subject has one
    /// identity whose entry holds it.
    cell: Option<Arc<Cell>>,
}

type IdentityShard = RwLock<HashTable<Entry>>;
type SubjectShard = RwLock<HashMap<SubjectId, Home>>;

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
        let fresh = Arc::new(TenantCache::new(tenant.clone(), index));
        if let Some(old) = tenants.get(&tenant) {
            for shard in old.subjects.iter() {
                for (subject, home) in read(shard).iter() {
                    for key in &home.keys {
                        fresh.link(key.as_str(), *subject);
                    }
                }
            }
        }
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
    hasher: DefaultHashBuilder,
    identities: Box<[IdentityShard]>,
    subjects: Box<[SubjectShard]>,
}

/// The shard for a hash: middle bits, independent of those the table itself uses (the low bits
/// pick a bucket, the top seven are its tag).
#[inline]
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize % SHARDS
}

fn new_cell(slot: Slot) -> Arc<Cell> {
    Arc::new(RwLock::new(slot))
}

impl TenantCache {
    pub fn new(tenant: TenantId, index: Arc<PolicyIndex>) -> TenantCache {
        TenantCache {
            tenant,
            index,
            hasher: DefaultHashBuilder::default(),
            identities: (0..SHARDS).map(|_| RwLock::new(HashTable::new())).collect(),
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

    fn subject_shard(&self, s: SubjectId) -> &SubjectShard {
        &self.subjects[shard_of(self.hasher.hash_one(s))]
    }

    fn identity_shard(&self, hash: u64) -> &IdentityShard {
        &self.identities[shard_of(hash)]
    }

    /// Runs `f` on a subject's slot under an exclusive lock, creating the subject (not loaded)
    /// when `create` is set and it is unknown. `None` when it is unknown and not created.
    fn with_slot_mut<R>(&self, subject: SubjectId, create: bool, f: impl FnOnce(&mut Slot) -> R) -> Option<R> {
        // Moving a state between an entry and a cell holds the subject shard's exclusive lock;
        // holding its shared lock here keeps the state where it is found.
        let shard = read(self.subject_shard(subject));
        match shard.get(&subject) {
            Some(Home { cell: Some(cell), .. }) => Some(f(&mut write(cell))),
            Some(Home { keys, cell: None }) => {
                let key = keys.first()?.as_str();
                let hash = self.hasher.hash_one(key);
                let mut ids = write(self.identity_shard(hash));
                match ids.find_mut(hash, |e| e.key.is(key)).map(|e| &mut e.body) {
                    Some(Body::Inline(slot)) => Some(f(slot)),
                    Some(Body::Shared(cell)) => Some(f(&mut write(cell))),
                    None => None,
                }
            }
            None if create => {
                drop(shard);
                let mut shard = write(self.subject_shard(subject));
                let home = shard
                    .entry(subject)
                    .or_insert_with(|| Home { keys: Vec::new(), cell: Some(new_cell(Slot::NotLoaded)) });
                match &home.cell {
                    Some(cell) => Some(f(&mut write(cell))),
                    // Linked meanwhile: the state is inline in the one entry.
                    None => {
                        let key = home.keys.first()?.as_str();
                        let hash = self.hasher.hash_one(key);
                        let mut ids = write(self.identity_shard(hash));
                        match ids.find_mut(hash, |e| e.key.is(key)).map(|e| &mut e.body) {
                            Some(Body::Inline(slot)) => Some(f(slot)),
                            Some(Body::Shared(cell)) => Some(f(&mut write(cell))),
                            None => None,
                        }
                    }
                }
            }
            None => None,
        }
    }

    /// Runs `f` on a subject's slot under a shared lock.
    fn with_slot<R>(&self, subject: SubjectId, f: impl FnOnce(&Slot) -> R) -> Option<R> {
        let shard = read(self.subject_shard(subject));
        match shard.get(&subject)? {
            Home { cell: Some(cell), .. } => Some(f(&read(cell))),
            Home { keys, cell: None } => {
                let key = keys.first()?.as_str();
                let hash = self.hasher.hash_one(key);
                let ids = read(self.identity_shard(hash));
                match &ids.find(hash, |e| e.key.is(key))?.body {
                    Body::Inline(slot) => Some(f(slot)),
                    Body::Shared(cell) => Some(f(&read(cell))),
                }
            }
        }
    }

    /// Links an identity key (`email:ada@example.com`) to a subject. A key linked to another
    /// subject is moved to this one. Two links of the same key must not race (the store's
    /// uniqueness of identities orders them).
    pub fn link(&self, identity_key: &str, subject: SubjectId) {
        if let Some(other) = self.subject_of(identity_key) {
            if other == subject {
                return;
            }
            self.unlink(identity_key);
        }
        let mut subjects = write(self.subject_shard(subject));
        let home =
            subjects.entry(subject).or_insert_with(|| Home { keys: Vec::new(), cell: Some(new_cell(Slot::NotLoaded)) });
        let hash = self.hasher.hash_one(identity_key);
        let body = match (&home.cell, home.keys.first()) {
            // The first identity: the state moves out of its cell into the entry.
            (Some(cell), None) => {
                let slot = std::mem::replace(&mut *write(cell), Slot::NotLoaded);
                home.cell = None;
                Body::Inline(slot)
            }
            (Some(cell), Some(_)) => Body::Shared(cell.clone()),
            // The second identity: the state moves out of the first entry into a shared cell.
            (None, first) => {
                let cell = new_cell(Slot::NotLoaded);
                if let Some(first) = first {
                    let first = first.as_str();
                    let h = self.hasher.hash_one(first);
                    let mut ids = write(self.identity_shard(h));
                    if let Some(e) = ids.find_mut(h, |e| e.key.is(first)) {
                        let old = std::mem::replace(&mut e.body, Body::Shared(cell.clone()));
                        if let Body::Inline(slot) = old {
                            *write(&cell) = slot;
                        }
                    }
                }
                home.cell = Some(cell.clone());
                Body::Shared(cell)
            }
        };
        home.keys.push(Key::new(identity_key));
        let entry = Entry { key: Key::new(identity_key), subject, body };
        let mut ids = write(self.identity_shard(hash));
        ids.insert_unique(hash, entry, |e| self.hasher.hash_one(e.key.as_str()));
    }

    /// Removes an identity link; returns the subject it pointed to. The subject's state stays.
    pub fn unlink(&self, identity_key: &str) -> Option<SubjectId> {
        let subject = self.subject_of(identity_key)?;
        let mut subjects = write(self.subject_shard(subject));
        let hash = self.hasher.hash_one(identity_key);
        let removed = {
            let mut ids = write(self.identity_shard(hash));
            let entry = ids.find_entry(hash, |e| e.key.is(identity_key)).ok()?;
            entry.remove().0
        };
        if let Some(home) = subjects.get_mut(&removed.subject) {
            home.keys.retain(|k| !k.is(identity_key));
            // The last identity held the state: it moves into a cell, reachable by subject id.
            if let Body::Inline(slot) = removed.body {
                home.cell = Some(new_cell(slot));
            }
        }
        Some(removed.subject)
    }

    pub fn subject_of(&self, identity_key: &str) -> Option<SubjectId> {
        let hash = self.hasher.hash_one(identity_key);
        read(self.identity_shard(hash)).find(hash, |e| e.key.is(identity_key)).map(|e| e.subject)
    }

    /// Installs a subject's state as complete and current.
    pub fn insert(&self, subject: SubjectId, state: SubjectState) {
        self.with_slot_mut(subject, true, |slot| *slot = Slot::Ready(state));
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
        self.with_slot_mut(subject, true, |slot| match slot {
            Slot::Ready(_) => false,
            Slot::Loading(_) => true,
            Slot::NotLoaded => {
                *slot = Slot::Loading(Vec::new());
                true
            }
        })
        .unwrap_or(false)
    }

    /// Installs the state read from the store, replaying the updates that arrived since
    /// [`begin_load`](TenantCache::begin_load). Returns false (and installs nothing) when the
    /// subject was loaded by someone else meanwhile, or forgotten.
    pub fn finish_load(&self, subject: SubjectId, records: &[ConsentRecord], flags: Flags) -> bool {
        self.with_slot_mut(subject, false, |slot| {
            let Slot::Loading(pending) = slot else { return false };
            let pending = std::mem::take(pending);
            let mut state = SubjectState::from_records(&self.index, records);
            state.set_flags(flags);
            if !pending.is_empty() {
                let seen: HashSet<_> = records.iter().map(|r| r.id).collect();
                for u in &pending {
                    if !matches!(u, Update::Record(r) if seen.contains(&r.id)) {
                        state.apply_update(&self.index, u);
                    }
                }
            }
            *slot = Slot::Ready(state);
            true
        })
        .unwrap_or(false)
    }

    /// Gives up a load (the store could not be read); the next decision loads again.
    pub fn abort_load(&self, subject: SubjectId) {
        self.with_slot_mut(subject, false, |slot| {
            if matches!(slot, Slot::Loading(_)) {
                *slot = Slot::NotLoaded;
            }
        });
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
        self.with_slot_mut(subject, false, |slot| match slot {
            Slot::Ready(state) => Cached::Applied(state.apply_update(&self.index, &update)),
            Slot::Loading(pending) => {
                pending.push(update);
                Cached::Buffered
            }
            Slot::NotLoaded => Cached::NotCached,
        })
        .unwrap_or(Cached::NotCached)
    }

    pub fn set_restricted(&self, subject: SubjectId, restricted: bool) -> Cached {
        self.update(subject, Update::Restricted(restricted))
    }
    pub fn set_deceased(&self, subject: SubjectId, deceased: bool) -> Cached {
        self.update(subject, Update::Deceased(deceased))
    }
    pub fn set_under_age(&self, subject: SubjectId, under_age: Option<UnderAge>) -> Cached {
        self.update(subject, Update::UnderAge(under_age))
    }

    /// Removes a subject and every identity linked to it (after erasure).
    pub fn forget(&self, subject: SubjectId) {
        let mut subjects = write(self.subject_shard(subject));
        if let Some(home) = subjects.remove(&subject) {
            for key in &home.keys {
                let key = key.as_str();
                let hash = self.hasher.hash_one(key);
                if let Ok(e) = write(self.identity_shard(hash)).find_entry(hash, |e| e.key.is(key)) {
                    e.remove();
                }
            }
            if let Some(cell) = home.cell {
                *write(&cell) = Slot::NotLoaded;
            }
        }
    }

    /// Reads a loaded subject's state.
    pub fn with_state<R>(&self, subject: SubjectId, f: impl FnOnce(&SubjectState) -> R) -> Option<R> {
        self.with_slot(subject, |slot| match slot {
            Slot::Ready(state) => Some(f(state)),
            _ => None,
        })
        .flatten()
    }

    /// Decides for a subject by id.
    pub fn decide_subject(&self, subject: SubjectId, query: &Query, now: Timestamp) -> Result<Decision, Miss> {
        self.with_state(subject, |state| decide(&self.index, state, query, now)).ok_or(Miss::NotLoaded(subject))
    }

    /// Runs `f` on the state of the subject an identity key belongs to, under a shared lock.
    #[inline]
    fn with_identity<R>(&self, identity_key: &str, f: impl FnOnce(&SubjectState) -> R) -> Result<R, Miss> {
        let hash = self.hasher.hash_one(identity_key);
        let probe = Key::new(identity_key);
        let ids = read(self.identity_shard(hash));
        let entry = ids.find(hash, |e| e.key.same(&probe)).ok_or(Miss::Identity)?;
        match &entry.body {
            Body::Inline(Slot::Ready(state)) => Ok(f(state)),
            Body::Shared(cell) => match &*read(cell) {
                Slot::Ready(state) => Ok(f(state)),
                _ => Err(Miss::NotLoaded(entry.subject)),
            },
            Body::Inline(_) => Err(Miss::NotLoaded(entry.subject)),
        }
    }

    /// Decides for the subject an identity key belongs to.
    pub fn decide(&self, identity_key: &str, query: &Query, now: Timestamp) -> Result<Decision, Miss> {
        self.with_identity(identity_key, |state| decide(&self.index, state, query, now))
    }

    /// Decides several queries for one person at the same moment, under one lock.
    pub fn decide_batch(&self, identity_key: &str, queries: &[Query], now: Timestamp) -> Result<Vec<Decision>, Miss> {
        self.with_identity(identity_key, |state| decide_batch(&self.index, state, queries, now))
    }

    /// How many subjects are loaded.
    pub fn loaded(&self) -> usize {
        let subjects: Vec<SubjectId> =
            self.subjects.iter().flat_map(|s| read(s).keys().copied().collect::<Vec<_>>()).collect();
        subjects.into_iter().filter(|s| self.with_slot(*s, |slot| matches!(slot, Slot::Ready(_))) == Some(true)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_inline_and_on_the_heap() {
        let short = "email:ada@example.com";
        let long = "email:a.very.long.address.indeed@subdomain.example.com";
        assert!(Key::new(short).is(short));
        assert!(!Key::new(short).is("email:ada@example.co"));
        assert!(!Key::new(short).is(long));
        assert!(matches!(Key::new(long), Key::Heap(_)));
        assert!(Key::new(long).is(long));
        assert!(!Key::new(long).is(short));
        let exact = "x".repeat(INLINE);
        assert!(matches!(Key::new(&exact), Key::Inline(..)));
        assert!(Key::new(&exact).is(&exact));
        assert!(Key::new("").is(""));
        for (a, b) in [(short, short), (long, long), (short, long), (short, "email:ada@example.co"), ("", "")] {
            assert_eq!(Key::new(a).same(&Key::new(b)), a == b, "{a} {b}");
        }
        assert_eq!(Key::new(long).as_str(), long);
        assert_eq!(Key::new(short).as_str(), short);
    }
}
