//! The record of processing activities (GDPR Art. 30), generated from the policy.
//!
//! [`build`] turns a policy into a [`Ropa`]: every reference resolved (subject types, categories,
//! recipients, consent purposes, retention rules, legal holds), every legal basis with its article,
//! every transfer with its safeguard. The three formats are rendered from that one value, so they
//! always say the same thing:
//!
//! - [`json`]: the [`Ropa`] itself, pretty-printed, schema `covenant-ropa/1`;
//! - [`csv`]: one row per activity, all roles, in policy order ([`CSV_COLUMNS`]);
//! - [`html`]: a standalone printable page, one section for Art. 30(1) and one per controller
//!   served for Art. 30(2).
//!
//! The output is deterministic: the same policy always yields byte-identical output (no
//! timestamps, no hash-map order).
//!
//! # JSON layout
//!
//! Top-level keys, in this order: `schema` (`"covenant-ropa/1"`), `generation_note`, `policy`,
//! `controller`, `storage`, `controller_activities`, `joint_controller_activities`,
//! `processor_activities`, `security_measures`, `data_categories`, `retention`, `legal_holds`,
//! `recipients`, `transfers`. Field names are snake_case and every field is always present: a
//! missing value is `null`, an empty list `[]`. Enumerations use the policy file's words
//! (`"joint_controller"`, `"standard_contractual_clauses"`), next to a `label` and an `article` for
//! people.
//!
//! # How activities are filed
//!
//! Every activity appears exactly once, in the list of its role, and carries that `role`:
//!
//! - `controller_activities`: role `controller`;
//! - `joint_controller_activities`: role `joint_controller` (with `joint_controller` and the Art. 26
//!   `agreement`);
//! - `processor_activities`: role `processor`, grouped by the controller served (Art. 30(2)).
//!
//! The Art. 30(1) record is `controller_activities` followed by `joint_controller_activities` (a
//! joint controller keeps an Art. 30(1) record of its own); the HTML page shows them together in
//! policy order. The lists never overlap, so counting entries counts activities.
//!
//! # What applies to an activity
//!
//! - Recipients: those the activity names, those that name the activity in their own
//!   `activities`, and those bound to no activity at all (neither naming one nor named by one:
//!   they may receive the data of any activity, under their `condition`).
//! - Transfers: declared transfers that list the activity; a transfer that lists no activity applies
//!   to every activity, or, when it names recipients, to every activity that discloses to one of
//!   them. Then, for each recipient located outside every storage region and not covered by such a
//!   transfer, a transfer found from the recipient's location, with no safeguard (a gap the record
//!   shows rather than hides).
//! - Retention: rules that list the activity, or whose categories overlap the activity's (a parent
//!   covers its children, in both directions).
//! - Legal holds: holds that list the activity, whose categories overlap the activity's, or that an
//!   applicable retention rule names.
//! - Security measures: the policy's general measures, then the per-category ones (encryption,
//!   storage limits) of the activity's categories.

use askama::Template;
use covenant_core::{Art9Condition, CategoryKey, LegalBasis, Period, Region, RetentionTrigger};
use serde::Serialize;

use crate::model::{
    Activity, Category, ContactKind, Party, Policy, Recipient, RecipientKind, RetentionAction, RetentionRule, Role,
    Safeguard, Source, StorageLimit, Transfer,
};

/// The identifier of this record's JSON layout.
pub const SCHEMA: &str = "covenant-ropa/1";

/// The record of processing activities. Serialized as is by [`json`]; see the module documentation
/// for how activities are filed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ropa {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// How the record was produced (no timestamp: the record is deterministic).
    pub generation_note: String,
    pub policy: PolicyInfo,
    /// The controller, who is also the processor in Art. 30(2) entries.
    pub controller: ControllerInfo,
    pub storage: StorageInfo,
    /// Art. 30(1): activities for which we are the controller.
    pub controller_activities: Vec<ActivityEntry>,
    /// Art. 30(1) as well: activities whose purposes and means we decide jointly (Art. 26).
    pub joint_controller_activities: Vec<ActivityEntry>,
    /// Art. 30(2): activities we carry out as a processor, one group per controller served.
    pub processor_activities: Vec<ProcessorGroup>,
    /// The general description of technical and organisational security measures (Art. 32(1)).
    pub security_measures: Vec<String>,
    /// Every declared category, prohibited ones included.
    pub data_categories: Vec<CategoryInfo>,
    pub retention: Vec<RetentionInfo>,
    pub legal_holds: Vec<HoldInfo>,
    pub recipients: Vec<RecipientInfo>,
    /// The declared transfers (those found from recipients' locations are on the activities).
    pub transfers: Vec<TransferInfo>,
}

/// The policy document the record was generated from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    pub title: String,
    pub version: String,
    pub effective: String,
    pub url: Option<String>,
}

/// Name and contact details of the controller (Art. 30(1)(a)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ControllerInfo {
    pub legal_name: String,
    pub trading_name: Option<String>,
    pub registration_number: Option<String>,
    pub registry: Option<String>,
    pub registered_office: Option<String>,
    pub country: Option<RegionInfo>,
    pub website: Option<String>,
    pub contacts: Vec<ContactInfo>,
    pub dpo: Option<PartyInfo>,
    pub representative: Option<PartyInfo>,
}

/// A way to reach the controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContactInfo {
    pub kind: ContactKind,
    pub value: String,
    pub label: Option<String>,
}

/// A DPO or representative.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartyInfo {
    pub name: String,
    pub email: Option<String>,
    pub address: Option<String>,
}

/// A region code with its readable name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegionInfo {
    pub code: String,
    pub name: String,
}

/// Where the data is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StorageInfo {
    pub regions: Vec<RegionInfo>,
    pub description: Option<String>,
}

