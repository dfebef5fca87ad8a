//! Unsubscribe links (promise W4). `GET` shows a small confirmation page and changes nothing
//! (mail scanners open links); `POST` with `List-Unsubscribe=One-Click` unsubscribes at once
//! (RFC 8058 one-click, sent by mail clients, or by the page's button). No API key: the signed
//! token is the authority, and names the tenant, the subject and what to stop.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use covenant_core::audit::AuditDraft;
use covenant_core::ledger::{CollectionMethod, ConsentStatus};
use covenant_engine::ledger::{Action, RecordMeta, record};
use covenant_store::{Store as _, StoreError};
use jiff::Timestamp;
use serde_json::json;

use crate::api::Unsubscribed;
use crate::convert::store_failure;
use crate::error::{ClientError, ErrorBody, Failure};
use crate::routes::record_id;
use crate::state::{AppState, Shared};
use crate::token::{Target, TokenError, Unsubscribe};

/// Why an unsubscribe failed.
#[derive(Debug, thiserror::Error)]
pub enum UnsubscribeError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the body must be `List-Unsubscribe=One-Click` (RFC 8058)")]
    NotOneClick,
    #[error("this link is for something the policy no longer has")]
    Gone,
    #[error("store")]
    Store(#[from] StoreError),
}

impl UnsubscribeError {
    pub fn failure(self) -> Failure {
        let msg = self.to_string();
        match self {
            UnsubscribeError::Token(TokenError::Invalid) => {
                ClientError::new(StatusCode::BAD_REQUEST, "invalid_token", msg).field("token").into()
            }
            UnsubscribeError::Token(TokenError::Expired) => {
                ClientError::new(StatusCode::GONE, "token_expired", msg).field("token").into()
            }
            UnsubscribeError::NotOneClick => ClientError::bad_request("not_one_click", msg).into(),
            UnsubscribeError::Gone => ClientError::new(StatusCode::GONE, "purpose_gone", msg).into(),
            UnsubscribeError::Store(e) => store_failure(e),
        }
    }
}

crate::route_error!(UnsubscribeError);

/// The consent purpose a token stops, and its name for people.
fn purpose_of<'a>(state: &'a AppState, u: &'a Unsubscribe) -> Result<(&'a str, &'a str), UnsubscribeError> {
    let policy = &state.policy.policy;
    let purpose = match &u.target {
        Target::Purpose(p) => p.as_str(),
        Target::Channel(c) => policy
            .channels
            .iter()
            .find(|ch| &ch.id == c && !ch.transactional)
            .and_then(|ch| ch.consent_purpose.as_deref())
            .ok_or(UnsubscribeError::Gone)?,
    };
    let p = policy.consent_purpose(purpose).ok_or(UnsubscribeError::Gone)?;
    Ok((purpose, p.name.as_str()))
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
<title>{t}</title><style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;\
color:#1d2330}}button{{font:inherit;padding:.5rem 1.25rem;border:0;border-radius:.3rem;background:#1a56db;color:#fff;\
cursor:pointer}}</style></head><body><h1>{t}</h1>{body}</body></html>\n",
        t = esc(title)
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// A person's page for a failed link.
fn error_page(e: UnsubscribeError) -> Response {
    match e {
        UnsubscribeError::Store(StoreError::NotFound { .. }) | UnsubscribeError::Gone => {
            page(StatusCode::NOT_FOUND, "Nothing to unsubscribe from", "<p>This link no longer applies to anyone.</p>")
        }
        UnsubscribeError::Token(TokenError::Expired) => page(
            StatusCode::GONE,
            "This link has expired",
            "<p>Use the link in a more recent email, or your account settings.</p>",
        ),
        UnsubscribeError::Token(TokenError::Invalid) | UnsubscribeError::NotOneClick => {
            page(StatusCode::BAD_REQUEST, "This link is not valid", "<p>Check that the whole link was copied.</p>")
        }
        other => other.into_response(),
    }
}

/// The confirmation page of an unsubscribe link. Changes nothing.
#[utoipa::path(
    get, path = "/v1/unsubscribe/{token}", tag = "unsubscribe",
    params(("token" = String, Path, description = "the signed token from the link")),
    responses(
        (status = 200, description = "an HTML page with a button that unsubscribes", content_type = "text/html"),
        (status = 400, description = "forged or damaged link (HTML page)", content_type = "text/html"),
        (status = 410, description = "expired link (HTML page)", content_type = "text/html"),
    )
)]
pub async fn confirm_page(State(state): State<Shared>, Path(token): Path<String>) -> Response {
    let result = async {
        let u = state.signer.verify(&token, Timestamp::now())?;
        let (_, name) = purpose_of(&state, &u)?;
        state.store.get_subject(&u.tenant, u.subject).await?;
        Ok::<_, UnsubscribeError>(name.to_owned())
    }
    .await;
    match result {
        Ok(name) => page(
            StatusCode::OK,
            "Unsubscribe",
            &format!(
                "<p>Stop receiving <strong>{}</strong> from {}?</p>\
                 <form method=post><input type=hidden name=List-Unsubscribe value=One-Click>\
                 <button type=submit>Unsubscribe</button></form>",
                esc(&name),
                esc(state.policy.policy.controller_name())
            ),
        ),
        Err(e) => error_page(e),
    }
}

