//! When a data-subject request must be answered, from the policy's `rights` section.
//!
//! - The statutory deadline is the policy's `deadlines` entry for the requester's jurisdiction:
//!   the most specific entry that covers their place (`US-CA` beats `ccpa`'s country, a country
//!   beats `gdpr`, anything beats `default`), or, for a regime named directly (`gdpr`), its own
//!   entry; else the `default` entry.
//! - The company's own promise (`promise`, e.g. 30 days, promises W6 and T5) wins when it is
//!   shorter.
//! - With neither, [`fallback`] applies: one month, the shortest of the common statutory deadlines
//!   (GDPR Art. 12(3)), so that no request is ever without a due date.
//! - The clock starts at receipt, not at verification: the conservative reading.
//! - An extension is allowed once, only where the entry allows one, and only before its notice
//!   limit (`extension_notice_within`, else before the current due date); it runs from the
//!   statutory deadline (GDPR: "by two further months").
//!
//! Pure: `received` and `now` are arguments; nothing here reads a clock.

use covenant_core::{Jurisdiction, Period, PeriodError};
use covenant_policy::model::{Deadline, Rights};
use jiff::Timestamp;

/// The deadline used when the policy states none: one month.
pub fn fallback() -> Period {
    Period::months(1)
}

/// Where a due date comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A statutory deadline of the policy, for this jurisdiction.
    Statutory(Jurisdiction),
    /// The company's own, shorter promise.
    Promise,
    /// The policy states no deadline at all: [`fallback`].
    Fallback,
}

/// The dates of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueDates {
    /// The answer is due by then.
    pub respond_by: Timestamp,
    pub source: Source,
    /// The statutory deadline, when there is one (an extension runs from it).
    pub statutory_by: Option<Timestamp>,
    /// Receipt must be acknowledged by then (CCPA: 10 business days).
    pub acknowledge_by: Option<Timestamp>,
    /// The extension the law allows, if any.
    pub extension: Option<Extension>,
}

/// An extension the law allows for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension {
    pub by: Period,
    /// The extension, with its reason, must be told to the person before this.
    pub notice_by: Timestamp,
    /// The new due date if it is taken.
    pub until: Timestamp,
}

/// Why a due date cannot be computed or an extension cannot be taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    #[error(transparent)]
    Period(#[from] PeriodError),
    #[error("the deadline that applies ({jurisdiction}) allows no extension")]
    NoExtension { jurisdiction: String },
    #[error("the deadline has already been extended once; it can be extended only once")]
    AlreadyExtended,
    #[error("an extension had to be announced by {notice_by}; it is too late to extend")]
    TooLate { notice_by: Timestamp },
}

/// The policy's deadline entry for a jurisdiction (`None`: the `default` entry).
pub fn entry<'a>(deadlines: &'a [Deadline], jurisdiction: Option<&Jurisdiction>) -> Option<&'a Deadline> {
    let default = || deadlines.iter().find(|d| d.jurisdiction.is_default());
    let Some(j) = jurisdiction else { return default() };
    let s = j.as_str();
    let place = match s.split_once('-') {
        Some((country, sub)) if country.len() == 2 => Some((country, Some(sub))),
        _ if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) => Some((s, None)),
        _ => None,
    };
    match place {
        Some((country, sub)) => {
            Jurisdiction::resolve(deadlines.iter().map(|d| (&d.jurisdiction, d)), country, sub).or_else(default)
        }
        // A regime (`gdpr`, `ccpa`) or `default`, named directly.
        None => deadlines.iter().find(|d| &d.jurisdiction == j).or_else(default),
    }
}

/// The due dates of a request received at `received` from someone in `jurisdiction`.
pub fn due_dates(
    rights: &Rights,
    jurisdiction: Option<&Jurisdiction>,
    received: Timestamp,
) -> Result<DueDates, DeadlineError> {
    let e = entry(&rights.deadlines, jurisdiction);
    let statutory_by = e.map(|e| e.respond_within.after(received)).transpose()?;
    let promised_by = rights.promise.map(|p| p.after(received)).transpose()?;
    let (respond_by, source) = match (statutory_by, promised_by, e) {
        (Some(s), Some(p), _) if p < s => (p, Source::Promise),
        (Some(s), _, Some(e)) => (s, Source::Statutory(e.jurisdiction.clone())),
        (_, Some(p), _) => (p, Source::Promise),
        _ => (fallback().after(received)?, Source::Fallback),
    };
    let acknowledge_by = e.and_then(|e| e.acknowledge_within).map(|p| p.after(received)).transpose()?;
    let extension = match (e, statutory_by) {
        (Some(Deadline { extension: Some(by), extension_notice_within, .. }), Some(statutory)) => {
            let notice_by = match extension_notice_within {
                Some(p) => p.after(received)?,
                None => respond_by,
            };
            Some(Extension { by: *by, notice_by, until: by.after(statutory)? })
        }
        _ => None,
    };
    Ok(DueDates { respond_by, source, statutory_by, acknowledge_by, extension })
}

