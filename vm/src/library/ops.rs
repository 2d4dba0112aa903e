//! The operators as functions. An operand that is null gives null, except `==`/`!=`, `??`, the
//! `is` tests, `in`, string joining (null joins as empty text) and `and`/`or` (three-valued).

use crate::value::Value;
use jiff::SignedDuration;
use journey_bytecode::{BinaryOp, IsTest, UnaryOp};
use std::cmp::Ordering;

/// Applies a binary operator to evaluated operands (`and`/`or` without short-circuit).
pub fn binary(op: BinaryOp, a: &Value, b: &Value) -> Value {
    match op {
        BinaryOp::Coalesce => coalesce(a, b),
        BinaryOp::Or => or(a, b),
        BinaryOp::And => and(a, b),
        BinaryOp::Eq => Value::Bool(a == b),
        BinaryOp::Ne => Value::Bool(a != b),
        BinaryOp::Lt => cmp(a, b, Ordering::is_lt),
        BinaryOp::Le => cmp(a, b, Ordering::is_le),
        BinaryOp::Gt => cmp(a, b, Ordering::is_gt),
        BinaryOp::Ge => cmp(a, b, Ordering::is_ge),
        BinaryOp::In => in_op(a, b),
        BinaryOp::NotIn => not(&in_op(a, b)),
        BinaryOp::Add => add(a, b),
        BinaryOp::Sub => sub(a, b),
        BinaryOp::Mul => mul(a, b),
        BinaryOp::Div => div(a, b),
        BinaryOp::Rem => rem(a, b),
    }
}

/// Applies a unary operator.
pub fn unary(op: UnaryOp, a: &Value) -> Value {
    match op {
        UnaryOp::Neg => neg(a),
        UnaryOp::Not => not(a),
    }
}

/// `base[index]`: a list item by int (null outside the list) or a record field by string.
pub fn index(base: &Value, index: &Value) -> Value {
    match (base, index) {
        (Value::List(items), Value::Int(i)) if *i >= 0 => items.get(*i as usize).cloned().unwrap_or(Value::Null),
        (Value::Record(_), Value::Str(k)) => base.field(k),
        _ => Value::Null,
    }
}

/// `a ?? b`.
pub fn coalesce(a: &Value, b: &Value) -> Value {
    if a.is_null() {
        b.clone()
    } else {
        a.clone()
    }
}

/// `not a` (null stays null).
pub fn not(a: &Value) -> Value {
    match a {
        Value::Bool(b) => Value::Bool(!b),
        _ => Value::Null,
    }
}

/// `a and b`, three-valued: `false and null` is false.
pub fn and(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
        (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
        _ => Value::Null,
    }
}

/// `a or b`, three-valued: `true or null` is true.
pub fn or(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Bool(true), _) | (_, Value::Bool(true)) => Value::Bool(true),
        (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
        _ => Value::Null,
    }
}

/// `a == b`.
pub fn eq(a: &Value, b: &Value) -> Value {
    Value::Bool(a == b)
}

/// A comparison: null when an operand is null or the two cannot be compared.
pub fn cmp(a: &Value, b: &Value, test: fn(Ordering) -> bool) -> Value {
    a.compare(b).map_or(Value::Null, |o| Value::Bool(test(o)))
}

/// `a < b`.
pub fn lt(a: &Value, b: &Value) -> Value {
    cmp(a, b, Ordering::is_lt)
}

/// `x in list`: whether an item equals `x` (a null `x` looks for a null item; a null list holds nothing).
pub fn in_list(x: &Value, list: &Value) -> Value {
    match list {
        Value::List(items) => Value::Bool(items.iter().any(|i| i == x)),
        _ => Value::Bool(false),
    }
}

/// The `in` operator: like [`in_list`], but null when the list is null (an operator with a null
/// operand gives null; the `in(x, list)` function keeps AJO's `false`).
pub fn in_op(x: &Value, list: &Value) -> Value {
    if list.is_null() {
        Value::Null
    } else {
        in_list(x, list)
    }
}

/// `x in lo..hi`: `lo <= x < hi`; null when a bound or `x` is null or they cannot be compared.
pub fn in_range(x: &Value, lo: &Value, hi: &Value) -> Value {
    match (lo.compare(x), x.compare(hi)) {
        (Some(a), Some(b)) => Value::Bool(a.is_le() && b.is_lt()),
        _ => Value::Null,
    }
}