/// One processing activity, whatever our role in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActivityEntry {
    pub id: String,
    /// The label the published policy uses, e.g. "2.3.1".
    pub label: Option<String>,
    pub name: String,
    pub purpose: String,
    pub data_use: Option<String>,
    pub role: Role,
    /// For a processor activity: the controller we act for.
    pub controller_served: Option<String>,
    /// For a joint-controller activity: who we decide jointly with.
    pub joint_controller: Option<String>,
    /// For a joint-controller activity: the arrangement under Art. 26.
    pub agreement: Option<String>,
    pub legal_bases: Vec<BasisInfo>,
    pub basis_note: Option<String>,
    pub legitimate_interest: Option<String>,
    pub special_condition: Option<ConditionInfo>,
    pub consent_purpose: Option<NamedRef>,
    pub direct_marketing: bool,
    pub automated_decisions: Option<String>,
    /// Categories of data subjects.
    pub subject_types: Vec<NamedRef>,
    /// Categories of personal data.
    pub data_categories: Vec<CategoryRef>,
    pub sources: Vec<SourceInfo>,
    pub source_detail: Option<String>,
    pub recipients: Vec<RecipientRef>,
    /// Transfers to third countries, with their safeguards.
    pub transfers: Vec<ActivityTransfer>,
    /// Time limits for erasure: the retention rules that apply.
    pub retention: Vec<RetentionInfo>,
    /// Holds that may keep some of the data longer, with their legal basis.
    pub legal_holds: Vec<HoldInfo>,
    /// The general measures, then those specific to the activity's categories.
    pub security_measures: Vec<String>,
    /// Only the measures specific to the activity's categories (the page shows the general ones once).
    #[serde(skip)]
    pub specific_security_measures: Vec<String>,
    /// Position in the policy, to show all roles in policy order.
    #[serde(skip)]
    position: usize,
}

/// Activities carried out as a processor for one controller (Art. 30(2)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessorGroup {
    /// The controller served; `None` when the policy does not name it.
    pub controller: Option<String>,
    /// The categories of processing carried out on its behalf.
    pub activities: Vec<ActivityEntry>,
    /// Transfers of its data to third countries, with their safeguards (all its activities).
    pub transfers: Vec<ActivityTransfer>,
    /// Security measures applied to its data.
    pub security_measures: Vec<String>,
}

/// A lawful basis with its article.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BasisInfo {
    pub basis: LegalBasis,
    pub label: &'static str,
    pub article: &'static str,
}

/// An Art. 9(2) condition with its article.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConditionInfo {
    pub condition: Art9Condition,
    pub label: &'static str,
    pub article: &'static str,
}

/// A reference to another entity of the policy, resolved to its name (the id when it does not
/// resolve).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

/// A category of personal data an activity processes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CategoryRef {
    pub key: String,
    pub name: String,
    /// The label the published policy uses, e.g. "(a)".
    pub label: Option<String>,
    /// A special category (Art. 9) or criminal-offence data (Art. 10).
    pub special: bool,
}

/// Where an activity's data comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    pub source: Source,
    pub description: &'static str,
}

/// A recipient of an activity's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecipientRef {
    pub id: String,
    pub name: String,
    pub kind: RecipientKind,
    pub kind_label: &'static str,
    pub purpose: Option<String>,
    pub condition: Option<String>,
    pub locations: Vec<RegionInfo>,
    /// Bound to no activity: it may receive the data of any activity, under its condition.
    pub for_any_activity: bool,
}

/// A declared recipient of personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecipientInfo {
    pub id: String,
    pub name: String,
    pub kind: RecipientKind,
    pub kind_label: &'static str,
    pub purpose: Option<String>,
    pub condition: Option<String>,
    pub locations: Vec<RegionInfo>,
    /// The ids of the activities it receives data for: declared on either side, or every activity
    /// when it is bound to none.
    pub activities: Vec<String>,
    pub opt_out: bool,
    pub sale: bool,
    pub trains_models: bool,
}

/// A transfer safeguard with its article.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SafeguardInfo {
    pub safeguard: Safeguard,
    pub label: &'static str,
    pub article: &'static str,
}

/// A declared international transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransferInfo {
    pub id: String,
    pub destinations: Vec<RegionInfo>,
    /// Activity ids, as declared; empty means all (or, with recipients, those that disclose to them).
    pub activities: Vec<String>,
    /// The ids of the activities whose data it carries, as the record applies it.
    pub applies_to: Vec<String>,
    /// Recipient names.
    pub recipients: Vec<String>,
    pub safeguard: Option<SafeguardInfo>,
    pub description: Option<String>,
}

/// Where an activity's transfer was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferOrigin {
    /// A transfer the policy declares.
    DeclaredTransfer,
    /// A recipient located outside every storage region, with no declared transfer covering it.
    RecipientLocation,
}

/// A transfer of an activity's data to a third country.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActivityTransfer {
    /// The declared transfer's id, if declared.
    pub transfer: Option<String>,
    pub origin: TransferOrigin,
    pub destinations: Vec<RegionInfo>,
    /// Recipient names.
    pub recipients: Vec<String>,
    /// `None`: no safeguard is declared for this transfer.
    pub safeguard: Option<SafeguardInfo>,
    pub description: Option<String>,
}

/// One clock of a retention rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClockInfo {
    pub trigger: RetentionTrigger,
    pub period: Period,
    pub reason: Option<String>,
    /// E.g. "3 years after account closure".
    pub summary: String,
}

/// A retention rule: a time limit for erasure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RetentionInfo {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The whole rule in one sentence, e.g. "3 years after account closure, then delete (isolate if
    /// not possible)".
    pub summary: String,
    pub clocks: Vec<ClockInfo>,
    /// Several clocks: the data is kept until the last of them runs out.
    pub longest_of: bool,
    /// The controller we process for sets the period; the clocks are then our outer limit.
    pub controller_defined: bool,
    pub export_before: bool,
    pub action: RetentionAction,
    pub fallback: Option<RetentionAction>,
    /// Category keys covered.
    pub categories: Vec<String>,
    /// Activity ids covered.
    pub activities: Vec<String>,
    /// Legal-hold ids.
    pub legal_holds: Vec<String>,
    pub interpretation: Option<String>,
}