/// The new due date if the request is extended at `now`: refused when already extended, when the
/// law allows no extension, or when its notice limit has passed.
pub fn extend(dates: &DueDates, already_extended: bool, now: Timestamp) -> Result<Timestamp, DeadlineError> {
    if already_extended {
        return Err(DeadlineError::AlreadyExtended);
    }
    let Some(ext) = dates.extension else {
        let jurisdiction = match &dates.source {
            Source::Statutory(j) => format!("`{j}`"),
            Source::Promise => "our own promise".to_owned(),
            Source::Fallback => "the default of one month".to_owned(),
        };
        return Err(DeadlineError::NoExtension { jurisdiction });
    };
    if now > ext.notice_by {
        return Err(DeadlineError::TooLate { notice_by: ext.notice_by });
    }
    Ok(ext.until)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn rights(example: &str) -> Rights {
        let path =
            Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
                .join("../../examples")
                .join(example)
                .join("policy.toml");
        covenant_policy::load_file(&path).unwrap().rights.unwrap()
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn j(s: &str) -> Jurisdiction {
        Jurisdiction::parse(s).unwrap()
    }

    /// (example, jurisdiction, respond by, source, acknowledge by, extended until)
    type Row =
        (&'static str, Option<&'static str>, &'static str, &'static str, Option<&'static str>, Option<&'static str>);

    #[test]
    fn the_seed_policies() {
        let received = "2026-01-31T10:00:00Z";
        #[rustfmt::skip]
        let table: &[Row] = &[
            // promise W6: 30 days, shorter than the GDPR's month (here February is short, so the
            // month is shorter still and wins); extension by 2 months from the statutory date.
            ("workki", Some("FI"), "2026-02-28T10:00:00Z", "statutory:gdpr", None, Some("2026-04-28T10:00:00Z")),
            ("workki", Some("gdpr"), "2026-02-28T10:00:00Z", "statutory:gdpr", None, Some("2026-04-28T10:00:00Z")),
            // promise W6 within the CCPA's 45 days; acknowledgement within 10 business days.
            ("workki", Some("US-CA"), "2026-03-02T10:00:00Z", "promise", Some("2026-02-13T10:00:00Z"), Some("2026-05-01T10:00:00Z")),
            // No `default` entry: the promise alone.
            ("workki", None, "2026-03-02T10:00:00Z", "promise", None, None),
            ("workki", Some("US-NY"), "2026-03-02T10:00:00Z", "promise", None, None),
            // promise K11: the legal deadline after verification; PDPA 30 days in Singapore.
            ("okki", Some("SG"), "2026-03-02T10:00:00Z", "statutory:pdpa_sg", None, None),
            ("okki", Some("DE"), "2026-02-28T10:00:00Z", "statutory:gdpr", None, Some("2026-04-28T10:00:00Z")),
            ("okki", Some("BR"), "2026-03-02T10:00:00Z", "statutory:default", None, None),
            // promise T5: 30 days, no statutory entry.
            ("okitoki", Some("FI"), "2026-03-02T10:00:00Z", "promise", None, None),
            ("workoptima", Some("US-CA"), "2026-03-02T10:00:00Z", "promise", Some("2026-02-13T10:00:00Z"), Some("2026-05-01T10:00:00Z")),
            // promise P6: the same month for everyone.
            ("workpex", Some("JP"), "2026-02-28T10:00:00Z", "statutory:default", None, Some("2026-04-28T10:00:00Z")),
        ];
        for (example, place, respond_by, source, ack, until) in table {
            let r = rights(example);
            let d = due_dates(&r, place.map(j).as_ref(), t(received)).unwrap();
            let what = format!("{example} {place:?}");
            assert_eq!(d.respond_by, t(respond_by), "{what}");
            let got = match &d.source {
                Source::Statutory(j) => format!("statutory:{j}"),
                Source::Promise => "promise".to_owned(),
                Source::Fallback => "fallback".to_owned(),
            };
            assert_eq!(&got, source, "{what}");
            assert_eq!(d.acknowledge_by, ack.map(t), "{what}");
            assert_eq!(d.extension.map(|e| e.until), until.map(t), "{what}");
        }
    }

    #[test]
    fn a_thirty_day_promise_beats_a_long_month() {
        // January has 31 days: the GDPR month ends on 1 February, the 30-day promise (W6) on
        // 31 January.
        let d = due_dates(&rights("workki"), Some(&j("FI")), t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(d.respond_by, t("2026-01-31T00:00:00Z"));
        assert_eq!(d.source, Source::Promise);
        assert_eq!(d.statutory_by, Some(t("2026-02-01T00:00:00Z")));
    }

    #[test]
    fn extensions_are_allowed_once_and_only_in_time() {
        let received = t("2026-01-10T00:00:00Z");
        let d = due_dates(&rights("workpex"), Some(&j("FI")), received).unwrap();
        let ext = d.extension.unwrap();
        assert_eq!(ext.notice_by, t("2026-02-10T00:00:00Z"));
        assert_eq!(extend(&d, false, t("2026-02-01T00:00:00Z")), Ok(t("2026-04-10T00:00:00Z")));
        assert_eq!(extend(&d, true, t("2026-02-01T00:00:00Z")), Err(DeadlineError::AlreadyExtended));
        assert_eq!(
            extend(&d, false, t("2026-02-11T00:00:00Z")),
            Err(DeadlineError::TooLate { notice_by: t("2026-02-10T00:00:00Z") })
        );
        let okitoki = due_dates(&rights("okitoki"), None, received).unwrap();
        assert_eq!(
            extend(&okitoki, false, received).unwrap_err().to_string(),
            "the deadline that applies (our own promise) allows no extension"
        );
    }

    #[test]
    fn a_policy_without_deadlines_falls_back_to_one_month() {
        let mut r = rights("okitoki");
        r.promise = None;
        r.deadlines.clear();
        let d = due_dates(&r, None, t("2026-01-31T00:00:00Z")).unwrap();
        assert_eq!((d.respond_by, d.source), (t("2026-02-28T00:00:00Z"), Source::Fallback));
    }
}