/// The `is` tests.
pub fn is(x: &Value, test: IsTest) -> Value {
    Value::Bool(match test {
        IsTest::Null => x.is_null(),
        IsTest::NotNull => !x.is_null(),
        IsTest::HasNull => x.as_list().is_some_and(|l| l.iter().any(Value::is_null)),
        IsTest::Integer => matches!(x, Value::Int(_)),
        IsTest::Decimal => matches!(x, Value::Number(_)),
        IsTest::Numeric => matches!(x, Value::Int(_) | Value::Number(_)),
    })
}

/// Joins two values' texts (null joins as empty text).
pub fn join(a: &Value, b: &Value) -> Value {
    let mut s = String::with_capacity(16);
    s.push_str(&a.text());
    s.push_str(&b.text());
    Value::str(s)
}

/// `-a`.
pub fn neg(a: &Value) -> Value {
    match a {
        Value::Int(i) => i.checked_neg().map_or(Value::Null, Value::Int),
        Value::Number(n) => Value::Number(-n),
        Value::Duration(d) => d.checked_neg().map_or(Value::Null, Value::Duration),
        _ => Value::Null,
    }
}

fn float(x: f64) -> Value {
    if x.is_finite() {
        Value::Number(x)
    } else {
        Value::Null
    }
}

fn num2(a: &Value, b: &Value, fi: fn(i64, i64) -> Option<i64>, ff: fn(f64, f64) -> f64) -> Value {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => fi(*x, *y).map_or(Value::Null, Value::Int),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => float(ff(x, y)),
            _ => Value::Null,
        },
    }
}

/// Adds a duration in milliseconds to a date, date-time or local date-time.
pub fn add_duration(d: &Value, ms: i64) -> Value {
    match d {
        Value::DateTime { millis, offset } => {
            millis.checked_add(ms).map_or(Value::Null, |m| Value::DateTime { millis: m, offset: *offset })
        }
        Value::LocalDateTime(dt) => {
            dt.checked_add(SignedDuration::from_millis(ms)).map_or(Value::Null, Value::LocalDateTime)
        }
        Value::Date(date) => {
            date.checked_add(jiff::Span::new().days(ms.div_euclid(86_400_000))).map_or(Value::Null, Value::Date)
        }
        _ => Value::Null,
    }
}

/// `a + b`: numbers, string joining, duration to date-time, duration to duration.
pub fn add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Str(_), _) | (_, Value::Str(_)) => join(a, b),
        (Value::Duration(x), Value::Duration(y)) => x.checked_add(*y).map_or(Value::Null, Value::Duration),
        (d, Value::Duration(ms)) | (Value::Duration(ms), d) => add_duration(d, *ms),
        _ => num2(a, b, i64::checked_add, |x, y| x + y),
    }
}

/// `a - b`: numbers, a duration from a date-time or duration, date-time minus date-time.
pub fn sub(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Duration(x), Value::Duration(y)) => x.checked_sub(*y).map_or(Value::Null, Value::Duration),
        (d, Value::Duration(ms)) => ms.checked_neg().map_or(Value::Null, |m| add_duration(d, m)),
        (Value::DateTime { millis: x, .. }, Value::DateTime { millis: y, .. }) => {
            x.checked_sub(*y).map_or(Value::Null, Value::Duration)
        }
        (Value::LocalDateTime(x), Value::LocalDateTime(y)) => {
            let d = x.duration_since(*y);
            i64::try_from(d.as_millis()).map_or(Value::Null, Value::Duration)
        }
        (Value::Date(x), Value::Date(y)) => {
            let d = x.duration_since(*y);
            i64::try_from(d.as_millis()).map_or(Value::Null, Value::Duration)
        }
        _ => num2(a, b, i64::checked_sub, |x, y| x - y),
    }
}

/// `a * b`: numbers, or a duration scaled by a number.
pub fn mul(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Duration(d), Value::Int(n)) | (Value::Int(n), Value::Duration(d)) => {
            d.checked_mul(*n).map_or(Value::Null, Value::Duration)
        }
        (Value::Duration(d), Value::Number(n)) | (Value::Number(n), Value::Duration(d)) => {
            let x = (*d as f64 * n).round();
            if x.is_finite() && x.abs() < 9.2e18 {
                Value::Duration(x as i64)
            } else {
                Value::Null
            }
        }
        _ => num2(a, b, i64::checked_mul, |x, y| x * y),
    }
}

