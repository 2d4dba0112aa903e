//! `test "name" { ... }` blocks.

use super::{kids, Lower, P};
use crate::ast::{ItemKind, MockResult, StrLit, TestDecl, TestStmt, TestStmtKind};
use crate::parser::Rule;

impl Lower<'_> {
    /// A `test_decl` pair.
    pub(crate) fn test(&mut self, d: P) -> ItemKind {
        let mut name: Option<StrLit> = None;
        let mut stmts: Vec<TestStmt> = Vec::new();
        for c in kids(d) {
            let span = self.span(&c);
            let prev = stmts.last().filter(|s| s.kind != TestStmtKind::Error).map(|s| s.span.start);
            match c.as_rule() {
                Rule::string => name = Some(self.str_lit(c)),
                Rule::test_stmt => {
                    let kind = c.into_inner().next().and_then(|s| self.test_stmt(s)).unwrap_or(TestStmtKind::Error);
                    stmts.push(TestStmt { kind, span });
                }
                Rule::bad_test_stmt => {
                    let mut span = span;
                    if self.report_after(prev, Rule::re_test_next, Rule::re_test, &c) {
                        span.start = stmts.pop().map_or(span.start, |s| s.span.start);
                    }
                    stmts.push(TestStmt { kind: TestStmtKind::Error, span });
                }
                Rule::missing_close => self.unclosed(Rule::re_test, &c),
                _ => {}
            }
        }
        match name {
            Some(name) => ItemKind::Test(TestDecl { name, stmts }),
            None => ItemKind::Error,
        }
    }

    fn test_stmt(&mut self, s: P) -> Option<TestStmtKind> {
        let rule = s.as_rule();
        let mut k = kids(s.clone());
        Some(match rule {
            Rule::t_start => TestStmtKind::Start(self.expr(k.next()?)),
            Rule::t_profile => {
                let first = k.next()?;
                let (key, record) = if first.as_rule() == Rule::string {
                    (Some(self.str_lit(first)), k.next()?)
                } else {
                    (None, first)
                };
                let attributes = self.record_expr(record);
                TestStmtKind::Profile { key, attributes }
            }
            Rule::t_audience => {
                let audience = self.ident(&k.next()?);
                let key = self.str_lit(k.next()?);
                TestStmtKind::AudienceHas { audience, key }
            }
            Rule::t_mock => {
                let mut it = s.into_inner().filter(|c| !matches!(c.as_rule(), Rule::kw_mock | Rule::arrow));
                let target = self.ident(&it.next()?);
                let r = it.next()?;
                let result = match r.as_rule() {
                    Rule::kw_fail => MockResult::Fail,
                    Rule::kw_timeout => MockResult::Timeout,
                    _ => MockResult::Value(self.expr(r)),
                };
                TestStmtKind::Mock { target, result }
            }
            Rule::t_after => {
                let after = self.duration_lit(&k.next()?);
                match k.next() {
                    Some(send) => {
                        let mut parts = kids(send);
                        let event = self.ident(&parts.next()?);
                        let payload = self.record_expr(parts.next()?);
                        TestStmtKind::Send { after: Some(after), event, payload }
                    }
                    None => TestStmtKind::After(after),
                }
            }
            Rule::t_send => {
                let event = self.ident(&k.next()?);
                let payload = self.record_expr(k.next()?);
                TestStmtKind::Send { after: None, event, payload }
            }
            Rule::t_expect => {
                let e = k.next()?;
                let erule = e.as_rule();
                if matches!(erule, Rule::expect_sent | Rule::expect_no_sent | Rule::expect_suppressed) {
                    return self.expect_message(e);
                }
                let mut parts = e.into_inner().filter(|c| !matches!(c.as_rule(), Rule::kw_no | Rule::kw_call));
                match erule {
                    Rule::expect_no_call => TestStmtKind::ExpectNoCall { action: self.ident(&parts.next()?) },
                    Rule::expect_call => {
                        let action = self.ident(&parts.next()?);
                        let mut args = None;
                        let mut times = None;
                        for c in parts {
                            if c.as_rule() == Rule::record_lit {
                                args = Some(self.record_expr(c));
                            } else if let Some(n) = kids(c).next() {
                                times = Some(self.int_lit(&n));
                            }
                        }
                        TestStmtKind::ExpectCall { action, args, times }
                    }
                    Rule::expect_no_converted => {
                        let journey = self.ident(&parts.next()?);
                        let goal = self.str_lit(parts.find(|c| c.as_rule() == Rule::string)?);
                        TestStmtKind::ExpectConverted { no: true, journey, goal }
                    }
                    _ => {
                        let journey = self.ident(&parts.next()?);
                        let how = parts.next()?;
                        if how.as_rule() == Rule::kw_running {
                            TestStmtKind::ExpectRunning { journey }
                        } else if how.as_rule() == Rule::expect_converted {
                            TestStmtKind::ExpectConverted { no: false, journey, goal: self.str_lit(kids(how).next()?) }
                        } else if how.as_rule() == Rule::expect_arm {
                            TestStmtKind::ExpectArm { journey, arm: self.str_lit(kids(how).next()?) }
                        } else {
                            let label = kids(how).next().map(|l| self.str_lit(l));
                            TestStmtKind::ExpectEnded { journey, label }
                        }
                    }
                }
            }
            _ => return None,
        })
    }

    /// A `record_lit` pair as an expression.
    /// `expect sent ...`, `expect no sent ...`, `expect suppressed ... because "..."`.
    fn expect_message(&mut self, e: P) -> Option<TestStmtKind> {
        let rule = e.as_rule();
        let mut channel = None;
        let mut strings = Vec::new();
        let mut to = None;
        let mut times = None;
        let mut binding = None;
        for c in kids(e) {
            match c.as_rule() {
                Rule::ident => channel = Some(self.ident(&c)),
                Rule::string => strings.push(self.str_lit(c)),
                Rule::expect_to => to = kids(c).next().map(|s| self.str_lit(s)),
                Rule::expect_times => times = kids(c).next().map(|n| self.int_lit(&n)),
                Rule::expect_as => binding = kids(c).next().map(|n| self.ident(&n)),
                _ => {}
            }
        }
        let channel = channel?;
        Some(match rule {
            Rule::expect_sent => TestStmtKind::ExpectSent { channel, template: strings.pop(), to, times, binding },
            Rule::expect_no_sent => TestStmtKind::ExpectNoSent { channel, template: strings.pop() },
            _ => {
                let reason = strings.pop()?;
                TestStmtKind::ExpectSuppressed { channel, template: strings.pop(), reason }
            }
        })
    }

    pub(crate) fn record_expr(&mut self, p: P) -> crate::ast::Expr {
        let span = self.span(&p);
        crate::ast::Expr { kind: crate::ast::ExprKind::Record(self.record(p)), span }
    }
}
