//! Journeys: settings, statements, reachability, waits against the timeout, jump cycles.

use super::scope::{Context, Scope};
use super::{
    ArgumentError, CheckError, Checker, DeclKind, GoalProblem, KeyError, OutOfRange, Place, Said, SettingError,
};
use crate::index::Entry;
use crate::ir;
use crate::types::Ty;
use journey_grammar::ast::{self, ItemKind, JourneySettingKind as S, Span, StmtKind as A};
use std::collections::HashMap;

/// The journey timeout when neither the journey nor journey.toml sets one.
pub const DEFAULT_TIMEOUT_MS: i64 = 91 * 24 * 3_600_000;

/// Per-journey state while its body is checked.
struct Walk {
    timeout_ms: i64,
    timeout_span: Option<Span>,
    next_id: u32,
}

impl Checker<'_> {
    /// Checks every journey.
    pub(crate) fn check_journeys(&mut self) -> Vec<ir::Journey> {
        let mut out = Vec::new();
        for (file, sf) in self.files.iter() {
            self.file = *file;
            for item in &sf.items {
                if let ItemKind::Journey(j) = &item.kind {
                    out.push(self.journey(j));
                }
            }
        }
        out
    }

    fn journey(&mut self, j: &ast::JourneyDecl) -> ir::Journey {
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        let mut start = None;
        let mut event: Result<Ty, &'static str> = Err("the journey has no `start on` event");
        let mut reentry = ir::Reentry::Never;
        let mut timezone = self.defaults.timezone.clone().unwrap_or_else(|| "UTC".to_string());
        let mut timeout_ms = self.defaults.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        let mut timeout_span = None;
        let mut active = None;
        let mut exit_on = Vec::new();
        let mut goal_decls: Vec<&ast::Goal> = Vec::new();
        let mut timezone_expr = None;
        self.send_slots.clear();
        for setting in &j.settings {
            let word = match &setting.kind {
                S::Start(_) => "start on",
                S::Reentry(_) => "reentry",
                S::Timezone(_) | S::TimezoneExpr(_) => "timezone",
                S::Timeout(_) => "timeout",
                S::Active { .. } => "active",
                S::ExitOn(_) => "exit on",
                S::Goal(_) => "goal",
            };
            if word != "exit on" && word != "goal" {
                if let Some(first) = seen.get(word) {
                    self.report(CheckError::Setting {
                        at: setting.span,
                        error: SettingError::Repeated { word, journey: j.name.name.clone(), first: *first },
                    });
                    continue;
                }
                seen.insert(word, setting.span);
            }
            match &setting.kind {
                S::Start(rule) => {
                    let (s, ev) = self.start_rule(rule);
                    start = s;
                    event = ev;
                }
                S::Reentry(r) => {
                    reentry = match r {
                        ast::Reentry::Never => ir::Reentry::Never,
                        ast::Reentry::Always => ir::Reentry::Always,
                        ast::Reentry::After(d) => ir::Reentry::After(d.millis),
                    }
                }
                S::Timezone(tz) => {
                    self.check_timezone(tz);
                    timezone = tz.value.clone();
                }
                S::TimezoneExpr(e) => {
                    const NO_EVENT: &str =
                        "the time zone is read from the profile whenever a time of day is needed, not from the entry event";
                    let mut scope = Scope::new(Context::Journey { event: Err(NO_EVENT) });
                    let v = self.expr(e, &mut scope);
                    if !matches!(v.ty.non_null(), Ty::String | Ty::Any | Ty::Null) {
                        let said = Said::new(
                            v.span,
                            format!("`timezone` takes a zone name, a `string`, but this is `{}`", v.ty),
                            format!("this is `{}`", v.ty),
                        )
                        .help("write `timezone \"Europe/Paris\"`, or a profile field: `timezone profile.preferences.timezone ?? \"Europe/Paris\"`");
                        self.report(CheckError::TypeMismatch(said));
                    }
                    timezone_expr = Some(v);
                }
                S::Timeout(d) => {
                    timeout_ms = d.millis;
                    timeout_span = Some(setting.span);
                    if d.millis <= 0 {
                        self.report(CheckError::OutOfRange { at: d.span, what: OutOfRange::JourneyTimeout });
                    }
                }
                S::Active { from, to } => {
                    let mut scope = Scope::new(Context::Test);
                    let f = self.expr(from, &mut scope);
                    let t = self.expr(to, &mut scope);
                    let bounds = (const_text(&f), const_text(&t));
                    for e in [&f, &t] {
                        if !matches!(e.ty, Ty::Date | Ty::DateTime | Ty::Any) {
                            self.mismatch(e.span, "`active from .. to ..` takes dates like `2026-12-01`", &e.ty);
                        }
                    }
                    if let (Some(a), Some(b)) = &bounds {
                        if a > b && f.ty == t.ty {
                            self.report(CheckError::OutOfRange { at: setting.span, what: OutOfRange::ActiveWindow });
                        }
                        active = Some((a.clone(), b.clone()));
                    }
                }
                S::ExitOn(ev) => {
                    if self.use_decl(ev, &[DeclKind::Event]) {
                        exit_on.push(ev.name.clone());
                    }
                }
                S::Goal(g) => goal_decls.push(g),
            }
        }
        // A `start on` line that did not parse has been reported already.
        let text = &self.sources.get(self.file).text;
        let broken_start = j.body.stmts.iter().any(|s| {
            matches!(s.kind, A::Error) && text.get(s.span.start..s.span.end).is_some_and(|t| t.starts_with("start"))
        });
        let start = start.unwrap_or_else(|| {
            if !seen.contains_key("start on") && !broken_start {
                self.report(CheckError::Setting {
                    at: j.name.span,
                    error: SettingError::NoStart { journey: j.name.name.clone() },
                });
            }
            ir::Start::Event(String::new())
        });
        let mut scope = Scope::new(Context::Journey { event });
        let goals = self.goals(&goal_decls, &mut scope, timeout_ms, timeout_span);
        let mut walk = Walk { timeout_ms, timeout_span, next_id: 0 };
        let (body, _) = self.block(&j.body.stmts, &mut scope, &mut walk);
        self.check_path_against_timeout(&body, &walk);
        ir::Journey {
            name: j.name.name.clone(),
            start,
            reentry,
            timezone,
            timezone_expr,
            timeout_ms,
            active,
            exit_on,
            goals,
            locals: scope.max_slots,
            body,
            span: j.name.span,
            file: self.file,
        }
    }

    /// Checks a journey's goals. Their `as` bindings take slots of the journey's scope (kept
    /// apart from the body's, which come after), so the engine evaluates a goal's chunks in a
    /// frame of the journey's size, whether its instance still runs or has ended.
    fn goals(
        &mut self,
        goals: &[&ast::Goal],
        scope: &mut Scope,
        timeout_ms: i64,
        timeout_span: Option<Span>,
    ) -> Vec<ir::Goal> {
        const EXTRA_MS: i64 = 90 * 86_400_000;
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut out = Vec::new();
        for (i, g) in goals.iter().enumerate() {
            let name = g.name.value.as_str();
            if i == journey_bytecode::MAX_GOALS {
                let max = journey_bytecode::MAX_GOALS;
                let said =
                    Said::new(g.name.span, format!("the journey has more than {max} goals"), format!("goal {}", i + 1))
                        .also(goals[0].name.span, "the first goal")
                        .help(format!(
                            "a journey tracks at most {max} goals; measure the others in a journey of their own"
                        ));
                self.report(CheckError::Goal { problem: GoalProblem::TooMany, said, fix: None });
                break;
            }
            if let Some(first) = seen.get(name) {
                let said = Said::new(g.name.span, format!("the journey has two goals named \"{name}\""), "named again")
                    .also(*first, "first goal with this name")
                    .help("give each goal its own name: reports and `expect converted` find goals by name");
                self.report(CheckError::Goal { problem: GoalProblem::Duplicate, said, fix: None });
                continue;
            }
            seen.insert(name, g.name.span);
            // The event: a declared event with a key (a goal event finds its profile by it).
            let is_event = self.decls.get(&g.event.name).is_some_and(|d| d.kind == DeclKind::Event);
            let payload = if is_event {
                self.use_decl(&g.event, &[DeclKind::Event]);
                let decl = self.events.get(&g.event.name).cloned();
                if let Some(d) = &decl {
                    if d.key.is_none() {
                        let at = self.decls[&g.event.name];
                        self.report(CheckError::Key {
                            at: g.event.span,
                            error: KeyError::MissingForGoal {
                                event: g.event.name.clone(),
                                declared: Place { file: at.file, span: at.name_span },
                            },
                        });
                    }
                }
                decl.map(|d| d.payload.clone()).unwrap_or(Ty::Any)
            } else {
                let suggestion =
                    crate::suggest::nearest(&g.event.name, self.names_of(DeclKind::Event)).map(str::to_string);
                let what = match self.decls.get(&g.event.name) {
                    Some(d) => {
                        format!("`{}`, which is {}, not an event", g.event.name, super::article_word(d.kind.word()))
                    }
                    None => format!("an unknown event `{}`", g.event.name),
                };
                let help = match &suggestion {
                    Some(x) => format!("did you mean `{x}`?"),
                    None => format!("declare it, e.g. `{}`", super::example_decl(DeclKind::Event, &g.event.name)),
                };
                let said =
                    Said::new(g.event.span, format!("goal \"{name}\" waits for {what}"), "not an event").help(help);
                self.report(CheckError::Goal { problem: GoalProblem::UnknownEvent, said, fix: suggestion });
                Ty::Any
            };
            // The window: from entry, at most the journey timeout plus 90 days.
            let window_ms = g.window.millis;
            if window_ms <= 0 {
                let said = Said::new(g.window.span, "a goal's window must be longer than 0", "no time to convert")
                    .help("write a duration such as `within 7d`");
                self.report(CheckError::Goal { problem: GoalProblem::Window, said, fix: None });
            } else if window_ms > timeout_ms.saturating_add(EXTRA_MS) {
                let limit = timeout_ms.saturating_add(EXTRA_MS);
                let mut said = Said::new(
                    g.window.span,
                    format!(
                        "goal \"{name}\" waits {} for a conversion, longer than the journey timeout ({}) plus 90 days",
                        fmt_ms(window_ms),
                        fmt_ms(timeout_ms)
                    ),
                    format!("longer than {}", fmt_ms(limit)),
                )
                .help(format!("shorten the window to at most {}, or raise the journey's `timeout`", fmt_ms(limit)));
                if let Some(t) = timeout_span {
                    said = said.also(t, "the journey times out here");
                }
                self.report(CheckError::Goal { problem: GoalProblem::Window, said, fix: Some(fmt_ms(limit)) });
            }
            scope.push();
            let slot = g.binding.as_ref().map(|b| {
                self.note_def(&b.name, &payload, b.span);
                scope.declare(&b.name, payload.clone(), b.span)
            });
            let condition = g.condition.as_ref().and_then(|c| {
                let v = self.goal_expr(g, &payload, c, scope, "where")?;
                Some(self.bool_condition(v))
            });
            let value = g.value.as_ref().and_then(|e| {
                let v = self.goal_expr(g, &payload, e, scope, "value")?;
                if !matches!(v.ty.non_null(), Ty::Int | Ty::Number | Ty::Any | Ty::Null) {
                    let said = Said::new(
                        v.span,
                        format!("a goal's `value` must be a number, but this is `{}`", v.ty),
                        format!("this is `{}`", v.ty),
                    )
                    .help("give what a conversion is worth, e.g. `value p.commerce.order.priceTotal`; convert text with `toDecimal(...)`");
                    self.report(CheckError::Goal { problem: GoalProblem::ValueNotNumber, said, fix: None });
                    return None;
                }
                Some(v)
            });
            scope.pop();
            if is_event {
                out.push(ir::Goal {
                    name: name.to_string(),
                    event: g.event.name.clone(),
                    slot,
                    condition,
                    window_ms,
                    value,
                });
            }
        }
        out
    }

    /// A goal's `where` or `value`: without `as`, a name that is not `event`, `profile` or a
    /// local would be a field of the goal event's payload, which only `as` names; that is said
    /// once (E0037) instead of each name being reported unknown.
    fn goal_expr(
        &mut self,
        g: &ast::Goal,
        payload: &Ty,
        e: &ast::Expr,
        scope: &mut Scope,
        word: &str,
    ) -> Option<ir::Expr> {
        let before = self.diags.len();
        let v = self.expr(e, scope);
        // An unknown bare name that the payload has as a field (any name, when the payload's
        // type is unknown).
        let reads_payload = |message: &str| {
            let name = message.strip_prefix("unknown name `").and_then(|m| m.strip_suffix('`'));
            name.is_some_and(|n| match payload.non_null() {
                Ty::Record(r) => r.fields.contains_key(n),
                Ty::Any => true,
                _ => false,
            })
        };
        if g.binding.is_none() && self.diags[before..].iter().any(|d| d.code == "E0003" && reads_payload(&d.message)) {
            self.diags.truncate(before);
            let said = Said::new(
                e.span,
                format!("`{word}` reads the goal event's payload, which needs a name given with `as`"),
                format!("no `as` before this `{word}`"),
            )
            .help(format!(
                "write `goal \"{}\" on {} as x {word} x....`; `event` is the journey's entry event",
                g.name.value, g.event.name
            ));
            self.report(CheckError::Goal { problem: GoalProblem::PayloadWithoutAs, said, fix: None });
            return None;
        }
        Some(v)
    }

    fn start_rule(&mut self, rule: &ast::StartRule) -> (Option<ir::Start>, Result<Ty, &'static str>) {
        const NO_EVENT: &str = "this journey starts on an audience, so it has no entry event";
        match rule {
            ast::StartRule::Event(ev) => {
                if !self.use_decl(ev, &[DeclKind::Event]) {
                    return (None, Ok(Ty::Any));
                }
                let decl = self.events.get(&ev.name).cloned();
                let payload = decl.as_ref().map(|d| d.payload.clone()).unwrap_or(Ty::Any);
                if let Some(d) = decl {
                    if d.key.is_none() {
                        let at = self.decls[&ev.name];
                        self.report(CheckError::Key {
                            at: ev.span,
                            error: KeyError::Missing {
                                event: ev.name.clone(),
                                declared: Place { file: at.file, span: at.name_span },
                            },
                        });
                    }
                }
                (Some(ir::Start::Event(ev.name.clone())), Ok(payload))
            }
            ast::StartRule::EventForAudience { event, audience } => {
                // A business event needs no key: each member of the audience is a profile.
                let known = self.use_decl(event, &[DeclKind::Event]);
                self.use_decl(audience, &[DeclKind::Audience]);
                let payload = self.events.get(&event.name).map(|d| d.payload.clone()).unwrap_or(Ty::Any);
                let start = known.then(|| ir::Start::EventForAudience {
                    event: event.name.clone(),
                    audience: audience.name.clone(),
                });
                (start, Ok(payload))
            }
            ast::StartRule::AudienceEnters(a) | ast::StartRule::AudienceExits(a) => {
                self.use_decl(a, &[DeclKind::Audience]);
                let s = if matches!(rule, ast::StartRule::AudienceEnters(_)) {
                    ir::Start::AudienceEnters(a.name.clone())
                } else {
                    ir::Start::AudienceExits(a.name.clone())
                };
                (Some(s), Err(NO_EVENT))
            }
            ast::StartRule::AudienceRead { audience, schedule } => {
                self.use_decl(audience, &[DeclKind::Audience]);
                let mut scope = Scope::new(Context::Test);
                let (every, at) = match schedule {
                    ast::Schedule::Every { every, at } => {
                        // The grammar only takes `day` and the weekdays here.
                        let word = every.name.to_ascii_lowercase();
                        let t = self.expr(at, &mut scope);
                        if !matches!(t.ty, Ty::Time | Ty::Any) {
                            self.mismatch(t.span, "a schedule's `at` is a time of day like `09:00`", &t.ty);
                        }
                        (Some(word), const_text(&t).unwrap_or_default())
                    }
                    ast::Schedule::Once { at } => {
                        let t = self.expr(at, &mut scope);
                        if !matches!(t.ty, Ty::DateTime | Ty::Any) {
                            self.mismatch(t.span, "`once at` takes a date-time like `2026-12-01T09:00:00Z`", &t.ty);
                        }
                        (None, const_text(&t).unwrap_or_default())
                    }
                };
                (Some(ir::Start::AudienceRead { audience: audience.name.clone(), every, at }), Err(NO_EVENT))
            }
        }
    }

    fn check_timezone(&mut self, tz: &ast::StrLit) {
        if jiff::tz::TimeZone::get(&tz.value).is_ok() {
            return;
        }
        let (suggestion, abbreviation) = crate::suggest::time_zone(&tz.value);
        self.report(CheckError::UnknownTimeZone { at: tz.span, zone: tz.value.clone(), suggestion, abbreviation });
    }

    /// Checks a block's statements; returns them and whether every path through it ends.
    fn block(&mut self, stmts: &[ast::Stmt], scope: &mut Scope, walk: &mut Walk) -> (Vec<ir::Stmt>, bool) {
        let mut out = Vec::with_capacity(stmts.len());
        let mut ended = false;
        let mut reported = false;
        for stmt in stmts {
            if ended && !reported && !matches!(stmt.kind, A::Error) {
                reported = true;
                let last = stmts.last().map(|s| s.span).unwrap_or(stmt.span);
                self.report(CheckError::Unreachable { at: stmt.span.to(last) });
            }
            let (s, ends) = self.stmt(stmt, scope, walk);
            ended |= ends;
            if let Some(s) = s {
                out.push(s);
            }
        }
        (out, ended)
    }

    fn sub_block(&mut self, b: &ast::Block, scope: &mut Scope, walk: &mut Walk) -> (Vec<ir::Stmt>, bool) {
        scope.push();
        let r = self.block(&b.stmts, scope, walk);
        scope.pop();
        r
    }

    fn stmt(&mut self, stmt: &ast::Stmt, scope: &mut Scope, walk: &mut Walk) -> (Option<ir::Stmt>, bool) {
        let id = walk.next_id;
        walk.next_id += 1;
        let span = stmt.span;
        let mut ends = false;
        let kind = match &stmt.kind {
            A::Let { name, value } => match value {
                ast::LetValue::Expr(e) => {
                    let v = self.expr(e, scope);
                    self.note_def(&name.name, &v.ty, name.span);
                    let slot = scope.declare(&name.name, v.ty.clone(), name.span);
                    ir::StmtKind::Let { slot, value: v }
                }
                ast::LetValue::Call(c) => {
                    let (call, ty) = self.action_call(c, scope, walk);
                    self.note_def(&name.name, &ty, name.span);
                    let slot = scope.declare(&name.name, ty, name.span);
                    ir::StmtKind::Call { call, slot: Some(slot) }
                }
            },
            A::Wait(e) => {
                let d = self.expr(e, scope);
                if !matches!(d.ty.non_null(), Ty::Duration | Ty::Any) {
                    let said = Said::new(
                        d.span,
                        format!("`wait` takes a duration, but this is `{}`", d.ty),
                        format!("this is `{}`", d.ty),
                    )
                    .help("write `wait 2h`, or `wait until 09:00` for a time of day");
                    self.report(CheckError::TypeMismatch(said));
                }
                self.check_against_timeout(&d, "this wait", walk);
                ir::StmtKind::Wait(d)
            }
            A::WaitUntil(e) => {
                let t = self.expr(e, scope);
                if !matches!(t.ty.non_null(), Ty::Time | Ty::DateTime | Ty::LocalDateTime | Ty::Date | Ty::Any) {
                    let said = Said::new(
                        t.span,
                        format!("`wait until` takes a time of day or a date-time, but this is `{}`", t.ty),
                        format!("this is `{}`", t.ty),
                    )
                    .help("write `wait until 09:00` or `wait until event.timestamp + 3d`; `wait 2h` waits a duration");
                    self.report(CheckError::TypeMismatch(said));
                }
                ir::StmtKind::WaitUntil(t)
            }
            A::Await { arms, after } => {
                let mut out_arms = Vec::new();
                let mut all_end = true;
                for arm in arms {
                    // `on opened NAME`: the channel's reaction event, matched to NAME's id.
                    let reaction = arm.reaction.and_then(|r| self.reaction_arm(arm, r, scope).map(|x| (r, x)));
                    let (event, payload) = match (&reaction, arm.reaction) {
                        (Some((_, (event, payload, _))), _) => (event.clone(), payload.clone()),
                        (None, Some(_)) => (String::new(), Ty::Any),
                        (None, None) => {
                            let payload = if self.use_decl(&arm.event, &[DeclKind::Event]) {
                                self.events.get(&arm.event.name).map(|e| e.payload.clone()).unwrap_or(Ty::Any)
                            } else {
                                Ty::Any
                            };
                            (arm.event.name.clone(), payload)
                        }
                    };
                    scope.push();
                    if let Some(b) = &arm.binding {
                        self.note_def(&b.name, &payload, b.span);
                    }
                    let mut slot = arm.binding.as_ref().map(|b| scope.declare(&b.name, payload.clone(), b.span));
                    if reaction.is_some() && slot.is_none() {
                        // The payload goes to a slot no name can reach, for the match on the id.
                        slot = Some(scope.declare("#reaction", payload.clone(), arm.event.span));
                    }
                    let matched = reaction.as_ref().zip(slot).map(|((_, (_, _, cond)), s)| cond(s));
                    let condition = arm.condition.as_ref().and_then(|c| {
                        if arm.binding.is_none() {
                            // Without `as` the condition cannot name the payload: say that
                            // once instead of reporting each of its names as unknown.
                            self.report(CheckError::WhereWithoutAs { at: c.span, event: arm.event.name.clone() });
                            return None;
                        }
                        Some(self.condition(c, scope))
                    });
                    let condition = match (matched, condition) {
                        (Some(m), Some(c)) => Some(ir::Expr {
                            span: c.span,
                            ty: Ty::Bool,
                            kind: ir::ExprKind::Binary(ast::BinaryOp::And, Box::new(m), Box::new(c)),
                        }),
                        (m, c) => m.or(c),
                    };
                    let (body, e) = self.sub_block(&arm.block, scope, walk);
                    scope.pop();
                    all_end &= e;
                    let label = reaction.as_ref().map(|(r, _)| (r.word().to_string(), arm.event.name.clone()));
                    out_arms.push(ir::AwaitArm { event, reaction: label, slot, condition, body });
                }
                let after = after.as_ref().map(|a| {
                    let d = self.expr(&a.duration, scope);
                    if !matches!(d.ty.non_null(), Ty::Duration | Ty::Any) {
                        self.mismatch(d.span, "`after` takes a duration like `2h`", &d.ty);
                    }
                    self.check_against_timeout(&d, "this timeout", walk);
                    let (body, e) = self.sub_block(&a.block, scope, walk);
                    all_end &= e;
                    (d, body)
                });
                // An `after` arm that did not parse has been reported already.
                let text = self.sources.get(self.file).text.get(span.start..span.end).unwrap_or("");
                let broken_after = text.lines().any(|l| l.trim_start().starts_with("after"));
                if after.is_none() && !broken_after {
                    self.report(CheckError::AwaitNoTimeout { keyword: stmt.keyword });
                }
                if after.is_none() {
                    all_end = false;
                }
                ends = all_end;
                ir::StmtKind::Await { arms: out_arms, after }
            }
            A::If { branches, otherwise } => {
                let mut out = Vec::new();
                let mut all_end = true;
                for (cond, block) in branches {
                    let c = self.condition(cond, scope);
                    let (b, e) = self.sub_block(block, scope, walk);
                    all_end &= e;
                    out.push((c, b));
                }
                let other = match otherwise {
                    Some(b) => {
                        let (b, e) = self.sub_block(b, scope, walk);
                        all_end &= e;
                        b
                    }
                    None => {
                        all_end = false;
                        Vec::new()
                    }
                };
                ends = all_end;
                ir::StmtKind::If { branches: out, otherwise: other }
            }
            A::Split(branches) => {
                let total: f64 = branches.iter().map(|b| b.percent).sum();
                // A branch that did not parse has been reported; its share is unknown.
                let text = self.sources.get(self.file).text.get(span.start..span.end).unwrap_or("");
                let written = text.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).count();
                if (total - 100.0).abs() > 1e-9 && !branches.is_empty() && written <= branches.len() {
                    self.report(CheckError::SplitSum {
                        keyword: stmt.keyword,
                        total,
                        branches: branches.iter().map(|b| (b.percent_span, b.percent)).collect(),
                    });
                }
                // Labels on some arms only: not an experiment, and the unlabelled arms are
                // reported by their share, which is likely not what was meant.
                let labelled = branches.iter().filter(|b| b.label.is_some()).count();
                if labelled > 0 && labelled < branches.len() {
                    let mut unlabelled = branches.iter().filter(|b| b.label.is_none());
                    if let Some(first) = unlabelled.next() {
                        let mut said = Said::new(
                            first.percent_span,
                            "this split labels some arms but not this one, so it is not an experiment",
                            "no label",
                        )
                        .help(format!(
                            "label every arm (e.g. `{}% \"B\" -> {{ ... }}`) to compare them in reports, or remove the labels",
                            fmt_percent_plain(first.percent)
                        ));
                        for b in unlabelled {
                            said = said.also(b.percent_span, "no label either");
                        }
                        self.report(CheckError::Goal { problem: GoalProblem::UnlabelledArm, said, fix: None });
                    }
                }
                let mut out = Vec::new();
                let mut all_end = !branches.is_empty();
                for b in branches {
                    let (body, e) = self.sub_block(&b.block, scope, walk);
                    all_end &= e;
                    out.push((b.percent, b.label.as_ref().map(|l| l.value.clone()), body));
                }
                ends = all_end;
                ir::StmtKind::Split(out)
            }
            A::Cap { limit, body, otherwise } => {
                let l = self.expr(limit, scope);
                if !matches!(l.ty, Ty::Int | Ty::Any) {
                    self.mismatch(l.span, "`cap` takes a whole number of profiles", &l.ty);
                } else if l.ty == Ty::Int {
                    // The code generator keeps the limit as a number: one count for every
                    // profile through the node, so it cannot be computed per profile.
                    match const_int(&l) {
                        Some(n) if n >= 0 => {}
                        Some(n) => self.report(CheckError::NotAllowed(
                            Said::new(l.span, format!("a `cap` of {n} profiles is not allowed"), "below zero")
                                .help("write 0 to let no profile through, or a positive number"),
                        )),
                        None => self.report(CheckError::NotAllowed(
                            Said::new(l.span, "a computed `cap` limit is not allowed", "not a constant number").help(
                                "a cap counts every profile through the node, so its limit cannot come from one of them: write a number, e.g. `cap 1000` (arithmetic on numbers such as `10 * 1000` is fine)",
                            ),
                        )),
                    }
                }
                let (b, e1) = self.sub_block(body, scope, walk);
                let (o, e2) = match otherwise {
                    Some(o) => self.sub_block(o, scope, walk),
                    None => (Vec::new(), false),
                };
                ends = e1 && e2;
                ir::StmtKind::Cap { limit: l, body: b, otherwise: o }
            }
            A::Call(c) => {
                let (call, _) = self.action_call(c, scope, walk);
                ir::StmtKind::Call { call, slot: None }
            }
            A::UpdateProfile(assignments) => {
                let mut out = Vec::new();
                for a in assignments {
                    let v = self.expr(&a.value, scope);
                    if let Some(ty) = self.profile_path(&a.path) {
                        self.expect_ty(&v, &ty.optional(), &format!("the value for `{}`", join(&a.path)), false);
                    }
                    out.push((a.path.iter().map(|p| p.name.clone()).collect(), v));
                }
                ir::StmtKind::UpdateProfile(out)
            }
            A::Jump(target) => {
                self.use_decl(target, &[DeclKind::Journey]);
                ir::StmtKind::Jump(target.name.clone())
            }
            A::End(label) => {
                ends = true;
                if let Some(l) = label.as_ref().filter(|l| ir::RESERVED_LABELS.contains(&l.value.as_str())) {
                    self.report(CheckError::ReservedLabel { at: l.span, label: l.value.clone() });
                }
                ir::StmtKind::End(label.as_ref().map(|l| l.value.clone()))
            }
            A::Send(send) => {
                let (template, vars) = self.send_head(send, scope);
                let mut reason_slot = None;
                let on_suppressed = send.on_suppressed.as_ref().map(|b| {
                    scope.push();
                    reason_slot = Some(scope.declare("reason", Ty::String, b.span));
                    let (body, _) = self.block(&b.stmts, scope, walk);
                    scope.pop();
                    body
                });
                let on_error = send.on_error.as_ref().map(|b| self.sub_block(b, scope, walk).0);
                let slot = self.send_binding(send, scope);
                ir::StmtKind::Send(ir::Send {
                    transactional: send.transactional,
                    channel: send.channel.name.clone(),
                    template,
                    vars,
                    slot,
                    reason_slot,
                    on_suppressed,
                    on_error,
                })
            }
            A::Error => return (None, false),
        };
        (Some(ir::Stmt { id, kind, span }), ends)
    }

    /// The type of a profile field path, reporting unknown fields.
    fn profile_path(&mut self, path: &[ast::Ident]) -> Option<Ty> {
        let mut ty = self.profile_ty();
        for seg in path {
            match ty.non_null() {
                Ty::Any => return Some(Ty::Any),
                Ty::Map(t) => ty = (**t).clone(),
                Ty::Record(r) => match r.fields.get(&seg.name) {
                    Some(f) => {
                        let (base, field) = (ty.clone(), f.clone());
                        self.note(seg.span, || Entry::Field { base, ty: field.ty.clone(), field: Some(field) });
                        ty = f.ty.clone()
                    }
                    None => {
                        let base = ty.clone();
                        self.note(seg.span, || Entry::Field { base, field: None, ty: Ty::Any });
                        let suggestion =
                            crate::suggest::nearest(&seg.name, r.fields.keys().map(String::as_str)).map(str::to_string);
                        self.report(CheckError::UnknownField {
                            owner: super::FieldOwner::ProfileUpdate,
                            field: seg.name.clone(),
                            at: seg.span,
                            suggestion,
                        });
                        return None;
                    }
                },
                other => {
                    let other = other.clone();
                    self.mismatch(seg.span, &format!("`{other}` has no fields to update"), &other);
                    return None;
                }
            }
        }
        Some(ty.non_null().clone())
    }

    fn check_against_timeout(&mut self, d: &ir::Expr, what: &'static str, walk: &Walk) {
        let Some(ms) = const_duration(d) else { return };
        if ms <= walk.timeout_ms {
            return;
        }
        self.report(CheckError::WaitTooLong {
            at: d.span,
            what,
            ms,
            timeout_ms: walk.timeout_ms,
            timeout_at: walk.timeout_span,
        });
    }

    /// Warns (once per journey) when a path's waits and await timeouts add up to the journey
    /// timeout: instances on it end `timed-out` before they reach what follows.
    fn check_path_against_timeout(&mut self, body: &[ir::Stmt], walk: &Walk) {
        let mut paths = Paths { timeout_ms: walk.timeout_ms, hit: None, too_long: false };
        paths.block(body, Path::default());
        if let (Some((at, path)), false) = (paths.hit, paths.too_long) {
            self.report(CheckError::TimeoutHidesPath {
                at,
                path_ms: path.ms,
                timeout_ms: walk.timeout_ms,
                timeout_at: walk.timeout_span,
                waits: path.waits,
            });
        }
    }

    /// Checks a `call`/`fetch`; returns it and the type its `let` holds.
    fn action_call(&mut self, c: &ast::ActionCall, scope: &mut Scope, walk: &mut Walk) -> (ir::Call, Ty) {
        let kind = if c.kind == ast::HttpKind::Action { DeclKind::Action } else { DeclKind::DataSource };
        let decl = if self.use_decl(&c.name, &[kind]) { self.http.get(&c.name.name).cloned() } else { None };
        let mut args: Vec<Option<ir::Expr>> = Vec::new();
        let mut returns = Ty::Any;
        match &decl {
            Some(h) => {
                returns = h.returns.clone();
                args = vec![None; h.params.len()];
                let mut positional = 0usize;
                let mut misnamed = false;
                for a in &c.args {
                    let v = self.expr(&a.value, scope);
                    let idx = match &a.name {
                        Some(n) => match h.params.iter().position(|(p, _)| *p == n.name) {
                            Some(i) => i,
                            None => {
                                let suggestion =
                                    crate::suggest::nearest(&n.name, h.params.iter().map(|(p, _)| p.as_str()))
                                        .map(str::to_string);
                                self.report(CheckError::Argument {
                                    error: ArgumentError::Unknown {
                                        callee: h.name.clone(),
                                        name: n.name.clone(),
                                        signature: Some(param_list(&h.params)),
                                    },
                                    at: n.span,
                                    suggestion,
                                });
                                misnamed = true;
                                continue;
                            }
                        },
                        None => {
                            positional += 1;
                            positional - 1
                        }
                    };
                    if idx >= h.params.len() {
                        let said = Said::new(
                            v.span,
                            format!(
                                "`{}` takes {} argument{}, but more are given",
                                h.name,
                                h.params.len(),
                                if h.params.len() == 1 { "" } else { "s" }
                            ),
                            "extra argument",
                        )
                        .help(format!("`{}` takes {}", h.name, param_list(&h.params)));
                        self.report(CheckError::Arity(said));
                        continue;
                    }
                    if args[idx].is_some() {
                        self.report(CheckError::Argument {
                            error: ArgumentError::Twice { name: h.params[idx].0.clone() },
                            at: a.name.as_ref().map(|n| n.span).unwrap_or(v.span),
                            suggestion: None,
                        });
                        continue;
                    }
                    let (pname, pty) = &h.params[idx];
                    self.expect_ty(&v, pty, &format!("the argument `{pname}`"), true);
                    args[idx] = Some(v);
                }
                let missing: Vec<&str> = h
                    .params
                    .iter()
                    .zip(&args)
                    .filter(|((_, t), a)| a.is_none() && !t.is_nullable())
                    .map(|((n, _), _)| n.as_str())
                    .collect();
                // A misspelled name (`too:`) is the missing argument: it is reported already.
                if !missing.is_empty() && !misnamed {
                    self.report(CheckError::Argument {
                        error: ArgumentError::Missing {
                            callee: h.name.clone(),
                            names: missing.iter().map(|m| m.to_string()).collect(),
                            signature: param_list(&h.params),
                        },
                        at: c.span,
                        suggestion: None,
                    });
                }
            }
            None => {
                for a in &c.args {
                    self.expr(&a.value, scope);
                }
            }
        }
        let mut handlers_end = true;
        let on_timeout = c.on_timeout.as_ref().map(|b| {
            let (b, e) = self.sub_block(b, scope, walk);
            handlers_end &= e;
            b
        });
        let on_error = c.on_error.as_ref().map(|b| {
            let (b, e) = self.sub_block(b, scope, walk);
            handlers_end &= e;
            b
        });
        let has_handler = on_timeout.is_some() || on_error.is_some();
        let ty = if has_handler && !handlers_end { returns.optional() } else { returns };
        let call = ir::Call { kind: c.kind, target: c.name.name.clone(), args, on_timeout, on_error };
        (call, ty)
    }

    /// Reports jump cycles between journeys.
    pub(crate) fn check_jump_cycles(&mut self, journeys: &[ir::Journey]) {
        let mut edges: HashMap<&str, Vec<(&str, Span)>> = HashMap::new();
        for j in journeys {
            let mut targets = Vec::new();
            collect_jumps(&j.body, &mut targets);
            edges.insert(j.name.as_str(), targets);
        }
        let mut reported: Vec<Vec<&str>> = Vec::new();
        for j in journeys {
            let mut path = vec![(j.name.as_str(), Span::default())];
            if let Some(cycle) = find_cycle(j.name.as_str(), &edges, &mut path) {
                let mut key: Vec<&str> = cycle.iter().map(|(n, _)| *n).collect();
                key.sort();
                if reported.contains(&key) {
                    continue;
                }
                reported.push(key);
                // cycle: [(journey, span of the jump leaving the previous journey)...]
                let names: Vec<&str> = cycle.iter().map(|(n, _)| *n).collect();
                let (last_name, last_span) = cycle[0];
                let from = cycle.last().map(|(n, _)| *n).unwrap_or(last_name);
                let Some(decl) = self.decls.get(from).copied() else { continue };
                let mut jumps = Vec::new();
                for (n, s) in cycle.iter().skip(1) {
                    if let Some(dd) = self.decls.get(*n).copied() {
                        jumps.push((Place { file: dd.file, span: *s }, n.to_string()));
                    }
                }
                self.report_in(
                    decl.file,
                    CheckError::JumpCycle {
                        file: decl.file,
                        at: last_span,
                        names: names.iter().map(|n| n.to_string()).collect(),
                        from: from.to_string(),
                        to: last_name.to_string(),
                        jumps,
                    },
                );
            }
        }
    }
}

