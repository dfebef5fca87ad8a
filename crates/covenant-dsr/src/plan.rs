//! The planner: from the policy, the dataset annotations, the request kind, the person's
//! identities and a scope, an explicit [`Plan`] of what will be read and written. Pure: no I/O.
//!
//! A plan says, per dataset:
//! - how the person's rows are found: tables by identity column, then tables reached by
//!   references from rows already found (`belongs_to` from the referenced rows to the
//!   referencing ones, `same_subject` both ways), repeated until nothing new is found;
//! - which rows only mention the person (`mentions` references);
//! - which tables hold data we process for a customer (a `controller` column, and tables reached
//!   only through such tables): by default they are referred to the customer (promise T7) and
//!   not acted on; with a customer instruction scope only that customer's rows are acted on
//!   (promises O3, P7);
//! - for an erasure, the actions in the order they run (cut mentions and update kept rows
//!   first, then delete, children before parents), with what is kept under which legal hold
//!   (promises T5, W10).
//!
//! Identities found in one dataset's identity columns are looked up in every dataset (the
//! plan's `expansion`), until no new identity is found.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;

use covenant_core::Identity;
use covenant_policy::dataset::{Dataset, IdentityMatch, Link, RowErasure, Strategy, Table};
use covenant_policy::model::Policy;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the person asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Everything held about the person, with why, how long and who receives it (P6).
    Access,
    /// The person's data in machine-readable form (portability), plus a readable report (W6).
    Export,
    /// Delete the person's data, except what a legal hold keeps (T5, W10).
    Erasure,
    /// Correct (or add) a value everywhere it is held (P6).
    Rectification,
    /// Restrict processing (GDPR Art. 18).
    Restriction,
    /// Object to processing (GDPR Art. 21); absolute for direct marketing.
    Objection,
    /// Whether any data about the person is held (O4, T5).
    Confirm,
}

impl RequestKind {
    pub const ALL: [RequestKind; 7] = [
        RequestKind::Access,
        RequestKind::Export,
        RequestKind::Erasure,
        RequestKind::Rectification,
        RequestKind::Restriction,
        RequestKind::Objection,
        RequestKind::Confirm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Access => "access",
            RequestKind::Export => "export",
            RequestKind::Erasure => "erasure",
            RequestKind::Rectification => "rectification",
            RequestKind::Restriction => "restriction",
            RequestKind::Objection => "objection",
            RequestKind::Confirm => "confirm",
        }
    }

    /// Whether the request writes to application databases.
    pub fn writes_databases(self) -> bool {
        matches!(self, RequestKind::Erasure | RequestKind::Rectification)
    }
}

impl FromStr for RequestKind {
    type Err = String;
    fn from_str(s: &str) -> Result<RequestKind, String> {
        RequestKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            format!(
                "unknown request kind `{s}`; use one of: {}",
                RequestKind::ALL.iter().map(|k| format!("`{}`", k.as_str())).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

impl std::fmt::Display for RequestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose instructions the request acts on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The person's own request about the data we control; data we process for customers is
    /// referred to them (promise T7).
    Controller,
    /// An instruction of the customer with this id (the value of the tables' `controller`
    /// column): act on that customer's rows only (promises O3, P7).
    Customer(String),
}

impl Scope {
    /// `controller`, `customer:ID`: how runs record it.
    pub fn key(&self) -> String {
        match self {
            Scope::Controller => "controller".to_owned(),
            Scope::Customer(id) => format!("customer:{id}"),
        }
    }
}

/// How a lookup reaches a table's rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum Via {
    /// Rows whose identity column holds one of the person's identities of this kind; compared
    /// ignoring letter case when the column is annotated `match = "case_insensitive"`.
    Identity {
        column: String,
        kind: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        case_insensitive: bool,
    },
    /// Rows whose `columns` equal `from_columns` of the person's rows in `from`.
    Reference {
        columns: Vec<String>,
        from: String,
        from_columns: Vec<String>,
        link: String,
        /// `referencing`: this table references `from` (its rows belong to the found rows);
        /// `referenced`: `from` references this table (`same_subject`, followed backwards).
        direction: String,
    },
}

/// One way of finding a person's rows in one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lookup {
    pub table: String,
    pub via: Via,
    /// For a customer instruction: only rows whose controller column holds the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_column: Option<String>,
}

