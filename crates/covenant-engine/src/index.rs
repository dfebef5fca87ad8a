//! A policy compiled for decisions: every activity, consent purpose, recipient and category gets
//! a dense number, and everything a decision needs is precomputed, so that deciding is a few bit
//! tests and array reads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use covenant_core::ledger::sha256_hex;
use covenant_core::{CategoryKey, Jurisdiction, LegalBasis, Period};
use covenant_policy::Policy;
use covenant_policy::model::{ConsentKind, ConsentModel, ConsentPurpose, Role};

/// Every compiled index gets a distinct generation, so that a query or a subject state prepared
/// against one policy is never read against another.
static GENERATION: AtomicU64 = AtomicU64::new(1);

macro_rules! dense_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u32);

        impl $name {
            /// The position in the policy's list (declaration order).
            pub fn get(self) -> usize {
                self.0 as usize
            }
        }
    };
}

dense_id!(
    /// An activity of the compiled policy.
    ActivityIdx
);
dense_id!(
    /// A consent purpose of the compiled policy.
    PurposeIdx
);
dense_id!(
    /// A recipient of the compiled policy.
    RecipientIdx
);
/// A policy version label, interned by the index (see [`PolicyIndex::version_label`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionId(pub(crate) u16);

/// Stands for every label past the 65,535th distinct one an index has seen.
const VERSION_OVERFLOW: u16 = u16::MAX;

