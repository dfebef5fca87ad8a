//! `covenant policy diff`: which changes between two versions are material (promises P9, W13, T8).
//!
//! Each case edits the base fixture's text once and lists the changes expected, as
//! (path, material) pairs in report order.

use covenant_policy::diff::{ChangeKind, diff};
use covenant_policy::{Format, Policy, parse};

const BASE: &str = include_str!("../fixtures/diff-base.toml");

fn load(text: &str) -> Policy {
    match parse(text, Format::Toml) {
        Ok(p) => p,
        Err(d) => panic!("the edited fixture does not parse: {d:?}"),
    }
}

/// Replaces `from` (which must occur exactly once in the base) by `to`, and compares.
fn check(from: &str, to: &str, expect: &[(&str, bool)]) {
    assert_eq!(BASE.matches(from).count(), 1, "the edit {from:?} must match the base fixture exactly once");
    let (old, new) = (load(BASE), load(&BASE.replacen(from, to, 1)));
    let d = diff(&old, &new);
    let got: Vec<(&str, bool)> = d.changes.iter().map(|c| (c.path.as_str(), c.material)).collect();
    assert_eq!(got, expect, "edit {from:?} → {to:?}\n{}", d.render_text());
    assert_eq!(d.is_material(), expect.iter().any(|(_, m)| *m));
}

#[test]
fn retention() {
    // The acceptance case: 3 → 5 years is material.
    check("period = \"3 years\"\naction", "period = \"5 years\"\naction", &[("retention[service-data].period", true)]);
    check("period = \"3 years\"\naction", "period = \"2 years\"\naction", &[("retention[service-data].period", false)]);
    check(
        "period = \"3 years\"\naction",
        "period = \"36 months\"\naction",
        &[("retention[service-data].period", false)],
    );
    // Clocks of a `longest_of` rule are matched by trigger (promise K5).
    check(
        "{ trigger = \"collected\", period = \"3 years\" }",
        "{ trigger = \"collected\", period = \"5 years\" }",
        &[("retention[marketing].longest_of[collected].period", true)],
    );
    check(
        "period = \"1 year\", reason",
        "period = \"2 years\", reason",
        &[("retention[marketing].longest_of[last_interaction].period", false)],
    );
    check(
        "period = \"1 year\", reason",
        "period = \"4 years\", reason",
        &[("retention[marketing].longest_of[last_interaction].period", true)],
    );
    check(
        "{ trigger = \"collected\", period = \"3 years\" },",
        "{ trigger = \"collected\", period = \"3 years\" },\n{ trigger = \"account_closed\", period = \"6 months\" },",
        &[("retention[marketing].longest_of[account_closed]", false)],
    );
    check(
        "{ trigger = \"collected\", period = \"3 years\" },",
        "{ trigger = \"collected\", period = \"3 years\" },\n{ trigger = \"account_closed\", period = \"4 years\" },",
        &[("retention[marketing].longest_of[account_closed]", true)],
    );
    check(
        "{ trigger = \"collected\", period = \"3 years\" },",
        "",
        &[("retention[marketing].longest_of[collected]", false)],
    );
    check(
        "categories = [\"user.content\"]\ntrigger = \"account_closed\"",
        "categories = [\"user.content\"]\ntrigger = \"last_interaction\"",
        &[("retention[service-data].trigger", true)],
    );
    check(
        "period = \"3 years\"\naction = \"delete\"",
        "period = \"3 years\"\naction = \"isolate\"",
        &[("retention[service-data].action", true)],
    );
    check(
        "period = \"3 years\"\naction = \"delete\"",
        "period = \"3 years\"\naction = \"delete\"\nfallback = \"anonymise\"",
        &[("retention[service-data].fallback", true)],
    );
    check(
        "period = \"3 years\"\naction = \"delete\"",
        "period = \"3 years\"\naction = \"delete\"\nexport_before = true",
        &[("retention[service-data].export_before", false)],
    );
    // Content moves under the 6-year payments rule: it is kept longer than its 3 years.
    check(
        "categories = [\"user.payment\"]\ntrigger = \"collected\"",
        "categories = [\"user.payment\", \"user.content\"]\ntrigger = \"collected\"",
        &[("retention[payments].categories", true)],
    );
    // Dropping the only rule for content that is still collected leaves it without a limit.
    check(
        "id = \"service-data\"\nname = \"Service data\"\ncategories = [\"user.content\"]",
        "id = \"service-data\"\nname = \"Service data\"",
        &[("retention[service-data].categories", true)],
    );
    check("period = \"5 years\"", "period = \"7 years\"", &[("legal_holds[claims].period", true)]);
    check("period = \"5 years\"", "period = \"2 years\"", &[("legal_holds[claims].period", false)]);
    check("legal_holds = [\"claims\"]\n", "", &[("retention[payments].legal_holds", false)]);
}

