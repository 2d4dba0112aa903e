//! Journeys: settings, statements, reachability, waits against the timeout, jump cycles.

use super::scope::{Context, Scope};
use super::{Checker, DeclKind};
use crate::diag::Diagnostic;
use crate::index::Entry;
use crate::ir;
use crate::types::Ty;
use journey_grammar::ast::{self, ItemKind, JourneySettingKind as S, Span, StmtKind as A};
use std::collections::HashMap;

/// The journey timeout when neither the journey nor journey.toml sets one.
pub const DEFAULT_TIMEOUT_MS: i64 = 91 * 24 * 3_600_000;
const WEEKDAYS: [&str; 8] = ["day", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

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
        for setting in &j.settings {
            let word = match &setting.kind {
                S::Start(_) => "start on",
                S::Reentry(_) => "reentry",
                S::Timezone(_) => "timezone",
                S::Timeout(_) => "timeout",
                S::Active { .. } => "active",
                S::ExitOn(_) => "exit on",
            };
            if word != "exit on" {
                if let Some(first) = seen.get(word) {
                    let d = Diagnostic::error(
                        "E0019",
                        format!("`{word}` is given twice in journey `{}`", j.name.name),
                        self.file,
                        setting.span,
                        "given again",
                    )
                    .with_label(self.file, *first, "first given here")
                    .with_help("a journey has one of each setting; keep one");
                    self.report(d);
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
                S::Timeout(d) => {
                    timeout_ms = d.millis;
                    timeout_span = Some(setting.span);
                    if d.millis <= 0 {
                        self.error("E0017", d.span, "a journey timeout must be longer than 0", "not a valid timeout");
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
                            self.error_help(
                                "E0017",
                                setting.span,
                                "the active window ends before it starts",
                                "empty window",
                                Some("swap the dates".into()),
                            );
                        }
                        active = Some((a.clone(), b.clone()));
                    }
                }
                S::ExitOn(ev) => {
                    if self.use_decl(ev, &[DeclKind::Event]) {
                        exit_on.push(ev.name.clone());
                    }
                }
            }
        }
        let start = start.unwrap_or_else(|| {
            if !seen.contains_key("start on") {
                self.error_help(
                    "E0019",
                    j.name.span,
                    format!("journey `{}` has no `start on`", j.name.name),
                    "never starts",
                    Some("add a line such as `start on SomeEvent` or `start on audience VIP enters`".into()),
                );
            }
            ir::Start::Event(String::new())
        });
        let mut scope = Scope::new(Context::Journey { event });
        let mut walk = Walk { timeout_ms, timeout_span, next_id: 0 };
        let (body, _) = self.block(&j.body.stmts, &mut scope, &mut walk);
        ir::Journey {
            name: j.name.name.clone(),
            start,
            reentry,
            timezone,
            timeout_ms,
            active,
            exit_on,
            locals: scope.max_slots,
            body,
            span: j.name.span,
            file: self.file,
        }
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
                        let diag = Diagnostic::error(
                            "E0014",
                            format!("`{}` cannot start a journey: it declares no `key`", ev.name),
                            self.file,
                            ev.span,
                            "no profile key",
                        )
                        .with_label(at.file, at.name_span, "declared here without `key`")
                        .with_help("add `key <string expression over the payload>` to the event, e.g. `key identityMap.Email[0].id`");
                        self.report(diag);
                    }
                }
                (Some(ir::Start::Event(ev.name.clone())), Ok(payload))
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
                        let word = every.name.to_ascii_lowercase();
                        if !WEEKDAYS.contains(&word.as_str()) {
                            let help = crate::suggest::did_you_mean(&word, WEEKDAYS);
                            self.error_help(
                                "E0017",
                                every.span,
                                format!("`every {}` is not a schedule", every.name),
                                "expected `day` or a weekday",
                                help.or_else(|| Some("write `every day at 09:00` or `every monday at 09:00`".into())),
                            );
                        }
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
        let names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
        let help = crate::suggest::did_you_mean(&tz.value, names.iter().map(String::as_str))
            .or_else(|| Some("use an IANA time zone name such as `Europe/Paris` or `America/New_York`".into()));
        self.error_help("E0017", tz.span, format!("unknown time zone \"{}\"", tz.value), "not an IANA time zone", help);
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
                self.error_help(
                    "E0012",
                    stmt.span.to(last),
                    "unreachable code: every path before this ends",
                    "never runs",
                    Some("delete these statements, or move the `end` after them".into()),
                );
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
                    self.error_help(
                        "E0005",
                        d.span,
                        format!("`wait` takes a duration, but this is `{}`", d.ty),
                        format!("this is `{}`", d.ty),
                        Some("write `wait 2h`, or `wait until 09:00` for a time of day".into()),
                    );
                }
                self.check_against_timeout(&d, "this wait", walk);
                ir::StmtKind::Wait(d)
            }
            A::WaitUntil(e) => {
                let t = self.expr(e, scope);
                if !matches!(t.ty.non_null(), Ty::Time | Ty::DateTime | Ty::LocalDateTime | Ty::Date | Ty::Any) {
                    self.error_help(
                        "E0005",
                        t.span,
                        format!("`wait until` takes a time of day or a date-time, but this is `{}`", t.ty),
                        format!("this is `{}`", t.ty),
                        Some(
                            "write `wait until 09:00` or `wait until event.timestamp + 3d`; `wait 2h` waits a duration"
                                .into(),
                        ),
                    );
                }
                ir::StmtKind::WaitUntil(t)
            }
            A::Await { arms, after } => {
                let mut out_arms = Vec::new();
                let mut all_end = true;
                for arm in arms {
                    let payload = if self.use_decl(&arm.event, &[DeclKind::Event]) {
                        self.events.get(&arm.event.name).map(|e| e.payload.clone()).unwrap_or(Ty::Any)
                    } else {
                        Ty::Any
                    };
                    scope.push();
                    if let Some(b) = &arm.binding {
                        self.note_def(&b.name, &payload, b.span);
                    }
                    let slot = arm.binding.as_ref().map(|b| scope.declare(&b.name, payload.clone(), b.span));
                    let condition = arm.condition.as_ref().and_then(|c| {
                        if arm.binding.is_none() {
                            // Without `as` the condition cannot name the payload: say that
                            // once instead of reporting each of its names as unknown.
                            self.error_help(
                                "E0020",
                                c.span,
                                "`where` needs the awaited event to be named with `as`",
                                "no `as` before this `where`",
                                Some(format!("write `on {} as e where e.... -> {{ }}`", arm.event.name)),
                            );
                            return None;
                        }
                        Some(self.condition(c, scope))
                    });
                    let (body, e) = self.sub_block(&arm.block, scope, walk);
                    scope.pop();
                    all_end &= e;
                    out_arms.push(ir::AwaitArm { event: arm.event.name.clone(), slot, condition, body });
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
                if after.is_none() {
                    let kw = Span::new(span.start, (span.start + 5).min(span.end));
                    let d = Diagnostic::warning("W0001", "this `await` has no timeout path", self.file, kw, "waits with no `after`")
                        .with_note("if none of the events arrives, the instance waits until the journey's timeout and ends `timed-out`")
                        .with_help("add an arm such as `after 3d -> { end \"no-response\" }`");
                    self.report(d);
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
                if (total - 100.0).abs() > 1e-9 && !branches.is_empty() {
                    let kw = Span::new(span.start, (span.start + 5).min(span.end));
                    let mut d = Diagnostic::error(
                        "E0010",
                        format!("the split's percentages sum to {}%, not 100%", fmt_percent(total)),
                        self.file,
                        kw,
                        format!("sums to {}%", fmt_percent(total)),
                    );
                    for b in branches {
                        d = d.with_label(self.file, b.percent_span, format!("{}%", fmt_percent(b.percent)));
                    }
                    let help = if total < 100.0 {
                        format!(
                            "add a branch of {}% (a control group), or raise the others",
                            fmt_percent(100.0 - total)
                        )
                    } else {
                        format!("lower the percentages by {}% in all", fmt_percent(total - 100.0))
                    };
                    self.report(d.with_help(help));
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
                ir::StmtKind::End(label.as_ref().map(|l| l.value.clone()))
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
                        let help = crate::suggest::did_you_mean(&seg.name, r.fields.keys().map(String::as_str));
                        self.error_help(
                            "E0004",
                            seg.span,
                            format!("the profile has no field `{}` here", seg.name),
                            "unknown profile field",
                            help,
                        );
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

    fn check_against_timeout(&mut self, d: &ir::Expr, what: &str, walk: &Walk) {
        let Some(ms) = const_duration(d) else { return };
        if ms <= walk.timeout_ms {
            return;
        }
        let mut diag = Diagnostic::error(
            "E0011",
            format!("{what} ({}) is longer than the journey timeout ({})", fmt_ms(ms), fmt_ms(walk.timeout_ms)),
            self.file,
            d.span,
            "longer than the journey timeout",
        );
        diag = match walk.timeout_span {
            Some(s) => diag.with_label(self.file, s, "the journey times out here"),
            None => diag.with_note(
                "the journey has no `timeout`, so the project default applies (91d unless journey.toml says otherwise)",
            ),
        };
        self.report(diag.with_help(format!("shorten it, or raise the journey's `timeout` to at least {}", fmt_ms(ms))));
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
                for a in &c.args {
                    let v = self.expr(&a.value, scope);
                    let idx = match &a.name {
                        Some(n) => match h.params.iter().position(|(p, _)| *p == n.name) {
                            Some(i) => i,
                            None => {
                                let help =
                                    crate::suggest::did_you_mean(&n.name, h.params.iter().map(|(p, _)| p.as_str()))
                                        .or_else(|| Some(format!("`{}` takes {}", h.name, param_list(&h.params))));
                                self.error_help(
                                    "E0008",
                                    n.span,
                                    format!("`{}` has no parameter `{}`", h.name, n.name),
                                    "unknown argument",
                                    help,
                                );
                                continue;
                            }
                        },
                        None => {
                            positional += 1;
                            positional - 1
                        }
                    };
                    if idx >= h.params.len() {
                        self.error_help(
                            "E0007",
                            v.span,
                            format!(
                                "`{}` takes {} argument{}, but more are given",
                                h.name,
                                h.params.len(),
                                if h.params.len() == 1 { "" } else { "s" }
                            ),
                            "extra argument",
                            Some(format!("`{}` takes {}", h.name, param_list(&h.params))),
                        );
                        continue;
                    }
                    if args[idx].is_some() {
                        self.error_help(
                            "E0008",
                            a.name.as_ref().map(|n| n.span).unwrap_or(v.span),
                            format!("the argument `{}` is given twice", h.params[idx].0),
                            "given again",
                            Some("remove one of them".into()),
                        );
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
                if !missing.is_empty() {
                    let list = missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ");
                    self.error_help(
                        "E0008",
                        c.span,
                        format!(
                            "missing argument{} {list} for `{}`",
                            if missing.len() == 1 { "" } else { "s" },
                            h.name
                        ),
                        "missing arguments",
                        Some(format!("`{}` takes {}", h.name, param_list(&h.params))),
                    );
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
                let mut d = Diagnostic::error(
                    "E0013",
                    format!("journeys jump in a cycle: {} -> {}", names.join(" -> "), names[0]),
                    decl.file,
                    last_span,
                    format!("`{from}` jumps back to `{last_name}`"),
                );
                for (n, s) in cycle.iter().skip(1) {
                    if let Some(dd) = self.decls.get(*n).copied() {
                        d = d.with_label(dd.file, *s, format!("jump to `{n}`"));
                    }
                }
                self.report(d.with_help("remove one of the jumps so a profile cannot be handed around forever"));
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

fn const_text(e: &ir::Expr) -> Option<String> {
    match &e.kind {
        ir::ExprKind::Const(ir::Const::Date(s) | ir::Const::DateTime(s) | ir::Const::Time(s)) => Some(s.clone()),
        _ => None,
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

fn fmt_percent(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{}", p as i64)
    } else {
        format!("{p}")
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
