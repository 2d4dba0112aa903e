//! The bytecode interpreter: a stack machine with one tight dispatch loop. It runs expression
//! chunks to their `Ret`, and journey code until the next journey-control instruction, which it
//! hands back to the engine as a [`Stop`].
//!
//! The interpreter trusts its code: [`Image::load`] verifies a program once
//! ([`journey_bytecode::verify`]), so operands are in range, every pop has a value to take and
//! every chunk ends in `Ret`, and nothing is checked again per instruction.

#[cfg(doc)]
use crate::library::ops::index;
use crate::library::{self, ops, EvalContext, FnId};
use crate::projection::Projection;
use crate::value::{const_value, Record, Value, NULL};
use arcstr::ArcStr;
use journey_bytecode::{Code, LambdaKind, Op, Program, VerifyError, NO_LABEL};
use std::cmp::Ordering;
use std::sync::Arc;

/// A program made ready to run: verified, constants as values, names shared, functions resolved.
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
    /// What the program reads of each event's payload, by event index.
    pub projections: Vec<Projection>,
}

/// Why a program cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The program calls a function this VM does not have.
    #[error(
        "the program calls `{0}`, which this version of the VM does not have; rebuild it with a matching `journey`"
    )]
    UnknownFunction(String),
    /// The program is not valid bytecode.
    #[error("the program holds invalid bytecode: {0}; rebuild it with `journey build`")]
    Invalid(#[from] VerifyError),
}

impl Image {
    /// Verifies a program and prepares it to run.
    pub fn load(program: Program) -> Result<Image, LoadError> {
        journey_bytecode::verify(&program)?;
        Image::prepare(program)
    }

