//! Changes between two versions of a policy, each classified as material or not.
//!
//! Entities are matched by id (categories by key, deadlines and minimum ages by jurisdiction,
//! retention clocks by trigger), so reordering a list is never a change. A change is *material*
//! when it affects people's rights or what they were told to expect: such changes must be
//! announced, with the notice the new policy promises, before they take effect (promises P9, W13,
//! T8). Every change carries the reason for its classification.

use covenant_core::{Art9Condition, CategoryKey, Jurisdiction, LegalBasis, Period, Region, RetentionTrigger, Right};
use serde::Serialize;

use crate::model::{
    Activity, BreachCommitments, Category, ChangeNotice, Channel, Clock, ConsentKind, ConsentModel, ConsentPurpose,
    Contact, ContactKind, Cookies, Deadline, LegalHold, Medium, MinimumAge, NoticeChannel, OwnershipChange, Party,
    Policy, Product, Recipient, RecipientKind, RetentionAction, RetentionRule, Rights, Role, Safeguard, Security,
    ShutdownNotice, Source, Storage, StorageLimit, SubjectType, Transfer, Verification,
};

/// What kind of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One change between two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Where, as a document path: `retention[service-data].period`.
    pub path: String,
    pub kind: ChangeKind,
    /// What changed, in words.
    pub summary: String,
    /// Whether it affects people's rights and so needs notice before it takes effect.
    pub material: bool,
    /// Why it is (or is not) material.
    pub reason: String,
}

/// Every change between two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyDiff {
    pub changes: Vec<Change>,
    /// Notice the new policy requires before material changes take effect.
    pub notice_period: Option<Period>,
    /// How the new policy says changes are announced (`changes.channels`).
    pub notice_channels: Vec<NoticeChannel>,
    /// Whether the new policy promises to announce material changes prominently (promise W13).
    pub notice_prominent: bool,
}

impl PolicyDiff {
    pub fn is_material(&self) -> bool {
        self.changes.iter().any(|c| c.material)
    }
}

/// Compares two versions.
pub fn diff(old: &Policy, new: &Policy) -> PolicyDiff {
    let mut d = Differ { old, new, changes: Vec::new() };
    d.meta();
    d.controller();
    d.products();
    d.subject_types();
    d.categories();
    d.activities();
    d.recipients();
    d.storage();
    d.transfers();
    d.consent_purposes();
    d.channels();
    d.rights();
    d.retention();
    d.legal_holds();
    d.minimum_ages();
    d.commitments();
    d.change_notice();
    d.shutdown();
    d.breach();
    d.ownership_change();
    d.security();
    d.cookies();
    let notice = new.changes.as_ref();
    PolicyDiff {
        changes: d.changes,
        notice_period: notice.and_then(|c| c.material_notice),
        notice_channels: notice.map(|c| c.channels.clone()).unwrap_or_default(),
        notice_prominent: notice.is_some_and(|c| c.prominent),
    }
}

impl PolicyDiff {
    /// A readable listing of the changes.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let material = self.changes.iter().filter(|c| c.material).count();
        let minor = self.changes.len() - material;
        if self.changes.is_empty() {
            out.push_str("no changes between the two versions\n");
            return out;
        }
        out.push_str(&format!(
            "{} change{} between the two versions: {material} material, {minor} minor\n",
            self.changes.len(),
            if self.changes.len() == 1 { "" } else { "s" }
        ));
        for c in &self.changes {
            let tag = if c.material { "[material]" } else { "[minor]" };
            out.push_str(&format!("{tag} {}: {} ({})\n", c.path, c.summary, c.reason));
        }
        out.push_str(&self.closing());
        out.push('\n');
        out
    }

    /// The last line: what the material changes require before they take effect (P9, W13, T8).
    fn closing(&self) -> String {
        if !self.is_material() {
            return "no material changes: they may take effect without prior notice".to_owned();
        }
        let channels: Vec<&str> = self.notice_channels.iter().map(|c| channel_words(*c)).collect();
        let how = match (channels.is_empty(), self.notice_prominent) {
            (true, _) => None,
            (false, true) => Some(format!("prominently {}", join_and(&channels))),
            (false, false) => Some(join_and(&channels)),
        };
        match (self.notice_period, how) {
            (Some(p), how) => {
                let notice = if p.amount() == 1 { format!("{p}'s") } else { format!("{p}'") };
                let how = match how {
                    Some(how) => format!(", announced {how}"),
                    None => "; the policy names no channel to announce them (changes.channels)".to_owned(),
                };
                format!(
                    "material changes need {notice} notice before they take effect (policy changes.material_notice){how}"
                )
            }
            (None, Some(how)) => format!(
                "material changes must be announced before they take effect ({how}), but the policy sets no notice period (changes.material_notice)"
            ),
            (None, None) => "material changes must be announced before they take effect, but the policy sets no notice period (changes.material_notice) and names no channel to announce them (changes.channels)".to_owned(),
        }
    }
}