/// Rows of `table` that mention the person's rows of `of`: listed, and cut on erasure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MentionLookup {
    pub table: String,
    pub columns: Vec<String>,
    pub of: String,
    pub target: Vec<String>,
    /// Erasure only: the mentions are counted, not read, and cut by the reference they hold
    /// (every row of `table` whose `columns` hold the person's `of` keys), because no other
    /// action of the erasure touches `table`: the rows cut cannot be rows the erasure deletes
    /// or keeps. A journaled step then names the person's keys, not each mentioning row.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_reference: bool,
}

impl MentionLookup {
    /// Whether these are the mentions an erasure's `CutMentions` of `table`, `of` and `columns`
    /// cuts.
    pub fn is_cut_by(&self, table: &str, of: &str, columns: &[ColumnStrategy]) -> bool {
        self.table == table && self.of == of && columns.iter().all(|c| self.columns.contains(&c.column))
    }
}

/// A column and what an erasure writes into it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnStrategy {
    pub column: String,
    pub strategy: Strategy,
}

/// A legal hold as the plan explains it (promise T5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HoldRef {
    /// The policy's `legal_holds` id.
    pub id: String,
    pub name: String,
    /// The legal basis for keeping the data.
    pub basis: String,
    /// How long, and from when: "5 years after the account is closed".
    pub period: String,
}

/// One erasure action, in the order the plan runs them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// In rows of `table` that mention the person's rows of `of`, write each column's strategy;
    /// the rest of those rows stays. `by_reference`: the rows are those whose reference holds
    /// the person's keys, written as such (see [`MentionLookup::by_reference`]).
    CutMentions {
        table: String,
        of: String,
        columns: Vec<ColumnStrategy>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_reference: bool,
    },
    /// Keep the person's rows of `table` and write each column's strategy; `kept` columns stay
    /// under their legal hold.
    Update { table: String, columns: Vec<ColumnStrategy>, kept: Vec<KeptColumn> },
    /// Keep the person's rows of `table` unchanged under a legal hold, except the links in
    /// `cut`.
    Keep { table: String, hold: HoldRef, cut: Vec<ColumnStrategy> },
    /// Delete the person's rows of `table`.
    Delete { table: String },
}

impl Action {
    pub fn table(&self) -> &str {
        match self {
            Action::CutMentions { table, .. }
            | Action::Update { table, .. }
            | Action::Keep { table, .. }
            | Action::Delete { table } => table,
        }
    }
}

/// A column whose value stays under a legal hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptColumn {
    pub column: String,
    pub hold: HoldRef,
}

/// A table of data processed for customers, referred to them rather than acted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub table: String,
    /// The column naming the customer.
    pub controller_column: String,
    /// The identity columns people are found by in it.
    pub identity_columns: Vec<(String, String)>,
    /// Who the policy says the controller is (the processor activities' `controller`).
    pub controllers: Vec<String>,
}

/// Everything the plan does in one dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetPlan {
    pub id: String,
    pub name: String,
    pub lookups: Vec<Lookup>,
    pub mentions: Vec<MentionLookup>,
    /// Erasure only; in order, all in one transaction of this database.
    pub actions: Vec<Action>,
    pub referred: Vec<Referral>,
    /// Tables in scope (acted on), in annotation order.
    pub tables: Vec<String>,
}

impl DatasetPlan {
    /// Whether the plan deletes the person's rows of `table` whole (an erasure).
    pub fn deletes(&self, table: &str) -> bool {
        self.actions.iter().any(|a| matches!(a, Action::Delete { table: t } if t == table))
    }
}

/// Identities that rows of one column add to the person's, and where they are looked up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expansion {
    pub kind: String,
    /// `dataset.table.column` holding identities of this kind in rows found.
    pub found_in: Vec<String>,
    /// `dataset.table.column` looked up with them.
    pub looked_up_in: Vec<String>,
}

