//! `covenant bench dsr`: data-subject requests on the demo application, against hand-written SQL
//! doing the same reads and writes, in the same run.
//!
//! Generates the demo databases (`covenant demo-data`) with CONTACTS contacts (or uses an
//! existing demo folder's covenant.toml), then for SAMPLES random users: an access request and
//! an erasure request through the executor (median milliseconds), the same reads and writes as
//! fixed hand-written statements (median), the two alternating, and a batch of BATCH erasures
//! of other users through [`Executor::run_batches`] (erasures per second): CHUNK requests per
//! transaction of each database, a chunk's people looked up together in CONCURRENCY parts at
//! the same time, the next CHUNK looked
//! up while one is written; and the same batch of hand-written erasures of other users, run the
//! same way (chunks, reads CONCURRENCY at a time, one transaction per database and chunk, the
//! next chunk read while one is written), the two in turn, ROUNDS whole batches each; and the floor of the
//! users' batch: the writes alone of erasing yet other users, set-based (one statement per table
//! for a whole chunk, no reads, no journal), half before the two batches and half after; then
//! the same pair of batches for contacts, each erased on the instruction of its customer. The
//! hand-written statements live here, fixed text run through `Connector::run_fixed`: the
//! executor builds its own SQL in the connectors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use covenant_connectors::{Backend, Connector, ConnectorOptions, Value};
use covenant_core::Identity;
use covenant_core::audit::AuditDraft;
use covenant_dsr::{Config, Executor, Outcome, Quiet, Request, RequestKind, Scope};
use covenant_store::{SqlStore, Store};

/// The demo application a benchmark runs on: `config`'s, or one generated with `contacts`
/// contacts into `out` (default: a folder in the temporary directory), on PostgreSQL when
/// `postgres` is given.
pub struct DemoSource<'a> {
    pub contacts: u64,
    pub postgres: Option<&'a str>,
    pub config: Option<&'a Path>,
    pub out: Option<&'a Path>,
}

pub struct DsrBenchOptions<'a> {
    pub demo: DemoSource<'a>,
    pub samples: usize,
    pub batch: usize,
    pub concurrency: usize,
    pub chunk: usize,
    /// Whole batches each side runs, in turn.
    pub rounds: usize,
}

/// A user of the demo data: the values the hand-written statements take.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub id: i64,
    pub email: String,
    pub public_id: String,
    pub phone: Option<String>,
}

