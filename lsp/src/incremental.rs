//! Incremental parsing: after an edit, only the declarations around it are parsed again; the
//! others are kept, their spans moved by the edit's length. The result is the full parse's
//! (a parse that would not re-synchronise on an unchanged declaration falls back to it).

use journey_grammar::ast::*;
use journey_grammar::{Parsed, SyntaxError};

/// Parses `new` reusing `old_parsed`, the parse of `old`.
pub fn reparse(old: &str, old_parsed: &Parsed, new: &str) -> Parsed {
    try_reparse(old, old_parsed, new).unwrap_or_else(|| journey_grammar::parse(new))
}

/// Whether an item parsed cleanly, with no error up to the next item (so its extent does not
/// depend on what follows it).
fn clean(p: &Parsed, i: usize, text_len: usize) -> bool {
    let items = &p.file.items;
    let it = &items[i];
    let next = items.get(i + 1).map(|n| n.span.start).unwrap_or(text_len);
    !matches!(it.kind, ItemKind::Error)
        && !p.errors.iter().map(extent).any(|e| e.end >= it.span.start && e.start <= next)
}

/// Everything an error points at: its span and its labels (an unclosed `{` reaches to where
/// the parser noticed).
fn extent(e: &SyntaxError) -> Span {
    e.labels.iter().fold(e.span, |a, (s, _)| a.to(*s))
}

fn try_reparse(old: &str, old_parsed: &Parsed, new: &str) -> Option<Parsed> {
    if old.starts_with('\u{FEFF}') || new.starts_with('\u{FEFF}') {
        return None;
    }
    let (ob, nb) = (old.as_bytes(), new.as_bytes());
    let prefix = ob.iter().zip(nb).take_while(|(a, b)| a == b).count();
    let max_suffix = ob.len().min(nb.len()) - prefix;
    let suffix = ob.iter().rev().zip(nb.iter().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
    let (edit_start, old_edit_end) = (prefix, ob.len() - suffix);
    let delta = nb.len() as isize - ob.len() as isize;
    let items = &old_parsed.file.items;
    // Keep the items before the one next to the edit (and before one more, in case it would
    // absorb the edit), ending cleanly with nothing after them on their last line.
    let touched = items.partition_point(|i| i.span.end < edit_start);
    let mut keep_before = touched.saturating_sub(1);
    while keep_before > 0 {
        let end = items[keep_before - 1].span.end;
        let rest_of_line = old[end..].split('\n').next().unwrap_or("");
        if clean(old_parsed, keep_before - 1, old.len()) && rest_of_line.trim().is_empty() {
            break;
        }
        keep_before -= 1;
    }
    let start = if keep_before == 0 { 0 } else { items[keep_before - 1].span.end };
    // Parse again up to a clean item well after the edit (the sentinel), which must come out
    // the same; without one, to the end.
    let after = items.partition_point(|i| i.span.start <= old_edit_end);
    let sentinel = (after + 1..items.len()).find(|&i| clean(old_parsed, i, old.len()));
    let old_end = sentinel.map(|i| items[i].span.end).unwrap_or(old.len());
    let new_end = (old_end as isize + delta) as usize;
    if start > edit_start || new_end < start || !new.is_char_boundary(start) || !new.is_char_boundary(new_end) {
        return None;
    }
    // A comment across either end of the slice (an unterminated `/*`) is the whole file's.
    let crosses = |at: usize| old_parsed.file.comments.iter().any(|c| c.span.start < at && at < c.span.end);
    if crosses(start) || (sentinel.is_some() && crosses(old_end)) {
        return None;
    }
    let mut mid = journey_grammar::parse(&new[start..new_end]);
    // An unterminated block comment would run on past the slice in the whole file.
    if mid.file.comments.iter().any(|c| c.text.starts_with("/*") && (c.text.len() < 4 || !c.text.ends_with("*/"))) {
        return None;
    }
    mid.shift(start as isize);
    if let Some(s) = sentinel {
        let mut want = items[s].clone();
        want.shift(delta);
        if mid.file.items.last() != Some(&want) || mid.errors.iter().any(|e| extent(e).end >= want.span.start) {
            return None;
        }
    }
    let mut out = Parsed::default();
    out.file.items.extend(items[..keep_before].iter().cloned());
    out.file.items.append(&mut mid.file.items);
    let shifted = |i: &Item| {
        let mut i = i.clone();
        i.shift(delta);
        i
    };
    if let Some(s) = sentinel {
        out.file.items.extend(items[s + 1..].iter().map(shifted));
    }
    let comments = &old_parsed.file.comments;
    out.file.comments.extend(comments.iter().filter(|c| c.span.end <= start).cloned());
    out.file.comments.append(&mut mid.file.comments);
    out.file.comments.extend(comments.iter().filter(|c| sentinel.is_some() && c.span.start >= old_end).map(|c| {
        let mut c = c.clone();
        c.span.shift(delta);
        c
    }));
    let errors = &old_parsed.errors;
    out.errors.extend(errors.iter().filter(|e| extent(e).end <= start && e.span.start < start).cloned());
    out.errors.append(&mut mid.errors);
    out.errors.extend(errors.iter().filter(|e| sentinel.is_some() && e.span.start >= old_end).map(|e| {
        let mut e = e.clone();
        e.shift(delta);
        e
    }));
    out.errors.sort_by_key(|e| (e.span.start, e.span.end));
    out.errors.dedup_by(|b, a| a.span.start == b.span.start);
    Some(out)
}

/// Moving every span of a syntax tree by a number of bytes.
pub trait Shift {
    /// Adds `d` to every byte offset.
    fn shift(&mut self, d: isize);
}

fn mv(x: &mut usize, d: isize) {
    *x = (*x as isize + d).max(0) as usize;
}

impl Shift for Span {
    fn shift(&mut self, d: isize) {
        mv(&mut self.start, d);
        mv(&mut self.end, d);
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, d: isize) {
        self.iter_mut().for_each(|x| x.shift(d));
    }
}

impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, d: isize) {
        if let Some(x) = self {
            x.shift(d);
        }
    }
}