#[test]
fn activities_and_categories() {
    check(
        "[[recipients]]\nid = \"hosting\"",
        "[[activities]]\nid = \"analytics\"\nname = \"Product analytics\"\npurpose = \"To improve the product.\"\nrole = \"controller\"\n\n[[recipients]]\nid = \"hosting\"",
        &[("activities[analytics]", true)],
    );
    check(
        "[[activities]]\nid = \"payments\"\nname = \"Take payments\"",
        "[[activities]]\nid = \"charges\"\nname = \"Take payments\"",
        &[("activities[charges]", true), ("activities[payments]", false)],
    );
    check("name = \"Create and run your account\"", "name = \"Your account\"", &[("activities[account].name", false)]);
    check(
        "purpose = \"To send you our newsletter.\"",
        "purpose = \"To send you our newsletter and partner offers.\"",
        &[("activities[newsletter].purpose", true)],
    );
    check(
        "categories = [\"user.contact.email\", \"user.name\", \"user.content\"]",
        "categories = [\"user.contact.email\", \"user.name\", \"user.content\", \"user.device.ip_address\"]",
        &[("activities[account].categories", true)],
    );
    check(
        "categories = [\"user.contact.email\", \"user.name\", \"user.content\"]",
        "categories = [\"user.contact.email\", \"user.content\"]",
        &[("activities[account].categories", false)],
    );
    // Already covered by the parent `user.contact`.
    check(
        "categories = [\"user.contact\"]",
        "categories = [\"user.contact\", \"user.contact.email\"]",
        &[("activities[newsletter].categories", false)],
    );
    check(
        "legal_bases = [\"consent\"]",
        "legal_bases = [\"legitimate_interests\"]",
        &[("activities[newsletter].legal_bases", true)],
    );
    check(
        "legal_bases = [\"contract\", \"legal_obligation\"]",
        "legal_bases = [\"legal_obligation\", \"contract\"]",
        &[],
    );
    check(
        "subject_types = [\"user\"]\ncategories = [\"user.contact.email\"",
        "subject_types = [\"user\", \"visitor\"]\ncategories = [\"user.contact.email\"",
        &[("activities[account].subject_types", true)],
    );
    check(
        "sources = [\"subject\"]\nrecipients = [\"hosting\"]",
        "sources = [\"subject\", \"third_party\"]\nrecipients = [\"hosting\"]",
        &[("activities[account].sources", true)],
    );
    check("direct_marketing = true\n", "", &[("activities[newsletter].direct_marketing", true)]);
    check(
        "[[categories]]\nid = \"user.name\"",
        "[[categories]]\nid = \"user.contact.phone\"\nname = \"Phone number\"\n\n[[categories]]\nid = \"user.name\"",
        &[("categories[user.contact.phone]", true)],
    );
    check(
        "[[categories]]\nid = \"user.name\"",
        "[[categories]]\nid = \"user.health\"\nname = \"Health records\"\nprohibited = true\n\n[[categories]]\nid = \"user.name\"",
        &[("categories[user.health]", false)],
    );
    check("[[categories]]\nid = \"user.name\"\nname = \"Name\"\n", "", &[("categories[user.name]", false)]);
    check("name = \"Email address\"", "name = \"E-mail address\"", &[("categories[user.contact.email].name", false)]);
    check("prohibited = true\n", "", &[("categories[user.financial.bank_account].prohibited", true)]);
    check("storage_limit = \"last_four\"\n", "", &[("categories[user.payment.card_number].storage_limit", true)]);
    check(
        "storage_limit = \"last_four\"",
        "storage_limit = \"never_stored\"",
        &[("categories[user.payment.card_number].storage_limit", false)],
    );
    check("encrypted_at_rest = true\n", "", &[("categories[user.payment.card_number].encrypted_at_rest", true)]);
}

