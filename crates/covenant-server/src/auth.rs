//! API keys, roles and the per-route role table.
//!
//! A key is a random secret made by the store (`covenant_store::Store::create_api_key`), shown
//! once when it is created; the store keeps only its SHA-256. A request presents it as
//! `Authorization: Bearer <key>`; the key names its tenant, so the tenant always comes from the key.
//!
//! Why SHA-256 and not argon2: argon2 is deliberately slow so that a stolen table of *human*
//! passwords, which have little entropy, cannot be brute-forced. An API key has 256 bits of
//! entropy, so a fast hash is already beyond brute force, and keys are checked on every request,
//! where a memory-hard hash would cost milliseconds and megabytes each time and make a cheap
//! denial of service. Human passwords, when Covenant has them, stay with argon2.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use covenant_core::TenantId;
use covenant_store::Store as _;

use crate::error::{ClientError, Failure, Internal};
use crate::state::{AppState, Shared};

use Role::{Admin, Application, Auditor, Operator};
pub use covenant_store::Role;

/// Who may call which route: (method, route template, roles). A route missing here is refused
/// to everyone (fail closed); a test checks that every documented `/v1` route is listed.
pub const ROLE_TABLE: &[(&str, &str, &[Role])] = &[
    ("POST", "/v1/subjects", &[Admin, Operator, Application]),
    ("POST", "/v1/subjects/lookup", &[Admin, Operator, Application]),
    ("GET", "/v1/subjects/{id}", &[Admin, Operator, Application]),
    ("POST", "/v1/subjects/{id}/identities", &[Admin, Operator, Application]),
    ("POST", "/v1/subjects/{id}/events", &[Admin, Operator, Application]),
    ("POST", "/v1/subjects/{id}/consents", &[Admin, Operator, Application]),
    ("GET", "/v1/subjects/{id}/consents", &[Admin, Operator, Application, Auditor]),
    ("POST", "/v1/subjects/{id}/channels", &[Admin, Operator, Application]),
    ("POST", "/v1/subjects/{id}/partners", &[Admin, Operator, Application]),
    ("POST", "/v1/subjects/{id}/unsubscribe-links", &[Admin, Operator, Application]),
    ("POST", "/v1/decisions", &[Admin, Operator, Application]),
    ("POST", "/v1/decisions/batch", &[Admin, Operator, Application]),
    ("GET", "/v1/audit/verify", &[Admin, Auditor]),
    ("POST", "/v1/requests", &[Admin, Operator, Application]),
    ("GET", "/v1/requests", &[Admin, Operator, Auditor]),
    ("GET", "/v1/requests/{id}", &[Admin, Operator, Auditor, Application]),
    ("POST", "/v1/requests/{id}/code", &[Admin, Operator, Application]),
    ("POST", "/v1/requests/{id}/verify", &[Admin, Operator, Application]),
    ("POST", "/v1/requests/{id}/proof", &[Admin, Operator, Application]),
    ("GET", "/v1/requests/{id}/proof", &[Admin, Operator]),
    ("GET", "/v1/requests/{id}/answer", &[Admin, Operator]),
    ("POST", "/v1/requests/{id}/approve", &[Admin, Operator]),
    ("POST", "/v1/requests/{id}/reject", &[Admin, Operator]),
    ("POST", "/v1/requests/{id}/extend", &[Admin, Operator]),
    ("POST", "/v1/requests/{id}/withdraw", &[Admin, Operator, Application]),
    ("POST", "/v1/requests/{id}/controller-response", &[Admin, Operator]),
    ("POST", "/v1/customers", &[Admin]),
    ("GET", "/v1/customers", &[Admin, Operator, Auditor]),
    ("POST", "/v1/customers/{cid}/instructions", &[Admin, Operator, Application]),
    ("GET", "/v1/jobs", &[Admin, Operator, Auditor]),
];

/// The roles allowed on a route, if it is in the table.
pub fn allowed(method: &str, route: &str) -> Option<&'static [Role]> {
    ROLE_TABLE.iter().find(|(m, r, _)| *m == method && *r == route).map(|(_, _, roles)| *roles)
}