impl VersionId {
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

/// A fixed-size set of small numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BitSet(Box<[u64]>);

impl BitSet {
    pub(crate) fn with_capacity(n: usize) -> BitSet {
        BitSet(vec![0; n.div_ceil(64)].into_boxed_slice())
    }
    pub(crate) fn insert(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
    #[inline]
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// What a decision needs to know about one activity.
#[derive(Debug)]
pub(crate) struct ActivityEntry {
    pub(crate) id: String,
    /// The bases in the policy's order; alternatives, any of which suffices.
    pub(crate) bases: Vec<LegalBasis>,
    /// We process for a controller (GDPR Art. 28): its instructions are the basis.
    pub(crate) processor: bool,
    /// A legal obligation is among the bases: nothing the person says stops it.
    pub(crate) legal_obligation: bool,
    pub(crate) consent_purpose: Option<PurposeIdx>,
    /// Consent is one of the bases (else a named consent purpose is a preference that must also hold).
    pub(crate) consent_is_basis: bool,
    pub(crate) direct_marketing: bool,
    /// Rests on legitimate interests or a public task (GDPR Art. 21(1)), or is direct marketing
    /// (Art. 21(2)): the person may object.
    pub(crate) objectable: bool,
    /// Universe categories (by number) this activity may use: those within one of its categories.
    pub(crate) categories: BitSet,
    pub(crate) recipients: BitSet,
}

/// What a decision needs to know about one consent purpose.
#[derive(Debug)]
pub(crate) struct PurposeEntry {
    pub(crate) id: String,
    pub(crate) model: ConsentModel,
    pub(crate) hash: String,
    pub(crate) expires_after: Option<Period>,
    /// Covered by Global Privacy Control: sale, sharing, targeted advertising.
    pub(crate) gpc: bool,
}

/// What a decision needs to know about one recipient.
#[derive(Debug)]
pub(crate) struct RecipientEntry {
    pub(crate) id: String,
    /// The person may opt out of disclosure to it (promise P5).
    pub(crate) opt_out: bool,
    /// The activities it may receive data for (none listed: any that names it).
    pub(crate) activities: Option<BitSet>,
    /// Consent purposes that exist only to authorise disclosure to it (no activity rests on
    /// them): one must hold for any disclosure to it (promise K4).
    pub(crate) sharing_purposes: Box<[PurposeIdx]>,
    /// Disclosure to it is a sale or sharing (CCPA), or a GPC-covered purpose names it.
    pub(crate) gpc: bool,
    /// GPC-covered purposes that name it: consent to one after a GPC signal lifts the signal for it.
    pub(crate) gpc_purposes: Box<[PurposeIdx]>,
}

#[derive(Debug, Default)]
struct Versions {
    ids: HashMap<Arc<str>, u16>,
    labels: Vec<Arc<str>>,
}

/// A policy compiled for decisions. Cheap to share (`Arc<PolicyIndex>`); immutable except for the
/// table of policy-version labels, which grows when records from other versions are applied.
#[derive(Debug)]
pub struct PolicyIndex {
    generation: u64,
    version: VersionId,
    pub(crate) activities: Vec<ActivityEntry>,
    activity_ids: HashMap<String, ActivityIdx>,
    pub(crate) purposes: Vec<PurposeEntry>,
    purpose_ids: HashMap<String, PurposeIdx>,
    pub(crate) recipients: Vec<RecipientEntry>,
    recipient_ids: HashMap<String, RecipientIdx>,
    /// Every category key the policy mentions (declared, or named by an activity or purpose).
    categories: Vec<CategoryKey>,
    category_ids: HashMap<String, u32>,
    minimum_ages: Vec<(Jurisdiction, u8)>,
    versions: RwLock<Versions>,
}

/// SHA-256 (hex) of a canonical description of a consent purpose's definition: its id, kind,
/// model, description, recipients and categories (both sorted). A consent counts only while the
/// purpose still hashes to what it hashed to when the consent was given (promise K4), so a change
/// to any of these asks people again; a new name or expiry period does not.
pub fn purpose_hash(p: &ConsentPurpose) -> String {
    let mut bytes = Vec::with_capacity(256);
    bytes.extend_from_slice(b"covenant-purpose-v1");
    let mut field = |b: &[u8]| {
        bytes.extend_from_slice(&(b.len() as u64).to_le_bytes());
        bytes.extend_from_slice(b);
    };
    field(p.id.as_bytes());
    field(kind_name(p.kind).as_bytes());
    field(model_name(p.model).as_bytes());
    field(p.description.as_bytes());
    let mut recipients: Vec<&str> = p.recipients.iter().map(String::as_str).collect();
    recipients.sort_unstable();
    recipients.dedup();
    field(&(recipients.len() as u64).to_le_bytes());
    for r in recipients {
        field(r.as_bytes());
    }
    let mut categories: Vec<&str> = p.categories.iter().map(CategoryKey::as_str).collect();
    categories.sort_unstable();
    categories.dedup();
    field(&(categories.len() as u64).to_le_bytes());
    for c in categories {
        field(c.as_bytes());
    }
    sha256_hex(&bytes)
}

/// The policy-file name of a consent kind.
pub fn kind_name(k: ConsentKind) -> &'static str {
    match k {
        ConsentKind::Marketing => "marketing",
        ConsentKind::AiSharing => "ai_sharing",
        ConsentKind::Testimonial => "testimonial",
        ConsentKind::StoredPayment => "stored_payment",
        ConsentKind::Cookies => "cookies",
        ConsentKind::SaleSharing => "sale_sharing",
        ConsentKind::TargetedAds => "targeted_ads",
        ConsentKind::Other => "other",
    }
}

fn model_name(m: ConsentModel) -> &'static str {
    match m {
        ConsentModel::OptIn => "opt_in",
        ConsentModel::OptOut => "opt_out",
    }
}

impl PolicyIndex {
    /// Compiles a policy. References that do not resolve (which the lints report as errors) are
    /// left out, so they can only make decisions stricter.
    pub fn compile(policy: &Policy) -> PolicyIndex {
        let purpose_ids: HashMap<String, PurposeIdx> =
            policy.consent_purposes.iter().enumerate().map(|(i, p)| (p.id.clone(), PurposeIdx(i as u32))).collect();
        let recipient_ids: HashMap<String, RecipientIdx> =
            policy.recipients.iter().enumerate().map(|(i, r)| (r.id.clone(), RecipientIdx(i as u32))).collect();
        let activity_ids: HashMap<String, ActivityIdx> =
            policy.activities.iter().enumerate().map(|(i, a)| (a.id.clone(), ActivityIdx(i as u32))).collect();

        // The category universe: every key the policy mentions.
        let mut categories: Vec<CategoryKey> = Vec::new();
        let mut category_ids: HashMap<String, u32> = HashMap::new();
        let all_keys = policy
            .categories
            .iter()
            .map(|c| &c.id)
            .chain(policy.activities.iter().flat_map(|a| &a.categories))
            .chain(policy.consent_purposes.iter().flat_map(|p| &p.categories));
        for key in all_keys {
            if !category_ids.contains_key(key.as_str()) {
                category_ids.insert(key.as_str().to_owned(), categories.len() as u32);
                categories.push(key.clone());
            }
        }

        let purposes: Vec<PurposeEntry> = policy
            .consent_purposes
            .iter()
            .map(|p| PurposeEntry {
                id: p.id.clone(),
                model: p.model,
                hash: purpose_hash(p),
                expires_after: p.expires_after,
                gpc: matches!(p.kind, ConsentKind::SaleSharing | ConsentKind::TargetedAds),
            })
            .collect();

        // Purposes no activity rests on are sharing authorisations for the recipients they name.
        let used: Vec<&str> = policy.activities.iter().filter_map(|a| a.consent_purpose.as_deref()).collect();
        let recipients: Vec<RecipientEntry> = policy
            .recipients
            .iter()
            .map(|r| {
                let naming = || {
                    policy.consent_purposes.iter().enumerate().filter(|(_, p)| p.recipients.iter().any(|x| x == &r.id))
                };
                let sharing_purposes: Box<[PurposeIdx]> = naming()
                    .filter(|(_, p)| !used.contains(&p.id.as_str()))
                    .map(|(i, _)| PurposeIdx(i as u32))
                    .collect();
                let gpc_purposes: Box<[PurposeIdx]> =
                    naming().filter(|(i, _)| purposes[*i].gpc).map(|(i, _)| PurposeIdx(i as u32)).collect();
                let activities = (!r.activities.is_empty()).then(|| {
                    let mut set = BitSet::with_capacity(policy.activities.len());
                    for a in r.activities.iter().filter_map(|a| activity_ids.get(a)) {
                        set.insert(a.get());
                    }
                    set
                });
                RecipientEntry {
                    id: r.id.clone(),
                    opt_out: r.opt_out,
                    activities,
                    sharing_purposes,
                    gpc: r.sale || !gpc_purposes.is_empty(),
                    gpc_purposes,
                }
            })
            .collect();

        let activities = policy
            .activities
            .iter()
            .map(|a| {
                let mut cats = BitSet::with_capacity(categories.len());
                for (i, key) in categories.iter().enumerate() {
                    if a.categories.iter().any(|c| key.is_within(c)) {
                        cats.insert(i);
                    }
                }
                let mut recs = BitSet::with_capacity(policy.recipients.len());
                for r in a.recipients.iter().filter_map(|r| recipient_ids.get(r)) {
                    recs.insert(r.get());
                }
                let mut bases = a.legal_bases.clone();
                bases.dedup();
                ActivityEntry {
                    id: a.id.clone(),
                    processor: a.role == Role::Processor,
                    legal_obligation: bases.contains(&LegalBasis::LegalObligation),
                    consent_purpose: a.consent_purpose.as_ref().and_then(|p| purpose_ids.get(p).copied()),
                    consent_is_basis: bases.contains(&LegalBasis::Consent),
                    direct_marketing: a.direct_marketing,
                    objectable: a.direct_marketing || bases.iter().any(|b| b.objectable()),
                    bases,
                    categories: cats,
                    recipients: recs,
                }
            })
            .collect();

        let mut versions = Versions::default();
        let current: Arc<str> = Arc::from(policy.policy.version.as_str());
        versions.ids.insert(current.clone(), 0);
        versions.labels.push(current);

        PolicyIndex {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            version: VersionId(0),
            activities,
            activity_ids,
            purposes,
            purpose_ids,
            recipients,
            recipient_ids,
            categories,
            category_ids,
            minimum_ages: policy.minimum_ages.iter().map(|m| (m.jurisdiction.clone(), m.age)).collect(),
            versions: RwLock::new(versions),
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The compiled policy's version label.
    pub fn policy_version(&self) -> Arc<str> {
        self.version_label(self.version)
    }

    pub fn activity(&self, id: &str) -> Option<ActivityIdx> {
        self.activity_ids.get(id).copied()
    }
    pub fn purpose(&self, id: &str) -> Option<PurposeIdx> {
        self.purpose_ids.get(id).copied()
    }
    pub fn recipient(&self, id: &str) -> Option<RecipientIdx> {
        self.recipient_ids.get(id).copied()
    }

    pub fn activity_id(&self, a: ActivityIdx) -> &str {
        self.activities.get(a.get()).map_or("", |e| e.id.as_str())
    }
    pub fn purpose_id(&self, p: PurposeIdx) -> &str {
        self.purposes.get(p.get()).map_or("", |e| e.id.as_str())
    }
    pub fn recipient_id(&self, r: RecipientIdx) -> &str {
        self.recipients.get(r.get()).map_or("", |e| e.id.as_str())
    }

    /// The ids of every activity, consent purpose and recipient, in the policy's order.
    pub fn activity_ids(&self) -> impl Iterator<Item = &str> {
        self.activities.iter().map(|a| a.id.as_str())
    }
    pub fn purpose_ids(&self) -> impl Iterator<Item = &str> {
        self.purposes.iter().map(|p| p.id.as_str())
    }
    pub fn recipient_ids(&self) -> impl Iterator<Item = &str> {
        self.recipients.iter().map(|r| r.id.as_str())
    }

    pub fn purpose_count(&self) -> usize {
        self.purposes.len()
    }

    /// The current definition hash of a consent purpose (see [`purpose_hash`]).
    pub fn purpose_hash(&self, p: PurposeIdx) -> &str {
        self.purposes.get(p.get()).map_or("", |e| e.hash.as_str())
    }

    /// Whether a consent purpose is covered by Global Privacy Control.
    pub fn purpose_gpc_covered(&self, p: PurposeIdx) -> bool {
        self.purposes.get(p.get()).is_some_and(|e| e.gpc)
    }

    pub(crate) fn purpose_expires_after(&self, p: PurposeIdx) -> Option<Period> {
        self.purposes.get(p.get()).and_then(|e| e.expires_after)
    }

    /// Whether the person may object to an activity (GDPR Art. 21): it rests on legitimate
    /// interests or a public task, or it is direct marketing.
    pub fn activity_objectable(&self, a: ActivityIdx) -> bool {
        self.activities.get(a.get()).is_some_and(|e| e.objectable)
    }

    /// Whether the person may opt out of disclosure to a recipient (promise P5).
    pub fn recipient_opt_out(&self, r: RecipientIdx) -> bool {
        self.recipients.get(r.get()).is_some_and(|e| e.opt_out)
    }

    /// The legal bases of an activity, in the policy's order.
    pub fn activity_bases(&self, a: ActivityIdx) -> &[LegalBasis] {
        self.activities.get(a.get()).map_or(&[], |e| e.bases.as_slice())
    }

    /// The category of the universe a key falls under for decisions: the key itself when the
    /// policy mentions it, else its nearest mentioned ancestor. A key is within an activity's
    /// category exactly when this category is, since every activity category is in the universe.
    pub(crate) fn category_slot(&self, key: &CategoryKey) -> Option<u32> {
        key.ancestors().find_map(|k| self.category_ids.get(k).copied())
    }

    /// Every category key the policy mentions.
    pub fn categories(&self) -> &[CategoryKey] {
        &self.categories
    }

    /// The youngest age served where the person lives: the most specific `minimum_ages` entry
    /// that covers the place (a subdivision beats a country, which beats a regime, then `default`).
    pub fn minimum_age(&self, country: &str, subdivision: Option<&str>) -> Option<u8> {
        Jurisdiction::resolve(self.minimum_ages.iter().map(|(j, a)| (j, *a)), country, subdivision)
    }

    /// The minimum age that `age` falls below where the person lives, if it does (promises W7,
    /// P8, O8, K10, T9).
    pub fn under_age(&self, age: u8, country: &str, subdivision: Option<&str>) -> Option<u8> {
        self.minimum_age(country, subdivision).filter(|min| age < *min)
    }

    /// The minimum age for everyone no more specific entry covers.
    pub fn default_minimum_age(&self) -> Option<u8> {
        self.minimum_ages.iter().find(|(j, _)| j.is_default()).map(|(_, a)| *a)
    }

    /// The number for a policy version label, adding it when new.
    pub(crate) fn intern_version(&self, label: &str) -> VersionId {
        if let Ok(v) = self.versions.read()
            && let Some(id) = v.ids.get(label)
        {
            return VersionId(*id);
        }
        let mut v = match self.versions.write() {
            Ok(v) => v,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(id) = v.ids.get(label) {
            return VersionId(*id);
        }
        let Ok(id) = u16::try_from(v.labels.len()) else { return VersionId(VERSION_OVERFLOW) };
        if id == VERSION_OVERFLOW {
            return VersionId(VERSION_OVERFLOW);
        }
        let label: Arc<str> = Arc::from(label);
        v.ids.insert(label.clone(), id);
        v.labels.push(label);
        VersionId(id)
    }

    /// The label of an interned policy version.
    pub fn version_label(&self, v: VersionId) -> Arc<str> {
        let versions = match self.versions.read() {
            Ok(v) => v,
            Err(poisoned) => poisoned.into_inner(),
        };
        versions.labels.get(v.get()).cloned().unwrap_or_else(|| Arc::from("(one of too many versions to tell apart)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purpose(id: &str, recipients: &[&str], categories: &[&str]) -> ConsentPurpose {
        ConsentPurpose {
            id: id.to_owned(),
            name: "Partner sharing".to_owned(),
            description: "We share your details with our partners.".to_owned(),
            kind: ConsentKind::Other,
            model: ConsentModel::OptIn,
            separate: false,
            recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
            categories: categories.iter().map(|c| CategoryKey::parse(c).unwrap()).collect(),
            expires_after: None,
            approval_required: false,
        }
    }

    // promise K4: a new recipient or a new description is a new definition; order and names are not.
    #[test]
    fn the_purpose_hash_follows_the_definition() {
        let base = purpose("partners", &["a", "b"], &["user.contact", "user.name"]);
        let h = purpose_hash(&base);
        assert_eq!(h.len(), 64);
        assert_eq!(h, purpose_hash(&purpose("partners", &["b", "a"], &["user.name", "user.contact"])));
        let mut renamed = base.clone();
        renamed.name = "Sharing with partners".to_owned();
        renamed.expires_after = Some(Period::years(1));
        assert_eq!(h, purpose_hash(&renamed));
        assert_ne!(h, purpose_hash(&purpose("partners", &["a", "b", "c"], &["user.contact", "user.name"])));
        assert_ne!(h, purpose_hash(&purpose("partners", &["a", "b"], &["user.contact"])));
        assert_ne!(h, purpose_hash(&purpose("partners2", &["a", "b"], &["user.contact", "user.name"])));
        let mut described = base.clone();
        described.description.push_str(" And their partners.");
        assert_ne!(h, purpose_hash(&described));
        let mut opt_out = base;
        opt_out.model = ConsentModel::OptOut;
        assert_ne!(h, purpose_hash(&opt_out));
        // Field boundaries are unambiguous.
        assert_ne!(purpose_hash(&purpose("ab", &["c"], &[])), purpose_hash(&purpose("a", &["bc"], &[])));
    }

    #[test]
    fn version_labels_are_interned_until_the_table_is_full() {
        let p: Policy = covenant_policy::parse(
            "schema = 1\n[policy]\ntitle = \"T\"\nversion = \"7\"\neffective = \"2026-01-01\"\n[controller]\nlegal_name = \"C\"\n",
            covenant_policy::Format::Toml,
        )
        .unwrap();
        let index = PolicyIndex::compile(&p);
        assert_eq!(&*index.policy_version(), "7");
        assert_eq!(index.intern_version("7"), VersionId(0));
        let v = index.intern_version("6");
        assert_eq!(index.intern_version("6"), v);
        assert_eq!(&*index.version_label(v), "6");
        for i in 0..70_000 {
            index.intern_version(&format!("v{i}"));
        }
        let last = index.intern_version("one more");
        assert_eq!(last, VersionId(VERSION_OVERFLOW));
        assert_eq!(&*index.version_label(last), "(one of too many versions to tell apart)");
        assert_eq!(&*index.version_label(v), "6");
    }

    #[test]
    fn bitsets() {
        let mut s = BitSet::with_capacity(130);
        for i in [0, 63, 64, 129] {
            s.insert(i);
        }
        for i in 0..140 {
            assert_eq!(s.contains(i), [0, 63, 64, 129].contains(&i), "{i}");
        }
        s.insert(1000);
        assert!(!s.contains(1000));
    }
}
