//! The demo world's population: accounts (the CRM's customers), their users, their contacts and
//! the contacts' client cards. Built once, in memory, from the seed; the tables are then written
//! from it (see `tables`). The people of the story (Ada, Bob, Grace, …) are not in here: they are
//! written as fixed rows before the generated ones, with the lowest ids.

use std::collections::HashSet;
use std::ops::Range;

use crate::rng::{Rng, mix};
use crate::time::{DAY, HOUR, MINUTE, YEAR};
use crate::words::*;

/// How many rows of each table the story writes before the generated ones.
pub mod story {
    pub const ACCOUNTS: u32 = 2;
    pub const USERS: i64 = 3;
    pub const CONTACTS: i64 = 5;
    pub const CARDS: i64 = 5;
    /// Emails the generator never produces (its domains all end in `.example`).
    pub const EMAILS: &[&str] = &[
        "ada@example.com",
        "bob@example.com",
        "grace@example.org",
        "charles@example.org",
        "mary@example.org",
        "tom.hale@example.net",
        "tessa.hale@example.net",
    ];
}

pub struct Account {
    pub name: String,
    pub domain: String,
    pub plan: usize,
    pub country: usize,
    pub created: i64,
    /// Indexes into `Model::users`.
    pub users: Range<u32>,
    pub billing_address: String,
}

pub struct User {
    pub account: u32,
    pub first: u16,
    pub last: u16,
    pub email: Box<str>,
    pub created: i64,
    /// The user who invited them (index into `Model::users`); the account's first user has none.
    pub invited_by: Option<u32>,
}

pub struct Contact {
    pub account: u32,
    pub first: u16,
    pub last: u16,
    /// Index into `Model::companies`, or `u32::MAX` for none.
    pub company: u32,
    pub email: Option<Box<str>>,
    pub created: i64,
}

pub struct Card {
    pub contact: u32,
    pub created: i64,
}

/// An invitation nobody has accepted yet.
pub struct PendingInvite {
    pub account: u32,
    pub inviter: u32,
    pub email: Box<str>,
    pub sent: i64,
}

pub struct Company {
    pub name: String,
    pub domain: String,
}

pub struct Model {
    pub seed: u64,
    pub until: i64,
    pub accounts: Vec<Account>,
    pub users: Vec<User>,
    pub contacts: Vec<Contact>,
    pub cards: Vec<Card>,
    pub companies: Vec<Company>,
    pub pending_invites: Vec<PendingInvite>,
}

/// The sizes a number of contacts gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    pub accounts: u32,
    pub users: u32,
    pub contacts: u32,
}

impl Sizes {
    /// About `contacts` contacts over `contacts / 100` accounts (at least the story's two), about
    /// one user per 20 contacts and at least three generated users per account.
    pub fn for_contacts(contacts: u64) -> Sizes {
        let contacts = u32::try_from(contacts).unwrap_or(u32::MAX / 2);
        let accounts = (contacts / 100).max(story::ACCOUNTS);
        let users = (contacts / 20).max(3 * accounts);
        let generated = contacts.saturating_sub(story::CONTACTS as u32);
        Sizes { accounts, users, contacts: generated }
    }
}

/// Product of pairs (first word, second word) visited in a scattered order: `i * STEP mod N`
/// is a bijection on `0..N` because STEP is prime and does not divide N.
const PAIR_STEP: usize = 7919;

fn pair(i: usize, salt: usize) -> (&'static str, &'static str) {
    let n = COMPANY_FIRST.len() * COMPANY_SECOND.len();
    let k = (i.wrapping_mul(PAIR_STEP).wrapping_add(salt)) % n;
    (COMPANY_FIRST[k % COMPANY_FIRST.len()], COMPANY_SECOND[k / COMPANY_FIRST.len()])
}

const ACCOUNT_VARIANTS: &[&str] =
    &["", " Contact Center", " Direct", " Europe", " Online", " 24", " Services", " Plus"];

fn domain_of(name: &str) -> String {
    let mut d = String::with_capacity(name.len() + 8);
    slug_into(&mut d, name);
    let mut out = String::with_capacity(d.len() + 8);
    for part in d.split('-').filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(part);
    }
    out.push_str(".example");
    out
}

/// Remembers every email handed out so that each is unique (by 64-bit FNV-1a hash: two
/// different hashes are two different emails, so accepting only unseen hashes is safe).
struct Emails(HashSet<u64>);

