//! A reference tree-walking evaluator over the typed IR: the oracle for the bytecode VM's tests
//! and the engine behind `journey eval`. Values carry their own types, so it reads no `ty`.

use crate::library::{self, ops, EvalContext};
use crate::value::{self, Value};
use journey_compiler::ir::{Const, Expr, ExprKind};
use journey_grammar::ast::BinaryOp;

/// What an expression may read besides its locals.
pub struct Env<'a> {
    /// The entry event's payload (or the incoming payload in an event's `key`/`when`).
    pub event: &'a Value,
    /// The profile's attributes.
    pub profile: &'a Value,
    /// Clock, time zone, random source, audiences.
    pub ctx: &'a EvalContext<'a>,
    /// Reads a secret by name (null when absent).
    pub secret: &'a dyn Fn(&str) -> Option<String>,
}

fn no_secret(_: &str) -> Option<String> {
    None
}

impl<'a> Env<'a> {
    /// An environment with the given event and profile, and no secrets.
    pub fn new(event: &'a Value, profile: &'a Value, ctx: &'a EvalContext<'a>) -> Self {
        Env { event, profile, ctx, secret: &no_secret }
    }
}

/// A constant's value (date and time literals are parsed; one that does not parse is null).
pub fn const_value(c: &Const) -> Value {
    match c {
        Const::Null => Value::Null,
        Const::Bool(b) => Value::Bool(*b),
        Const::Int(i) => Value::Int(*i),
        Const::Number(n) => Value::Number(*n),
        Const::Str(s) => Value::str(s.as_str()),
        Const::Duration(ms) => Value::Duration(*ms),
        Const::Date(s) => value::parse_date(s).map_or(Value::Null, Value::Date),
        Const::DateTime(s) => value::parse_datetime(s).map_or(Value::Null, |(ts, off)| Value::datetime(ts, off)),
        Const::LocalDateTime(s) => value::parse_local_datetime(s).map_or(Value::Null, Value::LocalDateTime),
        Const::Time(s) => value::parse_time(s).map_or(Value::Null, Value::Time),
    }
}

/// Evaluates an expression; `locals` holds the slots (lambda parameters are bound in it).
pub fn eval(e: &Expr, locals: &mut Vec<Value>, env: &Env) -> Value {
    match &e.kind {
        ExprKind::Const(c) => const_value(c),
        ExprKind::Interpolate(parts) => {
            let mut s = String::new();
            for p in parts {
                s.push_str(&eval(p, locals, env).text());
            }
            Value::str(s)
        }
        ExprKind::List(items) => Value::list(items.iter().map(|i| eval(i, locals, env)).collect()),
        ExprKind::Record(fields) => {
            let mut r = value::Record::with_capacity(fields.len());
            for (k, v) in fields {
                let v = eval(v, locals, env);
                r.insert(k.as_str(), v);
            }
            Value::record(r)
        }
        ExprKind::Local(slot) => locals.get(*slot).cloned().unwrap_or(Value::Null),
        ExprKind::Event => env.event.clone(),
        ExprKind::Profile => env.profile.clone(),
        ExprKind::Field(base, name) => eval(base, locals, env).field(name),
        ExprKind::Index(base, index) => index_value(&eval(base, locals, env), &eval(index, locals, env)),
        ExprKind::Call(name, args) => call(name, args, locals, env),
        ExprKind::Secret(name) => (env.secret)(name).map_or(Value::Null, Value::from),
        ExprKind::Lambda(..) | ExprKind::Error => Value::Null,
        ExprKind::Unary(op, x) => ops::unary(*op, &eval(x, locals, env)),
        ExprKind::Binary(op, l, r) => binary(*op, l, r, locals, env),
        ExprKind::InRange { value, lo, hi, negated } => {
            let v = ops::in_range(&eval(value, locals, env), &eval(lo, locals, env), &eval(hi, locals, env));
            if *negated {
                ops::not(&v)
            } else {
                v
            }
        }
        ExprKind::Is(x, test) => ops::is(&eval(x, locals, env), *test),
        ExprKind::If(c, a, b) => {
            if eval(c, locals, env).truthy() {
                eval(a, locals, env)
            } else {
                eval(b, locals, env)
            }
        }
    }
}

/// `base[index]`: a list item by int (null outside the list) or a record field by string.
pub fn index_value(base: &Value, index: &Value) -> Value {
    match (base, index) {
        (Value::List(items), Value::Int(i)) if *i >= 0 => items.get(*i as usize).cloned().unwrap_or(Value::Null),
        (Value::Record(_), Value::Str(k)) => base.field(k),
        _ => Value::Null,
    }
}

fn binary(op: BinaryOp, l: &Expr, r: &Expr, locals: &mut Vec<Value>, env: &Env) -> Value {
    let a = eval(l, locals, env);
    match op {
        BinaryOp::And if a == Value::Bool(false) => a,
        BinaryOp::Or if a == Value::Bool(true) => a,
        BinaryOp::Coalesce if !a.is_null() => a,
        _ => ops::binary(op, &a, &eval(r, locals, env)),
    }
}

fn call(name: &str, args: &[Expr], locals: &mut Vec<Value>, env: &Env) -> Value {
    if let (Some(list), Some(ExprKind::Lambda(slot, body))) = (args.first(), args.get(1).map(|a| &a.kind)) {
        let list = eval(list, locals, env);
        let Some(items) = list.as_list() else { return Value::Null };
        let mut hits = items.iter().filter(|item| {
            if locals.len() <= *slot {
                locals.resize(*slot + 1, Value::Null);
            }
            locals[*slot] = (*item).clone();
            eval(body, locals, env).truthy()
        });
        return match name {
            "all" => Value::list(hits.cloned().collect()),
            "first" => hits.next().cloned().unwrap_or(Value::Null),
            "last" => hits.last().cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        };
    }
    let values: Vec<Value> = args.iter().map(|a| eval(a, locals, env)).collect();
    library::call(name, &values, env.ctx)
}

/// A free-standing expression that did not check: its source (for rendering) and diagnostics.
pub struct Rejected {
    /// The source the diagnostics point into.
    pub sources: journey_compiler::sources::Sources,
    /// The problems found.
    pub diagnostics: Vec<journey_compiler::diag::Diagnostic>,
}

/// Parses, types and evaluates one expression (for `journey eval`): `event` and `profile` have
/// type `any` and the given values.
pub fn eval_text(
    src: &str,
    registry: &journey_compiler::SchemaRegistry,
    event: &Value,
    profile: &Value,
    ctx: &EvalContext,
) -> Result<Value, Rejected> {
    use journey_compiler::types::Ty;
    let mut sources = journey_compiler::sources::Sources::default();
    let file = sources.add("<expr>", "<expr>".into(), src.to_string());
    match journey_compiler::check_expr(&sources, file, registry, Ty::Any, Ty::Any) {
        Ok(expr) => Ok(eval(&expr, &mut Vec::new(), &Env::new(event, profile, ctx))),
        Err(diagnostics) => Err(Rejected { sources, diagnostics }),
    }
}
