//! Roles: every route in the role table answers 403 to the roles it does not list, and the
//! tenant always comes from the key.

use covenant_server::auth::ROLE_TABLE;
use covenant_store::Role;
use reqwest::StatusCode;
use serde_json::json;

use super::spawn_app;

#[tokio::test]
async fn each_role_reaches_exactly_the_routes_the_table_gives_it() {
    let app = spawn_app().await;
    let subject = app.register(&app.acme, "ada@example.com").await;
    for role in Role::ALL {
        let key = app.key("acme", *role).await;
        for (method, route, roles) in ROLE_TABLE {
            let path = route.replace("{id}", &subject);
            let req = match *method {
                "GET" => app.client.get(app.url(&path)),
                _ => app.client.post(app.url(&path)).json(&json!({})),
            };
            let res = app.send(req.bearer_auth(&key)).await;
            if roles.contains(role) {
                assert!(
                    res.status != StatusCode::FORBIDDEN && res.status != StatusCode::UNAUTHORIZED,
                    "{role} {method} {route}: {}",
                    res.text
                );
            } else {
                assert_eq!(res.status, StatusCode::FORBIDDEN, "{role} {method} {route}: {}", res.text);
                assert_eq!(res.code(), "forbidden");
                assert!(res.json["message"].as_str().unwrap().contains(role.as_str()), "{}", res.text);
            }
        }
    }
    app.finish().await;
}

#[tokio::test]
async fn an_auditor_verifies_but_cannot_write() {
    let app = spawn_app().await;
    let auditor = app.key("acme", Role::Auditor).await;
    let v = app.get(&auditor, "/v1/audit/verify").await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.json["tenant"], "acme");
    let head = app.head("acme").await;
    let res = app
        .post(
            &auditor,
            "/v1/subjects",
            json!({"type": "user", "identities": [{"kind": "email", "value": "a@example.com"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.head("acme").await, head);
    let application = app.key("acme", Role::Application).await;
    assert_eq!(app.get(&application, "/v1/audit/verify").await.status, StatusCode::FORBIDDEN);
    app.finish().await;
}
