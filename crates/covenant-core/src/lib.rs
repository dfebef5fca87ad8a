//! Covenant's pure domain vocabulary.
//!
//! Architecture invariant: this crate does no I/O (no files, no network, no clock reads, no
//! database). Everything it needs comes in as arguments, so it is deterministic and fails only on
//! validation, with typed errors.
//!
//! The types here are the words a privacy policy is written in: periods of time ("3 years",
//! "10 business days"), data-category keys (`user.contact.email`), legal bases, rights,
//! jurisdictions and regions, retention triggers. They parse from strings ("parse, don't
//! validate") so that an invalid value cannot exist past the boundary.

pub mod audit;
mod basis;
mod category;
mod identity;
mod ids;
mod jurisdiction;
pub mod ledger;
mod period;
pub mod request;
mod right;
mod subject;
pub mod taxonomy;
mod trigger;

pub use basis::{Art9Condition, LegalBasis};
pub use category::{CategoryKey, CategoryKeyError};
pub use identity::{Identity, IdentityError, IdentityKind};
pub use ids::{IdError, RecordId, SubjectId, TenantId};
pub use jurisdiction::{Jurisdiction, JurisdictionError, Region, RegionError};
pub use period::{Period, PeriodError, PeriodUnit};
pub use request::{CustomerId, RequestEvent, RequestId, RequestKind, RequestState, TransitionError};
pub use right::Right;
pub use subject::{LifecycleEvent, LifecycleKind};
pub use trigger::RetentionTrigger;

/// Implements `Display`, `FromStr`, serde and JSON Schema for a unit-only enum from one table of
/// (variant, wire name) pairs, so the wire names live in exactly one place.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in policy files and APIs.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::UnknownName {
                        what: stringify!($name),
                        given: s.to_owned(),
                        expected: &[$($wire),+],
                    }),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({ "type": "string", "enum": [$($wire),+] })
            }
        }

        #[cfg(feature = "arbitrary")]
        impl ::proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = ::proptest::strategy::BoxedStrategy<$name>;
            fn arbitrary_with(_: ()) -> Self::Strategy {
                use ::proptest::strategy::Strategy;
                ::proptest::sample::select($name::ALL).boxed()
            }
        }
    };
}
pub(crate) use wire_enum;

/// A name that is not one of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {} `{given}`; expected one of: {}", human(what), list(expected))]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub expected: &'static [&'static str],
}

fn list(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// `LegalBasis` -> `legal basis`: error messages never show a Rust type name.
fn human(type_name: &str) -> String {
    let mut out = String::new();
    for (i, c) in type_name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_name_lists_the_choices_without_type_names() {
        let err = "consnt".parse::<LegalBasis>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("unknown legal basis `consnt`; expected one of: `consent`"), "{msg}");
    }
}
