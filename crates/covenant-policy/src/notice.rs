//! The public privacy notice (GDPR Art. 13/14), generated from the policy.
//!
//! The notice is built once as a small document model, [`Notice`]: numbered sections of
//! headings, paragraphs and bulleted lists, whose text is plain words with simple inline
//! emphasis and links. That model is then written out as Markdown by code ([`markdown`]) and as
//! a standalone HTML page through the askama template `templates/notice.html` ([`html`]), so
//! every sentence of the notice is written once, here. Policy text is always escaped: askama
//! escapes every value in the HTML page, and the Markdown writer backslash-escapes the
//! characters Markdown would read as markup.
//!
//! The notice reads like a policy, not a data dump: it never shows ids or wire names, only the
//! names the policy gives to things, and a section is left out when the policy has nothing for
//! it. Retention rules that are our concrete reading of a vague published text show the
//! concrete period; the interpretation itself is internal and never printed.

use askama::Template;
use covenant_core::{Art9Condition, CategoryKey, Jurisdiction, LegalBasis, Region, taxonomy};

use crate::model::{
    Activity, Category, Clock, ConsentKind, ConsentModel, ConsentPurpose, Contact, ContactKind, Medium, NoticeChannel,
    Party, Policy, Recipient, RecipientKind, RetentionAction, RetentionRule, Role, Safeguard, Source, StorageLimit,
    Verification,
};

// ---------------------------------------------------------------------------------------------
// The document model
// ---------------------------------------------------------------------------------------------

/// A privacy notice, ready to be written as Markdown or HTML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The notice's title, from the policy.
    pub title: String,
    /// The line under the title: version and effective date.
    pub meta: String,
    /// The language of the text (BCP 47).
    pub language: String,
    /// Opening paragraphs.
    pub intro: Vec<Text>,
    /// The numbered sections, in reading order; sections with nothing to say are left out.
    pub sections: Vec<Section>,
}

/// A numbered section of the notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// A stable fragment identifier for links (`your-rights`).
    pub anchor: &'static str,
    /// Its number, from 1, counting only the sections present.
    pub number: usize,
    pub heading: String,
    pub blocks: Vec<Block>,
}

/// A piece of a section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// A heading inside a section.
    Heading(String),
    /// A heading inside a part of a section.
    Subheading(String),
    Paragraph(Text),
    /// A bulleted list; never empty, and no item is empty.
    List(Vec<Item>),
}

/// An item of a list, with the items of a list nested in it, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub text: Text,
    pub children: Vec<Text>,
}

/// A run of text with simple inline formatting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    pub parts: Vec<Inline>,
}

/// One piece of a [`Text`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inline {
    Plain(String),
    Emphasis(String),
    Strong(String),
    /// A link; `href` is an `http(s):` or `mailto:` address, never anything else.
    Link {
        text: String,
        href: String,
    },
}

impl Text {
    /// Plain text.
    pub fn plain(s: impl AsRef<str>) -> Text {
        Text::default().and(s)
    }

    /// Appends plain text.
    pub fn and(mut self, s: impl AsRef<str>) -> Text {
        let s = s.as_ref();
        if s.is_empty() {
            return self;
        }
        match self.parts.last_mut() {
            Some(Inline::Plain(last)) => last.push_str(s),
            _ => self.parts.push(Inline::Plain(s.to_owned())),
        }
        self
    }

    /// Appends strongly emphasised text.
    pub fn strong(mut self, s: impl AsRef<str>) -> Text {
        let s = s.as_ref().trim();
        if !s.is_empty() {
            self.parts.push(Inline::Strong(s.to_owned()));
        }
        self
    }

    /// Appends emphasised text.
    pub fn emphasis(mut self, s: impl AsRef<str>) -> Text {
        let s = s.as_ref().trim();
        if !s.is_empty() {
            self.parts.push(Inline::Emphasis(s.to_owned()));
        }
        self
    }

    /// Appends an address: a link when it is a web or email address, plain text otherwise.
    pub fn address(mut self, s: impl AsRef<str>) -> Text {
        let s = tidy(s.as_ref());
        match href_for(&s) {
            Some(href) => {
                self.parts.push(Inline::Link { text: s, href });
                self
            }
            None => self.and(s),
        }
    }

    /// Appends another text.
    pub fn then(mut self, other: Text) -> Text {
        for part in other.parts {
            match part {
                Inline::Plain(s) => self = self.and(s),
                other => self.parts.push(other),
            }
        }
        self
    }

    /// True when there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(|p| match p {
            Inline::Plain(s) | Inline::Emphasis(s) | Inline::Strong(s) => s.trim().is_empty(),
            Inline::Link { text, .. } => text.trim().is_empty(),
        })
    }

    /// The words without formatting.
    pub fn to_plain(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Inline::Plain(s) | Inline::Emphasis(s) | Inline::Strong(s) => s.as_str(),
                Inline::Link { text, .. } => text.as_str(),
            })
            .collect()
    }

    /// The same text with its first letter capitalised (when it starts with plain text).
    fn capitalised(mut self) -> Text {
        if let Some(Inline::Plain(first)) = self.parts.first_mut() {
            *first = upper_first(first);
        }
        self
    }
}

/// An item of the form "**Name**: text", or just "**Name**" when there is nothing to add.
fn item(name: &str, body: impl Into<Text>) -> Text {
    let body = body.into();
    let head = Text::default().strong(name);
    if body.is_empty() { head } else { head.and(": ").then(body) }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::plain(s)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::plain(s)
    }
}

/// Collects the blocks of a section, dropping anything empty.
#[derive(Default)]
struct Blocks(Vec<Block>);