#[test]
fn recipients_and_transfers() {
    check(
        "[storage]",
        "[[recipients]]\nid = \"analytics\"\nname = \"Analytics provider\"\nkind = \"sub_processor\"\n\n[storage]",
        &[("recipients[analytics]", true)],
    );
    check(
        "recipients = [\"hosting\"]",
        "recipients = [\"hosting\", \"mailer\"]",
        &[("activities[account].recipients", true)],
    );
    check("recipients = [\"hosting\"]", "recipients = []", &[("activities[account].recipients", false)]);
    check(
        "[[recipients]]\nid = \"psp\"\nname = \"Payment service provider\"\nkind = \"sub_processor\"\nactivities = [\"payments\"]\nlocations = [\"EU\", \"US\"]\n",
        "",
        &[("recipients[psp]", false)],
    );
    check("opt_out = true", "opt_out = true\nsale = true", &[("recipients[mailer].sale", true)]);
    check("opt_out = true\n", "", &[("recipients[mailer].opt_out", true)]);
    check("name = \"Hosting providers\"", "name = \"Cloud hosting\"", &[("recipients[hosting].name", false)]);
    check(
        "activities = [\"account\"]\nlocations = [\"EU\"]",
        "activities = [\"account\", \"payments\"]\nlocations = [\"EU\"]",
        &[("recipients[hosting].activities", true)],
    );
    check(
        "[[consent_purposes]]\nid = \"newsletter\"",
        "[[transfers]]\nid = \"mail-us\"\ndestinations = [\"US\"]\nrecipients = [\"mailer\"]\nsafeguard = \"adequacy\"\n\n[[consent_purposes]]\nid = \"newsletter\"",
        &[("transfers[mail-us]", true)],
    );
    check("destinations = [\"US\"]", "destinations = [\"US\", \"IN\"]", &[("transfers[psp-us].destinations", true)]);
    check(
        "safeguard = \"standard_contractual_clauses\"",
        "safeguard = \"explicit_consent\"",
        &[("transfers[psp-us].safeguard", true)],
    );
    check("safeguard = \"standard_contractual_clauses\"\n", "", &[("transfers[psp-us].safeguard", true)]);
    check(
        "safeguard = \"standard_contractual_clauses\"",
        "safeguard = \"adequacy\"",
        &[("transfers[psp-us].safeguard", false)],
    );
    check("regions = [\"EU\"]", "regions = [\"EU\", \"US\"]", &[("storage.regions", true)]);
    check("regions = [\"EU\"]", "regions = [\"FI\"]", &[("storage.regions", true), ("storage.regions", false)]);
}

#[test]
fn consents_and_channels() {
    // Promise K4: consents given under the old definition no longer count.
    check(
        "description = \"We email you our newsletter about once a month.\"",
        "description = \"We email you our newsletter every week.\"",
        &[("consent_purposes[newsletter].description", true)],
    );
    check(
        "name = \"Newsletter\"\ndescription",
        "name = \"News and offers\"\ndescription",
        &[("consent_purposes[newsletter].name", true)],
    );
    check(
        "separate = true\ncategories = [\"user.contact.email\"]\nrecipients = [\"mailer\"]",
        "separate = true\ncategories = [\"user.contact.email\"]\nrecipients = [\"mailer\", \"psp\"]",
        &[("consent_purposes[newsletter].recipients", true)],
    );
    check(
        "separate = true\ncategories = [\"user.contact.email\"]",
        "separate = true\ncategories = [\"user.contact.email\", \"user.name\"]",
        &[("consent_purposes[newsletter].categories", true)],
    );
    check(
        "kind = \"marketing\"\nmodel = \"opt_in\"",
        "kind = \"marketing\"\nmodel = \"opt_out\"",
        &[("consent_purposes[newsletter].model", true)],
    );
    check(
        "expires_after = \"2 years\"",
        "expires_after = \"1 year\"",
        &[("consent_purposes[newsletter].expires_after", false)],
    );
    check(
        "expires_after = \"2 years\"",
        "expires_after = \"3 years\"",
        &[("consent_purposes[newsletter].expires_after", true)],
    );
    check(
        "medium = \"email\"\nconsent_purpose = \"newsletter\"",
        "medium = \"email\"\nconsent_purpose = \"newsletter\"\ntransactional = true",
        &[("channels[news].transactional", true)],
    );
    check("name = \"Service notices\"", "name = \"Account notices\"", &[("channels[service].name", false)]);
}

