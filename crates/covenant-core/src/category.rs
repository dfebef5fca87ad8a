//! Data-category keys: dot-separated, hierarchical, compatible with fideslang names
//! (`user.contact.email` is within `user.contact`, which is within `user`).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A hierarchical data-category key such as `user.contact.email`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CategoryKey(String);

/// Why a string is not a category key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryKeyError {
    #[error("a category key cannot be empty; write a dotted name such as `user.contact.email`")]
    Empty,
    #[error("category key `{key}` is longer than 200 characters")]
    TooLong { key: String },
    #[error(
        "category key `{key}` has an empty segment; segments are separated by single dots, as in `user.contact.email`"
    )]
    EmptySegment { key: String },
    #[error(
        "category key `{key}` has an invalid segment `{segment}`; each segment starts with a lowercase letter and holds only lowercase letters, digits and `_`"
    )]
    BadSegment { key: String, segment: String },
}

impl CategoryKey {
    pub fn parse(s: &str) -> Result<CategoryKey, CategoryKeyError> {
        if s.is_empty() {
            return Err(CategoryKeyError::Empty);
        }
        if s.len() > 200 {
            return Err(CategoryKeyError::TooLong { key: s.to_owned() });
        }
        for segment in s.split('.') {
            if segment.is_empty() {
                return Err(CategoryKeyError::EmptySegment { key: s.to_owned() });
            }
            let mut chars = segment.chars();
            let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
            if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                return Err(CategoryKeyError::BadSegment { key: s.to_owned(), segment: segment.to_owned() });
            }
        }
        Ok(CategoryKey(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The enclosing category: `user.contact` for `user.contact.email`; `None` at the top.
    pub fn parent(&self) -> Option<CategoryKey> {
        self.0.rsplit_once('.').map(|(p, _)| CategoryKey(p.to_owned()))
    }

    /// This key and every ancestor, most specific first.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        let s = self.0.as_str();
        std::iter::successors(Some(s), |k| k.rsplit_once('.').map(|(p, _)| p))
    }

    /// True when `self` is `other` or lies below it (`user.contact.email` is within `user`).
    pub fn is_within(&self, other: &CategoryKey) -> bool {
        self.0 == other.0
            || (self.0.len() > other.0.len()
                && self.0.starts_with(&other.0)
                && self.0.as_bytes()[other.0.len()] == b'.')
    }

    /// The top-level segment: `user` or `system` in the standard taxonomy.
    pub fn root(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for CategoryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CategoryKey {
    type Err = CategoryKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CategoryKey::parse(s)
    }
}

impl serde::Serialize for CategoryKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for CategoryKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        CategoryKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for CategoryKey {
    fn schema_name() -> Cow<'static, str> {
        "CategoryKey".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$",
            "maxLength": 200,
            "description": "A dotted, hierarchical data-category key compatible with fideslang names, e.g. `user.contact.email`.",
        })
    }
}

#[cfg(feature = "arbitrary")]
impl proptest::arbitrary::Arbitrary for CategoryKey {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<CategoryKey>;
    fn arbitrary_with(_: ()) -> Self::Strategy {
        use proptest::prelude::*;
        proptest::collection::vec("[a-z][a-z0-9_]{0,8}", 1..4).prop_map(|segs| CategoryKey(segs.join("."))).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let got = match CategoryKey::parse(input) {
            Ok(k) => format!("ok {k}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn parsing() {
        check("user.contact.email", "ok user.contact.email");
        check("user", "ok user");
        check("okki.log_on2", "ok okki.log_on2");
        check("", "a category key cannot be empty; write a dotted name such as `user.contact.email`");
        check(
            "user..email",
            "category key `user..email` has an empty segment; segments are separated by single dots, as in `user.contact.email`",
        );
        check(
            "user.Contact",
            "category key `user.Contact` has an invalid segment `Contact`; each segment starts with a lowercase letter and holds only lowercase letters, digits and `_`",
        );
        check(
            "user.2fa",
            "category key `user.2fa` has an invalid segment `2fa`; each segment starts with a lowercase letter and holds only lowercase letters, digits and `_`",
        );
        check(
            "user.e-mail",
            "category key `user.e-mail` has an invalid segment `e-mail`; each segment starts with a lowercase letter and holds only lowercase letters, digits and `_`",
        );
    }

    #[test]
    fn hierarchy() {
        let k = |s| CategoryKey::parse(s).unwrap();
        assert!(k("user.contact.email").is_within(&k("user.contact")));
        assert!(k("user.contact.email").is_within(&k("user.contact.email")));
        assert!(!k("user.contactx").is_within(&k("user.contact")));
        assert!(!k("user").is_within(&k("user.contact")));
        assert_eq!(k("user.contact.email").parent(), Some(k("user.contact")));
        assert_eq!(k("user").parent(), None);
        assert_eq!(
            k("user.contact.email").ancestors().collect::<Vec<_>>(),
            ["user.contact.email", "user.contact", "user"]
        );
    }
}
