//! A tenant's key never reaches another tenant's data: by id, by identity, through decisions,
//! through writes. Another tenant's subject is answered exactly like one that does not exist.

use reqwest::StatusCode;
use serde_json::json;

use super::spawn_app;

#[tokio::test]
async fn another_tenants_subject_is_simply_not_found() {
    let app = spawn_app().await;
    let ada = app.register(&app.acme, "ada@example.com").await;
    assert_eq!(app.consent(&app.acme, &ada, "newsletter", "give").await.status, StatusCode::CREATED);
    let missing = "0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6e";
    let globex_head = app.head("globex").await;
    let acme_head = app.head("acme").await;

    let by_id = app.get(&app.globex, &format!("/v1/subjects/{ada}")).await;
    let unknown = app.get(&app.globex, &format!("/v1/subjects/{missing}")).await;
    assert_eq!(by_id.status, StatusCode::NOT_FOUND);
    // Indistinguishable from a subject that does not exist.
    assert_eq!(by_id.json, unknown.json);
    assert_eq!(by_id.json, json!({"code": "subject_not_found", "message": "no such subject", "field": null}));

    let lookup = app
        .post(&app.globex, "/v1/subjects/lookup", json!({"identity": {"kind": "email", "value": "ada@example.com"}}))
        .await;
    assert_eq!(lookup.status, StatusCode::NOT_FOUND);
    assert_eq!(lookup.json, by_id.json);

    let ledger = app.get(&app.globex, &format!("/v1/subjects/{ada}/consents")).await;
    assert_eq!(ledger.status, StatusCode::NOT_FOUND);
    assert_eq!(ledger.json, by_id.json);

    for subject in [json!({"id": ada}), json!({"identity": {"kind": "email", "value": "ada@example.com"}})] {
        let d = app.post(&app.globex, "/v1/decisions", json!({"subject": subject, "activity": "newsletter"})).await;
        assert_eq!(d.status, StatusCode::NOT_FOUND, "{}", d.text);
        assert_eq!(d.json, by_id.json);
    }
    let batch = app
        .post(
            &app.globex,
            "/v1/decisions/batch",
            json!({"decisions": [{"subject": {"id": ada}, "activity": "newsletter"}]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::NOT_FOUND, "{}", batch.text);
    assert_eq!(batch.json["field"], "decisions[0]");

    // Writes too.
    let give = app.consent(&app.globex, &ada, "newsletter", "withdraw").await;
    assert_eq!(give.status, StatusCode::NOT_FOUND);
    let event = app.post(&app.globex, &format!("/v1/subjects/{ada}/events"), json!({"kind": "deactivated"})).await;
    assert_eq!(event.status, StatusCode::NOT_FOUND);
    let identity = app
        .post(
            &app.globex,
            &format!("/v1/subjects/{ada}/identities"),
            json!({"identity": {"kind": "phone", "value": "+358401234567"}}),
        )
        .await;
    assert_eq!(identity.status, StatusCode::NOT_FOUND);
    let link =
        app.post(&app.globex, &format!("/v1/subjects/{ada}/unsubscribe-links"), json!({"purpose": "newsletter"})).await;
    assert_eq!(link.status, StatusCode::NOT_FOUND);

    // Nothing was written anywhere, and acme's subject still has its consent.
    assert_eq!(app.head("globex").await, globex_head);
    assert_eq!(app.head("acme").await, acme_head);
    let d = app.decide(&app.acme, &ada, "newsletter").await;
    assert_eq!(d.json["decision"], "allow", "{}", d.text);

    // The same identity may belong to a different person in another tenant.
    let globex_ada = app.register(&app.globex, "ada@example.com").await;
    assert_ne!(globex_ada, ada);
    let d = app.decide(&app.globex, &globex_ada, "newsletter").await;
    assert_eq!(d.json["reason"]["code"], "no_consent", "{}", d.text);
    app.finish().await;
}
