//! The dataset annotation format (schema version 1): how one application database holds
//! personal data. Written by the company's engineers (or drafted by `covenant dataset generate`)
//! next to the policy; read by the planner that answers data-subject requests and by retention.
//!
//! ```toml
//! schema = 1
//! id = "crm"
//! name = "CRM application database"
//!
//! [[tables]]
//! name = "contacts"
//! primary_key = ["id"]
//! timestamp = "created_at"
//! erase = "delete"
//! columns = [
//!   { name = "email", category = "user.contact.email", identity = "email" },
//!   { name = "name", category = "user.name" },
//! ]
//!
//! [[tables]]
//! name = "payments"
//! primary_key = ["id"]
//! erase = "update"
//! columns = [
//!   { name = "card_last4", category = "user.financial.credit_card", erase = { keep = "records" } },
//!   { name = "holder", category = "user.name", erase = "null" },
//! ]
//! references = [{ columns = ["contact_id"], table = "contacts" }]
//! ```

use std::fmt;
use std::str::FromStr;

use covenant_core::{CategoryKey, Identity, IdentityError, IdentityKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The version of the dataset annotation format this build reads.
pub const DATASET_SCHEMA_VERSION: u32 = 1;

/// One application database, annotated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "Covenant dataset annotations",
    description = "How one application database holds personal data (schema version 1)."
)]
pub struct Dataset {
    /// The file-format version; must be `1`.
    pub schema: u32,
    /// A short id used in plans, journals and reports: lowercase letters, digits, `-`, `_`.
    pub id: String,
    /// A name for people: "CRM application database".
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The product (policy `products` id) this database serves, if the policy lists products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The tables that hold personal data, or link to tables that do.
    pub tables: Vec<Table>,
}

/// One table: where its rows' people are found, what its columns hold, how erasure treats it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The table name as the database spells it (unquoted).
    pub name: String,
    /// The PostgreSQL schema holding the table; default: the connection's search path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The columns that identify a row; every write Covenant makes addresses rows by them.
    pub primary_key: Vec<String>,
    /// The kind of person the rows are about (policy `subject_types` id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<String>,
    /// The activities (policy ids) that use these rows. Empty: every activity that processes
    /// the columns' categories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<String>,
    /// The column whose time starts the retention clock (`created_at`, `last_seen_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The column naming the customer (controller) the rows are processed for, when Covenant's
    /// company is a processor for them (promises O3, T7, P7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// What an erasure does with a person's rows: `delete` them (the default), `update` them
    /// (apply each column's strategy, keep the row), or `{ keep = "<legal hold>" }`.
    #[serde(default, skip_serializing_if = "RowErasure::is_default")]
    pub erase: RowErasure,
    /// The columns that hold personal data or identify people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<Column>,
    /// Links from this table's rows to rows of other tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}

/// What an erasure does with the rows of a table that belong to the person.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowErasure {
    /// Delete the rows.
    #[default]
    Delete,
    /// Keep the rows and apply each personal column's `erase` strategy.
    Update,
    /// Keep the rows unchanged under a legal hold (policy `legal_holds` id).
    Keep(String),
}

impl RowErasure {
    fn is_default(&self) -> bool {
        *self == RowErasure::Delete
    }
}

/// One column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    /// The data category (policy `categories` id) the values belong to; absent for columns that
    /// only identify or link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<CategoryKey>,
    /// The column holds an identity a person can be found by: `email`, `phone`, `account_id`,
    /// `external:<system>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityColumn>,
    /// How lookups compare this identity column with a person's identities: `exact` (the
    /// default) or `case_insensitive`, for applications that store emails as typed
    /// (`Ada@Example.COM` is then found by `ada@example.com`). Only on identity columns.
    #[serde(rename = "match", default, skip_serializing_if = "IdentityMatch::is_default")]
    pub matching: IdentityMatch,
    /// What an erasure writes into this column when the row is kept (`update` tables, and
    /// columns that mention a person in someone else's row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erase: Option<Strategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// How lookups compare an identity column with the person's (normalised) identities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityMatch {
    /// The stored value equals the normalised identity (`ada@example.com`); the column's plain
    /// index serves the lookup.
    #[default]
    Exact,
    /// The stored value equals it but for letter case (`Ada@Example.COM`). Fast with an index
    /// on `(email COLLATE NOCASE)` (SQLite) or `(lower(email))` (PostgreSQL).
    CaseInsensitive,
}

