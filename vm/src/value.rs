//! Runtime values: compact (16 bytes), cheap to clone (strings, lists and records are shared).
//!
//! Equality is the language's `==` (`int` and `number` compare numerically, `null == null`),
//! [`Value::compare`] its `<` family, and [`Value::total_cmp`] a total order for sorting.

mod parse;
mod serde_impl;
mod text;

pub use parse::{parse_date, parse_datetime, parse_datetime_in, parse_duration, parse_local_datetime, parse_time};
pub use text::{format_duration, format_number};

use arcstr::ArcStr;
use jiff::civil;
use jiff::tz::Offset;
use jiff::Timestamp;
use std::cmp::Ordering;
use std::sync::Arc;

/// A runtime value.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(i64),
    /// `number`.
    Number(f64),
    /// `string`.
    Str(ArcStr),
    /// `date` (AJO's dateOnly).
    Date(civil::Date),
    /// `datetime`: an instant in epoch milliseconds, shown at its own UTC offset (in seconds).
    DateTime {
        /// Epoch milliseconds.
        millis: i64,
        /// The offset from UTC, in seconds.
        offset: i32,
    },
    /// `localdatetime` (AJO's dateTimeOnly).
    LocalDateTime(civil::DateTime),
    /// `time`: a time of day.
    Time(civil::Time),
    /// `duration`, in milliseconds.
    Duration(i64),
    /// `list<T>`.
    List(Arc<Vec<Value>>),
    /// A record or a map.
    Record(Arc<Record>),
}

/// A null to borrow.
pub static NULL: Value = Value::Null;

/// A record's fields in insertion order; field names are unique.
#[derive(Debug, Clone, Default)]
pub struct Record {
    fields: Vec<(ArcStr, Value)>,
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Record { fields: Vec::new() }
    }

    /// An empty record with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Record { fields: Vec::with_capacity(n) }
    }

    /// The value of a field, if present.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&Value> {
        // Length and first byte first: most other keys differ there, without a `memcmp` call.
        let (len, first) = (name.len(), name.as_bytes().first());
        self.fields
            .iter()
            .find(|(k, _)| k.len() == len && k.as_bytes().first() == first && k.as_str() == name)
            .map(|(_, v)| v)
    }

    /// A mutable reference to a field's value, if present.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.fields.iter_mut().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
    }

    /// Sets a field, replacing its value or adding it at the end.
    pub fn insert(&mut self, name: impl Into<ArcStr>, value: Value) {
        let name = name.into();
        match self.get_mut(&name) {
            Some(v) => *v = value,
            None => self.fields.push((name, value)),
        }
    }

    /// Adds a field known not to be present yet (no duplicate check).
    pub fn push_unchecked(&mut self, name: impl Into<ArcStr>, value: Value) {
        self.fields.push((name.into(), value));
    }

    /// Removes a field, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.fields.iter().position(|(k, _)| k.as_str() == name)?;
        Some(self.fields.remove(i).1)
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the record has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&ArcStr, &Value)> {
        self.fields.iter().map(|(k, v)| (k, v))
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k).is_some_and(|o| o == v))
    }
}