    /// Prepares a verified program.
    fn prepare(program: Program) -> Result<Image, LoadError> {
        let functions = program
            .functions
            .iter()
            .map(|f| library::lookup(f).ok_or_else(|| LoadError::UnknownFunction(f.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Image {
            consts: program.consts.iter().map(|c| static_strings(const_value(c))).collect(),
            names: program.names.iter().map(|n| shared_static(n)).collect(),
            functions,
            projections: Projection::of_events(&program),
            program,
        })
    }

    /// The name at index `i`.
    pub fn name(&self, i: u32) -> &ArcStr {
        &self.names[i as usize]
    }
}

/// A free-standing expression (`journey eval`), verified and ready to run: the tables of its
/// program and its code, one chunk at address 0.
#[derive(Debug)]
pub struct Expression {
    image: Image,
    code: Code,
}

impl Expression {
    /// Verifies and prepares an expression compiled on its own (the compiler's `compile_expr`).
    pub fn load(program: Program, code: Code) -> Result<Expression, LoadError> {
        journey_bytecode::verify::verify_expression(&program, &code)?;
        Ok(Expression { image: Image::prepare(program)?, code })
    }

    /// Its value with `event` and `profile` (no secrets); `None` when it runs out of
    /// [`DEFAULT_BUDGET`].
    pub fn eval(&self, event: &Value, profile: &Value, ctx: &EvalContext) -> Option<Value> {
        let mut locals = vec![Value::Null; self.code.lambda_slots()];
        let mut frame = Frame { locals: &mut locals, event_paths: &[], event, profile, ctx, secret: &|_| None };
        let mut budget = DEFAULT_BUDGET;
        eval_chunk(&self.image, &self.code, 0, &mut frame, &mut Vec::new(), &mut budget)
    }
}

/// The program's strings are shared, never-freed ("static") strings: copying and dropping one
/// (a constant pushed and compared, a name in a record literal) touches no reference count.
/// They are interned, so loading the same program again adds nothing.
pub(crate) fn shared_static(s: &str) -> ArcStr {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static STRINGS: OnceLock<Mutex<HashSet<ArcStr>>> = OnceLock::new();
    let mut set = STRINGS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = set.get(s) {
        return shared.clone();
    }
    let shared = ArcStr::from(s);
    shared.leak();
    set.insert(shared.clone());
    shared
}

/// A constant with its string (if any) shared (see [`shared_static`]).
fn static_strings(v: Value) -> Value {
    match v {
        Value::Str(s) => Value::Str(shared_static(&s)),
        other => other,
    }
}

/// What code reads besides its stack. The caller gives it as many local slots and event-path
/// values as the code's owner declares (a journey's `locals` and `event_paths`; the lambda slots
/// of expression code; an action's parameters and lambda slots).
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
    /// Send `i`; template, variables, address and consent are on top of the stack.
    Send(u32),
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
    // The loop works on local copies, which stay in registers.
    let (mut p, mut b) = (*pc, *budget);
    let stop = exec(image, code, &mut p, frame, stack, &mut b);
    *pc = p;
    *budget = b;
    match stop {
        Stop::Ret(_) => Stop::Ret(pop(stack)),
        other => other,
    }
}

// Fused sequences. The loop takes some common instruction sequences in one step, on borrowed
// values instead of clones (a clone or drop of a string, list or record is an atomic count
// update): a field chain such as `event.commerce.order.priceTotal` borrows its way down and
// clones only its end; a comparison with a constant, an `is` test or a one-argument call
// applied to a borrowed value does not clone it at all; `x in [constants]` builds no list. Each
// fused instruction counts against the budget as if it ran alone, and a sequence is only fused
// when the budget covers all of it, so budget stops happen at the same instruction. The result
// is always the value the instructions would leave one at a time.
#[inline(always)]
fn exec(image: &Image, code: &Code, pc: &mut u32, frame: &mut Frame, stack: &mut Vec<Value>, budget: &mut u64) -> Stop {
    let ops = &code.ops[..];
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
            Op::Const(i) => {
                let c = &image.consts[i as usize];
                if *budget >= 1 {
                    // `x == "constant"`: compare with the constant in place.
                    if let Some(top) = stack.last_mut() {
                        if let Some(r) = ops.get(*pc as usize).and_then(|op| compare(*op, top, c)) {
                            *pc += 1;
                            *budget -= 1;
                            *top = tri(r);
                            continue;
                        }
                    }
                    // `x in [c1, c2, ...]` with constant items: no list is built.
                    if let Some(r) = const_list_in(image, ops, pc, budget, stack.last()) {
                        *stack.last_mut().expect("const_list_in checked the top") = r;
                        continue;
                    }
                }
                stack.push(c.clone())
            }
            Op::Local(s) => {
                let v = walk(image, ops, pc, budget, &frame.locals[s as usize]);
                finish(image, ops, pc, budget, frame.ctx, v, stack)
            }
            Op::SetLocal(s) => frame.locals[s as usize] = pop(stack),
            Op::Event => {
                let base = frame.event;
                if !borrowed(image, code, pc, frame, stack, budget, base) {
                    return Stop::Budget;
                }
            }
            Op::EventPath(i) => {
                let base = &frame.event_paths[i as usize];
                if !borrowed(image, code, pc, frame, stack, budget, base) {
                    return Stop::Budget;
                }
            }
            Op::Profile => {
                let base = frame.profile;
                if !borrowed(image, code, pc, frame, stack, budget, base) {
                    return Stop::Budget;
                }
            }
            Op::Field(n) => {
                let base = pop(stack);
                if !borrowed(image, code, pc, frame, stack, budget, base.field_ref(image.name(n))) {
                    return Stop::Budget;
                }
            }
            Op::Index => {
                let i = pop(stack);
                let b = pop(stack);
                if !borrowed(image, code, pc, frame, stack, budget, index_ref(&b, &i)) {
                    return Stop::Budget;
                }
            }
            Op::Call(f, argc) => {
                let at = stack.len() - argc as usize;
                let v = library::call_id(image.functions[f as usize], &stack[at..], frame.ctx);
                stack.truncate(at);
                stack.push(v);
            }
            Op::Secret(n) => stack.push((frame.secret)(image.name(n)).map(Value::str).unwrap_or_default()),
            Op::Neg => in_place(stack, ops::neg),
            Op::Not => in_place(stack, ops::not),
            Op::Add => binary(stack, ops::add),
            Op::Sub => binary(stack, ops::sub),
            Op::Mul => binary(stack, ops::mul),
            Op::Div => binary(stack, ops::div),
            Op::Rem => binary(stack, ops::rem),
            Op::Eq => binary(stack, ops::eq),
            Op::Ne => binary(stack, |a, b| ops::not(&ops::eq(a, b))),
            Op::Lt => binary(stack, |a, b| ops::cmp(a, b, Ordering::is_lt)),
            Op::Le => binary(stack, |a, b| ops::cmp(a, b, Ordering::is_le)),
            Op::Gt => binary(stack, |a, b| ops::cmp(a, b, Ordering::is_gt)),
            Op::Ge => binary(stack, |a, b| ops::cmp(a, b, Ordering::is_ge)),
            Op::In => binary(stack, ops::in_op),
            Op::InRange(negated) => {
                let hi = pop(stack);
                let lo = pop(stack);
                let x = pop(stack);
                let r = ops::in_range(&x, &lo, &hi);
                stack.push(if negated { ops::not(&r) } else { r });
            }
            Op::Is(test) => in_place(stack, |v| ops::is(v, test)),
            Op::Concat(n) => {
                let at = stack.len() - n as usize;
                // `"${a} ${b}" == "constant"`: compared piece by piece, no string built.
                if let (true, Some(&Op::Const(k)), Some(&op @ (Op::Eq | Op::Ne))) =
                    (*budget >= 2, ops.get(*pc as usize), ops.get(*pc as usize + 1))
                {
                    if let Value::Str(c) = &image.consts[k as usize] {
                        let mut rest = c.as_bytes();
                        let mut same = true;
                        for v in &stack[at..] {
                            let t = v.text();
                            match rest.strip_prefix(t.as_bytes()) {
                                Some(r) => rest = r,
                                None => {
                                    same = false;
                                    break;
                                }
                            }
                        }
                        let same = same && rest.is_empty();
                        stack.truncate(at);
                        push_tri(stack, Some(if op == Op::Eq { same } else { !same }));
                        *pc += 2;
                        *budget -= 2;
                        continue;
                    }
                }
                let mut s = String::new();
                for v in &stack[at..] {
                    s.push_str(&v.text());
                }
                stack.truncate(at);
                stack.push(Value::str(s));
            }
            Op::MakeList(n) => {
                let at = stack.len() - n as usize;
                let items = stack.split_off(at);
                stack.push(Value::List(Arc::new(items)));
            }
            Op::MakeRecord(shape) => {
                let names = &image.program.shapes[shape as usize];
                let at = stack.len() - names.len();
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
                if !top(stack).is_null() {
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
            Op::And => logic(stack, true),
            Op::Or => logic(stack, false),
            Op::Lambda(i) => {
                let list = pop(stack);
                match lambda(image, code, i, &list, frame, stack, budget) {
                    Some(Found::Item(v)) => stack.push(v.clone()),
                    Some(Found::Value(v)) => stack.push(v),
                    None => return Stop::Budget,
                }
            }
            Op::Pop => {
                stack.pop();
            }
            // The value stays on the stack: `run` and `eval_chunk` take it from there.
            Op::Ret => return Stop::Ret(Value::Null),
            Op::Node(i) => return Stop::Node(i),
            Op::Wait => return Stop::Wait(pop(stack)),
            Op::WaitUntil => return Stop::WaitUntil(pop(stack)),
            Op::Await(i) => return Stop::Await(i),
            Op::ActionCall(i) => return Stop::Call(i),
            Op::Split(i) => return Stop::Split(i),
            Op::Cap(i) => return Stop::Cap(i),
            Op::UpdateProfile(i) => return Stop::Update(i),
            Op::JumpJourney(n) => return Stop::JumpJourney(n),
            Op::End(n) => return Stop::End((n != NO_LABEL).then_some(n)),
            Op::Send(i) => return Stop::Send(i),
        }
    }
}

/// A value read by reference (from the event, the profile, an event path, or a popped base)
/// and what follows it: a field chain, then a lambda over it or [`finish`]. False when the
/// budget ran out inside a lambda.
#[inline(always)]
fn borrowed(
    image: &Image,
    code: &Code,
    pc: &mut u32,
    frame: &mut Frame,
    stack: &mut Vec<Value>,
    budget: &mut u64,
    base: &Value,
) -> bool {
    let ops = &code.ops[..];
    let v = walk(image, ops, pc, budget, base);
    if let Some(&Op::Lambda(i)) = ops.get(*pc as usize) {
        if *budget >= 1 {
            // `first(event.items, i -> ...)`: over the borrowed list.
            *pc += 1;
            *budget -= 1;
            return match lambda(image, code, i, v, frame, stack, budget) {
                Some(Found::Item(item)) => {
                    finish(image, ops, pc, budget, frame.ctx, item, stack);
                    true
                }
                Some(Found::Value(r)) => {
                    stack.push(r);
                    true
                }
                None => false,
            };
        }
    }
    finish(image, ops, pc, budget, frame.ctx, v, stack);
    true
}

/// Follows the field reads and constant indexes at `*pc` from `v`, borrowing.
#[inline(always)]
fn walk<'v>(image: &'v Image, ops: &[Op], pc: &mut u32, budget: &mut u64, mut v: &'v Value) -> &'v Value {
    loop {
        match ops.get(*pc as usize) {
            Some(&Op::Field(n)) if *budget >= 1 => {
                v = v.field_ref(image.name(n));
                *pc += 1;
                *budget -= 1;
            }
            Some(&Op::Const(k)) if *budget >= 2 && matches!(ops.get(*pc as usize + 1), Some(Op::Index)) => {
                v = index_ref(v, &image.consts[k as usize]);
                *pc += 2;
                *budget -= 2;
            }
            _ => return v,
        }
    }
}

/// Pushes what the instructions at `*pc` make of a borrowed `v`: a comparison with a constant,
/// an `is` test or a one-argument call are applied to it; otherwise it is cloned.
#[inline(always)]
fn finish(
    image: &Image,
    ops: &[Op],
    pc: &mut u32,
    budget: &mut u64,
    ctx: &EvalContext,
    v: &Value,
    stack: &mut Vec<Value>,
) {
    // Each arm pushes its own value, so it is built in place rather than copied in.
    match ops.get(*pc as usize) {
        Some(&Op::Const(k)) if *budget >= 2 => {
            match ops.get(*pc as usize + 1).and_then(|op| compare(*op, v, &image.consts[k as usize])) {
                Some(r) => {
                    *pc += 2;
                    *budget -= 2;
                    push_tri(stack, r)
                }
                None => stack.push(v.clone()),
            }
        }
        Some(&Op::Is(test)) if *budget >= 1 => {
            *pc += 1;
            *budget -= 1;
            stack.push(ops::is(v, test))
        }
        Some(&Op::Call(f, 1)) if *budget >= 1 => {
            *pc += 1;
            *budget -= 1;
            stack.push(library::call_id(image.functions[f as usize], std::slice::from_ref(v), ctx))
        }
        _ => stack.push(v.clone()),
    }
}

/// `a op b` for a comparison instruction (`Some(None)` when null), or `None` for another
/// instruction. Kept to a tri-state bool so no `Value` is built until it is stored.
#[inline(always)]
fn compare(op: Op, a: &Value, b: &Value) -> Option<Option<bool>> {
    Some(match op {
        Op::Eq => Some(a == b),
        Op::Ne => Some(a != b),
        Op::Lt => a.compare(b).map(Ordering::is_lt),
        Op::Le => a.compare(b).map(Ordering::is_le),
        Op::Gt => a.compare(b).map(Ordering::is_gt),
        Op::Ge => a.compare(b).map(Ordering::is_ge),
        _ => return None,
    })
}

/// Pushes a comparison's value. Out of line, so the value is written straight into its slot
/// (a `Value` built in a temporary and then copied in costs a store-forwarding stall).
#[inline(never)]
fn push_tri(stack: &mut Vec<Value>, r: Option<bool>) {
    stack.push(tri(r));
}

/// A comparison's value.
#[inline(always)]
fn tri(r: Option<bool>) -> Value {
    match r {
        Some(b) => Value::Bool(b),
        None => Value::Null,
    }
}

/// At the first of `n` constants (the one just taken) followed by `MakeList(n)` and `In`: whether
/// `x` (the top) is one of them, without building the list.
#[inline(always)]
fn const_list_in(image: &Image, ops: &[Op], pc: &mut u32, budget: &mut u64, x: Option<&Value>) -> Option<Value> {
    let x = x?;
    let first = *pc as usize - 1;
    let mut end = first + 1;
    while let Some(Op::Const(_)) = ops.get(end) {
        end += 1;
    }
    let n = end - first;
    if ops.get(end) != Some(&Op::MakeList(n as u32)) || ops.get(end + 1) != Some(&Op::In) {
        return None;
    }
    // The other constants, the list and the test.
    let more = (n + 1) as u64;
    if *budget < more {
        return None;
    }
    let found = ops[first..end].iter().any(|op| match op {
        Op::Const(k) => image.consts[*k as usize] == *x,
        _ => false,
    });
    *pc = (end + 2) as u32;
    *budget -= more;
    Some(Value::Bool(found))
}

/// `base[index]`, borrowed (see [`index`]).
#[inline(always)]
fn index_ref<'a>(base: &'a Value, index: &Value) -> &'a Value {
    match (base, index) {
        (Value::List(items), Value::Int(i)) if *i >= 0 => items.get(*i as usize).unwrap_or(&NULL),
        (Value::Record(_), Value::Str(k)) => base.field_ref(k),
        _ => &NULL,
    }
}

