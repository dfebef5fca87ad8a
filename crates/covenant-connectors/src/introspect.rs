//! Reading a live database's schema (tables, columns, types, keys) to draft dataset annotations.
//!
//! [`introspect`] reads SQLite (`sqlite_master`, `pragma_table_info`, `pragma_foreign_key_list`,
//! `pragma_index_list`) and PostgreSQL (`pg_catalog`) catalogues with bound parameters only.
//! [`draft_annotations`] turns a schema into a first annotation file, guessing categories,
//! identities, timestamps and links from names and types and marking every guess with a
//! `# guessed:` comment. [`missing_in_database`] checks annotations against a schema: every
//! table and column they name must exist.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::str::FromStr;

use covenant_core::CategoryKey;
use covenant_policy::dataset::{Dataset, IdentityMatch, Strategy};
use covenant_policy::model::{Policy, StorageLimit};
use covenant_policy::{Diagnostic, DocPath};
use serde::Serialize;
use sqlx::{Connection, PgConnection, Row, SqliteConnection};

/// The kind of database a schema was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A database's tables as its catalogue describes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatabaseSchema {
    pub dialect: Dialect,
    /// The schema unqualified names resolve to (PostgreSQL's `current_schema()`); `None` for SQLite.
    pub default_schema: Option<String>,
    /// In creation order.
    pub tables: Vec<TableSchema>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableSchema {
    /// The PostgreSQL schema; `None` for SQLite.
    pub schema: Option<String>,
    pub name: String,
    /// In declaration order.
    pub columns: Vec<ColumnSchema>,
    /// Empty when the table has none.
    pub primary_key: Vec<String>,
    /// Other unique keys (constraints and unique indexes), each in key order.
    pub unique_keys: Vec<Vec<String>>,
    /// Ordered by the position of their first column.
    pub foreign_keys: Vec<ForeignKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ColumnSchema {
    pub name: String,
    /// The declared type as the database prints it (`BIGINT`, `timestamp with time zone`).
    pub data_type: String,
    pub nullable: bool,
    /// An index compares the column ignoring letter case, leading with it: SQLite's
    /// `(email COLLATE NOCASE)` (or a column declared `COLLATE NOCASE`), PostgreSQL's
    /// `(lower(email))`. Lookups with `match = "case_insensitive"` are fast with it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub case_insensitive_index: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    /// The referenced table's schema (PostgreSQL).
    pub schema: Option<String>,
    pub table: String,
    /// The referenced columns, in the order of `columns`.
    pub target: Vec<String>,
}

impl DatabaseSchema {
    /// The table `name` in `schema` (default: the default schema).
    pub fn table(&self, schema: Option<&str>, name: &str) -> Option<&TableSchema> {
        let schema = schema.or(self.default_schema.as_deref());
        self.tables.iter().find(|t| t.name == name && (t.schema.is_none() || t.schema.as_deref() == schema))
    }
}

impl TableSchema {
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The name with its schema when it has one: `public.users`.
    pub fn qualified_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Whether `columns` are exactly the primary key or one of the unique keys (in any order).
    pub fn is_key(&self, columns: &[String]) -> bool {
        let wanted: BTreeSet<&str> = columns.iter().map(String::as_str).collect();
        let same = |k: &[String]| !k.is_empty() && k.iter().map(String::as_str).collect::<BTreeSet<_>>() == wanted;
        same(&self.primary_key) || self.unique_keys.iter().any(|k| same(k))
    }
}

/// Why a schema could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    #[error(
        "`{url}` is not a database URL Covenant can read; use `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DATABASE`"
    )]
    UnsupportedUrl { url: String },
    #[error("cannot open the database `{url}`: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot read the schema of `{url}` ({what}): {source}")]
    Query { url: String, what: &'static str, source: sqlx::Error },
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens the SQLite database at `url` read-only (it must exist); `shown` is the URL for messages.
async fn open_sqlite(url: &str, shown: &str) -> Result<SqliteConnection, IntrospectError> {
    let connect = |source| IntrospectError::Connect { url: shown.to_owned(), source };
    let opts =
        sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(connect)?.read_only(true).create_if_missing(false);
    SqliteConnection::connect_with(&opts).await.map_err(connect)
}

/// Connects to the PostgreSQL database at `url`; `shown` is the URL for messages.
async fn open_postgres(url: &str, shown: &str) -> Result<PgConnection, IntrospectError> {
    PgConnection::connect(url).await.map_err(|source| IntrospectError::Connect { url: shown.to_owned(), source })
}

/// Reads the schema of the database at `url`: `sqlite://PATH` (opened read-only) or
/// `postgres://…` (the tables of `current_schema()`).
pub async fn introspect(url: &str) -> Result<DatabaseSchema, IntrospectError> {
    let shown = redact_url(url);
    if url.starts_with("sqlite:") {
        let mut conn = open_sqlite(url, &shown).await?;
        let schema = introspect_sqlite(&mut conn).await.map_err(|e| e.at(&shown))?;
        let _ = conn.close().await;
        Ok(schema)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let mut conn = open_postgres(url, &shown).await?;
        let schema = introspect_postgres(&mut conn, &[]).await.map_err(|e| e.at(&shown))?;
        let _ = conn.close().await;
        Ok(schema)
    } else {
        Err(IntrospectError::UnsupportedUrl { url: shown })
    }
}

/// A query failure before the URL is known to the message.
#[derive(Debug)]
pub struct QueryError {
    what: &'static str,
    source: sqlx::Error,
}

impl QueryError {
    fn at(self, url: &str) -> IntrospectError {
        IntrospectError::Query { url: url.to_owned(), what: self.what, source: self.source }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read the schema ({}): {}", self.what, self.source)
    }
}

impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> QueryError {
    move |source| QueryError { what, source }
}

/// Reads an SQLite database's tables (not its internal `sqlite_*` ones).
pub async fn introspect_sqlite(conn: &mut SqliteConnection) -> Result<DatabaseSchema, QueryError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(q("listing the tables"))?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let rows = sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid")
            .bind(&name)
            .fetch_all(&mut *conn)
            .await
            .map_err(q("reading the columns"))?;
        let mut columns = Vec::with_capacity(rows.len());
        let mut pk: Vec<(i64, String)> = Vec::new();
        for r in rows {
            let column: String = r.try_get(0).map_err(q("reading the columns"))?;
            let data_type: String = r.try_get(1).map_err(q("reading the columns"))?;
            let not_null: i64 = r.try_get(2).map_err(q("reading the columns"))?;
            let pk_pos: i64 = r.try_get(3).map_err(q("reading the columns"))?;
            if pk_pos > 0 {
                pk.push((pk_pos, column.clone()));
            }
            columns.push(ColumnSchema {
                name: column,
                data_type,
                nullable: not_null == 0 && pk_pos == 0,
                case_insensitive_index: false,
            });
        }
        pk.sort();
        let rows = sqlx::query(
            "SELECT id, seq, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .map_err(q("reading the foreign keys"))?;
        let mut fks: Vec<(i64, ForeignKey)> = Vec::new();
        let mut implicit_targets: Vec<usize> = Vec::new();
        for r in rows {
            let id: i64 = r.try_get(0).map_err(q("reading the foreign keys"))?;
            let target_table: String = r.try_get(2).map_err(q("reading the foreign keys"))?;
            let from: String = r.try_get(3).map_err(q("reading the foreign keys"))?;
            let to: Option<String> = r.try_get(4).map_err(q("reading the foreign keys"))?;
            if fks.last().map(|(i, _)| *i) != Some(id) {
                fks.push((
                    id,
                    ForeignKey { columns: Vec::new(), schema: None, table: target_table, target: Vec::new() },
                ));
            }
            if let Some((_, fk)) = fks.last_mut() {
                fk.columns.push(from);
                match to {
                    Some(to) => fk.target.push(to),
                    None => implicit_targets.push(fks.len() - 1),
                }
            }
        }
        let index_names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM pragma_index_list(?1) WHERE \"unique\" = 1 AND partial = 0 AND origin <> 'pk' ORDER BY name",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .map_err(q("reading the unique keys"))?;
        let mut unique_keys = Vec::new();
        for index in index_names {
            let cols: Vec<Option<String>> = sqlx::query_scalar("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .bind(&index)
                .fetch_all(&mut *conn)
                .await
                .map_err(q("reading the unique keys"))?;
            // Expression indexes have unnamed columns: not a key of plain columns.
            if let Some(cols) = cols.into_iter().collect::<Option<Vec<String>>>() {
                unique_keys.push(cols);
            }
        }
        // Indexes whose first column compares ignoring case (declared on the index, or taken
        // from the column's own collation).
        let nocase: Vec<String> = sqlx::query_scalar(
            "SELECT x.name FROM pragma_index_list(?1) AS l, pragma_index_xinfo(l.name) AS x \
             WHERE l.partial = 0 AND x.seqno = 0 AND x.key = 1 AND x.name IS NOT NULL AND upper(x.coll) = 'NOCASE'",
        )
        .bind(&name)
        .fetch_all(&mut *conn)
        .await
        .map_err(q("reading the indexes"))?;
        for c in &mut columns {
            c.case_insensitive_index = nocase.contains(&c.name);
        }
        let mut fks: Vec<ForeignKey> = fks.into_iter().map(|(_, fk)| fk).collect();
        for i in implicit_targets {
            fks[i].target.clear();
        }
        tables.push(TableSchema {
            schema: None,
            name,
            columns,
            primary_key: pk.into_iter().map(|(_, c)| c).collect(),
            unique_keys,
            foreign_keys: fks,
        });
    }
    resolve_implicit_targets(&mut tables);
    order_foreign_keys(&mut tables);
    Ok(DatabaseSchema { dialect: Dialect::Sqlite, default_schema: None, tables })
}

/// `REFERENCES accounts` without columns means the referenced table's primary key.
fn resolve_implicit_targets(tables: &mut [TableSchema]) {
    let pks: HashMap<(Option<String>, String), Vec<String>> =
        tables.iter().map(|t| ((t.schema.clone(), t.name.clone()), t.primary_key.clone())).collect();
    for t in tables.iter_mut() {
        for fk in &mut t.foreign_keys {
            if fk.target.is_empty()
                && let Some(pk) = pks.get(&(fk.schema.clone(), fk.table.clone()))
            {
                fk.target = pk.clone();
            }
        }
    }
}

fn order_foreign_keys(tables: &mut [TableSchema]) {
    for t in tables.iter_mut() {
        let position = |fk: &ForeignKey| {
            fk.columns.first().and_then(|c| t.columns.iter().position(|col| &col.name == c)).unwrap_or(usize::MAX)
        };
        let mut fks = std::mem::take(&mut t.foreign_keys);
        fks.sort_by_key(|fk| (position(fk), fk.table.clone()));
        t.foreign_keys = fks;
    }
}

/// Reads a PostgreSQL database's tables in `schemas` (default: `current_schema()`).
pub async fn introspect_postgres(conn: &mut PgConnection, schemas: &[String]) -> Result<DatabaseSchema, QueryError> {
    let current: Option<String> = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut *conn)
        .await
        .map_err(q("finding the current schema"))?;
    let schemas: Vec<String> = if schemas.is_empty() { current.iter().cloned().collect() } else { schemas.to_vec() };
    let rows = sqlx::query(
        "SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped \
           AND n.nspname = ANY($1) \
         ORDER BY c.oid, a.attnum",
    )
    .bind(&schemas)
    .fetch_all(&mut *conn)
    .await
    .map_err(q("reading the columns"))?;
    let mut tables: Vec<TableSchema> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for r in rows {
        let schema: String = r.try_get(0).map_err(q("reading the columns"))?;
        let table: String = r.try_get(1).map_err(q("reading the columns"))?;
        let column: String = r.try_get(2).map_err(q("reading the columns"))?;
        let data_type: String = r.try_get(3).map_err(q("reading the columns"))?;
        let not_null: bool = r.try_get(4).map_err(q("reading the columns"))?;
        let i = *index.entry((schema.clone(), table.clone())).or_insert_with(|| {
            tables.push(TableSchema {
                schema: Some(schema),
                name: table,
                columns: Vec::new(),
                primary_key: Vec::new(),
                unique_keys: Vec::new(),
                foreign_keys: Vec::new(),
            });
            tables.len() - 1
        });
        tables[i].columns.push(ColumnSchema {
            name: column,
            data_type,
            nullable: !not_null,
            case_insensitive_index: false,
        });
    }

    let rows = sqlx::query(
        "SELECT n.nspname::text, c.relname::text, ic.relname::text, i.indisprimary, a.attname::text \
         FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
         JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) ON true \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
         WHERE i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL AND n.nspname = ANY($1) \
         ORDER BY n.nspname, c.relname, ic.relname, k.ord",
    )
    .bind(&schemas)
    .fetch_all(&mut *conn)
    .await
    .map_err(q("reading the keys"))?;
    let mut last: Option<(usize, String)> = None;
    for r in rows {
        let schema: String = r.try_get(0).map_err(q("reading the keys"))?;
        let table: String = r.try_get(1).map_err(q("reading the keys"))?;
        let index_name: String = r.try_get(2).map_err(q("reading the keys"))?;
        let primary: bool = r.try_get(3).map_err(q("reading the keys"))?;
        let column: String = r.try_get(4).map_err(q("reading the keys"))?;
        let Some(&i) = index.get(&(schema, table)) else { continue };
        let t = &mut tables[i];
        if primary {
            t.primary_key.push(column);
            continue;
        }
        if last.as_ref() != Some(&(i, index_name.clone())) {
            t.unique_keys.push(Vec::new());
            last = Some((i, index_name));
        }
        if let Some(k) = t.unique_keys.last_mut() {
            k.push(column);
        }
    }

    let rows = sqlx::query(
        "SELECT n.nspname::text, c.relname::text, con.conname::text, fn.nspname::text, fc.relname::text, \
                a.attname::text, fa.attname::text \
         FROM pg_catalog.pg_constraint con \
         JOIN pg_catalog.pg_class c ON c.oid = con.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid \
         JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace \
         JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(col, fcol, ord) ON true \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.col \
         JOIN pg_catalog.pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fcol \
         WHERE con.contype = 'f' AND n.nspname = ANY($1) \
         ORDER BY n.nspname, c.relname, con.conname, k.ord",
    )
    .bind(&schemas)
    .fetch_all(&mut *conn)
    .await
    .map_err(q("reading the foreign keys"))?;
    let mut last: Option<(usize, String)> = None;
    for r in rows {
        let schema: String = r.try_get(0).map_err(q("reading the foreign keys"))?;
        let table: String = r.try_get(1).map_err(q("reading the foreign keys"))?;
        let constraint: String = r.try_get(2).map_err(q("reading the foreign keys"))?;
        let target_schema: String = r.try_get(3).map_err(q("reading the foreign keys"))?;
        let target_table: String = r.try_get(4).map_err(q("reading the foreign keys"))?;
        let column: String = r.try_get(5).map_err(q("reading the foreign keys"))?;
        let target: String = r.try_get(6).map_err(q("reading the foreign keys"))?;
        let Some(&i) = index.get(&(schema, table)) else { continue };
        let t = &mut tables[i];
        if last.as_ref() != Some(&(i, constraint.clone())) {
            t.foreign_keys.push(ForeignKey {
                columns: Vec::new(),
                schema: Some(target_schema),
                table: target_table,
                target: Vec::new(),
            });
            last = Some((i, constraint));
        }
        if let Some(fk) = t.foreign_keys.last_mut() {
            fk.columns.push(column);
            fk.target.push(target);
        }
    }
    // Expression indexes on `lower(column)`, for lookups that ignore case.
    let rows = sqlx::query(
        "SELECT n.nspname::text, c.relname::text, pg_get_indexdef(i.indexrelid, 1, true) \
         FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE i.indexprs IS NOT NULL AND i.indpred IS NULL AND n.nspname = ANY($1)",
    )
    .bind(&schemas)
    .fetch_all(&mut *conn)
    .await
    .map_err(q("reading the indexes"))?;
    for r in rows {
        let schema: String = r.try_get(0).map_err(q("reading the indexes"))?;
        let table: String = r.try_get(1).map_err(q("reading the indexes"))?;
        let expression: String = r.try_get(2).map_err(q("reading the indexes"))?;
        let (Some(&i), Some(column)) = (index.get(&(schema, table)), lowered_column(&expression)) else { continue };
        if let Some(c) = tables[i].columns.iter_mut().find(|c| c.name == column) {
            c.case_insensitive_index = true;
        }
    }
    order_foreign_keys(&mut tables);
    Ok(DatabaseSchema { dialect: Dialect::Postgres, default_schema: current, tables })
}