impl Blocks {
    fn heading(&mut self, s: impl AsRef<str>) {
        self.0.push(Block::Heading(tidy(s.as_ref())));
    }
    fn subheading(&mut self, s: impl AsRef<str>) {
        self.0.push(Block::Subheading(tidy(s.as_ref())));
    }
    fn para(&mut self, t: impl Into<Text>) {
        let t = t.into();
        if !t.is_empty() {
            self.0.push(Block::Paragraph(t));
        }
    }
    /// A paragraph of sentences; nothing when there are none.
    fn sentences(&mut self, sentences: Vec<String>) {
        let s: Vec<String> = sentences.into_iter().filter(|s| !s.trim().is_empty()).collect();
        if !s.is_empty() {
            self.para(s.join(" "));
        }
    }
    fn list(&mut self, items: Vec<Text>) {
        self.nested(items.into_iter().map(|text| Item { text, children: Vec::new() }).collect());
    }
    /// A list whose items may hold lists of their own.
    fn nested(&mut self, items: Vec<Item>) {
        let items: Vec<Item> = items
            .into_iter()
            .filter(|i| !i.text.is_empty())
            .map(|i| Item { text: i.text, children: i.children.into_iter().filter(|c| !c.is_empty()).collect() })
            .collect();
        if !items.is_empty() {
            self.0.push(Block::List(items));
        }
    }
    /// Paragraphs of author text: blank lines separate paragraphs.
    fn author_paragraphs(&mut self, s: &str) {
        for p in paragraphs(s) {
            self.para(sentence(&p));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Building the notice
// ---------------------------------------------------------------------------------------------

type Builder = fn(&Policy) -> Vec<Block>;

/// The sections in reading order: anchor, heading, builder.
const SECTIONS: &[(&str, &str, Builder)] = &[
    ("who-we-are", "Who we are and how to contact us", who_we_are),
    ("scope", "What this notice covers", scope),
    ("what-we-collect", "What information we collect", what_we_collect),
    ("sources", "Where the information comes from", sources),
    ("how-we-use-it", "How we use it and why", how_we_use_it),
    ("your-choices", "Your choices", your_choices),
    ("sharing", "Who we share it with", sharing),
    ("storage-and-transfers", "Where your data is stored and transferred", storage_and_transfers),
    ("retention", "How long we keep it", retention),
    ("your-rights", "Your rights", your_rights),
    ("children", "Children", children),
    ("cookies", "Cookies and similar technologies", cookies),
    ("security", "How we protect your data", security),
    ("changes", "Changes to this notice", changes),
    ("shutdown", "If we close a product", shutdown),
    ("ownership", "If our company changes hands", ownership),
    ("version", "Version and effective date", version),
];

/// Builds the notice's document model.
pub fn document(policy: &Policy) -> Notice {
    let sections = SECTIONS
        .iter()
        .filter_map(|(anchor, heading, build)| {
            let blocks = build(policy);
            (!blocks.is_empty()).then_some((*anchor, *heading, blocks))
        })
        .enumerate()
        .map(|(i, (anchor, heading, blocks))| Section { anchor, number: i + 1, heading: heading.to_owned(), blocks })
        .collect();
    let meta = &policy.policy;
    Notice {
        title: tidy(&meta.title),
        meta: format!("Version {} · Effective {}", tidy(&meta.version), date(&meta.effective)),
        language: meta.language.as_deref().map(tidy).filter(|l| !l.is_empty()).unwrap_or_else(|| "en".to_owned()),
        intro: intro(policy),
        sections,
    }
}

fn intro(p: &Policy) -> Vec<Text> {
    let mut b = Blocks::default();
    if let Some(summary) = &p.policy.summary {
        b.author_paragraphs(summary);
    }
    b.para(format!(
        "This notice explains what personal data {} collects, why and on what legal basis, who we share it with, \
         how long we keep it, and the rights and choices you have.",
        tidy(p.controller_name())
    ));
    b.0.into_iter()
        .filter_map(|block| match block {
            Block::Paragraph(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn who_we_are(p: &Policy) -> Vec<Block> {
    let c = &p.controller;
    let mut b = Blocks::default();
    let legal = tidy(&c.legal_name);
    let mut s = Vec::new();
    match c.trading_name.as_deref().map(tidy).filter(|t| !t.is_empty() && *t != legal) {
        Some(trading) => s.push(format!("This notice is published by {legal}, trading as {trading} (“we”, “us”).")),
        None => s.push(format!("This notice is published by {legal} (“we”, “us”).")),
    }
    let registration = match (c.registry.as_deref().map(tidy), c.registration_number.as_deref().map(tidy)) {
        (Some(registry), Some(number)) => Some(format!("registered with {registry} under number {number}")),
        (None, Some(number)) => Some(format!("registered under number {number}")),
        (Some(registry), None) => Some(format!("registered with {registry}")),
        (None, None) => None,
    };
    match (&c.country, registration) {
        (Some(country), Some(reg)) => {
            s.push(stop(format!("We are a company established in {}, {reg}", country.describe())))
        }
        (Some(country), None) => s.push(format!("We are a company established in {}.", country.describe())),
        (None, Some(reg)) => s.push(stop(format!("We are {reg}"))),
        (None, None) => {}
    }
    if let Some(office) = &c.registered_office {
        s.push(format!("Our registered office is at {}.", clause(office)));
    }
    b.sentences(s);
    if let Some(site) = &c.website {
        b.para(Text::plain("Our website is ").address(site).and("."));
    }
    contact_block(&mut b, &c.contacts, "You can contact us about privacy");
    if let Some(dpo) = &c.dpo {
        let reach = party_reach(dpo);
        let t = Text::plain(format!("We have appointed a data protection officer, {}", tidy(&dpo.name)));
        if reach.is_empty() {
            b.para(stop(t.to_plain()));
        } else {
            b.para(t.and(", whom you can contact ").then(reach).and("."));
        }
    }
    if let Some(rep) = &c.representative {
        let reach = party_reach(rep);
        let mut t = Text::plain(stop(format!(
            "Our representative in the European Union, under Article 27 of the GDPR, is {}",
            tidy(&rep.name)
        )));
        if !reach.is_empty() {
            t = t.and(" You can contact them ").then(reach).and(".");
        }
        b.para(t);
    }
    b.0
}

/// "by email at x or by post at y", for a DPO or representative.
fn party_reach(party: &Party) -> Text {
    let mut ways = Vec::new();
    if let Some(email) = party.email.as_deref().filter(|e| !e.trim().is_empty()) {
        ways.push(Text::plain("by email at ").address(email));
    }
    if let Some(address) = party.address.as_deref().filter(|a| !a.trim().is_empty()) {
        ways.push(Text::plain(format!("by post at {}", clause(address))));
    }
    join_texts(ways, "or")
}

/// Contact channels as a sentence (one) or a list (several), after `lead` ("You can contact us").
fn contact_block(b: &mut Blocks, contacts: &[Contact], lead: &str) {
    match contacts {
        [] => {}
        [one] => {
            let how = contact_how(one);
            let t = Text::plain(format!("{lead} ")).then(how);
            let t = match one.label.as_deref().map(clause).filter(|l| !l.is_empty()) {
                Some(label) => t.and(format!(" ({})", lower_first(&label))),
                None => t,
            };
            b.para(t.and("."));
        }
        several => {
            b.para(format!("{lead} in any of these ways:"));
            b.list(several.iter().map(contact_item).collect());
        }
    }
}

fn contact_item(c: &Contact) -> Text {
    let how = contact_how(c).capitalised();
    match c.label.as_deref().map(clause).filter(|l| !l.is_empty()) {
        Some(label) => item(&label, how.and(".")),
        None => how.and("."),
    }
}

/// How to use a contact channel: "by email at privacy@example.com".
fn contact_how(c: &Contact) -> Text {
    let value = tidy(&c.value);
    let has = !value.is_empty();
    match c.kind {
        ContactKind::Email if has => Text::plain("by email at ").address(&value),
        ContactKind::Email => Text::plain("by email"),
        ContactKind::WebForm if has => Text::plain("through our web form at ").address(&value),
        ContactKind::WebForm => Text::plain("through the web form on our website"),
        ContactKind::SupportChat if has => Text::plain("through our support chat at ").address(&value),
        ContactKind::SupportChat => Text::plain("through the support chat on our website and in our apps"),
        ContactKind::InApp if has => Text::plain(format!("in the app, under {value}")),
        ContactKind::InApp => Text::plain("in the app"),
        ContactKind::Phone if has => Text::plain(format!("by phone on {value}")),
        ContactKind::Phone => Text::plain("by phone"),
        ContactKind::Postal if has => Text::plain(format!("by post to {value}")),
        ContactKind::Postal => Text::plain("by post"),
        ContactKind::Website if has => Text::plain("on our website at ").address(&value),
        ContactKind::Website => Text::plain("on our website"),
    }
}

fn scope(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let described = |d: &Option<String>| d.as_deref().is_some_and(|d| !d.trim().is_empty());
    if !p.products.is_empty() {
        if p.products.iter().any(|pr| described(&pr.description)) {
            b.para("This notice covers the following products and services:");
            b.list(
                p.products
                    .iter()
                    .map(|pr| item(&tidy(&pr.name), pr.description.as_deref().map(sentence).unwrap_or_default()))
                    .collect(),
            );
        } else {
            let names: Vec<String> = p.products.iter().map(|pr| tidy(&pr.name)).collect();
            b.para(stop(format!("This notice covers {}", join(&names, "and"))));
        }
    }
    if !p.subject_types.is_empty() {
        let lead = if p.products.is_empty() { "This notice" } else { "It" };
        if p.subject_types.iter().any(|s| described(&s.description)) {
            b.para(format!("{lead} explains how we handle personal data about these people:"));
            b.list(
                p.subject_types
                    .iter()
                    .map(|s| item(&tidy(&s.name), s.description.as_deref().map(sentence).unwrap_or_default()))
                    .collect(),
            );
        } else {
            let names: Vec<String> = p.subject_types.iter().map(|s| lower_first(&tidy(&s.name))).collect();
            b.para(stop(format!("{lead} explains how we handle personal data about {}", join(&names, "and"))));
        }
    }
    b.0
}

fn what_we_collect(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let visible: Vec<&Category> = p.categories.iter().filter(|c| !c.prohibited).collect();
    let heads: Vec<&Category> =
        visible.iter().copied().filter(|c| !visible.iter().any(|o| o.id != c.id && c.id.is_within(&o.id))).collect();
    let children = |head: &Category| -> Vec<&Category> {
        visible.iter().copied().filter(|c| c.id != head.id && c.id.is_within(&head.id)).collect()
    };
    if !heads.is_empty() {
        b.para("What we collect depends on how you use our services. It falls into these categories:");
        // Mostly groups: a heading per group. Mostly single categories: one list, groups nested.
        let groups = heads.iter().filter(|h| !children(h).is_empty()).count();
        if groups * 2 < heads.len() {
            b.nested(
                heads
                    .iter()
                    .map(|head| Item {
                        text: category_item(head),
                        children: children(head).iter().map(|c| category_item(c)).collect(),
                    })
                    .collect(),
            );
        } else {
            for head in &heads {
                let optional = if head.optional { " (optional)" } else { "" };
                b.heading(format!("{}{optional}", category_name(head)));
                b.sentences(category_sentences(head));
                b.list(children(head).iter().map(|c| category_item(c)).collect());
            }
        }
    }

    let optional: Vec<String> = visible.iter().filter(|c| c.optional).map(|c| category_ref(c)).collect();
    if !optional.is_empty() {
        let pronoun = if optional.len() == 1 { "it" } else { "them" };
        b.para(format!(
            "Some information is optional: you can leave {} empty, and delete {pronoun} at any time.",
            join(&optional, "and")
        ));
    }

    let limited: Vec<Text> = visible
        .iter()
        .filter_map(|c| c.storage_limit.map(|limit| item(&category_name(c), storage_limit(limit))))
        .collect();
    if !limited.is_empty() {
        b.heading("Information we keep only in part");
        b.para("To protect you, we deliberately keep only part of some information:");
        b.list(limited);
    }

    let prohibited: Vec<&Category> = p.categories.iter().filter(|c| c.prohibited).collect();
    if !prohibited.is_empty() {
        b.heading("What you should never send us");
        b.para(
            "We do not need the following information to provide our services. Please never send it to us, \
             upload it or enter it in our services:",
        );
        b.list(prohibited.iter().map(|c| category_item(c)).collect());
        if p.commitments.screen_prohibited_content {
            b.para("We check what you submit for this information, and refuse or remove it when we find it.");
        }
    }
    b.0
}

/// "**Email address** (optional): description. For example: …"
fn category_item(c: &Category) -> Text {
    let name = category_name(c);
    let head = Text::default().strong(&name);
    let head = if c.optional && !c.prohibited { head.and(" (optional)") } else { head };
    let body = category_sentences(c).join(" ");
    if body.is_empty() { head } else { head.and(": ").and(body) }
}

fn category_sentences(c: &Category) -> Vec<String> {
    let mut s = Vec::new();
    if let Some(d) = c.description.as_deref().filter(|d| !d.trim().is_empty()) {
        s.push(sentence(d));
    }
    let examples: Vec<String> = c.examples.iter().map(|e| clause(e)).filter(|e| !e.is_empty()).collect();
    if !examples.is_empty() {
        s.push(format!("For example, {}.", join(&examples, "and")));
    }
    if (c.special || taxonomy::special(&c.id).is_some()) && !c.prohibited {
        s.push("This is a special category of personal data, which the law protects more strictly.".to_owned());
    }
    s
}

fn storage_limit(limit: StorageLimit) -> &'static str {
    match limit {
        StorageLimit::LastFour => "We keep only the last four digits, never the full number.",
        StorageLimit::TruncatedNetwork => {
            "We shorten it to its network part before storing it, so that it no longer points to your device."
        }
        StorageLimit::HashOnly => "We keep only a salted one-way fingerprint (hash) of it, never the value itself.",
        StorageLimit::NeverStored => "It passes through our systems to be processed, but we never store it.",
    }
}

fn sources(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let items: Vec<Text> = p
        .activities
        .iter()
        .filter(|a| !a.sources.is_empty() || a.source_detail.is_some())
        .map(|a| {
            let mut s = Vec::new();
            let from: Vec<String> = SOURCES
                .iter()
                .filter(|src| a.sources.contains(src))
                .map(|src| source_phrase(*src).to_owned())
                .collect();
            if !from.is_empty() {
                s.push(format!("{}.", upper_first(&join(&from, "and"))));
            }
            if let Some(detail) = &a.source_detail {
                s.push(sentence(detail));
            }
            item(&activity_name(a), s.join(" "))
        })
        .collect();
    if !items.is_empty() {
        b.para("This is where the information we use comes from, for each purpose:");
        b.list(items);
    }
    b.0
}

/// Sources in the order the notice names them.
const SOURCES: [Source; 5] = [Source::Subject, Source::Automatic, Source::Customer, Source::ThirdParty, Source::Public];

fn source_phrase(s: Source) -> &'static str {
    match s {
        Source::Subject => "from you",
        Source::Automatic => "collected automatically when you use our services",
        Source::Customer => "from the customer or user who adds it to our services",
        Source::ThirdParty => "from third parties",
        Source::Public => "from publicly available sources",
    }
}

fn how_we_use_it(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let by_role = |role: Role| -> Vec<&Activity> { p.activities.iter().filter(|a| a.role == role).collect() };
    let (own, processor, joint) = (by_role(Role::Controller), by_role(Role::Processor), by_role(Role::JointController));
    if own.is_empty() && processor.is_empty() && joint.is_empty() {
        return b.0;
    }
    let roles = [!own.is_empty(), !processor.is_empty(), !joint.is_empty()].iter().filter(|x| **x).count();
    b.para(
        "We use personal data only for the purposes described here. Data protection law requires a legal basis \
         for each use, and we name it for each.",
    );

    if !own.is_empty() {
        if roles > 1 {
            b.heading("When we decide how your data is used");
            b.para("For the following purposes we are the controller: we decide why and how your data is used.");
        }
        let mut groups: Vec<(Vec<LegalBasis>, Vec<&Activity>)> = Vec::new();
        for a in &own {
            let key = basis_key(a);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(a),
                None => groups.push((key, vec![a])),
            }
        }
        for (bases, activities) in groups {
            let heading = basis_heading(&bases);
            if roles > 1 {
                b.subheading(heading);
            } else {
                b.heading(heading);
            }
            b.para(basis_explanation(&bases));
            b.list(activities.iter().map(|a| activity_item(p, a)).collect());
            if bases.iter().any(|basis| basis.objectable()) {
                b.para(
                    "You can object to these uses at any time, on grounds relating to your situation. We will then \
                     stop, unless we have compelling legitimate grounds that override your interests; for direct \
                     marketing, we always stop.",
                );
            }
        }
    }

    if !processor.is_empty() {
        b.heading("When we act for our customers");
        b.para(
            "Our customers use our services to handle personal data about other people, such as their own \
             customers, contacts and staff. For that data, the customer decides why and how it is used: the \
             customer is the controller, and we are its processor, acting only on its instructions.",
        );
        b.list(processor.iter().map(|a| processor_item(p, a)).collect());
        b.para(
            "If your personal data is held by one of our customers, please contact that customer with questions \
             and requests about it, including to exercise your rights. If you contact us instead, we will pass \
             your request on to the customer concerned.",
        );
    }

    if !joint.is_empty() {
        b.heading("When we decide together with others");
        b.para(
            "For the following purposes we decide jointly with others why and how your data is used. We have \
             agreed between us who does what, and you can exercise your rights with any of us.",
        );
        b.list(joint.iter().map(|a| joint_item(p, a)).collect());
    }
    b.0
}

/// The legal bases of an activity, in the order of `LegalBasis::ALL`, without repeats.
fn basis_key(a: &Activity) -> Vec<LegalBasis> {
    LegalBasis::ALL.iter().copied().filter(|b| a.legal_bases.contains(b)).collect()
}

fn basis_heading(bases: &[LegalBasis]) -> String {
    let phrase = |b: LegalBasis| match b {
        LegalBasis::Consent => "with your consent",
        LegalBasis::Contract => "to perform our contract with you",
        LegalBasis::LegalObligation => "to comply with the law",
        LegalBasis::VitalInterests => "to protect someone's life",
        LegalBasis::PublicTask => "for a task in the public interest",
        LegalBasis::LegitimateInterests => "for our legitimate interests",
    };
    if bases.is_empty() {
        return "Other purposes".to_owned();
    }
    let phrases: Vec<String> = bases.iter().map(|b| phrase(*b).to_owned()).collect();
    upper_first(&join(&phrases, "or"))
}

fn basis_explanation(bases: &[LegalBasis]) -> String {
    let named = |b: LegalBasis| format!("{} ({})", b.label().to_lowercase(), b.article());
    match bases {
        [] => "We use your data for these purposes:".to_owned(),
        [one] => {
            format!("Legal basis: {}. We use your data for the purposes below because {}.", named(*one), one.plain())
        }
        several => {
            let bases: Vec<String> = several.iter().map(|b| format!("{}, where {}", named(*b), b.plain())).collect();
            format!(
                "We rely on more than one legal basis here, as explained for each purpose: {}.",
                bases.join("; and ")
            )
        }
    }
}

/// The sentences every activity item shares: data used, people, products, special data, decisions.
fn activity_details(p: &Policy, a: &Activity) -> Vec<String> {
    let mut s = Vec::new();
    let data = data_names(p, &a.categories);
    if !data.is_empty() {
        s.push(stop(format!("Data used: {}", join(&data, "and"))));
    }
    if p.subject_types.len() > 1 {
        let people: Vec<String> =
            a.subject_types.iter().filter_map(|id| p.subject_type(id)).map(|st| lower_first(&tidy(&st.name))).collect();
        if !people.is_empty() {
            s.push(stop(format!("This concerns {}", join(&people, "and"))));
        }
    }
    if p.products.len() > 1 {
        let products: Vec<String> = a
            .products
            .iter()
            .filter_map(|id| p.products.iter().find(|pr| &pr.id == id))
            .map(|pr| tidy(&pr.name))
            .collect();
        if !products.is_empty() {
            s.push(stop(format!("This applies to {}", join(&products, "and"))));
        }
    }
    if let Some(condition) = a.special_condition {
        s.push(format!(
            "It includes special categories of personal data, which we use only {}.",
            art9_plain(condition)
        ));
    }
    if let Some(decisions) = a.automated_decisions.as_deref().filter(|d| !d.trim().is_empty()) {
        s.push(format!("Automated decisions: {} You can ask for a person to review such a decision.", tail(decisions)));
    }
    s
}

fn activity_item(p: &Policy, a: &Activity) -> Text {
    let mut s = vec![sentence(&a.purpose)];
    s.extend(activity_details(p, a));
    if let Some(interest) = a.legitimate_interest.as_deref().filter(|i| !i.trim().is_empty()) {
        s.push(format!("Our legitimate interest: {}", tail(interest)));
    }
    if let Some(note) = a.basis_note.as_deref().filter(|n| !n.trim().is_empty()) {
        s.push(sentence(note));
    }
    if a.legal_bases.contains(&LegalBasis::Consent) {
        s.push(consent_sentence(p, a));
    }
    if a.direct_marketing && !a.legal_bases.contains(&LegalBasis::Consent) {
        s.push("You can object to this at any time, and we will then stop.".to_owned());
    }
    item(&activity_name(a), s.join(" "))
}

/// Every consent-based use says how to withdraw (GDPR Art. 7(3)).
fn consent_sentence(p: &Policy, a: &Activity) -> String {
    match a.consent_purpose.as_deref().and_then(|id| p.consent_purpose(id)) {
        Some(cp) if cp.model == ConsentModel::OptOut => {
            format!("We do this unless you opt out of “{}”, which you can do at any time.", tidy(&cp.name))
        }
        Some(cp) => format!(
            "We do this only if you agree to “{}”, and you can withdraw your consent at any time.",
            tidy(&cp.name)
        ),
        None => "We do this only with your consent, which you can withdraw at any time.".to_owned(),
    }
}

fn processor_item(p: &Policy, a: &Activity) -> Text {
    let mut s = vec![sentence(&a.purpose)];
    match a.controller.as_deref().map(|c| lower_article(&clause(c))).filter(|c| !c.is_empty()) {
        Some(controller) => s.push(format!("The controller is {controller}.")),
        None => s.push("The controller is the customer concerned.".to_owned()),
    }
    s.extend(activity_details(p, a));
    item(&activity_name(a), s.join(" "))
}

fn joint_item(p: &Policy, a: &Activity) -> Text {
    let mut s = vec![sentence(&a.purpose)];
    if let Some(with) = a.joint_with.as_deref().map(|w| lower_article(&clause(w))).filter(|w| !w.is_empty()) {
        s.push(format!("We decide this jointly with {with}."));
    }
    if let Some(agreement) = a.agreement.as_deref().filter(|g| !g.trim().is_empty()) {
        s.push(format!("Our arrangement: {}", tail(agreement)));
    }
    let bases: Vec<String> =
        basis_key(a).iter().map(|b| format!("{} ({})", b.label().to_lowercase(), b.article())).collect();
    if !bases.is_empty() {
        s.push(format!("Legal basis: {}.", join(&bases, "or")));
    }
    if let Some(interest) = a.legitimate_interest.as_deref().filter(|i| !i.trim().is_empty()) {
        s.push(format!("The legitimate interest: {}", tail(interest)));
    }
    if let Some(note) = a.basis_note.as_deref().filter(|n| !n.trim().is_empty()) {
        s.push(sentence(note));
    }
    s.extend(activity_details(p, a));
    if a.legal_bases.contains(&LegalBasis::Consent) {
        s.push(consent_sentence(p, a));
    }
    item(&activity_name(a), s.join(" "))
}

fn art9_plain(c: Art9Condition) -> &'static str {
    match c {
        Art9Condition::ExplicitConsent => "with your explicit consent",
        Art9Condition::Employment => "to meet obligations of employment and social security law",
        Art9Condition::VitalInterests => "to protect someone's life when they cannot consent",
        Art9Condition::NotForProfit => "as a not-for-profit body, for our members and regular contacts",
        Art9Condition::MadePublic => "because you have clearly made it public yourself",
        Art9Condition::LegalClaims => "when needed to establish, exercise or defend legal claims",
        Art9Condition::SubstantialPublicInterest => "for reasons of substantial public interest set out in law",
        Art9Condition::HealthCare => "for health or social care, under a duty of confidentiality",
        Art9Condition::PublicHealth => "for reasons of public health",
        Art9Condition::Archiving => "for archiving, research or statistics in the public interest",
    }
}

fn your_choices(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    // Cookie choices are explained with the cookies, when the policy describes them.
    let purposes: Vec<&ConsentPurpose> =
        p.consent_purposes.iter().filter(|cp| cp.kind != ConsentKind::Cookies || p.cookies.is_none()).collect();
    if !purposes.is_empty() {
        b.para("Some uses of your data depend on your choice. You decide about each of these separately:");
        b.list(purposes.iter().map(|cp| consent_item(p, cp)).collect());
        b.para(
            "You can change your mind at any time: withdrawing your consent is as easy as giving it. Withdrawal \
             stops the use from then on; it does not affect what we did before.",
        );
    }

    let optional: Vec<Text> = p.channels.iter().filter(|c| !c.transactional).map(|c| channel_item(p, c)).collect();
    let service: Vec<Text> = p.channels.iter().filter(|c| c.transactional).map(|c| channel_item(p, c)).collect();
    if !optional.is_empty() || !service.is_empty() {
        b.heading("Messages we send you");
    }
    let any_optional = !optional.is_empty();
    if any_optional {
        b.para("You can unsubscribe from these messages at any time:");
        b.list(optional);
    }
    if !service.is_empty() {
        if !any_optional {
            b.para("These messages are part of the service, and we send them while you use it:");
        } else {
            b.para("These messages are part of the service, so they continue even if you unsubscribe from the others:");
        }
        b.list(service);
    }
    b.0
}

fn consent_item(p: &Policy, cp: &ConsentPurpose) -> Text {
    let mut s = vec![sentence(&cp.description)];
    s.push(
        match cp.model {
            ConsentModel::OptIn => "We do this only if you opt in.",
            ConsentModel::OptOut => "We do this unless you opt out.",
        }
        .to_owned(),
    );
    if cp.separate {
        s.push("We ask for this on its own, never bundled with other terms.".to_owned());
    }
    let recipients: Vec<&Recipient> = cp.recipients.iter().filter_map(|id| p.recipient(id)).collect();
    if !recipients.is_empty() {
        let names: Vec<String> = recipients.iter().map(|r| running(&r.name)).collect();
        let goes = format!("Your data then goes to {}", join(&names, "and"));
        let trainers: Vec<String> = recipients.iter().filter(|r| r.trains_models).map(|r| running(&r.name)).collect();
        // promise W8: say whether the AI provider trains on the data.
        match (cp.kind == ConsentKind::AiSharing, trainers.as_slice(), names.len()) {
            (true, [], 1) => s.push(format!("{goes}, which does not use it to train its models.")),
            (true, [], _) => s.push(format!("{goes}, which do not use it to train their models.")),
            (true, trainers, _) => {
                s.push(stop(goes));
                s.push(stop(format!("{} may use it to train their models", join(trainers, "and"))));
            }
            (false, _, _) => s.push(stop(goes)),
        }
    }
    let data = data_names(p, &cp.categories);
    if !data.is_empty() {
        s.push(stop(format!("Data concerned: {}", join(&data, "and"))));
    }
    if let Some(period) = cp.expires_after {
        s.push(format!("Your consent lasts {period}; after that, we ask you again."));
    }
    if matches!(cp.kind, ConsentKind::SaleSharing | ConsentKind::TargetedAds) {
        s.push("A Global Privacy Control signal from your browser counts as opting out.".to_owned());
    }
    item(&tidy(&cp.name), s.join(" "))
}

fn channel_item(p: &Policy, c: &crate::model::Channel) -> Text {
    let mut s = Vec::new();
    if let Some(d) = c.description.as_deref().filter(|d| !d.trim().is_empty()) {
        s.push(sentence(d));
    }
    if !c.transactional {
        match c.consent_purpose.as_deref().and_then(|id| p.consent_purpose(id)) {
            Some(cp) if cp.model == ConsentModel::OptIn => {
                s.push(format!("We send it only if you agreed to “{}”.", tidy(&cp.name)))
            }
            _ => {}
        }
        if c.medium == Medium::Email {
            s.push("Every one of these emails contains an unsubscribe link.".to_owned());
        }
    }
    if c.one_time {
        s.push("We send it only once.".to_owned());
    }
    let name = format!("{} ({})", tidy(&c.name), medium(c.medium));
    item(&name, s.join(" "))
}

fn medium(m: Medium) -> &'static str {
    match m {
        Medium::Email => "email",
        Medium::Push => "push notification",
        Medium::Sms => "text message",
        Medium::InApp => "in-app message",
        Medium::Phone => "phone call",
        Medium::Post => "post",
    }
}

/// Recipient kinds in the order the notice shows them, with a heading and an introduction.
const RECIPIENT_KINDS: &[(RecipientKind, &str, &str)] = &[
    (
        RecipientKind::SubProcessor,
        "Service providers",
        "These companies process data for us, only on our instructions and under contracts that require them to \
         protect it:",
    ),
    (RecipientKind::Affiliate, "Companies in our group", "They may use the data only for the purposes stated here:"),
    (
        RecipientKind::Partner,
        "Business partners",
        "They may use the data only for the purposes stated here; to use it for anything else, they must first \
         obtain fresh authorisation:",
    ),
    (
        RecipientKind::Integration,
        "Integrations you choose",
        "We send data to these services only when you, or your organisation, connect them:",
    ),
    (RecipientKind::OtherUsers, "Other users", "Some information is visible to other people who use our services:"),
    (
        RecipientKind::Adviser,
        "Professional advisers",
        "Lawyers, auditors and other advisers, when they need the information to advise us:",
    ),
    (RecipientKind::Authority, "Authorities", "Courts, regulators and law enforcement:"),
    (
        RecipientKind::Complainant,
        "People who make a complaint",
        "When someone complains about content, for example that it infringes their rights, we may share \
         information with them:",
    ),
    (
        RecipientKind::Acquirer,
        "A new owner of our business",
        "Personal data may pass to a new owner if our business changes hands (see “If our company changes hands”):",
    ),
];

fn sharing(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let commitments = &p.commitments;
    if p.recipients.is_empty() && !commitments.never_sell && !commitments.record_disclosures {
        if commitments.notify_of_legal_orders {
            b.para(legal_orders_sentence());
        }
        return b.0;
    }
    if commitments.never_sell {
        b.para(Text::default().strong("We never sell your personal data."));
    }
    if !p.recipients.is_empty() {
        b.para(
            "We share personal data only with the recipients below, and only for the purposes stated for each. \
             They may not use it for anything else.",
        );
    }
    let mut told_of_orders = false;
    for (kind, heading, lead) in RECIPIENT_KINDS {
        let group: Vec<&Recipient> = p.recipients.iter().filter(|r| r.kind == *kind).collect();
        if group.is_empty() {
            continue;
        }
        b.heading(*heading);
        b.para(*lead);
        b.list(group.iter().map(|r| recipient_item(p, r)).collect());
        if *kind == RecipientKind::Authority && commitments.notify_of_legal_orders {
            b.para(legal_orders_sentence());
            told_of_orders = true;
        }
    }
    let mut s = Vec::new();
    if commitments.notify_of_legal_orders && !told_of_orders {
        s.push(legal_orders_sentence().to_owned());
    }
    if commitments.record_disclosures {
        s.push("We keep a record of every disclosure of personal data to a third party.".to_owned());
    }
    b.sentences(s);
    b.0
}

fn legal_orders_sentence() -> &'static str {
    "If an authority or a court orders us to disclose your personal data, we tell you, unless the law forbids it."
}

fn recipient_item(p: &Policy, r: &Recipient) -> Text {
    let mut s = Vec::new();
    if let Some(purpose) = r.purpose.as_deref().filter(|x| !x.trim().is_empty()) {
        s.push(sentence(purpose));
    }
    let activities: Vec<String> = r.activities.iter().filter_map(|id| p.activity(id)).map(quoted_activity).collect();
    if !activities.is_empty() {
        s.push(format!("They receive data only for {}.", join(&activities, "and")));
    }
    if !r.locations.is_empty() {
        s.push(format!("They process it in {}.", regions(&r.locations)));
    }
    if let Some(condition) = r.condition.as_deref().filter(|c| !c.trim().is_empty()) {
        s.push(sentence(condition));
    }
    if r.opt_out {
        s.push("You can opt out of our sharing your data with them at any time.".to_owned());
    }
    if r.sale {
        s.push(
            "Under California law this counts as a sale or sharing of personal data, which you can opt out of."
                .to_owned(),
        );
    }
    let ai = p.consent_purposes.iter().any(|cp| cp.kind == ConsentKind::AiSharing && cp.recipients.contains(&r.id));
    if r.trains_models {
        s.push("They may use the data to train their models.".to_owned());
    } else if ai {
        s.push("They do not use your data to train their models.".to_owned());
    }
    item(&tidy(&r.name), s.join(" "))
}

fn storage_and_transfers(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    if let Some(storage) = &p.storage {
        let mut s = Vec::new();
        if !storage.regions.is_empty() {
            s.push(format!("We store personal data in {}.", regions(&storage.regions)));
        }
        if let Some(d) = &storage.description {
            s.extend(paragraphs(d).iter().map(|x| sentence(x)));
        }
        b.sentences(s);
    }
    if !p.transfers.is_empty() {
        if p.transfers.iter().all(|t| t.safeguard.is_some()) {
            b.para("Some data is transferred to other countries, always with a safeguard the law recognises:");
        } else {
            b.para("Some data is transferred to other countries:");
        }
        b.list(
            p.transfers
                .iter()
                .filter(|t| !t.destinations.is_empty())
                .map(|t| {
                    let mut s = Vec::new();
                    let activities: Vec<String> =
                        t.activities.iter().filter_map(|id| p.activity(id)).map(quoted_activity).collect();
                    let recipients: Vec<String> =
                        t.recipients.iter().filter_map(|id| p.recipient(id)).map(|r| running(&r.name)).collect();
                    if !activities.is_empty() {
                        s.push(format!("This concerns data used for {}.", join(&activities, "and")));
                    } else if recipients.is_empty() {
                        s.push("This can concern data from any of our activities.".to_owned());
                    }
                    if !recipients.is_empty() {
                        s.push(stop(format!("It is received there by {}", join(&recipients, "and"))));
                    }
                    if let Some(safeguard) = t.safeguard {
                        s.push(safeguard_sentence(safeguard).to_owned());
                    }
                    if let Some(d) = t.description.as_deref().filter(|d| !d.trim().is_empty()) {
                        s.push(sentence(d));
                    }
                    item(&format!("To {}", regions(&t.destinations)), s.join(" "))
                })
                .collect(),
        );
        let copies = p.transfers.iter().any(|t| {
            matches!(t.safeguard, Some(Safeguard::StandardContractualClauses | Safeguard::BindingCorporateRules))
        });
        if copies {
            b.para("You can ask us for a copy of the safeguards we use.");
        }
    }
    b.0
}

fn safeguard_sentence(s: Safeguard) -> &'static str {
    match s {
        Safeguard::Adequacy => {
            "We rely on an adequacy decision of the European Commission, which recognises that the destination \
             protects personal data adequately."
        }
        Safeguard::StandardContractualClauses => {
            "We rely on standard contractual clauses approved by the European Commission."
        }
        Safeguard::BindingCorporateRules => {
            "We rely on binding corporate rules approved by a data protection authority."
        }
        Safeguard::ExplicitConsent => "We rely on your explicit consent to the transfer.",
        Safeguard::ContractNecessity => "We rely on the transfer being necessary to perform our contract with you.",
    }
}

