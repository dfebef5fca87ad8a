//! The rows of every table of the demo application, in id order: first the story's fixed rows
//! (Ada, Bob, Grace and their contacts), then the generated ones. Rows are handed one by one to a
//! sink (the SQLite writer, the PostgreSQL COPY encoder), so nothing but the model is held in
//! memory.

use std::fmt::Write as _;

use crate::model::{Model, public_id};
use crate::rng::{Rng, mix};
use crate::time::{DAY, HOUR, MINUTE, rfc3339};
use crate::words::*;

/// One database of the demo application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Database {
    /// Accounts, users, contacts, cards, comments, tickets, payments, AI messages, invitations,
    /// marketing preferences.
    Crm,
    /// Email and login events.
    Events,
}

impl Database {
    pub const ALL: [Database; 2] = [Database::Crm, Database::Events];

    /// `crm` or `events`: the dataset id of its annotations.
    pub fn name(self) -> &'static str {
        match self {
            Database::Crm => "crm",
            Database::Events => "events",
        }
    }

    /// The SQLite file name: `crm.db`.
    pub fn file_name(self) -> &'static str {
        match self {
            Database::Crm => "crm.db",
            Database::Events => "events.db",
        }
    }

    pub fn sqlite_schema(self) -> &'static str {
        match self {
            Database::Crm => crate::CRM_SQLITE_SQL,
            Database::Events => crate::EVENTS_SQLITE_SQL,
        }
    }

    pub fn postgres_schema(self) -> &'static str {
        match self {
            Database::Crm => crate::CRM_POSTGRES_SQL,
            Database::Events => crate::EVENTS_POSTGRES_SQL,
        }
    }

    pub fn tables(self) -> impl Iterator<Item = &'static TableDef> {
        TABLES.iter().filter(move |t| t.database == self)
    }
}

/// A table and its columns, in the order the generator writes them.
#[derive(Debug)]
pub struct TableDef {
    pub database: Database,
    pub name: &'static str,
    pub columns: &'static [&'static str],
}

/// Every table, parents before children (the order they are written in).
pub const TABLES: &[TableDef] = &[
    TableDef { database: Database::Crm, name: "accounts", columns: &["id", "name", "plan", "created_at"] },
    TableDef {
        database: Database::Crm,
        name: "users",
        columns: &[
            "id",
            "account_id",
            "public_id",
            "email",
            "full_name",
            "phone",
            "password_hash",
            "time_zone",
            "created_at",
            "last_login_at",
            "deactivated_at",
        ],
    },
    TableDef {
        database: Database::Crm,
        name: "contacts",
        columns: &[
            "id",
            "account_id",
            "email",
            "phone",
            "first_name",
            "last_name",
            "company",
            "notes",
            "created_at",
            "updated_at",
        ],
    },
    TableDef {
        database: Database::Crm,
        name: "client_cards",
        columns: &["id", "contact_id", "title", "body", "created_at"],
    },
    TableDef {
        database: Database::Crm,
        name: "comments",
        columns: &["id", "card_id", "author_user_id", "body", "created_at"],
    },
    TableDef {
        database: Database::Crm,
        name: "tickets",
        columns: &["id", "user_id", "assignee_id", "subject", "body", "status", "created_at"],
    },
    TableDef {
        database: Database::Crm,
        name: "payments",
        columns: &[
            "id",
            "user_id",
            "billing_email",
            "card_holder",
            "billing_address",
            "card_last4",
            "amount_cents",
            "currency",
            "paid_at",
        ],
    },
    TableDef {
        database: Database::Crm,
        name: "ai_messages",
        columns: &["id", "user_id", "conversation_id", "role", "content", "created_at"],
    },
    TableDef {
        database: Database::Crm,
        name: "invitations",
        columns: &["id", "account_id", "invited_by_user_id", "email", "sent_at"],
    },
    TableDef {
        database: Database::Crm,
        name: "marketing_preferences",
        columns: &["email", "newsletter", "promotional", "last_interaction_at"],
    },
    TableDef {
        database: Database::Events,
        name: "email_events",
        columns: &["id", "email", "campaign", "kind", "ip", "user_agent", "occurred_at"],
    },
    TableDef {
        database: Database::Events,
        name: "login_events",
        columns: &["id", "user_ref", "ip", "user_agent", "occurred_at"],
    },
];

