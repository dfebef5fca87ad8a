//! Semantic lints over a parsed policy.
//!
//! Parsing already guarantees the shape of a policy: its keys, types, enumerations, periods and
//! category keys. Lints check what types cannot: that references between entities resolve, that
//! the legal story is complete (a consent activity names the consent people give, a special
//! category has its Art. 9 condition, a transfer has its safeguard, every category has a
//! retention rule), and that the policy does not contradict its own promises.
//!
//! Each lint is one small function registered in the table below with its code, default
//! severity and a one-line summary, most important first. A lint has one severity; where a
//! mistake comes in an error form and a warning form, they are two lints. Every diagnostic
//! carries the most precise path into the document (`retention[2].categories[0]`), which the
//! loader turns into file:line:col, names the entity in its message, and says how to fix it.

use std::collections::{HashMap, HashSet};

use covenant_core::taxonomy::{self, Special};
use covenant_core::{Art9Condition, CategoryKey, Jurisdiction, LegalBasis, Period, PeriodUnit, Region, Right};

use crate::diagnostic::{Diagnostic, DocPath, Severity};
use crate::model::{
    Activity, ConsentKind, ConsentModel, Contact, ContactKind, LegalHold, Policy, RetentionRule, Role, Storage,
};

/// A lint's name, default severity and one-line summary (for `covenant policy lints`).
#[derive(Clone, Copy, Debug)]
pub struct LintInfo {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

impl LintInfo {
    /// A diagnostic of this lint at `path`.
    fn at(&self, path: DocPath, message: impl Into<String>) -> Diagnostic {
        match self.severity {
            Severity::Error => Diagnostic::error(self.code, path, message),
            Severity::Warning => Diagnostic::warning(self.code, path, message),
        }
    }
}

type Check = fn(&Policy, &mut Vec<Diagnostic>);

/// Declares each lint once: a constant for its info (used by its function to build diagnostics,
/// so code and severity cannot drift), its place in `LINTS`, and its function in `CHECKS`.
macro_rules! lints {
    ($($name:ident: $code:literal, $severity:ident, $check:ident, $summary:literal;)+) => {
        $(const $name: LintInfo = LintInfo { code: $code, severity: Severity::$severity, summary: $summary };)+

        /// Every lint Covenant runs, most important first.
        pub const LINTS: &[LintInfo] = &[$($name),+];

        /// The function of each lint, in the order of `LINTS`.
        const CHECKS: &[Check] = &[$($check),+];
    };
}

lints! {
    UNKNOWN_CATEGORY: "unknown-category", Error, unknown_category,
        "a category reference that is neither declared nor above a declared category";
    UNKNOWN_ACTIVITY: "unknown-activity", Error, unknown_activity,
        "a reference to an activity id that is not declared";
    UNKNOWN_RECIPIENT: "unknown-recipient", Error, unknown_recipient,
        "a reference to a recipient id that is not declared";
    UNKNOWN_SUBJECT_TYPE: "unknown-subject-type", Error, unknown_subject_type,
        "a reference to a subject type id that is not declared";
    UNKNOWN_CONSENT_PURPOSE: "unknown-consent-purpose", Error, unknown_consent_purpose,
        "a reference to a consent purpose id that is not declared";
    UNKNOWN_LEGAL_HOLD: "unknown-legal-hold", Error, unknown_legal_hold,
        "a retention rule names a legal hold that is not declared";
    UNKNOWN_PRODUCT: "unknown-product", Error, unknown_product,
        "an activity names a product that is not declared";
    DUPLICATE_ID: "duplicate-id", Error, duplicate_id,
        "two entries of one list share an id (or a category is declared twice)";
    INVALID_ID: "invalid-id", Error, invalid_id,
        "an id that is empty, contains whitespace, or contains `:` (reserved for ledger keys such as `signal:gpc`)";
    DUPLICATE_JURISDICTION: "duplicate-jurisdiction", Error, duplicate_jurisdiction,
        "two minimum ages or two response deadlines for the same jurisdiction";
    INVALID_EFFECTIVE_DATE: "invalid-effective-date", Error, invalid_effective_date,
        "`policy.effective` is not a valid YYYY-MM-DD date";
    NO_LEGAL_BASIS: "no-legal-basis", Error, no_legal_basis,
        "a controller or joint-controller activity with no legal basis";
    CONSENT_WITHOUT_PURPOSE: "consent-without-purpose", Error, consent_without_purpose,
        "an activity based on consent that names no consent purpose";
    CONSENT_BASIS_OPT_OUT: "consent-basis-opt-out", Error, consent_basis_opt_out,
        "an activity based on consent whose consent purpose is opt-out";
    LEGITIMATE_INTEREST_UNSTATED: "legitimate-interest-unstated", Error, legitimate_interest_unstated,
        "legitimate interests as a basis without saying which interest (GDPR Art. 13(1)(d))";
    SPECIAL_WITHOUT_CONDITION: "special-without-condition", Error, special_without_condition,
        "an activity processing special-category data without an Art. 9(2) condition";
    PROHIBITED_CATEGORY_PROCESSED: "prohibited-category-processed", Error, prohibited_category_processed,
        "an activity lists a prohibited category, or a parent of one (promise W2)";
    PROCESSOR_WITHOUT_CONTROLLER: "processor-without-controller", Error, processor_without_controller,
        "a processor activity that does not say whom we process for";
    JOINT_CONTROLLER_WITHOUT_AGREEMENT: "joint-controller-without-agreement", Error, joint_controller_without_agreement,
        "a joint-controller activity without `joint_with` or `agreement` (GDPR Art. 26)";
    NEVER_SELL_CONTRADICTED: "never-sell-contradicted", Error, never_sell_contradicted,
        "`never_sell` alongside a recipient that buys data or a sale/sharing consent purpose";
    AI_SHARING_NOT_SEPARATE: "ai-sharing-not-separate", Error, ai_sharing_not_separate,
        "an AI-sharing consent purpose that is opt-out or not asked for separately (promise W8)";
    CHANNEL_WITHOUT_OPT_OUT: "channel-without-opt-out", Error, channel_without_opt_out,
        "a non-transactional channel without a consent purpose to opt out of (promises O6, T6, W4)";
    COOKIES_WITHOUT_CONSENT_PURPOSE: "cookies-without-consent-purpose", Error, cookies_without_consent_purpose,
        "cookies need consent but no consent purpose of kind `cookies` exists (promise W14)";
    TRANSFER_WITHOUT_SAFEGUARD: "transfer-without-safeguard", Error, transfer_without_safeguard,
        "a transfer outside the storage regions with no safeguard (GDPR Chapter V)";
    CATEGORY_WITHOUT_RETENTION: "category-without-retention", Error, category_without_retention,
        "a processed category that no retention rule covers (GDPR Art. 13(2)(a))";
    RETENTION_SHAPE: "retention-shape", Error, retention_shape,
        "a retention rule without a period, with half a clock, or covering nothing";
    LEGAL_HOLD_EMPTY: "legal-hold-empty", Error, legal_hold_empty,
        "a legal hold that names no categories and no activities";
    DEADLINE_EXCEEDS_LAW: "deadline-exceeds-law", Error, deadline_exceeds_law,
        "a response deadline, extension, acknowledgement or promise longer than the law allows";
    EXTENSION_NOTICE_AFTER_DEADLINE: "extension-notice-after-deadline", Error, extension_notice_after_deadline,
        "an extension announced later than the deadline it extends";
    MISSING_CONTACT: "missing-contact", Error, missing_contact,
        "no controller contact, no DPO email and no request intake: rights cannot be exercised";
    MALFORMED_CONTACT: "malformed-contact", Error, malformed_contact,
        "a contact whose value is not an email address, web address or phone number as its kind says";
    MINIMUM_AGE_TOO_LOW: "minimum-age-too-low", Error, minimum_age_too_low,
        "a minimum age below 13";
    SPECIAL_NOT_FLAGGED: "special-not-flagged", Warning, special_not_flagged,
        "a category below a standard special category that is not marked `special`";
    CONSENT_PURPOSE_WITHOUT_CONSENT: "consent-purpose-without-consent", Warning, consent_purpose_without_consent,
        "an activity names an opt-in consent purpose but does not rely on consent";
    SEVERAL_BASES_UNEXPLAINED: "several-bases-unexplained", Warning, several_bases_unexplained,
        "several legal bases without a `basis_note` saying which applies when (promise W3)";
    DIRECT_MARKETING_BASIS: "direct-marketing-basis", Warning, direct_marketing_basis,
        "direct marketing on a basis other than consent or legitimate interests";
    CONTROLLER_FIELDS_MISUSED: "controller-fields-misused", Warning, controller_fields_misused,
        "`controller`, `joint_with` or `agreement` on an activity whose role does not use it";
    SALE_WITHOUT_OPT_OUT: "sale-without-opt-out", Warning, sale_without_opt_out,
        "a recipient that buys data with no way to opt out of the sale (CCPA §1798.120)";
    RECIPIENT_OUTSIDE_STORAGE: "recipient-outside-storage", Warning, recipient_outside_storage,
        "a recipient located outside the storage regions that no transfer covers";
    TRANSFERS_WITHOUT_STORAGE: "transfers-without-storage", Warning, transfers_without_storage,
        "transfers are listed but the storage regions are not, so they cannot be checked";
    RIGHTS_MISSING_CORE: "rights-missing-core", Warning, rights_missing_core,
        "a GDPR deadline is given but not every GDPR core right is offered";
    WITHDRAW_CONSENT_NOT_OFFERED: "withdraw-consent-not-offered", Warning, withdraw_consent_not_offered,
        "activities rely on consent but withdrawing it is not among the rights (GDPR Art. 7(3))";
    AUTOMATED_DECISIONS_WITHOUT_RIGHT: "automated-decisions-without-right", Warning, automated_decisions_without_right,
        "automated decisions are made but the right to human review is not offered (GDPR Art. 22)";
    RIGHTS_WITHOUT_DEFAULT_DEADLINE: "rights-without-default-deadline", Warning, rights_without_default_deadline,
        "neither a `default` deadline nor a promise: some people get no response time";
    MINIMUM_AGE_BELOW_DIGITAL_CONSENT: "minimum-age-below-digital-consent", Warning, minimum_age_below_digital_consent,
        "a `gdpr` minimum age under 16 while activities rely on consent (GDPR Art. 8)";
    MINIMUM_AGE_WITHOUT_DEFAULT: "minimum-age-without-default", Warning, minimum_age_without_default,
        "minimum ages are given but none for `default`";
    CONTROLLER_DEFINED_NOT_PROCESSOR: "controller-defined-not-processor", Warning, controller_defined_not_processor,
        "a `controller_defined` retention rule for data no processor activity handles";
    LEGAL_HOLD_UNRELATED: "legal-hold-unrelated", Warning, legal_hold_unrelated,
        "a retention rule names a legal hold that covers none of its data";
    LEGAL_HOLD_INEFFECTIVE: "legal-hold-ineffective", Warning, legal_hold_ineffective,
        "a legal hold that ends no later than the retention rule it is meant to extend";
    LONGEST_OF_SINGLE: "longest-of-single", Warning, longest_of_single,
        "`longest_of` with a single clock";
    RETENTION_FALLBACK_REDUNDANT: "retention-fallback-redundant", Warning, retention_fallback_redundant,
        "a retention `fallback` equal to its `action`";
    TRANSACTIONAL_CHANNEL_WITH_CONSENT: "transactional-channel-with-consent", Warning, transactional_channel_with_consent,
        "a transactional channel that names a consent purpose";
    UNUSED_CONSENT_PURPOSE: "unused-consent-purpose", Warning, unused_consent_purpose,
        "a consent purpose that no activity, channel, recipient list or cookie banner uses";
    BREACH_NOTIFICATION_LATE: "breach-notification-late", Warning, breach_notification_late,
        "breach notification to the authority later than 72 hours (GDPR Art. 33)";
    NOTICE_WITHOUT_CHANNEL: "notice-without-channel", Warning, notice_without_channel,
        "a change, shutdown or ownership-change notice that names no channel";
    ACTIVITY_INCOMPLETE: "activity-incomplete", Warning, activity_incomplete,
        "an activity that lists no data categories or no subject types (GDPR Art. 30(1)(c))";
    UNUSED_CATEGORY: "unused-category", Warning, unused_category,
        "a declared, not prohibited, category that no activity processes";
    UNUSED_RECIPIENT: "unused-recipient", Warning, unused_recipient,
        "a recipient that no activity, transfer or consent purpose names";
    UNUSED_SUBJECT_TYPE: "unused-subject-type", Warning, unused_subject_type,
        "a subject type that no activity names";
}

/// Runs every lint. Diagnostics carry document paths; the loader turns them into spans.
pub fn lint(policy: &Policy) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for check in CHECKS {
        check(policy, &mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------

/// A reference by id from one entry to another, with where it is written.
struct Ref<'a, T: ?Sized> {
    /// The entry that holds the reference, e.g. "retention rule `service-data`".
    owner: String,
    path: DocPath,
    target: &'a T,
}

fn owner(what: &str, id: &str) -> String {
    format!("{what} `{id}`")
}

/// References held in a list field (`field`) of each entry of `items` (the list `list`).
fn list_refs<'a, T>(
    refs: &mut Vec<Ref<'a, str>>,
    (list, what, items): (&str, &str, &'a [T]),
    id: fn(&T) -> &str,
    field: &str,
    targets: fn(&T) -> &[String],
) {
    for (i, item) in items.iter().enumerate() {
        for (j, target) in targets(item).iter().enumerate() {
            refs.push(Ref { owner: owner(what, id(item)), path: DocPath::at(list, i).key(field).index(j), target });
        }
    }
}

fn category_refs(p: &Policy) -> Vec<Ref<'_, CategoryKey>> {
    fn add<'a, T>(
        refs: &mut Vec<Ref<'a, CategoryKey>>,
        (list, what, items): (&str, &str, &'a [T]),
        id: fn(&T) -> &str,
        keys: fn(&T) -> &[CategoryKey],
    ) {
        for (i, item) in items.iter().enumerate() {
            for (j, target) in keys(item).iter().enumerate() {
                let path = DocPath::at(list, i).key("categories").index(j);
                refs.push(Ref { owner: owner(what, id(item)), path, target });
            }
        }
    }
    let mut refs = Vec::new();
    add(&mut refs, ("activities", "activity", &p.activities), |a| &a.id, |a| &a.categories);
    add(&mut refs, ("retention", "retention rule", &p.retention), |r| &r.id, |r| &r.categories);
    add(&mut refs, ("legal_holds", "legal hold", &p.legal_holds), |h| &h.id, |h| &h.categories);
    add(&mut refs, ("consent_purposes", "consent purpose", &p.consent_purposes), |c| &c.id, |c| &c.categories);
    refs
}

fn activity_refs(p: &Policy) -> Vec<Ref<'_, str>> {
    let mut refs = Vec::new();
    list_refs(&mut refs, ("recipients", "recipient", &p.recipients), |r| &r.id, "activities", |r| &r.activities);
    list_refs(&mut refs, ("transfers", "transfer", &p.transfers), |t| &t.id, "activities", |t| &t.activities);
    list_refs(&mut refs, ("retention", "retention rule", &p.retention), |r| &r.id, "activities", |r| &r.activities);
    list_refs(&mut refs, ("legal_holds", "legal hold", &p.legal_holds), |h| &h.id, "activities", |h| &h.activities);
    refs
}