fn retention(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    if !p.retention.is_empty() {
        b.para("We keep personal data only as long as we need it. These are our retention periods:");
        b.list(p.retention.iter().map(|r| retention_item(p, r)).collect());
    }
    if !p.legal_holds.is_empty() {
        b.heading("When the law requires us to keep data longer");
        b.para(
            "We keep the following records even after the periods above, and even if you ask us to delete your \
             data, because the law requires or allows us to:",
        );
        b.list(
            p.legal_holds
                .iter()
                .map(|h| {
                    let covers = coverage(p, &h.categories, &h.activities);
                    let mut s = Vec::new();
                    if !covers.is_empty() {
                        s.push(stop(format!("This covers {covers}")));
                    }
                    s.push(format!("We keep it for {} {}.", h.period, h.trigger.plain()));
                    s.push(format!("Legal basis: {}", tail(&h.basis)));
                    item(&tidy(&h.name), s.join(" "))
                })
                .collect(),
        );
    }
    b.0
}

fn retention_item(p: &Policy, r: &RetentionRule) -> Text {
    let mut s = Vec::new();
    if let Some(d) = r.description.as_deref().filter(|d| !d.trim().is_empty()) {
        s.push(sentence(d));
    }
    let covers = coverage(p, &r.categories, &r.activities);
    if !covers.is_empty() {
        s.push(stop(format!("This covers {covers}")));
    }
    let clocks = r.clocks();
    if r.controller_defined {
        s.push("Our customer decides how long this data is kept, and we follow that decision.".to_owned());
        if !clocks.is_empty() {
            s.push(format!("In any case, we keep it no longer than {}.", clocks_phrase(&clocks)));
        }
    } else if clocks.is_empty() {
        s.push("We keep it only as long as we need it for the purposes it was collected for.".to_owned());
    } else {
        s.push(format!("We keep it for {}.", clocks_phrase(&clocks)));
    }
    if r.export_before {
        s.push("Before the time is up, we offer our customer an export of all of it.".to_owned());
    }
    s.push(format!("When the time is up, we {}.", action_phrase(r.action)));
    if let Some(fallback) = r.fallback.filter(|f| *f != r.action) {
        s.push(format!(
            "If {} is technically impossible, we instead {}.",
            action_noun(r.action),
            action_phrase(fallback)
        ));
    }
    let holds: Vec<String> =
        r.legal_holds.iter().filter_map(|id| p.legal_hold(id)).map(|h| format!("“{}”", tidy(&h.name))).collect();
    if !holds.is_empty() {
        s.push(format!("Some of it may be kept longer for legal reasons: see {} below.", join(&holds, "and")));
    }
    item(&tidy(&r.name), s.join(" "))
}

