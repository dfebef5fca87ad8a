//! Where law applies and where data lives.
//!
//! A [`Jurisdiction`] says whose rules apply to a person (for deadlines and minimum ages):
//! `default`, a regime (`gdpr`, `ccpa`, …), a country (`FI`) or a subdivision (`US-CA`).
//! A [`Region`] says where data is stored or sent: a country, `EU`, `EEA`, or `WORLD`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// EU member states (ISO 3166-1 alpha-2).
const EU: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
    "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];
/// EEA states outside the EU.
const EEA_EXTRA: &[&str] = &["IS", "LI", "NO"];

/// Regimes Covenant knows, the places they cover, and a readable name.
const REGIMES: &[(&str, &str)] = &[
    ("gdpr", "the EU/EEA (GDPR)"),
    ("uk_gdpr", "the United Kingdom (UK GDPR)"),
    ("ccpa", "California (CCPA/CPRA)"),
    ("pdpa_sg", "Singapore (PDPA)"),
    ("pipeda", "Canada (PIPEDA)"),
    ("lgpd", "Brazil (LGPD)"),
    ("coppa", "the United States (COPPA)"),
];

/// Whose rules apply: `default`, a regime, a country or a subdivision.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jurisdiction(String);

/// Why a string is not a jurisdiction or region.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JurisdictionError {
    #[error("unknown jurisdiction `{0}`; use `default`, a regime ({regimes}), a country code such as `FI`, or a subdivision such as `US-CA`", regimes = regime_list())]
    Unknown(String),
}

fn regime_list() -> String {
    REGIMES.iter().map(|(r, _)| format!("`{r}`")).collect::<Vec<_>>().join(", ")
}