fn recipient_refs(p: &Policy) -> Vec<Ref<'_, str>> {
    let mut refs = Vec::new();
    list_refs(&mut refs, ("activities", "activity", &p.activities), |a| &a.id, "recipients", |a| &a.recipients);
    list_refs(&mut refs, ("transfers", "transfer", &p.transfers), |t| &t.id, "recipients", |t| &t.recipients);
    let purposes = ("consent_purposes", "consent purpose", p.consent_purposes.as_slice());
    list_refs(&mut refs, purposes, |c| &c.id, "recipients", |c| &c.recipients);
    refs
}

fn subject_type_refs(p: &Policy) -> Vec<Ref<'_, str>> {
    let mut refs = Vec::new();
    let activities = ("activities", "activity", p.activities.as_slice());
    list_refs(&mut refs, activities, |a| &a.id, "subject_types", |a| &a.subject_types);
    refs
}

fn legal_hold_refs(p: &Policy) -> Vec<Ref<'_, str>> {
    let mut refs = Vec::new();
    list_refs(&mut refs, ("retention", "retention rule", &p.retention), |r| &r.id, "legal_holds", |r| &r.legal_holds);
    refs
}

fn product_refs(p: &Policy) -> Vec<Ref<'_, str>> {
    let mut refs = Vec::new();
    list_refs(&mut refs, ("activities", "activity", &p.activities), |a| &a.id, "products", |a| &a.products);
    refs
}

fn consent_purpose_refs(p: &Policy) -> Vec<Ref<'_, str>> {
    let activities = p.activities.iter().enumerate().filter_map(|(i, a)| {
        let target = a.consent_purpose.as_deref()?;
        Some(Ref { owner: owner("activity", &a.id), path: DocPath::at("activities", i).key("consent_purpose"), target })
    });
    let channels = p.channels.iter().enumerate().filter_map(|(i, c)| {
        let target = c.consent_purpose.as_deref()?;
        Some(Ref { owner: owner("channel", &c.id), path: DocPath::at("channels", i).key("consent_purpose"), target })
    });
    activities.chain(channels).collect()
}

/// Reports references to ids that are not in `known`, suggesting the closest known id.
fn report_unknown(
    out: &mut Vec<Diagnostic>,
    lint: &LintInfo,
    refs: Vec<Ref<'_, str>>,
    known: &[&str],
    (noun, list): (&str, &str),
) {
    for r in refs {
        if !known.contains(&r.target) {
            let fix = format!("declare it in [[{list}]] or fix the spelling");
            out.push(lint.at(r.path, format!("{} names unknown {noun} `{}`", r.owner, r.target)).with_help(suggest(
                r.target,
                known.iter().copied(),
                fix,
            )));
        }
    }
}

/// A category reference is valid when it is declared or lies above a declared category.
fn category_known(p: &Policy, key: &CategoryKey) -> bool {
    p.categories.iter().any(|c| c.id.is_within(key))
}

fn unknown_category(p: &Policy, out: &mut Vec<Diagnostic>) {
    let mut known: Vec<&str> = p.categories.iter().flat_map(|c| c.id.ancestors()).collect();
    known.sort_unstable();
    known.dedup();
    for r in category_refs(p) {
        if category_known(p, r.target) {
            continue;
        }
        let key = r.target;
        let fix = match taxonomy::lookup(key.as_str()) {
            Some(entry) => {
                format!("`{key}` is the standard category \"{}\": declare it in [[categories]] to use it", entry.name)
            }
            None => "declare it in [[categories]] or fix the spelling".to_owned(),
        };
        out.push(
            UNKNOWN_CATEGORY.at(r.path, format!("{} names unknown category `{key}`", r.owner)).with_help(suggest(
                key.as_str(),
                known.iter().copied(),
                fix,
            )),
        );
    }
}

