//! Registration, the minimum age, look-ups as audited reads, identities and lifecycle events.

use covenant_store::Store as _;
use reqwest::StatusCode;
use serde_json::json;

use super::spawn_app;

#[tokio::test]
async fn registration_under_the_minimum_age_is_refused_and_stores_nothing() {
    // promise T9: Oki-Toki serves no one under 16.
    let app = spawn_app().await;
    let head = app.head("acme").await;
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let fifteen = today.saturating_sub(jiff::Span::new().years(15)).to_string();
    let sixteen = today.saturating_sub(jiff::Span::new().years(16)).to_string();
    let body = |email: &str, birth: &str| {
        json!({"type": "user", "identities": [{"kind": "email", "value": email}], "birth_date": birth,
               "jurisdiction": {"country": "US", "subdivision": "CA"}})
    };
    let res = app.post(&app.acme, "/v1/subjects", body("kid@example.com", &fifteen)).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
    assert_eq!(res.code(), "under_minimum_age");
    assert_eq!(res.field(), Some("birth_date"));
    assert!(res.json["message"].as_str().unwrap().contains("16"), "{}", res.text);
    assert_eq!(app.head("acme").await, head, "nothing written");
    let lookup = app
        .post(&app.acme, "/v1/subjects/lookup", json!({"identity": {"kind": "email", "value": "kid@example.com"}}))
        .await;
    assert_eq!(lookup.status, StatusCode::NOT_FOUND);

    let res = app.post(&app.acme, "/v1/subjects", body("teen@example.com", &sixteen)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json["jurisdiction"], "US-CA");
    assert_eq!(res.json["birth_date"], sixteen);
    app.finish().await;
}

#[tokio::test]
async fn a_subject_found_under_age_is_flagged_denied_and_scheduled_for_deletion() {
    let app = spawn_app().await;
    let s = app.register(&app.acme, "kid@example.com").await;
    assert_eq!(app.consent(&app.acme, &s, "newsletter", "give").await.status, StatusCode::CREATED);
    assert_eq!(app.decide(&app.acme, &s, "newsletter").await.json["decision"], "allow");
    let res = app.post(&app.acme, &format!("/v1/subjects/{s}/events"), json!({"kind": "underage_found"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json["event"]["kind"], "underage_found");
    let flag = &res.json["flags"][0];
    assert_eq!(flag["kind"], "under_age");
    assert!(flag["due"].is_string(), "the deletion is scheduled: {}", res.text);
    assert!(flag["detail"].as_str().unwrap().contains("16"));
    let d = app.decide(&app.acme, &s, "newsletter").await;
    assert_eq!(d.json["decision"], "deny", "{}", d.text);
    assert_eq!(d.json["reason"]["code"], "under_age");
    let got = app.get(&app.acme, &format!("/v1/subjects/{s}")).await;
    assert_eq!(got.json["flags"][0]["kind"], "under_age", "{}", got.text);
    app.finish().await;
}

#[tokio::test]
async fn lifecycle_events_deactivation_is_not_deletion_and_death_keeps_instructions() {
    let app = spawn_app().await;
    let s = app.register(&app.acme, "ada@example.com").await;
    let events = format!("/v1/subjects/{s}/events");
    for kind in
        ["signup", "last_interaction", "deactivated", "account_closed", "contract_terminated", "subscription_expired"]
    {
        let res = app.post(&app.acme, &events, json!({"kind": kind, "at": "2025-03-01T10:00:00Z"})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{kind}: {}", res.text);
        assert_eq!(res.json["event"]["at"], "2025-03-01T10:00:00Z");
    }
    // promise T5: the subject is still there after deactivation.
    let got = app.get(&app.acme, &format!("/v1/subjects/{s}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json["events"].as_array().unwrap().len(), 6);
    // promise W6: the person's instructions are kept with the event.
    let res =
        app.post(&app.acme, &events, json!({"kind": "deceased", "detail": "delete everything but the invoices"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json["event"]["detail"], "delete everything but the invoices");
    let d = app.decide(&app.acme, &s, "newsletter").await;
    assert_eq!(d.json["reason"]["code"], "deceased", "{}", d.text);
    app.finish().await;
}

#[tokio::test]
async fn look_ups_are_audited_reads_and_identities_are_normalised() {
    let app = spawn_app().await;
    let s = app.register(&app.acme, "Ada@Example.com").await;
    let res = app
        .post(
            &app.acme,
            &format!("/v1/subjects/{s}/identities"),
            json!({"identity": {"kind": "phone", "value": "+358 40 123 4567"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let head = app.head("acme").await;
    let by_phone = app
        .post(&app.acme, "/v1/subjects/lookup", json!({"identity": {"kind": "phone", "value": "00358401234567"}}))
        .await;
    assert_eq!(by_phone.status, StatusCode::OK, "{}", by_phone.text);
    assert_eq!(by_phone.json["id"], s);
    assert_eq!(
        by_phone.json["identities"],
        json!([{"kind": "email", "value": "ada@example.com"}, {"kind": "phone", "value": "+358401234567"}])
    );
    assert_eq!(app.head("acme").await, head + 1, "the read was audited");
    let entries = app.store.audit_entries(&super::tenant("acme"), head, 10).await.unwrap();
    assert_eq!(entries[0].action, "subject.read");
    assert_eq!(entries[0].target, format!("subject:{s}"));
    assert!(!entries[0].detail.contains("358"), "no personal data in the audit log: {}", entries[0].detail);
    app.finish().await;
}

#[tokio::test]
async fn each_read_of_personal_data_leaves_exactly_one_audit_entry() {
    let app = spawn_app().await;
    let acme = super::tenant("acme");
    let s = app.register(&app.acme, "ada@example.com").await;
    assert_eq!(app.consent(&app.acme, &s, "newsletter", "give").await.status, StatusCode::CREATED);
    let reads: [(&str, String, Option<serde_json::Value>); 4] = [
        ("subject.read", format!("/v1/subjects/{s}"), None),
        (
            "subject.read",
            "/v1/subjects/lookup".to_owned(),
            Some(json!({"identity": {"kind": "email", "value": "ada@example.com"}})),
        ),
        ("consent.read", format!("/v1/subjects/{s}/consents"), None),
        (
            "unsubscribe_link.create",
            format!("/v1/subjects/{s}/unsubscribe-links"),
            Some(json!({"purpose": "newsletter"})),
        ),
    ];
    for (action, path, body) in reads {
        let head = app.head("acme").await;
        let res = match body {
            Some(b) => app.post(&app.acme, &path, b).await,
            None => app.get(&app.acme, &path).await,
        };
        assert!(res.status.is_success(), "{path}: {}", res.text);
        let entries = app.store.audit_entries(&acme, head, 10).await.unwrap();
        assert_eq!(entries.len(), 1, "{path}");
        assert_eq!((entries[0].action.as_str(), entries[0].target.clone()), (action, format!("subject:{s}")));
    }
    let history = app.store.audit_entries(&acme, 0, 100).await.unwrap();
    assert_eq!(history.iter().rev().nth(1).map(|e| e.detail.as_str()), Some("{\"records\":1}"));
    app.finish().await;
}
