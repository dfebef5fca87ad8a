//! Semantic lints. The fixture `clean.toml` is a complete, lint-clean policy (the negative case
//! of every lint); each case below edits its text so that one lint fires, and checks the code,
//! the severity and the exact place the diagnostic points at.

use std::collections::BTreeSet;

use covenant_policy::diagnostic::Seg;
use covenant_policy::lint::LINTS;
use covenant_policy::{Checked, Diagnostic, Format, Severity, SourceFile, check_source};

const CLEAN: &str = include_str!("../fixtures/clean.toml");

const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;

/// A textual edit of the clean fixture.
#[derive(Clone, Copy, Debug)]
enum Edit {
    /// Replaces the only occurrence of the first text with the second.
    Replace(&'static str, &'static str),
    /// Removes from the first occurrence of the first text up to the next occurrence of the second.
    Cut(&'static str, &'static str),
    /// Appends text at the end of the file.
    Append(&'static str),
}

fn apply(edits: &[Edit]) -> String {
    let mut text = CLEAN.to_owned();
    for edit in edits {
        match *edit {
            Edit::Replace(from, to) => {
                assert_eq!(text.matches(from).count(), 1, "the fixture must contain {from:?} exactly once");
                text = text.replacen(from, to, 1);
            }
            Edit::Cut(from, to) => {
                let start = text.find(from).unwrap_or_else(|| panic!("the fixture has no {from:?}"));
                let len = text[start..].find(to).unwrap_or_else(|| panic!("nothing ends the cut at {to:?}"));
                text.replace_range(start..start + len, "");
            }
            Edit::Append(more) => text.push_str(more),
        }
    }
    text
}

fn check(text: &str) -> Checked {
    check_source(SourceFile::new("p.toml", text), Format::Toml)
}

/// Whether `path` names a node of the policy: diagnostics must point at something that exists,
/// or the loader falls back to an enclosing table and the position is vague.
fn resolves(checked: &Checked, d: &Diagnostic) -> bool {
    let Some(policy) = &checked.policy else { return false };
    let mut node = serde_json::to_value(policy).unwrap_or_default();
    for seg in &d.path.0 {
        let next = match seg {
            Seg::Key(k) => node.get(k.as_str()).cloned(),
            Seg::Index(i) => node.get(*i).cloned(),
        };
        match next {
            Some(n) => node = n,
            None => return false,
        }
    }
    true
}

/// One lint firing: the edits that trigger it and the path it must point at.
struct Case {
    code: &'static str,
    severity: Severity,
    edits: &'static [Edit],
    at: &'static str,
}

const fn case(code: &'static str, severity: Severity, edits: &'static [Edit], at: &'static str) -> Case {
    Case { code, severity, edits, at }
}

use Edit::{Append, Cut, Replace};

const CASES: &[Case] = &[
    // References.
    case(
        "unknown-category",
        E,
        &[Replace(
            r#"categories = ["rotamint.assistant_prompts"]
legal_bases"#,
            r#"categories = ["rotamint.assistant_prompt"]
legal_bases"#,
        )],
        "activities[6].categories[0]",
    ),
    case(
        "unknown-category",
        E,
        &[Replace(
            r#"categories = ["rotamint.support_tickets"]
activities"#,
            r#"categories = ["user.fo"]
activities"#,
        )],
        "retention[3].categories[0]",
    ),
    case(
        "unknown-category",
        E,
        &[Replace(
            r#""rotamint.support_tickets", "user.financial.tax_id""#,
            r#""rotamint.support_tickets", "user.financial.vat""#,
        )],
        "legal_holds[0].categories[1]",
    ),
    case(
        "unknown-category",
        E,
        &[Replace(r#"categories = ["user.device.cookie_id"]"#, r#"categories = ["user.device.cookie"]"#)],
        "consent_purposes[1].categories[0]",
    ),
    case(
        "unknown-activity",
        E,
        &[Replace(r#"activities = ["account", "billing"]"#, r#"activities = ["account", "biling"]"#)],
        "recipients[9].activities[1]",
    ),
    case(
        "unknown-activity",
        E,
        &[Replace(r#"activities = ["analytics"]"#, r#"activities = ["analytic"]"#)],
        "retention[5].activities[0]",
    ),
    case(
        "unknown-activity",
        E,
        &[Replace(r#"activities = ["support", "newsletter"]"#, r#"activities = ["support", "newsleter"]"#)],
        "transfers[0].activities[1]",
    ),
    case(
        "unknown-recipient",
        E,
        &[Replace(r#"recipients = ["payments", "hosting"]"#, r#"recipients = ["payment", "hosting"]"#)],
        "activities[1].recipients[0]",
    ),
    case(
        "unknown-recipient",
        E,
        &[Replace(r#"recipients = ["helpdesk", "mailer"]"#, r#"recipients = ["helpdesk", "mailr"]"#)],
        "transfers[0].recipients[1]",
    ),
    case(
        "unknown-recipient",
        E,
        &[Replace(
            r#"recipients = ["ai-model"]
categories"#,
            r#"recipients = ["openai"]
categories"#,
        )],
        "consent_purposes[2].recipients[0]",
    ),
    case(
        "unknown-subject-type",
        E,
        &[Replace(r#"subject_types = ["attendee"]"#, r#"subject_types = ["attendees"]"#)],
        "activities[7].subject_types[0]",
    ),
    case(
        "unknown-consent-purpose",
        E,
        &[Replace(r#"consent_purpose = "analytics-cookies""#, r#"consent_purpose = "analytics""#)],
        "activities[5].consent_purpose",
    ),
    case(
        "unknown-consent-purpose",
        E,
        &[Replace(r#"consent_purpose = "product-tips""#, r#"consent_purpose = "tips""#)],
        "channels[4].consent_purpose",
    ),
    case(
        "unknown-legal-hold",
        E,
        &[Replace(
            r#"action = "delete"
legal_holds = ["legal-claims"]

[[retention]]
id = "newsletter""#,
            r#"action = "delete"
legal_holds = ["legal-claim"]

[[retention]]
id = "newsletter""#,
        )],
        "retention[3].legal_holds[0]",
    ),
    case(
        "unknown-product",
        E,
        &[Replace(r#"products = ["scheduler", "mobile"]"#, r#"products = ["scheduler", "mobil"]"#)],
        "activities[2].products[1]",
    ),
    // Identity.
    case("duplicate-id", E, &[Replace(r#"id = "mobile""#, r#"id = "scheduler""#)], "products[1].id"),
    case(
        "duplicate-id",
        E,
        &[Replace(r#"id = "user.device.cookie_id""#, r#"id = "user.device.ip_address""#)],
        "categories[12].id",
    ),
    case("invalid-id", E, &[Replace(r#"id = "uk-partner""#, r#"id = "uk partner""#)], "transfers[1].id"),
    case("invalid-id", E, &[Replace(r#"id = "tips""#, r#"id = """#)], "channels[4].id"),
    case("invalid-id", E, &[Replace(r#"id = "uk-partner""#, r#"id = "signal:gpc""#)], "transfers[1].id"),
    case(
        "duplicate-jurisdiction",
        E,
        &[Replace(r#"jurisdiction = "US""#, r#"jurisdiction = "gdpr""#)],
        "minimum_ages[2].jurisdiction",
    ),
    case(
        "duplicate-jurisdiction",
        E,
        &[Replace(
            r#"jurisdiction = "default"
respond_within"#,
            r#"jurisdiction = "ccpa"
respond_within"#,
        )],
        "rights.deadlines[2].jurisdiction",
    ),
    case(
        "invalid-effective-date",
        E,
        &[Replace(r#"effective = "2026-03-01""#, r#"effective = "2026-02-30""#)],
        "policy.effective",
    ),
    // Legal bases, roles, special categories.
    case("no-legal-basis", E, &[Replace("legal_bases = [\"legal_obligation\"]\n", "")], "activities[8].id"),
    case(
        "consent-without-purpose",
        E,
        &[Replace("consent_purpose = \"ai-assistant\"\n", "")],
        "activities[6].legal_bases[0]",
    ),
    case(
        "consent-basis-opt-out",
        E,
        &[Replace("kind = \"marketing\"\nmodel = \"opt_in\"", "kind = \"marketing\"\nmodel = \"opt_out\"")],
        "activities[4].consent_purpose",
    ),
    case(
        "legitimate-interest-unstated",
        E,
        &[Replace(
            "legitimate_interest = \"Helping the people who use our service and learning which problems to fix\"\n",
            "",
        )],
        "activities[3].legal_bases[0]",
    ),
    case(
        "special-without-condition",
        E,
        &[Replace("special_condition = \"employment_social_security\"\n", "")],
        "activities[2].categories[4]",
    ),
    case(
        "special-without-condition",
        E,
        // A parent category covers its children: `user.health_and_medical` reaches sick leave.
        &[Replace(
            r#"categories = ["user.name", "user.contact.email"]
legal_bases = ["legal_obligation"]"#,
            r#"categories = ["user.name", "user.contact.email", "user.health_and_medical"]
legal_bases = ["legal_obligation"]"#,
        )],
        "activities[8].categories[2]",
    ),
    case(
        "prohibited-category-processed",
        E,
        &[Replace(
            r#"categories = ["user.name", "user.contact.email"]
legal_bases = ["legal_obligation"]"#,
            r#"categories = ["user.name", "user.contact.email", "user.government_id"]
legal_bases = ["legal_obligation"]"#,
        )],
        "activities[8].categories[2]",
    ),
    case(
        "prohibited-category-processed",
        E,
        &[Replace(
            r#"categories = ["user.name", "user.contact.email"]
legal_bases = ["legal_obligation"]"#,
            r#"categories = ["user"]
legal_bases = ["legal_obligation"]"#,
        )],
        "activities[8].categories[0]",
    ),
    case(
        "processor-without-controller",
        E,
        &[Replace("controller = \"the employer that uses Rotamint\"\n", "")],
        "activities[2].role",
    ),
    case(
        "joint-controller-without-agreement",
        E,
        &[Cut("agreement = \"Joint-controller arrangement", "subject_types = [\"attendee\"]")],
        "activities[7].role",
    ),
    case(
        "joint-controller-without-agreement",
        E,
        &[Replace("joint_with = \"Staffbridge Ltd, London\"\n", "")],
        "activities[7].role",
    ),
    case(
        "never-sell-contradicted",
        E,
        &[Replace("locations = [\"GB\"]\nopt_out = true", "locations = [\"GB\"]\nopt_out = true\nsale = true")],
        "recipients[6].sale",
    ),
    case(
        "never-sell-contradicted",
        E,
        &[Replace("kind = \"other\"\nmodel = \"opt_out\"", "kind = \"sale_sharing\"\nmodel = \"opt_out\"")],
        "consent_purposes[3].kind",
    ),
    case(
        "ai-sharing-not-separate",
        E,
        &[Replace("model = \"opt_in\"\nseparate = true\n", "model = \"opt_in\"\n")],
        "consent_purposes[2].kind",
    ),
    case(
        "ai-sharing-not-separate",
        E,
        &[Replace("kind = \"ai_sharing\"\nmodel = \"opt_in\"", "kind = \"ai_sharing\"\nmodel = \"opt_out\"")],
        "consent_purposes[2].model",
    ),
    case(
        "channel-without-opt-out",
        E,
        &[Replace("medium = \"in_app\"\nconsent_purpose = \"product-tips\"\n", "medium = \"in_app\"\n")],
        "channels[4].id",
    ),
    case(
        "cookies-without-consent-purpose",
        E,
        &[Replace("kind = \"cookies\"", "kind = \"other\"")],
        "cookies.consent_required",
    ),
    // Transfers.
    case("transfer-without-safeguard", E, &[Replace("safeguard = \"adequacy\"\n", "")], "transfers[1].destinations[0]"),
    // Retention.
    case(
        "category-without-retention",
        E,
        &[Replace("activities = [\"assistant\"]\n", "categories = [\"user.name\"]\n")],
        "activities[6].categories[0]",
    ),
    case(
        "retention-shape",
        E,
        &[Replace("trigger = \"account_closed\"\nperiod = \"90 days\"\n", "trigger = \"account_closed\"\n")],
        "retention[0].trigger",
    ),
    case(
        "retention-shape",
        E,
        &[Replace("trigger = \"account_closed\"\nperiod = \"90 days\"\n", "period = \"90 days\"\n")],
        "retention[0].period",
    ),
    case(
        "retention-shape",
        E,
        &[Replace("trigger = \"account_closed\"\nperiod = \"90 days\"\n", "")],
        "retention[0].id",
    ),
    case("retention-shape", E, &[Replace("activities = [\"account\"]\ntrigger", "trigger")], "retention[0].id"),
    case(
        "legal-hold-empty",
        E,
        &[Cut(
            "categories = [\"rotamint.support_tickets\", \"user.financial.tax_id\"]",
            "trigger = \"last_interaction\"\nperiod = \"3 years\"",
        )],
        "legal_holds[0].id",
    ),
    // Rights and contacts.
    case(
        "deadline-exceeds-law",
        E,
        &[Replace("respond_within = \"1 month\"", "respond_within = \"6 weeks\"")],
        "rights.deadlines[0].respond_within",
    ),
    case(
        "deadline-exceeds-law",
        E,
        &[Replace("extension = \"2 months\"", "extension = \"3 months\"")],
        "rights.deadlines[0].extension",
    ),
    case(
        "deadline-exceeds-law",
        E,
        &[Replace("respond_within = \"45 days\"", "respond_within = \"60 days\"")],
        "rights.deadlines[1].respond_within",
    ),
    case(
        "deadline-exceeds-law",
        E,
        &[Replace("acknowledge_within = \"10 business days\"", "acknowledge_within = \"15 business days\"")],
        "rights.deadlines[1].acknowledge_within",
    ),
    case("deadline-exceeds-law", E, &[Replace("promise = \"30 days\"", "promise = \"40 days\"")], "rights.promise"),
    case(
        "extension-notice-after-deadline",
        E,
        &[Replace("extension_notice_within = \"1 month\"", "extension_notice_within = \"2 months\"")],
        "rights.deadlines[0].extension_notice_within",
    ),
    case(
        "missing-contact",
        E,
        &[
            Cut("[[controller.contacts]]", "[controller.dpo]"),
            Replace("email = \"dpo@rotamint.example\"\n", ""),
            Cut("[[rights.intake]]", "[[rights.deadlines]]"),
        ],
        "controller.legal_name",
    ),
    case(
        "malformed-contact",
        E,
        &[Replace("value = \"privacy@rotamint.example\"\nlabel", "value = \"privacy at rotamint.example\"\nlabel")],
        "controller.contacts[0].value",
    ),
    case(
        "malformed-contact",
        E,
        &[Replace(
            "value = \"https://rotamint.example/privacy/request\"",
            "value = \"rotamint.example/privacy/request\"",
        )],
        "rights.intake[1].value",
    ),
    case(
        "malformed-contact",
        E,
        &[Replace("kind = \"phone\"\nvalue = \"+358 9 4242 4242\"\n", "kind = \"phone\"\n")],
        "controller.contacts[2].kind",
    ),
    case(
        "malformed-contact",
        E,
        &[Replace("email = \"dpo@rotamint.example\"", "email = \"dpo\"")],
        "controller.dpo.email",
    ),
    case(
        "minimum-age-too-low",
        E,
        &[Replace("jurisdiction = \"US\"\nage = 13", "jurisdiction = \"US\"\nage = 12")],
        "minimum_ages[2].age",
    ),
    // Warnings.
    case(
        "special-not-flagged",
        W,
        &[Replace("never the diagnosis\"\nspecial = true\n", "never the diagnosis\"\n")],
        "categories[8].id",
    ),
    case(
        "consent-purpose-without-consent",
        W,
        &[Replace(
            "legal_bases = [\"consent\"]\nconsent_purpose = \"newsletter\"",
            "legal_bases = [\"legitimate_interests\"]\nlegitimate_interest = \"Telling customers about new features\"\nconsent_purpose = \"newsletter\"",
        )],
        "activities[4].consent_purpose",
    ),
    case(
        "several-bases-unexplained",
        W,
        &[Cut("basis_note = ", "sources = [\"subject\"]\nrecipients = [\"payments\"")],
        "activities[1].legal_bases[1]",
    ),
    case(
        "direct-marketing-basis",
        W,
        &[Replace(
            "legal_bases = [\"contract\"]\nsources = [\"subject\"]\nrecipients = [\"hosting\"]",
            "legal_bases = [\"contract\"]\ndirect_marketing = true\nsources = [\"subject\"]\nrecipients = [\"hosting\"]",
        )],
        "activities[0].legal_bases[0]",
    ),
    case(
        "controller-fields-misused",
        W,
        &[Replace(
            "controller = \"the employer that uses Rotamint\"\n",
            "controller = \"the employer that uses Rotamint\"\njoint_with = \"the employer\"\n",
        )],
        "activities[2].joint_with",
    ),
    case(
        "controller-fields-misused",
        W,
        &[Replace(
            "joint_with = \"Staffbridge Ltd, London\"\n",
            "joint_with = \"Staffbridge Ltd, London\"\ncontroller = \"Staffbridge Ltd\"\n",
        )],
        "activities[7].controller",
    ),
    case(
        "sale-without-opt-out",
        W,
        &[Replace("locations = [\"GB\"]\nopt_out = true", "locations = [\"GB\"]\nopt_out = true\nsale = true")],
        "recipients[6].sale",
    ),
    case(
        "sale-without-opt-out",
        W,
        &[
            Replace("never_sell = true\n", ""),
            Replace("locations = [\"GB\"]\nopt_out = true", "locations = [\"GB\"]\nopt_out = true\nsale = true"),
            Replace(
                "\"complaint\", \"confirm_processing\"",
                "\"complaint\", \"confirm_processing\", \"opt_out_of_sale\"",
            ),
        ],
        "recipients[6].sale",
    ),
    case(
        "recipient-outside-storage",
        W,
        &[Replace("recipients = [\"helpdesk\", \"mailer\"]", "recipients = [\"helpdesk\"]")],
        "recipients[4].locations[0]",
    ),
    case("transfers-without-storage", W, &[Cut("[storage]", "[[transfers]]")], "transfers[0].id"),
    case("rights-missing-core", W, &[Replace("\"restriction\", \"portability\", ", "")], "rights.offered"),
    case("withdraw-consent-not-offered", W, &[Replace("\"withdraw_consent\", ", "")], "rights.offered"),
    case(
        "automated-decisions-without-right",
        W,
        &[Replace("\"automated_decisions\", ", "")],
        "activities[1].automated_decisions",
    ),
    case(
        "rights-without-default-deadline",
        W,
        &[
            Replace("promise = \"30 days\"\n", ""),
            Replace("[[rights.deadlines]]\njurisdiction = \"default\"\nrespond_within = \"30 days\"\n", ""),
        ],
        "rights.deadlines",
    ),
    case(
        "minimum-age-below-digital-consent",
        W,
        &[Replace("jurisdiction = \"gdpr\"\nage = 16", "jurisdiction = \"gdpr\"\nage = 14")],
        "minimum_ages[1].age",
    ),
    case(
        "minimum-age-without-default",
        W,
        &[Replace("[[minimum_ages]]\njurisdiction = \"default\"\nage = 16\n\n", "")],
        "minimum_ages[0].jurisdiction",
    ),
    case(
        "controller-defined-not-processor",
        W,
        &[Replace(
            "activities = [\"account\"]\ntrigger = \"account_closed\"",
            "activities = [\"account\"]\ncontroller_defined = true\ntrigger = \"account_closed\"",
        )],
        "retention[0].controller_defined",
    ),
    case(
        "legal-hold-unrelated",
        W,
        &[Replace(
            "period = \"14 months\"\naction = \"anonymise\"",
            "period = \"14 months\"\naction = \"anonymise\"\nlegal_holds = [\"legal-claims\"]",
        )],
        "retention[5].legal_holds[0]",
    ),
    case(
        "legal-hold-ineffective",
        W,
        &[Replace(
            "trigger = \"last_interaction\"\nperiod = \"3 years\"",
            "trigger = \"last_interaction\"\nperiod = \"2 years\"",
        )],
        "retention[3].legal_holds[0]",
    ),
    case(
        "longest-of-single",
        W,
        &[Cut("[[retention.longest_of]]\ntrigger = \"contract_terminated\"", "[[retention]]")],
        "retention[1].longest_of[0]",
    ),
    case(
        "retention-fallback-redundant",
        W,
        &[Replace("fallback = \"isolate\"", "fallback = \"delete\"")],
        "retention[2].fallback",
    ),
    case(
        "transactional-channel-with-consent",
        W,
        &[Replace(
            "medium = \"push\"\ntransactional = true",
            "medium = \"push\"\ntransactional = true\nconsent_purpose = \"product-tips\"",
        )],
        "channels[1].consent_purpose",
    ),
    case(
        "unused-consent-purpose",
        W,
        &[Replace(
            "medium = \"in_app\"\nconsent_purpose = \"product-tips\"\n",
            "medium = \"in_app\"\ntransactional = true\n",
        )],
        "consent_purposes[3].id",
    ),
    case(
        "breach-notification-late",
        W,
        &[Replace("authority_within = \"72 hours\"", "authority_within = \"5 days\"")],
        "breach.authority_within",
    ),
    case(
        "notice-without-channel",
        W,
        &[Replace("notice = \"90 days\"\nchannels = [\"email\", \"in_app\"]", "notice = \"90 days\"\nchannels = []")],
        "shutdown.channels",
    ),
    case(
        "notice-without-channel",
        W,
        &[Replace("notify = true\nchannels = [\"email\"]\n", "notify = true\n")],
        "ownership_change.notify",
    ),
    case("activity-incomplete", W, &[Replace("subject_types = [\"visitor\", \"admin\"]\n", "")], "activities[5].id"),
    case(
        "unused-category",
        W,
        &[Append("\n[[categories]]\nid = \"user.location.precise\"\nname = \"Precise location\"\n")],
        "categories[14].id",
    ),
    case(
        "unused-recipient",
        W,
        &[Append("\n[[recipients]]\nid = \"printer\"\nname = \"Print shop\"\nkind = \"sub_processor\"\n")],
        "recipients[10].id",
    ),
    case(
        "unused-subject-type",
        W,
        &[Append("\n[[subject_types]]\nid = \"applicant\"\nname = \"Job applicants\"\n")],
        "subject_types[5].id",
    ),
];

#[test]
fn the_clean_fixture_has_no_diagnostics() {
    let checked = check(CLEAN);
    assert!(checked.policy.is_some());
    assert!(checked.diagnostics.is_empty(), "{}", checked.render());
}

#[test]
fn the_clean_fixture_uses_every_part_of_the_model() {
    let checked = check(CLEAN);
    let p = checked.policy.expect("the fixture parses");
    let c = &p.controller;
    assert!(!c.contacts.is_empty() && c.dpo.is_some() && c.representative.is_some());
    assert!(!p.products.is_empty() && !p.subject_types.is_empty());
    assert!(p.categories.iter().any(|c| c.special) && p.categories.iter().any(|c| c.prohibited));
    assert!(p.categories.iter().any(|c| c.optional) && p.categories.iter().any(|c| c.storage_limit.is_some()));
    use covenant_policy::model::{ConsentModel, RecipientKind, Role};
    for role in [Role::Controller, Role::Processor, Role::JointController] {
        assert!(p.activities.iter().any(|a| a.role == role), "{role:?}");
    }
    let kinds: BTreeSet<String> = p.recipients.iter().map(|r| format!("{:?}", r.kind)).collect();
    assert!(kinds.len() >= 5, "{kinds:?}");
    assert!(p.recipients.iter().any(|r| r.kind == RecipientKind::Authority));
    assert!(p.storage.is_some() && p.transfers.iter().all(|t| t.safeguard.is_some()));
    assert!(p.consent_purposes.iter().any(|c| c.model == ConsentModel::OptOut));
    assert!(p.channels.iter().any(|c| c.transactional) && p.channels.iter().any(|c| c.consent_purpose.is_some()));
    let rights = p.rights.as_ref().expect("rights");
    assert_eq!(rights.promise.map(|p| p.to_string()).as_deref(), Some("30 days"));
    let deadlines: Vec<&str> = rights.deadlines.iter().map(|d| d.jurisdiction.as_str()).collect();
    assert_eq!(deadlines, ["gdpr", "ccpa", "default"]);
    assert!(p.retention.iter().any(|r| r.longest_of.len() > 1));
    assert!(p.retention.iter().any(|r| r.controller_defined && r.export_before && r.fallback.is_some()));
    assert!(p.retention.iter().any(|r| !r.legal_holds.is_empty()) && !p.legal_holds.is_empty());
    assert!(!p.minimum_ages.is_empty() && !p.commitments.is_empty());
    assert!(p.changes.is_some() && p.shutdown.is_some() && p.breach.is_some() && p.ownership_change.is_some());
    assert!(p.security.is_some() && p.cookies.is_some());
}

#[test]
fn every_lint_fires_where_it_should() {
    let mut failures = Vec::new();
    for c in CASES {
        let text = apply(c.edits);
        let checked = check(&text);
        if checked.policy.is_none() {
            failures.push(format!("{} at {}: the edited policy does not parse:\n{}", c.code, c.at, checked.render()));
            continue;
        }
        for d in &checked.diagnostics {
            if d.span.is_none() || !resolves(&checked, d) {
                failures.push(format!("{}: diagnostic `{}` at `{}` points at nothing", c.code, d.code, d.path));
            }
        }
        let found = checked.diagnostics.iter().find(|d| d.code == c.code && d.path.to_string() == c.at);
        match found {
            None => failures.push(format!("{} did not fire at {}; got:\n{}", c.code, c.at, checked.render())),
            Some(d) => {
                if d.severity != c.severity {
                    failures.push(format!("{} at {} is a {}, expected a {}", c.code, c.at, d.severity, c.severity));
                }
                if d.help.is_none() || d.message.ends_with('.') || d.message.starts_with(char::is_uppercase) {
                    failures.push(format!("{}: message or help not in house style: {d:?}", c.code));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_lint_is_registered_once_and_has_a_case() {
    let mut codes = BTreeSet::new();
    for l in LINTS {
        assert!(codes.insert(l.code), "`{}` is registered twice", l.code);
    }
    let tested: BTreeSet<&str> = CASES.iter().map(|c| c.code).collect();
    let untested: Vec<_> = codes.difference(&tested).collect();
    let unknown: Vec<_> = tested.difference(&codes).collect();
    assert!(untested.is_empty(), "lints without a case: {untested:?}");
    assert!(unknown.is_empty(), "cases for codes that are not lints: {unknown:?}");
    for c in CASES {
        let registered = LINTS.iter().find(|l| l.code == c.code).map(|l| l.severity);
        assert_eq!(registered, Some(c.severity), "{}", c.code);
    }
    assert!(LINTS.len() >= 25);
}

#[test]
fn an_unknown_category_in_a_retention_rule_is_shown_at_its_line_and_column() {
    let text = apply(&[Replace(
        "categories = [\"rotamint.support_tickets\"]\nactivities",
        "categories = [\"user.fo\"]\nactivities",
    )]);
    let checked = check(&text);
    let d = checked.errors().find(|d| d.code == "unknown-category").expect("an unknown-category error");
    assert_eq!(d.message, "retention rule `support-tickets` names unknown category `user.fo`");
    assert_eq!(checked.source.position(d), "p.toml:532:15");
    let rendered = checked.source.render(d);
    assert!(rendered.contains("532 | categories = [\"user.fo\"]\n    |               ^^^^^^^^^\n"), "{rendered}");
    assert!(rendered.contains("= at: retention[3].categories[0]"), "{rendered}");
}

#[test]
fn an_unknown_key_is_shown_at_its_line_and_column() {
    let text = apply(&[Replace("version = \"2026.1\"", "version = \"2026.1\"\ntitel = \"Privacy\"")]);
    let checked = check(&text);
    assert!(checked.policy.is_none());
    let d = checked.diagnostics.first().expect("a diagnostic");
    assert_eq!((d.code, d.severity), ("unknown-key", Severity::Error));
    assert_eq!(checked.source.position(d), "p.toml:9:1");
}

#[test]
fn unknown_references_suggest_the_closest_id() {
    let check_help = |edit: Edit, code: &str, help: &str| {
        let checked = check(&apply(&[edit]));
        let d = checked.diagnostics.iter().find(|d| d.code == code).unwrap_or_else(|| panic!("no {code}"));
        assert_eq!(d.help.as_deref(), Some(help), "{code}");
    };
    check_help(
        Replace(
            "categories = [\"rotamint.support_tickets\"]\nactivities",
            "categories = [\"rotamint.suport_tickets\"]\nactivities",
        ),
        "unknown-category",
        "did you mean `rotamint.support_tickets`? if not, declare it in [[categories]] or fix the spelling",
    );
    check_help(
        Replace("categories = [\"user.device.cookie_id\"]", "categories = [\"user.device.cookie\"]"),
        "unknown-category",
        "did you mean `user.device.cookie_id`? if not, `user.device.cookie` is the standard category \"Cookie data\": declare it in [[categories]] to use it",
    );
    check_help(
        Replace("subject_types = [\"attendee\"]", "subject_types = [\"attendees\"]"),
        "unknown-subject-type",
        "did you mean `attendee`? if not, declare it in [[subject_types]] or fix the spelling",
    );
    check_help(
        Replace("recipients = [\"payments\", \"hosting\"]", "recipients = [\"stripe\", \"hosting\"]"),
        "unknown-recipient",
        "declare it in [[recipients]] or fix the spelling",
    );
}

/// Edits that must keep the policy clean: the lints do not fire on things that are right.
#[test]
fn correct_variations_stay_clean() {
    let variants: &[&[Edit]] = &[
        // A category reference may name an ancestor of a declared category.
        &[Replace(
            "categories = [\"user.name\", \"user.contact.email\"]\nlegal_bases = [\"legal_obligation\"]",
            "categories = [\"user.name\", \"user.contact\"]\nlegal_bases = [\"legal_obligation\"]",
        )],
        // Data whose controller sets the period needs no clock of ours.
        &[Replace(
            "controller_defined = true\nexport_before = true\ntrigger = \"contract_terminated\"\nperiod = \"30 days\"\n",
            "controller_defined = true\nexport_before = true\n",
        )],
        // An opt-out purpose may govern an activity based on legitimate interests.
        &[Replace(
            "legitimate_interest = \"Helping the people who use our service and learning which problems to fix\"\n",
            "legitimate_interest = \"Helping the people who use our service and learning which problems to fix\"\nconsent_purpose = \"product-tips\"\n",
        )],
        // Moving data within the storage regions is not a transfer that needs a safeguard.
        &[Append("\n[[transfers]]\nid = \"backup\"\ndestinations = [\"SE\"]\nrecipients = [\"hosting\"]\n")],
        // A minimum age above 16 is a choice, not a mistake.
        &[Replace("jurisdiction = \"gdpr\"\nage = 16", "jurisdiction = \"gdpr\"\nage = 18")],
        // A retention rule that covers a parent category covers what lies below it.
        &[Replace("activities = [\"assistant\"]\n", "categories = [\"rotamint\"]\n")],
        // A deadline for a member state within the GDPR's month is fine.
        &[Append("\n[[rights.deadlines]]\njurisdiction = \"FI\"\nrespond_within = \"4 weeks\"\n")],
    ];
    for (i, edits) in variants.iter().enumerate() {
        let checked = check(&apply(edits));
        assert!(checked.policy.is_some() && checked.diagnostics.is_empty(), "variant {i}:\n{}", checked.render());
    }
}

#[test]
fn processor_activities_need_no_legal_basis_but_others_do() {
    let checked = check(&apply(&[Replace("role = \"processor\"", "role = \"controller\"")]));
    let codes: BTreeSet<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains("no-legal-basis"), "{codes:?}");
    assert!(codes.contains("controller-fields-misused"), "{codes:?}");
}

#[test]
fn lint_positions_work_in_yaml_too() {
    let text = "schema: 1
policy:
  title: Example Privacy Policy
  version: \"1\"
  effective: \"2026-01-01\"
controller:
  legal_name: Example Ltd
  contacts:
    - kind: email
      value: privacy@example.com
categories:
  - id: user.contact.email
    name: Email address
activities:
  - id: signup
    name: Sign up
    purpose: To open accounts
    role: controller
    categories: [user.contact.email, user.fo]
    legal_bases: [contract]
retention:
  - id: accounts
    name: Accounts
    activities: [signup]
    trigger: account_closed
    period: 30 days
    action: delete
";
    let checked = check_source(SourceFile::new("p.yaml", text), Format::Yaml);
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["unknown-category"], "{}", checked.render());
    let d = &checked.diagnostics[0];
    assert_eq!(d.message, "activity `signup` names unknown category `user.fo`");
    assert_eq!(checked.source.position(d), "p.yaml:19:38");
    assert_eq!(d.span.clone().map(|s| &text[s]), Some("user.fo"));
}
