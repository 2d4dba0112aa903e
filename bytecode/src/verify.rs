//! The verifier: checks a whole program once, before it runs, so that the interpreter can trust
//! it and check nothing per instruction.
//!
//! It checks that every operand is in range (constants, names, shapes, functions, lambdas, local
//! slots, event paths, nodes, awaits, calls, splits, caps, updates, jump targets and every other
//! address), and follows every path through the code from each entry (a journey's body and the
//! blocks its statements resume at; each expression chunk: `key`/`when`, await conditions and
//! durations, lambda bodies, HTTP options, test values) keeping the stack depth, to make sure
//! that:
//! - no instruction pops more values than the stack holds, and every path reaching an
//!   instruction reaches it with the same depth;
//! - an expression chunk ends in `Ret` with exactly its value on the stack, and holds no journey
//!   control;
//! - a journey's body reaches each statement with an empty stack, hands each control
//!   instruction exactly the values it takes (`Wait` one, `ActionCall` its given arguments,
//!   `UpdateProfile` one per path) and ends in `End`;
//! - no path runs past the end of its code;
//! - code only runs forward (the language has no loops): every jump, every block a statement
//!   resumes at and every lambda body lies after the instruction that goes there, so an instance
//!   always reaches its end, and lambdas nest at most [`MAX_LAMBDA_NESTING`] deep.

use crate::{Addr, AuthCode, Code, JourneyCode, MockResult, Op, Program, TestStep, UrlPart, NO_LABEL};
use std::fmt;

/// How deep lambdas may nest (`first(xs, x -> all(x.ys, y -> ...))` is 2).
pub const MAX_LAMBDA_NESTING: u32 = 32;

/// Why a program is not valid bytecode: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// The code it is in: `journey Onboarding`, `event Joined`, `action Welcome`, ...
    pub place: String,
    /// The address of the instruction, when it is about one.
    pub at: Option<Addr>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(at) => write!(f, "{} at {at:04}: {}", self.place, self.problem),
            None => write!(f, "{}: {}", self.place, self.problem),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Checks a whole program (see the module documentation).
pub fn verify(p: &Program) -> Result<(), VerifyError> {
    let fail = |place: &str, problem: String| VerifyError { place: place.to_string(), at: None, problem };
    for (i, shape) in p.shapes.iter().enumerate() {
        if let Some(n) = shape.iter().find(|n| **n as usize >= p.names.len()) {
            return Err(fail(
                "the program",
                format!("record shape {i} names #{n}, beyond the {} names", p.names.len()),
            ));
        }
    }
    if p.journeys.len() > u16::MAX as usize {
        return Err(fail("the program", format!("{} journeys, more than {}", p.journeys.len(), u16::MAX)));
    }
    if p.functions.len() > u16::MAX as usize + 1 {
        return Err(fail(
            "the program",
            format!("{} functions, more than {}", p.functions.len(), u16::MAX as usize + 1),
        ));
    }
    for e in &p.events {
        let place = format!("event {}", e.name);
        let mut c = Checker::new(p, &e.code, &place, Frame::expression(&e.code));
        c.operands()?;
        for addr in e.key.iter().chain(&e.when) {
            c.chunk(*addr)?;
        }
        c.lambdas()?;
    }
    for h in &p.http {
        let kind = match h.kind {
            crate::HttpKind::Action => "action",
            crate::HttpKind::DataSource => "data source",
        };
        let place = format!("{kind} {}", h.name);
        let locals = h.locals();
        if locals > u16::MAX as usize + 1 {
            return Err(fail(&place, format!("{locals} local slots, more than {}", u16::MAX as usize + 1)));
        }
        let mut c = Checker::new(p, &h.code, &place, Frame { locals, ..Frame::expression(&h.code) });
        c.operands()?;
        let mut chunks: Vec<Addr> = Vec::new();
        for part in &h.url {
            if let UrlPart::Param { value, .. } = part {
                chunks.push(*value);
            }
        }
        chunks.extend(h.headers.iter().map(|(_, a)| *a));
        chunks.extend(h.query.iter().map(|(_, a)| *a));
        chunks.extend(h.body);
        match &h.auth {
            AuthCode::None => {}
            AuthCode::Basic(u, p) => chunks.extend([*u, *p]),
            AuthCode::Bearer(t) | AuthCode::Header(_, t) => chunks.push(*t),
        }
        for addr in chunks {
            c.chunk(addr)?;
        }
        c.lambdas()?;
    }
    for c in &p.channels {
        if c.deliver as usize >= p.http.len() {
            return Err(fail(
                &format!("channel {}", c.name),
                format!("it delivers through action #{}, beyond the {}", c.deliver, p.http.len()),
            ));
        }
    }
    for (i, f) in p.frequencies.iter().enumerate() {
        if f.channel.is_some_and(|c| c as usize >= p.channels.len()) {
            return Err(fail(
                "the program",
                format!("frequency rule {i} names a channel beyond the {}", p.channels.len()),
            ));
        }
    }
    for j in &p.journeys {
        journey(p, j)?;
    }
    for t in &p.tests {
        let place = format!("test \"{}\"", t.name);
        let mut frame = Frame::expression(&t.code);
        frame.locals = frame.locals.max(t.slots());
        let mut c = Checker::new(p, &t.code, &place, frame);
        c.operands()?;
        for step in &t.steps {
            let addr = match step {
                TestStep::Profile { attributes, .. } => Some(*attributes),
                TestStep::Mock { result: MockResult::Value(v), .. } => Some(*v),
                TestStep::Send { payload, .. } => Some(*payload),
                TestStep::ExpectCall { args, .. } => *args,
                _ => None,
            };
            if let Some(addr) = addr {
                c.chunk(addr)?;
            }
        }
        c.lambdas()?;
    }
    Ok(())
}