/// Data kept for a legal reason despite retention rules and erasure requests (Art. 17(3)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HoldInfo {
    pub id: String,
    pub name: String,
    pub basis: String,
    pub trigger: RetentionTrigger,
    pub period: Period,
    /// E.g. "6 years after collection".
    pub summary: String,
    pub categories: Vec<String>,
    pub activities: Vec<String>,
    pub interpretation: Option<String>,
}

/// A declared data category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CategoryInfo {
    pub key: String,
    pub name: String,
    /// The label the published policy uses, e.g. "(a)".
    pub label: Option<String>,
    pub description: Option<String>,
    pub special: bool,
    pub prohibited: bool,
    pub optional: bool,
    pub storage_limit: Option<StorageLimit>,
    pub encrypted_at_rest: bool,
    pub encrypted_in_transit: bool,
}

/// Builds the record from a policy.
pub fn build(policy: &Policy) -> Ropa {
    let general_security: Vec<String> = policy.security.as_ref().map(|s| s.measures.clone()).unwrap_or_default();
    let storage_regions: Vec<Region> = policy.storage.as_ref().map(|s| s.regions.clone()).unwrap_or_default();

    let mut controller_activities = Vec::new();
    let mut joint_controller_activities = Vec::new();
    let mut processor_activities: Vec<ProcessorGroup> = Vec::new();
    for (position, activity) in policy.activities.iter().enumerate() {
        let entry = activity_entry(policy, activity, position, &general_security, &storage_regions);
        match activity.role {
            Role::Controller => controller_activities.push(entry),
            Role::JointController => joint_controller_activities.push(entry),
            Role::Processor => {
                let group = match processor_activities.iter().position(|g| g.controller == activity.controller) {
                    Some(i) => &mut processor_activities[i],
                    None => {
                        processor_activities.push(ProcessorGroup {
                            controller: activity.controller.clone(),
                            activities: Vec::new(),
                            transfers: Vec::new(),
                            security_measures: general_security.clone(),
                        });
                        let last = processor_activities.len() - 1;
                        &mut processor_activities[last]
                    }
                };
                push_unique(&mut group.transfers, entry.transfers.iter().cloned());
                push_unique(&mut group.security_measures, entry.specific_security_measures.iter().cloned());
                group.activities.push(entry);
            }
        }
    }

    Ropa {
        schema: SCHEMA,
        generation_note: generation_note(policy),
        policy: PolicyInfo {
            title: policy.policy.title.clone(),
            version: policy.policy.version.clone(),
            effective: policy.policy.effective.clone(),
            url: policy.policy.url.clone(),
        },
        controller: controller_info(policy),
        storage: StorageInfo {
            regions: storage_regions.iter().map(region_info).collect(),
            description: policy.storage.as_ref().and_then(|s| s.description.clone()),
        },
        controller_activities,
        joint_controller_activities,
        processor_activities,
        security_measures: general_security,
        data_categories: policy.categories.iter().map(category_info).collect(),
        retention: policy.retention.iter().map(retention_info).collect(),
        legal_holds: policy.legal_holds.iter().map(hold_info).collect(),
        recipients: policy.recipients.iter().map(|r| recipient_info(policy, r)).collect(),
        transfers: policy.transfers.iter().map(|t| transfer_info(policy, t)).collect(),
    }
}

/// The record as pretty-printed JSON (schema `covenant-ropa/1`), ending with a newline.
pub fn json(policy: &Policy) -> String {
    let ropa = build(policy);
    // The record holds only strings, booleans, lists and structs with string keys: serializing it
    // cannot fail.
    let mut out = serde_json::to_string_pretty(&ropa).expect("the record serializes to JSON");
    out.push('\n');
    out
}

/// The CSV header: one column per field of an activity.
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "label",
    "name",
    "role",
    "controller_served",
    "joint_controller",
    "agreement",
    "purpose",
    "legal_bases",
    "legitimate_interest",
    "special_condition",
    "consent_purpose",
    "subject_types",
    "data_categories",
    "sources",
    "recipients",
    "transfers",
    "retention",
    "legal_holds",
    "security_measures",
];

/// The separator of multi-valued cells.
const CELL_SEPARATOR: &str = "; ";

/// The record as CSV (RFC 4180, CRLF line ends): a header row, then one row per activity, all
/// roles, in policy order. Multi-valued cells are joined with "; ".
pub fn csv(policy: &Policy) -> String {
    let ropa = build(policy);
    let mut out = String::new();
    write_csv_row(&mut out, CSV_COLUMNS.iter().map(|c| (*c).to_owned()));
    for a in ropa.all_activities() {
        write_csv_row(&mut out, csv_cells(a));
    }
    out
}

fn csv_cells(a: &ActivityEntry) -> Vec<String> {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let join = |items: Vec<String>| items.join(CELL_SEPARATOR);
    let mut sources: Vec<String> = a.sources.iter().map(|s| s.description.to_owned()).collect();
    if let Some(detail) = &a.source_detail {
        sources.push(detail.clone());
    }
    let mut bases: Vec<String> = a.legal_bases.iter().map(BasisInfo::text).collect();
    if let Some(note) = &a.basis_note {
        bases.push(note.clone());
    }
    let cells = vec![
        a.id.clone(),
        opt(&a.label),
        a.name.clone(),
        a.role_label().to_owned(),
        opt(&a.controller_served),
        opt(&a.joint_controller),
        opt(&a.agreement),
        a.purpose.clone(),
        join(bases),
        opt(&a.legitimate_interest),
        a.special_condition.as_ref().map(ConditionInfo::text).unwrap_or_default(),
        a.consent_purpose.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
        join(a.subject_types.iter().map(|s| s.name.clone()).collect()),
        join(a.data_categories.iter().map(CategoryRef::text).collect()),
        join(sources),
        join(a.recipients.iter().map(RecipientRef::text).collect()),
        join(a.transfers.iter().map(ActivityTransfer::text).collect()),
        join(a.retention.iter().map(|r| format!("{}: {}", r.name, r.summary)).collect()),
        join(a.legal_holds.iter().map(HoldInfo::text).collect()),
        join(a.security_measures.clone()),
    ];
    debug_assert_eq!(cells.len(), CSV_COLUMNS.len());
    cells
}