fn median(mut v: Vec<Duration>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

/// The hand-written reads of an access request, per backend: the same lookups the plan makes.
struct Sql {
    user_by_email: &'static str,
    user_by_public_id: &'static str,
    user_by_phone: &'static str,
    payments_by_email: &'static str,
    payments_by_user: &'static str,
    tickets_by_user: &'static str,
    ai_by_user: &'static str,
    invitations_by_email: &'static str,
    prefs_by_email: &'static str,
    contacts_by_email: &'static str,
    contacts_by_phone: &'static str,
    mention_comments: &'static str,
    mention_tickets: &'static str,
    mention_invitations: &'static str,
    email_events: &'static str,
    login_events: &'static str,
    /// A user's erasure, by the user's id (`$1`) and email address (`$2`) or public id.
    erase: ErasureSql,
    /// The same erasure for many users at once, set-based: each `$n` is a JSON array of their
    /// ids, email addresses or public ids. A users' batch's writes alone, the least SQL this
    /// schema's erasure takes.
    bulk: ErasureSql,
    /// How many of the users of a JSON array of ids are left.
    users_left: &'static str,
    // a contact erased on its customer's instruction: reads, then writes
    contact_rows: &'static str,
    contact_cards: &'static str,
    contact_comments: &'static str,
    delete_contact_comments: &'static str,
    delete_contact_cards: &'static str,
    delete_contact: &'static str,
}

/// The writes of a user's erasure: mentions cut, the payments detached, the user's rows deleted.
struct ErasureSql {
    cut_comments: &'static str,
    cut_tickets: &'static str,
    cut_invitations: &'static str,
    update_payments: &'static str,
    delete_tickets: &'static str,
    delete_ai: &'static str,
    delete_invitations: &'static str,
    delete_users: &'static str,
    delete_prefs: &'static str,
    delete_email_events: &'static str,
    delete_login_events: &'static str,
}

impl ErasureSql {
    /// The statements with their values, on `crm` and on `events`: `id`, `email` and
    /// `public_id` are the user's (or, set-based, JSON arrays of the users').
    fn statements(&self, id: Value, email: Value, public_id: Value) -> (Statements, Statements) {
        let crm = vec![
            (self.cut_comments, vec![id.clone()]),
            (self.cut_tickets, vec![id.clone()]),
            (self.cut_invitations, vec![id.clone(), email.clone()]),
            (self.update_payments, vec![id.clone(), email.clone()]),
            (self.delete_tickets, vec![id.clone()]),
            (self.delete_ai, vec![id.clone()]),
            (self.delete_invitations, vec![email.clone()]),
            (self.delete_users, vec![id]),
            (self.delete_prefs, vec![email.clone()]),
        ];
        let events = vec![(self.delete_email_events, vec![email]), (self.delete_login_events, vec![public_id])];
        (crm, events)
    }
}

const SQLITE: Sql = Sql {
    user_by_email: "SELECT id, public_id, email, full_name, phone, password_hash, time_zone FROM users WHERE email = $1",
    user_by_public_id: "SELECT id, public_id, email, full_name, phone, password_hash, time_zone FROM users WHERE public_id = $1",
    user_by_phone: "SELECT id, public_id, email, full_name, phone, password_hash, time_zone FROM users WHERE phone = $1",
    payments_by_email: "SELECT id, billing_email, card_holder, billing_address, amount_cents, card_last4, user_id FROM payments WHERE billing_email = $1",
    payments_by_user: "SELECT id, billing_email, card_holder, billing_address, amount_cents, card_last4, user_id FROM payments WHERE user_id = $1",
    tickets_by_user: "SELECT id, subject, body, assignee_id, user_id FROM tickets WHERE user_id = $1",
    ai_by_user: "SELECT id, content, user_id FROM ai_messages WHERE user_id = $1",
    invitations_by_email: "SELECT id, email, invited_by_user_id FROM invitations WHERE email = $1",
    prefs_by_email: "SELECT email, newsletter, promotional, last_interaction_at FROM marketing_preferences WHERE email = $1",
    contacts_by_email: "SELECT id, account_id FROM contacts WHERE email = $1",
    contacts_by_phone: "SELECT id, account_id FROM contacts WHERE phone = $1",
    mention_comments: "SELECT id, author_user_id FROM comments WHERE author_user_id = $1",
    mention_tickets: "SELECT id, assignee_id FROM tickets WHERE assignee_id = $1",
    mention_invitations: "SELECT id, invited_by_user_id FROM invitations WHERE invited_by_user_id = $1",
    email_events: "SELECT id, email, campaign, kind, ip, user_agent FROM email_events WHERE email = $1",
    login_events: "SELECT id, user_ref, ip, user_agent FROM login_events WHERE user_ref = $1",
    erase: ErasureSql {
        cut_comments: "UPDATE comments SET author_user_id = NULL WHERE author_user_id = $1",
        cut_tickets: "UPDATE tickets SET assignee_id = NULL WHERE assignee_id = $1 AND user_id <> $1",
        cut_invitations: "UPDATE invitations SET invited_by_user_id = NULL WHERE invited_by_user_id = $1 AND email <> $2",
        update_payments: "UPDATE payments SET card_last4 = NULL, user_id = NULL WHERE user_id = $1 OR billing_email = $2",
        delete_tickets: "DELETE FROM tickets WHERE user_id = $1",
        delete_ai: "DELETE FROM ai_messages WHERE user_id = $1",
        delete_invitations: "DELETE FROM invitations WHERE email = $1",
        delete_users: "DELETE FROM users WHERE id = $1",
        delete_prefs: "DELETE FROM marketing_preferences WHERE email = $1",
        delete_email_events: "DELETE FROM email_events WHERE email = $1",
        delete_login_events: "DELETE FROM login_events WHERE user_ref = $1",
    },
    bulk: ErasureSql {
        cut_comments: "UPDATE comments SET author_user_id = NULL WHERE author_user_id IN (SELECT value FROM json_each($1))",
        cut_tickets: "UPDATE tickets SET assignee_id = NULL WHERE assignee_id IN (SELECT value FROM json_each($1)) AND user_id NOT IN (SELECT value FROM json_each($1))",
        cut_invitations: "UPDATE invitations SET invited_by_user_id = NULL WHERE invited_by_user_id IN (SELECT value FROM json_each($1)) AND email NOT IN (SELECT value FROM json_each($2))",
        update_payments: "UPDATE payments SET card_last4 = NULL, user_id = NULL WHERE user_id IN (SELECT value FROM json_each($1)) OR billing_email IN (SELECT value FROM json_each($2))",
        delete_tickets: "DELETE FROM tickets WHERE user_id IN (SELECT value FROM json_each($1))",
        delete_ai: "DELETE FROM ai_messages WHERE user_id IN (SELECT value FROM json_each($1))",
        delete_invitations: "DELETE FROM invitations WHERE email IN (SELECT value FROM json_each($1))",
        delete_users: "DELETE FROM users WHERE id IN (SELECT value FROM json_each($1))",
        delete_prefs: "DELETE FROM marketing_preferences WHERE email IN (SELECT value FROM json_each($1))",
        delete_email_events: "DELETE FROM email_events WHERE email IN (SELECT value FROM json_each($1))",
        delete_login_events: "DELETE FROM login_events WHERE user_ref IN (SELECT value FROM json_each($1))",
    },
    users_left: "SELECT count(*) FROM users WHERE id IN (SELECT value FROM json_each($1))",
    contact_rows: "SELECT id, email, phone, first_name, last_name, company, notes FROM contacts WHERE account_id = $1 AND (email = $2 OR phone = $3)",
    contact_cards: "SELECT c.id, c.title, c.body, c.contact_id FROM client_cards c JOIN contacts p ON p.id = c.contact_id WHERE p.account_id = $1 AND (p.email = $2 OR p.phone = $3)",
    contact_comments: "SELECT m.id, m.body, m.author_user_id, m.card_id FROM comments m JOIN client_cards c ON c.id = m.card_id JOIN contacts p ON p.id = c.contact_id WHERE p.account_id = $1 AND (p.email = $2 OR p.phone = $3)",
    delete_contact_comments: "DELETE FROM comments WHERE card_id IN (SELECT c.id FROM client_cards c JOIN contacts p ON p.id = c.contact_id WHERE p.account_id = $1 AND (p.email = $2 OR p.phone = $3))",
    delete_contact_cards: "DELETE FROM client_cards WHERE contact_id IN (SELECT id FROM contacts WHERE account_id = $1 AND (email = $2 OR phone = $3))",
    delete_contact: "DELETE FROM contacts WHERE account_id = $1 AND (email = $2 OR phone = $3)",
};

const POSTGRES: Sql = Sql {
    user_by_email: "SELECT id, public_id, email, full_name, phone, password_hash, time_zone FROM users WHERE email = $1",
    user_by_public_id: "SELECT id, public_id, email, full_name, phone, password_hash, time_zone FROM users WHERE public_id = $1",
    user_by_phone: "SELECT id, public_id, email, full_name, phone, password_hash, time_zone FROM users WHERE phone = $1",
    payments_by_email: "SELECT id, billing_email, card_holder, billing_address, amount_cents, card_last4, user_id FROM payments WHERE billing_email = $1",
    payments_by_user: "SELECT id, billing_email, card_holder, billing_address, amount_cents, card_last4, user_id FROM payments WHERE user_id = CAST($1 AS bigint)",
    tickets_by_user: "SELECT id, subject, body, assignee_id, user_id FROM tickets WHERE user_id = CAST($1 AS bigint)",
    ai_by_user: "SELECT id, content, user_id FROM ai_messages WHERE user_id = CAST($1 AS bigint)",
    invitations_by_email: "SELECT id, email, invited_by_user_id FROM invitations WHERE email = $1",
    prefs_by_email: "SELECT email, newsletter, promotional, last_interaction_at::text FROM marketing_preferences WHERE email = $1",
    contacts_by_email: "SELECT id, account_id FROM contacts WHERE email = $1",
    contacts_by_phone: "SELECT id, account_id FROM contacts WHERE phone = $1",
    mention_comments: "SELECT id, author_user_id FROM comments WHERE author_user_id = CAST($1 AS bigint)",
    mention_tickets: "SELECT id, assignee_id FROM tickets WHERE assignee_id = CAST($1 AS bigint)",
    mention_invitations: "SELECT id, invited_by_user_id FROM invitations WHERE invited_by_user_id = CAST($1 AS bigint)",
    email_events: "SELECT id, email, campaign, kind, ip, user_agent FROM email_events WHERE email = $1",
    login_events: "SELECT id, user_ref, ip, user_agent FROM login_events WHERE user_ref = $1",
    erase: ErasureSql {
        cut_comments: "UPDATE comments SET author_user_id = NULL WHERE author_user_id = CAST($1 AS bigint)",
        cut_tickets: "UPDATE tickets SET assignee_id = NULL WHERE assignee_id = CAST($1 AS bigint) AND user_id <> CAST($1 AS bigint)",
        cut_invitations: "UPDATE invitations SET invited_by_user_id = NULL WHERE invited_by_user_id = CAST($1 AS bigint) AND email <> $2",
        update_payments: "UPDATE payments SET card_last4 = NULL, user_id = NULL WHERE user_id = CAST($1 AS bigint) OR billing_email = $2",
        delete_tickets: "DELETE FROM tickets WHERE user_id = CAST($1 AS bigint)",
        delete_ai: "DELETE FROM ai_messages WHERE user_id = CAST($1 AS bigint)",
        delete_invitations: "DELETE FROM invitations WHERE email = $1",
        delete_users: "DELETE FROM users WHERE id = CAST($1 AS bigint)",
        delete_prefs: "DELETE FROM marketing_preferences WHERE email = $1",
        delete_email_events: "DELETE FROM email_events WHERE email = $1",
        delete_login_events: "DELETE FROM login_events WHERE user_ref = $1",
    },
    bulk: ErasureSql {
        cut_comments: "UPDATE comments SET author_user_id = NULL WHERE author_user_id = ANY(ARRAY(SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($1 AS json))))",
        cut_tickets: "UPDATE tickets SET assignee_id = NULL WHERE assignee_id = ANY(ARRAY(SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($1 AS json)))) AND NOT user_id = ANY(ARRAY(SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($1 AS json))))",
        cut_invitations: "UPDATE invitations SET invited_by_user_id = NULL WHERE invited_by_user_id = ANY(ARRAY(SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($1 AS json)))) AND NOT email = ANY(ARRAY(SELECT json_array_elements_text(CAST($2 AS json))))",
        update_payments: "UPDATE payments SET card_last4 = NULL, user_id = NULL WHERE user_id = ANY(ARRAY(SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($1 AS json)))) OR billing_email = ANY(ARRAY(SELECT json_array_elements_text(CAST($2 AS json))))",
        delete_tickets: "DELETE FROM tickets WHERE user_id = ANY(ARRAY(SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($1 AS json))))",
        delete_ai: "DELETE FROM ai_messages WHERE user_id = ANY(ARRAY(SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($1 AS json))))",
        delete_invitations: "DELETE FROM invitations WHERE email = ANY(ARRAY(SELECT json_array_elements_text(CAST($1 AS json))))",
        delete_users: "DELETE FROM users WHERE id = ANY(ARRAY(SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($1 AS json))))",
        delete_prefs: "DELETE FROM marketing_preferences WHERE email = ANY(ARRAY(SELECT json_array_elements_text(CAST($1 AS json))))",
        delete_email_events: "DELETE FROM email_events WHERE email = ANY(ARRAY(SELECT json_array_elements_text(CAST($1 AS json))))",
        delete_login_events: "DELETE FROM login_events WHERE user_ref = ANY(ARRAY(SELECT json_array_elements_text(CAST($1 AS json))))",
    },
    users_left: "SELECT count(*) FROM users WHERE id = ANY(ARRAY(SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($1 AS json))))",
    contact_rows: "SELECT id, email, phone, first_name, last_name, company, notes FROM contacts WHERE account_id = CAST($1 AS bigint) AND (email = $2 OR phone = $3)",
    contact_cards: "SELECT c.id, c.title, c.body, c.contact_id FROM client_cards c JOIN contacts p ON p.id = c.contact_id WHERE p.account_id = CAST($1 AS bigint) AND (p.email = $2 OR p.phone = $3)",
    contact_comments: "SELECT m.id, m.body, m.author_user_id, m.card_id FROM comments m JOIN client_cards c ON c.id = m.card_id JOIN contacts p ON p.id = c.contact_id WHERE p.account_id = CAST($1 AS bigint) AND (p.email = $2 OR p.phone = $3)",
    delete_contact_comments: "DELETE FROM comments WHERE card_id IN (SELECT c.id FROM client_cards c JOIN contacts p ON p.id = c.contact_id WHERE p.account_id = CAST($1 AS bigint) AND (p.email = $2 OR p.phone = $3))",
    delete_contact_cards: "DELETE FROM client_cards WHERE contact_id IN (SELECT id FROM contacts WHERE account_id = CAST($1 AS bigint) AND (email = $2 OR phone = $3))",
    delete_contact: "DELETE FROM contacts WHERE account_id = CAST($1 AS bigint) AND (email = $2 OR phone = $3)",
};

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// The hand-written access: every lookup the plan makes, in one round (a person's identities
/// are known to the author of the SQL).
async fn hand_access(sql: &Sql, crm: &Connector, events: &Connector, u: &User) -> Result<usize> {
    let id = Value::Integer(u.id);
    let mut reads: Vec<(&'static str, Vec<Value>)> = vec![
        (sql.user_by_email, vec![t(&u.email)]),
        (sql.user_by_public_id, vec![t(&u.public_id)]),
        (sql.payments_by_email, vec![t(&u.email)]),
        (sql.payments_by_user, vec![id.clone()]),
        (sql.tickets_by_user, vec![id.clone()]),
        (sql.ai_by_user, vec![id.clone()]),
        (sql.invitations_by_email, vec![t(&u.email)]),
        (sql.prefs_by_email, vec![t(&u.email)]),
        (sql.contacts_by_email, vec![t(&u.email)]),
        (sql.mention_comments, vec![id.clone()]),
        (sql.mention_tickets, vec![id.clone()]),
        (sql.mention_invitations, vec![id.clone()]),
    ];
    if let Some(p) = &u.phone {
        reads.push((sql.user_by_phone, vec![t(p)]));
        reads.push((sql.contacts_by_phone, vec![t(p)]));
    }
    let a = crm.run_fixed(&reads, false).await?;
    let b = events
        .run_fixed(&[(sql.email_events, vec![t(&u.email)]), (sql.login_events, vec![t(&u.public_id)])], false)
        .await?;
    Ok(a.iter().chain(&b).map(Vec::len).sum())
}

/// The hand-written erasure: the same reads, then the same writes, one transaction per database.
async fn hand_erasure(sql: &Sql, crm: &Connector, events: &Connector, u: &User) -> Result<()> {
    hand_access(sql, crm, events, u).await?;
    let (a, b) = hand_writes(sql, u);
    crm.run_fixed(&a, true).await?;
    events.run_fixed(&b, true).await?;
    Ok(())
}

/// Fixed statements and their values, as `Connector::run_fixed` takes them.
type Statements = Vec<(&'static str, Vec<Value>)>;

/// The hand-written erasure's writes of one user: on `crm`, on `events`.
fn hand_writes(sql: &Sql, u: &User) -> (Statements, Statements) {
    sql.erase.statements(Value::Integer(u.id), t(&u.email), t(&u.public_id))
}

/// A person a hand-written batch erases: the same reads as the executor's lookups, then the
/// writes, on `crm` and on `events`.
trait HandErasure: Clone {
    async fn read(&self, sql: &Sql, crm: &Connector, events: &Connector) -> Result<usize>;
    fn writes(&self, sql: &Sql) -> (Statements, Statements);
}

impl HandErasure for User {
    async fn read(&self, sql: &Sql, crm: &Connector, events: &Connector) -> Result<usize> {
        hand_access(sql, crm, events, self).await
    }
    fn writes(&self, sql: &Sql) -> (Statements, Statements) {
        hand_writes(sql, self)
    }
}

/// A contact of the demo data, erased on the instruction of the customer whose contact it is
/// (processor mode, promises O3 and P7): its rows, its client cards and their comments, that
/// customer's only. Nothing of it is in `events`.
#[derive(Clone, Debug)]
struct Contact {
    account_id: i64,
    email: String,
    phone: Option<String>,
}

impl Contact {
    fn values(&self) -> Vec<Value> {
        vec![Value::Integer(self.account_id), t(&self.email), self.phone.as_deref().map_or(Value::Null, t)]
    }
}

impl HandErasure for Contact {
    async fn read(&self, sql: &Sql, crm: &Connector, _: &Connector) -> Result<usize> {
        let v = self.values();
        let reads = [(sql.contact_rows, v.clone()), (sql.contact_cards, v.clone()), (sql.contact_comments, v)];
        Ok(crm.run_fixed(&reads, false).await?.iter().map(Vec::len).sum())
    }
    fn writes(&self, sql: &Sql) -> (Statements, Statements) {
        let v = self.values();
        let crm = vec![
            (sql.delete_contact_comments, v.clone()),
            (sql.delete_contact_cards, v.clone()),
            (sql.delete_contact, v),
        ];
        (crm, Vec::new())
    }
}

/// A batch of hand-written erasures the way `covenant dsr batch` runs them: in chunks, each
/// person's reads `concurrency` at a time, then every write of the chunk in one transaction per
/// database (the two databases at the same time), the next chunk read while one is written.
async fn hand_batch<P: HandErasure>(
    sql: &Sql,
    crm: &Connector,
    events: &Connector,
    people: &[P],
    chunk: usize,
    concurrency: usize,
) -> Result<()> {
    use futures_util::StreamExt;
    let read = |part: &'_ [P]| {
        let part = part.to_vec();
        async move {
            let reads: Vec<Result<usize>> = futures_util::stream::iter(part.iter())
                .map(|p| p.read(sql, crm, events))
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            reads.into_iter().collect::<Result<Vec<_>>>().map(|_| ())
        }
    };
    let write = |part: &'_ [P]| {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for p in part {
            let (c, e) = p.writes(sql);
            a.extend(c);
            b.extend(e);
        }
        async move {
            let (x, y) = futures_util::future::join(write_fixed(crm, a), write_fixed(events, b)).await;
            x?;
            y?;
            Ok::<_, anyhow::Error>(())
        }
    };
    let chunks: Vec<&[P]> = people.chunks(chunk.max(1)).collect();
    let Some(first) = chunks.first() else { return Ok(()) };
    read(first).await?;
    for (k, part) in chunks.iter().enumerate() {
        let next = async {
            match chunks.get(k + 1) {
                Some(c) => read(c).await,
                None => Ok(()),
            }
        };
        let (w, r) = futures_util::future::join(write(part), next).await;
        w?;
        r?;
    }
    Ok(())
}

