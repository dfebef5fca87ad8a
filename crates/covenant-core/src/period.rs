//! Periods of time as policies state them: "72 hours", "30 days", "10 business days",
//! "1 month", "3 years".
//!
//! A period keeps its unit, because "1 month" is not "30 days": GDPR Art. 12(3) counts calendar
//! months, CCPA counts days, and an acknowledgement within "10 business days" skips weekends.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, Weekday};
use jiff::{Span, Timestamp, ToSpan, tz::TimeZone};

use crate::wire_enum;

wire_enum! {
    /// The unit of a [`Period`].
    pub enum PeriodUnit {
        Hours => "hours",
        Days => "days",
        BusinessDays => "business days",
        Weeks => "weeks",
        Months => "months",
        Years => "years",
    }
}

impl PeriodUnit {
    fn singular(self) -> &'static str {
        match self {
            PeriodUnit::Hours => "hour",
            PeriodUnit::Days => "day",
            PeriodUnit::BusinessDays => "business day",
            PeriodUnit::Weeks => "week",
            PeriodUnit::Months => "month",
            PeriodUnit::Years => "year",
        }
    }

    /// Average length in minutes, only for comparing periods of different units.
    fn approx_minutes(self) -> u64 {
        match self {
            PeriodUnit::Hours => 60,
            PeriodUnit::Days => 1_440,
            PeriodUnit::BusinessDays => 2_016, // 7/5 of a day
            PeriodUnit::Weeks => 10_080,
            PeriodUnit::Months => 43_830, // 30.4375 days
            PeriodUnit::Years => 525_960, // 365.25 days
        }
    }
}

/// A length of time with its unit, e.g. `3 years`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    amount: u32,
    unit: PeriodUnit,
}

/// Why a period could not be read or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error(
        "`{0}` is not a period; write a whole number and a unit, e.g. `30 days`, `1 month`, `10 business days`, `3 years`"
    )]
    Syntax(String),
    #[error("`{given}` has an unknown unit `{unit}`; use hours, days, business days, weeks, months or years")]
    Unit { given: String, unit: String },
    #[error("`{0}` is too long; periods are limited to 100 years")]
    TooLong(String),
    #[error("adding {period} to {start} leaves the supported calendar range")]
    OutOfRange { period: Period, start: String },
}

/// The longest period Covenant accepts, so that date arithmetic can never overflow.
const MAX_MINUTES: u64 = 100 * 525_960;

impl Period {
    /// Builds a period, refusing lengths over 100 years.
    pub fn new(amount: u32, unit: PeriodUnit) -> Result<Period, PeriodError> {
        let p = Period { amount, unit };
        if p.approx_minutes() > MAX_MINUTES {
            return Err(PeriodError::TooLong(p.to_string()));
        }
        Ok(p)
    }

    pub fn amount(self) -> u32 {
        self.amount
    }

    pub fn unit(self) -> PeriodUnit {
        self.unit
    }

    pub fn hours(n: u32) -> Period {
        Period { amount: n, unit: PeriodUnit::Hours }
    }
    pub fn days(n: u32) -> Period {
        Period { amount: n, unit: PeriodUnit::Days }
    }
    pub fn months(n: u32) -> Period {
        Period { amount: n, unit: PeriodUnit::Months }
    }
    pub fn years(n: u32) -> Period {
        Period { amount: n, unit: PeriodUnit::Years }
    }

    /// Average length in minutes: good for ordering "2 months" against "45 days", not for dates.
    pub fn approx_minutes(self) -> u64 {
        u64::from(self.amount) * self.unit.approx_minutes()
    }

    /// Orders periods by their average length.
    pub fn cmp_length(self, other: Period) -> std::cmp::Ordering {
        self.approx_minutes().cmp(&other.approx_minutes())
    }

