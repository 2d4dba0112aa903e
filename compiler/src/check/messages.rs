//! Messages: channels, frequency rules, `send`, and `on opened NAME` / `on clicked NAME` arms.

use super::scope::{Context, Scope};
use super::{CheckError, Checker, DeclKind, FieldOwner, MessageProblem, Said};
use crate::ir;
use crate::types::{FieldTy, Ty};
use journey_grammar::ast::{self, ChannelClauseKind as C, ItemKind, Reaction, Span};
use std::collections::HashMap;
use std::sync::Arc;

/// Why `event` is not available in a channel's expressions.
const NO_EVENT_IN_CHANNEL: &str = "a channel reads `profile` only: it serves every journey, so it has no entry event";

/// Builds a reaction arm's matching condition, given the slot that holds the payload.
pub(crate) type MatchCondition = Box<dyn Fn(usize) -> ir::Expr>;

/// The record `send ... as NAME` binds (null when the message was not sent).
pub(crate) fn sent_ty() -> Ty {
    Ty::record([
        ("id".to_string(), FieldTy::plain(Ty::String, true)),
        ("sentAt".to_string(), FieldTy::plain(Ty::DateTime, true)),
    ])
}

/// Milliseconds after midnight of a time-of-day literal (`21:00`, `08:30:15`).
fn time_ms(text: &str) -> Option<i64> {
    let mut parts = text.split(':').map(|p| p.parse::<i64>().ok());
    let h = parts.next()??;
    let m = parts.next()??;
    let s = parts.next().flatten().unwrap_or(0);
    Some(((h * 60 + m) * 60 + s) * 1000)
}