impl<T: Shift> Shift for Box<T> {
    fn shift(&mut self, d: isize) {
        (**self).shift(d);
    }
}

impl Shift for Parsed {
    fn shift(&mut self, d: isize) {
        let Parsed { file, errors } = self;
        file.shift(d);
        errors.shift(d);
    }
}

impl Shift for SyntaxError {
    fn shift(&mut self, d: isize) {
        let SyntaxError { span, labels, fix, message: _, expected: _, kind: _, label: _, help: _ } = self;
        for (s, _) in labels {
            s.shift(d);
        }
        if let Some((s, _)) = fix {
            s.shift(d);
        }
        span.shift(d);
    }
}

impl Shift for SourceFile {
    fn shift(&mut self, d: isize) {
        let SourceFile { items, comments } = self;
        items.shift(d);
        comments.shift(d);
    }
}

impl Shift for Comment {
    fn shift(&mut self, d: isize) {
        let Comment { text: _, span } = self;
        span.shift(d);
    }
}

impl Shift for Ident {
    fn shift(&mut self, d: isize) {
        let Ident { name: _, span } = self;
        span.shift(d);
    }
}

impl Shift for StrLit {
    fn shift(&mut self, d: isize) {
        let StrLit { value: _, span } = self;
        span.shift(d);
    }
}

impl Shift for DurationLit {
    fn shift(&mut self, d: isize) {
        let DurationLit { millis: _, span } = self;
        span.shift(d);
    }
}

impl Shift for IntLit {
    fn shift(&mut self, d: isize) {
        let IntLit { value: _, span } = self;
        span.shift(d);
    }
}

impl Shift for Item {
    fn shift(&mut self, d: isize) {
        let Item { doc: _, kind, span } = self;
        span.shift(d);
        match kind {
            ItemKind::Schema { name, source } => {
                name.shift(d);
                source.shift(d);
            }
            ItemKind::Type { name, ty } => {
                name.shift(d);
                ty.shift(d);
            }
            ItemKind::Profile { keyword, source } => {
                keyword.shift(d);
                source.shift(d);
            }
            ItemKind::Event(e) => e.shift(d),
            ItemKind::Audience { name } => name.shift(d),
            ItemKind::DataSource(h) | ItemKind::Action(h) => h.shift(d),
            ItemKind::Journey(j) => j.shift(d),
            ItemKind::Test(t) => t.shift(d),
            ItemKind::Channel(c) => {
                let journey_grammar::ast::ChannelDecl { name, clauses } = c;
                name.shift(d);
                for cl in clauses {
                    cl.span.shift(d);
                    match &mut cl.kind {
                        ChannelClauseKind::To(e) | ChannelClauseKind::Consent(e) => e.shift(d),
                        ChannelClauseKind::Deliver(a) => a.shift(d),
                        ChannelClauseKind::Quiet { window, queue: _ } => window.shift(d),
                        ChannelClauseKind::Reaction { reaction: _, event, by } => {
                            event.shift(d);
                            by.shift(d);
                        }
                    }
                }
            }
            ItemKind::Frequency(f) => {
                let journey_grammar::ast::FrequencyDecl { channel, limit, per } = f;
                channel.shift(d);
                limit.shift(d);
                per.shift(d);
            }
            ItemKind::Error => {}
        }
    }
}

