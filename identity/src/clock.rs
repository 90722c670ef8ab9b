//! The one place that reads the wall clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, the unit of every timestamp in the database.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// (year, month, day, hour, minute, second) in UTC from Unix seconds (Howard Hinnant's
/// civil-from-days algorithm).
fn civil(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3_600, rem % 3_600 / 60, rem % 60)
}

/// RFC 3339 UTC (`2026-11-21T02:52:43Z`) from Unix seconds, for SCIM `meta` and APIs.
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `YYYY-MM-DD HH:MM UTC`, for people reading a page.
pub fn display(secs: i64) -> String {
    let (y, mo, d, h, mi, _) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} UTC")
}

/// `YYYY-MM-DD HH:MM:SS UTC`, where seconds matter (the audit log).
pub fn display_seconds(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// Unix seconds at the start (UTC) of a `YYYY-MM-DD` date; `None` if it is not one
/// (Howard Hinnant's days-from-civil algorithm).
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400;
    // Reject dates that do not exist (31 February): they would not come back the same.
    (civil(secs).2 == d).then_some(secs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_parse_to_the_start_of_their_day_and_impossible_ones_do_not() {
        assert_eq!(super::parse_date("1970-01-01"), Some(0));
        assert_eq!(super::parse_date("2000-02-29"), Some(951_782_400));
        assert_eq!(super::parse_date("2026-11-21"), Some(1_795_219_200));
        assert_eq!(super::parse_date("2026-02-31"), None);
        assert_eq!(super::parse_date("yesterday"), None);
    }

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400 + 61), "2000-02-29T00:01:01Z");
    }

    #[test]
    fn unix_seconds_format_as_utc_dates() {
        assert_eq!(super::display(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::display(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(super::display(1_795_229_563), "2026-11-21 02:52 UTC");
    }
}