/// Finds a cycle back to `start`; returns the journeys on it with the span of the jump into each.
fn find_cycle<'a>(
    start: &'a str,
    edges: &HashMap<&'a str, Vec<(&'a str, Span)>>,
    path: &mut Vec<(&'a str, Span)>,
) -> Option<Vec<(&'a str, Span)>> {
    let (current, _) = *path.last()?;
    for (target, span) in edges.get(current).map(Vec::as_slice).unwrap_or(&[]) {
        if *target == start {
            let mut cycle = path.clone();
            cycle[0].1 = *span;
            return Some(cycle);
        }
        if path.iter().any(|(n, _)| n == target) || path.len() > 64 {
            continue;
        }
        path.push((target, *span));
        if let Some(c) = find_cycle(start, edges, path) {
            return Some(c);
        }
        path.pop();
    }
    None
}

fn collect_jumps<'a>(stmts: &'a [ir::Stmt], out: &mut Vec<(&'a str, Span)>) {
    ir::walk(stmts, &mut |s| {
        if let ir::StmtKind::Jump(j) = &s.kind {
            out.push((j.as_str(), s.span));
        }
    });
}

/// The value of a constant duration expression (literals and sums of literals).
pub fn const_duration(e: &ir::Expr) -> Option<i64> {
    match &e.kind {
        ir::ExprKind::Const(ir::Const::Duration(ms)) => Some(*ms),
        ir::ExprKind::Binary(ast::BinaryOp::Add, a, b) => Some(const_duration(a)? + const_duration(b)?),
        _ => None,
    }
}