impl Shift for SchemaSource {
    fn shift(&mut self, d: isize) {
        match self {
            SchemaSource::Xdm { id, with } => {
                id.shift(d);
                with.shift(d);
            }
            SchemaSource::Json { path } => path.shift(d),
            SchemaSource::Type(t) => t.shift(d),
        }
    }
}

impl Shift for TypeExpr {
    fn shift(&mut self, d: isize) {
        let TypeExpr { kind, span } = self;
        span.shift(d);
        match kind {
            TypeExprKind::Named(id) => id.shift(d),
            TypeExprKind::List(t) | TypeExprKind::Map(t) | TypeExprKind::Optional(t) => t.shift(d),
            TypeExprKind::Record(fields) => fields.shift(d),
        }
    }
}

impl Shift for FieldTypeDecl {
    fn shift(&mut self, d: isize) {
        let FieldTypeDecl { name, ty } = self;
        name.shift(d);
        ty.shift(d);
    }
}

impl Shift for EventDecl {
    fn shift(&mut self, d: isize) {
        let EventDecl { name, schema, key, when } = self;
        name.shift(d);
        schema.shift(d);
        key.shift(d);
        when.shift(d);
    }
}

impl Shift for HttpDecl {
    fn shift(&mut self, d: isize) {
        let HttpDecl { kind: _, name, params, method, url, options } = self;
        name.shift(d);
        params.shift(d);
        method.shift(d);
        url.shift(d);
        options.shift(d);
    }
}

impl Shift for Param {
    fn shift(&mut self, d: isize) {
        let Param { name, ty } = self;
        name.shift(d);
        ty.shift(d);
    }
}

impl Shift for HttpOption {
    fn shift(&mut self, d: isize) {
        let HttpOption { kind, span } = self;
        span.shift(d);
        match kind {
            HttpOptionKind::Headers(e) | HttpOptionKind::Query(e) => e.shift(d),
            HttpOptionKind::Body(e) => e.shift(d),
            HttpOptionKind::Auth(a) => a.shift(d),
            HttpOptionKind::Timeout(x) | HttpOptionKind::Cache(x) => x.shift(d),
            HttpOptionKind::Retry { count, backoff } => {
                count.shift(d);
                backoff.shift(d);
            }
            HttpOptionKind::Throttle { count, per } => {
                count.shift(d);
                per.shift(d);
            }
            HttpOptionKind::Concurrency(n) => n.shift(d),
            HttpOptionKind::Returns(t) => t.shift(d),
        }
    }
}

impl Shift for Auth {
    fn shift(&mut self, d: isize) {
        match self {
            Auth::None => {}
            Auth::Basic { user, pass } => {
                user.shift(d);
                pass.shift(d);
            }
            Auth::Bearer(e) => e.shift(d),
            Auth::Header { name, value } => {
                name.shift(d);
                value.shift(d);
            }
        }
    }
}

impl Shift for JourneyDecl {
    fn shift(&mut self, d: isize) {
        let JourneyDecl { name, settings, body } = self;
        name.shift(d);
        settings.shift(d);
        body.shift(d);
    }
}

