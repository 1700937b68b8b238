//! Wall-clock timestamps in the form socat's logs and dumps use: `2026/11/21 16:30:00` (UTC),
//! optionally with microseconds; and deadlines on the monotonic clock that cannot overflow.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far ahead a deadline too far to represent is put instead: longer than any option
/// allows (a century), so it is never reached.
const FAR_AHEAD: Duration = Duration::from_secs(200 * 365 * 86_400);

/// `from + after` on tokio's clock. Options are bounded when parsed, but a deadline must not
/// panic on overflow whatever reaches it: one beyond the clock's range is a deadline that
/// never comes.
pub(crate) fn deadline_after(from: tokio::time::Instant, after: Duration) -> tokio::time::Instant {
    from.checked_add(after)
        .or_else(|| from.checked_add(FAR_AHEAD))
        .unwrap_or(from)
}

/// `from + after` on the standard library's clock, with the same rule as [`deadline_after`].
pub(crate) fn std_deadline_after(from: std::time::Instant, after: Duration) -> std::time::Instant {
    from.checked_add(after)
        .or_else(|| from.checked_add(FAR_AHEAD))
        .unwrap_or(from)
}

/// Formats `time` as `YYYY/MM/DD HH:MM:SS[.micros]` in UTC.
pub fn timestamp(time: SystemTime, micros: bool) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    if micros {
        format!(
            "{year:04}/{month:02}/{day:02} {h:02}:{m:02}:{s:02}.{:06}",
            since.subsec_micros()
        )
    } else {
        format!("{year:04}/{month:02}/{day:02} {h:02}:{m:02}:{s:02}")
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_saturate_instead_of_overflowing() {
        let now = tokio::time::Instant::now();
        assert_eq!(
            deadline_after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert!(deadline_after(now, Duration::MAX) >= now + FAR_AHEAD);
        let now = std::time::Instant::now();
        assert!(std_deadline_after(now, Duration::MAX) >= now + FAR_AHEAD);
    }

    #[test]
    fn formats_known_instants() {
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(timestamp(at(0), false), "1970/01/01 00:00:00");
        assert_eq!(timestamp(at(951_782_400), false), "2000/02/29 00:00:00");
        assert_eq!(timestamp(at(1_795_019_400), false), "2026/11/18 16:30:00");
        assert_eq!(
            timestamp(at(0) + Duration::from_micros(42), true),
            "1970/01/01 00:00:00.000042"
        );
    }
}
