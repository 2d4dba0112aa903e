//! Date functions: the clock, relative windows (`inLastDays` ...), and changing parts of dates.
//! A date-time keeps its own offset; a local date-time or date is read in the journey's time
//! zone where an instant is needed; calendar units (days, months, years) count in that zone.

use super::{arg, EvalContext};
use crate::value::Value;
use jiff::civil;
use jiff::tz::{Offset, TimeZone};
use jiff::{Span, Timestamp, ZonedDateTime};

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
    let u = unit.to_ascii_lowercase();
    let u = u.strip_suffix('s').unwrap_or(&u);
    Some(match u {
        "year" => Span::new().try_years(n).ok()?,
        "month" => Span::new().try_months(n).ok()?,
        "week" => Span::new().try_weeks(n).ok()?,
        "day" => Span::new().try_days(n).ok()?,
        "hour" => Span::new().try_hours(n).ok()?,
        "minute" => Span::new().try_minutes(n).ok()?,
        "second" => Span::new().try_seconds(n).ok()?,
        "millisecond" => Span::new().try_milliseconds(n).ok()?,
        _ => return None,
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
    let now = ctx.now.to_zoned_datetime(ctx.timezone.clone());
    let n = if forward { *n } else { -*n };
    let Some(span) = unit_span(n, unit) else { return Value::Null };
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