/// One value of a row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
    /// Seconds since the epoch, written as RFC 3339 in UTC.
    Time(i64),
}

use Value::{Bool as B, Int as I, Null as N, Text as T, Time as At};

fn opt(s: Option<&str>) -> Value<'_> {
    s.map_or(N, T)
}

/// How many units of progress `generate` reports for a table (the parents it iterates over).
pub fn units(table: &str, m: &Model) -> u64 {
    let users = m.users.len() as u64;
    match table {
        "accounts" => m.accounts.len() as u64,
        "contacts" => m.contacts.len() as u64,
        "client_cards" | "comments" => m.cards.len() as u64,
        "invitations" => users + m.pending_invites.len() as u64,
        "email_events" => users + m.contacts.len() as u64,
        _ => users,
    }
}

/// What a row goes to.
pub type Sink<'s, E> = dyn FnMut(&[Value<'_>]) -> Result<(), E> + 's;

/// Writes every row of `table` to `sink`, calling `tick` with the units done now and then.
pub fn generate<E>(table: &str, m: &Model, sink: &mut Sink<'_, E>, tick: &mut dyn FnMut(u64)) -> Result<(), E> {
    let mut g = Gen { m, until: m.until, rng: Rng::stream(m.seed, table), tick, pending: 0 };
    match table {
        "accounts" => g.accounts(sink),
        "users" => g.users(sink),
        "contacts" => g.contacts(sink),
        "client_cards" => g.cards(sink),
        "comments" => g.comments(sink),
        "tickets" => g.tickets(sink),
        "payments" => g.payments(sink),
        "ai_messages" => g.ai_messages(sink),
        "invitations" => g.invitations(sink),
        "marketing_preferences" => g.marketing(sink),
        "email_events" => g.email_events(sink),
        "login_events" => g.login_events(sink),
        _ => Ok(()),
    }?;
    g.flush_tick();
    Ok(())
}

struct Gen<'a> {
    m: &'a Model,
    until: i64,
    rng: Rng,
    tick: &'a mut dyn FnMut(u64),
    pending: u64,
}

/// The stable traits of a generated user, the same in every table (their usual IP address and
/// browser, their card).
struct Profile {
    home_ip: String,
    office_ip: String,
    agent: &'static str,
    last4: Option<String>,
    phone: Option<String>,
    time_zone: Option<&'static str>,
}

/// Replaces `{n}` in a template with a number.
fn fill(out: &mut String, template: &str, n: i64) {
    out.clear();
    match template.split_once("{n}") {
        Some((a, b)) => {
            let _ = write!(out, "{a}{n}{b}");
        }
        None => out.push_str(template),
    }
}

/// `newsletter-2025-03`: a campaign named after the month it was sent.
fn campaign(out: &mut String, name: &str, t: i64) {
    let mut buf = [0u8; 20];
    let stamp = rfc3339(t, &mut buf);
    out.clear();
    let _ = write!(out, "{name}-{}", &stamp[..7]);
}

fn password_hash(rng: &mut Rng, out: &mut String) {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.clear();
    out.push_str("$argon2id$v=19$m=19456,t=2,p=1$");
    for i in 0..66 {
        if i == 22 {
            out.push('$');
        } else {
            out.push(B64[rng.below(64) as usize] as char);
        }
    }
}

fn conversation_id(key: u64) -> String {
    format!("conv_{:016x}", mix(key ^ 0xA1A1_0000_C0DE_0001))
}

/// A contact of the story: id, account, email, phone, first and last name, company, notes, days
/// since creation and since the last update.
type StoryContact =
    (i64, i64, &'static str, &'static str, &'static str, &'static str, &'static str, Option<&'static str>, i64, i64);
/// A ticket of the story: id, user, assignee, subject, body, status, days since creation.
type StoryTicket = (i64, i64, Option<i64>, &'static str, &'static str, &'static str, i64);

const ADA_ADDRESS: &str = "12 St James's Square, SW1Y 4LB London, United Kingdom";
const OUTLOOK: &str = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)";