impl IdentityMatch {
    fn is_default(&self) -> bool {
        *self == IdentityMatch::Exact
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityMatch::Exact => "exact",
            IdentityMatch::CaseInsensitive => "case_insensitive",
        }
    }
}

/// How one column's value is erased while its row is kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Write SQL `NULL`.
    Null,
    /// Write this fixed text, e.g. `"[erased]"`.
    Fixed(String),
    /// Replace with a salted SHA-256 (hex); the salt is per request, so values no longer match
    /// anything.
    Hash,
    /// Replace with a keyed pseudonym (HMAC-SHA-256 with the tenant's secret, hex): the same
    /// value always becomes the same pseudonym, so links between rows still hold.
    Pseudonym,
    /// Keep only part of the value.
    Truncate(Truncation),
    /// Keep the value under a legal hold (policy `legal_holds` id), e.g. invoices for tax law.
    Keep(String),
}

impl Strategy {
    /// The name shown in plans and reports: `null`, `fixed`, `hash`, `keep:records`.
    pub fn label(&self) -> String {
        match self {
            Strategy::Null => "null".into(),
            Strategy::Fixed(_) => "fixed".into(),
            Strategy::Hash => "hash".into(),
            Strategy::Pseudonym => "pseudonym".into(),
            Strategy::Truncate(t) => format!("truncate:{}", t.as_str()),
            Strategy::Keep(h) => format!("keep:{h}"),
        }
    }
}

/// Which part of a value a truncation keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// The last four characters (card numbers; promise P2).
    LastFour,
    /// The network of an IP address: IPv4 /24, IPv6 /48.
    IpNetwork,
    /// The domain of an email address.
    EmailDomain,
    /// The year of a date or timestamp (`YYYY`).
    Year,
}

impl Truncation {
    pub const ALL: [Truncation; 4] =
        [Truncation::LastFour, Truncation::IpNetwork, Truncation::EmailDomain, Truncation::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            Truncation::LastFour => "last_four",
            Truncation::IpNetwork => "ip_network",
            Truncation::EmailDomain => "email_domain",
            Truncation::Year => "year",
        }
    }
}

/// A link from rows of this table to rows of another table of the same dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Columns of this table.
    pub columns: Vec<String>,
    /// The referenced table (its `name`).
    pub table: String,
    /// The referenced columns; default: the referenced table's primary key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    /// What the link means for the people in the rows.
    #[serde(default, skip_serializing_if = "Link::is_default")]
    pub link: Link,
}

/// What a reference says about whose data a row is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// The row belongs to the person the referenced row belongs to (their tickets, payments,
    /// comments): found with them, erased with them.
    #[default]
    BelongsTo,
    /// The row and the referenced row are about the same person (a user and their contact
    /// card): followed both ways.
    SameSubject,
    /// The row only mentions the person (a ticket's assignee): the row is not theirs; on
    /// erasure the referencing columns get their own `erase` strategy.
    Mentions,
}

impl Link {
    fn is_default(&self) -> bool {
        *self == Link::BelongsTo
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Link::BelongsTo => "belongs_to",
            Link::SameSubject => "same_subject",
            Link::Mentions => "mentions",
        }
    }
}

/// The kind of identity a column holds: `email`, `phone`, `account_id`, `external:<system>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdentityColumn {
    kind: IdentityKind,
    namespace: Option<String>,
}

impl IdentityColumn {
    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// Reads a value stored in such a column as an identity, normalised like any other.
    pub fn identity(&self, raw: &str) -> Result<Identity, IdentityError> {
        Identity::parse(&self.to_string(), raw)
    }

    /// Whether `identity` is of this column's kind.
    pub fn matches(&self, identity: &Identity) -> bool {
        identity.kind_name() == self.to_string()
    }
}

impl fmt::Display for IdentityColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}:{ns}", self.kind.as_str()),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

impl FromStr for IdentityColumn {
    type Err = String;