fn write_csv_row(out: &mut String, cells: impl IntoIterator<Item = String>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_field(&cell));
    }
    out.push_str("\r\n");
}

/// One CSV field: quoted when it holds a comma, a quote or a line break, quotes doubled (RFC 4180).
fn csv_field(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// The record as a standalone, printable HTML page (inline CSS, no scripts, no external resources).
/// All policy text is escaped.
pub fn html(policy: &Policy) -> Result<String, crate::RenderError> {
    let ropa = build(policy);
    let page = RopaPage {
        lang: policy.policy.language.as_deref().unwrap_or("en"),
        title: format!("Record of processing activities: {}", ropa.controller.legal_name),
        art30_1: ropa.art30_1(),
        ropa: &ropa,
    };
    Ok(page.render()?)
}

#[derive(Template)]
#[template(path = "ropa.html")]
struct RopaPage<'a> {
    lang: &'a str,
    title: String,
    art30_1: Vec<&'a ActivityEntry>,
    ropa: &'a Ropa,
}

impl Ropa {
    /// The Art. 30(1) activities (controller and joint controller), in policy order.
    pub fn art30_1(&self) -> Vec<&ActivityEntry> {
        let mut v: Vec<&ActivityEntry> =
            self.controller_activities.iter().chain(&self.joint_controller_activities).collect();
        v.sort_by_key(|a| a.position);
        v
    }

    /// Every activity, all roles, in policy order.
    pub fn all_activities(&self) -> Vec<&ActivityEntry> {
        let mut v = self.art30_1();
        v.extend(self.processor_activities.iter().flat_map(|g| &g.activities));
        v.sort_by_key(|a| a.position);
        v
    }
}

impl ActivityEntry {
    /// The role in words.
    pub fn role_label(&self) -> &'static str {
        match self.role {
            Role::Controller => "controller",
            Role::Processor => "processor",
            Role::JointController => "joint controller",
        }
    }

    /// The recipients named for this activity (on either side).
    pub fn bound_recipients(&self) -> Vec<&RecipientRef> {
        self.recipients.iter().filter(|r| !r.for_any_activity).collect()
    }

    /// The recipients bound to no activity, which may receive this activity's data too.
    pub fn recipients_for_any_activity(&self) -> Vec<&RecipientRef> {
        self.recipients.iter().filter(|r| r.for_any_activity).collect()
    }

    /// Whether we decide jointly with another controller (Art. 26).
    pub fn is_joint(&self) -> bool {
        self.role == Role::JointController
    }
}