/// "3 years after the account is closed", or "the longest of: …" for several clocks (promise K5).
fn clocks_phrase(clocks: &[Clock]) -> String {
    let one = |c: &Clock| {
        let base = format!("{} {}", c.period, c.trigger.plain());
        match c.reason.as_deref().map(clause).filter(|r| !r.is_empty()) {
            Some(reason) => format!("{base} ({})", lower_first(&reason)),
            None => base,
        }
    };
    match clocks {
        [single] => one(single),
        several => {
            let parts: Vec<String> = several.iter().map(one).collect();
            format!("the longest of these periods: {}", join(&parts, "and"))
        }
    }
}

fn action_phrase(a: RetentionAction) -> &'static str {
    match a {
        RetentionAction::Delete => "delete it",
        RetentionAction::Anonymise => "anonymise it, so that it can no longer be linked to anyone",
        RetentionAction::Isolate => "stop using it and keep it isolated until it can be deleted",
    }
}

fn action_noun(a: RetentionAction) -> &'static str {
    match a {
        RetentionAction::Delete => "deletion",
        RetentionAction::Anonymise => "anonymisation",
        RetentionAction::Isolate => "isolating it",
    }
}

/// What a rule or hold covers: "email address, name and data used for “Billing”".
fn coverage(p: &Policy, categories: &[CategoryKey], activities: &[String]) -> String {
    let mut parts = data_names(p, categories);
    let acts: Vec<String> = activities.iter().filter_map(|id| p.activity(id)).map(quoted_activity).collect();
    if !acts.is_empty() {
        parts.push(format!("data used for {}", join(&acts, "and")));
    }
    join(&parts, "and")
}