/// The value of a constant whole-number expression: int literals and `+ - * / %` and unary
/// minus on them (`None` for anything else, or on overflow or a division by zero).
pub fn const_int(e: &ir::Expr) -> Option<i64> {
    use ast::BinaryOp as B;
    match &e.kind {
        ir::ExprKind::Const(ir::Const::Int(n)) => Some(*n),
        ir::ExprKind::Unary(ast::UnaryOp::Neg, a) => const_int(a)?.checked_neg(),
        ir::ExprKind::Binary(op, a, b) => {
            let (a, b) = (const_int(a)?, const_int(b)?);
            match op {
                B::Add => a.checked_add(b),
                B::Sub => a.checked_sub(b),
                B::Mul => a.checked_mul(b),
                B::Div => a.checked_div(b),
                B::Rem => a.checked_rem(b),
                _ => None,
            }
        }
        _ => None,
    }
}

fn const_text(e: &ir::Expr) -> Option<String> {
    match &e.kind {
        ir::ExprKind::Const(ir::Const::Date(s) | ir::Const::DateTime(s) | ir::Const::Time(s)) => Some(s.clone()),
        _ => None,
    }
}

/// A percentage as written: `50`, `12.5`.
fn fmt_percent_plain(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{}", p as i64)
    } else {
        format!("{p}")
    }
}

