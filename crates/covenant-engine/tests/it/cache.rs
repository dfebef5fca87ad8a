//! The in-process cache: identity lookups, updates visible to the next decision, the loading
//! protocol, policy changes, and many readers at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use covenant_core::SubjectId;
use covenant_core::ledger::ConsentRecord;
use covenant_engine::ledger::{LedgerError, RecordMeta, give, withdraw};
use covenant_engine::{Applied, Cached, DecisionCache, Flags, Miss, PolicyIndex, SubjectState, UnderAge, Update};

use super::{World, fixture, meta, subject, tenant, ts};

const KEY: &str = "email:ada@example.com";

fn setup() -> (DecisionCache, World) {
    let w = World::new(fixture());
    let cache = DecisionCache::new();
    cache.set_policy(tenant(), Arc::new(PolicyIndex::compile(&w.policy)));
    (cache, w)
}

fn code(cache: &DecisionCache, query: &str) -> Result<&'static str, Miss> {
    let t = cache.tenant(&tenant()).unwrap();
    let (activity, cats) = query.split_once(' ').unwrap_or((query, ""));
    let cats: Vec<&str> = cats.split(',').filter(|c| !c.is_empty()).collect();
    let q = covenant_engine::Query::parse(t.index(), activity, &cats, None).unwrap();
    cache.decide(&tenant(), KEY, &q, ts("2026-06-01")).map(|d| d.code())
}

type Make = fn(&PolicyIndex, &str, RecordMeta) -> Result<ConsentRecord, LedgerError>;

/// A record made against the tenant's current policy.
fn rec(cache: &DecisionCache, f: Make, purpose: &str, n: u128, at: &str) -> ConsentRecord {
    let t = cache.tenant(&tenant()).unwrap();
    f(t.index(), purpose, meta(n, ts(at))).unwrap()
}

#[test]
fn a_withdrawal_is_visible_to_the_next_decision() {
    let (cache, _) = setup();
    let t = cache.tenant(&tenant()).unwrap();
    assert_eq!(code(&cache, "newsletter"), Err(Miss::Identity));
    t.link(KEY, subject());
    assert_eq!(code(&cache, "newsletter"), Err(Miss::NotLoaded(subject())));
    let given = rec(&cache, give, "newsletter", 1, "2026-01-01");
    t.load(subject(), std::slice::from_ref(&given), Flags::default());
    assert_eq!(code(&cache, "newsletter user.contact.email"), Ok("consent_given"));
    let withdrawn = rec(&cache, withdraw, "newsletter", 2, "2026-02-01");
    assert_eq!(cache.apply(&withdrawn), Cached::Applied(Applied::Updated));
    assert_eq!(code(&cache, "newsletter user.contact.email"), Ok("consent_withdrawn"));
    // A late record that happened earlier changes nothing.
    assert_eq!(t.apply(&given), Cached::Applied(Applied::Superseded));
    assert_eq!(code(&cache, "newsletter"), Ok("consent_withdrawn"));
    // Flags.
    assert_eq!(t.set_restricted(subject(), true), Cached::Applied(Applied::Updated));
    assert_eq!(code(&cache, "account"), Ok("restricted"));
    t.set_restricted(subject(), false);
    t.set_under_age(subject(), Some(UnderAge { minimum_age: Some(16) }));
    assert_eq!(code(&cache, "account"), Ok("under_age"));
    t.set_under_age(subject(), None);
    t.set_deceased(subject(), true);
    assert_eq!(code(&cache, "account"), Ok("deceased"));
    assert_eq!(t.with_state(subject(), |s| s.flags().deceased), Some(true));
    assert_eq!(t.loaded(), 1);
    // Erasure.
    t.forget(subject());
    assert_eq!(code(&cache, "account"), Err(Miss::Identity));
    assert_eq!(t.subject_of(KEY), None);
    assert_eq!(t.loaded(), 0);
}

#[test]
fn misses() {
    let (cache, w) = setup();
    let other = covenant_core::TenantId::parse("other").unwrap();
    let q = w.query("account");
    assert_eq!(cache.decide(&other, KEY, &q, ts("2026-06-01")), Err(Miss::Tenant));
    let mut r = rec(&cache, give, "newsletter", 1, "2026-01-01");
    // Not cached: dropped, the next load reads it from the store.
    assert_eq!(cache.apply(&r), Cached::NotCached);
    r.tenant = other.clone();
    assert_eq!(cache.apply(&r), Cached::NotCached);
    cache.set_policy(other.clone(), Arc::new(PolicyIndex::compile(&w.policy)));
    assert_eq!(cache.tenant(&tenant()).unwrap().apply(&r), Cached::WrongTenant);
    assert!(cache.remove_tenant(&other));
    assert!(!cache.remove_tenant(&other));
}