/// The hash the store looks keys up by: SHA-256 of the whole key.
pub fn hash_key(key: &str) -> [u8; 32] {
    covenant_store::hash_secret(key)
}

/// A caller, once its key is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub role: Role,
    /// A short, non-secret label for the audit log: `apikey:<the key's display prefix>`.
    pub label: String,
}

impl Caller {
    pub fn new(tenant: TenantId, role: Role, prefix: &str) -> Caller {
        Caller { tenant, role, label: format!("apikey:{prefix}") }
    }
}

/// Key hash → caller, so that the hot path does not ask the database. Entries live for `ttl`,
/// after which the store is asked again (so a key revoked by another process stops working
/// within `ttl` even unannounced; on PostgreSQL the revocation's notice drops it at once, see
/// [`crate::state`]). Unknown keys are not cached: a flood of random keys cannot grow the map.
///
/// A key looked up in the store while it is being revoked must not be cached after the
/// revocation dropped it: every drop moves a generation counter, and [`KeyCache::put`] caches
/// only if the generation is still the one read before the lookup.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    map: RwLock<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    map: HashMap<[u8; 32], (Caller, Instant)>,
    generation: u64,
}

impl KeyCache {
    /// At most this many keys are kept; past it the cache is cleared and refilled on demand.
    const MAX: usize = 100_000;

    pub fn new(ttl: Duration) -> KeyCache {
        KeyCache { ttl, map: RwLock::new(Keys::default()) }
    }

    pub fn get(&self, hash: &[u8; 32]) -> Option<Caller> {
        let keys = self.map.read().unwrap_or_else(|p| p.into_inner());
        let (caller, at) = keys.map.get(hash)?;
        (at.elapsed() < self.ttl).then(|| caller.clone())
    }

    /// The generation to pass to [`KeyCache::put`]: read it before looking the key up.
    pub fn generation(&self) -> u64 {
        self.map.read().unwrap_or_else(|p| p.into_inner()).generation
    }

    /// Caches a key looked up in the store, unless a key was dropped since `generation` was read
    /// (it may have been this one, revoked after the lookup). Returns whether it was cached.
    pub fn put(&self, hash: [u8; 32], caller: Caller, generation: u64) -> bool {
        let mut keys = self.map.write().unwrap_or_else(|p| p.into_inner());
        if keys.generation != generation {
            return false;
        }
        if keys.map.len() >= Self::MAX {
            keys.map.clear();
        }
        keys.map.insert(hash, (caller, Instant::now()));
        true
    }

    /// Drops a key (it was revoked).
    pub fn forget(&self, hash: &[u8; 32]) {
        let mut keys = self.map.write().unwrap_or_else(|p| p.into_inner());
        keys.map.remove(hash);
        keys.generation += 1;
    }

