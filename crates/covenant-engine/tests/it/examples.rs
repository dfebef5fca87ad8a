//! The example policies at the repository root, asked the questions their promises answer.

use covenant_engine::{Decision, Denial, PolicyIndex, SubjectState, decide};

use super::{World, load, ts};

const NOW: &str = "2026-06-01";

#[track_caller]
fn check(w: &World, script: &str, query: &str, expect: &str) {
    assert_eq!(w.ask(script, query, NOW), expect, "history `{script}`, question `{query}`");
}

#[test]
fn workki() {
    let w = World::new(load("examples/workki/policy.toml"));
    let news = "newsletter user.contact.email,user.name.first -> crm";
    // promise W4: the newsletter only on explicit opt-in; unsubscribing stops it.
    check(&w, "", news, "deny no_consent");
    check(&w, "give newsletter @2026-01-05", news, "allow consent_given");
    check(&w, "give newsletter @2026-01-05; withdraw newsletter @2026-03-01", news, "deny consent_withdrawn");
    assert_eq!(
        w.explain("give newsletter @2026-01-05; withdraw newsletter @2026-03-01", news, NOW),
        "consent_withdrawn: consent to `newsletter` was withdrawn at 2026-03-01T00:00:00Z; processing before then stays lawful, processing after it needs new consent"
    );
    // Offers to customers run until the person unsubscribes.
    check(&w, "", "service_offers user.contact.email -> crm", "allow legitimate_interests");
    check(&w, "withdraw service_offers", "service_offers user.contact.email -> crm", "deny consent_withdrawn");
    // promise W8: AI sharing needs a separate, explicit opt-in.
    let ai = "ai_assistant user.content.messages -> azure_ai";
    check(&w, "", ai, "deny no_consent");
    check(&w, "give newsletter; give cookies", ai, "deny no_consent");
    check(&w, "give ai_sharing", ai, "allow consent_given");
    check(&w, "give ai_sharing @2026-01-01; withdraw ai_sharing @2026-02-01", ai, "deny consent_withdrawn");
    // promise W5: data goes only to the recipients listed for the activity.
    check(&w, "give ai_sharing", "ai_assistant user.content.messages -> crm", "deny recipient_not_allowed");
    // The account runs on the contract whatever the person says about marketing.
    check(&w, "object-dm; withdraw newsletter", "account user.contact.email -> crm", "allow contract");
    // promise W7.
    check(&w, "underage 13", "account user.contact.email", "deny under_age");
    assert_eq!(w.index.minimum_age("FI", None), Some(13));
}

#[test]
fn okitoki() {
    let w = World::new(load("examples/okitoki/policy.toml"));
    let ads = "targeted_advertising user.behavior.ad_tracking -> ad_network";
    // promise T1: advertising cookies run until the person opts out; a GPC signal is an opt-out.
    check(&w, "", ads, "allow legitimate_interests");
    check(&w, "gpc", ads, "deny gpc_opt_out");
    check(&w, "gpc", "targeted_advertising user.behavior.ad_tracking", "deny gpc_opt_out");
    check(&w, "withdraw targeted_ads", ads, "deny consent_withdrawn");
    check(&w, "optout ad_network", ads, "deny partner_opt_out");
    // The signal is about sale, sharing and ads: the service itself goes on.
    check(&w, "gpc", "provide_service user.contact.personal_info", "allow contract");
    // promise T6: promotional email can be opted out of; service email cannot.
    check(&w, "", "promotional_communications user.contact.personal_info", "allow legitimate_interests");
    check(
        &w,
        "withdraw promotional_email",
        "promotional_communications user.contact.personal_info",
        "deny consent_withdrawn",
    );
    check(
        &w,
        "withdraw promotional_email; object-dm",
        "service_communications user.contact.personal_info",
        "allow contract",
    );
    // promise T2: objection to legitimate-interest processing; withdrawal affects the future only.
    check(&w, "object research_development", "research_development user.telemetry.service_usage", "deny objected");
    check(
        &w,
        "give newsletter @2026-01-01; withdraw newsletter @2026-04-01",
        "newsletter user.contact.personal_info",
        "deny consent_withdrawn",
    );
    // promise T9.
    check(&w, "underage 16", "provide_service user.contact.personal_info", "deny under_age");
}