fn unknown_activity(p: &Policy, out: &mut Vec<Diagnostic>) {
    let known: Vec<&str> = p.activities.iter().map(|a| a.id.as_str()).collect();
    report_unknown(out, &UNKNOWN_ACTIVITY, activity_refs(p), &known, ("activity", "activities"));
}

fn unknown_recipient(p: &Policy, out: &mut Vec<Diagnostic>) {
    let known: Vec<&str> = p.recipients.iter().map(|r| r.id.as_str()).collect();
    report_unknown(out, &UNKNOWN_RECIPIENT, recipient_refs(p), &known, ("recipient", "recipients"));
}

fn unknown_subject_type(p: &Policy, out: &mut Vec<Diagnostic>) {
    let known: Vec<&str> = p.subject_types.iter().map(|s| s.id.as_str()).collect();
    report_unknown(out, &UNKNOWN_SUBJECT_TYPE, subject_type_refs(p), &known, ("subject type", "subject_types"));
}

fn unknown_consent_purpose(p: &Policy, out: &mut Vec<Diagnostic>) {
    let known: Vec<&str> = p.consent_purposes.iter().map(|c| c.id.as_str()).collect();
    report_unknown(
        out,
        &UNKNOWN_CONSENT_PURPOSE,
        consent_purpose_refs(p),
        &known,
        ("consent purpose", "consent_purposes"),
    );
}

fn unknown_legal_hold(p: &Policy, out: &mut Vec<Diagnostic>) {
    let known: Vec<&str> = p.legal_holds.iter().map(|h| h.id.as_str()).collect();
    report_unknown(out, &UNKNOWN_LEGAL_HOLD, legal_hold_refs(p), &known, ("legal hold", "legal_holds"));
}

fn unknown_product(p: &Policy, out: &mut Vec<Diagnostic>) {
    let known: Vec<&str> = p.products.iter().map(|x| x.id.as_str()).collect();
    report_unknown(out, &UNKNOWN_PRODUCT, product_refs(p), &known, ("product", "products"));
}

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

/// Every list of entities with ids: (list key, noun, ids).
fn id_lists(p: &Policy) -> Vec<(&'static str, &'static str, Vec<&str>)> {
    fn ids<T>(items: &[T], id: fn(&T) -> &str) -> Vec<&str> {
        items.iter().map(id).collect()
    }
    vec![
        ("products", "product", ids(&p.products, |x| &x.id)),
        ("subject_types", "subject type", ids(&p.subject_types, |x| &x.id)),
        ("categories", "category", ids(&p.categories, |x| x.id.as_str())),
        ("activities", "activity", ids(&p.activities, |x| &x.id)),
        ("recipients", "recipient", ids(&p.recipients, |x| &x.id)),
        ("transfers", "transfer", ids(&p.transfers, |x| &x.id)),
        ("consent_purposes", "consent purpose", ids(&p.consent_purposes, |x| &x.id)),
        ("channels", "channel", ids(&p.channels, |x| &x.id)),
        ("retention", "retention rule", ids(&p.retention, |x| &x.id)),
        ("legal_holds", "legal hold", ids(&p.legal_holds, |x| &x.id)),
    ]
}

fn duplicate_id(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (list, noun, ids) in id_lists(p) {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, id) in ids.iter().enumerate() {
            match first.get(id) {
                Some(f) => {
                    let message = if list == "categories" {
                        format!("category `{id}` is declared twice")
                    } else {
                        format!("{noun} id `{id}` is used twice")
                    };
                    out.push(DUPLICATE_ID.at(DocPath::at(list, i).key("id"), message).with_help(format!(
                        "entry {} of [[{list}]] already has this id; ids must be unique within a list: rename or merge one of them",
                        f + 1
                    )));
                }
                None => {
                    first.insert(id, i);
                }
            }
        }
    }
}

fn invalid_id(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (list, noun, ids) in id_lists(p) {
        for (i, id) in ids.iter().enumerate() {
            let path = DocPath::at(list, i).key("id");
            if id.trim().is_empty() {
                out.push(
                    INVALID_ID
                        .at(path, format!("{noun} number {} of [[{list}]] has an empty id", i + 1))
                        .with_help("give it a short id other entries can refer to, e.g. `newsletter`"),
                );
            } else if id.chars().any(char::is_whitespace) {
                let fixed = id.split_whitespace().collect::<Vec<_>>().join("-");
                out.push(INVALID_ID.at(path, format!("{noun} id `{id}` contains whitespace")).with_help(format!(
                    "ids are written in references; use letters, digits, `-` and `_`, e.g. `{fixed}`"
                )));
            } else if id.contains(':') {
                let fixed = id.replace(':', "-");
                out.push(INVALID_ID.at(path, format!("{noun} id `{id}` contains `:`")).with_help(format!(
                    "`:` separates the kinds of keys in the consent ledger (`activity:…`, `recipient:…`, `signal:gpc`); \
                     use letters, digits, `-` and `_`, e.g. `{fixed}`"
                )));
            }
        }
    }
}

fn duplicate_jurisdiction(p: &Policy, out: &mut Vec<Diagnostic>) {
    let ages = p.minimum_ages.iter().map(|a| &a.jurisdiction);
    report_duplicate_jurisdictions(out, ages, "minimum_ages", "minimum age");
    if let Some(rights) = &p.rights {
        let deadlines = rights.deadlines.iter().map(|d| &d.jurisdiction);
        report_duplicate_jurisdictions(out, deadlines, "deadlines", "response deadline");
    }
}

fn report_duplicate_jurisdictions<'a>(
    out: &mut Vec<Diagnostic>,
    jurisdictions: impl Iterator<Item = &'a Jurisdiction>,
    list: &str,
    noun: &str,
) {
    let mut seen = HashSet::new();
    for (i, j) in jurisdictions.enumerate() {
        if !seen.insert(j) {
            let path = match list {
                "deadlines" => DocPath::root().key("rights").key("deadlines").index(i),
                _ => DocPath::at(list, i),
            };
            out.push(
                DUPLICATE_JURISDICTION
                    .at(path.key("jurisdiction"), format!("two {noun}s are given for `{j}`"))
                    .with_help(
                        "keep one entry per jurisdiction; the most specific jurisdiction wins, so one is enough",
                    ),
            );
        }
    }
}

fn invalid_effective_date(p: &Policy, out: &mut Vec<Diagnostic>) {
    let effective = &p.policy.effective;
    if !valid_date(effective) {
        out.push(
            INVALID_EFFECTIVE_DATE
                .at(
                    DocPath::root().key("policy").key("effective"),
                    format!("the effective date `{effective}` is not a valid `YYYY-MM-DD` date"),
                )
                .with_help("write the day this version takes effect as year-month-day, e.g. `2026-03-01`"),
        );
    }
}

/// Whether `s` is a real calendar date written `YYYY-MM-DD`.
fn valid_date(s: &str) -> bool {
    let number = |from: usize, to: usize| {
        s.get(from..to).filter(|t| t.bytes().all(|b| b.is_ascii_digit())).and_then(|t| t.parse::<u32>().ok())
    };
    if s.len() != 10 || s.get(4..5) != Some("-") || s.get(7..8) != Some("-") {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (number(0, 4), number(5, 7), number(8, 10)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day)
}

// ---------------------------------------------------------------------------------------------
// Legal bases, roles, special categories
// ---------------------------------------------------------------------------------------------

/// Activities for which we decide the purposes, so that our own legal basis matters. A processor
/// acts on its controller's instructions and on the controller's basis.
fn deciding(p: &Policy) -> impl Iterator<Item = (usize, &Activity)> {
    p.activities.iter().enumerate().filter(|(_, a)| a.role != Role::Processor)
}

fn basis_index(a: &Activity, basis: LegalBasis) -> Option<usize> {
    a.legal_bases.iter().position(|b| *b == basis)
}

fn no_legal_basis(p: &Policy, out: &mut Vec<Diagnostic>) {
    let choices = LegalBasis::ALL.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ");
    for (i, a) in deciding(p).filter(|(_, a)| a.legal_bases.is_empty()) {
        out.push(
            NO_LEGAL_BASIS
                .at(DocPath::at("activities", i).key("id"), format!("activity `{}` has no legal basis", a.id))
                .with_help(format!(
                    "add `legal_bases` with the GDPR Art. 6(1) basis it relies on, one of {choices}; only processor activities need none"
                )),
        );
    }
}

fn consent_without_purpose(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, a) in deciding(p).filter(|(_, a)| a.consent_purpose.is_none()) {
        if let Some(k) = basis_index(a, LegalBasis::Consent) {
            out.push(
                CONSENT_WITHOUT_PURPOSE
                    .at(
                        DocPath::at("activities", i).key("legal_bases").index(k),
                        format!("activity `{}` relies on consent but names no consent purpose", a.id),
                    )
                    .with_help(
                        "add `consent_purpose` naming the [[consent_purposes]] entry people agree to, so that consent is recorded and can be withdrawn",
                    ),
            );
        }
    }
}

fn consent_basis_opt_out(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, a) in deciding(p).filter(|(_, a)| a.legal_bases.contains(&LegalBasis::Consent)) {
        let Some(purpose) = a.consent_purpose.as_deref().and_then(|id| p.consent_purpose(id)) else { continue };
        if purpose.model == ConsentModel::OptOut {
            out.push(
                CONSENT_BASIS_OPT_OUT
                    .at(
                        DocPath::at("activities", i).key("consent_purpose"),
                        format!(
                            "activity `{}` relies on consent but consent purpose `{}` is opt-out; consent is a prior yes (GDPR Art. 4(11))",
                            a.id, purpose.id
                        ),
                    )
                    .with_help(format!(
                        "set `model = \"opt_in\"` on consent purpose `{}`, or rely on another basis such as `legitimate_interests` and keep the opt-out",
                        purpose.id
                    )),
            );
        }
    }
}