/// Checks one free-standing expression's code (what `compile_expr` makes) against the tables of
/// its program: one chunk at address 0, reading `event` and `profile`, with only its lambdas'
/// parameters as locals.
pub fn verify_expression(p: &Program, code: &Code) -> Result<(), VerifyError> {
    verify(p)?;
    let mut c = Checker::new(p, code, "the expression", Frame::expression(code));
    c.operands()?;
    c.chunk(0)?;
    c.lambdas()
}

fn journey(p: &Program, j: &JourneyCode) -> Result<(), VerifyError> {
    let place = format!("journey {}", j.name);
    let frame = Frame { locals: j.locals as usize, event_paths: j.event_paths.len(), journey: Some(j) };
    let mut c = Checker::new(p, &j.code, &place, frame);
    let err = |problem: String| VerifyError { place: place.clone(), at: None, problem };
    if j.event_paths.len() > u16::MAX as usize + 1 {
        return Err(err(format!("{} event paths, more than {}", j.event_paths.len(), u16::MAX as usize + 1)));
    }
    c.operands()?;
    let slot = |what: &str, s: Option<u16>| match s {
        Some(s) if s >= j.locals => Err(err(format!("{what} uses local slot {s}, beyond its {} locals", j.locals))),
        _ => Ok(()),
    };
    for (i, a) in j.awaits.iter().enumerate() {
        for arm in &a.arms {
            slot(&format!("await {i}"), arm.slot)?;
        }
    }
    for (i, call) in j.calls.iter().enumerate() {
        slot(&format!("call {i}"), call.slot)?;
        let Some(h) = p.http.get(call.http as usize) else {
            return Err(err(format!("call {i} names action #{}, beyond the {}", call.http, p.http.len())));
        };
        if call.given.len() != h.params.len() {
            return Err(err(format!(
                "call {i} passes {} arguments to `{}`, which takes {}",
                call.given.len(),
                h.name,
                h.params.len()
            )));
        }
    }
    for (i, send) in j.sends.iter().enumerate() {
        slot(&format!("send {i}"), send.slot)?;
        slot(&format!("send {i}"), send.reason_slot)?;
        if send.channel as usize >= p.channels.len() {
            return Err(err(format!("send {i} names channel #{}, beyond the {}", send.channel, p.channels.len())));
        }
        if send.node as usize >= j.nodes.len() {
            return Err(err(format!("send {i} is node {}, beyond the {} nodes", send.node, j.nodes.len())));
        }
    }
    for g in &j.goals {
        slot(&format!("goal \"{}\"", g.name), g.slot)?;
    }
    for (i, s) in j.splits.iter().enumerate() {
        if s.node as usize >= j.nodes.len() {
            return Err(err(format!("split {i} is node {}, beyond the {} nodes", s.node, j.nodes.len())));
        }
    }
    for (i, cap) in j.caps.iter().enumerate() {
        if cap.node as usize >= j.nodes.len() {
            return Err(err(format!("cap {i} is node {}, beyond the {} nodes", cap.node, j.nodes.len())));
        }
    }
    for (i, paths) in j.updates.iter().enumerate() {
        if paths.iter().any(Vec::is_empty) {
            return Err(err(format!("profile update {i} has an empty path")));
        }
    }
    if j.code.ops.is_empty() {
        return Err(err("the body is empty (it must end in `end`)".into()));
    }
    c.body(0)?;
    for a in &j.awaits {
        for arm in &a.arms {
            c.body(arm.target)?;
            if let Some(cond) = arm.condition {
                c.chunk(cond)?;
            }
        }
        if let Some((duration, target)) = a.after {
            c.chunk(duration)?;
            c.body(target)?;
        }
    }
    for call in &j.calls {
        for target in [Some(call.next), call.on_timeout, call.on_error].into_iter().flatten() {
            c.body(target)?;
        }
    }
    for s in &j.splits {
        for (_, _, target) in &s.branches {
            c.body(*target)?;
        }
    }
    for cap in &j.caps {
        c.body(cap.otherwise)?;
    }
    for send in &j.sends {
        for target in [Some(send.retry), Some(send.next), send.on_suppressed, send.on_error].into_iter().flatten() {
            c.body(target)?;
        }
    }
    if let Some(tz) = j.timezone_expr {
        c.chunk(tz)?;
    }
    for g in &j.goals {
        for chunk in [g.condition, g.value].into_iter().flatten() {
            c.chunk(chunk)?;
        }
    }
    c.lambdas()
}

