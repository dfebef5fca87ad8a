//! What a request answers: the access report (every item found, with where it came from, why it
//! is held, how long and who receives it — promise P6), the answer to "do you hold my data?"
//! (O4, T5), and the results of erasure, rectification, restriction and objection.
//!
//! The access report is also the export's JSON document; its schema is published
//! (`docs/exports.md`, [`export_schema`]).

use std::collections::{BTreeMap, BTreeSet};

use covenant_connectors::Value;
use covenant_core::CategoryKey;
use covenant_policy::dataset::{Dataset, RowErasure, Strategy, Table};
use covenant_policy::model::{Activity, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::find::{Found, Referred};
use crate::plan::HoldRef;
use crate::writes::{Correction, Counts};

/// The version of the report and export format.
pub const EXPORT_SCHEMA_VERSION: u32 = 1;

/// Everything held about a person (access; the JSON of an export).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccessReport {
    /// The format version (1).
    pub schema: u32,
    /// Who holds the data: the policy's controller.
    pub controller: String,
    /// The policy version the explanations come from.
    pub policy_version: String,
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
    /// The identities the request was made with, and those found in the person's rows.
    pub identities: Vec<String>,
    /// The person's data, per table.
    pub tables: Vec<TableReport>,
    /// Rows that only mention the person (someone else's ticket assigned to them, …).
    pub mentions: Vec<MentionReport>,
    /// Data we hold for customers, who are its controllers: ask them (promise T7).
    pub referred: Vec<ReferralReport>,
}

/// The person's rows of one table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TableReport {
    pub dataset: String,
    pub dataset_name: String,
    pub table: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What each column holds, why, how long, and who receives it.
    pub columns: Vec<ColumnReport>,
    pub rows: Vec<RowReport>,
}

/// One column of personal data and what the policy says about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ColumnReport {
    pub column: String,
    /// The data category (`user.contact.personal_info`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The category's name in the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_name: Option<String>,
    /// The identity kind the column holds, if it identifies the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Why it is held: the activities that use it, with their legal bases.
    pub purposes: Vec<PurposeReport>,
    /// Where it came from (`subject`, `automatic`, `customer`, …) and details.
    pub sources: Vec<String>,
    /// How long it is kept.
    pub retention: Vec<RetentionReport>,
    /// Who receives it.
    pub recipients: Vec<RecipientReport>,
    /// Kept under a legal hold even after an erasure request (promise T5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<HoldRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PurposeReport {
    pub activity: String,
    pub name: String,
    pub purpose: String,
    /// Legal bases with their article: `contract (GDPR Art. 6(1)(b))`.
    pub legal_bases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legitimate_interest: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetentionReport {
    pub rule: String,
    pub name: String,
    /// `30 days after the account is closed`; several clocks are `the longest of …`.
    pub period: String,
    /// What happens then: delete, anonymise, isolate.
    pub action: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecipientReport {
    pub id: String,
    pub name: String,
    pub kind: String,
}

/// One row: its key, and the non-empty values of its personal columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RowReport {
    pub key: BTreeMap<String, serde_json::Value>,
    pub values: BTreeMap<String, serde_json::Value>,
}

/// Rows of `table` whose `columns` mention the person's rows of `of`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MentionReport {
    pub dataset: String,
    pub table: String,
    pub columns: Vec<String>,
    pub of: String,
    pub rows: Vec<BTreeMap<String, serde_json::Value>>,
}

/// Data held for a customer, who decides about it (promise T7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReferralReport {
    pub dataset: String,
    pub table: String,
    /// The column naming the customer, and the customers with how many rows each.
    pub controller_column: String,
    pub customers: BTreeMap<String, u64>,
    /// Who the controller is, as the policy says.
    pub controllers: Vec<String>,
}

impl From<&Referred> for ReferralReport {
    fn from(r: &Referred) -> ReferralReport {
        ReferralReport {
            dataset: r.dataset.clone(),
            table: r.table.clone(),
            controller_column: r.controller_column.clone(),
            customers: r.customers.clone(),
            controllers: r.controllers.clone(),
        }
    }
}