// Records appended while a subject is being loaded are replayed on what the load read, once.
#[test]
fn the_loading_protocol_loses_nothing() {
    let (cache, _) = setup();
    let t = cache.tenant(&tenant()).unwrap();
    t.link(KEY, subject());
    let give1 = rec(&cache, give, "newsletter", 1, "2026-01-01");
    let withdraw2 = rec(&cache, withdraw, "newsletter", 2, "2026-02-01");
    let give3 = rec(&cache, give, "newsletter", 3, "2026-02-01");
    assert!(t.begin_load(subject()));
    // Appended after the load began: one of them the store read already saw, one it did not.
    assert_eq!(t.apply(&withdraw2), Cached::Buffered);
    assert_eq!(t.apply(&give3), Cached::Buffered);
    assert_eq!(t.set_restricted(subject(), true), Cached::Buffered);
    assert_eq!(code(&cache, "newsletter"), Err(Miss::NotLoaded(subject())));
    // The store read saw records 1 and 2. Replaying 2 after 3 would turn the (same-instant)
    // consent back into a withdrawal; it is recognised by id and skipped.
    assert!(t.finish_load(subject(), &[give1.clone(), withdraw2.clone()], Flags::default()));
    let expect = SubjectState::from_records(t.index(), [&give1, &withdraw2, &give3]);
    assert_eq!(
        t.with_state(subject(), |s| s.consent(t.index().purpose("newsletter").unwrap())),
        Some(expect.consent(t.index().purpose("newsletter").unwrap()))
    );
    assert_eq!(t.with_state(subject(), |s| s.flags().restricted), Some(true));
    assert_eq!(code(&cache, "newsletter"), Ok("consent_given"));
    // Already loaded: nothing to do; a late finish does not overwrite.
    assert!(!t.begin_load(subject()));
    assert!(!t.finish_load(subject(), &[], Flags::default()));
    assert_eq!(code(&cache, "newsletter"), Ok("consent_given"));
    // An aborted load leaves nothing behind.
    let other = SubjectId::from_uuid(uuid::Uuid::from_u128(99));
    assert!(t.begin_load(other));
    assert!(t.begin_load(other));
    t.abort_load(other);
    assert!(!t.finish_load(other, &[], Flags::default()));
    assert_eq!(t.update(other, Update::Deceased(true)), Cached::NotCached);
}

#[test]
fn a_new_policy_keeps_identities_and_reloads_states() {
    let (cache, w) = setup();
    let t = cache.tenant(&tenant()).unwrap();
    t.link(KEY, subject());
    t.load(subject(), &[rec(&cache, give, "newsletter", 1, "2026-01-01")], Flags::default());
    assert_eq!(code(&cache, "newsletter"), Ok("consent_given"));
    let t2 = cache.set_policy(tenant(), Arc::new(PolicyIndex::compile(&w.policy)));
    assert_eq!(t2.subject_of(KEY), Some(subject()));
    assert_eq!(code(&cache, "newsletter"), Err(Miss::NotLoaded(subject())));
    // A question prepared against the old policy is refused by the new one.
    let old_q = w.query("account");
    t2.load(subject(), &[], Flags::default());
    assert_eq!(t2.decide(KEY, &old_q, ts("2026-06-01")).map(|d| d.code()), Ok("policy_changed"));
    let batch = t2.decide_batch(KEY, &[covenant_engine::Query::new(t2.index(), "account")], ts("2026-06-01"));
    assert_eq!(batch.unwrap()[0].code(), "contract");
    assert_eq!(t2.unlink(KEY), Some(subject()));
    assert_eq!(t2.decide_batch(KEY, &[], ts("2026-06-01")), Err(Miss::Identity));
}

