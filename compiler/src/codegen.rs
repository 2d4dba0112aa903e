//! Compiles the typed IR to bytecode ([`journey_bytecode`]): journeys, events, the options of
//! actions and data sources, and the values of tests, all as code over one set of tables.

use crate::ir::{self, Const, ExprKind as K, StmtKind as S};
use crate::sources::Sources;
use journey_bytecode::{
    Addr, AwaitArmCode, AwaitCode, CallCode, CapCode, ChannelCode, Code, EventCode, FrequencyCode, GoalCode, HttpCode,
    IsTest, JourneyCode, LambdaCode, LambdaKind, NodeInfo, NodeKind, Op, Program, QuietCode, ReactionCode, SendCode,
    SplitCode, TestCode, UrlPart, NO_LABEL,
};
use journey_grammar::ast::{self, BinaryOp, HttpKind, UnaryOp};
use std::collections::HashMap;

/// Compiles a checked program (which must have no errors) to bytecode.
pub fn compile(program: &ir::Program, sources: &Sources) -> Program {
    let mut t = Tables::default();
    let events = program
        .events
        .iter()
        .map(|e| {
            let mut f = FnCode::new(&mut t, false);
            let key = e.key.as_ref().map(|k| f.chunk(k));
            let when = e.when.as_ref().map(|w| f.chunk(w));
            f.finish_chunks();
            EventCode { name: e.name.clone(), payload: e.payload.clone(), code: f.code, key, when }
        })
        .collect();
    let http_index: HashMap<&str, u32> =
        program.http.iter().enumerate().map(|(i, h)| (h.name.as_str(), i as u32)).collect();
    let channel_index: HashMap<&str, u32> =
        program.channels.iter().enumerate().map(|(i, c)| (c.name.as_str(), i as u32)).collect();
    let chans = Channels { list: &program.channels, index: &channel_index };
    let mut journeys: Vec<JourneyCode> =
        program.journeys.iter().map(|j| journey(j, &mut t, &http_index, &chans, sources)).collect();
    share_event_paths(&mut journeys, &t.names);
    // After the journeys, so that their tables' indices do not depend on the declarations.
    let http = program.http.iter().map(|h| http(h, &mut t)).collect();
    let tests = program.tests.iter().map(|test| test_code(test, &mut t)).collect();
    let channels = program
        .channels
        .iter()
        .map(|c| {
            let reaction = |r: &Option<(String, Vec<String>)>| {
                r.as_ref().map(|(event, by)| ReactionCode { event: event.clone(), by: by.clone() })
            };
            ChannelCode {
                name: c.name.clone(),
                deliver: *http_index.get(c.deliver.as_str()).expect("the checker resolves every deliver action"),
                quiet: c.quiet.map(|(from_ms, to_ms, queue)| QuietCode { from_ms, to_ms, queue }),
                opened: reaction(&c.opened),
                clicked: reaction(&c.clicked),
            }
        })
        .collect();
    let frequencies = program
        .frequencies
        .iter()
        .map(|f| FrequencyCode {
            channel: f.channel.as_ref().and_then(|c| channel_index.get(c.as_str()).copied()),
            limit: f.limit,
            window_ms: f.window_ms,
        })
        .collect();
    Program {
        consts: t.consts,
        names: t.names,
        shapes: t.shapes,
        functions: t.functions,
        profile: program.profile.clone(),
        events,
        http,
        audiences: program.audiences.clone(),
        journeys,
        tests,
        channels,
        frequencies,
    }
}

/// The project's channels, for the code of each send (their `to` and `consent` are compiled
/// into the sending journey).
struct Channels<'a> {
    list: &'a [ir::Channel],
    index: &'a HashMap<&'a str, u32>,
}

/// An action or data source: its option expressions as chunks, the parameters in slots `0..n`.
fn http(h: &ir::Http, t: &mut Tables) -> HttpCode {
    let mut f = FnCode::new(t, false);
    let url = url_parts(h, &mut f);
    let headers = h.headers.iter().map(|(n, e)| (n.clone(), f.chunk(e))).collect();
    let query = h.query.iter().map(|(n, e)| (n.clone(), f.chunk(e))).collect();
    let body = h.body.as_ref().map(|e| f.chunk(e));
    let auth = h.auth.map(|e| f.chunk(e));
    f.finish_chunks();
    HttpCode {
        kind: match h.kind {
            HttpKind::Action => journey_bytecode::HttpKind::Action,
            HttpKind::DataSource => journey_bytecode::HttpKind::DataSource,
        },
        name: h.name.clone(),
        params: h.params.clone(),
        method: h.method.clone(),
        url,
        headers,
        query,
        body,
        auth,
        settings: h.settings,
        returns: h.returns.clone(),
        code: f.code,
    }
}

