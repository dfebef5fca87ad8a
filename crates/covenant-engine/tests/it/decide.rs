//! Decision tables against tests/fixtures/decisions.toml: one line per case, every reason.

use covenant_engine::{Decision, Denial, PolicyIndex, Query, SubjectState, decide};

use super::{World, fixture, ts};

const NOW: &str = "2026-06-01";

#[track_caller]
fn check(w: &World, script: &str, query: &str, expect: &str) {
    assert_eq!(w.ask(script, query, NOW), expect, "history `{script}`, question `{query}`");
}

#[test]
fn scope() {
    let w = World::new(fixture());
    check(&w, "", "nope", "deny unknown_activity");
    check(&w, "", "account user.contact.email", "allow contract");
    // A key the policy never mentions, within one the activity lists.
    check(&w, "", "account user.contact.email.work", "allow contract");
    check(&w, "", "account user.contact,user.name,user.content", "allow contract");
    check(&w, "", "account", "allow contract");
    check(&w, "give newsletter", "newsletter user.name", "deny category_outside_activity");
    check(&w, "give newsletter", "newsletter user.contact", "deny category_outside_activity");
    check(&w, "give newsletter", "newsletter user.contact.email,user.financial", "deny category_outside_activity");
    check(&w, "", "account somebody.else", "deny category_outside_activity");
    check(&w, "give newsletter", "newsletter user.contact.email -> nobody", "deny unknown_recipient");
    // promise K4: data goes only to the recipients the activity names.
    check(&w, "give newsletter", "newsletter user.contact.email -> ad_network", "deny recipient_not_allowed");
    check(&w, "give newsletter", "newsletter user.contact.email -> mailer", "allow consent_given");
}

#[test]
fn bases() {
    let w = World::new(fixture());
    check(&w, "", "analytics user.behavior.browsing_history", "allow legitimate_interests");
    check(&w, "", "bookkeeping user.financial.invoice -> tax_office", "allow legal_obligation");
    check(&w, "", "statistics user.behavior", "allow public_task");
    check(&w, "", "emergency user.name", "allow vital_interests");
    check(&w, "", "customer_files user.content -> hosting", "allow controller_instructions");
    // Several bases are alternatives: the first that holds answers.
    check(&w, "", "trial user.content", "allow contract");
    check(&w, "give trial", "trial user.content", "allow consent_given");
    // An opt-out purpose holds until the person says no (promises W4, P4, O6, T6).
    check(&w, "", "offers user.contact.email -> mailer", "allow legitimate_interests");
    check(&w, "give offers", "offers user.contact.email -> mailer", "allow legitimate_interests");
    check(&w, "withdraw offers", "offers user.contact.email -> mailer", "deny consent_withdrawn");
    check(&w, "refuse offers", "offers user.contact.email -> mailer", "deny consent_refused");
    check(
        &w,
        "withdraw offers @2026-01-01; give offers @2026-02-01",
        "offers user.contact.email",
        "allow legitimate_interests",
    );
}

#[test]
fn consent() {
    let w = World::new(fixture());
    let q = "newsletter user.contact.email -> mailer";
    check(&w, "", q, "deny no_consent");
    check(&w, "give newsletter @2026-01-10", q, "allow consent_given");
    check(&w, "refuse newsletter", q, "deny consent_refused");
    // promise T2: withdrawal stops processing from then on.
    check(&w, "give newsletter @2026-01-10; withdraw newsletter @2026-02-01", q, "deny consent_withdrawn");
    check(
        &w,
        "give newsletter @2026-01-10; withdraw newsletter @2026-02-01; give newsletter @2026-03-01",
        q,
        "allow consent_given",
    );
    // A record that arrives late but happened earlier does not override a later one.
    check(&w, "withdraw newsletter @2026-02-01; give newsletter @2026-01-10", q, "deny consent_withdrawn");
    // In the same instant, the later entry of the ledger wins.
    check(&w, "give newsletter @2026-02-01; withdraw newsletter @2026-02-01", q, "deny consent_withdrawn");
    check(&w, "withdraw newsletter @2026-02-01; give newsletter @2026-02-01", q, "allow consent_given");
    // The newsletter consent lapses after a year.
    check(&w, "give newsletter @2025-05-31", q, "deny consent_expired");
    check(&w, "give newsletter @2025-06-02", q, "allow consent_given");
    check(&w, "give newsletter @2026-01-01; expire newsletter @2026-03-01", q, "deny consent_expired");
    // promise K4: consent to an earlier definition does not count.
    check(&w, "old newsletter", q, "deny consent_outdated");
    check(&w, "old newsletter @2026-01-01; give newsletter @2026-02-01", q, "allow consent_given");
    // promise W8: AI sharing needs its own opt-in; other consents do not stand in for it.
    check(&w, "give newsletter; give trial", "ai_help user.content -> ai_vendor", "deny no_consent");
    check(&w, "give ai", "ai_help user.content -> ai_vendor", "allow consent_given");
    // Consent to one purpose is not consent to another.
    check(&w, "give offers", q, "deny no_consent");
}

