//! Shared helpers: generating into a temporary folder, dumping every table in a canonical text
//! form (the same on both backends), and counting Ada's rows the way the annotations find them.

mod annotations;
mod postgres;
mod sqlite;

use std::path::Path;

use covenant_demo_app::{ADA_EMAIL, ADA_PHONE, Database, Options, Summary, TABLES};
use sha2::{Digest, Sha256};

pub fn options(contacts: u64, seed: u64) -> Options {
    let mut o = Options::new(contacts);
    o.seed = seed;
    o
}

pub fn generate(dir: &Path, contacts: u64, seed: u64) -> Summary {
    covenant_demo_app::write_sqlite(dir, &options(contacts, seed), false).unwrap()
}

pub fn open(dir: &Path, db: Database) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(dir.join(db.file_name()), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// Every row of every table as `table|v1|v2…` (NULL as `\N`), tables in order, rows by their
/// first column.
pub fn dump_sqlite(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for db in Database::ALL {
        let conn = open(dir, db);
        for t in db.tables() {
            let cols: Vec<String> = t.columns.iter().map(|c| format!("CAST(\"{c}\" AS TEXT)")).collect();
            let sql = format!("SELECT {} FROM \"{}\" ORDER BY \"{}\"", cols.join(", "), t.name, t.columns[0]);
            let mut stmt = conn.prepare(&sql).unwrap();
            let mut rows = stmt.query([]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                let mut line = t.name.to_owned();
                for i in 0..t.columns.len() {
                    line.push('|');
                    line.push_str(&r.get::<_, Option<String>>(i).unwrap().unwrap_or_else(|| "\\N".to_owned()));
                }
                lines.push(line);
            }
        }
    }
    lines
}

pub fn checksum(lines: &[String]) -> String {
    let mut h = Sha256::new();
    for l in lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// One count of Ada's rows: the database, the table, and the SQL counting her rows and the rows
/// that only mention her (`{PID}` stands for her public id, found in `crm`).
pub struct AdaQuery {
    pub database: Database,
    pub table: &'static str,
    pub rows: String,
    pub mentions: Option<String>,
}

/// Ada's rows as the annotations find them: by her identities (email, phone, public id), then
/// by `belongs_to` links; mentions through `mentions` links.
pub fn ada_queries() -> Vec<AdaQuery> {
    let me = format!("SELECT id FROM users WHERE email = '{ADA_EMAIL}' OR phone = '{ADA_PHONE}'");
    let contact = format!("SELECT id FROM contacts WHERE email = '{ADA_EMAIL}' OR phone = '{ADA_PHONE}'");
    let cards = format!("SELECT id FROM client_cards WHERE contact_id IN ({contact})");
    let q = |database, table, rows: String, mentions: Option<String>| AdaQuery { database, table, rows, mentions };
    use Database::{Crm, Events};
    vec![
        q(Crm, "users", format!("SELECT COUNT(*) FROM users WHERE id IN ({me})"), None),
        q(Crm, "contacts", format!("SELECT COUNT(*) FROM contacts WHERE id IN ({contact})"), None),
        q(Crm, "client_cards", format!("SELECT COUNT(*) FROM client_cards WHERE id IN ({cards})"), None),
        q(
            Crm,
            "comments",
            format!("SELECT COUNT(*) FROM comments WHERE card_id IN ({cards})"),
            Some(format!("SELECT COUNT(*) FROM comments WHERE author_user_id IN ({me}) AND card_id NOT IN ({cards})")),
        ),
        q(
            Crm,
            "tickets",
            format!("SELECT COUNT(*) FROM tickets WHERE user_id IN ({me})"),
            Some(format!("SELECT COUNT(*) FROM tickets WHERE assignee_id IN ({me}) AND user_id NOT IN ({me})")),
        ),
        q(
            Crm,
            "payments",
            format!("SELECT COUNT(*) FROM payments WHERE user_id IN ({me}) OR billing_email = '{ADA_EMAIL}'"),
            None,
        ),
        q(Crm, "ai_messages", format!("SELECT COUNT(*) FROM ai_messages WHERE user_id IN ({me})"), None),
        q(
            Crm,
            "invitations",
            format!("SELECT COUNT(*) FROM invitations WHERE email = '{ADA_EMAIL}'"),
            Some(format!(
                "SELECT COUNT(*) FROM invitations WHERE invited_by_user_id IN ({me}) AND email <> '{ADA_EMAIL}'"
            )),
        ),
        q(
            Crm,
            "marketing_preferences",
            format!("SELECT COUNT(*) FROM marketing_preferences WHERE email = '{ADA_EMAIL}'"),
            None,
        ),
        q(Events, "email_events", format!("SELECT COUNT(*) FROM email_events WHERE email = '{ADA_EMAIL}'"), None),
        q(Events, "login_events", "SELECT COUNT(*) FROM login_events WHERE user_ref = '{PID}'".to_owned(), None),
    ]
}

/// Checks counts of Ada's rows against `ada_expected_rows()`; `count` runs one query.
pub fn check_ada(mut count: impl FnMut(Database, &str) -> i64) {
    let pid = covenant_demo_app::ada_public_id();
    let expected = covenant_demo_app::ada_expected_rows();
    let queries = ada_queries();
    assert_eq!(
        queries.iter().map(|q| q.table).collect::<Vec<_>>(),
        expected.iter().map(|e| e.table).collect::<Vec<_>>()
    );
    let mut tables_with_rows = 0;
    for (q, e) in queries.iter().zip(&expected) {
        assert_eq!(q.database, e.database, "{}", q.table);
        let rows = count(q.database, &q.rows.replace("{PID}", &pid));
        assert_eq!(rows as u64, e.rows, "Ada's rows in {}", q.table);
        let mentions = q.mentions.as_ref().map_or(0, |m| count(q.database, m));
        assert_eq!(mentions as u64, e.mentions, "rows of {} that mention Ada", q.table);
        if rows > 0 {
            tables_with_rows += 1;
        }
    }
    assert!(tables_with_rows >= 5);
    assert!(TABLES.len() >= tables_with_rows);
}
