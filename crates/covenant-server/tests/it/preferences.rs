//! Channel preferences (transactional channels cannot be opted out of) and per-partner opt-outs.

use reqwest::StatusCode;
use serde_json::json;

use super::{Db, spawn_app, spawn_app_on};

#[tokio::test]
async fn transactional_channels_cannot_be_opted_out_of() {
    let app = spawn_app().await;
    let s = app.register(&app.acme, "ada@example.com").await;
    let path = format!("/v1/subjects/{s}/channels");
    let head = app.head("acme").await;
    // promises O6, T6: service messages continue.
    for channel in ["transactional_email", "service_notifications", "teammate_invitation"] {
        let res = app.post(&app.acme, &path, json!({"channel": channel, "subscribed": false})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text);
        assert_eq!(res.code(), "transactional_channel");
        assert_eq!(res.field(), Some("channel"));
        assert!(res.json["message"].as_str().unwrap().contains(&format!("`{channel}`")), "{}", res.text);
    }
    assert_eq!(app.head("acme").await, head);

    // Marketing can be opted out of (promise T6), and the decision follows at once.
    let d = app.decide(&app.acme, &s, "promotional_communications").await;
    assert_eq!(d.json["decision"], "allow", "{}", d.text);
    let res = app.post(&app.acme, &path, json!({"channel": "promotional_email", "subscribed": false})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json["purpose"], "promotional_email");
    assert_eq!(res.json["record"]["status"], "withdrawn");
    let d = app.decide(&app.acme, &s, "promotional_communications").await;
    assert_eq!(d.json["decision"], "deny", "{}", d.text);
    assert_eq!(d.json["reason"]["code"], "consent_withdrawn");
    // And back in.
    let res = app.post(&app.acme, &path, json!({"channel": "promotional_email", "subscribed": true})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(app.decide(&app.acme, &s, "promotional_communications").await.json["decision"], "allow");

    let res = app.post(&app.acme, &path, json!({"channel": "carrier_pigeon", "subscribed": false})).await;
    assert_eq!(res.code(), "unknown_channel");
    app.finish().await;
}

#[tokio::test]
async fn a_person_can_opt_out_of_each_partner() {
    // promise P5: Workpex lets people opt out of its reselling partners.
    let app = spawn_app_on(Db::sqlite().await, "workpex").await;
    let s = app.register(&app.acme, "ada@example.com").await;
    let share = json!({"subject": {"id": s}, "activity": "reseller_sharing", "categories": ["user.contact.email"], "recipient": "resellers"});
    let d = app.post(&app.acme, "/v1/decisions", share.clone()).await;
    assert_eq!(d.json["decision"], "allow", "{}", d.text);
    let res = app
        .post(&app.acme, &format!("/v1/subjects/{s}/partners"), json!({"recipient": "resellers", "opted_out": true}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json["purpose"], "recipient:resellers");
    assert_eq!(res.json["status"], "withdrawn");
    let ledger = app.get(&app.acme, &format!("/v1/subjects/{s}/consents")).await;
    assert_eq!(ledger.json["current"][0]["purpose"], "recipient:resellers", "{}", ledger.text);
    assert_eq!(ledger.json["current"][0]["status"], "withdrawn");
    let d = app.post(&app.acme, "/v1/decisions", share).await;
    assert_eq!(d.json["decision"], "deny", "{}", d.text);
    assert_eq!(d.json["reason"]["code"], "partner_opt_out");
    app.finish().await;
}