fn your_rights(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let Some(rights) = &p.rights else {
        return b.0;
    };
    if !rights.offered.is_empty() {
        if rights.everyone {
            b.para(
                "You have the following rights, wherever you live: we honour them for everyone, not only where the \
                 law requires it.",
            );
        } else {
            b.para("Depending on where you live, you have some or all of the following rights:");
        }
        let mut seen = Vec::new();
        let items = rights
            .offered
            .iter()
            .filter(|r| {
                let fresh = !seen.contains(*r);
                seen.push(**r);
                fresh
            })
            .map(|r| item(r.title(), r.plain()))
            .collect();
        b.list(items);
    }

    b.heading("How to exercise your rights");
    if rights.intake.is_empty() {
        if p.controller.contacts.is_empty() {
            b.para("To exercise any of these rights, contact us.");
        } else {
            b.para(
                "To exercise any of these rights, contact us using the details in “Who we are and how to contact us”.",
            );
        }
    } else {
        contact_block(&mut b, &rights.intake, "To exercise any of these rights, contact us");
    }
    let own: Vec<Text> =
        rights.self_service.iter().filter(|s| !s.trim().is_empty()).map(|s| sentence(s).into()).collect();
    if !own.is_empty() {
        b.para("You can also do some things yourself, at any time, without asking us:");
        b.list(own);
    }
    let mut s = Vec::new();
    match rights.verification {
        Verification::Required => s.push("Before we act on a request, we verify that it comes from you.".to_owned()),
        Verification::WhenNeeded => s.push(
            "We may ask you for proof of identity when we need it to be sure that a request comes from you.".to_owned(),
        ),
        Verification::None => {}
    }
    if rights.approval {
        s.push("A member of our team reviews each request before it is carried out.".to_owned());
    }
    s.push("Exercising your rights is free of charge.".to_owned());
    b.sentences(s);

    if rights.promise.is_some() || !rights.deadlines.is_empty() {
        b.heading("How quickly we answer");
    }
    if let Some(promise) = rights.promise {
        b.para(format!("We answer requests within {promise} of receiving them."));
    }
    match rights.deadlines.as_slice() {
        [] => {}
        [only] if only.jurisdiction.is_default() && rights.promise.is_none() => {
            b.para(format!("We answer {}", deadline_text(only)));
        }
        deadlines => {
            if rights.promise.is_some() {
                b.para("Where the law sets its own deadline, we meet it as well:");
            } else {
                b.para("We answer requests within these deadlines:");
            }
            let many = deadlines.len() > 1;
            b.list(
                deadlines
                    .iter()
                    .map(|d| item(&jurisdiction_phrase(&d.jurisdiction, many), upper_first(&deadline_text(d))))
                    .collect(),
            );
        }
    }
    b.0
}

