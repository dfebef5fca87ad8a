//! What a decision needs to know about one person, compactly: the latest record per consent
//! purpose in an array indexed by the policy, a short sorted list of preferences (objections,
//! partner opt-outs, a GPC signal) and a few flags. No per-subject maps.
//!
//! The ledger holds consents and preferences in one shape ([`ConsentRecord`]); its `purpose` field
//! says what a record is about (see [`LedgerKey`]). For a preference, `given` means the person
//! agrees to the processing again (an objection or opt-out lifted) and `refused` or `withdrawn`
//! means they object or opt out.
//!
//! Times are kept to the microsecond, as the stores keep them: among records for the same thing,
//! the latest wins, and among records in the same microsecond the later one in the ledger wins,
//! like [`covenant_core::ledger::project`].

use covenant_core::ledger::{ConsentRecord, ConsentStatus};
use covenant_core::{LifecycleEvent, LifecycleKind};
use jiff::Timestamp;

use crate::index::{ActivityIdx, PolicyIndex, PurposeIdx, RecipientIdx, VersionId};

/// What a ledger record is about, read from its `purpose` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerKey<'a> {
    /// A consent purpose of the policy: `newsletter`.
    Purpose(&'a str),
    /// An objection to one activity (GDPR Art. 21): `activity:product_analytics`.
    Activity(&'a str),
    /// An objection to all direct marketing (GDPR Art. 21(2), absolute by 21(3)): `all:direct_marketing`.
    DirectMarketing,
    /// An opt-out of disclosure to one recipient (promise P5): `recipient:resellers`.
    Recipient(&'a str),
    /// A Global Privacy Control signal (`Sec-GPC: 1`): `signal:gpc`. An opt-out of sale, sharing
    /// and targeted advertising.
    Gpc,
}

const ACTIVITY: &str = "activity:";
const RECIPIENT: &str = "recipient:";
const DIRECT_MARKETING: &str = "all:direct_marketing";
const GPC: &str = "signal:gpc";

impl<'a> LedgerKey<'a> {
    /// Reads a record's `purpose` field. Anything without a reserved prefix is a consent purpose.
    pub fn parse(s: &'a str) -> LedgerKey<'a> {
        if let Some(a) = s.strip_prefix(ACTIVITY) {
            LedgerKey::Activity(a)
        } else if let Some(r) = s.strip_prefix(RECIPIENT) {
            LedgerKey::Recipient(r)
        } else if s == DIRECT_MARKETING {
            LedgerKey::DirectMarketing
        } else if s == GPC {
            LedgerKey::Gpc
        } else {
            LedgerKey::Purpose(s)
        }
    }

    /// The text stored in a record's `purpose` field.
    pub fn to_field(self) -> String {
        match self {
            LedgerKey::Purpose(p) => p.to_owned(),
            LedgerKey::Activity(a) => format!("{ACTIVITY}{a}"),
            LedgerKey::Recipient(r) => format!("{RECIPIENT}{r}"),
            LedgerKey::DirectMarketing => DIRECT_MARKETING.to_owned(),
            LedgerKey::Gpc => GPC.to_owned(),
        }
    }
}

/// The latest record for one consent purpose: 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConsentSlot {
    pub(crate) at: i64,
    /// Whole seconds from `at` until a given consent lapses (`expires_after`); `u32::MAX` when it
    /// does not. Periods are whole hours or days (and at most 100 years), so this is exact.
    expires_in: u32,
    pub(crate) version: VersionId,
    pub(crate) status: Option<ConsentStatus>,
    /// The record's purpose hash is the current definition's (promise K4).
    pub(crate) current: bool,
}

impl ConsentSlot {
    /// When a given consent lapses; `i64::MAX` when it does not.
    #[inline]
    pub(crate) fn expires_at(&self) -> i64 {
        if self.expires_in == u32::MAX {
            i64::MAX
        } else {
            self.at.saturating_add(i64::from(self.expires_in) * 1_000_000)
        }
    }
}

const EMPTY_SLOT: ConsentSlot =
    ConsentSlot { status: None, current: false, version: VersionId(0), at: i64::MIN, expires_in: u32::MAX };

/// What a preference is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrefKey {
    Gpc,
    DirectMarketing,
    Activity(ActivityIdx),
    Recipient(RecipientIdx),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PrefEntry {
    key: PrefKey,
    /// The objection or opt-out is in force (the latest record refused or withdrew).
    in_force: bool,
    at: i64,
}

/// A person was found to be under the minimum age.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnderAge {
    /// The age they are under, when known.
    pub minimum_age: Option<u8>,
}

/// Facts about a person that are not consents: set from requests and lifecycle events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// Processing is restricted (GDPR Art. 18), e.g. while the accuracy of data is contested.
    pub restricted: bool,
    /// The person has died (promise W6).
    pub deceased: bool,
    /// The person is under the minimum age (promises W7, P8, O8, K10, T9).
    pub under_age: Option<UnderAge>,
}