/// The column of an index expression `lower(email)`, as PostgreSQL prints it: `lower(email)`,
/// `lower(email::text)` (a varchar column), `lower("E-mail"::text)`. `None` for anything else.
fn lowered_column(expression: &str) -> Option<String> {
    let inner = expression.strip_prefix("lower(")?.strip_suffix(')')?;
    let inner = inner.strip_suffix("::text").unwrap_or(inner);
    let inner = inner.strip_prefix('(').and_then(|i| i.strip_suffix(')')).unwrap_or(inner);
    match inner.strip_prefix('"').and_then(|i| i.strip_suffix('"')) {
        Some(quoted) if !quoted.replace("\"\"", "").contains('"') => Some(quoted.replace("\"\"", "\"")),
        Some(_) => None,
        None => inner
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            .then(|| inner.to_owned())
            .filter(|i| !i.is_empty()),
    }
}

// -------------------------------------------------------------------------------------------------
// Checking annotations against a schema
// -------------------------------------------------------------------------------------------------

fn closest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    known
        .into_iter()
        .map(|k| (distance(given, k), k))
        .filter(|(d, k)| *d > 0 && *d <= (k.chars().count() / 4).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn did_you_mean<'a>(given: &str, known: impl IntoIterator<Item = &'a str>, otherwise: &str) -> String {
    match closest(given, known) {
        Some(k) => format!("did you mean `{k}`? if not, {otherwise}"),
        None => otherwise.to_owned(),
    }
}