/// "within 1 month of receiving your request, which we may extend …. We confirm receipt within …."
fn deadline_text(d: &crate::model::Deadline) -> String {
    let mut s = format!("within {} of receiving your request", d.respond_within);
    if let Some(extension) = d.extension {
        s.push_str(&format!(", which we may extend by up to {extension} more for complex or numerous requests"));
        if let Some(notice) = d.extension_notice_within {
            s.push_str(&format!(", telling you why within {notice} of receiving it"));
        }
    }
    s.push('.');
    if let Some(ack) = d.acknowledge_within {
        s.push_str(&format!(" We confirm that we have received your request within {ack}."));
    }
    s
}

/// "In the EU/EEA (GDPR)", "Everywhere else".
fn jurisdiction_phrase(j: &Jurisdiction, others: bool) -> String {
    if j.is_default() {
        return if others { "Everywhere else" } else { "Everywhere" }.to_owned();
    }
    format!("In {}", j.describe())
}

fn children(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    match p.minimum_ages.as_slice() {
        [] => return b.0,
        [only] if only.jurisdiction.is_default() => {
            b.para(format!("Our services are not meant for anyone under the age of {}.", only.age));
        }
        ages => {
            b.para("Our services are not meant for children. The minimum age depends on where you live:");
            let many = ages.len() > 1;
            b.list(
                ages.iter()
                    .map(|a| {
                        item(&jurisdiction_phrase(&a.jurisdiction, many), format!("at least {} years old.", a.age))
                    })
                    .collect(),
            );
        }
    }
    b.para(
        "We do not knowingly collect personal data from anyone below the minimum age. If we learn that we have, we \
         delete it. If you believe that a child has given us personal data, please contact us.",
    );
    b.0
}

fn cookies(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let Some(cookies) = &p.cookies else {
        return b.0;
    };
    b.author_paragraphs(&cookies.description);
    let purposes: Vec<&ConsentPurpose> =
        p.consent_purposes.iter().filter(|cp| cp.kind == ConsentKind::Cookies).collect();
    if cookies.consent_required {
        if purposes.is_empty() {
            b.para("We use cookies that are not strictly necessary only with your consent.");
        } else {
            b.para(
                "We use cookies that are not strictly necessary only with your consent, which you give or refuse \
                 for each type separately:",
            );
        }
    } else if !purposes.is_empty() {
        b.para("You can choose which of these cookies we use:");
    }
    b.list(purposes.iter().map(|cp| consent_item(p, cp)).collect());
    if cookies.consent_required || !purposes.is_empty() {
        b.para("You can change your cookie choices at any time, as easily as you made them.");
    }
    b.0
}

fn security(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    if let Some(security) = &p.security {
        let measures: Vec<Text> =
            security.measures.iter().filter(|m| !m.trim().is_empty()).map(|m| sentence(m).into()).collect();
        if !measures.is_empty() {
            b.para(
                "We protect personal data with technical and organisational measures suited to the risk, including:",
            );
            b.list(measures);
        }
    }
    let names = |f: fn(&Category) -> bool| -> Vec<String> {
        p.categories.iter().filter(|c| !c.prohibited && f(c)).map(category_ref).collect()
    };
    let (at_rest, in_transit) = (names(|c| c.encrypted_at_rest), names(|c| c.encrypted_in_transit));
    // "it"/"them" and "it travels"/"they travel", by number.
    let forms = |names: &[String]| if names.len() == 1 { ("it", "it travels") } else { ("them", "they travel") };
    let mut s = Vec::new();
    if !at_rest.is_empty() && at_rest == in_transit {
        let (object, travel) = forms(&at_rest);
        s.push(format!(
            "We encrypt {} both when we store {object} and when {travel} over networks.",
            join(&at_rest, "and")
        ));
    } else {
        if !at_rest.is_empty() {
            s.push(format!("We encrypt {} when we store {}.", join(&at_rest, "and"), forms(&at_rest).0));
        }
        if !in_transit.is_empty() {
            s.push(format!("We encrypt {} when {} over networks.", join(&in_transit, "and"), forms(&in_transit).1));
        }
    }
    b.sentences(s);

    if let Some(breach) = &p.breach {
        let mut s = Vec::new();
        if breach.notify_subjects {
            let when = match breach.subjects_within {
                Some(period) => format!("within {period} of becoming aware of it"),
                None => "promptly".to_owned(),
            };
            let how = channels_phrase(&breach.channels);
            let how = if how.is_empty() { how } else { format!(", {how}") };
            s.push(format!("If a security breach affects your personal data, we tell you {when}{how}."));
            if breach.public_notice_fallback {
                s.push(
                    "Where telling each person individually is impractical, we make a public announcement instead."
                        .to_owned(),
                );
            }
        }
        if let Some(period) = breach.authority_within {
            s.push(format!(
                "Where the law requires it, we report a breach to the competent supervisory authority within {period} \
                 of becoming aware of it."
            ));
        }
        if !s.is_empty() {
            if !b.0.is_empty() {
                b.heading("If something goes wrong");
            }
            b.sentences(s);
        }
    }
    b.0
}