/// A change to a person's state: a new ledger record or a flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Update {
    Record(Box<ConsentRecord>),
    Restricted(bool),
    Deceased(bool),
    UnderAge(Option<UnderAge>),
}

/// What applying a record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It is now the latest record for what it is about.
    Updated,
    /// A later record for the same thing is already applied, so it changes nothing.
    Superseded,
    /// It is about a purpose, activity or recipient this policy does not have.
    Unknown,
}

/// Policies with at most this many consent purposes keep a person's consents inside the state
/// itself: a decision then finds the slot it needs next to the rest of the state, instead of
/// following a pointer to another allocation (one memory access fewer among millions of people).
const INLINE_PURPOSES: usize = 12;

/// One slot per consent purpose of the index (none until the first consent record).
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // inline on purpose, see above
enum Consents {
    Inline(u8, [ConsentSlot; INLINE_PURPOSES]),
    Heap(Box<[ConsentSlot]>),
}

impl Consents {
    fn with_len(n: usize) -> Consents {
        if n <= INLINE_PURPOSES {
            Consents::Inline(n as u8, [EMPTY_SLOT; INLINE_PURPOSES])
        } else {
            Consents::Heap(vec![EMPTY_SLOT; n].into_boxed_slice())
        }
    }

    #[inline]
    fn as_slice(&self) -> &[ConsentSlot] {
        match self {
            // INVARIANT: the length is at most INLINE_PURPOSES (see `with_len`).
            Consents::Inline(n, slots) => slots.get(..usize::from(*n)).unwrap_or(&[]),
            Consents::Heap(slots) => slots,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [ConsentSlot] {
        match self {
            Consents::Inline(n, slots) => slots.get_mut(..usize::from(*n)).unwrap_or(&mut []),
            Consents::Heap(slots) => slots,
        }
    }
}

impl PartialEq for Consents {
    fn eq(&self, other: &Consents) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Consents {}

/// One person's consents, preferences and flags, as decisions need them.
// In declaration order: what every decision reads first, the consent slots last.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct SubjectState {
    generation: u64,
    flags: Flags,
    /// Sorted by key; usually empty.
    prefs: Vec<PrefEntry>,
    consents: Consents,
}

/// A consent purpose's current state, for display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentView {
    pub status: ConsentStatus,
    pub at: Timestamp,
    pub policy_version: VersionId,
    /// Given for the purpose's current definition (promise K4).
    pub current: bool,
    /// When a given consent lapses.
    pub expires_at: Option<Timestamp>,
}

pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn timestamp(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl SubjectState {
    /// A person with no records and no flags.
    pub fn new(index: &PolicyIndex) -> SubjectState {
        SubjectState {
            generation: index.generation(),
            consents: Consents::Inline(0, [EMPTY_SLOT; INLINE_PURPOSES]),
            prefs: Vec::new(),
            flags: Flags::default(),
        }
    }

    /// The state the records put a person in, in ledger order.
    pub fn from_records<'a>(index: &PolicyIndex, records: impl IntoIterator<Item = &'a ConsentRecord>) -> SubjectState {
        let mut s = SubjectState::new(index);
        for r in records {
            s.apply(index, r);
        }
        s
    }

    /// Applies the next record of the ledger.
    pub fn apply(&mut self, index: &PolicyIndex, record: &ConsentRecord) -> Applied {
        let at = micros(record.at);
        match LedgerKey::parse(&record.purpose) {
            LedgerKey::Purpose(id) => match index.purpose(id) {
                Some(p) => self.apply_consent(index, p, record, at),
                None => Applied::Unknown,
            },
            LedgerKey::Activity(id) => match index.activity(id) {
                Some(a) => self.apply_pref(PrefKey::Activity(a), record.status, at),
                None => Applied::Unknown,
            },
            LedgerKey::Recipient(id) => match index.recipient(id) {
                Some(r) => self.apply_pref(PrefKey::Recipient(r), record.status, at),
                None => Applied::Unknown,
            },
            LedgerKey::DirectMarketing => self.apply_pref(PrefKey::DirectMarketing, record.status, at),
            LedgerKey::Gpc => self.apply_pref(PrefKey::Gpc, record.status, at),
        }
    }

    fn apply_consent(&mut self, index: &PolicyIndex, p: PurposeIdx, record: &ConsentRecord, at: i64) -> Applied {
        if self.consents.as_slice().is_empty() {
            self.consents = Consents::with_len(index.purpose_count());
        }
        let Some(slot) = self.consents.as_mut_slice().get_mut(p.get()) else { return Applied::Unknown };
        if slot.status.is_some() && at < slot.at {
            return Applied::Superseded;
        }
        let expires_in = match (record.status, index.purpose_expires_after(p)) {
            // Rounded down, so a consent never lasts longer than it may; a period that cannot be
            // added lies beyond the calendar, and the consent lapses at once rather than never.
            (ConsentStatus::Given, Some(period)) => period
                .after(record.at)
                .ok()
                .map(|end| (micros(end).saturating_sub(at) / 1_000_000).clamp(0, i64::from(u32::MAX - 1)))
                .and_then(|s| u32::try_from(s).ok())
                .unwrap_or(0),
            _ => u32::MAX,
        };
        *slot = ConsentSlot {
            status: Some(record.status),
            current: record.purpose_hash == index.purpose_hash(p),
            version: index.intern_version(&record.policy_version),
            at,
            expires_in,
        };
        Applied::Updated
    }

    fn apply_pref(&mut self, key: PrefKey, status: ConsentStatus, at: i64) -> Applied {
        let in_force = matches!(status, ConsentStatus::Refused | ConsentStatus::Withdrawn);
        let entry = PrefEntry { key, in_force, at };
        match self.prefs.binary_search_by(|e| e.key.cmp(&key)) {
            Ok(i) => {
                if at < self.prefs[i].at {
                    return Applied::Superseded;
                }
                self.prefs[i] = entry;
            }
            Err(i) => self.prefs.insert(i, entry),
        }
        Applied::Updated
    }

    /// Applies a record or a flag.
    pub fn apply_update(&mut self, index: &PolicyIndex, update: &Update) -> Applied {
        match update {
            Update::Record(r) => return self.apply(index, r),
            Update::Restricted(b) => self.flags.restricted = *b,
            Update::Deceased(b) => self.flags.deceased = *b,
            Update::UnderAge(u) => self.flags.under_age = *u,
        }
        Applied::Updated
    }

    /// Applies a lifecycle event: a death or a finding that the person is under age. Returns
    /// whether the state changed (other events do not concern decisions).
    pub fn apply_lifecycle(&mut self, event: &LifecycleEvent) -> bool {
        match event.kind {
            LifecycleKind::Deceased => self.flags.deceased = true,
            LifecycleKind::UnderageFound => {
                if self.flags.under_age.is_none() {
                    self.flags.under_age = Some(UnderAge { minimum_age: None });
                }
            }
            _ => return false,
        }
        true
    }

    pub fn flags(&self) -> Flags {
        self.flags
    }
    pub fn set_flags(&mut self, flags: Flags) {
        self.flags = flags;
    }
    pub fn set_restricted(&mut self, restricted: bool) {
        self.flags.restricted = restricted;
    }
    pub fn set_deceased(&mut self, deceased: bool) {
        self.flags.deceased = deceased;
    }
    pub fn set_under_age(&mut self, under_age: Option<UnderAge>) {
        self.flags.under_age = under_age;
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    #[inline]
    pub(crate) fn slot(&self, p: PurposeIdx) -> &ConsentSlot {
        self.consents.as_slice().get(p.get()).unwrap_or(&EMPTY_SLOT)
    }

    /// When the objection or opt-out for `key` took effect, if it is in force.
    #[inline]
    pub(crate) fn pref(&self, key: PrefKey) -> Option<i64> {
        if self.prefs.is_empty() {
            return None;
        }
        self.prefs.iter().find(|e| e.key == key).filter(|e| e.in_force).map(|e| e.at)
    }

    /// The latest record for a consent purpose, if any.
    pub fn consent(&self, p: PurposeIdx) -> Option<ConsentView> {
        let s = self.slot(p);
        s.status.map(|status| ConsentView {
            status,
            at: timestamp(s.at),
            policy_version: s.version,
            current: s.current,
            expires_at: (s.expires_at() != i64::MAX).then(|| timestamp(s.expires_at())),
        })
    }

    /// When the person objected to an activity, if the objection is in force.
    pub fn objection(&self, a: ActivityIdx) -> Option<Timestamp> {
        self.pref(PrefKey::Activity(a)).map(timestamp)
    }
    /// When the person objected to all direct marketing, if the objection is in force.
    pub fn direct_marketing_objection(&self) -> Option<Timestamp> {
        self.pref(PrefKey::DirectMarketing).map(timestamp)
    }
    /// When the person opted out of disclosure to a recipient, if the opt-out is in force.
    pub fn recipient_opt_out(&self, r: RecipientIdx) -> Option<Timestamp> {
        self.pref(PrefKey::Recipient(r)).map(timestamp)
    }
    /// When a Global Privacy Control signal was recorded, if it is in force.
    pub fn gpc_opt_out(&self) -> Option<Timestamp> {
        self.pref(PrefKey::Gpc).map(timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_events_set_flags() {
        let policy = crate::synthetic::policy(1).unwrap();
        let index = PolicyIndex::compile(&policy);
        let mut s = SubjectState::new(&index);
        let event = |kind| LifecycleEvent { kind, at: Timestamp::UNIX_EPOCH, detail: None };
        assert!(!s.apply_lifecycle(&event(LifecycleKind::Signup)));
        assert_eq!(s.flags(), Flags::default());
        assert!(s.apply_lifecycle(&event(LifecycleKind::UnderageFound)));
        assert_eq!(s.flags().under_age, Some(UnderAge { minimum_age: None }));
        // A known minimum age is kept.
        s.set_under_age(Some(UnderAge { minimum_age: Some(16) }));
        s.apply_lifecycle(&event(LifecycleKind::UnderageFound));
        assert_eq!(s.flags().under_age, Some(UnderAge { minimum_age: Some(16) }));
        assert!(s.apply_lifecycle(&event(LifecycleKind::Deceased)));
        assert!(s.flags().deceased);
    }

    #[test]
    fn slots_are_small() {
        assert_eq!(std::mem::size_of::<ConsentSlot>(), 16);
    }

    #[test]
    fn ledger_keys_round_trip() {
        for (field, key) in [
            ("newsletter", LedgerKey::Purpose("newsletter")),
            ("activity:analytics", LedgerKey::Activity("analytics")),
            ("recipient:resellers", LedgerKey::Recipient("resellers")),
            ("all:direct_marketing", LedgerKey::DirectMarketing),
            ("signal:gpc", LedgerKey::Gpc),
            ("signal:other", LedgerKey::Purpose("signal:other")),
        ] {
            assert_eq!(LedgerKey::parse(field), key, "{field}");
            assert_eq!(key.to_field(), field);
        }
    }
}