impl ContactInfo {
    /// The kind of channel in words.
    pub fn kind_label(&self) -> &'static str {
        match self.kind {
            ContactKind::Email => "email",
            ContactKind::WebForm => "web form",
            ContactKind::SupportChat => "support chat",
            ContactKind::InApp => "in the app",
            ContactKind::Phone => "phone",
            ContactKind::Postal => "post",
            ContactKind::Website => "website",
        }
    }

    /// E.g. "Privacy requests: privacy@example.com (email)", or "Post: 1 Main Street".
    pub fn text(&self) -> String {
        let kind = self.kind_label();
        match (&self.label, self.value.is_empty()) {
            (Some(label), true) => format!("{label} ({kind})"),
            (Some(label), false) => format!("{label}: {} ({kind})", self.value),
            (None, true) => capitalize(kind),
            (None, false) => format!("{}: {}", capitalize(kind), self.value),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl ProcessorGroup {
    /// The controller served, in words.
    pub fn controller_text(&self) -> &str {
        self.controller.as_deref().unwrap_or("a controller the policy does not name")
    }
}

impl BasisInfo {
    /// E.g. "Consent (GDPR Art. 6(1)(a))".
    pub fn text(&self) -> String {
        format!("{} ({})", self.label, self.article)
    }
}

impl ConditionInfo {
    /// E.g. "Explicit consent (GDPR Art. 9(2)(a))".
    pub fn text(&self) -> String {
        format!("{} ({})", self.label, self.article)
    }
}

impl SafeguardInfo {
    /// E.g. "Standard contractual clauses (GDPR Art. 46(2)(c))".
    pub fn text(&self) -> String {
        format!("{} ({})", self.label, self.article)
    }
}

impl CategoryRef {
    /// E.g. "(a) Log-on data", with "(special category)" when it is one.
    pub fn text(&self) -> String {
        let name = labelled(self.label.as_deref(), &self.name);
        if self.special { format!("{name} (special category)") } else { name }
    }
}

impl CategoryInfo {
    /// E.g. "(a) Log-on data".
    pub fn text(&self) -> String {
        labelled(self.label.as_deref(), &self.name)
    }
}

impl RecipientRef {
    /// E.g. "Postlark Inc. (sub-processor in the United States)".
    pub fn text(&self) -> String {
        if self.locations.is_empty() {
            format!("{} ({})", self.name, self.kind_label)
        } else {
            format!("{} ({} in {})", self.name, self.kind_label, regions_text(&self.locations))
        }
    }
}

impl RecipientInfo {
    /// The locations in words, e.g. "Finland, Germany".
    pub fn locations_text(&self) -> String {
        regions_text(&self.locations)
    }
}

impl ActivityTransfer {
    /// E.g. "the United States (Postlark Inc.): Standard contractual clauses (GDPR Art. 46(2)(c))".
    pub fn text(&self) -> String {
        let mut s = self.destinations_text();
        if !self.recipients.is_empty() {
            s.push_str(&format!(" ({})", self.recipients.join(", ")));
        }
        s.push_str(": ");
        s.push_str(&self.safeguard_text());
        s
    }

    /// The destinations in words.
    pub fn destinations_text(&self) -> String {
        regions_text(&self.destinations)
    }

    /// The safeguard in words, or that none is declared.
    pub fn safeguard_text(&self) -> String {
        self.safeguard.as_ref().map_or_else(|| "no safeguard declared".to_owned(), SafeguardInfo::text)
    }
}

impl TransferInfo {
    /// The destinations in words.
    pub fn destinations_text(&self) -> String {
        regions_text(&self.destinations)
    }

    /// The safeguard in words, or that none is declared.
    pub fn safeguard_text(&self) -> String {
        self.safeguard.as_ref().map_or_else(|| "no safeguard declared".to_owned(), SafeguardInfo::text)
    }
}

impl HoldInfo {
    /// E.g. "Bookkeeping records: 6 years after collection (Accounting Act)".
    pub fn text(&self) -> String {
        format!("{}: {} ({})", self.name, self.summary, self.basis)
    }
}

impl RegionInfo {
    /// E.g. "Singapore (SG)".
    pub fn text(&self) -> String {
        if self.name == self.code { self.code.clone() } else { format!("{} ({})", self.name, self.code) }
    }
}

fn labelled(label: Option<&str>, name: &str) -> String {
    match label {
        Some(l) => format!("{l} {name}"),
        None => name.to_owned(),
    }
}

fn regions_text(regions: &[RegionInfo]) -> String {
    and_list(&regions.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
}

fn push_unique<T: PartialEq>(into: &mut Vec<T>, items: impl IntoIterator<Item = T>) {
    for item in items {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

fn generation_note(policy: &Policy) -> String {
    format!(
        "Generated by Covenant from \"{}\", version {}, effective {}. The record is derived from the policy file \
         alone and carries no generation time: the same policy always yields the same record.",
        policy.policy.title, policy.policy.version, policy.policy.effective
    )
}

fn region_info(region: &Region) -> RegionInfo {
    RegionInfo { code: region.as_str().to_owned(), name: region.describe().to_owned() }
}

fn party_info(party: &Party) -> PartyInfo {
    PartyInfo { name: party.name.clone(), email: party.email.clone(), address: party.address.clone() }
}

fn controller_info(policy: &Policy) -> ControllerInfo {
    let c = &policy.controller;
    ControllerInfo {
        legal_name: c.legal_name.clone(),
        trading_name: c.trading_name.clone(),
        registration_number: c.registration_number.clone(),
        registry: c.registry.clone(),
        registered_office: c.registered_office.clone(),
        country: c.country.as_ref().map(region_info),
        website: c.website.clone(),
        contacts: c
            .contacts
            .iter()
            .map(|k| ContactInfo { kind: k.kind, value: k.value.clone(), label: k.label.clone() })
            .collect(),
        dpo: c.dpo.as_ref().map(party_info),
        representative: c.representative.as_ref().map(party_info),
    }
}

fn keys(keys: &[CategoryKey]) -> Vec<String> {
    keys.iter().map(|k| k.as_str().to_owned()).collect()
}

fn overlaps(a: &CategoryKey, b: &CategoryKey) -> bool {
    a.is_within(b) || b.is_within(a)
}

fn category_info(c: &Category) -> CategoryInfo {
    CategoryInfo {
        key: c.id.as_str().to_owned(),
        name: c.name.clone(),
        label: c.label.clone(),
        description: c.description.clone(),
        special: c.special,
        prohibited: c.prohibited,
        optional: c.optional,
        storage_limit: c.storage_limit,
        encrypted_at_rest: c.encrypted_at_rest,
        encrypted_in_transit: c.encrypted_in_transit,
    }
}

fn category_ref(c: &Category) -> CategoryRef {
    CategoryRef { key: c.id.as_str().to_owned(), name: c.name.clone(), label: c.label.clone(), special: c.special }
}

/// The declared categories an activity processes: each key's own declaration, or, when the key is
/// a parent that is not declared itself, the declared categories below it that are not
/// prohibited; an undeclared key with nothing below it is listed by its key.
fn activity_categories<'a>(policy: &'a Policy, activity: &'a Activity) -> (Vec<CategoryRef>, Vec<&'a Category>) {
    let mut refs = Vec::new();
    let mut declared: Vec<&Category> = Vec::new();
    for key in &activity.categories {
        let found: Vec<&Category> = match policy.category(key) {
            Some(c) => vec![c],
            None => policy.categories_within(key).filter(|c| !c.prohibited).collect(),
        };
        if found.is_empty() {
            let r = CategoryRef {
                key: key.as_str().to_owned(),
                name: key.as_str().to_owned(),
                label: None,
                special: false,
            };
            push_unique(&mut refs, [r]);
        }
        for c in found {
            if !declared.iter().any(|d| d.id == c.id) {
                declared.push(c);
                refs.push(category_ref(c));
            }
        }
    }
    (refs, declared)
}

fn recipient_info(policy: &Policy, r: &Recipient) -> RecipientInfo {
    let mut activities = r.activities.clone();
    if is_unbound(policy, r) {
        activities.extend(policy.activities.iter().map(|a| a.id.clone()));
    } else {
        push_unique(
            &mut activities,
            policy.activities.iter().filter(|a| a.recipients.contains(&r.id)).map(|a| a.id.clone()),
        );
    }
    RecipientInfo {
        id: r.id.clone(),
        name: r.name.clone(),
        kind: r.kind,
        kind_label: recipient_kind_label(r.kind),
        purpose: r.purpose.clone(),
        condition: r.condition.clone(),
        locations: r.locations.iter().map(region_info).collect(),
        activities,
        opt_out: r.opt_out,
        sale: r.sale,
        trains_models: r.trains_models,
    }
}

fn recipient_ref(policy: &Policy, r: &Recipient) -> RecipientRef {
    RecipientRef {
        for_any_activity: is_unbound(policy, r),
        id: r.id.clone(),
        name: r.name.clone(),
        kind: r.kind,
        kind_label: recipient_kind_label(r.kind),
        purpose: r.purpose.clone(),
        condition: r.condition.clone(),
        locations: r.locations.iter().map(region_info).collect(),
    }
}

/// The recipients of an activity: those it names, then those that name it, then those bound to no
/// activity at all (they may receive the data of any activity, under their condition).
fn activity_recipients<'a>(policy: &'a Policy, activity: &Activity) -> Vec<&'a Recipient> {
    let mut out: Vec<&Recipient> = Vec::new();
    let mut add = |r: &'a Recipient| {
        if !out.iter().any(|o| o.id == r.id) {
            out.push(r);
        }
    };
    activity.recipients.iter().filter_map(|id| policy.recipient(id)).for_each(&mut add);
    policy.recipients.iter().filter(|r| r.activities.contains(&activity.id)).for_each(&mut add);
    policy.recipients.iter().filter(|r| is_unbound(policy, r)).for_each(&mut add);
    out
}

/// A recipient that names no activity and that no activity names.
fn is_unbound(policy: &Policy, r: &Recipient) -> bool {
    r.activities.is_empty() && !policy.activities.iter().any(|a| a.recipients.contains(&r.id))
}

fn recipient_name(policy: &Policy, id: &str) -> String {
    policy.recipient(id).map_or_else(|| id.to_owned(), |r| r.name.clone())
}

fn safeguard_info(s: Safeguard) -> SafeguardInfo {
    let (label, article) = match s {
        Safeguard::Adequacy => ("Adequacy decision", "GDPR Art. 45"),
        Safeguard::StandardContractualClauses => ("Standard contractual clauses", "GDPR Art. 46(2)(c)"),
        Safeguard::BindingCorporateRules => ("Binding corporate rules", "GDPR Art. 47"),
        Safeguard::ExplicitConsent => ("Explicit consent of the data subject", "GDPR Art. 49(1)(a)"),
        Safeguard::ContractNecessity => ("Necessary for a contract with the data subject", "GDPR Art. 49(1)(b)"),
    };
    SafeguardInfo { safeguard: s, label, article }
}

fn transfer_info(policy: &Policy, t: &Transfer) -> TransferInfo {
    TransferInfo {
        id: t.id.clone(),
        destinations: t.destinations.iter().map(region_info).collect(),
        activities: t.activities.clone(),
        applies_to: policy
            .activities
            .iter()
            .filter(|a| transfer_applies(t, a, &activity_recipients(policy, a)))
            .map(|a| a.id.clone())
            .collect(),
        recipients: t.recipients.iter().map(|id| recipient_name(policy, id)).collect(),
        safeguard: t.safeguard.map(safeguard_info),
        description: t.description.clone(),
    }
}

/// Whether a declared transfer carries this activity's data.
fn transfer_applies(t: &Transfer, activity: &Activity, recipients: &[&Recipient]) -> bool {
    if !t.activities.is_empty() {
        t.activities.contains(&activity.id)
    } else if !t.recipients.is_empty() {
        t.recipients.iter().any(|id| recipients.iter().any(|r| &r.id == id))
    } else {
        true
    }
}

fn activity_transfers(
    policy: &Policy,
    activity: &Activity,
    recipients: &[&Recipient],
    storage: &[Region],
) -> Vec<ActivityTransfer> {
    let applied: Vec<&Transfer> =
        policy.transfers.iter().filter(|t| transfer_applies(t, activity, recipients)).collect();
    let mut out: Vec<ActivityTransfer> = applied
        .iter()
        .map(|t| {
            let names = if t.recipients.is_empty() {
                recipients
                    .iter()
                    .filter(|r| r.locations.iter().any(|l| t.destinations.iter().any(|d| d.contains(l))))
                    .map(|r| r.name.clone())
                    .collect()
            } else {
                t.recipients.iter().map(|id| recipient_name(policy, id)).collect()
            };
            ActivityTransfer {
                transfer: Some(t.id.clone()),
                origin: TransferOrigin::DeclaredTransfer,
                destinations: t.destinations.iter().map(region_info).collect(),
                recipients: names,
                safeguard: t.safeguard.map(safeguard_info),
                description: t.description.clone(),
            }
        })
        .collect();
    if storage.is_empty() {
        return out;
    }
    for r in recipients {
        let uncovered: Vec<&Region> = r
            .locations
            .iter()
            .filter(|l| !storage.iter().any(|s| s.contains(l)))
            .filter(|l| {
                !applied.iter().any(|t| {
                    (t.recipients.is_empty() || t.recipients.contains(&r.id))
                        && t.destinations.iter().any(|d| d.contains(l))
                })
            })
            .collect();
        if !uncovered.is_empty() {
            out.push(ActivityTransfer {
                transfer: None,
                origin: TransferOrigin::RecipientLocation,
                destinations: uncovered.into_iter().map(region_info).collect(),
                recipients: vec![r.name.clone()],
                safeguard: None,
                description: None,
            });
        }
    }
    out
}

/// The neutral wording of a retention trigger, for a record rather than a notice.
fn trigger_text(t: RetentionTrigger) -> &'static str {
    match t {
        RetentionTrigger::Collected => "after collection",
        RetentionTrigger::LastInteraction => "after the last interaction",
        RetentionTrigger::AccountDeactivated => "after account deactivation",
        RetentionTrigger::AccountClosed => "after account closure",
        RetentionTrigger::ContractTerminated => "after the contract ends",
        RetentionTrigger::SubscriptionExpired => "after the subscription expires",
        RetentionTrigger::ConsentWithdrawn => "after consent is withdrawn",
        RetentionTrigger::VerificationCompleted => "after identity verification is completed",
        RetentionTrigger::RequestClosed => "after the request is closed",
        RetentionTrigger::ServiceShutdownAnnounced => "after the service shutdown is announced",
        RetentionTrigger::Death => "after the data subject's death is recorded",
    }
}