fn channels_phrase(channels: &[NoticeChannel]) -> String {
    let mut seen = Vec::new();
    let phrases: Vec<String> = channels
        .iter()
        .filter(|c| {
            let fresh = !seen.contains(*c);
            seen.push(**c);
            fresh
        })
        .map(|c| {
            match c {
                NoticeChannel::Email => "by email",
                NoticeChannel::InApp => "in our apps",
                NoticeChannel::Website => "on our website",
                NoticeChannel::Push => "by push notification",
                NoticeChannel::Media => "through public announcements in the media",
            }
            .to_owned()
        })
        .collect();
    join(&phrases, "and")
}

fn changes(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let Some(changes) = &p.changes else {
        return b.0;
    };
    let mut s = vec![
        "We may update this notice from time to time; the version and date at the top show which \
                      version you are reading."
            .to_owned(),
    ];
    let how = channels_phrase(&changes.channels);
    let how = if how.is_empty() { how } else { format!(", {how}") };
    match changes.material_notice {
        Some(period) => s.push(format!(
            "If a change materially affects you or your rights, we tell you at least {period} before it takes \
             effect{how}."
        )),
        None => s.push(format!(
            "If a change materially affects you or your rights, we tell you before it takes effect{how}."
        )),
    }
    if changes.prominent {
        s.push("We announce such changes prominently, not only by updating this page.".to_owned());
    }
    b.sentences(s);
    b.0
}

fn shutdown(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let Some(shutdown) = &p.shutdown else {
        return b.0;
    };
    let how = channels_phrase(&shutdown.channels);
    let how = if how.is_empty() { how } else { format!(", {how}") };
    let after = match shutdown.action {
        RetentionAction::Delete => "we delete all the personal data it holds",
        RetentionAction::Anonymise => {
            "we anonymise all the personal data it holds, so that it can no longer be linked to anyone"
        }
        RetentionAction::Isolate => {
            "we stop using the personal data it holds and keep it isolated until it can be deleted"
        }
    };
    b.sentences(vec![
        format!(
            "If we decide to close one of our products or services, we tell you at least {} in advance{how}.",
            shutdown.notice
        ),
        format!("After it closes, {after}."),
    ]);
    b.0
}

fn ownership(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let Some(change) = &p.ownership_change else {
        return b.0;
    };
    let mut s = vec![
        "If we are involved in a merger, an acquisition or a sale of all or part of our business, \
                      personal data may pass to the new owner."
            .to_owned(),
    ];
    if change.notify {
        s.push(format!("If that happens, we tell you {}.", channels_phrase(&change.channels)).replace(" .", "."));
    }
    if change.successor_bound {
        s.push(
            "The new owner remains bound by this notice, or must ask for your authorisation again before using your \
             data in other ways."
                .to_owned(),
        );
    }
    b.sentences(s);
    b.0
}

fn version(p: &Policy) -> Vec<Block> {
    let mut b = Blocks::default();
    let meta = &p.policy;
    b.para(format!(
        "This is version {} of this notice. It takes effect on {}.",
        tidy(&meta.version),
        date(&meta.effective)
    ));
    if let Some(url) = meta.url.as_deref().filter(|u| !u.trim().is_empty()) {
        b.para(Text::plain("The current version is always available at ").address(url).and("."));
    }
    b.0
}

// ---------------------------------------------------------------------------------------------
// Names and words
// ---------------------------------------------------------------------------------------------

/// "(a) Account data": a category's name with the label the published policy uses.
fn category_name(c: &Category) -> String {
    labelled(c.label.as_deref(), &c.name)
}

/// "(a) account details": a category in running text.
fn category_ref(c: &Category) -> String {
    match c.label.as_deref().map(tidy).filter(|l| !l.is_empty()) {
        Some(label) => format!("{label} {}", lower_first(&tidy(&c.name))),
        None => lower_first(&tidy(&c.name)),
    }
}

fn activity_name(a: &Activity) -> String {
    labelled(a.label.as_deref(), &a.name)
}

fn labelled(label: Option<&str>, name: &str) -> String {
    match label.map(tidy).filter(|l| !l.is_empty()) {
        Some(label) => format!("{label} {}", tidy(name)),
        None => tidy(name),
    }
}

fn quoted_activity(a: &Activity) -> String {
    format!("“{}”", activity_name(a))
}

/// Names for a list of category keys, as used in running text: a declared category by its name;
/// an undeclared parent by the declared categories below it, or else by its standard name. Keys
/// with no name anywhere are left out rather than shown raw; prohibited categories are left out.
fn data_names(p: &Policy, keys: &[CategoryKey]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: String| {
        if !names.contains(&n) {
            names.push(n);
        }
    };
    for key in keys {
        if let Some(c) = p.category(key) {
            if !c.prohibited {
                add(category_ref(c));
            }
            continue;
        }
        let below: Vec<&Category> = p.categories_within(key).filter(|c| !c.prohibited).collect();
        let tops: Vec<&&Category> =
            below.iter().filter(|c| !below.iter().any(|o| o.id != c.id && c.id.is_within(&o.id))).collect();
        if !tops.is_empty() {
            for c in tops {
                add(category_ref(c));
            }
        } else if let Some(entry) = taxonomy::lookup(key.as_str()) {
            add(lower_first(entry.name));
        }
    }
    names
}

/// "Finland", "the European Union and the United States".
fn regions(list: &[Region]) -> String {
    let mut names: Vec<String> = Vec::new();
    for r in list {
        let n = r.describe().to_owned();
        if !names.contains(&n) {
            names.push(n);
        }
    }
    join(&names, "and")
}

/// "a", "a and b", "a, b and c".
fn join(items: &[String], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {conjunction} {last}", rest.join(", ")),
    }
}

fn join_texts(items: Vec<Text>, conjunction: &str) -> Text {
    let n = items.len();
    let mut out = Text::default();
    for (i, t) in items.into_iter().enumerate() {
        if i > 0 {
            out = out.and(if i + 1 == n { format!(" {conjunction} ") } else { ", ".to_owned() });
        }
        out = out.then(t);
    }
    out
}

/// Whitespace collapsed to single spaces, trimmed.
fn tidy(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Author text split into paragraphs at blank lines, each tidied.
fn paragraphs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for line in s.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(tidy(&current.join(" ")));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(tidy(&current.join(" ")));
    }
    out
}

/// Author text as a sentence: tidied, capitalised, ending with a full stop.
fn sentence(s: &str) -> String {
    let s = tidy(s);
    // An address keeps its case: "www.example.com is …".
    let first = s.split(' ').next().unwrap_or_default();
    if first.contains('@') || first.contains("://") || first.to_ascii_lowercase().starts_with("www.") {
        return stop(s);
    }
    stop(upper_first(&s))
}

/// Author text after a colon: tidied and ending with a full stop, its case as written.
fn tail(s: &str) -> String {
    stop(tidy(s))
}

/// A sentence ending with a full stop, without doubling one that a name already ends with
/// ("Northpay B.V.").
fn stop(s: String) -> String {
    let ends = s.trim_end_matches(['"', '”', '’', '\'', ')']);
    if s.is_empty() || ends.ends_with(['.', '!', '?']) { s } else { format!("{s}.") }
}

/// Author text for the middle of a sentence: tidied, without a final full stop.
fn clause(s: &str) -> String {
    tidy(s).trim_end_matches('.').trim_end().to_owned()
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "Email address" → "email address" for running text; names that start with an acronym ("IP
/// address") or a single capital letter stay as written.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    let (Some(first), Some(second)) = (chars.next(), chars.next()) else {
        return s.to_owned();
    };
    if first.is_uppercase() && second.is_lowercase() {
        first.to_lowercase().chain(s.chars().skip(1)).collect()
    } else {
        s.to_owned()
    }
}

/// A name or description in running text: "Marketing service providers" → "marketing service
/// providers", "The customer who owns the data" → "the customer who owns the data"; proper names
/// ("Northpay B.V.", "Stripe", "OKKI affiliates") stay as written.
fn running(s: &str) -> String {
    let s = tidy(s);
    let mut words = s.split(' ');
    let first = words.next().unwrap_or_default();
    let rest: Vec<&str> = words.collect();
    let lower_start = |w: &&str| w.chars().next().is_some_and(|c| !c.is_uppercase());
    let article = matches!(first, "The" | "A" | "An") && rest.first().is_some_and(lower_start);
    let sentence_case = !rest.is_empty() && rest.iter().all(lower_start);
    if article || sentence_case { lower_first(&s) } else { s }
}

