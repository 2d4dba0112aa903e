//! Checks of the fields around a payload that the API takes: an event's `id` and `at`, and
//! profile writes against the profile schema. Kept apart from the payload check so that each
//! reason names the field and what it must be.

use journey_compiler::types::Ty;
use serde_json::value::RawValue;
use serde_json::Value as Json;

/// The longest event id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// The earliest and latest `at` taken (RFC 3339 has four-digit years).
const AT_RANGE: &str = "0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z";

/// An event's `id`: absent (no idempotency), or a non-empty string of at most
/// [`MAX_ID_BYTES`] bytes. `null`, numbers and objects are refused: stored without an id they
/// would silently lose idempotency.
pub fn event_id(field: Option<&RawValue>) -> Result<Option<String>, String> {
    let Some(raw) = field else { return Ok(None) };
    let Ok(id) = serde_json::from_str::<String>(raw.get()) else {
        return Err(format!(
            "\"id\" must be a string (the event's idempotency key), not {}; leave it out to send without one",
            kind(raw)
        ));
    };
    if id.is_empty() {
        return Err("\"id\" is empty: give a non-empty string, or leave it out".into());
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!("\"id\" is {} bytes; the limit is {MAX_ID_BYTES}", id.len()));
    }
    Ok(Some(id))
}

/// The id to echo in a rejection: the `id` when it is a string.
pub fn echo_id(field: Option<&RawValue>) -> Option<String> {
    field.and_then(|r| serde_json::from_str::<String>(r.get()).ok())
}

/// An event's `at` in milliseconds since the epoch: absent means `now`, and a time after `now`
/// is taken as `now`. Any RFC 3339 date-time with a four-digit year is taken, to
/// 9999-12-31T23:59:59.999Z.
pub fn event_time(field: Option<&RawValue>, now: i64) -> Result<i64, String> {
    let Some(raw) = field else { return Ok(now) };
    let Ok(text) = serde_json::from_str::<String>(raw.get()) else {
        return Err(format!(
            "\"at\" must be an RFC 3339 date-time string such as \"2026-05-01T09:30:00Z\", not {}",
            kind(raw)
        ));
    };
    Ok(rfc3339_ms(&text)?.min(now))
}

/// Milliseconds since the epoch of an RFC 3339 date-time. Read from its parts rather than as a
/// `jiff::Timestamp`, whose range stops short of the last day of 9999.
fn rfc3339_ms(text: &str) -> Result<i64, String> {
    use jiff::fmt::temporal::{Pieces, PiecesOffset};
    let bad = |why: String| {
        format!("\"at\" is not an RFC 3339 date-time from {AT_RANGE} (such as \"2026-05-01T09:30:00Z\"): {why}")
    };
    let pieces = Pieces::parse(text).map_err(|e| bad(e.to_string()))?;
    let Some(time) = pieces.time() else {
        return Err(bad("it has no time of day".into()));
    };
    let offset_s = match pieces.offset() {
        Some(PiecesOffset::Zulu) => 0,
        Some(PiecesOffset::Numeric(n)) => i64::from(n.offset().seconds()),
        Some(_) | None => return Err(bad("it has no offset: end it with `Z` or `+hh:mm`".into())),
    };
    let date = pieces.date();
    if !(0..=9999).contains(&date.year()) {
        return Err(format!("\"at\" is out of range: give a time from {AT_RANGE}"));
    }
    let epoch = jiff::civil::date(1970, 1, 1);
    let days = i64::from(date.since(epoch).map_err(|e| bad(e.to_string()))?.get_days());
    let day_ms = (i64::from(time.hour()) * 3_600 + i64::from(time.minute()) * 60 + i64::from(time.second())) * 1_000
        + i64::from(time.millisecond());
    let ms = days * 86_400_000 + day_ms - offset_s * 1_000;
    // An offset may carry the last local day of 9999 into the year 10000 (and year 0 into -1).
    const MAX_MS: i64 = 253_402_300_799_999;
    const MIN_MS: i64 = -62_167_219_200_000;
    if !(MIN_MS..=MAX_MS).contains(&ms) {
        return Err(format!("\"at\" is out of range: give a time from {AT_RANGE}"));
    }
    Ok(ms)
}

/// A profile write's attributes against the profile schema: a `PUT` replaces the profile and
/// is checked whole; a `PATCH` (JSON merge patch) is checked for what it sets, and may remove
/// (`null`) only fields that may be absent.
pub fn profile(attributes: &Json, schema: Option<&Ty>, patch: bool) -> Result<(), String> {
    let Some(ty) = schema else { return Ok(()) };
    let mut path = String::new();
    let checked = if patch {
        check_patch(attributes, ty, &mut path)
    } else {
        journey_vm::http::validate(attributes, ty, &mut path)
    };
    checked.map_err(|e| format!("the profile does not match the profile schema: {e}"))
}

fn check_patch(patch: &Json, ty: &Ty, path: &mut String) -> Result<(), String> {
    let ty = match ty {
        Ty::Optional(inner) => inner,
        other => other,
    };
    let (Ty::Record(record), Json::Object(fields)) = (ty, patch) else {
        // Anything but a record merged into a record replaces the value.
        return journey_vm::http::validate(patch, ty, path);
    };
    for (name, value) in fields {
        let Some(field) = record.fields.get(name) else { continue };
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
        if value.is_null() {
            if field.required || !field.ty.is_nullable() {
                return Err(format!("field {path}: cannot be removed (null), expected {}", field.ty));
            }
        } else {
            check_patch(value, &field.ty, path)?;
        }
        path.truncate(len);
    }
    Ok(())
}

fn kind(raw: &RawValue) -> &'static str {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'n') => "null",
        Some(b't' | b'f') => "a bool",
        Some(b'{') => "an object",
        Some(b'[') => "a list",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_four_digit_year_is_read_and_the_rest_refused_with_the_range() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(rfc3339_ms("1970-01-01T01:00:00.250+01:00"), Ok(250));
        assert_eq!(rfc3339_ms("9999-12-31T23:59:59.999Z"), Ok(253_402_300_799_999));
        assert_eq!(rfc3339_ms("0000-01-01T00:00:00Z"), Ok(-62_167_219_200_000));
        let jiff = "2026-05-01T09:30:00Z".parse::<jiff::Timestamp>().map(|t| t.as_millisecond());
        assert_eq!(rfc3339_ms("2026-05-01T09:30:00Z").ok(), jiff.ok());
        for out in ["9999-12-31T23:59:59-01:00", "-000001-01-01T00:00:00Z"] {
            let e = rfc3339_ms(out).expect_err(out);
            assert!(e.contains("out of range") && e.contains(AT_RANGE), "{out}: {e}");
        }
        assert!(rfc3339_ms("2026-05-01").is_err_and(|e| e.contains("no time of day")));
        assert!(rfc3339_ms("2026-05-01T09:30:00").is_err_and(|e| e.contains("no offset")));
    }
}