fn is_country(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn is_subdivision(s: &str) -> bool {
    match s.split_once('-') {
        Some((c, sub)) => {
            is_country(c)
                && (1..=3).contains(&sub.len())
                && sub.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }
        None => false,
    }
}

impl Jurisdiction {
    pub fn parse(s: &str) -> Result<Jurisdiction, JurisdictionError> {
        let ok = s == "default" || REGIMES.iter().any(|(r, _)| *r == s) || is_country(s) || is_subdivision(s);
        if ok { Ok(Jurisdiction(s.to_owned())) } else { Err(JurisdictionError::Unknown(s.to_owned())) }
    }

    pub fn default_() -> Jurisdiction {
        Jurisdiction("default".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        self.0 == "default"
    }

    /// Whether this jurisdiction's rules apply to a person in `country` (and `subdivision`,
    /// e.g. `CA` for California when `country` is `US`).
    pub fn covers(&self, country: &str, subdivision: Option<&str>) -> bool {
        let s = self.0.as_str();
        match s {
            "default" => true,
            "gdpr" => EU.contains(&country) || EEA_EXTRA.contains(&country),
            "uk_gdpr" => country == "GB",
            "ccpa" => country == "US" && subdivision == Some("CA"),
            "pdpa_sg" => country == "SG",
            "pipeda" => country == "CA",
            "lgpd" => country == "BR",
            "coppa" => country == "US",
            _ => match s.split_once('-') {
                Some((c, sub)) => c == country && subdivision == Some(sub),
                None => s == country,
            },
        }
    }

    /// How narrowly it applies: a subdivision (or CCPA) beats a country, which beats a
    /// multi-country regime, which beats `default`.
    pub fn specificity(&self) -> u8 {
        match self.0.as_str() {
            "default" => 0,
            "gdpr" => 1,
            "ccpa" => 3,
            s if is_subdivision(s) => 3,
            _ => 2,
        }
    }

    /// A readable name for notices: "the EU/EEA (GDPR)", "Finland", "everyone else".
    pub fn describe(&self) -> String {
        if self.is_default() {
            return "everyone else".to_owned();
        }
        if let Some((_, name)) = REGIMES.iter().find(|(r, _)| *r == self.0) {
            return (*name).to_owned();
        }
        match self.0.split_once('-') {
            Some((c, sub)) => format!("{sub}, {}", country_name(c)),
            None => country_name(&self.0).to_owned(),
        }
    }

    /// The most specific entry whose jurisdiction covers the given place.
    pub fn resolve<'a, T>(
        entries: impl IntoIterator<Item = (&'a Jurisdiction, T)>,
        country: &str,
        subdivision: Option<&str>,
    ) -> Option<T> {
        entries
            .into_iter()
            .filter(|(j, _)| j.covers(country, subdivision))
            .max_by_key(|(j, _)| j.specificity())
            .map(|(_, t)| t)
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Jurisdiction {
    type Err = JurisdictionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Jurisdiction::parse(s)
    }
}

/// Where data is stored or sent: a country code, `EU`, `EEA` or `WORLD`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

/// Why a string is not a region.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("unknown region `{0}`; use a two-letter country code such as `SG`, or `EU`, `EEA` or `WORLD`")]
    Unknown(String),
}

impl Region {
    pub fn parse(s: &str) -> Result<Region, RegionError> {
        if matches!(s, "EU" | "EEA" | "WORLD") || is_country(s) {
            Ok(Region(s.to_owned()))
        } else {
            Err(RegionError::Unknown(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether every place in `other` lies within `self`.
    pub fn contains(&self, other: &Region) -> bool {
        let (a, b) = (self.0.as_str(), other.0.as_str());
        match a {
            "WORLD" => true,
            _ if a == b => true,
            "EEA" => b == "EU" || EU.contains(&b) || EEA_EXTRA.contains(&b),
            "EU" => EU.contains(&b),
            _ => false,
        }
    }

    /// A readable name: "Singapore", "the European Union".
    pub fn describe(&self) -> &str {
        match self.0.as_str() {
            "EU" => "the European Union",
            "EEA" => "the European Economic Area",
            "WORLD" => "other countries worldwide",
            c => country_name(c),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Region {
    type Err = RegionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::parse(s)
    }
}

macro_rules! string_newtype_serde {
    ($t:ty, $name:literal, $pattern:literal, $desc:literal) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
        impl schemars::JsonSchema for $t {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "pattern": $pattern, "description": $desc })
            }
        }
    };
}

string_newtype_serde!(
    Jurisdiction,
    "Jurisdiction",
    "^(default|gdpr|uk_gdpr|ccpa|pdpa_sg|pipeda|lgpd|coppa|[A-Z]{2}|[A-Z]{2}-[A-Z0-9]{1,3})$",
    "Whose rules apply: `default`, a regime (`gdpr`, `uk_gdpr`, `ccpa`, `pdpa_sg`, `pipeda`, `lgpd`, `coppa`), a country code (`FI`) or a subdivision (`US-CA`)."
);
string_newtype_serde!(
    Region,
    "Region",
    "^(EU|EEA|WORLD|[A-Z]{2})$",
    "Where data is stored or sent: a two-letter country code, `EU`, `EEA` or `WORLD`."
);

#[cfg(feature = "arbitrary")]
mod arbitrary {
    use super::*;
    use proptest::prelude::*;

    impl proptest::arbitrary::Arbitrary for Jurisdiction {
        type Parameters = ();
        type Strategy = BoxedStrategy<Jurisdiction>;
        fn arbitrary_with(_: ()) -> Self::Strategy {
            prop_oneof![
                Just("default".to_owned()),
                proptest::sample::select(REGIMES).prop_map(|(r, _)| r.to_owned()),
                "[A-Z]{2}",
                "[A-Z]{2}-[A-Z0-9]{1,3}",
            ]
            .prop_map(Jurisdiction)
            .boxed()
        }
    }

    impl proptest::arbitrary::Arbitrary for Region {
        type Parameters = ();
        type Strategy = BoxedStrategy<Region>;
        fn arbitrary_with(_: ()) -> Self::Strategy {
            prop_oneof![Just("EU".to_owned()), Just("EEA".to_owned()), Just("WORLD".to_owned()), "[A-Z]{2}"]
                .prop_map(Region)
                .boxed()
        }
    }
}

/// English names of the countries policies most often name; other codes print as the code.
pub fn country_name(code: &str) -> &str {
    const NAMES: &[(&str, &str)] = &[
        ("AT", "Austria"),
        ("AU", "Australia"),
        ("BE", "Belgium"),
        ("BG", "Bulgaria"),
        ("BR", "Brazil"),
        ("CA", "Canada"),
        ("CH", "Switzerland"),
        ("CN", "China"),
        ("CY", "Cyprus"),
        ("CZ", "Czechia"),
        ("DE", "Germany"),
        ("DK", "Denmark"),
        ("EE", "Estonia"),
        ("ES", "Spain"),
        ("FI", "Finland"),
        ("FR", "France"),
        ("GB", "the United Kingdom"),
        ("GR", "Greece"),
        ("HK", "Hong Kong"),
        ("HR", "Croatia"),
        ("HU", "Hungary"),
        ("IE", "Ireland"),
        ("IL", "Israel"),
        ("IN", "India"),
        ("IS", "Iceland"),
        ("IT", "Italy"),
        ("JP", "Japan"),
        ("KR", "South Korea"),
        ("LI", "Liechtenstein"),
        ("LT", "Lithuania"),
        ("LU", "Luxembourg"),
        ("LV", "Latvia"),
        ("MT", "Malta"),
        ("MX", "Mexico"),
        ("NL", "the Netherlands"),
        ("NO", "Norway"),
        ("NZ", "New Zealand"),
        ("PL", "Poland"),
        ("PT", "Portugal"),
        ("RO", "Romania"),
        ("SE", "Sweden"),
        ("SG", "Singapore"),
        ("SI", "Slovenia"),
        ("SK", "Slovakia"),
        ("UA", "Ukraine"),
        ("US", "the United States"),
        ("ZA", "South Africa"),
    ];
    NAMES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n).unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        for ok in ["default", "gdpr", "ccpa", "FI", "US-CA"] {
            assert!(Jurisdiction::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "eu", "Finland", "US-", "US-CALI", "gdpr2"] {
            assert!(Jurisdiction::parse(bad).is_err(), "{bad}");
        }
        assert!(Region::parse("SG").is_ok());
        assert_eq!(
            Region::parse("Singapore").unwrap_err().to_string(),
            "unknown region `Singapore`; use a two-letter country code such as `SG`, or `EU`, `EEA` or `WORLD`"
        );
    }

    #[test]
    fn most_specific_jurisdiction_wins() {
        let j = |s| Jurisdiction::parse(s).unwrap();
        let entries = [(j("default"), 13), (j("gdpr"), 16), (j("ccpa"), 16), (j("US"), 13), (j("FI"), 13)];
        let pick = |c, s| Jurisdiction::resolve(entries.iter().map(|(j, a)| (j, *a)), c, s);
        assert_eq!(pick("DE", None), Some(16));
        assert_eq!(pick("FI", None), Some(13));
        assert_eq!(pick("US", Some("CA")), Some(16));
        assert_eq!(pick("US", Some("NY")), Some(13));
        assert_eq!(pick("JP", None), Some(13));
    }

    #[test]
    fn regions_nest() {
        let r = |s| Region::parse(s).unwrap();
        assert!(r("EU").contains(&r("FI")));
        assert!(r("EEA").contains(&r("EU")));
        assert!(r("EEA").contains(&r("NO")));
        assert!(!r("EU").contains(&r("NO")));
        assert!(!r("EU").contains(&r("US")));
        assert!(r("WORLD").contains(&r("US")));
        assert!(r("SG").contains(&r("SG")));
    }
}
