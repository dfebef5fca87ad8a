//! Global Privacy Control: `Sec-GPC: 1` on an intake request is recorded as an opt-out of sale,
//! sharing and targeted advertising; the support resource says so.

use covenant_store::Store as _;
use reqwest::StatusCode;
use serde_json::json;

use super::spawn_app;

#[tokio::test]
async fn a_gpc_header_on_intake_is_recorded_as_an_opt_out() {
    let app = spawn_app().await;
    let body = json!({"type": "user", "identities": [{"kind": "email", "value": "ada@example.com"}]});
    let res = app
        .send(app.client.post(app.url("/v1/subjects")).bearer_auth(&app.acme).header("sec-gpc", "1").json(&body))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let ada = res.json["id"].as_str().unwrap().to_owned();

    let ledger = app.get(&app.acme, &format!("/v1/subjects/{ada}/consents")).await;
    let records = ledger.json["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{}", ledger.text);
    assert_eq!(records[0]["purpose"], "signal:gpc");
    assert_eq!(records[0]["status"], "refused");
    assert_eq!(records[0]["method"], "gpc_signal");
    assert!(records[0]["evidence"].as_str().unwrap().contains("Sec-GPC: 1"));

    // Targeted advertising (an opt-out purpose covered by GPC) is now denied.
    let d = app.decide(&app.acme, &ada, "targeted_advertising").await;
    assert_eq!(d.json["decision"], "deny", "{}", d.text);
    assert_eq!(d.json["reason"]["code"], "gpc_opt_out");

    // A second signal records nothing new: the opt-out is already in force.
    let head = app.head("acme").await;
    let res = app
        .send(
            app.client
                .post(app.url(&format!("/v1/subjects/{ada}/events")))
                .bearer_auth(&app.acme)
                .header("sec-gpc", "1")
                .json(&json!({"kind": "last_interaction"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(app.head("acme").await, head + 1, "only the event itself was written");
    app.finish().await;
}

#[tokio::test]
async fn only_the_exact_value_one_counts_and_any_one_among_repeats() {
    let app = spawn_app().await;
    let mut subjects = Vec::new();
    for (i, values) in [vec!["0"], vec!["true"], vec!["1"], vec!["0", "1"]].into_iter().enumerate() {
        let body = json!({"type": "user", "identities": [{"kind": "email", "value": format!("p{i}@example.com")}]});
        let mut req = app.client.post(app.url("/v1/subjects")).bearer_auth(&app.acme).json(&body);
        for v in &values {
            req = req.header("sec-gpc", *v);
        }
        let res = app.send(req).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        subjects.push((values, res.json["id"].as_str().unwrap().to_owned()));
    }
    for (values, id) in subjects {
        let ledger = app.get(&app.acme, &format!("/v1/subjects/{id}/consents")).await;
        let recorded = !ledger.json["records"].as_array().unwrap().is_empty();
        assert_eq!(recorded, values.contains(&"1"), "{values:?}");
    }
    app.finish().await;
}

#[tokio::test]
async fn the_gpc_support_resource_is_served() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(app.url("/.well-known/gpc.json"))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers.get("content-type").unwrap(), "application/json");
    assert_eq!(res.json, json!({"gpc": true, "lastUpdate": "2025-01-01"}));
    app.finish().await;
}

#[tokio::test]
async fn the_signal_is_written_in_the_same_transaction_as_the_request_that_carried_it() {
    let app = spawn_app().await;
    let acme = super::tenant("acme");
    let head = app.head("acme").await;
    let body = json!({"type": "user", "identities": [{"kind": "email", "value": "ada@example.com"}]});
    let res = app
        .send(app.client.post(app.url("/v1/subjects")).bearer_auth(&app.acme).header("sec-gpc", "1").json(&body))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let entries = app.store.audit_entries(&acme, head, 10).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["subject.register", "consent.gpc"]);
    let ada = res.json["id"].as_str().unwrap().to_owned();
    assert_eq!(entries[1].target, format!("subject:{ada}"));

    // An event finding a person under age, with a signal: the event, the flag and the signal.
    let kid = app.register(&app.acme, "kid@example.com").await;
    let head = app.head("acme").await;
    let res = app
        .send(
            app.client
                .post(app.url(&format!("/v1/subjects/{kid}/events")))
                .bearer_auth(&app.acme)
                .header("sec-gpc", "1")
                .json(&json!({"kind": "underage_found"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.json["flags"][0]["kind"], "under_age", "{}", res.text);
    let entries = app.store.audit_entries(&acme, head, 10).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["subject.event", "subject.flag.set", "consent.gpc"]);
    let d = app.decide(&app.acme, &kid, "targeted_advertising").await;
    assert_eq!(d.json["decision"], "deny", "{}", d.text);

    // A refused request records no signal either.
    let head = app.head("acme").await;
    let bob = app.register(&app.acme, "bob@example.com").await;
    let head_after_bob = app.head("acme").await;
    assert_eq!(head_after_bob, head + 1);
    for (path, body) in [
        (format!("/v1/subjects/{bob}/consents"), json!({"purpose": "no_such_purpose", "action": "give"})),
        (format!("/v1/subjects/{}/consents", uuid::Uuid::now_v7()), json!({"purpose": "newsletter", "action": "give"})),
        // Bob's GPC would ride along with the new identity, which is Ada's: both are refused.
        (format!("/v1/subjects/{bob}/identities"), json!({"identity": {"kind": "email", "value": "ada@example.com"}})),
    ] {
        let res =
            app.send(app.client.post(app.url(&path)).bearer_auth(&app.acme).header("sec-gpc", "1").json(&body)).await;
        assert!(res.status.is_client_error(), "{path}: {}", res.text);
    }
    assert_eq!(app.head("acme").await, head_after_bob, "nothing written");
    let ledger = app.get(&app.acme, &format!("/v1/subjects/{bob}/consents")).await;
    assert_eq!(ledger.json["records"], json!([]), "{}", ledger.text);
    app.finish().await;
}
