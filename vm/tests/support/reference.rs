//! A reference tree-walking evaluator over the typed IR: the oracle the bytecode VM is tested
//! against (`oracle.rs`, `machine.rs`, the CLI's `journey eval` test). No production path uses
//! it. Values carry their own types, so it reads no `ty`.
#![allow(dead_code)]

use journey_compiler::bytecode::{BinaryOp as Op, IsTest as Test, UnaryOp as Unary};
use journey_compiler::ir::{Expr, ExprKind};
use journey_grammar::ast::{BinaryOp, IsTest, UnaryOp};
use journey_vm::library::{self, ops, EvalContext};
use journey_vm::value::{self, const_value, Value};

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
        ExprKind::Index(base, index) => ops::index(&eval(base, locals, env), &eval(index, locals, env)),
        ExprKind::Call(name, args) => call(name, args, locals, env),
        ExprKind::Secret(name) => (env.secret)(name).map_or(Value::Null, Value::from),
        ExprKind::Lambda(..) | ExprKind::Error => Value::Null,
        ExprKind::Unary(op, x) => ops::unary(unary_op(*op), &eval(x, locals, env)),
        ExprKind::Binary(op, l, r) => binary(*op, l, r, locals, env),
        ExprKind::InRange { value, lo, hi, negated } => {
            let v = ops::in_range(&eval(value, locals, env), &eval(lo, locals, env), &eval(hi, locals, env));
            if *negated {
                ops::not(&v)
            } else {
                v
            }
        }
        ExprKind::Is(x, test) => ops::is(&eval(x, locals, env), is_test(*test)),
        ExprKind::If(c, a, b) => {
            if eval(c, locals, env).truthy() {
                eval(a, locals, env)
            } else {
                eval(b, locals, env)
            }
        }
    }
}

fn binary(op: BinaryOp, l: &Expr, r: &Expr, locals: &mut Vec<Value>, env: &Env) -> Value {
    let a = eval(l, locals, env);
    match op {
        BinaryOp::And if a == Value::Bool(false) => a,
        BinaryOp::Or if a == Value::Bool(true) => a,
        BinaryOp::Coalesce if !a.is_null() => a,
        _ => ops::binary(binary_op(op), &a, &eval(r, locals, env)),
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

/// The operator library's operator for the language's.
fn binary_op(op: BinaryOp) -> Op {
    match op {
        BinaryOp::Coalesce => Op::Coalesce,
        BinaryOp::Or => Op::Or,
        BinaryOp::And => Op::And,
        BinaryOp::Eq => Op::Eq,
        BinaryOp::Ne => Op::Ne,
        BinaryOp::Lt => Op::Lt,
        BinaryOp::Le => Op::Le,
        BinaryOp::Gt => Op::Gt,
        BinaryOp::Ge => Op::Ge,
        BinaryOp::In => Op::In,
        BinaryOp::NotIn => Op::NotIn,
        BinaryOp::Add => Op::Add,
        BinaryOp::Sub => Op::Sub,
        BinaryOp::Mul => Op::Mul,
        BinaryOp::Div => Op::Div,
        BinaryOp::Rem => Op::Rem,
    }
}

fn unary_op(op: UnaryOp) -> Unary {
    match op {
        UnaryOp::Neg => Unary::Neg,
        UnaryOp::Not => Unary::Not,
    }
}

fn is_test(test: IsTest) -> Test {
    match test {
        IsTest::Null => Test::Null,
        IsTest::NotNull => Test::NotNull,
        IsTest::HasNull => Test::HasNull,
        IsTest::Integer => Test::Integer,
        IsTest::Decimal => Test::Decimal,
        IsTest::Numeric => Test::Numeric,
    }
}
