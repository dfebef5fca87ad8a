//! API key secrets: generated here, shown once, stored only as a SHA-256 hash.
//!
//! A secret is `cvk_` followed by 40 lowercase hex digits (160 random bits). A key is looked up
//! by the hash of the whole secret; the first 12 characters (`cvk_` and 8 hex digits) are kept as
//! a display prefix.

use sha2::{Digest, Sha256};

use crate::StoreError;

/// The start of every secret.
pub const SECRET_PREFIX: &str = "cvk_";
const PREFIX_LEN: usize = SECRET_PREFIX.len() + 8;
const RANDOM_BYTES: usize = 20;

/// SHA-256 of a presented secret, the value to look keys up by.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The display prefix of a secret (`cvk_3f9a1c2b`).
pub fn display_prefix(secret: &str) -> &str {
    secret.get(..PREFIX_LEN).unwrap_or(secret)
}

/// A fresh random secret.
pub(crate) fn generate_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(StoreError::Randomness)?;
    let mut s = String::with_capacity(SECRET_PREFIX.len() + 2 * RANDOM_BYTES);
    s.push_str(SECRET_PREFIX);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_well_formed() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 44);
        assert!(a.starts_with("cvk_") && a[4..].bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(display_prefix(&a), &a[..12]);
        assert_eq!(display_prefix("short"), "short");
    }

    #[test]
    fn hash_is_sha256_of_the_secret() {
        let h = hash_secret("abc");
        assert_eq!(h[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
