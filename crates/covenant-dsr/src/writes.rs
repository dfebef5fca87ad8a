//! The write sets of erasure and rectification, computed in full before anything is written:
//! every new value (hashes, pseudonyms, truncations) is known and journaled first, so that a
//! resumed run writes exactly what the interrupted one would have.

use std::collections::BTreeMap;

use covenant_connectors::{TableRef, Value, WriteOp};
use covenant_core::{CategoryKey, Identity};
use covenant_policy::dataset::{Dataset, Strategy, Table, Truncation};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::DsrError;
use crate::find::{FoundDataset, RowKey, Rows};
use crate::plan::{Action, ColumnStrategy, DatasetPlan, MentionLookup};

type HmacSha256 = Hmac<Sha256>;

/// The secrets the strategies use.
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    /// The tenant's pseudonym key (HMAC-SHA-256), if configured.
    pub pseudonym: Option<&'a [u8; 32]>,
    /// This request's hash salt.
    pub salt: Option<&'a [u8; 32]>,
}

fn hex(b: &[u8]) -> String {
    covenant_connectors::value::hex(b)
}

/// The per-request salt of the `hash` strategy: derived from the pseudonym key and the request,
/// so that it differs between requests, cannot be guessed without the key, and is the same
/// when the same request is prepared again.
pub fn hash_salt(key: &[u8; 32], request_key: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable_mac());
    mac.update(b"covenant/hash-salt/");
    mac.update(request_key.as_bytes());
    mac.finalize().into_bytes().into()
}

// HMAC takes keys of any length, so `new_from_slice` cannot fail; this keeps it total.
fn unreachable_mac() -> HmacSha256 {
    <HmacSha256 as Mac>::new(&Default::default())
}

/// The keyed pseudonym of a value: the same value always gives the same pseudonym.
pub fn pseudonym(key: &[u8; 32], value: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable_mac());
    mac.update(value.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Applies a strategy to one value; `None` for `keep` (nothing is written).
pub fn apply_strategy(s: &Strategy, value: &Value, keys: Keys<'_>, at: &str) -> Result<Option<Value>, DsrError> {
    let text = value.as_text();
    Ok(Some(match s {
        Strategy::Keep(_) => return Ok(None),
        Strategy::Null => Value::Null,
        Strategy::Fixed(f) => Value::Text(f.clone()),
        Strategy::Hash => match text {
            None => Value::Null,
            Some(t) => {
                let salt = keys.salt.ok_or_else(|| missing_key("hash", at))?;
                let mut h = Sha256::new();
                h.update(salt);
                h.update(t.as_bytes());
                Value::Text(hex(&h.finalize()))
            }
        },
        Strategy::Pseudonym => match text {
            None => Value::Null,
            Some(t) => Value::Text(pseudonym(keys.pseudonym.ok_or_else(|| missing_key("pseudonym", at))?, &t)),
        },
        Strategy::Truncate(tr) => match text {
            None => Value::Null,
            Some(t) => truncate(*tr, &t).map_or(Value::Null, Value::Text),
        },
    }))
}

fn missing_key(strategy: &str, at: &str) -> DsrError {
    DsrError::Config(format!(
        "column `{at}` is erased with the `{strategy}` strategy, which needs a secret key: set `[secrets] pseudonym_key_file` in the configuration"
    ))
}

/// What a truncation keeps; `None` when the value has no such part (it is then erased).
pub fn truncate(t: Truncation, v: &str) -> Option<String> {
    match t {
        Truncation::LastFour => {
            let chars: Vec<char> = v.trim().chars().collect();
            Some(chars[chars.len().saturating_sub(4)..].iter().collect())
        }
        Truncation::EmailDomain => v.trim().rsplit_once('@').map(|(_, d)| d.to_lowercase()).filter(|d| !d.is_empty()),
        Truncation::Year => {
            let y: String = v.trim().chars().take(4).collect();
            (y.len() == 4 && y.chars().all(|c| c.is_ascii_digit())).then_some(y)
        }
        Truncation::IpNetwork => match v.trim().parse::<std::net::IpAddr>().ok()? {
            std::net::IpAddr::V4(a) => {
                let o = a.octets();
                Some(format!("{}.{}.{}.0/24", o[0], o[1], o[2]))
            }
            std::net::IpAddr::V6(a) => {
                let s = a.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
                Some(format!("{net}/48"))
            }
        },
    }
}

/// Counts of what a write set does, per table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Counts {
    /// Rows deleted, per table.
    pub deleted: BTreeMap<String, u64>,
    /// Rows whose values are changed, per table.
    pub updated: BTreeMap<String, u64>,
    /// Rows that mention the person and whose link is cut, per table.
    pub mentions_cut: BTreeMap<String, u64>,
}