impl Checker<'_> {
    fn message_error(&mut self, problem: MessageProblem, said: Said) {
        self.report(CheckError::Message { problem, said });
    }

    /// Checks every channel.
    pub(crate) fn check_channels(&mut self) -> Vec<ir::Channel> {
        let mut out = Vec::new();
        for (file, sf) in self.files.iter() {
            self.file = *file;
            for item in &sf.items {
                let ItemKind::Channel(c) = &item.kind else { continue };
                let checked = self.channel(c);
                if self.decls.get(&c.name.name).map(|d| d.file == *file && d.name_span == c.name.span) == Some(true) {
                    if let Some(ch) = checked {
                        self.channels.insert(ch.name.clone(), Arc::new(ch.clone()));
                        out.push(ch);
                    }
                }
            }
        }
        out
    }

    fn channel(&mut self, c: &ast::ChannelDecl) -> Option<ir::Channel> {
        let mut scope = Scope::new(Context::Journey { event: Err(NO_EVENT_IN_CHANNEL) });
        let mut to = None;
        let mut consent = None;
        let mut deliver = None;
        let mut quiet = None;
        let mut opened = None;
        let mut clicked = None;
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        for clause in &c.clauses {
            let word = match &clause.kind {
                C::To(_) => "to",
                C::Consent(_) => "consent",
                C::Deliver(_) => "deliver",
                C::Quiet { .. } => "quiet",
                C::Reaction { reaction, .. } => reaction.word(),
            };
            if let Some(first) = seen.get(word) {
                let said = Said::new(clause.span, format!("`{word}` is given twice"), "given again")
                    .also(*first, "first given here")
                    .help("keep one of them");
                self.report(CheckError::InvalidOption(said));
                continue;
            }
            seen.insert(word, clause.span);
            match &clause.kind {
                C::To(e) => {
                    let v = self.expr(e, &mut scope);
                    if !matches!(v.ty.non_null(), Ty::String | Ty::Any | Ty::Null) {
                        let said = Said::new(
                            v.span,
                            format!("a channel's `to` is a `string?` address, but this is `{}`", v.ty),
                            format!("this is `{}`", v.ty),
                        )
                        .help(
                            "write the profile field that holds the address, e.g. `to profile.personalEmail.address`",
                        );
                        self.report(CheckError::TypeMismatch(said));
                    }
                    to = Some(v);
                }
                C::Consent(e) => {
                    let v = self.expr(e, &mut scope);
                    if !matches!(v.ty.non_null(), Ty::Bool | Ty::Any | Ty::Null) {
                        let said = Said::new(
                            v.span,
                            format!("a channel's `consent` is a `bool?` condition, but this is `{}`", v.ty),
                            format!("this is `{}`", v.ty),
                        )
                        .help(
                            "compare the consent field, e.g. `consent profile.consents.marketing.email.val == \"y\"`",
                        );
                        self.report(CheckError::TypeMismatch(said));
                    }
                    consent = Some(v);
                }
                C::Deliver(a) => {
                    if self.use_decl(a, &[DeclKind::Action]) {
                        if let Some(h) = self.http.get(&a.name).cloned() {
                            let missing: Vec<&str> = ["to", "template"]
                                .into_iter()
                                .filter(|p| !h.params.iter().any(|(n, _)| n == p))
                                .collect();
                            if !missing.is_empty() {
                                let list = missing.iter().map(|m| format!("`{m}: string`")).collect::<Vec<_>>();
                                let said = Said::new(
                                    a.span,
                                    format!(
                                        "the action `{}` cannot deliver messages: it has no {} parameter",
                                        a.name,
                                        list.join(" or ")
                                    ),
                                    format!("`{}` lacks {}", a.name, list.join(" and ")),
                                )
                                .help("a deliver action takes `to: string` and `template: string`, and may take `vars`, `messageId`, `channel`, `journey` and `category`");
                                self.message_error(MessageProblem::DeliverParams, said);
                            }
                        }
                        deliver = Some(a.name.clone());
                    } else {
                        deliver = Some(String::new());
                    }
                }
                C::Quiet { window, queue } => {
                    let bounds = match &window.kind {
                        ast::ExprKind::Range { lo, hi } => match (&lo.kind, &hi.kind) {
                            (ast::ExprKind::Time(a), ast::ExprKind::Time(b)) => time_ms(a).zip(time_ms(b)),
                            _ => None,
                        },
                        _ => None,
                    };
                    match bounds {
                        None => {
                            let said = Said::new(
                                window.span,
                                "`quiet` takes a window of two times of day, like `21:00..08:00`",
                                "not a window of times",
                            )
                            .help("write `quiet 21:00..08:00 queue` (the window may cross midnight)");
                            self.report(CheckError::TypeMismatch(said));
                        }
                        Some((from, to)) if from == to => {
                            let said = Said::new(window.span, "this quiet window is empty", "starts where it ends")
                                .help("a window `from..to` holds the times `from <= t < to`: give two different times, e.g. `21:00..08:00`");
                            self.message_error(MessageProblem::EmptyQuiet, said);
                        }
                        Some((from, to)) => quiet = Some((from, to, *queue)),
                    }
                }
                C::Reaction { reaction, event, by } => {
                    if !self.use_decl(event, &[DeclKind::Event]) {
                        continue;
                    }
                    let payload = self.events.get(&event.name).map(|e| e.payload.clone()).unwrap_or(Ty::Any);
                    let mut ty = payload;
                    let mut ok = true;
                    for seg in by {
                        let next = match ty.non_null() {
                            Ty::Any => Some(Ty::Any),
                            Ty::Map(t) => Some((**t).clone().optional()),
                            Ty::Record(r) => match r.fields.get(&seg.name) {
                                Some(f) => Some(f.ty.clone()),
                                None => {
                                    let suggestion =
                                        crate::suggest::nearest(&seg.name, r.fields.keys().map(String::as_str))
                                            .map(str::to_string);
                                    let some = r.fields.keys().take(5).cloned().collect();
                                    self.report(CheckError::UnknownField {
                                        owner: FieldOwner::Record { some },
                                        field: seg.name.clone(),
                                        at: seg.span,
                                        suggestion,
                                    });
                                    None
                                }
                            },
                            other => {
                                let other = other.clone();
                                self.mismatch(seg.span, &format!("`{other}` has no fields"), &other);
                                None
                            }
                        };
                        match next {
                            Some(t) => ty = t,
                            None => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    if ok && !matches!(ty.non_null(), Ty::String | Ty::Any) {
                        let at =
                            by.first().map(|f| f.span.to(by.last().map_or(f.span, |l| l.span))).unwrap_or(event.span);
                        let said = Said::new(
                            at,
                            format!("the `by` field holds the message id, a `string`, but this is `{ty}`"),
                            format!("this is `{ty}`"),
                        )
                        .help("name the payload field that carries the message id the deliver action was given");
                        self.report(CheckError::TypeMismatch(said));
                    }
                    let r = Some((event.name.clone(), by.iter().map(|b| b.name.clone()).collect()));
                    match reaction {
                        Reaction::Opened => opened = r,
                        Reaction::Clicked => clicked = r,
                    }
                }
            }
        }
        let missing: Vec<&str> = [("to", to.is_none()), ("deliver", deliver.is_none())]
            .into_iter()
            .filter(|(_, m)| *m)
            .map(|(w, _)| w)
            .collect();
        if !missing.is_empty() {
            let words = missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(" and ");
            let said = Said::new(
                c.name.span,
                format!("the channel `{}` has no {words}", c.name.name),
                format!("needs {words}"),
            )
            .help("a channel says where a message goes and which action sends it: `to profile.personalEmail.address` and `deliver SendEmail`");
            self.message_error(MessageProblem::ChannelIncomplete, said);
        }
        Some(ir::Channel { name: c.name.name.clone(), to: to?, consent, deliver: deliver?, quiet, opened, clicked })
    }

    /// Checks every frequency rule.
    pub(crate) fn check_frequencies(&mut self) -> Vec<ir::Frequency> {
        let mut out = Vec::new();
        for (file, sf) in self.files.iter() {
            self.file = *file;
            for item in &sf.items {
                let ItemKind::Frequency(f) = &item.kind else { continue };
                let channel = if f.channel.name == "any" {
                    None
                } else if self.use_decl(&f.channel, &[DeclKind::Channel]) {
                    Some(f.channel.name.clone())
                } else {
                    continue;
                };
                if f.limit.value < 1 {
                    let said = Said::new(
                        f.limit.span,
                        format!("a frequency rule of {} messages lets none through", f.limit.value),
                        "fewer than 1",
                    )
                    .help("give at least 1 (`frequency email 3 per 7d`); to send no marketing on a channel, leave `consent` false");
                    self.message_error(MessageProblem::FrequencyLimit, said);
                    continue;
                }
                if f.per.millis <= 0 {
                    let said = Said::new(f.per.span, "a frequency rule's window must be longer than 0", "no time")
                        .help("write a window such as `per 7d`");
                    self.message_error(MessageProblem::FrequencyLimit, said);
                    continue;
                }
                out.push(ir::Frequency { channel, limit: f.limit.value, window_ms: f.per.millis });
            }
        }
        out
    }

    /// Checks a `send`'s channel, template and variables.
    pub(crate) fn send_head(&mut self, s: &ast::SendStmt, scope: &mut Scope) -> (ir::Expr, Option<ir::Expr>) {
        let channel = if self.use_decl(&s.channel, &[DeclKind::Channel]) {
            self.channels.get(&s.channel.name).cloned()
        } else {
            None
        };
        let template = self.expr(&s.template, scope);
        self.expect_ty(&template, &Ty::String, "the template", true);
        let vars = s.vars.as_ref().map(|v| {
            let v = self.expr(v, scope);
            let param = channel
                .as_ref()
                .and_then(|c| self.http.get(&c.deliver))
                .and_then(|h| h.params.iter().find(|(n, _)| n == "vars").map(|(_, t)| t.clone()));
            if let Some(t) = param {
                self.expect_ty(&v, &t, "the template variables", false);
            }
            v
        });
        (template, vars)
    }

    /// Declares a `send`'s `as NAME` (after its handlers: it names the message from there on).
    pub(crate) fn send_binding(&mut self, s: &ast::SendStmt, scope: &mut Scope) -> Option<usize> {
        s.binding.as_ref().map(|b| {
            let ty = sent_ty().optional();
            self.note_def(&b.name, &ty, b.span);
            let slot = scope.declare(&b.name, ty, b.span);
            self.send_slots.insert(slot, s.channel.name.clone());
            slot
        })
    }

    /// For `on opened NAME` / `on clicked NAME`: the reaction event, its payload type, and the
    /// condition that matches the message (`payload.by == NAME.id`, and NAME was sent), given
    /// the slot that holds the payload. `None` when NAME or the channel is wrong (reported).
    pub(crate) fn reaction_arm(
        &mut self,
        arm: &ast::AwaitArm,
        reaction: Reaction,
        scope: &Scope,
    ) -> Option<(String, Ty, MatchCondition)> {
        let name = &arm.event;
        let local = scope.lookup(&name.name).filter(|l| self.send_slots.contains_key(&l.slot)).cloned();
        let Some(local) = local else {
            let sends: Vec<&str> =
                scope.locals().filter(|l| self.send_slots.contains_key(&l.slot)).map(|l| l.name.as_str()).collect();
            let suggestion = crate::suggest::nearest(&name.name, sends.iter().copied()).map(str::to_string);
            let help = match (&suggestion, sends.is_empty()) {
                (Some(s), _) => format!("did you mean `{s}`?"),
                (None, true) => format!(
                    "name a send earlier in this block: `send email \"...\" as {}`, then `on {} {}`",
                    name.name,
                    reaction.word(),
                    name.name
                ),
                (None, false) => format!(
                    "the sends in scope are {}",
                    sends.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            let said = Said::new(
                name.span,
                format!("`{}` is not a send in scope, so it has no {} reaction", name.name, reaction.word()),
                "not a `send ... as` name",
            )
            .help(help);
            self.message_error(MessageProblem::NotASend, said);
            return None;
        };
        self.references.push(super::Reference { file: self.file, span: name.span, name: name.name.clone() });
        let channel_name = self.send_slots.get(&local.slot).cloned().unwrap_or_default();
        let channel = self.channels.get(&channel_name).cloned()?;
        let r = match reaction {
            Reaction::Opened => channel.opened.clone(),
            Reaction::Clicked => channel.clicked.clone(),
        };
        let Some((event, by)) = r else {
            let said = Said::new(
                name.span,
                format!("the channel `{channel_name}` has no `{}` reaction", reaction.word()),
                format!("`{}` is sent through `{channel_name}`", name.name),
            )
            .help(format!(
                "add `{} on SomeEvent by messageId` to `channel {channel_name}`, naming the event that reports it",
                reaction.word()
            ));
            self.message_error(MessageProblem::NoReaction, said);
            return None;
        };
        let payload = self.events.get(&event).map(|e| e.payload.clone()).unwrap_or(Ty::Any);
        let span = name.span;
        let send_slot = local.slot;
        let payload_ty = payload.clone();
        let condition = move |payload_slot: usize| {
            let mk = |kind: ir::ExprKind, ty: Ty| ir::Expr { kind, ty, span };
            let mut field = mk(ir::ExprKind::Local(payload_slot), payload_ty.clone());
            for f in &by {
                field = mk(ir::ExprKind::Field(Box::new(field), f.clone()), Ty::Any);
            }
            let sent = mk(ir::ExprKind::Local(send_slot), sent_ty().optional());
            let id = mk(ir::ExprKind::Field(Box::new(sent.clone()), "id".into()), Ty::String.optional());
            let was_sent = mk(ir::ExprKind::Is(Box::new(sent), ast::IsTest::NotNull), Ty::Bool);
            let same = mk(ir::ExprKind::Binary(ast::BinaryOp::Eq, Box::new(field), Box::new(id)), Ty::Bool);
            mk(ir::ExprKind::Binary(ast::BinaryOp::And, Box::new(was_sent), Box::new(same)), Ty::Bool)
        };
        Some((event, payload, Box::new(condition)))
    }
}
