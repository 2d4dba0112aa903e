//! Reading a 2xx response body as the declared `returns` type, validating it first.

use crate::value::{self, Value};
use journey_bytecode::types::Ty;
use serde_json::Value as Json;

/// The value of a successful response's body, or why it does not fit `returns`.
pub fn read_body(body: &[u8], returns: &Ty) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if returns.is_nullable() {
            Ok(Value::Null)
        } else {
            Err(format!("empty response body, expected {returns}"))
        };
    }
    let json: Json = serde_json::from_slice(body).map_err(|e| format!("response is not JSON: {e}"))?;
    validate(&json, returns, &mut String::new()).map_err(|e| format!("response does not match returns: {e}"))?;
    Ok(Value::from_json_typed(&json, returns))
}

/// Checks that `json` has type `ty`; the error names the path of the first mismatch.
pub fn validate(json: &Json, ty: &Ty, path: &mut String) -> Result<(), String> {
    let mismatch = |path: &str, expected: &Ty| {
        let found = match (expected, json) {
            (Ty::Date | Ty::DateTime | Ty::LocalDateTime | Ty::Time | Ty::Duration, Json::String(_)) => {
                format!("a string that is not a {expected}")
            }
            _ => json_kind(json).to_string(),
        };
        if path.is_empty() {
            Err(format!("expected {expected}, found {found}"))
        } else {
            Err(format!("field {path}: expected {expected}, found {found}"))
        }
    };
    let ok = match (ty, json) {
        (Ty::Any, _) => true,
        (Ty::Optional(_) | Ty::Null, Json::Null) => true,
        (Ty::Optional(inner), _) => return validate(json, inner, path),
        (Ty::Bool, Json::Bool(_)) | (Ty::String, Json::String(_)) | (Ty::Number, Json::Number(_)) => true,
        (Ty::Int, Json::Number(n)) => n.is_i64() || n.is_u64() && n.as_i64().is_some() || is_integral(n),
        (Ty::Date, Json::String(s)) => value::parse_date(s).is_some(),
        (Ty::DateTime, Json::String(s)) => value::parse_datetime(s).is_some(),
        (Ty::LocalDateTime, Json::String(s)) => value::parse_local_datetime(s).is_some(),
        (Ty::Time, Json::String(s)) => value::parse_time(s).is_some(),
        (Ty::Duration, Json::String(s)) => value::parse_duration(s).is_some(),
        (Ty::Duration, Json::Number(n)) => n.is_i64(),
        (Ty::List(item), Json::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                validate(v, item, path)?;
                path.truncate(len);
            }
            true
        }
        (Ty::Map(item), Json::Object(m)) => {
            for (k, v) in m {
                let len = push_field(path, k);
                validate(v, item, path)?;
                path.truncate(len);
            }
            true
        }
        (Ty::Record(rt), Json::Object(m)) => {
            for (name, field) in &rt.fields {
                let len = push_field(path, name);
                match m.get(name) {
                    Some(v) => validate(v, &field.ty, path)?,
                    None if field.required || !field.ty.is_nullable() => {
                        return Err(format!("field {path}: missing, expected {}", field.ty));
                    }
                    None => {}
                }
                path.truncate(len);
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        mismatch(path, ty)
    }
}

fn push_field(path: &mut String, name: &str) -> usize {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(name);
    len
}

fn is_integral(n: &serde_json::Number) -> bool {
    n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
}

fn json_kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "list",
        Json::Object(_) => "record",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey_bytecode::types::FieldTy;

    fn loyalty() -> Ty {
        Ty::record([
            ("tier".to_string(), FieldTy::plain(Ty::String, true)),
            ("points".to_string(), FieldTy::plain(Ty::Int, true)),
            ("since".to_string(), FieldTy::plain(Ty::Date, false)),
            ("tags".to_string(), FieldTy::plain(Ty::List(Box::new(Ty::String)), false)),
        ])
    }

    #[test]
    fn good_body() {
        let v = read_body(br#"{"tier":"gold","points":12,"since":"2024-01-02","extra":1}"#, &loyalty()).unwrap();
        assert_eq!(v.field("tier"), Value::from("gold"));
        assert!(matches!(v.field("since"), Value::Date(_)));
    }

    #[test]
    fn mismatches_name_the_path() {
        let e = read_body(br#"{"tier":3,"points":1}"#, &loyalty()).unwrap_err();
        assert_eq!(e, "response does not match returns: field tier: expected string, found number");
        let e = read_body(br#"{"tier":"a"}"#, &loyalty()).unwrap_err();
        assert_eq!(e, "response does not match returns: field points: missing, expected int");
        let e = read_body(br#"{"tier":"a","points":1,"tags":["x",2]}"#, &loyalty()).unwrap_err();
        assert_eq!(e, "response does not match returns: field tags[1]: expected string, found number");
        let e = read_body(br#"{"tier":"a","points":1.5}"#, &loyalty()).unwrap_err();
        assert_eq!(e, "response does not match returns: field points: expected int, found number");
        let e = read_body(b"[1]", &loyalty()).unwrap_err();
        assert!(e.starts_with("response does not match returns: expected { tier: string"), "{e}");
    }

    #[test]
    fn empty_and_bad_bodies() {
        assert_eq!(read_body(b"", &Ty::Any), Ok(Value::Null));
        assert!(read_body(b"", &loyalty()).unwrap_err().starts_with("empty response body"));
        assert!(read_body(b"<html>", &Ty::Any).unwrap_err().starts_with("response is not JSON"));
        assert_eq!(read_body(b"1.0", &Ty::Int), Ok(Value::Int(1)));
    }
}
