//! Identifiers: tenants (slugs chosen by people) and records (UUIDs chosen by the system).

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// Why a string is not an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "`{0}` is not a tenant name; use 1 to 63 lowercase letters, digits and `-`, starting with a letter or digit"
    )]
    Tenant(String),
    #[error("`{0}` is not a valid id; expected a UUID such as `0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6e`")]
    Uuid(String),
}

/// A tenant: one customer of a Covenant deployment. Every record belongs to exactly one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(s: &str) -> Result<TenantId, IdError> {
        let ok = (1..=63).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(TenantId(s.to_owned())) } else { Err(IdError::Tenant(s.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TenantId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TenantId::parse(s)
    }
}

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn from_uuid(u: Uuid) -> $name {
                $name(u)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
            pub fn parse(s: &str) -> Result<$name, IdError> {
                Uuid::parse_str(s).map($name).map_err(|_| IdError::Uuid(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }
    };
}

uuid_id!(
    /// A data subject: a person known to one tenant.
    SubjectId
);
uuid_id!(
    /// A ledger record (consent or preference), unique across tenants.
    RecordId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names() {
        for ok in ["acme", "a", "acme-eu-2", "9lives"] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-acme", "Acme", "acme_eu", "acme eu", &"a".repeat(64)] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uuid_ids_round_trip() {
        let s = "0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6e";
        assert_eq!(SubjectId::parse(s).unwrap().to_string(), s);
        assert!(RecordId::parse("nope").is_err());
    }
}