impl Shift for JourneySetting {
    fn shift(&mut self, d: isize) {
        let JourneySetting { kind, span } = self;
        span.shift(d);
        match kind {
            JourneySettingKind::Start(r) => r.shift(d),
            JourneySettingKind::Reentry(r) => {
                if let Reentry::After(x) = r {
                    x.shift(d);
                }
            }
            JourneySettingKind::Timezone(s) => s.shift(d),
            JourneySettingKind::TimezoneExpr(e) => e.shift(d),
            JourneySettingKind::Timeout(x) => x.shift(d),
            JourneySettingKind::Active { from, to } => {
                from.shift(d);
                to.shift(d);
            }
            JourneySettingKind::ExitOn(e) => e.shift(d),
            JourneySettingKind::Goal(g) => {
                g.name.shift(d);
                g.event.shift(d);
                g.binding.shift(d);
                g.condition.shift(d);
                g.window.shift(d);
                g.value.shift(d);
            }
        }
    }
}

impl Shift for StartRule {
    fn shift(&mut self, d: isize) {
        match self {
            StartRule::Event(e) | StartRule::AudienceEnters(e) | StartRule::AudienceExits(e) => e.shift(d),
            StartRule::EventForAudience { event, audience } => {
                event.shift(d);
                audience.shift(d);
            }
            StartRule::AudienceRead { audience, schedule } => {
                audience.shift(d);
                match schedule {
                    Schedule::Every { every, at } => {
                        every.shift(d);
                        at.shift(d);
                    }
                    Schedule::Once { at } => at.shift(d),
                }
            }
        }
    }
}

impl Shift for Block {
    fn shift(&mut self, d: isize) {
        let Block { stmts, span } = self;
        span.shift(d);
        stmts.shift(d);
    }
}

impl Shift for Stmt {
    fn shift(&mut self, d: isize) {
        let Stmt { kind, span, keyword } = self;
        span.shift(d);
        keyword.shift(d);
        match kind {
            StmtKind::Let { name, value } => {
                name.shift(d);
                match value {
                    LetValue::Expr(e) => e.shift(d),
                    LetValue::Call(c) => c.shift(d),
                }
            }
            StmtKind::Wait(e) | StmtKind::WaitUntil(e) => e.shift(d),
            StmtKind::Await { arms, after } => {
                arms.shift(d);
                after.shift(d);
            }
            StmtKind::If { branches, otherwise } => {
                for (c, b) in branches {
                    c.shift(d);
                    b.shift(d);
                }
                otherwise.shift(d);
            }
            StmtKind::Split(branches) => branches.shift(d),
            StmtKind::Cap { limit, body, otherwise } => {
                limit.shift(d);
                body.shift(d);
                otherwise.shift(d);
            }
            StmtKind::Call(c) => c.shift(d),
            StmtKind::UpdateProfile(a) => a.shift(d),
            StmtKind::Jump(j) => j.shift(d),
            StmtKind::End(l) => l.shift(d),
            StmtKind::Send(s) => {
                let journey_grammar::ast::SendStmt {
                    transactional: _,
                    channel,
                    template,
                    vars,
                    binding,
                    on_suppressed,
                    on_error,
                } = s;
                channel.shift(d);
                template.shift(d);
                vars.shift(d);
                binding.shift(d);
                on_suppressed.shift(d);
                on_error.shift(d);
            }
            StmtKind::Error => {}
        }
    }
}

impl Shift for ActionCall {
    fn shift(&mut self, d: isize) {
        let ActionCall { kind: _, name, args, on_timeout, on_error, span } = self;
        name.shift(d);
        args.shift(d);
        on_timeout.shift(d);
        on_error.shift(d);
        span.shift(d);
    }
}

impl Shift for Arg {
    fn shift(&mut self, d: isize) {
        let Arg { name, value } = self;
        name.shift(d);
        value.shift(d);
    }
}

impl Shift for AwaitArm {
    fn shift(&mut self, d: isize) {
        let AwaitArm { event, reaction: _, binding, condition, block, span } = self;
        event.shift(d);
        binding.shift(d);
        condition.shift(d);
        block.shift(d);
        span.shift(d);
    }
}

impl Shift for AfterArm {
    fn shift(&mut self, d: isize) {
        let AfterArm { duration, block, span } = self;
        duration.shift(d);
        block.shift(d);
        span.shift(d);
    }
}

impl Shift for SplitBranch {
    fn shift(&mut self, d: isize) {
        let SplitBranch { percent: _, percent_span, label, block, span } = self;
        percent_span.shift(d);
        label.shift(d);
        block.shift(d);
        span.shift(d);
    }
}

