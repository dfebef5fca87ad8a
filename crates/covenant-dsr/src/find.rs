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
        Value::sort_cmp_keys(&self.0, &other.0)
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

    /// Each row's values of `columns` (the key a reference to these rows holds), rows with a
    /// null among them left out.
    pub fn values_of(&self, columns: &[String]) -> Vec<Vec<Value>> {
        self.rows
            .values()
            .map(|row| columns.iter().map(|c| self.get(row, c).cloned().unwrap_or(Value::Null)).collect::<Vec<_>>())
            .filter(|v| !v.iter().any(Value::is_null))
            .collect()
    }
}

/// Rows of `table` that mention the person's rows of `of`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mentions {
    pub table: String,
    pub of: String,
    pub columns: Vec<String>,
    /// The rows read (their keys and `columns`); none when they are only counted.
    pub rows: Rows,
    /// For mentions an erasure cuts by reference (`MentionLookup::by_reference`): how many
    /// rows mention the person, counted instead of read.
    pub counted: Option<u64>,
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

/// The columns read from each table: its key, its annotated columns (when `values` is false,
/// its identity columns only, which find the person elsewhere), its controller column, the
/// columns of its references and the columns other tables' references point at. An erasure
/// reads no more of the rows it deletes whole.
pub fn read_columns(ds: &Dataset, t: &Table, values: bool) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    let mut add = |c: &str| {
        if !cols.iter().any(|x| x == c) {
            cols.push(c.to_owned());
        }
    };
    for k in &t.primary_key {
        add(k);
    }
    for c in t.columns.iter().filter(|c| values || c.identity.is_some()) {
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

/// Where the rows of a lookup go.
#[derive(Clone, Debug)]
enum Target {
    /// The person's rows of `table`; for a customer's instruction, only those whose
    /// `controller` column holds the customer.
    Table { table: String, controller: Option<String> },
    /// The rows mentioning the person's rows, for the plan's mention lookup of this index.
    Mention(usize),
    /// Customers' rows about the person, for the plan's referral of this index.
    Referred(usize),
}

/// One lookup: the `select` columns of the rows of `table` whose `by` columns equal one of
/// `keys` (compared by `matching` when there is one `by` column).
#[derive(Clone, Debug)]
struct Ask {
    table: TableRef,
    select: Vec<String>,
    by: Vec<String>,
    matching: Matching,
    keys: Vec<Vec<Value>>,
    into: Target,
    /// The rows are counted per key instead of read: each row found is the `by` values (also
    /// the `select` columns) and then the count.
    count: bool,
}

impl Ask {
    /// Lookups of the same shape differ only by their keys: they can be asked as one.
    fn shape(&self) -> (String, &[String], &[String], Matching, bool) {
        (self.table.to_string(), &self.select, &self.by, self.matching, self.count)
    }
}

/// The text a key is told apart by when one statement answers several people's lookups:
/// the values as text (as PostgreSQL compares bound values), lower-cased when the lookup
/// ignores letter case.
fn key_text(values: &[&Value], matching: Matching) -> String {
    values
        .iter()
        .map(|v| {
            let t = v.as_text().unwrap_or_default();
            match matching {
                Matching::CaseInsensitive => t.to_lowercase(),
                Matching::Exact => t,
            }
        })
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// A looser form of a key: letter case, surrounding spaces and the way a number is written
/// ignored. Two different keys of one statement with the same loose form might be the same
/// value to the database (a case-insensitive column, `5` and `5.0`), which rows could not
/// tell apart: such lookups are asked one by one.
fn loose_text(values: &[&Value]) -> String {
    values
        .iter()
        .map(|v| {
            let t = v.as_text().unwrap_or_default();
            let t = t.trim();
            match t.parse::<f64>() {
                Ok(f) if f.is_finite() => format!("#{f}"),
                _ => t.to_lowercase(),
            }
        })
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// A person's discovery in one dataset: what was found, the lookups already made.
struct Search<'a, 'c> {
    source: &'a Source<'c>,
    found: FoundDataset,
    /// (table, column, identity key) already asked.
    asked: HashSet<(String, String, String)>,
    /// Row keys already followed, per reference lookup.
    followed: HashMap<usize, BTreeSet<RowKey>>,
    /// Customers' rows about the person found so far, per referral.
    referred: BTreeMap<usize, Rows>,
}

impl<'a, 'c> Search<'a, 'c> {
    fn new(source: &'a Source<'c>) -> Search<'a, 'c> {
        let s = source;
        Search {
            source,
            found: FoundDataset {
                id: s.dataset.id.clone(),
                tables: s
                    .plan
                    .tables
                    .iter()
                    .filter_map(|t| s.dataset.table(t))
                    .map(|t| {
                        let values = !s.plan.deletes(&t.name);
                        (t.name.clone(), Rows { columns: read_columns(s.dataset, t, values), rows: BTreeMap::new() })
                    })
                    .collect(),
                mentions: Vec::new(),
            },
            asked: HashSet::new(),
            followed: HashMap::new(),
            referred: BTreeMap::new(),
        }
    }

    /// The lookups by the identities known and not yet asked.
    fn identity_asks(&mut self, known: &BTreeSet<Identity>) -> Vec<Ask> {
        let s = self.source;
        let mut asks = Vec::new();
        for l in &s.plan.lookups {
            let Via::Identity { column, kind, .. } = &l.via else { continue };
            let Some(t) = s.dataset.table(&l.table) else { continue };
            let keys: Vec<Vec<Value>> = known
                .iter()
                .filter(|i| &i.kind_name() == kind)
                .filter(|i| self.asked.insert((t.name.clone(), column.clone(), i.key())))
                .map(|i| vec![Value::Text(i.value().to_owned())])
                .collect();
            let Some(rows) = self.found.tables.get(&t.name) else { continue };
            if !keys.is_empty() {
                asks.push(Ask {
                    table: table_ref(t),
                    select: rows.columns.clone(),
                    by: vec![column.clone()],
                    matching: matching(t, column),
                    keys,
                    into: Target::Table { table: t.name.clone(), controller: l.controller_column.clone() },
                    count: false,
                });
            }
        }
        asks
    }

    /// The lookups by the references of rows found and not yet followed.
    fn reference_asks(&mut self) -> Vec<Ask> {
        let s = self.source;
        let f = &self.found;
        let mut asks = Vec::new();
        for (li, l) in s.plan.lookups.iter().enumerate() {
            let Via::Reference { columns, from, from_columns, .. } = &l.via else { continue };
            let (Some(t), Some(src)) = (s.dataset.table(&l.table), f.tables.get(from)) else { continue };
            let done = self.followed.entry(li).or_default();
            let mut keys: Vec<Vec<Value>> = Vec::new();
            for (k, row) in &src.rows {
                if done.insert(k.clone()) {
                    let v: Vec<Value> =
                        from_columns.iter().map(|c| src.get(row, c).cloned().unwrap_or(Value::Null)).collect();
                    if !v.iter().any(Value::is_null) {
                        keys.push(v);
                    }
                }
            }
            let Some(rows) = f.tables.get(&t.name) else { continue };
            if !keys.is_empty() {
                asks.push(Ask {
                    table: table_ref(t),
                    select: rows.columns.clone(),
                    by: columns.clone(),
                    matching: Matching::Exact,
                    keys,
                    into: Target::Table { table: t.name.clone(), controller: None },
                    count: false,
                });
            }
        }
        asks
    }

    /// The lookups of the rows that mention the person's rows.
    fn mention_asks(&self) -> Vec<Ask> {
        let s = self.source;
        let mut asks = Vec::new();
        for (mi, m) in s.plan.mentions.iter().enumerate() {
            let (Some(t), Some(of)) = (s.dataset.table(&m.table), self.found.tables.get(&m.of)) else { continue };
            let keys = of.values_of(&m.target);
            if keys.is_empty() {
                continue;
            }
            // Counted by reference: the reference's columns and a count; else each row's key
            // and reference.
            let mut select: Vec<String> = if m.by_reference { Vec::new() } else { t.primary_key.clone() };
            for c in &m.columns {
                if !select.contains(c) {
                    select.push(c.clone());
                }
            }
            asks.push(Ask {
                table: table_ref(t),
                select,
                by: m.columns.clone(),
                matching: Matching::Exact,
                keys,
                into: Target::Mention(mi),
                count: m.by_reference,
            });
        }
        asks
    }

    /// The lookups of customers' rows about the person, by every identity known.
    fn referred_asks(&self, known: &BTreeSet<Identity>) -> Vec<Ask> {
        let s = self.source;
        let mut asks = Vec::new();
        for (ri, r) in s.plan.referred.iter().enumerate() {
            let Some(t) = s.dataset.table(&r.table) else { continue };
            // The key, the customer, and the identity columns (which tell apart the rows of
            // several people looked up together).
            let mut select = t.primary_key.clone();
            for c in std::iter::once(&r.controller_column).chain(r.identity_columns.iter().map(|(c, _)| c)) {
                if !select.contains(c) {
                    select.push(c.clone());
                }
            }
            for (column, kind) in &r.identity_columns {
                let keys: Vec<Vec<Value>> = known
                    .iter()
                    .filter(|i| &i.kind_name() == kind)
                    .map(|i| vec![Value::Text(i.value().to_owned())])
                    .collect();
                if keys.is_empty() {
                    continue;
                }
                asks.push(Ask {
                    table: table_ref(t),
                    select: select.clone(),
                    by: vec![column.clone()],
                    matching: matching(t, column),
                    keys,
                    into: Target::Referred(ri),
                    count: false,
                });
            }
        }
        asks
    }

    /// Takes the rows a lookup found.
    fn take(&mut self, ask: &Ask, mut fetched: Vec<Vec<Value>>, customer: Option<&str>) {
        let s = self.source;
        let Some(t) = s.dataset.table(&ask.table.name) else { return };
        match &ask.into {
            Target::Table { table, controller } => {
                let Some(rows) = self.found.tables.get_mut(table) else { return };
                if let (Some(c), Some(col)) = (customer, controller) {
                    let i = rows.index(col);
                    fetched.retain(|r| i.and_then(|i| r.get(i)).and_then(Value::as_text).as_deref() == Some(c));
                }
                add_rows(rows, t, fetched);
            }
            Target::Mention(mi) => {
                let Some(m) = s.plan.mentions.get(*mi) else { return };
                let mut rows = Rows { columns: ask.select.clone(), rows: BTreeMap::new() };
                let counted = if ask.count {
                    let n = ask.select.len();
                    let count = |r: &Vec<Value>| r.get(n).and_then(Value::as_text).and_then(|c| c.parse::<u64>().ok());
                    Some(fetched.iter().filter_map(count).sum())
                } else {
                    add_rows(&mut rows, t, fetched);
                    None
                };
                self.found.mentions.push(Mentions {
                    table: m.table.clone(),
                    of: m.of.clone(),
                    columns: m.columns.clone(),
                    rows,
                    counted,
                });
            }
            Target::Referred(ri) => {
                let rows = self
                    .referred
                    .entry(*ri)
                    .or_insert_with(|| Rows { columns: ask.select.clone(), rows: BTreeMap::new() });
                add_rows(rows, t, fetched);
            }
        }
    }

    /// The customers' rows found, per referral, in the plan's order.
    fn referrals(&self) -> Vec<Referred> {
        let s = self.source;
        let mut out = Vec::new();
        for (ri, r) in s.plan.referred.iter().enumerate() {
            let Some(rows) = self.referred.get(&ri).filter(|rows| !rows.rows.is_empty()) else { continue };
            let mut customers: BTreeMap<String, u64> = BTreeMap::new();
            for row in rows.rows.values() {
                let c = rows.get(row, &r.controller_column).and_then(Value::as_text).unwrap_or_default();
                *customers.entry(c).or_default() += 1;
            }
            out.push(Referred {
                dataset: s.dataset.id.clone(),
                table: r.table.clone(),
                controller_column: r.controller_column.clone(),
                customers,
                controllers: r.controllers.clone(),
            });
        }
        out
    }

    /// The identities in the person's rows that are not known yet.
    fn new_identities(&self, known: &BTreeSet<Identity>, out: &mut BTreeSet<Identity>) {
        let ds = self.source.dataset;
        for (name, rows) in &self.found.tables {
            let Some(t) = ds.table(name) else { continue };
            for (c, kind) in t.identity_columns() {
                let Some(i) = rows.index(&c.name) else { continue };
                for row in rows.rows.values() {
                    let Some(text) = row.get(i).and_then(Value::as_text) else { continue };
                    if let Ok(id) = kind.identity(&text)
                        && !known.contains(&id)
                    {
                        out.insert(id);
                    }
                }
            }
        }
    }
}

/// The discovery of several people in one dataset, on one connection.
struct Lookups<'a, 'c> {
    source: &'a Source<'c>,
    /// One connection for the whole discovery, taken when first needed: the lookups run one
    /// after the other on it, with its prepared statements.
    session: Option<Session<'c>>,
    people: Vec<Search<'a, 'c>>,
}

impl<'c> Lookups<'_, 'c> {
    async fn session(&mut self) -> Result<&mut Session<'c>, DsrError> {
        if self.session.is_none() {
            let s = self.source;
            self.session = Some(s.connector.session().await.map_err(DsrError::db(&s.dataset.id))?);
        }
        self.session.as_mut().ok_or_else(|| DsrError::Internal("a dataset's connection was lost".into()))
    }

    async fn fetch(&mut self, ask: &Ask, keys: &[Vec<Value>]) -> Result<Vec<Vec<Value>>, DsrError> {
        let id = &self.source.dataset.id;
        let session = self.session().await?;
        let fetched = match ask.by.as_slice() {
            _ if ask.count => session.count_by(&ask.table, &ask.by, keys).await,
            [column] => {
                let values: Vec<Value> = keys.iter().filter_map(|k| k.first().cloned()).collect();
                session.fetch_matching(&ask.table, &ask.select, column, ask.matching, &values).await
            }
            _ => session.fetch(&ask.table, &ask.select, &ask.by, keys).await,
        };
        fetched.map_err(DsrError::db(id))
    }

    /// Runs lookups of several people (`(person, lookup)`) and gives each person the rows of
    /// its lookups. Lookups of the same shape are asked as one statement with every person's
    /// keys, and each row returned goes to the people whose keys it holds; when rows could not
    /// be told apart that way, those lookups are asked one by one. Returns each lookup with
    /// its rows, in the order given.
    async fn run(&mut self, asks: Vec<(usize, Ask)>) -> Result<Vec<(usize, Ask, Vec<Vec<Value>>)>, DsrError> {
        if self.people.len() == 1 {
            // One person: each lookup as it is.
            let mut out = Vec::with_capacity(asks.len());
            for (p, ask) in asks {
                let rows = self.fetch(&ask, &ask.keys).await?;
                out.push((p, ask, rows));
            }
            return Ok(out);
        }
        let mut groups: Vec<Vec<usize>> = Vec::new();
        {
            let mut index: HashMap<_, usize> = HashMap::new();
            for (i, (_, a)) in asks.iter().enumerate() {
                let g = *index.entry(a.shape()).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[g].push(i);
            }
        }
        let mut results: Vec<Vec<Vec<Value>>> = asks.iter().map(|_| Vec::new()).collect();
        for g in groups {
            let shared = if g.len() > 1 { self.fetch_shared(&asks, &g).await? } else { None };
            match shared {
                Some(per) => {
                    for (i, rows) in g.iter().zip(per) {
                        results[*i] = rows;
                    }
                }
                None => {
                    for i in g {
                        let (_, ask) = &asks[i];
                        results[i] = self.fetch(ask, &ask.keys).await?;
                    }
                }
            }
        }
        Ok(asks.into_iter().zip(results).map(|((p, a), r)| (p, a, r)).collect())
    }

    /// Lookups of one shape (`group`, indexes into `asks`) asked as one statement: each
    /// lookup's rows, or `None` when the rows cannot be told apart by their keys.
    async fn fetch_shared(
        &mut self,
        asks: &[(usize, Ask)],
        group: &[usize],
    ) -> Result<Option<Vec<Vec<Vec<Value>>>>, DsrError> {
        let (_, first) = &asks[group[0]];
        let Some(at) = first.by.iter().map(|c| first.select.iter().position(|s| s == c)).collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        let matching = if first.by.len() == 1 { first.matching } else { Matching::Exact };
        // Every key once, and the lookups (positions in `group`) that hold it.
        let mut keys: Vec<Vec<Value>> = Vec::new();
        let mut owners: HashMap<String, Vec<usize>> = HashMap::new();
        let mut loose: HashMap<String, String> = HashMap::new();
        for (gi, i) in group.iter().enumerate() {
            for k in &asks[*i].1.keys {
                if k.iter().any(Value::is_null) {
                    continue;
                }
                let refs: Vec<&Value> = k.iter().collect();
                let text = key_text(&refs, matching);
                let l = loose_text(&refs);
                match loose.get(&l) {
                    Some(seen) if *seen != text => return Ok(None),
                    Some(_) => {}
                    None => {
                        loose.insert(l, text.clone());
                    }
                }
                let o = owners.entry(text).or_default();
                if o.is_empty() {
                    keys.push(k.clone());
                }
                if o.last() != Some(&gi) {
                    o.push(gi);
                }
            }
        }
        let fetched = self.fetch(first, &keys).await?;
        let mut per: Vec<Vec<Vec<Value>>> = group.iter().map(|_| Vec::new()).collect();
        for row in fetched {
            let refs: Vec<&Value> = at.iter().filter_map(|i| row.get(*i)).collect();
            if refs.len() != at.len() {
                return Ok(None);
            }
            let Some(o) = owners.get(&key_text(&refs, matching)) else { return Ok(None) };
            for gi in o {
                per[*gi].push(row.clone());
            }
        }
        Ok(Some(per))
    }

    /// Runs every person's lookups and gives them their rows.
    async fn ask_all(&mut self, asks: Vec<(usize, Ask)>, customer: Option<&str>) -> Result<(), DsrError> {
        for (p, ask, rows) in self.run(asks).await? {
            self.people[p].take(&ask, rows, customer);
        }
        Ok(())
    }

    /// One round for the people still searching: lookups by their known identities, then
    /// references until nothing new is found.
    async fn round(
        &mut self,
        known: &[BTreeSet<Identity>],
        active: &[bool],
        customer: Option<&str>,
    ) -> Result<(), DsrError> {
        let mut asks = Vec::new();
        for (p, search) in self.people.iter_mut().enumerate() {
            if active[p] {
                asks.extend(search.identity_asks(&known[p]).into_iter().map(|a| (p, a)));
            }
        }
        self.ask_all(asks, customer).await?;
        loop {
            let mut asks = Vec::new();
            for (p, search) in self.people.iter_mut().enumerate() {
                if active[p] {
                    asks.extend(search.reference_asks().into_iter().map(|a| (p, a)));
                }
            }
            if asks.is_empty() {
                return Ok(());
            }
            self.ask_all(asks, customer).await?;
        }
    }

    /// The rows mentioning each person's rows, then the customers' rows about them.
    async fn ends(&mut self, known: &[BTreeSet<Identity>]) -> Result<(), DsrError> {
        let asks: Vec<(usize, Ask)> = self
            .people
            .iter()
            .enumerate()
            .flat_map(|(p, s)| s.mention_asks().into_iter().map(move |a| (p, a)))
            .collect();
        self.ask_all(asks, None).await?;
        let asks: Vec<(usize, Ask)> = self
            .people
            .iter()
            .enumerate()
            .flat_map(|(p, s)| s.referred_asks(&known[p]).into_iter().map(move |a| (p, a)))
            .collect();
        self.ask_all(asks, None).await
    }
}

/// Runs the plan's lookups to a fixpoint across all datasets: in each round, every dataset
/// looks up the identities known so far (the datasets at the same time, each on its own
/// connection), then the identities in the rows found start the next round.
pub async fn discover(plan: &Plan, sources: &[Source<'_>], identities: &[Identity]) -> Result<Found, DsrError> {
    let mut all = discover_many(plan, sources, &[identities.to_vec()]).await?;
    all.pop().ok_or_else(|| DsrError::Internal("discovery lost its person".into()))
}

/// [`discover`] for several people at once, one [`Found`] per person in order, each the same
/// as its own discovery would find. The people advance round by round together; in each step
/// a dataset's lookups of the same shape are asked as one statement holding every person's
/// keys, whose rows go to the people whose keys they hold. A chunk of a hundred people costs
/// about as many statements as one person.
pub async fn discover_many(
    plan: &Plan,
    sources: &[Source<'_>],
    people: &[Vec<Identity>],
) -> Result<Vec<Found>, DsrError> {
    let customer = match &plan.scope {
        Scope::Customer(c) => Some(c.as_str()),
        Scope::Controller => None,
    };
    let mut known: Vec<BTreeSet<Identity>> = people.iter().map(|ids| ids.iter().cloned().collect()).collect();
    let mut active: Vec<bool> = people.iter().map(|_| true).collect();
    let mut datasets: Vec<Lookups<'_, '_>> = sources
        .iter()
        .map(|s| Lookups { source: s, session: None, people: people.iter().map(|_| Search::new(s)).collect() })
        .collect();

    while active.iter().any(|a| *a) {
        let rounds = datasets.iter_mut().map(|d| d.round(&known, &active, customer));
        for r in futures_util::future::join_all(rounds).await {
            r?;
        }
        // Identities in the rows found, for the next round.
        for (p, k) in known.iter_mut().enumerate() {
            if !active[p] {
                continue;
            }
            let mut new_ids = BTreeSet::new();
            for d in &datasets {
                d.people[p].new_identities(k, &mut new_ids);
            }
            if new_ids.is_empty() {
                active[p] = false;
            } else {
                k.extend(new_ids);
            }
        }
    }

    // Mentions of the person's rows, and customers' data about the person (referred to the
    // customer), the datasets at the same time.
    let ends = datasets.iter_mut().map(|d| d.ends(&known));
    for r in futures_util::future::join_all(ends).await {
        r?;
    }
    let mut found: Vec<Found> =
        known.into_iter().map(|identities| Found { identities, datasets: Vec::new(), referred: Vec::new() }).collect();
    for d in datasets {
        for (f, search) in found.iter_mut().zip(d.people) {
            f.referred.extend(search.referrals());
            f.datasets.push(search.found);
        }
    }
    Ok(found)
}