impl Emails {
    fn hash(s: &str) -> u64 {
        let mut h = 0xCBF2_9CE4_8422_2325u64;
        for b in s.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
        }
        h
    }
    fn claim(&mut self, s: &str) -> bool {
        self.0.insert(Emails::hash(s))
    }
}

/// Tries `local@domain`, then `local2@domain`, `local3@domain`…, then a form containing the
/// index that no other rule produces.
fn unique_email(emails: &mut Emails, local: &str, domain: &str, tag: char, index: usize) -> Box<str> {
    let mut candidate = format!("{local}@{domain}");
    if emails.claim(&candidate) {
        return candidate.into_boxed_str();
    }
    for k in 2..6 {
        candidate = format!("{local}{k}@{domain}");
        if emails.claim(&candidate) {
            return candidate.into_boxed_str();
        }
    }
    candidate = format!("{local}.{tag}{index}@{domain}");
    emails.claim(&candidate);
    candidate.into_boxed_str()
}

fn name_slug(first: &str, last: &str) -> String {
    let mut s = String::with_capacity(first.len() + last.len() + 1);
    slug_into(&mut s, first);
    s.push('.');
    slug_into(&mut s, last);
    s
}

impl Model {
    pub fn build(contacts: u64, seed: u64, until: i64) -> Model {
        let sizes = Sizes::for_contacts(contacts);
        let mut emails = Emails(HashSet::with_capacity(sizes.contacts as usize + sizes.users as usize + 64));
        for e in story::EMAILS {
            emails.claim(e);
        }
        let mut m = Model {
            seed,
            until,
            accounts: Vec::new(),
            users: Vec::new(),
            contacts: Vec::new(),
            cards: Vec::new(),
            companies: Vec::new(),
            pending_invites: Vec::new(),
        };
        m.build_accounts(sizes.accounts);
        m.build_users(sizes.users, &mut emails);
        m.build_companies(sizes.contacts);
        m.build_contacts(sizes.contacts, &mut emails);
        m.build_cards();
        m.build_pending_invites(&mut emails);
        m
    }

    fn build_accounts(&mut self, n: u32) {
        let mut rng = Rng::stream(self.seed, "accounts");
        let until = self.until;
        for a in 0..n as usize {
            let (name, country, plan, created) = match a {
                0 => ("Analytical Engines Ltd".to_owned(), 0, 1, until - 1000 * DAY),
                1 => ("Difference Telecom GmbH".to_owned(), 1, 2, until - 900 * DAY),
                _ => {
                    let (f, s) = pair(a, self.seed as usize % 97);
                    let variant = ACCOUNT_VARIANTS[(a / 2400) % ACCOUNT_VARIANTS.len()];
                    let suffix = rng.pick(COMPANY_SUFFIX);
                    let name = format!("{f} {s}{variant}{suffix}");
                    let created = rng.range(until - 3 * YEAR, until - 30 * DAY);
                    (name, rng.weighted(COUNTRY_WEIGHTS), rng.weighted(PLAN_WEIGHTS), created)
                }
            };
            let domain = domain_of(strip_suffix(&name));
            let c = &COUNTRIES[country];
            let (city, postcode) = *rng.pick(c.cities);
            let billing_address =
                format!("{} {}, {postcode} {city}, {}", rng.range(1, 180), rng.pick(c.streets), c.name);
            self.accounts.push(Account { name, domain, plan, country, created, users: 0..0, billing_address });
        }
    }

    fn build_users(&mut self, n: u32, emails: &mut Emails) {
        let mut rng = Rng::stream(self.seed, "users");
        let accounts = self.accounts.len();
        // Three users each, the rest spread unevenly (bigger customers have more operators).
        let mut counts = vec![3u32; accounts];
        for _ in 0..n.saturating_sub(3 * accounts as u32) {
            let a = skewed(&mut rng, accounts);
            counts[a] += 1;
        }
        for (a, &count) in counts.iter().enumerate() {
            let start = self.users.len() as u32;
            let account_created = self.accounts[a].created;
            for k in 0..count {
                let index = self.users.len();
                let first = rng.below(FIRST_NAMES.len() as u64) as u16;
                let last = rng.below(LAST_NAMES.len() as u64) as u16;
                let local = name_slug(FIRST_NAMES[first as usize], LAST_NAMES[last as usize]);
                let email = unique_email(emails, &local, &self.accounts[a].domain, 'u', index);
                let (created, invited_by) = if k == 0 {
                    (account_created + rng.range(5 * MINUTE, 2 * HOUR), None)
                } else {
                    let inviter =
                        if k == 1 || rng.chance(0.7) { start } else { start + rng.below(u64::from(k)) as u32 };
                    let after = self.users[inviter as usize].created;
                    (rng.range(after + HOUR, self.until - HOUR).max(after + HOUR), Some(inviter))
                };
                self.users.push(User { account: a as u32, first, last, email, created, invited_by });
            }
            self.accounts[a].users = start..self.users.len() as u32;
        }
    }