impl Counts {
    pub fn is_empty(&self) -> bool {
        self.deleted.is_empty() && self.updated.is_empty() && self.mentions_cut.is_empty()
    }
}

/// Column values to write, and the keys of the rows that get them.
type Group = (Vec<(String, Value)>, Vec<Vec<Value>>);

/// Rows of one table and the values each gets: grouped into one update per distinct set. The
/// rows are addressed by `key_columns` (the table's primary key but for mentions cut by
/// reference).
fn updates_for(t: &Table, key_columns: &[String], per_row: Vec<(RowKey, Vec<(String, Value)>)>) -> Vec<WriteOp> {
    let mut groups: Vec<Group> = Vec::new();
    for (k, set) in per_row {
        if set.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(s, _)| *s == set) {
            Some((_, keys)) => keys.push(k.0),
            None => groups.push((set, vec![k.0])),
        }
    }
    groups
        .into_iter()
        .map(|(set, keys)| WriteOp::Update {
            table: TableRef::new(t.schema.as_deref(), &t.name),
            key_columns: key_columns.to_vec(),
            keys,
            set,
        })
        .collect()
}

/// The changed values of a row under column strategies (unchanged values are left out).
fn strategy_set(
    t: &Table,
    rows: &Rows,
    row: &[Value],
    columns: &[ColumnStrategy],
    keys: Keys<'_>,
) -> Result<Vec<(String, Value)>, DsrError> {
    let mut set = Vec::new();
    for c in columns {
        let current = rows.get(row, &c.column).cloned().unwrap_or(Value::Null);
        let at = format!("{}.{}", t.name, c.column);
        if let Some(new) = apply_strategy(&c.strategy, &current, keys, &at)?
            && !new.same(&current)
        {
            set.push((c.column.clone(), new));
        }
    }
    Ok(set)
}

/// The erasure write set of one dataset, in the plan's order: updates (cut mentions, updated
/// and kept rows) first, then deletes, children before parents.
pub fn erasure(
    ds: &Dataset,
    plan: &DatasetPlan,
    found: &FoundDataset,
    keys: Keys<'_>,
) -> Result<(Vec<WriteOp>, Counts), DsrError> {
    let mut updates = Vec::new();
    let mut deletes = Vec::new();
    let mut counts = Counts::default();
    let deleted_rows = |table: &str| -> Vec<RowKey> {
        match (plan.deletes(table), found.tables.get(table)) {
            (true, Some(rows)) => rows.rows.keys().cloned().collect(),
            _ => Vec::new(),
        }
    };
    for a in &plan.actions {
        let Some(t) = ds.table(a.table()) else { continue };
        match a {
            Action::CutMentions { table, of, columns, by_reference: true } => {
                let counted: u64 =
                    found.mentions.iter().filter(|m| &m.table == table && &m.of == of).filter_map(|m| m.counted).sum();
                let lookup = plan.mentions.iter().find(|m| m.is_cut_by(table, of, columns));
                let (Some(lookup), Some(rows), true) = (lookup, found.tables.get(of), counted > 0) else { continue };
                *counts.mentions_cut.entry(table.clone()).or_default() += counted;
                updates.extend(cut_by_reference(t, lookup, columns, rows, keys)?);
            }
            Action::CutMentions { table, of, columns, by_reference: false } => {
                let gone = deleted_rows(table);
                for m in found.mentions.iter().filter(|m| &m.table == table && &m.of == of) {
                    let mut per_row = Vec::new();
                    for (k, row) in &m.rows.rows {
                        if gone.contains(k) {
                            continue;
                        }
                        per_row.push((k.clone(), strategy_set(t, &m.rows, row, columns, keys)?));
                    }
                    let n = per_row.iter().filter(|(_, s)| !s.is_empty()).count() as u64;
                    if n > 0 {
                        *counts.mentions_cut.entry(table.clone()).or_default() += n;
                    }
                    updates.extend(updates_for(t, &t.primary_key, per_row));
                }
            }
            Action::Update { table, columns, .. } | Action::Keep { table, cut: columns, .. } => {
                let Some(rows) = found.tables.get(table) else { continue };
                let mut per_row = Vec::new();
                for (k, row) in &rows.rows {
                    per_row.push((k.clone(), strategy_set(t, rows, row, columns, keys)?));
                }
                let n = per_row.iter().filter(|(_, s)| !s.is_empty()).count() as u64;
                if n > 0 {
                    *counts.updated.entry(table.clone()).or_default() += n;
                }
                updates.extend(updates_for(t, &t.primary_key, per_row));
            }
            Action::Delete { table } => {
                let Some(rows) = found.tables.get(table) else { continue };
                if rows.rows.is_empty() {
                    continue;
                }
                counts.deleted.insert(table.clone(), rows.rows.len() as u64);
                deletes.push(WriteOp::Delete {
                    table: TableRef::new(t.schema.as_deref(), &t.name),
                    key_columns: t.primary_key.clone(),
                    keys: rows.rows.keys().map(|k| k.0.clone()).collect(),
                });
            }
        }
    }
    updates.extend(deletes);
    Ok((updates, counts))
}