/// What code may read besides its stack.
#[derive(Clone, Copy)]
struct Frame<'p> {
    /// Local slots.
    locals: usize,
    /// Entry-event paths.
    event_paths: usize,
    /// The journey whose body it is (its tables); none for expression-only code.
    journey: Option<&'p JourneyCode>,
}

impl Frame<'_> {
    fn expression(code: &Code) -> Self {
        Frame { locals: code.lambda_slots(), event_paths: 0, journey: None }
    }
}

/// Where an address was reached from: a journey's statements or an expression chunk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Body,
    Chunk,
}

struct Checker<'p> {
    p: &'p Program,
    code: &'p Code,
    place: &'p str,
    frame: Frame<'p>,
    /// The mode and stack depth each address was first reached with.
    seen: Vec<Option<(Mode, u32)>>,
}

impl<'p> Checker<'p> {
    fn new(p: &'p Program, code: &'p Code, place: &'p str, frame: Frame<'p>) -> Self {
        Checker { p, code, place, frame, seen: vec![None; code.ops.len()] }
    }

    fn error(&self, at: Option<Addr>, problem: String) -> VerifyError {
        VerifyError { place: self.place.to_string(), at, problem }
    }

    /// Every operand of every instruction (reachable or not) and every lambda in range.
    fn operands(&self) -> Result<(), VerifyError> {
        let p = self.p;
        let len = self.code.ops.len();
        let range = |what: &str, i: usize, n: usize| -> Result<(), String> {
            if i < n {
                Ok(())
            } else {
                Err(format!("{what} #{i} is beyond the {n} there are"))
            }
        };
        let j = self.frame.journey;
        let count = |f: fn(&JourneyCode) -> usize| j.map_or(0, f);
        for (at, op) in self.code.ops.iter().enumerate() {
            let checked = match *op {
                Op::Const(i) => range("constant", i as usize, p.consts.len()),
                Op::Local(s) | Op::SetLocal(s) => range("local slot", s as usize, self.frame.locals),
                Op::EventPath(i) => range("event path", i as usize, self.frame.event_paths),
                Op::Field(n) | Op::Secret(n) | Op::JumpJourney(n) => range("name", n as usize, p.names.len()),
                Op::End(n) if n != NO_LABEL => range("name", n as usize, p.names.len()),
                Op::Call(f, _) => range("function", f as usize, p.functions.len()),
                Op::MakeRecord(s) => range("record shape", s as usize, p.shapes.len()),
                Op::Jump(a)
                | Op::JumpIfFalse(a)
                | Op::JumpIfNotNull(a)
                | Op::JumpIfFalseKeep(a)
                | Op::JumpIfTrueKeep(a) => range("jump target", a as usize, len),
                Op::Lambda(i) => range("lambda", i as usize, self.code.lambdas.len()),
                Op::Node(i) => range("node", i as usize, count(|j| j.nodes.len())),
                Op::Await(i) => range("await", i as usize, count(|j| j.awaits.len())),
                Op::ActionCall(i) => range("call", i as usize, count(|j| j.calls.len())),
                Op::Split(i) => range("split", i as usize, count(|j| j.splits.len())),
                Op::Cap(i) => range("cap", i as usize, count(|j| j.caps.len())),
                Op::UpdateProfile(i) => range("profile update", i as usize, count(|j| j.updates.len())),
                Op::Send(i) => range("send", i as usize, count(|j| j.sends.len())),
                _ => Ok(()),
            };
            checked.map_err(|problem| self.error(Some(at as Addr), problem))?;
        }
        for (i, l) in self.code.lambdas.iter().enumerate() {
            if l.slot as usize >= self.frame.locals {
                return Err(self
                    .error(None, format!("lambda {i} uses local slot {}, beyond the {}", l.slot, self.frame.locals)));
            }
            if l.body as usize >= len {
                return Err(self.error(None, format!("lambda {i}'s body at {:04} is beyond the code's end", l.body)));
            }
        }
        // The language has no loops: every jump, resumption and lambda body lies ahead, so each
        // instance reaches its end and lambdas cannot call themselves.
        for (at, op) in self.code.ops.iter().enumerate() {
            let ahead: Vec<Addr> = match *op {
                Op::Jump(a)
                | Op::JumpIfFalse(a)
                | Op::JumpIfNotNull(a)
                | Op::JumpIfFalseKeep(a)
                | Op::JumpIfTrueKeep(a) => {
                    vec![a]
                }
                Op::Lambda(i) => vec![self.code.lambdas[i as usize].body],
                Op::Await(i) => j.map_or(Vec::new(), |j| {
                    let a = &j.awaits[i as usize];
                    a.arms.iter().map(|arm| arm.target).chain(a.after.map(|(_, t)| t)).collect()
                }),
                Op::ActionCall(i) => j.map_or(Vec::new(), |j| {
                    let c = &j.calls[i as usize];
                    [Some(c.next), c.on_timeout, c.on_error].into_iter().flatten().collect()
                }),
                Op::Split(i) => j.map_or(Vec::new(), |j| j.splits[i as usize].branches.iter().map(|b| b.2).collect()),
                Op::Cap(i) => j.map_or(Vec::new(), |j| vec![j.caps[i as usize].otherwise]),
                // A queued send runs again from its `retry` (behind it), but only once time has
                // passed: the instance still reaches its end.
                Op::Send(i) => j.map_or(Vec::new(), |j| {
                    let s = &j.sends[i as usize];
                    [Some(s.next), s.on_suppressed, s.on_error].into_iter().flatten().collect()
                }),
                _ => Vec::new(),
            };
            if let Some(back) = ahead.into_iter().find(|a| *a as usize <= at) {
                return Err(self.error(Some(at as Addr), format!("goes back to {back:04} (code only runs forward)")));
            }
        }
        Ok(())
    }