/// A description after "is" or "with": "The customer who owns the data" → "the customer who owns
/// the data".
fn lower_article(s: &str) -> String {
    for article in ["The ", "A ", "An "] {
        if let Some(rest) = s.strip_prefix(article) {
            return format!("{}{rest}", article.to_lowercase());
        }
    }
    s.to_owned()
}

/// `2026-03-01` → `1 March 2026`; anything else as written.
fn date(s: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let parts: Vec<&str> = s.trim().split('-').collect();
    if let [y, m, d] = parts.as_slice()
        && y.len() == 4
        && m.len() == 2
        && d.len() == 2
        && let (Ok(year), Ok(month), Ok(day)) = (y.parse::<u32>(), m.parse::<usize>(), d.parse::<u32>())
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
    {
        return format!("{day} {} {year}", MONTHS[month - 1]);
    }
    tidy(s)
}

/// The link target for an address, when it is a plain web or email address; `None` for anything
/// else, so that no other scheme (`javascript:`) can ever become a link.
fn href_for(s: &str) -> Option<String> {
    let safe = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic() && !"<>\"'`\\()[]{}|^".contains(c));
    if !safe(s) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return (s.len() > lower.find("://").map_or(0, |i| i + 3)).then(|| s.to_owned());
    }
    if lower.starts_with("www.") {
        return Some(format!("https://{s}"));
    }
    let (local, domain) = s.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(':')
        && !s.contains('/')
        && !domain.contains('@');
    ok.then(|| format!("mailto:{s}"))
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

/// The notice as Markdown.
pub fn markdown(policy: &Policy) -> String {
    render_markdown(&document(policy))
}

fn render_markdown(n: &Notice) -> String {
    let mut out = String::new();
    out.push_str(&format!("# {}\n\n", md_line(&md_escape(&n.title))));
    out.push_str(&format!("*{}*\n", md_escape(&n.meta)));
    for p in &n.intro {
        out.push_str(&format!("\n{}\n", md_line(&md_text(p))));
    }
    for s in &n.sections {
        out.push_str(&format!("\n## {}. {}\n", s.number, md_escape(&s.heading)));
        for block in &s.blocks {
            out.push('\n');
            match block {
                Block::Heading(h) => out.push_str(&format!("### {}\n", md_line(&md_escape(h)))),
                Block::Subheading(h) => out.push_str(&format!("#### {}\n", md_line(&md_escape(h)))),
                Block::Paragraph(t) => out.push_str(&format!("{}\n", md_line(&md_text(t)))),
                Block::List(items) => {
                    for i in items {
                        out.push_str(&format!("- {}\n", md_line(&md_text(&i.text))));
                        for c in &i.children {
                            out.push_str(&format!("  - {}\n", md_line(&md_text(c))));
                        }
                    }
                }
            }
        }
    }
    out
}

fn md_text(t: &Text) -> String {
    t.parts
        .iter()
        .map(|p| match p {
            Inline::Plain(s) => md_escape(s),
            Inline::Emphasis(s) => format!("*{}*", md_escape(s)),
            Inline::Strong(s) => format!("**{}**", md_escape(s)),
            Inline::Link { text, href } => {
                let bare = href.strip_prefix("mailto:").unwrap_or(href);
                if bare == text { format!("<{text}>") } else { format!("[{}]({href})", md_escape(text)) }
            }
        })
        .collect()
}

/// Backslash-escapes the characters Markdown reads as inline markup or raw HTML.
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Keeps a line from starting a block it should not (a heading, a list, a quote).
fn md_line(s: &str) -> String {
    if s.starts_with(['#', '+', '-', '=']) {
        return format!("\\{s}");
    }
    let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && s[digits..].starts_with(['.', ')']) {
        return format!("{}\\{}", &s[..digits], &s[digits..]);
    }
    s.to_owned()
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "notice.html")]
struct HtmlNotice<'a> {
    notice: &'a Notice,
}

/// The notice as a standalone HTML page: inline CSS, a table of contents, no scripts and no
/// external resources. Every piece of policy text is escaped by the template.
pub fn html(policy: &Policy) -> Result<String, crate::RenderError> {
    let notice = document(policy);
    Ok(HtmlNotice { notice: &notice }.render()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn lists_join_with_commas_and_a_conjunction() {
        let check = |items: &[&str], expect: &str| assert_eq!(join(&strings(items), "and"), expect);
        check(&[], "");
        check(&["a"], "a");
        check(&["a", "b"], "a and b");
        check(&["a", "b", "c"], "a, b and c");
        assert_eq!(join(&strings(&["x", "y"]), "or"), "x or y");
    }

    #[test]
    fn author_text_becomes_sentences_and_clauses() {
        let check = |input: &str, expect: &str| assert_eq!(sentence(input), expect, "{input:?}");
        check("provide  the\nservice", "Provide the service.");
        check("Done.", "Done.");
        check("Really?", "Really?");
        check("He said “stop.”", "He said “stop.”");
        check("(beta)", "(beta).");
        check("www.example.com, our site", "www.example.com, our site.");
        assert_eq!(lower_article("The customer (the controller)"), "the customer (the controller)");
        assert_eq!(lower_article("Theodore"), "Theodore");
        check("", "");
        assert_eq!(clause(" the customer.  "), "the customer");
    }

    #[test]
    fn first_letters_change_case_only_for_ordinary_words() {
        let check = |input: &str, expect: &str| assert_eq!(lower_first(input), expect, "{input:?}");
        check("Email address", "email address");
        check("IP address", "IP address");
        check("(a) Account data", "(a) Account data");
        check("A", "A");
        check("", "");
        assert_eq!(upper_first("éclair"), "Éclair");
    }

    #[test]
    fn names_in_running_text_keep_proper_names() {
        let check = |input: &str, expect: &str| assert_eq!(running(input), expect, "{input:?}");
        check("Marketing service providers", "marketing service providers");
        check("The public", "the public");
        check("The client enterprise (the OKKI customer)", "the client enterprise (the OKKI customer)");
        check("Northpay B.V.", "Northpay B.V.");
        check("Stripe", "Stripe");
        check("OKKI affiliates", "OKKI affiliates");
        check("Aurora AI Services Inc.", "Aurora AI Services Inc.");
        check("The Guardian", "The Guardian");
    }

    #[test]
    fn iso_dates_are_written_out() {
        let check = |input: &str, expect: &str| assert_eq!(date(input), expect, "{input:?}");
        check("2026-03-01", "1 March 2026");
        check("2025-12-31", "31 December 2025");
        check("2025-13-01", "2025-13-01");
        check("soon", "soon");
    }

    #[test]
    fn only_web_and_email_addresses_become_links() {
        let check = |input: &str, expect: Option<&str>| assert_eq!(href_for(input).as_deref(), expect, "{input:?}");
        check("https://example.com/privacy", Some("https://example.com/privacy"));
        check("www.example.com", Some("https://www.example.com"));
        check("privacy@example.com", Some("mailto:privacy@example.com"));
        check("javascript:alert(1)", None);
        check("https://", None);
        check("https://example.com/\"onmouseover", None);
        check("Settings > Privacy", None);
        check("a@b", None);
        check("mailto:x@example.com", None);
    }

    #[test]
    fn markdown_escapes_markup_and_block_starts() {
        assert_eq!(md_escape("<script>*x*_y_"), "\\<script\\>\\*x\\*\\_y\\_");
        assert_eq!(md_line("# not a heading"), "\\# not a heading");
        assert_eq!(md_line("2024. A year"), "2024\\. A year");
        assert_eq!(md_line("- item"), "\\- item");
        assert_eq!(md_line("Plain"), "Plain");
    }

    #[test]
    fn several_clocks_read_as_the_longest_of() {
        let clock =
            |trigger, period, reason: Option<&str>| Clock { trigger, period, reason: reason.map(str::to_owned) };
        use covenant_core::{Period, RetentionTrigger as T};
        assert_eq!(
            clocks_phrase(&[clock(T::AccountClosed, Period::years(3), None)]),
            "3 years after the account is closed"
        );
        assert_eq!(
            clocks_phrase(&[
                clock(T::Collected, Period::years(3), None),
                clock(T::ContractTerminated, Period::years(5), Some("The limitation period.")),
            ]),
            "the longest of these periods: 3 years from the date we collected it and 5 years after the contract \
             ends (the limitation period)"
        );
    }

    #[test]
    fn texts_merge_plain_runs_and_skip_empty_emphasis() {
        let t = Text::plain("a").and("b").strong("  ").and("c");
        assert_eq!(t.parts, vec![Inline::Plain("abc".to_owned())]);
        assert!(Text::plain("  ").is_empty());
        assert_eq!(join_texts(vec!["x".into(), "y".into(), "z".into()], "or").to_plain(), "x, y or z");
    }
}
