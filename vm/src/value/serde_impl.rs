//! Serde for values (for persisting instances and artifacts): a tagged form that keeps every
//! type (a date stays a date), unlike the JSON encoding of [`Value::to_json`].

use super::{Record, Value};
use jiff::civil;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The serialized form; variant order is the wire format: only append.
#[derive(Serialize)]
enum Ser<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Number(f64),
    Str(&'a str),
    Date(String),
    DateTime(i64, i32),
    LocalDateTime(String),
    Time(String),
    Duration(i64),
    List(&'a [Value]),
    Record(Vec<(&'a str, &'a Value)>),
}

/// The deserialized form, mirroring [`Ser`].
#[derive(Deserialize)]
enum De {
    Null,
    Bool(bool),
    Int(i64),
    Number(f64),
    Str(String),
    Date(String),
    DateTime(i64, i32),
    LocalDateTime(String),
    Time(String),
    Duration(i64),
    List(Vec<Value>),
    Record(Vec<(String, Value)>),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let repr = match self {
            Value::Null => Ser::Null,
            Value::Bool(b) => Ser::Bool(*b),
            Value::Int(i) => Ser::Int(*i),
            Value::Number(n) => Ser::Number(*n),
            Value::Str(t) => Ser::Str(t),
            Value::Date(d) => Ser::Date(d.to_string()),
            Value::DateTime { millis, offset } => Ser::DateTime(*millis, *offset),
            Value::LocalDateTime(dt) => Ser::LocalDateTime(dt.to_string()),
            Value::Time(t) => Ser::Time(t.to_string()),
            Value::Duration(ms) => Ser::Duration(*ms),
            Value::List(items) => Ser::List(items),
            Value::Record(r) => Ser::Record(r.iter().map(|(k, v)| (k.as_str(), v)).collect()),
        };
        repr.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fn parse<T: std::str::FromStr, E: serde::de::Error>(s: &str) -> Result<T, E> {
            s.parse().map_err(|_| E::custom(format!("bad date or time `{s}`")))
        }
        Ok(match De::deserialize(d)? {
            De::Null => Value::Null,
            De::Bool(b) => Value::Bool(b),
            De::Int(i) => Value::Int(i),
            De::Number(n) => Value::Number(n),
            De::Str(t) => Value::str(t),
            De::Date(t) => Value::Date(parse::<civil::Date, D::Error>(&t)?),
            De::DateTime(millis, offset) => {
                if jiff::Timestamp::from_millisecond(millis).is_err() {
                    return Err(D::Error::custom("date-time out of range"));
                }
                Value::DateTime { millis, offset }
            }
            De::LocalDateTime(t) => Value::LocalDateTime(parse::<civil::DateTime, D::Error>(&t)?),
            De::Time(t) => Value::Time(parse::<civil::Time, D::Error>(&t)?),
            De::Duration(ms) => Value::Duration(ms),
            De::List(items) => Value::list(items),
            De::Record(fields) => {
                let mut r = Record::with_capacity(fields.len());
                for (k, v) in fields {
                    r.insert(k, v);
                }
                Value::record(r)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_keep_types() {
        let v = Value::list(vec![
            Value::Date(civil::date(2026, 12, 24)),
            Value::DateTime { millis: 1_781_526_896_789, offset: 7200 },
            Value::LocalDateTime(civil::date(2026, 12, 24).at(10, 0, 0, 123_000_000)),
            Value::Time(civil::time(9, 30, 0, 0)),
            Value::Duration(1500),
            Value::record([("a", Value::Int(1)), ("b", Value::Null)].into_iter().collect()),
            Value::from("x"),
            Value::Number(2.5),
        ]);
        let text = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.to_json(), v.to_json());
        assert!(matches!(back.as_list().unwrap()[0], Value::Date(_)));
    }
}