fn legitimate_interest_unstated(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, a) in deciding(p) {
        let stated = a.legitimate_interest.as_deref().is_some_and(|s| !s.trim().is_empty());
        if let (Some(k), false) = (basis_index(a, LegalBasis::LegitimateInterests), stated) {
            out.push(
                LEGITIMATE_INTEREST_UNSTATED
                    .at(
                        DocPath::at("activities", i).key("legal_bases").index(k),
                        format!("activity `{}` relies on legitimate interests without saying which", a.id),
                    )
                    .with_help(
                        "add `legitimate_interest` describing the interest pursued, e.g. \"keeping the service secure\" (GDPR Art. 13(1)(d))",
                    ),
            );
        }
    }
}

/// Why data under `key` is a special category (GDPR Art. 9 or 10), if it is.
fn special_reason(p: &Policy, key: &CategoryKey) -> Option<String> {
    if let Some(entry) = taxonomy::special(key) {
        let article = match entry.special {
            Some(Special::Art10) => "Art. 10",
            _ => "Art. 9",
        };
        return Some(if entry.key == key.as_str() {
            format!("`{key}` is a special category under GDPR {article}")
        } else {
            format!("`{key}` is below `{}`, a special category under GDPR {article}", entry.key)
        });
    }
    p.categories
        .iter()
        .find(|c| c.special && key.is_within(&c.id))
        .map(|c| format!("category `{}` is marked `special`", c.id))
}

fn special_without_condition(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, a) in p.activities.iter().enumerate().filter(|(_, a)| a.special_condition.is_none()) {
        let hit = a.categories.iter().enumerate().find_map(|(j, key)| {
            let reached = std::iter::once(key).chain(p.categories_within(key).map(|c| &c.id));
            reached.filter_map(|k| special_reason(p, k).map(|why| (j, k, why))).next()
        });
        let Some((j, key, why)) = hit else { continue };
        let whose = if a.role == Role::Processor {
            " (for a processor activity, the one the controller relies on)"
        } else {
            ""
        };
        out.push(
            SPECIAL_WITHOUT_CONDITION
                .at(
                    DocPath::at("activities", i).key("categories").index(j),
                    format!("activity `{}` processes special category `{key}` without a condition for it", a.id),
                )
                .with_help(format!(
                    "{why}; add `special_condition` with the GDPR Art. 9(2) condition{whose}, e.g. `{}` or `{}`",
                    Art9Condition::ExplicitConsent,
                    Art9Condition::Employment
                )),
        );
    }
}

fn prohibited_category_processed(p: &Policy, out: &mut Vec<Diagnostic>) {
    let prohibited: Vec<&CategoryKey> = p.categories.iter().filter(|c| c.prohibited).map(|c| &c.id).collect();
    for (i, a) in p.activities.iter().enumerate() {
        for (j, key) in a.categories.iter().enumerate() {
            let path = || DocPath::at("activities", i).key("categories").index(j);
            if let Some(banned) = prohibited.iter().find(|b| key.is_within(b)) {
                out.push(
                    PROHIBITED_CATEGORY_PROCESSED
                        .at(path(), format!("activity `{}` processes prohibited category `{banned}`", a.id))
                        .with_help(
                            "remove it from the activity: prohibited data is refused at intake and never processed (promise W2)",
                        ),
                );
            } else if let Some(banned) = prohibited.iter().find(|b| b.is_within(key)) {
                out.push(
                    PROHIBITED_CATEGORY_PROCESSED
                        .at(path(), format!("activity `{}` lists `{key}`, which includes prohibited category `{banned}`", a.id))
                        .with_help(format!(
                            "a category covers everything below it: list the categories below `{key}` the activity needs, leaving out `{banned}`"
                        )),
                );
            }
        }
    }
}

fn processor_without_controller(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, a) in p.activities.iter().enumerate() {
        if a.role == Role::Processor && a.controller.as_deref().is_none_or(|c| c.trim().is_empty()) {
            out.push(
                PROCESSOR_WITHOUT_CONTROLLER
                    .at(
                        DocPath::at("activities", i).key("role"),
                        format!("processor activity `{}` does not say whom we process the data for", a.id),
                    )
                    .with_help(
                        "add `controller`, e.g. \"the customer organisation that uses the service\" (GDPR Art. 30(2)(a))",
                    ),
            );
        }
    }
}

fn joint_controller_without_agreement(p: &Policy, out: &mut Vec<Diagnostic>) {
    let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
    for (i, a) in p.activities.iter().enumerate().filter(|(_, a)| a.role == Role::JointController) {
        let path = || DocPath::at("activities", i).key("role");
        if blank(&a.joint_with) {
            out.push(
                JOINT_CONTROLLER_WITHOUT_AGREEMENT
                    .at(
                        path(),
                        format!("joint-controller activity `{}` does not say who the other controller is", a.id),
                    )
                    .with_help("add `joint_with` naming who decides the purposes and means with us (GDPR Art. 26(1))"),
            );
        }
        if blank(&a.agreement) {
            out.push(
                JOINT_CONTROLLER_WITHOUT_AGREEMENT
                    .at(path(), format!("joint-controller activity `{}` does not describe the joint-controller arrangement", a.id))
                    .with_help("add `agreement` with the essence of the arrangement, which people must be able to see (GDPR Art. 26(2))"),
            );
        }
    }
}

fn never_sell_contradicted(p: &Policy, out: &mut Vec<Diagnostic>) {
    if !p.commitments.never_sell {
        return;
    }
    for (i, r) in p.recipients.iter().enumerate().filter(|(_, r)| r.sale) {
        out.push(
            NEVER_SELL_CONTRADICTED
                .at(
                    DocPath::at("recipients", i).key("sale"),
                    format!("disclosing to recipient `{}` is marked as a sale, but the policy promises never to sell personal data", r.id),
                )
                .with_help("remove `sale = true` if this disclosure is not a sale, or remove `never_sell` from [commitments]"),
        );
    }
    for (i, c) in p.consent_purposes.iter().enumerate().filter(|(_, c)| c.kind == ConsentKind::SaleSharing) {
        out.push(
            NEVER_SELL_CONTRADICTED
                .at(
                    DocPath::at("consent_purposes", i).key("kind"),
                    format!("consent purpose `{}` is about selling or sharing personal data, but the policy promises never to sell it", c.id),
                )
                .with_help("remove the consent purpose, or remove `never_sell` from [commitments]"),
        );
    }
}

fn ai_sharing_not_separate(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, c) in p.consent_purposes.iter().enumerate().filter(|(_, c)| c.kind == ConsentKind::AiSharing) {
        if c.model == ConsentModel::OptOut {
            out.push(
                AI_SHARING_NOT_SEPARATE
                    .at(
                        DocPath::at("consent_purposes", i).key("model"),
                        format!("consent purpose `{}` sends data to AI models unless people opt out", c.id),
                    )
                    .with_help("set `model = \"opt_in\"`: data goes to third-party AI models only after an explicit yes (promise W8)"),
            );
        }
        if !c.separate {
            out.push(
                AI_SHARING_NOT_SEPARATE
                    .at(
                        DocPath::at("consent_purposes", i).key("kind"),
                        format!("consent purpose `{}` for AI sharing is not asked for separately", c.id),
                    )
                    .with_help("add `separate = true`: AI sharing is asked for on its own, never bundled with other terms (promise W8)"),
            );
        }
    }
}

fn channel_without_opt_out(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, c) in p.channels.iter().enumerate() {
        if !c.transactional && c.consent_purpose.is_none() {
            out.push(
                CHANNEL_WITHOUT_OPT_OUT
                    .at(
                        DocPath::at("channels", i).key("id"),
                        format!("channel `{}` is not transactional but names no consent purpose, so nobody could opt out of it", c.id),
                    )
                    .with_help(
                        "add `consent_purpose` naming the [[consent_purposes]] entry that governs it, or set `transactional = true` if it carries only service and payment notices",
                    ),
            );
        }
    }
}

