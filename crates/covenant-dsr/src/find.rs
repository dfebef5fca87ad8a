//! Discovery: running a plan's lookups against the databases until nothing new is found, and
//! collecting the person's rows, the rows that mention them, and the customers' rows that are
//! referred to their controller.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use covenant_connectors::{Connector, Matching, Session, TableRef, Value};
use covenant_core::Identity;
use covenant_policy::dataset::{Dataset, IdentityMatch, Table};

use crate::error::DsrError;
use crate::plan::{DatasetPlan, Plan, Scope, Via};

/// A row's primary key, ordered so that rows come out in the same order every time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowKey(pub Vec<Value>);

impl Ord for RowKey {
    fn cmp(&self, other: &RowKey) -> Ordering {
        let a: Vec<_> = self.0.iter().map(Value::sort_key).collect();
        let b: Vec<_> = other.0.iter().map(Value::sort_key).collect();
        a.cmp(&b)
    }
}

impl PartialOrd for RowKey {
    fn partial_cmp(&self, other: &RowKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Rows of one table: the columns read, and each row's values in that order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: BTreeMap<RowKey, Vec<Value>>,
}

impl Rows {
    pub fn index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }

    /// A row's value of a column.
    pub fn get<'r>(&self, row: &'r [Value], column: &str) -> Option<&'r Value> {
        self.index(column).and_then(|i| row.get(i))
    }
}

/// Rows of `table` that mention the person's rows of `of`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mentions {
    pub table: String,
    pub of: String,
    pub columns: Vec<String>,
    pub rows: Rows,
}

/// Customers' rows about the person, referred to the customer (promise T7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referred {
    pub dataset: String,
    pub table: String,
    pub controller_column: String,
    /// The customer (the controller column's value) and how many of its rows were found.
    pub customers: BTreeMap<String, u64>,
    pub controllers: Vec<String>,
}

/// What was found in one dataset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FoundDataset {
    pub id: String,
    /// The person's rows, per table (tables in scope only).
    pub tables: BTreeMap<String, Rows>,
    pub mentions: Vec<Mentions>,
}

impl FoundDataset {
    pub fn row_count(&self) -> usize {
        self.tables.values().map(|r| r.rows.len()).sum()
    }
}

/// Everything found about a person.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    /// Every identity known at the end: the request's and those found in the person's rows.
    pub identities: BTreeSet<Identity>,
    pub datasets: Vec<FoundDataset>,
    pub referred: Vec<Referred>,
}

impl Found {
    pub fn row_count(&self) -> usize {
        self.datasets.iter().map(FoundDataset::row_count).sum()
    }

    pub fn dataset(&self, id: &str) -> Option<&FoundDataset> {
        self.datasets.iter().find(|d| d.id == id)
    }
}

/// The columns read from each table: its key, its annotated columns, its controller column,
/// the columns of its references and the columns other tables' references point at.
pub fn read_columns(ds: &Dataset, t: &Table) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    let mut add = |c: &str| {
        if !cols.iter().any(|x| x == c) {
            cols.push(c.to_owned());
        }
    };
    for k in &t.primary_key {
        add(k);
    }
    for c in &t.columns {
        add(&c.name);
    }
    if let Some(c) = &t.controller {
        add(c);
    }
    for r in &t.references {
        for c in &r.columns {
            add(c);
        }
    }
    for other in &ds.tables {
        for r in other.references.iter().filter(|r| r.table == t.name) {
            for c in r.target_columns(t) {
                add(c);
            }
        }
    }
    cols
}

fn table_ref(t: &Table) -> TableRef {
    TableRef::new(t.schema.as_deref(), &t.name)
}

/// How the lookups by an identity column compare it with the person's identities: as its
/// annotation says (a stored `Ada@Example.COM` is the person `ada@example.com` only when
/// `match = "case_insensitive"`; promises P6, W6: complete access and erasure).
fn matching(t: &Table, column: &str) -> Matching {
    match t.column(column).map(|c| c.matching) {
        Some(IdentityMatch::CaseInsensitive) => Matching::CaseInsensitive,
        Some(IdentityMatch::Exact) | None => Matching::Exact,
    }
}

/// One dataset with its annotations, plan and connector.
pub struct Source<'a> {
    pub dataset: &'a Dataset,
    pub plan: &'a DatasetPlan,
    pub connector: &'a Connector,
}

fn key_of(rows: &Rows, t: &Table, row: &[Value]) -> RowKey {
    RowKey(t.primary_key.iter().map(|k| rows.get(row, k).cloned().unwrap_or(Value::Null)).collect())
}

/// Adds rows to a table's set; returns the keys that were new.
fn add_rows(rows: &mut Rows, t: &Table, fetched: Vec<Vec<Value>>) -> Vec<RowKey> {
    let mut new = Vec::new();
    for r in fetched {
        let k = key_of(rows, t, &r);
        if !rows.rows.contains_key(&k) {
            rows.rows.insert(k.clone(), r);
            new.push(k);
        }
    }
    new
}