/// Everything `dataset` names that `schema` does not have: tables, columns (in `primary_key`,
/// `timestamp`, `controller`, `columns`, `references`), and columns an erasure would set to
/// `NULL` that the database declares `NOT NULL`. Errors, at the path of the offending entry.
/// A primary key that is not a key of the database is a warning.
pub fn missing_in_database(dataset: &Dataset, schema: &DatabaseSchema) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let table_names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    for (ti, t) in dataset.tables.iter().enumerate() {
        let tp = DocPath::at("tables", ti);
        let Some(db) = schema.table(t.schema.as_deref(), &t.name) else {
            out.push(
                Diagnostic::error(
                    "not-in-database",
                    tp.key("name"),
                    format!("table `{}` is not in the database", t.qualified_name()),
                )
                .with_help(did_you_mean(
                    &t.name,
                    table_names.iter().copied(),
                    "fix the name, or remove the table from the annotations",
                )),
            );
            continue;
        };
        let check = |path: DocPath, column: &str, role: &str, table: &TableSchema, out: &mut Vec<Diagnostic>| {
            if table.column(column).is_none() {
                let known: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
                out.push(
                    Diagnostic::error(
                        "not-in-database",
                        path,
                        format!("column `{}.{column}` ({role}) is not in the database", table.name),
                    )
                    .with_help(did_you_mean(
                        column,
                        known,
                        "fix the name, or remove it from the annotations",
                    )),
                );
            }
        };
        for (i, c) in t.primary_key.iter().enumerate() {
            check(tp.clone().key("primary_key").index(i), c, "primary key", db, &mut out);
        }
        if !t.primary_key.is_empty()
            && t.primary_key.iter().all(|c| db.column(c).is_some())
            && !db.is_key(&t.primary_key)
        {
            out.push(
                Diagnostic::warning(
                    "primary-key-not-unique",
                    tp.clone().key("primary_key"),
                    format!(
                        "the primary key of `{}` ({}) is not a primary or unique key in the database",
                        t.name,
                        t.primary_key.join(", ")
                    ),
                )
                .with_help(if db.primary_key.is_empty() {
                    "add a primary key or unique constraint to the table, so that each row Covenant changes is one row"
                        .to_owned()
                } else {
                    format!("the database's primary key is ({})", db.primary_key.join(", "))
                }),
            );
        }
        if let Some(c) = &t.timestamp {
            check(tp.clone().key("timestamp"), c, "timestamp", db, &mut out);
        }
        if let Some(c) = &t.controller {
            check(tp.clone().key("controller"), c, "controller", db, &mut out);
        }
        for (ci, c) in t.columns.iter().enumerate() {
            let cp = tp.clone().key("columns").index(ci);
            check(cp.clone().key("name"), &c.name, "annotated column", db, &mut out);
            if c.erase == Some(Strategy::Null)
                && let Some(col) = db.column(&c.name)
                && !col.nullable
            {
                out.push(
                    Diagnostic::error(
                        "null-into-not-null",
                        cp.key("erase"),
                        format!("erasure would set `{}.{}` to NULL, but the database declares it NOT NULL", t.name, c.name),
                    )
                    .with_help("choose another strategy (`{ fixed = \"[erased]\" }`, `hash`, `pseudonym`), or make the column nullable"),
                );
            }
        }
        for (ri, r) in t.references.iter().enumerate() {
            let rp = tp.clone().key("references").index(ri);
            for (i, c) in r.columns.iter().enumerate() {
                check(rp.clone().key("columns").index(i), c, "reference", db, &mut out);
            }
            let target_schema = dataset.table(&r.table).and_then(|x| x.schema.as_deref());
            if let Some(target) = schema.table(target_schema, &r.table) {
                for (i, c) in r.target.iter().enumerate() {
                    check(rp.clone().key("target").index(i), c, "reference target", target, &mut out);
                }
            }
        }
    }
    out
}

/// The rows of a table [`identity_case_warnings`] reads, at most.
pub const CASE_SAMPLE: u64 = 100_000;

/// Warnings about email identity columns matched exactly (the default) that hold values with
/// capitals: lookups compare them with the lowercased identity, so those rows would be missing
/// from an access request and left behind by an erasure. Counts such rows in the database at
/// `url`, one query per column, among the first [`CASE_SAMPLE`] rows of each table (the
/// warning says so when the count may be partial). Columns `schema` lacks or does not declare as text are skipped
/// (a missing one is an error of [`missing_in_database`]), and so are `citext` columns, which
/// compare ignoring case already; so does SQLite for a column declared `COLLATE NOCASE`, which
/// the count then leaves out.
pub async fn identity_case_warnings(
    url: &str,
    dataset: &Dataset,
    schema: &DatabaseSchema,
) -> Result<Vec<Diagnostic>, IntrospectError> {
    let mut checks = Vec::new();
    for (ti, t) in dataset.tables.iter().enumerate() {
        let Some(db) = schema.table(t.schema.as_deref(), &t.name) else { continue };
        for (ci, c) in t.columns.iter().enumerate() {
            let email = c.identity.as_ref().is_some_and(|i| i.kind() == covenant_core::IdentityKind::Email);
            let text = db
                .column(&c.name)
                .is_some_and(|col| is_text(&col.data_type) && !col.data_type.to_ascii_lowercase().contains("citext"));
            if email && text && c.matching == IdentityMatch::Exact {
                let table = crate::connector::TableRef::new(t.schema.as_deref(), &t.name);
                let col = crate::connector::quote(&c.name);
                // At most CASE_SAMPLE rows are read: a check must not scan a huge table.
                let sql = format!(
                    "SELECT coalesce(sum(CASE WHEN v <> lower(v) THEN 1 ELSE 0 END), 0), count(*) \
                     FROM (SELECT {col} AS v FROM {} LIMIT {CASE_SAMPLE}) AS sample",
                    table.quoted()
                );
                checks.push((ti, ci, sql));
            }
        }
    }
    if checks.is_empty() {
        return Ok(Vec::new());
    }
    let shown = redact_url(url);
    let failed = |source| IntrospectError::Query { url: shown.clone(), what: "counting emails with capitals", source };
    let mut counts = Vec::with_capacity(checks.len());
    if url.starts_with("sqlite:") {
        let mut conn = open_sqlite(url, &shown).await?;
        for (_, _, sql) in &checks {
            let n: (i64, i64) =
                sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_one(&mut conn).await.map_err(failed)?;
            counts.push(n);
        }
        let _ = conn.close().await;
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let mut conn = open_postgres(url, &shown).await?;
        for (_, _, sql) in &checks {
            let n: (i64, i64) =
                sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_one(&mut conn).await.map_err(failed)?;
            counts.push(n);
        }
        let _ = conn.close().await;
    } else {
        return Err(IntrospectError::UnsupportedUrl { url: shown });
    }
    let mut out = Vec::new();
    for ((ti, ci, _), (n, read)) in checks.into_iter().zip(counts) {
        if n == 0 {
            continue;
        }
        // Only the first rows were read: there may be more.
        let partial = u64::try_from(read).is_ok_and(|r| r >= CASE_SAMPLE);
        let t = &dataset.tables[ti];
        let c = &t.columns[ci];
        out.push(
            Diagnostic::warning(
                "identity-case",
                DocPath::at("tables", ti).key("columns").index(ci).key("identity"),
                format!(
                    "{n} row{} of `{}.{}` hold{} an email with capitals, which exact lookups by the lowercased address do not find{}",
                    if n == 1 { "" } else { "s" },
                    t.name,
                    c.name,
                    if n == 1 { "s" } else { "" },
                    if partial { format!(" (among the first {CASE_SAMPLE} rows read; there may be more)") } else { String::new() }
                ),
            )
            .with_help(format!(
                "set `match = \"case_insensitive\"` on the column (fast with an index on `{}`), or store the addresses lowercased",
                match schema.dialect {
                    Dialect::Sqlite => format!("({} COLLATE NOCASE)", c.name),
                    Dialect::Postgres => format!("(lower({}))", c.name),
                }
            )),
        );
    }
    Ok(out)
}

