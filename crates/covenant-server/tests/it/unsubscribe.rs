//! Signed unsubscribe links (promise W4): a confirmation page, RFC 8058 one-click, forgeries refused.

use reqwest::StatusCode;
use serde_json::json;

use super::spawn_app;

#[tokio::test]
async fn one_click_unsubscribe_withdraws_the_consent() {
    let app = spawn_app().await;
    let s = app.register(&app.acme, "ada@example.com").await;
    assert_eq!(app.consent(&app.acme, &s, "newsletter", "give").await.status, StatusCode::CREATED);
    let link =
        app.post(&app.acme, &format!("/v1/subjects/{s}/unsubscribe-links"), json!({"purpose": "newsletter"})).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.text);
    let url = link.json["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&app.base));
    assert_eq!(link.json["list_unsubscribe"], format!("<{url}>"));
    assert_eq!(link.json["list_unsubscribe_post"], "List-Unsubscribe=One-Click");

    // Opening the link changes nothing (mail scanners open links).
    let head = app.head("acme").await;
    let page = app.send(app.client.get(&url)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Newsletter") && page.text.contains("One-Click"), "{}", page.text);
    assert!(!page.text.contains("ada@example.com"));
    assert_eq!(app.head("acme").await, head);
    assert_eq!(app.decide(&app.acme, &s, "newsletter").await.json["decision"], "allow");

    // The one-click POST, as a mail client sends it, with no key.
    let res = app
        .send(
            app.client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("List-Unsubscribe=One-Click"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.json, json!({"unsubscribed": true, "purpose": "newsletter", "recorded": true}));
    let d = app.decide(&app.acme, &s, "newsletter").await;
    assert_eq!(d.json["reason"]["code"], "consent_withdrawn", "{}", d.text);
    let ledger = app.get(&app.acme, &format!("/v1/subjects/{s}/consents")).await;
    let last = ledger.json["records"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["method"], "one_click_unsubscribe");
    assert_eq!(last["actor"], "subject");

    // Again: nothing new to record.
    let head = app.head("acme").await;
    let multipart = "--b1\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b1--\r\n";
    let res = app
        .send(app.client.post(&url).header("content-type", "multipart/form-data; boundary=b1").body(multipart))
        .await;
    assert_eq!(res.json["recorded"], false, "{}", res.text);
    assert_eq!(app.head("acme").await, head);
    app.finish().await;
}

#[tokio::test]
async fn forged_altered_and_malformed_links_are_refused() {
    let app = spawn_app().await;
    let ada = app.register(&app.acme, "ada@example.com").await;
    let eve = app.register(&app.acme, "eve@example.com").await;
    assert_eq!(app.consent(&app.acme, &ada, "newsletter", "give").await.status, StatusCode::CREATED);
    let link =
        app.post(&app.acme, &format!("/v1/subjects/{eve}/unsubscribe-links"), json!({"purpose": "newsletter"})).await;
    let token = link.json["token"].as_str().unwrap().to_owned();
    let (payload, tag) = token.split_once('.').unwrap();
    // Eve's link, rewritten to name Ada.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let text = String::from_utf8(b64.decode(payload).unwrap()).unwrap();
    let forged = format!("{}.{tag}", b64.encode(text.replace(&eve, &ada)));
    let head = app.head("acme").await;
    for bad in [forged.as_str(), "nonsense", &format!("{payload}.AAAA"), &format!("{token}x")] {
        let res = app
            .send(
                app.client
                    .post(app.url(&format!("/v1/unsubscribe/{bad}")))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("List-Unsubscribe=One-Click"),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.text);
        assert_eq!(res.code(), "invalid_token");
        let page = app.send(app.client.get(app.url(&format!("/v1/unsubscribe/{bad}")))).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.text.contains("not valid"));
    }
    // A valid token without the one-click body does nothing.
    let res = app.send(app.client.post(app.url(&format!("/v1/unsubscribe/{token}")))).await;
    assert_eq!(res.code(), "not_one_click", "{}", res.text);
    assert_eq!(app.head("acme").await, head);
    assert_eq!(app.decide(&app.acme, &ada, "newsletter").await.json["decision"], "allow");
    app.finish().await;
}

#[tokio::test]
async fn links_for_channels_and_refusals_when_minting() {
    let app = spawn_app().await;
    let s = app.register(&app.acme, "ada@example.com").await;
    let path = format!("/v1/subjects/{s}/unsubscribe-links");
    let res = app.post(&app.acme, &path, json!({"channel": "transactional_email"})).await;
    assert_eq!(res.code(), "transactional_channel", "{}", res.text);
    let res = app.post(&app.acme, &path, json!({"purpose": "newsletter", "channel": "newsletter"})).await;
    assert_eq!(res.code(), "invalid_target");
    let res = app.post(&app.acme, &path, json!({"purpose": "nope"})).await;
    assert_eq!(res.code(), "unknown_purpose");
    let link = app.post(&app.acme, &path, json!({"channel": "promotional_email", "valid_days": 30})).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.text);
    let url = link.json["url"].as_str().unwrap();
    let res = app
        .send(
            app.client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("List-Unsubscribe=One-Click"),
        )
        .await;
    assert_eq!(res.json["purpose"], "promotional_email", "{}", res.text);
    let d = app.decide(&app.acme, &s, "promotional_communications").await;
    assert_eq!(d.json["decision"], "deny", "{}", d.text);
    app.finish().await;
}
