//! Identities by which a data subject is known: email addresses, phone numbers, account ids and
//! external ids. They are normalised when parsed ("parse, don't validate"), so that the same
//! person is found whatever way the address was typed.

use std::fmt;

use crate::wire_enum;

wire_enum! {
    /// What kind of identity.
    pub enum IdentityKind {
        Email => "email",
        Phone => "phone",
        AccountId => "account_id",
        External => "external",
    }
}

/// A normalised identity of a data subject.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    kind: IdentityKind,
    /// For `external` identities, the system that issued the id (`stripe`, `hubspot`).
    namespace: Option<String>,
    value: String,
}

/// Why a value is not a valid identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("unknown identity kind `{0}`; use `email`, `phone`, `account_id` or `external:<system>`")]
    Kind(String),
    #[error("`{0}` is not an email address; expected something like `ada@example.com`")]
    Email(String),
    #[error("`{0}` is not a phone number in international form; expected `+` and 8 to 15 digits, e.g. `+358401234567`")]
    Phone(String),
    #[error("an account id must be 1 to 128 visible characters without spaces; got `{0}`")]
    AccountId(String),
    #[error(
        "an external id needs a system name (`external:stripe`) of 1 to 32 lowercase letters, digits, `-` or `_`; got `{0}`"
    )]
    Namespace(String),
    #[error("`{0}` is not an identity key; expected `kind:value`, e.g. `email:ada@example.com`")]
    Key(String),
}