/// An explicit plan for one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub kind: RequestKind,
    /// The identity keys the request was made with.
    pub identities: Vec<String>,
    pub scope: Scope,
    pub datasets: Vec<DatasetPlan>,
    pub expansion: Vec<Expansion>,
}

/// Why a plan cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("a request needs at least one identity (`--identity email=ada@example.com`)")]
    NoIdentity,
    #[error("no annotated table holds identities of kind `{0}`; use one of: {1}")]
    UnknownIdentityKind(String, String),
    #[error("no annotated table names a customer (`controller` column), so there is no customer `{0}` to act for")]
    NoProcessorData(String),
}

/// Which tables hold data processed for customers: tables with a `controller` column, and
/// tables without identity columns whose owning references all lead to such tables.
pub fn processor_tables(ds: &Dataset) -> BTreeSet<String> {
    let mut set: BTreeSet<String> =
        ds.tables.iter().filter(|t| t.controller.is_some()).map(|t| t.name.clone()).collect();
    loop {
        let before = set.len();
        for t in &ds.tables {
            if set.contains(&t.name) || t.identity_columns().next().is_some() {
                continue;
            }
            let owners: Vec<&str> =
                t.references.iter().filter(|r| r.link != Link::Mentions).map(|r| r.table.as_str()).collect();
            if !owners.is_empty() && owners.iter().all(|o| set.contains(*o)) {
                set.insert(t.name.clone());
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

fn hold_ref(policy: &Policy, id: &str) -> HoldRef {
    match policy.legal_hold(id) {
        Some(h) => HoldRef {
            id: h.id.clone(),
            name: h.name.clone(),
            basis: h.basis.clone(),
            period: format!("{} {}", h.period, h.trigger.plain()),
        },
        // The annotations were checked against the policy, so the hold exists.
        None => HoldRef { id: id.to_owned(), name: id.to_owned(), basis: String::new(), period: String::new() },
    }
}

fn strategies(t: &Table, columns: impl Iterator<Item = String>) -> Vec<ColumnStrategy> {
    let mut seen = HashSet::new();
    columns
        .filter(|c| seen.insert(c.clone()))
        .filter_map(|c| match t.column(&c).and_then(|col| col.erase.clone()) {
            Some(Strategy::Keep(_)) | None => None,
            Some(strategy) => Some(ColumnStrategy { column: c, strategy }),
        })
        .collect()
}

/// Orders the tables to delete so that a table comes before every table it references
/// (children before parents). Tables in a reference cycle keep their annotation order.
pub fn delete_order(ds: &Dataset, deleted: &[&str]) -> Vec<String> {
    let set: HashSet<&str> = deleted.iter().copied().collect();
    // How many tables that reference it are still to be deleted; the tables each one references.
    let mut waiting_on: HashMap<&str, usize> = HashMap::new();
    let mut parents_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in ds.tables.iter().filter(|t| set.contains(t.name.as_str())) {
        let parents: BTreeSet<&str> =
            t.references.iter().map(|r| r.table.as_str()).filter(|p| *p != t.name && set.contains(p)).collect();
        for p in parents {
            *waiting_on.entry(p).or_default() += 1;
            parents_of.entry(t.name.as_str()).or_default().push(p);
        }
    }
    let mut order = Vec::new();
    let mut done: HashSet<&str> = HashSet::new();
    loop {
        // The first table (in annotation order) that no remaining table references.
        let next = ds
            .tables
            .iter()
            .map(|t| t.name.as_str())
            .find(|n| set.contains(n) && !done.contains(n) && waiting_on.get(n).copied().unwrap_or(0) == 0);
        match next {
            Some(n) => {
                done.insert(n);
                order.push(n.to_owned());
                for p in parents_of.get(n).into_iter().flatten() {
                    if let Some(w) = waiting_on.get_mut(p) {
                        *w -= 1;
                    }
                }
            }
            None => break,
        }
    }
    // A cycle: what is left, in annotation order.
    for t in &ds.tables {
        if set.contains(t.name.as_str()) && !done.contains(t.name.as_str()) {
            order.push(t.name.clone());
        }
    }
    order
}

/// Whether the annotations can find people by these identities: at least one, each of a kind
/// some table holds. Besides these, a plan depends only on the request's kind and scope.
pub fn check_identities(datasets: &[Dataset], identities: &[Identity]) -> Result<(), PlanError> {
    if identities.is_empty() {
        return Err(PlanError::NoIdentity);
    }
    let kinds =
        || datasets.iter().flat_map(|d| &d.tables).flat_map(|t| t.identity_columns().map(|(_, i)| i.to_string()));
    for id in identities {
        let kind = id.kind_name();
        if !kinds().any(|k| k == kind) {
            let known_kinds: BTreeSet<String> = kinds().collect();
            return Err(PlanError::UnknownIdentityKind(
                kind,
                known_kinds.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
            ));
        }
    }
    Ok(())
}

/// Builds the plan of one request.
pub fn build(
    policy: &Policy,
    datasets: &[Dataset],
    kind: RequestKind,
    identities: &[Identity],
    scope: &Scope,
) -> Result<Plan, PlanError> {
    check_identities(datasets, identities)?;
    if let Scope::Customer(c) = scope
        && !datasets.iter().any(|d| d.tables.iter().any(|t| t.controller.is_some()))
    {
        return Err(PlanError::NoProcessorData(c.clone()));
    }

    let mut plans = Vec::new();
    for ds in datasets {
        plans.push(plan_dataset(policy, ds, kind, scope));
    }

    // Identity expansion between datasets (and within one).
    let mut found_in: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut looked_up_in: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (ds, p) in datasets.iter().zip(&plans) {
        let in_scope: HashSet<&str> = p.tables.iter().map(String::as_str).collect();
        for t in ds.tables.iter().filter(|t| in_scope.contains(t.name.as_str())) {
            for (c, i) in t.identity_columns() {
                let at = format!("{}.{}.{}", ds.id, t.name, c.name);
                found_in.entry(i.to_string()).or_default().push(at.clone());
                looked_up_in.entry(i.to_string()).or_default().push(at);
            }
        }
    }
    let expansion = found_in
        .into_iter()
        .map(|(kind, found_in)| Expansion {
            looked_up_in: looked_up_in.get(&kind).cloned().unwrap_or_default(),
            kind,
            found_in,
        })
        .collect();

    Ok(Plan {
        kind,
        identities: identities.iter().map(Identity::key).collect(),
        scope: scope.clone(),
        datasets: plans,
        expansion,
    })
}

fn plan_dataset(policy: &Policy, ds: &Dataset, kind: RequestKind, scope: &Scope) -> DatasetPlan {
    let processor = processor_tables(ds);
    let in_scope = |t: &str| match scope {
        Scope::Controller => !processor.contains(t),
        Scope::Customer(_) => processor.contains(t),
    };
    let tables: Vec<String> = ds.tables.iter().filter(|t| in_scope(&t.name)).map(|t| t.name.clone()).collect();

    // Lookups: identity columns first, then references breadth-first from the tables reached.
    let mut lookups = Vec::new();
    let mut reached: Vec<&str> = Vec::new();
    for t in ds.tables.iter().filter(|t| in_scope(&t.name)) {
        for (c, i) in t.identity_columns() {
            let controller_column = match scope {
                Scope::Customer(_) => t.controller.clone(),
                Scope::Controller => None,
            };
            lookups.push(Lookup {
                table: t.name.clone(),
                via: Via::Identity {
                    column: c.name.clone(),
                    kind: i.to_string(),
                    case_insensitive: c.matching == IdentityMatch::CaseInsensitive,
                },
                controller_column,
            });
            if !reached.contains(&t.name.as_str()) {
                reached.push(&t.name);
            }
        }
    }
    let mut queue: Vec<&str> = reached.clone();
    let mut seen_edges: HashSet<(String, String, Vec<String>)> = HashSet::new();
    while let Some(from) = (!queue.is_empty()).then(|| queue.remove(0)) {
        for t in ds.tables.iter().filter(|t| in_scope(&t.name)) {
            for r in &t.references {
                let Some(target) = ds.table(&r.table) else { continue };
                if !in_scope(&target.name) {
                    continue;
                }
                // Forward: `t` references `from` (belongs_to or same_subject): t's rows follow.
                if r.table == from && r.link != Link::Mentions {
                    let key = (t.name.clone(), from.to_owned(), r.columns.clone());
                    if seen_edges.insert(key) {
                        lookups.push(Lookup {
                            table: t.name.clone(),
                            via: Via::Reference {
                                columns: r.columns.clone(),
                                from: from.to_owned(),
                                from_columns: r.target_columns(target).to_vec(),
                                link: r.link.as_str().to_owned(),
                                direction: "referencing".into(),
                            },
                            controller_column: None,
                        });
                        if !reached.contains(&t.name.as_str()) {
                            reached.push(&t.name);
                            queue.push(&t.name);
                        }
                    }
                }
                // Backward: `from` is `t` and the link is same_subject: the target's rows follow.
                if t.name == from && r.link == Link::SameSubject {
                    let key = (target.name.clone(), from.to_owned(), r.columns.clone());
                    if seen_edges.insert(key) {
                        lookups.push(Lookup {
                            table: target.name.clone(),
                            via: Via::Reference {
                                columns: r.target_columns(target).to_vec(),
                                from: from.to_owned(),
                                from_columns: r.columns.clone(),
                                link: r.link.as_str().to_owned(),
                                direction: "referenced".into(),
                            },
                            controller_column: None,
                        });
                        if !reached.contains(&target.name.as_str()) {
                            reached.push(&target.name);
                            queue.push(&target.name);
                        }
                    }
                }
            }
        }
    }

    // Mentions of the person's rows, in any table (the link must be cut wherever it is).
    let mut mentions = Vec::new();
    for t in &ds.tables {
        for r in t.references.iter().filter(|r| r.link == Link::Mentions) {
            let Some(target) = ds.table(&r.table) else { continue };
            if in_scope(&target.name) {
                mentions.push(MentionLookup {
                    table: t.name.clone(),
                    columns: r.columns.clone(),
                    of: target.name.clone(),
                    target: r.target_columns(target).to_vec(),
                    by_reference: false,
                });
            }
        }
    }

    // Referrals: processor tables people can be found in, when acting as the controller.
    let mut referred = Vec::new();
    if *scope == Scope::Controller {
        for t in ds.tables.iter().filter(|t| processor.contains(&t.name)) {
            let Some(controller_column) = &t.controller else { continue };
            let identity_columns: Vec<(String, String)> =
                t.identity_columns().map(|(c, i)| (c.name.clone(), i.to_string())).collect();
            if identity_columns.is_empty() {
                continue;
            }
            let mut controllers: Vec<String> =
                t.activities.iter().filter_map(|a| policy.activity(a)).filter_map(|a| a.controller.clone()).collect();
            controllers.dedup();
            referred.push(Referral {
                table: t.name.clone(),
                controller_column: controller_column.clone(),
                identity_columns,
                controllers,
            });
        }
    }

    let mut actions =
        if kind == RequestKind::Erasure { erasure_actions(policy, ds, &tables, &mentions) } else { Vec::new() };
    // Mentions in a table no other action touches are cut by reference.
    let acted: HashSet<String> =
        actions.iter().filter(|a| !matches!(a, Action::CutMentions { .. })).map(|a| a.table().to_owned()).collect();
    for a in &mut actions {
        if let Action::CutMentions { table, by_reference, .. } = a {
            *by_reference = !acted.contains(table.as_str());
        }
    }
    for m in &mut mentions {
        m.by_reference = actions.iter().any(|a| {
            matches!(a, Action::CutMentions { table, of, columns, by_reference: true } if m.is_cut_by(table, of, columns))
        });
    }

    DatasetPlan { id: ds.id.clone(), name: ds.name.clone(), lookups, mentions, actions, referred, tables }
}

fn erasure_actions(policy: &Policy, ds: &Dataset, tables: &[String], mentions: &[MentionLookup]) -> Vec<Action> {
    let mut actions = Vec::new();
    for m in mentions {
        let Some(t) = ds.table(&m.table) else { continue };
        let columns = strategies(t, m.columns.iter().cloned());
        if !columns.is_empty() {
            actions.push(Action::CutMentions {
                table: m.table.clone(),
                of: m.of.clone(),
                columns,
                by_reference: false,
            });
        }
    }
    let mut deleted = Vec::new();
    for t in ds.tables.iter().filter(|t| tables.contains(&t.name)) {
        match &t.erase {
            RowErasure::Update => {
                let columns = strategies(t, t.columns.iter().map(|c| c.name.clone()));
                let kept = t
                    .columns
                    .iter()
                    .filter_map(|c| match &c.erase {
                        Some(Strategy::Keep(h)) => {
                            Some(KeptColumn { column: c.name.clone(), hold: hold_ref(policy, h) })
                        }
                        _ => None,
                    })
                    .collect();
                actions.push(Action::Update { table: t.name.clone(), columns, kept });
            }
            RowErasure::Keep(h) => {
                let cut = strategies(t, t.references.iter().flat_map(|r| r.columns.iter().cloned()));
                actions.push(Action::Keep { table: t.name.clone(), hold: hold_ref(policy, h), cut });
            }
            RowErasure::Delete => deleted.push(t.name.as_str()),
        }
    }
    for t in delete_order(ds, &deleted) {
        actions.push(Action::Delete { table: t });
    }
    actions
}

impl Plan {
    /// SHA-256 (hex) of the plan's JSON: the same inputs give the same hash.
    pub fn hash(&self) -> String {
        self.hash_with(&self.identities)
    }

    /// The hash of this plan made for other identities (identity keys, as in `identities`):
    /// plans of the same kind and scope differ only in them (see [`check_identities`]), so a
    /// batch builds one plan per kind and scope and hashes it for each person.
    pub fn hash_with(&self, identities: &[String]) -> String {
        /// The plan's fields, in the plan's order, with other identities: the same JSON.
        #[derive(Serialize)]
        struct With<'a> {
            kind: RequestKind,
            identities: &'a [String],
            scope: &'a Scope,
            datasets: &'a [DatasetPlan],
            expansion: &'a [Expansion],
        }
        let with = With {
            kind: self.kind,
            identities,
            scope: &self.scope,
            datasets: &self.datasets,
            expansion: &self.expansion,
        };
        let json = serde_json::to_string(&with).unwrap_or_default();
        Sha256::digest(json.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn dataset(&self, id: &str) -> Option<&DatasetPlan> {
        self.datasets.iter().find(|d| d.id == id)
    }

    /// The plan as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The plan as readable, deterministic text (`covenant dsr plan`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Plan: {} for {}", self.kind, self.identities.join(", "));
        match &self.scope {
            Scope::Controller => {
                let _ = writeln!(
                    out,
                    "Scope: the data we control; data we process for customers is referred to them (promise T7)"
                );
            }
            Scope::Customer(c) => {
                let _ = writeln!(
                    out,
                    "Scope: the instruction of customer `{c}`: only that customer's rows, nothing else (promises O3, P7)"
                );
            }
        }
        for d in &self.datasets {
            let _ = writeln!(out, "\nDataset `{}` ({})", d.id, d.name);
            if d.lookups.is_empty() {
                let _ = writeln!(out, "  nothing in scope");
            } else {
                let _ = writeln!(out, "  Find the person's rows (repeated until nothing new is found):");
                for (i, l) in d.lookups.iter().enumerate() {
                    let filter = match &l.controller_column {
                        Some(c) => format!(", only rows whose `{c}` is the customer"),
                        None => String::new(),
                    };
                    let how = match &l.via {
                        Via::Identity { column, kind, case_insensitive } => {
                            let case = if *case_insensitive { ", ignoring letter case" } else { "" };
                            format!("{}.{column} holds one of the person's `{kind}` identities{case}", l.table)
                        }
                        Via::Reference { columns, from, from_columns, link, direction } => {
                            let arrow = if direction == "referencing" { "references" } else { "is referenced by" };
                            format!(
                                "{}.{} {arrow} the person's {from}.{} ({link})",
                                l.table,
                                columns.join("+"),
                                from_columns.join("+")
                            )
                        }
                    };
                    let _ = writeln!(out, "    {}. {how}{filter}", i + 1);
                }
            }
            if !d.mentions.is_empty() {
                let _ = writeln!(out, "  Rows that only mention the person (listed, not theirs):");
                for m in &d.mentions {
                    let how =
                        if m.by_reference { " (counted, not read: the erasure cuts them by reference)" } else { "" };
                    let _ = writeln!(
                        out,
                        "    - {}.{} mentions {}.{}{how}",
                        m.table,
                        m.columns.join("+"),
                        m.of,
                        m.target.join("+")
                    );
                }
            }
            if !d.referred.is_empty() {
                let _ = writeln!(out, "  Referred to the customer who controls them, not acted on (promise T7):");
                for r in &d.referred {
                    let ids = r.identity_columns.iter().map(|(c, k)| format!("{c} ({k})")).collect::<Vec<_>>();
                    let _ = writeln!(
                        out,
                        "    - {} by {}; the customer is named by `{}`",
                        r.table,
                        ids.join(", "),
                        r.controller_column
                    );
                    for c in &r.controllers {
                        let _ = writeln!(out, "      controller: {c}");
                    }
                }
            }
            if self.kind == RequestKind::Erasure {
                if d.actions.is_empty() {
                    let _ = writeln!(out, "  Erase: nothing in scope");
                } else {
                    let _ = writeln!(out, "  Erase, in this order, in one transaction:");
                    for (i, a) in d.actions.iter().enumerate() {
                        let _ = writeln!(out, "    {}. {}", i + 1, render_action(a));
                        match a {
                            Action::Update { kept, .. } => {
                                let mut holds: Vec<(&HoldRef, Vec<&str>)> = Vec::new();
                                for k in kept {
                                    match holds.iter_mut().find(|(h, _)| h.id == k.hold.id) {
                                        Some((_, cols)) => cols.push(&k.column),
                                        None => holds.push((&k.hold, vec![&k.column])),
                                    }
                                }
                                for (h, cols) in holds {
                                    let _ = writeln!(
                                        out,
                                        "       keep {} under legal hold `{}` ({}): {}; {}",
                                        cols.join(", "),
                                        h.id,
                                        h.name,
                                        h.basis,
                                        h.period
                                    );
                                }
                            }
                            Action::Keep { hold, .. } => {
                                let _ =
                                    writeln!(out, "       legal hold `{}`: {}; {}", hold.id, hold.basis, hold.period);
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        if !self.expansion.is_empty() {
            let _ = writeln!(out, "\nIdentities found in the person's rows are looked up everywhere:");
            for e in &self.expansion {
                let _ = writeln!(out, "  {}: found in {}", e.kind, e.found_in.join(", "));
                let _ = writeln!(out, "    looked up in {}", e.looked_up_in.join(", "));
            }
        }
        out
    }
}

fn render_strategies(columns: &[ColumnStrategy]) -> String {
    columns
        .iter()
        .map(|c| match &c.strategy {
            Strategy::Fixed(v) => format!("{} := {v:?}", c.column),
            s => format!("{} := {}", c.column, s.label()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_action(a: &Action) -> String {
    match a {
        Action::CutMentions { table, of, columns, by_reference: false } => {
            format!("cut mentions of {of} in {table}: {}", render_strategies(columns))
        }
        Action::CutMentions { table, of, columns, by_reference: true } => {
            format!(
                "cut mentions of {of} in {table}, in every row that references the person's {of}: {}",
                render_strategies(columns)
            )
        }
        Action::Update { table, columns, .. } => {
            if columns.is_empty() {
                format!("keep rows of {table}")
            } else {
                format!("update {table}: {}", render_strategies(columns))
            }
        }
        Action::Keep { table, hold, cut } => {
            if cut.is_empty() {
                format!("keep rows of {table} unchanged under legal hold `{}`", hold.id)
            } else {
                format!("keep rows of {table} under legal hold `{}`, cutting {}", hold.id, render_strategies(cut))
            }
        }
        Action::Delete { table } => format!("delete from {table}"),
    }
}

#[cfg(test)]
mod tests;
