//! Timestamps as seconds since the Unix epoch, written as RFC 3339 in UTC
//! (`2025-03-14T09:26:53Z`), which SQLite stores as text and PostgreSQL reads as `timestamptz`.

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
pub const YEAR: i64 = 365 * DAY;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the epoch of midnight UTC on a date.
pub fn midnight(y: i64, m: u32, d: u32) -> i64 {
    days_from_civil(y, m, d) * DAY
}

/// Parses `YYYY-MM-DD` (midnight UTC) into seconds since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let t = midnight(y, m, d);
    (civil_from_days(t.div_euclid(DAY)) == (y, m, d)).then_some(t)
}

/// Writes `2025-03-14T09:26:53Z` into a fixed buffer and returns it as text.
pub fn rfc3339(t: i64, buf: &mut [u8; 20]) -> &str {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    let (hh, mm, ss) = (s / HOUR, (s % HOUR) / MINUTE, s % MINUTE);
    let y = y.clamp(0, 9999) as u32;
    let digits = |out: &mut [u8], v: u32| {
        let n = out.len();
        let mut v = v;
        for i in (0..n).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut buf[0..4], y);
    buf[4] = b'-';
    digits(&mut buf[5..7], m);
    buf[7] = b'-';
    digits(&mut buf[8..10], d);
    buf[10] = b'T';
    digits(&mut buf[11..13], hh as u32);
    buf[13] = b':';
    digits(&mut buf[14..16], mm as u32);
    buf[16] = b':';
    digits(&mut buf[17..19], ss as u32);
    buf[19] = b'Z';
    // Only ASCII digits and separators were written.
    std::str::from_utf8(buf).unwrap_or("1970-01-01T00:00:00Z")
}

/// The same, as an owned string.
pub fn format(t: i64) -> String {
    rfc3339(t, &mut [0; 20]).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format(1_741_944_413), "2025-03-14T09:26:53Z");
        assert_eq!(format(midnight(2026, 11, 1)), "2026-11-01T00:00:00Z");
    }

    #[test]
    fn civil_round_trips() {
        for day in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn parses_dates() {
        assert_eq!(parse_date("2026-11-01"), Some(midnight(2026, 11, 1)));
        for bad in ["2026-02-30", "2026-1-01", "26-11-01", "2026-11-01T00:00", "x"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