    fn build_companies(&mut self, contacts: u32) {
        let mut rng = Rng::stream(self.seed, "companies");
        let n = (contacts as usize / 8).clamp(50, COMPANY_FIRST.len() * COMPANY_SECOND.len());
        for i in 0..n {
            let (f, s) = pair(i, 1 + self.seed as usize % 89);
            let name = format!("{f} {s}{}", rng.pick(COMPANY_SUFFIX));
            let domain = domain_of(&format!("{f} {s}"));
            self.companies.push(Company { name, domain });
        }
    }

    fn build_contacts(&mut self, n: u32, emails: &mut Emails) {
        let mut rng = Rng::stream(self.seed, "contacts");
        self.contacts.reserve(n as usize);
        let accounts = self.accounts.len();
        let mut local = String::new();
        for i in 0..n as usize {
            let account = skewed(&mut rng, accounts) as u32;
            let first = rng.below(FIRST_NAMES.len() as u64) as u16;
            let last = rng.below(LAST_NAMES.len() as u64) as u16;
            let company = if rng.chance(0.8) { rng.below(self.companies.len() as u64) as u32 } else { u32::MAX };
            let (f, l) = (FIRST_NAMES[first as usize], LAST_NAMES[last as usize]);
            let kind = rng.weighted(&[60, 25, 15]);
            let email = match kind {
                0 if company != u32::MAX => {
                    let domain = &self.companies[company as usize].domain;
                    Some(unique_email(emails, &name_slug(f, l), domain, 'c', i))
                }
                2 => None,
                _ => {
                    let provider = rng.pick(MAIL_PROVIDERS);
                    let mut found = None;
                    for _ in 0..3 {
                        local.clear();
                        if rng.chance(0.5) {
                            local.push_str(&name_slug(f, l));
                        } else {
                            slug_into(&mut local, f);
                            slug_into(&mut local, l);
                        }
                        local.push_str(&rng.range(1, 99).to_string());
                        let candidate = format!("{local}@{provider}");
                        if emails.claim(&candidate) {
                            found = Some(candidate.into_boxed_str());
                            break;
                        }
                    }
                    Some(found.unwrap_or_else(|| unique_email(emails, &name_slug(f, l), provider, 'c', i)))
                }
            };
            let created = rng.range(self.accounts[account as usize].created, self.until - HOUR);
            self.contacts.push(Contact { account, first, last, company, email, created });
        }
    }

    fn build_cards(&mut self) {
        let mut rng = Rng::stream(self.seed, "cards");
        self.cards.reserve(self.contacts.len() * 3 / 2);
        for (i, c) in self.contacts.iter().enumerate() {
            let mut created = c.created;
            for _ in 0..rng.below(4) {
                created = rng.range(created + MINUTE, (created + 120 * DAY).min(self.until)).min(self.until);
                self.cards.push(Card { contact: i as u32, created });
            }
        }
    }

    fn build_pending_invites(&mut self, emails: &mut Emails) {
        let mut rng = Rng::stream(self.seed, "invites");
        for (a, acc) in self.accounts.iter().enumerate() {
            if !rng.chance(0.1) || acc.users.is_empty() {
                continue;
            }
            for _ in 0..rng.range(1, 2) {
                let f = rng.pick(FIRST_NAMES);
                let l = rng.pick(LAST_NAMES);
                let email = unique_email(emails, &name_slug(f, l), &acc.domain, 'i', self.pending_invites.len());
                let inviter = acc.users.start + rng.below(u64::from(acc.users.end - acc.users.start)) as u32;
                let after = self.users[inviter as usize].created;
                let sent = rng.range(after + HOUR, self.until - HOUR).max(after + HOUR);
                self.pending_invites.push(PendingInvite { account: a as u32, inviter, email, sent });
            }
        }
    }

    pub fn user_id(&self, index: u32) -> i64 {
        story::USERS + i64::from(index) + 1
    }

    pub fn contact_id(&self, index: u32) -> i64 {
        story::CONTACTS + i64::from(index) + 1
    }

    pub fn card_id(&self, index: usize) -> i64 {
        story::CARDS + index as i64 + 1
    }
}

