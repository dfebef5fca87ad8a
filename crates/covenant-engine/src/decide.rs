//! The decision: may this activity use these categories of this person's data now (and send
//! them to this recipient), and why.
//!
//! The order of the checks, each of which can end the decision:
//!
//! 1. Scope: the activity exists; every category lies within one of its categories; the
//!    recipient, if any, is one of its recipients and may receive data for it (promise K4).
//! 2. A processor activity runs on the controller's instructions (GDPR Art. 28(3)(a)): the
//!    person's wishes go to the controller (promises O3, T7), not to us.
//! 3. A legal obligation among the bases wins over everything the person says (Art. 17(3)(b),
//!    18(2), 21): processing the law requires is allowed.
//! 4. The person: deceased (promise W6), under age (W7, P8, O8, K10, T9), objected to direct
//!    marketing (absolute, Art. 21(3)), opted out of this recipient (P5), a GPC signal against
//!    sale, sharing and targeted advertising (unless they consented to the purpose after it).
//! 5. The bases, in the policy's order, as alternatives: the first that holds is the answer.
//!    Consent holds while a consent counts (given, for the current definition, not expired;
//!    for an opt-out purpose, while not refused or withdrawn). Contract and legitimate interests
//!    fail under restriction (Art. 18(2) allows only storage, consent, legal claims, the
//!    protection of others and important public interest); legitimate interests and public task
//!    fail when the person objected to the activity (Art. 21(1)).
//! 6. A consent purpose named by an activity that does not rest on consent is a preference that
//!    must also hold (an opt-out of promotional email, promises W4, P4, O6, T6).
//! 7. A disclosure to a recipient named by a consent purpose no activity rests on needs one of
//!    those consents (a sharing authorisation, promise K4).

use covenant_core::ledger::ConsentStatus;
use covenant_core::{CategoryKey, CategoryKeyError, LegalBasis};
use covenant_policy::model::ConsentModel;
use jiff::Timestamp;

use crate::index::{ActivityEntry, ActivityIdx, PolicyIndex, PurposeIdx, RecipientIdx, VersionId};
use crate::state::{PrefKey, SubjectState, timestamp};

/// A question prepared against one compiled policy: names resolved once, so that deciding does
/// not look anything up by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    generation: u64,
    activity: Result<ActivityIdx, Box<str>>,
    categories: Box<[(CategoryKey, Option<u32>)]>,
    recipient: Option<Result<RecipientIdx, Box<str>>>,
}

/// Why a query could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Category(#[from] CategoryKeyError),
}

impl Query {
    /// A query for an activity by id; an unknown id is kept, and decided as unknown.
    pub fn new(index: &PolicyIndex, activity: &str) -> Query {
        Query {
            generation: index.generation(),
            activity: index.activity(activity).ok_or_else(|| activity.into()),
            categories: Box::new([]),
            recipient: None,
        }
    }

    /// Parses everything a caller sends: an activity id, category keys, a recipient id.
    pub fn parse(
        index: &PolicyIndex,
        activity: &str,
        categories: &[&str],
        recipient: Option<&str>,
    ) -> Result<Query, QueryError> {
        let keys = categories.iter().map(|c| CategoryKey::parse(c)).collect::<Result<Vec<_>, _>>()?;
        let q = Query::new(index, activity).with_categories(index, keys);
        Ok(match recipient {
            Some(r) => q.with_recipient(index, r),
            None => q,
        })
    }

    /// The categories of data the activity is about to use.
    pub fn with_categories(mut self, index: &PolicyIndex, keys: impl IntoIterator<Item = CategoryKey>) -> Query {
        let mut v = self.categories.into_vec();
        v.extend(keys.into_iter().map(|k| {
            let slot = index.category_slot(&k);
            (k, slot)
        }));
        self.categories = v.into_boxed_slice();
        self
    }

    /// The recipient the data is about to be sent to.
    pub fn with_recipient(mut self, index: &PolicyIndex, recipient: &str) -> Query {
        self.recipient = Some(index.recipient(recipient).ok_or_else(|| recipient.into()));
        self
    }

    pub fn activity(&self) -> Option<ActivityIdx> {
        self.activity.as_ref().ok().copied()
    }
    pub fn categories(&self) -> impl Iterator<Item = &CategoryKey> {
        self.categories.iter().map(|(k, _)| k)
    }
}