/// Whether a POST body says `List-Unsubscribe=One-Click`, as `application/x-www-form-urlencoded`
/// or `multipart/form-data` (RFC 8058 §3.1).
fn is_one_click(headers: &HeaderMap, body: &[u8]) -> bool {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => {
            form_urlencoded::parse(body).any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click")
        }
        "multipart/form-data" => {
            let Some(boundary) = ct.split(';').skip(1).find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                k.eq_ignore_ascii_case("boundary").then(|| v.trim_matches('"').to_owned())
            }) else {
                return false;
            };
            let Ok(text) = std::str::from_utf8(body) else { return false };
            text.split(&format!("--{boundary}")).any(|part| {
                let Some((head, value)) = part.split_once("\r\n\r\n") else { return false };
                head.to_ascii_lowercase().contains("name=\"list-unsubscribe\"") && value.trim_end() == "One-Click"
            })
        }
        _ => false,
    }
}

/// RFC 8058 one-click unsubscribe: withdraws the consent behind the link at once.
#[utoipa::path(
    post, path = "/v1/unsubscribe/{token}", tag = "unsubscribe",
    params(("token" = String, Path, description = "the signed token from the link")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`List-Unsubscribe=One-Click`"),
    responses(
        (status = 200, description = "unsubscribed (JSON, or an HTML page for a browser)", body = Unsubscribed),
        (status = 400, description = "forged or damaged token, or not a one-click body", body = ErrorBody),
        (status = 404, description = "the subject no longer exists", body = ErrorBody),
        (status = 410, description = "expired token", body = ErrorBody),
    )
)]
pub async fn one_click(
    State(state): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let browser = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    match unsubscribe(&state, &token, &headers, &body).await {
        Ok(_) if browser => page(
            StatusCode::OK,
            "You are unsubscribed",
            "<p>You will not receive these messages any more. Service messages about your account continue.</p>",
        ),
        Ok(done) => axum::Json(done).into_response(),
        Err(e) if browser => error_page(e),
        Err(e) => e.into_response(),
    }
}

async fn unsubscribe(
    state: &Shared,
    token: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Unsubscribed, UnsubscribeError> {
    let u = state.signer.verify(token, Timestamp::now())?;
    if !is_one_click(headers, body) {
        return Err(UnsubscribeError::NotOneClick);
    }
    let (purpose, _) = purpose_of(state, &u)?;
    let tc = state.tenant_cache(&u.tenant);
    let current = state.subject_state(&tc, u.subject).await?;
    let already = state
        .index()
        .purpose(purpose)
        .and_then(|p| current.consent(p))
        .is_some_and(|v| matches!(v.status, ConsentStatus::Withdrawn | ConsentStatus::Refused));
    if already {
        return Ok(Unsubscribed { unsubscribed: true, purpose: purpose.to_owned(), recorded: false });
    }
    let meta = RecordMeta {
        id: record_id(),
        tenant: u.tenant.clone(),
        subject: u.subject,
        notice_hash: state.policy.notice_hash.clone(),
        method: CollectionMethod::OneClickUnsubscribe,
        at: Timestamp::now(),
        actor: "subject".to_owned(),
        evidence: Some("one-click unsubscribe link (RFC 8058)".to_owned()),
    };
    let r = record(state.index(), Action::Withdraw(purpose), meta).map_err(|_| UnsubscribeError::Gone)?;
    let detail = json!({"record": r.id.to_string(), "purpose": purpose, "method": "one_click_unsubscribe"});
    let audit = AuditDraft::new("subject", "consent.withdraw", &format!("subject:{}", u.subject), detail.to_string());
    let w = state.store.append_consent(r, audit).await?;
    state.applied(&w.value);
    Ok(Unsubscribed { unsubscribed: true, purpose: purpose.to_owned(), recorded: true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(ct: &str, body: &str, expect: bool) {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        assert_eq!(is_one_click(&h, body.as_bytes()), expect, "{ct} {body:?}");
    }

    #[test]
    fn one_click_bodies() {
        check("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", true);
        check("application/x-www-form-urlencoded; charset=utf-8", "a=b&List-Unsubscribe=One-Click", true);
        check("application/x-www-form-urlencoded", "List-Unsubscribe=one-click", false);
        check("application/x-www-form-urlencoded", "", false);
        check("text/plain", "List-Unsubscribe=One-Click", false);
        let multipart =
            "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        check("multipart/form-data; boundary=XyZ", multipart, true);
        check("multipart/form-data; boundary=\"XyZ\"", multipart, true);
        check("multipart/form-data; boundary=Other", multipart, false);
        check("multipart/form-data", multipart, false);
    }
}