fn cookies_without_consent_purpose(p: &Policy, out: &mut Vec<Diagnostic>) {
    let Some(cookies) = &p.cookies else { return };
    if cookies.consent_required && !p.consent_purposes.iter().any(|c| c.kind == ConsentKind::Cookies) {
        out.push(
            COOKIES_WITHOUT_CONSENT_PURPOSE
                .at(
                    DocPath::root().key("cookies").key("consent_required"),
                    "cookies need consent, but no consent purpose of kind `cookies` lets people give or refuse it",
                )
                .with_help("add a [[consent_purposes]] entry with `kind = \"cookies\"` for each category of non-essential cookies"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Storage and transfers
// ---------------------------------------------------------------------------------------------

/// The storage regions, when there are any.
fn storage(p: &Policy) -> Option<&Storage> {
    p.storage.as_ref().filter(|s| !s.regions.is_empty())
}

fn stored_in(storage: &Storage, region: &Region) -> bool {
    storage.regions.iter().any(|s| s.contains(region))
}

fn regions(storage: &Storage) -> String {
    storage.regions.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
}

fn transfer_without_safeguard(p: &Policy, out: &mut Vec<Diagnostic>) {
    let Some(storage) = storage(p) else { return };
    for (i, t) in p.transfers.iter().enumerate().filter(|(_, t)| t.safeguard.is_none()) {
        for (j, d) in t.destinations.iter().enumerate().filter(|(_, d)| !stored_in(storage, d)) {
            out.push(
                TRANSFER_WITHOUT_SAFEGUARD
                    .at(
                        DocPath::at("transfers", i).key("destinations").index(j),
                        format!(
                            "transfer `{}` sends data to `{d}` ({}), outside the storage regions, without a safeguard",
                            t.id,
                            d.describe()
                        ),
                    )
                    .with_help(
                        "add `safeguard`: `adequacy`, `standard_contractual_clauses`, `binding_corporate_rules`, `explicit_consent` or `contract_necessity` (GDPR Chapter V)",
                    ),
            );
        }
    }
}

fn recipient_outside_storage(p: &Policy, out: &mut Vec<Diagnostic>) {
    let Some(storage) = storage(p) else { return };
    for (i, r) in p.recipients.iter().enumerate() {
        for (j, place) in r.locations.iter().enumerate().filter(|(_, l)| !stored_in(storage, l)) {
            let covered = p.transfers.iter().any(|t| {
                (t.recipients.is_empty() || t.recipients.contains(&r.id))
                    && t.destinations.iter().any(|d| d.contains(place))
            });
            if !covered {
                out.push(
                    RECIPIENT_OUTSIDE_STORAGE
                        .at(
                            DocPath::at("recipients", i).key("locations").index(j),
                            format!(
                                "recipient `{}` processes data in `{place}` ({}), outside the storage regions {}, but no transfer covers it",
                                r.id,
                                place.describe(),
                                regions(storage)
                            ),
                        )
                        .with_help(format!(
                            "add a [[transfers]] entry with `destinations = [\"{place}\"]`, `recipients = [\"{}\"]` and its safeguard",
                            r.id
                        )),
                );
            }
        }
    }
}

fn transfers_without_storage(p: &Policy, out: &mut Vec<Diagnostic>) {
    if p.transfers.is_empty() || storage(p).is_some() {
        return;
    }
    let path = match &p.storage {
        Some(_) => DocPath::root().key("storage").key("regions"),
        None => DocPath::at("transfers", 0).key("id"),
    };
    out.push(
        TRANSFERS_WITHOUT_STORAGE
            .at(path, "the policy lists transfers but not where data is stored, so they cannot be checked")
            .with_help("add [storage] with `regions`, e.g. `regions = [\"EU\"]`"),
    );
}

// ---------------------------------------------------------------------------------------------
// Retention and legal holds
// ---------------------------------------------------------------------------------------------

fn overlaps(a: &CategoryKey, b: &CategoryKey) -> bool {
    a.is_within(b) || b.is_within(a)
}

fn category_without_retention(p: &Policy, out: &mut Vec<Diagnostic>) {
    let mut reported: HashSet<&CategoryKey> = HashSet::new();
    for (i, a) in p.activities.iter().enumerate() {
        for (j, key) in a.categories.iter().enumerate() {
            for c in p.categories_within(key).filter(|c| !c.prohibited) {
                let covered = p
                    .retention
                    .iter()
                    .any(|r| r.categories.iter().any(|rc| overlaps(rc, &c.id)) || r.activities.contains(&a.id));
                if covered || !reported.insert(&c.id) {
                    continue;
                }
                out.push(
                    CATEGORY_WITHOUT_RETENTION
                        .at(
                            DocPath::at("activities", i).key("categories").index(j),
                            format!("category `{}` is processed by activity `{}` but no retention rule covers it", c.id, a.id),
                        )
                        .with_help(format!(
                            "add a [[retention]] rule whose `categories` include `{}` or whose `activities` include `{}`",
                            c.id, a.id
                        )),
                );
            }
        }
    }
}

fn retention_shape(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, r) in p.retention.iter().enumerate() {
        let at = |key: &str| DocPath::at("retention", i).key(key);
        match (r.trigger, r.period) {
            (Some(_), None) => out.push(
                RETENTION_SHAPE
                    .at(at("trigger"), format!("retention rule `{}` has a `trigger` but no `period`", r.id))
                    .with_help("add `period`, e.g. `period = \"3 years\"`, or remove `trigger`"),
            ),
            (None, Some(_)) => out.push(
                RETENTION_SHAPE
                    .at(at("period"), format!("retention rule `{}` has a `period` but no `trigger`", r.id))
                    .with_help("add `trigger`, the event that starts the clock, e.g. `trigger = \"account_closed\"`"),
            ),
            (None, None) if r.longest_of.is_empty() && !r.controller_defined => out.push(
                RETENTION_SHAPE
                    .at(at("id"), format!("retention rule `{}` does not say how long data is kept", r.id))
                    .with_help(
                        "add `trigger` and `period`, or `longest_of` clocks, or `controller_defined = true` for data whose controller sets the period",
                    ),
            ),
            _ => {}
        }
        if r.categories.is_empty() && r.activities.is_empty() {
            out.push(
                RETENTION_SHAPE
                    .at(at("id"), format!("retention rule `{}` covers no categories and no activities", r.id))
                    .with_help("add the `categories` or `activities` whose data it governs"),
            );
        }
    }
}

fn legal_hold_empty(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, h) in p.legal_holds.iter().enumerate() {
        if h.categories.is_empty() && h.activities.is_empty() {
            out.push(
                LEGAL_HOLD_EMPTY
                    .at(DocPath::at("legal_holds", i).key("id"), format!("legal hold `{}` holds no data", h.id))
                    .with_help("add the `categories` or `activities` whose records it keeps"),
            );
        }
    }
}

fn controller_defined_not_processor(p: &Policy, out: &mut Vec<Diagnostic>) {
    let processor = |a: &Activity| a.role == Role::Processor;
    for (i, r) in p.retention.iter().enumerate().filter(|(_, r)| r.controller_defined) {
        let by_activity = r.activities.iter().filter_map(|id| p.activity(id)).any(processor);
        let by_category = p
            .activities
            .iter()
            .filter(|a| processor(a))
            .any(|a| a.categories.iter().any(|ac| r.categories.iter().any(|rc| overlaps(ac, rc))));
        if !by_activity && !by_category {
            out.push(
                CONTROLLER_DEFINED_NOT_PROCESSOR
                    .at(
                        DocPath::at("retention", i).key("controller_defined"),
                        format!(
                            "retention rule `{}` lets the controller set the period, but none of its data is processed by a processor activity",
                            r.id
                        ),
                    )
                    .with_help(
                        "`controller_defined` is for data we process for a customer; for our own data state `trigger` and `period`",
                    ),
            );
        }
    }
}

/// The categories a retention rule or legal hold reaches: its own and those of its activities.
fn reach<'a>(p: &'a Policy, categories: &'a [CategoryKey], activities: &'a [String]) -> Vec<&'a CategoryKey> {
    let from_activities = activities.iter().filter_map(|id| p.activity(id)).flat_map(|a| a.categories.iter());
    categories.iter().chain(from_activities).collect()
}

/// The legal holds a retention rule names that exist, with their index in the rule.
fn named_holds<'a>(p: &'a Policy, r: &'a RetentionRule) -> impl Iterator<Item = (usize, &'a LegalHold)> + 'a {
    r.legal_holds.iter().enumerate().filter_map(|(j, id)| p.legal_hold(id).map(|h| (j, h)))
}

fn legal_hold_unrelated(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, r) in p.retention.iter().enumerate() {
        let rule_reach = reach(p, &r.categories, &r.activities);
        for (j, h) in named_holds(p, r) {
            let shares_activity = h.activities.iter().any(|a| r.activities.contains(a));
            let hold_reach = reach(p, &h.categories, &h.activities);
            let shares_data = hold_reach.iter().any(|hc| rule_reach.iter().any(|rc| overlaps(hc, rc)));
            if !shares_activity && !shares_data {
                out.push(
                    LEGAL_HOLD_UNRELATED
                        .at(
                            DocPath::at("retention", i).key("legal_holds").index(j),
                            format!(
                                "retention rule `{}` names legal hold `{}`, which covers none of its data",
                                r.id, h.id
                            ),
                        )
                        .with_help(format!(
                            "remove `{}` from `legal_holds`, or add this rule's categories or activities to the hold",
                            h.id
                        )),
                );
            }
        }
    }
}

fn legal_hold_ineffective(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, r) in p.retention.iter().enumerate() {
        let clocks = r.clocks();
        for (j, h) in named_holds(p, r) {
            let Some(clock) = clocks.iter().find(|c| c.trigger == h.trigger && h.period.cmp_length(c.period).is_le())
            else {
                continue;
            };
            out.push(
                LEGAL_HOLD_INEFFECTIVE
                    .at(
                        DocPath::at("retention", i).key("legal_holds").index(j),
                        format!(
                            "legal hold `{}` keeps data {} after `{}`, but retention rule `{}` already keeps it {} after it, so the hold never keeps anything longer",
                            h.id, h.period, h.trigger, r.id, clock.period
                        ),
                    )
                    .with_help("check both periods: a legal hold is for records kept past their retention; otherwise remove the reference"),
            );
        }
    }
}

fn longest_of_single(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, r) in p.retention.iter().enumerate() {
        if r.longest_of.len() == 1 && r.trigger.is_none() && r.period.is_none() {
            out.push(
                LONGEST_OF_SINGLE
                    .at(
                        DocPath::at("retention", i).key("longest_of").index(0),
                        format!("retention rule `{}` has `longest_of` with a single clock", r.id),
                    )
                    .with_help("write it as `trigger` and `period`, or add the other clocks the longest is taken of"),
            );
        }
    }
}