    /// How deep lambdas nest (each level is a nested call of the interpreter): at most
    /// [`MAX_LAMBDA_NESTING`]. Runs after the flow checks, so every chunk ends in `Ret`.
    fn lambda_nesting(&self) -> Result<(), VerifyError> {
        let lambdas = &self.code.lambdas;
        // A lambda's body lies after its uses, so the lambdas a body uses come later in this order.
        let mut order: Vec<usize> = (0..lambdas.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(lambdas[i].body));
        let mut depth = vec![0u32; lambdas.len()];
        let mut seen = vec![false; self.code.ops.len()];
        for i in order {
            seen.iter_mut().for_each(|s| *s = false);
            let mut work = vec![lambdas[i].body];
            let mut inner = 0;
            while let Some(at) = work.pop() {
                let Some(s) = seen.get_mut(at as usize) else { continue };
                if std::mem::replace(s, true) {
                    continue;
                }
                match self.code.ops[at as usize] {
                    Op::Ret => {}
                    Op::Jump(a) => work.push(a),
                    Op::JumpIfFalse(a) | Op::JumpIfNotNull(a) | Op::JumpIfFalseKeep(a) | Op::JumpIfTrueKeep(a) => {
                        work.extend([a, at + 1])
                    }
                    Op::Lambda(k) => {
                        inner = inner.max(depth[k as usize]);
                        work.push(at + 1)
                    }
                    _ => work.push(at + 1),
                }
            }
            depth[i] = inner + 1;
            if depth[i] > MAX_LAMBDA_NESTING {
                return Err(self.error(
                    Some(lambdas[i].body),
                    format!("lambdas nest {} deep, more than {MAX_LAMBDA_NESTING}", depth[i]),
                ));
            }
        }
        Ok(())
    }

