//! The demo customer application: a call-center CRM in the style of Oki-Toki
//! (`examples/okitoki/policy.toml`), with two databases, `crm` and `events`
//! (`examples/crm/sql/`), annotated for Covenant in `examples/crm/*.dataset.toml`.
//!
//! [`write_sqlite`] and [`write_postgres`] fill them with realistic, deterministic data: the
//! same options always give the same rows, byte for byte. About `contacts` contacts are spread
//! over `contacts / 100` customer accounts, each with users (about one per 20 contacts) who
//! write comments on client cards, open support tickets, pay invoices, talk to the AI assistant,
//! sign in and open emails.
//!
//! Whatever the size, the story's people are there with the lowest ids: **Ada Lovelace**
//! (`ada@example.com`), a user of account 1 with tickets, payments, AI messages, login and email
//! events and marketing preferences, who is also a contact of account 2 (cards, comments), the
//! assignee of Bob's tickets and the author of comments on account 1's cards;
//! **Bob Marsh** (`bob@example.com`), her colleague, whose rows an erasure of Ada must not touch;
//! Grace Hopper, who serves Ada in account 2; and contacts who share a company (Charles Babbage and
//! Mary Somerville) or a phone number (Tom and Tessa Hale). [`ada_expected_rows`] says how many
//! rows of each table are Ada's.

mod model;
mod postgres;
pub mod rng;
mod sqlite;
mod tables;
pub mod time;
mod words;

use std::path::PathBuf;
use std::time::Duration;

pub use model::{Sizes, public_id};
pub use postgres::write_postgres;
pub use sqlite::write_sqlite;
pub use tables::{Database, TABLES, TableDef};

/// The `crm` database's schema for SQLite.
pub const CRM_SQLITE_SQL: &str = include_str!("../../../examples/crm/sql/crm.sqlite.sql");
/// The `events` database's schema for SQLite.
pub const EVENTS_SQLITE_SQL: &str = include_str!("../../../examples/crm/sql/events.sqlite.sql");
/// The `crm` database's schema for PostgreSQL.
pub const CRM_POSTGRES_SQL: &str = include_str!("../../../examples/crm/sql/crm.postgres.sql");
/// The `events` database's schema for PostgreSQL.
pub const EVENTS_POSTGRES_SQL: &str = include_str!("../../../examples/crm/sql/events.postgres.sql");
/// The policy the application is run under (Oki-Toki's).
pub const POLICY_TOML: &str = include_str!("../../../examples/okitoki/policy.toml");
/// The `crm` database's dataset annotations.
pub const CRM_DATASET_TOML: &str = include_str!("../../../examples/crm/crm.dataset.toml");
/// The `events` database's dataset annotations.
pub const EVENTS_DATASET_TOML: &str = include_str!("../../../examples/crm/events.dataset.toml");

/// Ada's email: a user of account 1 and a contact of account 2.
pub const ADA_EMAIL: &str = "ada@example.com";
/// Ada's phone, on her user row and on her contact row.
pub const ADA_PHONE: &str = "+442079460991";
/// Ada's row id in `users`.
pub const ADA_USER_ID: i64 = 1;
/// Ada's row id in `contacts`.
pub const ADA_CONTACT_ID: i64 = 1;
/// Bob's email: Ada's colleague in account 1, assigned her tickets; never Ada's data.
pub const BOB_EMAIL: &str = "bob@example.com";
/// The phone number Tom and Tessa Hale (contacts 4 and 5) share.
pub const SHARED_PHONE: &str = "+442079460123";

/// The seed used when none is given.
pub const DEFAULT_SEED: u64 = 42;
/// The day generated timestamps end at when none is given (they spread over the three years
/// before it). Fixed, so that the same options give the same data on any day.
pub const DEFAULT_UNTIL: &str = "2026-11-01";

/// Ada's public id (`users.public_id`, the account id `login_events.user_ref` knows her by).
pub fn ada_public_id() -> String {
    public_id(ADA_USER_ID)
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// About how many contacts (at least the story's five are written).
    pub contacts: u64,
    pub seed: u64,
    /// Seconds since the epoch at which generated time ends.
    pub until: i64,
    /// Show a progress bar per table (only when standard error is a terminal).
    pub progress: bool,
}

impl Options {
    pub fn new(contacts: u64) -> Options {
        let until = time::parse_date(DEFAULT_UNTIL).unwrap_or(0);
        Options { contacts, seed: DEFAULT_SEED, until, progress: false }
    }
}

/// How many rows one table got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCount {
    pub database: Database,
    pub table: &'static str,
    pub rows: u64,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct Summary {
    pub tables: Vec<TableCount>,
    pub elapsed: Duration,
    /// The SQLite files written (none for PostgreSQL).
    pub files: Vec<PathBuf>,
}

