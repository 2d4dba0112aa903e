//! Parsing date, time and duration text (ISO-8601, as AJO's Java runtime reads it).

use jiff::civil;
use jiff::fmt::temporal::Pieces;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A date `YYYY-MM-DD`; of a longer ISO-8601 text, only its date part counts.
pub fn parse_date(s: &str) -> Option<civil::Date> {
    Some(Pieces::parse(s.trim()).ok()?.date())
}

/// An ISO-8601 date-time with an offset (`Z`, `+02:00`) or a time zone annotation
/// (`[Europe/Paris]`): its instant, and the offset in seconds. `None` when it has neither.
pub fn parse_datetime(s: &str) -> Option<(Timestamp, i32)> {
    let p = Pieces::parse(s.trim()).ok()?;
    let time = p.time()?;
    let dt = p.date().to_datetime(time);
    if let Some(off) = p.to_numeric_offset() {
        let ts = off.to_timestamp(dt).ok()?;
        return Some((ts, off.seconds()));
    }
    let tz = p.to_time_zone().ok()??;
    let z = tz.to_zoned_datetime(dt).ok()?;
    Some((z.timestamp(), z.offset().seconds()))
}

/// An ISO-8601 date-time read in a time zone when it has no offset of its own.
pub fn parse_datetime_in(s: &str, tz: &TimeZone) -> Option<(Timestamp, i32)> {
    parse_datetime(s).or_else(|| {
        let dt = parse_local_datetime(s)?;
        let z = tz.to_zoned_datetime(dt).ok()?;
        Some((z.timestamp(), z.offset().seconds()))
    })
}

/// A local date-time `YYYY-MM-DDTHH:MM:SS[.fff]`; a date alone is its midnight; an offset is ignored.
pub fn parse_local_datetime(s: &str) -> Option<civil::DateTime> {
    let p = Pieces::parse(s.trim()).ok()?;
    Some(p.date().to_datetime(p.time().unwrap_or(civil::Time::midnight())))
}

/// A time of day `HH:MM[:SS[.fff]]`.
pub fn parse_time(s: &str) -> Option<civil::Time> {
    s.trim().parse().ok()
}

/// An ISO-8601 duration as `java.time.Duration.parse` reads it (`PT15M`, `P2DT3H4M`, `-PT-6H+3M`,
/// `PT20.345S`; days are 24 hours), in milliseconds (finer fractions are truncated).
pub fn parse_duration(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let mut i = 0;
    let negate = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    if !matches!(b.get(i), Some(b'P' | b'p')) {
        return None;
    }
    i += 1;
    let mut total: i128 = 0;
    let mut any = false;
    let mut in_time = false;
    let mut units_seen = 0u8; // D=1, H=2, M=3, S=4: must increase
    while i < b.len() {
        if matches!(b[i], b'T' | b't') {
            if in_time || i + 1 >= b.len() {
                return None;
            }
            in_time = true;
            i += 1;
            continue;
        }
        let neg = match b[i] {
            b'-' => {
                i += 1;
                true
            }
            b'+' => {
                i += 1;
                false
            }
            _ => false,
        };
        let digits_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == digits_start {
            return None;
        }
        let whole: i128 = std::str::from_utf8(&b[digits_start..i]).ok()?.parse().ok()?;
        let mut frac_ms: i128 = 0;
        let mut has_frac = false;
        if i < b.len() && matches!(b[i], b'.' | b',') {
            has_frac = true;
            i += 1;
            let fs = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i - fs > 9 {
                return None;
            }
            let frac = std::str::from_utf8(&b[fs..i]).ok()?;
            let padded = format!("{frac:0<3}");
            frac_ms = padded[..3].parse().ok()?;
        }
        let unit = b.get(i)?.to_ascii_uppercase();
        i += 1;
        let (rank, ms_per): (u8, i128) = match (unit, in_time) {
            (b'D', false) => (1, 86_400_000),
            (b'H', true) => (2, 3_600_000),
            (b'M', true) => (3, 60_000),
            (b'S', true) => (4, 1000),
            _ => return None,
        };
        if rank <= units_seen || (has_frac && unit != b'S') {
            return None;
        }
        units_seen = rank;
        any = true;
        let value = whole * ms_per + frac_ms;
        total += if neg { -value } else { value };
    }
    if !any {
        return None;
    }
    if negate {
        total = -total;
    }
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_durations() {
        assert_eq!(parse_duration("PT10H"), Some(36_000_000));
        assert_eq!(parse_duration("PT20.345S"), Some(20_345));
        assert_eq!(parse_duration("P2D"), Some(172_800_000));
        assert_eq!(parse_duration("P2DT3H4M"), Some((51 * 60 + 4) * 60_000));
        assert_eq!(parse_duration("PT-6H3M"), Some(-(5 * 60 + 57) * 60_000));
        assert_eq!(parse_duration("-PT-6H+3M"), Some((5 * 60 + 57) * 60_000));
        assert_eq!(parse_duration("PT-0.5S"), Some(-500));
        assert_eq!(parse_duration("pt1,5s"), Some(1500));
        for bad in ["", "P", "PT", "P1H", "PT1D", "PT1M1H", "10", "PT1.5M", "P1DT"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn datetimes_keep_their_offset() {
        let (ts, off) = parse_datetime("2023-08-28T08:15:30.123-07:00").unwrap();
        assert_eq!(off, -7 * 3600);
        assert_eq!(ts.to_string(), "2023-08-28T15:15:30.123Z");
        assert!(parse_datetime("2023-08-28T08:15:30").is_none());
        assert!(parse_datetime("not a date").is_none());
        let (_, off) = parse_datetime("2023-08-28T08:15:30[Europe/Paris]").unwrap();
        assert_eq!(off, 7200);
    }

    #[test]
    fn dates_take_the_date_part() {
        assert_eq!(parse_date("2023-08-18T00:00:00.000Z"), Some(civil::date(2023, 8, 18)));
        assert_eq!(parse_local_datetime("2023-08-18"), Some(civil::date(2023, 8, 18).at(0, 0, 0, 0)));
        assert_eq!(parse_time("09:00"), Some(civil::time(9, 0, 0, 0)));
    }
}
