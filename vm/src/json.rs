//! Values to and from JSON, in the conformance encoding: date-times as RFC 3339 text with
//! milliseconds and offset (`Z` at zero), local date-times `YYYY-MM-DDTHH:MM:SS.sss`, dates
//! `YYYY-MM-DD`, durations in `java.time.Duration` form, ints as integers, numbers as floats.

use crate::projection::Projection;
use crate::value::{self, Record, Value};
use journey_bytecode::types::Ty;
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
            let Some(v) = m.get(k.as_str()) else { continue };
            let v = match ty {
                Ty::Record(rt) => match rt.fields.get(k.as_str()) {
                    Some(f) => Value::from_json_projected(v, &f.ty, sub),
                    None => Value::from_json_untyped_projected(v, sub),
                },
                Ty::Map(item) => Value::from_json_projected(v, item, sub),
                _ => Value::from_json_untyped_projected(v, sub),
            };
            r.push_unchecked(k.clone(), v);
        }
        Value::record(r)
    }

    /// [`Value::from_json`] of only the part of `j` that `part` names.
    fn from_json_untyped_projected(j: &Json, part: &Projection) -> Value {
        let (Projection::Fields(fields), Json::Object(m)) = (part, j) else { return Value::from_json(j) };
        let mut r = Record::with_capacity(fields.len());
        for (k, sub) in fields {
            if let Some(v) = m.get(k.as_str()) {
                r.push_unchecked(k.clone(), Value::from_json_untyped_projected(v, sub));
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

/// Reads a payload straight from JSON text into a [`Value`], converting only the part that
/// `part` names and skipping the rest unread into memory (no `serde_json::Value` is built):
/// the same value as [`Value::from_json_projected`] of the parsed JSON, at every path `part`
/// names. Use it as a `serde::de::DeserializeSeed`.
#[derive(Clone, Copy)]
pub struct PayloadSeed<'a> {
    /// The payload's type.
    pub ty: &'a Ty,
    /// What of it to convert.
    pub part: &'a Projection,
}

/// Reads any value as untyped JSON does.
pub(crate) static ANY: Ty = Ty::Any;
/// The whole of a value.
pub(crate) static ALL: Projection = Projection::All;

impl PayloadSeed<'_> {
    /// The type with optionals unwrapped (a null is null whatever the type).
    fn bare(&self) -> &Ty {
        let mut ty = self.ty;
        while let Ty::Optional(inner) = ty {
            ty = inner;
        }
        ty
    }

    /// A scalar: exactly as [`Value::from_json_typed`] reads it.
    fn scalar(&self, j: Json) -> Value {
        Value::from_json_typed(&j, self.ty)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PayloadSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(self.scalar(Json::Bool(b)))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(self.scalar(Json::Number(n.into())))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(self.scalar(Json::Number(n.into())))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, |n| self.scalar(Json::Number(n))))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(match self.bare() {
            // Text that a date, time or duration type reads.
            Ty::Date | Ty::DateTime | Ty::LocalDateTime | Ty::Time | Ty::Duration => {
                self.scalar(Json::String(s.into()))
            }
            _ => Value::str(s),
        })
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // Lists are read whole.
        let item = match self.bare() {
            Ty::List(item) => &**item,
            _ => &ANY,
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(PayloadSeed { ty: item, part: &ALL })? {
            items.push(v);
        }
        Ok(Value::list(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let bare = self.bare();
        let mut r = Record::new();
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let (sub, name) = match self.part {
                Projection::All => (&ALL, None),
                Projection::Fields(fields) => match fields.iter().find(|(f, _)| f.as_str() == k) {
                    Some((name, sub)) => (sub, Some(name)),
                    None => {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        continue;
                    }
                },
            };
            let ty = match bare {
                Ty::Record(rt) => rt.fields.get(k.as_ref()).map_or(&ANY, |f| &f.ty),
                Ty::Map(item) => &**item,
                _ => &ANY,
            };
            let v = map.next_value_seed(PayloadSeed { ty, part: sub })?;
            // A repeated key keeps its first place and its last value, as serde_json's map does.
            match name {
                Some(name) => r.insert(name.clone(), v),
                None => r.insert(k.as_ref(), v),
            }
        }
        Ok(Value::record(r))
    }
}