    /// Every lambda body, as a chunk; then how deep they nest.
    fn lambdas(&mut self) -> Result<(), VerifyError> {
        for l in &self.code.lambdas {
            self.chunk(l.body)?;
        }
        self.lambda_nesting()
    }

    fn chunk(&mut self, addr: Addr) -> Result<(), VerifyError> {
        self.flow(addr, Mode::Chunk)
    }

    fn body(&mut self, addr: Addr) -> Result<(), VerifyError> {
        if self.frame.journey.is_none() {
            return Err(self.error(Some(addr), "journey statements outside a journey".into()));
        }
        self.flow(addr, Mode::Body)
    }

    /// Follows every path from `start` (entered with an empty stack), recording each address's
    /// mode and depth.
    fn flow(&mut self, start: Addr, mode: Mode) -> Result<(), VerifyError> {
        let mut work = vec![(start, 0u32)];
        while let Some((at, depth)) = work.pop() {
            let Some(op) = self.code.ops.get(at as usize).copied() else {
                return Err(self.error(Some(at), "the code runs past its end".into()));
            };
            match self.seen[at as usize] {
                Some((m, d)) if m == mode && d == depth => continue,
                Some((m, _)) if m != mode => {
                    return Err(self.error(Some(at), "reached both as a statement and inside an expression".into()));
                }
                Some((_, d)) => {
                    return Err(self.error(
                        Some(at),
                        format!("reached with {} on the stack on one path and {d} on another", values(depth)),
                    ))
                }
                None => self.seen[at as usize] = Some((mode, depth)),
            }
            let next = at + 1;
            let need = |n: u32| -> Result<u32, VerifyError> {
                depth
                    .checked_sub(n)
                    .ok_or_else(|| self.error(Some(at), format!("takes {} from a stack that holds {depth}", values(n))))
            };
            let exact = |n: u32, what: &str| -> Result<(), VerifyError> {
                if depth == n {
                    Ok(())
                } else {
                    Err(self.error(Some(at), format!("{what} with {} on the stack (it takes {n})", values(depth))))
                }
            };
            let control = |what: &str| -> Result<(), VerifyError> {
                if mode == Mode::Body {
                    Ok(())
                } else {
                    Err(self.error(Some(at), format!("`{what}` inside an expression")))
                }
            };
            let j = self.frame.journey;
            match op {
                Op::Const(_) | Op::Local(_) | Op::Event | Op::EventPath(_) | Op::Profile | Op::Secret(_) => {
                    work.push((next, depth + 1))
                }
                Op::SetLocal(_) | Op::Pop => work.push((next, need(1)?)),
                Op::Field(_) | Op::Neg | Op::Not | Op::Is(_) | Op::Lambda(_) => work.push((next, need(1)? + 1)),
                Op::Index
                | Op::Add
                | Op::Sub
                | Op::Mul
                | Op::Div
                | Op::Rem
                | Op::Eq
                | Op::Ne
                | Op::Lt
                | Op::Le
                | Op::Gt
                | Op::Ge
                | Op::In
                | Op::And
                | Op::Or => work.push((next, need(2)? + 1)),
                Op::InRange(_) => work.push((next, need(3)? + 1)),
                Op::Call(_, argc) => work.push((next, need(argc as u32)? + 1)),
                Op::Concat(n) => work.push((next, need(n as u32)? + 1)),
                Op::MakeList(n) => work.push((next, need(n)? + 1)),
                Op::MakeRecord(s) => {
                    let n = u32::try_from(self.p.shapes[s as usize].len()).unwrap_or(u32::MAX);
                    work.push((next, need(n)? + 1))
                }
                Op::Jump(a) => work.push((a, depth)),
                Op::JumpIfFalse(a) => {
                    let d = need(1)?;
                    work.push((next, d));
                    work.push((a, d));
                }
                Op::JumpIfNotNull(a) => {
                    let d = need(1)?;
                    work.push((next, d));
                    work.push((a, depth));
                }
                Op::JumpIfFalseKeep(a) | Op::JumpIfTrueKeep(a) => {
                    need(1)?;
                    work.push((next, depth));
                    work.push((a, depth));
                }
                Op::Ret => {
                    if mode == Mode::Body {
                        return Err(self.error(Some(at), "`ret` in a journey's statements".into()));
                    }
                    exact(1, "`ret`")?;
                }
                Op::Node(_) | Op::JumpJourney(_) => {
                    control(if matches!(op, Op::Node(_)) { "node" } else { "jump" })?;
                    exact(0, "a statement starts")?;
                    work.push((next, 0));
                }
                Op::Wait | Op::WaitUntil => {
                    control("wait")?;
                    exact(1, "`wait`")?;
                    work.push((next, 0));
                }
                Op::End(_) => {
                    control("end")?;
                    exact(0, "`end`")?;
                }
                // The runtime resumes an await at the arm or `after` block it chooses; those
                // blocks are entries of their own.
                Op::Await(_) => {
                    control("await")?;
                    exact(0, "`await`")?;
                }
                Op::ActionCall(i) => {
                    control("call")?;
                    let call = j.and_then(|j| j.calls.get(i as usize));
                    let given = call.map(|c| c.given.iter().filter(|g| **g).count()).unwrap_or(0);
                    exact(given as u32, "a call")?;
                    work.push((next, 0));
                }
                Op::Split(_) | Op::Cap(_) => {
                    control(if matches!(op, Op::Split(_)) { "split" } else { "cap" })?;
                    exact(0, "a split or cap")?;
                    work.push((next, 0));
                }
                Op::Send(_) => {
                    control("send")?;
                    exact(4, "`send`")?;
                    work.push((next, 0));
                }
                Op::UpdateProfile(i) => {
                    control("update profile")?;
                    let paths = j.and_then(|j| j.updates.get(i as usize)).map(Vec::len).unwrap_or(0);
                    exact(paths as u32, "`update profile`")?;
                    work.push((next, 0));
                }
            }
        }
        Ok(())
    }
}

