//! Every kind of bad input gets a 4xx with the JSON error body, and writes nothing: neither
//! tenant's audit head moves.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, spawn_app};

/// Who sends the request.
#[derive(Clone, Copy)]
enum Key {
    Acme,
    None,
    Wrong,
}

/// One case: method, path, body (raw text), content type, and the expected status, code and field.
struct Case {
    method: &'static str,
    path: String,
    key: Key,
    body: String,
    content_type: &'static str,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn case(
    method: &'static str,
    path: &str,
    body: Value,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        method,
        path: path.to_owned(),
        key: Key::Acme,
        body: body.to_string(),
        content_type: "application/json",
        status,
        code,
        field,
    }
}

async fn run(app: &TestApp, c: &Case) {
    let url = app.url(&c.path);
    let mut req = match c.method {
        "GET" => app.client.get(url),
        "PUT" => app.client.put(url),
        "DELETE" => app.client.delete(url),
        _ => app.client.post(url),
    };
    req = match c.key {
        Key::Acme => req.bearer_auth(&app.acme),
        Key::Wrong => req.bearer_auth("cvk_0000000000000000000000000000000000000000"),
        Key::None => req,
    };
    if c.method == "POST" {
        req = req.header("content-type", c.content_type).body(c.body.clone());
    }
    let res = app.send(req).await;
    let what = format!("{} {} {}", c.method, c.path, &c.body[..c.body.len().min(120)]);
    assert_eq!(res.status.as_u16(), c.status, "{what}: {}", res.text);
    assert!(
        res.headers.get("content-type").is_some_and(|v| v.to_str().unwrap().starts_with("application/json")),
        "{what}: not JSON"
    );
    assert_eq!(res.code(), c.code, "{what}: {}", res.text);
    assert_eq!(res.field(), c.field, "{what}: {}", res.text);
    let obj = res.json.as_object().unwrap();
    assert_eq!(obj.len(), 3, "{what}: exactly code, message, field: {}", res.text);
    let message = obj["message"].as_str().unwrap();
    assert!(!message.is_empty() && !message.ends_with('.'), "{what}: {message}");
    assert!(!message.contains("globex") && !message.contains("bob@example.com"), "{what}: leaks: {message}");
}