/// Why processing is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Necessary for a contract with the person (GDPR Art. 6(1)(b)).
    Contract,
    /// Required by law (Art. 6(1)(c)).
    LegalObligation,
    /// Protects someone's life (Art. 6(1)(d)).
    VitalInterests,
    /// A task in the public interest (Art. 6(1)(e)).
    PublicTask,
    /// Our legitimate interests, the person not having objected (Art. 6(1)(f)).
    LegitimateInterests,
    /// The person consented (Art. 6(1)(a)).
    Consent { purpose: PurposeIdx, given_at: Timestamp, version: VersionId },
    /// An opt-out purpose the person has not opted out of.
    NotOptedOut { purpose: PurposeIdx },
    /// We process for a controller, on its instructions (Art. 28(3)(a)).
    ControllerInstructions,
}

/// Why processing is not allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The query was prepared against another version of the policy.
    PolicyChanged,
    UnknownActivity,
    /// The query's category at this position is not within the activity's categories.
    CategoryOutsideActivity {
        position: u32,
    },
    UnknownRecipient,
    /// The activity does not send data to this recipient, or the recipient may not receive it
    /// for this activity (promise K4).
    RecipientNotAllowed {
        recipient: RecipientIdx,
    },
    /// The activity states no legal basis.
    NoLegalBasis,
    /// The activity rests on consent but names no consent purpose to record it against.
    NoConsentPurpose,
    NoConsent {
        purpose: PurposeIdx,
    },
    ConsentRefused {
        purpose: PurposeIdx,
        at: Timestamp,
    },
    /// Withdrawal affects only processing after `at` (GDPR Art. 7(3); promise T2).
    ConsentWithdrawn {
        purpose: PurposeIdx,
        at: Timestamp,
    },
    ConsentExpired {
        purpose: PurposeIdx,
        at: Timestamp,
    },
    /// Given for an earlier definition of the purpose (promise K4).
    ConsentOutdated {
        purpose: PurposeIdx,
        given_at: Timestamp,
        version: VersionId,
    },
    /// The person objected to this activity (GDPR Art. 21(1)).
    Objected {
        activity: ActivityIdx,
        at: Timestamp,
    },
    /// The person objected to direct marketing (Art. 21(2)); the objection is absolute (21(3)).
    ObjectedToDirectMarketing {
        at: Timestamp,
    },
    /// Processing is restricted (Art. 18).
    Restricted,
    UnderAge {
        minimum_age: Option<u8>,
    },
    Deceased,
    /// A Global Privacy Control signal opted the person out of sale, sharing and targeted ads.
    GpcOptOut {
        at: Timestamp,
    },
    /// The person opted out of disclosure to this recipient (promise P5).
    PartnerOptOut {
        recipient: RecipientIdx,
        at: Timestamp,
    },
}

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow(Basis),
    Deny(Denial),
}

impl Basis {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Basis::Contract => "contract",
            Basis::LegalObligation => "legal_obligation",
            Basis::VitalInterests => "vital_interests",
            Basis::PublicTask => "public_task",
            Basis::LegitimateInterests => "legitimate_interests",
            Basis::Consent { .. } => "consent_given",
            Basis::NotOptedOut { .. } => "not_opted_out",
            Basis::ControllerInstructions => "controller_instructions",
        }
    }

    fn message(&self, index: &PolicyIndex) -> String {
        match self {
            Basis::Contract => "necessary to perform the contract with the person (GDPR Art. 6(1)(b))".to_owned(),
            Basis::LegalObligation => "required by a legal obligation (GDPR Art. 6(1)(c))".to_owned(),
            Basis::VitalInterests => "necessary to protect someone's vital interests (GDPR Art. 6(1)(d))".to_owned(),
            Basis::PublicTask => "necessary for a task in the public interest (GDPR Art. 6(1)(e))".to_owned(),
            Basis::LegitimateInterests => {
                "in the legitimate interests stated in the policy, and the person has not objected (GDPR Art. 6(1)(f))"
                    .to_owned()
            }
            Basis::Consent { purpose, given_at, version } => format!(
                "consent to `{}` was given at {given_at} under policy version `{}`",
                index.purpose_id(*purpose),
                index.version_label(*version)
            ),
            Basis::NotOptedOut { purpose } => {
                format!("the person has not opted out of `{}`", index.purpose_id(*purpose))
            }
            Basis::ControllerInstructions => {
                "processed for the controller, on its instructions (GDPR Art. 28(3)(a)); the person's requests go to that controller"
                    .to_owned()
            }
        }
    }
}