// -------------------------------------------------------------------------------------------------
// Drafting annotations
// -------------------------------------------------------------------------------------------------

/// How to draft annotations.
#[derive(Clone, Copy, Debug)]
pub struct DraftOptions<'a> {
    /// The dataset id (`crm`).
    pub id: &'a str,
    /// Where the schema was read from, for the header comment (passwords already removed).
    pub source: &'a str,
    /// Pick categories, subject types and legal holds from this policy.
    pub policy: Option<&'a Policy>,
}

/// A dataset id from a URL: the SQLite file's stem or the PostgreSQL database's name, reduced to
/// lowercase letters, digits, `-` and `_` and starting with a letter.
pub fn dataset_id_from_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    let last = without_query.rsplit(['/', '\\']).next().unwrap_or(without_query);
    let stem = last.split('.').next().unwrap_or(last);
    let mut id: String = stem
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' { c } else { '_' })
        .take(60)
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        id.insert_str(0, "db_");
    }
    id
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| toml_str(s)).collect::<Vec<_>>().join(", "))
}

fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).map(|t| t.to_ascii_lowercase()).collect()
}

/// `invitations` → `invitation`, `addresses` → `address`: close enough to compare words.
fn stem(word: &str) -> String {
    if word.len() > 4 && word.ends_with("ies") {
        format!("{}y", &word[..word.len() - 3])
    } else if word.len() > 4 && word.ends_with("sses") {
        word[..word.len() - 2].to_owned()
    } else if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_owned()
    } else {
        word.to_owned()
    }
}

const STOP_WORDS: &[&str] = &[
    "user",
    "the",
    "and",
    "for",
    "you",
    "your",
    "our",
    "with",
    "that",
    "this",
    "from",
    "are",
    "such",
    "other",
    "any",
    "all",
    "its",
    "their",
    "data",
    "information",
    "into",
    "when",
    "which",
    "who",
    "what",
    "not",
    "may",
    "can",
];

fn word_set<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    texts
        .into_iter()
        .flat_map(tokens)
        .filter(|t| t.len() >= 3 || t == "ip")
        .map(|t| stem(&t))
        .filter(|t| !STOP_WORDS.contains(&t.as_str()))
        .collect()
}

/// What a column looks like it holds, from its name and type.
#[derive(Clone, Debug, PartialEq)]
struct Guess {
    /// The standard taxonomy key it suggests.
    standard: &'static str,
    /// Words that describe it, for finding the closest policy category.
    hints: &'static [&'static str],
    identity: Option<&'static str>,
    erase: Option<&'static str>,
    why: &'static str,
}

fn is_text(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    t.is_empty()
        || ["char", "text", "clob", "string", "citext", "uuid"].iter().any(|k| t.contains(k))
        || (t.contains("var") && !t.contains("bin"))
}

fn is_time(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    t.contains("time") || t.contains("date")
}

/// The guess for a column, if it looks personal.
fn guess_column(name: &str, data_type: &str) -> Option<Guess> {
    let lower = name.to_ascii_lowercase();
    let words = tokens(&lower);
    let has = |w: &str| words.iter().any(|x| x == w);
    let text = is_text(data_type);
    let g = |standard, hints, identity, erase, why| Some(Guess { standard, hints, identity, erase, why });
    if text && (has("email") || has("mail") || lower.contains("email")) {
        return g("user.contact.email", &["email", "contact"], Some("email"), None, "an email address");
    }
    if has("phone") || has("mobile") || has("msisdn") || has("telephone") || has("tel") || has("fax") {
        return g("user.contact.phone_number", &["phone", "contact"], Some("phone"), None, "a phone number");
    }
    if lower == "ip" || lower.ends_with("_ip") || lower.starts_with("ip_") || lower.contains("ip_address") {
        return g(
            "user.device.ip_address",
            &["ip", "device"],
            None,
            Some("{ truncate = \"ip_network\" }"),
            "an IP address",
        );
    }
    if lower.contains("last4") || lower.contains("last_four") || (has("card") && (has("number") || has("pan"))) {
        return g(
            "user.financial.credit_card",
            &["card", "payment", "billing"],
            None,
            Some("{ truncate = \"last_four\" }"),
            "payment card digits",
        );
    }
    if has("password") || has("passwd") || has("pwd") || has("hash") || has("salt") {
        return g("user.authorization.credentials", &["password", "credential"], None, None, "a credential");
    }
    if has("birth") || has("dob") || has("birthday") || has("birthdate") {
        return g("user.demographic.date_of_birth", &["birth", "date"], None, None, "a date of birth");
    }
    if lower == "first_name" || lower == "firstname" || lower == "given_name" {
        return g("user.name.first", &["name", "personal"], None, None, "a first name");
    }
    if lower == "last_name" || lower == "lastname" || lower == "family_name" || lower == "surname" {
        return g("user.name.last", &["name", "personal"], None, None, "a last name");
    }
    if text
        && (matches!(lower.as_str(), "name" | "full_name" | "fullname" | "display_name" | "nickname" | "middle_name")
            || lower.ends_with("_holder")
            || lower == "cardholder")
    {
        return g("user.name", &["name", "personal"], None, None, "a person's name");
    }
    if text
        && (has("address") || has("street") || has("city") || has("postcode") || has("zip") || lower == "postal_code")
    {
        return g("user.contact.address", &["address", "postal"], None, None, "a postal address");
    }
    if text && (has("company") || has("organization") || has("organisation") || has("employer")) {
        return g("user.contact.organization", &["company", "organisation"], None, None, "an organisation");
    }
    if text && lower.contains("user_agent") {
        return g("user.device", &["browser", "device"], None, None, "a browser's user agent");
    }
    if text && (lower == "public_id" || lower == "external_id" || lower.ends_with("_ref")) {
        return g(
            "user.unique_id",
            &["identifier", "identify", "account"],
            Some("account_id"),
            None,
            "an account identifier other systems know the person by",
        );
    }
    if !text && !is_time(data_type) && (has("amount") || has("price") || has("total") || has("cents")) {
        return g(
            "user.behavior.purchase_history",
            &["transaction", "purchase", "payment"],
            None,
            None,
            "an amount paid",
        );
    }
    if text
        && (matches!(
            lower.as_str(),
            "body" | "content" | "message" | "notes" | "note" | "comment" | "text" | "subject"
        ) || has("notes")
            || has("comment"))
    {
        return g("user.content", &["content", "text", "comment"], None, None, "free text people write");
    }
    None
}

/// The policy category closest to a guess: the guess itself when the policy declares it or a
/// category above it; else, preferring categories below it, then those sharing the most of its
/// key, the one whose words (key, name, description, examples) best match the guess and the
/// column's name, and, counting double, the table's name. Ties go to the first declared.
/// Categories the policy says are never stored or prohibited are skipped: this column stores it.
fn closest_category(
    policy: &Policy,
    guess: &Guess,
    column_words: &BTreeSet<String>,
    table_words: &BTreeSet<String>,
) -> Option<CategoryKey> {
    let standard = CategoryKey::parse(guess.standard).ok()?;
    let usable: Vec<&covenant_policy::model::Category> = policy
        .categories
        .iter()
        .filter(|c| c.storage_limit != Some(StorageLimit::NeverStored) && !c.prohibited)
        .collect();
    if usable.iter().any(|c| standard.is_within(&c.id)) {
        return Some(standard);
    }
    let segments: Vec<&str> = guess.standard.split('.').collect();
    let mut best: Option<((bool, usize, usize), &CategoryKey)> = None;
    for c in &usable {
        let below = c.id.is_within(&standard);
        let common = c.id.as_str().split('.').zip(&segments).take_while(|(a, b)| a == *b).count();
        let words = word_set(
            std::iter::once(c.id.as_str())
                .chain(std::iter::once(c.name.as_str()))
                .chain(c.description.as_deref())
                .chain(c.examples.iter().map(String::as_str)),
        );
        let score = words.intersection(column_words).count() + 2 * words.intersection(table_words).count();
        let rank = (below, common, score);
        if best.is_none_or(|(b, _)| rank > b) {
            best = Some((rank, &c.id));
        }
    }
    best.map(|(_, id)| id.clone())
}

