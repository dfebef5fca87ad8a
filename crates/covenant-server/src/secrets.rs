//! Keys derived from the server secret, for data-subject requests: one to hash one-time codes
//! (HMAC-SHA256, so a copy of the database alone does not give codes away), one to hash the
//! tokens of answer download links the same way, one to encrypt proof of identity, answers and
//! customers' webhook secrets (ChaCha20-Poly1305, each bound to what it belongs to). Each is
//! HMAC-SHA256 of the server secret over its own label, so no key is ever used for two things.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The request keys.
#[derive(Clone)]
pub struct RequestKeys {
    /// Hashes one-time codes.
    pub codes: [u8; 32],
    /// Hashes the tokens of answer download links.
    tokens: [u8; 32],
    /// Encrypts proofs of identity and webhook secrets.
    seal: [u8; 32],
}

impl std::fmt::Debug for RequestKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestKeys(..)")
    }
}

/// Encryption or decryption failed: no randomness, or the data was altered or sealed under
/// another key.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("no randomness available: {0}")]
    Random(getrandom::Error),
    #[error("the encrypted data does not open with this server's key (altered, or sealed under another secret)")]
    Open,
}

fn derive(secret: &[u8], label: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl RequestKeys {
    pub fn new(secret: &[u8]) -> RequestKeys {
        RequestKeys {
            codes: derive(secret, b"covenant-request-codes-v1"),
            tokens: derive(secret, b"covenant-request-answer-tokens-v1"),
            seal: derive(secret, b"covenant-request-attachments-v1"),
        }
    }

    /// HMAC-SHA256 of a random salt and a download token, under the token key: what the store
    /// keeps instead of the token.
    pub fn hash_token(&self, salt: &[u8; 16], token: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.tokens).unwrap_or_else(|_| unreachable!());
        mac.update(b"covenant-answer-token-v1\0");
        mac.update(salt);
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.seal))
    }

    /// Encrypts `plain` under a fresh random nonce, bound to `context` (the request id, …).
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Result<([u8; 12], Vec<u8>), SealError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(SealError::Random)?;
        let payload = chacha20poly1305::aead::Payload { msg: plain, aad: context };
        let ct = self.cipher().encrypt(Nonce::from_slice(&nonce), payload).map_err(|_| SealError::Open)?;
        Ok((nonce, ct))
    }

    pub fn open(&self, context: &[u8], nonce: &[u8; 12], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let payload = chacha20poly1305::aead::Payload { msg: sealed, aad: context };
        self.cipher().decrypt(Nonce::from_slice(nonce), payload).map_err(|_| SealError::Open)
    }

    /// `nonce || ciphertext`, for values stored in one column.
    pub fn seal_value(&self, context: &[u8], plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let (nonce, ct) = self.seal(context, plain)?;
        Ok([nonce.as_slice(), &ct].concat())
    }

    pub fn open_value(&self, context: &[u8], value: &[u8]) -> Result<Vec<u8>, SealError> {
        if value.len() < 12 {
            return Err(SealError::Open);
        }
        let (nonce, ct) = value.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| SealError::Open)?;
        self.open(context, &nonce, ct)
    }
}

/// HMAC-SHA256 of a webhook body under the customer's secret, as lowercase hex: the value of the
/// `Covenant-Signature` header is `sha256=` followed by it.
pub fn sign_body(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a customer's webhook secret is sealed to: its tenant.
pub fn webhook_context(tenant: &covenant_core::TenantId) -> Vec<u8> {
    format!("customer-webhook:{tenant}").into_bytes()
}

/// A random six-digit code, uniformly drawn.
pub fn six_digits() -> Result<String, SealError> {
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(SealError::Random)?;
        let n = u32::from_le_bytes(b);
        // Reject the top of the range so that every code is equally likely.
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// `n` random bytes.
pub fn random<const N: usize>() -> Result<[u8; N], SealError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(SealError::Random)?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let k = RequestKeys::new(&[1; 32]);
        let v = k.seal_value(b"req-1", b"passport").unwrap();
        assert_eq!(k.open_value(b"req-1", &v).unwrap(), b"passport");
        assert!(k.open_value(b"req-2", &v).is_err());
        assert!(RequestKeys::new(&[2; 32]).open_value(b"req-1", &v).is_err());
        let mut bad = v.clone();
        bad[20] ^= 1;
        assert!(k.open_value(b"req-1", &bad).is_err());
        assert_ne!(k.codes, RequestKeys::new(&[2; 32]).codes);
    }

    #[test]
    fn token_hashes_depend_on_key_salt_and_token() {
        let (k1, k2) = (RequestKeys::new(&[1; 32]), RequestKeys::new(&[2; 32]));
        let h = k1.hash_token(&[1; 16], "abc");
        assert_eq!(h, k1.hash_token(&[1; 16], "abc"));
        assert_ne!(h, k2.hash_token(&[1; 16], "abc"));
        assert_ne!(h, k1.hash_token(&[2; 16], "abc"));
        assert_ne!(h, k1.hash_token(&[1; 16], "abd"));
        // Not the code hash of the same input: the two keys and labels differ.
        assert_ne!(h, covenant_store::hash_code(&k1.codes, &[1; 16], "abc"));
    }

    #[test]
    fn codes_have_six_digits() {
        for _ in 0..100 {
            let c = six_digits().unwrap();
            assert!(c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()), "{c}");
        }
    }

    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign_body(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