/// Fixed statements in one transaction; none, no transaction.
async fn write_fixed(c: &Connector, statements: Statements) -> Result<()> {
    if !statements.is_empty() {
        c.run_fixed(&statements, true).await?;
    }
    Ok(())
}

/// The writes alone of hand-written erasures of `people`, set-based: a chunk's users erased by
/// one statement per table (`Sql::bulk`), in one transaction per database (the two at the same
/// time), chunk after chunk, with no reads (the statements find the rows themselves), no
/// journal and no report: the least SQL that erases these users, and so the most erasures per
/// second this database can do for them on this machine. Returns the time it took.
async fn bulk_writes(
    sql: &Sql,
    crm: &Connector,
    events: &Connector,
    people: &[User],
    chunk: usize,
) -> Result<Duration> {
    let list = |v: Vec<serde_json::Value>| t(&serde_json::Value::Array(v).to_string());
    let ids = |people: &[User]| list(people.iter().map(|u| u.id.into()).collect());
    let s = Instant::now();
    for part in people.chunks(chunk.max(1)) {
        let emails = list(part.iter().map(|u| u.email.as_str().into()).collect());
        let refs = list(part.iter().map(|u| u.public_id.as_str().into()).collect());
        let (on_crm, on_events) = sql.bulk.statements(ids(part), emails, refs);
        let (x, y) = futures_util::future::join(write_fixed(crm, on_crm), write_fixed(events, on_events)).await;
        x?;
        y?;
    }
    let took = s.elapsed();
    // The statements did erase them: none of these users is left.
    let left = crm.run_fixed(&[(sql.users_left, vec![ids(people)])], false).await?;
    match left.first().and_then(|rows| rows.first()).and_then(|row| row.first()) {
        Some(Value::Integer(0)) => Ok(took),
        other => bail!("the set-based writes left users they were to erase: {other:?}"),
    }
}

