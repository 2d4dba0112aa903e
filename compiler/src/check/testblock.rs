//! `test` blocks: names, payloads against event schemas, mocks against `returns`, expectations.

use super::scope::{Context, Scope};
use super::{ArgumentError, CheckError, Checker, DeclKind, Said, Unknown};
use crate::ir;
use crate::types::Ty;
use journey_grammar::ast::{self, ItemKind, TestStmtKind as T};

impl Checker<'_> {
    /// Checks every test block.
    pub(crate) fn check_tests(&mut self, journeys: &[ir::Journey]) -> Vec<ir::Test> {
        let mut out = Vec::new();
        for (file, sf) in self.files.iter() {
            self.file = *file;
            for item in &sf.items {
                if let ItemKind::Test(t) = &item.kind {
                    // The messages `expect sent ... as m` binds, for the payloads after it.
                    let mut scope = Scope::new(Context::Test);
                    let (mut stmts, mut lines) = (Vec::new(), Vec::new());
                    for (i, s) in t.stmts.iter().enumerate() {
                        if let Some(stmt) = self.test_stmt(i, s, journeys, &mut scope) {
                            stmts.push(stmt);
                            lines.push(self.sources.line_col(*file, s.span.start).line as u32);
                        }
                    }
                    out.push(ir::Test {
                        name: t.name.value.clone(),
                        file: self.sources.get(*file).name.clone(),
                        stmts,
                        lines,
                    });
                }
            }
        }
        out
    }

    fn test_stmt(
        &mut self,
        index: usize,
        s: &ast::TestStmt,
        journeys: &[ir::Journey],
        scope: &mut Scope,
    ) -> Option<ir::TestStmt> {
        let mut literal = |me: &mut Self, e: &ast::Expr| me.expr(e, scope);
        Some(match &s.kind {
            T::Start(e) => {
                let v = literal(self, e);
                if index != 0 {
                    let said = Said::new(s.span, "`start` must be the first statement of a test", "not first")
                        .help("move it to the top of the test");
                    self.report(CheckError::NotAllowed(said));
                }
                let ir::ExprKind::Const(ir::Const::DateTime(at)) = &v.kind else {
                    self.mismatch(v.span, "`start` takes a date-time like `2026-12-01T08:00:00Z`", &v.ty);
                    return None;
                };
                ir::TestStmt::Start(at.clone())
            }
            T::Profile { key, attributes } => {
                let v = literal(self, attributes);
                let profile = self.profile_ty();
                self.expect_ty(&v, &profile, "the profile", false);
                ir::TestStmt::Profile { key: key.as_ref().map(|k| k.value.clone()), attributes: v }
            }
            T::AudienceHas { audience, key } => {
                self.use_decl(audience, &[DeclKind::Audience]);
                ir::TestStmt::AudienceHas { audience: audience.name.clone(), key: key.value.clone() }
            }
            T::Mock { target, result } => {
                if !self.use_decl(target, &[DeclKind::Action, DeclKind::DataSource]) {
                    return None;
                }
                let returns = self.http.get(&target.name).map(|h| h.returns.clone()).unwrap_or(Ty::Any);
                let result = match result {
                    ast::MockResult::Value(e) => {
                        let v = literal(self, e);
                        self.expect_ty(&v, &returns, &format!("the mocked answer of `{}`", target.name), false);
                        ir::MockResult::Value(v)
                    }
                    ast::MockResult::Fail => ir::MockResult::Fail,
                    ast::MockResult::Timeout => ir::MockResult::Timeout,
                };
                ir::TestStmt::Mock { target: target.name.clone(), result }
            }
            T::Send { after, event, payload } => {
                let v = literal(self, payload);
                if !self.use_decl(event, &[DeclKind::Event]) {
                    return None;
                }
                let ty = self.events.get(&event.name).map(|e| e.payload.clone()).unwrap_or(Ty::Any);
                self.expect_ty(&v, &ty, &format!("the `{}` payload", event.name), false);
                ir::TestStmt::Send {
                    after_ms: after.map(|d| d.millis).unwrap_or(0),
                    event: event.name.clone(),
                    payload: v,
                }
            }
            T::After(d) => ir::TestStmt::After(d.millis),
            T::ExpectEnded { journey, label } => {
                if self.use_decl(journey, &[DeclKind::Journey]) {
                    if let (Some(l), Some(j)) = (label, journeys.iter().find(|j| j.name == journey.name)) {
                        self.check_label(j, l);
                    }
                }
                ir::TestStmt::ExpectEnded {
                    journey: journey.name.clone(),
                    label: label.as_ref().map(|l| l.value.clone()),
                }
            }
            T::ExpectRunning { journey } => {
                self.use_decl(journey, &[DeclKind::Journey]);
                ir::TestStmt::ExpectRunning { journey: journey.name.clone() }
            }
            T::ExpectConverted { no, journey, goal } => {
                if self.use_decl(journey, &[DeclKind::Journey]) {
                    if let Some(j) = journeys.iter().find(|j| j.name == journey.name) {
                        let own: Vec<String> = j.goals.iter().map(|g| g.name.clone()).collect();
                        self.check_test_name(&j.name, goal, own, true);
                    }
                }
                ir::TestStmt::ExpectConverted { no: *no, journey: journey.name.clone(), goal: goal.value.clone() }
            }
            T::ExpectArm { journey, arm } => {
                if self.use_decl(journey, &[DeclKind::Journey]) {
                    if let Some(j) = journeys.iter().find(|j| j.name == journey.name) {
                        let mut own = Vec::new();
                        collect_arms(&j.body, &mut own);
                        self.check_test_name(&j.name, arm, own, false);
                    }
                }
                ir::TestStmt::ExpectArm { journey: journey.name.clone(), arm: arm.value.clone() }
            }
            T::ExpectCall { action, args, times } => {
                let known = self.use_decl(action, &[DeclKind::Action, DeclKind::DataSource]);
                let args = args.as_ref().map(|a| {
                    let v = literal(self, a);
                    if let (true, Some(h), ir::ExprKind::Record(fields)) =
                        (known, self.http.get(&action.name).cloned(), &v.kind)
                    {
                        self.check_expected_args(&h, a, fields);
                    }
                    v
                });
                // `times` is a literal without sign: the grammar takes no negative count.
                ir::TestStmt::ExpectCall { action: action.name.clone(), args, times: times.map(|t| t.value) }
            }
            T::ExpectSent { channel, template, to, times, binding } => {
                self.use_decl(channel, &[DeclKind::Channel]);
                let bind = binding.as_ref().map(|b| {
                    let ty = super::messages::sent_ty();
                    self.note_def(&b.name, &ty, b.span);
                    // The bytecode numbers test slots with u16, as it always did.
                    scope.declare(&b.name, ty, b.span) as u16
                });
                ir::TestStmt::ExpectSent {
                    channel: channel.name.clone(),
                    template: template.as_ref().map(|t| t.value.clone()),
                    to: to.as_ref().map(|t| t.value.clone()),
                    times: times.map(|t| t.value),
                    bind,
                }
            }
            T::ExpectNoSent { channel, template } => {
                self.use_decl(channel, &[DeclKind::Channel]);
                ir::TestStmt::ExpectSent {
                    channel: channel.name.clone(),
                    template: template.as_ref().map(|t| t.value.clone()),
                    to: None,
                    times: Some(0),
                    bind: None,
                }
            }
            T::ExpectSuppressed { channel, template, reason } => {
                self.use_decl(channel, &[DeclKind::Channel]);
                const REASONS: [&str; 4] = ["no-address", "no-consent", "frequency", "quiet-hours"];
                if !REASONS.contains(&reason.value.as_str()) {
                    let suggestion = crate::suggest::nearest(&reason.value, REASONS).map(str::to_string);
                    let said = Said::new(
                        reason.span,
                        format!("\"{}\" is not a reason a message is suppressed for", reason.value),
                        "not a suppression reason",
                    )
                    .help(match suggestion {
                        Some(s) => format!("did you mean \"{s}\"? The reasons are \"no-address\", \"no-consent\", \"frequency\" and \"quiet-hours\""),
                        None => "the reasons are \"no-address\", \"no-consent\", \"frequency\" and \"quiet-hours\"".into(),
                    });
                    self.report(CheckError::NotAllowed(said));
                }
                ir::TestStmt::ExpectSuppressed {
                    channel: channel.name.clone(),
                    template: template.as_ref().map(|t| t.value.clone()),
                    reason: reason.value.clone(),
                }
            }
            T::ExpectNoCall { action } => {
                self.use_decl(action, &[DeclKind::Action, DeclKind::DataSource]);
                ir::TestStmt::ExpectNoCall { action: action.name.clone() }
            }
            T::Error => return None,
        })
    }

    fn check_expected_args(&mut self, h: &ir::Http, written: &ast::Expr, fields: &[(String, ir::Expr)]) {
        let ast::ExprKind::Record(entries) = &written.kind else { return };
        for (entry, (name, value)) in entries.iter().zip(fields) {
            match h.params.iter().find(|(p, _)| p == name) {
                Some((_, ty)) => self.expect_ty(value, ty, &format!("the expected `{name}`"), false),
                None => {
                    let suggestion =
                        crate::suggest::nearest(name, h.params.iter().map(|(p, _)| p.as_str())).map(str::to_string);
                    self.report(CheckError::Argument {
                        error: ArgumentError::Unknown { callee: h.name.clone(), name: name.clone(), signature: None },
                        at: entry.key.span,
                        suggestion,
                    });
                }
            }
        }
    }

    /// Checks that `name` is one of journey `journey`'s goals (`goal`) or experiment arms.
    fn check_test_name(&mut self, journey: &str, name: &ast::StrLit, own: Vec<String>, goal: bool) {
        if own.contains(&name.value) {
            return;
        }
        let suggestion = crate::suggest::nearest(&name.value, own.iter().map(String::as_str)).map(str::to_string);
        let what = if goal {
            Unknown::Goal { journey: journey.to_string(), own }
        } else {
            Unknown::Arm { journey: journey.to_string(), own }
        };
        self.report(CheckError::UnknownName { what, name: name.value.clone(), at: name.span, suggestion });
    }

    fn check_label(&mut self, j: &ir::Journey, label: &ast::StrLit) {
        let mut labels: Vec<String> = ir::OUTCOME_LABELS.iter().map(|s| s.to_string()).collect();
        collect_labels(&j.body, &mut labels);
        if labels.contains(&label.value) {
            return;
        }
        let suggestion = crate::suggest::nearest(&label.value, labels.iter().map(String::as_str)).map(str::to_string);
        let own = labels[ir::OUTCOME_LABELS.len()..].to_vec();
        self.report(CheckError::UnknownName {
            what: Unknown::Label { journey: j.name.clone(), own },
            name: label.value.clone(),
            at: label.span,
            suggestion,
        });
    }
}

/// The arm labels of a journey's experiments (splits whose arms all have labels), each once.
fn collect_arms(stmts: &[ir::Stmt], out: &mut Vec<String>) {
    ir::walk(stmts, &mut |s| {
        if let ir::StmtKind::Split(branches) = &s.kind {
            if !branches.is_empty() && branches.iter().all(|b| b.1.is_some()) {
                for l in branches.iter().filter_map(|b| b.1.as_ref()) {
                    if !out.contains(l) {
                        out.push(l.clone());
                    }
                }
            }
        }
    });
}

fn collect_labels(stmts: &[ir::Stmt], out: &mut Vec<String>) {
    ir::walk(stmts, &mut |s| {
        if let ir::StmtKind::End(Some(l)) = &s.kind {
            out.push(l.clone());
        }
    });
}