impl Summary {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    pub fn rows(&self, table: &str) -> Option<u64> {
        self.tables.iter().find(|t| t.table == table).map(|t| t.rows)
    }
}

/// Why the demo data could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{}` already exists; pass --replace to overwrite it", path.display())]
    Exists { path: PathBuf },
    #[error(
        "the database already has the demo application's tables ({tables}); pass --replace to drop and recreate them"
    )]
    TablesExist { tables: String },
    #[error("cannot write `{}`: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("SQLite failed on `{}` while {what}: {source}", path.display())]
    Sqlite { path: PathBuf, what: String, source: rusqlite::Error },
    #[error("PostgreSQL failed while {what}: {source}")]
    Postgres { what: String, source: sqlx::Error },
    #[error("the data generator stopped before the end of table `{table}`")]
    Generator { table: &'static str },
}

/// How many rows of one table are Ada's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    pub database: Database,
    pub table: &'static str,
    /// Rows that are hers: found by her identities (email, phone, public id) or belonging to a
    /// row that is (her contact's client cards and their comments, her tickets, …).
    pub rows: u64,
    /// Other people's rows that only mention her (tickets assigned to her, comments she wrote on
    /// other people's cards, the invitation she sent Bob).
    pub mentions: u64,
}

/// Ada's rows per table, whatever the size and seed (the generated rows never touch her).
pub fn ada_expected_rows() -> Vec<Expected> {
    use Database::{Crm, Events};
    let e = |database, table, rows, mentions| Expected { database, table, rows, mentions };
    vec![
        e(Crm, "users", 1, 0),
        e(Crm, "contacts", 1, 0),
        e(Crm, "client_cards", 2, 0),
        e(Crm, "comments", 3, 3),
        e(Crm, "tickets", 3, 2),
        e(Crm, "payments", 4, 0),
        e(Crm, "ai_messages", 6, 0),
        e(Crm, "invitations", 1, 1),
        e(Crm, "marketing_preferences", 1, 0),
        e(Events, "email_events", 4, 0),
        e(Events, "login_events", 5, 0),
    ]
}

/// The schema split into its `CREATE TABLE` statements and its `CREATE INDEX` statements
/// (indexes are built after the rows are in: much faster).
pub(crate) fn split_schema(sql: &str) -> (Vec<String>, Vec<String>) {
    let mut text = String::with_capacity(sql.len());
    for line in sql.lines() {
        let code = line.split_once("--").map_or(line, |(code, _)| code);
        text.push_str(code);
        text.push('\n');
    }
    let (mut tables, mut indexes) = (Vec::new(), Vec::new());
    for stmt in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let upper = stmt.to_ascii_uppercase();
        if upper.starts_with("CREATE INDEX") || upper.starts_with("CREATE UNIQUE INDEX") {
            indexes.push(stmt.to_owned());
        } else {
            tables.push(stmt.to_owned());
        }
    }
    (tables, indexes)
}

/// A progress bar for one table (hidden unless asked for and standard error is a terminal).
pub(crate) fn table_bar(
    multi: &indicatif::MultiProgress,
    db: Database,
    table: &str,
    units: u64,
) -> indicatif::ProgressBar {
    let bar = multi.add(indicatif::ProgressBar::new(units));
    let style =
        indicatif::ProgressStyle::with_template("{prefix:>28} [{bar:30}] {percent:>3}% {elapsed_precise} {msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("{}.{table}", db.name()));
    bar
}

pub(crate) fn multi_progress(show: bool) -> indicatif::MultiProgress {
    if show {
        indicatif::MultiProgress::new()
    } else {
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_split_into_tables_and_indexes() {
        let (tables, indexes) = split_schema(CRM_SQLITE_SQL);
        assert_eq!(tables.len(), TABLES.iter().filter(|t| t.database == Database::Crm).count());
        assert!(tables.iter().all(|t| t.starts_with("CREATE TABLE")));
        assert!(indexes.len() >= 10);
        let (tables, _) = split_schema(EVENTS_POSTGRES_SQL);
        assert_eq!(tables.len(), 2);
    }

    #[test]
    fn every_table_is_in_the_schema_with_its_columns() {
        for db in Database::ALL {
            for schema in [db.sqlite_schema(), db.postgres_schema()] {
                for t in db.tables() {
                    let start = schema.find(&format!("CREATE TABLE {} (", t.name)).unwrap();
                    let body = &schema[start..start + schema[start..].find(");").unwrap()];
                    for c in t.columns {
                        assert!(body.contains(&format!("\n    {c} ")), "{}.{c}", t.name);
                    }
                }
            }
        }
    }

    #[test]
    fn ada_has_rows_in_at_least_five_tables() {
        let rows = ada_expected_rows();
        assert!(rows.iter().filter(|e| e.rows > 0).count() >= 5);
        assert_eq!(ada_public_id(), public_id(1));
    }
}