/// E.g. "3 years after account closure"; a zero period reads "immediately after …".
fn clock_text(period: Period, trigger: RetentionTrigger) -> String {
    if period.amount() == 0 {
        format!("immediately {}", trigger_text(trigger))
    } else {
        format!("{period} {}", trigger_text(trigger))
    }
}

fn action_text(a: RetentionAction) -> &'static str {
    match a {
        RetentionAction::Delete => "delete",
        RetentionAction::Anonymise => "anonymise",
        RetentionAction::Isolate => "isolate (stop processing and keep apart until deletion is possible)",
    }
}

fn fallback_text(a: RetentionAction) -> &'static str {
    match a {
        RetentionAction::Delete => "delete",
        RetentionAction::Anonymise => "anonymise",
        RetentionAction::Isolate => "isolate",
    }
}

/// The rule in one sentence: "<when>, then <what>". It holds no "; ", so that it stays one item
/// of a multi-valued CSV cell.
fn retention_summary(rule: &RetentionRule, clocks: &[ClockInfo]) -> String {
    let items: Vec<String> = clocks
        .iter()
        .map(|c| match &c.reason {
            Some(reason) => format!("{} ({reason})", c.summary),
            None => c.summary.clone(),
        })
        .collect();
    let clock_list = and_list(&items);
    let when = match (rule.controller_defined, clocks.len()) {
        (true, 0) => "as set by the controller".to_owned(),
        (true, 1) => format!("as set by the controller, at most {clock_list}"),
        (true, _) => format!("as set by the controller, at most the longest of {clock_list}"),
        (false, 0) => "no time limit stated".to_owned(),
        (false, 1) => clock_list,
        (false, _) => format!("the longest of {clock_list}"),
    };
    let mut what = String::new();
    if rule.export_before {
        what.push_str("offer the controller an export, then ");
    }
    what.push_str(action_text(rule.action));
    if let Some(f) = rule.fallback {
        what.push_str(&format!(" ({} if not possible)", fallback_text(f)));
    }
    format!("{when}, then {what}")
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn retention_info(rule: &RetentionRule) -> RetentionInfo {
    let clocks: Vec<ClockInfo> = rule
        .clocks()
        .into_iter()
        .map(|c| ClockInfo {
            trigger: c.trigger,
            period: c.period,
            summary: clock_text(c.period, c.trigger),
            reason: c.reason,
        })
        .collect();
    RetentionInfo {
        id: rule.id.clone(),
        name: rule.name.clone(),
        description: rule.description.clone(),
        summary: retention_summary(rule, &clocks),
        longest_of: clocks.len() > 1,
        clocks,
        controller_defined: rule.controller_defined,
        export_before: rule.export_before,
        action: rule.action,
        fallback: rule.fallback,
        categories: keys(&rule.categories),
        activities: rule.activities.clone(),
        legal_holds: rule.legal_holds.clone(),
        interpretation: rule.interpretation.clone(),
    }
}

fn hold_info(h: &crate::model::LegalHold) -> HoldInfo {
    HoldInfo {
        id: h.id.clone(),
        name: h.name.clone(),
        basis: h.basis.clone(),
        trigger: h.trigger,
        period: h.period,
        summary: clock_text(h.period, h.trigger),
        categories: keys(&h.categories),
        activities: h.activities.clone(),
        interpretation: h.interpretation.clone(),
    }
}

fn recipient_kind_label(k: RecipientKind) -> &'static str {
    match k {
        RecipientKind::SubProcessor => "sub-processor",
        RecipientKind::Affiliate => "affiliate",
        RecipientKind::Partner => "business partner",
        RecipientKind::Authority => "public authority",
        RecipientKind::Adviser => "professional adviser",
        RecipientKind::Acquirer => "acquirer",
        RecipientKind::Integration => "integration",
        RecipientKind::Complainant => "complainant",
        RecipientKind::OtherUsers => "other users of the service",
    }
}

