//! List functions. Indexes are 0-based; an index outside the list gives null.

use super::aggregation::distinct_values;
use super::{arg, EvalContext};
use crate::value::Value;
use std::cmp::Ordering;

fn list(v: &Value) -> &[Value] {
    v.as_list().unwrap_or(&[])
}

/// `distinct(list)`: the distinct non-null values in first-occurrence order; `distinct(list, key)`
/// keeps the first record for each value of its `key` field.
pub fn distinct(args: &[Value], _: &EvalContext) -> Value {
    let items = list(arg(args, 0)).iter().filter(|v| !v.is_null());
    match args.get(1) {
        Some(Value::Str(key)) => {
            let mut seen: Vec<Value> = Vec::new();
            let mut out = Vec::new();
            for v in items {
                let k = v.field(key);
                if !seen.contains(&k) {
                    seen.push(k);
                    out.push(v.clone());
                }
            }
            Value::list(out)
        }
        _ => Value::list(distinct_values(items)),
    }
}

/// `distinctWithNull(list)`: the distinct values, a null kept once.
pub fn distinct_with_null(args: &[Value], _: &EvalContext) -> Value {
    Value::list(distinct_values(list(arg(args, 0)).iter()))
}

/// `filter(list, field, values)`: the records whose `field` equals one of `values`.
pub fn filter(args: &[Value], _: &EvalContext) -> Value {
    let (Value::Str(key), Value::List(values)) = (arg(args, 1), arg(args, 2)) else { return Value::Null };
    let out = list(arg(args, 0)).iter().filter(|v| values.contains(&v.field(key))).cloned().collect();
    Value::list(out)
}

/// `getListItem(list, i)` and `at(list, i)`: the item at index `i`, or null.
pub fn get_list_item(args: &[Value], _: &EvalContext) -> Value {
    match arg(args, 1) {
        Value::Int(i) if *i >= 0 => list(arg(args, 0)).get(*i as usize).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// `in(x, list)`: whether an item equals `x`.
pub fn in_list(args: &[Value], _: &EvalContext) -> Value {
    super::ops::in_list(arg(args, 0), arg(args, 1))
}

/// `intersect(a, b)`: the distinct non-null values of `a` that are in `b` (empty when either is null).
pub fn intersect(args: &[Value], _: &EvalContext) -> Value {
    let b = list(arg(args, 1));
    Value::list(distinct_values(list(arg(args, 0)).iter().filter(|v| !v.is_null() && b.contains(v))))
}

/// `limit(list, n[, first])`: the first `n` items, or the last `n` when `first` is false.
pub fn limit(args: &[Value], _: &EvalContext) -> Value {
    let items = list(arg(args, 0));
    let Value::Int(n) = arg(args, 1) else { return Value::Null };
    let n = (*n).clamp(0, items.len() as i64) as usize;
    let first = !matches!(args.get(2), Some(Value::Bool(false)));
    let slice = if first { &items[..n] } else { &items[items.len() - n..] };
    Value::list(slice.to_vec())
}

/// `listSize(list)`: the number of items, nulls included (0 for null).
pub fn list_size(args: &[Value], _: &EvalContext) -> Value {
    Value::Int(list(arg(args, 0)).len() as i64)
}

/// `serializeList(list, separator, quote)`: the items' texts joined, each in double quotes when
/// `quote`; nulls are skipped.
pub fn serialize_list(args: &[Value], _: &EvalContext) -> Value {
    let sep = arg(args, 1).text();
    let quote = arg(args, 2).truthy();
    let mut out = String::new();
    for (i, v) in list(arg(args, 0)).iter().filter(|v| !v.is_null()).enumerate() {
        if i > 0 {
            out.push_str(&sep);
        }
        if quote {
            out.push('"');
        }
        out.push_str(&v.text());
        if quote {
            out.push('"');
        }
    }
    Value::str(out)
}

/// `sort(list, ascending)`, or `sort(list, key, ascending)` for records by a field; nulls last.
pub fn sort(args: &[Value], _: &EvalContext) -> Value {
    let (key, asc) = match args {
        [_, Value::Bool(b)] => (None, *b),
        [_, Value::Str(k), Value::Bool(b)] => (Some(k.as_str()), *b),
        _ => return Value::Null,
    };
    let mut items = list(arg(args, 0)).to_vec();
    let sort_key = |v: &Value| match key {
        Some(k) => v.field(k),
        None => v.clone(),
    };
    items.sort_by(|a, b| {
        let (ka, kb) = (sort_key(a), sort_key(b));
        match (ka.is_null(), kb.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if asc => ka.total_cmp(&kb),
            _ => kb.total_cmp(&ka),
        }
    });
    Value::list(items)
}
