//! Time in journeys: `wait until`, the active window and audience-read schedules, in the
//! journey's time zone with correct daylight-saving handling.
//!
//! A local time that a daylight-saving change skips means the first instant after the gap (the
//! transition itself: 02:30 on a day that jumps from 02:00 to 03:00 means 03:00); a repeated one
//! the earlier instant.

use crate::value::{parse_date, parse_datetime, Value};
use jiff::civil::{self, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};

/// Epoch milliseconds to a timestamp (clamped into range).
pub fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Epoch milliseconds as RFC 3339 in UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    format!("{:.3}", ts(ms))
}

fn local_to_ms(dt: civil::DateTime, tz: &TimeZone) -> Option<i64> {
    let ambiguous = tz.to_ambiguous_timestamp(dt);
    match ambiguous.offset() {
        // Read with the offset after the gap, `dt` falls just before it: the next transition
        // from there is the gap's end, the first instant after it.
        AmbiguousOffset::Gap { after, .. } => {
            let before_gap = after.to_timestamp(dt).ok()?;
            tz.following(before_gap).next().map(|t| t.timestamp().as_millisecond())
        }
        // A fold: "compatible" takes the earlier instant.
        _ => ambiguous.compatible().ok().map(|t| t.as_millisecond()),
    }
}

/// The instant `wait until v` waits for: the first time of day at or after now, a date-time,
/// a local date-time in the zone, or a date's midnight in the zone.
pub fn until(v: &Value, now_ms: i64, tz: &TimeZone) -> Option<i64> {
    match v {
        Value::Time(t) => {
            let today = tz.to_datetime(ts(now_ms)).date();
            let dt = today.to_datetime(*t);
            let at = local_to_ms(dt, tz)?;
            if at >= now_ms {
                return Some(at);
            }
            // A repeated time whose earlier instant has passed: the later one is still the
            // first such time at or after now.
            if let AmbiguousOffset::Fold { after, .. } = tz.to_ambiguous_timestamp(dt).offset() {
                let later = after.to_timestamp(dt).ok()?.as_millisecond();
                if later >= now_ms {
                    return Some(later);
                }
            }
            let tomorrow = today.checked_add(1.day()).ok()?;
            local_to_ms(tomorrow.to_datetime(*t), tz)
        }
        Value::LocalDateTime(dt) => local_to_ms(*dt, tz),
        Value::Date(d) => local_to_ms(d.to_datetime(civil::Time::midnight()), tz),
        other => other.as_timestamp().map(|t| t.as_millisecond()),
    }
}

/// Whether `now` lies in the window `from .. to` (both included; dates are read in the zone).
pub fn in_window(from: &str, to: &str, now_ms: i64, tz: &TimeZone) -> bool {
    let today = tz.to_datetime(ts(now_ms)).date();
    let after_start = match (parse_date(from), parse_datetime(from)) {
        (Some(d), _) => today >= d,
        (_, Some((t, _))) => now_ms >= t.as_millisecond(),
        _ => true,
    };
    let before_end = match (parse_date(to), parse_datetime(to)) {
        (Some(d), _) => today <= d,
        (_, Some((t, _))) => now_ms <= t.as_millisecond(),
        _ => true,
    };
    after_start && before_end
}