/// A batch's two sides, measured: requests through the executor, erasures by hand; and each
/// round's two rates.
struct Batches {
    done: usize,
    took: Duration,
    hand_done: usize,
    hand_took: Duration,
    rounds: Vec<(f64, f64)>,
}

impl Batches {
    fn rate(&self) -> f64 {
        self.done as f64 / self.took.as_secs_f64().max(1e-9)
    }
    fn hand_rate(&self) -> f64 {
        self.hand_done as f64 / self.hand_took.as_secs_f64().max(1e-9)
    }
}

/// `requests` through [`Executor::run_batches`] and the hand-written erasures of `hand` (other
/// people) the same way, in whole batches of `--batch` (rounds), in turn.
async fn side_by_side<P: HandErasure>(
    exec: &Executor<SqlStore>,
    requests: &[Request],
    hand: &[P],
    opts: &DsrBenchOptions<'_>,
    (sql, crm, events): (&Sql, &Connector, &Connector),
) -> Result<Batches> {
    let mut b = Batches { done: 0, took: Duration::ZERO, hand_done: 0, hand_took: Duration::ZERO, rounds: Vec::new() };
    let size = opts.batch.max(1);
    for (i, (reqs, hand)) in requests.chunks(size).zip(hand.chunks(size)).enumerate() {
        let covenant = async {
            let s = Instant::now();
            let mut n = 0;
            for r in exec.run_batches(reqs, opts.chunk.max(1), opts.concurrency, &Quiet).await {
                r?;
                n += 1;
            }
            Ok::<_, anyhow::Error>((s.elapsed(), n))
        };
        let by_hand = async {
            let s = Instant::now();
            hand_batch(sql, crm, events, hand, opts.chunk, opts.concurrency).await?;
            Ok::<_, anyhow::Error>(s.elapsed())
        };
        let (c, h) = in_turn(i, covenant, by_hand).await;
        let ((took, n), hand_took) = (c?, h?);
        let rate = |n: usize, took: Duration| n as f64 / took.as_secs_f64().max(1e-9);
        b.rounds.push((rate(n, took), rate(hand.len(), hand_took)));
        b.took += took;
        b.done += n;
        b.hand_took += hand_took;
        b.hand_done += hand.len();
    }
    Ok(b)
}

