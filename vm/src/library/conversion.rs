//! Conversion: `toBool toDateOnly toDateTime toDateTimeOnly toDecimal toDuration toInteger
//! toString`. A value that cannot be converted gives null.

use super::date::{local_in, zone};
use super::{arg, EvalContext};
use crate::value::{self, Value};
use jiff::civil;
use jiff::Timestamp;

/// `toBool`: `"true"` (exactly) is true, other text false; a number is true when not 0.
pub fn to_bool(args: &[Value], _: &EvalContext) -> Value {
    match arg(args, 0) {
        Value::Bool(b) => Value::Bool(*b),
        Value::Str(s) => Value::Bool(s.as_str() == "true"),
        Value::Int(i) => Value::Bool(*i != 0),
        Value::Number(n) => Value::Bool(*n != 0.0),
        _ => Value::Null,
    }
}

fn utc_civil(millis: i64) -> Option<civil::DateTime> {
    Some(jiff::tz::Offset::UTC.to_datetime(Timestamp::from_millisecond(millis).ok()?))
}

/// `toDateOnly`: from ISO-8601 text (its date part), a date-time (its date at its own offset),
/// a local date-time, epoch milliseconds, or year, month and day.
pub fn to_date_only(args: &[Value], _: &EvalContext) -> Value {
    let d = match args {
        [Value::Int(y), Value::Int(m), Value::Int(d)] => {
            let (Ok(y), Ok(m), Ok(d)) = (i16::try_from(*y), i8::try_from(*m), i8::try_from(*d)) else {
                return Value::Null;
            };
            civil::Date::new(y, m, d).ok()
        }
        [v] => match v {
            Value::Date(d) => Some(*d),
            Value::Str(s) => value::parse_date(s),
            Value::DateTime { .. } => v.as_offset_civil().map(|(dt, _)| dt.date()),
            Value::LocalDateTime(dt) => Some(dt.date()),
            Value::Int(ms) => utc_civil(*ms).map(|dt| dt.date()),
            _ => None,
        },
        _ => None,
    };
    d.map_or(Value::Null, Value::Date)
}

/// `toDateTime(x)`: from ISO-8601 text (without an offset, read in the journey's time zone),
/// epoch milliseconds (UTC), or a date or local date-time read in the journey's time zone;
/// `toDateTime(zone, x)` reads a local date-time, date or text in that zone.
pub fn to_date_time(args: &[Value], ctx: &EvalContext) -> Value {
    match args {
        [v] => to_datetime_in(v, &ctx.timezone),
        [Value::Str(z), v] => match zone(z) {
            Some(tz) => match v {
                Value::DateTime { .. } => super::date::update_time_zone(&[v.clone(), Value::Str(z.clone())], ctx),
                _ => to_datetime_in(v, &tz),
            },
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

fn to_datetime_in(v: &Value, tz: &jiff::tz::TimeZone) -> Value {
    match v {
        Value::DateTime { .. } => v.clone(),
        Value::Str(s) => match value::parse_datetime_in(s, tz) {
            Some((ts, off)) => Value::datetime(ts, off),
            None => Value::Null,
        },
        Value::Int(ms) => match Timestamp::from_millisecond(*ms) {
            Ok(ts) => Value::datetime(ts, 0),
            Err(_) => Value::Null,
        },
        Value::LocalDateTime(dt) => local_in(*dt, tz),
        Value::Date(d) => local_in(d.to_datetime(civil::Time::midnight()), tz),
        _ => Value::Null,
    }
}

/// `toDateTimeOnly`: from ISO-8601 text (a date alone is its midnight), a date-time (its local
/// date and time at its own offset), a date, or epoch milliseconds (UTC).
pub fn to_date_time_only(args: &[Value], _: &EvalContext) -> Value {
    let v = arg(args, 0);
    let dt = match v {
        Value::LocalDateTime(dt) => Some(*dt),
        Value::Str(s) => value::parse_local_datetime(s),
        Value::DateTime { .. } => v.as_offset_civil().map(|(dt, _)| dt),
        Value::Date(d) => Some(d.to_datetime(civil::Time::midnight())),
        Value::Int(ms) => utc_civil(*ms),
        _ => None,
    };
    dt.map_or(Value::Null, Value::LocalDateTime)
}

/// `toDecimal`: from text, an int, a bool (1 or 0), or a date-time (epoch milliseconds).
pub fn to_decimal(args: &[Value], _: &EvalContext) -> Value {
    let v = arg(args, 0);
    let n = match v {
        Value::Number(n) => Some(*n),
        Value::Int(i) => Some(*i as f64),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Str(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        Value::DateTime { millis, .. } => Some(*millis as f64),
        Value::Duration(ms) => Some(*ms as f64),
        _ => None,
    };
    n.map_or(Value::Null, Value::Number)
}

/// `toDuration`: from ISO-8601 text (`PT15M`, `P2DT3H4M`) or milliseconds.
pub fn to_duration(args: &[Value], _: &EvalContext) -> Value {
    match arg(args, 0) {
        Value::Duration(d) => Value::Duration(*d),
        Value::Int(ms) => Value::Duration(*ms),
        Value::Str(s) => value::parse_duration(s).map_or(Value::Null, Value::Duration),
        _ => Value::Null,
    }
}

/// `toInteger`: from integer text, a number (truncated), a bool (1 or 0), a date-time (epoch
/// milliseconds) or a duration (milliseconds).
pub fn to_integer(args: &[Value], _: &EvalContext) -> Value {
    let v = arg(args, 0);
    let i = match v {
        Value::Int(i) => Some(*i),
        Value::Number(n) => truncate(*n),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Str(s) => s.trim().parse::<i64>().ok(),
        Value::DateTime { millis, .. } => Some(*millis),
        Value::Duration(ms) => Some(*ms),
        _ => None,
    };
    i.map_or(Value::Null, Value::Int)
}

/// A float truncated to an int, if it is finite and in range.
pub(crate) fn truncate(n: f64) -> Option<i64> {
    let t = n.trunc();
    (t.is_finite() && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t)).then_some(t as i64)
}

/// `toString`: the value's text (null gives the empty text).
pub fn to_string(args: &[Value], _: &EvalContext) -> Value {
    match arg(args, 0) {
        s @ Value::Str(_) => s.clone(),
        v => Value::str(v.to_string()),
    }
}
