//! The bytecode interpreter: a stack machine with one tight dispatch loop. It runs expression
//! chunks to their `Ret`, and journey code until the next journey-control instruction, which it
//! hands back to the engine as a [`Stop`].

use crate::eval::{const_value, index_value};
use crate::library::{self, ops, EvalContext, FnId};
use crate::value::{Record, Value};
use arcstr::ArcStr;
use journey_compiler::bytecode::{Code, LambdaKind, Op, Program};
use journey_grammar::ast::{BinaryOp, UnaryOp};
use std::sync::Arc;

/// A program made ready to run: constants as values, names shared, functions resolved.
#[derive(Debug)]
pub struct Image {
    /// The bytecode.
    pub program: Program,
    /// Constants.
    pub consts: Vec<Value>,
    /// Interned names.
    pub names: Vec<ArcStr>,
    /// Library functions by the program's function index.
    pub functions: Vec<FnId>,
}

/// Why a program cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The program calls a function this VM does not have.
    #[error(
        "the program calls `{0}`, which this version of the VM does not have; rebuild it with a matching `journey`"
    )]
    UnknownFunction(String),
}

impl Image {
    /// Prepares a program.
    pub fn load(program: Program) -> Result<Image, LoadError> {
        let functions = program
            .functions
            .iter()
            .map(|f| library::lookup(f).ok_or_else(|| LoadError::UnknownFunction(f.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Image {
            consts: program.consts.iter().map(const_value).collect(),
            names: program.names.iter().map(|n| ArcStr::from(n.as_str())).collect(),
            functions,
            program,
        })
    }

    /// The name at index `i`.
    pub fn name(&self, i: u32) -> &ArcStr {
        &self.names[i as usize]
    }
}

/// What code reads besides its stack.
pub struct Frame<'a> {
    /// Local slots.
    pub locals: &'a mut [Value],
    /// The entry event's values at the journey's event paths.
    pub event_paths: &'a [Value],
    /// The payload (event `key`/`when` code).
    pub event: &'a Value,
    /// The profile's attributes.
    pub profile: &'a Value,
    /// Clock, time zone, random source, audiences.
    pub ctx: &'a EvalContext<'a>,
    /// Secrets (HTTP option code only).
    pub secret: &'a dyn Fn(&str) -> Option<String>,
}

/// Where journey code stopped and why.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// End of an expression chunk, with its value.
    Ret(Value),
    /// Entered node `i`.
    Node(u32),
    /// `wait` this many milliseconds.
    Wait(Value),
    /// `wait until` this time of day or date-time.
    WaitUntil(Value),
    /// `await` point `i`.
    Await(u32),
    /// Call `i`; its given arguments are on top of the stack, in parameter order.
    Call(u32),
    /// Split `i`.
    Split(u32),
    /// Cap `i`.
    Cap(u32),
    /// Profile update `i`; one value per path is on top of the stack.
    Update(u32),
    /// Start journey `names[i]`.
    JumpJourney(u32),
    /// End with the label `names[i]`, or none.
    End(Option<u32>),
    /// The instruction budget ran out (a runaway expression).
    Budget,
}

/// How many instructions one step may run before it is stopped.
pub const DEFAULT_BUDGET: u64 = 1_000_000;

