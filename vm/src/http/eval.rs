//! Option code: an action's or data source's option chunks (URL placeholders, query, headers,
//! body, authentication) run on the VM like any other code, with the call's arguments as
//! parameters (local slots `0..n`) and no event or profile. `secret("NAME")` reads a
//! [`SecretSource`], remembering each value for redaction; an unset secret fails the call (the
//! code alone would read it as null).

use super::secret::{Redactor, SecretSource};
use crate::library::EvalContext;
use crate::machine::{eval_chunk, Frame, Image, DEFAULT_BUDGET};
use crate::value::Value;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use journey_bytecode::{Addr, HttpCode};
use std::cell::RefCell;

/// Evaluates the option chunk at `addr` of `http` (a declaration of `image`'s program) with
/// `args` as its parameters.
pub(crate) fn eval_option(
    image: &Image,
    http: &HttpCode,
    addr: Addr,
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
    let mut locals = args.to_vec();
    locals.resize(http.locals(), Value::Null);
    let mut frame = Frame {
        locals: &mut locals,
        event_paths: &[],
        event: &Value::Null,
        profile: &Value::Null,
        ctx: &ctx,
        secret: &read,
    };
    let mut budget = DEFAULT_BUDGET;
    let value = eval_chunk(image, &http.code, addr, &mut frame, &mut Vec::new(), &mut budget);
    *redactor = seen.into_inner();
    match (missing.into_inner(), value) {
        (Some(name), _) => Err(format!("secret {name} is not set")),
        (None, Some(value)) => Ok(value),
        (None, None) => Err("instruction budget exceeded".into()),
    }
}