#[test]
fn rights_and_deadlines() {
    check("\"erasure\", \"portability\", \"objection\"", "\"erasure\", \"objection\"", &[("rights.offered", true)]);
    check(
        "\"erasure\", \"portability\", \"objection\"",
        "\"erasure\", \"restriction\", \"portability\", \"objection\"",
        &[("rights.offered", false)],
    );
    check("promise = \"30 days\"", "promise = \"45 days\"", &[("rights.promise", true)]);
    check("promise = \"30 days\"", "promise = \"20 days\"", &[("rights.promise", false)]);
    check(
        "respond_within = \"1 month\"",
        "respond_within = \"2 months\"",
        &[("rights.deadlines[gdpr].respond_within", true)],
    );
    check(
        "respond_within = \"45 days\"",
        "respond_within = \"30 days\"",
        &[("rights.deadlines[ccpa].respond_within", false)],
    );
    check(
        "acknowledge_within = \"10 business days\"",
        "acknowledge_within = \"2 weeks\"",
        &[("rights.deadlines[ccpa].acknowledge_within", false)],
    );
    check("everyone = true\n", "", &[("rights.everyone", true)]);
    check("verification = \"when_needed\"", "verification = \"required\"", &[("rights.verification", true)]);
    check("self_service = [\"edit your profile\"]\n", "", &[("rights.self_service", true)]);
}

#[test]
fn ages_commitments_and_identity() {
    // A lower minimum age is material; a higher one is not.
    check("age = 16", "age = 13", &[("minimum_ages[default].age", true)]);
    check("age = 16", "age = 18", &[("minimum_ages[default].age", false)]);
    check("[[minimum_ages]]\njurisdiction = \"US\"\nage = 13\n", "", &[("minimum_ages[US]", false)]);
    check("never_sell = true\n", "", &[("commitments.never_sell", true)]);
    check(
        "never_sell = true\n",
        "never_sell = true\nnotify_of_legal_orders = true\n",
        &[("commitments.notify_of_legal_orders", false)],
    );
    check(
        "legal_name = \"Acme Software Oy\"",
        "legal_name = \"Acme Holdings Ltd\"",
        &[("controller.legal_name", true)],
    );
    check("trading_name = \"Acme\"", "trading_name = \"Acme Cloud\"", &[("controller.trading_name", false)]);
    check(
        "dpo = { name = \"Data Protection Officer\", email = \"dpo@acme.example\" }\n",
        "",
        &[("controller.dpo", true)],
    );
    check(
        "email = \"dpo@acme.example\"",
        "email = \"privacy-officer@acme.example\"",
        &[("controller.dpo.email", false)],
    );
}

#[test]
fn notice_and_metadata() {
    check(
        "version = \"3.1\"\neffective = \"2026-01-01\"",
        "version = \"3.2\"\neffective = \"2026-03-01\"",
        &[("policy.version", false), ("policy.effective", false)],
    );
    check("title = \"Acme Privacy Policy\"", "title = \"Acme Privacy Notice\"", &[("policy.title", false)]);
    check("material_notice = \"30 days\"", "material_notice = \"14 days\"", &[("changes.material_notice", true)]);
    check("material_notice = \"30 days\"", "material_notice = \"2 months\"", &[("changes.material_notice", false)]);
    check("prominent = true\n", "", &[("changes.prominent", true)]);
    check("notify_subjects = true", "notify_subjects = false", &[("breach.notify_subjects", true)]);
    check("authority_within = \"72 hours\"", "authority_within = \"48 hours\"", &[("breach.authority_within", false)]);
    check("\"encryption in transit\", ", "", &[("security.measures", true)]);
    check("consent_required = true\n", "", &[("cookies.consent_required", true)]);
}

#[test]
fn identical_policies_have_no_changes() {
    let p = load(BASE);
    let d = diff(&p, &p);
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert!(!d.is_material());
    assert_eq!(d.render_text(), "no changes between the two versions\n");
}