/// Runs `code` from `*pc` until a [`Stop`]; `*pc` then points after the stopping instruction.
pub fn run(
    image: &Image,
    code: &Code,
    pc: &mut u32,
    frame: &mut Frame,
    stack: &mut Vec<Value>,
    budget: &mut u64,
) -> Stop {
    let ops = &code.ops;
    loop {
        if *budget == 0 {
            return Stop::Budget;
        }
        *budget -= 1;
        let Some(op) = ops.get(*pc as usize) else {
            return Stop::End(None);
        };
        *pc += 1;
        match *op {
            Op::Const(i) => stack.push(image.consts[i as usize].clone()),
            Op::Local(s) => stack.push(frame.locals.get(s as usize).cloned().unwrap_or_default()),
            Op::SetLocal(s) => {
                let v = pop(stack);
                if let Some(slot) = frame.locals.get_mut(s as usize) {
                    *slot = v;
                }
            }
            Op::Event => stack.push(frame.event.clone()),
            Op::EventPath(i) => stack.push(frame.event_paths.get(i as usize).cloned().unwrap_or_default()),
            Op::Profile => stack.push(frame.profile.clone()),
            Op::Field(n) => {
                let v = pop(stack);
                stack.push(v.field(image.name(n)));
            }
            Op::Index => {
                let i = pop(stack);
                let b = pop(stack);
                stack.push(index_value(&b, &i));
            }
            Op::Call(f, argc) => {
                let at = stack.len().saturating_sub(argc as usize);
                let v = library::call_id(image.functions[f as usize], &stack[at..], frame.ctx);
                stack.truncate(at);
                stack.push(v);
            }
            Op::Secret(n) => stack.push((frame.secret)(image.name(n)).map(Value::str).unwrap_or_default()),
            Op::Neg => unary(stack, UnaryOp::Neg),
            Op::Not => {
                let v = pop(stack);
                stack.push(ops::not(&v));
            }
            Op::Add => binary(stack, ops::add),
            Op::Sub => binary(stack, ops::sub),
            Op::Mul => binary(stack, ops::mul),
            Op::Div => binary(stack, ops::div),
            Op::Rem => binary(stack, ops::rem),
            Op::Eq => binary(stack, ops::eq),
            Op::Ne => binary(stack, |a, b| ops::not(&ops::eq(a, b))),
            Op::Lt => binary(stack, |a, b| ops::binary(BinaryOp::Lt, a, b)),
            Op::Le => binary(stack, |a, b| ops::binary(BinaryOp::Le, a, b)),
            Op::Gt => binary(stack, |a, b| ops::binary(BinaryOp::Gt, a, b)),
            Op::Ge => binary(stack, |a, b| ops::binary(BinaryOp::Ge, a, b)),
            Op::In => binary(stack, ops::in_list),
            Op::InRange(negated) => {
                let hi = pop(stack);
                let lo = pop(stack);
                let x = pop(stack);
                let r = ops::in_range(&x, &lo, &hi);
                stack.push(if negated { ops::not(&r) } else { r });
            }
            Op::Is(test) => {
                let v = pop(stack);
                stack.push(ops::is(&v, test));
            }
            Op::Concat(n) => {
                let at = stack.len().saturating_sub(n as usize);
                let mut s = String::new();
                for v in &stack[at..] {
                    s.push_str(&v.text());
                }
                stack.truncate(at);
                stack.push(Value::str(s));
            }
            Op::MakeList(n) => {
                let at = stack.len().saturating_sub(n as usize);
                let items = stack.split_off(at);
                stack.push(Value::List(Arc::new(items)));
            }
            Op::MakeRecord(shape) => {
                let names = &image.program.shapes[shape as usize];
                let at = stack.len().saturating_sub(names.len());
                let mut r = Record::with_capacity(names.len());
                for (n, v) in names.iter().zip(stack.drain(at..)) {
                    r.push_unchecked(image.name(*n).clone(), v);
                }
                stack.push(Value::Record(Arc::new(r)));
            }
            Op::Jump(a) => *pc = a,
            Op::JumpIfFalse(a) => {
                if !pop(stack).truthy() {
                    *pc = a;
                }
            }
            Op::JumpIfNotNull(a) => {
                if stack.last().is_some_and(|v| !v.is_null()) {
                    *pc = a;
                } else {
                    stack.pop();
                }
            }
            Op::JumpIfFalseKeep(a) => {
                if matches!(stack.last(), Some(Value::Bool(false))) {
                    *pc = a;
                }
            }
            Op::JumpIfTrueKeep(a) => {
                if matches!(stack.last(), Some(Value::Bool(true))) {
                    *pc = a;
                }
            }
            Op::And => binary(stack, ops::and),
            Op::Or => binary(stack, ops::or),
            Op::Lambda(i) => {
                let list = pop(stack);
                let result = lambda(image, code, i, &list, frame, stack, budget);
                match result {
                    Some(v) => stack.push(v),
                    None => return Stop::Budget,
                }
            }
            Op::Pop => {
                stack.pop();
            }
            Op::Ret => return Stop::Ret(pop(stack)),
            Op::Node(i) => return Stop::Node(i),
            Op::Wait => return Stop::Wait(pop(stack)),
            Op::WaitUntil => return Stop::WaitUntil(pop(stack)),
            Op::Await(i) => return Stop::Await(i),
            Op::ActionCall(i) => return Stop::Call(i),
            Op::Split(i) => return Stop::Split(i),
            Op::Cap(i) => return Stop::Cap(i),
            Op::UpdateProfile(i) => return Stop::Update(i),
            Op::JumpJourney(n) => return Stop::JumpJourney(n),
            Op::End(n) => return Stop::End((n != u32::MAX).then_some(n)),
        }
    }
}

/// Runs a chunk at `addr` to its `Ret` and returns the value (null if it stops otherwise).
pub fn eval_chunk(
    image: &Image,
    code: &Code,
    addr: u32,
    frame: &mut Frame,
    stack: &mut Vec<Value>,
    budget: &mut u64,
) -> Option<Value> {
    let mut pc = addr;
    let base = stack.len();
    let out = match run(image, code, &mut pc, frame, stack, budget) {
        Stop::Ret(v) => Some(v),
        Stop::Budget => None,
        _ => Some(Value::Null),
    };
    stack.truncate(base);
    out
}

fn lambda(
    image: &Image,
    code: &Code,
    i: u32,
    list: &Value,
    frame: &mut Frame,
    stack: &mut Vec<Value>,
    budget: &mut u64,
) -> Option<Value> {
    let l = code.lambdas[i as usize];
    let Some(items) = list.as_list() else { return Some(Value::Null) };
    let mut holds = |item: &Value, frame: &mut Frame| -> Option<bool> {
        if let Some(slot) = frame.locals.get_mut(l.slot as usize) {
            *slot = item.clone();
        }
        Some(eval_chunk(image, code, l.body, frame, stack, budget)?.truthy())
    };
    Some(match l.kind {
        LambdaKind::All => {
            let mut out = Vec::new();
            for item in items {
                if holds(item, frame)? {
                    out.push(item.clone());
                }
            }
            Value::List(Arc::new(out))
        }
        LambdaKind::First => {
            for item in items {
                if holds(item, frame)? {
                    return Some(item.clone());
                }
            }
            Value::Null
        }
        LambdaKind::Last => {
            for item in items.iter().rev() {
                if holds(item, frame)? {
                    return Some(item.clone());
                }
            }
            Value::Null
        }
    })
}

#[inline]
fn pop(stack: &mut Vec<Value>) -> Value {
    stack.pop().unwrap_or_default()
}

#[inline]
fn binary(stack: &mut Vec<Value>, f: impl Fn(&Value, &Value) -> Value) {
    let b = pop(stack);
    let a = pop(stack);
    stack.push(f(&a, &b));
}

#[inline]
fn unary(stack: &mut Vec<Value>, op: UnaryOp) {
    let a = pop(stack);
    stack.push(ops::unary(op, &a));
}