    /// The calendar date this period after `start` (business days skip Saturdays and Sundays;
    /// hours round up to whole days).
    pub fn after_date(self, start: Date) -> Result<Date, PeriodError> {
        let out_of_range = || PeriodError::OutOfRange { period: self, start: start.to_string() };
        let n = i64::from(self.amount);
        match self.unit {
            PeriodUnit::BusinessDays => {
                let mut d = start;
                let mut left = self.amount;
                while left > 0 {
                    d = d.tomorrow().map_err(|_| out_of_range())?;
                    if !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
                        left -= 1;
                    }
                }
                Ok(d)
            }
            PeriodUnit::Hours => start.checked_add(((n + 23) / 24).days()).map_err(|_| out_of_range()),
            _ => start.checked_add(self.span()).map_err(|_| out_of_range()),
        }
    }

    /// The instant this period after `start`, calendar units counted in UTC.
    pub fn after(self, start: Timestamp) -> Result<Timestamp, PeriodError> {
        let out_of_range = || PeriodError::OutOfRange { period: self, start: start.to_string() };
        match self.unit {
            PeriodUnit::Hours => start.checked_add(i64::from(self.amount).hours()).map_err(|_| out_of_range()),
            PeriodUnit::BusinessDays => {
                let zoned = start.to_zoned(TimeZone::UTC);
                let date = self.after_date(zoned.date())?;
                date.to_datetime(zoned.time())
                    .to_zoned(TimeZone::UTC)
                    .map(|z| z.timestamp())
                    .map_err(|_| out_of_range())
            }
            _ => start
                .to_zoned(TimeZone::UTC)
                .checked_add(self.span())
                .map(|z| z.timestamp())
                .map_err(|_| out_of_range()),
        }
    }

    fn span(self) -> Span {
        let n = i64::from(self.amount);
        match self.unit {
            PeriodUnit::Hours => n.hours(),
            PeriodUnit::Days | PeriodUnit::BusinessDays => n.days(),
            PeriodUnit::Weeks => n.weeks(),
            PeriodUnit::Months => n.months(),
            PeriodUnit::Years => n.years(),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.amount == 1 { self.unit.singular() } else { self.unit.as_str() };
        write!(f, "{} {}", self.amount, unit)
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Period, PeriodError> {
        let trimmed = s.trim();
        let (number, unit) =
            trimmed.split_once(char::is_whitespace).ok_or_else(|| PeriodError::Syntax(s.to_owned()))?;
        let amount: u32 = number.parse().map_err(|_| PeriodError::Syntax(s.to_owned()))?;
        let unit_words: Vec<&str> = unit.split_whitespace().collect();
        let unit_norm = unit_words.join(" ").to_ascii_lowercase();
        let unit = match unit_norm.as_str() {
            "hour" | "hours" => PeriodUnit::Hours,
            "day" | "days" | "calendar day" | "calendar days" => PeriodUnit::Days,
            "business day" | "business days" | "working day" | "working days" => PeriodUnit::BusinessDays,
            "week" | "weeks" => PeriodUnit::Weeks,
            "month" | "months" => PeriodUnit::Months,
            "year" | "years" => PeriodUnit::Years,
            _ => return Err(PeriodError::Unit { given: s.to_owned(), unit: unit_norm }),
        };
        Period::new(amount, unit).map_err(|_| PeriodError::TooLong(s.to_owned()))
    }
}

impl serde::Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Period {
    fn schema_name() -> Cow<'static, str> {
        "Period".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^\\s*[0-9]+\\s+(hours?|days?|calendar days?|business days?|working days?|weeks?|months?|years?)\\s*$",
            "description": "A whole number and a unit, e.g. `72 hours`, `30 days`, `10 business days`, `1 month`, `3 years`.",
            "examples": ["30 days", "1 month", "3 years"]
        })
    }
}

#[cfg(feature = "arbitrary")]
impl proptest::arbitrary::Arbitrary for Period {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Period>;
    fn arbitrary_with(_: ()) -> Self::Strategy {
        use proptest::prelude::*;
        (1u32..100, proptest::sample::select(PeriodUnit::ALL))
            .prop_map(|(amount, unit)| Period { amount, unit })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let got = match input.parse::<Period>() {
            Ok(p) => p.to_string(),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "input {input:?}");
    }

    #[test]
    fn parses_and_prints_canonically() {
        check("30 days", "30 days");
        check("1 month", "1 month");
        check("1 months", "1 month");
        check(" 3   Years ", "3 years");
        check("10 business days", "10 business days");
        check("10 working days", "10 business days");
        check("72 hours", "72 hours");
        check("2 weeks", "2 weeks");
        check(
            "30",
            "error: `30` is not a period; write a whole number and a unit, e.g. `30 days`, `1 month`, `10 business days`, `3 years`",
        );
        check(
            "thirty days",
            "error: `thirty days` is not a period; write a whole number and a unit, e.g. `30 days`, `1 month`, `10 business days`, `3 years`",
        );
        check(
            "3 fortnights",
            "error: `3 fortnights` has an unknown unit `fortnights`; use hours, days, business days, weeks, months or years",
        );
        check(
            "-3 days",
            "error: `-3 days` is not a period; write a whole number and a unit, e.g. `30 days`, `1 month`, `10 business days`, `3 years`",
        );
        check("101 years", "error: `101 years` is too long; periods are limited to 100 years");
        check("4000000000 days", "error: `4000000000 days` is too long; periods are limited to 100 years");
        check(
            "5000000000 days",
            "error: `5000000000 days` is not a period; write a whole number and a unit, e.g. `30 days`, `1 month`, `10 business days`, `3 years`",
        );
    }

    #[test]
    fn orders_mixed_units_by_length() {
        let p = |s: &str| s.parse::<Period>().unwrap();
        assert!(p("3 years").cmp_length(p("5 years")).is_lt());
        assert!(p("1 month").cmp_length(p("30 days")).is_gt());
        assert!(p("45 days").cmp_length(p("2 months")).is_lt());
        assert!(p("10 business days").cmp_length(p("2 weeks")).is_eq());
    }

    #[test]
    fn calendar_arithmetic() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        // GDPR: one month from 31 January is the last day of February.
        assert_eq!(Period::months(1).after_date(d("2026-01-31")).unwrap(), d("2026-02-28"));
        // Friday + 10 business days = the Friday two weeks later.
        assert_eq!("10 business days".parse::<Period>().unwrap().after_date(d("2026-11-20")).unwrap(), d("2026-12-04"));
        assert_eq!(Period::days(45).after_date(d("2026-11-22")).unwrap(), d("2027-01-06"));
        assert_eq!(Period::hours(72).after_date(d("2026-11-22")).unwrap(), d("2026-11-25"));
        assert_eq!(Period::hours(1).after_date(d("2026-11-22")).unwrap(), d("2026-11-23"));
        let t: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        assert_eq!(Period::hours(72).after(t).unwrap().to_string(), "2026-11-25T10:00:00Z");
        assert_eq!(Period::years(3).after(t).unwrap().to_string(), "2029-11-22T10:00:00Z");
    }

    #[test]
    fn far_future_dates_are_an_error_not_a_panic() {
        let d: Date = "9999-12-01".parse().unwrap();
        assert!(Period::years(1).after_date(d).is_err());
        assert!("5 business days".parse::<Period>().unwrap().after_date(d.checked_add(30.days()).unwrap()).is_err());
    }
}
