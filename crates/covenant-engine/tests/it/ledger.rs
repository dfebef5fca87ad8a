//! Building ledger records against the policy in force.

use covenant_core::ledger::{CollectionMethod, ConsentStatus};
use covenant_engine::ledger::{Action, record, refuse, withdraw};
use covenant_engine::{LedgerKey, purpose_hash};

use super::{World, fixture, meta, ts};

fn check(action: Action<'_>, expect: &str) {
    let w = World::new(fixture());
    let got = match record(&w.index, action, meta(1, ts("2026-01-01"))) {
        Ok(r) => format!("{} {} {}", r.purpose, r.status, r.method),
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(got, expect, "{action:?}");
}

#[test]
fn actions() {
    check(Action::Give("newsletter"), "newsletter given web_form");
    check(Action::Withdraw("newsletter"), "newsletter withdrawn web_form");
    check(Action::Refuse("ai"), "ai refused web_form");
    check(Action::Object("analytics"), "activity:analytics refused web_form");
    check(Action::Object("statistics"), "activity:statistics refused web_form");
    check(Action::Object("offers"), "activity:offers refused web_form");
    check(Action::LiftObjection("analytics"), "activity:analytics given web_form");
    check(Action::ObjectToDirectMarketing, "all:direct_marketing refused web_form");
    check(Action::LiftDirectMarketingObjection, "all:direct_marketing given web_form");
    check(Action::OptOutOfRecipient("ad_network"), "recipient:ad_network withdrawn web_form");
    check(Action::OptBackIntoRecipient("partners"), "recipient:partners given web_form");
    check(Action::Gpc, "signal:gpc refused gpc_signal");
}

#[test]
fn errors() {
    check(
        Action::Give("newsleter"),
        "error: unknown consent purpose `newsleter`; expected one of: `newsletter`, `offers`, `targeted_ads`, `ai`, `trial`, `partner_sharing`",
    );
    check(
        Action::Object("acount"),
        "error: unknown activity `acount`; expected one of: `account`, `analytics`, `newsletter`, `offers`, `ads`, `ai_help`, `bookkeeping`, `statistics`, `emergency`, `trial`, `customer_files`",
    );
    check(
        Action::Object("account"),
        "error: activity `account` rests on `contract`; an objection applies to processing on legitimate interests or a public task, and to direct marketing (GDPR Art. 21)",
    );
    check(
        Action::Object("trial"),
        "error: activity `trial` rests on `consent` and `contract`; an objection applies to processing on legitimate interests or a public task, and to direct marketing (GDPR Art. 21)",
    );
    check(
        Action::Object("customer_files"),
        "error: activity `customer_files` rests on no legal basis of ours; an objection applies to processing on legitimate interests or a public task, and to direct marketing (GDPR Art. 21)",
    );
    check(
        Action::OptOutOfRecipient("hosting"),
        "error: recipient `hosting` offers no opt-out; only recipients the policy marks `opt_out = true` do",
    );
    check(
        Action::OptOutOfRecipient("nobody"),
        "error: unknown recipient `nobody`; expected one of: `hosting`, `mailer`, `ad_network`, `ai_vendor`, `partners`, `tax_office`",
    );
}

// promise K4: a record carries the policy version and the purpose's current definition hash.
#[test]
fn records_carry_the_version_and_the_definition_hash() {
    let w = World::new(fixture());
    let r = withdraw(&w.index, "newsletter", meta(9, ts("2026-02-01"))).unwrap();
    let def = w.policy.consent_purposes.iter().find(|p| p.id == "newsletter").unwrap();
    assert_eq!(r.purpose_hash, purpose_hash(def));
    assert_eq!(r.policy_version, "2");
    assert_eq!(r.notice_hash, "ab".repeat(32));
    assert_eq!(r.status, ConsentStatus::Withdrawn);
    assert_eq!(r.at, ts("2026-02-01"));
    assert_eq!(LedgerKey::parse(&r.purpose), LedgerKey::Purpose("newsletter"));
    let r = refuse(&w.index, "ai", meta(10, ts("2026-02-01"))).unwrap();
    assert_eq!(r.method, CollectionMethod::WebForm);
    // Preference records get a stable hash of what they are about.
    let a = record(&w.index, Action::Gpc, meta(1, ts("2026-01-01"))).unwrap();
    let b = record(&w.index, Action::Gpc, meta(2, ts("2026-03-01"))).unwrap();
    assert_eq!(a.purpose_hash, b.purpose_hash);
    assert_eq!(a.purpose_hash.len(), 64);
}