/// `a / b`: `int / int` divides as integers (truncating); division by zero gives null.
pub fn div(a: &Value, b: &Value) -> Value {
    if b.as_f64() == Some(0.0) {
        return Value::Null;
    }
    match (a, b) {
        (Value::Duration(d), Value::Int(n)) => d.checked_div(*n).map_or(Value::Null, Value::Duration),
        (Value::Duration(d), Value::Number(n)) => {
            let x = (*d as f64 / n).round();
            if x.is_finite() && x.abs() < 9.2e18 {
                Value::Duration(x as i64)
            } else {
                Value::Null
            }
        }
        _ => num2(a, b, i64::checked_div, |x, y| x / y),
    }
}

/// `a % b`: the remainder with the dividend's sign; by zero gives null.
pub fn rem(a: &Value, b: &Value) -> Value {
    if b.as_f64() == Some(0.0) {
        return Value::Null;
    }
    num2(a, b, i64::checked_rem, |x, y| x % y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn arithmetic() {
        assert_eq!(add(&Value::Int(1), &Value::Int(2)), Value::Int(3));
        assert!(matches!(mul(&Value::Int(3), &Value::Number(4.0)), Value::Number(n) if n == 12.0));
        assert!(matches!(div(&Value::Int(7), &Value::Int(2)), Value::Int(3)));
        assert!(matches!(div(&Value::Int(-7), &Value::Int(2)), Value::Int(-3)));
        assert!(div(&Value::Int(1), &Value::Int(0)).is_null());
        assert!(div(&Value::Number(1.0), &Value::Number(0.0)).is_null());
        assert!(rem(&Value::Int(1), &Value::Int(0)).is_null());
        assert!(add(&Value::Int(i64::MAX), &Value::Int(1)).is_null());
        assert!(add(&Value::Int(1), &Value::Null).is_null());
        assert!(matches!(rem(&Value::Int(-7), &Value::Int(3)), Value::Int(-1)));
    }

    #[test]
    fn joining() {
        assert_eq!(add(&s("a"), &Value::Int(1234)), s("a1234"));
        assert_eq!(add(&Value::Null, &s("x")), s("x"));
        assert_eq!(add(&s("v"), &Value::Number(1.5)), s("v1.5"));
    }

    #[test]
    fn three_valued_logic() {
        assert_eq!(and(&Value::Bool(false), &Value::Null), Value::Bool(false));
        assert!(and(&Value::Bool(true), &Value::Null).is_null());
        assert_eq!(or(&Value::Null, &Value::Bool(true)), Value::Bool(true));
        assert!(or(&Value::Bool(false), &Value::Null).is_null());
        assert!(not(&Value::Null).is_null());
        assert!(lt(&Value::Null, &Value::Int(1)).is_null());
        assert_eq!(eq(&Value::Null, &Value::Null), Value::Bool(true));
    }

    #[test]
    fn ranges_and_membership() {
        assert_eq!(in_range(&Value::Int(1), &Value::Int(1), &Value::Int(2)), Value::Bool(true));
        assert_eq!(in_range(&Value::Int(2), &Value::Int(1), &Value::Int(2)), Value::Bool(false));
        assert!(in_range(&Value::Null, &Value::Int(1), &Value::Int(2)).is_null());
        let l = Value::list(vec![Value::Int(1), Value::Null]);
        assert_eq!(in_list(&Value::Number(1.0), &l), Value::Bool(true));
        assert_eq!(in_list(&Value::Null, &l), Value::Bool(true));
        assert_eq!(in_list(&Value::Int(1), &Value::Null), Value::Bool(false));
    }

    #[test]
    fn durations() {
        let dt = Value::DateTime { millis: 0, offset: 3600 };
        assert!(matches!(add(&dt, &Value::Duration(1000)), Value::DateTime { millis: 1000, offset: 3600 }));
        assert!(matches!(add(&Value::Duration(1), &Value::Duration(2)), Value::Duration(3)));
        let later = Value::DateTime { millis: 5000, offset: 0 };
        assert!(matches!(sub(&later, &dt), Value::Duration(5000)));
        assert!(matches!(neg(&Value::Duration(5)), Value::Duration(-5)));
    }
}