impl<K: Into<ArcStr>> FromIterator<(K, Value)> for Record {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut r = Record::new();
        for (k, v) in iter {
            r.insert(k, v);
        }
        r
    }
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<ArcStr>) -> Value {
        Value::Str(s.into())
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    /// A record value.
    pub fn record(r: Record) -> Value {
        Value::Record(Arc::new(r))
    }

    /// A date-time at an instant, shown at a UTC offset in seconds.
    pub fn datetime(ts: Timestamp, offset_seconds: i32) -> Value {
        Value::DateTime { millis: ts.as_millisecond(), offset: offset_seconds }
    }

    /// A date-time at an instant, shown at the offset the time zone has then.
    pub fn datetime_in(ts: Timestamp, tz: &jiff::tz::TimeZone) -> Value {
        Value::datetime(ts, tz.to_offset(ts).seconds())
    }

    /// Whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a bool, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as an int, if it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a float, if it is an int or a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The value as text, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if the value is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The fields, if the value is a record.
    pub fn as_record(&self) -> Option<&Record> {
        match self {
            Value::Record(r) => Some(r),
            _ => None,
        }
    }

    /// The instant of a date-time.
    pub fn as_timestamp(&self) -> Option<Timestamp> {
        match self {
            Value::DateTime { millis, .. } => Timestamp::from_millisecond(*millis).ok(),
            _ => None,
        }
    }

    /// A date-time's local date and time at its own offset.
    pub fn as_offset_civil(&self) -> Option<(civil::DateTime, i32)> {
        match self {
            Value::DateTime { offset, .. } => {
                let ts = self.as_timestamp()?;
                let off = Offset::from_seconds(*offset).ok()?;
                Some((off.to_datetime(ts), *offset))
            }
            _ => None,
        }
    }

    /// The condition's truth: only `true` is true (null and other values count as false).
    pub fn truthy(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// The type's name as the language writes it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Number(_) => "number",
            Value::Str(_) => "string",
            Value::Date(_) => "date",
            Value::DateTime { .. } => "datetime",
            Value::LocalDateTime(_) => "localdatetime",
            Value::Time(_) => "time",
            Value::Duration(_) => "duration",
            Value::List(_) => "list",
            Value::Record(_) => "record",
        }
    }

    /// A field of a record (null when absent or when the value is not a record).
    pub fn field(&self, name: &str) -> Value {
        self.field_ref(name).clone()
    }

    /// A field of a record, borrowed (null when absent or when the value is not a record).
    #[inline]
    pub fn field_ref(&self, name: &str) -> &Value {
        match self {
            Value::Record(r) => r.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// The language's `<` family: `None` when the values are not comparable (the result is null).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Int(a), Int(b)) => Some(a.cmp(b)),
            (Int(_) | Number(_), Int(_) | Number(_)) => num_cmp(self, other),
            (Str(a), Str(b)) => Some(a.as_str().cmp(b.as_str())),
            (Bool(a), Bool(b)) => Some(a.cmp(b)),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (DateTime { millis: a, .. }, DateTime { millis: b, .. }) => Some(a.cmp(b)),
            (LocalDateTime(a), LocalDateTime(b)) => Some(a.cmp(b)),
            (Time(a), Time(b)) => Some(a.cmp(b)),
            (Duration(a), Duration(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// A total order over all values, for sorting and de-duplicating: null first, then by kind,
    /// then by [`Value::compare`] (NaN after other numbers).
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        let (ra, rb) = (self.rank(), other.rank());
        if ra != rb {
            return ra.cmp(&rb);
        }
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => a.total_cmp(b),
            (Value::Int(_) | Value::Number(_), Value::Int(_) | Value::Number(_)) => {
                let (a, b) = (self.as_f64().unwrap_or(0.0), other.as_f64().unwrap_or(0.0));
                num_cmp(self, other).unwrap_or_else(|| a.total_cmp(&b))
            }
            (Value::List(a), Value::List(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    let o = x.total_cmp(y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.len().cmp(&b.len())
            }
            (Value::Record(a), Value::Record(b)) => {
                fn sorted(r: &Record) -> Vec<(&ArcStr, &Value)> {
                    let mut f: Vec<_> = r.iter().collect();
                    f.sort_by(|x, y| x.0.cmp(y.0));
                    f
                }
                let (fa, fb) = (sorted(a), sorted(b));
                for ((ka, va), (kb, vb)) in fa.iter().zip(fb.iter()) {
                    let o = ka.cmp(kb).then_with(|| va.total_cmp(vb));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                fa.len().cmp(&fb.len())
            }
            _ => self.compare(other).unwrap_or(Ordering::Equal),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Number(_) => 2,
            Value::Str(_) => 3,
            Value::Date(_) => 4,
            Value::DateTime { .. } => 5,
            Value::LocalDateTime(_) => 6,
            Value::Time(_) => 7,
            Value::Duration(_) => 8,
            Value::List(_) => 9,
            Value::Record(_) => 10,
        }
    }
}

/// Compares an int or number with another exactly (an i64 is not rounded to f64 first).
fn num_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
        (Value::Int(x), Value::Number(y)) => int_float_cmp(*x, *y),
        (Value::Number(x), Value::Int(y)) => int_float_cmp(*y, *x).map(Ordering::reverse),
        _ => None,
    }
}

fn int_float_cmp(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // Every i64 lies in [-2^63, 2^63); floats outside are beyond any int.
    if f >= 9_223_372_036_854_775_808.0 {
        return Some(Ordering::Less);
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal if f > t => Some(Ordering::Less),
        Ordering::Equal if f < t => Some(Ordering::Greater),
        o => Some(o),
    }
}

impl PartialEq for Value {
    /// The language's `==`.
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Int(_) | Number(_), Int(_) | Number(_)) => num_cmp(self, other) == Some(Ordering::Equal),
            (Str(a), Str(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (DateTime { millis: a, .. }, DateTime { millis: b, .. }) => a == b,
            (LocalDateTime(a), LocalDateTime(b)) => a == b,
            (Time(a), Time(b)) => a == b,
            (Duration(a), Duration(b)) => a == b,
            (List(a), List(b)) => Arc::ptr_eq(a, b) || a == b,
            (Record(a), Record(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s.into())
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::list(items)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A bytecode constant's value (date and time literals are parsed; one that does not parse is
/// null).
pub fn const_value(c: &journey_bytecode::Const) -> Value {
    use journey_bytecode::Const;
    match c {
        Const::Null => Value::Null,
        Const::Bool(b) => Value::Bool(*b),
        Const::Int(i) => Value::Int(*i),
        Const::Number(n) => Value::Number(*n),
        Const::Str(s) => Value::str(s.as_str()),
        Const::Duration(ms) => Value::Duration(*ms),
        Const::Date(s) => parse_date(s).map_or(Value::Null, Value::Date),
        Const::DateTime(s) => parse_datetime(s).map_or(Value::Null, |(ts, off)| Value::datetime(ts, off)),
        Const::LocalDateTime(s) => parse_local_datetime(s).map_or(Value::Null, Value::LocalDateTime),
        Const::Time(s) => parse_time(s).map_or(Value::Null, Value::Time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Value>(), 16);
    }

    #[test]
    fn ints_and_numbers_compare_numerically() {
        assert_eq!(Value::Int(3), Value::Number(3.0));
        assert_ne!(Value::Int(3), Value::Number(3.5));
        assert_eq!(Value::Int(3).compare(&Value::Number(3.5)), Some(Ordering::Less));
        assert_eq!(Value::Number(-0.5).compare(&Value::Int(0)), Some(Ordering::Less));
        assert_eq!(Value::Int(i64::MAX).compare(&Value::Number(9.3e18)), Some(Ordering::Less));
        assert_eq!(Value::Null, Value::Null);
        assert_ne!(Value::Null, Value::Int(0));
        assert_eq!(Value::Str("a".into()).compare(&Value::Int(1)), None);
    }

    #[test]
    fn records_compare_by_fields() {
        let a: Record = [("x", Value::Int(1)), ("y", Value::from("b"))].into_iter().collect();
        let b: Record = [("y", Value::from("b")), ("x", Value::Number(1.0))].into_iter().collect();
        assert_eq!(Value::record(a), Value::record(b));
    }

    #[test]
    fn datetimes_compare_as_instants() {
        let a = Value::DateTime { millis: 1000, offset: 0 };
        let b = Value::DateTime { millis: 1000, offset: 3600 };
        assert_eq!(a, b);
    }
}