/// Runs `a` then `b` for even `i`, `b` then `a` for odd: measured side by side, neither always
/// profits from the other's cache warming, and a drifting load weighs on both alike.
async fn in_turn<A, B>(i: usize, a: impl Future<Output = A>, b: impl Future<Output = B>) -> (A, B) {
    if i.is_multiple_of(2) {
        let a = a.await;
        (a, b.await)
    } else {
        let b = b.await;
        (a.await, b)
    }
}

/// `count` users spread over the table (deterministic), excluding Ada and Bob.
pub(crate) async fn users(crm: &Connector, count: usize) -> Result<Vec<User>> {
    let rows = crm
        .run_fixed(&[("SELECT id, email, public_id, phone FROM users WHERE id > 2 ORDER BY id", vec![])], false)
        .await?;
    let rows = rows.into_iter().next().unwrap_or_default();
    if rows.is_empty() {
        bail!("the demo database has no users");
    }
    let step = (rows.len() / count.max(1)).max(1);
    let mut out = Vec::new();
    for r in rows.iter().step_by(step).take(count) {
        let (Some(Value::Integer(id)), Some(email), Some(public_id)) = (r.first(), r.get(1), r.get(2)) else {
            continue;
        };
        out.push(User {
            id: *id,
            email: email.as_text().unwrap_or_default(),
            public_id: public_id.as_text().unwrap_or_default(),
            phone: r.get(3).and_then(Value::as_text),
        });
    }
    Ok(out)
}