impl Denial {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Denial::PolicyChanged => "policy_changed",
            Denial::UnknownActivity => "unknown_activity",
            Denial::CategoryOutsideActivity { .. } => "category_outside_activity",
            Denial::UnknownRecipient => "unknown_recipient",
            Denial::RecipientNotAllowed { .. } => "recipient_not_allowed",
            Denial::NoLegalBasis => "no_legal_basis",
            Denial::NoConsentPurpose => "no_consent_purpose",
            Denial::NoConsent { .. } => "no_consent",
            Denial::ConsentRefused { .. } => "consent_refused",
            Denial::ConsentWithdrawn { .. } => "consent_withdrawn",
            Denial::ConsentExpired { .. } => "consent_expired",
            Denial::ConsentOutdated { .. } => "consent_outdated",
            Denial::Objected { .. } | Denial::ObjectedToDirectMarketing { .. } => "objected",
            Denial::Restricted => "restricted",
            Denial::UnderAge { .. } => "under_age",
            Denial::Deceased => "deceased",
            Denial::GpcOptOut { .. } => "gpc_opt_out",
            Denial::PartnerOptOut { .. } => "partner_opt_out",
        }
    }

    fn message(&self, index: &PolicyIndex, query: &Query) -> String {
        let activity = || match &query.activity {
            Ok(a) => index.activity_id(*a).to_owned(),
            Err(name) => name.to_string(),
        };
        let purpose = |p: &PurposeIdx| index.purpose_id(*p).to_owned();
        match self {
            Denial::PolicyChanged => {
                "the policy changed after this question was prepared; prepare it again against the current policy"
                    .to_owned()
            }
            Denial::UnknownActivity => format!("the policy has no activity `{}`", activity()),
            Denial::CategoryOutsideActivity { position } => {
                let key = query.categories.get(*position as usize).map_or("", |(k, _)| k.as_str());
                format!("category `{key}` is not among the categories activity `{}` may use", activity())
            }
            Denial::UnknownRecipient => {
                let name = match &query.recipient {
                    Some(Err(name)) => name.to_string(),
                    _ => String::new(),
                };
                format!("the policy has no recipient `{name}`")
            }
            Denial::RecipientNotAllowed { recipient } => format!(
                "activity `{}` does not disclose data to `{}`; data is bound to the purposes the policy states (promise K4)",
                activity(),
                index.recipient_id(*recipient)
            ),
            Denial::NoLegalBasis => format!("activity `{}` states no legal basis", activity()),
            Denial::NoConsentPurpose => {
                format!("activity `{}` rests on consent but names no consent purpose to record it against", activity())
            }
            Denial::NoConsent { purpose: p } => format!("no consent to `{}` has been recorded", purpose(p)),
            Denial::ConsentRefused { purpose: p, at } => format!("the person refused `{}` at {at}", purpose(p)),
            Denial::ConsentWithdrawn { purpose: p, at } => format!(
                "consent to `{}` was withdrawn at {at}; processing before then stays lawful, processing after it needs new consent",
                purpose(p)
            ),
            Denial::ConsentExpired { purpose: p, at } => {
                format!("consent to `{}` expired at {at} and must be asked for again", purpose(p))
            }
            Denial::ConsentOutdated { purpose: p, given_at, version } => format!(
                "consent to `{}` was given at {given_at} under policy version `{}` for an earlier definition of the purpose; the purpose or its recipients have changed, so it must be asked for again",
                purpose(p),
                index.version_label(*version)
            ),
            Denial::Objected { activity: a, at } => format!(
                "the person objected to `{}` at {at} (GDPR Art. 21); processing resumes only if the objection is lifted",
                index.activity_id(*a)
            ),
            Denial::ObjectedToDirectMarketing { at } => format!(
                "the person objected to direct marketing at {at}; the objection is absolute (GDPR Art. 21(3))"
            ),
            Denial::Restricted => "processing is restricted (GDPR Art. 18): besides storage, only processing with the person's consent, processing the law requires, and processing to protect someone's vital interests or for a task in the public interest are allowed".to_owned(),
            Denial::UnderAge { minimum_age: Some(age) } => {
                format!("the person is under the minimum age of {age}; their data must not be processed")
            }
            Denial::UnderAge { minimum_age: None } => {
                "the person is under the minimum age; their data must not be processed".to_owned()
            }
            Denial::Deceased => {
                "the person has died; only processing the law requires continues, and their instructions are followed"
                    .to_owned()
            }
            Denial::GpcOptOut { at } => format!(
                "a Global Privacy Control signal at {at} opted the person out of sale, sharing and targeted advertising"
            ),
            Denial::PartnerOptOut { recipient, at } => {
                format!("the person opted out of disclosure to `{}` at {at}", index.recipient_id(*recipient))
            }
        }
    }
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// A stable machine code: the basis when allowed, the reason when denied.
    pub fn code(&self) -> &'static str {
        match self {
            Decision::Allow(b) => b.code(),
            Decision::Deny(d) => d.code(),
        }
    }

    /// A sentence for people, naming what the decision rests on.
    pub fn message(&self, index: &PolicyIndex, query: &Query) -> String {
        match self {
            Decision::Allow(b) => b.message(index),
            Decision::Deny(d) => d.message(index, query),
        }
    }
}