/// `1d12h`-style text for milliseconds.
pub fn fmt_ms(ms: i64) -> String {
    const UNITS: [(&str, i64); 5] = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
    if ms == 0 {
        return "0s".into();
    }
    let mut rest = ms.abs();
    let mut out = if ms < 0 { "-".to_string() } else { String::new() };
    for (u, size) in UNITS {
        if rest >= size {
            out.push_str(&format!("{}{u}", rest / size));
            rest %= size;
        }
    }
    out
}

/// The waits along one path through a journey, in order, and their sum.
#[derive(Clone, Default)]
struct Path {
    ms: i64,
    waits: Vec<(Span, i64)>,
}

/// Walks every path of a journey body adding up constant waits and await timeouts.
struct Paths {
    timeout_ms: i64,
    /// The first wait at which a path reaches the timeout, with that path.
    hit: Option<(Span, Path)>,
    /// A single wait is already longer than the timeout (E0011 says so).
    too_long: bool,
}

impl Paths {
    fn wait(&mut self, at: Span, ms: i64, mut path: Path) -> Path {
        path.ms = path.ms.saturating_add(ms);
        path.waits.push((at, ms));
        if ms > self.timeout_ms {
            self.too_long = true;
        } else if path.ms >= self.timeout_ms && self.hit.is_none() {
            self.hit = Some((at, path.clone()));
        }
        path
    }