// Many readers decide while a writer withdraws: once the withdrawal is applied, no reader is
// ever allowed again.
#[test]
fn concurrent_readers_see_a_withdrawal_at_once() {
    let (cache, _) = setup();
    let cache = Arc::new(cache);
    let t = cache.tenant(&tenant()).unwrap();
    for i in 0..1000u128 {
        let s = SubjectId::from_uuid(uuid::Uuid::from_u128(1000 + i));
        t.link(&format!("email:p{i}@example.com"), s);
        t.insert(s, SubjectState::new(t.index()));
    }
    t.link(KEY, subject());
    t.load(subject(), &[rec(&cache, give, "newsletter", 1, "2026-01-01")], Flags::default());
    let withdrawn = Arc::new(AtomicBool::new(false));
    let allowed_after = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(5));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (cache, withdrawn, allowed_after, start) =
                (cache.clone(), withdrawn.clone(), allowed_after.clone(), start.clone());
            std::thread::spawn(move || {
                let t = cache.tenant(&tenant()).unwrap();
                let q = covenant_engine::Query::new(t.index(), "newsletter");
                start.wait();
                for i in 0..20_000 {
                    let was_withdrawn = withdrawn.load(Ordering::SeqCst);
                    let d = t.decide(KEY, &q, ts("2026-06-01")).unwrap();
                    if was_withdrawn && d.is_allowed() {
                        allowed_after.fetch_add(1, Ordering::SeqCst);
                    }
                    let _ = t.decide(&format!("email:p{}@example.com", i % 1000), &q, ts("2026-06-01")).unwrap();
                }
            })
        })
        .collect();
    start.wait();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let r = rec(&cache, withdraw, "newsletter", 2, "2026-02-01");
    assert_eq!(t.apply(&r), Cached::Applied(Applied::Updated));
    withdrawn.store(true, Ordering::SeqCst);
    for h in readers {
        h.join().unwrap();
    }
    assert_eq!(allowed_after.load(Ordering::SeqCst), 0);
    assert_eq!(t.loaded(), 1001);
}

// A person with several identities has one state, whichever identity asks; it survives
// identities coming and going.
#[test]
fn several_identities_share_one_state() {
    let (cache, _) = setup();
    let t = cache.tenant(&tenant()).unwrap();
    let phone = "phone:+358401234567";
    // Loaded before any identity is linked.
    t.load(subject(), &[rec(&cache, give, "newsletter", 1, "2026-01-01")], Flags::default());
    let q = covenant_engine::Query::new(t.index(), "newsletter");
    assert_eq!(t.decide_subject(subject(), &q, ts("2026-06-01")).map(|d| d.code()), Ok("consent_given"));
    t.link(KEY, subject());
    assert_eq!(code(&cache, "newsletter"), Ok("consent_given"));
    t.link(phone, subject());
    t.link(phone, subject());
    assert_eq!(code_for(&cache, phone, "newsletter"), Ok("consent_given"));
    assert_eq!(t.apply(&rec(&cache, withdraw, "newsletter", 2, "2026-02-01")), Cached::Applied(Applied::Updated));
    assert_eq!(code(&cache, "newsletter"), Ok("consent_withdrawn"));
    assert_eq!(code_for(&cache, phone, "newsletter"), Ok("consent_withdrawn"));
    assert_eq!(t.unlink(KEY), Some(subject()));
    assert_eq!(code(&cache, "newsletter"), Err(Miss::Identity));
    assert_eq!(code_for(&cache, phone, "newsletter"), Ok("consent_withdrawn"));
    assert_eq!(t.unlink(phone), Some(subject()));
    assert_eq!(t.unlink(phone), None);
    // No identity left: the state stays, reachable by subject id, and comes back with a link.
    assert_eq!(t.loaded(), 1);
    assert_eq!(t.set_restricted(subject(), true), Cached::Applied(Applied::Updated));
    t.link(KEY, subject());
    assert_eq!(code(&cache, "newsletter"), Ok("consent_withdrawn"));
    assert_eq!(code(&cache, "account"), Ok("restricted"));
    // A key moves to another subject.
    let other = SubjectId::from_uuid(uuid::Uuid::from_u128(8));
    t.insert(other, SubjectState::new(t.index()));
    t.link(KEY, other);
    assert_eq!(t.subject_of(KEY), Some(other));
    assert_eq!(code(&cache, "newsletter"), Ok("no_consent"));
    assert_eq!(t.with_state(subject(), |s| s.flags().restricted), Some(true));
    assert_eq!(t.loaded(), 2);
}

fn code_for(cache: &DecisionCache, key: &str, activity: &str) -> Result<&'static str, Miss> {
    let t = cache.tenant(&tenant()).unwrap();
    let q = covenant_engine::Query::new(t.index(), activity);
    t.decide(key, &q, ts("2026-06-01")).map(|d| d.code())
}
