//! Downloadable answers to access and export requests (promises W6, P6).
//!
//! When a fulfiller renders the answer as files ([`crate::fulfil::Document`]: the dataset
//! fulfiller renders the readable HTML report, the JSON document and the CSV archive with
//! covenant-dsr's `export` module), the worker keeps them with the request, in the same
//! transaction that completes it, each encrypted with ChaCha20-Poly1305 under the server's
//! sealing key and bound to the request and its format ([`context`]), for [`ANSWER_TTL`]. An
//! `answer.expire` job, due when the answer expires, deletes the files; until it has run, an
//! expired answer is refused all the same.
//!
//! The person gets a link in the answer email:
//! `GET /v1/public/requests/{id}/answer?token=…&format=html|json|csv`. The token is 32 random
//! bytes (base64url), good for this request's answer and nothing else. It is minted when the
//! email is sent (so it is never in the job queue) and kept only as a keyed hash with a random
//! salt ([`crate::secrets::RequestKeys::hash_token`]), like the one-time codes: a copy of the
//! database gives no link away. Operators download the same files through
//! `GET /v1/requests/{id}/answer`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use covenant_core::RequestId;
use covenant_store::{AnswerFile, AnswerToken, NewAnswer};
use jiff::{SignedDuration, Timestamp};

use crate::fulfil::{Document, Format};
use crate::secrets::{self, RequestKeys, SealError};

/// How long an answer can be downloaded, from the request's completion; then it is deleted.
pub const ANSWER_TTL: SignedDuration = SignedDuration::from_hours(7 * 24);

/// The longest token a link carries (a minted one is 43 characters).
pub const MAX_TOKEN: usize = 64;

/// What an answer's file is sealed to: its request and format, so that no file can stand in for
/// another.
pub fn context(id: RequestId, format: Format) -> Vec<u8> {
    format!("request-answer:{id}:{}", format.as_str()).into_bytes()
}

/// The answer to keep: every document, encrypted.
pub fn seal(
    keys: &RequestKeys,
    id: RequestId,
    documents: &[Document],
    expires_at: Timestamp,
) -> Result<NewAnswer, SealError> {
    let mut files = Vec::with_capacity(documents.len());
    for d in documents {
        let (nonce, ciphertext) = keys.seal(&context(id, d.format), &d.bytes)?;
        files.push(AnswerFile {
            format: d.format.as_str().to_owned(),
            content_type: d.format.content_type().to_owned(),
            size: d.bytes.len() as u64,
            nonce,
            ciphertext,
        });
    }
    Ok(NewAnswer { expires_at, files })
}

/// A new download token, and what the store keeps of it.
pub fn mint(keys: &RequestKeys) -> Result<(String, AnswerToken), SealError> {
    let token = URL_SAFE_NO_PAD.encode(secrets::random::<32>()?);
    let salt = secrets::random::<16>()?;
    let hash = keys.hash_token(&salt, &token);
    Ok((token, AnswerToken { salt, hash }))
}

/// Whether `token` is the one whose hash is kept, compared in time independent of where they
/// differ.
pub fn matches(keys: &RequestKeys, kept: &AnswerToken, token: &str) -> bool {
    if token.is_empty() || token.len() > MAX_TOKEN {
        return false;
    }
    let h = keys.hash_token(&kept.salt, token);
    h.iter().zip(&kept.hash).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The download link of one format.
pub fn link(public_url: &str, id: RequestId, token: &str, format: Format) -> String {
    format!("{public_url}/v1/public/requests/{id}/answer?token={token}&format={}", format.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_match_only_themselves() {
        let keys = RequestKeys::new(&[1; 32]);
        let (token, kept) = mint(&keys).unwrap();
        assert_eq!(token.len(), 43);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
        assert!(matches(&keys, &kept, &token));
        let (other, _) = mint(&keys).unwrap();
        assert_ne!(token, other);
        assert!(!matches(&keys, &kept, &other));
        assert!(!matches(&keys, &kept, ""));
        assert!(!matches(&keys, &kept, &format!("{token}x")));
        assert!(!matches(&RequestKeys::new(&[2; 32]), &kept, &token));
    }

    #[test]
    fn sealed_files_open_only_for_their_request_and_format() {
        let keys = RequestKeys::new(&[1; 32]);
        let id = RequestId::from_uuid(uuid::Uuid::now_v7());
        let docs = [Document { system: "datasets".into(), format: Format::Html, bytes: b"<p>Ada</p>".to_vec() }];
        let a = seal(&keys, id, &docs, Timestamp::now()).unwrap();
        let f = &a.files[0];
        assert_eq!((f.format.as_str(), f.content_type.as_str(), f.size), ("html", "text/html; charset=utf-8", 10));
        assert_ne!(f.ciphertext, b"<p>Ada</p>");
        assert_eq!(keys.open(&context(id, Format::Html), &f.nonce, &f.ciphertext).unwrap(), b"<p>Ada</p>");
        assert!(keys.open(&context(id, Format::Json), &f.nonce, &f.ciphertext).is_err());
        let other = RequestId::from_uuid(uuid::Uuid::now_v7());
        assert!(keys.open(&context(other, Format::Html), &f.nonce, &f.ciphertext).is_err());
    }

    #[test]
    fn links_name_the_request_token_and_format() {
        let id = RequestId::parse("0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6e").unwrap();
        assert_eq!(
            link("https://privacy.example.com", id, "abc_-1", Format::Csv),
            "https://privacy.example.com/v1/public/requests/0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6e/answer?token=abc_-1&format=csv"
        );
    }
}