/// The activities that use a column of a table: the table's, or every activity that processes
/// the category, among those for the table's kind of person.
fn activities_for<'p>(policy: &'p Policy, t: &Table, cat: &CategoryKey) -> Vec<&'p Activity> {
    let covers = |a: &Activity| a.categories.iter().any(|c| cat.is_within(c));
    let for_subject = |a: &Activity| match &t.subject_type {
        Some(s) => a.subject_types.is_empty() || a.subject_types.contains(s),
        None => true,
    };
    if !t.activities.is_empty() {
        let listed: Vec<&Activity> = t.activities.iter().filter_map(|a| policy.activity(a)).collect();
        let covering: Vec<&Activity> = listed.iter().copied().filter(|a| covers(a)).collect();
        return if covering.is_empty() { listed } else { covering };
    }
    policy.activities.iter().filter(|a| covers(a) && for_subject(a)).collect()
}

fn hold_of(policy: &Policy, id: &str) -> HoldRef {
    match policy.legal_hold(id) {
        Some(h) => HoldRef {
            id: h.id.clone(),
            name: h.name.clone(),
            basis: h.basis.clone(),
            period: format!("{} {}", h.period, h.trigger.plain()),
        },
        None => HoldRef { id: id.to_owned(), name: id.to_owned(), basis: String::new(), period: String::new() },
    }
}

