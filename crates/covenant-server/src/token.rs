//! Signed unsubscribe tokens (promise W4): the link in every marketing email carries one. It names
//! the tenant, the subject, what to unsubscribe from (a consent purpose or a channel) and an
//! expiry, and is signed with HMAC-SHA256 under a server secret, so it cannot be forged or
//! altered, and needs no lookup to be checked.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use covenant_core::{SubjectId, TenantId};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: a MAC made for anything else never verifies as a token.
const CONTEXT: &[u8] = b"covenant-unsubscribe-v1\0";

/// What an unsubscribe link stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A consent purpose (`newsletter`).
    Purpose(String),
    /// A message channel (`promotional_email`).
    Channel(String),
}

/// The content of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    pub tenant: TenantId,
    pub subject: SubjectId,
    pub target: Target,
    pub expires: Timestamp,
}

/// Why a token is refused. The message never says more than needed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this unsubscribe link is not valid")]
    Invalid,
    #[error("this unsubscribe link has expired")]
    Expired,
}

/// The server secret tokens are signed with.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

/// 32 bytes from the operating system's randomness: a new server secret.
pub fn random_secret() -> Result<[u8; 32], getrandom::Error> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)?;
    Ok(key)
}

impl Signer {
    /// A secret of at least 32 bytes.
    pub fn new(key: &[u8]) -> Option<Signer> {
        (key.len() >= 32).then(|| Signer { key: key.to_vec() })
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(CONTEXT);
        mac
    }

    pub fn sign(&self, u: &Unsubscribe) -> String {
        let (kind, id) = match &u.target {
            Target::Purpose(p) => ("p", p.as_str()),
            Target::Channel(c) => ("c", c.as_str()),
        };
        let payload = format!("{}|{}|{kind}|{id}|{}", u.tenant, u.subject, u.expires.as_second());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
    }

    /// Checks the signature first (in constant time), then the content, then the expiry.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Unsubscribe, TokenError> {
        if token.len() > 1024 {
            return Err(TokenError::Invalid);
        }
        let (payload_b64, tag_b64) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| TokenError::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag_b64).map_err(|_| TokenError::Invalid)?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| TokenError::Invalid)?;
        let text = String::from_utf8(payload).map_err(|_| TokenError::Invalid)?;
        let parts: Vec<&str> = text.split('|').collect();
        let [tenant, subject, kind, id, expires] = parts[..] else { return Err(TokenError::Invalid) };
        let target = match kind {
            "p" => Target::Purpose(id.to_owned()),
            "c" => Target::Channel(id.to_owned()),
            _ => return Err(TokenError::Invalid),
        };
        let expires =
            expires.parse::<i64>().ok().and_then(|s| Timestamp::from_second(s).ok()).ok_or(TokenError::Invalid)?;
        let u = Unsubscribe {
            tenant: TenantId::parse(tenant).map_err(|_| TokenError::Invalid)?,
            subject: SubjectId::parse(subject).map_err(|_| TokenError::Invalid)?,
            target,
            expires,
        };
        if now >= u.expires {
            return Err(TokenError::Expired);
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Unsubscribe {
        Unsubscribe {
            tenant: TenantId::parse("acme").unwrap(),
            subject: SubjectId::parse("0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6e").unwrap(),
            target: Target::Purpose("newsletter".into()),
            expires: Timestamp::from_second(2_000_000_000).unwrap(),
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_900_000_000).unwrap()
    }

    #[test]
    fn a_signed_token_verifies_to_what_was_signed() {
        let s = Signer::new(&[7; 32]).unwrap();
        let mut u = sample();
        assert_eq!(s.verify(&s.sign(&u), now()), Ok(u.clone()));
        u.target = Target::Channel("promotional_email".into());
        assert_eq!(s.verify(&s.sign(&u), now()), Ok(u));
    }

    #[test]
    fn forged_altered_or_expired_tokens_are_refused() {
        let s = Signer::new(&[7; 32]).unwrap();
        let other = Signer::new(&[8; 32]).unwrap();
        let token = s.sign(&sample());
        assert_eq!(other.verify(&token, now()), Err(TokenError::Invalid));
        // Another subject's payload with this token's tag.
        let mut u = sample();
        u.subject = SubjectId::parse("0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6f").unwrap();
        let forged = format!("{}.{}", s.sign(&u).split_once('.').unwrap().0, token.split_once('.').unwrap().1);
        assert_eq!(s.verify(&forged, now()), Err(TokenError::Invalid));
        for bad in ["", ".", "abc", "a.b", &format!("{token}x"), &token.replace('.', "")] {
            assert_eq!(s.verify(bad, now()), Err(TokenError::Invalid), "{bad}");
        }
        assert_eq!(s.verify(&token, Timestamp::from_second(2_000_000_000).unwrap()), Err(TokenError::Expired));
        assert!(Signer::new(&[1; 31]).is_none());
    }
}
