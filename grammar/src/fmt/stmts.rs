//! Journeys: settings, statements and blocks.

use super::doc::*;
use super::expr::ASSIGNMENTS;
use super::{LineDoc, F};
use crate::ast::{
    ActionCall, AfterArm, AwaitArm, Block, HttpKind, JourneyDecl, JourneySetting, JourneySettingKind, LetValue,
    Reentry, Schedule, Span, StartRule, Stmt, StmtKind,
};

/// A statement with no block inside it (a block holding only it may stay on one line).
fn simple(s: &Stmt) -> bool {
    // `await { }` and `split { }` have braces of their own even with no arm inside.
    !matches!(s.kind, StmtKind::Await { .. } | StmtKind::Split(_)) && s.blocks().is_empty()
}

impl F<'_> {
    pub(super) fn journey(&mut self, j: &JourneyDecl, span: Span) -> Doc {
        let name = self.tok(j.name.span);
        let open = self.brace_after(j.name.span.end);
        let mut lines: Vec<(Span, LineDoc<Self>)> = Vec::new();
        for s in &j.settings {
            lines.push((s.span, Box::new(move |f: &mut Self| f.setting(s))));
        }
        for s in &j.body.stmts {
            lines.push((s.span, Box::new(move |f: &mut Self| f.stmt(s))));
        }
        lines.sort_by_key(|(s, _)| s.start);
        cat(vec![text("journey "), name, text(" "), self.lines(open, span.end, lines)])
    }

    fn setting(&mut self, s: &JourneySetting) -> Doc {
        use JourneySettingKind as S;
        match &s.kind {
            S::Start(rule) => {
                let rule = match rule {
                    StartRule::Event(e) => self.tok(e.span),
                    StartRule::EventForAudience { event, audience } => {
                        let e = self.tok(event.span);
                        cat(vec![e, text(" for audience "), self.tok(audience.span)])
                    }
                    StartRule::AudienceEnters(a) | StartRule::AudienceExits(a) => {
                        let word = if matches!(rule, StartRule::AudienceEnters(_)) { "enters" } else { "exits" };
                        let a_doc = self.tok(a.span);
                        cat(vec![text("audience "), a_doc, text(" "), self.kw(a.span.end, s.span.end, word)])
                    }
                    StartRule::AudienceRead { audience, schedule } => {
                        let a = self.tok(audience.span);
                        let when = match schedule {
                            Schedule::Every { every, at } => {
                                let every = self.tok(every.span);
                                cat(vec![text(" every "), every, text(" at "), self.expr(at)])
                            }
                            Schedule::Once { at } => cat(vec![text(" once at "), self.expr(at)]),
                        };
                        cat(vec![text("audience "), a, when])
                    }
                };
                cat(vec![text("start on "), rule])
            }
            S::Reentry(Reentry::Never) => cat(vec![text("reentry "), self.kw(s.span.start, s.span.end, "never")]),
            S::Reentry(Reentry::Always) => cat(vec![text("reentry "), self.kw(s.span.start, s.span.end, "always")]),
            S::Reentry(Reentry::After(d)) => cat(vec![text("reentry after "), self.tok(d.span)]),
            S::Timezone(z) => cat(vec![text("timezone "), self.tok(z.span)]),
            S::TimezoneExpr(e) => cat(vec![text("timezone "), self.expr(e)]),
            S::Timeout(d) => cat(vec![text("timeout "), self.tok(d.span)]),
            S::Active { from, to } => {
                let from = self.expr(from);
                cat(vec![text("active from "), from, text(" to "), self.expr(to)])
            }
            S::ExitOn(e) => cat(vec![text("exit on "), self.tok(e.span)]),
            S::Goal(g) => {
                // One line when it fits; else each clause on a line of its own, indented.
                let mut out = vec![text("goal "), self.tok(g.name.span), text(" on "), self.tok(g.event.span)];
                if let Some(b) = &g.binding {
                    out.push(text(" as "));
                    out.push(self.tok(b.span));
                }
                let mut clauses = Vec::new();
                if let Some(c) = &g.condition {
                    clauses.extend([Line, text("where "), self.expr(c)]);
                }
                clauses.extend([Line, text("within "), self.tok(g.window.span)]);
                if let Some(v) = &g.value {
                    clauses.extend([Line, text("value "), self.expr(v)]);
                }
                out.push(nest(2, cat(clauses)));
                group(cat(out))
            }
        }
    }

    /// A block: `{ }`, `{ stmt }` when written so and it fits, or one statement per line.
    fn block(&mut self, b: &Block) -> Doc {
        let lead = self.inline(b.span.start);
        cat(vec![lead, self.block_body(b)])
    }

    fn block_body(&mut self, b: &Block) -> Doc {
        let one_line = !self.src[b.span.start..b.span.end].contains('\n');
        if one_line && b.stmts.len() == 1 && simple(&b.stmts[0]) && !self.has_comments(b.span) {
            let s = self.stmt(&b.stmts[0]);
            return group(cat(vec![text("{"), nest(2, cat(vec![Line, s])), Line, text("}")]));
        }
        let lines =
            b.stmts.iter().map(|s| (s.span, Box::new(move |f: &mut Self| f.stmt(s)) as LineDoc<Self>)).collect();
        self.lines(b.span.start, b.span.end, lines)
    }

    /// ` else ` after the block that ends at `end`, or its trailing comment and `else` on the
    /// next line.
    fn else_after(&mut self, end: usize) -> Doc {
        let trail = self.trailing(end);
        if matches!(&trail, Concat(v) if v.is_empty()) {
            text(" else ")
        } else {
            cat(vec![trail, Hard, text("else ")])
        }
    }

    /// A statement.
    pub(super) fn stmt(&mut self, s: &Stmt) -> Doc {
        match &s.kind {
            StmtKind::Let { name, value } => {
                let name = self.tok(name.span);
                let value = match value {
                    LetValue::Expr(e) => self.expr(e),
                    LetValue::Call(c) => self.call(c),
                };
                cat(vec![text("let "), name, text(" = "), value])
            }
            StmtKind::Wait(e) => cat(vec![text("wait "), self.expr(e)]),
            StmtKind::WaitUntil(e) => cat(vec![text("wait until "), self.expr(e)]),
            StmtKind::Await { arms, after } => self.await_stmt(arms, after.as_ref(), s.span),
            StmtKind::If { branches, otherwise } => {
                let mut out = Vec::new();
                let mut prev = None;
                for (cond, block) in branches {
                    if let Some(end) = prev {
                        out.push(self.else_after(end));
                    }
                    out.push(text("if "));
                    out.push(self.expr(cond));
                    out.push(text(" "));
                    out.push(self.block(block));
                    prev = Some(block.span.end);
                }
                if let (Some(o), Some(end)) = (otherwise, prev) {
                    out.push(self.else_after(end));
                    out.push(self.block(o));
                }
                cat(out)
            }
            StmtKind::Split(branches) => {
                let open = self.brace_after(s.span.start);
                let lines = branches
                    .iter()
                    .map(|b| {
                        let print = move |f: &mut Self| {
                            let mut out = vec![f.tok(b.percent_span)];
                            if let Some(l) = &b.label {
                                out.push(text(" "));
                                out.push(f.tok(l.span));
                            }
                            out.push(text(" -> "));
                            out.push(f.block(&b.block));
                            cat(out)
                        };
                        (b.span, Box::new(print) as LineDoc<Self>)
                    })
                    .collect();
                cat(vec![text("split "), self.lines(open, s.span.end, lines)])
            }
            StmtKind::Cap { limit, body, otherwise } => {
                let limit = self.expr(limit);
                let mut out = vec![text("cap "), limit, text(" "), self.block(body)];
                if let Some(o) = otherwise {
                    out.push(self.else_after(body.span.end));
                    out.push(self.block(o));
                }
                cat(out)
            }
            StmtKind::Call(c) => self.call(c),
            StmtKind::UpdateProfile(assignments) => {
                let print = |f: &mut Self, a: &crate::ast::Assignment| {
                    let mut out = Vec::new();
                    for (i, p) in a.path.iter().enumerate() {
                        if i > 0 {
                            out.push(text("."));
                        }
                        out.push(f.tok(p.span));
                    }
                    out.push(text(" = "));
                    out.push(f.expr(&a.value));
                    cat(out)
                };
                let list = self.bracketed(ASSIGNMENTS, assignments, |a| a.span, print, s.span);
                cat(vec![text("update profile "), list])
            }
            StmtKind::Jump(j) => cat(vec![text("jump "), self.tok(j.span)]),
            StmtKind::End(None) => text("end"),
            StmtKind::End(Some(l)) => cat(vec![text("end "), self.tok(l.span)]),
            StmtKind::Send(send) => self.send(send),
            StmtKind::Error => self.tok(s.span),
        }
    }

    /// `send [transactional] CHANNEL TEMPLATE [with RECORD] [as NAME]`, handlers on their own lines.
    fn send(&mut self, s: &crate::ast::SendStmt) -> Doc {
        let mut out = vec![text(if s.transactional { "send transactional " } else { "send " })];
        out.push(self.tok(s.channel.span));
        out.push(text(" "));
        out.push(self.expr(&s.template));
        let mut prev = s.template.span.end;
        if let Some(v) = &s.vars {
            out.push(text(" with "));
            out.push(self.expr(v));
            prev = v.span.end;
        }
        if let Some(b) = &s.binding {
            out.push(text(" as "));
            out.push(self.tok(b.span));
            prev = b.span.end;
        }
        self.handlers(&mut out, prev, [("on suppressed ", &s.on_suppressed), ("on error ", &s.on_error)]);
        cat(out)
    }

    /// `call A(args)` or `fetch D(args)`, with its handlers on their own lines.
    fn call(&mut self, c: &ActionCall) -> Doc {
        let kw = if c.kind == HttpKind::Action { "call " } else { "fetch " };
        let name = self.tok(c.name.span);
        let args = self.args(&c.args, Span::new(c.name.span.end, c.span.end));
        let mut out = vec![text(kw), name, args];
        self.handlers(&mut out, c.span.end, [("on timeout ", &c.on_timeout), ("on error ", &c.on_error)]);
        cat(out)
    }

    /// Appends a statement's handlers (`on error { ... }`, ...) that it has, in source order, each
    /// on its own line; what comes before them ends at `prev`.
    fn handlers(&mut self, out: &mut Vec<Doc>, mut prev: usize, handlers: [(&str, &Option<Block>); 2]) {
        let mut handlers: Vec<(&str, &Block)> =
            handlers.into_iter().filter_map(|(word, b)| b.as_ref().map(|b| (word, b))).collect();
        handlers.sort_by_key(|(_, b)| b.span.start);
        for (word, b) in handlers {
            let trail = self.trailing(prev);
            let lead = self.leading(b.span.start, prev, true);
            let block = self.block(b);
            out.push(trail);
            out.push(nest(2, cat(vec![Hard, lead, text(word), block])));
            prev = b.span.end;
        }
    }

    fn await_stmt(&mut self, arms: &[AwaitArm], after: Option<&AfterArm>, span: Span) -> Doc {
        let open = self.brace_after(span.start);
        let mut lines: Vec<(Span, LineDoc<Self>)> = Vec::new();
        for a in arms {
            let print = move |f: &mut Self| {
                let mut out = vec![text("on ")];
                if let Some(r) = a.reaction {
                    out.push(text(r.word()));
                    out.push(text(" "));
                }
                out.push(f.tok(a.event.span));
                if let Some(b) = &a.binding {
                    out.push(text(" as "));
                    out.push(f.tok(b.span));
                }
                if let Some(c) = &a.condition {
                    out.push(text(" where "));
                    out.push(f.expr(c));
                }
                out.push(text(" -> "));
                out.push(f.block(&a.block));
                cat(out)
            };
            lines.push((a.span, Box::new(print)));
        }
        if let Some(a) = after {
            let print = move |f: &mut Self| {
                let d = f.expr(&a.duration);
                cat(vec![text("after "), d, text(" -> "), f.block(&a.block)])
            };
            lines.push((a.span, Box::new(print)));
        }
        lines.sort_by_key(|(s, _)| s.start);
        cat(vec![text("await "), self.lines(open, span.end, lines)])
    }
}
