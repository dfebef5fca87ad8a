//! The whole path: register, consent, decide, withdraw, decide again, read the ledger, verify the
//! audit chain, tamper with it behind the server's back, verify again.

use reqwest::StatusCode;
use serde_json::json;

use super::{Db, TestApp, spawn_app_on};

async fn end_to_end(app: &TestApp) {
    let key = &app.acme;
    let subject = app.register(key, "ada@example.com").await;

    let given = app.consent(key, &subject, "newsletter", "give").await;
    assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
    assert_eq!(given.json["status"], "given");
    assert_eq!(given.json["method"], "api");
    assert_eq!(given.json["policy_version"], "2025-01-01");
    assert_eq!(given.json["notice_hash"].as_str().unwrap().len(), 64);

    let d = app.decide(key, &subject, "newsletter").await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.json["decision"], "allow", "{}", d.text);
    assert_eq!(d.json["reason"]["code"], "consent_given");
    assert_eq!(d.json["reason"]["basis"], "consent");

    // Withdrawal is one call, and the very next decision sees it (GDPR Art. 7(3); promise T2).
    let withdrawn = app.consent(key, &subject, "newsletter", "withdraw").await;
    assert_eq!(withdrawn.status, StatusCode::CREATED, "{}", withdrawn.text);
    let d = app.decide(key, &subject, "newsletter").await;
    assert_eq!(d.json["decision"], "deny", "{}", d.text);
    assert_eq!(d.json["allowed"], false);
    assert_eq!(d.json["reason"]["code"], "consent_withdrawn");
    assert!(d.json["reason"]["message"].as_str().unwrap().contains("withdrawn"), "{}", d.text);
    assert_eq!(d.json["reason"]["basis"], serde_json::Value::Null);

    // The same by identity, however the address is typed.
    let by_identity = app
        .post(
            key,
            "/v1/decisions",
            json!({"subject": {"identity": {"kind": "email", "value": " ADA@example.com"}}, "activity": "newsletter"}),
        )
        .await;
    assert_eq!(by_identity.json["reason"]["code"], "consent_withdrawn", "{}", by_identity.text);

    // The ledger has both records, in order, and the current state is the withdrawal.
    let ledger = app.get(key, &format!("/v1/subjects/{subject}/consents")).await;
    assert_eq!(ledger.status, StatusCode::OK, "{}", ledger.text);
    let records = ledger.json["records"].as_array().unwrap();
    let statuses: Vec<&str> = records.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["given", "withdrawn"]);
    assert!(records.iter().all(|r| r["purpose"] == "newsletter"));
    let current = ledger.json["current"].as_array().unwrap();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["status"], "withdrawn");
    assert_eq!(current[0]["record"], records[1]["id"]);

    // The audit chain verifies...
    let v = app.get(key, "/v1/audit/verify").await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.json["intact"], true, "{}", v.text);
    let entries = v.json["entries"].as_u64().unwrap();
    // the tenant, its key, the registration, the two consents, the ledger read
    assert_eq!(entries, 6, "{}", v.text);
    assert_eq!(entries, app.head("acme").await);

    // ...until one byte of one entry is changed behind the server's back.
    app.db.tamper("UPDATE audit_entries SET detail = 'X' || substr(detail, 2) WHERE tenant = 'acme' AND seq = 5").await;
    let v = app.get(key, "/v1/audit/verify").await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.json["intact"], false, "{}", v.text);
    assert_eq!(v.json["first_bad_entry"], 5, "{}", v.text);
    assert_eq!(v.json["entries"], 4);
    assert!(v.json["message"].as_str().unwrap().contains("entry 5"), "{}", v.text);

    // Another tenant's chain is untouched.
    let other = app.get(&app.globex, "/v1/audit/verify").await;
    assert_eq!(other.json["intact"], true, "{}", other.text);
}

#[tokio::test]
async fn end_to_end_on_sqlite() {
    let app = spawn_app_on(Db::sqlite().await, "okitoki").await;
    end_to_end(&app).await;
    app.finish().await;
}

#[tokio::test]
async fn end_to_end_on_postgres() {
    let Some(db) = Db::postgres("end_to_end_on_postgres").await else { return };
    let app = spawn_app_on(db, "okitoki").await;
    end_to_end(&app).await;
    app.finish().await;
}
