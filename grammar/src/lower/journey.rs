//! Journeys: settings, statements and blocks.

use super::{is_token, kids, Lower, P};
use crate::ast::{
    ActionCall, AfterArm, Assignment, AwaitArm, Block, Expr, ExprKind, HttpKind, ItemKind, JourneyDecl, JourneySetting,
    JourneySettingKind, LetValue, Reentry, Schedule, Span, SplitBranch, StartRule, Stmt, StmtKind,
};
use crate::parser::Rule;

impl Lower<'_> {
    /// A `journey_decl` pair.
    pub(crate) fn journey(&mut self, d: P) -> ItemKind {
        let mut name = None;
        let mut settings = Vec::new();
        let mut stmts: Vec<Stmt> = Vec::new();
        let mut close_at = self.span(&d).end;
        // The previous child when it was a good setting (true) or statement (false).
        let mut prev: Option<(usize, bool)> = None;
        for c in d.into_inner() {
            let start = self.start(&c);
            let rule = c.as_rule();
            match rule {
                Rule::decl_name => name = Some(self.ident(&c)),
                Rule::setting => {
                    if let Some(s) = self.setting(c) {
                        settings.push(s);
                    }
                }
                Rule::stmt => stmts.push(self.stmt(c)),
                Rule::bad_stmt => {
                    let mut span = self.span(&c);
                    if self.report_after(prev.map(|p| p.0), Rule::re_journey_next, Rule::re_journey, &c) {
                        match prev {
                            Some((p, true)) if settings.last().is_some_and(|s| s.span.start == p) => {
                                settings.pop();
                            }
                            Some((p, false)) if stmts.last().is_some_and(|s| s.span.start == p) => {
                                stmts.pop();
                            }
                            _ => {}
                        }
                        span.start = prev.map_or(span.start, |p| p.0);
                    }
                    stmts.push(Stmt { kind: StmtKind::Error, span, keyword: Span::new(span.start, span.start) });
                }
                Rule::rbrace => close_at = self.start(&c),
                Rule::missing_close => {
                    close_at = self.start(&c);
                    self.unclosed(Rule::re_journey, &c);
                }
                _ => {}
            }
            prev = match rule {
                Rule::setting => Some((start, true)),
                Rule::stmt => Some((start, false)),
                _ => None,
            };
        }
        let span = match (stmts.first(), stmts.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => Span::new(close_at, close_at),
        };
        match name {
            Some(name) => ItemKind::Journey(JourneyDecl { name, settings, body: Block { stmts, span } }),
            None => ItemKind::Error,
        }
    }

    fn setting(&mut self, p: P) -> Option<JourneySetting> {
        let span = self.span(&p);
        let s = p.into_inner().next()?;
        let rule = s.as_rule();
        let mut k = kids(s.clone());
        let kind = match rule {
            Rule::start_setting => {
                let target = k.next()?;
                JourneySettingKind::Start(if target.as_rule() == Rule::start_audience {
                    self.start_audience(target)?
                } else {
                    let event = self.ident(&target);
                    match k.next().and_then(|f| kids(f).next()) {
                        Some(a) => StartRule::EventForAudience { event, audience: self.ident(&a) },
                        None => StartRule::Event(event),
                    }
                })
            }
            Rule::reentry_setting => {
                let v = s.into_inner().find(|c| c.as_rule() != Rule::kw_reentry)?;
                JourneySettingKind::Reentry(self.reentry(v)?)
            }
            Rule::timezone_setting => {
                let v = k.next()?;
                // A written zone name is plain text, as before zones could be computed: a
                // string of its own is read as one (and interpolation in it is refused).
                if v.clone().into_inner().count() == 1
                    && v.clone().into_inner().next().is_some_and(|p| p.as_rule() == Rule::string)
                {
                    let lit = v.into_inner().next()?;
                    return Some(JourneySetting { kind: JourneySettingKind::Timezone(self.str_lit(lit)), span });
                }
                let e = self.expr(v);
                // `timezone Europe` or `timezone Europe/Paris`: a zone name without its quotes
                // (a bare name cannot be a zone computed from the profile).
                if let Some(text) = unquoted_zone(&e).filter(|t| t != "profile") {
                    let at = e.span;
                    self.errors.push(crate::SyntaxError {
                        span: at,
                        message: format!("expected a string in quotes, found `{text}`"),
                        expected: vec!["a string".into()],
                        kind: crate::SyntaxErrorKind::Unquoted,
                        label: Some("needs quotes".into()),
                        help: Some(format!("write `\"{text}\"`")),
                        fix: Some((at, format!("\"{text}\""))),
                        ..Default::default()
                    });
                    return None;
                }
                // A plain string is a fixed zone (checked by name); anything else is computed.
                match &e.kind {
                    ExprKind::Str(parts) if parts.iter().all(|p| matches!(p, crate::ast::StrPart::Text(_))) => {
                        let value = parts
                            .iter()
                            .map(|p| match p {
                                crate::ast::StrPart::Text(t) => t.as_str(),
                                crate::ast::StrPart::Interp(_) => "",
                            })
                            .collect();
                        JourneySettingKind::Timezone(crate::ast::StrLit { value, span: e.span })
                    }
                    _ => JourneySettingKind::TimezoneExpr(e),
                }
            }
            Rule::timeout_setting => JourneySettingKind::Timeout(self.duration_lit(&k.next()?)),
            Rule::active_setting => {
                let from = self.expr(k.next()?);
                let to = self.expr(k.next()?);
                JourneySettingKind::Active { from, to }
            }
            Rule::exit_setting => JourneySettingKind::ExitOn(self.ident(&k.next()?)),
            Rule::goal_setting => {
                let name = self.str_lit(k.next()?);
                let event = self.ident(&k.next()?);
                let (mut binding, mut condition, mut window, mut value) = (None, None, None, None);
                for part in k {
                    match part.as_rule() {
                        Rule::arm_as => binding = kids(part).next().map(|n| self.ident(&n)),
                        Rule::arm_where => condition = kids(part).next().map(|e| self.expr(e)),
                        Rule::duration => window = Some(self.duration_lit(&part)),
                        Rule::goal_value => value = kids(part).next().map(|e| self.expr(e)),
                        _ => {}
                    }
                }
                JourneySettingKind::Goal(crate::ast::Goal { name, event, binding, condition, window: window?, value })
            }
            _ => return None,
        };
        Some(JourneySetting { kind, span })
    }

    fn start_audience(&mut self, p: P) -> Option<StartRule> {
        let mut it = p.into_inner().filter(|c| c.as_rule() != Rule::kw_audience);
        let audience = self.ident(&it.next()?);
        let how = it.next()?;
        Some(match how.as_rule() {
            Rule::kw_enters => StartRule::AudienceEnters(audience),
            Rule::kw_exits => StartRule::AudienceExits(audience),
            Rule::schedule_every => {
                let mut k = kids(how);
                let every = self.ident(&k.next()?);
                let at = self.expr(k.next()?);
                StartRule::AudienceRead { audience, schedule: Schedule::Every { every, at } }
            }
            _ => {
                let at = self.expr(kids(how).next()?);
                StartRule::AudienceRead { audience, schedule: Schedule::Once { at } }
            }
        })
    }

    /// A `block` pair (statements between braces).
    pub(crate) fn block(&mut self, p: P) -> Block {
        let span = self.span(&p);
        let mut stmts: Vec<Stmt> = Vec::new();
        for c in kids(p) {
            let prev = stmts.last().filter(|s| s.kind != StmtKind::Error).map(|s| s.span.start);
            match c.as_rule() {
                Rule::stmt => stmts.push(self.stmt(c)),
                Rule::bad_stmt => {
                    let mut span = self.span(&c);
                    if self.report_after(prev, Rule::re_block_next, Rule::re_block, &c) {
                        span.start = stmts.pop().map_or(span.start, |s| s.span.start);
                    }
                    stmts.push(Stmt { kind: StmtKind::Error, span, keyword: Span::new(span.start, span.start) });
                }
                Rule::missing_close => self.unclosed(Rule::re_block, &c),
                _ => {}
            }
        }
        Block { stmts, span }
    }

    fn opt_block(&mut self, p: Option<P>) -> Block {
        match p {
            Some(b) => self.block(b),
            None => Block { stmts: Vec::new(), span: Span::default() },
        }
    }

    /// A `stmt` pair.
    pub(crate) fn stmt(&mut self, p: P) -> Stmt {
        let span = self.span(&p);
        let inner = p.into_inner().next();
        // The statement's rule starts with its keyword token (`kw_await`, ...), or with a rule
        // that does (`call_stmt` with its `call_clause`).
        let keyword = inner
            .as_ref()
            .and_then(|s| {
                let mut first = s.clone().into_inner().next()?;
                while !is_token(first.as_rule()) {
                    first = first.into_inner().next()?;
                }
                Some(self.span(&first))
            })
            .unwrap_or(Span::new(span.start, span.start));
        let kind = inner.and_then(|s| self.stmt_kind(s)).unwrap_or(StmtKind::Error);
        Stmt { kind, span, keyword }
    }

    fn stmt_kind(&mut self, s: P) -> Option<StmtKind> {
        let rule = s.as_rule();
        let s_all = s.clone();
        let mut k = kids(s);
        Some(match rule {
            Rule::let_stmt => {
                let name = self.ident(&k.next()?);
                let v = k.next()?;
                let value = if v.as_rule() == Rule::call_clause {
                    LetValue::Call(self.call_clause(v))
                } else {
                    LetValue::Expr(self.expr(v))
                };
                StmtKind::Let { name, value }
            }
            Rule::wait_stmt => {
                let v = k.next()?;
                if v.as_rule() == Rule::wait_until {
                    StmtKind::WaitUntil(self.expr(kids(v).next()?))
                } else {
                    StmtKind::Wait(self.expr(v))
                }
            }
            Rule::await_stmt => self.await_stmt(k),
            Rule::if_stmt => {
                let cond = self.expr(k.next()?);
                let first = self.block(k.next()?);
                let mut branches = vec![(cond, first)];
                let mut otherwise = None;
                for c in k {
                    let is_else_if = c.as_rule() == Rule::else_if;
                    let mut parts = kids(c);
                    if is_else_if {
                        let cond = self.expr(parts.next()?);
                        let block = self.block(parts.next()?);
                        branches.push((cond, block));
                    } else {
                        otherwise = Some(self.block(parts.next()?));
                    }
                }
                StmtKind::If { branches, otherwise }
            }
            Rule::split_stmt => {
                let mut branches = Vec::new();
                for c in k {
                    match c.as_rule() {
                        Rule::split_branch => branches.extend(self.split_branch(c)),
                        Rule::bad_arm => self.report(Rule::re_split, &c),
                        Rule::missing_close => self.unclosed(Rule::re_split, &c),
                        _ => {}
                    }
                }
                StmtKind::Split(branches)
            }
            Rule::cap_stmt => {
                let limit = self.expr(k.next()?);
                let body = self.block(k.next()?);
                let otherwise = k.next().and_then(|e| kids(e).next()).map(|b| self.block(b));
                StmtKind::Cap { limit, body, otherwise }
            }
            Rule::call_stmt => StmtKind::Call(self.call_clause(k.next()?)),
            Rule::update_stmt => {
                let mut assignments = Vec::new();
                for c in k {
                    match c.as_rule() {
                        Rule::assignment => assignments.extend(self.assignment(c)),
                        Rule::bad_assign => self.report(Rule::re_assign, &c),
                        Rule::missing_close => self.unclosed(Rule::re_assign, &c),
                        _ => {}
                    }
                }
                StmtKind::UpdateProfile(assignments)
            }
            Rule::jump_stmt => StmtKind::Jump(self.ident(&k.next()?)),
            Rule::end_stmt => StmtKind::End(k.next().map(|l| self.str_lit(l))),
            Rule::send_stmt => self.send_stmt(s_all),
            _ => return None,
        })
    }

    fn await_stmt<'i>(&mut self, k: impl Iterator<Item = P<'i>>) -> StmtKind {
        let mut arms = Vec::new();
        let mut after: Option<AfterArm> = None;
        for c in k {
            let span = self.span(&c);
            match c.as_rule() {
                Rule::await_arm => {
                    let mut binding = None;
                    let mut condition = None;
                    let mut event = None;
                    let mut block = None;
                    let mut reaction = None;
                    for part in kids(c) {
                        match part.as_rule() {
                            Rule::reaction => {
                                reaction = Some(if part.into_inner().any(|x| x.as_rule() == Rule::kw_clicked) {
                                    crate::ast::Reaction::Clicked
                                } else {
                                    crate::ast::Reaction::Opened
                                })
                            }
                            Rule::ident => event = Some(self.ident(&part)),
                            Rule::arm_as => binding = kids(part).next().map(|n| self.ident(&n)),
                            Rule::arm_where => condition = kids(part).next().map(|e| self.expr(e)),
                            Rule::block => block = Some(self.block(part)),
                            _ => {}
                        }
                    }
                    if let Some(event) = event {
                        let block = block.unwrap_or(Block { stmts: Vec::new(), span });
                        arms.push(AwaitArm { event, reaction, binding, condition, block, span });
                    }
                }
                Rule::after_arm => {
                    let mut parts = kids(c);
                    let duration = parts.next().map(|e| self.expr(e));
                    let block = self.opt_block(parts.next());
                    let duration = duration.unwrap_or(Expr { kind: ExprKind::Error, span });
                    if after.is_some() {
                        self.error(span, "an `await` takes one `after` arm");
                    } else {
                        after = Some(AfterArm { duration, block, span });
                    }
                }
                Rule::bad_arm => self.report(Rule::re_await, &c),
                Rule::missing_close => self.unclosed(Rule::re_await, &c),
                _ => {}
            }
        }
        StmtKind::Await { arms, after }
    }

    fn send_stmt(&mut self, p: P) -> StmtKind {
        let mut transactional = false;
        let mut channel = None;
        let mut template = None;
        let mut vars = None;
        let mut binding = None;
        let mut on_suppressed = None;
        let mut on_error = None;
        let span = self.span(&p);
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::kw_transactional => transactional = true,
                Rule::ident => channel = Some(self.ident(&c)),
                Rule::expr => template = Some(self.expr(c)),
                Rule::send_with => vars = kids(c).next().map(|e| self.expr(e)),
                Rule::send_as => binding = kids(c).next().map(|n| self.ident(&n)),
                Rule::send_handler => {
                    let hspan = self.span(&c);
                    let mut it = c.into_inner().filter(|x| x.as_rule() != Rule::kw_on);
                    let which = it.next().map(|w| w.as_rule());
                    let block = self.opt_block(it.next());
                    let suppressed = which == Some(Rule::kw_suppressed);
                    let slot = if suppressed { &mut on_suppressed } else { &mut on_error };
                    if slot.is_some() {
                        let word = if suppressed { "suppressed" } else { "error" };
                        self.error(hspan, format!("duplicate `on {word}` handler"));
                    } else {
                        *slot = Some(block);
                    }
                }
                _ => {}
            }
        }
        let channel =
            channel.unwrap_or(crate::ast::Ident { name: String::new(), span: Span::new(span.start, span.start) });
        let template = template.unwrap_or(Expr { kind: ExprKind::Error, span });
        StmtKind::Send(crate::ast::SendStmt {
            transactional,
            channel,
            template,
            vars,
            binding,
            on_suppressed,
            on_error,
        })
    }

    fn split_branch(&mut self, p: P) -> Option<SplitBranch> {
        let span = self.span(&p);
        let mut percent = None;
        let mut label = None;
        let mut block = None;
        for c in kids(p) {
            match c.as_rule() {
                Rule::percent => {
                    let s = self.span(&c);
                    let v = c.as_str().trim_end_matches('%').parse::<f64>().unwrap_or(0.0);
                    percent = Some((v, s));
                }
                Rule::string => label = Some(self.str_lit(c)),
                Rule::block => block = Some(self.block(c)),
                _ => {}
            }
        }
        let (percent, percent_span) = percent?;
        Some(SplitBranch { percent, percent_span, label, block: block?, span })
    }

    fn assignment(&mut self, p: P) -> Option<Assignment> {
        let span = self.span(&p);
        let mut k = kids(p);
        let path = kids(k.next()?).map(|n| self.ident(&n)).collect();
        let value = self.expr(k.next()?);
        Some(Assignment { path, value, span })
    }

    /// A `call_clause` pair: `call A(args) on timeout { } on error { }`.
    pub(crate) fn call_clause(&mut self, p: P) -> ActionCall {
        let start = self.span(&p).start;
        let mut end = start;
        let mut kind = HttpKind::Action;
        let mut name = None;
        let mut args = Vec::new();
        let mut on_timeout = None;
        let mut on_error = None;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::kw_fetch => kind = HttpKind::DataSource,
                Rule::ident => {
                    end = self.span(&c).end;
                    name = Some(self.ident(&c));
                }
                Rule::call_args => {
                    end = self.span(&c).end;
                    args = self.args(c);
                }
                Rule::handler => {
                    let hspan = self.span(&c);
                    let mut it = c.into_inner().filter(|x| x.as_rule() != Rule::kw_on);
                    let which = it.next().map(|w| w.as_rule());
                    let block = self.opt_block(it.next());
                    let slot = if which == Some(Rule::kw_timeout) { &mut on_timeout } else { &mut on_error };
                    if slot.is_some() {
                        let word = if which == Some(Rule::kw_timeout) { "timeout" } else { "error" };
                        self.error(hspan, format!("duplicate `on {word}` handler"));
                    } else {
                        *slot = Some(block);
                    }
                }
                _ => {}
            }
        }
        let name = name.unwrap_or(crate::ast::Ident { name: String::new(), span: Span::new(start, start) });
        ActionCall { kind, name, args, on_timeout, on_error, span: Span::new(start, end) }
    }
}

impl Lower<'_> {
    fn reentry(&mut self, p: P) -> Option<Reentry> {
        Some(match p.as_rule() {
            Rule::kw_never => Reentry::Never,
            Rule::kw_always => Reentry::Always,
            _ => Reentry::After(self.duration_lit(&kids(p).next()?)),
        })
    }
}

/// The text of a zone name written without quotes: a bare name, or names joined by `/`.
fn unquoted_zone(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Name(n) => Some(n.name.clone()),
        ExprKind::Binary { op: crate::ast::BinaryOp::Div, lhs, rhs, .. } => {
            Some(format!("{}/{}", unquoted_zone(lhs)?, unquoted_zone(rhs)?))
        }
        _ => None,
    }
}