    /// Drops every key.
    pub fn clear(&self) {
        let mut keys = self.map.write().unwrap_or_else(|p| p.into_inner());
        keys.map.clear();
        keys.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::{Admin, Auditor};

    fn tenant() -> TenantId {
        TenantId::parse("acme-eu").unwrap()
    }

    #[test]
    fn the_table_is_well_formed() {
        for (m, route, roles) in ROLE_TABLE {
            assert!(["GET", "POST"].contains(m));
            assert!(route.starts_with("/v1/"));
            assert!(roles.contains(&Admin), "admin may do everything: {m} {route}");
            let n = ROLE_TABLE.iter().filter(|(m2, r2, _)| m2 == m && r2 == route).count();
            assert_eq!(n, 1, "{m} {route} is listed once");
        }
        assert_eq!(allowed("GET", "/v1/audit/verify"), Some(&[Admin, Auditor][..]));
        assert_eq!(allowed("DELETE", "/v1/subjects/{id}"), None);
    }

    #[test]
    fn the_cache_expires_entries() {
        let h = hash_key("k");
        let cache = KeyCache::new(Duration::from_millis(0));
        cache.put(h, Caller::new(tenant(), Role::Admin, "cvk_1"), cache.generation());
        assert_eq!(cache.get(&h), None);
        let cache = KeyCache::new(Duration::from_secs(60));
        cache.put(h, Caller::new(tenant(), Role::Admin, "cvk_1"), cache.generation());
        assert_eq!(cache.get(&h).map(|c| c.role), Some(Role::Admin));
        assert_eq!(cache.get(&hash_key("other")), None);
        cache.forget(&h);
        assert_eq!(cache.get(&h), None);
        cache.put(h, Caller::new(tenant(), Role::Admin, "cvk_1"), cache.generation());
        cache.clear();
        assert_eq!(cache.get(&h), None);
    }

    #[test]
    fn a_key_dropped_during_its_lookup_is_not_cached() {
        let h = hash_key("k");
        let cache = KeyCache::new(Duration::from_secs(60));
        let before = cache.generation();
        // The store said the key is active; meanwhile its revocation was announced.
        cache.forget(&h);
        assert!(!cache.put(h, Caller::new(tenant(), Role::Admin, "cvk_1"), before));
        assert_eq!(cache.get(&h), None);
        assert!(cache.put(h, Caller::new(tenant(), Role::Admin, "cvk_1"), cache.generation()));
        assert!(cache.get(&h).is_some());
    }
}

/// Why a request is refused before it reaches its handler.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing API key; send `Authorization: Bearer <key>`")]
    Missing,
    #[error("invalid API key")]
    Invalid,
    #[error("a key with role `{role}` may not call {method} {route}")]
    Forbidden { role: Role, method: String, route: String },
    #[error("looking up an API key")]
    Store(#[source] covenant_store::StoreError),
}

impl AuthError {
    pub fn failure(self) -> Failure {
        let msg = self.to_string();
        match self {
            AuthError::Missing => ClientError::new(StatusCode::UNAUTHORIZED, "missing_api_key", msg).into(),
            AuthError::Invalid => ClientError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", msg).into(),
            AuthError::Forbidden { .. } => ClientError::new(StatusCode::FORBIDDEN, "forbidden", msg).into(),
            AuthError::Store(_) => Internal::new(self).into(),
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let unauthorized = matches!(self, AuthError::Missing | AuthError::Invalid);
        let mut res = self.failure().into_response();
        if unauthorized {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// The key presented in `Authorization: Bearer <key>`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = v.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// Finds the caller of a key: the cache first (while it can be trusted), then the store.
pub async fn caller(state: &AppState, key: &str) -> Result<Caller, AuthError> {
    let hash = hash_key(key);
    let trusted = state.cache_trusted();
    if trusted && let Some(c) = state.keys.get(&hash) {
        return Ok(c);
    }
    let generation = state.keys.generation();
    let found = state.store.find_api_key_by_hash(&hash).await.map_err(AuthError::Store)?;
    let Some(k) = found else { return Err(AuthError::Invalid) };
    let c = Caller::new(k.tenant, k.role, &k.prefix);
    if trusted {
        state.keys.put(hash, c.clone(), generation);
    }
    Ok(c)
}

/// Middleware for every `/v1` route that needs a key: authenticates (401), checks the role
/// against [`ROLE_TABLE`] (403), and hands the [`Caller`] to the handler.
pub async fn authorize(State(state): State<Shared>, mut req: Request, next: Next) -> Result<Response, AuthError> {
    let method = req.method().as_str().to_owned();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_default();
    let roles = allowed(&method, &route);
    if roles.is_none() && ROLE_TABLE.iter().any(|(_, r, _)| *r == route) {
        // A method the route does not take: let the router answer 405; no handler runs.
        return Ok(next.run(req).await);
    }
    let key = bearer(req.headers()).ok_or(AuthError::Missing)?;
    let caller = caller(&state, key).await?;
    if !roles.is_some_and(|roles| roles.contains(&caller.role)) {
        return Err(AuthError::Forbidden { role: caller.role, method, route });
    }
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}