/// Whether a foreign key only mentions the referenced row (an assignee, an author) rather than
/// saying whose the row is: a nullable column not named after the referenced table.
fn looks_like_mention(fk: &ForeignKey, table: &TableSchema) -> bool {
    if fk.columns.len() != 1 {
        return false;
    }
    let col = &fk.columns[0];
    let Some(c) = table.column(col) else { return false };
    if !c.nullable {
        return false;
    }
    let target = fk.table.to_ascii_lowercase();
    let singular = stem(&target);
    let lower = col.to_ascii_lowercase();
    let owner_names = [format!("{singular}_id"), format!("{target}_id"), singular.clone(), format!("{singular}_ref")];
    !owner_names.contains(&lower)
}

fn pick_timestamp(table: &TableSchema) -> Option<&str> {
    const PREFERRED: &[&str] = &["created_at", "occurred_at", "inserted_at", "sent_at", "paid_at", "updated_at"];
    PREFERRED
        .iter()
        .find_map(|p| table.columns.iter().find(|c| c.name.eq_ignore_ascii_case(p)))
        .or_else(|| {
            table.columns.iter().find(|c| c.name.to_ascii_lowercase().ends_with("_at") && is_time(&c.data_type))
        })
        .map(|c| c.name.as_str())
}

/// Each drafted table's key, by (schema, name), and whether it is a unique key standing in for
/// a missing primary key.
type TableKeys<'a> = HashMap<(Option<&'a str>, &'a str), (Vec<String>, bool)>;

/// One drafted column entry.
struct DraftColumn {
    name: String,
    /// The standard taxonomy key the column was guessed to hold.
    standard: &'static str,
    category: Option<CategoryKey>,
    identity: Option<&'static str>,
    /// An email identity column an index compares ignoring case: proposed `case_insensitive`.
    case_insensitive: bool,
    erase: Option<String>,
    comment: String,
}

/// Drafts dataset annotations for `schema`. The text parses as dataset annotations; with a
/// policy, categories, subject types and legal holds come from it, so the draft checks against
/// it without errors. Every guess carries a `# guessed:` comment for the person who reviews it.
pub fn draft_annotations(schema: &DatabaseSchema, opts: &DraftOptions<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Dataset annotations drafted by `covenant dataset generate` from {}.", opts.source);
    let _ = writeln!(out, "# Every line marked `# guessed:` comes from a column's name and type: review each one, add");
    let _ = writeln!(
        out,
        "# `activities`, and decide which rows an erasure must keep (`erase = \"update\"` with legal holds)."
    );
    match opts.policy {
        Some(p) => {
            let _ = writeln!(
                out,
                "# Categories are the closest ones `{}`'s policy declares. Check with:\n#   covenant dataset check --policy POLICY --db URL THIS_FILE",
                p.controller_name()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "# Categories are standard taxonomy keys: pass --policy to pick the policy's own. Check with:\n#   covenant dataset check --policy POLICY --db URL THIS_FILE"
            );
        }
    }
    let _ = writeln!(out, "schema = 1");
    let _ = writeln!(out, "id = {}", toml_str(opts.id));
    let _ = writeln!(out, "name = {}", toml_str(&format!("{} database", opts.id)));

    // Tables Covenant can address: those with a primary key, or failing that a unique key.
    let keys: TableKeys<'_> = schema
        .tables
        .iter()
        .filter_map(|t| {
            let key = if t.primary_key.is_empty() {
                let not_null = |k: &&Vec<String>| k.iter().all(|c| t.column(c).is_some_and(|c| !c.nullable));
                (t.unique_keys.iter().find(not_null).or(t.unique_keys.first()).cloned()?, true)
            } else {
                (t.primary_key.clone(), false)
            };
            Some(((t.schema.as_deref(), t.name.as_str()), key))
        })
        .collect();
    let default_schema = schema.default_schema.as_deref();

    for t in &schema.tables {
        out.push('\n');
        let Some((primary_key, from_unique)) = keys.get(&(t.schema.as_deref(), t.name.as_str())) else {
            let _ = writeln!(
                out,
                "# Table {} has no primary or unique key: Covenant addresses every row it changes by its key.\n# Add one to the table and generate again.",
                toml_str(&t.qualified_name())
            );
            continue;
        };
        draft_table(&mut out, t, primary_key, *from_unique, &keys, default_schema, opts.policy);
    }
    out
}