/// A dataset's discovery: what was found, the lookups already made, and its connection.
struct Search<'a, 'c> {
    source: &'a Source<'c>,
    found: FoundDataset,
    /// (table, column, identity key) already asked.
    asked: HashSet<(String, String, String)>,
    /// Row keys already followed, per reference lookup.
    followed: HashMap<usize, BTreeSet<RowKey>>,
    /// One connection for the whole discovery, taken when first needed: the lookups run one
    /// after the other on it, with its prepared statements.
    session: Option<Session<'c>>,
}

/// The session of a dataset, opened on first use.
async fn session<'s, 'c>(
    slot: &'s mut Option<Session<'c>>,
    source: &Source<'c>,
) -> Result<&'s mut Session<'c>, DsrError> {
    if slot.is_none() {
        *slot = Some(source.connector.session().await.map_err(DsrError::db(&source.dataset.id))?);
    }
    slot.as_mut().ok_or_else(|| DsrError::Internal("a dataset's connection was lost".into()))
}

/// Runs the plan's lookups to a fixpoint across all datasets: in each round, every dataset
/// looks up the identities known so far (the datasets at the same time, each on its own
/// connection), then the identities in the rows found start the next round.
pub async fn discover(plan: &Plan, sources: &[Source<'_>], identities: &[Identity]) -> Result<Found, DsrError> {
    let customer = match &plan.scope {
        Scope::Customer(c) => Some(c.as_str()),
        Scope::Controller => None,
    };
    let mut known: BTreeSet<Identity> = identities.iter().cloned().collect();
    let mut searches: Vec<Search<'_, '_>> = sources
        .iter()
        .map(|s| Search {
            source: s,
            found: FoundDataset {
                id: s.dataset.id.clone(),
                tables: s
                    .plan
                    .tables
                    .iter()
                    .filter_map(|t| s.dataset.table(t))
                    .map(|t| (t.name.clone(), Rows { columns: read_columns(s.dataset, t), rows: BTreeMap::new() }))
                    .collect(),
                mentions: Vec::new(),
            },
            asked: HashSet::new(),
            followed: HashMap::new(),
            session: None,
        })
        .collect();

    loop {
        let rounds = searches.iter_mut().map(|search| search.round(&known, customer));
        for r in futures_util::future::join_all(rounds).await {
            r?;
        }
        // Identities in the rows found, for the next round.
        let mut new_ids = Vec::new();
        for search in &searches {
            let ds = search.source.dataset;
            for (name, rows) in &search.found.tables {
                let Some(t) = ds.table(name) else { continue };
                for (c, kind) in t.identity_columns() {
                    let Some(i) = rows.index(&c.name) else { continue };
                    for row in rows.rows.values() {
                        let Some(text) = row.get(i).and_then(Value::as_text) else { continue };
                        if let Ok(id) = kind.identity(&text)
                            && !known.contains(&id)
                        {
                            new_ids.push(id);
                        }
                    }
                }
            }
        }
        if new_ids.is_empty() {
            break;
        }
        known.extend(new_ids);
    }

    // Mentions of the person's rows, and customers' data about the person (referred to the
    // customer), the datasets at the same time.
    let known = &known;
    let ends = searches.iter_mut().map(|search| async move {
        search.mentions().await?;
        search.referred(known).await
    });
    let mut referred = Vec::new();
    for r in futures_util::future::join_all(ends).await {
        referred.extend(r?);
    }
    let datasets = searches.into_iter().map(|s| s.found).collect();
    Ok(Found { identities: known.clone(), datasets, referred })
}

impl Search<'_, '_> {
    /// One round: lookups by the known identities, then references until nothing new is found.
    async fn round(&mut self, known: &BTreeSet<Identity>, customer: Option<&str>) -> Result<(), DsrError> {
        let s = self.source;
        let f = &mut self.found;
        // Identity lookups, run together.
        let mut jobs = Vec::new();
        for l in &s.plan.lookups {
            let Via::Identity { column, kind, .. } = &l.via else { continue };
            let Some(t) = s.dataset.table(&l.table) else { continue };
            let values: Vec<Value> = known
                .iter()
                .filter(|i| &i.kind_name() == kind)
                .filter(|i| self.asked.insert((t.name.clone(), column.clone(), i.key())))
                .map(|i| Value::Text(i.value().to_owned()))
                .collect();
            let Some(rows) = f.tables.get(&t.name) else { continue };
            if !values.is_empty() {
                jobs.push((l, t, table_ref(t), rows.columns.clone(), column, values));
            }
        }
        for (l, t, tr, cols, column, values) in &jobs {
            let mut fetched = session(&mut self.session, s)
                .await?
                .fetch_matching(tr, cols, column, matching(t, column), values)
                .await
                .map_err(DsrError::db(&s.dataset.id))?;
            let Some(rows) = f.tables.get_mut(&t.name) else { continue };
            if let (Some(c), Some(col)) = (customer, &l.controller_column) {
                let i = rows.index(col);
                fetched.retain(|r| i.and_then(|i| r.get(i)).and_then(Value::as_text).as_deref() == Some(c));
            }
            add_rows(rows, t, fetched);
        }
        // References, until nothing new is found in this dataset; each pass runs together.
        loop {
            let mut jobs = Vec::new();
            for (li, l) in s.plan.lookups.iter().enumerate() {
                let Via::Reference { columns, from, from_columns, .. } = &l.via else { continue };
                let (Some(t), Some(src)) = (s.dataset.table(&l.table), f.tables.get(from)) else { continue };
                let done = self.followed.entry(li).or_default();
                let mut values: Vec<Vec<Value>> = Vec::new();
                for (k, row) in &src.rows {
                    if done.insert(k.clone()) {
                        let v: Vec<Value> =
                            from_columns.iter().map(|c| src.get(row, c).cloned().unwrap_or(Value::Null)).collect();
                        if !v.iter().any(Value::is_null) {
                            values.push(v);
                        }
                    }
                }
                let Some(rows) = f.tables.get(&t.name) else { continue };
                if !values.is_empty() {
                    jobs.push((t, table_ref(t), rows.columns.clone(), columns, values));
                }
            }
            if jobs.is_empty() {
                return Ok(());
            }
            for (t, tr, cols, columns, values) in &jobs {
                let fetched = session(&mut self.session, s)
                    .await?
                    .fetch(tr, cols, columns, values)
                    .await
                    .map_err(DsrError::db(&s.dataset.id))?;
                if let Some(rows) = f.tables.get_mut(&t.name) {
                    add_rows(rows, t, fetched);
                }
            }
        }
    }

    /// The rows that mention the person's rows.
    async fn mentions(&mut self) -> Result<(), DsrError> {
        let s = self.source;
        for m in &s.plan.mentions {
            let (Some(t), Some(of)) = (s.dataset.table(&m.table), self.found.tables.get(&m.of)) else { continue };
            let values: Vec<Vec<Value>> = of
                .rows
                .values()
                .map(|row| m.target.iter().map(|c| of.get(row, c).cloned().unwrap_or(Value::Null)).collect::<Vec<_>>())
                .filter(|v| !v.iter().any(Value::is_null))
                .collect();
            if values.is_empty() {
                continue;
            }
            let mut columns: Vec<String> = t.primary_key.clone();
            for c in &m.columns {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
            let fetched = session(&mut self.session, s)
                .await?
                .fetch(&table_ref(t), &columns, &m.columns, &values)
                .await
                .map_err(DsrError::db(&s.dataset.id))?;
            let mut rows = Rows { columns, rows: BTreeMap::new() };
            add_rows(&mut rows, t, fetched);
            self.found.mentions.push(Mentions {
                table: m.table.clone(),
                of: m.of.clone(),
                columns: m.columns.clone(),
                rows,
            });
        }
        Ok(())
    }

    /// Customers' rows about the person, referred to the customer.
    async fn referred(&mut self, known: &BTreeSet<Identity>) -> Result<Vec<Referred>, DsrError> {
        let s = self.source;
        let mut referred = Vec::new();
        for r in &s.plan.referred {
            let Some(t) = s.dataset.table(&r.table) else { continue };
            let mut columns = t.primary_key.clone();
            if !columns.contains(&r.controller_column) {
                columns.push(r.controller_column.clone());
            }
            let mut rows = Rows { columns, rows: BTreeMap::new() };
            for (column, kind) in &r.identity_columns {
                let values: Vec<Value> = known
                    .iter()
                    .filter(|i| &i.kind_name() == kind)
                    .map(|i| Value::Text(i.value().to_owned()))
                    .collect();
                if values.is_empty() {
                    continue;
                }
                let fetched = session(&mut self.session, s)
                    .await?
                    .fetch_matching(&table_ref(t), &rows.columns, column, matching(t, column), &values)
                    .await
                    .map_err(DsrError::db(&s.dataset.id))?;
                add_rows(&mut rows, t, fetched);
            }
            if rows.rows.is_empty() {
                continue;
            }
            let mut customers: BTreeMap<String, u64> = BTreeMap::new();
            for row in rows.rows.values() {
                let c = rows.get(row, &r.controller_column).and_then(Value::as_text).unwrap_or_default();
                *customers.entry(c).or_default() += 1;
            }
            referred.push(Referred {
                dataset: s.dataset.id.clone(),
                table: r.table.clone(),
                controller_column: r.controller_column.clone(),
                customers,
                controllers: r.controllers.clone(),
            });
        }
        Ok(referred)
    }
}