/// Mentions cut by reference: for each of the person's rows of `of`, the rows of `t` whose
/// reference holds that row's key get each column's strategy applied to the key's value (the
/// value every such row holds), one update per distinct set of values. Applying it again
/// changes nothing more: a cut reference no longer holds the key.
fn cut_by_reference(
    t: &Table,
    lookup: &MentionLookup,
    columns: &[ColumnStrategy],
    of: &Rows,
    keys: Keys<'_>,
) -> Result<Vec<WriteOp>, DsrError> {
    let mut per_key = Vec::new();
    for key in of.values_of(&lookup.target) {
        let mut set = Vec::new();
        for c in columns {
            let Some(i) = lookup.columns.iter().position(|r| *r == c.column) else { continue };
            let at = format!("{}.{}", t.name, c.column);
            if let Some(new) = apply_strategy(&c.strategy, &key[i], keys, &at)?
                && !new.same(&key[i])
            {
                set.push((c.column.clone(), new));
            }
        }
        per_key.push((RowKey(key), set));
    }
    Ok(updates_for(t, &lookup.columns, per_key))
}

/// What a rectification corrects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Every identity column of this kind (`email`, `phone`, …).
    Identity(String),
    /// Every column of exactly this category.
    Category(CategoryKey),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Identity(k) => f.write_str(k),
            Target::Category(c) => f.write_str(c.as_str()),
        }
    }
}

/// A correction: `--set email=new@example.com`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Correction {
    pub target: Target,
    /// The value to replace; default: the person's identities of that kind, or the one value
    /// the person's rows hold in that category.
    pub old: Option<String>,
    pub new: String,
}

impl Correction {
    /// Reads `KEY=VALUE`, where KEY is an identity kind or a category of the datasets.
    pub fn parse(s: &str, datasets: &[Dataset]) -> Result<Correction, DsrError> {
        let (key, value) = s.split_once('=').ok_or_else(|| {
            DsrError::Invalid(format!("`{s}` is not a correction; write `KIND=VALUE`, e.g. `email=ada@example.org`"))
        })?;
        let key = key.trim();
        let kinds: Vec<String> = datasets
            .iter()
            .flat_map(|d| &d.tables)
            .flat_map(|t| t.identity_columns().map(|(_, i)| i.to_string()))
            .collect();
        if kinds.iter().any(|k| k == key) {
            let id = Identity::parse(key, value).map_err(|e| DsrError::Invalid(format!("`--set {s}`: {e}")))?;
            return Ok(Correction { target: Target::Identity(key.to_owned()), old: None, new: id.value().to_owned() });
        }
        let held = datasets
            .iter()
            .flat_map(|d| &d.tables)
            .flat_map(|t| &t.columns)
            .any(|c| c.category.as_ref().is_some_and(|cat| cat.as_str() == key));
        if held {
            let cat = key.parse::<CategoryKey>().map_err(|e| DsrError::Invalid(format!("`--set {s}`: {e}")))?;
            if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return Err(DsrError::Invalid(format!("`--set {s}`: the value contains control characters")));
            }
            return Ok(Correction { target: Target::Category(cat), old: None, new: value.to_owned() });
        }
        let mut kinds = kinds;
        kinds.sort();
        kinds.dedup();
        Err(DsrError::Invalid(format!(
            "`{key}` is neither an identity kind nor a category the annotations hold; use an identity kind ({}) or a column's category",
            kinds.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        )))
    }
}

fn is_target(t: &Table, column: &str, target: &Target) -> bool {
    let Some(c) = t.column(column) else { return false };
    match target {
        Target::Identity(k) => c.identity.as_ref().is_some_and(|i| &i.to_string() == k),
        Target::Category(cat) => c.category.as_ref() == Some(cat),
    }
}