fn retention_fallback_redundant(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, r) in p.retention.iter().enumerate() {
        if r.fallback == Some(r.action) {
            out.push(
                RETENTION_FALLBACK_REDUNDANT
                    .at(
                        DocPath::at("retention", i).key("fallback"),
                        format!("the `fallback` of retention rule `{}` is its `action` again", r.id),
                    )
                    .with_help(
                        "the fallback is what happens when the action is impossible: use `isolate` or `anonymise`, or remove it",
                    ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rights and contacts
// ---------------------------------------------------------------------------------------------

/// The statutory response limits of a regime.
struct Law {
    name: &'static str,
    respond: Period,
    extension: Period,
    acknowledge: Option<Period>,
    /// GDPR or UK GDPR: the core data-subject rights apply.
    gdpr: bool,
}

/// The limits of the law that governs a jurisdiction, when Covenant knows them.
fn law_for(j: &Jurisdiction) -> Option<Law> {
    let s = j.as_str();
    let (country, subdivision) = match s.split_once('-') {
        Some((c, sub)) => (c, Some(sub)),
        None => (s, None),
    };
    let is_place = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
    let under = |regime: &str| {
        s == regime || (is_place && Jurisdiction::parse(regime).is_ok_and(|r| r.covers(country, subdivision)))
    };
    if under("gdpr") {
        Some(Law {
            name: "the GDPR (Art. 12(3))",
            respond: Period::months(1),
            extension: Period::months(2),
            acknowledge: None,
            gdpr: true,
        })
    } else if under("uk_gdpr") {
        Some(Law {
            name: "the UK GDPR (Art. 12(3))",
            respond: Period::months(1),
            extension: Period::months(2),
            acknowledge: None,
            gdpr: true,
        })
    } else if under("ccpa") {
        Some(Law {
            name: "the CCPA (§1798.130 and regulations §7021)",
            respond: Period::days(45),
            extension: Period::days(45),
            acknowledge: Period::new(10, PeriodUnit::BusinessDays).ok(),
            gdpr: false,
        })
    } else if under("pipeda") {
        Some(Law {
            name: "PIPEDA (s. 8(3)-(4))",
            respond: Period::days(30),
            extension: Period::days(30),
            acknowledge: None,
            gdpr: false,
        })
    } else {
        None
    }
}

fn longer(a: Period, b: Period) -> bool {
    a.cmp_length(b).is_gt()
}

fn deadline_exceeds_law(p: &Policy, out: &mut Vec<Diagnostic>) {
    let Some(rights) = &p.rights else { return };
    let base = DocPath::root().key("rights");
    for (i, d) in rights.deadlines.iter().enumerate() {
        let Some(law) = law_for(&d.jurisdiction) else { continue };
        let at = |key: &str| base.clone().key("deadlines").index(i).key(key);
        let j = &d.jurisdiction;
        let mut report = |path: DocPath, what: &str, given: Period, limit: Period| {
            out.push(
                DEADLINE_EXCEEDS_LAW
                    .at(path, format!("the {what} for `{j}` is {given}, longer than the {limit} {} allows", law.name))
                    .with_help(format!("shorten it to {limit} or less")),
            );
        };
        if longer(d.respond_within, law.respond) {
            report(at("respond_within"), "response deadline", d.respond_within, law.respond);
        }
        if let Some(ext) = d.extension.filter(|e| longer(*e, law.extension)) {
            report(at("extension"), "extension", ext, law.extension);
        }
        if let (Some(ack), Some(limit)) = (d.acknowledge_within, law.acknowledge)
            && longer(ack, limit)
        {
            report(at("acknowledge_within"), "acknowledgement time", ack, limit);
        }
    }
    if let Some(promise) = rights.promise {
        let strictest = rights
            .deadlines
            .iter()
            .filter_map(|d| law_for(&d.jurisdiction))
            .min_by(|a, b| a.respond.cmp_length(b.respond));
        if let Some(law) = strictest.filter(|l| longer(promise, l.respond)) {
            out.push(
                DEADLINE_EXCEEDS_LAW
                    .at(
                        base.key("promise"),
                        format!(
                            "the response promise of {promise} is longer than the {} {} allows",
                            law.respond, law.name
                        ),
                    )
                    .with_help(format!("promise {} or less, since it is stated to everyone", law.respond)),
            );
        }
    }
}

fn extension_notice_after_deadline(p: &Policy, out: &mut Vec<Diagnostic>) {
    let Some(rights) = &p.rights else { return };
    for (i, d) in rights.deadlines.iter().enumerate() {
        if let Some(notice) = d.extension_notice_within.filter(|n| longer(*n, d.respond_within)) {
            out.push(
                EXTENSION_NOTICE_AFTER_DEADLINE
                    .at(
                        DocPath::root().key("rights").key("deadlines").index(i).key("extension_notice_within"),
                        format!(
                            "for `{}`, an extension may be announced within {notice}, after the response deadline of {} has passed",
                            d.jurisdiction, d.respond_within
                        ),
                    )
                    .with_help(format!(
                        "the person must hear of an extension before the deadline: make it {} or less",
                        d.respond_within
                    )),
            );
        }
    }
}

fn rights_without_default_deadline(p: &Policy, out: &mut Vec<Diagnostic>) {
    let Some(rights) = &p.rights else { return };
    if rights.promise.is_some() || rights.deadlines.iter().any(|d| d.jurisdiction.is_default()) {
        return;
    }
    let (path, message) = if rights.deadlines.is_empty() {
        (DocPath::root().key("rights").key("offered"), "requests have no response deadline".to_owned())
    } else {
        let listed = rights.deadlines.iter().map(|d| format!("`{}`", d.jurisdiction)).collect::<Vec<_>>().join(", ");
        (
            DocPath::root().key("rights").key("deadlines"),
            format!("requests from people outside {listed} have no response deadline"),
        )
    };
    out.push(RIGHTS_WITHOUT_DEFAULT_DEADLINE.at(path, message).with_help(
        "add a [[rights.deadlines]] entry with `jurisdiction = \"default\"`, or a `promise` under [rights]",
    ));
}

fn rights_missing_core(p: &Policy, out: &mut Vec<Diagnostic>) {
    const CORE: &[Right] = &[
        Right::Access,
        Right::Rectification,
        Right::Erasure,
        Right::Restriction,
        Right::Portability,
        Right::Objection,
        Right::Complaint,
    ];
    let Some(rights) = &p.rights else { return };
    let Some(gdpr) = rights.deadlines.iter().find(|d| law_for(&d.jurisdiction).is_some_and(|l| l.gdpr)) else {
        return;
    };
    let missing: Vec<String> = CORE.iter().filter(|r| !rights.offered.contains(r)).map(|r| format!("`{r}`")).collect();
    if !missing.is_empty() {
        out.push(
            RIGHTS_MISSING_CORE
                .at(
                    DocPath::root().key("rights").key("offered"),
                    format!(
                        "the policy gives a `{}` deadline but does not offer {}, which the GDPR gives everyone it covers",
                        gdpr.jurisdiction,
                        missing.join(", ")
                    ),
                )
                .with_help("add them to `offered` (GDPR Art. 15-18, 20, 21 and 77)"),
        );
    }
}

fn withdraw_consent_not_offered(p: &Policy, out: &mut Vec<Diagnostic>) {
    let Some(rights) = &p.rights else { return };
    if rights.offered.contains(&Right::WithdrawConsent) {
        return;
    }
    if let Some((_, a)) = deciding(p).find(|(_, a)| a.legal_bases.contains(&LegalBasis::Consent)) {
        out.push(
            WITHDRAW_CONSENT_NOT_OFFERED
                .at(
                    DocPath::root().key("rights").key("offered"),
                    format!(
                        "activity `{}` relies on consent, but `withdraw_consent` is not among the rights offered",
                        a.id
                    ),
                )
                .with_help(
                    "add `withdraw_consent` to `offered`: consent can be withdrawn as easily as given (GDPR Art. 7(3))",
                ),
        );
    }
}

fn automated_decisions_without_right(p: &Policy, out: &mut Vec<Diagnostic>) {
    let Some(rights) = &p.rights else { return };
    if rights.offered.contains(&Right::AutomatedDecisions) {
        return;
    }
    for (i, a) in deciding(p).filter(|(_, a)| a.automated_decisions.is_some()) {
        out.push(
            AUTOMATED_DECISIONS_WITHOUT_RIGHT
                .at(
                    DocPath::at("activities", i).key("automated_decisions"),
                    format!("activity `{}` makes automated decisions, but `automated_decisions` is not among the rights offered", a.id),
                )
                .with_help("add `automated_decisions` to `offered`: people may ask for a person to review the decision (GDPR Art. 22(3))"),
        );
    }
}

fn missing_contact(p: &Policy, out: &mut Vec<Diagnostic>) {
    let contacts = !p.controller.contacts.is_empty();
    let intake = p.rights.as_ref().is_some_and(|r| !r.intake.is_empty());
    let dpo = p.controller.dpo.as_ref().and_then(|d| d.email.as_deref()).is_some_and(|e| !e.trim().is_empty());
    if !contacts && !intake && !dpo {
        out.push(
            MISSING_CONTACT
                .at(
                    DocPath::root().key("controller").key("legal_name"),
                    format!("the policy gives no way to reach `{}` or to make a privacy request", p.controller.legal_name),
                )
                .with_help(
                    "add a [[controller.contacts]] entry (e.g. `kind = \"email\"`, `value = \"privacy@…\"`) or `intake` channels under [rights]",
                ),
        );
    }
}

fn kind_name(kind: ContactKind) -> &'static str {
    match kind {
        ContactKind::Email => "email",
        ContactKind::WebForm => "web_form",
        ContactKind::SupportChat => "support_chat",
        ContactKind::InApp => "in_app",
        ContactKind::Phone => "phone",
        ContactKind::Postal => "postal",
        ContactKind::Website => "website",
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn looks_like_url(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.chars().any(char::is_whitespace))
}

fn looks_like_phone(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) && s.chars().filter(char::is_ascii_digit).count() >= 5
}

/// What is wrong with a contact's value for its kind, if anything.
fn contact_problem(kind: ContactKind, value: &str) -> Option<&'static str> {
    let v = value.trim();
    match kind {
        ContactKind::Email => (!looks_like_email(v)).then_some("is not an email address"),
        ContactKind::WebForm | ContactKind::Website => {
            (!looks_like_url(v)).then_some("is not a web address starting with `https://`")
        }
        ContactKind::Phone => (!looks_like_phone(v)).then_some("is not a phone number"),
        ContactKind::Postal | ContactKind::InApp | ContactKind::SupportChat => None,
    }
}

fn malformed_contact(p: &Policy, out: &mut Vec<Diagnostic>) {
    let mut check = |c: &Contact, path: DocPath, what: &str| {
        let needs_value = !matches!(c.kind, ContactKind::InApp | ContactKind::SupportChat);
        let kind = kind_name(c.kind);
        if c.value.trim().is_empty() {
            if needs_value {
                out.push(
                    MALFORMED_CONTACT
                        .at(path.key("kind"), format!("{what} of kind `{kind}` has no value"))
                        .with_help("add `value` with the address, number or web address people use"),
                );
            }
        } else if let Some(problem) = contact_problem(c.kind, &c.value) {
            out.push(
                MALFORMED_CONTACT
                    .at(path.key("value"), format!("{what} `{}` {problem}", c.value))
                    .with_help(format!("write a value that works for kind `{kind}`, or change `kind`")),
            );
        }
    };
    for (i, c) in p.controller.contacts.iter().enumerate() {
        check(c, DocPath::root().key("controller").key("contacts").index(i), "controller contact");
    }
    if let Some(rights) = &p.rights {
        for (i, c) in rights.intake.iter().enumerate() {
            check(c, DocPath::root().key("rights").key("intake").index(i), "request intake");
        }
    }
    let parties = [
        ("dpo", "the DPO's", &p.controller.dpo),
        ("representative", "the representative's", &p.controller.representative),
    ];
    for (key, what, party) in parties {
        if let Some(email) = party.as_ref().and_then(|x| x.email.as_deref()).filter(|e| !looks_like_email(e.trim())) {
            out.push(
                MALFORMED_CONTACT
                    .at(
                        DocPath::root().key("controller").key(key).key("email"),
                        format!("{what} email `{email}` is not an email address"),
                    )
                    .with_help("write the address people write to, e.g. `dpo@example.com`"),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ages
// ---------------------------------------------------------------------------------------------

fn minimum_age_too_low(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, m) in p.minimum_ages.iter().enumerate().filter(|(_, m)| m.age < 13) {
        out.push(
            MINIMUM_AGE_TOO_LOW
                .at(
                    DocPath::at("minimum_ages", i).key("age"),
                    format!("the minimum age for `{}` is {}, below 13", m.jurisdiction, m.age),
                )
                .with_help(
                    "raise it to 13 or more: serving younger children needs verified parental consent (COPPA, GDPR Art. 8), which Covenant does not model",
                ),
        );
    }
}

fn minimum_age_below_digital_consent(p: &Policy, out: &mut Vec<Diagnostic>) {
    let Some((_, consent)) = deciding(p).find(|(_, a)| a.legal_bases.contains(&LegalBasis::Consent)) else { return };
    for (i, m) in p.minimum_ages.iter().enumerate() {
        if m.jurisdiction.as_str() == "gdpr" && (13..16).contains(&m.age) {
            out.push(
                MINIMUM_AGE_BELOW_DIGITAL_CONSENT
                    .at(
                        DocPath::at("minimum_ages", i).key("age"),
                        format!(
                            "the `gdpr` minimum age is {}, but member states that keep 16 need parental consent below it and activity `{}` relies on consent",
                            m.age, consent.id
                        ),
                    )
                    .with_help(
                        "raise it to 16, or give per-country ages (e.g. `DE` at 16) where the member state has not lowered it (GDPR Art. 8(1))",
                    ),
            );
        }
    }
}

fn minimum_age_without_default(p: &Policy, out: &mut Vec<Diagnostic>) {
    if p.minimum_ages.is_empty() || p.minimum_ages.iter().any(|m| m.jurisdiction.is_default()) {
        return;
    }
    let listed = p.minimum_ages.iter().map(|m| format!("`{}`", m.jurisdiction)).collect::<Vec<_>>().join(", ");
    out.push(
        MINIMUM_AGE_WITHOUT_DEFAULT
            .at(
                DocPath::at("minimum_ages", 0).key("jurisdiction"),
                format!("minimum ages are given for {listed} but not for everyone else"),
            )
            .with_help("add a [[minimum_ages]] entry with `jurisdiction = \"default\"`"),
    );
}

// ---------------------------------------------------------------------------------------------
// Bases and roles (warnings)
// ---------------------------------------------------------------------------------------------

fn special_not_flagged(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, c) in p.categories.iter().enumerate().filter(|(_, c)| !c.special && !c.prohibited) {
        if let Some(entry) = taxonomy::special(&c.id) {
            out.push(
                SPECIAL_NOT_FLAGGED
                    .at(
                        DocPath::at("categories", i).key("id"),
                        format!(
                            "category `{}` is special-category data (below `{}`) but is not marked `special`",
                            c.id, entry.key
                        ),
                    )
                    .with_help("add `special = true`, so that the notice and the record of processing say so"),
            );
        }
    }
}

fn consent_purpose_without_consent(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, a) in deciding(p).filter(|(_, a)| !a.legal_bases.contains(&LegalBasis::Consent)) {
        let Some(purpose) = a.consent_purpose.as_deref().and_then(|id| p.consent_purpose(id)) else { continue };
        if purpose.model == ConsentModel::OptIn {
            out.push(
                CONSENT_PURPOSE_WITHOUT_CONSENT
                    .at(
                        DocPath::at("activities", i).key("consent_purpose"),
                        format!(
                            "activity `{}` asks for opt-in consent `{}` but does not list `consent` as a basis",
                            a.id, purpose.id
                        ),
                    )
                    .with_help(format!(
                        "add `consent` to `legal_bases`, or make `{}` an opt-out purpose if people can only object",
                        purpose.id
                    )),
            );
        }
    }
}

fn several_bases_unexplained(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, a) in deciding(p) {
        if a.legal_bases.len() > 1 && a.basis_note.as_deref().is_none_or(|n| n.trim().is_empty()) {
            out.push(
                SEVERAL_BASES_UNEXPLAINED
                    .at(
                        DocPath::at("activities", i).key("legal_bases").index(1),
                        format!(
                            "activity `{}` lists {} legal bases without saying which applies when",
                            a.id,
                            a.legal_bases.len()
                        ),
                    )
                    .with_help(
                        "add `basis_note`, or split the activity so that each purpose has one basis (promise W3)",
                    ),
            );
        }
    }
}

fn direct_marketing_basis(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, a) in deciding(p).filter(|(_, a)| a.direct_marketing && !a.legal_bases.is_empty()) {
        let fits = a.legal_bases.iter().any(|b| matches!(b, LegalBasis::Consent | LegalBasis::LegitimateInterests));
        if !fits {
            out.push(
                DIRECT_MARKETING_BASIS
                    .at(
                        DocPath::at("activities", i).key("legal_bases").index(0),
                        format!("direct-marketing activity `{}` relies on neither consent nor legitimate interests", a.id),
                    )
                    .with_help("direct marketing rests on `consent` or `legitimate_interests` (GDPR recital 47, ePrivacy Art. 13)"),
            );
        }
    }
}

fn controller_fields_misused(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, a) in p.activities.iter().enumerate() {
        let (role, fields): (&str, &[(&str, bool)]) = match a.role {
            Role::Controller => (
                "controller",
                &[
                    ("controller", a.controller.is_some()),
                    ("joint_with", a.joint_with.is_some()),
                    ("agreement", a.agreement.is_some()),
                ],
            ),
            Role::Processor => {
                ("processor", &[("joint_with", a.joint_with.is_some()), ("agreement", a.agreement.is_some())])
            }
            Role::JointController => ("joint_controller", &[("controller", a.controller.is_some())]),
        };
        for (field, _) in fields.iter().filter(|(_, set)| *set) {
            let user = if *field == "controller" { "processor" } else { "joint-controller" };
            out.push(
                CONTROLLER_FIELDS_MISUSED
                    .at(
                        DocPath::at("activities", i).key(field),
                        format!(
                            "activity `{}` has role `{role}` but sets `{field}`, which only {user} activities use",
                            a.id
                        ),
                    )
                    .with_help(format!("remove `{field}`, or change `role`")),
            );
        }
    }
}

