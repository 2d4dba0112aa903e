//! Helpers shared by the library tests.
#![allow(dead_code)]

use journey_vm::library::{call, EvalContext};
use journey_vm::value::Value;

/// A context at 2026-06-15T12:00:00Z (a Monday) in `tz`, seed 7.
pub fn ctx(tz: &str) -> EvalContext<'static> {
    EvalContext::new("2026-06-15T12:00:00Z".parse().unwrap(), jiff::tz::TimeZone::get(tz).unwrap()).with_seed(7)
}

/// Calls a library function in a UTC context.
pub fn f(name: &str, args: &[Value]) -> Value {
    call(name, args, &ctx("UTC"))
}

/// The value as JSON text.
pub fn j(v: &Value) -> String {
    v.to_json().to_string()
}

/// Calls and renders as JSON text.
pub fn fj(name: &str, args: &[Value]) -> String {
    j(&f(name, args))
}

pub fn i(x: i64) -> Value {
    Value::Int(x)
}
pub fn n(x: f64) -> Value {
    Value::Number(x)
}
pub fn s(x: &str) -> Value {
    Value::from(x)
}
pub fn b(x: bool) -> Value {
    Value::Bool(x)
}
pub fn l(items: Vec<Value>) -> Value {
    Value::list(items)
}
pub const NULL: Value = Value::Null;
