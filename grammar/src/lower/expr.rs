//! Expressions (Pratt-folded operator sequences), records, arguments and types.

use std::cell::RefCell;
use std::sync::OnceLock;

use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::{kids, Lower, MAX_EXPR_DEPTH, P};
use crate::ast::{
    Arg, BinaryOp, Expr, ExprKind, FieldTypeDecl, IsTest, RecordEntry, Span, TypeExpr, TypeExprKind, UnaryOp,
};
use crate::parser::Rule;

fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        let l = |r| Op::infix(r, Assoc::Left);
        PrattParser::new()
            .op(l(Rule::coalesce))
            .op(l(Rule::or_op))
            .op(l(Rule::and_op))
            .op(Op::prefix(Rule::not_op))
            .op(l(Rule::eq_op)
                | l(Rule::ne_op)
                | l(Rule::lt_op)
                | l(Rule::le_op)
                | l(Rule::gt_op)
                | l(Rule::ge_op)
                | l(Rule::in_op)
                | l(Rule::not_in_op)
                | Op::postfix(Rule::is_test))
            .op(l(Rule::range_op))
            .op(l(Rule::add) | l(Rule::sub))
            .op(l(Rule::mul) | l(Rule::div) | l(Rule::rem))
            .op(Op::prefix(Rule::neg))
            .op(Op::postfix(Rule::field_access) | Op::postfix(Rule::index_access) | Op::postfix(Rule::call_args))
    })
}

fn binary_op(r: Rule) -> BinaryOp {
    match r {
        Rule::coalesce => BinaryOp::Coalesce,
        Rule::or_op => BinaryOp::Or,
        Rule::and_op => BinaryOp::And,
        Rule::eq_op => BinaryOp::Eq,
        Rule::ne_op => BinaryOp::Ne,
        Rule::lt_op => BinaryOp::Lt,
        Rule::le_op => BinaryOp::Le,
        Rule::gt_op => BinaryOp::Gt,
        Rule::ge_op => BinaryOp::Ge,
        Rule::in_op => BinaryOp::In,
        Rule::not_in_op => BinaryOp::NotIn,
        Rule::add => BinaryOp::Add,
        Rule::sub => BinaryOp::Sub,
        Rule::mul => BinaryOp::Mul,
        Rule::div => BinaryOp::Div,
        _ => BinaryOp::Rem,
    }
}

fn is_test(p: &P) -> IsTest {
    let words: Vec<Rule> = p.clone().into_inner().map(|c| c.as_rule()).collect();
    match words.as_slice() {
        [Rule::kw_is, Rule::kw_not, Rule::kw_null] => IsTest::NotNull,
        [Rule::kw_has, _] => IsTest::HasNull,
        [_, Rule::kw_integer] => IsTest::Integer,
        [_, Rule::kw_decimal] => IsTest::Decimal,
        [_, Rule::kw_numeric] => IsTest::Numeric,
        _ => IsTest::Null,
    }
}

fn is_operator(r: Rule) -> bool {
    use Rule::*;
    matches!(
        r,
        neg | not_op
            | field_access
            | index_access
            | call_args
            | is_test
            | coalesce
            | or_op
            | and_op
            | eq_op
            | ne_op
            | le_op
            | ge_op
            | lt_op
            | gt_op
            | not_in_op
            | in_op
            | range_op
            | add
            | sub
            | mul
            | div
            | rem
    )
}

fn is_operator_word(w: &str) -> bool {
    crate::keywords::is_expression_word(w)
}

const TOO_DEEP: &str = "expression too deeply nested (more than 256 levels)";

fn boxed(e: Expr) -> Box<Expr> {
    Box::new(e)
}