    /// The longest path that falls through `stmts` from `path`, or `None` when every path ends.
    fn block(&mut self, stmts: &[ir::Stmt], mut path: Path) -> Option<Path> {
        use ir::StmtKind as K;
        for s in stmts {
            let branches: Vec<Option<Path>> = match &s.kind {
                K::Wait(d) => {
                    if let Some(ms) = const_duration(d) {
                        path = self.wait(d.span, ms, path);
                    }
                    continue;
                }
                K::End(_) | K::Jump(_) => return None,
                K::Await { arms, after } => {
                    let mut out: Vec<Option<Path>> = arms.iter().map(|a| self.block(&a.body, path.clone())).collect();
                    match after {
                        Some((d, body)) => {
                            let p = match const_duration(d) {
                                Some(ms) => self.wait(d.span, ms, path.clone()),
                                None => path.clone(),
                            };
                            out.push(self.block(body, p));
                        }
                        None => out.push(Some(path.clone())),
                    }
                    out
                }
                K::If { branches, otherwise } => {
                    let mut out: Vec<Option<Path>> =
                        branches.iter().map(|(_, b)| self.block(b, path.clone())).collect();
                    out.push(self.block(otherwise, path.clone()));
                    out
                }
                K::Split(bs) => bs.iter().map(|(_, _, b)| self.block(b, path.clone())).collect(),
                K::Cap { body, otherwise, .. } => {
                    vec![self.block(body, path.clone()), self.block(otherwise, path.clone())]
                }
                // Most calls and sends have no handler: nothing branches (and nothing is cloned).
                K::Call { call, .. } if call.on_timeout.is_none() && call.on_error.is_none() => continue,
                K::Send(send) if send.on_suppressed.is_none() && send.on_error.is_none() => continue,
                K::Call { call, .. } => {
                    let mut out = vec![Some(path.clone())];
                    for b in [&call.on_timeout, &call.on_error].into_iter().flatten() {
                        out.push(self.block(b, path.clone()));
                    }
                    out
                }
                // A send queued by quiet hours waits for a time not known here.
                K::Send(send) => {
                    let mut out = vec![Some(path.clone())];
                    for b in [&send.on_suppressed, &send.on_error].into_iter().flatten() {
                        out.push(self.block(b, path.clone()));
                    }
                    out
                }
                // No wait and no branches; a `wait until` waits for a time not known here.
                K::Let { .. } | K::WaitUntil(_) | K::UpdateProfile(_) => continue,
            };
            path = branches.into_iter().flatten().max_by_key(|p| p.ms)?;
        }
        Some(path)
    }
}

fn join(path: &[ast::Ident]) -> String {
    path.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(".")
}

fn param_list(params: &[(String, Ty)]) -> String {
    if params.is_empty() {
        return "no arguments".into();
    }
    let list: Vec<String> = params.iter().map(|(n, t)| format!("{n}: {t}")).collect();
    format!("({})", list.join(", "))
}