/// Whether a consent purpose holds now, and why (not).
#[inline]
fn purpose_verdict(index: &PolicyIndex, state: &SubjectState, p: PurposeIdx, now: i64) -> Result<Basis, Denial> {
    let slot = state.slot(p);
    let model = index.purposes.get(p.get()).map_or(ConsentModel::OptIn, |e| e.model);
    match (slot.status, model) {
        (Some(ConsentStatus::Given), _) if slot.current && now < slot.expires_at() => {
            Ok(Basis::Consent { purpose: p, given_at: timestamp(slot.at), version: slot.version })
        }
        (Some(ConsentStatus::Given) | Some(ConsentStatus::Expired) | None, ConsentModel::OptOut) => {
            Ok(Basis::NotOptedOut { purpose: p })
        }
        (Some(ConsentStatus::Given), ConsentModel::OptIn) if !slot.current => {
            Err(Denial::ConsentOutdated { purpose: p, given_at: timestamp(slot.at), version: slot.version })
        }
        (Some(ConsentStatus::Given), ConsentModel::OptIn) => {
            Err(Denial::ConsentExpired { purpose: p, at: timestamp(slot.expires_at()) })
        }
        (Some(ConsentStatus::Expired), ConsentModel::OptIn) => {
            Err(Denial::ConsentExpired { purpose: p, at: timestamp(slot.at) })
        }
        (Some(ConsentStatus::Refused), _) => Err(Denial::ConsentRefused { purpose: p, at: timestamp(slot.at) }),
        (Some(ConsentStatus::Withdrawn), _) => Err(Denial::ConsentWithdrawn { purpose: p, at: timestamp(slot.at) }),
        (None, ConsentModel::OptIn) => Err(Denial::NoConsent { purpose: p }),
    }
}

/// Whether the person gave a counting consent to `p` after `after` (an explicit opt-in after a
/// GPC signal lifts the signal for that purpose, CCPA regulations § 7025(c)(3)).
#[inline]
fn consented_after(state: &SubjectState, p: PurposeIdx, after: i64, now: i64) -> bool {
    let s = state.slot(p);
    s.status == Some(ConsentStatus::Given) && s.current && s.at > after && now < s.expires_at()
}

#[inline]
fn gpc_blocks(
    index: &PolicyIndex,
    act: &ActivityEntry,
    recipient: Option<RecipientIdx>,
    state: &SubjectState,
    signal: i64,
    now: i64,
) -> bool {
    if let Some(p) = act.consent_purpose
        && index.purposes.get(p.get()).is_some_and(|e| e.gpc)
        && !consented_after(state, p, signal, now)
    {
        return true;
    }
    if let Some(r) = recipient
        && let Some(entry) = index.recipients.get(r.get())
        && entry.gpc
        && !entry.gpc_purposes.iter().any(|p| consented_after(state, *p, signal, now))
    {
        return true;
    }
    false
}

/// Decides one query for one person at `now`.
pub fn decide(index: &PolicyIndex, state: &SubjectState, query: &Query, now: Timestamp) -> Decision {
    match decide_inner(index, state, query, now.as_microsecond()) {
        Ok(b) => Decision::Allow(b),
        Err(d) => Decision::Deny(d),
    }
}

/// Decides several queries for one person at the same moment.
pub fn decide_batch(index: &PolicyIndex, state: &SubjectState, queries: &[Query], now: Timestamp) -> Vec<Decision> {
    queries.iter().map(|q| decide(index, state, q, now)).collect()
}