fn source_text(s: Source) -> &'static str {
    match s {
        Source::Subject => "the data subject",
        Source::Automatic => "collected automatically during use",
        Source::Customer => "our customer or a user, about someone else",
        Source::ThirdParty => "a third party",
        Source::Public => "publicly available sources",
    }
}

fn condition_label(c: Art9Condition) -> &'static str {
    match c {
        Art9Condition::ExplicitConsent => "Explicit consent",
        Art9Condition::Employment => "Employment and social security law",
        Art9Condition::VitalInterests => "Vital interests",
        Art9Condition::NotForProfit => "Not-for-profit body",
        Art9Condition::MadePublic => "Manifestly made public by the data subject",
        Art9Condition::LegalClaims => "Legal claims",
        Art9Condition::SubstantialPublicInterest => "Substantial public interest",
        Art9Condition::HealthCare => "Health or social care",
        Art9Condition::PublicHealth => "Public health",
        Art9Condition::Archiving => "Archiving, research or statistics",
    }
}

fn storage_limit_text(l: StorageLimit) -> &'static str {
    match l {
        StorageLimit::LastFour => "only the last four characters are kept",
        StorageLimit::TruncatedNetwork => "kept truncated to the network (/24, /48)",
        StorageLimit::HashOnly => "only a salted hash is kept",
        StorageLimit::NeverStored => "never stored (processed in transit only)",
    }
}

/// "(d) Billing data: encrypted at rest and in transit, only the last four characters are kept".
fn category_security(c: &Category) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    match (c.encrypted_at_rest, c.encrypted_in_transit) {
        (true, true) => parts.push("encrypted at rest and in transit"),
        (true, false) => parts.push("encrypted at rest"),
        (false, true) => parts.push("encrypted in transit"),
        (false, false) => {}
    }
    if let Some(l) = c.storage_limit {
        parts.push(storage_limit_text(l));
    }
    if parts.is_empty() {
        None
    } else {
        Some(format!("{}: {}", labelled(c.label.as_deref(), &c.name), parts.join(", ")))
    }
}