#[test]
fn objections() {
    let w = World::new(fixture());
    check(&w, "object analytics", "analytics user.behavior", "deny objected");
    check(
        &w,
        "object analytics @2026-01-01; lift analytics @2026-02-01",
        "analytics user.behavior",
        "allow legitimate_interests",
    );
    check(&w, "object statistics", "statistics user.behavior", "deny objected");
    check(&w, "object offers", "offers user.contact.email", "deny objected");
    check(&w, "object offers", "analytics user.behavior", "allow legitimate_interests");
    // Art. 21(3): an objection to direct marketing is absolute, whatever the basis.
    check(&w, "give newsletter; object-dm @2026-02-01", "newsletter user.contact.email", "deny objected");
    check(&w, "object-dm", "offers user.contact.email", "deny objected");
    check(&w, "object-dm", "ads user.device.cookie", "deny objected");
    check(&w, "object-dm", "analytics user.behavior", "allow legitimate_interests");
    check(&w, "object-dm", "account user.contact.email", "allow contract");
    check(&w, "object-dm @2026-01-01; lift-dm @2026-02-01", "offers user.contact.email", "allow legitimate_interests");
    // A direct-marketing objection to one activity covers it even when it rests on consent.
    check(&w, "give newsletter; object newsletter @2026-02-01", "newsletter user.contact.email", "deny objected");
}

#[test]
fn restriction() {
    let w = World::new(fixture());
    check(&w, "restricted", "account user.contact.email", "deny restricted");
    check(&w, "restricted", "analytics user.behavior", "deny restricted");
    check(&w, "restricted", "offers user.contact.email", "deny restricted");
    // Art. 18(2): with consent, for legal obligations, vital interests and public interest.
    check(&w, "restricted; give newsletter", "newsletter user.contact.email", "allow consent_given");
    check(&w, "restricted", "bookkeeping user.financial", "allow legal_obligation");
    check(&w, "restricted", "emergency user.contact", "allow vital_interests");
    check(&w, "restricted", "statistics user.behavior", "allow public_task");
    check(&w, "restricted; give trial", "trial user.content", "allow consent_given");
    check(&w, "restricted", "trial user.content", "deny no_consent");
    check(&w, "restricted", "customer_files user.content", "allow controller_instructions");
}

#[test]
fn age_and_death() {
    let w = World::new(fixture());
    // promises W7, P8, O8, K10, T9.
    check(&w, "underage 16; give newsletter", "newsletter user.contact.email", "deny under_age");
    check(&w, "underage", "account user.contact.email", "deny under_age");
    check(&w, "underage 16", "bookkeeping user.financial", "allow legal_obligation");
    // promise W6.
    check(&w, "deceased; give newsletter", "newsletter user.contact.email", "deny deceased");
    check(&w, "deceased", "account user.name", "deny deceased");
    check(&w, "deceased", "bookkeeping user.name", "allow legal_obligation");
    check(&w, "deceased", "customer_files user.content", "allow controller_instructions");
}