/// Whether a stored value is one of the old values (identities compared normalised).
fn holds_old(t: &Table, column: &str, v: &Value, target: &Target, old: &[String]) -> bool {
    let Some(text) = v.as_text() else { return false };
    match (target, t.column(column).and_then(|c| c.identity.as_ref())) {
        (Target::Identity(_), Some(kind)) => kind.identity(&text).is_ok_and(|id| old.iter().any(|o| o == id.value())),
        _ => old.iter().any(|o| o.trim() == text.trim()),
    }
}

/// The rectification write set of one dataset: the new value in every target column of the
/// person's rows that holds an old value, and in empty target columns of tables that have
/// only one such column (adding what was missing, promise P6). Nothing else.
pub fn rectification(
    ds: &Dataset,
    found: &FoundDataset,
    correction: &Correction,
    old: &[String],
) -> (Vec<WriteOp>, Counts) {
    let mut ops = Vec::new();
    let mut counts = Counts::default();
    for (name, rows) in &found.tables {
        let Some(t) = ds.table(name) else { continue };
        let targets: Vec<&String> = rows.columns.iter().filter(|c| is_target(t, c, &correction.target)).collect();
        if targets.is_empty() {
            continue;
        }
        let new = Value::Text(correction.new.clone());
        let mut per_row = Vec::new();
        for (k, row) in &rows.rows {
            let mut set = Vec::new();
            for c in &targets {
                let v = rows.get(row, c).cloned().unwrap_or(Value::Null);
                let replace = holds_old(t, c, &v, &correction.target, old) || (v.is_empty() && targets.len() == 1);
                if replace && !v.same(&new) {
                    set.push(((*c).clone(), new.clone()));
                }
            }
            per_row.push((k.clone(), set));
        }
        let n = per_row.iter().filter(|(_, s)| !s.is_empty()).count() as u64;
        if n > 0 {
            counts.updated.insert(name.clone(), n);
        }
        ops.extend(updates_for(t, &t.primary_key, per_row));
    }
    (ops, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncations() {
        assert_eq!(truncate(Truncation::LastFour, "4111 1111 1111 1234").as_deref(), Some("1234"));
        assert_eq!(truncate(Truncation::LastFour, "12").as_deref(), Some("12"));
        assert_eq!(truncate(Truncation::EmailDomain, "Ada@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(truncate(Truncation::EmailDomain, "nobody"), None);
        assert_eq!(truncate(Truncation::Year, "2024-05-01T10:00:00Z").as_deref(), Some("2024"));
        assert_eq!(truncate(Truncation::Year, "May 2024"), None);
        assert_eq!(truncate(Truncation::IpNetwork, "192.0.2.77").as_deref(), Some("192.0.2.0/24"));
        assert_eq!(truncate(Truncation::IpNetwork, "2001:db8:1:2::5").as_deref(), Some("2001:db8:1::/48"));
        assert_eq!(truncate(Truncation::IpNetwork, "not an ip"), None);
    }

    #[test]
    fn hashes_are_salted_per_request_and_pseudonyms_stable() {
        let key = [7u8; 32];
        let (s1, s2) = (hash_salt(&key, "req-1"), hash_salt(&key, "req-2"));
        assert_ne!(s1, s2);
        assert_eq!(s1, hash_salt(&key, "req-1"));
        let v = Value::from("ada@example.com");
        let k1 = Keys { pseudonym: Some(&key), salt: Some(&s1) };
        let k2 = Keys { pseudonym: Some(&key), salt: Some(&s2) };
        let h1 = apply_strategy(&Strategy::Hash, &v, k1, "t.c").unwrap().unwrap();
        let h2 = apply_strategy(&Strategy::Hash, &v, k2, "t.c").unwrap().unwrap();
        assert_ne!(h1, h2, "the salt is per request");
        let p1 = apply_strategy(&Strategy::Pseudonym, &v, k1, "t.c").unwrap().unwrap();
        let p2 = apply_strategy(&Strategy::Pseudonym, &v, k2, "t.c").unwrap().unwrap();
        assert_eq!(p1, p2, "the same value, the same pseudonym");
        assert_eq!(apply_strategy(&Strategy::Keep("records".into()), &v, k1, "t.c").unwrap(), None);
        assert_eq!(apply_strategy(&Strategy::Hash, &Value::Null, k1, "t.c").unwrap(), Some(Value::Null));
        let none = Keys { pseudonym: None, salt: None };
        let err = apply_strategy(&Strategy::Pseudonym, &v, none, "users.email").unwrap_err();
        assert!(err.to_string().contains("`users.email`"), "{err}");
    }
}