/// `count` contacts with an email address spread over the table (deterministic), excluding
/// those whose address is also a user's (they are people of both kinds).
async fn contacts(crm: &Connector, count: usize) -> Result<Vec<Contact>> {
    let sql = "SELECT account_id, email, phone FROM contacts WHERE email IS NOT NULL \
               AND email NOT IN (SELECT email FROM users) ORDER BY id";
    let rows = crm.run_fixed(&[(sql, vec![])], false).await?.into_iter().next().unwrap_or_default();
    if rows.is_empty() {
        bail!("the demo database has no contacts with an email address");
    }
    let step = (rows.len() / count.max(1)).max(1);
    Ok(rows
        .iter()
        .step_by(step)
        .take(count)
        .filter_map(|r| match (r.first(), r.get(1).and_then(Value::as_text)) {
            (Some(Value::Integer(account_id)), Some(email)) => {
                Some(Contact { account_id: *account_id, email, phone: r.get(2).and_then(Value::as_text) })
            }
            _ => None,
        })
        .collect())
}

/// The demo application's `covenant.toml`; a generated one gets a fresh store.
pub(crate) fn demo_config(demo: &DemoSource<'_>) -> Result<PathBuf> {
    let DemoSource { contacts, postgres, config, out } = *demo;
    if let Some(c) = config {
        return Ok(c.to_path_buf());
    }
    let out = match out {
        Some(o) => o.to_path_buf(),
        None => std::env::temp_dir().join(format!("covenant-bench-dsr-{contacts}")),
    };
    eprintln!("generating the demo application with {contacts} contacts in {} …", out.display());
    let (_, config) = crate::demo_data::generate(&crate::demo_data::DemoDataOptions {
        contacts,
        out: &out,
        seed: covenant_demo_app::DEFAULT_SEED,
        until: None,
        postgres,
        replace: true,
    })?;
    // A fresh store: runs of earlier benchmarks are not resumed.
    let _ = std::fs::remove_file(out.join("covenant.db"));
    let _ = std::fs::remove_file(out.join("covenant.db-wal"));
    let _ = std::fs::remove_file(out.join("covenant.db-shm"));
    Ok(config)
}