#[test]
fn reordering_is_not_a_change() {
    let old = load(BASE);
    let mut new = old.clone();
    new.products.reverse();
    new.subject_types.reverse();
    new.categories.reverse();
    new.activities.reverse();
    for a in &mut new.activities {
        a.categories.reverse();
        a.subject_types.reverse();
        a.legal_bases.reverse();
        a.recipients.reverse();
    }
    new.recipients.reverse();
    for r in &mut new.recipients {
        r.locations.reverse();
    }
    new.consent_purposes.reverse();
    new.channels.reverse();
    if let Some(rights) = &mut new.rights {
        rights.offered.reverse();
        rights.deadlines.reverse();
    }
    new.retention.reverse();
    for r in &mut new.retention {
        r.longest_of.reverse();
    }
    new.minimum_ages.reverse();
    if let Some(changes) = &mut new.changes {
        changes.channels.reverse();
    }
    assert_ne!(old, new, "the reordering must change the document");
    let d = diff(&old, &new);
    assert!(d.changes.is_empty(), "{}", d.render_text());

    // The same through the text: a reordered file written back out.
    let text = toml::to_string(&new).expect("the policy serialises");
    let d = diff(&old, &load(&text));
    assert!(d.changes.is_empty(), "{}", d.render_text());
}

#[test]
fn changes_say_what_changed_in_words() {
    let old = load(BASE);
    let new = load(&BASE.replacen("period = \"3 years\"\naction", "period = \"5 years\"\naction", 1));
    let d = diff(&old, &new);
    let c = &d.changes[0];
    assert_eq!(c.kind, ChangeKind::Changed);
    assert_eq!(c.summary, "3 years → 5 years");
    assert_eq!(c.reason, "longer retention: people must be told before it applies");
    assert_eq!(d.notice_period.map(|p| p.to_string()).as_deref(), Some("30 days"));
}

fn closing(base_edit: (&str, &str), edit: (&str, &str)) -> String {
    let base = BASE.replacen(base_edit.0, base_edit.1, 1);
    let d = diff(&load(&base), &load(&base.replacen(edit.0, edit.1, 1)));
    d.render_text().lines().last().unwrap_or_default().to_owned()
}

#[test]
fn closing_line_states_the_notice_owed() {
    let longer = ("period = \"3 years\"\naction", "period = \"5 years\"\naction");
    let rename = ("name = \"Create and run your account\"", "name = \"Your account\"");
    let same = ("schema = 1", "schema = 1");
    assert_eq!(
        closing(same, longer),
        "material changes need 30 days' notice before they take effect (policy changes.material_notice), announced prominently by email and in-app"
    );
    assert_eq!(
        closing(("prominent = true\n", ""), longer),
        "material changes need 30 days' notice before they take effect (policy changes.material_notice), announced by email and in-app"
    );
    assert_eq!(
        closing(("material_notice = \"30 days\"", "material_notice = \"1 month\""), longer),
        "material changes need 1 month's notice before they take effect (policy changes.material_notice), announced prominently by email and in-app"
    );
    assert_eq!(
        closing(("material_notice = \"30 days\"\n", ""), longer),
        "material changes must be announced before they take effect (prominently by email and in-app), but the policy sets no notice period (changes.material_notice)"
    );
    assert_eq!(
        closing(("channels = [\"email\", \"in_app\"]", "channels = []"), longer),
        "material changes need 30 days' notice before they take effect (policy changes.material_notice); the policy names no channel to announce them (changes.channels)"
    );
    assert_eq!(
        closing(
            ("[changes]\nmaterial_notice = \"30 days\"\nchannels = [\"email\", \"in_app\"]\nprominent = true\n", ""),
            longer
        ),
        "material changes must be announced before they take effect, but the policy sets no notice period (changes.material_notice) and names no channel to announce them (changes.channels)"
    );
    assert_eq!(closing(same, rename), "no material changes: they may take effect without prior notice");
}

#[test]
fn report_of_several_changes() {
    let edits = [
        ("version = \"3.1\"", "version = \"3.2\""),
        ("period = \"3 years\"\naction", "period = \"5 years\"\naction"),
        ("name = \"Create and run your account\"", "name = \"Your account\""),
        ("opt_out = true\n", "sale = true\n"),
        ("\"erasure\", \"portability\"", "\"erasure\", \"restriction\", \"portability\""),
        ("[[minimum_ages]]\njurisdiction = \"US\"\nage = 13\n", ""),
        (
            "[storage]",
            "[[recipients]]\nid = \"ai\"\nname = \"AI model provider\"\nkind = \"sub_processor\"\ntrains_models = false\n\n[storage]",
        ),
    ];
    let mut text = BASE.to_owned();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "{from:?}");
        text = text.replacen(from, to, 1);
    }
    let d = diff(&load(BASE), &load(&text));
    insta::assert_snapshot!(d.render_text());
}