#[tokio::test]
async fn bad_input_is_refused_with_a_json_error_and_writes_nothing() {
    let app = spawn_app().await;
    let s = app.register(&app.acme, "ada@example.com").await;
    // Another tenant's subject, whose details must never appear in an answer.
    let bob = app.register(&app.globex, "bob@example.com").await;
    let consents = format!("/v1/subjects/{s}/consents");
    let user = |identities: Value| json!({"type": "user", "identities": identities});
    let email = |v: &str| json!([{"kind": "email", "value": v}]);
    let decide = |activity: &str, categories: Value| json!({"subject": {"id": s}, "activity": activity, "categories": categories});

    let mut cases = vec![
        // Malformed and misshapen bodies.
        Case {
            body: "{\"type\": \"user\",".into(),
            ..case("POST", "/v1/subjects", json!(null), 400, "malformed_json", None)
        },
        Case { body: "not json".into(), ..case("POST", "/v1/subjects", json!(null), 400, "malformed_json", None) },
        case("POST", "/v1/subjects", json!([1, 2]), 422, "invalid_body", None),
        Case {
            content_type: "text/plain",
            ..case("POST", "/v1/subjects", user(email("c@example.com")), 415, "unsupported_media_type", None)
        },
        case(
            "POST",
            "/v1/subjects",
            json!({"type": "user", "identities": [], "nickname": "x"}),
            422,
            "unknown_field",
            Some("nickname"),
        ),
        case(
            "POST",
            "/v1/subjects",
            json!({"type": "user", "identities": [{"kind": "email", "value": "c@example.com", "primary": true}]}),
            422,
            "unknown_field",
            Some("identities[0].primary"),
        ),
        case("POST", "/v1/subjects", json!({"identities": []}), 422, "missing_field", Some("type")),
        case("POST", "/v1/subjects", json!({"type": 7, "identities": []}), 422, "invalid_field", Some("type")),
        // Unknown names.
        case(
            "POST",
            "/v1/subjects",
            json!({"type": "robot", "identities": email("c@example.com")}),
            422,
            "unknown_subject_type",
            Some("type"),
        ),
        case(
            "POST",
            &consents,
            json!({"purpose": "newsleter", "action": "give"}),
            422,
            "unknown_purpose",
            Some("purpose"),
        ),
        case(
            "POST",
            &consents,
            json!({"purpose": "newsletter", "action": "maybe"}),
            422,
            "invalid_field",
            Some("action"),
        ),
        case("POST", "/v1/decisions", decide("mind_reading", json!([])), 422, "unknown_activity", Some("activity")),
        case(
            "POST",
            "/v1/decisions",
            decide("newsletter", json!(["User.Contact"])),
            422,
            "invalid_category",
            Some("categories[0]"),
        ),
        case(
            "POST",
            &format!("/v1/subjects/{s}/events"),
            json!({"kind": "abducted"}),
            422,
            "unknown_event",
            Some("kind"),
        ),
        case(
            "POST",
            &format!("/v1/subjects/{s}/partners"),
            json!({"recipient": "the_moon", "opted_out": true}),
            422,
            "unknown_recipient",
            Some("recipient"),
        ),
        case(
            "POST",
            &format!("/v1/subjects/{s}/partners"),
            json!({"recipient": "service_providers", "opted_out": true}),
            422,
            "no_opt_out",
            Some("recipient"),
        ),
        // Invalid values.
        case(
            "POST",
            "/v1/subjects",
            user(email("ada@@example.com")),
            422,
            "invalid_identity",
            Some("identities[0].value"),
        ),
        case(
            "POST",
            "/v1/subjects",
            user(json!([{"kind": "email", "value": "c@example.com"}, {"kind": "phone", "value": "0401234567"}])),
            422,
            "invalid_identity",
            Some("identities[1].value"),
        ),
        case(
            "POST",
            "/v1/subjects",
            user(json!([{"kind": "fax", "value": "1"}])),
            422,
            "invalid_identity",
            Some("identities[0].kind"),
        ),
        case("POST", "/v1/subjects", user(json!([])), 422, "missing_identity", Some("identities")),
        case(
            "POST",
            "/v1/subjects",
            json!({"type": "user", "identities": email("c@example.com"), "birth_date": "01/02/1990"}),
            422,
            "invalid_birth_date",
            Some("birth_date"),
        ),
        case(
            "POST",
            "/v1/subjects",
            json!({"type": "user", "identities": email("c@example.com"), "jurisdiction": {"country": "Finland"}}),
            422,
            "invalid_jurisdiction",
            Some("jurisdiction.country"),
        ),
        case(
            "POST",
            &consents,
            json!({"purpose": "newsletter", "action": "give", "notice_hash": "abc"}),
            422,
            "invalid_notice_hash",
            Some("notice_hash"),
        ),
        case(
            "POST",
            &format!("/v1/subjects/{s}/events"),
            json!({"kind": "signup", "at": "last tuesday"}),
            422,
            "invalid_time",
            Some("at"),
        ),
        case(
            "POST",
            "/v1/decisions",
            json!({"subject": {"id": s, "identity": {"kind": "email", "value": "ada@example.com"}}, "activity": "newsletter"}),
            422,
            "invalid_subject",
            Some("subject"),
        ),
        case(
            "POST",
            "/v1/decisions/batch",
            json!({"decisions": vec![decide("newsletter", json!([])); 101]}),
            422,
            "too_many_decisions",
            Some("decisions"),
        ),
        case(
            "POST",
            "/v1/decisions/batch",
            json!({"decisions": [decide("newsletter", json!([])), decide("nope", json!([]))]}),
            422,
            "unknown_activity",
            Some("decisions[1].activity"),
        ),
        // Unknown or foreign subjects.
        case(
            "POST",
            "/v1/subjects/not-a-uuid/consents",
            json!({"purpose": "newsletter", "action": "give"}),
            404,
            "subject_not_found",
            None,
        ),
        case(
            "POST",
            &format!("/v1/subjects/{bob}/consents"),
            json!({"purpose": "newsletter", "action": "give"}),
            404,
            "subject_not_found",
            None,
        ),
        case("GET", &format!("/v1/subjects/{bob}"), json!(null), 404, "subject_not_found", None),
        case(
            "POST",
            "/v1/subjects/lookup",
            json!({"identity": {"kind": "email", "value": "bob@example.com"}}),
            404,
            "subject_not_found",
            None,
        ),
        // Oversized.
        case(
            "POST",
            "/v1/subjects",
            json!({"type": "user", "identities": email("c@example.com"), "birth_date": "x".repeat(70 * 1024)}),
            413,
            "body_too_large",
            None,
        ),
        // Keys.
        Case {
            key: Key::None,
            ..case("POST", "/v1/subjects", user(email("c@example.com")), 401, "missing_api_key", None)
        },
        Case {
            key: Key::Wrong,
            ..case("POST", "/v1/subjects", user(email("c@example.com")), 401, "invalid_api_key", None)
        },
        Case { key: Key::Wrong, ..case("GET", "/v1/audit/verify", json!(null), 401, "invalid_api_key", None) },
        // Routes.
        case("GET", "/v1/nothing-here", json!(null), 404, "route_not_found", None),
        case("DELETE", &format!("/v1/subjects/{s}"), json!(null), 405, "method_not_allowed", None),
    ];
    // A registration already taken is a conflict (and writes nothing either).
    cases.push(case(
        "POST",
        "/v1/subjects",
        user(email("ADA@example.com")),
        409,
        "identity_taken",
        Some("identities[0]"),
    ));

    let heads = (app.head("acme").await, app.head("globex").await);
    for c in &cases {
        run(&app, c).await;
        assert_eq!(
            (app.head("acme").await, app.head("globex").await),
            heads,
            "{} {} wrote something",
            c.method,
            c.path
        );
    }
    // The decision cache is unchanged too.
    let d = app.decide(&app.acme, &s, "newsletter").await;
    assert_eq!(d.json["reason"]["code"], "no_consent", "{}", d.text);
    app.finish().await;
}

#[tokio::test]
async fn a_missing_key_is_asked_for_with_www_authenticate() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(app.url("/v1/audit/verify"))).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers.get("www-authenticate").unwrap(), "Bearer");
    let res = app.send(app.client.get(app.url("/v1/audit/verify")).header("authorization", "Basic abc")).await;
    assert_eq!(res.code(), "missing_api_key");
    app.finish().await;
}