/// The URL template split at its `{param}` placeholders, each a chunk reading its parameter. A
/// `{name}` that names no parameter stays text, as does an unclosed `{`.
fn url_parts(h: &ir::Http, f: &mut FnCode) -> Vec<UrlPart> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = h.url.as_str();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else { break };
        let name = &rest[open + 1..close];
        text.push_str(&rest[..open]);
        match h.params.iter().position(|(p, _)| p == name) {
            Some(i) => {
                if !text.is_empty() {
                    parts.push(UrlPart::Text(std::mem::take(&mut text)));
                }
                let value = f.here();
                f.emit(Op::Local(i as u16));
                f.emit(Op::Ret);
                parts.push(UrlPart::Param { name: name.to_string(), value });
            }
            None => text.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(UrlPart::Text(text));
    }
    parts
}

/// A test: its statements, with each value (a constant expression) as a chunk.
fn test_code(test: &ir::Test, t: &mut Tables) -> TestCode {
    let mut f = FnCode::new(t, false);
    let steps = test.stmts.iter().map(|s| s.map(|e| f.chunk(e))).collect();
    f.finish_chunks();
    TestCode { name: test.name.clone(), file: test.file.clone(), steps, code: f.code, lines: test.lines.clone() }
}

/// The bytecode's `is` test for the language's.
fn is_test(test: ast::IsTest) -> IsTest {
    match test {
        ast::IsTest::Null => IsTest::Null,
        ast::IsTest::NotNull => IsTest::NotNull,
        ast::IsTest::HasNull => IsTest::HasNull,
        ast::IsTest::Integer => IsTest::Integer,
        ast::IsTest::Decimal => IsTest::Decimal,
        ast::IsTest::Numeric => IsTest::Numeric,
    }
}

/// Compiles one free-standing expression (for tools and the VM's differential tests): a program
/// holding only its tables (constants, names, shapes, functions), and its code, which starts at
/// address 0 and ends in `Ret`. `event` compiles to `Event` (the value the caller passes).
pub fn compile_expr(e: &ir::Expr) -> (Program, Code) {
    let mut t = Tables::default();
    let mut f = FnCode::new(&mut t, false);
    f.chunk(e);
    f.finish_chunks();
    let code = f.code;
    let program =
        Program { consts: t.consts, names: t.names, shapes: t.shapes, functions: t.functions, ..Program::default() };
    (program, code)
}