/// What the policy says about one column.
pub fn column_report(policy: &Policy, t: &Table, column: &str) -> Option<ColumnReport> {
    let c = t.column(column)?;
    if c.category.is_none() && c.identity.is_none() {
        return None;
    }
    let activities = match &c.category {
        Some(cat) => activities_for(policy, t, cat),
        None => Vec::new(),
    };
    let purposes = activities
        .iter()
        .map(|a| PurposeReport {
            activity: a.id.clone(),
            name: a.name.clone(),
            purpose: a.purpose.clone(),
            legal_bases: a.legal_bases.iter().map(|b| format!("{} ({})", b.as_str(), b.article())).collect(),
            legitimate_interest: a.legitimate_interest.clone(),
        })
        .collect();
    let mut sources: BTreeSet<String> = BTreeSet::new();
    for a in &activities {
        for s in &a.sources {
            sources
                .insert(serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default());
        }
        if let Some(d) = &a.source_detail {
            sources.insert(d.clone());
        }
    }
    let retention = match &c.category {
        Some(cat) => policy
            .retention_for(cat)
            .map(|r| {
                let clocks = r.clocks();
                let mut period =
                    clocks.iter().map(|k| format!("{} {}", k.period, k.trigger.plain())).collect::<Vec<_>>().join("; ");
                if clocks.len() > 1 {
                    period = format!("the longest of: {period}");
                }
                if r.controller_defined {
                    period = if period.is_empty() {
                        "as the customer decides".to_owned()
                    } else {
                        format!("as the customer decides, at most {period}")
                    };
                }
                RetentionReport {
                    rule: r.id.clone(),
                    name: r.name.clone(),
                    period,
                    action: serde_json::to_value(r.action)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let mut recipient_ids: Vec<&str> = Vec::new();
    for a in &activities {
        for r in &a.recipients {
            if !recipient_ids.contains(&r.as_str()) {
                recipient_ids.push(r);
            }
        }
    }
    let recipients = recipient_ids
        .iter()
        .filter_map(|id| policy.recipient(id))
        .map(|r| RecipientReport {
            id: r.id.clone(),
            name: r.name.clone(),
            kind: serde_json::to_value(r.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        })
        .collect();
    let legal_hold = match (&t.erase, &c.erase) {
        (RowErasure::Keep(h), _) | (_, Some(Strategy::Keep(h))) => Some(hold_of(policy, h)),
        _ => None,
    };
    Some(ColumnReport {
        column: c.name.clone(),
        category: c.category.as_ref().map(|k| k.as_str().to_owned()),
        category_name: c.category.as_ref().and_then(|k| {
            policy
                .categories
                .iter()
                .filter(|pc| k.is_within(&pc.id))
                .max_by_key(|pc| pc.id.as_str().len())
                .map(|pc| pc.name.clone())
        }),
        identity: c.identity.as_ref().map(ToString::to_string),
        purposes,
        sources: sources.into_iter().collect(),
        retention,
        recipients,
        legal_hold,
    })
}

/// Builds the access report from what was found.
pub fn access(policy: &Policy, datasets: &[&Dataset], found: &Found, generated_at: &str) -> AccessReport {
    let mut tables = Vec::new();
    let mut mentions = Vec::new();
    for fd in &found.datasets {
        let Some(ds) = datasets.iter().find(|d| d.id == fd.id) else { continue };
        for t in &ds.tables {
            let Some(rows) = fd.tables.get(&t.name) else { continue };
            if rows.rows.is_empty() {
                continue;
            }
            let columns: Vec<ColumnReport> =
                t.columns.iter().filter_map(|c| column_report(policy, t, &c.name)).collect();
            let mut out_rows = Vec::new();
            for (k, row) in &rows.rows {
                let key: BTreeMap<String, serde_json::Value> =
                    t.primary_key.iter().cloned().zip(k.0.iter().map(Value::to_json)).collect();
                let values: BTreeMap<String, serde_json::Value> = columns
                    .iter()
                    .filter_map(|c| {
                        let v = rows.get(row, &c.column)?;
                        (!v.is_empty()).then(|| (c.column.clone(), v.to_json()))
                    })
                    .collect();
                if !values.is_empty() {
                    out_rows.push(RowReport { key, values });
                }
            }
            if out_rows.is_empty() {
                continue;
            }
            tables.push(TableReport {
                dataset: ds.id.clone(),
                dataset_name: ds.name.clone(),
                table: t.qualified_name(),
                description: t.description.clone(),
                columns,
                rows: out_rows,
            });
        }
        for m in &fd.mentions {
            if m.rows.rows.is_empty() {
                continue;
            }
            let Some(t) = ds.table(&m.table) else { continue };
            let rows = m
                .rows
                .rows
                .keys()
                .map(|k| t.primary_key.iter().cloned().zip(k.0.iter().map(Value::to_json)).collect())
                .collect();
            mentions.push(MentionReport {
                dataset: ds.id.clone(),
                table: m.table.clone(),
                columns: m.columns.clone(),
                of: m.of.clone(),
                rows,
            });
        }
    }
    AccessReport {
        schema: EXPORT_SCHEMA_VERSION,
        controller: policy.controller_name().to_owned(),
        policy_version: policy.policy.version.clone(),
        generated_at: generated_at.to_owned(),
        identities: found.identities.iter().map(|i| i.key()).collect(),
        tables,
        mentions,
        referred: found.referred.iter().map(ReferralReport::from).collect(),
    }
}

impl AccessReport {
    /// Every item, as (dataset, table, column, value).
    pub fn items(&self) -> impl Iterator<Item = (&str, &str, &str, &serde_json::Value)> {
        self.tables.iter().flat_map(|t| {
            t.rows.iter().flat_map(move |r| {
                r.values.iter().map(move |(c, v)| (t.dataset.as_str(), t.table.as_str(), c.as_str(), v))
            })
        })
    }

    pub fn item_count(&self) -> usize {
        self.items().count()
    }
}

/// The JSON Schema of the access report and export document.
pub fn export_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(AccessReport)).unwrap_or(serde_json::Value::Null)
}

/// The answer to "do you hold my data?" (promises O4, T5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Confirmation {
    /// Whether we hold or process data about the person, for ourselves or for a customer.
    pub holds_data: bool,
    /// The categories held (names from the policy), when we do.
    pub categories: Vec<String>,
    /// The systems (annotated databases) holding them.
    pub systems: Vec<String>,
    /// Customers for whom we process data about the person (promise O4: "or for a customer").
    pub referred: Vec<ReferralReport>,
}

pub fn confirmation(policy: &Policy, datasets: &[&Dataset], found: &Found) -> Confirmation {
    let report = access(policy, datasets, found, "");
    let mut categories = BTreeSet::new();
    let mut systems = BTreeSet::new();
    for t in &report.tables {
        systems.insert(t.dataset_name.clone());
        for c in &t.columns {
            if t.rows.iter().any(|r| r.values.contains_key(&c.column)) {
                categories.insert(c.category_name.clone().or_else(|| c.category.clone()).unwrap_or_default());
            }
        }
    }
    categories.remove("");
    Confirmation {
        holds_data: !report.tables.is_empty() || !report.referred.is_empty(),
        categories: categories.into_iter().collect(),
        systems: systems.into_iter().collect(),
        referred: report.referred,
    }
}

/// Values kept under a legal hold after an erasure, and why (promise T5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeptReport {
    pub dataset: String,
    pub table: String,
    /// The columns kept; empty when whole rows are kept.
    pub columns: Vec<String>,
    pub rows: u64,
    pub hold: HoldRef,
}

/// What one database's step did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StepReport {
    pub dataset: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The result of an erasure or a rectification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WriteReport {
    /// The journaled run.
    pub run: String,
    /// Whether this run resumed an interrupted one.
    pub resumed: bool,
    pub plan_hash: String,
    pub steps: Vec<StepReport>,
    /// Erasure: what was kept, under which hold and basis (promise T5).
    pub kept: Vec<KeptReport>,
    /// Data held for customers, referred to them (promise T7).
    pub referred: Vec<ReferralReport>,
    /// Rectification: the correction applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<Correction>,
    /// A sentence for the person.
    pub summary: String,
}

/// The result of a restriction or an objection, recorded in Covenant's store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FlagReport {
    pub run: String,
    /// The subject in Covenant's store.
    pub subject: String,
    /// Whether the subject was registered by this request.
    pub registered: bool,
    /// The flags set: `restricted`, `objection:<activity>`.
    pub flags: Vec<String>,
    pub summary: String,
}

