//! The values Covenant reads from and writes to application databases, whatever their SQL type.
//!
//! A value keeps the kind it was read as, so that writing it back stores what was there:
//! `Integer` stays an integer, `Bool` a boolean, `Bytes` bytes. Date and time values are kept as
//! the database prints them (`Timestamp`), and written back through the column's own type.
//! The serde form is tagged (`{"integer": 5}`, `{"text": "a"}`, `"null"`), so a value stored in
//! the journal reads back as exactly the same value.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One cell of a row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    /// Raw bytes; hex in JSON.
    Bytes(#[serde(with = "hex_bytes")] Vec<u8>),
    /// A date, time or timestamp, as the database prints it (`2026-01-02T10:00:00Z`,
    /// `2026-01-02 10:00:00+00`).
    Timestamp(String),
}

impl Eq for Value {}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Null, or text that is empty or only spaces: "nothing is held here".
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Text(s) | Value::Timestamp(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The value as text, for identities, hashing, strategies and PostgreSQL's text input:
    /// `None` for null. Bytes are `\x` and hex (PostgreSQL's `bytea` text form).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(i.to_string()),
            Value::Real(f) => Some(f.to_string()),
            Value::Text(s) | Value::Timestamp(s) => Some(s.clone()),
            Value::Bool(b) => Some(if *b { "true" } else { "false" }.to_owned()),
            Value::Bytes(b) => Some(format!("\\x{}", hex(b))),
        }
    }

    /// Whether two values are the same stored value: equal, or the same number read once as a
    /// boolean and once as an integer (SQLite keeps booleans as 0 and 1), or the same integral
    /// number as integer and real.
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Bool(b), Value::Integer(i)) | (Value::Integer(i), Value::Bool(b)) => i64::from(*b) == *i,
            (Value::Real(f), Value::Integer(i)) | (Value::Integer(i), Value::Real(f)) => *f == *i as f64,
            (Value::Text(a), Value::Timestamp(b)) | (Value::Timestamp(a), Value::Text(b)) => a == b,
            (a, b) => a == b,
        }
    }

    /// The value as plain JSON for reports and exports: numbers, strings, booleans, null; bytes
    /// as a hex string.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Integer(i) => serde_json::Value::from(*i),
            Value::Real(f) => {
                serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
            Value::Text(s) | Value::Timestamp(s) => serde_json::Value::from(s.as_str()),
            Value::Bool(b) => serde_json::Value::from(*b),
            Value::Bytes(b) => serde_json::Value::from(hex(b)),
        }
    }

    /// The order of [`Value::sort_key`], without building the keys: rows are sorted and
    /// looked up by their values many times.
    pub fn sort_cmp(&self, other: &Value) -> std::cmp::Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Bool(_) | Value::Integer(_) => 1,
                Value::Real(_) => 2,
                Value::Text(_) | Value::Timestamp(_) => 3,
                Value::Bytes(_) => 4,
            }
        }
        let int = |v: &Value| match v {
            Value::Bool(b) => i64::from(*b),
            Value::Integer(i) => *i,
            _ => 0,
        };
        match (self, other) {
            (Value::Text(a) | Value::Timestamp(a), Value::Text(b) | Value::Timestamp(b)) => a.cmp(b),
            // Hex keeps the order of the bytes.
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Real(_), Value::Real(_)) => self.sort_key().cmp(&other.sort_key()),
            (a, b) => rank(a).cmp(&rank(b)).then_with(|| int(a).cmp(&int(b))),
        }
    }

    /// [`Value::sort_cmp`] over keys of several values: value by value, then the shorter first.
    pub fn sort_cmp_keys(a: &[Value], b: &[Value]) -> std::cmp::Ordering {
        a.iter().zip(b).map(|(x, y)| x.sort_cmp(y)).find(|o| o.is_ne()).unwrap_or_else(|| a.len().cmp(&b.len()))
    }

    /// A total order for sorting rows deterministically (null first, then by kind, then value).
    pub fn sort_key(&self) -> (u8, i64, String) {
        match self {
            Value::Null => (0, 0, String::new()),
            Value::Bool(b) => (1, i64::from(*b), String::new()),
            Value::Integer(i) => (1, *i, String::new()),
            Value::Real(f) => (2, 0, format!("{f:030.10}")),
            Value::Text(s) | Value::Timestamp(s) => (3, 0, s.clone()),
            Value::Bytes(b) => (4, 0, hex(b)),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_text() {
            Some(t) => f.write_str(&t),
            None => f.write_str("NULL"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Integer(i)
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Reads lowercase or uppercase hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len() / 2).map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        super::unhex(&s).ok_or_else(|| serde::de::Error::custom("expected hexadecimal digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_json() {
        let values = vec![
            Value::Null,
            Value::Integer(-42),
            Value::Real(0.1),
            Value::Text("Ada \"Lovelace\"".into()),
            Value::Bool(true),
            Value::Bytes(vec![0, 1, 254, 255]),
            Value::Timestamp("2026-01-02 10:00:00+00".into()),
        ];
        let json = serde_json::to_string(&values).unwrap();
        assert_eq!(
            json,
            r#"["null",{"integer":-42},{"real":0.1},{"text":"Ada \"Lovelace\""},{"bool":true},{"bytes":"0001feff"},{"timestamp":"2026-01-02 10:00:00+00"}]"#
        );
        let back: Vec<Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, values);
    }

    #[test]
    fn same_compares_stored_values() {
        assert!(Value::Bool(true).same(&Value::Integer(1)));
        assert!(!Value::Bool(false).same(&Value::Integer(1)));
        assert!(Value::Real(2.0).same(&Value::Integer(2)));
        assert!(!Value::Text("1".into()).same(&Value::Integer(1)));
        assert!(Value::Null.same(&Value::Null));
    }

    #[test]
    fn text_forms() {
        assert_eq!(Value::Bytes(vec![0xab]).as_text().unwrap(), "\\xab");
        assert_eq!(Value::Null.as_text(), None);
        assert!(Value::Text("  ".into()).is_empty());
        assert_eq!(unhex("0aFF"), Some(vec![10, 255]));
        assert_eq!(unhex("0"), None);
    }

    fn any_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Integer),
            (-3i64..3).prop_map(Value::Integer),
            any::<bool>().prop_map(Value::Bool),
            (-1e6f64..1e6).prop_map(Value::Real),
            "[a-c]{0,3}".prop_map(Value::Text),
            "[a-c]{0,3}".prop_map(Value::Timestamp),
            proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        ]
    }

    proptest::proptest! {
        #[test]
        fn sort_cmp_orders_as_sort_key(a in any_value(), b in any_value()) {
            proptest::prop_assert_eq!(a.sort_cmp(&b), a.sort_key().cmp(&b.sort_key()));
        }
    }
}