/// `1 value`, `2 values`.
fn values(n: u32) -> String {
    if n == 1 {
        "1 value".into()
    } else {
        format!("{n} values")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Const, EventCode, LambdaCode, LambdaKind, Reentry, Start, Ty};

    /// A program with one event whose `key` chunk is `ops`.
    fn event(ops: Vec<Op>) -> Program {
        Program {
            consts: vec![Const::Int(1), Const::Str("a".into())],
            names: vec!["x".into()],
            shapes: vec![vec![0]],
            functions: vec!["abs".into()],
            events: vec![EventCode {
                name: "E".into(),
                payload: Ty::Any,
                code: Code { ops, lambdas: Vec::new() },
                key: Some(0),
                when: None,
            }],
            ..Program::default()
        }
    }

    /// A program with one journey whose body is `ops`.
    fn journey(ops: Vec<Op>, locals: u16) -> Program {
        Program {
            consts: vec![Const::Duration(1000)],
            names: vec!["done".into()],
            journeys: vec![JourneyCode {
                name: "J".into(),
                start: Start::Event("E".into()),
                reentry: Reentry::Never,
                timezone: "UTC".into(),
                timeout_ms: 1,
                active: None,
                exit_on: Vec::new(),
                locals,
                event_paths: Vec::new(),
                code: Code { ops, lambdas: Vec::new() },
                nodes: vec![crate::NodeInfo { kind: crate::NodeKind::Wait, line: 1, label: "wait 1s".into() }],
                awaits: Vec::new(),
                calls: Vec::new(),
                splits: Vec::new(),
                caps: Vec::new(),
                updates: Vec::new(),
                sends: Vec::new(),
                timezone_expr: None,
                goals: Vec::new(),
            }],
            ..Program::default()
        }
    }

    fn problem(p: &Program) -> String {
        verify(p).expect_err("invalid").to_string()
    }

    #[test]
    fn well_formed_code_passes() {
        verify(&event(vec![Op::Event, Op::Field(0), Op::JumpIfNotNull(4), Op::Const(1), Op::Ret])).expect("valid");
        let body = vec![Op::Node(0), Op::Const(0), Op::Wait, Op::Const(0), Op::SetLocal(0), Op::End(0)];
        verify(&journey(body, 1)).expect("valid");
    }

    #[test]
    fn operands_out_of_range_are_named() {
        assert_eq!(
            problem(&event(vec![Op::Const(7), Op::Ret])),
            "event E at 0000: constant #7 is beyond the 2 there are"
        );
        assert_eq!(
            problem(&event(vec![Op::Event, Op::Field(3), Op::Ret])),
            "event E at 0001: name #3 is beyond the 1 there are"
        );
        assert_eq!(
            problem(&event(vec![Op::Const(0), Op::Call(1, 1), Op::Ret])),
            "event E at 0001: function #1 is beyond the 1 there are"
        );
        assert_eq!(
            problem(&event(vec![Op::Const(0), Op::MakeRecord(2), Op::Ret])),
            "event E at 0001: record shape #2 is beyond the 1 there are"
        );
        assert_eq!(
            problem(&event(vec![Op::Const(0), Op::Jump(9)])),
            "event E at 0001: jump target #9 is beyond the 2 there are"
        );
        assert_eq!(
            problem(&event(vec![Op::Local(0), Op::Ret])),
            "event E at 0000: local slot #0 is beyond the 0 there are"
        );
        assert_eq!(
            problem(&event(vec![Op::EventPath(0), Op::Ret])),
            "event E at 0000: event path #0 is beyond the 0 there are"
        );
        assert_eq!(
            problem(&journey(vec![Op::Node(1), Op::End(NO_LABEL)], 0)),
            "journey J at 0000: node #1 is beyond the 1 there are"
        );
        assert_eq!(
            problem(&journey(vec![Op::Await(0), Op::End(NO_LABEL)], 0)),
            "journey J at 0000: await #0 is beyond the 0 there are"
        );
        assert_eq!(problem(&journey(vec![Op::End(4)], 0)), "journey J at 0000: name #4 is beyond the 1 there are");
    }

    #[test]
    fn the_stack_never_underflows_and_chunks_return_one_value() {
        assert_eq!(
            problem(&event(vec![Op::Add, Op::Ret])),
            "event E at 0000: takes 2 values from a stack that holds 0"
        );
        assert_eq!(
            problem(&event(vec![Op::Const(0), Op::Const(0), Op::Ret])),
            "event E at 0002: `ret` with 2 values on the stack (it takes 1)"
        );
        assert_eq!(problem(&event(vec![Op::Const(0), Op::Pop])), "event E at 0002: the code runs past its end");
        assert_eq!(
            problem(&event(vec![Op::Const(0), Op::MakeRecord(0), Op::Pop, Op::Ret])),
            "event E at 0003: `ret` with 0 values on the stack (it takes 1)"
        );
        // `if c then 1 else (1, 1)`, then `+`: the paths meet with different depths.
        let ops = vec![
            Op::Const(0),
            Op::JumpIfFalse(4),
            Op::Const(0),
            Op::Jump(6),
            Op::Const(0),
            Op::Const(0),
            Op::Add,
            Op::Ret,
        ];
        assert_eq!(
            problem(&event(ops)),
            "event E at 0006: reached with 1 value on the stack on one path and 2 on another"
        );
    }

    #[test]
    fn journey_control_stays_in_journeys_with_an_empty_stack() {
        assert_eq!(
            problem(&event(vec![Op::Const(0), Op::Wait, Op::Const(0), Op::Ret])),
            "event E at 0001: `wait` inside an expression"
        );
        assert_eq!(
            problem(&journey(vec![Op::Const(0), Op::Node(0), Op::End(NO_LABEL)], 0)),
            "journey J at 0001: a statement starts with 1 value on the stack (it takes 0)"
        );
        assert_eq!(
            problem(&journey(vec![Op::Wait, Op::End(NO_LABEL)], 0)),
            "journey J at 0000: `wait` with 0 values on the stack (it takes 1)"
        );
        assert_eq!(
            problem(&journey(vec![Op::Const(0), Op::Ret], 0)),
            "journey J at 0001: `ret` in a journey's statements"
        );
        assert_eq!(problem(&journey(vec![Op::Node(0)], 0)), "journey J at 0001: the code runs past its end");
    }

    #[test]
    fn code_only_runs_forward() {
        let ops = vec![Op::Const(0), Op::JumpIfFalse(0), Op::Const(0), Op::Ret];
        assert_eq!(problem(&event(ops)), "event E at 0001: goes back to 0000 (code only runs forward)");
        let mut p = event(vec![Op::Const(0), Op::MakeList(1), Op::Lambda(0), Op::Ret]);
        p.events[0].code.lambdas.push(LambdaCode { kind: LambdaKind::First, slot: 0, body: 0 });
        assert_eq!(problem(&p), "event E at 0002: goes back to 0000 (code only runs forward)");
    }

    #[test]
    fn lambdas_nest_only_so_deep() {
        // Lambda i's body uses lambda i + 1: `first(l, x -> first(l, y -> ...))`.
        let n = MAX_LAMBDA_NESTING as usize + 1;
        let mut ops = vec![Op::Const(0), Op::MakeList(1), Op::Lambda(0), Op::Ret];
        let mut lambdas = Vec::new();
        for i in 0..n {
            lambdas.push(LambdaCode { kind: LambdaKind::First, slot: 0, body: ops.len() as Addr });
            if i + 1 < n {
                ops.extend([Op::Const(0), Op::MakeList(1), Op::Lambda(i as u32 + 1), Op::Ret]);
            } else {
                ops.extend([Op::Const(0), Op::Ret]);
            }
        }
        let mut p = event(ops);
        p.events[0].code.lambdas = lambdas;
        assert_eq!(problem(&p), "event E at 0004: lambdas nest 33 deep, more than 32");
        p.events[0].code.lambdas.truncate(n - 1);
        let last = p.events[0].code.lambdas.len() * 4;
        p.events[0].code.ops[last + 2] = Op::Pop;
        p.events[0].code.ops.insert(last + 3, Op::Const(0));
        verify(&p).expect("32 deep is fine");
    }

    #[test]
    fn lambdas_are_checked_as_chunks() {
        let mut p = event(vec![Op::Const(0), Op::MakeList(1), Op::Lambda(0), Op::Ret, Op::Local(0), Op::Ret]);
        p.events[0].code.lambdas.push(LambdaCode { kind: LambdaKind::All, slot: 0, body: 4 });
        verify(&p).expect("valid");
        p.events[0].code.lambdas[0].body = 5;
        assert_eq!(problem(&p), "event E at 0005: `ret` with 0 values on the stack (it takes 1)");
        p.events[0].code.lambdas[0].body = 40;
        assert_eq!(problem(&p), "event E: lambda 0's body at 0040 is beyond the code's end");
    }
}