fn weekday(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

/// The first firing of a schedule strictly after `after_ms`: `every` is `day` or a weekday
/// with `at` a time of day, or `None` with `at` a date-time (once).
pub fn next_fire(every: Option<&str>, at: &str, after_ms: i64, tz: &TimeZone) -> Option<i64> {
    let Some(every) = every else {
        let (t, _) = parse_datetime(at)?;
        let ms = t.as_millisecond();
        return (ms > after_ms).then_some(ms);
    };
    let time = crate::value::parse_time(at)?;
    let mut date = tz.to_datetime(ts(after_ms)).date();
    for _ in 0..15 {
        let matches = every == "day" || weekday(every) == Some(date.weekday());
        if matches {
            if let Some(ms) = local_to_ms(date.to_datetime(time), tz) {
                if ms > after_ms {
                    return Some(ms);
                }
            }
        }
        date = date.checked_add(1.day()).ok()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn wait_until_a_time_skips_to_tomorrow_when_past() {
        let tz = TimeZone::get("Europe/Stockholm").unwrap();
        let nine = Value::Time(civil::time(9, 0, 0, 0));
        assert_eq!(until(&nine, ms("2026-12-01T07:00:00Z"), &tz), Some(ms("2026-12-01T08:00:00Z")));
        assert_eq!(until(&nine, ms("2026-12-01T08:00:00Z"), &tz), Some(ms("2026-12-01T08:00:00Z")));
        assert_eq!(until(&nine, ms("2026-12-01T09:00:00Z"), &tz), Some(ms("2026-12-02T08:00:00Z")));
    }

    #[test]
    fn daylight_saving_gaps_and_folds() {
        let tz = TimeZone::get("Europe/Paris").unwrap();
        // 2026-03-29: 02:00 -> 03:00. 02:30 does not exist: the first instant after the gap is
        // 03:00 CEST (01:00Z).
        let t = Value::Time(civil::time(2, 30, 0, 0));
        assert_eq!(until(&t, ms("2026-03-28T23:00:00Z"), &tz), Some(ms("2026-03-29T01:00:00Z")));
        // At 03:00 CEST exactly, that instant is now: it goes on at once.
        assert_eq!(until(&t, ms("2026-03-29T01:00:00Z"), &tz), Some(ms("2026-03-29T01:00:00Z")));
        // A local date-time in the gap, and a schedule at a time in the gap, alike.
        let ldt = Value::LocalDateTime(civil::date(2026, 3, 29).at(2, 30, 0, 0));
        assert_eq!(until(&ldt, 0, &tz), Some(ms("2026-03-29T01:00:00Z")));
        assert_eq!(next_fire(Some("day"), "02:30", ms("2026-03-28T02:00:00Z"), &tz), Some(ms("2026-03-29T01:00:00Z")));
        // New York, 2026-03-08: 02:00 -> 03:00 (EST -> EDT); 02:15 means 03:00 EDT (07:00Z).
        let ny = TimeZone::get("America/New_York").unwrap();
        let quarter = Value::Time(civil::time(2, 15, 0, 0));
        assert_eq!(until(&quarter, ms("2026-03-08T05:00:00Z"), &ny), Some(ms("2026-03-08T07:00:00Z")));
        // 2026-10-25: 03:00 -> 02:00. 02:30 happens twice: the earlier one (CEST, +02:00).
        assert_eq!(until(&t, ms("2026-10-24T23:00:00Z"), &tz), Some(ms("2026-10-25T00:30:00Z")));
        // Between the two (02:45 CEST), the first 02:30 at or after now is the later one (CET).
        assert_eq!(until(&t, ms("2026-10-25T00:45:00Z"), &tz), Some(ms("2026-10-25T01:30:00Z")));
        // After both: tomorrow's.
        assert_eq!(until(&t, ms("2026-10-25T01:30:01Z"), &tz), Some(ms("2026-10-26T01:30:00Z")));
    }

    #[test]
    fn windows_include_both_dates() {
        let tz = TimeZone::get("Europe/Stockholm").unwrap();
        assert!(in_window("2026-12-01", "2026-12-31", ms("2026-12-31T22:59:00Z"), &tz));
        assert!(!in_window("2026-12-01", "2026-12-31", ms("2026-12-31T23:00:00Z"), &tz));
        assert!(!in_window("2026-12-01", "2026-12-31", ms("2026-11-30T22:59:00Z"), &tz));
    }

    #[test]
    fn schedules() {
        let tz = TimeZone::get("UTC").unwrap();
        assert_eq!(next_fire(Some("day"), "09:00", ms("2026-01-01T09:00:00Z"), &tz), Some(ms("2026-01-02T09:00:00Z")));
        // 2026-01-01 is a Thursday.
        assert_eq!(
            next_fire(Some("monday"), "09:00", ms("2026-01-01T00:00:00Z"), &tz),
            Some(ms("2026-01-05T09:00:00Z"))
        );
        assert_eq!(
            next_fire(None, "2026-02-01T10:00:00Z", ms("2026-01-01T00:00:00Z"), &tz),
            Some(ms("2026-02-01T10:00:00Z"))
        );
        assert_eq!(next_fire(None, "2026-02-01T10:00:00Z", ms("2026-03-01T00:00:00Z"), &tz), None);
    }
}