impl Gen<'_> {
    fn tick(&mut self) {
        self.pending += 1;
        if self.pending == 4096 {
            self.flush_tick();
        }
    }

    fn flush_tick(&mut self) {
        if self.pending > 0 {
            (self.tick)(self.pending);
            self.pending = 0;
        }
    }

    fn profile(&self, index: u32) -> Profile {
        let m = self.m;
        let mut rng = Rng::new(mix(m.seed ^ mix(u64::from(index) ^ 0x0050_5F11_E000_0000)));
        let account = &m.accounts[m.users[index as usize].account as usize];
        let (mut home_ip, mut office_ip, mut p) = (String::new(), String::new(), String::new());
        crate::model::ip(&mut rng, &mut home_ip);
        crate::model::ip(&mut rng, &mut office_ip);
        let agent = *rng.pick(USER_AGENTS);
        let last4 = rng.chance(0.9).then(|| format!("{:04}", rng.below(10_000)));
        let phone = if rng.chance(0.85) {
            let country = if rng.chance(0.8) { account.country } else { rng.weighted(COUNTRY_WEIGHTS) };
            crate::model::phone(&mut rng, country, &mut p);
            Some(p)
        } else {
            None
        };
        let time_zone = rng.chance(0.9).then(|| COUNTRIES[account.country].time_zone);
        Profile { home_ip, office_ip, agent, last4, phone, time_zone }
    }

    fn full_name(&self, index: u32) -> String {
        let u = &self.m.users[index as usize];
        format!("{} {}", FIRST_NAMES[u.first as usize], LAST_NAMES[u.last as usize])
    }

    /// A random generated user of an account other than `not` (None when it has no other).
    fn colleague(&mut self, account: u32, not: Option<u32>) -> Option<u32> {
        let r = self.m.accounts[account as usize].users.clone();
        let n = u64::from(r.end - r.start);
        if n == 0 || (n == 1 && not == Some(r.start)) {
            return None;
        }
        loop {
            let u = r.start + self.rng.below(n) as u32;
            if Some(u) != not {
                return Some(u);
            }
        }
    }

    fn accounts<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        for (i, a) in self.m.accounts.iter().enumerate() {
            sink(&[I(i as i64 + 1), T(&a.name), T(PLANS[a.plan].0), At(a.created)])?;
            self.tick();
        }
        Ok(())
    }

    fn users<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        let mut hash = String::new();
        let story = [
            (1, 1, "ada@example.com", "Ada Lovelace", "+442079460991", "Europe/London", 990, 2),
            (2, 1, "bob@example.com", "Bob Marsh", "+442079460472", "Europe/London", 980, 1),
            (3, 2, "grace@example.org", "Grace Hopper", "+12025550143", "America/New_York", 890, 5),
        ];
        for (id, account, email, name, phone, tz, created, login) in story {
            password_hash(&mut self.rng, &mut hash);
            let pid = public_id(id);
            sink(&[
                I(id),
                I(account),
                T(&pid),
                T(email),
                T(name),
                T(phone),
                T(&hash),
                T(tz),
                At(until - created * DAY + 9 * HOUR),
                At(until - login * DAY + 8 * HOUR),
                N,
            ])?;
        }
        for (i, u) in self.m.users.iter().enumerate() {
            let i = i as u32;
            let p = self.profile(i);
            let id = self.m.user_id(i);
            password_hash(&mut self.rng, &mut hash);
            let last_login = self.rng.chance(0.95).then(|| self.rng.range(u.created, until));
            let deactivated = self.rng.chance(0.04).then(|| self.rng.range(last_login.unwrap_or(u.created), until));
            let name = self.full_name(i);
            let pid = public_id(id);
            sink(&[
                I(id),
                I(i64::from(u.account) + 1),
                T(&pid),
                T(&u.email),
                T(&name),
                opt(p.phone.as_deref()),
                T(&hash),
                opt(p.time_zone),
                At(u.created),
                last_login.map_or(N, At),
                deactivated.map_or(N, At),
            ])?;
            self.tick();
        }
        Ok(())
    }

    fn contacts<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        let story: [StoryContact; 5] = [
            (
                1,
                2,
                "ada@example.com",
                "+442079460991",
                "Ada",
                "Lovelace",
                "Analytical Engines Ltd",
                Some("Met at the Berlin contact-center fair; interested in the AI assistant."),
                400,
                30,
            ),
            (
                2,
                1,
                "charles@example.org",
                "+442079460412",
                "Charles",
                "Babbage",
                "Difference Engines plc",
                Some("Wants a demo for his team."),
                600,
                100,
            ),
            (3, 1, "mary@example.org", "+442079460233", "Mary", "Somerville", "Difference Engines plc", None, 500, 200),
            (
                4,
                2,
                "tom.hale@example.net",
                "+442079460123",
                "Tom",
                "Hale",
                "Hale & Sons",
                Some("Shares the office line with Tessa Hale."),
                300,
                20,
            ),
            (5, 2, "tessa.hale@example.net", "+442079460123", "Tessa", "Hale", "Hale & Sons", None, 290, 25),
        ];
        for (id, account, email, phone, first, last, company, notes, created, updated) in story {
            sink(&[
                I(id),
                I(account),
                T(email),
                T(phone),
                T(first),
                T(last),
                T(company),
                opt(notes),
                At(until - created * DAY + 11 * HOUR),
                At(until - updated * DAY + 15 * HOUR),
            ])?;
        }
        let mut phone = String::new();
        for (i, c) in self.m.contacts.iter().enumerate() {
            let has_phone = self.rng.chance(0.75);
            if has_phone {
                let country = if self.rng.chance(0.7) {
                    self.m.accounts[c.account as usize].country
                } else {
                    self.rng.weighted(COUNTRY_WEIGHTS)
                };
                crate::model::phone(&mut self.rng, country, &mut phone);
            }
            let notes = self.rng.chance(0.3).then(|| *self.rng.pick(CONTACT_NOTES));
            let company = self.m.companies.get(c.company as usize).map(|co| co.name.as_str());
            let updated = self.rng.range(c.created, until);
            sink(&[
                I(self.m.contact_id(i as u32)),
                I(i64::from(c.account) + 1),
                opt(c.email.as_deref()),
                if has_phone { T(&phone) } else { N },
                T(FIRST_NAMES[c.first as usize]),
                T(LAST_NAMES[c.last as usize]),
                opt(company),
                opt(notes),
                At(c.created),
                At(updated),
            ])?;
            self.tick();
        }
        Ok(())
    }

    fn cards<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        let story = [
            (1, 1, "Demo follow-up", "Ada asked for the pricing of the AI assistant for 12 seats.", 380),
            (2, 1, "Callback request", "Call Ada back about the contract on Tuesday.", 200),
            (3, 2, "Inbound call", "Charles called about the demo recording.", 550),
            (4, 3, "Renewal", "Mary's yearly renewal is due next month.", 450),
            (5, 4, "Pricing question", "Tom wants the price list for 5 operators.", 250),
        ];
        for (id, contact, title, body, created) in story {
            sink(&[I(id), I(contact), T(title), T(body), At(until - created * DAY + 10 * HOUR)])?;
        }
        let mut body = String::new();
        for (i, card) in self.m.cards.iter().enumerate() {
            let title = *self.rng.pick(CARD_TOPICS);
            let has_body = self.rng.chance(0.9);
            if has_body {
                let n = self.rng.range(2, 40);
                fill(&mut body, self.rng.pick_str(CARD_BODIES), n);
            }
            sink(&[
                I(self.m.card_id(i)),
                I(self.m.contact_id(card.contact)),
                T(title),
                if has_body { T(&body) } else { N },
                At(card.created),
            ])?;
            self.tick();
        }
        Ok(())
    }

    fn comments<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        let story = [
            (1, 1, 3, "Sent Ada the quote for 12 seats.", 379),
            (2, 1, 3, "Ada will decide next month.", 350),
            (3, 2, 3, "Called Ada back, contract signed.", 199),
            (4, 3, 1, "Charles wants the demo on a Thursday.", 549),
            (5, 3, 1, "Demo done; sending the recording.", 540),
            (6, 3, 2, "Followed up by email.", 530),
            (7, 4, 1, "Mary renewed for another year.", 449),
            (8, 5, 3, "Tom asked for the price list in German.", 249),
        ];
        for (id, card, author, body, created) in story {
            sink(&[I(id), I(card), I(author), T(body), At(until - created * DAY + 14 * HOUR)])?;
        }
        let mut id = story.len() as i64;
        let mut body = String::new();
        for (i, card) in self.m.cards.iter().enumerate() {
            let account = self.m.contacts[card.contact as usize].account;
            let mut t = card.created;
            for _ in 0..self.rng.below(4) {
                id += 1;
                let author = if self.rng.chance(0.95) { self.colleague(account, None) } else { None };
                let n = self.rng.range(5, 30);
                fill(&mut body, self.rng.pick_str(COMMENTS), n);
                t = self.rng.range(t + MINUTE, (t + 30 * DAY).min(until)).min(until);
                sink(&[I(id), I(self.m.card_id(i)), author.map_or(N, |a| I(self.m.user_id(a))), T(&body), At(t)])?;
            }
            self.tick();
        }
        Ok(())
    }

    fn tickets<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        let story: [StoryTicket; 6] = [
            (
                1,
                1,
                Some(2),
                "Call recordings are missing for yesterday",
                "Recordings from 14:00 to 16:00 are not in the list. Ada",
                "solved",
                300,
            ),
            (
                2,
                1,
                None,
                "How do I add a new operator?",
                "We hired two operators; how do I give them access? Ada",
                "closed",
                200,
            ),
            (3, 1, Some(2), "Invoice shows the wrong VAT number", "Our VAT number changed in March. Ada", "open", 10),
            (
                4,
                2,
                Some(1),
                "Queue statistics do not match the dashboard",
                "Ada, can you check the numbers for queue 2? Bob",
                "pending",
                50,
            ),
            (
                5,
                2,
                Some(1),
                "Dialer skips numbers in the campaign",
                "The dialer skipped 40 numbers this morning. Bob",
                "solved",
                120,
            ),
            (
                6,
                3,
                None,
                "Webhook to our CRM stopped firing",
                "Since the update the webhook returns 401. Grace",
                "closed",
                400,
            ),
        ];
        for (id, user, assignee, subject, body, status, created) in story {
            sink(&[
                I(id),
                I(user),
                assignee.map_or(N, I),
                T(subject),
                T(body),
                T(status),
                At(until - created * DAY + 13 * HOUR),
            ])?;
        }
        let mut id = story.len() as i64;
        let mut body = String::new();
        for (i, u) in self.m.users.iter().enumerate() {
            let i = i as u32;
            for _ in 0..self.rng.weighted(&[40, 25, 15, 10, 10]) {
                id += 1;
                let assignee = if self.rng.chance(0.6) { self.colleague(u.account, Some(i)) } else { None };
                let subject = *self.rng.pick(TICKET_SUBJECTS);
                let n = self.rng.range(2, 12);
                fill(&mut body, self.rng.pick_str(TICKET_BODIES), n);
                let status = TICKET_STATUSES[self.rng.weighted(TICKET_STATUS_WEIGHTS)];
                let created = self.rng.range(u.created, until);
                sink(&[
                    I(id),
                    I(self.m.user_id(i)),
                    assignee.map_or(N, |a| I(self.m.user_id(a))),
                    T(subject),
                    T(&body),
                    T(status),
                    At(created),
                ])?;
            }
            self.tick();
        }
        Ok(())
    }

    fn payments<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        let story = [
            (1, 1, "ada@example.com", "Ada Lovelace", "4242", 9_900, 120),
            (2, 1, "ada@example.com", "Ada Lovelace", "4242", 9_900, 90),
            (3, 1, "ada@example.com", "Ada Lovelace", "4242", 9_900, 60),
            (4, 1, "ada@example.com", "Ada Lovelace", "4242", 12_900, 30),
            (5, 2, "bob@example.com", "Bob Marsh", "1881", 2_500, 45),
        ];
        for (id, user, email, holder, last4, amount, days) in story {
            sink(&[
                I(id),
                I(user),
                T(email),
                T(holder),
                T(ADA_ADDRESS),
                T(last4),
                I(amount),
                T("GBP"),
                At(until - days * DAY + 7 * HOUR),
            ])?;
        }
        let mut id = story.len() as i64;
        let mut billing = String::new();
        for (i, u) in self.m.users.iter().enumerate() {
            let i = i as u32;
            let account = &self.m.accounts[u.account as usize];
            let owner = account.users.start == i;
            let count = if owner {
                ((until - u.created) / (30 * DAY)).clamp(0, 36)
            } else if self.rng.chance(0.08) {
                self.rng.range(1, 2)
            } else {
                0
            };
            if count == 0 {
                self.tick();
                continue;
            }
            let p = self.profile(i);
            let name = self.full_name(i);
            billing.clear();
            if owner && self.rng.chance(0.15) {
                let _ = write!(billing, "billing@{}", account.domain);
            } else {
                billing.push_str(&u.email);
            }
            let holder = if self.rng.chance(0.9) { name.as_str() } else { account.name.as_str() };
            let (plan_price, seats) = (PLANS[account.plan].1, i64::from(account.users.end - account.users.start));
            let currency = COUNTRIES[account.country].currency;
            for k in 0..count {
                id += 1;
                let (amount, paid) = if owner {
                    (plan_price * seats, (u.created + (k + 1) * 30 * DAY + self.rng.range(0, 2 * DAY)).min(until))
                } else {
                    (self.rng.range(5, 50) * 100, self.rng.range(u.created, until))
                };
                sink(&[
                    I(id),
                    I(self.m.user_id(i)),
                    T(&billing),
                    T(holder),
                    T(&account.billing_address),
                    opt(p.last4.as_deref()),
                    I(amount),
                    T(currency),
                    At(paid),
                ])?;
            }
            self.tick();
        }
        Ok(())
    }

    fn ai_messages<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        let story: [(i64, u64, &str, &str, i64); 8] = [
            (1, 1, AI_QUESTIONS[0], "user", 100 * DAY),
            (1, 1, "Here is a summary: 17 missed calls, most of them on Monday morning.", "assistant", 100 * DAY - 20),
            (1, 1, AI_QUESTIONS[1], "user", 100 * DAY - 300),
            (
                1,
                1,
                "Sure. \"Hello, this is Ada from Analytical Engines about invoice 1843…\"",
                "assistant",
                100 * DAY - 330,
            ),
            (1, 2, AI_QUESTIONS[4], "user", 12 * DAY),
            (1, 2, AI_ANSWERS[4], "assistant", 12 * DAY - 15),
            (2, 3, AI_QUESTIONS[2], "user", 40 * DAY),
            (2, 3, "The longest waits were on Tuesday between 10:00 and 11:00.", "assistant", 40 * DAY - 25),
        ];
        for (id, (user, conv, content, role, ago)) in story.into_iter().enumerate() {
            let conv = conversation_id(conv);
            sink(&[I(id as i64 + 1), I(user), T(&conv), T(role), T(content), At(until - ago)])?;
        }
        let mut id = story.len() as i64;
        let mut content = String::new();
        for (i, u) in self.m.users.iter().enumerate() {
            if self.rng.chance(0.45) {
                for c in 0..self.rng.range(1, 3) {
                    let conv = conversation_id((i as u64) << 8 | c as u64 | 1 << 40);
                    let mut t = self.rng.range(u.created, until - HOUR);
                    for k in 0..self.rng.range(1, 3) * 2 {
                        id += 1;
                        let q = self.rng.below(AI_QUESTIONS.len() as u64) as usize;
                        let (role, text) =
                            if k % 2 == 0 { ("user", AI_QUESTIONS[q]) } else { ("assistant", AI_ANSWERS[q]) };
                        let n = self.rng.range(3, 60);
                        fill(&mut content, text, n);
                        t += self.rng.range(5, 90);
                        sink(&[I(id), I(self.m.user_id(i as u32)), T(&conv), T(role), T(&content), At(t)])?;
                    }
                }
            }
            self.tick();
        }
        Ok(())
    }

    fn invitations<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        sink(&[I(1), I(1), I(1), T("bob@example.com"), At(until - 981 * DAY)])?;
        sink(&[I(2), I(2), I(3), T("ada@example.com"), At(until - 60 * DAY)])?;
        let mut id = 2;
        for u in &self.m.users {
            if let Some(inviter) = u.invited_by {
                id += 1;
                let after = self.m.users[inviter as usize].created;
                let sent = (u.created - self.rng.range(HOUR, 3 * DAY)).max(after + MINUTE);
                sink(&[I(id), I(i64::from(u.account) + 1), I(self.m.user_id(inviter)), T(&u.email), At(sent)])?;
            }
            self.tick();
        }
        for inv in &self.m.pending_invites {
            id += 1;
            sink(&[I(id), I(i64::from(inv.account) + 1), I(self.m.user_id(inv.inviter)), T(&inv.email), At(inv.sent)])?;
            self.tick();
        }
        Ok(())
    }

    fn marketing<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        sink(&[T("ada@example.com"), B(true), B(false), At(until - 15 * DAY)])?;
        sink(&[T("bob@example.com"), B(false), B(false), At(until - 100 * DAY)])?;
        for u in &self.m.users {
            if self.rng.chance(0.6) {
                let newsletter = self.rng.chance(0.55);
                let promotional = self.rng.chance(0.3);
                let t = self.rng.range(u.created, until);
                sink(&[T(&u.email), B(newsletter), B(promotional), At(t)])?;
            }
            self.tick();
        }
        Ok(())
    }

    fn email_events<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        let mut name = String::new();
        let story = [
            ("ada@example.com", "newsletter", "open", Some("81.2.69.142"), Some(OUTLOOK), 75),
            ("ada@example.com", "newsletter", "click", Some("81.2.69.142"), Some(USER_AGENTS[1]), 75),
            ("ada@example.com", "product-update", "open", Some("81.2.69.142"), Some(OUTLOOK), 40),
            ("ada@example.com", "webinar-invite", "open", None, None, 12),
            ("bob@example.com", "newsletter", "open", Some("81.2.69.160"), Some(OUTLOOK), 75),
            ("bob@example.com", "renewal-offer", "click", Some("81.2.69.160"), Some(USER_AGENTS[0]), 20),
            ("tom.hale@example.net", "feature-launch", "open", Some("5.101.7.33"), Some(USER_AGENTS[4]), 33),
        ];
        for (id, (email, camp, kind, ip, agent, days)) in story.into_iter().enumerate() {
            let t = until - days * DAY + 9 * HOUR + id as i64 * 60;
            campaign(&mut name, camp, t);
            sink(&[I(id as i64 + 1), T(email), T(&name), T(kind), opt(ip), opt(agent), At(t)])?;
        }
        let mut id = story.len() as i64;
        let mut ip = String::new();
        for (i, u) in self.m.users.iter().enumerate() {
            let p = self.profile(i as u32);
            for _ in 0..self.rng.below(9) {
                id += 1;
                let t = self.rng.range(u.created, until);
                campaign(&mut name, self.rng.pick_str(CAMPAIGNS), t);
                let kind = if self.rng.chance(0.75) { "open" } else { "click" };
                let ip_value = match self.rng.below(20) {
                    0 => N,
                    1..=15 => T(&p.home_ip),
                    _ => T(&p.office_ip),
                };
                let agent = match self.rng.below(20) {
                    0 => N,
                    1..=9 => T(OUTLOOK),
                    _ => T(p.agent),
                };
                sink(&[I(id), T(&u.email), T(&name), T(kind), ip_value, agent, At(t)])?;
            }
            self.tick();
        }
        for c in &self.m.contacts {
            if let Some(email) = c.email.as_deref()
                && self.rng.chance(0.3)
            {
                for _ in 0..self.rng.range(1, 3) {
                    id += 1;
                    let t = self.rng.range(c.created, until);
                    campaign(&mut name, self.rng.pick_str(CAMPAIGNS), t);
                    let kind = if self.rng.chance(0.8) { "open" } else { "click" };
                    let has_ip = self.rng.chance(0.95);
                    if has_ip {
                        crate::model::ip(&mut self.rng, &mut ip);
                    }
                    let agent = self.rng.pick_str(USER_AGENTS);
                    sink(&[I(id), T(email), T(&name), T(kind), if has_ip { T(&ip) } else { N }, T(agent), At(t)])?;
                }
            }
            self.tick();
        }
        Ok(())
    }

    fn login_events<E>(&mut self, sink: &mut Sink<'_, E>) -> Result<(), E> {
        let until = self.until;
        let story = [
            (1, "81.2.69.142", USER_AGENTS[1], 300),
            (1, "81.2.69.142", USER_AGENTS[1], 120),
            (1, "2a02:c7c:1f2a:4400::1", USER_AGENTS[4], 30),
            (1, "81.2.69.142", USER_AGENTS[1], 7),
            (1, "81.2.69.142", USER_AGENTS[1], 2),
            (2, "81.2.69.160", USER_AGENTS[0], 200),
            (2, "81.2.69.160", USER_AGENTS[0], 50),
            (2, "81.2.69.160", USER_AGENTS[0], 1),
            (3, "5.101.7.12", USER_AGENTS[6], 100),
            (3, "5.101.7.12", USER_AGENTS[6], 5),
        ];
        for (id, (user, ip, agent, days)) in story.into_iter().enumerate() {
            let pid = public_id(user);
            sink(&[I(id as i64 + 1), T(&pid), T(ip), T(agent), At(until - days * DAY + 8 * HOUR)])?;
        }
        let mut id = story.len() as i64;
        let mut times = Vec::new();
        let mut other_ip = String::new();
        for (i, u) in self.m.users.iter().enumerate() {
            let p = self.profile(i as u32);
            let pid = public_id(self.m.user_id(i as u32));
            times.clear();
            for _ in 0..self.rng.below(31) {
                times.push(self.rng.range(u.created, until));
            }
            times.sort_unstable();
            for &t in &times {
                id += 1;
                let ip = match self.rng.below(10) {
                    0..=6 => p.home_ip.as_str(),
                    7 | 8 => p.office_ip.as_str(),
                    _ => {
                        crate::model::ip(&mut self.rng, &mut other_ip);
                        other_ip.as_str()
                    }
                };
                let agent = if self.rng.chance(0.85) { T(p.agent) } else { T(self.rng.pick_str(USER_AGENTS)) };
                sink(&[I(id), T(&pid), T(ip), agent, At(t)])?;
            }
            self.tick();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::midnight;

    fn collect(table: &str, m: &Model) -> Vec<String> {
        let mut rows = Vec::new();
        let mut sink = |v: &[Value<'_>]| -> Result<(), ()> {
            rows.push(format!("{v:?}"));
            Ok(())
        };
        let mut ticks = 0;
        generate(table, m, &mut sink, &mut |n| ticks += n).unwrap();
        assert_eq!(ticks, units(table, m), "{table}");
        rows
    }

    #[test]
    fn every_row_has_one_value_per_column() {
        let m = Model::build(800, 5, midnight(2026, 11, 1));
        for t in TABLES {
            let mut sink = |v: &[Value<'_>]| -> Result<(), String> {
                if v.len() == t.columns.len() { Ok(()) } else { Err(format!("{}: {} values", t.name, v.len())) }
            };
            generate(t.name, &m, &mut sink, &mut |_| {}).unwrap();
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_rows_and_another_seed_others() {
        let until = midnight(2026, 11, 1);
        let (a, b, c) = (Model::build(500, 1, until), Model::build(500, 1, until), Model::build(500, 2, until));
        for t in TABLES {
            assert_eq!(collect(t.name, &a), collect(t.name, &b), "{}", t.name);
        }
        assert_ne!(collect("contacts", &a), collect("contacts", &c));
    }

    #[test]
    fn templates_are_filled() {
        let mut s = String::new();
        fill(&mut s, "a {n} b", 42);
        assert_eq!(s, "a 42 b");
        fill(&mut s, "plain", 1);
        assert_eq!(s, "plain");
        campaign(&mut s, "newsletter", midnight(2025, 3, 14));
        assert_eq!(s, "newsletter-2025-03");
    }
}