fn activity_entry(
    policy: &Policy,
    activity: &Activity,
    position: usize,
    general_security: &[String],
    storage: &[Region],
) -> ActivityEntry {
    let (data_categories, declared) = activity_categories(policy, activity);
    let recipients = activity_recipients(policy, activity);
    let transfers = activity_transfers(policy, activity, &recipients, storage);

    let touches = |keys: &[CategoryKey]| keys.iter().any(|k| activity.categories.iter().any(|c| overlaps(k, c)));
    let rules: Vec<&RetentionRule> =
        policy.retention.iter().filter(|r| r.activities.contains(&activity.id) || touches(&r.categories)).collect();
    let legal_holds: Vec<HoldInfo> = policy
        .legal_holds
        .iter()
        .filter(|h| {
            h.activities.contains(&activity.id)
                || touches(&h.categories)
                || rules.iter().any(|r| r.legal_holds.contains(&h.id))
        })
        .map(hold_info)
        .collect();

    let specific_security: Vec<String> = declared.iter().filter_map(|c| category_security(c)).collect();
    let mut security_measures = general_security.to_vec();
    push_unique(&mut security_measures, specific_security.iter().cloned());

    ActivityEntry {
        id: activity.id.clone(),
        label: activity.label.clone(),
        name: activity.name.clone(),
        purpose: activity.purpose.clone(),
        data_use: activity.data_use.clone(),
        role: activity.role,
        controller_served: activity.controller.clone(),
        joint_controller: activity.joint_with.clone(),
        agreement: activity.agreement.clone(),
        legal_bases: activity
            .legal_bases
            .iter()
            .map(|b| BasisInfo { basis: *b, label: b.label(), article: b.article() })
            .collect(),
        basis_note: activity.basis_note.clone(),
        legitimate_interest: activity.legitimate_interest.clone(),
        special_condition: activity.special_condition.map(|c| ConditionInfo {
            condition: c,
            label: condition_label(c),
            article: c.article(),
        }),
        consent_purpose: activity.consent_purpose.as_ref().map(|id| NamedRef {
            id: id.clone(),
            name: policy.consent_purpose(id).map_or_else(|| id.clone(), |c| c.name.clone()),
        }),
        direct_marketing: activity.direct_marketing,
        automated_decisions: activity.automated_decisions.clone(),
        subject_types: activity
            .subject_types
            .iter()
            .map(|id| NamedRef {
                id: id.clone(),
                name: policy.subject_type(id).map_or_else(|| id.clone(), |s| s.name.clone()),
            })
            .collect(),
        data_categories,
        sources: activity.sources.iter().map(|s| SourceInfo { source: *s, description: source_text(*s) }).collect(),
        source_detail: activity.source_detail.clone(),
        recipients: recipients.iter().map(|r| recipient_ref(policy, r)).collect(),
        transfers,
        retention: rules.into_iter().map(retention_info).collect(),
        legal_holds,
        security_measures,
        specific_security_measures: specific_security,
        position,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let cases = [
            ("plain", "plain"),
            ("", ""),
            ("a, b", "\"a, b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("cr\rhere", "\"cr\rhere\""),
            ("semi; colon", "semi; colon"),
        ];
        for (input, expect) in cases {
            assert_eq!(csv_field(input), expect, "{input:?}");
        }
    }

    #[test]
    fn contacts_read_with_their_kind() {
        let check = |kind: ContactKind, value: &str, label: Option<&str>, expect: &str| {
            let c = ContactInfo { kind, value: value.to_owned(), label: label.map(str::to_owned) };
            assert_eq!(c.text(), expect);
        };
        check(ContactKind::Email, "a@b.example", Some("Privacy"), "Privacy: a@b.example (email)");
        check(ContactKind::SupportChat, "", Some("Online service"), "Online service (support chat)");
        check(ContactKind::Postal, "1 Main Street", None, "Post: 1 Main Street");
        check(ContactKind::InApp, "", None, "In the app");
    }

    #[test]
    fn lists_read_as_prose() {
        let check = |items: &[&str], expect: &str| {
            let items: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(and_list(&items), expect);
        };
        check(&[], "");
        check(&["a"], "a");
        check(&["a", "b"], "a and b");
        check(&["a", "b", "c"], "a, b and c");
    }

    #[test]
    fn clocks_read_as_record_entries() {
        let check = |period: &str, trigger: RetentionTrigger, expect: &str| {
            assert_eq!(clock_text(period.parse().expect("a valid period"), trigger), expect);
        };
        check("3 years", RetentionTrigger::AccountClosed, "3 years after account closure");
        check("1 month", RetentionTrigger::Collected, "1 month after collection");
        check(
            "0 days",
            RetentionTrigger::VerificationCompleted,
            "immediately after identity verification is completed",
        );
    }

    fn rule(toml_text: &str) -> RetentionRule {
        toml::from_str(toml_text).expect("a valid retention rule")
    }

    #[test]
    fn retention_summaries_state_when_and_what() {
        let check = |text: &str, expect: &str| {
            let r = rule(text);
            assert_eq!(retention_info(&r).summary, expect);
        };
        check(
            r#"id = "a"
name = "A"
trigger = "account_closed"
period = "3 years"
action = "delete"
fallback = "isolate""#,
            "3 years after account closure, then delete (isolate if not possible)",
        );
        check(
            r#"id = "a"
name = "A"
action = "anonymise"
longest_of = [
  { trigger = "contract_terminated", period = "1 year", reason = "service records" },
  { trigger = "last_interaction", period = "6 months" },
]"#,
            "the longest of 1 year after the contract ends (service records) and 6 months after the last interaction, \
             then anonymise",
        );
        check(
            r#"id = "a"
name = "A"
controller_defined = true
export_before = true
trigger = "contract_terminated"
period = "30 days"
action = "delete""#,
            "as set by the controller, at most 30 days after the contract ends, then offer the controller an \
             export, then delete",
        );
        check(
            r#"id = "a"
name = "A"
action = "delete""#,
            "no time limit stated, then delete",
        );
    }
}
