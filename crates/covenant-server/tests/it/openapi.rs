//! The OpenAPI document lists every route, each route it lists is served, and the Swagger UI is
//! bundled (nothing is fetched from elsewhere).

use covenant_server::auth::ROLE_TABLE;
use reqwest::StatusCode;
use serde_json::Value;

use super::spawn_app;

/// Routes without a key.
const OPEN: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/.well-known/gpc.json"),
    ("get", "/v1/policy/notice"),
    ("get", "/v1/unsubscribe/{token}"),
    ("post", "/v1/unsubscribe/{token}"),
    ("get", "/v1/public/requests/{id}/answer"),
];

#[tokio::test]
async fn the_document_lists_every_route_and_every_listed_route_is_served() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(app.url("/openapi.json"))).await;
    assert_eq!(res.status, StatusCode::OK);
    let doc = res.json;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut listed: Vec<(String, String)> = Vec::new();
    for (path, item) in paths {
        for method in
            item.as_object().unwrap().keys().filter(|m| ["get", "post", "put", "delete"].contains(&m.as_str()))
        {
            listed.push((method.clone(), path.clone()));
        }
    }
    let mut expected: Vec<(String, String)> =
        ROLE_TABLE.iter().map(|(m, p, _)| (m.to_lowercase(), (*p).to_owned())).collect();
    expected.extend(OPEN.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())));
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);

    for (method, path) in &listed {
        let op = &paths[path][method];
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
        assert!(op["description"].is_string() || op["summary"].is_string(), "{method} {path} is undocumented");
        let needs_key = ROLE_TABLE.iter().any(|(m, p, _)| m.to_lowercase() == *method && p == path);
        assert_eq!(op["security"].is_array(), needs_key, "{method} {path}: security");
        // Served: the router knows the route (whatever the answer to an empty request).
        let concrete = path.replace("{id}", "0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6e").replace("{token}", "x.y");
        let req =
            if method == "get" { app.client.get(app.url(&concrete)) } else { app.client.post(app.url(&concrete)) };
        let r = app.send(req.bearer_auth(&app.acme)).await;
        assert_ne!(r.code(), "route_not_found", "{method} {path} is documented but not served");
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    // An answer is downloaded as one of three kinds of file.
    for path in ["/v1/public/requests/{id}/answer", "/v1/requests/{id}/answer"] {
        let content = &paths[path]["get"]["responses"]["200"]["content"];
        for ct in ["text/html", "application/json", "application/zip"] {
            assert!(content.get(ct).is_some(), "{path}: no {ct} in {content}");
        }
    }
    // Every schema a route refers to is defined, and errors have the one shape.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let error = &schemas["ErrorBody"];
    let props: Vec<&String> = error["properties"].as_object().unwrap().keys().collect();
    assert_eq!(props, ["code", "field", "message"]);
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "missing schema {name}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["api_key"]["scheme"], Value::from("bearer"));
    app.finish().await;
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(app.url("/docs/"))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text.contains("swagger-ui"), "{}", &res.text[..res.text.len().min(300)]);
    let init = app.send(app.client.get(app.url("/docs/swagger-initializer.js"))).await;
    assert_eq!(init.status, StatusCode::OK);
    assert!(init.text.contains("/openapi.json"));
    let bundle = app.send(app.client.get(app.url("/docs/swagger-ui-bundle.js"))).await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.text.len() > 100_000);
    app.finish().await;
}