fn channel_words(c: NoticeChannel) -> &'static str {
    match c {
        NoticeChannel::Email => "by email",
        NoticeChannel::InApp => "in-app",
        NoticeChannel::Website => "on the website",
        NoticeChannel::Push => "by push notification",
        NoticeChannel::Media => "in the media",
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

// ----------------------------------------------------------------------------------------------
// Values in words
// ----------------------------------------------------------------------------------------------

/// A value as a change summary shows it.
trait Words {
    fn words(&self) -> String;
}

impl Words for String {
    fn words(&self) -> String {
        const MAX: usize = 60;
        let one_line = self.split_whitespace().collect::<Vec<_>>().join(" ");
        match one_line.char_indices().nth(MAX) {
            Some((cut, _)) => format!("\"{}…\"", &one_line[..cut]),
            None => format!("\"{one_line}\""),
        }
    }
}

impl Words for bool {
    fn words(&self) -> String {
        if *self { "yes" } else { "no" }.to_owned()
    }
}

impl Words for u8 {
    fn words(&self) -> String {
        self.to_string()
    }
}

impl<T: Words> Words for Option<T> {
    fn words(&self) -> String {
        self.as_ref().map_or_else(|| "not set".to_owned(), Words::words)
    }
}

impl<T: Words> Words for Vec<T> {
    fn words(&self) -> String {
        if self.is_empty() { "none".to_owned() } else { self.iter().map(Words::words).collect::<Vec<_>>().join(", ") }
    }
}

macro_rules! words_by_display {
    ($($t:ty),*) => {$(
        impl Words for $t {
            fn words(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
words_by_display!(Period, CategoryKey, Region, Jurisdiction);

macro_rules! words_by_name {
    ($($t:ty),*) => {$(
        impl Words for $t {
            fn words(&self) -> String {
                self.as_str().replace('_', " ")
            }
        }
    )*};
}
words_by_name!(LegalBasis, Right, RetentionTrigger, Art9Condition);

macro_rules! words_by_serde {
    ($($t:ty),*) => {$(
        impl Words for $t {
            fn words(&self) -> String {
                wire_name(self)
            }
        }
    )*};
}
words_by_serde!(
    ContactKind,
    StorageLimit,
    Role,
    Source,
    RecipientKind,
    Safeguard,
    ConsentKind,
    ConsentModel,
    Medium,
    Verification,
    RetentionAction,
    NoticeChannel
);

/// The name a unit enum has in policy files, with spaces for underscores.
fn wire_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s.replace('_', " "),
        _ => "?".to_owned(),
    }
}

impl Words for Contact {
    fn words(&self) -> String {
        if self.value.is_empty() { self.kind.words() } else { format!("{} {}", self.kind.words(), self.value) }
    }
}

impl Words for Party {
    fn words(&self) -> String {
        self.name.words()
    }
}

impl Words for Clock {
    fn words(&self) -> String {
        format!("{} {}", self.period, self.trigger.plain())
    }
}

// ----------------------------------------------------------------------------------------------
// Verdicts
// ----------------------------------------------------------------------------------------------

/// Whether a change is material, and why.
struct Verdict {
    material: bool,
    reason: String,
}

fn material(reason: impl Into<String>) -> Verdict {
    Verdict { material: true, reason: reason.into() }
}

fn minor(reason: impl Into<String>) -> Verdict {
    Verdict { material: false, reason: reason.into() }
}

fn wording() -> Verdict {
    minor("wording only: it does not change what is done with the data")
}

fn metadata() -> Verdict {
    minor("document metadata: it does not change what is done with the data")
}

/// What a period bounds, which decides whether longer or shorter is the material direction.
#[derive(Clone, Copy)]
enum Bound {
    /// How long data is kept: longer is material.
    Retention,
    /// How long people wait for an answer or a notification: longer is material.
    Deadline,
    /// Extra time that may be taken on top of a deadline: longer or new is material.
    Extension,
    /// How long before a change people are told: shorter is material.
    Notice,
    /// How long a consent stays valid: longer is material.
    ConsentLife,
}

fn longer(old: Period, new: Period) -> bool {
    new.cmp_length(old).is_gt()
}

fn judge_period(bound: Bound, old: Option<Period>, new: Option<Period>) -> Verdict {
    use Bound::*;
    match (old, new) {
        (Some(o), Some(n)) if o.cmp_length(n).is_eq() => minor("the same length, written differently"),
        (Some(o), Some(n)) if longer(o, n) => match bound {
            Retention => material("longer retention: people must be told before it applies"),
            Deadline => material("longer deadline: people wait longer than they were promised"),
            Extension => material("a longer extension: people may wait longer than they were promised"),
            Notice => minor("more notice than before"),
            ConsentLife => material("consent stays valid longer before people are asked again"),
        },
        (Some(_), Some(_)) => match bound {
            Retention => minor("shorter retention: data is kept for less time"),
            Deadline | Extension => minor("a shorter deadline: people hear back sooner"),
            Notice => material("less notice than people were promised"),
            ConsentLife => minor("consent lapses sooner and is asked for again"),
        },
        (Some(_), None) => match bound {
            Retention => material("no time limit any more: the data may be kept indefinitely"),
            Deadline => material("no deadline is promised any more"),
            Extension => minor("no extension may be taken any more"),
            Notice => material("no notice is promised any more"),
            ConsentLife => material("consent no longer lapses: people are not asked again"),
        },
        (None, Some(_)) => match bound {
            Retention => minor("a time limit where there was none"),
            Deadline => minor("a deadline is promised where there was none"),
            Extension => material("an extension may now be taken: people may wait longer than they were promised"),
            Notice => minor("notice is promised where there was none"),
            ConsentLife => minor("consent now lapses and is asked for again"),
        },
        (None, None) => minor("unchanged"),
    }
}

/// How strictly a value is limited: higher keeps more of it.
fn storage_limit_rank(l: Option<StorageLimit>) -> u8 {
    match l {
        Some(StorageLimit::NeverStored) => 0,
        Some(StorageLimit::HashOnly) => 1,
        Some(StorageLimit::LastFour | StorageLimit::TruncatedNetwork) => 2,
        None => 3,
    }
}

/// How much of the data survives the action: higher keeps more.
fn action_rank(a: RetentionAction) -> u8 {
    match a {
        RetentionAction::Delete => 0,
        RetentionAction::Anonymise => 1,
        RetentionAction::Isolate => 2,
    }
}

/// How strong a transfer safeguard is: Art. 45 over Art. 46-47 over the Art. 49 derogations.
fn safeguard_rank(s: Option<Safeguard>) -> u8 {
    match s {
        Some(Safeguard::Adequacy) => 3,
        Some(Safeguard::StandardContractualClauses | Safeguard::BindingCorporateRules) => 2,
        Some(Safeguard::ExplicitConsent | Safeguard::ContractNecessity) => 1,
        None => 0,
    }
}

/// How hard it is to get a request acted on: higher asks more of the person.
fn verification_rank(v: Verification) -> u8 {
    match v {
        Verification::None => 0,
        Verification::WhenNeeded => 1,
        Verification::Required => 2,
    }
}

// ----------------------------------------------------------------------------------------------
// Matching entities by key
// ----------------------------------------------------------------------------------------------

/// An entity of the old and/or new version, matched by key.
enum Pair<'a, T> {
    Added(&'a T),
    Removed(&'a T),
    Both(&'a T, &'a T),
}

/// Matches two lists by key: entities of the new list in its order, then those removed in the
/// old order. A key repeated in one list (a lint error) counts once, at its first occurrence.
fn pair<'a, T>(old: &'a [T], new: &'a [T], key: impl Fn(&T) -> String) -> Vec<(String, Pair<'a, T>)> {
    let first = |list: &'a [T]| {
        let mut seen: Vec<(String, &'a T)> = Vec::new();
        for item in list {
            let k = key(item);
            if !seen.iter().any(|(s, _)| *s == k) {
                seen.push((k, item));
            }
        }
        seen
    };
    let (old, new) = (first(old), first(new));
    let mut out = Vec::new();
    for (k, n) in &new {
        match old.iter().find(|(ok, _)| ok == k) {
            Some((_, o)) => out.push((k.clone(), Pair::Both(*o, *n))),
            None => out.push((k.clone(), Pair::Added(*n))),
        }
    }
    for (k, o) in &old {
        if !new.iter().any(|(nk, _)| nk == k) {
            out.push((k.clone(), Pair::Removed(*o)));
        }
    }
    out
}

/// Clocks keyed by trigger; a trigger used twice gets `#2`, `#3`, ….
fn clock_keys(clocks: &[Clock]) -> Vec<(String, &Clock)> {
    let mut out: Vec<(String, &Clock)> = Vec::new();
    for c in clocks {
        let base = c.trigger.as_str().to_owned();
        let n = out.iter().filter(|(_, o)| o.trigger == c.trigger).count();
        out.push((if n == 0 { base } else { format!("{base}#{}", n + 1) }, c));
    }
    out
}

/// Something a retention rule covers.
#[derive(Clone, Copy)]
enum Covered<'a> {
    Category(&'a CategoryKey),
    Activity(&'a str),
}

impl Covered<'_> {
    fn describe(self) -> String {
        match self {
            Covered::Category(k) => format!("`{k}`"),
            Covered::Activity(a) => format!("activity `{a}`"),
        }
    }

    /// Whether the policy still processes it.
    fn exists(self, p: &Policy) -> bool {
        match self {
            Covered::Category(k) => p.categories.iter().any(|c| c.id.is_within(k) || k.is_within(&c.id)),
            Covered::Activity(a) => p.activity(a).is_some(),
        }
    }

    /// The longest time the policy keeps it, over every rule that covers it.
    fn kept_for(self, p: &Policy) -> Option<Period> {
        let longest = |rules: Vec<&RetentionRule>| {
            rules.into_iter().filter_map(RetentionRule::longest_period).max_by(|a, b| a.cmp_length(*b))
        };
        match self {
            Covered::Category(k) => longest(p.retention_for(k).collect()),
            Covered::Activity(a) => {
                longest(p.retention.iter().filter(|r| r.activities.iter().any(|x| x == a)).collect())
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------
// The comparison
// ----------------------------------------------------------------------------------------------

struct Differ<'a> {
    old: &'a Policy,
    new: &'a Policy,
    changes: Vec<Change>,
}

fn at(prefix: &str, field: &str) -> String {
    format!("{prefix}.{field}")
}

fn entity(section: &str, key: &str) -> String {
    format!("{section}[{key}]")
}

impl Differ<'_> {
    fn push(&mut self, path: String, kind: ChangeKind, summary: String, v: Verdict) {
        self.changes.push(Change { path, kind, summary, material: v.material, reason: v.reason });
    }

    /// A field that changed value: `old → new`.
    fn field<T: Words + PartialEq>(&mut self, path: String, old: &T, new: &T, judge: impl FnOnce(&T, &T) -> Verdict) {
        if old != new {
            let summary = format!("{} → {}", old.words(), new.words());
            let v = judge(old, new);
            self.push(path, ChangeKind::Changed, summary, v);
        }
    }

    /// Free text whose wording does not change the processing.
    fn text<T: Words + PartialEq>(&mut self, path: String, old: &T, new: &T) {
        self.field(path, old, new, |_, _| wording());
    }

    /// A yes/no field, with the verdicts for turning it on and off.
    fn flag(&mut self, path: String, old: bool, new: bool, on: Verdict, off: Verdict) {
        self.field(path, &old, &new, |_, _| if new { on } else { off });
    }

    fn period(&mut self, path: String, bound: Bound, old: Option<Period>, new: Option<Period>) {
        self.field(path, &old, &new, |o, n| judge_period(bound, *o, *n));
    }

    /// A list compared as a set: one change per element added or removed.
    fn set<T: Words + PartialEq>(
        &mut self,
        path: String,
        old: &[T],
        new: &[T],
        added: impl Fn(&T) -> Verdict,
        removed: impl Fn(&T) -> Verdict,
    ) {
        let mut seen: Vec<&T> = Vec::new();
        for n in new {
            if !old.contains(n) && !seen.contains(&n) {
                seen.push(n);
                self.push(path.clone(), ChangeKind::Added, format!("added {}", n.words()), added(n));
            }
        }
        let mut seen: Vec<&T> = Vec::new();
        for o in old {
            if !new.contains(o) && !seen.contains(&o) {
                seen.push(o);
                self.push(path.clone(), ChangeKind::Removed, format!("removed {}", o.words()), removed(o));
            }
        }
    }

    /// A whole entity added or removed.
    fn whole(&mut self, path: String, kind: ChangeKind, what: &str, name: &str, v: Verdict) {
        let verb = if kind == ChangeKind::Added { "added" } else { "removed" };
        let summary = if name.is_empty() { format!("{verb} {what}") } else { format!("{verb} {what} \"{name}\"") };
        self.push(path, kind, summary, v);
    }

    /// What dropping retention rules (or moving data between them) does to the data they covered.
    fn retention_effect(&self, c: Covered<'_>) -> Verdict {
        if !c.exists(self.new) {
            return minor(format!("{} is not processed under the new policy", c.describe()));
        }
        match (c.kept_for(self.old), c.kept_for(self.new)) {
            (Some(o), None) => material(format!(
                "{} had a time limit of {o} and has none now: it may be kept indefinitely",
                c.describe()
            )),
            (None, None) => minor(format!("{} had no time limit before either", c.describe())),
            (None, Some(_)) => minor(format!("{} gets a time limit where there was none", c.describe())),
            (Some(o), Some(n)) if longer(o, n) => material(format!(
                "{} is now kept for {n} instead of {o}: people must be told before it applies",
                c.describe()
            )),
            (Some(o), Some(_)) => minor(format!("{} is kept no longer than the {o} it was kept before", c.describe())),
        }
    }

    /// The first material effect among several covered things, else a minor summary.
    fn retention_effects(&self, covered: &[Covered<'_>], otherwise: &str) -> Verdict {
        covered
            .iter()
            .map(|c| self.retention_effect(*c))
            .find(|v| v.material)
            .unwrap_or_else(|| minor(otherwise.to_owned()))
    }

    // --- sections ---------------------------------------------------------------------------

    fn meta(&mut self) {
        let (o, n) = (&self.old.policy, &self.new.policy);
        self.field("policy.title".into(), &o.title, &n.title, |_, _| wording());
        self.field("policy.version".into(), &o.version, &n.version, |_, _| metadata());
        self.field("policy.effective".into(), &o.effective, &n.effective, |_, _| metadata());
        self.field("policy.language".into(), &o.language, &n.language, |_, _| metadata());
        self.field("policy.url".into(), &o.url, &n.url, |_, _| metadata());
        self.text("policy.summary".into(), &o.summary, &n.summary);
    }

    fn controller(&mut self) {
        let (o, n) = (&self.old.controller, &self.new.controller);
        let identity = || material("the controller's identity changed: a different organisation answers for the data");
        self.field("controller.legal_name".into(), &o.legal_name, &n.legal_name, |_, _| identity());
        self.field("controller.registration_number".into(), &o.registration_number, &n.registration_number, |a, _| {
            if a.is_none() { minor("a registration number where there was none") } else { identity() }
        });
        self.field("controller.registry".into(), &o.registry, &n.registry, |a, _| {
            if a.is_none() { minor("the register is named where it was not") } else { identity() }
        });
        self.field("controller.country".into(), &o.country, &n.country, |a, _| {
            if a.is_none() { minor("the country of establishment is stated where it was not") } else { identity() }
        });
        self.field("controller.trading_name".into(), &o.trading_name, &n.trading_name, |_, _| {
            minor("a brand name: the legal entity is unchanged")
        });
        self.field("controller.registered_office".into(), &o.registered_office, &n.registered_office, |_, _| {
            minor("contact details: the legal entity is unchanged")
        });
        self.field("controller.website".into(), &o.website, &n.website, |_, _| {
            minor("contact details: the legal entity is unchanged")
        });
        self.set(
            "controller.contacts".into(),
            &o.contacts,
            &n.contacts,
            |_| minor("another way to reach the controller"),
            |_| minor("contact details: the notice lists the ways that remain"),
        );
        for (field, old, new) in [("dpo", &o.dpo, &n.dpo), ("representative", &o.representative, &n.representative)] {
            let path = at("controller", field);
            match (old, new) {
                (Some(a), Some(b)) if a.name == b.name => {
                    self.text(at(&path, "email"), &a.email, &b.email);
                    self.text(at(&path, "address"), &a.address, &b.address);
                }
                _ => self.field(path, old, new, |_, b| match b {
                    None => material(format!("the {field} is removed: people lose a contact point for their rights")),
                    Some(_) => minor("contact details of an appointed person"),
                }),
            }
        }
    }

    fn products(&mut self) {
        for (key, p) in pair(&self.old.products, &self.new.products, |p: &Product| p.id.clone()) {
            let path = entity("products", &key);
            match p {
                Pair::Added(n) => self.whole(
                    path,
                    ChangeKind::Added,
                    "product",
                    &n.name,
                    minor("the policy covers another product; what is done with data is told by its activities"),
                ),
                Pair::Removed(o) => self.whole(
                    path,
                    ChangeKind::Removed,
                    "product",
                    &o.name,
                    minor("the policy no longer covers this product"),
                ),
                Pair::Both(o, n) => {
                    self.text(at(&path, "name"), &o.name, &n.name);
                    self.text(at(&path, "description"), &o.description, &n.description);
                }
            }
        }
    }

    fn subject_types(&mut self) {
        for (key, p) in pair(&self.old.subject_types, &self.new.subject_types, |s: &SubjectType| s.id.clone()) {
            let path = entity("subject_types", &key);
            match p {
                Pair::Added(n) => self.whole(
                    path,
                    ChangeKind::Added,
                    "kind of person",
                    &n.name,
                    minor("people of a new kind are told by the new notice; nothing changes for those already covered"),
                ),
                Pair::Removed(o) => self.whole(
                    path,
                    ChangeKind::Removed,
                    "kind of person",
                    &o.name,
                    minor("data of people of this kind is no longer processed"),
                ),
                Pair::Both(o, n) => {
                    self.text(at(&path, "name"), &o.name, &n.name);
                    self.text(at(&path, "description"), &o.description, &n.description);
                }
            }
        }
    }

    fn categories(&mut self) {
        for (key, p) in pair(&self.old.categories, &self.new.categories, |c: &Category| c.id.to_string()) {
            let path = entity("categories", &key);
            match p {
                Pair::Added(n) => {
                    let v = if n.prohibited {
                        minor("a category refused at intake, not collected")
                    } else {
                        material("a new category of data is collected: people must be told before it is")
                    };
                    self.whole(path, ChangeKind::Added, "category", &n.name, v);
                }
                Pair::Removed(o) => self.whole(
                    path,
                    ChangeKind::Removed,
                    "category",
                    &o.name,
                    minor("data of this category is no longer collected"),
                ),
                Pair::Both(o, n) => self.category(&path, o, n),
            }
        }
    }

    fn category(&mut self, path: &str, o: &Category, n: &Category) {
        self.text(at(path, "name"), &o.name, &n.name);
        self.text(at(path, "description"), &o.description, &n.description);
        self.text(at(path, "label"), &o.label, &n.label);
        self.set(at(path, "examples"), &o.examples, &n.examples, |_| wording(), |_| wording());
        self.flag(
            at(path, "special"),
            o.special,
            n.special,
            minor("treated as a special category: more protection, not less"),
            material("no longer treated as a special category: it loses the protection of GDPR Art. 9"),
        );
        self.flag(
            at(path, "optional"),
            o.optional,
            n.optional,
            minor("people may now leave it empty [promise P1]"),
            material("data people could leave empty is now required [promise P1]"),
        );
        self.flag(
            at(path, "prohibited"),
            o.prohibited,
            n.prohibited,
            minor("now refused at intake: it is no longer collected [promise W2]"),
            material("data that was refused at intake is now accepted [promise W2]"),
        );
        self.field(at(path, "storage_limit"), &o.storage_limit, &n.storage_limit, |a, b| {
            if storage_limit_rank(*b) >= storage_limit_rank(*a) {
                material("more of the value may be kept than people were told [promise P2]")
            } else {
                minor("less of the value is kept")
            }
        });
        self.flag(
            at(path, "encrypted_at_rest"),
            o.encrypted_at_rest,
            n.encrypted_at_rest,
            minor("a stronger safeguard"),
            material("a safeguard is removed: the data is no longer encrypted at rest [promise W12]"),
        );
        self.flag(
            at(path, "encrypted_in_transit"),
            o.encrypted_in_transit,
            n.encrypted_in_transit,
            minor("a stronger safeguard"),
            material("a safeguard is removed: the data is no longer encrypted in transit [promise O7]"),
        );
    }

    fn activities(&mut self) {
        for (key, p) in pair(&self.old.activities, &self.new.activities, |a: &Activity| a.id.clone()) {
            let path = entity("activities", &key);
            match p {
                Pair::Added(n) => self.whole(
                    path,
                    ChangeKind::Added,
                    "activity",
                    &n.name,
                    material("a new processing purpose: people must be told before it starts"),
                ),
                Pair::Removed(o) => {
                    self.whole(path, ChangeKind::Removed, "activity", &o.name, minor("this processing stops"))
                }
                Pair::Both(o, n) => self.activity(&path, o, n),
            }
        }
    }

    fn activity(&mut self, path: &str, o: &Activity, n: &Activity) {
        self.text(at(path, "name"), &o.name, &n.name);
        self.field(at(path, "purpose"), &o.purpose, &n.purpose, |_, _| {
            material(
                "the stated purpose changed: data may only be used for purposes people were told of, and a new wording may be a new purpose",
            )
        });
        self.field(at(path, "data_use"), &o.data_use, &n.data_use, |a, _| {
            if a.is_none() {
                minor("a data use is stated where there was none")
            } else {
                material("the data use changed: a different purpose")
            }
        });
        self.text(at(path, "label"), &o.label, &n.label);
        self.field(at(path, "role"), &o.role, &n.role, |_, _| {
            material("our role changed, and with it who decides and who answers people's requests")
        });
        self.field(at(path, "controller"), &o.controller, &n.controller, |_, _| {
            material("we act for a different controller")
        });
        self.field(at(path, "joint_with"), &o.joint_with, &n.joint_with, |_, _| {
            material("a different joint controller decides with us")
        });
        self.text(at(path, "agreement"), &o.agreement, &n.agreement);
        if !n.products.is_empty() || o.products.is_empty() {
            self.set(
                at(path, "products"),
                &o.products,
                &n.products,
                |_| material("the data of another product's users is used for this purpose"),
                |_| minor("fewer products' users are affected"),
            );
        } else {
            self.field(at(path, "products"), &o.products, &n.products, |_, _| {
                material("the activity now covers every product: more people's data is used for this purpose")
            });
        }
        self.set(
            at(path, "subject_types"),
            &o.subject_types,
            &n.subject_types,
            |_| material("the data of another kind of person is used for this purpose"),
            |_| minor("fewer kinds of people are affected"),
        );
        let old_categories = &o.categories;
        self.set(
            at(path, "categories"),
            &o.categories,
            &n.categories,
            |k| match old_categories.iter().find(|c| k.is_within(c)) {
                Some(parent) => minor(format!("already covered by `{parent}`")),
                None => material("a category newly used for this purpose: people must be told before it is"),
            },
            |_| minor("less data is used for this purpose"),
        );
        let same_bases = o.legal_bases.iter().all(|x| n.legal_bases.contains(x))
            && n.legal_bases.iter().all(|x| o.legal_bases.contains(x));
        // Listing the same bases in another order is not a change.
        if !same_bases {
            self.field(at(path, "legal_bases"), &o.legal_bases, &n.legal_bases, |a, b| {
                if b.iter().any(|x| !a.contains(x)) {
                    material("a new legal basis: whether people can withdraw consent or object depends on it")
                } else {
                    material("the legal basis changed: whether people can withdraw consent or object depends on it")
                }
            });
        }
        self.text(at(path, "basis_note"), &o.basis_note, &n.basis_note);
        self.field(at(path, "legitimate_interest"), &o.legitimate_interest, &n.legitimate_interest, |_, b| {
            if b.is_none() {
                minor("no legitimate interest is relied on any more")
            } else {
                material("the legitimate interest relied on changed [GDPR Art. 13(1)(d)]")
            }
        });
        self.field(at(path, "special_condition"), &o.special_condition, &n.special_condition, |_, b| {
            if b.is_none() {
                minor("no special-category condition is relied on any more")
            } else {
                material("the condition for processing special categories changed [GDPR Art. 9(2)]")
            }
        });
        self.field(at(path, "consent_purpose"), &o.consent_purpose, &n.consent_purpose, |a, b| match (a, b) {
            (None, Some(_)) => minor("the activity now needs consent"),
            (Some(_), None) => material("the activity no longer needs the consent it needed"),
            _ => material(
                "a different consent governs the activity: consents given for the old one do not count [promise K4]",
            ),
        });
        self.flag(
            at(path, "direct_marketing"),
            o.direct_marketing,
            n.direct_marketing,
            material("the data is now used for direct marketing"),
            material(
                "no longer treated as direct marketing: people lose the absolute right to object [GDPR Art. 21(3)]",
            ),
        );
        self.set(
            at(path, "sources"),
            &o.sources,
            &n.sources,
            |_| material("data comes from a new source: people must be told where it comes from [GDPR Art. 14]"),
            |_| minor("data no longer comes from this source"),
        );
        self.text(at(path, "source_detail"), &o.source_detail, &n.source_detail);
        self.set(
            at(path, "recipients"),
            &o.recipients,
            &n.recipients,
            |_| material("data of this activity is newly sent to a recipient [promise K4]"),
            |_| minor("this recipient no longer receives data of this activity"),
        );
        self.field(at(path, "automated_decisions"), &o.automated_decisions, &n.automated_decisions, |_, b| {
            if b.is_none() {
                minor("no automated decisions any more")
            } else {
                material("automated decisions with legal or similar effects [GDPR Art. 22]")
            }
        });
    }

    fn recipients(&mut self) {
        for (key, p) in pair(&self.old.recipients, &self.new.recipients, |r: &Recipient| r.id.clone()) {
            let path = entity("recipients", &key);
            match p {
                Pair::Added(n) => self.whole(
                    path,
                    ChangeKind::Added,
                    "recipient",
                    &n.name,
                    material("a new recipient of personal data: people must be told before data goes to it"),
                ),
                Pair::Removed(o) => self.whole(
                    path,
                    ChangeKind::Removed,
                    "recipient",
                    &o.name,
                    minor("data no longer goes to this recipient"),
                ),
                Pair::Both(o, n) => self.recipient(&path, o, n),
            }
        }
    }

    fn recipient(&mut self, path: &str, o: &Recipient, n: &Recipient) {
        self.text(at(path, "name"), &o.name, &n.name);
        self.field(at(path, "kind"), &o.kind, &n.kind, |_, _| material("a different kind of recipient"));
        self.field(at(path, "purpose"), &o.purpose, &n.purpose, |_, b| {
            if b.is_none() {
                minor("the purpose statement is removed")
            } else {
                material(
                    "the recipient uses the data for a different purpose: it needs fresh authorisation [promise K4]",
                )
            }
        });
        self.set(
            at(path, "activities"),
            &o.activities,
            &n.activities,
            |_| material("the recipient receives data for another activity [promise K4]"),
            |_| minor("the recipient receives data for fewer activities"),
        );
        self.set(
            at(path, "locations"),
            &o.locations,
            &n.locations,
            |_| material("the recipient processes data in a new place"),
            |_| minor("the recipient processes data in fewer places"),
        );
        self.field(at(path, "condition"), &o.condition, &n.condition, |a, b| match (a, b) {
            (None, Some(_)) => minor("data goes to the recipient only in some cases now"),
            (Some(_), None) => material("data goes to the recipient unconditionally now"),
            _ => material("the condition under which data goes to the recipient changed"),
        });
        self.flag(
            at(path, "opt_out"),
            o.opt_out,
            n.opt_out,
            minor("people may now opt out of this sharing [promise P5]"),
            material("people can no longer opt out of this sharing [promise P5]"),
        );
        self.flag(
            at(path, "sale"),
            o.sale,
            n.sale,
            material("disclosure to this recipient is now a sale or sharing under the CCPA"),
            minor("disclosure to this recipient is no longer a sale"),
        );
        self.flag(
            at(path, "trains_models"),
            o.trains_models,
            n.trains_models,
            material("the recipient may now train models on the data [promise W8]"),
            minor("the recipient no longer trains models on the data"),
        );
    }

    fn storage(&mut self) {
        let empty = Storage { regions: Vec::new(), description: None };
        match (&self.old.storage, &self.new.storage) {
            (None, None) => {}
            (Some(_), None) => self.whole(
                "storage".into(),
                ChangeKind::Removed,
                "storage locations",
                "",
                material("the policy no longer says where data is stored [promise W11]"),
            ),
            (o, n) => {
                let (o, n) = (o.as_ref().unwrap_or(&empty), n.as_ref().unwrap_or(&empty));
                let first_statement = self.old.storage.is_none();
                self.set(
                    "storage.regions".into(),
                    &o.regions,
                    &n.regions,
                    |_| {
                        if first_statement {
                            minor("the policy now says where data is stored")
                        } else {
                            material("data is stored in a new region [promise W11]")
                        }
                    },
                    |_| minor("data is stored in fewer regions"),
                );
                self.text("storage.description".into(), &o.description, &n.description);
            }
        }
    }

    fn transfers(&mut self) {
        for (key, p) in pair(&self.old.transfers, &self.new.transfers, |t: &Transfer| t.id.clone()) {
            let path = entity("transfers", &key);
            match p {
                Pair::Added(n) => self.whole(
                    path,
                    ChangeKind::Added,
                    &format!("transfer to {}", places(&n.destinations)),
                    "",
                    material("a new international transfer: people must be told before data leaves"),
                ),
                Pair::Removed(o) => self.whole(
                    path,
                    ChangeKind::Removed,
                    &format!("transfer to {}", places(&o.destinations)),
                    "",
                    minor("data is no longer transferred there"),
                ),
                Pair::Both(o, n) => self.transfer(&path, o, n),
            }
        }
    }

    fn transfer(&mut self, path: &str, o: &Transfer, n: &Transfer) {
        self.set(
            at(path, "destinations"),
            &o.destinations,
            &n.destinations,
            |_| material("data is transferred to a new destination"),
            |_| minor("data is transferred to fewer places"),
        );
        if !n.activities.is_empty() || o.activities.is_empty() {
            self.set(
                at(path, "activities"),
                &o.activities,
                &n.activities,
                |_| material("data of another activity is transferred"),
                |_| minor("data of fewer activities is transferred"),
            );
        } else {
            self.field(at(path, "activities"), &o.activities, &n.activities, |_, _| {
                material("data of every activity is transferred now")
            });
        }
        self.set(
            at(path, "recipients"),
            &o.recipients,
            &n.recipients,
            |_| material("data is transferred to another recipient"),
            |_| minor("data is transferred to fewer recipients"),
        );
        self.field(at(path, "safeguard"), &o.safeguard, &n.safeguard, |a, b| {
            if b.is_none() {
                material("the safeguard is removed: the transfer has no stated legal ground [promise K7]")
            } else if safeguard_rank(*b) < safeguard_rank(*a) {
                material("a weaker safeguard for the transfer [promise K7]")
            } else {
                minor("an equally strong or stronger safeguard")
            }
        });
        self.text(at(path, "description"), &o.description, &n.description);
    }

    fn consent_purposes(&mut self) {
        for (key, p) in pair(&self.old.consent_purposes, &self.new.consent_purposes, |c: &ConsentPurpose| c.id.clone())
        {
            let path = entity("consent_purposes", &key);
            match p {
                Pair::Added(n) => {
                    let v = match n.model {
                        ConsentModel::OptIn => minor("a new opt-in purpose: nothing happens without a new yes"),
                        ConsentModel::OptOut => {
                            material("a new opt-out purpose: it applies to people until they say no")
                        }
                    };
                    self.whole(path, ChangeKind::Added, "consent purpose", &n.name, v);
                }
                Pair::Removed(o) => self.whole(
                    path,
                    ChangeKind::Removed,
                    "consent purpose",
                    &o.name,
                    minor("people are no longer asked for this consent"),
                ),
                Pair::Both(o, n) => self.consent_purpose(&path, o, n),
            }
        }
    }

    fn consent_purpose(&mut self, path: &str, o: &ConsentPurpose, n: &ConsentPurpose) {
        let redefined = || {
            material("the consent is redefined: consents given under the old definition no longer count [promise K4]")
        };
        self.field(at(path, "name"), &o.name, &n.name, |_, _| redefined());
        self.field(at(path, "description"), &o.description, &n.description, |_, _| redefined());
        self.field(at(path, "kind"), &o.kind, &n.kind, |_, _| redefined());
        self.field(at(path, "model"), &o.model, &n.model, |_, b| match b {
            ConsentModel::OptOut => material("the purpose no longer waits for a yes: it runs until people say no"),
            ConsentModel::OptIn => minor("the purpose now waits for a yes"),
        });
        self.flag(
            at(path, "separate"),
            o.separate,
            n.separate,
            minor("consent is now asked for on its own [promise W8]"),
            material("consent may now be bundled with other terms [promise W8]"),
        );
        self.set(at(path, "recipients"), &o.recipients, &n.recipients, |_| redefined(), |_| redefined());
        self.set(at(path, "categories"), &o.categories, &n.categories, |_| redefined(), |_| redefined());
        self.period(at(path, "expires_after"), Bound::ConsentLife, o.expires_after, n.expires_after);
    }

    fn channels(&mut self) {
        for (key, p) in pair(&self.old.channels, &self.new.channels, |c: &Channel| c.id.clone()) {
            let path = entity("channels", &key);
            match p {
                Pair::Added(n) => {
                    let v = if n.transactional {
                        material("a new kind of message people cannot opt out of")
                    } else {
                        minor("a new kind of message people can opt out of")
                    };
                    self.whole(path, ChangeKind::Added, "channel", &n.name, v);
                }
                Pair::Removed(o) => self.whole(
                    path,
                    ChangeKind::Removed,
                    "channel",
                    &o.name,
                    minor("these messages are no longer sent"),
                ),
                Pair::Both(o, n) => self.channel(&path, o, n),
            }
        }
    }

    fn channel(&mut self, path: &str, o: &Channel, n: &Channel) {
        self.text(at(path, "name"), &o.name, &n.name);
        self.text(at(path, "description"), &o.description, &n.description);
        self.field(at(path, "medium"), &o.medium, &n.medium, |_, _| {
            material("messages arrive another way: a consent or opt-out given for one medium does not carry over")
        });
        self.flag(
            at(path, "transactional"),
            o.transactional,
            n.transactional,
            material("people can no longer opt out of these messages [promises O6, T6, P4]"),
            minor("people may now opt out of these messages"),
        );
        self.field(at(path, "consent_purpose"), &o.consent_purpose, &n.consent_purpose, |a, b| match (a, b) {
            (None, Some(_)) => minor("these messages now need consent"),
            (Some(_), None) => material("these messages no longer need the consent they needed"),
            _ => material("a different consent governs these messages: consents given for the old one do not count"),
        });
        self.flag(
            at(path, "one_time"),
            o.one_time,
            n.one_time,
            minor("sent once only"),
            material("no longer sent once only: people may receive it repeatedly [promise T6]"),
        );
    }

    fn rights(&mut self) {
        match (&self.old.rights, &self.new.rights) {
            (None, None) => {}
            (None, Some(_)) => self.whole(
                "rights".into(),
                ChangeKind::Added,
                "rights section",
                "",
                minor("the policy now states people's rights"),
            ),
            (Some(_), None) => self.whole(
                "rights".into(),
                ChangeKind::Removed,
                "rights section",
                "",
                material("the policy no longer states people's rights or how fast they are answered"),
            ),
            (Some(o), Some(n)) => self.rights_fields(o, n),
        }
    }

    fn rights_fields(&mut self, o: &Rights, n: &Rights) {
        self.set(
            "rights.offered".into(),
            &o.offered,
            &n.offered,
            |_| minor("a right added: people gain, nothing is taken away"),
            |_| material("a right removed: people lose a way to control their data"),
        );
        self.flag(
            "rights.everyone".into(),
            o.everyone,
            n.everyone,
            minor("rights now apply to everyone, wherever they live [promise P6]"),
            material("rights no longer apply to everyone, wherever they live [promise P6]"),
        );
        self.set(
            "rights.intake".into(),
            &o.intake,
            &n.intake,
            |_| minor("another way to make a request"),
            |_| material("a way to make a request is gone"),
        );
        self.field("rights.verification".into(), &o.verification, &n.verification, |a, b| {
            if verification_rank(*b) > verification_rank(*a) {
                material("more proof of identity is asked before requests are acted on")
            } else {
                minor("less proof of identity is asked")
            }
        });
        self.flag(
            "rights.approval".into(),
            o.approval,
            n.approval,
            material("requests now wait for a person's approval before they run"),
            minor("requests no longer wait for approval"),
        );
        self.set(
            "rights.self_service".into(),
            &o.self_service,
            &n.self_service,
            |_| minor("people can do more themselves"),
            |_| material("people can no longer do this themselves in the product"),
        );
        self.period("rights.promise".into(), Bound::Deadline, o.promise, n.promise);
        for (key, p) in pair(&o.deadlines, &n.deadlines, |d: &Deadline| d.jurisdiction.to_string()) {
            let path = entity("rights.deadlines", &key);
            match p {
                Pair::Added(n) => self.whole(
                    path,
                    ChangeKind::Added,
                    &format!("deadline for {}", n.jurisdiction.describe()),
                    "",
                    minor("a deadline is promised where there was none"),
                ),
                Pair::Removed(o) => self.whole(
                    path,
                    ChangeKind::Removed,
                    &format!("deadline for {}", o.jurisdiction.describe()),
                    "",
                    material("no deadline is promised there any more"),
                ),
                Pair::Both(o, n) => {
                    self.period(
                        at(&path, "respond_within"),
                        Bound::Deadline,
                        Some(o.respond_within),
                        Some(n.respond_within),
                    );
                    self.period(at(&path, "extension"), Bound::Extension, o.extension, n.extension);
                    self.period(
                        at(&path, "extension_notice_within"),
                        Bound::Deadline,
                        o.extension_notice_within,
                        n.extension_notice_within,
                    );
                    self.period(
                        at(&path, "acknowledge_within"),
                        Bound::Deadline,
                        o.acknowledge_within,
                        n.acknowledge_within,
                    );
                }
            }
        }
    }

    fn retention(&mut self) {
        for (key, p) in pair(&self.old.retention, &self.new.retention, |r: &RetentionRule| r.id.clone()) {
            let path = entity("retention", &key);
            match p {
                Pair::Added(n) => {
                    let v =
                        self.retention_effects(&covered(n), "a new retention limit: it does not keep any data longer");
                    self.whole(path, ChangeKind::Added, "retention rule", &n.name, v);
                }
                Pair::Removed(o) => {
                    let v = self.retention_effects(
                        &covered(o),
                        "what the rule covered is no longer processed or is limited at least as tightly elsewhere",
                    );
                    self.whole(path, ChangeKind::Removed, "retention rule", &o.name, v);
                }
                Pair::Both(o, n) => self.retention_rule(&path, o, n),
            }
        }
    }

    fn retention_rule(&mut self, path: &str, o: &RetentionRule, n: &RetentionRule) {
        self.text(at(path, "name"), &o.name, &n.name);
        self.text(at(path, "description"), &o.description, &n.description);
        for k in n.categories.iter().filter(|k| !o.categories.contains(k)) {
            let v = self.retention_effect(Covered::Category(k));
            self.push(at(path, "categories"), ChangeKind::Added, format!("added {k}"), v);
        }
        for k in o.categories.iter().filter(|k| !n.categories.contains(k)) {
            let v = self.retention_effect(Covered::Category(k));
            self.push(at(path, "categories"), ChangeKind::Removed, format!("removed {k}"), v);
        }
        for a in n.activities.iter().filter(|a| !o.activities.contains(a)) {
            let v = self.retention_effect(Covered::Activity(a));
            self.push(at(path, "activities"), ChangeKind::Added, format!("added {}", a.words()), v);
        }
        for a in o.activities.iter().filter(|a| !n.activities.contains(a)) {
            let v = self.retention_effect(Covered::Activity(a));
            self.push(at(path, "activities"), ChangeKind::Removed, format!("removed {}", a.words()), v);
        }
        let old_longest = o.longest_period();
        let clock_verdict = |old_p: Option<Period>, new_p: Option<Period>| match (old_p, new_p, old_longest) {
            // A clock counts only when it outlasts every clock the rule had.
            (_, Some(np), Some(ol)) if longer(ol, np) => judge_period(Bound::Retention, Some(ol), Some(np)),
            (Some(op), Some(np), Some(ol)) if longer(op, np) => {
                minor(format!("longer, but the rule's longest clock, {ol}, still decides"))
            }
            (Some(op), Some(np), _) => judge_period(Bound::Retention, Some(op), Some(np)),
            (None, Some(_), Some(ol)) => minor(format!("a criterion within the rule's longest clock, {ol}")),
            (_, Some(_), None) => minor("a time limit where there was none"),
            (Some(_), None, _) | (None, None, _) => judge_period(Bound::Retention, old_longest, n.longest_period()),
        };
        let old_clocks_all = o.clocks();
        self.field(at(path, "trigger"), &o.trigger, &n.trigger, |_, b| match b {
            Some(t) if old_clocks_all.iter().any(|c| c.trigger == *t) => {
                minor("the clock starts from an event the rule already counted from")
            }
            Some(t) => material(format!("the clock now starts {}: the data may be kept longer", t.plain())),
            None => judge_period(Bound::Retention, old_longest, n.longest_period()),
        });
        self.field(at(path, "period"), &o.period, &n.period, |a, b| clock_verdict(*a, *b));
        let (old_clocks, new_clocks) = (clock_keys(&o.longest_of), clock_keys(&n.longest_of));
        for (key, c) in &new_clocks {
            let cpath = entity(&at(path, "longest_of"), key);
            match old_clocks.iter().find(|(k, _)| k == key) {
                None => {
                    let v = clock_verdict(None, Some(c.period));
                    self.push(cpath, ChangeKind::Added, format!("added clock: {}", c.words()), v);
                }
                Some((_, oc)) => {
                    self.field(at(&cpath, "period"), &oc.period, &c.period, |a, b| clock_verdict(Some(*a), Some(*b)));
                    self.text(at(&cpath, "reason"), &oc.reason, &c.reason);
                }
            }
        }
        for (key, c) in &old_clocks {
            if !new_clocks.iter().any(|(k, _)| k == key) {
                let v = clock_verdict(Some(c.period), None);
                let v = if n.longest_period().is_some() && !v.material {
                    minor("one criterion fewer: the data is not kept longer")
                } else {
                    v
                };
                self.push(
                    entity(&at(path, "longest_of"), key),
                    ChangeKind::Removed,
                    format!("removed clock: {}", c.words()),
                    v,
                );
            }
        }
        self.flag(
            at(path, "controller_defined"),
            o.controller_defined,
            n.controller_defined,
            material("the customer now sets the period: the published one no longer binds [promise T4]"),
            minor("we set the period ourselves, as published"),
        );
        self.flag(
            at(path, "export_before"),
            o.export_before,
            n.export_before,
            minor("an export is offered before the data goes [promise T4]"),
            material("no export is offered any more before the data goes [promise T4]"),
        );
        self.field(at(path, "action"), &o.action, &n.action, |a, b| {
            if action_rank(*b) > action_rank(*a) {
                material("more of the data survives when its time is up [promises K5, T4]")
            } else {
                minor("less of the data survives when its time is up")
            }
        });
        let action = n.action;
        self.field(at(path, "fallback"), &o.fallback, &n.fallback, |a, b| match (a, b) {
            (_, None) => minor("the action always runs"),
            (None, Some(f)) if action_rank(*f) > action_rank(action) => {
                material("a fallback that keeps more of the data when the action is impossible")
            }
            (Some(of), Some(f)) if action_rank(*f) > action_rank(*of) => {
                material("the fallback keeps more of the data [promises K5, T4]")
            }
            _ => minor("the fallback keeps no more of the data"),
        });
        self.set(
            at(path, "legal_holds"),
            &o.legal_holds,
            &n.legal_holds,
            |_| material("a legal hold may keep some of this data longer"),
            |_| minor("one legal hold fewer"),
        );
        self.text(at(path, "interpretation"), &o.interpretation, &n.interpretation);
    }

    fn legal_holds(&mut self) {
        for (key, p) in pair(&self.old.legal_holds, &self.new.legal_holds, |h: &LegalHold| h.id.clone()) {
            let path = entity("legal_holds", &key);
            match p {
                Pair::Added(n) => self.whole(
                    path,
                    ChangeKind::Added,
                    "legal hold",
                    &n.name,
                    material("a new legal hold: data is kept despite retention rules and erasure requests"),
                ),
                Pair::Removed(o) => self.whole(
                    path,
                    ChangeKind::Removed,
                    "legal hold",
                    &o.name,
                    minor("data is no longer kept under this hold"),
                ),
                Pair::Both(o, n) => {
                    self.text(at(&path, "name"), &o.name, &n.name);
                    self.text(at(&path, "basis"), &o.basis, &n.basis);
                    self.set(
                        at(&path, "categories"),
                        &o.categories,
                        &n.categories,
                        |_| material("more data is kept under the hold despite erasure requests"),
                        |_| minor("less data is kept under the hold"),
                    );
                    self.set(
                        at(&path, "activities"),
                        &o.activities,
                        &n.activities,
                        |_| material("more data is kept under the hold despite erasure requests"),
                        |_| minor("less data is kept under the hold"),
                    );
                    self.field(at(&path, "trigger"), &o.trigger, &n.trigger, |_, b| {
                        material(format!("the hold now runs {}: the data may be kept longer", b.plain()))
                    });
                    self.period(at(&path, "period"), Bound::Retention, Some(o.period), Some(n.period));
                    self.text(at(&path, "interpretation"), &o.interpretation, &n.interpretation);
                }
            }
        }
    }

    fn minimum_ages(&mut self) {
        let default_age = |p: &Policy| p.minimum_ages.iter().find(|m| m.jurisdiction.is_default()).map(|m| m.age);
        let (old_default, new_default) = (default_age(self.old), default_age(self.new));
        for (key, p) in
            pair(&self.old.minimum_ages, &self.new.minimum_ages, |m: &MinimumAge| m.jurisdiction.to_string())
        {
            let path = entity("minimum_ages", &key);
            match p {
                Pair::Added(n) => {
                    let v = match old_default {
                        Some(d) if n.age < d => material(format!(
                            "a lower minimum age for {}: {} instead of {d}",
                            n.jurisdiction.describe(),
                            n.age
                        )),
                        _ => minor("a minimum age where none applied, or a higher one"),
                    };
                    self.whole(
                        path,
                        ChangeKind::Added,
                        &format!("minimum age for {}", n.jurisdiction.describe()),
                        "",
                        v,
                    );
                }
                Pair::Removed(o) => {
                    let v = match new_default {
                        Some(d) if d >= o.age && !o.jurisdiction.is_default() => {
                            minor(format!("the general minimum age, {d}, applies there and is no lower"))
                        }
                        _ => material("a minimum age is dropped: younger people may be served"),
                    };
                    self.whole(
                        path,
                        ChangeKind::Removed,
                        &format!("minimum age for {}", o.jurisdiction.describe()),
                        "",
                        v,
                    );
                }
                Pair::Both(o, n) => self.field(at(&path, "age"), &o.age, &n.age, |a, b| {
                    if b < a {
                        material("a lower minimum age: younger people may be served")
                    } else {
                        minor("a higher minimum age: fewer people may be served, and their data is removed")
                    }
                }),
            }
        }
    }

    fn commitments(&mut self) {
        let (o, n) = (&self.old.commitments, &self.new.commitments);
        let rows = [
            ("never_sell", o.never_sell, n.never_sell, "the promise never to sell personal data is dropped"),
            (
                "notify_of_legal_orders",
                o.notify_of_legal_orders,
                n.notify_of_legal_orders,
                "people are no longer told of legal orders about their data [promise W11]",
            ),
            (
                "record_disclosures",
                o.record_disclosures,
                n.record_disclosures,
                "disclosures are no longer recorded [promise W5]",
            ),
            (
                "screen_prohibited_content",
                o.screen_prohibited_content,
                n.screen_prohibited_content,
                "prohibited content is no longer screened at intake [promise W2]",
            ),
        ];
        for (field, old, new, dropped) in rows {
            self.flag(at("commitments", field), old, new, minor("a new commitment: people gain"), material(dropped));
        }
    }

    fn change_notice(&mut self) {
        let (o, n) = match (&self.old.changes, &self.new.changes) {
            (None, None) => return,
            (None, Some(_)) => {
                return self.whole(
                    "changes".into(),
                    ChangeKind::Added,
                    "change notice",
                    "",
                    minor("the policy now promises notice before it changes"),
                );
            }
            (Some(_), None) => {
                return self.whole(
                    "changes".into(),
                    ChangeKind::Removed,
                    "change notice",
                    "",
                    material("no notice is promised any more before the policy changes [promise P9]"),
                );
            }
            (Some(o), Some(n)) => (o, n),
        };
        let (o, n): (&ChangeNotice, &ChangeNotice) = (o, n);
        self.period("changes.material_notice".into(), Bound::Notice, o.material_notice, n.material_notice);
        self.set(
            "changes.channels".into(),
            &o.channels,
            &n.channels,
            |_| minor("changes are announced another way too"),
            |_| material("changes are no longer announced this way [promise T8]"),
        );
        self.flag(
            "changes.prominent".into(),
            o.prominent,
            n.prominent,
            minor("material changes are announced prominently [promise W13]"),
            material("material changes are no longer announced prominently [promise W13]"),
        );
    }

    fn shutdown(&mut self) {
        let (o, n): (&ShutdownNotice, &ShutdownNotice) = match (&self.old.shutdown, &self.new.shutdown) {
            (None, None) => return,
            (None, Some(_)) => {
                return self.whole(
                    "shutdown".into(),
                    ChangeKind::Added,
                    "shutdown notice",
                    "",
                    minor("the policy now promises notice before a product is shut down"),
                );
            }
            (Some(_), None) => {
                return self.whole(
                    "shutdown".into(),
                    ChangeKind::Removed,
                    "shutdown notice",
                    "",
                    material("no notice is promised any more before a product is shut down [promise K6]"),
                );
            }
            (Some(o), Some(n)) => (o, n),
        };
        self.period("shutdown.notice".into(), Bound::Notice, Some(o.notice), Some(n.notice));
        self.set(
            "shutdown.channels".into(),
            &o.channels,
            &n.channels,
            |_| minor("a shutdown is announced another way too"),
            |_| material("a shutdown is no longer announced this way"),
        );
        self.field("shutdown.action".into(), &o.action, &n.action, |a, b| {
            if action_rank(*b) > action_rank(*a) {
                material("more of the data survives a shutdown [promise K6]")
            } else {
                minor("less of the data survives a shutdown")
            }
        });
    }

    fn breach(&mut self) {
        let (o, n): (&BreachCommitments, &BreachCommitments) = match (&self.old.breach, &self.new.breach) {
            (None, None) => return,
            (None, Some(_)) => {
                return self.whole(
                    "breach".into(),
                    ChangeKind::Added,
                    "breach commitments",
                    "",
                    minor("the policy now says how breaches are notified"),
                );
            }
            (Some(_), None) => {
                return self.whole(
                    "breach".into(),
                    ChangeKind::Removed,
                    "breach commitments",
                    "",
                    material("the policy no longer says how breaches are notified [promises W12, K8]"),
                );
            }
            (Some(o), Some(n)) => (o, n),
        };
        self.period("breach.authority_within".into(), Bound::Deadline, o.authority_within, n.authority_within);
        self.flag(
            "breach.notify_subjects".into(),
            o.notify_subjects,
            n.notify_subjects,
            minor("affected people are now told of a breach"),
            material("affected people are no longer told of a breach [promises W12, K8]"),
        );
        self.period("breach.subjects_within".into(), Bound::Deadline, o.subjects_within, n.subjects_within);
        self.flag(
            "breach.public_notice_fallback".into(),
            o.public_notice_fallback,
            n.public_notice_fallback,
            material("a public announcement may now replace telling each person [promise K8]"),
            minor("each affected person is told individually"),
        );
        self.set(
            "breach.channels".into(),
            &o.channels,
            &n.channels,
            |_| minor("breaches are notified another way too"),
            |_| material("breaches are no longer notified this way"),
        );
    }

    fn ownership_change(&mut self) {
        let (o, n): (&OwnershipChange, &OwnershipChange) =
            match (&self.old.ownership_change, &self.new.ownership_change) {
                (None, None) => return,
                (None, Some(_)) => {
                    return self.whole(
                        "ownership_change".into(),
                        ChangeKind::Added,
                        "ownership-change commitments",
                        "",
                        minor("the policy now says what people are told when the company changes hands"),
                    );
                }
                (Some(_), None) => {
                    return self.whole(
                        "ownership_change".into(),
                        ChangeKind::Removed,
                        "ownership-change commitments",
                        "",
                        material("people are no longer promised notice when the company changes hands [promise O9]"),
                    );
                }
                (Some(o), Some(n)) => (o, n),
            };
        self.flag(
            "ownership_change.notify".into(),
            o.notify,
            n.notify,
            minor("people are now told when the company changes hands"),
            material("people are no longer told when the company changes hands [promise O9]"),
        );
        self.set(
            "ownership_change.channels".into(),
            &o.channels,
            &n.channels,
            |_| minor("announced another way too"),
            |_| material("no longer announced this way"),
        );
        self.flag(
            "ownership_change.successor_bound".into(),
            o.successor_bound,
            n.successor_bound,
            minor("an acquirer stays bound by this policy"),
            material("an acquirer is no longer bound by this policy [promise T3]"),
        );
    }

    fn security(&mut self) {
        let none = Security { measures: Vec::new() };
        let (o, n) = (self.old.security.as_ref().unwrap_or(&none), self.new.security.as_ref().unwrap_or(&none));
        self.set(
            "security.measures".into(),
            &o.measures,
            &n.measures,
            |_| minor("another security measure"),
            |_| material("a security measure is no longer promised"),
        );
    }

    fn cookies(&mut self) {
        let (o, n): (&Cookies, &Cookies) = match (&self.old.cookies, &self.new.cookies) {
            (None, None) => return,
            (None, Some(_)) => {
                return self.whole(
                    "cookies".into(),
                    ChangeKind::Added,
                    "cookies section",
                    "",
                    material("cookies and similar technologies are now used: people must be told before they are"),
                );
            }
            (Some(_), None) => {
                return self.whole(
                    "cookies".into(),
                    ChangeKind::Removed,
                    "cookies section",
                    "",
                    minor("cookies are no longer described"),
                );
            }
            (Some(o), Some(n)) => (o, n),
        };
        self.text("cookies.description".into(), &o.description, &n.description);
        self.flag(
            "cookies.consent_required".into(),
            o.consent_required,
            n.consent_required,
            minor("non-essential cookies now need consent [promise W14]"),
            material("non-essential cookies no longer need consent [promise W14]"),
        );
    }
}

/// Regions in words: "the United States and Singapore".
fn places(regions: &[Region]) -> String {
    join_and(&regions.iter().map(Region::describe).collect::<Vec<_>>())
}

/// Everything a retention rule covers.
fn covered(r: &RetentionRule) -> Vec<Covered<'_>> {
    r.categories.iter().map(Covered::Category).chain(r.activities.iter().map(|a| Covered::Activity(a))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_with_and() {
        assert_eq!(join_and(&[]), "");
        assert_eq!(join_and(&["by email"]), "by email");
        assert_eq!(join_and(&["by email", "in-app"]), "by email and in-app");
        assert_eq!(join_and(&["a", "b", "c"]), "a, b and c");
    }

    #[test]
    fn long_text_is_shortened_on_one_line() {
        assert_eq!("a\n  b".to_owned().words(), "\"a b\"");
        let long = "é".repeat(70);
        assert_eq!(long.words(), format!("\"{}…\"", "é".repeat(60)));
    }

    #[test]
    fn pairs_by_key_whatever_the_order() {
        let got: Vec<(String, &str)> = pair(&["a", "b", "c", "a"], &["c", "d", "a"], |s: &&str| (*s).to_owned())
            .into_iter()
            .map(|(k, p)| {
                let what = match p {
                    Pair::Added(_) => "added",
                    Pair::Removed(_) => "removed",
                    Pair::Both(..) => "both",
                };
                (k, what)
            })
            .collect();
        let want = [("c", "both"), ("d", "added"), ("a", "both"), ("b", "removed")];
        assert_eq!(got, want.map(|(k, w)| (k.to_owned(), w)));
    }

    #[test]
    fn periods_judged_by_what_they_bound() {
        let p = |s: &str| s.parse::<Period>().expect("a period");
        let j = |b, o: Option<&str>, n: Option<&str>| judge_period(b, o.map(p), n.map(p)).material;
        assert!(j(Bound::Retention, Some("3 years"), Some("5 years")));
        assert!(!j(Bound::Retention, Some("5 years"), Some("3 years")));
        assert!(j(Bound::Retention, Some("3 years"), None));
        assert!(!j(Bound::Retention, Some("2 weeks"), Some("10 business days")));
        assert!(j(Bound::Notice, Some("30 days"), Some("14 days")));
        assert!(!j(Bound::Notice, Some("30 days"), Some("2 months")));
        assert!(j(Bound::Deadline, Some("30 days"), Some("45 days")));
        assert!(j(Bound::Extension, None, Some("2 months")));
        assert!(!j(Bound::ConsentLife, None, Some("1 year")));
    }

    #[test]
    fn clocks_with_the_same_trigger_get_distinct_keys() {
        let clock = |t, y| Clock { trigger: t, period: Period::years(y), reason: None };
        let clocks = [
            clock(RetentionTrigger::Collected, 1),
            clock(RetentionTrigger::AccountClosed, 2),
            clock(RetentionTrigger::Collected, 3),
        ];
        let keys: Vec<String> = clock_keys(&clocks).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["collected", "account_closed", "collected#2"]);
    }
}
