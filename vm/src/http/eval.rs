//! Adapter to [`crate::eval`] for option expressions: parameters are locals 0..n, there is no
//! event or profile, and `secret("NAME")` reads a [`SecretSource`], remembering each value for
//! redaction. An unset secret fails the call (the evaluator alone would read it as null).

use super::secret::{Redactor, SecretSource};
use crate::eval::{eval, Env};
use crate::library::EvalContext;
use crate::value::Value;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use journey_compiler::ir::Expr;
use std::cell::RefCell;

/// Evaluates an option expression with `args` as its parameters.
pub(crate) fn eval_option(
    expr: &Expr,
    args: &[Value],
    secrets: &dyn SecretSource,
    redactor: &mut Redactor,
) -> Result<Value, String> {
    let missing = RefCell::new(None);
    let seen = RefCell::new(std::mem::take(redactor));
    let read = |name: &str| {
        let value = secrets.secret(name);
        match &value {
            Some(v) => seen.borrow_mut().add(v),
            None => *missing.borrow_mut() = Some(name.to_string()),
        }
        value
    };
    let ctx = EvalContext::new(Timestamp::now(), TimeZone::UTC);
    let mut env = Env::new(&Value::Null, &Value::Null, &ctx);
    env.secret = &read;
    let mut locals = args.to_vec();
    let value = eval(expr, &mut locals, &env);
    *redactor = seen.into_inner();
    match missing.into_inner() {
        Some(name) => Err(format!("secret {name} is not set")),
        None => Ok(value),
    }
}