fn draft_table(
    out: &mut String,
    t: &TableSchema,
    primary_key: &[String],
    from_unique: bool,
    keys: &TableKeys<'_>,
    default_schema: Option<&str>,
    policy: Option<&Policy>,
) {
    let table_words: Vec<String> = tokens(&t.name).iter().map(|w| stem(w)).collect();
    let table_context = word_set(std::iter::once(t.name.as_str()));
    let fk_columns: BTreeSet<&str> = t.foreign_keys.iter().flat_map(|f| f.columns.iter().map(String::as_str)).collect();

    // References first: which are mentions decides which columns need a strategy.
    struct DraftRef {
        fk: ForeignKey,
        mention: bool,
        target_pk: Vec<String>,
    }
    let mut refs = Vec::new();
    let mut skipped_refs = Vec::new();
    for fk in &t.foreign_keys {
        let target_schema = fk.schema.as_deref().or(t.schema.as_deref());
        match keys.get(&(target_schema, fk.table.as_str())) {
            Some((pk, _)) => {
                refs.push(DraftRef { fk: fk.clone(), mention: looks_like_mention(fk, t), target_pk: pk.clone() })
            }
            None => skipped_refs.push(fk),
        }
    }

    let mut columns: Vec<DraftColumn> = Vec::new();
    for c in &t.columns {
        if fk_columns.contains(c.name.as_str()) {
            continue;
        }
        let Some(guess) = guess_column(&c.name, &c.data_type) else { continue };
        let column_words = word_set(guess.hints.iter().copied().chain(std::iter::once(c.name.as_str())));
        let (category, how) = match policy {
            Some(p) => match closest_category(p, &guess, &column_words, &table_context) {
                Some(k) if k.as_str() == guess.standard => (Some(k), "the policy declares it".to_owned()),
                Some(k) => (Some(k), format!("the policy's closest category to `{}`", guess.standard)),
                None => (None, "the policy declares no category to hold it".to_owned()),
            },
            None => (CategoryKey::parse(guess.standard).ok(), "a standard taxonomy key".to_owned()),
        };
        let case_insensitive = guess.identity == Some("email") && c.case_insensitive_index;
        let case = if case_insensitive { "; an index compares it ignoring case, so lookups do" } else { "" };
        columns.push(DraftColumn {
            name: c.name.clone(),
            standard: guess.standard,
            category,
            identity: guess.identity,
            case_insensitive,
            erase: guess.erase.map(str::to_owned),
            comment: format!("guessed: {}; {how}{case}", guess.why),
        });
    }

    // Rows of tables that record money are kept for the policy's legal hold, when it has one
    // that covers the money columns' categories; their other personal columns are erased.
    let mut erase_row = "\"delete\"".to_owned();
    let mut erase_why = "a person's rows are deleted with them".to_owned();
    if let Some(p) = policy {
        let money = columns.iter().any(|c| c.standard == "user.behavior.purchase_history")
            || table_words
                .iter()
                .any(|w| matches!(w.as_str(), "payment" | "invoice" | "order" | "transaction" | "billing"));
        let hold = p.legal_holds.iter().find(|h| {
            columns.iter().any(|c| c.category.as_ref().is_some_and(|k| h.categories.iter().any(|hc| k.is_within(hc))))
        });
        let links: Vec<Vec<String>> = refs.iter().map(|r| r.fk.columns.clone()).collect();
        if let (true, Some(hold)) = (money, hold)
            && let Some(plan) = plan_update(t, &columns, &links, hold)
        {
            for (c, strategy) in columns.iter_mut().zip(plan) {
                c.erase = Some(strategy);
            }
            erase_row = "\"update\"".to_owned();
            erase_why = format!(
                "it records money: rows are kept under legal hold `{}`, other personal columns erased",
                hold.id
            );
        }
    }
    let update = erase_row == "\"update\"";

    let _ = writeln!(out, "[[tables]]");
    let _ = writeln!(out, "name = {}", toml_str(&t.name));
    if let Some(s) = &t.schema
        && Some(s.as_str()) != default_schema
    {
        let _ = writeln!(out, "schema = {}", toml_str(s));
    }
    if from_unique {
        let _ = writeln!(
            out,
            "primary_key = {}  # guessed: a unique key (the table has no primary key)",
            toml_list(primary_key)
        );
    } else {
        let _ = writeln!(out, "primary_key = {}", toml_list(primary_key));
    }
    if let Some(p) = policy
        && columns.iter().any(|c| c.identity.is_some())
    {
        let singular = stem(&t.name.to_ascii_lowercase());
        if let Some(st) = p.subject_types.iter().find(|s| s.id == singular) {
            let _ = writeln!(out, "subject_type = {}  # guessed: the table's name", toml_str(&st.id));
        }
    }
    if let Some(ts) = pick_timestamp(t) {
        let _ = writeln!(out, "timestamp = {}  # guessed: starts the retention clock", toml_str(ts));
    }
    let _ = writeln!(out, "erase = {erase_row}  # guessed: {erase_why}");

    // Mention columns (and, in kept rows, belongs_to columns) get a strategy that cuts the link.
    let mut link_columns: Vec<(String, &'static str)> = Vec::new();
    for r in &refs {
        if r.mention || update {
            for c in &r.fk.columns {
                link_columns.push((
                    c.clone(),
                    if r.mention {
                        "cut when the mentioned person is erased"
                    } else {
                        "cut when the person is erased; the row stays"
                    },
                ));
            }
        }
    }
    if columns.is_empty() && link_columns.is_empty() {
        let _ = writeln!(out, "# guessed: no column looks personal");
    } else {
        let _ = writeln!(out, "columns = [");
        for c in &columns {
            let mut fields = vec![format!("name = {}", toml_str(&c.name))];
            if let Some(i) = c.identity {
                fields.push(format!("identity = {}", toml_str(i)));
            }
            if c.case_insensitive {
                fields.push(format!("match = {}", toml_str(IdentityMatch::CaseInsensitive.as_str())));
            }
            if let Some(k) = &c.category {
                fields.push(format!("category = {}", toml_str(k.as_str())));
            }
            if let Some(e) = &c.erase {
                fields.push(format!("erase = {e}"));
            }
            let _ = writeln!(out, "  {{ {} }},  # {}", fields.join(", "), c.comment);
        }
        for (name, why) in &link_columns {
            let _ = writeln!(out, "  {{ name = {}, erase = \"null\" }},  # guessed: {why}", toml_str(name));
        }
        let _ = writeln!(out, "]");
    }
    if !refs.is_empty() {
        let _ = writeln!(out, "references = [");
        for r in &refs {
            let mut fields =
                vec![format!("columns = {}", toml_list(&r.fk.columns)), format!("table = {}", toml_str(&r.fk.table))];
            if r.fk.target != r.target_pk {
                fields.push(format!("target = {}", toml_list(&r.fk.target)));
            }
            let why = if r.mention {
                fields.push("link = \"mentions\"".to_owned());
                "a nullable foreign key not named after its table: the row only mentions that person"
            } else {
                "the foreign key: the row belongs to whoever the referenced row belongs to"
            };
            let _ = writeln!(out, "  {{ {} }},  # guessed: {why}", fields.join(", "));
        }
        let _ = writeln!(out, "]");
    }
    for fk in skipped_refs {
        let _ = writeln!(
            out,
            "# The foreign key ({}) to {} is left out: that table is not drafted here.",
            fk.columns.join(", "),
            toml_str(&fk.table)
        );
    }
}

/// The strategy for each drafted column when the rows are kept under `hold`, or `None` when
/// some column cannot be erased in place (a `NOT NULL` link or non-text value).
fn plan_update(
    t: &TableSchema,
    columns: &[DraftColumn],
    links: &[Vec<String>],
    hold: &covenant_policy::model::LegalHold,
) -> Option<Vec<String>> {
    for link in links {
        for c in link {
            if !t.column(c).is_some_and(|c| c.nullable) {
                return None;
            }
        }
    }
    let mut plan = Vec::with_capacity(columns.len());
    for c in columns {
        let col = t.column(&c.name)?;
        let held = c.category.as_ref().is_some_and(|k| hold.categories.iter().any(|hc| k.is_within(hc)));
        let strategy = if let Some(e) = &c.erase {
            e.clone()
        } else if held {
            format!("{{ keep = {} }}", toml_str(&hold.id))
        } else if col.nullable {
            "\"null\"".to_owned()
        } else if is_text(&col.data_type) {
            "{ fixed = \"[erased]\" }".to_owned()
        } else {
            return None;
        };
        plan.push(strategy);
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use covenant_policy::Format;
    use covenant_policy::dataset::{Link, parse_dataset};

    const CRM_SQLITE: &str = include_str!("../../../examples/crm/sql/crm.sqlite.sql");
    const EVENTS_SQLITE: &str = include_str!("../../../examples/crm/sql/events.sqlite.sql");
    const CRM_POSTGRES: &str = include_str!("../../../examples/crm/sql/crm.postgres.sql");
    const EVENTS_POSTGRES: &str = include_str!("../../../examples/crm/sql/events.postgres.sql");
    const CRM_DATASET: &str = include_str!("../../../examples/crm/crm.dataset.toml");
    const EVENTS_DATASET: &str = include_str!("../../../examples/crm/events.dataset.toml");
    const POLICY: &str = include_str!("../../../examples/okitoki/policy.toml");

    fn policy() -> Policy {
        covenant_policy::load_str("policy.toml", POLICY, Format::Toml).unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    /// A SQLite file built from one of the demo schema files.
    fn sqlite_db(dir: &std::path::Path, name: &str, sql: &str) -> String {
        let path = dir.join(name);
        let url = format!("sqlite://{}?mode=rwc", path.display());
        runtime().block_on(async {
            let mut conn = SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        });
        format!("sqlite://{}", path.display())
    }

    /// What the demo schema says: (table, primary key, [(columns, referenced table)]).
    /// (columns, referenced table, referenced columns)
    type Fk = (Vec<String>, String, Vec<String>);

    fn demo_shape(schema: &DatabaseSchema) -> Vec<(String, Vec<String>, Vec<Fk>)> {
        schema
            .tables
            .iter()
            .map(|t| {
                let fks =
                    t.foreign_keys.iter().map(|f| (f.columns.clone(), f.table.clone(), f.target.clone())).collect();
                (t.name.clone(), t.primary_key.clone(), fks)
            })
            .collect()
    }

    fn check_demo_schema(crm: &DatabaseSchema, events: &DatabaseSchema) {
        let shape = demo_shape(crm);
        let names: Vec<&str> = shape.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "accounts",
                "users",
                "contacts",
                "client_cards",
                "comments",
                "tickets",
                "payments",
                "ai_messages",
                "invitations",
                "marketing_preferences"
            ]
        );
        let get = |n: &str| shape.iter().find(|(t, _, _)| t == n).unwrap();
        assert_eq!(get("marketing_preferences").1, ["email"]);
        assert_eq!(get("users").1, ["id"]);
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            get("tickets").2,
            vec![
                (s(&["user_id"]), "users".to_owned(), s(&["id"])),
                (s(&["assignee_id"]), "users".to_owned(), s(&["id"]))
            ]
        );
        assert_eq!(get("comments").2.len(), 2);
        let users = crm.table(None, "users").unwrap();
        assert!(users.unique_keys.contains(&s(&["email"])) && users.unique_keys.contains(&s(&["public_id"])));
        let phone = users.column("phone").unwrap();
        assert!(phone.nullable && phone.data_type.eq_ignore_ascii_case("text"));
        assert!(!users.column("email").unwrap().nullable);
        assert!(!users.column("id").unwrap().nullable);
        let names: Vec<&str> = events.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["email_events", "login_events"]);
    }

    /// The draft of a demo database parses, names every table with its key and foreign keys,
    /// and checks against the policy with warnings at most.
    fn check_draft(schema: &DatabaseSchema, id: &str) -> Dataset {
        let p = policy();
        let text = draft_annotations(schema, &DraftOptions { id, source: "a test database", policy: Some(&p) });
        let ds = parse_dataset(&text, Format::Toml).unwrap_or_else(|d| panic!("{d:?}\n{text}"));
        let checked = covenant_policy::dataset::check_dataset_source(
            covenant_policy::SourceFile::new("draft.toml", text.clone()),
            Format::Toml,
            &p,
        );
        assert!(!checked.has_errors(), "{}\n{text}", checked.render());
        assert_eq!(ds.tables.len(), schema.tables.len());
        for (d, t) in ds.tables.iter().zip(&schema.tables) {
            assert_eq!(d.name, t.name);
            assert_eq!(d.primary_key, t.primary_key);
            let refs: Vec<(Vec<String>, String)> =
                d.references.iter().map(|r| (r.columns.clone(), r.table.clone())).collect();
            let fks: Vec<(Vec<String>, String)> =
                t.foreign_keys.iter().map(|f| (f.columns.clone(), f.table.clone())).collect();
            assert_eq!(refs, fks, "{}", t.name);
        }
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with('{') || l.starts_with("timestamp") || l.starts_with("erase"))
        {
            assert!(line.contains("# guessed:"), "an unmarked guess: {line}");
        }
        assert!(missing_in_database(&ds, schema).is_empty(), "{:?}", missing_in_database(&ds, schema));
        ds
    }

    fn check_demo_guesses(crm: &Dataset, events: &Dataset) {
        let users = crm.table("users").unwrap();
        assert_eq!(users.subject_type.as_deref(), Some("user"));
        assert_eq!(users.timestamp.as_deref(), Some("created_at"));
        let ident = |t: &covenant_policy::dataset::Table, c: &str| {
            t.column(c).and_then(|c| c.identity.clone()).map(|i| i.to_string())
        };
        assert_eq!(ident(users, "email").as_deref(), Some("email"));
        assert_eq!(ident(users, "phone").as_deref(), Some("phone"));
        assert_eq!(ident(users, "public_id").as_deref(), Some("account_id"));
        assert_eq!(
            users.column("password_hash").unwrap().category.as_ref().unwrap().as_str(),
            "user.authorization.credentials"
        );
        let tickets = crm.table("tickets").unwrap();
        let link =
            |t: &covenant_policy::dataset::Table, c: &str| t.references.iter().find(|r| r.columns == [c]).unwrap().link;
        assert_eq!(link(tickets, "user_id"), Link::BelongsTo);
        assert_eq!(link(tickets, "assignee_id"), Link::Mentions);
        assert_eq!(tickets.column("assignee_id").unwrap().erase, Some(Strategy::Null));
        let comments = crm.table("comments").unwrap();
        assert_eq!(link(comments, "author_user_id"), Link::Mentions);
        assert_eq!(link(comments, "card_id"), Link::BelongsTo);
        let payments = crm.table("payments").unwrap();
        assert_eq!(payments.erase, covenant_policy::dataset::RowErasure::Update);
        assert_eq!(payments.column("amount_cents").unwrap().erase, Some(Strategy::Keep("records".into())));
        assert_eq!(payments.column("user_id").unwrap().erase, Some(Strategy::Null));
        assert_eq!(
            payments.column("card_last4").unwrap().erase,
            Some(Strategy::Truncate(covenant_policy::dataset::Truncation::LastFour))
        );
        let logins = events.table("login_events").unwrap();
        assert_eq!(ident(logins, "user_ref").as_deref(), Some("account_id"));
        assert_eq!(logins.timestamp.as_deref(), Some("occurred_at"));
        assert_eq!(
            logins.column("ip").unwrap().erase,
            Some(Strategy::Truncate(covenant_policy::dataset::Truncation::IpNetwork))
        );
        assert!(logins.column("ip").unwrap().category.as_ref().unwrap().as_str().starts_with("user.device."));
    }

    fn check_demo_annotations(crm: &DatabaseSchema, events: &DatabaseSchema) {
        let p = policy();
        let crm_ds =
            covenant_policy::dataset::load_dataset_str("crm.dataset.toml", CRM_DATASET, Format::Toml, &p).unwrap();
        let events_ds =
            covenant_policy::dataset::load_dataset_str("events.dataset.toml", EVENTS_DATASET, Format::Toml, &p)
                .unwrap();
        assert_eq!(missing_in_database(&crm_ds, crm), vec![]);
        assert_eq!(missing_in_database(&events_ds, events), vec![]);
        // The crm annotations against the events database: every table is missing.
        let wrong = missing_in_database(&crm_ds, events);
        assert_eq!(wrong.len(), crm_ds.tables.len());
        assert!(wrong.iter().all(|d| d.code == "not-in-database"));
    }

    #[test]
    fn sqlite_demo_schema_is_read_drafted_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let crm_url = sqlite_db(dir.path(), "crm.db", CRM_SQLITE);
        let events_url = sqlite_db(dir.path(), "events.db", EVENTS_SQLITE);
        let rt = runtime();
        let crm = rt.block_on(introspect(&crm_url)).unwrap();
        let events = rt.block_on(introspect(&events_url)).unwrap();
        assert_eq!(crm.dialect, Dialect::Sqlite);
        check_demo_schema(&crm, &events);
        let crm_draft = check_draft(&crm, "crm");
        let events_draft = check_draft(&events, "events");
        check_demo_guesses(&crm_draft, &events_draft);
        check_demo_annotations(&crm, &events);
    }

    #[test]
    fn postgres_demo_schema_is_read_drafted_and_checked() {
        let Ok(base) = std::env::var("COVENANT_TEST_POSTGRES_URL") else { return };
        let rt = runtime();
        rt.block_on(async {
            let name = format!("covenant_introspect_{}", std::process::id());
            let mut admin = PgConnection::connect(&base).await.unwrap();
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\"");
            sqlx::raw_sql(sqlx::AssertSqlSafe(drop.clone())).execute(&mut admin).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut admin)
                .await
                .unwrap();
            let url = with_database(&base, &name);
            let mut conn = PgConnection::connect(&url).await.unwrap();
            for sql in [CRM_POSTGRES, EVENTS_POSTGRES] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.unwrap();
            }
            conn.close().await.unwrap();
            let both = introspect(&url).await.unwrap();
            assert_eq!(both.dialect, Dialect::Postgres);
            assert_eq!(both.default_schema.as_deref(), Some("public"));
            // One database holds both sets of tables; split them as the demo does.
            let split = |names: &[&str]| DatabaseSchema {
                tables: both.tables.iter().filter(|t| names.contains(&t.name.as_str())).cloned().collect(),
                ..both.clone()
            };
            let events = split(&["email_events", "login_events"]);
            let crm = DatabaseSchema {
                tables: both.tables.iter().filter(|t| !t.name.ends_with("_events")).cloned().collect(),
                ..both.clone()
            };
            check_demo_schema(&crm, &events);
            assert!(crm.table(None, "users").unwrap().column("created_at").unwrap().data_type.contains("timestamp"));
            let crm_draft = check_draft(&crm, "crm");
            let events_draft = check_draft(&events, "events");
            check_demo_guesses(&crm_draft, &events_draft);
            assert!(crm_draft.tables.iter().all(|t| t.schema.is_none()), "the default schema is not written");
            check_demo_annotations(&crm, &events);
            sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await.unwrap();
            admin.close().await.unwrap();
        });
    }

    fn with_database(url: &str, db: &str) -> String {
        let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
        let (scheme, rest) = base.split_once("://").unwrap();
        let host = rest.split('/').next().unwrap();
        match query {
            Some(q) => format!("{scheme}://{host}/{db}?{q}"),
            None => format!("{scheme}://{host}/{db}"),
        }
    }

    #[test]
    fn missing_tables_columns_and_strategies_are_found() {
        let schema = DatabaseSchema {
            dialect: Dialect::Sqlite,
            default_schema: None,
            tables: vec![TableSchema {
                schema: None,
                name: "users".into(),
                columns: vec![
                    ColumnSchema {
                        name: "id".into(),
                        data_type: "INTEGER".into(),
                        nullable: false,
                        case_insensitive_index: false,
                    },
                    ColumnSchema {
                        name: "email".into(),
                        data_type: "TEXT".into(),
                        nullable: false,
                        case_insensitive_index: false,
                    },
                ],
                primary_key: vec!["id".into()],
                unique_keys: vec![],
                foreign_keys: vec![],
            }],
        };
        let ds = parse_dataset(
            r#"
schema = 1
id = "app"
name = "App"
[[tables]]
name = "users"
primary_key = ["email"]
timestamp = "created_at"
erase = "update"
columns = [{ name = "email", identity = "email", erase = "null" }, { name = "emaill" }]
[[tables]]
name = "user"
primary_key = ["id"]
"#,
            Format::Toml,
        )
        .unwrap();
        let found: Vec<(&str, String, String)> =
            missing_in_database(&ds, &schema).into_iter().map(|d| (d.code, d.path.to_string(), d.message)).collect();
        let codes: Vec<(&str, &str)> = found.iter().map(|(c, p, _)| (*c, p.as_str())).collect();
        assert_eq!(
            codes,
            [
                ("primary-key-not-unique", "tables[0].primary_key"),
                ("not-in-database", "tables[0].timestamp"),
                ("null-into-not-null", "tables[0].columns[0].erase"),
                ("not-in-database", "tables[0].columns[1].name"),
                ("not-in-database", "tables[1].name"),
            ]
        );
        assert!(found[1].2.contains("`users.created_at`"), "{}", found[1].2);
        let help = missing_in_database(&ds, &schema).into_iter().nth(3).unwrap().help.unwrap();
        assert!(help.contains("did you mean `email`?"), "{help}");
    }

    #[test]
    fn lowered_columns_are_read_from_index_expressions() {
        assert_eq!(lowered_column("lower(email)").as_deref(), Some("email"));
        assert_eq!(lowered_column("lower(email::text)").as_deref(), Some("email"));
        assert_eq!(lowered_column("lower((email)::text)").as_deref(), Some("email"));
        assert_eq!(lowered_column("lower(\"E-\"\"mail\"::text)").as_deref(), Some("E-\"mail"));
        for other in ["upper(email)", "lower(email || name)", "lower(trim(email))", "email", "lower()"] {
            assert_eq!(lowered_column(other), None, "{other}");
        }
    }

    const CASES: &str = r#"