fn strip_suffix(name: &str) -> &str {
    let mut s = name;
    for suffix in COMPANY_SUFFIX.iter().filter(|s| !s.is_empty()) {
        if let Some(stripped) = s.strip_suffix(suffix) {
            s = stripped;
        }
    }
    s
}

/// An index in `0..n`, lower ones more likely (the share of the first of `n` is `n^(-2/3)`).
fn skewed(rng: &mut Rng, n: usize) -> usize {
    let u = rng.unit();
    ((u * u.sqrt()) * n as f64) as usize % n.max(1)
}

/// `u_` and 13 base-32 characters: the public id of a user, the same for the same row id
/// whatever the seed (a bijection of the id, so never shared).
pub fn public_id(id: i64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut v = mix(id as u64 ^ 0x00C0_FFEE_D00D_5EED);
    let mut out = String::with_capacity(15);
    out.push_str("u_");
    for _ in 0..13 {
        out.push(ALPHABET[(v & 31) as usize] as char);
        v >>= 5;
    }
    out
}

/// An E.164 mobile number of a country: `+447700900123`.
pub fn phone(rng: &mut Rng, country: usize, out: &mut String) {
    let c = &COUNTRIES[country];
    out.clear();
    out.push('+');
    out.push_str(c.calling);
    let prefix = rng.pick(c.mobile_prefixes);
    out.push_str(prefix);
    for _ in prefix.len()..c.mobile_digits as usize {
        out.push((b'0' + rng.below(10) as u8) as char);
    }
}

/// A public IPv4 (90%) or IPv6 address.
pub fn ip(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    if rng.chance(0.9) {
        let _ = write!(out, "{}.{}.{}.{}", rng.pick(IPV4_FIRST), rng.below(256), rng.below(256), 1 + rng.below(254));
    } else {
        let _ = write!(
            out,
            "{}:{:x}:{:x}:{:x}::{:x}",
            rng.pick(IPV6_PREFIXES),
            rng.below(0x10000),
            rng.below(0x10000),
            rng.below(0x10000),
            1 + rng.below(0xfffe)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_contacts() {
        assert_eq!(Sizes::for_contacts(1_000_000), Sizes { accounts: 10_000, users: 50_000, contacts: 999_995 });
        let small = Sizes::for_contacts(10);
        assert_eq!(small.accounts, 2);
        assert_eq!(small.users, 6);
        assert_eq!(small.contacts, 5);
        assert_eq!(Sizes::for_contacts(0).contacts, 0);
    }

    #[test]
    fn emails_are_unique_and_never_the_story_domains() {
        let m = Model::build(5_000, 3, crate::time::midnight(2026, 11, 1));
        let mut seen = HashSet::new();
        for e in m.users.iter().map(|u| &*u.email).chain(m.contacts.iter().filter_map(|c| c.email.as_deref())) {
            assert!(seen.insert(e.to_owned()), "duplicate {e}");
            assert!(e.ends_with(".example"), "{e}");
            assert!(e.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"@.-".contains(&b)), "{e}");
        }
        for inv in &m.pending_invites {
            assert!(seen.insert(inv.email.to_string()), "duplicate {}", inv.email);
        }
    }

    #[test]
    fn every_account_has_users_and_times_are_ordered() {
        let m = Model::build(3_000, 9, crate::time::midnight(2026, 11, 1));
        for a in &m.accounts {
            assert!(a.users.len() >= 3);
            for u in a.users.clone() {
                let u = &m.users[u as usize];
                assert!(u.created > a.created && u.created < m.until);
                if let Some(i) = u.invited_by {
                    assert!(m.users[i as usize].created < u.created);
                    assert!(a.users.contains(&i));
                }
            }
        }
        for c in &m.cards {
            assert!(c.created >= m.contacts[c.contact as usize].created && c.created <= m.until);
        }
    }

    #[test]
    fn public_ids_and_phones_look_right() {
        assert_eq!(public_id(1).len(), 15);
        assert_ne!(public_id(1), public_id(2));
        let mut rng = Rng::new(1);
        let mut s = String::new();
        for country in 0..COUNTRIES.len() {
            phone(&mut rng, country, &mut s);
            let digits = s.len() - 1;
            assert!(s.starts_with('+') && (8..=15).contains(&digits), "{s}");
            assert!(!s.starts_with("+4420"), "{s}");
        }
        ip(&mut rng, &mut s);
        assert!(s.parse::<std::net::IpAddr>().is_ok(), "{s}");
    }
}
