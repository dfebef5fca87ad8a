//! The JSON body extractor: like axum's `Json`, but every refusal is an [`ErrorBody`] naming the
//! field at fault, and messages never show a Rust type name.
//!
//! [`ErrorBody`]: crate::error::ErrorBody

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Failure, Internal};

/// A request body read as JSON into `T` (whose structs are `deny_unknown_fields`).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ClientError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON, sent with `content-type: application/json`",
            )
            .into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Failure::Client(too_large())
            } else if rejection.status().is_client_error() {
                Failure::Client(ClientError::bad_request("unreadable_body", "the request body could not be read"))
            } else {
                Failure::Internal(Internal::msg(format!("reading the request body: {}", rejection.body_text())))
            }
        })?;
        parse(&bytes).map(JsonBody).map_err(Failure::Client)
    }
}

/// The answer for a body over the limit.
pub fn too_large() -> ClientError {
    ClientError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the request body is larger than {} KiB", crate::BODY_LIMIT / 1024),
    )
}

fn is_json(value: Option<&header::HeaderValue>) -> bool {
    let Some(v) = value.and_then(|v| v.to_str().ok()) else { return false };
    let essence = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON document into `T`, turning serde's error into a client error with the path.
/// Every request body is a JSON object.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ClientError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Err(e) => ClientError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {}", humanise(&e.to_string())),
            ),
            Ok(_) => ClientError::unprocessable("invalid_body", "the body must be a JSON object"),
        });
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    let err = match result {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let path = err.path().to_string();
    let inner = err.into_inner();
    let field = if path == "." { None } else { Some(path) };
    let message = humanise(&inner.to_string());
    let code = match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof | serde_json::error::Category::Io => {
            return Err(ClientError::bad_request("malformed_json", format!("the body is not valid JSON: {message}")));
        }
        serde_json::error::Category::Data if message.starts_with("unknown field") => "unknown_field",
        serde_json::error::Category::Data if message.starts_with("missing field") => "missing_field",
        serde_json::error::Category::Data => "invalid_field",
    };
    let field = match (code, field) {
        // serde reports a missing field at its parent; name the field itself.
        ("missing_field", parent) => {
            let name = message.split('`').nth(1).unwrap_or_default();
            Some(match parent {
                Some(p) => format!("{p}.{name}"),
                None => name.to_owned(),
            })
        }
        (_, f) => f,
    };
    let mut e = ClientError::unprocessable(code, message);
    e.field = field;
    Err(e)
}

/// serde's messages, minus Rust type names and the position suffix.
fn humanise(message: &str) -> String {
    let mut m = match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    };
    for (rust, plain) in [
        ("expected struct ", "expected an object "),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected an object"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected a boolean", "expected `true` or `false`"),
    ] {
        if let Some(i) = m.find(rust) {
            // `expected struct Foo` -> `expected an object`: drop the type name after it.
            let after = &m[i + rust.len()..];
            let rest = if rust.ends_with(' ') { after.split_once(' ').map(|(_, r)| r).unwrap_or("") } else { after };
            m = format!(
                "{}{}{}",
                &m[..i],
                plain.trim_end(),
                if rest.is_empty() { String::new() } else { format!(" {rest}") }
            );
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        #[serde(default)]
        items: Vec<Inner>,
        age: Option<u8>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        kind: String,
    }

    fn check(input: &str, expect: &str) {
        let got = match parse::<Outer>(input.as_bytes()) {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("{} {} {:?} {}", e.status.as_u16(), e.code, e.field, e.message),
        };
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn refusals_name_the_field() {
        check(r#"{"name":"a"}"#, "ok");
        check(r#"{"name":"a""#, "400 malformed_json None the body is not valid JSON: EOF while parsing an object");
        check(
            r#"{"name":"a","nmae":1}"#,
            "422 unknown_field Some(\"nmae\") unknown field `nmae`, expected one of `name`, `items`, `age`",
        );
        check(
            r#"{"name":"a","items":[{"kind":"x","extra":1}]}"#,
            "422 unknown_field Some(\"items[0].extra\") unknown field `extra`, expected `kind`",
        );
        check(r#"{}"#, "422 missing_field Some(\"name\") missing field `name`");
        check(
            r#"{"name":"a","age":300}"#,
            "422 invalid_field Some(\"age\") invalid value: integer `300`, expected a whole number from 0 to 255",
        );
        check(r#"[1]"#, "422 invalid_body None the body must be a JSON object");
        check(r#""#, "400 malformed_json None the body is not valid JSON: EOF while parsing a value");
        check(r#"nope"#, "400 malformed_json None the body is not valid JSON: expected ident");
        check(r#"{"name":"a","items":{}}"#, "422 invalid_field Some(\"items\") invalid type: map, expected an array");
    }
}