impl Identity {
    /// Parses and normalises an identity. `kind` is `email`, `phone`, `account_id` or
    /// `external:<system>`.
    pub fn parse(kind: &str, raw: &str) -> Result<Identity, IdentityError> {
        let (kind_name, namespace) = match kind.split_once(':') {
            Some((k, ns)) => (k, Some(ns)),
            None => (kind, None),
        };
        let kind_enum: IdentityKind = kind_name.parse().map_err(|_| IdentityError::Kind(kind.to_owned()))?;
        match (kind_enum, namespace) {
            (IdentityKind::Email, None) => {
                Ok(Identity { kind: kind_enum, namespace: None, value: normalise_email(raw)? })
            }
            (IdentityKind::Phone, None) => {
                Ok(Identity { kind: kind_enum, namespace: None, value: normalise_phone(raw)? })
            }
            (IdentityKind::AccountId, None) => {
                let v = raw.trim();
                if v.is_empty() || v.chars().count() > 128 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(IdentityError::AccountId(raw.to_owned()));
                }
                Ok(Identity { kind: kind_enum, namespace: None, value: v.to_owned() })
            }
            (IdentityKind::External, Some(ns)) => {
                let ns_ok = (1..=32).contains(&ns.len())
                    && ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
                if !ns_ok {
                    return Err(IdentityError::Namespace(ns.to_owned()));
                }
                let v = raw.trim();
                if v.is_empty() || v.chars().count() > 256 || v.chars().any(char::is_control) {
                    return Err(IdentityError::AccountId(raw.to_owned()));
                }
                Ok(Identity { kind: kind_enum, namespace: Some(ns.to_owned()), value: v.to_owned() })
            }
            (IdentityKind::External, None) => Err(IdentityError::Namespace(String::new())),
            _ => Err(IdentityError::Kind(kind.to_owned())),
        }
    }

    /// An email identity.
    pub fn email(raw: &str) -> Result<Identity, IdentityError> {
        Identity::parse("email", raw)
    }

    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    /// The full kind, with the namespace for external ids: `external:stripe`.
    pub fn kind_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}:{ns}", self.kind),
            None => self.kind.as_str().to_owned(),
        }
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// The unique key for storage and lookup: `email:ada@example.com`, `external:stripe:cus_1`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind_name(), self.value)
    }

    /// Reads a key written by [`Identity::key`].
    pub fn from_key(key: &str) -> Result<Identity, IdentityError> {
        let bad = || IdentityError::Key(key.to_owned());
        let (kind, rest) = key.split_once(':').ok_or_else(bad)?;
        if kind == "external" {
            let (ns, value) = rest.split_once(':').ok_or_else(bad)?;
            return Identity::parse(&format!("external:{ns}"), value);
        }
        Identity::parse(kind, rest)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Trims, lowercases and checks an email address. The whole address is lowercased: mailbox
/// providers treat local parts case-insensitively in practice, and a person must be found
/// however they typed it.
fn normalise_email(raw: &str) -> Result<String, IdentityError> {
    let bad = || IdentityError::Email(raw.to_owned());
    let s = raw.trim().to_lowercase();
    if s.len() > 254 {
        return Err(bad());
    }
    let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok { Ok(s) } else { Err(bad()) }
}

/// Strips common separators and checks E.164: `+`, then 8 to 15 digits, the first not zero.
/// A leading `00` is read as `+`.
fn normalise_phone(raw: &str) -> Result<String, IdentityError> {
    let bad = || IdentityError::Phone(raw.to_owned());
    let compact: String = raw.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}')).collect();
    let digits = if let Some(d) = compact.strip_prefix('+') {
        d
    } else if let Some(d) = compact.strip_prefix("00") {
        d
    } else {
        return Err(bad());
    };
    let ok = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    if ok { Ok(format!("+{digits}")) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: &str, raw: &str, expect: &str) {
        let got = match Identity::parse(kind, raw) {
            Ok(id) => id.key(),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "{kind} {raw:?}");
    }

    #[test]
    fn normalisation() {
        check("email", " Ada@Example.COM ", "email:ada@example.com");
        check("email", "first.last+tag@sub.example.org", "email:first.last+tag@sub.example.org");
        check(
            "email",
            "ada@example",
            "error: `ada@example` is not an email address; expected something like `ada@example.com`",
        );
        check(
            "email",
            "ada@@example.com",
            "error: `ada@@example.com` is not an email address; expected something like `ada@example.com`",
        );
        check(
            "email",
            "a..b@example.com",
            "error: `a..b@example.com` is not an email address; expected something like `ada@example.com`",
        );
        check(
            "email",
            "ada@-x.com",
            "error: `ada@-x.com` is not an email address; expected something like `ada@example.com`",
        );
        check("phone", "+358 40 123 4567", "phone:+358401234567");
        check("phone", "00 1 (415) 555-0100", "phone:+14155550100");
        check(
            "phone",
            "0401234567",
            "error: `0401234567` is not a phone number in international form; expected `+` and 8 to 15 digits, e.g. `+358401234567`",
        );
        check(
            "phone",
            "+12",
            "error: `+12` is not a phone number in international form; expected `+` and 8 to 15 digits, e.g. `+358401234567`",
        );
        check("account_id", " u-42 ", "account_id:u-42");
        check(
            "account_id",
            "two words",
            "error: an account id must be 1 to 128 visible characters without spaces; got `two words`",
        );
        check("external:stripe", "cus_123", "external:stripe:cus_123");
        check(
            "external",
            "cus_123",
            "error: an external id needs a system name (`external:stripe`) of 1 to 32 lowercase letters, digits, `-` or `_`; got ``",
        );
        check(
            "fax",
            "1",
            "error: unknown identity kind `fax`; use `email`, `phone`, `account_id` or `external:<system>`",
        );
        check(
            "email:x",
            "a@b.co",
            "error: unknown identity kind `email:x`; use `email`, `phone`, `account_id` or `external:<system>`",
        );
    }

    #[test]
    fn keys_round_trip() {
        for key in ["email:ada@example.com", "phone:+358401234567", "account_id:u-42", "external:stripe:cus_1:x"] {
            assert_eq!(Identity::from_key(key).unwrap().key(), key);
        }
        assert!(Identity::from_key("nocolon").is_err());
    }
}