/// Runs the chunk at `addr` of `code` (code of `image`'s program, which the loader verified) to
/// its `Ret` and returns the value; `None` when the budget runs out.
pub fn eval_chunk(
    image: &Image,
    code: &Code,
    addr: u32,
    frame: &mut Frame,
    stack: &mut Vec<Value>,
    budget: &mut u64,
) -> Option<Value> {
    let (mut pc, mut b) = (addr, *budget);
    let base = stack.len();
    let out = match exec(image, code, &mut pc, frame, stack, &mut b) {
        Stop::Ret(_) => Some(pop(stack)),
        Stop::Budget => None,
        other => unreachable!("a verified chunk stops only at `ret` or for the budget, not at {other:?}"),
    };
    *budget = b;
    stack.truncate(base);
    out
}

/// What a lambda gives: an item of its list, or another value (a new list, null).
enum Found<'l> {
    Item(&'l Value),
    Value(Value),
}

fn lambda<'l>(
    image: &Image,
    code: &Code,
    i: u32,
    list: &'l Value,
    frame: &mut Frame,
    stack: &mut Vec<Value>,
    budget: &mut u64,
) -> Option<Found<'l>> {
    let l = code.lambdas[i as usize];
    let Some(items) = list.as_list() else { return Some(Found::Value(Value::Null)) };
    let mut holds = |item: &Value, frame: &mut Frame| -> Option<bool> {
        frame.locals[l.slot as usize] = item.clone();
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
            Found::Value(Value::List(Arc::new(out)))
        }
        LambdaKind::First => {
            for item in items {
                if holds(item, frame)? {
                    return Some(Found::Item(item));
                }
            }
            Found::Value(Value::Null)
        }
        LambdaKind::Last => {
            for item in items.iter().rev() {
                if holds(item, frame)? {
                    return Some(Found::Item(item));
                }
            }
            Found::Value(Value::Null)
        }
    })
}

