//! Declarations: schemas, types, the profile, events, audiences, actions, data sources, tests.

use super::doc::*;
use super::{LineDoc, F};
use crate::ast::{
    Auth, EventDecl, HttpDecl, HttpKind, HttpOption, HttpOptionKind, Item, ItemKind, MockResult, SchemaSource, Span,
    TestDecl, TestStmt, TestStmtKind,
};

impl F<'_> {
    /// A declaration.
    pub(super) fn item(&mut self, item: &Item) -> Doc {
        match &item.kind {
            ItemKind::Schema { name, source } => {
                let name = self.tok(name.span);
                cat(vec![text("schema "), name, text(" = "), self.schema_source(source)])
            }
            ItemKind::Type { name, ty } => {
                let name = self.tok(name.span);
                cat(vec![text("type "), name, text(" = "), self.ty(ty)])
            }
            ItemKind::Profile { source, .. } => cat(vec![text("profile = "), self.schema_source(source)]),
            ItemKind::Event(e) => self.event(e, item.span),
            ItemKind::Audience { name } => cat(vec![text("audience "), self.tok(name.span)]),
            ItemKind::DataSource(h) | ItemKind::Action(h) => self.http(h, item.span),
            ItemKind::Journey(j) => self.journey(j, item.span),
            ItemKind::Test(t) => self.test(t, item.span),
            ItemKind::Channel(c) => self.channel(c, item.span),
            ItemKind::Frequency(fr) => {
                let c = self.tok(fr.channel.span);
                let n = self.tok(fr.limit.span);
                cat(vec![text("frequency "), c, text(" "), n, text(" per "), self.tok(fr.per.span)])
            }
            ItemKind::Error => self.tok(item.span),
        }
    }

    fn schema_source(&mut self, source: &SchemaSource) -> Doc {
        match source {
            SchemaSource::Xdm { id, with } => {
                let id_doc = self.tok(id.span);
                let mut out = vec![text("xdm "), id_doc, self.trailing(id.span.end)];
                let mut prev = id.span.end;
                let mut ids = Vec::new();
                for (i, w) in with.iter().enumerate() {
                    if i > 0 {
                        ids.push(text(","));
                        ids.push(self.trailing(prev));
                        ids.push(Hard);
                    }
                    ids.push(self.leading(w.span.start, prev, true));
                    ids.push(self.tok(w.span));
                    prev = w.span.end;
                }
                if !with.is_empty() {
                    out.push(nest(4, cat(vec![Hard, text("with "), nest(5, cat(ids))])));
                }
                cat(out)
            }
            SchemaSource::Json { path } => cat(vec![text("json "), self.tok(path.span)]),
            SchemaSource::Type(t) => self.ty(t),
        }
    }

    fn event(&mut self, e: &EventDecl, span: Span) -> Doc {
        let name = self.tok(e.name.span);
        let schema = self.tok(e.schema.span);
        let mut out = vec![text("event "), name, text(": "), schema];
        let mut clauses: Vec<(Span, LineDoc<Self>)> = Vec::new();
        for (word, expr) in [("key ", &e.key), ("when ", &e.when)] {
            if let Some(x) = expr {
                // The clause starts at its keyword, just before the expression.
                clauses.push((x.span, Box::new(move |f: &mut Self| cat(vec![text(word), f.expr(x)]))));
            }
        }
        clauses.sort_by_key(|(s, _)| s.start);
        if !clauses.is_empty() || self.has_comments(Span::new(e.schema.span.end, span.end)) {
            let open = self.brace_after(e.schema.span.end);
            out.push(text(" "));
            out.push(self.lines(open, span.end, clauses));
        }
        cat(out)
    }

    fn channel(&mut self, c: &crate::ast::ChannelDecl, span: Span) -> Doc {
        use crate::ast::ChannelClauseKind as C;
        let name = self.tok(c.name.span);
        let open = self.brace_after(c.name.span.end);
        let lines = c
            .clauses
            .iter()
            .map(|cl| {
                let print = move |f: &mut Self| match &cl.kind {
                    C::To(e) => cat(vec![text("to "), f.expr(e)]),
                    C::Consent(e) => cat(vec![text("consent "), f.expr(e)]),
                    C::Deliver(a) => cat(vec![text("deliver "), f.tok(a.span)]),
                    C::Quiet { window, queue } => {
                        let w = f.expr(window);
                        let word = if *queue { "queue" } else { "drop" };
                        // The clause ends with its mode word: printed as its token, so that a
                        // comment before it stays before it.
                        let at = Span::new(cl.span.end.saturating_sub(word.len()), cl.span.end);
                        let mode = if f.src.get(at.start..at.end) == Some(word) { f.tok(at) } else { text(word) };
                        cat(vec![text("quiet "), w, text(" "), mode])
                    }
                    C::Reaction { reaction, event, by } => {
                        let mut out = vec![text(reaction.word()), text(" on "), f.tok(event.span), text(" by ")];
                        for (i, p) in by.iter().enumerate() {
                            if i > 0 {
                                out.push(text("."));
                            }
                            out.push(f.tok(p.span));
                        }
                        cat(out)
                    }
                };
                (cl.span, Box::new(print) as LineDoc<Self>)
            })
            .collect();
        cat(vec![text("channel "), name, text(" "), self.lines(open, span.end, lines)])
    }

    fn http(&mut self, h: &HttpDecl, span: Span) -> Doc {
        let kw = if h.kind == HttpKind::Action { "action " } else { "datasource " };
        let name = self.tok(h.name.span);
        let params_end = match h.params.last() {
            Some(p) => {
                let mut at = self.skip_trivia(p.ty.span.end);
                if self.src.as_bytes().get(at) == Some(&b',') {
                    at = self.skip_trivia(at + 1);
                }
                at + 1
            }
            None => h.name.span.end,
        };
        let params = self.params(&h.params, Span::new(h.name.span.end, params_end));
        let method = self.tok(h.method.span);
        let url = self.tok(h.url.span);
        let mut out = vec![text(kw), name, params, text(" = http "), method, text(" "), url];
        if !h.options.is_empty() || self.has_comments(Span::new(h.url.span.end, span.end)) {
            let open = self.brace_after(h.url.span.end);
            let lines = h
                .options
                .iter()
                .map(|o| (o.span, Box::new(move |f: &mut Self| f.option(o)) as LineDoc<Self>))
                .collect();
            out.push(text(" "));
            out.push(self.lines(open, span.end, lines));
        }
        cat(out)
    }

    fn option(&mut self, o: &HttpOption) -> Doc {
        use HttpOptionKind as O;
        match &o.kind {
            O::Headers(entries) => cat(vec![text("headers "), self.record(entries, o.span)]),
            O::Query(entries) => cat(vec![text("query "), self.record(entries, o.span)]),
            O::Body(e) => cat(vec![text("body "), self.expr(e)]),
            O::Auth(Auth::None) => cat(vec![text("auth "), self.kw(o.span.start, o.span.end, "none")]),
            O::Auth(Auth::Basic { user, pass }) => {
                let user = self.expr(user);
                cat(vec![text("auth basic "), user, text(" "), self.expr(pass)])
            }
            O::Auth(Auth::Bearer(e)) => cat(vec![text("auth bearer "), self.expr(e)]),
            O::Auth(Auth::Header { name, value }) => {
                let name = self.tok(name.span);
                cat(vec![text("auth header "), name, text(" "), self.expr(value)])
            }
            O::Timeout(d) => cat(vec![text("timeout "), self.tok(d.span)]),
            O::Retry { count, backoff } => {
                let mut out = vec![text("retry "), self.tok(count.span)];
                self.push_opt(&mut out, " backoff ", backoff.as_ref().map(|b| b.span));
                cat(out)
            }
            O::Throttle { count, per } => {
                let count = self.tok(count.span);
                cat(vec![text("throttle "), count, text(" per "), self.tok(per.span)])
            }
            O::Concurrency(n) => cat(vec![text("concurrency "), self.tok(n.span)]),
            O::Cache(d) => cat(vec![text("cache "), self.tok(d.span)]),
            O::Returns(t) => cat(vec![text("returns "), self.ty(t)]),
        }
    }

    fn test(&mut self, t: &TestDecl, span: Span) -> Doc {
        let name = self.tok(t.name.span);
        let open = self.brace_after(t.name.span.end);
        let lines =
            t.stmts.iter().map(|s| (s.span, Box::new(move |f: &mut Self| f.test_stmt(s)) as LineDoc<Self>)).collect();
        cat(vec![text("test "), name, text(" "), self.lines(open, span.end, lines)])
    }

    /// Pushes ` N times` onto `out` when an `expect` statement (ending at `end`) counts, the
    /// count at `times`.
    fn push_times(&mut self, out: &mut Vec<Doc>, times: Option<Span>, end: usize) {
        if let Some(n) = times {
            out.push(text(" "));
            out.push(self.tok(n));
            out.push(text(" "));
            out.push(self.kw(n.end, end, "time"));
            out.push(text("s"));
        }
    }

    fn test_stmt(&mut self, s: &TestStmt) -> Doc {
        use TestStmtKind as T;
        match &s.kind {
            T::Start(e) => cat(vec![text("start "), self.expr(e)]),
            T::Profile { key, attributes } => {
                let mut out = vec![text("profile ")];
                if let Some(k) = key {
                    out.push(self.tok(k.span));
                    out.push(text(" "));
                }
                out.push(self.expr(attributes));
                cat(out)
            }
            T::AudienceHas { audience, key } => {
                let a = self.tok(audience.span);
                cat(vec![text("audience "), a, text(" has "), self.tok(key.span)])
            }
            T::Mock { target, result } => {
                let target = self.tok(target.span);
                let end = s.span.end;
                let result = match result {
                    MockResult::Value(e) => self.expr(e),
                    MockResult::Fail => self.kw(end - 4, end, "fail"),
                    MockResult::Timeout => self.kw(end - 7, end, "timeout"),
                };
                cat(vec![text("mock "), target, text(" -> "), result])
            }
            T::Send { after, event, payload } => {
                let mut out = Vec::new();
                if let Some(d) = after {
                    out.push(text("after "));
                    out.push(self.tok(d.span));
                    out.push(text(" "));
                }
                out.push(text("send "));
                out.push(self.tok(event.span));
                out.push(text(" "));
                out.push(self.expr(payload));
                cat(out)
            }
            T::After(d) => cat(vec![text("after "), self.tok(d.span)]),
            T::ExpectEnded { journey, label } => {
                let mut out = vec![text("expect "), self.tok(journey.span), text(" ")];
                out.push(self.kw(journey.span.end, s.span.end, "ended"));
                self.push_opt(&mut out, " ", label.as_ref().map(|l| l.span));
                cat(out)
            }
            T::ExpectRunning { journey } => {
                let j = self.tok(journey.span);
                cat(vec![text("expect "), j, text(" "), self.kw(journey.span.end, s.span.end, "running")])
            }
            T::ExpectConverted { no, journey, goal } => {
                let lead = if *no { "expect no " } else { "expect " };
                let j = self.tok(journey.span);
                cat(vec![text(lead), j, text(" converted "), self.tok(goal.span)])
            }
            T::ExpectArm { journey, arm } => {
                let j = self.tok(journey.span);
                cat(vec![text("expect "), j, text(" arm "), self.tok(arm.span)])
            }
            T::ExpectCall { action, args, times } => {
                let mut out = vec![text("expect call "), self.tok(action.span)];
                if let Some(a) = args {
                    out.push(text(" "));
                    out.push(self.expr(a));
                }
                self.push_times(&mut out, times.as_ref().map(|n| n.span), s.span.end);
                cat(out)
            }
            T::ExpectNoCall { action } => cat(vec![text("expect no call "), self.tok(action.span)]),
            T::ExpectSent { channel, template, to, times, binding } => {
                let mut out = vec![text("expect sent "), self.tok(channel.span)];
                self.push_opt(&mut out, " ", template.as_ref().map(|t| t.span));
                self.push_opt(&mut out, " to ", to.as_ref().map(|t| t.span));
                self.push_times(&mut out, times.as_ref().map(|n| n.span), s.span.end);
                if let Some(b) = binding {
                    let from = times.map_or(to.as_ref().map_or(channel.span.end, |t| t.span.end), |n| n.span.end);
                    out.push(text(" "));
                    out.push(self.kw(from, b.span.start, "as"));
                    out.push(text(" "));
                    out.push(self.tok(b.span));
                }
                cat(out)
            }
            T::ExpectNoSent { channel, template } => {
                let mut out = vec![text("expect no sent "), self.tok(channel.span)];
                self.push_opt(&mut out, " ", template.as_ref().map(|t| t.span));
                cat(out)
            }
            T::ExpectSuppressed { channel, template, reason } => {
                let mut out = vec![text("expect suppressed "), self.tok(channel.span)];
                self.push_opt(&mut out, " ", template.as_ref().map(|t| t.span));
                out.push(text(" because "));
                out.push(self.tok(reason.span));
                cat(out)
            }
            T::Error => self.tok(s.span),
        }
    }
}