impl Lower<'_> {
    fn error_expr(&mut self, span: Span, message: &str) -> Expr {
        self.error(span, message);
        Expr { kind: ExprKind::Error, span }
    }

    /// An `expr` pair: a flat sequence of operands and operators, folded by precedence.
    pub(crate) fn expr(&mut self, p: P) -> Expr {
        let span = self.span(&p);
        let mut children = p.clone().into_inner();
        if children.len() == 1 {
            // A lone operand: nothing to fold.
            if self.depth >= MAX_EXPR_DEPTH {
                return self.error_expr(span, TOO_DEEP);
            }
            return match children.next() {
                Some(operand) => self.nested(|l| {
                    let e = l.primary(operand);
                    l.check_operator_word(&e);
                    e
                }),
                None => Expr { kind: ExprKind::Error, span },
            };
        }
        // Each operator may add a level to the tree.
        let cost = 1 + children.filter(|c| is_operator(c.as_rule())).count();
        if self.depth + cost > MAX_EXPR_DEPTH {
            return self.error_expr(span, TOO_DEEP);
        }
        self.depth += cost;
        let base = self.base;
        let sp = move |p: &P| {
            let s = p.as_span();
            Span::new(base + s.start(), base + s.end())
        };
        // Names that are operator words (`then`) are errors unless called (`in(x, list)`).
        let words: RefCell<Vec<Span>> = RefCell::new(Vec::new());
        let cell = RefCell::new(&mut *self);
        let e = pratt()
            .map_primary(|p| {
                let e = cell.borrow_mut().primary(p);
                if matches!(&e.kind, ExprKind::Name(n) if is_operator_word(&n.name)) {
                    words.borrow_mut().push(e.span);
                }
                e
            })
            .map_prefix(|op, rhs| {
                let span = sp(&op).to(rhs.span);
                let op = if op.as_rule() == Rule::neg { UnaryOp::Neg } else { UnaryOp::Not };
                Expr { kind: ExprKind::Unary { op, expr: boxed(rhs) }, span }
            })
            .map_postfix(|lhs, op| {
                if op.as_rule() == Rule::call_args {
                    words.borrow_mut().retain(|w| *w != lhs.span);
                }
                cell.borrow_mut().postfix(lhs, op)
            })
            .map_infix(|lhs, op, rhs| {
                let span = lhs.span.to(rhs.span);
                let kind = if op.as_rule() == Rule::range_op {
                    ExprKind::Range { lo: boxed(lhs), hi: boxed(rhs) }
                } else {
                    ExprKind::Binary { op: binary_op(op.as_rule()), op_span: sp(&op), lhs: boxed(lhs), rhs: boxed(rhs) }
                };
                Expr { kind, span }
            })
            .parse(p.into_inner());
        for w in words.into_inner() {
            let word = &self.src[w.start..w.end];
            self.error(w, format!("expected an expression, found the keyword `{word}`"));
        }
        self.depth -= cost;
        e
    }

    /// Reports a lone operator word used as a name (`then`).
    fn check_operator_word(&mut self, e: &Expr) {
        if let ExprKind::Name(n) = &e.kind {
            if is_operator_word(&n.name) {
                self.error(e.span, format!("expected an expression, found the keyword `{}`", n.name));
            }
        }
    }

    /// Runs `f` one expression level deeper (see [`MAX_EXPR_DEPTH`]).
    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Expr) -> Expr {
        self.depth += 1;
        let e = f(self);
        self.depth -= 1;
        e
    }

    /// `.name`, `[index]`, `(args)` or an `is` test applied to `lhs`.
    fn postfix(&mut self, lhs: Expr, op: P) -> Expr {
        let span = lhs.span.to(self.span(&op));
        let kind = match op.as_rule() {
            Rule::field_access => match kids(op).next() {
                Some(name) => ExprKind::Field { base: boxed(lhs), name: self.ident(&name) },
                None => ExprKind::Error,
            },
            Rule::index_access => match kids(op).next() {
                Some(index) => ExprKind::Index { base: boxed(lhs), index: boxed(self.expr(index)) },
                None => ExprKind::Error,
            },
            Rule::call_args => match lhs.kind {
                ExprKind::Name(func) => ExprKind::Call { func, args: self.args(op) },
                _ => return self.error_expr(span, "only a function can be called, as in `count(items)`"),
            },
            _ => ExprKind::Is { expr: boxed(lhs), test: is_test(&op) },
        };
        Expr { kind, span }
    }

    fn primary(&mut self, p: P) -> Expr {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::value_ident => ExprKind::Name(self.ident(&p)),
            Rule::paren_expr => {
                let inner = kids(p).next().map(|e| self.expr(e));
                return match inner {
                    Some(e) => Expr { kind: e.kind, span },
                    None => Expr { kind: ExprKind::Error, span },
                };
            }
            Rule::list_lit => ExprKind::List(kids(p).map(|e| self.expr(e)).collect()),
            Rule::record_lit => ExprKind::Record(self.record(p)),
            Rule::if_expr => {
                let mut k = kids(p).map(|e| self.expr(e));
                match (k.next(), k.next(), k.next()) {
                    (Some(c), Some(t), Some(o)) => {
                        ExprKind::IfThenElse { cond: boxed(c), then: boxed(t), otherwise: boxed(o) }
                    }
                    _ => ExprKind::Error,
                }
            }
            Rule::name => match kids(p).next() {
                Some(n) => ExprKind::Name(self.ident(&n)),
                None => ExprKind::Error,
            },
            _ => return self.literal(p),
        };
        Expr { kind, span }
    }

    /// The entries of a `record_lit` pair.
    pub(crate) fn record(&mut self, p: P) -> Vec<RecordEntry> {
        kids(p)
            .filter_map(|entry| {
                let mut k = kids(entry);
                let key = self.record_key(k.next()?);
                let value = self.expr(k.next()?);
                Some(RecordEntry { key, value })
            })
            .collect()
    }

    /// A record key or record-type field name: a name, a backticked name or a plain string.
    fn record_key(&mut self, p: P) -> crate::ast::Ident {
        if p.as_rule() == Rule::string {
            let lit = self.str_lit(p);
            crate::ast::Ident { name: lit.value, span: lit.span }
        } else {
            self.ident(&p)
        }
    }

    /// The arguments in a `call_args` pair.
    pub(crate) fn args(&mut self, p: P) -> Vec<Arg> {
        kids(p)
            .map(|arg| {
                let span = self.span(&arg);
                let mut name = None;
                let mut value = Expr { kind: ExprKind::Error, span };
                for c in kids(arg) {
                    match c.as_rule() {
                        Rule::arg_name => name = kids(c).next().map(|n| self.ident(&n)),
                        Rule::lambda => value = self.lambda(c),
                        _ => value = self.expr(c),
                    }
                }
                Arg { name, value }
            })
            .collect()
    }

    fn lambda(&mut self, p: P) -> Expr {
        let span = self.span(&p);
        let mut k = kids(p);
        let param = k.next().map(|n| self.ident(&n));
        let body = k.next().map(|b| self.expr(b));
        match (param, body) {
            (Some(param), Some(body)) => Expr { kind: ExprKind::Lambda { param, body: boxed(body) }, span },
            _ => Expr { kind: ExprKind::Error, span },
        }
    }

    /// A `type_expr` pair.
    pub(crate) fn type_expr(&mut self, p: P) -> TypeExpr {
        let span = self.span(&p);
        let mut k = kids(p);
        let Some(atom) = k.next() else {
            return TypeExpr { kind: TypeExprKind::Named(crate::ast::Ident { name: String::new(), span }), span };
        };
        let atom_span = self.span(&atom);
        let kind = match atom.as_rule() {
            Rule::list_type | Rule::map_type => {
                let is_list = atom.as_rule() == Rule::list_type;
                let inner = kids(atom).next().map(|t| self.type_expr(t));
                let inner = Box::new(inner.unwrap_or(TypeExpr {
                    kind: TypeExprKind::Named(crate::ast::Ident { name: String::new(), span: atom_span }),
                    span: atom_span,
                }));
                if is_list {
                    TypeExprKind::List(inner)
                } else {
                    TypeExprKind::Map(inner)
                }
            }
            Rule::record_type => TypeExprKind::Record(
                kids(atom)
                    .filter_map(|f| {
                        let mut k = kids(f);
                        let name = self.record_key(k.next()?);
                        let ty = self.type_expr(k.next()?);
                        Some(FieldTypeDecl { name, ty })
                    })
                    .collect(),
            ),
            _ => TypeExprKind::Named(match kids(atom).next() {
                Some(n) => self.ident(&n),
                None => crate::ast::Ident { name: String::new(), span: atom_span },
            }),
        };
        let mut ty = TypeExpr { kind, span: atom_span };
        for mark in k {
            let span = ty.span.to(self.span(&mark));
            ty = TypeExpr { kind: TypeExprKind::Optional(Box::new(ty)), span };
        }
        ty
    }
}
