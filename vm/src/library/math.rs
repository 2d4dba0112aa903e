//! Math: `random round abs floor ceil`.

use super::conversion::truncate;
use super::{arg, EvalContext};
use crate::value::Value;

/// `random()`: a number in [0, 1) from the context's seeded source.
pub fn random(_: &[Value], ctx: &EvalContext) -> Value {
    Value::Number((ctx.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
}

fn to_int(n: f64) -> Value {
    truncate(n).map_or(Value::Null, Value::Int)
}

/// `round(x)`: Java's `Math.round`, ties towards positive infinity (`round(-2.5)` is -2).
pub fn round(args: &[Value], _: &EvalContext) -> Value {
    match arg(args, 0) {
        Value::Int(i) => Value::Int(*i),
        Value::Number(n) => {
            let f = n.floor();
            to_int(if n - f >= 0.5 { f + 1.0 } else { f })
        }
        _ => Value::Null,
    }
}

/// `abs(x)`.
pub fn abs(args: &[Value], _: &EvalContext) -> Value {
    match arg(args, 0) {
        Value::Int(i) => i.checked_abs().map_or(Value::Null, Value::Int),
        Value::Number(n) => Value::Number(n.abs()),
        Value::Duration(d) => d.checked_abs().map_or(Value::Null, Value::Duration),
        _ => Value::Null,
    }
}

/// `floor(x)`: the largest int not above `x`.
pub fn floor(args: &[Value], _: &EvalContext) -> Value {
    match arg(args, 0) {
        Value::Int(i) => Value::Int(*i),
        Value::Number(n) => to_int(n.floor()),
        _ => Value::Null,
    }
}

/// `ceil(x)`: the smallest int not below `x`.
pub fn ceil(args: &[Value], _: &EvalContext) -> Value {
    match arg(args, 0) {
        Value::Int(i) => Value::Int(*i),
        Value::Number(n) => to_int(n.ceil()),
        _ => Value::Null,
    }
}