/// What a request answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "result")]
pub enum Outcome {
    Access(AccessReport),
    Export(AccessReport),
    Confirm(Confirmation),
    Erasure(WriteReport),
    Rectification(WriteReport),
    Restriction(FlagReport),
    Objection(FlagReport),
}

/// What an erasure keeps, from the person's rows (promise T5).
pub fn kept(policy: &Policy, ds: &Dataset, found: &crate::find::FoundDataset) -> Vec<KeptReport> {
    let mut out = Vec::new();
    for t in &ds.tables {
        let Some(rows) = found.tables.get(&t.name) else { continue };
        if rows.rows.is_empty() {
            continue;
        }
        match &t.erase {
            RowErasure::Keep(h) => out.push(KeptReport {
                dataset: ds.id.clone(),
                table: t.qualified_name(),
                columns: Vec::new(),
                rows: rows.rows.len() as u64,
                hold: hold_of(policy, h),
            }),
            RowErasure::Update => {
                let mut by_hold: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for c in &t.columns {
                    if let Some(Strategy::Keep(h)) = &c.erase {
                        let held = rows.rows.values().any(|r| rows.get(r, &c.name).is_some_and(|v| !v.is_empty()));
                        if held {
                            by_hold.entry(h.clone()).or_default().push(c.name.clone());
                        }
                    }
                }
                for (h, columns) in by_hold {
                    out.push(KeptReport {
                        dataset: ds.id.clone(),
                        table: t.qualified_name(),
                        columns,
                        rows: rows.rows.len() as u64,
                        hold: hold_of(policy, &h),
                    });
                }
            }
            RowErasure::Delete => {}
        }
    }
    out
}