fn decide_inner(index: &PolicyIndex, state: &SubjectState, query: &Query, now: i64) -> Result<Basis, Denial> {
    if query.generation != index.generation() || state.generation() != index.generation() {
        return Err(Denial::PolicyChanged);
    }
    let a = *query.activity.as_ref().map_err(|_| Denial::UnknownActivity)?;
    let act = index.activities.get(a.get()).ok_or(Denial::UnknownActivity)?;

    // 1. Scope.
    for (i, (_, slot)) in query.categories.iter().enumerate() {
        if !slot.is_some_and(|c| act.categories.contains(c as usize)) {
            return Err(Denial::CategoryOutsideActivity { position: i as u32 });
        }
    }
    let recipient = match &query.recipient {
        None => None,
        Some(Err(_)) => return Err(Denial::UnknownRecipient),
        Some(Ok(r)) => {
            let for_activity = index
                .recipients
                .get(r.get())
                .is_some_and(|e| e.activities.as_ref().is_none_or(|set| set.contains(a.get())));
            if !act.recipients.contains(r.get()) || !for_activity {
                return Err(Denial::RecipientNotAllowed { recipient: *r });
            }
            Some(*r)
        }
    };

    // 2, 3. Processing for a controller; processing the law requires.
    if act.processor {
        return Ok(Basis::ControllerInstructions);
    }
    if act.legal_obligation {
        return Ok(Basis::LegalObligation);
    }

    // 4. The person.
    let flags = state.flags();
    if flags.deceased {
        return Err(Denial::Deceased);
    }
    if let Some(u) = flags.under_age {
        return Err(Denial::UnderAge { minimum_age: u.minimum_age });
    }
    if act.direct_marketing {
        if let Some(at) = state.pref(PrefKey::DirectMarketing) {
            return Err(Denial::ObjectedToDirectMarketing { at: timestamp(at) });
        }
        if let Some(at) = state.pref(PrefKey::Activity(a)) {
            return Err(Denial::Objected { activity: a, at: timestamp(at) });
        }
    }
    if let Some(r) = recipient
        && let Some(at) = state.pref(PrefKey::Recipient(r))
    {
        return Err(Denial::PartnerOptOut { recipient: r, at: timestamp(at) });
    }
    if let Some(signal) = state.pref(PrefKey::Gpc)
        && gpc_blocks(index, act, recipient, state, signal, now)
    {
        return Err(Denial::GpcOptOut { at: timestamp(signal) });
    }

    // 5. The bases, as alternatives.
    let mut first_denial = None;
    let mut basis = None;
    for b in &act.bases {
        let verdict = match b {
            LegalBasis::Consent => match act.consent_purpose {
                // Art. 18(2) allows processing with consent; not having opted out is not consent.
                Some(p) => match purpose_verdict(index, state, p, now) {
                    Ok(Basis::NotOptedOut { .. }) if flags.restricted => Err(Denial::Restricted),
                    v => v,
                },
                None => Err(Denial::NoConsentPurpose),
            },
            LegalBasis::Contract if flags.restricted => Err(Denial::Restricted),
            LegalBasis::Contract => Ok(Basis::Contract),
            LegalBasis::LegitimateInterests | LegalBasis::PublicTask => match state.pref(PrefKey::Activity(a)) {
                Some(at) => Err(Denial::Objected { activity: a, at: timestamp(at) }),
                None if *b == LegalBasis::PublicTask => Ok(Basis::PublicTask),
                None if flags.restricted => Err(Denial::Restricted),
                None => Ok(Basis::LegitimateInterests),
            },
            LegalBasis::VitalInterests => Ok(Basis::VitalInterests),
            LegalBasis::LegalObligation => Ok(Basis::LegalObligation),
        };
        match verdict {
            Ok(v) => {
                basis = Some(v);
                break;
            }
            Err(d) => {
                first_denial.get_or_insert(d);
            }
        }
    }
    let basis = basis.ok_or(first_denial.unwrap_or(Denial::NoLegalBasis))?;

    // 6. A preference attached to a non-consent activity.
    if !act.consent_is_basis
        && let Some(p) = act.consent_purpose
    {
        purpose_verdict(index, state, p, now)?;
    }

    // 7. A sharing authorisation for the recipient.
    if let Some(r) = recipient
        && let Some(entry) = index.recipients.get(r.get())
        && let Some(first) = entry.sharing_purposes.first()
        && !entry.sharing_purposes.iter().any(|p| purpose_verdict(index, state, *p, now).is_ok())
    {
        purpose_verdict(index, state, *first, now)?;
    }

    Ok(basis)
}