schema = 1
id = "app"
name = "App"
[[tables]]
name = "people"
primary_key = ["id"]
columns = [
  { name = "email", identity = "email", match = "case_insensitive" },
  { name = "work_email", identity = "email" },
  { name = "alt_email", identity = "email" },
  { name = "lower_email", identity = "email" },
]
"#;

    /// What introspection, drafting and the data check say about the case of `people`'s emails.
    async fn check_case(url: &str) {
        let schema = introspect(url).await.unwrap();
        let people = schema.table(None, "people").unwrap();
        let indexed: Vec<&str> =
            people.columns.iter().filter(|c| c.case_insensitive_index).map(|c| c.name.as_str()).collect();
        let draft = draft_annotations(&schema, &DraftOptions { id: "app", source: "test", policy: None });
        let ds = parse_dataset(&draft, Format::Toml).unwrap();
        let proposed: Vec<&str> = ds.tables[0]
            .columns
            .iter()
            .filter(|c| c.matching == IdentityMatch::CaseInsensitive)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(proposed, indexed, "{draft}");
        let ds = parse_dataset(CASES, Format::Toml).unwrap();
        let warned: Vec<(String, String)> = identity_case_warnings(url, &ds, &schema)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.path.to_string(), d.message))
            .collect();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert_eq!(warned[0].0, "tables[0].columns[2].identity");
        assert!(warned[0].1.starts_with("2 rows of `people.alt_email` hold an email with capitals"), "{}", warned[0].1);
    }

    const PEOPLE_ROWS: &str = "INSERT INTO people VALUES \
        (1, 'Ada@Example.COM', 'Ada@Work.COM', 'Ada@Alt.com', 'ada@example.com'), \
        (2, 'bob@example.com', 'bob@work.com', 'BOB@alt.com', 'bob@example.com'), \
        (3, NULL, NULL, NULL, NULL);";

    #[test]
    fn sqlite_case_insensitive_indexes_are_proposed_and_capitals_counted() {
        let dir = tempfile::tempdir().unwrap();
        // `email` has a NOCASE index, `work_email` is a NOCASE column with an ordinary index;
        // `alt_email` and `lower_email` have neither.
        let url = sqlite_db(
            dir.path(),
            "app.db",
            &format!(
                "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, work_email TEXT COLLATE NOCASE, alt_email TEXT, lower_email TEXT);\
                 CREATE INDEX people_email ON people (email COLLATE NOCASE);\
                 CREATE INDEX people_work ON people (work_email);\
                 CREATE INDEX people_alt ON people (alt_email);\
                 {PEOPLE_ROWS}"
            ),
        );
        let rt = runtime();
        let schema = rt.block_on(introspect(&url)).unwrap();
        let flags: Vec<(&str, bool)> =
            schema.tables[0].columns.iter().map(|c| (c.name.as_str(), c.case_insensitive_index)).collect();
        assert_eq!(
            flags,
            [("id", false), ("email", true), ("work_email", true), ("alt_email", false), ("lower_email", false)]
        );
        rt.block_on(check_case(&url));
    }

    #[test]
    fn postgres_lower_indexes_are_proposed_and_capitals_counted() {
        let Ok(base) = std::env::var("COVENANT_TEST_POSTGRES_URL") else { return };
        runtime().block_on(async {
            let name = format!("covenant_introspect_case_{}", std::process::id());
            let mut admin = PgConnection::connect(&base).await.unwrap();
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\"");
            sqlx::raw_sql(sqlx::AssertSqlSafe(drop.clone())).execute(&mut admin).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut admin).await.unwrap();
            let url = with_database(&base, &name);
            let mut conn = PgConnection::connect(&url).await.unwrap();
            // `email` (varchar) and `work_email` have `lower()` indexes; `alt_email` an
            // ordinary one; a partial `lower()` index does not count.
            let sql = format!(
                "CREATE TABLE people (id BIGINT PRIMARY KEY, email VARCHAR(200), work_email TEXT, alt_email TEXT, lower_email TEXT);\
                 CREATE INDEX people_email ON people (lower(email));\
                 CREATE INDEX people_work ON people (lower(work_email));\
                 CREATE INDEX people_alt ON people (alt_email);\
                 CREATE INDEX people_lower_partial ON people (lower(lower_email)) WHERE id > 100;\
                 {PEOPLE_ROWS}"
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
            let schema = introspect(&url).await.unwrap();
            let indexed: Vec<&str> = schema.tables[0]
                .columns
                .iter()
                .filter(|c| c.case_insensitive_index)
                .map(|c| c.name.as_str())
                .collect();
            assert_eq!(indexed, ["email", "work_email"]);
            // `work_email` is text without NOCASE here: its capitals count too.
            let ds = parse_dataset(CASES, Format::Toml).unwrap();
            let warned: Vec<String> = identity_case_warnings(&url, &ds, &schema)
                .await
                .unwrap()
                .into_iter()
                .map(|d| format!("{} {}", d.path, d.message))
                .collect();
            assert_eq!(warned.len(), 2, "{warned:?}");
            assert!(warned[0].starts_with("tables[0].columns[1].identity 1 row of `people.work_email` holds"), "{warned:?}");
            assert!(warned[1].starts_with("tables[0].columns[2].identity 2 rows of `people.alt_email`"), "{warned:?}");
            sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await.unwrap();
            admin.close().await.unwrap();
        });
    }

    #[test]
    fn guesses_follow_names_and_types() {
        let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
            ("email", "TEXT", Some("user.contact.email"), Some("email")),
            ("billing_email", "varchar(200)", Some("user.contact.email"), Some("email")),
            ("email_verified", "BOOLEAN", None, None),
            ("mobile", "TEXT", Some("user.contact.phone_number"), Some("phone")),
            ("last_ip", "inet", Some("user.device.ip_address"), None),
            ("ip_address", "TEXT", Some("user.device.ip_address"), None),
            ("card_last4", "TEXT", Some("user.financial.credit_card"), None),
            ("password_hash", "TEXT", Some("user.authorization.credentials"), None),
            ("first_name", "TEXT", Some("user.name.first"), None),
            ("full_name", "TEXT", Some("user.name"), None),
            ("billing_address", "TEXT", Some("user.contact.address"), None),
            ("dob", "DATE", Some("user.demographic.date_of_birth"), None),
            ("created_at", "TEXT", None, None),
            ("plan", "TEXT", None, None),
        ];
        for (name, ty, standard, identity) in cases {
            let g = guess_column(name, ty);
            assert_eq!(g.as_ref().map(|g| g.standard), *standard, "{name}");
            assert_eq!(g.as_ref().and_then(|g| g.identity), *identity, "{name}");
        }
    }

    #[test]
    fn ids_come_from_urls_and_passwords_are_hidden() {
        assert_eq!(dataset_id_from_url("sqlite:///tmp/demo/crm.db"), "crm");
        assert_eq!(dataset_id_from_url("sqlite://crm.db?mode=ro"), "crm");
        assert_eq!(dataset_id_from_url("postgres://u:p@h:5432/Shop-DB"), "shop-db");
        assert_eq!(dataset_id_from_url("sqlite://2024.db"), "db_2024");
        assert_eq!(redact_url("postgres://u:secret@h:5432/db?x=1"), "postgres://u:***@h:5432/db?x=1");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://crm.db"), "sqlite://crm.db");
        assert_eq!(toml_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn unsupported_urls_and_missing_files_are_errors() {
        let rt = runtime();
        let e = rt.block_on(introspect("mysql://x/y")).unwrap_err();
        assert!(e.to_string().contains("`mysql://x/y` is not a database URL"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = rt.block_on(introspect(&format!("sqlite://{}/none.db", dir.path().display()))).unwrap_err();
        assert!(e.to_string().starts_with("cannot open the database"), "{e}");
        assert!(!dir.path().join("none.db").exists(), "introspection must not create files");
    }
}
