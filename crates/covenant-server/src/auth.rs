//! API keys, roles and the per-route role table.
//!
//! A key is `cov_<tenant>_<secret>`, the secret 32 random bytes in base62 (43 characters). It is
//! shown once, when it is created; the store keeps only its SHA-256.
//!
//! Why SHA-256 and not argon2: argon2 is deliberately slow so that a stolen table of *human*
//! passwords, which have little entropy, cannot be brute-forced. An API key has 256 bits of
//! entropy, so a fast hash is already beyond brute force, and keys are checked on every request,
//! where a memory-hard hash would cost milliseconds and megabytes each time and make a cheap
//! denial of service. Human passwords, when Covenant has them, stay with argon2.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use covenant_core::TenantId;
use sha2::{Digest, Sha256};

/// What a key may do, within its one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including reading and verifying the audit log.
    Admin,
    /// People who run the service: subjects, events, consents, decisions; not the audit log.
    Operator,
    /// Read-only: the consent ledger (as evidence) and the audit log.
    Auditor,
    /// The tenant's own software: registers subjects, records consents, asks for decisions.
    Application,
}

impl Role {
    pub const ALL: &'static [Role] = &[Role::Admin, Role::Operator, Role::Auditor, Role::Application];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::Application => "application",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; expected one of: `admin`, `operator`, `auditor`, `application`")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL.iter().copied().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

use Role::{Admin, Application, Auditor, Operator};

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
];

/// The roles allowed on a route, if it is in the table.
pub fn allowed(method: &str, route: &str) -> Option<&'static [Role]> {
    ROLE_TABLE.iter().find(|(m, r, _)| *m == method && *r == route).map(|(_, _, roles)| *roles)
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters needed for 32 bytes: ceil(256 / log2(62)).
const SECRET_LEN: usize = 43;

/// A newly minted key: the secret, to show once, and its hash, to store.
#[derive(Clone)]
pub struct NewKey {
    pub key: String,
    pub hash: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey").field("hash", &self.hash).finish_non_exhaustive()
    }
}

/// Mints a key for a tenant from 32 bytes of operating-system randomness.
pub fn mint(tenant: &TenantId) -> Result<NewKey, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let key = format!("cov_{tenant}_{}", base62(&bytes));
    let hash = hash_key(&key);
    Ok(NewKey { key, hash })
}

/// The hash the store keeps: SHA-256 of the whole key, lowercase hex.
pub fn hash_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Big-endian base62 of a 32-byte number, left-padded to a fixed length.
fn base62(bytes: &[u8; 32]) -> String {
    let mut n: Vec<u8> = bytes.to_vec();
    let mut digits = Vec::with_capacity(SECRET_LEN);
    while n.iter().any(|&b| b != 0) {
        let mut rem: u32 = 0;
        for b in n.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 62) as u8;
            rem = cur % 62;
        }
        digits.push(BASE62[rem as usize]);
    }
    while digits.len() < SECRET_LEN {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// The tenant a key names, if it is shaped like a key at all. Shape only: the hash decides.
pub fn key_tenant(key: &str) -> Option<TenantId> {
    let rest = key.strip_prefix("cov_")?;
    let (tenant, secret) = rest.split_once('_')?;
    let ok = secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return None;
    }
    TenantId::parse(tenant).ok()
}

/// A caller, once its key is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub role: Role,
    /// A short, non-secret label for the audit log: `apikey:<first 12 hex of the hash>`.
    pub label: String,
}

impl Caller {
    pub fn from_hash(tenant: TenantId, role: Role, hash: &str) -> Caller {
        Caller { tenant, role, label: format!("apikey:{}", &hash[..hash.len().min(12)]) }
    }
}

/// Key hash → caller, so that the hot path does not ask the database. Entries live for `ttl`,
/// after which the store is asked again (so a key revoked elsewhere stops working within `ttl`).
/// Unknown keys are not cached: a flood of random keys cannot grow the map.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    map: RwLock<HashMap<String, (Caller, Instant)>>,
}

impl KeyCache {
    /// At most this many keys are kept; past it the cache is cleared and refilled on demand.
    const MAX: usize = 100_000;

    pub fn new(ttl: Duration) -> KeyCache {
        KeyCache { ttl, map: RwLock::new(HashMap::new()) }
    }

    pub fn get(&self, hash: &str) -> Option<Caller> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        let (caller, at) = map.get(hash)?;
        (at.elapsed() < self.ttl).then(|| caller.clone())
    }

    pub fn put(&self, hash: String, caller: Caller) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(hash, (caller, Instant::now()));
    }

    pub fn forget(&self, hash: &str) {
        self.map.write().unwrap_or_else(|p| p.into_inner()).remove(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("acme-eu").unwrap()
    }

    #[test]
    fn keys_have_the_documented_shape_and_are_unique() {
        let a = mint(&tenant()).unwrap();
        let b = mint(&tenant()).unwrap();
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with("cov_acme-eu_"), "{}", a.key);
        assert_eq!(a.key.len(), "cov_acme-eu_".len() + SECRET_LEN);
        assert_eq!(key_tenant(&a.key), Some(tenant()));
        assert_eq!(a.hash, hash_key(&a.key));
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn base62_is_fixed_width_and_exact() {
        assert_eq!(base62(&[0; 32]), "0".repeat(SECRET_LEN));
        let mut one = [0u8; 32];
        one[31] = 61;
        assert!(base62(&one).ends_with("0z"));
        one[31] = 62;
        assert!(base62(&one).ends_with("10"));
        assert_eq!(base62(&[0xff; 32]).len(), SECRET_LEN);
    }

    #[test]
    fn malformed_keys_name_no_tenant() {
        for bad in [
            "",
            "cov_",
            "cov_acme",
            "cov_acme_short",
            "key_acme_",
            "cov_Acme_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ] {
            assert_eq!(key_tenant(bad), None, "{bad}");
        }
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(hash_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn roles_parse_and_the_table_is_well_formed() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        assert!("root".parse::<Role>().is_err());
        for (m, route, roles) in ROLE_TABLE {
            assert!(["GET", "POST"].contains(m));
            assert!(route.starts_with("/v1/"));
            assert!(roles.contains(&Admin), "admin may do everything: {m} {route}");
        }
        assert_eq!(allowed("GET", "/v1/audit/verify"), Some(&[Admin, Auditor][..]));
        assert_eq!(allowed("DELETE", "/v1/subjects/{id}"), None);
    }

    #[test]
    fn the_cache_expires_entries() {
        let cache = KeyCache::new(Duration::from_millis(0));
        cache.put("h".into(), Caller::from_hash(tenant(), Role::Admin, "h"));
        assert_eq!(cache.get("h"), None);
        let cache = KeyCache::new(Duration::from_secs(60));
        cache.put("h".into(), Caller::from_hash(tenant(), Role::Admin, "h"));
        assert_eq!(cache.get("h").map(|c| c.role), Some(Role::Admin));
        cache.forget("h");
        assert_eq!(cache.get("h"), None);
    }
}
