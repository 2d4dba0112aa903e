//! Values to and from JSON, in the conformance encoding: date-times as RFC 3339 text with
//! milliseconds and offset (`Z` at zero), local date-times `YYYY-MM-DDTHH:MM:SS.sss`, dates
//! `YYYY-MM-DD`, durations in `java.time.Duration` form, ints as integers, numbers as floats.

use crate::projection::Projection;
use crate::value::{self, Record, Value};
use journey_compiler::types::Ty;
use serde_json::{Map, Number, Value as Json};

impl Value {
    /// The value as JSON.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::Number((*i).into()),
            Value::Number(n) => Number::from_f64(*n).map_or(Json::Null, Json::Number),
            Value::Str(s) => Json::String(s.to_string()),
            Value::Date(_) | Value::DateTime { .. } | Value::LocalDateTime(_) | Value::Time(_) | Value::Duration(_) => {
                Json::String(self.to_string())
            }
            Value::List(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Record(r) => {
                let mut m = Map::with_capacity(r.len());
                for (k, v) in r.iter() {
                    m.insert(k.to_string(), v.to_json());
                }
                Json::Object(m)
            }
        }
    }

    /// A value from untyped JSON: integers become `int`, other numbers `number`, strings stay
    /// strings, objects become records.
    pub fn from_json(j: &Json) -> Value {
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => n.as_f64().map_or(Value::Null, Value::Number),
            },
            Json::String(s) => Value::str(s.as_str()),
            Json::Array(items) => Value::list(items.iter().map(Value::from_json).collect()),
            Json::Object(m) => {
                let mut r = Record::with_capacity(m.len());
                for (k, v) in m {
                    r.push_unchecked(k.as_str(), Value::from_json(v));
                }
                Value::record(r)
            }
        }
    }

    /// A value from JSON read as the schema type `ty`: date and date-time strings become dates
    /// and date-times, durations are read from ISO-8601 text or milliseconds, numbers take the
    /// declared kind. A value that does not fit its type is kept as untyped JSON reads it.
    pub fn from_json_typed(j: &Json, ty: &Ty) -> Value {
        match (ty, j) {
            (_, Json::Null) => Value::Null,
            (Ty::Optional(inner), _) => Value::from_json_typed(j, inner),
            (Ty::Int, Json::Number(n)) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Value::Int(f as i64),
                    Some(f) => Value::Number(f),
                    None => Value::Null,
                },
            },
            (Ty::Number, Json::Number(n)) => n.as_f64().map_or(Value::Null, Value::Number),
            (Ty::Date, Json::String(s)) => value::parse_date(s).map_or_else(|| Value::from_json(j), Value::Date),
            (Ty::DateTime, Json::String(s)) => match value::parse_datetime(s) {
                Some((ts, off)) => Value::datetime(ts, off),
                None => Value::from_json(j),
            },
            (Ty::LocalDateTime, Json::String(s)) => {
                value::parse_local_datetime(s).map_or_else(|| Value::from_json(j), Value::LocalDateTime)
            }
            (Ty::Time, Json::String(s)) => value::parse_time(s).map_or_else(|| Value::from_json(j), Value::Time),
            (Ty::Duration, Json::String(s)) => {
                value::parse_duration(s).map_or_else(|| Value::from_json(j), Value::Duration)
            }
            (Ty::Duration, Json::Number(n)) => n.as_i64().map_or_else(|| Value::from_json(j), Value::Duration),
            (Ty::List(item), Json::Array(items)) => {
                Value::list(items.iter().map(|v| Value::from_json_typed(v, item)).collect())
            }
            (Ty::Map(item), Json::Object(m)) => {
                let mut r = Record::with_capacity(m.len());
                for (k, v) in m {
                    r.push_unchecked(k.as_str(), Value::from_json_typed(v, item));
                }
                Value::record(r)
            }
            (Ty::Record(rt), Json::Object(m)) => {
                let mut r = Record::with_capacity(m.len());
                for (k, v) in m {
                    let v = match rt.fields.get(k) {
                        Some(f) => Value::from_json_typed(v, &f.ty),
                        None => Value::from_json(v),
                    };
                    r.push_unchecked(k.as_str(), v);
                }
                Value::record(r)
            }
            _ => Value::from_json(j),
        }
    }

    /// [`Value::from_json_typed`] of only the part of `j` that `part` names: records keep only
    /// the listed fields. The value at every listed path is the one the full conversion gives.
    pub fn from_json_projected(j: &Json, ty: &Ty, part: &Projection) -> Value {
        let Projection::Fields(fields) = part else { return Value::from_json_typed(j, ty) };
        let Json::Object(m) = j else { return Value::from_json_typed(j, ty) };
        let mut ty = ty;
        while let Ty::Optional(inner) = ty {
            ty = inner;
        }
        let mut r = Record::with_capacity(fields.len());
        for (k, sub) in fields {
            let Some((key, v)) = m.get_key_value(k.as_str()) else { continue };
            let v = match ty {
                Ty::Record(rt) => match rt.fields.get(key) {
                    Some(f) => Value::from_json_projected(v, &f.ty, sub),
                    None => Value::from_json_untyped_projected(v, sub),
                },
                Ty::Map(item) => Value::from_json_projected(v, item, sub),
                _ => Value::from_json_untyped_projected(v, sub),
            };
            r.push_unchecked(key.as_str(), v);
        }
        Value::record(r)
    }

    /// [`Value::from_json`] of only the part of `j` that `part` names.
    fn from_json_untyped_projected(j: &Json, part: &Projection) -> Value {
        let (Projection::Fields(fields), Json::Object(m)) = (part, j) else { return Value::from_json(j) };
        let mut r = Record::with_capacity(fields.len());
        for (k, sub) in fields {
            if let Some((key, v)) = m.get_key_value(k.as_str()) {
                r.push_unchecked(key.as_str(), Value::from_json_untyped_projected(v, sub));
            }
        }
        Value::record(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn untyped_numbers() {
        assert!(matches!(Value::from_json(&json!(3)), Value::Int(3)));
        assert!(matches!(Value::from_json(&json!(3.5)), Value::Number(_)));
        assert_eq!(Value::Number(7.0).to_json().to_string(), "7.0");
        assert_eq!(Value::Int(7).to_json().to_string(), "7");
    }

    #[test]
    fn typed_dates() {
        let ty = Ty::List(Box::new(Ty::DateTime));
        let v = Value::from_json_typed(&json!(["2023-08-28T08:15:30.123-07:00"]), &ty);
        assert_eq!(v.to_json(), json!(["2023-08-28T08:15:30.123-07:00"]));
        let v = Value::from_json_typed(&json!("2023-08-18"), &Ty::Date);
        assert!(matches!(v, Value::Date(_)));
        let v = Value::from_json_typed(&json!(2), &Ty::Number);
        assert!(matches!(v, Value::Number(_)));
        let v = Value::from_json_typed(&json!("PT15M"), &Ty::Duration);
        assert_eq!(v.to_json(), json!("PT15M"));
    }

    #[test]
    fn records_round_trip() {
        let j = json!({"a": 1, "b": [true, null, "x"], "c": {"d": 2.5}});
        assert_eq!(Value::from_json(&j).to_json(), j);
    }
}