/// The top value, taken. The verifier made sure every pop has a value to take.
#[inline]
fn pop(stack: &mut Vec<Value>) -> Value {
    stack.pop().expect("verified code never pops an empty stack")
}

/// The top value.
#[inline]
fn top(stack: &[Value]) -> &Value {
    stack.last().expect("verified code never reads an empty stack")
}

/// A binary operator on the two top values, in place.
#[inline(always)]
fn binary(stack: &mut Vec<Value>, f: impl Fn(&Value, &Value) -> Value) {
    let n = stack.len();
    let r = f(&stack[n - 2], &stack[n - 1]);
    stack.pop();
    stack[n - 2] = r;
}

/// `and` (`and` true) or `or` on the two top values, in place (three-valued, as `ops::and` and
/// `ops::or`). Out of line, like [`push_tri`], so the result is written straight into its slot.
#[inline(never)]
fn logic(stack: &mut Vec<Value>, and: bool) {
    let n = stack.len();
    let (a, b) = (stack[n - 2].as_bool(), stack[n - 1].as_bool());
    let r = if and {
        match (a, b) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        }
    } else {
        match (a, b) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        }
    };
    stack.truncate(n - 1);
    stack[n - 2] = tri(r);
}

/// A unary operation on the top value, in place.
#[inline(always)]
fn in_place(stack: &mut [Value], f: impl Fn(&Value) -> Value) {
    let top = stack.last_mut().expect("verified code never reads an empty stack");
    *top = f(top);
}
