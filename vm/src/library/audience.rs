//! Audience membership, as the runtime feeds it.

use super::{arg, EvalContext};
use crate::value::Value;

/// `inAudience(name)` and `inSegment(name)`: whether the profile is in the named audience.
pub fn in_audience(args: &[Value], ctx: &EvalContext) -> Value {
    match arg(args, 0) {
        Value::Str(name) => Value::Bool((ctx.audiences)(name)),
        _ => Value::Null,
    }
}