    fn from_str(s: &str) -> Result<IdentityColumn, String> {
        let bad =
            || format!("`{s}` is not an identity kind; use `email`, `phone`, `account_id` or `external:<system>`");
        let (kind, namespace) = match s.split_once(':') {
            Some((k, ns)) => (k, Some(ns)),
            None => (s, None),
        };
        let kind: IdentityKind = kind.parse().map_err(|_| bad())?;
        match (kind, namespace) {
            (IdentityKind::External, Some(ns)) => {
                let ok = (1..=32).contains(&ns.len())
                    && ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
                if !ok {
                    return Err(format!(
                        "`{ns}` is not a system name; use 1 to 32 lowercase letters, digits, `-` or `_` (`external:stripe`)"
                    ));
                }
                Ok(IdentityColumn { kind, namespace: Some(ns.to_owned()) })
            }
            (IdentityKind::External, None) => {
                Err("`external` needs a system name: `external:<system>`, e.g. `external:stripe`".to_owned())
            }
            (_, None) => Ok(IdentityColumn { kind, namespace: None }),
            (_, Some(_)) => Err(bad()),
        }
    }
}

impl TryFrom<String> for IdentityColumn {
    type Error = String;
    fn try_from(s: String) -> Result<IdentityColumn, String> {
        s.parse()
    }
}

impl From<IdentityColumn> for String {
    fn from(c: IdentityColumn) -> String {
        c.to_string()
    }
}

impl JsonSchema for IdentityColumn {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IdentityColumn".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(email|phone|account_id|external:[a-z0-9_-]{1,32})$",
            "description": "The kind of identity a column holds: `email`, `phone`, `account_id` or `external:<system>`."
        })
    }
}

impl Dataset {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns people are found by.
    pub fn identity_columns(&self) -> impl Iterator<Item = (&Column, &IdentityColumn)> {
        self.columns.iter().filter_map(|c| c.identity.as_ref().map(|i| (c, i)))
    }

    /// The name with its schema, as plans print it: `public.contacts`.
    pub fn qualified_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl Reference {
    /// The referenced columns: `target`, or the referenced table's primary key.
    pub fn target_columns<'a>(&'a self, target: &'a Table) -> &'a [String] {
        if self.target.is_empty() { &target.primary_key } else { &self.target }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_columns_parse_and_print() {
        for ok in ["email", "phone", "account_id", "external:stripe", "external:crm-2"] {
            let c: IdentityColumn = ok.parse().unwrap();
            assert_eq!(c.to_string(), ok);
        }
        for (bad, says) in [
            ("mail", "not an identity kind"),
            ("external", "needs a system name"),
            ("external:Stripe", "not a system name"),
            ("email:x", "not an identity kind"),
        ] {
            let e = bad.parse::<IdentityColumn>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn identity_columns_normalise_values() {
        let c: IdentityColumn = "email".parse().unwrap();
        let id = c.identity(" Ada@Example.COM ").unwrap();
        assert_eq!(id.key(), "email:ada@example.com");
        assert!(c.matches(&id));
        assert!(!"phone".parse::<IdentityColumn>().unwrap().matches(&id));
    }

    #[test]
    fn identity_match_reads_from_toml_and_defaults_to_exact() {
        #[derive(Deserialize)]
        struct W {
            c: Vec<Column>,
        }
        let w: W = toml::from_str(
            r#"c = [
              { name = "a", identity = "email" },
              { name = "b", identity = "email", match = "case_insensitive" },
              { name = "c", identity = "email", match = "exact" },
            ]"#,
        )
        .unwrap();
        let m: Vec<IdentityMatch> = w.c.iter().map(|c| c.matching).collect();
        assert_eq!(m, [IdentityMatch::Exact, IdentityMatch::CaseInsensitive, IdentityMatch::Exact]);
        // The default is not written back; the other value is, under its file name.
        let json = serde_json::to_value(&w.c[0]).unwrap();
        assert!(json.get("match").is_none(), "{json}");
        let json = serde_json::to_value(&w.c[1]).unwrap();
        assert_eq!(json["match"], "case_insensitive");
        let e = toml::from_str::<W>(r#"c = [{ name = "a", identity = "email", match = "nocase" }]"#)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown variant `nocase`") && e.contains("case_insensitive"), "{e}");
    }

    #[test]
    fn strategies_read_from_toml() {
        #[derive(Deserialize)]
        struct W {
            s: Vec<Strategy>,
        }
        let w: W = toml::from_str(
            r#"s = ["null", "hash", "pseudonym", { fixed = "[erased]" }, { truncate = "last_four" }, { keep = "records" }]"#,
        )
        .unwrap();
        let labels: Vec<String> = w.s.iter().map(Strategy::label).collect();
        assert_eq!(labels, ["null", "hash", "pseudonym", "fixed", "truncate:last_four", "keep:records"]);
    }
}
