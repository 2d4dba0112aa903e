//! Aggregation: over a list argument, or over several arguments. Nulls are skipped unless the
//! name says otherwise.

use super::{items, EvalContext};
use crate::value::Value;
use std::cmp::Ordering;

fn non_null(args: &[Value]) -> impl Iterator<Item = &Value> {
    items(args).iter().filter(|v| !v.is_null())
}

/// The distinct values, in first-occurrence order.
pub(crate) fn distinct_values<'v>(values: impl Iterator<Item = &'v Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in values {
        if !out.iter().any(|o| o == v) {
            out.push(v.clone());
        }
    }
    out
}

/// `avg`: the mean of the non-null values as a number; null when there are none.
pub fn avg(args: &[Value], _: &EvalContext) -> Value {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in non_null(args) {
        match v.as_f64() {
            Some(x) => {
                sum += x;
                n += 1;
            }
            None => return Value::Null,
        }
    }
    if n == 0 {
        Value::Null
    } else {
        Value::Number(sum / n as f64)
    }
}

/// `count`: the number of non-null values.
pub fn count(args: &[Value], _: &EvalContext) -> Value {
    Value::Int(non_null(args).count() as i64)
}

/// `countOnlyNull`: the number of null values.
pub fn count_only_null(args: &[Value], _: &EvalContext) -> Value {
    Value::Int(items(args).iter().filter(|v| v.is_null()).count() as i64)
}

/// `countWithNull`: the number of values.
pub fn count_with_null(args: &[Value], _: &EvalContext) -> Value {
    Value::Int(items(args).len() as i64)
}

/// `distinctCount`: the number of distinct non-null values.
pub fn distinct_count(args: &[Value], _: &EvalContext) -> Value {
    Value::Int(distinct_values(non_null(args)).len() as i64)
}

/// `distinctCountWithNull`: the number of distinct values, null counted once.
pub fn distinct_count_with_null(args: &[Value], _: &EvalContext) -> Value {
    Value::Int(distinct_values(items(args).iter()).len() as i64)
}

fn extreme(args: &[Value], want: Ordering) -> Value {
    let mut best: Option<&Value> = None;
    for v in non_null(args) {
        best = match best {
            None => Some(v),
            Some(b) => match v.compare(b) {
                Some(o) if o == want => Some(v),
                Some(_) => Some(b),
                None => return Value::Null,
            },
        };
    }
    best.cloned().unwrap_or(Value::Null)
}

/// `max`: the largest non-null value; null when there are none.
pub fn max(args: &[Value], _: &EvalContext) -> Value {
    extreme(args, Ordering::Greater)
}

/// `min`: the smallest non-null value; null when there are none.
pub fn min(args: &[Value], _: &EvalContext) -> Value {
    extreme(args, Ordering::Less)
}

/// `sum`: the sum of the non-null values; an int while every value is an int.
pub fn sum(args: &[Value], _: &EvalContext) -> Value {
    let mut acc = Value::Int(0);
    for v in non_null(args) {
        if !matches!(v, Value::Int(_) | Value::Number(_)) {
            return Value::Null;
        }
        acc = super::ops::add(&acc, v);
        if acc.is_null() {
            return acc;
        }
    }
    acc
}
