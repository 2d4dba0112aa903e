//! Date functions: the clock, relative windows (`inLastDays` ...), and changing parts of dates.
//! A date-time keeps its own offset; a local date-time or date is read in the journey's time
//! zone where an instant is needed; calendar units (days, months, years) count in that zone.

use super::{arg, EvalContext};
use crate::value::Value;
use jiff::civil;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp, ZonedDateTime};

/// A time zone by IANA name (`Europe/Paris`, `UTC`) or fixed offset (`+02:00`, `Z`).
pub fn zone(name: &str) -> Option<TimeZone> {
    if let Ok(tz) = TimeZone::get(name) {
        return Some(tz);
    }
    let s = name.strip_prefix("UTC").or_else(|| name.strip_prefix("GMT")).unwrap_or(name);
    if s == "Z" || s.is_empty() {
        return Some(TimeZone::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if rest.len() == 4 => (rest[..2].parse().ok()?, rest[2..].parse().ok()?),
        None => (rest.parse().ok()?, 0),
    };
    if h > 18 || m > 59 {
        return None;
    }
    Some(TimeZone::fixed(Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()?))
}

/// A local date-time read in a time zone (a skipped time moves past the gap, a repeated one
/// takes the earlier instant), as a date-time at that zone's offset.
pub fn local_in(dt: civil::DateTime, tz: &TimeZone) -> Value {
    match tz.to_zoned_datetime(dt) {
        Ok(z) => zoned_value(&z),
        Err(_) => Value::Null,
    }
}

fn zoned_value(z: &ZonedDateTime) -> Value {
    Value::datetime(z.timestamp(), z.offset().seconds())
}

/// The instant of a date-time, local date-time or date (the latter two in the journey's zone).
pub fn instant(v: &Value, tz: &TimeZone) -> Option<Timestamp> {
    match v {
        Value::DateTime { .. } => v.as_timestamp(),
        Value::LocalDateTime(dt) => tz.to_zoned_datetime(*dt).ok().map(|z| z.timestamp()),
        Value::Date(d) => tz.to_zoned_datetime(d.to_datetime(civil::Time::midnight())).ok().map(|z| z.timestamp()),
        _ => None,
    }
}

/// The local date and time of a date, date-time or local date-time in the journey's zone.
fn civil_in(v: &Value, tz: &TimeZone) -> Option<civil::DateTime> {
    match v {
        Value::LocalDateTime(dt) => Some(*dt),
        Value::Date(d) => Some(d.to_datetime(civil::Time::midnight())),
        Value::DateTime { .. } => Some(tz.to_datetime(v.as_timestamp()?)),
        _ => None,
    }
}

/// `currentTimeInMillis()`.
pub fn current_time_in_millis(_: &[Value], ctx: &EvalContext) -> Value {
    Value::Int(ctx.now.as_millisecond())
}

/// `now()` in UTC, or `now(zone)` at that zone's offset.
pub fn now(args: &[Value], ctx: &EvalContext) -> Value {
    match args {
        [] => Value::datetime(ctx.now, 0),
        [Value::Str(z)] => zone(z).map_or(Value::Null, |tz| Value::datetime_in(ctx.now, &tz)),
        _ => Value::Null,
    }
}

fn unit_span(n: i64, unit: &str) -> Option<Span> {
    // Case-insensitive, with or without the plural `s` (no lowercased copy).
    let u = unit.strip_suffix(['s', 'S']).unwrap_or(unit);
    let is = |name: &str| u.eq_ignore_ascii_case(name);
    Some(if is("year") {
        Span::new().try_years(n).ok()?
    } else if is("month") {
        Span::new().try_months(n).ok()?
    } else if is("week") {
        Span::new().try_weeks(n).ok()?
    } else if is("day") {
        Span::new().try_days(n).ok()?
    } else if is("hour") {
        Span::new().try_hours(n).ok()?
    } else if is("minute") {
        Span::new().try_minutes(n).ok()?
    } else if is("second") {
        Span::new().try_seconds(n).ok()?
    } else if is("millisecond") {
        Span::new().try_milliseconds(n).ok()?
    } else {
        return None;
    })
}

/// `nowWithDelta(n, unit[, zone])`: now plus `n` units (`years` .. `seconds`), in UTC or the zone.
pub fn now_with_delta(args: &[Value], ctx: &EvalContext) -> Value {
    let (Value::Int(n), Value::Str(unit)) = (arg(args, 0), arg(args, 1)) else { return Value::Null };
    let tz = match args.get(2) {
        None => TimeZone::UTC,
        Some(Value::Str(z)) => match zone(z) {
            Some(tz) => tz,
            None => return Value::Null,
        },
        Some(_) => return Value::Null,
    };
    let Some(span) = unit_span(*n, unit) else { return Value::Null };
    match ctx.now.to_zoned_datetime(tz).checked_add(span) {
        Ok(z) => zoned_value(&z),
        Err(_) => Value::Null,
    }
}

/// Whether `v` lies between now and now shifted by `n` units (both ends included); a date is
/// compared by its day.
fn window(args: &[Value], ctx: &EvalContext, unit: &str, forward: bool) -> Value {
    let (v, Value::Int(n)) = (arg(args, 0), arg(args, 1)) else { return Value::Null };
    let n = if forward { *n } else { -*n };
    let Some(span) = unit_span(n, unit) else { return Value::Null };
    if let Some(inside) = exact_window(v, ctx, unit, n, forward) {
        return inside;
    }
    zoned_window(v, ctx, span, forward)
}

/// [`window`] with zoned date-time arithmetic.
fn zoned_window(v: &Value, ctx: &EvalContext, span: Span, forward: bool) -> Value {
    let now = ctx.now.to_zoned_datetime(ctx.timezone.clone());
    let Ok(other) = now.checked_add(span) else { return Value::Null };
    let (lo, hi) = if forward { (now, other) } else { (other, now) };
    let inside = match v {
        Value::Date(d) => lo.date() <= *d && *d <= hi.date(),
        _ => match instant(v, &ctx.timezone) {
            Some(t) => lo.timestamp() <= t && t <= hi.timestamp(),
            None => return Value::Null,
        },
    };
    Value::Bool(inside)
}

/// [`window`] for units of exact length: hours always, and days in a zone of fixed offset
/// (UTC). Plain instant arithmetic then gives the instants the zoned arithmetic gives, without
/// building zoned date-times. `None` for other units and zones, and far from the present (near
/// the ends of the supported range), where [`window`] decides.
fn exact_window(v: &Value, ctx: &EvalContext, unit: &str, n: i64, forward: bool) -> Option<Value> {
    let seconds = match unit {
        "hours" => n.checked_mul(3_600)?,
        "days" if ctx.timezone.to_fixed_offset().is_ok() => n.checked_mul(86_400)?,
        _ => return None,
    };
    let other = ctx.now.checked_add(SignedDuration::from_secs(seconds)).ok()?;
    const FAR: i64 = 200_000_000_000; // seconds, about 6,300 years
    if ctx.now.as_second().abs() > FAR || other.as_second().abs() > FAR {
        return None;
    }
    let (lo, hi) = if forward { (ctx.now, other) } else { (other, ctx.now) };
    Some(Value::Bool(match v {
        Value::Date(d) => ctx.timezone.to_datetime(lo).date() <= *d && *d <= ctx.timezone.to_datetime(hi).date(),
        _ => match instant(v, &ctx.timezone) {
            Some(t) => lo <= t && t <= hi,
            None => return Some(Value::Null),
        },
    }))
}

/// `inLastDays(d, n)`.
pub fn in_last_days(args: &[Value], ctx: &EvalContext) -> Value {
    window(args, ctx, "days", false)
}

/// `inLastHours(d, n)`.
pub fn in_last_hours(args: &[Value], ctx: &EvalContext) -> Value {
    window(args, ctx, "hours", false)
}

/// `inLastMonths(d, n)`.
pub fn in_last_months(args: &[Value], ctx: &EvalContext) -> Value {
    window(args, ctx, "months", false)
}

/// `inLastYears(d, n)`.
pub fn in_last_years(args: &[Value], ctx: &EvalContext) -> Value {
    window(args, ctx, "years", false)
}

/// `inNextDays(d, n)`.
pub fn in_next_days(args: &[Value], ctx: &EvalContext) -> Value {
    window(args, ctx, "days", true)
}

/// `inNextHours(d, n)`.
pub fn in_next_hours(args: &[Value], ctx: &EvalContext) -> Value {
    window(args, ctx, "hours", true)
}

/// `inNextMonths(d, n)`.
pub fn in_next_months(args: &[Value], ctx: &EvalContext) -> Value {
    window(args, ctx, "months", true)
}

/// `inNextYears(d, n)`.
pub fn in_next_years(args: &[Value], ctx: &EvalContext) -> Value {
    window(args, ctx, "years", true)
}

/// Changes the local date-time of a date-time (at its own offset), local date-time or date.
fn set_part(v: &Value, n: &Value, f: fn(civil::DateTime, i8) -> Option<civil::DateTime>, on_date: bool) -> Value {
    let Some(n) = n.as_int().and_then(|n| i8::try_from(n).ok()) else { return Value::Null };
    match v {
        Value::DateTime { .. } => {
            let Some((dt, off)) = v.as_offset_civil() else { return Value::Null };
            let Some(new) = f(dt, n) else { return Value::Null };
            match Offset::from_seconds(off).ok().and_then(|o| o.to_timestamp(new).ok()) {
                Some(ts) => Value::datetime(ts, off),
                None => Value::Null,
            }
        }
        Value::LocalDateTime(dt) => f(*dt, n).map_or(Value::Null, Value::LocalDateTime),
        Value::Date(d) if on_date => {
            f(d.to_datetime(civil::Time::midnight()), n).map_or(Value::Null, |dt| Value::Date(dt.date()))
        }
        _ => Value::Null,
    }
}

/// `setDays(d, n)`: the same date-time on day `n` of its month (null when there is no such day).
pub fn set_days(args: &[Value], _: &EvalContext) -> Value {
    set_part(arg(args, 0), arg(args, 1), |dt, n| dt.with().day(n).build().ok(), true)
}

/// `setHours(d, n)`: the same date-time at hour `n` (0-23), minutes and seconds kept.
pub fn set_hours(args: &[Value], _: &EvalContext) -> Value {
    set_part(arg(args, 0), arg(args, 1), |dt, n| dt.with().hour(n).build().ok(), false)
}

/// `updateTimeZone(dt, zone)`: the same instant at the zone's offset.
pub fn update_time_zone(args: &[Value], _: &EvalContext) -> Value {
    match (arg(args, 0), arg(args, 1)) {
        (v @ Value::DateTime { .. }, Value::Str(z)) => match (v.as_timestamp(), zone(z)) {
            (Some(ts), Some(tz)) => Value::datetime_in(ts, &tz),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// `dayOfWeek(d)`: 1 = Monday .. 7 = Sunday, in the journey's time zone.
pub fn day_of_week(args: &[Value], ctx: &EvalContext) -> Value {
    civil_in(arg(args, 0), &ctx.timezone)
        .map_or(Value::Null, |dt| Value::Int(dt.weekday().to_monday_one_offset().into()))
}

/// `timeOf(d)`: the time of day in the journey's time zone.
pub fn time_of(args: &[Value], ctx: &EvalContext) -> Value {
    civil_in(arg(args, 0), &ctx.timezone).map_or(Value::Null, |dt| Value::Time(dt.time()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact-length shortcut gives what the zoned arithmetic gives.
    #[test]
    fn exact_windows_agree_with_zoned_arithmetic() {
        let zones =
            [TimeZone::UTC, TimeZone::fixed(Offset::from_seconds(19_800).unwrap()), zone("Europe/Paris").unwrap()];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut checked = 0;
        for _ in 0..20_000 {
            let now_ms = 1_700_000_000_000 + (next() % 200_000_000_000) as i64 - 100_000_000_000;
            let now = Timestamp::from_millisecond(now_ms).unwrap();
            let tz = zones[(next() % 3) as usize].clone();
            let ctx = EvalContext::new(now, tz.clone());
            let n = (next() % 400) as i64 - 50;
            let at = now_ms + (next() % 40_000_000_000) as i64 - 20_000_000_000;
            let ts = Timestamp::from_millisecond(at).unwrap();
            let v = match next() % 3 {
                0 => Value::datetime(ts, 0),
                1 => Value::Date(tz.to_datetime(ts).date()),
                _ => Value::LocalDateTime(tz.to_datetime(ts)),
            };
            for (unit, forward) in [("days", false), ("days", true), ("hours", false), ("hours", true)] {
                let signed = if forward { n } else { -n };
                let span = unit_span(signed, unit).unwrap();
                if let Some(fast) = exact_window(&v, &ctx, unit, signed, forward) {
                    assert_eq!(
                        fast,
                        zoned_window(&v, &ctx, span, forward),
                        "{unit} {n} {forward} at {now} of {v:?} in {tz:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 30_000);
    }
}