/// A journey started by `jump` sees the jumping journey's entry event when both start on the
/// same event. An instance keeps only the entry-event paths its journey reads, so a jumping
/// journey also keeps those its targets read (transitively), appended after its own so that the
/// indices its code uses stay the same.
fn share_event_paths(journeys: &mut [JourneyCode], names: &[String]) {
    let targets: Vec<Vec<usize>> = journeys
        .iter()
        .enumerate()
        .map(|(j, from)| {
            let mut out: Vec<usize> = from
                .code
                .ops
                .iter()
                .filter_map(|op| match op {
                    Op::JumpJourney(n) => {
                        let name = names.get(*n as usize)?;
                        journeys.iter().position(|to| &to.name == name)
                    }
                    _ => None,
                })
                .filter(|&t| {
                    t != j
                        && matches!((&from.start, &journeys[t].start),
                            (ir::Start::Event(a), ir::Start::Event(b)) if a == b)
                })
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect();
    // The checker rejects jump cycles; the passes are bounded all the same.
    for _ in 0..journeys.len() {
        let mut changed = false;
        for (j, ts) in targets.iter().enumerate() {
            for &t in ts {
                let extra: Vec<Vec<String>> =
                    journeys[t].event_paths.iter().filter(|p| !journeys[j].event_paths.contains(p)).cloned().collect();
                if !extra.is_empty() {
                    journeys[j].event_paths.extend(extra);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// Interning tables shared by the whole program.
#[derive(Default)]
struct Tables {
    consts: Vec<Const>,
    const_index: HashMap<String, u32>,
    names: Vec<String>,
    name_index: HashMap<String, u32>,
    shapes: Vec<Vec<u32>>,
    functions: Vec<String>,
}

impl Tables {
    fn constant(&mut self, c: &Const) -> u32 {
        let key = format!("{c:?}");
        if let Some(i) = self.const_index.get(&key) {
            return *i;
        }
        self.consts.push(c.clone());
        let i = (self.consts.len() - 1) as u32;
        self.const_index.insert(key, i);
        i
    }

    fn name(&mut self, n: &str) -> u32 {
        if let Some(i) = self.name_index.get(n) {
            return *i;
        }
        self.names.push(n.to_string());
        let i = (self.names.len() - 1) as u32;
        self.name_index.insert(n.to_string(), i);
        i
    }

    fn function(&mut self, n: &str) -> u16 {
        match self.functions.iter().position(|f| f == n) {
            Some(i) => i as u16,
            None => {
                self.functions.push(n.to_string());
                (self.functions.len() - 1) as u16
            }
        }
    }
}

/// A pending chunk compiled after the main code: a lambda body or an await condition.
enum Pending<'a> {
    Lambda(usize, &'a ir::Expr),
    Expr(&'a ir::Expr, PatchAt),
}

/// Where to write a chunk's address once it is placed.
enum PatchAt {
    AwaitCondition(usize, usize),
    AwaitAfter(usize),
    Timezone,
}

struct FnCode<'t, 'a> {
    t: &'t mut Tables,
    code: Code,
    pending: Vec<Pending<'a>>,
    /// Event paths (journeys only): entry-event field chains resolved at entry.
    event_paths: Option<Vec<Vec<String>>>,
    awaits: Vec<AwaitCode>,
    /// The chunk of a computed `timezone`, once placed.
    timezone: Option<Addr>,
}

impl<'t, 'a> FnCode<'t, 'a> {
    fn new(t: &'t mut Tables, project_event: bool) -> Self {
        FnCode {
            t,
            code: Code::default(),
            pending: Vec::new(),
            event_paths: project_event.then(Vec::new),
            awaits: Vec::new(),
            timezone: None,
        }
    }

    fn here(&self) -> Addr {
        self.code.ops.len() as Addr
    }

    fn emit(&mut self, op: Op) -> usize {
        self.code.ops.push(op);
        self.code.ops.len() - 1
    }

    fn patch(&mut self, at: usize, target: Addr) {
        self.code.ops[at] = match self.code.ops[at] {
            Op::Jump(_) => Op::Jump(target),
            Op::JumpIfFalse(_) => Op::JumpIfFalse(target),
            Op::JumpIfNotNull(_) => Op::JumpIfNotNull(target),
            Op::JumpIfFalseKeep(_) => Op::JumpIfFalseKeep(target),
            Op::JumpIfTrueKeep(_) => Op::JumpIfTrueKeep(target),
            other => other,
        };
    }

    /// Compiles an expression as a chunk ending in `Ret`; returns its start.
    fn chunk(&mut self, e: &'a ir::Expr) -> Addr {
        let start = self.here();
        self.expr(e);
        self.emit(Op::Ret);
        start
    }

    /// Places every pending chunk after the code emitted so far.
    fn finish_chunks(&mut self) {
        while let Some(p) = self.pending.pop() {
            match p {
                Pending::Lambda(i, body) => {
                    let at = self.chunk(body);
                    self.code.lambdas[i].body = at;
                }
                Pending::Expr(e, patch) => {
                    let at = self.chunk(e);
                    match patch {
                        PatchAt::AwaitCondition(a, arm) => self.awaits[a].arms[arm].condition = Some(at),
                        PatchAt::AwaitAfter(a) => {
                            if let Some(after) = &mut self.awaits[a].after {
                                after.0 = at;
                            }
                        }
                        PatchAt::Timezone => self.timezone = Some(at),
                    }
                }
            }
        }
    }

    /// The entry-event chain an expression reads, if it is one: field names, and `[n]` for a
    /// constant list index (`event.identityMap.Email[0].id`), so an instance keeps the one value
    /// its journey reads rather than the whole list.
    fn event_chain(e: &ir::Expr) -> Option<Vec<String>> {
        match &e.kind {
            K::Event => Some(Vec::new()),
            K::Field(base, name) => {
                let mut chain = Self::event_chain(base)?;
                chain.push(name.clone());
                Some(chain)
            }
            K::Index(base, index) => match &index.kind {
                K::Const(Const::Int(n)) if *n >= 0 => {
                    let mut chain = Self::event_chain(base)?;
                    chain.push(format!("[{n}]"));
                    Some(chain)
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn expr(&mut self, e: &'a ir::Expr) {
        if let Some(paths) = &mut self.event_paths {
            if let Some(chain) = Self::event_chain(e) {
                let i = match paths.iter().position(|p| *p == chain) {
                    Some(i) => i,
                    None => {
                        paths.push(chain);
                        paths.len() - 1
                    }
                };
                self.emit(Op::EventPath(i as u16));
                return;
            }
        }
        match &e.kind {
            K::Const(c) => {
                let i = self.t.constant(c);
                self.emit(Op::Const(i));
            }
            K::Interpolate(parts) => {
                for p in parts {
                    self.expr(p);
                }
                self.emit(Op::Concat(parts.len() as u16));
            }
            K::List(items) => {
                for i in items {
                    self.expr(i);
                }
                self.emit(Op::MakeList(items.len() as u32));
            }
            K::Record(fields) => {
                let shape: Vec<u32> = fields.iter().map(|(n, _)| self.t.name(n)).collect();
                for (_, v) in fields {
                    self.expr(v);
                }
                self.t.shapes.push(shape);
                let i = (self.t.shapes.len() - 1) as u32;
                self.emit(Op::MakeRecord(i));
            }
            K::Local(slot) => {
                self.emit(Op::Local(*slot as u16));
            }
            K::Event => {
                self.emit(Op::Event);
            }
            K::Profile => {
                self.emit(Op::Profile);
            }
            K::Field(base, name) => {
                self.expr(base);
                let n = self.t.name(name);
                self.emit(Op::Field(n));
            }
            K::Index(base, index) => {
                self.expr(base);
                self.expr(index);
                self.emit(Op::Index);
            }
            K::Call(name, args) => {
                if let Some(K::Lambda(slot, body)) = args.get(1).map(|a| &a.kind) {
                    self.expr(&args[0]);
                    let kind = match name.as_str() {
                        "all" => LambdaKind::All,
                        "first" => LambdaKind::First,
                        "last" => LambdaKind::Last,
                        other => unreachable!("the checker allows lambdas only in all, first and last, not {other}"),
                    };
                    self.code.lambdas.push(LambdaCode { kind, slot: *slot as u16, body: 0 });
                    let i = self.code.lambdas.len() - 1;
                    self.pending.push(Pending::Lambda(i, body));
                    self.emit(Op::Lambda(i as u32));
                    return;
                }
                for a in args {
                    self.expr(a);
                }
                let f = self.t.function(name);
                self.emit(Op::Call(f, args.len() as u8));
            }
            K::Secret(name) => {
                let n = self.t.name(name);
                self.emit(Op::Secret(n));
            }
            K::Lambda(_, body) => self.expr(body),
            K::Unary(op, inner) => {
                self.expr(inner);
                self.emit(match op {
                    UnaryOp::Neg => Op::Neg,
                    UnaryOp::Not => Op::Not,
                });
            }
            K::Binary(op, l, r) => self.binary(*op, l, r),
            K::InRange { value, lo, hi, negated } => {
                self.expr(value);
                self.expr(lo);
                self.expr(hi);
                self.emit(Op::InRange(*negated));
            }
            K::Is(inner, test) => {
                self.expr(inner);
                self.emit(Op::Is(is_test(*test)));
            }
            K::If(c, a, b) => {
                self.expr(c);
                let to_else = self.emit(Op::JumpIfFalse(0));
                self.expr(a);
                let to_end = self.emit(Op::Jump(0));
                let else_at = self.here();
                self.patch(to_else, else_at);
                self.expr(b);
                let end = self.here();
                self.patch(to_end, end);
            }
            K::Error => {
                let i = self.t.constant(&Const::Null);
                self.emit(Op::Const(i));
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, l: &'a ir::Expr, r: &'a ir::Expr) {
        let short = match op {
            BinaryOp::Coalesce => Some(Op::JumpIfNotNull(0)),
            BinaryOp::And => Some(Op::JumpIfFalseKeep(0)),
            BinaryOp::Or => Some(Op::JumpIfTrueKeep(0)),
            _ => None,
        };
        self.expr(l);
        if let Some(jump) = short {
            let at = self.emit(jump);
            self.expr(r);
            match op {
                BinaryOp::And => {
                    self.emit(Op::And);
                }
                BinaryOp::Or => {
                    self.emit(Op::Or);
                }
                _ => {}
            }
            let end = self.here();
            self.patch(at, end);
            return;
        }
        self.expr(r);
        if op == BinaryOp::NotIn {
            self.emit(Op::In);
            self.emit(Op::Not);
            return;
        }
        self.emit(match op {
            BinaryOp::Add => Op::Add,
            BinaryOp::Sub => Op::Sub,
            BinaryOp::Mul => Op::Mul,
            BinaryOp::Div => Op::Div,
            BinaryOp::Rem => Op::Rem,
            BinaryOp::Eq => Op::Eq,
            BinaryOp::Ne => Op::Ne,
            BinaryOp::Lt => Op::Lt,
            BinaryOp::Le => Op::Le,
            BinaryOp::Gt => Op::Gt,
            BinaryOp::Ge => Op::Ge,
            BinaryOp::In | BinaryOp::NotIn => Op::In,
            BinaryOp::Coalesce | BinaryOp::And | BinaryOp::Or => unreachable!("short-circuit operators handled above"),
        });
    }
}

struct JourneyGen<'t, 'a, 'h> {
    f: FnCode<'t, 'a>,
    http_index: &'h HashMap<&'h str, u32>,
    channels: &'h Channels<'a>,
    sends: Vec<SendCode>,
    nodes: Vec<NodeInfo>,
    calls: Vec<CallCode>,
    splits: Vec<SplitCode>,
    caps: Vec<CapCode>,
    updates: Vec<Vec<Vec<String>>>,
    line_of: &'h dyn Fn(usize) -> u32,
}

fn journey<'a>(
    j: &'a ir::Journey,
    t: &mut Tables,
    http_index: &HashMap<&str, u32>,
    channels: &Channels<'a>,
    sources: &Sources,
) -> JourneyCode {
    let line_of = |offset: usize| sources.line_col(j.file, offset).line as u32;
    let mut g = JourneyGen {
        f: FnCode::new(t, true),
        http_index,
        channels,
        sends: Vec::new(),
        nodes: Vec::new(),
        calls: Vec::new(),
        splits: Vec::new(),
        caps: Vec::new(),
        updates: Vec::new(),
        line_of: &line_of,
    };
    g.block(&j.body);
    g.f.emit(Op::End(NO_LABEL));
    // A goal's chunks follow the body; they read the entry event as the body does.
    let mut goals = Vec::new();
    for goal in &j.goals {
        let condition = goal.condition.as_ref().map(|c| g.f.chunk(c));
        let value = goal.value.as_ref().map(|v| g.f.chunk(v));
        goals.push(GoalCode {
            name: goal.name.clone(),
            event: goal.event.clone(),
            slot: goal.slot.map(|s| s as u16),
            condition,
            window_ms: goal.window_ms,
            value,
        });
    }
    if let Some(tz) = &j.timezone_expr {
        g.f.pending.push(Pending::Expr(tz, PatchAt::Timezone));
    }
    g.f.finish_chunks();
    JourneyCode {
        name: j.name.clone(),
        start: j.start.clone(),
        reentry: j.reentry.clone(),
        timezone: j.timezone.clone(),
        timeout_ms: j.timeout_ms,
        active: j.active.clone(),
        exit_on: j.exit_on.clone(),
        locals: j.locals as u16,
        event_paths: g.f.event_paths.take().unwrap_or_default(),
        code: g.f.code,
        nodes: g.nodes,
        awaits: g.f.awaits,
        calls: g.calls,
        splits: g.splits,
        caps: g.caps,
        updates: g.updates,
        sends: g.sends,
        timezone_expr: g.f.timezone,
        goals,
    }
}

impl<'a> JourneyGen<'_, 'a, '_> {
    fn node(&mut self, s: &ir::Stmt, kind: NodeKind, label: String) {
        let id = self.nodes.len() as u32;
        self.nodes.push(NodeInfo { kind, line: (self.line_of)(s.span.start), label });
        self.f.emit(Op::Node(id));
    }

    fn block(&mut self, stmts: &'a [ir::Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &'a ir::Stmt) {
        match &s.kind {
            S::Let { slot, value } => {
                self.f.expr(value);
                self.f.emit(Op::SetLocal(*slot as u16));
            }
            S::Wait(d) => {
                self.node(s, NodeKind::Wait, format!("wait {}", describe_duration(d)));
                self.f.expr(d);
                self.f.emit(Op::Wait);
            }
            S::WaitUntil(e) => {
                self.node(s, NodeKind::Wait, "wait until".into());
                self.f.expr(e);
                self.f.emit(Op::WaitUntil);
            }
            S::Await { arms, after } => {
                let events: Vec<&str> = arms.iter().map(|a| a.event.as_str()).collect();
                self.node(s, NodeKind::Await, format!("await {}", events.join(" | ")));
                let index = self.f.awaits.len();
                self.f.awaits.push(AwaitCode {
                    arms: arms
                        .iter()
                        .map(|a| AwaitArmCode {
                            event: a.event.clone(),
                            slot: a.slot.map(|s| s as u16),
                            condition: None,
                            target: 0,
                        })
                        .collect(),
                    after: after.as_ref().map(|_| (0, 0)),
                });
                self.f.emit(Op::Await(index as u32));
                let mut to_end = Vec::new();
                for (i, arm) in arms.iter().enumerate() {
                    self.f.awaits[index].arms[i].target = self.f.here();
                    if let Some(c) = &arm.condition {
                        self.f.pending.push(Pending::Expr(c, PatchAt::AwaitCondition(index, i)));
                    }
                    self.block(&arm.body);
                    to_end.push(self.f.emit(Op::Jump(0)));
                }
                if let Some((d, body)) = after {
                    let target = self.f.here();
                    if let Some(a) = &mut self.f.awaits[index].after {
                        a.1 = target;
                    }
                    self.f.pending.push(Pending::Expr(d, PatchAt::AwaitAfter(index)));
                    self.block(body);
                    to_end.push(self.f.emit(Op::Jump(0)));
                }
                let end = self.f.here();
                for at in to_end {
                    self.f.patch(at, end);
                }
            }
            S::If { branches, otherwise } => {
                self.node(s, NodeKind::Condition, "if".into());
                let mut to_end = Vec::new();
                for (c, body) in branches {
                    self.f.expr(c);
                    let next = self.f.emit(Op::JumpIfFalse(0));
                    self.block(body);
                    to_end.push(self.f.emit(Op::Jump(0)));
                    let here = self.f.here();
                    self.f.patch(next, here);
                }
                self.block(otherwise);
                let end = self.f.here();
                for at in to_end {
                    self.f.patch(at, end);
                }
            }
            S::Split(branches) => {
                let node = self.nodes.len() as u32;
                let labels: Vec<String> = branches
                    .iter()
                    .map(|(p, l, _)| format!("{p}% {}", l.clone().unwrap_or_default()).trim().to_string())
                    .collect();
                self.node(s, NodeKind::Split, format!("split {}", labels.join(" / ")));
                let index = self.splits.len();
                self.splits.push(SplitCode { node, branches: Vec::new() });
                self.f.emit(Op::Split(index as u32));
                let mut to_end = Vec::new();
                let mut cumulative = 0.0;
                for (p, label, body) in branches {
                    cumulative += p;
                    let target = self.f.here();
                    self.splits[index].branches.push((cumulative, label.clone(), target));
                    self.block(body);
                    to_end.push(self.f.emit(Op::Jump(0)));
                }
                let end = self.f.here();
                for at in to_end {
                    self.f.patch(at, end);
                }
            }
            S::Cap { limit, body, otherwise } => {
                let node = self.nodes.len() as u32;
                // The checker accepts only a constant limit of 0 or more (E0021 otherwise).
                let n = crate::check::const_int(limit).expect("a checked program's `cap` limit is a constant");
                self.node(s, NodeKind::Cap, format!("cap {n}"));
                let index = self.caps.len();
                self.caps.push(CapCode { node, limit: n, otherwise: 0 });
                self.f.emit(Op::Cap(index as u32));
                self.block(body);
                let to_end = self.f.emit(Op::Jump(0));
                self.caps[index].otherwise = self.f.here();
                self.block(otherwise);
                let end = self.f.here();
                self.f.patch(to_end, end);
            }
            S::Call { call, slot } => {
                let kind = if call.kind == HttpKind::Action { NodeKind::Call } else { NodeKind::Fetch };
                self.node(s, kind, format!("{kind} {}", call.target));
                for a in call.args.iter().flatten() {
                    self.f.expr(a);
                }
                let index = self.calls.len();
                self.calls.push(CallCode {
                    http: *self.http_index.get(call.target.as_str()).expect("the checker resolves every call target"),
                    given: call.args.iter().map(Option::is_some).collect(),
                    slot: slot.map(|s| s as u16),
                    on_timeout: None,
                    on_error: None,
                    next: 0,
                });
                self.f.emit(Op::ActionCall(index as u32));
                let mut to_next = vec![self.f.emit(Op::Jump(0))];
                if let Some(b) = &call.on_timeout {
                    self.calls[index].on_timeout = Some(self.f.here());
                    self.block(b);
                    to_next.push(self.f.emit(Op::Jump(0)));
                }
                if let Some(b) = &call.on_error {
                    self.calls[index].on_error = Some(self.f.here());
                    self.block(b);
                    to_next.push(self.f.emit(Op::Jump(0)));
                }
                let next = self.f.here();
                self.calls[index].next = next;
                for at in to_next {
                    self.f.patch(at, next);
                }
            }
            S::UpdateProfile(assigns) => {
                self.node(s, NodeKind::Update, "update profile".into());
                for (_, v) in assigns {
                    self.f.expr(v);
                }
                self.updates.push(assigns.iter().map(|(p, _)| p.clone()).collect());
                self.f.emit(Op::UpdateProfile((self.updates.len() - 1) as u32));
            }
            S::Jump(target) => {
                self.node(s, NodeKind::Jump, format!("jump {target}"));
                let n = self.f.t.name(target);
                self.f.emit(Op::JumpJourney(n));
            }
            S::Send(send) => {
                let node = self.nodes.len() as u32;
                let template = match &send.template.kind {
                    K::Const(Const::Str(t)) => format!("\"{t}\""),
                    _ => "(computed)".into(),
                };
                self.node(s, NodeKind::Send, format!("send {} {template}", send.channel));
                let channel =
                    *self.channels.index.get(send.channel.as_str()).expect("the checker resolves every channel");
                let c = &self.channels.list[channel as usize];
                let retry = self.f.here();
                self.f.expr(&send.template);
                match &send.vars {
                    Some(v) => self.f.expr(v),
                    None => {
                        let i = self.f.t.constant(&Const::Null);
                        self.f.emit(Op::Const(i));
                    }
                }
                self.f.expr(&c.to);
                match (&c.consent, send.transactional) {
                    (Some(consent), false) => self.f.expr(consent),
                    _ => {
                        let i = self.f.t.constant(&Const::Bool(true));
                        self.f.emit(Op::Const(i));
                    }
                }
                let index = self.sends.len();
                self.sends.push(SendCode {
                    node,
                    channel,
                    transactional: send.transactional,
                    slot: send.slot.map(|s| s as u16),
                    reason_slot: send.reason_slot.map(|s| s as u16),
                    retry,
                    on_suppressed: None,
                    on_error: None,
                    next: 0,
                });
                self.f.emit(Op::Send(index as u32));
                let mut to_next = vec![self.f.emit(Op::Jump(0))];
                if let Some(b) = &send.on_suppressed {
                    self.sends[index].on_suppressed = Some(self.f.here());
                    self.block(b);
                    to_next.push(self.f.emit(Op::Jump(0)));
                }
                if let Some(b) = &send.on_error {
                    self.sends[index].on_error = Some(self.f.here());
                    self.block(b);
                    to_next.push(self.f.emit(Op::Jump(0)));
                }
                let next = self.f.here();
                self.sends[index].next = next;
                for at in to_next {
                    self.f.patch(at, next);
                }
            }
            S::End(label) => {
                self.node(s, NodeKind::End, format!("end {}", label.clone().unwrap_or_default()).trim().to_string());
                let n = label.as_ref().map(|l| self.f.t.name(l)).unwrap_or(NO_LABEL);
                self.f.emit(Op::End(n));
            }
        }
    }
}

fn describe_duration(e: &ir::Expr) -> String {
    match crate::check::const_duration(e) {
        Some(ms) => crate::check::fmt_ms(ms),
        None => "(computed)".into(),
    }
}