#[test]
fn gpc_and_partners() {
    let w = World::new(fixture());
    let ads = "ads user.device.cookie -> ad_network";
    check(&w, "", ads, "allow legitimate_interests");
    check(&w, "gpc", ads, "deny gpc_opt_out");
    check(&w, "gpc", "ads user.device.cookie", "deny gpc_opt_out");
    check(&w, "gpc", "newsletter user.contact.email", "deny no_consent");
    check(&w, "gpc; give newsletter", "newsletter user.contact.email", "allow consent_given");
    check(&w, "gpc", "analytics user.behavior", "allow legitimate_interests");
    // Consent given after the signal lifts it for that purpose; consent before it does not.
    check(&w, "gpc @2026-01-01; give targeted_ads @2026-02-01", ads, "allow legitimate_interests");
    check(&w, "give targeted_ads @2026-01-01; gpc @2026-02-01", ads, "deny gpc_opt_out");
    check(&w, "withdraw targeted_ads", ads, "deny consent_withdrawn");
    // promise P5: opting out of one partner stops disclosure to it, not the activity.
    check(&w, "optout ad_network", ads, "deny partner_opt_out");
    check(&w, "optout ad_network", "ads user.device.cookie", "allow legitimate_interests");
    check(&w, "optout ad_network @2026-01-01; optin ad_network @2026-02-01", ads, "allow legitimate_interests");
    // promise K4: a purpose no activity rests on authorises disclosure to the recipients it names.
    let partners = "account user.name,user.contact.email -> partners";
    check(&w, "", partners, "deny no_consent");
    check(&w, "give partner_sharing", partners, "allow contract");
    check(&w, "old partner_sharing", partners, "deny consent_outdated");
    check(
        &w,
        "give partner_sharing @2026-01-01; withdraw partner_sharing @2026-02-01",
        partners,
        "deny consent_withdrawn",
    );
    check(&w, "give partner_sharing; optout partners", partners, "deny partner_opt_out");
    check(&w, "", "account user.name -> hosting", "allow contract");
}

#[track_caller]
fn explain(w: &World, script: &str, query: &str, expect: &str) {
    assert_eq!(w.explain(script, query, NOW), expect, "history `{script}`, question `{query}`");
}

#[test]
fn messages() {
    let w = World::new(fixture());
    let q = "newsletter user.contact.email";
    explain(
        &w,
        "give newsletter @2026-01-10",
        q,
        "consent_given: consent to `newsletter` was given at 2026-01-10T00:00:00Z under policy version `2`",
    );
    explain(&w, "", q, "no_consent: no consent to `newsletter` has been recorded");
    explain(
        &w,
        "refuse newsletter @2026-01-10",
        q,
        "consent_refused: the person refused `newsletter` at 2026-01-10T00:00:00Z",
    );
    explain(
        &w,
        "give newsletter; withdraw newsletter @2026-02-01",
        q,
        "consent_withdrawn: consent to `newsletter` was withdrawn at 2026-02-01T00:00:00Z; processing before then stays lawful, processing after it needs new consent",
    );
    explain(
        &w,
        "give newsletter @2025-05-01",
        q,
        "consent_expired: consent to `newsletter` expired at 2026-05-01T00:00:00Z and must be asked for again",
    );
    explain(
        &w,
        "old newsletter @2025-12-01",
        q,
        "consent_outdated: consent to `newsletter` was given at 2025-12-01T00:00:00Z under policy version `1` for an earlier definition of the purpose; the purpose or its recipients have changed, so it must be asked for again",
    );
    explain(
        &w,
        "",
        "newsletter user.name",
        "category_outside_activity: category `user.name` is not among the categories activity `newsletter` may use",
    );
    explain(
        &w,
        "",
        "newsletter user.contact.email,user.content.x",
        "category_outside_activity: category `user.content.x` is not among the categories activity `newsletter` may use",
    );
    explain(&w, "", "nope user.name", "unknown_activity: the policy has no activity `nope`");
    explain(&w, "", "account -> nobody", "unknown_recipient: the policy has no recipient `nobody`");
    explain(
        &w,
        "",
        "account -> mailer",
        "recipient_not_allowed: activity `account` does not disclose data to `mailer`; data is bound to the purposes the policy states (promise K4)",
    );
    explain(
        &w,
        "object analytics @2026-03-01",
        "analytics",
        "objected: the person objected to `analytics` at 2026-03-01T00:00:00Z (GDPR Art. 21); processing resumes only if the objection is lifted",
    );
    explain(
        &w,
        "object-dm @2026-03-01",
        "offers",
        "objected: the person objected to direct marketing at 2026-03-01T00:00:00Z; the objection is absolute (GDPR Art. 21(3))",
    );
    explain(
        &w,
        "restricted",
        "account",
        "restricted: processing is restricted (GDPR Art. 18): besides storage, only processing with the person's consent, processing the law requires, and processing to protect someone's vital interests or for a task in the public interest are allowed",
    );
    explain(
        &w,
        "underage 16",
        "account",
        "under_age: the person is under the minimum age of 16; their data must not be processed",
    );
    explain(
        &w,
        "underage",
        "account",
        "under_age: the person is under the minimum age; their data must not be processed",
    );
    explain(
        &w,
        "deceased",
        "account",
        "deceased: the person has died; only processing the law requires continues, and their instructions are followed",
    );
    explain(
        &w,
        "gpc @2026-03-01",
        "ads",
        "gpc_opt_out: a Global Privacy Control signal at 2026-03-01T00:00:00Z opted the person out of sale, sharing and targeted advertising",
    );
    explain(
        &w,
        "optout ad_network @2026-03-01",
        "ads -> ad_network",
        "partner_opt_out: the person opted out of disclosure to `ad_network` at 2026-03-01T00:00:00Z",
    );
    explain(
        &w,
        "",
        "offers",
        "legitimate_interests: in the legitimate interests stated in the policy, and the person has not objected (GDPR Art. 6(1)(f))",
    );
    explain(&w, "", "account", "contract: necessary to perform the contract with the person (GDPR Art. 6(1)(b))");
    explain(&w, "", "bookkeeping", "legal_obligation: required by a legal obligation (GDPR Art. 6(1)(c))");
    explain(
        &w,
        "",
        "customer_files",
        "controller_instructions: processed for the controller, on its instructions (GDPR Art. 28(3)(a)); the person's requests go to that controller",
    );
}