fn sale_without_opt_out(p: &Policy, out: &mut Vec<Diagnostic>) {
    let offered = p.rights.as_ref().is_some_and(|r| r.offered.contains(&Right::OptOutSale));
    for (i, r) in p.recipients.iter().enumerate().filter(|(_, r)| r.sale) {
        let switch = p.consent_purposes.iter().any(|c| {
            matches!(c.kind, ConsentKind::SaleSharing | ConsentKind::TargetedAds)
                && (c.recipients.is_empty() || c.recipients.contains(&r.id))
        });
        let path = DocPath::at("recipients", i).key("sale");
        if !offered {
            out.push(
                SALE_WITHOUT_OPT_OUT
                    .at(path, format!("disclosing to recipient `{}` is a sale, but `opt_out_of_sale` is not among the rights offered", r.id))
                    .with_help("add `opt_out_of_sale` to [rights] `offered` (CCPA §1798.120)"),
            );
        } else if !switch {
            out.push(
                SALE_WITHOUT_OPT_OUT
                    .at(path, format!("disclosing to recipient `{}` is a sale, but no consent purpose lets people opt out of it", r.id))
                    .with_help(format!(
                        "add a [[consent_purposes]] entry of kind `sale_sharing` whose `recipients` include `{}`; Global Privacy Control signals then apply",
                        r.id
                    )),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Channels, consent purposes, notices
// ---------------------------------------------------------------------------------------------

fn transactional_channel_with_consent(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, c) in p.channels.iter().enumerate().filter(|(_, c)| c.transactional) {
        if let Some(purpose) = &c.consent_purpose {
            out.push(
                TRANSACTIONAL_CHANNEL_WITH_CONSENT
                    .at(
                        DocPath::at("channels", i).key("consent_purpose"),
                        format!("transactional channel `{}` names consent purpose `{purpose}`, but transactional messages cannot be opted out of", c.id),
                    )
                    .with_help("remove `consent_purpose`, or remove `transactional` if people may opt out (promises O6, T6)"),
            );
        }
    }
}

fn unused_consent_purpose(p: &Policy, out: &mut Vec<Diagnostic>) {
    let named: HashSet<&str> = consent_purpose_refs(p).into_iter().map(|r| r.target).collect();
    for (i, c) in p.consent_purposes.iter().enumerate() {
        let used = named.contains(c.id.as_str())
            || !c.recipients.is_empty()
            || (c.kind == ConsentKind::Cookies && p.cookies.is_some());
        if !used {
            out.push(
                UNUSED_CONSENT_PURPOSE
                    .at(
                        DocPath::at("consent_purposes", i).key("id"),
                        format!("consent purpose `{}` is not used by any activity or channel", c.id),
                    )
                    .with_help("name it in the `consent_purpose` of the activity or channel it governs, or remove it"),
            );
        }
    }
}

fn breach_notification_late(p: &Policy, out: &mut Vec<Diagnostic>) {
    let Some(within) = p.breach.as_ref().and_then(|b| b.authority_within) else { return };
    if longer(within, Period::hours(72)) {
        out.push(
            BREACH_NOTIFICATION_LATE
                .at(
                    DocPath::root().key("breach").key("authority_within"),
                    format!("breaches are reported to the authority within {within}, later than the 72 hours of GDPR Art. 33(1)"),
                )
                .with_help("promise `72 hours` or less"),
        );
    }
}

fn notice_without_channel(p: &Policy, out: &mut Vec<Diagnostic>) {
    let mut report = |path: DocPath, what: &str| {
        out.push(
            NOTICE_WITHOUT_CHANNEL
                .at(path, format!("{what} names no channel, so nobody would be told"))
                .with_help("add `channels`, e.g. `channels = [\"email\", \"in_app\"]`"),
        );
    };
    if p.changes.as_ref().is_some_and(|c| c.channels.is_empty()) {
        report(DocPath::root().key("changes").key("channels"), "the notice of policy changes");
    }
    if p.shutdown.as_ref().is_some_and(|s| s.channels.is_empty()) {
        report(DocPath::root().key("shutdown").key("channels"), "the notice of a shutdown");
    }
    if p.ownership_change.as_ref().is_some_and(|o| o.notify && o.channels.is_empty()) {
        report(DocPath::root().key("ownership_change").key("notify"), "the notice of a change of ownership");
    }
}

// ---------------------------------------------------------------------------------------------
// Completeness (warnings)
// ---------------------------------------------------------------------------------------------

fn activity_incomplete(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, a) in p.activities.iter().enumerate() {
        if a.categories.is_empty() {
            out.push(
                ACTIVITY_INCOMPLETE
                    .at(DocPath::at("activities", i).key("id"), format!("activity `{}` lists no data categories", a.id))
                    .with_help("add `categories`: the record of processing names the data of each activity (GDPR Art. 30(1)(c))"),
            );
        }
        if a.subject_types.is_empty() && !p.subject_types.is_empty() {
            out.push(
                ACTIVITY_INCOMPLETE
                    .at(
                        DocPath::at("activities", i).key("id"),
                        format!("activity `{}` does not say whose data it processes", a.id),
                    )
                    .with_help("add `subject_types` from [[subject_types]] (GDPR Art. 30(1)(c))"),
            );
        }
    }
}

fn unused_category(p: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, c) in p.categories.iter().enumerate().filter(|(_, c)| !c.prohibited) {
        let used = p.activities.iter().any(|a| a.categories.iter().any(|k| overlaps(k, &c.id)));
        if !used {
            out.push(
                UNUSED_CATEGORY
                    .at(DocPath::at("categories", i).key("id"), format!("category `{}` is not processed by any activity", c.id))
                    .with_help("list it in the `categories` of the activities that process it, remove it, or mark it `prohibited`"),
            );
        }
    }
}

fn unused_recipient(p: &Policy, out: &mut Vec<Diagnostic>) {
    let named: HashSet<&str> = recipient_refs(p).into_iter().map(|r| r.target).collect();
    for (i, r) in p.recipients.iter().enumerate() {
        if r.activities.is_empty() && !named.contains(r.id.as_str()) {
            out.push(
                UNUSED_RECIPIENT
                    .at(DocPath::at("recipients", i).key("id"), format!("recipient `{}` receives data from no activity", r.id))
                    .with_help("name it in the `recipients` of the activities that share data with it, or give it `activities`"),
            );
        }
    }
}

fn unused_subject_type(p: &Policy, out: &mut Vec<Diagnostic>) {
    let named: HashSet<&str> = subject_type_refs(p).into_iter().map(|r| r.target).collect();
    for (i, s) in p.subject_types.iter().enumerate() {
        if !named.contains(s.id.as_str()) {
            out.push(
                UNUSED_SUBJECT_TYPE
                    .at(
                        DocPath::at("subject_types", i).key("id"),
                        format!("subject type `{}` is named by no activity", s.id),
                    )
                    .with_help(
                        "list it in the `subject_types` of the activities that process their data, or remove it",
                    ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Suggestions
// ---------------------------------------------------------------------------------------------

/// "did you mean `x`? if not, {otherwise}" when a known name is close to `given`.
pub(crate) fn suggest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>, otherwise: String) -> String {
    match closest(given, known) {
        Some(k) => format!("did you mean `{k}`? if not, {otherwise}"),
        None => otherwise,
    }
}

/// The known name closest to `given`, when it is close enough to be a typo.
pub(crate) fn closest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (crate::diagnostic::edit_distance(given, k), k))
        .filter(|(d, k)| *d > 0 && *d <= (k.chars().count() / 4).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked_against_the_calendar() {
        for ok in ["2026-03-01", "2024-02-29", "2000-02-29", "1999-12-31"] {
            assert!(valid_date(ok), "{ok}");
        }
        for bad in [
            "2026-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-04-31",
            "2026-00-10",
            "2026-1-01",
            "16/1/2025",
            "",
            "2026-03-01x",
            "0000-01-01",
            "2026-0a-01",
            "２０２６-01-01",
        ] {
            assert!(!valid_date(bad), "{bad}");
        }
    }

    #[test]
    fn suggestions_pick_close_names_only() {
        assert_eq!(closest("user.fo", ["user.foo", "user.contact"]), Some("user.foo"));
        assert_eq!(closest("newsleter", ["newsletter", "news"]), Some("newsletter"));
        assert_eq!(closest("zzz", ["newsletter"]), None);
        assert_eq!(closest("user.financial.vat", ["user.financial.tax_id"]), None);
        assert_eq!(closest("mailr", ["mailer"]), Some("mailer"));
        assert_eq!(closest("same", ["same"]), None);
        assert_eq!(suggest("x", ["y"], "fix it".to_owned()), "did you mean `y`? if not, fix it");
    }

    #[test]
    fn statutory_limits_follow_the_place() {
        let limit = |j: &str| law_for(&Jurisdiction::parse(j).expect("a jurisdiction")).map(|l| l.respond.to_string());
        assert_eq!(limit("gdpr").as_deref(), Some("1 month"));
        assert_eq!(limit("FI").as_deref(), Some("1 month"));
        assert_eq!(limit("NO").as_deref(), Some("1 month"));
        assert_eq!(limit("GB").as_deref(), Some("1 month"));
        assert_eq!(limit("ccpa").as_deref(), Some("45 days"));
        assert_eq!(limit("US-CA").as_deref(), Some("45 days"));
        assert_eq!(limit("CA").as_deref(), Some("30 days"));
        assert_eq!(limit("US"), None);
        assert_eq!(limit("default"), None);
        assert_eq!(limit("lgpd"), None);
    }

    #[test]
    fn contact_values_match_their_kind() {
        assert_eq!(contact_problem(ContactKind::Email, "privacy@example.com"), None);
        assert!(contact_problem(ContactKind::Email, "privacy at example.com").is_some());
        assert!(contact_problem(ContactKind::Email, "a@b@c.com").is_some());
        assert!(contact_problem(ContactKind::Email, "a@localhost").is_some());
        assert_eq!(contact_problem(ContactKind::WebForm, "https://example.com/privacy"), None);
        assert!(contact_problem(ContactKind::Website, "example.com").is_some());
        assert_eq!(contact_problem(ContactKind::Phone, "+358 9 1234 5678"), None);
        assert!(contact_problem(ContactKind::Phone, "call us").is_some());
        assert_eq!(contact_problem(ContactKind::InApp, ""), None);
    }

    #[test]
    fn every_lint_has_a_function_and_a_unique_kebab_case_code() {
        assert_eq!(LINTS.len(), CHECKS.len());
        let mut seen = HashSet::new();
        for l in LINTS {
            assert!(seen.insert(l.code), "{} registered twice", l.code);
            assert!(l.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", l.code);
            assert!(!l.summary.ends_with('.'), "{}", l.code);
        }
    }
}