pub fn run(opts: &DsrBenchOptions<'_>) -> Result<ExitCode> {
    if opts.samples == 0 || opts.concurrency == 0 || opts.chunk == 0 || opts.rounds == 0 {
        bail!("`--samples`, `--concurrency`, `--chunk` and `--rounds` must be at least 1");
    }
    let config_path = demo_config(&opts.demo)?;
    let config = Config::load(&config_path).map_err(anyhow::Error::new)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let store = SqlStore::connect(&config.store_url).await.context("cannot open the store")?;
        store.migrate().await?;
        let store = Arc::new(store);
        let exec = Arc::new(Executor::open(&config, store.clone()).await?.with_actor("bench"));
        if config.datasets.len() != 2 {
            bail!(
                "the demo application has two datasets, `crm` and `events`; `{}` has {}",
                config_path.display(),
                config.datasets.len()
            );
        }
        let opts2 = ConnectorOptions::default();
        let crm = Connector::connect(&config.datasets[0].url, &opts2).await?;
        let events = Connector::connect(&config.datasets[1].url, &opts2).await?;
        let sql = match crm.backend() {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        let n = opts.samples;
        let all = users(&crm, 4 * n + 3 * opts.batch * opts.rounds).await?;
        if all.len() < 4 * n {
            bail!(
                "the demo database has {} users; generate more contacts (one user per 20) or take fewer samples",
                all.len()
            );
        }
        let (access_users, rest) = all.split_at(n);
        let (erase_users, rest) = rest.split_at(n);
        let (hand_users, rest) = rest.split_at(n);
        let (_, rest) = rest.split_at(n);
        // One user in three for the executor's batches, one for the hand-written ones, one for
        // the set-based writes alone (one batch).
        let every_third =
            |from: usize, n: usize| -> Vec<User> { rest.iter().skip(from).step_by(3).take(n).cloned().collect() };
        let rounds = opts.batch * opts.rounds;
        let (batch_users, hand_batch_users, bulk_users) =
            (every_third(0, rounds), every_third(1, rounds), every_third(2, opts.batch));

        let request = |u: &User, kind| -> Result<Request> {
            Ok(Request::new(kind, vec![Identity::email(&u.email).with_context(|| format!("user {}", u.id))?]))
        };
        // Warm up both paths (connections, prepared statements, page cache).
        for u in access_users.iter().take(3) {
            exec.run(&request(u, RequestKind::Access)?, &Quiet).await?;
            hand_access(sql, &crm, &events, u).await?;
        }

        let mut access = Vec::new();
        let mut hand_read = Vec::new();
        let mut discovery = Vec::new();
        let mut planning = Vec::new();
        let mut reporting = Vec::new();
        let mut auditing = Vec::new();
        let mut items = 0;
        let mut items_check = 0;
        for (i, u) in access_users.iter().enumerate() {
            let covenant = async {
                let s = Instant::now();
                let out = exec.run(&request(u, RequestKind::Access)?, &Quiet).await?;
                Ok::<_, anyhow::Error>((s.elapsed(), out))
            };
            let hand = async {
                let s = Instant::now();
                hand_access(sql, &crm, &events, u).await?;
                Ok::<_, anyhow::Error>(s.elapsed())
            };
            let (c, h) = in_turn(i, covenant, hand).await;
            let ((took, out), hand_took) = (c?, h?);
            access.push(took);
            hand_read.push(hand_took);
            if let Outcome::Access(r) = out {
                items += r.item_count();
            }
            // Where the time goes: the lookups alone (plan and discovery, no audit, no report),
            // the report alone, and the audit entry of a read alone (a durable store write).
            let req = request(u, RequestKind::Access)?;
            let s = Instant::now();
            let plan = exec.plan(&req)?;
            planning.push(s.elapsed());
            let found = exec.discover(&req, &plan).await?;
            discovery.push(s.elapsed());
            let s = Instant::now();
            let datasets: Vec<_> = exec.datasets().iter().collect();
            let r = covenant_dsr::report::access(exec.policy(), &datasets, &found, "now");
            reporting.push(s.elapsed());
            items_check += r.item_count();
            let s = Instant::now();
            let draft = AuditDraft::new("bench", "dsr.access", "request", "{}");
            store.record_read(exec.tenant(), draft).await?;
            auditing.push(s.elapsed());
        }
        // Erasures of different people, one through the executor and one by hand, in turn.
        let mut erasure = Vec::new();
        let mut hand_write = Vec::new();
        for (i, (u, h)) in erase_users.iter().zip(hand_users).enumerate() {
            let covenant = async {
                let s = Instant::now();
                exec.run(&request(u, RequestKind::Erasure)?, &Quiet).await?;
                Ok::<_, anyhow::Error>(s.elapsed())
            };
            let hand = async {
                let s = Instant::now();
                hand_erasure(sql, &crm, &events, h).await?;
                Ok::<_, anyhow::Error>(s.elapsed())
            };
            let (c, h) = in_turn(i, covenant, hand).await;
            erasure.push(c?);
            hand_write.push(h?);
        }

        // The batch: `covenant dsr batch`'s way, CHUNK requests per transaction of each database,
        // and the same erasures of other users by hand the same way; whole batches, in turn.
        let requests = batch_users.iter().map(|u| request(u, RequestKind::Erasure)).collect::<Result<Vec<_>>>()?;
        // The set-based writes alone: half before the two batches, half after, so that they
        // meet the same cache and load as the batches on average.
        let (bulk_a, bulk_b) = bulk_users.split_at(bulk_users.len() / 2);
        let mut bulk_took = bulk_writes(sql, &crm, &events, bulk_a, opts.chunk).await?;
        let users_batch = side_by_side(&exec, &requests, &hand_batch_users, opts, (sql, &crm, &events)).await?;
        bulk_took += bulk_writes(sql, &crm, &events, bulk_b, opts.chunk).await?;
        let bulk_rate = bulk_users.len() as f64 / bulk_took.as_secs_f64().max(1e-9);
        // Then contacts, each erased on the instruction of its customer (processor mode).
        let all = contacts(&crm, 2 * opts.batch * opts.rounds).await?;
        let (mine, theirs): (Vec<_>, Vec<_>) = all.iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let requests = mine
            .iter()
            .map(|(_, c)| {
                let mut r = Request::new(RequestKind::Erasure, vec![Identity::email(&c.email)?]);
                r.scope = Scope::Customer(c.account_id.to_string());
                Ok(r)
            })
            .collect::<Result<Vec<_>>>()?;
        let theirs: Vec<Contact> = theirs.into_iter().map(|(_, c)| c.clone()).collect();
        let contacts_batch = side_by_side(&exec, &requests, &theirs, opts, (sql, &crm, &events)).await?;

        let (a, e, ha, he) = (median(access), median(erasure), median(hand_read), median(hand_write));
        let (d, p) = (median(discovery), median(planning));
        let (rep, aud) = (median(reporting), median(auditing));
        if items_check != items {
            bail!("the report built alone has {items_check} items, the executor's {items}");
        }
        let backend = match crm.backend() {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        // Details first; the last three lines are the summary scripts read (access median,
        // erasure median, overhead), in that order.
        println!("demo application: {} contacts on {backend}, {n} samples each", opts.demo.contacts);
        println!("access: {:.1} items per person on average", items as f64 / n as f64);
        println!("access lookups alone (plan and discovery) median ms: {d:.2} (plan {p:.2})");
        println!(
            "access report alone median ms: {rep:.2}; audit entry of a read alone (durable store write): {aud:.2}"
        );
        println!("hand-written access median ms: {ha:.2}");
        println!("hand-written erasure median ms: {he:.2}");
        println!(
            "overhead per kind: access {:.2}, erasure {:.2}",
            a / ha.max(1e-9),
            e / he.max(1e-9)
        );
        let batches = [
            (&users_batch, "users'", Some(bulk_rate)),
            (&contacts_batch, "contacts' (on their customers' instructions)", None),
        ];
        for (b, whose, bulk) in batches {
            let each = |hand: bool| {
                let rates: Vec<String> =
                    b.rounds.iter().map(|(c, h)| format!("{:.0}", if hand { h } else { c })).collect();
                rates.join(", ")
            };
            println!(
                "batch of {} erasures, {whose}, {} per transaction, looked up in {} parts, {} round(s): {} erasures in {:.1} s, erasures/s: {:.0} (each round: {})",
                opts.batch,
                opts.chunk,
                opts.concurrency,
                b.rounds.len(),
                b.done,
                b.took.as_secs_f64(),
                b.rate(),
                each(false)
            );
            println!(
                "hand-written batch of {} erasures, {whose}, the same way: {} erasures in {:.1} s, erasures/s: {:.0} (each round: {}; Covenant's rate {:.2} of it)",
                opts.batch,
                b.hand_done,
                b.hand_took.as_secs_f64(),
                b.hand_rate(),
                each(true),
                b.rate() / b.hand_rate().max(1e-9)
            );
            if let Some(bulk) = bulk {
                println!(
                    "writes alone of {} erasures, {whose}, set-based by hand, {} per transaction (no reads, no journal): {:.1} s, erasures/s: {bulk:.0} (Covenant's rate {:.2} of it)",
                    bulk_users.len(),
                    opts.chunk,
                    bulk_took.as_secs_f64(),
                    b.rate() / bulk.max(1e-9)
                );
            }
        }
        println!("access median ms: {a:.2}");
        println!("erasure median ms: {e:.2}");
        println!("overhead vs hand-written SQL: {:.2}", (a + e) / (ha + he).max(1e-9));
        exec.close().await;
        crm.close().await;
        events.close().await;
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