/// Reasons a lint-clean policy cannot produce: a consent activity without a consent purpose, an
/// activity without a basis, a recipient bound to other activities, an opt-out purpose as consent.
#[test]
fn reasons_from_policies_the_lints_reject() {
    let mut p = fixture();
    p.activities.iter_mut().find(|a| a.id == "ai_help").unwrap().consent_purpose = None;
    p.activities.iter_mut().find(|a| a.id == "emergency").unwrap().legal_bases.clear();
    p.activities.iter_mut().find(|a| a.id == "account").unwrap().recipients.push("mailer".to_owned());
    let trial = p.consent_purposes.iter_mut().find(|c| c.id == "trial").unwrap();
    trial.model = covenant_policy::model::ConsentModel::OptOut;
    let w = World::new(p);
    check(&w, "give ai", "ai_help user.content", "deny no_consent_purpose");
    check(&w, "", "emergency user.name", "deny no_legal_basis");
    check(&w, "", "account user.name -> mailer", "deny recipient_not_allowed");
    check(&w, "", "trial user.content", "allow not_opted_out");
    check(&w, "restricted", "trial user.content", "deny restricted");
    assert_eq!(w.explain("", "trial user.content", NOW), "not_opted_out: the person has not opted out of `trial`");
    assert_eq!(w.explain("", "emergency", NOW), "no_legal_basis: activity `emergency` states no legal basis");
    assert_eq!(
        w.explain("", "ai_help", NOW),
        "no_consent_purpose: activity `ai_help` rests on consent but names no consent purpose to record it against"
    );
}

#[test]
fn a_question_or_state_from_another_policy_is_refused() {
    let w = World::new(fixture());
    let other = PolicyIndex::compile(&fixture());
    let q = Query::new(&other, "account");
    let d = decide(&w.index, &SubjectState::new(&w.index), &q, ts(NOW));
    assert_eq!(d, Decision::Deny(Denial::PolicyChanged));
    let d = decide(&w.index, &SubjectState::new(&other), &w.query("account"), ts(NOW));
    assert_eq!(d, Decision::Deny(Denial::PolicyChanged));
    assert!(d.message(&w.index, &q).starts_with("the policy changed"));
}

#[test]
fn batches_answer_in_order() {
    let w = World::new(fixture());
    let state = w.state("give newsletter");
    let qs = [w.query("newsletter user.contact.email"), w.query("nope"), w.query("ai_help")];
    let codes: Vec<&str> =
        covenant_engine::decide_batch(&w.index, &state, &qs, ts(NOW)).iter().map(Decision::code).collect();
    assert_eq!(codes, ["consent_given", "unknown_activity", "no_consent"]);
}

#[test]
fn a_bad_category_key_is_a_query_error() {
    let w = World::new(fixture());
    let err = Query::parse(&w.index, "account", &["User.Email"], None).unwrap_err();
    assert!(err.to_string().starts_with("category key `User.Email` has an invalid segment"), "{err}");
}