impl Shift for Assignment {
    fn shift(&mut self, d: isize) {
        let Assignment { path, value, span } = self;
        path.shift(d);
        value.shift(d);
        span.shift(d);
    }
}

impl Shift for TestDecl {
    fn shift(&mut self, d: isize) {
        let TestDecl { name, stmts } = self;
        name.shift(d);
        stmts.shift(d);
    }
}

impl Shift for TestStmt {
    fn shift(&mut self, d: isize) {
        let TestStmt { kind, span } = self;
        span.shift(d);
        match kind {
            TestStmtKind::Start(e) => e.shift(d),
            TestStmtKind::Profile { key, attributes } => {
                key.shift(d);
                attributes.shift(d);
            }
            TestStmtKind::AudienceHas { audience, key } => {
                audience.shift(d);
                key.shift(d);
            }
            TestStmtKind::Mock { target, result } => {
                target.shift(d);
                if let MockResult::Value(e) = result {
                    e.shift(d);
                }
            }
            TestStmtKind::Send { after, event, payload } => {
                after.shift(d);
                event.shift(d);
                payload.shift(d);
            }
            TestStmtKind::After(x) => x.shift(d),
            TestStmtKind::ExpectEnded { journey, label } => {
                journey.shift(d);
                label.shift(d);
            }
            TestStmtKind::ExpectRunning { journey } => journey.shift(d),
            TestStmtKind::ExpectConverted { journey, goal, .. } => {
                journey.shift(d);
                goal.shift(d);
            }
            TestStmtKind::ExpectArm { journey, arm } => {
                journey.shift(d);
                arm.shift(d);
            }
            TestStmtKind::ExpectCall { action, args, times } => {
                action.shift(d);
                args.shift(d);
                times.shift(d);
            }
            TestStmtKind::ExpectNoCall { action } => action.shift(d),
            TestStmtKind::ExpectSent { channel, template, to, times, binding } => {
                channel.shift(d);
                template.shift(d);
                to.shift(d);
                times.shift(d);
                binding.shift(d);
            }
            TestStmtKind::ExpectNoSent { channel, template } => {
                channel.shift(d);
                template.shift(d);
            }
            TestStmtKind::ExpectSuppressed { channel, template, reason } => {
                channel.shift(d);
                template.shift(d);
                reason.shift(d);
            }
            TestStmtKind::Error => {}
        }
    }
}

impl Shift for RecordEntry {
    fn shift(&mut self, d: isize) {
        let RecordEntry { key, value } = self;
        key.shift(d);
        value.shift(d);
    }
}

impl Shift for Expr {
    fn shift(&mut self, d: isize) {
        let Expr { kind, span } = self;
        span.shift(d);
        match kind {
            ExprKind::Int(_)
            | ExprKind::Number(_)
            | ExprKind::Bool(_)
            | ExprKind::Null
            | ExprKind::Duration(_)
            | ExprKind::Date(_)
            | ExprKind::DateTime(_)
            | ExprKind::Time(_)
            | ExprKind::Error => {}
            ExprKind::Str(parts) => {
                for p in parts {
                    if let StrPart::Interp(e) = p {
                        e.shift(d);
                    }
                }
            }
            ExprKind::List(items) => items.shift(d),
            ExprKind::Record(entries) => entries.shift(d),
            ExprKind::Name(id) => id.shift(d),
            ExprKind::Field { base, name } => {
                base.shift(d);
                name.shift(d);
            }
            ExprKind::Index { base, index } => {
                base.shift(d);
                index.shift(d);
            }
            ExprKind::Call { func, args } => {
                func.shift(d);
                args.shift(d);
            }
            ExprKind::Lambda { param, body } => {
                param.shift(d);
                body.shift(d);
            }
            ExprKind::Unary { op: _, expr } => expr.shift(d),
            ExprKind::Binary { op: _, op_span, lhs, rhs } => {
                op_span.shift(d);
                lhs.shift(d);
                rhs.shift(d);
            }
            ExprKind::Range { lo, hi } => {
                lo.shift(d);
                hi.shift(d);
            }
            ExprKind::Is { expr, test: _ } => expr.shift(d),
            ExprKind::IfThenElse { cond, then, otherwise } => {
                cond.shift(d);
                then.shift(d);
                otherwise.shift(d);
            }
        }
    }
}
