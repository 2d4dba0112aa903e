//! Values as text: what string joining, `toString` and `${}` produce, in AJO's (Java's) forms.

use super::Value;
use jiff::civil;
use std::borrow::Cow;
use std::fmt::{self, Write};

impl fmt::Display for Value {
    /// The joining text: null is empty, date-times are RFC 3339 with milliseconds, durations
    /// are `java.time.Duration` text, numbers are Java's `Double.toString`, lists and records JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Number(n) => f.write_str(&format_number(*n)),
            Value::Str(s) => f.write_str(s),
            Value::Date(d) => write_date(f, *d),
            Value::DateTime { offset, .. } => match self.as_offset_civil() {
                Some((dt, _)) => {
                    write_civil(f, dt)?;
                    write_offset(f, *offset)
                }
                None => Ok(()),
            },
            Value::LocalDateTime(dt) => write_civil(f, *dt),
            Value::Time(t) => write_time(f, *t, false),
            Value::Duration(ms) => f.write_str(&format_duration(*ms)),
            Value::List(_) | Value::Record(_) => f.write_str(&self.to_json().to_string()),
        }
    }
}

impl Value {
    /// The joining text, borrowed when the value is a string.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s.as_str()),
            Value::Null => Cow::Borrowed(""),
            other => Cow::Owned(other.to_string()),
        }
    }
}

fn write_date(f: &mut impl Write, d: civil::Date) -> fmt::Result {
    let y = d.year();
    if (0..=9999).contains(&y) {
        write!(f, "{y:04}-{:02}-{:02}", d.month(), d.day())
    } else {
        write!(f, "{y:+05}-{:02}-{:02}", d.month(), d.day())
    }
}

fn write_time(f: &mut impl Write, t: civil::Time, always_millis: bool) -> fmt::Result {
    write!(f, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())?;
    let ms = t.subsec_nanosecond() / 1_000_000;
    if always_millis || ms != 0 {
        write!(f, ".{ms:03}")?;
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS.sss`.
pub(crate) fn write_civil(f: &mut impl Write, dt: civil::DateTime) -> fmt::Result {
    write_date(f, dt.date())?;
    f.write_char('T')?;
    write_time(f, dt.time(), true)
}

/// `Z`, `+02:00` or `+05:30:15`.
pub(crate) fn write_offset(f: &mut impl Write, offset: i32) -> fmt::Result {
    if offset == 0 {
        return f.write_char('Z');
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    write!(f, "{sign}{:02}:{:02}", a / 3600, a / 60 % 60)?;
    if !a.is_multiple_of(60) {
        write!(f, ":{:02}", a % 60)?;
    }
    Ok(())
}

/// A duration in milliseconds as `java.time.Duration.toString()` writes it (`PT1H30M`, `PT-0.5S`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "PT0S".into();
    }
    let seconds = ms.div_euclid(1000);
    let nanos = ms.rem_euclid(1000) * 1_000_000;
    let effective = if seconds < 0 && nanos > 0 { seconds + 1 } else { seconds };
    let hours = effective / 3600;
    let minutes = (effective % 3600) / 60;
    let secs = effective % 60;
    let mut s = String::from("PT");
    if hours != 0 {
        let _ = write!(s, "{hours}H");
    }
    if minutes != 0 {
        let _ = write!(s, "{minutes}M");
    }
    if secs == 0 && nanos == 0 && s.len() > 2 {
        return s;
    }
    if seconds < 0 && nanos > 0 && secs == 0 {
        s.push_str("-0");
    } else {
        let _ = write!(s, "{secs}");
    }
    if nanos > 0 {
        let frac = if seconds < 0 { 2_000_000_000 - nanos } else { nanos + 1_000_000_000 };
        let digits = frac.to_string();
        let digits = digits.trim_end_matches('0');
        s.push('.');
        s.push_str(&digits[1..]);
    }
    s.push('S');
    s
}

/// A float as Java's `Double.toString` writes it: `7.0`, `0.001`, `1.0E-4`, `1.0E21`.
pub fn format_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Shortest round-trip digits, e.g. "1.5e-4".
    let sci = format!("{:e}", n.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if n < 0.0 { "-" } else { "" };
    let a = n.abs();
    if (1e-3..1e7).contains(&a) {
        let point = exp + 1; // digits before the decimal point
        let (int, frac) = if point <= 0 {
            ("0".to_string(), format!("{}{}", "0".repeat((-point) as usize), digits))
        } else if point as usize >= digits.len() {
            (format!("{}{}", digits, "0".repeat(point as usize - digits.len())), String::new())
        } else {
            (digits[..point as usize].to_string(), digits[point as usize..].to_string())
        };
        let frac = if frac.is_empty() { "0".to_string() } else { frac };
        format!("{sign}{int}.{frac}")
    } else {
        let frac = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{}.{frac}E{exp}", &digits[..1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_java_form() {
        assert_eq!(format_duration(0), "PT0S");
        assert_eq!(format_duration(4000), "PT4S");
        assert_eq!(format_duration(500), "PT0.5S");
        assert_eq!(format_duration(1520), "PT1.52S");
        assert_eq!(format_duration(20_345), "PT20.345S");
        assert_eq!(format_duration(36_000_000), "PT10H");
        assert_eq!(format_duration(48 * 3_600_000), "PT48H");
        assert_eq!(format_duration(51 * 3_600_000 + 4 * 60_000), "PT51H4M");
        assert_eq!(format_duration(-(5 * 3_600_000 + 57 * 60_000)), "PT-5H-57M");
        assert_eq!(format_duration(-500), "PT-0.5S");
        assert_eq!(format_duration(-1500), "PT-1.5S");
        assert_eq!(format_duration(90 * 60_000 + 1), "PT1H30M0.001S");
    }

    #[test]
    fn numbers_in_java_form() {
        assert_eq!(format_number(7.0), "7.0");
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(format_number(-2.25), "-2.25");
        assert_eq!(format_number(0.001), "0.001");
        assert_eq!(format_number(0.0001), "1.0E-4");
        assert_eq!(format_number(1234567.0), "1234567.0");
        assert_eq!(format_number(12345678.0), "1.2345678E7");
        assert_eq!(format_number(1e21), "1.0E21");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_number(100.0), "100.0");
    }

    #[test]
    fn joining_text() {
        assert_eq!(Value::Null.to_string(), "");
        assert_eq!(Value::DateTime { millis: 1_781_526_896_789, offset: 0 }.to_string(), "2026-06-15T12:34:56.789Z");
        assert_eq!(
            Value::DateTime { millis: 1_781_526_896_000, offset: 7200 }.to_string(),
            "2026-06-15T14:34:56.000+02:00"
        );
    }
}