#[test]
fn workpex() {
    let w = World::new(load("examples/workpex/policy.toml"));
    let resellers = "reseller_sharing user.name,user.contact.email -> resellers";
    // promise P5: a person can opt out of each partner.
    check(&w, "", resellers, "allow legitimate_interests");
    check(&w, "optout resellers", resellers, "deny partner_opt_out");
    check(&w, "optout resellers @2026-01-01; optin resellers @2026-02-01", resellers, "allow legitimate_interests");
    // promise P4: unsubscribing stops marketing; service and payment notices continue.
    check(
        &w,
        "withdraw product_updates",
        "product_updates user.contact.email -> marketing_providers",
        "deny consent_withdrawn",
    );
    check(&w, "withdraw product_updates; object-dm", "service_notices user.contact.email", "allow contract");
    // promise P2: a card is kept for future use only with consent.
    check(&w, "", "stored_card -> payment_processors", "deny no_consent");
    check(&w, "give stored_card", "stored_card -> payment_processors", "allow consent_given");
    // promise P8.
    check(&w, "underage 16", "account user.name", "deny under_age");
    assert_eq!(w.index.minimum_age("DE", None), Some(16));
}

#[test]
fn workoptima() {
    let w = World::new(load("examples/workoptima/policy.toml"));
    // promise O6: marketing email has an opt-out; service announcements do not.
    check(&w, "", "marketing user.contact.email", "allow legitimate_interests");
    check(&w, "withdraw marketing", "marketing user.contact.email", "deny consent_withdrawn");
    check(&w, "withdraw marketing", "service_announcements", "allow contract");
    // promise O3: for the platform we act on the customer's instructions.
    check(&w, "object-dm", "platform -> sub_contractors", "allow controller_instructions");
    // promise O8.
    check(&w, "underage 18", "service_account", "deny under_age");
}

// promise K4: when the partner purpose changes in a new policy version, consents to the old one
// no longer count, and the partners must ask again.
#[test]
fn okki_partner_purpose_changed() {
    let v1 = load("examples/okki/policy.toml");
    let w1 = World::new(v1.clone());
    let partners = "account user.account.log_on -> partners";
    check(&w1, "", partners, "deny no_consent");
    check(&w1, "give partner_sharing @2026-01-01", partners, "allow contract");
    check(&w1, "give partner_sharing @2026-01-01", "account user.account.log_on -> advisers", "allow contract");
    let records = w1.records("give partner_sharing @2026-01-01");

    let mut v2 = v1;
    v2.policy.version = "2026-06-01".to_owned();
    let p = v2.consent_purposes.iter_mut().find(|p| p.id == "partner_sharing").unwrap();
    p.description.push_str(" Partners may also use it to train their models.");
    let index2 = PolicyIndex::compile(&v2);
    let state = SubjectState::from_records(&index2, &records);
    let w2 = World { policy: v2.clone(), index: index2 };
    let q = w2.query(partners);
    let d = decide(&w2.index, &state, &q, ts(NOW));
    assert!(matches!(d, Decision::Deny(Denial::ConsentOutdated { .. })), "{d:?}");
    let version = v2.policy.version.as_str();
    assert_eq!(
        d.message(&w2.index, &q),
        "consent to `partner_sharing` was given at 2026-01-01T00:00:00Z under policy version `2025-01-16` for an earlier definition of the purpose; the purpose or its recipients have changed, so it must be asked for again"
    );
    // Asked again under the new version, it counts.
    let again = w2.records("give partner_sharing @2026-06-01");
    let state = SubjectState::from_records(&w2.index, records.iter().chain(&again));
    assert_eq!(decide(&w2.index, &state, &q, ts("2026-06-02")), Decision::Allow(covenant_engine::Basis::Contract));
    let p = w2.index.purpose("partner_sharing").unwrap();
    let view = state.consent(p).unwrap();
    assert!(view.current);
    assert_eq!(&*w2.index.version_label(view.policy_version), version);
    // A purpose whose definition did not change keeps its consents across versions.
    let kept = w1.records("give product_improvement @2026-01-01");
    let state = SubjectState::from_records(&w2.index, &kept);
    let q = w2.query("product_improvement user.device.auto_collected");
    assert_eq!(decide(&w2.index, &state, &q, ts(NOW)).code(), "consent_given");
    // promise K10.
    check(&w2, "underage 18", "account", "deny under_age");
}
